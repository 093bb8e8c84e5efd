"""Vocabulary files that keep their ids: text (BERT vocab.txt), TensorFlow Transform frequency files, tokenizer.json."""

import json
import os
import pathlib
import re
import signal
import tempfile

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from keras_vocabsafe import TextVocabEmbedding, VocabEmbedding, VocabLookup, align_vectors
from keras_vocabsafe.errors import ConfigurationError, DuplicateTokenError, ReservedTokenError, VocabularyError
from keras_vocabsafe.vocabulary import Vocabulary

tokenizers = pytest.importorskip("tokenizers")

BERT_TOKENS = (
    ["[PAD]"]
    + [f"[unused{i}]" for i in range(10)]
    + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "##ing", "naïve", "日本", "new york"]
)


def write(path, data):
    path.write_bytes(data)
    return path


def bert_vocab_file(tmp_path, *, newline="\n", bom=False, final_newline=True):
    data = newline.join(BERT_TOKENS) + (newline if final_newline else "")
    return write(tmp_path / "vocab.txt", (b"\xef\xbb\xbf" if bom else b"") + data.encode())


# (a) BERT / keras-hub vocab.txt ----------------------------------------------------------------------------------


def test_bert_vocab_txt_keeps_every_token_at_its_line_number(tmp_path):
    vocabulary = Vocabulary.load(bert_vocab_file(tmp_path))
    lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(vocabulary) == len(lines) == 22
    for number, line in enumerate(lines):
        assert vocabulary[number] == line.encode()
    assert vocabulary.index("[PAD]") == 0
    assert vocabulary.index("[UNK]") == 11  # Line 12 of the file, after [PAD] and ten [unused] tokens.
    assert vocabulary.index("##s") == 17
    assert vocabulary.source_format == "text"


@pytest.mark.parametrize(
    "layout",
    [{}, {"newline": "\r\n"}, {"bom": True}, {"final_newline": False}, {"newline": "\r\n", "final_newline": False}],
    ids=["lf", "crlf", "bom", "no-final-newline", "crlf-no-final-newline"],
)
def test_bert_vocab_txt_writes_back_byte_identical(tmp_path, layout):
    path = bert_vocab_file(tmp_path, **layout)
    Vocabulary.load(path).save(tmp_path / "back.txt", format="text")
    assert (tmp_path / "back.txt").read_bytes() == path.read_bytes()


def test_a_token_ending_in_carriage_return_on_one_line_only_is_kept_and_written_back(tmp_path):
    path = write(tmp_path / "v.txt", b"a\nb\r\nc")
    # Kept, but said: Keras's StringLookup strips the \r, so the same file gives it other ids for "b".
    with pytest.warns(UserWarning, match=r"line\(s\) 2 end with \\r\\n and the others with \\n.*StringLookup strips"):
        vocabulary = Vocabulary.load(path)
    assert vocabulary.to_list() == ["a", "b\r", "c"]
    with pytest.raises(VocabularyError, match=r"carriage return.*format='json'"):
        vocabulary.save(tmp_path / "back.txt", format="text")


# (b) TensorFlow Transform files -----------------------------------------------------------------------------------

# Counted tokens; TFT writes '{count} {token}' lines sorted by (count, token) largest first (`sort(reverse=True)`).
COUNTED = {b"the": 9, b"new york": 4, b"a": 4, b"cat": 4, b"zebra": 2, b"of": 1, b"b": 1}


def tft_lines():
    return sorted(((count, token) for token, count in COUNTED.items()), reverse=True)


def tft_file(tmp_path, *, frequency=True):
    lines = [b"%d %s" % (count, token) if frequency else token for count, token in tft_lines()]
    return write(tmp_path / "vocab_tft", b"\n".join(lines) + b"\n")


def test_tft_frequency_file_gives_tokens_in_file_order_and_their_counts(tmp_path):
    vocabulary = Vocabulary.load(tft_file(tmp_path))
    assert vocabulary.source_format == "tft_frequency"
    assert vocabulary.tokens == tuple(token for _, token in tft_lines())
    assert vocabulary.to_list()[:4] == ["the", "new york", "cat", "a"]  # Ties: the greater token first.
    assert vocabulary.counts.tolist() == [count for count, _ in tft_lines()]


def test_tft_file_without_frequencies_is_plain_text(tmp_path):
    vocabulary = Vocabulary.load(tft_file(tmp_path, frequency=False))
    assert vocabulary.source_format == "text"
    assert vocabulary.counts is None
    assert vocabulary.tokens == tuple(token for _, token in tft_lines())


def test_tft_frequency_file_writes_back_byte_identical(tmp_path):
    path = tft_file(tmp_path)
    Vocabulary.load(path).save(tmp_path / "back", format="tft_frequency")
    assert (tmp_path / "back").read_bytes() == path.read_bytes()


def test_tft_frequency_file_of_integer_tokens(tmp_path):
    path = write(tmp_path / "ids", b"7 42\n3 -5\n3 1000\n")
    vocabulary = Vocabulary.load(path, dtype="int64")
    assert vocabulary.to_list() == [42, -5, 1000]
    assert vocabulary.counts.tolist() == [7, 3, 3]


@pytest.mark.parametrize("top_k", [0, 1, 2, 3, 4, 5, 7, 10])
def test_most_frequent_of_a_tft_file_keeps_what_tft_top_k_keeps(tmp_path, top_k):
    vocabulary = Vocabulary.load(tft_file(tmp_path))
    expected = [token for _, token in sorted(((c, t) for t, c in COUNTED.items()), reverse=True)[:top_k]]
    assert list(vocabulary.most_frequent(max_size=top_k).tokens) == expected


@pytest.mark.parametrize("threshold", [0, 1, 2, 4, 5, 9, 10])
def test_most_frequent_of_a_tft_file_keeps_what_tft_frequency_threshold_keeps(tmp_path, threshold):
    vocabulary = Vocabulary.load(tft_file(tmp_path))
    expected = [token for count, token in tft_lines() if count >= threshold]
    kept = vocabulary.most_frequent(min_frequency=threshold)
    assert list(kept.tokens) == expected
    assert kept.counts.tolist() == [COUNTED[token] for token in expected]


def test_most_frequent_keeps_the_vocabulary_order_and_breaks_ties_by_position():
    vocabulary = Vocabulary(["a", "b", "c", "d", "e"], counts=[1, 5, 3, 5, 3])
    assert vocabulary.most_frequent(max_size=2).to_list() == ["b", "d"]
    assert vocabulary.most_frequent(max_size=3).to_list() == ["b", "c", "d"]  # c and e tie: c comes first.
    assert vocabulary.most_frequent(max_size=3).counts.tolist() == [5, 3, 5]
    assert vocabulary.most_frequent(min_frequency=4, max_size=10).to_list() == ["b", "d"]
    assert vocabulary.most_frequent() == vocabulary


