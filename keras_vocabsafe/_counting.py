"""Counting tokens for `adapt`: in-graph unique-with-counts, merged lazily.

Each batch is reduced to its distinct tokens and their counts by TensorFlow
ops (in parallel on tf.data's threads for datasets, in parallel shards for
one large tensor). The per-batch results are merged only when they grow
larger than what has been merged so far, so the total merge work stays
linear in the number of distinct tokens seen.

`classify_data` is the one place that decides what `adapt()` and `update_vocabulary(data=...)` received,
for `VocabEmbedding` and `TextVocabEmbedding` alike.

Memory is bounded by a budget of distinct tokens (`count_tokens`); past a quarter of the budget, counts
accumulate in one `MutableHashTable` that each piece is added into in place. Under the budget the counts are exact.
Past it, the counter keeps a Misra-Gries summary (the mergeable form of Agarwal et al., 2012): when more
than `budget` tokens are held, the (budget + 1)-th largest count is subtracted from every count and the
tokens left at zero or below are dropped. Each drop removes at least (budget + 1) times that amount from
the total, so the counts subtracted add up to at most `N / (budget + 1)` for `N` counted occurrences, and
every token seen more often than that survives. Data that can be read again (a dataset, an array, a list of
batches) is then read a second time to count exactly the tokens that survived: the result is exact for
every token seen more than `N / (budget + 1)` times and keeps exactly those (whatever order the data came in).
Data that can be read only once (a generator) keeps the summary's counts, each low by at most that bound.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple, cast

import numpy as np
import tensorflow as tf

from keras_vocabsafe._keys import as_array_like, sparse_tensor_error, to_keys
from keras_vocabsafe._progress import Progress, logger, say
from keras_vocabsafe._tokens import canonical_token
from keras_vocabsafe.errors import ConfigurationError, KeyDtypeError, VocabSafeError, VocabularyError

_SHARD_MIN_SIZE = 1 << 16
_MERGE_MIN_SIZE = 1 << 20
_NUM_SHARDS = max(1, min(8, os.cpu_count() or 1))

_PROGRESS_SECONDS = 10.0


class NoTokensFixes(NamedTuple):
    """The fixes offered when counting keeps no token: `no_tokens` when the data held none, `too_rare` when none
    reached `min_frequency`."""

    no_tokens: str
    too_rare: str


# What `adapt` offers. `vocabulary_from_files` and `ComputeVocabulary`, whose callers never made the layer that
# counts, offer their own.
ADAPT_FIXES = NoTokensFixes(
    no_tokens="Adapt on data that holds tokens (an iterator or generator read once already is empty), or pass "
    "`vocabulary=` to the layer.",
    too_rare="Lower `min_frequency`, or adapt on more data.",
)

DEFAULT_BUDGET = 1 << 20
"""Distinct tokens counted at once by default (1,048,576): exact below it. Counting peaks near 250 bytes per
token of budget (the summary, as many pending tokens, and the merge's hash map), about 250 MB."""


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


def weighted_counts(keys: tf.Tensor | tf.RaggedTensor, weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Distinct keys and the sum of their examples' weights (`weights`: int64, one per example, i.e. per row)."""
    flat = _flat_values(keys)
    if isinstance(keys, tf.RaggedTensor):
        per_row = keys.merge_dims(1, -1).row_lengths() if keys.shape.rank > 2 else keys.row_lengths()
    elif keys.shape.rank == 0:
        per_row, weights = tf.ones([1], tf.int64), tf.reshape(weights, [1])
    else:
        per_row = tf.fill([tf.shape(keys, out_type=tf.int64)[0]], tf.reduce_prod(tf.shape(keys, out_type=tf.int64)[1:]))
    checks = [
        tf.debugging.assert_equal(
            tf.size(weights, out_type=tf.int64),
            tf.size(per_row, out_type=tf.int64),
            message=f"{_WEIGHTS_MARK} the number of weights differs from the number of examples",
        ),
        tf.debugging.assert_non_negative(weights, message=f"{_WEIGHTS_MARK} a weight is negative"),
    ]
    with tf.control_dependencies(checks):
        token_weights = tf.repeat(tf.reshape(weights, [-1]), per_row)
    unique, index = tf.unique(flat, out_idx=tf.int64)
    return unique, tf.math.unsorted_segment_sum(token_weights, index, tf.size(unique, out_type=tf.int64))


_WEIGHTS_MARK = "keras_vocabsafe weights:"


_MAX_FLOAT_WEIGHT = 2**53


def integer_weights(weights: Any, *, owner: str = "keras_vocabsafe") -> np.ndarray:
    """Example weights as an int64 array, or a `ConfigurationError` naming the first weight that is not allowed.

    Weights must be non-negative whole numbers (ints, or floats such as
    `2.0`, up to 2**53): sums of integers are the same in every order of
    addition, so every counting path (`adapt`, `vocabsafe vocab build`, any
    Beam runner) orders tokens the same way. Scale fractional weights to
    integers first, e.g. `round(weight * 1000)`.

    Args:
        weights: a scalar or a 1-D sequence or array of weights.
        owner: names the caller in error messages.
    """
    values = np.asarray(weights)
    if values.dtype == object or values.dtype.kind not in "biuf" or values.dtype.kind == "b":
        shown = values.reshape(-1)[:1].tolist()
        raise ConfigurationError(
            f"{owner} takes whole-number example weights. Received: a weight of type "
            f"{type(shown[0]).__name__ if shown else values.dtype} ({shown[0] if shown else ''!r}). "
            "Pass ints (or floats with whole values, e.g. 2.0)."
        )
    flat = values.reshape(-1)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(flat) | (flat != np.floor(flat)) | (flat < 0) | (flat > _MAX_FLOAT_WEIGHT)
    else:
        bad = flat < 0
    if bad.any():
        value = flat[int(np.argmax(bad))].item()
        raise ConfigurationError(
            f"{owner} takes non-negative whole-number example weights. Received: weight {value!r}. Sums of "
            "fractions depend on the order of additions, which differs between runs and runners, so they could "
            "order tokens differently; scale the weights to integers first, e.g. `round(weight * 1000)`."
        )
    if values.dtype.kind == "u" and flat.size and flat.max() > 2**63 - 1:
        raise ConfigurationError(f"{owner}: weight {flat.max()} does not fit in int64.")
    return values.astype(np.int64)


def check_weights(weights: Any, owner: str) -> np.ndarray | Literal[True] | None:
    """`weights` as given to `adapt`: None, True (pairs in the data), or a 1-D int64 array of repeat counts."""
    if weights is None or weights is True:
        return weights
    if hasattr(weights, "numpy"):
        weights = weights.numpy()
    values = np.asarray(getattr(weights, "to_numpy", lambda: weights)())
    if values.ndim != 1:
        raise ConfigurationError(
            f"{owner}: `weights` must be 1-D, one weight per example (each example's tokens count that many times), "
            f"or True for a dataset of (keys, weights) pairs. Received: shape {values.shape}."
        )
    values = integer_weights(values, owner=owner)
    return values.astype(np.int64)


def weights_error(error: tf.errors.OpError, owner: str) -> Exception:
    """A typed error for a failed weights check inside a graph, or the error itself."""
    message = getattr(error, "message", str(error))
    if _WEIGHTS_MARK not in message:
        return error
    reason = message.split(_WEIGHTS_MARK, 1)[1].split("\n", 1)[0].strip()
    return ConfigurationError(
        f"{owner}: in `data`, {reason}. Give one non-negative integer weight per example: for a dataset, elements "
        "(keys, weights) with weights of shape (batch,)."
    )


_unique_counts_graph = {
    dtype: tf.function(_unique_counts, input_signature=[tf.TensorSpec([None], dtype)])
    for dtype in (tf.string, tf.int64)
}


class TokenCounter:
    """Accumulates token counts over batches of keys, holding at most about `budget` distinct tokens.

    With `budget=None` every distinct token is kept (exact, unbounded). Past the budget the counts form a
    Misra-Gries summary (see the module docstring); `bound` is then the most any count can be low by.
    """

    def __init__(self, vocabulary_dtype: str, owner: str, budget: int | None = None) -> None:
        self._vocabulary_dtype = vocabulary_dtype
        self._tf_dtype = tf.string if vocabulary_dtype == "string" else tf.int64
        self._owner = owner
        self._budget = budget
        self._tokens = tf.zeros([0], self._tf_dtype)
        self._counts = tf.zeros([0], tf.int64)
        self._pending: list[tuple[tf.Tensor, tf.Tensor]] = []
        self._pending_size = 0
        self.bound = 0  # What Misra-Gries pruning has subtracted from every count, in all.
        self.total = 0  # Occurrences counted.
        self._started = self._reported = time.monotonic()
        self.progress: Progress | None = None  # Told the tokens counted so far after each piece.
        # Past a quarter of the budget, the counts move into one hash table that pieces are added into in place:
        # no concatenated copy of the summary and the pending pieces, and no second hash map to merge them, at
        # every flush. Below it, merging by concatenation is faster, and small enough.
        self._table: Any = None
        self._table_from = None if budget is None else max(budget // 4, 1)

    def update(self, batch: Any, weights: np.ndarray | None = None) -> None:
        """Counts one batch: an array, list, tensor or ragged tensor of keys (each example `weights[i]` times)."""
        batch = normalize_batch(batch, self._owner)
        if weights is not None:
            keys = to_keys(batch, self._vocabulary_dtype, owner=self._owner, argument="data")
            try:
                self._add(*weighted_counts(keys, tf.constant(weights, tf.int64)))
            except tf.errors.InvalidArgumentError as error:
                raise weights_error(error, self._owner) from None
            return
        if isinstance(batch, np.ndarray) and batch.dtype.kind in "US" and self._vocabulary_dtype == "string":
            self._update_from_numpy_strings(batch)
            return
        flat = _flat_values(to_keys(batch, self._vocabulary_dtype, owner=self._owner, argument="data"))
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
            keys = _encode_utf8(tokens.tolist()) if array.dtype.kind == "U" else tokens
            self._add(tf.constant(keys, dtype=tf.string), tf.constant(counts, dtype=tf.int64))

    def update_from_dataset(self, dataset: tf.data.Dataset, steps: int | None, weighted: bool = False) -> None:
        """Counts every element of a dataset of keys (or of (keys, weights) pairs), on tf.data's parallel threads."""
        if steps is not None:
            dataset = dataset.take(steps)
        vocabulary_dtype, owner = self._vocabulary_dtype, self._owner

        # Not converted by AutoGraph, which would turn the typed error of keys of another dtype into a StagingError.
        @tf.autograph.experimental.do_not_convert
        def count(batch, weights=None):
            keys = to_keys(batch, vocabulary_dtype, owner=owner, argument="data")
            if weighted:
                return weighted_counts(keys, tf.cast(weights, tf.int64))
            tokens, _, counts = tf.unique_with_counts(_flat_values(keys), out_idx=tf.int64)
            return tokens, counts

        # A fixed, small number of counted pieces in flight: AUTOTUNE may buffer dozens, each as large as a batch's
        # distinct tokens, which a memory budget cannot afford.
        in_flight = _NUM_SHARDS if self._budget is not None else tf.data.AUTOTUNE
        counted = dataset.map(count, num_parallel_calls=in_flight, deterministic=False)
        try:
            for tokens, counts in counted.prefetch(2 if self._budget is not None else tf.data.AUTOTUNE):
                self._add(tokens, counts)
        except tf.errors.InvalidArgumentError as error:
            raise weights_error(error, owner) from None

    def update_from_iterable(self, batches: Iterable[Any], steps: int | None, weighted: bool = False) -> None:
        for step, batch in enumerate(batches):
            if steps is not None and step >= steps:
                break
            if weighted:
                self.update(*split_pair(batch, self._owner))
            else:
                self.update(batch)

    def _add(self, tokens: tf.Tensor, counts: tf.Tensor) -> None:
        self._pending.append((tokens, counts))
        self._pending_size += int(tokens.shape[0])
        self.total += int(tf.reduce_sum(counts))
        if self.progress is not None:
            self.progress.update(self.total)
        # Merging costs O(tokens merged so far): wait until the pending pieces outweigh them (and, with a
        # budget, no longer than the budget, which bounds the memory they take).
        threshold = max(4 * int(self._tokens.shape[0]), _MERGE_MIN_SIZE)
        if self._budget is not None:
            threshold = min(threshold, max(self._budget // 2, 1 << 16))
        if self._pending_size > threshold:
            self._flush()
        now = time.monotonic()
        if now - self._reported >= _PROGRESS_SECONDS:  # Long runs say how far they got (logging, INFO).
            self._reported = now
            logger.info(
                "%s: counted %s tokens in %.0f s, %s distinct so far%s",
                self._owner,
                f"{self.total:,}",
                now - self._started,
                f"{self._held():,}",
                f" (budget {self._budget:,}; counts low by at most {self.bound:,})" if self.bound else "",
            )

    def _held(self) -> int:
        return int(self._tokens.shape[0]) if self._table is None else int(self._table.size())

    def _flush(self) -> None:
        if not self._pending:
            return
        budget = cast(int, self._budget)  # Set whenever the hash table exists.
        if self._table is not None:
            for tokens, counts in self._pending:  # Each piece's tokens are distinct: one lookup, one insert.
                self._table.insert(tokens, self._table.lookup(tokens) + counts)
            self._pending, self._pending_size = [], 0
            if int(self._table.size()) > budget:
                self._prune()
            return
        tokens = tf.concat([self._tokens] + [t for t, _ in self._pending], 0)
        counts = tf.concat([self._counts] + [c for _, c in self._pending], 0)
        self._pending, self._pending_size = [], 0
        self._tokens, self._counts = _merge(tokens, counts)
        if self._table_from is not None and int(self._counts.shape[0]) > self._table_from:
            self._table = tf.lookup.experimental.MutableHashTable(self._tf_dtype, tf.int64, default_value=0)
            self._table.insert(self._tokens, self._counts)
            self._tokens, self._counts = tf.zeros([0], self._tf_dtype), tf.zeros([0], tf.int64)
            if int(self._table.size()) > budget:
                self._prune()

    def _prune(self) -> None:
        """Misra-Gries: subtract the (budget + 1)-th largest count from all, and drop the counts left at zero."""
        budget = cast(int, self._budget)  # Pruning happens only under a budget.
        tokens, counts = self._table.export()
        counts = counts.numpy()
        cut = int(np.partition(counts, len(counts) - budget - 1)[len(counts) - budget - 1])
        keep = counts > cut
        self._table.remove(tf.boolean_mask(tokens, ~keep))
        self._table.insert(tf.boolean_mask(tokens, keep), tf.constant(counts[keep] - cut))
        self.bound += cut

    def _summary(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The tokens held and their counts (after the pending pieces are added)."""
        self._flush()
        if self._table is None:
            return self._tokens, self._counts
        return self._table.export()

    @property
    def pruned(self) -> bool:
        """Whether the budget was exceeded, so that counts may be low by up to `bound`."""
        return self.bound > 0

    def candidates(self) -> tf.Tensor:
        """The tokens the summary holds: every token seen more than `bound` times is among them."""
        return self._summary()[0]

    def result(self) -> tuple[list[Any], np.ndarray]:
        """Distinct tokens (bytes or int) and their counts, in no particular order."""
        tokens, counts = self._summary()
        return tokens.numpy().tolist(), counts.numpy()


class _RecountCounter(TokenCounter):
    """Counts, exactly, only the given candidate tokens: the second reading of data past the budget."""

    def __init__(self, candidates: tf.Tensor, vocabulary_dtype: str, owner: str) -> None:
        super().__init__(vocabulary_dtype, owner)
        self._candidates = candidates
        with tf.init_scope():
            self._table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    candidates, tf.range(tf.size(candidates, out_type=tf.int64), dtype=tf.int64)
                ),
                default_value=-1,
            )
        self._exact = np.zeros(int(candidates.shape[0]), dtype=np.int64)

    def _add(self, tokens: tf.Tensor, counts: tf.Tensor) -> None:
        index = self._table.lookup(tokens).numpy()
        found = index >= 0
        # The tokens of one piece are distinct, so their indices are too: a plain indexed add is exact.
        self._exact[index[found]] += counts.numpy()[found]
        self.total += int(tf.reduce_sum(counts))
        if self.progress is not None:
            self.progress.update(self.total)

    def result(self) -> tuple[list[Any], np.ndarray]:
        return self._candidates.numpy().tolist(), self._exact


def split_pair(element: Any, owner: str) -> tuple[Any, np.ndarray | None]:
    if not (isinstance(element, (tuple, list)) and len(element) == 2):
        raise ConfigurationError(
            f"{owner}: with weights=True, each batch of `data` must be a (keys, weights) pair. Received: "
            f"{type(element).__name__}."
        )
    weights = check_weights(element[1], owner)
    if weights is True:
        raise ConfigurationError(
            f"{owner}: with weights=True, the weights of each (keys, weights) pair in `data` must be one integer per "
            "example. Received: True."
        )
    return element[0], weights


def count_tokens(
    feed: Callable[[TokenCounter], None],
    vocabulary_dtype: str,
    owner: str,
    *,
    budget: int | None,
    readable_again: bool,
    verbose: int = 0,
    action: str = "adapt()",
) -> tuple[list[Any], np.ndarray]:
    """Distinct tokens and their counts from `feed(counter)`, holding at most about `budget` tokens at once.

    Under the budget the counts are exact. Past it, `feed` runs a second time when the data can be read again
    (`readable_again`), to count exactly the tokens of the Misra-Gries summary; otherwise the summary's counts
    are returned with a warning. Either way, only tokens seen at most `N / (budget + 1)` times can be missing.
    `verbose` (0, 1 or 2, see `_progress`) shows the tokens counted as they are; `action` names the caller's
    method in the summary, which is logged at INFO whatever `verbose` says.
    """
    what = f"{owner}.{action}"
    logger.info("%s: counting tokens%s", what, "" if budget is None else f" (budget {budget:,} distinct)")
    counter = TokenCounter(vocabulary_dtype, owner, budget=budget)
    counter.progress = progress = Progress(verbose, unit_name="token")
    feed(counter)
    counter._flush()  # The last pieces may take the summary past the budget.
    held, bound = counter._held(), counter.bound
    if counter.pruned:
        found = f"the {held:,} most frequent held within the budget of {budget:,} (counts low by at most {bound:,})"
    else:
        found = f"{held:,} distinct"
    progress.close(f"{what}: counted {counter.total:,} tokens, {found}, in {progress.seconds:.1f} s")
    if not counter.pruned:
        return without_unseen(*counter.result())
    threshold = counter.total // (cast(int, budget) + 1)  # Pruned, so a budget was set.
    if not held:
        # Every token was rare (distinct ids, each seen once): the summary kept none, so none can be recounted or
        # kept, whether or not the data can be read again.
        _refuse_all_rare(what, counter.total, cast(int, budget), threshold)
    if readable_again:
        candidates = counter.candidates()
        recount = _RecountCounter(candidates, vocabulary_dtype, owner)
        say(verbose, f"{what}: reading the data a second time to count the {held:,} most frequent tokens exactly")
        recount.progress = progress = Progress(verbose, target=counter.total, unit_name="token")
        feed(recount)
        progress.close(f"{what}: recounted {recount.total:,} tokens in {progress.seconds:.1f} s")
        if recount.total == counter.total:
            # Keep exactly the tokens seen more than N / (budget + 1) times: all of them survived the summary, and
            # the rest of the tail that happened to survive depends on the order the data came in.
            tokens, counts = recount.result()
            keep = counts > threshold
            if not keep.any():
                _refuse_all_rare(what, counter.total, cast(int, budget), threshold)
            return without_unseen([token for token, kept in zip(tokens, keep.tolist()) if kept], counts[keep])
        # The second reading held other data (a shuffled or random pipeline, a stream): keep the summary.
        warnings.warn(
            f"{owner} read {counter.total:,} tokens from `data` the first time and {recount.total:,} the second, so "
            f"it keeps the first reading's counts, each low by up to {bound:,}. Make the data give the same tokens "
            "each time it is read, or raise `budget` above its number of distinct tokens.",
            UserWarning,
            stacklevel=4,
        )
    else:
        warnings.warn(
            f"{owner} counted more distinct tokens than its budget ({budget:,}) in data that can be read only once "
            f"(a generator or iterator), so each count may be low by up to {bound:,} occurrences and tokens seen "
            f"{bound:,} times or fewer may be missing. Pass a tf.data.Dataset, an array or a list of batches (read "
            "twice for exact counts), or raise `budget`.",
            UserWarning,
            stacklevel=4,
        )
    return without_unseen(*counter.result())


def _refuse_all_rare(what: str, total: int, budget: int, threshold: int) -> None:
    raise VocabularyError(
        f"{what} counted {total:,} tokens, more distinct ones than its budget of {budget:,}, and none was seen more "
        f"than {threshold:,} time(s), the count a token needs to be kept past the budget (N / (budget + 1)): the "
        "vocabulary would hold no token. Raise `budget` above the number of distinct tokens (counting holds about "
        "250 bytes per token of budget), or pass `budget=None` to count every token exactly."
    )


def without_unseen(tokens: list[Any], counts: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Leaves out tokens counted zero times (only examples of weight 0 held them)."""
    if counts.size and counts.min() == 0:
        keep = np.flatnonzero(counts)
        return [tokens[i] for i in keep], counts[keep]
    return tokens, counts


def is_readable_again(kind: str, data: Any) -> bool:
    """Whether `classify_data`'s data can be read a second time with the same content."""
    # An iterable whose iter() is itself (a generator, an iterator, a file) is used up by one reading.
    return kind in ("dataset", "batch") or isinstance(data, Sequence) or iter(data) is not data


def check_budget(budget: Any, owner: str) -> int | None:
    if budget is None:
        return None
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ConfigurationError(
            f"{owner}: `budget` must be a positive integer (the most distinct tokens counted at once) or None (no "
            f"bound). Received: budget={budget!r}"
        )
    return int(budget)


def _encode_utf8(tokens: list[str]) -> list[bytes]:
    try:
        return [token.encode("utf-8") for token in tokens]
    except UnicodeEncodeError:
        # canonical_token raises the explanatory error for the token that cannot be encoded.
        return cast("list[bytes]", [canonical_token(token, "string") for token in tokens])


def classify_data(
    data: Any, owner: str, *, dataset_error: type[VocabSafeError] = ConfigurationError, weighted: bool = False
) -> tuple[str, Any]:
    """What kind of data `adapt()` / `update_vocabulary(data=...)` received, and the data to count.

    Returns `("dataset", dataset)`, `("batch", keys)` for one batch (a NumPy array, list, tensor or ragged
    tensor; a pandas/polars Series or Index arrives as its NumPy array) or `("batches", iterable)`.
    Refuses, with the fix, data whose iteration would yield something other than tokens: a mapping or data
    frame iterates over its keys, a string over its characters. `dataset_error` is the error type raised
    for a dataset of dicts or tuples.
    """
    if data is None or isinstance(data, (str, bytes, int, float, bool, np.generic)):
        raise KeyDtypeError(
            f"{owner} learns tokens from `data`, a collection of tokens, not a single {type(data).__name__} "
            f"({data!r}). Wrap it in a list, e.g. `[token]`, or pass a dataset or array of tokens."
        )
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if weighted:
            if not (isinstance(spec, tuple) and len(spec) == 2 and getattr(spec[1], "dtype", tf.string).is_integer):
                raise ConfigurationError(
                    f"{owner}: with weights=True, a dataset must yield (keys, weights) pairs with integer weights, "
                    f"one per example. Received element_spec={spec}."
                )
            spec = spec[0]
        _check_dataset_elements(spec, owner, dataset_error)
        return "dataset", data
    if weighted:
        is_pairs = isinstance(data, (list, tuple)) and all(isinstance(e, (list, tuple)) and len(e) == 2 for e in data)
        if not is_pairs and (
            isinstance(data, (list, tuple, np.ndarray, tf.Tensor, tf.RaggedTensor)) or not hasattr(data, "__iter__")
        ):
            raise ConfigurationError(
                f"{owner}: weights=True reads (keys, weights) pairs from a tf.data.Dataset or an iterable of "
                "batches. For one array of keys, pass its weights instead: `adapt(keys, weights=weights)`."
            )
        return "batches", data
    data = normalize_batch(data, owner)
    if isinstance(data, (list, tuple, np.ndarray, tf.Tensor, tf.RaggedTensor, tf.Variable)):
        return "batch", data
    if hasattr(data, "__iter__"):
        return "batches", data
    raise KeyDtypeError(
        f"{owner} learns tokens from `data`: an array, list, tensor, ragged tensor, pandas Series, tf.data.Dataset or "
        f"iterable of batches as `data`. Received: data of type {type(data).__name__}."
    )


def normalize_batch(batch: Any, owner: str) -> Any:
    """One batch of `data` as something `to_keys` converts in one go, or a typed error saying how to fix it."""
    if isinstance(batch, tf.SparseTensor):
        raise sparse_tensor_error(owner, "data")
    if isinstance(batch, Mapping):
        raise _columns_error(owner, "a mapping", "keys", list(batch))
    columns = getattr(batch, "columns", None)
    if columns is not None and not isinstance(batch, (np.ndarray, tf.Tensor, tf.RaggedTensor)):
        raise _columns_error(owner, f"a data frame ({type(batch).__name__})", "columns", list(columns))
    return as_array_like(batch)


def _columns_error(owner: str, what: str, names: str, keys: list[Any]) -> ConfigurationError:
    shown = ", ".join(repr(key) for key in keys[:10]) + (f", ... ({len(keys)} in all)" if len(keys) > 10 else "")
    example = repr(keys[0]) if keys else "'tokens'"
    return ConfigurationError(
        f"{owner} learns tokens from `data`, which received {what} with {names} [{shown}]: it would learn "
        f"those {names} instead of the data. Pass the one that holds the tokens, e.g. "
        f"`adapt(data[{example}])` or `update_vocabulary(data=data[{example}])`."
    )


def _check_dataset_elements(spec: Any, owner: str, error: type[VocabSafeError]) -> None:
    if isinstance(spec, (tf.TensorSpec, tf.RaggedTensorSpec)):
        return
    if isinstance(spec, tf.SparseTensorSpec):
        raise error(
            f"{owner} learns tokens from a dataset whose elements are tensors of keys; this one yields "
            "tf.SparseTensor. Map it to dense or ragged keys first, e.g. `dataset.map(tf.sparse.to_dense)`."
        )
    if isinstance(spec, Mapping):
        key = next(iter(spec), "tokens")
        fix = f"`dataset.map(lambda x: x[{key!r}])`"
        shape = f"dicts with keys {list(spec)}"
    elif isinstance(spec, tuple):
        fix = "`dataset.map(lambda x, y: x)`" if len(spec) == 2 else "`dataset.map(lambda *x: x[0])`"
        shape = f"tuples of {len(spec)}"
    else:
        fix, shape = "`dataset.map(...)`", type(spec).__name__
    raise error(
        f"{owner} learns tokens from a dataset whose elements are tensors of keys; this one yields {shape} "
        f"(element_spec={spec}). Map it to the tokens first, e.g. {fix}."
    )
