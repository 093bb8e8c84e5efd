"""Streaming readers for pretrained vector files.

Each reader yields `Chunk`s of rows: the rows' words (bytes) and a
`parse(positions)` that turns only the chosen rows into a float32
matrix, so rows that nobody asked for are never parsed nor kept. Nothing is
allocated from a header's claims: rows are read as the file delivers them and
a header that promises more than the file holds is an error at the end.

Text rows are parsed by NumPy's C line reader, which holds the GIL, so threads
cannot share the work. For a full load of a large file, `ChunkParser` sends
chunks' number text to a child Python process that imports only NumPy and
parses them with the same call (same values, same acceptance), while the
calling process reads on and parses other chunks: two cores.

Formats: GloVe text (no header), word2vec text and fastText `.vec` (a
`count dim` header line), word2vec binary, each optionally gzip-, bz2- or
xz-compressed (detected by magic bytes); and a `.npy` matrix with a
vocabulary file.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import select
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import IO, Any, NoReturn, cast

import numpy as np

from keras_vocabsafe._files import UTF8_MARK
from keras_vocabsafe.errors import ConfigurationError, VectorFileError

try:
    import fcntl  # POSIX only; without it every row is parsed in this process.
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FORMATS = ("glove", "word2vec", "fasttext", "word2vec_binary", "npy")
ERRORS = ("strict", "replace", "skip")
NONFINITE = ("strict", "skip")
_BLOCK_SIZE = 1 << 20  # Larger blocks are no faster and raise peak memory when aligning.
_TEXT_NUMBER_BYTES = frozenset(b"0123456789.+-eE \t\r\nnaifNAIF")
# A number starts with a digit, a point and a digit, or a sign and then either ("-0.1", ".5", "-.5"); rows whose
# second field starts otherwise ("nan", "inf", the ". . ." words of GloVe 840B, "x -.") take the careful path.
_DIGITS = frozenset(b"0123456789")
_SIGNS = frozenset(b"+-")
_POINT = ord(".")
# Line 1 "5 1" reads as a header of 5 one-dimensional vectors, or as the GloVe vector of the word "5".
_ONE_DIMENSION_HINT = (
    " If line 1 is a vector (a GloVe file of one-dimensional vectors whose first word is a number), pass "
    "format='glove'."
)
_FIRST_LINE_LIMIT = 1 << 22  # A text file's first line is a header or one vector: far shorter than this.
_FASTTEXT_MAGIC = struct.pack("<i", 793712314)  # fastText's binary model (.bin) starts with this int32.
_NPY_MAGIC = b"\x93NUMPY"
_XZ_MAGIC = b"\xfd7zXZ\x00"
# Containers and compressions read by none of the formats: each is named, with the command that unpacks it.
_UNREAD_CONTAINERS = (
    (b"PK\x03\x04", "a zip archive", "unzip it (`unzip FILE`) and pass the vectors file inside"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it (`zstd -d FILE`), or recompress it with gzip"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "unpack it (`7z x FILE`) and pass the vectors file inside"),
)


@dataclass
class Chunk:
    """Rows of a file: their words, and `parse(positions)` for the chosen rows' vectors.

    `number_text`, when set, gives the chosen rows' numbers as text, one row
    a line, which `np.loadtxt` turns into what `parse` returns (see
    `ChunkParser`). `lines[k]` is where row k is in the file, for messages:
    its line number, or for a matrix (`unit="Row"`) its row index.
    """

    # Bytes from a file; a `PretrainedVectors` built in memory may be keyed by int ids.
    words: Sequence[bytes | int]
    parse: Callable[[list[int]], np.ndarray]
    number_text: Callable[[list[int]], bytes] | None = None
    lines: Sequence[int] = ()
    unit: str = "Line"

    def where(self, position: int, path: str) -> str:
        if self.unit == "Line":
            return f"Line {self.lines[position]} of {path!r}"
        return f"Row {self.lines[position]} (counting from 0) of {path!r}"


@dataclass
class VectorFile:
    """An opened vectors file: its format, dimension, and a chunk iterator."""

    path: str
    format: str
    dim: int
    chunks: Iterator[Chunk]
    skipped_lines: list[int]
    # For progress: the bytes of the file on disk read so far (compressed bytes for gzip/bz2/xz), and its size.
    bytes_read: Callable[[], int] | None = None
    size: int | None = None


def open_vector_file(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    tokens: Any = None,
    errors: str = "strict",
    nonfinite: str = "strict",
) -> VectorFile:
    """Opens a vectors file; see `keras_vocabsafe.load_vectors` for the arguments.

    With `nonfinite="strict"` every chunk's `parse` refuses NaN and infinity,
    naming the line; with `"skip"` it returns them, and the caller leaves those
    rows out (see `nonfinite_positions`).
    """
    if not isinstance(path, str | os.PathLike):
        raise ConfigurationError(
            f"Pretrained vectors come from a file path or a `PretrainedVectors`. Received: {type(path).__name__}. "
            "For vectors held in memory (a dict, a gensim `KeyedVectors`), build "
            "`keras_vocabsafe.PretrainedVectors(Vocabulary(words), matrix)`, one row per word, and pass that."
        )
    path = os.fspath(path)
    if not isinstance(path, str):  # An os.PathLike may give bytes.
        raise ConfigurationError(f"Pass the vectors file's path as `str`, not bytes. Received: {path!r}")
    if format not in ("auto", *FORMATS):
        raise ConfigurationError(f"`format` must be 'auto' or one of {FORMATS}. Received: format={format!r}")
    if errors not in ERRORS:
        raise ConfigurationError(
            f"`errors` must be one of {ERRORS}: what to do with words that are not valid UTF-8. "
            f"Received: errors={errors!r}"
        )
    check_nonfinite(nonfinite)
    if not os.path.exists(path):
        raise VectorFileError(f"The vectors file {path!r} does not exist.")
    if os.path.isdir(path):
        raise VectorFileError(f"{path!r} is a directory, not a vectors file. Pass the path of the file inside it.")
    if not os.path.isfile(path):  # Opening a FIFO waits for a writer; it cannot be read twice nor sought either.
        raise VectorFileError(
            f"{path!r} is not a regular file (a pipe, device or socket), and vectors are read from a file on disk. "
            "Write the vectors to a file first (gzip, bz2 and xz files are read as they are, without unpacking)."
        )
    if format == "npy" or (format == "auto" and path.endswith(".npy")):
        file = _open_npy(path, tokens)
    else:
        if tokens is not None:
            raise ConfigurationError(
                "`tokens` names the rows of a .npy matrix; text and binary files carry their words."
            )
        file = _open_words_file(path, format, errors)
    if nonfinite == "strict":
        file.chunks = refusing_nonfinite(file.chunks, path)
    return file


def check_nonfinite(nonfinite: str) -> None:
    if nonfinite not in NONFINITE:
        raise ConfigurationError(
            f"`nonfinite` must be one of {NONFINITE}: what to do with vectors that hold NaN or infinity. "
            f"Received: nonfinite={nonfinite!r}"
        )


def _open_words_file(path: str, format: str, errors: str) -> VectorFile:
    stream = _open_stream(path)
    try:
        file = _read_head(cast(IO[bytes], stream), path, format, errors)  # The guard reads as the stream does.
    except BaseException:
        stream.close()
        raise
    file.bytes_read, file.size = stream.position, os.path.getsize(path)
    return file


def _read_head(stream: IO[bytes], path: str, format: str, errors: str) -> VectorFile:
    """Reads the first line and chooses the reader; the caller closes `stream` if this raises."""
    first = stream.readline(_FIRST_LINE_LIMIT)
    _check_first_line(first, path)
    if first.startswith(UTF8_MARK):
        first = first[len(UTF8_MARK) :]  # Some editors mark UTF-8 so; it is not part of the first word.
    if not first.strip():
        raise VectorFileError(f"The vectors file {path!r} is empty (line 1 holds no word and no vector).")
    header = _parse_header(first)
    if header is not None and _first_line_is_a_vector(stream, header, format):
        header = None
    if header is None:
        if format not in ("auto", "glove"):
            raise VectorFileError(
                f"Line 1 of {path!r} is not a 'count dim' header, so the file is not in {format!r} format. "
                "Pass format='glove' for files whose first line is already a vector."
            )
        dim = _trailing_numbers(first)
        if dim < 1:
            raise VectorFileError(f"Line 1 of {path!r} holds a word but no numbers.")
        skipped: list[int] = []
        return VectorFile(path, "glove", dim, _text_chunks(stream, path, dim, first, 1, errors, skipped), skipped)
    count, dim = header
    if dim < 1:
        raise VectorFileError(f"The header of {path!r} gives {dim} dimensions; vectors need at least one.")
    if format == "glove":
        raise VectorFileError(f"Line 1 of {path!r} is a 'count dim' header ({count} {dim}), not a GloVe vector.")
    if count < 1:
        raise VectorFileError(
            f"The header of {path!r} promises {count} vectors, so the file holds nothing to load. It was probably "
            "written from an empty model: write the vectors again."
        )
    text_lines = _text_lines_ahead(stream)
    if text_lines is not None and format == "word2vec_binary" and _fits_binary_layout(stream, count, dim):
        text_lines = None  # Binary as said, whose float32 bytes happen to read as text ("0.5\n" is 8.7e-33).
    # Binary whose first value's float32 bytes read as a text line ("1 2\n"): the bytes after it tell.
    binary_fits = format == "auto" and _binary_reading_fits(stream, count, dim)
    if binary_fits:
        text_lines = None
    if text_lines is not None:
        _check_header_fits_text(text_lines, path, count, dim, format)
        binary = False
    else:
        binary = binary_fits or (_looks_binary(stream, dim) if format == "auto" else format == "word2vec_binary")
    skipped = []
    if binary:
        chunks = _binary_chunks(stream, path, dim, count, errors, skipped)
        return VectorFile(path, "word2vec_binary", dim, chunks, skipped)
    chunks = _text_chunks(stream, path, dim, b"", 2, errors, skipped, count=count)
    return VectorFile(path, "word2vec" if format == "auto" else format, dim, chunks, skipped)


def _check_first_line(first: bytes, path: str) -> None:
    """Refuses files that are neither text nor word2vec binary, before their bytes are taken for words."""
    for magic, what, fix in _UNREAD_CONTAINERS:
        if first.startswith(magic):
            raise VectorFileError(
                f"{path!r} is {what}, which vectors files are not read from (gzip, bz2 and xz files are). "
                f"{fix[0].upper()}{fix[1:].replace('FILE', path)}."
            )
    if first.startswith(_FASTTEXT_MAGIC):
        raise VectorFileError(
            f"{path!r} is a fastText binary model (.bin), not a vectors file. Use the .vec file fastText publishes "
            "beside it, or convert it with gensim: "
            "`gensim.models.fasttext.load_facebook_vectors(path).save_word2vec_format('vectors.vec')`."
        )
    start = first[:16]
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(start) >= 4 and not (any(start[::2]) and any(start[1::2]))):
        raise VectorFileError(
            f"{path!r} looks UTF-16 encoded (a UTF-16 byte order mark, or NUL bytes between its first letters), but "
            f"vectors files are read as UTF-8. Convert it, e.g. `iconv -f UTF-16 -t UTF-8 {path} > vectors.txt`."
        )
    if b"\x00" in first:  # Text holds no NUL bytes, and word2vec binary's line 1 is a text header.
        raise VectorFileError(
            f"Line 1 of {path!r} holds NUL bytes: the file is binary data, but neither a text vectors file nor "
            "word2vec binary (whose line 1 is a 'count dim' header). Check that this is the vectors file."
        )
    if b"\r" in first.rstrip(b"\r\n") and _parse_header(first) is None:
        raise VectorFileError(
            f"{path!r} ends its lines with a carriage return alone (classic Mac OS), so its lines run together. "
            f"Convert the line ends to '\\n', e.g. `tr '\\r' '\\n' < {path} > vectors.txt`."
        )
    if len(first) >= _FIRST_LINE_LIMIT and not first.endswith(b"\n"):
        raise VectorFileError(
            f"Line 1 of {path!r} runs past {_FIRST_LINE_LIMIT:,} bytes without a newline, so the file is neither a "
            "text vectors file nor word2vec binary (whose line 1 is a 'count dim' header). Check that this is the "
            "vectors file."
        )


def _open_stream(path: str) -> _ReadGuard:
    try:
        stream, raw = _open_raw_stream(path)
    except OSError as error:
        raise VectorFileError(f"{path!r} could not be opened: {error}") from error
    return _ReadGuard(stream, path, raw)  # Closed by the chunk iterator.


def _open_raw_stream(path: str) -> tuple[IO[bytes], IO[bytes]]:
    """The decompressed stream and the file under it (whose position tells how far reading got)."""
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it (through _ReadGuard), once reading ends.
    try:
        magic = raw.read(len(_XZ_MAGIC))
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
        if magic[:3] == b"BZh":
            return bz2.BZ2File(raw, "rb"), raw
        if magic == _XZ_MAGIC:
            return lzma.LZMAFile(raw, "rb"), raw
    except BaseException:
        raw.close()
        raise
    return raw, raw


# What reading may raise for a file cut short or damaged: gzip, bz2 and xz raise EOFError for a truncated stream,
# gzip raises BadGzipFile (an OSError) for a bad header or CRC and zlib.error for bad data, bz2 raises OSError for
# bad data, xz raises LZMAError, and any file system may raise OSError.
_READ_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError)


class _ReadGuard:
    """A binary stream whose read errors become `VectorFileError`s naming the file and what was wrong.

    Every read goes through it (header, first chunk, later chunks), so no
    caller needs its own handler.
    """

    def __init__(self, stream: IO[bytes], path: str, raw: IO[bytes] | None = None) -> None:
        self._stream = stream
        self._path = path
        self._raw = stream if raw is None else raw
        self._compressed = isinstance(stream, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile))

    def remaining(self) -> int | None:
        """Bytes left to read, where known: for an uncompressed regular file."""
        if self._compressed:
            return None
        try:
            return os.fstat(self._raw.fileno()).st_size - self._stream.tell()
        except (OSError, ValueError, AttributeError):  # A pipe, or closed.
            return None

    def position(self) -> int:
        """Bytes of the file on disk read so far (of the compressed file, for gzip, bz2 and xz)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):  # Closed, or not seekable: no progress to tell.
            return 0

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except _READ_ERRORS as error:
            self._fail(error)

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._stream.readline(size)
        except _READ_ERRORS as error:
            self._fail(error)

    def peek(self, size: int = 0) -> bytes:
        try:
            return self._stream.peek(size)  # type: ignore[attr-defined]
        except _READ_ERRORS as error:
            self._fail(error)

    def close(self) -> None:
        self._stream.close()
        self._raw.close()  # A GzipFile or BZ2File given a file object leaves it open.

    def _fail(self, error: BaseException) -> NoReturn:
        path = self._path
        if isinstance(error, EOFError) and self._compressed:
            message = (
                f"The compressed file {path!r} ends before its end-of-stream marker: it is truncated (an interrupted "
                "download or copy?). Fetch or copy it again."
            )
        elif self._compressed:
            message = (
                f"The compressed file {path!r} is damaged and cannot be decompressed ({error}). Fetch or copy it "
                "again; `gzip -t`, `bzip2 -t` or `xz -t` checks a file."
            )
        else:
            message = f"{path!r} could not be read ({error})."
        raise VectorFileError(message) from error


