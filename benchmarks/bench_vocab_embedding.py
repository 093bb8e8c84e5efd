"""Benchmark ``keras_vocabsafe.VocabEmbedding`` against Keras' own layers.

What it measures, side by side in one process, with interleaved repetitions
(baseline and ours alternate, and the order flips every repetition):

1. Forward throughput (tokens/s) of ``VocabEmbedding`` vs a hand-wired
   ``keras.layers.StringLookup`` + ``keras.layers.Embedding`` pair given the
   same vocabulary (50,000 tokens) and ``output_dim=64``, on one 4096 x 64
   string batch of Zipf-distributed tokens with about 2% out-of-vocabulary
   tokens. Both eager layer calls and calls wrapped in ``tf.function`` (traced
   once before timing). Before timing, the script asserts that both sides map
   the batch to the same ids and, once the baseline's embedding matrix is
   copied into ``VocabEmbedding.embeddings``, produce equal outputs.
2. ``adapt`` throughput (corpus tokens/s) of ``VocabEmbedding.adapt`` vs
   ``keras.layers.StringLookup().adapt`` on the same 5,000,000-token Zipf
   corpus over 200,000 distinct tokens, fed the same way to both: as a 1-D
   numpy array of ``str``, as ``tf.data.Dataset.from_tensor_slices(...)
   .batch(65536)`` over single tokens, and as a dataset of 64-token rows
   ("sentences") batched by 1024, the shape text pipelines have. It prints whether both vocabularies hold the same token
   set (order may differ on count ties: StringLookup breaks them by
   descending token, VocabEmbedding by ascending) and whether ours is in
   count-descending, token-ascending order.

The table reports medians over repetitions and the ratio ours / baseline of
the median throughputs (higher is better for us), the target ratio, the range
of the per-repetition paired ratios as a noise indicator, and (for
information) the ratio of median process CPU seconds. The adapt cases also
time reading the input alone (``tf.convert_to_tensor`` of the array, or one
pass over the dataset), interleaved with the others: the baseline's time over
that floor bounds the ratio any layer can reach when fed that way. Raw
wall/CPU seconds of every repetition are printed as the run goes.

Run from the repository root::

    python benchmarks/bench_vocab_embedding.py            # full run, < ~10 min on 2 cores
    python benchmarks/bench_vocab_embedding.py --quick    # smoke run, seconds
    python benchmarks/bench_vocab_embedding.py --repeats 9 --output bench.md

If ``keras_vocabsafe`` cannot be imported, only the baseline side runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from _harness import (
    InterleavedSide,
    Timing,
    add_output_option,
    bench_parser,
    command_line,
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
    vocabulary_and_oov,
    zipf_ranks,
    zipf_tokens,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

SEED = 20240501
OOV_TOKEN = "[UNK]"
WARMUP_TOKENS = 1 << 18


# --------------------------------------------------------------------------
# Sizes and data generation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``QUICK`` is a scaled-down smoke configuration."""

    vocab_size: int = 50_000
    oov_pool: int = 5_000
    batch_rows: int = 4096
    batch_cols: int = 64
    oov_rate: float = 0.02
    output_dim: int = 64
    calls_per_rep: int = 10
    corpus_tokens: int = 5_000_000
    corpus_distinct: int = 200_000
    dataset_batch: int = 65_536
    sentence_length: int = 64
    sentence_batch: int = 1_024
    zipf_s: float = 1.0


FULL = Sizes()
QUICK = Sizes(
    vocab_size=2_000,
    oov_pool=200,
    batch_rows=256,
    batch_cols=16,
    calls_per_rep=3,
    corpus_tokens=102_400,
    corpus_distinct=10_000,
    dataset_batch=8_192,
)


@dataclass
class ForwardData:
    vocabulary: list[str]
    batch: tf.Tensor
    oov_fraction: float


