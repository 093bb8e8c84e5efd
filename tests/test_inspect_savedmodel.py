"""`inspect_model` on SavedModel directories: lookup tables paired with embedding variables from the graph alone.

Every model is a real export (`model.export`, `tf.saved_model.save` or `export_for_serving`); every expected
number comes from the Keras layers themselves (`vocabulary_size()`, `input_dim`), never from the code under test.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import INT4, hashing_model, requires_int4, run_vocabsafe, two_hashings_model
from keras_vocabsafe import TextVocabEmbedding, VocabEmbedding, VocabIdEmbedding, VocabLookup, export_for_serving
from keras_vocabsafe.errors import ConfigurationError, ModelFileError
from keras_vocabsafe.inspection import inspect_model

pytestmark = pytest.mark.saving

VOCAB = ["the", "cat", "sat", "on", "mat"]


def _lookup_model(lookup, input_dim, *, between=(), name="emb"):
    """`lookup` into an `Embedding` that masks id 0 where the lookup has a mask token (the model is right there)."""
    dtype = "int64" if isinstance(lookup, keras.layers.IntegerLookup) else "string"
    inputs = keras.Input(shape=(3,), dtype=dtype)
    x = lookup(inputs)
    for layer in between:
        x = layer(x)
    mask_zero = lookup.mask_token is not None
    return keras.Model(inputs, keras.layers.Embedding(input_dim, 2, mask_zero=mask_zero, name=name)(x))


def _export(model, path):
    model.export(str(path), verbose=False)
    return str(path)


def _exported_by(exporter, model, tmp_path):
    """The SavedModel `model.export` ("model_export") or `export_for_serving` writes of `model`."""
    if exporter == "model_export":
        return _export(model, tmp_path / "exported")
    return export_for_serving(model, tmp_path / "serving")


def _both_halves(exporter, model, tmp_path):
    """The reports on `model`'s export (by `exporter`, see `_exported_by`) and on its `.keras` file."""
    model.save(tmp_path / "model.keras")
    return inspect_model(_exported_by(exporter, model, tmp_path)), inspect_model(str(tmp_path / "model.keras"))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Every export the tests inspect, with the sizes Keras gives for it; built once (exporting is the slow part)."""
    root = tmp_path_factory.mktemp("savedmodels")
    built = {}

    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    built["no_oov_row"] = (_export(_lookup_model(lookup, len(VOCAB)), root / "no_oov_row"), lookup, len(VOCAB))

    # `get_vocabulary()` (which lists "" and "[UNK]") taken as the vocabulary's length, plus two for the specials.
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", name="words")
    rows = len(lookup.get_vocabulary()) + 2
    built["plus_two"] = (_export(_lookup_model(lookup, rows), root / "plus_two"), lookup, rows)

    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", num_oov_indices=3, name="words")
    between = (keras.layers.Reshape((3, 1)), keras.layers.Flatten())
    model = _lookup_model(lookup, lookup.vocabulary_size(), between=between)
    built["plain"] = (_export(model, root / "plain"), lookup, lookup.vocabulary_size())

    lookup = keras.layers.IntegerLookup(vocabulary=[10, 20, 30], mask_token=0, num_oov_indices=2, name="ints")
    model = _lookup_model(lookup, lookup.vocabulary_size())
    tf.saved_model.save(model, str(root / "tf_saved_integer"))
    built["tf_saved_integer"] = (str(root / "tf_saved_integer"), lookup, lookup.vocabulary_size())

    vectorize = keras.layers.TextVectorization(output_sequence_length=4, name="vectorize")
    vectorize.adapt(["the cat sat", "on the mat"])
    inputs = keras.Input(shape=(), dtype="string")
    embedding = keras.layers.Embedding(vectorize.vocabulary_size(), 2, mask_zero=True, name="emb")
    model = keras.Model(inputs, embedding(vectorize(inputs)))
    built["text_vectorization"] = (_export(model, root / "text_vectorization"), vectorize, vectorize.vocabulary_size())

    layer = VocabEmbedding(2, vocabulary=VOCAB, num_oov_indices=2, name="ve")
    model = keras.Sequential([keras.Input(shape=(3,), dtype="string"), layer])
    built["vocab_embedding"] = (_export(model, root / "vocab_embedding"), layer, layer.vocabulary_size())

    layer = TextVocabEmbedding(2, vocabulary=VOCAB, name="text")
    model = keras.Sequential([keras.Input(shape=(), dtype="string"), layer])
    built["text_vocab_embedding"] = (_export(model, root / "text_vocab_embedding"), layer, layer.vocabulary_size())

    # Words looked up first: ids put back in order by DynamicStitch and replaced by TensorScatterUpdate.
    layer = TextVocabEmbedding(2, vocabulary=VOCAB, standardize="lower", num_oov_indices=2, output_sequence_length=4)
    model = keras.Sequential([keras.Input(shape=(), dtype="string"), layer])
    built["text_words_first_padded"] = (_export(model, root / "text_padded"), layer, layer.vocabulary_size())

    layer = VocabEmbedding(2, vocabulary=VOCAB, name="served")
    model = keras.Sequential([keras.Input(shape=(3,), dtype="string"), layer])
    version_dir = export_for_serving(model, root / "serving")
    built["serving_base"] = (str(root / "serving"), layer, layer.vocabulary_size())
    built["serving_version"] = (version_dir, layer, layer.vocabulary_size())

    # pad_to_multiple_of: 6 ids, 8 rows, the last two zero padding that no id selects (not counted, as in .keras).
    layer = VocabEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="padded")
    model = keras.Sequential([keras.Input(shape=(3,), dtype="string"), layer])
    built["serving_padded"] = (export_for_serving(model, root / "serving_padded"), layer, layer.vocabulary_size())

    # Two lookups concatenated into one shared embedding sized for the first only.
    first = keras.layers.StringLookup(vocabulary=VOCAB, name="first")
    second = keras.layers.StringLookup(vocabulary=[*VOCAB, "dog", "ran"], name="second")
    a, b = keras.Input(shape=(2,), dtype="string"), keras.Input(shape=(2,), dtype="string")
    joined = keras.layers.Concatenate()([first(a), second(b)])
    model = keras.Model([a, b], keras.layers.Embedding(first.vocabulary_size(), 2, name="shared")(joined))
    built["concatenated"] = (_export(model, root / "concatenated"), second, first.vocabulary_size())

    # A vocabulary file: the table is filled from an asset at load time.
    vocabulary_file = root / "vocab.txt"
    vocabulary_file.write_text("\n".join(VOCAB) + "\n")
    lookup = keras.layers.StringLookup(vocabulary=str(vocabulary_file), name="from_file")
    rows = lookup.vocabulary_size() + 1
    built["vocabulary_file"] = (_export(_lookup_model(lookup, rows), root / "vocabulary_file"), lookup, rows)
    return built


def _only_pair(report):
    (pair,) = report.pairs
    return pair


def test_a_lookup_without_its_oov_row_is_an_error(exports):
    path, lookup, rows = exports["no_oov_row"]
    report = inspect_model(path)
    pair = _only_pair(report)
    assert (pair.lookup, pair.embedding, pair.vocabulary_size, pair.rows) == ("words", "emb", 6, rows)
    assert pair.vocabulary_size == lookup.vocabulary_size() and pair.oov_ids == (0,)
    (finding,) = report.findings
    assert (finding.severity, finding.code, finding.layers) == ("error", "ids-exceed-rows", ("words", "emb"))
    assert finding.details == {"vocabulary_size": 6, "rows": 5, "ids_without_row": 1}
    assert report.exit_code() == 1


def test_len_plus_two_on_a_listed_vocabulary_warns_with_the_count(exports):
    path, lookup, rows = exports["plus_two"]
    report = inspect_model(path)
    pair = _only_pair(report)
    assert (pair.vocabulary_size, pair.rows, pair.mask_id, pair.oov_ids) == (lookup.vocabulary_size(), rows, 0, (1,))
    (finding,) = report.findings
    assert (finding.severity, finding.code) == ("warning", "unreachable-rows")
    assert finding.details["unreachable_rows"] == rows - lookup.vocabulary_size() == 2
    assert report.exit_code() == 1 and report.exit_code("error") == 0


@pytest.mark.parametrize(
    "name",
    [
        "plain",
        "tf_saved_integer",
        "text_vectorization",
        "vocab_embedding",
        "text_vocab_embedding",
        "text_words_first_padded",
        "serving_base",
        "serving_version",
        "serving_padded",
    ],
)
def test_correct_exports_have_no_findings(exports, name):
    path, layer, rows = exports[name]
    report = inspect_model(path)
    assert report.findings == [], str(report)
    pair = _only_pair(report)
    assert (pair.vocabulary_size, pair.rows) == (layer.vocabulary_size(), rows)


def test_special_slots_follow_keras_layout(exports):
    plain = _only_pair(inspect_model(exports["plain"][0]))
    assert (plain.mask_id, plain.oov_ids) == (0, (1, 2, 3))  # mask_token="", num_oov_indices=3
    integer = _only_pair(inspect_model(exports["tf_saved_integer"][0]))
    assert (integer.lookup, integer.mask_id, integer.oov_ids) == ("ints", 0, (1, 2))
    fused = _only_pair(inspect_model(exports["vocab_embedding"][0]))
    assert (fused.lookup, fused.embedding, fused.mask_id, fused.oov_ids) == ("ve", "ve", None, (0, 1))


def test_ids_of_two_lookups_concatenated_are_checked_together(exports):
    path, second, rows = exports["concatenated"]
    report = inspect_model(path)
    (finding,) = report.findings
    assert (finding.code, finding.layers) == ("ids-exceed-rows", ("first", "second", "shared"))
    assert finding.details["ids_without_row"] == second.vocabulary_size() - rows == 2


def test_a_vocabulary_file_asset_is_counted_and_a_missing_one_refused(exports, tmp_path):
    path, lookup, rows = exports["vocabulary_file"]
    report = inspect_model(path)
    assert _only_pair(report).vocabulary_size == lookup.vocabulary_size()
    (finding,) = report.findings
    assert (finding.code, finding.details["unreachable_rows"]) == ("unreachable-rows", rows - lookup.vocabulary_size())
    broken = shutil.copytree(path, tmp_path / "broken")
    for asset in os.listdir(broken / "assets"):
        os.remove(broken / "assets" / asset)
    with pytest.raises(ModelFileError, match="vocabulary asset"):
        inspect_model(broken)


def test_unreadable_and_ambiguous_directories_are_refused(exports, tmp_path):
    base = shutil.copytree(exports["serving_base"][0], tmp_path / "serving")
    shutil.copytree(base / "1", base / "7")
    with pytest.raises(ModelFileError, match="2 versions"):
        inspect_model(base)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="not a SavedModel"):
        inspect_model(tmp_path / "empty")
    damaged = shutil.copytree(exports["plain"][0], tmp_path / "damaged")
    content = (damaged / "saved_model.pb").read_bytes()
    (damaged / "saved_model.pb").write_bytes(content[: len(content) // 2])
    with pytest.raises(ModelFileError, match="cannot be read"):
        inspect_model(damaged)
    (damaged / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ModelFileError, match="holds no graph"):
        inspect_model(damaged)


def test_a_vocabulary_to_compare_with_is_refused_for_a_savedmodel(exports):
    # It used to be ignored: "No problems found" whatever the vocabulary.
    for arguments in ({"vocabulary": ["b", "a"]}, {"layer": "no_such_layer"}):
        with pytest.raises(ConfigurationError, match=r"--vocabulary and --layer apply to .keras models"):
            inspect_model(exports["plain"][0], **arguments)


def test_a_model_without_lookups_gets_a_note(tmp_path):
    inputs = keras.Input(shape=(3,), dtype="int32")  # Ids from outside the graph: nothing to pair them with.
    model = keras.Model(inputs, keras.layers.Embedding(10, 2, name="emb")(inputs))
    report = inspect_model(_export(model, tmp_path / "ids_in"))
    assert report.pairs == []
    (finding,) = report.findings
    assert (finding.severity, finding.code, report.exit_code()) == ("note", "savedmodel-not-analysed", 0)
    assert finding.details["matrices"] == [{"name": "emb/embeddings", "shape": [10, 2]}]


@pytest.mark.slow
def test_the_command_line_fails_on_an_exported_mistake(exports):
    result = run_vocabsafe("inspect", exports["no_oov_row"][0], "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [f["code"] for f in report["findings"]] == ["ids-exceed-rows"]
    assert report["pairs"][0]["rows"] == len(VOCAB)


@pytest.mark.slow
def test_a_million_token_lookup_is_read_quickly(tmp_path):
    import time

    vocabulary = np.char.add("token", np.arange(1_000_000).astype(str)).tolist()
    lookup = keras.layers.StringLookup(vocabulary=vocabulary, name="words")
    path = _export(_lookup_model(lookup, len(vocabulary)), tmp_path / "big")
    start = time.perf_counter()
    report = inspect_model(path)
    elapsed = time.perf_counter() - start
    (finding,) = report.findings
    assert finding.details == {"vocabulary_size": 1_000_001, "rows": 1_000_000, "ids_without_row": 1}
    assert elapsed < 10, elapsed


def test_ids_are_followed_into_nested_models_and_mixed_precision_embeddings(tmp_path):
    ids = keras.Input(shape=(3,), dtype="int64")
    inner = keras.Model(ids, keras.layers.Embedding(7, 2, dtype="mixed_float16", name="inner_emb")(ids), name="inner")
    inputs = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    report = inspect_model(_export(keras.Model(inputs, inner(lookup(inputs))), tmp_path / "nested"))
    pair = _only_pair(report)
    # Named by its path in the model, as the .keras file names it.
    assert (pair.lookup, pair.embedding, pair.vocabulary_size, pair.rows) == ("words", f"{inner.name}/inner_emb", 6, 7)
    (finding,) = report.findings
    assert finding.details["unreachable_rows"] == 7 - lookup.vocabulary_size()


@pytest.mark.parametrize("mode", [None, "int8", INT4])
@pytest.mark.parametrize("lora", [False, True])
def test_a_quantized_or_lora_embedding_is_one_pair_reported_once(tmp_path, mode, lora):
    # Quantized layers gather their scales, and LoRA layers their A rows (ours) or add A @ B to the matrix (Keras),
    # by the same ids: still one lookup and one embedding, checked once.
    results = {}
    for kind, rows in (("keras_short", len(VOCAB)), ("keras", None), ("ours", None)):
        inputs = keras.Input(shape=(3,), dtype="string")
        if kind == "ours":
            embedding = VocabEmbedding(8, vocabulary=VOCAB, name="ve")
            model = keras.Model(inputs, embedding(inputs))
        else:
            lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
            embedding = keras.layers.Embedding(rows or lookup.vocabulary_size(), 8, name="emb")
            model = keras.Model(inputs, embedding(lookup(inputs)))
        if lora:
            embedding.enable_lora(2)
        if mode:
            model.quantize(mode)
        results[kind] = inspect_model(_export(model, tmp_path / kind))
    expected_size = keras.layers.StringLookup(vocabulary=VOCAB).vocabulary_size()
    short = results["keras_short"]
    assert [(p.vocabulary_size, p.rows) for p in short.pairs] == [(expected_size, len(VOCAB))]
    assert [f.code for f in short.findings] == ["ids-exceed-rows"]
    assert short.findings[0].details["ids_without_row"] == expected_size - len(VOCAB)
    # The matrix is named even where only its scales are gathered (int4 unpacks the matrix before the gather).
    assert f"embedding 'emb/embeddings' has {len(VOCAB)} rows" in short.findings[0].message
    for kind in ("keras", "ours"):
        assert [(p.vocabulary_size, p.rows) for p in results[kind].pairs] == [(expected_size, expected_size)], kind
        assert results[kind].findings == [], kind


def test_ids_changed_by_arithmetic_are_not_paired(tmp_path):
    inputs = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    doubled = keras.layers.Lambda(lambda ids: ids * 2)(lookup(inputs))  # No longer one id per row.
    model = keras.Model(inputs, keras.layers.Embedding(12, 2, name="emb")(doubled))
    report = inspect_model(_export(model, tmp_path / "doubled"))
    assert report.pairs == []
    (finding,) = report.findings
    assert (finding.code, finding.details["tables"]) == ("savedmodel-not-analysed", 1)


@pytest.mark.parametrize(
    "begin, end, begin_mask, end_mask, shrink_axis_mask",
    [(2, 0, 1, 0, 1), (-1, 0, 1, 0, 1), (1, 0, 0, 0, 1), (1, 3, 0, 0, 0), (1, 0, 1, 0, 0), (0, 2, 0, 1, 0)],
)
def test_a_folded_strided_slice_matches_tensorflow(begin, end, begin_mask, end_mask, shrink_axis_mask):
    # A shrunk axis takes `begin` even under begin_mask (TensorFlow ignores the mask there); the folding used to
    # raise TypeError on it and give up on the whole SavedModel.
    from keras_vocabsafe._inspect_savedmodel import _Const, _from_values, _slice_constant

    def sliced():
        return tf.strided_slice(
            tf.constant([10, 20, 30]),
            [begin],
            [end],
            [1],
            begin_mask=begin_mask,
            end_mask=end_mask,
            shrink_axis_mask=shrink_axis_mask,
        )

    function = tf.function(sliced).get_concrete_function()
    nodes = {node.name: node for node in function.graph.as_graph_def().node}
    (node,) = [node for node in nodes.values() if node.op == "StridedSlice"]
    inputs = [_Const(nodes[name.split(":")[0]].attr["value"].tensor) for name in node.input]
    assert _slice_constant(node, inputs).ranges == _from_values(function().numpy())


def test_a_savedmodel_without_its_variables_is_an_error(tmp_path):
    # It said "No problems found" on an export TensorFlow cannot load.
    inputs = keras.Input(shape=(None,), dtype="string")
    path = _export(keras.Model(inputs, VocabEmbedding(2, vocabulary=VOCAB, name="w")(inputs)), tmp_path / "good")
    assert [f.code for f in inspect_model(path).findings] == []
    for broken, damage in (("no_index", "variables.index"), ("no_data", "variables.data-00000-of-00001")):
        copy = shutil.copytree(path, tmp_path / broken)
        os.remove(copy / "variables" / damage)
        with pytest.raises((OSError, ValueError, RuntimeError, tf.errors.OpError)):  # TensorFlow cannot load it.
            tf.saved_model.load(str(copy))
        (finding,) = [f for f in inspect_model(str(copy)).findings if f.severity == "error"]
        assert finding.code == "weights-missing" and damage.split("-")[0].split(".")[-1] in finding.message


@pytest.mark.parametrize("rows, unreachable", [(10, 0), (12, 2)])
def test_a_matrix_gathered_after_two_lookups_counts_the_rows_both_reach(tmp_path, rows, unreachable):
    # Each lookup was checked alone: one Embedding shared by a lookup of ids 0-5 and one shifted to 6-9 gave two
    # false unreachable-rows warnings ("gives only ids 6-9", "gives only ids 0-5").
    first, second = (keras.Input(shape=(None,), dtype="string", name=name) for name in ("first", "second"))
    to_first = keras.layers.StringLookup(vocabulary=["a1", "a2", "a3", "a4", "a5"], name="to_first")
    to_second = keras.layers.StringLookup(vocabulary=["b1", "b2", "b3"], name="to_second")
    emb = keras.layers.Embedding(rows, 2, name="emb")
    shifted = keras.layers.Lambda(lambda ids: ids + 6, name="shift")(to_second(second))
    model = keras.Model([first, second], keras.layers.Concatenate(axis=1)([emb(to_first(first)), emb(shifted)]))
    report = inspect_model(_export(model, tmp_path / "shared"))
    assert sorted((p.lookup.startswith("to_first"), p.rows) for p in report.pairs) == [(False, rows), (True, rows)]
    found = [(f.code, f.details["unreachable_rows"]) for f in report.findings]
    assert found == ([("unreachable-rows", unreachable)] if unreachable else [])


@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving"])
def test_rows_two_vocabulary_lookups_leave_unreached_are_worded_as_in_the_keras_file(tmp_path, exporter):
    # The .keras check names both lookups and says it with the shared several-lookups message; the export's
    # warning named one lookup and had its own wording.
    first, second = (keras.Input(shape=(3,), dtype="string", name=name) for name in ("first", "second"))
    longer = keras.layers.StringLookup(vocabulary=["a1", "a2", "a3", "a4", "a5"], name="longer")
    shorter = keras.layers.StringLookup(vocabulary=["b1", "b2"], name="shorter")
    rows = longer.vocabulary_size() + 4
    emb = keras.layers.Embedding(rows, 2, name="emb")
    model = keras.Model([first, second], keras.layers.Concatenate(axis=1)([emb(longer(first)), emb(shorter(second))]))
    model.save(tmp_path / "model.keras")
    (from_file,) = inspect_model(str(tmp_path / "model.keras")).findings
    (finding,) = inspect_model(_exported_by(exporter, model, tmp_path)).findings
    assert (
        (finding.code, finding.layers)
        == (from_file.code, from_file.layers)
        == (
            "unreachable-rows",
            ("longer", "shorter", "emb"),
        )
    )
    assert finding.details["unreachable_rows"] == from_file.details["unreachable_rows"] == 4
    assert finding.message == from_file.message.replace("Embedding 'emb'", f"Embedding '{emb.embeddings.path}'")


class _SubclassedLookupModel(keras.Model):
    """A subclassed model whose lookup and embedding are built on its first call (their variables are named
    after the model)."""

    def __init__(self, rows, **kwargs):
        super().__init__(**kwargs)
        self.words = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        self.emb = keras.layers.Embedding(rows, 2, name="emb")

    def call(self, inputs):
        return self.emb(self.words(inputs))


class _LazyLookupLayer(keras.layers.Layer):
    """A custom layer that creates a Keras lookup and embedding in `build` (their variables are named after it)."""

    def __init__(self, rows, **kwargs):
        super().__init__(**kwargs)
        self.rows = rows

    def build(self, input_shape):
        self.words = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        self.emb = keras.layers.Embedding(self.rows, 2, name="emb")

    def call(self, inputs):
        return self.emb(self.words(inputs))


@pytest.mark.parametrize("structure", ["nested", "subclassed", "custom_layer"])
def test_layers_are_named_by_their_path_in_the_model_as_in_the_keras_file(tmp_path, structure):
    # A nested model's pair was `words -> emb` (the .keras file's `inner/words -> inner/emb`); the embedding of a
    # subclassed model, or one built inside a custom layer, was named after that model or layer (`words -> m`).
    rows = len(VOCAB) + 3  # Rows past the lookup's ids: a finding that names the layers.
    inputs = keras.Input(shape=(3,), dtype="string")
    if structure == "nested":
        words = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        emb = keras.layers.Embedding(rows, 2, name="emb")
        inner = keras.Model(inputs, emb(words(inputs)), name="inner")
        outer_inputs = keras.Input(shape=(3,), dtype="string")
        model = keras.Model(outer_inputs, inner(outer_inputs))
        expected = (f"{inner.name}/{words.name}", f"{inner.name}/{emb.name}")
    elif structure == "subclassed":
        model = _SubclassedLookupModel(rows, name="m")
        model(tf.constant([VOCAB[:3]]))
        expected = (model.words.name, model.emb.name)
        assert model.emb.embeddings.path.split("/")[0] == model.name  # Its variable is named after the model.
    else:
        wrap = _LazyLookupLayer(rows, name="wrap")
        model = keras.Model(inputs, wrap(inputs))
        expected = (f"{wrap.name}/{wrap.words.name}", f"{wrap.name}/{wrap.emb.name}")
        assert wrap.emb.embeddings.path.split("/")[0] == wrap.name
    report = inspect_model(_export(model, tmp_path / "exported"))
    assert [(p.lookup, p.embedding) for p in report.pairs] == [expected]
    assert [(f.code, f.layers) for f in report.findings] == [("unreachable-rows", expected)]
    if structure == "nested":  # The .keras file names them alike.
        model.save(tmp_path / "model.keras")
        from_file = inspect_model(str(tmp_path / "model.keras"))
        assert [(p.lookup, p.embedding) for p in from_file.pairs] == [expected]
        assert [(f.code, f.layers) for f in from_file.findings] == [("unreachable-rows", expected)]


class _Wrapper(keras.layers.Layer):
    """A custom layer calling one of ours: `model.export` keeps neither layer's class nor its config."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, inputs):
        return self.inner(inputs)


