"""Serving exports: versioned directories, named signatures, vocabulary signatures, warm-up requests, the request
formats a model server accepts, concurrent calls, and the op audit."""

import base64
import json
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import AWKWARD_TOKENS
from keras_vocabsafe.embedding import VocabIdEmbedding
from keras_vocabsafe.errors import ConfigurationError, UnsupportedOpsError, VersionExistsError, VocabularyMismatchError
from keras_vocabsafe.export import OpAudit, audit_ops, export_for_serving
from keras_vocabsafe.lookup import VocabLookup
from keras_vocabsafe.vocab_embedding import VocabEmbedding

pytestmark = [pytest.mark.saving, pytest.mark.slow]

BLOCKED_MODULES = ("keras", "keras_vocabsafe", "tensorflow_text")

_TF_ONLY_PRELUDE = f"""
import os, sys
# Only TensorFlow (and the model server's request protos) may be imported: block {", ".join(BLOCKED_MODULES)}.
for name in {BLOCKED_MODULES!r}:
    sys.modules[name] = None
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
"""


def run_with_tensorflow_only(script, *args):
    """Runs `script` in a new Python process where Keras, keras-vocabsafe and tensorflow-text cannot be imported.

    `tf` is already imported and `sys.argv[1:]` holds `args`; returns what the script printed.
    """
    result = subprocess.run(
        [sys.executable, "-c", _TF_ONLY_PRELUDE + textwrap.dedent(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def as_bytes(token):
    return token.encode("utf-8") if isinstance(token, str) else token


VOCABULARY = [*AWKWARD_TOKENS, "the", "cat", "sat"]
# Known tokens with awkward bytes, unknown ones, and the mask token "".
TOKENS = [
    [b"the", b"line\nbreak", b"nul\x00inside", b""],
    [b"\xff\xfe not utf-8", b"zebra", b"\xc3", b"cat"],
    [b"unknown\x00", b"trailing-nul\x00", b"", b""],
]
EXTRA = [[0.5, -1.0], [2.0, 0.25], [0.0, 3.0]]


def make_text_model():
    """Two named inputs (string tokens, float features) and two named outputs."""
    words = VocabEmbedding(8, vocabulary=VOCABULARY, mask_token="", num_oov_indices=3, name="words")
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    extra = keras.Input(shape=(2,), dtype="float32", name="extra")
    pooled = keras.layers.GlobalAveragePooling1D()(words(tokens))
    score = keras.layers.Dense(1, name="score")(keras.layers.Concatenate()([pooled, extra]))
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(pooled)
    return keras.Model([tokens, extra], [score, probs])


def make_single_input_model():
    words = VocabEmbedding(4, vocabulary=VOCABULARY, mask_token="", name="words")
    text = keras.Input(shape=(None,), dtype="string", name="text")
    score = keras.layers.Dense(1, name="score")(keras.layers.GlobalAveragePooling1D()(words(text)))
    return keras.Model(text, score)


@pytest.fixture(scope="module")
def text_model():
    return make_text_model()


@pytest.fixture(scope="module")
def single_input_model():
    return make_single_input_model()


@pytest.fixture(scope="module")
def exported(text_model, tmp_path_factory):
    return export_for_serving(text_model, tmp_path_factory.mktemp("serving") / "text")


@pytest.fixture(scope="module")
def exported_single(single_input_model, tmp_path_factory):
    return export_for_serving(single_input_model, tmp_path_factory.mktemp("serving") / "single")


def signature_of(path, name="serving_default"):
    return tf.saved_model.load(path).signatures[name]


# Signature names ------------------------------------------------------------------------------------


def test_signature_names_follow_model_inputs_and_output_layers(exported):
    serve = signature_of(exported)
    inputs = serve.structured_input_signature[1]
    assert sorted(inputs) == ["extra", "tokens"]
    assert inputs["tokens"].dtype == tf.string and inputs["tokens"].shape.as_list() == [None, None]
    assert inputs["extra"].dtype == tf.float32 and inputs["extra"].shape.as_list() == [None, 2]
    assert sorted(serve.structured_outputs) == ["probs", "score"]


def test_given_names_override_model_names(text_model, tmp_path):
    path = export_for_serving(
        text_model, tmp_path, input_names={"tokens": "words_in"}, output_names=["rating", "classes"]
    )
    serve = signature_of(path)
    assert sorted(serve.structured_input_signature[1]) == ["extra", "words_in"]
    outputs = serve(words_in=tf.constant(TOKENS), extra=tf.constant(EXTRA))
    score, probs = text_model.predict([tf.constant(TOKENS), tf.constant(EXTRA)], verbose=0)
    np.testing.assert_allclose(outputs["rating"], score, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outputs["classes"], probs, rtol=1e-6, atol=1e-6)


def test_dict_inputs_and_outputs_keep_their_keys(tmp_path):
    words = VocabEmbedding(4, vocabulary=["a", "b"], name="words")
    query = keras.Input(shape=(None,), dtype="string", name="query")
    boost = keras.Input(shape=(1,), name="boost")
    pooled = keras.layers.GlobalAveragePooling1D()(words(query))
    relevance = keras.layers.Dense(1, name="dense_a")(keras.layers.Concatenate()([pooled, boost]))
    topic = keras.layers.Dense(2, name="dense_b")(pooled)
    model = keras.Model({"query": query, "boost": boost}, {"relevance": relevance, "topic": topic})

    serve = signature_of(export_for_serving(model, tmp_path))
    assert sorted(serve.structured_input_signature[1]) == ["boost", "query"]
    outputs = serve(query=tf.constant([["a", "x"]]), boost=tf.constant([[2.0]]))
    expected = model.predict({"query": tf.constant([["a", "x"]]), "boost": tf.constant([[2.0]])}, verbose=0)
    assert sorted(outputs) == ["relevance", "topic"]
    for key in ("relevance", "topic"):
        np.testing.assert_allclose(outputs[key], expected[key], rtol=1e-6, atol=1e-6)


def test_sequential_model_is_named_after_its_input_and_last_layer(tmp_path):
    model = keras.Sequential([keras.Input((3,), name="features"), keras.layers.Dense(2, name="logits")])
    serve = signature_of(export_for_serving(model, tmp_path))
    assert list(serve.structured_input_signature[1]) == ["features"]
    assert list(serve.structured_outputs) == ["logits"]


def test_unnamed_input_is_named_after_its_input_layer(tmp_path):
    unnamed = keras.Input(shape=(2,))
    model = keras.Model(unnamed, keras.layers.Dense(1, name="out")(unnamed))
    serve = signature_of(export_for_serving(model, tmp_path))
    # Not the symbolic tensor's name ("keras_tensor_N"), which depends on how many tensors the session made.
    assert model.inputs[0].name != model.layers[0].name
    assert list(serve.structured_input_signature[1]) == [model.layers[0].name]


def test_input_name_that_tensorflow_would_rewrite_is_refused(tmp_path):
    inputs = keras.Input(shape=(2,), name="user.features")
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ConfigurationError, match=r"'user\.features'.*input_names"):
        export_for_serving(model, tmp_path)
    assert os.listdir(tmp_path) == []


def _model_with_a_layer_named(name, where):
    """A small text model with one layer named `name`: its VocabEmbedding, a Dense layer, or a nested model."""
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    words = VocabEmbedding(4, vocabulary=["a", "b"], mask_token="", name=name if where == "embedding" else "words")
    pooled = keras.layers.GlobalAveragePooling1D()(words(tokens))
    if where == "dense":
        pooled = keras.layers.Dense(2, name=name)(pooled)
    elif where == "flatten":
        pooled = keras.layers.Flatten(name=name)(pooled)
    elif where == "nested model":
        inner = keras.Input((4,))
        pooled = keras.Model(inner, keras.layers.Dense(2, name="hidden")(inner), name=name)(pooled)
    return keras.Model(tokens, keras.layers.Dense(1, name="score")(pooled))


UNSCOPABLE_NAMES = [
    ("my words", "embedding"),
    ("wörter", "embedding"),
    ("score ü", "dense"),
    ("_hidden", "dense"),  # Holds weights: its variables' names start a scope at the graph's root.
    ("inner model", "nested model"),
]
SCOPABLE_NAMES = [("my-words.v2", "embedding"), ("_flat", "flatten"), (".hidden", "dense"), ("9inner", "nested model")]


@pytest.mark.parametrize("name, where", UNSCOPABLE_NAMES)
def test_layer_name_tensorflow_cannot_scope_is_refused_before_anything_is_written(tmp_path, name, where):
    model = _model_with_a_layer_named(name, where)
    pattern = rf"'{re.escape(model.name)}/{re.escape(name)}' \(\w+; e.g. name it '[\w.-]+'\).*Nothing was written"
    with pytest.raises(ConfigurationError, match=pattern):
        export_for_serving(model, tmp_path / "base", verbose=0)
    assert not (tmp_path / "base").exists()


@pytest.mark.parametrize("name, where", SCOPABLE_NAMES)
def test_layer_names_tensorflow_can_scope_still_export(tmp_path, name, where):
    model = _model_with_a_layer_named(name, where)
    served = tf.saved_model.load(export_for_serving(model, tmp_path, verbose=0))
    tokens = tf.constant([["a", "zz", "b"]])
    np.testing.assert_allclose(
        served.signatures["serving_default"](tokens=tokens)["score"], model.predict(tokens, verbose=0), rtol=1e-6
    )
    if where == "embedding":
        assert f"vocabulary_{name}" in served.signatures


def test_refused_layer_names_are_the_ones_keras_own_export_fails_on(tmp_path):
    # In a fresh process: a failed trace leaves Keras's name-scope stack behind, which would rename later variables.
    script = f"""
        import json, os, sys
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_serving_export import _model_with_a_layer_named
        failed = []
        for index, (name, where) in enumerate({UNSCOPABLE_NAMES + SCOPABLE_NAMES!r}):
            try:
                _model_with_a_layer_named(name, where).export(os.path.join(sys.argv[1], str(index)), verbose=False)
            except ValueError as error:
                assert "scope name" in str(error), error
                failed.append(name)
        print(json.dumps(failed))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [name for name, _ in UNSCOPABLE_NAMES]


def test_subclassed_model_without_symbolic_inputs_is_refused(tmp_path):
    class Doubler(keras.Model):
        def call(self, inputs):
            return inputs * 2

    model = Doubler()
    model(tf.zeros([1, 2]))
    with pytest.raises(ConfigurationError, match=r"keras\.Input"):
        export_for_serving(model, tmp_path)


# Versions -------------------------------------------------------------------------------------------


def test_versions_count_up_from_one(single_input_model, tmp_path):
    first = export_for_serving(single_input_model, tmp_path)
    second = export_for_serving(single_input_model, tmp_path)
    assert (first, second) == (str(tmp_path / "1"), str(tmp_path / "2"))
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]


def test_next_version_follows_the_largest_numeric_directory(single_input_model, tmp_path):
    for name in ("3", "10", "notes", "007"):
        (tmp_path / name).mkdir()
    assert export_for_serving(single_input_model, tmp_path) == str(tmp_path / "11")
    # Past the largest version a server reads (int64), no next version is made up.
    (tmp_path / str(2**63 - 1)).mkdir()
    with pytest.raises(ConfigurationError, match=r"would be 9223372036854775808, past the largest"):
        export_for_serving(single_input_model, tmp_path)


def test_existing_version_is_refused_and_left_untouched(single_input_model, text_model, tmp_path):
    old = export_for_serving(single_input_model, tmp_path, version=1)
    before = {path: path.read_bytes() for path in sorted(tmp_path.rglob("*")) if path.is_file()}

    with pytest.raises(VersionExistsError, match=str(tmp_path / "1")) as raised:
        export_for_serving(text_model, tmp_path, version=1)
    assert isinstance(raised.value, FileExistsError)
    after = {path: path.read_bytes() for path in sorted(tmp_path.rglob("*")) if path.is_file()}
    assert after == before
    assert list(signature_of(old).structured_input_signature[1]) == ["text"]


def test_a_base_path_that_is_a_link_to_nothing_is_refused_and_nothing_is_created(single_input_model, tmp_path):
    # A raw "[Errno 17] File exists" ExportError before; the link's target is not made up, nor anything else.
    os.symlink(tmp_path / "gone" / "models", tmp_path / "base")
    os.symlink(tmp_path / "gone", tmp_path / "parent")
    for base, message in [
        (tmp_path / "base", f"`base_path` {tmp_path / 'base'} is a symbolic link to {tmp_path / 'gone' / 'models'}, "),
        (
            tmp_path / "parent" / "models",
            f"lies under {tmp_path / 'parent'}: it is a symbolic link to {tmp_path / 'gone'}, ",
        ),
    ]:
        with pytest.raises(ConfigurationError, match=re.escape(message) + "which does not exist.* create .*gone"):
            export_for_serving(single_input_model, base)
    assert sorted(os.listdir(tmp_path)) == ["base", "parent"]
    assert all(os.path.islink(tmp_path / name) for name in ("base", "parent"))
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(ConfigurationError, match=r"loop is a symbolic link in a loop .*Fix the link"):
        export_for_serving(single_input_model, tmp_path / "loop")


def test_a_base_path_that_links_to_a_directory_is_written_through(single_input_model, tmp_path):
    # As the CLI writes OUT through a link: the version goes where the link leads, and the link stays.
    (tmp_path / "models").mkdir()
    os.symlink(tmp_path / "models", tmp_path / "current")
    assert export_for_serving(single_input_model, tmp_path / "current") == str(tmp_path / "current" / "1")
    assert os.path.islink(tmp_path / "current") and os.listdir(tmp_path / "models") == ["1"]


def test_a_version_that_is_a_link_to_nothing_is_named_as_one_and_skipped(single_input_model, tmp_path):
    os.symlink(tmp_path / "gone", tmp_path / "3")
    expected = f"Version 3 is taken at {tmp_path / '3'}, a symbolic link to {tmp_path / 'gone'}, which does not exist"
    with pytest.raises(VersionExistsError, match=re.escape(expected) + r".*remove the link.*version=None.*\(4\)"):
        export_for_serving(single_input_model, tmp_path, version=3)
    assert os.listdir(tmp_path) == ["3"] and not os.path.exists(tmp_path / "gone")
    # A model server lists it as version 3: the next version is 4, and the link is left as it is.
    assert export_for_serving(single_input_model, tmp_path) == str(tmp_path / "4")
    assert sorted(os.listdir(tmp_path)) == ["3", "4"] and os.path.islink(tmp_path / "3")


def test_no_temporary_directory_is_left_after_success(single_input_model, tmp_path):
    export_for_serving(single_input_model, tmp_path, warmup_inputs={"text": [["the"]]})
    assert os.listdir(tmp_path) == ["1"]


def test_version_directory_permissions_follow_the_umask(single_input_model, tmp_path):
    # A model server often runs as another user: the version must be as readable as any new directory.
    (tmp_path / "reference").mkdir()
    path = export_for_serving(single_input_model, tmp_path / "models")
    assert os.stat(path).st_mode == os.stat(tmp_path / "reference").st_mode


def test_failed_export_leaves_no_version_and_no_temporary_directory(tmp_path):
    # The warm-up request asks for row 99 of a 5-row embedding: it fails after the SavedModel is written.
    ids = keras.Input(shape=(3,), dtype="int64", name="ids")
    model = keras.Model(ids, keras.layers.Flatten()(keras.layers.Embedding(5, 2)(ids)))
    with pytest.raises(ConfigurationError, match=r"request 0 fails .*99 is not in \[0, 5\)"):
        export_for_serving(model, tmp_path, warmup_inputs={"ids": np.array([[1, 2, 99]])})
    assert os.listdir(tmp_path) == []


# Vocabulary signatures ----------------------------------------------------------------------------


def test_vocabulary_signature_returns_the_layer_vocabulary_byte_exact(text_model, exported):
    layer = text_model.get_layer("words")
    result = signature_of(exported, "vocabulary_words")()
    assert result["tokens"].dtype == tf.string
    assert result["tokens"].numpy().tolist() == [as_bytes(token) for token in layer.get_vocabulary()]
    assert int(result["vocabulary_size"]) == layer.vocabulary_size() == len(VOCABULARY) + 4


def test_integer_vocabulary_signature_returns_int64_ids(tmp_path):
    layer = VocabEmbedding(3, vocabulary=[42, 7, 1000], vocabulary_dtype="int64", mask_token=0, name="items")
    item = keras.Input(shape=(None,), dtype="int64", name="item")
    model = keras.Model(item, layer(item))
    path = export_for_serving(model, tmp_path)

    result = signature_of(path, "vocabulary_items")()
    assert result["tokens"].dtype == tf.int64
    assert result["tokens"].numpy().tolist() == [0, -1, 42, 7, 1000] == layer.get_vocabulary()
    ids = signature_of(path, "token_to_id_items")(tokens=tf.constant([[7, 5], [0, 1000]], tf.int64))["ids"]
    np.testing.assert_array_equal(ids, [[3, 1], [0, 4]])


def test_token_to_id_signature_matches_the_layer_on_known_and_unknown_tokens(text_model, exported):
    layer = text_model.get_layer("words")
    token_to_id = signature_of(exported, "token_to_id_words")
    keys = [as_bytes(token) for token in VOCABULARY] + [b"", b"zebra", b"unknown\x00", b"\xfe", b"[UNK]"]
    ids = token_to_id(tokens=tf.constant(keys))["ids"].numpy()
    np.testing.assert_array_equal(ids, layer.token_to_id(keys))
    # Unknown tokens are spread over the 3 OOV rows by the layer's hash, and the signature agrees on each.
    assert set(ids[-4:]) <= {1, 2, 3} and len(set(ids[-4:])) > 1
    grid = np.array(TOKENS, dtype=object)
    np.testing.assert_array_equal(token_to_id(tokens=tf.constant(grid))["ids"], layer.token_to_id(grid))
    assert int(token_to_id(tokens=tf.constant(b"cat"))["ids"]) == layer.token_to_id("cat")


def test_vocabulary_signatures_can_be_left_out(single_input_model, tmp_path):
    path = export_for_serving(single_input_model, tmp_path, vocabulary_signatures=False)
    # `serve` is the same function under the name Keras's own `model.export` gives it (TFSMLayer's default).
    assert sorted(tf.saved_model.load(path).signatures) == ["serve", "serving_default"]


# Warm-up requests ---------------------------------------------------------------------------------


def read_warmup_requests(version_path):
    from tensorflow_serving.apis import prediction_log_pb2

    records = tf.data.TFRecordDataset(os.path.join(version_path, "assets.extra", "tf_serving_warmup_requests"))
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request for record in records]


def test_warmup_file_parses_back_into_the_sample_requests(text_model, tmp_path):
    samples = [
        {"tokens": np.array(TOKENS, dtype=object), "extra": np.array(EXTRA, dtype=np.float32)},
        {"tokens": np.array([[b"sat", b"\xff\xfe not utf-8"]], dtype=object), "extra": np.array([[1.0, 2.0]])},
    ]
    path = export_for_serving(text_model, tmp_path, warmup_inputs=samples)

    requests = read_warmup_requests(path)
    assert len(requests) == 2
    for request, sample in zip(requests, samples):
        assert request.model_spec.signature_name == "serving_default"
        assert sorted(request.inputs) == ["extra", "tokens"]
        assert tf.make_ndarray(request.inputs["tokens"]).tolist() == sample["tokens"].tolist()
        extra = tf.make_ndarray(request.inputs["extra"])
        assert extra.dtype == np.float32
        np.testing.assert_array_equal(extra, sample["extra"])


def test_warmup_inputs_must_name_every_signature_input(text_model, tmp_path):
    with pytest.raises(ConfigurationError, match=r"\['tokens'\].*\['extra', 'tokens'\]"):
        export_for_serving(text_model, tmp_path, warmup_inputs={"tokens": [["the"]]})
    assert os.listdir(tmp_path) == []


def test_warmup_without_serving_api_names_the_install_command(single_input_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    with pytest.raises(ImportError, match=r'pip install "keras-vocabsafe\[serving\]"'):
        export_for_serving(single_input_model, tmp_path, warmup_inputs={"text": [["the"]]})
    assert os.listdir(tmp_path) == []


# Request formats, decoded as a model server decodes them, in a process with TensorFlow only --------------

_SERVE_REQUESTS = r"""
import base64, json
BLOCKED = ("keras", "keras_vocabsafe", "tensorflow_text")
import numpy as np
from tensorflow_serving.apis import predict_pb2

requests_path, outputs_path = sys.argv[1:3]
cases = json.loads(open(requests_path).read())


def decode(value):
    # TF Serving's JSON rules: {"b64": ...} holds binary data; other strings are UTF-8 text.
    if isinstance(value, dict):
        assert set(value) == {"b64"}, value
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value.encode("utf-8") if isinstance(value, str) else value


def is_named(value):
    return isinstance(value, dict) and set(value) != {"b64"}


def from_rest(body, specs):
    if "instances" in body:  # Row format: one entry per example, stacked along a new batch dimension.
        instances = body["instances"]
        if all(is_named(instance) for instance in instances):
            return {name: [decode(instance[name]) for instance in instances] for name in specs}
        (name,) = specs
        return {name: [decode(instance) for instance in instances]}
    inputs = body["inputs"]  # Columnar format: whole tensors.
    if is_named(inputs):
        return {name: decode(value) for name, value in inputs.items()}
    (name,) = specs
    return {name: decode(inputs)}


def from_predict_request(serialized):
    request = predict_pb2.PredictRequest.FromString(base64.b64decode(serialized))
    assert request.model_spec.signature_name == "serving_default"
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


loaded = {}
outputs = {}
for case, (export_dir, kind, payload) in cases.items():
    if export_dir not in loaded:
        loaded[export_dir] = tf.saved_model.load(export_dir).signatures["serving_default"]
    serve = loaded[export_dir]
    specs = serve.structured_input_signature[1]
    values = from_predict_request(payload) if kind == "proto" else from_rest(payload, specs)
    assert set(values) == set(specs), (case, sorted(values))
    tensors = {}
    for name, value in values.items():
        dtype = object if specs[name].dtype == tf.string else specs[name].dtype.as_numpy_dtype
        tensors[name] = tf.constant(np.array(value, dtype=dtype), specs[name].dtype)
    for name, tensor in serve(**tensors).items():
        outputs[f"{case}/{name}"] = tensor.numpy()
np.savez(outputs_path, **outputs)
loaded_modules = [name for name, module in sys.modules.items() if module is not None]
print(json.dumps(sorted(name for name in loaded_modules if name.split(".")[0] in BLOCKED)))
"""


def json_token(token, force_b64=False):
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        force_b64 = True
    return {"b64": base64.b64encode(token).decode("ascii")} if force_b64 else text


def json_tokens(rows, force_b64_for=(b"line\nbreak",)):
    return [[json_token(token, token in force_b64_for) for token in row] for row in rows]


def predict_request(inputs):
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "serving_default"
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return base64.b64encode(request.SerializeToString()).decode("ascii")


@pytest.fixture(scope="module")
def served(exported, exported_single, tmp_path_factory):
    """Outputs of each request format, served from the exported SavedModels in a TensorFlow-only process."""
    tokens = np.array(TOKENS, dtype=object)
    extra = np.array(EXTRA, dtype=np.float32)
    cases = {
        "proto": (exported, "proto", predict_request({"tokens": tokens, "extra": extra})),
        "rows": (
            exported,
            "rest",
            {"instances": [{"tokens": row, "extra": e} for row, e in zip(json_tokens(TOKENS), EXTRA)]},
        ),
        "columns": (exported, "rest", {"inputs": {"tokens": json_tokens(TOKENS), "extra": EXTRA}}),
        "single_rows": (exported_single, "rest", {"instances": json_tokens(TOKENS)}),
        "single_columns": (exported_single, "rest", {"inputs": json_tokens(TOKENS)}),
    }
    folder = tmp_path_factory.mktemp("requests")
    (folder / "requests.json").write_text(json.dumps(cases))
    stdout = run_with_tensorflow_only(_SERVE_REQUESTS, folder / "requests.json", folder / "outputs.npz")
    loaded_modules = json.loads(stdout.strip().splitlines()[-1])
    with np.load(folder / "outputs.npz") as outputs:
        return dict(outputs), loaded_modules


def expected_text_outputs(model):
    score, probs = model.predict([tf.constant(TOKENS), tf.constant(EXTRA)], verbose=0)
    return {"score": score, "probs": probs}


def assert_served_like_predict(served_outputs, case, expected):
    assert sorted(key.split("/", 1)[1] for key in served_outputs if key.startswith(f"{case}/")) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(served_outputs[f"{case}/{name}"], value, rtol=1e-6, atol=1e-6)


def test_request_formats_are_served_without_keras_or_tensorflow_text(served):
    _, loaded_modules = served
    assert loaded_modules == []


def test_predict_request_proto_serves_like_model_predict(served, text_model):
    assert_served_like_predict(served[0], "proto", expected_text_outputs(text_model))


def test_rest_row_format_serves_like_model_predict(served, text_model):
    assert_served_like_predict(served[0], "rows", expected_text_outputs(text_model))


def test_rest_columnar_format_serves_like_model_predict(served, text_model):
    assert_served_like_predict(served[0], "columns", expected_text_outputs(text_model))


def test_rest_row_format_takes_bare_values_for_a_single_input(served, single_input_model):
    expected = {"score": single_input_model.predict(tf.constant(TOKENS), verbose=0)}
    assert_served_like_predict(served[0], "single_rows", expected)


def test_rest_columnar_format_takes_a_bare_value_for_a_single_input(served, single_input_model):
    expected = {"score": single_input_model.predict(tf.constant(TOKENS), verbose=0)}
    assert_served_like_predict(served[0], "single_columns", expected)


# Concurrency --------------------------------------------------------------------------------------


def test_concurrent_calls_match_sequential_calls(exported):
    serve = signature_of(exported)
    rng = np.random.default_rng(0)
    pool = [as_bytes(token) for token in VOCABULARY] + [b"", b"zebra", b"unknown", b"\xfe"]
    requests = [
        {
            "tokens": tf.constant(rng.choice(np.array(pool, dtype=object), size=(int(n), 5))),
            "extra": tf.constant(rng.normal(size=(int(n), 2)).astype(np.float32)),
        }
        for n in rng.integers(1, 9, size=64)
    ]

    def call(request):
        return {name: value.numpy() for name, value in serve(**request).items()}

    sequential = [call(request) for request in requests]
    with ThreadPoolExecutor(max_workers=16) as executor:
        concurrent = list(executor.map(call, requests * 4))
    for index, result in enumerate(concurrent):
        for name, value in sequential[index % len(requests)].items():
            np.testing.assert_array_equal(result[name], value)


# Op audit -----------------------------------------------------------------------------------------


def test_op_audit_of_a_plain_model_is_all_core(exported):
    audit = audit_ops(exported)
    assert isinstance(audit, OpAudit)
    expected = {"HashTableV2", "LookupTableFindV2", "StringToHashBucketFast", "ReadVariableOp", "GatherV2"}
    assert expected <= set(audit.ops)
    assert set(audit.ops.values()) == {"core"}
    assert audit.non_core == {}
    assert "TensorFlow alone" in str(audit)


@pytest.fixture(scope="module")
def text_ops_saved_model(tmp_path_factory):
    import tensorflow_text

    class CaseFolder(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def fold(self, text):
            return tensorflow_text.case_fold_utf8(text)

    path = tmp_path_factory.mktemp("tf_text") / "model"
    tf.saved_model.save(CaseFolder(), str(path))
    return path


def test_op_audit_reports_tensorflow_text_ops_as_non_core(text_ops_saved_model):
    audit = audit_ops(text_ops_saved_model)
    assert audit.ops["CaseFoldUTF8"] == "tensorflow_text"
    assert audit.non_core == {"CaseFoldUTF8": "tensorflow_text"}
    assert audit.ops["StatefulPartitionedCall"] == "core"
    assert json.loads(json.dumps(audit.to_dict()))["non_core"] == {"CaseFoldUTF8": "tensorflow_text"}
    assert "tensorflow_text: CaseFoldUTF8" in str(audit)


def test_op_audit_of_a_path_without_a_saved_model_names_the_versions(exported):
    base = os.path.dirname(exported)
    with pytest.raises(ConfigurationError, match=r"versions \[1\]"):
        audit_ops(base)


def test_strict_export_refuses_tensorflow_text_ops_and_writes_nothing(tmp_path):
    import tensorflow_text

    class CaseFold(keras.layers.Layer):
        def call(self, text):
            return tensorflow_text.case_fold_utf8(text)

    text = keras.Input(shape=(None,), dtype="string", name="text")
    words = VocabEmbedding(4, vocabulary=["the", "cat"])
    model = keras.Model(text, keras.layers.GlobalAveragePooling1D()(words(CaseFold()(text))))
    with pytest.raises(UnsupportedOpsError, match=r"CaseFoldUTF8 \(tensorflow-text op"):
        export_for_serving(model, tmp_path, strict=True)
    assert os.listdir(tmp_path) == []


def test_a_second_ctrl_c_while_a_failed_export_is_removed_leaves_nothing(tmp_path, monkeypatch):
    import shutil
    import signal

    import tensorflow_text

    class CaseFold(keras.layers.Layer):
        def call(self, text):
            return tensorflow_text.case_fold_utf8(text)

    text = keras.Input(shape=(None,), dtype="string", name="text")
    model = keras.Model(text, VocabEmbedding(4, vocabulary=["the", "cat"])(CaseFold()(text)))

    removals = []
    real_rmtree = shutil.rmtree

    def interrupted_rmtree(path, *args, **kwargs):  # A real SIGINT as the removal starts: a second Ctrl-C.
        removals.append(os.path.basename(path))
        signal.raise_signal(signal.SIGINT)
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", interrupted_rmtree)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # Refused by the audit, after the SavedModel was written to the temporary directory.
        with pytest.raises(KeyboardInterrupt):
            export_for_serving(model, tmp_path, strict=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(removals) == 1 and removals[0].startswith(".tmp-export-")
    assert os.listdir(tmp_path) == []


def test_a_failed_export_removes_the_base_path_it_created_and_keeps_one_that_existed(tmp_path):
    import tensorflow_text

    class CaseFold(keras.layers.Layer):
        def call(self, text):
            return tensorflow_text.case_fold_utf8(text)

    text = keras.Input(shape=(None,), dtype="string", name="text")
    model = keras.Model(text, VocabEmbedding(4, vocabulary=["the", "cat"])(CaseFold()(text)))
    # Refused by the audit, after the SavedModel was written: the directories this call made go with it.
    with pytest.raises(UnsupportedOpsError):
        export_for_serving(model, tmp_path / "models" / "words", strict=True)
    assert os.listdir(tmp_path) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(UnsupportedOpsError):
        export_for_serving(model, tmp_path / "kept" / "words", strict=True)
    assert os.listdir(tmp_path) == ["kept"] and os.listdir(tmp_path / "kept") == []


def test_strict_export_publishes_a_core_only_model(text_model, tmp_path):
    assert export_for_serving(text_model, tmp_path, strict=True) == str(tmp_path / "1")


# A model trained with the lookup half in tf.data (the split) still serves raw strings ------------------------------


def _split_model():
    words = VocabEmbedding(4, mask_token="", name="words")
    words.adapt(tf.constant([["the", "cat", ""], ["a", "dog", "the"]]))
    lookup, embedding = words.halves()
    ids = keras.Input((None,), dtype="int64", name="tokens")
    pooled = keras.layers.GlobalAveragePooling1D()(embedding(ids))
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(pooled))
    model.compile(optimizer="adam", loss="mse")
    data = tf.data.Dataset.from_tensor_slices((tf.constant([["the", "cat", ""], ["a", "dog", ""]]), [[1.0], [0.0]]))
    model.fit(data.batch(2).map(lambda x, y: (lookup(x), y)), epochs=2, verbose=0)
    return model, lookup, embedding


@pytest.mark.saving
def test_split_model_exports_a_graph_that_takes_raw_strings_and_serves_with_tensorflow_alone(tmp_path):
    from conftest import serve_in_fresh_process

    model, lookup, embedding = _split_model()
    path = export_for_serving(model, tmp_path / "base")
    keys = tf.constant([["the", "cat", "zebra"], ["dog", "", ""]])
    served, signature = serve_in_fresh_process(path, keys, tmp_path)
    assert signature["input"] == "tokens" and signature["input_dtype"] == "string"
    np.testing.assert_allclose(served, model.predict(lookup(keys).numpy(), verbose=0), rtol=1e-6)
    tokens = tf.saved_model.load(path).signatures[f"vocabulary_{embedding.name}"]()["tokens"].numpy()
    assert [t.decode() for t in tokens] == embedding.get_vocabulary()


@pytest.mark.saving
def test_split_model_export_refuses_a_lookup_of_another_vocabulary_and_writes_nothing(tmp_path):
    model, _, _ = _split_model()
    other = VocabLookup(vocabulary=["cat", "the", "a", "dog"], mask_token="")
    with pytest.raises(VocabularyMismatchError, match="another vocabulary"):
        export_for_serving(model, tmp_path / "base", lookups={"tokens": other})
    assert not (tmp_path / "base").exists() or not any((tmp_path / "base").iterdir())
    with pytest.raises(ConfigurationError, match="does not have"):
        export_for_serving(model, tmp_path / "base", lookups={"words": other})


@pytest.mark.saving
def test_split_model_export_with_lookups_none_serves_ids(tmp_path):
    model, lookup, _ = _split_model()
    path = export_for_serving(model, tmp_path / "base", lookups=None)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    ids = lookup(tf.constant([["the", "dog"]]))
    np.testing.assert_allclose(serve(tokens=ids)["score"].numpy(), model.predict(ids.numpy(), verbose=0), rtol=1e-6)


@pytest.mark.saving
def test_text_split_model_serves_one_sentence_per_example(tmp_path):
    from keras_vocabsafe import TextVocabEmbedding

    lookup, embedding = TextVocabEmbedding(4, vocabulary=["the", "cat", "sat"], output_sequence_length=6).halves()
    ids = keras.Input((6,), dtype="int64", name="tokens")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(keras.layers.GlobalAveragePooling1D()(embedding(ids))))
    serve = tf.saved_model.load(export_for_serving(model, tmp_path / "base")).signatures["serving_default"]
    assert serve.structured_input_signature[1]["tokens"].shape.as_list() == [None]
    sentences = tf.constant(["The cat sat.", "a dog"])
    np.testing.assert_allclose(
        serve(tokens=sentences)["score"], model.predict(lookup(sentences).numpy(), verbose=0), rtol=1e-6
    )


@pytest.mark.saving
@pytest.mark.parametrize("length", [None, 2])
def test_text_split_model_with_ragged_lookup_serves_the_padded_ids_it_trained_on(tmp_path, length):
    # A text lookup without output_sequence_length gives ragged ids, which training pads (`padded_batch`,
    # `to_tensor()`); the export ran the ragged lookup in front of the dense input: every request failed, or a
    # model without pooling served a RaggedTensor.
    from keras_vocabsafe import TextVocabEmbedding

    lookup, embedding = TextVocabEmbedding(4, vocabulary=["the", "cat", "sat"]).halves()
    ids = keras.Input((length,), dtype="int64", name="tokens")
    vectors = embedding(ids)
    model = keras.Model(
        ids, [keras.layers.Dense(1, name="score")(keras.layers.GlobalAveragePooling1D()(vectors)), vectors]
    )
    serve = tf.saved_model.load(export_for_serving(model, tmp_path / "base")).signatures["serving_default"]
    sentences = tf.constant(["The cat sat.", "a dog", ""])
    padded = lookup(sentences).to_tensor(shape=[None, length]).numpy()  # Cut to the input's length, where it has one.
    served = serve(tokens=sentences)
    score, rows = model.predict(padded, verbose=0)
    (vectors,) = [name for name in served if name != "score"]
    np.testing.assert_allclose(served["score"].numpy(), score, rtol=1e-6, atol=1e-7)  # NaN where all is padding.
    np.testing.assert_allclose(served[vectors].numpy(), rows, rtol=1e-6, atol=1e-7)


@pytest.mark.saving
@pytest.mark.parametrize("given", ["auto", "lookups"])
def test_text_lookup_of_another_length_than_the_model_input_is_refused_before_anything_is_written(tmp_path, given):
    from keras_vocabsafe import TextVocabEmbedding, TextVocabLookup

    _, embedding = TextVocabEmbedding(4, vocabulary=["the", "cat", "sat"], output_sequence_length=6).halves()
    ids = keras.Input((4,), dtype="int64", name="tokens")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(keras.layers.GlobalAveragePooling1D()(embedding(ids))))
    lookups = {"tokens": TextVocabLookup(vocabulary=["the", "cat", "sat"], output_sequence_length=6)}
    pattern = (
        r"'tokens' .* takes ids of shape \(None, 4\), .* gives one row of 6 ids per example "
        r"\(output_sequence_length=6\).* `keras\.Input\(\(6,\), \.\.\.\)`.*output_sequence_length=4\)"
    )
    with pytest.raises(ConfigurationError, match=pattern):
        export_for_serving(model, tmp_path / "base", lookups="auto" if given == "auto" else lookups)
    assert not (tmp_path / "base").exists()


@pytest.mark.saving
@pytest.mark.parametrize("length, shape", [(6, ()), (6, (2, 3)), (None, ()), (None, (2, 3))])
def test_text_lookup_into_a_model_input_not_of_one_axis_is_refused(tmp_path, length, shape):
    # A text lookup gives (batch, length) ids. Into a (batch,) input the export was published with a signature taking
    # a single string (shape ()), which no batch of requests fits; into (batch, 2, 3), it failed once writing began.
    from keras_vocabsafe import TextVocabEmbedding

    _, embedding = TextVocabEmbedding(4, vocabulary=["the", "cat"], output_sequence_length=length).halves()
    ids = keras.Input(shape, dtype="int64", name="tokens")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(embedding(ids)))
    with pytest.raises(ConfigurationError, match=rf"takes ids of shape \(None,( 2, 3)?\), .*shape \(batch, {length}\)"):
        export_for_serving(model, tmp_path / "base")
    assert not (tmp_path / "base").exists()


@pytest.mark.saving
def test_split_model_nested_in_a_sequential_still_serves_raw_strings(tmp_path):
    _, lookup, embedding = _split_model()
    inner = keras.Sequential(
        [keras.Input((None,), dtype="int64"), embedding, keras.layers.GlobalAveragePooling1D()], name="inner"
    )
    ids = keras.Input((None,), dtype="int64", name="tokens")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(inner(ids)))
    serve = tf.saved_model.load(export_for_serving(model, tmp_path / "base")).signatures["serving_default"]
    keys = tf.constant([["the", "cat", "zebra"], ["dog", "", ""]])
    assert serve.structured_input_signature[1]["tokens"].dtype == tf.string
    np.testing.assert_allclose(serve(tokens=keys)["score"], model.predict(lookup(keys).numpy(), verbose=0), rtol=1e-6)


@pytest.mark.saving
def test_a_nested_model_of_several_inputs_holding_an_embedding_half_is_refused_unless_ids_are_served(tmp_path):
    _, lookup, embedding = _split_model()
    first, second = keras.Input((None,), dtype="int64"), keras.Input((None,), dtype="int64")
    pooled = keras.layers.GlobalAveragePooling1D()(embedding(first))
    inner = keras.Model([first, second], keras.layers.Concatenate()([pooled, keras.ops.cast(second, "float32")]))
    a, b = keras.Input((None,), dtype="int64", name="a"), keras.Input((1,), dtype="int64", name="b")
    model = keras.Model([a, b], keras.layers.Dense(1)(inner([a, b])))
    with pytest.raises(ConfigurationError, match=r"feeds the nested model .* takes 2 inputs and holds a VocabIdEmbed"):
        export_for_serving(model, tmp_path / "base")
    assert not (tmp_path / "base").exists() or not any((tmp_path / "base").iterdir())
    serve = tf.saved_model.load(export_for_serving(model, tmp_path / "ids", lookups=None)).signatures["serving_default"]
    ids = lookup(tf.constant([["the", "dog"]]))
    (served,) = serve(a=ids, b=tf.constant([[3]], tf.int64)).values()
    np.testing.assert_allclose(served, model.predict([ids.numpy(), np.array([[3]])], verbose=0), rtol=1e-6)


@pytest.mark.saving
def test_tfsm_layer_calls_the_export_with_its_default_endpoint(tmp_path):
    model, lookup, _ = _split_model()
    path = export_for_serving(model, tmp_path / "base")
    reloaded = keras.layers.TFSMLayer(path)  # call_endpoint="serve"
    keys = tf.constant([["a", "cat", ""]])
    outputs = reloaded(keys)
    np.testing.assert_allclose(outputs["score"], model.predict(lookup(keys).numpy(), verbose=0), rtol=1e-6)


# Ids that reach the embedding half through layers that only move them, or through layers that may change them --------


def _serves(model, path, name, keys, lookup):
    """The export at `path` takes `name` as raw strings and serves what the model gives on the lookup's ids."""
    serve = tf.saved_model.load(path).signatures["serving_default"]
    assert serve.structured_input_signature[1][name].dtype == tf.string
    (served,) = serve(**{name: tf.constant(keys)}).values()
    np.testing.assert_allclose(served, model.predict(lookup(tf.constant(keys)).numpy(), verbose=0), rtol=1e-6)


KEYS_OF_SIX = [["the", "cat", "zebra", "dog", "", ""], ["a", "", "", "", "", ""]]


@pytest.mark.saving
@pytest.mark.parametrize(
    "layout",
    [
        lambda ids: keras.layers.Reshape((2, 3))(ids),
        lambda ids: keras.layers.Flatten()(keras.layers.Reshape((3, 2))(ids)),
        lambda ids: keras.layers.Permute((2, 1))(keras.layers.Reshape((2, 3))(ids)),
        lambda ids: keras.layers.Identity()(keras.layers.Reshape((6, 1))(ids))[:, 1:, 0],
        lambda ids: keras.ops.cast(keras.ops.expand_dims(ids, -1), "int32"),
    ],
    ids=["Reshape", "Flatten", "Permute", "Identity-getitem", "expand_dims-cast"],
)
def test_ids_moved_by_layout_layers_still_serve_raw_strings(tmp_path, layout):
    # Through a Reshape, `lookups="auto"` silently kept an int64 ids signature, and an explicit lookup was refused as
    # feeding no VocabIdEmbedding. A lookup maps each key on its own, so it commutes with layers that only move ids.
    _, lookup, embedding = _split_model()
    ids = keras.Input((6,), dtype="int64", name="ids")
    vectors = embedding(layout(ids))  # The layer masks id 0 itself, after the layout layers, as in training.
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Reshape((-1, 4))(vectors))
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(pooled))
    _serves(model, export_for_serving(model, tmp_path / "auto"), "ids", KEYS_OF_SIX, lookup)
    _serves(model, export_for_serving(model, tmp_path / "named", lookups={"ids": lookup}), "ids", KEYS_OF_SIX, lookup)


