"""`vocabsafe vocab show VOCAB` and `vocabsafe vocab diff A B`: read vocabulary files the way a layer will.

The logic lives in `keras_vocabsafe.vocabulary` (`Vocabulary.load`, `Vocabulary.diff`, `Vocabulary.fingerprint`);
this module only formats it.
"""

from __future__ import annotations

import argparse
import os
import warnings
from typing import TYPE_CHECKING, Any, cast

from keras_vocabsafe.cli._output import EXIT_OK, EXIT_PROBLEMS, CommandError, Output, whole_number

if TYPE_CHECKING:
    import numpy as np

_FORMATS = ("auto", "json", "text", "tft_frequency", "tokenizer_json")
_SPECIALS_SHOWN = 20


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "vocab",
        help="show, compare or build vocabulary files",
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
    show.add_argument("--head", type=whole_number, default=10, metavar="N", help="first tokens to list (default 10)")
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
    diff.add_argument(
        "--examples", type=whole_number, default=10, metavar="N", help="tokens listed per kind (default 10)"
    )
    diff.set_defaults(run=run_diff)

    build = commands.add_parser(
        "build",
        parents=[common],
        help="count the tokens of text files into a vocabulary with counts",
        description=(
            "Count the tokens of text files (plain, gzip or bz2; one document per line, or one key per line with "
            "--keys) exactly as a layer's adapt() counts them, with memory bounded by --budget, and write the "
            "vocabulary with its counts as keras-vocabsafe JSON (any token kept intact). Build the layer that "
            "uses it with the same options: VocabEmbedding(vocabulary=OUT, ...) or TextVocabEmbedding(...)."
        ),
        epilog="example: vocabsafe vocab build corpus/*.txt.gz -o vocab.json --max-tokens 50000 --standardize lower",
    )
    build.add_argument("corpus", metavar="CORPUS", nargs="+", help="text files (plain, .gz or .bz2)")
    build.add_argument("-o", "--output", required=True, metavar="VOCAB", help="the vocabulary file to write (JSON)")
    build.add_argument("--overwrite", action="store_true", help="replace VOCAB if it exists")
    build.add_argument("--keys", action="store_true", help="each line is one key, kept byte for byte (no tokenizing)")
    build.add_argument("--max-tokens", type=int, metavar="N", help="the layer's max_tokens (counts special slots)")
    build.add_argument("--min-frequency", type=int, metavar="N", help="drop tokens seen fewer times")
    build.add_argument(
        "--budget",
        type=_budget,
        default="default",
        metavar="N",
        help="most distinct tokens counted at once (default 1048576; 'none' for no bound)",
    )
    build.add_argument("--mask-token", metavar="T", help="mask token ('' by default for text; none for --keys)")
    build.add_argument("--oov-token", metavar="T", help="OOV token (default '[UNK]')")
    text = build.add_argument_group("text options (as TextVocabEmbedding's; ignored with --keys)")
    text.add_argument("--standardize", metavar="S", help="lower_and_strip_punctuation (default), lower, none, ...")
    text.add_argument("--split", metavar="S", help="whitespace (default), character, unicode_script, regex")
    text.add_argument("--split-pattern", metavar="P", help="the pattern for --split regex")
    text.add_argument("--ngrams", type=int, metavar="N", help="all n-grams from 1 to N")
    text.add_argument("--normalization-form", metavar="F", help="NFC, NFKC, NFD or NFKD")
    text.add_argument("--encoding-errors", metavar="E", help="replace (default) or strict")
    text.add_argument("--reserved-token", action="append", metavar="T", help="a reserved token (repeatable)")
    build.set_defaults(run=run_build)


def _add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=_FORMATS, default="auto", help="file format (default: detected from the content)"
    )
    parser.add_argument("--dtype", choices=("string", "int64"), default="string", help="token type of text files")


def _budget(text: str) -> Any:
    if text in ("none", "None"):
        return None
    if text == "default":
        return text
    return whole_number(text, " (or 'none' for no bound)", minimum=1)


def run_build(args: argparse.Namespace, output: Output) -> int:
    from keras_vocabsafe._counting import DEFAULT_BUDGET
    from keras_vocabsafe._tokens import display_token, json_token
    from keras_vocabsafe.cli._output import check_output_path, same_file
    from keras_vocabsafe.corpus import vocabulary_from_files

    out = check_output_path(args.output, overwrite=args.overwrite)
    if any(same_file(out, path) for path in args.corpus):  # Through links too: --overwrite would replace the corpus.
        raise CommandError(f"{out} is one of the corpus files; write the vocabulary elsewhere.")
    settings: dict[str, Any] = {}
    options = {"max_tokens": args.max_tokens, "min_frequency": args.min_frequency, "oov_token": args.oov_token}
    if not args.keys:
        options.update(
            split=args.split,
            split_pattern=args.split_pattern,
            ngrams=args.ngrams,
            normalization_form=args.normalization_form,
            encoding_errors=args.encoding_errors,
            reserved_tokens=args.reserved_token,
        )
        if args.standardize is not None:
            settings["standardize"] = None if args.standardize.lower() == "none" else args.standardize
    settings.update({name: value for name, value in options.items() if value is not None})
    if args.mask_token is not None:
        settings["mask_token"] = None if args.mask_token.lower() == "none" else args.mask_token
    budget = DEFAULT_BUDGET if args.budget == "default" else args.budget
    with output.progress(None, "counting") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.done)

        vocabulary = vocabulary_from_files(
            args.corpus, keys=args.keys, budget=budget, progress=progress, verbose=0, **settings
        )
    vocabulary.save(out)
    counts = cast("np.ndarray", vocabulary.counts)  # vocabulary_from_files counts every token.
    head = [
        {"id_in_file": i, "token": json_token(vocabulary[i]), "count": int(counts[i])}
        for i in range(min(10, len(vocabulary)))
    ]
    lines = [
        f"wrote {out}: {len(vocabulary):,} tokens with counts ({int(counts.sum()):,} occurrences of kept tokens)",
        "most frequent: " + ", ".join(f"{display_token(vocabulary[i])} {int(counts[i]):,}" for i in range(len(head))),
        "use it with the same options: "
        + ("VocabEmbedding" if args.keys else "TextVocabEmbedding")
        + f"(vocabulary={out!r}, ...)",
    ]
    data = {"output": out, "size": len(vocabulary), "settings": settings, "budget": budget, "most_frequent": head}
    output.emit("\n".join(lines), data)
    return EXIT_OK


def run_show(args: argparse.Namespace, output: Output) -> int:
    from keras_vocabsafe._tokens import display_token, json_token
    from keras_vocabsafe._vocabulary_files import keras_text_file_problems, special_looking_tokens
    from keras_vocabsafe.vocabulary import Vocabulary

    with warnings.catch_warnings():
        # The report below names each token that ends with \r, and why Keras cannot reload it.
        warnings.filterwarnings("ignore", message=r"In the vocabulary file .* end with \\r\\n", category=UserWarning)
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
    listed = difference.to_text(examples=args.examples)
    text = f"A: {args.old} ({old.source_format})\nB: {args.new} ({new.source_format})\n{listed}"
    output.emit(text, data)
    return EXIT_OK if difference.identical else EXIT_PROBLEMS
