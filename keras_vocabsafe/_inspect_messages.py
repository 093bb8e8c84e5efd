"""Messages of the `inspect` findings shared by its .keras and SavedModel halves.

Both halves find the same problems of a lookup (a vocabulary's, or a `Hashing` / `HashedCrossing` layer's) and
the embedding its ids select rows of; they name the layers their own way (`who`, `target`: a layer's class and
name from a `.keras` config, the name scopes and variables of a SavedModel's graph) and say the rest with these
functions, so the wording stays in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "GATHER_PAST_ROWS",
    "bins_past_rows",
    "hash_bins_into_vocabulary_rows",
    "ids_outside_rows",
    "ids_refused_by_the_layer",
    "json_type",
    "mask_value_without_mask_zero",
    "mask_token_without_mask_zero",
    "mask_zero_on_a_hash_bin",
    "mask_zero_off_the_mask_token",
    "ranges_text",
    "rows_past_bins",
    "rows_past_several_lookups",
    "shift_moves_the_mask",
    "shifted_ids_leave_rows",
    "shifted_ids_past_rows",
]


# What ids past a Keras Embedding's rows do (TensorFlow checks gathers on CPU only).
GATHER_PAST_ROWS = (
    "On CPU the model fails with an out-of-range gather when such a token arrives; on GPU it silently returns zero "
    "vectors."
)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def json_type(value: Any) -> str:
    """What a value read from JSON (a config entry, a listed token) is, for a message: "a string", "null", "an
    integer beyond int64", ...; the type's name for a value JSON cannot hold."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer" if -(2**63) <= value < 2**63 else "an integer beyond int64"
    kinds = {float: "a float", str: "a string", list: "a list", dict: "an object", type(None): "null"}
    return next((kind for kind_type, kind in kinds.items() if isinstance(value, kind_type)), type(value).__name__)


def ranges_text(ranges: Sequence[tuple[int, int]]) -> str:
    """Ids as ranges: "0-3, 7" (the first four ranges, then "...")."""
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:4]]
    return ", ".join(parts) + (", ..." if len(ranges) > 4 else "")


def bins_past_rows(who: str, target: str, bins: int, rows: int, fix: str | None = None) -> str:
    """`ids-exceed-rows`: `who` hashes into more bins than `target` has rows; `fix` replaces the advice to resize
    (where the rows are those of saved weights that do not fit the config)."""
    return (
        f"{_sentence(who)} hashes its input into ids 0 to {bins - 1} (num_bins={bins}), but {target} has {rows} rows: "
        f"the {bins - rows:,} highest bin(s) select no row. On CPU the model fails with an out-of-range gather when "
        "an input hashes there; on GPU it silently returns zero vectors. "
        + (fix or f"Use `input_dim=num_bins` ({bins}) and retrain, or num_bins={rows}.")
    )


def rows_past_bins(who: str, target: str, bins: int, rows: int, fix: str | None = None) -> str:
    """`unreachable-rows`: `target` has more rows than `who`, its only lookup, has bins; `fix` as for
    `bins_past_rows`."""
    return (
        f"{_sentence(target)} has {rows} rows, but {who} hashes its input into ids 0 to {bins - 1} "
        f"(num_bins={bins}): {rows - bins:,} row(s) can never be selected"
        + (f". {fix}" if fix else f" and waste memory. Use `input_dim=num_bins` ({bins}).")
    )


def rows_past_several_lookups(target: str, rows: int, reached: Sequence[tuple[int, int]], unreachable: int) -> str:
    """`unreachable-rows`: `target` is fed by several lookups (hash bins or vocabularies), whose ids together
    (`reached`) leave rows unselected."""
    highest = max((b for _, b in reached), default=-1)
    return (
        f"{_sentence(target)} has {rows} rows, but the lookups that feed it give only ids {ranges_text(reached)}: "
        f"{unreachable:,} row(s) can never be selected and waste memory. Use `input_dim={highest + 1}`, the most "
        "ids any of them gives."
    )


def ids_outside_rows(low: int, high: int, rows: int) -> tuple[int, int]:
    """How many of the ids `low` to `high` an embedding of `rows` rows has no row for: those past its last row,
    and those below 0 (which Keras's Embedding wraps around to its last rows)."""
    return max(high - rows + 1, 0), max(-low, 0)


def _shifted(size: int, shift: int, between: Sequence[str]) -> str:
    """How a lookup's ids were shifted: "gives ids 0 to 5, shifted by +1 on the way (through shift) to 1 to 6"."""
    through = f" (through {', '.join(between)})" if between else ""
    return f"gives ids 0 to {size - 1}, shifted by {shift:+d} on the way{through} to {shift} to {size - 1 + shift}"


