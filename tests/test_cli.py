"""The `vocabsafe` console script itself: help, version, exit codes and quiet output."""

import os
import re
from shutil import which as shutil_which

import pytest

import keras_vocabsafe
from conftest import run_vocabsafe
from keras_vocabsafe.cli._output import CommandError, atomic_file


def test_help_lists_every_command_and_exits_0():
    result = run_vocabsafe("--help")
    assert result.returncode == 0, result.stderr
    for command in ("inspect", "convert", "export", "audit", "vocab", "vectors"):
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


def test_a_second_ctrl_c_while_an_interrupted_write_is_removed_leaves_nothing_beside(tmp_path, ctrl_c_while_removing):
    out = tmp_path / "out.npy"
    removed = ctrl_c_while_removing(tmp_path)
    with pytest.raises(KeyboardInterrupt), atomic_file(str(out)) as temporary:
        with open(temporary, "wb") as file:
            file.write(b"half")
        raise KeyboardInterrupt  # The first Ctrl-C, mid-write.
    assert len(removed) == 1 and removed[0].startswith(".vocabsafe-")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX signals")
def test_ctrl_c_twice_ends_by_sigint_with_one_line_and_leaves_no_temporary_file(tmp_path):
    # Real signals in a real run of the command line: the first Ctrl-C lands as the written vocabulary is renamed
    # into place, the second while its temporary file is removed (the moments are forced, so the test is exact).
    import signal
    import subprocess
    import sys
    import textwrap

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat\nthe dog\n", encoding="utf-8")
    out = tmp_path / "vocab.txt"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        real_replace, real_remove, real_unlink = os.replace, os.remove, os.unlink
        ctrl_c_sent = []

        def replace(source, target, *args, **kwargs):
            if os.fspath(target) == {str(out)!r}:
                ctrl_c_sent.append(1)
                signal.raise_signal(signal.SIGINT)
            return real_replace(source, target, *args, **kwargs)

        def interrupted(real):
            def remove(path, *args, **kwargs):
                if ctrl_c_sent and os.path.dirname(os.fspath(path)) == {str(tmp_path)!r}:
                    signal.raise_signal(signal.SIGINT)
                return real(path, *args, **kwargs)
            return remove

        os.replace, os.remove, os.unlink = replace, interrupted(real_remove), interrupted(real_unlink)
        import _vocabsafe_entry
        sys.argv = ["vocabsafe", "vocab", "build", {str(corpus)!r}, "-o", {str(out)!r}]
        sys.exit(_vocabsafe_entry.main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert result.returncode == -signal.SIGINT, result.stderr  # Ended by SIGINT: a shell says 130.
    assert result.stderr == "vocabsafe: interrupted\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]


def _interrupted_run(tmp_path, wait_until):
    """Starts `vocabsafe vectors align` reading its vocabulary from a FIFO, sends it SIGINT once `wait_until(process,
    fifo)` is true, and returns (exit code, stderr, files in the output directory)."""
    import shutil
    import signal
    import subprocess
    import sys

    (tmp_path / "glove.txt").write_text("the 1.0 2.0\ncat 3.0 4.0\n", encoding="utf-8")
    fifo = tmp_path / "vocab.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    out.mkdir()
    script = shutil.which("vocabsafe", path=os.path.dirname(sys.executable))
    assert script is not None
    process = subprocess.Popen(
        [script, "vectors", "align", str(tmp_path / "glove.txt"), "--vocab", str(fifo), "-o", str(out / "a.npy")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        # A shell without job control starts background jobs with SIGINT ignored, and the child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    writer = None
    try:
        import time

        deadline = time.monotonic() + 300
        while (writer := wait_until(process, fifo)) is None:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the command never reached the point to interrupt"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        if isinstance(writer, int) and not isinstance(writer, bool):
            # The kernel may hand SIGINT to one of TensorFlow's threads: Python then runs its handler when the main
            # thread's blocking read returns, as it does for a user's Ctrl-C. End the read (EOF) so that it does.
            time.sleep(0.2)
            os.close(writer)
            writer = None
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if isinstance(writer, int) and not isinstance(writer, bool):  # The FIFO writer held open.
            os.close(writer)
    return process.returncode, err, sorted(os.listdir(out))


def _importing_tensorflow(process, fifo):
    """True once the process has loaded TensorFlow's library: it is importing it (seconds of work) or past it."""
    with open(f"/proc/{process.pid}/maps", encoding="utf-8", errors="replace") as maps:
        return True if "libtensorflow" in maps.read() else None


def _reading_the_fifo(process, fifo):
    """A writer's descriptor once the process has the FIFO open to read (it then blocks reading it), else None."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader yet.
        return None


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc and FIFOs")
@pytest.mark.parametrize("wait_until", [_importing_tensorflow, _reading_the_fifo], ids=["import", "reading"])
def test_ctrl_c_ends_by_sigint_with_one_line_and_leaves_no_file(tmp_path, wait_until):
    import signal

    code, err, left = _interrupted_run(tmp_path, wait_until)
    assert code == -signal.SIGINT, err  # As Python ends on an unhandled Ctrl-C; a shell reports 130.
    assert err == "vocabsafe: interrupted\n"  # No traceback, nor TensorFlow's captured log.
    assert left == []


def test_a_ctrl_c_in_a_command_called_in_process_returns_130_with_the_console_script_line(
    tmp_path, capsys, monkeypatch
):
    # `keras_vocabsafe.cli.main` called directly (no console script around it) says what the script says.
    from keras_vocabsafe.cli import main

    def first_ctrl_c(source, target):
        raise KeyboardInterrupt  # Lands as the built vocabulary is renamed into place.

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat\n", encoding="utf-8")
    monkeypatch.setattr(os, "replace", first_ctrl_c)
    code = main(["vocab", "build", str(corpus), "-o", str(tmp_path / "vocab.txt")])
    assert (code, capsys.readouterr().err) == (130, "vocabsafe: interrupted\n")
    assert [p.name for p in tmp_path.iterdir()] == ["corpus.txt"]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/maps") or not shutil_which("bash"), reason="needs Linux and bash")
def test_a_ctrl_c_stops_a_shell_loop_that_runs_the_command(tmp_path):
    # A terminal's Ctrl-C signals the whole foreground process group: the shell and the command. The shell goes on
    # with its loop if the command exits (even with 130), and stops if the command ends by SIGINT.
    import shlex
    import signal
    import subprocess
    import sys
    import time

    script = os.path.join(os.path.dirname(sys.executable), "vocabsafe")
    fifo = tmp_path / "vocab.fifo"
    os.mkfifo(fifo)
    (tmp_path / "glove.txt").write_text("the 1.0 2.0\n", encoding="utf-8")
    command = shlex.join([script, "vectors", "align", str(tmp_path / "glove.txt"), "--vocab", str(fifo), "-o"])
    loop = f"for i in 1 2; do {command} {shlex.quote(str(tmp_path / 'out'))}$i.npy; echo after $i; done"
    shell = subprocess.Popen(
        ["bash", "-c", loop],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Its own process group, signalled as a terminal would.
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    writer = None
    try:
        deadline = time.monotonic() + 300
        while writer is None:
            assert shell.poll() is None, shell.communicate()
            assert time.monotonic() < deadline, "the command never opened its vocabulary"
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # Once the command has it open to read.
            except OSError:
                time.sleep(0.05)
        os.killpg(shell.pid, signal.SIGINT)
        time.sleep(0.2)
        os.close(writer)  # The read returns (EOF), so the main thread runs Python's handler if a thread got it.
        writer = None
        out, err = shell.communicate(timeout=120)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
        if writer is not None:
            os.close(writer)
    assert "vocabsafe: interrupted" in err
    assert "after" not in out, (out, err)
    assert shell.returncode == -signal.SIGINT, err
