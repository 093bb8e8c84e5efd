"""Files that are cut short, damaged or not vectors files at all: each loads correctly or names the file and the fix."""

import bz2
import gzip
import lzma
import os
import pathlib
import struct
import threading
import time

import numpy as np
import pytest

from keras_vocabsafe import VectorFileError, _vector_files, align_vectors, load_vectors

LINES = b"".join(f"w{i} {i}.5 -{i}.25 {i}e-3\n".encode() for i in range(3000))  # About 80 KB.


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 2 KB, so a damaged stretch late in a small file is met in a later chunk."""
    monkeypatch.setattr(_vector_files, "_BLOCK_SIZE", 2048)


# Compressed files cut short or damaged ----------------------------------------------

COMPRESSORS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_file_cut_inside_the_first_line(tmp_path, suffix):
    data = COMPRESSORS[suffix](LINES)
    (tmp_path / f"v.{suffix}").write_bytes(data[:12])
    with pytest.raises(VectorFileError, match=rf"The compressed file .*v.{suffix}' .*(truncated|damaged)"):
        load_vectors(tmp_path / f"v.{suffix}")


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_file_cut_in_a_later_chunk(tmp_path, small_blocks, suffix):
    data = COMPRESSORS[suffix](LINES)
    (tmp_path / f"v.{suffix}").write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(VectorFileError, match=rf"The compressed file .*v.{suffix}' ends before .* truncated"):
        load_vectors(tmp_path / f"v.{suffix}")


def test_compressed_file_cut_short_while_the_worker_parses(tmp_path, small_blocks, monkeypatch):
    monkeypatch.setattr(_vector_files.ChunkParser, "START_AFTER", 0)
    data = gzip.compress(LINES)
    (tmp_path / "v.gz").write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(VectorFileError, match=r"The compressed file .*v.gz' ends before .* truncated"):
        load_vectors(tmp_path / "v.gz")


def test_compressed_file_cut_short_while_aligning(tmp_path, small_blocks):
    data = gzip.compress(LINES)
    (tmp_path / "v.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(VectorFileError, match=r"The compressed file .*v.gz' ends before"):
        align_vectors(tmp_path / "v.gz", ["w1", "w2999"])


def test_gzip_file_with_a_bad_checksum(tmp_path):
    data = bytearray(gzip.compress(LINES))
    data[-8:-4] = b"\0\0\0\0"  # The CRC-32 of the uncompressed data.
    (tmp_path / "v.gz").write_bytes(bytes(data))
    with pytest.raises(VectorFileError, match=r"The compressed file .*v.gz' is damaged .*CRC"):
        load_vectors(tmp_path / "v.gz")


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_file_with_garbage_inside(tmp_path, small_blocks, suffix):
    # bz2 checks each block. Zeros over a deflate block's code tables make it invalid; damage elsewhere can
    # decompress into wrong text, which is refused as text or by the CRC at the end.
    data = bytearray(COMPRESSORS[suffix](LINES))
    start = 20 if suffix == "gz" else len(data) // 2
    data[start : start + 200] = bytes(200)
    (tmp_path / f"v.{suffix}").write_bytes(bytes(data))
    with pytest.raises(VectorFileError, match=rf"The compressed file .*v.{suffix}' is damaged"):
        load_vectors(tmp_path / f"v.{suffix}")


def test_read_error_keeps_the_original_error_as_its_cause(tmp_path):
    (tmp_path / "v.gz").write_bytes(gzip.compress(LINES)[:100])
    with pytest.raises(VectorFileError) as caught:
        load_vectors(tmp_path / "v.gz")
    assert isinstance(caught.value.__cause__, EOFError)


# Paths and files that are not vectors files ------------------------------------------


def test_directory(tmp_path):
    with pytest.raises(VectorFileError, match=r"is a directory, not a vectors file"):
        load_vectors(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    # Opening a FIFO waited forever for a writer (and with one, failed on the seek after the magic bytes).
    os.mkfifo(tmp_path / "v.txt")
    done = threading.Event()

    def writer():  # So that a reader that opens the pipe is not stuck: it gets a line, then the end.
        while not done.is_set():
            try:
                descriptor = os.open(tmp_path / "v.txt", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # No reader yet.
                time.sleep(0.01)
                continue
            os.write(descriptor, b"cat 1 2\n")
            os.close(descriptor)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(VectorFileError, match=r"is not a regular file \(a pipe, device or socket\)"):
            load_vectors(tmp_path / "v.txt")
    finally:
        done.set()
        thread.join()


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00glove.6B.50d.txt", "a zip archive.*Unzip it"),
        (b"\x28\xb5\x2f\xfd\x04\x58\x45\x00\x00" + bytes(range(40)), "zstd-compressed.*zstd -d"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(range(40)), "a 7-Zip archive.*7z x"),
    ],
    ids=["zip", "zstd", "7z"],
)
def test_archive_or_compression_that_is_not_read_is_named(tmp_path, data, what):
    # A zip (as GloVe is published) was "binary data ... holds NUL bytes", and zstd "a word but no numbers".
    (tmp_path / "v.txt").write_bytes(data)
    with pytest.raises(VectorFileError, match=rf"is {what}"):
        load_vectors(tmp_path / "v.txt")


def test_empty_gzip_file(tmp_path):
    (tmp_path / "v.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(VectorFileError, match="is empty"):
        load_vectors(tmp_path / "v.gz")


def test_fasttext_binary_model(tmp_path):
    # fastText's .bin: magic, version, then its arguments and dictionary (here a few plausible bytes).
    (tmp_path / "cc.en.300.bin").write_bytes(struct.pack("<ii", 793712314, 12) + bytes(range(256)) * 4)
    with pytest.raises(VectorFileError, match=r"is a fastText binary model .*load_facebook_vectors"):
        load_vectors(tmp_path / "cc.en.300.bin")


def test_binary_data_that_is_not_word2vec_binary(tmp_path):
    (tmp_path / "v.dat").write_bytes(b"\x89PNG\r\x1a\x00\x00\x00\rIHDR\n" + bytes(range(256)))
    with pytest.raises(VectorFileError, match=r"Line 1 of .*v.dat' holds NUL bytes"):
        load_vectors(tmp_path / "v.dat")


def test_first_line_without_end(tmp_path, monkeypatch):
    monkeypatch.setattr(_vector_files, "_FIRST_LINE_LIMIT", 1000)
    (tmp_path / "v.dat").write_bytes(b"x" * 5000)
    with pytest.raises(VectorFileError, match=r"Line 1 of .* runs past 1,000 bytes without a newline"):
        load_vectors(tmp_path / "v.dat")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_file(tmp_path, encoding):
    (tmp_path / "v.txt").write_bytes("the 1 2\ncat 3 4\n".encode(encoding))
    with pytest.raises(VectorFileError, match=r"looks UTF-16 encoded .*iconv -f UTF-16 -t UTF-8"):
        load_vectors(tmp_path / "v.txt")


def test_utf8_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    (tmp_path / "v.txt").write_bytes("\ufeffthe 1 2\ncat 3 4\n".encode())
    assert load_vectors(tmp_path / "v.txt").vocabulary.to_list() == ["the", "cat"]


def test_utf8_byte_order_mark_before_a_header(tmp_path):
    (tmp_path / "v.txt").write_bytes("\ufeff2 2\nthe 1 2\ncat 3 4\n".encode())
    vectors = load_vectors(tmp_path / "v.txt")
    assert (vectors.format, vectors.vocabulary.to_list()) == ("word2vec", ["the", "cat"])


@pytest.mark.parametrize(
    "text", ["2 2\r\nthe 1 2\r\ncat 3 4\r\n", "2 2\r\nthe 1 2 \r\ncat 3 4 \r\n", "a 1 2\r\nnew york 3 4\r\n"]
)
def test_windows_line_endings(tmp_path, text):
    (tmp_path / "v.txt").write_bytes(text.encode())
    vectors = load_vectors(tmp_path / "v.txt")
    assert not any("\r" in word for word in vectors.vocabulary.to_list())
    assert vectors.vectors[0].tolist() == [1, 2]


def test_header_that_promises_no_vectors(tmp_path):
    (tmp_path / "v.txt").write_text("0 300\n")
    with pytest.raises(VectorFileError, match=r"The header of .* promises 0 vectors"):
        load_vectors(tmp_path / "v.txt")


# A line 1 of two whole numbers is a "count dim" header, or the GloVe vector of a word that is a number: the lines
# after it tell which.
@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress])
@pytest.mark.parametrize(
    ("text", "format", "words", "values"),
    [
        (b"1 2\nfoo 3\n", "glove", ["1", "foo"], [[2], [3]]),
        (b"1 2\nfoo 3\n", "auto", ["1", "foo"], [[2], [3]]),
        # Read before as word2vec binary, without an error: the one word "foo" and garbage values.
        (b"1 2\nfoo 3\nbar 4\n", "auto", ["1", "foo", "bar"], [[2], [3], [4]]),
        (b"1 2\r\nfoo 3\r\n", "auto", ["1", "foo"], [[2], [3]]),
        (b"\xef\xbb\xbf1 2\nfoo 3\nnew york -1\n", "auto", ["1", "foo", "new york"], [[2], [3], [-1]]),
        # With "auto", a line cut short may be a stream's read-ahead, not the end of the file.
        (b"1 2\nfoo 3", "glove", ["1", "foo"], [[2], [3]]),
    ],
)
def test_one_dimensional_glove_file_whose_first_word_is_a_number(tmp_path, text, format, words, values, compress):
    (tmp_path / "v.txt").write_bytes(compress(text) if compress else text)
    vectors = load_vectors(tmp_path / "v.txt", format=format)
    assert (vectors.format, vectors.vocabulary.to_list()) == ("glove", words)
    assert vectors.vectors.tolist() == values


@pytest.mark.parametrize(
    "data",
    [
        # word2vec binary whose first float's bytes read as "5" and a newline (float32 0.15238 is b"5\n\x1c>"),
        # and no NUL byte after them.
        b"2 2\na " + b"5\n\x1c>" + struct.pack("<f", 1.1) + b"\nb " + struct.pack("<2f", 1.1, 2.2),
        # A gzip member that ends inside line 2: the read-ahead sees "foo 0.5" alone.
        gzip.compress(b"1 2\nfoo 0.5", mtime=0) + gzip.compress(b" 0.25\n", mtime=0),
        # Line 2 as long as a plain file's read-ahead (4 KiB), cut where it ends with " 0.": one number.
        b"1 2\n" + b"x" * 4087 + b" 0.5 0.25\n",
    ],
    ids=["binary-float-reads-5-newline", "gzip-member-ends-in-line-2", "line-2-cut-by-the-read-ahead"],
)
def test_header_stays_a_header_when_only_line_2_reads_as_one_number(tmp_path, data):
    (tmp_path / "v.txt").write_bytes(data)
    vectors = load_vectors(tmp_path / "v.txt")
    assert vectors.format in ("word2vec", "word2vec_binary") and vectors.dim == 2
    binary = list(struct.unpack("<2f", struct.pack("<2f", 1.1, 2.2)))
    assert vectors.vectors[-1].tolist() == (binary if vectors.format == "word2vec_binary" else [0.5, 0.25])


def test_one_line_glove_file_whose_word_is_a_number(tmp_path):
    (tmp_path / "v.txt").write_bytes(b"7 5\n")
    vectors = load_vectors(tmp_path / "v.txt", format="glove")
    assert (vectors.vocabulary.to_list(), vectors.vectors.tolist()) == (["7"], [[5.0]])


@pytest.mark.parametrize(
    "data", [b"1 2\n\n", b"1 2\n\nfoo 3\n", b"2 3\n\nfoo 1 2 3\n", b"1 2\n\n\n  \nfoo 3\n", b"1 2\n 12345678"]
)
@pytest.mark.parametrize("format", ["auto", "word2vec_binary"])
def test_header_then_a_blank_line_or_no_word_is_refused_with_a_typed_error(tmp_path, data, format):
    # Telling binary from text read the blank line (an IndexError); binary took a vector with the word "".
    (tmp_path / "v.txt").write_bytes(data)
    with pytest.raises(VectorFileError):
        load_vectors(tmp_path / "v.txt", format=format)


def test_header_of_a_word2vec_file_is_still_refused_as_glove(tmp_path):
    (tmp_path / "v.txt").write_bytes(b"2 3\nfoo 1 2 3\nbar 4 5 6\n")
    with pytest.raises(VectorFileError, match=r"is a 'count dim' header \(2 3\), not a GloVe vector"):
        load_vectors(tmp_path / "v.txt", format="glove")
    assert load_vectors(tmp_path / "v.txt").vocabulary.to_list() == ["foo", "bar"]


def test_header_of_one_dimension_fits_both_readings(tmp_path):
    # Read as a header unless the caller says GloVe; a count that does not fit names that way out.
    (tmp_path / "v.txt").write_bytes(b"2 1\nfoo 1\nbar 4\n")
    assert load_vectors(tmp_path / "v.txt").vocabulary.to_list() == ["foo", "bar"]
    assert load_vectors(tmp_path / "v.txt", format="glove").vocabulary.to_list() == ["2", "foo", "bar"]
    (tmp_path / "v.txt").write_bytes(b"3 1\nfoo 1\nbar 4\n")
    with pytest.raises(VectorFileError, match=r"promised 3 vectors but the file holds 2.* pass format='glove'"):
        load_vectors(tmp_path / "v.txt")
    (tmp_path / "v.txt").write_bytes(b"1 1\nfoo 1\nbar 4\n")
    with pytest.raises(VectorFileError, match=r"promised 1 vectors but the file goes on.* pass format='glove'"):
        load_vectors(tmp_path / "v.txt")


# A text file whose header is wrong: read as text, the header named, and the fix given.
WRONG_HEADER_VECTORS = b"the 0.1 0.2 0.3 0.4\ncat 1.0 -2.5 3e-2 4\ndog 5 6 7 8\n"


@pytest.mark.parametrize("format", ["auto", "word2vec", "fasttext"])
@pytest.mark.parametrize(
    ("header", "lines", "found"),
    [
        (b"2 3", WRONG_HEADER_VECTORS, 4),  # The word was taken for "the 0.1" and the count blamed.
        (b"3 5", WRONG_HEADER_VECTORS, 4),
        (b"5 2", WRONG_HEADER_VECTORS, 4),
        # Read as word2vec binary before: garbage values loaded without an error, or "goes on after the 1 vectors
        # its header promises (word2vec binary, ...)".
        (b"2 5", b"at name@domain.com 0.3 -0.5\nx 0.1 0.9\ny -0.4 0.2\n", 2),
        (b"1 3", b"the 5 -3\ncat 0 0\ndog -7 4\n", 2),
    ],
)
def test_a_header_whose_dimension_the_text_vectors_do_not_have_is_named_with_the_fix(
    tmp_path, header, lines, found, format
):
    (tmp_path / "v.txt").write_bytes(header + b"\n" + lines)
    dim = header.split()[1].decode()
    expected = (
        rf"header of .*v\.txt' \(line 1: '{header.decode()}'\) gives {dim} dimensions, but the text vectors after it "
        rf"have {found} numbers each\. Fix line 1 to 'COUNT {found}'.*or delete line 1"
    )
    with pytest.raises(VectorFileError, match=expected):
        load_vectors(tmp_path / "v.txt", format=format)
    (tmp_path / "v.txt").write_bytes(lines)  # The fix the message gives: no header.
    assert load_vectors(tmp_path / "v.txt").dim == found


@pytest.mark.parametrize("header", [b"2 4", b"3 4", b"4 4", b"3 2"])
def test_text_vectors_read_as_word2vec_binary_are_refused_as_text(tmp_path, header):
    # Was "goes on after the 2 vectors its header promises (word2vec binary, ...)" or "ends inside vector 3".
    (tmp_path / "v.txt").write_bytes(header + b"\n" + WRONG_HEADER_VECTORS)
    with pytest.raises(VectorFileError, match=r"holds text vectors after its header .* Pass format='word2vec'"):
        load_vectors(tmp_path / "v.txt", format="word2vec_binary")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"2 4", r"Line 4 of .*: the header promised 2 vectors but the file goes on\. Fix the header.s count .*delete"),
        (b"4 4", r"promised 4 vectors but the file holds 3\. .*fix the count in line 1 to 3, or delete line 1"),
    ],
)
def test_a_header_whose_count_the_text_vectors_do_not_have_gives_the_fix(tmp_path, header, message):
    (tmp_path / "v.txt").write_bytes(header + b"\n" + WRONG_HEADER_VECTORS)
    with pytest.raises(VectorFileError, match=message):
        load_vectors(tmp_path / "v.txt")


# .npy matrices --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (2, 3, 1)])
def test_npy_that_is_not_a_matrix(tmp_path, shape):
    np.save(tmp_path / "m.npy", np.zeros(shape, np.float32))
    with pytest.raises(VectorFileError, match=r"holds an array of shape .*; a \(rows, dim\) matrix is needed"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b"])


@pytest.mark.parametrize(
    "values", [np.arange(4).reshape(2, 2), np.array([["1", "2"], ["3", "4"]]), np.ones((2, 2)) * 1j]
)
def test_npy_that_is_not_float(tmp_path, values):
    np.save(tmp_path / "m.npy", values)
    with pytest.raises(VectorFileError, match=rf"holds {values.dtype} values; vectors must be a float matrix"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b"])


class _Touch:
    """Unpickling this creates a file: the proof that a pickle ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (self.path,)


