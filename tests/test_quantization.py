"""Quantization (`quantize`, `model.quantize`) and LoRA (`enable_lora`) of the embedding layers.

The reference is Keras's own `keras.layers.Embedding`, quantized (or given LoRA) the same way on the same matrix.
"""

import json
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import INT4, KERAS_QUANTIZES_INT4, requires_int4, serve_in_fresh_process
from keras_vocabsafe import (
    TextVocabEmbedding,
    VocabEmbedding,
    VocabIdEmbedding,
    export_for_serving,
    load_remapped_weights,
)
from keras_vocabsafe.errors import ConfigurationError, QuantizationError

TOKENS = ["the", "cat", "sat", "on", "mat", "dog"]
# int4 keeps 16 levels per row (or per group): the served model may move by this much per logit.
INT8_TOLERANCE = 0.02


def _keras_quantized(matrix, mode):
    reference = keras.layers.Embedding(matrix.shape[0], matrix.shape[1])
    reference.build()
    reference.set_weights([matrix])
    reference.quantize(mode)
    return reference


def _matrix(rows, dim, seed=0, zero_rows=()):
    matrix = np.random.default_rng(seed).normal(size=(rows, dim)).astype("float32")
    matrix[list(zero_rows)] = 0
    return matrix


def _id_layer(mode=None, **kwargs):
    layer = VocabIdEmbedding(6, vocabulary=TOKENS, mask_token="", **kwargs)
    layer.build()
    layer.set_weights([_matrix(layer._num_rows(), 6, zero_rows=range(layer.vocabulary_size(), layer._num_rows()))])
    if mode:
        layer.quantize(mode)
    return layer


def _string_model(dim=8, name="words", **kwargs):
    inputs = keras.Input((None,), dtype="string")
    vectors = VocabEmbedding(dim, vocabulary=TOKENS, mask_token="", name=name, **kwargs)(inputs)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(pooled))


KEYS = [["the", "cat", "sat", ""], ["dog", "zebra", "on", "mat"]]


@pytest.mark.parametrize("mode", ["int8", INT4])
def test_quantized_vectors_equal_keras_embedding_quantized_alike(mode):
    layer = _id_layer(pad_to_multiple_of=8)
    matrix = layer.get_weights()[0]
    layer.quantize(mode)
    reference = _keras_quantized(matrix, mode)
    ids = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ids)), keras.ops.convert_to_numpy(reference(ids)))
    assert layer.dtype_policy.name == reference.dtype_policy.name
    assert [(w.name, w.dtype, tuple(w.shape)) for w in layer.weights] == [
        (w.name, w.dtype, tuple(w.shape)) for w in reference.weights
    ]
    for ours, theirs in zip(layer.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_quantized_padding_rows_stay_zero_and_nothing_trains():
    layer = _id_layer("int8", pad_to_multiple_of=16)
    matrix = layer._matrix()
    assert matrix.shape == (16, 6)
    np.testing.assert_array_equal(matrix[layer.vocabulary_size() :], 0)
    assert layer.trainable_weights == []


def test_model_quantize_quantizes_vocab_embedding_like_keras_layers():
    model = _string_model()
    before = model.predict(tf.constant(KEYS), verbose=0)
    matrix = model.get_layer("words").get_weights()[0]
    model.quantize("int8")
    layer = model.get_layer("words")
    assert layer.dtype_policy.name == model.get_layer("logits").dtype_policy.name == "int8_from_float32"
    assert keras.backend.standardize_dtype(layer._embeddings.dtype) == "int8"
    reference = _keras_quantized(matrix, "int8")
    ids = layer.lookup()(tf.constant(KEYS))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(tf.constant(KEYS))), keras.ops.convert_to_numpy(reference(ids))
    )
    np.testing.assert_allclose(model.predict(tf.constant(KEYS), verbose=0), before, atol=INT8_TOLERANCE)


@requires_int4
def test_text_layer_quantizes_through_model_quantize():
    inputs = keras.Input((), dtype="string")
    layer = TextVocabEmbedding(4, vocabulary=["hello", "world"], name="text")
    model = keras.Model(inputs, layer(inputs))
    float_vectors = layer.get_vectors(["hello", "world"])
    model.quantize("int4")
    assert layer.quantization_mode == "int4"
    quantized = keras.ops.convert_to_numpy(model(tf.constant(["hello world"])))
    np.testing.assert_allclose(quantized[0], float_vectors, atol=0.02)  # Uniform(-0.05, 0.05) rows, 16 levels.


