"""Saving and loading: config, `.keras` files and weights files keep every token with its row."""

import json
import os
import re
import typing
import warnings
import zipfile

import h5py
import hypothesis.strategies as st
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, assume, given, settings

import keras_vocabsafe
from conftest import AWKWARD_TOKENS
from keras_vocabsafe import VocabEmbedding, Vocabulary, VocabularyMismatchError

pytestmark = pytest.mark.saving


def as_bytes(tokens):
    return [t.encode() if isinstance(t, str) else t for t in tokens]


def embedding_model(layer):
    inputs = keras.Input(shape=(None,), dtype="string" if layer.vocabulary_dtype == "string" else "int64")
    return keras.Model(inputs, layer(inputs))


def text_model(layer):
    inputs = keras.Input(shape=(None,), dtype="string")
    hidden = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))


def trained_text_model(vocabulary=("the", "cat", "sat", "dog")):
    layer = VocabEmbedding(8, vocabulary=list(vocabulary), mask_token="", name="words")
    model = text_model(layer)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(tf.constant([["the", "cat", ""], ["dog", "sat", "zebra"]]), np.array([1.0, 0.0]), epochs=3, verbose=0)
    return model


PROBE = tf.constant([["the", "cat", ""], ["dog", "zebra", "sat"], ["", "", ""]])


# Config ----------------------------------------------------------------------


def test_config_is_json_and_rebuilds_the_same_layer():
    layer = VocabEmbedding(
        6, vocabulary=AWKWARD_TOKENS, mask_token="<pad>", num_oov_indices=2, max_tokens=100, min_frequency=2
    )
    config = json.loads(json.dumps(layer.get_config()))
    clone = VocabEmbedding.from_config(config)
    assert clone.vocabulary.tokens == tuple(as_bytes(AWKWARD_TOKENS))
    assert clone.get_vocabulary() == layer.get_vocabulary()
    for key in ("output_dim", "mask_token", "oov_token", "num_oov_indices", "max_tokens", "min_frequency"):
        assert getattr(clone, key) == getattr(layer, key)


def test_config_stores_vocabulary_size_and_readable_tokens():
    config = VocabEmbedding(4, vocabulary=["a\nb", "c"], mask_token="").get_config()
    assert config["vocabulary"] == ["a\nb", "c"]
    assert config["vocabulary_encoding"] == "utf-8"
    assert config["vocabulary_size"] == 4


def test_config_of_an_unadapted_layer_round_trips():
    clone = VocabEmbedding.from_config(VocabEmbedding(4, mask_token="").get_config())
    assert clone.vocabulary is None
    clone.adapt([["a"]])
    assert clone.get_vocabulary() == ["", "[UNK]", "a"]


def test_config_whose_size_disagrees_with_its_vocabulary_is_refused():
    config = VocabEmbedding(4, vocabulary=["a", "b"]).get_config()
    config["vocabulary_size"] = 4
    with pytest.raises(VocabularyMismatchError, match=r"records vocabulary_size=4.*give 3"):
        VocabEmbedding.from_config(config)


def test_config_whose_size_is_not_a_number_says_so():
    config = VocabEmbedding(4, vocabulary=["a", "b"]).get_config()
    config["vocabulary_size"] = "3"  # Hand-edited: the right count, as a string.
    with pytest.raises(VocabularyMismatchError, match=r"records vocabulary_size='3'"):
        VocabEmbedding.from_config(config)


def test_config_with_a_dtype_policy_this_keras_does_not_know_names_it():
    # What Keras 3.11 finds in the config of an int4 layer saved by Keras 3.15 ('int4/128'): a class it lacks.
    config = VocabEmbedding(4, vocabulary=["a", "b"], name="words").get_config()
    config["dtype"] = {
        "module": "keras.dtype_policies",
        "class_name": "FutureDTypePolicy",
        "config": {"mode": "int4/128", "source_name": "float32"},
        "registered_name": None,
    }
    with pytest.raises(keras_vocabsafe.QuantizationError, match=r"'words' has the dtype policy 'FutureDTypePolicy'"):
        VocabEmbedding.from_config(config)


def test_config_does_not_keep_the_vocabulary_file_path(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("the\ncat\n")
    config = VocabEmbedding(4, vocabulary=str(path)).get_config()
    assert config["vocabulary"] == ["the", "cat"]


# .keras files -----------------------------------------------------------------


def test_keras_file_reloads_without_the_vocabulary_source(tmp_path):
    source = tmp_path / "vocabulary.json"
    Vocabulary(["the", "cat", "sat", "dog"]).save(source)
    layer = VocabEmbedding(8, vocabulary=str(source), mask_token="")
    model = text_model(layer)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(tf.constant([["the", "cat", ""], ["dog", "sat", "zebra"]]), np.array([1.0, 0.0]), epochs=2, verbose=0)
    expected = model.predict(PROBE, verbose=0)
    model.save(tmp_path / "model.keras")
    source.unlink()
    del model, layer

    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded.predict(PROBE, verbose=0), expected)


def test_keras_file_keeps_awkward_tokens_with_their_rows(tmp_path):
    layer = VocabEmbedding(4, vocabulary=AWKWARD_TOKENS, embeddings_initializer="glorot_uniform")
    model = embedding_model(layer)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras").layers[1]
    assert reloaded.vocabulary.tokens == tuple(as_bytes(AWKWARD_TOKENS))
    keys = tf.constant(as_bytes(AWKWARD_TOKENS))
    np.testing.assert_array_equal(reloaded.get_vectors(keys), layer.get_vectors(keys))
    assert reloaded.token_to_id(keys).tolist() == list(range(1, len(AWKWARD_TOKENS) + 1))


def test_keras_file_with_integer_keys(tmp_path):
    layer = VocabEmbedding(3, vocabulary=[42, 7, 2**40], vocabulary_dtype="int64", mask_token=0)
    model = embedding_model(layer)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    keys = np.array([[2**40, 0, 5, 42]])
    np.testing.assert_array_equal(reloaded.predict(keys, verbose=0), model.predict(keys, verbose=0))
    assert reloaded.layers[1].get_vocabulary() == [0, -1, 42, 7, 2**40]


