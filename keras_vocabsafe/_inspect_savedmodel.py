"""The SavedModel half of `inspect_model`: lookups paired with embeddings from the graph alone.

A SavedModel keeps no Keras config, but its graph says everything the check
needs. This reads `saved_model.pb` (nothing is loaded, no function runs):

- each hash table is a `resource` of the object graph; its `_initialize`
  function fills it from captured constants (`LookupTableImportV2`) or from
  an asset file (`InitializeTableFromTextFileV2`), so its values are known;
- each saved function is interpreted over sets of integers: a table lookup
  gives its values and its default, hash buckets give their range, and the
  sets follow the ids through ops that move values without changing them
  (`Identity`, `Cast`, `Reshape`, `StridedSlice`, `ConcatV2`, ...), constant
  shifts (the OOV bucket offset), `SelectV2` narrowed by its condition
  (`ids < 0`, `ids == default`), `GatherNd` of the ids where a comparison
  holds (`ids >= 0`) and calls into nested functions;
- a `GatherV2` / `ResourceGather` of a 2-D variable with such ids is a pair.

A graph this cannot follow (tables filled at run time, ops it does not know)
gives a note listing what it found instead of a guess.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from keras_vocabsafe import _compat
from keras_vocabsafe import _inspect_messages as messages
from keras_vocabsafe.errors import ModelFileError

_TABLE_OPS = {"HashTableV2", "MutableHashTableV2", "MutableDenseHashTableV2", "MutableHashTableOfTensorsV2"}
_CALL_OPS = {"StatefulPartitionedCall", "PartitionedCall"}
_GATHER_OPS = {"GatherV2", "Gather", "ResourceGather"}
_FIND_OPS = {"LookupTableFindV2", "LookupTableFind"}
_SCOPED_OPS = {"ReadVariableOp", *_FIND_OPS}  # The ops `_Frame.scoped_ops` finds by name scope.
_HASH_OPS = {"StringToHashBucketFast", "StringToHashBucketStrong", "StringToHashBucket"}
# Ops whose output holds values of their first input only (moved, repeated, cut or re-typed).
_PASS_FIRST = {
    "Identity",
    "Snapshot",
    "StopGradient",
    "PreventGradient",
    "EnsureShape",
    "Reshape",
    "ExpandDims",
    "Squeeze",
    "StridedSlice",
    "Slice",
    "Transpose",
    "Tile",
    "ReverseV2",
    "BroadcastTo",
    "MirrorPad",
    "Cast",
    "GatherV2",  # Ids gathered from an id tensor (not from a variable).
    "Gather",
    "GatherNd",
}
_INT_TYPES = {3, 9, 4, 5, 6, 17, 22, 23}  # DT_INT32, INT64, UINT8, INT16, INT8, UINT16, UINT32, UINT64.
_COMPARISONS = {"Less", "LessEqual", "Greater", "GreaterEqual", "Equal", "NotEqual"}
_MAX_FOLLOWED = 10_000  # Ops followed from a lookup's ids to prove that they only select rows.
_MAX_EXPANDED_IDS = 10_000  # OOV ids listed one by one in a pair; more are summarised by their ranges.
_VERSION_DIR = re.compile(r"^\d+$")

Intervals = tuple[tuple[int, int], ...]  # Sorted, disjoint, inclusive ranges of integers.
# A hash op as seen from the function that reads its ids: the names of the call ops down to the function that runs
# it, then its own name. Op names are unique within a function only: two functions may each hold a "hashed" op.
_HashOp = tuple[str, ...]


# Sets of integers as ranges -------------------------------------------------------------------------------------


def _normalise(ranges: Iterable[tuple[int, int]]) -> Intervals:
    merged: list[list[int]] = []
    for low, high in sorted(r for r in ranges if r[0] <= r[1]):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return tuple((low, high) for low, high in merged)


def _from_values(values: Any) -> Intervals:
    import numpy as np

    # Sorting, not np.unique: NumPy 2's hash-based unique takes seconds on a 1,000,000-entry table.
    values = np.sort(np.asarray(values, dtype=np.int64).ravel())
    if values.size == 0:
        return ()
    values = values[np.concatenate([[True], values[1:] != values[:-1]])]
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [values.size - 1]])
    return tuple((int(values[s]), int(values[e])) for s, e in zip(starts, ends))


def _clip(ranges: Intervals, low: float, high: float) -> Intervals:
    return _normalise((int(max(a, low)), int(min(b, high))) for a, b in ranges if b >= low and a <= high)


def _without(ranges: Intervals, point: int) -> Intervals:
    return _normalise(
        part for a, b in ranges for part in (((a, b),) if not a <= point <= b else ((a, point - 1), (point + 1, b)))
    )


def _count(ranges: Intervals) -> int:
    return sum(b - a + 1 for a, b in ranges)


def _ids_of(ranges: Intervals) -> tuple[int, ...]:
    if _count(ranges) > _MAX_EXPANDED_IDS:
        return tuple(sorted({a for a, _ in ranges} | {b for _, b in ranges}))
    return tuple(i for a, b in ranges for i in range(a, b + 1))


# Abstract values ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Ids:
    """The integers a tensor can hold; `tables` are the lookups they came from, `oov` the ids unknown keys get,
    `hashes` the hash ops whose buckets they hold (a `Hashing` layer's, or a lookup's OOV buckets)."""

    ranges: Intervals
    tables: frozenset[int] = frozenset()
    oov: Intervals = ()
    padding: Intervals = ()  # Constant ids put in by the graph itself (padding, the mask), not by a table.
    hashes: frozenset[_HashOp] = frozenset()
    # What constants added to the ids of the tables and hash ops on the way (`keras.ops.add(ids, 1)`): the ids the
    # lookup gave are `ranges` less `shift`. Constants a lookup adds to its own OOV buckets are not counted (its
    # ids are those buckets and its table's ids together, of which only the buckets were moved: see `_union`).
    shift: int = 0
    # The ops that added those constants (by node name, whose name scope is the layer they ran in).
    shifted_by: tuple[str, ...] = ()
    # The ids before the embedding wrapped negative ones around to its last rows (Keras's Embedding on TensorFlow,
    # see `_select`), where it did: these ids hold the rows they select.
    before_wrap: _Ids | None = None

    def map(self, change: Callable[[Intervals], Intervals]) -> _Ids:
        return _Ids(
            change(self.ranges),
            self.tables,
            change(self.oov),
            change(self.padding),
            self.hashes,
            self.shift,
            self.shifted_by,
            self.before_wrap,
        )


def _union(values: list[_Ids]) -> _Ids:
    # Ids moved by different constants (a lookup's OOV buckets after its table's ids) have no one shift.
    shifted = [v for v in values if v.tables or v.hashes]
    shifts = {v.shift for v in shifted}
    one_shift = len(shifts) == 1
    return _Ids(
        _normalise(r for v in values for r in v.ranges),
        frozenset().union(*(v.tables for v in values)),
        _normalise(r for v in values for r in v.oov),
        _normalise(r for v in values for r in v.padding),
        frozenset().union(*(v.hashes for v in values)),
        shifts.pop() if one_shift else 0,
        tuple(dict.fromkeys(op for v in shifted for op in v.shifted_by)) if one_shift else (),
        None
        if all(v.before_wrap is None for v in values)
        else _union([v if v.before_wrap is None else v.before_wrap for v in values]),
    )


@dataclasses.dataclass(frozen=True)
class _Const:
    tensor: Any  # The TensorProto.

    def array(self) -> Any:
        import tensorflow as tf

        return tf.make_ndarray(self.tensor)

    def ids(self) -> _Ids | None:
        if self.tensor.dtype not in _INT_TYPES:
            return None
        return _Ids(_from_values(self.array()))


@dataclasses.dataclass(frozen=True)
class _Variable:
    node_id: int
    name: str
    shape: tuple[int, ...] | None


@dataclasses.dataclass(frozen=True)
class _VariableValue:
    variable: _Variable


@dataclasses.dataclass(frozen=True)
class _TableHandle:
    node_id: int


@dataclasses.dataclass(frozen=True)
class _Asset:
    path: str


@dataclasses.dataclass
class _Table:
    """What a hash table holds, read from its initializer (`values` None when it cannot be read)."""

    node_id: int
    values: Intervals | None = None
    size: int | None = None
    key_dtype: str | None = None
    empty_key_id: int | None = None  # The id of the key "" (Keras's and our default mask token), if any.
    # The keys of the table's initializer and their ids (NumPy arrays; None for a vocabulary file): our lookups keep
    # their mask token (any token, "[PAD]" as well as "") in the table, at its own id (not always 0: a vocabulary
    # that lists its special tokens keeps their positions), and the graph compares the keys with it to compute the
    # mask (see `_Frame._mask_ids`).
    keys: Any = None
    key_ids: Any = None
    mask_ids: set[int] = dataclasses.field(default_factory=set)  # Ids of keys the graph takes for a mask.
    why_unknown: str = ""

    def ids_of(self, key: bytes | int) -> list[int]:
        """The ids the table gives `key` (none if it is not a key, or the keys are not known)."""
        import numpy as np

        if self.keys is None:
            return []
        return [int(self.key_ids[i]) for i in np.flatnonzero(self.keys == key)]

    def gives_only_the_mask(self, id_: int) -> bool:
        """Whether the only key the table gives `id_` is a mask token (no token of the vocabulary has that id)."""
        import numpy as np

        if self.values is None or not _clip(self.values, id_, id_):
            return True
        return self.keys is not None and id_ in self.mask_ids and int(np.count_nonzero(self.key_ids == id_)) == 1


# Reading the SavedModel --------------------------------------------------------------------------------------------


def savedmodel_directory(path: str) -> tuple[str, str | None] | None:
    """The SavedModel directory `path` names (itself, or its only version), and the version; None if neither."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(os.path.join(path, "saved_model.pbtxt")):
        return path, None
    try:
        entries = os.listdir(path)
    except OSError:
        return None
    versions = sorted(
        (e for e in entries if _VERSION_DIR.match(e) and os.path.isfile(os.path.join(path, e, "saved_model.pb"))),
        key=int,
    )
    if not versions:
        return None
    if len(versions) > 1:
        shown = ", ".join(versions[-5:])
        raise ModelFileError(
            f"{path} is a serving base directory with {len(versions)} versions ({shown}). Pass the version to "
            f"inspect, e.g. {os.path.join(path, versions[-1])}."
        )
    return os.path.join(path, versions[0]), versions[0]