def test_trainable_rows_layer_quantizes_the_merged_matrix():
    layer = _id_layer(trainable_rows=[1, 3])
    matrix = layer.get_weights()[0]
    layer.quantize("int8")
    reference = _keras_quantized(matrix, "int8")
    ids = np.arange(7)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ids)), keras.ops.convert_to_numpy(reference(ids)))
    assert layer._trainable_embeddings is None and layer.trainable_weights == []
    with pytest.raises(ConfigurationError, match="trainable_rows"):
        layer.enable_lora(2)


def test_unsupported_mode_is_a_typed_error_and_model_quantize_warns_and_goes_on():
    layer = _id_layer()
    with pytest.raises(QuantizationError, match="float8"):
        layer.quantize("float8")
    assert layer.quantization_mode is None
    inputs = keras.Input((None,), dtype="int64")
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(layer(inputs)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.quantize("float8")
    assert any("VocabIdEmbedding" in str(w.message) and "float8" in str(w.message) for w in caught)
    assert layer.quantization_mode is None and model.get_layer("dense").quantization_mode == "float8"


@pytest.mark.skipif(KERAS_QUANTIZES_INT4, reason="runs where keras.layers.Embedding cannot quantize int4 (3.11)")
def test_int4_where_keras_embedding_lacks_it_is_a_typed_error_and_leaves_the_layer_float():
    layer = _id_layer()
    weights = layer.get_weights()
    with pytest.raises(QuantizationError, match=r"does not quantize in mode 'int4'.*Keras 3\.12"):
        layer.quantize("int4")
    assert layer.quantization_mode is None and layer.dtype_policy.name == "float32"
    np.testing.assert_array_equal(layer.get_weights()[0], weights[0])


def test_quantize_refuses_twice_and_before_build():
    layer = _id_layer("int8")
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("int8")
    with pytest.raises(ValueError, match="not built"):
        VocabIdEmbedding(4, vocabulary=TOKENS).quantize("int8")


def test_setting_a_quantized_dtype_policy_quantizes_as_keras_does():
    layer = _id_layer()
    matrix = layer.get_weights()[0]
    layer.dtype_policy = "int8_from_float32"
    np.testing.assert_array_equal(layer.get_weights()[0], _keras_quantized(matrix, "int8").get_weights()[0])


def test_quantized_weights_keep_their_vocabulary_check(tmp_path):
    model = _string_model()
    model.quantize("int8")
    model.save_weights(tmp_path / "q.weights.h5")
    other = _string_model()
    other.get_layer("words").update_vocabulary(TOKENS[::-1])
    other.quantize("int8")
    with pytest.raises(ValueError, match="different vocabulary"):
        other.load_weights(tmp_path / "q.weights.h5")


@requires_int4
def test_float_and_quantized_weights_do_not_load_into_each_other(tmp_path):
    model = _string_model()
    model.save_weights(tmp_path / "float.weights.h5")
    model.quantize("int8")
    model.save_weights(tmp_path / "int8.weights.h5")
    with pytest.raises(ValueError, match="hold a float matrix: load them before quantizing"):
        model.load_weights(tmp_path / "float.weights.h5")
    with pytest.raises(ValueError, match="hold a quantized matrix"):
        _string_model().load_weights(tmp_path / "int8.weights.h5")
    int4 = _string_model()
    int4.quantize("int4")
    with pytest.raises(ValueError, match="quantized another way"):
        int4.load_weights(tmp_path / "int8.weights.h5")


def test_quantized_set_weights_takes_what_get_weights_gives():
    layer, other = _id_layer("int8"), _id_layer("int8")
    other.set_weights(layer.get_weights())
    np.testing.assert_array_equal(other(np.arange(7)), layer(np.arange(7)))
    with pytest.raises(ConfigurationError, match="quantized with dtype policy 'int8_from_float32'"):
        other.set_weights([layer._matrix()])


@requires_int4
def test_halves_of_a_quantized_layer_give_the_same_vectors():
    model = _string_model()
    model.quantize("int4")
    layer = model.get_layer("words")
    lookup, embedding = layer.halves()
    assert embedding.quantization_mode == "int4"
    np.testing.assert_array_equal(embedding(lookup(tf.constant(KEYS))), layer(tf.constant(KEYS)))


_RELOAD_SCRIPT = r"""
import json, sys
import keras, numpy as np, tensorflow as tf
import keras_vocabsafe  # registers the layers
model = keras.saving.load_model(sys.argv[1])
layer = model.get_layer("words")
out = model.predict(tf.constant(json.loads(sys.argv[2])), verbose=0)
np.save(sys.argv[3], out)
print(json.dumps({"policy": layer.dtype_policy.name, "dtypes": [w.dtype for w in layer.weights]}))
"""


@pytest.mark.saving
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["int8", INT4])
def test_quantized_model_reloads_in_a_new_process_with_identical_predictions(tmp_path, mode):
    model = _string_model()
    model.quantize(mode)
    expected = model.predict(tf.constant(KEYS), verbose=0)
    model.save(tmp_path / "q.keras")
    done = subprocess.run(
        [sys.executable, "-c", _RELOAD_SCRIPT, str(tmp_path / "q.keras"), json.dumps(KEYS), str(tmp_path / "o.npy")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["policy"] == model.get_layer("words").dtype_policy.name
    assert info["dtypes"][0] == "int8"
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), expected)


