"""Every use of Keras internals, in one place, so an upgrade that moves one breaks here and nowhere else.

Each helper names the public behaviour it stands in for (Keras, plus the TensorFlow op registry the op audit
reads in a child process). Tested at both ends of the supported Keras range.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import tensorflow as tf
from keras.src.backend.common.symbolic_scope import in_symbolic_scope
from keras.src.saving import saving_lib

__all__ = [
    "CLASSIFY_OPS_SCRIPT",
    "flatten_layers",
    "get_keras_mask",
    "inbound_tensors",
    "in_symbolic_scope",
    "init_scope",
    "load_weights_only",
    "own_variables",
    "producing_layer",
    "replace_variables",
    "searchsorted",
    "set_keras_mask",
]


def flatten_layers(layer: Any, *, include_self: bool = True, recursive: bool = True) -> Iterator[Any]:
    """`layer` and every layer it tracks (at any depth, or only its own with `recursive=False`)."""
    return layer._flatten_layers(include_self=include_self, recursive=recursive)


def inbound_tensors(layer: Any) -> list[Any]:
    """The symbolic tensors a layer was called on, over all its calls in functional models."""
    return [tensor for node in layer._inbound_nodes for tensor in node.input_tensors]


def producing_layer(tensor: Any) -> Any:
    """The layer whose output a symbolic (Keras) tensor is, or `None`."""
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None)


def own_variables(layer: Any) -> list[Any]:
    """The variables a layer created itself (not its sublayers'): what Keras's default `load_own_variables` assigns."""
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def load_weights_only(model: Any, filepath: str, *, objects_to_skip: list[Any]) -> None:
    """`model.load_weights(filepath)` visiting only what `objects_to_skip` leaves (`.weights.h5` and `.keras`).

    The public `load_weights` takes `objects_to_skip` for `.weights.h5` files only; the loader under it takes
    both kinds.
    """
    saving_lib.load_weights_only(model, filepath, objects_to_skip=objects_to_skip)


def replace_variables(layer: Any, old: list[Any], create: Any) -> Any:
    """Untracks `old` variables of a built layer and calls `create()` to add new ones (Keras locks a built layer)."""
    locked = layer._tracker.locked
    layer._tracker.unlock()
    try:
        for variable in old:
            layer._untrack_variable(variable)
        return create()
    finally:
        if locked:
            layer._tracker.lock()


def init_scope() -> Any:
    """`tf.init_scope()` on the TensorFlow backend (reads a variable eagerly inside a traced function)."""
    if keras.backend.backend() == "tensorflow":
        return tf.init_scope()
    return contextlib.nullcontext()


def searchsorted(sorted_sequence: Any, values: Any) -> Any:
    """`keras.ops.searchsorted(sorted_sequence, values)` (side "left"), also in a traced function on Keras 3.11.

    Keras 3.11's TensorFlow `searchsorted` takes `len()` of the sorted sequence, which a symbolic tensor does not
    have (later versions read `shape[0]`); `tf.searchsorted` is what it calls.
    """
    if keras.backend.backend() == "tensorflow":
        return tf.searchsorted(sorted_sequence, values, side="left")
    return keras.ops.searchsorted(sorted_sequence, values, side="left")


def set_keras_mask(tensor: Any, mask: Any) -> None:
    """Attaches a Keras mask to a tensor, where downstream layers read it (what Keras's `set_keras_mask` does)."""
    tensor._keras_mask = mask


def get_keras_mask(tensor: Any) -> Any:
    """The Keras mask attached to a tensor, or `None`."""
    return getattr(tensor, "_keras_mask", None)


# Run by `audit_ops` in a fresh interpreter (so tensorflow-text is not yet imported): which of the given op
# types TensorFlow registers on its own ("core") and which only once tensorflow-text is imported. It reads TF's
# op registry, which is also what sees ops that tensorflow-text registers when it loads (`tf.raw_ops` does not).
CLASSIFY_OPS_SCRIPT = r"""
import json, sys
sys.modules["tensorflow_text"] = None  # Core means: registered before tensorflow-text is imported.
from tensorflow.python.framework import op_def_registry
ops = json.load(sys.stdin)
origins = {op: "core" for op in ops if op_def_registry.get(op) is not None}
del sys.modules["tensorflow_text"]
try:
    import tensorflow_text  # noqa: F401
except ImportError:
    pass
else:
    origins.update({op: "tensorflow_text" for op in ops if op not in origins and op_def_registry.get(op) is not None})
print(json.dumps(origins))
"""