def test_keras_file_keeps_the_mask(tmp_path):
    model = trained_text_model()
    model.save(tmp_path / "model.keras")
    layer = keras.saving.load_model(tmp_path / "model.keras").get_layer("words")
    np.testing.assert_array_equal(layer.compute_mask(PROBE).numpy(), PROBE.numpy() != b"")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(tokens=st.lists(st.binary(max_size=10), unique=True, min_size=1, max_size=12))
def test_any_byte_tokens_round_trip_through_keras_files_and_weights_files(tmp_path, tokens):
    assume(b"\x00oov" not in tokens)
    layer = VocabEmbedding(3, vocabulary=tokens, oov_token="\x00oov", embeddings_initializer="glorot_uniform")
    model = embedding_model(layer)
    keys = tf.constant(tokens)
    expected = layer.get_vectors(keys)

    model.save(tmp_path / "model.keras", overwrite=True)
    reloaded = keras.saving.load_model(tmp_path / "model.keras").layers[1]
    assert reloaded.vocabulary.tokens == tuple(tokens)
    np.testing.assert_array_equal(reloaded.get_vectors(keys), expected)

    model.save_weights(tmp_path / "model.weights.h5", overwrite=True)
    fresh = embedding_model(VocabEmbedding(3, vocabulary=tokens, oov_token="\x00oov"))
    fresh.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(fresh.layers[1].get_vectors(keys), expected)


# Weights files ------------------------------------------------------------------


def test_weights_file_loads_into_a_layer_with_the_same_vocabulary(tmp_path):
    model = trained_text_model()
    model.save_weights(tmp_path / "model.weights.h5")
    fresh = keras.Model.from_config(model.get_config())
    fresh.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(fresh.predict(PROBE, verbose=0), model.predict(PROBE, verbose=0))


def test_weights_file_refuses_a_vocabulary_in_another_order(tmp_path):
    model = trained_text_model(["the", "cat", "sat", "dog"])
    model.save_weights(tmp_path / "model.weights.h5")
    other = trained_text_model(["cat", "the", "sat", "dog"])
    before = other.get_layer("words").embeddings.numpy().copy()
    with pytest.raises(ValueError) as raised:
        other.load_weights(tmp_path / "model.weights.h5")
    message = str(raised.value)
    assert "VocabEmbedding 'words'" in message
    assert "the saved weights have 6 rows, this layer has 6" in message
    assert "first differ at id 2: saved 'the', here 'cat'" in message
    np.testing.assert_array_equal(other.get_layer("words").embeddings.numpy(), before)


def test_weights_file_refuses_a_vocabulary_of_another_size(tmp_path):
    model = trained_text_model(["the", "cat", "sat", "dog"])
    model.save_weights(tmp_path / "model.weights.h5")
    other = trained_text_model(["the", "cat", "sat", "dog", "mat"])
    with pytest.raises(ValueError, match=r"saved weights have 6 rows, this layer has 7; the first 6 ids agree"):
        other.load_weights(tmp_path / "model.weights.h5")


def test_weights_file_refuses_other_special_tokens(tmp_path):
    layer = VocabEmbedding(4, vocabulary=["a", "b"], mask_token="", name="words")
    embedding_model(layer).save_weights(tmp_path / "model.weights.h5")
    other = embedding_model(VocabEmbedding(4, vocabulary=["a", "b"], num_oov_indices=2, name="words"))
    with pytest.raises(ValueError, match="saved weights have 4 rows, this layer has 4; they first differ at id 0"):
        other.load_weights(tmp_path / "model.weights.h5")


def test_weights_of_a_plain_embedding_are_refused(tmp_path):
    inputs = keras.Input(shape=(None,), dtype="int32")
    keras.Model(inputs, keras.layers.Embedding(4, 3, name="words")(inputs)).save_weights(tmp_path / "plain.weights.h5")
    ours = embedding_model(VocabEmbedding(3, vocabulary=["a", "b", "c"], name="words"))
    with pytest.raises(ValueError, match="carry no vocabulary"):
        ours.load_weights(tmp_path / "plain.weights.h5")


def test_skip_mismatch_warns_and_leaves_rows_alone(tmp_path):
    trained_text_model(["the", "cat", "sat", "dog"]).save_weights(tmp_path / "model.weights.h5")
    other = trained_text_model(["cat", "the", "sat", "dog"])
    before = other.get_layer("words").embeddings.numpy().copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        other.load_weights(tmp_path / "model.weights.h5", skip_mismatch=True)
    assert any("different vocabulary" in str(w.message) for w in caught)
    np.testing.assert_array_equal(other.get_layer("words").embeddings.numpy(), before)


def test_load_own_variables_raises_the_typed_error():
    source = VocabEmbedding(2, vocabulary=["a", "b"])
    source.build()
    store = {}
    source.save_own_variables(store)
    target = VocabEmbedding(2, vocabulary=["b", "a"], name="target")
    target.build()
    with pytest.raises(
        VocabularyMismatchError, match=r"VocabEmbedding 'target'.*first differ at id 1: saved 'a', here 'b'"
    ):
        target.load_own_variables(store)


def test_integer_weights_refuse_a_string_layer():
    source = VocabEmbedding(2, vocabulary=[1, 2], vocabulary_dtype="int64")
    source.build()
    store = {}
    source.save_own_variables(store)
    with pytest.raises(VocabularyMismatchError, match="integer vocabulary"):
        VocabEmbedding(2, vocabulary=["a", "b"]).load_own_variables(store)


def test_embedding_of_another_width_is_refused():
    source = VocabEmbedding(2, vocabulary=["a"])
    source.build()
    store = {}
    source.save_own_variables(store)
    with pytest.raises(VocabularyMismatchError, match=r"shape \(2, 2\) into its \(2, 5\) matrix"):
        VocabEmbedding(5, vocabulary=["a"]).load_own_variables(store)


def _scored_model(vocabulary, nested=False):
    words = VocabEmbedding(4, vocabulary=vocabulary, name="words")
    inputs = keras.Input(shape=(None,), dtype="string")
    if nested:
        inner_inputs = keras.Input(shape=(None,), dtype="string")
        inner = keras.Model(inner_inputs, keras.layers.GlobalAveragePooling1D()(words(inner_inputs)), name="encoder")
        pooled = inner(inputs)
    else:
        pooled = keras.layers.GlobalAveragePooling1D()(words(inputs))
    return keras.Model(inputs, keras.layers.Dense(1, name="score")(keras.layers.Dense(3, name="hidden")(pooled)))