def _trailing_numbers(line: bytes) -> int:
    """How many fields at the end of a GloVe file's first line are numbers: its dimension.

    Counted from the end, since the word may hold spaces (GloVe 840B has `". . ."` and `"at name@domain.com"`);
    the first field is the word even if it reads as a number. A line that does not end with a number counts all
    its fields but the first, and parsing then names the field that is not a number.
    """
    return _numbers_at_end(line) or len(line.split()) - 1


def _numbers_at_end(line: bytes) -> int:
    """How many fields after the first, counted from the end of `line`, are numbers."""
    count = 0
    for field in reversed(line.split()[1:]):
        if _parse_numbers(field).size != 1:
            break
        count += 1
    return count


def _parse_header(line: bytes) -> tuple[int, int] | None:
    fields = line.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        return None
    return int(fields[0]), int(fields[1])


def _first_line_is_a_vector(stream: IO[bytes], header: tuple[int, int], format: str) -> bool:
    """Whether a line 1 of two whole numbers is a GloVe vector (`"1 2"`: the word `"1"` and one number), not a
    `count dim` header.

    It is when what follows reads as text lines of a word and one number each (`_one_number_lines`), and either
    the header gives more than one dimension or `format="glove"` says so: a header of one dimension fits both
    readings. With `"auto"`, at least one whole line must follow: float32 bytes may read as `word 5` up to a
    newline byte by a fluke, but not over all the bytes a stream holds ahead.
    """
    if format not in ("auto", "glove") or (header[1] == 1 and format != "glove"):
        return False
    return _one_number_lines(stream, whole_line_needed=format != "glove")


