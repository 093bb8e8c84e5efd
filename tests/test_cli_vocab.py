"""`vocabsafe vocab show|diff` and `vocabsafe vectors align`: output, exit codes, the aligned matrix's rows.

Most tests call `keras_vocabsafe.cli.main` in this process (each console-script run costs seconds of TensorFlow
import); one runs the installed script end to end.
"""

import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest

from conftest import run_vocabsafe, unwritable_directory
from keras_vocabsafe import VocabEmbedding
from keras_vocabsafe.cli import main
from keras_vocabsafe.vocabulary import Vocabulary

BERT = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s"]
GLOVE = {"the": [1.0, 2.0, 3.0], "cat": [0.5, -1.0, 4.0], "dog": [9.0, 9.0, 9.0], "##s": [0.0, 1.0, -2.0]}


def write_lines(path, tokens):
    path.write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")
    return path


def glove_file(tmp_path):
    lines = [" ".join([word, *map(str, vector)]) for word, vector in GLOVE.items()]
    path = tmp_path / "glove.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys, *args):
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# vocab show -------------------------------------------------------------------------------------------------------


def test_vocab_show_reports_format_size_special_tokens_and_fingerprint(tmp_path, capsys):
    path = write_lines(tmp_path / "vocab.txt", BERT)
    code, out, err = run(capsys, "vocab", "show", path, "--json", "--head", "3")
    assert code == 0, err
    data = json.loads(out)
    assert (data["format"], data["dtype"], data["size"]) == ("text", "string", 8)
    assert data["head"] == [{"id": 0, "token": "[PAD]"}, {"id": 1, "token": "[unused0]"}, {"id": 2, "token": "[UNK]"}]
    assert [entry["id"] for entry in data["special_tokens"]] == [0, 1, 2, 3, 4]
    assert data["fingerprint"] == Vocabulary(BERT).fingerprint()
    assert data["keras_text_file_problems"] == [] and data["counts"] is None


def test_vocab_show_prints_counts_of_a_tft_file(tmp_path, capsys):
    path = tmp_path / "vocab_tft"
    path.write_bytes(b"9 the\n4 new york\n1 of\n")
    code, out, _ = run(capsys, "vocab", "show", path)
    assert code == 0
    assert "tft_frequency, string, 3 tokens" in out
    assert "counts: 14 occurrences, from 1 to 9 per token" in out
    assert "'new york'  4" in out