@pytest.mark.parametrize("kind", ["vocab_embedding", "text_vocab_embedding", "inside_a_custom_layer"])
def test_padding_rows_of_our_layers_exported_by_keras_are_not_unreachable(tmp_path, kind):
    # `pad_to_multiple_of` rows were a false unreachable-rows warning (exit 1) when the model was exported with
    # Keras's `model.export`, which writes no vocabulary signature.
    if kind == "text_vocab_embedding":
        layer = TextVocabEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="padded")
        inputs = keras.Input(shape=(), dtype="string")
    else:
        layer = VocabEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="padded")
        inputs = keras.Input(shape=(3,), dtype="string")
    outputs = _Wrapper(layer, name="wrapper")(inputs) if kind == "inside_a_custom_layer" else layer(inputs)
    rows = int(layer.embeddings.shape[0])
    assert rows > layer.vocabulary_size()  # The padding is there to be recognised.
    report = inspect_model(_export(keras.Model(inputs, outputs), tmp_path / kind))
    assert report.findings == [], str(report)
    assert [(p.vocabulary_size, p.rows, p.padding_rows) for p in report.pairs] == [
        (layer.vocabulary_size(), layer.vocabulary_size(), rows - layer.vocabulary_size())
    ]


@pytest.mark.parametrize("wrappers", [("wrap",), ("first", "second")])
def test_our_embedding_inside_a_custom_layer_is_one_layer_named_as_nested_layers_are(tmp_path, wrappers):
    # Built on its first call inside the custom layer, its matrix is named `wrap/embeddings`: the pair read
    # "inner_ve -> wrap", as if one layer fed another. It is one layer, named by its path (`wrap/inner_ve`), as layers
    # of nested models are (the graph does not tell a nested model from a custom layer).
    inputs = keras.Input(shape=(3,), dtype="string")
    outputs = [
        _Wrapper(VocabEmbedding(2, vocabulary=VOCAB, name="inner_ve"), name=wrapper)(inputs) for wrapper in wrappers
    ]
    model = keras.Model(inputs, outputs[0] if len(outputs) == 1 else keras.layers.Concatenate()(outputs))
    report = inspect_model(_export(model, tmp_path / "wrapped"))
    shown = [f"{wrapper}/inner_ve" for wrapper in wrappers]
    assert sorted((p.lookup, p.embedding) for p in report.pairs) == [(name, name) for name in shown]
    assert report.findings == [], str(report)


