import gc

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import AWKWARD_TOKENS
from keras_vocabsafe import (
    ConfigurationError,
    DuplicateTokenError,
    KeyDtypeError,
    NotAdaptedError,
    QuantizationError,
    ReservedTokenError,
    UnknownIdError,
    VocabEmbedding,
    Vocabulary,
    VocabularyChangeError,
    VocabularyError,
    _weights_store,
)
from keras_vocabsafe.embedding import VocabIdEmbedding
from keras_vocabsafe.text import TextVocabEmbedding

CORPUS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat"],
    ["a", "cat", "and", "a", "dog"],
]
# Counted by hand: the=3; cat=2, dog=2, sat=2, a=2; and=1, mat=1, on=1.
CORPUS_ORDER = ["the", "a", "cat", "dog", "sat", "and", "mat", "on"]


def padded(rows, pad=""):
    width = max(len(r) for r in rows)
    return np.array([r + [pad] * (width - len(r)) for r in rows], dtype=object)


# Vocabulary and ids ----------------------------------------------------------


def test_adapt_orders_by_count_then_token():
    layer = VocabEmbedding(4)
    layer.adapt(tf.ragged.constant(CORPUS))
    assert layer.get_vocabulary() == ["[UNK]", *CORPUS_ORDER]


def test_ids_follow_the_keras_layout_with_mask_then_oov():
    layer = VocabEmbedding(4, vocabulary=["x", "y"], mask_token="", num_oov_indices=2)
    assert layer.get_vocabulary() == ["", "[UNK]", "[UNK]", "x", "y"]
    assert layer.vocabulary_size() == 5
    assert layer.token_to_id("") == 0
    assert layer.token_to_id("x") == 3


def test_ids_match_string_lookup():
    vocabulary = ["the", "cat", "sat"]
    ours = VocabEmbedding(4, vocabulary=vocabulary, mask_token="", num_oov_indices=3)
    theirs = keras.layers.StringLookup(vocabulary=vocabulary, mask_token="", num_oov_indices=3)
    keys = tf.constant([["the", "dog", "", "sat", "zebra", "[UNK]", "cat"]])
    np.testing.assert_array_equal(ours.token_to_id(keys), theirs(keys).numpy())


def test_embedding_rows_equal_vocabulary_size():
    layer = VocabEmbedding(7, mask_token="", num_oov_indices=3)
    layer.adapt(CORPUS[0])
    layer.build()
    assert tuple(layer.embeddings.shape) == (1 + 3 + 5, 7)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(padded(CORPUS), id="numpy"),
        pytest.param(padded(CORPUS).tolist(), id="nested-list"),
        pytest.param(tf.constant(padded(CORPUS).tolist()), id="tensor"),
        pytest.param(tf.ragged.constant(CORPUS), id="ragged"),
        pytest.param(tf.data.Dataset.from_tensor_slices(padded(CORPUS).tolist()).batch(2), id="dataset"),
        pytest.param(tf.data.Dataset.from_tensor_slices(tf.ragged.constant(CORPUS)), id="ragged-dataset"),
        pytest.param(iter([CORPUS[0], CORPUS[1], CORPUS[2]]), id="iterator"),
    ],
)
def test_adapt_gives_the_same_vocabulary_from_every_input_form(data):
    layer = VocabEmbedding(4, mask_token="")
    layer.adapt(data)
    assert layer.get_vocabulary(include_special_tokens=False) == CORPUS_ORDER


def test_adapt_is_independent_of_data_order():
    rng = np.random.default_rng(0)
    tokens = np.array([f"w{int(i)}" for i in rng.zipf(1.3, 20_000) % 500], dtype=object)
    first, second = VocabEmbedding(4), VocabEmbedding(4)
    first.adapt(tokens)
    second.adapt(tf.data.Dataset.from_tensor_slices(rng.permutation(tokens)).batch(777))
    assert first.get_vocabulary() == second.get_vocabulary()


def test_adapt_counts_across_many_batches():
    # Every batch repeats the same tokens, so the lazy merge must add counts up.
    batches = [["rare"] * (i == 0) + ["common"] * 3 + [f"t{i}"] for i in range(300)]
    layer = VocabEmbedding(4, min_frequency=2)
    layer.adapt(iter(batches))
    assert layer.get_vocabulary(include_special_tokens=False) == ["common"]


def test_adapt_respects_max_tokens_including_special_slots():
    layer = VocabEmbedding(4, max_tokens=4, mask_token="")
    layer.adapt(tf.ragged.constant(CORPUS))
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "a"]