def test_vocab_show_exits_1_for_tokens_keras_cannot_reload_from_a_text_file(tmp_path, capsys):
    Vocabulary(["ok", "two\nlines", "", "cr\r"]).save(tmp_path / "v.json")
    code, out, _ = run(capsys, "vocab", "show", tmp_path / "v.json", "--json")
    assert code == 1
    problems = json.loads(out)["keras_text_file_problems"]
    assert [entry["id"] for entry in problems] == [1, 2, 3]
    assert "newline" in problems[0]["problem"] and "empty" in problems[1]["problem"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a\nb\na\n", "twice, on lines 1 and 3"),
        (b"", "is empty"),
        (b'{"format": "keras_vo', "not valid JSON"),
        # Read as UTF-8 it listed the token '\x00' twice, or 'N'.
        ("上上下\n下上\n".encode("utf-16-le"), "is UTF-16-LE text without a byte order mark"),
        ("上上\n".encode("utf-16-be"), "is UTF-16-BE text without a byte order mark"),
    ],
    ids=["duplicate", "empty", "truncated", "utf-16-le", "utf-16-be one line"],
)
def test_vocab_show_exits_2_with_one_line_for_a_file_that_is_not_a_vocabulary(tmp_path, capsys, data, message):
    path = tmp_path / "vocab"
    path.write_bytes(data)
    code, out, err = run(capsys, "vocab", "show", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


# vocab diff -------------------------------------------------------------------------------------------------------


def test_vocab_diff_names_a_utf16_file_without_a_byte_order_mark(tmp_path, capsys):
    old = write_lines(tmp_path / "old.txt", ["上上下", "下上"])
    new = tmp_path / "new.txt"
    new.write_bytes("上上下\n下上\n".encode("utf-16-be"))  # Read as UTF-8 it listed the token 'N' twice.
    code, out, err = run(capsys, "vocab", "diff", old, new)
    assert code == 2 and out == ""
    assert f"{str(new)!r} is UTF-16-BE text without a byte order mark" in err


def test_vocab_diff_exits_0_when_identical_and_1_when_ids_differ(tmp_path, capsys):
    a = write_lines(tmp_path / "a.txt", ["[UNK]", "the", "cat", "dog"])
    same = write_lines(tmp_path / "same.txt", ["[UNK]", "the", "cat", "dog"])
    b = write_lines(tmp_path / "b.txt", ["[UNK]", "cat", "the", "bird", "fish"])
    assert run(capsys, "vocab", "diff", a, same)[0] == 0
    code, out, _ = run(capsys, "vocab", "diff", a, b, "--json")
    assert code == 1
    data = json.loads(out)
    assert (data["old_size"], data["new_size"], data["added"], data["removed"], data["moved"]) == (4, 5, 2, 1, 2)
    assert data["removed_examples"] == [{"token": "dog", "id": 3}]
    assert {"token": "the", "old_id": 1, "new_id": 2} in data["moved_examples"]
    assert "lose the rows of 1 tokens" in data["summary"]


def test_vocab_diff_lists_as_many_tokens_of_each_kind_as_examples_asks_in_text_as_in_json(tmp_path, capsys):
    # The text listed 5 of each kind whatever `--examples` said (10 by default, and in --json).
    old = write_lines(tmp_path / "old.txt", [f"t{i}" for i in range(12)])
    new = write_lines(tmp_path / "new.txt", [f"n{i}" for i in range(12)])
    code, out, _ = run(capsys, "vocab", "diff", old, new)
    assert code == 1
    assert "  removed: " + ", ".join(f"'t{i}' (id {i})" for i in range(10)) + ", ...\n" in out
    out = run(capsys, "vocab", "diff", old, new, "--examples", "2")[1]
    assert "  added: 'n0' (id 0), 'n1' (id 1), ...\n" in out
    assert "  removed: 't0' (id 0), 't1' (id 1), ...\n" in out
    out = run(capsys, "vocab", "diff", old, new, "--examples", "0")[1]
    assert "  added: ...\n" in out and "'n0'" not in out


# vectors align ----------------------------------------------------------------------------------------------------


def test_vectors_align_writes_the_matrix_a_vocab_embedding_loads(tmp_path, capsys):
    vocab = write_lines(tmp_path / "vocab.txt", ["the", "cat", "zebra", "##s"])
    out = tmp_path / "aligned.npy"
    code, text, err = run(
        capsys, "vectors", "align", glove_file(tmp_path), "--vocab", vocab, "-o", out, "--missing-initializer", "zeros"
    )
    assert code == 0, err
    layer = VocabEmbedding(3, vocabulary=str(vocab))
    layer.load_pretrained(
        str(glove_file(tmp_path)), missing_embeddings_initializer="zeros", oov_embeddings_initializer="mean"
    )
    matrix = np.load(out)
    np.testing.assert_array_equal(matrix, np.asarray(layer.embeddings))
    assert matrix.shape == (5, 3)  # The OOV row, then the four tokens.
    np.testing.assert_allclose(matrix[0], np.mean([GLOVE["the"], GLOVE["cat"], GLOVE["##s"]], axis=0), rtol=1e-6)
    assert "found             3" in text and "row 0 is the OOV row" in text
    # How the rows without a vector were made is stated, not left to the defaults' documentation.
    assert "(1 token(s) without a vector: zeros; OOV row: mean)" in text


def test_vectors_align_states_how_rows_without_a_vector_were_made_in_json(tmp_path, capsys):
    vocab = write_lines(tmp_path / "vocab.txt", ["the", "zebra"])
    out = tmp_path / "aligned.npy"
    code, text, _ = run(capsys, "vectors", "align", glove_file(tmp_path), "--vocab", vocab, "-o", out, "--json")
    assert code == 0
    data = json.loads(text)
    assert data["missing_initializer"] == "mean_std" and data["oov_initializer"] == "mean"
    args = ["--rows", "vocabulary", "--missing-initializer", "mean_cov", "--overwrite", "--json"]
    code, text, _ = run(capsys, "vectors", "align", glove_file(tmp_path), "--vocab", vocab, "-o", out, *args)
    data = json.loads(text)
    assert data["missing_initializer"] == "mean_cov" and data["oov_initializer"] is None  # No OOV row.


def test_vectors_align_keeps_file_ids_of_a_vocabulary_that_lists_unk(tmp_path, capsys):
    vocab = write_lines(tmp_path / "vocab.txt", BERT)
    out = tmp_path / "aligned.npy"
    code, text, _ = run(
        capsys,
        "vectors",
        "align",
        glove_file(tmp_path),
        "--vocab",
        vocab,
        "-o",
        out,
        "--missing-initializer",
        "zeros",
        "--json",
    )
    assert code == 0
    matrix = np.load(out)
    assert matrix.shape == (len(BERT), 3)
    for token in ("the", "cat", "##s"):
        np.testing.assert_array_equal(matrix[BERT.index(token)], GLOVE[token])
    mean = np.mean([GLOVE["the"], GLOVE["cat"], GLOVE["##s"]], axis=0)
    np.testing.assert_allclose(matrix[BERT.index("[UNK]")], mean, rtol=1e-6)  # The OOV row.
    np.testing.assert_array_equal(matrix[[0, 1, 3, 4]], 0.0)
    data = json.loads(text)
    assert data["oov_rows"] == [2] and data["report"]["found"] == 3


def test_vectors_align_rows_vocabulary_has_one_row_per_token(tmp_path, capsys):
    vocab = write_lines(tmp_path / "vocab.txt", ["dog", "the"])
    out = tmp_path / "aligned.npy"
    assert (
        run(capsys, "vectors", "align", glove_file(tmp_path), "--vocab", vocab, "-o", out, "--rows", "vocabulary")[0]
        == 0
    )
    np.testing.assert_array_equal(np.load(out), [GLOVE["dog"], GLOVE["the"]])


def test_vectors_align_refuses_to_overwrite_and_exits_1_below_min_coverage(tmp_path, capsys):
    vocab = write_lines(tmp_path / "vocab.txt", ["the", "zebra", "okapi"])
    out = tmp_path / "aligned.npy"
    out.write_bytes(b"keep me")
    code, _, err = run(capsys, "vectors", "align", glove_file(tmp_path), "--vocab", vocab, "-o", out)
    assert code == 2 and "--overwrite" in err and out.read_bytes() == b"keep me"
    code, text, _ = run(
        capsys,
        "vectors",
        "align",
        glove_file(tmp_path),
        "--vocab",
        vocab,
        "-o",
        out,
        "--overwrite",
        "--min-coverage",
        "0.5",
    )
    assert code == 1 and "below --min-coverage" in text
    assert np.load(out).shape == (4, 3)


def test_outputs_that_cannot_be_written_are_refused_naming_out(tmp_path, capsys):
    vocab = write_lines(tmp_path / "vocab.txt", ["the", "cat"])
    corpus = write_lines(tmp_path / "corpus.txt", ["the cat sat"])
    vectors = glove_file(tmp_path)
    cases = [
        (vocab, f"'{vocab}' is a file, not a directory"),
        (vocab / "sub", f"'{vocab}' is a file, not a directory"),  # Named, not 'sub does not exist'.
        (tmp_path / "no" / "such", f"'{tmp_path / 'no' / 'such'}' does not exist. Create it first (mkdir -p "),
        (unwritable_directory(tmp_path), "no file can be created in"),
    ]
    before = sorted(tmp_path.iterdir())
    for directory, message in cases:
        for command, out in (
            (["vectors", "align", vectors, "--vocab", vocab, "-o"], directory / "aligned.npy"),
            (["vocab", "build", corpus, "-o"], directory / "vocab.json"),
        ):
            code, text, err = run(capsys, *command, out)
            assert code == 2 and text == "", (command, err)
            assert f"cannot write {out}: " in err and message in err, err
            assert ".vocabsafe-" not in err and err.count("\n") == 1, err  # Not the temporary file beside OUT.
    assert sorted(tmp_path.iterdir()) == before


def test_out_through_a_symbolic_link_writes_its_target_and_keeps_the_link(tmp_path, capsys):
    vocab = write_lines(tmp_path / "vocab.txt", ["the", "cat"])
    vectors = glove_file(tmp_path)
    link = tmp_path / "latest.npy"
    link.symlink_to(tmp_path / "run1.npy")  # Dangling until written.
    code, _, err = run(capsys, "vectors", "align", vectors, "--vocab", vocab, "-o", link)
    assert code == 0, err
    assert link.is_symlink() and np.load(tmp_path / "run1.npy").shape == (3, 3)
    code, _, err = run(capsys, "vectors", "align", vectors, "--vocab", vocab, "-o", link)
    assert code == 2 and f"{link} (a link to {tmp_path / 'run1.npy'}) already exists" in err, err
    nowhere = tmp_path / "nowhere.npy"
    nowhere.symlink_to(tmp_path / "missing-dir" / "x.npy")
    loop, other = tmp_path / "loop.npy", tmp_path / "other.npy"
    loop.symlink_to(other)
    other.symlink_to(loop)
    before = sorted(tmp_path.iterdir())
    for out, message in (
        (nowhere, f"cannot write {nowhere} (a link to {tmp_path / 'missing-dir' / 'x.npy'}): the directory"),
        (loop, f"{loop} is a symbolic link in a loop"),
        (f"{tmp_path / 'new.npy'}/", "ends with a slash, which names a directory"),
        ("", "OUT is empty"),
    ):
        code, text, err = run(capsys, "vectors", "align", vectors, "--vocab", vocab, "-o", out)
        assert code == 2 and text == "" and message in err and err.count("\n") == 1, err
        assert ".vocabsafe-" not in err
    assert sorted(tmp_path.iterdir()) == before and nowhere.is_symlink() and loop.is_symlink()


@pytest.mark.parametrize(
    "command", [["vocab"], ["vocab", "show"], ["vocab", "diff"], ["vectors"], ["vectors", "align"]], ids=" ".join
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*command, "--help"])
    assert exit.value.code == 0
    assert "usage: vocabsafe " + " ".join(command) in capsys.readouterr().out


