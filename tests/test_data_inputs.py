"""Data given to `adapt`, `update_vocabulary(data=...)` and `call`: learned from, or refused with the fix.

Nothing is silently lost: a mapping or data frame is not learned as its keys, a missing value is not learned as
the text 'nan', a bool or an out-of-range integer does not become an id.
"""

import time
import types

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_vocabsafe import (
    ConfigurationError,
    KeyDtypeError,
    TextInputError,
    TextVocabEmbedding,
    VocabEmbedding,
    VocabularyError,
)
from keras_vocabsafe._keys import to_keys

INT64_MAX = 2**63 - 1
# NumPy's fixed-width strings drop trailing NULs and UTF-8 cannot hold surrogates: leave both out, so every
# form below can hold every token.
TOKENS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=4)
PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def strings(n=4):
    return VocabEmbedding(n)


def ids(n=4):
    return VocabEmbedding(n, vocabulary_dtype="int64")


def learned(layer):
    return layer.get_vocabulary()[layer._num_special_tokens() :]


class Frame:
    """A data frame that is neither pandas nor a mapping (as polars): iterating it yields column names."""

    columns = ("tokens", "label")

    def __iter__(self):
        return iter(self.columns)


# VocabEmbedding.adapt: structures whose iteration is not the tokens ----------------------------------------------


def test_adapt_refuses_a_dict_and_names_its_keys():
    with pytest.raises(ConfigurationError, match=r"keys \['tokens', 'label'\].*`adapt\(data\['tokens'\]\)`"):
        strings().adapt({"tokens": np.array(["a", "b", "a"]), "label": np.array([0, 1, 0])})


def test_adapt_refuses_a_dict_for_an_int64_vocabulary():
    with pytest.raises(ConfigurationError, match=r"keys \['ids'\]"):
        ids().adapt({"ids": np.array([1, 2, 1])})


def test_adapt_refuses_a_mapping_that_is_not_a_dict():
    with pytest.raises(ConfigurationError, match=r"keys \['tokens'\]"):
        strings().adapt(types.MappingProxyType({"tokens": ["a", "b"]}))


def test_adapt_refuses_a_pandas_data_frame_and_names_its_columns():
    frame = pd.DataFrame({"tokens": ["a", "b", "a"], "label": [0, 1, 0]})
    with pytest.raises(ConfigurationError, match=r"columns \['tokens', 'label'\].*`adapt\(data\['tokens'\]\)`"):
        strings().adapt(frame)


def test_adapt_refuses_any_object_with_columns():
    with pytest.raises(ConfigurationError, match=r"columns \['tokens', 'label'\]"):
        strings().adapt(Frame())


def test_adapt_refuses_dicts_yielded_by_an_iterable():
    with pytest.raises(ConfigurationError, match=r"keys \['tokens'\]"):
        strings().adapt(iter([{"tokens": ["a", "b"]}]))


def test_adapt_refuses_a_dataset_of_dicts_with_the_fix():
    dataset = tf.data.Dataset.from_tensor_slices({"tokens": ["a", "b"], "label": [0, 1]})
    with pytest.raises(ConfigurationError, match=r"dicts with keys \['tokens', 'label'\].*x\['tokens'\]"):
        strings().adapt(dataset)


@pytest.mark.parametrize(
    "vocabulary_dtype, elements, message",
    [
        ("string", [1.5, 2.5], "vocabulary_dtype='string' but received keys of dtype float32"),
        ("string", [[True], [False]], "vocabulary_dtype='string' but received keys of dtype bool"),
        ("int64", [1.5, 2.5], "vocabulary_dtype='int64' but received keys of dtype float32"),
        ("int64", ["a", "b"], "vocabulary_dtype='int64' but received keys of dtype string"),
    ],
)
@pytest.mark.parametrize("update", [False, True], ids=["adapt", "update_vocabulary"])
def test_a_dataset_of_keys_of_another_dtype_is_refused_with_a_typed_error(vocabulary_dtype, elements, message, update):
    # The dataset is counted in a traced map function: the error must leave it as it was raised, not as a
    # StagingError of TensorFlow's.
    layer = VocabEmbedding(
        2, vocabulary=[1, 2] if vocabulary_dtype == "int64" else ["a"], vocabulary_dtype=vocabulary_dtype
    )
    before = layer.get_vocabulary()
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    with pytest.raises(KeyDtypeError, match=message):
        if update:
            layer.update_vocabulary(data=dataset)
        else:
            VocabEmbedding(2, vocabulary_dtype=vocabulary_dtype).adapt(dataset)
    assert layer.get_vocabulary() == before