def test_adapt_respects_min_frequency():
    layer = VocabEmbedding(4, min_frequency=2)
    layer.adapt(tf.ragged.constant(CORPUS))
    assert layer.get_vocabulary(include_special_tokens=False) == CORPUS_ORDER[:5]


def test_adapt_skips_mask_and_oov_tokens_in_data():
    layer = VocabEmbedding(4, mask_token="<pad>")
    layer.adapt([["a", "<pad>", "[UNK]", "<pad>"]])
    assert layer.get_vocabulary() == ["<pad>", "[UNK]", "a"]


def test_adapt_keeps_awkward_tokens_byte_for_byte():
    layer = VocabEmbedding(4)
    layer.adapt(tf.constant([t.encode() if isinstance(t, str) else t for t in AWKWARD_TOKENS]))
    expected = {t.encode() if isinstance(t, str) else t for t in AWKWARD_TOKENS}
    assert set(layer.vocabulary.tokens) == expected


def test_adapt_with_steps_reads_only_that_many_batches():
    layer = VocabEmbedding(4)
    layer.adapt(tf.data.Dataset.from_tensor_slices(["a", "b", "c", "d"]).batch(1), steps=2)
    assert set(layer.get_vocabulary(include_special_tokens=False)) == {"a", "b"}


def test_adapt_on_nothing_but_special_tokens_is_an_error():
    layer = VocabEmbedding(4, mask_token="")
    with pytest.raises(VocabularyError, match="found no tokens"):
        layer.adapt([["", "[UNK]"]])


def test_adapt_on_a_dataset_of_pairs_says_how_to_fix_it():
    dataset = tf.data.Dataset.from_tensor_slices((["a", "b"], [0, 1])).batch(2)
    with pytest.raises(ConfigurationError, match=r"dataset.map\(lambda x, y: x\)"):
        VocabEmbedding(4).adapt(dataset)


def test_adapt_on_a_single_string_is_rejected():
    with pytest.raises(KeyDtypeError, match="not a single str"):
        VocabEmbedding(4).adapt("the cat")


def test_integer_keys():
    layer = VocabEmbedding(3, vocabulary_dtype="int64", mask_token=0)
    layer.adapt(np.array([[5, 5, 9, 0], [9, 5, 7, 0]], dtype=np.int32))
    assert layer.get_vocabulary() == [0, -1, 5, 9, 7]
    ids = layer.token_to_id(np.array([7, 123, 0, 5], dtype=np.int32))
    np.testing.assert_array_equal(ids, [4, 1, 0, 2])


def test_integer_oov_hashing_spreads_unknown_ids():
    layer = VocabEmbedding(3, vocabulary=[1, 2], vocabulary_dtype="int64", num_oov_indices=4)
    ids = layer.token_to_id(np.arange(1000, 1400))
    assert set(ids.tolist()) == {0, 1, 2, 3}


def test_string_oov_hashing_matches_string_lookup():
    ours = VocabEmbedding(3, vocabulary=["a"], num_oov_indices=5)
    theirs = keras.layers.StringLookup(vocabulary=["a"], num_oov_indices=5)
    keys = tf.constant([f"unknown-{i}" for i in range(200)])
    np.testing.assert_array_equal(ours.token_to_id(keys), theirs(keys).numpy())


