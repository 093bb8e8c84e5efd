"""Row-sparse training (`keras_vocabsafe.optimizers`): only the touched rows move, and how they move.

Expected values come from NumPy (TensorFlow Addons' LazyAdam equations written out), from Keras's own dense
optimizers fed a dense gradient, or from the matrix before training.
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

from keras_vocabsafe import VocabEmbedding, VocabIdEmbedding
from keras_vocabsafe.optimizers import LazyAdam, SparseSGD

TOKENS = [f"t{i}" for i in range(40)]
OUTPUT_DIM = 4


def _string_model(optimizer, **layer_kwargs):
    keras.utils.set_random_seed(0)
    strings = keras.Input(shape=(None,), dtype="string")
    embedding = VocabEmbedding(OUTPUT_DIM, vocabulary=TOKENS, name="words", **layer_kwargs)
    pooled = keras.layers.GlobalAveragePooling1D()(embedding(strings))
    model = keras.Model(strings, keras.layers.Dense(1)(pooled))
    model.compile(optimizer=optimizer, loss="mse")
    return model, embedding


def _ids(layer, tokens):
    return layer.lookup()(tf.constant(tokens)).numpy()


def _batches(rows):
    """Strings made of `TOKENS[rows]`, two rows of three tokens, and fixed targets."""
    text = np.array([[TOKENS[i] for i in rows[:3]], [TOKENS[i] for i in rows[3:6]]])
    return tf.constant(text), np.array([[1.0], [-1.0]], np.float32)


def _slots(optimizer, variable):
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index].numpy(), optimizer._velocities[index].numpy()


def test_untouched_rows_and_their_slots_stay_bit_identical_under_fit():
    model, embedding = _string_model(LazyAdam(0.05))
    first, later = [0, 1, 2, 3, 4, 5], [0, 1, 2, 0, 1, 2]
    model.fit(*_batches(first), epochs=1, verbose=0)
    after_first = embedding.embeddings.numpy().copy()
    slots_first = _slots(model.optimizer, embedding.embeddings)
    model.fit(*_batches(later), epochs=4, verbose=0)
    untouched = _ids(embedding, [TOKENS[i] for i in (3, 4, 5)])
    touched = _ids(embedding, [TOKENS[i] for i in (0, 1, 2)])
    after = embedding.embeddings.numpy()
    np.testing.assert_array_equal(after[untouched], after_first[untouched])
    for before, now in zip(slots_first, _slots(model.optimizer, embedding.embeddings)):
        np.testing.assert_array_equal(now[untouched], before[untouched])
        assert np.all(before[untouched] != 0)  # they had momentum, which dense Adam would have kept applying
    assert np.all(np.any(after[touched] != after_first[touched], axis=1))
    never = np.setdiff1d(np.arange(after.shape[0]), np.concatenate([untouched, touched]))
    keras.utils.set_random_seed(0)
    np.testing.assert_array_equal(after[never], _string_model("sgd")[1].embeddings.numpy()[never])


def test_dense_adam_moves_the_rows_lazy_adam_leaves():
    # The counterpart of the test above: the difference is real, not an artefact of the set-up.
    model, embedding = _string_model(keras.optimizers.Adam(0.05))
    model.fit(*_batches([0, 1, 2, 3, 4, 5]), epochs=1, verbose=0)
    after_first = embedding.embeddings.numpy().copy()
    model.fit(*_batches([0, 1, 2, 0, 1, 2]), epochs=2, verbose=0)
    untouched = _ids(embedding, [TOKENS[i] for i in (3, 4, 5)])
    assert np.all(np.any(embedding.embeddings.numpy()[untouched] != after_first[untouched], axis=1))


def _numpy_lazy_adam(matrix, steps, lr, beta_1, beta_2, epsilon, amsgrad, weight_decay):
    """TensorFlow Addons' LazyAdam (plus Keras's decoupled decay on the same rows), written out in NumPy."""
    matrix = matrix.astype(np.float64)
    m, v, v_hat = np.zeros_like(matrix), np.zeros_like(matrix), np.zeros_like(matrix)
    for t, (ids, grads) in enumerate(steps, start=1):
        rows = np.unique(ids)
        g = np.zeros((len(rows), matrix.shape[1]))
        for i, grad in zip(ids, grads):
            g[np.searchsorted(rows, i)] += grad
        if weight_decay:
            matrix[rows] -= matrix[rows] * weight_decay * lr
        m[rows] = beta_1 * m[rows] + (1 - beta_1) * g
        v[rows] = beta_2 * v[rows] + (1 - beta_2) * g * g
        denominator = v[rows]
        if amsgrad:
            v_hat[rows] = np.maximum(v_hat[rows], v[rows])
            denominator = v_hat[rows]
        lr_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        matrix[rows] -= lr_t * m[rows] / (np.sqrt(denominator) + epsilon)
    return matrix


@pytest.mark.parametrize(("amsgrad", "weight_decay"), [(False, None), (True, None), (False, 0.1)])
def test_touched_rows_follow_lazy_adam_equations(amsgrad, weight_decay):
    rng = np.random.default_rng(1)
    layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS)
    layer.build()
    start = layer.embeddings.numpy().copy()
    optimizer = LazyAdam(0.02, beta_1=0.8, beta_2=0.9, epsilon=1e-6, amsgrad=amsgrad, weight_decay=weight_decay)
    # Repeated ids within a batch, rows that come back after a pause, and one row touched only once.
    id_batches = [[3, 3, 7, 9], [7, 11, 3, 3], [9, 9, 9, 12], [3, 20, 7, 11]]
    steps = []
    for ids in id_batches:
        upstream = rng.normal(size=(len(ids), OUTPUT_DIM)).astype(np.float32)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(tf.constant(ids)) * upstream)
        (gradient,) = tape.gradient(loss, layer.trainable_variables)
        assert isinstance(gradient, tf.IndexedSlices)
        optimizer.apply_gradients([(gradient, layer.trainable_variables[0])])
        steps.append((ids, upstream))
    expected = _numpy_lazy_adam(start, steps, 0.02, 0.8, 0.9, 1e-6, amsgrad, weight_decay)
    np.testing.assert_allclose(layer.embeddings.numpy(), expected, rtol=2e-5, atol=1e-7)
    untouched = np.setdiff1d(np.arange(start.shape[0]), np.concatenate(id_batches))
    np.testing.assert_array_equal(layer.embeddings.numpy()[untouched], start[untouched])


def test_lazy_adam_equals_adam_bit_for_bit_when_every_row_is_touched():
    layers = []
    for optimizer in (LazyAdam(0.03), keras.optimizers.Adam(0.03)):
        keras.utils.set_random_seed(3)
        layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS[:5])
        layer.build()
        rows = layer.vocabulary_size()
        for step in range(3):
            ids = tf.constant(np.r_[np.arange(rows), [step % rows]])
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(layer(ids) * (step + 1)))
            (gradient,) = tape.gradient(loss, layer.trainable_variables)
            if not isinstance(optimizer, LazyAdam):
                # Keras 3.15's Adam squares an IndexedSlices slice by slice, so a repeated id gets a^2 + b^2
                # instead of (a + b)^2 in its second moment; the dense gradient is the reference.
                gradient = tf.convert_to_tensor(gradient)
            optimizer.apply_gradients([(gradient, layer.trainable_variables[0])])
        layers.append(layer.embeddings.numpy())
    np.testing.assert_array_equal(layers[0], layers[1])


def test_sparse_sgd_equals_dense_sgd_exactly():
    results = []
    for sparse in (True, False):
        keras.utils.set_random_seed(4)
        layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS)
        layer.build()
        optimizer = SparseSGD(0.1) if sparse else keras.optimizers.SGD(0.1)
        for ids in ([1, 1, 1, 5], [5, 6, 1, 30], [2, 2, 2, 2]):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(layer(tf.constant(ids)) - 0.3))
            (gradient,) = tape.gradient(loss, layer.trainable_variables)
            # Keras's SGD scatters an IndexedSlices row by row; the dense gradient is the reference.
            gradient = gradient if sparse else tf.convert_to_tensor(gradient)
            optimizer.apply_gradients([(gradient, layer.trainable_variables[0])])
        results.append(layer.embeddings.numpy())
    np.testing.assert_array_equal(results[0], results[1])


def test_frozen_rows_never_move_and_untouched_trainable_rows_stay():
    model, embedding = _string_model(LazyAdam(0.05))
    trainable = sorted(_ids(embedding, ["t0", "t3", "t4"]).tolist())
    model, embedding = _string_model(LazyAdam(0.05), trainable_rows=trainable)
    before = embedding.embeddings.numpy().copy()
    model.fit(*_batches([0, 1, 2, 0, 1, 2]), epochs=3, verbose=0)
    after = embedding.embeddings.numpy()
    (t0,) = _ids(embedding, ["t0"])
    moved = np.flatnonzero(np.any(after != before, axis=1))
    assert moved.tolist() == [t0]  # t1, t2 are frozen; t3, t4 trainable but not in the batches
    (slot_variable,) = [v for v in model.trainable_variables if v.name == "trainable_embeddings"]
    momentum, _ = _slots(model.optimizer, slot_variable)
    assert np.count_nonzero(np.any(momentum != 0, axis=1)) == 1


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: LazyAdam(0.05), lambda: SparseSGD(0.05, momentum=0.9), lambda: LazyAdam(0.05, weight_decay=0.5)],
    ids=["lazy_adam", "sgd_momentum", "lazy_adam_weight_decay"],
)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_frozen_and_oov_ids_touch_no_trainable_row(make_optimizer, jit_compile):
    # A frozen or OOV id was read from the trainable rows at a neighbour's position (then discarded): the gradient
    # listed that neighbour with a zero row, so it moved on its momentum or decayed without being in the batch.
    model, embedding = _string_model(make_optimizer())
    trainable = sorted(_ids(embedding, ["t0", "t3", "t4"]).tolist())
    model, embedding = _string_model(make_optimizer(), trainable_rows=trainable)
    model.jit_compile = jit_compile
    model.fit(*_batches([3, 3, 3, 3, 0, 3]), epochs=3, verbose=0)  # t3 gathers momentum
    before = embedding.embeddings.numpy().copy()
    text = tf.constant([["t0", "t1", "t2"], ["t1", "unknown", "t5"]])  # t0 trains; t1, t2, t5, OOV are frozen
    model.fit(text, np.array([[1.0], [-1.0]], np.float32), epochs=3, verbose=0)
    moved = np.flatnonzero(np.any(embedding.embeddings.numpy() != before, axis=1))
    assert moved.tolist() == _ids(embedding, ["t0"]).tolist()


def test_custom_training_loop_reads_no_whole_matrix_per_step():
    keras.utils.set_random_seed(5)
    layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS)
    layer.build()
    optimizer = LazyAdam(0.05)
    optimizer.build(layer.trainable_variables)  # before tracing, so the trace gathers on the variable
    start = layer.embeddings.numpy().copy()

    @tf.function
    def train_step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(ids) - 1.0))
        optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_variables), layer.trainable_variables))
        return loss

    ids = tf.constant([[2, 3], [3, 4]])
    losses = [float(train_step(ids)) for _ in range(5)]
    assert losses[-1] < losses[0]
    graph = train_step.get_concrete_function(ids).graph
    whole_reads = [
        op
        for op in graph.get_operations()
        if op.type == "ReadVariableOp" and op.outputs[0].shape.as_list() == list(start.shape)
    ]
    assert whole_reads == []
    after = layer.embeddings.numpy()
    untouched = np.setdiff1d(np.arange(start.shape[0]), [2, 3, 4])
    np.testing.assert_array_equal(after[untouched], start[untouched])
    assert np.all(np.any(after[[2, 3, 4]] != start[[2, 3, 4]], axis=1))


@pytest.mark.slow
def test_compiled_model_reloads_its_lazy_adam(tmp_path):
    model, embedding = _string_model(LazyAdam(0.04, beta_1=0.8, amsgrad=True))
    model.fit(*_batches([0, 1, 2, 3, 4, 5]), epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is LazyAdam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    # Both go on training the same way, and the reloaded one still leaves untouched rows alone.
    for trained in (model, loaded):
        trained.fit(*_batches([0, 1, 2, 0, 1, 2]), epochs=1, verbose=0)
    words = loaded.get_layer("words")
    np.testing.assert_array_equal(words.embeddings.numpy(), embedding.embeddings.numpy())


def test_optimizer_config_round_trip():
    optimizer = SparseSGD(0.2, momentum=0.5, nesterov=True)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is SparseSGD
    assert restored.get_config() == optimizer.get_config()


@pytest.fixture
def mixed_float16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.usefixtures("mixed_float16")
def test_mixed_float16_with_loss_scaling():
    model, embedding = _string_model(LazyAdam(0.05))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert embedding.embeddings.dtype == "float32"
    before = embedding.embeddings.numpy().copy()
    model.fit(*_batches([0, 1, 2, 0, 1, 2]), epochs=3, verbose=0)
    after = embedding.embeddings.numpy()
    touched = _ids(embedding, ["t0", "t1", "t2"])
    moved = np.flatnonzero(np.any(after != before, axis=1))
    assert sorted(moved.tolist()) == sorted(touched.tolist())


def test_mask_row_with_zero_gradient_stays_put():
    model, embedding = _string_model(LazyAdam(0.05), mask_token="")
    before = embedding.embeddings.numpy().copy()
    text = tf.constant([["t0", "t1", "", ""], ["t2", "", "", ""]])
    model.fit(text, np.array([[1.0], [-1.0]], np.float32), epochs=3, verbose=0)
    after = embedding.embeddings.numpy()
    # Masked positions get no gradient from the mask-aware pooling: the row is "touched" with zeros, which
    # leaves it (and its zero moments) as it was.
    np.testing.assert_array_equal(after[0], before[0])
    moved = np.flatnonzero(np.any(after != before, axis=1))
    assert sorted(moved.tolist()) == sorted(_ids(embedding, ["t0", "t1", "t2"]).tolist())


def test_plain_keras_embedding_trains_lazily_too():
    keras.utils.set_random_seed(6)
    ids = keras.Input(shape=(None,), dtype="int32")
    embedding = keras.layers.Embedding(30, OUTPUT_DIM)
    model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(embedding(ids))))
    model.compile(optimizer=LazyAdam(0.05), loss="mse")
    model.fit(np.array([[1, 2, 3], [4, 5, 6]]), np.array([[1.0], [0.0]]), epochs=1, verbose=0)
    after_first = embedding.embeddings.numpy().copy()
    model.fit(np.array([[1, 2, 2], [1, 1, 2]]), np.array([[1.0], [0.0]]), epochs=3, verbose=0)
    after = embedding.embeddings.numpy()
    np.testing.assert_array_equal(after[[3, 4, 5]], after_first[[3, 4, 5]])
    assert np.all(np.any(after[[1, 2]] != after_first[[1, 2]], axis=1))


def test_regularizer_makes_the_step_dense_with_one_warning():
    model, embedding = _string_model(LazyAdam(0.05), embeddings_regularizer=keras.regularizers.L2(0.1))
    before = embedding.embeddings.numpy().copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*_batches([0, 1, 2, 0, 1, 2]), epochs=3, verbose=0)
    messages = [str(w.message) for w in caught if "regularizer" in str(w.message)]
    assert len(messages) == 1 and "embeddings_regularizer" in messages[0]
    # Dense semantics: the L2 term pulls every row, touched or not.
    assert np.all(np.any(embedding.embeddings.numpy() != before, axis=1))


def test_constraint_applies_to_the_whole_matrix_and_leaves_valid_rows_alone():
    model, embedding = _string_model(LazyAdam(0.05), embeddings_constraint=keras.constraints.NonNeg())
    before = embedding.embeddings.numpy().copy()
    model.fit(*_batches([0, 1, 2, 0, 1, 2]), epochs=3, verbose=0)
    after = embedding.embeddings.numpy()
    assert np.all(after >= 0)
    untouched = np.setdiff1d(np.arange(after.shape[0]), _ids(embedding, ["t0", "t1", "t2"]))
    # The constraint's own effect (negatives to zero), nothing from the optimizer.
    np.testing.assert_array_equal(after[untouched], np.maximum(before[untouched], 0))


def test_sparse_sgd_momentum_is_lazy():
    layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS)
    layer.build()
    start = layer.embeddings.numpy().copy()
    optimizer = SparseSGD(0.1, momentum=0.9)
    for ids in ([1, 2], [1, 1], [1, 3]):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(tf.constant(ids)))
        optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_variables), layer.trainable_variables))
    after = layer.embeddings.numpy()
    # Each step's gradient is the count of the id in the batch; velocity v <- 0.9 v - 0.1 g; row += v.
    # Row 1: g = 1, 2, 1 -> v = -0.1, -0.29, -0.361; row 2 is touched once: v = -0.1, no later drift.
    np.testing.assert_allclose(after[1] - start[1], -0.1 - 0.29 - 0.361, rtol=1e-5)
    np.testing.assert_allclose(after[2] - start[2], -0.1, rtol=1e-5)
    np.testing.assert_array_equal(after[5:], start[5:])


_CLIPPING = [{"clipvalue": 0.1}, {"clipnorm": 0.1}, {"global_clipnorm": 0.1}]


def _clipped_step(optimizer, dense):
    """One step of `optimizer` on an embedding looked up at ids that repeat, plus a bias; returns the changes.

    The embedding's gradient is row-sparse, or made dense first with `dense`.
    """
    layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS)
    layer.build()
    bias = keras.Variable(np.zeros(OUTPUT_DIM, np.float32), name="bias")
    start = layer.embeddings.numpy().copy()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum((layer(tf.constant([3, 3, 3, 3, 3, 3, 3, 5])) + bias) * np.arange(1.0, 5.0))
    gradients = tape.gradient(loss, [layer.embeddings, bias])
    assert isinstance(gradients[0], tf.IndexedSlices)
    if dense:
        gradients[0] = tf.convert_to_tensor(gradients[0])
    optimizer.apply_gradients(zip(gradients, [layer.embeddings, bias]))
    return layer.embeddings.numpy() - start, bias.numpy()


@pytest.mark.parametrize("clipping", _CLIPPING, ids=lambda clipping: next(iter(clipping)))
def test_clipping_reads_the_summed_gradient_as_dense_sgd_does(clipping):
    # Row 3 repeats seven times: its gradient is 7 x (1, 2, 3, 4). Keras clips the slices of a row-sparse gradient
    # one by one (so the row would step by up to seven clips); the clip belongs to the summed gradient.
    rows, bias = _clipped_step(SparseSGD(1.0, **clipping), dense=False)
    expected_rows, expected_bias = _clipped_step(keras.optimizers.SGD(1.0, **clipping), dense=True)
    np.testing.assert_allclose(rows, expected_rows, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(bias, expected_bias, rtol=1e-6, atol=1e-8)
    assert np.all(rows[[0, 1, 2, 4]] == 0) and np.all(rows[6:] == 0)


@pytest.mark.parametrize("clipping", _CLIPPING, ids=lambda clipping: next(iter(clipping)))
def test_lazy_adam_stays_row_sparse_under_clipping(clipping):
    layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS)
    layer.build()
    optimizer = LazyAdam(0.05, **clipping)
    seen = []

    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(tf.constant(ids)) - 1.0))
        gradients = tape.gradient(loss, layer.trainable_variables)
        seen.append(type(optimizer._clip_gradients(gradients)[0]))
        optimizer.apply_gradients(zip(gradients, layer.trainable_variables))

    for _ in range(2):
        step([1, 2, 3, 4])
    after_first = layer.embeddings.numpy().copy()
    for _ in range(3):
        step([1, 2, 2])
    after = layer.embeddings.numpy()
    # Rows 3 and 4 have momentum but no later gradient: lazy Adam leaves them; a dense step would move them.
    np.testing.assert_array_equal(after[[0, 3, 4]], after_first[[0, 3, 4]])
    assert np.all(np.any(after[[1, 2]] != after_first[[1, 2]], axis=1))
    assert set(seen) == {tf.IndexedSlices}


def test_gradient_accumulation_warns_that_steps_are_dense():
    layer = VocabIdEmbedding(OUTPUT_DIM, vocabulary=TOKENS)
    layer.build()
    optimizer = LazyAdam(0.05, gradient_accumulation_steps=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer.build(layer.trainable_variables)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "gradient_accumulation_steps=2" in messages[0] and "every row" in messages[0]


_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from keras_vocabsafe import VocabIdEmbedding
    from keras_vocabsafe.optimizers import LazyAdam
    strategy = (
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if sys.argv[1] == "mirrored"
        else tf.distribute.get_strategy()
    )
    keras.utils.set_random_seed(0)
    with strategy.scope():
        ids = keras.Input(shape=(None,), dtype="int64")
        layer = VocabIdEmbedding(4, vocabulary=[f"t{i}" for i in range(20)], name="words")
        model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(ids))))
        model.compile(optimizer=LazyAdam(0.05), loss="mse")
    before = layer.embeddings.numpy().tolist()
    data = tf.data.Dataset.from_tensor_slices(
        (np.array([[1, 2], [2, 3], [3, 4], [4, 5]]), np.array([[1.0], [0.0], [1.0], [0.0]], np.float32))
    ).batch(4)
    model.fit(data, epochs=3, verbose=0)
    print(json.dumps({"before": before, "after": layer.embeddings.numpy().tolist()}))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_matches_one_device():
    runs = {}
    for strategy in ("mirrored", "default"):
        done = subprocess.run(
            [sys.executable, "-c", _MIRRORED_SCRIPT, strategy],
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs[strategy] = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = (np.array(runs["mirrored"][key]) for key in ("before", "after"))
    np.testing.assert_allclose(after, np.array(runs["default"]["after"]), rtol=1e-5, atol=1e-7)
    untouched = np.setdiff1d(np.arange(before.shape[0]), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(after[untouched], before[untouched])
    assert np.all(np.any(after[[1, 2, 3, 4, 5]] != before[[1, 2, 3, 4, 5]], axis=1))
