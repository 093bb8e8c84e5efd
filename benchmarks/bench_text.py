"""Benchmark ``keras_vocabsafe.TextVocabEmbedding`` against ``TextVectorization`` + ``Embedding``.

What it measures, side by side in one process, with interleaved repetitions
(baseline and ours alternate, and the order flips every repetition):

1. Raw text to padded embeddings, throughput in tokens/s: ours is
   ``TextVocabEmbedding(64, vocabulary=vocab, standardize="lower",
   split="whitespace", output_sequence_length=64)``; the baseline is
   ``keras.layers.TextVectorization`` with the same settings and vocabulary
   followed by ``keras.layers.Embedding(..., mask_zero=True)``. The input is a
   batch of 1024 sentences of 20-60 Zipf-distributed pseudo-words over a
   20,000-token vocabulary, about 2% out of vocabulary and 10% capitalized.
   Three mixes: 0%, 10% and 50% of the sentences non-ASCII (a quarter of their
   words drawn from ``NON_ASCII_WORDS``: Turkish, Greek, German, French,
   Cyrillic, CJK, Arabic, Devanagari, emoji, a combining mark), each in three
   modes: eager layer calls, calls wrapped in ``tf.function``, and a pass
   over a ``tf.data`` pipeline (``from_tensor_slices(sentences).batch(1024)
   .map(layer)``) timed after its first batch. A new iterator's start-up
   (Grappler optimizes the map function: ours has about twice the baseline's
   ops) and first batch are timed apart, for information: ``fit`` pays it once
   an epoch. On non-ASCII text ours does more than the baseline: it
   checks the encoding, lower-cases every script (``TextVectorization``'s
   ``"lower"`` is ASCII-only) and splits on Unicode whitespace; the target is
   still >= 1.0x. Before timing, the script copies the baseline's embedding
   matrix into ours and asserts equal outputs and equal masks on the ASCII
   batch (on the others the baseline leaves ``"ΕΛΛΆΔΑ"`` upper case). Then,
   in ``tf.function``, other whitespace: the 0% and 50% mixes with a line
   break every 8 words (target >= 1.0x), and, for information, the 50% mix
   with a no-break space every 8 words of each non-ASCII sentence (ours
   splits there and takes its slower steps for such a sentence; the
   baseline does not split there). Then both layers with their default
   standardization (``"lower_and_strip_punctuation"``) on the 0% and 50% mixes
   written with ASCII punctuation (commas, quotes, dashes, parentheses, full
   stops), in ``tf.function`` (target >= 1.0x; outputs checked equal on the
   ASCII batch). With each standardization, batches of 1 and 32 sentences
   of the 50% mix in ``tf.function`` (serving, and ``fit``'s default batch;
   target >= 1.0x). Last, for information, the 50% mix in ``tf.function`` with
   ``standardize=None`` on both sides: ours with all its checks but no Unicode
   lower-casing.
2. ``adapt`` from raw text, throughput in corpus tokens/s: ours
   ``TextVocabEmbedding(standardize="lower").adapt(data)`` vs
   ``TextVectorization(standardize="lower").adapt(data)``, on 100,000
   sentences (about 4M tokens), fed as a NumPy array of ``str``, and as
   ``tf.data.Dataset.from_tensor_slices(sentences).batch(1024)``. Each
   repetition adapts a new layer. The script checks that both vocabularies
   hold the same token set.

The table reports medians, the ratio ours / baseline of the median throughputs
(higher is better for us), the target (forward >= 1.0x, adapt >= 1.5x), the
range of the per-repetition paired ratios as a noise indicator, and the ratio
of median process CPU seconds. Raw wall/CPU seconds are printed as it runs.

Run from the repository root::

    python benchmarks/bench_text.py            # full run, a few minutes on 2 cores
    python benchmarks/bench_text.py --quick    # smoke run
    python benchmarks/bench_text.py --repeats 9 --output bench.md
    python benchmarks/bench_text.py --forward-only   # the forward cases only
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from _harness import (
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
    markdown_report,
    package_info,
    start_clock,
    stop_clock,
    vocabulary_and_oov,
    zipf_tokens,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

SEED = 20261128


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``QUICK`` is a scaled-down smoke configuration."""

    vocab_size: int = 20_000
    oov_pool: int = 2_000
    batch_sentences: int = 1_024
    min_words: int = 20
    max_words: int = 60
    sequence_length: int = 64
    output_dim: int = 64
    calls_per_rep: int = 10
    dataset_batches: int = 40  # timed per pass, after the first; passes of 10 were noise (paired 0.38-1.96).
    corpus_sentences: int = 100_000
    zipf_s: float = 1.1
    oov_rate: float = 0.02
    capitalized: float = 0.1


