"""The exception hierarchy: the tree drawn in `errors.py`'s docstring is the one Python sees."""

import builtins
import re

import pytest

from keras_vocabsafe import errors


def drawn_tree():
    """(class name, parent in the drawing or None, builtin named in parentheses or None), one per line of the tree."""
    block = re.search(r"```\n(.*?)```", errors.__doc__, re.S).group(1)
    rows, parents = [], []
    for line in block.splitlines():
        match = re.fullmatch(r"(?P<indent>[│ ├└─]*)(?P<name>\w+)(?: \((?P<builtin>\w+)\))?", line)
        assert match, f"unreadable tree line: {line!r}"
        depth = len(match["indent"]) // 4
        parents[depth:] = [match["name"]]
        rows.append((match["name"], parents[depth - 1] if depth else None, match["builtin"]))
    return rows


def test_the_drawn_tree_names_every_error_once():
    names = [name for name, _, _ in drawn_tree()]
    assert sorted(names) == sorted(errors.__all__)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(("name", "parent", "builtin"), drawn_tree(), ids=lambda value: str(value))
def test_each_error_derives_from_its_drawn_parent_and_builtin(name, parent, builtin):
    cls = getattr(errors, name)
    if parent is not None:
        assert parent in [base.__name__ for base in cls.__bases__], f"{name} should derive from {parent} directly"
    if builtin is not None:
        assert issubclass(cls, getattr(builtins, builtin))


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_ours_and_refines_a_builtin_other_than_exception(name):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.VocabSafeError)
    if cls is not errors.VocabSafeError:
        refined = [base for base in cls.__mro__ if base.__module__ == "builtins" and base not in (Exception,)]
        assert refined != [BaseException, object], f"{name} refines no builtin error"
    assert cls.__doc__ and cls.__doc__.strip()


def test_export_errors_are_export_errors():
    # Every refusal of export_for_serving can be caught as an ExportError; the ops refusal stays a ValueError.
    assert issubclass(errors.UnsupportedOpsError, errors.ExportError)
    assert issubclass(errors.UnsupportedOpsError, ValueError)
    assert issubclass(errors.VersionExistsError, errors.ExportError)
    assert issubclass(errors.VersionExistsError, FileExistsError)
    assert not hasattr(errors, "NonCoreOpsError")


def test_a_missing_dependency_names_its_module_as_import_error_does():
    # VocabSafeError takes one message (so AutoGraph keeps our types); ImportError's `name=` must still work.
    error = errors.MissingDependencyError("tensorflow-text is not installed", name="tensorflow_text")
    assert (error.name, str(error)) == ("tensorflow_text", "tensorflow-text is not installed")
    assert isinstance(error, ImportError)