def test_rows_of_our_embedding_after_the_ids_of_another_lookup_are_still_unreachable(tmp_path):
    # Only a layer of ours that looks its ids up itself has padding by design: fed by a Keras lookup of a shorter
    # vocabulary, the rows past its ids are a real mismatch.
    lookup = keras.layers.StringLookup(vocabulary=VOCAB[:3], name="words")
    embedding = VocabIdEmbedding(2, vocabulary=VOCAB, name="ids")
    inputs = keras.Input(shape=(3,), dtype="string")
    report = inspect_model(_export(keras.Model(inputs, embedding(lookup(inputs))), tmp_path / "short_lookup"))
    (finding,) = report.findings
    rows = int(embedding.embeddings.shape[0])
    assert (finding.code, finding.details["unreachable_rows"]) == ("unreachable-rows", rows - lookup.vocabulary_size())


@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving"])
def test_padding_rows_of_our_embedding_half_after_its_own_lookup_layer_are_not_unreachable(tmp_path, exporter):
    # A VocabLookup layer feeding a VocabIdEmbedding with `pad_to_multiple_of`: the padding rows were a false
    # unreachable-rows warning, the lookup being another layer (and, through export_for_serving, another table than
    # the vocabulary signatures'). The embedding half asserts its vocabulary size in the graph.
    embedding = VocabIdEmbedding(2, vocabulary=VOCAB, mask_token="", pad_to_multiple_of=8, name="ids")
    lookup = embedding.lookup(name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(inputs, embedding(lookup(inputs)))
    rows = int(embedding.embeddings.shape[0])
    assert rows > lookup.vocabulary_size()  # The padding is there to be recognised.
    path = _exported_by(exporter, model, tmp_path)
    report = inspect_model(path)
    assert report.findings == [], str(report)
    assert [(p.lookup, p.embedding, p.vocabulary_size, p.mask_id, p.rows, p.padding_rows) for p in report.pairs] == [
        ("words", "ids", lookup.vocabulary_size(), 0, embedding.vocabulary_size(), rows - embedding.vocabulary_size())
    ]


def test_rows_of_our_padded_embedding_half_a_shorter_lookup_misses_are_unreachable_padding_aside(tmp_path):
    # The padding rows are left out of the count, the rows of tokens the lookup never gives are not.
    lookup = keras.layers.StringLookup(vocabulary=VOCAB[:3], name="words")
    embedding = VocabIdEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="ids")
    inputs = keras.Input(shape=(3,), dtype="string")
    report = inspect_model(_export(keras.Model(inputs, embedding(lookup(inputs))), tmp_path / "short_lookup"))
    (finding,) = report.findings
    rows = int(embedding.embeddings.shape[0])
    assert rows > embedding.vocabulary_size()
    assert finding.code == "unreachable-rows"
    assert finding.details == {
        "vocabulary_size": lookup.vocabulary_size(),
        "rows": rows,
        "unreachable_rows": embedding.vocabulary_size() - lookup.vocabulary_size(),
        "padding_rows": rows - embedding.vocabulary_size(),
    }


@pytest.mark.parametrize("given", ["auto", "named_with_digits"])
def test_the_lookup_export_for_serving_puts_before_an_embedding_half_is_named_as_its_layer(tmp_path, given):
    # A model taking ids is served on keys through the embedding's lookup half, which ran outside any layer's name
    # scope: the pair's lookup was named "lookup table". A name ending in digits keeps them (no Keras trace suffix).
    embedding = VocabIdEmbedding(2, vocabulary=VOCAB, name="ids")
    inputs = keras.Input(shape=(3,), dtype="int64", name="tokens")
    model = keras.Model(inputs, embedding(inputs))
    lookup = embedding.lookup() if given == "auto" else embedding.lookup(name="words_2")
    path = export_for_serving(model, tmp_path / "serving", lookups="auto" if given == "auto" else {"tokens": lookup})
    report = inspect_model(path)
    assert report.findings == [], str(report)
    assert [(p.lookup, p.embedding) for p in report.pairs] == [(lookup.name, embedding.name)]


def test_a_keras_layer_is_not_taken_for_ours_of_the_same_name_in_another_nested_model(tmp_path):
    # The vocabulary signature of our `words` (in `ours`) silenced the warning on Keras's `words` (in `keras_made`):
    # the signature was matched by the layer's name alone.
    strings = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="lookup")
    rows = lookup.vocabulary_size() + 2
    keras_made = keras.Model(strings, keras.layers.Embedding(rows, 2, name="words")(lookup(strings)), name="keras_made")
    strings = keras.Input(shape=(3,), dtype="string")
    padded = VocabEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="words")
    ours = keras.Model(strings, padded(strings), name="ours")
    inputs = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(inputs, keras.layers.Concatenate()([keras_made(inputs), ours(inputs)]))
    report = inspect_model(export_for_serving(model, tmp_path / "serving"))
    assert sorted(p.rows for p in report.pairs) == sorted([rows, padded.vocabulary_size()])
    (finding,) = report.findings
    assert (finding.code, finding.layers) == (
        "unreachable-rows",
        (f"{keras_made.name}/lookup", f"{keras_made.name}/words"),
    )
    assert finding.details["unreachable_rows"] == rows - lookup.vocabulary_size()


def test_one_lookup_into_embeddings_of_one_name_in_two_nested_models_makes_two_pairs(tmp_path):
    # `first/emb` and `second/emb` both hold a variable `emb/embeddings`: they were one pair, with the rows of the
    # smaller, and the larger one's unreachable rows went unreported (then, apart, both were named "emb").
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    nested = []
    for name, rows in (("first", lookup.vocabulary_size()), ("second", lookup.vocabulary_size() + 3)):
        ids = keras.Input(shape=(3,), dtype="int64")
        nested.append(keras.Model(ids, keras.layers.Embedding(rows, 2, name="emb")(ids), name=name))
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([inner(ids) for inner in nested]))
    report = inspect_model(_export(model, tmp_path / "two_nested"))
    rows = [inner.get_layer("emb").input_dim for inner in nested]
    # Named by their nested models, as the .keras check names them, since "emb" alone is both.
    expected = [(f"{inner.name}/emb", lookup.vocabulary_size(), r) for inner, r in zip(nested, rows)]
    assert sorted((p.embedding, p.vocabulary_size, p.rows) for p in report.pairs) == expected
    (finding,) = report.findings
    assert finding.code == "unreachable-rows" and finding.layers == ("words", f"{nested[1].name}/emb")
    assert finding.details["rows"] == rows[1]
    assert finding.details["unreachable_rows"] == rows[1] - lookup.vocabulary_size()