def test_adapt_refuses_a_dataset_of_pairs_with_the_same_wording_as_dicts():
    dataset = tf.data.Dataset.from_tensor_slices((["a", "b"], [0, 1]))
    with pytest.raises(ConfigurationError, match=r"yields tuples of 2 .*Map it to the tokens first.*lambda x, y: x"):
        strings().adapt(dataset)


def test_adapt_refuses_a_sparse_tensor_with_the_fix():
    with pytest.raises(KeyDtypeError, match=r"`data`.*tf\.sparse\.to_dense"):
        strings().adapt(tf.sparse.from_dense(tf.constant([["a", ""]])))


def test_adapt_refuses_a_single_int_with_the_fix():
    with pytest.raises(KeyDtypeError, match=r"not a single int \(5\)\. Wrap it in a list"):
        ids().adapt(5)


def test_adapt_refuses_a_single_numpy_int_with_the_fix():
    with pytest.raises(KeyDtypeError, match=r"not a single int64.*Wrap it in a list"):
        ids().adapt(np.int64(5))


# VocabEmbedding.adapt: pandas and other array-likes -----------------------------------------------------------------


def test_adapt_on_a_string_series_matches_its_numpy_array():
    tokens = ["b", "a", "b", "c", "b", "a"]
    from_series, from_array = strings(), strings()
    from_series.adapt(pd.Series(tokens))
    from_array.adapt(np.array(tokens))
    assert from_series.get_vocabulary() == from_array.get_vocabulary() == ["[UNK]", "b", "a", "c"]


def test_adapt_on_an_int_series_learns_its_values():
    layer = ids()
    layer.adapt(pd.Series([7, 3, 7]))
    assert learned(layer) == [7, 3]


def test_adapt_on_a_pandas_index_learns_its_values():
    layer = strings()
    layer.adapt(pd.Index(["x", "y", "x"]))
    assert learned(layer) == ["x", "y"]


def test_adapt_on_a_series_converts_it_once_not_element_by_element():
    # Counting element by element took seconds for 20k rows, against milliseconds for the array.
    tokens = np.array([f"w{i % 5000}" for i in range(20_000)])
    strings().adapt(tokens)  # Warm up TensorFlow.
    start = time.perf_counter()
    strings().adapt(tokens)
    array_seconds = time.perf_counter() - start
    start = time.perf_counter()
    strings().adapt(pd.Series(tokens))
    series_seconds = time.perf_counter() - start
    assert series_seconds < max(0.5, 20 * array_seconds)


def test_adapt_on_a_series_with_a_missing_value_names_its_position():
    with pytest.raises(KeyDtypeError, match=r"missing value \(nan\) at position \[2\] of `data`.*dropna"):
        strings().adapt(pd.Series(["a", "b", None, "a"]))


def test_adapt_on_a_nullable_int_series_with_a_missing_value_names_its_position():
    with pytest.raises(KeyDtypeError, match=r"missing value .*nan.* at position \[1\] of `data`"):
        ids().adapt(pd.Series([1, None, 3], dtype="Int64"))


def test_adapt_on_an_object_array_with_none_names_its_position():
    with pytest.raises(KeyDtypeError, match=r"missing value \(None\) at position \[1\]\[0\] of `data`"):
        strings().adapt(np.array([["a", "b"], [None, "c"]], dtype=object))


def test_adapt_on_an_object_array_of_ints_learns_them():
    layer = ids()
    layer.adapt(np.array([4, 4, 9], dtype=object))
    assert learned(layer) == [4, 9]


def test_adapt_on_a_series_of_token_lists_learns_the_tokens():
    layer = strings()
    layer.adapt(pd.Series([["a", "b"], ["a"]]))
    assert learned(layer) == ["a", "b"]