def test_npy_with_objects_is_refused_unread(tmp_path):
    marker = tmp_path / "unpickled"
    np.save(tmp_path / "m.npy", np.array([[_Touch(marker), 1], [2, 3]], dtype=object), allow_pickle=True)
    with pytest.raises(VectorFileError, match=r"m.npy' is not a readable .npy matrix"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b"])
    assert not marker.exists()


@pytest.mark.parametrize("data", [b"", b"a 1 2\nb 3 4\n", b"\x93NUMPY\x01\x00v\x00{'descr'"])
def test_npy_file_that_is_empty_or_not_npy_or_cut_short(tmp_path, data):
    (tmp_path / "m.npy").write_bytes(data)
    with pytest.raises(VectorFileError, match=r"m.npy' is not a (.npy file|readable .npy matrix)"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b"])


def test_npy_without_columns(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((2, 0), np.float32))
    with pytest.raises(VectorFileError, match=r"vectors need at least one dimension"):
        load_vectors(tmp_path / "m.npy", tokens=["a", "b"])


# Lines that only look like a word and its numbers ---------------------------------------

REFUSED_LINES = {
    "no-word": (b"a 0.1 0.2\n 0.3 0.4\nb 0.5 0.6\n", r"Line 2 of .*v.txt' starts with a space and then its numbers"),
    "tab-after-word": (b"a 0.1 0.2\nb\t0.3 0.4\n", r"Line 2 of .* separates its fields with tabs.*replace the tabs"),
    "tab-on-line-1": (b"a\t0.1 0.2\nb 0.3 0.4\n", r"Line 1 of .* separates its fields with tabs.*replace the tabs"),
    "route-66": (
        b"a 0.1 0.2\nroute 66 0.3 0.4\n",
        r"Line 2 of .* holds 3 numbers after the word b'route'.*If its word is b'route 66'.*'route_66'",
    ),
    "numbers-to-spare": (
        b"the 1 2\nfoo 3 4 5\n",
        r"Line 2 of .* holds 3 numbers after the word b'foo'.*If its word is b'foo 3'.*numbers to spare",
    ),
    "short-of-numbers": (b"a 0.1 0.2 0.3\nb 0.4\n", r"Line 2 of .* holds 1 number, but the file's vectors have 3"),
    "line-1-ends-in-a-word": (b"the 1 2 x\nfoo 3 4 5\n", r"Line 1 of .*: b'x' is not a number"),
    "infinity-spelled-out": (b"2 2\nthe Infinity 2\nfoo 3 4\n", r"Line 2 of .*the vector of 'the' holds inf"),
    "carriage-returns-alone": (b"the 1 2\rfoo 3 4\r", r"ends its lines with a carriage return alone"),
    "carriage-returns-alone-header": (b"2 2\rthe 1 2\rfoo 3 4\r", r"ends its lines with a carriage return alone"),
}


@pytest.mark.parametrize("data, message", REFUSED_LINES.values(), ids=REFUSED_LINES)
def test_a_bad_line_is_refused_naming_the_line_and_the_cause(tmp_path, data, message):
    # Each used to load silently (no word: the word ""; "Infinity": binary garbage) or to name another cause.
    (tmp_path / "v.txt").write_bytes(data)
    with pytest.raises(VectorFileError, match=message):
        load_vectors(tmp_path / "v.txt")


LOADED_LINES = {
    # Fields separated by tabs alone read as by spaces.
    "tabs-alone": (b"a\t0.1\t0.2\nb\t0.3\t0.4\n", "glove", [("a", [0.1, 0.2]), ("b", [0.3, 0.4])]),
    # A GloVe file's dimension was line 1's field count less one: the word's spaces counted as numbers.
    "glove-line-1-word-with-points": (b". . . 1 2\nthe 3 4\n", "glove", [(". . .", [1, 2]), ("the", [3, 4])]),
    "glove-line-1-word-with-letters": (
        b"at name@domain.com 1 2\nthe 3 4\n",
        "glove",
        [("at name@domain.com", [1, 2]), ("the", [3, 4])],
    ),
    # A point or sign that no digit follows is not a number yet.
    "point-or-sign-words": (
        b"the 1 2\nx -. 3 4\na ... -.5 +.5\n",
        "glove",
        [("the", [1, 2]), ("x -.", [3, 4]), ("a ...", [-0.5, 0.5])],
    ),
    # Text with a header whose first word holds a space and letters was taken for word2vec binary: the bytes after
    # the first space read as float32s, and the file loaded, garbage and all, without a word.
    "header-and-spaced-word": (
        b"2 1\nat name@domain.com 1.\n-- -1E+2\n",
        "word2vec",
        [("at name@domain.com", [1.0]), ("--", [-100.0])],
    ),
    "header-spaced-word-trailing-space": (
        b"2 2\na b 1 2 \nthe 3 4 \n",
        "word2vec",
        [("a b", [1, 2]), ("the", [3, 4])],
    ),
}


@pytest.mark.parametrize("data, format, expected", LOADED_LINES.values(), ids=LOADED_LINES)
def test_odd_lines_that_are_vectors_load(tmp_path, data, format, expected):
    for suffix, write in (("txt", bytes), ("gz", gzip.compress)):
        (tmp_path / f"v.{suffix}").write_bytes(write(data))
        vectors = load_vectors(tmp_path / f"v.{suffix}")
        assert vectors.format == format
        assert vectors.vocabulary.to_list() == [word for word, _ in expected]
        np.testing.assert_array_equal(vectors.vectors, np.array([row for _, row in expected], np.float32))


@pytest.mark.parametrize("value_bytes", [b"0.5\n", b"1 2\n"])
@pytest.mark.parametrize("dim", [1, 2])
def test_word2vec_binary_whose_values_read_as_text_loads_when_said_to_be_binary(tmp_path, value_bytes, dim):
    # Was refused as "holds text vectors after its header ... Pass format='word2vec' or format='auto'", which
    # then loaded garbage or failed.
    (tmp_path / "v.bin").write_bytes(b"1 %d\nw " % dim + value_bytes * dim)
    vectors = load_vectors(tmp_path / "v.bin", format="word2vec_binary")
    assert vectors.vocabulary.to_list() == ["w"]
    assert vectors.vectors.tobytes() == value_bytes * dim


def word2vec_binary(words, matrix, line_break):
    """A word2vec binary file as word2vec's own writer lays it out: header, then `word`, a space, the float32s."""
    rows = [word.encode() + b" " + row.astype("<f4").tobytes() + line_break for word, row in zip(words, matrix)]
    return b"%d %d\n" % matrix.shape + b"".join(rows)


@pytest.mark.parametrize("spelled", [b"0.5\n", b"1 2\n"])
# 3000 vectors: more than the read-ahead holds. Not one vector of one value: every value is spelled as text, so the
# file is a text file too (see the test below).
@pytest.mark.parametrize(("dim", "count"), [(1, 2), (1, 3000), (2, 1), (2, 2), (2, 3000)])
@pytest.mark.parametrize("line_break", [b"", b"\n"], ids=["packed", "line-per-vector"])
def test_word2vec_binary_whose_first_value_reads_as_text_is_detected_as_binary(
    tmp_path, spelled, dim, count, line_break
):
    # Read as text: "Line 3 ...: b'...' is not a number", "the header promised 1 vectors but the file goes on. Fix
    # the header's count", or (header "2 2", first line "w0 0.5") line 1 taken for the GloVe vector of the word "2".
    matrix = np.random.default_rng(count).normal(size=(count, dim)).astype(np.float32)
    matrix[0, 0] = np.frombuffer(spelled, "<f4")[0]
    words = [f"w{i}" for i in range(count)]
    data = word2vec_binary(words, matrix, line_break)
    # Whether a compressed file's read-ahead holds all of it is not known: one vector without a line break after
    # it, read as text a line of numbers and then bytes without a control byte, is told only where the file is not.
    compressed = [("bin.gz", gzip.compress)] if count > 1 or line_break else []
    for suffix, write in [("bin", bytes), *compressed]:
        (tmp_path / f"v.{suffix}").write_bytes(write(data))
        vectors = load_vectors(tmp_path / f"v.{suffix}")
        assert vectors.format == "word2vec_binary"
        assert vectors.vocabulary.to_list() == words
        assert vectors.vectors.tobytes() == matrix.astype("<f4").tobytes()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"1 1\nw 0.5\n", [[0.5]]),
        (b"2 1\na 1.0\nb 2.0\n", [[1.0], [2.0]]),
        (b"2 2\na 0.1 0.2\nb 0.3 0.4\n", [[0.1, 0.2], [0.3, 0.4]]),
    ],
)
def test_a_file_that_reads_both_as_text_and_as_word2vec_binary_is_text(tmp_path, data, expected):
    # Its float32 bytes would all be digits, points, spaces and line breaks: values below 2.5e-4 (8.7e-33 for
    # "0.5\n"), which no trained vectors are made of alone. format="word2vec_binary" reads it as binary.
    (tmp_path / "v.txt").write_bytes(data)
    vectors = load_vectors(tmp_path / "v.txt")
    assert vectors.format == "word2vec"
    np.testing.assert_array_equal(vectors.vectors, np.array(expected, np.float32))