FULL = Sizes()
QUICK = Sizes(vocab_size=2_000, oov_pool=200, batch_sentences=128, calls_per_rep=3, corpus_sentences=4_000)


def make_sentences(n: int, vocab: np.ndarray, oov: np.ndarray, sizes: Sizes, rng: np.random.Generator) -> np.ndarray:
    """``n`` sentences of Zipf words (some OOV, some capitalized), as a 1-D array of ``str``."""
    lengths = rng.integers(sizes.min_words, sizes.max_words + 1, size=n)
    words, _ = zipf_tokens(vocab, oov, int(lengths.sum()), sizes.zipf_s, sizes.oov_rate, rng)
    capital = rng.random(words.size) < sizes.capitalized
    words[capital] = [word.capitalize() for word in words[capital]]
    ends = np.cumsum(lengths)
    return np.array([" ".join(words[end - length : end]) for end, length in zip(ends, lengths)])


# Words of several scripts and the cases Unicode lower-casing must get right: Turkish dotted/dotless i, Greek
# final sigma and accents, German sharp s, a combining diaeresis, CJK, Cyrillic, Arabic, Devanagari and emoji.
NON_ASCII_WORDS = (
    "İstanbul", "\u0131\u015f\u0131k", "Ελλάδα", "ΟΔΌΣ", "σοφός", "Straße", "GRÖSSE", "über", "Café", "nai\u0308ve",
    "Москва", "Привет", "日本語", "東京", "😀", "👍🏽", "Ñandú", "señor", "العربية", "हिन्दी", "Français", "Ærøskøbing",
)  # fmt: skip
NON_ASCII_MIXES = (0.0, 0.1, 0.5)
NON_ASCII_WORD_SHARE = 0.25  # of the words of a non-ASCII sentence