@pytest.mark.saving
def test_ids_moved_by_a_reshape_inside_a_nested_model_still_serve_raw_strings(tmp_path):
    _, lookup, embedding = _split_model()
    inner_ids = keras.Input((6,), dtype="int64")
    inner = keras.Model(inner_ids, keras.layers.Flatten()(embedding(keras.layers.Reshape((2, 3))(inner_ids))))
    ids = keras.Input((6,), dtype="int64", name="ids")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(inner(ids)))
    _serves(model, export_for_serving(model, tmp_path / "auto"), "ids", KEYS_OF_SIX, lookup)
    # A nested model that only moves the ids, in front of the embedding half of the outer model.
    moving = keras.Sequential([keras.Input((6,), dtype="int64"), keras.layers.Reshape((3, 2))], name="moving")
    ids = keras.Input((6,), dtype="int64", name="ids")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(keras.layers.Flatten()(embedding(moving(ids)))))
    _serves(model, export_for_serving(model, tmp_path / "outer"), "ids", KEYS_OF_SIX, lookup)


@pytest.mark.saving
def test_one_input_into_two_embedding_halves_directly_and_through_a_reshape_serves_raw_strings(tmp_path):
    _, lookup, embedding = _split_model()
    other = VocabIdEmbedding.from_lookup(lookup, 3, name="other")
    ids = keras.Input((6,), dtype="int64", name="ids")
    direct = keras.layers.GlobalAveragePooling1D()(embedding(ids))
    reshaped = keras.layers.Flatten()(other(keras.layers.Reshape((2, 3))(ids)))
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(keras.layers.Concatenate()([direct, reshaped])))
    _serves(model, export_for_serving(model, tmp_path / "auto"), "ids", KEYS_OF_SIX, lookup)
    # Of another vocabulary behind the Reshape: no one lookup fits both, as without it.
    stranger = VocabIdEmbedding(3, vocabulary=["x", "y"], name="stranger")
    ids = keras.Input((6,), dtype="int64", name="ids")
    both = [keras.layers.Flatten()(embedding(ids)), keras.layers.Flatten()(stranger(keras.layers.Reshape((2, 3))(ids)))]
    model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.Concatenate()(both)))
    with pytest.raises(
        ConfigurationError, match=r"'ids' .* different vocabularies \(\['stranger', 'words_embedding'\]\)"
    ):
        export_for_serving(model, tmp_path / "mixed")