def make_forward_data(sizes: Sizes) -> ForwardData:
    """Vocabulary (in rank order) and a Zipf string batch with some OOV."""
    rng = np.random.default_rng([SEED, 1])
    vocab, oov_pool = vocabulary_and_oov(sizes.vocab_size, sizes.oov_pool, rng)
    n = sizes.batch_rows * sizes.batch_cols
    tokens, oov_mask = zipf_tokens(vocab, oov_pool, n, sizes.zipf_s, sizes.oov_rate, rng)
    batch = tf.constant(tokens.reshape(sizes.batch_rows, sizes.batch_cols))
    return ForwardData(vocab.tolist(), batch, float(oov_mask.mean()))


@dataclass
class Corpus:
    array: np.ndarray  # 1-D numpy array of str
    tensor: tf.Tensor  # same tokens as a tf.string tensor
    expected_vocab: list[str]  # count desc, token asc (bytes), with [UNK]


def make_corpus(sizes: Sizes) -> Corpus:
    """Zipf corpus and the vocabulary an ascending-tie adapt should yield."""
    rng = np.random.default_rng([SEED, 2])
    words = np.asarray(make_words(sizes.corpus_distinct, rng))
    ranks = zipf_ranks(sizes.corpus_distinct, sizes.corpus_tokens, sizes.zipf_s, rng)
    array = words[ranks]
    counts = np.bincount(ranks, minlength=sizes.corpus_distinct)
    present = np.flatnonzero(counts)
    tokens = np.char.encode(words[present], "utf-8")
    order = np.lexsort((tokens, -counts[present]))
    expected = [OOV_TOKEN, *words[present][order].tolist()]
    return Corpus(array, tf.constant(array), expected)


# --------------------------------------------------------------------------
# Timing harness
# --------------------------------------------------------------------------


@dataclass
class CaseResult:
    name: str
    work: float  # tokens processed per timed run
    target: float  # ours / baseline throughput ratio to reach
    base: list[Timing] = field(default_factory=list)
    ours: list[Timing] = field(default_factory=list)
    # Reading the input alone (no counting): a floor for any adapt fed this way.
    floor_label: str = ""
    floor: list[Timing] = field(default_factory=list)

    @property
    def base_s(self) -> list[float]:
        return [t.wall for t in self.base]

    @property
    def ours_s(self) -> list[float]:
        return [t.wall for t in self.ours]

    def ceiling_ratio(self) -> float | None:
        """Best ratio any layer could reach: baseline seconds / input-only seconds."""
        if not self.floor:
            return None
        return statistics.median(self.base_s) / statistics.median(t.wall for t in self.floor)

    def cpu_ratio(self) -> float | None:
        """Median baseline CPU seconds / median ours CPU seconds."""
        if not self.ours:
            return None
        return statistics.median(t.cpu for t in self.base) / statistics.median(t.cpu for t in self.ours)

    def throughput(self, seconds: list[float]) -> float:
        return self.work / statistics.median(seconds)

    @property
    def ratio(self) -> float | None:
        if not self.ours:
            return None
        return self.throughput(self.ours_s) / self.throughput(self.base_s)

    @property
    def paired(self) -> list[float]:
        return [b / o for b, o in zip(self.base_s, self.ours_s, strict=True)]


def interleave_case(
    case: CaseResult,
    run_base: Callable[[], Timing],
    run_ours: Callable[[], Timing] | None,
    repeats: int,
    run_floor: Callable[[], Timing] | None = None,
) -> CaseResult:
    """Alternate baseline and ours (and input-only) runs; the order flips each repetition."""
    sides: list[InterleavedSide] = [(case.base, run_base, repeats)]
    if run_ours is not None:
        sides.append((case.ours, run_ours, repeats))
    if run_floor is not None:
        sides.append((case.floor, run_floor, repeats))
    interleave(sides, repeats)
    return case


def timed_calls(fn: Callable[[tf.Tensor], Any], x: tf.Tensor, n: int) -> Timing:
    """Time ``n`` calls (CPU eager/tf.function results are synchronous)."""
    start = start_clock()
    for _ in range(n):
        out = fn(x)
    elapsed = stop_clock(start)
    del out
    return elapsed


# --------------------------------------------------------------------------
# 1. Forward throughput
# --------------------------------------------------------------------------


