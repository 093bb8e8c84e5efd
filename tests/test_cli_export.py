"""`vocabsafe export MODEL BASE_PATH` and `vocabsafe audit SAVEDMODEL`: what is written, what a model server sees,
exit codes, and what is refused before anything is written.

The commands run in this process (`keras_vocabsafe.cli.main`); what they write is read back with TensorFlow alone
(`tf.saved_model.load`), not with this package.
"""

import json
import os
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vocabsafe import TextVocabEmbedding, VocabEmbedding
from keras_vocabsafe.cli import main

pytestmark = pytest.mark.saving

VOCABULARY = ["the", "cat", "sat", "on", "mat"]


def run(capsys, *args):
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exit:  # argparse's own usage errors.
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A .keras model of string tokens (3 per example) through a VocabEmbedding into a Dense head."""
    words = VocabEmbedding(4, vocabulary=VOCABULARY, mask_token="", name="words")
    tokens = keras.Input(shape=(3,), dtype="string", name="tokens")
    score = keras.layers.Dense(2, name="score")(keras.layers.GlobalAveragePooling1D()(words(tokens)))
    model = keras.Model(tokens, score)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def case_fold_file(tmp_path_factory):
    """A .keras model whose text layer puts a tensorflow-text op (`CaseFoldUTF8`) into an exported graph."""
    text = TextVocabEmbedding(4, vocabulary=VOCABULARY, standardize="case_fold", output_sequence_length=3)
    sentences = keras.Input(shape=(), dtype="string", name="sentences")
    model = keras.Model(sentences, keras.layers.GlobalAveragePooling1D()(text(sentences)))
    path = tmp_path_factory.mktemp("text_model") / "text.keras"
    model.save(path)
    return path


def test_export_writes_a_version_that_tensorflow_alone_serves_as_the_model_predicts(model_file, tmp_path, capsys):
    base = tmp_path / "models" / "reviews"  # Missing: created.
    code, out, err = run(capsys, "export", model_file, base, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["written"], data["version"]) == (True, 1)
    assert os.path.samefile(data["path"], base / "1")

    loaded = tf.saved_model.load(str(base / "1"))
    batch = tf.constant([["the", "cat", "zebra"], ["mat", "", "on"]])
    served = loaded.signatures["serving_default"](tokens=batch)["score"].numpy()
    expected = keras.saving.load_model(model_file).predict(batch, verbose=0)
    np.testing.assert_allclose(served, expected, rtol=1e-6, atol=1e-6)
    tokens = loaded.signatures["vocabulary_words"]()["tokens"].numpy().tolist()
    assert tokens == [b"", b"[UNK]", *(token.encode() for token in VOCABULARY)]

    # The report describes the signatures as TensorFlow reads them back.
    assert set(data["signatures"]) == set(loaded.signatures)
    for name, function in loaded.signatures.items():
        inputs = function.structured_input_signature[1]
        described = data["signatures"][name]["inputs"]
        assert set(described) == set(inputs), name
        for key, spec in inputs.items():
            shape = None if spec.shape.rank is None else spec.shape.as_list()
            assert described[key] == {"dtype": spec.dtype.name, "shape": shape}, (name, key)
        assert set(data["signatures"][name]["outputs"]) == set(function.structured_outputs), name
    assert data["audit"]["non_core"] == {}


def test_export_text_names_the_version_its_signatures_and_that_it_needs_tensorflow_alone(model_file, tmp_path, capsys):
    code, out, err = run(capsys, "export", model_file, tmp_path)
    assert code == 0, err
    assert out.splitlines()[0] == f"Wrote version 1 of {model_file} to {tmp_path / '1'}"
    assert "  serving_default: tokens string (None, 3) -> score float32 (None, 2)" in out.splitlines()
    assert "  vocabulary_words: () -> tokens string (7,), vocabulary_size int64 ()" in out.splitlines()
    assert "it runs with TensorFlow alone" in out


def test_a_second_export_takes_the_next_version_and_an_existing_version_is_refused(model_file, tmp_path, capsys):
    assert run(capsys, "export", model_file, tmp_path)[0] == 0
    code, out, err = run(capsys, "export", model_file, tmp_path, "--json")
    assert code == 0, err
    assert json.loads(out)["version"] == 2
    before = {path: os.path.getmtime(tmp_path / path / "saved_model.pb") for path in ("1", "2")}

    code, out, err = run(capsys, "export", model_file, tmp_path, "--version", "1")
    assert code == 2 and out == ""
    assert "version 1 already exists" in err and "Omit --version" in err
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]
    assert {path: os.path.getmtime(tmp_path / path / "saved_model.pb") for path in ("1", "2")} == before


def test_export_with_a_target_refuses_ops_that_do_not_load_there_and_writes_nothing(case_fold_file, tmp_path, capsys):
    base = tmp_path / "text"
    for flags in (["--strict"], ["--target", "core"], ["--target", "tensorflow-text==2.4"]):
        code, out, err = run(capsys, "export", case_fold_file, base, *flags, "--json")
        # tensorflow-text 2.4 has CaseFoldUTF8: only the two core-only targets refuse it.
        if flags[-1] == "tensorflow-text==2.4":
            assert code == 0, err
            assert json.loads(out)["audit"]["refused"] == {}
            continue
        assert code == 1, (flags, err)
        data = json.loads(out)
        assert data["written"] is False
        assert "CaseFoldUTF8" in data["error"] and "standardize='case_fold'" in data["error"]
        assert not base.exists() or os.listdir(base) == []


def test_audit_lists_the_non_core_ops_and_fails_only_for_a_target_they_do_not_load_in(case_fold_file, tmp_path, capsys):
    assert run(capsys, "export", case_fold_file, tmp_path)[0] == 0
    code, out, err = run(capsys, "audit", tmp_path / "1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["non_core"] == {"CaseFoldUTF8": "tensorflow_text"}
    assert "serving_default" in data["signatures"]

    code, out, err = run(capsys, "audit", tmp_path / "1", "--target", "core")
    assert code == 1, err
    assert "refused: CaseFoldUTF8" in out


def test_warmup_requests_from_a_json_file_are_written_for_the_model_server(model_file, tmp_path, capsys):
    from tensorflow_serving.apis import prediction_log_pb2

    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps([{"tokens": [["the", "cat", "sat"]]}, {"tokens": [["on", "a", "mat"]]}]))
    code, out, err = run(capsys, "export", model_file, tmp_path / "base", "--warmup", requests, "--json")
    assert code == 0, err
    assert json.loads(out)["warmup_requests"] == 2
    records = tmp_path / "base" / "1" / "assets.extra" / "tf_serving_warmup_requests"
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(records))]
    sent = [tf.make_ndarray(log.predict_log.request.inputs["tokens"]).tolist() for log in logs]
    assert sent == [[[b"the", b"cat", b"sat"]], [[b"on", b"a", b"mat"]]]


def test_keep_ids_serves_the_embedding_half_on_ids(tmp_path, capsys):
    words = VocabEmbedding(4, vocabulary=VOCABULARY, mask_token="", name="words")
    _, embedding = words.halves()
    ids = keras.Input(shape=(3,), dtype="int64", name="ids")
    model = keras.Model(ids, keras.layers.GlobalAveragePooling1D()(embedding(ids)))
    model.save(tmp_path / "ids.keras")
    dtypes = {}
    for flags in ([], ["--keep-ids"]):
        code, out, err = run(capsys, "export", tmp_path / "ids.keras", tmp_path / "base", *flags, "--json")
        assert code == 0, err
        dtypes[tuple(flags)] = json.loads(out)["signatures"]["serving_default"]["inputs"]["ids"]["dtype"]
    assert dtypes == {(): "string", ("--keep-ids",): "int64"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.keras", "base"], "missing.keras: no such file."),
        (["{dir}", "base"], "is a directory; `vocabsafe export` reads a .keras file"),
        (["{model}", "base", "--target", "serving"], "--target 'serving' is not a target: pass core"),
        (["{model}", "base", "--target", "tensorflow-text==2.1"], "older than the oldest release the op table"),
        (["{model}", "base", "--warmup", "missing.json"], "--warmup missing.json: no such file."),
        (["{model}", "base", "--warmup", "{bad_json}"], "is not JSON"),
        (["{model}", "base", "--warmup", "{not_requests}"], "must hold an object from input name"),
        (
            ["{model}", "base", "--warmup", "{wrong_input}"],
            "has inputs ['words'], but the signature takes exactly ['tokens']",
        ),
        (["{model}", "base", "--version", "-3"], "expected 0 or more"),
        (["{no_weights}", "base"], "no_weights.keras is damaged: it holds no weights (no model.weights.h5 member)."),
        (["{model}", "{file}/base"], "Cannot create the base path a_file/base: a_file is a file, not a directory."),
        (["{model}", "base", "--warmup", "{ragged}"], "input 'tokens': its rows have different lengths, and a request"),
        (["{model}", "base", "--strict", "--target", "core"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(
    model_file, tmp_path, capsys, monkeypatch, arguments, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "wrong.json").write_text('{"words": [["the"]]}')  # The input is named "tokens".
    (tmp_path / "ragged.json").write_text('{"tokens": [["the", "cat", "sat"], ["on"]]}')
    (tmp_path / "a_file").write_text("not a directory")
    (tmp_path / "a_dir").mkdir()
    with zipfile.ZipFile(model_file) as source, zipfile.ZipFile(tmp_path / "no_weights.keras", "w") as damaged:
        for member in source.namelist():
            if member != "model.weights.h5":
                damaged.writestr(member, source.read(member))
    names = {
        "model": model_file,
        "dir": "a_dir",
        "bad_json": "bad.json",
        "not_requests": "list.json",
        "wrong_input": "wrong.json",
        "ragged": "ragged.json",
        "no_weights": "no_weights.keras",
        "file": "a_file",
    }
    code, out, err = run(capsys, "export", *(argument.format(**names) for argument in arguments))
    assert code == 2, err
    assert message in err and out == ""
    assert not (tmp_path / "base").exists()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{model}", "is a file; `vocabsafe audit` reads a SavedModel directory"),
        ("missing", "missing: no such directory."),
        ("{base}", "It holds versions [1]: pass one of them"),
    ],
)
def test_audit_of_what_is_not_a_savedmodel_is_refused(model_file, tmp_path, capsys, target, message):
    assert run(capsys, "export", model_file, tmp_path / "base")[0] == 0
    code, _, err = run(capsys, "audit", target.format(model=model_file, base=tmp_path / "base"))
    assert code == 2
    assert message in err