class _Clip(keras.layers.Layer):
    def call(self, ids):
        return keras.ops.maximum(ids, 0)


@pytest.mark.saving
@pytest.mark.parametrize(
    "change, step",
    [
        (lambda ids: keras.layers.Lambda(lambda x: x % 1000, dtype="int64", name="wrap")(ids), r"wrap \(Lambda\)"),
        (lambda ids: _Clip(name="clip")(ids), r"clip \(_Clip\)"),
        (lambda ids: keras.ops.cast(keras.ops.cast(ids, "float16"), "int64"), r"cast\w* \(Cast\)"),
        (lambda ids: keras.ops.add(keras.layers.Reshape((2, 3))(ids), 0), r"reshape\w* \(Reshape\) -> add\w* \(Add\)"),
    ],
    ids=["Lambda", "custom-layer", "float16-cast", "reshape-then-add"],
)
def test_ids_changed_on_their_way_refuse_auto_and_name_the_path_and_the_fixes(tmp_path, change, step):
    # "auto" cannot tell what such an input holds; it silently served ids. An explicit lookup (these changes keep the
    # lookup's ids, as the user may know) or ids still export.
    _, lookup, embedding = _split_model()
    ids = keras.Input((6,), dtype="int64", name="ids")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(keras.layers.Flatten()(embedding(change(ids)))))
    pattern = (
        rf"Input 'ids' of model '{model.name}' reaches VocabIdEmbedding '{embedding.name}' only through a layer that "
        rf"may change its values: 'ids' -> (\S+ \(\w+\) -> )*{step} -> VocabIdEmbedding '{embedding.name}'\..*"
        r"`lookups=None` to serve ids.*"
        r"`lookups=\{'ids': lookup\}`"
    )
    with pytest.raises(ConfigurationError, match=pattern):
        export_for_serving(model, tmp_path / "auto")
    assert not (tmp_path / "auto").exists()
    served_ids = export_for_serving(model, tmp_path / "ids", lookups=None)
    assert signature_of(served_ids).structured_input_signature[1]["ids"].dtype == tf.int64
    named = export_for_serving(model, tmp_path / "named", lookups={"ids": lookup})
    served = signature_of(named)(ids=tf.constant(KEYS_OF_SIX))["score"]
    np.testing.assert_allclose(served, model.predict(lookup(tf.constant(KEYS_OF_SIX)).numpy(), verbose=0), rtol=1e-6)
    stranger = VocabLookup(vocabulary=["cat", "the", "a", "dog"], mask_token="")
    with pytest.raises(VocabularyMismatchError, match="another vocabulary"):
        export_for_serving(model, tmp_path / "stranger", lookups={"ids": stranger})


