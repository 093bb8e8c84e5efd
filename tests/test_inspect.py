"""`inspect_model` and `vocabsafe inspect` on real saved models built with the classic vocabulary mistakes."""

import json
import os
import pathlib
import re
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

from conftest import hashing_model, run_vocabsafe, two_hashings_model
from keras_vocabsafe import ConversionError, VocabEmbedding, convert_model
from keras_vocabsafe.errors import ConfigurationError, ModelFileError, UnknownIdError
from keras_vocabsafe.inspection import inspect_model

VOCAB = ["the", "cat", "sat", "on", "mat"]


def _lookup_model(lookup, input_dim, *, mask_zero=False, between=(), name="emb"):
    inputs = keras.Input(shape=(3,), dtype=lookup.vocabulary_dtype if hasattr(lookup, "vocabulary_dtype") else "string")
    x = lookup(inputs)
    for layer in between:
        x = layer(x)
    outputs = keras.layers.Embedding(input_dim, 2, mask_zero=mask_zero, name=name)(x)
    return keras.Model(inputs, outputs)


def _save(model, path):
    model.save(path)
    return str(path)


def _codes(report, severity=None):
    return [f.code for f in report.findings if severity is None or f.severity == severity]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Every saved model the tests inspect, built once (Keras saving is the slow part)."""
    root = tmp_path_factory.mktemp("models")
    paths = {}

    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    paths["no_oov_row"] = _save(_lookup_model(lookup, len(VOCAB)), root / "no_oov_row.keras")

    # `get_vocabulary()` output (with "[UNK]") passed back to a lookup, which strips it; then `len + 2` rows.
    listed = keras.layers.StringLookup(vocabulary=VOCAB).get_vocabulary()
    lookup = keras.layers.StringLookup(vocabulary=listed, name="words")
    paths["plus_two"] = _save(_lookup_model(lookup, len(listed) + 2), root / "plus_two.keras")

    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token=None, name="words")
    paths["mask_zero_no_mask"] = _save(
        _lookup_model(lookup, lookup.vocabulary_size(), mask_zero=True), root / "mask_zero_no_mask.keras"
    )
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", name="words")
    paths["mask_no_mask_zero"] = _save(_lookup_model(lookup, lookup.vocabulary_size()), root / "mask_no_zero.keras")

    # Correct models: plain (through Reshape), TextVectorization, Sequential, nested.
    lookup = keras.layers.StringLookup(name="words")
    lookup.adapt(np.array([["the", "cat", "sat"], ["the", "cat", "on"]]))
    between = [keras.layers.Reshape((3,), name="reshape_ids"), keras.layers.Flatten(name="flatten_ids")]
    paths["plain_ok"] = _save(_lookup_model(lookup, lookup.vocabulary_size(), between=between), root / "ok.keras")
    vectorizer = keras.layers.TextVectorization(output_sequence_length=4, name="vectorizer")
    vectorizer.adapt(["the cat sat", "on the mat"])
    inputs = keras.Input(shape=(), dtype="string")
    outputs = keras.layers.Embedding(vectorizer.vocabulary_size(), 2, mask_zero=True)(vectorizer(inputs))
    paths["text_ok"] = _save(keras.Model(inputs, outputs), root / "text_ok.keras")
    ids = keras.layers.IntegerLookup(vocabulary=[7, 8, 9], name="ids")
    sequential = keras.Sequential(
        [keras.Input(shape=(2,), dtype="int64"), ids, keras.layers.Embedding(ids.vocabulary_size(), 2)]
    )
    paths["sequential_ok"] = _save(sequential, root / "sequential_ok.keras")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="outer_words")
    inner = keras.Sequential([keras.layers.Embedding(lookup.vocabulary_size(), 2, name="inner_emb")], name="inner")
    inputs = keras.Input(shape=(3,), dtype="string")
    paths["nested_ok"] = _save(keras.Model(inputs, inner(lookup(inputs))), root / "nested_ok.keras")
    # The same nested model with one row missing, to show the walk really crosses the model boundary.
    inner = keras.Sequential([keras.layers.Embedding(len(VOCAB), 2, name="inner_emb")], name="inner")
    paths["nested_bad"] = _save(keras.Model(inputs, inner(lookup(inputs))), root / "nested_bad.keras")

    layer = VocabEmbedding(2, vocabulary=VOCAB, name="words")
    paths["vocab_embedding_ok"] = _save(
        keras.Sequential([keras.Input(shape=(3,), dtype="string"), layer]), root / "vocab_embedding_ok.keras"
    )

    # Re-adapted in another order between training and export. Our layer: training weights vs exported model.
    train = keras.Sequential([keras.Input(shape=(3,), dtype="string"), VocabEmbedding(2, vocabulary=VOCAB)])
    train.save_weights(root / "train.weights.h5")
    paths["train_weights"] = str(root / "train.weights.h5")
    reordered = VOCAB[::-1]
    export = keras.Sequential([keras.Input(shape=(3,), dtype="string"), VocabEmbedding(2, vocabulary=reordered)])
    paths["export"] = _save(export, root / "export.keras")
    # Plain Keras: the training vocabulary saved as text, the exported lookup adapted again in another order.
    trained = keras.layers.StringLookup(vocabulary=VOCAB)
    (root / "train_vocab.txt").write_text("\n".join(trained.get_vocabulary()) + "\n", encoding="utf-8")
    paths["train_vocab"] = str(root / "train_vocab.txt")
    readapted = keras.layers.StringLookup(name="words")
    readapted.adapt(np.array([["mat", "mat", "on", "on", "on", "sat", "cat", "the"]]))
    paths["readapted_vocabulary"] = readapted.get_vocabulary()
    paths["readapted"] = _save(_lookup_model(readapted, readapted.vocabulary_size()), root / "readapted.keras")

    # An adapted token holding a newline: Keras writes it into its one-token-per-line asset.
    lookup = keras.layers.StringLookup(name="words")
    lookup.adapt(np.array([["line\nbreak", "cat", "cat"]]))
    paths["newline"] = _save(_lookup_model(lookup, lookup.vocabulary_size()), root / "newline.keras")
    return paths


# The classic mistakes, through the Python API --------------------------------------------------------------------


@pytest.mark.saving
def test_embedding_without_the_oov_row_is_an_error(models):
    report = inspect_model(models["no_oov_row"])
    (finding,) = report.findings
    assert (finding.severity, finding.code, finding.layers) == ("error", "ids-exceed-rows", ("words", "emb"))
    # StringLookup gives len(VOCAB) + 1 ids (the OOV id), the embedding has len(VOCAB) rows.
    assert finding.details["ids_without_row"] == 1
    assert "input_dim=lookup.vocabulary_size()" in finding.message
    assert report.exit_code() == 1 and report.exit_code("error") == 1
    (pair,) = report.pairs
    assert (pair.vocabulary_size, pair.rows, pair.oov_ids, pair.mask_id) == (len(VOCAB) + 1, len(VOCAB), (0,), None)


@pytest.mark.saving
def test_len_plus_two_on_a_vocabulary_with_its_special_tokens_is_a_warning_with_the_count(models):
    report = inspect_model(models["plus_two"])
    (finding,) = report.findings
    assert (finding.severity, finding.code) == ("warning", "unreachable-rows")
    # The list held "[UNK]", so the lookup has len(list) ids and the embedding len(list) + 2 rows.
    assert finding.details["unreachable_rows"] == 2
    assert report.exit_code() == 1 and report.exit_code(fail_on="error") == 0


@pytest.mark.saving
def test_mask_disagreements(models):
    report = inspect_model(models["mask_zero_no_mask"])
    assert _codes(report) == ["mask-zero-without-mask-token"] and _codes(report, "error") == _codes(report)
    report = inspect_model(models["mask_no_mask_zero"])
    assert _codes(report, "warning") == ["mask-token-without-mask-zero"] and len(report.findings) == 1


@pytest.mark.saving
def test_vocab_embedding_weights_from_a_readapted_vocabulary_are_an_error(models):
    report = inspect_model(models["export"], weights=models["train_weights"])
    (finding,) = report.findings
    assert (finding.severity, finding.code) == ("error", "weights-for-other-vocabulary")
    # VOCAB reversed keeps only the middle token in place: 4 of its 5 tokens now sit on other rows.
    assert finding.details["ids_on_other_rows"] == sum(a != b for a, b in zip(VOCAB, VOCAB[::-1]))
    assert inspect_model(models["export"]).findings == []


@pytest.mark.saving
def test_plain_lookup_readapted_in_another_order_is_caught_with_the_training_vocabulary(models):
    assert inspect_model(models["readapted"]).findings == []  # Nothing in the file alone shows it.
    report = inspect_model(models["readapted"], vocabulary=models["train_vocab"])
    (finding,) = report.findings
    assert (finding.severity, finding.code) == ("error", "vocabulary-differs-from-expected")
    trained = keras.layers.StringLookup(vocabulary=VOCAB).get_vocabulary()
    readapted = models["readapted_vocabulary"]  # As Keras's adapt ordered it (by count), read from the layer.
    assert readapted != trained
    moved = sum(1 for token in VOCAB if trained.index(token) != readapted.index(token))
    assert (finding.details["moved"], finding.details["missing"], finding.details["new"]) == (moved, 0, 0)
    assert inspect_model(models["readapted"], vocabulary=readapted).findings == []


@pytest.mark.saving
@pytest.mark.parametrize(
    "name", ["plain_ok", "text_ok", "sequential_ok", "nested_ok", "vocab_embedding_ok", "readapted"]
)
def test_correct_models_report_nothing(models, name):
    report = inspect_model(models[name])
    assert report.findings == [] and report.exit_code() == 0
    assert len(report.pairs) == 1


@pytest.mark.saving
def test_pairs_record_the_layers_in_between_and_the_nested_embedding(models):
    (pair,) = inspect_model(models["plain_ok"]).pairs
    assert pair.between == ("reshape_ids", "flatten_ids")
    report = inspect_model(models["nested_bad"])
    # A nested layer is named with its model's name, as `convert` names it.
    assert [(f.code, f.layers) for f in report.findings] == [("ids-exceed-rows", ("outer_words", "inner/inner_emb"))]


@pytest.mark.saving
def test_a_token_with_a_newline_makes_the_vocabulary_not_reloadable(models):
    report = inspect_model(models["newline"])
    assert "vocabulary-not-reloadable" in _codes(report, "error")
    # What the finding predicts: Keras reloads the asset as other tokens (4 ids, not 3, for 3 embedding rows).
    reloaded = keras.saving.load_model(models["newline"]).get_layer("words")
    assert reloaded.vocabulary_size() == 4 and "line\nbreak" not in reloaded.get_vocabulary()
    assert "ids-exceed-rows" not in _codes(report)  # The pair is judged by what was saved, not the broken reload.


@pytest.mark.saving
def test_unregistered_custom_layer_between_lookup_and_embedding_is_a_note(tmp_path):
    @keras.saving.register_keras_serializable(package="inspect_test_only")
    class ShiftIds(keras.layers.Layer):
        def call(self, x):
            return x + 1

    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    path = _save(_lookup_model(lookup, 3, between=[ShiftIds(name="shift")]), tmp_path / "custom.keras")
    keras.saving.get_custom_objects().pop("inspect_test_only>ShiftIds")
    report = inspect_model(path)
    assert [(f.severity, f.code) for f in report.findings] == [("note", "path-not-checked")]
    assert report.exit_code() == 0 and report.pairs == []


def test_in_memory_models_are_inspected_too():
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    report = inspect_model(_lookup_model(lookup, len(VOCAB) + 3))
    assert [(f.code, f.details["unreachable_rows"]) for f in report.findings] == [("unreachable-rows", 2)]
    adapted = keras.layers.StringLookup(name="adapted")
    adapted.adapt(np.array([["a\u2028b", "c"]]))
    report = inspect_model(_lookup_model(adapted, adapted.vocabulary_size()))
    assert _codes(report) == ["vocabulary-not-reloadable"]


def test_expected_vocabulary_needs_the_layer_when_the_model_has_several():
    first = keras.layers.StringLookup(vocabulary=VOCAB, name="first")
    second = keras.layers.StringLookup(vocabulary=VOCAB, name="second")
    a, b = keras.Input(shape=(3,), dtype="string"), keras.Input(shape=(3,), dtype="string")
    embed = keras.layers.Embedding(first.vocabulary_size(), 2)
    model = keras.Model([a, b], [embed(first(a)), embed(second(b))])
    with pytest.raises(ConfigurationError, match="--layer"):
        inspect_model(model, vocabulary=VOCAB)
    report = inspect_model(model, vocabulary=VOCAB[::-1], layer="second")
    assert [(f.code, f.layers) for f in report.findings] == [("vocabulary-differs-from-expected", ("second",))]


# Hostile inputs --------------------------------------------------------------------------------------------------


@pytest.mark.saving
def test_bad_files_raise_model_file_error(models, tmp_path):
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    text = tmp_path / "notes.keras"
    text.write_text("not a model\n")
    truncated = tmp_path / "truncated.keras"
    with open(models["plain_ok"], "rb") as f:
        data = f.read()
    truncated.write_bytes(data[: len(data) // 2])
    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    cases = {
        tmp_path / "missing.keras": "does not exist",
        tmp_path: "not a SavedModel",
        empty: "empty",
        text: "neither signature",
        truncated: "truncated or damaged",
        other_zip: "no config.json",
        models["train_weights"]: "--weights",
    }
    for path, message in cases.items():
        with pytest.raises(ModelFileError, match=message):
            inspect_model(path)
    with pytest.raises(ModelFileError, match="another architecture"):
        inspect_model(models["plain_ok"], weights=models["train_weights"])


def _sharded_pair(tmp_path, tokens, reordered):
    """Weights of a model over `tokens`, as one file and sharded (several shards), and a .keras model over
    `reordered` with the same architecture."""

    def build(vocabulary):
        inputs = keras.Input(shape=(3,), dtype="string")
        x = VocabEmbedding(64, vocabulary=vocabulary, name="words")(inputs)
        return keras.Model(inputs, keras.layers.Dense(2000, name="wide")(x))

    train = build(tokens)
    train.save_weights(tmp_path / "train.weights.h5")
    (tmp_path / "shards").mkdir()
    train.save_weights(tmp_path / "shards" / "train.weights.json", max_shard_size=0.0006)
    return (
        str(tmp_path / "train.weights.h5"),
        str(tmp_path / "shards" / "train.weights.json"),
        _save(build(reordered), tmp_path / "export.keras"),
    )


@pytest.mark.saving
def test_sharded_weights_are_inspected_as_the_same_weights_in_one_file(tmp_path):
    tokens = [f"t{i}" for i in range(2000)]
    single, index, export = _sharded_pair(tmp_path, tokens, tokens[::-1])
    assert len([name for name in os.listdir(os.path.dirname(index)) if name.endswith(".h5")]) > 1
    sharded = inspect_model(export, weights=index)
    whole = inspect_model(export, weights=single)
    assert [f.code for f in sharded.findings] == [f.code for f in whole.findings] == ["weights-for-other-vocabulary"]
    assert [f.details for f in sharded.findings] == [f.details for f in whole.findings]
    result = run_vocabsafe("inspect", export, "--weights", index, "--json")
    assert json.loads(result.stdout)["findings"][0]["code"] == "weights-for-other-vocabulary", result.stderr


@pytest.mark.saving
def test_sharded_weights_with_a_missing_or_truncated_shard_are_refused_naming_it(tmp_path):
    tokens = [f"t{i}" for i in range(2000)]
    _, index, export = _sharded_pair(tmp_path, tokens, tokens)
    folder = pathlib.Path(index).parent
    shard = sorted(folder.glob("*.h5"))[-1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=re.escape(f"The shard '{shard}' of '{index}' could not be read")):
        inspect_model(export, weights=index)
    shard.unlink()
    with pytest.raises(ModelFileError, match=re.escape(f"names the shard '{shard.name}', which is not in")):
        inspect_model(export, weights=index)


@pytest.mark.slow
def test_a_damaged_weights_file_is_a_model_file_error_wherever_the_damage_is(models, tmp_path):
    # h5py reports a damaged HDF5 file as OSError, KeyError, RuntimeError or ValueError, by where the damage is.
    data = bytearray(pathlib.Path(models["train_weights"]).read_bytes())
    outcomes = set()
    for offset in range(0, len(data), 256):
        damaged = bytearray(data)
        damaged[offset : offset + 32] = bytes(b ^ 0x5A for b in damaged[offset : offset + 32])
        path = tmp_path / f"damaged_{offset}.weights.h5"
        path.write_bytes(damaged)
        try:
            inspect_model(models["plain_ok"], weights=path)
            outcomes.add("read")
        except ModelFileError:
            outcomes.add("refused")
    assert "refused" in outcomes  # Anything else than our error fails the test.


def _edited(source, target, edit, *, drop_weights=False):
    """A copy of a .keras file with each layer config passed through `edit`, and maybe no weights file."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            if drop_weights and item.filename == "model.weights.h5":
                continue
            data = original.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for layer in config["config"]["layers"]:
                    edit(layer["config"])
                data = json.dumps(config).encode("utf-8")
            copy.writestr(item, data)
    return target


