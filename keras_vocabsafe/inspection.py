"""`inspect_model`: find vocabulary/embedding mismatches in a saved or in-memory Keras model, without running it.

A `.keras` file is read without being deserialized: its `config.json` says
which layer feeds which, its `model.weights.h5` gives the embedding shapes
(and, for this package's layers, the tokens the rows were trained for), and
its `assets/` hold the vocabularies of adapted Keras lookups. No code from
the file runs (stricter than Keras's safe mode), unregistered custom layers
are no obstacle, and no vocabulary's hash table is built. Only to check that
Keras can load them, the layers this check reads (Keras lookups and
`Embedding`, and this package's layers) are built from their configs by
their own classes, as `load_model` builds them, a long vocabulary cut to its
first tokens.

Each lookup feeding an embedding (directly, or through layers that keep
indices, such as `Reshape` or `Flatten`) becomes a `LayerPair`; each problem
a `Finding` with a severity, a stable code and a message that says what goes
wrong at run time and how to fix it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from keras_vocabsafe import _compat, _weights_store
from keras_vocabsafe import _inspect_messages as messages
from keras_vocabsafe._tokens import canonical_token, decode_tokens, display_token, layer_ids
from keras_vocabsafe.errors import ConfigurationError, ModelFileError, VocabSafeError
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = ["Finding", "InspectionReport", "LayerPair", "inspect_model"]

_SEVERITIES = ("error", "warning", "note")

# Keras lookups whose integer output is an id, and the default special tokens of each.
_KERAS_VOCABULARY_LOOKUPS = {"StringLookup", "IntegerLookup", "TextVectorization"}
# Keras layers that hash their input into `num_bins` ids: no vocabulary, but ids known from the config alone.
_KERAS_HASHING = {"Hashing", "HashedCrossing"}
_KERAS_LOOKUPS = _KERAS_VOCABULARY_LOOKUPS | _KERAS_HASHING
_HASH_BUCKETS = "hash buckets"  # The lookup class of a SavedModel's pair whose ids come from hash ops alone.
_OUR_LOOKUPS = {"VocabLookup", "TextVocabLookup"}
_OUR_FUSED = {"VocabEmbedding", "TextVocabEmbedding"}
_OUR_ID_EMBEDDINGS = {"VocabIdEmbedding"}
_KNOWN_LAYERS = _KERAS_LOOKUPS | _OUR_LOOKUPS | _OUR_FUSED | _OUR_ID_EMBEDDINGS | {"Embedding"}
# Layers whose output holds the very values of their input (moved, repeated or cut, never changed or added to),
# so ids pass through them unchanged. Zero padding is left out: it adds 0s, which are the mask or OOV id.
_INDEX_KEEPING = {
    "Reshape",
    "Flatten",
    "Permute",
    "RepeatVector",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Identity",
    "Concatenate",
    "Masking",  # Compares values to add a mask; the values pass unchanged.
}
_H5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
# What `str.splitlines()` splits on: Keras reads a lookup's vocabulary asset with it (in text mode, where a
# lone "\r" is a line end too), so a token holding one of these comes back as several tokens.
_LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_PROGRESS_THRESHOLD = 1 << 22  # Bytes of vocabulary asset above which reading it shows progress.


# Results -------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem (or remark) about a model: `severity` is "error", "warning" or "note"; `code` is stable."""

    severity: str
    code: str
    layers: tuple[str, ...]
    message: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """This finding as a JSON-safe dict."""
        return {
            "severity": self.severity,
            "code": self.code,
            "layers": list(self.layers),
            "message": self.message,
            "details": self.details,
        }


@dataclasses.dataclass(frozen=True)
class LayerPair:
    """A lookup and the embedding its ids select rows of (or one layer that is both, such as `VocabEmbedding`).

    `vocabulary_size` counts every id the lookup gives (mask and OOV slots included); `rows` is the number of
    rows those ids can select (`input_dim`, or a `VocabIdEmbedding`'s ids, padding excluded); `between` names
    the index-keeping layers the ids pass through; `padding_rows` counts the zero rows after `rows` that
    `pad_to_multiple_of` adds to this package's embeddings (no id is meant to select them).
    """

    kind: str
    lookup: str | None
    lookup_class: str | None
    embedding: str
    embedding_class: str
    vocabulary_size: int | None
    mask_id: int | None
    oov_ids: tuple[int, ...]
    rows: int | None
    mask_zero: bool | None
    between: tuple[str, ...] = ()
    padding_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """This pair as a JSON-safe dict."""
        return {
            "kind": self.kind,
            "lookup": self.lookup,
            "lookup_class": self.lookup_class,
            "embedding": self.embedding,
            "embedding_class": self.embedding_class,
            "vocabulary_size": self.vocabulary_size,
            "mask_id": self.mask_id,
            "oov_ids": list(self.oov_ids),
            "rows": self.rows,
            "mask_zero": self.mask_zero,
            "between": list(self.between),
            "padding_rows": self.padding_rows,
        }


