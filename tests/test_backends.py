"""The two halves on every Keras backend: a `VocabLookup` in `tf.data`, a `VocabIdEmbedding` in the model.

Runs unchanged on TensorFlow, JAX and PyTorch (`nox` runs this module once per backend, with `KERAS_BACKEND`
set). Each case trains from strings through `tf.data`, as Keras's preprocessing guide tells JAX and PyTorch
users to do with `StringLookup`.
"""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import INT4
from keras_vocabsafe import (
    ConfigurationError,
    KeyDtypeError,
    TextVocabEmbedding,
    UnknownIdError,
    VocabEmbedding,
    VocabIdEmbedding,
    VocabLookup,
    VocabularyMismatchError,
    export_for_serving,
    load_remapped_weights,
)

pytestmark = pytest.mark.backend

TEXT = [["the", "cat", "sat", ""], ["a", "dog", "ran", "far"], ["the", "dog", "", ""]] * 4
LABELS = np.array([[1.0], [0.0], [1.0]] * 4, np.float32)


def halves(**kwargs):
    words = VocabEmbedding(8, mask_token="", **kwargs)
    words.adapt(tf.constant(TEXT))
    return words.halves()


def id_dataset(lookup):
    strings = tf.data.Dataset.from_tensor_slices((tf.constant(TEXT), LABELS)).batch(4)
    return strings.map(lambda x, y: (lookup(x), y))


def id_model(embedding):
    ids = keras.Input(shape=(None,), dtype="int64", name="ids")
    pooled = keras.layers.GlobalAveragePooling1D()(embedding(ids))
    return keras.Model(ids, keras.layers.Dense(1, name="score")(pooled))


def rows_by_token(embedding):
    matrix = embedding.get_weights()[0]
    return {token: matrix[i] for i, token in enumerate(embedding.get_vocabulary())}