@pytest.mark.slow
def test_vocab_show_runs_as_the_console_script(tmp_path):
    path = write_lines(tmp_path / "vocab.txt", BERT)
    result = run_vocabsafe("vocab", "show", path, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["size"] == len(BERT)
    assert result.stderr == ""


# Output paths that must not be replaced ---------------------------------------------------------------------------


def test_vocab_build_refuses_a_corpus_named_through_a_link_as_its_output(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat\nthe dog\n", encoding="utf-8")
    link = tmp_path / "corpus_link.txt"
    link.symlink_to(corpus)
    for given, out in ((link, corpus), (corpus, link)):
        code, _, err = run(capsys, "vocab", "build", given, "-o", out, "--overwrite")
        assert code == 2 and "is one of the corpus files" in err
        assert corpus.read_text(encoding="utf-8") == "the cat sat\nthe dog\n" and link.is_symlink()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--budget", "0", "expected 1 or more (or 'none' for no bound), got 0"),
        ("--budget", "many", "expected a whole number (or 'none' for no bound), got 'many'"),
    ],
)
def test_vocab_build_refuses_a_count_that_is_not_a_whole_number_in_range(tmp_path, capsys, option, value, message):
    corpus = write_lines(tmp_path / "corpus.txt", ["the cat"])
    with pytest.raises(SystemExit) as exited:  # argparse's own exit, usage first
        main(["vocab", "build", str(corpus), "-o", str(tmp_path / "vocab.json"), option, value])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == "" and f"argument {option}: {message}" in err, err
    assert not (tmp_path / "vocab.json").exists()


@pytest.mark.parametrize("command", ["vocab", "vectors"])
def test_overwrite_refuses_a_path_that_is_not_a_regular_file(tmp_path, capsys, command):
    corpus = write_lines(tmp_path / "corpus.txt", ["the cat", "the dog"])
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    if command == "vocab":
        args = ["vocab", "build", corpus, "-o", fifo, "--overwrite"]
    else:
        vocab = write_lines(tmp_path / "v.txt", ["the"])
        args = ["vectors", "align", glove_file(tmp_path), "--vocab", vocab, "-o", fifo, "--overwrite"]
    code, _, err = run(capsys, *args)
    assert code == 2 and "not a regular file" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # Still the FIFO, not replaced by a file.


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_standard_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, json_flag):
    vocabulary = write_lines(tmp_path / "vocab.txt", ["a", "b", "c"])
    # A device that refuses every write (ENOSPC), as a full disk behind `> out.json` does.
    script = shutil.which("vocabsafe", path=os.path.dirname(sys.executable))
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [script, "vocab", "show", str(vocabulary), *json_flag],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert "cannot write to standard output: No space left on device" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1