@requires_int4
def test_an_int4_embedding_is_named_by_its_own_matrix_when_another_nested_model_has_one_of_its_name(tmp_path):
    # An int4 Embedding gathers only its scales; the matrix named in its findings was looked up by name, and of two
    # `emb/embeddings` of different rows (in two nested models) the other one's was found: the short one's error
    # named its scales, 'emb/embeddings_scale'.
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    nested = []
    for name, rows in (("first", len(VOCAB)), ("second", lookup.vocabulary_size() + 3)):
        ids = keras.Input(shape=(3,), dtype="int64")
        nested.append(keras.Model(ids, keras.layers.Embedding(rows, 8, name="emb")(ids), name=name))
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([inner(ids) for inner in nested]))
    model.quantize("int4")
    report = inspect_model(_export(model, tmp_path / "two_nested_int4"))
    found = {f.layers[-1]: f for f in report.findings}
    assert sorted(found) == [f"{inner.name}/emb" for inner in nested]
    for inner, code in zip(nested, ("ids-exceed-rows", "unreachable-rows")):
        finding = found[f"{inner.name}/emb"]
        rows = inner.get_layer("emb").input_dim
        assert (finding.code, finding.details["rows"]) == (code, rows)
        assert f"'emb/embeddings' (of '{inner.name}/emb') has {rows} rows" in finding.message


def test_lookups_are_named_as_their_layers_when_the_embedding_is_called_twice(tmp_path):
    # The second call of `emb` is traced as "emb_3" and the lookup before it as "to_second_1": the suffix taken off
    # was the embedding's, so the user saw a lookup "to_second_1". A name ending in digits keeps them.
    first, second = (keras.Input(shape=(None,), dtype="string", name=name) for name in ("first", "second"))
    lookups = [
        keras.layers.StringLookup(vocabulary=["a1", "a2"], name="to_first"),
        keras.layers.StringLookup(vocabulary=["b1", "b2"], name="to_second_2"),
    ]
    emb = keras.layers.Embedding(3, 2, name="emb")
    model = keras.Model(
        [first, second], keras.layers.Concatenate(axis=1)([emb(lookups[0](first)), emb(lookups[1](second))])
    )
    report = inspect_model(_export(model, tmp_path / "called_twice"))
    assert sorted(p.lookup for p in report.pairs) == sorted(lookup.name for lookup in lookups)


@pytest.mark.parametrize("cut", ["half", "last_byte"])
def test_a_savedmodel_with_a_truncated_variables_file_is_an_error(tmp_path, cut):
    # It said "No problems found" on an export TensorFlow cannot load: the data file was there, only shorter.
    inputs = keras.Input(shape=(None,), dtype="string")
    path = _export(keras.Model(inputs, VocabEmbedding(2, vocabulary=VOCAB, name="w")(inputs)), tmp_path / "good")
    copy = shutil.copytree(path, tmp_path / "truncated")
    data = copy / "variables" / "variables.data-00000-of-00001"
    content = data.read_bytes()
    data.write_bytes(content[: len(content) // 2] if cut == "half" else content[:-1])
    # TensorFlow cannot load it ("Read less bytes than requested").
    with pytest.raises((OSError, ValueError, RuntimeError, IndexError, tf.errors.OpError)):
        tf.saved_model.load(str(copy))
    (finding,) = [f for f in inspect_model(str(copy)).findings if f.severity == "error"]
    assert finding.code == "weights-missing" and "variables.data-00000-of-00001 is cut short" in finding.message
    assert f"up to byte {len(content):,}" in finding.message


@pytest.mark.parametrize("listed", [False, True], ids=["keras_layout", "specials_listed"])
@pytest.mark.parametrize("kind", ["vocab_embedding", "halves"])
@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving"])
def test_a_mask_token_other_than_the_empty_string_is_the_mask_id_the_keras_file_reports(
    tmp_path, kind, exporter, listed
):
    # Our lookups keep their mask token in their table: only the key "" was taken for a mask, so "[PAD]" gave
    # "mask id none". The graph compares the keys with the mask token to compute the mask. A vocabulary that lists
    # its special tokens keeps their positions (the mask at id 1 here): only the table's first key was looked at.
    vocabulary = ["[UNK]", "[PAD]", *VOCAB] if listed else VOCAB
    inputs = keras.Input(shape=(3,), dtype="string")
    if kind == "vocab_embedding":
        layer = VocabEmbedding(2, vocabulary=vocabulary, mask_token="[PAD]", name="ve")
        model, mask_id = keras.Model(inputs, layer(inputs)), layer.token_to_id("[PAD]")
    else:
        embedding = VocabIdEmbedding(2, vocabulary=vocabulary, mask_token="[PAD]", name="ids")
        lookup = embedding.lookup(name="words")
        model, mask_id = keras.Model(inputs, embedding(lookup(inputs))), lookup.token_to_id("[PAD]")
    model.save(tmp_path / "model.keras")
    path = _exported_by(exporter, model, tmp_path)
    report = inspect_model(path)
    assert report.findings == [], str(report)
    (from_file,) = inspect_model(str(tmp_path / "model.keras")).pairs
    assert [(p.mask_id, p.oov_ids, p.vocabulary_size) for p in report.pairs] == [
        (mask_id, from_file.oov_ids, from_file.vocabulary_size)
    ]
    assert mask_id == from_file.mask_id == (vocabulary.index("[PAD]") if listed else 0)


def test_a_first_key_the_graph_does_not_compare_the_keys_with_is_no_mask(tmp_path):
    # Without a mask token the table's first key is a token like any other (and no comparison names it).
    layer = VocabEmbedding(2, vocabulary=VOCAB, name="ve")
    inputs = keras.Input(shape=(3,), dtype="string")
    pair = _only_pair(inspect_model(_export(keras.Model(inputs, layer(inputs)), tmp_path / "no_mask")))
    assert (pair.mask_id, pair.oov_ids) == (None, (0,))


@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving"])
def test_ids_on_the_padding_rows_of_our_embedding_half_are_an_error(tmp_path, exporter):
    # A lookup of a larger vocabulary gives an id inside the padded matrix, but past the ids the layer has: it was
    # not reported, the id having a row. The layer refuses it at run time, as the .keras report of the model says.
    lookup = keras.layers.StringLookup(vocabulary=[*VOCAB, "dog"], name="words")
    embedding = VocabIdEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="ids")
    inputs = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(inputs, embedding(lookup(inputs)))
    rows = int(embedding.embeddings.shape[0])
    assert embedding.vocabulary_size() < lookup.vocabulary_size() <= rows  # The extra id lands on a padding row.
    model.save(tmp_path / "model.keras")
    if exporter == "model_export":
        path = _export(model, tmp_path / "exported")
        served = tf.saved_model.load(path)
        with pytest.raises(tf.errors.InvalidArgumentError):  # The finding says so.
            served.serve(tf.constant([["the", "dog", "cat"]]))
    else:
        path = export_for_serving(model, tmp_path / "serving")
    report = inspect_model(path)
    (finding,) = report.findings
    assert (finding.severity, finding.code, finding.layers) == ("error", "ids-exceed-rows", ("words", "ids"))
    assert finding.details == {
        "vocabulary_size": lookup.vocabulary_size(),
        "rows": rows,
        "ids_without_row": 0,
        "padding_rows": rows - embedding.vocabulary_size(),
        "ids_on_padding_rows": lookup.vocabulary_size() - embedding.vocabulary_size(),
    }
    assert "zero padding of `pad_to_multiple_of`" in finding.message and "select no row" not in finding.message
    (from_file,) = inspect_model(str(tmp_path / "model.keras")).findings
    assert from_file.severity == finding.severity == "error"


def _masked_model(structure, mask_token, mask_zero, *, after=None):
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token=mask_token, name="words")
    embedding = keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=mask_zero, name="emb")
    layers = [lookup, embedding] + ([after] if after is not None else [])
    if structure == "sequential":
        return keras.Sequential([keras.Input(shape=(3,), dtype="string"), *layers])
    inputs = keras.Input(shape=(3,), dtype="string")
    x = embedding(lookup(inputs))
    if structure == "nested":
        x = keras.Model(inputs, x, name="inner")(inputs)
    return keras.Model(inputs, after(x) if after is not None else x)


@pytest.mark.parametrize(
    "structure, after",
    [
        ("functional", None),
        ("sequential", "lstm"),
        ("sequential", "pooling"),
        ("nested", None),
        ("nested", "pooling"),
        ("nested", "lstm"),
    ],
)
def test_mask_zero_on_the_ids_of_a_lookup_without_a_mask_token_is_the_keras_file_error(tmp_path, structure, after):
    # Keras masks the ids where they are 0, which is the OOV id: every unknown token is dropped as padding. The
    # .keras check reported it; the export of the same model got no mask finding. A nested model whose mask a later
    # layer takes leaves no unused mask op: its only one is the one that layer uses (it was not seen).
    consumer = {"lstm": keras.layers.LSTM(2), "pooling": keras.layers.GlobalAveragePooling1D(), None: None}[after]
    model = _masked_model(structure, None, True, after=consumer)
    model.save(tmp_path / "model.keras")
    report = inspect_model(_export(model, tmp_path / "exported"))
    pair = _only_pair(report)
    assert (pair.mask_id, pair.oov_ids, pair.mask_zero) == (None, (0,), True)
    (finding,) = report.findings
    # Named as the .keras file names them: `inner/words` in the nested model.
    shown = ("inner/words", "inner/emb") if structure == "nested" else ("words", "emb")
    assert (finding.code, finding.layers) == ("mask-zero-without-mask-token", shown)
    assert "its OOV id" in finding.message
    (from_file,) = inspect_model(str(tmp_path / "model.keras")).findings
    assert (from_file.severity, from_file.code) == (finding.severity, finding.code) == ("error", finding.code)
    assert from_file.layers == finding.layers


@pytest.mark.parametrize("structure", ["sequential", "nested"])
def test_mask_zero_after_a_lookup_with_a_mask_token_is_no_finding(tmp_path, structure):
    # Id 0 is the mask token's: masking it is right. The graph still shows the mask.
    report = inspect_model(_export(_masked_model(structure, "", True), tmp_path / "exported"))
    assert report.findings == [], str(report)
    assert (_only_pair(report).mask_id, _only_pair(report).mask_zero) == (0, True)


def test_ids_compared_with_zero_by_the_model_itself_are_not_taken_for_a_mask(tmp_path):
    # `ids != 0` as an output (known tokens, say) is the very op Keras writes for mask_zero=True, in the same scope;
    # it is used, though, where Keras's own is not. With mask_zero=True as well, the mask is still seen.
    for mask_zero in (False, True):
        lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        inputs = keras.Input(shape=(3,), dtype="string")
        ids = lookup(inputs)
        embedded = keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=mask_zero, name="emb")(ids)
        model = keras.Model(inputs, [embedded, keras.ops.not_equal(ids, 0)])
        report = inspect_model(_export(model, tmp_path / f"mask_zero_{mask_zero}"))
        assert _only_pair(report).mask_zero is (True if mask_zero else None)
        assert [f.code for f in report.findings] == (["mask-zero-without-mask-token"] if mask_zero else [])


