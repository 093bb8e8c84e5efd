"""What every `vocabsafe` command shares: exit codes, text or JSON output, atomic outputs, progress."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import errno
import json
import os
import shlex
import sys
from collections.abc import Iterator
from typing import Any

from keras_vocabsafe._files import create_file_beside, missing_directory, remove_file_beside, replace_atomically

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "CommandError",
    "Output",
    "StdoutError",
    "atomic_file",
    "check_output_path",
    "same_file",
    "utf8_stdout",
    "whole_number",
]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def whole_number(text: str, why: str = "", *, minimum: int = 0) -> int:
    """An argparse value that must be a whole number of `minimum` or more; `why` is added to the messages."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number{why}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {minimum} or more{why}, got {value}")
    return value


def utf8_stdout() -> bool:
    """Whether stdout takes any text as it is (else JSON goes out as ASCII, non-ASCII characters as `\\u` escapes)."""
    try:
        return codecs.lookup(sys.stdout.encoding or "ascii").name == "utf-8"
    except LookupError:
        return False


class CommandError(Exception):
    """A usage or input error a command found itself: printed as one line, exit code 2."""


class StdoutError(CommandError):
    """Standard output took no more (a full disk or a closed file behind `> out.json`): exit code 2."""


class Output:
    """Writes a command's result: text for people by default, one JSON document with `--json`."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode

    def emit(self, text: str, data: Any) -> None:
        """Prints `text`, or `data` as JSON in `--json` mode; a `StdoutError` if stdout cannot take it."""
        if self.json_mode:
            text = json.dumps(data, indent=2, sort_keys=False, ensure_ascii=not utf8_stdout(), default=str)
        try:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # The reader went away (`| head`): `main` stops quietly.
        except OSError as error:
            # What is still buffered would fail again at Python's exit flush, with a traceback and exit code 120.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise StdoutError(f"cannot write to standard output: {error.strerror or error}") from error

    def progress(self, total: int | None, label: str) -> Progress:
        """A progress bar on stderr, shown only when stderr is a terminal (never in `--json` mode or in CI logs)."""
        return Progress(total, label, enabled=not self.json_mode and sys.stderr.isatty())


class Progress:
    """A one-line progress bar: `update(n)` adds `n` steps; `close()` ends the line."""

    def __init__(self, total: int | None, label: str, *, enabled: bool) -> None:
        self.total, self.label, self.enabled, self.done = total, label, enabled, 0
        self._last = -1

    def update(self, steps: int = 1) -> None:
        self.done += steps
        if not self.enabled:
            return
        if self.total:
            percent = min(100, 100 * self.done // self.total)
            if percent == self._last:
                return
            self._last = percent
            bar = "#" * (percent // 4)
            sys.stderr.write(f"\r{self.label} [{bar:<25}] {percent:3d}%")
        else:
            sys.stderr.write(f"\r{self.label} {self.done:,}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_output_path(path: str, *, overwrite: bool, example: str = "out") -> str:
    """The path to write, or a `CommandError` if it is empty, a directory or not a regular file (a pipe or device,
    which the rename would replace), exists (without `overwrite`), or its directory does not exist, is a file or
    takes no new files (checked by creating one, before any slow work).

    A symbolic link is written through, as a shell's `>` does: the path returned is its target's, so that the link
    stays (replacing the link itself with the new file would silently cut it). `example` is the file name a
    message about a directory suggests in it.
    """
    given = os.fspath(path)
    if not given:
        raise CommandError("OUT is empty; pass the path of the file to write.")
    if given.endswith(("/", os.sep)):
        raise CommandError(f"{given} ends with a slash, which names a directory; pass the path of the file to write.")
    path = given
    if os.path.islink(given):
        try:
            os.stat(given)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise CommandError(f"{given} is a symbolic link in a loop ({error.strerror}); fix the link.") from None
        path = os.path.realpath(given)
    shown = given if path == given else f"{given} (a link to {path})"
    if os.path.isdir(path):
        raise CommandError(
            f"{shown} is a directory; pass the path of the file to write, e.g. {os.path.join(given, example)}."
        )
    if os.path.exists(path) and not os.path.isfile(path):
        # A FIFO, a device (/dev/null) or a socket: the new file would replace it, by rename, as root even /dev/null.
        raise CommandError(
            f"{shown} is not a regular file (a pipe, device or socket); pass the path of a file to write (for the "
            "terminal or a pipe, write to a file and read it from there)."
        )
    if os.path.exists(path) and not overwrite:
        raise CommandError(f"{shown} already exists; pass --overwrite to replace it, or choose another path.")
    directory = os.path.dirname(os.path.abspath(path))
    missing = missing_directory(directory, create=f"mkdir -p {shlex.quote(directory)}")
    if missing is not None:
        raise CommandError(f"cannot write {shown}: {missing}.")
    try:
        descriptor, probe = create_file_beside(directory, ".vocabsafe-", ".tmp")
    except OSError as error:
        raise _cannot_create(shown, directory, error) from None
    os.close(descriptor)
    remove_file_beside(probe)
    return path


def _cannot_create(path: str, directory: str, error: OSError) -> CommandError:
    """The `CommandError` for a failure to create a temporary file beside `path`: it names `path` (the temporary
    file's random name means nothing to the user)."""
    return CommandError(
        f"cannot write {path}: no file can be created in {directory} ({error.strerror or error}). Choose a "
        "directory you can write to."
    )


def same_file(first: str, second: str) -> bool:
    """True when two paths name one file, through symlinks, hard links or spelling (`./a` and `a`)."""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # One of them does not exist (yet): they cannot be one file.
        return False


@contextlib.contextmanager
def atomic_file(path: str, suffix: str = "") -> Iterator[str]:
    """Yields a temporary path beside `path`; on success it replaces `path`, on failure it is removed (as
    `replace_atomically` does); a failure to create it or to replace `path` is a `CommandError` naming `path`.

    `suffix` keeps a file extension that writers insist on (Keras saves only to paths ending in `.keras`).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))

    def cannot_replace(error: OSError) -> CommandError:  # OUT became a directory, or is on a mount it cannot replace.
        return CommandError(f"cannot replace {path} ({error.strerror or error}); nothing was written.")

    with replace_atomically(
        path,
        ".vocabsafe-",
        ".tmp" + suffix,
        cannot_create=lambda error: _cannot_create(path, directory, error),
        cannot_replace=cannot_replace,
    ) as temporary:
        yield temporary
