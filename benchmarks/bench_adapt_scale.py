"""Benchmark ``adapt`` at corpus scale: memory and throughput vs ``StringLookup.adapt`` (issue 13).

What it measures:

1. Scaling (1M, 5M, 20M, 50M tokens by default): a bounded-Zipf (s=1.0)
   corpus over a pool of pseudo-words of 3-12 lowercase letters, the pool
   sized so that about 10% of the tokens are distinct (5,000,000 distinct keys
   at 50M tokens). The parent writes each corpus once to a temporary folder
   (ranks as int32, the pool as fixed-width bytes, fixed seed), so every side
   reads the same data. Each side runs in its own fresh subprocess, which
   loads the corpus and builds the same input for every side: a
   ``tf.data.Dataset`` of (1024, 64) ``tf.string`` batches (rows of 64 tokens,
   the shape text pipelines have), made in the graph by gathering the pool's
   words at the ranks, so it can be read twice and costs no Python per token.
   Sides: ``keras.layers.StringLookup().adapt``, ``VocabEmbedding(64).adapt``
   at the default budget (``DEFAULT_BUDGET``, 2**21 as written), ``VocabEmbedding(64).adapt(
   budget=None)`` (exact, unbounded), and one bare pass over the dataset
   (the input alone, a floor for every side). Each subprocess warms its side
   up on 4 batches, then resets its peak-RSS mark (``/proc/self/clear_refs``)
   and measures wall/CPU seconds and memory growth = peak RSS (VmHWM) during
   ``adapt`` - RSS after imports, the corpus and the input pipeline.
   Sides run back to back, StringLookup and the default budget next to each
   other, and the order flips every repetition.

   Checks: the top 50,000 tokens of the default-budget vocabulary equal those
   of the exact run and those of an independent count (``np.bincount`` of the
   ranks, ordered by count descending then bytes ascending); StringLookup's
   vocabulary has the same size as the exact one, and the same tokens above
   the 50,000th count (it breaks ties the other way).

2. ``adapt`` from ``tf.data`` on the core benchmark's 5M-token corpus
   (``bench_vocab_embedding.make_corpus``: 5,000,000 tokens over 200,000
   words), in both of its ``tf.data`` forms, in this process, interleaved
   exactly as ``bench_vocab_embedding.py`` does (its functions), with more
   repetitions. Target: >= 1.5x ``StringLookup().adapt``.

Targets of the issue, at the largest size: memory growth at the default budget
at most one third of StringLookup's, top-50,000 identical to the exact one,
throughput at least StringLookup's.

Run from the repository root::

    python benchmarks/bench_adapt_scale.py                 # full run, ~25-40 min on 2 shared cores
    python benchmarks/bench_adapt_scale.py --quick         # smoke run, 1-2 minutes
    python benchmarks/bench_adapt_scale.py --sizes 1M,5M --repeats 3 --output scale.md
"""

from __future__ import annotations

import argparse
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
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    machine_info,
    markdown_report,
    package_info,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

SEED = 20261201
ZIPF_S = 1.0
DISTINCT_SHARE = 0.10  # distinct tokens / tokens, expected
ROW = 64  # tokens per row
BATCH_ROWS = 1024  # rows per dataset element: 65,536 tokens
TOP = 50_000
MIB = 1 << 20
SIDES = ("exact", "keras", "budget", "input")
LABELS = {
    "keras": "StringLookup().adapt",
    "budget": "VocabEmbedding.adapt (default budget)",
    "exact": "VocabEmbedding.adapt(budget=None)",
    "input": "input alone (one pass)",
}
FULL_SIZES = (1_000_000, 5_000_000, 20_000_000, 50_000_000)
QUICK_SIZES = (262_144, 1_048_576)


# --------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------


def expected_distinct(pool: int, tokens: int) -> float:
    """Expected distinct ranks among ``tokens`` draws of a bounded Zipf law over ``pool`` items."""
    weights = np.arange(1, pool + 1, dtype=np.float64) ** -ZIPF_S
    return float(-np.expm1(-tokens * weights / weights.sum()).sum())


