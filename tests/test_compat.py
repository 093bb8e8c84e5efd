"""Every Keras or TensorFlow internal that `keras_vocabsafe._compat` relies on is still there.

Each check names the internal and the `_compat` helper that uses it, so an upgrade that removes or renames one
fails here, by name, instead of deep inside a layer. Every name in `_compat.__all__` must be covered.
"""

import importlib
import importlib.util
import typing
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vocabsafe import _compat


def resolve(dotted):
    """The object at `module.path:attribute.path`, or a failure naming what is missing."""
    module_name, _, attributes = dotted.partition(":")
    try:
        value = importlib.import_module(module_name)
    except ImportError as error:
        pytest.fail(f"The internal module {module_name} is gone ({error}); _compat relies on {dotted}.")
    for attribute in attributes.split(".") if attributes else ():
        if not hasattr(value, attribute):
            pytest.fail(f"{dotted} is gone (no {attribute!r}); _compat relies on it.")
        value = getattr(value, attribute)
    return value


def require(obj, attribute, symbol):
    if not hasattr(obj, attribute):
        pytest.fail(
            f"{symbol} is gone in Keras {keras.__version__} / TensorFlow {tf.__version__}; _compat relies on it."
        )
    return getattr(obj, attribute)


def keras_at_least(major, minor):
    return tuple(int(part) for part in keras.__version__.split(".")[:2]) >= (major, minor)


def functional_model():
    inputs = keras.Input(shape=(3,), name="x")
    inner = keras.Sequential([keras.layers.Dense(2, name="inner_dense")], name="inner")
    outputs = keras.layers.Dense(1, name="head")(inner(inputs))
    return keras.Model(inputs, outputs), inner


# Imports: modules and functions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "helper"),
    [
        ("keras.src.backend.common.symbolic_scope:in_symbolic_scope", "in_symbolic_scope"),
        ("keras.src.saving.saving_lib:load_weights_only", "load_weights_only"),
        ("tensorflow.core.protobuf.saved_model_pb2:SavedModel", "saved_model_proto"),
        ("tensorflow.core.protobuf.tensor_bundle_pb2:BundleEntryProto", "bundle_entry_proto"),
        ("tensorflow.python.framework.op_def_registry:get", "CLASSIFY_OPS_SCRIPT"),
    ],
)
def test_internal_modules_and_functions_import(symbol, helper):
    assert callable(resolve(symbol)), f"{symbol} (used by _compat.{helper}) is no longer callable"


@pytest.mark.skipif(not keras_at_least(3, 13), reason="Keras has grouped int4 scales from 3.13 on")
def test_dequantize_with_sz_map_imports_and_dequantizes():
    resolve("keras.src.quantizers.quantizers:dequantize_with_sz_map")
    rows = np.array([[2.0, 4.0, 6.0, 8.0]], np.float32)
    scale, zero = np.array([[2.0, 4.0]], np.float32), np.array([[0.0, 1.0]], np.float32)
    g_idx = np.array([0, 0, 1, 1], np.int32)
    out = keras.ops.convert_to_numpy(_compat.dequantize_with_sz_map(rows, scale, zero, g_idx, group_axis=-1))
    # (x - zero of its group) * scale of its group: group 0 is (x - 0) * 2, group 1 is (x - 1) * 4.
    np.testing.assert_allclose(out, [[4.0, 8.0, 20.0, 28.0]])


def test_op_registry_sees_core_ops_and_refuses_unknown_ones():
    registry = resolve("tensorflow.python.framework.op_def_registry:get")
    assert registry("MatMul") is not None
    assert registry("NoSuchOpAnywhere") is None
    assert "op_def_registry.get(op)" in _compat.CLASSIFY_OPS_SCRIPT


def test_saved_model_proto_parses_a_saved_model(tmp_path):
    module = tf.Module()
    module.double = tf.function(lambda x: x * 2, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(tmp_path))
    proto = _compat.saved_model_proto()
    proto.ParseFromString((tmp_path / "saved_model.pb").read_bytes())
    ops = {
        node.op
        for meta in proto.meta_graphs
        for function in meta.graph_def.library.function
        for node in function.node_def
    }
    assert "Mul" in ops