def _save(model, path):
    """`model.save()` for `.keras`, `save_weights()` for `.weights.h5`; `.weights.json`: sharded, every shard tiny."""
    if path.suffix == ".keras":
        model.save(path)
    elif path.name.endswith(".weights.json"):
        model.save_weights(path, max_shard_size=100 / 2**30)  # In GiB: 100 bytes, so many shards.
    else:
        model.save_weights(path)


@pytest.mark.saving
@pytest.mark.parametrize("suffix", [".weights.h5", ".weights.json", ".keras"])
@pytest.mark.parametrize("nested", [False, True])
def test_load_weights_changes_nothing_when_a_vocabulary_refuses(tmp_path, suffix, nested):
    path = tmp_path / f"other{suffix}"
    other = _scored_model(["b", "a", "c"], nested=nested)
    _save(other, path)
    model = _scored_model(["a", "b", "c"], nested=nested)
    before = [variable.numpy() for variable in model.weights]
    with pytest.raises(VocabularyMismatchError, match="'words' cannot load weights written for a different vocabulary"):
        keras_vocabsafe.load_weights(model, path)
    for variable, value in zip(model.weights, before):
        np.testing.assert_array_equal(variable.numpy(), value)


@pytest.mark.saving
@pytest.mark.parametrize("suffix", [".weights.h5", ".weights.json"])
def test_load_weights_loads_every_layer_when_vocabularies_agree(tmp_path, suffix):
    path = tmp_path / f"same{suffix}"
    trained = _scored_model(["a", "b", "c"], nested=True)
    _save(trained, path)
    model = _scored_model(["a", "b", "c"], nested=True)
    keras_vocabsafe.load_weights(model, path)
    for variable, expected in zip(model.weights, trained.weights):
        np.testing.assert_array_equal(variable.numpy(), expected.numpy())


@pytest.mark.saving
def test_sharded_weights_move_by_token_into_another_vocabulary(tmp_path):
    path = tmp_path / "other.weights.json"
    trained = _scored_model(["b", "a", "c"])
    _save(trained, path)
    assert len(list(tmp_path.glob("other_*.weights.h5"))) > 1  # Really sharded.
    model = _scored_model(["a", "b", "d"])
    reports = keras_vocabsafe.load_remapped_weights(model, path)
    assert (reports["words"].added, reports["words"].dropped) == (1, 1)  # "d" in, "c" out.
    old, new = trained.get_layer("words"), model.get_layer("words")
    for token in ("a", "b"):
        np.testing.assert_array_equal(new.get_vectors([token]), old.get_vectors([token]))


@pytest.mark.saving
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_sharded_weights_with_a_missing_or_damaged_shard_are_refused_before_anything_loads(tmp_path, damage):
    path = tmp_path / "same.weights.json"
    _save(_scored_model(["a", "b", "c"]), path)
    shard = sorted(tmp_path.glob("same_*.weights.h5"))[-1]
    if damage == "missing":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    model = _scored_model(["a", "b", "c"])
    before = [variable.numpy() for variable in model.weights]
    for load in (keras_vocabsafe.load_weights, keras_vocabsafe.load_remapped_weights):
        with pytest.raises(keras_vocabsafe.ConfigurationError, match=re.escape(shard.name)):
            load(model, path)
    for variable, value in zip(model.weights, before):
        np.testing.assert_array_equal(variable.numpy(), value)


@pytest.mark.saving
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_plain_load_weights_missing_a_shard_of_the_layer_leaves_it_refusing_to_be_used(tmp_path, damage):
    """Keras's own `model.load_weights()` drops the error and returns; the layer warns and refuses to be used."""
    path = tmp_path / "same.weights.json"
    _save(_scored_model(["a", "b", "c"]), path)
    shards = json.loads(path.read_text())["weight_map"]["/layers/vocab_embedding/vars"]
    assert isinstance(shards, list) and len(shards) > 1  # The layer's arrays span shards: the first is read first.
    shard = tmp_path / shards[-1]
    if damage == "missing":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    model = _scored_model(["a", "b", "c"])
    words = model.get_layer("words")
    with pytest.warns(UserWarning, match=f"'words' could not read its saved weights.*{re.escape(shard.name)}"):
        try:
            model.load_weights(path)
        except ValueError as error:  # Were Keras to report the failure: ours.
            assert shard.name in str(error)
    for use in (lambda: model.predict(tf.constant([["a"]]), verbose=0), lambda: model.save(tmp_path / "m.keras")):
        with pytest.raises(
            keras_vocabsafe.ConfigurationError, match=f"'words' cannot .*{re.escape(shard.name)}"
        ) as info:
            use()
        assert str(info.value).count("words") == 1  # The layer is named once.
        assert "returns without saying so" in str(info.value)
    words.set_weights(words.get_weights())  # Rows given: usable again.
    assert model.predict(tf.constant([["a"]]), verbose=0).shape == (1, 1)


@pytest.mark.saving
def test_unreadable_plain_weights_do_not_say_keras_returns_without_a_word(tmp_path):
    """Only sharded weights are loaded by Keras without a word when a file cannot be read; a plain file raises."""
    from keras.src.saving import saving_lib

    from keras_vocabsafe import _weights_store

    plain, sharded = tmp_path / "plain.weights.h5", tmp_path / "sharded.weights.json"
    _save(_scored_model(["a", "b", "c"]), plain)
    _save(_scored_model(["a", "b", "c"]), sharded)
    error = OSError("Unable to synchronously open file")
    store = saving_lib.H5IOStore(plain, mode="r")
    try:
        reason = _weights_store.unreadable(store, error)
    finally:
        store.close()
    assert reason.startswith("could not read its saved weights: the weights file could not be read (Unable")
    assert "without saying so" not in reason and "shard" not in reason
    assert "layer.set_weights([matrix])" in reason
    store = saving_lib.ShardedH5IOStore(sharded, mode="r")
    try:
        assert "`model.load_weights()` returns without saying so" in _weights_store.unreadable(store, error)
    finally:
        store.close()


def _sharded_weights_missing_the_layers_last_shard(tmp_path):
    """A trained model, and its sharded weights with the last shard of its VocabEmbedding's arrays deleted."""
    path = tmp_path / "same.weights.json"
    trained = _scored_model(["a", "b", "c"])
    _save(trained, path)
    (tmp_path / json.loads(path.read_text())["weight_map"]["/layers/vocab_embedding/vars"][-1]).unlink()
    return trained, path


