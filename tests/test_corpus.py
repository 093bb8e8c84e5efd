"""`vocabulary_from_files` and `vocabsafe vocab build`: the vocabulary adapt would learn, from files of any size."""

import bz2
import gzip
import json
import os
import re

import numpy as np
import pytest

from conftest import run_vocabsafe
from keras_vocabsafe import (
    ConfigurationError,
    TextEncodingError,
    TextVocabEmbedding,
    VocabEmbedding,
    Vocabulary,
    VocabularyError,
)
from keras_vocabsafe.corpus import vocabulary_from_files

LINES = ["The cat sat on the mat", "the dog, the cat!", "Ünïcode naïve café", "", "   ", "dog dog emu"] * 7


def write(path, lines, opener=open):
    with opener(path, "wb") as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))
    return path


def test_text_files_give_the_vocabulary_adapt_gives_on_their_lines(tmp_path):
    files = [
        write(tmp_path / "a.txt", LINES[:20]),
        write(tmp_path / "b.txt.gz", LINES[20:30], gzip.open),
        write(tmp_path / "c.bz2", LINES[30:], bz2.open),
    ]
    settings = {"max_tokens": 8, "standardize": "lower", "ngrams": 2}
    counted = vocabulary_from_files(files, **settings)
    layer = TextVocabEmbedding(2, **settings)
    layer.adapt(LINES)
    assert counted == layer.vocabulary
    assert counted.counts.tolist() == layer.vocabulary.counts.tolist()
    # The file loads into a layer with the same settings: the same ids.
    counted.save(tmp_path / "vocab.json")
    again = TextVocabEmbedding(2, vocabulary=str(tmp_path / "vocab.json"), **settings)
    assert again.get_vocabulary() == layer.get_vocabulary()


def test_keys_mode_keeps_every_byte_and_drops_only_the_line_ending(tmp_path):
    keys = [b"caf\xc3\xa9", b"\xff\xfe raw", b" padded ", b"tab\there", b"cr\rinside", b"caf\xc3\xa9"]
    path = tmp_path / "keys.txt"
    path.write_bytes(b"\n".join(keys[:3]) + b"\r\n" + b"\n".join(keys[3:]) + b"\n")
    counted = vocabulary_from_files(path, keys=True)
    layer = VocabEmbedding(2)
    layer.adapt(np.array(keys, dtype=object))
    assert counted == layer.vocabulary
    assert counted.tokens[0] == b"caf\xc3\xa9" and b"\xff\xfe raw" in counted


@pytest.mark.parametrize("opener", [open, gzip.open, bz2.open], ids=["plain", "gzip", "bzip2"])
def test_a_byte_order_mark_at_the_start_of_a_file_is_not_part_of_its_first_token(tmp_path, opener):
    # Notepad starts UTF-8 files with one; it was counted as part of the first word ("\ufeffthe").
    path = tmp_path / "notepad.txt"
    with opener(path, "wb") as stream:
        stream.write(b"\xef\xbb\xbfthe cat\nthe dog \xef\xbb\xbf\n")
    counted = vocabulary_from_files(path, standardize=None)
    assert dict(zip(counted.tokens, counted.counts.tolist())) == {b"the": 2, b"cat": 1, b"dog": 1, b"\xef\xbb\xbf": 1}
    keys = vocabulary_from_files(path, keys=True)
    assert list(keys.tokens) == [b"the cat", b"the dog \xef\xbb\xbf"]


@pytest.mark.parametrize("cut", [{"min_frequency": 14}, {"max_tokens": 6}])
def test_reserved_tokens_keep_counts_and_a_layer_reading_them_keeps_what_adapt_keeps(tmp_path, cut):
    # With reserved tokens the counts were dropped: `vocab build` crashed after writing its file, Beam wrote none,
    # and a layer cutting by count kept every token.
    settings = {"reserved_tokens": ["[cls]", "the"], "standardize": "lower", **cut}
    counted = vocabulary_from_files(write(tmp_path / "corpus.txt", LINES), **settings)
    counts = dict(zip(counted.tokens, counted.counts.tolist()))
    assert counted.tokens[:2] == (b"[cls]", b"the")
    assert counts[b"[cls]"] == 0 and counts[b"the"] == sum(line.lower().split().count("the") for line in LINES)
    adapted = TextVocabEmbedding(2, **settings)
    adapted.adapt(LINES)
    path = tmp_path / "vocabulary.json"
    counted.save(path)
    assert TextVocabEmbedding(2, vocabulary=str(path), **settings).get_vocabulary() == adapted.get_vocabulary()


