"""The `vocabsafe` console script itself: help, version, exit codes and quiet output."""

import os
import re

import pytest

import keras_vocabsafe
from conftest import run_vocabsafe
from keras_vocabsafe.cli._output import CommandError, atomic_file


def test_help_lists_every_command_and_exits_0():
    result = run_vocabsafe("--help")
    assert result.returncode == 0, result.stderr
    for command in ("inspect", "convert", "vocab", "vectors"):
        assert command in result.stdout
    assert result.stderr == ""


def test_version_is_the_package_version():
    result = run_vocabsafe("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"vocabsafe {keras_vocabsafe.__version__}"


def test_usage_error_exits_2_with_usage_on_stderr():
    result = run_vocabsafe("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert result.stdout == ""


def test_tensorflow_start_up_logs_stay_out_of_stderr(tmp_path):
    result = run_vocabsafe("vocab", "show", tmp_path / "missing.txt", "--json")
    assert result.returncode == 2
    assert "absl" not in result.stderr and "oneDNN" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_console_that_cannot_show_the_text_gets_escapes_and_valid_json(tmp_path):
    # An ASCII (or cp1252) console: the output must not stop at the first character it cannot show, after the
    # converted file is written, and --json must stay one valid document.
    import json

    import keras

    source = tmp_path / "mödel 模型.keras"
    strings = keras.Input((None,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=["猫", "犬"], name="lk")
    keras.Model(strings, keras.layers.Embedding(3, 2, name="emb")(lookup(strings))).save(source)
    ascii_console = {"PYTHONIOENCODING": "ascii"}
    out = tmp_path / "out ✓.keras"
    converted = run_vocabsafe("convert", source, out, env=ascii_console)
    assert converted.returncode == 0, converted.stderr
    assert out.exists() and "out \\u2713.keras" in converted.stdout
    inspected = run_vocabsafe("inspect", source, "--json", env=ascii_console)
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["source"] == str(source)


def test_an_out_that_cannot_be_replaced_is_named_and_nothing_is_left_beside_it(tmp_path):
    out = tmp_path / "out.npy"
    expected = rf"cannot replace {re.escape(str(out))} \(.+\); nothing was written"
    with pytest.raises(CommandError, match=expected), atomic_file(str(out)) as temporary:
        with open(temporary, "wb") as file:
            file.write(b"written")
        os.mkdir(out)  # OUT turned into a directory after it was checked: the rename into place fails.
        (out / "kept").write_text("")
    assert sorted(os.listdir(tmp_path)) == ["out.npy"] and os.listdir(out) == ["kept"]