def shifted_ids_past_rows(
    who: str,
    target: str,
    size: int,
    shift: int,
    rows: int,
    *,
    between: Sequence[str] = (),
    wrapped: bool = True,
    hashing: bool = False,
    fix: str | None = None,
) -> str:
    """`ids-exceed-rows`: `who` gives ids 0 to `size - 1`, which reach `target` shifted by `shift` (a constant
    added on the way, through the layers `between`), past either end of its `rows`. `wrapped`: the embedding
    wraps negative ids around (a Keras Embedding on TensorFlow) rather than failing on them; `hashing`: `who`
    hashes into `size` bins (a `Hashing` or `HashedCrossing` layer), which the advice is about, rather than
    looking up a vocabulary; `fix` replaces the advice to resize (where the rows are those of saved weights that
    do not fit the config)."""
    high = size - 1 + shift
    past, below = ids_outside_rows(shift, high, rows)
    problems, fixes = [], []
    if past:
        arrives = "an input hashes there" if hashing else "such a token arrives"
        problems.append(
            f"the {past:,} highest id(s) select no row (on CPU the model fails with an out-of-range gather when "
            f"{arrives}; on GPU it silently returns zero vectors)"
        )
        if fix is None:
            fixes.append(f"use `input_dim={high + 1}`" + (f" (num_bins + {shift})" if hashing else ""))
    if below:
        problems.append(
            f"the {below:,} lowest id(s) are negative, which Keras's Embedding wraps around on TensorFlow (id -1 "
            "selects the last row), so they select rows of other ids"
            if wrapped
            else f"the {below:,} lowest id(s) are negative, which select no row"
        )
        fixes.append("shift no id below 0")
    advice = [fix] if past and fix is not None else []
    if fixes:
        unshifted = (
            f"drop the shift, with `input_dim=num_bins` ({size})"
            if hashing
            else "use VocabEmbedding without the shift, which sizes the matrix from the vocabulary"
        )
        advice.append(f"{' and '.join(fixes).capitalize()}, and retrain; or {unshifted}.")
    return (
        f"{_sentence(who)} {_shifted(size, shift, between)}, but {target} has {rows} rows: "
        f"{'; and '.join(problems)}. {' '.join(advice)}"
    )


def shifted_ids_leave_rows(
    who: str,
    target: str,
    size: int,
    shift: int,
    rows: int,
    *,
    between: Sequence[str] = (),
    hashing: bool = False,
    fix: str | None = None,
) -> str:
    """`unreachable-rows`: `target` has more `rows` than the ids of `who`, its only lookup, need, shifted by
    `shift` on the way (through the layers `between`); `hashing` and `fix` as for `shifted_ids_past_rows`."""
    low, high = shift, size - 1 + shift
    return (
        f"{_sentence(target)} has {rows} rows, but {who} {_shifted(size, shift, between)}: {rows - size:,} row(s)"
        + (f" (row{'s 0 to' if low > 1 else ''} {low - 1} among them)" if low > 0 else "")
        + " can never be selected"
        + (
            f". {fix}"
            if fix is not None
            else " and waste memory. Use "
            + (f"`input_dim={high + 1}`, or " if rows > high + 1 else "")
            + (
                f"no shift and `input_dim=num_bins` ({size})."
                if hashing
                else (f"no shift and `input_dim={size}`, or " if low > 0 else "") + "VocabEmbedding without the shift."
            )
        )
    )


def shift_moves_the_mask(who: str, target: str, shift: int, between: Sequence[str] = ()) -> str:
    """`path-not-checked`: the ids of `who` reach `target` shifted by `shift` (through the layers `between`), so
    the mask checks, which look for the mask at id 0, do not apply."""
    through = f" (through {', '.join(between)})" if between else ""
    return (
        f"The ids of {who} reach {target} shifted by {shift:+d} on the way{through}, which moves the mask id off 0, "
        "so whether padding is masked was not checked."
    )


def mask_zero_on_a_hash_bin(who: str, target: str, bins: int | None, layer_class: str, how: str = "") -> str:
    """`mask-zero-without-mask-token`: `target` masks id 0, which `who` (a `layer_class`: "Hashing" or
    "HashedCrossing") uses as a hash bin. `how`: how the mask was seen, after "mask_zero=True"."""
    if layer_class == "HashedCrossing":
        state, cure = "has no mask value (HashedCrossing takes none)", ""
    elif bins == 1:
        # With one bin, Keras's Hashing ignores its mask_value: every input goes to bin 0.
        state = "has a single bin, where Keras ignores a mask_value"
        cure = (
            "Give the Hashing layer num_bins of 2 or more and a `mask_value`, so that id 0 is the mask (retrain), or "
        )
    else:
        state = "has no mask_value"
        cure = (
            "Give the Hashing layer a `mask_value` (the padding value), which makes id 0 padding and hashes the rest "
            "into 1 to num_bins - 1 (retrain), or "
        )
    share = "" if bins is None else " (all of them)" if bins == 1 else f" (about 1 in {bins:,})"
    return (
        f"{_sentence(target)} has mask_zero=True{how}, but {who} {state}, so id 0 is a hash bin: the inputs that hash "
        f"to it{share} are masked out as if they were padding. {_sentence(cure + 'set mask_zero=False.')}"
    )


