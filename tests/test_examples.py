"""The examples run end to end, as the README runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, workdir: Path) -> str:
    """Runs `examples/<name>` in a new process; returns its output after checking it exited 0."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONIOENCODING="utf-8")
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.mark.slow
@pytest.mark.saving
def test_quickstart_reloads_and_serves_identical_predictions(tmp_path: Path) -> None:
    output = run_example("quickstart.py", tmp_path)
    assert "reloaded in a new process: vocabulary identical" in output
    assert "reloaded in a new process: predictions identical" in output
    assert "served in a TensorFlow-only process: predictions identical" in output
    assert (tmp_path / "model.keras").is_file()
    assert (tmp_path / "export" / "saved_model.pb").is_file()


@pytest.mark.slow
def test_pretrained_vectors_example_reports_coverage_and_reloads(tmp_path: Path) -> None:
    output = run_example("pretrained_vectors.py", tmp_path)
    assert "most notable missing: 'zyzzyva'" in output
    assert "embedding rows unchanged by training: True" in output
    assert "same rows True" in output and "same predictions after reload: True" in output


@pytest.mark.slow
@pytest.mark.saving
def test_grow_vocabulary_example_keeps_rows_and_keeps_training(tmp_path: Path) -> None:
    output = run_example("grow_vocabulary.py", tmp_path)
    assert "every old token's row unchanged: True" in output
    assert "loss went down: True" in output
    assert "reloaded: same shapes True, same predictions True" in output
    assert "plain load_weights of the old file: refused" in output
    assert "old rows restored by token: True" in output


@pytest.mark.slow
@pytest.mark.saving
def test_text_classifier_reloads_and_serves_raw_strings(tmp_path: Path) -> None:
    output = run_example("text_classifier.py", tmp_path)
    assert "reloaded: predictions identical" in output
    assert "it runs with TensorFlow alone" in output
    assert "served in a TensorFlow-only process: predictions identical" in output
    assert (tmp_path / "model.keras").is_file()
    assert (tmp_path / "serving" / "1" / "saved_model.pb").is_file()