def test_vocabulary_from_text_file(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("the\ncat\n")
    assert VocabEmbedding(4, vocabulary=str(path)).get_vocabulary() == ["[UNK]", "the", "cat"]


def test_vocabulary_from_numpy_and_tensor_and_vocabulary_object():
    expected = ["[UNK]", "the", "cat"]
    assert VocabEmbedding(4, vocabulary=np.array(["the", "cat"])).get_vocabulary() == expected
    assert VocabEmbedding(4, vocabulary=tf.constant(["the", "cat"])).get_vocabulary() == expected
    assert VocabEmbedding(4, vocabulary=Vocabulary(["the", "cat"])).get_vocabulary() == expected


# Calls -----------------------------------------------------------------------


@pytest.fixture
def layer():
    layer = VocabEmbedding(5, vocabulary=CORPUS_ORDER, mask_token="", embeddings_initializer="glorot_uniform")
    layer.build()
    return layer


def rows(layer, tokens):
    """The expected vectors, by indexing the matrix with ids from the vocabulary list."""
    vocabulary = layer.get_vocabulary()
    ids = [vocabulary.index(t) if t in vocabulary else 1 for t in tokens]
    return layer.embeddings.numpy()[ids]


@pytest.mark.parametrize(
    "inputs, shape",
    [
        ("cat", (5,)),
        (["cat", "zebra"], (2, 5)),
        ([["cat", "dog", ""]], (1, 3, 5)),
        (np.array([[["the"]], [["mat"]]]), (2, 1, 1, 5)),
    ],
)
def test_call_on_any_rank_appends_output_dim(layer, inputs, shape):
    outputs = layer(inputs)
    assert tuple(outputs.shape) == shape
    flat = np.array(inputs, dtype=object).reshape(-1).tolist()
    np.testing.assert_array_equal(outputs.numpy().reshape(-1, 5), rows(layer, flat))


def test_ragged_input_gives_ragged_output(layer):
    outputs = layer(tf.ragged.constant([["cat"], ["dog", "zebra", "the"]]))
    assert isinstance(outputs, tf.RaggedTensor)
    assert outputs.row_lengths().numpy().tolist() == [1, 3]
    np.testing.assert_array_equal(outputs.flat_values.numpy(), rows(layer, ["cat", "dog", "zebra", "the"]))


def test_unknown_tokens_share_the_oov_row(layer):
    vectors = layer.get_vectors(["zebra", "giraffe", "[UNK]"])
    np.testing.assert_array_equal(vectors, np.repeat(layer.embeddings.numpy()[1:2], 3, axis=0))


def test_mask_is_false_at_mask_token(layer):
    mask = layer.compute_mask(tf.constant([["cat", "", "dog", ""]]))
    np.testing.assert_array_equal(mask.numpy(), [[True, False, True, False]])


def test_no_mask_without_mask_token():
    layer = VocabEmbedding(5, vocabulary=["a"])
    assert layer.compute_mask(tf.constant(["a", ""])) is None


def test_eager_call_attaches_the_mask(layer):
    outputs = layer(tf.constant([["cat", ""]]))
    np.testing.assert_array_equal(outputs._keras_mask.numpy(), [[True, False]])


def test_mask_reaches_pooling_in_a_model(layer):
    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(layer(inputs)))
    pooled = model(tf.constant([["cat", "dog", "", ""]])).numpy()
    np.testing.assert_allclose(pooled[0], rows(layer, ["cat", "dog"]).mean(axis=0), rtol=1e-6)


def test_mask_reaches_an_rnn_in_a_model(layer):
    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, keras.layers.SimpleRNN(3, seed=1)(layer(inputs)))
    # A masked RNN carries its state over padding, so trailing padding changes nothing.
    short = model(tf.constant([["cat", "dog"]])).numpy()
    long = model(tf.constant([["cat", "dog", "", ""]])).numpy()
    np.testing.assert_allclose(short, long, rtol=1e-6)


def test_tf_data_map_agrees_with_direct_calls(layer):
    keys = padded(CORPUS).tolist()
    direct = layer(tf.constant(keys)).numpy()
    unbatched = np.stack([x.numpy() for x in tf.data.Dataset.from_tensor_slices(keys).map(layer)])
    batched = np.concatenate([x.numpy() for x in tf.data.Dataset.from_tensor_slices(keys).batch(2).map(layer)])
    np.testing.assert_array_equal(unbatched, direct)
    np.testing.assert_array_equal(batched, direct)


def test_inside_tf_function_agrees_with_eager(layer):
    keys = tf.constant(padded(CORPUS).tolist())
    np.testing.assert_array_equal(tf.function(layer)(keys).numpy(), layer(keys).numpy())


def test_training_changes_only_rows_of_seen_tokens():
    layer = VocabEmbedding(4, vocabulary=CORPUS_ORDER, mask_token="")
    inputs = keras.Input(shape=(None,), dtype="string")
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    before = layer.embeddings.numpy().copy()
    history = model.fit(tf.constant([["cat", "dog", ""]] * 8), np.ones(8), epochs=10, verbose=0)
    after = layer.embeddings.numpy()
    changed = np.flatnonzero(np.any(before != after, axis=1))
    vocabulary = layer.get_vocabulary()
    assert sorted(changed.tolist()) == sorted([vocabulary.index("cat"), vocabulary.index("dog")])
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_mixed_precision_policy():
    layer = VocabEmbedding(4, vocabulary=["a", "b"], dtype="mixed_float16")
    outputs = layer(["a", "b"])
    assert outputs.dtype == tf.float16
    assert layer.embeddings.dtype == "float32"


def test_regularizer_adds_a_loss():
    layer = VocabEmbedding(4, vocabulary=["a"], embeddings_regularizer=keras.regularizers.L2(1.0))
    layer(["a"])
    assert len(layer.losses) == 1 and float(layer.losses[0]) > 0


def test_constraint_is_applied_by_the_optimizer():
    layer = VocabEmbedding(4, vocabulary=["a"], embeddings_constraint=keras.constraints.NonNeg())
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), layer, keras.layers.Flatten()])
    model.compile(optimizer=keras.optimizers.SGD(10.0), loss="mse")
    model.fit(tf.constant([["a"]]), -np.ones((1, 4)), epochs=2, verbose=0)
    assert layer.embeddings.numpy().min() >= 0


