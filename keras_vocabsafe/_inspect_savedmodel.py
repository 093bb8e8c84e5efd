"""The SavedModel half of `inspect_model`: what can be said about lookups and embeddings from the graph alone.

A SavedModel holds no Keras config, so there is no layer to pair: this reads
the graph's lookup tables (from `saved_model.pb`, without loading it) and the
2-D variables (candidate embedding matrices) and reports them as a note.
Pairing a table's ids with the matrix they gather from (through the captured
handles of nested functions) is not done yet.
"""

from __future__ import annotations

from typing import Any

from keras_vocabsafe.errors import ModelFileError

_TABLE_OPS = {"HashTableV2", "MutableHashTableV2", "MutableDenseHashTableV2", "MutableHashTableOfTensorsV2"}


def inspect_savedmodel(path: str) -> tuple[list[Any], list[Any]]:
    import os

    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    from keras_vocabsafe.inspection import Finding

    proto = saved_model_pb2.SavedModel()
    file = os.path.join(path, "saved_model.pb")
    try:
        with open(file, "rb") as f:
            proto.ParseFromString(f.read())
    except (OSError, DecodeError) as error:
        raise ModelFileError(f"{file} cannot be read as a SavedModel ({error}); the export is damaged.") from None
    if not proto.meta_graphs:
        raise ModelFileError(f"{file} holds no graph; the export is damaged or empty.")
    graph = proto.meta_graphs[0]
    tables = sum(node.op in _TABLE_OPS for node in graph.graph_def.node) + sum(
        node.op in _TABLE_OPS for function in graph.graph_def.library.function for node in function.node_def
    )
    matrices = sorted(
        {
            (node.variable.name, tuple(dim.size for dim in node.variable.shape.dim))
            for node in graph.object_graph_def.nodes
            if node.WhichOneof("kind") == "variable" and len(node.variable.shape.dim) == 2
        }
    )
    shown = ", ".join(f"{name} {shape}" for name, shape in matrices[:5]) or "none"
    note = Finding(
        "note",
        "savedmodel-not-analysed",
        (),
        f"{path} is a SavedModel: it keeps no Keras layers, so lookups were not paired with embeddings. It "
        f"creates {tables} lookup table(s) and holds {len(matrices)} 2-D variable(s) ({shown}). Inspect the "
        ".keras file the export was made from for a full check.",
        {"tables": tables, "matrices": [{"name": name, "shape": list(shape)} for name, shape in matrices]},
    )
    return [], [note]
