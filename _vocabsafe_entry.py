"""Entry point of the `vocabsafe` console script.

It lives outside the `keras_vocabsafe` package because importing that package imports TensorFlow, whose C++
runtime logs to the process's stderr (file descriptor 2) at import and at first use, whatever
`TF_CPP_MIN_LOG_LEVEL` says. A command line should print only what it means to, so unless `--debug` is given,
descriptor 2 goes to a temporary file for the whole run and Python's `sys.stderr` keeps the real stderr. If
the run dies in native code, the captured log is copied to stderr so that nothing is hidden.
"""

import os
import sys
import tempfile


def main() -> int:
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
            if not completed and not isinstance(sys.exc_info()[1], SystemExit):
                native_log.seek(0)
                sys.stderr.write(native_log.read().decode("utf-8", "replace"))


if __name__ == "__main__":
    sys.exit(main())