def test_non_trainable_layer_keeps_its_rows():
    layer = VocabEmbedding(4, vocabulary=["a"], trainable=False)
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), layer, keras.layers.Flatten()])
    model.compile(optimizer="sgd", loss="mse")
    before = layer.embeddings.numpy().copy()
    model.fit(tf.constant([["a"]]), np.ones((1, 4)), verbose=0)
    np.testing.assert_array_equal(layer.embeddings.numpy(), before)


# Introspection ---------------------------------------------------------------


def test_token_to_id_and_back(layer):
    ids = layer.token_to_id(["cat", "zebra", ""])
    assert ids.tolist() == [4, 1, 0]
    assert layer.id_to_token(ids) == ["cat", "[UNK]", ""]
    assert layer.id_to_token(4) == "cat"


def test_id_out_of_range_is_an_error(layer):
    with pytest.raises(UnknownIdError, match=f"ids 0 to {layer.vocabulary_size() - 1}. Received: id 99"):
        layer.id_to_token(99)


def test_get_vocabulary_returns_bytes_only_for_non_utf8_tokens():
    layer = VocabEmbedding(2, vocabulary=["ok", b"\xff"])
    assert layer.get_vocabulary(include_special_tokens=False) == ["ok", b"\xff"]
    assert layer.token_to_id(b"\xff") == 2


# Errors ----------------------------------------------------------------------


def test_call_before_adapt_says_how_to_fix_it():
    with pytest.raises(NotAdaptedError, match=r"pass a `vocabulary` argument .* or call `adapt\(data\)`"):
        VocabEmbedding(4)(["a"])


def test_vocabulary_size_before_adapt_is_an_error():
    with pytest.raises(NotAdaptedError):
        VocabEmbedding(4).vocabulary_size()


def test_duplicate_tokens_are_rejected():
    with pytest.raises(DuplicateTokenError, match="'cat' twice"):
        VocabEmbedding(4, vocabulary=["cat", "dog", "cat"])


def test_mask_token_listed_without_the_oov_token_is_rejected():
    with pytest.raises(ReservedTokenError, match=r"mask_token '' \(at position 1\) but not its oov_token"):
        VocabEmbedding(4, vocabulary=["a", "", "b"], mask_token="")


def test_oov_token_listed_without_the_mask_token_is_rejected():
    with pytest.raises(ReservedTokenError, match=r"oov_token '\[UNK\]' \(at position 0\) but not its mask_token"):
        VocabEmbedding(4, vocabulary=["[UNK]", "a"], mask_token="")


def test_wrong_key_dtype_at_call():
    layer = VocabEmbedding(4, vocabulary=["a"])
    with pytest.raises(KeyDtypeError, match="vocabulary_dtype='string' but received keys of dtype int32"):
        layer(tf.constant([1, 2]))


def test_string_keys_for_integer_vocabulary():
    layer = VocabEmbedding(4, vocabulary=[1, 2], vocabulary_dtype="int64")
    with pytest.raises(KeyDtypeError, match="vocabulary_dtype='int64' but received keys of dtype string"):
        layer(["1"])


def test_float_keys_for_integer_vocabulary():
    layer = VocabEmbedding(4, vocabulary=[1, 2], vocabulary_dtype="int64")
    with pytest.raises(KeyDtypeError, match="dtype float32"):
        layer(tf.constant([1.0]))


def test_wrong_token_type_in_vocabulary():
    with pytest.raises(KeyDtypeError):
        VocabEmbedding(4, vocabulary=[1, 2])


def test_sparse_input_is_rejected_with_a_fix():
    layer = VocabEmbedding(4, vocabulary=["a"])
    sparse = tf.sparse.from_dense(tf.constant([["a", ""]]))
    with pytest.raises(KeyDtypeError, match=r"tf\.sparse\.to_dense"):
        layer(sparse)


def test_max_tokens_not_above_special_slots():
    with pytest.raises(ConfigurationError, match=r"larger than the 3 special slots .* Received: max_tokens=3"):
        VocabEmbedding(4, max_tokens=3, mask_token="", num_oov_indices=2)


