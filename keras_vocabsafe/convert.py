"""`convert_model`: replaces each Keras lookup + `Embedding` pair of a model with one `VocabEmbedding`, exactly.

A `keras.layers.StringLookup` or `IntegerLookup` (`output_mode="int"`) whose only consumer is a
`keras.layers.Embedding` becomes one `VocabEmbedding` that holds the lookup's vocabulary and special slots and
the Embedding's trained rows. The ids are Keras's layout in both (mask token 0, OOV ids next, tokens after),
and the conversion checks that rather than assuming it: it looks up every token of the vocabulary (plus the
mask token and keys that are not in it) in both, and runs both models on a probe batch built from the
vocabulary. Where the result could not predict exactly as the original does, nothing is converted and each
reason is listed (`ConversionError`), or, with `skip_unconvertible=True`, that pair is left as it was.

The graph is rebuilt from the model's config (functional, Sequential, and functional or Sequential models
nested in them), with each pair's two entries replaced by one; every other layer gets its state (variables
and assets) from the original through Keras's saving hooks. The original model is not modified.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any, cast

import keras
import numpy as np

from keras_vocabsafe import _compat
from keras_vocabsafe._tokens import display_token
from keras_vocabsafe.errors import ConversionError, VocabSafeError
from keras_vocabsafe.vocab_embedding import VocabEmbedding

__all__ = ["ConversionResult", "ConvertedPair", "Refusal", "convert_model"]

_MODEL_CLASSES = ("Functional", "Sequential")
_LOOKUP_CLASSES = ("StringLookup", "IntegerLookup")
# Keys that no vocabulary is likely to hold, to check where unknown keys land (several OOV ids are hashed).
_UNKNOWN_STRINGS = [f"\x00vocabsafe-unknown-{i}" for i in range(16)] + ["", "[UNK]", " ", "UNKNOWN"]
_SUBCLASSED = "a subclassed model: rebuild it as a functional model, or use VocabEmbedding directly in its code"
_PROBE_TOKENS = 2048  # Vocabulary tokens (spread over the vocabulary) in the model-level probe batch.
_FREE_LENGTH = 8  # Length used for an input dimension of unknown size in the probe batch.
_MAX_PROBE_BATCH = 256


@dataclasses.dataclass(frozen=True)
class ConvertedPair:
    """One lookup + `Embedding` pair replaced by a `VocabEmbedding`.

    Attributes:
        lookup: path of the lookup layer that was removed (`"inner_model/lookup"` inside a nested model).
        embedding: path of the `Embedding` that was replaced.
        layer: path of the new `VocabEmbedding` (it keeps the Embedding's name).
        lookup_class: `"StringLookup"` or `"IntegerLookup"`.
        vocabulary_size: number of ids (mask slot + OOV ids + tokens).
        output_dim: size of each vector.
        mask_token: the mask token, or `None`.
        num_oov_indices: number of OOV ids.
        rows_kept: rows copied from the Embedding (= `vocabulary_size`).
        rows_dropped: rows of the Embedding that no id could reach (`input_dim - vocabulary_size`).
    """

    lookup: str
    embedding: str
    layer: str
    lookup_class: str
    vocabulary_size: int
    output_dim: int
    mask_token: Any
    num_oov_indices: int
    rows_kept: int
    rows_dropped: int

    def to_json(self) -> dict[str, Any]:
        """This pair as a JSON-safe dict (what `vocabsafe convert --json` prints for it)."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        mask = "no mask token" if self.mask_token is None else f"mask token {display_token(self.mask_token)}"
        dropped = f", {self.rows_dropped:,} unreachable rows dropped" if self.rows_dropped else ""
        return (
            f"{self.lookup} ({self.lookup_class}) + {self.embedding} (Embedding) -> VocabEmbedding {self.layer!r}: "
            f"{self.vocabulary_size:,} ids ({mask}, {self.num_oov_indices} OOV), {self.output_dim}-dim, "
            f"{self.rows_kept:,} trained rows kept{dropped}"
        )


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A pair (or model) that cannot be converted exactly, and why."""

    layers: tuple[str, ...]
    reason: str

    def to_json(self) -> dict[str, Any]:
        """This refusal as a JSON-safe dict: the layers and the reason."""
        return {"layers": list(self.layers), "reason": self.reason}

    def __str__(self) -> str:
        return f"{' + '.join(self.layers)}: {self.reason}"


@dataclasses.dataclass
class ConversionResult:
    """What `convert_model` returns: the new model and what was replaced.

    Attributes:
        model: the converted `keras.Model` (not compiled: compile it before training; optimizer state is not
            carried over).
        converted: one `ConvertedPair` per replaced pair.
        skipped: with `skip_unconvertible=True`, the pairs left as they were, with the reason.
        notes: lookups left alone because they feed no `Embedding`, and what the probe could not check.
        probe_size: number of examples in the probe batch both models were run on (0: no model-level check).
    """

    model: Any
    converted: list[ConvertedPair]
    skipped: list[Refusal]
    notes: list[str]
    probe_size: int
    _probe_inputs: Any = dataclasses.field(default=None, repr=False)
    _expected_outputs: Any = dataclasses.field(default=None, repr=False)

    def verify(self, model: Any = None) -> None:
        """Raises `ConversionError` unless `model` (default: `self.model`) predicts what the original did.

        Runs the probe batch the conversion was checked on; use it on a converted model after saving and
        loading it again.
        """
        if self._probe_inputs is None:
            return
        model = self.model if model is None else model
        mismatch = _compare_outputs(self._expected_outputs, _run(model, self._probe_inputs))
        if mismatch:
            raise ConversionError(f"The converted model does not predict what the original did: {mismatch}.")

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-safe dict (what `vocabsafe convert --json` prints)."""
        return {
            "converted": [pair.to_json() for pair in self.converted],
            "skipped": [refusal.to_json() for refusal in self.skipped],
            "notes": list(self.notes),
            "probe_size": self.probe_size,
        }

    def __str__(self) -> str:
        lines = [f"Converted {len(self.converted)} pair(s):"]
        lines += [f"  {pair}" for pair in self.converted]
        if self.skipped:
            lines.append(f"Left as they were ({len(self.skipped)}):")
            lines += [f"  {refusal}" for refusal in self.skipped]
        lines += [f"Note: {note}" for note in self.notes]
        if self.probe_size:
            lines.append(
                f"Checked: both models give identical outputs on a probe batch of {self.probe_size:,} examples built "
                "from the vocabularies (with the mask token and unknown keys)."
            )
        return "\n".join(lines)


def convert_model(
    model: Any, *, skip_unconvertible: bool = False, progress: Callable[[int, int], None] | None = None
) -> ConversionResult:
    """Replaces each lookup + `Embedding` pair of a model with one `VocabEmbedding`, keeping ids and rows.

    A pair is a `keras.layers.StringLookup` or `keras.layers.IntegerLookup` with `output_mode="int"` whose
    only consumer is a `keras.layers.Embedding` that takes nothing else. The new layer has the lookup's
    vocabulary, mask token, OOV token and OOV ids, and the Embedding's name, rows, initializer, regularizer,
    constraint, `trainable` and dtype policy (mixed precision included). It keeps the Embedding's name, so
    `model.get_layer(embedding_name)` still finds the layer that holds the rows (`.embeddings`,
    `get_weights()`); it now takes the keys themselves rather than ids. Rows past the vocabulary (an
    Embedding with `input_dim` larger than needed) are dropped, since no id reaches them: outputs are
    unchanged, but an `embeddings_regularizer`'s penalty (a loss term) then covers the kept rows only (with L1
    or L2, the kept rows' gradients are unchanged; the loss value is smaller).

    Where a pair cannot be converted exactly, the reason is recorded: an `Embedding` shared or called more
    than once, a lookup output used by other layers too, a mask disagreement (`mask_zero=True` without a
    mask token: Keras then masks the OOV id 0; a mask token with `mask_zero=False`), fewer rows than ids (the
    model is already broken: run `vocabsafe inspect`), another `output_mode`, `invert=True`, a quantized
    Embedding, `TextVectorization`, a lookup input declared with another dtype than its keys (the new layer checks
    it), or a subclassed model or custom layer holding a pair. A model in which one layer with weights belongs to
    two of its (nested) models is refused as a whole, since re-creating it would untie that layer. A LoRA-enabled
    Embedding converts to a `VocabEmbedding` with LoRA of the same rank and alpha, whose rows are the merged rows
    and whose update starts at zero, as Keras's own save and load leave it (a note says so).

    The result is checked before it is returned: each pair's ids are compared key by key on the whole
    vocabulary (with the mask token and unknown keys), and both models are run on a probe batch built from
    the vocabularies; any difference raises `ConversionError`.

    Args:
        model: a functional or Sequential `keras.Model` (models nested in it are converted too). It is not
            modified.
        skip_unconvertible: if `False` (default), any pair that cannot be converted exactly raises
            `ConversionError` listing every reason, and nothing is converted. If `True`, those pairs are left
            as they were and listed in `result.skipped`.
        progress: optional callable, called as `progress(done, total)` after each pair is prepared.

    Returns:
        A `ConversionResult`: `result.model` is the new model, `result.converted` what was replaced.

    Raises:
        ConversionError: a pair (or the model) cannot be converted exactly, or there is nothing to convert;
            its `refusals` list each layer and reason.

    Example:

    >>> lookup = keras.layers.StringLookup(vocabulary=["the", "cat"], mask_token="")
    >>> tokens = keras.Input((None,), dtype="string")
    >>> model = keras.Model(tokens, keras.layers.Embedding(4, 8, mask_zero=True)(lookup(tokens)))
    >>> result = keras_vocabsafe.convert_model(model)
    >>> print(result)  # What was replaced.
    Converted 1 pair(s):
      string_lookup... (StringLookup) + embedding... (Embedding) -> VocabEmbedding ...: 4 ids ..., 4 trained rows kept
    Checked: both models give identical outputs on a probe batch of 3 examples ...
    >>> result.model.save("converted.keras")
    """
    if not isinstance(model, keras.Model):
        raise ConversionError(
            f"`model` must be a keras.Model (functional or Sequential). Received: {type(model).__name__}."
            + (
                " To convert a saved model, load it first with keras.saving.load_model(path), or run "
                "`vocabsafe convert MODEL OUT`."
                if isinstance(model, (str, os.PathLike))
                else ""
            )
        )
    if not _is_graph_model(model):
        raise ConversionError(
            f"Model {model.name!r} is a subclassed model ({type(model).__name__}): its layers are wired in "
            "Python code that cannot be rewritten. Rebuild it as a functional model, or use VocabEmbedding "
            "directly in its code.",
            refusals=[Refusal((model.name,), _SUBCLASSED)],
        )
    return _Converter(model, skip_unconvertible, progress).run()


# The converter ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Plan:
    """One pair that will be replaced: where it is, the new layer, its rows and its probe keys."""

    path: tuple[str, ...]  # Names of the nested models holding the pair (empty at the top level).
    lookup: Any
    embedding: Any
    layer: VocabEmbedding
    rows: np.ndarray
    probe_keys: np.ndarray
    record: ConvertedPair
    # A LoRA Embedding under a mixed policy: the rows as its own call merges them, in the compute dtype. Keras merges
    # in float32 inside a model of that policy but in the compute dtype inside a float32 model; the probe decides.
    other_rows: np.ndarray | None = None


class _Converter:
    def __init__(self, model: Any, skip_unconvertible: bool, progress: Callable[[int, int], None] | None) -> None:
        self.model = model
        self.skip_unconvertible = skip_unconvertible
        self.progress = progress
        self.plans: list[_Plan] = []
        self.refusals: list[Refusal] = []
        self.notes: list[str] = []

    def run(self) -> ConversionResult:
        _refuse_layers_shared_across_models(self.model)
        serialized = keras.saving.serialize_keras_object(self.model)
        candidates = self._find_pairs(self.model, serialized["config"], ())
        for done, (path, config, lookup, embedding) in enumerate(candidates, 1):
            self._plan_pair(path, config, lookup, embedding)
            if self.progress is not None:
                self.progress(done, len(candidates))
        if self.refusals and not self.skip_unconvertible:
            raise ConversionError(_refusal_message(self.model, self.refusals), refusals=self.refusals)
        if not self.plans:
            raise ConversionError(
                f"Nothing to convert in model {self.model.name!r}: no StringLookup or IntegerLookup feeds a "
                "keras.layers.Embedding directly"
                + (" that can be converted exactly" if self.refusals else "")
                + (f" ({'; '.join(self.notes)})" if self.notes else "")
                + ".",
                refusals=self.refusals,
            )
        for plan in self.plans:
            _rewrite(serialized["config"], plan)
        serialized.pop("compile_config", None)  # Optimizer state cannot carry over; the caller compiles.
        new_model = _rebuild(self.model, serialized)
        self._transfer_state(self.model, new_model, ())
        self._set_rows(new_model, other=False)
        inputs = self._probe_inputs()
        expected = None
        size = 0
        if inputs is not None:
            expected = _run(self.model, inputs)
            mismatch = _compare_outputs(expected, _run(new_model, inputs))
            lora_under_mixed = [plan for plan in self.plans if plan.other_rows is not None]
            if mismatch and lora_under_mixed:
                self._set_rows(new_model, other=True)
                mismatch = _compare_outputs(expected, _run(new_model, inputs))
                if mismatch:
                    names = ", ".join(plan.record.embedding for plan in lora_under_mixed)
                    raise ConversionError(
                        f"The LoRA Embedding(s) {names} of {self.model.name!r} run under a mixed precision policy, "
                        f"and neither merging their update in float32 nor in the compute dtype reproduces the "
                        f"model's outputs ({mismatch}); nothing was converted. Convert a float32 copy of the model.",
                        refusals=[Refusal((self.model.name,), f"outputs differ on the probe batch: {mismatch}")],
                    )
            if mismatch:
                raise ConversionError(
                    f"The converted model of {self.model.name!r} does not predict what the original does ({mismatch}); "
                    "nothing was converted. Please report this with the model's summary.",
                    refusals=[Refusal((self.model.name,), f"outputs differ on the probe batch: {mismatch}")],
                )
            size = int(np.shape(keras.tree.flatten(inputs)[0])[0])
        return ConversionResult(
            model=new_model,
            converted=[plan.record for plan in self.plans],
            skipped=list(self.refusals),
            notes=list(self.notes),
            probe_size=size,
            _probe_inputs=inputs,
            _expected_outputs=expected,
        )

    def _set_rows(self, new_model: Any, *, other: bool) -> None:
        """Each new layer's rows (`other`: a LoRA layer's rows merged in its compute dtype, where it has those)."""
        for plan in self.plans:
            layer = _get_nested(new_model, plan.path).get_layer(plan.embedding.name)
            weights = [plan.other_rows if other and plan.other_rows is not None else plan.rows]
            if layer.lora_enabled:  # Its new A as built, and a zero B: its rows are the merged rows, exactly.
                b_shape = tuple(layer.lora_embeddings_b.shape)
                weights += [keras.ops.convert_to_numpy(layer.lora_embeddings_a), np.zeros(b_shape, "float32")]
            layer.set_weights(weights)

    # Finding pairs ---------------------------------------------------------------------------------------

    def _find_pairs(self, container: Any, config: dict[str, Any], path: tuple[str, ...]) -> list[tuple]:
        """(path, config of the container, lookup, embedding) of every Embedding fed by a lookup, at any depth."""
        entries = config["layers"]
        sequential = type(container).__name__ == "Sequential"
        names = [entry.get("name", entry["config"].get("name")) for entry in entries]
        layers = {layer.name: layer for layer in container.layers}
        found = []
        refused: set[str] = set()  # Lookups whose refusal says why they were left.
        for index, entry in enumerate(entries):
            name = names[index]
            layer = layers.get(name)
            if layer is None or entry["class_name"] == "InputLayer":
                continue  # An input, or an op such as a mask's `not_equal` (ops are not layers).
            if _is_graph_model(layer):
                found += self._find_pairs(layer, entry["config"], (*path, name))
                continue
            if isinstance(layer, keras.Model):
                self._check_opaque_model(layer, path)
                continue
            if isinstance(layer, keras.layers.TimeDistributed) and isinstance(layer.layer, keras.layers.Embedding):
                source = names[index - 1] if sequential and index > 0 else _single_source(entry)
                if source is not None and _is_lookup(layers.get(source)):
                    refused.add(source)
                    self.refusals.append(
                        Refusal(
                            (_path(path, source), _path(path, name)),
                            f"the Embedding is wrapped in TimeDistributed '{name}', which convert does not rewrite. "
                            "An embedding applies to each id alone, so the wrapper is not needed: a VocabEmbedding "
                            "takes the keys of every step directly (build the model with it and copy the rows: row "
                            "i of the Embedding is the vector of the lookup's id i)",
                        )
                    )
                continue
            if isinstance(layer, keras.layers.Embedding):
                source = names[index - 1] if sequential and index > 0 else _single_source(entry)
                if sequential and index > 0 and entries[index - 1]["class_name"] == "InputLayer":
                    source = None
                if source is not None and _is_lookup(layers.get(source)):
                    found.append((path, config, layers[source], layer))
                elif source is None and not sequential:
                    self._embedding_inputs_from_lookup(container, entry, path, layer)
                continue
            if not _is_lookup(layer):
                self._check_opaque_model(layer, path)  # A custom layer holding a pair is as opaque as a model.
        for index, entry in enumerate(entries):
            if entry["class_name"] in _LOOKUP_CLASSES + ("TextVectorization",):
                lookup = layers[names[index]]
                if not any(pair[2] is lookup for pair in found) and names[index] not in refused:
                    self.notes.append(
                        f"{_path(path, lookup.name)} ({type(lookup).__name__}) was left as it is: it feeds no "
                        "Embedding directly. Convert replaces a lookup and the Embedding of the same model that takes "
                        "its output as it is; where layers, ops or the boundary of a nested model stand between "
                        "them (a preprocessing model glued to the model holding the Embedding), build that part "
                        "with VocabEmbedding and copy the rows (row i of the Embedding is the vector of id i)"
                    )
        return found

    def _embedding_inputs_from_lookup(self, container: Any, entry: dict, path: tuple[str, ...], layer: Any) -> None:
        """An Embedding called several times, or on several tensors, where a lookup is among its sources."""
        sources = {history[0] for history in _histories(entry)}
        layers = {layer.name: layer for layer in container.layers}
        lookups = [name for name in sources if _is_lookup(layers.get(name))]
        if lookups:
            self.refusals.append(
                Refusal(
                    tuple(_path(path, name) for name in sorted(lookups)) + (_path(path, layer.name),),
                    f"the Embedding is called {len(entry['inbound_nodes'])} times (or on several inputs), so it is "
                    "shared: one VocabEmbedding cannot replace it and its lookup(s) for every caller. Give each "
                    "input its own Embedding, or convert by hand",
                )
            )

    def _check_opaque_model(self, layer: Any, path: tuple[str, ...]) -> None:
        inner = list(_compat.flatten_layers(layer, include_self=False))
        has_lookup = any(_is_lookup(sub) for sub in inner)
        has_embedding = any(isinstance(sub, keras.layers.Embedding) for sub in inner)
        if has_lookup and has_embedding:
            model = isinstance(layer, keras.Model)
            kind = "a subclassed model" if model else "a custom layer"
            fix = "Rebuild it as a functional model" if model else "Build the pair into the model itself"
            self.refusals.append(
                Refusal(
                    (_path(path, layer.name),),
                    f"{kind} ({type(layer).__name__}) holding a lookup and an Embedding: its wiring is Python code "
                    f"that cannot be rewritten. {fix}, or use VocabEmbedding directly in its code",
                )
            )

    # Checking one pair -----------------------------------------------------------------------------------

    def _plan_pair(self, path: tuple[str, ...], config: dict[str, Any], lookup: Any, embedding: Any) -> None:
        names = (_path(path, lookup.name), _path(path, embedding.name))
        reason = _graph_refusal(config, lookup, embedding) or _layer_refusal(lookup, embedding)
        if reason is None:
            try:
                plan = _build_plan(path, lookup, embedding)
            except _Refused as refused:
                reason = str(refused)
            except VocabSafeError as error:
                reason = f"VocabEmbedding refuses the lookup's settings: {str(error).rstrip('.')}"
            else:
                self.plans.append(plan)
                if plan.layer.lora_rank:
                    self.notes.append(
                        f"{names[1]} has LoRA (rank {plan.layer.lora_rank}): the new layer's rows are the Embedding's "
                        "with its LoRA update merged in, and LoRA is enabled on them with a zero update, as Keras's "
                        "own save and load leave it"
                    )
                return
        self.refusals.append(Refusal(names, reason))

    # State and probe ------------------------------------------------------------------------------------

    def _transfer_state(self, old_container: Any, new_container: Any, path: tuple[str, ...]) -> None:
        """Gives every layer of the new model the state (variables and assets) of its original."""
        replaced = {plan.lookup.name for plan in self.plans if plan.path == path}
        replaced |= {plan.embedding.name for plan in self.plans if plan.path == path}
        nested = {
            plan.path[len(path)] for plan in self.plans if len(plan.path) > len(path) and plan.path[: len(path)] == path
        }
        for old_layer in old_container.layers:
            if old_layer.name in replaced:
                continue
            new_layer = new_container.get_layer(old_layer.name)
            if old_layer.name in nested:
                self._transfer_state(old_layer, new_layer, (*path, old_layer.name))
            else:
                _copy_state(old_layer, new_layer)

    def _probe_inputs(self) -> Any:
        """A batch for the whole model: each converted lookup's keys in the input that feeds it, fillers elsewhere."""
        try:
            flat = list(self.model.inputs)
        except (AttributeError, ValueError):
            flat = []
        if not flat:
            self.notes.append("the model has no defined inputs, so only the pairs' ids were compared")
            return None
        # A Sequential model was never called as a layer, so only `inputs` (one tensor) is defined for it.
        structure = flat[0] if len(flat) == 1 else self.model.input
        flat = keras.tree.flatten(structure)
        keys_for = {}
        for plan in self.plans:
            tensor = self._model_input_of(plan)
            for position, model_input in enumerate(flat):
                if tensor is model_input:
                    keys_for[position] = plan.probe_keys
            if tensor is None:
                self.notes.append(
                    f"{plan.record.lookup} does not read a model input directly, so it was checked id by id and the "
                    "model probe feeds it filler keys"
                )
        shapes = []
        for model_input in flat:
            if getattr(model_input, "sparse", False) or getattr(model_input, "ragged", False):
                self.notes.append("the model has a sparse or ragged input, so only the pairs' ids were compared")
                return None
            shapes.append([_FREE_LENGTH if dim is None else int(dim) for dim in model_input.shape[1:]])
        per_example = [max(1, math.prod(shape)) for shape in shapes]
        batch = 1
        for position, keys in keys_for.items():
            batch = max(batch, math.ceil(len(keys) / per_example[position]))
        batch = min(batch, _MAX_PROBE_BATCH)
        rng = np.random.default_rng(0)
        values = []
        for position, (model_input, shape) in enumerate(zip(flat, shapes)):
            count = batch * per_example[position]
            dtype = keras.backend.standardize_dtype(model_input.dtype)
            if position in keys_for:
                keys = keys_for[position]
                value = np.resize(keys, count)
                value[: min(count, len(keys))] = keys[:count]
            elif dtype == "string":
                value = np.full(count, b"", dtype=object)
            elif dtype == "bool":
                value = rng.integers(0, 2, count).astype(bool)
            elif "int" in dtype:
                value = np.zeros(count, dtype=dtype)
            else:
                value = rng.normal(size=count).astype(dtype)
            values.append(value.reshape([batch, *shape]))
        return keras.tree.pack_sequence_as(structure, values)

    def _model_input_of(self, plan: _Plan) -> Any:
        """The top-level model input a pair's lookup reads (through nested models called once), or None."""
        if not plan.path and type(self.model).__name__ == "Sequential":
            # Keras may build a Sequential more than once (so its layers have several calls); the first reads the input.
            return self.model.inputs[0] if self.model.layers[0] is plan.lookup else None
        tensors = _compat.inbound_tensors(plan.lookup)
        if len(tensors) != 1:
            return None
        tensor = tensors[0]
        for depth in range(len(plan.path), 0, -1):
            inner = _get_nested(self.model, plan.path[:depth])
            positions = [index for index, model_input in enumerate(inner.inputs) if model_input is tensor]
            outer = _compat.inbound_tensors(inner)
            if len(positions) != 1 or len(outer) != len(inner.inputs):
                return None  # Not an input of the nested model, or the nested model is called several times.
            tensor = outer[positions[0]]
        return tensor


class _Refused(Exception):
    """A pair that cannot be converted exactly (internal: becomes a `Refusal`)."""


def _lora_settings(embedding: Any) -> dict[str, Any]:
    """LoRA as the Embedding has it: the new layer's base matrix is the Embedding's rows with the update merged in,
    and its own update starts at zero (`B` is zeros), as Keras's own save and load leave a LoRA Embedding."""
    if not getattr(embedding, "lora_enabled", False):
        return {}
    rank = int(embedding.lora_rank)
    return {"lora_rank": rank, "lora_alpha": getattr(embedding, "lora_alpha", rank)}


def _unlisted_oov_token(tokens: list[Any], dtype: str, mask_token: Any) -> Any:
    """An OOV token name that is neither listed nor the mask token, to suggest in a refusal."""
    if dtype == "string":
        name = "[UNK]"
        while name.encode("utf-8") in tokens or name == mask_token:
            name = f"[{name}]"
        return name
    number = -1
    while number in tokens or number == mask_token:
        number -= 1
    return number


def _build_plan(path: tuple[str, ...], lookup: Any, embedding: Any) -> _Plan:
    dtype = "string" if type(lookup).__name__ == "StringLookup" else "int64"
    tokens = _lookup_tokens(lookup, dtype)
    if not tokens:
        raise _Refused("the lookup has no vocabulary (it was never adapted and got none): there are no ids to keep")
    oov_token = lookup.oov_token.encode("utf-8") if isinstance(lookup.oov_token, str) else lookup.oov_token
    if lookup.mask_token is not None and lookup.mask_token == lookup.oov_token:
        # Keras gives the mask token id 0 and unknown keys the OOV id(s) whatever the OOV token is called;
        # a VocabEmbedding needs the two names apart, and renaming the OOV token changes no id.
        suggestion = _unlisted_oov_token(tokens, dtype, lookup.mask_token)
        raise _Refused(
            f"the lookup's mask_token and oov_token are both {display_token(lookup.mask_token)}, and a "
            "VocabEmbedding needs them to differ. Rebuild the lookup with the same vocabulary and another "
            f"oov_token it does not list (e.g. oov_token={suggestion!r}; the ids stay as they are, only the OOV "
            "token's name changes) and convert again"
        )
    if oov_token in tokens:
        # Keras keeps its OOV token as an ordinary token where the vocabulary lists it after other tokens (or
        # with several OOV ids); a VocabEmbedding takes a listed OOV token for its OOV slot.
        at = tokens.index(oov_token) + (lookup.mask_token is not None) + lookup.num_oov_indices
        raise _Refused(
            f"the lookup's vocabulary lists its oov_token {display_token(lookup.oov_token)} as an ordinary token "
            f"(id {at}, besides the OOV id(s) unknown keys get), which a VocabEmbedding would take for its OOV "
            "slot, so ids would change. Rebuild the lookup with the same vocabulary and an oov_token it does not "
            "list (the ids stay as they are) and convert again, or convert by hand"
        )
    layer_config = embedding.get_config()
    layer = VocabEmbedding(
        output_dim=embedding.output_dim,
        vocabulary=tokens,
        vocabulary_dtype=dtype,
        num_oov_indices=lookup.num_oov_indices,
        mask_token=lookup.mask_token,
        oov_token=lookup.oov_token,
        embeddings_initializer=layer_config["embeddings_initializer"],
        embeddings_regularizer=layer_config["embeddings_regularizer"],
        embeddings_constraint=layer_config["embeddings_constraint"],
        activity_regularizer=layer_config.get("activity_regularizer"),
        name=embedding.name,
        trainable=embedding.trainable,
        dtype=embedding.dtype_policy,
        **_lora_settings(embedding),
    )
    vocabulary_size = layer.vocabulary_size()
    if vocabulary_size != lookup.vocabulary_size():
        raise _Refused(
            f"the lookup reports {lookup.vocabulary_size()} ids but its tokens and special slots give "
            f"{vocabulary_size}; its vocabulary could not be read exactly"
        )
    input_dim = int(embedding.input_dim)
    if input_dim < vocabulary_size:
        raise _Refused(
            f"the Embedding has input_dim={input_dim} rows but the lookup gives {vocabulary_size} ids, so the "
            f"{vocabulary_size - input_dim} highest ids have no row: this model is already broken (those ids raise "
            "an error on CPU and give zero vectors on GPU) and no conversion can reproduce it. Run `vocabsafe "
            "inspect` on it, and retrain with input_dim=lookup.vocabulary_size()"
        )
    known, unknown = _probe_keys(tokens, lookup, dtype)
    probe = np.concatenate([known, unknown])
    expected = keras.ops.convert_to_numpy(lookup(probe))
    actual = np.asarray(layer.token_to_id(probe))
    if not np.array_equal(expected, actual):
        first = int(np.flatnonzero(expected != actual)[0])
        raise _Refused(
            f"the lookup gives id {int(expected[first])} for key {display_token(probe[first])} but a VocabEmbedding "
            f"with its vocabulary gives {int(actual[first])}; ids would change"
        )
    # With LoRA, `embeddings` is the matrix with the update merged in float32 (what Keras saves).
    rows = keras.ops.convert_to_numpy(embedding.embeddings)[:vocabulary_size]
    other_rows = None
    if getattr(embedding, "lora_enabled", False) and embedding.compute_dtype != embedding.variable_dtype:
        ids = np.arange(vocabulary_size, dtype="int32")
        other_rows = keras.ops.convert_to_numpy(embedding(ids)).astype(embedding.variable_dtype)
    record = ConvertedPair(
        lookup=_path(path, lookup.name),
        embedding=_path(path, embedding.name),
        layer=_path(path, embedding.name),
        lookup_class=type(lookup).__name__,
        vocabulary_size=vocabulary_size,
        output_dim=int(embedding.output_dim),
        mask_token=lookup.mask_token,
        num_oov_indices=int(lookup.num_oov_indices),
        rows_kept=vocabulary_size,
        rows_dropped=input_dim - vocabulary_size,
    )
    if len(known) > _PROBE_TOKENS:
        known = known[np.linspace(0, len(known) - 1, _PROBE_TOKENS).astype(np.int64)]
    model_keys = np.concatenate([known, unknown])
    return _Plan(path, lookup, embedding, layer, rows, model_keys, record, other_rows)


def _lookup_tokens(lookup: Any, dtype: str) -> list[Any]:
    """The lookup's tokens in id order, without special slots, byte for byte (strings as bytes)."""
    if int(lookup.lookup_table.size()) == 0:  # Exporting a table that was never given a vocabulary fails.
        return []
    keys, values = lookup.lookup_table.export()
    keys, values = keys.numpy(), values.numpy()
    start = (lookup.mask_token is not None) + lookup.num_oov_indices
    keep = values >= start
    order = np.argsort(values[keep], kind="stable")
    tokens = keys[keep][order]
    ids = values[keep][order]
    if not np.array_equal(ids, np.arange(start, start + len(ids))):
        raise _Refused("the lookup's ids are not contiguous after its special slots; its table is not Keras's layout")
    if dtype == "string":
        return [bytes(token) for token in tokens.tolist()]
    return [int(token) for token in tokens.tolist()]


def _probe_keys(tokens: list[Any], lookup: Any, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Every token; and the special tokens with keys outside the vocabulary (to see where unknown keys go)."""
    special = [token for token in (lookup.mask_token, lookup.oov_token) if token is not None]
    if dtype == "string":
        extra = [token.encode("utf-8") if isinstance(token, str) else token for token in special + _UNKNOWN_STRINGS]
        known = np.empty(len(tokens), dtype=object)
        known[:] = tokens
        return known, np.array(extra, dtype=object)
    known = np.asarray(tokens, dtype=np.int64)
    unknown = [-1, 0, 1, 2, 3, 7, 1000003, int(known.max()) + 1, int(known.min()) - 1, -(2**40), 2**40 + 17]
    return known, np.asarray(special + unknown, dtype=np.int64)


def _graph_refusal(config: dict[str, Any], lookup: Any, embedding: Any) -> str | None:
    """Why the wiring around a pair rules out replacing it with one layer, or None."""
    entries = {entry.get("name", entry["config"].get("name")): entry for entry in config["layers"]}
    if "inbound_nodes" not in next(iter(entries.values()), {}):  # Sequential: one call each, in a chain.
        names = list(entries)
        if names.count(lookup.name) > 1 or names.count(embedding.name) > 1:
            return "the Sequential model lists the lookup or the Embedding twice (a shared layer)"
        return None
    lookup_entry, embedding_entry = entries[lookup.name], entries[embedding.name]
    if len(lookup_entry["inbound_nodes"]) != 1:
        return (
            f"the lookup is called {len(lookup_entry['inbound_nodes'])} times (shared by several inputs); one "
            "VocabEmbedding per call would be needed. Give each input its own lookup, or convert by hand"
        )
    if len(embedding_entry["inbound_nodes"]) != 1:
        return (
            f"the Embedding is called {len(embedding_entry['inbound_nodes'])} times (shared with another input), "
            "so its rows serve ids from elsewhere too. Give each input its own Embedding, or convert by hand"
        )
    if _call_input(embedding_entry["inbound_nodes"][0]) is None:
        return "the Embedding is called with more than the lookup's ids"
    consumers = []
    for name, entry in entries.items():
        for call in entry.get("inbound_nodes", []):
            uses_ids = any(history[0] == lookup.name for history in _call_histories(call))
            if uses_ids and name != embedding.name and not _is_mask_op(entry, call, lookup.name, embedding):
                consumers.append(name)
    if any(_ref_history(item)[0] == lookup.name for item in _tensor_refs(config.get("output_layers"))):
        consumers.append("the model's outputs")
    if consumers:
        return (
            f"the lookup's ids also go to {', '.join(sorted(set(consumers)))}, which would lose them; convert by "
            "hand, or give those layers their own lookup"
        )
    return None


def _layer_refusal(lookup: Any, embedding: Any) -> str | None:
    """Why the two layers' settings rule out an exact VocabEmbedding, or None."""
    kind = type(lookup).__name__
    if kind == "TextVectorization":
        return (
            "TextVectorization + Embedding is not converted: TextVectorization lowercases ASCII letters only and "
            "splits on ASCII whitespace only, while TextVocabEmbedding lowercases and splits by Unicode (e.g. "
            "'ÉLAN', 'naïve\\xa0cat' and 'the\\u2028cat' get other ids), so predictions would change on such text. "
            "Build a TextVocabEmbedding from `layer.get_vocabulary(include_special_tokens=False)` and copy the rows "
            "by hand if that difference is acceptable"
        )
    if lookup.invert:
        return "the lookup has invert=True (it maps ids to tokens), so it gives no ids to an Embedding"
    if lookup.output_mode != "int":
        return f"the lookup has output_mode={lookup.output_mode!r}; only 'int' gives ids to an Embedding"
    if getattr(lookup, "sparse", False) or getattr(lookup, "idf_weights", None) is not None:
        return "the lookup has sparse=True or idf_weights, which only apply to other output modes"
    if lookup.num_oov_indices < 1:
        return (
            "the lookup has num_oov_indices=0 (unknown keys raise an error), but VocabEmbedding maps them to an "
            "OOV row, which shifts every id by one"
        )
    if lookup.num_oov_indices > 1:
        method, salt = getattr(lookup, "oov_method", "floormod"), getattr(lookup, "salt", None)
        if salt is not None:
            return "the lookup hashes unknown keys with a salt (SipHash); VocabEmbedding uses unsalted FarmHash"
        if kind == "IntegerLookup" and method != "farmhash":
            return (
                f"the lookup spreads unknown integers over its {lookup.num_oov_indices} OOV ids with "
                "`key % num_oov_indices`; VocabEmbedding hashes them, so unknown keys would get other rows"
            )
    if kind == "StringLookup" and str(getattr(lookup, "encoding", "utf-8")).lower().replace("_", "-") != "utf-8":
        return f"the lookup has encoding={lookup.encoding!r}; VocabEmbedding compares UTF-8 bytes"
    wanted = "string" if kind == "StringLookup" else "an integer dtype"
    for tensor in _compat.inbound_tensors(lookup):
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if (dtype == "string") != (kind == "StringLookup") or (dtype != "string" and "int" not in dtype):
            # Keras's lookup takes any symbolic dtype and casts at run time; VocabEmbedding checks it when the
            # model is rebuilt, so the rebuilt model would fail to build rather than run.
            return (
                f"the lookup's input is declared {dtype} in the model's graph (a `keras.Input` without `dtype=`, or "
                f"a Lambda without an output dtype), though it takes keys of {wanted}; a VocabEmbedding checks its "
                f"input's dtype when the model is built, so it cannot take that input. Declare the input's dtype "
                f"(`keras.Input(..., dtype={'string' if kind == 'StringLookup' else 'int64'!r})`) and convert again"
            )
    if type(embedding) is not keras.layers.Embedding:
        return f"{type(embedding).__name__} is a subclass of Embedding; its call may differ from Embedding's"
    if not embedding.built:
        return "the Embedding is not built, so it has no rows to keep"
    if getattr(embedding, "quantization_mode", None) is not None or embedding.dtype_policy.quantization_mode:
        return "the Embedding is quantized; VocabEmbedding holds float rows. Convert the float model, then quantize"
    if getattr(embedding, "sparse", False):
        return "the Embedding has sparse=True (sparse gradients), which VocabEmbedding does not offer"
    if embedding.mask_zero and lookup.mask_token is None:
        return (
            "the Embedding has mask_zero=True but the lookup has no mask token, so Keras masks id 0, which is the "
            "OOV id: unknown keys are masked out. VocabEmbedding masks only a mask token, so it cannot reproduce "
            "this. Fix the model (a mask token on the lookup, or mask_zero=False) and retrain; see `vocabsafe inspect`"
        )
    if not embedding.mask_zero and lookup.mask_token is not None:
        return (
            f"the lookup has mask_token={lookup.mask_token!r} but the Embedding has mask_zero=False, so the model "
            "emits no mask; a VocabEmbedding with that mask token would emit one and change what masking layers "
            "downstream compute"
        )
    return None


def _is_mask_op(entry: dict[str, Any], call: dict[str, Any], lookup_name: str, embedding: Any) -> bool:
    """Whether a node is the `not_equal(ids, 0)` an Embedding with `mask_zero=True` adds to the graph."""
    args = call.get("args", [])
    return (
        embedding.mask_zero
        and entry["class_name"] == "NotEqual"
        and not call.get("kwargs")
        and len(args) == 2
        and (history := _history(args[0])) is not None
        and history[0] == lookup_name
        and args[1] == 0
    )


def _rewrite(config: dict[str, Any], plan: _Plan) -> None:
    """Replaces a pair's two entries of a (nested) model config with the new layer's entry."""
    for name in plan.path:
        config = next(entry for entry in config["layers"] if entry.get("name", entry["config"].get("name")) == name)
        config = config["config"]
    entries = config["layers"]
    names = [entry.get("name", entry["config"].get("name")) for entry in entries]
    lookup_index, embedding_index = names.index(plan.lookup.name), names.index(plan.embedding.name)
    serialized = keras.saving.serialize_keras_object(plan.layer)
    # No build_config: the new layer builds when the model calls it, from its vocabulary.
    new_entry = {key: serialized[key] for key in ("module", "class_name", "config", "registered_name")}
    if "inbound_nodes" in entries[lookup_index]:
        new_entry["name"] = plan.embedding.name
        new_entry["inbound_nodes"] = copy.deepcopy(entries[lookup_index]["inbound_nodes"])
        key_input = _call_input(new_entry["inbound_nodes"][0])
        # The Embedding's mask op compared ids with 0; the same mask is keys != mask token (only it has id 0).
        for entry in entries:
            for call in entry.get("inbound_nodes", []):
                if _is_mask_op(entry, call, plan.lookup.name, plan.embedding):
                    call["args"] = [copy.deepcopy(key_input), plan.layer.mask_token]
    entries[embedding_index] = new_entry
    del entries[lookup_index]


def _refuse_layers_shared_across_models(model: Any) -> None:
    """Raises `ConversionError` if a layer with weights belongs to two models of the model (the top one, nested ones).

    Each model's config lists only its own calls of a layer, so re-creating the model from its config gives each
    model its own copy: the layer's weights would silently stop being one (Keras's own save and load fail on it).
    """
    owners: dict[int, tuple[Any, list[str]]] = {}
    models = [model, *(layer for layer in _compat.flatten_layers(model, include_self=False))]
    for container in models:
        if isinstance(container, keras.Model) and _is_graph_model(container):
            for layer in container.layers:
                owners.setdefault(id(layer), (layer, []))[1].append(container.name)
    shared = [(layer, names) for layer, names in owners.values() if len(names) > 1 and layer.weights]
    if shared:
        listed = "; ".join(f"{layer.name!r} is in {', '.join(repr(name) for name in names)}" for layer, names in shared)
        raise ConversionError(
            f"Model {model.name!r} has layers shared by several of its (nested) models ({listed}), so nothing was "
            "converted: convert re-creates the model from its config, which would give each model its own copy of "
            "such a layer and untie its weights. Give each model its own layer, or convert by hand.",
            refusals=[
                Refusal(tuple(names), f"layer {layer.name!r} is shared by these models") for layer, names in shared
            ],
        )


def _rebuild(model: Any, serialized: dict[str, Any]) -> Any:
    """The model re-created from its (rewritten) config, or `ConversionError` saying why it cannot be."""
    # The model's own classes, as `keras.models.clone_model` passes them: a custom layer defined without
    # `register_keras_serializable` (in a notebook, in a function) is then found by its name.
    # Two classes of one name (made by one function twice) cannot be told apart: neither is passed.
    classes: dict[str, set[type]] = {}
    for layer in _compat.flatten_layers(model):
        if not type(layer).__module__.startswith("keras."):
            classes.setdefault(type(layer).__name__, set()).add(type(layer))
    custom_objects = {name: next(iter(found)) for name, found in classes.items() if len(found) == 1}
    try:
        # The config comes from a model already in this process, so re-creating its objects runs no new code.
        return keras.saving.deserialize_keras_object(serialized, custom_objects=custom_objects, safe_mode=False)
    except Exception as error:
        cause: BaseException = error
        while cause.__cause__ is not None or cause.__context__ is not None:
            cause = cast("BaseException", cause.__cause__ or cause.__context__)
        message = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(cause)).split())
        message = message if len(message) <= 500 else message[:497] + "..."
        raise ConversionError(
            f"Model {model.name!r} could not be re-created from its config, which convert does to replace its layers, "
            f"so nothing was converted: {type(cause).__name__}: {message}. A custom layer, function or object in it "
            "must be registered with `@keras.saving.register_keras_serializable()` and its get_config() must "
            "return every argument of its __init__; check with "
            "`keras.Model.from_config(model.get_config())`.",
            refusals=[Refusal((model.name,), "the model does not re-create from its config")],
        ) from error


