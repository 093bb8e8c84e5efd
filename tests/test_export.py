"""SavedModel export: the served graph takes raw keys and needs TensorFlow only."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import AWKWARD_TOKENS, serve_in_fresh_process
from keras_vocabsafe import VocabEmbedding

pytestmark = [pytest.mark.saving, pytest.mark.slow]


def test_exported_text_model_serves_raw_strings_without_keras(tmp_path):
    layer = VocabEmbedding(8, mask_token="")
    layer.adapt([["the", "cat", "sat"], ["the", "dog", ""]])
    inputs = keras.Input(shape=(None,), dtype="string")
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(tf.constant([["the", "cat", ""], ["dog", "sat", "x"]]), np.array([1.0, 0.0]), epochs=2, verbose=0)
    model.export(tmp_path / "export", verbose=False)

    keys = tf.constant([["the", "cat", ""], ["zebra", "dog", "sat"], ["", "", ""]])
    served, signature = serve_in_fresh_process(tmp_path / "export", keys, tmp_path)
    assert signature["input_dtype"] == "string"
    np.testing.assert_allclose(served, model.predict(keys, verbose=0), rtol=1e-6, atol=1e-7)


def test_exported_graph_keeps_awkward_tokens_with_their_rows(tmp_path):
    layer = VocabEmbedding(4, vocabulary=AWKWARD_TOKENS, embeddings_initializer="glorot_uniform")
    inputs = keras.Input(shape=(None,), dtype="string")
    keras.Model(inputs, layer(inputs)).export(tmp_path / "export", verbose=False)

    keys = tf.constant([[t.encode() if isinstance(t, str) else t for t in AWKWARD_TOKENS]])
    served, _ = serve_in_fresh_process(tmp_path / "export", keys, tmp_path)
    # Row i + 1 belongs to token i (row 0 is OOV); the served graph must pick exactly those.
    np.testing.assert_array_equal(served[0], layer.embeddings.numpy()[1:])


def test_exported_integer_keys(tmp_path):
    layer = VocabEmbedding(3, vocabulary=[42, 7], vocabulary_dtype="int64", mask_token=0)
    inputs = keras.Input(shape=(None,), dtype="int64")
    keras.Model(inputs, layer(inputs)).export(tmp_path / "export", verbose=False)

    keys = tf.constant([[7, 0, 9, 42]], dtype=tf.int64)
    served, signature = serve_in_fresh_process(tmp_path / "export", keys, tmp_path)
    assert signature["input_dtype"] == "int64"
    np.testing.assert_array_equal(served[0], layer.embeddings.numpy()[[3, 0, 1, 2]])