def test_vocabulary_larger_than_max_tokens():
    with pytest.raises(ConfigurationError, match="exceeds max_tokens=3"):
        VocabEmbedding(4, vocabulary=["a", "b", "c"], max_tokens=3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"output_dim": 0}, "`output_dim` must be a positive integer. Received: output_dim=0"),
        ({"output_dim": 2.5}, "Received: output_dim=2.5"),
        ({"output_dim": 4, "num_oov_indices": 0}, "Received: num_oov_indices=0"),
        ({"output_dim": 4, "min_frequency": 0}, "Received: min_frequency=0"),
        ({"output_dim": 4, "vocabulary_dtype": "float32"}, "Received: vocabulary_dtype='float32'"),
        ({"output_dim": 4, "mask_token": 0}, "`mask_token` must be a str"),
        ({"output_dim": 4, "vocabulary_dtype": "int64", "oov_token": "x"}, "`oov_token` must be an int"),
        ({"output_dim": 4, "mask_token": "[UNK]"}, "must differ"),
    ],
)
def test_invalid_arguments_name_the_argument_and_value(kwargs, message):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        VocabEmbedding(**kwargs)


def test_changing_the_vocabulary_of_a_built_layer_is_refused(layer):
    before = layer.embeddings.numpy().copy()
    with pytest.raises(VocabularyChangeError, match=r"first differ at id 2: now 'the', new 'a'"):
        layer.set_vocabulary(["a", "the"])
    with pytest.raises(VocabularyChangeError):
        layer.adapt([["zebra"]])
    assert layer.get_vocabulary(include_special_tokens=False) == CORPUS_ORDER
    np.testing.assert_array_equal(layer.embeddings.numpy(), before)


def test_same_vocabulary_on_a_built_layer_is_a_no_op(layer):
    before = layer.embeddings.numpy().copy()
    layer.set_vocabulary(CORPUS_ORDER)
    np.testing.assert_array_equal(layer.embeddings.numpy(), before)


def test_vocabulary_can_change_before_build():
    layer = VocabEmbedding(4, vocabulary=["a"])
    layer.adapt([["b", "c"]])
    assert layer(["c"]).shape == (1, 4)
    assert layer.vocabulary_size() == 3


def test_sequential_without_input_gets_a_hint():
    layer = VocabEmbedding(4, vocabulary=["a", "b"])
    model = keras.Sequential([layer, keras.layers.GlobalAveragePooling1D()])
    with pytest.raises(KeyDtypeError, match=r"start the model with `keras\.Input\(shape=\(None,\), dtype='string'\)`"):
        model.predict(tf.constant([["a", "b"]]), verbose=0)


def test_sequential_with_string_input_trains():
    layer = VocabEmbedding(4, vocabulary=["a", "b"])
    model = keras.Sequential([keras.Input(shape=(None,), dtype="string"), layer, keras.layers.GlobalAveragePooling1D()])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(tf.constant([["a", "b"]] * 4), np.ones((4, 4)), epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("dtype", ["U", "S"])
def test_adapt_on_fixed_width_numpy_strings_matches_tensor_input(dtype):
    rng = np.random.default_rng(3)
    words = np.array(["naïve", "b", "a", "日本", "a b", "zz"] if dtype == "U" else [b"\xff", b"b", b"a", b"a b"])
    data = words[rng.integers(0, len(words), size=(50, 7))].astype(dtype)
    from_numpy, from_tensor = VocabEmbedding(4), VocabEmbedding(4)
    from_numpy.adapt(data)
    from_tensor.adapt(tf.constant(data.tolist()))
    assert from_numpy.get_vocabulary() == from_tensor.get_vocabulary()


def test_adapt_merges_partial_counts_correctly(monkeypatch):
    import keras_vocabsafe._counting as counting

    monkeypatch.setattr(counting, "_MERGE_MIN_SIZE", 2)  # Merge after nearly every batch.
    rng = np.random.default_rng(5)
    tokens = np.array([f"w{int(i)}" for i in rng.zipf(1.5, 5000) % 300], dtype=object)
    merged_often, merged_once = VocabEmbedding(4), VocabEmbedding(4)
    merged_often.adapt(tf.data.Dataset.from_tensor_slices(tokens).batch(37))
    merged_once.adapt(tokens)
    assert merged_often.get_vocabulary() == merged_once.get_vocabulary()
    assert list(merged_often.vocabulary.counts) == list(merged_once.vocabulary.counts)


# Nothing silently lost: assignments, stale functions, masks, XLA, reloads ----------------------------------------


def _string_model(layer):
    inputs = keras.Input(shape=(None,), dtype="string")
    pooled = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    return keras.Model(inputs, keras.layers.Dense(1)(pooled))


TOKENS_X = tf.constant([["a", "b"], ["c", "a"]])
TARGETS_Y = tf.constant([[1.0], [0.0]])


@pytest.mark.parametrize("assign", ["set_weights", "embeddings.assign"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "ftrl"])
def test_rows_set_after_building_stay_frozen_through_training(optimizer, assign):
    layer = VocabEmbedding(4, vocabulary=["a", "b", "c"], trainable_rows=[1], embeddings_regularizer="l2")
    model = _string_model(layer)
    model.compile(optimizer, "mse")
    model.fit(TOKENS_X, TARGETS_Y, verbose=0)  # Traces and builds the optimizer before the assignment.
    assigned = np.arange(16, dtype=np.float32).reshape(4, 4)
    if assign == "set_weights":
        layer.set_weights([assigned])
    else:
        layer.embeddings.assign(assigned)
    model.fit(TOKENS_X, TARGETS_Y, verbose=0, epochs=3)
    matrix = layer.get_weights()[0]
    frozen = [0, 2, 3]
    np.testing.assert_array_equal(matrix[frozen], assigned[frozen])
    assert not np.array_equal(matrix[1], assigned[1])  # The trainable row ("a" is id 1) did train.


def test_optimizer_state_covers_only_the_trainable_rows():
    layer = VocabEmbedding(4, vocabulary=["a", "b", "c"], trainable_rows=[1, 3])
    model = _string_model(layer)
    model.compile("adam", "mse")
    model.fit(TOKENS_X, TARGETS_Y, verbose=0)
    embedding_slots = [v for v in model.optimizer.variables if len(v.shape) == 2 and v.shape[-1] == 4]
    assert embedding_slots and all(tuple(v.shape) == (2, 4) for v in embedding_slots)


def test_embeddings_of_a_layer_with_trainable_rows_is_the_merged_matrix():
    layer = VocabEmbedding(4, vocabulary=["a", "b", "c"], trainable_rows=[2])
    layer.build()
    assigned = np.arange(16, dtype=np.float32).reshape(4, 4)
    layer.set_weights([assigned])
    np.testing.assert_array_equal(layer.embeddings.numpy(), assigned)
    np.testing.assert_array_equal(np.asarray(layer.embeddings), assigned)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.ops.add(layer.embeddings.value, 0.0)), assigned)
    np.testing.assert_array_equal(layer.get_vectors(["b"]), assigned[[2]])
    layer.embeddings.assign_add(np.ones((4, 4), np.float32))
    np.testing.assert_array_equal(layer.get_weights()[0], assigned + 1)
    with pytest.raises(ConfigurationError, match=r"one matrix of shape \(4, 4\)"):
        layer.set_weights([assigned[:3]])


