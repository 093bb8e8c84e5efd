"""`vocabsafe vectors align VECTORS --vocab VOCAB -o OUT`: pretrained vectors in a vocabulary's row order.

Uses `keras_vocabsafe.align_vectors` (the file is streamed; only the vocabulary's rows are kept) and the row
rules of `VocabEmbedding.load_pretrained`, then writes the matrix as a `.npy`, atomically.

Row layouts (`--rows`):

- `layer` (default): the rows a `VocabEmbedding(vocabulary=VOCAB)` with its default special tokens (no mask,
  one OOV row, OOV token `[UNK]`) has. When the vocabulary lists `[UNK]` itself (a BERT vocab.txt), every token
  keeps its file id and the matrix has one row per token, `[UNK]`'s row being the OOV row; otherwise row 0 is
  the OOV row and token `i` of the file is row `i + 1` (Keras's `StringLookup` layout).
- `vocabulary`: exactly one row per token, row `i` for the file's token `i`, no OOV row.
"""

from __future__ import annotations

import argparse
from typing import Any

from keras_vocabsafe.cli._output import (
    EXIT_OK,
    EXIT_PROBLEMS,
    CommandError,
    Output,
    atomic_file,
    check_output_path,
    same_file,
    whole_number,
)

_OOV_TOKEN = b"[UNK]"


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "vectors", help="align pretrained vectors to a vocabulary", description="Work with pretrained vector files."
    )
    commands = parser.add_subparsers(dest="vectors_command", metavar="SUBCOMMAND", required=True)
    align = commands.add_parser(
        "align",
        parents=[common],
        help="write the vectors of a vocabulary's tokens, in its row order, as a .npy",
        description=(
            "Find each vocabulary token's vector in a GloVe, word2vec or fastText file (streamed: memory stays "
            "near the output's size), write the matrix as a .npy atomically, and print the coverage report "
            "(weighted by the vocabulary's counts when it has some, e.g. a TensorFlow Transform frequency file). "
            "Exit 0 on success, 1 when coverage is below --min-coverage, 2 on usage or input errors."
        ),
        epilog=(
            "Row layouts: 'layer' (default) matches VocabEmbedding(vocabulary=VOCAB) with default special tokens: "
            "if VOCAB lists [UNK] (BERT vocab.txt) one row per token at its file id, [UNK]'s row being the OOV "
            "row; else row 0 is the OOV row and token i is row i + 1. 'vocabulary': one row per token, no OOV row."
        ),
    )
    align.add_argument("vectors", metavar="VECTORS", help="GloVe, word2vec (text or binary), fastText .vec, or .npy")
    align.add_argument(
        "--vocab", required=True, metavar="VOCAB", help="the vocabulary file (any format `vocab show` reads)"
    )
    align.add_argument("-o", "--output", required=True, metavar="OUT", help="the .npy file to write")
    align.add_argument(
        "--match",
        default="exact",
        metavar="RULES",
        help="comma-separated match rules, from exact,lower (default exact)",
    )
    from keras_vocabsafe.evolve import ROW_INITIALIZERS as initializers

    align.add_argument(
        "--missing-initializer",
        choices=initializers,
        default="mean_std",
        help="rows of tokens without a vector (default mean_std: a normal with the found rows' mean and deviation)",
    )
    align.add_argument(
        "--oov-initializer", choices=initializers, default="mean", help="the OOV row (layout 'layer'; default mean)"
    )
    align.add_argument("--seed", type=_seed, default=None, help="seed of the mean_std and mean_cov rows (0 or more)")
    align.add_argument("--rows", choices=("layer", "vocabulary"), default="layer", help="row layout (see below)")
    align.add_argument(
        "--format",
        choices=("auto", "glove", "word2vec", "fasttext", "word2vec_binary", "npy"),
        default="auto",
        help="vectors file format (default: detected)",
    )
    align.add_argument("--tokens", metavar="FILE", help="for a .npy VECTORS: the vocabulary file naming its rows")
    align.add_argument(
        "--vocab-format",
        choices=("auto", "json", "text", "tft_frequency", "tokenizer_json"),
        default="auto",
        help="format of VOCAB (default: detected)",
    )
    align.add_argument(
        "--min-coverage", type=_share, default=None, metavar="X", help="exit 1 if less than this share (0-1) is found"
    )
    align.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    align.set_defaults(run=run_align)


def _seed(text: str) -> int:
    return whole_number(text, " (NumPy seeds are non-negative)")


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value}")
    return value