def _one_number_lines(stream: IO[bytes], whole_line_needed: bool) -> bool:
    """Whether the bytes `stream` holds ahead (up to 64 KiB, read ahead without taking them) are text lines of a
    word and one number each; a last line cut short by the read-ahead counts only where no whole line came
    before it, and only if `whole_line_needed` is false."""
    if not hasattr(stream, "peek"):
        return False
    sample = stream.peek(1 << 16)[: 1 << 16]
    if not sample:  # The end of the file: nothing says otherwise.
        return not whole_line_needed
    end = sample.rfind(b"\n") + 1
    lines = sample[:end].splitlines() or ([] if whole_line_needed else [sample])
    if not lines or b"\x00" in sample or not all(line.strip() for line in lines):
        return False
    try:
        sample[:end].decode("utf-8")
    except UnicodeDecodeError:  # word2vec binary: float32 bytes.
        return False
    # A first float32 whose bytes read "0.5\n" ends a line of one number; the float32 bytes after it are no text.
    return (not end or _cut_line_is_text(sample[end:])) and all(_numbers_at_end(line) == 1 for line in lines)


def _cut_line_is_text(cut: bytes) -> bool:
    """Whether `cut`, the line the read-ahead ends in, is text: no control characters, and UTF-8 but for a last
    character the read-ahead may cut."""
    if any(byte < 0x20 and byte not in b"\t\r" for byte in cut):
        return False
    try:
        cut.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.reason == "unexpected end of data"
    return True


