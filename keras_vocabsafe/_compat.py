"""Every use of Keras internals, in one place, so an upgrade that moves one breaks here and nowhere else.

Each helper names the public behaviour it stands in for (Keras, plus the TensorFlow op registry the op audit
reads in a child process). Tested at both ends of the supported Keras range.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
import weakref
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras.src.backend.common.stateless_scope import in_stateless_scope
from keras.src.backend.common.symbolic_scope import in_symbolic_scope
from keras.src.saving import saving_lib
from tensorflow.python.ops import control_flow_util

__all__ = [
    "CAST_OPS",
    "CLASSIFY_OPS_SCRIPT",
    "JOINING_OPS",
    "LAYOUT_OPS",
    "first_argument",
    "flatten_layers",
    "get_keras_mask",
    "graph_nodes",
    "inbound_tensors",
    "in_symbolic_scope",
    "in_keras_export",
    "in_keras_save_signature",
    "in_legacy_weights_load",
    "in_model_load",
    "in_xla_compilation",
    "init_scope",
    "list_torch_parameter_owners",
    "load_weights_only",
    "own_variables",
    "producing_layer",
    "replace_variables",
    "retrack_torch_parameter_owners",
    "retrack_torch_parameters",
    "searchsorted",
    "sequential_building_on",
    "set_keras_mask",
    "stored_array",
]


def _callers(frame: types.FrameType | None) -> Iterator[types.CodeType]:
    """The code of `frame` and of every frame that called it, innermost first: how the `in_...` checks below find
    the Keras function they run under (Keras gives a layer no other sign of it)."""
    while frame is not None:
        yield frame.f_code
        frame = frame.f_back


def in_keras_export() -> bool:
    """Whether Keras's `model.export()` is tracing the model: one of the functions it calls for a format
    (`export_saved_model`, `export_onnx`, `export_openvino`, `export_litert`, `export_torch`, in
    `keras.src.export`) is running.

    Without an `input_signature`, it traces a subclassed model on placeholders of the model's `input_dtype`
    (float32), whatever the model was called on (`export_utils._infer_input_signature_from_model`). The rest of
    the package is not `model.export()`: an `ExportArchive` endpoint takes the signature it is given, and a
    `TFSMLayer` calls a SavedModel already exported.
    """
    keras_export = os.path.join("keras", "src", "export") + os.sep
    return any(
        code.co_name.startswith("export_") and keras_export in code.co_filename for code in _callers(sys._getframe(1))
    )


def in_keras_save_signature(inputs: Any) -> bool:
    """Whether `inputs` are the float placeholders of Keras's (TensorFlow backend) trace of a model's default save
    signature, made while it writes a SavedModel.

    Keras traces it for every subclassed model it saves, on placeholders of the model's `input_dtype` (float32)
    whatever the model takes (`TFLayer._default_save_signature`, traced from `TFLayer._trackable_children`).
    """
    if not isinstance(inputs, tf.Tensor) or not inputs.dtype.is_floating or tf.executing_eagerly():
        return False
    keras_layer = os.path.join("backend", "tensorflow", "layer.py")
    return any(
        code.co_name == "_trackable_children" and code.co_filename.endswith(keras_layer)
        for code in _callers(sys._getframe(1))
    )


def flatten_layers(layer: Any, *, include_self: bool = True, recursive: bool = True) -> Iterator[Any]:
    """`layer` and every layer it tracks (at any depth, or only its own with `recursive=False`)."""
    return layer._flatten_layers(include_self=include_self, recursive=recursive)


def inbound_tensors(layer: Any) -> list[Any]:
    """The symbolic tensors a layer was called on, over all its calls in functional models."""
    return [tensor for node in layer._inbound_nodes for tensor in node.input_tensors]


def graph_nodes(model: Any) -> list[Any]:
    """The calls (`Node`s: `operation`, `input_tensors`, `output_tensors`) that make up a functional or Sequential
    model's graph, Keras ops (`keras.ops.cast(x)` on a symbolic input) included; a subclassed model has none.

    Stands in for walking `model.layers` forwards, which Keras offers no public way to do (and which skips ops).
    """
    functional = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    by_depth = getattr(functional, "_nodes_by_depth", None)
    if not isinstance(by_depth, dict):
        return []
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def first_argument(node: Any) -> Any:
    """The first positional argument of a call in a model's graph (`x` of `x[key]`), or `None`."""
    args = getattr(getattr(node, "arguments", None), "args", ())
    return args[0] if args else None


