"""Benchmark int8 (and int4) quantization of a ``VocabEmbedding`` model against the float32 model.

One model, trained once, three sides: float32, the same model after
``model.quantize("int8")``, and after ``model.quantize("int4")`` (each a
fresh copy of the trained float model, loaded from its ``.keras`` file).

- model: ``keras.Input(shape=(None,), dtype="string")`` ->
  ``VocabEmbedding(64, vocabulary=vocab, mask_token="")`` (50,000 tokens) ->
  ``GlobalAveragePooling1D`` -> ``Dense(1, sigmoid)``; the Dense layer is
  quantized too (``model.quantize`` quantizes every layer that supports it).
- task (synthetic, fixed seed): each vocabulary token has a hidden weight
  drawn from N(0, 1); a sequence of 32 Zipf-distributed tokens (about 2%
  out of vocabulary) is labelled 1 when the mean weight of its tokens is
  positive. Trained for a few epochs with Adam on 40,000 sequences;
  accuracy on 10,000 held-out sequences.
- ``.keras`` size: ``model.save(path)`` of the model loaded with ``compile=False``
  (no optimizer state), bytes on disk.
- served latency: each side is written with ``export_for_serving`` and its
  ``serving_default`` signature is loaded back **in this process** with
  ``tf.saved_model.load`` (TensorFlow's runtime, as a model server runs it;
  Keras is imported in the process but not on the call path). Batches of
  1, 32 and 1024 ``(batch, 64)`` string sequences; every repetition runs one
  block of calls per side and batch size, sides interleaved with the order
  flipped each repetition; p50 and p99 of the single-call latencies.

The table shows each quantity per side and the ratio quantized / float32
(lower is smaller or faster). The script asserts that the served outputs
of each side equal that side's ``model.predict`` (to 1e-5).

Run from the repository root::

    python benchmarks/bench_quantization.py              # ~3 min on 2 cores
    python benchmarks/bench_quantization.py --quick      # smoke run
    python benchmarks/bench_quantization.py --output /tmp/bench_quant.md
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf
from _harness import (
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    machine_info,
    markdown_report,
    package_info,
    vocabulary_and_oov,
    zipf_tokens,
)

kv = None
SIDES = ("float32", "int8", "int4")
BATCHES = (1, 32, 1024)


def build_model(vocab: np.ndarray, dim: int) -> keras.Model:
    inputs = keras.Input((None,), dtype="string", name="tokens")
    vectors = kv.VocabEmbedding(dim, vocabulary=list(vocab), mask_token="", name="words")(inputs)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="score")(pooled))


def make_task(vocab, oov, n, length, hidden, rng):
    tokens, _ = zipf_tokens(vocab, oov, n * length, 1.05, 0.02, rng)
    tokens = tokens.reshape(n, length)
    index = {t: i for i, t in enumerate(vocab)}
    weights = np.vectorize(lambda t: hidden[index[t]] if t in index else 0.0, otypes=[np.float64])(tokens)
    return tokens.astype(str), (weights.mean(axis=1) > 0).astype("float32")


def latency_blocks(servers, batches, repeats, calls):
    times = {(side, b): [] for side in servers for b in BATCHES}
    sides = list(servers)
    for rep in range(repeats):
        order = sides if rep % 2 == 0 else sides[::-1]
        for b in BATCHES:
            for side in order:
                serve, pool = servers[side], batches[b]
                for i in range(calls[b]):
                    start = time.perf_counter()
                    serve(tokens=pool[i % len(pool)])
                    times[(side, b)].append(time.perf_counter() - start)
    return times


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    global kv
    parser = bench_parser(__doc__, "small vocabulary and few calls (seconds)", "latency repetitions", 20)
    add_output_option(parser)
    args = parser.parse_args()
    import keras_vocabsafe

    kv = keras_vocabsafe
    rng = np.random.default_rng(0)
    vocab_size, dim = (5_000, 32) if args.quick else (50_000, 64)
    n_train, n_test, epochs = (4_000, 1_000, 2) if args.quick else (40_000, 10_000, 4)
    vocab, oov = vocabulary_and_oov(vocab_size, 2_000, rng)
    hidden = rng.normal(size=vocab_size)
    x_train, y_train = make_task(vocab, oov, n_train, 32, hidden, rng)
    x_test, y_test = make_task(vocab, oov, n_test, 32, hidden, rng)

    work = tempfile.mkdtemp(prefix="bench_quant_")
    started = time.perf_counter()
    model = build_model(vocab, dim)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(tf.constant(x_train), y_train, batch_size=256, epochs=epochs, verbose=0)
    float_path = os.path.join(work, "float32.keras")
    model.save(float_path)

    sizes, accuracy, servers, predictions = {}, {}, {}, {}
    serve_batches = {
        b: [
            tf.constant(zipf_tokens(vocab, oov, b * 64, 1.05, 0.02, rng)[0].reshape(b, 64).astype(str))
            for _ in range(4)
        ]
        for b in BATCHES
    }
    for side in SIDES:
        # Without the optimizer: its float Adam moments (2x the float matrix) would dominate every file.
        side_model = keras.saving.load_model(float_path, compile=False)
        if side != "float32":
            side_model.quantize(side)
        path = os.path.join(work, f"{side}.keras")
        side_model.save(path)
        sizes[side] = os.path.getsize(path)
        scores = side_model.predict(tf.constant(x_test), batch_size=1024, verbose=0)[:, 0]
        accuracy[side] = float(np.mean((scores > 0.5) == (y_test > 0.5)))
        predictions[side] = side_model.predict(serve_batches[32][0], verbose=0)
        export = kv.export_for_serving(side_model, os.path.join(work, f"served_{side}"))
        servers[side] = tf.saved_model.load(export).signatures["serving_default"]
        served = servers[side](tokens=serve_batches[32][0])
        (output,) = served.values()
        np.testing.assert_allclose(output.numpy(), predictions[side], atol=1e-5)
        dtypes = {v.name: v.dtype.name for v in tf.saved_model.load(export).variables}
        print(
            f"{side}: .keras {sizes[side]:,} B, accuracy {accuracy[side]:.4f}, embedding {dtypes['words/embeddings:0']}"
        )

    for side in SIDES:  # Warm-up: first calls build the kernels.
        for b in BATCHES:
            servers[side](tokens=serve_batches[b][0])
    calls = {1: 50, 32: 50, 1024: 5} if not args.quick else {1: 10, 32: 10, 1024: 2}
    repeats = 3 if args.quick else args.repeats
    times = latency_blocks(servers, serve_batches, repeats, calls)
    shutil.rmtree(work, ignore_errors=True)

    header = "| quantity | float32 | int8 | int8 / float32 | int4 | int4 / float32 |\n|---|---:|---:|---:|---:|---:|"
    rows = [
        "| `.keras` file size | "
        + " | ".join(
            f"{sizes[s] / 2**20:.2f} MiB" + ("" if s == "float32" else f" | {sizes[s] / sizes['float32']:.2f}x")
            for s in SIDES
        )
        + " |",
        "| test accuracy | "
        + " | ".join(
            f"{accuracy[s]:.4f}" + ("" if s == "float32" else f" | {accuracy[s] - accuracy['float32']:+.4f}")
            for s in SIDES
        )
        + " |",
    ]
    for b in BATCHES:
        for q in (50, 99):
            value = {s: percentile(times[(s, b)], q) * 1e3 for s in SIDES}
            rows.append(
                f"| served latency p{q}, batch {b} (ms) | "
                + " | ".join(
                    f"{value[s]:.3f}" + ("" if s == "float32" else f" | {value[s] / value['float32']:.2f}x")
                    for s in SIDES
                )
                + " |"
            )
    paired = {
        (s, b): statistics.median(
            np.median(times[(s, b)][i : i + calls[b]]) / np.median(times[("float32", b)][i : i + calls[b]])
            for i in range(0, len(times[(s, b)]), calls[b])
        )
        for s in SIDES[1:]
        for b in BATCHES
    }
    notes = [
        f"- vocabulary {vocab_size:,} tokens, output_dim {dim}; trained {epochs} epochs on {n_train:,} sequences "
        f"of 32 tokens; accuracy on {n_test:,} held-out sequences (accuracy change = quantized - float32)",
        "- served latency: `serving_default` of `export_for_serving`, loaded with `tf.saved_model.load` in this "
        f"process; (batch, 64) string inputs; {repeats} interleaved repetitions of "
        + ", ".join(f"{calls[b]} calls at batch {b}" for b in BATCHES),
        "- median of per-repetition paired p50 ratios (quantized / float32): "
        + ", ".join(f"{s} batch {b}: {paired[(s, b)]:.2f}x" for s in SIDES[1:] for b in BATCHES),
        f"- wall time {time.perf_counter() - started:.0f} s",
    ]
    machine = machine_info(
        [f"- tensorflow: {dist_version('tensorflow')}", f"- keras: {dist_version('keras')}"], package_info(True)
    )
    report = f"{header}\n" + "\n".join(rows)
    intro = (
        "int8 and int4 (`model.quantize(mode)`) against the float32 model: file size, served latency and accuracy "
        "of one trained model (ratio = quantized / float32; lower is smaller or faster)."
    )
    emit_report(
        markdown_report(
            "Quantization: int8 / int4 vs float32 (issue 14)", intro, report, notes, machine, command_line()
        ),
        args.output,
    )


if __name__ == "__main__":
    main()
