"""Vocabulary updates: rows follow their tokens (`update_vocabulary`, remapped loads, `warmstart_embedding_matrix`)."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vocabsafe import (
    ConfigurationError,
    DuplicateTokenError,
    PretrainedVectors,
    ReservedTokenError,
    VocabEmbedding,
    Vocabulary,
    VocabularyChangeError,
    VocabularyMismatchError,
    VocabularyUpdateReport,
    load_remapped_weights,
    warmstart_embedding_matrix,
)
from keras_vocabsafe._loading import RemapRequest, loading_request

# Most tests update a layer of a compiled model without `model=` on purpose; one test checks the warning that gives.
pytestmark = pytest.mark.filterwarnings("ignore:.*has a new embedding matrix:UserWarning")

OLD = ["the", "cat", "sat", "on", "mat", "dog"]
NEW = ["dog", "the", "bird", "mat", "cat", "fish"]  # Keeps 4 (re-ordered), drops "sat" and "on", adds 2.


def trained_model(vocabulary=OLD, *, seed=0, **layer_kwargs):
    """A small compiled model around a VocabEmbedding, fitted so that its rows and Adam moments are not initial."""
    keras.utils.set_random_seed(seed)
    layer = VocabEmbedding(8, vocabulary=vocabulary, mask_token="", name="tokens", **layer_kwargs)
    inputs = keras.Input(shape=(4,), dtype="string")
    pooled = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, name="score")(pooled))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x, y = training_data(vocabulary)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    return model, layer


def training_data(vocabulary, rows=64):
    generator = np.random.default_rng(1)
    words = [w for w in vocabulary if isinstance(w, str)] + ["unseen"]
    tokens = generator.choice(words, size=(rows, 4))
    tokens[:, 3] = ""  # Padding in every row.
    scores = np.array([[sum(len(w) for w in row) / 10.0] for row in tokens], dtype="float32")
    return tf.constant(tokens), scores


def rows_by_token(layer):
    matrix = layer.embeddings.numpy()
    return {token: matrix[i].copy() for i, token in enumerate(layer.get_vocabulary())}


def adam_slots(model):
    """The embedding's Adam moments, by optimizer variable name."""
    return {v.path: v.numpy().copy() for v in model.optimizer.variables if "tokens_embeddings" in v.path}


# update_vocabulary ------------------------------------------------------------------------------------------------


def test_update_keeps_every_surviving_tokens_row_bit_identical():
    model, layer = trained_model()
    before = rows_by_token(layer)
    layer.update_vocabulary(NEW, model=model)
    after = rows_by_token(layer)
    assert layer.get_vocabulary() == ["", "[UNK]", *NEW]
    assert layer.embeddings.shape == (2 + len(NEW), 8)
    for token in ["", "[UNK]", "dog", "the", "mat", "cat"]:
        np.testing.assert_array_equal(after[token], before[token])


def test_update_calls_map_tokens_to_their_new_ids():
    model, layer = trained_model()
    before = layer.get_vectors(tf.constant(["cat", "sat", "dog"]))
    layer.update_vocabulary(NEW, model=model)
    after = layer.get_vectors(tf.constant(["cat", "sat", "dog"]))
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[2], before[2])
    # "sat" left the vocabulary: it now reads the OOV row.
    np.testing.assert_array_equal(after[1], layer.get_vectors(tf.constant("never seen")))
    assert layer.token_to_id("bird") == 2 + NEW.index("bird")


def test_report_counts_kept_added_dropped_and_reordered():
    model, layer = trained_model()
    report = layer.update_vocabulary(NEW, model=model)
    assert isinstance(report, VocabularyUpdateReport)
    assert (report.old_size, report.new_size) == (8, 8)
    assert (report.kept, report.added, report.dropped) == (4, 2, 2)
    # the 2->3, cat 3->6, mat 6->5, dog 7->2 all moved.
    assert report.reordered == 4
    assert set(report.added_tokens) == {b"bird", b"fish"}
    assert set(report.dropped_tokens) == {b"sat", b"on"}
    assert report.optimizer_variables == 2  # Adam's momentum and velocity of the embedding.
    text = str(report)
    assert "8 -> 8 ids" in text and "'bird'" in text and "'sat'" in text
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["added_tokens"] == ["bird", "fish"] and as_dict["kept"] == 4


