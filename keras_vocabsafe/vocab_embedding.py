"""`VocabEmbedding`: a vocabulary lookup and its embedding matrix in one layer."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import _weights_store, evolve
from keras_vocabsafe._counting import TokenCounter, classify_data
from keras_vocabsafe._keys import to_keys
from keras_vocabsafe.errors import (
    ConfigurationError,
    NotAdaptedError,
    ReservedTokenError,
    UnknownIdError,
    VocabularyChangeError,
    VocabularyError,
    VocabularyMismatchError,
)
from keras_vocabsafe.evolve import VocabularyUpdateReport
from keras_vocabsafe.pretrained import CoverageReport, PretrainedVectors, align_vectors, initial_rows, load_vectors
from keras_vocabsafe.vocabulary import (
    Vocabulary,
    as_vocabulary,
    canonical_token,
    decode_tokens,
    display_token,
    encode_tokens,
    standardize_dtype,
)

__all__ = ["VocabEmbedding"]

_DEFAULT_OOV_TOKENS = {"string": "[UNK]", "int64": -1}


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class VocabEmbedding(keras.layers.Layer):
    """Maps tokens to dense vectors through a vocabulary the layer owns.

    The layer holds a vocabulary lookup (like `keras.layers.StringLookup` or
    `keras.layers.IntegerLookup`) and an embedding matrix (like
    `keras.layers.Embedding`) together. The matrix has exactly
    `vocabulary_size()` rows, computed by the layer from the vocabulary and
    the special slots, so the two can never disagree.

    Ids are laid out as in Keras's lookup layers: the mask token, when set,
    has id 0; the next `num_oov_indices` ids are out-of-vocabulary (OOV)
    rows; the vocabulary's tokens follow in order. A key that is not in the
    vocabulary maps to the OOV row (with several OOV rows, to one chosen by a
    stable hash of the key). Keys equal to `mask_token` map to id 0 and the
    layer emits a Keras mask that is `False` there, which downstream layers
    such as pooling and RNNs receive.

    The vocabulary comes from the `vocabulary` argument or from `adapt()`,
    which orders tokens by count (descending) and then by token (ascending),
    so adapting twice on the same data gives the same ids. The layer's config
    stores the vocabulary itself, so a saved model rebuilds matrices of the
    right shape before any weight is read, and the weights file stores it
    too, so weights are never loaded into rows of other tokens.

    Any token survives saving byte for byte: newlines, tabs, NUL, `\\u2028`,
    surrounding spaces, and bytes that are not valid UTF-8 (pass these as
    `bytes`).

    Args:
        output_dim: int. Size of each embedding vector.
        vocabulary: optional. The tokens, without the mask and OOV tokens: a
            list, tuple, 1-D array or tensor; a `keras_vocabsafe.Vocabulary`;
            or the path of a vocabulary file (JSON written by
            `Vocabulary.save()`, or text with one token per line). If not
            set, call `adapt()` before using the layer.
        vocabulary_dtype: `"string"` (default) for text keys, `"int64"` for
            integer ids such as user or item ids.
        max_tokens: optional int. Upper bound on `vocabulary_size()`,
            including the mask and OOV rows; `adapt()` keeps the most
            frequent tokens that fit.
        min_frequency: optional int. `adapt()` drops tokens seen fewer times.
        num_oov_indices: int, at least 1. Number of OOV rows. Defaults to 1.
        mask_token: optional. A key that means "padding": it gets id 0 and a
            `False` mask. `None` (default) means no mask row.
        oov_token: the token `get_vocabulary()` reports for OOV rows.
            Defaults to `"[UNK]"` for strings and `-1` for integers.
        embeddings_initializer: initializer for the embedding matrix.
            Defaults to `"uniform"`, as in `keras.layers.Embedding`.
        embeddings_regularizer: optional regularizer for the matrix.
        embeddings_constraint: optional constraint for the matrix.
        trainable_rows: optional list of ids whose rows train; every other
            row stays exactly as it is through any optimizer (weight decay
            and regularizers included): after each step it is put back to
            its value when the layer was built or its weights last loaded
            (by `load_pretrained`, `load_weights` or `load_model`), at the
            cost of a copy of those rows. `None` (default): all rows train.
            `load_pretrained(train="missing")` sets it to the rows that had
            no pretrained vector.
        pad_to_multiple_of: optional int. Rounds the number of embedding
            rows up to a multiple of this (for example 8 or 128, for
            accelerator-friendly shapes). The padding rows follow the real
            ones, start at zero and are never selected by any input:
            `vocabulary_size()` still counts ids only. The padding is kept
            through saving, loading and `update_vocabulary()`.
        **kwargs: base layer arguments such as `name`, `dtype` (a dtype
            policy, e.g. `"mixed_float16"`) and `trainable`.

    Call arguments:
        inputs: keys of any shape: a string (or integer) tensor, a
            `tf.RaggedTensor`, a NumPy array or a nested list.

    Input shape:
        Any shape `S`, including a scalar.

    Output shape:
        `S + (output_dim,)`; ragged inputs give ragged outputs.

    Examples:

    >>> layer = VocabEmbedding(output_dim=4, mask_token="")
    >>> layer.adapt([["the", "cat", "sat"], ["the", "dog", ""]])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'cat', 'dog', 'sat']
    >>> layer(tf.constant([["the", "fox", ""]])).shape
    TensorShape([1, 3, 4])
    >>> layer.compute_mask(tf.constant([["the", "fox", ""]])).numpy()
    array([[ True,  True, False]])
    """

    def __init__(
        self,
        output_dim: int,
        vocabulary: Any = None,
        vocabulary_dtype: str = "string",
        max_tokens: int | None = None,
        min_frequency: int | None = None,
        num_oov_indices: int = 1,
        mask_token: Any = None,
        oov_token: Any = None,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        trainable_rows: Any = None,
        pad_to_multiple_of: int | None = None,
        **kwargs: Any,
    ) -> None:
        vocabulary_dtype = standardize_dtype(vocabulary_dtype)
        if not _is_int(output_dim) or output_dim <= 0:
            raise ConfigurationError(f"`output_dim` must be a positive integer. Received: output_dim={output_dim!r}")
        if not _is_int(num_oov_indices) or num_oov_indices < 1:
            raise ConfigurationError(
                f"`num_oov_indices` must be an integer of at least 1. Received: num_oov_indices={num_oov_indices!r}. "
                "Every key outside the vocabulary needs a row to map to."
            )
        if min_frequency is not None and (not _is_int(min_frequency) or min_frequency < 1):
            raise ConfigurationError(
                f"`min_frequency` must be a positive integer or None. Received: min_frequency={min_frequency!r}"
            )
        if pad_to_multiple_of is not None and (not _is_int(pad_to_multiple_of) or pad_to_multiple_of < 1):
            raise ConfigurationError(
                "`pad_to_multiple_of` must be a positive integer or None. "
                f"Received: pad_to_multiple_of={pad_to_multiple_of!r}"
            )
        if oov_token is None:
            oov_token = _DEFAULT_OOV_TOKENS[vocabulary_dtype]
        mask_token = _validate_special_token(mask_token, "mask_token", vocabulary_dtype, optional=True)
        oov_token = _validate_special_token(oov_token, "oov_token", vocabulary_dtype, optional=False)
        if mask_token is not None and mask_token == oov_token:
            raise ConfigurationError(
                f"`mask_token` and `oov_token` must differ. Received: both {mask_token!r}. Padding and unknown "
                "keys need different ids."
            )
        num_special = (mask_token is not None) + int(num_oov_indices)
        if max_tokens is not None and (not _is_int(max_tokens) or max_tokens <= num_special):
            raise ConfigurationError(
                f"`max_tokens` must be an integer larger than the {num_special} special slots "
                f"(mask: {int(mask_token is not None)}, OOV: {num_oov_indices}), since it counts them too. "
                f"Received: max_tokens={max_tokens!r}. Use max_tokens={num_special + 1} or more, or None."
            )
        super().__init__(**kwargs)
        # Keys are strings or ids, never floats: take inputs as they come.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.autocast = False

        self.output_dim = int(output_dim)
        self.vocabulary_dtype = vocabulary_dtype
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.min_frequency = None if min_frequency is None else int(min_frequency)
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = keras.constraints.get(embeddings_constraint)
        self.trainable_rows = _validate_trainable_rows(trainable_rows)
        self.pad_to_multiple_of = None if pad_to_multiple_of is None else int(pad_to_multiple_of)

        self._vocabulary: Vocabulary | None = None
        self.lookup_table = None
        self._remap_on_load: evolve.RemapRequest | None = None  # Set by `load_remapped_weights()`.
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # Vocabulary -----------------------------------------------------------------

    @property
    def vocabulary(self) -> Vocabulary | None:
        """The `Vocabulary` of regular tokens, or `None` before `adapt()`."""
        return self._vocabulary

    def _owner(self) -> str:
        return f"VocabEmbedding '{self.name}'"

    def _num_special_tokens(self) -> int:
        return (self.mask_token is not None) + self.num_oov_indices

    def _oov_start(self) -> int:
        return int(self.mask_token is not None)

    def _require_vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            raise NotAdaptedError(
                f"{self._owner()} has no vocabulary yet, so the size of its embedding matrix is unknown. Either "
                "pass a `vocabulary` argument to the layer, or call `adapt(data)` before using it."
            )
        return self._vocabulary

    def vocabulary_size(self) -> int:
        """Number of ids, and of embedding rows: mask slot + OOV rows + tokens."""
        return self._num_special_tokens() + len(self._require_vocabulary())

    def _num_rows(self, vocabulary_size: int | None = None) -> int:
        """Rows of the embedding matrix: `vocabulary_size()` rounded up to `pad_to_multiple_of`."""
        size = self.vocabulary_size() if vocabulary_size is None else vocabulary_size
        multiple = self.pad_to_multiple_of or 1
        return -(-size // multiple) * multiple

    def set_vocabulary(self, vocabulary: Any) -> None:
        """Sets the vocabulary (tokens without the mask and OOV tokens).

        On a layer that already has an embedding matrix, a vocabulary that
        differs from the current one raises `VocabularyChangeError` rather
        than reshaping or scrambling trained rows; an identical one is a
        no-op.
        """
        new = as_vocabulary(vocabulary, self.vocabulary_dtype)
        self._check_vocabulary(new)
        if self._vocabulary is not None and self._vocabulary == new:
            return
        if self.built:
            difference = _describe_difference(self._vocabulary.tokens, new.tokens, offset=self._num_special_tokens())
            raise VocabularyChangeError(
                f"{self._owner()} already has a ({self.vocabulary_size()}, {self.output_dim}) embedding matrix "
                f"built for its vocabulary; the new vocabulary would give {self._num_special_tokens() + len(new)} "
                f"rows ({difference}). "
                "Setting it would silently reshape or scramble trained rows. To keep every trained row with its "
                "token, call `update_vocabulary(new_vocabulary)`; to start from scratch, create a new "
                "VocabEmbedding."
            )
        self._vocabulary = new
        self.lookup_table = self._make_lookup_table(new)

    def _check_vocabulary(self, vocabulary: Vocabulary) -> None:
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
        if self.max_tokens is not None and len(vocabulary) + self._num_special_tokens() > self.max_tokens:
            raise ConfigurationError(
                f"{self._owner()} got a vocabulary of {len(vocabulary)} tokens, which with its "
                f"{self._num_special_tokens()} special slots exceeds max_tokens={self.max_tokens}. Pass at most "
                f"{self.max_tokens - self._num_special_tokens()} tokens, or raise `max_tokens`."
            )

    def _make_lookup_table(self, vocabulary: Vocabulary) -> tf.lookup.StaticHashTable:
        key_dtype = tf.string if self.vocabulary_dtype == "string" else tf.int64
        start = self._num_special_tokens()
        keys = list(vocabulary.tokens)
        values = np.arange(start, start + len(keys), dtype=np.int64)
        if self.mask_token is not None:
            keys.insert(0, canonical_token(self.mask_token, self.vocabulary_dtype))
            values = np.concatenate([[0], values])
        default = self._oov_start() if self.num_oov_indices == 1 else -1
        with tf.init_scope():
            initializer = tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, dtype=key_dtype), tf.constant(values, dtype=tf.int64)
            )
            return tf.lookup.StaticHashTable(initializer, default_value=default)

    def adapt(self, data: Any, steps: int | None = None) -> None:
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
        """
        tokens, counts = self._count_tokens(data, steps)
        max_size = None if self.max_tokens is None else self.max_tokens - self._num_special_tokens()
        vocabulary = Vocabulary.from_counts(
            tokens, counts, dtype=self.vocabulary_dtype, max_size=max_size, min_frequency=self.min_frequency
        )
        if len(vocabulary) == 0:
            raise VocabularyError(
                f"{self._owner()}.adapt() found no tokens to keep: the data was empty, held only the mask and "
                f"OOV tokens, or no token reached min_frequency={self.min_frequency}."
            )
        self.set_vocabulary(vocabulary)

    def _count_tokens(self, data: Any, steps: int | None) -> tuple[list[Any], np.ndarray]:
        """Distinct tokens of `data` and their counts, without the mask and OOV tokens."""
        kind, data = classify_data(data, self._owner())
        counter = TokenCounter(self.vocabulary_dtype, owner=self._owner())
        if kind == "dataset":
            counter.update_from_dataset(data, steps)
        elif kind == "batch":
            counter.update(data)
        else:
            counter.update_from_iterable(data, steps)
        return self._without_special_tokens(*counter.result())

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
        special = [self.mask_token] if self.mask_token is not None else []
        return special + [self.oov_token] * self.num_oov_indices + tokens

    def token_to_id(self, tokens: Any) -> Any:
        """Id of a token (an `int`), or ids of an array of tokens (a NumPy array).

        Unknown tokens give their OOV id, exactly as in `call()`.
        """
        self._require_vocabulary()
        ids = self._lookup(to_keys(tokens, self.vocabulary_dtype, owner=self._owner()))
        if isinstance(ids, tf.RaggedTensor):
            return ids.to_list()
        ids = ids.numpy()
        return int(ids) if ids.ndim == 0 else ids

    def id_to_token(self, ids: Any) -> Any:
        """Token of an id, or a list of tokens for a sequence of ids."""
        vocabulary = self.get_vocabulary()
        if isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
            return vocabulary[self._check_id(int(ids))]
        return [vocabulary[self._check_id(int(i))] for i in np.asarray(ids).reshape(-1)]

    def _check_id(self, index: int) -> int:
        if not 0 <= index < self.vocabulary_size():
            raise UnknownIdError(f"{self._owner()} has ids 0 to {self.vocabulary_size() - 1}. Received: id {index}.")
        return index

    def get_vectors(self, tokens: Any) -> np.ndarray:
        """Embedding vectors of the given tokens, as a NumPy array of shape `tokens.shape + (output_dim,)`."""
        if not self.built:
            self.build()
        return keras.ops.convert_to_numpy(self(tokens))

    # Pretrained vectors ----------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        source: Any,
        *,
        max_tokens: int | None = None,
        mask_token: Any = None,
        num_oov_indices: int = 1,
        oov_token: Any = None,
        oov: Any = "mean",
        train: str = "all",
        format: str = "auto",
        tokens: Any = None,
        errors: str = "strict",
        **kwargs: Any,
    ) -> VocabEmbedding:
        """A layer whose vocabulary and rows come from a vectors file.

        The vocabulary is the file's words in file order (most frequent first
        in GloVe, word2vec and fastText files), cut so that the layer has at
        most `max_tokens` rows; `output_dim` is the file's dimension. Words
        equal to the mask or OOV token are left out, since those have rows
        of their own. The mask row is zeros; OOV rows follow `oov`.

        Args:
            source: a vectors file path (see `keras_vocabsafe.load_vectors`)
                or a `PretrainedVectors`.
            max_tokens: optional bound on `vocabulary_size()`, special slots included.
            mask_token, num_oov_indices, oov_token: as for the constructor.
            oov: how OOV rows start: `"mean"` (default), `"random"`, `"zeros"`
                or a callable such as a Keras initializer.
            train: `"all"` (default) fine-tunes every row; `"none"` freezes
                the layer; `"missing"` trains only the OOV rows.
            format, tokens, errors: as for `keras_vocabsafe.load_vectors`.
            **kwargs: other constructor arguments (`name`, `dtype`, ...).
        """
        dtype = standardize_dtype(kwargs.get("vocabulary_dtype", "string"))
        if dtype != "string":
            raise ConfigurationError("Pretrained vectors are keyed by words: `vocabulary_dtype` must be 'string'.")
        specials = (mask_token, _DEFAULT_OOV_TOKENS[dtype] if oov_token is None else oov_token)
        reserved = {canonical_token(token, dtype) for token in specials if token is not None}
        num_special = (mask_token is not None) + int(num_oov_indices)
        limit = None if max_tokens is None else max(max_tokens - num_special, 1)
        if isinstance(source, PretrainedVectors):
            vectors = source
        else:
            extra = None if limit is None else limit + len(reserved)
            vectors = load_vectors(source, format=format, max_rows=extra, tokens=tokens, errors=errors)
        keep = [i for i, token in enumerate(vectors.vocabulary.tokens) if token not in reserved][:limit]
        if len(keep) != len(vectors.vocabulary):
            vectors = PretrainedVectors(
                Vocabulary([vectors.vocabulary[i] for i in keep]),
                vectors.vectors[keep],
                vectors.path,
                vectors.format,
                vectors.duplicates,
                vectors.skipped_lines,
            )
        layer = cls(
            vectors.dim,
            vocabulary=vectors.vocabulary,
            max_tokens=max_tokens,
            mask_token=mask_token,
            num_oov_indices=num_oov_indices,
            oov_token=oov_token,
            **kwargs,
        )
        layer.load_pretrained(vectors, oov=oov, train=train)
        return layer

    def load_pretrained(
        self,
        source: Any,
        *,
        match: Any = ("exact",),
        missing: Any = "random",
        oov: Any = "mean",
        train: str = "all",
        seed: int | None = None,
        format: str = "auto",
        tokens: Any = None,
        errors: str = "strict",
    ) -> CoverageReport:
        """Fills the embedding rows from pretrained vectors, token by token.

        The file is streamed and only the rows of this layer's tokens are
        kept, so memory stays near the size of the embedding matrix. The
        mask row becomes zeros.

        Args:
            source: a vectors file path (see `keras_vocabsafe.load_vectors`)
                or a `PretrainedVectors`.
            match: match rules tried in turn: `"exact"` and optionally
                `"lower"` (case-insensitive fallback). Defaults to `("exact",)`.
            missing: how rows of tokens without a vector start: `"random"`
                (default: normal with the pretrained rows' per-dimension mean
                and deviation), `"zeros"`, `"mean"`, or a callable such as a
                Keras initializer.
            oov: the same choice for the OOV rows. Defaults to `"mean"`.
            train: `"all"` (default) fine-tunes every row; `"none"` freezes
                the layer (`trainable=False`); `"missing"` trains only the
                OOV rows and the rows of tokens without a pretrained vector,
                and keeps every pretrained row (and the mask row) exactly as
                loaded (see `trainable_rows`).
            seed: seed for `"random"` rows.
            format, tokens, errors: as for `keras_vocabsafe.load_vectors`.

        Returns:
            A `CoverageReport`: how many tokens were found, by which rule,
            which notable ones are missing and (after `adapt`) how much of
            the corpus the found tokens cover.
        """
        if train not in ("all", "none", "missing"):
            raise ConfigurationError(
                "`train` must be 'all' (fine-tune every row), 'none' (freeze the layer) or 'missing' (train only "
                f"the rows that had no pretrained vector). Received: train={train!r}"
            )
        vocabulary = self._require_vocabulary()
        if self.vocabulary_dtype != "string":
            raise ConfigurationError(f"{self._owner()} has integer keys; pretrained vectors are keyed by words.")
        aligned = align_vectors(
            source, vocabulary, match=match, format=format, tokens=tokens, errors=errors, expected_dim=self.output_dim
        )
        if not aligned.found.any():
            raise VocabularyError(
                f"None of the {len(vocabulary)} tokens of {self._owner()} has a vector in {aligned.report.source}. "
                "Check that the file matches the vocabulary's tokenization, or pass match=('exact', 'lower')."
            )
        found = aligned.found
        oov_seed = None if seed is None else seed + 1
        oov_rows = initial_rows(oov, self.num_oov_indices, aligned.vectors, found, seed=oov_seed, what="oov")
        missing_rows = initial_rows(missing, int((~found).sum()), aligned.vectors, found, seed=seed, what="missing")
        matrix = np.zeros((self._num_rows(), self.output_dim), dtype=np.float32)
        matrix[self._oov_start() : self._num_special_tokens()] = oov_rows
        rows = matrix[self._num_special_tokens() : self.vocabulary_size()]
        rows[:] = aligned.vectors  # Zeros where nothing was found; filled next.
        rows[~found] = missing_rows
        if not self.built:
            self.build()
        self.embeddings.assign(matrix.astype(self.embeddings.dtype))
        self.trainable = train != "none"
        if train == "missing":
            start = self._num_special_tokens()
            oov_ids = range(self._oov_start(), start)
            self.trainable_rows = (*oov_ids, *(start + np.flatnonzero(~found)).tolist())
        else:
            self.trainable_rows = None
        self._freeze_rows()
        return aligned.report

    # Vocabulary updates ----------------------------------------------------------------

    def update_vocabulary(
        self,
        vocabulary: Any = None,
        *,
        data: Any = None,
        merge: bool = False,
        max_tokens: int | None = None,
        new_embeddings_initializer: Any = "mean",
        model: keras.Model | None = None,
        seed: int | None = None,
        steps: int | None = None,
    ) -> VocabularyUpdateReport:
        """Changes the vocabulary of a trained layer; every row stays with its token.

        The embedding matrix is rebuilt at the new `vocabulary_size()`. Each
        token in both the old and the new vocabulary keeps its exact trained
        row (at its new id), the mask and OOV rows keep theirs, rows of
        tokens that left are dropped, and rows of new tokens follow
        `new_embeddings_initializer`. `trainable_rows` follow their tokens
        too; new tokens' rows train.

        Pass the new tokens as `vocabulary`, or pass `data` to learn them:
        with `merge=False` the vocabulary is adapted afresh from `data` (as
        `adapt()` would); with `merge=True` the old tokens stay, at their
        ids, and the new tokens of `data` follow them, most frequent first.
        With a `max_tokens` bound, a merge evicts the least frequent tokens
        (old or new; the ids after an evicted token move up), counting
        occurrences in `data` plus those seen by this layer's last `adapt()`
        in this process.

        To keep training, pass the compiled `model` that holds the layer:
        its optimizer's per-row state (such as Adam's moments) is remapped
        with the rows, and its compiled functions are rebuilt, so
        `model.fit()` continues without recompiling. Without `model`, the
        layer is ready for a new `compile()`.

        Args:
            vocabulary: the new tokens (without the mask and OOV tokens): a
                list, array, `Vocabulary` or vocabulary file path. A list
                that starts with this layer's special tokens, as
                `get_vocabulary()` returns, is accepted too.
            data: tokens to learn the new vocabulary from, in any form
                `adapt()` takes. Exactly one of `vocabulary` and `data`.
            merge: with `data`, add new tokens instead of re-adapting.
            max_tokens: optional new bound on `vocabulary_size()`; it
                replaces the layer's `max_tokens`. Defaults to the current
                bound.
            new_embeddings_initializer: rows of new tokens: `"mean"`
                (default; the mean of the old token rows), `"mean_cov"`
                (drawn from a normal with the old token rows' mean and
                covariance), `"zeros"`, a Keras initializer, or a
                `PretrainedVectors` (its vector where it has one, else the
                mean).
            model: optional compiled model that trains this layer.
            seed: seed for `"mean_cov"`.
            steps: as for `adapt()`.

        Returns:
            A `VocabularyUpdateReport` (kept, added, dropped and re-ordered
            counts), which prints as a summary.
        """
        if (vocabulary is None) == (data is None):
            raise ConfigurationError(
                f"{self._owner()}.update_vocabulary() needs exactly one of `vocabulary` (the new tokens) and "
                "`data` (tokens to learn them from)."
            )
        if merge and data is None:
            raise ConfigurationError("`merge=True` adds tokens learned from `data`; pass `data`, not `vocabulary`.")
        if max_tokens is not None and (not _is_int(max_tokens) or max_tokens <= self._num_special_tokens()):
            raise ConfigurationError(
                f"`max_tokens` must be an integer larger than the {self._num_special_tokens()} special slots. "
                f"Received: max_tokens={max_tokens!r}"
            )
        self._require_vocabulary()
        limit = self.max_tokens if max_tokens is None else int(max_tokens)
        if vocabulary is not None:
            new = as_vocabulary(self._strip_special_tokens(vocabulary), self.vocabulary_dtype)
        else:
            new = self._vocabulary_from_data(data, steps, merge=merge, limit=limit)
        previous_limit, self.max_tokens = self.max_tokens, limit
        try:
            self._check_vocabulary(new)
        finally:
            self.max_tokens = previous_limit  # Set for good only once the update has succeeded.
        old_tokens = self._ids_to_tokens()
        new_tokens = self._ids_to_tokens(new)
        # Vocabularies hold each token once and never a special token, so with one OOV row no token repeats.
        row_map = evolve.map_rows(old_tokens, new_tokens, distinct=self.num_oov_indices == 1)
        if not self.built:
            self._vocabulary, self.lookup_table, self.max_tokens = new, self._make_lookup_table(new), limit
            return evolve.make_report(
                self.name, old_tokens, new_tokens, row_map, num_special=self._num_special_tokens(), rule="none"
            )
        old_matrix = self.embeddings.numpy()  # One copy; convert_to_numpy would make two.
        num_special = self._num_special_tokens()
        matrix = evolve.remap_matrix(
            old_matrix,
            row_map,
            new_tokens,
            rule=new_embeddings_initializer,
            reference_rows=slice(num_special, len(old_tokens)),
            num_rows=self._num_rows(len(new_tokens)),
            seed=seed,
        )
        del old_matrix
        old_variable = self.embeddings
        self._vocabulary, self.lookup_table, self.max_tokens = new, self._make_lookup_table(new), limit
        if self.trainable_rows is not None:
            source = row_map.source
            was_trainable = np.zeros(len(old_tokens), dtype=bool)
            was_trainable[list(self.trainable_rows)] = True
            trains = (source < 0) | was_trainable[np.maximum(source, 0)]
            self.trainable_rows = tuple(np.flatnonzero(trains).tolist())
        self._replace_embeddings(matrix)
        remapped = 0
        if model is not None:
            remapped = evolve.remap_optimizer(model, old_variable, self.embeddings, row_map)
        elif self._inbound_nodes:
            warnings.warn(
                f"{self._owner()} has a new embedding matrix, but a model that calls it may already have compiled "
                "a training function that still updates the old one. Pass `model=` to `update_vocabulary()` (it "
                "also remaps the optimizer state), or call `model.compile(...)` again before `fit`.",
                UserWarning,
                stacklevel=2,
            )
        return evolve.make_report(
            self.name,
            old_tokens,
            new_tokens,
            row_map,
            num_special=num_special,
            rule=new_embeddings_initializer,
            optimizer_variables=remapped,
        )

    def _strip_special_tokens(self, vocabulary: Any) -> Any:
        """Drops leading special tokens equal to this layer's, as in `get_vocabulary()` output."""
        if isinstance(vocabulary, (Vocabulary, str, bytes)) or not isinstance(vocabulary, (list, tuple)):
            return vocabulary
        special = self.get_vocabulary()[: self._num_special_tokens()]
        if list(vocabulary[: len(special)]) == special:
            return vocabulary[len(special) :]
        return vocabulary

    def _vocabulary_from_data(self, data: Any, steps: int | None, *, merge: bool, limit: int | None) -> Vocabulary:
        tokens, counts = self._count_tokens(data, steps)
        max_size = None if limit is None else limit - self._num_special_tokens()
        if not merge:
            return Vocabulary.from_counts(
                tokens, counts, dtype=self.vocabulary_dtype, max_size=max_size, min_frequency=self.min_frequency
            )
        old = self._require_vocabulary()
        seen = dict(zip(tokens, counts.tolist()))
        old_counts = old.counts if old.counts is not None else np.zeros(len(old), dtype=np.int64)
        totals = {token: int(count) + seen.pop(token, 0) for token, count in zip(old.tokens, old_counts.tolist())}
        fresh = Vocabulary.from_counts(
            list(seen), list(seen.values()), dtype=self.vocabulary_dtype, min_frequency=self.min_frequency
        )
        totals.update(zip(fresh.tokens, fresh.counts.tolist()))
        merged = list(old.tokens) + list(fresh.tokens)
        if max_size is not None and len(merged) > max_size:
            # Keep the most frequent; ties keep the earlier (older) token.
            order = np.argsort(-np.fromiter((totals[t] for t in merged), np.int64, len(merged)), kind="stable")
            keep = np.sort(order[:max_size])
            merged = [merged[i] for i in keep]
        vocabulary = Vocabulary(merged, dtype=self.vocabulary_dtype)
        vocabulary._counts = np.fromiter((totals[t] for t in merged), np.int64, len(merged))
        return vocabulary

    def _replace_embeddings(self, matrix: np.ndarray) -> None:
        """Swaps in a new embedding variable of another shape (Keras variables cannot change shape)."""
        old = self.embeddings
        locked = self._tracker.locked
        self._tracker.unlock()
        try:
            self._untrack_variable(old)
            self.embeddings = self.add_weight(
                shape=matrix.shape,
                initializer=lambda shape, dtype=None: matrix,
                name="embeddings",
                regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint,
                trainable=True,
            )
        finally:
            if locked:
                self._tracker.lock()
        self._freeze_rows()

    # Keras layer API -----------------------------------------------------------------

    def build(self, input_shape: Any = None) -> None:
        self.embeddings = self.add_weight(
            shape=(self._num_rows(), self.output_dim),
            initializer=self._padded_initializer(self.embeddings_initializer),
            name="embeddings",
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
            trainable=True,
        )
        self.built = True
        self._freeze_rows()

    def _padded_initializer(self, initializer: Any) -> Any:
        """`initializer` for the real rows; zeros for the padding rows after them."""
        padding = self._num_rows() - self.vocabulary_size()
        if not padding:
            return initializer

        def initialize(shape: tuple[int, int], dtype: Any = None) -> Any:
            rows = initializer((shape[0] - padding, shape[1]), dtype=dtype)
            return keras.ops.concatenate([rows, keras.ops.zeros((padding, shape[1]), dtype=rows.dtype)], axis=0)

        return initialize

    def _freeze_rows(self) -> None:
        """Records the current values of the rows outside `trainable_rows`, which the optimizer then keeps."""
        if self.trainable_rows is None:
            self.embeddings.constraint = self.embeddings_constraint
            return
        if self.trainable_rows and self.trainable_rows[-1] >= self.vocabulary_size():
            raise ConfigurationError(
                f"{self._owner()} has ids 0 to {self.vocabulary_size() - 1}, but `trainable_rows` names id "
                f"{self.trainable_rows[-1]}."
            )
        frozen = np.setdiff1d(np.arange(self._num_rows()), np.asarray(self.trainable_rows, dtype=np.int64))
        with tf.init_scope():
            values = self.embeddings.numpy()[frozen]
            self.embeddings.constraint = _KeepRows(frozen, values, self.embeddings_constraint)

    def call(self, inputs: Any) -> tf.Tensor | tf.RaggedTensor:
        keys = to_keys(inputs, self.vocabulary_dtype, owner=self._owner())
        if isinstance(keys, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self._embed, keys)
        return self._embed(keys)

    def _embed(self, keys: tf.Tensor) -> tf.Tensor:
        return self._gather(self._lookup_dense(keys))

    def _gather(self, ids: tf.Tensor) -> tf.Tensor:
        # A gather on the variable itself reads only the selected rows.
        outputs = tf.gather(self.embeddings.value, ids)
        if outputs.dtype != self.compute_dtype:
            outputs = tf.cast(outputs, self.compute_dtype)
        return outputs

    def _lookup(self, keys: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        if isinstance(keys, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self._lookup_dense, keys)
        return self._lookup_dense(keys)

    def _lookup_dense(self, keys: tf.Tensor) -> tf.Tensor:
        if self.lookup_table is None:
            self._require_vocabulary()
        ids = self.lookup_table.lookup(keys)
        if self.num_oov_indices > 1:
            hashable = keys if self.vocabulary_dtype == "string" else tf.strings.as_string(keys)
            buckets = tf.strings.to_hash_bucket_fast(hashable, self.num_oov_indices) + self._oov_start()
            ids = tf.where(ids < 0, buckets, ids)
        return ids

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if self.mask_token is None:
            return None
        if keras.backend.is_keras_tensor(inputs):
            # A symbolic op, so the mask is connected to the functional graph.
            return keras.ops.not_equal(inputs, self.mask_token)
        keys = to_keys(inputs, self.vocabulary_dtype, owner=self._owner())
        if isinstance(keys, tf.RaggedTensor):
            return None  # A ragged tensor's row lengths already say where values are.
        return tf.not_equal(keys, tf.constant(canonical_token(self.mask_token, self.vocabulary_dtype), keys.dtype))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        vocabulary = encoding = None
        if self._vocabulary is not None:
            vocabulary, encoding = encode_tokens(self._vocabulary.tokens, self.vocabulary_dtype)
        config.update(
            {
                "output_dim": self.output_dim,
                "vocabulary": vocabulary,
                "vocabulary_dtype": self.vocabulary_dtype,
                "vocabulary_size": None if self._vocabulary is None else self.vocabulary_size(),
                "max_tokens": self.max_tokens,
                "min_frequency": self.min_frequency,
                "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token,
                "oov_token": self.oov_token,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
                "embeddings_constraint": keras.constraints.serialize(self.embeddings_constraint),
                "trainable_rows": None if self.trainable_rows is None else list(self.trainable_rows),
                "pad_to_multiple_of": self.pad_to_multiple_of,
            }
        )
        if self.vocabulary_dtype == "string":
            config["vocabulary_encoding"] = encoding
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VocabEmbedding:
        config = dict(config)
        vocabulary_size = config.pop("vocabulary_size", None)
        encoding = config.pop("vocabulary_encoding", None) or "utf-8"
        if config.get("vocabulary") is not None:
            dtype = standardize_dtype(config.get("vocabulary_dtype", "string"))
            config["vocabulary"] = Vocabulary(decode_tokens(config["vocabulary"], encoding, dtype), dtype=dtype)
        layer = super().from_config(config)
        if vocabulary_size is not None and layer.vocabulary_size() != vocabulary_size:
            raise VocabularyMismatchError(
                f"The config of {layer._owner()} records vocabulary_size={vocabulary_size}, but its vocabulary "
                f"and special tokens give {layer.vocabulary_size()}. The config was edited or corrupted; restore "
                "the `vocabulary` and special-token entries that match the saved weights."
            )
        return layer

    # Saving: the weights file carries the vocabulary, so weights only ever load into the rows they were trained for.

    def _ids_to_tokens(self, vocabulary: Vocabulary | None = None) -> list[Any]:
        """The canonical token of every id, special slots included."""
        vocabulary = self._require_vocabulary() if vocabulary is None else vocabulary
        special = [canonical_token(self.mask_token, self.vocabulary_dtype)] if self.mask_token is not None else []
        oov = [canonical_token(self.oov_token, self.vocabulary_dtype)] * self.num_oov_indices
        return special + oov + list(vocabulary.tokens)

    def save_own_variables(self, store: Any) -> None:
        if self.built:
            store["0"] = self.embeddings
        _weights_store.write_tokens(store, self._ids_to_tokens(), self.vocabulary_dtype)

    def load_own_variables(self, store: Any) -> None:
        saved = _weights_store.read_tokens(store, self.vocabulary_dtype, owner=self._owner())
        current = self._ids_to_tokens()
        if saved != current and self._remap_on_load is not None and "0" in store:
            self._load_remapped(saved, np.asarray(store["0"]), self._remap_on_load)
            return
        if saved != current:
            raise VocabularyMismatchError(
                f"{self._owner()} cannot load weights written for a different vocabulary: the saved weights have "
                f"{len(saved)} rows, this layer has {len(current)}; "
                f"{_describe_difference(saved, current, saved_first=True)}. Loading them would give tokens the rows "
                "of other tokens. Load the whole model with `keras.saving.load_model()` (it restores the saved "
                "vocabulary), or build this layer with the vocabulary the weights were trained with."
            )
        if "0" not in store:
            return
        if not self.built:
            self.build()
        value = store["0"]
        if tuple(value.shape) != tuple(self.embeddings.shape):
            if value.shape[-1] != self.output_dim:
                reason = f"the saved output_dim is {value.shape[-1]}, this layer's is {self.output_dim}"
            else:
                reason = (
                    f"the saved matrix has {value.shape[0]} rows for the same {self.vocabulary_size()} ids, so it "
                    f"was padded differently (this layer has pad_to_multiple_of={self.pad_to_multiple_of}). Build "
                    "the layer with the pad_to_multiple_of the weights were saved with"
                )
            raise VocabularyMismatchError(
                f"{self._owner()} cannot load an embedding matrix of shape {tuple(value.shape)} into its "
                f"{tuple(self.embeddings.shape)} matrix: {reason}."
            )
        self.embeddings.assign(value)
        self._freeze_rows()

    def _load_remapped(self, saved: list[Any], matrix: np.ndarray, request: evolve.RemapRequest) -> None:
        if matrix.ndim != 2 or matrix.shape[1] != self.output_dim:
            raise VocabularyMismatchError(
                f"{self._owner()} cannot take rows of shape {matrix.shape[1:]} from the saved weights: the saved "
                f"output_dim is {matrix.shape[-1]}, this layer's is {self.output_dim}. Remapping moves rows between "
                "tokens; it cannot change their length."
            )
        current = self._ids_to_tokens()
        num_special = self._num_special_tokens()
        oov = current[self._oov_start()]
        if saved[:num_special] != current[:num_special] or saved.count(oov) != self.num_oov_indices:
            raise VocabularyMismatchError(
                f"{self._owner()} has other special tokens than the saved weights (saved: "
                f"{[display_token(t) for t in saved[:num_special]]}, this layer: "
                f"{[display_token(t) for t in current[:num_special]]}), so the mask and OOV rows cannot be matched. "
                "Build the layer with the mask_token, oov_token and num_oov_indices the weights were saved with."
            )
        row_map = evolve.map_rows(saved, current, what="saved vocabulary")
        new_matrix = evolve.remap_matrix(
            matrix[: len(saved)],
            row_map,
            current,
            rule=request.rule,
            reference_rows=slice(num_special, len(saved)),
            num_rows=self._num_rows(),
            seed=request.seed,
        )
        if not self.built:
            self.build()
        self.embeddings.assign(new_matrix.astype(self.embeddings.dtype))
        self._freeze_rows()
        request.reports[self.name] = evolve.make_report(
            self.name, saved, current, row_map, num_special=num_special, rule=request.rule
        )


class _KeepRows(keras.constraints.Constraint):
    """Applies the user's constraint, then puts the frozen rows back exactly as they were recorded."""

    def __init__(self, rows: np.ndarray, values: np.ndarray, inner: Any) -> None:
        # Plain TensorFlow variables, held outside Keras's tracking: they are training state, not weights,
        # and are rebuilt from the embedding matrix whenever it is loaded.
        self._rows = tf.Variable(rows.reshape(-1, 1), trainable=False, name="frozen_rows")
        self._values = tf.Variable(values, trainable=False, name="frozen_values")
        self._inner = inner

    def __call__(self, w: Any) -> Any:
        if self._inner is not None:
            w = self._inner(w)
        return tf.tensor_scatter_nd_update(w, self._rows, tf.cast(self._values, w.dtype))


def _validate_trainable_rows(rows: Any) -> tuple[int, ...] | None:
    if rows is None:
        return None
    if isinstance(rows, (str, bytes)) or not all(_is_int(row) and row >= 0 for row in rows):
        raise ConfigurationError(
            f"`trainable_rows` must be a list of non-negative ids, or None. Received: trainable_rows={rows!r}"
        )
    return tuple(sorted({int(row) for row in rows}))


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


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


def _describe_difference(first: Any, second: Any, *, offset: int = 0, saved_first: bool = False) -> str:
    """Says where two token sequences first differ, for error messages."""
    first, second = list(first), list(second)
    labels = ("saved", "here") if saved_first else ("now", "new")
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
