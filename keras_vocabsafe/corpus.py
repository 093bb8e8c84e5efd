"""`vocabulary_from_files`: a vocabulary with counts from text files, counted as `adapt` counts.

The files are read line by line (plain, gzip or bz2, told apart by their first bytes) into a `tf.data`
pipeline that a layer built with the given settings adapts on. So the vocabulary is, id for id, the one
`adapt` gives on the same lines, whatever the corpus size: memory follows `budget` (see
`VocabEmbedding.adapt`), and the pipeline can be read twice when the budget is exceeded.
"""

from __future__ import annotations

import bz2
import gzip
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import numpy as np
import tensorflow as tf

from keras_vocabsafe._counting import DEFAULT_BUDGET, NoTokensFixes
from keras_vocabsafe._files import UTF8_MARK
from keras_vocabsafe._progress import Progress, check_verbose, logger, say
from keras_vocabsafe.errors import ConfigurationError, VocabularyError
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = ["vocabulary_from_files"]

_BATCH_LINES = 4096
_GZIP_MAGIC = b"\x1f\x8b"
# Text holds no NUL byte; a binary file (a zip, HDF5, an image) has one within its first bytes.
_SNIFF_BYTES = 8192

# Text in another encoding read as UTF-8 has a few invalid bytes (accented Latin letters); binary data and
# single-byte Cyrillic or Greek text have far more: past this share of the first bytes, a file is refused.
_MOST_INVALID_UTF8 = 0.25
_FEWEST_INVALID_BYTES = 64  # Fewer are a few stray bytes, whatever their share of a short file.

# A bzip2 stream: "BZh", the block size 1-9, then a block's magic (digits of pi) or, if empty, the end's (of sqrt(pi)).
_BZ2_STREAM = re.compile(rb"BZh[1-9](?:\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)")

# Offered in place of `adapt`'s fixes, which name a layer the caller never made.
_FILES_FIXES = NoTokensFixes(
    no_tokens="Check that the files hold text, and the settings (`keys`, `standardize`, `split`).",
    too_rare="Lower `min_frequency`, or count more text.",
)