def predict_in_new_process(path, queries, *, lookup_class):
    """Loads a saved split model in a new process, rebuilds its lookup half from it alone, and predicts."""
    script = textwrap.dedent(
        f"""
        import json, os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import keras, tensorflow as tf
        import keras_vocabsafe
        model = keras.saving.load_model({str(path)!r})
        (embedding,) = [l for l in model.layers if isinstance(l, keras_vocabsafe.VocabIdEmbedding)]
        lookup = embedding.lookup()  # From the saved model alone.
        assert type(lookup).__name__ == {lookup_class!r}, type(lookup)
        ids = keras.ops.convert_to_numpy(lookup(tf.constant({queries!r})))
        print(json.dumps([keras.backend.backend(), model.predict(ids, verbose=0).tolist()]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_lookup_runs_in_tf_data_and_matches_the_joined_layer():
    words = VocabEmbedding(8, mask_token="", num_oov_indices=2)
    words.adapt(tf.constant(TEXT))
    lookup, _ = words.halves()
    unbatched = tf.data.Dataset.from_tensor_slices(tf.constant(TEXT + [["zebra", "the", "", "?"]]))
    expected = np.stack([words.token_to_id(np.array(row, dtype=object)) for row in TEXT + [["zebra", "the", "", "?"]]])
    one_by_one = np.stack([ids.numpy() for ids in unbatched.map(lookup)])
    batched = np.concatenate([ids.numpy() for ids in unbatched.batch(5).map(lookup)])
    np.testing.assert_array_equal(one_by_one, expected)
    np.testing.assert_array_equal(batched, expected)


def test_ids_to_tokens_runs_inside_tf_function():
    lookup, _ = halves()
    ids = lookup(tf.constant([["the", "zebra", ""]]))
    tokens = tf.function(lookup.ids_to_tokens)(ids)
    assert tokens.numpy().tolist() == [[b"the", b"[UNK]", b""]]
    # Eagerly, ids outside the vocabulary are refused as id_to_token refuses them (a raw gather error before).
    beyond = lookup.vocabulary_size()
    for bad in (tf.constant([[1, beyond]]), tf.ragged.constant([[1], [-1]])):
        with pytest.raises(UnknownIdError, match=rf"has ids 0 to {beyond - 1}\. Received: id (-1|{beyond})\."):
            lookup.ids_to_tokens(bad)
    with pytest.raises(KeyDtypeError, match=r"ids_to_tokens\(\) takes integer ids. Received dtype float32"):
        lookup.ids_to_tokens(tf.constant([1.0]))


def test_embedding_half_trains_from_strings_through_tf_data():
    lookup, embedding = halves()
    model = id_model(embedding)
    model.compile(optimizer="adam", loss="mse")
    before = embedding.get_weights()[0].copy()
    history = model.fit(id_dataset(lookup), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    after = embedding.get_weights()[0]
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after[0], before[0])  # The mask row is never selected by a real token.


def test_embedding_half_masks_padding_ids():
    _, embedding = halves()
    mask = embedding.compute_mask(np.array([[3, 0, 2]]))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), [[True, False, True]])


@pytest.mark.saving
@pytest.mark.slow
def test_saved_model_rebuilds_its_lookup_in_a_new_process_with_identical_predictions(tmp_path):
    lookup, embedding = halves()
    model = id_model(embedding)
    model.compile(optimizer="adam", loss="mse")
    model.fit(id_dataset(lookup), epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    queries = [["the", "cat", "zebra", ""], ["a", "far", "", ""]]
    expected = model.predict(keras.ops.convert_to_numpy(lookup(tf.constant(queries))), verbose=0)
    backend, predictions = predict_in_new_process(path, queries, lookup_class="VocabLookup")
    assert backend == keras.backend.backend()
    np.testing.assert_array_equal(np.asarray(predictions, np.float32), expected)


def test_update_vocabulary_on_the_embedding_half_keeps_rows_by_token():
    _, embedding = halves()
    embedding.build()
    old = rows_by_token(embedding)
    report = embedding.update_vocabulary(["dog", "zebra", "the"], new_embeddings_initializer="zeros")
    new = rows_by_token(embedding)
    for token in ("", "[UNK]", "dog", "the"):
        np.testing.assert_array_equal(new[token], old[token])
    np.testing.assert_array_equal(new["zebra"], np.zeros(8, np.float32))
    assert report.added == 1
    assert embedding.lookup().token_to_id("zebra") == 3  # The rebuilt lookup follows the new ids.


def test_pretrained_rows_on_the_embedding_half(tmp_path):
    (tmp_path / "vectors.txt").write_text("the 1 2 3 4 5 6 7 8\ndog 8 7 6 5 4 3 2 1\n")
    _, embedding = halves()
    report = embedding.load_pretrained(
        tmp_path / "vectors.txt", missing_embeddings_initializer="zeros", train="missing"
    )
    assert report.found == 2
    np.testing.assert_array_equal(embedding.get_vectors(["dog"]), [[8, 7, 6, 5, 4, 3, 2, 1]])
    model = id_model(embedding)
    model.compile(optimizer="adam", loss="mse")
    model.fit(id_dataset(embedding.lookup()), epochs=2, verbose=0)
    np.testing.assert_array_equal(embedding.get_vectors(["dog"]), [[8, 7, 6, 5, 4, 3, 2, 1]])  # frozen
    assert not np.array_equal(embedding.get_vectors(["cat"]), np.zeros((1, 8)))  # missing rows trained


def test_pad_to_multiple_of_on_the_embedding_half():
    words = VocabEmbedding(8, mask_token="", pad_to_multiple_of=16)
    words.adapt(tf.constant(TEXT))
    lookup, embedding = words.halves()
    model = id_model(embedding)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(id_dataset(lookup), verbose=0)
    matrix = embedding.get_weights()[0]
    assert matrix.shape == (16, 8)
    np.testing.assert_array_equal(matrix[embedding.vocabulary_size() :], 0)


@pytest.mark.saving
def test_remapped_load_into_the_embedding_half(tmp_path):
    _, embedding = halves()
    model = id_model(embedding)
    model.save_weights(tmp_path / "old.weights.h5")
    grown = VocabIdEmbedding(8, vocabulary=["zebra", *embedding.get_vocabulary()[2:]], mask_token="")
    new_model = id_model(grown)
    with pytest.raises(ValueError, match="different vocabulary"):
        new_model.load_weights(tmp_path / "old.weights.h5")
    load_remapped_weights(new_model, tmp_path / "old.weights.h5")
    np.testing.assert_array_equal(rows_by_token(grown)["cat"], rows_by_token(embedding)["cat"])


def test_a_lookup_of_another_vocabulary_is_refused():
    lookup, embedding = halves()
    other = VocabLookup(vocabulary=["cat", "the", "a"], mask_token="")
    with pytest.raises(VocabularyMismatchError, match=r"another vocabulary .* first differ at id 2: lookup 'cat'"):
        embedding.check_lookup(other)
    embedding.check_lookup(lookup)  # The pair from halves() matches.
    assert lookup.vocabulary_fingerprint == embedding.vocabulary_fingerprint != other.vocabulary_fingerprint
    strings = keras.Input(shape=(None,), dtype="string")
    if keras.backend.backend() == "tensorflow":
        with pytest.raises(VocabularyMismatchError, match="Build the lookup from this layer"):
            embedding(other(strings))  # Wiring the pair into a model is where it is refused.
    else:
        # No lookup runs inside a model there (the model would fail on every call, as with Keras's StringLookup).
        for pair in (lookup, other):
            with pytest.raises(ConfigurationError, match=r"cannot run inside a model on the \w+ backend. Map it"):
                embedding(pair(strings))


def test_embedding_half_refuses_strings_with_the_fix():
    _, embedding = halves()
    with pytest.raises(TypeError, match=r"takes integer ids .* `layer.lookup\(\)`"):
        embedding(tf.constant([["the"]]) if keras.backend.backend() == "tensorflow" else np.array([[1.5]]))


@pytest.mark.parametrize(
    "inputs",
    [
        np.array([["the", "cat"]]),
        np.array([["the", "cat"]], dtype=object),
        tf.constant([["the", "cat"]]),
        np.array([[1.0, 2.0]]),
        np.array([[True, False]]),
    ],
    ids=["numpy-str", "numpy-object", "tf-string", "float", "bool"],
)
def test_embedding_half_refuses_ids_that_are_no_integers_on_every_backend(inputs):
    _, embedding = halves()
    with pytest.raises(KeyDtypeError, match=r"takes integer ids .* `layer.lookup\(\)`"):
        embedding(inputs)


@pytest.mark.parametrize("merge", [keras.layers.Concatenate, keras.layers.Add])
def test_ids_a_merge_layer_made_floats_are_refused_naming_the_layer_and_its_dtype(merge):
    # A Keras merge layer casts its output to its own dtype (float32 by default), even when it joins int64 ids: the
    # refusal said to build the model from an int64 `keras.Input`, which the user had done.
    _, embedding = halves()
    first, second = keras.Input(shape=(2,), dtype="int64"), keras.Input(shape=(2,), dtype="int64")
    merged = merge(name="joined")([first, second])
    fix = (
        r"`keras.layers.Concatenate\(dtype='int64'\)`, or use `keras.ops.concatenate"
        if merge is keras.layers.Concatenate
        else r"`keras.layers.Add\(dtype='int64'\)`\."
    )
    with pytest.raises(
        KeyDtypeError,
        match=rf"float32 from the {merge.__name__} layer 'joined', which joins integer tensors \(int64\).*{fix}",
    ):
        embedding(merged)
    # With the fix, the same model builds and looks up the ids it joined.
    joined = merge(dtype="int64")([first, second])
    model = keras.Model([first, second], embedding(joined))
    ids = np.array([[2, 3]], np.int64), np.array([[1, 0]], np.int64)
    expected = embedding(merge(dtype="int64")([keras.ops.convert_to_tensor(i) for i in ids]))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.predict(list(ids), verbose=0)), keras.ops.convert_to_numpy(expected)
    )
    if keras.backend.backend() == "tensorflow":  # The joined layer of integer keys says the same.
        keys = VocabEmbedding(4, vocabulary=[2**40, 7], vocabulary_dtype="int64")
        with pytest.raises(KeyDtypeError, match=rf"VocabEmbedding .* from the {merge.__name__} layer 'joined'"):
            keys(merged)
    # A merge layer of floats (not ids) keeps the general refusal.
    floats = merge()([keras.Input(shape=(2,)), keras.Input(shape=(2,))])
    with pytest.raises(
        KeyDtypeError, match=r"takes integer ids, but received a symbolic input of dtype float32\. Build"
    ):
        embedding(floats)


def test_embedding_half_refuses_a_sparse_tensor():
    _, embedding = halves()
    with pytest.raises(KeyDtypeError, match=r"does not take a tf\.SparseTensor"):
        embedding(tf.sparse.from_dense(tf.constant([[2, 3]], tf.int64)))


def test_ids_are_checked_before_the_backend_converts_them():
    _, embedding = halves()
    # JAX without x64 would cut int64 to int32: 2**40 to 0, the mask row, silently.
    for ids in (np.array([[2**40]], np.int64), tf.constant([[2**40]], tf.int64)):
        with pytest.raises(UnknownIdError, match=f"First: id {2**40}\\."):
            embedding(ids)
    # PyTorch has no uint64: ids in range of any integer dtype give the rows of the same ids.
    expected = keras.ops.convert_to_numpy(embedding(np.array([[2, 3, 0]], np.int32)))
    for dtype in (np.uint64, np.uint8, np.int64):
        ids = np.array([[2, 3, 0]], dtype)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding(ids)), expected)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding.compute_mask(ids)), [[True, True, False]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding([[2, 3, 0]])), expected)
    assert tuple(embedding([]).shape) == (0, 8)
    # Python ints in an object array (a pandas column) are ids too; they were refused as "dtype string".
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding(np.array([[2, 3, 0]], object))), expected)
    for ids, named in (([2, 1.5], r"object \(holding float, int\)"), ([True, 2], r"object \(holding bool, int\)")):
        with pytest.raises(KeyDtypeError, match=f"Received dtype {named}"):
            embedding(np.array(ids, object))
    with pytest.raises(UnknownIdError, match=f"First: id {2**70}\\."):
        embedding(np.array([[2, 2**70]], object))


def test_ragged_inputs_work_on_tensorflow_and_are_refused_with_the_fix_elsewhere():
    words = VocabEmbedding(8, mask_token="")
    words.adapt(tf.constant(TEXT))
    _, embedding = words.halves()
    keys, ids = tf.ragged.constant([["the"], ["cat", "dog"]]), tf.ragged.constant([[2], [3, 4]], dtype=tf.int64)
    if keras.backend.backend() == "tensorflow":
        assert words(keys).shape.as_list() == embedding(ids).shape.as_list() == [2, None, 8]
        return
    with pytest.raises(KeyDtypeError, match=r"ragged keys.*padded_batch"):
        words(keys)
    with pytest.raises(KeyDtypeError, match=r"tf.RaggedTensor.*to_tensor\(\)"):
        embedding(ids)


@pytest.mark.parametrize("dtype", ["string", "int64"])
def test_joined_layer_in_a_model_is_refused_off_tensorflow_with_the_split(dtype):
    if dtype == "string":
        words = VocabEmbedding(8, vocabulary=["the", "cat"])
    else:
        words = VocabEmbedding(8, vocabulary=[2**40, 7], vocabulary_dtype="int64")
    keys = keras.Input(shape=(None,), dtype=dtype)
    backend = keras.backend.backend()
    if backend == "tensorflow" or (backend == "torch" and dtype == "int64"):
        assert keras.Model(keys, words(keys)).output.shape == (None, None, 8)
        return
    with pytest.raises(ConfigurationError, match=r"cannot run inside a model on the .* backend.*halves\(\)"):
        words(keys)
    text = TextVocabEmbedding(8, vocabulary=["the", "cat"])
    with pytest.raises(ConfigurationError, match=r"cannot run inside a model.*halves\(\)"):
        text(keras.Input(shape=(), dtype="string"))


INT_KEYS = [2**40 + 7, 7, 2**33, 0]


def int_key_model(words):
    keys = keras.Input(shape=(None,), dtype="int64", name="keys")
    pooled = keras.layers.GlobalAveragePooling1D()(words(keys))
    return keras.Model(keys, keras.layers.Dense(1, name="score")(pooled))


@pytest.mark.saving
@pytest.mark.slow
def test_joined_layer_of_integer_keys_trains_predicts_and_reloads_in_a_functional_model_on_torch(tmp_path):
    # The joined layer was refused in every functional model off TensorFlow, though PyTorch runs the model eagerly
    # and keeps int64 keys whole, so the lookup runs on TensorFlow as in a subclassed model's `call`.
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch's functional models (TensorFlow's run the layer anyway; JAX's are refused above)")
    words = VocabEmbedding(4, vocabulary=INT_KEYS, vocabulary_dtype="int64", mask_token=-5, name="keys_embedding")
    model = int_key_model(words)
    keys = np.array([[2**40 + 7, 2**33, -5], [7, 0, 12345], [2**40 + 7, -5, -5]] * 4, np.int64)
    data = tf.data.Dataset.from_tensor_slices((keys, np.arange(12, dtype=np.float32)[:, None])).batch(4)
    before = words.get_weights()[0].copy()
    model.compile(optimizer="adam", loss="mse")
    model.fit(data, epochs=2, verbose=0)
    trained = words.get_weights()[0]
    ids = keras.ops.convert_to_numpy(words.lookup()(keys))
    assert not np.array_equal(trained[ids[0, 0]], before[ids[0, 0]])  # Rows of the keys seen trained.
    # Each key selects its own row: 2**40 + 7 is not cut to 7 (nor 2**33 to 0), and the mask reaches the pooling.
    vectors = keras.ops.convert_to_numpy(words(keys[:3]))
    np.testing.assert_array_equal(vectors, trained[ids[:3]])
    assert len({tuple(row) for row in trained[ids[:2, :3].ravel()]}) == 6
    predictions = model.predict(keys, verbose=0)
    np.testing.assert_allclose(predictions[2], model.predict(keys[2:3, :1], verbose=0)[0], rtol=1e-6)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(keys, verbose=0), predictions)
    assert reloaded.get_layer("keys_embedding").get_vocabulary()[2:] == INT_KEYS
    reloaded.fit(data, epochs=1, verbose=0)  # The reloaded model trains on.
    script = textwrap.dedent(
        f"""
        import json, os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import keras, numpy as np
        import keras_vocabsafe
        model = keras.saving.load_model({str(path)!r})
        keys = np.array({keys.tolist()!r}, np.int64)
        print(json.dumps([keras.backend.backend(), model.predict(keys, verbose=0).tolist()]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    backend, in_new_process = json.loads(done.stdout.strip().splitlines()[-1])
    assert backend == "torch"
    np.testing.assert_array_equal(np.asarray(in_new_process, np.float32), predictions)


def test_joined_layer_of_integer_keys_in_a_torch_model_refuses_float_keys_and_string_layers_stay_refused():
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch's functional models")
    words = VocabEmbedding(4, vocabulary=INT_KEYS, vocabulary_dtype="int64")
    with pytest.raises(KeyDtypeError, match=r"takes keys of an integer dtype, but received a symbolic input of dtype"):
        words(keras.Input(shape=(None,)))
    with pytest.raises(KeyDtypeError, match=r"from the Concatenate layer 'joined'.*Concatenate\(dtype='int64'\)"):
        words(
            keras.layers.Concatenate(name="joined")(
                [keras.Input((2,), dtype="int64"), keras.Input((2,), dtype="int64")]
            )
        )
    strings = VocabEmbedding(4, vocabulary=["the", "cat"])
    with pytest.raises(ConfigurationError, match=r"cannot run inside a model on the torch backend.*halves\(\)"):
        strings(keras.Input(shape=(None,), dtype="string"))


# TextVocabEmbedding the same way: text to ids in tf.data, the embedding in the model ------------------------------

SENTENCES = ["The cat sat on the mat.", "A dog ran far!", "the dog, the cat", "Ünïcode wörds stay whole"] * 3
SENTENCE_LABELS = np.array([[1.0], [0.0], [1.0], [0.0]] * 3, np.float32)


def text_halves():
    words = TextVocabEmbedding(8, output_sequence_length=6, ngrams=(1, 2))
    words.adapt(SENTENCES)
    return words, *words.halves()


def test_text_lookup_gives_the_ids_of_the_joined_text_layer():
    words, lookup, _ = text_halves()
    joined = TextVocabEmbedding.from_config({**words.get_config(), "return_ids": True})
    expected, _ = joined(tf.constant(SENTENCES[:4]))
    from_pipeline = next(iter(tf.data.Dataset.from_tensor_slices(SENTENCES[:4]).batch(4).map(lookup)))
    np.testing.assert_array_equal(from_pipeline.numpy(), expected.numpy())


def test_ragged_text_vectors_are_given_on_tensorflow_and_refused_with_the_fix_elsewhere():
    # Off TensorFlow an eager call failed deep inside with an AttributeError ("'tuple' object has no attribute
    # 'is_compatible_with'").
    layer = TextVocabEmbedding(4, vocabulary=["the", "cat"])
    if keras.backend.backend() == "tensorflow":
        assert layer(tf.constant(["the cat", "cat"])).shape.as_list() == [2, None, 4]
    else:
        with pytest.raises(ConfigurationError, match=r"gives ragged vectors.*output_sequence_length.*halves\(\)"):
            layer(tf.constant(["the cat", "cat"]))
    padded = TextVocabEmbedding(4, vocabulary=["the", "cat"], output_sequence_length=3)
    assert tuple(padded(tf.constant(["the cat", "cat"])).shape) == (2, 3, 4)


@pytest.mark.saving
@pytest.mark.slow
def test_text_split_trains_and_its_saved_embedding_half_rebuilds_the_tokenizer(tmp_path):
    _, lookup, embedding = text_halves()
    data = tf.data.Dataset.from_tensor_slices((SENTENCES, SENTENCE_LABELS)).batch(4)
    model = id_model(embedding)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(data.map(lambda text, y: (lookup(text), y)), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "text.keras"
    model.save(path)
    queries = ["the CAT sat", "Ünïcode dog!"]
    expected = model.predict(keras.ops.convert_to_numpy(lookup(tf.constant(queries))), verbose=0)
    _, predictions = predict_in_new_process(path, queries, lookup_class="TextVocabLookup")
    np.testing.assert_array_equal(np.asarray(predictions, np.float32), expected)


@pytest.mark.saving
def test_ids_to_tokens_runs_in_an_exported_graph_served_by_tensorflow_alone(tmp_path):
    lookup, _ = halves()
    module = tf.Module()
    module.lookup = lookup  # Tracks the table and the tokens the graph captures.
    module.tokens = tf.function(lookup.ids_to_tokens, input_signature=[tf.TensorSpec([None, None], tf.int64)])
    tf.saved_model.save(module, str(tmp_path / "tokens"))
    ids = lookup(tf.constant([["the", "zebra", ""]])).numpy().tolist()
    script = textwrap.dedent(
        f"""
        import json, sys
        for name in ("keras", "keras_vocabsafe", "tensorflow_text"):
            sys.modules[name] = None  # TensorFlow alone.
        import tensorflow as tf
        tokens = tf.saved_model.load({str(tmp_path / "tokens")!r}).tokens(tf.constant({ids!r}, tf.int64))
        print(json.dumps([[t.decode() for t in row] for row in tokens.numpy().tolist()]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [["the", "[UNK]", ""]]


def test_ids_beyond_the_rows_are_refused_or_documented_per_backend():
    _, embedding = halves()
    beyond = np.array([[1, embedding.vocabulary_size()]])
    if keras.backend.backend() == "tensorflow":
        with pytest.raises(UnknownIdError, match=r"ids outside that range.*`layer.lookup\(\)`"):
            embedding(beyond)
        with pytest.raises(tf.errors.InvalidArgumentError, match="ids outside that range"):
            tf.function(embedding)(tf.constant(beyond))
    elif keras.backend.backend() == "jax":
        import jax

        # Eager ids are checked: a negative id would otherwise wrap to the last rows, one beyond would give NaN.
        for ids in (beyond, np.array([[1, -1]])):
            with pytest.raises(UnknownIdError, match=r"ids outside that range.*`layer.lookup\(\)`"):
                embedding(ids)
        # Documented limit: traced ids (`fit` jits its step) have no values; JAX's gather fills rows beyond the
        # matrix with NaN (the loss then shows it), and the layer sends a negative id and an id of a padding row
        # there too (else they would take the last rows and zeros).
        padded = halves(pad_to_multiple_of=16)[1]
        assert padded.vocabulary_size() < 15
        for layer, ids in ((embedding, beyond), (embedding, np.array([[1, -1]])), (padded, np.array([[1, 15]]))):
            vectors = np.asarray(jax.jit(layer)(ids))
            assert np.isnan(vectors[0, 1]).all() and np.isfinite(vectors[0, 0]).all()
    else:
        # A negative id would otherwise wrap to the last rows; PyTorch raises IndexError beyond them.
        for ids in (beyond, np.array([[1, -1]])):
            with pytest.raises(UnknownIdError, match=r"ids outside that range.*`layer.lookup\(\)`"):
                embedding(ids)


def test_building_a_built_embedding_half_keeps_its_rows():
    # A second `build()` drew a new matrix over the given (or trained) rows without a word; the usual subclassed
    # model's `build` calls it on its layers.
    rows = np.arange(20, dtype="float32").reshape(5, 4)
    layer = VocabIdEmbedding(4, vocabulary=["a", "b", "c"], mask_token="", weights=[rows])

    class Classifier(keras.Model):
        def __init__(self, embedding):
            super().__init__()
            self.embedding, self.score = embedding, keras.layers.Dense(1)

        def build(self, input_shape):
            self.embedding.build(input_shape)
            super().build(input_shape)

        def call(self, ids):
            return self.score(keras.ops.mean(self.embedding(ids), axis=1))

    model = Classifier(layer)
    layer.build((None, 3))
    model.build((None, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.embeddings), rows)
    assert model(np.array([[1, 2, 3]])).shape == (1, 1)


def _traced(layer):
    """`layer` in the backend's traced form: `tf.function`, `jax.jit`, or eager on PyTorch."""
    if keras.backend.backend() == "tensorflow":
        return tf.function(layer)
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(layer)
    return layer


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "uint32"])
def test_ids_of_narrow_dtypes_select_the_rows_of_their_values(dtype):
    # Narrow ids were compared with the row count in their own dtype, which wrapped: under jax.jit an id past the
    # vocabulary took the mask row and, with more ids than the dtype counts, a valid id took another row; with
    # trainable_rows a trainable id wrapped onto a small one; TensorFlow's gather refused uint8, uint16, uint32.
    if dtype == "uint16" and keras.backend.backend() == "torch":
        pytest.skip("PyTorch has no uint16 tensors to pass")  # The NumPy path is covered by the host test above.
    layer = VocabIdEmbedding(4, vocabulary=[f"w{i}" for i in range(299)], mask_token="", trainable_rows=[290])
    layer.build()
    matrix = keras.ops.convert_to_numpy(layer.embeddings)
    ids = np.array([[1, 34, 100]])  # 290 wraps to 34 in 8 bits
    for call in (layer, _traced(layer)):
        vectors = keras.ops.convert_to_numpy(call(keras.ops.convert_to_tensor(ids.astype(dtype))))
        np.testing.assert_array_equal(vectors, matrix[ids])
    # An id past the vocabulary, where the rows' count (128) does not fit int8: refused, or NaN under jax.jit.
    padded = VocabIdEmbedding(4, vocabulary=[f"w{i}" for i in range(95)], mask_token="", pad_to_multiple_of=128)
    padded.build()
    beyond = keras.ops.convert_to_tensor(np.array([[1, 100]], dtype))
    if keras.backend.backend() == "jax":
        vectors = np.asarray(_traced(padded)(beyond))
        assert np.isnan(vectors[0, 1]).all() and np.isfinite(vectors[0, 0]).all()
    elif keras.backend.backend() == "tensorflow":
        with pytest.raises(tf.errors.InvalidArgumentError, match="ids outside that range"):
            _traced(padded)(beyond)
    with pytest.raises(UnknownIdError, match="ids outside that range"):
        padded(beyond)


@pytest.mark.saving
@pytest.mark.parametrize("mode", ["int8", INT4])
def test_quantized_embedding_half_matches_keras_embedding_and_reloads(tmp_path, mode):
    lookup, embedding = halves(pad_to_multiple_of=8)
    model = id_model(embedding)
    reference = keras.layers.Embedding(*embedding.get_weights()[0].shape)
    reference.build()
    reference.set_weights(embedding.get_weights())
    reference.quantize(mode)
    model.quantize(mode)
    ids = lookup(tf.constant(TEXT)).numpy()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(embedding(ids)), keras.ops.convert_to_numpy(reference(ids))
    )
    expected = model.predict(ids, verbose=0)
    model.save(tmp_path / "quantized.keras")
    loaded = keras.saving.load_model(tmp_path / "quantized.keras")
    assert loaded.get_layer(embedding.name).quantization_mode == mode
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), expected)


