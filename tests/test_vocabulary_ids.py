"""Vocabularies that keep their own ids: special tokens listed at given positions, `get_vocabulary()` lists, counts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vocabsafe import (
    ConfigurationError,
    TextVocabEmbedding,
    VocabEmbedding,
    Vocabulary,
    load_remapped_weights,
)

BERT_LINES = (
    ["[PAD]"]
    + [f"[unused{i}]" for i in range(10)]
    + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "play", "##ing", "##ed", "dog"]
)
UNK_LINE = BERT_LINES.index("[UNK]")


@pytest.fixture
def bert_vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(line + "\n" for line in BERT_LINES), encoding="utf-8")
    return path


def bert_layer(path, **kwargs):
    return VocabEmbedding(4, vocabulary=str(path), mask_token="[PAD]", oov_token="[UNK]", **kwargs)


def test_bert_vocab_txt_maps_every_token_to_its_line_number(bert_vocab):
    layer = bert_layer(bert_vocab)
    lines = bert_vocab.read_text(encoding="utf-8").splitlines()
    np.testing.assert_array_equal(layer.token_to_id(np.array(lines)), np.arange(len(lines)))
    assert layer.token_to_id("never-seen") == UNK_LINE
    assert layer.vocabulary_size() == len(lines)
    assert layer.get_vocabulary() == lines
    assert "[UNK]" not in layer.get_vocabulary(include_special_tokens=False)
    assert layer.id_to_token([0, UNK_LINE, len(lines) - 1]) == ["[PAD]", "[UNK]", "dog"]


def test_bert_checkpoint_rows_load_by_id(bert_vocab):
    layer = bert_layer(bert_vocab)
    checkpoint = np.arange(len(BERT_LINES), dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)
    layer.set_weights([checkpoint])
    vectors = layer(tf.constant([["cat", "##ing", "zebra", "[PAD]"]]))
    np.testing.assert_array_equal(vectors[0, :, 0], [BERT_LINES.index("cat"), BERT_LINES.index("##ing"), UNK_LINE, 0])
    np.testing.assert_array_equal(layer.compute_mask(tf.constant([["cat", "[PAD]"]])), [[True, False]])


@pytest.mark.saving
def test_special_positions_survive_keras_saving_and_weights_files(bert_vocab, tmp_path):
    layer = bert_layer(bert_vocab)
    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, layer(inputs))
    model.layers[1].set_weights([np.random.default_rng(0).normal(size=(len(BERT_LINES), 4)).astype("float32")])
    keys = tf.constant([["the", "[UNK]", "dog", "unseen", "[PAD]"]])
    expected = model.predict(keys, verbose=0)
    bert_vocab.unlink()  # The saved model must not need the file.
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded.predict(keys, verbose=0), expected)
    assert reloaded.layers[1].get_vocabulary() == BERT_LINES
    model.save_weights(tmp_path / "model.weights.h5")
    fresh = keras.Model(inputs, VocabEmbedding(4, vocabulary=BERT_LINES, mask_token="[PAD]", oov_token="[UNK]")(inputs))
    fresh.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(fresh.predict(keys, verbose=0), expected)


def test_a_keras_layout_layer_refuses_weights_of_a_file_layout_vocabulary(bert_vocab, tmp_path):
    layer = bert_layer(bert_vocab)
    inputs = keras.Input(shape=(None,), dtype="string")
    keras.Model(inputs, layer(inputs)).save_weights(tmp_path / "bert.weights.h5")
    regular = [t for t in BERT_LINES if t not in ("[PAD]", "[UNK]")]
    other = VocabEmbedding(4, vocabulary=regular, mask_token="[PAD]", oov_token="[UNK]")
    with pytest.raises(ValueError, match="weights"):
        keras.Model(inputs, other(inputs)).load_weights(tmp_path / "bert.weights.h5")


def test_remapped_load_moves_rows_from_file_ids_to_keras_ids(bert_vocab, tmp_path):
    source = bert_layer(bert_vocab)
    inputs = keras.Input(shape=(None,), dtype="string")
    source_model = keras.Model(inputs, source(inputs))
    source.set_weights([np.arange(len(BERT_LINES) * 4, dtype=np.float32).reshape(-1, 4)])
    source_model.save_weights(tmp_path / "bert.weights.h5")
    shuffled = [t for t in BERT_LINES if t not in ("[PAD]", "[UNK]")][::-1]
    target = VocabEmbedding(4, vocabulary=["[PAD]", "[UNK]"] + shuffled, mask_token="[PAD]", oov_token="[UNK]")
    target_model = keras.Model(inputs, target(inputs))
    load_remapped_weights(target_model, tmp_path / "bert.weights.h5")
    keys = tf.constant([["cat", "[MASK]", "unseen", "[PAD]"]])
    np.testing.assert_array_equal(target(keys), source(keys))
    assert target.token_to_id("[UNK]") == 1 and source.token_to_id("[UNK]") == UNK_LINE


def test_halves_keep_file_ids_and_the_embedding_half_masks_the_pad_id():
    # RoBERTa's layout: the padding token is id 1, not 0.
    vocabulary = ["<s>", "<pad>", "</s>", "<unk>", "hello", "world"]
    layer = VocabEmbedding(3, vocabulary=vocabulary, mask_token="<pad>", oov_token="<unk>")
    lookup, embedding = layer.halves()
    ids = lookup(tf.constant([["hello", "<pad>", "nope", "<s>"]]))
    np.testing.assert_array_equal(ids, [[4, 1, 3, 0]])
    np.testing.assert_array_equal(embedding.compute_mask(ids), [[True, False, True, True]])
    assert embedding.get_vocabulary() == vocabulary
    assert lookup.vocabulary_fingerprint == embedding.vocabulary_fingerprint == layer.vocabulary_fingerprint
    np.testing.assert_array_equal(lookup.ids_to_tokens(tf.constant([3, 1])), [b"<unk>", b"<pad>"])


@pytest.mark.parametrize(
    "settings",
    [{}, {"mask_token": ""}, {"num_oov_indices": 2}, {"mask_token": "", "num_oov_indices": 3}],
)
def test_a_get_vocabulary_list_with_special_tokens_first_gives_keras_own_ids(settings):
    reference = keras.layers.StringLookup(vocabulary=["the", "cat", "mat"], **settings)
    layer = VocabEmbedding(2, vocabulary=reference.get_vocabulary(), **settings)
    keys = tf.constant([["the", "mat", "zebra", "cat", "dog", ""]])
    np.testing.assert_array_equal(layer.token_to_id(keys), reference(keys))
    assert layer.get_vocabulary() == reference.get_vocabulary()
    assert layer.get_config()["vocabulary"] == ["the", "cat", "mat"]  # Keras's layout: stored as before.


def test_a_text_vectorization_vocabulary_is_taken_as_it_is():
    reference = keras.layers.TextVectorization()
    reference.adapt(["the cat sat", "the mat"])
    layer = VocabEmbedding(2, vocabulary=reference.get_vocabulary(), mask_token="")
    assert layer.get_vocabulary() == reference.get_vocabulary()
    np.testing.assert_array_equal(
        layer.token_to_id(tf.constant(["the", "mat", "dog"])), reference(tf.constant(["the mat dog"]))[0]
    )


def test_listed_special_tokens_need_one_oov_id(bert_vocab):
    with pytest.raises(ConfigurationError, match="num_oov_indices=1"):
        bert_layer(bert_vocab, num_oov_indices=2)


def test_update_vocabulary_keeps_rows_with_their_tokens_across_layouts(bert_vocab):
    layer = bert_layer(bert_vocab)
    layer.build()
    before = np.asarray(layer.get_weights()[0]).copy()
    new = ["[PAD]", "dog", "[UNK]", "cat", "fish"]  # Special tokens at new positions too.
    report = layer.update_vocabulary(new)
    after = np.asarray(layer.get_weights()[0])
    assert layer.get_vocabulary() == new
    for token in ("[PAD]", "dog", "[UNK]", "cat"):
        np.testing.assert_array_equal(after[new.index(token)], before[BERT_LINES.index(token)])
    assert layer.token_to_id("unseen") == 2
    assert (report.kept, report.added) == (2, 1)
    assert report.dropped == len(BERT_LINES) - 2 - 2


def test_load_pretrained_puts_rows_at_file_ids(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("cat 1 1\ndog 2 2\n", encoding="utf-8")
    layer = VocabEmbedding(2, vocabulary=["cat", "[PAD]", "dog", "[UNK]", "emu"], mask_token="[PAD]")
    layer.load_pretrained(str(vectors), missing_embeddings_initializer="zeros", oov_embeddings_initializer="zeros")
    matrix = np.asarray(layer.get_weights()[0])
    np.testing.assert_array_equal(matrix, [[1, 1], [0, 0], [2, 2], [0, 0], [0, 0]])


def test_text_layer_with_a_bert_vocabulary_gives_the_ids_of_tensorflow_text_bert_tokenizer(bert_vocab):
    import tensorflow_text as tf_text

    # Text layers pad with "" only, so "[PAD]" is a plain token at its line here.
    layer = TextVocabEmbedding(
        4, vocabulary=str(bert_vocab), mask_token=None, oov_token="[UNK]", split="wordpiece", standardize="lower"
    )
    reference = tf_text.BertTokenizer(str(bert_vocab), lower_case=True, token_out_type=tf.int64)
    text = tf.constant(["The cat sat on the mat", "dog playing played zebra"])
    ids = layer.halves()[0](text)
    expected = reference.tokenize(text).merge_dims(-2, -1)
    assert ids.to_list() == expected.to_list()


def test_counts_cut_a_vocabulary_to_max_tokens_and_min_frequency():
    counted = Vocabulary.from_counts(["a", "b", "c", "d", "e"], [50, 40, 3, 3, 1])
    layer = VocabEmbedding(2, vocabulary=counted, max_tokens=4, min_frequency=2)  # 1 OOV slot + 3 tokens
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "c"]
    with pytest.raises(ConfigurationError, match="max_tokens"):
        VocabEmbedding(2, vocabulary=["a", "b", "c", "d"], max_tokens=3)  # No counts: nothing to cut by.


def test_weights_of_other_special_tokens_are_refused_on_remapped_load(bert_vocab, tmp_path):
    source = bert_layer(bert_vocab)
    inputs = keras.Input(shape=(None,), dtype="string")
    keras.Model(inputs, source(inputs)).save_weights(tmp_path / "bert.weights.h5")
    target = VocabEmbedding(4, vocabulary=["<pad>", "<unk>", "cat"], mask_token="<pad>", oov_token="<unk>")
    # Keras re-raises a layer's load error as a ValueError carrying its message.
    with pytest.raises(ValueError, match="other special tokens"):
        load_remapped_weights(keras.Model(inputs, target(inputs)), tmp_path / "bert.weights.h5")
