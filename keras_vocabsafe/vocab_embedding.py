"""`VocabEmbedding`: a vocabulary lookup and its embedding matrix in one layer (TensorFlow backend).

The layer is the embedding half (`VocabIdEmbedding`) with the lookup half's
machinery (`KeyLookup`) inside it, so strings go in and vectors come out in
one Keras layer; `halves()` gives the two halves for `tf.data` pipelines on
any backend.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import _compat
from keras_vocabsafe._keys import build_placeholders, to_keys
from keras_vocabsafe.embedding import VocabIdEmbedding
from keras_vocabsafe.errors import ConfigurationError, KeyDtypeError
from keras_vocabsafe.lookup import KeyLookup, VocabLookup

__all__ = ["VocabEmbedding"]


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class VocabEmbedding(KeyLookup, VocabIdEmbedding):
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

    On JAX and PyTorch (and for `fit` under `tf.distribute`), use the layer
    as two halves that share its vocabulary: `lookup, embedding =
    layer.halves()` gives a `VocabLookup` for the `tf.data` pipeline and a
    `VocabIdEmbedding` (written with `keras.ops`) for the model. On PyTorch,
    a layer of integer keys (`vocabulary_dtype="int64"`) also works whole
    in a model; its lookup runs on TensorFlow, on the CPU.

    Args:
        output_dim: int. Size of each embedding vector.
        vocabulary: optional. The tokens: a list, tuple, 1-D array or
            tensor; a `keras_vocabsafe.Vocabulary`; or the path of a
            vocabulary file (JSON written by `Vocabulary.save()`, or text
            with one token per line). Without the mask and OOV tokens, ids
            follow Keras's layout; listing both, each token keeps its
            position as its id (a BERT `vocab.txt`, a `get_vocabulary()`
            list). A `Vocabulary` with counts is cut to `max_tokens` and
            `min_frequency` by count (special tokens it lists stay). If not set, call `adapt()` first.
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
            and regularizers included): the frozen rows live in a variable
            that does not train, the trainable rows in one that does
            (`embeddings` reads both as one matrix). `None` (default): all
            rows train.
            `load_pretrained(train="missing")` sets it to the rows that had
            no pretrained vector.
        pad_to_multiple_of: optional int. Rounds the number of embedding
            rows up to a multiple of this (for example 8 or 128, for
            accelerator-friendly shapes). The padding rows follow the real
            ones, start at zero and are never selected by any input:
            `vocabulary_size()` still counts ids only. The padding is kept
            through saving, loading and `update_vocabulary()`.
        lora_rank, lora_alpha: optional. Enable LoRA when the layer is
            built, as for `keras.layers.Embedding` (see `enable_lora`).
        weights: optional, as for `keras.layers.Embedding`: the matrix (or
            `[matrix]`), one row per id, `(vocabulary_size(), output_dim)`
            (the mask and OOV rows included; the padding rows of
            `pad_to_multiple_of` too). Needs `vocabulary`; a matrix of
            another shape is refused with the shape the ids need. Not part
            of the config: saving keeps the rows as weights.
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

    def __init__(self, output_dim: int, vocabulary: Any = None, **kwargs: Any) -> None:
        super().__init__(output_dim, vocabulary, **kwargs)
        # A hash-table lookup has no XLA kernel; Keras's own lookup layers opt out the same way, so
        # `compile(jit_compile=True)` warns and falls back instead of failing inside XLA.
        self.supports_jit = False

    def call(self, inputs: Any) -> tf.Tensor | tf.RaggedTensor:
        self._refuse_tf_graphs(inputs)
        if build_placeholders(inputs):
            return self._build_placeholder_vectors(inputs)
        if _compat.in_keras_save_signature(inputs):
            return self._save_signature_placeholder(inputs)
        self._refuse_jax_arrays(
            inputs,
            "split it: `lookup, embedding = layer.halves()`; map `lookup` over the tf.data pipeline and call "
            "`embedding` on the ids",
        )
        keys = to_keys(inputs, self.vocabulary_dtype, owner=self._owner())
        if isinstance(keys, tf.RaggedTensor):
            backend = keras.backend.backend()
            if backend != "tensorflow":
                raise KeyDtypeError(
                    f"{self._owner()} received ragged keys, which the {backend} backend has no tensor for. Pad them "
                    "first (with the mask token, when the layer has one): `keys.to_tensor(default_value=...)`, or "
                    "`dataset.padded_batch(...)`; or map `layer.halves()[0]` (the lookup) over the data, which "
                    "takes ragged keys."
                )
            return tf.ragged.map_flat_values(self._embed, keys)
        return self._embed(keys)

    def _inputs_taken(self) -> tuple[str, str]:
        kind = "string" if self.vocabulary_dtype == "string" else "integer"
        return f"{kind} keys", self.vocabulary_dtype

    def _check_symbolic_dtype(self, dtype: str) -> None:
        self._refuse_other_backends_in_models()
        expected = "string" if self.vocabulary_dtype == "string" else "an integer dtype"
        if (dtype == "string") == (self.vocabulary_dtype == "string") and (dtype == "string" or "int" in dtype):
            return
        raise KeyDtypeError(
            f"{self._owner()} has vocabulary_dtype={self.vocabulary_dtype!r}, so it takes keys of {expected}, but "
            f"received a symbolic input of dtype {dtype}. Build the model from that kind of `keras.Input`; if the "
            "layer comes first in a keras.Sequential, start the model with "
            f"`keras.Input(shape=(None,), dtype={self.vocabulary_dtype!r})`, since Keras otherwise feeds the first "
            "layer float32 placeholders."
        )

    def _refuse_other_backends_in_models(self) -> None:
        """Refuses, when a model is built on JAX or PyTorch, a layer whose lookup is TensorFlow ops.

        Such a model builds, then fails when it runs (JAX and PyTorch have no string tensors, and `jax.jit` traces
        the keys as arrays TensorFlow cannot read), or, on JAX, cuts int64 keys to int32 and looks up other keys.
        Integer keys on PyTorch are taken: PyTorch runs the model eagerly and keeps int64 keys whole, so the
        lookup runs on TensorFlow as in a subclassed model's `call` (fit, predict and saving work).
        """
        backend = keras.backend.backend()
        if backend == "tensorflow" or (backend == "torch" and self.vocabulary_dtype != "string"):
            return
        raise ConfigurationError(
            f"{self._owner()} looks its keys up with TensorFlow ops, which cannot run inside a model on the "
            f"{backend} backend. Split it: `lookup, embedding = layer.halves()`; map `lookup` over the tf.data "
            "pipeline and build the model from `keras.Input(shape=(None,), dtype='int64')` and `embedding`."
        )

    def _embed(self, keys: tf.Tensor) -> tf.Tensor:
        return self._gather(self._lookup_dense(keys))

    def get_vectors(self, tokens: Any) -> np.ndarray:
        """Embedding vectors of the given tokens, as a NumPy array of shape `tokens.shape + (output_dim,)`."""
        if not self.built:
            self.build()
        return keras.ops.convert_to_numpy(self(tokens))

    def halves(self) -> tuple[VocabLookup, VocabIdEmbedding]:
        """The two halves of this layer: a `VocabLookup` for `tf.data` and a `VocabIdEmbedding` for the model.

        Both hold this layer's vocabulary and settings (and so its
        `vocabulary_fingerprint`); the embedding half starts from a copy of
        this layer's rows (and its `trainable_rows`), so a layer adapted and
        trained on TensorFlow carries on anywhere. The embedding half keeps
        what it needs to rebuild the lookup half (`lookup()`), also after
        saving.
        """
        lookup = self.lookup(name=f"{self.name}_lookup")
        config = VocabIdEmbedding.get_config(self)
        config.update(name=f"{self.name}_embedding", lookup_config=lookup._lookup_config())
        embedding = VocabIdEmbedding.from_config(config)
        if self.built:
            embedding.set_weights(self.get_weights())
        return lookup, embedding
