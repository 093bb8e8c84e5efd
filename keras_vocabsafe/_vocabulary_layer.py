"""The vocabulary half every layer of this package shares: tokens, special slots, `adapt`, config.

`VocabLookup` (keys to ids), `VocabIdEmbedding` (ids to vectors) and
`VocabEmbedding` (keys to vectors) all derive from `VocabularyLayer`, so the
ids a lookup gives are the rows an embedding holds: the same tokens, the same
special slots, the same order, the same config entries and the same
`vocabulary_fingerprint`.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import _compat
from keras_vocabsafe._counting import (
    ADAPT_FIXES,
    DEFAULT_BUDGET,
    NoTokensFixes,
    TokenCounter,
    check_budget,
    check_weights,
    classify_data,
    count_tokens,
    is_readable_again,
)
from keras_vocabsafe._progress import check_verbose, say
from keras_vocabsafe._tokens import (
    canonical_token,
    decode_tokens,
    display_token,
    encode_tokens,
    standardize_dtype,
    tokens_fingerprint,
)
from keras_vocabsafe.errors import (
    ConfigurationError,
    KeyDtypeError,
    NotAdaptedError,
    QuantizationError,
    ReservedTokenError,
    UnknownIdError,
    VocabularyChangeError,
    VocabularyError,
    VocabularyMismatchError,
)
from keras_vocabsafe.vocabulary import Vocabulary, _as_vocabulary

__all__ = ["VocabularyLayer"]

_DEFAULT_OOV_TOKENS = {"string": "[UNK]", "int64": -1}


class VocabularyLayer(keras.layers.Layer):
    """Base class of the layers that own a vocabulary (not used on its own).

    Ids are laid out as in Keras's lookup layers: the mask token, when set,
    has id 0; the next `num_oov_indices` ids are out-of-vocabulary rows; the
    vocabulary's tokens follow in order. A vocabulary that lists the special
    tokens itself keeps its own ids instead: each token's position is its
    id, the mask and OOV tokens included (a BERT or keras-hub `vocab.txt`
    with `[PAD]` at 0 and `[UNK]` at 100; a `get_vocabulary()` list, whose
    special tokens come first, gives Keras's layout this way too).
    Subclasses call `self.set_vocabulary(vocabulary)` at the end of their
    `__init__`.
    """

    # What a layer without vocabulary cannot know, for its NotAdaptedError.
    _unknown_without_vocabulary = "the id of every key is unknown"

    def __init__(
        self,
        *,
        vocabulary_dtype: str = "string",
        max_tokens: int | None = None,
        min_frequency: int | None = None,
        num_oov_indices: int = 1,
        mask_token: Any = None,
        oov_token: Any = None,
        **kwargs: Any,
    ) -> None:
        vocabulary_dtype = standardize_dtype(vocabulary_dtype)
        if not _is_int(num_oov_indices) or num_oov_indices < 1:
            raise ConfigurationError(
                f"`num_oov_indices` must be an integer of at least 1. Received: num_oov_indices={num_oov_indices!r}. "
                "Every key outside the vocabulary needs a row to map to."
            )
        if min_frequency is not None and (not _is_int(min_frequency) or min_frequency < 1):
            raise ConfigurationError(
                f"`min_frequency` must be a positive integer or None. Received: min_frequency={min_frequency!r}"
            )
        if oov_token is None:
            oov_token = _DEFAULT_OOV_TOKENS[vocabulary_dtype]
        mask_token = _validate_special_token(mask_token, "mask_token", vocabulary_dtype, optional=True)
        oov_token = _validate_special_token(oov_token, "oov_token", vocabulary_dtype, optional=False)
        if mask_token is not None and mask_token == oov_token:
            raise ConfigurationError(
                f"`mask_token` and `oov_token` must differ. Received: both {mask_token!r}. Padding and unknown "
                "keys need different ids: pass another `mask_token` (or None, for no padding), or another `oov_token`."
            )
        _check_max_tokens(max_tokens, mask_token is not None, int(num_oov_indices))
        super().__init__(**kwargs)
        # Keys are strings or ids, never floats: take inputs as they come.
        _compat.accept_any_inputs(self)
        self.autocast = False

        self.vocabulary_dtype = vocabulary_dtype
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.min_frequency = None if min_frequency is None else int(min_frequency)
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self._vocabulary: Vocabulary | None = None
        # Where the mask and OOV ids are, for a vocabulary that lists its special tokens at ids other than Keras's
        # (mask id or None, OOV id); None for Keras's layout.
        self._special_positions: tuple[int | None, int] | None = None

    # Vocabulary -----------------------------------------------------------------

    @property
    def vocabulary(self) -> Vocabulary | None:
        """The `Vocabulary` of regular tokens, or `None` before `adapt()`."""
        return self._vocabulary

    def _owner(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _num_special_tokens(self) -> int:
        return (self.mask_token is not None) + self.num_oov_indices

    def _kept_whatever_counts(self) -> Collection[Any]:
        """Tokens a counted vocabulary keeps whatever their counts (a text layer's `reserved_tokens`)."""
        return ()

    def _most_frequent(self, vocabulary: Vocabulary, max_tokens: int | None) -> Vocabulary:
        return _most_frequent(
            vocabulary, max_tokens, self._num_special_tokens(), self.min_frequency, self._kept_whatever_counts()
        )

    def _oov_start(self) -> int:
        return int(self.mask_token is not None)

    def _require_vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            raise NotAdaptedError(
                f"{self._owner()} has no vocabulary yet, so {self._unknown_without_vocabulary}. Either "
                "pass a `vocabulary` argument to the layer, or call `adapt(data)` before using it."
            )
        return self._vocabulary

    def vocabulary_size(self) -> int:
        """Number of ids, and of embedding rows: mask slot + OOV rows + tokens."""
        return self._num_special_tokens() + len(self._require_vocabulary())

    def set_vocabulary(self, vocabulary: Any) -> None:
        """Sets the vocabulary.

        Pass the tokens without the mask and OOV tokens (ids follow Keras's
        layout), or a vocabulary that lists them at the ids they should have
        (every token keeps its position as its id, as in a BERT `vocab.txt`
        or a `get_vocabulary()` list). A `Vocabulary` with counts (read from
        a frequency file, say) is cut to `max_tokens` and `min_frequency`
        by count (special tokens it lists stay; ids close up).

        On a layer that already has an embedding matrix, a vocabulary that
        differs from the current one raises `VocabularyChangeError` rather
        than reshaping or scrambling trained rows; an identical one is a
        no-op.
        """
        new, positions = self._place_special_tokens(vocabulary, self.max_tokens)
        self._check_vocabulary(new, self.max_tokens)
        if self._vocabulary is not None and self._vocabulary == new and self._special_positions == positions:
            return
        if self._has_rows():
            difference = _describe_difference(self._ids_to_tokens(), self._ids_to_tokens(new, positions))
            raise VocabularyChangeError(
                f"{self._owner()} already has a ({self.vocabulary_size()}, {self.output_dim}) embedding matrix "
                f"built for its vocabulary; the new vocabulary would give {self._num_special_tokens() + len(new)} "
                f"rows ({difference}). "
                "Setting it would silently reshape or scramble trained rows. To keep every trained row with its "
                "token, call `update_vocabulary(new_vocabulary)`; to start from scratch, create a new "
                "VocabEmbedding."
            )
        self._vocabulary, self._special_positions = new, positions
        self._vocabulary_changed()

    def _place_special_tokens(
        self, vocabulary: Any, max_tokens: int | None
    ) -> tuple[Vocabulary, tuple[int | None, int] | None]:
        """The regular tokens of `vocabulary` and where it puts the mask and OOV ids (None: Keras's layout).

        A vocabulary that lists neither special token gets Keras's layout. One that lists them keeps every
        token at its position: the special positions are returned, or None where they are Keras's own (so
        `["[UNK]", "a"]` and `["a"]` give the same layer).
        """
        vocabulary = self._without_special_prefix(vocabulary)
        path = os.fspath(vocabulary) if isinstance(vocabulary, (str, os.PathLike)) else None
        full = read = _as_vocabulary(vocabulary, self.vocabulary_dtype)
        mask = None if self.mask_token is None else canonical_token(self.mask_token, self.vocabulary_dtype)
        oov = canonical_token(self.oov_token, self.vocabulary_dtype)
        mask_id = None if mask is None or mask not in full else full.index(mask)
        oov_id = full.index(oov) if oov in full else None
        if mask_id is None and oov_id is None:
            return self._most_frequent(full, max_tokens), None
        if full.counts is not None and (max_tokens is not None or self.min_frequency is not None):
            # The cut applies to the regular tokens only: the listed special tokens stay, and ids close up around
            # the tokens that leave (as they do in Keras's layout).
            special = {mask, oov}
            regular_ids = [i for i, token in enumerate(full.tokens) if token not in special]
            counted = Vocabulary(
                [full[i] for i in regular_ids], dtype=self.vocabulary_dtype, counts=full.counts[regular_ids]
            )
            kept = set(self._most_frequent(counted, max_tokens).tokens)
            full = Vocabulary(
                [token for token in full.tokens if token in special or token in kept], self.vocabulary_dtype
            )
            mask_id = None if mask_id is None else full.index(mask)
            oov_id = None if oov_id is None else full.index(oov)
        listed = "mask_token" if oov_id is None else "oov_token"
        if oov_id is None or (mask is not None and mask_id is None):
            missing = "oov_token" if oov_id is None else "mask_token"
            token = mask if oov_id is None else oov
            blank = (
                " An empty line is the token '': delete it if it is a stray blank line."
                if token == b"" and read.source_format == "text"
                else ""
            )
            raise ReservedTokenError(
                f"{self._owner()} got a vocabulary that lists its {listed} {getattr(self, listed)!r} "
                f"({_place(read, path, token)}) but not its {missing} {getattr(self, missing)!r}.{blank} "
                "List both at the ids they should have (every token then keeps its position as its id, as in a "
                "BERT vocab.txt), or neither (ids then follow Keras's layout: mask, OOV, tokens). "
                "`layer.get_vocabulary(include_special_tokens=False)` gives a list without special tokens."
            )
        if self.num_oov_indices != 1:
            raise ConfigurationError(
                f"{self._owner()} got a vocabulary that lists its oov_token {self.oov_token!r} "
                f"({_place(read, path, oov)}), so it has one OOV id, but num_oov_indices={self.num_oov_indices}. "
                "Pass num_oov_indices=1 to keep the vocabulary's own ids, or pass the tokens without special tokens."
            )
        regular = Vocabulary([t for t in full.tokens if t != mask and t != oov], dtype=self.vocabulary_dtype)
        keras_layout = (0, 1) if mask is not None else (None, 0)
        return regular, (None if (mask_id, oov_id) == keras_layout else (mask_id, oov_id))

    def _without_special_prefix(self, vocabulary: Any) -> Any:
        """A list less the special tokens it starts with, when they are exactly this layer's (as `get_vocabulary()`
        gives them: with several OOV ids the OOV token repeats, which no `Vocabulary` can hold)."""
        if self.num_oov_indices == 1 or isinstance(vocabulary, (str, bytes, Vocabulary)):
            return vocabulary
        if hasattr(vocabulary, "numpy"):
            vocabulary = vocabulary.numpy()
        if isinstance(vocabulary, np.ndarray):
            vocabulary = vocabulary.tolist() if vocabulary.ndim == 1 else vocabulary
        if not isinstance(vocabulary, (list, tuple)) or len(vocabulary) < self._num_special_tokens():
            return vocabulary
        prefix = self._ids_to_tokens(Vocabulary([], dtype=self.vocabulary_dtype), None)
        try:
            head = [canonical_token(t, self.vocabulary_dtype) for t in vocabulary[: len(prefix)]]
        except KeyDtypeError:
            return vocabulary
        return vocabulary[len(prefix) :] if head == prefix else vocabulary

    def _has_rows(self) -> bool:
        """Whether the layer holds rows that a new vocabulary would reshape or scramble."""
        return False

    def _vocabulary_changed(self) -> None:
        """Called after the vocabulary changed (subclasses rebuild their lookup tables)."""

    def _check_vocabulary(self, vocabulary: Vocabulary, max_tokens: int | None) -> None:
        if len(vocabulary) == 0:
            raise VocabularyError(
                f"{self._owner()} got an empty vocabulary. Pass at least one token, or adapt on data that holds "
                "tokens other than the mask and OOV tokens."
            )
        for name in ("mask_token", "oov_token"):
            special = getattr(self, name)
            if special is None:
                continue
            key = canonical_token(special, self.vocabulary_dtype)
            if key in vocabulary:
                position = vocabulary.index(key)
                raise ReservedTokenError(
                    f"{self._owner()} got a vocabulary that contains its {name} {special!r} at position "
                    f"{position}. The {name} has a fixed id of its own, so it must not be listed. Remove it from "
                    "the vocabulary (`layer.get_vocabulary(include_special_tokens=False)` gives a list without "
                    f"special tokens), or choose another {name}."
                )
        if max_tokens is not None and len(vocabulary) + self._num_special_tokens() > max_tokens:
            raise ConfigurationError(
                f"{self._owner()} got a vocabulary of {len(vocabulary)} tokens, which with its "
                f"{self._num_special_tokens()} special slots exceeds max_tokens={max_tokens}. Pass at most "
                f"{max_tokens - self._num_special_tokens()} tokens, or raise `max_tokens`."
            )

    def adapt(
        self,
        data: Any,
        steps: int | None = None,
        *,
        weights: Any = None,
        budget: int | None = DEFAULT_BUDGET,
        verbose: Any = "auto",
    ) -> None:
        """Learns the vocabulary from data.

        Tokens are ordered by count descending, then by token ascending
        (bytes for strings), so the result depends only on the counts.
        `max_tokens` and `min_frequency` apply; occurrences of the mask and
        OOV tokens are not counted.

        Args:
            data: tokens, as a NumPy array, a (nested) list, a tensor, a
                `tf.RaggedTensor`, a `tf.data.Dataset` of those, or any
                iterable of batches.
            steps: optional. Number of batches to read from a dataset or
                iterable.
            weights: optional. How many times each example counts, as
                TensorFlow Transform's vocabulary weights: a 1-D array of
                non-negative integers, one per example (row) of `data`; or
                `True` when `data` is a dataset (or iterable of batches) of
                `(keys, weights)` pairs. Whole numbers, so that every counting
                path sums them to the same counts in any order. Tokens only
                seen with weight 0 are left out.
            budget: the most distinct tokens counted at once (default
                1,048,576), which bounds adapt's memory; `None` for no
                bound. Under the budget the counts are exact. Past it, a
                Misra-Gries summary keeps every token seen more than
                `N / (budget + 1)` times (`N`: tokens in `data`), and data
                that can be read again (a dataset, an array, a list of
                batches) is read a second time to count those exactly: the
                vocabulary then holds exactly the tokens seen more than
                that, with exact counts, so it equals the unbounded one
                wherever `max_tokens`/`min_frequency` cut above that count.
                Data read only once (a generator) keeps counts low by at
                most that much, with a warning.
            verbose: `"auto"` (default), 0, 1 or 2, as for `Model.fit`:
                1 shows a `keras.utils.Progbar` of the tokens counted, then
                a summary line; 2 prints only the summary; 0 prints nothing.
                `"auto"` is 1 when stdout is a terminal and Keras's
                interactive logging is on, else 0 (quiet in CI and logs).
                The summary is also logged at INFO on the
                `keras_vocabsafe` logger.
        """
        self._adapt(data, steps, weights=weights, budget=budget, verbose=verbose)

    def _adapt(
        self,
        data: Any,
        steps: int | None,
        *,
        weights: Any,
        budget: int | None,
        verbose: Any,
        fixes: NoTokensFixes = ADAPT_FIXES,
    ) -> None:
        """`adapt`, offering `fixes` if it keeps no token (`vocabulary_from_files` offers its own)."""
        verbose = check_verbose(verbose, f"{self._owner()}.adapt()")
        tokens, counts = self._count_tokens(data, steps, check_budget(budget, self._owner()), weights, verbose=verbose)
        self.set_vocabulary(self._vocabulary_from_counts(tokens, counts, self.max_tokens, fixes=fixes))
        say(verbose, f"{self._owner()}.adapt(): kept {len(self._require_vocabulary()):,} tokens")

    def _vocabulary_from_counts(
        self, tokens: list[Any], counts: np.ndarray, max_tokens: int | None, *, fixes: NoTokensFixes = ADAPT_FIXES
    ) -> Vocabulary:
        """The vocabulary `adapt` keeps from counted tokens (in any order): the one rule every counting path shares.

        Leaves out the mask and OOV tokens, orders by count descending then token ascending, and applies
        `min_frequency` and `max_tokens` (which counts the special slots). Whatever counted the tokens (`adapt`,
        `vocabsafe vocab build`, the Beam transform), the same counts give the same ids. `fixes`: what the error
        offers if no token is kept.
        """
        tokens, counts = self._without_special_tokens(tokens, counts)
        max_size = None if max_tokens is None else max_tokens - self._num_special_tokens()
        vocabulary = Vocabulary.from_counts(
            tokens, counts, dtype=self.vocabulary_dtype, max_size=max_size, min_frequency=self.min_frequency
        )
        if len(vocabulary) == 0:
            special = " and ".join(
                f"{name} {display_token(token)}"
                for name, token in (("mask token", self.mask_token), ("OOV token", self.oov_token))
                if token is not None
            )
            raise _no_tokens_to_keep(self, counts, f"the data was empty, or held only the {special}", fixes)
        return vocabulary

    def _count_tokens(
        self,
        data: Any,
        steps: int | None,
        budget: int | None = DEFAULT_BUDGET,
        weights: Any = None,
        *,
        verbose: int = 0,
        action: str = "adapt()",
    ) -> tuple[list[Any], np.ndarray]:
        """Distinct tokens of `data` and their counts (weighted by `weights`), without the mask and OOV tokens."""
        weights = check_weights(weights, self._owner())
        kind, data = classify_data(data, self._owner(), weighted=weights is True)
        per_example = weights if isinstance(weights, np.ndarray) else None
        if per_example is not None and kind != "batch":
            raise ConfigurationError(
                f"{self._owner()}: an array of `weights` goes with an array, list or tensor of keys. For a dataset or "
                "an iterable of batches, make it yield (keys, weights) pairs and pass weights=True."
            )

        def feed(counter: TokenCounter) -> None:
            if kind == "dataset":
                counter.update_from_dataset(data, steps, weighted=weights is True)
            elif kind == "batch":
                counter.update(data, per_example)
            else:
                counter.update_from_iterable(data, steps, weighted=weights is True)

        readable_again = is_readable_again(kind, data)
        counted = count_tokens(
            feed,
            self.vocabulary_dtype,
            self._owner(),
            budget=budget,
            readable_again=readable_again,
            verbose=verbose,
            action=action,
        )
        return self._without_special_tokens(*counted)

    def _without_special_tokens(self, tokens: list[Any], counts: np.ndarray) -> tuple[list[Any], np.ndarray]:
        """Counted tokens less the mask and OOV tokens, which have ids of their own."""
        special = {
            canonical_token(token, self.vocabulary_dtype)
            for token in (self.mask_token, self.oov_token)
            if token is not None
        }.intersection(tokens)
        if special:
            keep = [i for i, token in enumerate(tokens) if token not in special]
            tokens, counts = [tokens[i] for i in keep], counts[keep]
        return tokens, counts

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[Any]:
        """The token of every id, in id order.

        String tokens are `str`, except tokens that are not valid UTF-8,
        which are `bytes` so that nothing is lost.

        Args:
            include_special_tokens: if `True` (default), the list starts
                with the mask token (if any) and the OOV token repeated
                `num_oov_indices` times, so that list index equals id.
        """
        tokens = self._require_vocabulary().to_list()
        if not include_special_tokens:
            return tokens
        if self._special_positions is None:
            special = [self.mask_token] if self.mask_token is not None else []
            return special + [self.oov_token] * self.num_oov_indices + tokens
        for position, token in sorted(
            (p, t) for p, t in zip(self._special_positions, (self.mask_token, self.oov_token)) if p is not None
        ):
            tokens.insert(position, token)
        return tokens

    def id_to_token(self, ids: Any) -> Any:
        """Token of an id; for ids of any shape (array, tensor, nested or ragged list), nested lists of tokens.

        The result has the shape of `ids`: `id_to_token([[2, 3]])` is `[["the", "cat"]]`.
        """
        vocabulary = self.get_vocabulary()
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_list()
        elif isinstance(ids, (tf.Tensor, tf.Variable)):
            ids = ids.numpy()
        if isinstance(ids, np.ndarray):
            if ids.dtype.kind not in "iu":
                raise KeyDtypeError(f"{self._owner()}.id_to_token() takes integer ids. Received dtype {ids.dtype}.")
            if ids.ndim == 0:
                return vocabulary[self._check_id(ids.item())]
            flat = [vocabulary[self._check_id(i)] for i in ids.reshape(-1).tolist()]
            return np.array(flat + [None], dtype=object)[:-1].reshape(ids.shape).tolist()
        if isinstance(ids, (list, tuple)):
            return [self.id_to_token(i) for i in ids]
        return vocabulary[self._check_id(ids)]

    def _check_id(self, index: Any) -> int:
        if not _is_int(index):
            raise KeyDtypeError(
                f"{self._owner()}.id_to_token() takes integer ids. Received: {index!r} of type {type(index).__name__}."
            )
        if not 0 <= index < self.vocabulary_size():
            raise UnknownIdError(f"{self._owner()} has ids 0 to {self.vocabulary_size() - 1}. Received: id {index}.")
        return int(index)

    def _ids_to_tokens(self, vocabulary: Vocabulary | None = None, positions: Any = "current") -> list[Any]:
        """The canonical token of every id, special slots included (for `vocabulary`, laid out by `positions`)."""
        vocabulary = self._require_vocabulary() if vocabulary is None else vocabulary
        positions = self._special_positions if isinstance(positions, str) else positions
        mask = None if self.mask_token is None else canonical_token(self.mask_token, self.vocabulary_dtype)
        oov = canonical_token(self.oov_token, self.vocabulary_dtype)
        if positions is None:
            return ([mask] if mask is not None else []) + [oov] * self.num_oov_indices + list(vocabulary.tokens)
        tokens: list[Any] = list(vocabulary.tokens)
        for position, token in sorted((p, t) for p, t in zip(positions, (mask, oov)) if p is not None):
            tokens.insert(position, token)
        return tokens

    def _mask_id(self) -> int | None:
        """The id of the mask token (0 in Keras's layout), or None without one."""
        if self.mask_token is None:
            return None
        return 0 if self._special_positions is None else self._special_positions[0]

    def _oov_ids(self, positions: Any = "current") -> np.ndarray:
        """The OOV ids, in order."""
        positions = self._special_positions if isinstance(positions, str) else positions
        if positions is None:
            return np.arange(self._oov_start(), self._num_special_tokens(), dtype=np.int64)
        return np.array([positions[1]], dtype=np.int64)

    def _special_ids(self) -> list[int]:
        """The ids of the mask and OOV slots, ascending."""
        mask = [] if self.mask_token is None else [self._mask_id()]
        return sorted(mask + self._oov_ids().tolist())

    def _regular_ids(self, num_tokens: int | None = None, positions: Any = "current") -> np.ndarray:
        """The id of each regular token, in vocabulary order (for `num_tokens` tokens laid out by `positions`)."""
        positions = self._special_positions if isinstance(positions, str) else positions
        num_tokens = len(self._require_vocabulary()) if num_tokens is None else num_tokens
        start = self._num_special_tokens()
        if positions is None:
            return np.arange(start, start + num_tokens, dtype=np.int64)
        special = sorted(p for p in positions if p is not None)
        return np.delete(np.arange(start + num_tokens, dtype=np.int64), special)

    def _vocabulary_argument(self) -> Vocabulary | None:
        """The `vocabulary` that rebuilds these ids: the tokens, or with special positions every id's token."""
        if self._vocabulary is None or self._special_positions is None:
            return self._vocabulary
        return Vocabulary(self._ids_to_tokens(), dtype=self.vocabulary_dtype)

    @property
    def vocabulary_fingerprint(self) -> str:
        """A digest of every id's token, special slots included: equal exactly when two layers give the same ids.

        `VocabLookup` and `VocabIdEmbedding` carry it so that a pair built
        from different vocabularies is refused where both can be seen.
        """
        # Kept while the vocabulary object and the special slots stay: Keras's saver reads every property of a
        # layer it saves or loads, and a digest of millions of tokens should be computed once.
        settings = (self._special_positions, self.mask_token, self.oov_token, self.num_oov_indices)
        cached = self.__dict__.get("_fingerprint_cache")
        if cached is not None and cached[0] is self._vocabulary and cached[1] == settings:
            return cached[2]
        fingerprint = tokens_fingerprint(self._ids_to_tokens(), self.vocabulary_dtype)
        # Set past Keras's attribute tracking: a plain cache, not layer state.
        object.__setattr__(self, "_fingerprint_cache", (self._vocabulary, settings, fingerprint))
        return fingerprint

    def _vocabulary_settings(self) -> dict[str, Any]:
        """The constructor arguments that decide ids (for building the other half of a pair)."""
        return {
            "vocabulary": self._vocabulary_argument(),
            "vocabulary_dtype": self.vocabulary_dtype,
            "max_tokens": self.max_tokens,
            "min_frequency": self.min_frequency,
            "num_oov_indices": self.num_oov_indices,
            "mask_token": self.mask_token,
            "oov_token": self.oov_token,
        }

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        vocabulary = encoding = None
        argument = self._vocabulary_argument()
        if argument is not None:
            # With special positions the list holds every id's token, special tokens included, as it was given.
            vocabulary, encoding = encode_tokens(argument.tokens, self.vocabulary_dtype)
        config.update(
            {
                "vocabulary": vocabulary,
                "vocabulary_dtype": self.vocabulary_dtype,
                "vocabulary_size": None if self._vocabulary is None else self.vocabulary_size(),
                "max_tokens": self.max_tokens,
                "min_frequency": self.min_frequency,
                "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token,
                "oov_token": self.oov_token,
            }
        )
        if self.vocabulary_dtype == "string":
            config["vocabulary_encoding"] = encoding
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VocabularyLayer:
        config = dict(config)
        vocabulary_size = config.pop("vocabulary_size", None)
        encoding = config.pop("vocabulary_encoding", None) or "utf-8"
        if config.get("vocabulary") is not None:
            dtype = standardize_dtype(config.get("vocabulary_dtype", "string"))
            config["vocabulary"] = Vocabulary(decode_tokens(config["vocabulary"], encoding, dtype), dtype=dtype)
        if isinstance(config.get("dtype"), dict):
            policy = keras.dtype_policies.deserialize(config["dtype"])
            if not isinstance(policy, keras.dtype_policies.DTypePolicy):  # A Keras that does not know the class.
                saved = config["dtype"]
                raise QuantizationError(
                    f"The config of {cls.__name__} '{config.get('name')}' has the dtype policy "
                    f"{saved.get('class_name')!r} ({saved.get('config')}), which Keras {keras.__version__} does not "
                    "know: the model was saved by a newer Keras (an int4 layer of Keras 3.15 has a policy like "
                    "'int4/128' that Keras 3.11 cannot read), or the config was edited. Load it with the Keras "
                    "version that saved it (or a later one), or load the unquantized model here and quantize it "
                    "with this Keras."
                )
            config["dtype"] = policy.name if policy.quantization_mode is None else policy
        # `cls(**config)` rather than Keras's `from_config`, which re-raises every refusal as a bare TypeError:
        # a hand-edited config gets the same typed error, naming the argument, as the constructor gives.
        layer = cls(**config)
        if vocabulary_size is not None and layer.vocabulary_size() != vocabulary_size:
            raise VocabularyMismatchError(
                f"The config of {layer._owner()} records vocabulary_size={vocabulary_size!r}, but its vocabulary "
                f"and special tokens give {layer.vocabulary_size()}. The config was edited or corrupted; restore "
                "the `vocabulary` and special-token entries that match the saved weights."
            )
        return layer


def _place(vocabulary: Vocabulary, path: str | None, token: Any) -> str:
    """Where `token` is in `vocabulary`, said so the user can find it: its line or id when read from a file."""
    position = vocabulary.index(token)
    if path is None:
        return f"at position {position}"
    if vocabulary.source_format in ("text", "tft_frequency"):
        return f"on line {position + 1} of the vocabulary file {path!r}"
    if vocabulary.source_format == "tokenizer_json":
        return f"at id {position} of the tokenizer.json {path!r}"
    return f"at position {position} of the vocabulary file {path!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _no_tokens_to_keep(layer: VocabularyLayer, counts: np.ndarray, empty: str, fixes: NoTokensFixes) -> VocabularyError:
    """The error of an `adapt` that keeps no token, given the counts of the tokens it could have kept: `empty`
    (what the data held) when there were none, else that none reached `min_frequency`; with the fix for each."""
    if len(counts) == 0:
        return VocabularyError(f"{layer._owner()}.adapt() found no tokens to keep: {empty}. {fixes.no_tokens}")
    return VocabularyError(
        f"{layer._owner()}.adapt() found no tokens to keep: none of the {len(counts):,} distinct tokens reached "
        f"min_frequency={layer.min_frequency} (the most frequent was seen {int(counts.max()):,} time(s)). "
        f"{fixes.too_rare}"
    )


def _check_max_tokens(max_tokens: Any, has_mask: bool, num_oov_indices: int) -> None:
    """Refuses a `max_tokens` that leaves no id for a token (it counts the mask and OOV slots too)."""
    num_special = int(has_mask) + num_oov_indices
    if max_tokens is not None and (not _is_int(max_tokens) or max_tokens <= num_special):
        raise ConfigurationError(
            f"`max_tokens` must be an integer larger than the {num_special} special slots "
            f"(mask: {int(has_mask)}, OOV: {num_oov_indices}), since it counts them too. "
            f"Received: max_tokens={max_tokens!r}. Use max_tokens={num_special + 1} or more, or None."
        )


def _validate_special_token(token: Any, name: str, vocabulary_dtype: str, *, optional: bool) -> Any:
    if token is None and optional:
        return None
    if vocabulary_dtype == "string":
        if isinstance(token, str):
            canonical_token(token, vocabulary_dtype, what=name)
            return token
        raise ConfigurationError(
            f"`{name}` must be a str for vocabulary_dtype='string'. Received: {name}={token!r}"
            + (" (use None for no mask token)." if optional else ".")
        )
    if _is_int(token):
        return int(canonical_token(token, vocabulary_dtype, what=name))
    raise ConfigurationError(
        f"`{name}` must be an int for vocabulary_dtype='int64'. Received: {name}={token!r}"
        + (" (use None for no mask token)." if optional else ".")
    )


def _most_frequent(
    vocabulary: Vocabulary,
    max_tokens: int | None,
    num_special: int,
    min_frequency: int | None,
    kept: Collection[Any] = (),
) -> Vocabulary:
    """A counted vocabulary (read from a frequency file, say) cut to `min_frequency` and `max_tokens` by count.

    Tokens in `kept` (a text layer's `reserved_tokens`) stay where they are whatever their counts, and take their
    ids out of `max_tokens`, as `adapt` keeps them. Without counts the vocabulary is returned as it is (and one that
    exceeds `max_tokens` is refused later).
    """
    if vocabulary.counts is None or (max_tokens is None and min_frequency is None):
        return vocabulary
    max_size = None if max_tokens is None else max_tokens - num_special
    listed = set(kept).intersection(vocabulary.tokens)
    if not listed:
        return vocabulary.most_frequent(max_size=max_size, min_frequency=min_frequency)
    regular = [i for i, token in enumerate(vocabulary.tokens) if token not in listed]
    counted = Vocabulary([vocabulary[i] for i in regular], dtype=vocabulary.dtype, counts=vocabulary.counts[regular])
    cut = counted.most_frequent(
        max_size=None if max_size is None else max(0, max_size - len(listed)), min_frequency=min_frequency
    )
    keep = set(cut.tokens) | listed
    ids = [i for i, token in enumerate(vocabulary.tokens) if token in keep]
    return Vocabulary([vocabulary[i] for i in ids], dtype=vocabulary.dtype, counts=vocabulary.counts[ids])


def _describe_difference(first: Any, second: Any, *, offset: int = 0, labels: tuple[str, str] = ("now", "new")) -> str:
    """Says where two token sequences first differ, for error messages."""
    first, second = list(first), list(second)
    for index, (a, b) in enumerate(zip(first, second)):
        if a != b:
            return (
                f"they first differ at id {index + offset}: {labels[0]} {display_token(a)}, "
                f"{labels[1]} {display_token(b)}"
            )
    if len(first) == len(second):
        return "the tokens are the same"
    shorter, longer, label = (first, second, labels[1]) if len(first) < len(second) else (second, first, labels[0])
    return (
        f"the first {len(shorter)} ids agree, then {label} goes on with "
        f"{display_token(longer[len(shorter)])} at id {len(shorter) + offset}"
    )