def test_ids_compared_with_zero_inside_a_nested_model_and_used_by_the_model_itself_are_not_a_mask(tmp_path):
    # The nested model's own `ids != 0`, an output that the outer model multiplies the vectors by: no layer takes it
    # as a mask, and the embedding has mask_zero=False (the .keras file says so).
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    embedded = keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(ids)
    inner = keras.Model(inputs, [embedded, keras.ops.not_equal(ids, 0)], name="inner")
    vectors, known = inner(inputs)
    model = keras.Model(inputs, vectors * keras.ops.expand_dims(keras.ops.cast(known, "float32"), -1))
    model.save(tmp_path / "model.keras")
    report = inspect_model(_export(model, tmp_path / "exported"))
    assert report.findings == [] and _only_pair(report).mask_zero is None, str(report)
    assert _only_pair(inspect_model(str(tmp_path / "model.keras"))).mask_zero is False


def test_one_lookup_into_two_embeddings_of_which_one_masks_is_not_guessed(tmp_path):
    # Keras's mask op is on the ids both embeddings take: which of them masks is not in the graph.
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    masked = keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=True, name="masked")(ids)
    plain = keras.layers.Embedding(lookup.vocabulary_size(), 2, name="plain")(ids)
    report = inspect_model(_export(keras.Model(inputs, [masked, plain]), tmp_path / "exported"))
    assert report.findings == [], str(report)
    assert [(p.embedding, p.mask_zero) for p in report.pairs] == [("masked", None), ("plain", None)]


@pytest.mark.parametrize("kind", ["vocab_embedding", "halves"])
def test_our_layers_masking_id_zero_get_no_mask_finding(tmp_path, kind):
    # Our embeddings compute their mask with the same `NotEqual(ids, 0)` when id 0 is their mask token's; the
    # joined layer's lookup compares keys, so its id 0 is not known from the table alone.
    inputs = keras.Input(shape=(3,), dtype="string")
    if kind == "vocab_embedding":
        model = keras.Model(inputs, VocabEmbedding(2, vocabulary=VOCAB, mask_token="", name="ve")(inputs))
    else:
        embedding = VocabIdEmbedding(2, vocabulary=VOCAB, mask_token="", name="ids")
        model = keras.Model(inputs, embedding(embedding.lookup(name="words")(inputs)))
    report = inspect_model(_export(model, tmp_path / "exported"))
    assert report.findings == [], str(report)
    assert _only_pair(report).mask_zero is None


@pytest.mark.parametrize(
    "hashing, embedding, code, count",
    [
        (lambda: keras.layers.Hashing(10), lambda: keras.layers.Embedding(5, 2), "ids-exceed-rows", 5),
        (lambda: keras.layers.Hashing(10, salt=3), lambda: keras.layers.Embedding(5, 2), "ids-exceed-rows", 5),
        (lambda: keras.layers.HashedCrossing(10), lambda: keras.layers.Embedding(5, 2), "ids-exceed-rows", 5),
        (lambda: keras.layers.Hashing(4), lambda: keras.layers.Embedding(6, 2), "unreachable-rows", 2),
        (lambda: keras.layers.Hashing(6, mask_value=""), lambda: keras.layers.Embedding(6, 2, mask_zero=True), None, 0),
        (
            lambda: keras.layers.Hashing(6),
            lambda: VocabIdEmbedding(2, vocabulary=["a", "b", "c"]),  # 4 ids: the OOV id and 3 tokens.
            "hash-bins-into-vocabulary-embedding",
            2,
        ),
    ],
    ids=["Hashing", "salted", "HashedCrossing", "fewer-bins", "mask-value", "VocabIdEmbedding"],
)
def test_hash_bins_into_an_embedding_are_checked_as_in_the_keras_file(tmp_path, hashing, embedding, code, count):
    model = hashing_model(hashing(), embedding())
    model.save(tmp_path / "model.keras")
    from_file = inspect_model(tmp_path / "model.keras")
    report = inspect_model(_export(model, tmp_path / "export"))  # It was "0 pairs" and a note.
    pair, keras_pair = _only_pair(report), _only_pair(from_file)
    assert (pair.vocabulary_size, pair.rows, pair.mask_id, pair.oov_ids) == (
        keras_pair.vocabulary_size,
        keras_pair.rows,
        keras_pair.mask_id,
        keras_pair.oov_ids,
    )
    assert pair.lookup == keras_pair.lookup and "hash bins" in str(report) and "vocabulary size" not in str(report)
    assert [f.code for f in report.findings] == [f.code for f in from_file.findings] == ([code] if code else [])
    if code is not None:
        (finding,) = report.findings
        key = "unreachable_rows" if code == "unreachable-rows" else "ids_without_row"
        assert finding.details[key] == count and "num_bins" in finding.message
        assert "vocabulary_size()" not in finding.message
        if isinstance(model.layers[-1], VocabIdEmbedding):
            assert "InvalidArgumentError" in finding.message and "embedding.lookup()" in finding.message


def test_mask_zero_after_a_hashing_without_mask_value_is_said_of_a_hash_bin(tmp_path):
    # Id 0 is a bucket that real inputs hash to, not an OOV id: the export's message said "out-of-vocabulary token".
    hashing = keras.layers.Hashing(num_bins=10, name="words")
    embedding = keras.layers.Embedding(10, 2, mask_zero=True, name="emb")
    inputs = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(embedding(hashing(inputs))))
    model.save(tmp_path / "model.keras")
    (finding,) = inspect_model(_export(model, tmp_path / "exported")).findings
    (from_file,) = inspect_model(str(tmp_path / "model.keras")).findings
    assert (finding.severity, finding.code) == (from_file.severity, from_file.code)
    assert finding.code == "mask-zero-without-mask-token" and finding.layers == ("words", "emb")
    assert "no mask_value, so id 0 is a hash bin" in finding.message and "vocabulary" not in finding.message


@pytest.mark.parametrize(
    "hashing, embedding",
    [
        (lambda: keras.layers.Hashing(10, name="words"), lambda: keras.layers.Embedding(5, 2, name="emb")),
        (lambda: keras.layers.Hashing(4, name="words"), lambda: keras.layers.Embedding(6, 2, name="emb")),
        (lambda: keras.layers.HashedCrossing(10, name="words"), lambda: keras.layers.Embedding(5, 2, name="emb")),
        (
            lambda: keras.layers.Hashing(10, name="words"),
            lambda: keras.layers.Embedding(10, 2, mask_zero=True, name="emb"),
        ),
        (
            lambda: keras.layers.HashedCrossing(10, name="words"),
            lambda: keras.layers.Embedding(10, 2, mask_zero=True, name="emb"),
        ),
        (lambda: keras.layers.Hashing(4, name="words"), lambda: VocabIdEmbedding(2, vocabulary=["a", "b", "c"])),
        (lambda: keras.layers.Hashing(6, name="words"), lambda: VocabIdEmbedding(2, vocabulary=["a", "b", "c"])),
    ],
    ids=["more-bins", "fewer-bins", "HashedCrossing", "mask-zero", "HashedCrossing-mask-zero", "ids-4", "ids-6"],
)
def test_hash_bin_findings_are_worded_as_in_the_keras_file(tmp_path, hashing, embedding):
    # Both halves say the same, but for how they name the layers (the export's messages had their own wording).
    model = hashing_model(hashing(), embedding())
    model.save(tmp_path / "model.keras")
    from_file = inspect_model(tmp_path / "model.keras")
    report = inspect_model(_export(model, tmp_path / "exported"))
    lookup, embedding_layer = model.layers[-2], model.layers[-1]
    names = {
        f"{type(lookup).__name__} '{lookup.name}'": "WHO",
        f"{type(embedding_layer).__name__} '{embedding_layer.name}'": "TARGET",
    }
    exported_names = {
        f"the hashing in '{lookup.name}'": "WHO",
        f"The hashing in '{lookup.name}'": "WHO",
        f"embedding '{embedding_layer.embeddings.path}'": "TARGET",
        f"Embedding '{embedding_layer.embeddings.path}'": "TARGET",
        f"VocabIdEmbedding '{embedding_layer.name}'": "TARGET",
        " (the graph masks its ids where they are 0)": "",
    }

    def worded(findings, names):
        messages = []
        for finding in findings:
            message = finding.message
            for name, placeholder in names.items():
                message = message.replace(name, placeholder)
            messages.append((finding.code, message))
        return messages

    assert report.findings and worded(report.findings, exported_names) == worded(from_file.findings, names)


@pytest.mark.parametrize("joined", [False, True], ids=["two-calls", "concatenated"])
def test_an_embedding_fed_by_two_hashing_layers_is_a_pair_with_each(tmp_path, joined):
    # It was one pair, "a + b", with the bins of the larger.
    for bins, rows in (((4, 10), 10), ((4, 6), 10), ((12, 6), 10)):
        built = two_hashings_model(*bins, rows, joined)
        built.save(tmp_path / "model.keras")
        from_file = inspect_model(tmp_path / "model.keras")
        report = inspect_model(_export(built, tmp_path / f"exported_{bins[0]}_{bins[1]}"))
        assert [(p.lookup, p.vocabulary_size, p.rows) for p in report.pairs] == [
            ("a", bins[0], rows),
            ("b", bins[1], rows),
        ]
        assert [(p.lookup, p.vocabulary_size) for p in from_file.pairs] == [("a", bins[0]), ("b", bins[1])]
        found = [(f.code, f.details.get("unreachable_rows"), f.details.get("ids_without_row")) for f in report.findings]
        assert found == [
            (f.code, f.details.get("unreachable_rows"), f.details.get("ids_without_row")) for f in from_file.findings
        ]
        assert [f.message for f in report.findings if f.code == "unreachable-rows"] == [
            f.message.replace("Embedding 'emb'", "Embedding 'emb/embeddings'")
            for f in from_file.findings
            if f.code == "unreachable-rows"
        ]
    assert [f.code for f in report.findings] == ["ids-exceed-rows"]  # 12 bins into 10 rows; 6 reach few enough.


@pytest.mark.parametrize("apart", [True, False], ids=["hashed-apart", "hashed-and-joined-in-a-function"])
def test_hash_bins_of_a_nested_function_are_told_apart_or_said_not_to_be(tmp_path, apart):
    class Hashed(tf.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = tf.Variable(tf.zeros([10, 2]), name="emb/embeddings")

        @tf.function
        def first_bins(self, keys):  # A function of its own: its hash op is not in the function that gathers.
            with tf.name_scope("first"):
                return tf.strings.to_hash_bucket_fast(keys, 4)

        @tf.function
        def both_bins(self, first, second):  # One output of a nested function holds the ids of both.
            with tf.name_scope("first"):
                first = tf.strings.to_hash_bucket_fast(first, 4)
            with tf.name_scope("second"):
                return tf.concat([first, tf.strings.to_hash_bucket_fast(second, 10)], axis=0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)])
        def serve(self, first, second):
            if apart:
                with tf.name_scope("second"):
                    ids = tf.concat([self.first_bins(first), tf.strings.to_hash_bucket_fast(second, 10)], axis=0)
            else:
                ids = self.both_bins(first, second)
            return tf.gather(self.embeddings, ids)

    module = Hashed()
    tf.saved_model.save(module, str(tmp_path / "exported"), signatures=module.serve)
    report = inspect_model(str(tmp_path / "exported"))
    # (Name scopes of a function traced twice get a suffix: "first_1".)
    if apart:
        pairs = [(p.lookup[:5], p.vocabulary_size, p.rows) for p in report.pairs]
        assert pairs == [("first", 4, 10), ("secon", 10, 10)] and report.findings == []
        return
    (pair,) = report.pairs
    assert (" + " in pair.lookup, pair.vocabulary_size, pair.rows) == (True, 10, 10)
    (finding,) = report.findings
    assert (finding.severity, finding.code, len(finding.layers)) == ("note", "hashed-inputs-not-told-apart", 3)
    assert "2 hash ops" in finding.message and "one gather" in finding.message