@pytest.mark.saving
def test_ids_changed_inside_a_nested_model_refuse_auto_with_the_nested_path(tmp_path):
    _, _, embedding = _split_model()
    inner_ids = keras.Input((6,), dtype="int64")
    shifted = keras.layers.Lambda(lambda x: x + 1, dtype="int64", name="shift")(keras.layers.Reshape((2, 3))(inner_ids))
    inner = keras.Model(inner_ids, keras.layers.Flatten()(embedding(shifted)), name="inner")
    ids = keras.Input((6,), dtype="int64", name="ids")
    model = keras.Model(ids, keras.layers.Dense(1, name="score")(inner(ids)))
    with pytest.raises(ConfigurationError, match=r"'ids' -> inner \(Functional\) -> inner/reshape\w* \(Reshape\) -> "):
        export_for_serving(model, tmp_path / "auto")


@pytest.mark.saving
@pytest.mark.parametrize("kind", ["ours", "keras"])
def test_integer_keys_looked_up_inside_the_model_are_served_as_integer_keys(tmp_path, kind):
    # The in-model lookup maps the input's keys to ids: the input holds keys, which the signature takes as they are
    # (as a string input looked up in the model is served strings). "auto" refused it as ids changed on their way.
    lookup = VocabLookup(vocabulary=[10, 20, 30], vocabulary_dtype="int64")
    half = VocabIdEmbedding.from_lookup(lookup, 4, name="half")
    in_model = lookup if kind == "ours" else keras.layers.IntegerLookup(vocabulary=[10, 20, 30])
    keys = keras.Input((3,), dtype="int64", name="keys")
    model = keras.Model(keys, keras.layers.Dense(1, name="score")(keras.layers.Flatten()(half(in_model(keys)))))
    serve = signature_of(export_for_serving(model, tmp_path / "auto"))
    assert serve.structured_input_signature[1]["keys"].dtype == tf.int64
    batch = np.array([[10, 99, 30], [20, 0, 0]], dtype="int64")
    np.testing.assert_allclose(serve(keys=tf.constant(batch))["score"], model.predict(batch, verbose=0), rtol=1e-6)


