"""Serving exports: versioned SavedModels with vocabulary signatures, warm-up requests and an op audit.

`export_for_serving()` writes `base_path/<version>/` in the layout TensorFlow
Serving watches: a SavedModel whose `serving_default` signature takes and
returns tensors named after the model's inputs and outputs, one pair of
signatures per `VocabEmbedding` for reading its vocabulary and ids, and
optionally `assets.extra/tf_serving_warmup_requests`. The version is written
into a hidden sibling directory and renamed into place only when complete, so
a model server never sees half a version and a failed export leaves nothing.

`audit_ops()` lists the op types a SavedModel's graph uses and says which of
them core TensorFlow registers on its own; the others (for example
tensorflow-text's) must be linked into, or loaded by, whatever serves it. For
tensorflow-text ops it gives the first release that registered each (from a
table shipped with the package), and with a `target` (a tensorflow-text or
TensorFlow Serving release) whether each op loads there; `export_for_serving`
refuses to publish a graph that would not load in its `target`.
"""

from __future__ import annotations

import errno
import json
import keyword
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import _compat
from keras_vocabsafe._files import remove_directory_beside
from keras_vocabsafe._op_tables import OpTarget, op_table, parse_target, scanned_range, since_release, since_text
from keras_vocabsafe._progress import Progress, check_verbose, logger
from keras_vocabsafe.embedding import VocabIdEmbedding
from keras_vocabsafe.errors import (
    ConfigurationError,
    ExportError,
    ModelFileError,
    UnsupportedOpsError,
    VersionExistsError,
)
from keras_vocabsafe.lookup import KeyLookup, VocabLookup
from keras_vocabsafe.text import TextVocabLookup

__all__ = ["OpAudit", "OpTarget", "audit_ops", "export_for_serving"]

_SERVING_SIGNATURE = "serving_default"
_WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
# TensorFlow Serving refuses to load a version whose warm-up file holds more records than this.
_MAX_WARMUP_REQUESTS = 1000
_SERVING_INSTALL_COMMAND = 'pip install "keras-vocabsafe[serving]"'

# A signature input name reaches clients unchanged only if it is a valid tf.function argument name: TensorFlow
# silently rewrites others ("a.b" becomes "a_b", "1x" becomes "arg_1x") or refuses them ("a b").
_INPUT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Keras opens a TensorFlow name scope per layer call, and TensorFlow checks each name (tensorflow/python/framework/
# ops.py, Graph.name_scope): a nested scope must match `_SCOPE_NAME`; one opened at the root of a graph (the model's
# own, a nested model's, and a variable's, whose name starts with its layer's, when the SavedModel is written) must
# match `_ROOT_SCOPE_NAME`, which also constrains the first character.
_SCOPE_NAME = re.compile(r"[A-Za-z0-9_.\\/>-]*")
_ROOT_SCOPE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*")
# A lookup's own scope in the serving function: one root scope (no `/`, which would nest or reset it).
_LOOKUP_SCOPE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\\>-]*")
_VERSION_NAME = re.compile(r"[0-9]+")
_TEMP_PREFIX = ".tmp-export-"