@pytest.mark.parametrize("gathered", ["in-each-function", "apart-by-the-caller", "joined-by-the-caller"])
def test_hash_ops_of_one_name_in_two_functions_are_two_lookups(tmp_path, gathered):
    # Op names are unique within a function only. Both ops were taken as one: hashed into 10 and 20 bins for
    # matrices of 10 and 20 rows, they made one pair of 20 bins into 10 rows (an error), or, joined into one matrix,
    # one pair of 20 bins where a .keras file has a pair of each Hashing layer.
    class TwoHashes(tf.Module):
        def __init__(self):
            super().__init__()
            with tf.name_scope("emb"):
                self.small = tf.Variable(tf.zeros([10, 2]), name="small")
                self.large = tf.Variable(tf.zeros([20, 2]), name="large")

        @tf.function  # Saved only where `serve` calls it.
        def small_bins(self, keys):
            return tf.strings.to_hash_bucket_fast(keys, 10, name="hashed")

        @tf.function  # Saved only where `serve` calls it.
        def large_bins(self, keys):
            return tf.strings.to_hash_bucket_fast(keys, 20, name="hashed")

        @tf.function  # Saved only where `serve` calls it.
        def small_vectors(self, keys):
            return tf.gather(self.small, tf.strings.to_hash_bucket_fast(keys, 10, name="hashed"))

        @tf.function  # Saved only where `serve` calls it.
        def large_vectors(self, keys):
            return tf.gather(self.large, tf.strings.to_hash_bucket_fast(keys, 20, name="hashed"))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)])
        def serve(self, first, second):
            if gathered == "in-each-function":
                return self.small_vectors(first), self.large_vectors(second)
            if gathered == "apart-by-the-caller":
                return tf.gather(self.small, self.small_bins(first)), tf.gather(self.large, self.large_bins(second))
            return tf.gather(self.large, tf.concat([self.small_bins(first), self.large_bins(second)], axis=0))

    module = TwoHashes()
    tf.saved_model.save(module, str(tmp_path / "exported"), signatures=module.serve)
    report = inspect_model(str(tmp_path / "exported"))
    found = sorted((p.vocabulary_size, p.rows) for p in report.pairs)
    if gathered == "joined-by-the-caller":
        assert found == [(10, 20), (20, 20)] and report.findings == [], str(report)
    else:
        assert found == [(10, 10), (20, 20)] and report.findings == [], str(report)


def test_hashed_crossing_exports_the_sparse_cross_op_the_check_follows(tmp_path):
    # The check follows `SparseCross` (hashed), not `SparseCrossHashed`: Keras's HashedCrossing and
    # `tf.sparse.cross_hashed` run the former. Should either move to the other op, the check must follow it.
    class Crossed(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.int64), tf.TensorSpec([None, 1], tf.int64)])
        def serve(self, first, second):
            return tf.sparse.cross_hashed([first, second], num_buckets=10).values

    layer = hashing_model(keras.layers.HashedCrossing(10), keras.layers.Embedding(10, 2))
    module = Crossed()
    tf.saved_model.save(module, str(tmp_path / "module"), signatures=module.serve)
    for path in (_export(layer, tmp_path / "layer"), str(tmp_path / "module")):
        graph = tf.saved_model.load(path).signatures["serving_default"].graph.as_graph_def()
        functions = [function.node_def for function in graph.library.function] + [graph.node]
        ops = {node.op for nodes in functions for node in nodes}
        assert "SparseCross" in ops and "SparseCrossHashed" not in ops, path


class _ComparesIdsWithZero(keras.Model):
    """A subclassed model whose `call` computes TensorFlow's `ids != 0` and never uses it."""

    def __init__(self, mask_zero, **kwargs):
        super().__init__(**kwargs)
        self.words = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
        self.emb = keras.layers.Embedding(self.words.vocabulary_size(), 2, mask_zero=mask_zero, name="emb")

    def call(self, inputs):
        ids = self.words(inputs)
        known = ids != 0  # noqa: F841 (the unused comparison under test: tf.Tensor's `!=`, not keras.ops)
        return self.emb(ids)


@pytest.mark.parametrize("mask_zero", [False, True])
def test_an_unused_ids_not_equal_zero_of_a_subclassed_model_is_not_taken_for_a_mask(tmp_path, mask_zero):
    # Unused, TensorFlow's `ids != 0` in the model's own scope looked like the op Keras leaves for mask_zero=True:
    # the export of a model without any mask got the mask-zero-without-mask-token error.
    model = _ComparesIdsWithZero(mask_zero, name="subclassed")
    model(tf.constant([["the", "dog", "cat"]]))
    report = inspect_model(_export(model, tmp_path / "exported"))
    assert _only_pair(report).mask_zero is (True if mask_zero else None)
    assert [f.code for f in report.findings] == (["mask-zero-without-mask-token"] if mask_zero else [])


@pytest.mark.parametrize("kind", ["vocab_embedding", "halves"])
@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving"])
def test_the_rows_of_our_padded_layers_are_the_rows_the_keras_file_reports_padding_apart(tmp_path, kind, exporter):
    # The export's pair counted the whole padded matrix (8 rows), the .keras file's the rows of the vocabulary's
    # ids (6): the same model read two ways. Both now say 6 rows, and 2 rows of padding.
    inputs = keras.Input(shape=(3,), dtype="string")
    if kind == "vocab_embedding":
        layer = VocabEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="ve")
        model = keras.Model(inputs, layer(inputs))
    else:
        layer = VocabIdEmbedding(2, vocabulary=VOCAB, pad_to_multiple_of=8, name="ids")
        model = keras.Model(inputs, layer(layer.lookup(name="words")(inputs)))
    matrix_rows = int(layer.embeddings.shape[0])
    assert matrix_rows > layer.vocabulary_size()  # The padding is there.
    model.save(tmp_path / "model.keras")
    report = inspect_model(_exported_by(exporter, model, tmp_path))
    (from_file,) = inspect_model(str(tmp_path / "model.keras")).pairs
    expected = (layer.vocabulary_size(), layer.vocabulary_size(), matrix_rows - layer.vocabulary_size())
    assert [(p.vocabulary_size, p.rows, p.padding_rows) for p in report.pairs] == [expected]
    assert (from_file.vocabulary_size, from_file.rows, from_file.padding_rows) == expected
    assert f"embedding rows {layer.vocabulary_size()} (and {matrix_rows - layer.vocabulary_size()} zero padding" in str(
        report
    )
    assert json.loads(report.to_json())["pairs"][0]["padding_rows"] == matrix_rows - layer.vocabulary_size()


def test_a_function_frame_indexes_consumers_and_scoped_ops_once_as_a_scan_finds_them(tmp_path):
    # One pass builds both consumer maps (every consumer, data consumers only), and the ops of a layer call are found
    # by name scope from an index: each agrees with a plain scan of the function's ops.
    from keras_vocabsafe._inspect_savedmodel import _FIND_OPS, _SavedModel

    lookup = keras.layers.StringLookup(vocabulary=VOCAB, name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(inputs, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(lookup(inputs)))
    saved = _SavedModel(_export(model, tmp_path / "exported"))
    checked = 0
    for name in saved.bound_inputs:
        frame = saved.function_frame(name)
        if frame is None:
            continue
        every, data = {}, {}
        for node in frame.function.node_def:
            for ref in node.input:
                every.setdefault(ref.lstrip("^").partition(":")[0], []).append(node.name)
                if not ref.startswith("^"):
                    data.setdefault(ref.partition(":")[0], []).append(node.name)
        assert frame.consumers() == every and frame.consumers(data_only=True) == data
        scopes = {node.name.rpartition("/")[0] for node in frame.function.node_def} - {""}
        for scope in scopes:
            for ops in ({"ReadVariableOp"}, _FIND_OPS):
                scanned = [n for n in frame.function.node_def if n.op in ops and n.name.startswith(scope + "/")]
                assert frame.scoped_ops(scope, ops) == scanned, scope
        checked += any(n.op in _FIND_OPS for n in frame.function.node_def) and every != data
    assert checked  # A function that looks keys up and waits on an op (an assertion) was among them.


def _mask_token_model(lookup, structure, mask_zero=False):
    """`lookup` (with a mask token) into a Keras `Embedding`: alone, in a Sequential before an LSTM, or in a nested
    model before a pooling layer."""
    dtype = "int64" if isinstance(lookup, keras.layers.IntegerLookup) else "string"
    shape = () if isinstance(lookup, keras.layers.TextVectorization) else (3,)
    embedding = keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=mask_zero, name="emb")
    if structure == "sequential_lstm":
        return keras.Sequential([keras.Input(shape=shape, dtype=dtype), lookup, embedding, keras.layers.LSTM(2)])
    inputs = keras.Input(shape=shape, dtype=dtype)
    x = embedding(lookup(inputs))
    if structure == "nested_pooling":
        x = keras.layers.GlobalAveragePooling1D()(keras.Model(inputs, x, name="inner")(inputs))
    return keras.Model(inputs, x)


@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving", "tf_saved_model"])
@pytest.mark.parametrize(
    "kind, structure",
    [
        ("string", "functional"),
        ("string", "sequential_lstm"),
        ("string", "nested_pooling"),
        ("int", "functional"),
        ("text_vectorization", "functional"),
        ("vocab_lookup", "functional"),
    ],
)
def test_a_mask_token_into_an_embedding_without_mask_zero_is_the_keras_file_warning(
    tmp_path, exporter, kind, structure
):
    # The .keras check warns (padding is embedded as a token); the export of the same model said nothing: a missing
    # mask op was taken for no proof. It is, where the ids (and the keys) are used for nothing but selecting rows.
    if kind == "string":
        lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", name="words")
    elif kind == "int":
        lookup = keras.layers.IntegerLookup(vocabulary=[10, 20, 30], mask_token=0, name="words")
    elif kind == "text_vectorization":  # Its mask token "" is id 0.
        lookup = keras.layers.TextVectorization(vocabulary=VOCAB, output_sequence_length=4, name="words")
    else:  # Ours, into a Keras Embedding, which drops the mask our lookup computes.
        lookup = VocabLookup(vocabulary=VOCAB, mask_token="", name="words")
    model = _mask_token_model(lookup, structure)
    model.save(tmp_path / "model.keras")
    if exporter == "tf_saved_model":
        tf.saved_model.save(model, str(tmp_path / "saved"))
        path = str(tmp_path / "saved")
    else:
        path = _exported_by(exporter, model, tmp_path)
    report = inspect_model(path)
    from_file = inspect_model(str(tmp_path / "model.keras"))
    assert [(f.severity, f.code) for f in report.findings] == [(f.severity, f.code) for f in from_file.findings]
    (finding,) = report.findings
    assert finding.layers == from_file.findings[0].layers  # Named as the .keras file names them (`inner/words`).
    shown = ("inner/words", "inner/emb") if structure == "nested_pooling" else ("words", "emb")
    assert (finding.code, finding.layers) == ("mask-token-without-mask-zero", shown)
    assert "maps its mask token to id 0" in finding.message and "has mask_zero=False" in finding.message
    assert (
        (_only_pair(report).mask_id, _only_pair(report).mask_zero)
        == (0, False)
        == (
            _only_pair(from_file).mask_id,
            _only_pair(from_file).mask_zero,
        )
    )


