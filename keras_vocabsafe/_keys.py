"""Turning user data into key tensors of the vocabulary's dtype, with clear errors.

Tensors of the vocabulary's dtype pass through untouched: that is the layer's hot path. Everything else
is converted once, and a conversion that fails (or would silently change a key) is diagnosed with the
position of the first offending value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from keras_vocabsafe import _compat
from keras_vocabsafe.errors import KeyDtypeError

_INTEGER_DTYPES = (tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.uint32)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def build_placeholders(inputs: Any) -> bool:
    """Whether `inputs` are the float32 placeholders Keras runs a subclassed model on to build it, whatever the
    model takes (`load_model()` rebuilding it from its saved build config), where only shapes matter."""
    return _compat.in_symbolic_scope() and isinstance(inputs, tf.Tensor) and inputs.dtype.is_floating


def to_keys(data: Any, vocabulary_dtype: str, *, owner: str, argument: str = "inputs") -> tf.Tensor | tf.RaggedTensor:
    """Converts `data` to a dense or ragged tensor of `tf.string` or `tf.int64` keys.

    `owner` names the layer and `argument` the argument that held `data` in error messages.
    """
    if isinstance(data, tf.SparseTensor):
        raise sparse_tensor_error(owner, argument)
    if not isinstance(data, (tf.Tensor, tf.RaggedTensor, tf.Variable)):
        data = _convert(as_array_like(data), vocabulary_dtype, owner, argument)
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
    if dtype == tf.uint64:
        return _uint64_keys(data, owner, argument)
    raise KeyDtypeError(
        f"{owner} has vocabulary_dtype='int64' but received keys of dtype {dtype.name}. Pass integer "
        "keys, or build the layer with `vocabulary_dtype='string'` for text tokens."
        + _sequential_hint(dtype, vocabulary_dtype)
    )


def as_array_like(data: Any) -> Any:
    """`data`, with a pandas/polars Series or Index (anything with `to_numpy()`) as one NumPy array.

    Converting element by element would go through Python once per value.
    """
    if not isinstance(data, (np.ndarray, tf.Tensor, tf.RaggedTensor, tf.Variable)) and callable(
        getattr(data, "to_numpy", None)
    ):
        return data.to_numpy()
    return data


def sparse_tensor_error(owner: str, argument: str) -> KeyDtypeError:
    return KeyDtypeError(
        f"{owner} does not take a tf.SparseTensor as `{argument}`. Convert it with "
        "`tf.sparse.to_dense(x, default_value=<mask token>)` or build a `tf.RaggedTensor`."
    )


def missing_value_error(owner: str, argument: str, position: str, value: Any) -> KeyDtypeError:
    return KeyDtypeError(
        f"{owner} received a missing value ({value!r}) at {position} of `{argument}`; a missing value is no "
        "token, and counting it as the text 'nan' or 'None' would invent one. Drop the missing values (e.g. "
        "`series.dropna()`) or fill them with a real token, such as the mask token."
    )


def export_hint(dtype: str) -> str:
    """How to export a subclassed model taking keys or ids of `dtype`, when Keras's `model.export()` is tracing it
    on float placeholders; otherwise nothing."""
    if not _compat.in_keras_export():
        return ""
    return (
        " Keras's `model.export()` traces a subclassed model on placeholders of the model's `input_dtype` "
        "(float32), whatever it was called on: pass the inputs' signature, as in `model.export(path, "
        f"input_signature=[tf.TensorSpec(shape=(None, None), dtype=tf.{dtype})])` (with your inputs' shape)."
    )


def _sequential_hint(dtype: tf.DType, vocabulary_dtype: str) -> str:
    # keras.Sequential without keras.Input builds its first layer on float32 placeholders.
    if not dtype.is_floating:
        return ""
    if _compat.in_keras_export():
        return export_hint(vocabulary_dtype)
    return (
        " If the layer comes first in a keras.Sequential, start the model with "
        f"`keras.Input(shape=(None,), dtype='{vocabulary_dtype}')`."
    )


def _convert(data: Any, vocabulary_dtype: str, owner: str, argument: str) -> tf.Tensor | tf.RaggedTensor:
    if isinstance(data, np.ndarray):
        return _convert_array(data, vocabulary_dtype, owner, argument)
    try:
        keys = tf.convert_to_tensor(data)
    except (ValueError, TypeError) as dense_error:
        try:
            keys = tf.ragged.constant(data)
        except (ValueError, TypeError):
            raise _conversion_error(data, vocabulary_dtype, owner, argument, dense_error) from None
    if keys.dtype.is_floating and _size(keys) == 0:
        # `[]` converts to float32: it is an empty batch of keys, not a batch of floats.
        return tf.zeros(keys.shape, tf.string if vocabulary_dtype == "string" else tf.int64)
    if keys.dtype.is_integer and isinstance(data, (list, tuple)) and _holds_bool(data):
        # TensorFlow converts [1, True] to [1, 1]: a bool would silently become an id.
        raise _conversion_error(data, vocabulary_dtype, owner, argument, None)
    return keys


def _size(keys: tf.Tensor | tf.RaggedTensor) -> int:
    return int(tf.size(keys.flat_values if isinstance(keys, tf.RaggedTensor) else keys))


def _holds_bool(data: Any) -> bool:
    if isinstance(data, (list, tuple)):
        types = set(map(type, data))
        if bool in types or np.bool_ in types:
            return True
        return any(_holds_bool(item) for item in data if isinstance(item, (list, tuple)))
    return False


def _convert_array(array: np.ndarray, vocabulary_dtype: str, owner: str, argument: str) -> tf.Tensor | tf.RaggedTensor:
    if array.dtype == object:
        if vocabulary_dtype == "int64":
            return tf.constant(_object_array_as_int64(array, owner, argument))
        try:
            return tf.convert_to_tensor(array)  # str and bytes objects, converted in C++.
        except (ValueError, TypeError) as error:
            if array.size and all(isinstance(item, (list, tuple, np.ndarray)) for item in array.flat):
                return _convert(array.tolist(), vocabulary_dtype, owner, argument)  # A column of token lists.
            raise _conversion_error(array, vocabulary_dtype, owner, argument, error) from None
    if vocabulary_dtype == "int64" and array.dtype.kind == "f" and array.size and np.isnan(array).any():
        # pandas turns an integer column with missing values into floats.
        index = np.unravel_index(int(np.argmax(np.isnan(array))), array.shape)
        raise missing_value_error(owner, argument, _position(index), array[index])
    if array.dtype == np.uint64:
        return tf.constant(_uint64_as_int64(array, owner, argument))
    return tf.convert_to_tensor(array)


def check_strings(array: np.ndarray, *, owner: str, argument: str) -> None:
    """Raises if an object array holds anything but str and bytes (such as pandas' None or NaN)."""
    types = set(map(type, array.ravel().tolist()))
    if not all(issubclass(kind, (str, bytes)) for kind in types):
        raise _conversion_error(array, "string", owner, argument, None)


def _object_array_as_int64(array: np.ndarray, owner: str, argument: str) -> np.ndarray:
    types = set(map(type, array.ravel().tolist()))
    if all(issubclass(kind, (int, np.integer)) and not issubclass(kind, (bool, np.bool_)) for kind in types):
        try:
            return array.astype(np.int64)
        except OverflowError as error:
            raise _conversion_error(array, "int64", owner, argument, error) from None
    raise _conversion_error(array, "int64", owner, argument, None)


def _uint64_as_int64(array: np.ndarray, owner: str, argument: str) -> np.ndarray:
    too_large = array > _INT64_MAX
    if too_large.any():
        index = np.unravel_index(int(np.argmax(too_large)), array.shape)
        raise _out_of_range_error(owner, argument, _position(index), int(array[index]))
    return array.astype(np.int64)


def _uint64_keys(keys: tf.Tensor | tf.RaggedTensor, owner: str, argument: str) -> tf.Tensor | tf.RaggedTensor:
    flat = keys.flat_values if isinstance(keys, tf.RaggedTensor) else keys
    if not tf.executing_eagerly():
        raise KeyDtypeError(
            f"{owner} has vocabulary_dtype='int64' and cannot check, inside a graph, that uint64 keys in "
            f"`{argument}` fit int64 (values above 2**63 - 1 would wrap around to negative ids). Cast them "
            "yourself once you know they fit, with `tf.cast(keys, tf.int64)`, or pass them eagerly."
        )
    checked = tf.constant(_uint64_as_int64(flat.numpy(), owner, argument))
    return keys.with_flat_values(checked) if isinstance(keys, tf.RaggedTensor) else checked


def _out_of_range_error(owner: str, argument: str, position: str, value: int) -> KeyDtypeError:
    return KeyDtypeError(
        f"{owner} has vocabulary_dtype='int64', whose ids lie in [-2**63, 2**63 - 1], but `{argument}` holds "
        f"{value} at {position}. Map such ids into that range first (e.g. hash them), or use "
        "`vocabulary_dtype='string'` with the ids as strings."
    )


def _position(index: tuple[int | np.integer, ...]) -> str:
    return "position " + "".join(f"[{int(i)}]" for i in index)


def _leaves(data: Any, index: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Any]]:
    if isinstance(data, (list, tuple)) or (isinstance(data, np.ndarray) and data.ndim > 0):
        for i, item in enumerate(data):
            yield from _leaves(item, (*index, i))
    else:
        yield index, data


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, bytes, int, np.integer)):
        return False
    try:
        return bool(value != value)  # NaN and NaT differ from themselves.
    except (TypeError, ValueError):
        return True  # pandas.NA refuses to be a bool.


