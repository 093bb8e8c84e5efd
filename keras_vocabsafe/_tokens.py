"""Tokens in their canonical form: conversion, checks, and renderings for messages, reports and JSON.

The helpers every module shares for single tokens and token lists; `Vocabulary` builds on them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from keras_vocabsafe.errors import ConfigurationError, KeyDtypeError, VocabularyError

Token = bytes | int
"""A token in its canonical form: `bytes` for string vocabularies, `int` otherwise."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT64_RANGE = (INT64_MIN, INT64_MAX)
_INTEGER_DTYPE_ALIASES = {"int64": "int64", "int32": "int64", "int": "int64"}


def standardize_dtype(dtype: Any, argument: str = "vocabulary_dtype") -> str:
    """Returns `"string"` or `"int64"` for a vocabulary dtype given by name or object (as `argument`)."""
    name = getattr(dtype, "name", dtype)
    if not isinstance(name, str):  # A list or other unhashable value would fail the lookups below with a TypeError.
        name = None
    if name in ("string", "str", "bytes", "object"):
        return "string"
    if name in _INTEGER_DTYPE_ALIASES:
        return _INTEGER_DTYPE_ALIASES[name]
    raise ConfigurationError(
        f"`{argument}` must be 'string' or 'int64'. Received: {argument}={dtype!r}. "
        "Use 'string' for words or other text keys and 'int64' for integer ids such as user or item ids."
    )


def canonical_token(token: Any, dtype: str, *, what: str = "token") -> Token:
    """Converts one token to its canonical form, or raises `KeyDtypeError`."""
    if dtype == "string":
        if isinstance(token, bytes):
            return token
        if isinstance(token, np.bytes_):
            return bytes(token)
        if isinstance(token, str):
            try:
                return token.encode("utf-8")
            except UnicodeEncodeError:
                raise KeyDtypeError(
                    f"The {what} {token!r} is a str that cannot be encoded as UTF-8 (it holds a lone "
                    "surrogate). Pass tokens that are not valid UTF-8 as `bytes` instead."
                ) from None
        raise KeyDtypeError(
            f"A string vocabulary takes str or bytes tokens. Received: {what}={token!r} of type "
            f"{type(token).__name__}. For integer ids, pass `vocabulary_dtype='int64'`."
        )
    if isinstance(token, (bool, np.bool_)) or not isinstance(token, (int, np.integer)):
        raise KeyDtypeError(
            f"An int64 vocabulary takes integer tokens. Received: {what}={token!r} of type "
            f"{type(token).__name__}. For text keys, pass `vocabulary_dtype='string'`."
        )
    value = int(token)
    if not fits_int64(value):
        raise KeyDtypeError(
            f"The {what} {value} does not fit in int64 (from {INT64_MIN} to {INT64_MAX}). Map such ids into that "
            "range first (for example with a hash), or use string keys."
        )
    return value


def fits_int64(*values: int) -> bool:
    return all(INT64_MIN <= value <= INT64_MAX for value in values)


def check_token_sequence(tokens: Any, argument: str) -> None:
    """Refuses containers that are not an ordered sequence of tokens, before they are iterated."""
    if isinstance(tokens, (set, frozenset)):
        raise ConfigurationError(
            f"`{argument}` must be ordered, because each token's position decides its id. Received: a "
            f"{type(tokens).__name__} of {len(tokens)} tokens, whose order changes from one process to the next. "
            f"Pass `sorted({argument})` or a list in the order you want."
        )
    if isinstance(tokens, (str, bytes, Mapping)) or not isinstance(tokens, Iterable):
        raise ConfigurationError(
            f"`{argument}` must be a list, tuple, 1-D array or other iterable of tokens. Received: {argument} of type "
            f"{type(tokens).__name__}"
            + (f" ({display_token(tokens)})" if isinstance(tokens, (str, bytes)) else "")
            + ". For one token, pass a list of one token."
        )


def first_repeat(tokens: Iterable[Any]) -> tuple[Any, int, int] | None:
    """The first token that appears again, with the position it first took and that of its repeat; None if none does."""
    first: dict[Any, int] = {}
    for position, token in enumerate(tokens):
        seen = first.setdefault(token, position)
        if seen != position:
            return token, seen, position
    return None


def display_token(token: Token | str | None) -> str:
    """A short, unambiguous rendering of a token for error messages and reports."""
    if isinstance(token, bytes):
        try:
            token = token.decode("utf-8")
        except UnicodeDecodeError:
            pass
    text = repr(token)
    return text if len(text) <= 60 else text[:57] + "..."


def json_token(token: Token) -> Any:
    """A token as a JSON value: text where it is UTF-8, else the `repr` of its bytes (still recognisable)."""
    if isinstance(token, bytes):
        text = decode_if_utf8(token)
        return repr(text) if isinstance(text, bytes) else text
    return token


