"""Readers and writers of the vocabulary file formats `Vocabulary.load` and `Vocabulary.save` know.

Every reader returns the file's tokens in file order (a token's line, or its id in a `tokenizer.json`, is its
position), the counts where the file has them, and a `FileLayout` that lets the writer of the same format put back
the very bytes it read: byte order mark, line endings, final newline, and for a `tokenizer.json` the whole
original document.

Formats (the names `format=` takes):

- `"json"`: our own JSON form (see `keras_vocabsafe.vocabulary`); the only one that holds any token.
- `"text"`: one token per line, UTF-8: BERT / keras-hub `vocab.txt`, Keras lookup vocabulary files, TensorFlow
  Transform files written without frequencies.
- `"tft_frequency"`: TensorFlow Transform's `tft.vocabulary(store_frequency=True)` files: `"<count> <token>"` per
  line (the count, one space, then the rest of the line is the token, spaces included), most frequent first and,
  among equal counts, the greater token (bytewise) first.
- `"tokenizer_json"`: a Hugging Face `tokenizer.json` (`WordPiece`, `WordLevel`, `BPE` or `Unigram` model): the
  model's vocabulary by id, then the added tokens whose ids follow it, exactly as `Tokenizer.get_vocab()` numbers
  them. Other tokens are written into a template `tokenizer.json` (`Vocabulary.save(template=...)`) when its model
  can take them (WordPiece, WordLevel), else as a minimal WordPiece tokenizer.
"""

from __future__ import annotations

import itertools
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_vocabsafe._files import UTF8_MARK
from keras_vocabsafe.errors import DuplicateTokenError, VocabularyError

__all__ = ["FORMATS", "FileLayout", "ReadResult", "detect_and_read", "write_bytes"]

FORMATS = ("json", "text", "tft_frequency", "tokenizer_json")
_TOKENIZER_MODELS = ("WordPiece", "WordLevel", "BPE", "Unigram")
# TFT writes counts with '{}'.format(count): a canonical decimal integer. Auto-detection asks for exactly that.
_FREQUENCY_LINE = re.compile(rb"(0|[1-9][0-9]{0,18}) ")  # A count of 20 digits or more is no int64: not one.
_FORCED_FREQUENCY_LINE = re.compile(rb"([0-9]+) ")
_INTEGER_LINE = re.compile(rb"[+-]?[0-9]{1,4000}")  # Longer is no int64 (and past what int() reads).


@dataclass(frozen=True)
class FileLayout:
    """How a file was laid out, so that writing the same tokens back in its format gives the same bytes."""

    format: str
    byte_order_mark: bool = False
    newline: bytes = b"\n"
    ending: bytes = b"\n"  # What follows the last token: the newline, nothing, or a lone "\r".
    document: bytes | None = None  # A tokenizer.json's bytes as read.
    tokens: tuple[Any, ...] = ()  # The tokens read from `document`.


@dataclass(frozen=True)
class ReadResult:
    """What a reader found: raw tokens (bytes, or ints for int64 text files), counts or None, and the layout."""

    tokens: list[Any]
    counts: np.ndarray | None
    layout: FileLayout
    config: dict[str, Any] | None = None  # Our JSON form, for `Vocabulary.from_config`.