def export_for_serving(
    model: keras.Model,
    base_path: str | os.PathLike[str],
    *,
    version: int | None = None,
    input_names: Sequence[str] | Mapping[str, str] | None = None,
    output_names: Sequence[str] | Mapping[str, str] | None = None,
    vocabulary_signatures: bool = True,
    warmup_inputs: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    strict: bool = False,
    target: str | Mapping[str, str] | OpTarget | None = None,
    lookups: str | Mapping[str, VocabLookup] | None = "auto",
    verbose: Any = "auto",
) -> str:
    """Writes a model as version `version` of a model server's base path.

    The result is `base_path/<version>/`, a SavedModel that runs with
    TensorFlow alone (no Keras, no keras-vocabsafe). Its signatures:

    - `serving_default`: one input per model input, named after the model's
      inputs (the `name` of each `keras.Input`, or the keys of a dict of
      inputs), with the inputs' dtypes and shapes (string inputs stay
      `tf.string`); one output per model output, named after the layer that
      produces it (or the keys of a dict of outputs).
      An input that feeds a `VocabIdEmbedding` (a model trained with its
      lookup in `tf.data`) takes the keys instead of ids: the lookup half
      runs in the graph, so a model server gets raw strings (see `lookups`).
    - with `vocabulary_signatures`, for each `VocabEmbedding` or
      `VocabIdEmbedding` in the model:
      `vocabulary_<layer name>` (no input; returns `tokens`, the token of
      every id in id order, special slots included, byte for byte, and
      `vocabulary_size`, an int64 scalar) and `token_to_id_<layer name>`
      (input `tokens` of the layer's key dtype and any shape; returns `ids`,
      int64, exactly as the layer maps them, OOV hashing included).

    The version is written into a hidden temporary directory inside
    `base_path` and renamed into place once complete, so a model server
    polling `base_path` never loads a partial version, and a failed export
    leaves nothing behind. An existing version is never overwritten.

    Args:
        model: a built functional or `Sequential` Keras model (its inputs
            must be known: build it from `keras.Input`s). Its layers' names
            (nested models' too) must be ones TensorFlow takes as name
            scopes: ASCII letters, digits and `_ . \\ > -`, starting with a
            letter, digit or `.` for a model or a layer holding weights.
            Others are refused before anything is written. Export from the
            TensorFlow backend: on PyTorch, and on JAX with a lookup or the
            vocabulary signatures, it is refused (save the model to `.keras`
            and export that with `KERAS_BACKEND=tensorflow`).
        base_path: the model's base directory, as given to the model server
            (`--model_base_path`); created if missing (and removed again
            if the export fails). A symbolic link to a directory is written
            through; one whose target is missing is refused, not followed to
            create that target.
        version: optional non-negative int. Defaults to one more than the
            largest numeric entry in `base_path` (1 if there is none).
        input_names: optional new names for the signature's inputs: a list in
            the order of `model.inputs`, or a dict from default name to new
            name. Input names must start with a letter and hold only ASCII
            letters, digits and `_`, which TensorFlow keeps unchanged.
        output_names: optional new names for the outputs, likewise (any
            distinct non-empty strings).
        vocabulary_signatures: add the two signatures per `VocabEmbedding`.
            Defaults to `True`.
        warmup_inputs: optional sample requests for the model server to run
            before it serves the version: a dict from signature input name to
            an array (or anything `tf.make_tensor_proto` takes), or a list of
            such dicts (at most 1000). Each is run through the exported
            function first; they are written as `PredictRequest`s to
            `assets.extra/tf_serving_warmup_requests`. Needs
            `tensorflow-serving-api`.
        strict: if `True`, audit the written graph (`audit_ops`) and refuse
            to publish it if it uses ops that core TensorFlow does not
            register, such as tensorflow-text ops. The same as
            `target="core"`.
        target: optional: where the version will be served. The written
            graph is audited and refused (nothing is published) if it uses an
            op that does not load there. One of:
            `"core"` (TensorFlow alone, as `strict=True`);
            `"tensorflow-text==2.12"` or `{"tensorflow_text": "2.12"}`: a
            server that links, or a process that imports, that
            tensorflow-text release (patch releases count as their minor
            release);
            `"tensorflow-serving==2.16"` or `{"tensorflow_serving": "2.16"}`:
            a TensorFlow Serving model server, taken to link the
            tensorflow-text release recorded for it in the package's op
            table. TensorFlow Serving pins its tensorflow-text source
            separately from its own version: its 2.13 to 2.18 releases link
            tensorflow-text 2.12 (tensorflow/serving PR #4057), so ops added
            in tensorflow-text 2.13 or later (e.g. `TFText>RoundRobinTrim`)
            do not load there; 2.19 and 2.20 are taken as 2.12 too
            (conservative), 2.21 as 2.20, 2.11 as 2.8, and 2.4 to 2.10 as
            their own release. The audit's `target.source` gives the evidence
            of each; where you know your server's tensorflow-text release,
            name it with `"tensorflow-text==X.Y"` instead. The op table
            covers tensorflow-text 2.4 to 2.21; an op in none of them is
            reported as unknown and refused. The refusal names the layer of
            each op (from the graph's name scopes); a layer that defines
            `serving_op_setting(op_type) -> str | None` can also name the
            setting that brought the op in.
        lookups: the lookup half to run in front of the model, per input:
            `"auto"` (default) gives every input that feeds a
            `VocabIdEmbedding` that layer's own lookup (`layer.lookup()`):
            directly, through nested models of one input, or through layers
            that only move ids (`Reshape`, `Flatten`, `Permute`, `Identity`,
            `keras.ops.reshape`, `transpose`, `expand_dims`, `squeeze`,
            slicing `x[...]`, and casts from integers to 32 or 64-bit
            integers), which give the same ids whether the lookup runs in
            front of them or behind them. `Concatenate` and
            `keras.ops.concatenate` count too where every tensor they join
            holds ids of model inputs (moved as above): each of those inputs
            takes the lookup, so their ids must be bound for one vocabulary.
            An input whose ids reach one only
            through other layers (arithmetic, a `Lambda`, a custom layer,
            a cast through floats, a concatenation with any other tensor),
            and never as they are, is refused with
            a `ConfigurationError` naming the path: pass `lookups=None` or
            name its lookup. An input the model looks up itself (through a
            `VocabLookup`, `IntegerLookup`, `StringLookup` or `Hashing`
            layer) is served as it is. A nested model of several inputs that
            holds a `VocabIdEmbedding` is refused;
            a dict from input name (as in `model.inputs`) to a `VocabLookup`
            names them, through any layers (each is checked against the
            `VocabIdEmbedding` its ids reach, and refused with
            `VocabularyMismatchError` if its vocabulary differs);
            `None` keeps the inputs as ids. A text
            lookup gives a row of ids per example: the input it feeds must
            have one axis after the batch, of its `output_sequence_length`
            (or of any length); another is refused before anything is written.
        verbose: `"auto"` (default), 0, 1 or 2, as for `Model.fit`: 1 shows
            a `keras.utils.Progbar` over the export's steps (tracing each
            signature, writing, warm-up, audit, publishing), then a summary
            line naming the version and its signatures; 2 prints only the
            summary; 0 prints nothing. `"auto"` is 1 when stdout is a
            terminal and Keras's interactive logging is on, else 0. The
            summary is also logged at INFO on the `keras_vocabsafe` logger.

    The graph also has a `serve` endpoint (the same function), which is what
    `keras.layers.TFSMLayer(path)` calls by default.

    Returns:
        The path of the version directory, as a string.

    Raises:
        ConfigurationError: an argument, or the model's structure, cannot be
            exported as asked (the message says how to fix it).
        VersionExistsError: the version directory already exists (or is a
            symbolic link, even to nothing).
        UnsupportedOpsError: with `strict=True` or a `target`, the graph
            uses ops that do not load there; the message names each op, the
            tensorflow-text release that added it, the target and the layer
            that uses it. An `ExportError` (and `ValueError`).
        ExportError: writing or auditing failed; nothing was published.

    Example:

    ```python
    path = export_for_serving(model, "models/reviews", warmup_inputs={"text": [["a", "good", "film"]]})
    # tensorflow_model_server --model_name=reviews --model_base_path=$PWD/models/reviews
    ```
    """
    if not isinstance(model, keras.Model):
        raise ConfigurationError(
            f"`model` must be a keras.Model. Received: model of type {type(model).__name__}. Wrap a layer in a "
            "functional model first: `keras.Model(inputs, layer(inputs))`."
        )
    if not model.built:
        raise ConfigurationError(
            f"`model` ('{model.name}') is not built, so its input shapes are unknown. Build it from `keras.Input`s "
            "(a functional or Sequential model starting with `keras.Input`) before exporting."
        )
    if not isinstance(vocabulary_signatures, bool):
        raise ConfigurationError(
            f"`vocabulary_signatures` must be True or False. Received: vocabulary_signatures={vocabulary_signatures!r}"
        )
    if not isinstance(strict, bool):
        raise ConfigurationError(f"`strict` must be True or False. Received: strict={strict!r}")
    op_target = parse_target(target) if target is not None else (OpTarget("core") if strict else None)
    verbose = check_verbose(verbose, "export_for_serving()")
    if keras.backend.backend() == "torch":
        raise ConfigurationError(
            "export_for_serving() writes a TensorFlow SavedModel, which Keras cannot write from a model of the "
            "torch backend. Save the model (`model.save('model.keras')`) and export it from a process with "
            "KERAS_BACKEND=tensorflow: the file loads there, with its vocabulary and the same predictions."
        )
    _check_layer_names(model)
    halves_lookups: dict[int, VocabLookup] = {}  # One lookup per embedding half, for its input and its signatures.
    plan = _ServingPlan.from_model(model, input_names, output_names, _input_lookups(model, lookups, halves_lookups))
    warmup = None if warmup_inputs is None else _warmup_requests(warmup_inputs, plan)
    vocabulary_layers = _vocabulary_layers(model) if vocabulary_signatures else []
    if keras.backend.backend() == "jax" and (any(plan.lookups) or vocabulary_layers):
        # Keras's JAX export converts what it tracks to JAX arrays, which hold no strings (a lookup's vocabulary),
        # and takes no input of unknown rank (`token_to_id_<layer>`'s).
        raise ConfigurationError(
            "export_for_serving() cannot put a lookup (the `lookups` in front of the model, or the "
            "`vocabulary_<layer>` and `token_to_id_<layer>` signatures) into a SavedModel written from a model of "
            "the jax backend. Save the model (`model.save('model.keras')`) and export it from a process with "
            "KERAS_BACKEND=tensorflow: the file loads there, with its vocabulary and the same predictions. Or, to "
            "serve ids, pass `lookups=None, vocabulary_signatures=False`."
        )

    base = _as_path(base_path, "base_path")
    created = _prepare_base_path(base)
    try:
        return _export_version(
            model, base, version, plan, warmup, vocabulary_layers, halves_lookups, op_target, verbose
        )
    except BaseException:
        _remove_if_empty(created)  # A failed export leaves no base path it created behind.
        raise


def _export_version(
    model: keras.Model,
    base: Path,
    version: Any,
    plan: _ServingPlan,
    warmup: Any,
    vocabulary_layers: list[Any],
    halves_lookups: dict[int, VocabLookup],
    op_target: OpTarget | None,
    verbose: Any,
) -> str:
    """Writes the version into a staging directory of `base`, audits it, then publishes it by one rename."""
    version = _choose_version(base, version)
    version_dir = base / str(version)
    logger.info("export_for_serving(): exporting '%s' to %s", model.name, version_dir)
    # Steps: the two serving endpoints, two per vocabulary layer, writing, warm-up, audit, publishing.
    steps = 2 + 2 * len(vocabulary_layers) + 1 + (warmup is not None) + (op_target is not None) + 1
    progress = Progress(verbose, target=steps)

    archive = keras.export.ExportArchive()
    archive.track(model)
    # The joined layers look keys up themselves (tracked with the model); embedding halves get their lookup half.
    signature_lookups = [
        layer if isinstance(layer, KeyLookup) else _lookup_of(layer, halves_lookups) for layer in vocabulary_layers
    ]
    standalone = [*plan.lookups, *(lookup for lookup in signature_lookups if isinstance(lookup, VocabLookup))]
    for lookup in {id(lookup): lookup for lookup in standalone if lookup is not None}.values():
        lookup.build()  # No weights; Keras's export archive takes built layers only.
        archive.track(lookup)
    serving_function = plan.serving_function(model)
    serve = archive.add_endpoint(_SERVING_SIGNATURE, serving_function, input_signature=plan.input_specs)
    progress.add(1)
    archive.add_endpoint("serve", serving_function, input_signature=plan.input_specs)
    progress.add(1)
    for layer, lookup in zip(vocabulary_layers, signature_lookups):
        vocabulary, token_to_id, spec = _vocabulary_functions(lookup)
        archive.add_endpoint(f"vocabulary_{layer.name}", vocabulary, input_signature=[])
        archive.add_endpoint(f"token_to_id_{layer.name}", token_to_id, input_signature=[spec])
        progress.add(2)

    # Not tempfile.mkdtemp: its 0o700 mode would survive the rename and hide the version from a model server
    # running as another user. A plain mkdir follows the umask, like every file TensorFlow writes inside.
    staging = base / f"{_TEMP_PREFIX}{version}-{uuid.uuid4().hex}"
    try:
        staging.mkdir()
    except OSError as error:
        raise ExportError(f"Cannot create a temporary directory in {base}: {error}") from error
    try:
        try:
            archive.write_out(str(staging), verbose=False)
        except Exception as error:
            raise ExportError(f"Writing the SavedModel for {version_dir} failed: {error}") from error
        progress.add(1)
        if warmup is not None:
            _check_warmup(serve, warmup, plan)
            _write_warmup(staging / _WARMUP_FILE, warmup)
            progress.add(1)
        if op_target is not None:
            audit = audit_ops(staging, target=op_target)
            if audit.refused:
                raise UnsupportedOpsError(_refusal_message(model, audit, op_target, version_dir))
            progress.add(1)
        _publish(staging, version_dir)
        progress.add(1)
    finally:
        remove_directory_beside(str(staging))  # Even under a second Ctrl-C.
    signatures = [_SERVING_SIGNATURE] + [
        f"{kind}_{layer.name}" for layer in vocabulary_layers for kind in ("vocabulary", "token_to_id")
    ]
    progress.close(
        f"export_for_serving(): wrote version {version} of '{model.name}' to {str(version_dir)!r} in "
        f"{progress.seconds:.1f} s; signatures: {', '.join(signatures)}"
        + (f"; {len(warmup)} warm-up requests" if warmup is not None else "")
        + (f"; audited for {op_target}" if op_target is not None else "")
    )
    return str(version_dir)


