"""`keras_vocabsafe.beam`: Beam computes the vocabulary `adapt` keeps, token for token, in order, with counts.

Most cases run as branches of one pipeline on the DirectRunner with two workers (`multi_threading`: two
workers in this process, each with its own bundles, so the counts are merged across workers as on any runner);
one slow test runs two worker processes (`multi_processing`). Typed errors are checked on the single-worker
`in_memory` runner, which re-raises them as they are (with several workers Beam wraps them in a RuntimeError).
"""

from __future__ import annotations

import collections
import json
import os

import apache_beam as beam  # The `test` extra installs it: a missing Beam must fail, not skip.
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from keras_vocabsafe import (
    ConfigurationError,
    KeyDtypeError,
    TextEncodingError,
    TextInputError,
    TextVocabEmbedding,
    TextVocabLookup,
    VocabEmbedding,
    VocabLookup,
    Vocabulary,
    VocabularyError,
)
from keras_vocabsafe._tokens import canonical_token
from keras_vocabsafe.beam import ComputeVocabulary, WriteVocabulary, integer_weights

pytestmark = pytest.mark.usefixtures("beam_temp_in_tmp_path")


def two_workers(mode: str = "multi_threading") -> PipelineOptions:
    return PipelineOptions(direct_num_workers=2, direct_running_mode=mode)


def one_worker() -> PipelineOptions:
    return PipelineOptions(direct_num_workers=1, direct_running_mode="in_memory")


