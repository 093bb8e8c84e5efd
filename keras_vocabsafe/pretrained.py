"""Pretrained vectors: reading GloVe, word2vec and fastText files, and aligning them to a vocabulary.

Two ways in:

- `load_vectors(path)` reads a file whole (or its first `max_rows` rows) into
  a `PretrainedVectors`: its words as a `Vocabulary` and a float32 matrix.
- `align_vectors(source, vocabulary)` streams a file (or a `PretrainedVectors`)
  and keeps only the rows of the vocabulary's tokens, so memory stays near the
  size of the aligned matrix however large the file. It returns the aligned
  rows and a `CoverageReport`.

`VocabEmbedding.load_pretrained()` and `VocabEmbedding.from_pretrained()` build
on these. A word that appears twice in a file keeps its first vector (the
report counts the repeats among the words it used).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_vocabsafe._progress import Progress, check_verbose, logger
from keras_vocabsafe._tokens import Token, display_token, json_token
from keras_vocabsafe._vector_files import (
    Chunk,
    ChunkParser,
    PendingRows,
    VectorFile,
    check_nonfinite,
    nonfinite_positions,
    open_vector_file,
    refusing_nonfinite,
    without_nonfinite,
)
from keras_vocabsafe.errors import ConfigurationError
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = ["MATCH_RULES", "AlignedVectors", "CoverageReport", "PretrainedVectors", "align_vectors", "load_vectors"]

MATCH_RULES = ("exact", "lower")
"""How a vocabulary token may find its vector: the same bytes, or the same after Unicode lower-casing."""

_MISSING = -1


@dataclass(frozen=True)
class PretrainedVectors:
    """Vectors read from a file: `vectors[i]` belongs to `vocabulary[i]`."""

    vocabulary: Vocabulary
    vectors: np.ndarray
    path: str | None = None
    format: str | None = None
    duplicates: int = 0
    skipped_lines: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.vocabulary, Vocabulary):
            raise ConfigurationError(
                "`vocabulary` must be a keras_vocabsafe.Vocabulary naming the rows of `vectors`. Received: "
                f"{type(self.vocabulary).__name__}. Pass `PretrainedVectors(Vocabulary(tokens), vectors)`."
            )
        if not isinstance(self.vectors, np.ndarray):
            raise ConfigurationError(
                f"`vectors` must be a NumPy array, one row per token. Received: {type(self.vectors).__name__}. "
                "Pass `np.asarray(vectors, dtype='float32')`."
            )
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.vocabulary):
            raise ConfigurationError(
                f"PretrainedVectors needs one row per token: {len(self.vocabulary)} tokens, but a matrix of shape "
                f"{self.vectors.shape}."
            )

    @property
    def dim(self) -> int:
        """Length of each vector."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.vocabulary)

    def __repr__(self) -> str:
        return f"PretrainedVectors({len(self)} x {self.dim}, format={self.format!r}, path={self.path!r})"


