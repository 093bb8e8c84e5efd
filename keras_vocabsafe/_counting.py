"""Counting tokens for `adapt`: in-graph unique-with-counts, merged lazily.

Each batch is reduced to its distinct tokens and their counts by TensorFlow
ops (in parallel on tf.data's threads for datasets, in parallel shards for
one large tensor). The per-batch results are merged only when they grow
larger than what has been merged so far, so the total merge work stays
linear in the number of distinct tokens seen.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import tensorflow as tf

from keras_vocabsafe._keys import to_keys
from keras_vocabsafe.errors import ConfigurationError, KeyDtypeError
from keras_vocabsafe.vocabulary import canonical_token

_SHARD_MIN_SIZE = 1 << 16
_MERGE_MIN_SIZE = 1 << 20
_NUM_SHARDS = max(1, min(8, os.cpu_count() or 1))


def _flat_values(keys: tf.Tensor | tf.RaggedTensor) -> tf.Tensor:
    if isinstance(keys, tf.RaggedTensor):
        return keys.flat_values
    return tf.reshape(keys, [-1])


def _merge(tokens: tf.Tensor, counts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    unique, index = tf.unique(tokens, out_idx=tf.int64)
    return unique, tf.math.unsorted_segment_sum(counts, index, tf.size(unique, out_type=tf.int64))


def _unique_counts(flat: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Distinct values and their counts, in `_NUM_SHARDS` independent parallel pieces."""
    size = tf.size(flat, out_type=tf.int64)
    if _NUM_SHARDS == 1:
        tokens, _, counts = tf.unique_with_counts(flat, out_idx=tf.int64)
        return tokens, counts
    bounds = [size * i // _NUM_SHARDS for i in range(_NUM_SHARDS + 1)]
    pieces = [tf.unique_with_counts(flat[bounds[i] : bounds[i + 1]], out_idx=tf.int64) for i in range(_NUM_SHARDS)]
    return _merge(tf.concat([p.y for p in pieces], 0), tf.concat([p.count for p in pieces], 0))


_unique_counts_graph = {
    dtype: tf.function(_unique_counts, input_signature=[tf.TensorSpec([None], dtype)])
    for dtype in (tf.string, tf.int64)
}


class TokenCounter:
    """Accumulates token counts over batches of keys."""

    def __init__(self, vocabulary_dtype: str, owner: str) -> None:
        self._vocabulary_dtype = vocabulary_dtype
        self._tf_dtype = tf.string if vocabulary_dtype == "string" else tf.int64
        self._owner = owner
        self._tokens = tf.zeros([0], self._tf_dtype)
        self._counts = tf.zeros([0], tf.int64)
        self._pending: list[tuple[tf.Tensor, tf.Tensor]] = []
        self._pending_size = 0

    def update(self, batch: Any) -> None:
        """Counts one batch: an array, list, tensor or ragged tensor of keys."""
        if isinstance(batch, np.ndarray) and batch.dtype.kind in "US" and self._vocabulary_dtype == "string":
            self._update_from_numpy_strings(batch)
            return
        flat = _flat_values(to_keys(batch, self._vocabulary_dtype, owner=self._owner))
        if flat.shape[0] is not None and flat.shape[0] < _SHARD_MIN_SIZE:
            tokens, _, counts = tf.unique_with_counts(flat, out_idx=tf.int64)
        else:
            tokens, counts = _unique_counts_graph[self._tf_dtype](flat)
        self._add(tokens, counts)

    def _update_from_numpy_strings(self, array: np.ndarray) -> None:
        # NumPy counts its fixed-width strings without first copying each one into a
        # tf.string tensor, which costs as much as the counting itself. Its sort
        # releases the GIL, so pieces are counted on parallel threads.
        flat = array.reshape(-1)
        if flat.size < _SHARD_MIN_SIZE or _NUM_SHARDS == 1:
            pieces = [np.unique(flat, return_counts=True)]
        else:
            bounds = [flat.size * i // _NUM_SHARDS for i in range(_NUM_SHARDS + 1)]
            with ThreadPoolExecutor(_NUM_SHARDS) as pool:
                pieces = list(
                    pool.map(
                        lambda i: np.unique(flat[bounds[i] : bounds[i + 1]], return_counts=True), range(_NUM_SHARDS)
                    )
                )
        for tokens, counts in pieces:
            if array.dtype.kind == "U":
                tokens = _encode_utf8(tokens.tolist())
            self._add(tf.constant(tokens, dtype=tf.string), tf.constant(counts, dtype=tf.int64))

    def update_from_dataset(self, dataset: tf.data.Dataset, steps: int | None) -> None:
        """Counts every element of a dataset of keys, on tf.data's parallel threads."""
        spec = dataset.element_spec
        if not isinstance(spec, (tf.TensorSpec, tf.RaggedTensorSpec)):
            raise ConfigurationError(
                f"{self._owner}.adapt() takes a dataset whose elements are tensors of keys. Received a "
                f"dataset with element_spec={spec}. If it yields (inputs, targets), pass "
                "`dataset.map(lambda x, y: x)`."
            )
        if steps is not None:
            dataset = dataset.take(steps)
        vocabulary_dtype, owner = self._vocabulary_dtype, self._owner

        def count(batch):
            flat = _flat_values(to_keys(batch, vocabulary_dtype, owner=owner))
            tokens, _, counts = tf.unique_with_counts(flat, out_idx=tf.int64)
            return tokens, counts

        counted = dataset.map(count, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        for tokens, counts in counted.prefetch(tf.data.AUTOTUNE):
            self._add(tokens, counts)

    def update_from_iterable(self, batches: Iterable[Any], steps: int | None) -> None:
        for step, batch in enumerate(batches):
            if steps is not None and step >= steps:
                break
            self.update(batch)

    def _add(self, tokens: tf.Tensor, counts: tf.Tensor) -> None:
        self._pending.append((tokens, counts))
        self._pending_size += int(tokens.shape[0])
        # Merging costs O(tokens merged so far): wait until the pending pieces outweigh them.
        if self._pending_size > max(4 * int(self._tokens.shape[0]), _MERGE_MIN_SIZE):
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        tokens = tf.concat([self._tokens] + [t for t, _ in self._pending], 0)
        counts = tf.concat([self._counts] + [c for _, c in self._pending], 0)
        self._tokens, self._counts = _merge(tokens, counts)
        self._pending, self._pending_size = [], 0

    def result(self) -> tuple[list[Any], np.ndarray]:
        """Distinct tokens (bytes or int) and their counts, in no particular order."""
        self._flush()
        tokens = self._tokens.numpy()
        return tokens.tolist(), self._counts.numpy()


def _encode_utf8(tokens: list[str]) -> list[bytes]:
    try:
        return [token.encode("utf-8") for token in tokens]
    except UnicodeEncodeError:
        return [canonical_token(token, "string") for token in tokens]  # Raises the explanatory error.


def check_data_kind(data: Any, owner: str) -> None:
    if isinstance(data, (str, bytes)):
        raise KeyDtypeError(
            f"{owner}.adapt() takes a collection of tokens, not a single {type(data).__name__}. "
            "Wrap it in a list, or pass a dataset or array of tokens."
        )