# The model's inputs and outputs -----------------------------------------------------------------


@dataclass(frozen=True)
class _ServingPlan:
    """How the signature's named tensors map onto the model's input and output structures."""

    input_names: tuple[str, ...]
    input_specs: tuple[tf.TensorSpec, ...]
    input_kind: str  # "single", "sequence" or "dict"
    input_keys: tuple[str, ...] | None
    output_names: tuple[str, ...]
    output_kind: str
    output_keys: tuple[str, ...] | None
    lookups: tuple[VocabLookup | None, ...]  # Per input: the lookup half run before the model, or None.
    # Per input: the model input's shape, where its lookup gives ragged ids (a text lookup without
    # output_sequence_length) that are padded to it, as the training pipeline padded them; else None.
    padded_shapes: tuple[tuple[int | None, ...] | None, ...]

    @classmethod
    def from_model(
        cls, model: keras.Model, input_names: Any, output_names: Any, lookups: tuple[VocabLookup | None, ...]
    ) -> _ServingPlan:
        flat_inputs, input_structure, flat_outputs, output_structure = _symbolic_structure(model)
        input_kind, input_keys, default_inputs = _describe(input_structure, flat_inputs, "inputs", model)
        output_kind, output_keys, default_outputs = _describe(output_structure, flat_outputs, "outputs", model)
        names_in = _rename(default_inputs, input_names, "input_names")
        names_out = _rename(default_outputs, output_names, "output_names")
        _check_unique(names_in, "input", "input_names", model)
        _check_unique(names_out, "output", "output_names", model)
        for name in names_in:
            if not _INPUT_NAME.fullmatch(name) or keyword.iskeyword(name):
                raise ConfigurationError(
                    f"Model '{model.name}' has an input named {name!r}, which TensorFlow would rename or refuse as "
                    "a signature input. Input names must start with a letter and hold only ASCII letters, digits "
                    "and '_' (and not be a Python keyword). Pass `input_names=` (a list in the order of "
                    f"`model.inputs`, or a dict such as {{{name!r}: 'tokens'}}), or rename the keras.Input."
                )
        specs, padded_shapes = [], []
        for name, tensor, lookup in zip(names_in, flat_inputs, lookups):
            if getattr(tensor, "ragged", False) or getattr(tensor, "sparse", False):
                raise ConfigurationError(
                    f"Model '{model.name}' has a ragged or sparse input {name!r}; serving signatures carry dense "
                    "tensors only. Take a dense (padded) input and convert it inside the model."
                )
            dtype, shape = tf.as_dtype(tensor.dtype), tuple(tensor.shape)
            if lookup is not None:
                dtype = tf.string if lookup.vocabulary_dtype == "string" else tf.int64
                if isinstance(lookup, TextVocabLookup):
                    _check_text_ids_fit(model, tensor, lookup)
                    shape = shape[:-1]  # One string per example, which the lookup turns into its row of ids.
            ragged = isinstance(lookup, TextVocabLookup) and lookup.output_sequence_length is None
            padded_shapes.append(tuple(tensor.shape) if ragged else None)
            specs.append(tf.TensorSpec(shape, dtype, name=name))
        return cls(
            names_in,
            tuple(specs),
            input_kind,
            input_keys,
            names_out,
            output_kind,
            output_keys,
            lookups,
            tuple(padded_shapes),
        )

    def serving_function(self, model: keras.Model) -> Any:
        def serve(*tensors: tf.Tensor) -> dict[str, tf.Tensor]:
            tensors = tuple(
                t if lookup is None else _looked_up(lookup, t, shape)
                for t, lookup, shape in zip(tensors, self.lookups, self.padded_shapes)
            )
            if self.input_kind == "single":
                inputs: Any = tensors[0]
            elif self.input_kind == "dict":
                inputs = dict(zip(cast("tuple[str, ...]", self.input_keys), tensors))  # Set for "dict".
            else:
                inputs = list(tensors)
            outputs = model(inputs, training=False)
            if self.output_kind == "single":
                flat = [outputs]
            elif self.output_kind == "dict":
                flat = [outputs[key] for key in cast("tuple[str, ...]", self.output_keys)]  # Set for "dict".
            else:
                flat = list(outputs)
            return dict(zip(self.output_names, flat))

        return serve


def _check_layer_names(model: keras.Model) -> None:
    """Refuses, before anything is traced or written, layer names TensorFlow cannot use as name scopes."""
    if keras.backend.backend() != "tensorflow":
        return  # Only Keras's TensorFlow backend opens a TensorFlow name scope per layer.
    refused, seen = [], set()
    for path, layer in _named_layers(model, ()):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        at_root = isinstance(layer, keras.Model) or bool(layer.weights)
        if not (_ROOT_SCOPE_NAME if at_root else _SCOPE_NAME).fullmatch(layer.name):
            suggestion = re.sub(r"[^A-Za-z0-9_.\\>-]", "_", layer.name)
            if at_root:
                suggestion = suggestion.lstrip("_\\>-") or "layer"
            what = "the model itself" if layer is model else type(layer).__name__
            refused.append(f"'{'/'.join(path)}' ({what}; e.g. name it {suggestion!r})")
    if refused:
        raise ConfigurationError(
            f"Model '{model.name}' has {'a name' if len(refused) == 1 else 'names'} TensorFlow cannot use as a name "
            f"scope: {', '.join(refused)}, so TensorFlow cannot write it as a SavedModel. Its rule: a scope name "
            f"matches `{_SCOPE_NAME.pattern}` (ASCII letters, digits and `_ . \\ > -`; no spaces, no other "
            "characters), and the name of a model, a nested model or a layer holding weights, which also starts a "
            f"scope at the root of a graph, matches `{_ROOT_SCOPE_NAME.pattern}` (it starts with a letter, digit or "
            "'.'). Give each a name that does (`name=` when it is created) and export again. Nothing was written."
        )


