"""Benchmark ``keras_vocabsafe.beam.ComputeVocabulary`` against ``adapt`` (and ``tft.vocabulary`` where installed).

What it measures, in one process, with interleaved repetitions (the order of
the sides flips every repetition):

- ``TextVocabEmbedding(8, standardize="lower", max_tokens=20_000).adapt(sentences)``
  on a NumPy array of ``str`` held in memory (the baseline);
- the Beam pipeline ``ReadFromText(corpus file) | ComputeVocabulary(layer) |
  WriteVocabulary(path)`` on the local DirectRunner with one worker
  (``in_memory``), two worker threads (``multi_threading``) and two worker
  processes (``multi_processing``). Times are whole pipeline runs, start-up
  included (the processes import TensorFlow);
- where ``tensorflow-transform`` imports next to this TensorFlow,
  ``tft.vocabulary(tf.strings.split(tf.strings.lower(text)), top_k=...)`` run by
  ``tft_beam.AnalyzeDataset`` on the same file and runner settings (TFT is not a
  dependency of this package: run the script in a venv that has it).

The corpus is Zipf-distributed pseudo-words (``_harness``), one sentence per
line, about 2M tokens (``--quick``: about 100k). Every Beam vocabulary is
checked against ``adapt``'s: same tokens, same order, same counts. For TFT the
script reports whether its kept token set and counts agree (TFT breaks ties at
the cut by the greater token, so the set may differ by tied tokens).

Run from the repository root::

    python benchmarks/bench_beam.py            # full run, a few minutes on 2 cores
    python benchmarks/bench_beam.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import (
    Timing,
    add_output_option,
    bench_parser,
    command_line,
    dist_version,
    emit_report,
    fmt_timings,
    import_package,
    interleave,
    machine_info,
    markdown_report,
    package_info,
    start_clock,
    stop_clock,
    vocabulary_and_oov,
    zipf_tokens,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

SEED = 20261130
MAX_TOKENS = 20_000


@dataclass(frozen=True)
class Sizes:
    vocab_size: int = 60_000
    oov_pool: int = 5_000
    sentences: int = 100_000
    min_words: int = 10
    max_words: int = 30
    zipf_s: float = 1.1
    oov_rate: float = 0.02


FULL = Sizes()
QUICK = Sizes(vocab_size=5_000, oov_pool=500, sentences=5_000)


@dataclass
class Side:
    name: str
    run: Callable[[], Timing]
    timings: list[Timing] = field(default_factory=list)
    check: str = ""

    def median(self) -> float:
        return statistics.median(t.wall for t in self.timings)


def make_corpus(sizes: Sizes) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    vocab, oov = vocabulary_and_oov(sizes.vocab_size, sizes.oov_pool, rng)
    lengths = rng.integers(sizes.min_words, sizes.max_words + 1, size=sizes.sentences)
    words, _ = zipf_tokens(vocab, oov, int(lengths.sum()), sizes.zipf_s, sizes.oov_rate, rng)
    capital = rng.random(words.size) < 0.1
    words[capital] = [word.capitalize() for word in words[capital]]
    ends = np.cumsum(lengths)
    return np.array([" ".join(words[end - length : end]) for end, length in zip(ends, lengths)])


def beam_options(workers: int, mode: str) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(direct_num_workers=workers, direct_running_mode=mode)


def timed(fn: Callable[[], Any]) -> Timing:
    start = start_clock()
    fn()
    return stop_clock(start)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__, "small corpus, smoke run", "interleaved repetitions per side")
    add_output_option(parser)
    parser.add_argument("--no-tft", action="store_true", help="skip tensorflow-transform even if it imports")
    args: argparse.Namespace = parser.parse_args(argv)
    command = command_line()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    import_package()
    import apache_beam as beam

    from keras_vocabsafe import TextVocabEmbedding, Vocabulary
    from keras_vocabsafe.beam import ComputeVocabulary, WriteVocabulary

    tft_available = False
    if not args.no_tft:
        try:
            import tensorflow_transform as tft
            import tensorflow_transform.beam as tft_beam
            from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

            tft_available = True
        except ImportError as error:
            print(f"tensorflow-transform not importable ({error}); skipping tft.vocabulary")

    sentences = make_corpus(sizes)
    tokens = sum(len(s.split()) for s in sentences)
    work = Path(tempfile.mkdtemp(prefix="bench_beam_"))
    corpus_path = work / "corpus.txt"
    corpus_path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    print(f"corpus: {len(sentences):,} sentences, {tokens:,} tokens, {corpus_path.stat().st_size / 1e6:.1f} MB")

    def make_layer() -> Any:
        return TextVocabEmbedding(8, standardize="lower", max_tokens=MAX_TOKENS)

    reference: list[Any] = []

    def run_adapt() -> Timing:
        layer = make_layer()
        elapsed = timed(lambda: layer.adapt(sentences))
        reference[:] = [layer.vocabulary]
        return elapsed

    def run_beam(workers: int, mode: str, out: Path) -> Timing:
        def pipeline() -> None:
            with beam.Pipeline(options=beam_options(workers, mode)) as p:
                (
                    p
                    | beam.io.ReadFromText(str(corpus_path))
                    | ComputeVocabulary(make_layer())
                    | WriteVocabulary(str(out))
                )

        return timed(pipeline)

    def run_tft(workers: int, mode: str, out_dir: Path) -> Timing:
        def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, Any]:
            words = tf.strings.split(tf.strings.lower(inputs["text"]))
            tft.vocabulary(
                words, top_k=MAX_TOKENS - 2, vocab_filename="vocabulary", store_frequency=True, name="vocabulary"
            )
            return {"text": inputs["text"]}

        metadata = dataset_metadata.DatasetMetadata(
            schema_utils.schema_from_feature_spec({"text": tf.io.FixedLenFeature([], tf.string)})
        )

        def pipeline() -> None:
            with beam.Pipeline(options=beam_options(workers, mode)) as p, tft_beam.Context(temp_dir=str(out_dir)):
                raw = p | beam.io.ReadFromText(str(corpus_path)) | beam.Map(lambda line: {"text": line})
                transform_fn = (raw, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
                _ = transform_fn | tft_beam.WriteTransformFn(str(out_dir / "transform_fn"))

        return timed(pipeline)

    configs = [(1, "in_memory"), (2, "multi_threading"), (2, "multi_processing")]
    sides = [Side("adapt (NumPy array in memory)", run_adapt)]
    for workers, mode in configs:
        out = work / f"beam_{workers}_{mode}.json"
        sides.append(
            Side(
                f"Beam ComputeVocabulary, {workers} worker(s), {mode}",
                lambda w=workers, m=mode, o=out: run_beam(w, m, o),
            )
        )
    if tft_available:
        for workers, mode in configs[1:]:
            out_dir = work / f"tft_{workers}_{mode}"
            out_dir.mkdir()
            sides.append(
                Side(
                    f"tft.vocabulary (AnalyzeDataset), {workers} workers, {mode}",
                    lambda w=workers, m=mode, o=out_dir: run_tft(w, m, o),
                )
            )
    for side in sides:  # Warm-up, untimed: traces the counting functions and imports in this process.
        side.run()
    started = time.perf_counter()
    load_before = os.getloadavg()
    interleave([(side.timings, side.run, repeats) for side in sides], repeats)
    for side in sides:
        print(f"  {side.name}: wall/cpu s {fmt_timings(side.timings, 2)}")

    expected = reference[0]
    for (workers, mode), side in zip(configs, sides[1:]):
        written = Vocabulary.load(work / f"beam_{workers}_{mode}.json")
        same = list(written.tokens) == list(expected.tokens) and written.counts.tolist() == expected.counts.tolist()
        side.check = "identical to adapt (tokens, order, counts)" if same else "DIFFERS from adapt"
    if tft_available:
        ours = dict(zip(expected.tokens, expected.counts.tolist()))
        for side, (workers, mode) in zip(sides[len(configs) + 1 :], configs[1:]):
            path = work / f"tft_{workers}_{mode}" / "transform_fn" / "transform_fn" / "assets" / "vocabulary"
            theirs = {}
            for line in path.read_bytes().splitlines():
                count, _, token = line.partition(b" ")
                theirs[token] = int(count)
            common = set(ours) & set(theirs)
            same_counts = all(ours[t] == theirs[t] for t in common)
            side.check = (
                f"{len(theirs):,} tokens; {len(set(ours) ^ set(theirs))} differ from ours (ties at the cut); "
                f"counts of common tokens equal: {same_counts}"
            )

    base = sides[0].median()
    lines = [
        "| side | median wall s | M tok/s | time / adapt | check |",
        "|---|---:|---:|---:|---|",
    ]
    for side in sides:
        median = side.median()
        lines.append(
            f"| {side.name} | {median:.2f} | {tokens / median / 1e6:.2f} | {median / base:.1f}x | {side.check or '-'} |"
        )
    beam_1, beam_2t, beam_2p = (sides[i].median() for i in (1, 2, 3))
    notes = [
        f"- corpus: {len(sentences):,} sentences, {tokens:,} tokens; {len(expected):,} tokens kept (max_tokens="
        f"{MAX_TOKENS})",
        f"- Beam speed-up from 1 to 2 workers: threads {beam_1 / beam_2t:.2f}x, processes {beam_1 / beam_2p:.2f}x",
        f"- repeats: {repeats}; wall time {time.perf_counter() - started:.0f} s",
        "- machine load (1-minute load average) at start and end: "
        f"{load_before[0]:.1f}, {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
    ]
    intro = (
        "Whole-run wall time medians over interleaved repetitions (Beam runs include pipeline start-up). "
        "time / adapt: how many times longer than adapt on the in-memory array."
    )
    libraries = [
        f"- tensorflow: {tf.__version__}",
        f"- apache-beam: {dist_version('apache-beam')}",
        f"- tensorflow-transform: {dist_version('tensorflow-transform')}",
    ]
    text = markdown_report(
        "Beam ComputeVocabulary benchmark",
        intro,
        "\n".join(lines),
        notes,
        machine_info(libraries, package_info(True)),
        command,
    )
    emit_report(text, args.output)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