@pytest.mark.saving
@pytest.mark.slow
def test_quantized_export_keeps_int8_and_serves_raw_strings_from_tensorflow_alone(tmp_path):
    model = _string_model()
    float_predictions = model.predict(tf.constant(KEYS), verbose=0)
    model.quantize("int8")
    quantized_predictions = model.predict(tf.constant(KEYS), verbose=0)
    path = export_for_serving(model, tmp_path / "served")
    dtypes = {v.name: v.dtype.name for v in tf.saved_model.load(path).variables}
    assert dtypes["words/embeddings:0"] == "int8" and dtypes["words/embeddings_scale:0"] == "float32"
    assert not any(v == "float32" for k, v in dtypes.items() if k.startswith("words/embeddings:"))
    served, _ = serve_in_fresh_process(path, tf.constant(KEYS), tmp_path)
    np.testing.assert_allclose(served, quantized_predictions, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(served, float_predictions, atol=INT8_TOLERANCE)
    model.export(tmp_path / "plain")  # Keras's own export keeps the int8 variables too.
    assert "int8" in {v.dtype.name for v in tf.saved_model.load(str(tmp_path / "plain")).variables}


def test_update_vocabulary_moves_quantized_rows_with_their_scales():
    layer = _id_layer("int8")
    old_values, old_scales = layer.get_weights()
    old_ids = {token: layer.lookup().token_to_id(token) for token in TOKENS}
    old_vectors = layer.get_vectors(TOKENS)
    new_tokens = ["dog", "mat", "bird", "the"]
    layer.update_vocabulary(new_tokens)
    values, scales = layer.get_weights()
    assert values.dtype == np.int8 and layer.quantization_mode == "int8"
    for token in ["dog", "mat", "the"]:
        new_id, old_id = int(layer.lookup().token_to_id(token)), int(old_ids[token])
        np.testing.assert_array_equal(values[new_id], old_values[old_id])
        assert scales[new_id] == old_scales[old_id]
    np.testing.assert_array_equal(layer.get_vectors(["dog", "the"]), old_vectors[[5, 0]])
    # "bird" starts from the mean of the old token rows (dequantized), quantized like every other row.
    np.testing.assert_allclose(layer.get_vectors(["bird"])[0], old_vectors.mean(axis=0), atol=0.01)


def test_update_vocabulary_of_a_quantized_layer_in_a_compiled_model_keeps_predicting():
    model = _string_model()
    model.compile(optimizer="adam", loss="mse")
    model.quantize("int8")
    model.predict(tf.constant(KEYS), verbose=0)
    model.get_layer("words").update_vocabulary(TOKENS + ["zebra"], model=model)
    assert model.predict(tf.constant(KEYS), verbose=0).shape == (2, 3)


def test_remapped_loads_and_pretrained_rows_refuse_a_quantized_layer(tmp_path):
    model = _string_model()
    model.save_weights(tmp_path / "float.weights.h5")
    model.quantize("int8")
    model.save_weights(tmp_path / "int8.weights.h5")
    other = _string_model()
    other.get_layer("words").update_vocabulary(TOKENS + ["zebra"])
    # Refused with our own error before any layer changed (Keras went on loading the other layers, then raised
    # its ValueError wrapping ours).
    dense = other.get_layer("logits")
    for quantized, path, message in (
        (False, "int8.weights.h5", "Remap the float weights the quantized model was made from"),
        (True, "float.weights.h5", "Load the remapped float weights first, then quantize"),
    ):
        if quantized:
            other.quantize("int8")
        before = dense.get_weights()
        with pytest.raises(QuantizationError, match=message):
            load_remapped_weights(other, tmp_path / path)
        for kept, now in zip(before, dense.get_weights(), strict=True):
            np.testing.assert_array_equal(kept, now)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("the 1 2 3 4 5 6 7 8\n")
    with pytest.raises(QuantizationError, match="cannot load pretrained rows"):
        other.get_layer("words").load_pretrained(str(vectors))


# LoRA ----------------------------------------------------------------------------------


def _lora_pair(rank=2, alpha=None, mode=None):
    """Our layer and Keras's Embedding on the same matrix, LoRA enabled, with the same (non-zero) A and B."""
    layer = _id_layer()
    reference = keras.layers.Embedding(layer._num_rows(), 6)
    reference.build()
    reference.set_weights(layer.get_weights())
    if mode:
        layer.quantize(mode)
        reference.quantize(mode)
    layer.enable_lora(rank, lora_alpha=alpha)
    reference.enable_lora(rank, lora_alpha=alpha)
    a = np.random.default_rng(1).normal(size=(layer._num_rows(), rank)).astype("float32")
    b = np.random.default_rng(2).normal(size=(rank, 6)).astype("float32") * 0.1
    for model in (layer, reference):
        model.lora_embeddings_a.assign(a)
        model.lora_embeddings_b.assign(b)
    return layer, reference


@pytest.mark.parametrize("mode", [None, "int8"])
def test_lora_vectors_match_keras_embedding_with_lora(mode):
    layer, reference = _lora_pair(rank=2, alpha=4.0, mode=mode)
    ids = np.arange(7)
    # Ours adds A[ids] @ B; Keras's float layer forms all of A @ B and gathers, which may round differently.
    np.testing.assert_allclose(layer(ids), reference(ids), rtol=1e-6, atol=1e-6)
    assert layer.lora_enabled and layer.lora_rank == 2 and layer.lora_alpha == 4.0


def test_lora_training_changes_only_the_lora_weights():
    inputs = keras.Input((None,), dtype="int64")
    layer = VocabIdEmbedding(6, vocabulary=TOKENS, mask_token="", name="words")
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(keras.layers.GlobalAveragePooling1D()(layer(inputs))))
    layer.enable_lora(2)
    assert {w.name for w in layer.trainable_weights} == {"lora_embeddings_a", "lora_embeddings_b"}
    base = layer._embeddings.numpy().copy()
    b_before = layer.lora_embeddings_b.numpy().copy()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(np.array([[1, 2, 3], [4, 5, 6]]), np.array([[1.0], [-1.0]]), epochs=3, verbose=0)
    np.testing.assert_array_equal(layer._embeddings.numpy(), base)
    assert not np.array_equal(layer.lora_embeddings_b.numpy(), b_before)