KEYS_OF_THREE = {
    "a": [["the", "cat", "zebra"], ["a", "", ""]],
    "b": [["dog", "", "the"], ["cat", "a", "dog"]],
    "c": [["", "", ""], ["zebra", "the", "sat"]],
}


def _serves_all(model, path, lookup):
    """The export at `path` takes every input of `model` as raw strings and serves what the model gives on ids."""
    serve = signature_of(path)
    names = [tensor.name for tensor in model.inputs]
    assert all(serve.structured_input_signature[1][name].dtype == tf.string for name in names)
    (served,) = serve(**{name: tf.constant(KEYS_OF_THREE[name]) for name in names}).values()
    ids = [lookup(tf.constant(KEYS_OF_THREE[name])).numpy() for name in names]
    np.testing.assert_allclose(served, model.predict(ids, verbose=0), rtol=1e-6)


@pytest.mark.saving
@pytest.mark.parametrize(
    "names, join",
    [
        ("ab", lambda a, b: keras.layers.Concatenate(dtype="int64")([a, b])),
        ("ab", lambda a, b: keras.ops.concatenate([a, b], axis=-1)),
        (
            "ab",
            lambda a, b: keras.layers.Concatenate(axis=1, dtype="int64")(
                [keras.layers.Reshape((3, 1))(a), keras.ops.expand_dims(b, -1)]
            )[:, :, 0],
        ),
        ("abc", lambda a, b, c: keras.ops.concatenate([keras.ops.concatenate([a, b], axis=-1), c[:, 1:]], axis=-1)),
    ],
    ids=["Concatenate", "ops.concatenate", "moved-then-joined", "joined-twice"],
)
def test_ids_of_inputs_concatenated_for_one_vocabulary_serve_raw_strings(tmp_path, names, join):
    # "auto" refused a Concatenate of two inputs' ids as a layer that may change them, though a lookup maps each key
    # on its own: looking up each input gives the ids that the Concatenate joins.
    _, lookup, embedding = _split_model()
    inputs = [keras.Input((3,), dtype="int64", name=name) for name in names]
    vectors = embedding(join(*inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, name="score")(keras.layers.Flatten()(vectors)))
    _serves_all(model, export_for_serving(model, tmp_path / "auto"), lookup)
    named = export_for_serving(model, tmp_path / "named", lookups={tensor.name: lookup for tensor in inputs})
    _serves_all(model, named, lookup)


