"""Quantized embedding matrices, made by Keras's own `Embedding` so that ours quantize exactly as Keras's do.

Keras's quantizers, int4 packing and quantized variables change between
versions (3.12 keeps one scale per row for int4; later versions add per-group
scales and zero points, `int4/<block_size>` policies). Rather than copy that
code, a plain `keras.layers.Embedding` of the same shape quantizes the matrix
(or, built under a quantized dtype policy, says which variables such a matrix
has); our layer holds variables of the same names, shapes and dtypes, saves
them in the same order, and dequantizes only the rows a batch selects.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_vocabsafe import _compat

# The quantized variables in the order Keras's `Embedding` saves them ("0", "1", ...), each read from the
# reference layer's attribute of that name (`_embeddings` for the matrix, as in Keras).
VARIABLE_NAMES = ("embeddings", "embeddings_scale", "embeddings_zero", "g_idx")
# Those with one entry per row: when rows move (by token), these move with them.
ROW_VARIABLES = ("embeddings", "embeddings_scale", "embeddings_zero")
SUPPORTED_MODES = ("int8", "int4")


def _reference(rows: int, output_dim: int, dtype_policy: Any) -> keras.layers.Embedding:
    layer = keras.layers.Embedding(rows, output_dim, dtype=dtype_policy, embeddings_initializer="zeros")
    layer.build()
    return layer


def _values_of(reference: keras.layers.Embedding) -> dict[str, np.ndarray]:
    values = {}
    for name in VARIABLE_NAMES:
        variable = _compat.embedding_variable(reference, name)
        if variable is not None:
            values[name] = keras.ops.convert_to_numpy(variable)
    return values


def quantize_matrix(matrix: np.ndarray, mode: str, config: Any, float_policy: Any) -> tuple[dict[str, np.ndarray], Any]:
    """The quantized variables of `matrix` and the layer's new dtype policy, as `Embedding.quantize` makes them."""
    reference = _reference(matrix.shape[0], matrix.shape[1], float_policy)
    reference.embeddings.assign(matrix.astype(reference.embeddings.dtype, copy=False))  # Float, without LoRA.
    reference.quantize(mode, config=config)
    return _values_of(reference), reference.dtype_policy


def empty_variables(rows: int, output_dim: int, quantized_policy: Any) -> dict[str, np.ndarray]:
    """Placeholder values (right names, shapes and dtypes) for a layer rebuilt under a quantized policy."""
    return _values_of(_reference(rows, output_dim, quantized_policy))


def requantize_config(policy: Any) -> tuple[str, Any, Any]:
    """`(mode, config, float policy)` that quantize a float matrix again as a layer of `policy` was quantized.

    The policy records all that a saved model keeps of the original quantization: the mode, the int4 block size
    (Keras 3.13 and later) and the float policy it came from. A custom weight quantizer is not kept by Keras
    either.
    """
    mode = policy.quantization_mode
    source = policy.get_config().get("source_name", "float32")
    config = None
    block_size = getattr(policy, "block_size", None)
    if mode == "int4" and block_size is not None:
        config = keras.quantizers.Int4QuantizationConfig(block_size=block_size)
    return mode, config, source


def dequantize(values: dict[str, Any], mode: str, output_dim: int, compute_dtype: str, g_idx: Any = None) -> Any:
    """Float rows from quantized rows (`values` holds the row variables' rows), computed as Keras's `_int*_call`."""
    rows = values["embeddings"]
    if mode == "int4":
        rows = keras.quantizers.unpack_int4(rows, output_dim, axis=-1)
    rows = keras.ops.cast(rows, compute_dtype)
    if values.get("embeddings_zero") is not None:
        return _compat.dequantize_with_sz_map(
            rows, values["embeddings_scale"], values["embeddings_zero"], g_idx, group_axis=-1
        )
    return keras.ops.divide(rows, keras.ops.expand_dims(values["embeddings_scale"], axis=-1))