def test_most_frequent_refuses_a_vocabulary_without_counts():
    with pytest.raises(VocabularyError, match="no counts"):
        Vocabulary(["a"]).most_frequent(max_size=1)
    with pytest.raises(ConfigurationError, match="max_size"):
        Vocabulary(["a"], counts=[1]).most_frequent(max_size=-1)


def test_counts_must_align_with_tokens():
    with pytest.raises(VocabularyError, match="2 tokens but 1 counts"):
        Vocabulary(["a", "b"], counts=[3])


def test_a_file_whose_counts_increase_is_read_as_text(tmp_path):
    vocabulary = Vocabulary.load(write(tmp_path / "v", b"3 the\n5 cat\n"))
    assert vocabulary.source_format == "text"
    assert vocabulary.to_list() == ["3 the", "5 cat"]


def test_forced_tft_format_reads_counts_that_increase(tmp_path):
    vocabulary = Vocabulary.load(write(tmp_path / "v", b"3 the\n5 cat\n"), format="tft_frequency")
    assert vocabulary.to_list() == ["the", "cat"]
    assert vocabulary.counts.tolist() == [3, 5]


def test_a_file_with_one_line_lacking_a_count_is_text_unless_forced(tmp_path):
    path = write(tmp_path / "v", b"5 the\ncat\n1 of\n")
    assert Vocabulary.load(path).to_list() == ["5 the", "cat", "1 of"]
    with pytest.raises(VocabularyError, match=r"Line 2 .*'cat'.*<count> <token>"):
        Vocabulary.load(path, format="tft_frequency")


def test_counts_with_leading_zeros_are_not_detected_as_tft(tmp_path):
    assert Vocabulary.load(write(tmp_path / "v", b"05 the\n01 cat\n")).to_list() == ["05 the", "01 cat"]


def test_coverage_is_weighted_by_the_counts_of_a_tft_file(tmp_path):
    vocabulary = Vocabulary.load(tft_file(tmp_path))
    vectors = write(tmp_path / "glove.txt", b"the 1 0\ncat 0 1\nzebra 1 1\nunrelated 0 0\n")
    report = align_vectors(vectors, vocabulary).report
    total = sum(COUNTED.values())  # 25
    assert report.weighted_coverage == pytest.approx((9 + 4 + 2) / total)
    assert report.found == 3
    assert report.missing_tokens[:3] == ("new york", "a", "of")  # Most frequent missing first, then file order.
    assert "weighted by counts: 60.00%" in str(report)


# (c) Hugging Face tokenizer.json ----------------------------------------------------------------------------------


def wordpiece_tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", "naïve"])}
    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<extra>"])  # Two beyond the vocab.
    return tokenizer


def by_id(tokenizer):
    return [
        token.encode() for token, _ in sorted(tokenizer.get_vocab(with_added_tokens=True).items(), key=lambda kv: kv[1])
    ]


def test_wordpiece_tokenizer_json_gives_the_ids_of_the_tokenizers_library(tmp_path):
    tokenizer = wordpiece_tokenizer()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    vocabulary = Vocabulary.load(tmp_path / "tokenizer.json")
    assert vocabulary.source_format == "tokenizer_json"
    assert list(vocabulary.tokens) == by_id(tokenizer)
    assert vocabulary.index("[MASK]") == tokenizer.token_to_id("[MASK]") == 8
    assert vocabulary.index("<extra>") == 9


def test_tokenizer_json_writes_back_byte_identical(tmp_path):
    wordpiece_tokenizer().save(str(tmp_path / "tokenizer.json"))
    Vocabulary.load(tmp_path / "tokenizer.json").save(tmp_path / "back.json", format="tokenizer_json")
    assert (tmp_path / "back.json").read_bytes() == (tmp_path / "tokenizer.json").read_bytes()


def test_a_vocabulary_saved_as_tokenizer_json_is_a_wordpiece_tokenizer_the_library_loads(tmp_path):
    from tokenizers import Tokenizer

    vocabulary = Vocabulary(["[PAD]", "[UNK]", "[CLS]", "the", "cat", "##s"])
    vocabulary.save(tmp_path / "tokenizer.json", format="tokenizer_json")
    tokenizer = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert by_id(tokenizer) == list(vocabulary.tokens)
    assert tokenizer.encode("the cats dog").ids == [3, 4, 5, 1]  # the, cat, ##s, [UNK]
    assert Vocabulary.load(tmp_path / "tokenizer.json") == vocabulary


def test_a_vocabulary_without_unk_is_refused_as_tokenizer_json_and_nothing_is_written(tmp_path):
    from tokenizers import Tokenizer

    vocabulary = Vocabulary(["[PAD]", "the", "cat"])
    with pytest.raises(VocabularyError, match=r"unknown token, '\[UNK\]', is not in the vocabulary.*format='text'"):
        vocabulary.save(tmp_path / "tokenizer.json", format="tokenizer_json")
    assert os.listdir(tmp_path) == []
    # The fix the message gives: the library then encodes an unknown word as [UNK].
    fixed = Vocabulary(["[UNK]", *vocabulary])
    fixed.save(tmp_path / "tokenizer.json", format="tokenizer_json")
    tokenizer = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert tokenizer.encode("the dog").tokens == ["the", "[UNK]"]


def test_bpe_and_unigram_tokenizer_json_give_the_ids_of_the_tokenizers_library(tmp_path):
    from tokenizers import Tokenizer, models

    bpe = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "ab": 2, "Ġthe": 3}, merges=[("a", "b")]))
    unigram = Tokenizer(models.Unigram([("<unk>", 0.0), ("▁the", -1.0), ("s", -2.0)], 0))
    for name, tokenizer in (("bpe", bpe), ("unigram", unigram)):
        tokenizer.save(str(tmp_path / f"{name}.json"))
        assert list(Vocabulary.load(tmp_path / f"{name}.json").tokens) == by_id(tokenizer), name


# A changed vocabulary written into the tokenizer.json it came from (`save(..., template=)`). The source files are
# written by hand, as a tokenizer.json holds them; the references are built with the `tokenizers` API.

WORD_LEVEL_DOCUMENT = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [],
    "normalizer": {"type": "Lowercase"},
    "pre_tokenizer": {"type": "Whitespace"},
    "post_processor": None,
    "decoder": None,
    "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3}, "unk_token": "[UNK]"},
}
BPE_DOCUMENT = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [],
    "normalizer": None,
    "pre_tokenizer": {"type": "Whitespace"},
    "post_processor": None,
    "decoder": None,
    "model": {
        "type": "BPE",
        "dropout": None,
        "unk_token": "[UNK]",
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": False,
        "byte_fallback": False,
        "ignore_merges": False,
        "vocab": {"[UNK]": 0, "c": 1, "a": 2, "t": 3, "ca": 4, "cat": 5},
        "merges": [["c", "a"], ["ca", "t"]],
    },
}
UNIGRAM_DOCUMENT = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [],
    "normalizer": None,
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
    "post_processor": None,
    "decoder": None,
    "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["▁the", -1.0], ["s", -2.0]]},
}


