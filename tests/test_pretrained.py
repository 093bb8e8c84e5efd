"""Pretrained vectors: every format, the alignment, the report, and the layer methods."""

import bz2
import gzip
import lzma
import select
import struct

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vocabsafe import (
    ConfigurationError,
    PretrainedVectors,
    VectorFileError,
    VocabEmbedding,
    Vocabulary,
    VocabularyError,
    _vector_files,
    align_vectors,
    load_vectors,
)

WORDS = ["the", "cat", "Paris", "naïve", "日本", "emoji🙂"]
DIM = 4


def make_values(n=None, dim=DIM, seed=0):
    """Values as the text a file holds, and as float32 parsed by Python itself (the oracle)."""
    n = len(WORDS) if n is None else n
    rng = np.random.default_rng(seed)
    texts = [[f"{v:.6g}" for v in row] for row in rng.normal(size=(n, dim))]
    return texts, np.array([[float(t) for t in row] for row in texts], dtype=np.float32)


def write_text(path, words, texts, *, header=True, trailing_space=False, newline="\n", compress=None):
    lines = [f"{len(words)} {len(texts[0])}"] if header else []
    lines += [" ".join([w, *row]) + (" " if trailing_space else "") for w, row in zip(words, texts)]
    data = (newline.join(lines) + newline).encode()
    _write(path, data, compress)


def write_binary(path, words, values, *, compress=None, count=None, dim=None):
    data = f"{count if count is not None else len(words)} {dim or values.shape[1]}\n".encode()
    for word, row in zip(words, values):
        data += word.encode() if isinstance(word, str) else word
        data += b" " + struct.pack(f"<{len(row)}f", *row) + b"\n"
    _write(path, data, compress)


