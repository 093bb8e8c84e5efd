"""Benchmark ``vocabsafe inspect`` / ``inspect_model`` on models with a 1,000,000-token vocabulary.

What it measures, on models it builds into a temporary directory (fixed
seed, 1,000,000 distinct pseudo-words of 3-12 letters, ``output_dim=8``):

- plain: ``StringLookup`` (vocabulary set after construction, so Keras keeps
  it in the ``.keras`` file's ``assets/``, as after ``adapt``) feeding
  ``Embedding(lookup.vocabulary_size(), 8)``;
- ours: one ``VocabEmbedding(8, vocabulary=...)`` (the vocabulary sits in
  the config and, beside the matrix, in the weights file).

Sides, each in its own fresh subprocess, for each model:

- cli: ``vocabsafe inspect MODEL --json`` end to end (TensorFlow import included);
- api: ``inspect_model(MODEL)`` in a process that has already imported
  ``keras_vocabsafe`` (the import is timed apart);
- load_model: ``keras.saving.load_model(MODEL, compile=False)`` (safe mode on)
  in the same kind of process, the baseline: what reading the model the
  usual way costs.

Each subprocess reports its wall seconds and its peak RSS (``ru_maxrss``;
for cli, of the ``vocabsafe`` child). Ratio = api / load_model (lower is
better); the issue sets no numeric target.

Run from the repository root::

    python benchmarks/bench_inspect.py               # 1,000,000 tokens, ~5 min on 2 cores
    python benchmarks/bench_inspect.py --quick       # 100,000 tokens
    python benchmarks/bench_inspect.py --repeats 5 --output bench.md
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _harness import (
    CHILD_ENV,
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    import_package,
    machine_info,
    make_words,
    markdown_report,
    package_info,
)

_BUILD = r"""
import json, sys
import keras, numpy as np
import keras_vocabsafe as kv
words = json.load(open(sys.argv[1]))
out = sys.argv[2]
lookup = keras.layers.StringLookup(name="words")
lookup.set_vocabulary(words)
inputs = keras.Input(shape=(None,), dtype="string")
outputs = keras.layers.Embedding(lookup.vocabulary_size(), 8, name="embedding")(lookup(inputs))
keras.Model(inputs, outputs).save(out + "/plain.keras")
layer = kv.VocabEmbedding(8, vocabulary=words, name="words")
keras.Sequential([keras.Input(shape=(None,), dtype="string"), layer]).save(out + "/ours.keras")
"""

_TIMED = r"""
import json, resource, sys, time
side, path = sys.argv[1:3]
start = time.perf_counter()
if side == "cli":
    import subprocess
    result = subprocess.run(sys.argv[3:], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    findings = len(json.loads(result.stdout)["findings"]) if result.returncode != 2 else result.stderr
    rc = result.returncode
    print(json.dumps({"seconds": seconds, "rss_kb": rss, "import": None, "findings": findings, "rc": rc}))
    raise SystemExit
import keras, keras_vocabsafe
from keras_vocabsafe.inspection import inspect_model
imported = time.perf_counter() - start
start = time.perf_counter()
if side == "api":
    report = inspect_model(path)
    findings = len(report.findings)
else:
    keras.saving.load_model(path, compile=False)
    findings = None
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_kb": rss, "import": imported, "findings": findings, "rc": 0}))
"""


def _run(side: str, path: Path) -> dict:
    script = shutil.which("vocabsafe", path=os.path.dirname(sys.executable)) or "vocabsafe"
    extra = [script, "inspect", str(path), "--json"] if side == "cli" else []
    result = subprocess.run(
        [sys.executable, "-c", _TIMED, side, str(path), *extra],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{side} on {path} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = bench_parser(__doc__, "100,000 tokens instead of 1,000,000", "repetitions of each side (default 3)", 3)
    add_output_option(parser)
    args = parser.parse_args()
    size = 100_000 if args.quick else 1_000_000
    words = make_words(size, np.random.default_rng(0))
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "words.json").write_text(json.dumps(words))
        subprocess.run([sys.executable, "-c", _BUILD, str(root / "words.json"), str(root)], env=CHILD_ENV, check=True)
        for model in ("plain", "ours"):
            path = root / f"{model}.keras"
            results: dict[str, list[dict]] = {"cli": [], "api": [], "load_model": []}
            for repeat in range(args.repeats):
                order = list(results) if repeat % 2 == 0 else list(results)[::-1]
                for side in order:
                    results[side].append(_run(side, path))
                    print(f"{model} {side}: {results[side][-1]}", flush=True)
            med = {side: statistics.median(r["seconds"] for r in runs) for side, runs in results.items()}
            rss = {side: max(r["rss_kb"] for r in runs) / 1024 for side, runs in results.items()}
            size_mb = path.stat().st_size / 1e6
            rows.append(
                f"| {model} ({size_mb:.0f} MB) | {med['cli']:.2f} s / {rss['cli']:.0f} MB "
                f"| {med['api']:.2f} s / {rss['api']:.0f} MB | {med['load_model']:.2f} s / {rss['load_model']:.0f} MB "
                f"| {med['api'] / med['load_model']:.2f} | {results['api'][0]['findings']} |"
            )
    table = "\n".join(
        [
            "| model | cli (wall, peak RSS) | api | load_model | api / load_model | findings |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    intro = (
        f"`vocabsafe inspect` on models with a {size:,}-token vocabulary and 8-wide embeddings: median of "
        f"{args.repeats} runs, each in a fresh process. cli includes the TensorFlow import; api and load_model "
        "exclude it."
    )
    import_package()
    machine = machine_info(
        [f"- keras: {dist_version('keras')}", f"- tensorflow: {dist_version('tensorflow')}"], package_info(True)
    )
    emit_report(
        markdown_report(
            "inspect", intro, table, ["findings: 0 expected (both models are correct)."], machine, command_line()
        ),
        args.output,
    )


if __name__ == "__main__":
    main()
