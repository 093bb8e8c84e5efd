"""Benchmark the latency of a model exported with ``keras_vocabsafe.export_for_serving``.

What it measures, side by side in one process, with interleaved blocks of
calls (baseline and ours alternate, and the order flips every repetition):
the latency, p50 and p99, of the exported ``serving_default`` signature for
batch sizes 1, 32 and 1024, each a ``(batch, 64)`` ``tf.string`` batch of
Zipf-distributed tokens over a 50,000-token vocabulary with about 2%
out-of-vocabulary tokens (fixed seed).

- ours: ``keras.Input(shape=(None,), dtype="string", name="tokens")`` ->
  ``VocabEmbedding(64, vocabulary=vocab, mask_token="")`` ->
  ``GlobalAveragePooling1D`` -> ``Dense(1)``, written with
  ``keras_vocabsafe.export_for_serving(model, base)`` (its ``serving_default``
  signature, plus the vocabulary signatures it adds by default).
- baseline: the same model wired by hand, ``StringLookup(vocabulary=vocab,
  mask_token="")`` -> ``Embedding(input_dim=lookup.vocabulary_size(),
  output_dim=64, mask_zero=True)`` -> same pooling and dense, written with
  plain Keras ``model.export(path)``.

With ``--text``, raw text instead (target: ours <= 1.0x, never slower than
Keras): ``keras.Input(shape=(), dtype="string", name="text")`` ->
``TextVocabEmbedding(64, vocabulary=vocab, standardize="lower",
output_sequence_length=64)`` against ``TextVectorization`` with the same
settings -> ``Embedding(mask_zero=True)``, both followed by the same pooling
and dense; batches of 1, 32 and 1024 sentences of ``bench_text.py``'s 50%
non-ASCII mix (its 20,000-token vocabulary). The outputs are checked equal on
ASCII sentences (the baseline lower-cases ASCII letters only).

The baseline's embedding matrix and Dense weights are copied into ours, and
the script asserts that both SavedModels give equal outputs (``allclose``)
on a sample batch, and on the same batch with trailing padding (``""``, the
mask token) so the masks must agree too. Both SavedModels are then loaded
with ``tf.saved_model.load`` into this process; each signature is warmed up
on every batch size, then called with pre-built ``tf.constant`` inputs (a
small pool of distinct batches per size, cycled identically for both sides).
Each call is timed on its own (``time.perf_counter``). Every repetition
runs, for each batch size in turn, one block of calls per side (by default
60 repetitions: blocks of 100 calls at batch 1 and 32, 15 at batch 1024,
0.1-0.3 s each), so both sides and all cases are spread over the whole run
and each pair of blocks sees nearly the same machine load. Python's garbage
collector runs between pairs of blocks and is off inside them.

The table reports, per batch size and percentile, the latency of each side
over all its calls, the ratio ours / baseline (lower is better for us), the
target (ours <= 1.1x baseline; p50 and p99 pass or fail separately; p99 is
noisy on a shared machine), for p50 the median and range of the per-block
paired ratios (ours block-p50 / baseline block-p50) as a noise indicator, and (for information) the ratio of process CPU
seconds per call. Per-block p50s are printed as the run goes.

Run from the repository root::

    python benchmarks/bench_serving.py            # full run, ~2 min on 2 cores
    python benchmarks/bench_serving.py --quick    # smoke run, seconds
    python benchmarks/bench_serving.py --repeats 30 --output bench.md
    python benchmarks/bench_serving.py --text     # raw text: TextVocabEmbedding

``--repeats`` is the number of interleaved blocks; each side makes the same
total number of calls per batch size whatever it is.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from _harness import (
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    import_package,
    machine_info,
    markdown_report,
    package_info,
    vocabulary_and_oov,
    zipf_tokens,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

SEED = 20240501
SIGNATURE = "serving_default"
TARGET = 1.1  # ours / baseline latency, at most

keras_vocabsafe = import_package()


# --------------------------------------------------------------------------
# Sizes and data generation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``QUICK`` is a scaled-down smoke configuration."""

    vocab_size: int = 50_000
    oov_pool: int = 5_000
    seq_len: int = 64
    oov_rate: float = 0.02
    output_dim: int = 64
    zipf_s: float = 1.0
    # batch size -> timed calls per side (over all repetitions)
    calls: tuple[tuple[int, int], ...] = ((1, 6000), (32, 6000), (1024, 900))
    warmup_calls: int = 20
    pool: int = 8  # distinct pre-built batches per batch size, cycled
    repeats: int = 60


