"""Training under `tf.distribute.MirroredStrategy`: the split (`VocabLookup` in `tf.data`, ids into the model).

String inputs to `fit` under `MirroredStrategy` fail in Keras 3.15 itself: a model that takes strings through
Keras's own `StringLookup` fails in Keras's distributed train step (repro below the docstring), and one whose
`VocabEmbedding` takes the strings fails with the same error, so the limit is not this package's.

The supported way is the split: `lookup, embedding = VocabEmbedding(...).halves()`, the lookup mapped over the
`tf.data` pipeline and the `VocabIdEmbedding` in the model, which then only ever sees integer ids.

A process sets up its logical devices once, before TensorFlow first uses them, so every training here runs in
a fresh process on two logical CPU devices, and the test compares what it writes to `tmp_path`.
"""

# Keras alone, two logical CPUs, Keras 3.15 / TensorFlow 2.21:
#     strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
#     with strategy.scope():
#         strings = keras.Input(shape=(None,), dtype="string")
#         vectors = keras.layers.Embedding(4, 2)(keras.layers.StringLookup(vocabulary=["the", "cat"])(strings))
#         model = keras.Model(strings, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(vectors)))
#         model.compile(optimizer="sgd", loss="mse")
#     model.fit(tf.constant([["the", "cat"], ["cat", "the"]]), np.ones((2, 1)))
#     -> InvalidArgumentError: Value for attr 'T' of string is not in the list of allowed values ... {{node AddN}}

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = [pytest.mark.slow]

# Trains a model on ids from the lookup half, under `MirroredStrategy` over two logical CPUs or the default
# (single-device) strategy, and writes the matrices before and after, the predictions and the losses.
_TRAIN_SCRIPT = textwrap.dedent(
    """
    import contextlib, json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    import numpy as np
    from keras_vocabsafe import VocabEmbedding

    settings = json.loads(sys.argv[1])
    out = settings["out"]
    keras.utils.set_random_seed(0)
    if settings["strategy"] == "mirrored":
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = tf.distribute.get_strategy()

    def dataset(lookup, text, labels):
        # No shuffling; the global batch of 4 is split 2 + 2 over the replicas.
        strings = tf.data.Dataset.from_tensor_slices((tf.constant(text), np.asarray(labels, np.float32)))
        return strings.batch(4).map(lambda x, y: (lookup(x), y))

    def rows_by_token(embedding):
        matrix = embedding.get_weights()[0]
        return {str(token): matrix[i].tolist() for i, token in enumerate(embedding.get_vocabulary())}

    results = {"replicas": strategy.num_replicas_in_sync}
    # Starting values drawn here from a fixed NumPy seed, the same in every process, whatever the strategy.
    start = np.random.default_rng(0)
    with strategy.scope():
        words = VocabEmbedding(8, mask_token="", trainable_rows=settings["trainable_rows"])
        words.adapt(tf.constant(settings["text"]))
        words.build()
        initial = start.normal(size=(words.vocabulary_size(), 8)).astype(np.float32)
        words.set_weights([initial])
        lookup, embedding = words.halves()
        ids = keras.Input(shape=(None,), dtype="int64")
        pooled = keras.layers.GlobalAveragePooling1D()(embedding(ids))
        kernel = start.normal(size=(8, 1)).astype(np.float32)
        score = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(kernel))
        model = keras.Model(ids, score(pooled))
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    results["vocabulary"] = [str(token) for token in embedding.get_vocabulary()]
    history = model.fit(dataset(lookup, settings["text"], settings["labels"]), epochs=2, verbose=0)
    results["loss"] = history.history["loss"]
    results["trained_rows"] = rows_by_token(embedding)
    if settings["update"] is not None:
        # Outside the scope, the update enters it itself: the new matrix and optimizer slots must be mirrored.
        with strategy.scope() if settings["update_in_scope"] else contextlib.nullcontext():
            embedding.update_vocabulary(settings["update"], new_embeddings_initializer="zeros", model=model)
        results["updated_variables"] = [type(v.value).__name__ for v in embedding.variables]
        results["updated_rows"] = rows_by_token(embedding)
        lookup = embedding.lookup()
        again = dataset(lookup, settings["update_text"], settings["labels"])
        results["update_loss"] = model.fit(again, epochs=2, verbose=0).history["loss"]
        results["retrained_rows"] = rows_by_token(embedding)
    np.save(os.path.join(out, "initial.npy"), initial)
    np.save(os.path.join(out, "trained.npy"), embedding.get_weights()[0])
    np.save(os.path.join(out, "kernel.npy"), score.get_weights()[0])
    queries = lookup(tf.constant([["the", "cat", "zebra", ""], ["a", "far", "dog", ""]]))
    np.save(os.path.join(out, "predictions.npy"), model.predict(queries.numpy(), verbose=0))
    with open(os.path.join(out, "results.json"), "w") as file:
        json.dump(results, file)
    """
)

TEXT = [["the", "cat", "sat", ""], ["a", "dog", "ran", "far"], ["the", "dog", "", ""]] * 4
LABELS = [[1.0], [0.0], [1.0]] * 4

# float32 training, 6 SGD steps. Under MirroredStrategy each replica sums its half of the batch and the
# replicas' gradients are then added, so the sums run in another order than on one device: a few ulps
# (float32 eps ~1.2e-7) of relative difference per step, well under 1e-5 after 6 steps. A gradient scaled
# wrongly (by the number of replicas, or by the per-replica instead of the global batch) moves the weights
# by the size of a whole step, ~1e-2 here, far outside the tolerance.
RTOL, ATOL = 1e-5, 1e-6


