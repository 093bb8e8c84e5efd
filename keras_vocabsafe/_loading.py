"""What one loading call asks of every `VocabEmbedding` that Keras's loader visits.

Keras calls `load_own_variables(store)` with nothing else, so a request that
holds for one `load_weights` call (remap rows by token, or only check the
saved vocabularies) is set here for the duration of that call and read by
the layers. A context variable keeps it to the calling thread.

`values_follow()` tells `build` that every row it creates is about to be
overwritten (saved or given values), so the embeddings initializer need not
run: `keras.saving.load_model()` rebuilding a model, or a layer built by
`load_own_variables`/`set_weights` right before they assign.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from keras_vocabsafe import _compat

__all__ = ["CheckOnly", "RemapRequest", "current_request", "loading_request", "values_follow", "values_to_follow"]


@dataclass
class RemapRequest:
    """`load_remapped_weights()`: take saved rows by token; put a report per layer in `reports`."""

    new_embeddings_initializer: Any
    seed: int | None
    reports: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckOnly:
    """`load_weights()`'s first pass: compare saved vocabularies, assign nothing; collect refusals in `errors`.

    With `remap`, the first pass of `load_remapped_weights()`: check that rows can move by token.
    """

    errors: list[Exception] = field(default_factory=list)
    remap: RemapRequest | None = None


_REQUEST: ContextVar[RemapRequest | CheckOnly | None] = ContextVar("keras_vocabsafe_loading_request", default=None)


def current_request() -> RemapRequest | CheckOnly | None:
    return _REQUEST.get()


@contextmanager
def loading_request(request: RemapRequest | CheckOnly) -> Iterator[None]:
    token = _REQUEST.set(request)
    try:
        yield
    finally:
        _REQUEST.reset(token)


_VALUES_FOLLOW: ContextVar[bool] = ContextVar("keras_vocabsafe_values_follow", default=False)


def values_follow() -> bool:
    """Whether weights built now are overwritten before anything reads them (so their initial values go unused)."""
    return _VALUES_FOLLOW.get() or _compat.in_model_load()


@contextmanager
def values_to_follow() -> Iterator[None]:
    """Builds inside this block create placeholder weights: the caller assigns every one of them right after."""
    token = _VALUES_FOLLOW.set(True)
    try:
        yield
    finally:
        _VALUES_FOLLOW.reset(token)