def test_update_accepts_get_vocabulary_output_with_special_tokens():
    other = VocabEmbedding(8, vocabulary=NEW, mask_token="")
    model, layer = trained_model()
    report = layer.update_vocabulary(other.get_vocabulary(), model=model)
    assert layer.get_vocabulary() == other.get_vocabulary()
    assert report.kept == 4


def test_new_rows_mean_is_the_mean_of_the_old_token_rows():
    model, layer = trained_model()
    old_token_rows = layer.embeddings.numpy()[2:]  # Without the mask and OOV rows.
    layer.update_vocabulary(NEW, model=model)
    expected = old_token_rows.astype(np.float64).mean(axis=0).astype(np.float32)
    after = rows_by_token(layer)
    np.testing.assert_allclose(after["bird"], expected, rtol=1e-6)
    np.testing.assert_allclose(after["fish"], expected, rtol=1e-6)


def test_new_rows_zeros_and_keras_initializers():
    _, layer = trained_model()
    layer.update_vocabulary(NEW, new_embeddings_initializer="zeros")
    np.testing.assert_array_equal(rows_by_token(layer)["bird"], np.zeros(8, np.float32))
    _, layer = trained_model()
    layer.update_vocabulary(NEW, new_embeddings_initializer=keras.initializers.Constant(0.25))
    np.testing.assert_array_equal(rows_by_token(layer)["fish"], np.full(8, 0.25, np.float32))
    _, layer = trained_model()
    layer.update_vocabulary(NEW, new_embeddings_initializer="ones")
    np.testing.assert_array_equal(rows_by_token(layer)["fish"], np.ones(8, np.float32))


def test_new_rows_mean_cov_follow_the_old_rows_statistics():
    generator = np.random.default_rng(0)
    old_tokens = [f"old{i}" for i in range(3000)]
    layer = VocabEmbedding(4, vocabulary=old_tokens)
    layer.build()
    covariance = np.array([[1.0, 0.8, 0, 0], [0.8, 1.0, 0, 0], [0, 0, 0.25, 0], [0, 0, 0, 4.0]])
    rows = generator.multivariate_normal([1.0, -2.0, 0.5, 3.0], covariance, size=3001).astype(np.float32)
    layer.embeddings.assign(rows)
    reference = rows[1:].astype(np.float64)  # Token rows only.
    new_tokens = [f"new{i}" for i in range(4000)]
    layer.update_vocabulary(old_tokens[:10] + new_tokens, new_embeddings_initializer="mean_cov", seed=3)
    drawn = layer.embeddings.numpy()[11:].astype(np.float64)
    assert drawn.shape == (4000, 4)
    np.testing.assert_allclose(drawn.mean(axis=0), reference.mean(axis=0), atol=0.1)
    np.testing.assert_allclose(np.cov(drawn, rowvar=False), np.cov(reference, rowvar=False), atol=0.2)
    assert len(np.unique(drawn[:, 0])) == 4000  # Drawn, not one repeated row.


def test_new_rows_mean_std_follow_the_old_rows_per_dimension_scale():
    generator = np.random.default_rng(0)
    old_tokens = [f"old{i}" for i in range(3000)]
    layer = VocabEmbedding(3, vocabulary=old_tokens)
    layer.build()
    rows = generator.normal([1.0, -2.0, 5.0], [0.5, 2.0, 0.1], size=(3001, 3)).astype(np.float32)
    layer.embeddings.assign(rows)
    reference = rows[1:].astype(np.float64)  # Token rows only.
    report = layer.update_vocabulary(
        old_tokens[:10] + [f"new{i}" for i in range(4000)], new_embeddings_initializer="mean_std", seed=3
    )
    drawn = layer.embeddings.numpy()[11:].astype(np.float64)
    np.testing.assert_allclose(drawn.mean(axis=0), reference.mean(axis=0), atol=0.1)
    np.testing.assert_allclose(drawn.std(axis=0), reference.std(axis=0), rtol=0.05)
    assert report.new_embeddings_initializer == "mean_std"
    assert "(rows: mean_std)" in str(report)


def test_update_refuses_the_old_name_of_mean_std():
    _, layer = trained_model()
    with pytest.raises(ConfigurationError, match="Received: new_embeddings_initializer='random'"):
        layer.update_vocabulary(NEW, new_embeddings_initializer="random")
    assert layer.get_vocabulary() == ["", "[UNK]", *OLD]