@pytest.mark.saving
@pytest.mark.parametrize("train", ["all", "missing"])
def test_rows_from_load_pretrained_make_a_layer_missing_a_shard_usable_again(tmp_path, train):
    """`load_pretrained` gives the layer its rows, also where `train="missing"` makes new variables."""
    _, path = _sharded_weights_missing_the_layers_last_shard(tmp_path)
    model = _scored_model(["a", "b", "c"])
    with pytest.warns(UserWarning, match="could not read its saved weights"):
        model.load_weights(path)
    vectors = tmp_path / "vectors.txt"
    dim = model.get_layer("words").output_dim
    vectors.write_text("".join(f"{word} {' '.join(['0.5'] * dim)}\n" for word in ("a", "b")), encoding="utf-8")
    model.get_layer("words").load_pretrained(vectors, train=train)
    output = model.predict(tf.constant([["a"]]), verbose=0)
    assert output.shape == (1, 1) and np.isfinite(output).all()


@pytest.mark.saving
def test_layer_missing_a_shard_is_refused_by_a_predict_traced_before_the_load(tmp_path):
    """Keras's compiled `predict` does not run the layer's Python again: it went on with the layer's old rows."""
    trained, path = _sharded_weights_missing_the_layers_last_shard(tmp_path)
    model = _scored_model(["a", "b", "c"])
    ids = tf.constant([["a"]])
    model.predict(ids, verbose=0)  # Traced and kept by Keras.
    traced = tf.function(model)
    traced(ids)
    with pytest.warns(UserWarning, match="could not read its saved weights"):
        model.load_weights(path)
    for use in (lambda: model.predict(ids, verbose=0), lambda: traced(ids)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"words.* could not read its saved weights \(a shard"):
            use()
    model.get_layer("words").set_weights(trained.get_layer("words").get_weights())  # Rows given: usable again.
    model.set_weights(trained.get_weights())
    expected = trained.predict(ids, verbose=0)
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected)
    np.testing.assert_allclose(traced(ids), expected)


@pytest.mark.saving
def test_layer_missing_a_shard_says_a_model_set_weights_does_not_give_it_rows(tmp_path):
    """`model.set_weights()` assigns variables past the layer: the message must not send the user there."""
    trained, path = _sharded_weights_missing_the_layers_last_shard(tmp_path)
    model = _scored_model(["a", "b", "c"])
    with pytest.warns(UserWarning, match="could not read its saved weights"):
        model.load_weights(path)
    model.set_weights(trained.get_weights())
    fix = r"its own `set_weights` \(`layer.set_weights\(\[matrix\]\)`: `model.set_weights\(\)` assigns"
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=fix):
        model.predict(tf.constant([["a"]]), verbose=0)
    model.get_layer("words").set_weights(trained.get_layer("words").get_weights())  # The fix named: it works.
    np.testing.assert_allclose(
        model.predict(tf.constant([["a"]]), verbose=0), trained.predict(tf.constant([["a"]]), verbose=0)
    )


@pytest.mark.saving
@pytest.mark.parametrize("text", ["{not json", "[]", '{"weight_map": 3}'])
def test_a_sharded_weights_index_that_is_not_one_is_refused(tmp_path, text):
    path = tmp_path / "bad.weights.json"
    path.write_text(text)
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=r"bad\.weights\.json.*save_weights"):
        keras_vocabsafe.load_weights(_scored_model(["a", "b", "c"]), path)


@pytest.mark.saving
@pytest.mark.parametrize("by_name", [False, True])
@pytest.mark.parametrize("nested", [False, True])
def test_legacy_h5_weights_are_refused_since_they_carry_no_vocabulary(tmp_path, by_name, nested):
    path = tmp_path / "model.h5"
    trained = _scored_model(["b", "a", "c"], nested=nested)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: "This file format is considered legacy."
        trained.save(path)
    model = _scored_model(["a", "b", "c"], nested=nested)  # Same size, other order: rows would land on other tokens.
    before = model.get_layer("encoder").get_layer("words") if nested else model.get_layer("words")
    rows = before.get_weights()[0].copy()
    # With by_name, Keras assigns layer by layer in the file's order: the message says that layers before may load.
    with pytest.raises(VocabularyMismatchError, match=r"legacy HDF5 format.*by_name=True.*keras\.saving\.load_model"):
        model.load_weights(path, **({"by_name": True} if by_name else {}))
    np.testing.assert_array_equal(before.get_weights()[0], rows)
    # The whole model, rebuilt from the file's own config, comes back with its vocabulary and rows.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = keras.saving.load_model(path)
    probe = tf.constant([["a", "c"], ["b", "zebra"]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(probe)), keras.ops.convert_to_numpy(trained(probe)))


@pytest.mark.saving
def test_remapping_from_weights_that_list_a_token_twice_changes_nothing(tmp_path):
    path = tmp_path / "edited.weights.h5"
    _scored_model(["a", "b", "c"]).save_weights(path)
    with h5py.File(path, "r+") as file:  # Hand-edited: "b" renamed "a", so "a" is listed twice.
        found = []
        file.visititems(lambda name, item: found.append(item) if name.endswith("vocabulary_offsets") else None)
        group = found[0].parent
        del group["vocabulary"], group["vocabulary_offsets"]
        group["vocabulary"] = np.frombuffer(b"[UNK]aac", dtype=np.uint8)
        group["vocabulary_offsets"] = np.array([0, 5, 6, 7, 8], dtype=np.int64)
    model = _scored_model(["a", "c"])
    before = [variable.numpy() for variable in model.weights]
    with pytest.raises(keras_vocabsafe.DuplicateTokenError, match=r"'words' cannot take rows by token.*'a' occurs 2"):
        keras_vocabsafe.load_remapped_weights(model, path)
    for variable, value in zip(model.weights, before):  # The Dense layers too: refused before anything loaded.
        np.testing.assert_array_equal(variable.numpy(), value)


class RefusesToSave(keras.layers.Layer):
    """Raises `error` from its saving hook (a layer that refuses, a full disk, Ctrl-C): Keras is mid-write then."""

    error = None

    def call(self, inputs):
        return inputs

    def save_own_variables(self, store):
        if RefusesToSave.error is not None:
            raise RefusesToSave.error


