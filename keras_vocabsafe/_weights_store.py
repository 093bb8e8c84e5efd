"""The vocabulary's place in a Keras weights store (`.weights.h5`, or the weights inside `.keras`).

Keras's weights stores hold numeric arrays only, so string tokens are written
as two arrays: every token's bytes concatenated (`vocabulary`, uint8) and the
offsets where each token starts and ends (`vocabulary_offsets`, int64, one
longer than the token count). Integer tokens are one int64 array. The stored
list covers every id, special slots included, so a change of mask or OOV
settings is caught as well.
"""

from __future__ import annotations

import json
import os
import weakref
from typing import Any

import keras
import numpy as np

from keras_vocabsafe._tokens import joined_chunks
from keras_vocabsafe.errors import ConfigurationError, VocabularyMismatchError

TOKENS_KEY = "vocabulary"
OFFSETS_KEY = "vocabulary_offsets"

# Why layers did not load, per open weights file. Keras retries a layer that failed under every other attribute
# that refers to it (a subclassed model's `self.words`, and its layer list), where the store is empty, and
# reports only the last error: without this, "no vocabulary saved here" would replace the real reason.
_FAILURES: dict[int, tuple[weakref.ref, dict[int, tuple[type[Exception], tuple[Any, ...]]]]] = {}


def remember_failure(store: Any, layer: Any, error: Exception) -> None:
    """Keeps why `layer` did not load from `store`'s file, while that file is open."""
    file = getattr(store, "h5_file", None)
    if file is None:
        return
    alive, errors = _FAILURES.get(id(file), (None, {}))
    if alive is None or alive() is not file:
        errors = {}
        _FAILURES[id(file)] = (weakref.ref(file), errors)
        weakref.finalize(file, _FAILURES.pop, id(file), None)  # Forgotten with the file.
    # Its type and message, not the error: a raised error's traceback holds the store (so the file) and the model.
    errors[id(layer)] = (type(error), error.args)


def earlier_failure(store: Any, layer: Any) -> Exception | None:
    """Why `layer` did not load from this file before (a new error), when `store` (another place in it) is empty."""
    file = getattr(store, "h5_file", None)
    alive, errors = _FAILURES.get(id(file), (None, {}))
    failure = errors.get(id(layer)) if alive is not None and alive() is file else None
    if failure is None or list(store.keys()):
        return None
    kind, args = failure
    return kind(*args)


def write_tokens(store: Any, tokens: list[Any], vocabulary_dtype: str) -> None:
    if vocabulary_dtype != "string":
        store[TOKENS_KEY] = np.asarray(tokens, dtype=np.int64)
        return
    store[TOKENS_KEY], store[OFFSETS_KEY] = _encoded(tokens)


def read_tokens(store: Any, vocabulary_dtype: str, *, owner: str, expected: list[Any] | None = None) -> list[Any]:
    """Every id's token as stored; `expected` itself when the store holds exactly those tokens.

    The comparison with `expected` (the layer's own tokens, the common case on load) runs on the stored arrays,
    so a vocabulary of millions of tokens is not rebuilt token by token only to be found equal.
    """
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
        values = _stored_array(store, TOKENS_KEY, owner, "iu")
        if expected is not None and _same_integers(values, expected):
            return expected
        return [int(v) for v in values]
    if OFFSETS_KEY not in store:
        if np.asarray(store[TOKENS_KEY]).dtype == np.uint8:  # Integer tokens are stored as int64.
            raise _corrupt(owner, f"its `{OFFSETS_KEY}` array, where each token's bytes end, is missing")
        raise VocabularyMismatchError(
            f"The saved weights for {owner} hold an integer vocabulary, but this layer has vocabulary_dtype='string'."
        )
    values = _stored_array(store, TOKENS_KEY, owner, "iu")
    if values.dtype != np.uint8:
        raise _corrupt(owner, f"its `{TOKENS_KEY}` array has dtype {values.dtype}, not the uint8 bytes of the tokens")
    offsets = _stored_array(store, OFFSETS_KEY, owner, "iu").astype(np.int64, copy=False)
    if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != values.size or np.any(np.diff(offsets) < 0):
        raise _corrupt(owner, "its offsets do not fit its bytes")
    if expected is not None and _holds(values, offsets, expected):
        return expected
    data = values.tobytes()
    return [data[start:end] for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _encoded(tokens: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """String tokens as stored: their bytes concatenated (uint8), and where each starts and ends (int64)."""
    offsets = _offsets(tokens)
    values = np.empty(int(offsets[-1]), dtype=np.uint8)
    for start, stop, joined in joined_chunks(tokens):
        values[offsets[start] : offsets[stop]] = np.frombuffer(joined, dtype=np.uint8)
    return values, offsets


def _offsets(tokens: list[bytes]) -> np.ndarray:
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens)), out=offsets[1:])
    return offsets


