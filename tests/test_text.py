"""TextVocabEmbedding: raw text in, vectors out, with the tokenization stored in the layer.

Expected tokens are written by hand from the documented rules (Unicode lower case and case folding, `\\p{P}`
punctuation, Unicode whitespace, script boundaries, WordPiece longest-match-first), never computed by the layer.
"""

import json
import os
import subprocess
import sys
import unicodedata

import hypothesis.strategies as st
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import settings as hypothesis_settings

from conftest import serve_in_fresh_process
from keras_vocabsafe import (
    ConfigurationError,
    KeyDtypeError,
    NotAdaptedError,
    TextEncodingError,
    TextInputError,
    TextVocabEmbedding,
    TextVocabLookup,
    UnsupportedOpsError,
    audit_ops,
    export_for_serving,
)


@keras.saving.register_keras_serializable(package="test_text")
def digits_to_zero(text):
    return tf.strings.regex_replace(text, r"[0-9]", "0")


@keras.saving.register_keras_serializable(package="test_text")
def python_lower(text):
    """Eager only: Python's lower case of each string."""
    return tf.constant([string.decode("utf-8").lower().encode("utf-8") for string in text.numpy()])


@keras.saving.register_keras_serializable(package="test_text")
def split_on_dash(text):
    return tf.strings.split(text, sep="-")


def tokens_of(layer, text):
    """The layer's tokens for each string, as lists of str."""
    ragged = layer.tokenize(tf.constant(text))
    return [[token.decode("utf-8") for token in row] for row in ragged.to_list()]


def text_layer(**kwargs):
    kwargs.setdefault("vocabulary", ["unused"])
    return TextVocabEmbedding(4, **kwargs)


MULTILINGUAL = "Ça VA? Élan, ÜBER straße 日本語テキスト «مرحبا»، 🙂!"


# Standardization -------------------------------------------------------------------------------------


def test_lower_lowers_every_script_and_keeps_punctuation():
    layer = text_layer(standardize="lower")
    assert tokens_of(layer, [MULTILINGUAL]) == [
        ["ça", "va?", "élan,", "über", "straße", "日本語テキスト", "«مرحبا»،", "🙂!"]
    ]


def test_strip_punctuation_removes_unicode_punctuation_and_keeps_case_and_emoji():
    layer = text_layer(standardize="strip_punctuation")
    assert tokens_of(layer, [MULTILINGUAL]) == [["Ça", "VA", "Élan", "ÜBER", "straße", "日本語テキスト", "مرحبا", "🙂"]]


def test_strip_punctuation_removes_cjk_and_arabic_marks():
    layer = text_layer(standardize="strip_punctuation")
    assert tokens_of(layer, ["東京。大阪、京都「です」", "نعم، لا؟"]) == [["東京大阪京都です"], ["نعم", "لا"]]


def test_strip_punctuation_strips_the_ascii_symbols_text_vectorization_strips():
    layer = text_layer(standardize="strip_punctuation")
    assert tokens_of(layer, ["a$b+c<d=e>f^g`h|i~j #k% l&m*"]) == [["abcdefghij", "k", "lm"]]


def test_lower_and_strip_punctuation_is_the_default():
    layer = text_layer()
    assert tokens_of(layer, [MULTILINGUAL]) == [["ça", "va", "élan", "über", "straße", "日本語テキスト", "مرحبا", "🙂"]]


def test_case_fold_folds_sharp_s_ligatures_and_full_width_letters():
    # \uff21\uff22\uff23: full-width ABC.
    layer = text_layer(standardize="case_fold")
    assert tokens_of(layer, ["Straße ﬁne ÉCOLE \uff21\uff22\uff23 日本 مرحبا 🙂"]) == [
        ["strasse", "fine", "école", "abc", "日本", "مرحبا", "🙂"]
    ]


def test_no_standardization_keeps_text_as_is():
    layer = text_layer(standardize=None)
    assert tokens_of(layer, ["Hello, World! Ça"]) == [["Hello,", "World!", "Ça"]]


@pytest.mark.parametrize(
    ("form", "text", "expected"),
    [
        ("NFC", "e\u0301te\u0301", ["\u00e9t\u00e9"]),
        ("NFD", "\u00e9t\u00e9", ["e\u0301te\u0301"]),
        ("NFKC", "ﬁ ① ｶ", ["fi", "1", "\u30ab"]),
        ("NFKD", "ﬁ\u00e9", ["fie\u0301"]),
    ],
)
def test_normalization_form_applies_before_standardization(form, text, expected):
    layer = text_layer(standardize=None, normalization_form=form)
    assert tokens_of(layer, [text]) == [expected]


def test_normalization_lets_composed_and_decomposed_text_share_tokens():
    layer = TextVocabEmbedding(4, normalization_form="NFC", standardize="lower")
    layer.adapt(["Caf\u00e9 caf\u00e9"])
    assert layer.get_vocabulary() == ["", "[UNK]", "caf\u00e9"]
    assert tokens_of(layer, ["CAFE\u0301"]) == [["caf\u00e9"]]


def test_registered_callable_standardizes():
    layer = text_layer(standardize=digits_to_zero)
    assert tokens_of(layer, ["Room 42, floor 7"]) == [["Room", "00,", "floor", "0"]]


def test_unregistered_callable_is_refused_with_the_fix():
    with pytest.raises(ConfigurationError, match="register_keras_serializable"):
        TextVocabEmbedding(4, standardize=lambda text: text)


def test_unknown_standardize_is_refused():
    with pytest.raises(ConfigurationError, match="standardize='upper'"):
        TextVocabEmbedding(4, standardize="upper")


@pytest.mark.parametrize(
    "standardize", ["lower", "strip_punctuation", "lower_and_strip_punctuation", "case_fold", None]
)
def test_ascii_and_unicode_strings_tokenize_alike_alone_and_in_one_batch(standardize):
    # ASCII strings take a cheaper path than the others; "MIXED" differs from "HELLO" only by a final "É".
    layer = text_layer(standardize=standardize, normalization_form="NFKC")
    batch = ["HELLO, World!", "HELLO, WorldÉ!", b"Bad \xff BYTE", "Tab\tand\u3000space"]
    alone = [tokens_of(layer, [text])[0] for text in batch]
    assert tokens_of(layer, batch) == alone
    assert alone[1][:-1] == alone[0][:-1]
    assert alone[1][-1] == alone[0][-1].replace("d", "dÉ" if standardize in (None, "strip_punctuation") else "dé")


# A mixed batch for the Unicode rules: Turkish dotted and dotless i, Greek final sigma and tonos, German sharp s,
# combining marks, emoji (one with a skin-tone modifier), CJK punctuation, and ASCII with capitals.
MIXED_CLEAN = [
    "The QUICK brown Fox, jumps!",
    "İSTANBUL'da IŞIK \u0131\u015f\u0131k",
    "ΟΔΌΣ Σοφός ΣΟΦΟΣ.",
    "Straße GRÖSSE Maß",
    "nai\u0308ve CAFE\u0301 A\u030a",
    "😀 👍🏽 ok? «quoted»",
    "日本語。東京、\uff21\uff22\uff23",
    "",
]
# Strings that the full path changes beyond case and punctuation: whitespace outside ASCII, and bytes that are
# not UTF-8 (a lone byte, a truncated sequence, an overlong form, a surrogate, a value past U+10FFFF).
MIXED_UNCLEAN = [
    "a\u3000b\u00a0C\u2028d\u0085e",
    b"caf\xc3 OK",
    b"\xff\xfe Bad",
    b"\xe6\x97 x",
    b"\xc0\xaf y",
    b"\xed\xa0\x80 z",
    b"\xf4\x90\x80\x80 w",
]


def unicode_reference_tokens(batch, standardize, normalization_form):
    """Tokens by the full Unicode steps on every string, composed here from TensorFlow and Python."""
    import tensorflow_text

    text = tf.strings.unicode_transcode(tf.constant(batch), "UTF-8", "UTF-8", errors="replace")
    if normalization_form is not None:
        text = tensorflow_text.normalize_utf8(text, normalization_form)
    if standardize == "case_fold":
        text = tensorflow_text.case_fold_utf8(text)
    if standardize in ("lower", "lower_and_strip_punctuation"):
        text = tf.strings.lower(text, encoding="utf-8")
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = tf.strings.regex_replace(text, r"[\p{P}$+<=>^`|~]", "")
    # Python's str.split splits on the Unicode whitespace (the test strings hold none of \x1c-\x1f).
    return [string.decode("utf-8").split() for string in text.numpy().tolist()]