class _SavedModel:
    def __init__(self, path: str) -> None:
        from google.protobuf import text_format
        from google.protobuf.message import DecodeError

        self.path = path
        proto = _compat.saved_model_proto()
        file = os.path.join(path, "saved_model.pb")
        try:
            if os.path.isfile(file):
                with open(file, "rb") as binary:
                    proto.ParseFromString(binary.read())
            else:
                file = os.path.join(path, "saved_model.pbtxt")
                with open(file, encoding="utf-8") as text:
                    text_format.Parse(text.read(), proto)
        except (OSError, DecodeError, text_format.ParseError, UnicodeDecodeError) as error:
            raise ModelFileError(f"{file} cannot be read as a SavedModel ({error}); the export is damaged.") from None
        if not proto.meta_graphs:
            raise ModelFileError(f"{file} holds no graph; the export is damaged or empty.")
        self.meta_graph = proto.meta_graphs[0]
        self.graph_nodes = {node.name: node for node in self.meta_graph.graph_def.node}
        self.functions = {f.signature.name: f for f in self.meta_graph.graph_def.library.function}
        self.objects = list(self.meta_graph.object_graph_def.nodes)
        self.bound_inputs = {
            name: list(function.bound_inputs)
            for name, function in self.meta_graph.object_graph_def.concrete_functions.items()
        }
        self._tables: dict[int, _Table] = {}
        self._paths: dict[int, str] | None = None

    def object_path(self, node_id: int) -> str | None:
        """The attribute path by which the saved root object holds an object of the object graph, as the code
        that built it reaches it (`tables.vocab`; `tables[0]` for an item of a list); the shortest where several
        lead there. None if none does."""
        if self._paths is None:
            paths, todo = {0: ""}, deque([0])
            while todo and self.objects:
                parent = todo.popleft()
                for child in self.objects[parent].children:
                    if child.node_id in paths or not 0 <= child.node_id < len(self.objects):
                        continue
                    name = child.local_name
                    step = f"[{name}]" if name.isdigit() else f".{name}" if paths[parent] else name
                    paths[child.node_id] = paths[parent] + step
                    todo.append(child.node_id)
            self._paths = paths
        return self._paths.get(node_id) or None

    def captured(self, node_id: int) -> Any:
        """The value a function sees for a captured object of the object graph."""
        if not 0 <= node_id < len(self.objects):
            return None
        obj = self.objects[node_id]
        kind = obj.WhichOneof("kind")
        if kind == "variable":
            dims = obj.variable.shape.dim
            shape = None if obj.variable.shape.unknown_rank else tuple(int(d.size) for d in dims)
            return _Variable(node_id, obj.variable.name, shape)
        if kind == "resource":
            return _TableHandle(node_id)
        if kind == "constant":
            node = self.graph_nodes.get(obj.constant.operation)
            if node is not None and node.op == "Const":
                return _Const(node.attr["value"].tensor)
            return None
        if kind == "asset":
            index = obj.asset.asset_file_def_index
            if 0 <= index < len(self.meta_graph.asset_file_def):
                return _Asset(os.path.join(self.path, "assets", self.meta_graph.asset_file_def[index].filename))
        return None

    def function_frame(self, name: str) -> _Frame | None:
        function = self.functions.get(name)
        if function is None:
            return None
        bound = self.bound_inputs.get(name, [])
        inputs = function.signature.input_arg
        free = len(inputs) - len(bound)
        if free < 0:
            return None
        args: list[Callable[[], Any]] = [lambda: None] * free
        args += [functools.partial(self.captured, node_id) for node_id in bound]
        return _Frame(self, function, args, depth=0)

    def table(self, node_id: int) -> _Table:
        if node_id not in self._tables:
            self._tables[node_id] = self._read_table(node_id)
        return self._tables[node_id]

    def _read_table(self, node_id: int) -> _Table:
        table = _Table(node_id)
        children = {child.local_name: child.node_id for child in self.objects[node_id].children}
        creator = self.concrete_functions(children.get("_create_resource"))
        for name in creator:
            for node in self.functions[name].node_def if name in self.functions else ():
                if node.op in _TABLE_OPS:
                    if node.op != "HashTableV2":
                        table.why_unknown = f"it is a {node.op}, filled at run time"
                        return table
                    table.key_dtype = "string" if node.attr["key_dtype"].type == 7 else "int"
        for name in self.concrete_functions(children.get("_initialize")):
            frame = self.function_frame(name)
            if frame is None:
                continue
            for node in frame.function.node_def:
                if node.op in ("LookupTableImportV2", "InitializeTableV2"):
                    keys, values = frame.value(node.input[1]), frame.value(node.input[2])
                    if isinstance(keys, _Const) and isinstance(values, _Const) and values.tensor.dtype in _INT_TYPES:
                        array = values.array().ravel()
                        table.values = _from_values(array)
                        table.size = int(array.size)
                        key_array = keys.array().ravel()
                        if key_array.size == array.size:
                            table.keys, table.key_ids = key_array, array
                        if keys.tensor.dtype == 7:
                            strings = keys.tensor.string_val
                            if b"" in strings:
                                table.empty_key_id = int(array[list(strings).index(b"")])
                        return table
                elif node.op == "InitializeTableFromTextFileV2":
                    return self._text_file_table(table, node, frame)
        table.why_unknown = table.why_unknown or "its initializer is not one this check reads"
        return table

    def _text_file_table(self, table: _Table, node: Any, frame: _Frame) -> _Table:
        filename = frame.value(node.input[1])
        if isinstance(filename, _Const) and filename.tensor.dtype == 7 and filename.tensor.string_val:
            filename = _Asset(os.path.join(self.path, "assets", os.path.basename(filename.tensor.string_val[0])))
        if not isinstance(filename, _Asset):
            table.why_unknown = "its vocabulary file is not one of the export's assets"
            return table
        if node.attr["value_index"].i != -1 or node.attr["key_index"].i != -2:
            table.why_unknown = "it reads columns of its vocabulary file, not whole lines"
            return table
        try:
            with open(filename.path, "rb") as f:
                content = f.read()
        except OSError as error:
            raise ModelFileError(
                f"{filename.path}, the vocabulary asset of a lookup table, cannot be read ({error.strerror or error});"
                " the export is incomplete."
            ) from None
        # As TensorFlow's line reader counts them: a last line without a newline is a line too.
        lines = content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)
        if node.attr["vocab_size"].i > 0:
            lines = min(lines, node.attr["vocab_size"].i)
        offset = node.attr["offset"].i
        table.values = ((offset, offset + lines - 1),) if lines else ()
        table.size = lines
        return table

    def concrete_functions(self, node_id: int | None) -> list[str]:
        if node_id is None or not 0 <= node_id < len(self.objects):
            return []
        obj = self.objects[node_id]
        kind = obj.WhichOneof("kind")
        if kind == "function":
            return list(obj.function.concrete_functions)
        if kind == "bare_concrete_function":
            return [obj.bare_concrete_function.concrete_function_name]
        return []


class _TooComplex(Exception):
    """A graph deeper than this check follows."""