@pytest.mark.parametrize("keras_layer", [False, True], ids=["VocabEmbedding", "Embedding"])
def test_a_config_that_does_not_build_the_saved_matrix_is_an_error(tmp_path, keras_layer):
    # Each edited file is one keras.saving.load_model refuses; inspect said "No problems found".
    strings = keras.Input((3,), dtype="string")
    if keras_layer:
        lookup = keras.layers.StringLookup(vocabulary=VOCAB)
        vectors = keras.layers.Embedding(lookup.vocabulary_size(), 4, name="emb")(lookup(strings))
    else:
        vectors = VocabEmbedding(4, vocabulary=VOCAB, name="emb")(strings)
    model = keras.Model(strings, vectors)
    model.quantize("int8")
    source = _save(model, tmp_path / "int8.keras")

    def float_policy(config):
        if config.get("name") == "emb":
            config["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}
            config.pop("quantization_config", None)

    def wider(config):
        if config.get("name") == "emb":
            config["output_dim"] = 8

    cases = {
        "float_policy": (float_policy, r"config builds a float matrix, but the weights hold a quantized one \(int8"),
        "wider": (wider, r"config has output_dim=8, but the saved matrix has 4 columns"),
    }
    assert inspect_model(source).findings == []
    for name, (edit, message) in cases.items():
        report = inspect_model(_edited(source, tmp_path / f"{name}.keras", edit))
        assert _codes(report, "error") == ["weights-do-not-fit"], str(report)
        assert re.search(message, report.findings[0].message), report.findings[0].message
    report = inspect_model(_edited(source, tmp_path / "no_weights.keras", lambda config: None, drop_weights=True))
    assert _codes(report, "error") == ["weights-missing"] and report.exit_code() == 1


def _lookup_and_embedding(vocabulary, input_dim=None):
    strings = keras.Input((3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=vocabulary)
    embedding = keras.layers.Embedding(input_dim or lookup.vocabulary_size(), 2, name="emb")
    return keras.Model(strings, embedding(lookup(strings)))


def _assert_advises_weights_for_this_vocabulary(finding):
    """The rows are told to be those of old.weights.h5, saved for another vocabulary: load matching weights."""
    assert "old.weights.h5" in finding.message and "another vocabulary" in finding.message, finding.message
    assert "Load weights saved from a model with this vocabulary, or retrain" in finding.message


@pytest.mark.saving
@pytest.mark.parametrize("input_dim", [None, 4], ids=["config fits", "config too small too"])
def test_rows_from_weights_saved_for_another_vocabulary_advise_other_weights_not_input_dim(tmp_path, input_dim):
    # The weights hold 5 rows (4 tokens + OOV); the new model's lookup gives 6 ids. Inspect advised
    # `input_dim=6`, which the config already had.
    _lookup_and_embedding(VOCAB[:4]).save_weights(tmp_path / "old.weights.h5")
    new = _save(_lookup_and_embedding([*VOCAB[:4], "new token"], input_dim), tmp_path / "new.keras")
    report = inspect_model(new, weights=tmp_path / "old.weights.h5")
    assert sorted(_codes(report, "error")) == ["ids-exceed-rows", "weights-do-not-fit"], str(report)
    (finding,) = [f for f in report.findings if f.code == "ids-exceed-rows"]
    assert finding.details["rows"] == 5 and finding.details["vocabulary_size"] == 6
    _assert_advises_weights_for_this_vocabulary(finding)
    if input_dim is None:
        assert "input_dim=6 fits the 6 ids" in finding.message and "Use `input_dim" not in finding.message
    else:
        assert "input_dim=4 does not fit them either: use `input_dim=lookup.vocabulary_size()` (6)" in finding.message


@pytest.mark.saving
def test_extra_rows_from_weights_saved_for_a_larger_vocabulary_advise_other_weights_not_input_dim(tmp_path):
    _lookup_and_embedding([*VOCAB, "gone"]).save_weights(tmp_path / "old.weights.h5")
    new = _save(_lookup_and_embedding(VOCAB), tmp_path / "new.keras")
    report = inspect_model(new, weights=tmp_path / "old.weights.h5")
    (finding,) = [f for f in report.findings if f.code == "unreachable-rows"]
    assert finding.details["unreachable_rows"] == 1
    assert "old.weights.h5" in finding.message and "input_dim=6 fits the 6 ids" in finding.message, finding.message
    assert "Use `input_dim" not in finding.message


def _shifted_lookup_and_embedding(vocabulary, input_dim=None):
    strings = keras.Input((3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=vocabulary)
    embedding = keras.layers.Embedding(input_dim or lookup.vocabulary_size() + 1, 2, name="emb")
    return keras.Model(strings, embedding(keras.ops.add(lookup(strings), 1)))


@pytest.mark.saving
@pytest.mark.parametrize(
    ("saved_vocabulary", "code"),
    [(VOCAB[:4], "ids-exceed-rows"), ([*VOCAB, "gone"], "unreachable-rows")],
    ids=["fewer rows", "more rows"],
)
@pytest.mark.parametrize("input_dim", [None, 5], ids=["config fits", "config too small too"])
def test_rows_from_weights_saved_for_another_vocabulary_advise_other_weights_on_a_shifted_route_too(
    tmp_path, saved_vocabulary, code, input_dim
):
    # The new lookup gives ids 0 to 5, shifted to 1 to 6: they need 7 rows. Inspect advised `input_dim=7` on
    # the shifted route, which the config already had, where the unshifted route advised other weights.
    _shifted_lookup_and_embedding(saved_vocabulary).save_weights(tmp_path / "old.weights.h5")
    new = _save(_shifted_lookup_and_embedding(VOCAB, input_dim), tmp_path / "new.keras")
    report = inspect_model(new, weights=tmp_path / "old.weights.h5")
    assert "weights-do-not-fit" in _codes(report, "error"), str(report)
    (finding,) = [f for f in report.findings if f.code == code]
    assert finding.details["rows"] == len(saved_vocabulary) + 2 and "shifted by +1" in finding.message
    _assert_advises_weights_for_this_vocabulary(finding)
    if input_dim is None:
        assert "input_dim=7 fits ids 1 to 6" in finding.message and "se `input_dim" not in finding.message
    else:
        assert "input_dim=5 does not fit them either: use `input_dim=7`)" in finding.message


def _hashing_and_embedding(num_bins):
    strings = keras.Input((3,), dtype="string")
    return keras.Model(
        strings, keras.layers.Embedding(num_bins, 2, name="emb")(keras.layers.Hashing(num_bins)(strings))
    )


@pytest.mark.saving
@pytest.mark.parametrize(("saved_bins", "code"), [(5, "ids-exceed-rows"), (7, "unreachable-rows")])
def test_rows_from_weights_saved_for_other_hash_bins_advise_other_weights_not_input_dim(tmp_path, saved_bins, code):
    _hashing_and_embedding(saved_bins).save_weights(tmp_path / "old.weights.h5")
    new = _save(_hashing_and_embedding(6), tmp_path / "new.keras")
    report = inspect_model(new, weights=tmp_path / "old.weights.h5")
    (finding,) = [f for f in report.findings if f.code == code]
    assert finding.details["rows"] == saved_bins and "old.weights.h5" in finding.message, finding.message
    assert (
        "input_dim=6 fits the 6 ids" in finding.message
        and "saved from a model with another num_bins" in finding.message
    )
    assert "Use `input_dim" not in finding.message and "or num_bins=" not in finding.message


def _edited_layer(source, target, name, edit):
    """A copy of a .keras file whose layer `name` has its config entry (class name and config) passed to `edit`."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                (entry,) = [layer for layer in config["config"]["layers"] if layer["config"].get("name") == name]
                edit(entry)
                data = json.dumps(config).encode("utf-8")
            copy.writestr(item, data)
    return str(target)


def _pair_and_dense(tmp_path, ours):
    strings = keras.Input((3,), dtype="string")
    if ours:
        vectors = VocabEmbedding(4, vocabulary=VOCAB, name="emb")(strings)
    else:
        lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        vectors = keras.layers.Embedding(lookup.vocabulary_size(), 4, name="emb")(lookup(strings))
    model = keras.Model(strings, keras.layers.Dense(2, name="dense")(vectors))
    return _save(model, tmp_path / "source.keras")


def _set(key, value):
    return lambda entry: entry["config"].__setitem__(key, value)


def _remove(key):
    return lambda entry: entry["config"].pop(key)


@pytest.mark.parametrize(
    ("ours", "layer", "edit", "message"),
    [
        (False, "emb", _remove("input_dim"), r"it lacks `input_dim`, which Embedding requires"),
        (False, "emb", _set("input_dim", "6"), r"`input_dim` must be a positive integer"),
        (False, "words", _set("num_oov_indices", "1"), r"its `num_oov_indices` entry \(\"1\"\) is refused"),
        (False, "words", _set("output_mode", "ids"), r"its `output_mode` entry \(\"ids\"\) is refused: Unknown"),
        (False, "words", _set("mask_token", 5), r"its `mask_token` entry \(5\) is refused"),
        (True, "emb", _set("output_dim", "4"), r"`output_dim` must be a positive integer. Received: output_dim='4'"),
        (True, "emb", _set("mask_token", 5), r"`mask_token` must be a str"),
        (True, "emb", _set("num_oov_indices", 0), r"`num_oov_indices` must be an integer of at least 1"),
        (True, "emb", _remove("output_dim"), r"it lacks `output_dim`, which VocabEmbedding requires"),
        (True, "emb", lambda entry: entry.update(registered_name="keras_vocabsafe>VocabEmbeding"), r"names the cl"),
    ],
)
def test_a_config_keras_cannot_rebuild_a_checked_layer_from_is_an_error(tmp_path, ours, layer, edit, message):
    # Hand-edited configs of the layers inspection reads: "No problems found" before (or a KeyDtypeError naming a
    # token), while keras.saving.load_model refuses the file.
    path = _edited_layer(_pair_and_dense(tmp_path, ours), tmp_path / "edited.keras", layer, edit)
    with pytest.raises((TypeError, ValueError)):  # The reference: Keras itself.
        keras.saving.load_model(path)
    report = inspect_model(path)
    assert _codes(report, "error") == ["config-not-loadable"], str(report)
    (finding,) = report.errors
    assert finding.layers == (layer,) and f"'{layer}'" in finding.message
    assert re.search(message, finding.message), finding.message
    assert "`keras.saving.load_model` fails on this file" in finding.message and report.exit_code() == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda entry: entry.update(class_name="Dense2"), r"'dense' is of class 'Dense2' \(module keras.layers\), wh"),
        (_remove("units"), r"Dense 'dense' lacks `units` in its config"),
    ],
)
def test_a_layer_keras_cannot_rebuild_that_inspection_does_not_read_is_a_note(tmp_path, edit, message):
    # Not about ids or rows, so not an error of this check; but the file will not load, which a user running
    # `inspect` before `load_model` should hear of.
    path = _edited_layer(_pair_and_dense(tmp_path, ours=False), tmp_path / "edited.keras", "dense", edit)
    with pytest.raises((TypeError, ValueError)):
        keras.saving.load_model(path)
    report = inspect_model(path)
    assert [(f.severity, f.code) for f in report.findings] == [("note", "config-not-loadable")], str(report)
    assert re.search(message, report.findings[0].message) and "No problems found" not in str(report)
    assert [(pair.lookup, pair.embedding) for pair in report.pairs] == [("words", "emb")]


def test_config_entries_keras_accepts_are_not_reported(tmp_path):
    # A long vocabulary is cut before the layer is rebuilt: its tokens are checked on their own.
    strings = keras.Input((3,), dtype="string")
    tokens = [f"token{i}" for i in range(100)]
    lookup = keras.layers.StringLookup(vocabulary=tokens, name="words")
    vectors = keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(lookup(strings))
    ours = VocabEmbedding(2, vocabulary=tokens, pad_to_multiple_of=8, name="ours")(strings)
    path = _save(keras.Model(strings, [vectors, ours]), tmp_path / "long.keras")
    assert inspect_model(path).findings == []


def _long_vocabulary_pair(tmp_path, kind):
    """A saved Keras lookup of 30 listed tokens (strings or integers) named "words", into an Embedding "emb"."""
    keys = keras.Input((3,), dtype="string" if kind == "string" else "int64")
    if kind == "string":
        lookup = keras.layers.StringLookup(vocabulary=[f"token{i}" for i in range(30)], name="words")
    else:
        lookup = keras.layers.IntegerLookup(vocabulary=list(range(100, 130)), name="words")
    vectors = keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(lookup(keys))
    return _save(keras.Model(keys, vectors), tmp_path / f"{kind}.keras")


def _token_at(at, token):
    return lambda entry: entry["config"]["vocabulary"].__setitem__(at, token)


@pytest.mark.parametrize(
    ("kind", "at", "token", "shown"),
    [
        ("integer", 20, "x", r'"x" \(a string\) at position 20, where an IntegerLookup takes integers'),
        ("integer", 29, None, r"null at position 29"),
        ("integer", 25, 2**70, r"1180591620717411303424 \(an integer beyond int64\) at position 25"),
        ("string", 20, None, r"null at position 20, where a StringLookup takes strings"),
        ("string", 17, ["a"], r'\["a"\] \(a list\) at position 17'),
        ("integer", 3, "x", r'"x" \(a string\) at position 3'),
    ],
    ids=["integer-string", "integer-null", "integer-beyond-int64", "string-null", "string-list", "in-the-first-16"],
)
def test_a_token_keras_refuses_anywhere_in_a_listed_vocabulary_is_an_error(tmp_path, kind, at, token, shown):
    # The rebuild check cuts a long vocabulary to its first 16 tokens, so a token of another type past them was not
    # seen there; reading the tokens then raised KeyDtypeError instead of a finding.
    path = _edited_layer(
        _long_vocabulary_pair(tmp_path, kind), tmp_path / "edited.keras", "words", _token_at(at, token)
    )
    with pytest.raises((TypeError, ValueError)):  # The reference: Keras itself.
        keras.saving.load_model(path)
    report = inspect_model(path)
    assert [(f.severity, f.code) for f in report.findings] == [("error", "config-not-loadable")], str(report)
    (finding,) = report.findings
    assert finding.layers == ("words",) and "`keras.saving.load_model` fails on this file" in finding.message
    assert re.search(rf"its `vocabulary` lists {shown}", finding.message), finding.message
    assert report.pairs == [] and report.exit_code() == 1


@pytest.mark.parametrize(
    ("kind", "at", "token", "shown"),
    [
        ("string", 20, 5, r"5 \(an integer\) at position 20 of its `vocabulary`, where a StringLookup takes strings"),
        ("string", 3, True, r"true \(a boolean\) at position 3 .* converts it to its text"),
        ("integer", 20, 7.5, r"7.5 \(a float\) at position 20 .* converts it to an integer"),
        ("integer", 22, "7", r'"7" \(a string\) at position 22'),
    ],
    ids=["string-integer", "string-boolean-in-the-first-16", "integer-float", "integer-digits"],
)
def test_a_token_keras_converts_in_a_listed_vocabulary_is_a_warning_not_a_crash(tmp_path, kind, at, token, shown):
    # Keras converts such a token through NumPy (5 -> "5", 7.5 -> 7) and loads the file, so it is no error; but the
    # tokens cannot be read as the layer's keys here, which raised KeyDtypeError wherever the token stood.
    path = _edited_layer(
        _long_vocabulary_pair(tmp_path, kind), tmp_path / "edited.keras", "words", _token_at(at, token)
    )
    loaded = keras.saving.load_model(path).get_layer("words").get_vocabulary()  # The reference: Keras loads it.
    assert len(loaded) == 31 and loaded[at + 1] != token  # Its OOV id first, then the 30 tokens, one converted.
    report = inspect_model(path)
    assert [(f.severity, f.code) for f in report.findings] == [("warning", "config-not-loadable")], str(report)
    (finding,) = report.findings
    assert finding.layers == ("words",) and re.search(rf"lists {shown}", finding.message), finding.message
    assert "fails on this file" not in finding.message


@pytest.mark.slow
@pytest.mark.saving
@pytest.mark.parametrize(
    ("layer_class", "vocabulary", "shown"),
    [
        ("StringLookup", ["a", 5], r"5 \(an integer\) at position 1 of its `vocabulary`, where a StringLookup takes"),
        ("TextVectorization", ["a", 2.5], r"2.5 \(a float\) at position 1 .* converts it to its text"),
    ],
    ids=["string-lookup", "text-vectorization"],
)
def test_a_token_keras_converts_in_a_model_in_memory_is_the_same_warning_as_in_its_file(
    tmp_path, layer_class, vocabulary, shown
):
    # Keras builds such a lookup in memory as it loads it from a file (5 -> "5"), but inspecting the model in memory
    # raised KeyDtypeError where inspecting its file gave a warning.
    lookup = getattr(keras.layers, layer_class)(vocabulary=vocabulary, name="words")
    assert lookup.get_vocabulary()[-1] != vocabulary[-1]  # The reference: Keras converted the token.
    strings = keras.Input(() if layer_class == "TextVectorization" else (3,), dtype="string")
    model = keras.Model(strings, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(lookup(strings)))
    in_memory = inspect_model(model)
    from_file = inspect_model(_save(model, tmp_path / "mixed.keras"))
    for report in (in_memory, from_file):
        assert [(f.severity, f.code, f.layers) for f in report.findings] == [
            ("warning", "config-not-loadable", ("words",))
        ], str(report)
        assert re.search(rf"lists {shown}", report.findings[0].message), report.findings[0].message
    assert in_memory.findings[0].message == from_file.findings[0].message


@pytest.mark.saving
@pytest.mark.parametrize(
    "arguments",
    [{"vocabulary": list(np.array(["a", "b"]))}, {"vocabulary": ["a", "b"], "oov_token": np.str_("[UNK]")}],
    ids=["numpy-strings-listed", "numpy-string-oov-token"],
)
def test_numpy_strings_in_a_model_in_memory_are_its_keys_as_in_its_file(tmp_path, arguments):
    # NumPy's str (`list(np.array([...]))`) is saved as plain JSON text, but the config in memory held np.str_, which
    # got a config-not-loadable warning ('"a" (a string) ... where a StringLookup takes strings') and no pair.
    lookup = keras.layers.StringLookup(name="words", **arguments)
    strings = keras.Input((3,), dtype="string")
    model = keras.Model(strings, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(lookup(strings)))
    for report in (inspect_model(model), inspect_model(_save(model, tmp_path / "numpy.keras"))):
        assert report.findings == [], str(report)
        assert [(pair.lookup, pair.embedding) for pair in report.pairs] == [("words", "emb")]


@pytest.mark.slow
@pytest.mark.saving
@pytest.mark.parametrize(
    ("layer_class", "arguments", "loads", "shown"),
    [
        ("StringLookup", {"oov_token": 5}, True, r"has oov_token=5 \(an integer\), where a StringLookup takes strings"),
        ("StringLookup", {"mask_token": b""}, False, r"fails on .*: its `mask_token` entry"),
        ("StringLookup", {"vocabulary": ["a", b"b"]}, False, r"fails on .*: its `vocabulary` lists .* at position 1"),
    ],
    ids=["oov-token-integer", "bytes-mask-token", "bytes-token"],
)
def test_special_and_bytes_tokens_keras_takes_are_findings_in_memory_and_in_the_file(
    tmp_path, layer_class, arguments, loads, shown
):
    # Keras builds these lookups. Inspecting them raised KeyDtypeError (an OOV token of another type: both routes;
    # a bytes token, which Keras saves as an object `load_model` refuses: in memory, or a warning of a text token).
    dtype = "string" if layer_class == "StringLookup" else "int64"
    arguments = {"vocabulary": ["a", "b"] if dtype == "string" else [1, 2], **arguments}
    lookup = getattr(keras.layers, layer_class)(name="words", **arguments)
    keys = keras.Input((3,), dtype=dtype)
    model = keras.Model(keys, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(lookup(keys)))
    path = _save(model, tmp_path / "model.keras")
    if loads:
        keras.saving.load_model(path)  # The reference: Keras loads it.
    else:
        with pytest.raises(TypeError):
            keras.saving.load_model(path)
    severity = "warning" if loads else "error"
    for report in (inspect_model(model), inspect_model(path)):
        assert [(f.severity, f.code, f.layers) for f in report.findings] == [
            (severity, "config-not-loadable", ("words",))
        ], str(report)
        assert re.search(shown, report.findings[0].message), report.findings[0].message
        assert report.pairs == []


@pytest.mark.parametrize("policy", ["bfloat16", "mixed_float16", "float16"])
def test_float_matrices_of_every_float_dtype_fit_their_config(tmp_path, policy):
    strings = keras.Input((3,), dtype="string")
    model = keras.Model(strings, VocabEmbedding(4, vocabulary=VOCAB, dtype=policy, name="emb")(strings))
    assert inspect_model(_save(model, tmp_path / "model.keras")).findings == []


# The console script --------------------------------------------------------------------------------------------


def _run_all(*commands):
    """Runs several `vocabsafe` commands at once (each pays for its own TensorFlow import)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda args: run_vocabsafe(*args), commands))


@pytest.mark.slow
@pytest.mark.saving
def test_cli_reports_each_mistake_with_its_severity_and_exit_code(models):
    results = _run_all(
        ("inspect", models["no_oov_row"]),
        ("inspect", models["plus_two"], "--json"),
        ("inspect", models["plus_two"], "--fail-on", "error"),
        ("inspect", models["mask_zero_no_mask"], "--json"),
        ("inspect", models["train_weights"], "--model", models["export"]),
        ("inspect", models["readapted"], "--vocabulary", models["train_vocab"], "--layer", "words", "--json"),
        ("inspect", models["nested_ok"]),
    )
    no_oov, plus_two, plus_two_lenient, mask, weights, readapted, correct = results
    assert no_oov.returncode == 1, no_oov.stderr
    assert "error: [ids-exceed-rows] words, emb" in no_oov.stdout and "1 error(s)" in no_oov.stdout
    document = json.loads(plus_two.stdout)
    assert plus_two.returncode == 1
    assert [(f["severity"], f["code"], f["details"]["unreachable_rows"]) for f in document["findings"]] == [
        ("warning", "unreachable-rows", 2)
    ]
    assert document["pairs"][0]["vocabulary_size"] == len(VOCAB) + 1 and document["pairs"][0]["rows"] == len(VOCAB) + 3
    assert plus_two_lenient.returncode == 0 and "unreachable-rows" in plus_two_lenient.stdout
    assert mask.returncode == 1
    assert [f["code"] for f in json.loads(mask.stdout)["findings"]] == ["mask-zero-without-mask-token"]
    assert weights.returncode == 1 and "weights-for-other-vocabulary" in weights.stdout
    assert readapted.returncode == 1
    assert [f["code"] for f in json.loads(readapted.stdout)["findings"]] == ["vocabulary-differs-from-expected"]
    assert correct.returncode == 0 and "No problems found." in correct.stdout, correct.stdout + correct.stderr
    for result in results:
        assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.saving
def test_cli_bad_inputs_exit_2_with_one_line(models, tmp_path):
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.keras"
    with open(models["export"], "rb") as f:
        data = f.read()
    truncated.write_bytes(data[: len(data) - 100])
    text = tmp_path / "text.keras"
    text.write_text("hello\n")
    commands = [
        ("inspect", tmp_path / "missing.keras"),
        ("inspect", tmp_path),
        ("inspect", empty),
        ("inspect", truncated),
        ("inspect", text),
        ("inspect", models["train_weights"]),
        ("inspect", models["plain_ok"], "--weights", models["train_weights"]),
        ("inspect", truncated, "--debug"),
    ]
    results = _run_all(*commands)
    for command, result in zip(commands[:-1], results[:-1]):
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vocabsafe inspect: error:"), (command, result.stderr)
        assert result.stdout == ""
    assert results[-1].returncode == 2 and "Traceback" in results[-1].stderr


def _run_main(capsys, *args):
    """Runs `vocabsafe` in this process (no TensorFlow import to pay for); returns exit code, stdout, stderr."""
    from keras_vocabsafe.cli import main

    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _small_model(tmp_path):
    strings = keras.Input((3,), dtype="string")
    return _save(keras.Model(strings, VocabEmbedding(2, vocabulary=VOCAB, name="emb")(strings)), tmp_path / "m.keras")


def test_cli_vocabulary_that_is_a_directory_is_named_as_one(tmp_path, capsys):
    # It said "no such file" of a directory that plainly exists.
    (tmp_path / "vocabs").mkdir()
    code, out, err = _run_main(capsys, "inspect", _small_model(tmp_path), "--vocabulary", tmp_path / "vocabs")
    assert code == 2 and out == ""
    assert f"--vocabulary {tmp_path / 'vocabs'} is a directory; pass a vocabulary file" in err, err
    assert "no such file" not in err
    code, _, err = _run_main(capsys, "inspect", _small_model(tmp_path), "--vocabulary", tmp_path / "missing.txt")
    assert code == 2 and "missing.txt: no such file" in err


def test_cli_vocabulary_from_a_pipe_is_read(tmp_path, capsys):
    # `--vocabulary <(...)` is a pipe, not a regular file; it is read once, so it works as a file does.
    fifo = tmp_path / "vocab.fifo"
    os.mkfifo(fifo)

    def write():
        try:
            with open(fifo, "w", encoding="utf-8") as pipe:
                pipe.write("\n".join(VOCAB) + "\n")
        except OSError:  # Nobody read it (the test failed): the reader the test opened last went away.
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        code, out, err = _run_main(capsys, "inspect", _small_model(tmp_path), "--vocabulary", fifo)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # Lets a writer nobody read from finish.
        writer.join(10)
    assert code == 0, err
    assert "No problems found." in out


def test_a_pipe_or_device_as_the_model_is_named_as_one_not_as_a_truncated_file(tmp_path, capsys):
    # `vocabsafe inspect /dev/stdin` said the file was empty or truncated: the pipe was read (and used up) first.
    # Devices first: a pipe holding a model made the old check wait for a second writer.
    with pytest.raises(ModelFileError, match=r"^/dev/null is a character device, not a regular file: .* `cat > mod"):
        inspect_model("/dev/null")
    with pytest.raises(ModelFileError, match=r"^/dev/null is a character device, .* a weights file .* `cat > model.w"):
        inspect_model(_small_model(tmp_path), weights="/dev/null")

    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    with open(_small_model(tmp_path), "rb") as file:
        data = file.read()

    def write():
        try:
            with open(fifo, "wb") as pipe:
                pipe.write(data)
        except OSError:  # The reader went away without reading all of it.
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        code, out, err = _run_main(capsys, "inspect", fifo)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # Lets a writer nobody read from finish.
        writer.join(10)
    assert code == 2 and out == ""
    assert f"{fifo} is a pipe, not a regular file: a model file cannot be inspected from a pipe" in err, err
    assert "`cat > model.keras`" in err and "truncated" not in err


@pytest.mark.saving
def test_a_vocabulary_that_keeps_its_own_ids_is_inspected_with_its_own_slots(tmp_path):
    # A BERT-style vocabulary: [PAD] at 0, [UNK] at 3; the layer keeps those ids, so nothing is wrong.
    tokens = ["[PAD]", "the", "cat", "[UNK]", "sat"]
    inputs = keras.Input(shape=(None,), dtype="string")
    layer = VocabEmbedding(4, vocabulary=tokens, mask_token="[PAD]", oov_token="[UNK]", name="bert")
    keras.Model(inputs, layer(inputs)).save(tmp_path / "bert.keras")
    report = inspect_model(tmp_path / "bert.keras")
    assert report.findings == [] or all(f.severity == "note" for f in report.findings)
    (pair,) = report.pairs
    assert (pair.vocabulary_size, pair.mask_id, tuple(pair.oov_ids)) == (5, 0, (3,))
    # The training vocabulary, listed as the file has it, matches id for id; another order is caught.
    assert inspect_model(tmp_path / "bert.keras", vocabulary=tokens).exit_code() == 0
    moved = inspect_model(tmp_path / "bert.keras", vocabulary=["[PAD]", "cat", "the", "[UNK]", "sat"])
    assert [f.code for f in moved.errors] == ["vocabulary-differs-from-expected"]


class _HoldsAPair:
    """A lookup and an embedding too short for it, wired in Python code."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        self.embedding = keras.layers.Embedding(len(VOCAB), 2, name="short")

    def call(self, inputs):
        return self.embedding(self.lookup(inputs))


class _Subclassed(_HoldsAPair, keras.Model):
    pass


class _CustomLayer(_HoldsAPair, keras.layers.Layer):
    pass


def test_lookups_wired_in_python_code_get_a_note_listing_their_sizes_in_memory(tmp_path):
    # Subclassed models and custom layers hide their wiring: nothing is paired, but nothing passes silently either.
    subclassed = _Subclassed(name="top")
    tokens = keras.Input(shape=(3,), dtype="string")
    nested_model = keras.Model(tokens, _Subclassed(name="inner")(tokens))
    nested_layer = keras.Model(tokens, _CustomLayer(name="custom")(tokens))
    subclassed(np.array([["the", "cat", "dog"]]))
    ids = subclassed.lookup.vocabulary_size()
    for model, name, opening in (
        (subclassed, "top", "Model 'top' (_Subclassed) is a subclassed model"),
        (nested_model, "inner", "Model 'inner' (_Subclassed) is a subclassed model"),
        (nested_layer, "custom", "Layer 'custom' (_CustomLayer) holds layers of its own"),
    ):
        report = inspect_model(model)
        assert report.pairs == []
        (finding,) = report.findings
        assert (finding.severity, finding.code, finding.layers) == ("note", "model-not-analysed", (name,))
        assert finding.message.startswith(opening), finding.message
        assert finding.details["layers"] == [
            f"StringLookup 'words' ({ids} ids)",
            f"Embedding 'short' ({len(VOCAB)} rows)",
        ]
        assert "inspect_model(model)" not in finding.message  # It was: the advice must not send the user in a loop.
    subclassed.save(tmp_path / "subclassed.keras")
    (finding,) = inspect_model(tmp_path / "subclassed.keras").findings
    assert finding.code == "model-not-analysed" and "inspect_model(model)` lists the lookups" in finding.message


def test_layers_of_one_name_in_two_nested_models_are_told_apart_in_memory():
    # Keras lets two nested models each hold a layer named "emb"; each pair must be checked with its own rows.
    def branch(name, rows):
        tokens = keras.Input(shape=(3,), dtype="string")
        lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        return keras.Model(tokens, keras.layers.Embedding(rows, 2, name="emb")(lookup(tokens)), name=name), lookup

    good, lookup = branch("good", len(VOCAB) + 1)
    short, _ = branch("short", len(VOCAB) - 1)
    tokens = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(tokens, keras.layers.Concatenate()([good(tokens), short(tokens)]))
    report = inspect_model(model)
    assert sorted(pair.rows for pair in report.pairs) == [len(VOCAB) - 1, len(VOCAB) + 1]
    (finding,) = report.findings
    assert finding.code == "ids-exceed-rows" and finding.details["rows"] == len(VOCAB) - 1, finding
    assert finding.details["ids_without_row"] == lookup.vocabulary_size() - (len(VOCAB) - 1)
    assert finding.layers == ("short/words", "short/emb")  # Each named with its model: the two were alike.
    # The vocabulary to compare with names its lookup by path; a bare name that two lookups share is refused.
    with pytest.raises(ConfigurationError, match=r"no lookup named 'words'; its lookups are \['good/words'"):
        inspect_model(model, vocabulary=VOCAB, layer="words")
    assert inspect_model(model, vocabulary=VOCAB, layer="short/words").findings[-1].code == "ids-exceed-rows"
    alone = keras.Model(tokens, good(tokens))  # One nested lookup: its bare name is enough.
    assert inspect_model(alone, vocabulary=VOCAB, layer="words").findings == []
    moved = inspect_model(alone, vocabulary=[*VOCAB[1:], VOCAB[0]], layer="words")
    assert [(f.code, f.layers) for f in moved.findings] == [("vocabulary-differs-from-expected", ("good/words",))]

    def holder(name, rows):
        tokens = keras.Input(shape=(3,), dtype="string")
        layer = _CustomLayer(name="holder")
        layer.embedding = keras.layers.Embedding(rows, 2, name="short")
        return keras.Model(tokens, layer(tokens), name=name)

    model = keras.Model(tokens, keras.layers.Concatenate()([holder("a", 7)(tokens), holder("b", 4)(tokens)]))
    held = sorted(finding.details["layers"][-1] for finding in inspect_model(model).findings)
    assert held == ["Embedding 'short' (4 rows)", "Embedding 'short' (7 rows)"]


@keras.saving.register_keras_serializable("keras_vocabsafe_tests")
class _SavedHolder(_CustomLayer):
    """`_CustomLayer`, registered so that a saved model holding it loads again."""


@keras.saving.register_keras_serializable("keras_vocabsafe_tests")
class _SavedDense(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)


def test_a_saved_custom_layer_holding_layers_gets_a_note_from_the_file(tmp_path):
    tokens = keras.Input(shape=(3,), dtype="string")
    path = tmp_path / "holder.keras"
    keras.Model(tokens, _SavedHolder(name="holder")(tokens)).save(path)
    report = inspect_model(path)  # It was "No problems found": the file alone cannot say what the layer holds.
    (finding,) = report.findings
    assert (finding.severity, finding.code, finding.layers) == ("note", "model-not-analysed", ("holder",))
    assert f"embedding/0 ({len(VOCAB)}, 2)" in finding.message and "inspect_model(model)" in finding.message
    # Without its weights file, Keras refuses the file: an error, whatever the layers are.
    damaged = tmp_path / "no_weights.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            if item.filename != "model.weights.h5":
                target.writestr(item, source.read(item.filename))
    assert [finding.code for finding in inspect_model(damaged).findings] == ["weights-missing"]
    # A model of floats (no strings, no lookup) holding custom layers is no concern of this check: no note.
    floats = keras.Input(shape=(3, 2))
    keras.Model(floats, _SavedDense(name="block")(floats)).save(tmp_path / "floats.keras")
    assert inspect_model(tmp_path / "floats.keras").findings == []
    # Layers of Keras's own classes that hold others (a Dense in a Sequential) are not custom: no note.
    inputs = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    embedded = keras.layers.Embedding(lookup.vocabulary_size(), 2)(lookup(inputs))
    inner = keras.Sequential([keras.Input(shape=(3, 2)), keras.layers.Dense(2)])
    keras.Model(inputs, inner(embedded)).save(tmp_path / "plain.keras")
    assert inspect_model(tmp_path / "plain.keras").findings == []


@pytest.mark.parametrize("saved", [False, True])
def test_an_embedding_in_time_distributed_is_checked_against_its_lookup(tmp_path, saved):
    steps = keras.Input(shape=(2, 3), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    wrapped = keras.layers.TimeDistributed(keras.layers.Embedding(len(VOCAB), 2), name="per_step")
    model = keras.Model(steps, wrapped(lookup(steps)))
    if saved:
        model.save(tmp_path / "model.keras")
        model = tmp_path / "model.keras"
    report = inspect_model(model)
    (pair,) = report.pairs
    assert (pair.lookup, pair.embedding, pair.vocabulary_size, pair.rows) == (
        "words",
        "per_step",
        lookup.vocabulary_size(),
        len(VOCAB),
    )
    assert [finding.code for finding in report.findings] == ["ids-exceed-rows"]
    # Too many rows: the advice leaves `vocabsafe convert` out, which does not rewrite the wrapper and says so.
    wide = keras.layers.TimeDistributed(keras.layers.Embedding(lookup.vocabulary_size() + 2, 2), name="wide")
    model = keras.Model(steps, wide(lookup(steps)))
    (finding,) = inspect_model(model).findings
    assert finding.code == "unreachable-rows" and "without the TimeDistributed" in finding.message, finding.message
    with pytest.raises(ConversionError) as refused:
        convert_model(model)
    assert [refusal.layers for refusal in refused.value.refusals] == [("words", "wide")]
    assert "wrapped in TimeDistributed 'wide'" in refused.value.refusals[0].reason


@keras.saving.register_keras_serializable("keras_vocabsafe_tests")
class _OwnEmbedding(keras.layers.Embedding):
    """An Embedding subclass: a class this check does not know."""


@pytest.mark.parametrize("saved", [False, True])
def test_ids_into_a_layer_of_an_unknown_class_get_a_note_with_the_rows_they_need(tmp_path, saved):
    inputs = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    model = keras.Model(inputs, _OwnEmbedding(len(VOCAB) - 1, 2, name="own")(lookup(inputs)))
    if saved:
        model.save(tmp_path / "model.keras")
        model = tmp_path / "model.keras"
    report = inspect_model(model)  # It was "No problems found".
    (finding,) = report.findings
    assert (finding.severity, finding.code, finding.layers) == ("note", "ids-into-unknown-layer", ("words", "own"))
    assert finding.details["vocabulary_size"] == lookup.vocabulary_size()
    assert f"it needs {lookup.vocabulary_size()} rows" in finding.message and report.exit_code() == 0


# Hashing layers: ids known from `num_bins`, no vocabulary ---------------------------------------------------------


def _hashing_model(hashing, rows, *, mask_zero=False, embedding=None):
    return hashing_model(hashing, embedding or keras.layers.Embedding(rows, 2, mask_zero=mask_zero, name="emb"))


def _inspected(model, tmp_path, saved):
    if saved:
        model.save(tmp_path / "model.keras")
        return inspect_model(tmp_path / "model.keras")
    return inspect_model(model)


@pytest.mark.parametrize("saved", [False, True], ids=["in-memory", "keras-file"])
@pytest.mark.parametrize(
    "hashing",
    [
        lambda: keras.layers.Hashing(num_bins=10, name="words"),
        lambda: keras.layers.Hashing(num_bins=10, salt=[3, 7], name="words"),
        lambda: keras.layers.HashedCrossing(num_bins=10, name="words"),
    ],
    ids=["Hashing", "salted", "HashedCrossing"],
)
def test_hash_bins_past_the_embedding_rows_are_an_error(tmp_path, saved, hashing):
    report = _inspected(_hashing_model(hashing(), 5), tmp_path, saved)  # It was "0 pairs, no problems found".
    (finding,) = report.findings
    assert (finding.severity, finding.code, finding.layers) == ("error", "ids-exceed-rows", ("words", "emb"))
    assert (finding.details["vocabulary_size"], finding.details["ids_without_row"]) == (10, 5)
    assert "num_bins=10" in finding.message and "vocabulary_size()" not in finding.message
    (pair,) = report.pairs
    assert (pair.vocabulary_size, pair.rows, pair.mask_id, pair.oov_ids) == (10, 5, None, ())
    assert "hash bins 10 (mask id none); embedding rows 5" in str(report) and "vocabulary size" not in str(report)


@pytest.mark.parametrize("saved", [False, True], ids=["in-memory", "keras-file"])
def test_hash_bins_short_of_the_embedding_rows_leave_rows_unreachable(tmp_path, saved):
    report = _inspected(_hashing_model(keras.layers.Hashing(num_bins=4, name="words"), 6), tmp_path, saved)
    (finding,) = report.findings
    assert (finding.severity, finding.code, finding.details["unreachable_rows"]) == ("warning", "unreachable-rows", 2)
    assert "input_dim=num_bins" in finding.message


@pytest.mark.parametrize("saved", [False, True], ids=["in-memory", "keras-file"])
def test_hashing_mask_value_and_mask_zero_must_agree(tmp_path, saved):
    masked = keras.layers.Hashing(num_bins=6, mask_value="", name="words")
    report = _inspected(_hashing_model(masked, 6, mask_zero=True), tmp_path, saved)
    assert report.findings == [] and [p.mask_id for p in report.pairs] == [0]
    masked = keras.layers.Hashing(num_bins=6, mask_value="", name="words")
    report = _inspected(_hashing_model(masked, 6), tmp_path, saved)
    assert [(f.severity, f.code) for f in report.findings] == [("warning", "mask-token-without-mask-zero")]
    # Without a mask value, id 0 is a bin like the others: mask_zero drops the inputs that hash to it.
    plain = keras.layers.Hashing(num_bins=6, name="words")
    report = _inspected(_hashing_model(plain, 6, mask_zero=True), tmp_path, saved)
    (finding,) = report.findings
    assert (finding.severity, finding.code) == ("error", "mask-zero-without-mask-token")
    assert "hash bin" in finding.message and "mask_value" in finding.message
    # With a single bin, Keras ignores the mask value: bin 0 holds every input.
    single = keras.layers.Hashing(num_bins=1, mask_value="", name="words")
    report = _inspected(_hashing_model(single, 1, mask_zero=True), tmp_path, saved)
    assert _codes(report) == ["mask-zero-without-mask-token"] and "single bin" in report.findings[0].message


def test_hashing_that_does_not_give_ids_is_no_lookup(tmp_path):
    inputs = keras.Input(shape=(3,), dtype="string")
    hot = keras.layers.Hashing(num_bins=10, output_mode="multi_hot", name="words")(inputs)
    model = keras.Model(inputs, keras.layers.Embedding(5, 2, name="emb")(keras.ops.cast(hot, "int32")))
    report = _inspected(model, tmp_path, True)
    assert report.pairs == [] and report.findings == []


@pytest.mark.parametrize("saved", [False, True], ids=["in-memory", "keras-file"])
@pytest.mark.parametrize("bins", [4, 6], ids=["as-many-bins-as-ids", "more-bins-than-ids"])
def test_hash_bins_into_a_vocab_id_embedding_are_an_error(tmp_path, saved, bins):
    from keras_vocabsafe import VocabIdEmbedding

    # Its rows belong to the tokens of its vocabulary: a hash bin selects the row of whichever token has its id.
    # With as many bins as ids, this was "No problems found"; with more, an ids-exceed-rows error only.
    embedding = VocabIdEmbedding(2, vocabulary=["a", "b", "c"], name="emb")  # 4 ids: the OOV id and 3 tokens.
    hashing = keras.layers.Hashing(num_bins=bins, name="words")
    report = _inspected(_hashing_model(hashing, None, embedding=embedding), tmp_path, saved)
    (finding,) = report.findings
    assert (finding.severity, finding.code) == ("error", "hash-bins-into-vocabulary-embedding")
    assert finding.layers == ("words", "emb")
    assert (finding.details["num_bins"], finding.details["vocabulary_size"]) == (
        hashing.num_bins,
        embedding.vocabulary_size(),
    )
    assert finding.details["ids_without_row"] == max(hashing.num_bins - embedding.vocabulary_size(), 0)
    assert "Hashing 'words'" in finding.message and "VocabIdEmbedding 'emb'" in finding.message
    assert "embedding.lookup()" in finding.message and "keras.layers.Embedding" in finding.message
    assert ("InvalidArgumentError" in finding.message) == (hashing.num_bins > embedding.vocabulary_size())


def test_a_lookup_of_unread_tokens_past_a_vocab_id_embedding_is_told_as_the_layer_fails(tmp_path):
    # The lookup's tokens are not in the file (its asset is gone), so only sizes can be compared. The message was a
    # Keras Embedding's ("out-of-range gather", "zero vectors on GPU", `input_dim`), but a VocabIdEmbedding checks
    # its ids itself and fails with an InvalidArgumentError on any device.
    import tensorflow as tf

    from keras_vocabsafe import VocabIdEmbedding

    vocabulary_file = tmp_path / "vocabulary.txt"  # Saved as an asset (a listed vocabulary is in the config).
    vocabulary_file.write_text("\n".join([*VOCAB, "dog", "fish"]) + "\n", encoding="utf-8")
    lookup = keras.layers.StringLookup(vocabulary=str(vocabulary_file), name="words")
    embedding = VocabIdEmbedding(2, vocabulary=VOCAB, name="ids")
    inputs = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(inputs, embedding(lookup(inputs)))
    keys = tf.constant([["the", "cat", "fish"]])
    with pytest.raises(tf.errors.InvalidArgumentError):  # What the message says happens, in a graph
        model.predict(keys, verbose=0)
    with pytest.raises(UnknownIdError):  # and eagerly.
        model(keys)
    saved = _save(model, tmp_path / "model.keras")
    without_assets = tmp_path / "without_assets.keras"
    with zipfile.ZipFile(saved) as original, zipfile.ZipFile(without_assets, "w") as copy:
        for item in original.infolist():
            if not item.filename.startswith("assets/"):  # The lookup's tokens cannot be read.
                copy.writestr(item, original.read(item.filename))
    report = inspect_model(without_assets)
    # Keras 3.11 keeps the file's path in the config (not an asset): a note says its tokens were not read.
    assert {f.code for f in report.findings if f.severity != "error"} <= {"vocabulary-not-read"}, str(report)
    (finding,) = [f for f in report.findings if f.severity == "error"]
    assert (finding.severity, finding.code, finding.layers) == ("error", "ids-exceed-rows", ("words", "ids"))
    assert finding.details["ids_without_row"] == lookup.vocabulary_size() - embedding.vocabulary_size()
    assert "InvalidArgumentError" in finding.message and "UnknownIdError" in finding.message
    assert "on any device" in finding.message
    assert "GPU" not in finding.message and "input_dim" not in finding.message
    assert "embedding.lookup()" in finding.message


@pytest.mark.parametrize("saved", [False, True], ids=["in-memory", "keras-file"])
@pytest.mark.parametrize("joined", [False, True], ids=["two-calls", "concatenated"])
def test_rows_of_an_embedding_fed_by_two_hashing_layers_are_reached_by_either(tmp_path, saved, joined):
    # 'b' reaches every row: the rows past the 4 bins of 'a' are no waste (it was an unreachable-rows warning).
    report = _inspected(two_hashings_model(4, 10, 10, joined), tmp_path, saved)
    assert report.findings == [], str(report)
    assert [(p.lookup, p.vocabulary_size) for p in report.pairs] == [("a", 4), ("b", 10)]
    # Rows neither reaches: one warning for the embedding, naming both (it was a warning for each).
    report = _inspected(two_hashings_model(4, 6, 10, joined), tmp_path, saved)
    (finding,) = report.findings
    assert (finding.code, finding.layers, finding.details["unreachable_rows"]) == (
        "unreachable-rows",
        ("a", "b", "emb"),
        10 - 6,
    )
    assert "the lookups that feed it give only ids 0-5" in finding.message and "input_dim=6" in finding.message


# Keras's legacy HDF5 format ----------------------------------------------------------------------------------------


def test_a_whole_legacy_h5_model_is_named_as_one_with_how_to_inspect_it(tmp_path, capsys):
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    model = _lookup_model(lookup, len(VOCAB))
    legacy = tmp_path / "model.h5"
    model.save(legacy)  # Keras 3 still writes a whole model in the legacy format.
    keras_file = _save(model, tmp_path / "model.keras")
    # It said "a weights file (HDF5): it holds rows but not the architecture".
    for call in (lambda: inspect_model(legacy), lambda: inspect_model(keras_file, weights=legacy)):
        with pytest.raises(ModelFileError, match="a whole model in Keras's legacy HDF5 format") as caught:
            call()
        assert "not the architecture" not in str(caught.value) and "keras.saving.load_model(" in str(caught.value)
    code, out, err = _run_main(capsys, "inspect", legacy)
    assert code == 2 and out == "" and "legacy HDF5 format" in err and "weights file" not in err
    # What the message offers works: the loaded model is inspected in memory.
    report = inspect_model(keras.saving.load_model(legacy))
    assert _codes(report) == ["ids-exceed-rows"]
    # A weights file is still one.
    model.save_weights(tmp_path / "model.weights.h5")
    with pytest.raises(ModelFileError, match="is a weights file"):
        inspect_model(tmp_path / "model.weights.h5")


@pytest.mark.parametrize("split", ["whitespace", "character", None])
@pytest.mark.parametrize("ragged", [True, False])
def test_a_mask_token_is_warned_about_only_where_the_lookup_can_give_its_id(tmp_path, split, ragged):
    import tensorflow as tf

    vectorize = keras.layers.TextVectorization(vocabulary=["a", "b"], split=split, standardize=None, ragged=ragged)
    text = keras.Input((1,), dtype="string")
    model = keras.Model(text, keras.layers.Embedding(4, 2, name="emb")(vectorize(text)))
    ids = vectorize(tf.constant([["a b"], [""], ["b  a "]]))
    ids = ids.flat_values if isinstance(ids, tf.RaggedTensor) else ids  # split=None gives one id per text.
    gives_mask_id = bool(tf.reduce_any(ids == 0))  # Padding, or an empty token.
    for inspected in (model, _save(model, tmp_path / "model.keras")):
        assert _codes(inspect_model(inspected)) == (["mask-token-without-mask-zero"] if gives_mask_id else [])


@pytest.mark.parametrize(
    "shift, extra_rows, codes",
    [(1, 0, ["ids-exceed-rows"]), (1, 1, ["unreachable-rows"]), (-1, 0, ["ids-exceed-rows"])],
    ids=["shifted-past-the-rows", "shifted-leaving-row-0", "shifted-below-0"],
)
def test_ids_shifted_by_a_constant_are_checked_where_they_land(tmp_path, shift, extra_rows, codes):
    import tensorflow as tf

    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = keras.layers.Reshape((3,), name="reshape")(lookup(inputs))
    shifted = keras.ops.add(ids, shift) if shift > 0 else keras.ops.subtract(ids, -shift)
    embedding = keras.layers.Embedding(lookup.vocabulary_size() + extra_rows, 2, name="emb")
    model = keras.Model(inputs, embedding(shifted))
    last, unknown = tf.constant([[VOCAB[-1]] * 3]), tf.constant([["unknown"] * 3])
    if shift > 0 and not extra_rows:
        with pytest.raises(tf.errors.InvalidArgumentError):  # The last token's id has no row.
            model.predict(last, verbose=0)
    if shift < 0:  # An unknown token's id 0 - 1 selects the last row, the last token's.
        np.testing.assert_array_equal(model.predict(unknown, verbose=0)[0, 0], embedding.embeddings.numpy()[-1])
    for inspected in (model, _save(model, tmp_path / "model.keras")):
        report = inspect_model(inspected)
        assert _codes(report) == codes
        (finding,) = report.findings
        assert (finding.layers[:2], finding.layers[-1], len(finding.layers)) == (("words", "reshape"), "emb", 4)
        assert f"shifted by {shift:+d}" in finding.message


def test_rows_reached_by_the_shifted_ids_of_another_route_are_not_unreachable(tmp_path):
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    size = lookup.vocabulary_size()
    both = keras.layers.Concatenate(dtype="int64")([ids, keras.ops.add(ids, size)])  # Two tables in one matrix.
    model = keras.Model(inputs, keras.layers.Embedding(2 * size, 2, name="emb")(both))
    for inspected in (model, _save(model, tmp_path / "model.keras")):
        report = inspect_model(inspected)
        assert report.findings == [] and len(report.pairs) == 2


def test_a_lookup_reaching_an_embedding_directly_is_checked_though_it_also_goes_through_a_lambda(tmp_path):
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    changed = keras.layers.Lambda(lambda x: x * 0, name="changed")(ids)  # Listed first: walked first.
    both = keras.layers.Concatenate(dtype="int64")([changed, ids])
    model = keras.Model(inputs, keras.layers.Embedding(lookup.vocabulary_size() - 1, 2, name="emb")(both))
    report = inspect_model(model)
    assert sorted((f.code, f.layers) for f in report.findings) == [
        ("ids-exceed-rows", ("words", "emb")),
        ("path-not-checked", ("words", "changed", "emb")),
    ]


@pytest.mark.saving
def test_ids_through_a_lambda_get_a_note_saying_what_was_not_checked_and_how_to_check_it(tmp_path):
    # `Lambda(lambda x: x + 1)` shifts the ids past the rows. The note said only that the pair "was not checked".
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    shifted = keras.layers.Lambda(lambda x: x + 1, name="shift")(lookup(inputs))
    model = keras.Model(inputs, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(shifted))
    saved = _save(model, tmp_path / "model.keras")
    with pytest.raises(ValueError, match="safe_mode"):  # Why the file's Lambda is not run.
        keras.saving.load_model(saved)
    for inspected in (model, saved):
        report = inspect_model(inspected)
        (finding,) = report.findings
        assert (finding.code, finding.layers) == ("path-not-checked", ("words", "shift", "emb")), finding
        assert finding.details == {"vocabulary_size": 6, "rows": 6}
        for said in ("Lambda 'shift'", "ids 0 to 5", "6 rows", "safe_mode=False", "masked"):
            assert said in finding.message, finding.message
        assert "`model.export(path)`" in finding.message and "`keras.ops.add(ids, k)`" in finding.message
    # What the note advises finds the mistake: the export's graph shows the shift, in the Lambda's name scope.
    model.export(str(tmp_path / "export"), verbose=False)
    exported = inspect_model(str(tmp_path / "export"))
    assert [(f.code, f.layers) for f in exported.findings if f.severity == "error"] == [
        ("ids-exceed-rows", ("words", "shift", "emb"))
    ], str(exported)
