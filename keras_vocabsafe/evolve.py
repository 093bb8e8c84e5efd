"""Updating a trained vocabulary: every row moves with its token.

The pieces behind `VocabEmbedding.update_vocabulary()`, and two functions for
users who manage matrices or weights files themselves:

- `warmstart_embedding_matrix()`: the Keras 3 counterpart of
  `tf.keras.utils.warmstart_embedding_matrix`. Rows are copied by token, never
  by position.
- (`load_remapped_weights()`, which applies these rules while Keras loads a
  weights file, lives in `saving.py`.)

Both return or produce a `VocabularyUpdateReport`: how many tokens were kept,
added, dropped and re-ordered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_vocabsafe._tokens import canonical_token, check_token_sequence, display_token, json_token
from keras_vocabsafe.errors import ConfigurationError, DuplicateTokenError
from keras_vocabsafe.pretrained import PretrainedVectors, align_vectors
from keras_vocabsafe.vocabulary import Vocabulary

__all__ = [
    "ROW_INITIALIZERS",
    "VocabularyUpdateReport",
    "warmstart_embedding_matrix",
]

ROW_INITIALIZERS = ("mean", "mean_std", "mean_cov", "zeros")
"""Initializers computed from existing rows, which every `*_embeddings_initializer` argument takes.

Besides these, such an argument takes any Keras initializer (a name such as `"uniform"`, an instance or a
callable taking `shape` and `dtype`) and a `PretrainedVectors` (each token's vector where it has one, else
`"mean"`). The existing rows are the old token rows (`update_vocabulary`, `load_remapped_weights`,
`warmstart_embedding_matrix`) or the rows found in the vectors (`load_pretrained`):

- `"mean"`: every row is their mean;
- `"mean_std"`: drawn from a normal with their per-dimension mean and standard deviation;
- `"mean_cov"`: drawn from a normal with their mean and covariance;
- `"zeros"`: zeros.
"""

_SAMPLE = 10  # Tokens shown by a report's printout.
_BLOCK = 65_536  # Rows copied (or reduced) at a time.


@dataclass(frozen=True)
class VocabularyUpdateReport:
    """What an update did to a vocabulary's rows.

    Attributes:
        layer: name of the layer updated, or `None` for a bare matrix.
        old_size: ids (and rows, without padding) before.
        new_size: ids after.
        kept: tokens in both vocabularies; each kept its exact row.
        added: tokens new to the vocabulary; their rows follow
            `new_embeddings_initializer`.
        dropped: tokens that left, with their rows.
        reordered: kept tokens whose id changed.
        new_embeddings_initializer: the initializer of the added rows, by
            name (`"none"` when the layer had no rows yet).
        added_tokens: the first added tokens, in id order.
        dropped_tokens: the first dropped tokens, in old id order.
        optimizer_variables: optimizer variables (such as Adam moments) whose
            rows were remapped with the embedding rows.
    """

    layer: str | None
    old_size: int
    new_size: int
    kept: int
    added: int
    dropped: int
    reordered: int
    new_embeddings_initializer: str
    added_tokens: tuple[Any, ...] = field(default=(), repr=False)
    dropped_tokens: tuple[Any, ...] = field(default=(), repr=False)
    optimizer_variables: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe values."""
        return {
            "layer": self.layer,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "kept": self.kept,
            "added": self.added,
            "dropped": self.dropped,
            "reordered": self.reordered,
            "new_embeddings_initializer": self.new_embeddings_initializer,
            "added_tokens": [json_token(t) for t in self.added_tokens],
            "dropped_tokens": [json_token(t) for t in self.dropped_tokens],
            "optimizer_variables": self.optimizer_variables,
        }

    def __str__(self) -> str:
        title = f"Vocabulary update of '{self.layer}'" if self.layer else "Vocabulary update"
        lines = [
            f"{title}: {self.old_size} -> {self.new_size} ids",
            f"  kept      {self.kept:>10,}  (rows unchanged; {self.reordered:,} with a new id)",
            f"  added     {self.added:>10,}  (rows: {self.new_embeddings_initializer})",
            f"  dropped   {self.dropped:>10,}",
        ]
        if self.optimizer_variables:
            lines.append(f"  optimizer variables remapped: {self.optimizer_variables}")
        for label, tokens, total in (
            ("added", self.added_tokens, self.added),
            ("dropped", self.dropped_tokens, self.dropped),
        ):
            if tokens:
                more = f", ... ({total - len(tokens):,} more)" if total > len(tokens) else ""
                lines.append(f"  {label}: " + ", ".join(display_token(t) for t in tokens) + more)
        return "\n".join(lines)


