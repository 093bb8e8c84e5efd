"""`vocabsafe export MODEL BASE_PATH`: a .keras model as a serving version; `vocabsafe audit SAVEDMODEL`: its ops.

The logic is `keras_vocabsafe.export_for_serving` and `keras_vocabsafe.audit_ops`; this module loads, reports
and describes what a model server will see (the signatures, and the ops beyond core TensorFlow).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from keras_vocabsafe.cli._model_file import UNSAFE_HELP, check_model_file, load_model
from keras_vocabsafe.cli._output import EXIT_OK, EXIT_PROBLEMS, CommandError, Output, whole_number

_EXPORT_DESCRIPTION = """\
Write a .keras model as version N of a model server's base path (BASE_PATH/N), a SavedModel that runs with
TensorFlow alone (and tensorflow-text where the model's text options need it), never this package. String
inputs stay strings: an input that feeds the embedding half of a VocabEmbedding takes the keys, looked up in
the graph. Each VocabEmbedding also gets the signatures vocabulary_<layer> (every token in id order) and
token_to_id_<layer> (tokens -> ids exactly as the layer maps them). The version is written beside and renamed
into place once complete (and audited, with --target), so a model server never sees a partial version, and
an existing version is never overwritten. Prints the signatures and the ops beyond core TensorFlow.

exit codes: 0 written; 1 nothing written: the graph uses ops that do not load in --target (or with
--strict); 2 usage or input error (a missing or damaged .keras file, a model that cannot be exported as
asked, an existing version)."""

_EXPORT_EPILOG = """\
examples:
  vocabsafe export model.keras models/reviews
  vocabsafe export model.keras models/reviews --version 7 --target tensorflow-serving==2.16
  vocabsafe export model.keras models/reviews --warmup requests.json --json
"""

_AUDIT_DESCRIPTION = """\
List the op types a SavedModel's graph uses that core TensorFlow does not register (tensorflow-text ops,
with the release that added each, or unknown ops), and with --target whether each loads there: TensorFlow
alone ("core"), a tensorflow-text release ("tensorflow-text==2.12") or a TensorFlow Serving release
("tensorflow-serving==2.16", taken to link the tensorflow-text release recorded for it). Also prints the
SavedModel's signatures.