def _op_classes(module: str, *names: str) -> tuple[type, ...]:
    import importlib

    found = importlib.import_module(f"keras.src.ops.{module}")
    return tuple(getattr(found, name) for name in names if isinstance(getattr(found, name, None), type))


# The Keras ops a functional model records for `keras.ops.reshape`, `transpose`, `expand_dims`, `squeeze` and `x[...]`
# on a symbolic tensor: each output element is an element of the first argument, moved or selected.
LAYOUT_OPS: tuple[type, ...] = _op_classes("numpy", "Reshape", "Transpose", "ExpandDims", "Squeeze", "GetItem")
# The op recorded for `keras.ops.concatenate` on symbolic tensors: each output element is an element of one of the
# tensors of its first argument (a list).
JOINING_OPS: tuple[type, ...] = _op_classes("numpy", "Concatenate")
# The op recorded for `keras.ops.cast` on a symbolic tensor.
CAST_OPS: tuple[type, ...] = _op_classes("core", "Cast")


def producing_layer(tensor: Any) -> Any:
    """The layer whose output a symbolic (Keras) tensor is, or `None`."""
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None)


def sequential_building_on(inputs: Any) -> Any:
    """The `keras.Sequential` whose `build` is calling its first layer on `inputs` (its input placeholder), or `None`.

    `Sequential.build` makes that placeholder from the model's `keras.Input`, or, when the model starts without one,
    of the first layer's own dtype (float32 by default), whatever data the model is then given
    (`keras.src.models.sequential.Sequential.build`).
    """
    source = producing_layer(inputs)
    if source is None:
        return None
    sequential = os.path.join("keras", "src", "models", "sequential.py")
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "build" and code.co_filename.endswith(sequential):
            model = frame.f_locals.get("self")
            if isinstance(model, keras.Sequential) and model._layers and model._layers[0] is source:
                return model
        frame = frame.f_back
    return None


# `keras.saving.load_model()` rebuilds the model from its config in this function, then restores every variable
# from the saved state (`load_own_variables`, or Orbax's arrays): nothing built inside it keeps its initial value.
# Kept from import time, so that code wrapping the function (a profiler, a benchmark) does not hide it.
_MODEL_FROM_CONFIG_CODE = getattr(getattr(saving_lib, "_model_from_config", None), "__code__", None)


def in_model_load() -> bool:
    """Whether this call runs while `keras.saving.load_model()` rebuilds a model whose saved state it then restores.

    Keras gives a layer no sign of it (`build` runs from the config, `load_own_variables` after), so this looks
    for Keras's `saving_lib._model_from_config` among the callers; a Keras without it gives `False`, the safe
    answer (the layer then initializes its weights as usual).
    """
    if _MODEL_FROM_CONFIG_CODE is None:
        return False
    return any(code is _MODEL_FROM_CONFIG_CODE for code in _callers(sys._getframe(1)))


try:
    from keras.src.legacy.saving import legacy_h5_format as _legacy_h5
except ImportError:  # pragma: no cover - a Keras without the legacy HDF5 format
    _legacy_h5 = None
_LEGACY_WEIGHT_LOAD_CODES = tuple(
    getattr(_legacy_h5, name).__code__
    for name in ("load_weights_from_hdf5_group", "load_weights_from_hdf5_group_by_name")
    if hasattr(_legacy_h5, name)
)
_LEGACY_MODEL_LOAD_CODE = getattr(getattr(_legacy_h5, "load_model_from_hdf5", None), "__code__", None)


def in_legacy_weights_load() -> bool:
    """Whether Keras's legacy HDF5 loader is collecting weights to assign by position (or by layer name) into a
    model it did not rebuild from the same file: `model.load_weights("model.h5")`.

    That loader assigns the file's arrays to `layer.trainable_weights + layer.non_trainable_weights` (through
    `_legacy_weights`) without asking the layer; `keras.saving.load_model("model.h5")`, which rebuilds the model
    from the file's own config first, is not flagged.
    """
    codes = set(_callers(sys._getframe(1)))
    return _LEGACY_MODEL_LOAD_CODE not in codes and any(code in codes for code in _LEGACY_WEIGHT_LOAD_CODES)


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