@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving"])
def test_a_mask_token_at_another_id_than_0_is_warned_with_its_id_in_both_halves(tmp_path, exporter):
    # A vocabulary that lists its special tokens keeps their positions: here the mask token is not id 0, and the
    # message said "id 0" (.keras) or nothing at all (SavedModel); mask_zero=True is no cure for it.
    lookup = VocabLookup(vocabulary=["[UNK]", "", *VOCAB], mask_token="", name="words")
    mask_id = int(lookup(tf.constant([[""]]))[0, 0])
    assert mask_id != 0
    inputs = keras.Input(shape=(3,), dtype="string")
    model = keras.Model(inputs, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(lookup(inputs)))
    for report in _both_halves(exporter, model, tmp_path):
        (finding,) = report.findings
        assert (finding.severity, finding.code, finding.layers) == (
            "warning",
            "mask-token-without-mask-zero",
            ("words", "emb"),
        )
        assert f"maps its mask token to id {mask_id}," in finding.message
        assert "Set mask_zero=True" not in finding.message and "list the mask token first" in finding.message
        assert _only_pair(report).mask_id == mask_id


def test_a_mask_token_into_two_embeddings_without_mask_zero_is_the_keras_file_warning_for_each(tmp_path):
    # The ids select rows of two matrices, and nothing else: neither embedding masks.
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    embedded = [keras.layers.Embedding(lookup.vocabulary_size(), 2, name=name)(ids) for name in ("first", "second")]
    model = keras.Model(inputs, keras.layers.Concatenate()(embedded))
    model.save(tmp_path / "model.keras")
    report = inspect_model(_export(model, tmp_path / "exported"))
    from_file = inspect_model(str(tmp_path / "model.keras"))
    found = sorted((f.severity, f.code, f.layers) for f in report.findings)
    assert found == sorted((f.severity, f.code, f.layers) for f in from_file.findings)
    assert found == [("warning", "mask-token-without-mask-zero", ("words", name)) for name in ("first", "second")]


@pytest.mark.parametrize("masked_by", ["the_keys", "the_ids", "the_embedding"])
def test_a_mask_token_into_an_embedding_without_mask_zero_is_not_warned_where_the_model_masks_itself(
    tmp_path, masked_by
):
    # The model masks the padding on its own (from the strings, or from the ids), or the embedding does: the graph
    # cannot tell that none of this is a mask, so it says nothing rather than guess.
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", name="words")
    inputs = keras.Input(shape=(3,), dtype="string")
    ids = lookup(inputs)
    embedded = keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=masked_by == "the_embedding")(ids)
    if masked_by == "the_keys":
        embedded = keras.layers.GlobalAveragePooling1D()(embedded, mask=keras.ops.not_equal(inputs, ""))
    elif masked_by == "the_ids":
        embedded = embedded * keras.ops.expand_dims(keras.ops.cast(keras.ops.not_equal(ids, 0), "float32"), -1)
    report = inspect_model(_export(keras.Model(inputs, embedded), tmp_path / "exported"))
    assert report.findings == [], str(report)
    assert _only_pair(report).mask_zero is (True if masked_by == "the_embedding" else None)


@pytest.mark.parametrize("exporter", ["model_export", "export_for_serving"])
@pytest.mark.parametrize("dtype", ["string", "int64"])
def test_mask_zero_with_the_mask_token_at_another_id_than_0_is_an_error_with_its_ids_in_both_halves(
    tmp_path, exporter, dtype
):
    # A vocabulary that lists its special tokens puts the mask token where it is listed (id 1 here, the OOV token at
    # 0): Embedding(mask_zero=True) masks the OOV id and embeds the padding. The .keras check said nothing, and the
    # SavedModel one that the lookup "has no mask token".
    if dtype == "string":
        lookup = VocabLookup(vocabulary=["[UNK]", "[PAD]", *VOCAB], mask_token="[PAD]", oov_token="[UNK]", name="words")
        padding, unknown = tf.constant([["[PAD]", "zebra"]]), tf.constant([["zebra"]])
    else:
        lookup = VocabLookup(
            vocabulary=[-1, 0, 7, 8, 9], vocabulary_dtype="int64", mask_token=0, oov_token=-1, name="words"
        )
        padding, unknown = tf.constant([[0, 1234]], "int64"), tf.constant([[1234]], "int64")
    mask_id, oov_id = (int(i) for i in lookup(padding)[0])
    assert (mask_id, oov_id) == (1, 0)  # Keras's Embedding(mask_zero=True) masks the OOV id, not the padding.
    inputs = keras.Input(shape=(3,), dtype=dtype)
    embedding = keras.layers.Embedding(lookup.vocabulary_size(), 2, mask_zero=True, name="emb")
    model = keras.Model(inputs, embedding(lookup(inputs)))
    assert not bool(embedding.compute_mask(lookup(unknown))[0, 0])
    for report in _both_halves(exporter, model, tmp_path):
        (finding,) = report.findings
        assert (finding.severity, finding.code, finding.layers) == (
            "error",
            "mask-zero-without-mask-token",
            ("words", "emb"),
        )
        assert f"maps its mask token to id {mask_id}, not 0, so id {oov_id} is its OOV id" in finding.message
        assert "has no mask token" not in finding.message
        assert "list the mask token first" in finding.message.lower() and "VocabEmbedding" in finding.message
        assert (_only_pair(report).mask_id, _only_pair(report).oov_ids) == (mask_id, (oov_id,))