def _text_lines_ahead(stream: IO[bytes]) -> list[bytes] | None:
    """The whole lines `stream` holds ahead (read ahead without taking them) when they are text vectors: UTF-8
    without NUL bytes, every line that is not blank ending in a number, and the line the read-ahead cuts UTF-8
    without control characters. None when they are not, or no whole line is there to tell.

    word2vec binary puts each vector's float32 bytes straight after `word `: those bytes are neither all UTF-8 nor
    free of NULs and control characters nor, for whole lines, numbers spelled out, however small or wrong the
    header is (a first value whose bytes read "1 2\\n" may end one line in numbers, but not the bytes after it).
    """
    if not hasattr(stream, "peek"):
        return None
    sample = stream.peek(1 << 16)[: 1 << 16]
    end = sample.rfind(b"\n") + 1
    whole, cut = sample[:end], sample[end:]
    lines = [line for line in whole.splitlines() if line.strip()]
    if not lines or b"\x00" in sample or not _cut_line_is_text(cut):
        return None
    try:
        whole.decode("utf-8")  # Only the cut line may end inside a character: the read-ahead stops at a byte count.
    except UnicodeDecodeError:
        return None
    return lines if all(_numbers_at_end(line) for line in lines) else None


def _fits_binary_layout(stream: IO[bytes], count: int, dim: int) -> bool:
    """Whether the bytes `stream` holds ahead are exactly `count` word2vec binary vectors of `dim` values (each a
    word, a space and `4 * dim` bytes, maybe after a newline), and nothing after them but newlines."""
    sample = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
    position = 0
    for _ in range(count):
        position += sample.startswith(b"\n", position)
        space = sample.find(b" ", position)
        if space <= position:
            return False
        position = space + 1 + 4 * dim
        if position > len(sample):
            return False
    return not sample[position:].strip(b"\n")


def _binary_reading_fits(stream: IO[bytes], count: int, dim: int) -> bool:
    """Whether the bytes `stream` holds ahead are word2vec binary vectors of `dim` values, and not text vectors.

    As binary, every vector is a word (no NUL byte, no line break), a space and `4 * dim` bytes, and after the
    `count`th only line breaks follow; some of the values' bytes are not those numbers are spelled with (text read
    so gives float32s below 2.5e-4, which no trained vectors are made of alone). As text, the bytes ahead are
    `count` lines of a word (UTF-8 or not: `errors=` decides) and `dim` numbers, without NUL or control bytes.
    Where the bytes ahead are all the file holds (an uncompressed file the read-ahead holds whole), both readings
    are checked to the end and text wins a tie; elsewhere binary must fit as far as the bytes go, and text fail in
    a way a text file cannot (a control byte, a whole line that does not end in a number).
    """
    sample = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
    remaining = getattr(stream, "remaining", lambda: None)()
    whole = remaining == len(sample)
    size = 4 * dim
    position = vectors = 0
    not_spelled = False
    while vectors < count:
        while sample.startswith((b"\n", b"\r"), position):
            position += 1
        space = sample.find(b" ", position)
        word = sample[position : space if space >= 0 else len(sample)]
        if b"\n" in word or b"\x00" in word or space == position:
            return False
        if space < 0 or space + 1 + size > len(sample):
            if whole:
                return False
            break
        values = sample[space + 1 : space + 1 + size]
        not_spelled = not_spelled or any(byte not in _TEXT_NUMBER_BYTES for byte in values)
        position = space + 1 + size
        vectors += 1
    if vectors == count and sample[position:].strip(b"\r\n"):
        return False
    if not vectors or not not_spelled:
        return False
    controls = any(byte < 0x20 and byte not in b"\t\r\n" for byte in sample)
    lines = sample.split(b"\n")
    if whole:
        lines = lines[:-1] if not lines[-1] else lines
        return controls or len(lines) != count or not all(_numbers_at_end(line) >= dim for line in lines)
    return controls or not all(_numbers_at_end(line) for line in lines[:-1] if line.strip())


def _check_header_fits_text(lines: list[bytes], path: str, count: int, dim: int, format: str) -> None:
    """Refuses `format="word2vec_binary"` for text vectors, and a header whose dimension every one of the text
    vectors after it disagrees with; `lines` are the lines ahead (`_text_lines_ahead`)."""
    if format == "word2vec_binary":
        raise VectorFileError(
            f"{path!r} holds text vectors after its header (lines of a word and numbers), not word2vec binary "
            "(whose values are raw float32 bytes). Pass format='word2vec' or format='auto'."
        )
    numbers = {_numbers_at_end(line) for line in lines}
    if len(numbers) != 1:
        return  # Lines that disagree: the reader names the first that does not fit.
    found = numbers.pop()
    # A word may end in parts that read as numbers ('route 66'): more numbers than the header's dimension is a
    # wrong header only when more than one line has them.
    if found < dim or (found > dim and len(lines) > 1):
        raise VectorFileError(
            f"The header of {path!r} (line 1: '{count} {dim}') gives {dim} dimensions, but the text vectors after "
            f"it have {found} numbers each. Fix line 1 to 'COUNT {found}' (COUNT the number of vector lines), or "
            "delete line 1 (a file without it is read as GloVe)."
        )