def retrack_torch_parameters(model: Any) -> None:
    """On PyTorch, lists the current variables of `model` and of every layer in it as their `torch.nn.Parameter`s.

    Keras lists a PyTorch layer's parameters (`parameters()`, `state_dict()`) when it is built, from the variables of
    all its layers: variables that later replace a sublayer's stay out of its parents' lists, which keep the old
    ones. Keras's own `model.quantize()` lists them again the same way."""
    if keras.backend.backend() != "torch":
        return
    for layer in flatten_layers(model):
        layer._track_variables()


# Keras's `Layer.variables` (which gathers a layer's variables and, recursively, its sublayers') and, on PyTorch,
# `TorchLayer._track_variables` (which lists them as the layer's parameters, under `variables`).
_VARIABLES_CODE = keras.layers.Layer.variables.fget.__code__
_TRACK_VARIABLES_CODE = getattr(getattr(keras.layers.Layer, "_track_variables", None), "__code__", None)
# Per layer, the layers and models (itself included) whose PyTorch parameter list holds its variables.
_TORCH_PARAMETER_OWNERS: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()


def list_torch_parameter_owners(layer: Any) -> None:
    """On PyTorch, notes which layer or model is listing `layer`'s variables as its parameters right now.

    Called from `layer.variables`. Keras lists the parameters of a model (`parameters()`, `state_dict()`) in a
    dict of the model's own, made from the variables of all its layers (`TorchLayer._track_variables`; the layers
    of a functional model are no PyTorch submodules of it), and makes that dict again only when it builds the model
    (also at the start of `fit`) or quantizes it: `retrack_torch_parameter_owners` makes them again when `layer`
    replaces or adds variables, for a PyTorch training loop that never calls `fit`.
    """
    if _TRACK_VARIABLES_CODE is None:  # Not PyTorch.
        return
    frame: types.FrameType | None = sys._getframe(2)  # The caller of `layer.variables`.
    while frame is not None and frame.f_code is _VARIABLES_CODE:  # A parent gathering its sublayers' variables.
        frame = frame.f_back
    if frame is not None and frame.f_code is _TRACK_VARIABLES_CODE:
        owner = frame.f_locals.get("self")
        if owner is not None:
            _TORCH_PARAMETER_OWNERS.setdefault(layer, weakref.WeakSet()).add(owner)


def retrack_torch_parameter_owners(layer: Any) -> None:
    """On PyTorch, lists again the parameters of every layer and model that listed `layer`'s variables (see
    `list_torch_parameter_owners`), so that they hold its current variables, as Keras's `model.quantize()` does."""
    if in_stateless_scope():  # As Keras: in a stateless scope the variables hold no values to list.
        return
    for owner in list(_TORCH_PARAMETER_OWNERS.get(layer, ())):
        owner._track_variables()


def in_xla_compilation() -> bool:
    """Whether TensorFlow is tracing a function it compiles with XLA (`tf.function(jit_compile=True)`, or Keras's
    `jit_compile=True`), where `tf.debugging.Assert` compiles to nothing and a gather clamps ids to the rows."""
    if keras.backend.backend() != "tensorflow" or tf.executing_eagerly():
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


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


# Internals moved here from the modules that used them (issue 15, "public APIs only"). Each has no public
# counterpart in the supported Keras and TensorFlow versions; tests/test_compat.py touches every one of them.

__all__ += [
    "ALLOW_NON_TENSOR_INPUTS",
    "CLIP_GRADIENTS_HOOK",
    "WEIGHT_DECAY_HOOK",
    "accept_any_inputs",
    "adam_slot_variables",
    "dequantize_with_sz_map",
    "embedding_variable",
    "optimizer_trainable_variable",
    "optimizer_variable_index",
    "restore_dtype_policy",
    "saved_model_proto",
    "bundle_entry_proto",
    "set_quantized",
    "is_quantized",
    "unlocked_tracking",
    "uses_weight_decay",
]

# The Keras `Layer` flags that let `call` receive raw Python values (strings, lists) as Keras's own preprocessing
# layers do: no conversion of the inputs to tensors, and non-tensor positional arguments allowed.
ALLOW_NON_TENSOR_INPUTS = {"_convert_input_args": False, "_allow_non_tensor_positional_args": True}