def test_lora_enabled_after_training_stops_the_old_training_function_until_compiled_again():
    # The function traced before LoRA would train the matrix LoRA now freezes, and never the factors
    # (Keras's own Embedding does so silently).
    inputs = keras.Input((None,), dtype="int64")
    layer = VocabIdEmbedding(6, vocabulary=TOKENS, mask_token="", name="words")
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(keras.layers.GlobalAveragePooling1D()(layer(inputs))))
    x, y = np.array([[1, 2, 3], [4, 5, 6]]), np.array([[1.0], [-1.0]])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, verbose=0)
    layer.enable_lora(2)
    base = layer._embeddings.numpy().copy()
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"words.{0,2} has new weights \(from .*enable_lora\(\)\)"):
        model.fit(x, y, verbose=0)
    np.testing.assert_array_equal(layer._embeddings.numpy(), base)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(layer._embeddings.numpy(), base)
    assert np.any(layer.lora_embeddings_b.numpy())


@pytest.mark.saving
@pytest.mark.parametrize("mode", [None, "int8"])
def test_lora_saving_merges_the_update_as_keras_does(tmp_path, mode):
    layer, reference = _lora_pair(rank=2, mode=mode)
    inputs = keras.Input((None,), dtype="int64")
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "lora.keras")
    loaded = keras.saving.load_model(tmp_path / "lora.keras").layers[-1]
    assert loaded.lora_enabled and loaded.lora_rank == 2
    np.testing.assert_array_equal(loaded.lora_embeddings_b.numpy(), 0)
    store = {}
    reference.save_own_variables(store)  # Keras's merged (and, for int8, re-quantized) matrix.
    saved = loaded.get_weights()
    if mode is None:
        np.testing.assert_allclose(saved[0], np.asarray(store["0"]), rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(saved[0], np.asarray(store["0"]))
        np.testing.assert_array_equal(saved[1], np.asarray(store["1"]))
    np.testing.assert_allclose(loaded(np.arange(7)), layer(np.arange(7)), atol=1e-5 if mode is None else 0.05)


def test_lora_refusals_name_the_reason():
    with pytest.raises(ConfigurationError, match="before it is built"):
        VocabIdEmbedding(4, vocabulary=TOKENS).enable_lora(2)
    with pytest.raises(ConfigurationError, match="trainable_rows"):
        VocabIdEmbedding(4, vocabulary=TOKENS, trainable_rows=[1], lora_rank=2)
    with pytest.raises(ConfigurationError, match="embeddings_constraint"):
        VocabIdEmbedding(4, vocabulary=TOKENS, embeddings_constraint="non_neg", lora_rank=2)
    with pytest.raises(ConfigurationError, match="positive integer"):
        _id_layer().enable_lora(0)
    layer = _id_layer()
    layer.enable_lora(2)
    with pytest.raises(ConfigurationError, match="already enabled"):
        layer.enable_lora(2)
    with pytest.raises(QuantizationError, match="LoRA enabled"):
        layer.update_vocabulary(TOKENS + ["zebra"])


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: _id_layer().enable_lora(None),
        lambda: _id_layer().enable_lora(2, lora_alpha=float("nan")),
        lambda: _id_layer().enable_lora(2, lora_alpha=float("inf")),
        lambda: VocabIdEmbedding(4, vocabulary=TOKENS, lora_rank=2, lora_alpha=float("nan")),
        lambda: VocabIdEmbedding(4, vocabulary=TOKENS, lora_rank=2, lora_alpha=float("-inf")),
        lambda: _id_layer().enable_lora(2, a_initializer="no_such_initializer"),
    ],
    ids=["rank None", "alpha nan", "alpha inf", "constructor alpha nan", "constructor alpha -inf", "a_initializer"],
)
def test_lora_arguments_out_of_range_are_configuration_errors(attempt):
    # A NaN or infinite alpha would make every vector NaN (inf x the zero-initialized B).
    with pytest.raises(ConfigurationError, match=r"rank|lora_alpha|a_initializer"):
        attempt()


