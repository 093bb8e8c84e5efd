"""Hostile inputs to every public entry point: each ends in correct behaviour or a typed error.

A standing module: every later change must keep it green. Sections follow the public entry points; each test
checks one behaviour. A refusal must be a `keras_vocabsafe` error (so also the builtin it refines) whose
message names the argument, file or line; where a hostile input has a correct meaning (an empty batch, a
scalar, an all-padding row, a generator of tokens) the test checks that meaning against an independent
computation. Structured inputs (token lists, file bytes, text) come from hypothesis.

What each entry point refuses, and with which error (one row per refusal tested):

| entry point | what it refuses | error type |
| --- | --- | --- |
| `Vocabulary(tokens)` | `None`, an int, a str, bytes or a dict instead of a sequence of tokens | `ConfigurationError` |
| `Vocabulary(tokens)` | a set (unordered: ids would change between processes) | `ConfigurationError` |
| `Vocabulary(tokens, "int64")` | an int outside int64 (Python int or uint64) | `KeyDtypeError` |
| `Vocabulary(tokens, "int64")` | floats and bools as ids | `KeyDtypeError` |
| `Vocabulary(tokens, dtype)` | an unhashable or unknown dtype (`["string"]`, `"float32"`) | `ConfigurationError` |
| `Vocabulary(tokens)` | a token listed twice (also as str and bytes) | `DuplicateTokenError` |
| `Vocabulary.from_counts` | counts not 1-D integers (floats, strings, 2-D, beyond int64) | `ConfigurationError` |
| `Vocabulary.from_counts` | negative counts | `ConfigurationError` |
| `Vocabulary.from_counts` | `max_size`/`min_frequency` negative or not an int | `ConfigurationError` |
| `Vocabulary.from_counts` | tokens and counts of different lengths | `VocabularyError` |
| `Vocabulary.from_config` | base64 garbage, an unknown encoding, tokens that are not a list | `VocabularyError` |
| `Vocabulary.load` | a path that is not str/PathLike | `ConfigurationError` |
| `Vocabulary.load` | a missing file, a directory | `VocabularyError` |
| `Vocabulary.load` | a UTF-16 or UTF-32 file (byte order mark) | `VocabularyError` |
| `Vocabulary.load` | corrupt JSON, JSON with invalid UTF-8, JSON nested too deeply | `VocabularyError` |
| `Vocabulary.load` | a JSON array, a JSON object of another shape | `VocabularyError` |
| `Vocabulary.load` | an int64 text line that is not an integer or does not fit in int64 | `VocabularyError` |
| `Vocabulary.load` | random bytes: a vocabulary or a `VocabSafeError`, nothing else | `VocabSafeError` |
| `Vocabulary.save` | a directory, a path whose directory does not exist | `VocabularyError` |
| `Vocabulary.save` | a path that is not str/PathLike | `ConfigurationError` |
| `VocabEmbedding(...)` | `output_dim` not a positive int (0, -1, 4.0, "4", True) | `ConfigurationError` |
| `VocabEmbedding(...)` | `num_oov_indices`, `min_frequency`, `pad_to_multiple_of` out of range | `ConfigurationError` |
| `VocabEmbedding(...)` | `max_tokens` not above the special slots, or a str | `ConfigurationError` |
| `VocabEmbedding(...)` | a `mask_token`/`oov_token` of the wrong type, or equal | `ConfigurationError` |
| `VocabEmbedding(...)` | an int `mask_token` beyond int64 | `KeyDtypeError` |
| `VocabEmbedding(...)` | `vocabulary_dtype` "float32", "uint64", a list | `ConfigurationError` |
| `VocabEmbedding(...)` | `trainable_rows` a str or with negative ids | `ConfigurationError` |
| `VocabEmbedding(...)` | `keras.layers.Embedding`'s `input_dim`, `mask_zero`, `input_length` | `ConfigurationError` |
| `VocabEmbedding(...)` | an int as 2nd argument (`Embedding(input_dim, output_dim)`) | `ConfigurationError` |
| `VocabEmbedding(vocabulary=)` | a set, a 2-D array, a sparse tensor, bytes | `ConfigurationError` |
| `VocabEmbedding(vocabulary=)` | ids beyond int64 (uint64 array) | `KeyDtypeError` |
| `VocabEmbedding(vocabulary=)` | a JSON file of string tokens for an int64 layer | `KeyDtypeError` |
| `VocabEmbedding(vocabulary=)` | a directory | `VocabularyError` |
| `VocabEmbedding(vocabulary=)` | the mask or OOV token in the vocabulary | `ReservedTokenError` |
| `VocabEmbedding(vocabulary=)` | an empty vocabulary | `VocabularyError` |
| `VocabEmbedding(vocabulary=)` | more tokens than `max_tokens` allows | `ConfigurationError` |
| `set_vocabulary` | another vocabulary once built (rows unchanged) | `VocabularyChangeError` |
| `set_vocabulary` | `None` or an int | `ConfigurationError` |
| `__call__` | a `tf.SparseTensor` | `KeyDtypeError` |
| `__call__` | int, float or bool keys into a string layer; strings or uint64 into an int64 layer | `KeyDtypeError` |
| `__call__` | `None` | `KeyDtypeError` |
| `__call__` | a float32 placeholder (Sequential without `keras.Input`), naming the fix | `KeyDtypeError` |
| `__call__`, `get_vocabulary`, `vocabulary_size`, `get_vectors` | a layer without vocabulary | `NotAdaptedError` |
| `compute_mask` | keys of the wrong dtype | `KeyDtypeError` |
| `token_to_id` | `None`, keys of the wrong dtype | `KeyDtypeError` |
| `id_to_token` | ids below 0 or beyond the last id (also beyond int64) | `UnknownIdError` |
| `VocabEmbedding.from_config` | a `vocabulary_size` other than the tokens give | `VocabularyMismatchError` |
| `VocabEmbedding.from_config` | `vocabulary_dtype` "float32" | `ConfigurationError` |
| `VocabEmbedding.from_config` | `vocabulary_dtype` "int64" over string tokens | `KeyDtypeError` |
| `VocabEmbedding.from_config` | duplicate tokens | `DuplicateTokenError` |
| `VocabEmbedding.from_config` | base64 garbage, an unknown encoding, a non-list vocabulary | `VocabularyError` |
| `load_own_variables` | offsets that do not fit the bytes, of another dtype/rank, missing | `VocabularyMismatchError` |
| `load_own_variables` | token bytes of another dtype (floats, strings), or missing | `VocabularyMismatchError` |
| `load_own_variables` | a matrix of another `output_dim` or row count (rows unchanged) | `VocabularyMismatchError` |
| `model.load_weights` | a hand-edited `.weights.h5` (Keras re-raises as `ValueError` with our text) | `ValueError` |
| `TextVocabEmbedding(...)` | unknown standardize, split, normalization_form, encoding_errors | `ConfigurationError` |
| `TextVocabEmbedding(...)` | an unregistered callable `standardize`/`split` | `ConfigurationError` |
| `TextVocabEmbedding(...)` | a `split_pattern` not RE2, not a str, or without split='regex' | `ConfigurationError` |
| `TextVocabEmbedding(...)` | `ngrams` 0, True, "2", above 64, repeated widths; with wordpiece | `ConfigurationError` |
| `TextVocabEmbedding(...)` | `output_sequence_length` 0 or 2.0; with mask_token=None | `ConfigurationError` |
| `TextVocabEmbedding(...)` | `return_ids` not a bool; `mask_token` other than '' or None | `ConfigurationError` |
| `TextVocabEmbedding(...)` | `reserved_tokens`: str, set, empty, repeats, special, surrogate | `ConfigurationError` |
| `TextVocabEmbedding(...)` | `vocabulary_dtype` other than "string" | `ConfigurationError` |
| `TextVocabEmbedding.adapt` | WordPiece without `max_tokens` | `ConfigurationError` |
| `TextVocabEmbedding.adapt` | text without tokens; none reaching `min_frequency` | `VocabularyError` |
| `TextVocabEmbedding.__call__` | text of shape (2, 3) or (1, 1, 1), a ragged tensor | `TextInputError` |
| `TextVocabEmbedding.__call__` | ngrams, a regex/callable split, a token with a space (test_text) | `TextInputError` |
| `TextVocabEmbedding.__call__` | ints, floats, bools, `None` | `KeyDtypeError` |
| `TextVocabEmbedding.__call__` | a symbolic input of shape (None, 3) | `TextInputError` |
| `TextVocabEmbedding.__call__` | a symbolic int or float input | `KeyDtypeError` |
| `TextVocabEmbedding.__call__` | bytes that are not UTF-8 with `encoding_errors="strict"` | `TextEncodingError` |
| `TextVocabEmbedding.tokenize`, `compute_mask` | text of shape (2, 3) | `TextInputError` |
| `TextVocabEmbedding.get_vectors` | a ragged tensor | `TextInputError` |
| `TextVocabEmbedding.from_config` | a `split` callable that cannot be restored | `ConfigurationError` |
| `export_for_serving` | not a `keras.Model`, unbuilt, or subclassed without inputs | `ConfigurationError` |
| `export_for_serving` | a `base_path` that is None, an int, or a file | `ConfigurationError` |
| `export_for_serving` | a `version` that is a str, float, bool, negative or beyond int64 | `ConfigurationError` |
| `export_for_serving` | an existing version | `VersionExistsError` |
| `export_for_serving` | `input_names`/`output_names` of the wrong type, length or keys | `ConfigurationError` |
| `export_for_serving` | `vocabulary_signatures`/`strict` not bools | `ConfigurationError` |
| `export_for_serving` | `target` unknown, an int, a list, an OpTarget of unknown kind | `ConfigurationError` |
| `export_for_serving` | `warmup_inputs` of wrong shape, dtype, keys or type; empty; over 1000 | `ConfigurationError` |
| `audit_ops` | a path that is None or an int | `ConfigurationError` |
| `audit_ops` | a missing path, a file, a base path (naming its versions) | `ConfigurationError` |
| `audit_ops` | a corrupt `saved_model.pb` or `.pbtxt`, an empty `saved_model.pb` | `ModelFileError` |
| `audit_ops` | a `target` that is unknown, or older than the op table | `ConfigurationError` |
| `warmstart_embedding_matrix` | a matrix whose rows disagree with the base vocabulary, or 1-D | `ConfigurationError` |
| `warmstart_embedding_matrix` | ids mixed with strings | `KeyDtypeError` |
| `warmstart_embedding_matrix` | an unknown initializer name; "mean" with no base rows | `ConfigurationError` |
| `warmstart_embedding_matrix` | a token repeated in the new vocabulary | `DuplicateTokenError` |
| `load_remapped_weights` | a model without any VocabEmbedding | `ConfigurationError` |
| `VocabEmbedding(...)` | an initializer, regularizer or constraint Keras cannot interpret | `ConfigurationError` |
| `VocabEmbedding(...)` | `trainable_rows` that is an int or another non-list | `ConfigurationError` |
| `VocabEmbedding(...)` | a dtype policy that is not floating point (int32, bool, string) | `ConfigurationError` |
| `VocabEmbedding.build` | a matrix too large for available memory (huge `output_dim`, padding) | `ConfigurationError` |
| `VocabEmbedding.from_config` | what the constructor refuses (its typed error, not `TypeError`) | as the constructor |
| `VocabEmbedding.__call__` | a symbolic int64 or float32 input into a string layer | `KeyDtypeError` |
| `id_to_token` | ids that are not integers (1.5, "3", True, float arrays) | `KeyDtypeError` |
| `load_own_variables` | no matrix for a built layer; a 1-D or integer matrix | `VocabularyMismatchError` |
| `set_weights` | a matrix of another shape | `ConfigurationError` |
| `adapt`, `update_vocabulary(data=)` | a dict, a dataset of dicts (more: test_data_inputs.py) | `ConfigurationError` |
| `adapt` | a single str | `KeyDtypeError` |
| `adapt` | no tokens (or only special ones); none reaching `min_frequency` | `VocabularyError` |
| `load_vectors` | NaN or infinity; a truncated gzip (more: test_vector_files_hostile.py) | `VectorFileError` |
| `align_vectors`, `load_pretrained` | a directory | `VectorFileError` |
| `VocabLookup(...)`, `__call__` | `num_oov_indices=0`; int keys for strings; no vocabulary | as `VocabEmbedding` |
| `VocabIdEmbedding.__call__` | string ids, eager or symbolic | `KeyDtypeError` |
| `VocabIdEmbedding.__call__` | a float32 placeholder (Sequential without `keras.Input`), naming it | `KeyDtypeError` |
| `VocabIdEmbedding.check_lookup` | a lookup of another vocabulary or special slots | `VocabularyMismatchError` |
| `VocabIdEmbedding.check_lookup`, `from_lookup` | a `StringLookup` or other object | `ConfigurationError` |
| `VocabEmbedding.halves` | a layer without vocabulary | `NotAdaptedError` |
| `load_weights`, `load_remapped_weights` | a missing, foreign or truncated file; a directory | `ConfigurationError` |
| `update_vocabulary` | both or neither source; `merge` without data; small `max_tokens` | `ConfigurationError` |
| `update_vocabulary` | an unknown new-row rule, a non-int `seed`, a foreign `model` | `ConfigurationError` |
| `TextVocabLookup(...)` | the settings `TextVocabEmbedding(...)` refuses | `ConfigurationError` |
| `TextVocabLookup.__call__` | ints; text of shape (2, 2) | `KeyDtypeError`, `TextInputError` |
| `PretrainedVectors(...)` | a matrix without one row per token | `ConfigurationError` |
| `PretrainedVectors(...)` | a list of tokens (not a `Vocabulary`), a list of vectors | `ConfigurationError` |
| `vocabsafe vectors align` | `-o` naming an input through a symlink or hard link; `-o` a directory | exit 2 |
| `vocabsafe vectors align` | a negative `--seed` (named by argparse) | exit 2 |
| `inspect_model` | a `model_or_path` or `weights` that is neither a model nor a path | `ConfigurationError` |
| `inspect_model(weights=)` | a missing file or a directory (asking for a `.weights.h5` file) | `ModelFileError` |
| `detokenize` | eager ids below 0 or beyond the last id (also ragged) | `UnknownIdError` |
| `detokenize` | `None`, objects, ragged float ids | `KeyDtypeError` |
| `detokenize` | ragged ids not of shape (batch, None) | `TextInputError` |
| `VocabIdEmbedding` (JAX, torch) | eager ids below 0 or beyond the last (`test_backends.py`) | `UnknownIdError` |

The last section checks what the hostile sweep of the command line and of vocabularies that keep their own ids
found to work once fixed: outputs written with the umask's mode (not 0o600), a counted vocabulary that lists its
special tokens cut by count, special tokens listed at the last ids kept by `update_vocabulary(data=)`, weights
padded to another `pad_to_multiple_of` loaded by `load_remapped_weights`, and `detokenize` of no ids.

Companion modules with the full sweeps of two entry points: `tests/test_data_inputs.py` (every data kind for
`adapt`, `update_vocabulary(data=)` and call-time keys) and `tests/test_vector_files_hostile.py` (every damaged or
foreign vectors file). Workflows (subclassed and nested models, `clone_model`, pickling, `tf.distribute`, mixed
precision, `jit_compile`) are checked in the last section, and `tests/test_distribute.py` trains under
`MirroredStrategy`.
"""

