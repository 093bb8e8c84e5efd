"""Benchmark ``keras_vocabsafe.pretrained`` (``load_vectors``, ``align_vectors``) against gensim.

What it measures, in one run, on files it generates into a temporary
directory (fixed seed): 200,000 distinct pseudo-words (about 5% carry a
non-ASCII letter) with 300-dimensional vectors, written as a GloVe text file
(``word v1 ... v300``, no header, values like ``-0.03819`` with five decimals,
as real GloVe files; about 510 MB) and as a word2vec binary file of the same
vectors (``count dim`` header, then ``word`` + space + 300 little-endian
float32, the layout gensim's ``save_word2vec_format(binary=True)`` writes).

1. Full load of the GloVe text file: ``load_vectors(path)`` vs gensim's
   ``KeyedVectors.load_word2vec_format(path, binary=False, no_header=True)``;
   target: ours at least 10x faster. ``numpy.loadtxt`` (two passes: the float
   columns with ``usecols=range(1, dim + 1)``, then the word column as ``str``)
   is timed alongside as a floor reference (its ratio is reported, no target).
   The script asserts that ours and gensim give the same words in the same
   order and equal vectors (``assert_allclose``, rtol 1e-6), and that ours
   matches the generated values, and prints the result.
2. Aligning the GloVe file to a 20,000-token vocabulary (18,000 words sampled
   from the file, 2,000 words not in it, shuffled) with ``align_vectors(path,
   tokens, match=("exact",))``, each repetition in a fresh subprocess that
   records ``ru_maxrss`` right after its imports (baseline) and after
   ``align_vectors`` (peak). Target: peak - baseline < 2 x the aligned matrix
   (20,000 x 300 float32 = 24 MB). The alignment time is reported next to
   gensim's (full load, as in case 1, plus picking the 20,000 rows). The
   first repetition's aligned rows are checked against the generated values.
3. Full load of the word2vec binary file: ``load_vectors(bin_path)`` vs
   ``load_word2vec_format(bin_path, binary=True)``, with the same equality
   check; the ratio is reported (no fixed target).

Timings are wall-clock seconds (``time.perf_counter``) with process CPU
seconds alongside (including finished child processes': ``load_vectors``
parses large text files partly in a worker process); the sides of a case alternate within each repetition and
the order flips every repetition. The table reports medians over repetitions,
ratio = baseline seconds / ours seconds (higher is better for us; for memory,
ours / aligned-matrix size, lower is better), the target, the range of the
per-repetition paired ratios as a noise indicator and the CPU-time ratio.
gensim's text load takes 65-100 s on a shared 2-core machine, so by default
it gets 2 repetitions in the full run (``--gensim-repeats``); the other sides
get ``--repeats`` (default 3). The medians of the side with fewer repetitions
are over its own runs; paired ratios use the repetitions both sides ran.

Run from the repository root (``pip install gensim`` first; it is only a
benchmark/test dependency)::

    python benchmarks/bench_pretrained.py            # full run, ~4-6 min on 2 cores
    python benchmarks/bench_pretrained.py --quick    # 20,000 x 50, seconds
    python benchmarks/bench_pretrained.py --repeats 5 --gensim-repeats 3 --output bench.md

If ``keras_vocabsafe`` cannot be imported, only the baseline side runs.
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
import time
from collections.abc import Callable
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
    start_clock,
    stop_clock,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

SEED = 20240502
MB = 1e6


def import_gensim_keyed_vectors() -> Any:
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        sys.exit("gensim is needed for the comparison: pip install gensim")
    return KeyedVectors


# --------------------------------------------------------------------------
# Sizes and data generation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``QUICK`` is a scaled-down smoke configuration."""

    rows: int = 200_000
    dim: int = 300
    align_tokens: int = 20_000
    absent_fraction: float = 0.10
    write_rows: int = 16_384  # rows formatted per step while writing the files


FULL = Sizes()
QUICK = Sizes(rows=20_000, dim=50, align_tokens=2_000)

NON_ASCII = ("é", "ß", "ø", "ж", "ñ", "語", "ç")


