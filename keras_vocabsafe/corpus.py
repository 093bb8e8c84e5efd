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
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import numpy as np
import tensorflow as tf

from keras_vocabsafe._counting import DEFAULT_BUDGET
from keras_vocabsafe.errors import ConfigurationError, VocabularyError
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = ["vocabulary_from_files"]

_BATCH_LINES = 4096
_GZIP_MAGIC, _BZ2_MAGIC = b"\x1f\x8b", b"BZh"


def vocabulary_from_files(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    keys: bool = False,
    budget: int | None = DEFAULT_BUDGET,
    progress: Callable[[int, int], None] | None = None,
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
        **settings: the layer settings that decide the vocabulary: `max_tokens`, `min_frequency`,
            `mask_token`, `oov_token`, `num_oov_indices`, and in text mode `standardize`, `split`,
            `split_pattern`, `ngrams`, `normalization_form`, `encoding_errors`, `reserved_tokens`. Build the
            layer that uses the vocabulary with the same settings.

    Returns:
        A `Vocabulary` with `counts` (without the special tokens; `reserved_tokens` first in text mode).

    Raises:
        VocabularyError: a file is missing, a directory or unreadable, or no token was found.
        ConfigurationError: a setting the layers refuse.
    """
    from keras_vocabsafe.lookup import VocabLookup
    from keras_vocabsafe.text import TextVocabLookup

    files = _check_files(paths)
    layer = VocabLookup(**settings) if keys else TextVocabLookup(**{"output_sequence_length": None, **settings})
    reader = _LineReader(files, progress)
    dataset = tf.data.Dataset.from_generator(reader, output_signature=tf.TensorSpec([None], tf.string))
    try:
        layer.adapt(dataset, budget=budget)
    except tf.errors.OpError:
        if reader.error is not None:  # tf.data wraps what the reader raised: give the reader's own error.
            raise reader.error from None
        raise
    return cast(Vocabulary, layer.vocabulary)  # adapt set it, or raised.


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
        files.append(path)
    if not files:
        raise ConfigurationError("`paths` is empty: pass at least one corpus file.")
    return files


class _LineReader:
    """Batches of lines from the files, as arrays of bytes; a new pass each time it is called."""

    def __init__(self, files: list[str], progress: Callable[[int, int], None] | None) -> None:
        self._files = files
        self._progress = progress
        self._total = sum(os.path.getsize(path) for path in files)
        self._done = 0
        self.error: VocabularyError | None = None

    def __call__(self) -> Iterator[np.ndarray]:
        self._done = 0  # Each reading reports from 0 to the total.
        for path in self._files:
            with open(path, "rb") as raw:
                magic = raw.read(3)
                raw.seek(0)
                if magic.startswith(_GZIP_MAGIC):
                    stream: Any = gzip.GzipFile(fileobj=raw)
                elif magic == _BZ2_MAGIC:
                    stream = bz2.BZ2File(raw)
                else:
                    stream = raw
                start = self._done
                batch: list[bytes] = []
                try:
                    for line in stream:
                        batch.append(line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n"))
                        if len(batch) == _BATCH_LINES:
                            yield np.array(batch, dtype=object)
                            batch = []
                            self._report(start + raw.tell())
                except (OSError, EOFError) as error:  # A truncated or corrupt gzip/bz2 stream.
                    self.error = VocabularyError(f"The corpus file {path!r} is truncated or corrupt: {error}.")
                    raise self.error from None
                if batch:
                    yield np.array(batch, dtype=object)
                self._report(start + os.path.getsize(path))

    def _report(self, done: int) -> None:
        self._done = done
        if self._progress is not None:
            self._progress(done, self._total)
