"""Docs that run: every `>>>` example in the package's docstrings, and every ```python block of README.md and of
the docstrings, is executed here, so an example that drifts from the API fails the suite.

- Docstring `>>>` examples run as doctests, module by module, in a temporary working directory, with `keras`,
  `tf`, `np`, `keras_vocabsafe` and the public names of the package at hand (as after
  `from keras_vocabsafe import *`).
- Fenced ```python blocks (README.md, docstrings) run in one Python process started for them (one TensorFlow
  start-up), in a temporary working directory, each in a fresh copy of the namespace `_PRELUDE` makes: the small
  data and files the examples name (`token_dataset`, `vocab.txt`, `glove.6B.300d.txt.gz`, ...). A block that goes
  on from an earlier one (`_CONTINUES`) runs after it in its namespace, as a reader follows them; `_CONTEXT` gives
  the few names a block's text describes. A block right after an HTML comment `<!-- not run: why -->` is left
  out; `_NOT_RUN` lists each one, so the list stays short and on purpose.
- The README's `$ vocabsafe ...` transcripts run against files made to match them: each command must print the
  output shown (wrapping aside) and exit with the code shown (`# exit N`; 0 where none is).
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import textwrap

import pytest

import keras_vocabsafe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")

_MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(keras_vocabsafe.__path__, "keras_vocabsafe.")
    if not name.startswith("keras_vocabsafe.cli")  # No examples, and importing it quiets TensorFlow's logging.
)


def _doctest_modules() -> list[str]:
    found = []
    for name in _MODULES:
        module = importlib.import_module(name)
        if any(test.examples for test in doctest.DocTestFinder(exclude_empty=True).find(module, name)):
            found.append(name)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", _doctest_modules())
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    import keras
    import numpy as np
    import tensorflow as tf

    monkeypatch.chdir(tmp_path)  # Examples that write files write them here.
    module = importlib.import_module(name)
    globs = {public: getattr(keras_vocabsafe, public) for public in keras_vocabsafe.__all__}
    globs.update(keras=keras, tf=tf, np=np, keras_vocabsafe=keras_vocabsafe)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name, extraglobs=globs):
        runner.run(test, out=failures.append)
    assert runner.tries > 0
    assert not failures, "\n".join(failures)


# Fenced ```python blocks ------------------------------------------------------------------------------

# What the examples take as given, made small: token batches padded with "", labels, raw text, a BERT-style
# vocab.txt ([PAD] at line 0, [UNK] at line 100) with a matching checkpoint matrix, GloVe-style vector files, and
# corpus files for Beam. keras is imported first, so a block that picks another backend (which this session may
# not have) runs on TensorFlow; the tests_jax and tests_torch sessions cover those backends.
_PRELUDE = """
import gzip
import json
import os
import sys
import traceback

import numpy as np
import tensorflow as tf
import keras

_WORDS = ["the", "cat", "sat", "on", "mat", "a", "good", "film", "dog", "ran"]
_rng = np.random.default_rng(0)
_tokens = np.array([[_WORDS[i] for i in _rng.integers(0, len(_WORDS), 6)] + [""] for _ in range(32)])
_labels = _rng.integers(0, 2, (32, 1)).astype("float32")
token_dataset = tf.data.Dataset.from_tensor_slices(_tokens).batch(8)
token_dataset_with_labels = tf.data.Dataset.from_tensor_slices((_tokens, _labels)).batch(8)
_new_tokens = np.where(_tokens == "cat", "bird", _tokens)
new_token_dataset = tf.data.Dataset.from_tensor_slices(_new_tokens).batch(8)
new_data = tf.data.Dataset.from_tensor_slices((_new_tokens, _labels)).batch(8)
raw_sentences = ["The cat sat on the mat.", "A good film!", "The dog ran.", "a GOOD cat"]

_vocab_lines = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]"] + _WORDS
with open("vocab.txt", "w") as f:
    f.write("\\n".join(_vocab_lines) + "\\n")
checkpoint_matrix = _rng.normal(size=(len(_vocab_lines), 768)).astype("float32")

_vectors = "".join(w + " " + " ".join(f"{v:.3f}" for v in _rng.normal(size=300)) + "\\n" for w in _WORDS)
with open("glove.6B.300d.txt", "w") as f:
    f.write(_vectors)