def run_align(args: argparse.Namespace, output: Output) -> int:
    import numpy as np

    from keras_vocabsafe.evolve import _initial_rows
    from keras_vocabsafe.pretrained import MATCH_RULES, align_vectors
    from keras_vocabsafe.vocabulary import Vocabulary

    match = tuple(rule.strip() for rule in args.match.split(",") if rule.strip())
    unknown = [rule for rule in match if rule not in MATCH_RULES]
    if unknown or not match:
        raise CommandError(f"--match takes rules from {','.join(MATCH_RULES)}; received {args.match!r}.")
    out = check_output_path(args.output, overwrite=args.overwrite)
    # Through a symlink or a hard link too: the matrix must never replace the file it is read from.
    if any(same_file(out, source) for source in (args.vectors, args.vocab, args.tokens) if source is not None):
        raise CommandError(f"-o {out} is one of the inputs; choose another path.")
    vocabulary = Vocabulary.load(args.vocab, format=args.vocab_format)
    if not len(vocabulary):
        raise CommandError(f"{args.vocab} holds no tokens.")
    aligned = align_vectors(args.vectors, vocabulary, match=match, format=args.format, tokens=args.tokens, verbose=0)
    found = aligned.found
    if not found.any():
        raise CommandError(
            f"none of the {len(vocabulary):,} tokens of {args.vocab} has a vector in {args.vectors}; check that the "
            "file matches the vocabulary's tokenization, or pass --match exact,lower."
        )
    oov_seed = None if args.seed is None else args.seed + 1

    def initial_rows(initializer: str, count: int, seed: int | None, option: str) -> np.ndarray:
        # The rules of `load_pretrained`, from the rows found; named rules never read tokens, so none are passed.
        return _initial_rows(initializer, [None] * count, aligned.vectors, argument=option, where=found, seed=seed)

    missing_rows = initial_rows(args.missing_initializer, int((~found).sum()), args.seed, "--missing-initializer")
    rows = aligned.vectors.copy()
    rows[~found] = missing_rows
    layout, oov_ids = _layout(vocabulary, args.rows)
    if layout == "oov_first":
        oov_row = initial_rows(args.oov_initializer, 1, oov_seed, "--oov-initializer")
        matrix = np.concatenate([oov_row, rows])
    else:
        matrix = rows
        if oov_ids:
            matrix[oov_ids] = initial_rows(args.oov_initializer, len(oov_ids), oov_seed, "--oov-initializer")
    with atomic_file(out, suffix=".npy") as temporary:
        np.save(temporary, matrix)
    report = aligned.report
    below = args.min_coverage is not None and report.coverage < args.min_coverage
    described = {
        "oov_first": "row 0 is the OOV row, token i is row i + 1",
        "listed": f"one row per token at its file id; {_OOV_TOKEN.decode()} (id {oov_ids[0] if oov_ids else '-'}) "
        "is the OOV row",
        "tokens": "one row per token at its file id, no OOV row",
    }[layout]
    missing = int((~found).sum())
    oov_rows = [0] if layout == "oov_first" else oov_ids
    data: dict[str, Any] = {
        "output": out,
        "shape": list(matrix.shape),
        "rows": args.rows,
        "layout": described,
        "oov_rows": oov_rows,
        "missing_initializer": args.missing_initializer,
        "oov_initializer": args.oov_initializer if oov_rows else None,
        "report": report.to_dict(),
        "min_coverage": args.min_coverage,
        "below_min_coverage": below,
    }
    text = [str(report), f"wrote {out}: {matrix.shape[0]:,} x {matrix.shape[1]} float32 ({described})"]
    # How the rows without a vector were made: the user should not have to know the defaults.
    made = [f"{missing:,} token(s) without a vector: {args.missing_initializer}"] if missing else []
    if oov_rows:
        made.append(f"OOV row: {args.oov_initializer}")
    if made:
        text.append(f"rows made from the found vectors ({'; '.join(made)})")
    if below:
        text.append(f"coverage {report.coverage:.2%} is below --min-coverage {args.min_coverage:.2%}")
    output.emit("\n".join(text), data)
    return EXIT_PROBLEMS if below else EXIT_OK


def _layout(vocabulary: Any, rows: str) -> tuple[str, list[int]]:
    """The row layout and the OOV rows' ids within the tokens' rows."""
    if rows == "vocabulary":
        return "tokens", []
    if _OOV_TOKEN in vocabulary:
        return "listed", [vocabulary.index(_OOV_TOKEN)]
    return "oov_first", []
