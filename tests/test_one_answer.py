"""One corpus, one vocabulary: `adapt`, `vocabsafe vocab build` and the Beam transform agree id for id, with counts.

Files hold one document (or key) per line, so tokens with a newline can only come from in-memory data; those are
compared between `adapt` and Beam in `tests/test_beam.py`. Here: keys with bytes that are not UTF-8, spaces,
tabs and carriage returns, and text with ties at the `max_tokens` cut.
"""

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from conftest import run_vocabsafe
from keras_vocabsafe import TextVocabEmbedding, VocabEmbedding, Vocabulary
from keras_vocabsafe.beam import ComputeVocabulary, WriteVocabulary

KEYS = [b"caf\xc3\xa9", b"\xff\xfe raw", b" padded ", b"tab\tkey", b"cr\rinside", b"k1", b"k2"]
KEY_CORPUS = [KEYS[i % len(KEYS)] for i in range(50)] + [b"\xff\xfe raw"] * 3 + [b"k2"] * 5

pytestmark = pytest.mark.usefixtures("beam_temp_in_tmp_path")


def text_corpus():
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(60)] + ["Café", "naïve", "日本"]
    return [" ".join(rng.choice(words, size=n)) + ("!" if n % 3 else "") for n in rng.integers(1, 9, size=400)]


def beam_vocabulary(layer, corpus, path):
    options = PipelineOptions(direct_num_workers=2, direct_running_mode="multi_threading")
    with beam.Pipeline(options=options) as pipeline:
        _ = pipeline | beam.Create(corpus) | ComputeVocabulary(layer) | WriteVocabulary(str(path))
    return Vocabulary.load(path)


@pytest.mark.slow
def test_keys_give_one_vocabulary_from_adapt_vocab_build_and_beam(tmp_path):
    corpus_file = tmp_path / "keys.txt"
    corpus_file.write_bytes(b"".join(key + b"\n" for key in KEY_CORPUS))
    adapted = VocabEmbedding(2, max_tokens=6)
    adapted.adapt(np.array(KEY_CORPUS, dtype=object))
    built = run_vocabsafe("vocab", "build", corpus_file, "--keys", "--max-tokens", "6", "-o", tmp_path / "cli.json")
    assert built.returncode == 0, built.stderr
    from_cli = Vocabulary.load(tmp_path / "cli.json")
    from_beam = beam_vocabulary(VocabEmbedding(2, max_tokens=6), KEY_CORPUS, tmp_path / "beam.json")
    for vocabulary in (from_cli, from_beam):
        assert vocabulary.tokens == adapted.vocabulary.tokens
        assert vocabulary.counts.tolist() == adapted.vocabulary.counts.tolist()
    assert b"\xff\xfe raw" in from_cli  # Bytes that are not UTF-8 survive every path.


@pytest.mark.slow
def test_text_gives_one_vocabulary_from_adapt_vocab_build_and_beam(tmp_path):
    corpus = text_corpus()
    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("".join(line + "\n" for line in corpus), encoding="utf-8")
    settings = {"max_tokens": 25, "standardize": "lower_and_strip_punctuation", "ngrams": 2}
    adapted = TextVocabEmbedding(2, **settings)
    adapted.adapt(corpus)
    args = ["--max-tokens", "25", "--standardize", "lower_and_strip_punctuation", "--ngrams", "2"]
    built = run_vocabsafe("vocab", "build", corpus_file, *args, "-o", tmp_path / "cli.json")
    assert built.returncode == 0, built.stderr
    from_cli = Vocabulary.load(tmp_path / "cli.json")
    from_beam = beam_vocabulary(TextVocabEmbedding(2, **settings), corpus, tmp_path / "beam.json")
    for vocabulary in (from_cli, from_beam):
        assert vocabulary.tokens == adapted.vocabulary.tokens
        assert vocabulary.counts.tolist() == adapted.vocabulary.counts.tolist()
    # A layer built from any of the files gives the adapted layer's ids.
    again = TextVocabEmbedding(2, vocabulary=str(tmp_path / "beam.json"), **settings)
    assert again.get_vocabulary() == adapted.get_vocabulary()