def test_bundle_entry_proto_places_the_tensors_of_a_checkpoint(tmp_path):
    from keras_vocabsafe._inspect_savedmodel import _tensor_bundle_extents

    checkpoint = tf.train.Checkpoint(a=tf.Variable(np.ones((3, 4), np.float32)), b=tf.Variable([1, 2], tf.int64))
    prefix = checkpoint.write(str(tmp_path / "ckpt"))
    (data,) = tmp_path.glob("ckpt.data-*")
    # TensorFlow writes the tensors one after the other: the last one ends where the file does.
    assert _tensor_bundle_extents(f"{prefix}.index") == {0: data.stat().st_size}
    entry = _compat.bundle_entry_proto()
    assert {"shard_id", "offset", "size"} <= set(entry.DESCRIPTOR.fields_by_name)


# Layers ------------------------------------------------------------------------------------------------------


def test_layer_tracking_internals():
    model, inner = functional_model()
    require(keras.layers.Layer, "_flatten_layers", "keras.layers.Layer._flatten_layers")
    names = {layer.name for layer in _compat.flatten_layers(model)}
    assert {"inner", "inner_dense", "head"} <= names
    assert [layer.name for layer in _compat.flatten_layers(model, include_self=False, recursive=False)].count(
        "inner_dense"
    ) == 0
    require(inner, "_inbound_nodes", "keras.layers.Layer._inbound_nodes")
    assert len(_compat.inbound_tensors(inner)) == 1
    require(model.outputs[0], "_keras_history", "KerasTensor._keras_history")
    assert _compat.producing_layer(model.outputs[0]).name == "head"
    head = model.get_layer("head")
    for attribute in ("_trainable_variables", "_non_trainable_variables"):
        require(head, attribute, f"keras.layers.Layer.{attribute}")
    assert {v.path for v in _compat.own_variables(head)} == {v.path for v in head.weights}
    assert _compat.own_variables(inner) == []  # Its variables belong to its sublayer.


def test_graph_nodes_and_the_ops_a_functional_model_records():
    ids = keras.Input((6,), dtype="int64")
    moved = keras.ops.expand_dims(keras.ops.cast(keras.layers.Reshape((2, 3))(ids), "int32"), -1)[:, 0]
    model = keras.Model(ids, keras.ops.squeeze(keras.ops.transpose(keras.ops.reshape(moved, (-1, 3, 1))), 0))
    nodes = _compat.graph_nodes(model)
    kinds = [type(node.operation).__name__ for node in nodes]
    assert kinds[:3] == ["InputLayer", "Reshape", "Cast"]  # Inputs first, as the graph runs.
    assert {type(op) for op in (node.operation for node in nodes)} >= set(_compat.LAYOUT_OPS)
    assert len(_compat.LAYOUT_OPS) == 5 and len(_compat.CAST_OPS) == 1
    (cast,) = [node for node in nodes if type(node.operation) in _compat.CAST_OPS]
    assert _compat.first_argument(cast) is cast.input_tensors[0] and cast.output_tensors[0].dtype == "int32"
    sequential = keras.Sequential([keras.Input((6,), dtype="int64"), keras.layers.Reshape((2, 3))])
    assert [type(node.operation).__name__ for node in _compat.graph_nodes(sequential)] == ["InputLayer", "Reshape"]
    other = keras.Input((3,), dtype="int64")
    joined = keras.Model([ids, other], keras.ops.concatenate([ids, other], axis=-1))
    (concatenate,) = [node for node in _compat.graph_nodes(joined) if type(node.operation) in _compat.JOINING_OPS]
    assert len(_compat.JOINING_OPS) == 1 and list(map(id, concatenate.input_tensors)) == [id(ids), id(other)]
    assert list(map(id, _compat.first_argument(concatenate))) == [id(ids), id(other)]
    assert concatenate.output_tensors[0].dtype == "int64"


