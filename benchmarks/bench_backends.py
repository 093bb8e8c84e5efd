"""Benchmark a small text model: ``VocabLookup`` + ``VocabIdEmbedding`` vs ``StringLookup`` + ``Embedding`` per backend.

Issue 11 ("Every Keras backend"): the two halves of this package, on the
backend the process runs (``keras.backend.backend()``; run it once with the
TensorFlow backend and once with ``KERAS_BACKEND=jax``), side by side in one
process with interleaved repetitions (the order of the sides flips every
repetition).

- Data: rows of 32 string tokens, Zipf-distributed over a 20,000-token
  vocabulary, 10% of them out of vocabulary; each row holds 8-32 tokens and is
  padded with ``""`` (the mask token). Labels are 0/1 (a row is 1 when it holds
  more tokens of one random half of the vocabulary than of the other).
- Pipeline, both sides: ``from_tensor_slices((tokens, labels)).batch(256)
  .map(lambda x, y: (lookup(x), y), num_parallel_calls=AUTOTUNE)
  .prefetch(AUTOTUNE)``. Ours: the ``VocabLookup`` of
  ``VocabEmbedding(64, vocabulary=vocab, mask_token="").halves()``; Keras:
  ``StringLookup(vocabulary=vocab, mask_token="")``.
- Model, both sides: int64 ids ``Input((32,))`` -> embedding -> ``GlobalAveragePooling1D``
  (masked) -> ``Dense(1)``, Adam, binary cross-entropy on logits. Ours: the
  ``VocabIdEmbedding`` of the same ``halves()``; Keras:
  ``Embedding(vocabulary_size, 64, mask_zero=True)``. Both models start from
  the same weights (ours copies Keras's matrix and dense layer).
- Cases: ``model.fit(dataset, epochs=1)`` (training throughput, examples/s);
  ``model.predict`` over the same pipeline without labels (forward only); one
  pass over the ``tf.data`` pipeline alone (strings to ids, the lookup half).
  One untimed epoch per side first compiles the train and predict functions.

Before timing, the script checks that both lookups give the same ids on all
the data and that one training epoch from the same weights gives the same loss.
The table reports medians, the ratio ours / Keras of the median throughputs
(higher is better for us; target >= 1.0x for training), the range of the
per-repetition paired ratios (Keras seconds / ours seconds) as a noise
indicator, and the ratio of median process CPU seconds.

Run from the repository root::

    python benchmarks/bench_backends.py                       # TensorFlow backend
    KERAS_BACKEND=jax python benchmarks/bench_backends.py     # JAX backend
    python benchmarks/bench_backends.py --quick               # smoke run
    python benchmarks/bench_backends.py --repeats 15 --output bench.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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

SEED = 20261130


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``QUICK`` is a scaled-down smoke configuration."""

    vocab_size: int = 20_000
    oov_pool: int = 2_000
    batch_size: int = 256
    sequence_length: int = 32
    min_tokens: int = 8
    output_dim: int = 64
    batches: int = 100  # per epoch (one timed run)
    zipf_s: float = 1.1
    oov_rate: float = 0.10


FULL = Sizes()
QUICK = Sizes(vocab_size=2_000, oov_pool=200, batches=8)


@dataclass
class Case:
    name: str
    work: float  # examples per timed run
    target: float | None
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


