import json
import os

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from conftest import AWKWARD_TOKENS
from keras_vocabsafe import ConfigurationError, DuplicateTokenError, KeyDtypeError, Vocabulary, VocabularyError


def test_string_tokens_are_kept_as_utf8_bytes():
    vocabulary = Vocabulary(["naïve", b"\xff"])
    assert vocabulary.tokens == ("naïve".encode(), b"\xff")


def test_to_list_decodes_utf8_and_keeps_other_bytes():
    assert Vocabulary(["naïve", b"\xff"]).to_list() == ["naïve", b"\xff"]


def test_duplicate_token_is_rejected_with_both_positions():
    with pytest.raises(DuplicateTokenError, match=r"'cat' twice, at positions 1 and 3"):
        Vocabulary(["the", "cat", "sat", "cat"])


def test_str_and_bytes_spelling_of_one_token_are_duplicates():
    with pytest.raises(DuplicateTokenError):
        Vocabulary(["cat", b"cat"])


def test_lone_surrogate_str_is_rejected():
    with pytest.raises(KeyDtypeError, match="lone surrogate"):
        Vocabulary(["\udc80"])


def test_int_token_in_string_vocabulary_is_rejected():
    with pytest.raises(KeyDtypeError, match="vocabulary_dtype='int64'"):
        Vocabulary(["a", 3])


def test_str_token_in_int_vocabulary_is_rejected():
    with pytest.raises(KeyDtypeError, match="vocabulary_dtype='string'"):
        Vocabulary([1, "2"], dtype="int64")


def test_bool_is_not_an_integer_token():
    with pytest.raises(KeyDtypeError):
        Vocabulary([True], dtype="int64")


def test_from_counts_orders_by_count_then_token():
    vocabulary = Vocabulary.from_counts(["b", "a", "c", "d"], [2, 2, 5, 1])
    assert vocabulary.to_list() == ["c", "a", "b", "d"]


def test_from_counts_compares_tokens_as_bytes():
    # "Z" (0x5a) < "a" (0x61) < "é" (0xc3 0xa9) < b"\xff"
    vocabulary = Vocabulary.from_counts([b"\xff", "é", "a", "Z"], [1, 1, 1, 1])
    assert vocabulary.to_list() == ["Z", "a", "é", b"\xff"]


def test_from_counts_orders_integers_numerically():
    vocabulary = Vocabulary.from_counts([10, 9, -1, 100], [1, 1, 1, 3], dtype="int64")
    assert vocabulary.to_list() == [100, -1, 9, 10]


def test_from_counts_applies_min_frequency_and_max_size():
    tokens, counts = ["a", "b", "c", "d"], [5, 4, 2, 1]
    assert Vocabulary.from_counts(tokens, counts, min_frequency=2).to_list() == ["a", "b", "c"]
    assert Vocabulary.from_counts(tokens, counts, max_size=2).to_list() == ["a", "b"]


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        # Whole numbers too large for int64: the message asked to round them.
        ([2**64, 2], r"fit in int64\. Received counts from 2 to 18446744073709551616"),
        ([-(2**70), 1], "fit in int64"),
        ([-1, 3], "fit in int64"),
        ([1.5, 2], "Round or convert"),
    ],
)
def test_from_counts_refuses_counts_naming_what_is_wrong(counts, match):
    with pytest.raises(ConfigurationError, match=match) as raised:
        Vocabulary.from_counts(["a", "b"], counts)
    assert ("Round" in str(raised.value)) == isinstance(counts[0], float)


@pytest.mark.parametrize("tokens", [AWKWARD_TOKENS, ["plain", "words"], [3, -7, 2**62]])
def test_config_round_trip_is_exact(tokens):
    dtype = "int64" if isinstance(tokens[0], int) else "string"
    vocabulary = Vocabulary(tokens, dtype=dtype)
    config = json.loads(json.dumps(vocabulary.to_config()))
    assert Vocabulary.from_config(config).tokens == vocabulary.tokens


def test_config_uses_plain_strings_when_every_token_is_utf8():
    config = Vocabulary(["a\nb", "c"]).to_config()
    assert config["encoding"] == "utf-8"
    assert config["tokens"] == ["a\nb", "c"]


def test_config_switches_to_base64_for_non_utf8_tokens():
    config = Vocabulary(["a", b"\xff"]).to_config()
    assert config["encoding"] == "base64"
    assert config["tokens"] == ["YQ==", "/w=="]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=12), unique=True, min_size=1, max_size=30))
def test_any_bytes_survive_the_json_file(tmp_path_factory, tokens):
    path = tmp_path_factory.mktemp("vocab") / "vocabulary.json"
    Vocabulary(tokens).save(path)
    assert Vocabulary.load(path).tokens == tuple(tokens)