def test_adding_and_replacing_weights_of_a_built_layer():
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    tracker = require(layer, "_tracker", "keras.layers.Layer._tracker")
    for method in ("lock", "unlock"):
        require(tracker, method, f"keras.layers.Layer._tracker.{method}")
    require(tracker, "locked", "keras.layers.Layer._tracker.locked")
    require(layer, "_untrack_variable", "keras.layers.Layer._untrack_variable")
    with pytest.raises(ValueError):  # Keras still locks a built layer; otherwise the helpers are not needed.
        layer.add_weight(shape=(1,), name="refused")
    with _compat.unlocked_tracking(layer):
        extra = layer.add_weight(shape=(1,), name="extra")
    assert any(v is extra for v in layer.weights) and tracker.locked
    old = [layer.kernel]
    new = _compat.replace_variables(layer, old, lambda: layer.add_weight(shape=(3, 5), name="kernel_again"))
    assert all(v is not old[0] for v in layer.weights) and any(v is new for v in layer.weights)
    assert tracker.locked


def test_raw_input_flags_are_read_by_keras():
    for name in _compat.ALLOW_NON_TENSOR_INPUTS:
        require(keras.layers.Layer(), name, f"keras.layers.Layer.{name}")

    class Echo(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            _compat.accept_any_inputs(self)

        def call(self, inputs):
            return len(inputs)

    assert Echo()(["a", "b", "c"]) == 3  # A Python list reaches `call` unconverted.


def test_quantization_flag_and_dtype_policy():
    layer = keras.layers.Embedding(4, 2)
    layer.build()
    float_policy = require(layer, "_dtype_policy", "keras.layers.Layer._dtype_policy")
    assert not _compat.is_quantized(layer)
    _compat.set_quantized(layer, True)
    layer.dtype_policy = "int8_from_float32"  # Keras's setter quantizes a built layer unless it is marked.
    assert str(_compat.embedding_variable(layer, "embeddings").dtype) == "float32", (
        "Keras's dtype_policy setter no longer reads `_is_quantized`; _compat.set_quantized relies on it"
    )
    _compat.restore_dtype_policy(layer, float_policy)
    assert layer.dtype_policy is float_policy
    _compat.set_quantized(layer, False)
    assert not _compat.is_quantized(layer)
    fresh = keras.layers.Embedding(4, 2)
    fresh.build()
    fresh.quantize("int8")
    assert _compat.is_quantized(fresh)  # Keras's own quantize sets the same flag.


def test_embedding_variables_by_saved_name():
    layer = keras.layers.Embedding(4, 6)
    layer.build()
    require(layer, "_embeddings", "keras.layers.Embedding._embeddings")
    assert _compat.embedding_variable(layer, "embeddings") is layer.embeddings  # Float, no LoRA: the variable.
    layer.quantize("int8")
    assert tuple(_compat.embedding_variable(layer, "embeddings").shape) == (4, 6)
    assert _compat.embedding_variable(layer, "embeddings_scale") is not None


def test_keras_mask_attribute():
    masked = keras.layers.Masking(mask_value=0.0)(tf.constant([[[0.0], [1.0]]]))
    mask = _compat.get_keras_mask(masked)  # Keras attached it under the name the helpers use.
    assert mask is not None, "Keras no longer attaches masks as `_keras_mask`; _compat.get_keras_mask relies on it"
    np.testing.assert_array_equal(np.asarray(mask), [[False, True]])
    other = tf.constant([1.0])
    _compat.set_keras_mask(other, tf.constant([True]))
    assert _compat.get_keras_mask(other) is not None


def test_symbolic_scope_and_init_scope():
    assert _compat.in_symbolic_scope() is False
    with _compat.init_scope():
        assert tf.executing_eagerly()


def test_in_xla_compilation_is_true_only_in_a_trace_tensorflow_compiles_with_xla():
    resolve("tensorflow.python.ops.control_flow_util:GraphOrParentsInXlaContext")
    seen = []

    def witness(x):
        seen.append(_compat.in_xla_compilation())
        return x + 1

    tf.function(witness, jit_compile=True)(tf.constant(1))
    tf.function(witness)(tf.constant(1))
    witness(tf.constant(1))
    assert seen == [True, False, False]


def test_load_weights_only_skips_what_it_is_told(tmp_path):
    model, _ = functional_model()
    model.save_weights(tmp_path / "m.weights.h5")
    head = model.get_layer("head")
    before = [v.numpy().copy() for v in head.weights]
    for variable in model.weights:
        variable.assign(np.zeros(variable.shape))
    _compat.load_weights_only(model, str(tmp_path / "m.weights.h5"), objects_to_skip=[head])
    assert all(not np.any(v.numpy()) for v in head.weights)  # Skipped.
    assert any(np.any(v.numpy()) for v in model.get_layer("inner").weights)  # Loaded.
    del before


# Optimizers ----------------------------------------------------------------------------------------------------


def test_optimizer_internals():
    variable = keras.Variable(np.ones((3, 2), np.float32), name="embeddings")
    other = keras.Variable(np.ones((2,), np.float32), name="bias")
    adam = keras.optimizers.Adam(amsgrad=True, weight_decay=0.1)
    adam.exclude_from_weight_decay(var_names=["bias"])
    adam.build([variable, other])
    for attribute in ("_get_variable_index", "_trainable_variables", "_use_weight_decay"):
        require(adam, attribute, f"keras.optimizers.Optimizer.{attribute}")
    for attribute in ("_momentums", "_velocities", "_velocity_hats"):
        require(adam, attribute, f"keras.optimizers.Adam.{attribute}")
    for hook in (_compat.WEIGHT_DECAY_HOOK, _compat.CLIP_GRADIENTS_HOOK):
        require(keras.optimizers.Optimizer, hook, f"keras.optimizers.Optimizer.{hook}")
    clipping = keras.optimizers.SGD(clipvalue=0.5)
    (clipped,) = getattr(clipping, _compat.CLIP_GRADIENTS_HOOK)([tf.constant([2.0, -0.1])])
    assert clipped.numpy().tolist() == pytest.approx([0.5, -0.1])  # Takes and returns the list of gradients.
    assert _compat.optimizer_variable_index(adam, other) == 1
    assert _compat.optimizer_trainable_variable(adam, other) is other
    assert _compat.uses_weight_decay(adam, variable) and not _compat.uses_weight_decay(adam, other)
    momentum, velocity, velocity_hat = _compat.adam_slot_variables(adam, variable)
    assert tuple(momentum.shape) == tuple(velocity.shape) == tuple(velocity_hat.shape) == (3, 2)
    assert momentum is not velocity and velocity is not velocity_hat
    plain = keras.optimizers.Adam()
    plain.build([variable])
    assert _compat.adam_slot_variables(plain, variable)[2] is None  # No velocity_hat without amsgrad.


# Coverage ------------------------------------------------------------------------------------------------------


def test_searchsorted_works_on_symbolic_tensors_as_numpy_does():
    # Public APIs only, but a version shim (Keras 3.11's own takes len() of a symbolic tensor): check it traced.
    sorted_sequence = np.array([1, 3, 3, 7, 10], np.int64)
    values = np.array([0, 1, 3, 4, 10, 11], np.int64)
    spec = tf.TensorSpec([None], tf.int64)  # Unknown lengths, as inside `fit`.
    traced = tf.function(_compat.searchsorted, input_signature=[spec, spec])
    found = traced(tf.constant(sorted_sequence), tf.constant(values))
    np.testing.assert_array_equal(found.numpy(), np.searchsorted(sorted_sequence, values, side="left"))


def test_stored_array_leaves_keras_h5_weights_unread(tmp_path):
    # Keras 3.12+ names `saving_lib.safe_get_h5_dataset`; older ones read the array (the fallback), so only there
    # may the dataset come back as NumPy.
    import h5py
    from keras.src.saving import saving_lib

    seen = {}

    class Holder(keras.layers.Layer):
        def save_own_variables(self, store):
            store["0"] = np.arange(12, dtype=np.float32).reshape(3, 4)

        def load_own_variables(self, store):
            seen["array"] = _compat.stored_array(store, "0")
            seen["values"] = np.asarray(seen["array"])

    model = keras.Sequential([keras.Input((1,)), Holder()])
    model.save_weights(tmp_path / "m.weights.h5")
    model.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(seen["values"], np.arange(12, dtype=np.float32).reshape(3, 4))
    if tuple(int(part) for part in keras.version().split(".")[:2]) >= (3, 12):
        assert hasattr(saving_lib, "safe_get_h5_dataset"), "keras.src.saving.saving_lib.safe_get_h5_dataset is gone"
        assert isinstance(seen["array"], h5py.Dataset), type(seen["array"])


@keras.saving.register_keras_serializable(package="test_compat")
class BuildWitness(keras.layers.Layer):
    """Notes, at each build, whether `keras.saving.load_model()` is rebuilding the model."""

    seen: typing.ClassVar[list] = []

    def build(self, input_shape):
        BuildWitness.seen.append(_compat.in_model_load())
        self.kernel = self.add_weight(shape=(1,), initializer="ones")

    def call(self, inputs):
        return inputs * self.kernel


def test_in_model_load_is_true_only_while_load_model_rebuilds_a_model(tmp_path):
    from keras.src.saving import saving_lib

    assert hasattr(saving_lib, "_model_from_config"), "keras.src.saving.saving_lib._model_from_config is gone"
    BuildWitness.seen.clear()
    inputs = keras.Input((1,))
    model = keras.Model(inputs, BuildWitness(name="witness")(inputs))
    model.save(tmp_path / "m.keras")
    keras.models.clone_model(model)
    keras.models.model_from_json(model.to_json())
    keras.saving.load_model(tmp_path / "m.keras")
    assert BuildWitness.seen == [False, False, False, True]
    assert not _compat.in_model_load()


class SaveSignatureWitness(keras.Model):
    """Notes, at each traced call, its input dtype and whether Keras is tracing its default save signature."""

    seen: typing.ClassVar[list] = []

    def call(self, inputs):
        SaveSignatureWitness.seen.append((inputs.dtype.name, _compat.in_keras_save_signature(inputs)))
        return tf.strings.length(inputs) if inputs.dtype == tf.string else inputs


def test_in_keras_save_signature_is_true_only_in_the_float_trace_of_a_saved_subclassed_model(tmp_path):
    from keras.src.backend.tensorflow.layer import TFLayer

    assert hasattr(TFLayer, "_default_save_signature") and hasattr(TFLayer, "_trackable_children")
    SaveSignatureWitness.seen.clear()
    model = SaveSignatureWitness()
    model(tf.constant(["a"]))  # Eager: no trace.
    tf.function(model)(tf.constant(["a"]))  # A trace of ours.
    model.export(tmp_path / "export", verbose=False, input_signature=[tf.TensorSpec([None], tf.string)])
    # Keras's own float32 trace of the model (its `input_dtype`, whatever the model takes) is the one flagged.
    # Keras 3.15 makes it while writing the SavedModel; 3.11 does not for this model.
    assert SaveSignatureWitness.seen[:2] == [("string", False), ("string", False)]
    if tuple(int(part) for part in keras.version().split(".")[:2]) >= (3, 15):
        assert ("float32", True) in SaveSignatureWitness.seen[2:]
    assert all(flagged == (dtype == "float32") for dtype, flagged in SaveSignatureWitness.seen)
    assert not _compat.in_keras_save_signature(tf.zeros([1]))


class ExportWitness(keras.Model):
    """Notes, at each call, its input dtype and whether Keras's `model.export()` is tracing it."""

    seen: typing.ClassVar[list] = []

    def call(self, inputs):
        ExportWitness.seen.append((inputs.dtype.name, _compat.in_keras_export()))
        return inputs


class SequentialWitness(keras.layers.Layer):
    """Notes, at each symbolic call, the name of the Sequential `sequential_building_on` sees building it (names
    only: a layer that keeps a model sends Keras's loader into a loop)."""

    seen: typing.ClassVar[list] = []

    def compute_output_spec(self, inputs):
        model = _compat.sequential_building_on(inputs)
        SequentialWitness.seen.append((inputs.dtype, None if model is None else model.name))
        return keras.KerasTensor(inputs.shape, inputs.dtype)

    def call(self, inputs):
        return inputs


def test_sequential_building_on_names_the_sequential_only_while_it_builds_its_first_layer():
    SequentialWitness.seen.clear()
    keras.Sequential([SequentialWitness(), keras.layers.Dense(2)], name="without_input").build((None, 3))
    keras.Sequential([keras.Input((3,), dtype="int32"), SequentialWitness()], name="with_input")
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(3), SequentialWitness()], name="second")
    SequentialWitness()(keras.Input((3,)))  # Functional.
    assert SequentialWitness.seen == [
        ("float32", "without_input"),  # Keras's placeholder, of the layer's own dtype.
        ("int32", "with_input"),
        ("float32", None),  # Not the first layer: it gets the Dense layer's output.
        ("float32", None),
    ]


