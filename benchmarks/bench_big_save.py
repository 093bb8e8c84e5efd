"""Save and load a 10,000,000 x 64 `VocabEmbedding` model vs the Keras pair: time and peak memory.

Two models over the same vocabulary of distinct pseudo-words (fixed seed,
3-12 lowercase letters), float32 rows of ``--dim`` (64):

- ours: ``VocabEmbedding(dim, vocabulary=tokens)`` on a string ``keras.Input``;
- keras: ``StringLookup(vocabulary=tokens)`` feeding ``Embedding(rows + 1, dim)``
  (Keras's own layers: the vocabulary sits in the lookup's config and in
  its ``assets/vocabulary.txt``).

Every measurement runs in a fresh subprocess, so its peak RSS is its own;
within a process the peak is reset (``/proc/self/clear_refs``) before each
phase, so each phase's peak is read from ``VmHWM`` on its own:

- save: read the tokens, build the model (weights created), then
  ``model.save()``: build and save seconds, peak RSS of each, file size;
  the vectors of a few tokens are kept for the load check;
- load: ``keras.saving.load_model()`` in a process that has imported Keras
  and the package: seconds, peak RSS, and how much of the time went to the
  lookup layer's ``from_config`` (the vocabulary), to the weights
  (``load_own_variables``) and to the assets (``load_assets``); the loaded
  model must give the saved vectors. Its phases are also measured apart
  (nested, each keeping the peak seen before its own reset): the model
  rebuilt from its config (every layer built), the embedding layer's
  ``build`` within it, and the saved state restored;
- parse: ``config.json`` read from the ``.keras`` zip and ``json.loads``-ed,
  then the lookup layer's ``from_config`` alone (for ours also the
  ``Vocabulary`` rebuilt from the config list, apart).

Peaks are given in MiB above the process's resident size when the phase
starts, and as a multiple of one matrix (``rows * dim * 4`` bytes). The
sides alternate, and their order flips every repetition.

Run from the repository root::

    python benchmarks/bench_big_save.py --rows 1000000 --repeats 2      # ~4 min on a quiet machine
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/bench_big_save.py --repeats 1 --output /tmp/big.md
        # 10,000,000 rows: ~8 min and ~11 GiB free memory (with oneDNN on, TensorFlow's allocator keeps the
        # initializer's temporaries and a load needs ~15 GiB); a child gives up when less than 2 GiB is left
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from _harness import (
    CHILD_ENV,
    REPO_ROOT,
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    machine_info,
    markdown_report,
)

SIDES = ("ours", "keras")
PROBE = 64  # tokens whose vectors the load check compares
MEMORY_FLOOR = 2 * 2**30  # a child gives up when the machine has less available than this


# --------------------------------------------------------------------------
# Inside a child process
# --------------------------------------------------------------------------


def _status(field: str) -> int:
    """A /proc/self/status memory field, in bytes."""
    with open("/proc/self/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M).group(1)) * 1024


def _reset_peak() -> None:
    """Resets VmHWM to the current resident size (Linux 4.0+), so the next peak is one phase's own."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


_PEAKS: list[int] = [0]  # The highest VmHWM seen before a reset inside the phase that is running.


class _Phase:
    """Wall seconds, peak RSS and the resident size at the start of one phase.

    Phases may nest: an inner phase resets VmHWM, so the outer one keeps the highest peak seen before each reset.
    """

    def __init__(self, results: dict[str, Any], name: str) -> None:
        self.results, self.name = results, name

    def __enter__(self) -> _Phase:
        import gc

        gc.collect()
        _PEAKS[0] = max(_PEAKS[0], _status("VmHWM"))
        self.outer_peak = _PEAKS[0]
        _reset_peak()
        _PEAKS[0] = 0
        self.start_rss = _status("VmRSS")
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        peak = max(_PEAKS[0], _status("VmHWM"))
        self.results[self.name] = {
            "seconds": time.perf_counter() - self.start,
            "start_rss": self.start_rss,
            "peak_rss": peak,
            "end_rss": _status("VmRSS"),
        }
        _PEAKS[0] = max(self.outer_peak, peak)


