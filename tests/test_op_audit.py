"""Target-aware op audit: the shipped op table, `audit_ops(path, target=...)`, and serving exports refused when an
op would not load in the chosen tensorflow-text or TensorFlow Serving release."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import keras
import pytest
import tensorflow as tf
import tensorflow_text

from keras_vocabsafe import VocabEmbedding
from keras_vocabsafe._op_tables import OpTarget, parse_target
from keras_vocabsafe.errors import ConfigurationError, ExportError, UnsupportedOpsError
from keras_vocabsafe.export import audit_ops, export_for_serving

pytestmark = [pytest.mark.saving, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
# The shipped data, read here without the package's loader.
TABLE = json.loads(resources.files("keras_vocabsafe").joinpath("_tftext_ops.json").read_text("utf-8"))
WHITESPACE_OP = "TFText>WhitespaceTokenizeWithOffsetsV2"
BINARIZE_OP = "TFText>Utf8Binarize"


def release_key(release):
    return tuple(int(part) for part in release.split(".")[:2])


def previous_release(release):
    major, minor = release_key(release)
    return f"{major}.{minor - 1}"


class CaseFold(keras.layers.Layer):
    def call(self, text):
        return tensorflow_text.case_fold_utf8(text)


class Tokenize(keras.layers.Layer):
    """Splits each string on whitespace, padded with "" (tensorflow-text's WhitespaceTokenizer)."""

    def call(self, text):
        return tensorflow_text.WhitespaceTokenizer().tokenize(text).to_tensor("")


class Binarize(keras.layers.Layer):
    """UTF-8 bits of each token (tensorflow-text's utf8_binarize), flattened per row."""

    def call(self, tokens):
        bits = tensorflow_text.utf8_binarize(tf.reshape(tokens, [-1]), word_length=2, bits_per_char=4)
        return tf.reshape(bits, [tf.shape(tokens)[0], -1])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * 2 * 4)

    def serving_op_setting(self, op):
        return "word_length=2" if op == BINARIZE_OP else None


def core_model():
    text = keras.Input(shape=(None,), dtype="string", name="text")
    words = VocabEmbedding(4, vocabulary=["the", "cat"], mask_token="", name="words")
    return keras.Model(text, keras.layers.GlobalAveragePooling1D()(words(text)))


def text_ops_model():
    """Case folding inside a nested block, and whitespace tokenizing: two tensorflow-text ops."""
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    line = keras.Input(shape=(), dtype="string", name="line")
    block = keras.Sequential([keras.Input(shape=(None,), dtype="string"), CaseFold(name="fold")], name="block")
    words = VocabEmbedding(4, vocabulary=["the", "cat"], mask_token="", name="words")
    folded = keras.layers.GlobalAveragePooling1D(name="folded")(words(block(tokens)))
    split = keras.layers.GlobalAveragePooling1D(name="split_words")(words(Tokenize(name="split")(line)))
    return keras.Model([tokens, line], [folded, split])


def binarize_model():
    tokens = keras.Input(shape=(3,), dtype="string", name="tokens")
    return keras.Model(tokens, keras.layers.Dense(1, name="score")(Binarize(name="bits")(tokens)))


@pytest.fixture(scope="module")
def core_export(tmp_path_factory):
    return export_for_serving(core_model(), tmp_path_factory.mktemp("core") / "model")


@pytest.fixture(scope="module")
def text_export(tmp_path_factory):
    return export_for_serving(text_ops_model(), tmp_path_factory.mktemp("text") / "model")


@pytest.fixture(scope="module")
def live_tensorflow_text_ops():
    """The ops `import tensorflow_text` adds to TensorFlow's registry, read in a fresh process."""
    script = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import json
import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api

def registered():
    ops = op_def_pb2.OpList()
    ops.ParseFromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList()))
    return {op.name for op in ops.op}

before = registered()
import tensorflow_text
print(json.dumps(sorted(registered() - before)))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


# The shipped table --------------------------------------------------------------------------------


