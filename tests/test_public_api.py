"""The public API: every public name is in an `__all__` and documented; every other name is private.

Public modules are those whose dotted path has no part starting with `_`. Their `__all__` lists what they
offer; a name without a leading underscore that one of them defines (or that another module imports from one
of them) must be listed there. `_private` modules hold the shared helpers.
"""

import ast
import importlib
import inspect
import pathlib
import pkgutil

import pytest

import keras_vocabsafe

PACKAGE = pathlib.Path(keras_vocabsafe.__file__).parent


def module_names():
    names = ["keras_vocabsafe"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="keras_vocabsafe."):
        names.append(info.name)
    return sorted(names)


def is_public(module_name):
    return not any(part.startswith("_") for part in module_name.split("."))


PUBLIC_MODULES = [name for name in module_names() if is_public(name)]


def source_path(module_name):
    relative = pathlib.Path(*module_name.split(".")[1:])
    package = PACKAGE / relative / "__init__.py"
    return package if package.exists() else (PACKAGE / relative).with_suffix(".py")


def tree(module_name):
    return ast.parse(source_path(module_name).read_text(encoding="utf-8"))


def top_level_definitions(module_name):
    """Names bound at the top of a module by def, class or assignment (not by import), with their docstrings."""
    body = tree(module_name).body
    found = {}
    for position, node in enumerate(body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = ast.get_docstring(node)
            continue
        targets = []
        if isinstance(node, ast.Assign):
            targets = [target for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target]
        following = body[position + 1] if position + 1 < len(body) else None
        doc = None  # An attribute docstring: a string literal right after the assignment.
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            doc = following.value.value if isinstance(following.value.value, str) else None
        for target in targets:
            found[target.id] = doc
    return found


def documentation(module_name, name):
    """The docstring of `name` as `module_name` offers it, wherever in the package it is defined."""
    value = getattr(importlib.import_module(module_name), name)
    if inspect.isclass(value) or inspect.isroutine(value):
        # Its own `__doc__`: `inspect.getdoc` would give a base class's. (A class whose docstring follows an
        # annotation has none: `help()` and doctest then see nothing.)
        return inspect.cleandoc(value.__doc__) if value.__doc__ else None
    for candidate in module_names():  # A constant or type alias: its attribute docstring where it is assigned.
        definitions = top_level_definitions(candidate)
        same = name in definitions and getattr(importlib.import_module(candidate), name, None) is value
        if same and definitions[name]:
            return definitions[name]
    return None


def test_every_name_of_the_package_all_resolves_and_is_documented():
    missing = [name for name in keras_vocabsafe.__all__ if not hasattr(keras_vocabsafe, name)]
    assert not missing, f"keras_vocabsafe.__all__ names what the package does not define: {missing}"
    undocumented = [
        name
        for name in keras_vocabsafe.__all__
        if not name.startswith("__") and not documentation("keras_vocabsafe", name)
    ]
    assert not undocumented, f"public names without a docstring: {undocumented}"
    assert len(set(keras_vocabsafe.__all__)) == len(keras_vocabsafe.__all__)


def test_every_name_of_the_package_all_is_in_the_all_of_a_public_module():
    offered = {}
    for module_name in PUBLIC_MODULES[1:]:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            offered.setdefault(name, []).append(getattr(module, name))
    strays = [
        name
        for name in keras_vocabsafe.__all__
        if not name.startswith("__")
        and not any(value is getattr(keras_vocabsafe, name) for value in offered.get(name, ()))
    ]
    assert not strays, f"re-exported by the package but in no public module's __all__: {strays}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_each_public_module_has_a_consistent_all(module_name):
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    assert len(set(module.__all__)) == len(module.__all__), f"{module_name}.__all__ repeats a name"
    unresolved = [name for name in module.__all__ if not hasattr(module, name)]
    assert not unresolved, f"{module_name}.__all__ names what it does not define: {unresolved}"
    undocumented = [
        name for name in module.__all__ if not name.startswith("__") and not documentation(module_name, name)
    ]
    assert not undocumented, f"{module_name}: public names without a docstring: {undocumented}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_each_public_module_defines_no_public_name_outside_its_all(module_name):
    module = importlib.import_module(module_name)
    unlisted = [
        name for name in top_level_definitions(module_name) if not name.startswith("_") and name not in module.__all__
    ]
    assert not unlisted, f"{module_name} defines public-looking names missing from __all__: {unlisted}"


def cross_module_uses():
    """(importing file, public module, name) for every name one package module takes from a public one."""
    uses = []
    for module_name in module_names():
        module_tree = tree(module_name)
        modules_bound = {}  # Local name -> public module, for `from keras_vocabsafe import evolve`.
        for node in ast.walk(module_tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keras_vocabsafe"):
                for alias in node.names:
                    dotted = f"{node.module}.{alias.name}"
                    if dotted in module_names():
                        if is_public(dotted):
                            modules_bound[alias.asname or alias.name] = dotted
                    elif is_public(node.module) and node.module != "keras_vocabsafe":
                        uses.append((module_name, node.module, alias.name))
        for node in ast.walk(module_tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules_bound
                and f"{modules_bound[node.value.id]}.{node.attr}" not in module_names()
            ):
                uses.append((module_name, modules_bound[node.value.id], node.attr))
    return uses


def test_package_modules_take_only_listed_or_private_names_from_public_modules():
    uses = cross_module_uses()
    assert any(target == "keras_vocabsafe.vocabulary" for _, target, _ in uses)  # The walk sees imports.
    strays = sorted(
        {
            f"{user} uses {target}.{name}"
            for user, target, name in uses
            if not name.startswith("_") and name not in importlib.import_module(target).__all__
        }
    )
    assert not strays, "public-looking helpers used across modules but not in __all__:\n" + "\n".join(strays)


def _documented_arguments(docstring: str) -> set[str]:
    """The names an `Args:` section describes (`name: ...`, `name (type): ...`, `a, b,\\n c: as for ...`)."""
    lines = inspect.cleandoc(docstring).splitlines()
    names: set[str] = set()
    inside, head = False, ""
    for line in lines:
        if line.strip() in ("Args:", "Arguments:"):
            inside, head = True, ""
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):  # The next section.
            inside = False
            continue
        if line.startswith("    ") and not line.startswith("     "):  # An entry's first lines, up to its colon.
            head += line
            if ":" in line:
                names.update(part.split("(")[0].strip().lstrip("*") for part in head.split(":")[0].split(","))
                head = ""
    return names


def _public_callables() -> list[tuple[str, object]]:
    """The functions and classes of the package's `__all__`, and the public methods and constructors of its classes."""
    found: list[tuple[str, object]] = []
    seen: set[object] = set()  # A method inherited by several classes is checked once.
    for name in keras_vocabsafe.__all__:
        obj = getattr(keras_vocabsafe, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        if inspect.isclass(obj):
            found.append((name, obj))
            owners = [cls for cls in obj.__mro__ if cls.__module__.startswith("keras_vocabsafe")]
            for attribute in sorted({attribute for cls in owners for attribute in vars(cls)}):
                value = inspect.getattr_static(obj, attribute)
                function = getattr(value, "__func__", value)
                if not attribute.startswith("_") and inspect.isfunction(function) and function not in seen:
                    seen.add(function)
                    found.append((f"{name}.{attribute}", function))
        elif inspect.isfunction(obj):
            found.append((name, obj))
    return found


_WITH_ARGS = [(name, obj) for name, obj in _public_callables() if _documented_arguments(obj.__doc__ or "")]


def test_the_args_sections_are_found():
    expected = {"VocabEmbedding", "VocabIdEmbedding", "Vocabulary", "export_for_serving", "VocabEmbedding.adapt"}
    assert expected <= {name for name, _ in _WITH_ARGS}


@pytest.mark.parametrize(("name", "obj"), _WITH_ARGS, ids=[name for name, _ in _WITH_ARGS])
def test_every_argument_of_a_public_signature_is_in_its_args_section(name, obj):
    documented = _documented_arguments(obj.__doc__ or "")
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)  # type: ignore[misc]
    arguments = {
        parameter.name
        for parameter in signature.parameters.values()
        if parameter.name not in ("self", "cls")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }
    assert arguments <= documented, f"{name}: undocumented {sorted(arguments - documented)}"
    if not any(parameter.kind == parameter.VAR_KEYWORD for parameter in signature.parameters.values()):
        unknown = documented - arguments - {"kwargs", "args"}
        assert not unknown, f"{name}: documents arguments it does not take: {sorted(unknown)}"


def test_every_public_method_of_a_public_class_has_a_docstring():
    # Methods that override one of Keras's (`call`, `get_config`, `quantize`, ...) take Keras's documentation.
    undocumented = []
    for name in keras_vocabsafe.__all__:
        cls = getattr(keras_vocabsafe, name)
        if not inspect.isclass(cls) or issubclass(cls, BaseException):
            continue
        foreign = [base for base in cls.__mro__ if not base.__module__.startswith("keras_vocabsafe")]
        for attribute, value in vars(cls).items():
            function = getattr(value, "__func__", value)
            if attribute.startswith("_") or not inspect.isfunction(function) or function.__doc__:
                continue
            if not any(hasattr(base, attribute) for base in foreign):
                undocumented.append(f"{name}.{attribute}")
    assert not undocumented, f"public methods without a docstring: {undocumented}"
