"""Saving whole or not at all (`save_model`, `save_weights`); loading all or nothing (`load_weights`), or by token.

`load_weights` is `model.load_weights()` that changes nothing when a `VocabEmbedding` refuses the file.

Keras loads a weights file layer by layer and, when one layer refuses its
weights, goes on loading the others and raises at the end: a
`VocabEmbedding` that refuses weights written for another vocabulary keeps
its rows, but the layers around it already hold the file's weights. This
function first visits only the `VocabEmbedding` layers (and the layers that
contain them) in check-only mode, through Keras's own loader, so that every
stored vocabulary is compared before any variable is assigned.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import keras

from keras_vocabsafe import _compat, _weights_store
from keras_vocabsafe._files import missing_directory, replace_atomically
from keras_vocabsafe._loading import CheckOnly, RemapRequest, loading_request
from keras_vocabsafe.embedding import VocabIdEmbedding
from keras_vocabsafe.errors import ConfigurationError
from keras_vocabsafe.evolve import VocabularyUpdateReport

__all__ = ["load_remapped_weights", "load_weights", "save_model", "save_weights"]


def save_model(model: keras.Model, filepath: str | os.PathLike[str], **kwargs: Any) -> None:
    """Saves like `model.save(filepath)`, but never leaves a half-written `.keras` file at `filepath`.

    Keras opens the target and writes into it: an error while saving (a
    layer that refuses, a full disk) or a `KeyboardInterrupt` leaves a
    truncated archive there, in place of any file it held before. This
    function has Keras write a file beside the target and renames it into
    place once whole, so `filepath` holds either its former file or the new
    one. Any other argument goes to `model.save()`.

    As `model.save()`: a target that is a symbolic link (even one whose
    file does not exist yet) stays a link and the file it points to gets
    the model (written beside that file); a file that already exists keeps
    its permission bits, and a new one gets those the umask gives.

    Args:
        model: the model to save.
        filepath: a path ending in `.keras`.
        **kwargs: passed to `model.save()`. With `overwrite=False`, an
            existing target is refused (Keras would ask on the console).
            `zipped=False` (a directory, not a file) is refused: it cannot
            be renamed into place whole; use `model.save()` for it.

    Raises:
        ConfigurationError: `filepath` does not end in `.keras`, its
            directory does not exist (or is a file), it exists and
            `overwrite=False`, or `zipped=False` was passed.
        OSError: no file can be created in its directory (no write
            permission, a read-only file system), naming `filepath`.
    """
    overwrite = kwargs.pop("overwrite", True)
    if kwargs.get("zipped", True) is False:
        raise ConfigurationError(
            f"Cannot save '{os.fspath(filepath)}' with `zipped=False`: that writes a directory, which cannot be "
            "renamed into place whole. Use `model.save(path, zipped=False)` for it, or drop `zipped` to save a "
            "`.keras` file."
        )
    kwargs.pop("zipped", None)  # True (or None): the zipped `.keras` file, as without it.
    _save_beside(filepath, ".keras", lambda path: model.save(path, **kwargs), overwrite=overwrite)


def save_weights(
    model: keras.Model, filepath: str | os.PathLike[str], *, overwrite: bool = True, max_shard_size: Any = None
) -> None:
    """Saves like `model.save_weights(filepath)`, but never leaves a half-written `.weights.h5` file at `filepath`.

    As `save_model`: written beside the target, then renamed into place; a
    symbolic link stays a link, its file gets the weights; file permissions
    as `model.save_weights()` leaves them. Sharded weights
    (`max_shard_size`, several files) are not written by this function: use
    `model.save_weights(path, max_shard_size=...)`.

    Args:
        model: the model whose weights to save.
        filepath: a path ending in `.weights.h5`.
        overwrite: with `False`, an existing target is refused.
        max_shard_size: refused unless `None`: sharded weights cannot be
            written whole or not at all.

    Raises:
        ConfigurationError: `filepath` does not end in `.weights.h5`, its
            directory does not exist (or is a file), it exists and
            `overwrite=False`, or `max_shard_size` was given.
        OSError: as for `save_model`.
    """
    if max_shard_size is not None:
        raise ConfigurationError(
            f"Cannot save '{os.fspath(filepath)}' with `max_shard_size`: sharded weights are an index and several "
            "shard files, which cannot be renamed into place at once. Use "
            "`model.save_weights(path, max_shard_size=...)` for them, or drop `max_shard_size` to write one "
            "`.weights.h5` file."
        )
    _save_beside(filepath, ".weights.h5", model.save_weights, overwrite=overwrite)


def _save_beside(filepath: Any, suffix: str, write: Callable[[str], Any], *, overwrite: bool = True) -> None:
    """Calls `write` on a new file beside `filepath` and renames it to `filepath` once written; removes it on any
    error or interrupt. A symbolic link is followed, as `open()` does, so the link stays and its file changes."""
    if not isinstance(filepath, (str, os.PathLike)):
        raise ConfigurationError(
            f"`filepath` must be a path (str or os.PathLike). Received: {type(filepath).__name__}."
        )
    path = os.fspath(filepath)
    if not path.endswith(suffix):
        message = f"'{path}' must end in `{suffix}`, the name Keras gives such a file."
        if suffix == ".weights.h5" and path.endswith(".weights.json"):
            message += (
                " Sharded weights (`max_shard_size`) are several files, which cannot be renamed into place at once: "
                "write them with `model.save_weights(path, max_shard_size=...)`."
            )
        raise ConfigurationError(message)
    if os.path.lexists(path) and not overwrite:
        raise ConfigurationError(
            f"'{path}' exists and `overwrite=False` was passed: remove it, save elsewhere, or pass `overwrite=True`."
        )
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    missing = missing_directory(directory)
    if missing is not None:
        raise ConfigurationError(f"Cannot save to '{path}': {missing}.")
    if os.path.isdir(target):
        raise ConfigurationError(f"Cannot save to '{path}': it is a directory. Pass the path of a file.")

    def cannot_create(error: OSError) -> OSError:  # It named the temporary file, whose random name means nothing.
        reason = f"{error.strerror}: no file can be created in '{directory}' to write '{path}' and rename it into place"
        return type(error)(error.errno, f"{reason}. Save to a directory you can write to")

    prefix = "." + os.path.basename(path)[: -len(suffix)] + "."
    with replace_atomically(target, prefix, suffix, cannot_create=cannot_create) as temporary:
        write(temporary)


def load_weights(model: keras.Model, filepath: str | os.PathLike[str], *, skip_mismatch: bool = False) -> None:
    """Loads weights like `model.load_weights(filepath)`, but all or nothing for vocabularies.

    Every `VocabEmbedding` in `model` (at any depth) first compares the
    vocabulary stored with its weights to its own; if any refuses, its
    `VocabularyMismatchError` is raised and no variable of the model has
    changed. Then the weights are loaded with `model.load_weights()`.

    Args:
        model: a built Keras model.
        filepath: a `.weights.h5` file, the `.weights.json` index of sharded
            weights, or a `.keras` file.
        skip_mismatch: as for `model.load_weights()`: with `True`, layers
            whose saved weights do not fit keep their own (with a warning),
            and no check comes first.

    Raises:
        VocabularyMismatchError: a `VocabEmbedding` holds another vocabulary,
            another matrix shape, or special tokens other than the saved ones.
        ConfigurationError: `filepath` is missing, a directory, truncated,
            or not a file Keras's `load_weights` reads (a legacy `.h5` file
            included).
    """
    filepath = _weights_path(filepath)
    layers = list(_compat.flatten_layers(model))
    ours = {id(layer) for layer in layers if isinstance(layer, VocabIdEmbedding)}
    with _reading(filepath):
        if ours and not skip_mismatch:
            _check_vocabularies(model, filepath, layers, ours)
        model.load_weights(filepath, skip_mismatch=skip_mismatch)


def _check_vocabularies(
    model: keras.Model, filepath: str, layers: list[Any], ours: set[int], remap: RemapRequest | None = None
) -> None:
    """Runs Keras's loader over the `VocabEmbedding` layers and their containers only, assigning nothing (`remap`:
    checking that their rows can move by token)."""
    containers = [
        layer
        for layer in layers
        if id(layer) not in ours and any(id(inner) in ours for inner in _compat.flatten_layers(layer))
    ]
    visited = ours | {id(layer) for layer in containers}
    skip = [layer for layer in layers if id(layer) not in visited]
    skip += [item for item in (getattr(model, "optimizer", None), *getattr(model, "metrics", ())) if item is not None]
    # A container's own variables (rare: a layer that holds a VocabEmbedding and creates weights too) are
    # loaded by this pass; put them back whatever happens.
    own = [(variable, variable.numpy()) for layer in containers for variable in _compat.own_variables(layer)]
    request = CheckOnly(remap=remap)
    try:
        with loading_request(request):
            _compat.load_weights_only(model, filepath, objects_to_skip=skip)
    except Exception:
        if request.errors:
            raise request.errors[0] from None
        raise
    finally:
        for variable, value in own:
            variable.assign(value)


def load_remapped_weights(
    model: keras.Model,
    filepath: str | os.PathLike[str],
    *,
    new_embeddings_initializer: Any = "mean",
    seed: int | None = None,
) -> dict[str, VocabularyUpdateReport]:
    """Loads weights into `model` although its `VocabEmbedding` vocabularies differ from the saved ones.

    Plain `model.load_weights()` refuses weights saved for another vocabulary
    (rows would land on other tokens). This function loads them anyway, token
    by token: each `VocabEmbedding` keeps the saved row of every token it
    shares with the saved vocabulary (special rows included), gives its new
    tokens rows from `new_embeddings_initializer`, and leaves out the saved
    rows of tokens it no longer has. The saved layer may have been built
    with another `pad_to_multiple_of`: padding rows are not tokens' rows,
    so only the ids' rows move. Every other layer loads as with
    `model.load_weights()`, which does the file handling.

    Args:
        model: the model to load into; its `VocabEmbedding` layers hold the
            new vocabularies.
        filepath: a `.weights.h5` file, the `.weights.json` index of sharded
            weights, or a `.keras` file.
        new_embeddings_initializer: how rows of tokens not in the saved
            vocabulary start: one of `keras_vocabsafe.ROW_INITIALIZERS`,
            computed from the saved rows of regular tokens (default
            `"mean"`; `"mean_std"`, `"mean_cov"`, `"zeros"`), any Keras
            initializer (name, instance or callable), or a
            `PretrainedVectors` (its vector where it has one, else the mean).
        seed: seed for `"mean_std"` and `"mean_cov"`.

    Returns:
        One `VocabularyUpdateReport` per `VocabEmbedding`, keyed by layer name.

    Raises:
        VocabularyMismatchError: a `VocabEmbedding` cannot take the saved rows
            (another `output_dim`, other special tokens, or, where nothing
            needs to move, weights it refuses as `load_weights` does).
        QuantizationError: rows would move into or out of a quantized or
            LoRA layer.
        ConfigurationError: the model has no `VocabEmbedding` or
            `VocabIdEmbedding`, or `filepath` is missing, a directory,
            truncated, or not a weights or `.keras` file.

        Every `VocabEmbedding` is checked first, as by `load_weights`: when
        one refuses, no variable of the model has changed.
    """
    everything = list(_compat.flatten_layers(model))
    ours = {id(layer) for layer in everything if isinstance(layer, VocabIdEmbedding)}
    if not ours:
        raise ConfigurationError(
            "The model has no VocabEmbedding or VocabIdEmbedding layer, so there is nothing to remap; use "
            "`model.load_weights()`."
        )
    request = RemapRequest(new_embeddings_initializer, seed)
    path = _weights_path(filepath)
    with _reading(path):
        # As `load_weights`: a layer that refuses its rows (a quantized one, other special tokens) does so before
        # any layer has changed.
        _check_vocabularies(model, path, everything, ours, remap=request)
        with loading_request(request):
            model.load_weights(path)
    return request.reports


def _weights_path(filepath: Any) -> str:
    """The path of a weights file Keras can read, or a `ConfigurationError` naming what is wrong with it."""
    if not isinstance(filepath, (str, os.PathLike)):
        raise ConfigurationError(
            f"`filepath` must be a path (str or os.PathLike). Received: {type(filepath).__name__}."
        )
    path = os.fspath(filepath)
    if not path.endswith((".weights.h5", ".weights.json", ".keras")):
        raise ConfigurationError(
            f"'{path}' is not a weights file Keras can load: pass a `.weights.h5` file (written by "
            "`model.save_weights()`), the `.weights.json` index of sharded weights (written by "
            "`model.save_weights(..., max_shard_size=...)`) or a `.keras` file (written by `model.save()`)."
        )
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"'{path}' " + ("is a directory" if os.path.isdir(path) else "does not exist") + ": pass the path of a "
            "`.weights.h5`, `.weights.json` or `.keras` file."
        )
    if path.endswith(".weights.json"):
        _weights_store.check_shards(path, ConfigurationError)
    return path


@contextlib.contextmanager
def _reading(path: str) -> Iterator[None]:
    """Turns a file that h5py or zipfile cannot read (truncated, not HDF5) into an error naming it."""
    try:
        yield
    except (OSError, zipfile.BadZipFile) as error:
        raise ConfigurationError(
            f"'{path}' could not be read as a Keras weights file ({error}). It may be truncated or of another kind; "
            "write it again with `model.save_weights()` or `model.save()`."
        ) from error