def test_lora_on_the_embedding_half_trains_only_its_factors():
    lookup, embedding = halves()
    model = id_model(embedding)
    embedding.enable_lora(2)
    frozen = keras.ops.convert_to_numpy(embedding._embeddings).copy()
    b_before = keras.ops.convert_to_numpy(embedding.lora_embeddings_b).copy()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(id_dataset(lookup), epochs=2, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding._embeddings), frozen)
    assert not np.array_equal(keras.ops.convert_to_numpy(embedding.lora_embeddings_b), b_before)


def test_weights_set_the_rows_of_the_embedding_half_and_lora_adapts_them():
    rows = np.array([[10.0 * i, 10.0 * i + 1] for i in range(5)], dtype="float32")  # Row i names id i.
    plain = VocabIdEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[rows])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(plain(np.array([[3, 0]]))), rows[[[3, 0]]])
    adapted = VocabIdEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=rows, lora_rank=2)
    assert adapted.lora_enabled
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(adapted(np.array([4]))), rows[[4]])
    with pytest.raises(ConfigurationError, match=r"need a matrix of shape \(5, 2\)"):
        VocabIdEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[rows[:4]])


class _KeysModel(keras.Model):
    """A subclassed model that takes keys: Keras converts its inputs to the backend's tensors first."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def call(self, keys):
        return self.layer(keys)


@pytest.mark.parametrize("half", ["joined", "lookup"])
def test_keys_a_subclassed_model_converted_are_refused_on_jax_and_looked_up_elsewhere(half):
    # On JAX, Keras converted the keys to int32 JAX arrays first: key 2**40 became key 0 and took key 0's vector
    # (or id), silently; under `fit` the traced keys failed with a conversion error that named no fix.
    words = VocabEmbedding(4, vocabulary=[2**40, 0, 7], vocabulary_dtype="int64")
    layer = words if half == "joined" else words.halves()[0]
    keys = np.array([[2**40, 0, 7]], np.int64)
    direct = keras.ops.convert_to_numpy(layer(keys))  # NumPy keys reach the layer as given, on every backend.
    assert not np.array_equal(direct[0, 0], direct[0, 1])
    model = _KeysModel(layer)
    if keras.backend.backend() != "jax":
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(keys)), direct)
        return
    import jax

    fix = r"halves\(\)" if half == "joined" else r"map this lookup over the tf\.data pipeline"
    with pytest.raises(ConfigurationError, match=rf"received a JAX array: JAX keeps integers in 32 bits.*{fix}"):
        model(keys)
    with pytest.raises(ConfigurationError, match=rf"traced by jax\.jit.*{fix}"):
        jax.jit(layer)(jax.numpy.asarray([[7, 0]]))


@keras.saving.register_keras_serializable(package="test_backends")
class PooledIds(keras.Model):
    """A subclassed model around an embedding half, with the usual `get_config` / `from_config` pair."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding, self.score = embedding, keras.layers.Dense(1)

    def call(self, ids):
        return self.score(keras.ops.mean(self.embedding(ids), axis=1))

    def get_config(self):
        return {**super().get_config(), "embedding": keras.saving.serialize_keras_object(self.embedding)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config.pop("embedding")), **config)


