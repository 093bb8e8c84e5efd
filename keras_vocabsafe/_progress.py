"""Progress of long operations, shown as Keras shows `fit`'s: a `keras.utils.Progbar`, and `logging`.

Every long operation (`adapt`, `update_vocabulary(data=...)`, `load_vectors`, `align_vectors`, `load_pretrained`,
`from_pretrained`, `vocabulary_from_files`, `export_for_serving`) takes `verbose`, resolved by `check_verbose`:

- `"auto"` (default): a progress bar when someone watches (stdout is a terminal or a Jupyter kernel's,
  and Keras's interactive logging is on, `keras.config.is_interactive_logging_enabled()`), otherwise 0:
  quiet in CI, in logs, in pipes and under pytest.
- `0`: prints nothing.
- `1`: a `keras.utils.Progbar` (steps, or `Unknown` totals, with the rate per unit), then one summary line.
- `2`: the summary line only, as `fit(verbose=2)` prints one line per epoch.

Whatever `verbose` says, the start and the summary are logged at INFO on the `keras_vocabsafe` logger, so a
service configures `logging` and sees them (`logging.basicConfig(level=logging.INFO)`).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import keras
import numpy as np

from keras_vocabsafe.errors import ConfigurationError

logger = logging.getLogger("keras_vocabsafe")

_INTERVAL = 0.1  # Seconds between two redraws of a bar: updates in between cost one clock read.


def check_verbose(verbose: Any, owner: str) -> int:
    """`verbose` as 0, 1 or 2 (`"auto"` resolved now), or a `ConfigurationError` naming the accepted values."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1 if is_interactive() else 0
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if isinstance(verbose, (int, np.integer)) and int(verbose) in (0, 1, 2):
        return int(verbose)
    raise ConfigurationError(
        f"{owner}: `verbose` must be 'auto' (a progress bar when stdout is a terminal or a notebook, else silent), "
        f"0 (silent), 1 (progress bar) or 2 (one line when done). Received: verbose={verbose!r}"
    )


def is_interactive() -> bool:
    """Whether a person watches: stdout is a terminal or a Jupyter kernel's (a notebook shows it, as it shows
    `fit`'s bar), and Keras's interactive logging is enabled."""
    stream = sys.stdout
    try:
        tty = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # No isatty, or a closed stream.
        tty = False
    # A kernel's stdout is no terminal: it is ipykernel's OutStream (not when redirected to a file or a buffer).
    notebook = type(stream).__module__.startswith("ipykernel.")
    return (tty or notebook) and keras.config.is_interactive_logging_enabled()


def say(verbose: int, message: str) -> None:
    """A line for the user: logged at INFO, and printed (`verbose` 1 or 2) to stdout as Keras prints.

    With Keras's interactive logging disabled, Keras sends its lines to logging instead of stdout: so does this
    (the INFO record is that line).
    """
    logger.info(message)
    if verbose and keras.config.is_interactive_logging_enabled():
        sys.stdout.write(message + "\n")
        sys.stdout.flush()


class Progress:
    """A progress bar over `target` units (`None`: unknown), redrawn at most every 0.1 s.

    The bar shows units divided by `scale` (bytes as MB, say); `current` and `target` stay in units.

    `update(current)` is cheap enough for every batch; `close(summary)` draws the final state, then
    prints `summary` (verbose 1 or 2) and logs it at INFO.
    """

    def __init__(self, verbose: int, target: int | None = None, unit_name: str = "step", *, scale: int = 1) -> None:
        self.verbose = verbose
        self.current = 0
        self.started = time.monotonic()
        self._scale = scale
        self._next = self.started + _INTERVAL
        shown = None if target is None else target / scale
        self._bar = keras.utils.Progbar(shown, verbose=1, unit_name=unit_name) if verbose == 1 else None

    @classmethod
    def of_bytes(cls, verbose: int, total: int | None) -> Progress:
        """A bar over `total` bytes (`None`: unknown), shown in MB (kB for files under 10 MB)."""
        scale = 10**6 if total is None or total >= 10**7 else 10**3
        return cls(verbose, total, "MB" if scale == 10**6 else "kB", scale=scale)

    def update(self, current: int) -> None:
        self.current = current
        if self._bar is None:
            return
        now = time.monotonic()
        if now >= self._next:
            self._next = now + _INTERVAL
            # finalize=False: reaching the target is not the end (a second reading may follow); close() ends it.
            self._bar.update(current / self._scale, finalize=False)

    def add(self, units: int) -> None:
        self.update(self.current + units)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def close(self, summary: str | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self.current / self._scale, finalize=True)
            self._bar = None
        if summary is not None:
            say(self.verbose, summary)