@pytest.mark.saving
@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()], ids=repr)
@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_an_interrupted_save_leaves_the_target_as_it_was(tmp_path, error, suffix):
    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, RefusesToSave()(VocabEmbedding(4, vocabulary=["a", "b"], name="words")(inputs)))
    save = keras_vocabsafe.save_model if suffix == ".keras" else keras_vocabsafe.save_weights
    target, new = tmp_path / f"old{suffix}", tmp_path / f"new{suffix}"
    RefusesToSave.error = None
    save(model, target)
    before = target.read_bytes()
    RefusesToSave.error = error
    try:
        for path in (target, new):
            with pytest.raises(type(error)):
                save(model, path)
    finally:
        RefusesToSave.error = None
    assert target.read_bytes() == before  # Keras's own save would have left a truncated file here.
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # Nothing half-written, nothing beside.
    if suffix == ".keras":
        loaded = keras.saving.load_model(target, custom_objects={"RefusesToSave": RefusesToSave})
        assert loaded.get_layer("words").get_vocabulary() == ["[UNK]", "a", "b"]


@pytest.mark.saving
@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_a_second_ctrl_c_during_the_cleanup_of_an_interrupted_save_leaves_nothing_beside(
    tmp_path, suffix, ctrl_c_while_removing
):
    import signal

    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, RefusesToSave()(VocabEmbedding(4, vocabulary=["a", "b"], name="words")(inputs)))
    save = keras_vocabsafe.save_model if suffix == ".keras" else keras_vocabsafe.save_weights
    removed = ctrl_c_while_removing(tmp_path)
    RefusesToSave.error = KeyboardInterrupt()  # The first Ctrl-C, while Keras writes the file beside the target.
    try:
        with pytest.raises(KeyboardInterrupt):
            save(model, tmp_path / f"model{suffix}")
    finally:
        RefusesToSave.error = None
    assert len(removed) == 1 and removed[0].endswith(suffix)  # The second Ctrl-C came while removing it...
    assert list(tmp_path.iterdir()) == []  # ...and it is gone all the same.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_atomic_saves_refuse_a_path_they_cannot_write(tmp_path):
    model = _scored_model(["a"])
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=r"must end in `\.keras`"):
        keras_vocabsafe.save_model(model, tmp_path / "model.h5")
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=r"does not exist\. Create it first"):
        keras_vocabsafe.save_weights(model, tmp_path / "missing" / "model.weights.h5")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
@pytest.mark.parametrize("parent", ["file", "file/sub"])
def test_atomic_saves_refuse_a_directory_that_is_a_file_naming_the_file(tmp_path, suffix, parent):
    # Was "the directory '.../file' does not exist. Create it first": it exists, and creating it fails.
    save = keras_vocabsafe.save_model if suffix == ".keras" else keras_vocabsafe.save_weights
    (tmp_path / "file").write_text("kept")
    expected = rf"'{re.escape(str(tmp_path / 'file'))}' is a file, not a directory\. Save elsewhere, or move"
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=expected):
        save(_scored_model(["a"]), tmp_path / parent / f"model{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == ["file"] and (tmp_path / "file").read_text() == "kept"


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_atomic_saves_to_a_directory_that_takes_no_file_name_the_target(tmp_path, suffix):
    # The error named only the temporary file beside the target ('.model.1963ff238ce79c79.keras').
    from conftest import unwritable_directory

    save = keras_vocabsafe.save_model if suffix == ".keras" else keras_vocabsafe.save_weights
    directory = unwritable_directory(tmp_path)
    before = sorted(os.listdir(directory))
    target = directory / f"model{suffix}"
    expected = rf"no file can be created in '{re.escape(str(directory))}' to write '{re.escape(str(target))}'"
    with pytest.raises(OSError, match=expected):
        save(_scored_model(["a"]), target)
    assert sorted(os.listdir(directory)) == before


@pytest.mark.saving
@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_atomic_saves_refuse_an_existing_target_with_overwrite_false(tmp_path, suffix):
    model = _scored_model(["a"])
    save = keras_vocabsafe.save_model if suffix == ".keras" else keras_vocabsafe.save_weights
    target = tmp_path / f"model{suffix}"
    target.write_bytes(b"kept")
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=re.escape(f"'{target}' exists and `overwrite=False`")):
        save(model, target, overwrite=False)
    assert target.read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    save(model, tmp_path / f"new{suffix}", overwrite=False)  # No file there: saved.
    assert (tmp_path / f"new{suffix}").stat().st_size > 0


@pytest.mark.saving
@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_atomic_saves_write_through_a_symbolic_link_as_keras_does(tmp_path, suffix):
    model = _scored_model(["a"])
    save = keras_vocabsafe.save_model if suffix == ".keras" else keras_vocabsafe.save_weights
    (tmp_path / "store").mkdir()
    real, link = tmp_path / "store" / f"real{suffix}", tmp_path / f"link{suffix}"
    real.write_bytes(b"old")
    link.symlink_to(real)
    save(model, link)
    assert link.is_symlink() and link.resolve() == real
    assert real.read_bytes() != b"old"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [real.name]  # Nothing left beside.
    # A dangling link: as `model.save()`, the file it names is created and the link stays.
    dangling, missing = tmp_path / f"dangling{suffix}", tmp_path / "store" / f"later{suffix}"
    dangling.symlink_to(missing)
    save(model, dangling)
    assert dangling.is_symlink() and missing.is_file()
    keras_vocabsafe.load_weights(_scored_model(["a"]), dangling)


@pytest.mark.saving
@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_atomic_saves_give_the_file_mode_keras_gives(tmp_path, suffix):
    import os

    model = _scored_model(["a"])
    ours = keras_vocabsafe.save_model if suffix == ".keras" else keras_vocabsafe.save_weights
    theirs = model.save if suffix == ".keras" else model.save_weights
    previous = os.umask(0o027)
    try:
        for existing_mode in (None, 0o600, 0o664):
            modes = []
            for save, name in ((ours, "ours"), (lambda m, p: theirs(p), "theirs")):
                path = tmp_path / f"{name}{existing_mode}{suffix}"
                if existing_mode is not None:
                    path.write_bytes(b"old")
                    path.chmod(existing_mode)
                save(model, path)
                modes.append(path.stat().st_mode & 0o7777)
            assert modes[0] == modes[1], existing_mode
    finally:
        os.umask(previous)