def _write(path, data, compress):
    opener = {None: open, "gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compress]
    with opener(path, "wb") as f:
        f.write(data)


def assert_loaded(vectors, words, values):
    assert vectors.vocabulary.to_list() == words
    np.testing.assert_array_equal(vectors.vectors, values)


# Formats ---------------------------------------------------------------------

FORMAT_CASES = {
    "glove": dict(header=False),
    "word2vec": dict(header=True),
    "fasttext": dict(header=True, trailing_space=True),
}


@pytest.mark.parametrize("compress", [None, "gz", "bz2", "xz"])
@pytest.mark.parametrize("kind", sorted(FORMAT_CASES))
def test_text_formats_load_exactly(tmp_path, kind, compress):
    texts, values = make_values()
    path = tmp_path / f"vectors.{kind}"
    write_text(path, WORDS, texts, compress=compress, **FORMAT_CASES[kind])
    vectors = load_vectors(path)
    assert_loaded(vectors, WORDS, values)
    assert vectors.format == ("glove" if kind == "glove" else "word2vec")


@pytest.mark.parametrize("compress", [None, "gz", "bz2", "xz"])
def test_word2vec_binary_loads_exactly(tmp_path, compress):
    _, values = make_values()
    path = tmp_path / "vectors.bin"
    write_binary(path, WORDS, values, compress=compress)
    vectors = load_vectors(path)
    assert vectors.format == "word2vec_binary"
    assert_loaded(vectors, WORDS, values)


def test_binary_without_newlines_between_records(tmp_path):
    _, values = make_values(n=3)
    data = b"3 4\n" + b"".join(w.encode() + b" " + struct.pack("<4f", *row) for w, row in zip(WORDS, values))
    (tmp_path / "v.bin").write_bytes(data)
    assert_loaded(load_vectors(tmp_path / "v.bin"), WORDS[:3], values)


@pytest.mark.parametrize("format", ["glove", "word2vec", "fasttext"])
def test_explicit_format_is_honoured(tmp_path, format):
    texts, _ = make_values()
    write_text(tmp_path / "v.txt", WORDS, texts, **FORMAT_CASES[format])
    assert load_vectors(tmp_path / "v.txt", format=format).format == format


def test_explicit_format_that_contradicts_the_file(tmp_path):
    texts, _ = make_values()
    write_text(tmp_path / "v.txt", WORDS, texts, header=False)
    with pytest.raises(VectorFileError, match="not a 'count dim' header"):
        load_vectors(tmp_path / "v.txt", format="word2vec")


def test_npy_matrix_with_vocabulary_file(tmp_path):
    _, values = make_values()
    np.save(tmp_path / "m.npy", values)
    Vocabulary(WORDS).save(tmp_path / "vocabulary.json")
    vectors = load_vectors(tmp_path / "m.npy", tokens=tmp_path / "vocabulary.json")
    assert_loaded(vectors, WORDS, values)


def test_npy_needs_tokens(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((2, 3), np.float32))
    with pytest.raises(ConfigurationError, match="pass `tokens=`"):
        load_vectors(tmp_path / "m.npy")


def test_npy_with_wrong_number_of_tokens(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((2, 3), np.float32))
    with pytest.raises(VectorFileError, match="2 rows but `tokens` names 3"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b", "c"])


def test_crlf_line_endings(tmp_path):
    texts, values = make_values()
    write_text(tmp_path / "v.txt", WORDS, texts, header=False, newline="\r\n")
    assert_loaded(load_vectors(tmp_path / "v.txt"), WORDS, values)


def test_words_with_spaces_inside(tmp_path):
    # The first line sets a GloVe file's dimension, so it holds a plain word (as in the real files).
    words = ["a", "new york", "at  b", "new nation"]
    texts, values = make_values(n=len(words))
    write_text(tmp_path / "v.txt", words, texts, header=False)
    assert_loaded(load_vectors(tmp_path / "v.txt"), words, values)


@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec"])
def test_words_whose_next_part_starts_like_a_number(tmp_path, header):
    # GloVe 840B holds ". . ." and its kin: a point or dash after the first space is not yet a number.
    words = ["a", ". . .", "- - -", "+ .", "-", ".", "at name@domain.com"]
    texts, values = make_values(n=len(words))
    for row in texts:
        row[0] = "-" + row[0].lstrip("-")  # Every line's first value is negative: "- - - -0.5 ...".
    values[:, 0] = -np.abs(values[:, 0])
    write_text(tmp_path / "v.txt", words, texts, header=header)
    assert_loaded(load_vectors(tmp_path / "v.txt"), words, values)


def test_a_word_of_spaces_alone(tmp_path):
    texts, values = make_values(n=3)
    write_text(tmp_path / "v.txt", ["a", " ", "  "], texts, header=False)
    assert_loaded(load_vectors(tmp_path / "v.txt"), ["a", " ", "  "], values)


def test_duplicate_words_keep_the_first_vector(tmp_path):
    texts, values = make_values(n=3)
    write_text(tmp_path / "v.txt", ["a", "b", "a"], texts, header=False)
    vectors = load_vectors(tmp_path / "v.txt")
    assert_loaded(vectors, ["a", "b"], values[:2])
    assert vectors.duplicates == 1


def test_max_rows_keeps_the_first_rows(tmp_path):
    texts, values = make_values()
    write_text(tmp_path / "v.txt", WORDS, texts, header=False)
    assert_loaded(load_vectors(tmp_path / "v.txt", max_rows=2), WORDS[:2], values[:2])


# Bad files -------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(VectorFileError, match="does not exist"):
        load_vectors(tmp_path / "nope.txt")


@pytest.mark.parametrize("source", [{"a": np.ones(3)}, b"vectors.txt", None, 3], ids=lambda s: type(s).__name__)
def test_a_source_that_is_not_a_path_is_refused_with_the_in_memory_form(source):
    for read in (
        lambda: load_vectors(source),
        lambda: VocabEmbedding.from_pretrained(source),
        lambda: VocabEmbedding(3, vocabulary=["a"]).load_pretrained(source),
    ):
        with pytest.raises(ConfigurationError, match=rf"Received: {type(source).__name__}\..*PretrainedVectors\("):
            read()


def test_empty_file(tmp_path):
    (tmp_path / "v.txt").write_bytes(b"")
    with pytest.raises(VectorFileError, match="is empty"):
        load_vectors(tmp_path / "v.txt")


def test_dimension_that_differs_between_lines(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2 3\nb 4 5 6\nc 7 8\n")
    with pytest.raises(VectorFileError, match=r"Line 3 of .* holds 2 numbers, but the file's vectors have 3"):
        load_vectors(tmp_path / "v.txt")


def test_unparsable_number(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2 3\nb 4 x5 6\n")
    with pytest.raises(VectorFileError, match=r"Line 2 of .*: b'x5' is not a number"):
        load_vectors(tmp_path / "v.txt")


def test_header_that_promises_more_rows_than_the_file_holds(tmp_path):
    (tmp_path / "v.txt").write_text("1000000000 3\na 1 2 3\nb 4 5 6\n")
    with pytest.raises(VectorFileError, match="promised 1000000000 vectors but the file holds 2"):
        load_vectors(tmp_path / "v.txt")


def test_header_that_promises_more_dimensions(tmp_path):
    (tmp_path / "v.txt").write_text("2 300\na 1 2 3\nb 4 5 6\n")
    expected = r"header of .* \(line 1: '2 300'\) gives 300 dimensions, but the text vectors after it have 3 numbers"
    with pytest.raises(VectorFileError, match=expected):
        load_vectors(tmp_path / "v.txt")


def test_header_that_promises_fewer_rows(tmp_path):
    (tmp_path / "v.txt").write_text("1 3\na 1 2 3\nb 4 5 6\n")
    with pytest.raises(VectorFileError, match=r"Line 3 .* promised 1 vectors but the file goes on"):
        load_vectors(tmp_path / "v.txt")


@pytest.mark.parametrize("tail", [b"", b"\n", b"\r\n\n"], ids=["nothing", "newline", "line-breaks"])
def test_binary_file_may_end_with_line_breaks_after_its_last_vector(tmp_path, tail):
    _, values = make_values(n=3)
    write_binary(tmp_path / "v.bin", WORDS[:3], values)
    data = (tmp_path / "v.bin").read_bytes().rstrip(b"\n")
    (tmp_path / "v.bin").write_bytes(data + tail)
    assert_loaded(load_vectors(tmp_path / "v.bin"), WORDS[:3], values)


def test_binary_header_that_promises_fewer_vectors_than_the_file_holds(tmp_path):
    # The vectors after the header's count were left out without a word (the text formats refused it).
    _, values = make_values(n=3)
    write_binary(tmp_path / "v.bin", WORDS[:3], values, count=2)
    with pytest.raises(VectorFileError, match=r"goes on after the 2 vectors its header promises .*Fix the count"):
        load_vectors(tmp_path / "v.bin")
    with pytest.raises(VectorFileError, match=r"goes on after the 2 vectors"):
        VocabEmbedding.from_pretrained(tmp_path / "v.bin")
    assert_loaded(load_vectors(tmp_path / "v.bin", max_rows=2), WORDS[:2], values[:2])  # Asked for 2: no check.


def test_truncated_binary_record(tmp_path):
    _, values = make_values(n=3)
    write_binary(tmp_path / "v.bin", WORDS[:3], values)
    data = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "v.bin").write_bytes(data[:-7])
    with pytest.raises(VectorFileError, match="ends inside vector 3"):
        load_vectors(tmp_path / "v.bin")


def test_binary_header_with_a_huge_lying_count_allocates_nothing_big(tmp_path):
    _, values = make_values(n=2)
    write_binary(tmp_path / "v.bin", WORDS[:2], values, count=10**12)
    with pytest.raises(VectorFileError, match="promised 1000000000000 vectors"):
        load_vectors(tmp_path / "v.bin")


@pytest.fixture
def non_utf8_file(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"ok 1 2\nbad\xff 3 4\nfine 5 6\n")
    return path


def test_non_utf8_word_is_an_error_by_default(non_utf8_file):
    with pytest.raises(VectorFileError, match=r"Line 2 of .* not valid UTF-8. Pass errors='replace'"):
        load_vectors(non_utf8_file)


def test_non_utf8_word_replaced(non_utf8_file):
    assert load_vectors(non_utf8_file, errors="replace").vocabulary.to_list() == ["ok", "bad\ufffd", "fine"]


def test_non_utf8_word_skipped(non_utf8_file):
    vectors = load_vectors(non_utf8_file, errors="skip")
    assert vectors.vocabulary.to_list() == ["ok", "fine"]
    assert vectors.skipped_lines == (2,)
    np.testing.assert_array_equal(vectors.vectors, [[1, 2], [5, 6]])


def test_unknown_errors_policy(non_utf8_file):
    with pytest.raises(ConfigurationError, match="Received: errors='ignore'"):
        load_vectors(non_utf8_file, errors="ignore")


# NaN and infinity -------------------------------------------------------------------
# A NaN row would turn the mean and random rows made for missing tokens, and then the training loss, into NaN.

NONFINITE_ERROR = r"Line 2 of .*: the vector of 'b' holds {}.*pass nonfinite='skip'"


@pytest.mark.parametrize("spelling, shown", [("nan", "nan"), ("NaN", "nan"), ("inf", "inf"), ("-inf", "-inf")])
def test_nonfinite_value_is_an_error_naming_line_and_word(tmp_path, spelling, shown):
    (tmp_path / "v.txt").write_text(f"a 1 2\nb 3 {spelling}\nc 5 6\n")
    with pytest.raises(VectorFileError, match=NONFINITE_ERROR.format(shown)):
        load_vectors(tmp_path / "v.txt")


def test_number_beyond_float32_range_is_an_error(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb 1e39 2\n")
    with pytest.raises(VectorFileError, match=r"Line 2 of .*: the vector of 'b' holds inf \(a number beyond float32's"):
        load_vectors(tmp_path / "v.txt")


@pytest.mark.parametrize("compress", [None, "gz", "bz2"])
def test_nonfinite_value_in_word2vec_binary_is_an_error(tmp_path, compress):
    values = np.array([[1, 2], [3, np.nan], [5, 6]], np.float32)
    write_binary(tmp_path / "v.bin", ["a", "b", "c"], values, compress=compress)
    with pytest.raises(VectorFileError, match=r"Line 3 of .*: the vector of 'b' holds nan"):
        load_vectors(tmp_path / "v.bin")


def test_nonfinite_value_in_npy_is_an_error_naming_the_row(tmp_path):
    np.save(tmp_path / "m.npy", np.array([[1, 2], [np.inf, 3]], np.float32))
    with pytest.raises(VectorFileError, match=r"Row 1 \(counting from 0\) of .*m.npy': the vector of 'b' holds inf"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b"])


def test_float64_npy_beyond_float32_range_is_an_error(tmp_path):
    np.save(tmp_path / "m.npy", np.array([[1, 2], [3, 1e300]], np.float64))
    with pytest.raises(VectorFileError, match=r"Row 1 .*holds inf"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b"])


def test_nonfinite_skip_leaves_rows_out_and_lists_their_lines(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb nan inf\nc -inf 3\nd 4 5\n")
    vectors = load_vectors(tmp_path / "v.txt", nonfinite="skip")
    assert_loaded(vectors, ["a", "d"], np.array([[1, 2], [4, 5]], np.float32))
    assert vectors.skipped_lines == (2, 3)


def test_nonfinite_skip_uses_a_later_row_of_the_same_word(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb nan 0\nb 3 4\n")
    vectors = load_vectors(tmp_path / "v.txt", nonfinite="skip")
    assert_loaded(vectors, ["a", "b"], np.array([[1, 2], [3, 4]], np.float32))
    assert vectors.duplicates == 0


def test_nonfinite_skip_in_npy_lists_row_indices(tmp_path):
    np.save(tmp_path / "m.npy", np.array([[1, 2], [np.nan, 3], [4, 5]], np.float32))
    vectors = load_vectors(tmp_path / "m.npy", tokens=["a", "b", "c"], nonfinite="skip")
    assert_loaded(vectors, ["a", "c"], np.array([[1, 2], [4, 5]], np.float32))
    assert vectors.skipped_lines == (1,)


def test_nonfinite_skip_with_max_rows_counts_only_kept_words(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb nan 0\nc 3 4\nd 5 6\n")
    assert load_vectors(tmp_path / "v.txt", nonfinite="skip", max_rows=2).vocabulary.to_list() == ["a", "c"]


def test_unknown_nonfinite_policy(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\n")
    with pytest.raises(ConfigurationError, match="Received: nonfinite='keep'"):
        load_vectors(tmp_path / "v.txt", nonfinite="keep")


def test_align_refuses_a_nonfinite_row_it_needs(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb nan 0\nc 3 4\n")
    with pytest.raises(VectorFileError, match=NONFINITE_ERROR.format("nan")):
        align_vectors(tmp_path / "v.txt", ["c", "b"])


def test_align_does_not_parse_rows_it_does_not_need(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb nan 0\nc 3 4\n")
    aligned = align_vectors(tmp_path / "v.txt", ["c", "a"])
    np.testing.assert_array_equal(aligned.vectors, [[3, 4], [1, 2]])


def test_align_with_nonfinite_skip_treats_the_word_as_absent(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb nan 0\nc 3 4\n")
    aligned = align_vectors(tmp_path / "v.txt", ["b", "c"], nonfinite="skip")
    assert aligned.found.tolist() == [False, True]
    np.testing.assert_array_equal(aligned.vectors, [[0, 0], [3, 4]])
    assert aligned.report.skipped_lines == 1
    assert aligned.report.missing_tokens == ("b",)


def test_align_with_nonfinite_skip_falls_back_to_later_rows(tmp_path):
    # The exact row is left out: a later exact repeat wins, and a lower-case row fills another token.
    (tmp_path / "v.txt").write_text("Paris nan 1\nb inf 1\nparis 3 4\nb 5 6\n")
    aligned = align_vectors(tmp_path / "v.txt", ["Paris", "b"], match=("exact", "lower"), nonfinite="skip")
    np.testing.assert_array_equal(aligned.vectors, [[3, 4], [5, 6]])
    assert aligned.report.found_by_rule == {"exact": 1, "lower": 1}
    assert aligned.report.duplicates == 0
    assert aligned.report.skipped_lines == 2


def test_align_refuses_nonfinite_rows_of_an_in_memory_source():
    source = PretrainedVectors(Vocabulary(["a", "b"]), np.array([[1, 2], [np.nan, 3]], np.float32))
    with pytest.raises(VectorFileError, match=r"Row 1 \(counting from 0\) of '<in memory>': the vector of 'b'"):
        align_vectors(source, ["b"])


def test_load_pretrained_refuses_a_nonfinite_row(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 2\nb nan 0\nc 3 4\n")
    layer = VocabEmbedding(2, vocabulary=["a", "b"])
    with pytest.raises(VectorFileError, match=NONFINITE_ERROR.format("nan")):
        layer.load_pretrained(tmp_path / "v.txt", missing_embeddings_initializer="mean")


def test_load_pretrained_with_nonfinite_skip_gives_finite_rows(tmp_path):
    # The case: a NaN in one row used to reach the mean rows (OOV, missing) and the training loss.
    (tmp_path / "v.txt").write_text("a 1 2\nb nan 0\nc 3 4\n")
    layer = VocabEmbedding(2, vocabulary=["a", "b", "c"])
    report = layer.load_pretrained(tmp_path / "v.txt", missing_embeddings_initializer="mean", nonfinite="skip")
    assert report.missing_tokens == ("b",)
    matrix = layer.get_weights()[0]
    assert np.isfinite(matrix).all()
    np.testing.assert_array_equal(matrix[layer.token_to_id("b")], [2, 3])  # the mean of the finite rows
    from_file = VocabEmbedding.from_pretrained(tmp_path / "v.txt", nonfinite="skip")
    assert from_file.get_vocabulary() == ["[UNK]", "a", "c"]


# Alignment and the coverage report ----------------------------------------------


@pytest.fixture
def glove(tmp_path):
    words = ["the", "cat", "paris", "Berlin", "berlin", "dog", "the"]
    texts, values = make_values(n=len(words))
    write_text(tmp_path / "glove.txt", words, texts, header=False)
    return tmp_path / "glove.txt", dict(zip(reversed(words), reversed(values)))  # first occurrence wins


def test_align_keeps_the_vocabulary_order(glove):
    path, table = glove
    aligned = align_vectors(path, ["dog", "zebra", "the"])
    assert aligned.found.tolist() == [True, False, True]
    np.testing.assert_array_equal(aligned.vectors[0], table["dog"])
    np.testing.assert_array_equal(aligned.vectors[1], np.zeros(DIM))
    np.testing.assert_array_equal(aligned.vectors[2], table["the"])


def test_lowercase_fallback_and_exact_precedence(glove):
    path, table = glove
    aligned = align_vectors(path, ["Paris", "berlin", "Berlin", "CAT"], match=("exact", "lower"))
    assert aligned.found.all()
    np.testing.assert_array_equal(aligned.vectors[0], table["paris"])
    np.testing.assert_array_equal(aligned.vectors[1], table["berlin"])  # exact, although "Berlin" came first
    np.testing.assert_array_equal(aligned.vectors[2], table["Berlin"])
    np.testing.assert_array_equal(aligned.vectors[3], table["cat"])
    assert aligned.report.found_by_rule == {"exact": 2, "lower": 2}


def test_lowercase_rule_leaves_int_ids_to_exact_matching():
    # Int ids have no case: "lower" used to raise AttributeError on them instead of matching them as "exact" does.
    source = PretrainedVectors(Vocabulary([7, 9], "int64"), np.array([[1, 2], [3, 4]], np.float32))
    aligned = align_vectors(source, Vocabulary([9, 8], "int64"), match=("exact", "lower"))
    np.testing.assert_array_equal(aligned.found, [True, False])
    np.testing.assert_array_equal(aligned.vectors[0], [3, 4])
    assert aligned.report.found_by_rule == {"exact": 1}


def test_exact_only_by_default(glove):
    path, _ = glove
    assert align_vectors(path, ["Paris"]).found.tolist() == [False]


def test_report_counts_duplicates_of_used_words(glove):
    path, _ = glove
    assert align_vectors(path, ["the"]).report.duplicates == 1


def test_report_with_adapt_counts(glove):
    path, _ = glove
    vocabulary = Vocabulary.from_counts(["the", "zebra", "cat", "okapi"], [10, 5, 3, 1])
    report = align_vectors(path, vocabulary).report
    assert (report.total, report.found, report.missing) == (4, 2, 2)
    assert report.coverage == 0.5
    assert report.weighted_coverage == pytest.approx((10 + 3) / (10 + 5 + 3 + 1))
    assert report.missing_tokens == ("zebra", "okapi")
    as_dict = report.to_dict()
    assert as_dict["found"] == 2 and as_dict["missing_tokens"] == ["zebra", "okapi"]
    text = str(report)
    assert "found" in text and "50.00%" in text and "'zebra'" in text and "68.42%" in text


def test_align_an_in_memory_source():
    _, values = make_values(n=3)
    source = PretrainedVectors(Vocabulary(["a", "b", "c"]), values)
    aligned = align_vectors(source, ["c", "a"])
    np.testing.assert_array_equal(aligned.vectors, values[[2, 0]])


def test_align_refuses_another_dimension_before_reading(glove):
    path, _ = glove
    with pytest.raises(ConfigurationError, match="have 4 dimensions, but the layer's output_dim is 8"):
        align_vectors(path, ["the"], expected_dim=8)


def test_unknown_match_rule(glove):
    path, _ = glove
    with pytest.raises(ConfigurationError, match="Received: match=\\('fuzzy',\\)"):
        align_vectors(path, ["the"], match=("fuzzy",))


# The layer ---------------------------------------------------------------------


def test_load_pretrained_fills_rows_by_token(glove):
    path, table = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat", "zebra", "the"], mask_token="")
    report = layer.load_pretrained(path, missing_embeddings_initializer="zeros")
    matrix = layer.embeddings.numpy()
    vocabulary = layer.get_vocabulary()
    np.testing.assert_array_equal(matrix[vocabulary.index("cat")], table["cat"])
    np.testing.assert_array_equal(matrix[vocabulary.index("the")], table["the"])
    np.testing.assert_array_equal(matrix[vocabulary.index("zebra")], np.zeros(DIM))
    np.testing.assert_array_equal(matrix[0], np.zeros(DIM))  # mask row
    np.testing.assert_allclose(matrix[1], (table["cat"] + table["the"]) / 2, rtol=1e-6)  # OOV row: mean
    assert report.found == 2


@pytest.mark.parametrize("rule", ["mean", "mean_std", "callable"])
def test_missing_row_rules(glove, rule):
    path, table = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat", "the", "dog", "zebra", "okapi"])
    missing = keras.initializers.Constant(7.0) if rule == "callable" else rule
    layer.load_pretrained(path, missing_embeddings_initializer=missing, seed=1)
    rows = layer.embeddings.numpy()[[4, 5]]
    found = np.stack([table["cat"], table["the"], table["dog"]])
    if rule == "mean":
        np.testing.assert_allclose(rows, np.tile(found.mean(axis=0), (2, 1)), rtol=1e-6)
    elif rule == "callable":
        np.testing.assert_array_equal(rows, np.full((2, DIM), 7.0))
    else:
        assert not np.array_equal(rows[0], rows[1])
        assert np.all(np.abs(rows - found.mean(axis=0)) < 10 * found.std(axis=0) + 1e-6)


def test_mean_std_rows_follow_the_pretrained_scale(tmp_path):
    words = [f"w{i}" for i in range(2000)]
    rng = np.random.default_rng(0)
    values = rng.normal(loc=3.0, scale=0.5, size=(2000, 8)).astype(np.float32)
    write_text(tmp_path / "v.txt", words, [[repr(float(v)) for v in row] for row in values], header=False)
    layer = VocabEmbedding(8, vocabulary=words + [f"new{i}" for i in range(2000)])
    layer.load_pretrained(tmp_path / "v.txt", missing_embeddings_initializer="mean_std", seed=0)
    new_rows = layer.embeddings.numpy()[1 + 2000 :]
    assert abs(new_rows.mean() - 3.0) < 0.05
    assert abs(new_rows.std() - 0.5) < 0.05


def test_mean_std_rows_are_reproducible_with_a_seed(glove):
    path, _ = glove
    first, second = (VocabEmbedding(DIM, vocabulary=["cat", "zebra"]) for _ in range(2))
    first.load_pretrained(path, seed=3)
    second.load_pretrained(path, seed=3)
    np.testing.assert_array_equal(first.embeddings.numpy(), second.embeddings.numpy())


def test_load_pretrained_takes_keras_initializers_and_a_second_source(glove):
    # One engine behind every `*_embeddings_initializer`: what update_vocabulary takes works here too.
    path, table = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat", "the", "dog", "zebra", "okapi"])
    layer.load_pretrained(path, missing_embeddings_initializer="ones", oov_embeddings_initializer="zeros")
    matrix = layer.embeddings.numpy()
    np.testing.assert_array_equal(matrix[[4, 5]], np.ones((2, DIM)))
    np.testing.assert_array_equal(matrix[0], np.zeros(DIM))  # The OOV row.
    zebra = np.arange(DIM, dtype=np.float32)
    layer.load_pretrained(path, missing_embeddings_initializer=PretrainedVectors(Vocabulary(["zebra"]), zebra[None]))
    matrix = layer.embeddings.numpy()
    np.testing.assert_array_equal(matrix[4], zebra)
    found = np.stack([table["cat"], table["the"], table["dog"]])
    np.testing.assert_allclose(matrix[5], found.mean(axis=0), rtol=1e-6)  # Not in the second source: the mean.


def test_load_pretrained_mean_cov_rows_lie_in_the_span_of_the_found_rows(glove):
    path, table = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat", "the", "dog", "zebra", "okapi"])
    layer.load_pretrained(path, missing_embeddings_initializer="mean_cov", seed=0)
    found = np.stack([table["cat"], table["the"], table["dog"]]).astype(np.float64)
    centered = (found - found.mean(axis=0)).T  # Three rows span a plane of the 4-d space; draws stay on it.
    drawn = layer.embeddings.numpy()[[4, 5]].astype(np.float64).T - found.mean(axis=0)[:, None]
    weights, *_ = np.linalg.lstsq(centered, drawn, rcond=None)
    np.testing.assert_allclose(centered @ weights, drawn, atol=1e-4)
    assert np.abs(drawn).max() > 1e-3 and not np.allclose(drawn[:, 0], drawn[:, 1])


@pytest.mark.parametrize("argument", ["missing_embeddings_initializer", "oov_embeddings_initializer"])
def test_load_pretrained_refuses_an_unknown_initializer_before_reading_the_file(tmp_path, argument):
    layer = VocabEmbedding(DIM, vocabulary=["cat"])
    with pytest.raises(ConfigurationError, match=f"`{argument}` must be one of .*Received: {argument}='random'"):
        layer.load_pretrained(tmp_path / "absent.txt", **{argument: "random"})  # Not the missing file's error.
    assert not layer.built


def test_old_initializer_argument_names_are_refused(glove):
    path, _ = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat"])
    with pytest.raises(TypeError, match="unexpected keyword argument 'missing'"):
        layer.load_pretrained(path, missing="zeros")
    with pytest.raises(TypeError, match="unexpected keyword argument 'oov'"):
        layer.load_pretrained(path, oov="zeros")
    # from_pretrained passes other keywords to the constructor, where Keras refuses them.
    with pytest.raises(ValueError, match=r"Unrecognized keyword arguments .*'oov'"):
        VocabEmbedding.from_pretrained(path, oov="mean")


def test_load_pretrained_with_another_dimension(glove):
    path, _ = glove
    with pytest.raises(ConfigurationError, match="output_dim=4"):
        VocabEmbedding(8, vocabulary=["the"]).load_pretrained(path)


def test_load_pretrained_when_nothing_matches(glove):
    path, _ = glove
    with pytest.raises(VocabularyError, match="None of the 2 tokens"):
        VocabEmbedding(DIM, vocabulary=["zebra", "okapi"]).load_pretrained(path)


def test_frozen_layer_keeps_pretrained_rows_through_fit(glove):
    path, _ = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat", "the", "zebra"], mask_token="")
    layer.load_pretrained(path, train="none")
    before = layer.embeddings.numpy().copy()
    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(inputs))))
    model.compile(optimizer=keras.optimizers.AdamW(0.1), loss="mse")
    model.fit(tf.constant([["cat", "the", "zebra"]] * 4), np.ones(4), epochs=3, verbose=0)
    np.testing.assert_array_equal(layer.embeddings.numpy(), before)


def test_fine_tuned_layer_changes_rows(glove):
    path, _ = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat", "the"])
    layer.load_pretrained(path, train="all")
    before = layer.embeddings.numpy().copy()
    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(inputs))))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(tf.constant([["cat", "the"]] * 4), np.ones(4), epochs=2, verbose=0)
    assert not np.array_equal(layer.embeddings.numpy()[2], before[2])


def test_unknown_train_choice(glove):
    path, _ = glove
    with pytest.raises(ConfigurationError, match="Received: train='some'"):
        VocabEmbedding(DIM, vocabulary=["cat"]).load_pretrained(path, train="some")


@pytest.mark.saving
def test_from_pretrained_takes_vocabulary_and_size_from_the_file(glove, tmp_path):
    path, table = glove
    layer = VocabEmbedding.from_pretrained(path, max_tokens=4, mask_token="")
    assert layer.output_dim == DIM
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "cat"]
    np.testing.assert_array_equal(layer.get_vectors(["cat"])[0], table["cat"])

    inputs = keras.Input(shape=(None,), dtype="string")
    keras.Model(inputs, layer(inputs)).save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras").layers[1]
    assert tuple(reloaded.embeddings.shape) == tuple(layer.embeddings.shape)
    np.testing.assert_array_equal(reloaded.embeddings.numpy(), layer.embeddings.numpy())


def test_from_pretrained_leaves_out_reserved_words(tmp_path):
    texts, values = make_values(n=3)
    write_text(tmp_path / "v.txt", ["[UNK]", "a", "b"], texts, header=False)
    layer = VocabEmbedding.from_pretrained(tmp_path / "v.txt", max_tokens=3)
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]
    np.testing.assert_array_equal(layer.embeddings.numpy()[1:], values[1:])


def test_from_pretrained_refuses_a_vocabulary_and_points_to_load_pretrained(glove):
    # It raised TypeError ("got multiple values for keyword argument 'vocabulary'") from inside the constructor call.
    path, _ = glove
    with pytest.raises(ConfigurationError, match=r"takes no `vocabulary`.*load_pretrained\(source\)"):
        VocabEmbedding.from_pretrained(path, vocabulary=["cat", "zebra"])


def test_from_pretrained_takes_an_output_dim_only_when_it_is_the_files(glove):
    path, table = glove
    layer = VocabEmbedding.from_pretrained(path, output_dim=DIM)
    np.testing.assert_array_equal(layer.get_vectors(["cat"])[0], table["cat"])
    with pytest.raises(ConfigurationError, match=rf"have {DIM} dimensions, but `output_dim` is {DIM + 1}"):
        VocabEmbedding.from_pretrained(path, output_dim=DIM + 1)


@pytest.mark.parametrize(
    ("dtype", "how"),
    [("float16", "stores its rows in float16"), ("mixed_float16", "computes in float16")],
)
def test_rows_beyond_float16_range_are_refused_for_a_float16_layer(tmp_path, dtype, how):
    # A float16 layer turned 70000 into infinity without a word (a float16 computation, at every call).
    (tmp_path / "v.txt").write_text("cat 1 70000\ndog 3 4\n")
    with pytest.raises(ConfigurationError, match=rf"{how} .*the row of 'cat' .* holds 70000.*dtype='float32'"):
        VocabEmbedding.from_pretrained(tmp_path / "v.txt", dtype=dtype)
    layer = VocabEmbedding(2, vocabulary=["dog", "cat"], dtype=dtype)
    with pytest.raises(ConfigurationError, match=rf"{how} .*the row of 'cat'"):
        layer.load_pretrained(tmp_path / "v.txt")
    assert not layer.built  # Refused before any row was set.


@pytest.mark.parametrize("dtype", ["bfloat16", "mixed_bfloat16", "float32"])
def test_rows_beyond_float16_range_load_into_layers_of_float32_range(tmp_path, dtype):
    (tmp_path / "v.txt").write_text("cat 1 70000\ndog 3 4\n")
    layer = VocabEmbedding.from_pretrained(tmp_path / "v.txt", dtype=dtype)
    row = keras.ops.convert_to_numpy(keras.ops.cast(layer.get_vectors(["cat"])[0], "float32"))
    np.testing.assert_allclose(row, [1, 70000], rtol=1e-2)  # bfloat16 keeps 8 bits of mantissa.


def test_update_vocabulary_refuses_pretrained_rows_beyond_float16_range(tmp_path):
    (tmp_path / "v.txt").write_text("cat 1 70000\ndog 3 4\n")
    layer = VocabEmbedding(2, vocabulary=["dog"], dtype="float16")
    layer.build()
    before = layer.embeddings.numpy().copy()
    with pytest.raises(ConfigurationError, match=r"row of 'cat' from `new_embeddings_initializer` holds 70000"):
        layer.update_vocabulary(["dog", "cat"], new_embeddings_initializer=load_vectors(tmp_path / "v.txt"))
    assert layer.get_vocabulary() == ["[UNK]", "dog"]
    np.testing.assert_array_equal(layer.embeddings.numpy(), before)


def small_text_model(layer):
    inputs = keras.Input(shape=(None,), dtype="string")
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(inputs))))


def test_train_missing_keeps_pretrained_rows_bit_identical_under_weight_decay(glove):
    path, _ = glove
    layer = VocabEmbedding(
        DIM, vocabulary=["cat", "the", "zebra"], mask_token="", embeddings_regularizer=keras.regularizers.L2(0.1)
    )
    layer.load_pretrained(path, train="missing")
    vocabulary = layer.get_vocabulary()
    assert layer.trainable_rows == (1, vocabulary.index("zebra"))  # the OOV row and the token with no vector
    before = layer.embeddings.numpy().copy()
    model = small_text_model(layer)
    model.compile(optimizer=keras.optimizers.AdamW(0.1, weight_decay=0.5), loss="mse")
    model.fit(tf.constant([["cat", "the", "zebra", "okapi", ""]] * 4), np.ones(4), epochs=3, verbose=0)
    after = layer.embeddings.numpy()
    frozen = [0, vocabulary.index("cat"), vocabulary.index("the")]
    np.testing.assert_array_equal(after[frozen], before[frozen])
    assert not np.array_equal(after[vocabulary.index("zebra")], before[vocabulary.index("zebra")])
    assert not np.array_equal(after[1], before[1])


@pytest.mark.saving
def test_trainable_rows_survive_saving(glove, tmp_path):
    path, _ = glove
    layer = VocabEmbedding(DIM, vocabulary=["cat", "the", "zebra"])
    layer.load_pretrained(path, train="missing")
    small_text_model(layer).save(tmp_path / "m.keras")

    model = keras.saving.load_model(tmp_path / "m.keras")
    reloaded = model.layers[1]
    assert reloaded.trainable_rows == layer.trainable_rows
    before = reloaded.embeddings.numpy().copy()
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.fit(tf.constant([["cat", "the", "zebra"]] * 4), np.ones(4), epochs=2, verbose=0)
    after = reloaded.embeddings.numpy()
    np.testing.assert_array_equal(after[[1, 2]], before[[1, 2]])  # cat, the
    assert not np.array_equal(after[3], before[3])  # zebra


def test_trainable_rows_argument_is_validated():
    with pytest.raises(ConfigurationError, match="Received: trainable_rows=\\[-1\\]"):
        VocabEmbedding(DIM, vocabulary=["a"], trainable_rows=[-1])
    layer = VocabEmbedding(DIM, vocabulary=["a"], trainable_rows=[5])
    with pytest.raises(ConfigurationError, match="has ids 0 to 1, but `trainable_rows` names id 5"):
        layer.build()


def test_header_with_zero_dimensions(tmp_path):
    (tmp_path / "v.txt").write_text("3 0\n")
    with pytest.raises(VectorFileError, match="gives 0 dimensions"):
        load_vectors(tmp_path / "v.txt")


# Parsing in a worker process -------------------------------------------------------
# Large files send chunks of rows to a child process (NumPy only) while this one reads on. Small blocks and
# START_AFTER=0 make a small file take that path.


@pytest.fixture
def worker_everywhere(monkeypatch):
    monkeypatch.setattr(_vector_files, "_BLOCK_SIZE", 2048)
    monkeypatch.setattr(_vector_files.ChunkParser, "START_AFTER", 0)


def many_words(n):
    return [f"w{i}" + ("é" if i % 7 == 0 else "") for i in range(n)]


def parse_with_worker(path):
    """Every chunk's vectors through a ChunkParser, how many the worker parsed, and each chunk's own `parse`."""
    file = _vector_files.open_vector_file(path)
    chunks = list(file.chunks)
    with _vector_files.ChunkParser(file.dim, start_after=0) as parser:
        blocks = [parser.parse(chunk, list(range(len(chunk.words)))) for chunk in chunks]
        arrays = parser.results(blocks)
    by_worker = sum(isinstance(block, _vector_files.PendingRows) and block.by_worker for block in blocks)
    here = [chunk.parse(list(range(len(chunk.words)))) for chunk in chunks]
    return np.concatenate(arrays), by_worker, np.concatenate(here)


def test_worker_parses_the_same_bits_as_this_process(tmp_path, monkeypatch):
    monkeypatch.setattr(_vector_files, "_BLOCK_SIZE", 2048)
    rng = np.random.default_rng(3)
    values = rng.normal(scale=10.0 ** rng.integers(-8, 8, size=(600, 1)), size=(600, 6))
    # Many spellings: long mantissas, exponents, signs, leading dots, integers.
    spellings = ["{:.17g}", "{:.9e}", "{:+.5f}", "{:.3g}", "{:.0f}"]
    texts = [[spellings[(i + j) % len(spellings)].format(v) for j, v in enumerate(row)] for i, row in enumerate(values)]
    texts[5][2] = ".5"
    texts[9][0] = "-.25e-3"
    write_text(tmp_path / "v.txt", many_words(600), texts, header=False)
    ours, by_worker, here = parse_with_worker(tmp_path / "v.txt")
    assert by_worker > 0
    np.testing.assert_array_equal(ours.view(np.uint32), here.view(np.uint32))
    expected = np.array([[float(t) for t in row] for row in texts]).astype(np.float32)  # float64, then float32
    np.testing.assert_array_equal(ours.view(np.uint32), expected.view(np.uint32))


WORKER_CASES = {
    "glove": dict(header=False),
    "word2vec": dict(header=True),
    "fasttext trailing space": dict(header=True, trailing_space=True),
    "crlf": dict(header=False, newline="\r\n"),
    "gzip": dict(header=False, compress="gz"),
    "bz2": dict(header=True, compress="bz2"),
}


@pytest.mark.parametrize("case", sorted(WORKER_CASES))
def test_large_files_load_alike_through_the_worker(tmp_path, worker_everywhere, case):
    words = many_words(500)
    texts, values = make_values(n=len(words), dim=7, seed=4)
    write_text(tmp_path / "v.txt", words, texts, **WORKER_CASES[case])
    assert_loaded(load_vectors(tmp_path / "v.txt"), words, values)


def test_worker_with_duplicates_odd_words_and_max_rows(tmp_path, worker_everywhere):
    words = many_words(400)
    words[1] = "new york"  # Spaces inside a word.
    words[300] = words[250]  # A duplicate: that chunk sends only some of its rows.
    texts, values = make_values(n=len(words), dim=5, seed=5)
    write_text(tmp_path / "v.txt", words, texts, header=False)
    kept = [i for i in range(len(words)) if i != 300]
    vectors = load_vectors(tmp_path / "v.txt")
    assert_loaded(vectors, [words[i] for i in kept], values[kept])
    assert vectors.duplicates == 1
    assert_loaded(load_vectors(tmp_path / "v.txt", max_rows=350), [words[i] for i in kept[:350]], values[kept[:350]])


def test_worker_chunk_with_a_bad_number_names_its_line(tmp_path, worker_everywhere):
    words = many_words(400)
    texts, _ = make_values(n=len(words), seed=6)
    texts[250][2] = "1.5x"
    write_text(tmp_path / "v.txt", words, texts, header=False)
    with pytest.raises(VectorFileError, match=r"Line 251 of .*: b'1.5x' is not a number"):
        load_vectors(tmp_path / "v.txt")


def test_worker_chunk_with_a_short_line_names_it(tmp_path, worker_everywhere):
    words = many_words(400)
    texts, _ = make_values(n=len(words), seed=7)
    texts[300] = texts[300][:-1]
    write_text(tmp_path / "v.txt", words, texts, header=True)
    with pytest.raises(VectorFileError, match=r"Line 302 of .* holds 3 numbers, but the file's vectors have 4"):
        load_vectors(tmp_path / "v.txt")


def test_first_bad_line_is_reported_while_the_worker_still_holds_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_vector_files, "_BLOCK_SIZE", 2048)
    words = many_words(100)
    texts, _ = make_values(n=len(words), seed=8)
    texts[3][1] = "bad"
    write_text(tmp_path / "v.txt", words, texts, header=False)
    file = _vector_files.open_vector_file(tmp_path / "v.txt")
    first = next(file.chunks)
    expected = r"Line 4 of .*: b'bad' is not a number"
    with pytest.raises(VectorFileError, match=expected), _vector_files.ChunkParser(file.dim, start_after=0) as parser:
        assert isinstance(parser.parse(first, list(range(len(first.words)))), _vector_files.PendingRows)
        # A later line fails (here: by hand) before the worker's refusal of line 4 was read.
        raise VectorFileError("Line 90 is bad too.")


def test_parsing_goes_on_here_when_the_worker_dies(tmp_path, monkeypatch):
    monkeypatch.setattr(_vector_files, "_BLOCK_SIZE", 2048)
    words = many_words(300)
    texts, values = make_values(n=len(words), seed=9)
    write_text(tmp_path / "v.txt", words, texts, header=False)
    file = _vector_files.open_vector_file(tmp_path / "v.txt")
    with _vector_files.ChunkParser(file.dim, start_after=0) as parser:
        blocks = []
        for chunk in file.chunks:
            blocks.append(parser.parse(chunk, list(range(len(chunk.words)))))
            if parser._worker is not None:
                parser._worker.process.kill()
        arrays = parser.results(blocks)
    np.testing.assert_array_equal(np.concatenate(arrays), values)


def test_small_files_start_no_worker(tmp_path):
    words = many_words(200)
    texts, values = make_values(n=len(words), seed=10)
    write_text(tmp_path / "v.txt", words, texts, header=False)
    file = _vector_files.open_vector_file(tmp_path / "v.txt")
    with _vector_files.ChunkParser(file.dim) as parser:  # Default: 16 chunks of 1 MiB first.
        blocks = [parser.parse(chunk, list(range(len(chunk.words)))) for chunk in file.chunks]
        assert all(isinstance(block, np.ndarray) for block in blocks)
        assert parser._worker is None
    np.testing.assert_array_equal(np.concatenate(blocks), values)


def test_worker_chunk_with_nan_names_its_line(tmp_path, worker_everywhere):
    words = many_words(400)
    texts, _ = make_values(n=len(words), seed=11)
    texts[250][2] = "nan"
    write_text(tmp_path / "v.txt", words, texts, header=False)
    with pytest.raises(VectorFileError, match=r"Line 251 of .*: the vector of 'w250' holds nan"):
        load_vectors(tmp_path / "v.txt")


def nan_file_and_parser(tmp_path, monkeypatch):
    """A file whose line 4 holds NaN, its first two chunks, and a parser that sends the first to the worker."""
    monkeypatch.setattr(_vector_files, "_BLOCK_SIZE", 2048)
    words = many_words(100)
    texts, _ = make_values(n=len(words), seed=12)
    texts[3][1] = "nan"
    write_text(tmp_path / "v.txt", words, texts, header=False)
    file = _vector_files.open_vector_file(tmp_path / "v.txt")
    return next(file.chunks), next(file.chunks), _vector_files.ChunkParser(file.dim, start_after=0)


def test_worker_refuses_nan_so_this_process_names_its_line(tmp_path, monkeypatch):
    first, _, parser = nan_file_and_parser(tmp_path, monkeypatch)
    with pytest.raises(VectorFileError, match=r"Line 4 of .*: the vector of 'w3' holds nan"), parser:
        rows = parser.parse(first, list(range(len(first.words))))
        assert isinstance(rows, _vector_files.PendingRows)
        parser.results([rows])


def test_nan_answered_by_the_worker_is_reported_before_a_later_bad_line(tmp_path, monkeypatch):
    first, second, parser = nan_file_and_parser(tmp_path, monkeypatch)
    with pytest.raises(VectorFileError, match=r"Line 4 of .*: the vector of 'w3' holds nan"), parser:
        assert isinstance(parser.parse(first, list(range(len(first.words)))), _vector_files.PendingRows)
        select.select([parser._worker.answers], [], [], 60)  # The worker has answered about line 4 ...
        parser.parse(second, list(range(len(second.words))))  # ... and this takes its answer.
        raise VectorFileError("Line 90 is bad too.")


def test_nonfinite_skip_on_a_file_large_enough_for_the_worker(tmp_path, worker_everywhere):
    words = many_words(500)
    texts, values = make_values(n=len(words), dim=3, seed=13)
    for i in (7, 250, 499):
        texts[i][1] = "nan"
    write_text(tmp_path / "v.txt", words, texts, header=False)
    vectors = load_vectors(tmp_path / "v.txt", nonfinite="skip")
    kept = [i for i in range(len(words)) if i not in (7, 250, 499)]
    assert_loaded(vectors, [words[i] for i in kept], values[kept])
    assert vectors.skipped_lines == (8, 251, 500)