def test_save_replaces_the_file_whole(tmp_path):
    path = tmp_path / "vocabulary.json"
    Vocabulary(["old"]).save(path)
    Vocabulary(["new", "tokens"]).save(path)
    assert Vocabulary.load(path).to_list() == ["new", "tokens"]
    assert os.listdir(tmp_path) == ["vocabulary.json"]


def test_failed_save_leaves_the_existing_file_untouched(tmp_path):
    path = tmp_path / "vocabulary.json"
    Vocabulary(["kept"]).save(path)

    class Unwritable(Vocabulary):
        def to_config(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        Unwritable(["lost"]).save(path)
    assert Vocabulary.load(path).to_list() == ["kept"]
    assert os.listdir(tmp_path) == ["vocabulary.json"]


def test_text_file_has_one_token_per_line(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_bytes("the\ncat\n naïve \n".encode())
    assert Vocabulary.load(path).to_list() == ["the", "cat", " naïve "]


def test_text_file_of_integers(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("7\n-1\n42\n")
    assert Vocabulary.load(path, dtype="int64").to_list() == [7, -1, 42]


def test_text_file_with_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_bytes(b"ok\n\xff\n")
    with pytest.raises(VocabularyError, match="Line 2"):
        Vocabulary.load(path)


def test_text_file_with_non_integer_names_the_line(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("1\ntwo\n")
    with pytest.raises(VocabularyError, match=r"Line 2 .*'two'"):
        Vocabulary.load(path, dtype="int64")


def test_missing_file_is_a_vocabulary_error(tmp_path):
    with pytest.raises(VocabularyError, match="does not exist"):
        Vocabulary.load(tmp_path / "nope.txt")


def test_json_of_another_kind_is_rejected(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"tokens": ["a"]}')
    with pytest.raises(VocabularyError, match="Not a keras-vocabsafe vocabulary"):
        Vocabulary.load(path)


def test_newer_format_version_asks_for_an_upgrade():
    config = Vocabulary(["a"]).to_config()
    config["format_version"] = 99
    with pytest.raises(VocabularyError, match="Upgrade keras-vocabsafe"):
        Vocabulary.from_config(config)


def test_numpy_object_array_keeps_trailing_nul():
    tokens = np.array(["a\x00", "a"], dtype=object)
    assert Vocabulary(tokens.tolist()).tokens == (b"a\x00", b"a")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.binary(max_size=6), st.sampled_from([b"a", b"a\x00", b"a\x00\x00", b"\x00", b""])),
        st.integers(1, 3),
        min_size=1,
    )
)
def test_from_counts_order_matches_a_plain_sort(counted):
    tokens, counts = list(counted), list(counted.values())
    expected = [token for _, token in sorted(zip([-c for c in counts], tokens))]
    assert list(Vocabulary.from_counts(tokens, counts).tokens) == expected


def test_from_counts_orders_long_tokens_too():
    long = [b"x" * 300 + bytes([i]) for i in (3, 1, 2)]
    assert list(Vocabulary.from_counts(long, [1, 1, 1]).tokens) == sorted(long)


# Large vocabularies: the fast paths give what the token-by-token definitions give ----------------------------------


def _reference_fingerprint(tokens, dtype):
    """The documented digest, fed token by token: SHA-256 of every token's length (8 bytes) and bytes."""
    import hashlib

    hasher = hashlib.sha256(f"keras_vocabsafe:{dtype}:".encode())
    for token in tokens:
        raw = token if isinstance(token, bytes) else str(token).encode()
        hasher.update(len(raw).to_bytes(8, "little"))
        hasher.update(raw)
    return hasher.hexdigest()[:32]


def test_fingerprint_is_the_documented_digest_across_chunks():
    # More tokens than one hashing chunk (65,536), with empty, non-UTF-8 and long tokens among them.
    tokens = [b"", b"\xff\xfe", b"x" * 1000, b"\n"] + [f"w{i}".encode() for i in range(70_000)]
    assert Vocabulary(tokens).fingerprint() == _reference_fingerprint(tokens, "string")


def test_fingerprint_of_integer_tokens_is_the_documented_digest():
    tokens = [-(2**63), 2**63 - 1, 0, -1] + list(range(10, 70_010))
    assert Vocabulary(tokens, dtype="int64").fingerprint() == _reference_fingerprint(tokens, "int64")


def test_canonical_token_list_still_refuses_a_duplicate():
    with pytest.raises(DuplicateTokenError, match=r"'b' twice, at positions 1 and 2"):
        Vocabulary([b"a", b"b", b"b"])


def test_config_tokens_decode_as_utf8_and_refuse_a_lone_surrogate():
    config = Vocabulary(["naïve", "cat"]).to_config()
    assert Vocabulary.from_config(config).tokens == ("naïve".encode(), b"cat")
    config["tokens"][1] = "\ud800"
    with pytest.raises(KeyDtypeError, match="lone surrogate"):
        Vocabulary.from_config(config)