class _Frame:
    """One call of a function: what each tensor can hold, computed on demand."""

    _MAX_DEPTH = 32

    def __init__(self, model: _SavedModel, function: Any, args: list[Callable[[], Any]], depth: int) -> None:
        if depth > self._MAX_DEPTH:
            raise _TooComplex(f"functions nested more than {self._MAX_DEPTH} deep")
        self.model = model
        self.function = function
        self.depth = depth
        self.nodes = {node.name: node for node in function.node_def}
        self.arg_index = {arg.name: i for i, arg in enumerate(function.signature.input_arg)}
        self.args = args
        self.children: dict[str, _Frame | None] = {}
        self._memo: dict[str, Any] = {}
        self._equalities: dict[str, list[bytes | int]] | None = None
        # Consumers of each op, by op name: (all of them, those taking its outputs as data); see `consumers`.
        self._consumers: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        self._scoped: dict[str, list[Any]] | None = None

    def child(self, node: Any) -> _Frame | None:
        if node.name not in self.children:
            callee = self.model.functions.get(node.attr["f"].func.name)
            frame = None
            if callee is not None:
                inputs = [i for i in node.input if not i.startswith("^")]
                args: list[Callable[[], Any]] = [functools.partial(self.value, ref) for ref in inputs]
                frame = _Frame(self.model, callee, args, self.depth + 1)
            self.children[node.name] = frame
        return self.children[node.name]

    def value(self, ref: str, narrowed: dict[str, _Ids] | None = None) -> Any:
        ref = _canonical(ref)
        if narrowed and ref in narrowed:
            return narrowed[ref]
        if not narrowed and ref in self._memo:
            return self._memo[ref]
        result = self._compute(ref, narrowed or {})
        if not narrowed:
            self._memo[ref] = result
        return result

    def _compute(self, ref: str, narrowed: dict[str, _Ids]) -> Any:
        name, _, rest = ref.partition(":")
        if name in self.arg_index and name not in self.nodes:
            return self.args[self.arg_index[name]]()
        node = self.nodes.get(name)
        if node is None:
            return None
        output = rest.split(":")
        index = int(output[1]) if len(output) == 2 and output[1].isdigit() else 0
        inputs = [i for i in node.input if not i.startswith("^")]

        def get(i: int) -> Any:
            return self.value(inputs[i], narrowed) if i < len(inputs) else None

        op = node.op
        if op == "Const":
            return _Const(node.attr["value"].tensor)
        if op in _CALL_OPS:
            frame = self.child(node)
            if frame is None or index >= len(frame.function.signature.output_arg):
                return None
            out = frame.function.signature.output_arg[index].name
            returned = frame.value(frame.function.ret[out])
            if isinstance(returned, _Ids) and returned.hashes:  # Seen from here, through this call (`_HashOp`).
                returned = dataclasses.replace(returned, hashes=frozenset((node.name, *h) for h in returned.hashes))
            return returned
        if op == "ReadVariableOp":
            handle = get(0)
            return _VariableValue(handle) if isinstance(handle, _Variable) else None
        if op in _FIND_OPS:
            return self._find(get(0), get(2), inputs[1] if len(inputs) > 1 else "")
        if op in ("LookupTableSizeV2", "LookupTableSize"):
            # `tf.lookup.StaticVocabularyTable` puts its OOV buckets after the table's ids: buckets + size.
            handle = get(0)
            size = self.model.table(handle.node_id).size if isinstance(handle, _TableHandle) else None
            return None if size is None else _Ids(((size, size),))
        if op in _HASH_OPS:
            buckets = int(node.attr["num_buckets"].i)
            ranges = ((0, buckets - 1),)
            return _Ids(ranges, oov=ranges, hashes=frozenset([(node.name,)]))
        if op == "SparseCross" and node.attr["hashed_output"].b and node.attr["num_buckets"].i > 0:
            # `HashedCrossing`: the crossed features' buckets are the values of its sparse output (its second).
            # Keras's layer calls `tf.sparse.cross_hashed`, which runs this op (`hashed_output=True`); the newer
            # `SparseCrossHashed` op is run only by `tf.raw_ops.SparseCrossHashed` (no Keras layer or `tf.sparse`
            # function uses it), so it is not followed.
            if output[0] not in ("output_values", "1"):
                return None
            ranges = ((0, int(node.attr["num_buckets"].i) - 1),)
            return _Ids(ranges, oov=ranges, hashes=frozenset([(node.name,)]))
        if op == "SparseToDense":  # The values, and the default where the sparse tensor has none (an id too).
            return _union_of([get(2), get(3)])
        if op in ("OnesLike", "ZerosLike") and node.attr["T"].type in _INT_TYPES:
            # Constant ids: `Hashing(mask_value=...)` shifts its buckets by ones and puts zeros (the mask) in.
            if op == "OnesLike":
                return _Ids(((1, 1),))
            return _Ids(((0, 0),), padding=((0, 0),))
        if op == "Cast" and node.attr["DstT"].type not in _INT_TYPES:
            value = get(0)  # A variable read cast to the compute dtype (mixed precision) is still its rows.
            return value if isinstance(value, _VariableValue) else None
        if op == "StridedSlice" and isinstance(get(0), _Const):
            return _slice_constant(node, [get(i) for i in range(4)])
        if op == "GatherNd":  # Ids picked by a comparison of their own (text layers drop the ids of empty tokens).
            picked = self._picked_by_comparison(inputs, narrowed)
            if picked is not None:
                return picked
        if op in _PASS_FIRST:
            value = get(0)
            if isinstance(value, _Const):
                value = value.ids()
            return value if isinstance(value, (_Ids, _VariableValue)) else None
        if op == "IdentityN":
            return get(index)
        if op in ("ConcatV2", "Concat", "Pack"):
            parts = inputs[:-1] if op == "ConcatV2" else inputs[1:] if op == "Concat" else inputs
            return _union_of([self.value(p, narrowed) for p in parts])
        if op == "PadV2":
            return _union_of([get(0), _padding(get(2))])
        if op == "Pad":
            return _union_of([get(0), _Ids(((0, 0),), padding=((0, 0),))])
        if op == "RaggedTensorToTensor":
            return _union_of([get(1), _padding(get(2))])
        if op == "TensorScatterUpdate":  # Ids with some of them replaced by other ids (text layers' second lookup).
            return _union_of([self._kept_by_scatter(inputs, narrowed), get(2)])
        if op in ("DynamicStitch", "ParallelDynamicStitch"):  # The ids of a batch's parts, put back in order.
            return _union_of([self.value(part, narrowed) for part in inputs[int(node.attr["N"].i) :]])
        if op == "RaggedGather":  # Rows of ragged ids: its values output holds values of the params' values.
            # A function body names the output; a graph numbers it, after the row splits.
            if output[0] not in ("output_dense_values", str(node.attr["OUTPUT_RAGGED_RANK"].i)):
                return None
            value = get(int(node.attr["PARAMS_RAGGED_RANK"].i))
            return value if isinstance(value, _Ids) else None
        if op in ("SelectV2", "Select"):
            return self._select(node, inputs, narrowed)
        if op in ("AddV2", "Add", "Sub"):
            first, second = get(0), get(1)
            if op != "Sub" and node.attr["T"].type not in _INT_TYPES:
                # A matrix plus a term of its shape (Keras's LoRA adds A @ B to the rows) has the matrix's rows.
                matrices = [v for v in (first, second) if isinstance(v, _VariableValue) and _rows(v.variable) != 1]
                return matrices[0] if len(matrices) == 1 else None
            # `OnesLike` is how `Hashing(mask_value=...)` moves its buckets past the mask id: no shift of its ids.
            shifts = getattr(self._node(inputs[1]), "op", None) != "OnesLike"
            return _add(first, second, negate=op == "Sub", shifted_by=node.name if shifts else None)
        if op == "FloorMod":  # How IntegerLookup hashes unknown keys into its OOV ids.
            divisor = get(1)
            if isinstance(divisor, _Const) and divisor.array().size == 1 and int(divisor.array().ravel()[0]) > 0:
                ranges = ((0, int(divisor.array().ravel()[0]) - 1),)
                return _Ids(ranges, oov=ranges)
            return None
        if op in ("Maximum", "Minimum"):
            return _clamp(get(0), get(1), op)
        return None

    def _kept_by_scatter(self, inputs: list[str], narrowed: dict[str, _Ids]) -> Any:
        """The ids a `TensorScatterUpdate` keeps: all of its first input, but those equal to `c` where the updates
        go to `Where(Equal(first, c))` (the text layers replace every id that a lookup left at its default)."""
        compared = self._where_compared(inputs, narrowed)
        if compared is None or compared[1] != "Equal":
            return self.value(inputs[0], narrowed)
        return _narrow(compared[2], "NotEqual", compared[3])[0]

    def _picked_by_comparison(self, inputs: list[str], narrowed: dict[str, _Ids]) -> _Ids | None:
        """The ids a `GatherNd(x, Where(x op c))` picks: those of `x` for which the comparison holds; None for
        another gather."""
        compared = self._where_compared(inputs, narrowed)
        return None if compared is None else _narrow(compared[2], compared[1], compared[3])[0]

    def _where_compared(self, inputs: list[str], narrowed: dict[str, _Ids]) -> tuple[str, str, _Ids, int] | None:
        """`_comparison` of the condition when an op's indices (`inputs[1]`) are `Where(x op c)` and its first
        input is that `x`; else None."""
        where = self._node(inputs[1]) if len(inputs) > 1 else None
        compared = self._comparison(where.input[0], narrowed) if where is not None and where.op == "Where" else None
        return compared if compared is not None and compared[0] == _canonical(inputs[0]) else None

    def _node(self, ref: str) -> Any:
        """The node that makes tensor `ref` in this function, or None (an argument)."""
        return self.nodes.get(_canonical(ref).partition(":")[0])

    def _comparison(self, ref: str, narrowed: dict[str, _Ids]) -> tuple[str, str, _Ids, int] | None:
        """For a tensor `ref` that compares ids with one constant: the ids' tensor, the comparison, the ids, and the
        constant."""
        condition = self._node(ref)
        if condition is None or condition.op not in _COMPARISONS:
            return None
        compared = [i for i in condition.input if not i.startswith("^")]
        subject, bound = _canonical(compared[0]), self.value(compared[1], narrowed)
        current = self.value(subject, narrowed)
        if not isinstance(current, _Ids) or not isinstance(bound, _Const) or bound.array().size != 1:
            return None
        return subject, condition.op, current, int(bound.array().ravel()[0])

    def _find(self, handle: Any, default: Any, keys: str) -> _Ids | None:
        if not isinstance(handle, _TableHandle) or not isinstance(default, _Const):
            return None
        table = self.model.table(handle.node_id)
        if table.values is None:
            return _Ids((), frozenset([handle.node_id]))  # Known to be a lookup, values unknown: reported.
        default_ids = default.ids()
        if default_ids is None:
            return None
        padding = _from_values(self._mask_ids(table, keys))
        # A negative default is no OOV id: it is replaced (by hash buckets) or refused (num_oov_indices=0).
        return _Ids(
            _normalise(table.values + default_ids.ranges),
            frozenset([handle.node_id]),
            _clip(default_ids.ranges, 0, float("inf")),
            padding,
        )

    def _mask_ids(self, table: _Table, keys: str) -> list[int]:
        """The ids of `table` that are a mask for the keys of tensor `keys`: the key "" (the default mask token),
        and any key of the table this function computes a mask of those keys with (`NotEqual(keys, key)`). Our
        lookups keep their mask token in the table (first, or where a vocabulary that lists its special tokens puts
        it) and compute their mask so (`KeyLookup.compute_mask`); a Keras lookup keeps its mask token out of its
        table (a `SelectV2` on the comparison gives the mask id)."""
        ids = [] if table.empty_key_id is None else [table.empty_key_id]
        for key in self._compared_constants(keys):
            ids += table.ids_of(key)
        table.mask_ids.update(ids)
        return ids

    def consumers(self, data_only: bool = False) -> dict[str, list[str]]:
        """The ops that take each op's (or argument's) outputs, or wait for it, by name; `data_only`: only those
        that take its outputs as data. Both maps are built in one pass, once per function."""
        if self._consumers is None:
            every: dict[str, list[str]] = {}
            data: dict[str, list[str]] = {}
            for node in self.function.node_def:
                for ref in node.input:
                    producer = ref.lstrip("^").partition(":")[0]
                    every.setdefault(producer, []).append(node.name)
                    if not ref.startswith("^"):
                        data.setdefault(producer, []).append(node.name)
            self._consumers = (every, data)
        return self._consumers[1 if data_only else 0]

    def scoped_ops(self, scope: str, ops: set[str]) -> list[Any]:
        """The ops of types `ops` (some of `_SCOPED_OPS`) under name scope `scope`, at any depth; the function's
        ops are indexed by each of their enclosing scopes once per function, not scanned for each layer call."""
        if self._scoped is None:
            self._scoped = {}
            for node in self.function.node_def:
                if node.op in _SCOPED_OPS:
                    parts = node.name.split("/")
                    for end in range(1, len(parts)):
                        self._scoped.setdefault("/".join(parts[:end]), []).append(node)
        return [node for node in self._scoped.get(scope, ()) if node.op in ops]

    def _compared_constants(self, ref: str) -> list[bytes | int]:
        """The scalar constants this function masks tensor `ref` with (`NotEqual(ref, constant)`)."""
        if self._equalities is None:
            self._equalities = {}
            for node in self.function.node_def:
                if node.op != "NotEqual" or len(node.input) < 2:
                    continue
                for subject, other in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
                    constant = self.value(other)
                    if isinstance(constant, _Const) and constant.array().size == 1:
                        value = constant.array().ravel()[0]
                        found = value if isinstance(value, bytes) else int(value)
                        self._equalities.setdefault(_canonical(subject), []).append(found)
        return self._equalities.get(_canonical(ref), [])

    def _select(self, node: Any, inputs: list[str], narrowed: dict[str, _Ids]) -> _Ids | None:
        if len(inputs) != 3:
            return None
        when_true, when_false = dict(narrowed), dict(narrowed)
        compared = self._comparison(inputs[0], narrowed)
        if compared is not None:
            subject, op, current, c = compared
            when_true[subject], when_false[subject] = _narrow(current, op, c)
        first, second = self.value(inputs[1], when_true), self.value(inputs[2], when_false)
        if compared is not None:
            # A constant put in place of the ids the comparison picks replaces them (`tf.where(ids < 0, n, ids)`
            # gives unknown keys, which a table left at its default, an id of their own): no padding, no mask.
            chosen = _union_of([_replacing(first, when_true[subject]), _replacing(second, when_false[subject])])
            added = self._node(inputs[1])
            wraps = (op, c) == ("Less", 0) and added is not None and added.op in ("AddV2", "Add")
            if chosen is not None and wraps and _canonical(added.input[0]) == subject:
                # Keras's Embedding wraps negative ids around (`tf.where(ids < 0, ids + rows, ids)`): the ids it
                # takes are those before, moved as they were.
                chosen = dataclasses.replace(
                    chosen, shift=current.shift, shifted_by=current.shifted_by, before_wrap=current
                )
            return chosen
        return _union_of([_padding(first), _padding(second)])


def _slice_constant(node: Any, values: list[Any]) -> _Ids | None:
    """`shape[0]` of a folded shape (how Keras's Embedding wraps negative ids): a 1-D slice, computed."""
    if not all(isinstance(v, _Const) for v in values) or any(
        node.attr[mask].i for mask in ("ellipsis_mask", "new_axis_mask")
    ):
        return values[0].ids() if isinstance(values[0], _Const) else None
    array, begin, end, strides = (v.array().ravel() for v in values)
    if array.ndim != 1 or not len(begin) == len(end) == len(strides) == 1 or strides[0] == 0:
        return values[0].ids()
    start = None if node.attr["begin_mask"].i & 1 else int(begin[0])
    stop = None if node.attr["end_mask"].i & 1 else int(end[0])
    if node.attr["shrink_axis_mask"].i & 1:
        index = int(begin[0])  # A shrunk axis takes `begin` as it is: TensorFlow ignores begin_mask there.
        return _Ids(_from_values(array[index : index + 1 if index != -1 else None]))
    return _Ids(_from_values(array[start : stop : int(strides[0])]))