def train_in_fresh_processes(
    tmp_path, strategies, *, trainable_rows=None, update=None, update_text=None, update_in_scope=True
):
    """Runs `_TRAIN_SCRIPT` once per strategy, side by side; returns what each run wrote, by strategy."""
    runs = {}
    for strategy in strategies:
        out = tmp_path / strategy
        out.mkdir()
        settings = {
            "strategy": strategy,
            "out": str(out),
            "text": TEXT,
            "labels": LABELS,
            "trainable_rows": trainable_rows,
            "update": update,
            "update_text": update_text,
            "update_in_scope": update_in_scope,
        }
        runs[strategy] = subprocess.Popen(
            [sys.executable, "-c", _TRAIN_SCRIPT, json.dumps(settings)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
    results = {}
    for strategy, run in runs.items():
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]
        out = tmp_path / strategy
        results[strategy] = json.loads((out / "results.json").read_text())
        for name in ("initial", "trained", "kernel", "predictions"):
            results[strategy][name] = np.load(out / f"{name}.npy")
    return results


def test_mirrored_fit_through_the_split_matches_single_device_training(tmp_path):
    runs = train_in_fresh_processes(tmp_path, ["mirrored", "default"])
    mirrored, single = runs["mirrored"], runs["default"]
    assert (mirrored["replicas"], single["replicas"]) == (2, 1)
    np.testing.assert_array_equal(mirrored["initial"], single["initial"])
    # Training moved the rows by far more than the tolerance, so agreeing within it means something.
    assert np.abs(single["trained"] - single["initial"]).max() > 1000 * ATOL
    np.testing.assert_allclose(mirrored["trained"], single["trained"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(mirrored["kernel"], single["kernel"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(mirrored["predictions"], single["predictions"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=RTOL, atol=ATOL)


def test_trainable_rows_stay_frozen_under_mirrored_fit(tmp_path):
    trainable_rows = [1, 2, 5]
    run = train_in_fresh_processes(tmp_path, ["mirrored"], trainable_rows=trainable_rows)["mirrored"]
    assert run["replicas"] == 2
    vocabulary, initial, trained = run["vocabulary"], run["initial"], run["trained"]
    frozen = [i for i in range(len(vocabulary)) if i not in trainable_rows]
    seen = {token for row in TEXT for token in row}
    # Frozen rows of tokens in the data get gradients; they must still be exactly as they started.
    assert any(vocabulary[i] in seen for i in frozen if i != 0)
    np.testing.assert_array_equal(trained[frozen], initial[frozen])
    moved = [i for i in trainable_rows if vocabulary[i] in seen]
    assert moved
    for i in moved:
        assert np.abs(trained[i] - initial[i]).max() > 1000 * ATOL, vocabulary[i]


@pytest.mark.parametrize("in_scope", [True, False], ids=["in_scope", "outside_the_scope"])
def test_update_vocabulary_with_model_between_two_mirrored_fits_keeps_rows_by_token(tmp_path, in_scope):
    update = ["dog", "zebra", "the", "cat"]
    update_text = [["the", "zebra", "cat", ""], ["zebra", "dog", "the", ""], ["the", "dog", "", ""]] * 4
    run = train_in_fresh_processes(
        tmp_path, ["mirrored"], update=update, update_text=update_text, update_in_scope=in_scope
    )["mirrored"]
    assert run["replicas"] == 2
    assert run["updated_variables"] == ["MirroredVariable"]
    trained, updated, retrained = run["trained_rows"], run["updated_rows"], run["retrained_rows"]
    assert list(updated) == ["", "[UNK]", *update]
    for token in ("", "[UNK]", "dog", "the", "cat"):
        assert updated[token] == trained[token], token  # Exactly the trained row, now at its new id.
    assert updated["zebra"] == [0.0] * 8
    assert len(run["update_loss"]) == 2 and np.isfinite(run["update_loss"]).all()
    for token in ("zebra", "the"):  # The second fit trains the new token's row and the kept ones.
        assert np.abs(np.subtract(retrained[token], updated[token])).max() > 1000 * ATOL, token


_OUTSIDE_THE_SCOPE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    from keras_vocabsafe import ConfigurationError, VocabIdEmbedding

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        lora = VocabIdEmbedding(4, vocabulary=["a", "b", "c"], name="lora")
        lora.build()
        other = VocabIdEmbedding(4, vocabulary=["a", "b", "c"], name="other")
        other.build()
    lora.enable_lora(2)  # Outside the scope: the factors must be mirrored all the same.
    results = {"lora": sorted(type(v.value).__name__ for v in lora.variables)}
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        try:
            other.update_vocabulary(["a", "b", "c", "d"])
        except ConfigurationError as error:
            results["error"] = str(error)
    results["other"] = other.get_vocabulary()
    print(json.dumps(results))
    """
)


def test_rows_made_under_a_strategy_get_new_variables_from_it_and_another_strategy_is_refused():
    run = subprocess.run(
        [sys.executable, "-c", _OUTSIDE_THE_SCOPE_SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert results["lora"] == ["MirroredVariable"] * 3
    assert "other'.update_vocabulary() was called in the scope of another tf.distribute strategy" in results["error"]
    assert results["other"] == ["[UNK]", "a", "b", "c"]  # Refused before anything changed.
