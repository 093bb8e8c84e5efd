"""Sessions for the demo, the test suite at both ends of the supported versions, and the other Keras backends.

`nox` runs lint, tests, tests_oldest, tests_jax and tests_torch; `nox -s demo` runs the demo.
"""

import os

import nox

nox.options.sessions = ["lint", "tests", "tests_oldest", "tests_jax", "tests_torch"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

ENV = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}


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
def tests(session: nox.Session) -> None:
    """The whole suite at the newest versions the package accepts (nothing pinned)."""
    session.install("-q", "-e", ".[test]")
    session.run("python", "-c", PRINT_VERSIONS)
    session.run("pytest", *session.posargs, env=ENV)


@nox.session(name="tests_oldest")
def tests_oldest(session: nox.Session) -> None:
    """The suite at the oldest versions the package accepts: TensorFlow 2.19, Keras 3.11, NumPy 1.26.

    The fast tests, then the slow saving and export tests (saving and export changed most between the ends);
    the rest of the slow tests run in `tests`.
    """
    session.install("-q", "-e", ".[test]", *OLDEST)
    session.run("python", "-c", PRINT_VERSIONS)
    session.run("pytest", "-m", "not slow", *session.posargs, env=ENV)
    session.run("pytest", "-m", "slow and saving", *session.posargs, env=ENV)


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