import copy
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings

import h5py
import hypothesis.strategies as st
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings

from keras_vocabsafe import (
    ConfigurationError,
    DuplicateTokenError,
    KeyDtypeError,
    LazyAdam,
    ModelFileError,
    NotAdaptedError,
    OpTarget,
    PretrainedVectors,
    ReservedTokenError,
    TextEncodingError,
    TextInputError,
    TextVocabEmbedding,
    TextVocabLookup,
    UnknownIdError,
    VectorFileError,
    VersionExistsError,
    VocabEmbedding,
    VocabIdEmbedding,
    VocabLookup,
    VocabSafeError,
    Vocabulary,
    VocabularyChangeError,
    VocabularyError,
    VocabularyMismatchError,
    align_vectors,
    audit_ops,
    export_for_serving,
    load_remapped_weights,
    load_vectors,
    load_weights,
    warmstart_embedding_matrix,
)

INT64_MAX = 2**63 - 1
LAYER_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Tokens: any text (lone surrogates excluded: str tokens must encode as UTF-8) or any bytes.
any_token = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12), st.binary(max_size=12))


def canonical(token):
    return token.encode("utf-8") if isinstance(token, str) else token


def distinct(tokens):
    """Tokens without repeats, str and bytes spellings of one token counting as one."""
    seen, kept = set(), []
    for token in tokens:
        if canonical(token) not in seen:
            seen.add(canonical(token))
            kept.append(token)
    return kept


def write(path, data):
    path.write_bytes(data)
    return path


def string_layer(**kwargs):
    kwargs.setdefault("vocabulary", ["a", "b", "c"])
    kwargs.setdefault("mask_token", "")
    return VocabEmbedding(4, **kwargs)


# Vocabulary(tokens, dtype) -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [None, 5, "abc", b"abc", {"a": 1}], ids=repr)
def test_vocabulary_refuses_a_container_that_is_not_a_sequence_of_tokens(tokens):
    with pytest.raises(ConfigurationError, match="`tokens` must be a list"):
        Vocabulary(tokens)


def test_vocabulary_refuses_a_set_because_its_order_is_not_stable():
    with pytest.raises(ConfigurationError, match=r"must be ordered.*sorted\(tokens\)"):
        Vocabulary({"b", "a"})


@pytest.mark.parametrize("token", [2**63, -(2**63) - 1, 2**64, np.uint64(2**64 - 1)], ids=repr)
def test_vocabulary_refuses_an_id_outside_int64(token):
    with pytest.raises(KeyDtypeError, match="does not fit in int64"):
        Vocabulary([1, token], dtype="int64")


def test_vocabulary_keeps_the_int64_extremes():
    assert Vocabulary([INT64_MAX, -(2**63)], dtype="int64").tokens == (INT64_MAX, -(2**63))


@pytest.mark.parametrize("token", [1.0, True, np.bool_(False), "1", None], ids=repr)
def test_vocabulary_refuses_a_non_integer_id(token):
    with pytest.raises(KeyDtypeError, match="int64 vocabulary takes integer tokens"):
        Vocabulary([token], dtype="int64")


@pytest.mark.parametrize("dtype", [["string"], "float32", "uint64", None, str], ids=repr)
def test_vocabulary_refuses_an_unknown_dtype(dtype):
    # It named `vocabulary_dtype`, the layers' argument, not Vocabulary's own `dtype`.
    with pytest.raises(ConfigurationError, match=r"^`dtype` must be 'string' or 'int64'\. Received: dtype="):
        Vocabulary(["a"], dtype=dtype)


def test_vocabulary_refuses_one_token_spelled_as_str_and_bytes():
    with pytest.raises(DuplicateTokenError, match="positions 0 and 1"):
        Vocabulary(["naïve", "naïve".encode()])


@given(st.lists(any_token, max_size=20))
def test_vocabulary_round_trips_any_tokens_through_its_config(tokens):
    vocabulary = Vocabulary(distinct(tokens))
    again = Vocabulary.from_config(json.loads(json.dumps(vocabulary.to_config())))
    assert again.tokens == tuple(canonical(t) for t in distinct(tokens))


@given(st.lists(st.integers(-(2**63), INT64_MAX), unique=True, max_size=20))
def test_vocabulary_round_trips_any_int64_ids_through_its_config(ids):
    vocabulary = Vocabulary(ids, dtype="int64")
    assert Vocabulary.from_config(json.loads(json.dumps(vocabulary.to_config()))).tokens == tuple(ids)


# Vocabulary.from_counts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts", [[1.5, 2.0], ["x", "y"], [[1, 2]], [2**70, 1], np.array([2**64 - 1, 1], dtype=np.uint64)], ids=repr
)
def test_from_counts_refuses_counts_that_are_not_whole_numbers_in_int64(counts):
    with pytest.raises(ConfigurationError, match="`counts` must"):
        Vocabulary.from_counts(["a", "b"], counts)


def test_from_counts_refuses_negative_counts():
    with pytest.raises(ConfigurationError, match="non-negative"):
        Vocabulary.from_counts(["a", "b"], [-1, 2])


@pytest.mark.parametrize("argument", ["max_size", "min_frequency"])
@pytest.mark.parametrize("value", [-1, "2", 1.5, True], ids=repr)
def test_from_counts_refuses_a_bound_that_is_not_a_non_negative_int(argument, value):
    with pytest.raises(ConfigurationError, match=f"`{argument}` must be a non-negative integer"):
        Vocabulary.from_counts(["a", "b"], [1, 2], **{argument: value})


def test_from_counts_refuses_counts_that_do_not_align_with_tokens():
    with pytest.raises(VocabularyError, match="2 tokens but 1 counts"):
        Vocabulary.from_counts(["a", "b"], [1])


def test_from_counts_takes_tokens_from_a_generator_as_from_a_list():
    tokens, counts = ["b", "a", "c"], [1, 3, 3]
    assert Vocabulary.from_counts(iter(tokens), counts) == Vocabulary.from_counts(tokens, counts)


def test_from_counts_of_nothing_is_empty():
    assert len(Vocabulary.from_counts([], [])) == 0


# Vocabulary.from_config --------------------------------------------------------------------------------------


def _vocabulary_config(**changes):
    config = Vocabulary(["a", "b"]).to_config()
    config.update(changes)
    return config


@pytest.mark.parametrize(
    "changes",
    [
        {"encoding": "base64", "tokens": ["!!!"]},
        {"encoding": "base64", "tokens": [5]},
        {"encoding": "latin-1"},
        {"tokens": "ab"},
        {"tokens": {"a": 1}},
        {"format": "other"},
        {"format_version": 2},
    ],
    ids=repr,
)
def test_vocabulary_from_config_refuses_a_hand_edited_config(changes):
    with pytest.raises(VocabularyError):
        Vocabulary.from_config(_vocabulary_config(**changes))


# Vocabulary.load / Vocabulary.save ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [None, 5, ["v.txt"]], ids=repr)
def test_load_refuses_a_path_that_is_not_a_path(path):
    with pytest.raises(ConfigurationError, match="`path` must be a file path"):
        Vocabulary.load(path)


def test_load_refuses_a_missing_file_naming_it(tmp_path):
    with pytest.raises(VocabularyError, match="does not exist"):
        Vocabulary.load(tmp_path / "missing.json")


def test_load_refuses_a_directory_naming_it(tmp_path):
    with pytest.raises(VocabularyError, match=f"{tmp_path.name}' is a directory"):
        Vocabulary.load(tmp_path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_load_refuses_a_utf16_or_utf32_file_naming_the_encoding(tmp_path, encoding):
    data = "\ufeffa\nb\n".encode(encoding) if encoding.endswith("be") else "a\nb\n".encode(encoding)
    path = write(tmp_path / "v.txt", data)
    with pytest.raises(VocabularyError, match=encoding[:6].upper()):
        Vocabulary.load(path)


def test_load_skips_a_utf8_byte_order_mark_in_a_text_file(tmp_path):
    path = write(tmp_path / "v.txt", "\ufeffthe\ncat\n".encode())
    assert Vocabulary.load(path).to_list() == ["the", "cat"]


def test_load_skips_a_utf8_byte_order_mark_in_a_json_file(tmp_path):
    path = write(tmp_path / "v.json", b"\xef\xbb\xbf" + json.dumps(Vocabulary(["x", "y"]).to_config()).encode())
    assert Vocabulary.load(path) == Vocabulary(["x", "y"])


def test_load_removes_windows_line_endings_from_a_text_file(tmp_path):
    path = write(tmp_path / "v.txt", b"the\r\ncat\r\n")
    assert Vocabulary.load(path).to_list() == ["the", "cat"]


def test_load_keeps_a_carriage_return_that_not_every_line_ends_with(tmp_path):
    path = write(tmp_path / "v.txt", b"the\r\ncat\n")
    assert Vocabulary.load(path).to_list() == ["the\r", "cat"]


@pytest.mark.parametrize(
    "data",
    [b'{"format": ', b'{"format": "\xff"}', b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
    ids=["truncated", "invalid utf-8", "nested too deeply"],
)
def test_load_refuses_a_json_file_that_cannot_be_parsed(tmp_path, data):
    with pytest.raises(VocabularyError, match="is not valid JSON"):
        Vocabulary.load(write(tmp_path / "v.json", data))


def test_load_refuses_a_json_array(tmp_path):
    with pytest.raises(VocabularyError, match="holds a JSON list, not a vocabulary"):
        Vocabulary.load(write(tmp_path / "v.json", b'["a", "b"]'))


def test_load_refuses_a_json_object_of_another_shape(tmp_path):
    with pytest.raises(VocabularyError, match="Not a keras-vocabsafe vocabulary"):
        Vocabulary.load(write(tmp_path / "v.json", b'{"tokens": ["a"]}'))


def test_load_reads_a_text_line_that_merely_starts_with_a_bracket(tmp_path):
    assert Vocabulary.load(write(tmp_path / "v.txt", b"[CLS]\n[SEP]\n")).to_list() == ["[CLS]", "[SEP]"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"x", "not an integer"),
        (b"2.5", "not an integer"),
        (b"9" * 20, "does not fit in int64"),
        # Python's int() took these, rewriting the bytes; Keras's lookups refuse "1_000".
        (b" 6", "not an integer"),
        (b"1_000", "not an integer"),
        (b"7 ", "not an integer"),
    ],
)
def test_load_refuses_an_int64_line_that_is_not_an_int64_naming_the_line(tmp_path, line, message):
    with pytest.raises(VocabularyError, match=f"Line 2 .*{message}"):
        Vocabulary.load(write(tmp_path / "v.txt", b"1\n" + line + b"\n"), dtype="int64")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), dtype=st.sampled_from(["string", "int64"]))
def test_load_of_random_bytes_gives_a_vocabulary_or_a_vocabsafe_error(tmp_path, data, dtype):
    path = write(tmp_path / "junk", data)
    try:
        vocabulary = Vocabulary.load(path, dtype=dtype)
    except VocabSafeError:
        return
    assert isinstance(vocabulary, Vocabulary)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(any_token, max_size=20))