def _kind(value: Any) -> str:
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        return "string"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return type(value).__name__


def _conversion_error(
    data: Any, vocabulary_dtype: str, owner: str, argument: str, error: Exception | None
) -> KeyDtypeError:
    """Names the first value that stops `data` from becoming keys, and how to fix it."""
    wanted = "string" if vocabulary_dtype == "string" else "int"
    depth: int | None = None
    first: tuple[str, Any] = ("", None)  # The first leaf's position and value, set with `depth`.
    for index, value in _leaves(data):
        if not index:
            break  # Not a collection: nothing to point at.
        position = _position(index)
        if _is_missing(value):
            return missing_value_error(owner, argument, position, value)
        if depth is None:
            depth, first = len(index), (position, value)
        elif len(index) != depth:
            return KeyDtypeError(
                f"{owner} received nested lists of different depths in `{argument}`: {first[0]} holds "
                f"{first[1]!r} but {position} holds {value!r}. Give every row the same nesting, or pass a "
                "tf.RaggedTensor."
            )
        kind = _kind(value)
        if kind == "int" and not _INT64_MIN <= int(value) <= _INT64_MAX and vocabulary_dtype == "int64":
            return _out_of_range_error(owner, argument, position, int(value))
        if kind != wanted:
            hint = (
                " A bool is not an id: convert the keys with `int()` if that is what you mean."
                if kind == "bool"
                else " A float id would be truncated, so it is refused."
                if kind == "float" and wanted == "int"
                else ""
            )
            return KeyDtypeError(
                f"{owner} has vocabulary_dtype='{vocabulary_dtype}' but `{argument}` holds {value!r} "
                f"({type(value).__name__}) at {position}. Pass every key as a "
                f"{'str or bytes' if wanted == 'string' else 'Python or NumPy int'}.{hint}"
            )
    reason = f": {error}" if error is not None else "."
    return KeyDtypeError(
        f"{owner} could not convert `{argument}` of type {type(data).__name__} to a tensor of keys{reason} "
        "Pass a NumPy array, a (nested) list of keys, a tf.Tensor or a tf.RaggedTensor."
    )