def _copy_state(old: Any, new: Any) -> None:
    """Copies variables and assets layer by layer, through the hooks Keras's own saving calls."""
    old_layers = list(_compat.flatten_layers(old))
    new_layers = list(_compat.flatten_layers(new))
    if [type(layer) for layer in old_layers] != [type(layer) for layer in new_layers]:
        raise ConversionError(
            f"Layer {old.name!r} did not rebuild from its config with the same sublayers, so its state cannot be "
            "copied; its get_config() leaves something out.",
            refusals=[Refusal((old.name,), "the layer does not rebuild from its config")],
        )
    for source, target in zip(old_layers, new_layers):
        store: dict[str, Any] = {}
        source.save_own_variables(store)
        if store:
            target.load_own_variables(store)
        if hasattr(source, "save_assets") and hasattr(target, "load_assets"):
            with tempfile.TemporaryDirectory(prefix="vocabsafe-convert-") as directory:
                source.save_assets(directory)
                target.load_assets(directory)


def _run(model: Any, inputs: Any) -> list[np.ndarray]:
    outputs = model(inputs, training=False)
    return [keras.ops.convert_to_numpy(output) for output in keras.tree.flatten(outputs)]


def _compare_outputs(expected: list[np.ndarray], actual: list[np.ndarray]) -> str | None:
    if len(expected) != len(actual):
        return f"{len(expected)} outputs before, {len(actual)} after"
    for index, (before, after) in enumerate(zip(expected, actual)):
        if before.shape != after.shape or before.dtype != after.dtype:
            return f"output {index} was {before.dtype}{before.shape}, is {after.dtype}{after.shape}"
        equal_nan = before.dtype.kind in "fc"
        if not np.array_equal(before, after, equal_nan=equal_nan):
            difference = np.abs(before.astype(np.float64) - after.astype(np.float64))
            return f"output {index} differs by up to {np.nanmax(difference):.3g}"
    return None