def test_save_and_load_round_trip_any_tokens(tmp_path, tokens):
    vocabulary = Vocabulary(distinct(tokens))
    vocabulary.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocabulary


def test_save_refuses_a_directory(tmp_path):
    with pytest.raises(VocabularyError, match="is a directory"):
        Vocabulary(["a"]).save(tmp_path)


def test_save_refuses_a_path_whose_directory_is_missing_and_writes_nothing(tmp_path):
    with pytest.raises(VocabularyError, match="does not exist"):
        Vocabulary(["a"]).save(tmp_path / "missing" / "v.json")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_path_that_is_not_a_path():
    with pytest.raises(ConfigurationError, match="`path` must be a file path"):
        Vocabulary(["a"]).save(None)


# VocabEmbedding(...) -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output_dim", [0, -1, 4.0, "4", True, None], ids=repr)
def test_constructor_refuses_an_output_dim_that_is_not_a_positive_int(output_dim):
    with pytest.raises(ConfigurationError, match="`output_dim` must be a positive integer"):
        VocabEmbedding(output_dim, vocabulary=["a"])


@pytest.mark.parametrize(
    ("argument", "value"),
    [("num_oov_indices", 0), ("num_oov_indices", "1"), ("min_frequency", 0), ("pad_to_multiple_of", 0)],
)
def test_constructor_refuses_a_count_out_of_range(argument, value):
    with pytest.raises(ConfigurationError, match=f"`{argument}` must be"):
        VocabEmbedding(4, vocabulary=["a"], **{argument: value})


@pytest.mark.parametrize("max_tokens", [1, 2, "5", 5.0], ids=repr)
def test_constructor_refuses_max_tokens_not_above_the_special_slots(max_tokens):
    with pytest.raises(ConfigurationError, match="`max_tokens` must be an integer larger than the 2 special slots"):
        VocabEmbedding(4, mask_token="", max_tokens=max_tokens)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mask_token": 0},
        {"mask_token": b""},
        {"oov_token": 1},
        {"vocabulary_dtype": "int64", "mask_token": "0"},
        {"vocabulary_dtype": "int64", "mask_token": True},
        {"mask_token": "[UNK]"},
    ],
    ids=repr,
)
def test_constructor_refuses_a_special_token_of_the_wrong_type_or_equal_to_the_other(kwargs):
    with pytest.raises(ConfigurationError, match=r"mask_token|oov_token"):
        VocabEmbedding(4, **kwargs)


def test_constructor_refuses_an_int_mask_token_beyond_int64():
    with pytest.raises(KeyDtypeError, match=r"mask_token .* does not fit in int64"):
        VocabEmbedding(4, vocabulary_dtype="int64", mask_token=2**64)


@pytest.mark.parametrize("dtype", ["float32", "uint64", ["string"], np.int64], ids=repr)
def test_constructor_refuses_an_unknown_vocabulary_dtype(dtype):
    with pytest.raises(ConfigurationError, match="`vocabulary_dtype` must be 'string' or 'int64'"):
        VocabEmbedding(4, vocabulary_dtype=dtype)


@pytest.mark.parametrize("rows", ["12", [-1], [0.5]], ids=repr)
def test_constructor_refuses_trainable_rows_that_are_not_ids(rows):
    with pytest.raises(ConfigurationError, match="`trainable_rows` must be a list of non-negative ids"):
        VocabEmbedding(4, vocabulary=["a"], trainable_rows=rows)


@pytest.mark.parametrize(
    "vocabulary",
    [{"b", "a"}, frozenset({"a"}), np.array([["a"]]), b"ab", tf.sparse.from_dense(tf.constant(["a", "b"]))],
    ids=["set", "frozenset", "2-D", "bytes", "sparse"],
)
def test_constructor_refuses_a_vocabulary_that_is_not_an_ordered_1d_list(vocabulary):
    with pytest.raises(ConfigurationError, match="`vocabulary` must be"):
        VocabEmbedding(4, vocabulary=vocabulary)


@pytest.mark.parametrize(
    "vocabulary", [np.array([2**63, 1], dtype=np.uint64), [2**64], [-(2**63) - 1]], ids=["uint64", "big", "small"]
)
def test_constructor_refuses_ids_beyond_int64(vocabulary):
    with pytest.raises(KeyDtypeError, match="does not fit in int64"):
        VocabEmbedding(4, vocabulary=vocabulary, vocabulary_dtype="int64")


@pytest.mark.parametrize(
    ("argument", "instead"),
    [("input_dim", "the vocabulary sets the rows"), ("mask_zero", "mask_token=''"), ("input_length", "drop it")],
)
@pytest.mark.parametrize("layer_class", [VocabEmbedding, VocabIdEmbedding, TextVocabEmbedding])
def test_constructor_refuses_keras_embedding_arguments_with_what_replaces_them(layer_class, argument, instead):
    # A user porting `Embedding(input_dim=len(vocab) + 2, ..., mask_zero=True)`: Keras's base layer would read
    # input_dim as an input shape and go on.
    with pytest.raises(ConfigurationError, match=rf"takes no `{argument}`.*{re.escape(instead)}"):
        layer_class(4, **{argument: 10})


@pytest.mark.parametrize("layer_class", [VocabEmbedding, VocabIdEmbedding, TextVocabEmbedding])
def test_constructor_refuses_keras_embeddings_positional_input_dim_output_dim_naming_the_order(layer_class):
    # `VocabEmbedding(1000, 64)` as `Embedding(1000, 64)` was read as output_dim=1000 and vocabulary=64, and
    # refused as "`vocabulary` must be a list ... Received: vocabulary of type int".
    with pytest.raises(
        ConfigurationError,
        match=rf"takes `output_dim` first.*`keras\.layers\.Embedding\(input_dim, output_dim\)` becomes "
        rf"`{layer_class.__name__}\(output_dim, vocabulary=\.\.\.\)`.*Received: the integer 64",
    ):
        layer_class(1000, 64)


def test_constructor_refuses_equal_mask_and_oov_tokens_saying_which_to_change():
    with pytest.raises(ConfigurationError, match=r"must differ.*pass another `mask_token` .* or another `oov_token`"):
        VocabEmbedding(4, mask_token="[UNK]", oov_token="[UNK]")


def test_constructor_refuses_a_string_vocabulary_file_for_an_int64_layer_naming_the_file(tmp_path):
    Vocabulary(["a"]).save(tmp_path / "v.json")
    with pytest.raises(KeyDtypeError, match=r"v\.json' has dtype 'string'.*vocabulary_dtype='int64'"):
        VocabEmbedding(4, vocabulary=tmp_path / "v.json", vocabulary_dtype="int64")


def test_constructor_refuses_a_directory_as_vocabulary(tmp_path):
    with pytest.raises(VocabularyError, match="is a directory"):
        VocabEmbedding(4, vocabulary=str(tmp_path))


@pytest.mark.parametrize("token", ["", "[UNK]"])
def test_constructor_refuses_a_vocabulary_holding_a_special_token(token):
    with pytest.raises(ReservedTokenError, match="position 1"):
        VocabEmbedding(4, vocabulary=["a", token], mask_token="")


def test_constructor_refuses_an_empty_vocabulary():
    with pytest.raises(VocabularyError, match="empty vocabulary"):
        VocabEmbedding(4, vocabulary=[])


def test_constructor_refuses_more_tokens_than_max_tokens_allows():
    with pytest.raises(ConfigurationError, match="exceeds max_tokens=3"):
        VocabEmbedding(4, vocabulary=["a", "b", "c"], max_tokens=3)


def test_constructor_takes_a_generator_of_tokens_in_its_order():
    assert VocabEmbedding(4, vocabulary=(t for t in ["b", "a"])).get_vocabulary() == ["[UNK]", "b", "a"]


def test_constructor_takes_the_text_lines_of_a_crlf_vocabulary_file(tmp_path):
    layer = VocabEmbedding(4, vocabulary=write(tmp_path / "v.txt", b"the\r\ncat\r\n"))
    assert layer.token_to_id(["the", "cat"]).tolist() == [1, 2]


# set_vocabulary ------------------------------------------------------------------------------------------------


def test_set_vocabulary_refuses_another_order_once_built_and_keeps_the_rows():
    layer = string_layer()
    layer.build()
    before = layer.embeddings.numpy().copy()
    with pytest.raises(VocabularyChangeError, match="update_vocabulary"):
        layer.set_vocabulary(["c", "b", "a"])
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "c"]
    np.testing.assert_array_equal(layer.embeddings.numpy(), before)


@pytest.mark.parametrize("vocabulary", [None, 3])
def test_set_vocabulary_refuses_a_value_that_is_no_vocabulary(vocabulary):
    with pytest.raises(ConfigurationError, match="`vocabulary` must be"):
        VocabEmbedding(4).set_vocabulary(vocabulary)


# __call__ ------------------------------------------------------------------------------------------------------


def _expected_vectors(layer, keys, vocabulary, first_id):
    """Rows picked by an independent id computation: position in `vocabulary` plus `first_id`, else OOV."""
    keys = np.asarray(keys, dtype=object)
    positions = {canonical(t): i + first_id for i, t in enumerate(vocabulary)}
    ids = np.vectorize(lambda k: positions.get(canonical(k), 0 if k == "" else 1), otypes=[np.int64])(keys)
    return layer.embeddings.numpy()[ids]


@pytest.mark.parametrize(
    "keys",
    [
        "b",
        np.full([1, 1, 1, 1, 2], "a"),
        np.zeros([0], dtype=str),
        np.zeros([0, 3], dtype=str),
        np.array([["", ""], ["", ""]]),
    ],
    ids=["scalar", "rank-5", "empty", "empty-2d", "all-padding"],
)
def test_call_gives_one_vector_per_key_for_any_shape(keys):
    layer = string_layer()
    outputs = layer(tf.constant(keys))
    assert outputs.shape == np.shape(keys) + (4,)
    np.testing.assert_array_equal(outputs.numpy(), _expected_vectors(layer, keys, ["a", "b", "c"], 2))


def test_call_masks_every_key_of_an_all_padding_batch():
    layer = string_layer()
    np.testing.assert_array_equal(layer.compute_mask(tf.constant([["", ""]])).numpy(), [[False, False]])


def test_call_keeps_empty_ragged_rows():
    layer = string_layer()
    outputs = layer(tf.ragged.constant([[], ["a"], []], dtype=tf.string))
    assert outputs.row_lengths().numpy().tolist() == [0, 1, 0]


def test_call_on_3d_ragged_keys_gives_each_key_its_vector_in_the_same_rows():
    layer = string_layer()
    keys = [[["a", "x"], []], [["", "c", "b"]]]
    outputs = layer(tf.ragged.constant(keys))
    assert isinstance(outputs, tf.RaggedTensor) and outputs.shape.as_list() == [2, None, None, 4]
    assert outputs.to_list()[0][1] == [] and outputs.bounding_shape().numpy().tolist() == [2, 2, 3, 4]
    flat = [key for example in keys for row in example for key in row]
    np.testing.assert_array_equal(outputs.flat_values.numpy(), _expected_vectors(layer, flat, ["a", "b", "c"], 2))
    assert layer.compute_mask(tf.ragged.constant(keys)) is None  # The row lengths say where the values are.


def test_call_refuses_a_sparse_tensor_naming_the_fix():
    with pytest.raises(KeyDtypeError, match=r"tf\.sparse\.to_dense"):
        string_layer()(tf.sparse.from_dense(tf.constant([["a", "b"]])))


@pytest.mark.parametrize(
    "keys", [[1, 2], np.array([1.5]), np.array([True]), None], ids=["int", "float", "bool", "None"]
)
def test_call_refuses_keys_that_are_not_strings_in_a_string_layer(keys):
    with pytest.raises(KeyDtypeError):
        string_layer()(keys)


@pytest.mark.parametrize("keys", [["1"], np.array([1.0])], ids=repr)
def test_call_refuses_keys_that_are_not_int64_ids_in_an_int64_layer(keys):
    with pytest.raises(KeyDtypeError, match="vocabulary_dtype='int64'"):
        VocabEmbedding(4, vocabulary=[1, 2], vocabulary_dtype="int64")(keys)


def test_call_takes_uint64_ids_that_fit_in_int64_and_refuses_the_others():
    layer = VocabEmbedding(4, vocabulary=[1, 2], vocabulary_dtype="int64")
    np.testing.assert_array_equal(layer(np.array([2], np.uint64)), layer(np.array([2], np.int64)))
    with pytest.raises(KeyDtypeError, match="int64"):
        layer(np.array([2**63], np.uint64))


def test_call_in_a_sequential_without_input_names_the_missing_keras_input():
    model = keras.Sequential([VocabEmbedding(4, vocabulary=["a"]), keras.layers.GlobalAveragePooling1D()])
    with pytest.raises(KeyDtypeError, match=r"keras.Input\(shape=\(None,\), dtype='string'\)"):
        model.predict(tf.constant([["a"]]), verbose=0)