def _looks_binary(stream: IO[bytes], dim: int) -> bool:
    """Tells word2vec binary from text by the first vector's line."""
    sample = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
    end = sample.find(b"\n")
    if end >= 0:
        # A text line is a word and `dim` numbers, the word perhaps with spaces ("at name@domain.com") and the
        # numbers perhaps spelled out ("Infinity"); float32 bytes up to the first newline byte are not.
        word, rest = _split_line(sample[:end], dim)
        if word and _parse_numbers(rest).size == dim:
            return False
    space = sample.find(b" ")
    if space < 0:
        return False
    end = sample.find(b"\n", space)
    body = sample[space + 1 : end if end >= 0 else None][: max(dim * 4, 4096)]
    # Text is digits, signs, dots and spaces up to the line's end; four such bytes in a
    # row followed by a newline are most unlikely among float32 bytes.
    is_text = len(body) >= min(4, 2 * dim - 1) and all(byte in _TEXT_NUMBER_BYTES for byte in body)
    return not is_text


def _decode_word(word: bytes, errors: str, path: str, line: int) -> bytes | None:
    try:
        word.decode("utf-8")
        return word
    except UnicodeDecodeError:
        if errors == "replace":
            return word.decode("utf-8", errors="replace").encode("utf-8")
        if errors == "skip":
            return None
        raise VectorFileError(
            f"Line {line} of {path!r}: the word {word[:40]!r} is not valid UTF-8. Pass errors='replace' to "
            "replace the bad bytes or errors='skip' to leave such rows out."
        ) from None