FULL = Sizes()
QUICK = Sizes(vocab_size=2_000, oov_pool=200, calls=((1, 60), (32, 60), (1024, 12)), warmup_calls=3, repeats=3)
TEXT = Sizes(vocab_size=20_000, calls=((1, 6000), (32, 3000), (1024, 300)))
TEXT_QUICK = replace(QUICK, calls=((1, 60), (32, 60), (1024, 6)))
TEXT_TARGET = 1.0  # raw text: never slower than Keras


@dataclass
class Data:
    vocabulary: list[str]
    batches: dict[int, list[tf.Tensor]]  # batch size -> pool of (batch, seq_len) string tensors
    oov_fraction: float
    sample: tf.Tensor  # for the equality check
    padded_sample: tf.Tensor  # the same with trailing mask tokens


def make_data(sizes: Sizes) -> Data:
    """Vocabulary (in rank order) and pools of Zipf string batches with some OOV."""
    rng = np.random.default_rng([SEED, 3])
    vocab, oov_pool = vocabulary_and_oov(sizes.vocab_size, sizes.oov_pool, rng)
    batches: dict[int, list[tf.Tensor]] = {}
    oov = total = 0
    for batch_size, _ in sizes.calls:
        n = sizes.pool * batch_size * sizes.seq_len
        tokens, oov_mask = zipf_tokens(vocab, oov_pool, n, sizes.zipf_s, sizes.oov_rate, rng)
        oov, total = oov + int(oov_mask.sum()), total + n
        pool = tokens.reshape(sizes.pool, batch_size, sizes.seq_len)
        batches[batch_size] = [tf.constant(batch) for batch in pool]
    sample = batches[max(b for b, _ in sizes.calls if b <= 32)][0]
    padded = sample.numpy().astype(object)
    keep = rng.integers(1, sizes.seq_len + 1, size=padded.shape[0])
    padded[np.arange(sizes.seq_len)[None, :] >= keep[:, None]] = ""
    return Data(vocab.tolist(), batches, oov / total, sample, tf.constant(padded))


def make_text_data(sizes: Sizes) -> Data:
    """``bench_text.py``'s sentences: pools of 1-D batches of its 50% non-ASCII mix, and an ASCII sample."""
    import bench_text

    text_sizes = bench_text.QUICK if sizes.vocab_size < bench_text.FULL.vocab_size else bench_text.FULL
    rng = np.random.default_rng([bench_text.SEED, 1])
    vocab, oov = vocabulary_and_oov(text_sizes.vocab_size, text_sizes.oov_pool, rng)
    largest = max(batch_size for batch_size, _ in sizes.calls)
    sentences = bench_text.make_sentences(sizes.pool * largest, vocab, oov, text_sizes, rng)
    mixed = bench_text.with_non_ascii(sentences, 0.5, np.random.default_rng([bench_text.SEED, 3]))
    batches = {
        batch_size: [tf.constant(mixed[i * batch_size : (i + 1) * batch_size]) for i in range(sizes.pool)]
        for batch_size, _ in sizes.calls
    }
    vocabulary = vocab.tolist() + sorted({word.lower() for word in bench_text.NON_ASCII_WORDS})
    sample = sentences[:32]
    short = [" ".join(sentence.split()[: 1 + i % 8]) for i, sentence in enumerate(sample)]  # mostly padding
    return Data(vocabulary, batches, text_sizes.oov_rate, tf.constant(sample), tf.constant(short))


# --------------------------------------------------------------------------
# Models and exports
# --------------------------------------------------------------------------


def build_baseline(vocab: list[str], sizes: Sizes) -> keras.Model:
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    lookup = keras.layers.StringLookup(vocabulary=vocab, mask_token="")
    embedding = keras.layers.Embedding(
        input_dim=lookup.vocabulary_size(), output_dim=sizes.output_dim, mask_zero=True, name="embedding"
    )
    x = keras.layers.GlobalAveragePooling1D()(embedding(lookup(tokens)))
    return keras.Model(tokens, keras.layers.Dense(1, name="dense")(x), name="baseline")


def build_ours(vocab: list[str], sizes: Sizes) -> keras.Model:
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    embedding = keras_vocabsafe.VocabEmbedding(sizes.output_dim, vocabulary=vocab, mask_token="", name="embedding")
    x = keras.layers.GlobalAveragePooling1D()(embedding(tokens))
    return keras.Model(tokens, keras.layers.Dense(1, name="dense")(x), name="ours")


