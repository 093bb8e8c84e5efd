"""Turning user data into key tensors of the vocabulary's dtype, with clear errors."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from keras_vocabsafe.errors import KeyDtypeError

_INTEGER_DTYPES = (tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.uint32)


def to_keys(data: Any, vocabulary_dtype: str, *, owner: str) -> tf.Tensor | tf.RaggedTensor:
    """Converts `data` to a dense or ragged tensor of `tf.string` or `tf.int64` keys.

    `owner` names the layer in error messages.
    """
    if isinstance(data, tf.SparseTensor):
        raise KeyDtypeError(
            f"{owner} does not take a tf.SparseTensor. Convert it with "
            "`tf.sparse.to_dense(x, default_value=<mask token>)` or build a `tf.RaggedTensor`."
        )
    if not isinstance(data, (tf.Tensor, tf.RaggedTensor, tf.Variable)):
        data = _convert(data, owner)
    dtype = data.dtype
    if vocabulary_dtype == "string":
        if dtype != tf.string:
            raise KeyDtypeError(
                f"{owner} has vocabulary_dtype='string' but received keys of dtype {dtype.name}. "
                "Pass string keys, or build the layer with `vocabulary_dtype='int64'` for integer ids."
                + _sequential_hint(dtype, vocabulary_dtype)
            )
        return data
    if dtype == tf.int64:
        return data
    if dtype in _INTEGER_DTYPES:
        return tf.cast(data, tf.int64)
    raise KeyDtypeError(
        f"{owner} has vocabulary_dtype='int64' but received keys of dtype {dtype.name}. Pass integer "
        "keys, or build the layer with `vocabulary_dtype='string'` for text tokens."
        + _sequential_hint(dtype, vocabulary_dtype)
    )


def _sequential_hint(dtype: tf.DType, vocabulary_dtype: str) -> str:
    # keras.Sequential without keras.Input builds its first layer on float32 placeholders.
    if not dtype.is_floating:
        return ""
    return (
        " If the layer comes first in a keras.Sequential, start the model with "
        f"`keras.Input(shape=(None,), dtype='{vocabulary_dtype}')`."
    )


def _convert(data: Any, owner: str) -> tf.Tensor | tf.RaggedTensor:
    try:
        return tf.convert_to_tensor(data)
    except (ValueError, TypeError) as dense_error:
        try:
            return tf.ragged.constant(data)
        except (ValueError, TypeError):
            raise KeyDtypeError(
                f"{owner} could not convert the input of type {type(data).__name__} to a tensor of keys: {dense_error}"
            ) from None