def detect_format(data: bytes) -> str:
    """The format of a file's content (byte order mark already removed): see the module docstring."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        return "json"  # Ours or a tokenizer.json: told apart once parsed.
    if stripped.startswith(b"[") and _is_json(data):
        return "json"
    lines = _split_lines(data)[0]
    if lines and all(_FREQUENCY_LINE.match(line) for line in lines):
        counts = [int(_FREQUENCY_LINE.match(line).group(1)) for line in lines]  # type: ignore[union-attr]
        if all(a >= b for a, b in itertools.pairwise(counts)):
            return "tft_frequency"
    return "text"


def detect_and_read(data: bytes, path: str, format: str, dtype: str) -> ReadResult:
    """Reads `data` (the file's bytes, byte order mark included) in `format`, or the detected one for `"auto"`."""
    if format not in ("auto", *FORMATS):
        raise VocabularyError(f"`format` must be 'auto' or one of {FORMATS}. Received: format={format!r}.")
    bom = data.startswith(UTF8_MARK)
    data = data.removeprefix(UTF8_MARK)
    if not data:
        raise VocabularyError(
            f"The vocabulary file {path!r} is empty{' (it holds only a byte order mark)' if bom else ''}. Write at "
            "least one token, or check that the file was copied whole."
        )
    if format == "auto":
        format = detect_format(data)
    if format == "json":
        document = _parse_json_document(data, path)
        if isinstance(document, dict) and "model" in document and "format" not in document:
            return _read_tokenizer_json(document, data, path, dtype, bom)
        if isinstance(document, dict):
            layout = FileLayout("json", byte_order_mark=bom)
            return ReadResult([], None, layout, config=document)
        raise VocabularyError(
            f"The vocabulary file {path!r} holds a JSON {type(document).__name__}, not a vocabulary. Read "
            "the tokens yourself (`Vocabulary(json.load(f))`) or write the file with `Vocabulary.save()`."
        )
    if format == "tokenizer_json":
        document = _parse_json_document(data, path)
        return _read_tokenizer_json(document, data, path, dtype, bom)
    if b"\r" in data and b"\n" not in data:
        raise VocabularyError(
            f"The vocabulary file {path!r} ends its lines with a carriage return alone (\\r, as classic Mac OS did), "
            "so it would read as one token. Convert its line endings to \\n (or \\r\\n); a single token that holds "
            "\\r is kept exactly by format='json'."
        )
    lines, newline, ending = _split_lines(data)
    layout = FileLayout(format, byte_order_mark=bom, newline=newline, ending=ending)
    if format == "tft_frequency":
        counts = []
        tokens = []
        for number, line in enumerate(lines, start=1):
            match = _FORCED_FREQUENCY_LINE.match(line)
            if match is None:
                raise VocabularyError(
                    f"Line {number} of the vocabulary file {path!r} is {_show(line)}, not '<count> <token>' "
                    "(a whole number, one space, the token) as TensorFlow Transform writes with "
                    "store_frequency=True. Read the file with format='text' if its lines are plain tokens."
                )
            digits = match.group(1).lstrip(b"0") or b"0"
            count = int(digits) if len(digits) <= 19 else 2**63  # int() of thousands of digits is refused.
            if count >= 2**63:
                raise VocabularyError(
                    f"Line {number} of the vocabulary file {path!r} has a count of {len(digits):,} digits "
                    f"({_show(digits[:24])}{'...' if len(digits) > 24 else ''}), more than a count can be (2**63 - 1)."
                )
            counts.append(count)
            tokens.append(line[match.end() :])
        tokens = _typed_lines(tokens, path, dtype, first_line=1)
        _check_distinct(tokens, path)
        return ReadResult(tokens, np.asarray(counts, dtype=np.int64), layout)
    tokens = _typed_lines(lines, path, dtype, first_line=1)
    _check_distinct(tokens, path)
    # A pass over the lines only where a \r is somewhere (Windows files have theirs taken off by `_split_lines`).
    returns = [number for number, line in enumerate(lines, start=1) if line.endswith(b"\r")] if b"\r" in data else []
    if returns:
        warnings.warn(
            f"In the vocabulary file {path!r}, line(s) {', '.join(map(str, returns[:5]))}"
            f"{'...' if len(returns) > 5 else ''} end with \\r\\n and the others with \\n: the \\r is kept as part of "
            "those tokens (keys without it are OOV), where Keras's StringLookup strips it. Make the line endings "
            "alike (`dos2unix`) unless the tokens really end with \\r.",
            UserWarning,
            stacklevel=4,
        )
    return ReadResult(tokens, None, layout)


def _split_lines(data: bytes) -> tuple[list[bytes], bytes, bytes]:
    """The lines, the line ending, and what follows the last line."""
    lines = data.split(b"\n")
    final_newline = bool(lines) and lines[-1] == b""
    if final_newline:
        lines.pop()
    # Windows line endings, not tokens ending in \r: every line ends with \r\n (the last one may lack both).
    ended = lines if final_newline else lines[:-1]
    if ended and all(line.endswith(b"\r") for line in ended):
        last_ends = lines[-1].endswith(b"\r")
        lines = [line[:-1] for line in ended] + ([] if final_newline else [lines[-1].removesuffix(b"\r")])
        return lines, b"\r\n", b"\r\n" if final_newline else (b"\r" if last_ends else b"")
    return lines, b"\n", b"\n" if final_newline else b""


def _typed_lines(lines: list[bytes], path: str, dtype: str, *, first_line: int) -> list[Any]:
    from keras_vocabsafe._tokens import INT64_RANGE

    if dtype == "string":
        for number, line in enumerate(lines, start=first_line):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                raise VocabularyError(
                    f"Line {number} of the vocabulary file {path!r} is not valid UTF-8. Text "
                    "vocabulary files must be UTF-8; save tokens that are not with `Vocabulary.save()`."
                ) from None
        return lines
    values = []
    low, high = INT64_RANGE
    for number, line in enumerate(lines, start=first_line):
        # Digits only: Python's int() also takes spaces around them and "1_000", which Keras's lookups refuse.
        if not _INTEGER_LINE.fullmatch(line):
            raise VocabularyError(
                f"Line {number} of the vocabulary file {path!r} is {_show(line)}, not an integer (digits, with an "
                "optional sign, and nothing around them), but vocabulary_dtype='int64'."
            )
        value = int(line)
        if not low <= value <= high:
            raise VocabularyError(
                f"Line {number} of the vocabulary file {path!r} is {value}, which does not fit in int64 "
                f"(from {low} to {high})."
            )
        values.append(value)
    return values


def _check_distinct(tokens: Sequence[Any], path: str, unit: str = "line", offset: int = 1) -> None:
    from keras_vocabsafe._tokens import first_repeat

    repeat = first_repeat(tokens)
    if repeat is not None:
        token, seen, position = repeat
        raise DuplicateTokenError(
            f"The vocabulary file {path!r} lists the token {_show(token)} twice, on {unit}s {seen + offset} and "
            f"{position + offset}. It is not a vocabulary: each token must own one id. Remove the repeat "
            "(keeping the line whose id the model was trained with)."
        )


def _show(token: Any) -> str:
    from keras_vocabsafe._tokens import display_token

    return display_token(token)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _parse_json_document(data: bytes, path: str) -> Any:
    try:
        return json.loads(data, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as error:
        raise DuplicateTokenError(
            f"The JSON file {path!r} lists the key {_show(error.args[0])} twice in one object, so a reader would "
            "silently keep only one of them. Remove the repeat."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        reason = "it nests too deeply" if isinstance(error, RecursionError) else str(error)
        raise VocabularyError(
            f"The vocabulary file {path!r} is not valid JSON: {reason}. Was it truncated while copying? If it "
            "holds one token per line (the first one starting with '{' or '['), read it with format='text' "
            "(`--format text` on the command line)."
        ) from None


# tokenizer.json -------------------------------------------------------------------------------------------------


def _read_tokenizer_json(document: Any, data: bytes, path: str, dtype: str, bom: bool) -> ReadResult:
    model = document.get("model") if isinstance(document, dict) else None
    if not isinstance(model, dict) or "vocab" not in model:
        raise VocabularyError(
            f"The file {path!r} is not a Hugging Face tokenizer.json: it has no `model.vocab`. Pass the "
            "`tokenizer.json` a `tokenizers.Tokenizer.save()` wrote, or a vocab.txt."
        )
    if dtype != "string":
        raise VocabularyError(f"A tokenizer.json holds string tokens; read {path!r} with dtype='string'.")
    kind = model.get("type")
    vocab = model["vocab"]
    if kind == "Unigram" or (kind is None and isinstance(vocab, list)):
        if not isinstance(vocab, list) or not all(
            isinstance(entry, list) and entry and isinstance(entry[0], str) for entry in vocab
        ):
            raise VocabularyError(f"The Unigram vocabulary of {path!r} must be a list of [token, score] pairs.")
        tokens = [entry[0] for entry in vocab]
        _check_distinct(tokens, path, unit="id", offset=0)
    elif kind in _TOKENIZER_MODELS or (kind is None and isinstance(vocab, dict)):
        if not isinstance(vocab, dict):
            raise VocabularyError(f"The {kind} vocabulary of {path!r} must be a JSON object mapping tokens to ids.")
        tokens = _tokens_by_id(vocab, path, f"`model.vocab` ({kind})")
    else:
        raise VocabularyError(
            f"The tokenizer.json {path!r} has a model of type {kind!r}; keras-vocabsafe reads "
            f"{', '.join(_TOKENIZER_MODELS)}. Export its vocabulary by id yourself "
            "(`[t for t, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]`)."
        )
    tokens = tokens + _added_tokens(document.get("added_tokens") or [], tokens, path)
    encoded = [token.encode("utf-8", "surrogatepass") for token in tokens]
    layout = FileLayout("tokenizer_json", byte_order_mark=bom, document=data, tokens=tuple(encoded))
    return ReadResult(encoded, None, layout)


def _tokens_by_id(vocab: dict[str, Any], path: str, where: str) -> list[str]:
    by_id: dict[int, str] = {}
    for token, id_ in vocab.items():
        if not isinstance(id_, int) or isinstance(id_, bool) or id_ < 0:
            raise VocabularyError(f"In {path!r}, {where} gives the token {_show(token)} the id {id_!r}, not an id.")
        if id_ in by_id:
            raise DuplicateTokenError(
                f"In {path!r}, {where} gives the id {id_} to two tokens, {_show(by_id[id_])} and {_show(token)}. "
                "Each id must name one token (one embedding row); fix the file."
            )
        by_id[id_] = token
    missing = next((i for i in range(len(by_id)) if i not in by_id), None)
    if missing is not None:
        raise VocabularyError(
            f"In {path!r}, {where} has {len(by_id)} tokens but no token with id {missing} (the largest id is "
            f"{max(by_id)}): ids must run from 0 to {len(by_id) - 1} with no gap, or rows would be misread."
        )
    return [by_id[i] for i in range(len(by_id))]


def _added_tokens(added: Any, tokens: list[str], path: str) -> list[str]:
    if not isinstance(added, list):
        raise VocabularyError(f"In {path!r}, `added_tokens` must be a list.")
    index = {token: i for i, token in enumerate(tokens)}
    extra: dict[int, str] = {}
    extra_ids: dict[str, int] = {}
    for entry in added:
        id_ = entry.get("id") if isinstance(entry, dict) else None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("content"), str)
            or not isinstance(id_, int)
            or isinstance(id_, bool)
            or id_ < 0
        ):
            raise VocabularyError(
                f"In {path!r}, every entry of `added_tokens` needs a string `content` and a non-negative `id`. "
                f"Received: {entry!r:.80}"
            )
        content, id_ = entry["content"], entry["id"]
        if content in index:
            if index[content] != id_:
                raise VocabularyError(
                    f"In {path!r}, the added token {_show(content)} has id {id_} but the model's vocabulary gives "
                    f"it id {index[content]}. Fix one of them."
                )
            continue
        if id_ < len(tokens):
            raise DuplicateTokenError(
                f"In {path!r}, the added token {_show(content)} takes id {id_}, which the model's vocabulary "
                f"already gives to {_show(tokens[id_])}. Each id must name one token."
            )
        if id_ in extra and extra[id_] != content:
            raise DuplicateTokenError(
                f"In {path!r}, the added tokens {_show(extra[id_])} and {_show(content)} both take id {id_}."
            )
        first_id = extra_ids.setdefault(content, id_)
        if first_id != id_:
            raise DuplicateTokenError(
                f"In {path!r}, `added_tokens` lists the token {_show(content)} twice, with ids {first_id} and "
                f"{id_}: Hugging Face's `tokenizers` gives a token one id, so one of these ids would have no "
                "token and the file's ids and the library's would disagree. Remove the repeated entry from "
                "`added_tokens` (keeping the id the model was trained with)."
            )
        extra[id_] = content
    expected = range(len(tokens), len(tokens) + len(extra))
    if list(extra) != sorted(extra):
        raise VocabularyError(
            f"In {path!r}, the added tokens beyond the model's vocabulary are listed out of id order (ids "
            f"{list(extra)[:5]}{'...' if len(extra) > 5 else ''}): Hugging Face's `tokenizers` numbers them in list "
            "order, whatever their `id` says, so the file's ids and the library's disagree. List them in id order."
        )
    if sorted(extra) != list(expected):
        gap = next(i for i in expected if i not in extra)
        raise VocabularyError(
            f"In {path!r}, the added tokens beyond the model's {len(tokens)} tokens take ids "
            f"{sorted(extra)[:5]}{'...' if len(extra) > 5 else ''}, leaving id {gap} without a token: ids must "
            "follow the model's vocabulary with no gap."
        )
    return [extra[i] for i in expected]


def _tokenizer_json_bytes(tokens: Sequence[bytes], layout: FileLayout | None, source: str | None) -> bytes:
    texts = [token.decode("utf-8") for token in tokens]
    if layout is not None and layout.document is not None:
        if tuple(tokens) == layout.tokens:
            return (UTF8_MARK if layout.byte_order_mark else b"") + layout.document  # The original, as read.
        return _retokenized_document(texts, layout, source or "the template")
    # Otherwise a minimal BERT-style WordPiece tokenizer that `tokenizers` loads. Its model maps every word outside
    # the vocabulary to [UNK]: without that token, `tokenizers` raises on the first unknown word it encodes.
    if _WORDPIECE_UNKNOWN_TOKEN not in texts:
        raise VocabularyError(
            f"A tokenizer.json of this vocabulary would be a WordPiece tokenizer whose unknown token, "
            f"{_WORDPIECE_UNKNOWN_TOKEN!r}, is not in the vocabulary, so Hugging Face's `tokenizers` would raise "
            "('Missing [UNK] token from the vocabulary') on any word outside it. Add the token first, e.g. "
            "`Vocabulary(['[UNK]', *vocabulary])` (this shifts every id by one), pass `template=` the tokenizer.json "
            "the vocabulary came from, or save with format='text' or format='json'."
        )
    document = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": text,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i, text in enumerate(texts)
            if text in _BERT_SPECIAL_TOKENS
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": _WORDPIECE_UNKNOWN_TOKEN,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {text: i for i, text in enumerate(texts)},
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


_WORDPIECE_UNKNOWN_TOKEN = "[UNK]"
_BERT_SPECIAL_TOKENS = frozenset(["[PAD]", _WORDPIECE_UNKNOWN_TOKEN, "[CLS]", "[SEP]", "[MASK]"])


def _retokenized_document(texts: list[str], layout: FileLayout, source: str) -> bytes:
    """The template tokenizer.json with `texts` as its vocabulary, every other part kept, ids updated throughout.

    Only a vocabulary-lookup model (WordPiece, WordLevel) can take another vocabulary: BPE merges and Unigram
    scores are learned for the tokens they were trained with.
    """
    document = json.loads(layout.document or b"")
    model = document["model"]
    kind = model.get("type") or (
        "Unigram" if isinstance(model["vocab"], list) else "BPE" if "merges" in model else None
    )
    before = [token.decode("utf-8") for token in layout.tokens]
    if kind not in ("WordPiece", "WordLevel"):
        what = {
            "BPE": "BPE model's merges, which name the tokens they join,",
            "Unigram": "Unigram model's scores, learned for each token,",
        }.get(str(kind), "model, whose type it does not name,")
        raise VocabularyError(
            f"Cannot write this vocabulary as a tokenizer.json like {source}: its {what} cannot "
            f"follow a changed vocabulary ({_change_summary(before, texts)}), so the file would tokenize text "
            "differently from the tokenizer it came from. Save the vocabulary with format='text' or format='json', "
            f"or retrain the tokenizer on the new vocabulary (with a trainer of the `tokenizers` library). Nothing "
            "was written."
        )
    index = {text: i for i, text in enumerate(texts)}

    def new_id(token: Any, where: str) -> int:
        if token not in index:
            consequence = (
                "raise on the first word outside the vocabulary"
                if where.endswith("unk_token")
                else "insert an id that names another token, or none"
            )
            raise VocabularyError(
                f"Cannot write this vocabulary as a tokenizer.json like {source}: its {where} is the token "
                f"{_show(token)}, which this vocabulary does not hold, so Hugging Face's `tokenizers` would "
                f"{consequence}. Keep that token in the vocabulary, or save with format='text' or format='json'. "
                "Nothing was written."
            )
        return index[token]

    unknown = model.get("unk_token")
    if unknown in before:  # One the template lacks already is no loss of this vocabulary's.
        new_id(unknown, f"{kind} model's unk_token")
    # Tokens the template keeps out of its model (added tokens beyond it) stay out when they still end the vocabulary.
    added_only = {entry["content"] for entry in document.get("added_tokens") or []} - set(model["vocab"])
    size = len(texts)
    while size and texts[size - 1] in added_only:
        size -= 1
    model["vocab"] = {text: i for i, text in enumerate(texts[:size])}
    # Added tokens keep their settings (special, normalized, lstrip, ...) at their new ids; those the vocabulary
    # dropped go with it. `tokenizers` numbers the ones beyond the model in list order: list them by id.
    document["added_tokens"] = sorted(
        (
            dict(entry, id=index[entry["content"]])
            for entry in document.get("added_tokens") or []
            if entry["content"] in index
        ),
        key=lambda entry: entry["id"],
    )
    padding = document.get("padding")
    if isinstance(padding, dict) and "pad_token" in padding:
        padding["pad_id"] = new_id(padding["pad_token"], "padding's pad_token")
    try:
        _renumber_post_processor(document.get("post_processor"), new_id)
    except (KeyError, IndexError, TypeError, AttributeError):
        raise VocabularyError(
            f"Cannot write this vocabulary as a tokenizer.json like {source}: its `post_processor` is not laid "
            "out as Hugging Face's `tokenizers` writes one, so the ids of the special tokens it inserts cannot be "
            "moved to this vocabulary's. Save the tokenizer again with `tokenizers` (`Tokenizer.from_file(path)"
            ".save(path)`) and pass that file. Nothing was written."
        ) from None
    data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    return (UTF8_MARK if layout.byte_order_mark else b"") + data


def _renumber_post_processor(processor: Any, new_id: Any) -> None:
    """Gives the special tokens a post-processor inserts ([CLS], [SEP], <s>, ...) their ids in the new vocabulary."""
    if not isinstance(processor, dict):
        return
    kind = processor.get("type")
    if kind == "Sequence":
        for part in processor.get("processors") or []:
            _renumber_post_processor(part, new_id)
    elif kind in ("BertProcessing", "RobertaProcessing"):
        for key in ("sep", "cls"):
            pair = processor[key]  # [token, id]
            if not isinstance(pair, list) or len(pair) != 2:
                raise TypeError(pair)
            processor[key] = [pair[0], new_id(_text(pair[0]), f"post_processor's {key} token")]
    elif kind == "TemplateProcessing":
        for special in (processor.get("special_tokens") or {}).values():
            special["ids"] = [new_id(_text(token), "post_processor's special tokens") for token in special["tokens"]]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _change_summary(before: list[str], after: list[str]) -> str:
    old, new = set(before), set(after)
    added, removed = sum(t not in old for t in after), sum(t not in new for t in before)
    kept_before = [t for t in before if t in new]
    kept_after = [t for t in after if t in old]
    moved = sum(a != b for a, b in zip(kept_before, kept_after))
    parts = [f"{n} token{'s' * (n != 1)} {what}" for n, what in ((added, "added"), (removed, "removed")) if n]
    if moved or not parts:
        parts.append("tokens reordered")
    return ", ".join(parts)


# Writing --------------------------------------------------------------------------------------------------------


def write_bytes(
    tokens: Sequence[Any],
    counts: np.ndarray | None,
    dtype: str,
    format: str,
    layout: FileLayout | None,
    source: str | None = None,
) -> bytes:
    """The bytes of a file in `format` holding `tokens`, or a `VocabularyError` naming a token it cannot hold.

    `layout` is the layout of the file the vocabulary was read from, or of the tokenizer.json `template` given to
    `Vocabulary.save` (`source`, the quoted path or a phrase, names it in errors): used when it has the same format.
    """
    if format not in FORMATS or format == "json":
        raise VocabularyError(f"`format` must be one of {FORMATS}. Received: format={format!r}.")
    if layout is not None and layout.format != format:
        layout = None
    if format == "tokenizer_json":
        if dtype != "string":
            raise VocabularyError("A tokenizer.json holds string tokens; this vocabulary has int64 tokens.")
        _check_text_tokens(tokens, format, allow_newlines=True)
        return _tokenizer_json_bytes(tokens, layout, source)
    lines = [str(token).encode() for token in tokens] if dtype != "string" else list(tokens)
    if dtype == "string":
        _check_text_tokens(lines, format, allow_newlines=False)
    if format == "tft_frequency":
        if counts is None:
            raise VocabularyError(
                "A TensorFlow Transform frequency file needs a count per token, and this vocabulary has none. "
                "Build it with `Vocabulary.from_counts()` or `Vocabulary(tokens, counts=...)`, or save it with "
                "format='text' or format='json'."
            )
        increase = np.flatnonzero(np.diff(counts) > 0)
        if increase.size:
            at = int(increase[0]) + 1
            raise VocabularyError(
                f"The counts increase at position {at} ({int(counts[at - 1])} then {int(counts[at])}), but a "
                "TensorFlow Transform frequency file lists the most frequent tokens first (and readers detect "
                "it by that). Reorder with `vocabulary.most_frequent()` (this changes ids) or save with "
                "format='json', which keeps order and counts."
            )
        lines = [b"%d %s" % (count, line) for count, line in zip(counts.tolist(), lines)]
    if not lines:
        raise VocabularyError(
            f"An empty vocabulary written as {format} would be an empty file, which reads back as an error. "
            "Save it with format='json'."
        )
    newline, ending = (layout.newline, layout.ending) if layout else (b"\n", b"\n")
    data = newline.join(lines) + ending
    # A frequency file is detected as one by construction; plain tokens may look like something else.
    read_as = detect_format(data) if format == "text" else format
    if read_as != format:
        # E.g. tokens "221 baker", "10 downing": every line a count and a token, counts not increasing.
        shape = "JSON" if read_as == "json" else "a TensorFlow Transform frequency file (a count, a space, a token)"
        raise VocabularyError(
            f"A {format} file of these tokens would read back as {read_as}: its content looks like {shape}, so "
            f"loading it without format={format!r} would give other tokens. Save the vocabulary with "
            "format='json', which reads back as it is."
        )
    return (UTF8_MARK if layout is not None and layout.byte_order_mark else b"") + data


def _check_text_tokens(tokens: Sequence[bytes], format: str, *, allow_newlines: bool) -> None:
    for position, token in enumerate(tokens):
        problem = None
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            problem = "is not valid UTF-8"
        if problem is None and not allow_newlines:
            if b"\n" in token:
                problem = "holds a newline"
            elif b"\x00" in token:
                problem = "holds a NUL byte (readers may take the file for a binary one)"
            elif token.endswith(b"\r"):
                problem = "ends with a carriage return (line readers drop it)"
            elif position == 0 and token.startswith(UTF8_MARK):
                problem = "starts with a byte order mark (readers skip it)"
        if problem:
            raise VocabularyError(
                f"The token {_show(token)} at position {position} {problem}, which a {format} file cannot hold. "
                "Save the vocabulary with format='json', which holds any token."
            )


# What `vocabsafe vocab show` looks for -------------------------------------------------------------------------

# [PAD], [UNK], [CLS], [unused0], <unk>, <pad>, </s>, <|endoftext|>: the shapes special tokens take in the
# vocabularies of BERT, SentencePiece and GPT-style tokenizers.
_SPECIAL_SHAPE = re.compile(rb"\[[A-Za-z][A-Za-z0-9_]*\]|</?[A-Za-z][A-Za-z0-9_]*>|<\|[A-Za-z0-9_]+\|>")


def special_looking_tokens(tokens: Sequence[Any]) -> list[int]:
    """Positions of the tokens shaped like special tokens (`[PAD]`, `<unk>`, `<|endoftext|>`, ...)."""
    return [i for i, token in enumerate(tokens) if isinstance(token, bytes) and _SPECIAL_SHAPE.fullmatch(token)]


def keras_text_file_problems(tokens: Sequence[Any]) -> list[tuple[int, str]]:
    """`(position, problem)` for each token Keras's lookup layers cannot reload from a vocabulary text file.

    Keras reads such a file with TensorFlow's line reader (`tf.lookup.TextFileInitializer`), which splits on
    `\\n`, drops the `\\r` that ends a line, refuses an empty line, and keeps a byte order mark as part of the
    first token.
    """
    problems = []
    for position, token in enumerate(tokens):
        if not isinstance(token, bytes):
            continue
        if b"\n" in token:
            problems.append((position, "holds a newline: it would be split across two lines"))
        elif token.endswith(b"\r"):
            problems.append((position, "ends with a carriage return, which the line reader drops"))
        elif token == b"":
            problems.append((position, "is empty: Keras refuses an empty line in a vocabulary file"))
        elif position == 0 and token.startswith(UTF8_MARK):
            problems.append((position, "starts with a byte order mark, which other readers skip"))
        else:
            try:
                token.decode("utf-8")
            except UnicodeDecodeError:
                problems.append((position, "is not valid UTF-8"))
    return problems