@dataclass(frozen=True)
class _RowMap:
    """Where each new id's row comes from: `source[i]` is an old id, or -1 for a new token."""

    source: np.ndarray
    old_size: int

    @property
    def added(self) -> np.ndarray:
        return np.flatnonzero(self.source < 0)

    @property
    def kept(self) -> np.ndarray:
        return np.flatnonzero(self.source >= 0)


def _map_rows(
    old_tokens: Sequence[Any], new_tokens: Sequence[Any], *, what: str = "vocabulary", distinct: bool = False
) -> _RowMap:
    """Matches ids of `new_tokens` to ids of `old_tokens` by token.

    A token listed more than once (the OOV token when there are several OOV
    rows) is matched occurrence by occurrence, so it must occur as often in
    both lists; otherwise which row it should keep is ambiguous. `distinct`
    says the caller knows both lists hold each token once (skips the check).
    """
    first = dict(zip(old_tokens, range(len(old_tokens))))
    if distinct or (len(first) == len(old_tokens) and len(set(new_tokens)) == len(new_tokens)):
        get = first.get
        source = np.fromiter((get(t, -1) for t in new_tokens), dtype=np.int64, count=len(new_tokens))
        return _RowMap(source, len(old_tokens))
    positions: dict[Any, list[int]] = {}
    for i, token in enumerate(old_tokens):
        positions.setdefault(token, []).append(i)
    occurrences: dict[Any, int] = {}
    source = np.full(len(new_tokens), -1, dtype=np.int64)
    for i, token in enumerate(new_tokens):
        seen = occurrences.get(token, 0)
        occurrences[token] = seen + 1
        old = positions.get(token, ())
        if seen < len(old):
            source[i] = old[seen]
    for token, count in occurrences.items():
        old_count = len(positions.get(token, ()))
        if (count > 1 or old_count > 1) and count != old_count:
            raise DuplicateTokenError(
                f"Token {display_token(token)} occurs {old_count} time(s) in the old {what} and {count} time(s) in "
                "the new one, so which row each occurrence should keep is ambiguous. List each token once (special "
                "tokens such as the OOV token may repeat, but as often in both)."
            )
    return _RowMap(source, len(old_tokens))