def test_table_lists_every_op_the_installed_tensorflow_text_registers(live_tensorflow_text_ops):
    installed = ".".join(tensorflow_text.__version__.split(".")[:2])
    assert installed in TABLE["scanned_releases"]
    assert live_tensorflow_text_ops <= set(TABLE["ops"])
    for op in live_tensorflow_text_ops:
        assert release_key(TABLE["ops"][op]["since"]) <= release_key(installed), op
        assert installed not in TABLE["ops"][op].get("absent_in", []), op


def test_table_covers_every_minor_release_from_2_4(live_tensorflow_text_ops):
    installed = release_key(tensorflow_text.__version__)
    expected = {f"2.{minor}" for minor in range(4, installed[1] + 1)}
    assert expected <= set(TABLE["scanned_releases"])
    assert TABLE["first_scanned"] == "2.4"


def test_table_generator_finds_exactly_the_ops_of_the_installed_release(live_tensorflow_text_ops):
    spec = importlib.util.spec_from_file_location("make_op_table", ROOT / "tools" / "make_op_table.py")
    make_op_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_op_table)
    root = Path(tensorflow_text.__file__).parent
    libraries = {
        str(path): path.read_bytes() for path in root.rglob("_*.so") if make_op_table._is_op_library(str(path))
    }
    sources = "\n".join(path.read_text("utf-8", "replace") for path in root.rglob("*.py"))
    found, unexplained = make_op_table.scan(libraries, sources)
    assert unexplained == []
    assert found == live_tensorflow_text_ops


# audit_ops ----------------------------------------------------------------------------------------


def test_audit_of_a_core_graph_loads_in_every_target(core_export):
    for target in ("core", f"tensorflow-text=={TABLE['first_scanned']}", "tensorflow-serving==2.16"):
        audit = audit_ops(core_export, target=target)
        assert audit.non_core == {} and audit.since == {}
        assert audit.loads and all(audit.loads.values())
        assert audit.refused == {}
        assert "every op loads" in str(audit)


def test_audit_gives_each_tensorflow_text_op_its_first_release(text_export):
    audit = audit_ops(text_export)
    assert audit.non_core == {"CaseFoldUTF8": "tensorflow_text", WHITESPACE_OP: "tensorflow_text"}
    assert audit.since == {op: TABLE["ops"][op]["since"] for op in audit.non_core}
    assert audit.target is None and audit.loads == {}
    assert any(name.split("/")[-1] == "CaseFoldUTF8" for name in audit.nodes["CaseFoldUTF8"])


def test_audit_with_a_target_says_per_op_whether_it_loads(text_export):
    since = TABLE["ops"][WHITESPACE_OP]["since"]
    old = audit_ops(text_export, target=f"tensorflow-text=={previous_release(since)}")
    assert old.loads[WHITESPACE_OP] is False
    assert old.refused == {WHITESPACE_OP: "tensorflow_text"}
    assert old.loads["CaseFoldUTF8"] is True  # in every release of the table
    assert all(old.loads[op] for op, origin in old.ops.items() if origin == "core")
    assert (
        f"{WHITESPACE_OP}: tensorflow-text op, added in tensorflow-text {since}; does not load in tensorflow-text=="
        in str(old)
    )

    new = audit_ops(text_export, target={"tensorflow_text": since})
    assert new.refused == {} and all(new.loads.values())
    summary = json.loads(json.dumps(old.to_dict()))
    assert summary["since"][WHITESPACE_OP] == since
    assert summary["loads"][WHITESPACE_OP] is False
    assert summary["target"] == f"tensorflow-text=={previous_release(since)}"