def _named_layers(layer: keras.layers.Layer, parents: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """`layer` and every layer it tracks, each with its path of names; input layers are never called, so skipped."""
    path = (*parents, layer.name)
    found = [] if isinstance(layer, keras.layers.InputLayer) else [(path, layer)]
    for child in _compat.flatten_layers(layer, include_self=False, recursive=False):
        found += _named_layers(child, path)
    return found


def _check_text_ids_fit(model: keras.Model, tensor: Any, lookup: TextVocabLookup) -> None:
    """Refuses a text lookup whose rows of ids do not fit the model input they are served into."""
    shape, length = tuple(tensor.shape), lookup.output_sequence_length
    if len(shape) == 2 and (length is None or shape[1] is None or shape[1] == length):
        return
    gives = f"one row of {length} ids per example (output_sequence_length={length})" if length else "ragged ids"
    fixes = (
        f"build the model input as `keras.Input(({length},), ...)`"
        if length
        else "build the model input as `keras.Input((None,), ...)` (or `(n,)`: the served ids are padded or cut to n)"
    )
    if len(shape) == 2:
        fixes += (
            f", or pass `lookups={{{tensor.name!r}: TextVocabLookup(..., output_sequence_length={shape[1]})}}` "
            "with the layer's vocabulary and settings"
        )
    raise ConfigurationError(
        f"Input {tensor.name!r} of model '{model.name}' takes ids of shape {shape}, but its lookup, "
        f"{type(lookup).__name__} '{lookup.name}', gives {gives}: shape (batch, {length}). Make them agree with the "
        f"ids the model was trained on: {fixes}; or pass `lookups=None` to serve ids. Nothing was written."
    )


def _symbolic_structure(model: keras.Model) -> tuple[list[Any], Any, list[Any], Any]:
    try:
        flat_inputs, flat_outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, TypeError, ValueError):
        flat_inputs = flat_outputs = []
    if not flat_inputs or not flat_outputs:
        raise ConfigurationError(
            f"Model '{model.name}' ({type(model).__name__}) has no symbolic inputs and outputs, so the names, "
            "dtypes and shapes of its signature are unknown. Export a functional model "
            "(`keras.Model(inputs, outputs)` built from `keras.Input(name=...)`) or a Sequential model that starts "
            "with a `keras.Input`; a subclassed model can be wrapped: `keras.Model(inputs, model(inputs))`."
        )
    if isinstance(model, keras.Sequential):
        return flat_inputs, flat_inputs[0], flat_outputs, flat_outputs[0]
    return flat_inputs, model.input, flat_outputs, model.output


def _describe(structure: Any, flat: list[Any], what: str, model: keras.Model) -> tuple[str, Any, tuple[str, ...]]:
    """Returns the kind of a symbolic structure, its dict keys, and the default name of each flat tensor."""
    if isinstance(structure, Mapping):
        keys = sorted(structure)  # Keras flattens dicts in sorted key order.
        if len(keys) == len(flat) and all(structure[key] is tensor for key, tensor in zip(keys, flat)):
            return "dict", tuple(keys), tuple(str(key) for key in keys)
    elif isinstance(structure, (list, tuple)):
        if len(structure) == len(flat) and all(a is b for a, b in zip(structure, flat)):
            return "sequence", None, tuple(_tensor_name(tensor) for tensor in flat)
    elif structure is flat[0] and len(flat) == 1:
        return "single", None, (_tensor_name(structure),)
    raise ConfigurationError(
        f"Model '{model.name}' has nested {what}; a serving signature takes a flat set of named tensors. Use a "
        f"single tensor, a list or a dict of tensors as the model's {what}."
    )


def _tensor_name(tensor: Any) -> str:
    # The layer that produced it: the InputLayer of a keras.Input (its `name=`), or an output's last layer. An
    # unnamed keras.Input's own tensor name ("keras_tensor_3") would change from one session to the next.
    return _compat.producing_layer(tensor).name


def _rename(defaults: tuple[str, ...], names: Any, argument: str) -> tuple[str, ...]:
    if names is None:
        return defaults
    if isinstance(names, Mapping):
        unknown = sorted(set(names) - set(defaults))
        if unknown:
            raise ConfigurationError(
                f"`{argument}` renames {unknown}, which the model does not have. Received: {argument}={names!r}. "
                f"The default names are {list(defaults)}."
            )
        renamed = tuple(names.get(name, name) for name in defaults)
    elif isinstance(names, Sequence) and not isinstance(names, (str, bytes)):
        if len(names) != len(defaults):
            raise ConfigurationError(
                f"`{argument}` must give one name per model tensor ({len(defaults)}: {list(defaults)}). "
                f"Received: {argument}={list(names)!r}. Or pass a dict from default name to new name."
            )
        renamed = tuple(names)
    else:
        raise ConfigurationError(
            f"`{argument}` must be a list of names or a dict from default name to new name. "
            f"Received: {argument}={names!r}"
        )
    bad = [name for name in renamed if not isinstance(name, str) or not name]
    if bad:
        raise ConfigurationError(f"`{argument}` must hold non-empty strings. Received: {argument}={names!r}")
    return renamed


def _check_unique(names: tuple[str, ...], what: str, argument: str, model: keras.Model) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(
            f"Model '{model.name}' would have several {what}s named {repeated} in its signature ({list(names)}). "
            f"Pass `{argument}=` with distinct names."
        )


# Vocabulary signatures -------------------------------------------------------------------------------


def _lookup_of(half: VocabIdEmbedding, cache: dict[int, VocabLookup]) -> VocabLookup:
    """The lookup half of an embedding half, made once per export."""
    if id(half) not in cache:
        cache[id(half)] = half.lookup(name=f"{half.name}_lookup")
    return cache[id(half)]


def _looked_up(lookup: VocabLookup, keys: tf.Tensor, shape: tuple[int | None, ...] | None) -> tf.Tensor:
    """The ids `lookup` gives for a served input, as the model takes them.

    `call`, not `__call__`: the model computes its own mask from the ids. `__call__` would also open the layer's
    name scope, which names the lookup in the graph (`inspect_model` names the lookup of a pair after it), so it is
    opened here, where TensorFlow takes the name as a scope.
    """
    if not _LOOKUP_SCOPE_NAME.fullmatch(lookup.name):
        return _dense_ids(lookup.call(keys), shape)
    with tf.name_scope(lookup.name):
        return _dense_ids(lookup.call(keys), shape)


def _dense_ids(ids: tf.Tensor | tf.RaggedTensor, shape: tuple[int | None, ...] | None) -> tf.Tensor:
    """A lookup's ids as the model takes them: ragged ids padded with id 0 (the mask id, and what `padded_batch` and
    `to_tensor()` pad with) to the model input's `shape` (cut to its length, where it has one)."""
    if isinstance(ids, tf.RaggedTensor):
        return ids.to_tensor(shape=shape)
    return ids


def _input_lookups(model: keras.Model, lookups: Any, cache: dict[int, VocabLookup]) -> tuple[VocabLookup | None, ...]:
    """The lookup half to run before each model input (`None`: the input stays as it is)."""
    inputs = _symbolic_inputs(model)
    if not inputs:
        return ()  # No symbolic inputs: `_ServingPlan.from_model` says what to do.
    names = [tensor.name for tensor in inputs]
    if lookups is None:
        return (None,) * len(inputs)
    routes = _routes_to_halves(model, inputs)
    if isinstance(lookups, str) and lookups == "auto":
        found = []
        for name, input_routes in zip(names, routes):
            as_held = [route for route in input_routes if route.changed_by is None]
            if input_routes and not as_held:
                route = input_routes[0]
                raise ConfigurationError(
                    f"Input {name!r} of model '{model.name}' reaches VocabIdEmbedding '{route.half.name}' only "
                    f"through a layer that may change its values: {route.describe(name)}. `lookups='auto'` puts a "
                    "layer's lookup in front of an input only where the input's ids reach the layer as they are, or "
                    f"moved by layers that only move or select them ({_LAYOUT_NAMES}), so it cannot tell what this "
                    "input holds. Pass `lookups=None` to serve ids, or, if the input holds that layer's ids as its "
                    f"lookup gives them, `lookups={{{name!r}: lookup}}` with that layer's lookup (`layer.lookup()`). "
                    "Nothing was written."
                )
            halves = _distinct(route.half for route in as_held)
            fingerprints = {half.vocabulary_fingerprint for half in halves}
            if len(fingerprints) > 1:
                raise ConfigurationError(
                    f"Input {name!r} of model '{model.name}' feeds VocabIdEmbedding layers of different vocabularies "
                    f"({sorted(half.name for half in halves)}), so no one lookup gives ids for all of them. Pass "
                    "`lookups=None` to serve ids, or feed each layer its own input."
                )
            found.append(_lookup_of(halves[0], cache) if halves else None)
        return tuple(found)
    if not isinstance(lookups, Mapping) or not all(isinstance(v, VocabLookup) for v in lookups.values()):
        raise ConfigurationError(
            "`lookups` must be 'auto', None, or a dict from model input name to keras_vocabsafe.VocabLookup. "
            f"Received: lookups={lookups!r}"
        )
    unknown = sorted(set(lookups) - set(names))
    if unknown:
        raise ConfigurationError(
            f"`lookups` names inputs {unknown} that model '{model.name}' does not have; its inputs are {names}."
        )
    for name, input_routes in zip(names, routes):
        if name in lookups:
            if not input_routes:
                raise ConfigurationError(
                    f"`lookups` gives a lookup for input {name!r}, but no VocabIdEmbedding of model '{model.name}' "
                    "takes that input's ids, so nothing would check that the ids select the right rows."
                )
            # Named by the caller, so a route through layers that may change values counts too (where there is no
            # other): the lookup is checked against the layers its ids reach.
            as_held = [route for route in input_routes if route.changed_by is None]
            for half in _distinct(route.half for route in as_held or input_routes):
                half.check_lookup(lookups[name])
    return tuple(lookups.get(name) for name in names)


