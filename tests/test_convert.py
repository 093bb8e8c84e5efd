"""`convert_model` and `vocabsafe convert`: lookup + Embedding pairs become VocabEmbedding, predictions identical."""

import json
import os
import re
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_vocabsafe, unwritable_directory
from keras_vocabsafe import VocabEmbedding
from keras_vocabsafe.convert import convert_model
from keras_vocabsafe.errors import ConversionError

WORDS = ["the", "cat", "sat", "on", "mat", "line\nbreak", "日本語", " leading space"]
IDS = [10, 20, 30, 40]
EXTRA_ROWS = 3


def _two_input_model(mask_zero=True, mask_token="", input_dim=None):
    """StringLookup (+mask) + Embedding(mask_zero) and IntegerLookup + Embedding, a float input, a Dense head."""
    words = keras.Input((None,), dtype="string", name="words")
    ids = keras.Input((2,), dtype="int64", name="ids")
    features = keras.Input((3,), name="features")
    lookup = keras.layers.StringLookup(vocabulary=WORDS, mask_token=mask_token, name="word_lookup")
    size = len(WORDS) + 1 + (mask_token is not None)
    embedding = keras.layers.Embedding(input_dim or size + EXTRA_ROWS, 4, mask_zero=mask_zero, name="word_embedding")
    pooled = keras.layers.GlobalAveragePooling1D()(embedding(lookup(words)))
    id_vectors = keras.layers.Embedding(len(IDS) + 1, 3, name="id_embedding")(
        keras.layers.IntegerLookup(vocabulary=IDS, name="id_lookup")(ids)
    )
    joined = keras.layers.Concatenate()([pooled, keras.layers.Flatten()(id_vectors), features])
    model = keras.Model([words, ids, features], keras.layers.Dense(1, name="head")(joined))
    return model


def _data():
    words = tf.constant([["the", "cat", "", ""], ["line\nbreak", "dog", "日本語", ""], ["", "", "", ""]])
    ids = np.array([[10, 99], [40, -1], [0, 20]], dtype=np.int64)
    return [words, ids, np.arange(9, dtype="float32").reshape(3, 3) / 10]


def _trained(model):
    """One training step, so that no row is what the initializer gave."""
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(_data(), np.array([[1.0], [-1.0], [0.5]]), epochs=2, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained_model():
    return _trained(_two_input_model())


@pytest.fixture(scope="module")
def converted(trained_model):
    return convert_model(trained_model)


def test_converted_model_predicts_identically(trained_model, converted):
    np.testing.assert_array_equal(
        converted.model.predict(_data(), verbose=0), trained_model.predict(_data(), verbose=0)
    )


def test_each_pair_becomes_one_vocab_embedding_named_as_the_embedding(converted):
    names = [layer.name for layer in converted.model.layers]
    assert "word_lookup" not in names and "id_lookup" not in names
    assert isinstance(converted.model.get_layer("word_embedding"), VocabEmbedding)
    assert isinstance(converted.model.get_layer("id_embedding"), VocabEmbedding)
    assert [(pair.lookup, pair.embedding, pair.layer) for pair in converted.converted] == [
        ("word_lookup", "word_embedding", "word_embedding"),
        ("id_lookup", "id_embedding", "id_embedding"),
    ]


def test_ids_and_trained_rows_are_kept(trained_model, converted):
    old_lookup, old_embedding = trained_model.get_layer("word_lookup"), trained_model.get_layer("word_embedding")
    new = converted.model.get_layer("word_embedding")
    keys = np.array([*WORDS, "", "[UNK]", "unknown"], dtype=object)
    np.testing.assert_array_equal(new.token_to_id(keys), old_lookup(keys).numpy())
    old_rows = old_embedding.get_weights()[0]
    np.testing.assert_array_equal(new.get_weights()[0], old_rows[: len(WORDS) + 2])
    initial = keras.layers.Embedding(len(WORDS) + 2 + EXTRA_ROWS, 4)
    initial.build()
    assert not np.allclose(old_rows, initial.get_weights()[0], atol=0.06)  # The step moved the rows.


def test_unreachable_rows_are_dropped_and_counted(converted):
    words, ids = converted.converted
    assert (words.vocabulary_size, words.rows_kept, words.rows_dropped) == (len(WORDS) + 2, len(WORDS) + 2, EXTRA_ROWS)
    assert (ids.vocabulary_size, ids.rows_dropped) == (len(IDS) + 1, 0)
    assert (words.mask_token, ids.mask_token) == ("", None)


def test_input_model_is_not_modified(trained_model, converted):
    assert isinstance(trained_model.get_layer("word_embedding"), keras.layers.Embedding)
    assert trained_model.get_layer("word_embedding").get_weights()[0].shape == (len(WORDS) + 2 + EXTRA_ROWS, 4)
    assert converted.model.get_layer("head") is not trained_model.get_layer("head")


@pytest.mark.slow
def test_saved_and_reloaded_model_predicts_identically(trained_model, converted, tmp_path):
    path = tmp_path / "converted.keras"
    converted.model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_array_equal(reloaded.predict(_data(), verbose=0), trained_model.predict(_data(), verbose=0))
    converted.verify(reloaded)


def test_sequential_model_converts():
    model = keras.Sequential(
        [
            keras.Input((3,), dtype="int64"),
            keras.layers.IntegerLookup(vocabulary=IDS, mask_token=0, name="lookup"),
            keras.layers.Embedding(len(IDS) + 2, 2, mask_zero=True, name="embedding"),
            keras.layers.LSTM(3),
        ]
    )
    calls = []
    result = convert_model(model, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 1)]
    data = np.array([[10, 0, 0], [99, 40, 0], [20, 30, 40]], dtype=np.int64)
    np.testing.assert_array_equal(result.model.predict(data, verbose=0), model.predict(data, verbose=0))
    assert isinstance(result.model.layers[0], VocabEmbedding) and result.model.layers[0].name == "embedding"