def test_in_keras_export_is_true_only_while_model_export_traces_the_model(tmp_path):
    from keras.src.export import export_utils

    assert hasattr(export_utils, "_infer_input_signature_from_model")
    ExportWitness.seen.clear()
    model = ExportWitness()
    model(tf.constant([1.0]))  # Eager.
    tf.function(model)(tf.constant([2.0]))  # A trace of ours.
    model.save(tmp_path / "m.keras")
    assert ExportWitness.seen == [("float32", False), ("float32", False)]
    model.export(tmp_path / "export", verbose=False)
    assert ExportWitness.seen[2:] and all(flagged for _, flagged in ExportWitness.seen[2:])
    assert not _compat.in_keras_export()
    # The rest of `keras.src.export` is not `model.export()`: an ExportArchive endpoint traces on its own signature.
    del ExportWitness.seen[:]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, input_signature=[tf.TensorSpec([None], tf.float32)])
    archive.write_out(str(tmp_path / "archive"), verbose=False)
    assert ExportWitness.seen and set(ExportWitness.seen) == {("float32", False)}


def test_in_legacy_weights_load_is_true_only_while_load_weights_reads_a_legacy_h5_file(tmp_path):
    from keras.src.legacy.saving import legacy_h5_format

    for name in ("load_weights_from_hdf5_group", "load_weights_from_hdf5_group_by_name", "load_model_from_hdf5"):
        assert hasattr(legacy_h5_format, name), f"keras.src.legacy.saving.legacy_h5_format.{name} is gone"
    seen = []

    class Witness(keras.layers.Dense):
        @property
        def weights(self):
            seen.append(_compat.in_legacy_weights_load())
            return super().weights

    inputs = keras.Input((2,))
    model = keras.Model(inputs, Witness(1, name="witness")(inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(tmp_path / "m.h5")
    assert not any(seen)  # Saving, and everything before.
    model.load_weights(tmp_path / "m.h5")
    assert any(seen)
    seen.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras.saving.load_model(tmp_path / "m.h5", custom_objects={"Witness": Witness})
    assert seen and not any(seen)
    assert not _compat.in_legacy_weights_load()


def test_torch_parameters_are_listed_again_by_the_method_keras_quantize_uses():
    # Reads Keras's PyTorch layer as text: importing it needs PyTorch. The listing itself is checked on PyTorch by
    # tests/test_backends.py (`update_vocabulary(model=...)`).
    source = importlib.util.find_spec("keras.src.backend").submodule_search_locations[0] + "/torch/layer.py"
    with open(source, encoding="utf-8") as file:
        assert "def _track_variables(self):" in file.read(), "keras TorchLayer._track_variables is gone"
    model, _ = functional_model()
    before = [variable.path for variable in model.variables]
    _compat.retrack_torch_parameters(model)  # Nothing to list off PyTorch.
    assert [variable.path for variable in model.variables] == before


def test_torch_parameter_owners_are_noted_while_keras_lists_them_from_layer_variables():
    # Keras's PyTorch layer as text (importing it needs PyTorch): its listing reads `self.variables`, which is where
    # `list_torch_parameter_owners` (called from `VocabIdEmbedding.variables`) sees the owner. The owners are
    # checked on PyTorch by tests/test_backends.py (a layer's new weights in its model's `parameters()`).
    source = importlib.util.find_spec("keras.src.backend").submodule_search_locations[0] + "/torch/layer.py"
    with open(source, encoding="utf-8") as file:
        text = file.read()
    listing = text[text.index("def _track_variables(self):") :].split("\n    def ", 1)[0]
    assert "in self.variables" in listing, "keras TorchLayer._track_variables no longer lists self.variables"
    assert isinstance(keras.layers.Layer.variables, property)
    assert _compat._VARIABLES_CODE is keras.layers.Layer.variables.fget.__code__
    assert (_compat._TRACK_VARIABLES_CODE is None) == (keras.backend.backend() != "torch")
    _, inner = functional_model()
    _compat.list_torch_parameter_owners(inner)  # Nothing lists it here.
    _compat.retrack_torch_parameter_owners(inner)
    assert inner not in _compat._TORCH_PARAMETER_OWNERS


COVERED = {
    "ALLOW_NON_TENSOR_INPUTS": test_raw_input_flags_are_read_by_keras,
    "CAST_OPS": test_graph_nodes_and_the_ops_a_functional_model_records,
    "CLASSIFY_OPS_SCRIPT": test_op_registry_sees_core_ops_and_refuses_unknown_ones,
    "JOINING_OPS": test_graph_nodes_and_the_ops_a_functional_model_records,
    "LAYOUT_OPS": test_graph_nodes_and_the_ops_a_functional_model_records,
    "CLIP_GRADIENTS_HOOK": test_optimizer_internals,
    "WEIGHT_DECAY_HOOK": test_optimizer_internals,
    "accept_any_inputs": test_raw_input_flags_are_read_by_keras,
    "adam_slot_variables": test_optimizer_internals,
    "dequantize_with_sz_map": test_dequantize_with_sz_map_imports_and_dequantizes,
    "embedding_variable": test_embedding_variables_by_saved_name,
    "first_argument": test_graph_nodes_and_the_ops_a_functional_model_records,
    "flatten_layers": test_layer_tracking_internals,
    "graph_nodes": test_graph_nodes_and_the_ops_a_functional_model_records,
    "get_keras_mask": test_keras_mask_attribute,
    "in_keras_export": test_in_keras_export_is_true_only_while_model_export_traces_the_model,
    "in_keras_save_signature": test_in_keras_save_signature_is_true_only_in_the_float_trace_of_a_saved_subclassed_model,
    "in_legacy_weights_load": test_in_legacy_weights_load_is_true_only_while_load_weights_reads_a_legacy_h5_file,
    "in_model_load": test_in_model_load_is_true_only_while_load_model_rebuilds_a_model,
    "in_symbolic_scope": test_symbolic_scope_and_init_scope,
    "in_xla_compilation": test_in_xla_compilation_is_true_only_in_a_trace_tensorflow_compiles_with_xla,
    "inbound_tensors": test_layer_tracking_internals,
    "init_scope": test_symbolic_scope_and_init_scope,
    "list_torch_parameter_owners": test_torch_parameter_owners_are_noted_while_keras_lists_them_from_layer_variables,
    "is_quantized": test_quantization_flag_and_dtype_policy,
    "load_weights_only": test_load_weights_only_skips_what_it_is_told,
    "optimizer_trainable_variable": test_optimizer_internals,
    "optimizer_variable_index": test_optimizer_internals,
    "own_variables": test_layer_tracking_internals,
    "producing_layer": test_layer_tracking_internals,
    "replace_variables": test_adding_and_replacing_weights_of_a_built_layer,
    "retrack_torch_parameter_owners": (
        test_torch_parameter_owners_are_noted_while_keras_lists_them_from_layer_variables
    ),
    "retrack_torch_parameters": test_torch_parameters_are_listed_again_by_the_method_keras_quantize_uses,
    "restore_dtype_policy": test_quantization_flag_and_dtype_policy,
    "saved_model_proto": test_saved_model_proto_parses_a_saved_model,
    "bundle_entry_proto": test_bundle_entry_proto_places_the_tensors_of_a_checkpoint,
    "searchsorted": test_searchsorted_works_on_symbolic_tensors_as_numpy_does,
    "sequential_building_on": test_sequential_building_on_names_the_sequential_only_while_it_builds_its_first_layer,
    "set_keras_mask": test_keras_mask_attribute,
    "set_quantized": test_quantization_flag_and_dtype_policy,
    "stored_array": test_stored_array_leaves_keras_h5_weights_unread,
    "unlocked_tracking": test_adding_and_replacing_weights_of_a_built_layer,
    "uses_weight_decay": test_optimizer_internals,
}


def test_every_compat_name_is_covered_here():
    uncovered = sorted(set(_compat.__all__) - set(COVERED))
    assert not uncovered, f"_compat names without a check in tests/test_compat.py: {uncovered}"
    assert not set(COVERED) - set(_compat.__all__), "COVERED lists names _compat no longer has"