def decode_if_utf8(token: bytes) -> str | bytes:
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return token


def encode_tokens(tokens: Sequence[Token], dtype: str) -> tuple[list[Any], str | None]:
    """Tokens as JSON values plus the encoding name (`None` for integers)."""
    if dtype != "string":
        return [int(t) for t in tokens], None
    try:
        return [t.decode("utf-8") for t in tokens], "utf-8"  # type: ignore[union-attr]
    except UnicodeDecodeError:
        return [base64.b64encode(t).decode("ascii") for t in tokens], "base64"  # type: ignore[arg-type]


def decode_tokens(values: Any, encoding: str | None, dtype: str) -> list[Token]:
    """Inverse of `encode_tokens`."""
    if not isinstance(values, list):
        raise VocabularyError(f"Expected a list of tokens, received {type(values).__name__}.")
    if dtype != "string":
        return [canonical_token(v, dtype) for v in values]
    if encoding == "utf-8":
        try:
            # JSON gives str; one method call each keeps a config of millions of tokens quick to restore.
            return [v.encode("utf-8") for v in values]
        except (AttributeError, UnicodeEncodeError):
            return [canonical_token(v, dtype) for v in values]  # Names the token that is not a valid str.
    if encoding == "base64":
        try:
            return [base64.b64decode(v, validate=True) for v in values]
        except (ValueError, TypeError) as error:
            raise VocabularyError(f"A base64-encoded token could not be decoded: {error}.") from None
    raise VocabularyError(f"Unknown token encoding {encoding!r}; expected 'utf-8' or 'base64'.")


def layer_ids(tokens: Sequence[Token], mask: Token | None, oov: Token, num_oov_indices: int) -> list[Token]:
    """Every id's token for a layer built with `vocabulary=tokens` (canonical tokens, special ones included).

    Tokens that list neither special token follow Keras's layout (mask, `num_oov_indices` OOV ids, tokens);
    tokens that list them keep their positions as ids. The layers check a vocabulary further (both special tokens
    listed, one OOV id); this is the layout alone, for tools that read a layer's config without building it.
    """
    listed = set(tokens).intersection(t for t in (mask, oov) if t is not None)
    if listed:
        return list(tokens)
    return ([mask] if mask is not None else []) + [oov] * num_oov_indices + list(tokens)


TOKEN_CHUNK = 1 << 16
"""How many tokens the whole-vocabulary passes (fingerprint, stored form) take at a time. `bytes.join` holds an 80-byte
buffer record per item while it runs, so one join of 10M tokens would take 800 MB beside the joined bytes; a chunk's
join takes 5 MB, and the per-token work still runs in NumPy and C rather than in a Python call per token."""


def chunk_bounds(count: int) -> Iterator[tuple[int, int]]:
    """`(start, stop)` of each chunk of `TOKEN_CHUNK` items out of `count`, in order."""
    for start in range(0, count, TOKEN_CHUNK):
        yield start, min(start + TOKEN_CHUNK, count)


def joined_chunks(tokens: Sequence[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """`(start, stop, b"".join(tokens[start:stop]))` for each chunk of `TOKEN_CHUNK` string tokens, in order."""
    for start, stop in chunk_bounds(len(tokens)):
        yield start, stop, b"".join(tokens[start:stop])


def tokens_fingerprint(tokens: Sequence[Token], dtype: str) -> str:
    """The digest `Vocabulary.fingerprint` and a layer's `vocabulary_fingerprint` give: SHA-256 over every token's
    length (8 bytes, little-endian) and bytes (an integer token's decimal digits), in order; 32 hex digits."""
    hasher = hashlib.sha256(f"keras_vocabsafe:{dtype}:".encode())
    # Fed a chunk of tokens at a time, laid out with NumPy: the same bytes, so the same digest, as feeding each
    # length and token in turn, without two hasher calls per token (20 million for a 10-million-token layer).
    for start, stop in chunk_bounds(len(tokens)):
        raw = [t if isinstance(t, bytes) else str(t).encode() for t in tokens[start:stop]]
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        data = np.frombuffer(b"".join(raw), dtype=np.uint8)
        headers = np.arange(len(raw), dtype=np.int64) * 8
        headers[1:] += np.cumsum(lengths[:-1])
        header_positions = (headers[:, None] + np.arange(8)).reshape(-1)
        stream = np.empty(header_positions.size + data.size, dtype=np.uint8)
        stream[header_positions] = lengths.astype("<i8").view(np.uint8)
        is_data = np.ones(stream.size, dtype=bool)
        is_data[header_positions] = False
        stream[is_data] = data
        hasher.update(stream.data)
    return hasher.hexdigest()[:32]