def make_rows(sizes: Sizes, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vocabulary, ``batches * batch_size`` padded token rows (``str``) and their 0/1 labels."""
    vocab, oov = vocabulary_and_oov(sizes.vocab_size, sizes.oov_pool, rng)
    n = sizes.batches * sizes.batch_size
    tokens, _ = zipf_tokens(vocab, oov, n * sizes.sequence_length, sizes.zipf_s, sizes.oov_rate, rng)
    rows = tokens.reshape(n, sizes.sequence_length)
    lengths = rng.integers(sizes.min_tokens, sizes.sequence_length + 1, size=n)
    rows[np.arange(sizes.sequence_length)[None, :] >= lengths[:, None]] = ""
    rows = rows.astype(str)
    positive = np.isin(rows, vocab[rng.random(len(vocab)) < 0.5])
    labels = (positive.sum(axis=1) > ((rows != "") & ~positive).sum(axis=1)).astype(np.float32)
    return vocab, rows, labels


def make_model(embedding: keras.layers.Layer, sizes: Sizes) -> keras.Model:
    inputs = keras.Input((sizes.sequence_length,), dtype="int64")
    x = embedding(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def pipeline(rows: tf.Tensor, labels: tf.Tensor | None, lookup: Callable[[Any], Any], batch: int) -> tf.data.Dataset:
    autotune = tf.data.AUTOTUNE
    if labels is None:
        data = tf.data.Dataset.from_tensor_slices(rows).batch(batch)
        return data.map(lookup, num_parallel_calls=autotune).prefetch(autotune)
    data = tf.data.Dataset.from_tensor_slices((rows, labels)).batch(batch)
    return data.map(lambda x, y: (lookup(x), y), num_parallel_calls=autotune).prefetch(autotune)


def timed(fn: Callable[[], Any]) -> Timing:
    start = start_clock()
    fn()
    return stop_clock(start)


def passes(dataset: tf.data.Dataset) -> None:
    for _ in dataset:
        pass


def run_case(case: Case, run_base: Callable[[], Timing], run_ours: Callable[[], Timing], repeats: int) -> Case:
    sides: list[InterleavedSide] = [(case.base, run_base, repeats), (case.ours, run_ours, repeats)]
    interleave(sides, repeats)
    print(
        f"  {case.name}: keras {case.rate(case.base):,.0f} ex/s, ours {case.rate(case.ours):,.0f} ex/s, "
        f"ratio {case.ratio:.2f}x (paired {min(case.paired):.2f}-{max(case.paired):.2f})"
    )
    print(f"    wall/cpu s, keras: {fmt_timings(case.base, 3)}")
    print(f"    wall/cpu s, ours:  {fmt_timings(case.ours, 3)}")
    sys.stdout.flush()
    return case


def bench(vocab_embedding: Any, sizes: Sizes, repeats: int) -> tuple[list[Case], list[str]]:
    rng = np.random.default_rng(SEED)
    vocab, rows, labels = make_rows(sizes, rng)
    n = len(rows)
    oov_share = 1 - np.isin(rows[rows != ""], vocab).mean()
    print(f"data: {n:,} rows of {sizes.sequence_length}, {(rows != '').mean():.0%} non-padding, OOV {oov_share:.3f}")

    keras_lookup = keras.layers.StringLookup(vocabulary=vocab.tolist(), mask_token="")
    ours_lookup, ours_embedding = vocab_embedding(sizes.output_dim, vocabulary=vocab.tolist(), mask_token="").halves()
    assert ours_lookup.get_vocabulary() == keras_lookup.get_vocabulary(), "vocabularies differ"
    tf_rows, tf_labels = tf.constant(rows), tf.constant(labels)
    same_ids = bool(np.array_equal(keras_lookup(tf_rows).numpy(), ours_lookup(tf_rows).numpy()))
    assert same_ids, "ids differ"

    keras.utils.set_random_seed(SEED)
    keras_embedding = keras.layers.Embedding(keras_lookup.vocabulary_size(), sizes.output_dim, mask_zero=True)
    base_model = make_model(keras_embedding, sizes)
    ours_model = make_model(ours_embedding, sizes)
    ours_embedding.set_weights(keras_embedding.get_weights())
    ours_model.layers[-1].set_weights(base_model.layers[-1].get_weights())

    base_train = pipeline(tf_rows, tf_labels, keras_lookup, sizes.batch_size)
    ours_train = pipeline(tf_rows, tf_labels, ours_lookup, sizes.batch_size)
    base_predict = pipeline(tf_rows, None, keras_lookup, sizes.batch_size)
    ours_predict = pipeline(tf_rows, None, ours_lookup, sizes.batch_size)

    # Warm-up: the first epoch traces and compiles; from the same weights both sides reach the same loss.
    base_loss = base_model.fit(base_train, epochs=1, verbose=0, shuffle=False).history["loss"][-1]
    ours_loss = ours_model.fit(ours_train, epochs=1, verbose=0, shuffle=False).history["loss"][-1]
    same_loss = bool(np.isclose(base_loss, ours_loss, rtol=1e-4, atol=1e-6))
    print(f"warm-up epoch loss: keras {base_loss:.6f}, ours {ours_loss:.6f}, equal: {same_loss}")
    assert same_loss, "losses differ"
    for model, data in ((base_model, base_predict), (ours_model, ours_predict)):
        model.predict(data, verbose=0)
    for data in (base_predict, ours_predict):
        passes(data)

    cases = [
        run_case(
            Case(f"train, model.fit 1 epoch ({sizes.batches} batches of {sizes.batch_size})", n, 1.0),
            lambda: timed(lambda: base_model.fit(base_train, epochs=1, verbose=0, shuffle=False)),
            lambda: timed(lambda: ours_model.fit(ours_train, epochs=1, verbose=0, shuffle=False)),
            repeats,
        ),
        run_case(
            Case("forward only, model.predict (informational)", n, None),
            lambda: timed(lambda: base_model.predict(base_predict, verbose=0)),
            lambda: timed(lambda: ours_model.predict(ours_predict, verbose=0)),
            repeats,
        ),
        run_case(
            Case("tf.data pass alone, strings -> ids (informational)", n, None),
            lambda: timed(lambda: passes(base_predict)),
            lambda: timed(lambda: passes(ours_predict)),
            repeats,
        ),
    ]
    notes = [
        f"- data: {n:,} rows of {sizes.sequence_length} tokens, {(rows != '').mean():.0%} non-padding, "
        f"OOV share {oov_share:.3f}, vocabulary {len(vocab):,} tokens ({keras_lookup.vocabulary_size():,} ids)",
        f"- same ids from both lookups on all rows: {same_ids}; same loss after the warm-up epoch: {same_loss} "
        f"({base_loss:.6f}, {ours_loss:.6f})",
        f"- jit_compile: keras model {base_model.jit_compile}, ours {ours_model.jit_compile}",
    ]
    return cases, notes


def markdown_table(cases: list[Case], backend: str) -> str:
    lines = [
        "| backend | case | keras median | ours median | ratio | target | pass/fail "
        "| paired ratios (min-max) | CPU-time ratio |",
        "|---|---|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for c in cases:
        target = "-" if c.target is None else f">= {c.target:.1f}x"
        verdict = "info" if c.target is None else ("PASS" if c.ratio >= c.target else "FAIL")
        lines.append(
            f"| {backend} | {c.name} | {c.rate(c.base):,.0f} ex/s | {c.rate(c.ours):,.0f} ex/s | {c.ratio:.2f}x "
            f"| {target} | {verdict} | {min(c.paired):.2f}-{max(c.paired):.2f} | {c.cpu_ratio:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__, "small sizes, smoke run", "interleaved repetitions per case")
    add_output_option(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = command_line()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (3 if args.quick else 15)
    vocab_embedding = import_from_package("VocabEmbedding")
    if vocab_embedding is None:
        raise SystemExit("keras_vocabsafe.VocabEmbedding is needed for this comparison.")
    backend = keras.backend.backend()
    print(f"backend: {backend}")
    started = time.perf_counter()
    load_before = os.getloadavg()
    cases, notes = bench(vocab_embedding, sizes, repeats)
    notes += [
        f"- repeats: {repeats}; wall time {time.perf_counter() - started:.0f} s",
        "- machine load (1-minute load average, other processes included) at start and end: "
        f"{load_before[0]:.1f}, {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
    ]
    intro = (
        "Throughput medians (wall clock, examples/s) over interleaved repetitions; ratio = ours / Keras (higher is "
        "better). Paired ratios: per repetition, Keras seconds / ours seconds. CPU-time ratio: median process CPU "
        "seconds, Keras / ours. Keras: StringLookup in tf.data + Embedding(mask_zero=True); ours: VocabLookup in "
        "tf.data + VocabIdEmbedding (from VocabEmbedding.halves())."
    )
    libraries = [f"- tensorflow: {tf.__version__}"]
    if backend == "jax":
        libraries.append(f"- jax: {dist_version('jax')} (jaxlib {dist_version('jaxlib')})")
    libraries.append(f"- keras: {keras.__version__} (backend {backend})")
    machine = machine_info(libraries, package_info(True))
    title = f"Every backend: the two halves vs StringLookup in tf.data + Embedding ({backend})"
    text = markdown_report(title, intro, markdown_table(cases, backend), notes, machine, command)
    emit_report(text, args.output)


if __name__ == "__main__":
    main()