def test_nested_functional_model_converts():
    inner_input = keras.Input((None,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=WORDS, name="inner_lookup")
    inner = keras.Model(inner_input, keras.layers.Embedding(20, 3, name="inner_embedding")(lookup(inner_input)))
    inner.name = "encoder"
    outer_input = keras.Input((4,), dtype="string")
    model = keras.Model(outer_input, keras.layers.GlobalAveragePooling1D()(inner(outer_input)))
    result = convert_model(model)
    data = tf.constant([["the", "dog", "日本語", ""]])
    np.testing.assert_array_equal(result.model.predict(data, verbose=0), model.predict(data, verbose=0))
    assert result.converted[0].layer == "encoder/inner_embedding"
    assert result.converted[0].rows_dropped == 20 - (len(WORDS) + 1)


def test_mixed_float16_policy_is_kept():
    policy = keras.mixed_precision.DTypePolicy("mixed_float16")
    words = keras.Input((3,), dtype="string")
    ids = keras.layers.StringLookup(vocabulary=WORDS)(words)
    vectors = keras.layers.Embedding(len(WORDS) + 1, 4, dtype=policy, name="embedding")(ids)
    model = keras.Model(words, keras.layers.Dense(2, dtype=policy)(keras.layers.Flatten()(vectors)))
    result = convert_model(model)
    layer = result.model.get_layer("embedding")
    assert (layer.dtype_policy.name, layer.variable_dtype, layer.compute_dtype) == (
        "mixed_float16",
        "float32",
        "float16",
    )
    data = tf.constant([["the", "cat", "?"]])
    expected = model.predict(data, verbose=0)
    assert expected.dtype == np.float16
    np.testing.assert_array_equal(result.model.predict(data, verbose=0), expected)


def test_skip_unconvertible_converts_the_rest():
    model = _two_input_model(mask_zero=True, mask_token=None)  # The word pair cannot be converted.
    result = convert_model(model, skip_unconvertible=True)
    assert [pair.embedding for pair in result.converted] == ["id_embedding"]
    assert [refusal.layers for refusal in result.skipped] == [("word_lookup", "word_embedding")]
    assert isinstance(result.model.get_layer("word_lookup"), keras.layers.StringLookup)
    np.testing.assert_array_equal(result.model.predict(_data(), verbose=0), model.predict(_data(), verbose=0))


def test_adapted_lookup_that_is_left_keeps_its_vocabulary():
    words = keras.Input((2,), dtype="string")
    labels = keras.layers.StringLookup(output_mode="multi_hot", name="multi_hot")
    labels.adapt(tf.constant([["b", "a"], ["c", "a"]]))
    ids = keras.layers.StringLookup(vocabulary=WORDS, name="lookup")(words)
    vectors = keras.layers.Flatten()(keras.layers.Embedding(len(WORDS) + 1, 2, name="embedding")(ids))
    model = keras.Model(words, keras.layers.Concatenate()([vectors, labels(words)]))
    result = convert_model(model)
    assert result.model.get_layer("multi_hot").get_vocabulary() == labels.get_vocabulary()
    assert any("multi_hot" in note for note in result.notes)
    data = tf.constant([["a", "the"], ["c", "zzz"]])
    np.testing.assert_array_equal(result.model.predict(data, verbose=0), model.predict(data, verbose=0))


def _pair(lookup, embedding, *, extra=None):
    words = keras.Input((3,), dtype=lookup.vocabulary_dtype if hasattr(lookup, "vocabulary_dtype") else "string")
    ids = lookup(words)
    outputs = [embedding(ids)]
    if extra is not None:
        outputs.append(extra(ids))
    return keras.Model(words, outputs)


def _shared_embedding_model():
    first, second = keras.Input((2,), dtype="string"), keras.Input((2,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=WORDS, name="lookup")
    embedding = keras.layers.Embedding(len(WORDS) + 1, 2, name="embedding")
    return keras.Model([first, second], keras.layers.Add()([embedding(lookup(first)), embedding(lookup(second))]))


def _quantized():
    embedding = keras.layers.Embedding(len(WORDS) + 1, 4, name="embedding")
    model = _pair(keras.layers.StringLookup(vocabulary=WORDS, name="lookup"), embedding)
    embedding.quantize("int8")
    return model


def _float_input_integer_lookup():
    # Keras's lookup casts whatever it gets at run time, so this model predicts; a VocabEmbedding checks the dtype.
    ids = keras.Input((3,))
    return keras.Model(ids, keras.layers.Embedding(len(IDS) + 1, 2)(keras.layers.IntegerLookup(vocabulary=IDS)(ids)))


@pytest.mark.parametrize("policy", [None, "layer mixed_float16", "global mixed_bfloat16"])
def test_a_lora_embedding_converts_to_its_merged_rows_with_lora_kept(tmp_path, policy):
    # Keras merges the update in float32 inside a model of a mixed policy, and in the compute dtype for a layer of
    # that policy in a float32 model: both must convert exactly.
    previous = keras.config.dtype_policy()
    if policy == "global mixed_bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        dtype = "mixed_float16" if policy == "layer mixed_float16" else None
        embedding = keras.layers.Embedding(len(WORDS) + 1, 4, name="embedding", dtype=dtype)
        model = _pair(keras.layers.StringLookup(vocabulary=WORDS, name="lookup"), embedding)
        embedding.enable_lora(2)
        embedding.lora_embeddings_a.assign(np.linspace(-2, 2, embedding.lora_embeddings_a.shape[0] * 2).reshape(-1, 2))
        embedding.lora_embeddings_b.assign(np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4))  # A nonzero update.
        merged_in_float32 = keras.ops.convert_to_numpy(embedding.embeddings)
        merged_by_call = keras.ops.convert_to_numpy(embedding(np.arange(len(WORDS) + 1))).astype("float32")
        assert not np.array_equal(merged_in_float32, keras.ops.convert_to_numpy(embedding._embeddings))
        result = convert_model(model)
        data = tf.constant([["the", "cat", "zebra"]])
        expected = model.predict(data, verbose=0)
        np.testing.assert_array_equal(result.model.predict(data, verbose=0), expected)
        result.model.save(tmp_path / "converted.keras")
        reloaded = keras.models.load_model(tmp_path / "converted.keras")
        np.testing.assert_array_equal(reloaded.predict(data, verbose=0), expected)
    finally:
        keras.config.set_dtype_policy(previous)
    layer = result.model.get_layer("embedding")
    assert (layer.lora_enabled, layer.lora_rank) == (True, embedding.lora_rank)
    assert layer.lora_alpha == getattr(embedding, "lora_alpha", embedding.lora_rank)
    base, _, b = layer.get_weights()
    rows = layer.vocabulary_size()
    assert np.array_equal(base, merged_in_float32[:rows]) or np.array_equal(base, merged_by_call[:rows])
    np.testing.assert_array_equal(b, np.zeros_like(b))
    assert any("LoRA (rank 2)" in note for note in result.notes), result.notes


def _text_vectorization():
    text = keras.Input((1,), dtype="string")
    vectorize = keras.layers.TextVectorization(vocabulary=["the", "cat"], name="vectorize")
    return keras.Model(text, keras.layers.Embedding(4, 2, mask_zero=True, name="embedding")(vectorize(text)))


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.lookup = keras.layers.StringLookup(vocabulary=WORDS)
        self.embedding = keras.layers.Embedding(len(WORDS) + 1, 2)

    def call(self, inputs):
        return self.embedding(self.lookup(inputs))


class _PairLayer(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(vocabulary=WORDS)
        self.embedding = keras.layers.Embedding(len(WORDS) + 1, 2)

    def call(self, inputs):
        return self.embedding(self.lookup(inputs))


def _pair_in_custom_layer():
    words = keras.Input((None,), dtype="string")
    return keras.Model(words, _PairLayer(name="pair_layer")(words))


REFUSALS = {
    "mask_zero without mask token": (
        lambda: _pair(keras.layers.StringLookup(vocabulary=WORDS), keras.layers.Embedding(9, 2, mask_zero=True)),
        "OOV id",
    ),
    "mask token without mask_zero": (
        lambda: _pair(keras.layers.StringLookup(vocabulary=WORDS, mask_token=""), keras.layers.Embedding(10, 2)),
        "mask_zero=False",
    ),
    "fewer rows than ids": (
        lambda: _pair(keras.layers.StringLookup(vocabulary=WORDS), keras.layers.Embedding(len(WORDS), 2)),
        "vocabsafe inspect",
    ),
    "shared embedding": (_shared_embedding_model, "called 2 times"),
    "ids used elsewhere": (
        lambda: _pair(
            keras.layers.StringLookup(vocabulary=WORDS, name="lookup"),
            keras.layers.Embedding(9, 2),
            extra=keras.layers.CategoryEncoding(9, name="one_hot"),
        ),
        "one_hot",
    ),
    "num_oov_indices=0": (
        lambda: _pair(keras.layers.StringLookup(vocabulary=WORDS, num_oov_indices=0), keras.layers.Embedding(8, 2)),
        "num_oov_indices=0",
    ),
    "integer floormod oov": (
        lambda: _pair(keras.layers.IntegerLookup(vocabulary=IDS, num_oov_indices=2), keras.layers.Embedding(6, 2)),
        "num_oov_indices",
    ),
    "quantized": (_quantized, "quantized"),
    "never given a vocabulary": (
        lambda: _pair(keras.layers.StringLookup(), keras.layers.Embedding(4, 2)),
        "no vocabulary",
    ),
    "lookup input declared float32": (_float_input_integer_lookup, "declared float32"),
    "text vectorization": (_text_vectorization, "TextVectorization"),
    "subclassed": (_Subclassed, "functional model"),
    "pair inside a custom layer": (_pair_in_custom_layer, "a custom layer (_PairLayer) holding a lookup"),
    "mask token is the OOV token": (
        lambda: _pair(
            keras.layers.StringLookup(vocabulary=WORDS, mask_token="", oov_token=""),
            keras.layers.Embedding(len(WORDS) + 2, 2, mask_zero=True),
        ),
        "needs them to differ",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_pairs_that_cannot_be_exact_are_refused_with_the_reason(case):
    build, reason = REFUSALS[case]
    model = build()
    if not model.built:
        model(tf.constant([["the", "cat"]]))
    with pytest.raises(ConversionError, match=r"cannot|Nothing to convert|subclassed") as caught:
        convert_model(model)
    assert caught.value.refusals, "each refusal names the layers and why"
    assert any(reason in refusal.reason for refusal in caught.value.refusals), caught.value.refusals
    assert not re.search(r"[^.]\.\.[^.]", str(caught.value)), caught.value  # One full stop between sentences.


def test_text_vectorization_tokenizes_unicode_text_unlike_text_vocab_lookup():
    # Why TextVectorization is refused: Keras lowercases ASCII only and splits on ASCII whitespace only.
    from keras_vocabsafe import TextVocabLookup

    vocabulary = ["the", "cat", "élan"]
    texts = tf.constant(["ÉLAN", "the\u2028cat", "the cat"])
    keras_ids = keras.layers.TextVectorization(vocabulary=vocabulary, output_sequence_length=2)(texts).numpy()
    our_ids = TextVocabLookup(vocabulary=vocabulary, output_sequence_length=2)(texts).numpy()
    assert keras_ids.tolist() == [[1, 0], [1, 0], [2, 3]]  # 'ÉLAN' and 'the\u2028cat' are one unknown token each.
    assert our_ids.tolist() == [[4, 0], [2, 3], [2, 3]]


def test_several_string_oov_ids_convert_exactly():
    lookup = keras.layers.StringLookup(vocabulary=WORDS, num_oov_indices=3)
    model = _pair(lookup, keras.layers.Embedding(len(WORDS) + 3, 2))
    result = convert_model(model)
    data = tf.constant([["dog", "fish", "the"], ["x", "y", "zebra"]])
    np.testing.assert_array_equal(result.model.predict(data, verbose=0), model.predict(data, verbose=0))


def test_a_custom_layer_that_is_not_registered_converts():
    class Scale(keras.layers.Layer):  # Defined in a function, as in a notebook: Keras cannot find it by name.
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = _pair(keras.layers.StringLookup(vocabulary=WORDS), keras.layers.Embedding(len(WORDS) + 1, 2))
    model = keras.Model(model.inputs, Scale(3.0)(model.outputs[0]))
    result = convert_model(model)
    data = tf.constant([["the", "dog", "日本語"]])
    np.testing.assert_array_equal(result.model.predict(data, verbose=0), model.predict(data, verbose=0))


def test_a_model_that_does_not_rebuild_from_its_config_is_refused_with_the_cause():
    class Scale(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):  # Leaves `factor` out.
            return {"name": self.name}

    model = _pair(keras.layers.StringLookup(vocabulary=WORDS), keras.layers.Embedding(len(WORDS) + 1, 2))
    model = keras.Model(model.inputs, Scale(3.0)(model.outputs[0]))
    with pytest.raises(ConversionError, match=r"could not be re-created from its config.*'factor'.*get_config\(\)"):
        convert_model(model)


def test_two_unregistered_classes_of_one_name_are_not_confused():
    def scale(factor):
        class Scale(keras.layers.Layer):
            def call(self, inputs):
                return inputs * factor

        return Scale()

    model = _pair(keras.layers.StringLookup(vocabulary=WORDS), keras.layers.Embedding(len(WORDS) + 1, 2))
    model = keras.Model(model.inputs, scale(2.0)(scale(5.0)(model.outputs[0])))
    with pytest.raises(ConversionError, match=r"Could not locate class 'Scale'.*register_keras_serializable"):
        convert_model(model)


def test_a_lookup_and_embedding_called_with_the_inputs_keyword_convert():
    words = keras.Input((None,), dtype="string")
    ids = keras.layers.StringLookup(vocabulary=WORDS, mask_token="")(inputs=words)
    vectors = keras.layers.Embedding(len(WORDS) + 2, 2, mask_zero=True)(inputs=ids)
    model = keras.Model(words, keras.layers.GlobalAveragePooling1D()(vectors))
    result = convert_model(model)
    assert len(result.converted) == 1
    data = tf.constant([["the", "dog", ""], ["", "", "日本語"]])
    np.testing.assert_array_equal(result.model.predict(data, verbose=0), model.predict(data, verbose=0))


@pytest.mark.parametrize("skip_unconvertible", [False, True])
def test_an_embedding_shared_by_two_nested_models_is_refused_rather_than_untied(skip_unconvertible):
    embedding = keras.layers.Embedding(len(WORDS) + 1, 2, name="embedding")

    def inner(name):
        words = keras.Input((None,), dtype="string")
        return keras.Model(words, embedding(keras.layers.StringLookup(vocabulary=WORDS)(words)), name=name)

    first, second = keras.Input((None,), dtype="string"), keras.Input((None,), dtype="string")
    model = keras.Model([first, second], keras.layers.Add()([inner("first")(first), inner("second")(second)]))
    with pytest.raises(ConversionError, match=r"'embedding' is in 'first', 'second'.*untie") as caught:
        convert_model(model, skip_unconvertible=skip_unconvertible)
    assert caught.value.refusals


def test_a_path_instead_of_a_model_is_told_to_load_it_first(saved_model):
    with pytest.raises(ConversionError, match=r"Received: PosixPath\. .*keras\.saving\.load_model\(path\)"):
        convert_model(saved_model)


def test_model_without_pairs_has_nothing_to_convert():
    inputs = keras.Input((3,), dtype="int64")
    model = keras.Model(inputs, keras.layers.Embedding(10, 2)(inputs))
    with pytest.raises(ConversionError, match="Nothing to convert"):
        convert_model(model)


def test_a_lookup_glued_to_an_embedding_of_another_nested_model_is_left_saying_how_to_convert_it():
    words = keras.Input((3,), dtype="string")
    preprocessing = keras.Model(words, keras.layers.StringLookup(vocabulary=WORDS, name="lookup")(words), name="pre")
    ids = keras.Input((3,), dtype="int64")
    core = keras.Model(ids, keras.layers.Embedding(len(WORDS) + 1, 2, name="embedding")(ids), name="core")
    text = keras.Input((3,), dtype="string")
    model = keras.Model(text, core(preprocessing(text)))
    with pytest.raises(ConversionError, match="Nothing to convert") as caught:
        convert_model(model)
    assert "pre/lookup (StringLookup) was left as it is" in str(caught.value)
    assert "nested model" in str(caught.value) and "build that part with VocabEmbedding" in str(caught.value)


@pytest.mark.parametrize(
    "vocabulary, num_oov_indices", [(["the", "[UNK]", "cat"], 1), (["[UNK]", "the", "cat"], 2)], ids=["middle", "first"]
)
def test_an_oov_token_kept_as_an_ordinary_token_is_refused_naming_it_and_how_to_convert(vocabulary, num_oov_indices):
    lookup = keras.layers.StringLookup(vocabulary=vocabulary, num_oov_indices=num_oov_indices)
    assert int(lookup(tf.constant("[UNK]"))) == num_oov_indices + vocabulary.index("[UNK]")  # Keras keeps it a token.
    model = _pair(lookup, keras.layers.Embedding(lookup.vocabulary_size(), 2))
    with pytest.raises(ConversionError, match="lists its oov_token '\\[UNK\\]' as an ordinary token") as caught:
        convert_model(model)
    assert "an oov_token it does not list" in str(caught.value)
    # As that says: the same vocabulary with another oov_token keeps the ids, and converts.
    renamed = keras.layers.StringLookup(vocabulary=vocabulary, num_oov_indices=num_oov_indices, oov_token="[OOV]")
    keys = tf.constant(["the", "[UNK]", "dog"])
    np.testing.assert_array_equal(renamed(keys), lookup(keys))
    model = _pair(renamed, keras.layers.Embedding(lookup.vocabulary_size(), 2))
    np.testing.assert_array_equal(convert_model(model).model(keys[None]), model(keys[None]))


@pytest.mark.parametrize(
    "make_lookup, keys, other_oov_token",
    [
        (
            lambda **kwargs: keras.layers.IntegerLookup(vocabulary=IDS, mask_token=-1, **kwargs),
            tf.constant([10, -1, 99], dtype="int64"),
            -2,
        ),
        (
            lambda **kwargs: keras.layers.StringLookup(vocabulary=WORDS, mask_token="", **kwargs),
            tf.constant(["the", "", "dog"]),
            "[UNK]",
        ),
    ],
    ids=["IntegerLookup(mask_token=-1)", 'StringLookup(mask_token="", oov_token="")'],
)
def test_a_mask_token_that_is_the_oov_token_is_refused_saying_another_oov_token_keeps_the_ids(
    make_lookup, keys, other_oov_token
):
    lookup = make_lookup() if other_oov_token == -2 else make_lookup(oov_token="")
    model = _pair(lookup, keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=True))
    with pytest.raises(ConversionError, match="mask_token and oov_token are both") as caught:
        convert_model(model)
    assert "another oov_token it does not list" in str(caught.value)
    assert f"oov_token={other_oov_token!r}" in str(caught.value) and "the ids stay as they are" in str(caught.value)
    # As that says: the same lookup with the suggested oov_token gives the same ids, and converts.
    renamed = make_lookup(oov_token=other_oov_token)
    np.testing.assert_array_equal(renamed(keys), lookup(keys))
    model = _pair(renamed, keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=True))
    np.testing.assert_array_equal(convert_model(model).model(keys[None]), model(keys[None]))


# The command line (each run imports TensorFlow in a new process: a few runs, several checks each).


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, trained_model):
    path = tmp_path_factory.mktemp("convert") / "model.keras"
    trained_model.save(path)
    return path


@pytest.mark.slow
def test_cli_converts_a_saved_model(saved_model, trained_model, tmp_path):
    out = tmp_path / "converted.keras"
    completed = run_vocabsafe("convert", saved_model, out, "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["written"] is True
    assert [(pair["embedding"], pair["rows_dropped"]) for pair in report["converted"]] == [
        ("word_embedding", EXTRA_ROWS),
        ("id_embedding", 0),
    ]
    reloaded = keras.saving.load_model(out, safe_mode=True, compile=False)
    np.testing.assert_array_equal(reloaded.predict(_data(), verbose=0), trained_model.predict(_data(), verbose=0))
    assert [name for name in os.listdir(tmp_path)] == ["converted.keras"]

    again = run_vocabsafe("convert", saved_model, out)  # OUT exists now.
    assert again.returncode == 2 and "--overwrite" in again.stderr and again.stderr.count("\n") == 1


@pytest.mark.slow
def test_cli_refuses_with_reasons_and_writes_nothing(tmp_path):
    model = _two_input_model(mask_zero=True, mask_token=None)
    path = tmp_path / "broken.keras"
    model.save(path)
    out = tmp_path / "out.keras"
    completed = run_vocabsafe("convert", path, out)
    assert completed.returncode == 1, completed.stderr
    assert "word_lookup + word_embedding" in completed.stdout and "OOV id" in completed.stdout
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["broken.keras"]


@pytest.mark.slow
def test_cli_missing_or_truncated_model_exits_2_with_one_line(saved_model, tmp_path):
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(saved_model.read_bytes()[:2000])
    for model, message in [(tmp_path / "missing.keras", "no such file"), (truncated, "not a .keras file")]:
        completed = run_vocabsafe("convert", model, tmp_path / "out.keras")
        assert completed.returncode == 2, completed.stderr
        assert message in completed.stderr and completed.stderr.count("\n") == 1, completed.stderr
    assert sorted(os.listdir(tmp_path)) == ["truncated.keras"]


def test_cli_model_whose_layer_refuses_its_weights_fails_with_that_layers_message_alone(tmp_path, capsys):
    import warnings

    from keras_vocabsafe import VocabEmbedding
    from keras_vocabsafe.cli import main

    inputs = keras.Input(shape=(None,), dtype="string")
    layer = VocabEmbedding(4, vocabulary=["a", "b", "c"], name="ve")
    keras.Model(inputs, keras.layers.Dense(2)(layer(inputs))).save(tmp_path / "good.keras")
    # The config's vocabulary reordered: the saved rows belong to another order, which the layer refuses to load.
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(tmp_path / "good.keras") as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                data = data.replace(b'"vocabulary": ["a", "b", "c"]', b'"vocabulary": ["a", "c", "b"]')
                assert b'["a", "c", "b"]' in data
            target.writestr(item, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["convert", str(damaged), str(tmp_path / "out.keras")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"{damaged} could not be loaded: VocabEmbedding 've' cannot load weights written for a different" in err
    assert [str(w.message) for w in caught if "nested container" in str(w.message)] == []  # Keras 3.15's echo.
    assert not (tmp_path / "out.keras").exists()


def test_cli_advises_skip_unconvertible_only_when_it_was_not_passed(tmp_path, capsys):
    from keras_vocabsafe.cli import main

    embedding = keras.layers.Embedding(len(WORDS) + 1, 4, name="embedding")
    model = _pair(keras.layers.StringLookup(vocabulary=WORDS, name="lookup"), embedding)
    embedding.quantize("int8")  # Refused: the only pair, so nothing can be converted even when skipping.
    model.save(tmp_path / "quantized.keras")
    for flags, advised in (([], True), (["--skip-unconvertible"], False)):
        code = main(["convert", str(tmp_path / "quantized.keras"), str(tmp_path / "out.keras"), *flags])
        out = capsys.readouterr().out
        assert code == 1 and "quantized" in out, out
        assert ("Pass --skip-unconvertible" in out) == advised, out
    assert not (tmp_path / "out.keras").exists()


def test_cli_hostile_paths_exit_2_with_one_line(saved_model, tmp_path, capsys):
    # In process (the same `main` the console script runs): each case fails before any model is loaded.
    from keras_vocabsafe.cli import main

    text = tmp_path / "text.keras"
    text.write_text("not a model\n")
    no_config = tmp_path / "other.keras"
    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("hello.txt", "hi")
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    pipe = tmp_path / "pipe.keras"
    os.mkfifo(pipe)  # Opened for reading with no writer, it would block forever.
    legacy = tmp_path / "legacy.h5"
    inputs = keras.Input((2,))
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(legacy)
    directory_out = tmp_path / "dir.keras"
    directory_out.mkdir()
    cases = [
        (saved_model, directory_out, f"e.g. {directory_out / 'converted.keras'}."),  # A name OUT may have.
        (legacy, tmp_path / "c.keras", "HDF5 file (Keras's legacy .h5 format)"),
        (pipe, tmp_path / "c.keras", "not a regular file"),
        (tmp_path, tmp_path / "b.keras", "directory"),
        (text, tmp_path / "d.keras", "not a .keras file"),
        (empty, tmp_path / "d.keras", "not a .keras file"),
        (no_config, tmp_path / "e.keras", "no config.json"),
        (saved_model, tmp_path / "missing-dir" / "f.keras", "does not exist"),
        (saved_model, tmp_path / "g.h5", "must end in .keras"),
        (saved_model, saved_model, "OUT is MODEL"),
        (saved_model, text / "h.keras", f"'{text}' is a file, not a directory"),
        (saved_model, unwritable_directory(tmp_path) / "i.keras", "no file can be created in"),
    ]
    before = sorted(os.listdir(tmp_path))
    for model, out, message in cases:
        assert main(["convert", str(model), str(out), "--overwrite"]) == 2, (model, out)
        captured = capsys.readouterr()
        assert message in captured.err and captured.err.count("\n") == 1, captured.err
        assert ".vocabsafe-" not in captured.err, captured.err  # OUT is named, not a temporary file beside it.
        assert captured.out == ""
    assert sorted(os.listdir(tmp_path)) == before


def _with_config(source, path, edit):
    """A copy of the .keras file `source` at `path`, its config.json replaced by `edit(config.json)`."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            copy.writestr(item, edit(data) if item.filename == "config.json" else data)
    return path


def _without_layers(data):
    config = json.loads(data)
    config["config"]["layers"] = {"not": "a list"}
    return json.dumps(config).encode()


def _with_an_integer_layer(data):
    config = json.loads(data)
    config["config"]["layers"] = [7]
    return json.dumps(config).encode()


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda data: data[: len(data) // 2], r"is not JSON \((Unterminated string|Expecting)"),
        (lambda data: b"\xff\xfe<html>", r"is not JSON \("),
        (lambda data: b"", r"is not JSON \(Expecting value"),
        (lambda data: b"[1, 2]", r"does not describe a Keras model: the model is a list, not an object"),
        (
            lambda data: json.dumps({**json.loads(data), "config": "x"}).encode(),
            r"does not describe a Keras model: the 'config' of the model \(Functional\) is a string, not an object",
        ),
        (
            _without_layers,
            r"does not describe a Keras model: the 'layers' of Functional '\w+' is an object, not a list",
        ),
        (
            lambda data: json.dumps(
                {**json.loads(data), "config": {**json.loads(data)["config"], "layers": [7]}}
            ).encode(),
            r"does not describe a Keras model: layer 0 of Functional '\w+' is an integer, not an object",
        ),
    ],
    ids=["truncated", "not-json", "empty", "list", "config-string", "layers-object", "layer-integer"],
)
def test_cli_damaged_config_json_is_named_in_one_line(saved_model, tmp_path, capsys, edit, problem):
    # Keras's own error named neither the file nor the member ("could not be loaded as a Keras model: Expecting
    # value: line 1 column 1 (char 0)", "list indices must be integers or slices, not str").
    from keras_vocabsafe.cli import main

    damaged = _with_config(saved_model, tmp_path / "damaged.keras", edit)
    assert main(["convert", str(damaged), str(tmp_path / "out.keras")]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"error: {re.escape(str(damaged))}: config\.json {problem}.*Save the model again", err), err
    assert err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == ["damaged.keras"]
