"""adapt's memory budget: exact under it; past it, exact for every token seen more than N / (budget + 1) times."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from keras_vocabsafe import ConfigurationError, TextVocabEmbedding, VocabEmbedding, VocabularyError
from keras_vocabsafe._counting import TokenCounter


def zipf_tokens(size, distinct, seed=0):
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=size), distinct)
    return np.array([f"w{rank}" for rank in ranks])


def exact_order(tokens):
    """Count desc, then token bytes asc: computed with the standard library, not with the package."""
    counts = collections.Counter(tokens.tolist())
    return sorted(counts, key=lambda t: (-counts[t], t.encode())), counts


def test_under_the_budget_adapt_is_exact_id_for_id():
    tokens = zipf_tokens(20_000, 3_000)
    bounded, unbounded = VocabEmbedding(2), VocabEmbedding(2)
    bounded.adapt(tokens, budget=len(set(tokens.tolist())))
    unbounded.adapt(tokens, budget=None)
    assert bounded.get_vocabulary() == unbounded.get_vocabulary()
    assert bounded.get_vocabulary()[1:] == exact_order(tokens)[0]


@pytest.mark.parametrize("form", ["array", "dataset", "list_of_batches"])
def test_past_the_budget_every_frequent_token_keeps_its_exact_count_and_id(form):
    tokens = zipf_tokens(60_000, 20_000, seed=1)
    budget = 400
    bound = len(tokens) / (budget + 1)
    order, counts = exact_order(tokens)
    frequent = [t for t in order if counts[t] > bound]
    assert 10 < len(frequent) < budget  # The corpus must exercise the bound, not sit under it.
    data = {
        "array": tokens,
        "dataset": tf.data.Dataset.from_tensor_slices(tokens).batch(1000),
        "list_of_batches": [tokens[i : i + 1000] for i in range(0, len(tokens), 1000)],
    }[form]
    layer = VocabEmbedding(2, max_tokens=len(frequent) + 1)
    layer.adapt(data, budget=budget)
    assert layer.get_vocabulary()[1:] == frequent
    assert layer.vocabulary.counts.tolist() == [counts[t] for t in frequent]
    # Without a cut, it holds exactly the tokens seen more than N // (budget + 1) times, whatever the data's order.
    threshold = len(tokens) // (budget + 1)
    for data_order in (data, tokens[::-1]):
        uncut = VocabEmbedding(2)
        uncut.adapt(data_order, budget=budget)
        assert uncut.get_vocabulary()[1:] == [t for t in order if counts[t] > threshold]


def test_past_the_budget_data_whose_every_token_is_rare_is_refused_with_the_fix(tmp_path):
    # Distinct user ids, each seen once: the summary kept none, and the recount failed in a lookup table op
    # ("keys and values cannot be empty tensors"); the CLI called it a bug.
    from keras_vocabsafe.corpus import vocabulary_from_files

    ids = np.array([f"user{i}" for i in range(5000)], dtype=object)
    with pytest.raises(
        VocabularyError, match=r"adapt\(\) counted 5,000 tokens.*none was seen more than 4 time.*budget=None"
    ):
        VocabEmbedding(2).adapt(ids, budget=1000)
    text = tmp_path / "rare.txt"
    text.write_text("a b\nc d\n")
    with pytest.raises(VocabularyError, match=r"^vocabulary_from_files\(\) counted 4 tokens.*Raise `budget`"):
        vocabulary_from_files(text, budget=1)
    unbounded = VocabEmbedding(2)
    unbounded.adapt(ids, budget=None)
    assert len(unbounded.vocabulary) == 5000  # Without a budget every id is kept.


def read_once_sources(ids):
    batches = [ids[i : i + 100] for i in range(0, len(ids), 100)]
    shared = iter(batches)  # One iterator behind the dataset: a second reading yields nothing.
    return {
        "generator": lambda: (batch for batch in batches),
        "iterator": lambda: iter(batches),
        "one-shot dataset": lambda: tf.data.Dataset.from_generator(
            lambda: shared, output_signature=tf.TensorSpec([None], tf.string)
        ),
    }


@pytest.mark.parametrize("source", ["generator", "iterator", "one-shot dataset"])
def test_past_the_budget_read_once_data_whose_every_token_is_rare_is_refused_naming_the_budget(source):
    # It said "adapt() found no tokens to keep: the data was empty, held only the mask and OOV tokens, or no token
    # reached min_frequency=None", after a warning that counts may be low: neither says what happened.
    ids = np.array([f"user{i}" for i in range(5000)], dtype=object)
    with pytest.raises(
        VocabularyError,
        match=r"adapt\(\) counted 5,000 tokens, more distinct ones than its budget of 1,000.*none was seen more "
        r"than 4 time.*budget=None",
    ):
        VocabEmbedding(2).adapt(read_once_sources(ids)[source](), budget=1000)


def test_past_the_budget_read_once_text_whose_every_word_is_rare_is_refused_naming_the_budget():
    lines = (np.array([" ".join(f"w{i}" for i in range(start, start + 100))]) for start in range(0, 5000, 100))
    with pytest.raises(VocabularyError, match=r"counted 5,000 tokens, more distinct ones than its budget of 1,000"):
        TextVocabEmbedding(output_dim=2).adapt(lines, budget=1000)


def test_data_read_once_keeps_counts_within_the_bound_and_warns():
    tokens = zipf_tokens(60_000, 20_000, seed=2)
    budget = 400
    bound = len(tokens) / (budget + 1)
    order, counts = exact_order(tokens)
    batches = (tokens[i : i + 1000] for i in range(0, len(tokens), 1000))  # A generator: read once.
    layer = VocabEmbedding(2)
    with pytest.warns(UserWarning, match="read only once"):
        layer.adapt(batches, budget=budget)
    learned = dict(zip(layer.vocabulary.tokens, layer.vocabulary.counts.tolist()))
    for token in order:
        if counts[token] > bound:
            assert token.encode() in learned  # Every token seen more than the bound survives...
        if token.encode() in learned:  # ...and no count is high, nor low by more than the bound.
            assert counts[token] - bound <= learned[token.encode()] <= counts[token]


def test_the_counter_never_holds_much_more_than_its_budget():
    counter = TokenCounter("string", owner="test", budget=1_000)
    rng = np.random.default_rng(3)
    largest = 0
    for _ in range(40):
        counter.update(np.array([f"t{i}" for i in rng.integers(0, 200_000, size=5_000)]))
        held = counter._held() + counter._pending_size
        largest = max(largest, held)
    assert int(counter.candidates().shape[0]) <= 1_000
    assert largest <= 1_000 + (1 << 16) + 5_000  # The summary, plus pending pieces up to the flush threshold.
    assert counter.pruned and counter.bound <= counter.total / 1_001


def test_text_layers_and_updates_take_the_budget_too():
    words = zipf_tokens(30_000, 5_000, seed=4)
    text = [" ".join(words[i : i + 10]) for i in range(0, len(words), 10)]
    budget = 300
    bound = len(words) / (budget + 1)
    order, counts = exact_order(words)
    frequent = [t for t in order if counts[t] > bound]
    layer = TextVocabEmbedding(2, max_tokens=len(frequent) + 2, standardize=None)
    layer.adapt(tf.data.Dataset.from_tensor_slices(text).batch(256), budget=budget)
    assert layer.get_vocabulary()[2:] == frequent
    keys = VocabEmbedding(2, vocabulary=["w1"], max_tokens=len(frequent) + 1)
    keys.update_vocabulary(data=words, budget=budget)
    assert keys.get_vocabulary()[1:] == frequent


@pytest.mark.parametrize("budget", [0, -1, 1.5, "big", True])
def test_a_budget_that_is_not_a_positive_int_is_refused(budget):
    with pytest.raises(ConfigurationError, match="budget"):
        VocabEmbedding(2).adapt(["a", "b"], budget=budget)


# weights ----------------------------------------------------------------------------------------------------------


def weighted_reference(examples, weights):
    """Each example's tokens counted weight times, ordered count desc then bytes asc: plain Python."""
    counts = collections.Counter()
    for tokens, weight in zip(examples, weights):
        for token in tokens:
            counts[token] += int(weight)
    kept = [t for t in counts if counts[t] > 0]
    return sorted(kept, key=lambda t: (-counts[t], t.encode())), counts