def _canonical(ref: str) -> str:
    ref = ref.lstrip("^")
    return ref


def _padding(value: Any) -> _Ids | None:
    """Constant ids written by the graph (a pad value, a mask id) are padding, not ids of tokens."""
    if isinstance(value, _Const):
        ids = value.ids()
        return None if ids is None else _Ids(ids.ranges, padding=ids.ranges)
    return value if isinstance(value, _Ids) else None


def _replacing(value: Any, replaced: _Ids) -> _Ids | None:
    """A branch of a select on ids: a constant there replaces the `replaced` ids, and is the OOV id where those
    are the ids of unknown keys (OOV ids, or a table's negative default); elsewhere it is padding, as `_padding`
    takes it (`tf.where(positions < lengths, ids, 0)`)."""
    if not isinstance(value, _Const):
        return _padding(value)
    ids = value.ids()
    if ids is None:
        return None
    if replaced.oov or _clip(replaced.ranges, float("-inf"), -1):
        return _Ids(ids.ranges, oov=ids.ranges)
    return _Ids(ids.ranges, padding=ids.ranges)


def _union_of(values: list[Any]) -> _Ids | None:
    values = [v.ids() if isinstance(v, _Const) else v for v in values]
    if not values or not all(isinstance(v, _Ids) for v in values):
        return None
    return _union(values)


def _narrow(value: _Ids, op: str, c: int) -> tuple[_Ids, _Ids]:
    low, high = float("-inf"), float("inf")
    if op == "Less":
        return value.map(lambda r: _clip(r, low, c - 1)), value.map(lambda r: _clip(r, c, high))
    if op == "LessEqual":
        return value.map(lambda r: _clip(r, low, c)), value.map(lambda r: _clip(r, c + 1, high))
    if op == "Greater":
        return value.map(lambda r: _clip(r, c + 1, high)), value.map(lambda r: _clip(r, low, c))
    if op == "GreaterEqual":
        return value.map(lambda r: _clip(r, c, high)), value.map(lambda r: _clip(r, low, c - 1))
    if op == "Equal":
        return value.map(lambda r: _clip(r, c, c)), value.map(lambda r: _without(r, c))
    return value.map(lambda r: _without(r, c)), value.map(lambda r: _clip(r, c, c))  # NotEqual


def _add(first: Any, second: Any, negate: bool, shifted_by: str | None) -> _Ids | None:
    """`first + second` (`first - second` where `negate`); a constant term moves the ids of `first`, and is counted
    in their `shift` where the op that adds it, `shifted_by`, is given."""
    first = first.ids() if isinstance(first, _Const) else first
    second = second.ids() if isinstance(second, _Const) else second
    if not isinstance(first, _Ids) or not isinstance(second, _Ids) or not second.ranges:
        return None
    if not negate and _count(first.ranges) == 1 and not (first.tables or first.hashes):
        first, second = second, first  # `1 + ids`.
    sign = -1 if negate else 1
    if _count(second.ranges) == 1 and not (second.tables or second.hashes):
        k = sign * second.ranges[0][0]
        moved = first.map(lambda r: tuple((a + k, b + k) for a, b in r))
        if shifted_by is None:
            return moved
        return dataclasses.replace(moved, shift=moved.shift + k, shifted_by=(*moved.shifted_by, shifted_by))
    # Two varying terms: only the hull is known.
    low = min(a for a, _ in second.ranges) if not negate else -max(b for _, b in second.ranges)
    high = max(b for _, b in second.ranges) if not negate else -min(a for a, _ in second.ranges)

    def hull(ranges: Intervals) -> Intervals:
        return ((ranges[0][0] + low, ranges[-1][1] + high),) if ranges else ()

    return _Ids(
        hull(first.ranges),
        first.tables | second.tables,
        hull(first.oov),
        hull(first.padding),
        first.hashes | second.hashes,
    )


def _clamp(first: Any, second: Any, op: str) -> _Ids | None:
    first = first.ids() if isinstance(first, _Const) else first
    second = second.ids() if isinstance(second, _Const) else second
    if isinstance(first, _Ids) and isinstance(second, _Ids) and second.tables and not first.tables:
        first, second = second, first
    if not isinstance(first, _Ids) or not isinstance(second, _Ids) or _count(second.ranges) != 1:
        return None
    c = second.ranges[0][0]

    def limit(ranges: Intervals) -> Intervals:
        if op == "Maximum":
            kept, clamped = _clip(ranges, c, float("inf")), bool(ranges) and ranges[0][0] < c
        else:
            kept, clamped = _clip(ranges, float("-inf"), c), bool(ranges) and ranges[-1][1] > c
        return _normalise([*kept, *(((c, c),) if clamped else ())])

    return first.map(limit)


# Finding the pairs -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Route:
    variable: _Variable
    ids: _Ids
    layer: str  # The name of the embedding's layer.
    lookup_ops: list[str]  # Names of the table-lookup ops the ids come from (for the layer names).
    gather_op: str
    # Every gather was made by one of our embeddings from the ids of its own lookup (a VocabEmbedding or
    # TextVocabEmbedding): rows after all its ids are then the zero padding of `pad_to_multiple_of`.
    own_lookup: bool = False
    # The vocabulary size one of our embedding halves (a VocabIdEmbedding) asserts its ids are below: its rows from
    # there on are the zero padding of `pad_to_multiple_of`, which no id is meant to select. None if not known.
    id_limit: int | None = None
    # Where the gathers run: (function, name scope of the layer call). Layers of two nested models may hold
    # variables of one name (`emb/embeddings`); their calls are apart.
    sites: frozenset[tuple[str, str]] = frozenset()
    # The variables the layer calls read (an int4 Embedding reads its matrix to unpack it, and gathers its scales).
    read: frozenset[_Variable] = frozenset()
    # Every gather is a Keras Embedding call whose ids Keras masks where they are 0 (`mask_zero=True`, see
    # `_masked_at_zero`). False where that is not certain.
    masked_at_zero: bool = False
    # Every gather's ids are used for nothing but selecting rows, so no mask is computed from them: the embedding
    # does not mask (a Keras `Embedding(mask_zero=False)`, see `_only_select_rows`). False where that is not certain.
    unmasked: bool = False
    # Every gather was made by one of our embeddings (see `_own_layer_scope`); with ids of hash buckets alone, a
    # VocabIdEmbedding fed by a hashing layer.
    ours: bool = False
    # One gather took the ids of several hash ops that `_split_by_hash` could not tell apart.
    unsplit_hashes: bool = False


class _Scanner:
    _MAX_NODES = 200_000

    def __init__(self, model: _SavedModel) -> None:
        self.model = model
        self.routes: dict[tuple[int, frozenset[int], frozenset[_HashOp]], _Route] = {}
        self.visited = 0
        self.lookup_ops: dict[int, str] = {}

    def scan(self, frame: _Frame) -> None:
        for node in frame.function.node_def:
            self.visited += 1
            if self.visited > self._MAX_NODES:
                raise _TooComplex(f"more than {self._MAX_NODES:,} ops to follow")
            if node.op in _CALL_OPS:
                child = frame.child(node)
                if child is not None:
                    self.scan(child)
            elif node.op in _FIND_OPS:
                handle = frame.value(node.input[0])
                if isinstance(handle, _TableHandle):
                    self.lookup_ops.setdefault(handle.node_id, node.name)
            elif node.op in _GATHER_OPS:
                self._gather(frame, node)

    def _gather(self, frame: _Frame, node: Any) -> None:
        inputs = [i for i in node.input if not i.startswith("^")]
        if len(inputs) < 2:
            return
        params = frame.value(inputs[0])
        variable = params if isinstance(params, _Variable) and node.op == "ResourceGather" else None
        if isinstance(params, _VariableValue):
            variable = params.variable
        if variable is None or (variable.shape is not None and len(variable.shape) != 2):
            return
        if node.op == "GatherV2" and len(inputs) > 2:
            axis = frame.value(inputs[2])
            if not isinstance(axis, _Const) or int(axis.array().ravel()[0]) != 0:
                return
        ids = frame.value(inputs[1])
        if not isinstance(ids, _Ids) or not (ids.tables or ids.hashes):
            return
        # Ids of hash buckets alone are told apart by their hash ops (two `Hashing` layers, one embedding), even
        # where one gather takes them together (concatenated): each is a route of its own, as in a .keras file.
        parts = [ids]
        if not ids.tables and len(ids.hashes) > 1:
            parts = _split_by_hash(frame, inputs[1], ids) or parts
        for part in parts:
            self._add_route(frame, node, variable, part)

    def _add_route(self, frame: _Frame, node: Any, variable: _Variable, ids: _Ids) -> None:
        key = (variable.node_id, ids.tables, frozenset() if ids.tables else ids.hashes)
        own = _own_layer_scope(frame, node)
        scope, layer = own if own is not None else (None, _gather_layer(node.name, _embedding_name(variable.name)))
        own_lookup = scope is not None and bool(ids.tables) and _looked_up_in_scope(frame, scope, ids.tables)
        id_limit = None if scope is None else _asserted_id_limit(frame, node, scope)
        site = _layer_scope(node.name, layer)
        sites = frozenset({(frame.function.signature.name, site)})
        read = _variables_read(frame, site)
        # Our layers mask their own mask token. A Keras Embedding gathers in its call's own scope.
        masked = own is None and _masked_at_zero(frame, node, node.name.rpartition("/")[0])
        ours = own is not None
        unsplit = not ids.tables and len(ids.hashes) > 1
        unmasked = own is None and not masked and _only_select_rows(frame, node)
        route = _Route(
            variable,
            ids,
            layer,
            [],
            node.name,
            own_lookup,
            id_limit,
            sites,
            read,
            masked,
            unmasked=unmasked,
            ours=ours,
            unsplit_hashes=unsplit,
        )
        known = self.routes.get(key)
        self.routes[key] = route if known is None else _combined([known, route], variable, layer, [], node.name)


def _split_by_hash(frame: _Frame, ref: str, ids: _Ids) -> list[_Ids] | None:
    """The ids of tensor `ref` that each of its hash ops gives, the others' ids taken as none; None where they
    cannot be told apart (one op of this function gives the ids of several, such as a nested function that hashes
    two inputs and joins their ids)."""
    # The tensors that bring hash buckets into this function: their hash ops.
    sources: dict[str, frozenset[_HashOp]] = {}
    for node in frame.function.node_def:
        for used in node.input:
            producer = None if used.startswith("^") else frame._node(used)
            if producer is None or producer.op not in _HASH_OPS | _CALL_OPS | {"SparseCross"}:
                continue
            value = frame.value(used)
            if isinstance(value, _Ids) and value.hashes and not value.tables:
                sources[_canonical(used)] = value.hashes
    parts = []
    for hash_op in sorted(ids.hashes):
        others = ids.hashes - {hash_op}
        if any(hash_op in hashes and hashes & others for hashes in sources.values()):
            return None
        emptied = {used: _Ids(()) for used, hashes in sources.items() if hashes <= others}
        part = frame.value(ref, emptied)
        if not isinstance(part, _Ids) or part.hashes != {hash_op} or part.tables:
            return None
        parts.append(part)
    return parts


