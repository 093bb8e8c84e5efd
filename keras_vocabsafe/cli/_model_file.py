"""The `.keras` file a command loads (`convert`, `export`): checked before Keras reads it, then loaded, so that
each way it can be wrong is one line naming the file and the fix instead of an error from deep in Keras."""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from typing import Any

from keras_vocabsafe._inspect_messages import json_type
from keras_vocabsafe.cli._output import CommandError

__all__ = ["UNSAFE_HELP", "check_model_file", "load_model"]

# The help of `--unsafe`, which every command that loads a .keras file takes (passed to `load_model`).
UNSAFE_HELP = (
    "load MODEL with Keras's safe mode off (needed for Lambda layers; runs code from the file: trusted files only)"
)

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The models whose config lists their layers (the shape of these is checked through nested models).
_MODEL_CLASSES = ("Functional", "Sequential")


def check_model_file(model: str, command: str, *, directory_hint: str) -> None:
    """Raises `CommandError` unless `model` is a readable, undamaged `.keras` file whose config describes a model.

    `command` names the command in messages (`vocabsafe convert`); `directory_hint` says what to do with a
    directory (a SavedModel, which the command does not read).
    """
    if not os.path.exists(model):
        raise CommandError(f"{model}: no such file.")
    if os.path.isdir(model):
        raise CommandError(f"{model} is a directory; `{command}` reads a .keras file ({directory_hint}).")
    if not os.path.isfile(model):
        raise CommandError(
            f"{model} is not a regular file (a pipe, such as `<(...)`, or a device); a .keras file is a zip archive, "
            "read by seeking. Write it to a file first."
        )
    try:
        with open(model, "rb") as file:
            if file.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                raise CommandError(
                    f"{model} is an HDF5 file (Keras's legacy .h5 format); `{command}` reads .keras files. Load it "
                    f"in Python with keras.saving.load_model({model!r}) and save it with model.save('model.keras') "
                    "first."
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
            f"{model}: config.json is not JSON ({shorten(reason, 200)}); the file is truncated or damaged. Save the "
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


def load_model(path: str, *, unsafe: bool, in_python: str, shown_as: str | None = None) -> Any:
    """`keras.saving.load_model(path)` without compiling, or a `CommandError` that says what to do.

    `in_python` is the Python call that does the command's work on a model loaded in Python (named where the
    file needs a custom class this process lacks); `shown_as` names the file in messages, for a temporary file.
    """
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
                f"{shown} uses {what}, which is not registered in this process, so it cannot be loaded. Call "
                f"{in_python} in Python after importing the module that defines it."
            ) from error
        if "Expected a model.weights.h5 or model.weights.npz file" in message:
            raise CommandError(
                f"{shown} is damaged: it holds no weights (no model.weights.h5 member). Save the model again with "
                "model.save('model.keras')."
            ) from error
        # Keras wraps a layer's own load error ("A total of 1 objects could not be loaded. Example error message
        # for object <VocabEmbedding ...>: ..."): the layer's message is the one that says what to do.
        layer_error = re.search(r"Example error message for object <[^>]*>: (.*)", message)
        if layer_error:
            raise CommandError(f"{shown} could not be loaded: {shorten(layer_error.group(1), 600)}") from error
        raise CommandError(f"{shown} could not be loaded as a Keras model: {shorten(message)}") from error


def shorten(message: str, limit: int = 300) -> str:
    """`message` cut to `limit` characters, with "..." where it was cut."""
    return message if len(message) <= limit else message[: limit - 3] + "..."