def test_a_changed_word_level_vocabulary_saved_with_its_template_keeps_the_tokenizer_around_it(tmp_path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    source = write(tmp_path / "tokenizer.json", json.dumps(WORD_LEVEL_DOCUMENT).encode())
    assert Tokenizer.from_file(str(source)).encode("The CAT").tokens == ["the", "cat"]
    changed = Vocabulary(["[UNK]", "cat", "the", "dog"])  # Moved, added, and "sat" removed.
    changed.save(tmp_path / "changed.json", format="tokenizer_json", template=source)
    written = Tokenizer.from_file(str(tmp_path / "changed.json"))
    reference = Tokenizer(models.WordLevel({"[UNK]": 0, "cat": 1, "the": 2, "dog": 3}, unk_token="[UNK]"))
    reference.normalizer = normalizers.Lowercase()
    reference.pre_tokenizer = pre_tokenizers.Whitespace()
    text = "The CAT sat on a Dog"
    assert written.encode(text).tokens == reference.encode(text).tokens == ["the", "cat"] + ["[UNK]"] * 3 + ["dog"]
    assert written.encode(text).ids == reference.encode(text).ids
    assert json.loads(written.to_str()) == json.loads(reference.to_str())
    assert Vocabulary.load(tmp_path / "changed.json") == changed


@pytest.mark.parametrize(
    ("document", "reason"),
    [(BPE_DOCUMENT, "BPE model's merges"), (UNIGRAM_DOCUMENT, "Unigram model's scores")],
    ids=["bpe", "unigram"],
)
def test_a_changed_bpe_or_unigram_vocabulary_is_refused_with_its_template_and_nothing_is_written(
    tmp_path, document, reason
):
    from tokenizers import Tokenizer

    source = write(tmp_path / "tokenizer.json", json.dumps(document).encode())
    original = Vocabulary.load(source)
    for changed in (Vocabulary([*original, "dog"]), Vocabulary(reversed(original)), Vocabulary(original[:-1])):
        named = re.escape(f"like {str(source)!r}: its {reason}")
        with pytest.raises(VocabularyError, match=rf"{named}.*cannot follow a changed vocabulary.*format='text'"):
            changed.save(tmp_path / "changed.json", format="tokenizer_json", template=source)
        with pytest.raises(VocabularyError, match=f"like the one `template` was loaded from: its {reason}"):
            changed.save(tmp_path / "changed.json", format="tokenizer_json", template=original)
    assert os.listdir(tmp_path) == ["tokenizer.json"]
    # Unchanged tokens (say, a layer's get_vocabulary()) give the template back byte for byte, and it still loads.
    Vocabulary(original.to_list()).save(tmp_path / "same.json", format="tokenizer_json", template=source)
    assert (tmp_path / "same.json").read_bytes() == source.read_bytes()
    Tokenizer.from_file(str(tmp_path / "same.json"))


def bert_like_tokenizer(tokens):
    """A WordPiece tokenizer of `tokens` with BERT's parts: normalizer, pre-tokenizer, decoder, added tokens,
    [CLS]/[SEP] template and padding, each naming the ids `tokens` gives them."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    ids = {token: i for i, token in enumerate(tokens)}
    model_tokens = [token for token in tokens if token not in ("[MASK]", "<extra>")]
    tokenizer = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(model_tokens)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tokenizer.add_tokens([AddedToken("<extra>", normalized=False)])  # Not special: decode keeps it.
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tokenizer.enable_padding(pad_id=ids["[PAD]"], pad_token="[PAD]")
    return tokenizer


def test_a_changed_wordpiece_vocabulary_saved_with_its_template_keeps_every_part_at_the_new_ids(tmp_path):
    from tokenizers import Tokenizer

    before = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", "naïve", "dog", "[MASK]", "<extra>"]
    bert_like_tokenizer(before).save(str(tmp_path / "tokenizer.json"))
    source = Vocabulary.load(tmp_path / "tokenizer.json")
    assert list(source.tokens) == [token.encode() for token in before]
    # [PAD] moves, [CLS] and [SEP] swap ids, "dog" leaves, "bird" and "##ing" arrive; the added tokens stay last.
    after = ["[UNK]", "[PAD]", "[SEP]", "[CLS]", "the", "cat", "##s", "naïve", "bird", "##ing", "[MASK]", "<extra>"]
    Vocabulary(after).save(tmp_path / "changed.json", format="tokenizer_json", template=source)
    written = Tokenizer.from_file(str(tmp_path / "changed.json"))
    reference = bert_like_tokenizer(after)
    assert written.get_vocab(with_added_tokens=True) == reference.get_vocab(with_added_tokens=True)
    assert written.get_vocab(with_added_tokens=True) == {token: i for i, token in enumerate(after)}
    for texts in (["The CATS birding <extra> [MASK] dog"], ["Naïve cat", "the bird is a cat"]):  # Then padded.
        mine, theirs = written.encode_batch(texts), reference.encode_batch(texts)
        assert [e.tokens for e in mine] == [e.tokens for e in theirs]
        assert [e.ids for e in mine] == [e.ids for e in theirs]
        assert [written.decode(e.ids) for e in mine] == [reference.decode(e.ids) for e in theirs]
    pair = written.encode("the cat", "a dog")
    assert pair.ids == reference.encode("the cat", "a dog").ids
    assert pair.ids[0] == after.index("[CLS]") and pair.ids[-1] == after.index("[SEP]")
    assert written.encode_batch(["a", "the cat"])[0].ids[-1] == after.index("[PAD]")
    assert json.loads(written.to_str()) == json.loads(reference.to_str())
    assert Vocabulary.load(tmp_path / "changed.json") == Vocabulary(after)


@pytest.mark.parametrize(
    ("dropped", "message"),
    [
        ("[UNK]", r"WordPiece model's unk_token is the token '\[UNK\]'.*raise on the first word"),
        ("[CLS]", r"post_processor's special tokens is the token '\[CLS\]'"),
        ("[PAD]", r"padding's pad_token is the token '\[PAD\]'"),
    ],
)
def test_a_vocabulary_without_a_token_its_template_names_is_refused_and_nothing_is_written(tmp_path, dropped, message):
    before = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "[MASK]", "<extra>"]
    bert_like_tokenizer(before).save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(VocabularyError, match=message + ".*Nothing was written"):
        Vocabulary([t for t in before if t != dropped]).save(
            tmp_path / "changed.json", format="tokenizer_json", template=tmp_path / "tokenizer.json"
        )
    assert os.listdir(tmp_path) == ["tokenizer.json"]


def word_level_tokenizer(tokens, post_processor):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    ids = {token: i for i, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.WordLevel(ids, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    sep, cls = ("[SEP]", ids["[SEP]"]), ("[CLS]", ids["[CLS]"])
    tokenizer.post_processor = {
        "bert": lambda: processors.BertProcessing(sep, cls),
        "roberta": lambda: processors.RobertaProcessing(sep, cls, trim_offsets=False, add_prefix_space=False),
        "sequence": lambda: processors.Sequence(
            [processors.ByteLevel(trim_offsets=False), processors.BertProcessing(sep, cls)]
        ),
    }[post_processor]()
    return tokenizer


@pytest.mark.parametrize("post_processor", ["bert", "roberta", "sequence"])
def test_a_changed_vocabulary_moves_the_ids_every_kind_of_post_processor_inserts(tmp_path, post_processor):
    from tokenizers import Tokenizer

    word_level_tokenizer(["[UNK]", "[CLS]", "[SEP]", "a", "b"], post_processor).save(str(tmp_path / "tokenizer.json"))
    after = ["[SEP]", "c", "[UNK]", "b", "[CLS]", "a"]
    Vocabulary(after).save(tmp_path / "changed.json", format="tokenizer_json", template=tmp_path / "tokenizer.json")
    written = Tokenizer.from_file(str(tmp_path / "changed.json"))
    reference = word_level_tokenizer(after, post_processor)
    for pair in (("a b c d", None), ("a", "b c")):
        assert written.encode(*pair).ids == reference.encode(*pair).ids
        assert written.encode(*pair).tokens == reference.encode(*pair).tokens
    assert json.loads(written.to_str()) == json.loads(reference.to_str())


def test_a_template_with_a_post_processor_laid_out_otherwise_is_refused_and_nothing_is_written(tmp_path):
    document = dict(WORD_LEVEL_DOCUMENT, post_processor={"type": "BertProcessing", "sep": "[SEP]", "cls": 1})
    source = write(tmp_path / "tokenizer.json", json.dumps(document).encode())
    with pytest.raises(VocabularyError, match=r"its `post_processor` is not laid out as .*Nothing was written"):
        Vocabulary(["[UNK]", "dog"]).save(tmp_path / "changed.json", format="tokenizer_json", template=source)
    assert os.listdir(tmp_path) == ["tokenizer.json"]


def test_a_changed_vocabulary_keeps_its_templates_byte_order_mark_and_an_unknown_token_it_lacked(tmp_path):
    # The template's unk_token is not in its own vocabulary: the new one is not asked to hold it either.
    document = dict(WORD_LEVEL_DOCUMENT, model=dict(WORD_LEVEL_DOCUMENT["model"], unk_token="<unk>"))
    source = write(tmp_path / "tokenizer.json", b"\xef\xbb\xbf" + json.dumps(document).encode())
    changed = Vocabulary(["the", "dog"])
    changed.save(tmp_path / "changed.json", format="tokenizer_json", template=source)
    data = (tmp_path / "changed.json").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert json.loads(data[3:])["model"] == dict(document["model"], vocab={"the": 0, "dog": 1})
    assert Vocabulary.load(tmp_path / "changed.json") == changed


def test_a_template_is_refused_unless_it_is_a_tokenizer_json_saved_as_one(tmp_path):
    source = write(tmp_path / "tokenizer.json", json.dumps(WORD_LEVEL_DOCUMENT).encode())
    vocabulary = Vocabulary(["[UNK]", "the"])
    with pytest.raises(ConfigurationError, match=r"needs format='tokenizer_json'\. Received: format='text'"):
        vocabulary.save(tmp_path / "out.txt", format="text", template=source)
    with pytest.raises(
        VocabularyError, match=r"a Vocabulary loaded from one.*Received: a Vocabulary read from a text file\."
    ):
        vocabulary.save(
            tmp_path / "out.json", format="tokenizer_json", template=Vocabulary.load(bert_vocab_file(tmp_path))
        )
    with pytest.raises(VocabularyError, match="Received: a Vocabulary not read from a file"):
        vocabulary.save(tmp_path / "out.json", format="tokenizer_json", template=Vocabulary(["[UNK]"]))
    with pytest.raises(VocabularyError, match=r"not a Hugging Face tokenizer\.json"):
        vocabulary.save(tmp_path / "out.json", format="tokenizer_json", template=write(tmp_path / "x.json", b"{}"))
    assert sorted(os.listdir(tmp_path)) == ["tokenizer.json", "vocab.txt", "x.json"]


def tokenizer_document(vocab, added=()):
    return {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": c, "special": True} for i, c in added],
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
    }


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        (tokenizer_document({"a": 0, "b": 2}), VocabularyError, "no token with id 1"),
        (tokenizer_document({"a": 0, "b": 0}), DuplicateTokenError, "gives the id 0 to two tokens, 'a' and 'b'"),
        (tokenizer_document({"a": 0}, added=[(0, "[X]")]), DuplicateTokenError, "takes id 0"),
        (tokenizer_document({"a": 0}, added=[(2, "[X]")]), VocabularyError, "leaving id 1 without a token"),
        # The tokenizers library numbers them in list order ([Y] 1, [X] 2): its ids and the file's disagree.
        (
            tokenizer_document({"a": 0}, added=[(2, "[X]"), (1, "[Y]")]),
            VocabularyError,
            r"listed out of id order \(ids \[2, 1\]\)",
        ),
        (tokenizer_document({"a": "0"}), VocabularyError, "not an id"),
        ({"model": {"type": "Fancy", "vocab": {"a": 0}}}, VocabularyError, "model of type 'Fancy'"),
        ({"model": {"type": "WordPiece"}}, VocabularyError, "no `model.vocab`"),
    ],
    ids=[
        "gap",
        "duplicate id",
        "added token on a taken id",
        "added token gap",
        "added tokens out of order",
        "id not a number",
        "type",
        "no vocab",
    ],
)
def test_tokenizer_json_with_bad_ids_is_refused_naming_the_problem(tmp_path, document, error, message):
    path = write(tmp_path / "tokenizer.json", json.dumps(document).encode())
    with pytest.raises(error, match=message):
        Vocabulary.load(path)


def test_tokenizer_json_with_a_token_listed_twice_is_refused(tmp_path):
    data = b'{"model": {"type": "WordPiece", "vocab": {"a": 0, "b": 1, "a": 2}}}'
    with pytest.raises(DuplicateTokenError, match="key 'a' twice"):
        Vocabulary.load(write(tmp_path / "tokenizer.json", data))


# (d) Round trips and what a format cannot hold --------------------------------------------------------------------


@pytest.mark.parametrize(
    "tokens", [["a"], ["[PAD]", "[UNK]", " spaced ", "tab\there", "naïve", "日本語", "x\ry"], [""], ["", "a"]]
)
def test_text_round_trip(tmp_path, tokens):
    vocabulary = Vocabulary(tokens)
    vocabulary.save(tmp_path / "v.txt", format="text")
    assert Vocabulary.load(tmp_path / "v.txt", format="text") == vocabulary


def test_int64_text_round_trip(tmp_path):
    vocabulary = Vocabulary([3, -1, 2**63 - 1], dtype="int64")
    vocabulary.save(tmp_path / "v.txt", format="text")
    assert (tmp_path / "v.txt").read_bytes() == b"3\n-1\n9223372036854775807\n"
    assert Vocabulary.load(tmp_path / "v.txt", dtype="int64") == vocabulary


def test_tft_round_trip_from_counts(tmp_path):
    vocabulary = Vocabulary.from_counts(["b", "a", "c c"], [2, 7, 2])
    vocabulary.save(tmp_path / "v", format="tft_frequency")
    assert (tmp_path / "v").read_bytes() == b"7 a\n2 b\n2 c c\n"
    back = Vocabulary.load(tmp_path / "v")
    assert back == vocabulary and back.counts.tolist() == [7, 2, 2]


def test_json_file_keeps_counts(tmp_path):
    vocabulary = Vocabulary(["x", "y"], counts=[1, 4])
    vocabulary.save(tmp_path / "v.json")
    back = Vocabulary.load(tmp_path / "v.json")
    assert back == vocabulary and back.counts.tolist() == [1, 4]
    assert "counts" not in vocabulary.to_config()


@pytest.mark.parametrize(
    ("vocabulary", "format", "message"),
    [
        (Vocabulary(["a", "line\nbreak"]), "text", "'line\\\\nbreak' at position 1 holds a newline.*format='json'"),
        (Vocabulary(["a\r", "b"]), "text", "carriage return"),
        (Vocabulary([b"\xff"]), "text", "not valid UTF-8"),
        (Vocabulary([b"\xff"]), "tokenizer_json", "not valid UTF-8"),
        (Vocabulary(["a"]), "tft_frequency", "needs a count per token"),
        (Vocabulary(["a", "b"], counts=[1, 2]), "tft_frequency", "counts increase at position 1"),
        (Vocabulary([]), "text", "empty vocabulary"),
        (Vocabulary([1], dtype="int64"), "tokenizer_json", "string tokens"),
        # Read back without format="text", these would be other tokens: counts and words, or JSON.
        (Vocabulary(["221 baker", "10 downing"]), "text", "would read back as tft_frequency.*format='json'"),
        (Vocabulary(["{", "b"]), "text", "would read back as json"),
        (Vocabulary(["a\x00", "\x00", "b\x00c", "d"]), "text", "at position 0 holds a NUL byte"),
    ],
    ids=[
        "newline",
        "carriage return",
        "not utf-8",
        "tokenizer not utf-8",
        "no counts",
        "increasing",
        "empty",
        "int",
        "counts and words",
        "json",
        "nul",
    ],
)
def test_a_token_a_format_cannot_hold_is_refused_and_nothing_is_written(tmp_path, vocabulary, format, message):
    with pytest.raises(VocabularyError, match=message):
        vocabulary.save(tmp_path / "out", format=format)
    assert list(tmp_path.iterdir()) == []


def test_tokens_that_start_with_numbers_save_as_text_when_they_cannot_be_read_as_counts(tmp_path):
    # Increasing numbers are not a frequency file; each token stays as it is.
    vocabulary = Vocabulary(["10 downing", "221 baker"])
    vocabulary.save(tmp_path / "v.txt", format="text")
    assert Vocabulary.load(tmp_path / "v.txt") == vocabulary


@pytest.mark.parametrize("format", ["auto", "text", "tft_frequency"])
def test_a_file_with_carriage_returns_for_line_ends_is_refused_not_read_as_one_token(tmp_path, format):
    path = tmp_path / "mac.txt"
    path.write_bytes(b"alpha\rbeta\rgamma\r")
    with pytest.raises(VocabularyError, match=r"carriage return alone.*\\n"):
        Vocabulary.load(path, format=format)


def test_a_second_ctrl_c_during_the_cleanup_of_an_interrupted_save_leaves_nothing_beside(
    tmp_path, monkeypatch, ctrl_c_while_removing
):
    def first_ctrl_c(source, target):
        raise KeyboardInterrupt  # Lands as the written file is renamed into place.

    monkeypatch.setattr(os, "replace", first_ctrl_c)
    removed = ctrl_c_while_removing(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        Vocabulary(["a", "b"]).save(tmp_path / "vocab.json")
    assert len(removed) == 1 and removed[0].startswith(".vocabulary-")
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_as_the_cleanup_of_an_interrupted_save_starts_leaves_nothing_beside(
    tmp_path, monkeypatch, ctrl_c_while_removing
):
    # A second Ctrl-C before the hold on them was in place (`signal.signal()` runs the handler of a SIGINT already
    # pending before it replaces it) raised from the cleanup before it removed anything: the written file stayed.
    getsignal = signal.getsignal

    def second_ctrl_c_first(signum):
        monkeypatch.setattr(signal, "getsignal", getsignal)
        signal.raise_signal(signal.SIGINT)  # A real SIGINT, to Python's handler: KeyboardInterrupt from here.
        return getsignal(signum)

    def first_ctrl_c(source, target):
        monkeypatch.setattr(signal, "getsignal", second_ctrl_c_first)
        raise KeyboardInterrupt  # Lands as the written file is renamed into place.

    monkeypatch.setattr(os, "replace", first_ctrl_c)
    removed = ctrl_c_while_removing(tmp_path)  # And a third one while the file is removed.
    with pytest.raises(KeyboardInterrupt):
        Vocabulary(["a", "b"]).save(tmp_path / "vocab.json")
    assert len(removed) == 1 and removed[0].startswith(".vocabulary-")
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # The handler in place is put back.


def test_save_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ConfigurationError, match="`format` must be one of"):
        Vocabulary(["a"]).save(tmp_path / "v", format="csv")


@pytest.mark.parametrize("exists", [True, False], ids=["file", "missing file"])
def test_an_unknown_format_is_the_same_bad_argument_to_load_and_save_and_told_before_the_file(tmp_path, exists):
    path = tmp_path / "v.txt"
    if exists:
        path.write_text("a\nb\n")
    for call in (lambda: Vocabulary.load(path, format="nope"), lambda: Vocabulary(["a"]).save(path, format="nope")):
        # A bad argument (ConfigurationError), still a VocabularyError, which load raised for it before.
        with pytest.raises(ConfigurationError, match=r"`format` must be .*Received: format='nope'") as caught:
            call()
        assert isinstance(caught.value, VocabularyError)
    assert path.exists() == exists and list(tmp_path.iterdir()) == ([path] if exists else [])


@pytest.mark.parametrize("kind", ["missing file", "directory", "binary file", "text file"])
def test_load_tells_a_bad_dtype_before_reading_the_file(tmp_path, kind):
    path = tmp_path / "v.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "binary file":
        path.write_bytes(b"\x00\x01\x02\x03" * 64)
    elif kind == "text file":
        path.write_text("a\nb\n")
    with pytest.raises(ConfigurationError, match=r"`dtype` must be 'string' or 'int64'\. Received: dtype='nope'"):
        Vocabulary.load(path, dtype="nope")


def test_fingerprint_depends_on_order_and_dtype():
    assert Vocabulary(["a", "b"]).fingerprint() == Vocabulary([b"a", b"b"]).fingerprint()
    assert Vocabulary(["a", "b"]).fingerprint() != Vocabulary(["b", "a"]).fingerprint()
    assert Vocabulary(["1"]).fingerprint() != Vocabulary([1], dtype="int64").fingerprint()
    assert Vocabulary(["ab", "c"]).fingerprint() != Vocabulary(["a", "bc"]).fingerprint()


def test_diff_names_added_removed_and_moved_tokens():
    old = Vocabulary(["[PAD]", "the", "cat", "dog"])
    new = Vocabulary(["[PAD]", "cat", "the", "bird"])
    difference = old.diff(new)
    assert difference.added == (3,) and difference.removed == (3,)
    assert difference.moved == ((1, 2), (2, 1))
    assert not difference.identical and difference.kept == 3
    assert "lose the rows of 1 tokens" in difference.summary()
    assert old.diff(Vocabulary(["[PAD]", "the", "cat", "dog", "new"])).moved == ()
    assert old.diff(old).identical


# (e) Hostile files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"\xef\xbb\xbf", "only a byte order mark"),
        ("the\ncat\n".encode("utf-16"), "UTF-16"),
        (b'{"format": "keras_vocabsafe.vocabulary", "tok', "not valid JSON.*truncated"),
        (b"{\n}\n;\n", r"not valid JSON.*one token per line.*format='text'"),  # Punctuation tokens, '{' first.
        (np.arange(64, dtype=np.int64).tobytes(), "looks binary"),
        (b"a\nb\na\n", "lists the token 'a' twice, on lines 1 and 3"),
        (b"\xff\xfe\x00\x00a\x00\x00\x00", "UTF-32"),
        # Was "looks binary ... a checkpoint or a vectors file is not a vocabulary".
        ("the\ncat\n".encode("utf-16-le"), r"is UTF-16-LE text without a byte order mark.*encoding='utf-16-le'"),
        ("the\ncat\n".encode("utf-16-be"), r"is UTF-16-BE text without a byte order mark.*encoding='utf-16-be'"),
        (np.arange(64, dtype=np.int16).tobytes(), "looks binary"),
        # Was "looks binary" too: letters of other scripts have no NUL byte, only the line breaks do.
        (
            "привет\nмир\n".encode("utf-16-le"),  # noqa: RUF001 (Cyrillic on purpose)
            r"is UTF-16-LE text without a byte order mark.*encoding='utf-16-le'",
        ),
        ("你好\n世界\n".encode("utf-16-be"), r"is UTF-16-BE text without a byte order mark.*encoding='utf-16-be'"),
        (np.arange(100, dtype=np.int16).tobytes(), "looks binary"),
        (np.arange(100, dtype=np.float32).tobytes(), "looks binary"),
    ],
    ids=[
        "empty",
        "bom only",
        "utf-16",
        "truncated json",
        "text with a brace first",
        "binary",
        "duplicate line",
        "utf-32",
        "utf-16-le without a mark",
        "utf-16-be without a mark",
        "int16 binary",
        "cyrillic utf-16-le without a mark",
        "chinese utf-16-be without a mark",
        "int16 binary of 100",
        "float32 binary",
    ],
)
def test_hostile_files_are_refused_with_a_vocabulary_error(tmp_path, data, message):
    with pytest.raises(VocabularyError, match=message):
        Vocabulary.load(write(tmp_path / "vocab", data))


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("привет", "utf-16-le"),
        ("привет", "utf-16-be"),
        ("Ελληνικά", "utf-16-le"),
        ("שלום\nעולם", "utf-16-be"),  # noqa: RUF001 (Hebrew on purpose)
        ("नमस्ते", "utf-16-le"),  # Devanagari: its high bytes are tabs.
        ("สวัสดี", "utf-16-le"),
        ("ЊЊЊ\nЊ\n", "utf-16-le"),  # U+040A: a \n byte in each letter, more than the line breaks.
    ],
    ids=["cyrillic-le", "cyrillic-be", "greek", "hebrew", "devanagari", "thai", "nje"],
)
def test_utf16_without_a_mark_in_a_script_whose_letters_have_no_nul_byte_is_named(tmp_path, text, encoding):
    # Without a line break such a file has no NUL byte: it loaded as one token of control characters (\x04 ...).
    # The line of U+040A letters loaded as tokens split at their \n bytes.
    with pytest.raises(VocabularyError, match=rf"is {encoding.upper()} text without a byte order mark.*{encoding}'"):
        Vocabulary.load(write(tmp_path / "vocab.txt", text.encode(encoding)))


@pytest.mark.parametrize(
    "text",
    [
        "привет\nмир\n",  # noqa: RUF001 (Cyrillic on purpose)
        "你好\n世界\n",
        "ab\ncd\n",
        "the\tcount\ncat\x04\n",  # A tab, and a token holding a control character.
        "naïve\nnew york\x1b\nпривет\x01\n",  # noqa: RUF001
        "Ελληνικά\n",
    ],
)
def test_utf8_text_is_not_taken_for_utf16(tmp_path, text):
    vocabulary = Vocabulary.load(write(tmp_path / "vocab.txt", text.encode("utf-8")))
    assert vocabulary.to_list() == text.split("\n")[:-1]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(
    "text",
    [
        # Every byte ASCII (a letter or a line break) or NUL: in UTF-16-BE it loaded as the tokens 'o', 'S', '\x00',
        # '_', 'o:\x00'; in UTF-16-LE it listed the token '\x00' twice.
        "漊匊\n弊漺\n",
        "圊挊\n瘊樊\n",
        "上上\n",  # The token 'N' twice.
        "上上下\n下上\n",
    ],
    ids=["ascii-bytes", "ascii-bytes-2", "repeated", "two-lines"],
)
def test_utf16_without_a_mark_whose_letters_hold_line_break_bytes_is_named(tmp_path, text, encoding):
    # Letters whose own bytes are 0A (上 is U+4E0A) outnumbered the line breaks, so the file read as UTF-8 text.
    with pytest.raises(VocabularyError, match=rf"is {encoding.upper()} text without a byte order mark.*{encoding}'"):
        Vocabulary.load(write(tmp_path / "vocab.txt", text.encode(encoding)))


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("日本", "utf-16-le"), ("日本", "utf-16-be"), ("上上上\n", "utf-16-le"), ("上上上\n", "utf-16-be")],
    ids=["one-line-le", "one-line-be", "repeat-le", "repeat-be"],
)
def test_utf16_without_a_mark_is_named_for_any_format_or_dtype(tmp_path, text, encoding):
    # A line of Chinese without a line break holds no NUL byte: it was "Line 1 ... is not valid UTF-8", without
    # the conversion. Read as UTF-8 it is not a vocabulary either way, so the refusal names what it reads as.
    path = write(tmp_path / "vocab.txt", text.encode(encoding))
    for format in ("auto", "text", "tft_frequency"):
        with pytest.raises(VocabularyError, match=rf"is {encoding.upper()} text without a byte order mark") as caught:
            Vocabulary.load(path, format=format)
        assert type(caught.value) is VocabularyError  # Not a DuplicateTokenError: the file lists no token twice.


@pytest.mark.parametrize(
    ("data", "tokens"),
    [
        (b"`O}Y\n", ["`O}Y"]),  # 你好 in UTF-16-LE, with a UTF-8 line break: odd length.
        (b"`O}Y", ["`O}Y"]),  # One line, no line break: 你好 in UTF-16-LE too, and read as the text it also is.
        (b"O`Y}\nN\x16uL\n", ["O`Y}", "N\x16uL"]),  # Even length, a control byte, but no NUL beside a line break.
        (b"ab\tcd\nef\tg\n", ["ab\tcd", "ef\tg"]),  # Tabs.
        ("你好\n".encode(), ["你好"]),
        ("你好".encode(), ["你好"]),
        (b"a", ["a"]),
        (b"ab", ["ab"]),
        (b"abc\n", ["abc"]),
        (b"ab\ncd\n", ["ab", "cd"]),
    ],
    ids=[
        "ascii-nihao",
        "ascii-nihao-no-newline",
        "control",
        "tabs",
        "chinese",
        "chinese-one-line",
        "a",
        "ab",
        "abc",
        "two-lines",
    ],
)
def test_utf8_and_ascii_vocabularies_that_also_decode_as_utf16_load_exactly(tmp_path, data, tokens):
    assert Vocabulary.load(write(tmp_path / "vocab.txt", data)).to_list() == tokens


def test_a_short_line_that_is_not_utf8_and_reads_as_utf16_either_way_names_both_byte_orders(tmp_path):
    data = "艢".encode("utf-16-le")  # U+8262; the same bytes in UTF-16-BE are U+6282, a letter too.
    assert data.decode("utf-16-be").isprintable()
    with pytest.raises(
        VocabularyError, match=r"is UTF-16 text without a byte order mark.*'utf-16-le'\).read\(\)` \(or 'utf-16-be'"
    ):
        Vocabulary.load(write(tmp_path / "vocab.txt", data))


def test_a_utf8_file_with_a_repeat_is_refused_as_such_though_it_decodes_as_utf16(tmp_path):
    data = b"abc\nabc\n"  # As UTF-16-BE: four CJK letters (U+6162, U+630A, ...), no line break.
    assert data.decode("utf-16-be").isprintable()
    with pytest.raises(DuplicateTokenError, match="lists the token 'abc' twice"):
        Vocabulary.load(write(tmp_path / "vocab.txt", data))


@pytest.mark.parametrize("text", ["café\nnoël\n", "thé\nété\n", "cafés\nthé\n"])
def test_a_latin1_file_is_refused_as_not_utf8_not_as_utf16(tmp_path, text):
    data = text.encode("latin-1")  # The first two decode as UTF-16 letters too; their line breaks have no NUL.
    with pytest.raises(VocabularyError, match=r"Line 1 .* is not valid UTF-8") as caught:
        Vocabulary.load(write(tmp_path / "vocab.txt", data))
    assert "UTF-16" not in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs"), blacklist_characters="{"), min_size=1),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    st.booleans(),
)
def test_utf8_vocabularies_of_printable_tokens_load_exactly(tokens, final_newline):
    # UTF-16 text with a line break has a NUL byte beside it; printable UTF-8 text has no NUL byte at all.
    data = ("\n".join(tokens) + ("\n" if final_newline else "")).encode("utf-8")
    with tempfile.TemporaryDirectory() as directory:
        path = write(pathlib.Path(directory) / "vocab.txt", data)
        assert Vocabulary.load(path, format="text").to_list() == tokens


@pytest.mark.parametrize("seed", range(50))
def test_binary_numbers_without_nul_bytes_are_not_taken_for_utf16_text(tmp_path, seed):
    rng = np.random.default_rng(seed)
    for data in (
        rng.integers(1, 256, size=400, dtype=np.uint8).tobytes(),
        rng.normal(size=100).astype(np.float32).tobytes(),
        rng.integers(-2000, 2000, size=100).astype(np.int16).tobytes(),
    ):
        try:
            Vocabulary.load(write(tmp_path / "vocab", data))
        except VocabularyError as error:
            assert "UTF-16" not in str(error), str(error)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_byte_order_mark_and_one_line_break_read_as_the_line_break_alone_does(tmp_path, newline):
    # A blank line is the token '' (test_text_round_trip writes Vocabulary(['']) as "\n"); a byte order mark before
    # it changes nothing, as it does not before other tokens. Only a file without any line is empty.
    plain = Vocabulary.load(write(tmp_path / "plain.txt", newline))
    marked = Vocabulary.load(write(tmp_path / "marked.txt", b"\xef\xbb\xbf" + newline))
    assert marked == plain == Vocabulary([""])
    marked.save(tmp_path / "again.txt", format="text")
    assert (tmp_path / "again.txt").read_bytes() == b"\xef\xbb\xbf" + newline


@pytest.mark.parametrize("seed", range(20))
def test_float32_bytes_with_few_nul_bytes_are_not_taken_for_utf16_text(tmp_path, seed):
    values = np.random.default_rng(seed).normal(size=256).astype(np.float32)
    with pytest.raises(VocabularyError) as caught:
        Vocabulary.load(write(tmp_path / "vocab", np.concatenate([values, np.linspace(1, 2, 64, dtype="float32")])))
    assert "UTF-16" not in str(caught.value), str(caught.value)


@pytest.mark.parametrize("parent", ["file", "file/sub"])
def test_save_into_a_directory_that_is_a_file_names_the_file(tmp_path, parent):
    (tmp_path / "file").write_text("kept")
    expected = rf"'{re.escape(str(tmp_path / 'file'))}' is a file, not a directory\. Save elsewhere"
    with pytest.raises(VocabularyError, match=expected):
        Vocabulary(["a"]).save(tmp_path / parent / "vocab.json")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_directory_and_a_missing_file_are_refused(tmp_path):
    with pytest.raises(VocabularyError, match="is a directory"):
        Vocabulary.load(tmp_path, format="text")
    with pytest.raises(VocabularyError, match="does not exist"):
        Vocabulary.load(tmp_path / "missing.txt", format="tft_frequency")


def test_load_refuses_an_unknown_format(tmp_path):
    with pytest.raises(VocabularyError, match="`format` must be 'auto' or one of"):
        Vocabulary.load(write(tmp_path / "v", b"a\n"), format="csv")


@pytest.mark.parametrize("count", [b"9223372036854775808", b"9" * 5000])
def test_a_frequency_file_count_past_int64_is_refused_naming_the_line(tmp_path, count):
    # It raised a raw OverflowError (or Python's ValueError past 4,300 digits); `vocab show` called it a bug.
    path = write(tmp_path / "frequencies.txt", b"9 a\n" + count + b" b\n")
    with pytest.raises(VocabularyError, match=rf"Line 2 of .* has a count of {len(count):,} digits"):
        Vocabulary.load(path, format="tft_frequency")
    assert Vocabulary.load(write(tmp_path / "ok.txt", b"9223372036854775807 a\n")).counts.tolist() == [2**63 - 1]


def test_saving_through_a_symbolic_link_keeps_the_link(tmp_path):
    # The link was replaced by a plain file and its target left stale (`vocabsafe` writes through links).
    target = tmp_path / "releases" / "vocabulary.json"
    target.parent.mkdir()
    Vocabulary(["old"]).save(target)
    link = tmp_path / "current.json"
    link.symlink_to(target)
    Vocabulary(["new", "tokens"]).save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert Vocabulary.load(target).tokens == (b"new", b"tokens")


@pytest.mark.parametrize("missing", ["dtype", "tokens", "encoding", "format_version"])
def test_a_json_vocabulary_file_missing_an_entry_is_refused_naming_the_file_and_the_entry(tmp_path, missing):
    # It said "`vocabulary_dtype` must be 'string' or 'int64'. Received: vocabulary_dtype=None", or "Expected a
    # list of tokens, received NoneType", without the file.
    config = Vocabulary(["a", "b"]).to_config()
    del config[missing]
    path = write(tmp_path / "vocabulary.json", json.dumps(config).encode())
    message = rf"vocabulary file '{re.escape(str(path))}' has no `{missing}`.*`Vocabulary.save\(\)`"
    with pytest.raises(VocabularyError, match=message):
        Vocabulary.load(path)
    with pytest.raises(VocabularyError, match=message):
        VocabEmbedding(vocabulary=str(path), output_dim=2)


def test_a_json_vocabulary_file_with_invalid_content_names_the_file(tmp_path):
    config = Vocabulary(["a", "b"]).to_config()
    config["tokens"] = ["a", "b", "a"]
    path = write(tmp_path / "vocabulary.json", json.dumps(config).encode())
    with pytest.raises(
        DuplicateTokenError, match=rf"vocabulary file '{re.escape(str(path))}' does not hold.*'a' twice"
    ):
        Vocabulary.load(path)


@pytest.mark.parametrize("layer_class", [VocabEmbedding, VocabLookup, TextVocabEmbedding])
def test_a_blank_line_that_is_the_mask_token_is_refused_naming_the_file_and_line(tmp_path, layer_class):
    # It said "lists its mask_token '' (at position 1)", without the file, and the position is not the line.
    path = write(tmp_path / "vocab.txt", b"a\n\nb\n")
    arguments = {"output_dim": 2} if layer_class is not VocabLookup else {}
    with pytest.raises(
        ReservedTokenError,
        match=rf"mask_token '' \(on line 2 of the vocabulary file '{re.escape(str(path))}'\).*stray blank line",
    ):
        layer_class(vocabulary=str(path), mask_token="", **arguments)


def test_a_tokenizer_json_giving_an_added_token_two_ids_is_refused_naming_the_file_and_ids(tmp_path):
    # It said "The vocabulary lists the token '[X]' twice, at positions 3 and 4", without the file.
    document = tokenizer_document({"[UNK]": 0, "a": 1, "b": 2}, added=[(3, "[X]"), (4, "[X]")])
    path = write(tmp_path / "tokenizer.json", json.dumps(document).encode())
    with pytest.raises(
        DuplicateTokenError,
        match=rf"In '{re.escape(str(path))}', `added_tokens` lists the token '\[X\]' twice, with ids 3 and 4",
    ):
        Vocabulary.load(path)


def test_a_special_token_listed_alone_in_a_tokenizer_json_is_refused_naming_the_file_and_id(tmp_path):
    path = write(tmp_path / "tokenizer.json", json.dumps(tokenizer_document({"a": 0, "[PAD]": 1})).encode())
    with pytest.raises(
        ReservedTokenError, match=rf"mask_token '\[PAD\]' \(at id 1 of the tokenizer.json '{re.escape(str(path))}'\)"
    ):
        VocabEmbedding(vocabulary=str(path), output_dim=2, mask_token="[PAD]")


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.isdir("/dev/fd"), reason="needs FIFOs and /dev/fd")
def test_load_reads_a_pipe_and_a_fifo_whose_writer_comes_later(tmp_path):
    import threading
    import time

    tokens = ["[PAD]", "the", "cat"]
    data = "".join(f"{token}\n" for token in tokens).encode("utf-8")
    # `<(...)` in a shell: a /dev/fd path to a pipe that already has its writer.
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
        os.close(write_end)
        assert list(Vocabulary.load(f"/dev/fd/{read_end}").tokens) == [token.encode("utf-8") for token in tokens]
    finally:
        os.close(read_end)
    # A named FIFO waits for its writer, as open() does (the docstring says so): one that comes later is read.
    fifo = tmp_path / "vocab.fifo"
    os.mkfifo(fifo)

    def write_later():
        time.sleep(0.5)
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        assert list(Vocabulary.load(fifo).tokens) == [token.encode("utf-8") for token in tokens]
    finally:
        writer.join()