def pool_size(tokens: int) -> int:
    """The pool for which about ``DISTINCT_SHARE`` of ``tokens`` Zipf draws are distinct (bisection)."""
    target = DISTINCT_SHARE * tokens
    lo, hi = int(target), int(4 * tokens)
    while hi - lo > max(1, lo // 1000):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if expected_distinct(mid, tokens) < target else (lo, mid)
    return hi


def pseudo_words(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct pseudo-words of 3-12 lowercase ASCII letters, as ``S12`` (vectorised ``make_words``)."""
    draws = int(1.3 * n) + 1_000
    while True:
        letters = rng.integers(ord("a"), ord("z") + 1, size=(draws, 12), dtype=np.uint8)
        lengths = rng.integers(3, 13, size=draws)
        letters[np.arange(12)[None, :] >= lengths[:, None]] = 0
        words = letters.view("S12").reshape(-1)
        _, first = np.unique(words, return_index=True)
        if len(first) >= n:
            first.sort()  # first occurrences, in draw order: no link between a word's rank and its spelling
            return words[first[:n]]
        draws *= 2


def zipf_ranks(pool: int, tokens: int, rng: np.random.Generator, chunk: int = 1 << 22) -> np.ndarray:
    """``tokens`` ranks in ``[0, pool)`` from a bounded Zipf law, as int32 (drawn in chunks to bound memory)."""
    cdf = np.cumsum(np.arange(1, pool + 1, dtype=np.float64) ** -ZIPF_S)
    cdf /= cdf[-1]
    ranks = np.empty(tokens, dtype=np.int32)
    for start in range(0, tokens, chunk):
        stop = min(tokens, start + chunk)
        ranks[start:stop] = np.minimum(np.searchsorted(cdf, rng.random(stop - start), side="right"), pool - 1)
    return ranks


@dataclass
class Corpus:
    tokens: int
    pool: int
    distinct: int
    directory: Path
    top: list[str]  # the TOP most frequent tokens, count descending then bytes ascending
    top_counts: np.ndarray
    seconds: float


def write_corpus(tokens: int, directory: Path) -> Corpus:
    """Writes ranks.npy and words.npy for a ``tokens``-token corpus; counts it independently (NumPy)."""
    start = time.perf_counter()
    rng = np.random.default_rng([SEED, tokens])
    pool = pool_size(tokens)
    words = pseudo_words(pool, rng)
    ranks = zipf_ranks(pool, tokens, rng)
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "words.npy", words)
    np.save(directory / "ranks.npy", ranks)
    counts = np.bincount(ranks, minlength=pool)
    present = np.flatnonzero(counts)
    order = np.lexsort((words[present], -counts[present]))[:TOP]
    top = [w.decode("ascii") for w in words[present][order].tolist()]
    return Corpus(tokens, pool, len(present), directory, top, counts[present][order], time.perf_counter() - start)


# --------------------------------------------------------------------------
# The measured child processes
# --------------------------------------------------------------------------

CHILD = r"""
import gc, json, sys, time
import numpy as np
import tensorflow as tf
import keras
from keras_vocabsafe import VocabEmbedding

side, directory, row, batch_rows, top, budget = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
budget_kwargs = {"budget": budget} if budget else {}  # 0: the layer's default


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1


after_imports = status("VmRSS")
words = tf.constant(np.load(directory + "/words.npy"))
ranks = np.load(directory + "/ranks.npy")
n_tokens = ranks.size
rows = tf.constant(ranks.reshape(-1, row))
del ranks
n_batches = -(-int(rows.shape[0]) // batch_rows)


def make_batch(i):
    return tf.gather(words, rows[i * batch_rows : (i + 1) * batch_rows])


# Batches are made in the graph, in order, on tf.data's threads: the same tokens every time it is read.
dataset = tf.data.Dataset.range(n_batches).map(make_batch, num_parallel_calls=tf.data.AUTOTUNE)

if side == "keras":
    make, run = keras.layers.StringLookup, lambda layer, data: layer.adapt(data)
elif side == "budget":
    make, run = (lambda: VocabEmbedding(64)), lambda layer, data: layer.adapt(data, **budget_kwargs)
elif side == "exact":
    make, run = (lambda: VocabEmbedding(64)), lambda layer, data: layer.adapt(data, budget=None)
else:
    make = lambda: None

    def run(layer, data):
        for _ in data:
            pass

run(make(), dataset.take(4))  # warm-up: traces and thread pools, before the memory mark
layer = make()
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the current RSS
before = status("VmRSS")
cpu, wall = time.process_time(), time.perf_counter()
run(layer, dataset)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = status("VmHWM")
out = {"side": side, "tokens": n_tokens, "wall": wall, "cpu": cpu, "after_imports": after_imports,
       "before": before, "peak": peak, "after": status("VmRSS")}
if layer is not None:
    vocabulary = layer.get_vocabulary()
    out["vocabulary_size"] = len(vocabulary) - 1  # without the OOV token
    out["top"] = [t.decode() if isinstance(t, bytes) else t for t in vocabulary[1 : top + 1]]
print(json.dumps(out))
"""

# The child runs as a forked child of /bin/sh, not exec'd straight from this process (see bench_pretrained.py):
# it would otherwise start with this process's peak RSS.
SPAWN_FRESH = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]


def run_child(side: str, corpus: Corpus, budget: int) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    args = [side, str(corpus.directory), str(ROW), str(BATCH_ROWS), str(TOP), str(budget)]
    proc = subprocess.run(
        [*SPAWN_FRESH, sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        print(proc.stderr)
        raise RuntimeError(f"{side} subprocess failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass
class SizeResult:
    corpus: Corpus
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {side: [] for side in SIDES})
    checks: dict[str, bool] = field(default_factory=dict)

    def growth(self, side: str) -> float:
        """Median memory growth in MiB: peak RSS during adapt - RSS before it."""
        return statistics.median((r["peak"] - r["before"]) / MIB for r in self.runs[side])

    def wall(self, side: str) -> float:
        return statistics.median(r["wall"] for r in self.runs[side])

    def rate(self, side: str) -> float:
        return self.corpus.tokens / self.wall(side)

    def paired(self, key: str) -> list[float]:
        """Per repetition, default budget / StringLookup: memory growth (``growth``) or throughput (``rate``)."""
        pairs = zip(self.runs["budget"], self.runs["keras"], strict=True)
        if key == "growth":
            return [(b["peak"] - b["before"]) / max(k["peak"] - k["before"], 1) for b, k in pairs]
        if key == "cpu":
            return [k["cpu"] / b["cpu"] for b, k in pairs]
        return [k["wall"] / b["wall"] for b, k in pairs]

    def cpu(self, side: str) -> float:
        return statistics.median(r["cpu"] for r in self.runs[side])


def check_vocabularies(result: SizeResult) -> None:
    """Top-TOP of the default budget vs the exact run and the independent count; StringLookup vs both."""
    corpus = result.corpus
    budget, exact, keras_run = result.runs["budget"][0], result.runs["exact"][0], result.runs["keras"][0]
    result.checks["top: budget == exact"] = budget["top"] == exact["top"]
    result.checks["top: exact == independent count"] = exact["top"] == corpus.top
    result.checks["exact size == distinct"] = exact["vocabulary_size"] == corpus.distinct
    result.checks["StringLookup size == distinct"] = keras_run["vocabulary_size"] == corpus.distinct
    # StringLookup orders ties by token descending: compare the tokens above the last count it cuts through.
    last = corpus.top_counts[-1]
    n_above = int(np.count_nonzero(corpus.top_counts > last))
    result.checks["StringLookup top (above the cut's count) == independent count"] = set(
        keras_run["top"][:n_above]
    ) == set(corpus.top[:n_above])


def run_size(tokens: int, root: Path, repeats: int, budget: int) -> SizeResult:
    corpus = write_corpus(tokens, root / f"corpus_{tokens}")
    print(
        f"corpus {tokens:,} tokens: pool {corpus.pool:,}, {corpus.distinct:,} distinct "
        f"({corpus.distinct / tokens:.1%}); written and counted in {corpus.seconds:.1f} s"
    )
    result = SizeResult(corpus)
    for i in range(repeats):
        order = list(SIDES) if i % 2 == 0 else list(reversed(SIDES))
        for side in order:
            run = run_child(side, corpus, budget)
            result.runs[side].append(run)
            print(
                f"  [{i + 1}] {LABELS[side]:<40} wall {run['wall']:7.2f} s, cpu {run['cpu']:7.2f} s, "
                f"{tokens / run['wall'] / 1e6:5.2f} M tok/s, growth {(run['peak'] - run['before']) / MIB:8.1f} MiB "
                f"(RSS after imports {run['after_imports'] / MIB:.0f}, before adapt {run['before'] / MIB:.0f} MiB)"
            )
            sys.stdout.flush()
    check_vocabularies(result)
    for name, ok in result.checks.items():
        print(f"  check {name}: {ok}")
    for path in corpus.directory.iterdir():
        path.unlink()
    corpus.directory.rmdir()
    return result


# --------------------------------------------------------------------------
# The core benchmark's 5M-token corpus, from tf.data
# --------------------------------------------------------------------------


def bench_core_tfdata(quick: bool, repeats: int) -> tuple[list[Any], bool]:
    """The two tf.data forms of ``bench_vocab_embedding.py``'s adapt cases, with its own functions."""
    from functools import partial

    import bench_vocab_embedding as core
    import keras
    import tensorflow as tf

    sizes = core.QUICK if quick else core.FULL
    vocab_embedding = core.import_from_package("VocabEmbedding")
    corpus = core.make_corpus(sizes)
    print(f"core corpus: {sizes.corpus_tokens:,} tokens, {len(corpus.expected_vocab) - 1:,} distinct")
    sentences = tf.reshape(corpus.tensor, [-1, sizes.sentence_length])
    warm = min(sizes.corpus_tokens, core.WARMUP_TOKENS)
    forms = [
        (
            f"tf.data batch({sizes.dataset_batch})",
            tf.data.Dataset.from_tensor_slices(corpus.tensor).batch(sizes.dataset_batch),
            tf.data.Dataset.from_tensor_slices(corpus.tensor[:warm]).batch(sizes.dataset_batch),
        ),
        (
            f"tf.data rows of {sizes.sentence_length}, batch({sizes.sentence_batch})",
            tf.data.Dataset.from_tensor_slices(sentences).batch(sizes.sentence_batch),
            tf.data.Dataset.from_tensor_slices(sentences[: warm // sizes.sentence_length]).batch(sizes.sentence_batch),
        ),
    ]
    cases, all_ok = [], True
    for label, data, warm_data in forms:
        base_keep: list[Any] = []
        ours_keep: list[Any] = []
        core.timed_adapt(keras.layers.StringLookup, warm_data, base_keep)
        core.timed_adapt(partial(vocab_embedding, 64), warm_data, ours_keep)
        case = core.CaseResult(
            f"adapt {label} ({sizes.corpus_tokens:,} tok)", float(sizes.corpus_tokens), 1.5, floor_label="one pass"
        )
        core.interleave_case(
            case,
            partial(core.timed_adapt, keras.layers.StringLookup, data, base_keep),
            partial(core.timed_adapt, partial(vocab_embedding, 64), data, ours_keep),
            repeats,
            run_floor=partial(core.timed_read, data),
        )
        core.print_case(case)
        all_ok &= core.check_adapt(base_keep[0], ours_keep[0], corpus.expected_vocab, label)
        cases.append(case)
    return cases, all_ok


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def fmt_count(n: int) -> str:
    return f"{n / 1e6:g}M" if n % 100_000 == 0 else f"{n:,}"


def scaling_table(results: list[SizeResult]) -> str:
    lines = [
        "| tokens | distinct | side | wall s | M tok/s | CPU s | memory growth MiB | vs StringLookup: throughput "
        "| vs StringLookup: memory |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        corpus = result.corpus
        for side in SIDES:
            cpu = result.cpu(side)
            rate_ratio = mem_ratio = "-"
            if side in ("budget", "exact"):
                rate_ratio = f"{result.rate(side) / result.rate('keras'):.2f}x"
                mem_ratio = f"{result.growth(side) / max(result.growth('keras'), 1e-9):.2f}x"
            lines.append(
                f"| {fmt_count(corpus.tokens)} | {corpus.distinct:,} | {LABELS[side]} | {result.wall(side):.2f} "
                f"| {result.rate(side) / 1e6:.2f} | {cpu:.2f} | {result.growth(side):,.0f} | {rate_ratio} "
                f"| {mem_ratio} |"
            )
    return "\n".join(lines)


def targets_table(result: SizeResult) -> str:
    mem = result.growth("budget") / result.growth("keras")
    rate = result.rate("budget") / result.rate("keras")
    top_ok = result.checks["top: budget == exact"] and result.checks["top: exact == independent count"]
    mem_pairs, rate_pairs, cpu_pairs = result.paired("growth"), result.paired("rate"), result.paired("cpu")
    cpu = result.cpu("keras") / result.cpu("budget")
    tokens = fmt_count(result.corpus.tokens)
    return "\n".join(
        [
            "| target (default budget vs StringLookup) | measured | target | pass/fail | per repetition |",
            "|---|---:|---:|:---:|---:|",
            f"| memory growth, {tokens} tokens | {mem:.2f}x | <= 0.33x | {'PASS' if mem <= 1 / 3 else 'FAIL'} "
            f"| {', '.join(f'{p:.2f}' for p in mem_pairs)} |",
            f"| throughput, {tokens} tokens | {rate:.2f}x | >= 1.0x | {'PASS' if rate >= 1.0 else 'FAIL'} "
            f"| {', '.join(f'{p:.2f}' for p in rate_pairs)} |",
            f"| CPU seconds, StringLookup / ours (informational: the wall clock of a shared machine is noisy) "
            f"| {cpu:.2f}x | - | info | {', '.join(f'{p:.2f}' for p in cpu_pairs)} |",
            f"| top-{TOP:,} identical to the exact one | {top_ok} | True | {'PASS' if top_ok else 'FAIL'} | - |",
        ]
    )


def core_table(cases: list[Any]) -> str:
    lines = [
        "| case | StringLookup | ours | ratio | target | pass/fail | paired ratios (min-max) | input alone |",
        "|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for c in cases:
        base, ours = c.throughput(c.base_s) / 1e6, c.throughput(c.ours_s) / 1e6
        floor = c.throughput([t.wall for t in c.floor]) / 1e6
        lines.append(
            f"| {c.name} | {base:.2f} M tok/s | {ours:.2f} M tok/s | {c.ratio:.2f}x | >= {c.target:.1f}x "
            f"| {'PASS' if c.ratio >= c.target else 'FAIL'} | {min(c.paired):.2f}-{max(c.paired):.2f} "
            f"| {floor:.2f} M tok/s |"
        )
    return "\n".join(lines)


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().upper()
        scale = {"K": 1_000, "M": 1_000_000}.get(part[-1:], 1)
        value = int(float(part[:-1] if scale > 1 else part) * scale)
        if value < ROW * BATCH_ROWS // 16:
            raise SystemExit(f"--sizes: {part} is too small; use at least {ROW * BATCH_ROWS // 16:,} tokens")
        sizes.append(value - value % ROW)  # whole rows of ROW tokens
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(
        __doc__, "small sizes, smoke run in a minute or two", "repetitions of each side per size (default 1, quick 1)"
    )
    add_output_option(parser)
    parser.add_argument("--sizes", type=parse_sizes, default=None, help="corpus sizes, e.g. 1M,5M,20M,50M")
    parser.add_argument(
        "--core-repeats", type=int, default=None, help="repetitions of the 5M tf.data comparison (default 9)"
    )
    parser.add_argument(
        "--budget", type=int, default=0, help="budget of the 'default budget' side (default: the layer's default)"
    )
    parser.add_argument("--skip-core", action="store_true", help="skip the 5M-token tf.data comparison")
    parser.add_argument("--skip-scale", action="store_true", help="skip the scaling runs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = command_line()
    sizes = args.sizes or list(QUICK_SIZES if args.quick else FULL_SIZES)
    repeats = args.repeats or 1
    t_start = time.perf_counter()
    results: list[SizeResult] = []
    parts: list[str] = []
    notes: list[str] = []
    if not args.skip_scale:
        with tempfile.TemporaryDirectory(prefix="bench_adapt_scale_") as tmp:
            for tokens in sizes:
                results.append(run_size(tokens, Path(tmp), repeats, args.budget))
        largest = results[-1]
        parts += [
            f"### Targets at {fmt_count(largest.corpus.tokens)} tokens",
            "",
            targets_table(largest),
            "",
            "### Scaling (medians over repetitions)",
            "",
            scaling_table(results),
            "",
        ]
        for result in results:
            checks = "; ".join(f"{name}: {ok}" for name, ok in result.checks.items())
            notes.append(f"- {fmt_count(result.corpus.tokens)} tokens, checks: {checks}")
        first = results[0].runs["keras"][0]
        notes.append(
            f"- RSS after imports ~{first['after_imports'] / MIB:.0f} MiB; growth is measured from the RSS after the "
            "corpus and the input pipeline are built (e.g. "
            + ", ".join(f"{fmt_count(r.corpus.tokens)}: {r.runs['keras'][0]['before'] / MIB:.0f} MiB" for r in results)
            + ")"
        )
    if not args.skip_core:
        core_repeats = args.core_repeats or (3 if args.quick else 9)
        cases, vocab_ok = bench_core_tfdata(args.quick, core_repeats)
        parts += ["### The core benchmark's corpus from tf.data", "", core_table(cases), ""]
        notes.append(
            f"- core corpus: same token set as StringLookup and count-desc/token-asc order: {vocab_ok}; "
            f"{core_repeats} interleaved repetitions"
        )
    if args.budget:
        notes.append(f"- the 'default budget' side ran with budget={args.budget:,}, not the layer's default")
    notes.append(f"- repetitions per side and size: {repeats}; wall time {time.perf_counter() - t_start:.0f} s")
    intro = (
        "Memory growth = peak RSS (VmHWM) during `adapt` - RSS before it, after the imports, the corpus and the "
        "input pipeline, each side in its own fresh subprocess. Input for every side: a `tf.data.Dataset` of "
        f"({BATCH_ROWS}, {ROW}) tf.string batches gathered in the graph from an in-memory Zipf (s={ZIPF_S}) corpus "
        f"whose pool gives ~{DISTINCT_SHARE:.0%} distinct tokens. Ratios: ours / StringLookup (throughput: higher "
        "is better; memory: lower is better)."
    )
    libraries = [
        f"- numpy: {dist_version('numpy')}; tensorflow: {dist_version('tensorflow')}; keras: {dist_version('keras')}",
        f"- memory: {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.1f} GiB; load average "
        f"at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
    ]
    machine = machine_info(libraries, package_info(_package_importable()))
    text = markdown_report(
        "adapt at corpus scale (issue 13)", intro, "\n".join(parts).rstrip(), notes, machine, command
    )
    emit_report(text, args.output)


def _package_importable() -> bool:
    try:
        import keras_vocabsafe  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
