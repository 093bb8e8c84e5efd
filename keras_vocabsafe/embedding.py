"""`VocabIdEmbedding`: the embedding half, ids in and vectors out, on any Keras backend.

Written with `keras.ops`, so it builds, trains, saves and loads on
TensorFlow, JAX and PyTorch. It owns its vocabulary like every layer of this
package (the config stores it, the weights file stores it too), and holds
the row rules: `trainable_rows`, `pad_to_multiple_of`, pretrained rows,
`update_vocabulary()` and loads remapped by token. Its ids come from a
`VocabLookup` of the same vocabulary (`lookup()`), which runs in `tf.data`.
`VocabEmbedding` adds that lookup inside the layer, for the TensorFlow
backend.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import _compat, _loading, _quantization, _weights_store, evolve, optimizers
from keras_vocabsafe._counting import DEFAULT_BUDGET, check_budget
from keras_vocabsafe._keys import export_hint, sparse_tensor_error
from keras_vocabsafe._progress import check_verbose, say
from keras_vocabsafe._tokens import canonical_token, display_token, standardize_dtype
from keras_vocabsafe._vocabulary_layer import (
    _DEFAULT_OOV_TOKENS,
    VocabularyLayer,
    _check_max_tokens,
    _describe_difference,
    _is_int,
)
from keras_vocabsafe.errors import (
    ConfigurationError,
    DuplicateTokenError,
    KeyDtypeError,
    ModelFileError,
    QuantizationError,
    UnknownIdError,
    VocabSafeError,
    VocabularyError,
    VocabularyMismatchError,
)
from keras_vocabsafe.evolve import VocabularyUpdateReport
from keras_vocabsafe.lookup import VocabLookup
from keras_vocabsafe.pretrained import CoverageReport, PretrainedVectors, align_vectors, load_vectors
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = ["MergedEmbeddings", "VocabIdEmbedding"]

_INITIALIZER_PEAK = 3  # Matrices alive at once while a Keras random initializer runs.
# The attributes that hold the matrix's variables (float, split or quantized), not LoRA's.
_MATRIX_ATTRIBUTES = ("_embeddings", "_trainable_embeddings", *_quantization.VARIABLE_NAMES[1:])
_INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
# Keras's merge layers: each casts its output to its own dtype policy (float32 by default), even on integer inputs.
_MERGE_LAYERS = (
    keras.layers.Concatenate,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Average,
)
_NARROW_ID_DTYPES = ("int8", "int16", "uint8", "uint16")
_TORCH_WIDE_UNSIGNED = ("torch.uint32", "torch.uint64")


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _in_strategy_of_rows(method: _Method) -> _Method:
    """`method`, run in the scope of the `tf.distribute` strategy that made the layer's rows when called outside it.

    What it creates (new rows, LoRA factors, quantized weights, a rebuilt optimizer's slots) must be that strategy's
    too: made outside, the next `fit` fails deep in Keras's distributed step with a bare `AssertionError`.
    """

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        strategy = _rows_strategy(self)
        if strategy is None or tf.distribute.get_strategy() is strategy:
            return method(self, *args, **kwargs)
        if tf.distribute.has_strategy():
            raise ConfigurationError(
                f"{self._owner()}.{method.__name__}() was called in the scope of another tf.distribute strategy "
                "than the one that made the layer's rows. Call it in the scope of the model's own strategy "
                "(`with model.distribute_strategy.scope():`), or outside any scope."
            )
        with strategy.scope():
            return method(self, *args, **kwargs)

    return cast(_Method, run)


def _rows_strategy(layer: Any) -> Any:
    """The `tf.distribute` strategy whose scope made the layer's variables, or None (not built, not distributed)."""
    if not layer.built or keras.backend.backend() != "tensorflow":
        return None
    for variable in layer.variables:
        strategy = getattr(getattr(variable, "value", None), "distribute_strategy", None)
        if strategy is not None:
            return strategy
    return None


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class VocabIdEmbedding(VocabularyLayer):
    """Maps ids of a vocabulary it owns to dense vectors, on any Keras backend.

    The embedding half of a `VocabEmbedding`: it takes the ids a
    `VocabLookup` of the same vocabulary gives (in a `tf.data` pipeline, on
    any backend) and returns their rows. The matrix has exactly
    `vocabulary_size()` rows (mask slot, OOV rows, tokens), and the layer's
    config and weights carry the vocabulary, so a saved model holding only
    this half still knows its tokens: `layer.lookup()` rebuilds the lookup
    half from it, in any process.

    Both halves carry `vocabulary_fingerprint`; pairs built with `lookup()`,
    `from_lookup()` or `VocabEmbedding.halves()` match by construction, and
    `export_for_serving(model, lookups=...)` refuses a lookup of another
    vocabulary. Ids computed in a `tf.data` pipeline are plain integers: a
    pipeline that feeds ids of another vocabulary cannot be detected there.

    Args:
        output_dim: int. Size of each embedding vector.
        vocabulary, vocabulary_dtype, max_tokens, min_frequency,
        num_oov_indices, mask_token, oov_token: as for `VocabEmbedding`.
        embeddings_initializer, embeddings_regularizer,
        embeddings_constraint, trainable_rows, pad_to_multiple_of: as for
            `VocabEmbedding`.
        lookup_config: optional, written by `halves()`: the class and
            tokenization settings (never the vocabulary) of the lookup that
            `lookup()` rebuilds. `None`: a `VocabLookup`.
        lora_rank, lora_alpha: optional. Enable LoRA when the layer is
            built, as for `keras.layers.Embedding` (see `enable_lora`).
        weights: optional, as for `VocabEmbedding`.
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: integer ids of any shape.

    Input shape:
        Any shape `S`.

    Output shape:
        `S + (output_dim,)`. With a `mask_token`, id 0 is padding and the
        layer emits a Keras mask (as `keras.layers.Embedding(mask_zero=True)`).

    Examples:

    >>> words = VocabIdEmbedding(4, vocabulary=["the", "cat"], mask_token="")
    >>> lookup = words.lookup()
    >>> ids = lookup(tf.constant([["the", "dog", ""]]))
    >>> ids.numpy()
    array([[2, 1, 0]])
    >>> keras.ops.shape(words(ids.numpy()))
    (1, 3, 4)
    """

    # Keras's own Layer attributes, which this class also assigns (Keras ships no types).
    dtype_policy: Any
    _dtype_policy: Any

    _unknown_without_vocabulary = "the size of its embedding matrix is unknown"

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
        lookup_config: dict[str, Any] | None = None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        weights: Any = None,
        **kwargs: Any,
    ) -> None:
        _refuse_keras_embedding_arguments(type(self).__name__, kwargs, vocabulary)
        if lookup_config is not None and not (
            isinstance(lookup_config, dict)
            and isinstance(lookup_config.get("class_name"), str)
            and isinstance(lookup_config.get("config"), dict)
        ):
            raise ConfigurationError(
                "`lookup_config` must be None or a dict {'class_name': <registered name of a VocabLookup class>, "
                f"'config': {{...}}}} (as `halves()` writes it). Received: lookup_config={lookup_config!r}"
            )
        overriding = sorted(set(lookup_config["config"]) & _LOOKUP_OWN_KEYS) if lookup_config is not None else []
        if overriding:
            raise ConfigurationError(
                f"`lookup_config` must not set {', '.join(overriding)}: the lookup half takes its vocabulary and "
                "special tokens from this layer, so that its ids are this layer's rows (a vocabulary set there "
                "would give ids of other tokens). The config was edited; remove those entries from "
                "`lookup_config['config']` (`halves()` writes only the tokenization settings)."
            )
        if not _is_int(output_dim) or output_dim <= 0:
            raise ConfigurationError(f"`output_dim` must be a positive integer. Received: output_dim={output_dim!r}")
        if pad_to_multiple_of is not None and (not _is_int(pad_to_multiple_of) or pad_to_multiple_of < 1):
            raise ConfigurationError(
                "`pad_to_multiple_of` must be a positive integer or None. "
                f"Received: pad_to_multiple_of={pad_to_multiple_of!r}"
            )
        trainable_rows = _validate_trainable_rows(trainable_rows)
        _validate_lora(lora_rank, lora_alpha, trainable_rows, embeddings_constraint)
        initializer = _get("embeddings_initializer", embeddings_initializer, keras.initializers.get)
        regularizer = _get("embeddings_regularizer", embeddings_regularizer, keras.regularizers.get)
        constraint = _get("embeddings_constraint", embeddings_constraint, keras.constraints.get)
        super().__init__(
            vocabulary_dtype=vocabulary_dtype,
            max_tokens=max_tokens,
            min_frequency=min_frequency,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            **kwargs,
        )
        # As for `keras.layers.Embedding(mask_zero=...)`: without a mask token an upstream mask gets Keras's
        # "does not support masking" warning instead of vanishing without a word.
        self.supports_masking = self.mask_token is not None
        if keras.backend.backend() == "tensorflow":
            # XLA compiles this layer's checks (ids outside its ids; a traced function whose weights were replaced)
            # to nothing, and its gather clamps such an id to the first or last row: the vector of another token,
            # silently. `compile(jit_compile=True)` (and "auto" on GPU) then warns and compiles without XLA, as for
            # Keras's own lookup layers; a function the user compiles with XLA gets NaN vectors (`_gather_in_xla`).
            self.supports_jit = False
        if not keras.backend.is_float_dtype(self.dtype_policy.variable_dtype):
            raise ConfigurationError(
                f"{self._owner()} needs a floating-point dtype for its embedding rows. Received: "
                f"dtype={self.dtype_policy.name!r}. Use 'float32' (the default), 'float16', 'bfloat16' or a "
                "mixed policy such as 'mixed_float16'; keys and ids have their own dtype (`vocabulary_dtype`)."
            )
        mode = self.dtype_policy.quantization_mode
        if mode is not None and mode not in _quantization.SUPPORTED_MODES:
            raise QuantizationError(
                f"{self._owner()} quantizes as keras.layers.Embedding does, in the modes "
                f"{_quantization.SUPPORTED_MODES}, but its dtype policy {self.dtype_policy.name!r} is of mode "
                f"{mode!r}. Use a float policy (and `model.quantize(...)`), or an int8/int4 one."
            )
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializer
        self.embeddings_regularizer = regularizer
        self.embeddings_constraint = constraint
        self.trainable_rows = trainable_rows
        self.pad_to_multiple_of = None if pad_to_multiple_of is None else int(pad_to_multiple_of)
        # The lookup half's own settings (such as a text layer's tokenization), so that `lookup()` rebuilds it.
        self.lookup_config = lookup_config
        self._embeddings: Any = None  # Keras variables, once built.
        self._trainable_embeddings: Any = None
        # How many times the weights were created; traced TensorFlow functions check it (see `_check_current`).
        self._weights_generation = 0
        self._generation_variable = None
        # Made by `load_model`: Keras restores the saved rows next (see `_refuse_unrestored_rows`). A string: why
        # loading its rows failed where Keras does not report it.
        self._awaiting_saved_rows: bool | str = _compat.in_model_load()
        # Set whenever `lora_enabled` (may be None otherwise): the LoRA paths, which run only then, use them as numbers.
        self.lora_rank: Any = None if lora_rank is None else int(lora_rank)
        self.lora_alpha: Any = lora_alpha if lora_alpha is not None else self.lora_rank
        self.lora_enabled = False
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        if weights is not None:
            self._set_initial_weights(weights)

    def _set_initial_weights(self, weights: Any) -> None:
        """`weights=` as `keras.layers.Embedding` takes it (`[matrix]` or the matrix), checked against the ids.

        The rows are set before LoRA is enabled (`lora_rank`), so the matrix is the frozen base LoRA adapts.
        """
        if self._vocabulary is None:
            raise ConfigurationError(
                f"{self._owner()} got `weights` but has no vocabulary yet, and the vocabulary sets the rows. Pass "
                "`vocabulary=` with the weights, or call `adapt()` and then `set_weights([matrix])` (or "
                "`load_pretrained(vectors_file)`, which puts each word's vector in its token's row)."
            )
        if self.quantization_mode is not None:
            raise QuantizationError(
                f"{self._owner()} has the quantized dtype policy {self.dtype_policy.name!r}, which holds no float "
                "matrix to set from `weights`. Build the layer with a float policy and `weights`, then quantize it "
                "(`model.quantize(mode)`)."
            )
        if isinstance(weights, (list, tuple)) and len(weights) > 1 and np.ndim(weights[0]) == 2:
            raise ConfigurationError(
                f"{self._owner()} has one weight, its embedding matrix, but got {len(weights)} matrices in "
                "`weights`. Pass `weights=[matrix]`."
            )
        if not (isinstance(weights, list) and len(weights) == 1):
            weights = [weights]
        matrix = np.asarray(weights[0])
        if matrix.dtype.kind in "iu":
            matrix = matrix.astype(np.float32)  # As Keras's `set_weights` casts.
        if not _is_float_dtype(matrix.dtype):
            raise ConfigurationError(
                f"{self._owner()} takes a matrix of numbers as `weights`. Received an array of dtype {matrix.dtype}."
            )
        shape = (self._num_rows(), self.output_dim)
        if matrix.shape != shape:
            mask = "the mask, " if self.mask_token is not None else ""
            padding = f", padded to {shape[0]} rows" if shape[0] != self.vocabulary_size() else ""
            raise ConfigurationError(
                f"{self._owner()} got `weights` of shape {matrix.shape}, but its ids need a matrix of shape {shape}: "
                f"one row per id, {self.vocabulary_size()} ids ({mask}{self.num_oov_indices} OOV and "
                f"{len(self._vocabulary)} tokens){padding}, each of output_dim={self.output_dim}. Row i is the "
                "vector of id i (`get_vocabulary()[i]`). For vectors keyed by word, use `load_pretrained()`."
            )
        rank = self.lora_rank
        self.lora_rank = None  # Built without LoRA, so `set_weights` sets the base matrix; LoRA follows.
        try:
            self.set_weights([matrix])
        finally:
            self.lora_rank = rank
        if rank:
            self.enable_lora(rank, lora_alpha=self.lora_alpha)

    @classmethod
    def from_lookup(cls, lookup: VocabLookup, output_dim: int, **kwargs: Any) -> VocabIdEmbedding:
        """An embedding half whose rows are the ids of `lookup` (same tokens, special slots and settings)."""
        if not isinstance(lookup, VocabLookup):
            raise ConfigurationError(
                f"`lookup` must be a keras_vocabsafe.VocabLookup. Received: {type(lookup).__name__}."
            )
        lookup._require_vocabulary()
        return cls(output_dim, **lookup._vocabulary_settings(), lookup_config=lookup._lookup_config(), **kwargs)

    def lookup(self, name: str | None = None) -> VocabLookup:
        """The lookup half: a `VocabLookup` giving exactly this layer's ids (for `tf.data` on any backend).

        For the embedding half of a text layer, a `TextVocabLookup` with the same tokenization (kept in this
        layer's config as `lookup_config`, so it also comes back from a saved model).
        """
        self._require_vocabulary()
        name = name or f"{self.name}_lookup"
        if self.lookup_config is None:
            return VocabLookup(**self._vocabulary_settings(), name=name)
        cls = keras.saving.get_registered_object(self.lookup_config["class_name"])
        if not (isinstance(cls, type) and issubclass(cls, VocabLookup)):
            raise ConfigurationError(
                f"{self._owner()} has lookup_config naming {self.lookup_config['class_name']!r}, which is not a "
                "registered VocabLookup class. Import the module that defines it (keras_vocabsafe for its own "
                "text lookup) before calling `lookup()`."
            )
        config = {**VocabularyLayer.get_config(self), **self.lookup_config["config"], "name": name}
        return cls.from_config(config)

    def check_lookup(self, lookup: VocabLookup) -> None:
        """Raises `VocabularyMismatchError` unless `lookup` gives exactly this layer's ids.

        Compares `vocabulary_fingerprint`s: the same tokens, in the same
        order, with the same special slots.
        """
        if not isinstance(lookup, VocabLookup):
            raise ConfigurationError(
                f"{self._owner()}.check_lookup() takes a keras_vocabsafe.VocabLookup. "
                f"Received: {type(lookup).__name__}."
            )
        if lookup.vocabulary_fingerprint == self.vocabulary_fingerprint:
            return
        difference = _describe_difference(
            lookup._ids_to_tokens(), self._ids_to_tokens(), labels=("lookup", "embedding")
        )
        raise VocabularyMismatchError(
            f"{lookup._owner()} gives ids of another vocabulary than {self._owner()} holds rows for (fingerprints "
            f"{lookup.vocabulary_fingerprint[:12]} and {self.vocabulary_fingerprint[:12]}; {difference}). Its ids "
            "would select the rows of other tokens. Build the lookup from this layer with `layer.lookup()`."
        )

    def compute_output_spec(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        source = _compat.producing_layer(inputs)
        try:
            self._check_symbolic_dtype(keras.backend.standardize_dtype(inputs.dtype))
        except KeyDtypeError:
            self._refuse_merged_integers(source)
            self._refuse_sequential_placeholders(inputs)
            raise
        if isinstance(source, VocabLookup) and not isinstance(self, VocabLookup):
            self.check_lookup(source)  # A model that wires a lookup into this layer: the pair is built here.
        return super().compute_output_spec(inputs, *args, **kwargs)

    def _check_symbolic_dtype(self, dtype: str) -> None:
        """Refuses, when the model is built, a symbolic input that `call` would refuse when the model runs."""
        if dtype not in _INTEGER_DTYPES:
            raise KeyDtypeError(
                f"{self._owner()} takes integer ids, but received a symbolic input of dtype {dtype}. Build the model "
                "from `keras.Input(shape=(None,), dtype='int64')` and map a `layer.lookup()` over the data."
            )

    def _inputs_taken(self) -> tuple[str, str]:
        """What the layer takes, in words, and the dtype of the `keras.Input` that gives it."""
        return "integer ids", "int64"

    def _refuse_sequential_placeholders(self, inputs: Any) -> None:
        """Names the cause when the layer comes first in a keras.Sequential that builds it on float placeholders."""
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        model = _compat.sequential_building_on(inputs)
        if model is None or not keras.backend.is_float_dtype(dtype):
            return
        taken, input_dtype = self._inputs_taken()
        shape = (None,) * (len(inputs.shape) - 1)
        start = f"keras.Input(shape={shape}, dtype={input_dtype!r})"
        raise KeyDtypeError(
            f"{self._owner()} takes {taken}, but comes first in the keras.Sequential {model.name!r}, which built it "
            f"on placeholders of dtype {dtype}: a Sequential builds its first layer on its `keras.Input`, or, "
            f"without one, on placeholders of that layer's own dtype ({self.compute_dtype}), whatever the data. "
            f"To give it {taken}, start the model with `{start}`: `keras.Sequential([{start}, ...])`."
        )

    def _refuse_merged_integers(self, source: Any) -> None:
        """Names the cause when a Keras merge layer turned integer ids or keys into floats (its own dtype)."""
        if not isinstance(source, _MERGE_LAYERS) or keras.backend.is_int_dtype(source.compute_dtype):
            return
        dtypes = [keras.backend.standardize_dtype(tensor.dtype) for tensor in _compat.inbound_tensors(source)]
        if not dtypes or not all(keras.backend.is_int_dtype(dtype) for dtype in dtypes):
            return
        kind = type(source).__name__
        raise KeyDtypeError(
            f"{self._owner()} received a symbolic input of dtype {source.compute_dtype} from the {kind} layer "
            f"{source.name!r}, which joins integer tensors ({', '.join(sorted(set(dtypes)))}) but casts its output to "
            f"its own dtype ({source.compute_dtype} unless given one), so they arrive as floats. Give that "
            f"layer an integer dtype: `keras.layers.{kind}(dtype={dtypes[0]!r})`"
            + (
                ", or use `keras.ops.concatenate([...], axis=-1)`, which keeps the dtype."
                if kind == "Concatenate"
                else "."
            )
        )

    def _has_rows(self) -> bool:
        return self.built

    def _num_rows(self, vocabulary_size: int | None = None) -> int:
        """Rows of the embedding matrix: `vocabulary_size()` rounded up to `pad_to_multiple_of`."""
        size = self.vocabulary_size() if vocabulary_size is None else vocabulary_size
        multiple = self.pad_to_multiple_of or 1
        return -(-size // multiple) * multiple

    def get_vectors(self, tokens: Any) -> np.ndarray:
        """Embedding vectors of the given tokens, as a NumPy array of shape `tokens.shape + (output_dim,)`."""
        if not self.built:
            self.build()
        return keras.ops.convert_to_numpy(self(self._token_ids(tokens)))

    def _token_ids(self, tokens: Any) -> Any:
        return self.lookup().token_to_id(tokens)

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
        oov_embeddings_initializer: Any = "mean",
        train: str = "all",
        format: str = "auto",
        tokens: Any = None,
        errors: str = "strict",
        nonfinite: str = "strict",
        verbose: Any = "auto",
        **kwargs: Any,
    ) -> VocabIdEmbedding:
        """A layer whose vocabulary and rows come from a vectors file.

        The vocabulary is the file's words in file order (most frequent first
        in GloVe, word2vec and fastText files), cut so that the layer has at
        most `max_tokens` rows; `output_dim` is the file's dimension. Words
        equal to the mask or OOV token are left out, since those have rows
        of their own. The mask row is zeros; OOV rows follow
        `oov_embeddings_initializer`.

        Args:
            source: a vectors file path (see `keras_vocabsafe.load_vectors`)
                or a `PretrainedVectors`.
            max_tokens: optional bound on `vocabulary_size()`, special slots included.
            mask_token, num_oov_indices, oov_token: as for the constructor.
            oov_embeddings_initializer: how OOV rows start, as for
                `load_pretrained`. Defaults to `"mean"`.
            train: `"all"` (default) fine-tunes every row; `"none"` freezes
                the layer; `"missing"` trains only the OOV rows.
            format, tokens, errors, nonfinite: as for `keras_vocabsafe.load_vectors`.
            verbose: `"auto"` (default), 0, 1 or 2, as for `load_vectors`: a
                progress bar of the bytes read, then what was read and what
                was found.
            **kwargs: other constructor arguments (`name`, `dtype`, ...).
        """
        verbose = check_verbose(verbose, f"{cls.__name__}.from_pretrained()")
        if "vocabulary" in kwargs:
            raise ConfigurationError(
                f"{cls.__name__}.from_pretrained() takes its vocabulary from the file's words, so it takes no "
                f"`vocabulary`. To give pretrained vectors to a vocabulary of your own, build "
                f"`{cls.__name__}(output_dim, vocabulary=...)` and call its `load_pretrained(source)`."
            )
        output_dim = kwargs.pop("output_dim", None)
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
            vectors = load_vectors(
                source,
                format=format,
                max_rows=extra,
                tokens=tokens,
                errors=errors,
                nonfinite=nonfinite,
                verbose=verbose,
            )
        if output_dim is not None and output_dim != vectors.dim:
            raise ConfigurationError(
                f"The vectors in {vectors.path or 'memory'} have {vectors.dim} dimensions, but `output_dim` is "
                f"{output_dim!r}. `from_pretrained()` takes output_dim from the vectors: leave it out, or pass "
                "vectors of that many dimensions."
            )
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
        layer.load_pretrained(
            vectors,
            oov_embeddings_initializer=oov_embeddings_initializer,
            train=train,
            nonfinite=nonfinite,
            verbose=verbose,
        )
        return layer

    @_in_strategy_of_rows
    def load_pretrained(
        self,
        source: Any,
        *,
        match: Any = ("exact",),
        missing_embeddings_initializer: Any = "mean_std",
        oov_embeddings_initializer: Any = "mean",
        train: str = "all",
        seed: int | None = None,
        format: str = "auto",
        tokens: Any = None,
        errors: str = "strict",
        nonfinite: str = "strict",
        verbose: Any = "auto",
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
            missing_embeddings_initializer: how rows of tokens without a
                vector start: one of `keras_vocabsafe.ROW_INITIALIZERS`,
                computed from the pretrained rows found (default
                `"mean_std"`: drawn from a normal with their per-dimension
                mean and standard deviation, so new rows have the pretrained
                scale; `"mean"`, `"mean_cov"`, `"zeros"`), any Keras
                initializer (name, instance or callable), or a second
                `PretrainedVectors` (its vector where it has one, else the
                mean).
            oov_embeddings_initializer: the same choice for the OOV rows.
                Defaults to `"mean"`.
            train: `"all"` (default) fine-tunes every row; `"none"` freezes
                the layer (`trainable=False`); `"missing"` trains only the
                OOV rows and the rows of tokens without a pretrained vector,
                and keeps every pretrained row (and the mask row) exactly as
                loaded (see `trainable_rows`).
            seed: seed for `"mean_std"` and `"mean_cov"` rows.
            format, tokens, errors, nonfinite: as for `keras_vocabsafe.load_vectors`.
            verbose: `"auto"` (default), 0, 1 or 2, as for `load_vectors`: a
                progress bar of the bytes read, then one line of what was
                found (also logged at INFO on the `keras_vocabsafe` logger).

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
        verbose = check_verbose(verbose, f"{self._owner()}.load_pretrained()")
        for argument, initializer in (
            ("missing_embeddings_initializer", missing_embeddings_initializer),
            ("oov_embeddings_initializer", oov_embeddings_initializer),
        ):  # Before the file is read.
            evolve._check_initializer(initializer, dim=self.output_dim, argument=argument)
        vocabulary = self._require_vocabulary()
        if self.vocabulary_dtype != "string":
            raise ConfigurationError(f"{self._owner()} has integer keys; pretrained vectors are keyed by words.")
        self._refuse_if_adapted(
            "load pretrained rows",
            "load them into the float layer, then quantize (`model.quantize(mode)`) or enable LoRA.",
        )
        aligned = align_vectors(
            source,
            vocabulary,
            match=match,
            format=format,
            tokens=tokens,
            errors=errors,
            nonfinite=nonfinite,
            expected_dim=self.output_dim,
            verbose=verbose,
        )
        if not aligned.found.any():
            raise VocabularyError(
                f"None of the {len(vocabulary)} tokens of {self._owner()} has a vector in {aligned.report.source}. "
                "Check that the file matches the vocabulary's tokenization, or pass match=('exact', 'lower')."
            )
        found = aligned.found
        oov_seed = None if seed is None else seed + 1
        oov_rows = evolve._initial_rows(
            oov_embeddings_initializer,
            [canonical_token(self.oov_token, "string")] * self.num_oov_indices,
            aligned.vectors,
            argument="oov_embeddings_initializer",
            where=found,
            seed=oov_seed,
        )
        missing_rows = evolve._initial_rows(
            missing_embeddings_initializer,
            [vocabulary[i] for i in np.flatnonzero(~found)],
            aligned.vectors,
            argument="missing_embeddings_initializer",
            where=found,
            seed=seed,
        )
        matrix = np.zeros((self._num_rows(), self.output_dim), dtype=np.float32)
        oov_ids, token_ids = self._oov_ids(), self._regular_ids()
        matrix[oov_ids] = oov_rows
        matrix[token_ids] = aligned.vectors  # Zeros where nothing was found; filled next.
        matrix[token_ids[~found]] = missing_rows
        self._check_rows_fit(matrix, self._ids_to_tokens(), f"the vectors of {aligned.report.source}")
        trainable_rows = None
        if train == "missing":
            trainable_rows = tuple(sorted((*oov_ids.tolist(), *token_ids[~found].tolist())))
        if self.built and trainable_rows == self.trainable_rows:
            self._assign_matrix(matrix)
        else:
            self.trainable_rows = trainable_rows
            self._create_weights(matrix)
            self._rows_given()
            self.built = True
        self.trainable = train != "none"
        return aligned.report

    def _check_rows_fit(self, matrix: np.ndarray, tokens: Any, source: str) -> None:
        """Refuses rows with a value that the layer's float16 weights or computation would make infinity."""
        stores, computes = self.variable_dtype == "float16", self.compute_dtype == "float16"
        overflow = evolve._first_overflow(matrix, np.float16) if stores or computes else None
        if overflow is not None:
            row, value = overflow
            how = "stores its rows in float16" if stores else "computes in float16"
            raise ConfigurationError(
                f"{self._owner()} {how} (dtype policy {self.dtype_policy.name!r}), whose largest value is "
                "65504, but the row of "
                f"{display_token(tokens[row])} from {source} holds {value:g}, which would become infinity. "
                "Build the layer with dtype='float32' (or 'bfloat16', which has float32's range), or scale "
                "the vectors down."
            )

    # Vocabulary updates ----------------------------------------------------------------

    @_in_strategy_of_rows
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
        budget: int | None = DEFAULT_BUDGET,
        verbose: Any = "auto",
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
            vocabulary: the new tokens: a list, array, `Vocabulary` or
                vocabulary file path, as for the constructor (listing the
                special tokens keeps every token at its position as its id).
            data: tokens to learn the new vocabulary from, in any form
                `adapt()` takes. Exactly one of `vocabulary` and `data`.
            merge: with `data`, add new tokens instead of re-adapting.
            max_tokens: optional new bound on `vocabulary_size()`; it
                replaces the layer's `max_tokens`. Defaults to the current
                bound.
            new_embeddings_initializer: how rows of new tokens start: one of
                `keras_vocabsafe.ROW_INITIALIZERS`, computed from the old
                token rows (default `"mean"`; `"mean_std"`, `"mean_cov"`,
                `"zeros"`), any Keras initializer (name, instance or
                callable), or a `PretrainedVectors` (its vector where it has
                one, else the mean).
            model: optional compiled model that trains this layer.
            seed: seed for `"mean_std"` and `"mean_cov"`.
            steps, budget: as for `adapt()`.
            verbose: `"auto"` (default), 0, 1 or 2, as for `adapt()`: a
                progress bar while `data` is counted (1), and a one-line
                summary of the update (1 or 2; also logged at INFO).

        Returns:
            A `VocabularyUpdateReport` (kept, added, dropped and re-ordered
            counts), which prints as a summary.
        """
        verbose = check_verbose(verbose, f"{self._owner()}.update_vocabulary()")
        self._refuse_unrestored_rows("update its vocabulary")
        if (vocabulary is None) == (data is None):
            raise ConfigurationError(
                f"{self._owner()}.update_vocabulary() needs exactly one of `vocabulary` (the new tokens) and "
                "`data` (tokens to learn them from)."
            )
        if merge and data is None:
            raise ConfigurationError("`merge=True` adds tokens learned from `data`; pass `data`, not `vocabulary`.")
        _check_max_tokens(max_tokens, self.mask_token is not None, self.num_oov_indices)
        if seed is not None and not _is_int(seed):
            raise ConfigurationError(f"`seed` must be an int or None. Received: seed={seed!r}")
        if model is not None and not (
            isinstance(model, keras.Model) and any(layer is self for layer in _compat.flatten_layers(model))
        ):
            raise ConfigurationError(
                f"`model` must be the keras.Model that holds {self._owner()} (its optimizer state is remapped and "
                f"its compiled functions rebuilt). Received: {type(model).__name__}"
                + (f" '{model.name}', which does not hold this layer." if isinstance(model, keras.Model) else ".")
            )
        evolve._check_initializer(
            new_embeddings_initializer, dim=self.output_dim, argument="new_embeddings_initializer"
        )
        self._require_vocabulary()
        if self.built and self.lora_enabled:
            raise QuantizationError(
                f"{self._owner()} has LoRA enabled, and its update (`lora_embeddings_a`, one row per id) is not "
                "moved with the rows. Save the model (which merges the update into the matrix), rebuild the layer "
                "without `lora_rank` from that matrix, update the vocabulary, then enable LoRA again."
            )
        recreated_optimizer = None  # Re-created once, here, for `_replace_rows` to build and fill.
        if model is not None and self.built and self.quantization_mode is None:
            recreated_optimizer = evolve._check_optimizer_can_follow(model, self._trained_variable()[0])
        limit = self.max_tokens if max_tokens is None else int(max_tokens)
        if vocabulary is not None:
            new, positions = self._place_special_tokens(vocabulary, limit)
        else:
            budget = check_budget(budget, self._owner())
            new = self._vocabulary_from_data(data, steps, merge=merge, limit=limit, budget=budget, verbose=verbose)
            positions = self._special_positions
            listed = [] if positions is None else [p for p in positions if p is not None]
            if listed and max(listed) >= len(new) + len(listed):  # The special ids must fall within the new ids.
                raise ConfigurationError(
                    f"{self._owner()} keeps its special tokens at ids {positions}, but the vocabulary learned from "
                    f"`data` has only {len(new)} tokens. Pass the new vocabulary, special tokens listed, instead."
                )
        self._check_vocabulary(new, limit)
        old_tokens = self._ids_to_tokens()
        new_tokens = self._ids_to_tokens(new, positions)
        old_token_ids, new_token_ids = self._regular_ids(), self._regular_ids(len(new), positions)
        if self.built:  # Before anything changes: a failed update leaves the layer as it was.
            _check_allocation(self, self._num_rows(len(new_tokens)), self.output_dim, len(new), _INITIALIZER_PEAK)
        # Vocabularies hold each token once and never a special token, so with one OOV row no token repeats.
        row_map = evolve._map_rows(old_tokens, new_tokens, distinct=self.num_oov_indices == 1)
        token_ids: dict[str, Any] = {"old_token_ids": old_token_ids, "new_token_ids": new_token_ids}
        if not self.built:
            self._vocabulary, self._special_positions, self.max_tokens = new, positions, limit
            self._vocabulary_changed()
            return _told(
                evolve._make_report(self.name, old_tokens, new_tokens, row_map, **token_ids, initializer="none"),
                verbose,
            )
        old_matrix = self._matrix()
        matrix: np.ndarray | None = evolve._remap_matrix(
            old_matrix,
            row_map,
            new_tokens,
            initializer=new_embeddings_initializer,
            reference_rows=old_token_ids,
            num_rows=self._num_rows(len(new_tokens)),
            seed=seed,
        )
        del old_matrix
        self._check_rows_fit(cast(np.ndarray, matrix), new_tokens, "`new_embeddings_initializer`")
        quantized = None
        if self.quantization_mode is not None:
            quantized, matrix = self._requantized_rows(cast(np.ndarray, matrix), row_map), None
        old_variable, old_trained_ids = self._trained_variable()
        before = self._state_before_update()
        try:
            remapped = self._replace_rows(
                new,
                positions,
                limit,
                row_map,
                matrix,
                quantized,
                model,
                recreated_optimizer,
                old_variable,
                old_trained_ids,
            )
        except BaseException:
            self._restore_state(before)  # All or nothing: a failed update leaves the layer as it was.
            raise
        report = evolve._make_report(
            self.name,
            old_tokens,
            new_tokens,
            row_map,
            **token_ids,
            initializer=new_embeddings_initializer,
            optimizer_variables=remapped,
        )
        return _told(report, verbose)

    def _state_before_update(self) -> dict[str, Any]:
        """What `_replace_rows` changes, for `_restore_state`: vocabulary, `trainable_rows` and variables."""
        variables = {name: getattr(self, name, None) for name in _MATRIX_ATTRIBUTES}
        order = {id(v): i for i, v in enumerate(self.weights)}
        return {
            "vocabulary": (self._vocabulary, self._special_positions, self.max_tokens),
            "trainable_rows": self.trainable_rows,
            "variables": dict(sorted(variables.items(), key=lambda item: order.get(id(item[1]), len(order)))),
            "generation": self._weights_generation,
        }

    def _restore_state(self, state: dict[str, Any]) -> None:
        """Puts back what `_state_before_update` saved."""
        self._vocabulary, self._special_positions, self.max_tokens = state["vocabulary"]
        self._vocabulary_changed()
        self.trainable_rows = state["trainable_rows"]
        old = state["variables"]
        current = self._base_variables()
        if [id(v) for v in current] != [id(v) for v in old.values() if v is not None]:

            def put_back() -> None:
                for name, variable in old.items():
                    setattr(self, name, variable)

            _compat.replace_variables(self, current, put_back)
        self._weights_generation = state["generation"] - 1
        self._weights_changed()  # Back to the old generation: functions traced on the old variables run again.

    def _replace_rows(
        self,
        new: Vocabulary,
        positions: Any,
        limit: int | None,
        row_map: evolve._RowMap,
        matrix: np.ndarray | None,
        quantized: dict[str, np.ndarray] | None,
        model: keras.Model | None,
        recreated_optimizer: Any,
        old_variable: Any,
        old_trained_ids: np.ndarray | None,
    ) -> int:
        """The changing half of `update_vocabulary`: the new vocabulary, rows and optimizer (`recreated_optimizer`,
        from `evolve._check_optimizer_can_follow`); returns the number of optimizer variables remapped."""
        old_tokens_count = row_map.old_size
        self._vocabulary, self._special_positions, self.max_tokens = new, positions, limit
        self._vocabulary_changed()
        if self.trainable_rows is not None:
            source = row_map.source
            was_trainable = np.zeros(old_tokens_count, dtype=bool)
            was_trainable[list(self.trainable_rows)] = True
            trains = (source < 0) | was_trainable[np.maximum(source, 0)]
            self.trainable_rows = tuple(np.flatnonzero(trains).tolist())
        self._create_weights(matrix, quantized=quantized)
        remapped = 0
        if model is not None and quantized is not None:
            # Nothing of a quantized matrix trains, so no optimizer state follows the rows; the compiled functions
            # captured the old variables.
            model.train_function = model.test_function = model.predict_function = None
        elif model is not None:
            new_variable, new_trained_ids = self._trained_variable()
            remapped = evolve._remap_optimizer(
                model,
                recreated_optimizer,
                old_variable if old_variable is not None else new_variable,
                new_variable,
                _trained_row_map(row_map, old_trained_ids, new_trained_ids),
            )
        if model is not None:
            _compat.retrack_torch_parameters(model)  # Else PyTorch's `model.parameters()` hold the old matrix.
        elif _compat.inbound_tensors(self):
            warnings.warn(
                f"{self._owner()} has a new embedding matrix, but a model that calls it may already have compiled "
                "a training or prediction function that uses the old one; such a function now fails (with this "
                "layer's name on TensorFlow; on JAX and PyTorch with Keras's 'Invalid variable value in "
                "StatelessScope' or 'Unknown variable') instead of running on. Pass `model=` to "
                "`update_vocabulary()` (it also remaps the optimizer state), or call `model.compile(...)` again "
                "before `fit`.",
                UserWarning,
                stacklevel=4,  # The caller of update_vocabulary(), past `_in_strategy_of_rows`.
            )
        return remapped

    def _requantized_rows(self, matrix: np.ndarray, row_map: evolve._RowMap) -> dict[str, np.ndarray]:
        """The quantized variables for the new rows of `update_vocabulary`.

        Kept rows keep their exact quantized values with their own per-row scales (and zero points); new rows
        (computed from the dequantized old rows) and padding are quantized as the layer was.
        """
        old = self._quantized_values()
        mode, config, source = _quantization.requantize_config(self.dtype_policy)
        new, _ = _quantization.quantize_matrix(matrix, mode, config, source)
        kept = row_map.kept
        for name in _quantization.ROW_VARIABLES:
            if name in new:
                new[name][kept] = old[name][row_map.source[kept]]
        return new

    def _vocabulary_from_data(
        self,
        data: Any,
        steps: int | None,
        *,
        merge: bool,
        limit: int | None,
        budget: int | None = DEFAULT_BUDGET,
        verbose: int = 0,
    ) -> Vocabulary:
        tokens, counts = self._count_tokens(data, steps, budget, verbose=verbose, action="update_vocabulary()")
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
        totals.update(zip(fresh.tokens, cast(np.ndarray, fresh.counts).tolist()))  # from_counts sets counts.
        merged = list(old.tokens) + list(fresh.tokens)
        if max_size is not None and len(merged) > max_size:
            # Keep the most frequent; ties keep the earlier (older) token.
            order = np.argsort(-np.fromiter((totals[t] for t in merged), np.int64, len(merged)), kind="stable")
            keep = np.sort(order[:max_size])
            merged = [merged[i] for i in keep]
        vocabulary = Vocabulary(merged, dtype=self.vocabulary_dtype)
        vocabulary._counts = np.fromiter((totals[t] for t in merged), np.int64, len(merged))
        return vocabulary

    # Quantization and LoRA --------------------------------------------------------------

    @_in_strategy_of_rows
    def quantize(self, mode: str | None = None, type_check: bool = True, config: Any = None) -> None:
        """Quantizes the embedding matrix exactly as `keras.layers.Embedding.quantize` does.

        `model.quantize(mode)` calls it for each layer. Supported modes are
        Keras's for `Embedding`: `"int8"` (one scale per row) and `"int4"`
        (one scale per row on Keras 3.12; per-group scales and zero points
        on later versions, `block_size` from
        `keras.quantizers.Int4QuantizationConfig`, default 128; Keras 3.11's
        `Embedding` has no int4, nor then has this layer). Other modes
        raise `QuantizationError`, a `NotImplementedError`, which
        `model.quantize()` reports as a warning, as for Keras's own layers.

        The quantized values and scales are those Keras's `Embedding` gives
        the same matrix, and rows are dequantized as Keras does, so vectors
        match Keras's quantized `Embedding` exactly. The dtype policy becomes
        `"<mode>_from_<policy>"` (saved in the config). The matrix no longer
        trains (`enable_lora` can still adapt it); with `trainable_rows`,
        every row is then frozen. The padding rows, all zeros, stay zeros.
        `type_check` is accepted for `Model.quantize`: every subclass of this
        layer quantizes.
        """
        del type_check
        if mode not in _quantization.SUPPORTED_MODES:
            raise QuantizationError(
                f"{self._owner()} quantizes as keras.layers.Embedding does, in the modes "
                f"{_quantization.SUPPORTED_MODES}. Received: mode={mode!r}."
            )
        self._refuse_unrestored_rows("be quantized")
        float_policy = self.dtype_policy
        if float_policy.quantization_mode is not None:  # Set by Keras's `dtype_policy` setter, which calls here.
            float_policy = _quantization.requantize_config(float_policy)[2]
        values, policy = _quantization.quantize_matrix(self._matrix(), mode, config, float_policy)
        previous = self.dtype_policy
        # Marked first: Keras's `dtype_policy` setter quantizes a built layer that is not yet marked.
        _compat.set_quantized(self, True)
        try:
            self.dtype_policy = policy
            self._create_weights(quantized=values)
        except BaseException:
            _compat.restore_dtype_policy(self, previous)
            _compat.set_quantized(self, False)
            raise

    @_in_strategy_of_rows
    def enable_lora(
        self,
        rank: int,
        lora_alpha: float | None = None,
        a_initializer: Any = "he_uniform",
        b_initializer: Any = "zeros",
    ) -> None:
        """Freezes the matrix and trains a low-rank update `(lora_alpha / rank) * A @ B`, as Keras's `Embedding`.

        `lora_embeddings_a` has one row per id (`(rows, rank)`) and
        `lora_embeddings_b` is `(rank, output_dim)`, both float32; only they
        train. Works on a quantized layer too (QLoRA). Saving merges the
        update into the matrix (re-quantized on a quantized layer) and the
        config keeps `lora_rank`, so a loaded layer has LoRA enabled again
        with a zero update, as in Keras; unlike Keras, `A` restarts from
        `a_initializer` rather than zeros, so that training can go on.
        Not with `trainable_rows` (LoRA updates every row) nor an
        `embeddings_constraint` (Keras refuses that too).
        """
        if rank is None:
            raise ConfigurationError(f"The LoRA rank must be a positive integer. Received: rank={rank!r}")
        _validate_lora(rank, lora_alpha, self.trainable_rows, self.embeddings_constraint)
        # Both resolved before either weight is added: a bad one must leave the layer as it was.
        a_initializer = _get("a_initializer", a_initializer, keras.initializers.get)
        b_initializer = _get("b_initializer", b_initializer, keras.initializers.get)
        if not self.built:
            raise ConfigurationError(
                f"Cannot enable LoRA on {self._owner()} before it is built (its rows are not created yet). Call "
                "`layer.build()` or the model once first, or pass `lora_rank=` to the constructor."
            )
        if self.lora_enabled:
            raise ConfigurationError(f"LoRA is already enabled on {self._owner()}; it can be enabled only once.")
        with _compat.unlocked_tracking(self):
            # float32 whatever the policy, as in Keras: small updates would underflow in float16.
            self.lora_embeddings_a = self.add_weight(
                name="lora_embeddings_a",
                shape=(self._num_rows(), int(rank)),
                initializer=a_initializer,
                dtype="float32",
                regularizer=self.embeddings_regularizer,
            )
            self.lora_embeddings_b = self.add_weight(
                name="lora_embeddings_b",
                shape=(int(rank), self.output_dim),
                initializer=b_initializer,
                dtype="float32",
                regularizer=self.embeddings_regularizer,
            )
        self._embeddings.trainable = False
        self.lora_enabled = True
        self.lora_rank = int(rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else int(rank)
        self._lora_a_initializer = a_initializer
        # A function traced before would go on training the matrix LoRA now freezes, and never the factors.
        self._weights_changed()

    def _lora_delta(self) -> Any:
        return (self.lora_alpha / self.lora_rank) * keras.ops.matmul(self.lora_embeddings_a, self.lora_embeddings_b)

    def _g_idx(self) -> Any:
        return getattr(self, "g_idx", None)

    def _saved_arrays(self) -> list[np.ndarray]:
        """The matrix as saved: float, or Keras's quantized variables in Keras's order; LoRA merged in (as Keras)."""
        if not self.lora_enabled:
            if self.quantization_mode is not None:
                return list(self._quantized_values().values())
            if self._trainable_embeddings is None and keras.backend.backend() == "tensorflow":
                # A read of the variable rather than a NumPy copy: Keras's store copies what it is given, so the
                # matrix is copied once while it is written, not twice.
                return [tf.convert_to_tensor(self._embeddings.value)]
            return [self._matrix()]
        delta = keras.ops.convert_to_numpy(self._lora_delta())
        delta[self.vocabulary_size() :] = 0  # No id selects the padding rows: they stay zeros.
        if self.quantization_mode is None:
            matrix = self._matrix()
            return [(matrix + delta).astype(matrix.dtype)]
        merged = self._matrix() + delta
        mode, config, source = _quantization.requantize_config(self.dtype_policy)
        values, _ = _quantization.quantize_matrix(merged, mode, config, source)
        return list(values.values())

    def _refuse_if_adapted(self, action: str, fix: str) -> None:
        """Refuses `action` on a quantized or LoRA layer, naming which and how to proceed."""
        if self.built and (self.quantization_mode is not None or self.lora_enabled):
            raise QuantizationError(f"{self._owner()} is {self._weights_kind()}, so it cannot {action}: {fix}")

    # Keras layer API -----------------------------------------------------------------

    @property
    def built(self) -> bool:
        """Whether the layer has its weights.

        Keras marks a layer built after any call, including the placeholder call of a load that finds no
        vocabulary yet, which makes no weights (see `build`): the layer is built once its weights exist.
        """
        return self._marked_built and getattr(self, "_embeddings", None) is not None

    @built.setter
    def built(self, value: bool) -> None:
        self._marked_built = value

    def build(self, input_shape: Any = None) -> None:
        if self.built:  # As keras.layers.Embedding: a second build (a subclassed model's `build`) keeps the rows.
            return
        if self._vocabulary is None and _compat.in_model_load() and _compat.in_symbolic_scope():
            # `load_model()` runs a subclassed model on placeholders to build its layers before it restores them,
            # and this layer's vocabulary is in its weights (`_adopt_saved_vocabulary`): no rows yet, and the
            # call answers with the output's shape (`_build_placeholder_vectors`), so the layers after it build.
            return
        # Built to receive saved or given rows (by `load_model`, or right before `set_weights` and
        # `load_own_variables` assign): a random draw of the whole matrix would only be overwritten, and Keras's
        # random initializers hold about three matrices while they run.
        with _compat.unlocked_tracking(self):  # Keras locked it after a load's placeholder build (see above).
            self._create_weights(placeholder=_loading.values_follow())
        self.built = True
        if self.lora_rank and not self.lora_enabled:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    def _create_weights(
        self,
        matrix: np.ndarray | None = None,
        quantized: dict[str, np.ndarray] | None = None,
        placeholder: bool = False,
    ) -> None:
        """Creates the weights from the initializer or from `matrix`; replaces them on a built layer.

        `placeholder`: zeros instead of the initializer's values, for weights whose every row is assigned next.

        With `trainable_rows`, the frozen rows live in a non-trainable variable and the trainable rows in a
        trainable one of their own, so no optimizer step, weight decay, regularizer or constraint ever
        touches a frozen row, and nothing has to be restored (or can go stale) after a step.

        Under a quantized dtype policy, the variables are those of Keras's quantized `Embedding` (`quantized`
        gives their values; without it they are placeholders for a load), and `trainable_rows` has nothing to
        keep apart: a quantized matrix does not train.
        """
        if self.trainable_rows and self.trainable_rows[-1] >= self.vocabulary_size():
            raise ConfigurationError(
                f"{self._owner()} has ids 0 to {self.vocabulary_size() - 1}, but `trainable_rows` names id "
                f"{self.trainable_rows[-1]}."
            )
        drawn = matrix is None and not placeholder
        _check_allocation(
            self, self._num_rows(), self.output_dim, len(self._require_vocabulary()), _INITIALIZER_PEAK if drawn else 1
        )
        split = self.trainable_rows is not None
        if matrix is not None:
            initializer = _constant(matrix)
        elif placeholder:
            initializer = keras.initializers.Zeros()
        else:
            initializer = self._padded_initializer(self.embeddings_initializer)

        def create() -> None:
            if self.quantization_mode is not None:
                self._create_quantized(quantized)
                return
            self._embeddings = self.add_weight(
                shape=(self._num_rows(), self.output_dim),
                initializer=initializer,
                name="embeddings",
                regularizer=None if split else self.embeddings_regularizer,
                constraint=None if split else self.embeddings_constraint,
                trainable=not split,
            )
            self._trainable_embeddings = None
            if self.trainable_rows:
                with _compat.init_scope():
                    rows = self._embeddings.numpy()[self._trainable_ids()]
                self._trainable_embeddings = self.add_weight(
                    shape=rows.shape,
                    initializer=_constant(rows),
                    name="trainable_embeddings",
                    regularizer=self.embeddings_regularizer,
                    constraint=self.embeddings_constraint,
                    trainable=True,
                )

        old = self._base_variables()
        if not old:
            create()
            if keras.backend.backend() == "tensorflow":
                with tf.init_scope():
                    self._generation_variable = tf.Variable(
                        0, dtype=tf.int64, trainable=False, name="weights_generation"
                    )
            return
        _compat.replace_variables(self, old, create)
        self._weights_changed()

    def _weights_changed(self) -> None:
        """Makes functions traced before fail (see `_check_current`): the weights they use are not the layer's.

        On PyTorch, also lists the new weights in the `parameters()` and `state_dict()` of every model that holds
        the layer (Keras lists them once, when the model is built): a PyTorch training loop over
        `model.parameters()` then trains them, not the replaced ones."""
        self._weights_generation += 1
        if self._generation_variable is not None:
            self._generation_variable.assign(self._weights_generation)
        _compat.retrack_torch_parameter_owners(self)

    def _base_variables(self) -> list[Any]:
        """The variables that hold the matrix (float, split or quantized), not LoRA's."""
        return [getattr(self, name) for name in _MATRIX_ATTRIBUTES if getattr(self, name, None) is not None]

    def _create_quantized(self, values: dict[str, np.ndarray] | None) -> None:
        if values is None:
            values = _quantization.empty_variables(self._num_rows(), self.output_dim, self.dtype_policy)
        self._trainable_embeddings = None
        for name in _quantization.VARIABLE_NAMES[1:]:
            setattr(self, name, None)  # `_create_weights` has untracked the old ones.
        for name, value in values.items():
            variable = self.add_weight(
                shape=value.shape,
                initializer=_constant(value),
                dtype=str(value.dtype),
                name=name,
                trainable=False,
            )
            setattr(self, "_embeddings" if name == "embeddings" else name, variable)
        _compat.set_quantized(self, True)

    def _quantized_values(self) -> dict[str, np.ndarray]:
        return {
            name: keras.ops.convert_to_numpy(getattr(self, "_embeddings" if name == "embeddings" else name))
            for name in _quantization.VARIABLE_NAMES
            if getattr(self, "_embeddings" if name == "embeddings" else name, None) is not None
        }

    def _padded_initializer(self, initializer: Any) -> Any:
        """`initializer` for the real rows; zeros for the padding rows after them."""
        padding = self._num_rows() - self.vocabulary_size()
        if not padding:
            return initializer

        def initialize(shape: tuple[int, int], dtype: Any = None) -> Any:
            rows = initializer((shape[0] - padding, shape[1]), dtype=dtype)
            return keras.ops.concatenate([rows, keras.ops.zeros((padding, shape[1]), dtype=rows.dtype)], axis=0)

        return initialize

    def _trainable_ids(self) -> np.ndarray:
        return np.asarray(self.trainable_rows, dtype=np.int64)

    @property
    def embeddings(self) -> Any:
        """The embedding matrix, `(rows, output_dim)`, or `None` before the layer is built.

        The variable itself when every row trains. With `trainable_rows`,
        frozen and trainable rows are two variables; this is then a view of
        both as one matrix (`MergedEmbeddings`): it reads as the matrix
        (`numpy()`, `np.asarray`, any backend's ops, `value`) and its
        `assign(matrix)` sets the frozen and the trainable rows alike.

        As for `keras.layers.Embedding`: on a quantized layer, the quantized
        values (int8; int4 unpacked to int8), to be divided by
        `embeddings_scale`; with LoRA enabled on a float layer, the matrix
        with the LoRA update added (a tensor, not a variable).
        """
        if self.quantization_mode == "int4" and self._embeddings is not None:
            return keras.quantizers.unpack_int4(self._embeddings, self.output_dim, axis=-1)
        if self.quantization_mode is not None or self._trainable_embeddings is None:
            if self.lora_enabled and self.quantization_mode is None:
                return keras.ops.cast(keras.ops.add(self._embeddings, self._lora_delta()), self.compute_dtype)
            return self._embeddings
        return MergedEmbeddings(self)

    def _trained_variable(self) -> tuple[Any, np.ndarray | None]:
        """The variable the optimizer updates (if any), and the id of each of its rows (`None`: row i is id i)."""
        if self.trainable_rows is not None:
            return self._trainable_embeddings, self._trainable_ids()
        return self._embeddings, None

    def _matrix(self) -> np.ndarray:
        """Every row (padding included) as one NumPy array (dequantized in float32 if the layer is quantized)."""
        if _compat.is_quantized(self):
            return keras.ops.convert_to_numpy(
                _quantization.dequantize(
                    self._quantized_values(), self.quantization_mode, self.output_dim, "float32", self._g_idx()
                )
            )
        matrix = self._embeddings.numpy()  # One copy; convert_to_numpy would make two.
        if not matrix.flags.writeable:
            matrix = matrix.copy()
        if self._trainable_embeddings is not None:
            matrix[self._trainable_ids()] = self._trainable_embeddings.numpy()
        return matrix

    def _assign_matrix(self, matrix: np.ndarray) -> None:
        """Sets every row (padding included) from one full matrix."""
        self._rows_given()
        self._embeddings.assign(matrix.astype(self._embeddings.dtype, copy=False))
        if self._trainable_embeddings is not None:
            self._trainable_embeddings.assign(matrix[self._trainable_ids()].astype(self._embeddings.dtype, copy=False))

    def _assign_stored_matrix(self, matrix: Any) -> None:
        """Sets every row from a saved matrix; an unread one (an h5py dataset) is read into the variable a block of
        rows at a time, so that loading never holds the whole matrix twice besides Keras's copy of the file."""
        variable = getattr(self._embeddings, "value", None)
        if (
            isinstance(matrix, np.ndarray)
            or self._trainable_embeddings is not None
            or keras.backend.backend() != "tensorflow"
            or not isinstance(variable, tf.Variable)
            or isinstance(variable, tf.distribute.DistributedValues)
        ):
            self._assign_matrix(np.asarray(matrix))
            return
        block = max(1, _ASSIGN_BLOCK_BYTES // max(1, self.output_dim * variable.dtype.size))
        for start in range(0, matrix.shape[0], block):
            rows = matrix[start : start + block].astype(variable.dtype.as_numpy_dtype, copy=False)
            # A scatter writes in place; `variable[a:b].assign()` reads the variable first, and while that read is
            # alive TensorFlow copies the whole matrix before writing the slice (each block, a whole copy).
            indices = np.arange(start, start + len(rows), dtype=np.int64)
            variable.scatter_update(tf.IndexedSlices(rows, indices))

    def get_weights(self) -> list[np.ndarray]:
        """`[matrix]`: the whole embedding matrix, as for `keras.layers.Embedding`.

        As there too: a quantized layer gives its quantized variables instead (`[embeddings,
        embeddings_scale, ...]`), and LoRA adds `lora_embeddings_a` and `lora_embeddings_b` at the end.
        """
        if not self.built:
            return []
        quantized = self.quantization_mode is not None
        weights = list(self._quantized_values().values()) if quantized else [self._matrix()]
        if self.lora_enabled:
            weights += [keras.ops.convert_to_numpy(v) for v in (self.lora_embeddings_a, self.lora_embeddings_b)]
        return weights

    def set_weights(self, weights: Any) -> None:
        """Sets the embedding matrix from `[matrix]`, as `get_weights()` returns it.

        With `trainable_rows`, the frozen and the trainable rows both take their new values.
        """
        weights = list(weights)
        # An unbuilt layer with `lora_rank` enables LoRA when it builds (as `_set_other_weights` does first).
        if self.quantization_mode is not None or self.lora_enabled or self.lora_rank:
            self._set_other_weights(weights)
            return
        self._require_vocabulary()  # Its size gives the matrix's rows.
        shape = (self._num_rows(), self.output_dim)
        if len(weights) != 1 or tuple(np.shape(weights[0])) != shape:
            raise ConfigurationError(
                f"{self._owner()}.set_weights() takes a list holding one matrix of shape {shape} (rows for its "
                f"{self.vocabulary_size()} ids"
                + (f", padded to {shape[0]}" if shape[0] != self.vocabulary_size() else "")
                + f"). Received: {len(weights)} array(s) of shape(s) {[tuple(np.shape(w)) for w in weights]}."
            )
        if not self.built:
            with _loading.values_to_follow():
                self.build()
        self._assign_matrix(np.asarray(weights[0]))

    def _set_other_weights(self, weights: list[Any]) -> None:
        """`set_weights` for a quantized or LoRA layer: every array must match its variable's shape and dtype."""
        if not self.built:
            with _loading.values_to_follow():
                self.build()
        variables = self._base_variables() if self.quantization_mode is not None else [self._embeddings]
        if self.lora_enabled:
            variables += [self.lora_embeddings_a, self.lora_embeddings_b]
        expected = [(tuple(v.shape), keras.backend.standardize_dtype(v.dtype)) for v in variables]
        received = [(tuple(np.shape(w)), keras.backend.standardize_dtype(np.asarray(w).dtype)) for w in weights]
        same_kinds = len(expected) == len(received) and all(
            e[0] == r[0] and (e[1] == r[1] or (e[1] != "int8" and "float" in r[1])) for e, r in zip(expected, received)
        )
        if not same_kinds:
            raise ConfigurationError(
                f"{self._owner()}.set_weights() takes what its get_weights() gives ({self._weights_kind()}): arrays "
                f"of shapes and dtypes {expected}. Received: {received}."
            )
        self._rows_given()
        for variable, value in zip(variables, weights):
            variable.assign(np.asarray(value).astype(variable.dtype, copy=False))

    def _weights_kind(self) -> str:
        kinds = []
        if self.quantization_mode is not None:
            kinds.append(f"quantized with dtype policy {self.dtype_policy.name!r}")
        if self.lora_enabled:
            kinds.append(f"LoRA of rank {self.lora_rank}")
        return ", ".join(kinds) or "float"

    def call(self, inputs: Any) -> Any:
        self._refuse_tf_graphs(inputs)
        if isinstance(inputs, tf.SparseTensor):
            raise sparse_tensor_error(self._owner(), "inputs")
        backend = keras.backend.backend()
        if isinstance(inputs, tf.RaggedTensor):
            if backend != "tensorflow":
                raise KeyDtypeError(
                    f"{self._owner()} received a tf.RaggedTensor, which the {backend} backend has no tensor for. "
                    "Pad the ids first (id 0 is the mask id when the layer has a mask_token): "
                    "`ids.to_tensor()`, or `dataset.padded_batch(...)` in the tf.data pipeline."
                )
            return tf.ragged.map_flat_values(self.call, inputs)
        if _on_host(inputs):
            inputs = self._host_ids(inputs)
        elif backend == "torch" and str(getattr(inputs, "dtype", "")) in _TORCH_WIDE_UNSIGNED:
            # PyTorch has uint32 and uint64 tensors but few ops for them (no min, max or gather): their values are
            # read and checked on the host, as NumPy ids are. uint64 was refused as no integer, uint32 failed with
            # PyTorch's '"min_all" not implemented'.
            inputs = self._host_ids(inputs.detach().cpu().numpy())
        ids = keras.ops.convert_to_tensor(inputs)
        dtype = keras.backend.standardize_dtype(ids.dtype)
        if _compat.in_symbolic_scope() and keras.backend.is_float_dtype(dtype):
            return self._build_placeholder_vectors(ids)
        if _compat.in_keras_save_signature(ids):
            return self._save_signature_placeholder(ids)
        self._check_ids_dtype(dtype)
        # As keras.layers.Embedding does: ids of a narrow dtype could not hold the row count that the range check
        # compares with (it wrapped, and a traced JAX id was sent to the mask row), and TensorFlow gathers take
        # int32 and int64 indices only.
        if dtype in _NARROW_ID_DTYPES or (dtype == "uint32" and backend == "tensorflow"):
            ids = keras.ops.cast(ids, "int64" if dtype == "uint32" else "int32")
        ids = self._check_id_range(ids)
        if _compat.in_xla_compilation():
            return self._gather_in_xla(ids)
        return self._gather(ids)

    def _build_placeholder_vectors(self, inputs: Any) -> Any:
        """Zero vectors of the output's shape for the float32 placeholders Keras runs a subclassed model on when it
        rebuilds it on reload (`build_from_config`), where only shapes matter. Refusing them left the layers after
        this one unbuilt, so their saved weights were skipped (a warning) and the model predicted with fresh ones."""
        if keras.backend.backend() == "tensorflow":
            return tf.zeros(tf.concat([tf.shape(inputs), [self.output_dim]], 0), self.compute_dtype)
        return keras.ops.zeros((*inputs.shape, self.output_dim), self.compute_dtype)

    def _gather_in_xla(self, ids: tf.Tensor) -> tf.Tensor:
        """Rows of `ids` in a function TensorFlow compiles with XLA, which has no assertions to refuse ids with.

        An XLA gather clamps ids outside the rows to the first or last row (another token's vector); as on JAX,
        such ids get NaN vectors instead, which the loss shows.
        """
        outputs = self._gather(ids)
        outside = tf.logical_or(ids < 0, ids >= tf.cast(self.vocabulary_size(), ids.dtype))
        return tf.where(outside[..., tf.newaxis], tf.constant(np.nan, outputs.dtype), outputs)

    def _refuse_tf_graphs(self, inputs: Any) -> None:
        """Refuses, on JAX and PyTorch, tensors of a TensorFlow graph (a `tf.data` map, a `tf.function`) as inputs.

        The rows are JAX or PyTorch arrays there, which a TensorFlow graph cannot hold: the call failed deep inside
        with "Cannot convert a symbolic tf.Tensor to a numpy array".
        """
        backend = keras.backend.backend()
        if backend == "tensorflow" or tf.executing_eagerly():
            return
        if not isinstance(inputs, (tf.Tensor, tf.RaggedTensor, tf.SparseTensor)):
            return
        if hasattr(self, "halves"):  # A layer with its own lookup: only that half runs in the graph.
            fix = (
                "Split it: `lookup, embedding = layer.halves()`; map `lookup` over the tf.data pipeline and call "
                "`embedding` in the model, on the ids"
            )
        else:
            fix = "Map only its lookup there (`layer.lookup()`) and call this layer in the model, on the ids"
        raise ConfigurationError(
            f"{self._owner()} holds its rows as {backend} arrays, so it cannot run inside a TensorFlow graph (a "
            f"tf.data map or a tf.function) on the {backend} backend. {fix} the pipeline gives."
        )

    def _save_signature_placeholder(self, inputs: tf.Tensor, shape: Any = None) -> tf.Tensor:
        """Vectors for the float32 placeholders of Keras's trace of a subclassed model's default save signature
        (`_compat.in_keras_save_signature`), where this layer would refuse them: the model must trace to be saved
        at all, and the function it makes fails with this message if it is ever called."""
        refused = tf.debugging.Assert(
            tf.constant(False),
            [
                f"{self._owner()} received float32 inputs: this is the default signature Keras traced for a "
                "subclassed model while saving it, on float32 placeholders whatever the model takes. Serve the "
                "signature you export (`model.export(..., input_signature=...)` or `export_for_serving`)."
            ],
        )
        with tf.control_dependencies([refused]):
            shape = tf.concat([tf.shape(inputs), [self.output_dim]], 0) if shape is None else shape
            return tf.zeros(shape, self.compute_dtype)

    def _check_ids_dtype(self, dtype: str) -> None:
        if dtype not in _INTEGER_DTYPES:
            raise KeyDtypeError(
                f"{self._owner()} takes integer ids (from a VocabLookup of its vocabulary: `layer.lookup()`). "
                f"Received dtype {dtype}."
                + (
                    " To feed strings, use VocabEmbedding, or map the lookup over a tf.data pipeline."
                    if dtype == "string"
                    else export_hint("int64")
                )
            )

    def _host_ids(self, inputs: Any) -> Any:
        """Ids given as NumPy arrays or lists (or, to a JAX or PyTorch layer, TensorFlow tensors), checked before the
        backend converts them.

        The conversion would lose what the checks need: JAX (without x64) cuts int64 ids to int32, so id 2**40 would
        become 0 (the mask row) silently; PyTorch and TensorFlow's gather take no uint64; and neither JAX nor PyTorch
        takes strings. Ids in range fit int32.
        """
        if isinstance(inputs, (tf.Tensor, tf.Variable)):
            if inputs.dtype == tf.string:
                self._check_ids_dtype("string")
            if not tf.executing_eagerly():
                return inputs  # No values to check (a graph of the lookup half's): the backend converts it, or not.
            values = inputs.numpy()
        else:
            values = np.asarray(inputs)
        if values.size == 0:  # An empty list is float64 to NumPy: no values, no dtype to refuse.
            return values.astype(np.int32)
        if values.dtype.kind == "O":
            kinds = {type(value) for value in values.flat}
            # Python ints in an object array (a pandas column of object dtype) are ids; bool is no id.
            if not all(issubclass(kind, numbers.Integral) and not issubclass(kind, bool | np.bool_) for kind in kinds):
                strings = any(issubclass(kind, str | bytes) for kind in kinds)
                names = ", ".join(sorted(kind.__name__ for kind in kinds)[:4])
                self._check_ids_dtype("string" if strings else f"object (holding {names})")
        elif values.dtype.kind not in "iu":
            self._check_ids_dtype("string" if values.dtype.kind in "SU" else str(values.dtype))
        self._check_concrete_ids(values)
        return values.astype(np.int32)

    def _check_id_range(self, ids: Any) -> Any:
        """Refuses ids outside `[0, vocabulary_size())` wherever their values can be seen.

        On TensorFlow a gather on GPU would give zero vectors silently; on JAX `take` wraps a negative id to the
        last rows and fills ids beyond them with NaN. Eager ids are checked on both, graph ids on TensorFlow
        (an assertion, which XLA drops: there `call` gives NaN vectors, see `_gather_in_xla`); ids traced by
        `jax.jit` (inside `fit`) have no values to check, so those out of range
        select NaN vectors (a negative one too). Only ids from outside
        (a `tf.data` pipeline) can be out of range; the joined layers, whose own lookup gives the ids, do not
        come here. On PyTorch, ids are checked eagerly, and by an assertion where `torch.compile` traces them.
        """
        backend = keras.backend.backend()
        if backend == "jax":
            import jax

            if not isinstance(ids, jax.core.Tracer):
                self._check_concrete_ids(np.asarray(ids))
                return ids
            # Traced ids outside [0, vocabulary_size()) are sent past the last row, where `take` gives NaN, which the
            # loss shows: left as they are, a negative id would take a last row and an id of a padding row its zeros.
            outside = keras.ops.logical_or(keras.ops.less(ids, 0), keras.ops.greater_equal(ids, self.vocabulary_size()))
            return keras.ops.where(outside, self._num_rows(), ids)
        if backend == "torch":
            import torch

            # PyTorch raises IndexError for ids beyond the rows, but wraps a negative id to the last rows.
            if torch.compiler.is_compiling():
                # Traced ids (`jit_compile=True`) have no values here: an assertion in the compiled graph refuses
                # them when it runs, with this layer's message. Without it a negative id took a last row, and an id
                # of a padding row (`pad_to_multiple_of`) its zeros, silently.
                size = self.vocabulary_size()
                torch._assert_async(torch.logical_and(ids >= 0, ids < size).all(), self._id_range_message())
                return ids
            if ids.numel():
                # The extremes only: two scalars leave the device, not the whole batch.
                self._check_concrete_ids(torch.stack([ids.min(), ids.max()]).detach().cpu().numpy())
            return ids
        if backend != "tensorflow":
            return ids
        if tf.executing_eagerly():
            self._check_concrete_ids(ids.numpy() if hasattr(ids, "numpy") else np.asarray(ids))
            return ids
        in_range = tf.logical_and(
            tf.reduce_all(ids >= 0), tf.reduce_all(ids < tf.cast(self.vocabulary_size(), ids.dtype))
        )
        check = tf.debugging.Assert(in_range, [self._id_range_message()])
        with tf.control_dependencies([check]):
            return tf.identity(ids)

    def _id_range_message(self) -> str:
        return (
            f"{self._owner()} has ids 0 to {self.vocabulary_size() - 1}, but received ids outside that range: they "
            "come from a lookup of another vocabulary (or other source). Map the data with this layer's own "
            "`layer.lookup()`."
        )

    def _check_concrete_ids(self, values: np.ndarray) -> None:
        size = self.vocabulary_size()
        if values.size and (values.min() < 0 or values.max() >= size):
            bad = values[(values < 0) | (values >= size)].reshape(-1)[0]
            raise UnknownIdError(f"{self._id_range_message()} First: id {bad}.")

    def quantized_call(self, *args: Any, **kwargs: Any) -> Any:
        # Keras calls this instead of `call` on a quantized layer: the same checks and lookup, then `_gather`
        # dequantizes the selected rows.
        return self.call(*args, **kwargs)

    def _refuse_unrestored_rows(self, action: str) -> None:
        """Refuses to use or save a layer `load_model` made whose saved state Keras never restored.

        Keras 3.11 to 3.14 save no weights for a layer kept in a list or dict inside another list or dict (and
        load such a file without a word); 3.15 loads it with a warning ("Skipping nested container"). Either
        way the layers keep the values they were built with: for ours the zeros a load builds (or, built later,
        fresh initializer values), so every token would get a vector it was never trained for. An error says so
        instead. The mark is set when `load_model` creates the layer and cleared by `load_own_variables` and by
        every path that gives the layer its rows (`set_weights`, `load_pretrained`, remapped loads).

        The mark is also set, to the reason, when `load_own_variables` cannot read its store (a shard of sharded
        weights missing or truncated): `model.load_weights()` drops that error and returns. A function compiled
        before does not run this check again: on TensorFlow it fails (`_check_current`); on JAX and PyTorch the
        layer's rows are NaN (see `_refuse_until_given_rows`), so it gives NaN vectors.
        """
        if not self._awaiting_saved_rows or _compat.in_model_load():
            return
        if isinstance(self._awaiting_saved_rows, str):
            raise ConfigurationError(f"{self._owner()} cannot {action}, as it {self._awaiting_saved_rows}")
        raise ModelFileError(
            f"{self._owner()} cannot {action}: keras.saving.load_model() rebuilt it, but Keras never restored "
            "its weights from the file, so it holds no trained rows. Keras 3.11 to 3.14 save no weights for a "
            "layer kept in a list or dict inside another list or dict (Keras 3.15 warns 'Skipping nested "
            "container' when it loads such a file). The rows are not in this file: save the trained model again "
            "with Keras 3.15 or later, or with the layer in a plain attribute. To train it from new rows instead, "
            "give it rows first with its own `set_weights` (`layer.set_weights([matrix])`; `model.set_weights()` "
            "assigns the layer's variables without the layer knowing)."
        )

    def _refuse_until_given_rows(self, reason: str) -> None:
        """Marks the layer unusable until it is given rows, for `reason`; on JAX and PyTorch, sets its rows to NaN.

        Functions traced before (a compiled `predict`) do not run `_refuse_unrestored_rows` again. On TensorFlow
        they fail (see `_check_current`), and the rows stay as they were. On JAX and PyTorch nothing checks a
        compiled step, which went on with the rows the layer had (fresh initializer values), without a word: NaN
        rows reach any such function with no op added to its steps, so its vectors, loss and predictions are NaN.
        Every path that gives rows (`set_weights`, a complete load) overwrites them.
        """
        self._awaiting_saved_rows = reason
        if self._generation_variable is not None:
            self._generation_variable.assign(_ROWS_UNREAD)
            return  # TensorFlow: traced functions check the generation; the rows the layer had are kept.
        for variable in self._base_variables():
            # The float variables: the matrix (both parts with `trainable_rows`) or a quantized matrix's scale, by
            # which its rows are divided. LoRA adds to these rows, so its factors need not change. Made in the
            # variable's dtype by the backend: one matrix besides the variable while it is assigned, as any
            # assignment of new rows.
            if keras.backend.is_float_dtype(variable.dtype):
                variable.assign(keras.ops.full(tuple(variable.shape), np.nan, dtype=variable.dtype))

    def _rows_given(self) -> None:
        """Clears the mark of `_refuse_unrestored_rows`: the layer holds the rows it should."""
        if isinstance(self._awaiting_saved_rows, str) and self._generation_variable is not None:
            self._generation_variable.assign(self._weights_generation)
        self._awaiting_saved_rows = False

    def _gather(self, ids: Any) -> Any:
        self._refuse_unrestored_rows("look up vectors")
        if self.quantization_mode is not None:
            rows = {
                name: _take(getattr(self, "_embeddings" if name == "embeddings" else name), ids)
                for name in _quantization.ROW_VARIABLES
                if getattr(self, "_embeddings" if name == "embeddings" else name, None) is not None
            }
            outputs = _quantization.dequantize(
                rows, self.quantization_mode, self.output_dim, self.compute_dtype, self._g_idx()
            )
        elif self._trainable_embeddings is None:
            outputs = _take(self._embeddings, ids)
        else:
            outputs = self._gather_split(ids)
        if self.lora_enabled:
            # Only the selected rows of the update, A[ids] @ B: Keras's float layer forms the whole A @ B per call.
            update = keras.ops.matmul(_take(self.lora_embeddings_a, ids), self.lora_embeddings_b)
            outputs = keras.ops.add(outputs, (self.lora_alpha / self.lora_rank) * update)
        if keras.backend.standardize_dtype(outputs.dtype) != self.compute_dtype:
            outputs = keras.ops.cast(outputs, self.compute_dtype)
        return self._check_current(outputs)

    def _gather_split(self, ids: Any) -> Any:
        """Rows of `ids` from the frozen and the trainable variable (costs the batch, not the matrix)."""
        rows = self._trainable_ids()
        trainable_ids = keras.ops.convert_to_tensor(rows, dtype=keras.backend.standardize_dtype(ids.dtype))
        flat = keras.ops.reshape(ids, (-1,))
        position = keras.ops.minimum(_compat.searchsorted(trainable_ids, flat), len(rows) - 1)
        if keras.backend.backend() == "tensorflow":
            # Only the ids that train read the trainable variable: its row-sparse gradient then lists their rows
            # alone. A frozen or OOV id read at its clamped position (and discarded) listed a trainable row the
            # batch did not hold, with a zero gradient, and a row-sparse optimizer stepped that row on its momentum
            # and decayed it.
            picked = tf.where(tf.equal(tf.gather(trainable_ids, position), flat))
            frozen = tf.reshape(_take(self._embeddings, ids), (-1, self.output_dim))
            trained = _take(self._trainable_embeddings, tf.gather_nd(position, picked))
            outputs = tf.tensor_scatter_nd_update(frozen, picked, trained)
            return tf.reshape(outputs, tf.concat([tf.shape(ids), [self.output_dim]], 0))
        position = keras.ops.reshape(position, keras.ops.shape(ids))
        trains = keras.ops.equal(keras.ops.take(trainable_ids, position), ids)
        return keras.ops.where(
            keras.ops.expand_dims(trains, -1),
            _take(self._trainable_embeddings, position),
            _take(self._embeddings, ids),
        )

    def _check_current(self, outputs: tf.Tensor) -> tf.Tensor:
        """In a traced function, fails if the weights it captured were replaced since it was traced.

        `update_vocabulary()` and `load_pretrained()` can replace the variables (Keras variables cannot change
        shape); a training or prediction function traced before would go on using the old ones.
        """
        if self._generation_variable is None or tf.executing_eagerly():
            return outputs
        current = tf.equal(self._generation_variable, tf.constant(self._weights_generation, tf.int64))
        if _compat.in_xla_compilation():
            # XLA drops assertions: a function compiled before the weights were replaced would go on with the old
            # ones without a word. Its vectors are NaN instead, which the loss and predictions show.
            return tf.where(current, outputs, tf.constant(np.nan, outputs.dtype))
        # A bare `Assert` on one scalar comparison, with only a constant string to report (one message for both
        # causes: choosing between two would add ops to every step): `assert_equal` would add a rank/range/all
        # reduction and a conditional (`AssertGuard`) to every step for the same check.
        check = tf.debugging.Assert(
            current,
            [
                f"{self._owner()} has new weights (from update_vocabulary(), load_pretrained(), quantize() or "
                "enable_lora()) that this traced function does not use: it would go on training or predicting with "
                "the old matrix. Call `model.compile(...)` again (with a new optimizer), or pass `model=` to "
                "`update_vocabulary()`. Or, if a `load_weights()` warned that it could not read its saved weights "
                "(a shard of sharded weights missing or damaged), it refuses to be used until it is given the rows "
                "that load could not read: load complete weights, or give it rows with its own `set_weights` "
                "(`layer.set_weights([matrix])`)."
            ],
        )
        with tf.control_dependencies([check]):
            return tf.identity(outputs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if self.mask_token is None:
            return None
        if _on_host(inputs):
            inputs = self._host_ids(inputs)  # As `call` reads them: PyTorch has no uint64, JAX cuts int64 to int32.
        return keras.ops.not_equal(inputs, self._mask_id())

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "output_dim": self.output_dim,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
                "embeddings_constraint": keras.constraints.serialize(self.embeddings_constraint),
                "trainable_rows": None if self.trainable_rows is None else list(self.trainable_rows),
                "pad_to_multiple_of": self.pad_to_multiple_of,
            }
        )
        if self.lookup_config is not None:
            config["lookup_config"] = self.lookup_config
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config

    # Saving: the weights file carries the vocabulary, so weights only ever load into the rows they were trained for.

    @property
    def variables(self) -> list[Any]:
        _compat.list_torch_parameter_owners(self)  # Who to list again when the weights change (PyTorch).
        return super().variables

    @property
    def weights(self) -> list[Any]:
        if self.built and _compat.in_legacy_weights_load():
            raise VocabularyMismatchError(
                f"{self._owner()} cannot load weights from Keras's legacy HDF5 format (`model.load_weights()` of a "
                "`.h5` or `.hdf5` file): that loader assigns rows by position and its file carries no vocabulary, "
                "so rows saved for the same tokens in another order would silently land on other tokens. This "
                "layer keeps its rows (with `by_name=True`, Keras assigns layer by layer in the file's order, so the "
                "layers the file lists before this one already hold its weights). Load the whole model with "
                "`keras.saving.load_model(path)` (the file's config "
                "restores the vocabulary with the rows), then save its weights with "
                "`model.save_weights('model.weights.h5')`, whose file carries the vocabulary and is checked on load."
            )
        return super().weights

    def save_own_variables(self, store: Any) -> None:
        self._refuse_unrestored_rows("be saved")
        if self.built:
            for index, array in enumerate(self._saved_arrays()):
                store[str(index)] = array
        _weights_store.write_tokens(store, self._ids_to_tokens(), self.vocabulary_dtype)

    def load_own_variables(self, store: Any) -> None:
        request = _loading.current_request()
        earlier = _weights_store.earlier_failure(store, self)
        if earlier is not None:
            raise earlier  # Keras retries here, at an empty place in the same file: its report keeps this reason.
        adopted = False
        try:
            adopted = self._vocabulary is None and self._adopt_saved_vocabulary(store)
            current = self._ids_to_tokens()
            saved = _weights_store.read_tokens(store, self.vocabulary_dtype, owner=self._owner(), expected=current)
            # Read once, when assigned (Keras's `store[key]` reads the whole matrix at each use).
            matrix = _compat.stored_array(store, "0") if "0" in store else None
            # Rows move by token whenever they cannot be copied as they are: other tokens, or other padding rows.
            remapping = request.remap if isinstance(request, _loading.CheckOnly) else request
            remap = (
                isinstance(remapping, _loading.RemapRequest)
                and matrix is not None
                and (saved is not current or tuple(matrix.shape[:1]) != (self._num_rows(),))
            )
            if remap and (self.quantization_mode is not None or self.lora_enabled or "1" in store):
                raise QuantizationError(
                    f"{self._owner()} cannot take rows remapped by token from these weights: "
                    + (
                        f"the layer is {self._weights_kind()}. Load the remapped float weights first, then "
                        "quantize (or enable LoRA)."
                        if self.built and (self.quantization_mode is not None or self.lora_enabled)
                        else "they hold a quantized matrix. Remap the float weights the quantized model was made "
                        "from, then quantize."
                    )
                )
            if not remap:
                self._check_saved_weights(saved, current, store, matrix)
            elif matrix is not None:  # Always, when remapping.
                self._check_remap(saved, current, tuple(matrix.shape))  # The shape only: nothing is read.
        except OSError as error:
            # A shard of sharded weights missing or truncated. Keras drops this error: its next visit of the layer
            # finds the store closed and clears the failure. So the layer says so now, and refuses to be used.
            reason = _weights_store.unreadable(store, error)
            failure = ConfigurationError(f"{self._owner()} {reason}")
            if isinstance(request, _loading.CheckOnly):
                request.errors.append(failure)
            else:
                self._refuse_until_given_rows(reason)
                warnings.warn(str(failure), stacklevel=2)
            raise failure from error
        except VocabSafeError as error:
            if adopted:
                self._forget_adopted_vocabulary()
            if isinstance(request, _loading.CheckOnly):
                request.errors.append(error)
            _weights_store.remember_failure(store, self, error)
            raise
        if isinstance(request, _loading.CheckOnly):
            if adopted:  # The first pass changes nothing; the second adopts again.
                self._forget_adopted_vocabulary()
            return
        if remap:
            self._load_remapped(saved, current, np.asarray(matrix), cast(_loading.RemapRequest, request))
        elif matrix is not None:
            if not self.built:
                with _loading.values_to_follow():
                    self.build()
            if self.quantization_mode is not None:
                for index, variable in enumerate(self._base_variables()):
                    variable.assign(np.asarray(store[str(index)]))
            else:
                self._assign_stored_matrix(matrix)
            if self.lora_enabled:
                # The saved matrix has the update merged in (as Keras saves it): the update starts again from zero.
                a = self.lora_embeddings_a
                a.assign(getattr(self, "_lora_a_initializer", keras.initializers.HeUniform())(a.shape, dtype=a.dtype))
                self.lora_embeddings_b.assign(keras.ops.zeros(self.lora_embeddings_b.shape))
        if matrix is not None or not self.built:
            # Restored; or saved before it was built, so its first build draws, as it would have.
            self._rows_given()

    def _adopt_saved_vocabulary(self, store: Any) -> bool:
        """Takes the vocabulary saved with the weights, for a layer that has none; True when it did.

        A subclassed model without a `get_config()` that returns its layers comes back from `load_model()` (and
        from its own constructor, before `load_weights()`) with layers made by its `__init__`, not adapted: the
        weights are the only place that still holds the vocabulary, and they hold it whole, special tokens at
        their ids. Keras's `StringLookup` restores its vocabulary from the file in the same case. The layer's own
        settings stay; a saved vocabulary whose special tokens do not sit where those settings put them (another
        `mask_token`, `oov_token` or `num_oov_indices`) is refused, as its ids would not be the saved ones.
        """
        saved = _weights_store.read_tokens(store, self.vocabulary_dtype, owner=self._owner())
        try:
            vocabulary, positions = self._place_special_tokens(saved, self.max_tokens)
            tokens = self._ids_to_tokens(vocabulary, positions)
            misfit = None if tokens == saved else _describe_difference(saved, tokens, labels=("saved", "here"))
        except VocabSafeError as error:  # The saved special tokens contradict the settings.
            misfit = str(error)
        if misfit is not None:
            raise VocabularyMismatchError(
                f"{self._owner()} has no vocabulary of its own, and the vocabulary saved with its weights does not "
                f"fit its settings (mask_token={self.mask_token!r}, oov_token={self.oov_token!r}, "
                f"num_oov_indices={self.num_oov_indices}): its {len(saved)} tokens would not keep their saved ids "
                f"({misfit}). Build the layer with the settings it was saved with."
            )
        self.set_vocabulary(saved)
        return True

    def _forget_adopted_vocabulary(self) -> None:
        self._vocabulary, self._special_positions = None, None
        self._vocabulary_changed()

    def _check_saved_weights(self, saved: list[Any], current: list[Any], store: Any, matrix: Any) -> None:
        """Refuses saved weights written for other tokens or another matrix shape, before anything is assigned."""
        if saved is not current:
            difference = _describe_difference(saved, current, labels=("saved", "here"))
            raise VocabularyMismatchError(
                f"{self._owner()} cannot load weights written for a different vocabulary: the saved weights have "
                f"{len(saved)} rows, this layer has {len(current)}; "
                f"{difference}. Loading them would give tokens the rows "
                "of other tokens, so this layer keeps its rows. Load the whole model with "
                "`keras.saving.load_model()` (it restores the saved vocabulary), build this layer with the vocabulary "
                "the weights were trained with, or move rows by token with `keras_vocabsafe.load_remapped_weights()`."
                " Note that `model.load_weights()` goes on to load the model's other layers from the file; "
                "`keras_vocabsafe.load_weights(model, path)` checks every VocabEmbedding first and then changes "
                "nothing when one refuses."
            )
        if matrix is None:
            if self.built:
                raise VocabularyMismatchError(
                    f"The saved weights for {self._owner()} hold its vocabulary but no embedding matrix (the layer "
                    "was saved before it was built, or the file was edited), so there are no rows to load; this "
                    "layer keeps its own. Save the layer after it has been built (called once, or `build()`)."
                )
            return
        if self.quantization_mode is not None or "1" in store:
            self._check_saved_quantized(store)
            return
        shape = tuple(matrix.shape)
        dtype = np.dtype(matrix.dtype)
        if not _is_float_dtype(dtype):
            raise VocabularyMismatchError(
                f"The saved embedding matrix of {self._owner()} has dtype {dtype}, not a floating-point dtype: the "
                "file is corrupt or was not written by keras-vocabsafe."
            )
        expected = (self._num_rows(), self.output_dim)
        if shape != expected:
            if len(shape) != 2 or shape[-1] != self.output_dim:
                reason = f"the saved output_dim is {shape[-1] if shape else None}, this layer's is {self.output_dim}"
            else:
                reason = (
                    f"the saved matrix has {shape[0]} rows for the same {self.vocabulary_size()} ids, so it "
                    f"was padded differently (this layer has pad_to_multiple_of={self.pad_to_multiple_of}). Build "
                    "the layer with the pad_to_multiple_of the weights were saved with"
                )
            raise VocabularyMismatchError(
                f"{self._owner()} cannot load an embedding matrix of shape {shape} into its {expected} matrix: "
                f"{reason}."
            )

    def _check_saved_quantized(self, store: Any) -> None:
        """Refuses quantized weights for a float layer, float weights for a quantized one, or another layout."""
        saved: list[tuple[tuple[int, ...], str]] = []
        while str(len(saved)) in store:
            array = _compat.stored_array(store, str(len(saved)))
            saved.append((tuple(array.shape), str(np.dtype(array.dtype))))
        if self.quantization_mode is None:
            raise VocabularyMismatchError(
                f"The saved weights for {self._owner()} hold a quantized matrix ({len(saved)} arrays: {saved}), but "
                "this layer is not quantized. Load the whole model with `keras.saving.load_model()` (the config of a "
                "functional or Sequential model restores the quantization), or quantize this model the same way "
                "(`model.quantize(mode)`) before loading the weights. A subclassed model's config does not hold "
                "its layers, so `load_model` rebuilds them unquantized: build the model, quantize it, then "
                "`model.load_weights(path)` (a `.keras` file works too)."
            )
        if not self.built:
            self.build()
        expected = [(tuple(v.shape), keras.backend.standardize_dtype(v.dtype)) for v in self._base_variables()]
        if saved != expected:
            reason = (
                "they hold a float matrix: load them before quantizing, or quantize the model they came from"
                if len(saved) == 1
                else "they were quantized another way (another mode or int4 block size, or another Keras version)"
            )
            raise VocabularyMismatchError(
                f"{self._owner()} is quantized with dtype policy {self.dtype_policy.name!r} and holds arrays "
                f"{expected}, but the saved weights have {saved}: {reason}."
            )

    def _check_remap(self, saved: list[Any], current: list[Any], shape: tuple[int, ...]) -> None:
        """Refuses saved rows that cannot move by token into this layer, before anything is assigned."""
        if len(shape) != 2 or shape[1] != self.output_dim:
            raise VocabularyMismatchError(
                f"{self._owner()} cannot take rows of shape {shape[1:]} from the saved weights: the saved "
                f"output_dim is {shape[-1] if shape else None}, this layer's is {self.output_dim}. Remapping moves "
                "rows between tokens; it cannot change their length."
            )
        special = [current[i] for i in self._special_ids()]
        # Rows move by token, so the special slots may sit at other ids in the saved vocabulary, but each special
        # token must be there as often as here (once, or once per OOV row).
        saved_special = [token for token in saved if token in special]
        if sorted(saved_special, key=repr) != sorted(special, key=repr):
            raise VocabularyMismatchError(
                f"{self._owner()} has other special tokens than the saved weights (saved: "
                f"{[display_token(t) for t in saved_special[:8]]}, this layer: "
                f"{[display_token(t) for t in special]}), so the mask and OOV rows cannot be matched. "
                "Build the layer with the mask_token, oov_token and num_oov_indices the weights were saved with."
            )
        try:  # Saved tokens listed twice (an edited file): refused here, before any layer of the model has loaded.
            evolve._map_rows(saved, current, what="saved vocabulary")
        except DuplicateTokenError as error:
            raise DuplicateTokenError(
                f"{self._owner()} cannot take rows by token from these weights: {error} The weights file was "
                "edited or damaged; save the weights again from the trained model."
            ) from None

    def _load_remapped(
        self, saved: list[Any], current: list[Any], matrix: np.ndarray, request: _loading.RemapRequest
    ) -> None:
        special = [current[i] for i in self._special_ids()]
        saved_token_ids = np.flatnonzero([token not in special for token in saved])
        row_map = evolve._map_rows(saved, current, what="saved vocabulary")
        new_matrix = evolve._remap_matrix(
            matrix[: len(saved)],
            row_map,
            current,
            initializer=request.new_embeddings_initializer,
            reference_rows=saved_token_ids,
            num_rows=self._num_rows(),
            seed=request.seed,
        )
        if not self.built:
            with _loading.values_to_follow():
                self.build()
        self._assign_matrix(new_matrix)
        request.reports[self.name] = evolve._make_report(
            self.name,
            saved,
            current,
            row_map,
            old_token_ids=saved_token_ids,
            new_token_ids=self._regular_ids(),
            initializer=request.new_embeddings_initializer,
        )


_ASSIGN_BLOCK_BYTES = 16 * 2**20  # Each block is held about three times: read, converted, written.


def _check_allocation(layer: VocabIdEmbedding, rows: int, output_dim: int, tokens: int, matrices: int) -> None:
    """Refuses a matrix this machine cannot hold before anything is allocated (the allocation would kill it).

    `matrices`: how many are alive at once while it is created; Keras's random initializers hold about three
    (the draw, its scaling and the result).
    """
    needed = matrices * rows * output_dim * np.dtype(layer.dtype_policy.variable_dtype).itemsize
    available = _memory_available()
    if available is not None and needed > available:
        raise ConfigurationError(
            f"{layer._owner()} would need a ({rows}, {output_dim}) embedding matrix, about {needed / 2**30:,.1f} GiB "
            f"while it is initialized, more than the {available / 2**30:,.1f} GiB of memory available. Check "
            f"`output_dim` ({output_dim}), `pad_to_multiple_of` ({layer.pad_to_multiple_of}), `num_oov_indices` "
            f"({layer.num_oov_indices}) and the vocabulary ({tokens} tokens)."
        )


# keras.layers.Embedding's arguments that the vocabulary replaces, and what to write instead.
_KERAS_EMBEDDING_ARGUMENTS = {
    "input_dim": (
        "the vocabulary sets the rows (`vocabulary_size()`, mask and OOV ids included), so the two cannot drift "
        "apart. Drop `input_dim`"
    ),
    "mask_zero": (
        "pass a `mask_token` instead (`mask_token=''`, or an int key with vocabulary_dtype='int64'): id 0 is then "
        "the mask, as with `mask_zero=True`"
    ),
    "input_length": "Keras 3 has no `input_length`; drop it",
}


# What `lookup()` takes from the embedding half itself: its vocabulary settings (the keys of
# `VocabularyLayer.get_config`).
_LOOKUP_OWN_KEYS = frozenset(
    {
        "vocabulary",
        "vocabulary_dtype",
        "vocabulary_encoding",
        "vocabulary_size",
        "max_tokens",
        "min_frequency",
        "num_oov_indices",
        "mask_token",
        "oov_token",
    }
)


# The generation variable's value while the layer refuses to be used until given rows (never a generation).
_ROWS_UNREAD = -1


def _refuse_keras_embedding_arguments(owner: str, kwargs: dict[str, Any], vocabulary: Any) -> None:
    """Refuses `keras.layers.Embedding`'s arguments with what replaces them. (Keras's base layer would read
    `input_dim` as an input shape, with a warning that does not say the vocabulary sizes the matrix.) Also
    `Embedding(input_dim, output_dim)`'s positional form, which here passes `output_dim` as the vocabulary."""
    if _is_int(vocabulary):
        raise ConfigurationError(
            f"{owner} takes `output_dim` first and `vocabulary` second, and the vocabulary sets the rows: "
            f"`keras.layers.Embedding(input_dim, output_dim)` becomes `{owner}(output_dim, vocabulary=...)` (or "
            f"`adapt(data)`). Received: the integer {vocabulary!r} as `vocabulary`."
        )
    for name, instead in _KERAS_EMBEDDING_ARGUMENTS.items():
        if name in kwargs:
            raise ConfigurationError(
                f"{owner} takes no `{name}` (an argument of keras.layers.Embedding): {instead}. "
                f"Received: {name}={kwargs[name]!r}"
            )


def _on_host(inputs: Any) -> bool:
    """Whether ids are NumPy arrays or Python values (or TensorFlow tensors, to a JAX or PyTorch layer)."""
    if isinstance(inputs, (tf.Tensor, tf.Variable)):
        return keras.backend.backend() != "tensorflow"
    return isinstance(inputs, (np.ndarray, np.generic, list, tuple, int))


def _is_float_dtype(dtype: np.dtype) -> bool:
    """Whether a saved array's dtype is a float, bfloat16 and the float8 types (which NumPy does not count) included."""
    try:
        return bool(keras.backend.is_float_dtype(dtype))
    except ValueError:  # A dtype Keras does not know (strings, objects, void) is no float.
        return False


def _memory_available() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable), else the physical memory, else `None`."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _get(argument: str, identifier: Any, get: Any) -> Any:
    """`keras.initializers.get` (or regularizers, constraints), refusing what it cannot interpret with our error."""
    try:
        return get(identifier)
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"`{argument}` must be a Keras object, its registered name or its config. Received: "
            f"{argument}={identifier!r} ({error})"
        ) from None