@pytest.mark.saving
@pytest.mark.parametrize(
    "other, dtype",
    [
        (lambda b: keras.ops.cast(b, "int64"), "float32"),
        (lambda b: keras.ops.add(b, 1), "int64"),
        (lambda b: keras.layers.IntegerLookup(vocabulary=[1, 2])(b), "int64"),
    ],
    ids=["floats-cast", "ids-changed", "looked-up-in-model"],
)
def test_ids_concatenated_with_a_tensor_that_is_no_input_ids_refuse_auto(tmp_path, other, dtype):
    # A lookup in front of 'a' would map its keys and leave the other values as they are, so "auto" cannot serve it.
    _, _, embedding = _split_model()
    a = keras.Input((3,), dtype="int64", name="a")
    b = keras.Input((3,), dtype=dtype, name="b")  # Each input reaches the output: Keras 3.11 refuses one that does not.
    joined = keras.layers.Concatenate(dtype="int64")([a, other(b)])
    score = keras.layers.Dense(1, name="score")(keras.layers.Flatten()(embedding(joined)))
    model = keras.Model([a, b], score)
    step = r"concatenate\w* \(Concatenate\)"
    pattern = rf"Input 'a' .* only through a layer that may change its values: 'a' -> {step} -> VocabIdEmbedding"
    with pytest.raises(ConfigurationError, match=pattern):
        export_for_serving(model, tmp_path / "auto")
    assert not (tmp_path / "auto").exists()