def _holds(values: np.ndarray, offsets: np.ndarray, tokens: list[bytes]) -> bool:
    """Whether stored `values` and `offsets` are exactly `tokens`, compared a chunk at a time (nothing the size
    of the vocabulary is encoded besides the offsets)."""
    if offsets.size != len(tokens) + 1 or not np.array_equal(offsets, _offsets(tokens)):
        return False
    for start, stop, joined in joined_chunks(tokens):
        if values[offsets[start] : offsets[stop]].tobytes() != joined:
            return False
    return True


def _same_integers(values: np.ndarray, expected: list[Any]) -> bool:
    if values.shape != (len(expected),):
        return False
    try:
        return bool(np.array_equal(values, np.asarray(expected, dtype=np.int64)))
    except OverflowError:  # A stored uint64 past int64 cannot be an expected token.
        return False


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


def unreadable(store: Any, error: OSError) -> str:
    """Why a layer could not read its place in `store`, as "could not read its saved weights: ...", to follow the
    layer's name: h5py could not open a file of it, such as a shard of sharded weights that is missing or truncated
    (named when the store is sharded)."""
    index = getattr(store, "sharding_config", None) and getattr(store, "path", None)
    try:
        if index:
            check_shards(str(index), ConfigurationError)
    except ConfigurationError as shard_error:
        reason = str(shard_error)
    else:
        reason = f"the weights file could not be read ({error})."
    since, load = "It", "load weights it can read"
    if index:  # Keras drops the error only here (see `check_shards`); otherwise `load_weights()` raises it too.
        since = "Since `model.load_weights()` returns without saying so, it"
        load = "load complete weights (`keras_vocabsafe.load_weights(model, path)` checks every shard before loading)"
    rows = "keeps the rows it had"
    if keras.backend.backend() != "tensorflow":  # See `VocabIdEmbedding._refuse_until_given_rows`.
        rows = "has NaN rows (so that a function compiled before, which does not call it again, gives NaN vectors)"
    return (
        f"could not read its saved weights: {reason} {since} {rows} and refuses to be called or saved until it is "
        f"given rows: {load}, or give it rows with its own `set_weights` (`layer.set_weights([matrix])`: "
        "`model.set_weights()` assigns the layer's variables without the layer knowing, so it would still refuse)."
    )


def check_shards(path: str, error_type: type[Exception]) -> list[str]:
    """The shard files a sharded weights index names (paths, in its order); refuses, with `error_type`, an index
    that is not JSON, or names a shard file that is not beside it or is not readable HDF5 (truncated).

    Shared by `load_weights` (`ConfigurationError`) and `inspect_model(weights=...)` (`ModelFileError`).

    Keras's loader does not report a missing shard: the layer whose weights it holds fails, its store is then
    empty for every layer after it, and a later visit of the failed layer clears the failure, so
    `model.load_weights()` returns having loaded only the layers read before the gap.
    """
    try:
        with open(path, encoding="utf-8") as file:
            index = json.load(file)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise error_type(
            f"'{path}' is not the JSON index of sharded weights ({error}). It may be truncated or of another kind; "
            "write the weights again with `model.save_weights(path, max_shard_size=...)`."
        ) from error
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise error_type(
            f"'{path}' has no `weight_map` naming the shard of each layer, so it is not the index of sharded weights "
            "Keras writes; write the weights again with `model.save_weights(path, max_shard_size=...)`."
        )
    import h5py  # A dependency of Keras's saving.

    folder = os.path.dirname(path)
    names = {name for shards in weight_map.values() for name in (shards if isinstance(shards, list) else [shards])}
    found: list[str] = []
    for shard in sorted(names, key=str):
        if not isinstance(shard, str) or not os.path.isfile(os.path.join(folder, shard)):
            raise error_type(
                f"'{path}' names the shard {shard!r}, which is not in {folder or '.'!r}: copy every "
                "`*.weights.h5` shard written with the index next to it. (Keras's own `model.load_weights()` does "
                "not notice a missing or damaged shard: the layers it holds, and every layer read after them, keep "
                "their weights.)"
            )
        try:
            h5py.File(os.path.join(folder, shard), "r").close()
        except OSError as error:
            raise error_type(
                f"The shard '{os.path.join(folder, shard)}' of '{path}' could not be read as HDF5 ({error}). It may "
                "be truncated; copy it again, or write the weights again with "
                "`model.save_weights(path, max_shard_size=...)`."
            ) from error
        found.append(os.path.join(folder, shard))
    return found
