"""`vocabsafe vocab show VOCAB` and `vocabsafe vocab diff A B`: read vocabulary files the way a layer will.

The logic lives in `keras_vocabsafe.vocabulary` (`Vocabulary.load`, `Vocabulary.diff`, `Vocabulary.fingerprint`);
this module only formats it.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from keras_vocabsafe.cli._output import EXIT_OK, EXIT_PROBLEMS, Output

_FORMATS = ("auto", "json", "text", "tft_frequency", "tokenizer_json")
_SPECIALS_SHOWN = 20


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "vocab",
        help="show a vocabulary file, or compare two",
        description=(
            "Read vocabulary files as keras-vocabsafe reads them: our JSON, one token per line (BERT / keras-hub "
            "vocab.txt, Keras lookup files), TensorFlow Transform files with frequencies, Hugging Face "
            "tokenizer.json. Every token keeps its file's id."
        ),
    )
    commands = parser.add_subparsers(dest="vocab_command", metavar="SUBCOMMAND", required=True)

    show = commands.add_parser(
        "show",
        parents=[common],
        help="format, size, counts, first tokens, special tokens, fingerprint",
        description=(
            "Print what a vocabulary file holds: the format detected, dtype, size, counts (if any), the first "
            "tokens with their ids, the tokens that look special with their ids, the tokens Keras's lookup "
            "layers could not reload from a text file, and a fingerprint. Exit 0 when fine, 1 when some tokens "
            "cannot be reloaded by Keras from a text file, 2 when the file is not a vocabulary (missing, "
            "unreadable, a token listed twice, ...)."
        ),
    )
    show.add_argument("vocab", metavar="VOCAB", help="the vocabulary file")
    _add_reading_options(show)
    show.add_argument("--head", type=_non_negative, default=10, metavar="N", help="first tokens to list (default 10)")
    show.set_defaults(run=run_show)

    diff = commands.add_parser(
        "diff",
        parents=[common],
        help="added, removed and moved tokens between two vocabularies",
        description=(
            "Compare vocabulary A (the one a model was trained with) to B: sizes, added, removed and moved "
            "tokens (old id -> new id), and which rows a model trained on A would lose or misread with B. "
            "Exit 0 when identical, 1 when they differ, 2 on input errors."
        ),
    )
    diff.add_argument("old", metavar="A", help="the vocabulary the model was trained with")
    diff.add_argument("new", metavar="B", help="the vocabulary to compare it to")
    _add_reading_options(diff)
    diff.add_argument("--examples", type=_non_negative, default=10, metavar="N", help="tokens listed per kind")
    diff.set_defaults(run=run_diff)


def _add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=_FORMATS, default="auto", help="file format (default: detected from the content)"
    )
    parser.add_argument("--dtype", choices=("string", "int64"), default="string", help="token type of text files")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def run_show(args: argparse.Namespace, output: Output) -> int:
    from keras_vocabsafe._vocabulary_files import keras_text_file_problems, special_looking_tokens
    from keras_vocabsafe.vocabulary import Vocabulary, display_token, json_token

    vocabulary = Vocabulary.load(args.vocab, dtype=args.dtype, format=args.format)
    specials = special_looking_tokens(vocabulary.tokens)
    problems = keras_text_file_problems(vocabulary.tokens)
    counts = vocabulary.counts
    counts_summary = None
    if counts is not None:
        counts_summary = {
            "total": int(counts.sum()),
            "min": int(counts.min()) if len(counts) else None,
            "max": int(counts.max()) if len(counts) else None,
        }
    data: dict[str, Any] = {
        "path": os.fspath(args.vocab),
        "format": vocabulary.source_format,
        "dtype": vocabulary.dtype,
        "size": len(vocabulary),
        "fingerprint": vocabulary.fingerprint(),
        "counts": counts_summary,
        "head": [_entry(vocabulary, i, json_token) for i in range(min(args.head, len(vocabulary)))],
        "special_tokens": [_entry(vocabulary, i, json_token) for i in specials],
        "keras_text_file_problems": [
            {**_entry(vocabulary, i, json_token), "problem": problem} for i, problem in problems
        ],
    }
    lines = [
        f"{args.vocab}: {vocabulary.source_format}, {vocabulary.dtype}, {len(vocabulary):,} tokens",
        f"fingerprint: {data['fingerprint']}",
    ]
    if counts_summary is not None:
        lines.append(
            f"counts: {counts_summary['total']:,} occurrences, from {counts_summary['min']:,} to "
            f"{counts_summary['max']:,} per token"
        )
    if data["head"]:
        lines.append(f"first {len(data['head'])} tokens (id, token{', count' if counts is not None else ''}):")
        for i in range(len(data["head"])):
            count = f"  {int(counts[i]):,}" if counts is not None else ""
            lines.append(f"  {i:>8}  {display_token(vocabulary[i])}{count}")
    if specials:
        lines.append(f"{len(specials):,} tokens look special; each keeps its id (its position in the file):")
        shown = ", ".join(f"{display_token(vocabulary[i])} {i}" for i in specials[:_SPECIALS_SHOWN])
        lines.append(f"  {shown}{', ...' if len(specials) > _SPECIALS_SHOWN else ''}")
        lines.append(
            "  (keras.layers.StringLookup(vocabulary=FILE) would instead put its own OOV row at id 0 and give "
            "line i the id i + 1)"
        )
    if problems:
        lines.append(f"{len(problems):,} tokens Keras's lookup layers cannot reload from a text file:")
        for i, problem in problems[:10]:
            lines.append(f"  {i:>8}  {display_token(vocabulary[i])} {problem}")
        lines.append(
            "  Keep this vocabulary in keras-vocabsafe's JSON form (`Vocabulary.save(path)`), which holds any token."
        )
    else:
        lines.append("Keras's lookup layers can reload every token from a text file.")
    output.emit("\n".join(lines), data)
    return EXIT_PROBLEMS if problems else EXIT_OK


def _entry(vocabulary: Any, position: int, json_token: Any) -> dict[str, Any]:
    entry = {"id": position, "token": json_token(vocabulary[position])}
    if vocabulary.counts is not None:
        entry["count"] = int(vocabulary.counts[position])
    return entry


def run_diff(args: argparse.Namespace, output: Output) -> int:
    from keras_vocabsafe.vocabulary import Vocabulary

    old = Vocabulary.load(args.old, dtype=args.dtype, format=args.format)
    new = Vocabulary.load(args.new, dtype=args.dtype, format=args.format)
    difference = old.diff(new)
    data = {"a": os.fspath(args.old), "b": os.fspath(args.new), **difference.to_dict(examples=args.examples)}
    text = f"A: {args.old} ({old.source_format})\nB: {args.new} ({new.source_format})\n{difference}"
    output.emit(text, data)
    return EXIT_OK if difference.identical else EXIT_PROBLEMS