@pytest.mark.parametrize(
    "build",
    [
        lambda model: model.build((None, 3)),
        lambda model: model.predict(np.array([[1, 2, 0]]), verbose=0),
        lambda model: model.predict(np.array([[1.0, 2.0, 0.0]]), verbose=0),
    ],
    ids=["build", "predict ids", "predict floats"],
)
def test_an_id_embedding_first_in_a_sequential_without_input_names_the_missing_keras_input(build):
    # It said only "received a symbolic input of dtype float32. Build the model from `keras.Input(...)` and map a
    # `layer.lookup()` over the data": nothing about the Sequential, which builds its first layer on float32
    # placeholders whatever the data (ids included).
    model = keras.Sequential([VocabIdEmbedding(4, vocabulary=["a", "b"]), keras.layers.Dense(2)])
    with pytest.raises(KeyDtypeError, match=r"first in the keras\.Sequential") as raised:
        build(model)
    assert "`keras.Input(shape=(None,), dtype='int64')`" in str(raised.value)
    fixed = keras.Sequential(
        [keras.Input(shape=(None,), dtype="int64"), VocabIdEmbedding(4, vocabulary=["a", "b"]), keras.layers.Dense(2)]
    )
    assert fixed.predict(np.array([[1, 2, 0]]), verbose=0).shape == (1, 3, 2)


def test_a_string_embedding_first_in_a_sequential_without_input_names_the_missing_keras_input():
    model = keras.Sequential([VocabEmbedding(4, vocabulary=["a"]), keras.layers.Dense(2)])
    with pytest.raises(KeyDtypeError, match=r"first in the keras\.Sequential") as raised:
        model.build((None, 3))
    assert "`keras.Input(shape=(None,), dtype='string')`" in str(raised.value)


@pytest.mark.parametrize(
    "model",
    [
        lambda layer: layer(keras.Input((3,))),
        lambda layer: keras.Sequential([keras.Input((3,), dtype="int64"), keras.layers.Dense(3), layer]),
    ],
    ids=["functional float input", "floats from a layer of a sequential"],
)
def test_an_id_embedding_given_real_floats_keeps_the_message_about_floats(model):
    with pytest.raises(KeyDtypeError, match=r"received a symbolic input of dtype float32\. Build") as raised:
        model(VocabIdEmbedding(4, vocabulary=["a", "b"]))
    assert "Sequential" not in str(raised.value)


@pytest.mark.parametrize(
    "use",
    [
        lambda layer: layer(["a"]),
        lambda layer: layer.get_vocabulary(),
        lambda layer: layer.vocabulary_size(),
        lambda layer: layer.get_vectors(["a"]),
        lambda layer: layer.set_weights([np.zeros((3, 4), "float32")]),
        lambda layer: layer(keras.Input((None,), dtype="string")),
    ],
    ids=["call", "get_vocabulary", "vocabulary_size", "get_vectors", "set_weights", "symbolic call"],
)
def test_using_a_layer_without_vocabulary_says_to_adapt(use):
    with pytest.raises(NotAdaptedError, match="call `adapt"):
        use(VocabEmbedding(4))


@pytest.mark.parametrize(
    "data",
    [tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string)).batch(2), [["", "[UNK]"], [""]]],
    ids=["empty dataset", "only special tokens"],
)
def test_adapt_without_tokens_names_the_special_tokens_and_the_fix(data):
    with pytest.raises(
        VocabularyError,
        match=r"found no tokens to keep: the data was empty, or held only the mask token '' and OOV token "
        r"'\[UNK\]'\. Adapt on data that holds tokens .* or pass `vocabulary=`",
    ):
        VocabEmbedding(4, mask_token="").adapt(data)


@pytest.mark.parametrize(
    ("layer_class", "unknown"),
    [
        (VocabEmbedding, "the size of its embedding matrix"),
        (VocabIdEmbedding, "the size of its embedding matrix"),
        (TextVocabEmbedding, "the size of its embedding matrix"),
        (VocabLookup, "the id of every key"),
        (TextVocabLookup, "the id of every key"),
    ],
)
def test_a_layer_without_vocabulary_says_what_it_cannot_know_and_to_adapt(layer_class, unknown):
    # A lookup said "the size of its embedding matrix is unknown": it has none.
    layer = layer_class(4) if "Embedding" in layer_class.__name__ else layer_class()
    with pytest.raises(NotAdaptedError, match=rf"has no vocabulary yet, so {unknown} is unknown\. .*call `adapt"):
        layer.vocabulary_size()


@pytest.mark.parametrize(
    ("standardize", "text", "empty"),
    [
        ("lower_and_strip_punctuation", ["", "!? ."], "whitespace and punctuation \\(standardize="),
        ("lower", [" ", "\t"], "whitespace\\. Adapt on data that holds tokens"),
    ],
)
def test_text_adapt_without_tokens_says_what_the_text_held_and_the_fix(standardize, text, empty):
    with pytest.raises(VocabularyError, match=rf"found no tokens to keep: the text was empty or held only {empty}"):
        TextVocabEmbedding(4, standardize=standardize).adapt(text)


def test_text_adapt_where_no_token_reaches_min_frequency_gives_the_highest_count():
    with pytest.raises(
        VocabularyError, match=r"none of the 2 distinct tokens reached min_frequency=3 \(the most frequent"
    ):
        TextVocabEmbedding(4, min_frequency=3).adapt(["a b a"])


def test_adapt_where_no_token_reaches_min_frequency_gives_the_highest_count_and_the_fix():
    # It said "the data was empty, held only the mask and OOV tokens, or no token reached min_frequency=5".
    with pytest.raises(
        VocabularyError,
        match=r"none of the 2 distinct tokens reached min_frequency=5 \(the most frequent was seen 3 time\(s\)\)\. "
        r"Lower `min_frequency`",
    ):
        VocabEmbedding(4, min_frequency=5).adapt([["a", "b", "a"], ["a"]])


# compute_mask ------------------------------------------------------------------------------------------------


def test_compute_mask_of_a_scalar_is_a_scalar():
    layer = string_layer()
    assert layer.compute_mask(tf.constant("")).numpy().tolist() is False
    assert layer.compute_mask(tf.constant("a")).numpy().tolist() is True


def test_compute_mask_without_a_mask_token_is_none():
    assert string_layer(mask_token=None).compute_mask(tf.constant(["a"])) is None


def test_compute_mask_refuses_keys_of_the_wrong_dtype():
    with pytest.raises(KeyDtypeError):
        string_layer().compute_mask(tf.constant([1]))


# token_to_id / id_to_token / get_vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("keys", [None, 1, [1.5]], ids=repr)
def test_token_to_id_refuses_keys_that_are_not_strings(keys):
    with pytest.raises(KeyDtypeError):
        string_layer().token_to_id(keys)


def test_token_to_id_of_ragged_tokens_keeps_the_rows():
    assert string_layer().token_to_id([["a"], ["b", "zz"]]) == [[2], [3, 1]]


@pytest.mark.parametrize("index", [-1, 5, 2**70, np.int64(-(2**63))], ids=repr)
def test_id_to_token_refuses_an_id_outside_the_layer(index):
    with pytest.raises(UnknownIdError, match="has ids 0 to 4"):
        string_layer().id_to_token(index)


def test_get_vectors_of_a_scalar_token_is_one_vector():
    layer = string_layer()
    np.testing.assert_array_equal(layer.get_vectors("c"), layer.embeddings.numpy()[4])


# VocabEmbedding.from_config (hand-edited configs) ----------------------------------------------------------------


def _edited_config(**changes):
    config = string_layer(name="emb").get_config()
    config.update(changes)
    return config


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"vocabulary_size": 99}, VocabularyMismatchError, "records vocabulary_size=99"),
        ({"vocabulary_dtype": "float32"}, ConfigurationError, "vocabulary_dtype"),
        ({"vocabulary_dtype": "int64"}, KeyDtypeError, "int64 vocabulary takes integer tokens"),
        ({"vocabulary": ["a", "a", "c"]}, DuplicateTokenError, "'a' twice"),
        ({"vocabulary": ["!!!", "b"], "vocabulary_encoding": "base64"}, VocabularyError, "base64"),
        ({"vocabulary_encoding": "latin-1"}, VocabularyError, "Unknown token encoding"),
        ({"vocabulary": "abc"}, VocabularyError, "Expected a list of tokens"),
        ({"vocabulary": [1, 2, 3]}, KeyDtypeError, "string vocabulary takes str or bytes"),
    ],
    ids=lambda value: repr(value) if isinstance(value, dict) else "",
)
def test_from_config_refuses_a_hand_edited_config(changes, error, message):
    with pytest.raises(error, match=message):
        VocabEmbedding.from_config(_edited_config(**changes))


@LAYER_SETTINGS
@given(tokens=st.lists(any_token, min_size=1, max_size=12), mask=st.booleans())
def test_config_round_trips_any_tokens(tokens, mask):
    tokens = [t for t in distinct(tokens) if canonical(t) not in (b"", b"[UNK]")] or ["x"]
    layer = VocabEmbedding(3, vocabulary=tokens, mask_token="" if mask else None)
    config = json.loads(json.dumps(layer.get_config()))
    again = VocabEmbedding.from_config(config)
    assert [canonical(t) for t in again.get_vocabulary()] == [canonical(t) for t in layer.get_vocabulary()]
    assert [canonical(t) for t in again.get_vocabulary(include_special_tokens=False)] == [canonical(t) for t in tokens]


# load_own_variables / load_weights (hand-corrupted weights) -----------------------------------------------------------


def _saved_store(layer):
    store = {}
    layer.save_own_variables(store)
    return {key: keras.ops.convert_to_numpy(value) for key, value in store.items()}


def _shift(values):
    return values + 1


CORRUPTIONS = {
    "offsets shifted": ("vocabulary_offsets", _shift),
    "offsets reversed": ("vocabulary_offsets", lambda v: v[::-1]),
    "offsets as floats": ("vocabulary_offsets", lambda v: v.astype("float32") + 0.5),
    "offsets 2-D": ("vocabulary_offsets", lambda v: v.reshape(1, -1)),
    "offsets missing": ("vocabulary_offsets", None),
    "bytes as floats": ("vocabulary", lambda v: v.astype("float64") + 0.25),
    "bytes as strings": ("vocabulary", lambda v: np.array([b"abc"])),
    "bytes missing": ("vocabulary", None),
    "matrix truncated": ("0", lambda v: v[:3]),
    "matrix of another output_dim": ("0", lambda v: v[:, :2]),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_load_own_variables_refuses_a_corrupt_store_and_keeps_the_rows(corruption):
    key, edit = CORRUPTIONS[corruption]
    source = string_layer()
    source.build()
    store = _saved_store(source)
    if edit is None:
        del store[key]
    else:
        store[key] = edit(store[key])
    target = string_layer()
    target.build()
    before = target.embeddings.numpy().copy()
    with pytest.raises(VocabularyMismatchError):
        target.load_own_variables(store)
    np.testing.assert_array_equal(target.embeddings.numpy(), before)


def test_load_own_variables_says_the_offsets_of_string_tokens_are_missing_not_that_the_tokens_are_integers():
    source = string_layer()
    source.build()
    store = _saved_store(source)
    del store["vocabulary_offsets"]
    with pytest.raises(VocabularyMismatchError, match=r"corrupt: its `vocabulary_offsets` array.* is missing"):
        string_layer().load_own_variables(store)


def test_load_own_variables_refuses_int_tokens_for_a_string_layer():
    source = VocabEmbedding(4, vocabulary=[1, 2], vocabulary_dtype="int64")
    source.build()
    with pytest.raises(VocabularyMismatchError, match="integer vocabulary"):
        string_layer().load_own_variables(_saved_store(source))


def test_load_own_variables_refuses_float_ids_for_an_int64_layer():
    layer = VocabEmbedding(4, vocabulary=[1, 2], vocabulary_dtype="int64")
    layer.build()
    store = _saved_store(layer)
    store["vocabulary"] = store["vocabulary"].astype("float64") + 0.5
    with pytest.raises(VocabularyMismatchError, match="corrupt"):
        layer.load_own_variables(store)


def _model(name="emb"):
    inputs = keras.Input((None,), dtype="string", name="tokens")
    return keras.Model(inputs, VocabEmbedding(4, vocabulary=["a", "b", "c"], mask_token="", name=name)(inputs))


@pytest.mark.parametrize("key", ["vocabulary", "vocabulary_offsets"])
def test_load_weights_refuses_a_hand_edited_weights_file_with_our_message(tmp_path, key):
    path = str(tmp_path / "m.weights.h5")
    _model().save_weights(path)
    with h5py.File(path, "r+") as f:
        (group,) = [f[name] for name in ("layers/vocab_embedding/vars",)]
        values = group[key][()]
        del group[key]
        group[key] = values.astype("float64") + 0.5
    model = _model()
    before = model.get_layer("emb").embeddings.numpy().copy()
    with pytest.raises(ValueError, match="saved vocabulary of VocabEmbedding 'emb' is corrupt"):
        model.load_weights(path)
    np.testing.assert_array_equal(model.get_layer("emb").embeddings.numpy(), before)


# TextVocabEmbedding(...) -------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="test_hostile")
def _registered_split(text):
    return tf.strings.split(text)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"standardize": "upper"}, "standardize"),
        ({"standardize": ["lower"]}, "standardize"),
        ({"standardize": lambda text: text}, "standardize"),
        ({"split": "space"}, "split"),
        ({"split": ["whitespace"]}, "split"),
        ({"normalization_form": "nfc"}, "normalization_form"),
        ({"normalization_form": ["NFC"]}, "normalization_form"),
        ({"encoding_errors": "ignore"}, "encoding_errors"),
        ({"encoding_errors": ["strict"]}, "encoding_errors"),
        ({"split": "regex", "split_pattern": "("}, "split_pattern"),
        ({"split": "regex", "split_pattern": "(?=a)"}, "split_pattern"),
        ({"split": "regex", "split_pattern": b" "}, "split_pattern"),
        ({"split": "regex"}, "split_pattern"),
        ({"split_pattern": " "}, "split_pattern"),
        ({"ngrams": 0}, "ngrams"),
        ({"ngrams": True}, "ngrams"),
        ({"ngrams": "2"}, "ngrams"),
        ({"ngrams": 10**9}, "ngrams"),
        ({"ngrams": (1, 65)}, "ngrams"),
        ({"ngrams": (2, 2)}, "ngrams"),
        ({"ngrams": 2, "split": "wordpiece", "max_tokens": 10}, "ngrams"),
        ({"output_sequence_length": 0}, "output_sequence_length"),
        ({"output_sequence_length": 2.0}, "output_sequence_length"),
        ({"output_sequence_length": 3, "mask_token": None}, "output_sequence_length"),
        ({"return_ids": 1}, "return_ids"),
        ({"mask_token": "x"}, "mask_token"),
        ({"oov_token": 1}, "oov_token"),
        ({"reserved_tokens": "[CLS]"}, "reserved_tokens"),
        ({"reserved_tokens": [""]}, "reserved_tokens"),
        ({"reserved_tokens": [1]}, "reserved_tokens"),
        ({"reserved_tokens": [None]}, "reserved_tokens"),
        ({"reserved_tokens": ["a", "a"]}, "reserved_tokens"),
        ({"reserved_tokens": ["[UNK]"]}, "reserved_tokens"),
        ({"reserved_tokens": ["\ud800"]}, "reserved_tokens"),
        ({"reserved_tokens": {"a"}}, "reserved_tokens"),
        ({"vocabulary_dtype": "int64"}, "vocabulary_dtype"),
        ({"vocabulary_dtype": ["string"]}, "vocabulary_dtype"),
    ],
    # A callable's repr holds its address, which differs between pytest-xdist workers.
    ids=lambda case: (
        repr({key: "<callable>" if callable(value) else value for key, value in case.items()})
        if isinstance(case, dict)
        else repr(case)
    ),
)
def test_text_constructor_refuses_a_bad_argument_naming_it(kwargs, argument):
    with pytest.raises(ConfigurationError, match=argument):
        TextVocabEmbedding(4, **kwargs)


