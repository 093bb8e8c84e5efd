"""The vocabulary's place in a Keras weights store (`.weights.h5`, or the weights inside `.keras`).

Keras's weights stores hold numeric arrays only, so string tokens are written
as two arrays: every token's bytes concatenated (`vocabulary`, uint8) and the
offsets where each token starts and ends (`vocabulary_offsets`, int64, one
longer than the token count). Integer tokens are one int64 array. The stored
list covers every id, special slots included, so a change of mask or OOV
settings is caught as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_vocabsafe.errors import VocabularyMismatchError

TOKENS_KEY = "vocabulary"
OFFSETS_KEY = "vocabulary_offsets"


def write_tokens(store: Any, tokens: list[Any], vocabulary_dtype: str) -> None:
    if vocabulary_dtype != "string":
        store[TOKENS_KEY] = np.asarray(tokens, dtype=np.int64)
        return
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in tokens], out=offsets[1:])
    store[TOKENS_KEY] = np.frombuffer(b"".join(tokens), dtype=np.uint8)
    store[OFFSETS_KEY] = offsets


def read_tokens(store: Any, vocabulary_dtype: str, *, owner: str) -> list[Any]:
    if TOKENS_KEY not in store:
        raise VocabularyMismatchError(
            f"The saved weights for {owner} carry no vocabulary, so nothing shows which token each row belongs "
            "to. They were not written by a VocabEmbedding layer (for example, by a plain Embedding). Copy such "
            "rows in by token with `layer.embeddings.assign(...)` after checking the vocabulary yourself."
        )
    if vocabulary_dtype != "string":
        if OFFSETS_KEY in store:
            raise VocabularyMismatchError(
                f"The saved weights for {owner} hold a string vocabulary, but this layer has vocabulary_dtype='int64'."
            )
        return [int(v) for v in _stored_array(store, TOKENS_KEY, owner, "iu")]
    if OFFSETS_KEY not in store:
        raise VocabularyMismatchError(
            f"The saved weights for {owner} hold an integer vocabulary, but this layer has vocabulary_dtype='string'."
        )
    values = _stored_array(store, TOKENS_KEY, owner, "iu")
    if values.dtype != np.uint8:
        raise _corrupt(owner, f"its `{TOKENS_KEY}` array has dtype {values.dtype}, not the uint8 bytes of the tokens")
    offsets = _stored_array(store, OFFSETS_KEY, owner, "iu").astype(np.int64)
    data = values.tobytes()
    if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != len(data) or np.any(np.diff(offsets) < 0):
        raise _corrupt(owner, "its offsets do not fit its bytes")
    return [data[start:end] for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _stored_array(store: Any, key: str, owner: str, kinds: str) -> np.ndarray:
    """A vocabulary array of the store, which must be 1-D with a dtype of the given NumPy kinds."""
    values = np.asarray(store[key])
    if values.ndim != 1 or values.dtype.kind not in kinds:
        raise _corrupt(
            owner, f"its `{key}` array has shape {values.shape} and dtype {values.dtype}, not a 1-D integer array"
        )
    return values


def _corrupt(owner: str, reason: str) -> VocabularyMismatchError:
    return VocabularyMismatchError(
        f"The saved vocabulary of {owner} is corrupt: {reason}. The weights file was edited or damaged; save the "
        "weights again from the trained model, or load the whole model from its `.keras` file."
    )
