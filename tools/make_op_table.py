"""Builds keras_vocabsafe/_tftext_ops.json: the tensorflow-text release that first registered each op.

For each minor release of tensorflow-text (2.4 to 2.21 by default) the script takes the newest patch
release's Linux wheel from PyPI (`pip download`, kept in --wheel-dir so a re-run downloads nothing new),
and reads the op names out of the wheel's op libraries (`tensorflow_text/**/_*.so`) without loading them:
old libraries cannot be loaded into today's TensorFlow.

How op names are found: TensorFlow's REGISTER_OP keeps each op's name as a NUL-terminated string in the
library. A candidate is a CamelCase identifier (optionally prefixed "TFText>", which tensorflow-text's
newer "kernel shim" ops carry) that occurs in exactly one op library of the wheel (strings from the
statically linked TensorFlow, absl or ICU code occur in all of them). Kernel class names that
REGISTER_KERNEL_BUILDER also keeps ("CaseFoldUTF8Op" next to the op "CaseFoldUTF8") are dropped. Two
checks guard the result, and the script fails if either does not hold:

- every op wrapper the wheel's Python code calls (`gen_<library>.<snake_case op name>`) is found;
- with --check-installed, the ops found in the installed tensorflow-text equal the ops its import adds
  to TensorFlow's live op registry (read in a subprocess).

Usage:
    python tools/make_op_table.py                      # all releases, writes the JSON
    python tools/make_op_table.py --versions 2.11 2.12 --output /tmp/ops.json
    python tools/make_op_table.py --check-installed    # also compare with the installed release's registry
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "keras_vocabsafe" / "_tftext_ops.json"
DEFAULT_WHEEL_DIR = Path.home() / ".cache" / "keras-vocabsafe" / "tensorflow-text-wheels"
DEFAULT_VERSIONS = [f"2.{minor}" for minor in range(4, 22)]
# Old releases have wheels only for old Pythons; pip downloads for another Python when told which.
PYTHON_VERSIONS = ["3.11", "3.8", "3.9", "3.10", "3.12", "3.13"]
PLATFORMS = [
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]

_STRING = re.compile(rb"[\x20-\x7e]{6,}(?=\x00)")
# CamelCase with at least two humps and four lowercase letters; optional "TFText>" namespace.
_OP_NAME = re.compile(r"(?:TFText>)?[A-Z][a-z0-9]*(?:[A-Z][a-z0-9]*)+")
# Itanium-mangled C++ names ("N5Darts7Details9ExceptionE", "CN6tflite4shim12TfTensorViewE").
_MANGLED = re.compile(r"[A-Za-z]\d+[a-z]|\d{2,}|^N\d|^Z")
# Strings that pass every rule in some release but are not ops: kernel class names that REGISTER_KERNEL_BUILDER
# keeps (checked against the live registry of 2.21), an ICU script name, and an ICU converter's function name.
NOT_OPS = {"RegexSplitOp", "SentencepieceResourceFromGraphDef", "SignWriting", "LMBCSConversionWorker"}
_WRAPPER_CALL = re.compile(r"\bgen_([a-z0-9_]+)\.([a-z][a-z0-9_]*)\(")

# TensorFlow Serving links tensorflow-text's ops into its model server from a pinned tensorflow-text
# source release, which has not always followed the server's own version. Each entry names its evidence;
# releases without evidence are marked as assumed (same minor release as the server).
SERVING = {
    "2.11": (
        "2.8",
        "tensorflow/serving issue #2064: the 2.11.0 release lacks FastBertNormalize (tensorflow-text 2.9); "
        "taken as 2.8 (conservative)",
    ),
    "2.13": ("2.12", "tensorflow/serving PR #4057 (2025-02): the embedded TF Text is 2.12.1"),
    "2.14": ("2.12", "tensorflow/serving PR #4057 (2025-02): the embedded TF Text is 2.12.1"),
    "2.15": ("2.12", "tensorflow/serving PR #4057 (2025-02): the embedded TF Text is 2.12.1"),
    "2.16": ("2.12", "tensorflow/serving PR #4057 (2025-02): the embedded TF Text is 2.12.1"),
    "2.17": ("2.12", "tensorflow/serving PR #4057 (2025-02): the embedded TF Text is 2.12.1"),
    "2.18": (
        "2.12",
        "tensorflow/serving issue #2267 (2024-11: 'TFText>RoundRobinTrim' not registered) and PR #4057",
    ),
    "2.19": ("2.12", "no newer pin recorded before 2.20.0; assumed unchanged since PR #4057 (conservative)"),
    "2.20": ("2.12", "no newer pin recorded before 2.20.0; assumed unchanged since PR #4057 (conservative)"),
    "2.21": ("2.20", "tensorflow/serving tensorflow_serving/workspace.bzl pins tensorflow/text v2.20.0"),
}
SERVING_ASSUMED = "assumed: the server links the tensorflow-text release of its own minor version"


def snake_case(op: str) -> str:
    """The name TensorFlow gives an op's Python wrapper (CaseFoldUTF8 -> case_fold_utf8)."""
    out = []
    for index, char in enumerate(op):
        if char == ">":
            out.append("_")
            continue
        if char.isupper() and index:
            previous = op[index - 1]
            following = op[index + 1] if index + 1 < len(op) else ""
            if previous != ">" and (previous.islower() or previous.isdigit() or following.islower()):
                out.append("_")
        out.append(char.lower())
    return "".join(out)