def _initial_rows(
    initializer: Any,
    tokens: Sequence[Any],
    reference: np.ndarray,
    *,
    argument: str,
    where: np.ndarray | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Rows for `tokens` (rows without a value of their own) following `initializer`: the one rule engine.

    Every `*_embeddings_initializer` argument comes here. `reference` holds the rows whose statistics the
    `ROW_INITIALIZERS` use (with `where`, only its rows where `where` is true, read in place: no copy of a large
    matrix); `argument` names the argument in errors. The result is a float32 `(len(tokens), dim)` array.
    """
    count = len(tokens)
    dim = reference.shape[1]
    if isinstance(initializer, PretrainedVectors):
        if initializer.dim != dim:
            raise ConfigurationError(
                f"`{argument}` holds pretrained vectors of {initializer.dim} dimensions, but the embedding has "
                f"output_dim={dim}, and rows cannot change output_dim. Use vectors of {dim} dimensions."
            )
        rows = _initial_rows("mean", tokens, reference, argument=argument, where=where)
        if count:
            aligned = align_vectors(initializer, list(tokens), verbose=0)
            rows[aligned.found] = aligned.vectors[aligned.found]
        return rows
    if isinstance(initializer, str) and initializer in ROW_INITIALIZERS:
        if initializer == "zeros" or count == 0:
            return np.zeros((count, dim), np.float32)
        if (len(reference) if where is None else np.count_nonzero(where)) == 0:
            raise ConfigurationError(
                f"`{argument}={initializer!r}` needs at least one old token row to compute from; pass "
                "a Keras initializer such as 'uniform' instead."
            )
        # Statistics in float64; `where` reads the chosen rows in place.
        statistics: dict[str, Any] = (
            {"axis": 0, "dtype": np.float64}
            if where is None
            else {"axis": 0, "dtype": np.float64, "where": where[:, None]}
        )
        mean = reference.mean(**statistics)
        if initializer == "mean":
            return np.broadcast_to(mean.astype(np.float32), (count, dim)).copy()
        if initializer == "mean_std":
            std = reference.std(**statistics)
            return np.random.default_rng(seed).normal(mean, std, size=(count, dim)).astype(np.float32)
        # A draw from N(mean, covariance): standard normals scaled along the covariance's eigenvectors.
        variances, axes = np.linalg.eigh(_covariance(reference, mean, where=where))
        scale = (axes * np.sqrt(np.clip(variances, 0, None))).T.astype(np.float32)
        normal = np.random.default_rng(seed).standard_normal((count, dim), dtype=np.float32)
        return normal @ scale + mean.astype(np.float32)
    try:
        keras_initializer = keras.initializers.get(initializer)
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"`{argument}` must be one of {ROW_INITIALIZERS}, a Keras initializer (name, object or callable) or a "
            f"`PretrainedVectors`. Received: {argument}={initializer!r}"
        ) from error
    if count == 0:
        return np.zeros((0, dim), np.float32)
    rows = np.asarray(keras.ops.convert_to_numpy(keras_initializer((count, dim), dtype="float32")), dtype=np.float32)
    if rows.shape != (count, dim):
        raise ConfigurationError(
            f"The `{argument}` initializer returned rows of shape {rows.shape}; expected {(count, dim)}."
        )
    return rows


def _covariance(
    rows: np.ndarray, mean: np.ndarray, block: int = _BLOCK, *, where: np.ndarray | None = None
) -> np.ndarray:
    """Sample covariance of `rows` (those where `where` is true), one block at a time: float32 products in float64.

    Neither a float64 copy of a large matrix nor float64 products (three times slower); the result differs
    from NumPy's `np.cov` by about 1e-7 relative, plenty for drawing initial rows.
    """
    total = np.zeros((rows.shape[1], rows.shape[1]), dtype=np.float64)
    center = mean.astype(rows.dtype)
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        if where is not None:
            part = part[where[start : start + block]]
        centered = part - center
        total += centered.T @ centered
    used = len(rows) if where is None else int(np.count_nonzero(where))
    return total / max(used - 1, 1)


def _check_initializer(initializer: Any, *, dim: int, argument: str) -> None:
    """Refuses an initializer `_initial_rows` could not apply, before anything changes (also when no row is new)."""
    _initial_rows(initializer, [], np.zeros((0, dim), np.float32), argument=argument)


def _describe_initializer(initializer: Any) -> str:
    """How a report names an initializer."""
    if isinstance(initializer, PretrainedVectors):
        return f"pretrained vectors ({initializer.path or 'in memory'}), else mean"
    if isinstance(initializer, str):
        return initializer
    return getattr(initializer, "__name__", type(initializer).__name__)


def _remap_matrix(
    old_matrix: np.ndarray,
    row_map: _RowMap,
    new_tokens: Sequence[Any],
    *,
    initializer: Any,
    reference_rows: Any,
    num_rows: int | None = None,
    seed: int | None = None,
    argument: str = "new_embeddings_initializer",
) -> np.ndarray:
    """The new matrix: kept rows copied by token, added rows from `initializer`, padding rows zeros.

    `reference_rows` (a slice, mask or index array of old rows) gives the rows whose statistics `initializer` uses.
    """
    dim = old_matrix.shape[1]
    size = len(row_map.source)
    matrix = np.empty((size if num_rows is None else num_rows, dim), dtype=old_matrix.dtype)
    kept = row_map.kept
    for start in range(0, len(kept), _BLOCK):  # In blocks: a whole-matrix gather would need a temporary copy.
        rows = kept[start : start + _BLOCK]
        matrix[rows] = old_matrix[row_map.source[rows]]
    added = row_map.added
    if len(added):
        reference = old_matrix[reference_rows]
        tokens = [new_tokens[i] for i in added]
        rows = _initial_rows(initializer, tokens, reference, argument=argument, seed=seed)
        _check_range(rows, matrix.dtype, tokens, argument)
        matrix[added] = rows
    matrix[size:] = 0
    return matrix


def _first_overflow(rows: np.ndarray, dtype: Any) -> tuple[int, float] | None:
    """The first row of `rows` holding a finite value that a narrower float `dtype` (float16) holds as infinity,
    and that value; None if there is none (or `dtype` is not narrower). Checked in blocks: no copy of a large
    matrix."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize >= rows.dtype.itemsize:
        return None
    for start in range(0, len(rows), _BLOCK):
        block = rows[start : start + _BLOCK]
        with np.errstate(over="ignore"):
            overflows = np.isinf(block.astype(dtype)) & np.isfinite(block)
        bad = np.flatnonzero(overflows.any(axis=1))
        if bad.size:
            row = int(bad[0])
            return start + row, float(block[row][overflows[row]][0])
    return None


def _check_range(rows: np.ndarray, dtype: np.dtype, tokens: Sequence[Any], argument: str) -> None:
    """Refuses float32 `rows` with a finite value that a `dtype` matrix (float16) would hold as infinity."""
    overflow = _first_overflow(rows, dtype)
    if overflow is not None:
        row, value = overflow
        raise ConfigurationError(
            f"The row of {display_token(tokens[row])} from `{argument}` holds {value:g}, but the embedding's rows "
            f"are {dtype}, whose largest value is {float(np.finfo(dtype).max):g}: it would become infinity. Use a "
            "float32 (or bfloat16) embedding, or scale the vectors down."
        )


def _make_report(
    layer: str | None,
    old_tokens: Sequence[Any],
    new_tokens: Sequence[Any],
    row_map: _RowMap,
    *,
    old_token_ids: np.ndarray,
    new_token_ids: np.ndarray,
    initializer: Any,
    optimizer_variables: int = 0,
) -> VocabularyUpdateReport:
    """Counts what an update did to the regular tokens (`*_token_ids`: the ids that are not special slots)."""
    source = row_map.source[new_token_ids]
    kept = source >= 0
    kept_old = np.zeros(row_map.old_size, dtype=bool)
    kept_old[row_map.source[row_map.source >= 0]] = True
    dropped = old_token_ids[~kept_old[old_token_ids]]
    added = new_token_ids[~kept]
    return VocabularyUpdateReport(
        layer=layer,
        old_size=row_map.old_size,
        new_size=len(row_map.source),
        kept=int(kept.sum()),
        added=len(added),
        dropped=len(dropped),
        reordered=int(np.count_nonzero(source[kept] != new_token_ids[kept])),
        new_embeddings_initializer=_describe_initializer(initializer),
        added_tokens=tuple(new_tokens[i] for i in added[:_SAMPLE]),
        dropped_tokens=tuple(old_tokens[i] for i in dropped[:_SAMPLE]),
        optimizer_variables=optimizer_variables,
    )


def warmstart_embedding_matrix(
    base_vocabulary: Sequence[Any] | Vocabulary,
    new_vocabulary: Sequence[Any] | Vocabulary,
    base_embeddings: Any,
    new_embeddings_initializer: Any = "uniform",
    *,
    seed: int | None = None,
) -> np.ndarray:
    """An embedding matrix for `new_vocabulary` that keeps the rows of `base_vocabulary`'s tokens.

    The Keras 3 counterpart of `tf.keras.utils.warmstart_embedding_matrix`:
    row `i` of `base_embeddings` belongs to `base_vocabulary[i]`. Every token
    of `new_vocabulary` that is also in `base_vocabulary` gets its exact base
    row, wherever it now stands; other tokens get rows from
    `new_embeddings_initializer`. Tokens are compared exactly (`str` and
    `bytes` of the same UTF-8 are the same token).

    Args:
        base_vocabulary: the tokens of the base matrix's rows, in row order
            (for a `VocabEmbedding`, `layer.get_vocabulary()`).
        new_vocabulary: the tokens of the new matrix's rows, in row order.
        base_embeddings: the base matrix, `(len(base_vocabulary), dim)`: a
            NumPy array, a tensor or a Keras variable.
        new_embeddings_initializer: how rows of new tokens start: any Keras
            initializer (default `"uniform"`, as in Keras), one of
            `ROW_INITIALIZERS` computed from the base rows (`"mean"`,
            `"mean_std"`, `"mean_cov"`, `"zeros"`), or a `PretrainedVectors`
            (its vector where it has one, else the mean).
        seed: seed for `"mean_std"` and `"mean_cov"`.

    Returns:
        A float NumPy array of shape `(len(new_vocabulary), dim)`.
    """
    base_tokens = _canonical_list(base_vocabulary, "base_vocabulary")
    new_tokens = _canonical_list(new_vocabulary, "new_vocabulary")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
        raise ConfigurationError(f"`seed` must be an int or None. Received: seed={seed!r}")
    matrix = np.asarray(keras.ops.convert_to_numpy(base_embeddings))
    if matrix.dtype.kind not in "fiu" or matrix.dtype.kind == "b":
        raise ConfigurationError(
            f"`base_embeddings` must be a numeric matrix. Received an array of dtype {matrix.dtype}."
        )
    if matrix.ndim != 2 or matrix.shape[0] != len(base_tokens):
        raise ConfigurationError(
            f"`base_embeddings` must have one row per token of `base_vocabulary` ({len(base_tokens)} tokens). "
            f"Received shape {matrix.shape}."
        )
    row_map = _map_rows(base_tokens, new_tokens)
    return _remap_matrix(
        matrix, row_map, new_tokens, initializer=new_embeddings_initializer, reference_rows=slice(None), seed=seed
    )


def _remap_optimizer(model: Any, new_optimizer: Any, old_variable: Any, new_variable: Any, row_map: _RowMap) -> int:
    """Moves `model`'s optimizer state for `old_variable` onto `new_variable`, row by row; returns how many.

    Keras optimizers are built once for a fixed list of variables, so the
    optimizer re-created from its config by `_check_optimizer_can_follow`
    (`new_optimizer`; None when the model had no built one) is built for
    the model's current variables and given every value of the old one:
    per-row state (such as Adam's moments) of the embedding follows the
    tokens, new tokens start from zero state (an EMA of the weights, from
    their initial rows), and everything else is copied. The model's compiled
    functions are then rebuilt on their next call.
    """
    remapped = 0
    if new_optimizer is not None:
        optimizer = model.optimizer
        kind = type(optimizer).__name__
        try:
            new_optimizer.build(model.trainable_variables)
        except Exception as error:
            raise ConfigurationError(
                f"The optimizer of model '{model.name}' ({kind}) could not be rebuilt for the new rows "
                f"({type(error).__name__}: {error}); the layer and the model are as they were. Update without "
                "`model=` and compile the model again (its optimizer state then starts afresh)."
            ) from error
        old_rows = row_map.old_size
        # Keras names a slot `<its variable's path, "/" as "_">_<slot>`; a slot of another variable whose path
        # extends this one's (layer "item" and layer "item_embeddings") has this one's prefix too.
        # Either may be None: a layer whose `trainable_rows` were all dropped, or none before, has no trained matrix.
        mine_paths = {v.path for v in (old_variable, new_variable) if v is not None}
        prefixes = _slot_prefixes(model, old_variable)
        for variable, old in _pair_variables(optimizer.variables, new_optimizer.variables):
            value = old.numpy()  # One copy; convert_to_numpy would make two.
            slot_name = variable.path.rsplit("/", 1)[-1]
            owner = _slot_owner(slot_name, prefixes)
            mine = owner is not None and prefixes[owner] in mine_paths
            if mine and value.ndim == 2 and value.shape[0] >= old_rows:
                rows = np.zeros(tuple(variable.shape), dtype=value.dtype)
                kept = row_map.kept
                rows[kept] = value[row_map.source[kept]]
                if slot_name.endswith("_average"):  # An EMA of the weights starts from the new rows themselves.
                    added = row_map.added
                    rows[added] = new_variable.numpy()[added]
                variable.assign(rows)
                remapped += 1
            elif tuple(value.shape) == tuple(variable.shape):
                variable.assign(value)
        model.optimizer = new_optimizer
    for name in ("train_function", "test_function", "predict_function"):
        if hasattr(model, name):
            setattr(model, name, None)
    return remapped


def _check_optimizer_can_follow(model: Any, variable: Any) -> Any:
    """Refuses, before anything changes, a `model` optimizer whose state `_remap_optimizer` could not carry; returns
    it re-created from its config (not built), for `_remap_optimizer`, or None when the model has no built one.

    `variable` is the matrix the optimizer trains now (or None). The optimizer is re-created from its config, so
    that must work; and every per-row slot of `variable` must be recognisable as its own (Keras names slots made by
    `add_variable_from_reference` after their variable), else its rows could not follow their tokens.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "built", False):
        return None
    kind = type(optimizer).__name__
    try:
        recreated = type(optimizer).from_config(optimizer.get_config())
    except Exception as error:
        raise ConfigurationError(
            f"The optimizer of model '{model.name}' ({kind}) cannot be re-created from its config "
            f"(`{kind}.from_config(optimizer.get_config())` raised {type(error).__name__}: {error}), and "
            "`update_vocabulary(model=...)` re-creates it to move its state with the rows. Make its `get_config()` "
            "return every argument of its `__init__`, or update without `model=` and compile the model again "
            "(its optimizer state then starts afresh)."
        ) from error
    if variable is None:
        return recreated
    prefixes = _slot_prefixes(model, variable)
    rows = variable.shape[0]
    for slot in optimizer.variables:
        shape = tuple(slot.shape)
        if shape and shape[0] == rows and _slot_owner(slot.path.rsplit("/", 1)[-1], prefixes) is None:
            raise ConfigurationError(
                f"The optimizer of model '{model.name}' ({kind}) holds state `{slot.path}` of shape {shape} that "
                f"may hold a value per row of `{variable.path}` ({rows} rows), but is not named after a variable, "
                "so its rows cannot be moved with their tokens. Update without `model=` and compile the model "
                "again (its optimizer state then starts afresh), or use an optimizer whose slots Keras names after "
                "their variable (`add_variable_from_reference`), such as Adam, AdamW, SGD or LazyAdam."
            )
    return recreated


def _slot_prefixes(model: Any, old_variable: Any) -> dict[str, str]:
    """Slot-name prefix -> variable path, for the model's trainable variables and the matrix being replaced.

    Keras names a slot `<its variable's path, "/" as "_">_<slot>`.
    """
    known = [*model.trainable_variables, *(v for v in (old_variable,) if v is not None)]
    return {v.path.replace("/", "_") + "_": v.path for v in known}


def _slot_owner(slot_name: str, prefixes: dict[str, str]) -> str | None:
    """The longest prefix of `prefixes` that `slot_name` starts with (a slot of a variable whose path extends
    another's has both prefixes), or None."""
    return max((p for p in prefixes if slot_name.startswith(p)), key=len, default=None)


def _pair_variables(old: list[Any], new: list[Any]) -> list[tuple[Any, Any]]:
    """Pairs each variable of a re-created optimizer with the old one it replaces.

    Both lists are built in the same order, but name scopes can differ (a
    wrapped optimizer built inside its wrapper's scope), so pair by position
    when every variable name agrees, else by full path.
    """

    def name(variable: Any) -> str:
        return variable.path.rsplit("/", 1)[-1]

    if len(old) == len(new) and all(name(a) == name(b) for a, b in zip(old, new)):
        return [(b, a) for a, b in zip(old, new)]
    by_path = {variable.path: variable for variable in old}
    return [(variable, by_path[variable.path]) for variable in new if variable.path in by_path]


def _canonical_list(tokens: Any, argument: str) -> list[Any]:
    """Tokens in the canonical form vocabularies use (bytes or int), as `Vocabulary` would store them."""
    if isinstance(tokens, Vocabulary):
        return list(tokens.tokens)
    if hasattr(tokens, "numpy"):
        tokens = tokens.numpy()
    if isinstance(tokens, np.ndarray):
        tokens = tokens.tolist()
    check_token_sequence(tokens, argument)
    tokens = list(tokens)
    is_id = [isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in tokens]
    dtype = "int64" if tokens and all(is_id) else "string"
    return [canonical_token(t, dtype) for t in tokens]