def test_text_constructor_takes_reserved_tokens_from_a_generator():
    layer = TextVocabEmbedding(4, reserved_tokens=(t for t in ["[CLS]", "[SEP]"]))
    layer.adapt(["the cat"])
    assert layer.get_vocabulary()[2:4] == ["[CLS]", "[SEP]"]


def test_text_adapt_with_wordpiece_refuses_a_missing_max_tokens():
    with pytest.raises(ConfigurationError, match="max_tokens"):
        TextVocabEmbedding(4, split="wordpiece").adapt(["a b"])


# TextVocabEmbedding.__call__ / tokenize / compute_mask / get_vectors -----------------------------------------------


def text_layer(**kwargs):
    kwargs.setdefault("vocabulary", ["a", "b"])
    kwargs.setdefault("output_sequence_length", 3)
    return TextVocabEmbedding(4, name="text", **kwargs)


@pytest.mark.parametrize(
    "text",
    [np.array([["a"] * 3] * 2), tf.constant([[["a"]]]), tf.ragged.constant([["a"], ["a", "b"]]), [["a"], ["a", "b"]]],
    ids=["(2, 3)", "(1, 1, 1)", "ragged", "ragged list"],
)
def test_text_call_refuses_text_of_another_shape(text):
    with pytest.raises(TextInputError, match=r"shape \(\), \(batch,\) or \(batch, 1\)"):
        text_layer()(text)


@pytest.mark.parametrize("text", [[1, 2], np.array([1.5]), np.array([True]), None, [None]], ids=repr)
def test_text_call_refuses_values_that_are_not_strings(text):
    with pytest.raises(KeyDtypeError):
        text_layer()(text)


@pytest.mark.parametrize("shape", [(0,), (0, 1)])
def test_text_call_of_an_empty_batch_is_empty(shape):
    assert text_layer()(tf.zeros(shape, tf.string)).shape == (0, 3, 4)


def test_text_call_of_empty_and_blank_strings_is_all_padding():
    layer = text_layer()
    text = tf.constant(["", "   ", "\t\n"])
    np.testing.assert_array_equal(layer.compute_mask(text).numpy(), np.zeros((3, 3), dtype=bool))
    np.testing.assert_array_equal(layer(text).numpy(), np.broadcast_to(layer.embeddings.numpy()[0], (3, 3, 4)))


def test_text_call_of_a_huge_string_truncates_to_the_sequence_length():
    layer = text_layer()
    vectors = layer(tf.constant(["b " + "a " * 500_000]))
    np.testing.assert_array_equal(vectors.numpy()[0], layer.embeddings.numpy()[[3, 2, 2]])


def test_text_call_of_a_scalar_has_no_batch_axis():
    assert text_layer()(tf.constant("a b")).shape == (3, 4)


def test_text_call_replaces_bytes_that_are_not_utf8_by_default():
    layer = text_layer()
    np.testing.assert_array_equal(layer.token_to_id(["\ufffd"]), [1])
    np.testing.assert_array_equal(layer(tf.constant([b"\xff a"])).numpy()[0], layer.embeddings.numpy()[[1, 2, 0]])


def test_text_call_refuses_bytes_that_are_not_utf8_when_strict():
    with pytest.raises(TextEncodingError, match="encoding_errors='strict'"):
        text_layer(encoding_errors="strict")(tf.constant([b"ok", b"\xff"]))


def test_text_call_on_a_symbolic_input_of_another_shape_is_refused():
    with pytest.raises(TextInputError, match=r"Received: shape \(None, 3\)"):
        text_layer()(keras.Input((3,), dtype="string"))


@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_text_call_on_a_symbolic_input_that_is_not_a_string_is_refused_when_the_model_is_built(dtype):
    with pytest.raises(KeyDtypeError, match=r"keras.Input\(shape=\(\), dtype='string'\)"):
        text_layer()(keras.Input((), dtype=dtype))


@pytest.mark.parametrize("method", ["tokenize", "compute_mask"])
def test_text_tokenize_and_compute_mask_refuse_text_of_another_shape(method):
    with pytest.raises(TextInputError):
        getattr(text_layer(), method)(np.array([["a"] * 3] * 2))


def test_text_get_vectors_refuses_a_ragged_tensor():
    with pytest.raises(TextInputError, match="not a ragged tensor"):
        text_layer().get_vectors([["a"], ["a", "b"]])


@LAYER_SETTINGS
@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_text_call_masks_exactly_the_tokens_that_tokenize_finds(texts):
    layer = text_layer()
    text = tf.constant(texts)
    lengths = np.minimum([len(row) for row in layer.tokenize(text).to_list()], 3)
    mask = layer.compute_mask(text).numpy()
    assert layer(text).shape == (len(texts), 3, 4)
    np.testing.assert_array_equal(mask, np.arange(3)[None, :] < lengths[:, None])


# TextVocabEmbedding.from_config ------------------------------------------------------------------------------------


def test_text_from_config_refuses_a_split_callable_that_cannot_be_restored():
    config = text_layer(split=_registered_split).get_config()
    gone = "gone>split"
    config["split"] = {"module": None, "class_name": "function", "config": gone, "registered_name": gone}
    with pytest.raises(ConfigurationError, match="`split` callable that cannot be restored"):
        TextVocabEmbedding.from_config(config)


def test_text_from_config_restores_a_registered_split():
    layer = text_layer(split=_registered_split)
    again = TextVocabEmbedding.from_config(json.loads(json.dumps(layer.get_config())))
    assert again.tokenize(["a b"]).to_list() == [[b"a", b"b"]]


# export_for_serving ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def serving_model():
    return _model()


def _versions(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


@pytest.mark.parametrize(
    "model",
    [None, VocabEmbedding(4, vocabulary=["a"]), keras.Sequential([VocabEmbedding(4, vocabulary=["a"])])],
    ids=["None", "layer", "unbuilt"],
)
def test_export_refuses_something_that_is_not_a_built_model(tmp_path, model):
    with pytest.raises(ConfigurationError, match="`model`"):
        export_for_serving(model, tmp_path / "m")
    assert _versions(tmp_path / "m") == []


def test_export_refuses_a_subclassed_model_without_symbolic_inputs(tmp_path):
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.words = VocabEmbedding(4, vocabulary=["a"])

        def call(self, x):
            return self.words(x)

    model = Subclassed()
    model(tf.constant([["a"]]))
    with pytest.raises(ConfigurationError, match="no symbolic inputs"):
        export_for_serving(model, tmp_path / "m")


@pytest.mark.parametrize("base_path", [None, 5, ""], ids=repr)
def test_export_refuses_a_base_path_that_is_not_a_path(serving_model, base_path):
    with pytest.raises(ConfigurationError, match="`base_path` must be a non-empty path"):
        export_for_serving(serving_model, base_path)


def test_export_refuses_a_base_path_that_is_a_file(serving_model, tmp_path):
    path = write(tmp_path / "file", b"x")
    with pytest.raises(ConfigurationError, match="is a file"):
        export_for_serving(serving_model, path)


@pytest.mark.parametrize("version", ["1", 1.0, True, -1, 2**63], ids=repr)
def test_export_refuses_a_version_that_is_not_a_non_negative_int64(serving_model, tmp_path, version):
    with pytest.raises(ConfigurationError, match="`version` must be a non-negative integer"):
        export_for_serving(serving_model, tmp_path, version=version)
    assert _versions(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_names": 5},
        {"input_names": "tokens"},
        {"input_names": ["a", "b"]},
        {"input_names": ["a b"]},
        {"output_names": {"missing": "y"}},
        {"output_names": [1]},
        {"vocabulary_signatures": "yes"},
        {"strict": 1},
        {"target": "tf==2.1"},
        {"target": 5},
        {"target": ["core"]},
        {"target": {"tensorflow_text": 2.12}},
        {"target": OpTarget("bogus")},
        {"target": OpTarget("tensorflow-text")},
        {"warmup_inputs": {"tokens": ["a", "b"]}},
        {"warmup_inputs": {"tokens": [[1, 2]]}},
        {"warmup_inputs": {"other": [["a"]]}},
        {"warmup_inputs": {"tokens": None}},
        {"warmup_inputs": [["a"]]},
        {"warmup_inputs": []},
        {"warmup_inputs": "a"},
        {"warmup_inputs": [{"tokens": [["a"]]}] * 1001},
    ],
    ids=repr,
)
def test_export_refuses_a_bad_argument_and_writes_nothing(serving_model, tmp_path, kwargs):
    with pytest.raises(ConfigurationError):
        export_for_serving(serving_model, tmp_path, **kwargs)
    assert _versions(tmp_path) == []


@pytest.mark.slow
def test_export_refuses_an_existing_version_and_keeps_it(serving_model, tmp_path):
    path = export_for_serving(serving_model, tmp_path, version=7)
    before = sorted(os.listdir(path))
    with pytest.raises(VersionExistsError):
        export_for_serving(serving_model, tmp_path, version=7)
    assert _versions(tmp_path) == ["7"] and sorted(os.listdir(path)) == before


# audit_ops ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [None, 5, ""], ids=repr)
def test_audit_refuses_a_path_that_is_not_a_path(path):
    with pytest.raises(ConfigurationError, match="`saved_model_path` must be a non-empty path"):
        audit_ops(path)


def test_audit_refuses_a_missing_path_or_a_file(tmp_path):
    for path in (tmp_path / "missing", write(tmp_path / "file", b"x")):
        with pytest.raises(ConfigurationError, match="must be a SavedModel directory"):
            audit_ops(path)


def test_audit_of_a_base_path_names_its_versions(tmp_path):
    (tmp_path / "3").mkdir()
    with pytest.raises(ConfigurationError, match=r"holds versions \[3\]"):
        audit_ops(tmp_path)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("saved_model.pb", b"\x00garbage\xff" * 10, "cannot be read as a SavedModel"),
        ("saved_model.pb", b"", "holds no graph"),
        ("saved_model.pbtxt", b"not { a pbtxt", "cannot be read as a SavedModel"),
        ("saved_model.pbtxt", b"\xff\xfe", "cannot be read as a SavedModel"),
    ],
    ids=["corrupt pb", "empty pb", "corrupt pbtxt", "pbtxt not utf-8"],
)
def test_audit_refuses_a_corrupt_saved_model_file(tmp_path, name, data, message):
    write(tmp_path / name, data)
    with pytest.raises(ModelFileError, match=rf"{name} {message}"):
        audit_ops(tmp_path)


@pytest.mark.parametrize(
    "target", ["bogus", 3, "tensorflow-text==1.0", "tensorflow-text==2.1", OpTarget("nope")], ids=repr
)
def test_audit_refuses_an_unknown_target_before_reading(tmp_path, target):
    with pytest.raises(ConfigurationError, match="`target`"):
        audit_ops(tmp_path, target=target)


