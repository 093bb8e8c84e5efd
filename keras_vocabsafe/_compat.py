"""Every use of Keras internals, in one place, so an upgrade that moves one breaks here and nowhere else.

Each helper names the public behaviour it stands in for (Keras, plus the TensorFlow op registry the op audit
reads in a child process). Tested at both ends of the supported Keras range.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
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
    "set_keras_mask",
    "stored_array",
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


def stored_array(store: Any, key: str) -> Any:
    """`store[key]` of a Keras weights store, left unread where the store is Keras's own HDF5 one.

    Keras's `store[key]` reads the whole array each time it is indexed; its HDF5 store holds an h5py dataset
    underneath (found through Keras's own safety checks), whose shape and dtype cost nothing and which is read
    once, when converted. Any other store (a dict, NPZ, a sharded or bfloat16 array) gives `store[key]` as NumPy.
    """
    if type(store) is saving_lib.H5IOStore and hasattr(saving_lib, "safe_get_h5_dataset"):
        group = getattr(store, "_h5_entry_group", None)
        if group is not None and not isinstance(group, dict) and key in group:
            dataset = saving_lib.safe_get_h5_dataset(group, key)
            if "dtype" not in dataset.attrs:  # Keras marks bfloat16 arrays so; its store converts those.
                return dataset
    return np.asarray(store[key])


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