exit codes: 0 every op loads in --target (or no --target); 1 some op does not load in --target; 2 usage or
input error (not a SavedModel directory, a damaged saved_model.pb, a bad --target)."""

_TARGET_HELP = (
    "where the version will be served: core, tensorflow-text==X.Y or tensorflow-serving==X.Y; the graph is "
    "audited and refused (nothing written) if an op does not load there"
)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    export = subparsers.add_parser(
        "export",
        parents=[common],
        help="write a .keras model as a serving version (SavedModel) that runs with TensorFlow alone",
        description=_EXPORT_DESCRIPTION,
        epilog=_EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("model", metavar="MODEL", help="the .keras file to export (read only)")
    export.add_argument(
        "base_path",
        metavar="BASE_PATH",
        help="the model's base directory, as a model server is given it (--model_base_path); created if missing",
    )
    export.add_argument(
        "--version",
        type=lambda text: whole_number(text, " (a version is a directory named by a number)"),
        metavar="N",
        help="the version to write (default: one more than the largest in BASE_PATH, or 1)",
    )
    targets = export.add_mutually_exclusive_group()
    targets.add_argument("--target", metavar="TARGET", help=_TARGET_HELP)
    targets.add_argument("--strict", action="store_true", help="the same as --target core")
    export.add_argument(
        "--warmup",
        metavar="FILE",
        help="a JSON file of sample requests (an object from input name to a nested list, or a list of such "
        "objects) written as the version's TF Serving warm-up requests (needs tensorflow-serving-api)",
    )
    export.add_argument(
        "--keep-ids",
        action="store_true",
        help="serve ids, not keys: inputs that feed a VocabIdEmbedding stay ids (no lookup in the graph)",
    )
    export.add_argument(
        "--no-vocabulary-signatures",
        action="store_true",
        help="leave out the vocabulary_<layer> and token_to_id_<layer> signatures",
    )
    export.add_argument(
        "--unsafe",
        action="store_true",
        help=UNSAFE_HELP,
    )
    export.set_defaults(run=run_export)

    audit = subparsers.add_parser(
        "audit",
        parents=[common],
        help="list a SavedModel's signatures and the ops beyond core TensorFlow, and whether they load in a target",
        description=_AUDIT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("saved_model", metavar="SAVEDMODEL", help="a SavedModel directory (e.g. BASE_PATH/1)")
    audit.add_argument("--target", metavar="TARGET", help="core, tensorflow-text==X.Y or tensorflow-serving==X.Y")
    audit.set_defaults(run=run_audit)


def run_export(args: argparse.Namespace, output: Output) -> int:
    check_model_file(
        args.model,
        "vocabsafe export",
        directory_hint="a SavedModel directory is exported already: to serve it, copy it into BASE_PATH as a "
        "numbered version; `vocabsafe audit` lists its ops",
    )
    warmup = None if args.warmup is None else _read_warmup(args.warmup)
    from keras_vocabsafe.errors import UnsupportedOpsError, VersionExistsError
    from keras_vocabsafe.export import audit_ops, export_for_serving

    # A bad --target is a usage error before the model is loaded (and before anything is written).
    target = _target(args.target) if args.target is not None else ("core" if args.strict else None)
    model = load_model(args.model, unsafe=args.unsafe, in_python="keras_vocabsafe.export_for_serving(model, ...)")
    try:
        path = export_for_serving(
            model,
            args.base_path,
            version=args.version,
            vocabulary_signatures=not args.no_vocabulary_signatures,
            warmup_inputs=warmup,
            target=target,
            lookups=None if args.keep_ids else "auto",
            verbose=0,
        )
    except UnsupportedOpsError as error:
        data = {"model": args.model, "base_path": args.base_path, "written": False, "error": str(error)}
        output.emit(f"Nothing written: {error}", data)
        return EXIT_PROBLEMS
    except VersionExistsError:
        existing = os.path.join(args.base_path, str(args.version))
        raise CommandError(
            f"version {args.version} already exists ({existing}); an export never overwrites a version a model "
            "server may be serving. Omit --version to write the next free version, or delete that directory first."
        ) from None
    audit = audit_ops(path, target=target)
    signatures = _signatures(Path(path))
    version = int(os.path.basename(path))
    data = {
        "model": args.model,
        "base_path": args.base_path,
        "version": version,
        "path": path,
        "written": True,
        "warmup_requests": None if warmup is None else len(warmup),
        "signatures": signatures,
        "audit": audit.to_dict(),
    }
    lines = [f"Wrote version {version} of {args.model} to {path}"]
    if warmup is not None:
        lines.append(f"with {len(warmup)} warm-up request(s) in assets.extra/tf_serving_warmup_requests")
    output.emit("\n".join(lines + _description(signatures, audit)), data)
    return EXIT_OK


def run_audit(args: argparse.Namespace, output: Output) -> int:
    from keras_vocabsafe.export import audit_ops

    if not os.path.exists(args.saved_model):
        raise CommandError(f"{args.saved_model}: no such directory.")
    if not os.path.isdir(args.saved_model):
        raise CommandError(
            f"{args.saved_model} is a file; `vocabsafe audit` reads a SavedModel directory (a .keras file is not "
            "exported yet: `vocabsafe export MODEL BASE_PATH` writes one)."
        )
    audit = audit_ops(args.saved_model, target=None if args.target is None else _target(args.target))
    signatures = _signatures(Path(args.saved_model))
    data = {**audit.to_dict(), "signatures": signatures}
    output.emit("\n".join([f"SavedModel {args.saved_model}", *_description(signatures, audit)]), data)
    return EXIT_PROBLEMS if audit.refused else EXIT_OK


def _target(text: str) -> Any:
    """The `OpTarget` a `--target` names, or a `CommandError` in the command line's terms."""
    from keras_vocabsafe._op_tables import _SERVING_NAMES, _TEXT_NAMES, parse_target
    from keras_vocabsafe.errors import ConfigurationError

    name, separator, _ = text.partition("==")
    known = separator and name.strip().lower() in {*_TEXT_NAMES, *_SERVING_NAMES}
    if text.strip().lower() not in {"core", "tensorflow"} and not known:
        raise CommandError(
            f"--target {text!r} is not a target: pass core (TensorFlow alone), tensorflow-text==X.Y (a process or "
            "server with that tensorflow-text release) or tensorflow-serving==X.Y (a TensorFlow Serving release), "
            "e.g. --target tensorflow-serving==2.16."
        )
    try:
        return parse_target(text)
    except ConfigurationError as error:  # A release the op table does not cover: its message says which do.
        raise CommandError(f"--target {text}: {error}") from None