@dataclasses.dataclass
class InspectionReport:
    """What `inspect_model` found: the lookup/embedding `pairs` and the `findings`, errors first."""

    source: str
    pairs: list[LayerPair]
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "note"]

    def exit_code(self, fail_on: str = "warning") -> int:
        """1 if there is an error (or, with `fail_on="warning"`, a warning); else 0. Notes never fail."""
        if fail_on not in ("warning", "error"):
            raise ConfigurationError(f"`fail_on` must be 'warning' or 'error'. Received: fail_on={fail_on!r}")
        failing = {"error"} if fail_on == "error" else {"error", "warning"}
        return int(any(f.severity in failing for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-safe dict (`to_json()` gives it as a JSON string)."""
        return {
            "source": self.source,
            "pairs": [pair.to_dict() for pair in self.pairs],
            "findings": [finding.to_dict() for finding in self.findings],
            "summary": {severity: sum(f.severity == severity for f in self.findings) for severity in _SEVERITIES},
        }

    def to_json(self) -> str:
        """The report as one JSON document (as `vocabsafe inspect --json` prints it)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def __str__(self) -> str:
        lines = [f"{self.source}: {len(self.pairs)} lookup/embedding pair(s)"]
        for pair in self.pairs:
            lines.append("")
            if pair.lookup is None or pair.lookup == pair.embedding:
                lines.append(f"  {pair.embedding} ({pair.embedding_class})")
            else:
                route = " -> ".join([f"{pair.lookup} ({pair.lookup_class})", *pair.between])
                lines.append(f"  {route} -> {pair.embedding} ({pair.embedding_class})")
            size = "unknown" if pair.vocabulary_size is None else f"{pair.vocabulary_size:,}"
            rows = "unknown" if pair.rows is None else f"{pair.rows:,}"
            if pair.padding_rows:
                rows += f" (and {pair.padding_rows:,} zero padding row(s) of `pad_to_multiple_of`)"
            mask = "none" if pair.mask_id is None else str(pair.mask_id)
            oov = _id_ranges(pair.oov_ids)
            if pair.lookup_class in _KERAS_HASHING | {_HASH_BUCKETS}:  # Ids are hash bins (and a mask): no OOV.
                lines.append(f"    hash bins {size} (mask id {mask}); embedding rows {rows}")
            else:
                lines.append(f"    vocabulary size {size} (mask id {mask}, OOV ids {oov}); embedding rows {rows}")
            if pair.mask_zero is not None:
                lines.append(f"    mask_zero={pair.mask_zero}")
        counts = {severity: sum(f.severity == severity for f in self.findings) for severity in _SEVERITIES}
        lines.append("")
        if not self.findings:
            lines.append("No problems found.")
        else:
            for finding in self.findings:
                lines.append(f"{finding.severity}: [{finding.code}] {', '.join(finding.layers)}")
                lines.append(f"  {finding.message}")
            lines.append("")
            lines.append(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['note']} note(s).")
        return "\n".join(lines)


# Entry point ---------------------------------------------------------------------------------------------------

_ProgressFactory = Callable[[int | None, str], Any]


def inspect_model(
    model_or_path: Any,
    *,
    weights: str | os.PathLike[str] | None = None,
    vocabulary: Any = None,
    layer: str | None = None,
    progress: _ProgressFactory | None = None,
) -> InspectionReport:
    """Checks every vocabulary lookup and the embedding its ids index, without running data through the model.

    Finds ids that can exceed the embedding's rows (error), rows no id can
    reach (warning), mask disagreements (`mask_zero=True` without a mask
    token: error; a mask token with `mask_zero=False`: warning),
    vocabularies Keras cannot reload from its own asset (error), weights
    written for another vocabulary (error), configs Keras cannot rebuild a
    lookup or embedding from (error; a note for other layers of Keras's own)
    and, with `vocabulary`, tokens whose id differs from the vocabulary the
    model was trained with (error).

    Args:
        model_or_path: a `keras.Model`, or the path of a `.keras` file (read
            without deserializing it, so no code from it runs) or of a
            SavedModel directory (or a serving base directory holding one
            version), whose graph is read without loading it: each lookup
            table's ids are followed to the 2-D variable they gather from.
        weights: optional path of a `.weights.h5` file (or the
            `.weights.json` index of sharded weights, whose shards must lie
            beside it: a missing or truncated one raises `ModelFileError`)
            to check against the architecture (for example the training
            run's weights against the exported model): its rows and, for
            this package's layers, its tokens replace those of the model.
        vocabulary: optional. The vocabulary the model was trained with: a
            file `Vocabulary.load` reads (a `get_vocabulary()` list saved one
            token per line works; leading special tokens are ignored), a
            list of tokens or a `Vocabulary`.
        layer: the name of the lookup (or `VocabEmbedding`) `vocabulary`
            belongs to; needed when the model has several.
        progress: optional `progress(total, label)` returning a context
            manager with `update(steps)`, shown while reading a big
            vocabulary (the CLI passes its progress bar).

    Returns:
        An `InspectionReport`.

    Raises:
        ModelFileError: a file is missing, truncated, of the wrong kind, or
            `weights` belongs to another architecture.
        ConfigurationError: `vocabulary` is given but the model has no
            lookup to compare it with, or several and `layer` is not set.
    """
    progress = progress or _no_progress
    is_model = hasattr(model_or_path, "get_config") and hasattr(model_or_path, "layers")
    if not is_model and not isinstance(model_or_path, (str, os.PathLike)):
        raise ConfigurationError(
            "`model_or_path` must be a keras.Model or the path (str or os.PathLike) of a saved model. Received: "
            f"model_or_path={model_or_path!r} of type {type(model_or_path).__name__}."
        )
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ConfigurationError(
            "`weights` must be the path (str or os.PathLike) of a .weights.h5 file, or None. Received: "
            f"weights={weights!r} of type {type(weights).__name__}."
        )
    source: _ObjectSource | _KerasFileSource
    if is_model:
        source = _ObjectSource(model_or_path)
        label = f"model '{model_or_path.name}'"
    else:
        path = os.fspath(model_or_path)
        label = path
        kind = _file_kind(path, "model")
        if kind == "savedmodel":
            if weights is not None:
                raise ModelFileError(
                    f"--weights applies to .keras models; {path} is a SavedModel directory, which holds its weights."
                )
            if vocabulary is not None or layer is not None:
                raise ConfigurationError(
                    f"--vocabulary and --layer apply to .keras models; {path} is a SavedModel directory. Compare "
                    "with the .keras model it was exported from, or read the export's vocabulary signature "
                    "(`vocabulary_<layer name>`, written by export_for_serving) and compare its tokens."
                )
            from keras_vocabsafe import _inspect_savedmodel

            pairs, findings = _inspect_savedmodel.inspect_savedmodel(path)
            return InspectionReport(label, pairs, _sorted(findings))
        if kind == "legacy-model":
            raise ModelFileError(_legacy_model_advice(path))
        if kind == "weights":
            raise ModelFileError(
                f"{path} is a weights file (HDF5): it holds rows but not the architecture, so it cannot be read "
                "alone. Pass the model too: `vocabsafe inspect MODEL.keras --weights "
                f"{os.path.basename(path)}` (or `inspect_model('MODEL.keras', weights=...)`)."
            )
        source = _KerasFileSource(path, progress)
    try:
        if weights is not None:
            source.use_weights(os.fspath(weights))
        graph = _Graph(source.config(), source)
        analysis = _Analysis(graph, source)
        analysis.run()
        if vocabulary is not None:
            analysis.compare_with_expected(vocabulary, layer)
        elif layer is not None:
            raise ConfigurationError("`layer` names the lookup that `vocabulary` belongs to; pass `vocabulary` too.")
    finally:
        source.close()
    return InspectionReport(label, analysis.pairs, _sorted(analysis.findings))


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: _SEVERITIES.index(f.severity))


class _NoProgress:
    def update(self, steps: int = 1) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _no_progress(total: int | None, label: str) -> _NoProgress:
    return _NoProgress()


def _file_kind(path: str, what: str) -> str:
    """'keras', 'weights' or 'savedmodel', or a `ModelFileError` saying what the path is instead."""
    expected = (
        "a .weights.h5 file (written by `model.save_weights`) or the .weights.json index of sharded weights"
        if what == "weights"
        else "a .keras file or a SavedModel directory"
    )
    if not os.path.exists(path):
        raise ModelFileError(f"{path} does not exist. Pass the path of {expected}.")
    if what == "weights" and os.path.isdir(path):
        raise ModelFileError(f"{path} is a directory. Pass the path of {expected}.")
    if os.path.isdir(path):
        from keras_vocabsafe._inspect_savedmodel import savedmodel_directory

        if savedmodel_directory(path) is not None:  # A SavedModel, or a serving base directory with one version.
            return "savedmodel"
        raise ModelFileError(
            f"{path} is a directory but not a SavedModel (it has no saved_model.pb, nor one version directory "
            "holding one). Pass a .keras file or a SavedModel directory."
        )
    if what == "weights" and path.endswith(".weights.json") and os.path.isfile(path):
        return "sharded"  # The JSON index of sharded weights (`max_shard_size`); the shards are checked on use.
    if not os.path.isfile(path):
        # A pipe would be read (and used up) here; the zip and HDF5 readers then seek in what is left and fail as
        # if the file were truncated. A device may never end.
        raise ModelFileError(
            f"{path} is {_special_file_kind(path)}, not a regular file: a {what} file cannot be inspected from a pipe "
            f"or a device, since it is read by seeking within it. Write it to a file first (e.g. `cat > "
            f"{_example_name(what)}`) and pass that file's path."
        )
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read: {error.strerror or error}.") from None
    if not head:
        raise ModelFileError(f"{path} is empty (0 bytes): the save was interrupted or the file was truncated.")
    if head.startswith(_ZIP_MAGIC):
        return "keras"
    if head == _H5_MAGIC:
        return "legacy-model" if _is_legacy_model(path) else "weights"
    raise ModelFileError(
        f"{path} is not a {what} file Keras writes: a .keras file is a zip archive and a .weights.h5 file is HDF5, "
        "but this file starts with neither signature. Pass the file written by "
        + ("`model.save_weights('name.weights.h5')`." if what == "weights" else "`model.save('name.keras')`.")
    )


def _is_legacy_model(path: str) -> bool:
    """Whether an HDF5 file is a whole model in Keras's legacy format (`model.save("model.h5")`, which Keras 3
    still writes): its root holds the architecture as a `model_config` attribute, which a weights file lacks."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return "model_config" in h5.attrs
    except (OSError, KeyError, RuntimeError, ValueError):  # A damaged file: reading it as weights says so.
        return False


def _legacy_model_advice(path: str) -> str:
    return (
        f"{path} is a whole model in Keras's legacy HDF5 format (written by `model.save('model.h5')`): it holds the "
        "architecture and the rows, but laid out otherwise than the .keras files and SavedModel directories this "
        f"check reads. Load it in Python (`model = keras.saving.load_model({path!r})`) and inspect the model in "
        "memory (`inspect_model(model)`), or save it as a .keras file (`model.save('model.keras')`) and inspect that."
    )


def _special_file_kind(path: str) -> str:
    """'a pipe', 'a character device'... for a path that exists and is neither a regular file nor a directory."""
    mode = os.stat(path).st_mode
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "neither a file nor a directory"


def _example_name(what: str) -> str:
    return "model.weights.h5" if what == "weights" else "model.keras"


# Where the layers' state comes from -------------------------------------------------------------------------------


class _KerasFileSource:
    """A `.keras` file: config, weights (HDF5, read lazily) and assets, opened without deserializing anything."""

    def __init__(self, path: str, progress: _ProgressFactory) -> None:
        self.path = path
        self.progress = progress
        self.weights_label = path
        try:
            self.zip = zipfile.ZipFile(path)
            names = set(self.zip.namelist())
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise ModelFileError(
                f"{path} is not a readable .keras file ({error}); the file is truncated or damaged. Save the model "
                "again with `model.save(...)`."
            ) from None
        if "config.json" not in names:
            self.zip.close()
            raise ModelFileError(
                f"{path} is a zip archive but not a .keras file: it has no config.json. Pass the file written by "
                "`model.save('name.keras')`."
            )
        self.names = names
        self._h5: Any = None
        self._h5_handle: Any = None
        self._external_weights: str | None = None
        self._shards: list[str] | None = None
        self._names_by_group: dict[str, str] | None = None

    def config(self) -> dict[str, Any]:
        try:
            config = json.loads(self.zip.read("config.json"))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, UnicodeDecodeError) as error:
            raise ModelFileError(
                f"The config.json of {self.path} cannot be read ({error}); the file is damaged."
            ) from None
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise ModelFileError(f"The config.json of {self.path} does not describe a Keras model.")
        return config

    def use_weights(self, path: str) -> None:
        kind = _file_kind(path, "weights")
        if kind == "legacy-model":
            raise ModelFileError(
                "--weights takes a .weights.h5 file (HDF5, written by `model.save_weights`), not a whole model. "
                + _legacy_model_advice(path)
            )
        if kind not in ("weights", "sharded"):
            raise ModelFileError(
                f"--weights takes a .weights.h5 file (HDF5, written by `model.save_weights`); {path} is a {kind} "
                "file. Pass the model as MODEL and the weights with --weights."
            )
        # Sharded weights: the index names the shards, each checked as `load_weights` checks them.
        shards = _weights_store.check_shards(path, ModelFileError) if kind == "sharded" else None
        own = self.h5()
        with _unreadable(f"the model.weights.h5 inside {self.path}"):
            own_paths = None if own is None else _dataset_paths(own)
        self._close_h5()
        self._external_weights = path
        self._shards = shards
        self.weights_label = path
        other = self.h5()
        if own_paths is not None:
            with _unreadable(path):
                other_paths = _dataset_paths(other)
            missing, extra = sorted(own_paths - other_paths), sorted(other_paths - own_paths)
            if missing or extra:
                example = f"it lacks {missing[0]}" if missing else f"it has {extra[0]}, which the model has not"
                raise ModelFileError(
                    f"{path} holds the weights of another architecture than {self.path} ({example}; "
                    f"{len(missing)} missing and {len(extra)} extra arrays). Pass the weights saved from this model."
                )

    def h5(self) -> Any:
        """The weights file (h5py), or None if the model holds none."""
        if self._h5 is not None:
            return self._h5
        import h5py

        try:
            if self._shards is not None:
                self._h5 = _joined_shards(self._shards)
                return self._h5
            if self._external_weights is not None:
                self._h5 = h5py.File(self._external_weights, "r")
                return self._h5
            if "model.weights.h5" not in self.names:
                return None
            # Keras stores the members uncompressed, so h5py's seeks into the member are cheap.
            self._h5_handle = self.zip.open("model.weights.h5")
            self._h5 = h5py.File(self._h5_handle, "r")
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            where = self._external_weights or f"the model.weights.h5 inside {self.path}"
            raise ModelFileError(
                f"{where} cannot be read as HDF5 ({error}); the file is truncated or damaged. Save the weights again."
            ) from None
        return self._h5

    def _close_h5(self) -> None:
        for handle in (self._h5, self._h5_handle):
            if handle is not None:
                handle.close()
        self._h5 = self._h5_handle = None
        self._names_by_group = None

    def close(self) -> None:
        self._close_h5()
        self.zip.close()

    def _group(self, node: _Node) -> Any:
        """The node's `vars` group in the weights file, found by Keras's path or (Keras >= 3.13) by its name."""
        h5 = self.h5()
        if h5 is None or node.weights_path is None:
            return None
        # Keras loads by path, not by name: weights from another process carry other auto-generated names.
        group = h5.get(f"{node.weights_path}/vars")
        if group is not None:
            return group
        if self._names_by_group is None:
            names_by_group: dict[str, str] = {}
            self._names_by_group = names_by_group

            def visit(name: str, item: Any) -> None:
                if name.endswith("vars") and "name" in item.attrs:
                    names_by_group.setdefault(_text(item.attrs["name"]), name)

            h5.visititems(visit)
        found = self._names_by_group.get(node.name)
        return None if found is None else h5[found]

    def rows(self, node: _Node) -> int | None:
        layout = self.matrix_layout(node)
        return None if layout is None or len(layout[0]) != 2 else layout[0][0]

    @property
    def lacks_weights(self) -> bool:
        """Whether the `.keras` file holds no weights at all (and no `--weights` file stands in)."""
        return self._external_weights is None and not {"model.weights.h5", "model.weights.npz"} & set(self.names)

    def matrix_layout(self, node: _Node) -> tuple[tuple[int, ...], str, int] | None:
        """The saved matrix's shape and dtype, and how many arrays the layer saved (besides its vocabulary)."""
        with _unreadable(f"the weights of layer '{node.name}' in {self.weights_label}"):
            group = self._group(node)
            if group is None or "0" not in group:
                return None
            matrix = group["0"]
            arrays = sum(1 for key in group if key.isdigit())
            return tuple(int(d) for d in matrix.shape), str(matrix.dtype), arrays

    def saved_tokens(self, node: _Node, dtype: str) -> list[Any] | None:
        with _unreadable(f"the weights of layer '{node.name}' in {self.weights_label}"):
            group = self._group(node)
            if group is None or _weights_store.TOKENS_KEY not in group:
                return None
            return _weights_store.read_tokens(group, dtype, owner=f"layer '{node.name}'")

    def asset(self, node: _Node) -> bytes | None:
        if node.weights_path is None:
            return None
        name = f"assets/{node.weights_path}/vocabulary.txt"
        if name not in self.names:
            return None
        info = self.zip.getinfo(name)
        chunks = []
        with self.zip.open(name) as f:
            label = f"reading the vocabulary of '{node.name}'"
            bar = self.progress(info.file_size, label) if info.file_size > _PROGRESS_THRESHOLD else _NoProgress()
            with bar:
                while chunk := f.read(1 << 20):
                    chunks.append(chunk)
                    bar.update(len(chunk))
        return b"".join(chunks)

    def layer_object(self, node: _Node) -> Any:
        return None

    def nested_matrices(self, node: _Node) -> list[tuple[str, tuple[int, ...]]]:
        """The 2-D arrays a layer's sub-layers saved (path below the layer, shape): what a custom layer holds."""
        h5 = self.h5()
        group = None if h5 is None or node.weights_path is None else h5.get(node.weights_path)
        if group is None or not hasattr(group, "visititems"):
            return []
        found: list[tuple[str, tuple[int, ...]]] = []

        def visit(name: str, item: Any) -> None:
            if not name.startswith("vars/") and getattr(item, "ndim", 0) == 2:
                found.append((name.replace("/vars/", "/"), tuple(int(d) for d in item.shape)))

        with _unreadable(f"the weights of layer '{node.name}' in {self.weights_label}"):
            group.visititems(visit)
        return found


class _ObjectSource:
    """An in-memory `keras.Model`: the same config Keras would save, and the layer objects' state."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.weights_label = f"model '{model.name}'"
        self._external: _KerasFileSource | None = None

    def config(self) -> dict[str, Any]:
        import keras

        config = keras.saving.serialize_keras_object(self.model)
        try:
            # As `model.save()` writes it: JSON, where a NumPy string (`list(np.array(["a"]))`) is a plain str.
            return json.loads(json.dumps(config))
        except (TypeError, ValueError):  # Keras could not save it either; its layers are checked as they are.
            return config

    def use_weights(self, path: str) -> None:
        raise ConfigurationError(
            "`weights` applies when inspecting a saved model; for an in-memory model, load the weights into it "
            "(`keras_vocabsafe.load_weights(model, path)` refuses rows of another vocabulary)."
        )

    def close(self) -> None:
        pass

    def layer_object(self, node: _Node | None) -> Any:
        """The layer a node stands for, found by the names from the model down (the same name may be used in two
        nested models); `None` stands for the model."""
        layer = self.model
        for name in node.path if node is not None else ():
            layer = next((child for child in getattr(layer, "layers", ()) if child.name == name), None)
            if layer is None:
                return None
        return layer

    def rows(self, node: _Node) -> int | None:
        layer = self.layer_object(node)
        if layer is None:
            return None
        if type(layer).__name__ == "TimeDistributed":  # Stands for the Embedding it wraps (see `_Graph._scope`).
            layer = layer.layer
        if node.class_name in _OUR_FUSED | _OUR_ID_EMBEDDINGS:
            matrix = getattr(layer, "_embeddings", None)
            return None if matrix is None else int(matrix.shape[0])
        matrix = getattr(layer, "embeddings", None)
        return None if matrix is None else int(matrix.shape[0])

    lacks_weights = False  # A model in memory holds the weights its layers made.

    def matrix_layout(self, node: _Node) -> tuple[tuple[int, ...], str, int] | None:
        return None  # Likewise.

    def nested_matrices(self, node: _Node) -> list[tuple[str, tuple[int, ...]]]:
        return []  # In memory, the layers themselves are listed (`_Graph._not_analysed`).

    def saved_tokens(self, node: _Node, dtype: str) -> list[Any] | None:
        layer = self.layer_object(node)
        if layer is None or getattr(layer, "_vocabulary", None) is None:
            return None
        return layer._ids_to_tokens()  # What `save_own_variables` writes beside the matrix.

    def asset(self, node: _Node) -> bytes | None:
        layer = self.layer_object(node)
        if layer is None or node.config.get("vocabulary") is not None:
            return None
        try:
            vocabulary = layer.get_vocabulary(include_special_tokens=True)
        except Exception:  # An unadapted lookup has no vocabulary to save.
            return None
        # What Keras's `save_assets` would write for it.
        return "\n".join(str(token) for token in vocabulary).encode("utf-8")


@contextlib.contextmanager
def _unreadable(where: str) -> Iterator[None]:
    """Turns what h5py raises on a damaged file (its C library's errors come as OSError, KeyError, RuntimeError
    or ValueError) into a `ModelFileError` naming `where`."""
    try:
        yield
    except (OSError, KeyError, RuntimeError, ValueError) as error:
        if isinstance(error, VocabSafeError):  # Ours, already saying what is wrong.
            raise
        raise ModelFileError(
            f"{where} cannot be read ({error}); the file is truncated or damaged. Save the weights again."
        ) from None


def _joined_shards(shards: list[str]) -> Any:
    """One in-memory HDF5 file laid out as the weights the shards hold together (Keras splits a layer's `vars`
    between shards where it must): its arrays are virtual datasets read from the shards when used, so nothing is
    copied but the layout and the scalars."""
    import h5py

    joined = h5py.File(f"joined-shards-{id(shards)}", "w", driver="core", backing_store=False)
    for shard in shards:
        source = os.path.abspath(shard)
        with h5py.File(shard, "r") as file:

            def visit(name: str, item: Any, source: str = source) -> None:
                if isinstance(item, h5py.Group):
                    group = joined.require_group(name)
                    for key, value in item.attrs.items():
                        group.attrs[key] = value
                    return
                if name in joined:
                    return
                if item.ndim == 0 or item.size == 0:  # Nothing a virtual dataset could map.
                    dataset = joined.create_dataset(name, data=item[()])
                else:
                    layout = h5py.VirtualLayout(shape=item.shape, dtype=item.dtype)
                    layout[...] = h5py.VirtualSource(source, name, shape=item.shape)
                    dataset = joined.create_virtual_dataset(name, layout)
                for key, value in item.attrs.items():
                    dataset.attrs[key] = value

            file.visititems(visit)
    return joined


def _quantization_mode(config: dict[str, Any]) -> str | None:
    """The quantization mode a layer's config gives its dtype policy, or None.

    Keras writes a quantized policy's config as `{"mode": "int8", "source_name": ...}`; a policy given by name
    reads `"int8_from_float32"`.
    """
    policy = config.get("dtype")
    settings = policy.get("config", {}) if isinstance(policy, dict) else {}
    if isinstance(settings, dict) and isinstance(settings.get("mode"), str):
        return str(settings["mode"])
    name = settings.get("name") if isinstance(settings, dict) else policy
    return name.split("_from_")[0] if isinstance(name, str) and "_from_" in name else None


def _dataset_paths(h5: Any) -> set[str]:
    """Paths of the arrays of a weights file, less the vocabulary arrays (which follow the vocabulary)."""
    paths: set[str] = set()

    def visit(name: str, item: Any) -> None:
        if hasattr(item, "shape") and name.rsplit("/", 1)[-1] not in (
            _weights_store.TOKENS_KEY,
            _weights_store.OFFSETS_KEY,
        ):
            paths.add(name)

    h5.visititems(visit)
    return paths


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# The layer graph ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Node:
    name: str
    class_name: str
    module: str
    config: dict[str, Any]
    weights_path: str | None
    calls: list[list[tuple[str, int]]]  # For each call of the layer: the (layer name, output index) of its inputs.
    scope: _Scope
    inner: _Scope | None = None
    wrapper: str | None = None  # "TimeDistributed" for an Embedding it wraps (the node stands for that Embedding).
    shift: int | None = None  # What `keras.ops.add(ids, k)` / `keras.ops.subtract(ids, k)` adds to its input's ids.
    registered_name: str | None = None  # How Keras finds a registered (non-Keras) class when loading.

    @property
    def is_keras(self) -> bool:
        return _is_keras_module(self.module)

    @property
    def path(self) -> list[str]:
        """The names of the nested models holding the node, from the top, then its own."""
        names = [self.name]
        owner = self.scope.owner
        while owner is not None:
            names.append(owner.name)
            owner = owner.scope.owner
        return names[::-1]

    @property
    def label(self) -> str:
        """The name findings and pairs show: inside a nested model, with the models' names (`inner/emb`), as
        `convert` names layers, since two nested models may each hold a layer of one name."""
        return "/".join(self.path)


@dataclasses.dataclass
class _Scope:
    nodes: dict[str, _Node]
    inputs: list[tuple[str, int]]
    outputs: list[tuple[str, int]]
    owner: _Node | None
    graph_known: bool = True


def _held_layers(layer: Any) -> list[str]:
    """The lookups and embeddings a layer holds, described by `_held_layer`."""
    return [text for text in map(_held_layer, _compat.flatten_layers(layer, include_self=False)) if text]


def _held_layer(layer: Any) -> str:
    """`StringLookup 'words' (6 ids)` or `Embedding 'emb' (5 rows)` for a lookup or embedding layer, else ""."""
    kind = type(layer).__name__
    try:
        if kind in _KERAS_HASHING:
            return f"{kind} '{layer.name}' ({int(layer.num_bins):,} ids)"
        if kind in _KERAS_LOOKUPS | _OUR_LOOKUPS:
            return f"{kind} '{layer.name}' ({layer.vocabulary_size():,} ids)"
        if kind in _OUR_FUSED | _OUR_ID_EMBEDDINGS:
            return f"{kind} '{layer.name}' ({layer.vocabulary_size():,} ids, sized by its vocabulary)"
        import keras

        if isinstance(layer, keras.layers.Embedding):
            return f"{kind} '{layer.name}' ({int(layer.input_dim):,} rows)"
    except (VocabSafeError, AttributeError, ValueError):  # No vocabulary or matrix yet: listed without a size.
        return f"{kind} '{layer.name}' (size not known yet)"
    return ""


class _Graph:
    """Every layer of a model config (nested models included), with which layer output feeds which layer."""

    def __init__(self, config: dict[str, Any], source: Any) -> None:
        self.findings: list[Finding] = []
        self._source = source
        self._unseen: list[tuple[_Node, list[tuple[str, tuple[int, ...]]]]] = []
        self.root = self._scope(config, "", None)
        # Only where ids can come from text or lookups: a float model of custom blocks is no concern of this check.
        if self._unseen and any(_takes_strings(node) or node.class_name in _KERAS_LOOKUPS for node in self.nodes()):
            self.findings.append(self._unseen_note())

    def _holds_lookups_or_embeddings(self, node: _Node) -> bool:
        """Whether a layer of a model in memory holds lookup or embedding layers (a custom layer or subclassed
        model nested in a functional one, whose wiring is its own code)."""
        if not isinstance(self._source, _ObjectSource):
            return False
        layer = self._source.layer_object(node)
        return layer is not None and bool(_held_layers(layer))

    def _not_analysed(self, name: str, class_name: str, node: _Node | None) -> Finding:
        """The note for a subclassed model (`node`, or the model if None); in memory, it lists the lookups and
        embeddings the model holds."""
        in_memory = isinstance(self._source, _ObjectSource)
        model = self._source.layer_object(node) if in_memory else None
        held = _held_layers(model) if model is not None else []
        import keras

        if model is not None and not isinstance(model, keras.Model):
            what = f"Layer '{name}' ({class_name}) holds layers of its own, which this check does not follow"
        else:
            what = (
                f"Model '{name}' ({class_name}) is a subclassed model: its config does not say which layers it holds "
                "or how they are wired"
            )
        advice = (
            "Check in its code that each Embedding fed by a lookup has `input_dim=lookup.vocabulary_size()`, or "
            "use VocabEmbedding there, which sizes its matrix from its vocabulary; or build it as a functional or "
            "Sequential model, which this check (and `vocabsafe convert`) can follow."
        )
        if model is not None:
            found = f" It holds {', '.join(held)}." if held else " It holds no lookup or embedding layer."
        else:
            found = (
                ""
                if in_memory
                else " Loaded, `keras_vocabsafe.inspect_model(model)` lists the lookups and embeddings it holds."
            )
        return Finding(
            "note",
            "model-not-analysed",
            (name,),
            f"{what}, so its lookups and embeddings were not paired or checked.{found} {advice}",
            {"layers": held},
        )

    def _unseen_note(self) -> Finding:
        """One note for the layers of custom classes in a file whose sub-layers saved matrices: from the file alone
        (the class's code is not run), a lookup among them cannot be told from another layer."""
        shown = []
        for node, matrices in self._unseen:
            listed = ", ".join(f"{path} {shape}" for path, shape in matrices[:3])
            shown.append(f"'{node.label}' ({node.class_name}: {listed}{', ...' if len(matrices) > 3 else ''})")
        return Finding(
            "note",
            "model-not-analysed",
            tuple(node.label for node, _ in self._unseen),
            f"{len(self._unseen)} layer(s) of custom classes hold layers of their own, which this check cannot see "
            f"into from the file: {'; '.join(shown)}. Any lookup and embedding among them were not paired or "
            "checked. Load the model (with its classes imported) and run `keras_vocabsafe.inspect_model(model)`, "
            "which lists the lookups and embeddings such layers hold.",
            {"layers": [node.label for node, _ in self._unseen]},
        )

    def nodes(self) -> Iterator[_Node]:
        def walk(scope: _Scope) -> Iterator[_Node]:
            for node in scope.nodes.values():
                yield node
                if node.inner is not None:
                    yield from walk(node.inner)

        return walk(self.root)

    def _scope(self, config: dict[str, Any], path: str, owner: _Node | None) -> _Scope:
        raw_body = config.get("config")
        body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
        layers = body.get("layers")
        scope = _Scope({}, [], [], owner)
        if not isinstance(layers, list):
            scope.graph_known = False
            name = body.get("name") or config.get("name") or config.get("class_name")
            if owner is None and isinstance(self._source, _ObjectSource):
                name = self._source.model.name
            shown = owner.label if owner is not None else str(name)
            self.findings.append(self._not_analysed(shown, str(config.get("class_name")), owner))
            return scope
        sequential = "input_layers" not in body
        used: dict[str, int] = {}
        previous: tuple[str, int] | None = None
        for entry in layers:
            if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
                continue
            class_name = str(entry.get("class_name"))
            module = str(entry.get("module") or "")
            layer_config = entry["config"]
            name = str(entry.get("name") or layer_config.get("name") or class_name)
            is_input = class_name == "InputLayer"
            is_layer = not module.startswith(("keras.src.ops", "keras.ops"))
            weights_path = None
            # Keras names each layer's place in the weights file after its class, in `model.layers` order;
            # Sequential's `layers` leaves out its InputLayer.
            if is_layer and not (sequential and is_input):
                weights_path = _join(path, "layers", _unique(_snake_case(class_name), used))
            wrapped, wrapped_in = layer_config.get("layer"), None
            if class_name == "TimeDistributed" and _is_keras_module(module) and _is_embedding_config(wrapped):
                wrapped_in = class_name
                # An Embedding applied to each step: its ids and rows are the wrapped Embedding's, saved beneath.
                class_name, module, layer_config = "Embedding", str(wrapped.get("module") or module), wrapped["config"]
                weights_path = _join(weights_path or "", "layer") or None
            if sequential:
                calls = [] if is_input or previous is None else [[previous]]
            else:
                calls = [_call_inputs(call) for call in entry.get("inbound_nodes") or []]
            node = _Node(name, class_name, module, layer_config, weights_path, calls, scope, wrapper=wrapped_in)
            if wrapped_in is None and isinstance(entry.get("registered_name"), str):
                node.registered_name = entry["registered_name"]
            if not is_layer and len(calls) == 1:
                node.shift = _constant_shift(class_name, entry["inbound_nodes"][0])
            scope.nodes[name] = node
            if sequential:
                if is_input or previous is None:
                    if previous is None and not is_input:
                        # A Sequential model saved without an InputLayer: its first layer takes the model's input.
                        pseudo = _Node("<input>", "InputLayer", "keras", {}, None, [], scope)
                        scope.nodes.setdefault("<input>", pseudo)
                        scope.inputs = [("<input>", 0)]
                        node.calls = [[("<input>", 0)]]
                    elif is_input:
                        scope.inputs = [(name, 0)]
                previous = (name, 0)
            if _is_model_config(entry):
                node.inner = self._scope(entry, weights_path or path, node)
            elif class_name not in _KNOWN_LAYERS and self._holds_lookups_or_embeddings(node):
                self.findings.append(self._not_analysed(node.label, class_name, node))
            elif not node.is_keras and class_name not in _KNOWN_LAYERS:
                matrices = self._source.nested_matrices(node)
                if matrices:
                    self._unseen.append((node, matrices))
        if sequential:
            scope.outputs = [previous] if previous is not None else []
        else:
            scope.inputs = _history_list(body.get("input_layers"))
            scope.outputs = _history_list(body.get("output_layers"))
        return scope


def _takes_strings(node: _Node) -> bool:
    """Whether a node is a model input of strings."""
    dtype = node.config.get("dtype")
    if isinstance(dtype, dict):  # A DTypePolicy's config.
        dtype = dtype.get("config", {}).get("name")
    return node.class_name == "InputLayer" and dtype == "string"


def _is_keras_module(module: str) -> bool:
    """Whether a config's `module` is Keras's own (`keras.layers`, `keras.src...`), not `keras_hub` or ours."""
    return module.startswith("keras") and not module.startswith("keras_")


def _is_embedding_config(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("class_name") == "Embedding"
        and _is_keras_module(str(entry.get("module") or "keras"))
        and isinstance(entry.get("config"), dict)
    )


def _is_model_config(entry: dict[str, Any]) -> bool:
    config = entry.get("config")
    return (isinstance(config, dict) and isinstance(config.get("layers"), list)) or entry.get("class_name") in (
        "Functional",
        "Sequential",
        "Model",
    )


def _join(*parts: str) -> str:
    return "/".join(part for part in parts if part)


def _unique(name: str, used: dict[str, int]) -> str:
    # As Keras's `_get_unique_name`: the second "embedding" is "embedding_1".
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _snake_case(name: str) -> str:
    # As `keras.src.utils.naming.to_snake_case`, which names the weights file's groups.
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _constant_shift(class_name: str, call: Any) -> int | None:
    """What an `Add` or `Subtract` op of one tensor and one integer constant adds to the tensor's values; None for
    any other op (or call)."""
    args = call.get("args") if isinstance(call, dict) else None
    if (
        class_name not in ("Add", "Subtract")
        or call.get("kwargs")
        or not isinstance(args, (list, tuple))
        or len(args) != 2
    ):
        return None
    tensors = [isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__" for arg in args]
    constants = [type(arg) is int for arg in args]
    if tensors == [True, False] and constants[1]:
        return args[1] if class_name == "Add" else -args[1]
    if tensors == [False, True] and constants[0] and class_name == "Add":
        return args[0]
    return None


def _call_inputs(call: Any) -> list[tuple[str, int]]:
    """The (layer, output index) of every Keras tensor in one inbound node, in order."""
    found: list[tuple[str, int]] = []
    if isinstance(call, dict):
        _collect_tensors(call.get("args", []), found)
        _collect_tensors(call.get("kwargs", {}), found)
    elif isinstance(call, list):  # Keras 2's format: [[layer, node, tensor, kwargs], ...].
        for item in call:
            if isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str):
                found.append((item[0], int(item[2])))
    return found


def _collect_tensors(value: Any, found: list[tuple[str, int]]) -> None:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history")
            if isinstance(history, list) and len(history) == 3:
                found.append((str(history[0]), int(history[2])))
            return
        for item in value.values():
            _collect_tensors(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect_tensors(item, found)


def _history_list(value: Any) -> list[tuple[str, int]]:
    """`input_layers` / `output_layers` of a functional config: one [name, node, tensor] triple or a structure."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[2], int):
        return [(value[0], value[2])]
    found: list[tuple[str, int]] = []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in items:
        found.extend(_history_list(item))
    return found


# What the layers hold ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Lookup:
    """What a lookup's ids mean: how many, which are special, and (when known) the token of each id."""

    node: _Node
    dtype: str
    size: int | None
    mask: bool
    num_oov: int
    tokens: list[Any] | None  # Canonical token of every id, special slots included.
    specials: tuple[Any, ...] = ()  # Canonical mask token (if any) and OOV token.
    # Where a vocabulary that lists its special tokens puts them (mask id, OOV ids); None for Keras's layout.
    positions: tuple[int | None, tuple[int, ...]] | None = None

    @property
    def mask_id(self) -> int | None:
        if self.positions is not None:
            return self.positions[0]
        return 0 if self.mask else None

    @property
    def oov_ids(self) -> tuple[int, ...]:
        if self.positions is not None:
            return self.positions[1]
        return tuple(range(int(self.mask), int(self.mask) + self.num_oov))


def _pads_nothing(lookup: _Lookup) -> bool:
    """Whether a lookup never gives its mask id: a `TextVectorization(ragged=True)` splitting with Keras's own
    split pads no sequence and splits off no empty token, so an embedding after it has no padding to mask."""
    config = lookup.node.config
    return (
        lookup.node.class_name == "TextVectorization"
        and config.get("ragged") is True
        and config.get("split", "whitespace") in ("whitespace", "character")
    )


@dataclasses.dataclass
class _Embedding:
    node: _Node
    rows: int | None  # Rows that ids can select (a VocabIdEmbedding's padding rows excluded).
    mask_zero: bool
    lookup: _Lookup | None = None  # This package's embeddings know their own vocabulary.
    padding_rows: int = 0  # The zero rows `pad_to_multiple_of` puts after `rows`.
    # A Keras Embedding's `input_dim` where its saved weights hold another number of rows (`rows` is theirs):
    # the advice is then about the weights, not about the config.
    config_rows: int | None = None


# Modules whose layer classes Keras finds by name in `keras.layers` (or imports, for `keras.src.layers...`).
_KERAS_LAYER_MODULES = ("keras.layers", "keras.src.layers")
_SAMPLE_TOKENS = 16  # Tokens of a listed vocabulary kept when a lookup is rebuilt to validate its config.


def _keras_version() -> str:
    import keras

    return f"Keras {keras.__version__}"


def _layer_class(node: _Node) -> Any:
    """The class `load_model` would build `node` with, if it is Keras's own or ours; else None (custom classes,
    Keras ops, models, and Keras classes this Keras lacks)."""
    if node.module.startswith("keras_vocabsafe"):
        import keras

        import keras_vocabsafe  # Registers our classes.

        found = getattr(keras_vocabsafe, node.class_name, None)
        if node.registered_name is not None:  # What Keras looks ours up by.
            found = keras.saving.get_registered_object(node.registered_name)
    elif node.is_keras and node.module.startswith(_KERAS_LAYER_MODULES):
        import keras

        found = getattr(keras.layers, node.class_name, None)
    else:
        return None
    return found if isinstance(found, type) else None


def _missing_arguments(layer_class: Any, config: dict[str, Any]) -> list[str]:
    """The arguments `layer_class(**config)` needs and `config` lacks."""
    import inspect

    try:
        parameters = inspect.signature(layer_class.__init__).parameters.values()
    except (TypeError, ValueError):
        return []
    required = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [
        parameter.name
        for parameter in list(parameters)[1:]
        if parameter.kind in required and parameter.default is inspect.Parameter.empty and parameter.name not in config
    ]


def _rebuild_problem(layer_class: Any, config: dict[str, Any], strangers: list[tuple[int, Any]]) -> str | None:
    """What the class says when built from `config` as `load_model` builds it, or None if it builds.

    `strangers`: the `_tokens_of_other_types` of its listed vocabulary.
    """
    if any(isinstance(config.get(key), dict) for key in ("standardize", "split")):
        return None  # A custom function of TextVectorization: only the user's code can rebuild it.
    missing = _missing_arguments(layer_class, config)
    if missing:
        return f"it lacks {', '.join(f'`{name}`' for name in missing)}, which {layer_class.__name__} requires."
    trial = dict(config)
    listed = trial.get("vocabulary")
    if isinstance(listed, str) and _is_keras_module(layer_class.__module__):
        trial["vocabulary"] = None  # A file outside the model, read on load: a note of its own says so.
    if isinstance(listed, list) and len(listed) > _SAMPLE_TOKENS and trial.get("idf_weights") is None:
        # The tokens past the sample that are not of the keys' type go along: Keras converts the whole list with
        # NumPy, so whether it takes them depends on the types in the list, not on where they stand.
        trial["vocabulary"] = listed[:_SAMPLE_TOKENS] + [token for at, token in strangers if at >= _SAMPLE_TOKENS]
        trial.pop("vocabulary_size", None)
    problem = _build_problem(layer_class, trial)
    if problem is None:
        return None
    if strangers and _build_problem(layer_class, {**trial, "vocabulary": _keys_only(layer_class, trial)}) is None:
        at, token = strangers[0]
        return f"its `vocabulary` lists {_shown_token(token)} at position {at}, {_keys_of(layer_class)}: {problem}"
    # The class's message does not always name the entry ("'<' not supported between 'str' and 'int'"): the one
    # whose removal (its default instead) lets the layer build is it.
    culprits = [
        key
        for key in trial
        if key not in ("name", "vocabulary")
        and _build_problem(layer_class, {k: v for k, v in trial.items() if k != key}) is None
    ]
    if len(culprits) == 1:
        value = json.dumps(trial[culprits[0]], ensure_ascii=False, default=str)
        value = value if len(value) <= 60 else value[:57] + "..."
        return f"its `{culprits[0]}` entry ({value}) is refused: {problem}"
    return problem


def _tokens_of_other_types(layer_class: Any, config: dict[str, Any]) -> list[tuple[int, Any]]:
    """The first token of each type that is not the keys' type in a Keras lookup's listed vocabulary (the whole
    list, without building anything), with its position: a string in an `IntegerLookup`, a number in a
    `StringLookup`, a `null` in either. `load_model` refuses such a token, or converts it to a key (its text, or
    an integer), depending on the types in the list, not on where the token stands."""
    listed = config.get("vocabulary")
    is_key = _key_test(layer_class)
    if not isinstance(listed, list) or is_key is None:
        return []
    found: dict[str, tuple[int, Any]] = {}
    for at, token in enumerate(listed):
        if not is_key(token):
            found.setdefault(messages.json_type(token), (at, token))
    return sorted(found.values(), key=lambda found_at: found_at[0])


def _special_of_another_type(layer_class: Any, config: dict[str, Any]) -> tuple[str, Any] | None:
    """The first of a Keras lookup's `mask_token` and `oov_token` that is set and not of its keys' type (5 in a
    `StringLookup`), with its config key."""
    is_key = _key_test(layer_class)
    if is_key is None:
        return None
    return next(
        (
            (key, config[key])
            for key in ("mask_token", "oov_token")
            if config.get(key) is not None and not is_key(config[key])
        ),
        None,
    )


def _key_test(layer_class: Any) -> Callable[[Any], bool] | None:
    """Whether a token of a Keras lookup's listed vocabulary is of its keys' type (None: not such a lookup)."""
    if not _is_keras_module(layer_class.__module__):
        return None
    if layer_class.__name__ == "IntegerLookup":
        return lambda token: type(token) is int and -(2**63) <= token < 2**63
    if layer_class.__name__ in ("StringLookup", "TextVectorization"):
        return lambda token: type(token) is str
    return None


def _keys_only(layer_class: Any, trial: dict[str, Any]) -> Any:
    """A trial config's vocabulary without its tokens of other types."""
    is_key = _key_test(layer_class)
    listed = trial.get("vocabulary")
    return [token for token in listed if is_key(token)] if is_key is not None and isinstance(listed, list) else listed


def _shown_token(token: Any) -> str:
    shown = json.dumps(token, ensure_ascii=False, default=str)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return shown if token is None else f"{shown} ({messages.json_type(token)})"


def _keys_of(layer_class: Any) -> str:
    if layer_class.__name__ == "IntegerLookup":
        return "where an IntegerLookup takes integers (of int64)"
    return f"where a {layer_class.__name__} takes strings"


def _build_problem(layer_class: Any, config: dict[str, Any]) -> str | None:
    """The message of the error `layer_class.from_config(config)` raises, or None if it builds."""
    import keras

    if issubclass(layer_class, keras.layers.Embedding):
        # Keras before 3.12 checks the matrix's dimensions only when it builds the matrix (which may be large):
        # its later check, for every version.
        for key in ("input_dim", "output_dim"):
            value = config.get(key)
            if key in config and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                return f"`{key}` must be a positive integer. Received: {key}={value!r}."
    try:
        layer_class.from_config(config)
    except Exception as error:  # Whatever the class refuses, load_model refuses too.
        # Keras re-raises a refusal as "Error when deserializing class ... using config=..." (the whole config).
        shown: BaseException = error
        cause = error.__cause__ or error.__context__
        if isinstance(error, TypeError) and str(error).startswith("Error when deserializing") and cause is not None:
            shown = cause
        text = " ".join(str(shown).split()) or type(shown).__name__
        return text if text.endswith(".") else text + "."
    return None


class _Analysis:
    def __init__(self, graph: _Graph, source: Any) -> None:
        self.graph = graph
        self.source = source
        self.pairs: list[LayerPair] = []
        self.findings: list[Finding] = list(graph.findings)
        self._lookups: dict[int, _Lookup | None] = {}
        self.checked_lookups: list[_Lookup] = []
        self._unloadable: set[int] = set()  # Layers Keras cannot rebuild from their config: not paired or checked.

    # Driving -----------------------------------------------------------------------------------------------

    def run(self) -> None:
        nodes = list(self.graph.nodes())
        # Of a model in memory too: its layers were built from their arguments, not from the config it saves (a
        # bytes token is saved as an object that `load_model` refuses), and they take tokens of other types.
        for node in nodes:
            self._check_loadable(node)
        if self.source.lacks_weights:  # Keras writes the file even for a model without weights.
            rows = any(node.class_name in _OUR_FUSED | _OUR_ID_EMBEDDINGS | {"Embedding"} for node in nodes)
            self._add(
                "error",
                "weights-missing",
                (),
                f"{self.source.weights_label} holds no model.weights.h5 (nor model.weights.npz): "
                + ("the embeddings' rows are not in it, and " if rows else "")
                + "Keras refuses to load it. Save the model again.",
            )
        for node in nodes:
            if node.class_name in _KERAS_LOOKUPS and node.is_keras:
                self.lookup(node)  # Reloadability concerns every Keras lookup, paired or not.
        for node in nodes:
            if id(node) in self._unloadable:
                continue
            if (node.class_name in _OUR_FUSED | _OUR_ID_EMBEDDINGS and not node.is_keras) or (
                node.class_name == "Embedding" and node.is_keras
            ):
                self._check_matrix_layout(node)
            if node.class_name in _OUR_FUSED and not node.is_keras:
                self._check_fused(node)
            elif node.class_name in _OUR_ID_EMBEDDINGS and not node.is_keras:
                self._check_embedding(node, self._our_embedding(node))
            elif node.class_name == "Embedding" and node.is_keras:
                rows = self.source.rows(node)
                input_dim = _int_or_none(node.config.get("input_dim"))
                if rows is not None and input_dim is not None and rows != input_dim:
                    self._add(
                        "error",
                        "weights-do-not-fit",
                        (node.label,),
                        f"Embedding '{node.label}' has input_dim={input_dim}, but its weights in "
                        f"{self.source.weights_label} have {rows} rows; Keras refuses to load them. Save the model "
                        "and its weights from the same run.",
                    )
                mismatch = input_dim if rows is not None and rows != input_dim else None
                self._check_embedding(
                    node,
                    _Embedding(
                        node,
                        rows if rows is not None else input_dim,
                        bool(node.config.get("mask_zero")),
                        config_rows=mismatch,
                    ),
                )
        for node in nodes:  # Last: a path to an Embedding through such a layer has its own note already.
            self._check_unknown_consumer(node)

    def _check_loadable(self, node: _Node) -> None:
        """Whether Keras can rebuild a layer from its config, as `load_model` does (a hand-edited config; of a model
        in memory, the config it saves).

        A layer this check reads (a Keras lookup or `Embedding`, or one of ours) is built from its config here, by
        the Keras or keras-vocabsafe class that `load_model` would use, so that every argument is validated as
        loading validates it; a long vocabulary is cut to its first tokens first (no big table is built; the
        tokens are checked on their own, and every token of a Keras lookup for its type: one of another type past
        the cut goes along). A refusal is an error, and the layer is not paired; a token of another type that
        Keras converts rather than refuses is a warning, and the layer is not paired either. Of the other layers
        of Keras's own, nothing is built (a `Lambda` would run code from the file); a class Keras lacks, or a
        required argument missing from the config, is a note. Custom classes are not looked at: their code may
        not be importable here.
        """
        layer_class = _layer_class(node)
        if layer_class is None and node.module.startswith("keras_vocabsafe"):
            self._unloadable.add(id(node))
            self._add(
                "error",
                "config-not-loadable",
                (node.label,),
                f"Layer '{node.label}' names the class {node.registered_name or node.class_name!r} of module "
                f"{node.module}, which keras-vocabsafe does not have, so `keras.saving.load_model` fails on this "
                "file. The config was edited, or saved by another version of keras-vocabsafe: restore the name. "
                "Its ids and rows were not checked.",
            )
            return
        if layer_class is None:
            if node.is_keras and node.module.startswith(_KERAS_LAYER_MODULES) and node.wrapper is None:
                self._add(
                    "note",
                    "config-not-loadable",
                    (node.label,),
                    f"Layer '{node.label}' is of class {node.class_name!r} (module {node.module}), which "
                    f"{_keras_version()} does not have, so `keras.saving.load_model` fails on this file. "
                    "The class name was edited, or the file was saved by a newer Keras: fix the name, or load it "
                    "with that Keras.",
                )
            return
        reads = node.class_name in _KNOWN_LAYERS and (
            node.is_keras == (node.class_name in _KERAS_LOOKUPS | {"Embedding"})
        )
        if not reads:
            missing = _missing_arguments(layer_class, node.config)
            if missing:
                self._add(
                    "note",
                    "config-not-loadable",
                    (node.label,),
                    f"{node.class_name} '{node.label}' lacks {', '.join(f'`{name}`' for name in missing)} in its "
                    "config, which the class requires, so `keras.saving.load_model` fails on this file. The config "
                    "was edited: restore the entry (the value the model was built with).",
                )
            return
        strangers = _tokens_of_other_types(layer_class, node.config)  # Over the whole list, which the rebuild cuts.
        problem = _rebuild_problem(layer_class, node.config, strangers)
        if problem is None:
            self._check_token_types(node, layer_class, strangers)
            return
        self._unloadable.add(id(node))
        if isinstance(self.source, _KerasFileSource):
            where = "this file"
            cure = "The config was edited or damaged: restore the entry (the value the model was built with), or save "
            cure += "the model again."
        else:
            where = "the .keras file the model is saved to"
            cure = "Build the layer with arguments its config keeps as they are (str tokens, not bytes)."
        self._add(
            "error",
            "config-not-loadable",
            (node.label,),
            f"{node.class_name} '{node.label}' cannot be rebuilt from its config, so `keras.saving.load_model` "
            f"fails on {where}: {problem} {cure} Its ids and rows were not checked.",
        )

    def _check_token_types(self, node: _Node, layer_class: Any, strangers: list[tuple[int, Any]]) -> None:
        """A warning, and the layer left unpaired, where a Keras lookup that builds lists tokens of another type than
        its keys (`strangers`, from `_tokens_of_other_types`): Keras converts them, so its ids are not the listed
        tokens' as read here; likewise for a mask or OOV token of another type, which Keras keeps as it is."""
        special = _special_of_another_type(layer_class, node.config)
        if not strangers and special is not None:
            key, token = special
            self._unloadable.add(id(node))
            self._add(
                "warning",
                "config-not-loadable",
                (node.label,),
                f"{node.class_name} '{node.label}' has {key}={_shown_token(token)}, {_keys_of(layer_class)}. Keras "
                "keeps it as it is rather than refusing it, so the model loads, but its ids and rows were not "
                f"checked. Give the layer a {key} of its keys' type.",
            )
        if not strangers:
            return
        at, token = strangers[0]
        self._unloadable.add(id(node))
        self._add(
            "warning",
            "config-not-loadable",
            (node.label,),
            f"{node.class_name} '{node.label}' lists {_shown_token(token)} at position {at} of its "
            f"`vocabulary`, {_keys_of(layer_class)}. `keras.saving.load_model` converts it to "
            f"{'an integer' if layer_class.__name__ == 'IntegerLookup' else 'its text'} rather than refusing "
            "it, so the model loads, but its ids and rows were not checked. If the config was edited, "
            "restore the token; else give the layer a vocabulary of its keys' type and save the model again.",
        )

    def _check_unknown_consumer(self, node: _Node) -> None:
        """A note where a lookup's ids go straight into a layer of a class this check does not know (a custom
        Embedding subclass, say): it may index rows by them, which nothing here checks."""
        if node.is_keras or node.class_name in _KNOWN_LAYERS or node.inner is not None:
            return
        feeding = [node.scope.nodes.get(name) for call in node.calls for name, _ in call]
        lookups = [found for found in feeding if found is not None and self._is_lookup_source(found)]
        for lookup_node in {id(found): found for found in lookups}.values():  # Once per lookup, in call order.
            if any(node.label in f.layers and lookup_node.label in f.layers for f in self.findings):
                continue  # A `path-not-checked` note on the way to an Embedding says it already.
            lookup = self.lookup(lookup_node)
            ids = None if lookup is None else lookup.size
            size = "" if ids is None else f" ({ids:,} ids)"
            source = "num_bins" if lookup_node.class_name in _KERAS_HASHING else "lookup.vocabulary_size()"
            needs = f"it needs `{source}` rows"
            if ids is not None:
                needs = f"it needs {ids:,} rows (`{source}`)"
            self._add(
                "note",
                "ids-into-unknown-layer",
                (lookup_node.label, node.label),
                f"{lookup_node.class_name} '{lookup_node.label}'{size} feeds layer '{node.label}' of class "
                f"{node.class_name}, which this check does not know, so its rows were not checked: if it indexes "
                f"rows by these ids, {needs}. A keras.layers.Embedding or VocabEmbedding there would be checked.",
                vocabulary_size=ids,
            )

    def _check_matrix_layout(self, node: _Node) -> None:
        """The saved matrix must be what the config builds: float or quantized alike, `output_dim` columns."""
        layout = self.source.matrix_layout(node)
        if layout is None:
            return
        shape, dtype, arrays = layout
        mode = _quantization_mode(node.config)
        output_dim = _int_or_none(node.config.get("output_dim"))
        # int8 and int4 matrices are saved as integers; float ones (bfloat16 and float8 too) are not.
        saved_integers = dtype.startswith(("int", "uint"))
        if mode is None and saved_integers:
            problem = (
                f"the config builds a float matrix, but the weights hold a quantized one ({dtype}, {arrays} arrays)"
            )
        elif mode in ("int8", "int4") and not saved_integers:
            problem = f"the config builds a {mode}-quantized matrix, but the weights hold a float one ({dtype})"
        elif mode in (None, "int8") and output_dim is not None and len(shape) == 2 and shape[1] != output_dim:
            problem = f"the config has output_dim={output_dim}, but the saved matrix has {shape[1]} columns"
        else:
            return
        self._add(
            "error",
            "weights-do-not-fit",
            (node.label,),
            f"{node.class_name} '{node.label}': {problem} in {self.source.weights_label}; Keras refuses to load "
            "them. Save the model and its weights from the same run (after quantizing, if it was).",
        )

    def _add(self, severity: str, code: str, layers: tuple[str, ...], message: str, **details: Any) -> None:
        self.findings.append(Finding(severity, code, layers, message, details))

    # Lookups -----------------------------------------------------------------------------------------------

    def lookup(self, node: _Node) -> _Lookup | None:
        """The ids a lookup gives, or None if its output is not ids (an inverted or multi-hot lookup)."""
        if id(node) in self._unloadable:
            return None
        if id(node) not in self._lookups:
            self._lookups[id(node)] = None
            if node.class_name in _KERAS_LOOKUPS:
                self._lookups[id(node)] = self._keras_lookup(node)
            elif node.class_name in _OUR_LOOKUPS | _OUR_FUSED | _OUR_ID_EMBEDDINGS:
                if node.class_name in _OUR_LOOKUPS and node.config.get("return_ids") is False:
                    return None
                self._lookups[id(node)] = self._our_lookup(node)
        return self._lookups[id(node)]

    def _keras_lookup(self, node: _Node) -> _Lookup | None:
        config = node.config
        if config.get("output_mode", "int") != "int" or config.get("invert"):
            return None
        if node.class_name in _KERAS_HASHING:
            return self._hashing_lookup(node)
        mask_token: Any
        oov_token: Any
        num_oov: int | None
        if node.class_name == "TextVectorization":
            dtype, mask_token, oov_token, num_oov = "string", "", "[UNK]", 1
        else:
            dtype = "string" if node.class_name == "StringLookup" else "int64"
            mask_token = config.get("mask_token")
            oov_token = config.get("oov_token", "[UNK]" if dtype == "string" else -1)
            num_oov = _int_or_none(config.get("num_oov_indices"))
            num_oov = 1 if num_oov is None else num_oov
        if num_oov == 0:
            # Keras allows no OOV ids: unknown tokens then fail at run time, so there is no OOV row.
            oov_token = None
        specials = tuple(canonical_token(t, dtype) for t in (mask_token, oov_token) if t is not None)
        mask = mask_token is not None
        size = _int_or_none(config.get("vocabulary_size"))
        tokens = None
        listed = config.get("vocabulary")
        if isinstance(listed, list):
            tokens = self._with_specials(node, listed, dtype, mask_token, oov_token, num_oov)
            self._check_listed_vocabulary(node, listed, dtype)
        else:
            raw = self.source.asset(node)
            if raw is not None:
                tokens = self._tokens_from_asset(node, raw, dtype, mask_token, oov_token, num_oov, size)
            elif size is None or isinstance(listed, str):
                self._add(
                    "note",
                    "vocabulary-not-read",
                    (node.label,),
                    f"{node.class_name} '{node.label}' reads its vocabulary from "
                    + (f"the file {listed!r} outside the model" if isinstance(listed, str) else "nowhere in the file")
                    + ", so its tokens were not checked. The model loads only where that file exists; pass the "
                    "vocabulary as a list, or adapt the layer, so that the model carries it.",
                )
        if size is None and tokens is not None:
            size = len(tokens)
        result = _Lookup(node, dtype, size, mask, num_oov, tokens, specials)
        self.checked_lookups.append(result)
        return result

    def _hashing_lookup(self, node: _Node) -> _Lookup:
        """`Hashing` and `HashedCrossing` give ids 0 to `num_bins - 1` (a salt changes which, not how many); with
        a `mask_value` (and more than one bin), `Hashing` gives the mask value id 0 and hashes the rest into 1 to
        `num_bins - 1`. Every other input has a bin of its own: there is no OOV id."""
        bins = _int_or_none(node.config.get("num_bins"))
        mask = node.config.get("mask_value") is not None and (bins is None or bins > 1)
        return _Lookup(node, "int64", bins, mask, 0, None)

    def _with_specials(
        self, node: _Node, listed: list[Any], dtype: str, mask_token: Any, oov_token: Any, num_oov: int
    ) -> list[Any]:
        tokens = [canonical_token(t, dtype) for t in listed]
        mask = [canonical_token(mask_token, dtype)] if mask_token is not None else []
        oov = [canonical_token(oov_token, dtype)] * num_oov if oov_token is not None else []
        # As Keras's `set_vocabulary`: a list that starts with the special tokens has them stripped.
        if mask and tokens[: len(mask)] == mask:
            tokens = tokens[len(mask) :]
        if oov and tokens[: len(oov)] == oov:
            tokens = tokens[len(oov) :]
        return mask + oov + tokens

    def _check_listed_vocabulary(self, node: _Node, listed: list[Any], dtype: str) -> None:
        # A vocabulary in the config reloads from the config, where any token survives; only duplicates fail.
        seen: set[Any] = set()
        for token in listed:
            key = canonical_token(token, dtype)
            if key in seen:
                self._add(
                    "error",
                    "vocabulary-not-reloadable",
                    (node.label,),
                    f"{node.class_name} '{node.label}' lists {display_token(key)} twice; Keras refuses this "
                    "vocabulary when the model is loaded. Remove the duplicate (and retrain, since ids after it "
                    "shift).",
                )
                return
            seen.add(key)

    def _tokens_from_asset(
        self,
        node: _Node,
        raw: bytes,
        dtype: str,
        mask_token: Any,
        oov_token: Any,
        num_oov: int,
        size: int | None,
    ) -> list[Any] | None:
        """The tokens Keras gets back from the layer's `vocabulary.txt`, checking that they are the saved ones."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._add(
                "error",
                "vocabulary-not-reloadable",
                (node.label,),
                f"The saved vocabulary of {node.class_name} '{node.label}' is not UTF-8 text; Keras cannot read it "
                "back. Use keras_vocabsafe.VocabEmbedding (or `vocabsafe convert`), whose saved vocabulary keeps "
                "any bytes.",
            )
            return None
        # As Keras's `load_assets`: a text-mode read (universal newlines), `splitlines()`, trailing blanks dropped.
        lines = text.replace("\r\n", "\n").replace("\r", "\n").splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        special_count = int(mask_token is not None) + (num_oov if oov_token is not None else 0)
        broken = [line for line in text.split("\n") if _LINE_BREAKS.search(line)]
        problem = None
        if size is not None and len(lines) != size:
            problem = (
                f"its config records {size} ids, but Keras reads {len(lines)} lines back from the saved vocabulary.txt"
            )
        if dtype != "string":
            try:
                values: list[Any] | None = [int(line) for line in lines]
            except ValueError:
                problem = problem or "a line of its saved vocabulary.txt is not an integer"
                values = None
        else:
            values = [line.encode("utf-8") for line in lines]
        if values is not None and problem is None:
            body = values[special_count:]
            if len(set(body)) != len(body):
                problem = "reading the saved vocabulary.txt back gives a token twice"
        if problem is not None:
            cause = (
                "a token holds a line break (newline, carriage return or a Unicode line separator), which "
                "the one-token-per-line asset cannot hold"
                if broken or len(lines) != size
                else "the asset was edited or damaged"
            )
            self._add(
                "error",
                "vocabulary-not-reloadable",
                (node.label,),
                f"{node.class_name} '{node.label}' cannot be reloaded as saved: {problem} ({cause}). Loading the "
                "model fails, or gives ids that differ from the trained ones. Use keras_vocabsafe.VocabEmbedding "
                "(or `vocabsafe convert`), whose saved vocabulary keeps any token, or drop such tokens before "
                "adapting.",
                lines=len(lines),
                vocabulary_size=size,
            )
            return None
        return values

    def _our_lookup(self, node: _Node) -> _Lookup:
        config = node.config
        dtype = str(config.get("vocabulary_dtype", "string"))
        num_oov = _int_or_none(config.get("num_oov_indices")) or 1
        mask_token = config.get("mask_token")
        oov_token = config.get("oov_token")
        if oov_token is None:
            oov_token = "[UNK]" if dtype == "string" else -1
        specials = tuple(canonical_token(t, dtype) for t in (mask_token, oov_token) if t is not None)
        tokens = positions = None
        if isinstance(config.get("vocabulary"), list):
            listed = decode_tokens(config["vocabulary"], config.get("vocabulary_encoding") or "utf-8", dtype)
            mask = None if mask_token is None else canonical_token(mask_token, dtype)
            oov = canonical_token(oov_token, dtype)
            tokens = layer_ids(listed, mask, oov, num_oov)
            if len(tokens) == len(listed):  # The vocabulary lists its special tokens: each keeps its position.
                positions = (
                    None if mask is None or mask not in tokens else tokens.index(mask),
                    tuple(i for i, token in enumerate(tokens) if token == oov),
                )
        size = len(tokens) if tokens is not None else _int_or_none(config.get("vocabulary_size"))
        return _Lookup(node, dtype, size, mask_token is not None, num_oov, tokens, specials, positions)

    def _our_embedding(self, node: _Node) -> _Embedding:
        lookup = self.lookup(node)
        assert lookup is not None
        self._check_saved_rows(node, lookup)
        multiple = _int_or_none(node.config.get("pad_to_multiple_of")) or 1
        padding = 0 if lookup.size is None else -(-lookup.size // multiple) * multiple - lookup.size
        return _Embedding(node, lookup.size, lookup.mask, lookup, padding)

    def _check_saved_rows(self, node: _Node, own: _Lookup) -> None:
        """A `VocabIdEmbedding`'s weights must hold the tokens and the number of rows of its config."""
        saved = self.source.saved_tokens(node, own.dtype)
        if saved is not None and own.tokens is not None and saved != own.tokens:
            moved = _count_moved(saved, own.tokens)
            self._add(
                "error",
                "weights-for-other-vocabulary",
                (node.label,),
                f"The weights of {node.class_name} '{node.label}' in {self.source.weights_label} were trained for "
                f"another vocabulary: {_describe(saved, own.tokens, ('weights', 'model'))}. Used together, "
                f"{moved:,} id(s) would select another token's row. Keras refuses to load them into this layer; "
                "export the model from the same training run, or move rows by token with "
                "`keras_vocabsafe.load_remapped_weights()`.",
                ids_on_other_rows=moved,
                saved_ids=len(saved),
                model_ids=len(own.tokens),
            )
            return
        rows = self.source.rows(node)
        if rows is None or own.size is None:
            return
        multiple = _int_or_none(node.config.get("pad_to_multiple_of")) or 1
        expected = -(-own.size // multiple) * multiple
        if rows != expected:
            self._add(
                "error",
                "weights-do-not-fit",
                (node.label,),
                f"{node.class_name} '{node.label}' has {own.size} ids (padded to {expected} rows), but its weights "
                f"in {self.source.weights_label} have {rows} rows; Keras refuses to load them. Save the model and "
                "its weights from the same run.",
            )

    def _check_fused(self, node: _Node) -> None:
        embedding = self._our_embedding(node)
        own = embedding.lookup
        assert own is not None
        self.pairs.append(
            LayerPair(
                "vocab-embedding",
                node.label,
                node.class_name,
                node.label,
                node.class_name,
                own.size,
                own.mask_id,
                own.oov_ids,
                embedding.rows,
                own.mask,
                (),
                embedding.padding_rows,
            )
        )

    # Embeddings ------------------------------------------------------------------------------------------------

    def _check_embedding(self, node: _Node, embedding: _Embedding) -> None:
        feeders: list[tuple[_Lookup, tuple[str, ...]]] = []
        traces = self._traces(node)
        # Rows the shifted ids of one route reach may be another route's: then rows are not told unreachable.
        shifted = any(trace.shift for trace in traces) and len(traces) > 1
        for trace in traces:
            lookup_node = trace.lookup
            lookup = self.lookup(lookup_node) if lookup_node is not None else None
            if trace.breaker is not None:
                if lookup_node is not None and lookup is not None:
                    self._note_unread_breaker(lookup, embedding, trace.breaker)
                continue
            if lookup is None:
                continue
            if trace.shift:
                self._check_shifted_pair(lookup, embedding, trace, alone=not shifted)
                continue
            feeders.append((lookup, trace.between))
        alone = len({id(lookup.node) for lookup, _ in feeders}) == 1 and not shifted
        for lookup, between in feeders:
            self._check_pair(lookup, embedding, between, alone)
        # Rows of an embedding that several lookups feed are reached by the ids of any of them: one warning for
        # the rows none reaches (as for a SavedModel, whose gathers of one matrix are told together).
        sizes = [lookup.size for lookup, _ in feeders]
        if feeders and not alone and not shifted and embedding.rows is not None and None not in sizes:
            reach = max(size for size in sizes if size is not None)
            if reach < embedding.rows:
                unreachable = embedding.rows - reach
                names = sorted({lookup.node.label for lookup, _ in feeders})
                self._add(
                    "warning",
                    "unreachable-rows",
                    (*names, node.label),
                    messages.rows_past_several_lookups(
                        f"{node.class_name} '{node.label}'", embedding.rows, ((0, reach - 1),), unreachable
                    ),
                    vocabulary_size=reach,
                    rows=embedding.rows,
                    unreachable_rows=unreachable,
                )

    def _note_unread_breaker(self, lookup: _Lookup, embedding: _Embedding, breaker: _Node) -> None:
        """The `path-not-checked` note of a lookup whose ids reach an embedding through a layer that may change them.
        A Lambda's is the common case (`Lambda(lambda x: x + 1)`): its function is code, which this check does not
        run (a .keras file holds it as bytecode that Keras loads only with `safe_mode=False`), while the graph of
        the model's export shows what it does; so its note says what was not checked and how to check it."""
        l_node, e_node = lookup.node, embedding.node
        who = f"{l_node.class_name} '{l_node.label}'"
        target = f"{e_node.class_name} '{e_node.label}'"
        through = f"{breaker.class_name} '{breaker.label}'"
        layers = (l_node.label, breaker.label, e_node.label)
        if not (breaker.is_keras and breaker.class_name == "Lambda"):
            self._add(
                "note",
                "path-not-checked",
                layers,
                f"The ids of {who} reach {target} through {through}, which may change them, so this pair was not "
                "checked.",
            )
            return
        ids = "its ids" if lookup.size is None else f"its ids 0 to {lookup.size - 1}"
        rows = "" if embedding.rows is None else f" ({embedding.rows} rows)"
        self._add(
            "note",
            "path-not-checked",
            layers,
            f"{who} gives {ids} to {through}, whose Python function this check does not run (a .keras file holds it "
            "as bytecode, which Keras loads only with `safe_mode=False`), and its output reaches "
            f"{target}{rows}: whether the ids it gives select rows of the embedding, and whether padding is masked, "
            "were not checked. To check them, export the model (`model.export(path)`) and run `vocabsafe inspect` on "
            "the export, whose graph shows what the Lambda does; or write a constant shift as "
            "`keras.ops.add(ids, k)`, which this check follows.",
            vocabulary_size=lookup.size,
            rows=embedding.rows,
        )

    def _record_pair(self, lookup: _Lookup, embedding: _Embedding, between: tuple[str, ...], shift: int = 0) -> None:
        """Lists a lookup and the embedding its ids reach, `shift` added to them on the way."""
        self.pairs.append(
            LayerPair(
                "lookup-embedding",
                lookup.node.label,
                lookup.node.class_name,
                embedding.node.label,
                embedding.node.class_name,
                lookup.size,
                None if lookup.mask_id is None else lookup.mask_id + shift,
                tuple(i + shift for i in lookup.oov_ids),
                embedding.rows,
                embedding.mask_zero,
                between,
                embedding.padding_rows,
            )
        )

    def _check_shifted_pair(self, lookup: _Lookup, embedding: _Embedding, trace: _Trace, alone: bool) -> None:
        """A lookup whose ids reach an embedding shifted by constants (`keras.ops.add(ids, 1)`): ids past either
        end of the rows are an error, and rows none selects a warning where no other route feeds the embedding
        (`alone`); the mask checks do not apply (the shift moves the mask id off 0), so a note says so where there
        is a mask."""
        l_node, e_node = lookup.node, embedding.node
        layers = (l_node.label, *trace.between, e_node.label)
        shifted = f"shifted by {trace.shift:+d} on the way (through {', '.join(trace.between)})"
        if lookup.size is None or embedding.rows is None or embedding.lookup is not None:
            self._add(
                "note",
                "path-not-checked",
                layers,
                f"The ids of {l_node.class_name} '{l_node.label}' reach {e_node.class_name} '{e_node.label}' "
                f"{shifted}, and this pair was not checked.",
            )
            return
        low, high = trace.shift, lookup.size - 1 + trace.shift
        who = f"{l_node.class_name} '{l_node.label}'"
        target = f"{e_node.class_name} '{e_node.label}'"
        self._record_pair(lookup, embedding, trace.between, trace.shift)
        past, below = messages.ids_outside_rows(low, high, embedding.rows)
        hashing = l_node.class_name in _KERAS_HASHING
        # Rows from saved weights that do not fit the config: other weights are the fix, not `input_dim`.
        weights = (
            self._weights_for_other_ids(embedding, range(low, high + 1), hashing)
            if embedding.config_rows is not None
            else None
        )
        sizes = (who, target, lookup.size, trace.shift, embedding.rows)
        if past or below:
            self._add(
                "error",
                "ids-exceed-rows",
                layers,
                messages.shifted_ids_past_rows(*sizes, between=trace.between, hashing=hashing, fix=weights),
                vocabulary_size=lookup.size,
                rows=embedding.rows,
                ids_without_row=past + below,
                shift=trace.shift,
            )
        elif embedding.rows > lookup.size and alone:
            self._add(
                "warning",
                "unreachable-rows",
                layers,
                messages.shifted_ids_leave_rows(*sizes, between=trace.between, hashing=hashing, fix=weights),
                vocabulary_size=lookup.size,
                rows=embedding.rows,
                unreachable_rows=embedding.rows - lookup.size,
                shift=trace.shift,
            )
        if lookup.mask or embedding.mask_zero:
            self._add(
                "note",
                "path-not-checked",
                layers,
                messages.shift_moves_the_mask(who, target, trace.shift, trace.between),
            )

    def _check_pair(self, lookup: _Lookup, embedding: _Embedding, between: tuple[str, ...], alone: bool) -> None:
        """The findings of one lookup and the embedding it feeds; `alone`: it is the embedding's only lookup (else
        `_check_embedding` tells the rows none of them reach)."""
        l_node, e_node = lookup.node, embedding.node
        layers = (l_node.label, e_node.label)
        self._record_pair(lookup, embedding, between)
        who = f"{l_node.class_name} '{l_node.label}'"
        target = f"{e_node.class_name} '{e_node.label}'"
        own = embedding.lookup
        if l_node.class_name in _KERAS_HASHING:
            self._check_hashing_pair(lookup, embedding, layers, who, target, alone)
            return
        if own is not None and own.tokens is not None and lookup.tokens is not None and own.tokens != lookup.tokens:
            moved = _count_moved(lookup.tokens, own.tokens)
            self._add(
                "error",
                "lookup-for-other-vocabulary",
                layers,
                f"{who} gives ids of another vocabulary than {target} holds rows for "
                f"({_describe(lookup.tokens, own.tokens, ('lookup', 'embedding'))}): {moved:,} id(s) select "
                "another token's row. Build the lookup from the embedding with `embedding.lookup()`.",
                ids_on_other_rows=moved,
            )
            return
        if lookup.size is not None and embedding.rows is not None:
            if lookup.size > embedding.rows:
                extra = lookup.size - embedding.rows
                examples = ""
                if lookup.tokens is not None:
                    shown = ", ".join(display_token(t) for t in lookup.tokens[embedding.rows : embedding.rows + 3])
                    examples = f" (the tokens {shown}{', ...' if extra > 3 else ''})"
                # A VocabIdEmbedding (whose vocabulary the lookup's unread tokens could not be compared with)
                # checks its ids itself; a Keras Embedding's gather fails on CPU only.
                failing = (
                    messages.ids_refused_by_the_layer(embedding.rows, eager=True)
                    if own is not None
                    else self._weights_for_other_ids(embedding, range(lookup.size))
                    if embedding.config_rows is not None
                    else f"{messages.GATHER_PAST_ROWS} Use `input_dim=lookup.vocabulary_size()` ({lookup.size}) "
                    "and retrain, or VocabEmbedding, which sizes the matrix from the vocabulary (`vocabsafe convert` "
                    "cannot mend this model: the rows those ids need were never trained)."
                )
                self._add(
                    "error",
                    "ids-exceed-rows",
                    layers,
                    f"{who} gives ids 0 to {lookup.size - 1}, but {target} has {embedding.rows} rows: the "
                    f"{extra:,} highest id(s){examples} select no row. {failing}",
                    vocabulary_size=lookup.size,
                    rows=embedding.rows,
                    ids_without_row=extra,
                )
            elif lookup.size < embedding.rows and alone:
                extra = embedding.rows - lookup.size
                self._add(
                    "warning",
                    "unreachable-rows",
                    layers,
                    f"{target} has {embedding.rows} rows, but {who} gives only ids 0 to {lookup.size - 1}: "
                    f"{extra:,} row(s) can never be selected"
                    + (
                        f". {self._weights_for_other_ids(embedding, range(lookup.size))}"
                        if embedding.config_rows is not None
                        else " and waste memory (often `len(vocabulary) + 2` on a "
                        "vocabulary that already held its special tokens). Use "
                        f"`input_dim=lookup.vocabulary_size()` ({lookup.size}), or VocabEmbedding"
                        + (
                            f" (without the {e_node.wrapper}: `vocabsafe convert` does not rewrite it)."
                            if e_node.wrapper
                            else " / `vocabsafe convert`."
                        )
                    ),
                    vocabulary_size=lookup.size,
                    rows=embedding.rows,
                    unreachable_rows=extra,
                )
        if own is not None:
            return  # A VocabIdEmbedding's mask follows its own mask token.
        if embedding.mask_zero and lookup.mask_id != 0:
            # No mask token, or one a vocabulary listing its special tokens puts at another id: id 0 is a token's.
            self._add(
                "error",
                "mask-zero-without-mask-token",
                layers,
                messages.mask_zero_off_the_mask_token(who, target, lookup.mask_id, 0 in lookup.oov_ids),
            )
        elif lookup.mask and not embedding.mask_zero and not _pads_nothing(lookup):
            self._add(
                "warning",
                "mask-token-without-mask-zero",
                layers,
                messages.mask_token_without_mask_zero(who, target, lookup.mask_id),
            )

    def _weights_for_other_ids(self, embedding: _Embedding, ids: range, hashing: bool = False) -> str:
        """Advice where an Embedding's rows come from saved weights that do not fit its config (`config_rows`):
        the weights were saved for another number of ids, so changing `input_dim` would not help. `ids`: the ids
        that reach the rows (from 0; or shifted on the way, where the rows they need are not the lookup's size);
        `hashing`: they are hash bins (`num_bins`), not a vocabulary's."""
        other, this = ("another num_bins", "this num_bins") if hashing else ("another vocabulary", "this vocabulary")
        if ids.start == 0:
            sized = "`input_dim=num_bins`" if hashing else "`input_dim=lookup.vocabulary_size()`"
            reached, sized = f"the {len(ids)} ids", f"{sized} ({len(ids)})"
        else:
            reached, sized = f"ids {ids.start} to {ids.stop - 1}", f"`input_dim={ids.stop}`"
        config = (
            f"the config's input_dim={embedding.config_rows} fits {reached}"
            if embedding.config_rows == ids.stop
            else f"the config's input_dim={embedding.config_rows} does not fit them either: use {sized}"
        )
        return (
            f"These {embedding.rows} rows are those of the weights in {self.source.weights_label} ({config}): they "
            f"were saved from a model with {other}. Load weights saved from a model with {this}, or retrain."
        )

    def _weights_fix(self, embedding: _Embedding, lookup: _Lookup) -> str | None:
        """`_weights_for_other_ids` of hash bins where the rows come from weights that do not fit the config."""
        if embedding.config_rows is None or lookup.size is None:
            return None
        return self._weights_for_other_ids(embedding, range(lookup.size), hashing=True)

    def _check_hashing_pair(
        self, lookup: _Lookup, embedding: _Embedding, layers: tuple[str, ...], who: str, target: str, alone: bool
    ) -> None:
        """`_check_pair` for hash bins: the same findings, told in terms of `num_bins` and `mask_value` (in the
        words of `_inspect_messages`, which the SavedModel half shares)."""
        if embedding.lookup is not None:  # A VocabIdEmbedding: its rows belong to the tokens of its vocabulary.
            bins, ids = lookup.size, embedding.rows
            self._add(
                "error",
                "hash-bins-into-vocabulary-embedding",
                layers,
                messages.hash_bins_into_vocabulary_rows(who, target, bins, ids),
                num_bins=bins,
                vocabulary_size=ids,
                ids_without_row=None if bins is None or ids is None else max(bins - ids, 0),
            )
            return
        if lookup.size is not None and embedding.rows is not None and lookup.size > embedding.rows:
            self._add(
                "error",
                "ids-exceed-rows",
                layers,
                messages.bins_past_rows(who, target, lookup.size, embedding.rows, self._weights_fix(embedding, lookup)),
                vocabulary_size=lookup.size,
                rows=embedding.rows,
                ids_without_row=lookup.size - embedding.rows,
            )
        elif lookup.size is not None and embedding.rows is not None and lookup.size < embedding.rows and alone:
            self._add(
                "warning",
                "unreachable-rows",
                layers,
                messages.rows_past_bins(who, target, lookup.size, embedding.rows, self._weights_fix(embedding, lookup)),
                vocabulary_size=lookup.size,
                rows=embedding.rows,
                unreachable_rows=embedding.rows - lookup.size,
            )
        if embedding.mask_zero and not lookup.mask:
            self._add(
                "error",
                "mask-zero-without-mask-token",
                layers,
                messages.mask_zero_on_a_hash_bin(who, target, lookup.size, lookup.node.class_name),
            )
        elif lookup.mask and not embedding.mask_zero:
            self._add(
                "warning", "mask-token-without-mask-zero", layers, messages.mask_value_without_mask_zero(who, target)
            )

    # Walking back from an embedding --------------------------------------------------------------------------------

    def _traces(self, embedding: _Node) -> list[_Trace]:
        traces: list[_Trace] = []
        for call in embedding.calls:
            if call:
                self._walk(embedding.scope, call[0], (), None, traces, set())
        return traces

    def _walk(
        self,
        scope: _Scope,
        ref: tuple[str, int],
        between: tuple[str, ...],
        breaker: _Node | None,
        traces: list[_Trace],
        seen: set[tuple[Any, ...]],
        shift: int = 0,
    ) -> None:
        """Follows the ids an embedding takes up to the lookups giving them; `shift`: what the constant shifts passed
        on the way (`keras.ops.add(ids, 1)`) add to the ids."""
        # A node reached by two routes (a shifted one, or one through a layer that may change ids, besides a plain
        # one) is followed once by each.
        key = (id(scope), ref[0], ref[1], shift, breaker is None)
        if key in seen or len(seen) > 10_000:
            return
        seen.add(key)
        node = scope.nodes.get(ref[0])
        if node is None:
            return
        if node.inner is not None:
            inner = node.inner
            if inner.graph_known and ref[1] < len(inner.outputs):
                self._walk(inner, inner.outputs[ref[1]], between, breaker, traces, seen, shift)
            return
        if node.class_name == "InputLayer" or node.name == "<input>":
            owner = scope.owner
            if owner is None:
                return
            position = next((i for i, (name, _) in enumerate(scope.inputs) if name == node.name), None)
            if position is None:
                return
            for call in owner.calls:
                if position < len(call):
                    self._walk(owner.scope, call[position], between, breaker, traces, seen, shift)
            return
        if self._is_lookup_source(node):
            traces.append(_Trace(node, between, breaker, shift))
            return
        if node.is_keras and node.shift is not None:
            shift += node.shift
        elif breaker is None and not (node.is_keras and node.class_name in _INDEX_KEEPING):
            breaker = node
        for call in node.calls:
            for upstream in call:
                self._walk(scope, upstream, (node.name, *between), breaker, traces, seen, shift)

    def _is_lookup_source(self, node: _Node) -> bool:
        if node.class_name in _KERAS_LOOKUPS and node.is_keras:
            return self.lookup(node) is not None
        return node.class_name in _OUR_LOOKUPS and not node.is_keras and self.lookup(node) is not None

    # The vocabulary the model was trained with ---------------------------------------------------------------------

    def compare_with_expected(self, vocabulary: Any, layer: str | None) -> None:
        candidates: dict[str, _Lookup] = {}
        for pair in self.pairs:
            for name in (pair.lookup, pair.embedding):
                for node in self.graph.nodes():
                    if node.label == name:
                        found = self.lookup(node)
                        # Hash bins have no tokens to compare with a vocabulary.
                        if found is not None and node.class_name not in _KERAS_HASHING:
                            candidates.setdefault(name, found)
        for found in self.checked_lookups:
            candidates.setdefault(found.node.label, found)
        if layer is not None and layer not in candidates:
            # A nested lookup's bare name (`words` for `inner/words`), where only one lookup has it.
            matches = [label for label in candidates if label.rpartition("/")[2] == layer]
            layer = matches[0] if len(matches) == 1 else layer
        if layer is not None:
            if layer not in candidates:
                raise ConfigurationError(
                    f"The model has no lookup named {layer!r}; its lookups are {sorted(candidates) or 'none'}."
                )
            target = candidates[layer]
        elif len(candidates) == 1:
            target = next(iter(candidates.values()))
        elif not candidates:
            raise ConfigurationError("The model has no vocabulary lookup to compare the expected vocabulary with.")
        else:
            raise ConfigurationError(
                f"The model has several lookups ({', '.join(sorted(candidates))}); say which one the vocabulary "
                "belongs to with --layer NAME (`layer=` in Python)."
            )
        if target.tokens is None:
            raise ConfigurationError(
                f"The tokens of {target.node.class_name} '{target.node.label}' are not in the model (see the notes), "
                "so they cannot be compared with the expected vocabulary."
            )
        expected = _expected_tokens(vocabulary, target)
        current = target.tokens
        special = set(target.specials)
        expected_ids = {token: i for i, token in enumerate(expected) if token not in special}
        model_ids = {token: i for i, token in enumerate(current) if token not in special}
        moved = sum(1 for token, i in expected_ids.items() if token in model_ids and model_ids[token] != i)
        missing = sum(1 for token in expected_ids if token not in model_ids)
        new = sum(1 for token in model_ids if token not in expected_ids)
        specials_differ = [t for t in current if t in special] != [t for t in expected if t in special]
        if moved or missing or new or specials_differ:
            self._add(
                "error",
                "vocabulary-differs-from-expected",
                (target.node.label,),
                f"{target.node.class_name} '{target.node.label}' gives other ids than the expected vocabulary "
                f"({_describe(expected, current, ('expected', 'model'))}): {moved:,} token(s) moved to another id, "
                f"{missing:,} missing, {new:,} new. Moved tokens select rows trained for other tokens; this is "
                "what re-adapting a lookup between training and export does. Export with the lookup from the "
                "training run (or `set_vocabulary(expected)`), or use VocabEmbedding, whose weights carry their "
                "tokens.",
                moved=moved,
                missing=missing,
                new=new,
            )


@dataclasses.dataclass
class _Trace:
    lookup: _Node | None
    between: tuple[str, ...]
    breaker: _Node | None
    shift: int = 0  # What constant shifts on the way add to the lookup's ids.


def _expected_tokens(vocabulary: Any, target: _Lookup) -> list[Any]:
    """The expected vocabulary as every id's token, laid out as the target lookup lays out ids."""
    loaded: Sequence[Any]
    if isinstance(vocabulary, (str, os.PathLike)):
        loaded = Vocabulary.load(vocabulary, dtype=target.dtype).tokens
    elif isinstance(vocabulary, Vocabulary):
        loaded = vocabulary.tokens
    else:
        loaded = [canonical_token(t, target.dtype) for t in vocabulary]
    tokens = list(loaded)
    special_ids = sorted([*target.oov_ids, *([] if target.mask_id is None else [target.mask_id])])
    if target.positions is not None and target.tokens:  # Ids are positions: compare the lists as they are.
        return tokens if set(target.specials) & set(tokens) else [target.tokens[i] for i in special_ids] + tokens
    leading = [target.tokens[i] for i in special_ids] if target.tokens else []
    # A `get_vocabulary()` list starts with the mask and OOV tokens; a bare vocabulary has none of them.
    for token in leading:
        if tokens and tokens[0] == token:
            tokens.pop(0)
    return leading + tokens


def _count_moved(first: Sequence[Any], second: Sequence[Any]) -> int:
    """How many ids of `first` hold a different token in `second` (ids only one of them has count too)."""
    common = min(len(first), len(second))
    if common:
        a = np.asarray(first[:common], dtype=object)
        b = np.asarray(second[:common], dtype=object)
        differing = int(np.count_nonzero(a != b))
    else:
        differing = 0
    return differing + abs(len(first) - len(second))


def _describe(first: Sequence[Any], second: Sequence[Any], labels: tuple[str, str]) -> str:
    for index, (a, b) in enumerate(zip(first, second)):
        if a != b:
            return f"id {index} is {display_token(a)} in the {labels[0]}, {display_token(b)} in the {labels[1]}"
    if len(first) == len(second):
        return "the tokens are the same"
    return f"the {labels[0]} has {len(first)} ids, the {labels[1]} {len(second)}"


def _id_ranges(ids: Sequence[int]) -> str:
    if not ids:
        return "none"
    if len(ids) == 1:
        return str(ids[0])
    return f"{ids[0]}-{ids[-1]}"


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None