def _parse_numbers(text: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.fromstring(text, dtype=np.float32, sep=" ")
        except (ValueError, DeprecationWarning):
            return np.zeros(0, dtype=np.float32)


def _split_line(line: bytes, dim: int) -> tuple[bytes, bytes]:
    """Cuts `dim` fields off the end of a line: the rest is the word, spaces and all.

    A word of whitespace alone (`" "`) comes back whole: one space separates it from the numbers. A line that
    starts with one space and then its numbers gives an empty word, which the caller refuses.
    """
    stripped = line.rstrip()
    parts = stripped.rsplit(None, dim)
    if not parts:
        return b"", b""  # A blank line: no word, which the caller refuses.
    if len(parts) == dim and stripped[:1].isspace():
        lead = len(stripped) - len(stripped.lstrip())
        return stripped[: lead - 1], b" ".join(parts)
    # Fewer fields than a word and `dim` numbers: the first is taken for the word, and parsing names the line.
    return parts[0], b" ".join(parts[1:])


def _text_chunks(
    stream: IO[bytes],
    path: str,
    dim: int,
    pending: bytes,
    first_line: int,
    errors: str,
    skipped: list[int],
    count: int | None = None,
) -> Iterator[Chunk]:
    line_number = first_line
    rows = 0
    try:
        while True:
            block = stream.read(_BLOCK_SIZE)
            data = pending + block
            if block:
                cut = data.rfind(b"\n") + 1
                data, pending = data[:cut], data[cut:]
                if not data:
                    continue
            elif not data:
                break
            else:
                pending = b""
            words: list[bytes] = []
            starts: list[int] = []  # Row k's numbers are data[starts[k]:ends[k]], or odd_rests[k].
            ends: list[int] = []
            odd_rests: dict[int, bytes] = {}
            numbers: list[int] = []
            # Lines are found in place rather than split off: no copy of each line.
            position, size, find = 0, len(data), data.find
            while position < size:
                end = find(b"\n", position)
                if end < 0:
                    end = size
                number = line_number
                line_number += 1
                space = find(b" ", position, end)
                # The numbers must start right after the first space; if they do not, the line is blank, starts
                # with a space, or the word itself holds spaces (some GloVe files have such words).
                simple = False
                if position < space < end - 1:
                    start = space + 2 if data[space + 1] in _SIGNS else space + 1
                    if start < end and data[start] == _POINT:
                        start += 1
                    simple = start < end and data[start] in _DIGITS
                if simple:
                    word = data[position:space]
                else:
                    line = data[position:end]
                    if line.isspace() or not line:
                        position = end + 1
                        continue
                    word, rest = _split_line(line, dim)  # Cuts the numbers off the end.
                    if not word:
                        raise VectorFileError(
                            f"Line {number} of {path!r} starts with a space and then its numbers: its word is "
                            "empty. Give the line its word, or delete the line."
                        )
                position = end + 1
                if count is not None and rows >= count:
                    raise VectorFileError(
                        f"Line {number} of {path!r}: the header promised {count} vectors but the file goes on. "
                        "Fix the header's count (the first number of line 1), or delete line 1 (a file without it is "
                        f"read as GloVe).{_ONE_DIMENSION_HINT if dim == 1 else ''}"
                    )
                rows += 1
                checked = _decode_word(word, errors, path, number)
                if checked is None:
                    skipped.append(number)
                    continue
                if not simple:
                    odd_rests[len(words)] = rest
                words.append(checked)
                starts.append(space + 1)
                ends.append(end)
                numbers.append(number)
            if words:
                text_rows = _TextRows(data, starts, ends, odd_rests, numbers, words, dim, path)
                yield Chunk(words, text_rows.parse, text_rows.number_text, numbers)
            if not block:
                break
        if count is not None and rows < count:
            raise VectorFileError(
                f"The header of {path!r} promised {count} vectors but the file holds {rows}. The file is truncated "
                f"or the header is wrong: if the file is whole, fix the count in line 1 to {rows}, or delete line 1 (a "
                f"file without it is read as GloVe).{_ONE_DIMENSION_HINT if dim == 1 else ''}"
            )
    finally:
        stream.close()


class _TextRows:
    """A block's rows: where each row's number text is, and their line numbers; parsed on demand."""

    def __init__(
        self,
        data: bytes,
        starts: list[int],
        ends: list[int],
        odd_rests: dict[int, bytes],
        numbers: list[int],
        words: list[bytes],
        dim: int,
        path: str,
    ) -> None:
        self.data = data
        self.starts = starts
        self.ends = ends
        self.odd_rests = odd_rests  # Rows whose number text is not one span of `data` (words with spaces).
        self.numbers = numbers
        self.words = words  # For the error that names a bad row.
        self.dim = dim
        self.path = path

    def rests(self, positions: list[int]) -> list[bytes]:
        data, starts, ends, odd = self.data, self.starts, self.ends, self.odd_rests
        if odd:
            return [odd[i] if i in odd else data[starts[i] : ends[i]] for i in positions]
        return [data[starts[i] : ends[i]] for i in positions]

    def parse(self, positions: list[int]) -> np.ndarray:
        dim = self.dim
        if not positions:
            return np.zeros((0, dim), np.float32)
        # NumPy's C line reader parses about twice as fast as np.fromstring, with the same values.
        try:
            values = _parse_lines(self.rests(positions))
        except ValueError:
            values = None
        if values is not None and values.shape == (len(positions), dim):
            return values
        self._raise_for_bad_line(positions)

    def number_text(self, positions: list[int]) -> bytes:
        if self.odd_rests:
            return b"\n".join(self.rests(positions))
        view, starts, ends = memoryview(self.data), self.starts, self.ends
        return b"\n".join([view[starts[i] : ends[i]] for i in positions])  # One copy: the joined text.

    def _raise_for_bad_line(self, positions: list[int]) -> NoReturn:
        dim, path = self.dim, self.path
        for i, rest in zip(positions, self.rests(positions)):  # Something in this chunk is off: name the line.
            fields = rest.split()
            if len(fields) != dim:
                raise VectorFileError(self._count_message(i, len(fields)))
            bad = next((field for field in fields if _parse_numbers(field).size != 1), None)
            if bad is not None:
                raise VectorFileError(f"Line {self.numbers[i]} of {path!r}: {bad[:40]!r} is not a number.")
        raise VectorFileError(f"{path!r} could not be parsed near line {self.numbers[positions[0]]}.")

    def _count_message(self, i: int, count: int) -> str:
        dim, word = self.dim, self.words[i]
        where = f"Line {self.numbers[i]} of {self.path!r}"
        numbers = f"{count} number{'' if count == 1 else 's'}"
        if any(space in word for space in (b"\t", b"\v", b"\f")):
            return (
                f"{where} reads as the word {word[:40]!r} and {numbers}, but the file's vectors have {dim}: the "
                "line separates its fields with tabs. Vectors files separate the word and each number with one "
                "space: replace the tabs (e.g. `tr '\\t' ' ' < in.txt > out.txt`)."
            )
        if count > dim:
            longer, rest = _split_line(word + b" " + self.rests([i])[0], dim)
            if _parse_numbers(rest).size == dim:
                return (
                    f"{where} holds {numbers} after the word {word[:40]!r}, but the file's vectors have {dim} (from "
                    f"its first line or header). If its word is {longer[:40]!r} (a space, then a part that reads as "
                    "a number, as in 'route 66'), the reader cannot tell: join the word's parts in the file (e.g. "
                    f"'route_66'). Otherwise the line has numbers to spare: every line must be a word and {dim} values."
                )
        return (
            f"{where} holds {numbers}, but the file's vectors have {dim} (from its first line or header). "
            "Every line must be a word followed by the same number of values."
        )


def _parse_lines(lines: list[bytes]) -> np.ndarray:
    """The number reader for text rows; the worker process (`_WORKER`) makes the same call."""
    with warnings.catch_warnings():
        # Rows without numbers (a line of a word alone) come back empty, and the caller names the line.
        warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
        return np.loadtxt(lines, dtype=np.float32, comments=None, ndmin=2)


# The worker: requests are (rows, dim, byte count) then the rows' number text; it answers with the byte count of
# the float32 matrix then the matrix, or with _REFUSED when the text does not parse into that shape or holds NaN or
# infinity (the parent then parses the rows itself, which names the bad line: both paths give the same error). It
# imports NumPy only, so it starts in a fraction of a second and none of TensorFlow's threads are copied.
_REQUEST = struct.Struct("<IIQ")
_ANSWER = struct.Struct("<Q")
_REFUSED = (1 << 64) - 1
_WORKER = f"""
import struct, sys
import numpy as np
requests, answers = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = requests.read({_REQUEST.size})
    if len(head) < {_REQUEST.size}:
        break
    rows, dim, size = struct.unpack({_REQUEST.format!r}, head)
    text = requests.read(size)
    try:
        values = np.loadtxt(text.split(b"\\n"), dtype=np.float32, comments=None, ndmin=2)
    except ValueError:
        values = None
    if values is None or values.shape != (rows, dim) or not np.isfinite(values).all():
        answers.write(struct.pack({_ANSWER.format!r}, {_REFUSED}))
    else:
        answers.write(struct.pack({_ANSWER.format!r}, values.nbytes))
        answers.write(memoryview(np.ascontiguousarray(values)).cast("B"))
    answers.flush()
"""


class _Worker:
    """A child Python process that parses number text with `np.loadtxt`, requests in order.

    Both pipes are enlarged to `PIPE_BYTES`; the parent keeps the answers it
    has not read within that size, so neither side ever waits on a full pipe
    while the other waits on it.
    """

    PIPE_BYTES = 1 << 20  # Linux's default limit for an unprivileged process (/proc/sys/fs/pipe-max-size).

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.requests: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self.answers: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        try:
            for pipe in (self.requests, self.answers):
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, self.PIPE_BYTES)
        except OSError:  # Refused: no worker.
            self.close()
            raise

    def send(self, text: bytes, rows: int, dim: int) -> bool:
        try:
            self.requests.write(_REQUEST.pack(rows, dim, len(text)))
            self.requests.write(text)
            self.requests.flush()
        except OSError:  # The worker is gone.
            return False
        return True

    def answered(self) -> bool:
        return bool(select.select([self.answers], [], [], 0)[0])

    def receive(self, rows: int, dim: int) -> np.ndarray | None:
        """The parsed matrix; None if the worker refused the text or is gone."""
        head = self.answers.read(_ANSWER.size)
        if len(head) < _ANSWER.size:
            return None
        (size,) = _ANSWER.unpack(head)
        if size == _REFUSED:
            return None
        data = self.answers.read(size)
        if len(data) < size or size != rows * dim * 4:
            return None
        return np.frombuffer(data, dtype=np.float32).reshape(rows, dim)

    def close(self) -> None:
        for pipe in (self.requests, self.answers):
            try:
                pipe.close()
            except OSError:
                pass
        # It holds nothing worth a clean exit, and may still be importing NumPy or parsing rows nobody wants now.
        self.process.kill()
        self.process.wait()


