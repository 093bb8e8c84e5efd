"""`verbose` on long operations: a Keras progress bar when asked (or on a terminal), silence otherwise, and
start/end summaries logged at INFO on the `keras_vocabsafe` logger."""

import gzip
import json
import logging
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vocabsafe import TextVocabEmbedding, VocabEmbedding, align_vectors, export_for_serving, load_vectors
from keras_vocabsafe.corpus import vocabulary_from_files
from keras_vocabsafe.errors import ConfigurationError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# 40 batches of 50 tokens: 2,000 tokens in all, of 10 distinct tokens (t0..t9), 200 of each.
BATCHES = [np.array([f"t{(i + j) % 10}" for j in range(50)]) for i in range(40)]


def _records(caplog):
    return [record.getMessage() for record in caplog.records if record.name == "keras_vocabsafe"]


def test_adapt_with_verbose_1_shows_a_bar_of_tokens_and_a_summary(capsys):
    VocabEmbedding(2, name="shown").adapt(tf.data.Dataset.from_tensor_slices(np.stack(BATCHES)), verbose=1)
    out = capsys.readouterr().out
    assert "/Unknown" in out and "/token" in out  # Progbar with an unknown total, counting tokens.
    assert "'shown'.adapt(): counted 2,000 tokens, 10 distinct" in out
    assert "'shown'.adapt(): kept 10 tokens" in out


def test_adapt_with_verbose_2_prints_the_summary_without_a_bar(capsys):
    VocabEmbedding(2, name="quiet_bar").adapt(BATCHES, verbose=2)
    out = capsys.readouterr().out
    assert "/Unknown" not in out and "\r" not in out
    assert out.splitlines() == [
        out.splitlines()[0],
        "VocabEmbedding 'quiet_bar'.adapt(): kept 10 tokens",
    ]
    assert out.splitlines()[0].startswith("VocabEmbedding 'quiet_bar'.adapt(): counted 2,000 tokens, 10 distinct, in ")


def test_adapt_with_verbose_0_prints_nothing(capfd):
    VocabEmbedding(2).adapt(BATCHES, verbose=0)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert "token" not in captured.err


def test_adapt_is_silent_by_default_when_stdout_is_not_a_terminal(capsys):
    assert not sys.stdout.isatty()  # pytest captures stdout
    VocabEmbedding(2).adapt(BATCHES)
    assert capsys.readouterr().out == ""


def test_adapt_logs_its_start_and_summary_at_info(caplog):
    with caplog.at_level(logging.INFO, logger="keras_vocabsafe"):
        VocabEmbedding(2, name="logged").adapt(BATCHES, verbose=0)
    messages = _records(caplog)
    assert messages[0] == "VocabEmbedding 'logged'.adapt(): counting tokens (budget 1,048,576 distinct)"
    assert any(m.startswith("VocabEmbedding 'logged'.adapt(): counted 2,000 tokens, 10 distinct") for m in messages)
    assert messages[-1] == "VocabEmbedding 'logged'.adapt(): kept 10 tokens"
    assert all(record.levelno == logging.INFO for record in caplog.records if record.name == "keras_vocabsafe")


def test_adapt_past_the_budget_shows_the_second_reading(capsys):
    # 11 distinct tokens, budget 5: t0 is seen 100 times, t1..t10 10 times each (N = 200, bound 200 / 6 = 33).
    data = [np.array(["t0"] * 100)] + [np.array([f"t{i}"] * 10) for i in range(1, 11)]
    layer = VocabEmbedding(2, name="budgeted")
    layer.adapt(data, budget=5, verbose=1)
    out = capsys.readouterr().out
    assert "reading the data a second time" in out
    assert "recounted 200 tokens" in out
    assert layer.get_vocabulary() == ["[UNK]", "t0"]


@pytest.mark.parametrize("verbose", ["yes", 3, -1, 1.5, None])
def test_bad_verbose_is_refused_with_the_accepted_values(verbose):
    with pytest.raises(ConfigurationError, match=r"`verbose` must be 'auto'.*Received: verbose="):
        VocabEmbedding(2).adapt(BATCHES, verbose=verbose)


def test_text_adapt_takes_verbose(capsys):
    layer = TextVocabEmbedding(2, name="text")
    layer.adapt(["The cat sat.", "the dog!"], verbose=1)
    out = capsys.readouterr().out
    assert "'text'.adapt(): counted 5 tokens, 4 distinct" in out  # the, cat, sat, the, dog.
    assert "'text'.adapt(): kept 4 tokens" in out