# warmstart_embedding_matrix --------------------------------------------------------------------------------------


@pytest.mark.parametrize("matrix", [np.zeros((3, 2)), np.zeros(2), np.zeros((2, 2, 1))], ids=["rows", "1-D", "3-D"])
def test_warmstart_refuses_a_matrix_that_does_not_match_the_base_vocabulary(matrix):
    with pytest.raises(ConfigurationError, match="one row per token of `base_vocabulary`"):
        warmstart_embedding_matrix(["a", "b"], ["a"], matrix)


def test_warmstart_refuses_ids_mixed_with_strings():
    with pytest.raises(KeyDtypeError):
        warmstart_embedding_matrix(["a", 1], ["a"], np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("base", "initializer", "message"),
    [(["a"], "nope", "`new_embeddings_initializer` must be"), ([], "mean", "at least one old token row")],
)
def test_warmstart_refuses_an_initializer_it_cannot_apply(base, initializer, message):
    with pytest.raises(ConfigurationError, match=message):
        warmstart_embedding_matrix(base, ["a", "b"], np.zeros((len(base), 2)), initializer)


def test_warmstart_refuses_a_repeated_new_token():
    with pytest.raises(DuplicateTokenError):
        warmstart_embedding_matrix(["a"], ["a", "a"], np.zeros((1, 2)))


@given(st.lists(st.text(max_size=4), min_size=1, max_size=10, unique=True), st.randoms(use_true_random=False))
def test_warmstart_keeps_every_shared_token_row_whatever_the_new_order(tokens, random):
    new = list(tokens)
    random.shuffle(new)
    base = np.arange(len(tokens) * 2, dtype=np.float32).reshape(len(tokens), 2)
    matrix = warmstart_embedding_matrix(tokens, new, base, "zeros")
    np.testing.assert_array_equal(matrix, base[[tokens.index(t) for t in new]])


# load_remapped_weights -------------------------------------------------------------------------------------------


def test_load_remapped_weights_refuses_a_model_without_vocab_embedding(tmp_path):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ConfigurationError, match="no VocabEmbedding or VocabIdEmbedding layer"):
        load_remapped_weights(model, tmp_path / "any.weights.h5")


# VocabEmbedding: arguments refused at construction or build (issue 10 sweep, layer part) ------------------------


@pytest.mark.parametrize(
    ("argument", "value"),
    [("embeddings_initializer", "nope"), ("embeddings_regularizer", "nope"), ("embeddings_constraint", 3.5)],
)
def test_constructor_refuses_an_initializer_regularizer_or_constraint_keras_cannot_read(argument, value):
    with pytest.raises(ConfigurationError, match=f"`{argument}` must be a Keras object"):
        string_layer(**{argument: value})


@pytest.mark.parametrize("rows", [3, 2.0, object()])
def test_constructor_refuses_trainable_rows_that_are_not_a_list(rows):
    with pytest.raises(ConfigurationError, match="`trainable_rows` must be a list of non-negative ids"):
        string_layer(trainable_rows=rows)


def test_trainable_rows_from_a_generator_are_read_once_not_lost():
    # The ids were checked by iterating the generator, then read again from it, empty: every row froze silently.
    layer = VocabEmbedding(4, vocabulary=["a", "b", "c"], trainable_rows=(row for row in [3, 1]))
    assert layer.trainable_rows == (1, 3)
    layer.build()
    assert tuple(layer.trainable_weights[0].shape) == (2, 4)


def test_trainable_rows_refuses_a_mapping():
    with pytest.raises(ConfigurationError, match="`trainable_rows` must be a list of non-negative ids"):
        string_layer(trainable_rows={1: "b", 2: "c"})


@pytest.mark.parametrize("dtype", ["int32", "bool", "string"])
def test_constructor_refuses_a_dtype_policy_that_is_not_floating_point(dtype):
    with pytest.raises(ConfigurationError, match="needs a floating-point dtype"):
        string_layer(dtype=dtype)


@pytest.mark.parametrize(
    "kwargs", [{"output_dim": 10**9}, {"pad_to_multiple_of": 10**12}, {"num_oov_indices": 10**12}], ids=str
)
def test_build_refuses_a_matrix_larger_than_memory_before_allocating(kwargs):
    # 100 tokens: an output_dim of a billion needs about 400 GB, more than any machine this runs on.
    layer = VocabEmbedding(**{"output_dim": 4, "vocabulary": [f"t{i}" for i in range(100)], **kwargs})
    with pytest.raises(ConfigurationError, match=r"would need a .* embedding matrix, about .* GiB"):
        layer.build()
    assert not layer.built


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"output_dim": -4}, ConfigurationError, "`output_dim` must be a positive integer"),
        ({"mask_token": 0}, ConfigurationError, "`mask_token` must be a str"),
        ({"max_tokens": 2}, ConfigurationError, "`max_tokens` must be an integer larger"),
        ({"num_oov_indices": "1"}, ConfigurationError, "`num_oov_indices` must be an integer"),
        ({"vocabulary": ["a", ""]}, ReservedTokenError, "lists its mask_token"),
        ({"embeddings_initializer": "nope"}, ConfigurationError, "`embeddings_initializer`"),
    ],
    ids=lambda value: repr(value) if isinstance(value, dict) else "",
)
def test_from_config_gives_the_constructors_typed_error_not_a_bare_type_error(changes, error, message):
    config = string_layer().get_config()
    config.pop("vocabulary_size")
    config.update(changes)
    with pytest.raises(error, match=message):
        VocabEmbedding.from_config(config)


def test_from_config_restores_a_serialized_dtype_policy():
    layer = string_layer(dtype="mixed_float16")
    config = layer.get_config()
    config["dtype"] = keras.dtype_policies.serialize(layer.dtype_policy)
    assert VocabEmbedding.from_config(config).dtype_policy.name == "mixed_float16"


@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_symbolic_keys_of_the_wrong_dtype_are_refused_when_the_model_is_built(dtype):
    with pytest.raises(KeyDtypeError, match=r"keras.Input\(shape=\(None,\), dtype='string'\)"):
        string_layer()(keras.Input((None,), dtype=dtype))


@pytest.mark.parametrize("ids", [1.5, "3", True, [1.0], np.array([0.5])])
def test_id_to_token_refuses_ids_that_are_not_integers(ids):
    with pytest.raises(KeyDtypeError, match="integer ids"):
        string_layer().id_to_token(ids)


def test_load_own_variables_refuses_a_store_without_a_matrix_when_built():
    layer = string_layer()
    layer.build()
    store = {}
    layer.save_own_variables(store)
    rows = layer.get_weights()[0]
    del store["0"]
    with pytest.raises(VocabularyMismatchError, match="no embedding matrix"):
        layer.load_own_variables(store)
    np.testing.assert_array_equal(layer.get_weights()[0], rows)


@pytest.mark.parametrize("matrix", [np.zeros(5, np.float32), np.zeros((5, 4), np.int64)], ids=["1-D", "int"])
def test_load_own_variables_refuses_a_matrix_that_is_not_a_float_matrix(matrix):
    layer = string_layer()
    layer.build()
    store = {}
    layer.save_own_variables(store)
    store["0"] = matrix
    with pytest.raises(VocabularyMismatchError, match=r"saved (output_dim|embedding matrix)"):
        layer.load_own_variables(store)


def test_set_weights_refuses_a_matrix_of_another_shape():
    layer = string_layer(trainable_rows=[1])
    layer.build()
    with pytest.raises(ConfigurationError, match=r"one matrix of shape \(5, 4\)"):
        layer.set_weights([np.zeros((4, 4))])


# adapt / update_vocabulary(data=) (the whole sweep: tests/test_data_inputs.py) -----------------------------------


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"tokens": ["a"]}, ConfigurationError, r"data\['tokens'\]"),
        ("abc", KeyDtypeError, "not a single str"),
        (tf.data.Dataset.from_tensor_slices({"tokens": ["a"]}), ConfigurationError, "dataset.map"),
    ],
    ids=["dict", "str", "dataset of dicts"],
)
def test_adapt_and_update_vocabulary_refuse_data_that_is_not_a_column_of_tokens(data, error, message):
    with pytest.raises(error, match=message):
        VocabEmbedding(4).adapt(data)
    layer = string_layer()
    with pytest.raises(error, match=message):
        layer.update_vocabulary(data=data)
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "c"]


# load_vectors / align_vectors / load_pretrained (the whole sweep: tests/test_vector_files_hostile.py) -----------


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"a 1 2\nb nan 3\n", "holds nan"), (b"\x1f\x8b\x08\x00", "")],
    ids=["nan", "truncated gzip"],
)
def test_load_vectors_refuses_a_bad_file_naming_it(tmp_path, content, message):
    path = write(tmp_path / ("v.txt.gz" if content.startswith(b"\x1f") else "v.txt"), content)
    with pytest.raises(VectorFileError, match=message):
        load_vectors(path)


def test_align_vectors_and_load_pretrained_refuse_a_directory(tmp_path):
    with pytest.raises(VectorFileError, match="directory"):
        align_vectors(tmp_path, ["a"])
    with pytest.raises(VectorFileError, match="directory"):
        string_layer().load_pretrained(tmp_path)


# VocabLookup / VocabIdEmbedding / split (the every-backend halves) ---------------------------------------------


def test_vocab_lookup_refuses_what_vocab_embedding_refuses():
    with pytest.raises(ConfigurationError, match="`num_oov_indices` must be an integer"):
        VocabLookup(num_oov_indices=0)
    with pytest.raises(KeyDtypeError, match="vocabulary_dtype='string'"):
        VocabLookup(vocabulary=["a"])(tf.constant([1, 2]))
    with pytest.raises(NotAdaptedError):
        VocabLookup()(tf.constant(["a"]))


def test_vocab_id_embedding_refuses_ids_that_are_not_integers():
    layer = VocabIdEmbedding(4, vocabulary=["a"])
    with pytest.raises(KeyDtypeError, match="takes integer ids"):
        layer(tf.constant([["a"]]))
    with pytest.raises(KeyDtypeError, match=r"keras.Input\(shape=\(None,\), dtype='int64'\)"):
        layer(keras.Input((None,), dtype="string"))


def test_check_lookup_refuses_a_lookup_of_another_vocabulary_or_another_object():
    embedding = VocabIdEmbedding(4, vocabulary=["a", "b"], mask_token="")
    with pytest.raises(VocabularyMismatchError, match="first differ at id 2"):
        embedding.check_lookup(VocabLookup(vocabulary=["b", "a"], mask_token=""))
    with pytest.raises(VocabularyMismatchError, match=r"first differ at id 2: lookup .\[UNK\]., embedding .a."):
        embedding.check_lookup(VocabLookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=2))
    with pytest.raises(ConfigurationError, match=r"takes a keras_vocabsafe\.VocabLookup"):
        embedding.check_lookup(keras.layers.StringLookup(vocabulary=["a", "b"]))


@pytest.mark.parametrize(
    "edit", [{"vocabulary": ["dog", "cat", "the"]}, {"oov_token": "<unk>"}, {"num_oov_indices": 2}], ids=str
)
def test_an_embedding_half_whose_lookup_config_sets_the_vocabulary_is_refused(edit):
    _, embedding = TextVocabEmbedding(4, ["the", "cat", "dog"], output_sequence_length=3).halves()
    config = json.loads(json.dumps(embedding.get_config()))
    config["lookup_config"]["config"].update(edit)  # Hand-edited: the lookup half would give other ids.
    with pytest.raises(ConfigurationError, match=rf"`lookup_config` must not set {next(iter(edit))}"):
        VocabIdEmbedding.from_config(config)


def test_halves_of_a_layer_without_vocabulary_says_to_adapt():
    with pytest.raises(NotAdaptedError):
        VocabEmbedding(4).halves()


@pytest.mark.parametrize("lookup", [None, "halves"], ids=["StringLookup", "ours"])
def test_from_lookup_takes_only_a_vocab_lookup(lookup):
    source = keras.layers.StringLookup(vocabulary=["a"]) if lookup is None else VocabLookup(vocabulary=["a"])
    if lookup is None:
        with pytest.raises(ConfigurationError, match=r"must be a keras_vocabsafe\.VocabLookup"):
            VocabIdEmbedding.from_lookup(source, 4)
    else:
        assert VocabIdEmbedding.from_lookup(source, 4).vocabulary_fingerprint == source.vocabulary_fingerprint


# load_weights / load_remapped_weights: files ------------------------------------------------------------------


@pytest.mark.parametrize("load", [load_weights, load_remapped_weights], ids=["load_weights", "load_remapped_weights"])
@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("missing.weights.h5", None, "does not exist"),
        ("folder.weights.h5", "dir", "is a directory"),
        ("weights.txt", "file", "is not a weights file Keras can load"),
        ("cut.weights.h5", "truncated", "could not be read as a Keras weights file"),
        ("cut.keras", "truncated", "could not be read as a Keras weights file"),
    ],
)
def test_weight_loaders_refuse_a_path_that_is_no_weights_file_naming_it(tmp_path, load, name, make, message):
    model = _pooled_model()
    path = tmp_path / name
    if make == "dir":
        path.mkdir()
    elif make == "file":
        path.write_text("a")
    elif make == "truncated":
        model.save_weights(tmp_path / "whole.weights.h5") if name.endswith(".h5") else model.save(tmp_path / "w.keras")
        whole = (tmp_path / ("whole.weights.h5" if name.endswith(".h5") else "w.keras")).read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    before = [v.numpy() for v in model.weights]
    with pytest.raises(ConfigurationError, match=message):
        load(model, path)
    for variable, value in zip(model.weights, before):
        np.testing.assert_array_equal(variable.numpy(), value)