def _validate_lora(rank: Any, alpha: Any, trainable_rows: Any, constraint: Any) -> None:
    if rank is None:
        return
    if not _is_int(rank) or rank <= 0:
        raise ConfigurationError(f"The LoRA rank must be a positive integer. Received: lora_rank={rank!r}")
    if alpha is not None and (
        isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0
    ):
        raise ConfigurationError(f"`lora_alpha` must be a positive number or None. Received: lora_alpha={alpha!r}")
    if trainable_rows is not None:
        raise ConfigurationError(
            "LoRA updates every row (`A` has one row per id), but `trainable_rows` keeps the other rows fixed. Use "
            "one or the other: drop `trainable_rows`, or train the chosen rows without LoRA."
        )
    if constraint is not None:
        raise ConfigurationError(
            "LoRA is incompatible with an `embeddings_constraint` (as in keras.layers.Embedding): the constraint "
            "applies to the matrix, which LoRA freezes. Remove the constraint to enable LoRA."
        )


def _validate_trainable_rows(rows: Any) -> tuple[int, ...] | None:
    if rows is None:
        return None
    received = rows
    # Read once: a generator or iterator checked and then read again would be empty the second time, and every
    # row would be frozen without a word.
    rows = None if isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__") else list(rows)
    if rows is None or not all(_is_int(r) and r >= 0 for r in rows):
        raise ConfigurationError(
            f"`trainable_rows` must be a list of non-negative ids, or None. Received: trainable_rows={received!r}"
        )
    return tuple(sorted({int(row) for row in rows}))