def test_weights_count_each_example_that_many_times_in_every_form():
    examples = [["a", "b"], ["b", "c"], ["e", "e"], ["d", "a"]]
    weights = np.array([5, 1, 0, 2])
    order, counts = weighted_reference(examples, weights)
    assert "e" not in order  # Only seen with weight 0.
    keys = np.array(examples)
    dataset = tf.data.Dataset.from_tensor_slices((keys, weights)).batch(3)
    pairs = [(keys[:2], weights[:2]), (keys[2:], weights[2:])]
    for data, given in ((keys, weights), (dataset, True), (pairs, True)):
        layer = VocabEmbedding(2)
        layer.adapt(data, weights=given)
        assert layer.get_vocabulary()[1:] == order
        assert layer.vocabulary.counts.tolist() == [counts[t] for t in order]


def test_text_weights_count_each_string_that_many_times():
    text = ["the cat", "the dog dog", "emu"]
    weights = np.array([3, 1, 0])
    order, _ = weighted_reference([t.split() for t in text], weights)
    for data, given in ((text, weights), (tf.data.Dataset.from_tensor_slices((text, weights)).batch(2), True)):
        layer = TextVocabEmbedding(2)
        layer.adapt(data, weights=given)
        assert layer.get_vocabulary()[2:] == order and "emu" not in layer.get_vocabulary()


@pytest.mark.parametrize(
    ("data", "weights", "match"),
    [
        (["a", "b"], [1.5, 2.0], "whole-number"),
        (["a", "b"], [1, -1], "whole-number"),
        (["a", "b"], [1, 2, 3], "number of weights"),
        (tf.data.Dataset.from_tensor_slices(["a"]), True, r"\(keys, weights\) pairs"),
        (tf.data.Dataset.from_tensor_slices(["a"]), [1], "weights=True"),
        (["a", "b"], True, "weights=True reads"),
        ([(np.array(["a", "b"]), True)], True, "one integer per example. Received: True"),
    ],
)
def test_bad_weights_are_refused_with_the_fix(data, weights, match):
    with pytest.raises(ConfigurationError, match=match):
        VocabEmbedding(2).adapt(data, weights=weights)


def test_long_counts_log_their_progress(monkeypatch, caplog):
    from keras_vocabsafe import _counting

    monkeypatch.setattr(_counting, "_PROGRESS_SECONDS", 0.0)  # Every batch is "long" for this test.
    batches = [np.array([f"t{i}" for i in range(j, j + 100)]) for j in range(0, 500, 100)]
    with caplog.at_level("INFO", logger="keras_vocabsafe"):
        VocabEmbedding(2, name="logged").adapt(batches)
    messages = [r.getMessage() for r in caplog.records if r.name == "keras_vocabsafe"]
    assert any("counted 500 tokens" in message and "'logged'" in message for message in messages), messages