@pytest.mark.parametrize("normalization_form", [None, "NFKC"])
@pytest.mark.parametrize(
    "standardize", ["lower", "strip_punctuation", "lower_and_strip_punctuation", "case_fold", None]
)
def test_mixed_batches_tokenize_as_the_full_unicode_steps(standardize, normalization_form):
    layer = text_layer(standardize=standardize, normalization_form=normalization_form)
    traced = tf.function(layer.tokenize)
    ascii_text = "Plain ASCII, TEXT!"
    batches = [MIXED_CLEAN, MIXED_CLEAN + MIXED_UNCLEAN, [ascii_text]]
    batches += [[ascii_text, text] for text in MIXED_CLEAN + MIXED_UNCLEAN]
    for batch in batches:
        expected = unicode_reference_tokens(batch, standardize, normalization_form)
        assert tokens_of(layer, batch) == expected, batch
        assert [[t.decode("utf-8") for t in row] for row in traced(tf.constant(batch)).to_list()] == expected, batch


def expected_route(string, spaces):
    """Written from the routes' definition: 0 ASCII (outside the bytes 8-15, with `spaces`), 1 other ASCII, 2 the
    rest. The bytes 8-15 hold the whitespace but the space (9-13)."""
    if not string.isascii():
        return 2 if spaces else 1
    return 1 if spaces and any(8 <= byte <= 15 for byte in string) else 0


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=12) | st.text(max_size=6).map(str.encode), max_size=8))
def test_strings_are_routed_by_their_bytes(batch):
    from keras_vocabsafe.text import _routes

    for spaces in (False, True):
        found = _routes(tf.constant(batch, dtype=tf.string), spaces).numpy().tolist()
        assert found == [expected_route(string, spaces) for string in batch]


def test_strings_longer_than_the_routing_rows_are_routed_by_all_their_bytes():
    # Routing reads each string's first bytes as a fixed-width row; the bytes past it are read otherwise.
    from keras_vocabsafe.text import _ROUTING_WIDTH, _routes

    long = b"a" * (_ROUTING_WIDTH + 3)
    batch = [long, long + b"\t", long + b"\x08", long + "é".encode(), long + b"\xff", b"\t" + long, b"x", b""]
    every_byte = [b"a" + bytes([byte]) + b"b" for byte in range(256)]
    for spaces in (False, True):
        for strings in (batch, every_byte):
            found = _routes(tf.constant(strings), spaces).numpy().tolist()
            assert found == [expected_route(string, spaces) for string in strings]
    assert _routes(tf.constant([], tf.string), True).numpy().tolist() == []


@pytest.mark.parametrize("standardize", ["lower", "lower_and_strip_punctuation", "case_fold", None])
@pytest.mark.parametrize("normalization_form", [None, "NFKC"])
def test_every_whitespace_splits_on_each_route(standardize, normalization_form):
    # Each route leaves spaces only, for a split on spaces: ASCII with and without other whitespace, valid UTF-8
    # with ASCII or other whitespace, and invalid UTF-8, alone and in one batch.
    layer = text_layer(standardize=standardize, normalization_form=normalization_form)
    batch = [
        "Plain ASCII TEXT",
        "Tab\tNEW\nline\r\nVT\x0bFF\x0cend  ",
        "Ünï\tcode\nLINES",
        "Ünï\u3000code\u2028LINES\x85x",
        b"Bad \xff\tBYTE\n",
        "\t\n ",
        "",
    ]
    expected = unicode_reference_tokens(batch, standardize, normalization_form)
    assert tokens_of(layer, batch) == expected
    assert [tokens_of(layer, [text])[0] for text in batch] == expected
    assert len(expected[1]) == 6 and len(expected[2]) == 3 and expected[5] == []  # The reference splits them.


def test_a_batch_with_one_very_long_string_tokenizes_as_the_full_unicode_steps():
    # Routing reads each string's first bytes as a row of the longest string's width, up to a limit; a batch of
    # short strings and one long one reads the rest of the long one otherwise, with the same tokens.
    batch = [*MIXED_CLEAN, *MIXED_UNCLEAN] * 20 + ["Long ÉTÉ " * 40_000 + "Fin"]
    layer = text_layer(standardize="lower")
    expected = unicode_reference_tokens(batch, "lower", None)
    assert tokens_of(layer, batch) == expected
    assert expected[-1][-3:] == ["long", "été", "fin"]


@pytest.mark.parametrize(
    "standardize", ["lower", "lower_and_strip_punctuation", "strip_punctuation", "case_fold", None]
)
def test_a_nul_byte_and_the_text_after_it_are_kept(standardize):
    # TensorFlow's Unicode lower-casing reads a string as a C string, so it dropped everything from a NUL byte on:
    # "Straße\x00XY Z" gave only "straße". Expected tokens written out here, not computed.
    layer = text_layer(standardize=standardize)
    nul = "\x00"
    batch = [f"Straße{nul}XY Z", f"ABC{nul}DEF g", "Σ" + nul + "ΟΔΌΣ" + nul, nul, f"É{nul}\u3000É"]
    if standardize == "case_fold":
        expected = [
            [f"strasse{nul}xy", "z"],
            [f"abc{nul}def", "g"],
            ["\u03c3" + nul + "οδόσ" + nul],
            [nul],
            [f"é{nul}", "é"],
        ]
    elif standardize in ("lower", "lower_and_strip_punctuation"):
        expected = [
            [f"straße{nul}xy", "z"],
            [f"abc{nul}def", "g"],
            ["\u03c3" + nul + "οδός" + nul],
            [nul],
            [f"é{nul}", "é"],
        ]
    else:
        expected = [[f"Straße{nul}XY", "Z"], [f"ABC{nul}DEF", "g"], ["Σ" + nul + "ΟΔΌΣ" + nul], [nul], [f"É{nul}", "É"]]
    assert tokens_of(layer, batch) == expected
    traced = tf.function(layer.tokenize)(tf.constant(batch))
    assert [[t.decode("utf-8") for t in row] for row in traced.to_list()] == expected
    # One at a time: an ASCII string takes the ASCII steps alone, not the Unicode ones.
    assert [tokens_of(layer, [text])[0] for text in batch] == expected


# Each route, and the letters that ICU lower-cases by locale: "I" and "İ" (tr, az); "Ì", "Í", "Ĩ", "Į" and "I" or "J"
# before an accent above (lt); "I" + U+0307, which NFC makes "İ".
LOCALE_TEXT = [
    *MIXED_CLEAN,
    "ISTANBUL",
    "ISTANBUL é",
    "Ìx ÍÍ Ĩ Į\u0301 I\u0301 J\u0301",
    "I\u0307 é",
    "İ\x00I é",
    "İ\tI é",
    b"\xc4\xb0\xff",
]

_TOKENS_IN_THIS_LOCALE = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
from keras_vocabsafe import TextVocabLookup
batch = [bytes.fromhex(text) for text in json.loads(sys.argv[1])]
tokens = {}
for form in (None, "NFC"):
    layer = TextVocabLookup(vocabulary=["unused"], standardize="lower", normalization_form=form)
    tokens[str(form)] = [[t.decode("utf-8") for t in row] for row in layer.tokenize(tf.constant(batch)).to_list()]