def build_text_baseline(vocab: list[str], sizes: Sizes) -> keras.Model:
    text = keras.Input(shape=(), dtype="string", name="text")
    lookup = keras.layers.TextVectorization(
        standardize="lower", split="whitespace", vocabulary=vocab, output_sequence_length=sizes.seq_len
    )
    embedding = keras.layers.Embedding(lookup.vocabulary_size(), sizes.output_dim, mask_zero=True, name="embedding")
    x = keras.layers.GlobalAveragePooling1D()(embedding(lookup(text)))
    return keras.Model(text, keras.layers.Dense(1, name="dense")(x), name="baseline")


def build_text_ours(vocab: list[str], sizes: Sizes) -> keras.Model:
    text = keras.Input(shape=(), dtype="string", name="text")
    embedding = keras_vocabsafe.TextVocabEmbedding(
        sizes.output_dim, vocabulary=vocab, standardize="lower", output_sequence_length=sizes.seq_len, name="embedding"
    )
    x = keras.layers.GlobalAveragePooling1D()(embedding(text))
    return keras.Model(text, keras.layers.Dense(1, name="dense")(x), name="ours")


def copy_weights(baseline: keras.Model, ours: keras.Model) -> None:
    """Give ours the baseline's embedding matrix and Dense weights (same vocabulary, so same rows)."""
    lookups = (keras.layers.StringLookup, keras.layers.TextVectorization)
    lookup = next(layer for layer in baseline.layers if isinstance(layer, lookups))
    ours_embedding = ours.get_layer("embedding")
    assert ours_embedding.get_vocabulary() == lookup.get_vocabulary(), "vocabularies differ"
    ours_embedding.embeddings.assign(baseline.get_layer("embedding").embeddings)
    ours.get_layer("dense").set_weights(baseline.get_layer("dense").get_weights())


def dir_size(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


@dataclass
class Export:
    side: str
    path: str
    loaded: Any  # the loaded object: keeps the tables and variables the signature uses alive
    signature: Any  # its serving_default ConcreteFunction
    input_name: str
    output_name: str
    size: int

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.signature(**{self.input_name: x})[self.output_name]


def load_export(side: str, path: str) -> Export:
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures[SIGNATURE]
    (input_name,) = signature.structured_input_signature[1]
    (output_name,) = signature.structured_outputs
    return Export(side, path, loaded, signature, input_name, output_name, dir_size(path))


def check_equal(base: Export, ours: Export, data: Data) -> float:
    """Assert both SavedModels compute the same outputs; return the largest absolute difference."""
    worst = 0.0
    for label, batch in (("sample", data.sample), ("padded sample", data.padded_sample)):
        a, b = base(batch).numpy(), ours(batch).numpy()
        equal = a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)
        diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
        worst = max(worst, diff)
        print(f"  {label} {tuple(batch.shape)}: outputs allclose: {equal} (max |diff| {diff:.2e})")
        assert equal, f"SavedModel outputs differ on the {label}"
    return worst


# --------------------------------------------------------------------------
# Timing harness
# --------------------------------------------------------------------------


@dataclass
class Side:
    latencies: list[float] = field(default_factory=list)  # seconds per call, all blocks
    block_p50: list[float] = field(default_factory=list)
    cpu: float = 0.0  # process CPU seconds over all timed calls (informational)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q))


@dataclass
class Case:
    batch_size: int
    calls: int
    base: Side = field(default_factory=Side)
    ours: Side = field(default_factory=Side)

    def ratio(self, q: float) -> float:
        return self.ours.percentile(q) / self.base.percentile(q)

    @property
    def paired(self) -> list[float]:
        return [o / b for o, b in zip(self.ours.block_p50, self.base.block_p50, strict=True)]

    def cpu_ratio(self) -> float:
        return self.ours.cpu / self.base.cpu