def test_new_rows_mean_cov_is_reproducible_with_a_seed():
    first, second = trained_model()[1], trained_model()[1]
    first.update_vocabulary(NEW, new_embeddings_initializer="mean_cov", seed=7)
    second.update_vocabulary(NEW, new_embeddings_initializer="mean_cov", seed=7)
    np.testing.assert_array_equal(first.embeddings.numpy(), second.embeddings.numpy())


def test_new_rows_from_pretrained_vectors_else_mean():
    _, layer = trained_model()
    old_token_rows = layer.embeddings.numpy()[2:]
    bird = np.arange(8, dtype=np.float32)
    vectors = PretrainedVectors(Vocabulary(["bird", "zebra"]), np.stack([bird, -bird]))
    layer.update_vocabulary(NEW, new_embeddings_initializer=vectors)
    after = rows_by_token(layer)
    np.testing.assert_array_equal(after["bird"], bird)
    np.testing.assert_allclose(after["fish"], old_token_rows.astype(np.float64).mean(axis=0), rtol=1e-6)


def test_fit_continues_after_update_and_loss_keeps_going_down():
    model, layer = trained_model()
    iterations = int(model.optimizer.iterations.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # No stale-model warning when the model is passed.
        layer.update_vocabulary(NEW, model=model)
    assert int(model.optimizer.iterations.numpy()) == iterations
    x, y = training_data(NEW)
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    assert np.isfinite(losses).all()
    assert int(model.optimizer.iterations.numpy()) == iterations + 8 * 8
    # Training reached the new rows.
    assert not np.array_equal(rows_by_token(layer)["bird"], rows_by_token(layer)["fish"])


def test_optimizer_moments_follow_their_tokens():
    model, layer = trained_model()
    old_ids = {token: i for i, token in enumerate(layer.get_vocabulary())}
    before = adam_slots(model)
    assert len(before) == 2
    layer.update_vocabulary(NEW, model=model)
    after = adam_slots(model)
    assert after.keys() == before.keys()
    new_ids = {token: i for i, token in enumerate(layer.get_vocabulary())}
    for name, old_value in before.items():
        new_value = after[name]
        assert new_value.shape == (8, 8)
        for token in ["", "[UNK]", "dog", "the", "mat", "cat"]:
            np.testing.assert_array_equal(new_value[new_ids[token]], old_value[old_ids[token]])
        for token in ["bird", "fish"]:
            np.testing.assert_array_equal(new_value[new_ids[token]], np.zeros(8, np.float32))
        assert np.abs(old_value[old_ids["cat"]]).sum() > 0  # The copied state is not trivially zero.


@pytest.mark.parametrize(
    "make_optimizer, slots",
    [
        (lambda: keras.optimizers.SGD(0.1, momentum=0.9), ["momentum"]),
        (lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.05)), ["momentum", "velocity"]),
        (lambda: keras.optimizers.AdamW(0.05, use_ema=True), ["average", "momentum", "velocity"]),
    ],
    ids=["sgd-momentum", "loss-scale-adam", "adamw-ema"],
)
def test_optimizer_state_follows_tokens_for_other_optimizers(make_optimizer, slots):
    model, layer = trained_model()
    model.compile(optimizer=make_optimizer(), loss="mse")
    x, y = training_data(OLD)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    old_ids = {token: i for i, token in enumerate(layer.get_vocabulary())}
    before = {v.path.rsplit("_", 1)[-1]: v.numpy().copy() for v in model.optimizer.variables if "tokens_emb" in v.path}
    assert sorted(before) == slots
    report = layer.update_vocabulary(NEW, model=model)
    assert report.optimizer_variables == len(slots)
    after = {v.path.rsplit("_", 1)[-1]: v.numpy() for v in model.optimizer.variables if "tokens_emb" in v.path}
    new_ids = {token: i for i, token in enumerate(layer.get_vocabulary())}
    for slot in slots:
        for token in ["", "[UNK]", "dog", "cat"]:
            np.testing.assert_array_equal(after[slot][new_ids[token]], before[slot][old_ids[token]])
    if "average" in slots:  # The EMA of a new row starts at the row itself, not at zero.
        np.testing.assert_array_equal(after["average"][new_ids["bird"]], rows_by_token(layer)["bird"])
    losses = model.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"]
    assert np.isfinite(losses).all()


def test_other_optimizer_state_is_carried_over():
    model, layer = trained_model()
    dense = {v.path: v.numpy().copy() for v in model.optimizer.variables if "score" in v.path}
    layer.update_vocabulary(NEW, model=model)
    for variable in model.optimizer.variables:
        if "score" in variable.path:
            np.testing.assert_array_equal(variable.numpy(), dense[variable.path])