def test_a_wrong_shape_into_the_merged_matrix_is_refused_naming_the_method_called():
    # It was refused as a `set_weights()` call, which the user did not make.
    layer = VocabEmbedding(4, vocabulary=["a", "b", "c"], trainable_rows=[2])
    layer.build()
    before = layer.get_weights()[0]
    with pytest.raises(
        ConfigurationError, match=r"\.embeddings\.assign\(\) takes a matrix of shape \(4, 4\)"
    ) as caught:
        layer.embeddings.assign(np.zeros((3, 4), np.float32))
    assert "set_weights" not in str(caught.value) and "Received: shape (3, 4)" in str(caught.value)
    for method in ("assign_add", "assign_sub"):
        with pytest.raises(ConfigurationError, match=rf"\.embeddings\.{method}\(\) takes a value broadcastable to"):
            getattr(layer.embeddings, method)(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(layer.get_weights()[0], before)
    layer.embeddings.assign_sub(np.ones(4, np.float32))  # One row for every row still broadcasts.
    np.testing.assert_array_equal(layer.get_weights()[0], before - 1)


def test_fit_refuses_to_train_a_matrix_replaced_after_tracing():
    layer = VocabEmbedding(4, vocabulary=["a", "b", "c"])
    model = _string_model(layer)
    model.compile("sgd", "mse")
    model.fit(TOKENS_X, TARGETS_Y, verbose=0)
    model.predict(TOKENS_X, verbose=0)  # Traces the prediction function too.
    with pytest.warns(UserWarning, match="Pass `model=`"):
        layer.update_vocabulary(["a", "b", "c", "d"])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"has new weights .* Call `model.compile"):
        model.fit(TOKENS_X, TARGETS_Y, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="has new weights"):
        model.predict(TOKENS_X, verbose=0)
    model.compile("sgd", "mse")  # The fix the message gives.
    before = layer.get_weights()[0]
    model.fit(TOKENS_X, TARGETS_Y, verbose=0)
    assert not np.array_equal(before, layer.get_weights()[0])