def vocabulary_from_files(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    keys: bool = False,
    budget: int | None = DEFAULT_BUDGET,
    progress: Callable[[int, int], None] | None = None,
    verbose: Any = "auto",
    **settings: Any,
) -> Vocabulary:
    """Counts the tokens of text files and returns the vocabulary `adapt` would learn from them, with counts.

    Args:
        paths: one file or several; each plain text, gzip or bz2 (detected from the content). Each line is
            one document (text mode) or one key (`keys=True`); the line ending (`\\n` or `\\r\\n`) is not part
            of it.
        keys: if `True`, every line is a key, kept byte for byte (as `VocabEmbedding.adapt` on those keys);
            if `False` (default), every line is raw text, tokenized as `TextVocabEmbedding` with `settings`.
        budget: the most distinct tokens counted at once, as for `adapt` (`None`: no bound).
        progress: optional `progress(bytes_read, total_bytes)`, called as the files are read (twice over
            when the budget is exceeded, since the files are then read a second time).
        verbose: `"auto"` (default), 0, 1 or 2, as for `Model.fit`: 1 shows a `keras.utils.Progbar` of the
            bytes read (of the files on disk, so compressed bytes for gzip and bz2), then a summary line; 2
            prints only the summary; 0 prints nothing. `"auto"` is 1 when stdout is a terminal and Keras's
            interactive logging is on, else 0. The summary is also logged at INFO on the `keras_vocabsafe`
            logger.
        **settings: the layer settings that decide the vocabulary: `max_tokens`, `min_frequency`,
            `mask_token`, `oov_token`, `num_oov_indices`, and in text mode `standardize`, `split`,
            `split_pattern`, `ngrams`, `normalization_form`, `encoding_errors`, `reserved_tokens`. Build the
            layer that uses the vocabulary with the same settings.

    Returns:
        A `Vocabulary` with `counts` (without the special tokens; `reserved_tokens` first in text mode).

    Raises:
        VocabularyError: a file is missing, a directory or unreadable, or no token was found; a file is binary,
            UTF-16, or in text mode mostly not UTF-8 (in its first 8 KiB, or in any batch of 4,096 lines after).
        ConfigurationError: a setting the layers refuse, or `keys=True` with an integer `vocabulary_dtype`.
    """
    from keras_vocabsafe.lookup import VocabLookup
    from keras_vocabsafe.text import TextVocabLookup

    verbose = check_verbose(verbose, "vocabulary_from_files()")
    started = time.monotonic()
    files = _check_files(paths)
    if keys and settings.get("vocabulary_dtype", "string") != "string":
        # The layer's own error asked for integer keys or a string vocabulary: neither is the caller's to change.
        raise ConfigurationError(
            f"vocabulary_from_files(keys=True) reads every line as a string key, so it builds string vocabularies "
            f"only. Received: vocabulary_dtype={settings['vocabulary_dtype']!r}. For integer ids, parse the lines "
            "yourself and pass the ids to `VocabEmbedding(..., vocabulary_dtype='int64').adapt(ids)` (or to "
            "`keras_vocabsafe.beam.ComputeVocabulary` on a corpus too large for one machine)."
        )
    # Named for the messages of what it refuses (a setting, a key's dtype): the caller never made this layer.
    settings = {"name": "vocabulary_from_files", **settings}
    layer = VocabLookup(**settings) if keys else TextVocabLookup(**{"output_sequence_length": None, **settings})
    reader = _LineReader(files, progress, verbose, text=not keys)
    dataset = tf.data.Dataset.from_generator(reader, output_signature=tf.TensorSpec([None], tf.string))
    logger.info(
        "vocabulary_from_files(): counting %s of %d file(s), %s bytes",
        "keys" if keys else "words",
        len(files),
        f"{reader.total:,}",
    )
    try:
        # adapt's own bar counts tokens; here the bar is over the files' bytes, which gives the time left.
        layer._adapt(dataset, None, weights=None, budget=budget, verbose=0, fixes=_FILES_FIXES)
    except tf.errors.OpError:
        if reader.error is not None:  # tf.data wraps what the reader raised: give the reader's own error.
            raise reader.error from None
        raise
    except VocabularyError as error:
        if reader.error is not None:
            raise reader.error from None
        # The layer's message names a layer the caller never made: name the files instead.
        shown = ", ".join(repr(path) for path in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        message = str(error).replace(f"{layer._owner()}.adapt()", "vocabulary_from_files()")
        found_none = "found no tokens" in message
        raise type(error)(
            f"No tokens to keep in {shown}: " + message.split(": ", 1)[1] if found_none else message
        ) from None
    finally:
        reader.close_progress()
    vocabulary = cast(Vocabulary, layer.vocabulary)  # adapt set it, or raised.
    say(
        verbose,
        f"vocabulary_from_files(): {len(vocabulary):,} tokens from {len(files)} file(s), {reader.total:,} bytes, "
        f"read {reader.readings} time(s) in {time.monotonic() - started:.1f} s",
    )
    return vocabulary


def _check_files(paths: Any) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if isinstance(paths, (bytes, dict)) or not isinstance(paths, Sequence):
        raise ConfigurationError(
            f"`paths` must be a file path or a list of file paths. Received: {type(paths).__name__}."
        )
    files = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigurationError(f"`paths` holds {path!r} of type {type(path).__name__}, not a file path.")
        path = os.fspath(path)
        if os.path.isdir(path):
            raise VocabularyError(f"The corpus path {path!r} is a directory. Pass the files in it.")
        if not os.path.exists(path):
            raise VocabularyError(f"The corpus file {path!r} does not exist.")
        if not os.access(path, os.R_OK):
            raise VocabularyError(f"The corpus file {path!r} cannot be read (permission denied).")
        if not os.path.isfile(path):
            raise VocabularyError(
                f"The corpus path {path!r} is not a regular file (a pipe, such as `<(...)`, or a device): its first "
                "bytes are read twice, and all of it again past the budget. Write it to a file first."
            )
        files.append(path)
    if not files:
        raise ConfigurationError("`paths` is empty: pass at least one corpus file.")
    return files


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 text without a byte order mark: mostly ASCII characters, so every other byte is NUL."""
    pairs = len(head) // 2
    if pairs < 8:
        return False
    nuls = max(head[0::2].count(0), head[1::2].count(0))
    return nuls >= 0.9 * pairs and head.count(0) < 0.6 * len(head)


def _invalid_utf8_share(head: bytes, cut: bool) -> float:
    """The share of `head`'s bytes that are not part of valid UTF-8 (where `cut`, a character cut at its end counts
    as valid)."""
    if not head:
        return 0.0
    text = head.decode("utf-8", errors="surrogateescape")  # Each invalid byte becomes one lone surrogate.
    invalid = sum(1 for character in text if "\udc80" <= character <= "\udcff")
    if cut:  # At most the three bytes of a character that the read cut short.
        invalid -= min(3, len(head) - len(head.rstrip(bytes(range(0x80, 0x100)))))
    return max(0, invalid) / len(head)


def _stamp(path: str) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


class _LineReader:
    """Batches of lines from the files, as arrays of bytes; a new pass each time it is called."""

    def __init__(
        self, files: list[str], progress: Callable[[int, int], None] | None, verbose: int = 0, *, text: bool = True
    ) -> None:
        self._files = files
        self._text = text
        self._progress = progress
        self._verbose = verbose
        self._bar: Progress | None = None
        self._stamps = {path: _stamp(path) for path in files}  # To see a file that changes while it is read.
        self.total = sum(size for size, _ in self._stamps.values())
        self._done = 0
        self.readings = 0
        self.error: Exception | None = None  # What the reading raised, which tf.data would wrap.

    def __call__(self) -> Iterator[np.ndarray]:
        self._done = 0  # Each reading reports from 0 to the total.
        self.readings += 1
        self.close_progress()
        if self.readings > 1:
            say(self._verbose, "vocabulary_from_files(): past the budget, reading the files a second time")
        self._bar = Progress.of_bytes(self._verbose, self.total)
        for path in self._files:
            self._check_unchanged(path)
            with open(path, "rb") as raw:
                magic = raw.read(10)
                raw.seek(0)
                if magic.startswith(_GZIP_MAGIC):
                    stream: Any = gzip.GzipFile(fileobj=raw)
                elif _BZ2_STREAM.match(magic):  # Text may start with "BZh" too.
                    stream = bz2.BZ2File(raw)
                else:
                    stream = raw
                start = self._done
                batch: list[bytes] = []
                try:
                    text_start = len(UTF8_MARK)
                    if stream.read(len(UTF8_MARK)) != UTF8_MARK:  # A byte order mark (Notepad's) is not text.
                        text_start = 0
                    stream.seek(text_start)
                    head = stream.read(_SNIFF_BYTES)
                    if b"\x00" in head:
                        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(head):
                            self.error = VocabularyError(
                                f"The corpus file {path!r} is UTF-16 text, not UTF-8: convert it first, e.g. "
                                "`iconv -f utf-16 -t utf-8`."
                            )
                        else:
                            self.error = VocabularyError(
                                f"The corpus file {path!r} holds a NUL byte within its first {_SNIFF_BYTES:,} bytes: "
                                "it is a binary file (a .keras or weights file, an archive, an image), not text. Pass "
                                "the text files of the corpus (plain, gzip or bz2)."
                            )
                        raise self.error
                    # Keys are kept byte for byte.
                    share = _invalid_utf8_share(head, len(head) == _SNIFF_BYTES) if self._text else 0.0
                    if share > _MOST_INVALID_UTF8 and share * len(head) >= _FEWEST_INVALID_BYTES:
                        # Whatever `encoding_errors` says: replacing or dropping most bytes leaves no words.
                        self.error = VocabularyError(
                            f"The corpus file {path!r} is not UTF-8 text: {share:.0%} of its first "
                            f"{len(head):,} bytes are not valid UTF-8. It is a binary file, or text in another "
                            "encoding (convert it first: `iconv -f ENCODING -t utf-8`, e.g. cp1251 or latin1)."
                        )
                        raise self.error
                    stream.seek(text_start)
                    lines = 0  # The file's lines before the batch.
                    for line in stream:
                        batch.append(line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n"))
                        if len(batch) == _BATCH_LINES:
                            lines = self._check_batch(path, batch, lines)
                            yield np.array(batch, dtype=object)
                            batch = []
                            self._report(start + raw.tell())
                    self._check_batch(path, batch, lines)
                except (OSError, EOFError) as error:  # A truncated or corrupt gzip/bz2 stream.
                    if error is self.error:
                        raise  # The progress callback's own (a broken pipe, say): not the file's fault.
                    self.error = VocabularyError(f"The corpus file {path!r} is truncated or corrupt: {error}.")
                    raise self.error from None
                self._check_unchanged(path)  # Before its last batch: the counts would mix two contents.
                if batch:
                    yield np.array(batch, dtype=object)
                self._report(start + os.path.getsize(path))
        self.close_progress()

    def _check_unchanged(self, path: str) -> None:
        if _stamp(path) != self._stamps[path]:
            self.error = VocabularyError(
                f"The corpus file {path!r} changed while it was counted (its size or modification time is not what it "
                "was when counting began): the counts would mix two contents. Count a copy that does not change (a "
                "log being written to, say)."
            )
            raise self.error

    def _check_batch(self, path: str, batch: list[bytes], lines: int) -> int:
        """Refuses a batch of text lines that is mostly not UTF-8, as the first bytes are (binary data appended to
        text); returns the lines read with it (`lines` before it)."""
        if not self._text or not batch:
            return lines + len(batch)
        joined = b"\n".join(batch)
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            # Valid bytes encode back as they were; the invalid ones are dropped.
            invalid = len(joined) - len(joined.decode("utf-8", errors="ignore").encode("utf-8"))
            if invalid > _MOST_INVALID_UTF8 * len(joined) and invalid >= _FEWEST_INVALID_BYTES:
                self.error = VocabularyError(
                    f"The corpus file {path!r} is not UTF-8 text throughout: {invalid / len(joined):.0%} of the "
                    f"{len(joined):,} bytes of its lines {lines + 1:,}-{lines + len(batch):,} are not valid UTF-8, "
                    "though its first bytes are. Binary data follows the text (a file appended to another?), or "
                    "the text changes encoding there: remove it, or convert it (`iconv -f ENCODING -t utf-8`)."
                )
                raise self.error from None
        return lines + len(batch)

    def _report(self, done: int) -> None:
        self._done = done
        if self._bar is not None:
            self._bar.update(done)
        if self._progress is not None:
            try:
                self._progress(done, self.total)
            except Exception as error:  # The caller's own: raised as it was, not as tf.data's UnknownError.
                self.error = error
                raise

    def close_progress(self) -> None:
        """Ends the bar of the last reading."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