@pytest.mark.parametrize("rows", [5, 4], ids=["rows-for-every-key", "one-row-short"])
def test_a_table_default_of_minus_one_is_told_to_get_a_row_not_a_larger_matrix(tmp_path, rows):
    # A TF Serving team's model: a hash table whose unknown keys get -1, gathered from a matrix of one row per key.
    class Served(tf.Module):
        def __init__(self):
            super().__init__()
            initializer = tf.lookup.KeyValueTensorInitializer(tf.constant(VOCAB), tf.range(len(VOCAB), dtype=tf.int64))
            self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)
            self.embeddings = tf.Variable(tf.zeros([rows, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, keys):
            return tf.nn.embedding_lookup(self.embeddings, self.table.lookup(keys))

    module = Served()
    with pytest.raises(tf.errors.InvalidArgumentError):  # What the served model does with an unknown key.
        module.serve(tf.constant(["unknown"]))
    tf.saved_model.save(module, str(tmp_path / "served"), signatures=module.serve)
    (finding,) = inspect_model(str(tmp_path / "served")).findings
    assert (finding.severity, finding.code) == ("error", "ids-exceed-rows")
    assert "(-1" in finding.message and "`default_value` set to an OOV row" in finding.message
    # A larger matrix is the fix only for ids past its end.
    assert ("input_dim=lookup.vocabulary_size()` (5)" in finding.message) == (rows < len(VOCAB))


@pytest.mark.parametrize("initializer", ["key_value", "text_file"])
@pytest.mark.parametrize("extra_rows", [0, -1])
def test_a_static_vocabulary_table_counts_its_oov_buckets_after_its_ids(tmp_path, initializer, extra_rows):
    # A TF Serving team's model: `tf.lookup.StaticVocabularyTable` gives unknown keys one of `num_oov_buckets` ids
    # after the vocabulary's (hash bucket + table size), gathered from a matrix meant to have a row for each.
    buckets = 2
    if initializer == "key_value":
        init = tf.lookup.KeyValueTensorInitializer(tf.constant(VOCAB), tf.range(len(VOCAB), dtype=tf.int64))
    else:
        (tmp_path / "vocab.txt").write_text("".join(f"{token}\n" for token in VOCAB))
        init = tf.lookup.TextFileInitializer(
            str(tmp_path / "vocab.txt"),
            tf.string,
            tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64,
            tf.lookup.TextFileIndex.LINE_NUMBER,
        )

    class Served(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=buckets)
            self.embeddings = tf.Variable(tf.zeros([len(VOCAB) + buckets + extra_rows, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, keys):
            return tf.nn.embedding_lookup(self.embeddings, self.table.lookup(keys))

    module = Served()
    unknown_ids = module.table.lookup(tf.constant([f"unknown {i}" for i in range(50)])).numpy()
    assert sorted(set(unknown_ids)) == [len(VOCAB), len(VOCAB) + 1]  # What TensorFlow gives unknown keys.
    tf.saved_model.save(module, str(tmp_path / "served"), signatures=module.serve)
    report = inspect_model(str(tmp_path / "served"))
    pair = _only_pair(report)
    assert (pair.vocabulary_size, pair.oov_ids) == (len(VOCAB) + buckets, tuple(sorted(set(unknown_ids))))
    assert [f.code for f in report.findings] == (["ids-exceed-rows"] if extra_rows < 0 else [])


def test_an_id_put_in_place_of_a_table_default_is_the_oov_id_not_a_mask(tmp_path):
    # A TF Serving team's model: unknown keys get the table's default -1, then `tf.where` gives them the last row.
    class Served(tf.Module):
        def __init__(self):
            super().__init__()
            initializer = tf.lookup.KeyValueTensorInitializer(tf.constant(VOCAB), tf.range(len(VOCAB), dtype=tf.int64))
            self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)
            self.embeddings = tf.Variable(tf.zeros([len(VOCAB) + 1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, keys):
            ids = self.table.lookup(keys)
            return tf.nn.embedding_lookup(self.embeddings, tf.where(ids < 0, tf.constant(len(VOCAB), tf.int64), ids))

    module = Served()
    tf.saved_model.save(module, str(tmp_path / "served"), signatures=module.serve)
    report = inspect_model(str(tmp_path / "served"))
    pair = _only_pair(report)
    assert (pair.vocabulary_size, pair.rows, pair.mask_id, pair.oov_ids) == (6, 6, None, (len(VOCAB),))
    assert report.findings == []  # Every row is a token's or the unknown keys'; nothing is padding.


def _hash_table(keys):
    """A hand-written table giving each key its position, as a TF Serving team's `tf.Module` builds one."""
    ids = tf.range(len(keys), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(tf.constant(keys), ids), default_value=0)


def test_two_matrices_of_one_name_scope_are_named_by_their_own_paths(tmp_path):
    # A TF Serving team's model: two matrices made under one `tf.name_scope`, each gathered by its own table. Both
    # were shown as `emb`, the scope, as if one matrix.
    small, large = ["a", "b"], VOCAB

    class Served(tf.Module):
        def __init__(self):
            super().__init__()
            self.small_table, self.large_table = _hash_table(small), _hash_table(large)
            with tf.name_scope("emb"):
                self.small = tf.Variable(tf.zeros([len(small), 2]), name="small")
                self.large = tf.Variable(tf.zeros([len(large) - 1, 2]), name="large")  # One row short.

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
        def serve(self, first, second):
            return tf.nn.embedding_lookup(self.small, self.small_table.lookup(first)) + tf.nn.embedding_lookup(
                self.large, self.large_table.lookup(second)
            )

    module = Served()
    assert (module.small.name, module.large.name) == ("emb/small:0", "emb/large:0")
    tf.saved_model.save(module, str(tmp_path / "served"), signatures=module.serve)
    report = inspect_model(str(tmp_path / "served"))
    assert sorted((p.embedding, p.rows) for p in report.pairs) == [("emb/large", 4), ("emb/small", 2)]
    (finding,) = report.findings
    assert finding.code == "ids-exceed-rows" and finding.layers[-1] == "emb/large", finding


def test_hand_written_tables_are_named_by_the_attribute_path_that_holds_them(tmp_path):
    # A TF Serving team's model: tables of a `tf.Module` looked up outside any name scope. The first was named
    # "lookup table", the second `None_Lookup_1` (TensorFlow's scope for a second lookup), which no code holds.
    class Tables(tf.Module):
        def __init__(self):
            super().__init__()
            self.listed = [_hash_table(VOCAB)]

    class Served(tf.Module):
        def __init__(self):
            super().__init__()
            self.small_table, self.tables = _hash_table(["a", "b"]), Tables()
            self.small = tf.Variable(tf.zeros([2, 2]), name="small")
            self.large = tf.Variable(tf.zeros([len(VOCAB) - 1, 2]), name="large")  # One row short.

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
        def serve(self, first, second):
            return tf.nn.embedding_lookup(self.small, self.small_table.lookup(first)) + tf.nn.embedding_lookup(
                self.large, self.tables.listed[0].lookup(second)
            )

    module = Served()
    tf.saved_model.save(module, str(tmp_path / "served"), signatures=module.serve)
    report = inspect_model(str(tmp_path / "served"))
    assert sorted((p.lookup, p.embedding) for p in report.pairs) == [
        ("small_table", "small"),
        ("tables.listed[0]", "large"),
    ]
    (finding,) = report.findings
    assert finding.code == "ids-exceed-rows" and finding.layers == ("tables.listed[0]", "large"), finding
    assert "The lookup 'tables.listed[0]' gives ids up to 4" in finding.message, finding.message


def test_an_embedding_of_ragged_ids_is_named_as_its_layer(tmp_path):
    text = keras.Input((1,), dtype="string")
    vectorize = keras.layers.TextVectorization(vocabulary=VOCAB, ragged=True, name="vectorize")
    model = keras.Model(text, keras.layers.Embedding(len(VOCAB) + 2, 2, name="emb")(vectorize(text)))
    exported, saved = _both_halves("model_export", model, tmp_path)
    assert [(p.lookup, p.embedding) for p in exported.pairs] == [("vectorize", "emb")]
    assert [(p.lookup, p.embedding) for p in saved.pairs] == [("vectorize", "emb")]


def _shifted_ids_model(source, shift, rows, how):
    """Ids of 'words' (a StringLookup of VOCAB, or a Hashing into 5 bins) moved by `shift` into an Embedding 'emb'
    of `rows` rows: with `keras.ops` ("ops", which a .keras file records), or in a Lambda (`ids + k`, or `k + ids`
    for "lambda_first")."""
    inputs = keras.Input(shape=(3,), dtype="string")
    if source == "lookup":
        ids = keras.layers.StringLookup(vocabulary=VOCAB, name="words")(inputs)
    else:
        ids = keras.layers.Hashing(num_bins=5, name="words")(inputs)
    if how == "ops":
        shifted = keras.ops.add(ids, shift) if shift > 0 else keras.ops.subtract(ids, -shift)
    elif how == "lambda":
        shifted = keras.layers.Lambda(lambda x: x + shift, name="shift")(ids)
    else:
        shifted = keras.layers.Lambda(lambda x: shift + x, name="shift")(ids)
    embedding = keras.layers.Embedding(rows, 2, name="emb")
    return keras.Model(inputs, embedding(shifted)), embedding


@pytest.mark.parametrize("how", ["ops", "lambda", "lambda_first"])
@pytest.mark.parametrize("source", ["lookup", "hashing"])
@pytest.mark.parametrize(
    "shift, extra_rows, code",
    [(1, 1, "unreachable-rows"), (1, 0, "ids-exceed-rows"), (-1, 0, "ids-exceed-rows")],
    ids=["shifted-leaving-row-0", "shifted-past-the-rows", "shifted-below-0"],
)
def test_ids_shifted_on_the_way_report_the_lookups_own_size_and_the_keras_file_advice(
    tmp_path, how, source, shift, extra_rows, code
):
    # A StringLookup of 6 ids shifted by +1 into an Embedding(7) was told "vocabulary size 7" and advised
    # "`input_dim=lookup.vocabulary_size()` (7)", which it had; into an Embedding(6), the same advice. Ids shifted
    # by -1 (the OOV id to -1, which Keras's Embedding wraps to the last row) got no finding at all.
    size = keras.layers.StringLookup(vocabulary=VOCAB).vocabulary_size() if source == "lookup" else 5
    model, embedding = _shifted_ids_model(source, shift, size + extra_rows, how)
    if shift > 0 and not extra_rows and source == "lookup":
        with pytest.raises(tf.errors.InvalidArgumentError):  # The last token's id has no row.
            model.predict(tf.constant([[VOCAB[-1]] * 3]), verbose=0)
    if shift < 0 and source == "lookup":  # An unknown token's id 0 - 1 selects the last row, the last token's.
        vectors = model.predict(tf.constant([["unknown"] * 3]), verbose=0)
        np.testing.assert_array_equal(vectors[0, 0], embedding.embeddings.numpy()[-1])
    exported = inspect_model(_export(model, tmp_path / "exported"))
    ((pair,), (finding,)) = exported.pairs, exported.findings
    assert (pair.vocabulary_size, pair.rows) == (size, embedding.input_dim)
    # The Lambda's name scope names it; `keras.ops` in a functional model run in the model's own scope.
    between = () if how == "ops" else ("shift",)
    assert (finding.code, finding.layers) == (code, ("words", *between, "emb"))
    way = " (through shift)" if between else ""
    assert f"gives ids 0 to {size - 1}, shifted by {shift:+d} on the way{way} to {shift} to {size - 1 + shift}" in (
        finding.message
    )
    assert "lookup.vocabulary_size()" not in finding.message
    if code == "unreachable-rows":
        unshifted = f"`input_dim={size}`" if source == "lookup" else f"`input_dim=num_bins` ({size})"
        assert f"no shift and {unshifted}" in finding.message
    elif shift > 0:
        assert f"`input_dim={size + shift}`" in finding.message
    if how == "ops":  # The .keras file tells the same, in the same words after the layers' names.
        model.save(tmp_path / "model.keras")
        (in_file,) = inspect_model(str(tmp_path / "model.keras")).findings
        assert (in_file.code, in_file.details) == (finding.code, finding.details)
        assert in_file.message.split(": ", 1)[1] == finding.message.split(": ", 1)[1]


@pytest.mark.parametrize(
    "shift, extra_rows",
    [(1, 1), (1, 0), (-1, 0)],
    ids=["shifted-leaving-row-0", "shifted-past-the-rows", "shifted-below-0"],
)
def test_a_shifted_hashing_is_advised_about_its_bins_not_a_vocabulary(tmp_path, shift, extra_rows):
    # Both halves advised a shifted Hashing as a lookup: "or use VocabEmbedding without the shift, which sizes the
    # matrix from the vocabulary". A Hashing has no vocabulary: its num_bins sizes the matrix.
    model, embedding = _shifted_ids_model("hashing", shift, 5 + extra_rows, "ops")
    bins = model.get_layer("words").num_bins
    assert embedding.input_dim == bins + extra_rows
    for report in _both_halves("model_export", model, tmp_path):
        (finding,) = report.findings
        for lookup_word in ("VocabEmbedding", "vocabulary", "token"):
            assert lookup_word not in finding.message, finding.message
        assert f"`input_dim=num_bins` ({bins})" in finding.message, finding.message
        if shift > 0 and not extra_rows:
            assert f"`input_dim={bins + shift}` (num_bins + {shift})" in finding.message, finding.message


@pytest.mark.parametrize("shifter", ["lambda", "nested_model"])
def test_the_layer_that_shifted_the_ids_is_named_where_the_graph_has_its_name_scope(tmp_path, shifter):
    # The .keras check names the layer that shifts the ids ("through shift"); the export's findings and pair named
    # none, though the graph runs the shift in that layer's name scope.
    inputs = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", name="words")
    ids = lookup(inputs)
    if shifter == "lambda":
        layer = keras.layers.Lambda(lambda x: x + 1, name="shift")
    else:
        inner_ids = keras.Input(shape=(3,), dtype="int64")
        layer = keras.Model(inner_ids, keras.ops.add(inner_ids, 1), name="inner")
    model = keras.Model(inputs, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(layer(ids)))
    exported = inspect_model(_export(model, tmp_path / "exported"))
    assert [p.between for p in exported.pairs] == [(layer.name,)]
    assert sorted(f.code for f in exported.findings) == ["ids-exceed-rows", "path-not-checked"]
    for finding in exported.findings:  # The error, and the note on the mask the shift moves.
        assert finding.layers == ("words", layer.name, "emb"), finding
        assert f"shifted by +1 on the way (through {layer.name})" in finding.message


@pytest.mark.parametrize("mask_token", [None, ""], ids=["oov-below-0", "mask-below-0"])
def test_ids_shifted_below_0_list_the_same_special_ids_as_the_keras_file(tmp_path, mask_token):
    # `ids - 1` puts the OOV id 0 at -1, which Keras's Embedding wraps to its last row. The export's pair listed the
    # row the gather takes (OOV ids (5,)), the .keras file's the id the Embedding is given (-1,), as its message does.
    inputs = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token=mask_token, name="words")
    shifted = keras.ops.subtract(lookup(inputs), 1)
    model = keras.Model(inputs, keras.layers.Embedding(lookup.vocabulary_size(), 2, name="emb")(shifted))
    exported, in_file = _both_halves("model_export", model, tmp_path)
    vocabulary = lookup.get_vocabulary()
    mask_id = None if mask_token is None else vocabulary.index(mask_token) - 1
    oov_id = vocabulary.index(lookup.oov_token) - 1
    ((pair,), (file_pair,)) = exported.pairs, in_file.pairs
    assert (file_pair.mask_id, file_pair.oov_ids) == (mask_id, (oov_id,))
    assert (pair.mask_id, pair.oov_ids) == (file_pair.mask_id, file_pair.oov_ids)
    assert [f.code for f in exported.findings] == [f.code for f in in_file.findings]


def test_ids_shifted_off_a_mask_token_get_the_keras_file_note_on_the_mask(tmp_path):
    # The shift moves the mask id off 0: as in the .keras file, a note says the mask was not checked.
    inputs = keras.Input(shape=(3,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=VOCAB, mask_token="", name="words")
    shifted = keras.ops.add(lookup(inputs), 1)
    model = keras.Model(inputs, keras.layers.Embedding(lookup.vocabulary_size() + 1, 2, mask_zero=True)(shifted))
    exported, in_file = _both_halves("model_export", model, tmp_path)
    assert [f.code for f in exported.findings] == [f.code for f in in_file.findings]
    (note,) = [f for f in exported.findings if f.code == "path-not-checked"]
    assert "shifted by +1 on the way, which moves the mask id off 0" in note.message
    assert [p.vocabulary_size for p in exported.pairs] == [lookup.vocabulary_size()]
