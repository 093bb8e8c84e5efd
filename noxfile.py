"""Sessions for the demo, the test suite at both ends of the supported versions, the type checker, the other Keras
backends, and the built packages.

`nox` runs lint, typecheck, tests, tests_oldest, tests_jax, tests_torch and package; `nox -s demo` runs the demo.
"""

import os
import pathlib
import shutil
import subprocess
import tarfile
import zipfile

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "tests_oldest", "tests_jax", "tests_torch"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

ENV = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
# Each test session's venv (2-3 GB, five of them with TensorFlow) is removed once the session passes, so the test
# command needs the disk of one venv at a time rather than about 14 GB. VOCABSAFE_NOX_KEEP_VENVS=1 keeps them for
# reruns (`nox -s tests` then reuses its venv).
DISCARD_VENVS = os.environ.get("VOCABSAFE_NOX_KEEP_VENVS") != "1"


def _discard_venv(session: nox.Session) -> None:
    """Removes the session's venv after it passed, unless asked to keep it (a failed session keeps it to look at)."""
    location = getattr(session.virtualenv, "location", None)
    if DISCARD_VENVS and location and os.path.isdir(location):
        session.log(f"removing {location} (VOCABSAFE_NOX_KEEP_VENVS=1 keeps it)")
        shutil.rmtree(location, ignore_errors=True)


@nox.session
def demo(session: nox.Session) -> None:
    """Adapt, train, save, reload in a new process, export, and serve raw strings with TensorFlow alone."""
    session.install("-q", "-e", ".")
    session.run("python", "examples/quickstart.py", *session.posargs, env=ENV)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-q", "ruff==0.17.*")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


# The oldest end of every range in pyproject.toml, pinned exactly; `tests` takes the newest that pip picks.
OLDEST = (
    "tensorflow==2.19.0",
    "tensorflow-text==2.19.0",
    "tensorflow-serving-api==2.19.0",
    "keras==3.11.0",
    "numpy==1.26.0",
)
PRINT_VERSIONS = (
    "import importlib.metadata as m; print(*(f'{n} {m.version(n)}' for n in ('tensorflow', 'tensorflow-text', "
    "'keras', 'numpy', 'protobuf', 'tensorflow-serving-api', 'apache-beam')), sep=', ')"
)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the shipped package (it ships py.typed), with the settings in pyproject.toml's [tool.mypy]."""
    # Without dependencies: TensorFlow, Keras and tensorflow-text ship no types, so mypy reads them as Any whether
    # they are installed or not; NumPy does, and is the one the package's annotations lean on.
    session.install("-q", "mypy==2.4.*", "numpy>=2.0")
    session.install("-q", "--no-deps", "-e", ".")
    session.run("mypy", "--version")
    session.run("mypy")


# The suite runs in pytest-xdist workers, one per core up to four (each imports TensorFlow: about 1 GB). `nox -s tests
# -- -n 0` runs it in one process.
WORKERS = ("-n", str(max(1, min(4, os.cpu_count() or 1))))


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite at the newest versions the package accepts (nothing pinned)."""
    session.install("-q", "-e", ".[test]")
    session.run("python", "-c", PRINT_VERSIONS)
    session.run("pytest", *WORKERS, *session.posargs, env=ENV)
    _discard_venv(session)


@nox.session(name="tests_oldest")
def tests_oldest(session: nox.Session) -> None:
    """The suite at the oldest versions the package accepts: TensorFlow 2.19, Keras 3.11, NumPy 1.26.

    The fast tests, then the slow saving and export tests (saving and export changed most between the ends);
    the rest of the slow tests run in `tests`.
    """
    session.install("-q", "-e", ".[test]", *OLDEST)
    session.run("python", "-c", PRINT_VERSIONS)
    # `-m` replaces pyproject's `-m "not without_text"`, so each selection leaves those tests out itself.
    session.run("pytest", *WORKERS, "-m", "not slow and not without_text", *session.posargs, env=ENV)
    session.run("pytest", *WORKERS, "-m", "slow and saving and not without_text", *session.posargs, env=ENV)
    _discard_venv(session)


# The backend sessions install only what the backend tests need (no gensim or serving APIs). torch==2.13.0 is the
# CPU wheel these machines hold; any other torch version or range would download a CUDA build of several GB.
BACKENDS = {"jax": "jax", "torch": "torch==2.13.0"}


@nox.session(name="tests_jax")
def tests_jax(session: nox.Session) -> None:
    """The every-backend tests (marker `backend`) on JAX: the lookup half in tf.data, the embedding half in a model."""
    _backend_tests(session, "jax")


@nox.session(name="tests_torch")
def tests_torch(session: nox.Session) -> None:
    """The every-backend tests (marker `backend`) on PyTorch (CPU)."""
    _backend_tests(session, "torch")


def _backend_tests(session: nox.Session, backend: str) -> None:
    session.install("-q", "-e", ".", "pytest>=8", "hypothesis>=6.100", BACKENDS[backend])
    env = {**ENV, "KERAS_BACKEND": backend}
    session.run("python", "-c", f"import keras; assert keras.backend.backend() == {backend!r}", env=env)
    # Only the backend module: the others import packages (gensim, pandas) these lean environments leave out.
    session.run("pytest", "tests/test_backends.py", "-m", "backend", *session.posargs, env=env)
    _discard_venv(session)


# The packages, built and installed as a user gets them ------------------------------------------------------------

nox.options.sessions += ["package"]


@nox.session
def package(session: nox.Session) -> None:
    """The sdist and the wheel built from it, checked, installed in a fresh venv WITHOUT tensorflow-text (the `text`
    extra), and the sdist's own tests of that case run against the installed wheel (marker `without_text`)."""
    wheel, sdist_root = _build_and_unpack(session)
    _check_wheel(wheel)
    _check_sdist(session, sdist_root)
    _install_wheel(session, wheel, "pytest>=8")
    session.chdir(session.create_tmp())
    session.run("python", "-c", IMPORTED_FROM_SITE_PACKAGES, env={**ENV, "PYTHONPATH": ""})
    session.run("vocabsafe", "--version", env={**ENV, "PYTHONPATH": ""})
    # The tests run from the unpacked sdist (its conftest.py included), with the pytest script (which, unlike
    # `python -m pytest`, does not put the current directory on sys.path) and importlib imports:
    # `keras_vocabsafe` can only be the installed wheel.
    session.chdir(sdist_root)
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "-m",
        "without_text",
        "tests/test_without_text.py",
        *session.posargs,
        env={**ENV, "PYTHONPATH": ""},
    )
    _discard_venv(session)