def test_update_vocabulary_tells_what_it_did(capsys, caplog):
    layer = VocabEmbedding(2, vocabulary=["a", "b"], name="grown")
    layer.build()
    with caplog.at_level(logging.INFO, logger="keras_vocabsafe"):
        layer.update_vocabulary(["b", "c", "d"], verbose=2)
    # [UNK] a b -> [UNK] b c d: b moves from id 2 to id 1.
    expected = "'grown'.update_vocabulary(): 3 -> 4 ids; kept 1 tokens (1 with a new id), added 2, dropped 1"
    assert capsys.readouterr().out.splitlines() == [expected]
    assert _records(caplog)[-1] == expected


def test_update_vocabulary_from_data_shows_its_counting(capsys):
    layer = VocabEmbedding(2, vocabulary=["a"], name="merged")
    layer.build()
    layer.update_vocabulary(data=[["a", "x", "x"]], merge=True, verbose=1)
    out = capsys.readouterr().out
    assert "'merged'.update_vocabulary(): counted 3 tokens, 2 distinct" in out
    assert "'merged'.update_vocabulary(): 2 -> 3 ids" in out


def _write_vectors(path, rows, dim=4):
    with open(path, "w") as f:
        for i in range(rows):
            f.write(f"w{i} " + " ".join(f"{(i + k) / 10:.1f}" for k in range(dim)) + "\n")


def test_load_vectors_shows_the_bytes_read(tmp_path, capsys):
    path = tmp_path / "vectors.txt"
    _write_vectors(path, 3000)
    size = os.path.getsize(path)
    vectors = load_vectors(path, verbose=1)
    out = capsys.readouterr().out
    assert len(vectors) == 3000
    target = f"/{int(size / 1000)}"  # Files under 10 MB are counted in kB, with the file's size as the target.
    assert target in out and "/kB" in out
    assert f"load_vectors(): read 3,000 vectors of 4 dimensions from {str(path)!r} in " in out


def test_load_vectors_of_a_compressed_file_counts_compressed_bytes(tmp_path, capsys):
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt") as f:
        for i in range(2000):
            f.write(f"w{i} 0.5 0.25\n")
    load_vectors(path, verbose=1)
    out = capsys.readouterr().out
    assert f"/{int(os.path.getsize(path) / 1000)}" in out  # The target is the size on disk, not decompressed.
    assert "read 2,000 vectors of 2 dimensions" in out


def test_load_vectors_is_silent_by_default_and_logs(tmp_path, capsys, caplog):
    path = tmp_path / "vectors.txt"
    _write_vectors(path, 10)
    with caplog.at_level(logging.INFO, logger="keras_vocabsafe"):
        load_vectors(path)
    assert capsys.readouterr().out == ""
    messages = _records(caplog)
    assert messages[0] == f"load_vectors(): reading {path} (glove format, 4 dimensions)"
    assert messages[-1].startswith(f"load_vectors(): read 10 vectors of 4 dimensions from {str(path)!r}")


def test_align_vectors_reports_coverage(tmp_path, capsys):
    path = tmp_path / "vectors.txt"
    _write_vectors(path, 10)
    align_vectors(path, ["w1", "w2", "zz"], verbose=2)
    out = capsys.readouterr().out
    assert out.startswith("align_vectors(): found vectors for 2 of 3 tokens (66.7%) from ")


def test_load_pretrained_and_from_pretrained_take_verbose(tmp_path, capfd):
    path = tmp_path / "vectors.txt"
    _write_vectors(path, 10)
    layer = VocabEmbedding(4, vocabulary=["w1", "w2", "zz"])
    layer.load_pretrained(path, verbose=2)
    assert capfd.readouterr().out.startswith("align_vectors(): found vectors for 2 of 3 tokens (66.7%) from ")
    layer.load_pretrained(path, verbose=0)
    VocabEmbedding.from_pretrained(path, verbose=0)
    assert capfd.readouterr().out == ""
    VocabEmbedding.from_pretrained(path, max_tokens=4, verbose=2)
    out = capfd.readouterr().out
    # max_tokens=4: the OOV row and 3 words; one row more is read, in case the OOV token is among them.
    assert "load_vectors(): read 4 vectors of 4 dimensions" in out
    assert "align_vectors(): found vectors for 3 of 3 tokens (100.0%)" in out


