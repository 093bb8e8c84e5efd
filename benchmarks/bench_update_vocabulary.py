"""Benchmark ``VocabEmbedding.update_vocabulary`` against a plain NumPy index remap (issue 4).

What it measures, on data it generates into a temporary directory (fixed
seed): a built ``VocabEmbedding(output_dim=128, mask_token="")`` (one OOV row)
over 1,000,000 distinct pseudo-words of 3-12 letters (about 5% end in a
non-ASCII letter), its matrix filled with known standard-normal float32
values; and a new vocabulary of 900,000 of the old tokens plus 200,000 new
ones, all shuffled (a re-adapt re-orders): 100,000 old tokens are dropped.

Sides, each run in its own fresh ``python -c`` subprocess:

- ours: ``layer.update_vocabulary(new_tokens)`` (default ``"mean"``), and
  with ``new_embeddings_initializer="mean_cov"`` (informational row);
- floor with dict: plain NumPy and a dict, given the two token lists: build
  ``token -> old id``, compute the index arrays, ``new[kept] = old[src]``,
  ``new[added] = mean`` of the old token rows (what ours' "mean" uses);
- floor, index only: the same matrix work from precomputed index arrays, so
  the gap between the two floors is the dict/index cost;
- parts of ours (one more subprocess per repetition): the steps of
  ``update_vocabulary`` timed one by one with the calls it makes (new
  ``Vocabulary``, id lists, row map, reading the variable, the matrix remap,
  the lookup table, the new variable, the report), then the whole call.

Each subprocess is forked by ``/bin/sh`` (so that it does not inherit this
process's ``ru_maxrss``), sets up its state, resets its peak-RSS mark
(``/proc/self/clear_refs``), and reports wall/CPU seconds of the measured
call and the peak RSS growth during it (``ru_maxrss`` after - RSS before), in
units of the new matrix (1,100,002 x 128 float32 = 563 MB), plus the RSS
still held afterwards. Sides alternate within each repetition and the order
flips every repetition. Ratio = ours / floor (lower is better); the issue
sets no numeric target, so every row is informational.

Checks (printed in the report): after the update every one of 10,000 sampled
kept tokens has a row bit-identical to its row before, at the expected new
id; the report counts are 900,000 kept, 200,000 added and 100,000 dropped;
and in the first repetition the whole new matrix of ours ("mean") and of both
floors hash to the same bytes.

Run from the repository root::

    python benchmarks/bench_update_vocabulary.py            # full run, ~10 min on 2 cores
    python benchmarks/bench_update_vocabulary.py --quick    # 100,000 x 32, 1-2 minutes
    python benchmarks/bench_update_vocabulary.py --repeats 5 --output bench.md
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import (
    REPO_ROOT,
    InterleavedSide,
    Timing,
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    fmt_timings,
    import_from_package,
    interleave,
    machine_info,
    make_words,
    markdown_report,
    package_info,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

SEED = 20261128
MB = 1e6
NON_ASCII = ("é", "ß", "ø", "ж", "ñ", "語", "ç")
NUM_SPECIAL = 2  # mask "" and one OOV row
SAMPLE = 10_000


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``QUICK`` is a scaled-down smoke configuration."""

    old: int = 1_000_000
    dropped: int = 100_000
    added: int = 200_000
    dim: int = 128

    @property
    def new(self) -> int:
        return self.old - self.dropped + self.added

    @property
    def new_matrix_bytes(self) -> int:
        return (self.new + NUM_SPECIAL) * self.dim * 4