# Config helpers -----------------------------------------------------------------------------------------


def _is_graph_model(layer: Any) -> bool:
    """A Keras functional or Sequential model (not a subclass, whose get_config and wiring may be its own)."""
    cls = type(layer)
    return cls.__name__ in _MODEL_CLASSES and cls.__module__.startswith("keras.")


def _is_lookup(layer: Any) -> bool:
    return type(layer).__name__ in _LOOKUP_CLASSES + ("TextVectorization",) and type(layer).__module__.startswith(
        "keras."
    )


def _history(item: Any) -> list[Any] | None:
    if isinstance(item, dict) and item.get("class_name") == "__keras_tensor__":
        return item["config"]["keras_history"]
    if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
        return item  # `input_layers` / `output_layers` entries are bare [name, node, tensor] lists.
    return None


def _ref_history(ref: Any) -> list[Any]:
    """The history of a reference that `_tensor_refs` found (it found it by its history)."""
    return cast("list[Any]", _history(ref))


def _tensor_refs(value: Any) -> list[Any]:
    """Every tensor reference in a config value (nested lists and dicts)."""
    if _history(value) is not None:
        return [value]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _tensor_refs(item)]
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in _tensor_refs(item)]
    return []


def _call_input(call: dict[str, Any]) -> Any:
    """The one input of a layer call, passed as `layer(x)` or `layer(inputs=x)`; None for any other call."""
    args, kwargs = list(call.get("args", [])), dict(call.get("kwargs", {}))
    if len(args) == 1 and not kwargs:
        return args[0]
    if not args and list(kwargs) == ["inputs"]:
        return kwargs["inputs"]
    return None


def _call_histories(call: dict[str, Any]) -> list[list[Any]]:
    return [_ref_history(ref) for ref in _tensor_refs([call.get("args", []), call.get("kwargs", {})])]


def _histories(entry: dict[str, Any]) -> list[list[Any]]:
    return [history for call in entry.get("inbound_nodes", []) for history in _call_histories(call)]


def _single_source(entry: dict[str, Any]) -> str | None:
    """The layer whose output is an entry's only input in its only call, or None."""
    calls = entry.get("inbound_nodes", [])
    if len(calls) != 1:
        return None
    histories = _call_histories(calls[0])
    return histories[0][0] if len(histories) == 1 else None


def _get_nested(model: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        model = model.get_layer(name)
    return model


def _path(path: tuple[str, ...], name: str) -> str:
    return "/".join((*path, name))


def _refusal_message(model: Any, refusals: list[Refusal]) -> str:
    listed = "; ".join(str(refusal) for refusal in refusals)
    return (
        f"Model {model.name!r} cannot be converted exactly, so nothing was converted ({len(refusals)} problem(s)): "
        f"{listed}. Pass skip_unconvertible=True (`--skip-unconvertible`) to convert the other pairs."
    )