def timed_block(fn: Callable[[tf.Tensor], Any], pool: list[tf.Tensor], n: int, offset: int, sink: Side) -> None:
    """Time ``n`` calls one by one, cycling through ``pool`` from ``offset``."""
    latencies = []
    cpu0 = time.process_time()
    for i in range(n):
        x = pool[(offset + i) % len(pool)]
        start = time.perf_counter()
        fn(x)
        latencies.append(time.perf_counter() - start)
    sink.cpu += time.process_time() - cpu0
    sink.latencies += latencies
    sink.block_p50.append(statistics.median(latencies))


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def run(base: Export, ours: Export, data: Data, sizes: Sizes, repeats: int) -> list[Case]:
    for batch_size, _ in sizes.calls:  # warm-up, untimed
        pool = data.batches[batch_size]
        for fn in (base, ours):
            for i in range(max(sizes.warmup_calls, len(pool))):
                fn(pool[i % len(pool)])
    gc.collect()
    gc.freeze()  # setup objects move to a permanent generation: the collections between blocks stay short
    cases = [Case(batch_size, calls) for batch_size, calls in sizes.calls]
    blocks = {case.batch_size: split(case.calls, repeats) for case in cases}
    offset = dict.fromkeys(blocks, 0)
    for rep in range(repeats):
        for case in cases:
            pool, n = data.batches[case.batch_size], blocks[case.batch_size][rep]
            sides = [(base, case.base), (ours, case.ours)]
            if rep % 2:
                sides.reverse()
            gc.collect()
            gc.disable()
            try:
                for fn, sink in sides:
                    timed_block(fn, pool, n, offset[case.batch_size], sink)
            finally:
                gc.enable()
            offset[case.batch_size] += n
        line = ", ".join(
            f"batch {c.batch_size}: {c.base.block_p50[-1] * 1e3:.3f}/{c.ours.block_p50[-1] * 1e3:.3f}" for c in cases
        )
        print(f"  repeat {rep + 1}/{repeats} block p50 ms baseline/ours: {line}")
        sys.stdout.flush()
    return cases


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def markdown_table(cases: list[Case], shape: Callable[[int], str], target: float) -> str:
    lines = [
        "| case | baseline | ours | ratio | target | pass/fail "
        "| paired block ratios, median (min-max) | CPU-time ratio |",
        "|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for c in cases:
        for label, q in (("p50", 50), ("p99", 99)):
            ratio = c.ratio(q)
            verdict = "PASS" if ratio <= target else "FAIL"
            paired = c.paired
            spread = f"{statistics.median(paired):.2f} ({min(paired):.2f}-{max(paired):.2f})" if q == 50 else "n/a"
            lines.append(
                f"| {label} latency, batch {c.batch_size} ({shape(c.batch_size)}, {c.calls} calls) "
                f"| {fmt_ms(c.base.percentile(q))} | {fmt_ms(c.ours.percentile(q))} | {ratio:.2f}x "
                f"| <= {target:.1f}x | {verdict} | {spread} | {c.cpu_ratio():.2f}x |"
            )
    return "\n".join(lines)


def report(cases: list[Case], sizes: Sizes, command: str, notes: list[str], text: bool) -> str:
    if text:
        baseline = f"TextVectorization(standardize='lower', output_sequence_length={sizes.seq_len})"
        ours = "TextVocabEmbedding(standardize='lower', same length)"
        inputs = "inputs (batch,) tf.string sentences of bench_text.py's 50% non-ASCII mix"
    else:
        baseline, ours = "StringLookup(mask_token='')", "VocabEmbedding(mask_token='')"
        inputs = f"inputs (batch, {sizes.seq_len}) tf.string"
    intro = (
        f"Latency of one call of the loaded SavedModel's `{SIGNATURE}` signature (wall clock, per call) over "
        "interleaved blocks; ratio = ours / baseline (lower is better), pass/fail compares it with the target, "
        "separately for p50 and p99. Paired block ratios: per pair of blocks, ours block-p50 / baseline block-p50; "
        "their median is a drift-robust estimate of the p50 ratio, their range shows the noise. "
        "CPU-time ratio (informational): process CPU seconds over all timed calls, ours / baseline. "
        f"Baseline: {baseline} + Embedding(mask_zero=True) exported with `model.export`; "
        f"ours: {ours} exported with `export_for_serving`; both followed by "
        f"GlobalAveragePooling1D + Dense(1). Vocabulary {sizes.vocab_size:,} tokens, {inputs}."
    )
    libraries = [
        f"- tensorflow: {tf.__version__} (intra-op threads {tf.config.threading.get_intra_op_parallelism_threads()}, "
        f"inter-op {tf.config.threading.get_inter_op_parallelism_threads()}; 0 = TF default)",
        f"- keras: {keras.__version__} (backend {keras.backend.backend()})",
        f"- tensorflow-serving-api: {dist_version('tensorflow-serving-api')}",
    ]
    machine = machine_info(libraries, package_info(imported=True))
    if text:
        table = markdown_table(cases, lambda n: f"{n} sentence{'s' * (n != 1)}", TEXT_TARGET)
    else:
        table = markdown_table(cases, lambda batch_size: f"{batch_size}x{sizes.seq_len}", TARGET)
    return markdown_report("Serving latency benchmark", intro, table, notes, machine, command)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(
        __doc__, "small sizes, few calls, smoke run in seconds", "interleaved blocks per side and batch size"
    )
    add_output_option(parser)
    parser.add_argument("--text", action="store_true", help="raw text: TextVocabEmbedding vs TextVectorization")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = command_line()
    sizes = {(False, False): FULL, (False, True): QUICK, (True, False): TEXT, (True, True): TEXT_QUICK}[
        (args.text, args.quick)
    ]
    repeats = args.repeats or sizes.repeats
    if repeats < 1 or any(calls < repeats for _, calls in sizes.calls):
        raise SystemExit(f"--repeats must be between 1 and {min(calls for _, calls in sizes.calls)}")
    t_start = time.perf_counter()

    data = make_text_data(sizes) if args.text else make_data(sizes)
    shapes = ", ".join(f"{b}" if args.text else f"{b}x{sizes.seq_len}" for b, _ in sizes.calls)
    print(
        f"data: vocab {sizes.vocab_size:,}, batches {shapes} (pool of {sizes.pool} each), OOV {data.oov_fraction:.4f}"
    )

    build = (build_text_baseline, build_text_ours) if args.text else (build_baseline, build_ours)
    baseline_model, ours_model = (make(data.vocabulary, sizes) for make in build)
    copy_weights(baseline_model, ours_model)
    keras_equal = np.allclose(baseline_model(data.padded_sample), ours_model(data.padded_sample), rtol=1e-5, atol=1e-6)
    print(f"keras models allclose on the padded sample: {keras_equal}")
    assert keras_equal, "the Keras models differ before export"

    with tempfile.TemporaryDirectory(prefix="bench_serving_") as tmp:
        start = time.perf_counter()
        base_path = os.path.join(tmp, "baseline", "1")
        baseline_model.export(base_path, verbose=False)
        base_export_s = time.perf_counter() - start
        start = time.perf_counter()
        ours_path = keras_vocabsafe.export_for_serving(ours_model, os.path.join(tmp, "ours"))
        ours_export_s = time.perf_counter() - start
        print(f"exported: baseline {base_export_s:.1f} s, ours {ours_export_s:.1f} s")

        start = time.perf_counter()
        base = load_export("baseline", base_path)
        base_load_s = time.perf_counter() - start
        start = time.perf_counter()
        ours = load_export("ours", ours_path)
        ours_load_s = time.perf_counter() - start
        print("correctness (loaded SavedModels):")
        max_diff = check_equal(base, ours, data)

        print(f"timing ({repeats} interleaved repeats; per block p50 in ms):")
        cases = run(base, ours, data, sizes, repeats)

    if args.text:
        inputs = "sentences of bench_text.py's 50% non-ASCII mix (its vocabulary and words)"
        checked = "sample of ASCII sentences, and of their first 1-8 words"
    else:
        inputs = f"Zipf (s={sizes.zipf_s}) tokens over the vocabulary, OOV fraction {data.oov_fraction:.4f}"
        checked = "sample, with and without trailing padding"
    notes = [
        f"- inputs: {inputs}; {sizes.pool} distinct pre-built batches per size, cycled identically for both sides; "
        f"{sizes.warmup_calls}+ untimed warm-up calls per side and size",
        f"- both SavedModels give allclose outputs on a {tuple(data.sample.shape)} {checked}: True "
        f"(max |diff| {max_diff:.2e})",
        f"- SavedModel size on disk: baseline {base.size / 2**20:.1f} MiB, ours {ours.size / 2**20:.1f} MiB "
        "(ours also holds the vocabulary_*/token_to_id_* signatures)",
        f"- single runs, informational: export baseline {base_export_s:.1f} s, ours {ours_export_s:.1f} s; "
        f"tf.saved_model.load baseline {base_load_s:.1f} s, ours {ours_load_s:.1f} s (baseline loaded first)",
        f"- repeats (interleaved blocks): {repeats}; wall time {time.perf_counter() - t_start:.0f} s",
    ]
    emit_report(report(cases, sizes, command, notes, args.text), args.output)


if __name__ == "__main__":
    main()
