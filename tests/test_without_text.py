"""keras-vocabsafe where tensorflow-text is not installed: what works, and the error for what needs it.

tensorflow-text is the optional `text` extra. Only `nox -s tests_without_text` runs these tests: it builds the
wheel, installs it without tensorflow-text into its own environment, and selects the marker `without_text`.
Every other run deselects them (pytest's `addopts` in pyproject.toml), since tensorflow-text is installed there.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vocabsafe
from keras_vocabsafe import TextVocabEmbedding, TextVocabLookup, VocabEmbedding, audit_ops, export_for_serving
from keras_vocabsafe.errors import MissingDependencyError, VocabSafeError

pytestmark = pytest.mark.without_text

INSTALL = 'pip install "keras-vocabsafe[text]"'
# Each setting that runs a tensorflow-text op, as the error names it.
NEEDS_TEXT = [
    ({"standardize": "case_fold"}, "standardize='case_fold'"),
    ({"normalization_form": "NFKC"}, "normalization_form='NFKC'"),
    ({"split": "unicode_script"}, "split='unicode_script'"),
    ({"split": "wordpiece", "max_tokens": 100}, "split='wordpiece'"),
]
# Counts 4, 3, 2, 1: no ties, so the id order is the count order, as Keras's StringLookup gives it.
TOKENS = [["the", "cat"], ["the", "cat"], ["the", "cat"], ["the", "dog"], ["dog", "sat"]]
LABELS = np.array([1, 1, 1, 0, 0], dtype="float32")


def test_tensorflow_text_is_not_installed():
    assert importlib.util.find_spec("tensorflow_text") is None


def test_keras_vocabsafe_is_the_installed_wheel_not_a_source_tree():
    site_packages = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
    assert pathlib.Path(keras_vocabsafe.__file__).resolve().parent == site_packages / "keras_vocabsafe"


def test_vocab_embedding_adapts_trains_saves_and_reloads(tmp_path):
    reference = keras.layers.StringLookup()
    reference.adapt(tf.constant(TOKENS))
    inputs = keras.Input(shape=(2,), dtype="string")
    layer = VocabEmbedding(4, name="words")
    layer.adapt(tf.constant(TOKENS))
    pooled = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = layer.get_weights()[0].copy()
    model.fit(tf.constant(TOKENS), LABELS, epochs=2, verbose=0)

    assert layer.get_vocabulary() == reference.get_vocabulary() == ["[UNK]", "the", "cat", "dog", "sat"]
    assert not np.array_equal(layer.get_weights()[0], before)
    queries = tf.constant([["cat", "zebra"], ["sat", "the"]])
    expected = model.predict(queries, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(queries, verbose=0), expected, rtol=1e-6)
    np.testing.assert_array_equal(reloaded.get_layer("words").token_to_id(queries), reference(queries))


def test_core_text_settings_work_on_unicode_text(tmp_path):
    # Lowercasing beyond ASCII, punctuation and whitespace splitting: core TensorFlow ops, no tensorflow-text.
    lookup = TextVocabLookup(output_sequence_length=4)
    lookup.adapt(["Héllo, WORLD!", "héllo café", "Café? HÉLLO"])
    assert lookup.get_vocabulary() == ["", "[UNK]", "héllo", "café", "world"]
    np.testing.assert_array_equal(lookup(["CAFÉ héllo, zebra"]), [[3, 2, 1, 0]])


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"split": "character", "standardize": None}, ["a", "b", "é"]),
        ({"split": "regex", "split_pattern": "[,;]", "standardize": "lower"}, ["a b", "c"]),
    ],
)
def test_character_and_regex_splits_need_no_tensorflow_text(settings, expected):
    lookup = TextVocabLookup(**settings)
    lookup.adapt(["A b,c;A b" if settings["split"] == "regex" else "ab é b"])
    assert sorted(lookup.get_vocabulary(include_special_tokens=False)) == expected


@pytest.mark.parametrize(("settings", "named"), NEEDS_TEXT)
@pytest.mark.parametrize("layer_class", [TextVocabEmbedding, TextVocabLookup])
def test_a_setting_that_needs_tensorflow_text_raises_at_construction_naming_the_extra(layer_class, settings, named):
    arguments = {"output_dim": 4} if layer_class is TextVocabEmbedding else {}
    with pytest.raises(MissingDependencyError) as raised:
        layer_class(name="words", **arguments, **settings)
    message = str(raised.value)
    assert f"{layer_class.__name__} 'words' with {named} needs tensorflow-text, which is not installed" in message
    assert INSTALL in message
    assert isinstance(raised.value, ImportError) and isinstance(raised.value, VocabSafeError)
    assert raised.value.name == "tensorflow_text"


def test_loading_a_model_whose_text_layer_needs_tensorflow_text_raises_the_same_error(tmp_path):
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, TextVocabEmbedding(4, vocabulary=["cat"], name="words")(inputs))
    model.save(tmp_path / "core.keras")
    # The same model saved where tensorflow-text was installed: only the layer's config differs.
    with zipfile.ZipFile(tmp_path / "core.keras") as source:
        files = {name: source.read(name) for name in source.namelist()}
    config = json.loads(files["config.json"])
    (text_layer,) = [layer for layer in config["config"]["layers"] if layer["config"]["name"] == "words"]
    text_layer["config"]["standardize"] = "case_fold"
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "case_fold.keras", "w") as target:
        for name, data in files.items():
            target.writestr(name, data)

    with pytest.raises(ImportError) as raised:
        keras.saving.load_model(tmp_path / "case_fold.keras")
    assert "standardize='case_fold' needs tensorflow-text" in str(raised.value)
    assert INSTALL in str(raised.value)


def test_a_core_text_model_exports_for_serving_and_its_ops_are_all_core(tmp_path):
    inputs = keras.Input(shape=(), dtype="string")
    words = TextVocabEmbedding(3, output_sequence_length=2, name="words")
    words.adapt(["the cat", "the dog"])
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(words(inputs)))
    queries = tf.constant(["The cat", "a dog"])
    expected = model.predict(queries, verbose=0)

    path = export_for_serving(model, tmp_path / "serving", target="core")
    audit = audit_ops(path, target="core")
    assert set(audit.ops.values()) == {"core"}
    serve = tf.saved_model.load(path).signatures["serving_default"]
    (input_name,) = serve.structured_input_signature[1]
    (served,) = serve(**{input_name: queries}).values()
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-6)


def test_vocab_embedding_model_export_serves_raw_tokens(tmp_path):
    inputs = keras.Input(shape=(2,), dtype="string")
    model = keras.Model(inputs, VocabEmbedding(3, vocabulary=["the", "cat"], name="words")(inputs))
    queries = tf.constant([["cat", "zebra"]])
    path = export_for_serving(model, tmp_path / "serving")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    (input_name,) = serve.structured_input_signature[1]
    (served,) = serve(**{input_name: queries}).values()
    np.testing.assert_allclose(served.numpy(), model.predict(queries, verbose=0), rtol=1e-6)


def _vocabsafe(*arguments):
    # The console script pip installed beside this interpreter, as a user runs it.
    script = pathlib.Path(sys.executable).parent / "vocabsafe"
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([str(script), *arguments], capture_output=True, text=True, env=environment, timeout=300)


def test_cli_help_runs():
    result = _vocabsafe("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: vocabsafe")
    for command in ("vocab", "inspect", "convert", "vectors"):
        assert command in result.stdout


def test_cli_builds_a_text_vocabulary_with_core_settings_and_names_the_extra_for_others(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat\nthe dog\nthe cat\n", encoding="utf-8")
    built = _vocabsafe("vocab", "build", str(corpus), "-o", str(tmp_path / "vocab.json"), "--json")
    assert built.returncode == 0, built.stderr
    shown = _vocabsafe("vocab", "show", str(tmp_path / "vocab.json"), "--json")
    assert [entry["token"] for entry in json.loads(shown.stdout)["head"]] == ["the", "cat", "dog"]

    refused = _vocabsafe("vocab", "build", str(corpus), "-o", str(tmp_path / "x.json"), "--split", "unicode_script")
    assert refused.returncode == 2
    assert "split='unicode_script' needs tensorflow-text" in refused.stderr and INSTALL in refused.stderr
    assert "looks like a bug" not in refused.stderr
    assert not (tmp_path / "x.json").exists()