# VocabEmbedding.adapt: hostile values -------------------------------------------------------------------------------


def test_adapt_on_an_empty_list_says_there_is_nothing_to_learn():
    with pytest.raises(VocabularyError, match="found no tokens to keep: the data was empty"):
        strings().adapt([])


def test_adapt_on_an_empty_list_for_an_int64_vocabulary_says_there_is_nothing_to_learn():
    with pytest.raises(VocabularyError, match="the data was empty"):
        ids().adapt([])


def test_adapt_on_an_empty_dataset_says_there_is_nothing_to_learn():
    with pytest.raises(VocabularyError, match="the data was empty"):
        strings().adapt(tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string)).batch(2))


def test_adapt_counts_batches_of_different_ranks_from_a_generator():
    layer = strings()
    layer.adapt(batch for batch in (["a", "b"], [["a"], ["c"]], np.array([[["a"]]])))
    assert learned(layer) == ["a", "b", "c"]


def test_adapt_refuses_bools_as_int64_keys():
    with pytest.raises(KeyDtypeError, match="dtype bool"):
        ids().adapt([True, False])


def test_adapt_refuses_a_bool_among_ints_instead_of_learning_it_as_one():
    with pytest.raises(KeyDtypeError, match=r"True \(bool\) at position \[1\].*not an id"):
        ids().adapt([1, True, 2])


def test_adapt_refuses_floats_for_an_int64_vocabulary_instead_of_truncating():
    with pytest.raises(KeyDtypeError, match="dtype float64"):
        ids().adapt(np.array([1.5, 2.0]))


def test_adapt_refuses_a_float_in_an_object_array_for_an_int64_vocabulary():
    with pytest.raises(KeyDtypeError, match=r"1\.5 \(float\) at position \[1\].*truncated"):
        ids().adapt(np.array([1, 1.5], dtype=object))


def test_adapt_learns_uint64_ids_that_fit_int64():
    layer = ids()
    layer.adapt(np.array([INT64_MAX, 5, 5], dtype=np.uint64))
    assert learned(layer) == [5, INT64_MAX]


def test_adapt_refuses_uint64_ids_beyond_int64_instead_of_wrapping():
    with pytest.raises(KeyDtypeError, match=rf"holds {INT64_MAX + 2} at position \[1\]"):
        ids().adapt(np.array([1, INT64_MAX + 2], dtype=np.uint64))


def test_adapt_refuses_python_ints_beyond_int64():
    with pytest.raises(KeyDtypeError, match=rf"2\*\*63 - 1\].*holds {2**70} at position \[0\]\[1\]"):
        ids().adapt([[1, 2**70]])


def test_adapt_keeps_bytes_that_are_not_utf8():
    layer = strings()
    layer.adapt([b"\xff\xfe", b"\xff\xfe", b"ok"])
    assert learned(layer) == [b"\xff\xfe", "ok"]


def test_adapt_names_where_nested_lists_change_depth():
    with pytest.raises(KeyDtypeError, match=r"different depths.*position \[0\]\[0\] holds 'a'.*\[1\]\[0\]\[0\]"):
        strings().adapt([["a"], [["b"]]])


def test_adapt_names_an_int_among_strings():
    with pytest.raises(KeyDtypeError, match=r"holds 1 \(int\) at position \[1\]. Pass every key as a str or bytes"):
        strings().adapt(["a", 1])


def test_adapt_names_a_string_among_int_ids():
    with pytest.raises(KeyDtypeError, match=r"holds 'a' \(str\) at position \[0\]"):
        ids().adapt(["a", 1])


def test_adapt_names_a_none_in_a_list():
    with pytest.raises(KeyDtypeError, match=r"missing value \(None\) at position \[0\]\[1\] of `data`"):
        strings().adapt([["a", None]])


# VocabEmbedding: one vocabulary whatever the form of the data -----------------------------------------------------