def with_non_ascii(sentences: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``sentences`` where a ``share`` of them (evenly spread) has a quarter of its words from NON_ASCII_WORDS."""
    mixed = sentences.astype(object)  # A fixed-width str array would truncate the longer sentences.
    chosen = np.diff(np.floor(np.arange(len(mixed) + 1) * share)) > 0
    for i in np.flatnonzero(chosen):
        words = mixed[i].split()
        picks = rng.random(len(words)) < NON_ASCII_WORD_SHARE
        picks[rng.integers(len(words))] = True  # Every sentence of the share holds a non-ASCII word.
        for j in np.flatnonzero(picks):
            words[j] = NON_ASCII_WORDS[rng.integers(len(NON_ASCII_WORDS))]
        mixed[i] = " ".join(words)
    return mixed.astype(str)


@dataclass
class Case:
    name: str
    work: float  # tokens per timed run
    target: float
    informational: bool = False
    base: list[Timing] = field(default_factory=list)
    ours: list[Timing] = field(default_factory=list)

    def rate(self, timings: list[Timing]) -> float:
        return self.work / statistics.median(t.wall for t in timings)

    @property
    def ratio(self) -> float:
        return self.rate(self.ours) / self.rate(self.base)

    @property
    def paired(self) -> list[float]:
        return [b.wall / o.wall for b, o in zip(self.base, self.ours)]

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(t.cpu for t in self.base) / statistics.median(t.cpu for t in self.ours)


def run_case(case: Case, run_base: Callable[[], Timing], run_ours: Callable[[], Timing], repeats: int) -> Case:
    sides: list[InterleavedSide] = [(case.base, run_base, repeats), (case.ours, run_ours, repeats)]
    interleave(sides, repeats)
    print(
        f"  {case.name}: baseline {case.rate(case.base) / 1e6:.2f} M tok/s, ours {case.rate(case.ours) / 1e6:.2f} "
        f"M tok/s, ratio {case.ratio:.2f}x (paired {min(case.paired):.2f}-{max(case.paired):.2f})"
    )
    print(f"    wall/cpu s, baseline: {fmt_timings(case.base, 3)}")
    print(f"    wall/cpu s, ours:     {fmt_timings(case.ours, 3)}")
    sys.stdout.flush()
    return case


def timed_calls(fn: Callable[[Any], Any], x: Any, n: int) -> Timing:
    start = start_clock()
    for _ in range(n):
        out = fn(x)
    elapsed = stop_clock(start)
    del out
    return elapsed


def timed_pass(dataset: tf.data.Dataset) -> Timing:
    """The batches of a pass after its first: the pipeline's steady state.

    A new iterator first instantiates the map function, and Grappler optimizes it: a fixed cost per pass (per epoch,
    in `fit`), timed apart by :func:`timed_start`.
    """
    iterator = iter(dataset)
    next(iterator)
    start = start_clock()
    for _ in iterator:
        pass
    return stop_clock(start)


def timed_start(dataset: tf.data.Dataset) -> Timing:
    """A new iterator and its first batch."""
    start = start_clock()
    iterator = iter(dataset)
    next(iterator)
    elapsed = stop_clock(start)
    del iterator
    return elapsed


def count_tokens(sentences: np.ndarray, limit: int | None = None) -> int:
    """Tokens the layers see: whitespace-separated words, up to ``limit`` per sentence."""
    counts = np.array([len(sentence.split()) for sentence in sentences])
    return int(np.minimum(counts, limit).sum()) if limit else int(counts.sum())


def bench_forward(text_layer: Any, sizes: Sizes, repeats: int) -> list[Case]:
    rng = np.random.default_rng([SEED, 1])
    vocab, oov = vocabulary_and_oov(sizes.vocab_size, sizes.oov_pool, rng)
    sentences = make_sentences(sizes.batch_sentences, vocab, oov, sizes, rng)
    # The non-ASCII words lower-cased (as ours looks them up) join the vocabulary; the baseline, which lower-cases
    # ASCII letters only, finds those written in lower case.
    vocabulary = vocab.tolist() + sorted({word.lower() for word in NON_ASCII_WORDS})
    vectorize = keras.layers.TextVectorization(
        standardize="lower", split="whitespace", vocabulary=vocabulary, output_sequence_length=sizes.sequence_length
    )
    embedding = keras.layers.Embedding(vectorize.vocabulary_size(), sizes.output_dim, mask_zero=True)
    ours = text_layer(
        sizes.output_dim, vocabulary=vocabulary, standardize="lower", output_sequence_length=sizes.sequence_length
    )
    assert ours.get_vocabulary() == vectorize.get_vocabulary()

    def baseline(x: Any) -> Any:
        return embedding(vectorize(x))

    batch = tf.constant(sentences)
    baseline(batch)
    ours(batch)
    ours.embeddings.assign(embedding.embeddings)
    base_out, ours_out = baseline(batch), ours(batch)
    assert np.array_equal(base_out.numpy(), ours_out.numpy()), "outputs differ"
    assert np.array_equal(base_out._keras_mask.numpy(), ours_out._keras_mask.numpy()), "masks differ"
    print("forward: outputs and masks equal to the baseline on ASCII text: True")

    cases = []
    for share in NON_ASCII_MIXES:
        mixed = with_non_ascii(sentences, share, np.random.default_rng([SEED, 3]))
        tokens = count_tokens(mixed, sizes.sequence_length)
        label = f"{share:.0%} non-ASCII"
        for mode, wrap in (("eager", lambda f: f), ("tf.function", tf.function)):
            name = f"{label}, {mode} ({sizes.batch_sentences} sentences)"
            cases.append(calls_case(name, wrap(baseline), wrap(ours.__call__), mixed, sizes, repeats))
        # One batch more than are timed: the first is the start-up's.
        slices = tf.data.Dataset.from_tensor_slices(np.tile(mixed, sizes.dataset_batches + 1))
        base_data = slices.batch(sizes.batch_sentences).map(baseline)
        ours_data = slices.batch(sizes.batch_sentences).map(ours)
        timed_pass(base_data), timed_pass(ours_data)
        case = Case(f"{label}, tf.data map ({sizes.dataset_batches} batches)", tokens * sizes.dataset_batches, 1.0)
        cases.append(run_case(case, lambda b=base_data: timed_pass(b), lambda o=ours_data: timed_pass(o), repeats))
        case = Case(f"{label}, tf.data start-up (new iterator, first batch)", tokens, 1.0, informational=True)
        cases.append(run_case(case, lambda b=base_data: timed_start(b), lambda o=ours_data: timed_start(o), repeats))
    cases += bench_other_whitespace(baseline, ours.__call__, sentences, sizes, repeats)
    cases += bench_small_batches("lower", tf.function(baseline), tf.function(ours.__call__), mixed, sizes, repeats)
    cases += bench_default_standardization(text_layer, vocabulary, embedding, sentences, sizes, repeats)
    cases.append(bench_without_case_mapping(text_layer, vocabulary, embedding, mixed, sizes, repeats))
    return cases


LINE_BREAK_EVERY = 8  # words: documents of short lines


def with_whitespace(sentences: np.ndarray, whitespace: str, only_non_ascii: bool = False) -> np.ndarray:
    """``sentences`` with every ``LINE_BREAK_EVERY``-th space made ``whitespace`` (in the non-ASCII ones only, if
    asked)."""

    def respaced(sentence: str) -> str:
        if only_non_ascii and sentence.isascii():
            return sentence
        words = sentence.split(" ")
        spaces = [whitespace if (i + 1) % LINE_BREAK_EVERY == 0 else " " for i in range(len(words) - 1)]
        return "".join(word + space for word, space in zip(words, spaces + [""]))

    return np.array([respaced(sentence) for sentence in sentences], dtype=object).astype(str)


def bench_other_whitespace(
    baseline: Callable[[Any], Any], ours: Callable[[Any], Any], sentences: np.ndarray, sizes: Sizes, repeats: int
) -> list[Case]:
    """Whitespace other than spaces, in ``tf.function``: line breaks (both sides split on them), and no-break
    spaces in the non-ASCII sentences (ours splits on them; the baseline does not, so it reads fewer, longer
    words)."""
    mixes = {share: with_non_ascii(sentences, share, np.random.default_rng([SEED, 3])) for share in (0.0, 0.5)}
    batches = [
        ("0% non-ASCII, a line break every 8 words", with_whitespace(mixes[0.0], "\n"), False),
        ("50% non-ASCII, a line break every 8 words", with_whitespace(mixes[0.5], "\n"), False),
        (
            "50% non-ASCII, a no-break space every 8 words of each non-ASCII sentence",
            with_whitespace(mixes[0.5], "\u00a0", True),
            True,
        ),
    ]
    base_fn, ours_fn = tf.function(baseline), tf.function(ours)
    return [
        calls_case(f"{label}, tf.function", base_fn, ours_fn, texts, sizes, repeats, informational)
        for label, texts, informational in batches
    ]


def with_punctuation(sentences: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``sentences`` written with ASCII punctuation: a comma after 8% of the words, 2% in quotes, a dash after 2%
    (a word of its own), 1% in parentheses, and a full stop at the end."""

    def punctuated(word: str) -> str:
        draw = rng.random()
        if draw < 0.08:
            return word + ","
        if draw < 0.10:
            return f'"{word}"'
        if draw < 0.12:
            return word + " -"
        return f"({word})" if draw < 0.13 else word

    texts = [" ".join(punctuated(word) for word in sentence.split(" ")) + "." for sentence in sentences]
    return np.array(texts, dtype=object).astype(str)


def bench_default_standardization(
    text_layer: Any, vocabulary: list[str], embedding: Any, sentences: np.ndarray, sizes: Sizes, repeats: int
) -> list[Case]:
    """Both layers with their default standardization (``"lower_and_strip_punctuation"``), on the 0% and 50% mixes
    written with punctuation, in ``tf.function``. The baseline strips ASCII punctuation by a regex over every
    string; ours strips Unicode punctuation, from the words it does not find. Outputs are checked equal on the
    ASCII batch."""
    vectorize = keras.layers.TextVectorization(
        split="whitespace", vocabulary=vocabulary, output_sequence_length=sizes.sequence_length
    )
    ours = text_layer(sizes.output_dim, vocabulary=vocabulary, output_sequence_length=sizes.sequence_length)
    base_fn, ours_fn = tf.function(lambda x: embedding(vectorize(x))), tf.function(ours.__call__)
    cases = []
    for share in (0.0, 0.5):
        mixed = with_non_ascii(sentences, share, np.random.default_rng([SEED, 3]))
        texts = with_punctuation(mixed, np.random.default_rng([SEED, 4]))
        if share == 0.0:
            batch = tf.constant(texts)
            ours(batch)
            ours.embeddings.assign(embedding.embeddings)
            assert np.array_equal(base_fn(batch).numpy(), ours_fn(batch).numpy()), "outputs differ"
        name = f"{share:.0%} non-ASCII with punctuation, tf.function, default standardization on both sides"
        cases.append(calls_case(name, base_fn, ours_fn, texts, sizes, repeats))
    # The last batch: the 50% mix with punctuation.
    return cases + bench_small_batches("default standardization", base_fn, ours_fn, texts, sizes, repeats)


SMALL_BATCHES = {1: 300, 32: 60}  # sentences: calls a repetition (0.03-0.1 s)


def bench_small_batches(
    label: str,
    base_fn: Callable[[Any], Any],
    ours_fn: Callable[[Any], Any],
    mixed: np.ndarray,
    sizes: Sizes,
    repeats: int,
) -> list[Case]:
    """Batches of 1 and 32 sentences of the 50% ``mixed`` (serving, and ``fit``'s default batch), in
    ``tf.function``: per call, ours runs several times the baseline's kernels, and here their fixed cost outweighs
    the work."""
    cases = []
    for batch_size, calls in SMALL_BATCHES.items():
        name = f"50% non-ASCII, batches of {batch_size}, tf.function, {label} on both sides"
        small = replace(sizes, calls_per_rep=calls)
        cases.append(calls_case(name, base_fn, ours_fn, mixed[:batch_size], small, repeats))
    return cases


def bench_without_case_mapping(
    text_layer: Any, vocabulary: list[str], embedding: Any, mixed: np.ndarray, sizes: Sizes, repeats: int
) -> Case:
    """The last mix with ``standardize=None`` on both sides: ours then does all it does but Unicode lower-casing."""
    vectorize = keras.layers.TextVectorization(
        standardize=None, split="whitespace", vocabulary=vocabulary, output_sequence_length=sizes.sequence_length
    )
    ours = text_layer(
        sizes.output_dim, vocabulary=vocabulary, standardize=None, output_sequence_length=sizes.sequence_length
    )
    base_fn, ours_fn = tf.function(lambda x: embedding(vectorize(x))), tf.function(ours.__call__)
    name = f"{NON_ASCII_MIXES[-1]:.0%} non-ASCII, tf.function, standardize=None on both sides (no lower-casing)"
    return calls_case(name, base_fn, ours_fn, mixed, sizes, repeats, informational=True)


def calls_case(
    name: str,
    base_fn: Callable[[Any], Any],
    ours_fn: Callable[[Any], Any],
    texts: np.ndarray,
    sizes: Sizes,
    repeats: int,
    informational: bool = False,
) -> Case:
    """Both sides called on one batch of ``texts``, ``sizes.calls_per_rep`` calls a repetition, after three calls
    that trace and warm them (ours traces eager calls from the third on)."""
    batch = tf.constant(texts)
    for fn in (base_fn, ours_fn):
        fn(batch), fn(batch), fn(batch)
    n = sizes.calls_per_rep
    case = Case(name, count_tokens(texts, sizes.sequence_length) * n, 1.0, informational)
    return run_case(case, lambda: timed_calls(base_fn, batch, n), lambda: timed_calls(ours_fn, batch, n), repeats)


def timed_adapt(make_layer: Callable[[], Any], data: Any, keep: list[Any]) -> Timing:
    layer = make_layer()
    start = start_clock()
    layer.adapt(data)
    elapsed = stop_clock(start)
    keep[:] = [layer]
    return elapsed


def bench_adapt(text_layer: Any, sizes: Sizes, repeats: int) -> tuple[list[Case], bool]:
    rng = np.random.default_rng([SEED, 2])
    vocab, oov = vocabulary_and_oov(sizes.vocab_size * 3, sizes.oov_pool, rng)
    sentences = make_sentences(sizes.corpus_sentences, vocab, oov, sizes, rng)
    tokens = count_tokens(sentences)
    forms = [
        ("NumPy array of str", sentences, sentences[:2000]),
        (
            "tf.data batch(1024)",
            tf.data.Dataset.from_tensor_slices(sentences).batch(1024),
            tf.data.Dataset.from_tensor_slices(sentences[:2000]).batch(1024),
        ),
    ]

    def make_base() -> Any:
        return keras.layers.TextVectorization(standardize="lower", split="whitespace")

    def make_ours() -> Any:
        return text_layer(8, standardize="lower", split="whitespace")

    cases, same = [], True
    for label, data, warm in forms:
        base_keep: list[Any] = []
        ours_keep: list[Any] = []
        timed_adapt(make_base, warm, base_keep)
        timed_adapt(make_ours, warm, ours_keep)
        case = Case(f"adapt, {label} ({tokens:,} tok)", tokens, 1.5)
        cases.append(
            run_case(
                case,
                lambda d=data, keep=base_keep: timed_adapt(make_base, d, keep),
                lambda d=data, keep=ours_keep: timed_adapt(make_ours, d, keep),
                repeats,
            )
        )
        same_set = set(base_keep[0].get_vocabulary()) == set(ours_keep[0].get_vocabulary())
        print(f"  same token set as TextVectorization: {same_set} ({ours_keep[0].vocabulary_size():,} ids)")
        same &= same_set
    return cases, same


def markdown_table(cases: list[Case]) -> str:
    lines = [
        "| case | baseline median | ours median | ratio | target | pass/fail "
        "| paired ratios (min-max) | CPU-time ratio |",
        "|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for c in cases:
        verdict = "info" if c.informational else ("PASS" if c.ratio >= c.target else "FAIL")
        lines.append(
            f"| {c.name} | {c.rate(c.base) / 1e6:.2f} M tok/s | {c.rate(c.ours) / 1e6:.2f} M tok/s | {c.ratio:.2f}x "
            f"| >= {c.target:.1f}x | {verdict} | {min(c.paired):.2f}-{max(c.paired):.2f} | {c.cpu_ratio:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__, "small sizes, smoke run", "interleaved repetitions per case")
    add_output_option(parser)
    parser.add_argument("--forward-only", action="store_true", help="skip the adapt cases")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = command_line()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (3 if args.quick else 9)
    text_layer = import_from_package("TextVocabEmbedding")
    if text_layer is None:
        raise SystemExit("keras_vocabsafe.TextVocabEmbedding is needed for this comparison.")
    started = time.perf_counter()
    load_before = os.getloadavg()
    cases = bench_forward(text_layer, sizes, repeats)
    same_vocabulary = None
    if not args.forward_only:
        adapt_cases, same_vocabulary = bench_adapt(text_layer, sizes, repeats)
        cases += adapt_cases
    notes = [
        "- forward: outputs and Keras masks equal to the baseline's on the ASCII batch: True",
        f"- adapt: same token set as TextVectorization: {'not run' if same_vocabulary is None else same_vocabulary}",
        f"- repeats: {repeats}; forward calls per repeat: {sizes.calls_per_rep}; "
        f"wall time {time.perf_counter() - started:.0f} s",
        "- machine load (1-minute load average, other processes included) at start and end: "
        f"{load_before[0]:.1f}, {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
    ]
    intro = (
        "Throughput medians (wall clock) over interleaved repetitions; ratio = ours / baseline (higher is better). "
        "Paired ratios: per repetition, baseline seconds / ours seconds. CPU-time ratio: median process CPU "
        "seconds, baseline / ours. Baseline: TextVectorization + Embedding(mask_zero=True) (forward), "
        "TextVectorization.adapt (adapt)."
    )
    libraries = [
        f"- tensorflow: {tf.__version__}",
        f"- tensorflow-text: {dist_version('tensorflow-text')}",
        f"- keras: {keras.__version__} (backend {keras.backend.backend()})",
    ]
    machine = machine_info(libraries, package_info(True))
    text = markdown_report("TextVocabEmbedding benchmark", intro, markdown_table(cases), notes, machine, command)
    emit_report(text, args.output)


if __name__ == "__main__":
    main()