def _only_select_rows(frame: _Frame, gather: Any) -> bool:
    """Whether the ids `gather` takes (and the keys they were looked up from) are used for nothing but selecting
    rows of variables, in its function: then no mask is computed from them.

    Everything the ids are computed from in this function (the model's input, the keys, the lookup, Keras's
    `SelectV2(keys == mask_token, 0, ids)`, the embedding's wrapping of negative ids) must be used only to compute
    the ids of this gather, or of other gathers of a variable's rows (other embeddings), or left unused, and none of
    it returned or passed to another function; the ids themselves may not even be left unused. A Keras
    `Embedding(mask_zero=True)` computes `NotEqual(ids, 0)` on them, whether or not a later layer uses it; so does
    any mask a model computes from its ids or keys: there is then no proof.
    """
    returned = {ref.partition(":")[0] for ref in frame.function.ret.values()}
    consumers = frame.consumers(data_only=True)

    def upstream(ref: str) -> set[str]:
        """The ops and arguments a tensor is computed from (constants, variables and tables aside)."""
        found: set[str] = set()
        todo = [_canonical(ref).partition(":")[0]]
        while todo:
            name = todo.pop()
            if name in found:
                continue
            node = frame.nodes.get(name)
            if node is None:
                if name in frame.arg_index and isinstance(frame.value(name), (_Ids, type(None))):
                    found.add(name)
                continue
            if node.op in ("Const", "ReadVariableOp", "VarHandleOp"):
                continue
            found.add(name)
            todo.extend(i.partition(":")[0] for i in node.input if not i.startswith("^"))
        return found

    def row_gather(name: str, taken_from: str) -> bool:
        node = frame.nodes.get(name)
        if node is None or node.op not in _GATHER_OPS or len(node.input) < 2:
            return False
        params = frame.value(node.input[0])
        return (
            isinstance(params, (_Variable, _VariableValue))
            and _canonical(node.input[1]).partition(":")[0] == taken_from
        )

    # The gathers of rows the same ids or keys lead to (one lookup into two embeddings, one input into two
    # lookups), found forward; then what each of them takes, backward, until nothing new is found.
    leading: set[str] = set()
    gathers, pending = {gather.name}, [gather]
    while pending:
        for taken in pending:
            leading |= upstream(taken.input[1])
        pending, seen = [], set(leading)
        todo = list(leading)
        while todo:
            name = todo.pop()
            node = frame.nodes.get(name)
            if name in returned or (node is not None and node.op in _CALL_OPS) or len(seen) > _MAX_FOLLOWED:
                return False
            for user in consumers.get(name, ()):
                if user in seen:
                    continue
                seen.add(user)
                if row_gather(user, name):
                    if user not in gathers:
                        gathers.add(user)
                        pending.append(frame.nodes[user])
                else:
                    todo.append(user)
    # Nothing computed from what the ids come from reaches a result other than through these gathers: the rest ends
    # unused. Unused ops of the keys (a text layer's row partitions, our lookup's own mask, dropped by a Keras
    # Embedding) change nothing; but one of the ids is Keras's `NotEqual(ids, 0)`, so none may take the ids.
    looked_up = [name for name in leading if name in frame.nodes and frame.nodes[name].op in _FIND_OPS]
    if not looked_up:
        return False  # The ids were looked up in another function: what it does with them is not seen here.
    after, todo = set(), list(looked_up)
    while todo:
        name = todo.pop()
        if name in after:
            continue
        after.add(name)
        todo.extend(user for user in consumers.get(name, ()) if user in leading)
    return all(user in leading or user in gathers for name in after for user in consumers.get(name, ()))


def _masked_at_zero(frame: _Frame, gather: Any, site: str) -> bool:
    """Whether `gather`, run in name scope `site`, is the gather of a Keras `Embedding(mask_zero=True)`'s call.

    Keras computes that layer's mask after its call, in the scope around it: `NotEqual(ids, Cast(0))` on the very
    tensor the layer took. Keras always leaves this op, whether or not a layer after it uses the mask; where the
    mask is used, a model recomputes it for the layer that takes it, so the op of the call itself has no consumer.
    Only that unused op counts, or, for an embedding inside a nested model, that op taken by later layers alone (a
    nested model leaves no unused op where a layer after it takes the mask): a `keras.ops.not_equal(ids, 0)` of the
    model's own is used (nothing runs an unused op of a functional model), not inside a layer, and may count unknown
    tokens rather than mask them. The ids must reach no other layer either (two embeddings of one lookup: which one
    masks is not known). Keras's op is `keras.ops`': its zero is made before it (`Cast(Const)`); TensorFlow's
    `ids != 0` (an unused one in a subclassed model's `call`) makes its zero inside the op's own scope
    (`NotEqual/y`), and is not taken for it.
    """
    inside = site + "/"
    taken: set[str] = set()
    seen: set[str] = set()
    todo = [gather.input[1]] if len(gather.input) > 1 else []
    while todo and len(seen) < 64:  # Keras's Embedding wraps negative ids within a few ops before its gather.
        ref = _canonical(todo.pop())
        node = frame._node(ref)
        if node is None or not node.name.startswith(inside):
            if isinstance(frame.value(ref), _Ids):
                taken.add(ref)
            continue
        if node.name in seen:
            continue
        seen.add(node.name)
        todo.extend(i for i in node.input if not i.startswith("^"))
    if len(taken) != 1:
        return False
    ids = taken.pop()
    parent = site.rpartition("/")[0]
    mask_name = re.compile((re.escape(parent) + "/" if parent else "") + r"NotEqual(_\d+)?")
    returned = {ref.partition(":")[0] for ref in frame.function.ret.values()}  # What the function returns is used.
    consumers = frame.consumers()
    masks = []
    for node in frame.function.node_def:
        inputs = [_canonical(i) for i in node.input if not i.startswith("^")]
        if ids not in inputs or node.name.startswith(inside):
            continue
        if node.op != "NotEqual" or not mask_name.fullmatch(node.name) or inputs[0] != ids:
            return False  # Another layer (or op) takes the ids as well.
        if inputs[1].startswith(node.name + "/"):
            continue  # TensorFlow's `ids != 0`, not Keras's mask.
        zero = frame.value(inputs[1])
        zero = zero.ids() if isinstance(zero, _Const) else zero
        if isinstance(zero, _Ids) and not zero.tables and zero.ranges == ((0, 0),):
            masks.append(node.name)
    if any(name not in consumers and name not in returned for name in masks):
        return True
    # A nested model hands the mask of its output on as it is: the later layer that takes it uses that very op.
    # Ops of a model's own (not of a layer) sit directly in its scope, so only ops inside another layer's call count.
    outer = parent.rpartition("/")[0]

    def in_later_layer(name: str) -> bool:
        return name.startswith(outer + "/") and not name.startswith(parent + "/") and "/" in name[len(outer) + 1 :]

    return bool(outer) and any(
        name not in returned and consumers.get(name) and all(map(in_later_layer, consumers[name])) for name in masks
    )


def _variables_read(frame: _Frame, scope: str) -> frozenset[_Variable]:
    """The variables read in the layer call of name scope `scope` (of `frame`'s function)."""
    read = set()
    for node in frame.scoped_ops(scope, {"ReadVariableOp"}):
        if node.input:
            handle = frame.value(node.input[0])
            if isinstance(handle, _Variable):
                read.add(handle)
    return frozenset(read)


def _common_limit(limits: list[int | None]) -> int | None:
    """The id limit of gathers of one variable: known only if every gather asserts one (the largest counts)."""
    known = [limit for limit in limits if limit is not None]
    return max(known) if len(known) == len(limits) else None


def _layer_scope(op: str, layer: str) -> str:
    """The name scope of the call of `layer` that ran `op`: up to the layer's own scope (its name, maybe with a
    trace suffix), else the op's scope."""
    scopes = op.split("/")[:-1]
    for end in range(len(scopes), 0, -1):
        if re.fullmatch(re.escape(layer) + r"(_\d+)?", scopes[end - 1]):
            return "/".join(scopes[:end])
    return "/".join(scopes)


def _own_layer_scope(frame: _Frame, gather: Any) -> tuple[str, str] | None:
    """The name scope of the call of one of our embeddings that runs `gather`, and the layer's name; or None
    (another layer's gather).

    Our embeddings pass what they gather through a check of their `weights_generation` variable (an `Assert` on
    `Equal(ReadVariableOp(.../weights_generation), generation)`, see `VocabIdEmbedding._check_current`), which no
    Keras layer has; the check's name scope is the layer's. `model.export` keeps neither the layer's class nor its
    config, so this is what tells our layer's rows from a hand-wired `StringLookup` + `Embedding`. It also names
    the layer where its matrix does not: built on its first call inside a custom layer, the matrix is named after
    that layer (`wrap/embeddings`), while the check's variable keeps the layer's own name
    (`inner/weights_generation`).
    """
    consumers = frame.consumers()
    scope = generation = None
    seen: set[str] = set()
    todo = [gather.name]
    while todo and scope is None and len(seen) < 64:  # The check follows the gather within a few ops.
        name = todo.pop()
        if name in seen or name not in frame.nodes:
            continue
        seen.add(name)
        for ref in frame.nodes[name].input:
            checked = _generation_checked(frame, ref[1:]) if ref.startswith("^") else None
            if checked is not None:
                scope, generation = ref[1:].rsplit("/", 2)[0], checked  # `<layer scope>/Assert/Assert`.
        todo.extend(consumers.get(name, ()))
    if not scope or not generation or not gather.name.startswith(scope + "/"):
        return None
    return scope, _embedding_name(generation)


def _looked_up_in_scope(frame: _Frame, scope: str, tables: frozenset[int]) -> bool:
    """Whether the layer call of name scope `scope` looked the ids up in `tables` itself (a VocabEmbedding or
    TextVocabEmbedding: both halves in one layer)."""
    own = set()
    for node in frame.scoped_ops(scope, _FIND_OPS):
        if node.input:
            handle = frame.value(node.input[0])
            if isinstance(handle, _TableHandle):
                own.add(handle.node_id)
    return tables <= own


def _asserted_id_limit(frame: _Frame, gather: Any, scope: str) -> int | None:
    """The vocabulary size a VocabIdEmbedding call of scope `scope` asserts the ids of `gather` are below, or None.

    The embedding half refuses ids outside `[0, vocabulary_size())` before it gathers them (an `Assert` on
    `LogicalAnd(All(ids >= 0), All(ids < vocabulary_size))`, see `VocabIdEmbedding._check_id_range`), so its
    vocabulary size is in the graph even where the lookup that feeds it is another layer: the rows after it are
    padding. (A joined layer looks its ids up itself and asserts nothing.)
    """
    inside = scope + "/"
    limits: list[int] = []
    seen: set[str] = set()
    todo = [gather.input[1]] if len(gather.input) > 1 else []
    while todo and len(seen) < 64:  # The checked ids reach the gather within a few ops of the layer.
        node = frame._node(todo.pop())
        if node is None or node.name in seen or not node.name.startswith(inside):
            continue
        seen.add(node.name)
        for ref in node.input:
            if not ref.startswith("^"):
                todo.append(ref)
                continue
            check = frame.nodes.get(ref[1:])
            if check is not None and check.op == "Assert" and check.name.startswith(inside) and check.input:
                limits += _upper_bounds(frame, check.input[0], inside)
    return min(limits) if limits else None