# update_vocabulary ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs exactly one of `vocabulary`"),
        ({"vocabulary": ["a"], "data": ["a"]}, "needs exactly one of `vocabulary`"),
        ({"vocabulary": ["a"], "merge": True}, "`merge=True` adds tokens learned from `data`"),
        ({"vocabulary": ["a"], "max_tokens": 1}, r"`max_tokens` must be .* Use max_tokens=3 or more, or None"),
        ({"vocabulary": ["a"], "new_embeddings_initializer": "nope"}, "`new_embeddings_initializer` must be"),
        ({"vocabulary": ["a"], "seed": "x"}, "`seed` must be an int"),
        ({"vocabulary": ["a"], "model": "x"}, "`model` must be the keras.Model that holds"),
    ],
    ids=lambda value: repr(value) if isinstance(value, dict) else "",
)
def test_update_vocabulary_refuses_bad_arguments_and_changes_nothing(kwargs, message):
    layer = string_layer()
    layer.build()
    rows = layer.get_weights()[0]
    with pytest.raises(ConfigurationError, match=message):
        layer.update_vocabulary(**kwargs)
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "c"]
    np.testing.assert_array_equal(layer.get_weights()[0], rows)


def test_update_vocabulary_refuses_a_matrix_larger_than_memory_and_changes_nothing():
    layer = VocabEmbedding(10**6, vocabulary=["a"])  # A (2, 1e6) matrix; 200,000 tokens would need ~2.4 TB.
    layer.build()
    rows = layer.get_weights()[0]
    with pytest.raises(ConfigurationError, match=r"would need a \(200001, 1000000\) embedding matrix"):
        layer.update_vocabulary([f"t{i}" for i in range(200_000)])
    assert layer.get_vocabulary() == ["[UNK]", "a"]
    np.testing.assert_array_equal(layer.get_weights()[0], rows)


def test_update_vocabulary_refuses_a_model_that_does_not_hold_the_layer():
    layer = string_layer()
    layer.build()
    with pytest.raises(ConfigurationError, match="which does not hold this layer"):
        layer.update_vocabulary(["a", "d"], model=_pooled_model())


# TextVocabLookup / PretrainedVectors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs", [{"output_sequence_length": 0}, {"split": "nope"}, {"vocabulary_dtype": "int64"}], ids=str
)
def test_text_lookup_refuses_what_the_text_layer_refuses(kwargs):
    with pytest.raises(ConfigurationError):
        TextVocabLookup(**kwargs)


@pytest.mark.parametrize(
    ("text", "error"), [(np.array([[1, 2]]), KeyDtypeError), ([["a", "b"], ["c", "d"]], TextInputError)], ids=str
)
def test_text_lookup_refuses_input_that_is_not_one_string_per_example(text, error):
    with pytest.raises(error):
        TextVocabLookup(vocabulary=["a"])(text)


@pytest.mark.parametrize("vectors", [np.zeros((2, 3)), np.zeros(3)], ids=["rows", "1-D"])
def test_pretrained_vectors_refuses_a_matrix_that_does_not_match_its_vocabulary(vectors):
    with pytest.raises(ConfigurationError, match="one row per token"):
        PretrainedVectors(Vocabulary(["a"]), vectors)


@pytest.mark.parametrize(
    ("tokens", "vectors", "message"),
    [
        (["a"], np.zeros((1, 3)), r"`vocabulary` must be a keras_vocabsafe\.Vocabulary .* Received: list\. Pass "),
        (Vocabulary(["a"]), [[0.0, 1.0]], r"`vectors` must be a NumPy array.* Received: list\. Pass `np\.asarray"),
    ],
    ids=["token list", "nested list"],
)
def test_pretrained_vectors_refuses_a_list_naming_the_type_it_takes(tokens, vectors, message):
    # A list of tokens was kept, and `load_pretrained` then failed with "AttributeError: 'list' object has no
    # attribute 'tokens'"; a nested list of vectors failed at once with an AttributeError.
    with pytest.raises(ConfigurationError, match=message):
        PretrainedVectors(tokens, vectors)


# Keras workflows ---------------------------------------------------------------------------------------------------


TOKENS = tf.constant([["a", "b", ""], ["c", "zz", ""]])
LABELS = np.array([[1.0], [0.0]])


def _pooled_model(layer=None):
    layer = layer or VocabEmbedding(4, vocabulary=["a", "b", "c"], mask_token="", name="emb")
    inputs = keras.Input((None,), dtype="string", name="tokens")
    outputs = keras.layers.Dense(1, name="head")(keras.layers.GlobalAveragePooling1D()(layer(inputs)))
    return keras.Model(inputs, outputs)


def _predict(model, data=TOKENS):
    return model.predict(data, verbose=0)


def test_subclassed_model_trains_and_predicts():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.words = VocabEmbedding(4, vocabulary=["a", "b", "c"], mask_token="")
            self.pool = keras.layers.GlobalAveragePooling1D()
            self.head = keras.layers.Dense(1)

        def call(self, x):
            return self.head(self.pool(self.words(x)))

    model = Subclassed()
    model.compile("sgd", "mse")
    model(TOKENS)
    before = model.words.embeddings.numpy().copy()
    model.fit(TOKENS, LABELS, verbose=0)
    changed = np.any(model.words.embeddings.numpy() != before, axis=1)
    assert changed.tolist() == [False, True, True, True, True]  # Mask row untouched; "zz" trains the OOV row.


class _Wrapping(keras.Model):
    def __init__(self, layer):
        super().__init__(name="wrapping")
        self.words = layer

    def call(self, x):
        return self.words(x)


@pytest.mark.saving
@pytest.mark.parametrize(
    ("make", "keys", "dtype"),
    [
        (lambda: VocabEmbedding(3, vocabulary=["a", "b"]), [["a", "zz"]], "string"),
        (lambda: VocabEmbedding(3, vocabulary=[5, 6], vocabulary_dtype="int64"), [[5, 7]], "int64"),
        (lambda: VocabIdEmbedding(3, vocabulary=["a", "b"]), [[1, 2]], "int64"),
    ],
)
def test_keras_export_of_a_subclassed_model_names_the_input_signature_it_needs(tmp_path, make, keys, dtype):
    """Keras traces a subclassed model on float32 placeholders unless told the inputs' signature."""
    model = _Wrapping(make())
    keys = tf.constant(keys, dtype=dtype)
    expected = model(keys).numpy()
    with pytest.raises(
        KeyDtypeError, match=re.escape(f"input_signature=[tf.TensorSpec(shape=(None, None), dtype=tf.{dtype})]")
    ):
        model.export(tmp_path / "float", verbose=False)
    model.export(tmp_path / "keys", verbose=False, input_signature=[tf.TensorSpec((None, None), dtype)])
    reloaded = tf.saved_model.load(str(tmp_path / "keys"))  # Held: its functions need its variables alive.
    np.testing.assert_allclose(reloaded.serve(keys).numpy(), expected)


def test_nested_model_saves_and_loads_with_the_same_predictions(tmp_path):
    inner = _pooled_model()
    inputs = keras.Input((None,), dtype="string")
    outer = keras.Model(inputs, inner(inputs))
    outer.save(tmp_path / "nested.keras")
    again = keras.saving.load_model(tmp_path / "nested.keras")
    np.testing.assert_allclose(_predict(again), _predict(outer))


def test_shared_layer_model_saves_and_loads_with_one_matrix(tmp_path):
    words = VocabEmbedding(4, vocabulary=["a", "b", "c"], mask_token="", name="shared")
    first, second = keras.Input((None,), dtype="string"), keras.Input((None,), dtype="string")
    pooled = [keras.layers.GlobalAveragePooling1D()(words(x)) for x in (first, second)]
    model = keras.Model([first, second], keras.layers.Dense(1)(keras.layers.Concatenate()(pooled)))
    model.save(tmp_path / "shared.keras")
    again = keras.saving.load_model(tmp_path / "shared.keras")
    assert len([v for v in again.weights if "shared" in v.path]) == 1
    np.testing.assert_allclose(_predict(again, [TOKENS, TOKENS]), _predict(model, [TOKENS, TOKENS]))


@pytest.mark.parametrize("text", [False, True], ids=["VocabEmbedding", "TextVocabEmbedding"])
def test_clone_model_keeps_the_vocabulary(text):
    if text:
        inputs = keras.Input((), dtype="string")
        layer = TextVocabEmbedding(4, vocabulary=["a", "b"], output_sequence_length=3, name="emb")
        model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(layer(inputs)))
        data = tf.constant(["a b", "zz"])
    else:
        model, data = _pooled_model(), TOKENS
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    assert clone.get_layer("emb").get_vocabulary() == model.get_layer("emb").get_vocabulary()
    np.testing.assert_allclose(_predict(clone, data), _predict(model, data))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("text", [False, True], ids=["VocabEmbedding", "TextVocabEmbedding"])
def test_copied_layer_keeps_vocabulary_and_rows(how, text):
    layer = text_layer() if text else string_layer()
    layer.build()
    copied = copy.deepcopy(layer) if how == "deepcopy" else pickle.loads(pickle.dumps(layer))
    data = tf.constant(["a b", "zz"]) if text else TOKENS
    assert copied.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(copied(data).numpy(), layer(data).numpy())


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copied_model_predicts_the_same(how):
    model = _pooled_model()
    copied = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(_predict(copied), _predict(model))


def test_mixed_precision_keeps_float32_rows_and_survives_saving(tmp_path):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _pooled_model()
        model.compile("sgd", "mse")
        model.fit(TOKENS, LABELS, verbose=0)
        words = model.get_layer("emb")
        assert words.embeddings.dtype == "float32"
        assert words(TOKENS).dtype == tf.float16
        model.save(tmp_path / "mixed.keras")
    finally:
        keras.config.set_dtype_policy(previous)
    again = keras.saving.load_model(tmp_path / "mixed.keras")
    assert again.get_layer("emb").compute_dtype == "float16"
    np.testing.assert_array_equal(again.get_layer("emb").embeddings.numpy(), words.embeddings.numpy())


def test_layer_maps_over_a_batched_and_an_unbatched_dataset_alike():
    layer = string_layer()
    direct = layer(TOKENS).numpy()
    batched = next(iter(tf.data.Dataset.from_tensor_slices(TOKENS).batch(2).map(layer))).numpy()
    unbatched = np.stack([row.numpy() for row in tf.data.Dataset.from_tensor_slices(TOKENS).map(layer)])
    np.testing.assert_array_equal(batched, direct)
    np.testing.assert_array_equal(unbatched, direct)