IMPORTED_FROM_SITE_PACKAGES = """
import pathlib, sysconfig
import keras_vocabsafe
site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
where = pathlib.Path(keras_vocabsafe.__file__).resolve()
assert where.parent == site / "keras_vocabsafe", f"keras_vocabsafe imported from {where}, not from {site}"
print("keras_vocabsafe", keras_vocabsafe.__version__, "from", where.parent)
"""

ROOT = pathlib.Path(__file__).resolve().parent
# Files the wheel must hold besides every module of the package: the package data and the console script's module.
WHEEL_FILES = ("keras_vocabsafe/py.typed", "keras_vocabsafe/_tftext_ops.json", "_vocabsafe_entry.py")
# What the sdist needs beyond the package so that its tests run: `git ls-files` of these must all be in it.
SDIST_FILES = ("LICENSE", "CHANGELOG.md", "README.md", "noxfile.py", "pyproject.toml", "MANIFEST.in")
SDIST_DIRECTORIES = ("tests", "examples", "benchmarks", "tools", "keras_vocabsafe")


def _build_and_unpack(session: nox.Session) -> tuple[pathlib.Path, pathlib.Path]:
    """Builds the sdist, then the wheel from the unpacked sdist (so the wheel holds only what the sdist ships)."""
    session.install("-q", "build")
    dist = pathlib.Path(session.create_tmp()).resolve() / "dist"
    shutil.rmtree(dist, ignore_errors=True)  # A reused venv keeps the last build; start from nothing.
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT), silent=True)
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    unpacked = dist / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (sdist_root,) = unpacked.iterdir()
    session.log(f"built {sdist.name} and {wheel.name}")
    return wheel, sdist_root


def _install_wheel(session: nox.Session, wheel: pathlib.Path, *others: str, extras: str = "") -> None:
    # The venv may be reused and the version unchanged: uninstall first, or pip keeps the previous build.
    session.run("python", "-m", "pip", "uninstall", "-q", "-y", "keras-vocabsafe", silent=True)
    session.install("-q", f"{wheel}{extras}", *others)


def _check_wheel(wheel: pathlib.Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        (entry_points,) = (name for name in names if name.endswith(".dist-info/entry_points.txt"))
        requirements = [
            line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")
        ]
        scripts = archive.read(entry_points).decode()
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "keras_vocabsafe").rglob("*.py")}
    missing = sorted((modules | set(WHEEL_FILES)) - names)
    assert not missing, f"the wheel lacks {missing}"
    assert "keras_vocabsafe/cli/__init__.py" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), "the wheel lacks LICENSE"
    strays = sorted(name for name in names if name.startswith(("tests/", "examples/", "benchmarks/", "tools/")))
    assert not strays, f"the wheel holds files that are not the package: {strays[:5]}"
    assert "vocabsafe = _vocabsafe_entry:main" in scripts, scripts
    # tensorflow-text only through the `text` extra (and `test`), never unconditionally.
    text = [line for line in requirements if "tensorflow-text" in line]
    assert text and all("extra ==" in line for line in text), text
    assert any('extra == "text"' in line for line in text), text


def _check_sdist(session: nox.Session, root: pathlib.Path) -> None:
    present = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    try:
        tracked = subprocess.run(
            ["git", "ls-files", *SDIST_DIRECTORIES], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # Not a git checkout (e.g. run from an unpacked sdist).
        tracked = []
    # Files git tracks but that were deleted in the work tree are not expected.
    expected = {name for name in tracked if (ROOT / name).is_file()} | set(SDIST_FILES) | {"tests/conftest.py"}
    missing = sorted(expected - present)
    assert not missing, f"the sdist lacks {missing}"
    caches = sorted(name for name in present if "__pycache__" in name or name.endswith(".pyc"))
    assert not caches, f"the sdist holds caches: {caches[:5]}"
    session.log(f"sdist: {len(present)} files, with every tracked file under {', '.join(SDIST_DIRECTORIES)}")