def test_save_model_refuses_the_directory_form(tmp_path):
    model = _scored_model(["a"])
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=r"`zipped=False`.*model\.save\(path, zipped=False\)"):
        keras_vocabsafe.save_model(model, tmp_path / "model.keras", zipped=False)
    assert list(tmp_path.iterdir()) == []
    keras_vocabsafe.save_model(model, tmp_path / "model.keras", zipped=True)  # The default form: saved.
    assert keras.saving.load_model(tmp_path / "model.keras").get_layer("words").get_vocabulary() == ["[UNK]", "a"]


def test_save_weights_refuses_sharded_weights(tmp_path):
    model = _scored_model(["a"])
    for name in ("model.weights.json", "model.weights.h5"):
        with pytest.raises(keras_vocabsafe.ConfigurationError, match=r"max_shard_size=\.\.\.\)"):
            keras_vocabsafe.save_weights(model, tmp_path / name, max_shard_size=1)
    with pytest.raises(keras_vocabsafe.ConfigurationError, match=r"Sharded weights .*several files"):
        keras_vocabsafe.save_weights(model, tmp_path / "model.weights.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.saving
def test_plain_load_weights_says_that_other_layers_were_loaded(tmp_path):
    path = tmp_path / "other.weights.h5"
    _scored_model(["b", "a", "c"]).save_weights(path)
    model = _scored_model(["a", "b", "c"])
    with pytest.raises(ValueError, match=r"goes on to load the model's other layers.*keras_vocabsafe.load_weights"):
        model.load_weights(path)


# Large models: what saving writes and loading checks, computed apart ---------------------------------------------


def test_keras_file_holds_the_matrix_and_every_ids_token_as_bytes_and_offsets(tmp_path):
    import zipfile

    import h5py

    layer = VocabEmbedding(3, vocabulary=["ab", "c", b"\xff"], mask_token="", name="words")
    model = embedding_model(layer)
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        (tmp_path / "w.h5").write_bytes(archive.read("model.weights.h5"))
    with h5py.File(tmp_path / "w.h5", "r") as weights:
        (group,) = [weights[name] for name in _datasets(weights) if name.endswith("/0")]
        stored = {key: group.parent[key][()] for key in ("0", "vocabulary", "vocabulary_offsets")}
    assert stored["0"].dtype == np.float32
    np.testing.assert_array_equal(stored["0"], keras.ops.convert_to_numpy(layer.embeddings))
    # Ids: "" (mask), "[UNK]", "ab", "c", b"\xff".
    assert stored["vocabulary"].dtype == np.uint8
    assert stored["vocabulary"].tobytes() == b"[UNK]abc\xff"
    np.testing.assert_array_equal(stored["vocabulary_offsets"], [0, 0, 5, 7, 8, 9])


def _datasets(group, prefix=""):
    names = []
    for key, value in group.items():
        if hasattr(value, "items"):
            names += _datasets(value, f"{prefix}{key}/")
        else:
            names.append(f"{prefix}{key}")
    return names


def test_weights_of_tokens_with_the_same_bytes_cut_elsewhere_are_refused(tmp_path):
    # "ab", "c" and "a", "bc" store the same bytes; only the offsets tell them apart.
    source = embedding_model(VocabEmbedding(2, vocabulary=["ab", "c"], name="words"))
    source.save_weights(tmp_path / "w.weights.h5")
    target = embedding_model(VocabEmbedding(2, vocabulary=["a", "bc"], name="words"))
    with pytest.raises(VocabularyMismatchError, match="first differ at id 1: saved 'ab', here 'a'"):
        keras_vocabsafe.load_weights(target, tmp_path / "w.weights.h5")


def test_layer_fingerprint_is_the_documented_digest_and_follows_the_vocabulary():
    import hashlib

    def reference(tokens):
        hasher = hashlib.sha256(b"keras_vocabsafe:string:")
        for token in tokens:
            hasher.update(len(token).to_bytes(8, "little") + token)
        return hasher.hexdigest()[:32]

    lookup = keras_vocabsafe.VocabLookup(vocabulary=["a", "b"], mask_token="")
    first = lookup.vocabulary_fingerprint
    assert first == reference([b"", b"[UNK]", b"a", b"b"])
    lookup.set_vocabulary(["b", "a"])
    assert lookup.vocabulary_fingerprint == reference([b"", b"[UNK]", b"b", b"a"]) != first


@pytest.mark.slow
def test_matrix_larger_than_one_assignment_block_loads_exactly(tmp_path):
    # 70,001 rows of 256 float32 are 68 MiB: loading assigns them in more than one block of rows.
    tokens = [f"w{i}" for i in range(70_000)]
    layer = VocabEmbedding(256, vocabulary=tokens, name="words")
    model = embedding_model(layer)
    matrix = np.random.default_rng(0).standard_normal((70_001, 256)).astype(np.float32)
    layer.set_weights([matrix])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras").get_layer("words")
    np.testing.assert_array_equal(loaded.get_weights()[0], matrix)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(tf.constant(["w69999", "w0", "unknown"]))), matrix[[70_000, 1, 0]]
    )


# The embeddings initializer runs for fresh rows only ---------------------------------


@keras.saving.register_keras_serializable(package="test_saving")
class RecordingUniform(keras.initializers.RandomUniform):
    """Keras's `RandomUniform`, noting the shape of every draw (a load must not draw a matrix it then overwrites)."""

    shapes: typing.ClassVar[list] = []

    def __call__(self, shape, dtype=None):
        RecordingUniform.shapes.append(tuple(shape))
        return super().__call__(shape, dtype=dtype)


def recorded_layer(**kwargs):
    RecordingUniform.shapes.clear()
    return VocabEmbedding(
        3, vocabulary=["the", "cat", "sat"], embeddings_initializer=RecordingUniform(seed=3), name="words", **kwargs
    )


