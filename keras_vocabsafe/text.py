"""`TextVocabEmbedding`: raw text in, vectors out, with the tokenization stored in the layer.

The layer standardizes, splits and looks up raw strings inside the TensorFlow
graph, so the tokenization that built the vocabulary (`adapt`) is the one a
reloaded model and an exported SavedModel run: its settings live in the
layer's config, and the WordPiece tokenizer reads the layer's own vocabulary.

Simple choices use core TensorFlow ops only (`tf.strings.*`), so a SavedModel
that uses them runs with TensorFlow alone; Unicode case folding and
normalization, script splitting and WordPiece use tensorflow-text ops, and a
server then needs `import tensorflow_text` (or those ops linked in).

tensorflow-text is optional (`pip install "keras-vocabsafe[text]"`; it has no
native Windows wheel): without it, the core choices work and a layer built
with one of the others raises `MissingDependencyError` when it is created.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, cast

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import _compat
from keras_vocabsafe._counting import (
    ADAPT_FIXES,
    DEFAULT_BUDGET,
    NoTokensFixes,
    TokenCounter,
    check_budget,
    check_weights,
    classify_data,
    count_tokens,
    is_readable_again,
    normalize_batch,
    split_pair,
    weighted_counts,
    weights_error,
)
from keras_vocabsafe._keys import build_placeholders, check_strings, to_keys
from keras_vocabsafe._progress import check_verbose, say
from keras_vocabsafe._tokens import canonical_token
from keras_vocabsafe._vocabulary_layer import _no_tokens_to_keep
from keras_vocabsafe.errors import (
    ConfigurationError,
    KeyDtypeError,
    MissingDependencyError,
    TextEncodingError,
    TextInputError,
    UnknownIdError,
    VocabularyError,
)
from keras_vocabsafe.lookup import KeyLookup, VocabLookup
from keras_vocabsafe.vocab_embedding import VocabEmbedding
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = ["TextVocabEmbedding", "TextVocabLookup"]

_STANDARDIZE_CHOICES = (None, "lower", "lower_and_strip_punctuation", "strip_punctuation", "case_fold")
# The choices that never turn a character into whitespace (case folding applies NFKC, which may).
_STANDARDIZE_WITHOUT_NEW_WHITESPACE = (None, "lower", "lower_and_strip_punctuation", "strip_punctuation")
_NORMALIZATION_FORMS = (None, "NFC", "NFKC", "NFD", "NFKD")
_SPLIT_CHOICES = ("whitespace", "unicode_script", "character", "regex", "wordpiece")
_ENCODING_ERRORS = ("replace", "strict")
_TEXT_EXTRA_INSTALL = 'pip install "keras-vocabsafe[text]"'

# Unicode punctuation (\p{P}: ASCII, CJK, Arabic and other marks) plus the ASCII symbols that
# keras.layers.TextVectorization strips too, so that on ASCII text both remove the same characters.
_PUNCTUATION_PATTERN = r"[\p{P}$+<=>^`|~]"
# The whitespace that split="whitespace" splits on, but a space: ASCII whitespace (as tf.strings.split has it) and
# the whitespace outside ASCII (which tf.strings.split leaves).
_ASCII_WHITESPACE_BUT_SPACE_RANGES = ((0x09, 0x0D),)
_WHITESPACE_BUT_SPACE_RANGES: tuple[tuple[int, int], ...] = (
    *_ASCII_WHITESPACE_BUT_SPACE_RANGES,
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
)
_WHITESPACE_BUT_SPACE_RANGES += ((0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000))


def _character_class(ranges: Iterable[tuple[int, int]]) -> str:
    """A regex character class of the code points in the (first, last) `ranges`."""
    return "[" + "".join(rf"\x{{{a:x}}}-\x{{{b:x}}}" if a < b else rf"\x{{{a:x}}}" for a, b in ranges) + "]"


@functools.cache
def _code_points_except(excluded: tuple[tuple[int, int], ...]) -> str:
    """A regex matching strings of Unicode scalar values outside the `excluded` (first, last) ranges, in order."""
    excluded = ((0xD800, 0xDFFF), *excluded)  # Surrogates are not scalar values: their UTF-8 form is invalid.
    allowed, start = [], 0
    for first, last in sorted(excluded):
        if first > start:
            allowed.append((start, first - 1))
        start = last + 1
    allowed.append((start, 0x10FFFF))
    return _character_class(allowed) + "*"


# That whitespace becomes a space first: a split on spaces alone is a third cheaper.
_WHITESPACE_BUT_SPACE = _character_class(_WHITESPACE_BUT_SPACE_RANGES)
_ASCII_WHITESPACE_BUT_SPACE = _character_class(_ASCII_WHITESPACE_BUT_SPACE_RANGES)


# ICU lower-cases in the process's default locale, which it takes from the environment (LANG, LC_ALL): under tr_TR
# or az_AZ, "I" becomes a dotless i (U+0131) and "İ" a plain "i"; under lt_LT, "Ì", "Í", "Ĩ", and "I", "J" or "Į"
# before an accent above, gain a dot above. So that tokens do not depend on the machine, where ICU does not
# lower-case as the root locale (a probe tells, in the graph: a SavedModel asks where it is served), the strings
# that hold these letters take the special route: there ASCII letters are lower-cased before ICU sees them, and
# the others (those that SpecialCasing.txt maps by locale) first become their root lower case.
_ROOT_LOWER_CASE = {"\u0130": "i\u0307", "\u00cc": "\u00ec", "\u00cd": "\u00ed", "\u0128": "\u0129", "\u012e": "\u012f"}
_LOCALE_SENSITIVE_RANGES = ((0x49, 0x4A), *((ord(character), ord(character)) for character in _ROOT_LOWER_CASE))
_LOCALE_PROBE, _LOCALE_PROBE_IN_ROOT = "I\u0130\u00cc", "ii\u0307\u00ec"

# Matches exactly the valid UTF-8 strings: RE2 matches a code point only when its bytes are its shortest UTF-8
# form, and the class leaves out surrogates (which RE2 would match) and values past U+10FFFF. These are the strings
# that `unicode_transcode` leaves as they are.
_VALID_UTF8 = _code_points_except(())
# NUL, which `tf.strings.lower(..., encoding="utf-8")` does not read past (see `_lower_utf8`).
_NUL_RANGE = ((0, 0),)
# What a clean string holds none of: NUL, and the whitespace but the space.
_CLEAN_RANGES = (*_NUL_RANGE, *_WHITESPACE_BUT_SPACE_RANGES)
# The whitespace that split="whitespace" splits on, one character: RE2's \s leaves out \v (U+000B).
_WHITESPACE_CHARACTER = r"[\s\x0b\x{85}\p{Z}]"
# Match only strings of ASCII bytes (a byte that is not ASCII, valid UTF-8 or not, never matches), and of those
# without the bytes 8-15, which hold the whitespace but the space (see `_routes`).
_ASCII = r"[\x00-\x7f]*"
_ASCII_OUTSIDE_8_TO_15 = r"[\x00-\x07\x10-\x7f]*"
_ASCII_LOWER_CASE = bytes.maketrans(bytes(range(0x41, 0x5B)), bytes(range(0x61, 0x7B)))
# Routing reads each string's first bytes as a row of this many at most (see `_routes`).
_ROUTING_WIDTH = 4096
# A regex split marks each delimiter with this byte and splits on it. Text is valid UTF-8 by then (see
# `encoding_errors`), and 0xFF never occurs in valid UTF-8, so the marker cannot collide with the text.
_SPLIT_MARKER = b"\xff"
_WORDPIECE_SUFFIX = "##"
# The splits whose tokens say how to join them again.
_DETOKENIZABLE_SPLITS = ("whitespace", "character", "wordpiece")
# An int `ngrams=n` means widths 1 to n, each computed and counted: wider n-grams are never useful, and a huge n
# would build a list of that many widths.
_MAX_NGRAM_WIDTH = 64
_WORDPIECE_MAX_BYTES_PER_WORD = 100
_STRICT_MARKER = "received text that is not valid UTF-8"
_SPACED_TOKEN_MARKER = "a split that left a space in a token"
# A text layer called eagerly this many times traces its text steps for the next eager calls (see `_token_ids`).
_EAGER_CALLS_BEFORE_TRACING = 2
# adapt() counts an in-memory corpus in pieces of at least this many strings, on this many threads.
_ADAPT_MIN_PIECE = 4096
_ADAPT_THREADS = max(1, min(8, os.cpu_count() or 1))


def _tensorflow_text(needed_by: str) -> Any:
    """The `tensorflow_text` module; `needed_by` names what needs it in the error raised when it is missing."""
    try:
        import tensorflow_text
    except ImportError as error:
        raise MissingDependencyError(
            f"{needed_by} needs tensorflow-text, which is not installed. Install it with `{_TEXT_EXTRA_INSTALL}` "
            "(tensorflow-text has no native Windows wheel: use WSL there), or use settings that need core "
            "TensorFlow only: standardize None, 'lower', 'strip_punctuation', 'lower_and_strip_punctuation' or a "
            "callable; normalization_form=None; split 'whitespace', 'character', 'regex' or a callable.",
            name="tensorflow_text",
        ) from error
    return tensorflow_text


def _tensorflow_text_settings(standardize: Any, normalization_form: str | None, split: Any) -> list[str]:
    """The settings, as `name=value`, that run tensorflow-text ops."""
    settings = []
    if standardize == "case_fold":
        settings.append(f"standardize={standardize!r}")
    if normalization_form is not None:
        settings.append(f"normalization_form={normalization_form!r}")
    if split in ("unicode_script", "wordpiece"):
        settings.append(f"split={split!r}")
    return settings


# The tokenization settings both text layers take and store in their configs.
_TEXT_SETTINGS = (
    "standardize",
    "normalization_form",
    "split",
    "split_pattern",
    "ngrams",
    "output_sequence_length",
    "encoding_errors",
    "reserved_tokens",
)


if TYPE_CHECKING:
    # The mixin always sits before a layer that looks keys up: the checker sees that base, at run time it is none.
    _TextFrontEndBase = KeyLookup
else:
    _TextFrontEndBase = object


class _TextFrontEnd(_TextFrontEndBase):
    """Raw text to tokens, `adapt` on raw text, and the tokenization config: what both text layers share."""

    # Set by `_init_text`, as `_text_settings` validated them.
    standardize: Any
    normalization_form: str | None
    split: Any
    split_pattern: str | None
    ngrams: tuple[int, ...] | None
    output_sequence_length: int | None
    encoding_errors: str
    reserved_tokens: tuple[str, ...]
    _reserved_keys: list[bytes]  # The reserved tokens as keys (bytes), from `_reserve_before_init`.
    # Set by `_init_text`: the traced function of eager calls, None for settings that are never traced.
    _traced_ids: _TracedIds | None = None
    # Whether the vocabulary allows `_words_first_ids`; None until asked (again after each change).
    _words_first_allowed: bool | None = None

    def _init_text(self, settings: dict[str, Any]) -> None:
        """Sets the tokenization settings (validated by `_text_settings`) and the tokenizer they make."""
        for name, value in settings.items():
            setattr(self, name, value)
        # The layer's name appears only in the strict encoding error; leaving it out otherwise lets layers share.
        owner = self._owner() if self.encoding_errors == "strict" else type(self).__name__
        self._tokenizer = _Tokenizer(
            self.standardize,
            self.normalization_form,
            self.split,
            self.split_pattern,
            self.ngrams,
            self.encoding_errors,
            owner,
        )
        needs_text = _tensorflow_text_settings(self.standardize, self.normalization_form, self.split)
        if needs_text:
            # Fail now, with the install command, rather than at the first call (or while loading a saved model).
            _tensorflow_text(f"{self._owner()} with {', '.join(needs_text)}")
        # Callables run eagerly, as the user wrote them. Other settings may be traced for eager calls (see
        # `_token_ids`); a traced strict encoding check fails as an assertion, which `_graph_errors_as_typed` turns
        # into the eager call's `TextEncodingError`, invalid strings shown.
        traceable = not callable(self.standardize) and not callable(self.split)
        self._traced_ids = _TracedIds() if traceable else None

    def _vocabulary_changed(self) -> None:
        super()._vocabulary_changed()
        self._words_first_allowed = None
        if self._traced_ids is not None:  # None too while the base class sets the vocabulary, before `_init_text`.
            self._traced_ids.function = None  # It looked up in the old table.

    def serving_op_setting(self, op: str) -> str | None:
        """The setting that put a tensorflow-text op into an exported graph (named by serving-export refusals)."""
        settings = {
            "CaseFoldUTF8": f"standardize={self.standardize!r}",
            "NormalizeUTF8": f"normalization_form={self.normalization_form!r}",
            "UnicodeScriptTokenizeWithOffsets": f"split={self.split!r}",
            "WordpieceTokenizeWithOffsets": f"split={self.split!r}",
        }
        return settings.get(op)

    # Tokenization ------------------------------------------------------------------------------

    def _text_batch(self, inputs: Any) -> tuple[tf.Tensor, bool]:
        """The input as a 1-D string tensor, and whether it was a scalar."""
        text = to_keys(inputs, "string", owner=self._owner())
        if isinstance(text, tf.RaggedTensor):
            raise TextInputError(
                f"{self._owner()} takes raw strings of shape (), (batch,) or (batch, 1); it received a ragged "
                "tensor. Pass one string per example: join pre-split tokens with spaces, or use VocabEmbedding "
                "for tokens."
            )
        rank = text.shape.rank
        if rank == 0:
            return tf.reshape(text, [1]), True
        if rank == 1:
            return text, False
        if rank == 2 and text.shape[-1] in (1, None):
            if text.shape[-1] is None:
                check = tf.debugging.assert_equal(
                    tf.shape(text)[-1],
                    1,
                    message=f"{self._owner()} takes strings of shape (batch, 1), not (batch, n): one string per row.",
                )
                with tf.control_dependencies([check]):
                    text = tf.identity(text)
            return tf.reshape(text, [-1]), False
        raise TextInputError(
            f"{self._owner()} takes raw strings of shape (), (batch,) or (batch, 1), one string per example. "
            f"Received: shape {text.shape}. Join each example's strings into one, or reshape to (batch,)."
        )

    def _wordpiece(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        if self.lookup_table is None:
            self._require_vocabulary()
        # The layer's own table decides which subwords exist, so tokenizer and vocabulary cannot disagree. A
        # word it cannot split stays whole (unknown_token=None) and maps to an OOV row in the lookup.
        tokenizer = _tensorflow_text(f"{self._owner()} with split='wordpiece'").WordpieceTokenizer(
            self.lookup_table,
            suffix_indicator=_WORDPIECE_SUFFIX,
            max_bytes_per_word=_WORDPIECE_MAX_BYTES_PER_WORD,
            token_out_type=tf.string,
            unknown_token=None,
        )
        return tokenizer.tokenize(words).merge_dims(-2, -1)

    def _tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        tokens = self._tokenizer.tokens(text)
        if self.split == "wordpiece":
            tokens = self._wordpiece(tokens)
        return tokens

    def _token_ids(self, text: tf.Tensor) -> tf.Tensor | tf.RaggedTensor:
        """The ids of the tokens of a 1-D batch of text, as a `(batch, None)` ragged tensor, or padded to
        `(batch, output_sequence_length)`.

        A layer called eagerly again and again runs the steps as one traced function: op by op, their ~30 ops
        cost more in dispatch than in work (1.3x-1.8x the speed on a batch of 1,024 sentences). The first calls
        run op by op, since tracing costs about 0.3 s, ten times an eager call.
        """
        traced = self._traced_ids
        if traced is None or not tf.executing_eagerly():
            return self._ids_op_by_op(text)
        if traced.function is None:
            traced.eager_calls += 1
            if traced.eager_calls <= _EAGER_CALLS_BEFORE_TRACING:
                return self._ids_op_by_op(text)
            traced.function = tf.function(
                self._ids_op_by_op, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False
            )
        with _graph_errors_as_typed():
            return traced.function(text)

    def _ids_op_by_op(self, text: tf.Tensor) -> tf.Tensor | tf.RaggedTensor:
        if self._looks_words_up_first():
            return self._words_first_ids(text)
        return self._padded(self._lookup(self._tokenize(text)))

    def _padded(self, ids: tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """The ids as the layer returns them: padded or cut to `output_sequence_length`, if set."""
        if self.output_sequence_length is None:
            return ids
        return ids.to_tensor(default_value=self._mask_id(), shape=[None, self.output_sequence_length])

    def _looks_words_up_first(self) -> bool:
        """Whether `_words_first_ids` gives the ids: for its settings, once the vocabulary is known to allow it."""
        if not self._tokenizer.looks_words_up_first:
            return False
        if self._words_first_allowed is None:
            self._require_vocabulary()
            with tf.init_scope():  # Asked while tracing, too.
                self._words_first_allowed = self._keys_are_their_own_tokens()
        return self._words_first_allowed

    def _keys_are_their_own_tokens(self) -> bool:
        """Whether each vocabulary token that a word could equal in `_words_first_ids` is its own only token."""
        lowers = self._tokenizer.lowers
        keys = [key for key in cast(Vocabulary, self._vocabulary).tokens if isinstance(key, bytes)]
        # A word holds no space and, when lower-casing, no ASCII capital (so such tokens do not count); a word of
        # printable ASCII (without capitals, when lower-casing; of letters and digits, when stripping punctuation,
        # which takes every other ASCII symbol) is its own token.
        if self._tokenizer.strips:
            own = re.compile(rb"[0-9a-z]+" if lowers else rb"[0-9A-Za-z]+")
        else:
            own = re.compile(rb"[!-@\[-~]+" if lowers else rb"[!-~]+")
        others = [key for key in keys if b" " not in key and not own.fullmatch(key)]
        if lowers:
            others = [key for key in others if key == key.translate(_ASCII_LOWER_CASE)]
        if not others:
            return True
        keys_tensor = tf.constant(others)
        tokens = self._tokenizer.tokens(keys_tensor)
        alone = tf.equal(tokens.row_lengths(), 1)
        return bool(tf.reduce_all(alone & tf.equal(tf.strings.reduce_join(tokens, axis=1), keys_tensor)))

    def _words_first_ids(self, text: tf.Tensor) -> tf.Tensor | tf.RaggedTensor:
        """The ids of a 1-D batch of text, its strings in three parts by `_routes`, each split and looked up apart.

        ASCII strings without whitespace but spaces are split on spaces; other ASCII strings on ASCII whitespace,
        by the op that knows it (replacing it with spaces first cost more than the split: RE2 rewrites each string
        it matches in); in the others, words are looked up before the Unicode steps, which run only on the words
        not found (`_words_first`). The parts' ids are put back in the batch's order. Per-word work then runs on
        the non-ASCII strings' words alone, and the parts may run on two cores. Where punctuation is stripped,
        every part looks its words up first, and strips it from the words not found (`_ascii_words_ids`).
        """
        routes = _routes(text, spaces=True)
        positions = tf.dynamic_partition(tf.range(tf.size(text)), routes, 3)
        # ASCII lower case first, in one pass for all three parts: the Unicode steps give the same for any string.
        lowered = tf.strings.lower(text) if self._tokenizer.lowers else text
        plain, spaced, unicode = tf.dynamic_partition(lowered, routes, 3)
        parts = [self._ascii_words_ids(_split(plain, " ")), self._ascii_words_ids(_split(spaced, None))]
        parts.append(self._words_first(unicode))
        if self.output_sequence_length is not None:
            return tf.dynamic_stitch(positions, parts)
        return _ragged_stitch(positions, parts)

    def _ascii_words_ids(self, words: tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """The ids of the words of ASCII strings (lower-cased, if the standardization does).

        Each such word is its own token, but when punctuation is stripped: then the words not found lose it, each
        distinct one once, and those left empty are no tokens.
        """
        if not self._tokenizer.strips:
            return self._padded(self._lookup(words))
        found, missed, missed_words, occurrence = self._first_lookup(words.flat_values)
        tokens = tf.strings.regex_replace(missed_words, _PUNCTUATION_PATTERN, "")
        return self._kept(words, found, missed, tokens, occurrence)

    def _first_lookup(self, words: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """Each word's id as it is (the table's default where not found), the indices of the words not found,
        those words once each, and for each of them its index among those."""
        table = cast(tf.lookup.StaticHashTable, self.lookup_table)  # `_looks_words_up_first` required a vocabulary.
        found = table.lookup(words)
        missed = tf.where(tf.equal(found, table.default_value))
        # Words not found repeat (names, capitalized words): each distinct one is checked, lower-cased and looked up
        # once. ICU costs ~180 ns a word; finding the distinct ones costs a hash a word.
        missed_words, occurrence = tf.unique(tf.gather_nd(words, missed))
        return found, missed, missed_words, occurrence

    def _kept(
        self, words: tf.RaggedTensor, found: tf.Tensor, missed: tf.Tensor, tokens: tf.Tensor, occurrence: tf.Tensor
    ) -> tf.Tensor | tf.RaggedTensor:
        """The ids of `words` (split by `_split`): those `found`, and at `missed` those of the distinct `tokens`
        they made (by `occurrence`), padded; where punctuation is stripped, a token left empty is dropped."""
        token_ids = self._lookup_dense(tokens)
        if self._tokenizer.strips:
            # A token left empty takes the id -1 (ids are never negative), and is then dropped.
            token_ids = tf.where(tf.equal(tokens, ""), tf.constant(-1, token_ids.dtype), token_ids)
        ids = tf.tensor_scatter_nd_update(found, missed, tf.gather(token_ids, occurrence))
        if not self._tokenizer.strips:
            return self._padded(words.with_flat_values(ids))
        # The rows are rebuilt from the kept words' row ids, which padding reads as they are (`tf.boolean_mask` and
        # counting the words dropped per row ran some twenty more kernels).
        kept = tf.where(ids >= 0)
        rows = tf.gather_nd(words.value_rowids(), kept)
        return self._padded(
            tf.RaggedTensor.from_value_rowids(tf.gather_nd(ids, kept), rows, nrows=words.nrows(), validate=False)
        )

    def _words_first(self, text: tf.Tensor) -> tf.Tensor | tf.RaggedTensor:
        """The ids of a 1-D batch of non-ASCII text (its ASCII letters lower-cased, if the standardization
        lower-cases), its words looked up before the Unicode steps.

        Exact, for `_Tokenizer.looks_words_up_first` settings and a vocabulary whose tokens are their own tokens
        (`_keys_are_their_own_tokens`). The text is split on ASCII whitespace. A word found in the vocabulary is then
        its own token. A word not found is clean (valid UTF-8 without NUL or whitespace, nor, where ICU lower-cases
        by locale, a letter it maps so) or not. A clean word makes one token, itself lower-cased: lower-casing does
        not reach across whitespace (final sigma's context stops at it), nor makes or removes whitespace. A string
        with a word that is not clean takes the Unicode steps, whole, and its ids replace the others. Where
        punctuation is stripped, a clean word not found loses it after lower-casing, and one left empty is no token
        (stripping makes no whitespace either). Most words are found, so ICU, the validity check and the
        punctuation pattern read a few distinct words, not every non-ASCII sentence.
        """
        tokenizer = self._tokenizer
        rows_count = tf.size(text, out_type=tf.int64)
        split = _split(text, None)
        words, rows = split.flat_values, split.value_rowids()
        found, missed, missed_words, occurrence = self._first_lookup(words)
        clean = tokenizer._valid_without(missed_words, _CLEAN_RANGES, tokenizer._icu_root())
        tokens = missed_words
        if tokenizer.lowers:
            # Only clean words with a byte past ASCII need ICU (a valid one has continuation bytes).
            past_ascii = tf.strings.length(missed_words, "UTF8_CHAR") < tf.strings.length(missed_words)
            lowered = tf.where(tf.logical_and(clean, past_ascii))
            tokens = tf.tensor_scatter_nd_update(
                missed_words, lowered, tf.strings.lower(tf.gather_nd(missed_words, lowered), encoding="utf-8")
            )
        if tokenizer.strips:
            # After lower-casing, as `_standardize` does. A word that is not clean is redone below, whatever it made.
            tokens = tf.strings.regex_replace(tokens, _PUNCTUATION_PATTERN, "")
        ids = self._kept(split, found, missed, tokens, occurrence)

        unclean = tf.cast(tf.logical_not(tf.gather(clean, occurrence)), tf.int32)
        redo = tf.where(tf.math.unsorted_segment_max(unclean, tf.gather_nd(rows, missed), rows_count) > 0)
        redone = self._padded(
            self._lookup(tokenizer.split_words(tokenizer._prepare_unicode(tf.gather_nd(text, redo), clean_known=False)))
        )
        if self.output_sequence_length is not None:
            return tf.tensor_scatter_nd_update(ids, redo, redone)
        # Each redone row takes its string's place.
        return _ragged_stitch([tf.range(tf.size(text)), tf.cast(redo[:, 0], tf.int32)], [ids, redone])

    def tokenize(self, inputs: Any) -> Any:
        """The tokens the layer looks up for raw strings, as a ragged tensor (a 1-D tensor for a scalar)."""
        text, scalar = self._text_batch(inputs)
        tokens = self._tokenize(text)
        return tokens[0] if scalar else tokens

    # Plain Python around TensorFlow ops: autograph's conversion of the helpers it calls (inside a `tf.data` map) once
    # called the wrong converted function (a cached conversion of another helper), on TensorFlow 2.19.
    @tf.autograph.experimental.do_not_convert
    def detokenize(self, ids: Any) -> tf.Tensor:
        """Text from ids, with TensorFlow ops: the inverse of the split, in `tf.function`, `tf.data` and exports.

        Each sequence's tokens are joined as the split allows: `"whitespace"`
        with one space, `"character"` with nothing, `"wordpiece"` with spaces
        and each `##` piece joined to the piece before it (`"play ##ing"`
        gives `"playing"`). Padding (the mask id) is dropped and OOV ids give
        the `oov_token`. What `standardize` and the split removed (case,
        punctuation, runs of whitespace) does not come back.

        Args:
            ids: `int` ids of shape `(batch, length)` (padded), a ragged
                `(batch, None)` tensor, or one sequence of shape `(length,)`.

        Returns:
            A `tf.string` tensor: one string per sequence, shape `(batch,)`,
            or a scalar for one sequence.

        Raises:
            ConfigurationError: the split cannot be undone (`"regex"`,
                `"unicode_script"`, a callable) or `ngrams` is set.
            KeyDtypeError: the ids are not integers.
            TextInputError: the ids are not of shape `(length,)` or
                `(batch, length)`.
            UnknownIdError: (eager calls) an id is outside
                `[0, vocabulary_size())`; in a graph, `tf.gather` fails.
        """
        if self.ngrams is not None or not (isinstance(self.split, str) and self.split in _DETOKENIZABLE_SPLITS):
            reason = f"ngrams={self.ngrams}" if self.ngrams is not None else f"split={self.split!r}"
            raise ConfigurationError(
                f"{self._owner()} cannot detokenize with {reason}: its tokens do not say how they were joined. "
                f"Detokenizing works with split in {_DETOKENIZABLE_SPLITS} and ngrams=None; use "
                "`ids_to_tokens(ids)` for the tokens themselves."
            )
        owner = f"{self._owner()}.detokenize()"
        if not isinstance(ids, tf.RaggedTensor):
            if keras.backend.is_keras_tensor(ids) or ids is None:
                raise KeyDtypeError(
                    f"{owner} takes integer ids (an array, a tensor or a nested list). Received: "
                    f"{type(ids).__name__}."
                    + (
                        " It runs TensorFlow ops on ids (eagerly, in tf.data or tf.function), not on a keras.Input."
                        if ids is not None
                        else ""
                    )
                )
            try:
                ids = tf.convert_to_tensor(ids)
            except (TypeError, ValueError):
                raise KeyDtypeError(
                    f"{owner} takes integer ids (an array, a tensor or a nested list). Received: {type(ids).__name__}."
                ) from None
            if ids.dtype.is_floating and ids.shape.num_elements() == 0:
                ids = tf.cast(ids, tf.int64)  # `[]` and `[[]]` convert to float32: no ids, nothing to refuse.
            if not ids.dtype.is_integer:
                raise KeyDtypeError(f"{owner} takes integer ids. Received dtype {ids.dtype.name}.")
            if ids.shape.rank not in (1, 2):
                raise TextInputError(
                    f"{owner} takes ids of shape (length,) or (batch, length). Received: shape {ids.shape}."
                )
            if ids.shape.rank == 1:
                return self.detokenize(ids[tf.newaxis])[0]
            ids = tf.RaggedTensor.from_tensor(ids)
        elif not ids.dtype.is_integer:
            raise KeyDtypeError(f"{owner} takes integer ids. Received a ragged tensor of dtype {ids.dtype.name}.")
        elif ids.shape.rank != 2:
            raise TextInputError(f"{owner} takes ragged ids of shape (batch, None). Received: shape {ids.shape}.")
        if tf.executing_eagerly():
            # Eager ids can be checked, so an id out of range gets our error rather than tf.gather's.
            flat = ids.flat_values
            if tf.size(flat) > 0:
                low, high = int(tf.reduce_min(flat)), int(tf.reduce_max(flat))
                if low < 0 or high >= self.vocabulary_size():
                    raise UnknownIdError(
                        f"{owner}: {self._owner()} has ids 0 to {self.vocabulary_size() - 1}. Received: id "
                        f"{low if low < 0 else high}. Ids come from this layer (or a layer of the same vocabulary)."
                    )
        if self.mask_token is not None:
            ids = tf.ragged.boolean_mask(ids, tf.not_equal(ids, tf.cast(self._mask_id(), ids.dtype)))
        tokens = self.ids_to_tokens(tf.cast(ids, tf.int64))
        text = tf.strings.reduce_join(tokens, axis=-1, separator="" if self.split == "character" else " ")
        if self.split == "wordpiece":
            text = tf.strings.regex_replace(text, " " + re.escape(_WORDPIECE_SUFFIX), "")
        return text

    def _output_shape(self, input_shape: Any) -> tuple:
        input_shape = tuple(input_shape)
        if len(input_shape) > 2 or (len(input_shape) == 2 and input_shape[-1] not in (1, None)):
            raise TextInputError(
                f"{self._owner()} takes raw strings of shape (), (batch,) or (batch, 1), one string per example. "
                f"Received: shape {input_shape}."
            )
        batch = input_shape[:1]
        return batch + (self.output_sequence_length,)

    # Adapting -------------------------------------------------------------------------------------

    def adapt(
        self,
        data: Any,
        steps: int | None = None,
        *,
        weights: Any = None,
        budget: int | None = DEFAULT_BUDGET,
        verbose: Any = "auto",
    ) -> None:
        """Learns the vocabulary from raw text, tokenized exactly as `call()` tokenizes.

        Tokens are counted with `VocabEmbedding`'s counting and ordered by
        count descending, then token ascending; `reserved_tokens` come first.
        With `split="wordpiece"`, the words are counted and a WordPiece
        vocabulary of at most `max_tokens` ids is learned from them
        (`tensorflow_text`'s WordPiece learner: reserved tokens, then every
        character seen, alone and as a `"##"` suffix, then subwords by count;
        when `max_tokens` leaves no room for every character, the rarest
        characters give way, and their words map to an OOV id. Words of more
        than 100 characters are not learned from: the tokenizer does not split
        words of more than 100 bytes, which map to an OOV id).

        Args:
            data: raw strings: a list, array or tensor of shape `(n,)` or
                `(n, 1)`, a `tf.data.Dataset` of strings (single or batched),
                or an iterable of such batches.
            steps: optional. Number of batches to read from a dataset or
                iterable.
            weights: optional, as for `VocabEmbedding.adapt`: one
                non-negative integer per string, or `True` for a dataset of
                `(text, weights)` pairs; each string's tokens count that many
                times.
            budget: the most distinct tokens counted at once, as for
                `VocabEmbedding.adapt` (exact under it; past it, exact for
                every token seen more than `N / (budget + 1)` times).
            verbose: `"auto"` (default), 0, 1 or 2, as for
                `VocabEmbedding.adapt` (a progress bar of the tokens counted
                when stdout is a terminal).
        """
        self._adapt(data, steps, weights=weights, budget=budget, verbose=verbose)

    def _adapt(
        self,
        data: Any,
        steps: int | None,
        *,
        weights: Any,
        budget: int | None,
        verbose: Any,
        fixes: NoTokensFixes = ADAPT_FIXES,
    ) -> None:
        if self.split == "wordpiece" and self.max_tokens is None:
            raise ConfigurationError(
                f"{self._owner()}.adapt() learns a WordPiece vocabulary, whose size must be chosen: build the layer "
                "with `max_tokens` (e.g. max_tokens=8000)."
            )
        verbose = check_verbose(verbose, f"{self._owner()}.adapt()")
        tokens, counts = self._count_tokens(data, steps, check_budget(budget, self._owner()), weights, verbose=verbose)
        if self.split == "wordpiece":
            vocabulary = self._learn_wordpiece(tokens, counts, cast(int, self.max_tokens))  # Checked above.
        else:
            vocabulary = self._vocabulary_from_counts(tokens, counts, self.max_tokens, fixes=fixes)
        self.set_vocabulary(vocabulary)
        say(verbose, f"{self._owner()}.adapt(): kept {len(vocabulary):,} tokens")

    def _count_tokens(
        self,
        data: Any,
        steps: int | None,
        budget: int | None = DEFAULT_BUDGET,
        weights: Any = None,
        *,
        verbose: int = 0,
        action: str = "adapt()",
    ) -> tuple[list[Any], np.ndarray]:
        """Tokens (words, for WordPiece) of raw text and their counts, tokenized as `call()` tokenizes.

        Also what `update_vocabulary(data=...)` counts, so updates learn from text the way `adapt` does.
        """
        weights = check_weights(weights, self._owner())
        kind, data = classify_data(data, self._owner(), dataset_error=TextInputError, weighted=weights is True)
        if isinstance(weights, np.ndarray) and kind != "batch":
            raise ConfigurationError(
                f"{self._owner()}: an array of `weights` goes with an array, list or tensor of strings. For a dataset "
                "or an iterable of batches, make it yield (text, weights) pairs and pass weights=True."
            )
        feed = self._feed_text if weights is None else functools.partial(self._feed_weighted_text, weights=weights)
        with _graph_errors_as_typed():
            tokens, counts = count_tokens(
                lambda counter: feed(counter, kind, data, steps),
                "string",
                self._owner(),
                budget=budget,
                readable_again=is_readable_again(kind, data),
                verbose=verbose,
                action=action,
            )
        return self._without_special_tokens(tokens, counts)  # "[UNK]" in text is no token of ours.

    def _feed_weighted_text(
        self, counter: TokenCounter, kind: str, data: Any, steps: int | None, *, weights: Any
    ) -> None:
        """Counts the tokens of raw text into `counter`, each string's tokens `weight` times."""

        def count(text: tf.Tensor, example_weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return weighted_counts(
                self._tokenizer.tokens(self._text_batch(text)[0]), tf.reshape(tf.cast(example_weights, tf.int64), [-1])
            )

        try:
            if kind == "dataset":
                if steps is not None:
                    data = data.take(steps)
                counted = data.map(count, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
                for unique, counts in counted.prefetch(tf.data.AUTOTUNE):
                    counter._add(unique, counts)
            elif kind == "batch":
                counter._add(*count(to_keys(data, "string", owner=self._owner(), argument="data"), weights))
            else:
                for step, element in enumerate(data):
                    if steps is not None and step >= steps:
                        break
                    text, example_weights = split_pair(element, self._owner())
                    counter._add(*count(to_keys(text, "string", owner=self._owner()), example_weights))
        except tf.errors.InvalidArgumentError as error:
            raise weights_error(error, self._owner()) from None

    def _feed_text(self, counter: TokenCounter, kind: str, data: Any, steps: int | None) -> None:
        """Counts the tokens of raw text into `counter`."""
        if kind == "dataset":
            self._count_dataset(counter, data, steps)
        elif isinstance(data, np.ndarray) and data.dtype.kind in "USO" and data.ndim in (1, 2):
            if data.ndim == 2 and data.shape[1] != 1:
                raise TextInputError(
                    f"{self._owner()}.adapt() takes raw strings of shape (n,) or (n, 1). Received: shape {data.shape}."
                )
            if data.dtype.kind == "O":
                # Pieces are converted on parallel threads: find a None or NaN (as in a pandas column) first,
                # so the error names its position in `data`.
                check_strings(data, owner=self._owner(), argument="data")
            self._count_pieces(counter, data.reshape(-1))
        elif kind == "batch":
            text = to_keys(data, "string", owner=self._owner(), argument="data")
            if isinstance(text, tf.RaggedTensor) or text.shape.rank not in (1, 2):
                raise TextInputError(
                    f"{self._owner()}.adapt() takes raw strings of shape (n,) or (n, 1). Received: "
                    f"{'a ragged tensor' if isinstance(text, tf.RaggedTensor) else f'shape {text.shape}'}."
                )
            self._count_tensor(counter, self._text_batch(text)[0])
        else:
            count = self._count_function()
            for step, batch in enumerate(data):
                if steps is not None and step >= steps:
                    break
                counter._add(*count(self._text_batch(normalize_batch(batch, self._owner()))[0]))

    def _vocabulary_from_data(
        self,
        data: Any,
        steps: int | None,
        *,
        merge: bool,
        limit: int | None,
        budget: int | None = DEFAULT_BUDGET,
        verbose: int = 0,
    ) -> Vocabulary:
        if merge and self.split == "wordpiece":
            raise ConfigurationError(
                f"{self._owner()} splits into WordPiece subwords, which are learned together, so new text cannot be "
                "merged into them. Pass `merge=False` to learn the subwords afresh from `data` (rows of subwords "
                "in both vocabularies are kept), or pass the new subwords as `vocabulary`."
            )
        if merge:
            return super()._vocabulary_from_data(data, steps, merge=True, limit=limit, budget=budget, verbose=verbose)
        if self.split == "wordpiece" and limit is None:
            raise ConfigurationError(
                f"{self._owner()} learns a WordPiece vocabulary, whose size must be chosen: pass `max_tokens`."
            )
        tokens, counts = self._count_tokens(data, steps, budget, verbose=verbose, action="update_vocabulary()")
        if self.split == "wordpiece":
            return self._learn_wordpiece(tokens, counts, cast(int, limit))  # Checked above.
        return self._vocabulary_from_counts(tokens, counts, limit)

    def _count_function(self) -> Any:
        return _count_function(self._tokenizer)

    def _count_tensor(self, counter: TokenCounter, text: tf.Tensor) -> None:
        self._count_pieces(counter, text)

    def _count_pieces(self, counter: TokenCounter, text: tf.Tensor | np.ndarray) -> None:
        # TensorFlow's string kernels run on one thread each: pieces counted on parallel threads (the ops
        # release the GIL) use every core. A NumPy array is converted piece by piece on those threads, so the
        # conversion (which holds the GIL) of one piece overlaps the counting of another.
        size = int(text.shape[0])
        pieces = max(1, min(_ADAPT_THREADS * 2, size // _ADAPT_MIN_PIECE))
        bounds = [size * i // pieces for i in range(pieces + 1)]
        count = self._count_function()

        def count_piece(index: int) -> tuple[tf.Tensor, tf.Tensor]:
            piece = text[bounds[index] : bounds[index + 1]]
            return count(piece if isinstance(piece, tf.Tensor) else to_keys(piece, "string", owner=self._owner()))

        with ThreadPoolExecutor(min(pieces, _ADAPT_THREADS)) as pool:
            for unique, counts in pool.map(count_piece, range(pieces)):
                counter._add(unique, counts)

    def _count_dataset(self, counter: TokenCounter, dataset: tf.data.Dataset, steps: int | None) -> None:
        spec = dataset.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise TextInputError(
                f"{self._owner()}.adapt() takes a dataset of raw strings. Received a dataset with element_spec="
                f"{spec}. If it yields (text, label) pairs, pass `dataset.map(lambda text, label: text)`."
            )
        if steps is not None:
            dataset = dataset.take(steps)
        counted = dataset.map(
            lambda text: self._tokenizer.count(self._text_batch(text)[0]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=False,
        )
        for unique, counts in counted.prefetch(tf.data.AUTOTUNE):
            counter._add(unique, counts)

    def _kept_whatever_counts(self) -> Collection[Any]:
        return self._reserved_keys  # Set before Keras's `Layer.__init__`: see `_reserve_before_init`.

    def _special_and_reserved(self) -> tuple[set[bytes], list[bytes]]:
        special = {canonical_token(t, "string") for t in (self.mask_token, self.oov_token) if t is not None}
        return cast("set[bytes]", special), self._reserved_keys  # String tokens are bytes.

    def _vocabulary_from_counts(
        self, tokens: list[bytes], counts: np.ndarray, max_tokens: int | None, *, fixes: NoTokensFixes = ADAPT_FIXES
    ) -> Vocabulary:
        special, reserved = self._special_and_reserved()
        excluded = (special | set(reserved)).intersection(tokens)  # Usually empty: no per-token filtering.
        reserved_counts = dict.fromkeys(reserved, 0)  # Counted too, so the vocabulary has a count for every token.
        if excluded:
            keep = [i for i, token in enumerate(tokens) if token not in excluded]
            reserved_counts.update((t, int(counts[i])) for i, t in enumerate(tokens) if t in reserved_counts)
            tokens, counts = [tokens[i] for i in keep], counts[keep]
        max_size = None if max_tokens is None else max_tokens - self._num_special_tokens() - len(reserved)
        if max_size is not None and max_size < 0:
            raise ConfigurationError(
                f"{self._owner()} has {len(reserved)} reserved tokens, more than the "
                f"{max_size + len(reserved)} ids that max_tokens={max_tokens} leaves after "
                "the special slots. Raise `max_tokens`, or reserve fewer tokens."
            )
        counted = Vocabulary.from_counts(tokens, counts, max_size=max_size, min_frequency=self.min_frequency)
        if len(counted) + len(reserved) == 0:
            empty = "the text was empty or held only whitespace"
            if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
                empty += f" and punctuation (standardize={self.standardize!r})"
            raise _no_tokens_to_keep(self, counts, empty, fixes)
        if not reserved:
            return counted
        # Reserved tokens first, as the layer keeps them when it reads this vocabulary with a cut by count.
        counts = cast(np.ndarray, counted.counts)  # from_counts keeps the counts.
        reserved_column = np.array([reserved_counts[token] for token in reserved], dtype=counts.dtype)
        return Vocabulary(reserved + list(counted.tokens), counts=np.concatenate([reserved_column, counts]))

    def _learn_wordpiece(self, words: list[bytes], counts: np.ndarray, max_tokens: int) -> Vocabulary:
        _tensorflow_text(f"Learning WordPiece subwords ({self._owner()}.adapt)")
        from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

        special, reserved = self._special_and_reserved()
        word_counts = {word.decode("utf-8"): int(count) for word, count in zip(words, counts) if word not in special}
        if not word_counts:
            raise VocabularyError(
                f"{self._owner()}.adapt() found no words to learn WordPiece subwords from: the text was empty or "
                "held only whitespace and stripped punctuation."
            )
        size = max_tokens - self._num_special_tokens()
        learned = learner.learn(
            sorted(word_counts.items()),
            size,
            [token.decode("utf-8") for token in reserved],
            lower_thresh=self.min_frequency or 1,
            joiner=_WORDPIECE_SUFFIX,
            # The learner's own limits (words of 50 characters, an alphabet of 1,000) dropped characters silently:
            # learn from every word the tokenizer splits, and let only max_tokens bound the alphabet.
            max_token_length=_WORDPIECE_MAX_BYTES_PER_WORD,
            max_unique_chars=max(size, 1),
        )
        # The learner always adds every character it saw; beyond max_tokens the rarest subwords give way.
        kept = [token for token in (canonical_token(t, "string") for t in learned) if token not in special]
        return Vocabulary(kept[:size])

    # Config ---------------------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._text_config())
        return config

    def _text_settings_now(self) -> dict[str, Any]:
        """The tokenization settings, as constructor arguments."""
        return {name: getattr(self, name) for name in _TEXT_SETTINGS}

    def _text_config(self) -> dict[str, Any]:
        """The tokenization settings, JSON-safe (as in `get_config()`)."""
        return {
            "standardize": _serialize_callable(self.standardize),
            "normalization_form": self.normalization_form,
            "split": _serialize_callable(self.split),
            "split_pattern": self.split_pattern,
            "ngrams": list(self.ngrams) if self.ngrams is not None else None,
            "output_sequence_length": self.output_sequence_length,
            "encoding_errors": self.encoding_errors,
            "reserved_tokens": list(self.reserved_tokens),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        config = dict(config)
        for name in ("standardize", "split"):
            if isinstance(config.get(name), dict):
                try:
                    config[name] = keras.saving.deserialize_keras_object(config[name])
                except (TypeError, ValueError) as error:
                    raise ConfigurationError(
                        f"The config of {cls.__name__} '{config.get('name')}' names a `{name}` callable that "
                        f"cannot be restored ({_first_line(error)}). Import the module that registers it with "
                        "`@keras.saving.register_keras_serializable` before loading, or pass it in `custom_objects`."
                    ) from None
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return super().from_config(config)


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class TextVocabEmbedding(_TextFrontEnd, VocabEmbedding):
    """Embeds raw text: standardizes, splits and looks up strings in the graph.

    A `VocabEmbedding` whose inputs are raw strings instead of tokens. Each
    string goes through, in order and inside the TensorFlow graph: the
    encoding policy (`encoding_errors`), Unicode normalization
    (`normalization_form`), standardization (`standardize`), splitting
    (`split`), n-grams (`ngrams`), the vocabulary lookup and the embedding.
    `adapt(raw_text)` runs the same steps before counting, and every setting
    is in `get_config()`, so a reloaded model and an exported SavedModel
    tokenize exactly as the layer that was trained. With `split="wordpiece"`,
    `adapt` learns a WordPiece vocabulary and the tokenizer reads the layer's
    own vocabulary table, so the two cannot come from different runs.

    Ids are laid out as in `VocabEmbedding`: id 0 is the mask token `""`
    (padding), then `num_oov_indices` OOV rows, then the tokens. Text never
    yields an empty token, so id 0 appears only as padding.

    The output is ragged by default: `(batch, None, output_dim)`, one row of
    vectors per string, empty for an empty or whitespace-only string; a
    ragged tensor's row lengths say where the tokens are, so it carries no
    Keras mask. With `output_sequence_length=L` the output is a dense
    `(batch, L, output_dim)` tensor, truncated or padded with the mask row,
    and the layer emits a Keras mask (`True` at real tokens) that downstream
    layers such as `GlobalAveragePooling1D` and `LSTM` receive.

    Which ops the choices add to an exported graph: `standardize` `None`,
    `"lower"`, `"strip_punctuation"` and `"lower_and_strip_punctuation"`;
    `split` `"whitespace"`, `"character"` and `"regex"`; `ngrams`; both
    `encoding_errors` policies: core TensorFlow only. `standardize="case_fold"`
    (`CaseFoldUTF8`), `normalization_form` (`NormalizeUTF8`),
    `split="unicode_script"` (`UnicodeScriptTokenizeWithOffsets`) and
    `split="wordpiece"` (`WordpieceTokenizeWithOffsets`): tensorflow-text ops.

    On any backend, `halves()` gives a `TextVocabLookup` (text to ids, for a
    `tf.data` pipeline) and a `VocabIdEmbedding` (ids to vectors, in the
    model) that share the vocabulary and the tokenization settings.

    Args:
        output_dim: int. Size of each embedding vector.
        vocabulary: optional. The tokens (as `VocabEmbedding`), without the
            mask and OOV tokens. If not set, call `adapt()` on raw text.
        max_tokens: optional int. Upper bound on `vocabulary_size()`, special
            slots included. Required by `adapt()` with `split="wordpiece"`.
        min_frequency: optional int. `adapt()` drops tokens seen fewer times
            (for WordPiece: the lowest count the learner considers).
        num_oov_indices: int, at least 1. Number of OOV rows. Defaults to 1.
        mask_token: `""` (default: padding has id 0) or `None` (no mask row;
            only with ragged output).
        oov_token: the token `get_vocabulary()` reports for OOV rows.
            Defaults to `"[UNK]"`.
        standardize: `"lower_and_strip_punctuation"` (default), `"lower"`
            (Unicode lower case, as Python's `str.lower`: the same on every
            machine, whatever its locale; `tf.strings.lower(...,
            encoding="utf-8")` follows the process's, so that under `tr_TR`
            `"I"` becomes a dotless i, U+0131),
            `"strip_punctuation"` (removes Unicode punctuation, `\\p{P}`, and
            the ASCII symbols `$+<=>^`|~`), `"case_fold"` (Unicode
            NFKC case folding, `tensorflow_text.case_fold_utf8`, which by
            Unicode's definition also deletes default-ignorable characters
            such as U+00AD soft hyphen, U+200B and U+FEFF), `None`, or
            a callable registered with
            `keras.saving.register_keras_serializable` that maps a 1-D
            `tf.string` tensor to one of the same shape, each string on its
            own. The layer calls it once per batch, on valid UTF-8 (after
            `encoding_errors` and `normalization_form`); with the whitespace
            split, any whitespace it returns splits.
        normalization_form: `None` (default), `"NFC"`, `"NFKC"`, `"NFD"` or
            `"NFKD"`: Unicode normalization applied before `standardize`
            (`tensorflow_text.normalize_utf8`).
        split: `"whitespace"` (default: any Unicode whitespace),
            `"unicode_script"` (whitespace and changes of Unicode script, e.g.
            between Latin, Han and Arabic), `"character"` (one token per
            Unicode character; whitespace characters are dropped), `"regex"`
            (splits on matches of `split_pattern`), `"wordpiece"` (words, as
            for `"whitespace"` or `split_pattern` when given, then WordPiece
            subwords with the `"##"` suffix indicator), or a registered
            callable that maps a 1-D `tf.string` tensor to a
            `tf.RaggedTensor` of shape `(batch, None)`.
        split_pattern: a regular expression (RE2 syntax) matching the
            delimiters, for `split="regex"` or `split="wordpiece"`. Empty
            pieces are dropped.
        ngrams: `None` (default), an int `n` (all n-grams from 1 to `n`) or a
            tuple of widths, joined by a space as in `TextVectorization`.
            With `split="regex"` or a callable split, a token holding a
            space raises, as two n-grams would collide (a `TextInputError`
            in eager calls and `adapt`, a `tf.errors.InvalidArgumentError`
            inside a graph).
        output_sequence_length: `None` (default: ragged output) or an int:
            pad or truncate every sequence to this many tokens.
        return_ids: if `True`, the layer returns `(ids, vectors)`: the int64
            ids of the tokens (shaped like the vectors without the last axis)
            and the vectors. For debugging.
        encoding_errors: `"replace"` (default: bytes that are not UTF-8
            become U+FFFD) or `"strict"` (such bytes raise: a
            `TextEncodingError` in eager calls and `adapt`, a
            `tf.errors.InvalidArgumentError` with the same message inside a
            graph or `tf.data` pipeline).
        reserved_tokens: optional list of tokens that `adapt()` always keeps,
            right after the special slots (e.g. `["[CLS]", "[SEP]"]`).
        vocabulary_dtype: `"string"`, the only value (text gives string
            tokens; integer ids take `VocabEmbedding(vocabulary_dtype="int64")`).
        **kwargs: other `VocabEmbedding` arguments (`embeddings_initializer`,
            `trainable_rows`, ...) and base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: raw strings: a scalar (one example), a `(batch,)` or a
            `(batch, 1)` string tensor, array or list.

    Output shape:
        `(batch, None, output_dim)` ragged, or `(batch, L, output_dim)` with
        `output_sequence_length=L`; without the batch axis for a scalar input
        (a dense `(tokens, output_dim)` tensor when ragged).

    Examples:

    >>> layer = TextVocabEmbedding(output_dim=4, output_sequence_length=3)
    >>> layer.adapt(["The cat sat.", "the dog!"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'cat', 'dog', 'sat']
    >>> layer(["the fox"]).shape
    TensorShape([1, 3, 4])
    """

    def __init__(
        self,
        output_dim: int,
        vocabulary: Any = None,
        max_tokens: int | None = None,
        min_frequency: int | None = None,
        num_oov_indices: int = 1,
        mask_token: str | None = "",
        oov_token: str = "[UNK]",
        standardize: str | Callable | None = "lower_and_strip_punctuation",
        normalization_form: str | None = None,
        split: str | Callable = "whitespace",
        split_pattern: str | None = None,
        ngrams: int | tuple[int, ...] | None = None,
        output_sequence_length: int | None = None,
        return_ids: bool = False,
        encoding_errors: str = "replace",
        reserved_tokens: list[str] | None = None,
        vocabulary_dtype: str = "string",
        **kwargs: Any,
    ) -> None:
        if not isinstance(return_ids, bool):
            raise ConfigurationError(f"`return_ids` must be True or False. Received: return_ids={return_ids!r}")
        settings = _text_settings(
            vocabulary_dtype=vocabulary_dtype,
            mask_token=mask_token,
            oov_token=oov_token,
            standardize=standardize,
            normalization_form=normalization_form,
            split=split,
            split_pattern=split_pattern,
            ngrams=ngrams,
            output_sequence_length=output_sequence_length,
            encoding_errors=encoding_errors,
            reserved_tokens=reserved_tokens,
            layer="TextVocabEmbedding",
        )
        _reserve_before_init(self, settings["reserved_tokens"])
        super().__init__(
            output_dim,
            vocabulary=vocabulary,
            vocabulary_dtype="string",
            max_tokens=max_tokens,
            min_frequency=min_frequency,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            **kwargs,
        )
        self._init_text(settings)
        self.return_ids = return_ids

    def lookup(self, name: str | None = None) -> TextVocabLookup:
        """The lookup half: a `TextVocabLookup` with this layer's vocabulary and tokenization (text to ids)."""
        self._require_vocabulary()
        return TextVocabLookup(
            **self._vocabulary_settings(), **self._text_settings_now(), name=name or f"{self.name}_lookup"
        )

    # Calling ---------------------------------------------------------------------------------------

    def call(self, inputs: Any) -> Any:
        self._refuse_tf_graphs(inputs)
        placeholders = build_placeholders(inputs)
        if placeholders or _compat.in_keras_save_signature(inputs):
            # The float32 placeholders `load_model()` builds a subclassed model on (see `_build_placeholder_vectors`)
            # or Keras's float32 trace of a subclassed model's save signature: one placeholder row per example.
            length = self.output_sequence_length or 1
            shape = tf.concat([tf.shape(inputs)[:1], [length, self.output_dim]], 0)
            vectors = (
                tf.zeros(shape, self.compute_dtype) if placeholders else self._save_signature_placeholder(inputs, shape)
            )
            return (tf.zeros(tf.shape(vectors)[:-1], tf.int64), vectors) if self.return_ids else vectors
        text, scalar = self._text_batch(inputs)
        ids = self._token_ids(text)
        mask = None
        if self.output_sequence_length is None:
            backend = keras.backend.backend()
            if backend != "tensorflow":
                raise ConfigurationError(
                    f"{self._owner()} has no output_sequence_length, so it gives ragged vectors, which the {backend} "
                    "backend has no tensor for. Set `output_sequence_length`, or split the layer: "
                    "`lookup, embedding = layer.halves()`, with `lookup` mapped over the tf.data pipeline."
                )
            vectors = tf.ragged.map_flat_values(self._gather, ids)
        else:
            mask = tf.not_equal(ids, self._mask_id())  # The mask token "", which no real token equals.
            vectors = self._gather(ids)
        if scalar:
            ids, vectors = ids[0], vectors[0]
            mask = None if mask is None else mask[0]
        outputs = (ids, vectors) if self.return_ids else vectors
        if mask is not None:
            # What Keras's own set_keras_mask does: downstream layers read the mask from the tensor, and
            # compute_mask is then not asked to tokenize the text a second time.
            for output in outputs if self.return_ids else (outputs,):
                _compat.set_keras_mask(output, mask)
        return outputs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], list | tuple):
            # Keras 3.11 reads `.shape` of each item of a list while building, before `call` can refuse one that is
            # not a string (`[None]`): check first, for the same typed error at every Keras version.
            to_keys(args[0], "string", owner=self._owner())
        outputs = super().__call__(*args, **kwargs)
        flat = outputs if self.return_ids else (outputs,)
        if self.output_sequence_length is not None and keras.backend.is_keras_tensor(flat[-1]):
            # In a functional model, Keras replays the ops that made a symbolic mask. This one reads the mask
            # call() attached to the vectors, so the text is not tokenized a second time to find the padding.
            mask = _AttachedMask()(flat[-1])  # Named by Keras: a shared layer makes one per call.
            for output in flat:
                _compat.set_keras_mask(output, mask)
        return outputs

    def get_vectors(self, tokens: Any) -> np.ndarray:
        """Embedding vectors of tokens, looked up as they are (not tokenized), as `tokens.shape + (output_dim,)`."""
        if not self.built:
            self.build()
        keys = to_keys(tokens, "string", owner=self._owner())
        if isinstance(keys, tf.RaggedTensor):
            raise TextInputError(f"{self._owner()}.get_vectors() takes a dense array of tokens, not a ragged tensor.")
        return self._gather(self._lookup_dense(keys)).numpy()

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if self.output_sequence_length is None:
            return None  # Ragged output: its row lengths say where the tokens are.
        if keras.backend.is_keras_tensor(inputs):
            return None  # __call__ attaches the symbolic mask.
        if build_placeholders(inputs) or _compat.in_keras_save_signature(inputs):
            return None  # The float32 placeholders of a load or of a save signature (see `call`).
        text, scalar = self._text_batch(inputs)
        lengths = self._tokenize(text).row_lengths()
        computed = tf.sequence_mask(lengths, self.output_sequence_length)
        computed = computed[0] if scalar else computed
        return (computed, computed) if self.return_ids else computed

    def compute_output_shape(self, input_shape: Any) -> Any:
        ids = self._output_shape(input_shape)
        return (ids, ids + (self.output_dim,)) if self.return_ids else ids + (self.output_dim,)

    def compute_output_spec(self, inputs: Any) -> Any:
        self._refuse_other_backends_in_models()
        if inputs.dtype != "string":
            # Checked here as call() checks eager inputs: otherwise the model builds and fails only when run.
            raise KeyDtypeError(
                f"{self._owner()} takes raw strings, but received a symbolic input of dtype {inputs.dtype}. Build "
                "the model from `keras.Input(shape=(), dtype='string')` (or shape=(1,)); in a keras.Sequential, "
                "start with that Input, since Keras otherwise feeds the first layer float32 placeholders."
            )
        ids = self._output_shape(inputs.shape)
        ragged = self.output_sequence_length is None and len(ids) == 2
        vectors = keras.KerasTensor(ids + (self.output_dim,), dtype=self.compute_dtype, ragged=ragged)
        if not self.return_ids:
            return vectors
        return keras.KerasTensor(ids, dtype="int64", ragged=ragged), vectors

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["return_ids"] = self.return_ids
        return config


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class TextVocabLookup(_TextFrontEnd, VocabLookup):
    """The lookup half of a `TextVocabEmbedding`: raw strings to ids, for a `tf.data` pipeline on any backend.

    Tokenizes exactly as `TextVocabEmbedding` (same settings, same
    `adapt`) and looks the tokens up in its vocabulary. The ids are ragged,
    `(batch, None)`, or with `output_sequence_length=L` padded or truncated
    to `(batch, L)` with 0, the mask token's id, so that a
    `VocabIdEmbedding` with `mask_token=""` masks the padding. Get one from
    `TextVocabEmbedding.halves()` or `.lookup()`, or from the
    `VocabIdEmbedding` of a saved split model (`embedding.lookup()`, which
    rebuilds the tokenization from the saved config).

    Args:
        vocabulary, max_tokens, min_frequency, num_oov_indices, mask_token,
        oov_token, standardize, normalization_form, split, split_pattern,
        ngrams, output_sequence_length, encoding_errors, reserved_tokens,
        vocabulary_dtype: as for `TextVocabEmbedding`.
        **kwargs: base layer arguments (`name`).

    Examples:

    >>> lookup = TextVocabLookup(output_sequence_length=4)
    >>> lookup.adapt(["The cat sat.", "the dog!"])
    >>> lookup(["the fox"]).numpy()
    array([[2, 1, 0, 0]])
    """

    def __init__(
        self,
        vocabulary: Any = None,
        max_tokens: int | None = None,
        min_frequency: int | None = None,
        num_oov_indices: int = 1,
        mask_token: str | None = "",
        oov_token: str = "[UNK]",
        standardize: str | Callable | None = "lower_and_strip_punctuation",
        normalization_form: str | None = None,
        split: str | Callable = "whitespace",
        split_pattern: str | None = None,
        ngrams: int | tuple[int, ...] | None = None,
        output_sequence_length: int | None = None,
        encoding_errors: str = "replace",
        reserved_tokens: list[str] | None = None,
        vocabulary_dtype: str = "string",
        **kwargs: Any,
    ) -> None:
        settings = _text_settings(
            vocabulary_dtype=vocabulary_dtype,
            mask_token=mask_token,
            oov_token=oov_token,
            standardize=standardize,
            normalization_form=normalization_form,
            split=split,
            split_pattern=split_pattern,
            ngrams=ngrams,
            output_sequence_length=output_sequence_length,
            encoding_errors=encoding_errors,
            reserved_tokens=reserved_tokens,
            layer="TextVocabLookup",
        )
        _reserve_before_init(self, settings["reserved_tokens"])
        super().__init__(
            vocabulary=vocabulary,
            vocabulary_dtype="string",
            max_tokens=max_tokens,
            min_frequency=min_frequency,
            num_oov_indices=num_oov_indices,
            mask_token=mask_token,
            oov_token=oov_token,
            **kwargs,
        )
        self._init_text(settings)

    def _lookup_config(self) -> dict[str, Any]:
        return {"class_name": keras.saving.get_registered_name(type(self)), "config": self._text_config()}

    def call(self, inputs: Any) -> Any:
        text, scalar = self._text_batch(inputs)
        ids = self._token_ids(text)
        return ids[0] if scalar else ids

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None  # The ids carry it: 0 is padding (a VocabIdEmbedding with mask_token="" masks it).

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return self._output_shape(input_shape)

    def compute_output_spec(self, inputs: Any) -> Any:
        if inputs.dtype != "string":
            raise KeyDtypeError(
                f"{self._owner()} takes raw strings, but received a symbolic input of dtype {inputs.dtype}. Build "
                "the model from `keras.Input(shape=(), dtype='string')`."
            )
        ids = self._output_shape(inputs.shape)
        return keras.KerasTensor(ids, dtype="int64", ragged=self.output_sequence_length is None and len(ids) == 2)


class _TracedIds:
    """A text layer's traced text-to-ids function (see `_token_ids`), held where neither Keras nor TensorFlow
    tracks it: a tracked function would be written into SavedModels and copied with the layer."""

    __slots__ = ("eager_calls", "function")

    def __init__(self) -> None:
        self.eager_calls = 0
        self.function: Any = None


@dataclass(frozen=True)
class _Tokenizer:
    """The steps from raw text to tokens before the vocabulary: settings only, so layers that agree share a trace."""

    standardize: Any
    normalization_form: str | None
    split: Any
    split_pattern: str | None
    ngrams: tuple[int, ...] | None
    encoding_errors: str
    owner: str  # Names the layer in the strict encoding error.

    def _decode(self, text: tf.Tensor) -> tf.Tensor:
        if self.encoding_errors == "replace":
            return tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        # Valid UTF-8 transcodes to itself; dropping invalid bytes changes the string.
        invalid = tf.not_equal(tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="ignore"), text)
        message = (
            f"{self.owner} has encoding_errors='strict' and {_STRICT_MARKER}. Decode or clean the "
            "text before the layer, or build the layer with encoding_errors='replace' (invalid bytes become "
            "U+FFFD). First invalid strings (invalid bytes shown as U+FFFD):"
        )
        return _checked(text, invalid, message, TextEncodingError)

    @property
    def looks_words_up_first(self) -> bool:
        """Whether a text layer may look words up before the Unicode steps (see `_TextFrontEnd._words_first_ids`)."""
        return (
            self.split == "whitespace"
            and self.standardize in _STANDARDIZE_WITHOUT_NEW_WHITESPACE
            and self.normalization_form is None
            and self.ngrams is None
            and self.encoding_errors == "replace"
        )

    @property
    def lowers(self) -> bool:
        """Whether the standardization lower-cases (as ICU does; not `"case_fold"`)."""
        return self.standardize in ("lower", "lower_and_strip_punctuation")

    @property
    def strips(self) -> bool:
        """Whether the standardization strips punctuation."""
        return self.standardize in ("strip_punctuation", "lower_and_strip_punctuation")

    @property
    def splits_on_whitespace(self) -> bool:
        """Whether words are split on whitespace: `prepare` then turns all whitespace into spaces."""
        return self.split == "whitespace" or (self.split == "wordpiece" and self.split_pattern is None)

    def prepare(self, text: tf.Tensor) -> tf.Tensor:
        """Applies the encoding policy, normalization and standardization: the text, ready to split.

        With `splits_on_whitespace`, all whitespace has become spaces.
        """
        if callable(self.standardize):
            return self._prepare_for_callable(text)

        # Each step has a cheaper exact equivalent on ASCII text, which needs no decoding, no normalization and
        # only ASCII case mapping; most text is ASCII. Other strings take the full Unicode path. Every route runs
        # on every call (on no strings, maybe), with no `tf.cond`: in a `tf.data` map a branch costs 0.15-0.3 ms
        # per batch, more than the ops of the routes that run on no strings.
        def ascii_text(text: tf.Tensor) -> tf.Tensor:
            return self._standardize(text, ascii_only=True)

        if not self.splits_on_whitespace:
            return _routed(text, _routes(text, spaces=False), [ascii_text, self._prepare_unicode])

        # ASCII strings with other whitespace than spaces take the ASCII steps with the others, then that whitespace
        # becomes spaces; the others take the Unicode steps from the text as it came.
        def whitespace_to_spaces(prepared: tf.Tensor) -> tf.Tensor:
            return tf.strings.regex_replace(prepared, _ASCII_WHITESPACE_BUT_SPACE, " ")

        routes = _routes(text, spaces=True)
        prepared = _on_route(ascii_text(text), routes, 1, whitespace_to_spaces)
        return _on_route(prepared, routes, 2, self._prepare_unicode, inputs=text)

    def _prepare_for_callable(self, text: tf.Tensor) -> tf.Tensor:
        # The callable runs once, on the whole batch: a route may hold no strings, and a callable written for
        # eager tensors may not take an empty one (`tf.constant([])` is a float32 tensor).
        invalid = tf.logical_not(tf.strings.regex_full_match(text, _VALID_UTF8))
        text = _routed(text, tf.cast(invalid, tf.int32), [tf.identity, self._decode])
        if self.normalization_form is not None:
            tensorflow_text = _tensorflow_text(f"normalization_form={self.normalization_form!r}")
            text = tensorflow_text.normalize_utf8(text, self.normalization_form)
        text = self.standardize(text)
        if self.splits_on_whitespace:
            text = tf.strings.regex_replace(text, _WHITESPACE_BUT_SPACE, " ")
        return text

    def _prepare_unicode(self, text: tf.Tensor, clean_known: bool = True) -> tf.Tensor:
        """`prepare` for strings past ASCII; without `clean_known`, for strings known not to be clean (see
        `_CLEAN_RANGES`), which skip that check."""
        replaces_whitespace = self.splits_on_whitespace
        # Where ICU lower-cases by locale, strings that hold a letter it maps by locale leave the cheap routes for
        # the special one (see `_ROOT_LOWER_CASE`). The probe picks each pattern: a tensor, so no branch, and a
        # regex with a pattern input costs as much as a static one.
        root = self._icu_root()

        def steps(decode: bool, replace_whitespace: bool) -> Callable[[tf.Tensor], tf.Tensor]:
            return lambda text: self._unicode_steps(text, decode=decode, replace_whitespace=replace_whitespace)

        # Non-ASCII text is nearly always valid UTF-8 without NUL. One regex pass finds out, and then the costliest
        # step (transcoding: valid UTF-8 transcodes to itself) and the NUL handling are skipped.
        def valid_or_not(text: tf.Tensor) -> tf.Tensor:
            valid = self._valid_without(text, _NUL_RANGE, root)
            return _routed(
                text,
                tf.cast(tf.logical_not(valid), tf.int32),
                [steps(False, replaces_whitespace), steps(True, replaces_whitespace)],
            )

        # Lower-casing and removing punctuation cannot make whitespace; normalization and case folding (NFKC)
        # might, so after them the replacement always runs.
        whitespace_known = self.normalization_form is None and self.standardize in _STANDARDIZE_WITHOUT_NEW_WHITESPACE
        if not (replaces_whitespace and whitespace_known and clean_known):
            return valid_or_not(text)
        # Sentences rarely hold whitespace but spaces either: the same pass finds out, and the strings that do not
        # skip the whitespace replacement too.
        clean = self._valid_without(text, _CLEAN_RANGES, root)
        return _routed(text, tf.cast(tf.logical_not(clean), tf.int32), [steps(False, False), valid_or_not])

    def _icu_root(self) -> tf.Tensor | None:
        """Whether ICU lower-cases as the root locale where the graph runs, when this standardization asks ICU."""
        return _icu_lower_case_is_root() if self.lowers else None

    @staticmethod
    def _valid_without(text: tf.Tensor, excluded: tuple[tuple[int, int], ...], root: tf.Tensor | None) -> tf.Tensor:
        """Whether each string is valid UTF-8 without the `excluded` code points (nor, where `root` is false, the
        letters that ICU lower-cases by locale)."""
        pattern = _code_points_except(excluded)
        if root is None:
            return tf.strings.regex_full_match(text, pattern)
        without_locale_sensitive = _code_points_except((*excluded, *_LOCALE_SENSITIVE_RANGES))
        return tf.raw_ops.RegexFullMatch(input=text, pattern=tf.where(root, pattern, without_locale_sensitive))

    def _unicode_steps(self, text: tf.Tensor, decode: bool, replace_whitespace: bool) -> tf.Tensor:
        if decode:
            text = self._decode(text)
        if self.normalization_form is not None:
            tensorflow_text = _tensorflow_text(f"normalization_form={self.normalization_form!r}")
            text = tensorflow_text.normalize_utf8(text, self.normalization_form)
        # A clean batch (decode=False) holds no NUL: ICU's lower-casing then reads each string whole. Nor does it
        # hold the code points that ICU lower-cases by locale here (see `_prepare_unicode`), unless normalization
        # made them ("I" + U+0307 is "İ" in NFC).
        text = self._standardize(
            text, ascii_only=False, nul_safe=decode, locale_safe=decode or self.normalization_form is not None
        )
        if replace_whitespace:
            text = tf.strings.regex_replace(text, _WHITESPACE_BUT_SPACE, " ")
        return text

    def _standardize(
        self, text: tf.Tensor, ascii_only: bool, nul_safe: bool = True, locale_safe: bool = True
    ) -> tf.Tensor:
        if self.standardize == "case_fold":
            if ascii_only:
                return tf.strings.lower(text)
            return _tensorflow_text("standardize='case_fold'").case_fold_utf8(text)
        if self.lowers:
            text = tf.strings.lower(text) if ascii_only else _lower_unicode(text, nul_safe, locale_safe)
        if self.strips:
            text = tf.strings.regex_replace(text, _PUNCTUATION_PATTERN, "")
        return text

    def split_words(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Words (for WordPiece) or final tokens (other splits): a `(batch, None)` ragged tensor, no empties."""
        if callable(self.split):
            tokens = self.split(text)
            return tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
        if self.split == "unicode_script":
            tokenizer = _tensorflow_text("split='unicode_script'").UnicodeScriptTokenizer(keep_whitespace=False)
            return tokenizer.tokenize(text)
        if self.split == "character":
            characters = tf.strings.unicode_split(text, "UTF-8")
            return tf.ragged.boolean_mask(
                characters, tf.logical_not(tf.strings.regex_full_match(characters, _WHITESPACE_CHARACTER))
            )
        if self.split_pattern is not None:
            marked = tf.strings.regex_replace(text, self.split_pattern, _SPLIT_MARKER)
            pieces = tf.strings.split(marked, sep=_SPLIT_MARKER)
            return tf.ragged.boolean_mask(pieces, tf.strings.length(pieces) > 0)
        # On whitespace: `prepare` left spaces only, and a split on spaces alone is a third cheaper than
        # `tf.strings.split` on ASCII whitespace.
        return _split(text, " ")

    def tokens(self, text: tf.Tensor) -> tf.RaggedTensor:
        tokens = self.split_words(self.prepare(text))
        if self.ngrams is not None:
            if self.split == "regex" or callable(self.split):  # The other splits never leave a space in a token.
                tokens = self._without_spaces(tokens)
            tokens = tf.strings.ngrams(tokens, self.ngrams, separator=" ")
        return tokens

    def _without_spaces(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """`tokens`, checked to hold no space: n-grams join tokens with one, so that `["new york", "city"]` and
        `["new", "york city"]` would make the same bigram."""
        flat = tokens.flat_values
        spaced = tf.logical_not(tf.strings.regex_full_match(flat, "[^ ]*"))
        message = (
            f"{self.owner} has ngrams={self.ngrams} and {_SPACED_TOKEN_MARKER}, which n-grams join with "
            "a space: the tokens 'new york' + 'city' and 'new' + 'york city' would make one bigram. Split on "
            "spaces too (a split_pattern that matches ' ') or take the spaces out of the tokens. First tokens:"
        )
        return tokens.with_flat_values(_checked(flat, spaced, message, TextInputError))

    def count(self, text: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The distinct tokens (words, for WordPiece) of a 1-D batch of text, and their counts."""
        tokens = self.tokens(text)
        unique, _, counts = tf.unique_with_counts(tokens.flat_values, out_idx=tf.int64)
        return unique, counts


def _routes(text: tf.Tensor, spaces: bool) -> tf.Tensor:
    """Each string's route through `_Tokenizer.prepare`, as an int32 per string of a 1-D batch.

    0 for the strings of ASCII bytes, 1 for the others; with `spaces`, 0 for those of ASCII bytes outside 8-15, 1
    for the other ASCII ones (whitespace but the space is 9-13) and 2 for the rest. A byte that is not ASCII,
    valid UTF-8 or not, counts.
    """
    lengths = tf.strings.length(text)
    longest = tf.reduce_max(lengths)  # The lowest int32 for no strings.
    # Each string's bytes as a row of signed bytes, zero-padded: ASCII bytes are the non-negative ones. One pass over
    # memory, several times cheaper than a regex per string. Rows are at most _ROUTING_WIDTH wide, so a batch of
    # short strings and a long one costs no more than that many bytes a string.
    width = (tf.clip_by_value(longest, 1, _ROUTING_WIDTH) + 7) // 8 * 8
    # Read as 64-bit words (bit operations on bytes are several times slower), then seen as bytes again.
    words = tf.io.decode_raw(text, tf.int64, fixed_length=width)
    if spaces:
        # Flipping bit 3 maps the bytes 8-15 to 0-7 and keeps the others' sign and order: one pass tells all three
        # routes. (Backspace, shift out and shift in take the route with whitespace, which is right for any ASCII.)
        words = tf.bitwise.bitwise_xor(words, tf.constant(0x0808080808080808, tf.int64))
    least = tf.reduce_min(tf.bitcast(words, tf.int8), axis=[1, 2])
    # The bytes of the strings longer than a row, past it, are read by regex, on those strings alone: a regex costs
    # ~75 ns a string even when it has nothing to read.
    long = tf.where(lengths > width)
    tails = tf.strings.substr(tf.gather_nd(text, long), width, longest)
    if not spaces:
        head = tf.cast(least < 0, tf.int32)
        tail = tf.cast(tf.logical_not(tf.strings.regex_full_match(tails, _ASCII)), tf.int32)
    else:
        head = tf.where(least >= 0, tf.where(least >= 8, 0, 1), 2)
        plain_tail = tf.strings.regex_full_match(tails, _ASCII_OUTSIDE_8_TO_15)
        tail = tf.where(plain_tail, 0, tf.where(tf.strings.regex_full_match(tails, _ASCII), 1, 2))
    # Routes are ordered by what a string holds: it takes the later of its row's and its tail's.
    return tf.tensor_scatter_nd_max(head, long, tail)


def _split(text: tf.Tensor, separator: str | None) -> tf.RaggedTensor:
    """The words of a 1-D batch, split on `separator`, or on ASCII whitespace if None; empty words dropped.

    Built from the words' row ids, which padding reads as they are: the row splits are computed only where used.
    """
    if separator is None:
        indices, values, shape = tf.raw_ops.StringSplitV2(input=text, sep="", maxsplit=-1)
    else:
        indices, values, shape = tf.raw_ops.StringSplit(input=text, delimiter=separator, skip_empty=True)
    return tf.RaggedTensor.from_value_rowids(values, indices[:, 0], nrows=shape[0], validate=False)


def _ragged_stitch(positions: Sequence[tf.Tensor], parts: Sequence[tf.RaggedTensor]) -> tf.RaggedTensor:
    """`tf.dynamic_stitch` for ragged rows: row `j` of `parts[i]` at `positions[i][j]` (int32); where a position is
    given twice, the later part's row wins."""
    starts = tf.cumsum([tf.size(rows) for rows in positions], exclusive=True)
    order = tf.dynamic_stitch(
        positions, [start + tf.range(tf.size(rows)) for start, rows in zip(tf.unstack(starts), positions)]
    )
    return tf.gather(tf.concat(parts, axis=0), order)


def _routed(text: tf.Tensor, routes: tf.Tensor, steps: Sequence[Callable[[tf.Tensor], tf.Tensor]]) -> tf.Tensor:
    """`steps[i]` applied to the strings of route `i`, in the batch's order.

    The first step, for the most common route, runs on the whole batch and must take any string; each other step
    runs on its route's strings (none, maybe) and overwrites their results, in place when TensorFlow can.
    Partitioning the batch and stitching it together again copied every string twice: this costs less even when the
    first step is a regex replacement that runs on other routes' strings too.
    """
    prepared = steps[0](text)
    for route, step in enumerate(steps[1:], start=1):
        prepared = _on_route(prepared, routes, route, step, inputs=text)
    return prepared


def _on_route(
    values: tf.Tensor,
    routes: tf.Tensor,
    route: int,
    step: Callable[[tf.Tensor], tf.Tensor],
    inputs: tf.Tensor | None = None,
) -> tf.Tensor:
    """`values` where route `route`'s entries are `step` of them (or of the same entries of `inputs`)."""
    indices = tf.where(tf.equal(routes, route))
    return tf.tensor_scatter_nd_update(
        values, indices, step(tf.gather_nd(values if inputs is None else inputs, indices))
    )


def _lower_unicode(text: tf.Tensor, nul_safe: bool, locale_safe: bool) -> tf.Tensor:
    """Unicode lower case of a 1-D batch of valid UTF-8 strings, as in the root locale whatever the process's.

    Without `nul_safe`, the strings must hold no NUL byte; without `locale_safe`, none of the code points that
    ICU lower-cases by locale in this process (see `_ROOT_LOWER_CASE`).
    """

    def lower(text: tf.Tensor) -> tf.Tensor:
        return _lower_utf8(text) if nul_safe else tf.strings.lower(text, encoding="utf-8")

    if not locale_safe:
        return lower(text)
    text = tf.strings.lower(text)  # ASCII first: under tr_TR or az_AZ, ICU would make "I" a dotless i (U+0131).

    def as_in_root_locale(text: tf.Tensor) -> tf.Tensor:
        for character, lower_case in _ROOT_LOWER_CASE.items():
            text = tf.strings.regex_replace(text, character, lower_case)
        return text

    sensitive = tf.logical_not(tf.strings.regex_full_match(text, _code_points_except(_LOCALE_SENSITIVE_RANGES)))
    return lower(_routed(text, tf.cast(sensitive, tf.int32), [tf.identity, as_in_root_locale]))


def _icu_lower_case_is_root() -> tf.Tensor:
    """Whether ICU lower-cases as in the root locale where the graph runs (a scalar: see `_ROOT_LOWER_CASE`)."""
    probe = tf.strings.lower(tf.constant([_LOCALE_PROBE]), encoding="utf-8")
    return tf.reduce_all(tf.equal(probe, _LOCALE_PROBE_IN_ROOT))


def _lower_utf8(text: tf.Tensor) -> tf.Tensor:
    """Unicode lower case of a 1-D batch of strings (invalid UTF-8 becomes U+FFFD), NUL bytes kept.

    `tf.strings.lower(encoding="utf-8")` reads each string as a C string: it drops everything from the first NUL
    byte on (TensorFlow 2.21). So each piece between NULs is lower-cased alone, and the NULs are put back. A NUL is
    neither cased nor case-ignorable, so final sigma's context stops at it either way. Raw ops, not ragged ones:
    this is a route that rarely has strings, and its ops cost a little on every call even when it has none.
    """
    indices, pieces, _ = tf.raw_ops.StringSplitV2(input=text, sep="\x00", maxsplit=-1)
    rows = indices[:, 0]  # Every string gives at least one piece, in order.
    # A NUL separator would be dropped by the join too: each piece but its string's last carries its NUL instead.
    last = tf.concat([tf.not_equal(rows[1:], rows[:-1]), tf.ones([1], tf.bool)], 0)[: tf.size(rows)]
    lowered = tf.strings.join([tf.strings.lower(pieces, encoding="utf-8"), tf.where(last, "", "\x00")])
    return tf.strings.unsorted_segment_join(lowered, rows, tf.size(text, out_type=tf.int64))


@lru_cache(maxsize=32)
def _count_function(tokenizer: _Tokenizer) -> Any:
    """`tokenizer.count` as a traced function, one per distinct tokenizer, so adapting new layers does not retrace."""
    return tf.function(tokenizer.count, input_signature=[tf.TensorSpec([None], tf.string)])


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class _AttachedMask(keras.Operation):
    """The Keras mask that `TextVocabEmbedding.call()` attached to its vectors, as an op of a functional graph.

    It is saved in a functional model's config like Keras's own mask ops, hence registered.
    """

    def call(self, vectors: Any) -> Any:
        mask = _compat.get_keras_mask(vectors)
        if mask is None:
            raise RuntimeError(
                f"{self.name}: the padded vectors of a TextVocabEmbedding lost their Keras mask between layers. "
                "Please report this with your Keras version."
            )
        return mask

    def compute_output_spec(self, vectors: Any) -> Any:
        return keras.KerasTensor(vectors.shape[:-1], dtype="bool")


def _checked(strings: tf.Tensor, bad: tf.Tensor, message: str, error: type[Exception]) -> tf.Tensor:
    """`strings`, once none is `bad`. Eagerly, `error` with the message and the first three bad strings; in a graph,
    an assertion that fails with them (which `_graph_errors_as_typed` turns into `error`)."""
    if tf.executing_eagerly():
        examples = strings.numpy()[bad.numpy()][:3].tolist()
        if examples:
            raise error(f"{message} {[example.decode('utf-8', errors='replace') for example in examples]}")
        return strings
    # Shown with U+FFFD for bytes that are not UTF-8: such bytes in an error message cannot be decoded by Python.
    # One string, listed as the eager error lists them: TensorFlow prints the items of a tensor unquoted.
    shown = tf.strings.unicode_transcode(tf.boolean_mask(strings, bad)[:3], "UTF-8", "UTF-8", errors="replace")
    detail = tf.strings.join([f"{message} ['", tf.strings.reduce_join(shown, separator="', '"), "']"])
    check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad)), [detail])
    with tf.control_dependencies([check]):
        return tf.identity(strings)


class _graph_errors_as_typed:
    """Turns the text checks of a graph (the strict encoding check, the n-gram check of tokens; e.g. in adapt's
    tf.data pipeline or a traced eager call) into the typed errors an eager call raises."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> Literal[False]:
        if not isinstance(error, tf.errors.InvalidArgumentError):
            return False
        for marker, typed in ((_STRICT_MARKER, TextEncodingError), (_SPACED_TOKEN_MARKER, TextInputError)):
            if marker in (error.message or ""):
                # The one item `_checked` asserts with, up to the node TensorFlow names after it (or the end).
                found = re.search(r"assertion failed: \[(.*?)\](?:\n\t \[\[|\Z)", error.message, re.DOTALL)
                detail = found[1].replace("\\'", "'") if found else error.message
                raise typed(detail) from None
        return False


def _validate_callable_or_choice(value: Any, name: str, choices: tuple) -> Any:
    if callable(value):
        registered = keras.saving.get_registered_name(value)
        if keras.saving.get_registered_object(registered) is not value:
            raise ConfigurationError(
                f"A callable `{name}` must be registered so that a saved model tokenizes the same way after "
                f"loading. Received: {name}={value!r}. Decorate it with "
                "`@keras.saving.register_keras_serializable(package='my_package')`."
            )
        return value
    if value not in choices:
        raise ConfigurationError(
            f"`{name}` must be one of {list(choices)} or a registered callable. Received: {name}={value!r}"
        )
    return value


def _serialize_callable(value: Any) -> Any:
    return keras.saving.serialize_keras_object(value) if callable(value) else value


def _check_pattern(pattern: Any) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigurationError(
            f"`split_pattern` must be a non-empty regular expression string. Received: split_pattern={pattern!r}"
        )
    try:
        with tf.init_scope():
            tf.strings.regex_replace(tf.constant(["probe"]), pattern, "")
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise ConfigurationError(
            f"`split_pattern` is not a valid RE2 regular expression: {pattern!r} ({_first_line(error)}). See "
            "https://github.com/google/re2/wiki/Syntax; lookarounds and backreferences are not supported."
        ) from None


def _first_line(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


def _validate_ngrams(ngrams: Any) -> tuple[int, ...] | None:
    if ngrams is None:
        return None
    if _is_positive_int(ngrams) and ngrams <= _MAX_NGRAM_WIDTH:
        return tuple(range(1, int(ngrams) + 1))
    if (
        isinstance(ngrams, (list, tuple))
        and 0 < len(ngrams) <= _MAX_NGRAM_WIDTH
        and all(_is_positive_int(n) and n <= _MAX_NGRAM_WIDTH for n in ngrams)
        and len(set(ngrams)) == len(ngrams)  # A repeated width would emit (and count) each n-gram twice.
    ):
        return tuple(int(n) for n in ngrams)
    raise ConfigurationError(
        f"`ngrams` must be None, a positive int n (all n-grams up to n) or a tuple of distinct positive widths, each "
        f"at most {_MAX_NGRAM_WIDTH}. Received: ngrams={ngrams!r}"
    )


def _reserve_before_init(layer: Any, reserved_tokens: tuple[str, ...]) -> None:
    """Gives a text layer its `reserved_tokens` as keys (`_reserved_keys`) before Keras's `Layer.__init__`, which
    sets a `vocabulary=` cut by count (`_kept_whatever_counts`) before the text settings are set."""
    object.__setattr__(layer, "_reserved_keys", [canonical_token(token, "string") for token in reserved_tokens])


def _validate_reserved_tokens(tokens: Any, mask_token: str | None, oov_token: str) -> tuple[str, ...]:
    if tokens is None:
        return ()
    received = tokens
    if not isinstance(tokens, (str, bytes, dict, set, frozenset)) and isinstance(tokens, Iterable):
        tokens = tuple(tokens)  # Once: a generator would be used up by the checks.
    if not isinstance(tokens, tuple) or not all(isinstance(t, str) and t for t in tokens):
        raise ConfigurationError(
            f"`reserved_tokens` must be a list of non-empty strings. Received: reserved_tokens={received!r}"
        )
    for token in tokens:
        try:
            canonical_token(token, "string", what="reserved token")
        except KeyDtypeError as error:
            raise ConfigurationError(f"`reserved_tokens` holds a token that cannot be used: {error}") from None
    clash = [t for t in tokens if t in (mask_token, oov_token)]
    if clash or len(set(tokens)) != len(tokens):
        raise ConfigurationError(
            f"`reserved_tokens` must be distinct and differ from the mask and OOV tokens, which have slots of "
            f"their own. Received: reserved_tokens={list(tokens)!r}"
        )
    return tokens


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and bool(value > 0)


def _text_settings(
    *,
    vocabulary_dtype: str,
    mask_token: str | None,
    oov_token: str,
    standardize: Any,
    normalization_form: str | None,
    split: Any,
    split_pattern: str | None,
    ngrams: Any,
    output_sequence_length: int | None,
    encoding_errors: str,
    reserved_tokens: Any,
    layer: str,
) -> dict[str, Any]:
    """The tokenization settings of a text layer, validated (`layer` names the class in messages)."""
    if vocabulary_dtype != "string":
        raise ConfigurationError(
            f"{layer} tokenizes text, so its keys are strings. Received: "
            f"vocabulary_dtype={vocabulary_dtype!r}. Use VocabEmbedding(vocabulary_dtype='int64') for integer ids."
        )
    if mask_token not in ("", None):
        raise ConfigurationError(
            f"`mask_token` must be '' (padding, the default) or None. Received: mask_token={mask_token!r}. Text "
            "never yields an empty token, so '' is the one padding key that cannot collide with a real token."
        )
    standardize = _validate_callable_or_choice(standardize, "standardize", _STANDARDIZE_CHOICES)
    split = _validate_callable_or_choice(split, "split", _SPLIT_CHOICES)
    if normalization_form not in _NORMALIZATION_FORMS:
        raise ConfigurationError(
            f"`normalization_form` must be one of {list(_NORMALIZATION_FORMS)}. Received: "
            f"normalization_form={normalization_form!r}"
        )
    if encoding_errors not in _ENCODING_ERRORS:
        raise ConfigurationError(
            "`encoding_errors` must be 'replace' (bytes that are not UTF-8 become U+FFFD) or 'strict' (they "
            f"raise an error). Received: encoding_errors={encoding_errors!r}"
        )
    if split_pattern is not None:
        if split not in ("regex", "wordpiece"):
            raise ConfigurationError(
                f"`split_pattern` applies to split='regex' or split='wordpiece'. Received: split={split!r} with "
                f"split_pattern={split_pattern!r}. Pass split='regex' to split on the pattern."
            )
        _check_pattern(split_pattern)
    elif split == "regex":
        raise ConfigurationError(
            "split='regex' needs `split_pattern`, a regular expression matching the delimiters, e.g. "
            "split_pattern=r'[\\s,;]+'."
        )
    ngrams = _validate_ngrams(ngrams)
    if ngrams is not None and split == "wordpiece":
        raise ConfigurationError(
            "`ngrams` cannot be combined with split='wordpiece': the n-grams of subwords would need a "
            "vocabulary counted after the subword vocabulary is learned. Use ngrams=None, or another split."
        )
    if output_sequence_length is not None:
        if not _is_positive_int(output_sequence_length):
            raise ConfigurationError(
                "`output_sequence_length` must be a positive integer or None (ragged output). Received: "
                f"output_sequence_length={output_sequence_length!r}"
            )
        if mask_token is None:
            raise ConfigurationError(
                "`output_sequence_length` pads sequences with the mask token's id, so it needs mask_token='' "
                "(the default). Received: mask_token=None. Keep mask_token='', or use ragged output."
            )
    reserved_tokens = _validate_reserved_tokens(reserved_tokens, mask_token, oov_token)
    return {
        "standardize": standardize,
        "normalization_form": normalization_form,
        "split": split,
        "split_pattern": split_pattern,
        "ngrams": ngrams,
        "output_sequence_length": None if output_sequence_length is None else int(output_sequence_length),
        "encoding_errors": encoding_errors,
        "reserved_tokens": reserved_tokens,
    }
