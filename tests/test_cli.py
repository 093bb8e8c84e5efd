"""The `vocabsafe` console script itself: help, version, exit codes and quiet output."""

import keras_vocabsafe
from conftest import run_vocabsafe


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