def check_forward_equal(
    ours: Any,
    lookup: keras.layers.StringLookup,
    emb: keras.layers.Embedding,
    batch: tf.Tensor,
) -> None:
    """Assert same vocabulary, same ids and equal outputs; print the result."""
    assert ours.vocabulary_size() == lookup.vocabulary_size(), (
        ours.vocabulary_size(),
        lookup.vocabulary_size(),
    )
    assert list(ours.get_vocabulary()) == list(lookup.get_vocabulary())
    ours(batch)  # build
    base_ids = lookup(batch).numpy()
    rows = ours.vocabulary_size()
    id_matrix = np.repeat(np.arange(rows, dtype=np.float32)[:, None], emb.output_dim, 1)
    ours.embeddings.assign(id_matrix)
    ours_ids = ours(batch).numpy()[..., 0].astype(np.int64)
    same_ids = np.array_equal(ours_ids, base_ids)
    print(f"  ids equal to lookup(batch): {same_ids}")
    assert same_ids, "VocabEmbedding ids differ from StringLookup ids"
    ours.embeddings.assign(emb.embeddings)
    base_out = emb(lookup(batch)).numpy()
    ours_out = ours(batch).numpy()
    same_out = base_out.shape == ours_out.shape and np.array_equal(base_out, ours_out)
    print(f"  outputs equal (shape {ours_out.shape}, {ours_out.dtype}): {same_out}")
    assert same_out, "VocabEmbedding output differs from StringLookup+Embedding"