@pytest.mark.parametrize("call", ["load_pretrained", "from_pretrained"])
def test_pretrained_refuses_a_bad_verbose_before_reading_the_file(tmp_path, call):
    missing = tmp_path / "absent.txt"  # Read first, it would raise a VectorFileError.
    with pytest.raises(ConfigurationError, match=r"_pretrained\(\): `verbose` must be 'auto'.*Received: verbose=3"):
        if call == "load_pretrained":
            VocabEmbedding(4, vocabulary=["a"]).load_pretrained(missing, verbose=3)
        else:
            VocabEmbedding.from_pretrained(missing, verbose=3)


def test_vocabulary_from_files_shows_bytes_and_both_readings(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    # "a" 300 times, then 20 other words 5 times each: 400 tokens, 21 distinct; budget 4 forces a second reading.
    corpus.write_text("a a a\n" * 100 + "".join(f"w{i}\n" * 5 for i in range(20)))
    vocabulary = vocabulary_from_files(corpus, budget=4, verbose=1)
    out = capsys.readouterr().out
    assert list(vocabulary.tokens) == [b"a"]
    assert "/kB" in out
    assert "reading the files a second time" in out
    assert f"vocabulary_from_files(): 1 tokens from 1 file(s), {os.path.getsize(corpus):,} bytes, read 2 time(s)" in out


def test_vocabulary_from_files_is_silent_by_default(tmp_path, capfd):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat\n")
    vocabulary_from_files(corpus)
    assert capfd.readouterr().out == ""


@pytest.mark.slow
def test_export_for_serving_shows_its_steps(tmp_path, capsys, caplog):
    tokens = keras.Input((None,), dtype="string", name="tokens")
    model = keras.Model(tokens, VocabEmbedding(2, vocabulary=["a", "b"], name="emb")(tokens))
    with caplog.at_level(logging.INFO, logger="keras_vocabsafe"):
        path = export_for_serving(model, tmp_path / "serving", verbose=1)
    out = capsys.readouterr().out
    # serving_default, serve, vocabulary_emb, token_to_id_emb, writing, publishing.
    assert "6/6" in out and "/step" in out
    summary = f"export_for_serving(): wrote version 1 of '{model.name}' to {path!r} in "
    assert summary in out
    assert out.rstrip().endswith("signatures: serving_default, vocabulary_emb, token_to_id_emb")
    assert _records(caplog)[-1].startswith(summary)
    export_for_serving(model, tmp_path / "serving", verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_auto_shows_the_bar_on_a_terminal_unless_interactive_logging_is_off(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import keras
        from keras_vocabsafe import VocabEmbedding
        assert sys.stdout.isatty()
        VocabEmbedding(2, name="on_tty").adapt([["a", "b", "a"]])
        keras.config.disable_interactive_logging()
        VocabEmbedding(2, name="logging_off").adapt([["a", "b", "a"]])
        """
    )
    leader, follower = os.openpty()
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=follower, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # The terminal closes (EIO) when the child exits.
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    text = output.decode("utf-8", "replace")
    assert "/Unknown" in text
    assert "'on_tty'.adapt(): counted 3 tokens, 2 distinct" in text
    assert "logging_off" not in text  # Keras's interactive logging off: "auto" is silent.


@pytest.mark.slow
def test_auto_shows_the_bar_in_a_jupyter_notebook(tmp_path):
    # A real kernel, as a notebook runs one: its stdout is no terminal, yet the notebook shows Keras's bars.
    jupyter_client = pytest.importorskip("jupyter_client")  # In the test extra: this never skips in CI.
    code = textwrap.dedent(
        """
        import io, contextlib
        from keras_vocabsafe import VocabEmbedding
        VocabEmbedding(2, name="in_notebook").adapt([["a", "b", "a"]])
        with contextlib.redirect_stdout(io.StringIO()):  # Output kept from the notebook: "auto" is silent.
            VocabEmbedding(2, name="redirected").adapt([["a", "b", "a"]])
        """
    )
    # The kernel runs this test's Python, whatever kernels the machine has installed.
    spec = tmp_path / "kernels" / "vocabsafe_test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "test", "language": "python"}))
    specs = jupyter_client.kernelspec.KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    manager = jupyter_client.KernelManager(kernel_name="vocabsafe_test", kernel_spec_manager=specs)
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    manager.start_kernel(env=env, cwd=str(tmp_path))
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=120)
        outputs = []
        reply = client.execute_interactive(
            code, timeout=180, output_hook=lambda message: outputs.append(message), store_history=False
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = "".join(
        m["content"]["text"] for m in outputs if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )
    assert "/Unknown" in text
    assert "'in_notebook'.adapt(): counted 3 tokens, 2 distinct" in text
    assert "redirected" not in text
