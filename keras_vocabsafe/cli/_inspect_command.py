"""`vocabsafe inspect`: check a saved model's lookups against its embeddings, without running it."""

from __future__ import annotations

import argparse
import os

from keras_vocabsafe.cli._output import EXIT_OK, CommandError, Output

_DESCRIPTION = """\
Check every vocabulary lookup of a model against the embedding its ids index: VocabEmbedding layers, and
Keras StringLookup / IntegerLookup / TextVectorization layers feeding an Embedding (directly or through
layers that keep indices, such as Reshape or Flatten). Reports ids that exceed the embedding's rows
(error), rows no id reaches (warning), mask_zero disagreements, vocabularies Keras cannot reload, and
weights trained for another vocabulary. A .keras file is read without being deserialized: no code from
it runs and no data goes through the model. A SavedModel directory (model.export, tf.saved_model.save,
export_for_serving; a serving base directory with one version) is read from its graph: each lookup table's
ids are followed to the embedding variable they gather from.

Exit codes: 0 nothing found (or notes only), 1 an error or warning found (see --fail-on), 2 usage or
input error.
"""

_EPILOG = """\
examples:
  vocabsafe inspect model.keras
  vocabsafe inspect export.keras --weights training.weights.h5
  vocabsafe inspect training.weights.h5 --model export.keras
  vocabsafe inspect model.keras --vocabulary train_vocab.txt --layer string_lookup
  vocabsafe inspect saved_model_dir/ --json
"""


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "inspect",
        parents=[common],
        help="find vocabulary/embedding mismatches in a saved model",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a .keras file, a SavedModel directory, or a .weights.h5 file")
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="a .weights.h5 file (or a sharded .weights.json index) to check against MODEL's architecture",
    )
    parser.add_argument(
        "--model",
        dest="model_file",
        metavar="FILE",
        help="the .keras file whose architecture a MODEL.weights.h5 belongs to",
    )
    parser.add_argument(
        "--vocabulary",
        metavar="FILE",
        help="the vocabulary the model was trained with (Vocabulary.save JSON, or one token per line, as "
        "get_vocabulary() gives it); tokens whose id differs in the model are errors",
    )
    parser.add_argument("--layer", metavar="NAME", help="the lookup --vocabulary belongs to (if the model has several)")
    parser.add_argument(
        "--fail-on",
        choices=("warning", "error"),
        default="warning",
        help="the least severe finding that makes the exit code 1 (default: warning)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, output: Output) -> int:
    model, weights = args.model, args.weights
    if args.model_file is not None:
        if weights is not None:
            raise CommandError("pass either --model (with MODEL a weights file) or --weights, not both.")
        model, weights = args.model_file, args.model
    if args.layer is not None and args.vocabulary is None:
        raise CommandError("--layer names the lookup --vocabulary belongs to; pass --vocabulary too.")
    if args.vocabulary is not None:
        _check_vocabulary_path(args.vocabulary)

    from keras_vocabsafe.inspection import inspect_model

    report = inspect_model(
        model,
        weights=weights,
        vocabulary=args.vocabulary,
        layer=args.layer,
        progress=output.progress,
    )
    output.emit(str(report), report.to_dict())
    return report.exit_code(args.fail_on) or EXIT_OK


def _check_vocabulary_path(path: str) -> None:
    """Refuses, before the model is read, a --vocabulary that is missing or a directory. A pipe (`<(...)`) is
    taken: the vocabulary is read once, from start to end."""
    if os.path.isdir(path):
        raise CommandError(
            f"--vocabulary {path} is a directory; pass a vocabulary file (Vocabulary.save JSON, or one token per "
            "line, as get_vocabulary() gives it), e.g. one inside it."
        )
    if not os.path.exists(path):
        raise CommandError(f"--vocabulary {path}: no such file.")