@pytest.mark.saving
def test_a_subclassed_model_of_the_embedding_half_reloads_every_weight(tmp_path):
    # Keras builds a reloaded subclassed model by running it on float32 placeholders; the embedding half refused
    # them, so the layers after it stayed unbuilt, their saved weights were skipped with a warning, and the model
    # predicted with fresh ones.
    lookup, embedding = halves()
    model = PooledIds(embedding)
    model.compile(optimizer="adam", loss="mse")
    model.fit(id_dataset(lookup), epochs=2, verbose=0)
    ids = keras.ops.convert_to_numpy(lookup(tf.constant([["the", "cat", "zebra", ""], ["a", "far", "", ""]])))
    expected = model.predict(ids, verbose=0)
    model.save(tmp_path / "subclassed.keras")
    loaded = keras.saving.load_model(tmp_path / "subclassed.keras")
    assert loaded.score.built
    for saved, restored in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored), keras.ops.convert_to_numpy(saved))
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), expected)
    with pytest.raises(KeyDtypeError, match="takes integer ids"):
        embedding(keras.ops.convert_to_tensor(np.array([[2.0]], np.float32)))  # Outside that trace: refused.


def _compiled_before(model, ids, traceable=True):
    """`model`'s functions compiled now: Keras's `predict` (kept by Keras) and, on PyTorch, a `torch.jit` trace
    (not `traceable`: Keras's PyTorch `searchsorted`, which `trainable_rows` uses, cannot be traced by it)."""
    model.predict(ids, verbose=0)
    if keras.backend.backend() != "torch" or not traceable:
        return []
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # The trace's warnings about Python values taken as constants.
        return [torch.jit.trace(model, (torch.as_tensor(ids),), check_trace=False)]


