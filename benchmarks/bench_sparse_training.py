"""Benchmark the training step against the vocabulary size: row-sparse ``LazyAdam`` vs dense ``Adam``.

Three sides, side by side in one process, at 10,000, 100,000, 1,000,000 and 5,000,000 rows:

1. ours + LazyAdam: ``VocabEmbedding`` trained with ``keras_vocabsafe.optimizers.LazyAdam``;
2. ours + Adam: the same layer with ``keras.optimizers.Adam``;
3. Keras pair + Adam: ``keras.layers.StringLookup`` + ``keras.layers.Embedding`` with ``Adam``.

Each model is strings (batch 256 x 32 tokens, Zipf-distributed over the vocabulary, so a batch touches a few
thousand rows) -> embedding (``output_dim=64``) -> mean over tokens -> ``Dense(1)``, MSE loss, compiled with
``jit_compile=False``. A timed run is ``--steps`` ``train_on_batch`` calls cycling over eight fixed batches,
after two warm-up steps; the sides alternate and their order flips every repetition. The table gives the median
step time of each side, the ratios, and the two targets: ours + LazyAdam at 1M within 2x of its own 10k step,
and at least 10x faster than the Keras pair at 1M.

Run from the repository root::

    python benchmarks/bench_sparse_training.py             # full run, ~10 min on 2 busy cores, ~10 GB at 5M
    python benchmarks/bench_sparse_training.py --quick     # 10k and 100k rows, seconds
    python benchmarks/bench_sparse_training.py --sizes 10000 1000000 --repeats 7 --output bench.md
"""

from __future__ import annotations

import gc
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf
from _harness import (
    Timing,
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    import_package,
    interleave,
    machine_info,
    make_words,
    package_info,
    start_clock,
    stop_clock,
    zipf_ranks,
)

BATCH, SEQUENCE, OUTPUT_DIM, BATCHES = 256, 32, 64, 8
SIDES = ("ours + LazyAdam", "ours + Adam", "Keras pair + Adam")


def build_model(side: str, vocabulary: list[str]) -> keras.Model:
    package = import_package()
    strings = keras.Input(shape=(SEQUENCE,), dtype="string")
    if side == "Keras pair + Adam":
        ids = keras.layers.StringLookup(vocabulary=vocabulary)(strings)
        vectors = keras.layers.Embedding(len(vocabulary) + 1, OUTPUT_DIM)(ids)
        optimizer = keras.optimizers.Adam()
    else:
        vectors = package.VocabEmbedding(OUTPUT_DIM, vocabulary=vocabulary)(strings)
        optimizer = package.optimizers.LazyAdam() if side == "ours + LazyAdam" else keras.optimizers.Adam()
    model = keras.Model(strings, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(vectors)))
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    return model


def make_batches(vocabulary: list[str], rng: np.random.Generator) -> list[tuple[tf.Tensor, np.ndarray]]:
    words = np.asarray(vocabulary, dtype=object)
    batches = []
    for _ in range(BATCHES):
        ranks = zipf_ranks(len(vocabulary), BATCH * SEQUENCE, 1.1, rng).reshape(BATCH, SEQUENCE)
        batches.append((tf.constant(words[ranks].astype(str)), rng.normal(size=(BATCH, 1)).astype(np.float32)))
    return batches


def timed_steps(model: keras.Model, batches: list, steps: int, offset: list[int]) -> Timing:
    start = start_clock()
    for _ in range(steps):
        x, y = batches[offset[0] % len(batches)]
        offset[0] += 1
        model.train_on_batch(x, y)
    timing = stop_clock(start)
    return Timing(timing.wall / steps, timing.cpu / steps)


def bench_size(size: int, repeats: int, steps: int, rng: np.random.Generator) -> dict[str, list[Timing]]:
    vocabulary = make_words(size, rng)
    batches = make_batches(vocabulary, rng)
    touched = statistics.mean(len(np.unique(b[0].numpy())) for b in batches)
    print(f"{size:,} rows: a batch touches {touched:,.0f} rows on average", flush=True)
    models = {side: build_model(side, vocabulary) for side in SIDES}
    offsets = {side: [0] for side in SIDES}
    for model in models.values():
        for x, y in batches[:2]:
            model.train_on_batch(x, y)
    results: dict[str, list[Timing]] = {side: [] for side in SIDES}

    def run(side: str):
        return lambda: timed_steps(models[side], batches, steps, offsets[side])

    interleave([(results[side], run(side), repeats) for side in SIDES], repeats)
    for side in SIDES:
        print(f"  {side:18s} ms/step: " + " ".join(f"{t.wall * 1e3:.1f}" for t in results[side]), flush=True)
    models.clear()
    gc.collect()
    keras.backend.clear_session()
    return results


def median_ms(timings: list[Timing]) -> float:
    return statistics.median(t.wall for t in timings) * 1e3


def report(results: dict[int, dict[str, list[Timing]]], command: str) -> str:
    header = "| rows | " + " | ".join(f"{side} (ms)" for side in SIDES) + " | Adam / LazyAdam | Keras / LazyAdam |"
    lines = [header, "|" + "---|" * (len(SIDES) + 3)]
    for size, sides in results.items():
        ms = [median_ms(sides[side]) for side in SIDES]
        lines.append(
            f"| {size:,} | " + " | ".join(f"{m:.1f}" for m in ms) + f" | {ms[1] / ms[0]:.1f}x | {ms[2] / ms[0]:.1f}x |"
        )
    notes = []
    if 10_000 in results and 1_000_000 in results:
        lazy_10k = median_ms(results[10_000]["ours + LazyAdam"])
        lazy_1m = median_ms(results[1_000_000]["ours + LazyAdam"])
        keras_1m = median_ms(results[1_000_000]["Keras pair + Adam"])
        notes.append(
            f"- Target 1 (LazyAdam step at 1M within 2x of its 10k step): {lazy_1m / lazy_10k:.2f}x -> "
            + ("met" if lazy_1m <= 2 * lazy_10k else "NOT met")
        )
        notes.append(
            f"- Target 2 (at least 10x faster than the Keras pair at 1M): {keras_1m / lazy_1m:.1f}x -> "
            + ("met" if keras_1m >= 10 * lazy_1m else "NOT met")
        )
    notes.append(
        "- Medians of per-step wall times; each repetition is a run of steps per side, sides interleaved "
        "(order flipping each repetition). Batch 256 x 32 Zipf strings, output_dim 64, Dense(1), MSE."
    )
    machine = machine_info(
        [f"- tensorflow: {dist_version('tensorflow')}", f"- keras: {dist_version('keras')}"], package_info(True)
    )
    return __import__("_harness").markdown_report(
        "Training step vs vocabulary size: row-sparse LazyAdam vs dense Adam",
        "Step time of the same small model at each vocabulary size; lower is better.",
        "\n".join(lines),
        notes,
        machine,
        command,
    )


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__, "10k and 100k rows, 3 repeats of 5 steps", "repetitions per size (default 5)", 5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 5_000_000])
    parser.add_argument("--steps", type=int, default=5, help="train steps per timed run (default 5)")
    add_output_option(parser)
    args = parser.parse_args(argv)
    sizes, repeats = (args.sizes, args.repeats)
    if args.quick:
        sizes, repeats = [10_000, 100_000], 3
    rng = np.random.default_rng(0)
    results = {size: bench_size(size, repeats, args.steps, rng) for size in sizes}
    emit_report(report(results, command_line()), args.output)


if __name__ == "__main__":
    sys.exit(main())
