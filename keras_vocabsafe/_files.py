"""File helpers shared by the readers and writers: atomic outputs (a file written beside its target with the mode
an ordinary write gives, renamed into place, removed even under a second Ctrl-C), and the UTF-8 byte order mark."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import stat
import threading
from collections.abc import Callable, Iterator

__all__ = [
    "UTF8_MARK",
    "create_file_beside",
    "missing_directory",
    "remove_directory_beside",
    "remove_file_beside",
    "replace_atomically",
]

# The UTF-8 byte order mark, which some editors (Notepad) write at the start of a file: it is not text.
UTF8_MARK = b"\xef\xbb\xbf"


def create_file_beside(directory: str, prefix: str, suffix: str) -> tuple[int, str]:
    """Creates a new, empty file with a random name in `directory`; returns its descriptor (for writing) and path.

    Not `tempfile.mkstemp`: its 0o600 mode would survive the rename into place and hide the file from other users
    (a model server, a colleague). Created with 0o666 the file gets the umask's mode, as `open(path, "w")` gives.
    """
    for _ in range(100):
        path = os.path.join(directory, f"{prefix}{secrets.token_hex(8)}{suffix}")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"Could not create a temporary file in {directory}: every name tried exists.")


@contextlib.contextmanager
def replace_atomically(
    path: str,
    prefix: str,
    suffix: str,
    *,
    cannot_create: Callable[[OSError], BaseException] | None = None,
    cannot_replace: Callable[[OSError], BaseException] | None = None,
) -> Iterator[str]:
    """Yields the path of a new, empty file beside `path` for the block to write; once the block ends, that file
    replaces `path`. On any error or interrupt, in the block or in the rename, it is removed (a second Ctrl-C held
    back meanwhile) and `path` keeps what it held.

    The file is named `prefix`, random characters, `suffix` (writers such as Keras insist on an extension). A
    symbolic link is written through, as `open(path, "w")` does: its target is replaced and the link stays. The new
    file gets the permission bits of the file it replaces, as an ordinary write into that file keeps them, else
    the umask's. Nothing is synced to disk here: a block that wants it calls `os.fsync`.

    `cannot_create` and `cannot_replace` turn the `OSError` of creating the file or of the rename into the caller's
    own error (the file's random name means nothing to the user); without them the `OSError` is raised as it is.
    """
    if os.path.islink(path):
        path = os.path.realpath(path)
    try:
        descriptor, temporary = create_file_beside(os.path.dirname(os.path.abspath(path)), prefix, suffix)
    except OSError as error:
        if cannot_create is None:
            raise
        raise cannot_create(error) from None
    try:
        os.close(descriptor)
        yield temporary
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        try:
            os.replace(temporary, path)
        except OSError as error:
            if cannot_replace is None:
                raise
            raise cannot_replace(error) from None
    except BaseException:  # KeyboardInterrupt too: `path` keeps what it held.
        with contextlib.suppress(OSError):
            remove_file_beside(temporary)
        raise


def missing_directory(directory: str, create: str = "`os.makedirs(directory, exist_ok=True)`") -> str | None:
    """What stands where the directory `directory` should be, and the fix, said for an error message; None when it
    is a directory. `create`: how to create a missing one, as the caller's user would (Python, or a shell)."""
    if os.path.isdir(directory):
        return None
    blocking = directory
    while not os.path.lexists(blocking) and os.path.dirname(blocking) != blocking:
        blocking = os.path.dirname(blocking)
    if os.path.exists(blocking) and not os.path.isdir(blocking):
        return f"'{blocking}' is a file, not a directory. Save elsewhere, or move that file away first"
    return f"the directory '{directory}' does not exist. Create it first ({create}), or save elsewhere"


def remove_file_beside(path: str) -> None:
    """Removes the temporary file `path` if it exists. A Ctrl-C meanwhile (often a second one, pressed while the
    first unwinds) waits until the file is gone and is raised then, so it cannot leave the file behind."""
    with _interrupts_held(), contextlib.suppress(FileNotFoundError):
        os.remove(path)


def remove_directory_beside(path: str) -> None:
    """Removes the temporary directory `path` and everything in it, if it exists, holding back a Ctrl-C meanwhile
    as `remove_file_beside` does."""
    with _interrupts_held():
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Holds SIGINT back during the block and delivers it, to the handler that was in place, after it.

    Not `pthread_sigmask`: the kernel would hand the signal to another thread (TensorFlow starts many), whose C
    handler still has Python raise `KeyboardInterrupt` in the main thread. Python handlers run only in the main
    thread, so elsewhere there is nothing to hold back; neither is there under a handler installed outside Python.

    A Ctrl-C that comes while the hold is being put in place is held too: `signal.signal()` first runs the handler
    of a SIGINT already pending (Python's raises `KeyboardInterrupt`), so that one is kept and raised after the block.
    """
    early: KeyboardInterrupt | None = None
    received: list[int] = []
    while True:
        try:
            previous = signal.getsignal(signal.SIGINT)
            if previous is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
            else:
                previous = None
            break
        except KeyboardInterrupt as interrupt:  # Not yet held: hold it, and try again.
            early = early or interrupt
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if early is not None:
            raise early
        if received:
            signal.raise_signal(signal.SIGINT)