class PendingRows:
    """Rows sent to the worker process: the chunk, the chosen positions, and their vectors once known."""

    def __init__(self, chunk: Chunk, positions: list[int]) -> None:
        self.chunk = chunk
        self.positions = positions
        self.values: np.ndarray | None = None
        self.by_worker = False

    def resolve(self) -> np.ndarray:
        if self.values is None:  # Not answered: parse here (this raises for a bad line).
            self.values = self.chunk.parse(self.positions)
        return self.values


class ChunkParser:
    """Parses text chunks on two cores: in this process, and in a worker process that imports only NumPy.

    `parse(chunk, positions)` returns the vectors, or a `PendingRows` when the
    rows went to the worker; `results(blocks)` turns a list of both into
    arrays, in order. The worker starts once `start_after` chunks were parsed
    here, so small files never start it. It holds at most two chunks at a time
    (one parsing, the next queued in its pipe, so it never waits for this
    process), and this process parses the chunks that arrive meanwhile. Use it
    as a context manager: on the way out it stops the worker, and if a
    `VectorFileError` is leaving while rows read before it are still unparsed,
    they are parsed first, so that the first bad line of the file is the one
    reported.
    """

    START_AFTER = 16  # Chunks (of about _BLOCK_SIZE bytes) parsed here before the worker starts.

    def __init__(self, dim: int, *, start_after: int | None = None) -> None:
        self.dim = dim
        self.start_after = self.START_AFTER if start_after is None else start_after
        self._parsed_here = 0
        self._worker: _Worker | None = None
        # fcntl's pipe sizes and select() on pipes are POSIX (F_SETPIPE_SZ: Linux); elsewhere all is parsed here.
        # A frozen application's executable is not a Python interpreter.
        self._no_worker = not hasattr(fcntl, "F_SETPIPE_SZ") or not sys.executable or getattr(sys, "frozen", False)
        self._sent: list[PendingRows] = []

    def parse(self, chunk: Chunk, positions: list[int]) -> np.ndarray | PendingRows:
        self._collect(wait=False)
        answer_bytes = len(positions) * self.dim * 4
        if (
            self._no_worker
            or chunk.number_text is None
            or not positions
            or self._parsed_here < self.start_after
            or len(self._sent) >= 2
            or answer_bytes + sum(len(rows.positions) for rows in self._sent) * self.dim * 4 > _Worker.PIPE_BYTES
        ):
            self._parsed_here += 1
            return chunk.parse(positions)
        if self._worker is None:
            try:
                self._worker = _Worker()
            except OSError:
                self._stop_worker()
                return chunk.parse(positions)
        rows = PendingRows(chunk, positions)
        if not self._worker.send(chunk.number_text(positions), len(positions), self.dim):
            self._stop_worker()
            return chunk.parse(positions)
        self._sent.append(rows)
        return rows

    def results(self, blocks: list[np.ndarray | PendingRows]) -> list[np.ndarray]:
        while self._sent and self._worker is not None:
            self._collect(wait=True)
        return [block.resolve() if isinstance(block, PendingRows) else block for block in blocks]

    def _collect(self, *, wait: bool) -> None:
        """Takes the worker's answers that are ready (with `wait`, the oldest one at least)."""
        while self._sent and self._worker is not None and (wait or self._worker.answered()):
            wait = False
            rows = self._sent.pop(0)
            rows.values = self._worker.receive(len(rows.positions), self.dim)
            rows.by_worker = rows.values is not None
            if rows.values is None:
                if self._worker.process.poll() is not None:  # Gone: the rows sent are parsed here when asked for.
                    self._stop_worker()
                    return
                rows.resolve()  # Refused: a bad line, which this names.

    def _stop_worker(self) -> None:
        self._no_worker = True
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def __enter__(self) -> ChunkParser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        sent, self._sent = self._sent, []
        self._stop_worker()
        if kind is not None and issubclass(kind, VectorFileError):
            for rows in sent:  # All read before the error's line: parse them here, in order.
                rows.resolve()


def _binary_chunks(
    stream: IO[bytes], path: str, dim: int, count: int, errors: str, skipped: list[int]
) -> Iterator[Chunk]:
    record_bytes = dim * 4
    buffer = b""
    position = 0
    record = 0
    try:
        while record < count:
            more = stream.read(_BLOCK_SIZE)
            buffer = buffer[position:] + more
            position = 0
            words: list[bytes] = []
            starts: list[int] = []
            numbers: list[int] = []
            while record < count:
                while position < len(buffer) and buffer[position] in b"\n\r":
                    position += 1
                space = buffer.find(b" ", position)
                if space < 0 or space + 1 + record_bytes > len(buffer):
                    break
                number = record + 2  # Records are numbered as lines would be: the header is line 1.
                if space == position:
                    raise VectorFileError(
                        f"Vector {record + 1} of {path!r} (word2vec binary, after its line breaks) starts with a "
                        "space: its word is empty. The file is damaged, or it is text: pass format='word2vec' or "
                        "format='glove'."
                    )
                word = _decode_word(buffer[position:space], errors, path, number)
                if word is None:
                    skipped.append(number)
                else:
                    words.append(word)
                    starts.append(space + 1)
                    numbers.append(number)
                position = space + 1 + record_bytes
                record += 1
            if words:
                yield Chunk(words, _binary_parser(buffer, starts, dim), lines=numbers)
            if not more and record < count:
                raise VectorFileError(
                    f"{path!r} ends inside vector {record + 1}: the header promised {count} vectors of {dim} "
                    f"float32 values ({record_bytes} bytes each) but the file holds {record}. The file is truncated "
                    "or the header is wrong."
                )
        # Only line breaks may follow the last vector; anything else is more vectors than the header's count, which
        # would otherwise be left out without a word.
        tail = buffer[position:]
        while not tail.strip(b"\r\n"):
            tail = stream.read(_BLOCK_SIZE)
            if not tail:
                break
        else:
            raise VectorFileError(
                f"{path!r} goes on after the {count} vectors its header promises (word2vec binary, {dim} float32 "
                "values each): the header's count is too small, or the file is damaged. Fix the count (the first "
                "number of line 1)."
            )
    finally:
        stream.close()