def test_optimizer_state_of_a_layer_whose_name_extends_this_ones_is_left_alone():
    # Keras names a slot after its variable's path: layer "item" has "item_embeddings_momentum", and layer
    # "item_embeddings" has "item_embeddings_embeddings_momentum", which starts with the same text.
    keras.utils.set_random_seed(0)
    item = VocabEmbedding(4, vocabulary=OLD, name="item")
    other = VocabEmbedding(4, vocabulary=[f"u{i}" for i in range(12)], name="item_embeddings")
    first, second = keras.Input((2,), dtype="string"), keras.Input((2,), dtype="string")
    pooled = [keras.layers.Flatten()(layer(x)) for layer, x in ((item, first), (other, second))]
    model = keras.Model([first, second], keras.layers.Dense(1)(keras.layers.Concatenate()(pooled)))
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit([tf.constant([["cat", "dog"]]), tf.constant([["u1", "u11"]])], np.ones((1, 1)), epochs=2, verbose=0)
    others = {v.path: v.numpy().copy() for v in model.optimizer.variables if "item_embeddings_embeddings" in v.path}
    assert len(others) == 2 and all(value[[2, 12]].any() for value in others.values())  # u1's and u11's rows.
    report = item.update_vocabulary(NEW, model=model)
    assert report.optimizer_variables == 2  # item's two moments, not the other layer's.
    for variable in model.optimizer.variables:
        if variable.path in others:
            np.testing.assert_array_equal(variable.numpy(), others[variable.path])


def test_update_without_model_warns_that_the_compiled_model_is_stale_and_recompiling_trains():
    model, layer = trained_model()
    with pytest.warns(UserWarning, match=r"pass `model=`|Pass `model=`"):
        layer.update_vocabulary(NEW)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x, y = training_data(NEW)
    losses = model.fit(x, y, epochs=4, batch_size=8, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_update_with_data_re_adapts_and_merge_appends():
    layer = VocabEmbedding(4)
    layer.adapt([["a", "a", "a", "b", "b", "c"]])
    layer.build()
    before = rows_by_token(layer)
    layer.update_vocabulary(data=[["d", "d", "a", "e"]])
    assert layer.get_vocabulary() == ["[UNK]", "d", "a", "e"]
    np.testing.assert_array_equal(rows_by_token(layer)["a"], before["a"])

    layer = VocabEmbedding(4)
    layer.adapt([["a", "a", "a", "b", "b", "c"]])
    layer.build()
    before = rows_by_token(layer)
    report = layer.update_vocabulary(data=[["e", "d", "d", "a"]], merge=True)
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "c", "d", "e"]  # Old ids unchanged; new by count.
    assert (report.kept, report.added, report.dropped, report.reordered) == (3, 2, 0, 0)
    np.testing.assert_array_equal(rows_by_token(layer)["c"], before["c"])


def test_merge_with_a_cap_evicts_the_least_frequent():
    layer = VocabEmbedding(4)
    layer.adapt([["a"] * 5 + ["b"] * 1 + ["c"] * 3])
    layer.build()
    report = layer.update_vocabulary(data=[["d", "d", "d", "d", "e"]], merge=True, max_tokens=4)
    # Counts: a 5, d 4, c 3, b 1, e 1: keep a, c, d; old ones keep their order.
    assert layer.get_vocabulary() == ["[UNK]", "a", "c", "d"]
    assert layer.max_tokens == 4
    assert (report.dropped, report.added) == (1, 1)
    assert layer.get_config()["max_tokens"] == 4


def test_update_on_an_unbuilt_layer_sets_the_vocabulary():
    layer = VocabEmbedding(4, vocabulary=OLD)
    report = layer.update_vocabulary(NEW)
    assert layer.get_vocabulary() == ["[UNK]", *NEW]
    assert not layer.built and report.kept == 4
    layer.build()
    assert layer.embeddings.shape == (7, 4)


def test_integer_vocabulary_update():
    layer = VocabEmbedding(3, vocabulary=[10, 20, 30], vocabulary_dtype="int64")
    layer.build()
    before = rows_by_token(layer)
    layer.update_vocabulary([30, 40, 10])
    after = rows_by_token(layer)
    assert layer.get_vocabulary() == [-1, 30, 40, 10]
    np.testing.assert_array_equal(after[10], before[10])
    np.testing.assert_array_equal(after[30], before[30])
    np.testing.assert_array_equal(after[-1], before[-1])