@PROPERTY
@given(st.lists(TOKENS.filter(lambda token: token != "[UNK]"), min_size=1, max_size=40), st.integers(1, 7))
def test_adapt_learns_the_same_string_vocabulary_from_every_form(tokens, batch_size):
    forms = [
        tokens,
        np.array(tokens),
        np.array(tokens, dtype=object),
        pd.Series(tokens),
        tf.data.Dataset.from_tensor_slices(tokens).batch(batch_size),
        (tokens[i : i + batch_size] for i in range(0, len(tokens), batch_size)),
    ]
    vocabularies = []
    for data in forms:
        layer = strings()
        layer.adapt(data)
        vocabularies.append(layer.get_vocabulary())
    assert all(vocabulary == vocabularies[0] for vocabulary in vocabularies)


@PROPERTY
@given(st.lists(st.integers(0, INT64_MAX), min_size=1, max_size=40), st.integers(1, 7))
def test_adapt_learns_the_same_int64_vocabulary_from_every_form(values, batch_size):
    forms = [
        values,
        np.array(values, dtype=np.int64),
        np.array(values, dtype=np.uint64),
        np.array(values, dtype=object),
        pd.Series(values),
        tf.data.Dataset.from_tensor_slices(np.array(values, dtype=np.int64)).batch(batch_size),
    ]
    vocabularies = []
    for data in forms:
        layer = ids()
        layer.adapt(data)
        vocabularies.append(layer.get_vocabulary())
    assert all(vocabulary == vocabularies[0] for vocabulary in vocabularies)


# VocabEmbedding.update_vocabulary(data=...) -------------------------------------------------------------------------


@pytest.mark.parametrize("merge", [False, True])
def test_update_vocabulary_refuses_a_data_frame(merge):
    layer = strings()
    layer.adapt(["a", "b"])
    with pytest.raises(ConfigurationError, match=r"columns \['tokens'\].*update_vocabulary\(data=data\['tokens'\]\)"):
        layer.update_vocabulary(data=pd.DataFrame({"tokens": ["c"]}), merge=merge)
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]


def test_update_vocabulary_refuses_a_dict():
    layer = ids()
    layer.adapt([1, 2])
    with pytest.raises(ConfigurationError, match=r"keys \['ids'\]"):
        layer.update_vocabulary(data={"ids": [3]}, merge=True)


def test_update_vocabulary_merges_a_series():
    layer = strings()
    layer.adapt(["a", "b"])
    layer.update_vocabulary(data=pd.Series(["c", "c", "a"]), merge=True)
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "c"]


def test_update_vocabulary_refuses_uint64_ids_beyond_int64():
    layer = ids()
    layer.adapt([1, 2])
    with pytest.raises(KeyDtypeError, match=r"`data` holds \d+ at position \[0\]"):
        layer.update_vocabulary(data=np.array([INT64_MAX + 1], dtype=np.uint64), merge=True)


# TextVocabEmbedding.adapt / update_vocabulary(data=...) -----------------------------------------------------------


def test_text_adapt_refuses_a_data_frame_and_names_its_columns():
    with pytest.raises(ConfigurationError, match=r"columns \['text'\].*`adapt\(data\['text'\]\)`"):
        TextVocabEmbedding(4).adapt(pd.DataFrame({"text": ["the cat", "a dog"]}))


def test_text_adapt_refuses_a_dict():
    with pytest.raises(ConfigurationError, match=r"keys \['text'\]"):
        TextVocabEmbedding(4).adapt({"text": ["the cat"]})


def test_text_adapt_refuses_a_dataset_of_dicts_with_the_fix():
    dataset = tf.data.Dataset.from_tensor_slices({"text": ["the cat"]})
    with pytest.raises(TextInputError, match=r"dicts with keys \['text'\].*x\['text'\]"):
        TextVocabEmbedding(4).adapt(dataset)


def test_text_adapt_refuses_dicts_yielded_by_an_iterable():
    with pytest.raises(ConfigurationError, match=r"keys \['text'\]"):
        TextVocabEmbedding(4).adapt(iter([{"text": ["the cat"]}]))


def test_text_adapt_refuses_a_sparse_tensor_with_the_fix():
    with pytest.raises(KeyDtypeError, match=r"tf\.sparse\.to_dense"):
        TextVocabEmbedding(4).adapt(tf.sparse.from_dense(tf.constant([["the cat", ""]])))