def test_jit_compile_falls_back_with_keras_warning_instead_of_failing_in_xla():
    model = _string_model(VocabEmbedding(4, vocabulary=["a", "b", "c"]))
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model.compile("sgd", "mse", jit_compile=True)
    history = model.fit(TOKENS_X, TARGETS_Y, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_upstream_mask_without_a_mask_token_gets_keras_warning():
    layer = VocabEmbedding(4, vocabulary=["a"])
    assert layer.supports_masking is False
    assert VocabEmbedding(4, vocabulary=["a"], mask_token="").supports_masking is True
    keys = tf.constant([["a", "b"]])
    keys._keras_mask = tf.constant([[True, False]])
    with pytest.warns(UserWarning, match="does not support masking"):
        layer(keys)


@pytest.mark.parametrize(
    "ids, expected",
    [
        (np.array([[1, 2], [2, 0]]), [["a", "b"], ["b", "[UNK]"]]),
        ([[1], [2, 0]], [["a"], ["b", "[UNK]"]]),
        (tf.ragged.constant([[1], [2, 0]]), [["a"], ["b", "[UNK]"]]),
        (tf.constant([[2, 1]]), [["b", "a"]]),
        (np.int64(2), "b"),
    ],
)
def test_id_to_token_keeps_the_shape_of_its_ids(ids, expected):
    layer = VocabEmbedding(4, vocabulary=["a", "b"])  # Ids: 0 "[UNK]", 1 "a", 2 "b".
    assert layer.id_to_token(ids) == expected


@pytest.mark.parametrize("ids", [np.array([1.0]), [True], ["a"]])
def test_id_to_token_refuses_ids_that_are_not_integers(ids):
    with pytest.raises(KeyDtypeError, match="integer ids"):
        VocabEmbedding(4, vocabulary=["a", "b"]).id_to_token(ids)


@keras.saving.register_keras_serializable(package="keras_vocabsafe_tests")
class SubclassedWordsModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.words = VocabEmbedding(4, vocabulary=["a", "b", "c"])
        self.pool = keras.layers.GlobalAveragePooling1D()
        self.score = keras.layers.Dense(1)

    def call(self, inputs):
        return self.score(self.pool(self.words(inputs)))


@pytest.mark.saving
def test_subclassed_model_reloads_every_layer_weights(tmp_path):
    model = SubclassedWordsModel()
    model.compile("adam", "mse")
    model.fit(TOKENS_X, TARGETS_Y, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded.score.kernel.numpy(), model.score.kernel.numpy())
    np.testing.assert_allclose(reloaded.predict(TOKENS_X, verbose=0), model.predict(TOKENS_X, verbose=0))


class WordsModel(keras.Model):
    def __init__(self, vocabulary, **kwargs):
        super().__init__(**kwargs)
        self.words = VocabEmbedding(4, vocabulary=vocabulary)
        self.pool = keras.layers.GlobalAveragePooling1D()

    def call(self, inputs):
        return self.pool(self.words(inputs))


@pytest.mark.saving
def test_subclassed_model_loading_weights_of_another_vocabulary_reports_the_tokens_that_differ(tmp_path):
    # Keras retries a layer that failed to load under each other attribute that refers to it, where nothing is
    # saved, and reports the last error: that must still be the real reason.
    kept_before = set(_weights_store._FAILURES)
    keys = tf.constant([["a", "b"]])
    saved = WordsModel(["a", "b", "c"])
    saved(keys)
    saved.save_weights(tmp_path / "model.weights.h5")
    other = WordsModel(["c", "b", "a"])
    other(keys)
    rows = other.words.get_weights()[0].copy()
    with pytest.raises(ValueError, match=r"different vocabulary.*first differ at id 1: saved 'a', here 'c'") as caught:
        other.load_weights(tmp_path / "model.weights.h5")
    assert "carry no vocabulary" not in str(caught.value)
    np.testing.assert_array_equal(other.words.get_weights()[0], rows)
    del caught
    gc.collect()  # The error kept for Keras's retry goes with the file: it must not hold the file or the model.
    assert set(_weights_store._FAILURES) <= kept_before


# `weights=`, as keras.layers.Embedding takes it -------------------------------------------------------------------

# Rows 0..4 of a 5 x 2 matrix: row i holds (10 * i, 10 * i + 1), so each output names the id it came from.
FIVE_ROWS = np.array([[10.0 * i, 10.0 * i + 1] for i in range(5)], dtype="float32")


@pytest.mark.parametrize("wrap", [list, lambda matrix: matrix], ids=["[matrix]", "matrix"])
@pytest.mark.parametrize(
    "make, inputs, expected_ids",
    [
        # No mask: OOV is id 0, then a, b, c, d (Keras's layout).
        (lambda w: VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=w), tf.constant(["c", "zz"]), [3, 0]),
        (lambda w: VocabIdEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=w), np.array([3, 0]), [3, 0]),
        # A mask token: the mask is id 0, OOV id 1, then a, b, c.
        (
            lambda w: VocabEmbedding(2, vocabulary=["a", "b", "c"], mask_token="", weights=w),
            tf.constant(["c", ""]),
            [4, 0],
        ),
        (
            lambda w: TextVocabEmbedding(2, vocabulary=["a", "b", "c"], output_sequence_length=2, weights=w),
            tf.constant(["C zz"]),
            [[4, 1]],
        ),
    ],
    ids=["VocabEmbedding", "VocabIdEmbedding", "mask_token", "TextVocabEmbedding"],
)
def test_weights_set_the_row_of_each_id_as_keras_embedding_does(make, inputs, expected_ids, wrap):
    layer = make(wrap(FIVE_ROWS))
    assert layer.built
    layer.build()  # A second build keeps the rows (a subclassed model's `build` calls it), as Keras's does.
    np.testing.assert_array_equal(layer(inputs), FIVE_ROWS[np.array(expected_ids)])
    assert "weights" not in layer.get_config()  # As Keras's Embedding: the rows are saved as weights.