def test_trainable_rows_follow_their_tokens_and_frozen_rows_stay_frozen():
    model, layer = trained_model(trainable_rows=[1, 2, 3])  # OOV, "the", "cat" train; the rest is frozen.
    layer.update_vocabulary(NEW, model=model)
    vocabulary = layer.get_vocabulary()
    expected = sorted([1, vocabulary.index("the"), vocabulary.index("cat"), vocabulary.index("bird"), 7])
    assert list(layer.trainable_rows) == expected
    frozen = rows_by_token(layer)
    x, y = training_data(NEW)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    after = rows_by_token(layer)
    for token in ["dog", "mat", ""]:
        np.testing.assert_array_equal(after[token], frozen[token])
    assert not np.array_equal(after["the"], frozen["the"])


@pytest.mark.parametrize(
    ("trainable_tokens", "vocabulary"),
    [(["sat"], ["the", "cat"]), ([], list(reversed(OLD)))],
    ids=["every-trainable-token-dropped", "none-trainable-before-or-after"],
)
def test_update_with_model_when_no_row_trains_afterwards_rebuilds_the_optimizer(trainable_tokens, vocabulary):
    # The layer then has no trained matrix: `update_vocabulary(model=)` raised AttributeError ('NoneType' object has
    # no attribute 'path') after the layer had already changed, and left the model's old optimizer and functions.
    model, layer = trained_model(trainable_rows=[OLD.index(token) + 2 for token in trainable_tokens])
    layer.update_vocabulary(vocabulary, model=model)
    assert layer.trainable_rows == () and layer.trainable_weights == []
    frozen = rows_by_token(layer)
    score = model.get_layer("score").kernel.numpy().copy()
    model.fit(*training_data(vocabulary), epochs=1, batch_size=8, verbose=0)
    after = rows_by_token(layer)
    assert all(np.array_equal(after[token], frozen[token]) for token in frozen)
    assert not np.array_equal(model.get_layer("score").kernel.numpy(), score)  # The rest of the model trains.


# Errors -----------------------------------------------------------------------------------------------------------


def test_update_needs_exactly_one_of_vocabulary_and_data():
    layer = VocabEmbedding(4, vocabulary=OLD)
    with pytest.raises(ConfigurationError, match="exactly one of"):
        layer.update_vocabulary()
    with pytest.raises(ConfigurationError, match="exactly one of"):
        layer.update_vocabulary(NEW, data=[["a"]])
    with pytest.raises(ConfigurationError, match="merge=True"):
        layer.update_vocabulary(NEW, merge=True)


def test_update_refuses_special_tokens_in_the_vocabulary_and_leaves_the_layer_unchanged():
    _, layer = trained_model()
    matrix = layer.embeddings.numpy()
    with pytest.raises(ReservedTokenError, match="oov_token"):
        layer.update_vocabulary(["dog", "[UNK]", "cat"])
    with pytest.raises(ReservedTokenError, match="mask_token"):
        layer.update_vocabulary(["dog", "", "cat"])
    assert layer.get_vocabulary() == ["", "[UNK]", *OLD]
    np.testing.assert_array_equal(layer.embeddings.numpy(), matrix)


def test_update_refuses_duplicate_tokens():
    _, layer = trained_model()
    with pytest.raises(DuplicateTokenError):
        layer.update_vocabulary(["dog", "cat", "dog"])
    assert layer.get_vocabulary() == ["", "[UNK]", *OLD]


def test_update_refuses_vectors_of_another_dimension_and_a_too_small_cap():
    _, layer = trained_model()
    vectors = PretrainedVectors(Vocabulary(["bird"]), np.ones((1, 5), np.float32))
    with pytest.raises(ConfigurationError, match="cannot change output_dim"):
        layer.update_vocabulary(NEW, new_embeddings_initializer=vectors)
    with pytest.raises(ConfigurationError, match="max_tokens"):
        layer.update_vocabulary(NEW, max_tokens=5)
    assert layer.max_tokens is None
    with pytest.raises(ConfigurationError, match="new_embeddings_initializer"):
        layer.update_vocabulary(NEW, new_embeddings_initializer="no such rule", max_tokens=100)
    assert layer.get_vocabulary() == ["", "[UNK]", *OLD]
    assert layer.max_tokens is None  # A failed update changes nothing, its new bound included.