def format_values(units: np.ndarray) -> np.ndarray:
    """Fixed 9-byte fields ``' ' sign d '.' ddddd`` for values in 1e-5 units (|v| < 10).

    The sign byte is 0 for non-negative values; zero bytes are removed later,
    which leaves GloVe's variable-width ``0.12345`` / ``-0.12345`` spelling.
    """
    m, dim = units.shape
    out = np.zeros((m, dim, 9), dtype=np.uint8)
    out[..., 0] = ord(" ")
    out[..., 1] = np.where(units < 0, ord("-"), 0)
    magnitude = np.abs(units)
    out[..., 2] = magnitude // 100_000 + ord("0")
    out[..., 3] = ord(".")
    for k in range(5):
        out[..., 8 - k] = (magnitude // 10**k) % 10 + ord("0")
    return out.reshape(m, dim * 9)


@dataclass
class Files:
    glove: Path
    binary: Path
    words: list[str]
    vectors: np.ndarray  # float32 (rows, dim): the values the files spell
    absent: list[str]  # words not in the files, for the alignment vocabulary


def write_files(sizes: Sizes, directory: Path) -> Files:
    """Write the GloVe text and word2vec binary files of the same vectors."""
    rng = np.random.default_rng([SEED, 1])
    n_absent = round(sizes.align_tokens * sizes.absent_fraction)
    all_words = make_words(sizes.rows + n_absent, rng, NON_ASCII)  # ~5% end in a non-ASCII letter
    words, absent = all_words[: sizes.rows], all_words[sizes.rows :]
    encoded = [w.encode("utf-8") for w in words]
    width = max(len(w) for w in encoded)
    vectors = np.empty((sizes.rows, sizes.dim), dtype=np.float32)
    glove = directory / f"glove_{sizes.rows}x{sizes.dim}.txt"
    binary = directory / f"word2vec_{sizes.rows}x{sizes.dim}.bin"
    with open(glove, "wb") as text_out, open(binary, "wb") as bin_out:
        bin_out.write(f"{sizes.rows} {sizes.dim}\n".encode("ascii"))
        for start in range(0, sizes.rows, sizes.write_rows):
            stop = min(start + sizes.write_rows, sizes.rows)
            units = np.rint(rng.normal(0.0, 0.4, size=(stop - start, sizes.dim)) * 1e5)
            units = np.clip(units, -999_999, 999_999).astype(np.int32)
            block = (units / 1e5).astype(np.float32)
            vectors[start:stop] = block
            word_bytes = np.array(encoded[start:stop], dtype=f"S{width}").view(np.uint8).reshape(stop - start, width)
            newline = np.full((stop - start, 1), ord("\n"), dtype=np.uint8)
            lines = np.hstack([word_bytes, format_values(units), newline])
            text_out.write(lines[lines != 0].tobytes())
            little = block.astype("<f4")
            bin_out.write(
                b"".join(w + b" " + row.tobytes() for w, row in zip(encoded[start:stop], little, strict=True))
            )
    return Files(glove, binary, words, vectors, absent)


def align_vocabulary(files: Files, sizes: Sizes) -> tuple[list[str], np.ndarray]:
    """Tokens to align (present words plus absent ones, shuffled) and each token's file row (-1: absent)."""
    rng = np.random.default_rng([SEED, 2])
    n_present = sizes.align_tokens - len(files.absent)
    rows = rng.choice(sizes.rows, size=n_present, replace=False)
    tokens = [files.words[i] for i in rows] + files.absent
    file_rows = np.concatenate([rows, np.full(len(files.absent), -1)])
    order = rng.permutation(len(tokens))
    return [tokens[i] for i in order], file_rows[order]


# --------------------------------------------------------------------------
# Timing harness
# --------------------------------------------------------------------------


def children_cpu() -> float:
    """CPU seconds of this process's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], Any], keep: list[Any]) -> Timing:
    """Time ``fn()``; its result goes into ``keep`` if ``keep`` is empty (first run), else is dropped.

    Runs under :func:`interleave`, which collects garbage just before.
    """
    children = children_cpu()
    start = start_clock()
    result = fn()
    elapsed = stop_clock(start)
    # load_vectors parses large text files partly in a worker process: its CPU counts as ours.
    elapsed = Timing(elapsed.wall, elapsed.cpu + children_cpu() - children)
    if not keep:
        keep.append(result)
    del result
    return elapsed


@dataclass
class CaseResult:
    name: str
    target: str  # e.g. ">= 10.0x", "< 2.0x" or "-" (informational)
    base: list[Timing] = field(default_factory=list)
    ours: list[Timing] = field(default_factory=list)
    unit: str = "s"

    def median(self, timings: list[Timing]) -> float:
        return statistics.median(t.wall for t in timings)

    @property
    def ratio(self) -> float | None:
        """Baseline seconds / ours seconds (higher is better for us)."""
        if not self.ours or not self.base:
            return None
        return self.median(self.base) / self.median(self.ours)

    @property
    def paired(self) -> list[float]:
        return [b.wall / o.wall for b, o in zip(self.base, self.ours, strict=False)]

    def cpu_ratio(self) -> float | None:
        if not self.ours or not self.base:
            return None
        return statistics.median(t.cpu for t in self.base) / statistics.median(t.cpu for t in self.ours)

    def verdict(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "n/a"
        if self.target.startswith(">="):
            return "PASS" if ratio >= float(self.target[2:].strip(" x")) else "FAIL"
        return "info"


def print_case(case: CaseResult, base_label: str, ours_label: str = "ours") -> None:
    line = f"  {case.name}: {base_label} {case.median(case.base):.2f} s"
    if case.ours:
        line += f", {ours_label} {case.median(case.ours):.2f} s, ratio {case.ratio:.2f}x"
        line += f", CPU-time ratio {case.cpu_ratio():.2f}x"
    print(line)
    print(f"    wall/cpu s per repeat, {base_label}: {fmt_timings(case.base, 2)}")
    if case.ours:
        print(f"    wall/cpu s per repeat, {ours_label}: {fmt_timings(case.ours, 2)}")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def check_same(label: str, ours: Any, kv: Any, expected: np.ndarray, exact: bool) -> bool:
    """Ours vs gensim: same words in the same order and equal vectors; ours vs the generated values."""
    ours_words = [w.decode("utf-8") for w in ours.vocabulary.tokens]
    same_words = ours_words == list(kv.index_to_key)
    print(f"  {label}: same {len(ours_words):,} words in the same order as gensim: {same_words}")
    assert same_words, "words differ from gensim's"
    assert ours.vectors.dtype == np.float32 and ours.vectors.shape == kv.vectors.shape, (
        ours.vectors.dtype,
        ours.vectors.shape,
        kv.vectors.shape,
    )
    np.testing.assert_allclose(ours.vectors, kv.vectors, rtol=1e-6, atol=0)
    identical = bool(np.array_equal(ours.vectors, kv.vectors))
    print(f"  {label}: vectors equal to gensim's (assert_allclose rtol 1e-6): True; bit-identical: {identical}")
    np.testing.assert_allclose(ours.vectors, expected, rtol=1e-6, atol=0)
    print(f"  {label}: vectors equal to the generated values (rtol 1e-6): True")
    if exact:
        assert identical, "binary vectors should be bit-identical"
    return same_words


def check_loadtxt(result: tuple[np.ndarray, np.ndarray], words: list[str], expected: np.ndarray) -> None:
    values, loaded_words = result
    same = loaded_words.tolist() == words
    np.testing.assert_allclose(values, expected, rtol=1e-6, atol=0)
    print(f"  numpy.loadtxt: same words: {same}; vectors equal to the generated values (rtol 1e-6): True")
    assert same


# --------------------------------------------------------------------------
# Cases 1 and 3: full loads
# --------------------------------------------------------------------------


def loadtxt_both(path: Path, dim: int) -> tuple[np.ndarray, np.ndarray]:
    values = np.loadtxt(
        path, dtype=np.float32, delimiter=" ", comments=None, usecols=range(1, dim + 1), encoding="utf-8"
    )
    words = np.loadtxt(path, dtype=str, delimiter=" ", comments=None, usecols=0, encoding="utf-8")
    return values, words


@dataclass
class LoadResults:
    cases: list[CaseResult]
    gensim_seconds: float  # median gensim text load, for the alignment comparison
    gensim_pick_seconds: float  # picking the aligned rows out of gensim's KeyedVectors
    checks_ok: bool


def bench_text_load(
    files: Files,
    sizes: Sizes,
    pretrained: Any | None,
    key_vectors: Any,
    tokens: list[str],
    repeats: int,
    gensim_repeats: int,
) -> LoadResults:
    path = files.glove
    size_mb = path.stat().st_size / MB
    shape = f"{sizes.rows:,} x {sizes.dim}, {size_mb:.0f} MB"
    keep_gensim: list[Any] = []
    keep_ours: list[Any] = []
    keep_loadtxt: list[Any] = []
    case = CaseResult(f"GloVe text load ({shape}) vs gensim", ">= 10.0x")
    floor = CaseResult(f"GloVe text load ({shape}) vs numpy.loadtxt (2 passes), floor reference", "-")
    sides: list[InterleavedSide] = [
        (
            case.base,
            lambda: timed(
                lambda: key_vectors.load_word2vec_format(str(path), binary=False, no_header=True), keep_gensim
            ),
            gensim_repeats,
        ),
        (floor.base, lambda: timed(lambda: loadtxt_both(path, sizes.dim), keep_loadtxt), repeats),
    ]
    if pretrained is not None:
        sides.insert(1, (case.ours, lambda: timed(lambda: pretrained.load_vectors(path), keep_ours), repeats))
    interleave(sides, max(repeats, gensim_repeats))
    floor.ours = case.ours
    print_case(case, "gensim")
    print_case(floor, "numpy.loadtxt")

    kv = keep_gensim[0]
    start = time.perf_counter()
    picked = np.zeros((len(tokens), kv.vector_size), dtype=np.float32)
    for i, token in enumerate(tokens):
        row = kv.key_to_index.get(token)
        if row is not None:
            picked[i] = kv.vectors[row]
    pick_seconds = time.perf_counter() - start

    check_loadtxt(keep_loadtxt[0], files.words, files.vectors)
    ok = True
    if pretrained is not None:
        ok = check_same("GloVe text", keep_ours[0], kv, files.vectors, exact=False)
    return LoadResults([case, floor], case.median(case.base), pick_seconds, ok)


def bench_binary_load(
    files: Files, sizes: Sizes, pretrained: Any | None, key_vectors: Any, repeats: int
) -> tuple[CaseResult, bool]:
    path = files.binary
    shape = f"{sizes.rows:,} x {sizes.dim}, {path.stat().st_size / MB:.0f} MB"
    keep_gensim: list[Any] = []
    keep_ours: list[Any] = []
    case = CaseResult(f"word2vec binary load ({shape}) vs gensim", "-")
    sides: list[InterleavedSide] = [
        (
            case.base,
            lambda: timed(lambda: key_vectors.load_word2vec_format(str(path), binary=True), keep_gensim),
            repeats,
        )
    ]
    if pretrained is not None:
        sides.append((case.ours, lambda: timed(lambda: pretrained.load_vectors(path), keep_ours), repeats))
    interleave(sides, repeats)
    print_case(case, "gensim")
    ok = True
    if pretrained is not None:
        assert keep_ours[0].format == "word2vec_binary", keep_ours[0].format
        ok = check_same("word2vec binary", keep_ours[0], keep_gensim[0], files.vectors, exact=True)
    return case, ok


# --------------------------------------------------------------------------
# Case 2: alignment peak memory, in fresh subprocesses
# --------------------------------------------------------------------------

ALIGN_CHILD = r"""
import json, resource, sys, time

from keras_vocabsafe.pretrained import align_vectors
import numpy as np


def maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1


after_imports = maxrss()
rss_after_imports, hwm_after_imports = status("VmRSS"), status("VmHWM")
path, tokens_path, save_path = sys.argv[1:4]
with open(tokens_path, encoding="utf-8") as f:
    tokens = json.load(f)
after_tokens = maxrss()
cpu, wall = time.process_time(), time.perf_counter()
aligned = align_vectors(path, tokens, match=("exact",))
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak, hwm_peak = maxrss(), status("VmHWM")
if save_path:
    np.save(save_path + ".vectors.npy", aligned.vectors)
    np.save(save_path + ".found.npy", aligned.found)
print(json.dumps({
    "after_imports": after_imports, "rss_after_imports": rss_after_imports, "hwm_after_imports": hwm_after_imports,
    "after_tokens": after_tokens, "peak": peak, "hwm_peak": hwm_peak, "wall": wall, "cpu": cpu,
    "found": int(aligned.found.sum()), "shape": list(aligned.vectors.shape), "report": aligned.report.to_dict(),
}))
"""

# The child runs as a forked child of /bin/sh, not exec'd straight from this process: on Linux, a process
# exec'd from a vfork/fork of this one starts with this process's ru_maxrss high-water mark (the kernel
# carries the pre-exec memory's peak into the new program's rusage), which would hide the child's own
# peak under ours (hundreds of MB here). `sh -c '"$@"; exit $?'` forks a fresh child instead of exec'ing.
SPAWN_FRESH = ["/bin/sh", "-c", '"$@"; exit $?', "sh"]


def run_align_child(path: Path, tokens_path: Path, save_path: str) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [*SPAWN_FRESH, sys.executable, "-c", ALIGN_CHILD, str(path), str(tokens_path), save_path],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stderr)
        raise RuntimeError(f"alignment subprocess failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def growth_mb(run: dict[str, Any]) -> float:
    """Peak RSS growth in MB: ru_maxrss after align_vectors - ru_maxrss right after the imports."""
    return (run["peak"] - run["after_imports"]) / MB


@dataclass
class AlignResults:
    runs: list[dict[str, Any]]
    matrix_bytes: int
    checks_ok: bool

    def growth(self, run: dict[str, Any]) -> float:
        return growth_mb(run)

    def hidden_headroom(self, run: dict[str, Any]) -> float:
        """MB by which the baseline high-water mark exceeds the RSS then (growth up to it would not show)."""
        return (run["after_imports"] - run["rss_after_imports"]) / MB


def bench_align(files: Files, tokens: list[str], file_rows: np.ndarray, directory: Path, repeats: int) -> AlignResults:
    tokens_path = directory / "align_tokens.json"
    tokens_path.write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    save = directory / "aligned"
    runs = []
    for i in range(repeats):
        gc.collect()
        run = run_align_child(files.glove, tokens_path, str(save) if i == 0 else "")
        runs.append(run)
        print(
            f"    repeat {i + 1}: ru_maxrss after imports {run['after_imports'] / MB:.1f} MB "
            f"(VmRSS {run['rss_after_imports'] / MB:.1f}, VmHWM {run['hwm_after_imports'] / MB:.1f}), "
            f"after reading the tokens {run['after_tokens'] / MB:.1f} MB, after align {run['peak'] / MB:.1f} MB "
            f"(VmHWM {run['hwm_peak'] / MB:.1f}): growth {growth_mb(run):.1f} MB; "
            f"align {run['wall']:.2f} s wall / {run['cpu']:.2f} s CPU; found {run['found']:,}"
        )
        sys.stdout.flush()
        if abs(run["after_imports"] - run["hwm_after_imports"]) > 4 * MB:
            print("    ! ru_maxrss differs from VmHWM after imports: the baseline may be inherited, growth unreliable")
    vectors = np.load(str(save) + ".vectors.npy")
    found = np.load(str(save) + ".found.npy")
    present = file_rows >= 0
    same_found = bool(np.array_equal(found, present))
    np.testing.assert_allclose(vectors[present], files.vectors[file_rows[present]], rtol=1e-6, atol=0)
    zeros = not vectors[~present].any()
    print(
        f"  align: found mask as expected ({int(present.sum()):,} present, {int((~present).sum()):,} absent): "
        f"{same_found}; rows equal to the generated values (rtol 1e-6): True; absent rows zero: {zeros}"
    )
    assert same_found and zeros
    report = runs[0]["report"]
    print(f"  align report: found {report['found']:,} of {report['total']:,}, coverage {report['coverage']:.2%}")
    return AlignResults(runs, int(vectors.nbytes), same_found and zeros)


def align_cases(align: AlignResults, loads: LoadResults, sizes: Sizes) -> list[CaseResult]:
    """Express the alignment figures as table rows."""
    matrix_mb = align.matrix_bytes / MB
    memory = CaseResult(
        f"align to {sizes.align_tokens:,} tokens: peak RSS growth vs aligned matrix ({matrix_mb:.1f} MB)",
        "< 2.0x",
        unit="MB",
    )
    timing = CaseResult(
        f"align to {sizes.align_tokens:,} tokens: time vs gensim full load + picking rows",
        "-",
    )
    timing.base = [Timing(loads.gensim_seconds + loads.gensim_pick_seconds, float("nan"))]
    timing.ours = [Timing(run["wall"], run["cpu"]) for run in align.runs]
    return [memory, timing]


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def markdown_table(cases: list[CaseResult], align: AlignResults | None) -> str:
    lines = [
        "| case | baseline median | ours median | ratio | target | pass/fail "
        "| paired ratios (min-max) | CPU-time ratio |",
        "|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for c in cases:
        if c.unit == "MB":
            assert align is not None
            growths = [align.growth(run) for run in align.runs]
            matrix_mb = align.matrix_bytes / MB
            ratio = statistics.median(growths) / matrix_mb
            verdict = "PASS" if ratio < 2.0 else "FAIL"
            lines.append(
                f"| {c.name} | {matrix_mb:.1f} MB (matrix) | {statistics.median(growths):.1f} MB | {ratio:.2f}x "
                f"| {c.target} | {verdict} | {min(growths) / matrix_mb:.2f}-{max(growths) / matrix_mb:.2f} | n/a |"
            )
            continue
        base = f"{c.median(c.base):.2f} s"
        if c.ratio is None:
            lines.append(f"| {c.name} | {base} | n/a | n/a | {c.target} | n/a | n/a | n/a |")
            continue
        paired = c.paired
        spread = f"{min(paired):.2f}-{max(paired):.2f}" if len(c.base) > 1 else "n/a"
        cpu = c.cpu_ratio()
        cpu_text = "n/a" if cpu is None or np.isnan(cpu) else f"{cpu:.2f}x"
        lines.append(
            f"| {c.name} | {base} | {c.median(c.ours):.2f} s | {c.ratio:.2f}x | {c.target} | {c.verdict()} "
            f"| {spread} | {cpu_text} |"
        )
    return "\n".join(lines)


def memory_total() -> str:
    """MemTotal from /proc/meminfo, or "unknown"."""
    try:
        return next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        return "unknown"


def report(
    cases: list[CaseResult], align: AlignResults | None, pretrained: Any | None, command: str, notes: list[str]
) -> str:
    intro = (
        "Medians (wall clock) over interleaved repetitions; ratio = baseline seconds / ours seconds (higher is "
        "better), except for memory: ours / aligned-matrix size (lower is better). Pass/fail compares the ratio "
        "with the target; '-' = informational. Paired ratios: per repetition, baseline seconds / ours seconds "
        "(for memory: per-run growth / matrix). CPU-time ratio: median process CPU seconds, baseline / ours."
    )
    libraries = [
        f"- numpy: {np.__version__}; gensim: {dist_version('gensim')}; scipy: {dist_version('scipy')}",
        f"- tensorflow: {dist_version('tensorflow')}; keras: {dist_version('keras')}",
    ]
    machine = machine_info(libraries, package_info(pretrained is not None), f"; memory: {memory_total()}")
    return markdown_report("Pretrained vectors benchmark", intro, markdown_table(cases, align), notes, machine, command)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(
        __doc__, "20,000 x 50 files, smoke run in seconds", "interleaved repetitions per case (default 3)", 3
    )
    parser.add_argument(
        "--gensim-repeats",
        type=int,
        default=None,
        help="repetitions of gensim's slow text load (default: 2 in the full run, --repeats with --quick)",
    )
    add_output_option(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = command_line()
    sizes = QUICK if args.quick else FULL
    repeats = max(1, args.repeats)
    gensim_repeats = args.gensim_repeats or (repeats if args.quick else min(repeats, 2))
    pretrained = import_from_package("pretrained")
    key_vectors = import_gensim_keyed_vectors()
    t_start = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="bench_pretrained_") as tmp:
        directory = Path(tmp)
        files = write_files(sizes, directory)
        tokens, file_rows = align_vocabulary(files, sizes)
        print(
            f"generated in {time.perf_counter() - t_start:.1f} s: {files.glove.name} "
            f"({files.glove.stat().st_size / MB:.0f} MB), {files.binary.name} "
            f"({files.binary.stat().st_size / MB:.0f} MB); "
            f"alignment vocabulary {len(tokens):,} tokens, {int((file_rows < 0).sum()):,} not in the file"
        )
        sys.stdout.flush()

        print(f"1. GloVe text load (gensim {gensim_repeats} repeats, others {repeats})")
        loads = bench_text_load(files, sizes, pretrained, key_vectors, tokens, repeats, gensim_repeats)
        cases = list(loads.cases)
        align = None
        if pretrained is not None:
            print(f"2. align to {len(tokens):,} tokens, {repeats} fresh subprocesses")
            align = bench_align(files, tokens, file_rows, directory, repeats)
        print("3. word2vec binary load")
        binary_case, binary_ok = bench_binary_load(files, sizes, pretrained, key_vectors, repeats)

    if align is not None:
        cases[2:2] = align_cases(align, loads, sizes)
    cases.append(binary_case)

    notes = [
        f"- files: {sizes.rows:,} distinct words (~5% with a non-ASCII letter) x {sizes.dim} dims, "
        "values N(0, 0.4) written with 5 decimals; binary = same vectors, gensim's word2vec binary layout",
        f"- repeats: {repeats}; gensim text load: {gensim_repeats} (fewer: {loads.gensim_seconds:.0f} s each)",
    ]
    if args.quick:
        notes.append("- --quick: smoke sizes; the memory target is meant for the full size (fixed buffers dominate)")
    if pretrained is not None:
        notes.append(
            "- equality: ours vs gensim (text and binary) same words in the same order and vectors equal "
            f"(rtol 1e-6): {loads.checks_ok and binary_ok}; binary vectors bit-identical: {binary_ok}"
        )
    if align is not None:
        run = align.runs[0]
        notes += [
            "- align memory: each run is a fresh `python -c` subprocess (forked by `/bin/sh`, so that it does not "
            "inherit this process's ru_maxrss); growth = ru_maxrss after `align_vectors` - ru_maxrss right after "
            "`from keras_vocabsafe.pretrained import align_vectors` (that import loads TensorFlow: "
            f"{run['after_imports'] / MB:.0f} MB). The growth includes reading the {sizes.align_tokens:,}-token "
            f"JSON list (+{(run['after_tokens'] - run['after_imports']) / MB:.1f} MB of ru_maxrss). The baseline "
            f"high-water mark exceeded the RSS at that point by {max(0.0, align.hidden_headroom(run)):.1f} MB "
            "(growth below that would not show); VmHWM-based growth: "
            f"{(run['hwm_peak'] - run['hwm_after_imports']) / MB:.1f} MB.",
            f"- align time: baseline = gensim text load median ({loads.gensim_seconds:.1f} s, from case 1) + "
            f"picking the {sizes.align_tokens:,} rows from the KeyedVectors ({loads.gensim_pick_seconds:.3f} s)",
        ]
    notes.append(f"- wall time of the whole run: {time.perf_counter() - t_start:.0f} s")

    emit_report(report(cases, align, pretrained, command, notes), args.output)


if __name__ == "__main__":
    main()
