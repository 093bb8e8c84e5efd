"""Shared test set-up: quiet TensorFlow, and tokens that break naive vocabulary handling."""

import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest


@pytest.fixture(scope="module")
def beam_temp_in_tmp_path(tmp_path_factory):
    """A module's temporary files go to a pytest temporary directory: each Beam pipeline leaves an empty
    `beam-temp*` directory behind in the temporary directory, and pytest removes its old directories where /tmp
    would keep them."""
    directory = str(tmp_path_factory.mktemp("temporary"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", directory)
        patch.setenv("TMPDIR", directory)
        yield


def _keras_embedding_quantizes_int4() -> bool:
    import keras

    layer = keras.layers.Embedding(2, 2)
    layer.build()
    try:
        layer.quantize("int4")
    except NotImplementedError:
        return False
    return True


# Keras's `Embedding` quantizes to int4 from Keras 3.12 (3.11: int8 only), and the layers follow it.
KERAS_QUANTIZES_INT4 = _keras_embedding_quantizes_int4()
requires_int4 = pytest.mark.skipif(not KERAS_QUANTIZES_INT4, reason="keras.layers.Embedding quantizes int4 from 3.12")
INT4 = pytest.param("int4", marks=requires_int4)

# Tokens that a text file, a JSON file or a careless str/bytes conversion would change or lose.
AWKWARD_TOKENS = [
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\n",
    "para\u2028graph",
    "nul\x00inside",
    "trailing-nul\x00",
    "tab\tinside",
    " leading space",
    "trailing space ",
    " ",
    "naïve",
    "日本語",
    "emoji 🙂",
    b"\xff\xfe not utf-8",
    b"\xc3",
    "[UNK]x",
]


_SERVE_SCRIPT = r"""
import json, os, sys
# Only TensorFlow may be imported: block Keras, keras-vocabsafe and tensorflow-text.
for name in ("keras", "keras_vocabsafe", "tensorflow_text"):
    sys.modules[name] = None
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

export_dir, inputs_path, dtype, outputs_path = sys.argv[1:5]
keys = tf.io.parse_tensor(tf.io.read_file(inputs_path), getattr(tf, dtype))
serve = tf.saved_model.load(export_dir).signatures["serving_default"]
(input_name, input_spec), = serve.structured_input_signature[1].items()
(output_name, output), = serve(**{input_name: keys}).items()
tf.io.write_file(outputs_path, tf.io.serialize_tensor(output))
print(json.dumps({"input": input_name, "input_dtype": input_spec.dtype.name, "output": output_name}))
"""


def serve_in_fresh_process(export_dir, keys, tmp_path, env=None):
    """Runs `serving_default` of a SavedModel in a new process that can import TensorFlow only.

    Returns the output as a NumPy array and the signature's names and input dtype. `env`: variables to set in the
    process's environment.
    """
    import json
    import subprocess
    import sys

    import tensorflow as tf

    keys = tf.convert_to_tensor(keys)
    inputs_path, outputs_path = tmp_path / "inputs.pb", tmp_path / "outputs.pb"
    tf.io.write_file(str(inputs_path), tf.io.serialize_tensor(keys))
    result = subprocess.run(
        [sys.executable, "-c", _SERVE_SCRIPT, str(export_dir), str(inputs_path), keys.dtype.name, str(outputs_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    signature = json.loads(result.stdout.strip().splitlines()[-1])
    output = tf.io.parse_tensor(tf.io.read_file(str(outputs_path)), tf.float32).numpy()
    return output, signature


def unwritable_directory(tmp_path):
    """A directory that takes no new files, even for root (whom permission bits do not stop): sysfs then."""
    if os.geteuid() == 0:
        return pathlib.Path("/sys")
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    return directory


def run_vocabsafe(*args, cwd=None, timeout=600, env=None):
    """Runs the installed `vocabsafe` console script in a new process; returns the `CompletedProcess` (text).

    The script is the one pip installed beside this interpreter, so tests exercise the real entry point.
    """
    import shutil
    import subprocess
    import sys

    script = shutil.which("vocabsafe", path=os.path.dirname(sys.executable))
    assert script is not None, "the `vocabsafe` console script is not installed; run `pip install -e .`"
    return subprocess.run(
        [script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


def hashing_model(hashing, embedding):
    """A functional model of `hashing` (a `Hashing` on 3 strings, or a `HashedCrossing` of two ints) into
    `embedding`."""
    import keras

    if isinstance(hashing, keras.layers.HashedCrossing):
        inputs = [keras.Input(shape=(1,), dtype="int64"), keras.Input(shape=(1,), dtype="int64")]
        ids = hashing(tuple(inputs))
    else:
        inputs = keras.Input(shape=(3,), dtype="string")
        ids = hashing(inputs)
    return keras.Model(inputs, embedding(ids))


def two_hashings_model(first_bins, second_bins, rows, joined):
    """Two `Hashing` layers, 'a' and 'b', of `first_bins` and `second_bins` on their own string inputs, into one
    `Embedding` 'emb' of `rows` rows: called on each (two outputs), or on their ids concatenated (`joined`)."""
    import keras

    first, second = keras.Input(shape=(3,), dtype="string"), keras.Input(shape=(3,), dtype="string")
    a = keras.layers.Hashing(num_bins=first_bins, name="a")(first)
    b = keras.layers.Hashing(num_bins=second_bins, name="b")(second)
    embedding = keras.layers.Embedding(rows, 2, name="emb")
    if joined:
        return keras.Model([first, second], embedding(keras.layers.Concatenate(name="joined")([a, b])))
    return keras.Model([first, second], [embedding(a), embedding(b)])


@pytest.fixture
def ctrl_c_while_removing(monkeypatch):
    """`arm(directory)`: from then on, removing a file in `directory` first sends this process a real SIGINT, as a
    second Ctrl-C pressed while the first one's cleanup runs; returns the names removed. Python's own SIGINT
    handler is in place for the test (a test runner's worker may ignore SIGINT)."""
    import signal

    remove, unlink = os.remove, os.unlink
    watched = []
    removed = []

    def interrupted_remove(real):
        def wrapper(path, *args, **kwargs):
            if watched and os.path.dirname(os.path.abspath(path)) == watched[0]:
                removed.append(os.path.basename(path))
                signal.raise_signal(signal.SIGINT)
            return real(path, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(os, "remove", interrupted_remove(remove))
    monkeypatch.setattr(os, "unlink", interrupted_remove(unlink))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def arm(directory):
        watched.append(os.path.abspath(directory))
        return removed

    yield arm
    signal.signal(signal.SIGINT, previous)