@pytest.mark.saving
@pytest.mark.parametrize("damage", ["missing", "truncated"])
@pytest.mark.parametrize("kind", ["float", "trainable_rows", "int8"])
def test_functions_compiled_before_a_load_missing_a_shard_of_the_layer_give_no_fresh_vectors(tmp_path, damage, kind):
    # Keras's `model.load_weights()` drops the layer's error when a shard is missing; the layer warns and refuses
    # to be called. A JAX `predict` compiled before (or a `torch.jit` trace) does not call it again: it went on
    # predicting from the layer's fresh rows, silently. Its rows are NaN now, so such functions give NaN vectors.
    lookup, embedding = halves(trainable_rows=[2, 3] if kind == "trainable_rows" else None)
    model = id_model(embedding)
    if kind == "int8":
        model.quantize("int8")
    if keras.backend.backend() == "torch" and kind == "float":  # Slow to compile: once.
        model.compile(loss="mse", jit_compile=True)  # `predict` under `torch.compile` (JAX's is compiled anyway).
    ids = keras.ops.convert_to_numpy(lookup(tf.constant(TEXT[:3])))
    expected = model.predict(ids, verbose=0)
    rows = embedding.get_weights()
    path = tmp_path / "w.weights.json"
    # In GiB: as small as the largest array (vocabulary offsets: 80 bytes), so that the layer's arrays span shards.
    model.save_weights(path, max_shard_size=max(100, *(array.nbytes for array in rows)) / 2**30)
    (shards,) = [shards for key, shards in json.loads(path.read_text())["weight_map"].items() if "embedding" in key]
    assert isinstance(shards, list) and len(shards) > 1, shards
    shard = tmp_path / shards[-1]
    if damage == "missing":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    compiled = _compiled_before(model, ids, traceable=kind != "trainable_rows")
    with pytest.warns(UserWarning, match="could not read its saved weights"):
        model.load_weights(path)
    backend = keras.backend.backend()
    if backend == "jax":
        assert np.isnan(model.predict(ids, verbose=0)).all()
    else:
        refused = tf.errors.InvalidArgumentError if backend == "tensorflow" else ConfigurationError
        with pytest.raises(refused, match="could not read its saved weights"):
            model.predict(ids, verbose=0)
    for function in compiled:
        assert np.isnan(keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(ids)))).all()
    for weights, given in zip(embedding.get_weights(), rows, strict=True):
        if backend == "tensorflow" or not np.issubdtype(given.dtype, np.floating):
            np.testing.assert_array_equal(weights, given)  # Kept: traced functions check the layer's generation.
        else:  # A quantized matrix's int8 values keep theirs; its scale is NaN.
            assert np.isnan(weights).all()
    embedding.set_weights(rows)  # Rows given: every function gives their vectors again.
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-6)
    for function in compiled:
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(ids))), expected, rtol=1e-6
        )