def _told(report: VocabularyUpdateReport, verbose: int) -> VocabularyUpdateReport:
    """The report, told in one line (printed for `verbose` 1 or 2; logged at INFO)."""
    say(
        verbose,
        f"'{report.layer}'.update_vocabulary(): {report.old_size:,} -> {report.new_size:,} ids; kept "
        f"{report.kept:,} tokens ({report.reordered:,} with a new id), added {report.added:,}, dropped "
        f"{report.dropped:,}",
    )
    return report


def _trained_row_map(row_map: evolve._RowMap, old_ids: np.ndarray | None, new_ids: np.ndarray | None) -> evolve._RowMap:
    """`row_map` (new id -> old id) in terms of the rows of the trained variables, when only some rows train."""
    if new_ids is None or old_ids is None:
        return row_map
    source = row_map.source[new_ids]
    if len(old_ids) == 0:
        return evolve._RowMap(np.full(len(new_ids), -1), 0)
    position = np.minimum(np.searchsorted(old_ids, source), len(old_ids) - 1)
    found = (source >= 0) & (old_ids[position] == source)
    return evolve._RowMap(np.where(found, position, -1), len(old_ids))


def _constant(matrix: np.ndarray) -> Any:
    """An initializer that returns `matrix` (for variables re-created from known values)."""
    return lambda shape, dtype=None: matrix