FULL = Sizes()
QUICK = Sizes(old=100_000, dropped=10_000, added=20_000, dim=32)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def write_data(sizes: Sizes, directory: Path) -> dict[str, Any]:
    """Tokens (JSON), old matrix and precomputed index arrays (.npy); returns a summary."""
    rng = np.random.default_rng([SEED, 1])
    words = make_words(sizes.old + sizes.added, rng, NON_ASCII)  # ~5% end in a non-ASCII letter
    old, fresh = words[: sizes.old], words[sizes.old :]
    dropped = np.zeros(sizes.old, dtype=bool)
    dropped[rng.choice(sizes.old, size=sizes.dropped, replace=False)] = True
    kept_old = np.flatnonzero(~dropped)
    # New vocabulary: kept and new tokens, all shuffled. src[i] = old id of new id i + NUM_SPECIAL, or -1.
    candidates = [old[i] for i in kept_old] + fresh
    src_all = np.concatenate([kept_old + NUM_SPECIAL, np.full(sizes.added, -1)])
    order = rng.permutation(len(candidates))
    new = [candidates[i] for i in order]
    src_all = src_all[order]
    (directory / "tokens.json").write_text(json.dumps({"old": old, "new": new}, ensure_ascii=False), encoding="utf-8")

    matrix = rng.standard_normal((sizes.old + NUM_SPECIAL, sizes.dim), dtype=np.float32)
    np.save(directory / "old_matrix.npy", matrix)
    kept_pos = np.flatnonzero(src_all >= 0)
    np.save(directory / "kept_rows.npy", kept_pos + NUM_SPECIAL)
    np.save(directory / "kept_src.npy", src_all[kept_pos])
    np.save(directory / "added_rows.npy", np.flatnonzero(src_all < 0) + NUM_SPECIAL)
    sample = rng.choice(kept_pos, size=min(SAMPLE, len(kept_pos)), replace=False)
    (directory / "sample.json").write_text(
        json.dumps(
            {
                "tokens": [new[i] for i in sample],
                "old_ids": src_all[sample].tolist(),
                "new_ids": (sample + NUM_SPECIAL).tolist(),
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    n_non_ascii = sum(not w.isascii() for w in words)
    lengths = [len(w) for w in words]
    reordered = int(np.count_nonzero(src_all[kept_pos] != kept_pos + NUM_SPECIAL))
    return {
        "non_ascii": n_non_ascii / len(words),
        "min_len": min(lengths),
        "max_len": max(lengths),
        "reordered": reordered,
    }


# --------------------------------------------------------------------------
# The measured child processes
# --------------------------------------------------------------------------

CHILD = r"""
import gc, hashlib, json, resource, sys, time
import numpy as np

side, directory, do_hash = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
NUM_SPECIAL = 2
if side != "floor_index":
    # TensorFlow and the package load in the floor-with-dict child too, so both sides start from the same kind of
    # process; the floor itself uses only NumPy and a dict.
    import keras
    from keras_vocabsafe import VocabEmbedding
    from keras_vocabsafe import evolve
    from keras_vocabsafe.vocabulary import Vocabulary


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1


def reset_peak():
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM (and so ru_maxrss) to the current RSS


def maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def digest(matrix):
    return hashlib.blake2b(np.ascontiguousarray(matrix).view(np.uint8), digest_size=16).hexdigest()


def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


out = {"side": side}
old_matrix = np.load(directory + "/old_matrix.npy")
dim = old_matrix.shape[1]
with open(directory + "/sample.json", encoding="utf-8") as f:
    sample = json.load(f)
expected_rows = old_matrix[sample["old_ids"]]

if side == "floor_index":
    names = ("kept_rows", "kept_src", "added_rows")
    kept_rows, kept_src, added_rows = (np.load(f"{directory}/{name}.npy") for name in names)
    num_rows = NUM_SPECIAL + len(kept_rows) + len(added_rows)

    def update():
        new = np.empty((num_rows, dim), dtype=old_matrix.dtype)
        new[:NUM_SPECIAL] = old_matrix[:NUM_SPECIAL]
        new[kept_rows] = old_matrix[kept_src]
        new[added_rows] = old_matrix[NUM_SPECIAL:].mean(axis=0, dtype=np.float64).astype(np.float32)
        return new

elif side == "floor_dict":
    with open(directory + "/tokens.json", encoding="utf-8") as f:
        tokens = json.load(f)
    old_tokens, new_tokens = tokens["old"], tokens["new"]
    del tokens

    def update():
        old_id = dict(zip(old_tokens, range(NUM_SPECIAL, NUM_SPECIAL + len(old_tokens))))
        get = old_id.get
        src = np.fromiter((get(t, -1) for t in new_tokens), dtype=np.int64, count=len(new_tokens))
        kept = src >= 0
        new = np.empty((NUM_SPECIAL + len(new_tokens), dim), dtype=old_matrix.dtype)
        new[:NUM_SPECIAL] = old_matrix[:NUM_SPECIAL]
        new[np.flatnonzero(kept) + NUM_SPECIAL] = old_matrix[src[kept]]
        new[np.flatnonzero(~kept) + NUM_SPECIAL] = old_matrix[NUM_SPECIAL:].mean(axis=0, dtype=np.float64).astype(
            np.float32
        )
        return new

else:
    with open(directory + "/tokens.json", encoding="utf-8") as f:
        tokens = json.load(f)
    old_tokens, new_tokens = tokens["old"], tokens["new"]
    del tokens
    t_setup = time.perf_counter()
    layer = VocabEmbedding(output_dim=dim, mask_token="", vocabulary=old_tokens)
    layer.build()
    layer.embeddings.assign(old_matrix)
    out["setup_seconds"] = time.perf_counter() - t_setup
    del old_tokens
    rule = "mean_cov" if side == "ours_mean_cov" else "mean"

    def update():
        return layer.update_vocabulary(new_tokens, new_embeddings_initializer=rule, seed=7)

if not side.startswith("floor"):
    del old_matrix  # each side starts with one copy of the old matrix: the layer's variable, or the floor's array

if side == "ours_parts":
    parts = {}
    reset_peak()
    rss0 = status("VmRSS")
    new_vocabulary, *t = timed(lambda: Vocabulary(new_tokens)); parts["new Vocabulary(tokens)"] = t
    (old_ids, new_ids), *t = timed(lambda: (layer._ids_to_tokens(), layer._ids_to_tokens(new_vocabulary)))
    parts["id lists, old and new"] = t
    row_map, *t = timed(lambda: evolve._map_rows(old_ids, new_ids)); parts["row map (dict of old ids)"] = t
    old_values, *t = timed(lambda: keras.ops.convert_to_numpy(layer.embeddings)); parts["read old variable"] = t
    matrix, *t = timed(lambda: evolve._remap_matrix(
        old_values, row_map, new_ids, initializer="mean", reference_rows=slice(NUM_SPECIAL, len(old_ids)),
        num_rows=len(new_ids)))
    parts["remap matrix (mean)"] = t
    del old_values
    _, *t = timed(lambda: layer._make_lookup_table(new_vocabulary)); parts["lookup table"] = t
    _ = None
    holder = keras.layers.Layer()
    _, *t = timed(lambda: holder.add_weight(shape=matrix.shape, initializer=lambda shape, dtype=None: matrix,
                                           name="embeddings", trainable=True))
    parts["new variable (add_weight)"] = t
    _ = None
    _, *t = timed(lambda: evolve._make_report(
        layer.name, old_ids, new_ids, row_map, old_token_ids=np.arange(NUM_SPECIAL, len(old_ids)),
        new_token_ids=np.arange(NUM_SPECIAL, len(new_ids)), initializer="mean"))
    parts["report"] = t
    parts_peak = maxrss() - rss0
    reference = keras.ops.convert_to_numpy(layer.embeddings)[NUM_SPECIAL:]
    added_tokens = [new_ids[i] for i in row_map.added]
    _, *t = timed(lambda: evolve._initial_rows(
        "mean_cov", added_tokens, reference, argument="new_embeddings_initializer", seed=7))
    parts["mean_cov rows (informational)"] = t
    del reference, holder, matrix, row_map, new_vocabulary, old_ids, new_ids, added_tokens, _
    out["parts"] = parts
    out["parts_peak"] = parts_peak

reset_peak()
rss_before = status("VmRSS")
result, wall, cpu = timed(update)
peak = maxrss()
out.update(wall=wall, cpu=cpu, rss_before=rss_before, peak=peak, hwm=status("VmHWM"))
gc.collect()
out["rss_after"] = status("VmRSS")

if side.startswith("floor"):
    new_matrix = result
    got_rows = new_matrix[sample["new_ids"]]
else:
    report = result
    out["report"] = {k: getattr(report, k) for k in ("old_size", "new_size", "kept", "added", "dropped", "reordered")}
    out["vocabulary_size"] = layer.vocabulary_size()
    out["ids_ok"] = bool(np.array_equal(np.asarray(layer.token_to_id(sample["tokens"])), sample["new_ids"]))
    got_rows = np.asarray(layer.get_vectors(sample["tokens"]))
    new_matrix = keras.ops.convert_to_numpy(layer.embeddings)
    out["shape"] = list(new_matrix.shape)
out["sample_bit_identical"] = bool(np.array_equal(got_rows.view(np.uint32), expected_rows.view(np.uint32)))
out["digest"] = digest(new_matrix) if do_hash else None
print(json.dumps(out))
"""

# Forked by /bin/sh rather than exec'd from this process: an exec'd child would start with this process's
# ru_maxrss (see bench_pretrained.py).
SPAWN_FRESH = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]

SIDES = ("ours_mean", "ours_mean_cov", "floor_dict", "floor_index", "ours_parts")
LABELS = {
    "ours_mean": 'ours, update_vocabulary(new) ("mean")',
    "ours_mean_cov": 'ours, update_vocabulary(new, new_embeddings_initializer="mean_cov")',
    "floor_dict": "floor: NumPy remap incl. dict + index arrays",
    "floor_index": "floor: NumPy remap from precomputed index arrays",
    "ours_parts": 'ours ("mean"), after timing its parts in the same process',
}


def run_child(side: str, directory: Path, do_hash: bool) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [*SPAWN_FRESH, sys.executable, "-c", CHILD, side, str(directory), "1" if do_hash else "0"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stderr)
        raise RuntimeError(f"{side} subprocess failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass
class Side:
    name: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)

    def median(self, key: str = "wall") -> float:
        return statistics.median(r[key] for r in self.runs)

    def growths(self) -> list[float]:
        return [r["peak"] - r["rss_before"] for r in self.runs]

    def retained(self) -> list[float]:
        return [r["rss_after"] - r["rss_before"] for r in self.runs]


def make_run(side: Side, directory: Path) -> Any:
    def run() -> Timing:
        result = run_child(side.name, directory, do_hash=not side.runs)
        side.runs.append(result)
        growth = (result["peak"] - result["rss_before"]) / MB
        print(
            f"    {side.name}: {result['wall']:.2f} s wall / {result['cpu']:.2f} s CPU; peak RSS growth "
            f"{growth:.0f} MB, retained {(result['rss_after'] - result['rss_before']) / MB:.0f} MB"
        )
        sys.stdout.flush()
        return Timing(result["wall"], result["cpu"])

    return run


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def time_row(name: str, ours: Side, floor: Side) -> str:
    paired = [o["wall"] / f["wall"] for o, f in zip(ours.runs, floor.runs, strict=False)]
    ratio = ours.median() / floor.median()
    cpu = ours.median("cpu") / floor.median("cpu")
    return (
        f"| {name} | {floor.median():.2f} s | {ours.median():.2f} s | {ratio:.2f}x | - | info "
        f"| {min(paired):.2f}-{max(paired):.2f} | {cpu:.2f}x |"
    )


def memory_table(sides: dict[str, Side], matrix_bytes: int) -> str:
    lines = [
        "| run | peak RSS growth during the update | in new matrices | range (x) | RSS retained after "
        "| in new matrices |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("ours_mean", "ours_mean_cov", "floor_dict", "floor_index"):
        side = sides[name]
        growth = statistics.median(side.growths())
        retained = statistics.median(side.retained())
        lines.append(
            f"| {LABELS[name]} | {growth / MB:.0f} MB | {growth / matrix_bytes:.2f}x "
            f"| {min(side.growths()) / matrix_bytes:.2f}-{max(side.growths()) / matrix_bytes:.2f} "
            f"| {retained / MB:.0f} MB | {retained / matrix_bytes:.2f}x |"
        )
    return "\n".join(lines)


def parts_table(parts_side: Side, ours: Side) -> tuple[str, float]:
    names = list(parts_side.runs[0]["parts"])
    lines = [
        "| part of ours (same calls as update_vocabulary) | median wall | median CPU | share of ours |",
        "|---|---:|---:|---:|",
    ]
    total = ours.median()
    summed = 0.0
    for name in names:
        wall = statistics.median(r["parts"][name][0] for r in parts_side.runs)
        cpu = statistics.median(r["parts"][name][1] for r in parts_side.runs)
        informational = "informational" in name
        if not informational:
            summed += wall
        share = "-" if informational else f"{wall / total:.0%}"
        lines.append(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {share} |")
    lines.append(f"| sum of the parts above (without mean_cov) | {summed:.2f} s | | {summed / total:.0%} |")
    return "\n".join(lines), summed


def check_runs(sides: dict[str, Side], sizes: Sizes) -> tuple[list[str], bool]:
    notes, ok = [], True
    expected = {"kept": sizes.old - sizes.dropped, "added": sizes.added, "dropped": sizes.dropped}
    for name, side in sides.items():
        identical = all(r["sample_bit_identical"] for r in side.runs)
        ok &= identical
        if name.startswith("ours"):
            report = side.runs[0]["report"]
            counts_ok = all(report[k] == v for k, v in expected.items()) and all(
                r["ids_ok"] and r["vocabulary_size"] == sizes.new + NUM_SPECIAL for r in side.runs
            )
            ok &= counts_ok
            notes.append(
                f"  {name}: {len(side.runs)} runs, sampled kept rows bit-identical: {identical}; "
                f"ids as expected and counts {report}: {counts_ok}"
            )
        else:
            notes.append(f"  {name}: sampled kept rows bit-identical: {identical}")
    digests = {name: sides[name].runs[0]["digest"] for name in ("ours_mean", "floor_dict", "floor_index")}
    same = len(set(digests.values())) == 1
    ok &= same
    notes.append(f"  whole new matrix, ours (mean) vs both floors, same bytes (blake2b): {same}")
    return notes, ok


def memory_total() -> str:
    try:
        return next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(
        __doc__, "100,000 x 32 layer, smoke run", "interleaved repetitions (fresh subprocesses) per side (default 3)", 3
    )
    add_output_option(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = command_line()
    sizes = QUICK if args.quick else FULL
    repeats = max(1, args.repeats)
    package = import_from_package("VocabEmbedding")
    if package is None:
        sys.exit("keras_vocabsafe is needed: this benchmark has no baseline-only mode")
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_update_vocabulary_") as tmp:
        directory = Path(tmp)
        summary = write_data(sizes, directory)
        print(
            f"generated in {time.perf_counter() - t_start:.1f} s: {sizes.old:,} x {sizes.dim} layer, new vocabulary "
            f"{sizes.new:,} ({sizes.added:,} new, {sizes.dropped:,} dropped, {summary['reordered']:,} kept tokens "
            "with a new id)"
        )
        sides = {name: Side(name) for name in SIDES}
        plan: list[InterleavedSide] = [
            (sides[name].timings, make_run(sides[name], directory), repeats) for name in SIDES
        ]
        print(f"{repeats} interleaved repetitions, each side in a fresh subprocess")
        interleave(plan, repeats)
    for name, side in sides.items():
        print(f"  {name} wall/cpu: {fmt_timings(side.timings, 2)}")

    matrix_bytes = sizes.new_matrix_bytes
    ours, ours_cov, floor_dict, floor_index = (sides[n] for n in SIDES[:4])
    table = "\n".join(
        [
            "| case | floor median | ours median | ratio | target | pass/fail | paired ratios (min-max) "
            "| CPU-time ratio |",
            "|---|---:|---:|---:|---:|:---:|---:|---:|",
            time_row('update "mean" vs floor incl. dict + index arrays', ours, floor_dict),
            time_row('update "mean" vs floor from precomputed index arrays', ours, floor_index),
            time_row('update "mean_cov" vs floor incl. dict + index arrays', ours_cov, floor_dict),
        ]
    )
    parts, _ = parts_table(sides["ours_parts"], ours)
    check_notes, ok = check_runs(sides, sizes)
    parts_run = sides["ours_parts"]
    setup = statistics.median(r["setup_seconds"] for r in ours.runs)
    notes = [
        f"Peak memory, in units of the new matrix ({sizes.new + NUM_SPECIAL:,} x {sizes.dim} float32 = "
        f"{matrix_bytes / MB:.0f} MB; the old one is {(sizes.old + NUM_SPECIAL) * sizes.dim * 4 / MB:.0f} MB):",
        "",
        memory_table(sides, matrix_bytes),
        "",
        "Where ours spends its time (one more subprocess per repetition runs the steps of `update_vocabulary` one by "
        "one with the calls it makes, on the same layer; medians):",
        "",
        parts,
        "",
        f"- data: {sizes.old:,} distinct pseudo-words of {summary['min_len']}-{summary['max_len']} characters "
        f"({summary['non_ascii']:.1%} end in a non-ASCII letter); new vocabulary = {sizes.old - sizes.dropped:,} "
        f"old + {sizes.added:,} new tokens, shuffled ({summary['reordered']:,} kept tokens change id); matrix "
        "standard-normal float32; layer `VocabEmbedding(output_dim="
        f'{sizes.dim}, mask_token="")`, one OOV row; "mean" = mean of the old token rows (both sides)',
        "- every measured run is a fresh `python -c` subprocess forked by `/bin/sh`; after its set-up it resets its "
        "peak-RSS mark (`/proc/self/clear_refs`), so growth = `ru_maxrss` after the call - RSS just before it; "
        "retained = RSS after the call and a `gc.collect()` - RSS before it. Ours starts from the built layer (the "
        "old matrix lives in the variable), the floors from the old matrix as a NumPy array; the floor-with-dict "
        "child also holds the two token lists, as ours does.",
        f"- ours, set-up (building the {sizes.old:,}-token layer and assigning the matrix, not timed above): "
        f"{setup:.1f} s median",
        f"- parts run: peak RSS growth over the parts (new matrix and variable kept, as in the update): "
        f"{statistics.median(r['parts_peak'] for r in parts_run.runs) / matrix_bytes:.2f}x the new matrix; the "
        f"whole call in that process afterwards: {parts_run.median():.2f} s",
        f"- checks: all passed: {ok}",
        *check_notes,
        f"- repeats: {repeats}; wall time of the whole run: {time.perf_counter() - t_start:.0f} s",
    ]
    if args.quick:
        notes.append("- --quick: smoke sizes; fixed costs weigh more than at the full size")
    intro = (
        f"Updating a {sizes.old:,} x {sizes.dim} `VocabEmbedding` to a vocabulary that keeps "
        f"{sizes.old - sizes.dropped:,} tokens, drops {sizes.dropped:,} and adds {sizes.added:,}. Medians (wall "
        "clock) over interleaved repetitions, each run in a fresh subprocess; ratio = ours seconds / floor seconds "
        "(lower is better; informational: the issue sets no target). Paired ratios: per repetition, ours / floor. "
        "CPU-time ratio: median process CPU seconds, ours / floor."
    )
    libraries = [
        f"- numpy: {np.__version__}",
        f"- tensorflow: {dist_version('tensorflow')}; keras: {dist_version('keras')}",
    ]
    machine = machine_info(libraries, package_info(True), f"; memory: {memory_total()}")
    text = markdown_report("Vocabulary update (issue 4)", intro, table, notes, machine, command)
    emit_report(text, args.output)
    if not ok:
        sys.exit("a correctness check failed")


if __name__ == "__main__":
    gc.collect()
    main()