# Ids too, with a vocabulary of the root locale's tokens: its words are looked up before the Unicode steps.
layer = TextVocabLookup(vocabulary=json.loads(sys.argv[2]), standardize="lower")
ids = {"words_first": layer._looks_words_up_first(), "ids": layer(tf.constant(batch)).to_list()}
print(json.dumps({"icu": tf.strings.lower("I\u00cc", encoding="utf-8").numpy().decode(), "tokens": tokens, **ids}))
"""


@pytest.mark.parametrize("locale, icu_lower_case", [("tr_TR.UTF-8", "\u0131\u00ec"), ("lt_LT.UTF-8", "ii\u0307\u0300")])
def test_unicode_lower_case_does_not_depend_on_the_process_locale(locale, icu_lower_case):
    # ICU lower-cases in the locale of the environment: a layer run under tr_TR made "ISTANBUL é" "\u0131stanbul",
    # though "ISTANBUL" alone (ASCII) gave "istanbul", and another machine gave "istanbul" for both.
    batch = [text if isinstance(text, bytes) else text.encode("utf-8") for text in LOCALE_TEXT]
    # Python's str.lower has no locale: the root locale's lower case.
    root_tokens = [text.decode("utf-8", "replace").lower().split() for text in batch]
    vocabulary = list(dict.fromkeys(token for tokens in root_tokens for token in tokens))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _TOKENS_IN_THIS_LOCALE,
            json.dumps([text.hex() for text in batch]),
            json.dumps(vocabulary),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LANG": locale, "LC_ALL": locale, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["icu"] == icu_lower_case  # TensorFlow's own lower-casing follows that locale.
    for form in (None, "NFC"):
        texts = [text.decode("utf-8", "replace") for text in batch]
        expected = [(unicodedata.normalize(form, text) if form else text).lower().split() for text in texts]
        assert output["tokens"][str(form)] == expected, form
    assert output["words_first"]
    assert output["ids"] == [[2 + vocabulary.index(token) for token in tokens] for tokens in root_tokens]


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="AbZz" + "ΣσςΔΌΆά" + "ÉéÑñß" + "ЖжЯя" + "\x00 .", max_size=12), max_size=6))
def test_unicode_lower_case_keeps_nul_bytes_and_matches_python(batch):
    # Python's str.lower and ICU agree on these letters (final sigma included), so Python is the reference.
    from keras_vocabsafe.text import _lower_utf8

    lowered = _lower_utf8(tf.constant([text.encode("utf-8") for text in batch], tf.string)).numpy().tolist()
    assert [text.decode("utf-8") for text in lowered] == [text.lower() for text in batch]


def test_mixed_valid_text_tokenizes_alike_under_strict_encoding():
    strict = text_layer(encoding_errors="strict")
    expected = unicode_reference_tokens(MIXED_CLEAN, "lower_and_strip_punctuation", None)
    assert tokens_of(strict, MIXED_CLEAN) == expected
    assert tokens_of(strict, MIXED_CLEAN + [MIXED_UNCLEAN[0]]) == expected + [["a", "b", "c", "d", "e"]]
    with pytest.raises(TextEncodingError, match="strict"):
        tokens_of(strict, MIXED_CLEAN + [b"\xed\xa0\x80 surrogate"])


# Ids: words looked up before the Unicode steps -----------------------------------------------------------------
# The reference here is `tokenize` + `token_to_id`: the steps whose tokens the tests above check against tokens
# written by hand, which the ids path no longer takes for these settings.

# Each thing that sends a word, or its whole string, off the cheap steps: capitals past ASCII, Greek final sigma,
# Turkish i (dotted capital, dotless small, "I" + combining dot), sharp s, CJK, emoji, NUL, controls, ASCII
# whitespace, whitespace past ASCII, punctuation, and invalid UTF-8 (a lone byte, a truncated sequence, a surrogate,
# an overlong form).
HOSTILE_PIECES = [
    *"abAB12",
    *"ΣσςΔΌά",
    "\u0130", "\u0131", "I\u0307", "ß", "ẞ", "É", "é", "日本", "🙂",
    *"       ",
    "\t", "\n", "\r\n", "\x0b", "\x00", "\x1c", "\u00a0", "\u3000", "\u2028", "\x85", "'", ".", "«", "—", "¿", "$",
]  # fmt: skip
HOSTILE_BYTES = [b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\xc0\xaf"]


def hostile_batch(size, seed):
    rng = np.random.default_rng(seed)
    batch = []
    for _ in range(size):
        pieces = [
            HOSTILE_BYTES[rng.integers(len(HOSTILE_BYTES))]
            if rng.random() < 0.04
            else HOSTILE_PIECES[rng.integers(len(HOSTILE_PIECES))].encode()
            for _ in range(rng.integers(0, 14))
        ]
        batch.append(b"".join(pieces))
    return batch


def ids_of_tokens(layer, batch):
    """The ids `tokenize` and `token_to_id` give, row by row, padded here to `output_sequence_length`."""
    rows = []
    for row in layer.tokenize(tf.constant(batch)).to_list():
        ids = [int(i) for i in layer.token_to_id(np.array(row, dtype=object))] if row else []
        if layer.output_sequence_length is not None:
            ids = (ids + [0] * layer.output_sequence_length)[: layer.output_sequence_length]
        rows.append(ids)
    return rows


def as_rows(ids):
    return ids.to_list() if isinstance(ids, tf.RaggedTensor) else ids.numpy().tolist()


@pytest.mark.parametrize("output_sequence_length", [None, 5])
@pytest.mark.parametrize("num_oov_indices", [1, 3])
@pytest.mark.parametrize("standardize", ["lower", None, "lower_and_strip_punctuation", "strip_punctuation"])
def test_ids_looked_up_word_first_are_the_ids_of_the_tokens(standardize, num_oov_indices, output_sequence_length):
    batch = hostile_batch(600, seed=[7, num_oov_indices]) + [
        s if isinstance(s, bytes) else s.encode() for s in MIXED_CLEAN + MIXED_UNCLEAN
    ]
    # The vocabulary: tokens of part of the batch, so that most words are found (and some are not).
    tokens = text_layer(standardize=standardize).tokenize(tf.constant(batch[:200])).flat_values.numpy().tolist()
    vocabulary = [token.decode("utf-8") for token in dict.fromkeys(tokens)]
    layer = TextVocabLookup(
        vocabulary=vocabulary[: len(vocabulary) // 2],
        standardize=standardize,
        num_oov_indices=num_oov_indices,
        output_sequence_length=output_sequence_length,
    )
    assert layer._looks_words_up_first()
    expected = ids_of_tokens(layer, batch)
    assert any(row and max(row) >= 1 + num_oov_indices for row in expected)  # Words found ...
    assert any(1 in row for row in expected)  # ... and not.
    text = tf.constant(batch)
    # Eagerly op by op (twice), eagerly traced (from the third call), in tf.function and in tf.data.
    for _ in range(3):
        assert as_rows(layer(text)) == expected
    assert as_rows(tf.function(layer.__call__)(text)) == expected
    dataset = tf.data.Dataset.from_tensor_slices(text).batch(len(batch)).map(layer)
    assert as_rows(next(iter(dataset))) == expected
    # One string at a time, and none.
    for string in batch[-len(MIXED_CLEAN + MIXED_UNCLEAN) :]:
        assert as_rows(layer(tf.constant([string]))) == ids_of_tokens(layer, [string]), string
    assert as_rows(layer(tf.constant([], tf.string))) == []


def test_words_are_looked_up_first_only_where_each_token_is_its_own_token():
    # "ΟΔΌΣ" tokenizes to "οδός": a word "ΟΔΌΣ" found in the vocabulary as it is would take the wrong id.
    layer = TextVocabLookup(vocabulary=["ΟΔΌΣ", "οδός"], standardize="lower")
    assert not layer._looks_words_up_first()
    assert layer(tf.constant(["ΟΔΌΣ οδός"])).to_list() == [[3, 3]]
    # A token no word can equal does not count: an ASCII capital (words are lower-cased first), a space.
    layer.set_vocabulary(["[CLS]", "new york", "οδός"])
    assert layer._looks_words_up_first()
    assert layer(tf.constant(["ΟΔΌΣ [cls] [CLS] new york"])).to_list() == [[4, 1, 1, 1, 1]]
    layer.set_vocabulary(["a\u3000b", "a", "b"])  # Split apart: not its own token.
    assert not layer._looks_words_up_first()
    assert layer(tf.constant(["a\u3000b É"])).to_list() == [[3, 4, 1]]
    # Without lower-casing, a capital is its own token; settings that change more never look words up first.
    assert TextVocabLookup(vocabulary=["ΟΔΌΣ"], standardize=None)._looks_words_up_first()
    # Stripping punctuation: a token that holds some is no token of its own ("c++" tokenizes to "c").
    layer = TextVocabLookup(vocabulary=["c", "ok"], standardize="lower_and_strip_punctuation")
    assert layer._looks_words_up_first()
    assert layer(tf.constant(["C++ ok. «ok» — ...ok"])).to_list() == [[2, 3, 3, 3]]
    layer.set_vocabulary(["c++", "c"])
    assert not layer._looks_words_up_first()
    assert layer(tf.constant(["C++ c"])).to_list() == [[3, 3]]
    for settings in (
        {"standardize": "case_fold"},
        {"normalization_form": "NFC"},
        {"ngrams": 2},
        {"encoding_errors": "strict"},
    ):
        assert not TextVocabLookup(vocabulary=["a"], **settings)._looks_words_up_first(), settings


def test_a_word_not_found_is_looked_up_once_and_each_string_keeps_its_own_route():
    # Words not found are lower-cased and looked up once each, however often they occur; a string that holds one
    # which is not clean (a no-break space, a NUL) is tokenized whole, and the others are not.
    layer = TextVocabLookup(vocabulary=["a", "b", "é"], standardize="lower")  # ids: a 2, b 3, é 4; OOV 1
    batch = ["Zed É a É", "a\u00a0b É", "É\x00 b", "É zed"]
    expected = [[1, 4, 2, 4], [2, 3, 4], [1, 3], [4, 1]]
    assert layer(tf.constant(batch)).to_list() == expected
    assert tf.function(layer.__call__)(tf.constant(batch)).to_list() == expected


def test_words_dropped_by_punctuation_stripping_are_told_from_id_zero():
    # Without a mask token (so ragged ids), id 0 is the OOV id: a word not found keeps it, and only the words that
    # stripping left empty are dropped, in every part of the batch (ASCII, ASCII with a tab, non-ASCII).
    layer = TextVocabLookup(vocabulary=["a", "é"], mask_token=None)
    assert layer._looks_words_up_first()  # ids: OOV 0, a 1, é 2
    batch = ["Zed, a - ...", 'zed,\t" a "', "É, zed ¿ a —", "—", "zed"]
    expected = [[0, 1], [0, 1], [2, 0, 1], [], [0]]
    text = tf.constant(batch)
    assert layer(text).to_list() == expected
    assert tf.function(layer.__call__)(text).to_list() == expected
    assert layer(text).to_list() == ids_of_tokens(layer, batch)


# Splitting -------------------------------------------------------------------------------------------


def test_whitespace_split_splits_on_unicode_whitespace():
    layer = text_layer(standardize=None)
    text = "a\u3000b\u00a0c\td  e\n f\u2028g\u202fh\u0085i"
    assert tokens_of(layer, [text]) == [["a", "b", "c", "d", "e", "f", "g", "h", "i"]]


def test_whitespace_split_keeps_words_of_every_script_whole():
    layer = text_layer(standardize=None)
    assert tokens_of(layer, ["naïve 日本語 مرحبا 🙂🙂"]) == [["naïve", "日本語", "مرحبا", "🙂🙂"]]


def test_unicode_script_split_splits_where_the_script_changes():
    layer = text_layer(standardize=None, split="unicode_script")
    assert tokens_of(layer, ["東京カメラはTokyo\u3000" + "مرحبا" + "abc 123"]) == [
        ["東京", "カメラ", "は", "Tokyo", "مرحبا", "abc", "123"]
    ]


def test_character_split_gives_one_token_per_character_without_whitespace():
    layer = text_layer(standardize=None, split="character")
    assert tokens_of(layer, ["日本 é🙂\u3000a"]) == [["日", "本", "é", "🙂", "a"]]


def test_character_split_drops_the_whitespace_the_whitespace_split_splits_on():
    # Every character tf.strings.split and the Unicode steps split on, \v (which RE2's \s leaves out) included.
    whitespace = "\t\n\v\f\r \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
    characters = text_layer(standardize=None, split="character")
    words = text_layer(standardize=None)
    text = "a" + "b".join(whitespace) + "c"
    assert tokens_of(characters, [text]) == [["a", *"b" * (len(whitespace) - 1), "c"]]
    assert tokens_of(words, [text]) == [["a", *"b" * (len(whitespace) - 1), "c"]]


def test_regex_split_splits_on_the_pattern_and_drops_empty_pieces():
    layer = text_layer(standardize=None, split="regex", split_pattern=r"[,;|]")
    assert tokens_of(layer, ["a,b;;c|日本 語,", ";"]) == [["a", "b", "c", "日本 語"], []]


def test_regex_split_keeps_bytes_the_pattern_does_not_match():
    layer = text_layer(standardize=None, split="regex", split_pattern=r"\s*/\s*")
    assert tokens_of(layer, ["x\u00ffy / ü/\u00fe"]) == [["x\u00ffy", "ü", "\u00fe"]]


def test_registered_callable_splits_and_empty_pieces_are_dropped():
    layer = text_layer(standardize=None, split=split_on_dash)
    assert tokens_of(layer, ["state-of--the-art", "-"]) == [["state", "of", "the", "art"], []]


def test_wordpiece_split_uses_the_layer_vocabulary_longest_match_first():
    vocabulary = ["play", "##ing", "##ed", "un", "##play", "##able", "日", "##本", "##語"]
    layer = text_layer(vocabulary=vocabulary, split="wordpiece")
    assert tokens_of(layer, ["Playing unplayable played 日本語 xyz"]) == [
        ["play", "##ing", "un", "##play", "##able", "play", "##ed", "日", "##本", "##語", "xyz"]
    ]
    ids = layer.token_to_id(["play", "##ing", "xyz"])
    assert ids.tolist() == [2, 3, 1]  # xyz cannot be split into known pieces: the OOV row.


def test_wordpiece_split_splits_words_on_split_pattern():
    layer = text_layer(vocabulary=["a", "##b", "c"], split="wordpiece", split_pattern=r"[,\s]+", standardize=None)
    assert tokens_of(layer, ["ab,c c"]) == [["a", "##b", "c", "c"]]


def test_ngrams_up_to_n_follow_the_unigrams_of_each_row():
    layer = text_layer(ngrams=2)
    assert tokens_of(layer, ["A b c", "solo", ""]) == [["a", "b", "c", "a b", "b c"], ["solo"], []]


def test_ngrams_of_chosen_widths():
    layer = text_layer(ngrams=(2, 3))
    assert tokens_of(layer, ["a b c"]) == [["a b", "b c", "a b c"]]


@pytest.mark.parametrize(
    "split", [{"split": "regex", "split_pattern": ","}, {"split": split_on_dash, "split_pattern": None}]
)
def test_ngrams_refuse_tokens_holding_a_space_which_would_collide(split):
    # N-grams join tokens with a space, so "new york" + "city" and "new" + "york city" made one bigram, silently.
    layer = TextVocabLookup(vocabulary=["new york city"], standardize=None, ngrams=2, **split)
    separator = "," if split["split"] == "regex" else "-"
    spaced = tf.constant([f"new york{separator}city"])
    for _ in range(4):  # Op by op, then traced (from the third eager call).
        with pytest.raises(TextInputError, match="new york"):
            layer(spaced)
    assert layer(tf.constant([f"new{separator}york"])).to_list() == [[1, 1, 1]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="left a space in a token"):
        tf.function(layer.__call__)(spaced)
    with pytest.raises(tf.errors.InvalidArgumentError, match="left a space in a token"):
        list(tf.data.Dataset.from_tensor_slices(spaced).batch(1).map(layer))
    with pytest.raises(TextInputError, match=r"ngrams=\(1, 2\).*'new york'"):
        TextVocabLookup(standardize=None, ngrams=2, **split).adapt(tf.constant([f"a{separator}new york"]))


def test_ngrams_of_a_regex_split_that_splits_on_spaces_too_are_joined_with_a_space():
    layer = text_layer(standardize=None, split="regex", split_pattern="[, ]", ngrams=2)
    assert tokens_of(layer, ["new york,city"]) == [["new", "york", "city", "new york", "york city"]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "regex"}, "needs `split_pattern`"),
        ({"split": "regex", "split_pattern": "(unclosed"}, "not a valid RE2"),
        ({"split_pattern": ","}, "split='regex'"),
        ({"split": "sentences"}, "split='sentences'"),
        ({"split": "wordpiece", "ngrams": 2}, "cannot be combined"),
        ({"ngrams": 0}, "ngrams=0"),
        ({"normalization_form": "NFX"}, "normalization_form='NFX'"),
        ({"encoding_errors": "ignore"}, "encoding_errors='ignore'"),
        ({"output_sequence_length": 0}, "output_sequence_length=0"),
        ({"output_sequence_length": 4, "mask_token": None}, "needs mask_token=''"),
        ({"mask_token": "[PAD]"}, "mask_token='\\[PAD\\]'"),
        ({"reserved_tokens": ["[UNK]"]}, "reserved_tokens"),
        ({"vocabulary_dtype": "int64"}, "vocabulary_dtype='int64'"),
        ({"return_ids": "yes"}, "return_ids='yes'"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        TextVocabEmbedding(4, **kwargs)


# Outputs and masks -------------------------------------------------------------------------------------

VOCABULARY = ["the", "cat", "sat", "dog", "日本", "مرحبا", "🙂"]
TEXTS = ["The cat sat.", "dog 🙂 zebra the cat", "", "   \u3000 ", "日本 مرحبا"]
# By hand: ids are 0 mask, 1 OOV, then VOCABULARY from 2.
EXPECTED_IDS = [[2, 3, 4], [5, 8, 1, 2, 3], [], [], [6, 7]]


def test_ragged_output_has_one_row_of_vectors_per_string():
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY)
    vectors = layer(tf.constant(TEXTS))
    assert isinstance(vectors, tf.RaggedTensor)
    assert vectors.row_lengths().numpy().tolist() == [3, 5, 0, 0, 2]
    matrix = layer.embeddings.numpy()
    for row, ids in zip(vectors.to_list(), EXPECTED_IDS):
        np.testing.assert_array_equal(np.array(row).reshape(-1, 3), matrix[ids].reshape(-1, 3))


def test_return_ids_gives_the_ids_of_the_tokens():
    ids, vectors = TextVocabEmbedding(3, vocabulary=VOCABULARY, return_ids=True)(tf.constant(TEXTS))
    assert ids.to_list() == EXPECTED_IDS
    assert vectors.row_lengths().numpy().tolist() == [len(row) for row in EXPECTED_IDS]


def test_padded_output_truncates_pads_with_the_mask_row_and_masks_padding():
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY, output_sequence_length=4, return_ids=True)
    ids, vectors = layer(tf.constant(TEXTS))
    assert ids.numpy().tolist() == [[2, 3, 4, 0], [5, 8, 1, 2], [0, 0, 0, 0], [0, 0, 0, 0], [6, 7, 0, 0]]
    np.testing.assert_array_equal(vectors.numpy(), layer.embeddings.numpy()[ids.numpy()])
    expected_mask = [[True, True, True, False], [True] * 4, [False] * 4, [False] * 4, [True, True, False, False]]
    assert vectors._keras_mask.numpy().tolist() == expected_mask
    ids_mask, vectors_mask = layer.compute_mask(tf.constant(TEXTS))
    assert ids_mask.numpy().tolist() == vectors_mask.numpy().tolist() == expected_mask


@pytest.mark.parametrize("shape", [(5,), (5, 1)])
def test_batch_of_strings_and_batch_of_one_string_columns_agree(shape):
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY, output_sequence_length=6)
    expected = layer(tf.constant(TEXTS)).numpy()
    np.testing.assert_array_equal(layer(tf.reshape(tf.constant(TEXTS), shape)).numpy(), expected)
    np.testing.assert_array_equal(layer(np.array(TEXTS, dtype=object).reshape(shape)).numpy(), expected)


def test_scalar_input_gives_one_sequence_without_batch_axis():
    ragged = TextVocabEmbedding(3, vocabulary=VOCABULARY)
    assert ragged("the cat").shape == (2, 3)
    assert ragged("").shape == (0, 3)
    padded = TextVocabEmbedding(3, vocabulary=VOCABULARY, output_sequence_length=4)
    assert padded("the cat").shape == (4, 3)
    assert padded("the cat")._keras_mask.numpy().tolist() == [True, True, False, False]


def test_mask_reaches_global_average_pooling_in_a_functional_model():
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY, output_sequence_length=8)
    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, keras.layers.GlobalAveragePooling1D()(layer(text)))
    matrix = layer.embeddings.numpy()
    expected = [matrix[[2, 3, 4]].mean(0), matrix[[5, 8, 1, 2, 3]].mean(0), matrix[[6, 7]].mean(0)]
    inputs = tf.constant([TEXTS[0], TEXTS[1], TEXTS[4]])
    np.testing.assert_allclose(model(inputs).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected, rtol=1e-6)


def test_mask_reaches_an_lstm_so_padding_does_not_change_its_output():
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY, output_sequence_length=10)
    lstm = keras.layers.LSTM(2)
    text = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(text, lstm(layer(text)))
    unpadded = layer.embeddings.numpy()[[5, 8, 1, 2, 3]][None]
    np.testing.assert_allclose(model.predict(tf.constant([[TEXTS[1]]]), verbose=0), lstm(unpadded), rtol=1e-5)


def test_ragged_output_reaches_pooling_in_a_functional_model():
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY)
    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, keras.layers.GlobalAveragePooling1D()(layer(text)))
    matrix = layer.embeddings.numpy()
    np.testing.assert_allclose(
        model(tf.constant([TEXTS[0], TEXTS[4]])).numpy(), [matrix[[2, 3, 4]].mean(0), matrix[[6, 7]].mean(0)]
    )


def test_a_model_trains_from_raw_strings():
    layer = TextVocabEmbedding(4, vocabulary=VOCABULARY, output_sequence_length=5)
    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(text))))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    before = layer.embeddings.numpy().copy()
    model.fit(tf.constant(["the cat", "dog sat"]), np.array([1.0, -1.0]), epochs=2, verbose=0)
    changed = np.flatnonzero(np.any(layer.embeddings.numpy() != before, axis=1)).tolist()
    assert changed == [2, 3, 4, 5]  # Only the rows of the words seen; the mask and OOV rows stay.


def test_get_vectors_looks_up_tokens_without_tokenizing_them():
    layer = TextVocabEmbedding(3, vocabulary=["play", "##ing", "a b"], split="wordpiece")
    vectors = layer.get_vectors(["##ing", "a b", "Play"])
    np.testing.assert_array_equal(vectors, layer.embeddings.numpy()[[3, 4, 1]])


@pytest.mark.saving
def test_a_layer_shared_by_two_inputs_masks_each_and_reloads(tmp_path):
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY, output_sequence_length=5)
    first, second = keras.Input(shape=(), dtype="string"), keras.Input(shape=(), dtype="string")
    pooling = keras.layers.GlobalAveragePooling1D()
    model = keras.Model([first, second], keras.layers.Concatenate()([pooling(layer(first)), pooling(layer(second))]))
    inputs = [tf.constant([TEXTS[0]]), tf.constant([TEXTS[4]])]
    matrix = layer.embeddings.numpy()
    expected = np.concatenate([matrix[[2, 3, 4]].mean(0), matrix[[6, 7]].mean(0)])[None]
    np.testing.assert_allclose(model(inputs).numpy(), expected, rtol=1e-6)
    model.save(tmp_path / "model.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "model.keras")(inputs).numpy(), expected, rtol=1e-6)


# tf.data ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output_sequence_length", [None, 6])
def test_tf_data_unbatched_batched_and_direct_calls_agree(output_sequence_length):
    layer = TextVocabEmbedding(3, vocabulary=VOCABULARY, output_sequence_length=output_sequence_length)
    direct = layer(tf.constant(TEXTS))
    direct = direct.to_list() if output_sequence_length is None else direct.numpy().tolist()
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS)
    unbatched = [np.asarray(element).tolist() for element in dataset.map(layer)]
    batched = []
    for batch in dataset.batch(2).map(layer):
        batched.extend(batch.to_list() if output_sequence_length is None else batch.numpy().tolist())
    assert unbatched == direct
    assert batched == direct


# Adapting -----------------------------------------------------------------------------------------------

CORPUS = ["The cat sat.", "the CAT, the dog!", "Dog? 日本!", ""]
# By hand, after lower case and punctuation stripping: the 4, cat 2, dog 2, sat 1, 日本 1; ties by bytes.
ADAPTED = ["", "[UNK]", "the", "cat", "dog", "sat", "日本"]


@pytest.mark.parametrize(
    "make_data",
    [
        lambda: CORPUS,
        lambda: np.array(CORPUS),
        lambda: np.array(CORPUS, dtype=object).reshape(-1, 1),
        lambda: tf.constant(CORPUS),
        lambda: tf.data.Dataset.from_tensor_slices(CORPUS),
        lambda: tf.data.Dataset.from_tensor_slices(CORPUS).batch(3),
        lambda: iter([CORPUS[:2], CORPUS[2:]]),
    ],
    ids=["list", "numpy", "numpy-column", "tensor", "dataset", "batched-dataset", "iterable"],
)
def test_adapt_tokenizes_raw_text_as_call_does(make_data):
    layer = TextVocabEmbedding(3)
    layer.adapt(make_data())
    assert layer.get_vocabulary() == ADAPTED
    ids, _ = TextVocabEmbedding.from_config({**layer.get_config(), "return_ids": True})(tf.constant(CORPUS))
    assert 1 not in ids.flat_values.numpy()  # Every training token is in the vocabulary.


def test_adapt_counts_ngrams_and_honours_max_tokens_and_reserved_tokens():
    layer = TextVocabEmbedding(3, ngrams=2, max_tokens=6, reserved_tokens=["[CLS]"])
    layer.adapt(["a b", "a b", "b c"])
    # 1-grams a 2, b 3, c 1; 2-grams "a b" 2, "b c" 1. Three ids are left after mask, OOV and [CLS].
    assert layer.get_vocabulary() == ["", "[UNK]", "[CLS]", "b", "a", "a b"]


def test_adapt_on_text_without_tokens_says_why():
    layer = TextVocabEmbedding(3)
    with pytest.raises(ValueError, match="no tokens to keep"):
        layer.adapt(["", "  ", "!?"])


def test_adapt_refuses_pairs_of_text_and_labels_with_the_fix():
    dataset = tf.data.Dataset.from_tensor_slices((CORPUS, [0, 1, 0, 1]))
    with pytest.raises(TextInputError, match=r"dataset\.map"):
        TextVocabEmbedding(3).adapt(dataset)


def test_layer_without_vocabulary_says_to_adapt():
    with pytest.raises(NotAdaptedError, match="adapt"):
        TextVocabEmbedding(3)(tf.constant(["text"]))


def test_layers_with_the_same_settings_share_one_traced_tokenizer():
    first, second = TextVocabEmbedding(3, name="first"), TextVocabEmbedding(3, name="second")
    first.adapt(CORPUS)
    second.adapt(CORPUS[::-1])
    count = first._count_function()
    assert second._count_function() is count
    assert count.experimental_get_tracing_count() == 1


def test_wordpiece_adapt_learns_subwords_that_cover_the_corpus():
    corpus = ["playing played plays", "the players play", "unplayable display"] * 5
    layer = TextVocabEmbedding(3, split="wordpiece", max_tokens=60, reserved_tokens=["[CLS]", "[SEP]"])
    layer.adapt(corpus)
    vocabulary = layer.get_vocabulary()
    assert vocabulary[:4] == ["", "[UNK]", "[CLS]", "[SEP]"]
    assert len(vocabulary) <= 60
    assert {"p", "##s", "##y"} <= set(vocabulary)  # Every character, alone and as a suffix.
    assert "play" in vocabulary
    ids, _ = TextVocabEmbedding.from_config({**layer.get_config(), "return_ids": True})(tf.constant(corpus))
    assert 1 not in ids.flat_values.numpy()


def test_wordpiece_adapt_learns_characters_of_long_words_and_past_a_thousand_characters():
    # The learner's defaults dropped words of more than 50 characters and every character past the 1,000 most
    # common, without a word: here "z" and 200 of the CJK characters would have no id.
    long_word = "q" * 51 + "z"
    characters = [chr(0x4E00 + i) for i in range(1200)]
    corpus = [long_word, " ".join(characters)]
    layer = TextVocabEmbedding(3, split="wordpiece", max_tokens=5000, standardize=None, return_ids=True)
    layer.adapt(corpus)
    vocabulary = set(layer.get_vocabulary())
    assert {"q", "z", "##z"} <= vocabulary
    assert set(characters) <= vocabulary
    ids, _ = layer(tf.constant(corpus))
    assert 1 not in ids.flat_values.numpy().tolist()


def test_wordpiece_adapt_needs_max_tokens():
    with pytest.raises(ConfigurationError, match="max_tokens"):
        TextVocabEmbedding(3, split="wordpiece").adapt(["text"])


def test_wordpiece_vocabulary_size_follows_max_tokens():
    words = [f"w{chr(97 + i)}{chr(97 + j)}" for i in range(26) for j in range(26)]
    layer = TextVocabEmbedding(3, split="wordpiece", max_tokens=40)
    layer.adapt([" ".join(words)] * 3)
    assert layer.vocabulary_size() == 40


# Bad input -----------------------------------------------------------------------------------------------


def test_invalid_utf8_is_replaced_by_default():
    layer = TextVocabEmbedding(3, vocabulary=["caf\ufffd", "ok"], standardize=None)
    assert tokens_of(layer, [b"caf\xff ok \xc3"]) == [["caf\ufffd", "ok", "\ufffd"]]
    ids, _ = TextVocabEmbedding(3, vocabulary=["caf\ufffd"], return_ids=True)(tf.constant([b"caf\xff"]))
    assert ids.to_list() == [[2]]


def test_strict_encoding_raises_a_typed_error_naming_the_policy():
    layer = TextVocabEmbedding(3, vocabulary=["ok"], encoding_errors="strict")
    with pytest.raises(TextEncodingError, match="encoding_errors='strict'") as raised:
        layer(tf.constant([b"ok", b"bad \xff byte"]))
    assert isinstance(raised.value, UnicodeError)
    assert "bad \ufffd byte" in str(raised.value)
    np.testing.assert_array_equal(layer(tf.constant(["ok ok"])).flat_values.numpy().shape, (2, 3))


def test_strict_encoding_error_is_the_same_once_eager_calls_are_traced():
    # Eager calls run op by op twice, then as one traced function, whose assertion becomes the same typed error.
    layer = TextVocabEmbedding(3, vocabulary=["ok"], encoding_errors="strict")
    batch = tf.constant([b"ok", b"bad \xff byte]", b"fine", b"x\xc3( y"])
    messages = []
    for _ in range(4):
        with pytest.raises(TextEncodingError, match="encoding_errors='strict'") as raised:
            layer(batch)
        messages.append(str(raised.value).split("\n\nArguments received")[0])
    assert layer._traced_ids.function is not None
    assert len(set(messages)) == 1, messages
    assert "(invalid bytes shown as U+FFFD): ['bad \ufffd byte]', 'x\ufffd( y']" in messages[-1]
    np.testing.assert_array_equal(layer(tf.constant(["ok ok"])).flat_values.numpy().shape, (2, 3))


def test_strict_encoding_in_adapt_raises_a_typed_error():
    layer = TextVocabEmbedding(3, encoding_errors="strict")
    with pytest.raises(TextEncodingError, match="encoding_errors='replace'"):
        layer.adapt([b"fine", b"\xc3("])


def test_strict_encoding_in_tf_data_names_the_policy():
    layer = TextVocabEmbedding(3, vocabulary=["ok"], encoding_errors="strict")
    dataset = tf.data.Dataset.from_tensor_slices([b"ok", b"\xff"]).batch(2).map(layer)
    # Inside a graph, TensorFlow raises the error and escapes the quotes of the layer's message.
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"encoding_errors=\\'strict\\' and received text"):
        list(dataset)


@pytest.mark.parametrize(
    ("inputs", "error", "match"),
    [
        (tf.constant([["a", "b"]]), TextInputError, "shape \\(1, 2\\)"),
        (tf.constant([[["a"]]]), TextInputError, "shape \\(1, 1, 1\\)"),
        (tf.ragged.constant([["a"], ["b", "c"]]), TextInputError, "ragged"),
        (tf.constant([1, 2]), KeyDtypeError, "int32"),
    ],
)
def test_inputs_that_are_not_one_string_per_example_are_refused(inputs, error, match):
    with pytest.raises(error, match=match):
        TextVocabEmbedding(3, vocabulary=["a"])(inputs)


# Config, saving and serving --------------------------------------------------------------------------------

SETTINGS = {
    "default": {},
    "tensorflow-text": {"standardize": "case_fold", "normalization_form": "NFKC", "split": "unicode_script"},
    "character-ngrams": {"split": "character", "ngrams": (1, 2), "encoding_errors": "strict"},
    "callables-regex": {"standardize": digits_to_zero, "split": "regex", "split_pattern": r"[\s,]+"},
    "wordpiece": {"split": "wordpiece", "max_tokens": 80, "reserved_tokens": ["[CLS]"]},
}
TRAIN_TEXT = ["Straße 42, ÉCOLE ﬁne", "日本語テキスト «مرحبا» 🙂", "playing played unplayable", "a,b 7"] * 3
PROBE_TEXT = ["STRASSE 17 école", "日本 مرحبا 🙂🙂 zebra", "", "replaying"]


def adapted(settings, **kwargs):
    layer = TextVocabEmbedding(4, **settings, **kwargs)
    layer.adapt(TRAIN_TEXT)
    return layer


@pytest.mark.parametrize("name", SETTINGS)
def test_config_round_trip_tokenizes_and_embeds_alike(name):
    layer = adapted(SETTINGS[name], return_ids=True)
    ids, vectors = layer(tf.constant(PROBE_TEXT))
    config = json.loads(json.dumps(layer.get_config()))
    clone = TextVocabEmbedding.from_config(config)
    clone.build()
    clone.set_weights(layer.get_weights())
    clone_ids, clone_vectors = clone(tf.constant(PROBE_TEXT))
    assert clone_ids.to_list() == ids.to_list()
    np.testing.assert_array_equal(clone_vectors.flat_values.numpy(), vectors.flat_values.numpy())
    assert {key: config[key] for key in ("split", "normalization_form", "encoding_errors")} == {
        "split": layer.get_config()["split"],
        "normalization_form": SETTINGS[name].get("normalization_form"),
        "encoding_errors": SETTINGS[name].get("encoding_errors", "replace"),
    }


def ids_and_vectors_model(layer):
    text = keras.Input(shape=(), dtype="string", name="text")
    ids, vectors = layer(text)
    return keras.Model(text, {"ids": ids, "vectors": vectors})


@pytest.mark.saving
@pytest.mark.slow
@pytest.mark.parametrize("name", SETTINGS)
def test_keras_file_reloads_with_identical_ids_and_vectors(name, tmp_path):
    model = ids_and_vectors_model(adapted(SETTINGS[name], return_ids=True, output_sequence_length=6, name="words"))
    before = model.predict(tf.constant(PROBE_TEXT), verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    after = reloaded.predict(tf.constant(PROBE_TEXT), verbose=0)
    np.testing.assert_array_equal(after["ids"], before["ids"])
    np.testing.assert_array_equal(after["vectors"], before["vectors"])
    assert reloaded.get_layer("words").get_vocabulary() == model.get_layer("words").get_vocabulary()


@pytest.mark.saving
def test_reloaded_padded_model_keeps_its_mask(tmp_path):
    layer = adapted({}, output_sequence_length=8, name="words")
    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, keras.layers.GlobalAveragePooling1D()(layer(text)))
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    probe = tf.constant(PROBE_TEXT[:2])
    vectors = reloaded.get_layer("words")(probe)
    mask = vectors._keras_mask.numpy()
    expected = (vectors.numpy() * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(reloaded.predict(probe, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(probe, verbose=0), expected, rtol=1e-6)


def vectors_model(layer):
    text = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(text, keras.layers.Identity(name="vectors")(layer(text)))


@pytest.mark.saving
@pytest.mark.slow
def test_core_choices_export_serves_raw_text_with_tensorflow_alone(tmp_path):
    settings = {"standardize": "lower_and_strip_punctuation", "ngrams": 2, "encoding_errors": "strict"}
    model = vectors_model(adapted(settings, output_sequence_length=6, name="words"))
    probe = tf.constant(PROBE_TEXT)
    path = export_for_serving(model, tmp_path / "serving")
    assert audit_ops(path).non_core == {}
    served, signature = serve_in_fresh_process(path, probe, tmp_path)
    assert signature == {"input": "text", "input_dtype": "string", "output": "vectors"}
    np.testing.assert_array_equal(served, model.predict(probe, verbose=0))


@pytest.mark.saving
@pytest.mark.slow
def test_an_export_lower_cases_alike_where_it_is_served_under_a_turkish_locale(tmp_path):
    # The export probes ICU where it runs: this one is written under this process's locale, served under tr_TR.
    vocabulary = ["istanbul", "i\u0307stanbul", "\u0131stanbul", "é"]  # root lower case, and tr's forms of the first
    layer = TextVocabEmbedding(3, vocabulary=vocabulary, standardize="lower", output_sequence_length=3)
    model = vectors_model(layer)
    probe = tf.constant(["ISTANBUL é", "İSTANBUL é", "ISTANBUL", "Istanbul\tİstanbul"])
    expected = model.predict(probe, verbose=0)
    ids = layer.lookup()(probe).numpy()
    first = ["istanbul", "i\u0307stanbul", "istanbul", "istanbul"]
    assert ids[:, 0].tolist() == [layer.token_to_id(token) for token in first]
    assert ids[3, 1] == layer.token_to_id("i\u0307stanbul")
    path = export_for_serving(model, tmp_path / "serving")
    turkish = {"LANG": "tr_TR.UTF-8", "LC_ALL": "tr_TR.UTF-8"}
    served, _ = serve_in_fresh_process(path, probe, tmp_path, env=turkish)
    np.testing.assert_array_equal(served, expected)


_SERVE_WITH_TEXT_OPS = r"""
import glob, importlib.util, json, os, sys
# TensorFlow and tensorflow-text's ops only: block Keras and keras-vocabsafe. `import tensorflow_text` itself
# needs Keras (its Python package defines tf.keras layers), so its op libraries are loaded directly.
for name in ("keras", "keras_vocabsafe"):
    sys.modules[name] = None
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