@pytest.mark.parametrize("pad_to_multiple_of", [None, 8])
def test_load_model_restores_the_saved_rows_without_drawing_the_initializer(tmp_path, pad_to_multiple_of):
    layer = recorded_layer(pad_to_multiple_of=pad_to_multiple_of)
    model = embedding_model(layer)
    saved = np.arange(layer._num_rows() * 3, dtype=np.float32).reshape(-1, 3) / 7
    layer.set_weights([saved])
    model.save(tmp_path / "m.keras")
    RecordingUniform.shapes.clear()
    loaded = keras.saving.load_model(tmp_path / "m.keras").get_layer("words")
    assert RecordingUniform.shapes == []
    assert isinstance(loaded.embeddings_initializer, RecordingUniform)
    np.testing.assert_array_equal(loaded.get_weights()[0], saved)


@keras.saving.register_keras_serializable(package="test_saving")
class NestedBlock(keras.layers.Layer):
    """Keeps its embedding in a list inside a dict: Keras 3.11 to 3.14 save no weights for it."""

    def __init__(self, vocabulary, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.groups = {"text": [[VocabEmbedding(3, vocabulary=self.vocabulary, name="nested")]]}

    def call(self, inputs):
        return keras.ops.mean(self.groups["text"][0][0](inputs), axis=1)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary}