# Layers whose every output element is an element of their one input, moved, whatever its values: a lookup maps
# each key on its own, so it gives the same ids in front of them as behind them. Matched by exact type, since a
# subclass may change `call`. (RepeatVector and the Cropping layers only select too, but Keras gives their output
# the layer's float dtype, which a VocabIdEmbedding refuses.)
_LAYOUT_LAYERS: tuple[type, ...] = (
    keras.layers.Reshape,
    keras.layers.Flatten,
    keras.layers.Permute,
    keras.layers.Identity,
)
# Layers that map integer keys to ids in the model: what follows them holds their ids, not the input's.
_LOOKUP_LAYERS: tuple[type, ...] = (
    KeyLookup,
    keras.layers.IntegerLookup,
    keras.layers.StringLookup,
    keras.layers.Hashing,
)
_LAYOUT_NAMES = (
    ", ".join(layer.__name__ for layer in _LAYOUT_LAYERS)
    + ", keras.ops.reshape, transpose, expand_dims, squeeze, x[...], a cast from integers to 32 or 64 bits, or "
    "Concatenate or keras.ops.concatenate of such ids of model inputs alone"
)
# Layers that join their inputs' elements: they keep ids where every tensor they join holds ids of model inputs, which
# then all take a lookup (of one vocabulary, or the export is refused). With any other tensor among them, the lookup
# would map the input's keys and leave the other values as they are.
_JOINING_LAYERS: tuple[type, ...] = (keras.layers.Concatenate,)
# An integer cast of 32 bits or more keeps every id an embedding can have: TensorFlow counts rows in int32 at least.
_ID_DTYPES = frozenset({"int32", "int64", "uint32", "uint64"})


@dataclass(frozen=True)
class _IdsRoute:
    """How a model input's values reach a `VocabIdEmbedding`: the layers and ops between, outermost model first."""

    half: VocabIdEmbedding
    steps: tuple[str, ...]
    # The first step that may change values; None: the ids reach the layer as the input holds them.
    changed_by: str | None

    def describe(self, input_name: str) -> str:
        return " -> ".join([repr(input_name), *self.steps, f"VocabIdEmbedding '{self.half.name}'"])


def _routes_to_halves(model: keras.Model, inputs: list[Any]) -> list[list[_IdsRoute]]:
    """Per model input, the routes by which its integer values reach `VocabIdEmbedding` layers (not joined
    `VocabEmbedding`s) of `model`, through any layers or ops and into models nested in it that take them as their one
    input.

    A concatenation keeps ids only where every tensor it joins holds the ids of some model input, which all inputs'
    walks together tell: they are walked again while a concatenation they met joins tensors found to hold ids since.
    """
    joins = _Joins(frozenset(), [])
    while True:
        routes: list[list[_IdsRoute]] = []
        held: set[int] = set()
        for tensor in inputs:
            input_routes: list[_IdsRoute] = []
            seen: set[tuple[int, bool]] = set()
            _follow(model, tensor, (), None, "", input_routes, seen, (tensor.name, model), joins)
            routes.append(input_routes)
            held |= {tensor_id for tensor_id, as_held in seen if as_held}
        if not any(_joins_ids(node, held) for node in joins.refused):
            return routes
        joins = _Joins(frozenset(held), [])


@dataclass(frozen=True)
class _Joins:
    """What a walk knows of concatenations: the tensors that hold a model input's ids (from the walk before), and the
    concatenations it met that joined any other tensor."""

    held: frozenset[int]
    refused: list[Any]


def _follow(
    model: keras.Model,
    tensor: Any,
    steps: tuple[str, ...],
    changed_by: str | None,
    scope: str,
    routes: list[_IdsRoute],
    seen: set[tuple[int, bool]],
    origin: tuple[str, keras.Model],
    joins: _Joins,
) -> None:
    # Each tensor is followed once as the input's ids and once as values changed from them: a graph that branches and
    # joins again (a residual block) would otherwise be walked once per path.
    if (id(tensor), changed_by is None) in seen:
        return
    seen.add((id(tensor), changed_by is None))
    for node in _compat.graph_nodes(model):
        if not any(inbound is tensor for inbound in node.input_tensors):
            continue
        operation = node.operation
        if not _is_integer(tensor) and type(operation) not in _compat.CAST_OPS:
            continue  # Ids cast to floats count only where they are cast back; floats computed on are not ids.
        step = f"{scope}{operation.name} ({type(operation).__name__})"
        if _is_embedding_half(operation):
            routes.append(_IdsRoute(operation, steps, changed_by))
            continue
        if isinstance(operation, _LOOKUP_LAYERS):
            continue  # The model looks the input up itself: it holds integer keys, served as they are.
        keeps_ids = _keeps_ids(node, tensor)
        if _is_joining(operation):
            keeps_ids = _joins_ids(node, joins.held)
            if not keeps_ids:
                joins.refused.append(node)
        if isinstance(operation, keras.Model):
            inner = _symbolic_inputs(operation)
            if len(inner) == 1:
                _follow(
                    operation,
                    inner[0],
                    (*steps, step),
                    changed_by,
                    f"{scope}{operation.name}/",
                    routes,
                    seen,
                    origin,
                    joins,
                )
                # Its outputs hold the ids as they were where every layer of the nested model on their way keeps them.
                keeps_ids = all((id(output), True) in seen for output in _symbolic_outputs(operation))
            elif any(_is_embedding_half(nested) for nested in _compat.flatten_layers(operation, include_self=False)):
                name, outer = origin
                raise ConfigurationError(
                    f"Input {name!r} of model '{outer.name}' feeds the nested model '{scope}{operation.name}', which "
                    f"takes {len(inner) or 'no symbolic'} inputs and holds a VocabIdEmbedding, so export_for_serving "
                    "cannot tell which of its ids the input gives. Call the VocabIdEmbedding in the outer model, or "
                    "pass `lookups=None` to serve ids (and run `layer.lookup()` before the model)."
                )
        after = changed_by if changed_by is not None or keeps_ids else step
        for output in node.output_tensors:
            # Vectors, scores and masks are not ids any lookup gives; a cast to floats may be cast back.
            if _is_integer(output) or type(operation) in _compat.CAST_OPS:
                _follow(model, output, (*steps, step), after, scope, routes, seen, origin, joins)


def _keeps_ids(node: Any, tensor: Any) -> bool:
    """Whether a call in a model's graph only moves or selects the elements of `tensor`, so that ids stay ids."""
    operation = node.operation
    if type(operation) in _LAYOUT_LAYERS:
        return len(node.input_tensors) == 1
    if type(operation) in _compat.LAYOUT_OPS:
        return _compat.first_argument(node) is tensor  # `x[ids]` gathers other values; `ids[...]` keeps ids.
    if type(operation) in _compat.CAST_OPS:
        return keras.backend.standardize_dtype(operation.dtype) in _ID_DTYPES and _is_integer(tensor)
    return False


def _is_joining(operation: Any) -> bool:
    return type(operation) in _JOINING_LAYERS or type(operation) in _compat.JOINING_OPS


def _joins_ids(node: Any, held: Set[int]) -> bool:
    """Whether a concatenation joins only integer tensors that hold ids of model inputs (`held`)."""
    return bool(node.input_tensors) and all(_is_integer(t) and id(t) in held for t in node.input_tensors)


def _is_integer(tensor: Any) -> bool:
    return "int" in keras.backend.standardize_dtype(tensor.dtype)


def _distinct(halves: Any) -> list[VocabIdEmbedding]:
    return list({id(half): half for half in halves}.values())


