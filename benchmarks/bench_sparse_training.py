"""Benchmark the training step against the vocabulary size: row-sparse ``LazyAdam`` vs dense ``Adam``.

Three sides at 10,000, 100,000, 1,000,000 and 5,000,000 rows:

1. ours + LazyAdam: ``VocabEmbedding`` trained with ``keras_vocabsafe.optimizers.LazyAdam``;
2. ours + Adam: the same layer with ``keras.optimizers.Adam``;
3. Keras pair + Adam: ``keras.layers.StringLookup`` + ``keras.layers.Embedding`` with ``Adam``.

Four more sides run only when named in ``--sides``: the layer of side 1 or 2 with ``trainable_rows`` set to every
tenth id ("ours + LazyAdam, 10% rows train", "ours + Adam, 10% rows train": the other rows frozen) or to every id
("..., every row listed": every row trains, through the split gather of ``trainable_rows``). Their ratios to side 1
or 2 show what ``trainable_rows`` costs or saves a step.

Each model is strings (batch 256 x 32 tokens, Zipf-distributed over the vocabulary, so a batch touches a few
thousand rows) -> embedding (``output_dim=64``) -> mean over tokens -> ``Dense(1)``, MSE loss, compiled with
``jit_compile=False``. A timed run is ``--steps`` ``train_on_batch`` calls cycling over eight fixed batches,
after two warm-up steps; the sides alternate and their order flips every repetition. The table gives the median
step time of each side, the ratios, and the targets: ours + LazyAdam at 1M within 2x of its own 10k step, at
least 10x faster than the Keras pair at 1M, and ours + Adam at least as fast as the Keras pair (dense step, every
size).

Below ``--isolate-from`` rows (default 5,000,000) the three models share this process. From there on, each timed
run is a fresh child process holding one model (the vocabulary and batches are made once and handed over in a
file), so only one matrix with its two Adam slots and the dense step's temporaries is in memory at a time (about
6-8 GB at 5M rows): three such models in one process were killed for memory. A child builds its model, runs the
two warm-up steps, times ``--steps`` steps and reports; the sides still alternate, in flipping order.

Run from the repository root::

    python benchmarks/bench_sparse_training.py             # full run, ~15 min on 2 busy cores, ~8 GB peak at 5M
    python benchmarks/bench_sparse_training.py --quick     # 10k and 100k rows, seconds
    python benchmarks/bench_sparse_training.py --sizes 10000 1000000 --repeats 7 --output bench.md
    python benchmarks/bench_sparse_training.py --sides "ours + Adam" "Keras pair + Adam" --repeats 21 --steps 10
    python benchmarks/bench_sparse_training.py --sizes 10000 1000000 --sides "ours + LazyAdam" \
        "ours + LazyAdam, 10% rows train" "ours + LazyAdam, every row listed" "ours + Adam" \
        "ours + Adam, 10% rows train" "ours + Adam, every row listed" --repeats 7
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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
    markdown_report,
    package_info,
    start_clock,
    stop_clock,
    zipf_ranks,
)

BATCH, SEQUENCE, OUTPUT_DIM, BATCHES, WARMUP_STEPS = 256, 32, 64, 8, 2
SIDES = ("ours + LazyAdam", "ours + Adam", "Keras pair + Adam")
# Opt-in sides (`--sides`): the layer of side 1 or 2 with `trainable_rows`, either every tenth id (10% of the rows
# train, the rest are frozen) or every id (all rows train, but through the split gather that `trainable_rows` uses).
# Side -> (the side without `trainable_rows`, the step between trainable ids).
FROZEN_SIDES = {
    f"{base}, {label}": (base, step)
    for base in ("ours + LazyAdam", "ours + Adam")
    for label, step in (("10% rows train", 10), ("every row listed", 1))
}
ALL_SIDES = SIDES + tuple(FROZEN_SIDES)


def build_model(side: str, vocabulary: list[str]) -> keras.Model:
    package = import_package()
    strings = keras.Input(shape=(SEQUENCE,), dtype="string")
    if side == "Keras pair + Adam":
        ids = keras.layers.StringLookup(vocabulary=vocabulary)(strings)
        vectors = keras.layers.Embedding(len(vocabulary) + 1, OUTPUT_DIM)(ids)
        optimizer = keras.optimizers.Adam()
    else:
        base, step = FROZEN_SIDES.get(side, (side, 0))
        trainable_rows = tuple(range(0, len(vocabulary), step)) if step else None
        layer = package.VocabEmbedding(OUTPUT_DIM, vocabulary=vocabulary, trainable_rows=trainable_rows)
        vectors = layer(strings)
        optimizer = package.optimizers.LazyAdam() if base == "ours + LazyAdam" else keras.optimizers.Adam()
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


def warm_up(model: keras.Model, batches: list) -> None:
    for x, y in batches[:WARMUP_STEPS]:
        model.train_on_batch(x, y)


def report_touched(size: int, batches: list) -> None:
    touched = statistics.mean(len(np.unique(b[0].numpy())) for b in batches)
    print(f"{size:,} rows: a batch touches {touched:,.0f} rows on average", flush=True)


def bench_size(
    size: int, sides: tuple[str, ...], repeats: int, steps: int, rng: np.random.Generator
) -> dict[str, list[Timing]]:
    vocabulary = make_words(size, rng)
    batches = make_batches(vocabulary, rng)
    report_touched(size, batches)
    models = {side: build_model(side, vocabulary) for side in sides}
    offsets = {side: [0] for side in sides}
    for model in models.values():
        warm_up(model, batches)
    results: dict[str, list[Timing]] = {side: [] for side in sides}

    def run(side: str):
        return lambda: timed_steps(models[side], batches, steps, offsets[side])

    interleave([(results[side], run(side), repeats) for side in sides], repeats)
    print_runs(sides, results)
    models.clear()
    gc.collect()
    keras.backend.clear_session()
    return results


def print_runs(sides: tuple[str, ...], results: dict[str, list[Timing]], extra: dict[str, str] | None = None) -> None:
    for side in sides:
        line = f"  {side:18s} ms/step: " + " ".join(f"{t.wall * 1e3:.1f}" for t in results[side])
        print(line + (f"  ({extra[side]})" if extra else ""), flush=True)


# --------------------------------------------------------------------------
# One model per process (large vocabularies)
# --------------------------------------------------------------------------


def save_data(path: Path, vocabulary: list[str], batches: list) -> None:
    """The vocabulary and the batches, for the child processes (one file; no pickles)."""
    arrays = {"vocabulary": np.asarray(vocabulary, dtype=str)}
    for i, (x, y) in enumerate(batches):
        arrays[f"x{i}"] = x.numpy().astype(str)
        arrays[f"y{i}"] = y
    np.savez(path, **arrays)


def load_data(path: Path) -> tuple[list[str], list]:
    with np.load(path) as data:
        vocabulary = data["vocabulary"].tolist()
        batches = [(tf.constant(data[f"x{i}"]), data[f"y{i}"]) for i in range(BATCHES)]
    return vocabulary, batches


def child_main(side: str, data_path: Path, steps: int, offset: int) -> None:
    """In a child process: build one side's model, warm it up, time ``steps`` steps, print JSON."""
    vocabulary, batches = load_data(data_path)
    model = build_model(side, vocabulary)
    del vocabulary
    gc.collect()
    warm_up(model, batches)
    timing = timed_steps(model, batches, steps, [offset])
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux
    print(json.dumps({"wall": timing.wall, "cpu": timing.cpu, "peak_rss_gb": peak_gb}), flush=True)