_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, tensorflow as tf
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras_vocabsafe import VocabEmbedding

    ids = np.array([[1, 2, 0], [3, 0, 0], [1, 1, 0], [2, 0, 0]])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        words = VocabEmbedding(4, vocabulary=[1, 2, 3], vocabulary_dtype="int64", mask_token=0, name="emb")
        inputs = keras.Input((None,), dtype="int64")
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(words(inputs))))
        model.compile("sgd", "mse")
    before = words.embeddings.numpy().copy()
    model.fit(ids, np.ones((4, 1)), batch_size=4, epochs=2, verbose=0)
    changed = np.any(words.embeddings.numpy() != before, axis=1)
    replicas = [v.numpy() for v in words.embeddings.value.values] if hasattr(words.embeddings.value, "values") else []
    assert all(np.array_equal(r, replicas[0]) for r in replicas), "replicas differ"
    print(changed.tolist())
    """
)


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpus_trains_the_rows_of_seen_ids():
    # A separate process: logical devices must be configured before TensorFlow initializes them.
    result = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[False, False, True, True, True]"  # Mask and OOV rows unseen.


# The command line and vocabularies that keep their own ids (a hostile sweep of both) ----------------------------


def run_cli(capsys, *args):
    from keras_vocabsafe.cli import main

    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def glove(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("the 1 2\ncat 3 4\n", encoding="utf-8")
    return path


def test_vectors_align_refuses_an_output_that_is_an_input_through_a_symlink(tmp_path, capsys):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("the\ncat\n", encoding="utf-8")
    os.symlink(vocab, tmp_path / "link.txt")
    code, _, err = run_cli(
        capsys, "vectors", "align", glove(tmp_path), "--vocab", tmp_path / "link.txt", "-o", vocab, "--overwrite"
    )
    assert code == 2
    assert "one of the inputs" in err
    assert vocab.read_text(encoding="utf-8") == "the\ncat\n"  # The vocabulary is not overwritten by the matrix.


def test_vectors_align_refuses_a_directory_as_output_naming_it(tmp_path, capsys):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("the\ncat\n", encoding="utf-8")
    (tmp_path / "out").mkdir()
    code, _, err = run_cli(
        capsys, "vectors", "align", glove(tmp_path), "--vocab", vocab, "-o", tmp_path / "out", "--overwrite"
    )
    assert code == 2
    assert f"{tmp_path / 'out'} is a directory" in err
    assert ".vocabsafe-" not in err and os.listdir(tmp_path / "out") == []


def test_vectors_align_refuses_a_negative_seed_naming_the_option(tmp_path, capsys):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("the\ncat\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, "vectors", "align", glove(tmp_path), "--vocab", vocab, "-o", tmp_path / "m.npy", "--seed", "-5")
    assert exit_info.value.code == 2
    assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "m.npy").exists()


def test_written_files_get_the_mode_of_an_ordinary_write(tmp_path, capsys):
    # Atomic writes go through a temporary file; its mode must follow the umask (0o644 here), not stay private.
    previous = os.umask(0o022)
    try:
        Vocabulary(["the", "cat"]).save(tmp_path / "vocab.json")
        (tmp_path / "vocab.txt").write_text("the\ncat\n", encoding="utf-8")
        code, _, _ = run_cli(
            capsys, "vectors", "align", glove(tmp_path), "--vocab", tmp_path / "vocab.txt", "-o", tmp_path / "m.npy"
        )
    finally:
        os.umask(previous)
    assert code == 0
    assert oct(os.stat(tmp_path / "vocab.json").st_mode & 0o777) == oct(0o644)
    assert oct(os.stat(tmp_path / "m.npy").st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("existing_mode", [0o600, 0o664], ids=oct)
def test_written_files_keep_the_mode_of_the_file_they_replace_as_an_ordinary_write_does(
    tmp_path, capsys, existing_mode
):
    # Writing into an existing file keeps its permission bits; the atomic writes replace the file, so they carry
    # them over (Vocabulary.save and vocabsafe's outputs gave the umask's mode, save_model and save_weights did not).
    (tmp_path / "vocab.txt").write_text("the\ncat\n", encoding="utf-8")
    written = {name: tmp_path / name for name in ("ordinary.json", "vocab.json", "m.npy")}
    for path in written.values():
        path.write_bytes(b"old")
        path.chmod(existing_mode)
    previous = os.umask(0o022)
    try:
        with open(written["ordinary.json"], "w", encoding="utf-8") as file:
            file.write("new")
        Vocabulary(["the", "cat"]).save(written["vocab.json"])
        code, _, err = run_cli(
            capsys,
            "vectors",
            "align",
            glove(tmp_path),
            "--vocab",
            tmp_path / "vocab.txt",
            "-o",
            written["m.npy"],
            "--overwrite",
        )
    finally:
        os.umask(previous)
    assert code == 0, err
    modes = {name: oct(os.stat(path).st_mode & 0o7777) for name, path in written.items()}
    assert modes == dict.fromkeys(written, modes["ordinary.json"]) and modes["ordinary.json"] == oct(existing_mode)


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"model_or_path": None}, "model_or_path"), ({"model_or_path": 3}, "model_or_path"), ({"weights": 3}, "weights")],
    ids=["None", "int", "int-weights"],
)
def test_inspect_model_refuses_a_model_that_is_neither_a_model_nor_a_path(tmp_path, kwargs, argument):
    from keras_vocabsafe.inspection import inspect_model

    kwargs = {"model_or_path": str(tmp_path / "model.keras"), **kwargs}
    with pytest.raises(ConfigurationError, match=f"`{argument}` must be"):
        inspect_model(kwargs.pop("model_or_path"), **kwargs)


@pytest.mark.parametrize(
    "tokens, counts, kwargs, expected",
    [
        (["[PAD]", "[UNK]", "a", "b", "c"], [100, 50, 3, 2, 1], {"max_tokens": 4}, ["[PAD]", "[UNK]", "a", "b"]),
        (["[PAD]", "[UNK]", "a", "b", "c"], [100, 50, 3, 2, 1], {"min_frequency": 2}, ["[PAD]", "[UNK]", "a", "b"]),
        (["a", "[PAD]", "b", "[UNK]", "c"], [100, 50, 3, 2, 1], {"max_tokens": 4}, ["a", "[PAD]", "b", "[UNK]"]),
        (["a", "c", "[PAD]", "[UNK]", "b"], [5, 1, 9, 9, 4], {"min_frequency": 2}, ["a", "[PAD]", "[UNK]", "b"]),
    ],
    ids=["max_tokens", "min_frequency", "specials-inside", "ids-close-up"],
)
def test_a_counted_vocabulary_that_lists_its_special_tokens_is_cut_by_count(tokens, counts, kwargs, expected):
    # The special tokens stay whatever their counts; the regular tokens are cut by count, and ids close up.
    layer = VocabLookup(vocabulary=Vocabulary(tokens, counts=counts), mask_token="[PAD]", **kwargs)
    assert layer.get_vocabulary() == expected
    keys = ["a", "b", "c", "[PAD]", "[UNK]", "zz"]
    unknown = expected.index("[UNK]")
    assert layer.token_to_id(np.array(keys)).tolist() == [expected.index(k) if k in expected else unknown for k in keys]


def test_update_vocabulary_from_data_keeps_special_tokens_listed_at_the_last_ids():
    # [PAD] at 5 and [UNK] at 6: data with the 5 regular tokens fills ids 0-4, so both special ids still exist.
    tokens = ["a", "b", "c", "d", "e", "[PAD]", "[UNK]"]
    layer = VocabEmbedding(3, vocabulary=tokens, mask_token="[PAD]")
    layer.build()
    before = layer.get_weights()[0].copy()
    layer.update_vocabulary(data=[["e", "d", "c", "b", "a"]])  # Equal counts: ordered by token, a first.
    assert layer.get_vocabulary() == tokens
    np.testing.assert_array_equal(layer.get_weights()[0], before)
    assert layer.token_to_id(np.array(["[PAD]", "zz", "e"])).tolist() == [5, 6, 4]


@pytest.mark.parametrize("pads", [(4, None), (None, 8)], ids=["padded-to-plain", "plain-to-padded"])
def test_load_remapped_weights_moves_rows_between_paddings_of_one_vocabulary(tmp_path, pads):
    tokens = ["[PAD]", "[unused0]", "[UNK]", "the", "cat"]

    def model(pad):
        inputs = keras.Input((2,), dtype="string")
        return keras.Model(
            inputs, VocabEmbedding(2, vocabulary=tokens, mask_token="[PAD]", pad_to_multiple_of=pad)(inputs)
        )

    saved, target = model(pads[0]), model(pads[1])
    saved.save_weights(tmp_path / "saved.weights.h5")
    load_remapped_weights(target, tmp_path / "saved.weights.h5")
    ids = 5  # Rows of the five ids; padding rows are not tokens' rows.
    np.testing.assert_array_equal(target.layers[1].get_weights()[0][:ids], saved.layers[1].get_weights()[0][:ids])
    keys = tf.constant([["the", "[PAD]"], ["zz", "cat"]])
    np.testing.assert_array_equal(target(keys), saved(keys))


@pytest.mark.parametrize(
    "ids, error, message",
    [
        ([[2, 99]], UnknownIdError, "Received: id 99"),
        ([[-1, 2]], UnknownIdError, "Received: id -1"),
        (np.array([[2**40]], np.int64), UnknownIdError, "Received: id 1099511627776"),
        (tf.ragged.constant([[2], [2, 9]]), UnknownIdError, "Received: id 9"),
        (tf.ragged.constant([[1.0], [2.0, 3.0]]), KeyDtypeError, "ragged tensor of dtype float32"),
        (tf.ragged.constant([[[2]], [[2, 3]]]), TextInputError, "shape \\(batch, None\\)"),
        (None, KeyDtypeError, "takes integer ids"),
        (object(), KeyDtypeError, "takes integer ids"),
    ],
    ids=["beyond", "negative", "huge", "ragged-beyond", "ragged-float", "ragged-3d", "None", "object"],
)
def test_detokenize_refuses_ids_outside_the_layer_naming_them(ids, error, message):
    layer = TextVocabLookup(vocabulary=["the", "cat", "sat"])  # Ids 0 to 4.
    with pytest.raises(error, match=message):
        layer.detokenize(ids)


def test_detokenize_of_no_ids_is_empty_text():
    layer = TextVocabLookup(vocabulary=["the", "cat"])
    assert layer.detokenize([]).numpy() == b""
    assert layer.detokenize([[]]).numpy().tolist() == [b""]


@pytest.mark.parametrize("make", ["missing", "directory", "text"])
def test_inspect_model_refuses_weights_that_are_no_weights_file_asking_for_one(tmp_path, make):
    from keras_vocabsafe.inspection import inspect_model

    inputs = keras.Input((1,), dtype="string")
    keras.Model(inputs, VocabEmbedding(2, vocabulary=["a"])(inputs)).save(tmp_path / "model.keras")
    weights = tmp_path / "model.weights.h5"
    if make == "directory":
        weights.mkdir()
    elif make == "text":
        weights.write_text("not hdf5\n")
    with pytest.raises(ModelFileError, match=r"\.weights\.h5|save_weights") as info:
        inspect_model(tmp_path / "model.keras", weights=weights)
    assert "SavedModel" not in str(info.value)  # Not the advice for MODEL.


# Big embeddings: row-sparse training, quantization, LoRA (a hostile sweep) -------------------------------------


def _id_model(embedding, jit_compile):
    ids = keras.Input((None,), dtype="int64")
    model = keras.Model(ids, embedding(ids))
    model.compile(LazyAdam(0.1), "mse", jit_compile=jit_compile)
    return model


def test_jit_compile_of_the_embedding_half_falls_back_so_ids_outside_are_still_refused():
    # Under XLA the range assertion compiled to nothing and the gather clamped id 50 to the last row: `predict`
    # gave token "d"'s vector for it, and `fit` trained that row, without a word.
    embedding = VocabIdEmbedding(4, vocabulary=["a", "b", "c", "d"], name="words")
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model = _id_model(embedding, jit_compile=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="has ids 0 to 4, but received ids outside"):
        model.predict(np.array([[1, 50]]), verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="has ids 0 to 4, but received ids outside"):
        model.fit(np.array([[1, 50]]), np.zeros((1, 2, 4)), verbose=0)


def test_jit_compile_of_the_embedding_half_falls_back_so_a_stale_function_is_still_refused():
    # Under XLA a function traced before `update_vocabulary()` went on predicting and training the old rows.
    embedding = VocabIdEmbedding(4, vocabulary=["a", "b", "c", "d"], name="words")
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model = _id_model(embedding, jit_compile=True)
    model.fit(np.array([[1, 2]]), np.zeros((1, 2, 4)), verbose=0)
    with pytest.warns(UserWarning, match="has a new embedding matrix"):
        embedding.update_vocabulary(["b", "a"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="has new weights"):
        model.fit(np.array([[1, 2]]), np.zeros((1, 2, 4)), verbose=0)


@pytest.mark.parametrize("trainable_rows", [None, [2]], ids=["all-rows", "trainable-rows"])
def test_a_function_compiled_with_xla_gives_nan_for_ids_outside_not_another_tokens_row(trainable_rows):
    embedding = VocabIdEmbedding(
        4, vocabulary=["a", "b", "c", "d"], trainable_rows=trainable_rows, pad_to_multiple_of=8
    )  # Ids 0 to 4; rows 5 to 7 are padding.
    embedding.build()
    vectors = tf.function(embedding, jit_compile=True)(tf.constant([[1, 4, 50, -3, 5]])).numpy()[0]
    np.testing.assert_array_equal(vectors[:2], embedding.get_weights()[0][[1, 4]])
    assert np.isnan(vectors[2:]).all()


def test_a_function_compiled_with_xla_before_update_vocabulary_gives_nan_not_the_old_rows():
    embedding = VocabIdEmbedding(4, vocabulary=["a", "b", "c", "d"])
    embedding.build()
    lookup = tf.function(embedding, jit_compile=True)
    ids = tf.constant([[1, 2]])
    assert not np.isnan(lookup(ids).numpy()).any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embedding.update_vocabulary(["b", "a"])
    assert np.isnan(lookup(ids).numpy()).all()  # Same signature: the function traced before runs again.


class _TiedOutput(keras.layers.Layer):
    """Scores every id against the embedding matrix (output weights tied to the input rows)."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, vectors):
        return keras.ops.matmul(vectors, keras.ops.transpose(self.embedding.embeddings))


def test_tied_output_weights_read_the_trainable_rows_of_a_split_matrix_in_a_model():
    # `layer.embeddings` of a layer with `trainable_rows` became a NumPy copy in any op: a model could not be built
    # on it ("Could not automatically infer the output shape"), and eagerly it was a constant without gradient.
    embedding = VocabEmbedding(4, vocabulary=["a", "b", "c", "d"], trainable_rows=[2, 3])
    keys = keras.Input((None,), dtype="string")
    model = keras.Model(keys, _TiedOutput(embedding)(embedding(keys)))
    model.compile(LazyAdam(0.1), "mse")
    before = embedding.get_weights()[0]
    model.fit(tf.constant([["a", "b"]]), np.zeros((1, 2, 5)), epochs=2, verbose=0)
    moved = np.flatnonzero(np.any(embedding.get_weights()[0] != before, axis=1))
    assert moved.tolist() == [2, 3]  # The trainable rows only; both are also read by the lookup.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(_TiedOutput(embedding)(tf.ones((1, 4))))
    (gradient,) = tape.gradient(loss, embedding.trainable_variables)
    assert gradient is not None
