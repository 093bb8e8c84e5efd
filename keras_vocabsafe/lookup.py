"""`VocabLookup`: the lookup half, keys in and ids out, in TensorFlow graphs (tf.data, tf.function, exports).

The lookup is a `tf.lookup.StaticHashTable` whose keys are constants of the
graph, so an exported model carries its vocabulary and runs with TensorFlow
alone. `VocabLookup` runs it as a preprocessing stage, usable in a `tf.data`
pipeline whatever the Keras backend (as Keras's own `StringLookup`);
`VocabEmbedding` runs the same machinery inside the layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import _compat
from keras_vocabsafe._keys import build_placeholders, to_keys
from keras_vocabsafe._tokens import canonical_token
from keras_vocabsafe._vocabulary_layer import VocabularyLayer
from keras_vocabsafe.errors import ConfigurationError, KeyDtypeError, UnknownIdError
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = ["KeyLookup", "VocabLookup"]

if TYPE_CHECKING:
    # The mixin always sits before a VocabularyLayer in the MRO: the checker sees that base, at run time it is none.
    _KeyLookupBase = VocabularyLayer
else:
    _KeyLookupBase = object


class KeyLookup(_KeyLookupBase):
    """Keys to ids, ids to tokens, and the mask, with TensorFlow ops (mixed into the layers that look keys up)."""

    lookup_table: tf.lookup.StaticHashTable | None = None

    def _vocabulary_changed(self) -> None:
        # Called once a vocabulary is set (or taken back: `VocabIdEmbedding._forget_adopted_vocabulary`).
        self.lookup_table = None if self._vocabulary is None else self._make_lookup_table(self._vocabulary)

    def _make_lookup_table(self, vocabulary: Vocabulary) -> tf.lookup.StaticHashTable:
        key_dtype = tf.string if self.vocabulary_dtype == "string" else tf.int64
        keys = list(vocabulary.tokens)
        values = self._regular_ids(len(keys))
        if self.mask_token is not None:
            keys.insert(0, canonical_token(self.mask_token, self.vocabulary_dtype))
            values = np.concatenate([[self._mask_id()], values])
        default = int(self._oov_ids()[0]) if self.num_oov_indices == 1 else -1
        with tf.init_scope():
            initializer = tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, dtype=key_dtype), tf.constant(values, dtype=tf.int64)
            )
            return tf.lookup.StaticHashTable(initializer, default_value=default)

    def _lookup(self, keys: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        if isinstance(keys, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self._lookup_dense, keys)
        return self._lookup_dense(keys)

    def _lookup_dense(self, keys: tf.Tensor) -> tf.Tensor:
        if self.lookup_table is None:
            self._require_vocabulary()
        ids = self.lookup_table.lookup(keys)  # type: ignore[union-attr]  # _require_vocabulary raised if it is None.
        if self.num_oov_indices > 1:
            hashable = keys if self.vocabulary_dtype == "string" else tf.strings.as_string(keys)
            buckets = tf.strings.to_hash_bucket_fast(hashable, self.num_oov_indices) + self._oov_start()
            ids = tf.where(ids < 0, buckets, ids)
        return ids

    def _refuse_jax_arrays(self, inputs: Any, fix: str) -> None:
        """Refuses, on the JAX backend, keys that JAX has already converted: a traced array, or a concrete one
        while JAX keeps integers in 32 bits (without `jax_enable_x64`).

        Keras converts a subclassed model's inputs to JAX arrays before any layer sees them, which cuts int64 keys
        to int32 (key 2**40 became key 0, another token's row, silently), and `jax.jit` traces them as values
        TensorFlow cannot read. NumPy arrays, lists and TensorFlow tensors still hold the keys as given.
        """
        if keras.backend.backend() != "jax":
            return
        import jax

        if not isinstance(inputs, jax.Array):
            return
        traced = isinstance(inputs, jax.core.Tracer)
        if not traced and jax.config.jax_enable_x64:
            return
        received = "a JAX array traced by jax.jit, whose values TensorFlow cannot read" if traced else "a JAX array"
        raise ConfigurationError(
            f"{self._owner()} looks its keys up with TensorFlow ops and received {received}: JAX keeps integers "
            "in 32 bits (int64 keys beyond 2**31 change silently), and Keras converts a subclassed model's inputs "
            "to JAX arrays before any layer sees them. Pass the keys as a NumPy array, a list or a tf.Tensor to the "
            f"layer itself; inside a model on the jax backend, {fix}."
        )

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

    def ids_to_tokens(self, ids: Any) -> tf.Tensor | tf.RaggedTensor:
        """The token of every id, as a tensor of the ids' shape; runs in `tf.function`, `tf.data` and exports.

        String tokens come back as `tf.string` bytes (any bytes, byte for byte), integer tokens as `tf.int64`;
        OOV ids give the `oov_token`, the mask id the `mask_token`. An id outside `[0, vocabulary_size())` is an
        `UnknownIdError` when called eagerly, and fails as `tf.gather` does in a graph.
        """
        tokens = self._token_constant()
        if isinstance(ids, tf.RaggedTensor):
            return tf.ragged.map_flat_values(lambda flat: tf.gather(tokens, self._checked_ids(flat)), ids)
        return tf.gather(tokens, self._checked_ids(tf.convert_to_tensor(ids)))

    def _checked_ids(self, ids: tf.Tensor) -> tf.Tensor:
        """Integer `ids`, refused eagerly (as `id_to_token` refuses them) outside `[0, vocabulary_size())`."""
        if not ids.dtype.is_integer:
            raise KeyDtypeError(f"{self._owner()}.ids_to_tokens() takes integer ids. Received dtype {ids.dtype.name}.")
        if tf.executing_eagerly():
            values = ids.numpy()
            outside = values[(values < 0) | (values >= self.vocabulary_size())]
            if outside.size:
                raise UnknownIdError(
                    f"{self._owner()} has ids 0 to {self.vocabulary_size() - 1}. Received: id {outside.flat[0]}."
                )
        return ids

    @tf.autograph.experimental.do_not_convert
    def _token_constant(self) -> tf.Tensor:
        """Every id's token as one constant (plain Python: not for autograph to convert)."""
        self._require_vocabulary()
        dtype = tf.string if self.vocabulary_dtype == "string" else tf.int64
        with tf.init_scope():
            return tf.constant(self._ids_to_tokens(), dtype=dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if self.mask_token is None:
            return None
        if keras.backend.is_keras_tensor(inputs):
            # A symbolic op, so the mask is connected to the functional graph.
            return keras.ops.not_equal(inputs, self.mask_token)
        if _compat.in_keras_save_signature(inputs):
            return None  # Keras's float32 trace of a subclassed model's save signature (see `call`).
        if build_placeholders(inputs):
            # The float32 placeholders `load_model()` builds a subclassed model on (see `call`), where only shapes
            # matter: refusing them left the layers after this one unbuilt, and their saved weights unloaded.
            return tf.ones_like(inputs, dtype=tf.bool)
        keys = to_keys(inputs, self.vocabulary_dtype, owner=self._owner())
        if isinstance(keys, tf.RaggedTensor):
            return None  # A ragged tensor's row lengths already say where values are.
        return tf.not_equal(keys, tf.constant(canonical_token(self.mask_token, self.vocabulary_dtype), keys.dtype))


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class VocabLookup(KeyLookup, VocabularyLayer):
    """Maps tokens to the ids of a vocabulary it owns; a TensorFlow stage for `tf.data` on any backend.

    The lookup half of a `VocabEmbedding`: keys in, `int64` ids out, laid
    out as in Keras's lookup layers (mask token at id 0, then the OOV rows,
    then the tokens). Use it in a `tf.data` pipeline and keep a
    `VocabIdEmbedding` of the same vocabulary in the model: that is how
    string data trains on JAX and PyTorch, and under
    `tf.distribute.MirroredStrategy`. `ids_to_tokens()` maps ids back inside
    graphs. Get a matching pair from `VocabEmbedding.halves()`,
    `VocabIdEmbedding.lookup()` or `VocabIdEmbedding.from_lookup()`; both
    halves carry the same `vocabulary_fingerprint`.

    Args:
        vocabulary, vocabulary_dtype, max_tokens, min_frequency,
        num_oov_indices, mask_token, oov_token: as for `VocabEmbedding`.
        **kwargs: base layer arguments (`name`).

    Call arguments:
        inputs: keys of any shape: a string (or integer) tensor, a
            `tf.RaggedTensor`, a NumPy array or a nested list.

    Output shape:
        The keys' shape, `int64`. With a `mask_token`, `compute_mask`
        gives the padding mask (or compare the ids with 0 downstream).

    Examples:

    >>> lookup = VocabLookup(mask_token="")
    >>> lookup.adapt([["the", "cat"], ["the", ""]])
    >>> lookup(tf.constant([["the", "dog", ""]])).numpy()
    array([[2, 1, 0]])
    >>> lookup.ids_to_tokens(tf.constant([2, 3])).numpy()
    array([b'the', b'cat'], dtype=object)
    """

    def __init__(
        self,
        vocabulary: Any = None,
        vocabulary_dtype: str = "string",
        max_tokens: int | None = None,
        min_frequency: int | None = None,
        num_oov_indices: int = 1,
        mask_token: Any = None,
        oov_token: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            vocabulary_dtype=vocabulary_dtype,
            max_tokens=max_tokens,
            min_frequency=min_frequency,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            **kwargs,
        )
        # A hash-table lookup has no XLA kernel (as Keras's own lookup layers say).
        self.supports_jit = False
        self.supports_masking = self.mask_token is not None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def build(self, input_shape: Any = None) -> None:
        self.built = True  # No weights: the table is built with the vocabulary.

    def _lookup_config(self) -> dict[str, Any] | None:
        """What an embedding half must keep to rebuild this lookup beyond the vocabulary (`None`: nothing)."""
        return None

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        backend = keras.backend.backend()
        if backend != "tensorflow" and keras.backend.is_keras_tensor(inputs):
            # Such a model builds, then fails on every call (as one with Keras's `StringLookup` does): its inputs
            # would be strings, which JAX and PyTorch have no tensors for.
            raise ConfigurationError(
                f"{self._owner()} looks keys up with TensorFlow ops, which cannot run inside a model on the {backend} "
                "backend. Map it over the tf.data pipeline (`dataset.map(lambda keys, y: (lookup(keys), y))`) and "
                "build the model from `keras.Input(shape=(None,), dtype='int64')`."
            )
        if backend == "tensorflow":
            return super().__call__(inputs, **kwargs)
        # On another backend the lookup still runs on TensorFlow, as Keras's own lookup layers do: inside a
        # tf.data pipeline (or any TF graph) with TF tensors in and out; eagerly, converted back to the backend.
        outputs = self.call(inputs)
        if tf.inside_function() or isinstance(inputs, (tf.Tensor, tf.RaggedTensor)):
            return outputs
        if isinstance(outputs, tf.RaggedTensor):
            return outputs.to_list()
        return keras.ops.convert_to_tensor(outputs.numpy())

    def call(self, inputs: Any) -> tf.Tensor | tf.RaggedTensor:
        self._refuse_jax_arrays(
            inputs,
            "map this lookup over the tf.data pipeline (`dataset.map(lambda keys, y: (lookup(keys), y))`) and give "
            "the model the ids",
        )
        return self._lookup(to_keys(inputs, self.vocabulary_dtype, owner=self._owner()))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(inputs.shape, dtype="int64", ragged=getattr(inputs, "ragged", False))