def run_child(side: str, data_path: Path, steps: int, offset: int, peaks: dict[str, float]) -> Timing:
    command = [sys.executable, __file__, "--child", side, "--data", str(data_path), "--steps", str(steps)]
    command += ["--offset", str(offset)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{side} child failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peaks[side] = max(peaks.get(side, 0.0), result["peak_rss_gb"])
    return Timing(result["wall"], result["cpu"])


def bench_size_isolated(
    size: int, sides: tuple[str, ...], repeats: int, steps: int, rng: np.random.Generator
) -> dict[str, list[Timing]]:
    vocabulary = make_words(size, rng)
    batches = make_batches(vocabulary, rng)
    report_touched(size, batches)
    results: dict[str, list[Timing]] = {side: [] for side in sides}
    peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_sparse_") as folder:
        data_path = Path(folder) / "data.npz"
        save_data(data_path, vocabulary, batches)
        del vocabulary, batches
        gc.collect()
        counter = [WARMUP_STEPS]

        def run(side: str):
            def timed() -> Timing:
                # Each run starts at another batch, as the in-process runs cycle on.
                timing = run_child(side, data_path, steps, counter[0] % BATCHES, peaks)
                counter[0] += steps
                print(f"  {side}: {timing.wall * 1e3:.1f} ms/step", flush=True)
                return timing

            return timed

        interleave([(results[side], run(side), repeats) for side in sides], repeats)
    print(f"{size:,} rows, one model per process:")
    print_runs(sides, results, {side: f"peak RSS {peaks[side]:.1f} GB" for side in sides})
    return results


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def median_ms(timings: list[Timing]) -> float:
    return statistics.median(t.wall for t in timings) * 1e3


def paired(base: list[Timing], ours: list[Timing]) -> list[float]:
    return [b.wall / o.wall for b, o in zip(base, ours, strict=True)]


def report(results: dict[int, dict[str, list[Timing]]], sides: tuple[str, ...], isolate_from: int, command: str) -> str:
    dense = "ours + Adam" in sides and "Keras pair + Adam" in sides
    header = "| rows | " + " | ".join(f"{side} (ms)" for side in sides) + " |"
    ratios = []
    if dense:
        ratios += ["Keras / ours + Adam (paired min-median-max)", "CPU-time Keras / ours + Adam"]
    if "ours + LazyAdam" in sides and "ours + Adam" in sides:
        ratios.append("Adam / LazyAdam")
    if "ours + LazyAdam" in sides and "Keras pair + Adam" in sides:
        ratios.append("Keras / LazyAdam")
    frozen = [
        (side, FROZEN_SIDES[side][0]) for side in sides if side in FROZEN_SIDES and FROZEN_SIDES[side][0] in sides
    ]
    ratios += [f"{side} / {base}" for side, base in frozen]
    header += "".join(f" {r} |" for r in ratios)
    lines = [header, "|" + "---|" * (len(sides) + len(ratios) + 1)]
    for size, by_side in results.items():
        ms = {side: median_ms(by_side[side]) for side in sides}
        row = f"| {size:,}{' *' if size >= isolate_from else ''} | " + " | ".join(f"{ms[s]:.1f}" for s in sides) + " |"
        if dense:
            pair = sorted(paired(by_side["Keras pair + Adam"], by_side["ours + Adam"]))
            cpu = statistics.median(t.cpu for t in by_side["Keras pair + Adam"]) / statistics.median(
                t.cpu for t in by_side["ours + Adam"]
            )
            ratio = ms["Keras pair + Adam"] / ms["ours + Adam"]
            row += f" **{ratio:.2f}x** ({pair[0]:.2f}-{statistics.median(pair):.2f}-{pair[-1]:.2f}) | {cpu:.2f}x |"
        if "Adam / LazyAdam" in ratios:
            row += f" {ms['ours + Adam'] / ms['ours + LazyAdam']:.1f}x |"
        if "Keras / LazyAdam" in ratios:
            row += f" {ms['Keras pair + Adam'] / ms['ours + LazyAdam']:.1f}x |"
        for side, base in frozen:
            row += f" {ms[side] / ms[base]:.2f}x |"
        lines.append(row)
    notes = []
    if "ours + LazyAdam" in sides and 10_000 in results and 1_000_000 in results:
        lazy_10k = median_ms(results[10_000]["ours + LazyAdam"])
        lazy_1m = median_ms(results[1_000_000]["ours + LazyAdam"])
        notes.append(
            f"- Target 1 (LazyAdam step at 1M within 2x of its 10k step): {lazy_1m / lazy_10k:.2f}x -> "
            + ("met" if lazy_1m <= 2 * lazy_10k else "NOT met")
        )
        if "Keras pair + Adam" in sides:
            keras_1m = median_ms(results[1_000_000]["Keras pair + Adam"])
            notes.append(
                f"- Target 2 (at least 10x faster than the Keras pair at 1M): {keras_1m / lazy_1m:.1f}x -> "
                + ("met" if keras_1m >= 10 * lazy_1m else "NOT met")
            )
    if dense:
        below = [
            f"{size:,}"
            for size, by_side in results.items()
            if median_ms(by_side["Keras pair + Adam"]) < median_ms(by_side["ours + Adam"])
        ]
        notes.append(
            "- Target 3 (dense step: ours + Adam at least 1.0x the Keras pair at every size): "
            + (f"below 1.0x at {', '.join(below)}" if below else "met at every size")
        )
    notes.append(
        "- Medians of per-step wall times; each repetition is a run of steps per side, sides interleaved "
        "(order flipping each repetition). Batch 256 x 32 Zipf strings, output_dim 64, Dense(1), MSE. "
        "Paired: per repetition, Keras seconds / ours seconds."
    )
    if any(size >= isolate_from for size in results):
        notes.append(
            "- `*`: one model per process, a fresh child process per timed run (build, two warm-up steps, timed steps)."
        )
    machine = machine_info(
        [f"- tensorflow: {dist_version('tensorflow')}", f"- keras: {dist_version('keras')}"], package_info(True)
    )
    return markdown_report(
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
    parser.add_argument(
        "--sides",
        nargs="+",
        choices=ALL_SIDES,
        default=list(SIDES),
        help="which sides to run (default: the first three)",
    )
    parser.add_argument(
        "--isolate-from",
        type=int,
        default=5_000_000,
        help="from this many rows on, run each side in its own process (default 5,000,000)",
    )
    parser.add_argument("--child", choices=ALL_SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    add_output_option(parser)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, args.data, args.steps, args.offset)
        return
    sizes, repeats = (args.sizes, args.repeats)
    if args.quick:
        sizes, repeats = [10_000, 100_000], 3
    sides = tuple(side for side in ALL_SIDES if side in args.sides)
    rng = np.random.default_rng(0)
    results = {}
    for size in sizes:
        bench = bench_size_isolated if size >= args.isolate_from else bench_size
        results[size] = bench(size, sides, repeats, args.steps, rng)
    emit_report(report(results, sides, args.isolate_from, command_line()), args.output)


if __name__ == "__main__":
    sys.exit(main())