def test_set_vocabulary_on_a_trained_layer_points_to_update_vocabulary():
    _, layer = trained_model()
    with pytest.raises(VocabularyChangeError, match="update_vocabulary"):
        layer.set_vocabulary(NEW)


# Saving and loading across vocabularies ---------------------------------------------------------------------------


@pytest.mark.saving
def test_save_and_reload_after_update_restores_the_new_shapes(tmp_path):
    model, layer = trained_model()
    layer.update_vocabulary(NEW, model=model)
    x, y = training_data(NEW)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "updated.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    restored_layer = restored.get_layer("tokens")
    assert restored_layer.get_vocabulary() == layer.get_vocabulary()
    assert restored_layer.embeddings.shape == layer.embeddings.shape
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    restored.fit(x, y, epochs=1, batch_size=8, verbose=0)  # The restored optimizer matches the new shapes.


@pytest.mark.saving
def test_old_weights_load_into_the_new_vocabulary_only_through_remapping(tmp_path):
    old_model, old_layer = trained_model()
    path = tmp_path / "old.weights.h5"
    old_model.save_weights(path)
    new_model, new_layer = trained_model(NEW, seed=5)
    with pytest.raises(ValueError, match="different vocabulary"):
        new_model.load_weights(path)

    new_model, new_layer = trained_model(NEW, seed=5)
    reports = load_remapped_weights(new_model, path)
    old_rows, new_rows = rows_by_token(old_layer), rows_by_token(new_layer)
    for token in ["", "[UNK]", "dog", "the", "mat", "cat"]:
        np.testing.assert_array_equal(new_rows[token], old_rows[token])
    expected_mean = old_layer.embeddings.numpy()[2:].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(new_rows["bird"], expected_mean, rtol=1e-6)
    np.testing.assert_array_equal(
        new_model.get_layer("score").kernel.numpy(), old_model.get_layer("score").kernel.numpy()
    )
    report = reports["tokens"]
    assert (report.kept, report.added, report.dropped) == (4, 2, 2)


@pytest.mark.saving
def test_remapped_load_reads_a_keras_file_and_the_layer_refuses_plain_loads_again(tmp_path):
    old_model, old_layer = trained_model()
    path = tmp_path / "old.keras"
    old_model.save(path)
    new_model, new_layer = trained_model(NEW, seed=5)
    load_remapped_weights(new_model, path, new_embeddings_initializer="zeros")
    np.testing.assert_array_equal(rows_by_token(new_layer)["cat"], rows_by_token(old_layer)["cat"])
    np.testing.assert_array_equal(rows_by_token(new_layer)["fish"], np.zeros(8, np.float32))
    with pytest.raises(ValueError, match="different vocabulary"):
        new_model.load_weights(path)


@pytest.mark.saving
def test_remapped_load_refuses_another_output_dim_and_other_special_tokens(tmp_path):
    old_model, _ = trained_model()
    path = tmp_path / "old.weights.h5"
    old_model.save_weights(path)
    layer = VocabEmbedding(5, vocabulary=NEW, mask_token="", name="tokens")
    inputs = keras.Input(shape=(4,), dtype="string")
    pooled = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, name="score")(pooled))
    with pytest.raises(ValueError, match=r"saved output_dim is 8, this layer's is 5"):
        load_remapped_weights(model, path)

    layer = VocabEmbedding(8, vocabulary=NEW, mask_token=None, num_oov_indices=2, name="tokens")
    store = {}
    old_model.get_layer("tokens").save_own_variables(store)
    # What load_remapped_weights() asks of each layer while Keras loads.
    remap = RemapRequest("mean", None)
    with pytest.raises(VocabularyMismatchError, match="other special tokens"), loading_request(remap):
        layer.load_own_variables(store)

    two_oov = VocabEmbedding(8, vocabulary=OLD, mask_token="", num_oov_indices=2, name="tokens")
    two_oov.build()
    store = {}
    two_oov.save_own_variables(store)
    one_oov = VocabEmbedding(8, vocabulary=NEW, mask_token="", name="tokens")
    with pytest.raises(VocabularyMismatchError, match="num_oov_indices"), loading_request(remap):
        one_oov.load_own_variables(store)


# pad_to_multiple_of -----------------------------------------------------------------------------------------------