def _is_embedding_half(layer: Any) -> bool:
    """A `VocabIdEmbedding` that takes ids (not a joined `VocabEmbedding`, which takes keys)."""
    return isinstance(layer, VocabIdEmbedding) and not isinstance(layer, KeyLookup)


def _symbolic_inputs(model: keras.Model) -> list[Any]:
    """A functional or Sequential model's flat symbolic inputs; none for a subclassed one."""
    try:
        return list(model.inputs or ())
    except (AttributeError, TypeError, ValueError):
        return []


def _symbolic_outputs(model: keras.Model) -> list[Any]:
    """A functional or Sequential model's flat symbolic outputs; none for a subclassed one."""
    try:
        return list(model.outputs or ())
    except (AttributeError, TypeError, ValueError):
        return []


def _vocabulary_layers(model: keras.Model) -> list[VocabIdEmbedding]:
    layers = [layer for layer in _compat.flatten_layers(model, include_self=False)]
    layers = [layer for layer in layers if isinstance(layer, VocabIdEmbedding)]
    names = [layer.name for layer in layers]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(
            f"Model '{model.name}' holds several VocabEmbedding layers named {repeated}, so their vocabulary "
            "signatures would collide. Give the layers distinct `name=`s, or pass vocabulary_signatures=False."
        )
    return layers


