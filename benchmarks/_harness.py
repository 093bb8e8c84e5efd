"""What the benchmark scripts in this folder share.

``bench_vocab_embedding.py``, ``bench_pretrained.py`` and ``bench_serving.py``
import it with ``from _harness import ...``: running a script as ``python
benchmarks/<script>.py`` puts this folder on ``sys.path``. It holds:

- importing ``keras_vocabsafe``, from the checkout when it is not installed;
- the synthetic data: distinct pseudo-words, bounded-Zipf ranks, and Zipf
  token streams with a share of out-of-vocabulary tokens;
- the wall/CPU clock and the interleaving of timed runs (the order of the
  sides flips every repetition);
- the machine description, the options every script has (``--quick``,
  ``--repeats``, ``--output``) and the layout of the markdown report.

It imports neither TensorFlow nor Keras, so that each script can set
``TF_CPP_MIN_LOG_LEVEL`` before they load (and ``bench_pretrained.py`` need not
load them at all).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
# The environment of a benchmark's child processes: TensorFlow quiet, and this checkout imported first.
CHILD_ENV = {
    **os.environ,
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
}
PACKAGE = "keras_vocabsafe"

# --------------------------------------------------------------------------
# Importing the package under test
# --------------------------------------------------------------------------


def import_package() -> ModuleType:
    """Import ``keras_vocabsafe``; if it is not installed, from the checkout (raises ImportError if that fails too)."""
    try:
        return importlib.import_module(PACKAGE)
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT))
        return importlib.import_module(PACKAGE)


def import_from_package(name: str) -> Any | None:
    """``from keras_vocabsafe import <name>`` (as :func:`import_package`); None, with a note, if that fails."""
    try:
        package = import_package()
        if hasattr(package, name):
            return getattr(package, name)
        return importlib.import_module(f"{PACKAGE}.{name}")
    except ImportError as exc:
        print(f"! keras_vocabsafe not importable ({exc}); baseline only.")
        return None


# --------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------


def make_words(n: int, rng: np.random.Generator, suffixes: Sequence[str] = ()) -> list[str]:
    """Return ``n`` distinct pseudo-words of 3-12 lowercase ASCII letters.

    With ``suffixes``, about one word in 20 ends in one of them (one more
    draw from ``rng`` per candidate word); without, no such draw is made.
    """
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    words: dict[str, None] = {}
    while len(words) < n:
        m = 2 * (n - len(words)) + 1_000
        lengths = rng.integers(3, 13, size=m)
        chars = letters[rng.integers(0, 26, size=(m, 12))]
        picks = rng.integers(0, 20 * len(suffixes), size=m) if suffixes else np.full(m, len(suffixes))
        for row, length, pick in zip(chars, lengths, picks, strict=True):
            word = row[:length].tobytes().decode("ascii")
            if pick < len(suffixes):
                word += suffixes[pick]
            words.setdefault(word)
            if len(words) == n:
                break
    return list(words)


def zipf_ranks(n_items: int, size: int, s: float, rng: np.random.Generator) -> np.ndarray:
    """Sample ``size`` ranks in ``[0, n_items)`` from a bounded Zipf law."""
    weights = np.arange(1, n_items + 1, dtype=np.float64) ** -s
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(ranks, n_items - 1)


def vocabulary_and_oov(vocab_size: int, oov_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A vocabulary of ``vocab_size`` pseudo-words (in rank order) and ``oov_size`` other words."""
    words = make_words(vocab_size + oov_size, rng)
    return np.asarray(words[:vocab_size]), np.asarray(words[vocab_size:])


def zipf_tokens(
    vocab: np.ndarray, oov_pool: np.ndarray, n: int, s: float, oov_rate: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Zipf-distributed tokens of ``vocab`` (object array), each replaced from ``oov_pool`` with
    probability ``oov_rate``; and the mask of the replaced ones."""
    tokens = vocab[zipf_ranks(len(vocab), n, s, rng)].astype(object)
    oov_mask = rng.random(n) < oov_rate
    tokens[oov_mask] = oov_pool[rng.integers(0, len(oov_pool), oov_mask.sum())]
    return tokens, oov_mask


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    wall: float  # time.perf_counter seconds
    cpu: float  # process CPU seconds, all threads (time.process_time)


def start_clock() -> Timing:
    """The current wall and process CPU clocks (pass to :func:`stop_clock`)."""
    return Timing(time.perf_counter(), time.process_time())


def stop_clock(start: Timing) -> Timing:
    """Wall and CPU seconds since ``start``."""
    return Timing(time.perf_counter() - start.wall, time.process_time() - start.cpu)


# One side of a comparison: where its timings go, a timed run, and how many repetitions it gets.
InterleavedSide: TypeAlias = tuple[list[Timing], Callable[[], Timing], int]


def interleave(sides: Sequence[InterleavedSide], repeats: int) -> None:
    """Alternate the sides (each up to its own repetition count); the order flips each repetition.

    Python's garbage collector runs before each timed run.
    """
    for i in range(repeats):
        runs = [(sink, run) for sink, run, count in sides if i < count]
        if i % 2:
            runs.reverse()
        for sink, run in runs:
            gc.collect()
            sink.append(run())


def fmt_timings(timings: list[Timing], digits: int) -> str:
    """``wall/cpu`` seconds of each run, with ``digits`` decimals."""
    return " ".join(f"{t.wall:.{digits}f}/{t.cpu:.{digits}f}" for t in timings)


# --------------------------------------------------------------------------
# Machine description
# --------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


def dist_version(dist: str) -> str:
    """The installed version of distribution ``dist``, or "not installed"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def package_info(imported: bool) -> str:
    """``keras_vocabsafe`` version and folder, or "not importable"."""
    if not imported:
        return "not importable"
    module = sys.modules.get(PACKAGE)
    return f"{getattr(module, '__version__', 'unknown')} ({Path(getattr(module, '__file__', '?')).parent})"


def machine_info(libraries: list[str], package: str, nproc_extra: str = "") -> list[str]:
    """Markdown list: platform, CPU, nproc (+ ``nproc_extra``), Python, ``libraries`` lines, keras_vocabsafe."""
    return [
        f"- platform: {platform.platform()}",
        f"- cpu: {cpu_model()}",
        f"- nproc: {nproc()}{nproc_extra}",
        f"- python: {platform.python_version()}",
        *libraries,
        f"- keras_vocabsafe: {package}",
    ]


# --------------------------------------------------------------------------
# Command line and report
# --------------------------------------------------------------------------


def bench_parser(
    doc: str, quick_help: str, repeats_help: str, repeats_default: int | None = None
) -> argparse.ArgumentParser:
    """A parser described by the first line of ``doc``, with ``--quick`` and ``--repeats``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--repeats", type=int, default=repeats_default, help=repeats_help)
    return parser


def add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=None, help="write the markdown report here")


def command_line() -> str:
    """This run's command, for the report."""
    return shlex.join([Path(sys.executable).name, *sys.argv])


def markdown_report(title: str, intro: str, table: str, notes: list[str], machine: list[str], command: str) -> str:
    """The report: title, intro paragraph, table, notes, then the machine and the command."""
    parts = [
        f"## {title}",
        "",
        intro,
        "",
        table,
        "",
        *notes,
        "",
        "### Machine",
        *machine,
        "",
        "### Command",
        f"`{command}`",
    ]
    return "\n".join(parts) + "\n"


def emit_report(text: str, output: Path | None) -> None:
    """Print the report after a blank line, and write it to ``output`` if given."""
    print()
    print(text)
    if output is not None:
        output.write_text(text)
        print(f"wrote {output}")