def test_pad_to_multiple_of_rounds_the_rows_up_with_zero_padding():
    layer = VocabEmbedding(4, vocabulary=OLD, mask_token="", pad_to_multiple_of=16)
    layer.build()
    assert layer.vocabulary_size() == 8
    assert layer.embeddings.shape == (16, 4)
    np.testing.assert_array_equal(layer.embeddings.numpy()[8:], np.zeros((8, 4), np.float32))
    assert np.abs(layer.embeddings.numpy()[:8]).sum() > 0


def test_padding_rows_are_never_selected():
    layer = VocabEmbedding(4, vocabulary=OLD, mask_token="", num_oov_indices=3, pad_to_multiple_of=32)
    keys = tf.constant(OLD + ["", "unknown", "other", "x" * 50] + [f"k{i}" for i in range(500)])
    ids = layer.token_to_id(keys)
    assert ids.max() < layer.vocabulary_size()


@pytest.mark.saving
def test_padding_survives_save_load_and_update(tmp_path):
    model, layer = trained_model(pad_to_multiple_of=16)
    assert layer.embeddings.shape == (16, 8)
    path = tmp_path / "padded.keras"
    model.save(path)
    restored = keras.saving.load_model(path).get_layer("tokens")
    assert restored.pad_to_multiple_of == 16 and restored.embeddings.shape == (16, 8)
    np.testing.assert_array_equal(restored.embeddings.numpy(), layer.embeddings.numpy())
    layer.update_vocabulary(OLD + [f"new{i}" for i in range(12)], model=model)
    assert layer.vocabulary_size() == 20
    assert layer.embeddings.shape == (32, 8)
    np.testing.assert_array_equal(layer.embeddings.numpy()[20:], np.zeros((12, 8), np.float32))


@pytest.mark.saving
def test_weights_padded_differently_are_refused(tmp_path):
    padded = VocabEmbedding(4, vocabulary=OLD, pad_to_multiple_of=16, name="tokens")
    padded.build()
    store = {}
    padded.save_own_variables(store)
    plain = VocabEmbedding(4, vocabulary=OLD, name="tokens")
    plain.build()
    with pytest.raises(VocabularyMismatchError, match="pad_to_multiple_of"):
        plain.load_own_variables(store)


def test_pad_to_multiple_of_is_validated():
    with pytest.raises(ConfigurationError, match="pad_to_multiple_of"):
        VocabEmbedding(4, pad_to_multiple_of=0)


# warmstart_embedding_matrix ---------------------------------------------------------------------------------------


def test_warmstart_copies_rows_by_token():
    base = np.arange(len(OLD) * 3, dtype=np.float32).reshape(len(OLD), 3)
    matrix = warmstart_embedding_matrix(OLD, NEW, base, new_embeddings_initializer="zeros")
    assert matrix.shape == (len(NEW), 3)
    for i, token in enumerate(NEW):
        expected = base[OLD.index(token)] if token in OLD else np.zeros(3, np.float32)
        np.testing.assert_array_equal(matrix[i], expected)


def test_warmstart_accepts_tensors_variables_and_keras_initializers():
    base = keras.Variable(np.ones((len(OLD), 3), np.float32))
    matrix = warmstart_embedding_matrix(tf.constant(OLD), NEW, base, keras.initializers.Constant(7.0))
    np.testing.assert_array_equal(matrix[NEW.index("bird")], np.full(3, 7.0, np.float32))
    np.testing.assert_array_equal(matrix[NEW.index("cat")], np.ones(3, np.float32))


