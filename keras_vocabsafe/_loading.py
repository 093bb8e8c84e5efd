"""What one loading call asks of every `VocabEmbedding` that Keras's loader visits.

Keras calls `load_own_variables(store)` with nothing else, so a request that
holds for one `load_weights` call (remap rows by token, or only check the
saved vocabularies) is set here for the duration of that call and read by
the layers. A context variable keeps it to the calling thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckOnly", "RemapRequest", "current_request", "loading_request"]


@dataclass
class RemapRequest:
    """`load_remapped_weights()`: take saved rows by token; put a report per layer in `reports`."""

    new_embeddings_initializer: Any
    seed: int | None
    reports: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckOnly:
    """`load_weights()`'s first pass: compare saved vocabularies, assign nothing; collect refusals in `errors`."""

    errors: list[Exception] = field(default_factory=list)


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