def zipf_corpus(seed: int, sentences: int) -> list[str | bytes]:
    """Sentences over a small alphabet of words, so that many tokens tie; some Unicode, newlines, bad bytes."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)] + ["Café", "CAFÉ", "ﬁne", "naïve", "x\u2028y", "\u3000wide\u3000"]
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    corpus: list[str | bytes] = []
    for n in rng.integers(1, 12, size=sentences):
        sentence = " ".join(rng.choice(words, size=n, p=weights))
        corpus.append(sentence)
    corpus[::97] = [s + "\nnext, line" for s in corpus[::97]]
    corpus[::89] = [s.encode() + b" bad\xffbyte \xfe" for s in corpus[::89]]
    return corpus


TEXT = zipf_corpus(1, 3000)
STRING_KEYS = (
    ["a", "b", "b", "new\nline", "new\nline", b"\xff\xfe", b"\xff\xfe", "", "[UNK]", "[UNK]", "[UNK]"] * 7
    + [f"k{i % 40}" for i in range(2000)]
    + ["tie1", "tie2", "tie3"] * 3
)
INT_KEY_ROWS = [[i % 37, -(i % 11), 2**62 + i % 3, -1] for i in range(1500)]

# name -> (layer factory, corpus). Each factory builds a fresh layer; adapt and Beam each get their own.
CASES = {
    "text_default_cut": (lambda: TextVocabEmbedding(4, max_tokens=40, min_frequency=2), TEXT),
    "text_regex_newlines": (
        lambda: TextVocabEmbedding(4, standardize=None, split="regex", split_pattern=r"[ ,]+"),
        TEXT,
    ),
    "text_unicode_tf_text": (
        lambda: TextVocabLookup(standardize="case_fold", normalization_form="NFKC", split="unicode_script"),
        TEXT,
    ),
    "text_ngrams_reserved": (
        lambda: TextVocabEmbedding(4, ngrams=2, reserved_tokens=["[CLS]", "[SEP]"], max_tokens=50, mask_token=None),
        TEXT,
    ),
    # "w1" is the second most frequent word: a reserved token's count is reported as adapt reports it (Beam gave 0).
    "text_reserved_seen": (lambda: TextVocabEmbedding(4, reserved_tokens=["w1", "[CLS]"], max_tokens=30), TEXT),
    "text_characters": (lambda: TextVocabEmbedding(4, split="character", max_tokens=20), TEXT),
    "text_wordpiece": (lambda: TextVocabEmbedding(4, split="wordpiece", max_tokens=120), TEXT),
    # 2 special ids + 40 k-tokens (50 each) + b, newline, bad bytes (14 each) + a (7) + 2 of the 3 tied tokens (3 each).
    "keys_string": (lambda: VocabEmbedding(4, max_tokens=48, mask_token=""), STRING_KEYS),
    "keys_int64": (lambda: VocabLookup(vocabulary_dtype="int64", max_tokens=30), INT_KEY_ROWS),
}


def flat(corpus: list) -> list:
    return [key for row in corpus for key in row] if isinstance(corpus[0], list) else corpus


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """Every case computed by Beam on two workers, in one pipeline: path of each written vocabulary file."""
    directory = tmp_path_factory.mktemp("beam")
    paths = {name: str(directory / f"{name}.json") for name in CASES}
    with beam.Pipeline(options=two_workers()) as pipeline:
        for name, (make_layer, corpus) in CASES.items():
            (
                pipeline
                | f"Read {name}" >> beam.Create(corpus, reshuffle=True)
                | f"Compute {name}" >> ComputeVocabulary(make_layer())
                | f"Write {name}" >> WriteVocabulary(paths[name])
            )
    return paths


@pytest.fixture(scope="module")
def adapted():
    layers = {}
    for name, (make_layer, corpus) in CASES.items():
        layer = make_layer()
        data = flat(corpus)
        layer.adapt(np.array(data, dtype=object) if isinstance(data[0], (str, bytes)) else np.array(data))
        layers[name] = layer
    return layers


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_vocabulary_equals_adapt_in_order_with_counts(name, computed, adapted):
    expected = adapted[name].vocabulary
    written = Vocabulary.load(computed[name], dtype=adapted[name].vocabulary_dtype)
    assert written == expected
    assert list(written.tokens) == list(expected.tokens)
    if expected.counts is None:  # Reserved tokens and WordPiece subwords carry no counts in adapt either.
        assert written.counts is None
    else:
        assert written.counts.tolist() == expected.counts.tolist()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_written_file_gives_a_layer_the_same_ids(name, computed, adapted):
    layer = adapted[name]
    settings = {
        key: value
        for key, value in layer.get_config().items()
        if key not in ("name", "vocabulary", "vocabulary_encoding", "vocabulary_size", "trainable_rows")
    }
    reloaded = type(layer)(**{**settings, "vocabulary": computed[name]})
    assert reloaded.get_vocabulary() == layer.get_vocabulary()
    data = flat(CASES[name][1])[:300]
    probe = np.array(data) if isinstance(data[0], int) else np.array([canonical_token(d, "string") for d in data])
    assert _ids(reloaded, probe) == _ids(layer, probe)


def _ids(layer, probe):
    lookup = layer if isinstance(layer, (VocabLookup, TextVocabLookup)) else layer.lookup()
    ids = lookup(probe)
    return ids.to_list() if hasattr(ids, "to_list") else ids.numpy().tolist()


@pytest.mark.slow
def test_tokens_with_newlines_and_bad_bytes_survive(computed):
    keys = Vocabulary.load(computed["keys_string"])
    assert b"new\nline" in keys.tokens and b"\xff\xfe" in keys.tokens
    assert keys.tokens[-2:] == (b"tie1", b"tie2")  # the cut falls inside a tie: the smaller bytes win
    assert b"" not in keys.tokens and b"[UNK]" not in keys.tokens  # mask and OOV tokens have ids of their own
    regex = Vocabulary.load(computed["text_regex_newlines"])
    assert any(b"\n" in token for token in regex.tokens)
    assert any(b"\xef\xbf\xbd" in token for token in regex.tokens)  # invalid bytes became U+FFFD, as in adapt


@pytest.mark.slow
def test_hand_counted_ties_and_cut():
    # a, b, c, d, e twice each ("E" lowered), f once: max_tokens=5 leaves 3 slots after mask and OOV, ties go
    # to the smaller bytes, and min_frequency=2 would drop f anyway.
    corpus = ["b a c", "a b", "c d", "d e", "E f!"]
    with beam.Pipeline(options=two_workers()) as pipeline:
        result = (
            pipeline
            | beam.Create(corpus, reshuffle=True)
            | ComputeVocabulary(TextVocabEmbedding(4, max_tokens=5, min_frequency=2))
            | beam.Map(lambda v: (v.tokens, v.counts.tolist()))
        )
        assert_that(result, equal_to([((b"a", b"b", b"c"), [2, 2, 2])]))


@pytest.mark.slow
def test_weights_sum_per_token_and_zero_sums_are_left_out(tmp_path):
    text = [("a b b", 2), ("b c", 3), ("gone", 0), ("c", 1.0)]
    keys = [(["x", "y"], 4), ("y", 1), (["z"], 0), ([b"\xff"], 2)]
    path_text, path_keys = str(tmp_path / "text.json"), str(tmp_path / "keys.json")
    with beam.Pipeline(options=two_workers()) as pipeline:
        (
            pipeline
            | "text" >> beam.Create(text, reshuffle=True)
            | "count text" >> ComputeVocabulary(TextVocabEmbedding(4), weights=True)
            | "write text" >> WriteVocabulary(path_text)
        )
        (
            pipeline
            | "keys" >> beam.Create(keys, reshuffle=True)
            | "count keys" >> ComputeVocabulary(VocabEmbedding(4), weights=True)
            | "write keys" >> WriteVocabulary(path_keys)
        )
    expected_text = collections.Counter()
    for sentence, weight in text:
        for word in sentence.split():
            expected_text[word] += int(weight)
    written = Vocabulary.load(path_text)
    assert dict(zip(written.to_list(), written.counts.tolist())) == {k: v for k, v in expected_text.items() if v}
    assert written.to_list() == ["b", "c", "a"]  # b: 2*2 + 3 = 7, c: 3 + 1 = 4, a: 2
    keys_written = Vocabulary.load(path_keys)
    assert keys_written.to_list() == ["y", "x", b"\xff"] and keys_written.counts.tolist() == [5, 4, 2]


@pytest.mark.slow
def test_two_worker_processes_give_adapts_vocabulary(tmp_path, adapted):
    path = str(tmp_path / "vocabulary.json")
    make_layer, corpus = CASES["text_default_cut"]
    with beam.Pipeline(options=two_workers("multi_processing")) as pipeline:
        pipeline | beam.Create(corpus, reshuffle=True) | ComputeVocabulary(make_layer()) | WriteVocabulary(path)
    written = Vocabulary.load(path)
    assert list(written.tokens) == list(adapted["text_default_cut"].vocabulary.tokens)
    assert written.counts.tolist() == adapted["text_default_cut"].vocabulary.counts.tolist()


def test_config_forms_agree_and_pickle_small():
    layer = TextVocabEmbedding(64, max_tokens=100, standardize="lower", reserved_tokens=["[CLS]"])
    layer.adapt(["some text to give the layer a vocabulary"])
    forms = [
        layer,
        layer.get_config(),
        {"class_name": "keras_vocabsafe>TextVocabEmbedding", "config": layer.get_config()},
        {"max_tokens": 100, "standardize": "lower", "reserved_tokens": ["[CLS]"]},
    ]
    specs = [ComputeVocabulary(form)._spec for form in forms]
    assert all(spec.config == specs[0].config and spec.kind == "text" for spec in specs)
    assert "vocabulary" not in specs[0].config or specs[0].config["vocabulary"] is None
    assert len(json.dumps(specs[0].config)) < 1000
    assert ComputeVocabulary({"vocabulary_dtype": "int64"})._spec.kind == "keys"


# Refusals --------------------------------------------------------------------------------------------------------


def test_empty_pcollection_raises_vocabulary_error():
    with pytest.raises(VocabularyError, match="found no tokens"), beam.Pipeline(options=one_worker()) as pipeline:
        pipeline | beam.Create([]) | ComputeVocabulary(TextVocabEmbedding(4))


@pytest.mark.parametrize(
    ("layer", "elements", "error", "match"),
    [
        (
            TextVocabEmbedding(4, name="titles"),
            [],
            VocabularyError,
            r"found no tokens to keep: .*\. Check the input and the layer's settings\.",
        ),
        (VocabEmbedding(4, name="user_ids", min_frequency=3), ["u1", "u2"], VocabularyError, "min_frequency=3"),
        (
            TextVocabEmbedding(4, name="titles", encoding_errors="strict"),
            [b"bad \xff"],
            TextEncodingError,
            "encoding_errors='strict'",
        ),
    ],
    ids=["empty text", "no key frequent enough", "not utf-8"],
)
def test_errors_from_the_workers_name_the_callers_layer_not_an_inner_one(layer, elements, error, match):
    # They named the lookup layer the transform builds on each worker ("TextVocabLookup 'text_vocab_lookup_4'
    # .adapt() found no tokens to keep"): a layer and a call the user never made.
    with pytest.raises(error, match=match) as raised, beam.Pipeline(options=one_worker()) as pipeline:
        pipeline | beam.Create(elements) | ComputeVocabulary(layer)
    message = str(raised.value)
    assert message.startswith(f"ComputeVocabulary for {type(layer).__name__} '{layer.name}' ")
    assert "_lookup" not in message and "adapt" not in message.lower() and "vocabulary=" not in message


def test_a_config_with_too_many_reserved_tokens_is_refused_naming_the_transform():
    with pytest.raises(ConfigurationError, match="reserved tokens") as raised:
        ComputeVocabulary({"reserved_tokens": ["a", "b", "c"], "max_tokens": 4})
    assert str(raised.value).startswith("ComputeVocabulary for TextVocabLookup has 3 reserved tokens")
    assert "text_vocab_lookup" not in str(raised.value)


@pytest.mark.slow
def test_empty_pcollection_on_two_workers_names_the_error():
    with pytest.raises(RuntimeError, match="VocabularyError"), beam.Pipeline(options=two_workers()) as pipeline:
        pipeline | beam.Create([]) | ComputeVocabulary(VocabEmbedding(4))


@pytest.mark.parametrize(
    ("layer", "elements", "error", "match"),
    [
        (TextVocabEmbedding(4), ["fine", 3], TextInputError, "one raw string .* Received: 3 of type int"),
        (TextVocabEmbedding(4), [("text", 2)], TextInputError, "pass `weights=True`"),
        (VocabEmbedding(4), ["a", 3.5], KeyDtypeError, "3.5"),
        (VocabLookup(vocabulary_dtype="int64"), [[1, 2], ["x"]], KeyDtypeError, "int64 vocabulary takes integer"),
        (TextVocabEmbedding(4, encoding_errors="strict"), [b"ok", b"bad \xff"], TextEncodingError, "not valid UTF-8"),
        # The first line of a file with a byte order mark, as ReadFromText reads it: vocabulary_from_files drops
        # the mark, so counting it gave a different vocabulary from the same files, without a word.
        (TextVocabEmbedding(4), ["ok", "\ufeffword one"], TextInputError, r"byte order mark .*removeprefix"),
        (VocabEmbedding(4), [["ok", b"\xef\xbb\xbfkey"]], TextInputError, r"byte order mark .*removeprefix"),
    ],
)
def test_bad_elements_raise_typed_errors(layer, elements, error, match):
    with pytest.raises(error, match=match), beam.Pipeline(options=one_worker()) as pipeline:
        pipeline | beam.Create(elements) | ComputeVocabulary(layer)


@pytest.mark.parametrize(
    ("elements", "match"),
    [
        (["no weight"], r"\(text_or_keys, weight\) pairs"),
        ([("text", 0.5)], "whole-number"),
        ([("text", -1)], "non-negative"),
        ([("text", "2")], "whole-number"),
        ([("text", float("nan"))], "whole-number"),
    ],
)
def test_bad_weights_raise_configuration_error(elements, match):
    with pytest.raises(ConfigurationError, match=match), beam.Pipeline(options=one_worker()) as pipeline:
        pipeline | beam.Create(elements) | ComputeVocabulary(TextVocabEmbedding(4), weights=True)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"max_tokens": 1}, "max_tokens"),
        ({"max_token": 10}, r"does not know .*\['max_token'\]"),
        ({"split": "sentencepiece"}, "split"),
        ({"split": "wordpiece"}, "max_tokens"),
        ({"reserved_tokens": ["a", "b", "c"], "max_tokens": 4}, "reserved tokens"),
        ({"class_name": "StringLookup", "config": {}}, "'StringLookup'"),
        ("TextVocabEmbedding", "Received: str"),
    ],
)
def test_bad_configs_are_refused_when_the_pipeline_is_built(config, match):
    with pytest.raises(ConfigurationError, match=match):
        ComputeVocabulary(config)


def test_weights_flag_must_be_a_bool():
    with pytest.raises(ConfigurationError, match="weights"):
        ComputeVocabulary(TextVocabEmbedding(4), weights="yes")


def test_keras_layer_that_is_not_ours_is_refused():
    import keras

    with pytest.raises(ConfigurationError, match="keras_vocabsafe layer"):
        ComputeVocabulary(keras.layers.StringLookup())


def test_write_refuses_directories_and_missing_parents(tmp_path):
    with pytest.raises(VocabularyError, match="is a directory"):
        WriteVocabulary(tmp_path)
    with pytest.raises(VocabularyError, match="does not exist"):
        WriteVocabulary(tmp_path / "missing" / "vocabulary.json")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(VocabularyError, match=r"notes\.txt' is a file, not a directory"):  # Not 'does not exist'.
        WriteVocabulary(tmp_path / "notes.txt" / "vocabulary.json")
    with pytest.raises(ConfigurationError, match="file path"):
        WriteVocabulary(None)


def test_write_refuses_a_local_path_on_dataflow(tmp_path):
    options = PipelineOptions(runner="DataflowRunner")
    pipeline = beam.Pipeline(runner="DirectRunner", options=options)
    with pytest.raises(ConfigurationError, match="local disk"):
        pipeline | beam.Create([Vocabulary(["a"])]) | WriteVocabulary(tmp_path / "v.json")


def test_write_replaces_an_existing_file_whole(tmp_path):
    path = tmp_path / "vocabulary.json"
    path.write_text("old")
    with beam.Pipeline(options=one_worker()) as pipeline:
        pipeline | beam.Create(["b a b"]) | ComputeVocabulary(TextVocabEmbedding(4)) | WriteVocabulary(path)
    assert Vocabulary.load(path).to_list() == ["b", "a"]
    assert [name for name in os.listdir(tmp_path) if name != "vocabulary.json"] == []  # no temporary file left


def test_write_refuses_anything_but_one_vocabulary(tmp_path):
    with pytest.raises(VocabularyError, match="held 2 elements"), beam.Pipeline(options=one_worker()) as pipeline:
        pipeline | beam.Create([Vocabulary(["a"]), Vocabulary(["b"])]) | WriteVocabulary(tmp_path / "v.json")
    assert not (tmp_path / "v.json").exists()


def test_integer_weights_accepts_whole_numbers_only():
    assert integer_weights([1, 2.0, 0]).tolist() == [1, 2, 0]
    assert integer_weights(np.array([3], dtype=np.uint8)).dtype == np.int64
    for bad in ([0.5], [-1], [float("inf")], [True], ["1"], [2.0**60]):
        with pytest.raises(ConfigurationError):
            integer_weights(bad)