def _vocabulary_functions(layer: KeyLookup) -> tuple[Any, Any, tf.TensorSpec]:
    tokens = layer._ids_to_tokens()
    if layer.vocabulary_dtype == "string":
        # An object array keeps every byte: a fixed-width bytes array would drop trailing NULs.
        values, key_dtype = np.array(tokens, dtype=object), tf.string
    else:
        values, key_dtype = np.array(tokens, dtype=np.int64), tf.int64

    def vocabulary() -> dict[str, tf.Tensor]:
        return {
            "tokens": tf.constant(values, dtype=key_dtype),
            "vocabulary_size": tf.constant(len(tokens), dtype=tf.int64),
        }

    def token_to_id(tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        # The layer's own lookup, so the ids are the ones the model uses, hashed OOV rows included.
        return {"ids": layer._lookup(tokens)}

    return vocabulary, token_to_id, tf.TensorSpec(None, key_dtype, name="tokens")


# Versions ---------------------------------------------------------------------------------------------


def _as_path(value: Any, argument: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ConfigurationError(
            f"`{argument}` must be a non-empty path (str or os.PathLike). Received: {argument}={value!r} of type "
            f"{type(value).__name__}."
        )
    return Path(os.fspath(value))


def _prepare_base_path(base: Path) -> list[Path]:
    """Checks `base_path` and creates it if missing; returns the directories it created, innermost first."""
    if base.exists() and not base.is_dir():
        raise ConfigurationError(
            f"`base_path` must be a directory (the model server's --model_base_path). Received: base_path={base} "
            "is a file."
        )
    if (base / "saved_model.pb").exists() or (base / "saved_model.pbtxt").exists():
        raise ConfigurationError(
            f"`base_path` {base} is itself a SavedModel. A model server loads versions from numbered "
            "subdirectories of the base path: pass the directory that should hold them (e.g. its parent)."
        )
    missing = []
    for directory in (base, *base.parents):
        if directory.exists():
            break
        _refuse_broken_link(directory, base)
        missing.append(directory)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _remove_if_empty(missing)
        blocker = next((directory for directory in base.parents if directory.exists()), None)
        if blocker is not None and not blocker.is_dir():  # `notes.txt/models`: errno's "Not a directory" names neither.
            raise ExportError(
                f"Cannot create the base path {base}: {blocker} is a file, not a directory. Pass a base path that "
                "is not under a file."
            ) from error
        raise ExportError(f"Cannot create the base path {base}: {error.strerror or error}.") from error
    return missing


def _refuse_broken_link(directory: Path, base: Path) -> None:
    """A `ConfigurationError` if `directory` (`base` or one of its parents, found missing) is a symbolic link.

    Such a link's target is missing (or the link is in a loop). It is not followed to create the target: a link
    names a place someone chose (another disk, a mount, a release directory), and making it up where the link
    points would publish the model somewhere nobody looks, or on the wrong disk; `mkdir -p` refuses it too. A link
    to an existing directory is used as that directory, as the CLI writes through a link to an existing file.
    """
    if not directory.is_symlink():
        return
    where = f"`base_path` {base}" if directory == base else f"`base_path` {base} lies under {directory}: it"
    try:
        os.stat(directory)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ConfigurationError(
                f"{where} is a symbolic link in a loop ({error.strerror}). Fix the link, or pass another base_path."
            ) from None
    target = os.path.realpath(directory)
    raise ConfigurationError(
        f"{where} is a symbolic link to {target}, which does not exist. An export does not create the missing target "
        f"of a link: create {target} if the versions belong there (the link then leads to it), point the link at "
        "an existing directory, or pass another base_path."
    )


def _remove_if_empty(directories: list[Path]) -> None:
    """Removes the directories (innermost first) that are still empty; another process may have written there."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return


def _existing_versions(base: Path) -> dict[int, Path]:
    # The model server reads any entry whose name parses as an integer ("007" is version 7).
    return {int(entry.name): entry for entry in base.iterdir() if _VERSION_NAME.fullmatch(entry.name)}


def _choose_version(base: Path, version: Any) -> int:
    existing = _existing_versions(base)
    if version is None:
        latest = max(existing, default=0)
        if latest + 1 >= 2**63:
            raise ConfigurationError(
                f"The next version after {existing[latest]} would be {latest + 1}, past the largest TensorFlow "
                "Serving reads (2**63 - 1). Pass `version=` explicitly, or remove that directory."
            )
        return latest + 1
    if not isinstance(version, (int, np.integer)) or isinstance(version, (bool, np.bool_)) or not 0 <= version < 2**63:
        raise ConfigurationError(
            f"`version` must be a non-negative integer, or None for the next free version. Received: "
            f"version={version!r}"
        )
    version = int(version)
    if version in existing and existing[version].is_symlink() and not existing[version].exists():
        raise VersionExistsError(
            f"Version {version} is taken at {existing[version]}, a symbolic link to "
            f"{os.path.realpath(existing[version])}, which does not exist (a model server lists it as version "
            f"{version} and fails to load it). An export never writes through a link: remove the link, or pass "
            f"version=None for the next free version ({max(existing) + 1})."
        )
    if version in existing:
        raise VersionExistsError(
            f"Version {version} already exists at {existing[version]}; an export never overwrites a version a "
            f"model server may be serving. Pass version=None for the next free version ({max(existing) + 1}), or "
            "delete that directory first."
        )
    return version


def _publish(staging: Path, target: Path) -> None:
    existing = _existing_versions(target.parent).get(int(target.name))
    if existing is not None:
        raise VersionExistsError(
            f"Version {target.name} appeared at {existing} while this export was being written; it was left as it "
            "is. Export again with version=None for the next free version."
        )
    try:
        os.rename(staging, target)
    except OSError as error:
        raise ExportError(f"Moving the finished export into place at {target} failed: {error}") from error


# Warm-up requests -------------------------------------------------------------------------------------


def _serving_apis() -> tuple[Any, Any]:
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError as error:
        raise ImportError(
            "Writing warm-up requests (`warmup_inputs=`) needs the tensorflow-serving-api package. Install it "
            f"with: {_SERVING_INSTALL_COMMAND}"
        ) from error
    return predict_pb2, prediction_log_pb2


def _warmup_requests(warmup_inputs: Any, plan: _ServingPlan) -> list[Any]:
    samples = [warmup_inputs] if isinstance(warmup_inputs, Mapping) else warmup_inputs
    if (
        isinstance(samples, (str, bytes))
        or not isinstance(samples, Sequence)
        or not samples
        or not all(isinstance(sample, Mapping) for sample in samples)
    ):
        raise ConfigurationError(
            "`warmup_inputs` must be a dict from signature input name to array, or a non-empty list of such dicts. "
            f"Received: warmup_inputs of type {type(warmup_inputs).__name__}. The signature's inputs are "
            f"{list(plan.input_names)}."
        )
    if len(samples) > _MAX_WARMUP_REQUESTS:
        raise ConfigurationError(
            f"`warmup_inputs` holds {len(samples)} requests; TensorFlow Serving refuses to load a version with more "
            f"than {_MAX_WARMUP_REQUESTS}. Pass at most {_MAX_WARMUP_REQUESTS} (a few representative batch sizes "
            "are enough)."
        )
    predict_pb2, _ = _serving_apis()
    requests = []
    for index, sample in enumerate(samples):
        if set(sample) != set(plan.input_names):
            raise ConfigurationError(
                f"`warmup_inputs` request {index} has inputs {sorted(sample)}, but the signature takes exactly "
                f"{sorted(plan.input_names)}. Give one array per signature input, keyed by its name."
            )
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = _SERVING_SIGNATURE
        for name, spec in zip(plan.input_names, plan.input_specs):
            if _is_ragged(sample[name]):
                raise ConfigurationError(
                    f"`warmup_inputs` request {index}, input {name!r}: its rows have different lengths, and a "
                    "request is one dense batch. Pad the rows to one length, or give each length its own request."
                )
            try:
                proto = tf.make_tensor_proto(sample[name], dtype=spec.dtype)
            except (TypeError, ValueError) as error:
                raise ConfigurationError(
                    f"`warmup_inputs` request {index}, input {name!r}: cannot be made a tensor of dtype "
                    f"{spec.dtype.name} ({error}). Pass values of the input's dtype."
                ) from None
            shape = tf.TensorShape([dim.size for dim in proto.tensor_shape.dim])
            if not spec.shape.is_compatible_with(shape):
                raise ConfigurationError(
                    f"`warmup_inputs` request {index}, input {name!r}: shape {shape.as_list()} does not fit the "
                    f"signature's {spec.shape}. Pass a batch of the input's shape."
                )
            request.inputs[name].CopyFrom(proto)
        requests.append(request)
    return requests


def _is_ragged(value: Any) -> bool:
    """Whether nested lists (a warm-up input) have rows of different lengths at some depth."""
    if not isinstance(value, (list, tuple)):
        return False
    lengths = {len(item) if isinstance(item, (list, tuple)) else None for item in value}
    return len(lengths) > 1 or any(_is_ragged(item) for item in value)


def _check_warmup(serve: Any, requests: list[Any], plan: _ServingPlan) -> None:
    """Runs each request as the model server will at load time: a failing one would stop the version loading."""
    for index, request in enumerate(requests):
        tensors = [
            tf.constant(tf.make_ndarray(request.inputs[name]), spec.dtype)
            for name, spec in zip(plan.input_names, plan.input_specs)
        ]
        try:
            serve(*tensors)
        except (tf.errors.OpError, ValueError, TypeError) as error:
            raise ConfigurationError(
                f"`warmup_inputs` request {index} fails when run through the exported signature: "
                f"{_error_summary(error)}. A model server would refuse to load this version; fix the sample inputs."
            ) from error


def _error_summary(error: Exception) -> str:
    """The line of a TensorFlow error that says what went wrong, without the traceback TensorFlow wraps it in."""
    lines = str(getattr(error, "message", None) or error).strip().splitlines()
    if isinstance(error, tf.errors.OpError):
        skipped = (" ", "\t", "Graph execution error", "Detected at node")
        lines = [line for line in lines if line.strip() and not line.startswith(skipped)][-1:] or lines
    return lines[0] if lines else type(error).__name__


def _write_warmup(path: Path, requests: list[Any]) -> None:
    _, prediction_log_pb2 = _serving_apis()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


# Op audit ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpAudit:
    """The op types a SavedModel's graph uses, where each is registered, and whether it loads in a target.

    Attributes:
        path: the SavedModel directory.
        ops: op type -> `"core"` (registered by TensorFlow itself),
            `"tensorflow_text"` (registered by tensorflow-text: listed in the
            package's op table, or registered once the installed
            `tensorflow_text` is imported) or `"unknown"` (neither), sorted by
            op.
        since: for each non-core op, the first tensorflow-text release (a
            minor release such as `"2.13"`) that registered it per the op
            table, or None if no release the table covers registers it. The
            table starts at 2.4, so `"2.4"` means 2.4 or earlier.
        target: the `OpTarget` audited against, or None.
        loads: with a target, op type -> whether the op loads there (every
            op, core ones included); empty without a target.
        nodes: for each non-core op, the names of the graph nodes that use
            it (their name scopes carry the Keras layer names).
    """

    path: str
    ops: dict[str, str]
    since: dict[str, str | None] = field(default_factory=dict)
    target: OpTarget | None = None
    loads: dict[str, bool] = field(default_factory=dict)
    nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def non_core(self) -> dict[str, str]:
        """The ops core TensorFlow does not register, with where they come from."""
        return {op: origin for op, origin in self.ops.items() if origin != "core"}

    @property
    def refused(self) -> dict[str, str]:
        """With a target, the ops that do not load there, with where they come from."""
        return {op: self.ops[op] for op, loads in self.loads.items() if not loads}

    def describe(self, op: str) -> str:
        """One line on a non-core op: its origin, the release that added it and whether it loads in the target."""
        text = _origin(self, op)
        if self.target is not None and op in self.loads:
            text += f"; {'loads' if self.loads[op] else 'does not load'} in {self.target}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary."""
        return {
            "path": self.path,
            "ops": dict(self.ops),
            "non_core": dict(self.non_core),
            "since": dict(self.since),
            "target": None if self.target is None else str(self.target),
            "loads": dict(self.loads),
            "refused": dict(self.refused),
            "nodes": {op: list(names) for op, names in self.nodes.items()},
        }

    def __str__(self) -> str:
        core = len(self.ops) - len(self.non_core)
        lines = [f"SavedModel {self.path}: {len(self.ops)} op types, {core} core TensorFlow"]
        if not self.non_core:
            lines[0] += "; it runs with TensorFlow alone."
        else:
            lines[0] += f", {len(self.non_core)} not:"
            for origin in sorted(set(self.non_core.values())):
                ops = ", ".join(op for op, where in self.non_core.items() if where == origin)
                lines.append(f"  {origin}: {ops}")
            lines.extend(f"    {op}: {self.describe(op)}" for op in self.non_core)
        if self.target is not None:
            refused = self.refused
            verdict = f"refused: {', '.join(refused)}" if refused else "every op loads"
            lines.append(f"Target {self.target}: {verdict}.")
            if self.target.source:
                lines.append(f"  ({self.target.source})")
        return "\n".join(lines)


def audit_ops(
    saved_model_path: str | os.PathLike[str],
    *,
    target: str | Mapping[str, str] | OpTarget | None = None,
) -> OpAudit:
    """Lists every op type a SavedModel uses, where it is registered, and whether it loads in a target.

    Reads `saved_model.pb` (every meta graph, and every function in each
    graph's library; calls to those functions are not ops). An op is core if
    it is registered after `import tensorflow` alone; the others are
    attributed to tensorflow-text if the package's op table lists them (it
    records the first release of each, from tensorflow-text 2.4 to 2.21) or
    importing the installed tensorflow-text registers them, and otherwise
    marked `"unknown"`. The registries are read in a fresh Python process,
    so ops loaded into this one (by `import tensorflow_text` or
    `tf.load_op_library`) do not count as core.

    A model server needs every non-core op linked in: TensorFlow Serving's
    binary includes the tensorflow-text ops of the release it pins, which is
    often older than the tensorflow-text that wrote the graph, and a plain
    `tf.saved_model.load` needs `import tensorflow_text` first.

    Args:
        saved_model_path: a SavedModel directory (a version directory, such
            as the path `export_for_serving` returns).
        target: optional: where the SavedModel will be loaded, as for
            `export_for_serving` (`"core"`, `"tensorflow-text==2.12"`,
            `"tensorflow-serving==2.16"`, or a one-entry dict). The audit then
            says whether each op loads there (`loads`, `refused`).

    Returns:
        An `OpAudit`.

    Raises:
        ConfigurationError: `saved_model_path` is not a SavedModel directory
            (the message names the versions a serving base path holds), or
            `target` is not one of the forms above.
        ModelFileError: its `saved_model.pb` (or `.pbtxt`) is truncated,
            damaged or holds no graph, as `inspect_model` says of it.
        ExportError: the Python process that reads the op registries failed.
    """
    op_target = None if target is None else parse_target(target)
    path = _as_path(saved_model_path, "saved_model_path")
    nodes = _ops_in_saved_model(path)
    origins = _classify_ops(tuple(sorted(nodes)), sys.executable)
    table = op_table()["ops"]
    ops = {}
    for op in sorted(nodes):
        origin = origins.get(op, "unknown")
        ops[op] = "tensorflow_text" if origin == "unknown" and op in table else origin
    non_core = [op for op, origin in ops.items() if origin != "core"]
    loads = {} if op_target is None else {op: op_target.loads(op, origin) for op, origin in ops.items()}
    return OpAudit(
        path=str(path),
        ops=ops,
        since={op: since_release(op) for op in non_core},
        target=op_target,
        loads=loads,
        nodes={op: tuple(sorted(nodes[op])) for op in non_core},
    )


def _read_saved_model(path: Path) -> Any:
    """The `SavedModel` proto of a SavedModel directory (`saved_model.pb`, or `.pbtxt`), or a typed error that
    names what is wrong with it."""
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError

    saved_model = _compat.saved_model_proto()
    binary, text = path / "saved_model.pb", path / "saved_model.pbtxt"
    if binary.is_file() or text.is_file():
        source = binary if binary.is_file() else text
        try:
            if source is binary:
                saved_model.ParseFromString(binary.read_bytes())
            else:
                text_format.Parse(text.read_text(encoding="utf-8"), saved_model)
        except (DecodeError, text_format.ParseError, UnicodeDecodeError, OSError) as error:
            raise ModelFileError(
                f"{source} cannot be read as a SavedModel ({error}): the file is truncated or damaged, or not a "
                "SavedModel. Export the model again."
            ) from None
        if not saved_model.meta_graphs:
            raise ModelFileError(f"{source} holds no graph (an empty or truncated file). Export the model again.")
    else:
        hint = ""
        if path.is_dir():
            versions = sorted(_existing_versions(path))
            if versions:
                hint = f" It holds versions {versions}: pass one of them, e.g. {path / str(versions[-1])}."
        raise ConfigurationError(
            f"`saved_model_path` must be a SavedModel directory (holding saved_model.pb). Received: "
            f"saved_model_path={path}.{hint}"
        )
    return saved_model


def _ops_in_saved_model(path: Path) -> dict[str, set[str]]:
    """Op type -> names of the nodes that use it, over every graph and function of a SavedModel."""
    saved_model = _read_saved_model(path)
    ops: dict[str, set[str]] = {}
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {function.signature.name: function for function in library.function}
        # A node inside a function (a tf.function a layer calls, a while loop's body) is named without the scopes
        # of the node that calls the function; prefix those, so the Keras layer scopes show in every name.
        caller: dict[str, str] = {}
        graphs = [("", meta_graph.graph_def.node)] + [(name, f.node_def) for name, f in functions.items()]
        for owner, nodes in graphs:
            for node in nodes:
                for called in _called_functions(node, functions):
                    caller.setdefault(called, f"{owner}\x00{node.name}")
        for owner, nodes in graphs:
            prefix = _caller_scope(owner, caller)
            for node in nodes:
                if node.op not in functions:
                    ops.setdefault(node.op, set()).add(prefix + node.name)
    return ops


def _called_functions(node: Any, functions: Mapping[str, Any]) -> list[str]:
    called = [node.op] if node.op in functions else []
    for value in node.attr.values():
        if value.HasField("func"):
            called.append(value.func.name)
        called.extend(function.name for function in value.list.func)
    return [name for name in called if name in functions]


def _caller_scope(function: str, caller: Mapping[str, str]) -> str:
    """The name of the node that calls `function`, and of the node calling that one, as a scope prefix."""
    prefix = ""
    seen = set()
    while function and function in caller and function not in seen:
        seen.add(function)
        function, node = caller[function].split("\x00", 1)
        prefix = f"{node}/{prefix}"
    return prefix


def _origin(audit: OpAudit, op: str) -> str:
    """Where a non-core op comes from, in words: `OpAudit.describe` and the refusal of a strict export both say it."""
    if audit.ops[op] == "unknown":
        return f"unknown op: neither core TensorFlow nor tensorflow-text {scanned_range()}"
    if audit.since.get(op) is None:
        return f"tensorflow-text op, registered by the installed release but in none of {scanned_range()}"
    return f"tensorflow-text op, added in tensorflow-text {since_text(op)}"


def _refusal_message(model: keras.Model, audit: OpAudit, target: OpTarget, version_dir: Path) -> str:
    refused = list(audit.refused)
    if target.kind == "core":
        which = "core TensorFlow does not register"
    else:
        which = "does not load there" if len(refused) == 1 else "do not load there"
    lines = [
        f"Model '{model.name}' cannot be served by {target}: its graph uses "
        f"{'an op that' if len(refused) == 1 else f'{len(refused)} ops that'} {which}. "
        f"Nothing was written at {version_dir}."
    ]
    for op in refused:
        lines.append(f"  - {op} ({_origin(audit, op)}); used by {_layers_using(model, op, audit.nodes.get(op, ()))}")
    if target.source:
        lines.append(f"  ({target}: {target.source})")
    newer = None if target.kind == "core" else target.newer_target_for(refused)
    if target.kind == "core":
        needed = [audit.since.get(op) for op in refused]
        known = [release for release in needed if release is not None]
        if len(known) == len(needed):
            newer = "tensorflow-text==" + max(known, key=lambda release: tuple(map(int, release.split("."))))
    fixes = ["give those layers a setting that needs only core TensorFlow ops, or move that step out of the model"]
    if newer is not None:
        fixes.append(f"serve with {newer} or newer (pass target={newer!r})")
    fixes.append("or pass strict=False and target=None to publish it anyway")
    lines.append("To fix: " + "; ".join(fixes) + ".")
    return "\n".join(lines)


def _layers_using(model: keras.Model, op: str, node_names: Sequence[str]) -> str:
    """Names the Keras layers whose name scopes hold the nodes, with a layer's own note on the setting."""
    described: list[str] = []
    unscoped = []
    for node_name in node_names:
        path = _layer_path(model, node_name)
        if not path:
            unscoped.append(node_name)
            continue
        layer = path[-1]
        text = f"layer '{'/'.join(each.name for each in path)}' ({type(layer).__name__})"
        setting = getattr(layer, "serving_op_setting", None)
        note = setting(op) if callable(setting) else None
        if note:
            text += f", setting {note}"
        if text not in described:
            described.append(text)
    if unscoped and not described:
        described.append(f"graph node '{unscoped[0]}' (outside any Keras layer of the model)")
    return ", ".join(described) or "no node found"


def _layer_path(model: keras.Model, node_name: str) -> list[keras.layers.Layer]:
    """The chain of (nested) layers whose name scopes a node name passes through, outermost first.

    Inside a traced call Keras scopes each layer as its name with a counter ("fold_1"), under the model's
    own scope; other scopes (ops, tf.name_scope) are skipped.
    """
    scopes = node_name.split("/")[:-1]
    if scopes and _scope_matches(model, scopes[0]):
        scopes = scopes[1:]
    path: list[keras.layers.Layer] = []
    current: keras.layers.Layer = model
    for scope in scopes:
        children = list(_compat.flatten_layers(current, include_self=False, recursive=False))
        chosen = next((child for child in children if _scope_matches(child, scope, exact=False)), None)
        chosen = chosen or next((child for child in children if child.name == scope), None)
        if chosen is not None:
            path.append(chosen)
            current = chosen
    return path


def _scope_matches(layer: keras.layers.Layer, scope: str, exact: bool = True) -> bool:
    counted = re.fullmatch(re.escape(layer.name) + r"_\d+", scope) is not None
    return counted or (exact and scope == layer.name)


@lru_cache(maxsize=32)
def _classify_ops(ops: tuple[str, ...], executable: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        result = subprocess.run(
            [executable, "-c", _compat.CLASSIFY_OPS_SCRIPT],
            input=json.dumps(list(ops)),
            capture_output=True,
            text=True,
            timeout=600,
            env=environment,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ExportError(f"The op audit could not start a Python process ({executable}): {error}") from error
    if result.returncode != 0:
        raise ExportError(
            f"The op audit's Python process ({executable}) failed with exit code {result.returncode}:\n"
            f"{result.stderr[-2000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])