def ops_in_libraries(libraries: dict[str, bytes]) -> dict[str, set[str]]:
    """Op names found in each op library (name -> bytes), by the rules in the module docstring."""
    candidates = {}
    for name, data in libraries.items():
        strings = {match.decode("ascii") for match in _STRING.findall(data)}
        candidates[name] = {
            text
            for text in strings
            if _OP_NAME.fullmatch(text)
            and not _MANGLED.search(text)
            and sum(char.islower() for char in text) >= 4
            and not text.endswith("Kernel")
            and text not in NOT_OPS
        }
    counts: dict[str, int] = {}
    for found in candidates.values():
        for text in found:
            counts[text] = counts.get(text, 0) + 1
    return {name: {text for text in found if counts[text] == 1} for name, found in candidates.items()}


def _without_artifacts(found: set[str], evidenced: set[str]) -> set[str]:
    """Drops names that are artifacts of how a library stores the real op names beside them."""
    kept = set(found)
    for text in found:
        # A kernel class named after its op: "CaseFoldUTF8Op" beside "CaseFoldUTF8", "XOpV2" beside "XV2".
        index = text.rfind("Op")
        if index > 0 and text[:index] + text[index + 2 :] in found:
            kept.discard(text)
        for op in found - {text}:
            # An unterminated copy of an op's name glued to the next string: "TokenizerFromLog" + "TokenizerFromLogits".
            head = text[: len(text) - len(op)]
            if text.endswith(op) and head and op.startswith(head):
                kept.discard(text)
            # Two names that part mid-word ("TokenizerFromLog|strings", "TokenizerFromLog|its"): the one the
            # Python code calls is the op.
            common = next((i for i, (a, b) in enumerate(zip(text, op)) if a != b), min(len(text), len(op)))
            if (
                common >= 6
                and common < min(len(text), len(op))
                and text[common].islower()
                and op[common].islower()
                and op in evidenced
                and text not in evidenced
            ):
                kept.discard(text)
    return kept


def scan(libraries: dict[str, bytes], sources: str) -> tuple[set[str], list[str]]:
    """The op names registered by a release's op libraries, and the Python wrapper calls no found op explains.

    `libraries` maps each op library's file name to its bytes; `sources` is the release's Python code. A
    wrapper call with no op found among the candidates is looked up among the strings' CamelCase suffixes:
    the linker may store an op name as the tail of a longer string ("TokenizerFromLogTokenizerFromLogits"
    in 2.9), and the Python call is the evidence that this tail is an op.
    """
    per_library = ops_in_libraries(libraries)
    library_ops = {os.path.basename(name)[1:-3]: (name, found) for name, found in per_library.items()}
    unexplained = []
    evidenced: set[str] = set()
    for module, function in sorted(set(_WRAPPER_CALL.findall(sources))):
        if module not in library_ops:
            continue  # a TensorFlow module such as gen_array_ops
        name, found = library_ops[module]
        matches = {op for op in found if snake_case(op) == function}
        if matches:
            evidenced |= matches
            continue
        tails = {
            text[start:]
            for text in (match.decode("ascii") for match in _STRING.findall(libraries[name]))
            for start in range(1, len(text))
            if text[start].isupper() and snake_case(text[start:]) == function
        }
        if len(tails) == 1:
            evidenced |= tails
            found |= tails
        else:
            unexplained.append(f"gen_{module}.{function}")
    ops = set().union(*per_library.values()) if per_library else set()
    return _without_artifacts(ops, evidenced), unexplained


def _is_op_library(name: str) -> bool:
    return name.endswith(".so") and os.path.basename(name).startswith("_") and "pybinds" not in name