def test_unknown_op_is_reported_as_unknown_and_does_not_load(core_export, tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((Path(core_export) / "saved_model.pb").read_bytes())
    renamed = 0
    for function in saved_model.meta_graphs[0].graph_def.library.function:
        for node in function.node_def:
            if node.op == "LookupTableFindV2":
                node.op = "MadeUpStringHash"
                renamed += 1
    assert renamed
    (tmp_path / "saved_model.pb").write_bytes(saved_model.SerializeToString())

    audit = audit_ops(tmp_path, target="tensorflow-text==2.21")
    assert audit.ops["MadeUpStringHash"] == "unknown"
    assert audit.since == {"MadeUpStringHash": None}
    assert audit.refused == {"MadeUpStringHash": "unknown"}
    assert "MadeUpStringHash: unknown op: neither core TensorFlow nor tensorflow-text 2.4-" in str(audit)


@pytest.mark.parametrize(
    "damage",
    [lambda data: data[: len(data) // 2], lambda data: b"\xff\x00not a protocol buffer" * 8, lambda data: b""],
    ids=["truncated", "garbage", "empty"],
)
def test_damaged_saved_model_is_a_model_file_error_as_inspect_model_says(core_export, tmp_path, damage):
    # A damaged file is not a bad argument: audit_ops raised ConfigurationError where inspect_model says
    # ModelFileError.
    from keras_vocabsafe import inspect_model
    from keras_vocabsafe.errors import ModelFileError

    shutil.copytree(core_export, tmp_path / "1")
    saved_model = tmp_path / "1" / "saved_model.pb"
    saved_model.write_bytes(damage(saved_model.read_bytes()))
    with pytest.raises(ModelFileError, match=rf"{re.escape(str(saved_model))} .*Export the model again") as raised:
        audit_ops(tmp_path / "1")
    assert not isinstance(raised.value, ConfigurationError)
    with pytest.raises(ModelFileError):
        inspect_model(tmp_path / "1")


# Strict exports with a target ---------------------------------------------------------------------


def test_old_tensorflow_text_target_refuses_a_newer_op_naming_op_release_target_and_layer(tmp_path):
    since = TABLE["ops"][WHITESPACE_OP]["since"]
    old = previous_release(since)
    with pytest.raises(UnsupportedOpsError) as caught:
        export_for_serving(text_ops_model(), tmp_path, target=f"tensorflow-text=={old}")
    message = str(caught.value)
    assert f"cannot be served by tensorflow-text=={old}: its graph uses an op that does not load there." in message
    assert f"{WHITESPACE_OP} (tensorflow-text op, added in tensorflow-text {since})" in message
    assert "layer 'split' (Tokenize)" in message
    assert "CaseFoldUTF8" not in message  # it loads there
    assert f"target='tensorflow-text=={since}'" in message
    assert os.listdir(tmp_path) == []


def test_refusal_describes_each_op_as_the_audit_of_the_refused_export_does(tmp_path):
    # The refusal wrote its own account of an op's origin, and its wording had drifted from OpAudit.describe's.
    old = f"tensorflow-text=={previous_release(TABLE['ops'][WHITESPACE_OP]['since'])}"
    with pytest.raises(UnsupportedOpsError) as caught:
        export_for_serving(text_ops_model(), tmp_path / "refused", target=old)
    audit = audit_ops(export_for_serving(text_ops_model(), tmp_path / "published"), target=old)
    assert list(audit.refused) == [WHITESPACE_OP]
    origin = audit.describe(WHITESPACE_OP).split("; ")[0]
    assert f"  - {WHITESPACE_OP} ({origin}); used by " in str(caught.value)


def test_target_at_the_op_release_publishes(tmp_path):
    since = TABLE["ops"][WHITESPACE_OP]["since"]
    assert export_for_serving(text_ops_model(), tmp_path, target=f"tensorflow-text=={since}") == str(tmp_path / "1")
    assert tf.saved_model.load(str(tmp_path / "1")).signatures["serving_default"] is not None


def test_layer_in_a_nested_model_is_named_by_its_path(tmp_path):
    with pytest.raises(UnsupportedOpsError, match=r"CaseFoldUTF8 .*used by layer 'block/fold' \(CaseFold\)"):
        export_for_serving(text_ops_model(), tmp_path, target="core")
    assert os.listdir(tmp_path) == []


@tf.function
def fold_one_row(text):
    return tensorflow_text.case_fold_utf8(text)


class FoldRows(keras.layers.Layer):
    """Case folds row by row: the op sits in a while loop's body, a function of its own in the graph."""

    def call(self, text):
        return tf.map_fn(fold_one_row, text)


def test_layer_is_found_for_an_op_inside_a_function_the_layer_calls(tmp_path):
    text = keras.Input(shape=(None,), dtype="string", name="text")
    words = VocabEmbedding(4, vocabulary=["the", "cat"], name="words")
    model = keras.Model(text, keras.layers.GlobalAveragePooling1D()(words(FoldRows(name="rows")(text))))
    with pytest.raises(UnsupportedOpsError, match=r"CaseFoldUTF8 .*used by layer 'rows' \(FoldRows\)"):
        export_for_serving(model, tmp_path, target="core")
    assert os.listdir(tmp_path) == []


def test_serving_target_refuses_ops_newer_than_the_tensorflow_text_it_links(tmp_path):
    since = TABLE["ops"][BINARIZE_OP]["since"]
    servers = TABLE["tensorflow_serving"]
    old_server = max(
        (s for s, entry in servers.items() if release_key(entry["tensorflow_text"]) < release_key(since)),
        key=release_key,
    )
    new_server = min(
        (s for s, entry in servers.items() if release_key(entry["tensorflow_text"]) >= release_key(since)),
        key=release_key,
    )
    with pytest.raises(UnsupportedOpsError) as caught:
        export_for_serving(binarize_model(), tmp_path, target=f"tensorflow-serving=={old_server}")
    message = str(caught.value)
    linked = servers[old_server]["tensorflow_text"]
    assert f"tensorflow-serving=={old_server} (links tensorflow-text {linked})" in message
    assert f"{BINARIZE_OP} (tensorflow-text op, added in tensorflow-text {since})" in message
    assert "layer 'bits' (Binarize), setting word_length=2" in message
    assert servers[old_server]["source"] in message
    assert f"target='tensorflow-serving=={new_server}'" in message
    assert os.listdir(tmp_path) == []

    path = export_for_serving(binarize_model(), tmp_path, target=f"tensorflow-serving=={new_server}")
    assert audit_ops(path, target={"tensorflow_serving": new_server}).loads[BINARIZE_OP] is True


def test_strict_true_means_core_tensorflow_only(tmp_path):
    with pytest.raises(UnsupportedOpsError) as caught:
        export_for_serving(text_ops_model(), tmp_path, strict=True)
    # An export error (nothing was published), and still a ValueError for callers that catch those.
    assert isinstance(caught.value, ExportError) and isinstance(caught.value, ValueError)
    assert "cannot be served by core TensorFlow only" in str(caught.value)
    assert "CaseFoldUTF8" in str(caught.value) and WHITESPACE_OP in str(caught.value)
    assert os.listdir(tmp_path) == []


# The target argument -----------------------------------------------------------------------------


def test_target_forms_name_the_same_target():
    assert parse_target("tensorflow-text==2.12") == parse_target({"tensorflow_text": "2.12.1"})
    assert parse_target("tensorflow_text == 2.12") == OpTarget("tensorflow-text", "2.12", "2.12")
    serving = parse_target({"tensorflow_serving": "2.16"})
    assert serving == parse_target("tensorflow-serving==2.16.1")
    assert serving.tensorflow_text == TABLE["tensorflow_serving"]["2.16"]["tensorflow_text"]
    assert parse_target("core") == OpTarget("core")


@pytest.mark.parametrize(
    ("target", "pattern"),
    [
        ("tensorflow-text>=2.12", r"'=='"),
        ("2.12", r"'=='"),
        ({"tensorflow_text": 2.12}, r"2\.x release"),
        ("tensorflow-text==3.1", r"2\.x release"),
        ("tensorflow-text==2.3", r"older than the oldest release the op table covers \(2\.4"),
        ("tensorflow-serving==2.3", r"tensorflow-text==X\.Y"),
        ("torchserve==0.9", r"neither tensorflow-text nor tensorflow-serving"),
        (["tensorflow-text==2.12"], r"must be one of"),
    ],
)
def test_bad_target_is_refused_before_anything_is_written(target, pattern, tmp_path):
    with pytest.raises(ConfigurationError, match=pattern):
        export_for_serving(core_model(), tmp_path / "model", target=target)
    assert not (tmp_path / "model").exists()