def _read_warmup(path: str) -> list[dict[str, Any]]:
    """The warm-up requests of a `--warmup` JSON file: an object, or a non-empty list of objects."""
    try:
        with open(path, "rb") as file:
            document = json.load(file)
    except FileNotFoundError:
        raise CommandError(f"--warmup {path}: no such file.") from None
    except IsADirectoryError:
        raise CommandError(f"--warmup {path} is a directory; pass a JSON file of sample requests.") from None
    except OSError as error:
        raise CommandError(f"--warmup {path}: cannot read it ({error.strerror or error}).") from None
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors.
        reason = " ".join(str(error).split()) or type(error).__name__
        raise CommandError(
            f"--warmup {path} is not JSON ({reason}); write an object from input name to a nested list of values, "
            'e.g. {"text": [["a", "good", "film"]]}, or a list of such objects.'
        ) from None
    requests = [document] if isinstance(document, dict) else document
    if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
        raise CommandError(
            f"--warmup {path} must hold an object from input name to a nested list of values, e.g. "
            '{"text": [["a", "good", "film"]]}, or a non-empty list of such objects.'
        )
    return requests


def _signatures(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Each serving signature of a SavedModel: its inputs and outputs, by name, with dtype and shape (`None` for
    an axis of any length; `None` for the whole shape when even the rank is unknown), read from saved_model.pb."""
    import tensorflow as tf

    from keras_vocabsafe.export import _read_saved_model

    def tensors(infos: Any) -> dict[str, Any]:
        described = {}
        for name in sorted(infos):
            info = infos[name]
            shape = info.tensor_shape
            dims = None if shape.unknown_rank else [dim.size if dim.size >= 0 else None for dim in shape.dim]
            described[name] = {"dtype": tf.dtypes.as_dtype(info.dtype).name, "shape": dims}
        return described

    signatures: dict[str, dict[str, dict[str, Any]]] = {}
    for meta_graph in _read_saved_model(path).meta_graphs:
        for name in sorted(meta_graph.signature_def):
            if name.startswith("__"):  # `__saved_model_init_op`: TensorFlow's own, not served.
                continue
            signature = meta_graph.signature_def[name]
            signatures[name] = {"inputs": tensors(signature.inputs), "outputs": tensors(signature.outputs)}
    return signatures


def _description(signatures: dict[str, dict[str, dict[str, Any]]], audit: Any) -> list[str]:
    """What a model server sees: each signature's inputs and outputs, the ops beyond core TensorFlow, and with a
    target whether they load there. (Not `str(audit)`, whose op counts change with the TensorFlow release.)"""

    def side(tensors: dict[str, Any]) -> str:
        if not tensors:
            return "()"
        return ", ".join(f"{name} {value['dtype']} {_shape(value['shape'])}" for name, value in tensors.items())

    lines = [f"{len(signatures)} signature(s):"]
    lines += [f"  {name}: {side(value['inputs'])} -> {side(value['outputs'])}" for name, value in signatures.items()]
    if not audit.non_core:
        lines.append("ops: core TensorFlow only; it runs with TensorFlow alone.")
    else:
        lines.append(f"ops beyond core TensorFlow ({len(audit.non_core)}):")
        lines += [f"  {op}: {audit.describe(op)}" for op in audit.non_core]
        lines.append(
            "  (a Python process loads it after `import tensorflow_text`; check a model server with --target "
            "tensorflow-serving==X.Y)"
        )
    if audit.target is not None:
        verdict = f"refused: {', '.join(audit.refused)}" if audit.refused else "every op loads"
        lines.append(f"target {audit.target}: {verdict}.")
        if audit.target.source:
            lines.append(f"  ({audit.target.source})")
    return lines


def _shape(dims: list[int | None] | None) -> str:
    if dims is None:
        return "(any shape)"
    return "(" + ", ".join("None" if dim is None else str(dim) for dim in dims) + ("," if len(dims) == 1 else "") + ")"
