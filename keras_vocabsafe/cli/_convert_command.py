"""`vocabsafe convert MODEL OUT`: replace each lookup + Embedding pair of a saved model with one VocabEmbedding.

The logic is `keras_vocabsafe.convert.convert_model`; this module loads, reports and writes. The output is
written beside OUT and renamed into place only after it has been loaded back and checked to predict what
MODEL does, so OUT is either the complete converted model or untouched.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from keras_vocabsafe.cli._model_file import UNSAFE_HELP, check_model_file, load_model
from keras_vocabsafe.cli._output import EXIT_OK, EXIT_PROBLEMS, CommandError, Output, atomic_file, check_output_path

_DESCRIPTION = """\
Replace each StringLookup/IntegerLookup + Embedding pair of a saved functional or Sequential model with one
VocabEmbedding holding the same vocabulary, ids and trained rows, so that the converted model predicts
identically (checked on a probe batch built from the vocabulary before anything is written). The new layer
keeps the Embedding's name. Pairs that cannot be converted exactly (a shared Embedding, a mask disagreement,
fewer rows than ids, TextVectorization, ...) are listed with the reason, and nothing is written unless
--skip-unconvertible is given.

exit codes: 0 converted and written; 1 nothing written: a pair cannot be converted exactly, or there is nothing
to convert; 2 usage or input error (missing, unreadable or not a .keras file; OUT exists without --overwrite)."""


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "convert",
        parents=[common],
        help="replace lookup + Embedding pairs of a .keras model with VocabEmbedding (identical predictions)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the .keras file to convert (read only)")
    parser.add_argument("out", metavar="OUT", help="where to write the converted model (a path ending in .keras)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument(
        "--skip-unconvertible",
        action="store_true",
        help="convert the pairs that can be converted exactly and leave (and list) the others",
    )
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help=UNSAFE_HELP,
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, output: Output) -> int:
    model_path, out_path = _check_paths(args.model, args.out, overwrite=args.overwrite)
    from keras_vocabsafe.convert import convert_model
    from keras_vocabsafe.errors import ConversionError

    model = _load(model_path, unsafe=args.unsafe)
    progress = output.progress(None, "Converting")
    try:
        result = convert_model(
            model,
            skip_unconvertible=args.skip_unconvertible,
            progress=lambda done, total: _step(progress, done, total),
        )
    except ConversionError as error:
        progress.close()
        return _report_refusal(output, model_path, error, skipping=args.skip_unconvertible)
    progress.close()
    with atomic_file(out_path, suffix=".keras") as temporary:
        result.model.save(temporary)
        # Check what was written, not only what is in memory: the file must load in safe mode and predict the same.
        result.verify(_load(temporary, unsafe=args.unsafe, shown_as=out_path))
    data = {"model": model_path, "output": out_path, "written": True, **result.to_json()}
    text = f"Wrote {out_path}\n{result}"
    output.emit(text, data)
    return EXIT_OK


def _step(progress: Any, done: int, total: int) -> None:
    progress.total = total
    progress.update(done - progress.done)


def _check_paths(model: str, out: str, *, overwrite: bool) -> tuple[str, str]:
    check_model_file(
        model,
        "vocabsafe convert",
        directory_hint="SavedModel directories cannot be converted: load the model in Python and save it with "
        "model.save('model.keras') first",
    )
    if not out.endswith(".keras"):
        raise CommandError(f"OUT must end in .keras (Keras saves models only under that name). Received: {out}")
    if (os.path.exists(out) and os.path.samefile(model, out)) or os.path.abspath(model) == os.path.abspath(out):
        raise CommandError(f"OUT is MODEL ({out}); write the converted model to another path.")
    return model, check_output_path(out, overwrite=overwrite, example="converted.keras")


def _load(path: str, *, unsafe: bool, shown_as: str | None = None) -> Any:
    return load_model(path, unsafe=unsafe, in_python="keras_vocabsafe.convert_model(model)", shown_as=shown_as)


def _report_refusal(output: Output, model_path: str, error: Any, *, skipping: bool) -> int:
    refusals = list(getattr(error, "refusals", []))
    if refusals:
        lines = [f"Cannot convert {model_path} exactly; nothing was written. {len(refusals)} problem(s):"]
        lines += [f"  {refusal}" for refusal in refusals]
        if not skipping:
            lines.append("Pass --skip-unconvertible to convert the other pairs and leave these as they are.")
    else:
        lines = [f"Nothing written: {error}"]
    data = {
        "model": model_path,
        "written": False,
        "error": str(error),
        "refusals": [refusal.to_json() for refusal in refusals],
    }
    output.emit("\n".join(lines), data)
    return EXIT_PROBLEMS