@pytest.mark.saving
@pytest.mark.parametrize("also_direct", [False, True])
def test_ids_of_two_vocabularies_concatenated_refuse_auto(tmp_path, also_direct):
    # 'b' feeds a layer of another vocabulary, so its lookup gives ids of that vocabulary: joined with 'a', they
    # would select rows of `embedding` by ids of `stranger`. Where 'a' also fed `embedding` directly, "auto" exported
    # it, each input with its own lookup.
    _, _, embedding = _split_model()
    stranger = VocabIdEmbedding(4, vocabulary=["x", "y", "z"], name="stranger")
    a, b = keras.Input((3,), dtype="int64", name="a"), keras.Input((3,), dtype="int64", name="b")
    features = [embedding(keras.ops.concatenate([a, b], axis=-1)), stranger(b)]
    if also_direct:
        features.append(embedding(a))
    pooled = [keras.layers.GlobalAveragePooling1D()(vectors) for vectors in features]
    model = keras.Model([a, b], keras.layers.Dense(1, name="score")(keras.layers.Concatenate()(pooled)))
    with pytest.raises(
        ConfigurationError, match=rf"'b' .* different vocabularies \(\['stranger', '{embedding.name}'\]"
    ):
        export_for_serving(model, tmp_path / "auto")
    assert not (tmp_path / "auto").exists()