def test_a_pipe_and_a_file_that_changes_while_counted_are_refused(tmp_path):
    # A pipe (`vocab build <(zcat ...)`) failed with a raw "not seekable" error; a file rewritten between the two
    # readings made past the budget gave counts of neither content.
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(VocabularyError, match=r"is not a regular file \(a pipe.*Write it to a file first"):
        vocabulary_from_files(pipe)
    path = tmp_path / "log.txt"
    path.write_text("".join(f"hot{i % 3} rare{i}\n" for i in range(300)))
    rewritten = []

    def rewrite_after_the_first_reading(done, total):
        if done == total and not rewritten:
            rewritten.append(True)
            path.write_text("".join(f"hot{i % 3} hot{i % 3}\n" for i in range(300)))

    with pytest.raises(VocabularyError, match=r"log.txt' changed while it was counted"):
        vocabulary_from_files(path, standardize=None, budget=10, progress=rewrite_after_the_first_reading)
    assert rewritten


def test_a_text_file_that_starts_with_bzh_is_read_as_text(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"BZh is how bzip2 files start\nBZh9 too\n")
    counted = vocabulary_from_files(path, standardize=None)
    assert dict(zip(counted.tokens, counted.counts.tolist()))[b"BZh"] == 1


def test_past_the_budget_files_are_read_twice_for_exact_counts(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{min(rank, 5000)}" for rank in rng.zipf(1.3, size=40_000)]
    path = write(tmp_path / "zipf.txt", [" ".join(words[i : i + 20]) for i in range(0, len(words), 20)])
    exact = vocabulary_from_files(path, budget=None, standardize=None, max_tokens=12)
    reads = []
    bounded = vocabulary_from_files(
        path, budget=200, standardize=None, max_tokens=12, progress=lambda done, total: reads.append(done)
    )
    assert bounded == exact and bounded.counts.tolist() == exact.counts.tolist()
    assert reads.count(path.stat().st_size) == 2  # Two full readings.


def test_truncated_gzip_and_missing_files_are_typed_errors(tmp_path):
    path = write(tmp_path / "big.txt.gz", [f"line {i} with words" for i in range(20_000)], gzip.open)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(VocabularyError, match="truncated or corrupt"):
        vocabulary_from_files(path)
    with pytest.raises(VocabularyError, match="does not exist"):
        vocabulary_from_files(tmp_path / "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(VocabularyError, match=rf"^No tokens to keep in {re.escape(repr(str(empty)))}: the text was"):
        vocabulary_from_files(empty)  # It named the layer used inside, which the caller never made.
    with pytest.raises(VocabularyError, match="directory"):
        vocabulary_from_files(tmp_path)


def test_files_without_tokens_to_keep_get_a_fix_about_files_not_about_a_layer(tmp_path):
    # The layer's fixes ("pass `vocabulary=` to the layer", "adapt on more data") name a layer the caller never made.
    empty = write(tmp_path / "empty.txt", ["", "  "])
    with pytest.raises(
        VocabularyError, match=r"held only whitespace.*\. Check that the files hold text, and the"
    ) as info:
        vocabulary_from_files(empty)
    assert "vocabulary=" not in str(info.value)
    rare = write(tmp_path / "rare.txt", ["a b a"])
    with pytest.raises(VocabularyError, match=r"seen 2 time\(s\)\)\. Lower `min_frequency`, or count more text\.$"):
        vocabulary_from_files(rare, min_frequency=3)


def test_key_files_without_tokens_to_keep_get_the_fix_about_files_too(tmp_path):
    # Keys are counted by the keys' lookup layer, whose rule is not the text layer's: it offers the same fixes.
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(VocabularyError, match=r"\. Check that the files hold text, and the settings \(`keys`") as info:
        vocabulary_from_files(empty, keys=True)
    assert "vocabulary=" not in str(info.value)
    rare = write(tmp_path / "rare.txt", ["a", "b", "a"])
    with pytest.raises(VocabularyError, match=r"seen 2 time\(s\)\)\. Lower `min_frequency`, or count more text\.$"):
        vocabulary_from_files(rare, keys=True, min_frequency=3)


def test_keys_mode_with_an_integer_vocabulary_is_refused_naming_what_to_do(tmp_path):
    # It raised the layer's own KeyDtypeError, which asked to "pass integer keys" (lines are strings) or to
    # build a layer the caller never made with vocabulary_dtype='string'.
    path = write(tmp_path / "ids.txt", ["1", "2", "2"])
    with pytest.raises(
        ConfigurationError, match=r"reads every line as a string key.*vocabulary_dtype='int64'\)\.adapt"
    ):
        vocabulary_from_files(path, keys=True, vocabulary_dtype="int64")


def test_binary_files_are_refused_not_counted(tmp_path):
    # A .keras file is a zip, a weights file HDF5: counted as text they gave a vocabulary of junk tokens.
    import zipfile

    import h5py

    keras_file = tmp_path / "model.keras"
    with zipfile.ZipFile(keras_file, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Functional"}))
    weights_file = tmp_path / "model.weights.h5"
    with h5py.File(weights_file, "w") as h5:
        h5["vars/0"] = np.ones((4, 2), "float32")
    packed = tmp_path / "packed.txt.gz"
    packed.write_bytes(gzip.compress(b"words and words\n" + bytes(range(256))))
    for path in (keras_file, weights_file, packed):
        with pytest.raises(VocabularyError, match=r"holds a NUL byte within its first 8,192 bytes: it is a binary"):
            vocabulary_from_files(path)
    assert vocabulary_from_files(write(tmp_path / "text.txt", ["words and words"])).tokens == (b"words", b"and")


@pytest.mark.parametrize("encoding_errors", ["strict", "replace"])
def test_files_that_are_mostly_not_utf8_are_refused_whatever_the_encoding_errors(tmp_path, encoding_errors):
    # Random bytes without a NUL, and Russian in cp1251, gave vocabularies of junk (or of U+FFFD) under "replace".
    rng = np.random.default_rng(0)
    noise = rng.integers(1, 256, 20_000, dtype=np.uint8).tobytes()
    cyrillic = ("Съешь же ещё этих мягких французских булок, да выпей чаю.\n" * 200).encode("cp1251")
    for name, data in (("noise.bin", noise), ("russian.txt", cyrillic)):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(VocabularyError, match=r"is not UTF-8 text: \d+% of its first 8,192 bytes"):
            vocabulary_from_files(path, encoding_errors=encoding_errors)
    # Binary data after text: the first 8 KiB passed, and the rest was counted as junk (or U+FFFD) under "replace".
    appended = tmp_path / "appended.txt"
    appended.write_bytes(("le café est très bon\n" * 500).encode("utf-8") + noise * 2)
    with pytest.raises(
        VocabularyError,
        match=r"not UTF-8 text throughout: \d+% of the [\d,]+ bytes of its lines 1-\d+ are not valid UTF-8",
    ):
        vocabulary_from_files(appended, encoding_errors=encoding_errors)
    # A few bytes of another encoding in UTF-8 text are what `encoding_errors` is for.
    french = tmp_path / "french.txt"
    french.write_bytes(("le café est très bon\n" * 300).encode("utf-8") + "un résumé\n".encode("latin-1"))
    if encoding_errors == "strict":
        with pytest.raises(TextEncodingError):
            vocabulary_from_files(french, encoding_errors=encoding_errors)
    else:
        assert b"caf\xc3\xa9" in vocabulary_from_files(french, encoding_errors=encoding_errors).tokens
    # UTF-16, with or without its byte order mark, is named as such (its NUL bytes made it "a binary file").
    for name, data in (("bom.txt", "le café\n".encode("utf-16")), ("le.txt", ("le café\n" * 9).encode("utf-16-le"))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(VocabularyError, match=r"is UTF-16 text, not UTF-8: convert it first"):
            vocabulary_from_files(tmp_path / name, encoding_errors=encoding_errors)
    # A short file's share is of all its bytes (the first three were skipped as if they were a byte order mark).
    (tmp_path / "short.txt").write_bytes(("Съешь" * 48).encode("cp1251"))
    with pytest.raises(VocabularyError, match=r"100% of its first 240 bytes"):
        vocabulary_from_files(tmp_path / "short.txt", encoding_errors=encoding_errors)
    # Keys are kept byte for byte: any bytes but NUL may be keys.
    keys = tmp_path / "keys.bin"
    keys.write_bytes(b"\n".join(bytes([b]) * 3 for b in range(0x80, 0x100)) + b"\n")
    assert len(vocabulary_from_files(keys, keys=True)) == 128


@pytest.mark.slow
def test_vocab_build_command_writes_the_vocabulary_and_refuses_to_overwrite(tmp_path):
    corpus = write(tmp_path / "corpus.txt.gz", LINES, gzip.open)
    out = tmp_path / "vocab.json"
    result = run_vocabsafe("vocab", "build", corpus, "-o", out, "--max-tokens", "6", "--standardize", "lower")
    assert result.returncode == 0, result.stderr
    layer = TextVocabEmbedding(2, max_tokens=6, standardize="lower")
    layer.adapt(LINES)
    written = Vocabulary.load(out)
    assert written == layer.vocabulary
    assert json.loads(out.read_text())["counts"] == layer.vocabulary.counts.tolist()
    again = run_vocabsafe("vocab", "build", corpus, "-o", out, "--json")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert json.loads(again.stdout) == {"error": again.stderr.split("error: ", 1)[1].strip(), "exit_code": 2}


def test_an_error_in_the_progress_callback_comes_back_as_it_was_raised(tmp_path):
    # tf.data turned it into an UnknownError (and a callback of the wrong signature into InvalidArgumentError).
    class Cancelled(Exception):
        pass

    def cancel(done, total):
        raise Cancelled(f"stopped at {done} of {total}")

    path = write(tmp_path / "corpus.txt", LINES)
    with pytest.raises(Cancelled, match="stopped at"):
        vocabulary_from_files(path, progress=cancel)
    with pytest.raises(TypeError, match="positional argument"):
        vocabulary_from_files(path, progress=lambda done: None)

    def broken_pipe(done, total):
        raise BrokenPipeError("the progress reader went away")

    # An OSError of the callback's is not the file's: it was reported as "truncated or corrupt".
    with pytest.raises(BrokenPipeError, match="the progress reader went away"):
        vocabulary_from_files(write(tmp_path / "long.txt", LINES * 200), progress=broken_pipe)