package = importlib.util.find_spec("tensorflow_text").submodule_search_locations[0]
for library in sorted(glob.glob(os.path.join(package, "python", "ops", "*.so"))):
    tf.load_op_library(library)
export_dir, inputs_path, outputs_path = sys.argv[1:4]
text = tf.io.parse_tensor(tf.io.read_file(inputs_path), tf.string)
serve = tf.saved_model.load(export_dir).signatures["serving_default"]
tf.io.write_file(outputs_path, tf.io.serialize_tensor(serve(text=text)["vectors"]))
print(json.dumps([name in sys.modules and sys.modules[name] is not None for name in ("keras", "tensorflow_text")]))
"""


def serve_with_tensorflow_text(export_dir, text, tmp_path):
    inputs_path, outputs_path = tmp_path / "inputs.pb", tmp_path / "outputs.pb"
    tf.io.write_file(str(inputs_path), tf.io.serialize_tensor(tf.constant(text)))
    result = subprocess.run(
        [sys.executable, "-c", _SERVE_WITH_TEXT_OPS, str(export_dir), str(inputs_path), str(outputs_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, False]  # Neither Keras nor tf_text.
    return tf.io.parse_tensor(tf.io.read_file(str(outputs_path)), tf.float32).numpy()


@pytest.mark.saving
@pytest.mark.slow
@pytest.mark.parametrize("name", ["tensorflow-text", "wordpiece"])
def test_tensorflow_text_choices_export_serves_raw_text_with_tensorflow_text(name, tmp_path):
    model = vectors_model(adapted(SETTINGS[name], output_sequence_length=6, name="words"))
    path = export_for_serving(model, tmp_path / "serving")
    served = serve_with_tensorflow_text(path, PROBE_TEXT, tmp_path)
    np.testing.assert_array_equal(served, model.predict(tf.constant(PROBE_TEXT), verbose=0))


@pytest.mark.saving
@pytest.mark.slow
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"standardize": "case_fold"}, {"CaseFoldUTF8"}),
        ({"normalization_form": "NFKC"}, {"NormalizeUTF8"}),
        ({"split": "unicode_script"}, {"UnicodeScriptTokenizeWithOffsets"}),
        ({"split": "wordpiece", "max_tokens": 80}, {"WordpieceTokenizeWithOffsets"}),
    ],
    ids=["case_fold", "normalize", "unicode_script", "wordpiece"],
)
def test_exported_graph_needs_tensorflow_text_only_for_its_choices(settings, expected, tmp_path):
    model = vectors_model(adapted(settings, output_sequence_length=4, name="words"))
    path = export_for_serving(model, tmp_path / "serving", vocabulary_signatures=False)
    assert audit_ops(path).non_core == dict.fromkeys(expected, "tensorflow_text")


@pytest.mark.saving
@pytest.mark.slow
def test_a_core_only_export_refuses_a_tensorflow_text_choice_and_names_the_setting(tmp_path):
    model = vectors_model(adapted({"normalization_form": "NFKC"}, output_sequence_length=4, name="words"))
    with pytest.raises(UnsupportedOpsError) as raised:
        export_for_serving(model, tmp_path / "serving", target="core")
    message = str(raised.value)
    assert "NormalizeUTF8" in message
    assert "layer 'words' (TextVocabEmbedding), setting normalization_form='NFKC'" in message
    assert not (tmp_path / "serving").exists() or not any((tmp_path / "serving").iterdir())


@pytest.mark.saving
@pytest.mark.slow
def test_every_other_choice_exports_core_tensorflow_ops_only(tmp_path):
    core_choices = [
        {"standardize": None, "split": "character", "encoding_errors": "strict"},
        {"standardize": "lower", "split": "regex", "split_pattern": "[, ]", "ngrams": 3},
        {"standardize": "strip_punctuation", "split": "whitespace", "return_ids": True},
    ]
    text = keras.Input(shape=(1,), dtype="string", name="text")
    outputs = {}
    for index, settings in enumerate(core_choices):
        layer = adapted(settings, output_sequence_length=4, name=f"words{index}")
        outputs[f"vectors{index}"] = layer(text)[-1] if settings.get("return_ids") else layer(text)
    ragged_layer = adapted({}, name="ragged_words")
    outputs["pooled"] = keras.layers.GlobalAveragePooling1D()(ragged_layer(keras.layers.Reshape(())(text)))
    path = export_for_serving(keras.Model(text, outputs), tmp_path / "serving")
    assert audit_ops(path).non_core == {}


# update_vocabulary on raw text ----------------------------------------------------------------------------------------


def test_update_vocabulary_learns_new_tokens_from_raw_text_and_keeps_rows():
    layer = TextVocabEmbedding(4, standardize="lower_and_strip_punctuation", name="words")
    layer.adapt(["The cat sat.", "the cat!"])
    layer.build()
    before = {token: layer.get_vectors(tf.constant(token)) for token in ("the", "cat", "sat")}
    report = layer.update_vocabulary(data=["A Dog, the DOG and the cat.", "[UNK] dog"], merge=True)
    vocabulary = layer.get_vocabulary()
    # Old tokens keep their ids; "dog" (3 times) and "a", "and" (once each) follow, tokenized as adapt would.
    assert vocabulary == ["", "[UNK]", "cat", "the", "sat", "dog", "a", "and", "unk"]
    assert report.added == 4 and report.kept == 3
    for token, row in before.items():
        np.testing.assert_array_equal(layer.get_vectors(tf.constant(token)), row)


def test_update_vocabulary_on_raw_text_without_merge_re_adapts():
    layer = TextVocabEmbedding(4, standardize="lower", name="words")
    layer.adapt(["b b b a"])
    layer.build()
    row_b = layer.get_vectors(tf.constant("b"))
    layer.update_vocabulary(data=["C c B"])
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "b"]
    np.testing.assert_array_equal(layer.get_vectors(tf.constant("b")), row_b)


@pytest.mark.parametrize("split", ["whitespace", "wordpiece"])
def test_eager_calls_after_a_vocabulary_change_use_the_new_vocabulary(split):
    # An eager call runs the text steps as one traced function, which looks up in the layer's table: a new
    # vocabulary must reach it (WordPiece reads the table to split words, too).
    layer = TextVocabEmbedding(4, standardize="lower", split=split, max_tokens=40, return_ids=True)
    layer.adapt(["old words only"] * 3)
    layer.build()
    for _ in range(3):  # The first eager calls run op by op; later ones trace.
        ids, _ = layer(tf.constant(["Old NEW"]))
    assert layer._traced_ids.function is not None  # The traced function is what this test is about.
    assert layer.get_vocabulary()[int(ids.flat_values[0])] == "old"
    assert 1 in ids.flat_values.numpy().tolist()  # "new" is out of vocabulary.
    layer.update_vocabulary(data=["old new words"] * 3, merge=split == "whitespace")
    ids, _ = layer(tf.constant(["Old NEW"]))
    assert 1 not in ids.flat_values.numpy().tolist()
    if split == "whitespace":
        assert [layer.get_vocabulary()[i] for i in ids.flat_values.numpy()] == ["old", "new"]
    # The lookup half is a new layer with its own table.
    assert ids.to_list() == layer.lookup()(tf.constant(["Old NEW"])).to_list()


def test_a_lookup_given_a_new_vocabulary_looks_up_in_it_when_called_eagerly():
    lookup = TextVocabLookup(vocabulary=["a", "b"], standardize="lower")
    assert [lookup(tf.constant(["B c"])).to_list() for _ in range(3)] == [[[3, 1]]] * 3
    lookup.set_vocabulary(["c", "b"])
    assert [lookup(tf.constant(["B c"])).to_list() for _ in range(3)] == [[[3, 2]]] * 3


def test_a_standardize_callable_runs_eagerly_when_the_layer_is_called_eagerly():
    # Callables are not traced for eager calls: one written for eager tensors (.numpy()) keeps working.
    layer = TextVocabLookup(vocabulary=["straße", "a"], standardize=python_lower)
    assert [layer(tf.constant(["STRAßE A", "b"])).to_list() for _ in range(3)] == [[[2, 3], [1]]] * 3


def test_a_standardize_callable_is_called_on_the_whole_batch_never_on_an_empty_part():
    # Strings take routes by their bytes; a callable written for eager tensors failed on a route with no strings
    # (`tf.constant([])` is float32), as in a batch with no ASCII string.
    layer = TextVocabLookup(vocabulary=["straße", "a"], standardize=python_lower)
    assert layer(tf.constant(["STRAßE", "ÉA"])).to_list() == [[2], [1]]
    assert layer(tf.constant(["A", "B\tA"])).to_list() == [[3], [1, 3]]
    assert layer(tf.constant([b"A\xff\xfe", "Straße\u3000a"])).to_list() == [[1], [2, 3]]


def test_eager_calls_give_the_same_output_before_and_after_the_layer_traces_them():
    layer = TextVocabEmbedding(4, vocabulary=["a", "straße"], output_sequence_length=4, return_ids=True)
    text = tf.constant(["A STRASSE Straße", "ǅ \u3000 a", b"bad \xff"])
    outputs = [layer(text) for _ in range(4)]
    assert layer._traced_ids.function is not None
    for ids, vectors in outputs[1:]:
        np.testing.assert_array_equal(ids.numpy(), outputs[0][0].numpy())
        np.testing.assert_array_equal(vectors.numpy(), outputs[0][1].numpy())
        np.testing.assert_array_equal(vectors._keras_mask.numpy(), outputs[0][1]._keras_mask.numpy())
    assert outputs[-1][0].numpy().tolist() == [[2, 1, 3, 0], [1, 2, 0, 0], [1, 1, 0, 0]]


def test_update_vocabulary_cannot_merge_into_wordpiece_subwords():
    layer = TextVocabEmbedding(4, split="wordpiece", max_tokens=60, name="words")
    layer.adapt(["unbelievable believable unable", "able table cable"])
    layer.build()
    with pytest.raises(ConfigurationError, match="WordPiece"):
        layer.update_vocabulary(data=["new words here"], merge=True)
    report = layer.update_vocabulary(data=["unbelievable believable unable able"])
    assert report.new_size <= 60 and report.kept > 0


# detokenize -----------------------------------------------------------------------------------------------------


def test_detokenize_joins_whitespace_tokens_and_drops_padding():
    layer = TextVocabEmbedding(4, output_sequence_length=6, standardize="lower")
    layer.adapt(["the cat sat", "the dog"])
    text = tf.constant(["The cat  sat", "the emu"])
    ids, _ = TextVocabEmbedding.from_config({**layer.get_config(), "return_ids": True})(text)
    assert ids.shape == (2, 6)
    assert layer.detokenize(ids).numpy().tolist() == [b"the cat sat", b"the [UNK]"]
    assert layer.detokenize(ids[0]).numpy() == b"the cat sat"  # One sequence in, one string out.


def test_detokenize_joins_wordpiece_pieces_to_their_word():
    lookup = TextVocabLookup(vocabulary=["play", "##ing", "##ed", "the", "dog"], split="wordpiece", standardize=None)
    ids = lookup(tf.constant(["the dog playing played", "dog"]))
    assert ids.to_list()[0] == [lookup.token_to_id(t) for t in ("the", "dog", "play", "##ing", "play", "##ed")]
    assert lookup.detokenize(ids).numpy().tolist() == [b"the dog playing played", b"dog"]


def test_detokenize_character_split_runs_in_tf_data_and_tf_function():
    lookup = TextVocabLookup(vocabulary=list("abc"), split="character", standardize=None, output_sequence_length=5)
    dataset = tf.data.Dataset.from_tensor_slices(["abc", "cab"]).batch(2).map(lookup).map(lookup.detokenize)
    assert next(iter(dataset)).numpy().tolist() == [b"abc", b"cab"]
    function = tf.function(lookup.detokenize)
    a, b = lookup.token_to_id("a"), lookup.token_to_id("b")
    assert function(tf.constant([[a, b, 0, 0]], tf.int64)).numpy().tolist() == [b"ab"]


@pytest.mark.parametrize("settings", [{"split": "regex", "split_pattern": ","}, {"ngrams": 2}])
def test_detokenize_refuses_splits_it_cannot_undo(settings):
    lookup = TextVocabLookup(vocabulary=["a", "b"], **settings)
    with pytest.raises(ConfigurationError, match="cannot detokenize"):
        lookup.detokenize(tf.constant([[1, 2]]))


def test_detokenize_refuses_float_ids_and_rank_3():
    lookup = TextVocabLookup(vocabulary=["a", "b"])
    with pytest.raises(KeyDtypeError, match="integer ids"):
        lookup.detokenize(tf.constant([[1.0]]))
    with pytest.raises(TextInputError, match="shape"):
        lookup.detokenize(tf.zeros((1, 2, 3), tf.int64))