def _binary_parser(buffer: bytes, starts: list[int], dim: int) -> Callable[[list[int]], np.ndarray]:
    size = dim * 4

    def parse(positions: list[int]) -> np.ndarray:
        # Copy the chosen records' bytes together once, then view them as little-endian float32.
        joined = b"".join([buffer[starts[i] : starts[i] + size] for i in positions])
        return np.frombuffer(joined, dtype="<f4").astype(np.float32).reshape(len(positions), dim)

    return parse


def _open_npy(path: str, tokens: Any) -> VectorFile:
    from keras_vocabsafe.vocabulary import _as_vocabulary

    if tokens is None:
        raise ConfigurationError(
            f"A .npy matrix carries no words: pass `tokens=` (a list, or the path of a vocabulary file) naming "
            f"the token of each row of {path!r}."
        )
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_NPY_MAGIC))
    except OSError as error:
        raise VectorFileError(f"{path!r} could not be opened: {error}") from error
    if magic != _NPY_MAGIC:
        raise VectorFileError(
            f"{path!r} is not a .npy file (it does not start with NumPy's magic bytes). Write the matrix with "
            "`np.save(path, matrix)`, or pass `format=` if the file is a text or word2vec binary vectors file."
        )
    try:
        # allow_pickle=False: an object array would run the file's pickled code.
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        raise VectorFileError(f"{path!r} is not a readable .npy matrix: {error}") from None
    if matrix.ndim != 2:
        raise VectorFileError(f"{path!r} holds an array of shape {matrix.shape}; a (rows, dim) matrix is needed.")
    if not np.issubdtype(matrix.dtype, np.floating):
        # Casting would turn strings into parsed numbers and complex numbers into their real parts, silently.
        raise VectorFileError(
            f"{path!r} holds {matrix.dtype} values; vectors must be a float matrix. Save it again with "
            "`np.save(path, matrix.astype('float32'))` if its values are what you mean."
        )
    if matrix.shape[1] < 1:
        raise VectorFileError(f"{path!r} holds a matrix of shape {matrix.shape}; vectors need at least one dimension.")
    vocabulary = _as_vocabulary(tokens, "string")
    if len(vocabulary) != matrix.shape[0]:
        raise VectorFileError(
            f"{path!r} has {matrix.shape[0]} rows but `tokens` names {len(vocabulary)}; they must correspond."
        )
    words = list(vocabulary.tokens)

    def chunks() -> Iterator[Chunk]:
        step = 65536
        for start in range(0, len(words), step):
            piece = words[start : start + step]

            def parse(positions: list[int], start: int = start) -> np.ndarray:
                with np.errstate(over="ignore"):  # float64 beyond float32's range: infinity, refused by name later.
                    return np.asarray(matrix[[start + i for i in positions]], dtype=np.float32)

            yield Chunk(piece, parse, lines=range(start, start + len(piece)), unit="Row")

    return VectorFile(path, "npy", int(matrix.shape[1]), chunks(), [])


def nonfinite_positions(values: np.ndarray) -> np.ndarray:
    """Indices of the rows of `values` that hold NaN or infinity."""
    return np.flatnonzero(~np.isfinite(values).all(axis=1))


def nonfinite_error(chunk: Chunk, position: int, values: np.ndarray, path: str) -> VectorFileError:
    """The error for row `position` of `chunk`, whose parsed vector `values` holds NaN or infinity."""
    word = chunk.words[position]
    shown = word.decode("utf-8", "replace") if isinstance(word, bytes) else str(word)
    value = values[~np.isfinite(values)][0]
    why = "" if np.isnan(value) else " (a number beyond float32's range reads as infinity)"
    return VectorFileError(
        f"{chunk.where(position, path)}: the vector of {shown[:40]!r} holds {value}{why}. Vectors must be finite: "
        "NaN or infinity would spread into the rows made for missing tokens and into the training loss. Fix the "
        "file, or pass nonfinite='skip' to leave such rows out as if their words were absent (they are counted in "
        "`skipped_lines`)."
    )


def refusing_nonfinite(chunks: Iterator[Chunk], path: str) -> Iterator[Chunk]:
    """`chunks` whose `parse` raises `VectorFileError` for a row that holds NaN or infinity."""

    def checked(chunk: Chunk) -> Callable[[list[int]], np.ndarray]:
        parse = chunk.parse

        def parse_finite(positions: list[int]) -> np.ndarray:
            values = parse(positions)
            if not np.isfinite(values).all():  # One vectorised pass; rows are located only when one is bad.
                bad = int(nonfinite_positions(values)[0])
                raise nonfinite_error(chunk, positions[bad], values[bad], path)
            return values

        return parse_finite

    try:
        for chunk in chunks:
            yield replace(chunk, parse=checked(chunk))
    finally:
        _close_chunks(chunks)


def without_nonfinite(chunks: Iterator[Chunk], skipped: list[int]) -> Iterator[Chunk]:
    """`chunks` without their rows that hold NaN or infinity, whose lines are added to `skipped`.

    Every row is parsed here (a full load parses them all anyway), so the rows
    left out are known before anyone sees the chunk's words: a later row with
    the same word counts as that word's first.
    """
    try:
        for chunk in chunks:
            everything = list(range(len(chunk.words)))
            values = chunk.parse(everything)
            bad = nonfinite_positions(values)
            if not bad.size:
                yield replace(chunk, parse=_rows_of(values), number_text=None)
                continue
            skipped.extend(chunk.lines[i] for i in bad)
            kept = np.setdiff1d(everything, bad)
            words = [chunk.words[i] for i in kept]
            lines = [chunk.lines[i] for i in kept]
            yield Chunk(words, _rows_of(values[kept]), lines=lines, unit=chunk.unit)
    finally:
        _close_chunks(chunks)


def _rows_of(values: np.ndarray) -> Callable[[list[int]], np.ndarray]:
    """A `Chunk.parse` over rows already parsed."""
    return lambda positions: values[positions]


def _close_chunks(chunks: Iterator[Chunk]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
