"""File helpers shared by the readers and writers: temporary files beside an output, created with the mode an
ordinary write gives (for atomic outputs), and the UTF-8 byte order mark."""

from __future__ import annotations

import os
import secrets

__all__ = ["UTF8_MARK", "create_file_beside"]

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