@dataclass(frozen=True)
class CoverageReport:
    """How much of a vocabulary a vectors file covered.

    Attributes:
        source: the file (or `"<in memory>"`).
        format: the file's format.
        total: number of regular tokens (the mask and OOV slots are not counted).
        found: tokens that got a vector.
        found_by_rule: how many tokens each match rule found (`"exact"`, `"lower"`).
        missing_tokens: up to 20 tokens without a vector, the most frequent first
            when the vocabulary has counts, else in vocabulary order.
        weighted_coverage: share of token occurrences covered, when the vocabulary
            has counts (`Vocabulary.counts`: from `adapt`, `from_counts`, or read
            from a TensorFlow Transform frequency file).
        duplicates: rows skipped because their word had been seen earlier in the file.
        skipped_lines: lines left out under `errors="skip"` or `nonfinite="skip"`
            (in `align_vectors`, only rows whose word some token needed are
            parsed, so only those are checked for NaN or infinity).
    """

    source: str
    format: str
    total: int
    found: int
    found_by_rule: dict[str, int]
    missing_tokens: tuple[Any, ...]
    weighted_coverage: float | None
    duplicates: int = 0
    skipped_lines: int = 0

    @property
    def missing(self) -> int:
        return self.total - self.found

    @property
    def coverage(self) -> float:
        """Share of the vocabulary's tokens that got a vector."""
        return self.found / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every figure."""
        return {
            "source": self.source,
            "format": self.format,
            "total": self.total,
            "found": self.found,
            "missing": self.missing,
            "coverage": self.coverage,
            "weighted_coverage": self.weighted_coverage,
            "found_by_rule": dict(self.found_by_rule),
            "missing_tokens": [json_token(t) for t in self.missing_tokens],
            "duplicates": self.duplicates,
            "skipped_lines": self.skipped_lines,
        }

    def __str__(self) -> str:
        rules = ", ".join(f"{rule} {count:,}" for rule, count in self.found_by_rule.items())
        lines = [
            f"Coverage of {self.total:,} tokens by {self.source} ({self.format}):",
            f"  found    {self.found:>10,}  {self.coverage:7.2%}  ({rules})",
            f"  missing  {self.missing:>10,}  {1 - self.coverage:7.2%}",
        ]
        if self.weighted_coverage is not None:
            lines.append(f"  weighted by counts: {self.weighted_coverage:.2%} of token occurrences covered")
        if self.missing_tokens:
            shown = ", ".join(display_token(t) for t in self.missing_tokens[:10])
            lines.append(f"  most notable missing: {shown}")
        if self.duplicates:
            lines.append(f"  {self.duplicates:,} repeated words in the file ignored (the first vector wins)")
        if self.skipped_lines:
            lines.append(f"  {self.skipped_lines:,} lines skipped (words not valid UTF-8, or vectors not finite)")
        return "\n".join(lines)


@dataclass
class AlignedVectors:
    """Rows of a vectors source in the order of a vocabulary.

    `vectors[i]` is the vector of `vocabulary[i]` where `found[i]`, else zeros.
    """

    vectors: np.ndarray
    found: np.ndarray
    report: CoverageReport
    rules: np.ndarray = field(repr=False)


def load_vectors(
    path: str | os.PathLike[str],
    *,
    format: str = "auto",
    max_rows: int | None = None,
    tokens: Any = None,
    errors: str = "strict",
    nonfinite: str = "strict",
    verbose: Any = "auto",
) -> PretrainedVectors:
    """Reads a vectors file into memory.

    Args:
        path: a GloVe, word2vec (text or binary) or fastText `.vec` file, each
            possibly gzip-, bz2- or xz-compressed; or a `.npy` matrix.
        format: `"auto"` (default: detected from the content) or one of
            `"glove"`, `"word2vec"`, `"fasttext"`, `"word2vec_binary"`, `"npy"`.
        max_rows: keep only the first `max_rows` distinct words (files list the
            most frequent first).
        tokens: for `.npy` only: the token of each row, as a list or the path
            of a vocabulary file.
        errors: for words that are not valid UTF-8: `"strict"` (raise
            `VectorFileError` naming the line), `"replace"` (U+FFFD) or
            `"skip"` (leave the row out).
        nonfinite: for vectors that hold NaN or infinity (including numbers
            beyond float32's range): `"strict"` (default: raise
            `VectorFileError` naming the line and word) or `"skip"` (leave the
            row out as if its word were absent from the file: a later row with
            the same word is used). Lines left out under either `"skip"` are
            listed in `skipped_lines`; for a `.npy` matrix these are row
            indices (from 0).
        verbose: `"auto"` (default), 0, 1 or 2, as for `Model.fit`: 1 shows
            a `keras.utils.Progbar` of the file's bytes read (compressed
            bytes for gzip, bz2 and xz), then a summary line; 2 prints only the
            summary; 0 prints nothing. `"auto"` is 1 when stdout is a
            terminal and Keras's interactive logging is on, else 0. The
            summary is also logged at INFO on the `keras_vocabsafe` logger.

    Raises:
        VectorFileError: the file is missing, a directory, empty, truncated,
            damaged (compressed or not), holds NaN or infinity, or is
            otherwise malformed; the message names the file and, where there
            is one, the line.
        ConfigurationError: an argument of another type or value than
            described above (an unknown `format` or `errors`, say).
    """
    if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 1):
        raise ConfigurationError(f"`max_rows` must be a positive integer or None. Received: max_rows={max_rows!r}")
    verbose = check_verbose(verbose, "load_vectors()")
    file = open_vector_file(path, format, tokens=tokens, errors=errors, nonfinite=nonfinite)
    progress = _file_progress(verbose, file, "load_vectors()")
    if nonfinite == "skip":
        # Parsed here as read, so the rows left out are known before their words count as seen.
        file.chunks = without_nonfinite(file.chunks, file.skipped_lines)
    words: list[Token] = []
    blocks: list[np.ndarray | PendingRows] = []
    seen: set[Token] = set()
    duplicates = 0
    chunks = file.chunks
    # Large files: batches of rows are parsed in a worker process while this one reads on (two cores).
    with ChunkParser(file.dim) as parser:
        try:
            for chunk in chunks:
                progress.update(file.bytes_read() if file.bytes_read else progress.current + len(chunk.words))
                fresh = set(chunk.words) if max_rows is None else set()
                if fresh and len(fresh) == len(chunk.words) and fresh.isdisjoint(seen):
                    # The common case, a chunk of new words: no per-word bookkeeping.
                    seen |= fresh
                    words.extend(chunk.words)
                    blocks.append(parser.parse(chunk, list(range(len(chunk.words)))))
                    continue
                positions = []
                for position, word in enumerate(chunk.words):
                    if word in seen:
                        duplicates += 1
                        continue
                    seen.add(word)
                    words.append(word)
                    positions.append(position)
                    if max_rows is not None and len(words) == max_rows:
                        break
                blocks.append(parser.parse(chunk, positions))
                if max_rows is not None and len(words) == max_rows:
                    break
        finally:
            _close(chunks)
        arrays = parser.results(blocks)
    vectors = np.concatenate(arrays) if arrays else np.zeros((0, file.dim), np.float32)
    skipped = tuple(sorted(file.skipped_lines))
    _close_progress(
        progress,
        file,
        "load_vectors()",
        f"read {len(words):,} vectors of {file.dim} dimensions",
        duplicates,
        len(skipped),
    )
    return PretrainedVectors(Vocabulary(words), vectors, file.path, file.format, duplicates, skipped)


def align_vectors(
    source: PretrainedVectors | str | os.PathLike[str],
    vocabulary: Vocabulary | Sequence[Any],
    *,
    match: Sequence[str] = ("exact",),
    format: str = "auto",
    tokens: Any = None,
    errors: str = "strict",
    nonfinite: str = "strict",
    expected_dim: int | None = None,
    verbose: Any = "auto",
) -> AlignedVectors:
    """Finds the vector of each vocabulary token, streaming the file.

    Only rows that some token needs are parsed and kept, so memory stays near
    `len(vocabulary) * dim` floats whatever the file's size.

    Args:
        source: a `PretrainedVectors`, or a path as for `load_vectors`.
        vocabulary: the tokens to find (a `Vocabulary` or a list of tokens).
        match: rules tried in turn: `"exact"` (same bytes) and optionally
            `"lower"` (same after Unicode lower-casing of both sides). An exact
            match always beats a `"lower"` one; among `"lower"` matches the
            file's first row wins.
        format, tokens, errors, nonfinite: as for `load_vectors`. Only rows
            whose word some token needs are parsed, so only those are checked
            for NaN or infinity. `nonfinite` also applies to a
            `PretrainedVectors` source (there the "lines" are row indices).
        expected_dim: if set, a file whose vectors have another length is
            refused before it is read.
        verbose: as for `load_vectors` (a progress bar of the bytes read
            when stdout is a terminal).
    """
    match = _check_match(match)
    verbose = check_verbose(verbose, "align_vectors()")
    if not isinstance(vocabulary, Vocabulary):
        vocabulary = Vocabulary(vocabulary)
    file = _as_vector_file(source, format=format, tokens=tokens, errors=errors, nonfinite=nonfinite)
    if expected_dim is not None and file.dim != expected_dim:
        _close(file.chunks)
        raise ConfigurationError(
            f"The vectors in {file.path} have {file.dim} dimensions, but the layer's output_dim is {expected_dim}. "
            f"Build the layer with output_dim={file.dim}, or use `VocabEmbedding.from_pretrained()`, which takes "
            "its size from the file."
        )
    targets = list(vocabulary.tokens)
    exact = {token: i for i, token in enumerate(targets)}
    lowered: dict[Token, list[int]] = {}
    if "lower" in match:
        for i, token in enumerate(targets):
            lowered.setdefault(_lower(token), []).append(i)
    rules = np.full(len(targets), _MISSING, dtype=np.int8)
    vectors = np.zeros((len(targets), file.dim), dtype=np.float32)
    exact_rule, lower_rule = MATCH_RULES.index("exact"), MATCH_RULES.index("lower")
    use_exact = "exact" in match
    duplicates = 0
    chunks = file.chunks
    progress = _file_progress(verbose, file, "align_vectors()")
    try:
        for chunk in chunks:
            progress.update(file.bytes_read() if file.bytes_read else progress.current + len(chunk.words))
            left_out: set[int] = set()
            while True:
                positions: list[int] = []
                rows: list[int] = []
                before: list[int] = []  # rules[rows[k]] before this chunk set it, to undo a row found not finite.
                repeats = 0
                for position, word in enumerate(chunk.words):
                    if position in left_out:
                        continue
                    exact_row = exact.get(word) if use_exact else None
                    if exact_row is not None:
                        i = exact_row
                        if rules[i] == exact_rule:
                            repeats += 1
                            continue
                        before.append(int(rules[i]))
                        rules[i] = exact_rule
                        positions.append(position)
                        rows.append(i)
                        continue
                    if lowered:
                        for i in lowered.get(_lower(word), ()):
                            if rules[i] == _MISSING:
                                before.append(_MISSING)
                                rules[i] = lower_rule
                                positions.append(position)
                                rows.append(i)
                if not positions:
                    break
                unique = sorted(set(positions))
                parsed = chunk.parse(unique)  # Under nonfinite="strict" this raises for NaN or infinity.
                bad = nonfinite_positions(parsed) if nonfinite == "skip" else ()
                if len(bad):
                    # Match the chunk again without those rows, as if they were not in the file.
                    for i, rule in zip(reversed(rows), reversed(before)):
                        rules[i] = rule
                    left_out.update(unique[k] for k in bad)
                    continue
                where = {position: k for k, position in enumerate(unique)}
                vectors[rows] = parsed[[where[p] for p in positions]]
                break
            duplicates += repeats
            file.skipped_lines.extend(chunk.lines[p] for p in sorted(left_out))
    finally:
        _close(chunks)
    found = rules != _MISSING
    report = _report(vocabulary, found, rules, file, duplicates)
    _close_progress(
        progress,
        file,
        "align_vectors()",
        f"found vectors for {report.found:,} of {report.total:,} tokens ({report.coverage:.1%})",
        duplicates,
        report.skipped_lines,
    )
    return AlignedVectors(vectors, found, report, rules)


def _check_match(match: Sequence[str]) -> tuple[str, ...]:
    match = (match,) if isinstance(match, str) else tuple(match)
    unknown = [rule for rule in match if rule not in MATCH_RULES]
    if unknown or not match:
        raise ConfigurationError(
            f"`match` must be a non-empty sequence of rules from {MATCH_RULES}. Received: match={match!r}"
        )
    return match


def _as_vector_file(source: Any, *, format: str, tokens: Any, errors: str, nonfinite: str) -> VectorFile:
    check_nonfinite(nonfinite)
    if isinstance(source, PretrainedVectors):
        words = list(source.vocabulary.tokens)
        path = source.path or "<in memory>"

        def chunks() -> Iterator[Chunk]:
            yield Chunk(words, lambda positions: source.vectors[positions], lines=range(len(words)), unit="Row")

        file = VectorFile(path, source.format or "in memory", source.dim, chunks(), [])
        if nonfinite == "strict":  # A matrix built in memory may hold NaN as well; its rows are not file lines.
            file.chunks = refusing_nonfinite(file.chunks, f"<in memory, from {source.path}>" if source.path else path)
        return file
    return open_vector_file(source, format, tokens=tokens, errors=errors, nonfinite=nonfinite)  # Refuses a non-path.


def _report(
    vocabulary: Vocabulary, found: np.ndarray, rules: np.ndarray, file: VectorFile, duplicates: int
) -> CoverageReport:
    counts = vocabulary.counts
    missing = np.flatnonzero(~found)
    if counts is not None:
        missing = missing[np.argsort(-counts[missing], kind="stable")]
        total_count = int(counts.sum())
        weighted = float(counts[found].sum()) / total_count if total_count else None
    else:
        weighted = None
    by_rule = {rule: int(np.count_nonzero(rules == k)) for k, rule in enumerate(MATCH_RULES)}
    return CoverageReport(
        source=file.path,
        format=file.format,
        total=len(vocabulary),
        found=int(found.sum()),
        found_by_rule={rule: n for rule, n in by_rule.items() if n or rule == "exact"},
        missing_tokens=tuple(_python_token(vocabulary[i]) for i in missing[:20]),
        weighted_coverage=weighted,
        duplicates=duplicates,
        skipped_lines=len(file.skipped_lines),
    )


def _lower(token: Token) -> Token:
    if isinstance(token, int):
        return token  # An int id has no case: "lower" matches it as "exact" does.
    return token.decode("utf-8", "surrogateescape").lower().encode("utf-8", "surrogateescape")


def _python_token(token: Any) -> Any:
    if isinstance(token, bytes):
        try:
            return token.decode("utf-8")
        except UnicodeDecodeError:
            return token
    return token


def _file_progress(verbose: int, file: VectorFile, action: str) -> Progress:
    """A bar over the file's bytes, or over rows where bytes are not known (a `.npy` matrix, vectors in memory)."""
    logger.info("%s: reading %s (%s format, %d dimensions)", action, file.path, file.format, file.dim)
    return Progress.of_bytes(verbose, file.size) if file.bytes_read else Progress(verbose, unit_name="row")


def _close_progress(
    progress: Progress, file: VectorFile, action: str, what: str, duplicates: int, skipped: int
) -> None:
    extra = [f"{duplicates:,} duplicate words" if duplicates else "", f"{skipped:,} lines skipped" if skipped else ""]
    details = ", ".join(e for e in extra if e)
    progress.close(
        f"{action}: {what} from {file.path!r} in {progress.seconds:.1f} s" + (f" ({details})" if details else "")
    )


def _close(chunks: Iterator[Chunk]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