def without_nested_rows(path):
    """The `.keras` file as Keras 3.11 to 3.14 write it for `NestedBlock`: no group for the nested layer.

    Returns whether the file held one, i.e. whether this Keras saves the nested layer at all."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    weights = path.parent / "weights.h5"
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "a") as file:
        nested = []
        file.visit(lambda name: nested.append(name) if name.rsplit("/", 1)[-1] == "groups" else None)
        for name in nested:
            del file[name]
    members["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return bool(nested)


@keras.saving.register_keras_serializable(package="test_saving")
class NestedModel(keras.Model):
    """A subclassed model around `NestedBlock`: Keras may build the nested layer during the load or after it."""

    def __init__(self, vocabulary, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.block = NestedBlock(self.vocabulary)

    def call(self, inputs):
        return self.block(inputs)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary}


def nested_layer(model):
    block = model.block if isinstance(model, NestedModel) else model.layers[1]
    return block.groups["text"][0][0]


@pytest.mark.parametrize("kind", ["functional", "subclassed"])
def test_a_layer_whose_rows_keras_never_restored_refuses_to_serve(tmp_path, kind):
    if kind == "functional":
        inputs = keras.Input(shape=(2,), dtype="string")
        model = keras.Model(inputs, NestedBlock(["the", "cat", "sat"])(inputs))
    else:
        model = NestedModel(["the", "cat", "sat"])
    text = tf.constant([["the", "cat"], ["sat", "dog"]])
    expected = keras.ops.convert_to_numpy(model(text))
    trained = nested_layer(model).get_weights()
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "intact.keras")
    saves_nested_layers = without_nested_rows(tmp_path / "m.keras")
    assert saves_nested_layers == (tuple(int(part) for part in keras.__version__.split(".")[:2]) >= (3, 15))
    if saves_nested_layers:  # The same layer restored from a file that holds its rows serves them.
        intact = keras.saving.load_model(tmp_path / "intact.keras")
        np.testing.assert_allclose(keras.ops.convert_to_numpy(intact(text)), expected, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3.15: "Skipping nested container ..."; 3.11-3.14 say nothing.
        loaded = keras.saving.load_model(tmp_path / "m.keras")
    layer = nested_layer(loaded)
    assert not layer.built or not layer.get_weights()[0].any()  # Built by the load: zeros for every token.
    uses = [lambda: loaded(text), lambda: loaded.predict(text, verbose=0)]
    if saves_nested_layers:  # Only then does Keras ask the layer to save itself, and it refuses to save zeros.
        uses.append(lambda: loaded.save(tmp_path / "again.keras"))
    for use in uses:
        with pytest.raises(ValueError, match=r"VocabEmbedding 'nested' cannot .*Keras never restored its weights"):
            use()
    with pytest.raises(keras_vocabsafe.ModelFileError, match="update its vocabulary"):
        layer.update_vocabulary(["the", "cat"])
    layer.set_weights(trained)  # Rows given: the layer serves them.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(text)), expected, rtol=1e-6)


def test_loading_or_setting_rows_into_an_unbuilt_layer_draws_nothing():
    source = recorded_layer()
    source.build()
    saved = source.get_weights()[0] + 1.0
    source.set_weights([saved])
    store = {}
    source.save_own_variables(store)
    for fill in (lambda layer: layer.load_own_variables(store), lambda layer: layer.set_weights([saved])):
        target = recorded_layer()
        fill(target)
        assert target.built and RecordingUniform.shapes == []
        np.testing.assert_array_equal(target.get_weights()[0], saved)


def cloned(layer):
    model = embedding_model(layer)
    RecordingUniform.shapes.clear()
    return keras.models.clone_model(model).get_layer("words")


def from_json(layer):
    config = embedding_model(layer).to_json()
    RecordingUniform.shapes.clear()
    return keras.models.model_from_json(config).get_layer("words")


@pytest.mark.parametrize(
    "make",
    [lambda layer: layer, lambda layer: VocabEmbedding.from_config(layer.get_config()), cloned, from_json],
    ids=["constructed", "from_config", "clone_model", "model_from_json"],
)
def test_fresh_layers_take_their_rows_from_the_initializer(make):
    layer = make(recorded_layer())
    if not layer.built:
        layer.build()
    assert RecordingUniform.shapes == [(4, 3)]  # The OOV row and three tokens.
    expected = keras.ops.convert_to_numpy(keras.initializers.RandomUniform(seed=3)((4, 3), dtype="float32"))
    np.testing.assert_array_equal(layer.get_weights()[0], expected)


def test_vocabularies_longer_than_one_comparison_chunk_are_stored_whole_and_compared_to_the_last_byte():
    # 70,000 tokens: more than one chunk of 65,536 where the stored tokens are joined and compared.
    tokens = [f"w{i}" for i in range(70_000)]
    source = VocabEmbedding(1, vocabulary=tokens, embeddings_initializer="zeros")
    source.build()
    store = {}
    source.save_own_variables(store)
    ids_tokens = [b"[UNK]"] + [t.encode() for t in tokens]
    np.testing.assert_array_equal(store["vocabulary"], np.frombuffer(b"".join(ids_tokens), dtype=np.uint8))
    np.testing.assert_array_equal(store["vocabulary_offsets"], np.cumsum([0] + [len(t) for t in ids_tokens]))
    VocabEmbedding(1, vocabulary=tokens).load_own_variables(store)
    for last in ("x69999", "w6999x"):  # Other bytes of the same length, at its first or last byte.
        with pytest.raises(VocabularyMismatchError, match="first differ at id 70000"):
            VocabEmbedding(1, vocabulary=[*tokens[:-1], last]).load_own_variables(store)


@pytest.mark.parametrize(
    "variant",
    ["mixed_float16", "bfloat16", "trainable_rows", "lora", "int8", "mirrored"],
)
def test_every_kind_of_layer_loads_its_saved_rows_without_drawing_the_initializer(tmp_path, variant):
    kwargs = {
        "mixed_float16": {"dtype": "mixed_float16"},
        "bfloat16": {"dtype": "bfloat16"},  # Saved as bfloat16, which NumPy does not count as a float.
        "trainable_rows": {"trainable_rows": [1, 3]},
        "lora": {"lora_rank": 2},
    }.get(variant, {})
    layer = recorded_layer(**kwargs)
    model = embedding_model(layer)
    if variant == "int8":
        model.quantize("int8")
    else:
        layer.set_weights([np.arange(12, dtype=np.float32).reshape(4, 3) / 7] + layer.get_weights()[1:])
    saved = layer.get_weights()
    model.save(tmp_path / "m.keras")
    RecordingUniform.shapes.clear()
    if variant == "mirrored":
        with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
            loaded = keras.saving.load_model(tmp_path / "m.keras").get_layer("words")
    else:
        loaded = keras.saving.load_model(tmp_path / "m.keras").get_layer("words")
    assert RecordingUniform.shapes == []
    restored = loaded.get_weights()
    if variant == "lora":  # As in Keras: the update is merged into the matrix, and LoRA starts again from it.
        restored, saved = restored[:1], [saved[0] + (2 / 2) * saved[1] @ saved[2]]
        np.testing.assert_allclose(restored[0], saved[0], rtol=1e-6)
    else:
        assert [w.dtype for w in restored] == [w.dtype for w in saved]
        for restored_array, saved_array in zip(restored, saved):
            np.testing.assert_array_equal(restored_array, saved_array)


@keras.saving.register_keras_serializable(package="test_saving")
class LayersFromInit(keras.Model):
    """A subclassed model whose `__init__` makes its layers and whose config does not hold them, as most do."""

    def __init__(self, kind="adapted_later", **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        vocabulary = ["the", "cat", "sat"] if kind == "vocabulary_given" else None
        if kind == "raw_text":
            self.words = keras_vocabsafe.TextVocabEmbedding(3, output_sequence_length=4, name="words")
        else:
            self.words = VocabEmbedding(3, vocabulary, mask_token=None if kind == "no_mask" else "", name="words")
        self.score = keras.layers.Dense(1, name="score")

    def call(self, inputs):
        return self.score(keras.ops.mean(self.words(inputs), axis=1))

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@pytest.mark.parametrize("kind", ["adapted_later", "no_mask", "vocabulary_given", "raw_text"])
def test_a_subclassed_model_whose_init_makes_the_layer_reloads_whole(tmp_path, kind):
    # `load_model` rebuilds such a model with the layers its `__init__` makes: not adapted, so the vocabulary is in
    # the weights alone (it was refused: "has no vocabulary yet"). Keras builds the model on float32 placeholders
    # first; a layer with a mask refused them in `compute_mask`, so the layers after it stayed unbuilt and their
    # saved weights were dropped with only Keras's "cannot be built automatically" warning.
    model = LayersFromInit(kind)
    if kind == "raw_text":
        text = tf.constant(["the cat dog", "sat"])
        model.words.adapt(tf.constant(["the cat sat the", "dog cat the"]))
    else:
        text = tf.constant([["the", "cat", "", "dog"], ["sat", "", "", ""]])
    if kind in ("adapted_later", "no_mask"):
        model.words.adapt(tf.constant([["the", "cat", "sat", "the"], ["dog", "", "cat", "the"]]))
    expected = keras.ops.convert_to_numpy(model(text))
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert not [str(w.message) for w in caught if "built" in str(w.message)]
    assert loaded.words.get_vocabulary() == model.words.get_vocabulary()
    for saved, restored in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored), keras.ops.convert_to_numpy(saved))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(text)), expected, rtol=1e-6)


def test_a_layer_without_a_vocabulary_takes_the_saved_one_only_where_its_settings_keep_the_ids():
    source = VocabEmbedding(3, mask_token="")
    source.adapt(tf.constant([["the", "cat", "sat", ""]]))
    source.build()
    store = {}
    source.save_own_variables(store)
    target = VocabEmbedding(3, mask_token="")
    target.load_own_variables(store)
    assert target.get_vocabulary() == source.get_vocabulary()
    np.testing.assert_array_equal(target.get_weights()[0], source.get_weights()[0])
    # Without a mask token, '' is a token at the id it had: the ids are the saved ones.
    unmasked = VocabEmbedding(3, mask_token=None)
    unmasked.load_own_variables(store)
    assert unmasked.get_vocabulary() == source.get_vocabulary()
    for layer_settings in ({"mask_token": "", "num_oov_indices": 2}, {"mask_token": "[PAD]"}, {"oov_token": "<unk>"}):
        other = VocabEmbedding(3, **layer_settings)
        with pytest.raises(VocabularyMismatchError, match="does not fit its settings") as raised:
            other.load_own_variables(store)
        assert all(f"{name}={value!r}" in str(raised.value) for name, value in layer_settings.items())
        assert not other.built
        with pytest.raises(keras_vocabsafe.NotAdaptedError):  # Left as it was: no vocabulary.
            other.get_vocabulary()


def test_the_checking_pass_of_load_weights_leaves_a_layer_without_a_vocabulary_as_it_was():
    from keras_vocabsafe import _loading

    source = VocabEmbedding(3, mask_token="")
    source.adapt(tf.constant([["the", "cat", "sat", ""]]))
    source.build()
    store = {}
    source.save_own_variables(store)
    target = VocabEmbedding(3, mask_token="")
    request = _loading.CheckOnly()
    with _loading.loading_request(request):
        target.load_own_variables(store)
    assert not request.errors and not target.built
    with pytest.raises(keras_vocabsafe.NotAdaptedError):
        target.get_vocabulary()