# The `keras.optimizers.Optimizer` method the row-sparse optimizers override: on TensorFlow they apply weight
# decay in their own step, to the touched rows only.
WEIGHT_DECAY_HOOK = "_apply_weight_decay"
# The one they override to clip a row-sparse gradient after summing its repeated ids, keeping it row-sparse.
CLIP_GRADIENTS_HOOK = "_clip_gradients"


def accept_any_inputs(layer: Any) -> None:
    """Lets `layer.call` take raw strings, lists and other non-tensor inputs, as Keras's preprocessing layers do."""
    for name, value in ALLOW_NON_TENSOR_INPUTS.items():
        setattr(layer, name, value)


@contextlib.contextmanager
def unlocked_tracking(layer: Any) -> Iterator[None]:
    """Lets a built layer add weights (Keras locks a built layer's tracker; its own `enable_lora` unlocks it too)."""
    locked = layer._tracker.locked
    layer._tracker.unlock()
    try:
        yield
    finally:
        if locked:
            layer._tracker.lock()


def is_quantized(layer: Any) -> bool:
    """Whether Keras has marked `layer` as quantized (its `dtype_policy` setter quantizes a built layer that is not)."""
    return bool(getattr(layer, "_is_quantized", False))


def set_quantized(layer: Any, value: bool) -> None:
    """Marks `layer` as quantized or not, as Keras's own `quantize` does."""
    layer._is_quantized = value


def restore_dtype_policy(layer: Any, policy: Any) -> None:
    """Puts back a dtype policy without the `dtype_policy` setter (which would quantize the layer again)."""
    layer._dtype_policy = policy


def embedding_variable(layer: keras.layers.Embedding, name: str) -> Any:
    """A variable of a Keras `Embedding` by the name it saves under; the raw (packed, unmerged) matrix for "embeddings".

    The public `embeddings` property unpacks int4 rows and adds the LoRA update; the saver reads the variable.
    """
    return getattr(layer, "_embeddings" if name == "embeddings" else name, None)


def dequantize_with_sz_map(*args: Any, **kwargs: Any) -> Any:
    """Keras's dequantization with per-group scales and zero points (Keras 3.13 and later, where groups exist)."""
    from keras.src.quantizers.quantizers import dequantize_with_sz_map as dequantize

    return dequantize(*args, **kwargs)


def optimizer_variable_index(optimizer: Any, variable: Any) -> int:
    """The position of `variable` among the variables `optimizer` was built for (the index of its slots)."""
    return optimizer._get_variable_index(variable)


def optimizer_trainable_variable(optimizer: Any, variable: Any) -> Any:
    """The Keras variable `optimizer` was built for that a (possibly backend) `variable` in `update_step` stands for."""
    return optimizer._trainable_variables[optimizer._get_variable_index(variable)]


def uses_weight_decay(optimizer: Any, variable: Any) -> bool:
    """Whether `optimizer` decays `variable` (not excluded by `exclude_from_weight_decay`)."""
    return optimizer._use_weight_decay(variable)


def adam_slot_variables(optimizer: Any, variable: Any) -> tuple[Any, Any, Any]:
    """`(momentum, velocity, velocity_hat or None)` of a `keras.optimizers.Adam` for `variable`."""
    index = optimizer._get_variable_index(variable)
    velocity_hat = optimizer._velocity_hats[index] if optimizer.amsgrad else None
    return optimizer._momentums[index], optimizer._velocities[index], velocity_hat


def saved_model_proto() -> Any:
    """An empty `SavedModel` protocol buffer, to parse `saved_model.pb` without loading the model.

    TensorFlow exports `GraphDef` and `MetaGraphDef` as `tf.compat.v1` names, but not the `SavedModel` message
    that holds them.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    return saved_model_pb2.SavedModel()


def bundle_entry_proto() -> Any:
    """An empty `BundleEntryProto`: where one tensor of a checkpoint's `.index` lies in its `.data-*` shards.

    TensorFlow exports no public name for it; its checkpoint reader reads a tensor's bytes, never where they are.
    """
    from tensorflow.core.protobuf import tensor_bundle_pb2

    return tensor_bundle_pb2.BundleEntryProto()