with gzip.open("glove.6B.300d.txt.gz", "wt") as f:
    f.write(_vectors)

for _i, _part in enumerate((raw_sentences[:2], raw_sentences[2:])):
    with open(f"corpus-{_i}.txt", "w") as f:
        f.write("\\n".join(_part) + "\\n")
input_pattern = "corpus-*.txt"
output_path = "vocabulary.json"
"""

# Blocks that go on from an earlier one of their file (by first line): they run after it, in file order, in its
# namespace, as a reader follows them.
_README_START = "import keras"
_CONTINUES = {
    "report = words.update_vocabulary(data=new_token_dataset, merge=True, model=model)": _README_START,
    "from keras_vocabsafe import audit_ops, export_for_serving": _README_START,
}
# Blocks that use a name their text describes (by first line): code that makes it, run first.
_CONTEXT = {
    # A fragment in a list of features: the import is the quickstart's.
    'bert = VocabEmbedding(768, vocabulary="vocab.txt", mask_token="[PAD]", oov_token="[UNK]")': (
        "from keras_vocabsafe import VocabEmbedding\n"
    ),
    'path = export_for_serving(model, "models/reviews", warmup_inputs={"text": [["a", "good", "film"]]})': (
        "from keras_vocabsafe import VocabEmbedding, export_for_serving\n"
        'text = keras.Input((None,), dtype="string", name="text")\n'
        'model = keras.Model(text, VocabEmbedding(4, vocabulary=["a", "good"], name="words")(text))\n'
    ),
}
# Every block left out, by where it is and its first line; each is marked `<!-- not run: why -->` in place.
_NOT_RUN = {
    ("keras_vocabsafe/beam.py", "import apache_beam as beam"),  # Reads and writes gs://bucket: needs a cloud project.
}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


def _blocks(path: str) -> list[tuple[str, str, bool]]:
    """(first line, code, run?) for each ```python block of a file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = []
    for match in _FENCE.finditer(text):
        code = textwrap.dedent(match.group("code"))
        before = text[: match.start()].rstrip().splitlines()
        marked = bool(before) and before[-1].strip().startswith("<!-- not run")
        found.append((code.strip().splitlines()[0], code, not marked))
    return found


def _all_blocks() -> dict[str, tuple[str, str, bool]]:
    """Every fenced block of README.md and of the package's sources, by an id naming its file and first line."""
    files = [README] + [
        os.path.join(folder, name)
        for folder, _, names in os.walk(os.path.join(ROOT, "keras_vocabsafe"))
        for name in sorted(names)
        if name.endswith(".py")
    ]
    blocks = {}
    for path in files:
        where = os.path.relpath(path, ROOT)
        for first, code, run in _blocks(path):
            blocks[f"{where}: {first}"] = (where, code, run)
    return blocks


_BLOCKS = _all_blocks()

# Runs every group of blocks in one process (one TensorFlow start-up), each group in a fresh copy of the prelude's
# namespace, its blocks in order, and prints one JSON line: for each block, None or why it failed.
_RUNNER = """
_base = dict(globals())
_environ = dict(os.environ)
_results = {}
for _group in json.loads(sys.argv[1]):
    _namespace = dict(_base)
    os.environ.clear()
    os.environ.update(_environ)  # A block that sets KERAS_BACKEND changes nothing for the next group.
    _failed = None
    for _id, _code in _group:
        if _failed is not None:
            _results[_id] = f"not run: {_failed} failed before it"
            continue
        try:
            exec(compile(_code, _id, "exec"), _namespace)
            _results[_id] = None
        except BaseException:
            _results[_id] = traceback.format_exc()
            _failed = _id
print("RESULTS " + json.dumps(_results))
"""


def _groups() -> list[list[tuple[str, str]]]:
    """Blocks as groups run in one namespace: a block and, in file order, the blocks that go on from it."""
    ids = {(where, code.strip().splitlines()[0]): block_id for block_id, (where, code, _) in _BLOCKS.items()}
    groups: dict[str, list[tuple[str, str]]] = {}
    for block_id, (where, code, run) in _BLOCKS.items():
        if not run:
            continue
        first = code.strip().splitlines()[0]
        if first in _CONTINUES:
            groups[ids[(where, _CONTINUES[first])]].append((block_id, code))
            continue
        context = [(f"{block_id} (context)", _CONTEXT[first])] if first in _CONTEXT else []
        groups[block_id] = [*context, (block_id, code)]
    return list(groups.values())


@pytest.fixture(scope="module")
def block_results(tmp_path_factory):
    import json

    folder = tmp_path_factory.mktemp("examples")
    script = folder / "run_examples.py"
    script.write_text(_PRELUDE + _RUNNER)
    # TMPDIR: the temporary directories the examples leave (Beam's among them) go with pytest's.
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(folder)}
    process = subprocess.run(
        [sys.executable, str(script), json.dumps(_groups())],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULTS ")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return json.loads(lines[-1][len("RESULTS ") :])


@pytest.mark.slow
@pytest.mark.parametrize("block_id", [block_id for block_id, (_, _, run) in _BLOCKS.items() if run])
def test_fenced_python_block_runs(block_id, block_results):
    assert block_results[block_id] is None, block_results[block_id]


def test_every_block_left_out_is_listed_with_its_reason():
    left_out = {(where, code.strip().splitlines()[0]) for where, code, run in _BLOCKS.values() if not run}
    assert left_out == _NOT_RUN


def test_the_readme_has_blocks_to_run():
    assert sum(where == "README.md" and run for where, _, run in _BLOCKS.values()) >= 8


# The command-line transcripts of README.md ------------------------------------------------------------------------

# Each ``` block whose first line starts with `$ vocabsafe` is a transcript: commands (`$ ...`, an optional
# `# exit N: why` after them), each followed by its output. Wrapped lines count as the same text.
_TRANSCRIPT = re.compile(r"^```\n(?P<text>\$ vocabsafe .*?)^```$", re.M | re.S)
_COMMAND = re.compile(r"^\$ (?P<command>vocabsafe [^#\n]*?)\s*(?:#\s*exit (?P<code>\d+)[^\n]*)?$", re.M)


def _readme_commands() -> list[tuple[str, int, str]]:
    """(command, exit code the README gives, 0 if none; the output it shows) for every README transcript."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    found = []
    for block in _TRANSCRIPT.finditer(text):
        commands = list(_COMMAND.finditer(block.group("text")))
        for command, following in zip(commands, [*commands[1:], None]):
            end = following.start() if following else len(block.group("text"))
            output = block.group("text")[command.end() : end]
            found.append((command.group("command"), int(command.group("code") or 0), output))
    return found


def _make_transcript_inputs() -> None:
    """The files the README's transcripts read, made so that the README's output is theirs."""
    import bz2
    import gzip

    import keras

    tokens = keras.Input((None,), dtype="string")
    ids = keras.layers.Reshape((-1,), name="reshape")(
        keras.layers.StringLookup(vocabulary=list("abcd"), name="lk")(tokens)
    )
    keras.Model(tokens, keras.layers.Embedding(4, 3, name="emb")(ids)).save("plain.keras")

    strings, keys = keras.Input((7,), dtype="string"), keras.Input((3,), dtype="int64")
    words = keras.layers.Embedding(12, 4, mask_zero=True, name="emb")(
        keras.layers.StringLookup(vocabulary=list("abcdefg"), mask_token="", name="lk")(strings)
    )
    items = keras.layers.Embedding(4, 4, name="iemb")(
        keras.layers.IntegerLookup(vocabulary=[10, 20, 30], mask_token=None, name="ilk")(keys)
    )
    pooled = [keras.layers.GlobalAveragePooling1D()(words), keras.layers.GlobalAveragePooling1D()(items)]
    keras.Model([strings, keys], keras.layers.Concatenate()(pooled)).save("model.keras")

    from keras_vocabsafe import VocabEmbedding

    reviews = keras.Input((3,), dtype="string", name="tokens")
    words = VocabEmbedding(4, vocabulary=["the", "cat", "sat", "on", "mat"], mask_token="", name="words")
    score = keras.layers.Dense(1, name="score")(keras.layers.GlobalAveragePooling1D()(words(reviews)))
    keras.Model(reviews, score).save("reviews.keras")

    with open("vocab.txt", "w") as f:
        f.write("\n".join(["[PAD]", "[unused0]", "[UNK]", "[CLS]", "the", "cat", "##s"]) + "\n")
    with open("vocab_tft", "w") as f:
        f.write("9 the\n5 new york\n3 a\n1 z\n")
    with open("glove.txt", "w") as f:
        f.write("the 0.1 0.2\ncat 0.3 0.4\ndog 0.5 0.6\n")
    with open("a.txt", "w") as f:
        f.write("the cat sat\ndog\n")
    with gzip.open("b.txt.gz", "wt") as f:
        f.write("the dog cat\n")
    with bz2.open("c.txt.bz2", "wt") as f:
        f.write("dog cat a emu\n")


def test_the_readme_shows_a_transcript_of_every_command_group():
    import argparse

    from keras_vocabsafe.cli import _build_parser

    (subparsers,) = [action for action in _build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    shown = {command.split()[1] for command, _, _ in _readme_commands()}
    assert shown == set(subparsers.choices)


@pytest.mark.slow
@pytest.mark.saving
def test_readme_command_transcripts_give_the_output_and_exit_code_shown(tmp_path, monkeypatch, capsys):
    import shlex

    from keras_vocabsafe.cli import main

    monkeypatch.chdir(tmp_path)
    _make_transcript_inputs()
    capsys.readouterr()
    for command, code, shown in _readme_commands():
        assert main(shlex.split(command)[1:]) == code, command
        printed = capsys.readouterr().out
        assert printed.split() == shown.split(), f"{command}\nREADME:\n{shown}\nprinted:\n{printed}"


def test_the_readme_architecture_names_every_module_of_the_package():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    tree = text[text.index("```\nkeras_vocabsafe/\n") : text.index("\ntests/ ")]
    listed = set(re.findall(r"^  (\w+\.py|\w+/) ", tree, re.M))
    package = os.path.join(ROOT, "keras_vocabsafe")
    modules = {name for name in os.listdir(package) if name.endswith(".py")}
    modules |= {
        name + "/" for name in os.listdir(package) if os.path.isfile(os.path.join(package, name, "__init__.py"))
    }
    assert listed == modules


def test_readme_keras_fit_and_predict_take_string_tensors_not_numpy_string_arrays():
    # The README tells users to pass `tf.constant(...)`: Keras's data adapters refuse NumPy strings.
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_vocabsafe import VocabEmbedding

    layer = VocabEmbedding(2, vocabulary=["a", "b"], mask_token="")
    tokens = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(tokens, keras.layers.GlobalAveragePooling1D()(layer(tokens)))
    model.compile(optimizer="sgd", loss="mse")
    for strings in (np.array([["a", "b"]]), np.array([["a", "b"]], dtype=object)):
        with pytest.raises(ValueError, match="Invalid dtype"):
            model.predict(strings, verbose=0)
    model.fit(tf.constant([["a", "b"]]), np.zeros((1, 2)), verbose=0)
    # Padding masked: the mean is the row of "a", id 2 (mask 0, OOV 1).
    np.testing.assert_allclose(model.predict(tf.constant([["a", ""]]), verbose=0), layer.embeddings.numpy()[[2]])


def test_the_readme_error_table_names_our_errors_with_the_builtins_they_refine():
    import builtins

    from keras_vocabsafe import errors

    with open(README, encoding="utf-8") as f:
        text = f.read()
    table = text[
        text.index("| situation | error |") : text.index("Keras re-raises errors from a layer's weight loading")
    ]
    rows = re.findall(r"^\| .* \| (`\w+`(?: or `\w+`)?)(?: \(([^)]*)\))?[^|]*\|$", table, re.M)
    assert len(rows) == table.count("\n| ") - 1  # Every row but the header and its rule names its errors.
    for names, bases in rows:
        for name in re.findall(r"`(\w+)`", names):
            error = getattr(errors, name)
            assert issubclass(error, errors.VocabSafeError), name
            for base in re.findall(r"`(\w+)`", bases):
                assert issubclass(error, getattr(errors, base, None) or getattr(builtins, base)), (name, base)