def test_weights_with_lora_rank_are_the_base_matrix_lora_adapts():
    layer = VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[FIVE_ROWS], lora_rank=2)
    assert layer.lora_enabled
    np.testing.assert_array_equal(layer(tf.constant(["b"])), FIVE_ROWS[[2]])  # B starts at zero.
    trainable = {v.path.split("/")[-1] for v in layer.trainable_variables}
    assert trainable == {"lora_embeddings_a", "lora_embeddings_b"}


def test_weights_with_trainable_rows_keep_the_frozen_rows_through_training():
    layer = VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[FIVE_ROWS], trainable_rows=[1])
    model = keras.Sequential([keras.Input((2,), dtype="string"), layer, keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.fit(tf.constant([["a", "b"], ["c", "d"]]), tf.constant([[1.0], [-1.0]]), epochs=2, verbose=0)
    rows = layer.get_weights()[0]
    np.testing.assert_array_equal(np.delete(rows, 1, axis=0), np.delete(FIVE_ROWS, 1, axis=0))
    assert not np.array_equal(rows[1], FIVE_ROWS[1])


@pytest.mark.saving
def test_weights_survive_saving_and_loading(tmp_path):
    inputs = keras.Input((None,), dtype="string")
    model = keras.Model(inputs, VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[FIVE_ROWS])(inputs))
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded(tf.constant([["d", "a"]])), FIVE_ROWS[[[4, 1]]])


@pytest.mark.parametrize(
    "make, error, message",
    [
        # The hand-computed `len(vocabulary) + 1` that forgets the mask row.
        (
            lambda: VocabEmbedding(2, vocabulary=["a", "b", "c"], mask_token="", weights=[FIVE_ROWS[:4]]),
            ConfigurationError,
            r"shape \(4, 2\), but its ids need a matrix of shape \(5, 2\): one row per id, 5 ids \(the mask, 1 OOV "
            r"and 3 tokens\)",
        ),
        (
            lambda: VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], pad_to_multiple_of=8, weights=[FIVE_ROWS]),
            ConfigurationError,
            r"shape \(8, 2\): one row per id, 5 ids \(1 OOV and 4 tokens\), padded to 8 rows",
        ),
        (
            lambda: VocabEmbedding(3, vocabulary=["a", "b", "c", "d"], weights=[FIVE_ROWS]),
            ConfigurationError,
            r"need a matrix of shape \(5, 3\)",
        ),
        (
            lambda: VocabEmbedding(2, weights=[FIVE_ROWS]),
            ConfigurationError,
            r"got `weights` but has no vocabulary yet.*Pass `vocabulary=` with the weights, or call `adapt\(\)`",
        ),
        (
            lambda: VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[FIVE_ROWS, FIVE_ROWS]),
            ConfigurationError,
            r"has one weight, its embedding matrix, but got 2 matrices in `weights`",
        ),
        (
            lambda: VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[FIVE_ROWS.astype(str)]),
            ConfigurationError,
            r"takes a matrix of numbers as `weights`. Received an array of dtype <U",
        ),
        (
            lambda: VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], weights=[FIVE_ROWS], dtype="int8_from_float32"),
            QuantizationError,
            r"quantized dtype policy 'int8_from_float32'.*Build the layer with a float policy and `weights`, then",
        ),
    ],
    ids=["forgot_the_mask_row", "padded", "output_dim", "no_vocabulary", "two_matrices", "strings", "quantized"],
)
def test_weights_that_do_not_fit_the_ids_are_refused_with_the_shape_they_need(make, error, message):
    with pytest.raises(error, match=message):
        make()