def _upper_bounds(frame: _Frame, ref: str, inside: str) -> list[int]:
    """The constants `c` of the `All(ids < c)` terms of an assertion's condition `ref`."""
    node = frame._node(ref)
    if node is None or not node.name.startswith(inside):
        return []
    if node.op in ("LogicalAnd", "All"):
        count = 2 if node.op == "LogicalAnd" else 1
        return [bound for term in node.input[:count] for bound in _upper_bounds(frame, term, inside)]
    if node.op != "Less" or len(node.input) < 2:
        return []
    bound = frame.value(node.input[1])
    bound = bound.ids() if isinstance(bound, _Const) else bound
    if not isinstance(bound, _Ids) or _count(bound.ranges) != 1:
        return []
    return [bound.ranges[0][0]]


def _generation_checked(frame: _Frame, name: str) -> str | None:
    """For an `Assert` named `name` that checks one of our layers' `weights_generation`: that variable's name;
    else None."""
    node = frame.nodes.get(name)
    if node is None or node.op != "Assert" or not node.input:
        return None
    condition = frame.nodes.get(node.input[0].partition(":")[0])
    if condition is None or condition.op != "Equal":
        return None
    value = frame.value(condition.input[0])
    if (
        isinstance(value, _VariableValue)
        and value.variable.name.rpartition("/")[2] == "weights_generation"
        and value.variable.shape == ()
    ):
        return value.variable.name
    return None


# The check ---------------------------------------------------------------------------------------------------------


def inspect_savedmodel(path: str) -> tuple[list[Any], list[Any]]:
    """Pairs and findings of a SavedModel directory (or a serving base directory holding one version)."""
    from keras_vocabsafe.inspection import Finding

    resolved = savedmodel_directory(path)
    if resolved is None:
        raise ModelFileError(f"{path} is not a SavedModel directory (it has no saved_model.pb).")
    model = _SavedModel(resolved[0])
    scanner = _Scanner(model)
    complexity = ""
    vocabulary_tables: dict[str, set[int]] = {}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        for name in sorted(model.bound_inputs):
            frame = model.function_frame(name)
            if frame is not None and not name.startswith(("__inference__traced_", "__inference__initializer")):
                scanner.scan(frame)
        vocabulary_tables = _vocabulary_signature_tables(model)
    except ModelFileError:
        raise
    except (_TooComplex, RecursionError) as error:
        complexity = str(error) if isinstance(error, _TooComplex) else "the graph is too deep to follow"
    except (IndexError, KeyError, ValueError, TypeError) as error:
        # A graph that parses but is not what TensorFlow writes (hand-edited, damaged functions): say so, not guess.
        complexity = f"an op could not be read: {type(error).__name__}: {error}"
    finally:
        sys.setrecursionlimit(limit)
    # One layer may gather several of its variables by the same ids (a quantized matrix and its scales, LoRA's
    # rows): they make one pair, whose rows are the fewest any of them has.
    groups: dict[tuple[str, frozenset[int], frozenset[_HashOp], tuple[str, str]], list[_Route]] = {}
    for route in scanner.routes.values():
        # Ids of hash buckets alone (a `Hashing` layer) are named after their hash ops, and a pair of each.
        route.lookup_ops = sorted(scanner.lookup_ops.get(t, "") for t in route.ids.tables) or sorted(
            {hash_op[-1] for hash_op in route.ids.hashes}
        )
        hashes = frozenset() if route.ids.tables else route.ids.hashes
        key = (route.variable.name.rpartition("/")[0], route.ids.tables, hashes, min(route.sites))
        groups.setdefault(key, []).append(route)
    merged = [
        _merged(group)
        for _, group in sorted(groups.items(), key=lambda i: (i[0][0], sorted(i[0][1]), sorted(i[0][2]), i[0][3]))
    ]
    # A matrix gathered at several places (one Embedding after two lookups) has the rows any of them reach.
    # (By the variable's node: variables of layers in two nested models can have one name.)
    reached: dict[int, list[_Ids]] = {}
    for route in merged:
        reached.setdefault(route.variable.node_id, []).append(route.ids)
    pairs: list[Any] = []
    findings: list[Any] = []
    warned: set[int] = set()
    # Layers are named by their path in the model (`inner/emb`), as in a .keras file, from where they run: that also
    # tells apart embeddings of one name in two nested models (both `emb/embeddings`).
    shown_names = [_scoped_name(route, route.layer) for route in merged]
    # Variables of a hand-written module are named by their name scope: two in one scope (`emb/small`,
    # `emb/large`) would both be shown as `emb`, so those are shown by their own path.
    variables_shown: dict[str, set[int]] = {}
    for route, shown in zip(merged, shown_names):
        variables_shown.setdefault(shown, set()).add(route.variable.node_id)
    shown_names = [
        route.variable.name if len(variables_shown[shown]) > 1 else shown for route, shown in zip(merged, shown_names)
    ]
    # The lookups of every route to a matrix, named in the finding on the rows none of them reaches.
    # A table looked up outside any layer's name scope (a hand-written `tf.Module`'s) is named by the attribute
    # that holds it: TensorFlow's own scope for its lookup (`None_Lookup_1`) is in no code.
    table_paths = {op: model.object_path(table) for table, op in scanner.lookup_ops.items()}
    lookup_names = [_route_lookup_names(route, shown, table_paths) for route, shown in zip(merged, shown_names)]
    feeding: dict[int, set[str]] = {}
    for route, names in zip(merged, lookup_names):
        feeding.setdefault(route.variable.node_id, set()).update(names)
    for route, shown, names in zip(merged, shown_names, lookup_names):
        node_id = route.variable.node_id
        pair, found = _check_route(
            model, route, _union(reached[node_id]), vocabulary_tables, shown, names, tuple(sorted(feeding[node_id]))
        )
        if pair is not None:
            pairs.append(pair)
        # Rows none of the routes reach are one warning for the matrix, not one per route.
        findings.extend(f for f in found if f.code != "unreachable-rows" or route.variable.node_id not in warned)
        warned.update(route.variable.node_id for f in found if f.code == "unreachable-rows")
    if complexity or not pairs:
        findings.append(_note(model, path, pairs, complexity, Finding))
    missing = _missing_variables(model)
    if missing:
        findings.insert(
            0,
            Finding(
                "error",
                "weights-missing",
                (),
                f"{path} is a SavedModel whose graph holds variables, but {missing}: TensorFlow cannot load it "
                "(nor can a model server). Export the model again.",
            ),
        )
    return pairs, findings


def _missing_variables(model: _SavedModel) -> str | None:
    """What is missing of the variables directory a SavedModel with variables needs (None: nothing is)."""
    if not any(obj.WhichOneof("kind") == "variable" for obj in model.objects):
        return None
    index = os.path.join(model.path, "variables", "variables.index")
    if not os.path.isfile(index):
        return "its variables/variables.index is missing"
    data = glob.glob(os.path.join(model.path, "variables", "variables.data-*-of-*"))
    shards = {int(name.rpartition("-of-")[2]) for name in data if name.rpartition("-of-")[2].isdigit()}
    if not data or len(shards) != 1 or len(data) != shards.pop():
        return "its variables/variables.data-* files are missing or incomplete"
    # A data file cut short (a copy or an upload interrupted) is there but ends before the tensors its index places
    # in it: TensorFlow fails reading them.
    for shard, needed in sorted((_tensor_bundle_extents(index) or {}).items()):
        name = f"variables.data-{shard:05d}-of-{len(data):05d}"
        try:
            size = os.path.getsize(os.path.join(model.path, "variables", name))
        except OSError:
            return f"its variables/{name} is missing"
        if size < needed:
            return f"its variables/{name} is cut short ({size:,} bytes; its index places tensors up to byte {needed:,})"
    return None


_TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")  # The end of an SSTable (a checkpoint's `.index`).


def _tensor_bundle_extents(index: str) -> dict[int, int] | None:
    """The bytes each data shard of a checkpoint must hold (by shard id: where its last tensor ends), read from
    its `.index` (an SSTable of `BundleEntryProto`s, uncompressed as TensorFlow writes it); None if the index is
    not one this reads (TensorFlow says so when loading)."""
    from google.protobuf.message import DecodeError

    try:
        with open(index, "rb") as file:
            table = file.read()
        if len(table) < 48 or table[-8:] != _TABLE_MAGIC:
            return None
        footer = table[-48:-8]
        _, at = _varint(footer, 0)  # The metaindex block's offset and size (unused).
        _, at = _varint(footer, at)
        index_offset, at = _varint(footer, at)
        index_size, _ = _varint(footer, at)
        extents: dict[int, int] = {}
        for _, handle in _table_block(table, index_offset, index_size):
            offset, at = _varint(handle, 0)
            size, _ = _varint(handle, at)
            for key, value in _table_block(table, offset, size):
                if not key:  # The bundle's header.
                    continue
                entry = _compat.bundle_entry_proto()
                entry.ParseFromString(value)
                if entry.size:
                    extents[entry.shard_id] = max(extents.get(entry.shard_id, 0), entry.offset + entry.size)
        return extents
    except (OSError, IndexError, ValueError, DecodeError):
        return None


