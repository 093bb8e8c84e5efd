"""Sessions for the demo, the test suite, and the test suite at the oldest supported Keras.

`nox` runs lint, tests and tests_keras_3_12; `nox -s demo` runs the demo.
"""

import os

import nox

nox.options.sessions = ["lint", "tests", "tests_keras_3_12"]
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
