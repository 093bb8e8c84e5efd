"""Compatibility with gensim: its writers, and the real vector files in its test data, read alike."""

import os

import gensim  # A test dependency: the [test] extra installs it.
import numpy as np
import pytest
from gensim.models import KeyedVectors

from keras_vocabsafe import VectorFileError, _vector_files, load_vectors

TEST_DATA = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")

# (file, gensim's binary flag, gensim's no_header flag, the format we should detect)
GENSIM_FILES = [
    ("test_glove.txt", False, True, "glove"),
    ("euclidean_vectors.bin", True, False, "word2vec_binary"),
    ("high_precision.kv.txt", False, False, "word2vec"),
    ("high_precision.kv.bin", True, False, "word2vec_binary"),
    ("lee_fasttext.vec", False, False, "word2vec"),
    ("toy-model.vec", False, False, "word2vec"),
    ("crime-and-punishment.vec", False, False, "word2vec"),
]


def assert_same_as_gensim(ours, theirs):
    assert ours.vocabulary.to_list() == list(theirs.index_to_key)
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)


@pytest.mark.parametrize("name, binary, no_header, detected", GENSIM_FILES)
def test_real_files_shipped_with_gensim(name, binary, no_header, detected):
    path = os.path.join(TEST_DATA, name)
    ours = load_vectors(path)
    assert ours.format == detected
    assert_same_as_gensim(ours, KeyedVectors.load_word2vec_format(path, binary=binary, no_header=no_header))


@pytest.fixture
def keyed_vectors():
    words = ["the", "naïve", "日本語", "emoji🙂", "tab\tword", "UPPER", "x" * 50]
    kv = KeyedVectors(vector_size=7)
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(len(words), 7)).astype(np.float32))
    return kv


@pytest.mark.parametrize("binary", [False, True])
def test_files_written_by_gensim(tmp_path, keyed_vectors, binary):
    path = tmp_path / ("vectors.bin" if binary else "vectors.txt")
    keyed_vectors.save_word2vec_format(path, binary=binary)
    ours = load_vectors(path)
    assert ours.format == ("word2vec_binary" if binary else "word2vec")
    assert_same_as_gensim(ours, KeyedVectors.load_word2vec_format(path, binary=binary))
    if binary:  # Binary files hold the float32 values exactly.
        np.testing.assert_array_equal(ours.vectors, keyed_vectors.vectors)


@pytest.mark.parametrize(
    ("dim", "values"),
    [(dim, values) for dim in (1, 2, 3, 4, 50) for values in ("normal", "small-integers")]
    # With 1 or 2 dimensions, "the 1 2" is also a text vector of the header's dimension: read as text then.
    + [(dim, "first-reads-as-text") for dim in (3, 4, 50)],
)
def test_binary_files_written_by_gensim_load_as_binary(tmp_path, dim, values):
    # Telling binary from text by the bytes after the header must not take float32 bytes for text: whole numbers
    # (NUL bytes), or a first value whose bytes are ASCII digits, a space and a newline ("1 2\n" is 7.7e-33).
    words = ["the", "of", "cat", "dog", "a"]
    if values == "normal":
        matrix = np.random.default_rng(dim).normal(size=(len(words), dim))
    elif values == "small-integers":
        matrix = np.arange(len(words) * dim).reshape(len(words), dim) % 7 - 3
    else:
        matrix = np.random.default_rng(dim).normal(size=(len(words), dim))
        matrix[0, 0] = np.frombuffer(b"1 2\n", dtype="<f4")[0]
    keyed = KeyedVectors(vector_size=dim)
    keyed.add_vectors(words, matrix.astype(np.float32))
    path = tmp_path / "vectors.bin"
    keyed.save_word2vec_format(path, binary=True)
    for format in ("auto", "word2vec_binary"):
        ours = load_vectors(path, format=format)
        assert ours.format == "word2vec_binary"
        np.testing.assert_array_equal(ours.vectors, keyed.vectors)
        assert_same_as_gensim(ours, KeyedVectors.load_word2vec_format(path, binary=True))


def test_gensim_glove_style_file_without_header(tmp_path, keyed_vectors):
    path = tmp_path / "glove.txt"
    keyed_vectors.save_word2vec_format(path, write_header=False)
    assert_same_as_gensim(load_vectors(path), KeyedVectors.load_word2vec_format(path, no_header=True))


def test_real_file_whose_header_lies():
    # gensim's pretrained.vec promises 3 vectors and holds 1; gensim raises EOFError on it.
    with pytest.raises(VectorFileError, match="promised 3 vectors but the file holds 1"):
        load_vectors(os.path.join(TEST_DATA, "pretrained.vec"))


@pytest.mark.parametrize("write_header", [False, True])
def test_rows_parsed_in_the_worker_process_equal_gensim(tmp_path, monkeypatch, write_header):
    # Small blocks and no warm-up make this small file go through the worker process that large files use.
    monkeypatch.setattr(_vector_files, "_BLOCK_SIZE", 4096)
    monkeypatch.setattr(_vector_files.ChunkParser, "START_AFTER", 0)
    rng = np.random.default_rng(1)
    kv = KeyedVectors(vector_size=20)
    kv.add_vectors([f"w{i}é" for i in range(800)], rng.normal(size=(800, 20)).astype(np.float32))
    path = tmp_path / "vectors.txt"
    kv.save_word2vec_format(path, write_header=write_header)
    assert_same_as_gensim(load_vectors(path), KeyedVectors.load_word2vec_format(path, no_header=not write_header))