def _table_block(table: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one SSTable block (keys share prefixes with the key before them)."""
    if offset + size >= len(table) or table[offset + size] != 0:  # Its trailer's first byte: 0, not compressed.
        raise ValueError("a compressed or misplaced block")
    block = table[offset : offset + size]
    restarts = int.from_bytes(block[-4:], "little")
    end = len(block) - 4 - 4 * restarts
    entries, key, at = [], b"", 0
    while at < end:
        shared, at = _varint(block, at)
        unshared, at = _varint(block, at)
        length, at = _varint(block, at)
        key = key[:shared] + block[at : at + unshared]
        at += unshared
        entries.append((key, block[at : at + length]))
        at += length
    if at != end:
        raise ValueError("a block whose entries overrun it")
    return entries


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if byte < 0x80:
            return value, at


def _rows(variable: _Variable) -> int | None:
    return variable.shape[0] if variable.shape and variable.shape[0] >= 0 else None


def _merged(group: list[_Route]) -> _Route:
    """One route for the variables of one layer gathered by the same ids: the variable with the fewest rows (the
    first to run out), else the one named `embeddings`; their ids and lookups together.

    A Keras int4 `Embedding` gathers its scales but unpacks its matrix first, so only the scales are seen gathered:
    the route then names the layer's `embeddings` when it has as many rows and the same calls read it (by the
    variable, not its name: layers of two nested models can both hold an `emb/embeddings`).
    """
    main = min(
        group,
        key=lambda r: (
            _rows(r.variable) is None,
            _rows(r.variable) or 0,
            r.variable.name.rpartition("/")[2] != "embeddings",
            r.variable.name,
        ),
    )
    variable = main.variable
    matrix = f"{variable.name.rpartition('/')[0]}/embeddings"
    read = frozenset().union(*(route.read for route in group))
    matrices = {v for v in read if v.name == matrix and _rows(v) == _rows(variable)}
    if matrix != variable.name and "/" in variable.name and len(matrices) == 1:
        variable = matrices.pop()
    lookup_ops = sorted({op for route in group for op in route.lookup_ops})
    return _combined(group, variable, main.layer, lookup_ops, main.gather_op)


def _combined(group: list[_Route], variable: _Variable, layer: str, lookup_ops: list[str], gather_op: str) -> _Route:
    """One route of `variable` for the gathers of `group`: their ids and places together; what is certain of every
    gather (a mask, our layer, our own lookup) only where it is of each."""
    return _Route(
        variable,
        _union([route.ids for route in group]),
        layer,
        lookup_ops,
        gather_op,
        all(route.own_lookup for route in group),
        _common_limit([route.id_limit for route in group]),
        frozenset().union(*(route.sites for route in group)),
        frozenset().union(*(route.read for route in group)),
        all(route.masked_at_zero for route in group),
        unmasked=all(route.unmasked for route in group),
        ours=all(route.ours for route in group),
        unsplit_hashes=any(route.unsplit_hashes for route in group),
    )


def _vocabulary_signature_tables(model: _SavedModel) -> dict[str, set[int]]:
    """The tables each layer's `token_to_id_<layer>` signature of `export_for_serving` looks keys up in, by layer."""
    root = model.objects[0].children if model.objects else ()
    signatures = next((c.node_id for c in root if c.local_name == "signatures"), None)
    if signatures is None or not 0 <= signatures < len(model.objects):
        return {}
    tables: dict[str, set[int]] = {}
    for child in model.objects[signatures].children:
        layer = child.local_name.removeprefix("token_to_id_")
        if layer == child.local_name or f"vocabulary_{layer}" not in model.meta_graph.signature_def:
            continue
        scanner = _Scanner(model)
        for name in model.concrete_functions(child.node_id):
            frame = model.function_frame(name)
            if frame is not None:
                scanner.scan(frame)
        tables[layer] = set(scanner.lookup_ops)
    return tables


def _scoped_name(route: _Route, embedding: str) -> str:
    """The embedding's layer path inside the exported model (`second/emb`), from the name scope of its call.

    Keras 3 traces each layer's call under its name plus a suffix: where the embedding's scope has one, every
    layer's has, and one is taken off each.
    """
    scopes = min(route.sites)[1].split("/")[1:]  # The first scope is the exported model's own.
    if scopes and re.fullmatch(re.escape(embedding) + r"_\d+", scopes[-1]):
        scopes = [re.sub(r"_\d+$", "", scope) for scope in scopes]
    return "/".join(scopes) or embedding


def _route_lookup_names(route: _Route, shown: str, table_paths: dict[str, str | None]) -> list[str]:
    """The lookups whose ids a route gathers, by layer name; `shown`: the embedding's name for the user;
    `table_paths`: the attribute path of the table each lookup op reads, by op name (see `_lookup_name`)."""
    # A layer that looks its own ids up (VocabEmbedding) is one layer: its lookup is named as it is shown.
    if route.own_lookup:
        return [shown]
    return sorted({_lookup_name(op, route.gather_op, route.layer, table_paths.get(op)) for op in route.lookup_ops})


def _outside_rows_fix(outside: Intervals, rows: int, sized: str) -> str:
    """How to mend ids outside a matrix's rows: a larger matrix for ids past its end; for negative ids, which no
    matrix has a row for (a table's `default_value=-1` for unknown keys), an id of their own."""
    fixes = []
    if outside[-1][1] >= rows:
        fixes.append(f"Export again with {sized}, or with VocabEmbedding, which sizes the matrix from the vocabulary.")
    if outside[0][0] < 0:
        fixes.append(
            "A negative id (such as a lookup table's `default_value=-1` for unknown keys) has no row in any matrix: "
            "give those keys an id that has a row (a table's `default_value` set to an OOV row), or use "
            "VocabEmbedding, which maps unknown keys to its OOV row."
        )
    return " ".join(fixes)


def _check_route(
    model: _SavedModel,
    route: _Route,
    reached: _Ids,
    vocabulary_tables: dict[str, set[int]],
    shown: str,
    names: list[str],
    feeding: tuple[str, ...],
) -> tuple[Any, list[Any]]:
    """The pair of one route and its findings; `reached`: the ids of every route to the same variable;
    `vocabulary_tables`: the tables of each layer's vocabulary signatures; `shown`: the embedding's name for the
    user (its layer path where the layer's name alone is ambiguous); `names`: its lookups' (`_route_lookup_names`);
    `feeding`: the lookups of every route to the same variable."""
    from keras_vocabsafe.inspection import _HASH_BUCKETS, Finding, LayerPair

    tables = [model.table(t) for t in sorted(route.ids.tables)]
    hashing = not tables  # Ids of hash buckets alone (a `Hashing` layer): no vocabulary, no OOV id.
    embedding = route.layer
    lookup = " + ".join(names)
    layers = (*names, shown)
    unknown = [t for t in tables if t.values is None]
    if unknown:
        why = "; ".join(sorted({t.why_unknown for t in unknown}))
        return None, [
            Finding(
                "note",
                "savedmodel-table-not-read",
                layers,
                f"The ids gathered from '{route.variable.name}' come from a lookup table whose contents this check "
                f"cannot read ({why}); its rows were not checked. Inspect the .keras file the export was made from.",
                {"variable": route.variable.name},
            )
        ]
    ids = route.ids
    rows = _rows(route.variable)
    # Ids shifted by a constant on the way (`keras.ops.add(ids, 1)`) are checked where they land, and the lookup's
    # own ids (from 0, the shift taken off) give its size, as in a .keras file. Our layers' ids are their own.
    shift = 0 if route.ours else ids.shift
    # Shifted ids are told as the embedding is given them, before it wraps negative ones around to its last rows (as
    # a .keras file tells them, and as the findings word them): `ids - 1` moves the OOV id 0 to -1, not to a row.
    taken = ids.before_wrap if shift and ids.before_wrap is not None else ids
    given = taken.ranges
    highest = max((b for _, b in given), default=-1)
    size = max(highest + 1 - shift, 0)
    lowest = min(shift, 0)  # The lookup's ids start at 0, or at `shift` where a shift below 0 moved them there.
    # The layers that shifted them (a Lambda, a nested model), where the graph has their name scope.
    between = _shift_layers(taken.shifted_by, route.gather_op, embedding, names) if shift else ()
    oov = () if hashing else _clip(taken.oov, lowest, float("inf"))
    # One id the graph itself puts in: the mask id (0 in Keras's layout; any id of a vocabulary listing its specials).
    put_in = _clip(taken.padding, lowest, float("inf"))
    mask = put_in[0][0] if _count(put_in) == 1 else None
    # Rows from the vocabulary size a VocabIdEmbedding asserts on are its zero padding (`pad_to_multiple_of`),
    # whichever lookup feeds it: only the rows before are meant to be selected, and the layer refuses ids past them.
    asserted = route.id_limit is not None and route.id_limit >= 0
    selectable = rows if rows is None or route.id_limit is None or not asserted else min(rows, route.id_limit)
    # Rows after all the ids of one of our joined layers are that padding too: a VocabIdEmbedding's
    # export_for_serving carries its vocabulary signatures (which look keys up in the very tables whose ids it
    # gathers; a Keras layer of the same name elsewhere uses others), and a VocabEmbedding looks its ids up itself
    # (seen in the graph, whichever way it was exported).
    signed = bool(route.ids.tables) and route.ids.tables <= vocabulary_tables.get(embedding, set())
    padded = (route.own_lookup or signed) and _count(_clip(ids.ranges, 0, size - 1)) == size
    # The rows ids are meant to select, as the .keras report counts them (padding apart).
    usable = min(selectable, size) if padded and selectable is not None and not asserted else selectable
    pair = LayerPair(
        "lookup-embedding",
        lookup,
        _HASH_BUCKETS if hashing else "hash table",
        shown,
        "variable",
        size,
        mask,
        _ids_of(oov),
        usable,
        True if route.masked_at_zero else False if route.unmasked else None,  # Unknown where not certain.
        between,
        0 if rows is None or usable is None else rows - usable,
    )
    if rows is None or selectable is None:
        return pair, []
    who, target = (
        f"the hashing in '{lookup}'" if hashing else f"lookup '{lookup}'",
        f"embedding '{route.variable.name}'",
    )
    sized = f"`input_dim=lookup.vocabulary_size()` ({size})"
    if shown != embedding:
        target += f" (of '{shown}')"
    found = []
    if hashing and route.unsplit_hashes:
        found.append(
            Finding(
                "note",
                "hashed-inputs-not-told-apart",
                layers,
                f"The {target} takes the ids of {len(route.ids.hashes)} hash ops ({', '.join(names)}) in one "
                "gather, and this check cannot tell which ids come from which: they were checked together, as one "
                "lookup giving the ids of all. Inspect the .keras file the export was made from to check each one.",
                {"variable": route.variable.name},
            )
        )
    if hashing and route.ours:
        # Only a VocabIdEmbedding gathers ids it did not look up itself: its rows belong to its vocabulary's tokens.
        ids_count = route.id_limit if route.id_limit is not None and route.id_limit >= 0 else rows
        found.append(
            Finding(
                "error",
                "hash-bins-into-vocabulary-embedding",
                layers,
                messages.hash_bins_into_vocabulary_rows(who, f"VocabIdEmbedding '{shown}'", size, ids_count),
                {"num_bins": size, "vocabulary_size": ids_count, "ids_without_row": max(size - ids_count, 0)},
            )
        )
        return pair, found
    if shift:
        shifted = (*names, *between, shown)
        return pair, _check_shifted_route(
            route, given, shift, between, size, rows, who, target, shifted, feeding, reached
        )
    padding_rows = rows - selectable
    outside = _normalise([*_clip(ids.ranges, float("-inf"), -1), *_clip(ids.ranges, rows, float("inf"))])
    on_padding = _clip(ids.ranges, selectable, rows - 1)
    if outside or on_padding:
        extra, padded_ids = _count(outside), _count(on_padding)
        parts = []
        if outside:
            parts.append(f"{extra:,} id(s) ({messages.ranges_text(outside)}) select no row")
        if on_padding:
            parts.append(
                f"{padded_ids:,} id(s) ({messages.ranges_text(on_padding)}) fall on its last {padding_rows:,} "
                f"row(s), the zero padding of `pad_to_multiple_of` after the {selectable} ids it has"
            )
        details = {"vocabulary_size": size, "rows": rows, "ids_without_row": extra}
        if padding_rows:
            details.update(padding_rows=padding_rows, ids_on_padding_rows=padded_ids)
        found.append(
            Finding(
                "error",
                "ids-exceed-rows",
                layers,
                messages.bins_past_rows(who, target, size, rows)
                if hashing  # Of a Keras Embedding: a VocabIdEmbedding's were told above.
                else f"The {who} gives ids up to {highest}, but {target} has {rows} rows: "
                + "; ".join(parts)
                + (
                    f". {messages.ids_refused_by_the_layer(selectable)}"
                    if asserted
                    else f". {messages.GATHER_PAST_ROWS} {_outside_rows_fix(outside, rows, sized)}"
                ),
                details,
            )
        )
    unreachable = selectable - _count(_clip(reached.ranges, 0, selectable - 1))
    if unreachable > 0 and not padded:
        details = {"vocabulary_size": size, "rows": rows, "unreachable_rows": unreachable}
        padding = ""
        if padding_rows:
            details["padding_rows"] = padding_rows
            padding = f" (the last {padding_rows:,} the zero padding of `pad_to_multiple_of`)"
        if len(feeding) > 1 or reached.ranges != ids.ranges:
            # Several lookups feed the matrix (as the .keras check tells them, every lookup named, whichever route
            # comes first): rows that ids can select (padding apart, as a .keras file counts a VocabIdEmbedding's
            # rows), and none reach.
            message = messages.rows_past_several_lookups(target, selectable, reached.ranges, unreachable)
            found.append(Finding("warning", "unreachable-rows", (*feeding, shown), message, details))
        else:
            found.append(
                Finding(
                    "warning",
                    "unreachable-rows",
                    layers,
                    messages.rows_past_bins(who, target, size, rows)
                    if hashing
                    else f"The {target} has {rows} rows{padding}, but the {who} gives only ids "
                    f"{messages.ranges_text(reached.ranges)}: {unreachable:,} row(s) can never be selected and waste "
                    "memory (often `len(vocabulary) + 2` on a vocabulary that already held its special tokens). Use "
                    f"{sized}, or VocabEmbedding.",
                    details,
                )
            )
    # Id 0 of the lookup is a token's (OOV or the first listed), not padding the graph adds or a mask token's.
    if route.masked_at_zero and _clip(ids.ranges, 0, 0) and not _clip(ids.padding, 0, 0):
        how = " (the graph masks its ids where they are 0)"
        if hashing:  # Hash buckets: id 0 is a bucket real inputs hash to.
            message = messages.mask_zero_on_a_hash_bin(who, target, size, _hash_layer_class(model, ids.hashes), how)
        else:
            # No mask token, or one at another id (a vocabulary that lists its special tokens): `mask`.
            message = messages.mask_zero_off_the_mask_token(
                f"the {who}", f"the {target}", mask, bool(_clip(oov, 0, 0)), how
            )
        found.append(Finding("error", "mask-zero-without-mask-token", layers, message))
    # The mask id (0, or where a vocabulary listing its specials puts it) is the mask token's alone (no token's, no
    # OOV id), and the graph computes no mask from the ids. Said of lookup tables only: hash bins are the Hashing
    # check's.
    mask_is_padding = (
        mask is not None and not _clip(oov, mask, mask) and all(t.gives_only_the_mask(mask) for t in tables)
    )
    if route.unmasked and not hashing and mask is not None and mask_is_padding:
        found.append(
            Finding(
                "warning",
                "mask-token-without-mask-zero",
                layers,
                messages.mask_token_without_mask_zero(
                    f"the {who}", target, mask, " (the graph computes no mask from its ids: they only select rows)"
                ),
            )
        )
    return pair, found