def mask_zero_off_the_mask_token(who: str, target: str, mask_id: int | None, zero_is_oov: bool, how: str = "") -> str:
    """`mask-zero-without-mask-token`: `target` masks id 0, which `who`, a vocabulary lookup, gives to its OOV
    token (`zero_is_oov`) or its first token: it has no mask token (`mask_id` None), or gives it `mask_id` (a
    vocabulary that lists its special tokens puts it where they are listed). `how`: how the mask was seen, after
    "mask_zero=True"."""
    zero = "its OOV id" if zero_is_oov else "the id of its first token"
    lost = (
        "every out-of-vocabulary token is masked out as if it were padding"
        if zero_is_oov
        else "that token is masked out wherever it occurs, as if it were padding"
    )
    if mask_id is None:
        return (
            f"{_sentence(target)} has mask_zero=True{how}, but {who} has no mask token, so id 0 is {zero}: {lost}. "
            "Give the lookup a mask token (`mask_token=''`, which makes id 0 padding and shifts the other ids by one; "
            "retrain), or set mask_zero=False."
        )
    return (
        f"{_sentence(target)} has mask_zero=True{how}, but {who} maps its mask token to id {mask_id}, not 0, so id 0 "
        f"is {zero}: {lost}, while the padding (id {mask_id}) is embedded and seen by the layers after it as if it "
        "were a token. List the mask token first in the vocabulary, so that it is id 0 (retrain), or use "
        "VocabEmbedding, which masks its mask token at any id."
    )


def mask_value_without_mask_zero(who: str, target: str) -> str:
    """`mask-token-without-mask-zero`: `who` gives its mask_value id 0, which `target` does not mask."""
    return (
        f"{_sentence(who)} maps its mask_value to id 0, but {target} has mask_zero=False: padding is embedded and "
        "seen by the layers after it (pooling, RNNs, attention) as if it were a token. Set mask_zero=True on the "
        "embedding."
    )


def ids_refused_by_the_layer(ids: int, eager: bool = False) -> str:
    """How ids past the `ids` of a VocabIdEmbedding fail (its own id check, not a gather), and the fix: the end of
    an `ids-exceed-rows` message on one. `eager`: the model may also run eagerly (a Keras model, not a graph)."""
    raised = (
        "an InvalidArgumentError in a graph (`predict`, `fit`, serving), an UnknownIdError when called eagerly"
        if eager
        else "an InvalidArgumentError"
    )
    return (
        f"The layer refuses ids outside 0 to {ids - 1}: the model fails with an assertion ({raised}) when such a "
        "token arrives, on any device. Build the lookup from the embedding with `embedding.lookup()`."
    )


def mask_token_without_mask_zero(who: str, target: str, mask_id: int | None, how: str = "") -> str:
    """`mask-token-without-mask-zero`: `who`, a vocabulary lookup, gives its mask token `mask_id` (0 in Keras's
    layout; another id where the vocabulary lists its special tokens; None where unknown), which `target` does not
    mask. `how`: how that was seen, after "mask_zero=False"."""
    at = "an id" if mask_id is None else f"id {mask_id}"
    if mask_id == 0:
        cure = "Set mask_zero=True on the embedding (or use VocabEmbedding, which masks its mask token)."
    else:
        # mask_zero=True masks id 0, which is a token's (or the OOV id) here, not the mask token's.
        cure = (
            "mask_zero=True would mask id 0, which is not the mask token's here: list the mask token first in the "
            "vocabulary, so that it is id 0, and set mask_zero=True (retrain), or use VocabEmbedding, which masks "
            "its mask token at any id."
        )
    return (
        f"{_sentence(who)} maps its mask token to {at}, but {target} has mask_zero=False{how}: padding is embedded "
        f"and seen by the layers after it (pooling, RNNs, attention) as if it were a token. {cure}"
    )


def hash_bins_into_vocabulary_rows(who: str, target: str, bins: int | None, ids: int | None) -> str:
    """`hash-bins-into-vocabulary-embedding`: `who` hashes into `bins` ids that select rows of `target`, a
    vocabulary's embedding half (a `VocabIdEmbedding`) whose `ids` rows belong to tokens."""
    hashed = "its input" if bins is None else f"its input into ids 0 to {bins - 1} (num_bins={bins})"
    held = "its vocabulary" if ids is None else f"the {ids:,} ids of its vocabulary"
    failing = (
        f" Inputs that hash to ids {ids} to {bins - 1} also fail its id check (an InvalidArgumentError), on any device."
        if bins is not None and ids is not None and bins > ids
        else ""
    )
    sized = "" if bins is None else f" ({bins})"
    return (
        f"{_sentence(who)} hashes {hashed} for {target}, whose rows belong to {held}: each bin selects the row of "
        "whichever token has its id, trained for that token, so unrelated inputs share tokens' vectors."
        f"{failing} Feed it the ids of its vocabulary's lookup half (`embedding.lookup()`), or embed hashed ids "
        f"with a plain keras.layers.Embedding with `input_dim=num_bins`{sized}."
    )