class MergedEmbeddings:
    """The embedding matrix of a layer with `trainable_rows`, read and assigned as one matrix.

    The frozen rows live in a non-trainable variable and the trainable rows
    in a trainable one (so no optimizer step touches a frozen row); this
    view joins them. `assign` (and `assign_add`, `assign_sub`) set both.
    """

    def __init__(self, layer: VocabIdEmbedding) -> None:
        self._layer = layer

    @property
    def value(self) -> Any:
        layer = self._layer
        ids = layer._trainable_ids()[:, None]
        return keras.ops.scatter_update(layer._embeddings, ids, layer._trainable_embeddings)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._layer._embeddings.shape)

    @property
    def dtype(self) -> str:
        return self._layer._embeddings.dtype

    def numpy(self) -> np.ndarray:
        """The whole matrix, frozen and trainable rows in id order, as a NumPy array."""
        return self._layer._matrix()

    def assign(self, value: Any) -> MergedEmbeddings:
        """Sets every row, frozen ones included, as `layer.set_weights([value])` does."""
        value = self._checked(value, "assign", broadcast=False)
        self._layer.set_weights([value])
        return self

    def assign_add(self, value: Any) -> MergedEmbeddings:
        """Adds `value` to every row, frozen ones included."""
        return self.assign(self.numpy() + self._checked(value, "assign_add", broadcast=True))

    def assign_sub(self, value: Any) -> MergedEmbeddings:
        """Subtracts `value` from every row, frozen ones included."""
        return self.assign(self.numpy() - self._checked(value, "assign_sub", broadcast=True))

    def _checked(self, value: Any, method: str, broadcast: bool) -> np.ndarray:
        """`value` as NumPy, refused in the words of the method called when it does not fit the whole matrix (a
        shape `set_weights` would otherwise refuse, naming itself)."""
        value = keras.ops.convert_to_numpy(value)
        shape = self.shape
        try:
            fits = np.broadcast_shapes(np.shape(value), shape) == shape if broadcast else np.shape(value) == shape
        except ValueError:
            fits = False
        if not fits:
            layer = self._layer
            ids = layer.vocabulary_size()
            raise ConfigurationError(
                f"{layer._owner()}.embeddings.{method}() takes "
                + ("a value broadcastable to shape " if broadcast else "a matrix of shape ")
                + f"{shape} (rows for its {ids} ids"
                + (f", padded to {shape[0]}" if shape[0] != ids else "")
                + f", frozen and trainable rows alike). Received: shape {tuple(np.shape(value))}."
            )
        return value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        matrix = self.numpy()
        return matrix if dtype is None else matrix.astype(dtype)

    def __tf_tensor__(self, dtype: Any = None, name: Any = None) -> tf.Tensor:
        # From the variables, not a NumPy copy: read inside a traced function (tied output weights in a model) the
        # copy could not be made, and read eagerly under a `GradientTape` it was a constant the trainable rows got
        # no gradient through.
        return tf.convert_to_tensor(self.value, dtype=dtype, name=name)

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.numpy()[key]

    def __repr__(self) -> str:
        return f"<MergedEmbeddings of {self._layer._owner()}: shape={self.shape}, dtype={self.dtype}>"


def _take(variable: Any, ids: Any) -> Any:
    """Rows `ids` of a variable.

    On TensorFlow, from the variable's value rather than with a gather on the variable itself: a
    `ResourceGather` switches the variable to copy-on-read, after which every dense read (each optimizer step
    reads and updates the whole matrix) copies it; reading the value copies nothing. A matrix that a row-sparse
    optimizer updates (its scatters put it in copy-on-read mode) is gathered on the variable: that copies nothing.
    """
    if keras.backend.backend() == "tensorflow":
        if optimizers.reads_rows_sparsely(variable):
            return tf.gather(variable.value, ids)
        return tf.gather(tf.convert_to_tensor(variable), ids)
    return keras.ops.take(variable, ids, axis=0)
