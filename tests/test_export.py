"""SavedModel export: the served graph takes raw keys and needs TensorFlow only."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import AWKWARD_TOKENS, serve_in_fresh_process
from keras_vocabsafe import TextVocabEmbedding, VocabEmbedding, VocabIdEmbedding

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


class ScoredLayer(keras.Model):
    def __init__(self, layer):
        super().__init__()
        self.layer, self.score = layer, keras.layers.Dense(1)

    def call(self, inputs):
        return self.score(keras.ops.mean(self.layer(inputs), axis=-2))


@pytest.mark.parametrize(
    "make_layer, keys",
    [
        (lambda: VocabEmbedding(2, vocabulary=["a", "b"], mask_token=""), [["a", "zz", ""]]),
        (lambda: VocabIdEmbedding(2, vocabulary=["a", "b"]), np.array([[1, 2, 0]], np.int64)),
        (lambda: TextVocabEmbedding(2, vocabulary=["a", "b"], output_sequence_length=3), ["a zz b"]),
    ],
    ids=["VocabEmbedding", "VocabIdEmbedding", "TextVocabEmbedding"],
)
def test_a_subclassed_model_exports_and_its_float_default_signature_refuses(tmp_path, make_layer, keys):
    # Keras traces a subclassed model's default save signature on float32 placeholders (its input_dtype) while it
    # writes the SavedModel; our layers refused float keys there, so such a model could not be exported at all.
    model = ScoredLayer(make_layer())
    keys = tf.constant(keys)
    expected = model(keys).numpy()
    model.export(
        tmp_path / "export", verbose=False, input_signature=[tf.TensorSpec([None] * keys.shape.rank, keys.dtype)]
    )
    served, _ = serve_in_fresh_process(tmp_path / "export", keys, tmp_path)
    np.testing.assert_allclose(served, expected, rtol=1e-6, atol=1e-7)
    # The float signature Keras traced fails, naming the layer, if anything ever calls it.
    tf.saved_model.save(model, str(tmp_path / "plain"))
    float_signature = tf.saved_model.load(str(tmp_path / "plain")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"received float32 inputs: this is the default signature"):
        float_signature(tf.zeros([1] * keys.shape.rank))