def test_ids_outside_the_vocabulary_are_refused_under_torch_compile():
    # Under `torch.compile` (Keras's `jit_compile=True` on PyTorch) the ids had no values to check: a negative id
    # took a last row and an id of a padding row its zeros, silently.
    if keras.backend.backend() != "torch":
        pytest.skip("torch.compile is PyTorch's")
    lookup, embedding = halves(pad_to_multiple_of=16)
    model = id_model(embedding)
    ids = keras.ops.convert_to_numpy(lookup(tf.constant(TEXT[:3])))
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    expected = model.predict(ids, verbose=0)
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-6)
    for bad in ([[2, -1]], [[2, embedding.vocabulary_size()]]):  # The second is a padding row's id.
        with pytest.raises(RuntimeError, match=r"has ids 0 to \d+, but received ids outside that range"):
            model.predict(np.array(bad), verbose=0)
        with pytest.raises(RuntimeError, match=r"ids outside that range.*`layer.lookup\(\)`"):
            model.fit(np.array(bad), np.ones((1, 1)), verbose=0)


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
def test_torch_ids_of_wide_unsigned_dtypes_select_the_rows_of_their_values(dtype):
    # PyTorch's uint32 and uint64 tensors have no min, max or gather: uint64 ids were refused as "no integer ids",
    # uint32 ids failed with PyTorch's NotImplementedError ('"min_all" not implemented').
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch tensors of these dtypes")
    import torch

    _, embedding = halves()
    expected = keras.ops.convert_to_numpy(embedding(np.array([[2, 3, 0]])))
    ids = torch.tensor([[2, 3, 0]]).to(getattr(torch, dtype))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding(ids)), expected)
    beyond = 2**40 if dtype == "uint64" else 2**31 + 5
    with pytest.raises(UnknownIdError, match=f"First: id {beyond}\\."):
        embedding(torch.tensor([[2, beyond]]).to(getattr(torch, dtype)))


