"""The `vocabsafe` command line: inspect, convert and export saved models, show and compare vocabularies, align
vectors.

Exit codes, for CI jobs:

- 0: done, nothing to report (or only notes);
- 1: the command ran and found problems (an `inspect` error or warning);
- 2: usage or input error: a bad argument, or a file that is missing, unreadable, truncated or of the wrong
  kind. One line on stderr says which and how to fix it (with `--json`, also `{"error": ..., "exit_code": 2}`
  on stdout); `--debug` adds the traceback;
- 130: interrupted (Ctrl-C): the one line "vocabsafe: interrupted" on stderr; no file is left half-written
  (each is written beside its target and renamed into place). `main()` returns 130; the console script then
  ends by SIGINT, as Python does on an unhandled Ctrl-C, which a shell reports as 130 (and a shell loop stops);
- 141: the reader of stdout went away (`vocabsafe ... | head`).

Every command takes `--json` (one JSON document on stdout instead of text) and `--debug`. Each command lives
in its own module of this package and registers itself in `_COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence

from _vocabsafe_entry import interrupted
from keras_vocabsafe.cli._output import EXIT_USAGE, CommandError, Output, StdoutError, utf8_stdout

__all__ = ["main"]

# Module name (inside this package) of every command group, in the order `--help` lists them.
_COMMANDS = ("inspect", "convert", "export", "vocab", "vectors")


def _build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (each command module adds its own subparser)."""
    import importlib

    from keras_vocabsafe import __version__

    parser = argparse.ArgumentParser(
        prog="vocabsafe",
        description=(
            "Find and fix vocabulary/embedding mismatches in Keras models, export them for serving, and read, "
            "compare and convert vocabularies. Exit codes: 0 fine, 1 problems found, 2 usage or input error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"vocabsafe {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of text")
    common.add_argument("--debug", action="store_true", help="print the traceback of an error")
    for name in _COMMANDS:
        module = importlib.import_module(f"keras_vocabsafe.cli._{name}_command")
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `vocabsafe` with `argv` (default: the process's arguments) and returns its exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # A console that cannot show a token or path (ASCII, cp1252) gets it as a backslash escape, which JSON reads
    # back as the same character: failing mid-output would break `--json` and exit 2 after writing a file.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = _build_parser()
    args = parser.parse_args(argv)
    output = Output(json_mode=args.json)
    try:
        return int(args.run(args, output))
    except KeyboardInterrupt:
        # Not "no output was written": a file may already be in place (each is written beside and renamed) and
        # stdout partly printed. The line is `_vocabsafe_entry`'s, which says it for a Ctrl-C before this point.
        return interrupted()
    except BrokenPipeError:
        # The reader of stdout went away (`vocabsafe ... | head`): stop quietly, as command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as error:  # Every failure is one line (and exit 2) unless --debug asks for more.
        if args.debug:
            traceback.print_exc()
        message = _one_line(error)
        print(f"vocabsafe {args.command}: error: {message}", file=sys.stderr)
        if args.json and not isinstance(error, StdoutError):  # A CI job parsing stdout gets a document, not nothing.
            print(json.dumps({"error": message, "exit_code": EXIT_USAGE}, ensure_ascii=not utf8_stdout()))
        if not args.debug and not isinstance(error, _EXPECTED):
            print("vocabsafe: this looks like a bug; rerun with --debug and report the traceback.", file=sys.stderr)
        return EXIT_USAGE


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    return " ".join(text.split())


def _expected_errors() -> tuple[type[BaseException], ...]:
    from keras_vocabsafe.errors import VocabSafeError

    return (VocabSafeError, CommandError, OSError, ValueError)


_EXPECTED = _expected_errors()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