def _check_shifted_route(
    route: _Route,
    given: Intervals,
    shift: int,
    between: tuple[str, ...],
    size: int,
    rows: int,
    who: str,
    target: str,
    layers: tuple[str, ...],
    feeding: tuple[str, ...],
    reached: _Ids,
) -> list[Any]:
    """The findings of a route whose ids a constant `shift` moved on the way (in the layers `between`, where
    known) from a lookup of `size` ids to the gather (`given`: the ids there, before any wrapping by the
    embedding), worded as in a .keras file: ids past either end of the `rows`, rows no id selects where this
    lookup alone feeds them; the mask is not checked (the shift moves the mask id off 0)."""
    from keras_vocabsafe.inspection import Finding

    found = []
    hashing = not route.ids.tables  # Ids of hash buckets alone (a `Hashing` layer): advice about its bins.
    past, below = messages.ids_outside_rows(min(a for a, _ in given), max(b for _, b in given), rows)
    if past or below:
        message = messages.shifted_ids_past_rows(
            who, target, size, shift, rows, between=between, wrapped=route.ids.before_wrap is not None, hashing=hashing
        )
        details = {"vocabulary_size": size, "rows": rows, "ids_without_row": past + below, "shift": shift}
        found.append(Finding("error", "ids-exceed-rows", layers, message, details))
    elif rows > size and len(feeding) == 1 and reached.ranges == route.ids.ranges:
        message = messages.shifted_ids_leave_rows(who, target, size, shift, rows, between=between, hashing=hashing)
        details = {"vocabulary_size": size, "rows": rows, "unreachable_rows": rows - size, "shift": shift}
        found.append(Finding("warning", "unreachable-rows", layers, message, details))
    elif len(feeding) > 1 or reached.ranges != route.ids.ranges:
        unreachable = rows - _count(_clip(reached.ranges, 0, rows - 1))
        if unreachable > 0:
            # Several lookups feed the matrix: the rows none of them reaches, as for unshifted ids.
            message = messages.rows_past_several_lookups(target, rows, reached.ranges, unreachable)
            details = {"vocabulary_size": size, "rows": rows, "unreachable_rows": unreachable}
            found.append(Finding("warning", "unreachable-rows", (*feeding, layers[-1]), message, details))
    if route.masked_at_zero or _clip(route.ids.padding, 0, float("inf")):
        found.append(
            Finding("note", "path-not-checked", layers, messages.shift_moves_the_mask(who, target, shift, between))
        )
    return found


def _hash_layer_class(model: _SavedModel, hashes: frozenset[_HashOp]) -> str:
    """The Keras layer whose hash ops are `hashes`: "HashedCrossing" (`SparseCross`) or "Hashing"."""
    names = {hash_op[-1] for hash_op in hashes}
    ops = {node.op for function in model.functions.values() for node in function.node_def if node.name in names}
    return "HashedCrossing" if ops == {"SparseCross"} else "Hashing"


def _note(model: _SavedModel, path: str, pairs: list[Any], complexity: str, finding: Any) -> Any:
    graph = model.meta_graph
    # Each table is a resource of the object graph; its op appears twice (creator function and graph), so count those.
    tables = 0
    for obj in model.objects:
        if obj.WhichOneof("kind") == "resource":
            creators = model.concrete_functions(
                next((c.node_id for c in obj.children if c.local_name == "_create_resource"), None)
            )
            tables += any(
                node.op in _TABLE_OPS
                for name in creators
                for node in getattr(model.functions.get(name), "node_def", ())
            )
    matrices = sorted(
        {
            (node.variable.name, tuple(dim.size for dim in node.variable.shape.dim))
            for node in graph.object_graph_def.nodes
            if node.WhichOneof("kind") == "variable" and len(node.variable.shape.dim) == 2
        }
    )
    shown = ", ".join(f"{name} {shape}" for name, shape in matrices[:5]) or "none"
    why = (
        f"its graph is too complex to follow ({complexity}), so only {len(pairs)} pair(s) were checked"
        if complexity
        else "no lookup table's ids reach a 2-D variable through ops this check follows"
    )
    return finding(
        "note",
        "savedmodel-not-analysed",
        (),
        f"{path} is a SavedModel: {why}. It creates {tables} lookup table(s) and holds {len(matrices)} 2-D "
        f"variable(s) ({shown}). Inspect the .keras file the export was made from for a full check.",
        {"tables": tables, "matrices": [{"name": name, "shape": list(shape)} for name, shape in matrices]},
    )


def _embedding_name(variable: str) -> str:
    parts = variable.split("/")
    return parts[-2] if len(parts) >= 2 else variable


def _gather_layer(gather_op: str, named: str) -> str:
    """The Keras layer that runs `gather_op`, whose matrix is named after layer `named`.

    A layer built on its first call inside another layer's call (a subclassed model's, a custom layer's) has its
    variables named after that enclosing layer (`m/embeddings`), while its gather runs in its own call's scope
    (`m_1/emb_1/GatherV2`): where the gather's scope is not `named`'s but one inside it, that scope is the layer.
    """
    scopes = gather_op.split("/")[:-1]
    # TensorFlow's own scope for a gather of ragged ids (`tf.nn.embedding_lookup_ragged`, which Keras's Embedding
    # calls on a ragged input) is no layer's.
    while scopes and re.fullmatch(r"embedding_lookup_ragged(_\d+)?", scopes[-1]):
        scopes.pop()
    if len(scopes) < 2 or re.fullmatch(re.escape(named) + r"(_\d+)?", scopes[-1]):
        return named
    enclosing = re.fullmatch(re.escape(named) + r"(_\d+)?", scopes[-2])
    if enclosing is None:
        return named
    # Keras traces each call under its name plus a suffix: where the enclosing scope has one, so has this one.
    return re.sub(r"_\d+$", "", scopes[-1]) if enclosing.group(1) else scopes[-1]


def _shift_layers(ops: tuple[str, ...], gather_op: str, embedding: str, lookups: list[str]) -> tuple[str, ...]:
    """The layers the ops that shifted a route's ids (`_Ids.shifted_by`) ran in, named from their name scopes as
    `_lookup_name` names a lookup (`shift` for `model_1/shift_1/add`). An op of the model's own scope (how
    `keras.ops.add` in a functional model runs: `model_1/Add`) ran in no layer, and one of the route's `lookups`
    or of its `embedding` moved ids of its own: neither is named."""
    named = (_lookup_name(op, gather_op, embedding) for op in ops if op.count("/") >= 2)
    return tuple(dict.fromkeys(name for name in named if name not in (*lookups, embedding)))


def _lookup_name(lookup_op: str, gather_op: str, embedding: str, table_path: str | None = None) -> str:
    """The layer a table lookup runs in, from its op's name scope (`model_1/words_1/hash_table_Lookup/...`).

    Keras 3 traces each call of a layer under its name plus a suffix that counts the calls ("_1", then "_3"):
    where the embedding's scope has one (its variable keeps the plain name), the lookup's scope has one too, which
    is taken off. Its number need not be the embedding's (an embedding called twice is "emb_3" the second time).
    A scope at the root of the function is no layer call inside a model: it is the lookup half `export_for_serving`
    runs on a served input, under the lookup's name as it is. A lookup outside any scope (a hand-written
    module's) is named by `table_path`, the attribute that holds its table, where known.
    """
    scopes = lookup_op.split("/")[:-1]
    # TensorFlow's own scopes for a lookup: `<table name>_Lookup`, numbered from a function's second lookup on.
    while scopes and re.fullmatch(r"(.*_Lookup|hash_table)(_\d+)?", scopes[-1]):
        scopes.pop()
    if not scopes:
        return table_path or "lookup table"
    if len(scopes) == 1:
        return scopes[0]
    traced = any(
        scope.startswith(embedding) and re.fullmatch(r"_\d+", scope[len(embedding) :]) for scope in gather_op.split("/")
    )
    # Its path in the exported model (whose own scope is the first), as a .keras file names it (`inner/words`).
    return "/".join(re.sub(r"_\d+$", "", scope) if traced else scope for scope in scopes[1:])