def test_the_embedding_in_a_tensorflow_graph_is_refused_off_tensorflow_with_the_split():
    # Off TensorFlow the rows are JAX or PyTorch arrays, which a TensorFlow graph cannot hold: mapped over tf.data or
    # traced by tf.function, the layers failed deep inside with "Cannot convert a symbolic tf.Tensor to a numpy array".
    words = VocabEmbedding(8, mask_token="")
    words.adapt(tf.constant(TEXT))
    lookup, embedding = words.halves()
    embedding.build()
    text = TextVocabEmbedding(8, vocabulary=["the", "cat"], output_sequence_length=3)
    if keras.backend.backend() == "tensorflow":
        assert tf.function(embedding)(lookup(tf.constant(TEXT))).shape == (12, 4, 8)
        assert tf.function(words)(tf.constant(TEXT)).shape == (12, 4, 8)
        return
    with pytest.raises(ConfigurationError, match=r"cannot run inside a TensorFlow graph.*\(`layer\.lookup\(\)`\)"):
        tf.function(embedding)(lookup(tf.constant(TEXT)))
    for joined, keys in ((words, tf.constant(TEXT)), (text, tf.constant(["the cat"]))):
        with pytest.raises(ConfigurationError, match=r"cannot run inside a TensorFlow graph.*Split it.*halves\(\)"):
            tf.function(joined)(keys)
    with pytest.raises(ConfigurationError, match=r"cannot run inside a TensorFlow graph"):
        tf.data.Dataset.from_tensor_slices(tf.constant(TEXT)).batch(2).map(lambda keys: embedding(lookup(keys)))


def test_errors_raised_in_a_tf_data_map_keep_their_type():
    # AutoGraph converts the function given to `map` and re-raised every error of ours from it as its own
    # StagingError, so `except TypeError` (or `except KeyDtypeError`) missed a lookup of keys of the wrong dtype.
    lookup, _ = halves()
    floats = tf.data.Dataset.from_tensor_slices(([[1.5, 2.5]], LABELS[:1]))
    with pytest.raises(KeyDtypeError, match="vocabulary_dtype='string' but received keys of dtype float32"):
        floats.map(lambda keys, y: (lookup(keys), y))
    with pytest.raises(KeyDtypeError, match=r"ids_to_tokens\(\) takes integer ids"):
        floats.map(lambda keys, y: lookup.ids_to_tokens(keys))


