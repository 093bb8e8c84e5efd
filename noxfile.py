"""Sessions for the demo, the type check, the test suite, the oldest supported Keras, and the other Keras backends.

`nox` runs lint, typecheck, tests, tests_keras_3_12, tests_jax and tests_torch; `nox -s demo` runs the demo.
"""

import os

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "tests_keras_3_12", "tests_jax", "tests_torch"]
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


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the shipped package (it ships py.typed), with the settings in pyproject.toml's [tool.mypy]."""
    # Without dependencies: TensorFlow, Keras and tensorflow-text ship no types, so mypy reads them as Any whether
    # they are installed or not; NumPy does, and is the one the package's annotations lean on.
    session.install("-q", "mypy==2.4.*", "numpy>=2.0")
    session.install("-q", "--no-deps", "-e", ".")
    session.run("mypy", "--version")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite at the newest Keras the package accepts."""
    session.install("-q", "-e", ".[test]")
    session.run("python", "-c", "import keras, tensorflow; print('keras', keras.__version__, tensorflow.__version__)")
    session.run("pytest", *session.posargs, env=ENV)


@nox.session(name="tests_keras_3_12")
def tests_keras_3_12(session: nox.Session) -> None:
    """Saving and export tests at the oldest Keras the package accepts (saving changed between 3.12 and 3.15)."""
    session.install("-q", "-e", ".[test]", "keras==3.12.*")
    session.run("python", "-c", "import keras; assert keras.__version__.startswith('3.12'), keras.__version__")
    session.run("pytest", "-m", "saving", *session.posargs, env=ENV)


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