def bench_forward(data: ForwardData, sizes: Sizes, vocab_embedding: Any | None, repeats: int) -> list[CaseResult]:
    lookup = keras.layers.StringLookup(vocabulary=data.vocabulary)
    emb = keras.layers.Embedding(input_dim=lookup.vocabulary_size(), output_dim=sizes.output_dim)

    def baseline(x: tf.Tensor) -> tf.Tensor:
        return emb(lookup(x))

    baseline(data.batch)  # build
    ours = None
    if vocab_embedding is not None:
        ours = vocab_embedding(output_dim=sizes.output_dim, vocabulary=data.vocabulary)
        print("forward: correctness")
        check_forward_equal(ours, lookup, emb, data.batch)

    modes: list[tuple[str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
        ("eager", lambda f: f),
        ("tf.function", tf.function),
    ]
    n = sizes.calls_per_rep
    work = float(sizes.batch_rows * sizes.batch_cols * n)
    results = []
    for mode, wrap in modes:
        base_fn = wrap(baseline)
        ours_fn = wrap(ours.__call__) if ours is not None else None
        warm = [base_fn] + ([ours_fn] if ours_fn is not None else [])
        outs = [f(data.batch) for f in warm for _ in range(2)]  # trace + warm
        if len(outs) == 4:
            equal = np.array_equal(outs[0].numpy(), outs[2].numpy())
            print(f"  {mode}: outputs equal: {equal}")
            assert equal
        del outs
        case = CaseResult(f"forward {mode} ({mode_shape(sizes)})", work, 1.0)
        interleave_case(
            case,
            partial(timed_calls, base_fn, data.batch, n),
            partial(timed_calls, ours_fn, data.batch, n) if ours_fn is not None else None,
            repeats,
        )
        print_case(case)
        results.append(case)
    return results


def mode_shape(sizes: Sizes) -> str:
    return f"{sizes.batch_rows}x{sizes.batch_cols}, V={sizes.vocab_size:,}"


# --------------------------------------------------------------------------
# 2. Adapt throughput
# --------------------------------------------------------------------------


def timed_adapt(make_layer: Callable[[], Any], data: Any, keep: list[Any]) -> Timing:
    """Time ``make_layer().adapt(data)``; the layer goes into ``keep``."""
    layer = make_layer()
    gc.collect()
    start = start_clock()
    layer.adapt(data)
    elapsed = stop_clock(start)
    keep[:] = [layer]
    return elapsed


def timed_read(data: Any) -> Timing:
    """Time reading the input alone: tensor conversion, or one pass over a dataset."""
    start = start_clock()
    if isinstance(data, tf.data.Dataset):
        for _ in data:
            pass
    else:
        tf.convert_to_tensor(data)
    return stop_clock(start)


def check_adapt(base: Any, ours: Any, expected: list[str], label: str) -> bool:
    base_vocab = list(base.get_vocabulary())
    ours_vocab = list(ours.get_vocabulary())
    same_set = set(base_vocab) == set(ours_vocab) and len(base_vocab) == len(ours_vocab)
    ordered = ours_vocab == expected
    size_ok = ours.vocabulary_size() == len(ours_vocab)
    print(
        f"  {label}: same token set as StringLookup: {same_set} "
        f"({len(ours_vocab):,} vs {len(base_vocab):,} entries); "
        f"count-desc/token-asc order: {ordered}; "
        f"vocabulary_size()==len(get_vocabulary()): {size_ok}"
    )
    return same_set and ordered and size_ok


def bench_adapt(
    corpus: Corpus, sizes: Sizes, vocab_embedding: Any | None, repeats: int
) -> tuple[list[CaseResult], bool]:
    dataset = tf.data.Dataset.from_tensor_slices(corpus.tensor).batch(sizes.dataset_batch)
    # Warm-up (untimed) on a slice big enough to hit the large-input code paths.
    warm_tokens = min(sizes.corpus_tokens, WARMUP_TOKENS)
    warm_dataset = tf.data.Dataset.from_tensor_slices(corpus.tensor[:warm_tokens]).batch(sizes.dataset_batch)
    # The corpus as sentences: fewer, larger dataset elements, as text pipelines have.
    sentences = tf.reshape(corpus.tensor, [-1, sizes.sentence_length])
    sentence_dataset = tf.data.Dataset.from_tensor_slices(sentences).batch(sizes.sentence_batch)
    warm_sentences = tf.data.Dataset.from_tensor_slices(sentences[: warm_tokens // sizes.sentence_length]).batch(
        sizes.sentence_batch
    )
    forms: list[tuple[str, Any, Any, str]] = [
        ("numpy str 1-D", corpus.array, corpus.array[:warm_tokens], "tf.convert_to_tensor(array)"),
        (f"tf.data batch({sizes.dataset_batch})", dataset, warm_dataset, "one pass over the dataset"),
        (
            f"tf.data rows of {sizes.sentence_length}, batch({sizes.sentence_batch})",
            sentence_dataset,
            warm_sentences,
            "one pass over the dataset",
        ),
    ]

    def make_base() -> Any:
        return keras.layers.StringLookup()

    def make_ours() -> Any:
        return vocab_embedding(output_dim=sizes.output_dim)

    all_ok = True
    results = []
    for label, data, warm_data, floor_label in forms:
        base_keep: list[Any] = []
        ours_keep: list[Any] = []
        timed_adapt(make_base, warm_data, base_keep)  # warm-up, untimed
        if vocab_embedding is not None:
            timed_adapt(make_ours, warm_data, ours_keep)
        name = f"adapt {label} ({sizes.corpus_tokens:,} tok)"
        case = CaseResult(name, float(sizes.corpus_tokens), 1.5, floor_label=floor_label)
        interleave_case(
            case,
            partial(timed_adapt, make_base, data, base_keep),
            partial(timed_adapt, make_ours, data, ours_keep) if vocab_embedding is not None else None,
            repeats,
            run_floor=partial(timed_read, data),
        )
        print_case(case)
        if vocab_embedding is not None:
            all_ok &= check_adapt(base_keep[0], ours_keep[0], corpus.expected_vocab, label)
        results.append(case)
    return results, all_ok


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def fmt_rate(tokens_per_s: float) -> str:
    return f"{tokens_per_s / 1e6:.2f} M tok/s"


def print_case(case: CaseResult) -> None:
    base = case.throughput(case.base_s)
    line = f"  {case.name}: baseline {fmt_rate(base)}"
    if case.ours:
        ours = case.throughput(case.ours_s)
        line += f", ours {fmt_rate(ours)}, ratio {case.ratio:.2f}x, CPU-time ratio {case.cpu_ratio():.2f}x"
    print(line)
    print(f"    wall/cpu s per repeat, baseline: {fmt_timings(case.base, 3)}")
    if case.ours:
        print(f"    wall/cpu s per repeat, ours:     {fmt_timings(case.ours, 3)}")
    if case.floor:
        print(f"    wall/cpu s per repeat, input only ({case.floor_label}): {fmt_timings(case.floor, 3)}")
        print(
            f"    input only: {fmt_rate(case.throughput([t.wall for t in case.floor]))}; "
            f"best reachable ratio ~ {case.ceiling_ratio():.2f}x"
        )
    sys.stdout.flush()


def markdown_table(cases: list[CaseResult]) -> str:
    lines = [
        "| case | baseline median | ours median | ratio | target | pass/fail "
        "| paired ratios (min-max) | CPU-time ratio |",
        "|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for c in cases:
        base = fmt_rate(c.throughput(c.base_s))
        if c.ratio is None:
            ours, ratio, verdict, spread, cpu = "n/a", "n/a", "n/a", "n/a", "n/a"
        else:
            ours = fmt_rate(c.throughput(c.ours_s))
            ratio = f"{c.ratio:.2f}x"
            verdict = "PASS" if c.ratio >= c.target else "FAIL"
            spread = f"{min(c.paired):.2f}-{max(c.paired):.2f}"
            cpu = f"{c.cpu_ratio():.2f}x"
        lines.append(f"| {c.name} | {base} | {ours} | {ratio} | >= {c.target:.1f}x | {verdict} | {spread} | {cpu} |")
    return "\n".join(lines)


def report(cases: list[CaseResult], package: Any | None, command: str, notes: list[str]) -> str:
    intro = (
        "Throughput medians (wall clock) over interleaved repetitions; ratio = ours / baseline "
        "(higher is better), pass/fail compares it with the target. Paired ratios: per repetition, "
        "baseline seconds / ours seconds. CPU-time ratio (informational): median process CPU seconds, "
        "baseline / ours. Baseline: StringLookup+Embedding (forward), StringLookup().adapt (adapt)."
    )
    libraries = [
        f"- tensorflow: {tf.__version__}",
        f"- keras: {keras.__version__} (backend {keras.backend.backend()})",
    ]
    machine = machine_info(libraries, package_info(package is not None))
    return markdown_report("VocabEmbedding benchmark", intro, markdown_table(cases), notes, machine, command)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__, "small sizes, smoke run in seconds", "interleaved repetitions per case")
    add_output_option(parser)
    parser.add_argument("--skip-adapt", action="store_true", help="only run the forward cases")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = command_line()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (3 if args.quick else 9)
    vocab_embedding = import_from_package("VocabEmbedding")
    t_start = time.perf_counter()

    fwd = make_forward_data(sizes)
    print(
        f"forward data: vocab {sizes.vocab_size:,}, batch {tuple(fwd.batch.shape)}, OOV fraction {fwd.oov_fraction:.4f}"
    )
    cases = bench_forward(fwd, sizes, vocab_embedding, repeats)
    notes = [f"- forward: OOV fraction of the batch {fwd.oov_fraction:.4f}"]
    if vocab_embedding is not None:
        notes.append("- forward: ids and outputs equal to the baseline: True")

    if not args.skip_adapt:
        corpus = make_corpus(sizes)
        print(f"adapt corpus: {sizes.corpus_tokens:,} tokens, {len(corpus.expected_vocab) - 1:,} distinct")
        adapt_cases, vocab_ok = bench_adapt(corpus, sizes, vocab_embedding, repeats)
        cases += adapt_cases
        notes.append(
            f"- adapt: {len(corpus.expected_vocab) - 1:,} distinct tokens seen; "
            "same token set as StringLookup and count-desc/token-asc order: "
            + (str(vocab_ok) if vocab_embedding is not None else "n/a")
        )
        for case in adapt_cases:
            floor_rate = fmt_rate(case.throughput([t.wall for t in case.floor]))
            notes.append(
                f"- {case.name}: reading the input alone ({case.floor_label}) runs at {floor_rate}, "
                f"so no adapt fed this way can beat the baseline by more than ~{case.ceiling_ratio():.2f}x"
            )
    notes.append(
        f"- repeats: {repeats}; forward calls per repeat: {sizes.calls_per_rep}; "
        f"wall time {time.perf_counter() - t_start:.0f} s"
    )

    emit_report(report(cases, vocab_embedding, command, notes), args.output)


if __name__ == "__main__":
    main()