def test_update_vocabulary_with_model_gives_pytorch_the_new_matrix_as_a_parameter():
    # Keras lists a PyTorch model's parameters once, when it is built: after `update_vocabulary(model=...)` its
    # `parameters()` and `state_dict()` still held the old matrix, so a PyTorch training loop (as in Keras's guide,
    # `torch.optim.Adam(model.parameters())`) never trained the rows and `torch.save(model.state_dict())` saved old
    # ones, silently.
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch's parameter lists")
    import torch

    _, embedding = halves()
    model = id_model(embedding)
    model.compile(optimizer="sgd", loss="mse")
    embedding.update_vocabulary(["zebra", *embedding.get_vocabulary()[2:]], model=model)
    current = {variable.path: variable.value for variable in model.variables}
    parameters = {name.split(".", 1)[1]: parameter for name, parameter in model.named_parameters()}
    assert parameters.keys() == current.keys()
    assert all(parameters[path] is current[path] for path in current)
    before = embedding.get_weights()[0].copy()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    ids = torch.as_tensor(embedding.lookup()(tf.constant(TEXT)).numpy())
    loss = ((model(ids) - torch.as_tensor(LABELS)) ** 2).mean()
    loss.backward()
    optimizer.step()
    assert not np.array_equal(embedding.get_weights()[0], before)
    saved = model.state_dict()[f"_torch_params.{embedding.weights[0].path}"]
    np.testing.assert_array_equal(saved.detach().cpu().numpy(), embedding.get_weights()[0])


def torch_model(kind, embedding):
    """A functional, Sequential or subclassed model around `embedding`, its PyTorch parameters listed (built)."""
    if kind == "functional":
        model = id_model(embedding)
    elif kind == "sequential":
        model = keras.Sequential(
            [keras.Input(shape=(None,), dtype="int64"), embedding, keras.layers.GlobalAveragePooling1D()]
        )
    else:
        model = _KeysModel(embedding)
        model(np.array([[2, 3]]))
    list(model.parameters())
    return model


def listed_parameters(model):
    """The tensors of `model.parameters()` and those of its variables (which Keras trains), by identity."""
    return {id(parameter) for parameter in model.parameters()}, {id(variable.value) for variable in model.variables}


def trains_in_a_torch_loop(model, embedding, variable):
    """Whether one SGD step of a PyTorch loop over `model.parameters()` changes `variable` of `embedding`."""
    import torch

    before = keras.ops.convert_to_numpy(variable).copy()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    ids = torch.as_tensor(embedding.lookup()(tf.constant(TEXT)).numpy())
    (model(ids) - 1.0).square().mean().backward()
    optimizer.step()
    return not np.array_equal(keras.ops.convert_to_numpy(variable), before)


@pytest.mark.parametrize("kind", ["functional", "sequential", "subclassed"])
@pytest.mark.parametrize("change", ["enable_lora", "train_missing", "update_vocabulary", "quantize"])
def test_weights_a_built_layer_replaces_or_adds_are_the_pytorch_parameters_of_its_model(tmp_path, change, kind):
    # Keras lists a PyTorch model's parameters when it builds it (again only in `fit`), in a dict of the model's
    # own made from the variables of all its layers (a functional model's layers are no PyTorch submodules of
    # it). After `enable_lora`, `load_pretrained(train="missing")`, `update_vocabulary` without `model=` or
    # `layer.quantize`, the model's `parameters()` and `state_dict()` kept the replaced variables and lacked the new
    # ones: a PyTorch training loop over `model.parameters()` trained nothing (the LoRA factors, the trainable rows)
    # or the old matrix.
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch's parameter lists")
    _, embedding = halves()
    model = torch_model(kind, embedding)
    if change == "enable_lora":
        embedding.enable_lora(2)
    elif change == "train_missing":
        (tmp_path / "vectors.txt").write_text("the 1 2 3 4 5 6 7 8\ndog 8 7 6 5 4 3 2 1\n")
        embedding.load_pretrained(tmp_path / "vectors.txt", train="missing", verbose=0)
    elif change == "update_vocabulary":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Functions compiled before would fail (a warning tells so).
            embedding.update_vocabulary(["zebra", *embedding.get_vocabulary()[2:]])
    else:
        embedding.quantize("int8")
    parameters, variables = listed_parameters(model)
    assert {id(variable.value) for variable in embedding.variables} <= variables
    assert parameters == variables
    state = model.state_dict()
    for variable in embedding.variables:  # A Sequential model lists them twice (and its inner functional model).
        listed = {tensor.data_ptr() for name, tensor in state.items() if name.endswith(variable.path)}
        assert listed == {variable.value.data_ptr()}
    trained = {
        "enable_lora": lambda: embedding.lora_embeddings_b,
        "train_missing": lambda: embedding._trainable_embeddings,
        "update_vocabulary": lambda: embedding._embeddings,
    }.get(change)
    if trained is not None:
        assert trains_in_a_torch_loop(model, embedding, trained())


def test_export_for_serving_off_tensorflow_is_refused_with_the_fix_before_anything_is_written(tmp_path):
    # On JAX a lookup in front of the model (the default) or the vocabulary signatures failed with Keras's "Cannot
    # iterate over a shape with unknown rank" or an ExportError ("dtype object is not a valid JAX array type"); on
    # PyTorch every export failed with Keras's NotImplementedError ("`track` is not supported").
    if keras.backend.backend() == "tensorflow":
        pytest.skip("TensorFlow writes the SavedModel (tests/test_serving_export.py)")
    _, embedding = halves()
    model = id_model(embedding)
    fix = r"KERAS_BACKEND=tensorflow: the file loads there, with its vocabulary and the same predictions"
    asked = [{}, {"lookups": None}, {"vocabulary_signatures": False}]
    if keras.backend.backend() == "torch":
        asked.append({"lookups": None, "vocabulary_signatures": False})
    for kwargs in asked:
        with pytest.raises(ConfigurationError, match=fix):
            export_for_serving(model, tmp_path / "served", verbose=0, **kwargs)
        assert not (tmp_path / "served").exists()
    if keras.backend.backend() == "jax":  # Ids alone export from JAX (Keras's jax2tf), as the message says.
        path = export_for_serving(model, tmp_path / "served", lookups=None, vocabulary_signatures=False, verbose=0)
        ids = np.array([[2, 3, 0, 0]], np.int64)
        served = tf.saved_model.load(path).signatures["serving_default"](ids=tf.constant(ids))
        np.testing.assert_allclose(next(iter(served.values())).numpy(), model.predict(ids, verbose=0), rtol=1e-6)