class _Timed:
    """Adds the seconds spent in `owner.name` (a method or classmethod) to `totals[label]`."""

    def __init__(self, totals: dict[str, float], label: str, owner: type, name: str) -> None:
        original = next(klass.__dict__[name] for klass in owner.__mro__ if name in klass.__dict__)
        function = original.__func__ if isinstance(original, classmethod) else original

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, classmethod(timed) if isinstance(original, classmethod) else timed)


class _PhaseOf:
    """Makes each outermost call of `owner.name` a `_Phase` of its own (`name` may recurse)."""

    def __init__(self, results: dict[str, Any], label: str, owner: Any, name: str) -> None:
        function = getattr(owner, name)
        depth = [0]

        def phased(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return function(*args, **kwargs)
            depth[0] += 1
            try:
                with _Phase(results, label):
                    return function(*args, **kwargs)
            finally:
                depth[0] -= 1

        setattr(owner, name, phased)


def _read_tokens(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def _child_save(spec: dict[str, Any]) -> dict[str, Any]:
    import keras

    import keras_vocabsafe as kv

    results: dict[str, Any] = {}
    tokens = _read_tokens(spec["tokens"])
    dim = spec["dim"]
    with _Phase(results, "build"):
        inputs = keras.Input(shape=(None,), dtype="string")
        if spec["side"] == "ours":
            outputs = kv.VocabEmbedding(dim, vocabulary=tokens, name="words")(inputs)
        else:
            lookup = keras.layers.StringLookup(vocabulary=tokens, name="lookup")
            outputs = keras.layers.Embedding(len(tokens) + 1, dim, name="embedding")(lookup(inputs))
        model = keras.Model(inputs, outputs)
    probe = [tokens[i] for i in np.linspace(0, len(tokens) - 1, PROBE, dtype=np.int64)] + ["never-seen-token"]
    vectors = keras.ops.convert_to_numpy(model(np.array([probe])))
    np.save(spec["path"] + ".probe.npy", vectors)
    with open(spec["path"] + ".probe.json", "w") as f:
        json.dump(probe, f)
    del tokens
    with _Phase(results, "save"):
        model.save(spec["path"])
    return results


def _child_load(spec: dict[str, Any]) -> dict[str, Any]:
    import keras

    import keras_vocabsafe as kv

    totals: dict[str, float] = {}
    if spec["side"] == "ours":
        _Timed(totals, "from_config", kv.VocabEmbedding, "from_config")
        _Timed(totals, "load_own_variables", kv.VocabIdEmbedding, "load_own_variables")
    else:
        from keras.src.layers.preprocessing.index_lookup import IndexLookup

        _Timed(totals, "from_config", keras.layers.StringLookup, "from_config")
        _Timed(totals, "load_own_variables", keras.layers.Embedding, "load_own_variables")
        _Timed(totals, "load_assets", IndexLookup, "load_assets")
    results: dict[str, Any] = {}
    from keras.src.saving import saving_lib

    # Inside `load_model`: the model from its config (layers built), then the saved state.
    _PhaseOf(results, "load_config", saving_lib, "_model_from_config")
    _PhaseOf(results, "load_state", saving_lib, "_load_state")
    embedding = kv.VocabIdEmbedding if spec["side"] == "ours" else keras.layers.Embedding
    _PhaseOf(results, "load_build", embedding, "build")
    with _Phase(results, "load"):
        model = keras.saving.load_model(spec["path"], compile=False)
    results["parts"] = totals
    with open(spec["path"] + ".probe.json") as f:
        probe = json.load(f)
    vectors = keras.ops.convert_to_numpy(model(np.array([probe])))
    results["same_vectors"] = bool(np.array_equal(vectors, np.load(spec["path"] + ".probe.npy")))
    return results


def _child_parse(spec: dict[str, Any]) -> dict[str, Any]:
    import keras

    import keras_vocabsafe as kv
    from keras_vocabsafe.vocabulary import Vocabulary, decode_tokens

    results: dict[str, Any] = {}
    with _Phase(results, "json"), zipfile.ZipFile(spec["path"]) as archive:
        config = json.loads(archive.read("config.json"))
    name = "words" if spec["side"] == "ours" else "lookup"
    layer_config = next(layer for layer in config["config"]["layers"] if layer["name"] == name)["config"]
    del config
    if spec["side"] == "ours":
        with _Phase(results, "vocabulary"):
            Vocabulary(decode_tokens(layer_config["vocabulary"], layer_config["vocabulary_encoding"], "string"))
        with _Phase(results, "from_config"):
            kv.VocabEmbedding.from_config(layer_config)
    else:
        with _Phase(results, "from_config"):
            keras.layers.StringLookup.from_config(layer_config)
    return results


def _mem_available() -> int:
    with open("/proc/meminfo") as meminfo:
        return int(re.search(r"^MemAvailable:\s+(\d+) kB", meminfo.read(), re.M).group(1)) * 1024


def _watch_memory(floor: int) -> None:
    """Ends this process if the machine runs short of memory: the machine is shared, and the others come first."""
    import threading

    def watch() -> None:
        while True:
            if _mem_available() < floor:
                print(f"RESULT {json.dumps({'aborted': 'memory available fell below the floor'})}", flush=True)
                os._exit(3)
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()


def _child(spec: dict[str, Any]) -> None:
    _watch_memory(MEMORY_FLOOR)
    results = {"save": _child_save, "load": _child_load, "parse": _child_parse}[spec["kind"]](spec)
    print("RESULT " + json.dumps(results))


# --------------------------------------------------------------------------
# The parent
# --------------------------------------------------------------------------


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    needed = spec["needed"]
    for _ in range(240):  # Wait up to 20 minutes for the memory a child of this size needs.
        if _mem_available() >= needed:
            break
        time.sleep(5)
    else:
        raise RuntimeError(f"{spec['kind']} {spec['side']}: {needed / 2**30:.1f} GiB never became available")
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode == 3 and lines:
        raise RuntimeError(f"{spec['kind']} {spec['side']} gave up: {lines[-1]}")
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{spec['kind']} {spec['side']} failed ({result.returncode}): {result.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _distinct_words(n: int, rng: np.random.Generator) -> list[bytes]:
    """`n` distinct pseudo-words of 3-12 lowercase letters, as `make_words` draws them, deduplicated with NumPy
    (its per-word loop takes minutes at ten million)."""
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    words = np.zeros(0, dtype="S12")
    while len(words) < n:
        m = int(1.2 * (n - len(words))) + 1_000
        chars = letters[rng.integers(0, 26, size=(m, 12))]
        chars[np.arange(12) >= rng.integers(3, 13, size=m)[:, None]] = 0  # NUL pads: S12 drops them
        candidates = np.concatenate([words, chars.view("S12").reshape(-1)])
        _, first = np.unique(candidates, return_index=True)
        words = candidates[np.sort(first)]
    return words[:n].tolist()


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def _phase_row(label: str, phases: list[dict[str, Any]], matrix: int) -> str:
    """Median seconds; the largest peak above the phase's start, in MiB and in matrices; the largest absolute peak."""
    seconds = statistics.median(p["seconds"] for p in phases)
    above = max(p["peak_rss"] - p["start_rss"] for p in phases)
    peak = max(p["peak_rss"] for p in phases)
    return f"| {label} | {seconds:.2f} | {_mib(above)} | {above / matrix:.2f} | {_mib(peak)} |"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]))
        return
    parser = bench_parser(__doc__, "100,000 rows (a smoke run)", "repetitions of each measurement (default 2)", 2)
    parser.add_argument("--rows", type=int, default=10_000_000, help="vocabulary size (default 10,000,000)")
    parser.add_argument("--dim", type=int, default=64, help="embedding width (default 64)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the models go (default: a temporary dir)")
    add_output_option(parser)
    args = parser.parse_args()
    rows = 100_000 if args.quick else args.rows
    matrix = rows * args.dim * 4
    uptime = os.getloadavg()
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.workdir) as directory:
        root = Path(directory)
        start = time.perf_counter()
        (root / "tokens.txt").write_bytes(b"\n".join(_distinct_words(rows, np.random.default_rng(0))))
        print(f"{rows:,} tokens in {time.perf_counter() - start:.0f} s", flush=True)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {side: {} for side in SIDES}
        sizes: dict[str, int] = {}
        for repeat in range(args.repeats):
            order = SIDES if repeat % 2 == 0 else SIDES[::-1]
            for kind in ("save", "load", "parse"):
                for side in order:
                    spec = {
                        "kind": kind,
                        "side": side,
                        "tokens": str(root / "tokens.txt"),
                        "dim": args.dim,
                        "path": str(root / f"{side}.keras"),
                        # Memory to wait for before a child starts; the watchdog guards the rest.
                        "needed": 4 * matrix + MEMORY_FLOOR,
                    }
                    result = _run(spec)
                    runs[side].setdefault(kind, []).append(result)
                    if kind == "save":
                        sizes[side] = (root / f"{side}.keras").stat().st_size
                    print(f"[{repeat}] {kind} {side}: {json.dumps(result)}", flush=True)
    wall = time.perf_counter() - wall

    table = [
        "| side / phase | seconds (median) | peak above start (MiB) | in matrices | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for side in SIDES:
        for kind, phase, label in (
            ("save", "build", "build"),
            ("save", "save", "save"),
            ("load", "load", "load"),
            ("load", "load_config", "load: model from config"),
            ("load", "load_build", "load: embedding build"),
            ("load", "load_state", "load: saved state"),
        ):
            table.append(_phase_row(f"{side} {label}", [r[phase] for r in runs[side][kind]], matrix))
        parse = runs[side]["parse"]
        phases = ["json", "vocabulary", "from_config"] if side == "ours" else ["json", "from_config"]
        for phase in phases:
            label = {"json": "parse config.json", "vocabulary": "Vocabulary from config list"}.get(phase, phase)
            table.append(_phase_row(f"{side} {label}", [r[phase] for r in parse], matrix))

    def median(side: str, kind: str, key: str) -> float:
        return statistics.median(r[key]["seconds"] for r in runs[side][kind])

    def part(side: str, name: str) -> str:
        values = [r["parts"].get(name) for r in runs[side]["load"]]
        return "-" if None in values else f"{statistics.median(values):.2f} s"

    notes = [
        f"- one matrix: {rows:,} x {args.dim} float32 = {_mib(matrix)} MiB",
        f"- file size: ours {sizes['ours'] / 2**20:,.0f} MiB, keras {sizes['keras'] / 2**20:,.0f} MiB",
        "- ratios ours / keras (seconds): "
        + ", ".join(
            f"{label} {median('ours', kind, key) / median('keras', kind, key):.2f}x"
            for label, kind, key in (("build", "save", "build"), ("save", "save", "save"), ("load", "load", "load"))
        ),
        "- inside load_model: "
        + "; ".join(
            f"{side}: from_config {part(side, 'from_config')}, load_own_variables {part(side, 'load_own_variables')}"
            + ("" if side == "ours" else f", load_assets {part(side, 'load_assets')}")
            for side in SIDES
        ),
        "- loaded models give the saved vectors: "
        + ", ".join(f"{side} {all(r['same_vectors'] for r in runs[side]['load'])}" for side in SIDES),
        f"- TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(unset: oneDNN on)')}",
        f"- repeats: {args.repeats} (each measurement in a fresh process); load average at start "
        f"{uptime[0]:.2f} {uptime[1]:.2f} {uptime[2]:.2f}, at end "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + f"; wall time {wall:.0f} s",
    ]
    intro = (
        f"`model.save()` and `keras.saving.load_model()` of a {rows:,} x {args.dim} string-keyed embedding model: "
        "ours (`VocabEmbedding`) and Keras's pair (`StringLookup(vocabulary=...)` + `Embedding`). Peaks are "
        "`VmHWM` of a fresh process, reset at each phase's start, minus the resident size then (the tokens and, "
        "for save, the built model were already resident)."
    )
    machine = machine_info(
        [f"- keras: {dist_version('keras')}", f"- tensorflow: {dist_version('tensorflow')}"], str(REPO_ROOT)
    )
    emit_report(
        markdown_report(
            f"{rows:,} x {args.dim} save and load", intro, "\n".join(table), notes, machine, command_line()
        ),
        args.output,
    )


if __name__ == "__main__":
    main()