def test_warmstart_matches_repeated_special_tokens_occurrence_by_occurrence():
    base_vocabulary = ["", "[UNK]", "[UNK]", "a", "b"]
    base = np.arange(5, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    matrix = warmstart_embedding_matrix(base_vocabulary, ["", "[UNK]", "[UNK]", "b", "c"], base, "zeros")
    np.testing.assert_array_equal(matrix[:, 0], [0, 1, 2, 4, 0])
    with pytest.raises(DuplicateTokenError, match="ambiguous"):
        warmstart_embedding_matrix(base_vocabulary, ["", "[UNK]", "a"], base, "zeros")


def test_warmstart_checks_the_base_matrix_shape():
    with pytest.raises(ConfigurationError, match="one row per token"):
        warmstart_embedding_matrix(OLD, NEW, np.zeros((3, 2)))


# A failed update with `model=` changes nothing -------------------------------------------------------------------


class UnconfigurableAdam(keras.optimizers.Adam):
    """An optimizer whose `get_config()` lacks an argument of its `__init__`, so `from_config` fails."""

    def __init__(self, learning_rate, extra, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.extra = extra


class BoundedSGD(keras.optimizers.SGD):
    """An optimizer that can be re-created but refuses, when built, an embedding of more than `max_rows` rows."""

    def __init__(self, learning_rate=0.1, max_rows=8, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.max_rows = max_rows

    def build(self, variables):
        if any(v.name.endswith("embeddings") and v.shape[0] > self.max_rows for v in variables):
            raise ValueError(f"variables of at most {self.max_rows} rows")
        super().build(variables)

    def get_config(self):
        return {**super().get_config(), "max_rows": self.max_rows}


def _state(model, layer):
    return {
        "vocabulary": layer.get_vocabulary(),
        "trainable_rows": layer.trainable_rows,
        "weights": [(id(v), v.path, v.numpy().copy()) for v in layer.weights],
        "model_weights": [id(v) for v in model.weights],
        "optimizer": model.optimizer,
        "slots": [(v.path, v.numpy().copy()) for v in model.optimizer.variables],
        "train_function": model.train_function,
    }


def _assert_same_state(before, after):
    assert after["vocabulary"] == before["vocabulary"]
    assert after["trainable_rows"] == before["trainable_rows"]
    assert [w[:2] for w in after["weights"]] == [w[:2] for w in before["weights"]]
    for (_, _, old), (_, _, new) in zip(before["weights"], after["weights"]):
        np.testing.assert_array_equal(new, old)
    assert after["model_weights"] == before["model_weights"]
    assert after["optimizer"] is before["optimizer"]
    assert [path for path, _ in after["slots"]] == [path for path, _ in before["slots"]]
    for (_, old), (_, new) in zip(before["slots"], after["slots"]):
        np.testing.assert_array_equal(new, old)
    assert after["train_function"] is before["train_function"]


@pytest.mark.parametrize("trainable_rows", [None, [2, 3, 7]], ids=["every-row", "trainable-rows"])
@pytest.mark.parametrize(
    ("make_optimizer", "match"),
    [
        (lambda rows: UnconfigurableAdam(0.05, extra=1), "cannot be re-created from its config"),
        (lambda rows: keras.optimizers.Adafactor(0.05), "not named after a variable"),
        (lambda rows: BoundedSGD(0.05, momentum=0.9, max_rows=rows), "could not be rebuilt for the new rows"),
    ],
    ids=["not-from-config", "unattributed-row-state", "build-fails-after-the-weights-changed"],
)
def test_update_with_a_model_whose_optimizer_cannot_follow_changes_nothing(make_optimizer, match, trainable_rows):
    # The optimizer was rebuilt after the layer's vocabulary and weights were replaced, so a failure there left the
    # layer updated and the model's optimizer and functions built for the old variables (or, for Adafactor, its
    # per-row statistics were copied by position: attached to other tokens).
    model, layer = trained_model(trainable_rows=trainable_rows)
    model.compile(optimizer=make_optimizer(layer.trainable_weights[0].shape[0]), loss="mse")
    x, y = training_data(OLD)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    before = _state(model, layer)
    with pytest.raises(ConfigurationError, match=match):
        layer.update_vocabulary([*NEW, "extra"], model=model)  # More trained rows than before.
    _assert_same_state(before, _state(model, layer))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # The model trains on, as before the call.
    assert layer(tf.constant([["dog", "sat"]])).shape == (1, 2, 8)


class CountedAdam(keras.optimizers.Adam):
    """Adam that counts how many optimizers its `from_config` re-creates."""

    created = 0

    @classmethod
    def from_config(cls, config, custom_objects=None):
        cls.created += 1
        return super().from_config(config, custom_objects=custom_objects)


def test_update_with_a_model_re_creates_its_optimizer_once():
    # The check before anything changes re-created the optimizer from its config, then the remap did it again.
    model, layer = trained_model()
    model.compile(optimizer=CountedAdam(0.05), loss="mse")
    x, y = training_data(OLD)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    CountedAdam.created = 0
    report = layer.update_vocabulary(NEW, model=model)
    assert CountedAdam.created == 1 and isinstance(model.optimizer, CountedAdam)
    assert report.optimizer_variables > 0
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)


def test_update_with_a_model_that_does_not_hold_the_layer_changes_nothing():
    model, layer = trained_model()
    other, _ = trained_model(seed=1)
    before = _state(model, layer)
    with pytest.raises(ConfigurationError, match="does not hold this layer"):
        layer.update_vocabulary(NEW, model=other)
    _assert_same_state(before, _state(model, layer))
