"""`vocabsafe convert MODEL OUT`: replace each lookup + Embedding pair of a saved model with one VocabEmbedding.

The logic is `keras_vocabsafe.convert.convert_model`; this module loads, reports and writes. The output is
written beside OUT and renamed into place only after it has been loaded back and checked to predict what
MODEL does, so OUT is either the complete converted model or untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import warnings
import zipfile
from typing import Any

from keras_vocabsafe._inspect_messages import json_type
from keras_vocabsafe.cli._output import EXIT_OK, EXIT_PROBLEMS, CommandError, Output, atomic_file, check_output_path

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The models whose config lists their layers (`convert` rebuilds only these).
_MODEL_CLASSES = ("Functional", "Sequential")

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
        help="load MODEL with Keras's safe mode off (needed for Lambda layers; runs code from the file: trusted "
        "files only)",
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
    if not os.path.exists(model):
        raise CommandError(f"{model}: no such file.")
    if os.path.isdir(model):
        raise CommandError(
            f"{model} is a directory; `vocabsafe convert` reads a .keras file (SavedModel directories cannot be "
            "converted: load the model in Python and save it with model.save('model.keras') first)."
        )
    if not os.path.isfile(model):
        raise CommandError(
            f"{model} is not a regular file (a pipe, such as `<(...)`, or a device); a .keras file is a zip archive, "
            "read by seeking. Write it to a file first."
        )
    try:
        with open(model, "rb") as file:
            if file.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                raise CommandError(
                    f"{model} is an HDF5 file (Keras's legacy .h5 format); `vocabsafe convert` reads .keras files. "
                    f"Load it in Python with keras.saving.load_model({model!r}) and save it with "
                    "model.save('model.keras') first."
                )
        with zipfile.ZipFile(model) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
            config = archive.read("config.json") if broken is None and "config.json" in names else None
    except zipfile.BadZipFile:
        raise CommandError(
            f"{model} is not a .keras file (not a zip archive, or a truncated one). Pass a model saved with "
            "model.save('model.keras')."
        ) from None
    except OSError as error:
        raise CommandError(f"{model}: cannot read it ({error.strerror or error}).") from None
    if broken is not None:
        raise CommandError(f"{model} is damaged: its member {broken!r} fails its checksum. Save the model again.")
    if config is None:
        raise CommandError(f"{model} is a zip archive but not a .keras file: it holds no config.json.")
    _check_config(model, config)
    if not out.endswith(".keras"):
        raise CommandError(f"OUT must end in .keras (Keras saves models only under that name). Received: {out}")
    if (os.path.exists(out) and os.path.samefile(model, out)) or os.path.abspath(model) == os.path.abspath(out):
        raise CommandError(f"OUT is MODEL ({out}); write the converted model to another path.")
    return model, check_output_path(out, overwrite=overwrite, example="converted.keras")


def _check_config(model: str, data: bytes) -> None:
    """Raises `CommandError` naming the member if a .keras file's config.json is not JSON that describes a model.

    Keras reports either case with an error from deep in its loader ("Expecting value: line 1 column 1", "list
    indices must be integers", or a custom class it cannot find) that names neither the file nor the member.
    """
    try:
        config = json.loads(data)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors.
        reason = " ".join(str(error).split()) or type(error).__name__
        raise CommandError(
            f"{model}: config.json is not JSON ({_short(reason, 200)}); the file is truncated or damaged. Save the "
            "model again with model.save('model.keras')."
        ) from None
    problem = _config_problem(config, "the model")
    if problem is not None:
        raise CommandError(
            f"{model}: config.json does not describe a Keras model: {problem}; the file is damaged. Save the model "
            "again with model.save('model.keras')."
        )


def _config_problem(config: Any, where: str) -> str | None:
    """What keeps `config` (a model's or a layer's serialized form) from being one Keras can load, or `None`.

    Checks the shape only, through the layer lists of nested functional and Sequential models: what each layer's
    config holds is for Keras (and the layer) to check.
    """
    if not isinstance(config, dict):
        return f"{where} is {json_type(config)}, not an object with 'class_name' and 'config'"
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        return f"{where} has no 'class_name' string"
    if not isinstance(config.get("config"), dict):
        given = "missing" if "config" not in config else json_type(config["config"])
        return f"the 'config' of {where} ({class_name}) is {given}, not an object"
    if class_name not in _MODEL_CLASSES:
        return None
    name = config["config"].get("name")
    owner = f"{class_name} {name!r}" if isinstance(name, str) else class_name
    layers = config["config"].get("layers")
    if not isinstance(layers, list):
        given = "missing" if "layers" not in config["config"] else json_type(layers)
        return f"the 'layers' of {owner} is {given}, not a list"
    for index, layer in enumerate(layers):
        problem = _config_problem(layer, f"layer {index} of {owner}")
        if problem is not None:
            return problem
    return None


def _load(path: str, *, unsafe: bool, shown_as: str | None = None) -> Any:
    import keras

    import keras_vocabsafe  # noqa: F401 (registers the package's layers, which a converted model holds)

    shown = shown_as or path
    try:
        # A failed load makes Keras 3.15 warn about "nested containers" as it retries the failed layer elsewhere;
        # the error says what went wrong in one line, so warnings of a failed load are dropped, and of a load that
        # worked, shown.
        with warnings.catch_warnings(record=True) as caught:
            model = keras.saving.load_model(path, safe_mode=not unsafe, compile=False)
        for warning in caught:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        return model
    except Exception as error:
        message = " ".join(str(error).split())
        if "safe_mode" in message or ("Lambda" in message and "unsafe" in message.lower()):
            raise CommandError(
                f"{shown} holds a Lambda layer (Python code), which Keras's safe mode refuses to load. If you trust "
                "the file, rerun with --unsafe."
            ) from error
        missing = re.search(r"Could not locate (?:class|function) '([^']+)'", message)
        if missing or "Unknown layer" in message:
            what = f"the custom class {missing.group(1)!r}" if missing else "a custom class"
            raise CommandError(
                f"{shown} uses {what}, which is not registered in this process, so it cannot be loaded. Convert it "
                "in Python with keras_vocabsafe.convert_model after importing the module that defines it."
            ) from error
        # Keras wraps a layer's own load error ("A total of 1 objects could not be loaded. Example error message
        # for object <VocabEmbedding ...>: ..."): the layer's message is the one that says what to do.
        layer_error = re.search(r"Example error message for object <[^>]*>: (.*)", message)
        if layer_error:
            raise CommandError(f"{shown} could not be loaded: {_short(layer_error.group(1), 600)}") from error
        raise CommandError(f"{shown} could not be loaded as a Keras model: {_short(message)}") from error


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


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