def test_text_adapt_on_a_series_with_a_missing_value_names_its_position():
    with pytest.raises(KeyDtypeError, match=r"missing value \(nan\) at position \[1\] of `data`"):
        TextVocabEmbedding(4).adapt(pd.Series(["the cat", None]))


def test_text_adapt_on_an_object_array_with_none_names_its_position():
    with pytest.raises(KeyDtypeError, match=r"missing value \(None\) at position \[2\] of `data`"):
        TextVocabEmbedding(4).adapt(np.array(["the cat", "a dog", None], dtype=object))


def test_text_update_vocabulary_refuses_a_data_frame():
    layer = TextVocabEmbedding(4)
    layer.adapt(["the cat"])
    with pytest.raises(ConfigurationError, match=r"columns \['text'\]"):
        layer.update_vocabulary(data=pd.DataFrame({"text": ["a dog"]}), merge=True)


@PROPERTY
@given(st.lists(st.lists(st.sampled_from(["the", "cat", "Dog", "sat", "on"]), max_size=5), min_size=1, max_size=20))
def test_text_adapt_learns_the_same_vocabulary_from_every_form(rows):
    text = [" ".join(row) for row in rows]
    if not any(rows):
        return  # Nothing to learn: covered by the empty-data tests.
    forms = [
        text,
        np.array(text),
        np.array(text, dtype=object),
        pd.Series(text),
        tf.data.Dataset.from_tensor_slices(text).batch(3),
        iter([text]),
    ]
    vocabularies = []
    for data in forms:
        layer = TextVocabEmbedding(4)
        layer.adapt(data)
        vocabularies.append(layer.get_vocabulary())
    assert all(vocabulary == vocabularies[0] for vocabulary in vocabularies)


# Call-time keys (to_keys) -------------------------------------------------------------------------------------------


def adapted_ids():
    layer = ids()
    layer.adapt([5, 6, INT64_MAX])
    return layer


def test_to_keys_passes_a_tensor_of_the_vocabulary_dtype_through_untouched():
    keys = tf.constant([1, 2], tf.int64)
    assert to_keys(keys, "int64", owner="layer") is keys


def test_call_looks_up_uint64_keys_that_fit_int64():
    layer = adapted_ids()
    expected = layer(np.array([5, INT64_MAX], dtype=np.int64))
    np.testing.assert_array_equal(layer(np.array([5, INT64_MAX], dtype=np.uint64)), expected)


def test_call_refuses_uint64_keys_beyond_int64_instead_of_wrapping():
    with pytest.raises(KeyDtypeError, match=rf"`inputs` holds {INT64_MAX + 1} at position \[0\]\[1\]"):
        adapted_ids()(np.array([[5, INT64_MAX + 1]], dtype=np.uint64))


def test_call_in_a_graph_refuses_uint64_keys_with_the_fix():
    layer = adapted_ids()
    with pytest.raises(KeyDtypeError, match=r"tf\.cast\(keys, tf\.int64\)"):
        tf.function(layer, autograph=False)(tf.constant([5], tf.uint64))


def test_call_refuses_bool_keys():
    with pytest.raises(KeyDtypeError, match="dtype bool"):
        adapted_ids()(np.array([True]))


def test_call_refuses_a_bool_among_int_keys():
    with pytest.raises(KeyDtypeError, match=r"True \(bool\) at position \[1\]"):
        adapted_ids()([5, True])


def test_call_refuses_float_keys_for_an_int64_vocabulary():
    with pytest.raises(KeyDtypeError, match="dtype float"):
        adapted_ids()(np.array([5.0]))


def test_call_refuses_python_ints_beyond_int64():
    with pytest.raises(KeyDtypeError, match=rf"`inputs` holds {2**64} at position \[1\]"):
        adapted_ids()([5, 2**64])


def test_call_names_a_none_among_keys():
    layer = strings()
    layer.adapt(["a"])
    with pytest.raises(KeyDtypeError, match=r"missing value \(None\) at position \[1\] of `inputs`"):
        layer(["a", None])


def test_call_looks_up_a_string_series():
    layer = strings()
    layer.adapt(["a", "b"])
    np.testing.assert_array_equal(layer(pd.Series(["b", "a"])), layer(tf.constant(["b", "a"])))
