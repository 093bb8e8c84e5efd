"""`Vocabulary`: the ordered, distinct tokens that own an embedding's rows.

A `Vocabulary` holds the regular tokens only; the special slots (mask and OOV
rows) belong to the layer that uses it. String tokens are kept as `bytes`, so
any byte sequence survives: newlines, NUL, `\\u2028`, surrounding spaces and
bytes that are not valid UTF-8. Integer tokens are kept as Python `int`.

One JSON form (`to_config()`, `save()`) is used everywhere a vocabulary is
written down, so every path yields the same ids:

```json
{"format": "keras_vocabsafe.vocabulary", "format_version": 1,
 "dtype": "string", "encoding": "utf-8", "tokens": ["the", "cat"]}
```

`encoding` is `"utf-8"` when every token is valid UTF-8 (tokens are then
plain JSON strings) and `"base64"` otherwise (every token is then base64 of
its bytes), so the file stays valid, portable JSON whatever the tokens hold.
A file written by `save()` also lists the counts (`"counts": [...]`) when the
vocabulary has them; `to_config()` never does.

Other file formats keep each token at its file's id, special tokens included
(`Vocabulary.load(path, format=...)`, `Vocabulary.save(path, format=...)`):

- `"text"`: one UTF-8 token per line: BERT / keras-hub `vocab.txt`, Keras
  lookup vocabulary files, TensorFlow Transform files without frequencies.
- `"tft_frequency"`: TensorFlow Transform's `store_frequency=True` files,
  `"<count> <token>"` per line, read into `counts`.
- `"tokenizer_json"`: a Hugging Face `tokenizer.json` (WordPiece, WordLevel,
  BPE, Unigram), tokens by id as `Tokenizer.get_vocab()` numbers them.

What `load` reads, `save` writes back in the same format: text and frequency
files byte for byte.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from keras_vocabsafe._files import missing_directory, replace_atomically
from keras_vocabsafe._tokens import (
    Token,
    canonical_token,
    check_token_sequence,
    decode_if_utf8,
    decode_tokens,
    display_token,
    encode_tokens,
    first_repeat,
    fits_int64,
    json_token,
    standardize_dtype,
    tokens_fingerprint,
)
from keras_vocabsafe._vocabulary_files import FileLayout, detect_and_read, write_bytes
from keras_vocabsafe.errors import (
    ConfigurationError,
    DuplicateTokenError,
    KeyDtypeError,
    VocabSafeError,
    VocabularyError,
    _UnknownFormatError,
)

__all__ = ["VOCABULARY_FORMATS", "Token", "Vocabulary", "VocabularyDiff"]

_FORMAT_NAME = "keras_vocabsafe.vocabulary"
_FORMAT_VERSION = 1
VOCABULARY_FORMATS = ("json", "text", "tft_frequency", "tokenizer_json")
"""The `format=` names `Vocabulary.load` (with `"auto"`) and `Vocabulary.save` take."""


class Vocabulary(Sequence):
    """An ordered list of distinct tokens, without special slots.

    Args:
        tokens: iterable of tokens. For `dtype="string"`: `str` (encoded as
            UTF-8) or `bytes` (kept as they are). For `dtype="int64"`: integers.
        dtype: `"string"` (default) or `"int64"`.
        counts: optional, keyword only: how often each token was seen, one
            non-negative integer per token, in the tokens' order (the order
            is kept; `from_counts` orders by count).

    Raises:
        DuplicateTokenError: a token appears twice.
        KeyDtypeError: a token's type does not match `dtype`.
        ConfigurationError: `tokens` is not an ordered iterable (a set, a
            dict, a single string), `dtype` is unknown, or `counts` are not
            non-negative integers.
        VocabularyError: `counts` has another length than `tokens`.

    Examples:

    >>> vocabulary = Vocabulary(["the", "cat", b"\\xff"])
    >>> len(vocabulary), vocabulary[1]
    (3, b'cat')
    >>> Vocabulary.from_config(vocabulary.to_config()) == vocabulary
    True
    """

    __slots__ = ("_counts", "_dtype", "_index", "_layout", "_tokens")

    def __init__(
        self, tokens: Iterable[Any], dtype: str = "string", *, counts: Sequence[int] | np.ndarray | None = None
    ) -> None:
        self._counts: np.ndarray | None = None
        self._layout: FileLayout | None = None
        self._dtype = standardize_dtype(dtype, "dtype")
        check_token_sequence(tokens, "tokens")
        canonical_type = bytes if self._dtype == "string" else int
        if isinstance(tokens, (list, tuple)) and set(map(type, tokens)) <= {canonical_type}:
            # Already canonical (a config or a weights file read back): one C-level pass instead of one per token.
            self._tokens: tuple[Token, ...] = tuple(tokens)
        else:
            self._tokens = tuple(t if type(t) is canonical_type else canonical_token(t, self._dtype) for t in tokens)
        # An int64 vocabulary holds only ints (canonical_token made them so).
        int_tokens = cast("tuple[int, ...]", self._tokens)
        if self._dtype != "string" and int_tokens and not fits_int64(min(int_tokens), max(int_tokens)):
            for token in self._tokens:  # The fast path above took Python ints as they are: name the one out of range.
                canonical_token(token, self._dtype)
        self._index: dict[Token, int] = dict(zip(self._tokens, range(len(self._tokens))))
        if len(self._index) != len(self._tokens):
            self._raise_duplicate()
        if counts is not None:
            counts = _as_counts(counts)
            if len(counts) != len(self._tokens):
                raise VocabularyError(f"Got {len(self._tokens)} tokens but {len(counts)} counts; they must align.")
            self._counts = counts

    def _raise_duplicate(self) -> None:
        repeat = first_repeat(self._tokens)
        if repeat is not None:
            token, first, position = repeat
            raise DuplicateTokenError(
                f"The vocabulary lists the token {display_token(token)} twice, at positions {first} "
                f"and {position}. Every token must appear once, because each one owns one embedding "
                "row. Remove the repeats (for example with `list(dict.fromkeys(tokens))`)."
            )

    @property
    def dtype(self) -> str:
        """`"string"` or `"int64"`."""
        return self._dtype

    @property
    def counts(self) -> np.ndarray | None:
        """How often each token was seen, aligned with the tokens, or `None`.

        Set by `from_counts`, by `counts=` and by reading a file that has
        them (TensorFlow Transform frequency files, or a JSON file saved with
        counts). Counts describe how the vocabulary was made; they are not
        part of its identity (`==`) nor of `to_config()`.
        """
        return self._counts

    @property
    def source_format(self) -> str | None:
        """The format of the file `load` read this vocabulary from (see `VOCABULARY_FORMATS`), else `None`."""
        return None if self._layout is None else self._layout.format

    def fingerprint(self) -> str:
        """A digest of the tokens in order (32 hex digits): equal exactly when two vocabularies give the same ids.

        Computed as a layer's `vocabulary_fingerprint()` is, over these tokens
        alone: the two agree when the layer's ids are this vocabulary's
        positions (a vocabulary that lists its special tokens).
        """
        return tokens_fingerprint(self._tokens, self._dtype)

    def most_frequent(self, max_size: int | None = None, min_frequency: int | None = None) -> Vocabulary:
        """The most frequent tokens, by `counts`, in this vocabulary's order.

        Drops the tokens seen fewer than `min_frequency` times, then keeps the
        `max_size` most frequent; among tokens with equal counts the earlier
        one wins. Kept tokens keep their relative order (their ids close up).
        For a vocabulary in count order (TensorFlow Transform files, which
        put the greater token first among equal counts, and `from_counts`)
        this is a prefix: the tokens TensorFlow Transform's `top_k` and
        `frequency_threshold` would have kept.

        Args:
            max_size: keep at most this many tokens (None: no limit).
            min_frequency: keep only tokens seen at least this many times.

        Raises:
            VocabularyError: the vocabulary has no counts.
        """
        for name, value in (("max_size", max_size), ("min_frequency", min_frequency)):
            if value is not None and not (_is_int(value) and value >= 0):
                raise ConfigurationError(f"`{name}` must be a non-negative integer or None. Received: {name}={value!r}")
        if self._counts is None:
            raise VocabularyError(
                "This vocabulary has no counts, so its most frequent tokens are unknown. Read a TensorFlow "
                "Transform frequency file, build it with `Vocabulary.from_counts()`, or pass `counts=`."
            )
        keep = np.arange(len(self._tokens))
        if min_frequency is not None:
            keep = keep[self._counts >= min_frequency]
        if max_size is not None and len(keep) > max_size:
            by_count = np.argsort(-self._counts[keep], kind="stable")[:max_size]
            keep = np.sort(keep[by_count])
        if len(keep) == len(self._tokens):
            return self  # Immutable: nothing to cut, nothing to copy (adapt's own vocabularies, say).
        return Vocabulary([self._tokens[i] for i in keep.tolist()], dtype=self._dtype, counts=self._counts[keep])

    def diff(self, other: Vocabulary) -> VocabularyDiff:
        """How ids change from this vocabulary to `other`: added, removed and moved tokens."""
        if not isinstance(other, Vocabulary):
            raise ConfigurationError(f"`other` must be a Vocabulary. Received: {type(other).__name__}.")
        if other.dtype != self._dtype:
            raise KeyDtypeError(f"Cannot compare a {self._dtype} vocabulary with a {other.dtype} one.")
        new_index = other._index
        removed = tuple(i for i, token in enumerate(self._tokens) if token not in new_index)
        added = tuple(j for j, token in enumerate(other._tokens) if token not in self._index)
        moved = tuple(
            (i, new_index[token])
            for i, token in enumerate(self._tokens)
            if token in new_index and new_index[token] != i
        )
        return VocabularyDiff(self, other, added=added, removed=removed, moved=moved)

    @property
    def tokens(self) -> tuple[Token, ...]:
        """The tokens in order, in canonical form (`bytes` or `int`)."""
        return self._tokens

    def __len__(self) -> int:
        return len(self._tokens)

    def __getitem__(self, position):
        return self._tokens[position]

    def __iter__(self) -> Iterator[Token]:
        return iter(self._tokens)

    def __contains__(self, token: object) -> bool:
        try:
            return canonical_token(token, self._dtype) in self._index
        except KeyDtypeError:
            return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._dtype == other._dtype and self._tokens == other._tokens

    def __hash__(self) -> int:
        return hash((self._dtype, self._tokens))

    def __repr__(self) -> str:
        head = ", ".join(display_token(t) for t in self._tokens[:5])
        more = ", ..." if len(self._tokens) > 5 else ""
        return f"Vocabulary([{head}{more}], dtype={self._dtype!r}, size={len(self._tokens)})"

    def index(self, token: Any, start: int = 0, stop: int | None = None) -> int:
        """Position of `token`; raises `ValueError` if it is not in the vocabulary."""
        position = self._index.get(canonical_token(token, self._dtype))
        if position is None or position < start or (stop is not None and position >= stop):
            raise ValueError(f"{display_token(token)} is not in the vocabulary.")
        return position

    def to_list(self) -> list[Any]:
        """The tokens as Python values: `str` where a token is valid UTF-8, else `bytes`; or `int`."""
        if self._dtype != "string":
            return list(self._tokens)
        return [decode_if_utf8(t) for t in cast("tuple[bytes, ...]", self._tokens)]

    # Construction from counts ------------------------------------------------

    @classmethod
    def from_counts(
        cls,
        tokens: Sequence[Any],
        counts: Sequence[int] | np.ndarray,
        *,
        dtype: str = "string",
        max_size: int | None = None,
        min_frequency: int | None = None,
    ) -> Vocabulary:
        """Orders counted tokens by count descending, then token ascending.

        The order is a function of the counts alone, so two runs over the same
        data in any order give the same vocabulary. String tokens compare as
        bytes.

        Args:
            tokens: distinct tokens.
            counts: how often each token occurred, aligned with `tokens`.
            dtype: `"string"` or `"int64"`.
            max_size: keep at most this many tokens (the most frequent).
            min_frequency: drop tokens seen fewer times than this.
        """
        dtype = standardize_dtype(dtype, "dtype")
        check_token_sequence(tokens, "tokens")
        tokens = tokens if isinstance(tokens, Sequence) else list(tokens)
        counts = _as_counts(counts)
        for name, value in (("max_size", max_size), ("min_frequency", min_frequency)):
            if value is not None and not (_is_int(value) and value >= 0):
                raise ConfigurationError(f"`{name}` must be a non-negative integer or None. Received: {name}={value!r}")
        if len(tokens) != len(counts):
            raise VocabularyError(f"Got {len(tokens)} tokens but {len(counts)} counts; they must align.")
        if dtype == "string":
            canonical = cast("list[bytes]", [t if type(t) is bytes else canonical_token(t, dtype) for t in tokens])
            order = _order_by_count_then_bytes(canonical, counts)
            ordered: list[Any] = [canonical[i] for i in order]
        else:
            values = np.asarray([canonical_token(t, dtype) for t in tokens], dtype=np.int64)
            order = np.lexsort((values, -counts))
            ordered = values[order].tolist()
        ordered_counts = counts[order]
        keep = len(ordered)
        if min_frequency is not None:
            keep = int(np.count_nonzero(ordered_counts >= min_frequency))
        if max_size is not None:
            keep = min(keep, max_size)
        vocabulary = cls(ordered[:keep], dtype=dtype)
        vocabulary._counts = ordered_counts[:keep].copy()
        return vocabulary

    # The one JSON form --------------------------------------------------------

    def to_config(self) -> dict[str, Any]:
        """A JSON-safe dict from which `from_config` rebuilds this exact vocabulary."""
        tokens, encoding = encode_tokens(self._tokens, self._dtype)
        return {
            "format": _FORMAT_NAME,
            "format_version": _FORMAT_VERSION,
            "dtype": self._dtype,
            "encoding": encoding,
            "tokens": tokens,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        """Rebuilds a vocabulary from `to_config()` output."""
        return cls._from_json_form(config, path=None)

    @classmethod
    def _from_json_form(cls, config: Any, path: str | None) -> Vocabulary:
        """`from_config`, naming the file `path` (when the form was read from one) in every error."""
        in_file = "" if path is None else f" in the file {path!r}"
        if not isinstance(config, dict) or config.get("format") != _FORMAT_NAME:
            raise VocabularyError(
                f"Not a keras-vocabsafe vocabulary{in_file}: expected a dict with format={_FORMAT_NAME!r}, "
                f"received {type(config).__name__}"
                f"{' with format=' + repr(config.get('format')) if isinstance(config, dict) else ''}."
                + ("" if path is None else " Write the file with `Vocabulary.save()`.")
            )
        subject = "This vocabulary" if path is None else f"The vocabulary file {path!r}"
        # `encoding` says how string tokens are written; integer tokens are plain JSON numbers.
        required = ("format_version", "dtype", "tokens") + (("encoding",) if config.get("dtype") == "string" else ())
        missing = [key for key in required if key not in config]
        if missing:
            raise VocabularyError(
                f"{subject} has no {' or '.join(f'`{key}`' for key in missing)}: the JSON form that "
                "`Vocabulary.save()` and `to_config()` write holds `format`, `format_version`, `dtype`, `encoding` "
                "and `tokens`. Was it written by hand or cut short? Add what is missing (e.g. "
                '`"format_version": 1, "dtype": "string", "encoding": "utf-8"`) or write it again with '
                "`Vocabulary.save()`."
            )
        version = config["format_version"]
        if version != _FORMAT_VERSION:
            raise VocabularyError(
                f"{subject} was written in format version {version!r}; this release of "
                f"keras-vocabsafe reads version {_FORMAT_VERSION}. Upgrade keras-vocabsafe to read it."
            )
        try:
            dtype = standardize_dtype(config["dtype"])
            return cls(decode_tokens(config["tokens"], config.get("encoding"), dtype), dtype=dtype)
        except VocabSafeError as error:
            if path is None:
                raise
            raise type(error)(f"The vocabulary file {path!r} does not hold a valid vocabulary: {error}") from None

    def save(
        self,
        path: str | os.PathLike[str],
        format: str = "json",
        *,
        template: str | os.PathLike[str] | Vocabulary | None = None,
    ) -> None:
        """Writes the vocabulary to a file, atomically: the file is whole or untouched.

        Args:
            path: the file to write.
            format: `"json"` (default: our JSON form, which holds any token,
                plus the counts when there are some), `"text"` (one token per
                line), `"tft_frequency"` (`"<count> <token>"` lines; needs
                counts that never increase) or `"tokenizer_json"`. A vocabulary
                read from a file of the same format is written back as it was
                read: text and frequency files byte for byte (byte order mark,
                line endings, final newline), a `tokenizer.json` as the
                original document. Any other vocabulary saved as
                `"tokenizer_json"` without `template` is a minimal WordPiece
                tokenizer (BERT pre-tokenizer, `##` continuation, `[UNK]` as
                unknown token) that `tokenizers.Tokenizer.from_file` loads;
                the vocabulary must then hold `[UNK]`, or the library could
                not encode an unknown word.
            template: for `format="tokenizer_json"`, the `tokenizer.json`
                this vocabulary came from (its path, or a `Vocabulary`
                loaded from it), to write back with this vocabulary: the
                same bytes when the tokens are unchanged; otherwise, for a
                WordPiece or WordLevel model, the template with this
                vocabulary as the model's, its other parts (normalizer,
                pre-tokenizer, decoder, unknown token, added tokens' settings)
                kept and every id it names (added tokens, post-processor,
                padding) moved to the token's new id. A BPE or Unigram model
                is refused: its merges or scores cannot follow a changed
                vocabulary.

        Raises:
            VocabularyError: the path is a directory or in a missing
                directory, or a token cannot be held by `format` (a newline,
                a NUL byte or a trailing carriage return in a line format,
                bytes that are not UTF-8, no counts for `"tft_frequency"`, no
                `[UNK]` for a new `"tokenizer_json"`), or
                a text file of the tokens would read back as another format
                (every line a count and a token, or JSON): the message names
                the token or the format and says to use `"json"`. Also: the
                `template` is not a tokenizer.json, its model is BPE or
                Unigram and the tokens changed, or a token it names (unknown
                token, post-processor or padding token) is not in this
                vocabulary.
            ConfigurationError: `path` is not a str or path, `format` is
                unknown (also a `VocabularyError`, as `load` raises it), or
                `template` is given with a format other than
                `"tokenizer_json"`.
        """
        path = _file_path(path, "path")
        if format not in VOCABULARY_FORMATS:
            raise _UnknownFormatError(
                f"`format` must be one of {VOCABULARY_FORMATS}. Received: format={format!r}. Use 'json' (the "
                "default) unless another tool must read the file."
            )
        layout, source = self._layout, None
        if template is not None:
            layout, source = _template_layout(template, format)
        if os.path.isdir(path):
            raise VocabularyError(
                f"Cannot save the vocabulary to {path!r}: it is a directory. Pass a file path, e.g. "
                f"{os.path.join(path, 'vocabulary.json')!r}."
            )
        directory = os.path.dirname(os.path.abspath(path))
        missing = missing_directory(directory)
        if missing is not None:
            raise VocabularyError(f"Cannot save the vocabulary to {path!r}: {missing}.")
        if format == "json":
            config = self.to_config()
            if self._counts is not None:
                config["counts"] = self._counts.tolist()
            data = json.dumps(config, ensure_ascii=True).encode("ascii")
        else:
            data = write_bytes(self._tokens, self._counts, self._dtype, format, layout, source)
        try:
            _atomic_write_bytes(path, data)
        except OSError as error:
            raise VocabularyError(f"Cannot save the vocabulary to {path!r}: {error}.") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str], dtype: str = "string", format: str = "auto") -> Vocabulary:
        """Reads a vocabulary file; every token keeps its file's id (its line, or its id in a tokenizer.json).

        Special tokens such as `[PAD]` or `[UNK]` are read as the plain tokens
        they are, at their positions.

        Formats (`format=`):

        - `"auto"` (default): detected from the content. A document starting
          with `{` is our JSON form, or a `tokenizer.json` when it has a
          `model`; a text file whose every line is `"<count> <token>"` (a
          whole number without leading zeros, then one space) with counts
          that never increase is a TensorFlow Transform frequency file; any
          other file is text. Pass `format=` to force a reading (say, a
          frequency file whose counts are not ordered, or a text vocabulary
          whose first token starts with `{`).
        - `"json"`: the form `save()` writes (with its counts, if saved).
        - `"text"`: one UTF-8 token per line (BERT / keras-hub `vocab.txt`,
          Keras lookup vocabulary files, TensorFlow Transform files without
          frequencies). A UTF-8 byte order mark at the start is skipped, and
          when every line ends in `\\r\\n` (Windows line endings) those are
          removed. With `dtype="int64"`, every line is an integer.
        - `"tft_frequency"`: `tft.vocabulary(store_frequency=True)` files:
          on each line a count, one space, and the token (the rest of the
          line, spaces included); the counts become `counts`.
        - `"tokenizer_json"`: a Hugging Face `tokenizer.json` with a
          WordPiece, WordLevel, BPE or Unigram model: the model's tokens by
          id (ids must run from 0 with no gap nor repeat), then the added
          tokens whose ids follow (as `Tokenizer.get_vocab()` numbers them).

        `dtype` applies to text and frequency files.

        `path` may be a pipe: a shell's process substitution (`<(zcat vocab.txt.gz)`) is read to its end. A named
        FIFO is opened as `open()` opens it, so the call waits until a process opens the FIFO to write (POSIX
        behaviour; a Ctrl-C interrupts the wait). There is no time limit: a writer may be slow to start, and
        opening without waiting would read a FIFO whose writer has not come yet as an empty file.

        Raises:
            VocabularyError: the file is missing, a directory, unreadable,
                empty, UTF-16 or other non-UTF-8 text, truncated JSON, a
                JSON document that is not a vocabulary, a tokenizer.json
                whose ids have a gap, or a frequency line without a count.
            DuplicateTokenError: the file lists a token twice (the message
                names both lines), or a tokenizer.json gives one id to two
                tokens.
            ConfigurationError: `path` is not a str or path, `dtype` is
                not `"string"` or `"int64"`, or `format` is unknown (checked
                before the file is read; also a `VocabularyError`, as it was).
        """
        path = _file_path(path, "path")
        if format != "auto" and format not in VOCABULARY_FORMATS:  # Before the file: a bad argument is told first.
            raise _UnknownFormatError(
                f"`format` must be 'auto' or one of {VOCABULARY_FORMATS}. Received: format={format!r}. Use 'auto' "
                "(the default) to detect it from the content."
            )
        dtype = standardize_dtype(dtype, "dtype")  # Before the file too.
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise VocabularyError(
                f"The vocabulary file {path!r} does not exist. Pass the path of a file written by "
                "`Vocabulary.save()` or a text file with one token per line."
            ) from None
        except IsADirectoryError:
            raise VocabularyError(
                f"The vocabulary path {path!r} is a directory. Pass the path of a vocabulary file inside it (a file "
                "written by `Vocabulary.save()` or a text file with one token per line)."
            ) from None
        except OSError as error:
            raise VocabularyError(f"The vocabulary file {path!r} cannot be read: {error}.") from None
        for mark, encoding in _OTHER_ENCODING_MARKS:
            if data.startswith(mark):
                raise VocabularyError(
                    f"The vocabulary file {path!r} is {encoding} text (it starts with a {encoding} byte order mark); "
                    f"vocabulary files are UTF-8. Convert it, e.g. `open(path, encoding='{encoding.lower()}').read()` "
                    "and write it back with encoding='utf-8'."
                )
        unmarked = _unmarked_utf16(data)
        if unmarked is not None:
            raise _utf16_error(path, [unmarked], "read as UTF-8, NUL or control bytes stand between its letters")
        if b"\x00" in data[:4096] and not data.lstrip().startswith(b"{") and _looks_binary(data):
            raise VocabularyError(
                f"The vocabulary file {path!r} looks binary (NUL bytes among its first lines), not a text or JSON "
                "vocabulary. Check the path: a checkpoint or a vectors file is not a vocabulary."
            )
        try:
            result = detect_and_read(data, path, format, dtype)
        except ConfigurationError:
            raise
        except VocabularyError as error:
            refusal = "lists a token twice" if isinstance(error, DuplicateTokenError) else "is not a vocabulary"
            reading = _refused_utf16(data, refusal)
            if reading is None:
                raise
            raise _utf16_error(path, *reading) from None
        if result.config is not None:
            vocabulary = cls._from_json_form(result.config, path)
            counts = result.config.get("counts")
            if counts is not None:
                try:
                    vocabulary = cls(vocabulary.tokens, vocabulary.dtype, counts=counts)
                except (ConfigurationError, VocabularyError) as error:
                    raise VocabularyError(f"The counts in {path!r} are invalid: {error}") from None
        else:
            vocabulary = cls(result.tokens, dtype=dtype, counts=result.counts)
        vocabulary._layout = result.layout
        return vocabulary


@dataclass(frozen=True)
class VocabularyDiff:
    """How ids change from an old vocabulary to a new one (`old.diff(new)`).

    Positions are ids within each vocabulary; a layer adds the same number of
    special slots to both when neither lists its special tokens.

    Attributes:
        old, new: the two vocabularies.
        added: positions in `new` of the tokens `old` lacks.
        removed: positions in `old` of the tokens `new` lacks.
        moved: `(old_position, new_position)` of the tokens in both whose id changed.
    """

    old: Vocabulary
    new: Vocabulary
    added: tuple[int, ...]
    removed: tuple[int, ...]
    moved: tuple[tuple[int, int], ...]

    @property
    def identical(self) -> bool:
        """True when both vocabularies have the same tokens in the same order (the same ids)."""
        return self.old == self.new

    @property
    def kept(self) -> int:
        """Number of tokens in both vocabularies."""
        return len(self.old) - len(self.removed)

    def to_dict(self, examples: int = 10) -> dict[str, Any]:
        """A JSON-safe summary, with up to `examples` tokens of each kind."""
        return {
            "identical": self.identical,
            "old_size": len(self.old),
            "new_size": len(self.new),
            "kept": self.kept,
            "added": len(self.added),
            "removed": len(self.removed),
            "moved": len(self.moved),
            "added_examples": [{"token": json_token(self.new[j]), "id": j} for j in self.added[:examples]],
            "removed_examples": [{"token": json_token(self.old[i]), "id": i} for i in self.removed[:examples]],
            "moved_examples": [
                {"token": json_token(self.old[i]), "old_id": i, "new_id": j} for i, j in self.moved[:examples]
            ],
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """What the differences mean for a model trained on the old vocabulary."""
        if self.identical:
            return "The vocabularies are identical: every token has the same id."
        if not self.removed and not self.moved:
            return (
                f"Every token of the old vocabulary keeps its id; the new one adds {len(self.added):,} tokens after "
                "them. A model trained on the old vocabulary keeps all its rows; `VocabEmbedding.update_vocabulary` "
                "adds rows for the new tokens."
            )
        return (
            f"A model trained on the old vocabulary would lose the rows of {len(self.removed):,} tokens (removed) "
            f"and would read {len(self.moved):,} rows at the wrong ids (moved) if the new vocabulary were used "
            "without remapping. `VocabEmbedding.update_vocabulary` and `load_remapped_weights` keep the rows of "
            f"the {self.kept:,} tokens in both, by token."
        )

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, examples: int = 5) -> str:
        """The counts, up to `examples` tokens of each kind, and `summary()`, as `print(diff)` shows them."""
        lines = [
            f"old: {len(self.old):,} tokens, new: {len(self.new):,} tokens; {self.kept:,} in both",
            f"added    {len(self.added):>10,}",
            f"removed  {len(self.removed):>10,}",
            f"moved    {len(self.moved):>10,}",
        ]
        for title, rows in (
            ("added", [f"{display_token(self.new[j])} (id {j})" for j in self.added[:examples]]),
            ("removed", [f"{display_token(self.old[i])} (id {i})" for i in self.removed[:examples]]),
            ("moved", [f"{display_token(self.old[i])} ({i} -> {j})" for i, j in self.moved[:examples]]),
        ):
            more = ", ..." if len(getattr(self, title)) > examples else ""
            if rows:
                lines.append(f"  {title}: " + ", ".join(rows) + more)
            elif more:
                lines.append(f"  {title}: ...")
        lines.append(self.summary())
        return "\n".join(lines)


_MAX_SORT_WIDTH = 256


def _template_layout(template: Any, format: str) -> tuple[FileLayout, str]:
    """The layout (document and tokens) of the tokenizer.json `Vocabulary.save(template=...)` names, and its name."""
    if format != "tokenizer_json":
        raise ConfigurationError(
            f"`template` is a tokenizer.json to write this vocabulary into, so it needs format='tokenizer_json'. "
            f"Received: format={format!r}. Drop `template`, or pass format='tokenizer_json'."
        )
    if isinstance(template, Vocabulary):
        if template.source_format != "tokenizer_json":
            origin = f"read from a {template.source_format} file" if template.source_format else "not read from a file"
            raise VocabularyError(
                "`template` must be the path of a tokenizer.json, or a Vocabulary loaded from one "
                f"(`Vocabulary.load(path)`). Received: a Vocabulary {origin}."
            )
        return cast("FileLayout", template._layout), "the one `template` was loaded from"
    if not isinstance(template, (str, os.PathLike)):
        raise ConfigurationError(
            "`template` must be the path of a tokenizer.json, or a Vocabulary loaded from one. "
            f"Received: {type(template).__name__}."
        )
    name = os.fspath(template)
    return cast("FileLayout", Vocabulary.load(template, format="tokenizer_json")._layout), repr(name)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _as_counts(counts: Any) -> np.ndarray:
    """`counts` as a 1-D int64 array of non-negative whole numbers, or a `ConfigurationError`."""
    values = np.asarray(counts)
    if values.ndim == 1 and values.size == 0:
        return np.zeros(0, dtype=np.int64)  # An empty list is float64 to NumPy.
    if values.dtype == object and values.ndim == 1 and all(map(_is_int, values.tolist())):
        # Python ints beyond int64 (NumPy keeps them as objects): whole numbers, only too large to round.
        raise ConfigurationError(
            f"`counts` must be non-negative and fit in int64. Received counts from {min(values.tolist())} to "
            f"{max(values.tolist())}."
        )
    if values.dtype.kind not in "iu" or values.ndim != 1:
        raise ConfigurationError(
            "`counts` must be a 1-D sequence of integer counts, one per token. Received: an array of dtype "
            f"{values.dtype} and shape {values.shape}. Round or convert the counts to integers first."
        )
    if values.size and (values.min() < 0 or (values.dtype.kind == "u" and values.max() > 2**63 - 1)):
        raise ConfigurationError(
            f"`counts` must be non-negative and fit in int64. Received counts from {values.min()} to {values.max()}."
        )
    return values.astype(np.int64)


def _order_by_count_then_bytes(tokens: list[bytes], counts: np.ndarray) -> np.ndarray:
    """Indices that order tokens by count descending, then bytewise ascending."""
    width = max(map(len, tokens), default=0)
    if width > _MAX_SORT_WIDTH:  # A fixed-width array would cost len(tokens) * width bytes.
        by_token = np.asarray(sorted(range(len(tokens)), key=tokens.__getitem__), dtype=np.int64)
        return by_token[np.argsort(-counts[by_token], kind="stable")]
    # NumPy's fixed-width bytes compare like bytes, except that trailing NULs are padding:
    # b"a" and b"a\x00" look equal. Among those, bytewise order puts the shorter first.
    fixed = np.array(tokens, dtype=f"S{max(width, 1)}")
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    return np.lexsort((lengths, fixed, -counts))


# Longest first: the UTF-32 little-endian mark starts with the UTF-16 one.
_OTHER_ENCODING_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _file_path(path: Any, argument: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigurationError(
            f"`{argument}` must be a file path (str or os.PathLike). Received: {argument}={path!r} of type "
            f"{type(path).__name__}."
        )
    return os.fspath(path)


def _unmarked_utf16(data: bytes) -> str | None:
    """Whether the file's start is UTF-16 text without a byte order mark (as some Windows tools write): decoded as
    UTF-16, it is printable text with no control character but line breaks and tabs (binary numbers, such as small
    int16 values, give some), and either every other byte is NUL (letters of the Latin alphabets), or its line
    breaks are code units of their own (other scripts, whose bytes are rarely NUL: their lines still end in
    `\n\0`) and either most 0A bytes are line breaks or there are two line breaks or more, or nearly every high
    byte is a control byte, as in the letters of Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai... (U+0100 to
    U+1FFF: a line of them without a line break has no NUL byte at all). Returns the encoding ("UTF-16-LE" or
    "UTF-16-BE"), or None. A file this leaves undecided and that is refused as UTF-8 goes to `_refused_utf16`, which
    says what neither detects."""
    head = data[: 4096 & ~1]
    # UTF-16 text has NUL or control bytes (Latin letters' high bytes, line breaks', other scripts' high bytes).
    if not any(byte < 0x20 and byte not in b"\n\r" for byte in head):
        return None
    for encoding, letters, zeros in (("UTF-16-LE", head[0::2], head[1::2]), ("UTF-16-BE", head[1::2], head[0::2])):
        text = head.decode(encoding.lower(), errors="replace")
        body = text[:-1] if len(head) < len(data) else text  # The 4096-byte cut may split a surrogate pair.
        if not text or "\ufffd" in body or not all(c.isprintable() or c in "\n\r\t" for c in body):
            continue
        latin = zeros.count(0) >= 0.9 * len(zeros) and not letters.count(0)
        # UTF-8 text with a NUL token can show a UTF-16 line break ("\0\n"), but its own line breaks are not ones.
        lines = text.count("\n")
        # UTF-8 text has a control byte in a rare odd token, not in every other byte.
        scripts = sum(byte < 0x20 for byte in zeros) >= 0.9 * len(zeros)
        # Letters whose own bytes are 0A (上 is U+4E0A) can outnumber the line breaks. But each UTF-16 line break
        # needs a NUL byte beside a 0A byte, which UTF-8 text has only where a token holds a NUL: one "\0" token
        # shows one line break, not two.
        if latin or (lines and lines >= head.count(b"\n") / 2) or scripts or lines >= 2:
            return encoding
    return None


def _refused_utf16(data: bytes, refusal: str) -> tuple[tuple[str, ...], str] | None:
    """For a file refused as a vocabulary when read as UTF-8: whether it is UTF-16 text without a byte order mark
    that `_unmarked_utf16` leaves undecided (one line, or one line break). The whole file decodes as UTF-16 into
    printable text, line breaks and tabs, and either the UTF-16 text ends with its line break ("上上\n" in
    UTF-16-LE is the UTF-8 lines '', 'N', 'N' and a last NUL), or the file is not UTF-8 and either has a UTF-16
    line break or is one line without a 0A byte (a line of Chinese without a line break holds no NUL byte).

    Not taken for UTF-16: a UTF-8 file with a repeat that also decodes as UTF-16 without a line break
    ("abc\nabc\n" is four CJK letters in UTF-16-BE), and Latin-1 or other 8-bit text over several lines (its
    line breaks stand without a NUL beside them, so in UTF-16 they are parts of letters). A single line of 8-bit
    text of even length can read as UTF-16 letters: the reason returned shows the text UTF-16 gives, so that the
    message shows such a misreading for what it is.

    Not detected, because the file is a vocabulary as it is when read as UTF-8: one line of UTF-16 (or two, the
    last without a line break) whose bytes are valid UTF-8 without a repeated line, such as 你好 in UTF-16-LE (the
    ASCII token "`O}Y"), or 上下上 and its line break (the tokens '', 'N\x0bN', 'N' and a last NUL token in UTF-8):
    a UTF-8 file of those tokens reads the same.

    `refusal` says what the file is as UTF-8 when it is UTF-8 ("lists a token twice"). Returns the encodings that
    fit (both byte orders when a short line reads as text either way) and the words that say why, or None."""
    if len(data) % 2:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = False
    else:
        utf8 = True
    texts = {}
    for encoding in ("UTF-16-LE", "UTF-16-BE"):
        try:
            text = data.decode(encoding.lower())
        except UnicodeDecodeError:  # An unpaired surrogate.
            continue
        if not all(c.isprintable() or c in "\n\r\t" for c in text):
            continue
        if text.endswith("\n") or (not utf8 and ("\n" in text or b"\n" not in data)):
            texts[encoding] = text
    if len(texts) == 2 and any("\n" in text for text in texts.values()):
        texts = {encoding: text for encoding, text in texts.items() if "\n" in text}
    if not texts:
        return None
    encoding, text = next(iter(texts.items()))
    shown = (
        f"; read as {encoding}, its first line is {display_token(text.split(chr(10))[0])}" if len(texts) == 1 else ""
    )
    return tuple(texts), f"read as UTF-8, it {refusal if utf8 else 'is not valid UTF-8'}{shown}"


def _utf16_error(path: str, encodings: Sequence[str], reason: str) -> VocabularyError:
    name = encodings[0] if len(encodings) == 1 else "UTF-16"
    other = "" if len(encodings) == 1 else f" (or '{encodings[1].lower()}': whichever gives the tokens)"
    return VocabularyError(
        f"The vocabulary file {path!r} is {name} text without a byte order mark ({reason}); vocabulary files are "
        f"UTF-8. Convert it, e.g. `open(path, encoding='{encodings[0].lower()}').read()`{other} and write it back "
        "with encoding='utf-8'."
    )


def _looks_binary(data: bytes) -> bool:
    """True when NUL bytes are common in the file's start: a binary file, not text with a rare NUL token."""
    head = data[:4096]
    return head.count(b"\x00") > max(2, len(head) // 64)


def _atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes `data` to `path` through a temporary file synced to disk, so `path` is never half-written; a symbolic
    link is written through (its target replaced, the link kept), as `open(path, "w")` would."""
    with replace_atomically(os.fspath(path), ".vocabulary-", ".tmp") as temporary, open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _as_vocabulary(vocabulary: Any, dtype: str) -> Vocabulary:
    """Accepts a `Vocabulary`, a path, or an array-like of tokens."""
    source = ""
    if isinstance(vocabulary, (str, os.PathLike)):
        source = f" read from {os.fspath(vocabulary)!r}"
        vocabulary = Vocabulary.load(vocabulary, dtype=dtype)
    if isinstance(vocabulary, Vocabulary):
        if vocabulary.dtype != dtype:
            raise KeyDtypeError(
                f"The vocabulary{source} has dtype {vocabulary.dtype!r} but the layer uses vocabulary_dtype={dtype!r}. "
                f"Build the layer with vocabulary_dtype={vocabulary.dtype!r}, or pass {dtype} tokens."
            )
        return vocabulary
    if hasattr(vocabulary, "numpy"):  # tf.Tensor, without importing TensorFlow here.
        vocabulary = vocabulary.numpy()
    if isinstance(vocabulary, np.ndarray):
        if vocabulary.ndim != 1:
            raise ConfigurationError(
                f"`vocabulary` must be one-dimensional. Received an array of shape {vocabulary.shape}."
            )
        vocabulary = vocabulary.tolist()
    if isinstance(vocabulary, (bytes, Mapping)) or not isinstance(vocabulary, Iterable):
        raise ConfigurationError(
            "`vocabulary` must be a list or array of tokens, a `Vocabulary`, or the path of a vocabulary "
            f"file. Received: vocabulary of type {type(vocabulary).__name__}."
        )
    check_token_sequence(vocabulary, "vocabulary")
    return Vocabulary(vocabulary, dtype=dtype)
