"""Entry point of the `vocabsafe` console script.

It lives outside the `keras_vocabsafe` package because importing that package imports TensorFlow, whose C++
runtime logs to the process's stderr (file descriptor 2) at import and at first use, whatever
`TF_CPP_MIN_LOG_LEVEL` says. A command line should print only what it means to, so unless `--debug` is given,
descriptor 2 goes to a temporary file for the whole run and Python's `sys.stderr` keeps the real stderr. If
the run dies in native code, the captured log is copied to stderr so that nothing is hidden.

A Ctrl-C (`KeyboardInterrupt`) at any point, the TensorFlow import included, ends the run with the one line
"vocabsafe: interrupted" on stderr, not a traceback; files are written beside their target and renamed into
place, so none is left half-written. The process then ends by SIGINT, as Python ends on an unhandled Ctrl-C: a
shell reports exit status 130, and a shell loop running the command stops (a shell takes a child's plain exit,
even with 130, to mean the child handled the Ctrl-C itself, and goes on with the loop).
"""

import os
import sys
import tempfile
from typing import Any

INTERRUPTED = "vocabsafe: interrupted"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C (`cli.main` returns it).


def main() -> int:
    try:
        code = _run()
    except KeyboardInterrupt:
        code = interrupted()
    if code == EXIT_INTERRUPTED:  # Only `interrupted()` gives this code.
        # Python ends by SIGINT (after its normal shutdown) when a KeyboardInterrupt leaves the main module, on POSIX;
        # the hook keeps the traceback off stderr, where the line has been said already.
        sys.excepthook = _silent_interrupt(sys.excepthook)
        raise KeyboardInterrupt
    return code


def _silent_interrupt(hook: Any) -> Any:
    def excepthook(kind: type[BaseException], value: BaseException, traceback: Any) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            hook(kind, value, traceback)

    return excepthook


def interrupted() -> int:
    """Says on stderr that a Ctrl-C ended the run; returns the exit code for it. Defined here, where it works before
    the package imports, and used by `keras_vocabsafe.cli.main` for a Ctrl-C once it runs."""
    print(INTERRUPTED, file=sys.stderr)
    return EXIT_INTERRUPTED


def _run() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "--debug" in sys.argv[1:]:
        from keras_vocabsafe.cli import main as run

        return run()
    real_stderr = os.dup(2)
    sys.stderr.flush()
    with tempfile.TemporaryFile() as native_log:
        os.dup2(native_log.fileno(), 2)
        sys.stderr = open(real_stderr, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")  # noqa: SIM115 (lives for the run)
        completed = False
        try:
            from keras_vocabsafe.cli import main as run

            code = run()
            completed = True
            return code
        finally:
            sys.stderr.flush()
            os.dup2(real_stderr, 2)
            if not completed and not isinstance(sys.exc_info()[1], (SystemExit, KeyboardInterrupt)):
                native_log.seek(0)
                sys.stderr.write(native_log.read().decode("utf-8", "replace"))


if __name__ == "__main__":
    sys.exit(main())