def scan_wheel(path: Path) -> tuple[set[str], list[str]]:
    with zipfile.ZipFile(path) as wheel:
        names = [name for name in wheel.namelist() if name.startswith("tensorflow_text/")]
        libraries = {name: wheel.read(name) for name in names if _is_op_library(name)}
        sources = "\n".join(wheel.read(name).decode("utf-8", "replace") for name in names if name.endswith(".py"))
    return scan(libraries, sources)


def find_or_download(minor: str, wheel_dir: Path) -> Path:
    def existing() -> list[Path]:
        pattern = re.compile(rf"tensorflow_text-{re.escape(minor)}\.(\d+)-.*\.whl")
        found = [(int(m.group(1)), p) for p in wheel_dir.glob("*.whl") if (m := pattern.fullmatch(p.name))]
        return [p for _, p in sorted(found)]

    if not existing():
        wheel_dir.mkdir(parents=True, exist_ok=True)
        for python in PYTHON_VERSIONS:
            command = [sys.executable, "-m", "pip", "download", f"tensorflow-text=={minor}.*", "--no-deps"]
            command += ["--only-binary=:all:", "--python-version", python, "-d", str(wheel_dir), "-q"]
            for platform in PLATFORMS:
                command += ["--platform", platform]
            if subprocess.run(command, capture_output=True, text=True).returncode == 0 and existing():
                break
    wheels = existing()
    if not wheels:
        raise SystemExit(f"No Linux wheel of tensorflow-text {minor}.* could be downloaded.")
    return wheels[-1]


def installed_check() -> None:
    """Compares the extraction on the installed tensorflow-text with the ops its import registers."""
    script = r"""
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api
def registered():
    ops = op_def_pb2.OpList()
    ops.ParseFromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList()))
    return {op.name for op in ops.op}
before = registered()
import tensorflow_text
print(json.dumps({"root": os.path.dirname(tensorflow_text.__file__), "version": tensorflow_text.__version__,
                  "ops": sorted(registered() - before)}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    live = json.loads(result.stdout.strip().splitlines()[-1])
    root = Path(live["root"])
    libraries = {str(path): path.read_bytes() for path in root.rglob("_*.so") if _is_op_library(str(path))}
    sources = "\n".join(path.read_text("utf-8", "replace") for path in root.rglob("*.py"))
    found, unexplained = scan(libraries, sources)
    if unexplained:
        raise SystemExit(f"installed tensorflow-text: Python calls op wrappers with no op found: {unexplained}")
    missing, extra = set(live["ops"]) - found, found - set(live["ops"])
    print(f"installed tensorflow-text {live['version']}: {len(live['ops'])} ops registered, {len(found)} found")
    if missing or extra:
        raise SystemExit(
            f"Extraction disagrees with the live registry: missing {sorted(missing)}, extra {sorted(extra)}."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", nargs="+", default=DEFAULT_VERSIONS, help="minor releases, e.g. 2.4 2.21")
    parser.add_argument("--wheel-dir", type=Path, default=DEFAULT_WHEEL_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check-installed", action="store_true")
    args = parser.parse_args()
    if args.check_installed:
        installed_check()

    versions = sorted(set(args.versions), key=lambda v: tuple(int(p) for p in v.split(".")))
    scanned: dict[str, str] = {}
    present: dict[str, list[str]] = {}
    for minor in versions:
        wheel = find_or_download(minor, args.wheel_dir)
        ops, unexplained = scan_wheel(wheel)
        if unexplained:
            raise SystemExit(f"{wheel.name}: Python calls op wrappers with no op found: {unexplained}")
        scanned[minor] = wheel.name.split("-")[1]
        print(f"{wheel.name}: {len(ops)} ops: {' '.join(sorted(ops))}")
        for op in ops:
            present.setdefault(op, []).append(minor)

    table = {}
    for op in sorted(present):
        releases = present[op]
        entry: dict[str, object] = {"since": releases[0]}
        later = versions[versions.index(releases[0]) :]
        gaps = [minor for minor in later if minor not in releases]
        if gaps:
            entry["absent_in"] = gaps  # removed (or renamed) in these releases
        table[op] = entry
    serving = {}
    for minor in versions:
        text, source = SERVING.get(minor, (minor, SERVING_ASSUMED))
        serving[minor] = {"tensorflow_text": text, "source": source}
    document = {
        "format": 1,
        "generated_by": "tools/make_op_table.py",
        "generated_on": datetime.date.today().isoformat(),
        "scanned_releases": scanned,
        "first_scanned": versions[0],
        "ops": table,
        "tensorflow_serving": serving,
    }
    args.output.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.output}: {len(table)} ops from {len(scanned)} releases")


if __name__ == "__main__":
    main()