def test_a_bad_lora_initializer_leaves_the_layer_unchanged():
    layer = _id_layer()
    with pytest.raises(ConfigurationError, match="b_initializer"):
        layer.enable_lora(2, b_initializer="no_such_initializer")
    assert not layer.lora_enabled and [w.name for w in layer.weights] == ["embeddings"]
    layer.enable_lora(2)
    assert [w.name for w in layer.weights] == ["embeddings", "lora_embeddings_a", "lora_embeddings_b"]


@pytest.mark.parametrize("how", ["lora_rank", "enable_lora"])
def test_halves_of_a_lora_layer_give_the_same_vectors(how):
    layer = VocabEmbedding(4, vocabulary=TOKENS, lora_rank=2 if how == "lora_rank" else None, lora_alpha=3.0)
    layer.build()
    if how == "enable_lora":
        layer.enable_lora(2, lora_alpha=3.0)
    layer.lora_embeddings_b.assign(np.full((2, 4), 0.5, np.float32))  # A non-zero update, so that it shows.
    lookup, embedding = layer.halves()
    assert embedding.lora_enabled and embedding.lora_alpha == 3.0
    np.testing.assert_array_equal(embedding(lookup(tf.constant(KEYS))), layer(tf.constant(KEYS)))


def test_a_quantized_policy_of_an_unsupported_mode_is_refused_when_constructed():
    # Keras's reference Embedding would fail only when the layer builds, with a bare NotImplementedError.
    with pytest.raises(QuantizationError, match="'float8'"):
        VocabIdEmbedding(4, vocabulary=TOKENS, dtype="float8_from_float32")


def test_lora_rank_in_the_constructor_enables_lora_when_built():
    layer = VocabIdEmbedding(4, vocabulary=TOKENS, lora_rank=3, lora_alpha=6.0)
    layer.build()
    assert layer.lora_enabled and tuple(layer.lora_embeddings_a.shape) == (7, 3) and layer.lora_alpha == 6.0
    assert VocabIdEmbedding.from_config(layer.get_config()).lora_alpha == 6.0
