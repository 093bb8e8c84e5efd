"""Vocabularies computed with Apache Beam that equal `adapt`'s, id for id.

`ComputeVocabulary(layer)` counts the tokens of a `PCollection` on any Beam
runner (the local DirectRunner, Dataflow, Flink, Spark) and keeps the
vocabulary `layer.adapt()` would keep from the same data: the same
tokenization (for text layers, the layer's own TensorFlow ops, run on each
worker), the same special and reserved tokens, `max_tokens`, `min_frequency`,
and the same order (count descending, then token bytes ascending). The last
step calls the layer's own rule (`_vocabulary_from_counts`, or the WordPiece
learner for `split="wordpiece"`), so the rule cannot drift from `adapt`'s.
`WriteVocabulary(path)` writes it in the package's JSON form, which keeps any
bytes and the counts and which every layer reads (`vocabulary=path`).

<!-- not run: reads and writes gs://bucket; README's Beam example runs in tests/test_docs.py on local files -->
```python
import apache_beam as beam
from keras_vocabsafe.beam import ComputeVocabulary, WriteVocabulary

layer = TextVocabEmbedding(64, max_tokens=20_000, standardize="lower")
with beam.Pipeline(options=options) as pipeline:
    (
        pipeline
        | beam.io.ReadFromText("gs://bucket/corpus-*.txt")
        | ComputeVocabulary(layer)
        | WriteVocabulary("gs://bucket/vocabulary.json")
    )
layer = TextVocabEmbedding(64, vocabulary="vocabulary.json", standardize="lower", max_tokens=20_000)
```

How it runs, and what it holds in memory:

1. Each worker builds the layer's lookup half once (`setup`), buffers
   elements into batches, tokenizes and counts each batch with TensorFlow
   (`tf.unique_with_counts`) and merges the counts of a bundle before
   emitting `(token, count)` pairs: a worker holds at most one batch and the
   distinct tokens of its bundle (flushed beyond `_FLUSH_TOKENS`).
2. `CombinePerKey(sum)` adds the counts of each token across workers
   (distributed by token).
3. Tokens below `min_frequency`, and the special and reserved tokens (which
   have ids of their own), are dropped before the global step; the reserved
   tokens' counts reach it on their own, for the vocabulary's counts.
4. With `max_tokens`, `Top.Smallest(k)` keeps the `k` tokens that come first
   in the final order (its key is exactly that order, ties included), so the
   single worker of the last step holds at most `k` tokens; without
   `max_tokens` it holds every token that passed step 3. With
   `split="wordpiece"` it holds every distinct word, which the WordPiece
   learner needs (it learns characters and subwords from all of them).

Example weights (`weights=True`: elements are `(text_or_keys, weight)` pairs,
and a token's count is the sum of the weights of the examples it occurs in)
must be whole numbers: sums of integers are exact in any order, and the order
of additions differs from one runner, bundle split and run to the next, so
float sums could order two tokens differently on two runs. `integer_weights`
holds that rule (and imports no Beam, so `adapt(weights=...)` can share it):
non-negative whole numbers (`2` or `2.0`) up to 2**53 are accepted; scale
fractional weights to integers first (`round(weight * 1000)`). A token whose
weights sum to 0 is left out, as if it had never been seen.

Errors raised inside a pipeline reach the caller with their type on the
single-worker DirectRunner (`direct_running_mode="in_memory"`); with several
workers, Beam re-raises them as a `RuntimeError` whose message holds ours
(error type and text).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from keras_vocabsafe._counting import NoTokensFixes, integer_weights, without_unseen
from keras_vocabsafe._files import UTF8_MARK, missing_directory
from keras_vocabsafe._tokens import canonical_token
from keras_vocabsafe.errors import ConfigurationError, KeyDtypeError, TextInputError, VocabSafeError, VocabularyError
from keras_vocabsafe.vocabulary import Token, Vocabulary

try:
    import apache_beam as beam
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    beam = None

__all__ = ["ComputeVocabulary", "WriteVocabulary", "integer_weights"]

_BEAM_INSTALL = 'pip install "keras-vocabsafe[beam]"'
# The largest weight a float holds exactly as a whole number.
# Elements tokenized and counted together by one TensorFlow call.
_TEXT_BATCH = 2048
_KEYS_BATCH = 1 << 16
# Distinct tokens a worker merges in memory before it emits them (per bundle).
_FLUSH_TOKENS = 1 << 20
_SCHEME = re.compile(r"([a-zA-Z][-a-zA-Z0-9+.]*)://")
_TEXT_CLASSES = ("TextVocabEmbedding", "TextVocabLookup")
_KEY_CLASSES = ("VocabEmbedding", "VocabLookup", "VocabIdEmbedding")
# Config entries of our layers that do not decide the vocabulary (embedding settings, the current vocabulary).
_IGNORED_CONFIG = frozenset(
    {
        "name",
        "trainable",
        "dtype",
        "vocabulary",
        "vocabulary_encoding",
        "vocabulary_size",
        "output_dim",
        "embeddings_initializer",
        "embeddings_regularizer",
        "embeddings_constraint",
        "pad_to_multiple_of",
        "trainable_rows",
        "return_ids",
        "output_sequence_length",
    }
)
_VOCABULARY_SETTINGS = ("vocabulary_dtype", "max_tokens", "min_frequency", "num_oov_indices", "mask_token", "oov_token")
# Offered in place of `adapt`'s fixes, which name the lookup layer built on the workers (its `vocabulary=` too).
_BEAM_FIXES = NoTokensFixes(
    no_tokens="Check the input and the layer's settings.",
    too_rare="Lower `min_frequency`, or count more data.",
)


# The weights rule: no Beam here, so adapt(weights=...) can use it ----------------------------------------------------


# What the transform knows of the layer: settings only, so that it pickles small -------------------------------------


@dataclass(frozen=True)
class _LayerSpec:
    """The vocabulary and tokenization settings of a layer: builds its lookup half on any worker."""

    kind: str  # "text" or "keys"
    config: dict[str, Any]  # JSON-safe: TextVocabLookup / VocabLookup config without a vocabulary
    source: str  # names the layer in messages

    def build(self) -> Any:
        from keras_vocabsafe.lookup import VocabLookup
        from keras_vocabsafe.text import TextVocabLookup

        cls = TextVocabLookup if self.kind == "text" else VocabLookup
        return cls.from_config(dict(self.config))


def _layer_spec(layer_or_config: Any) -> _LayerSpec:
    """The `_LayerSpec` of a layer, a `layer.get_config()`, a serialized layer, or lookup constructor arguments."""
    from keras_vocabsafe._vocabulary_layer import VocabularyLayer
    from keras_vocabsafe.text import _TEXT_SETTINGS, _TextFrontEnd

    # The text layers' own list of their settings (imported here: text.py imports TensorFlow), less the ones that
    # only shape the output.
    text_settings = set(_TEXT_SETTINGS) - _IGNORED_CONFIG
    if isinstance(layer_or_config, VocabularyLayer):
        kind = "text" if isinstance(layer_or_config, _TextFrontEnd) else "keys"
        config, source = layer_or_config.get_config(), f"{type(layer_or_config).__name__} '{layer_or_config.name}'"
    elif isinstance(layer_or_config, Mapping):
        config = dict(layer_or_config)
        if "class_name" in config and isinstance(config.get("config"), Mapping):
            class_name = str(config["class_name"]).rsplit(">", 1)[-1]
            if class_name not in _TEXT_CLASSES + _KEY_CLASSES:
                raise ConfigurationError(
                    f"ComputeVocabulary takes a keras_vocabsafe layer or its config; the serialized layer given is a "
                    f"{class_name!r}. Pass one of {list(_TEXT_CLASSES + _KEY_CLASSES)}."
                )
            kind, config, source = "text" if class_name in _TEXT_CLASSES else "keys", dict(config["config"]), class_name
        else:
            kind = "text" if any(name in config for name in text_settings) else "keys"
            source = "TextVocabLookup" if kind == "text" else "VocabLookup"
    else:
        raise ConfigurationError(
            "ComputeVocabulary takes a keras_vocabsafe layer (TextVocabEmbedding, TextVocabLookup, VocabEmbedding, "
            "VocabLookup, VocabIdEmbedding), its `get_config()`, or a dict of TextVocabLookup / VocabLookup "
            f"arguments. Received: {type(layer_or_config).__name__}."
        )
    known = set(_VOCABULARY_SETTINGS) | (text_settings if kind == "text" else set())
    unknown = sorted(set(config) - known - _IGNORED_CONFIG)
    if unknown:
        raise ConfigurationError(
            f"ComputeVocabulary got settings it does not know for a {'text' if kind == 'text' else 'key'} layer: "
            f"{unknown}. The settings that decide a vocabulary are {sorted(known)}."
        )
    settings = {name: config[name] for name in known if name in config}
    from keras_vocabsafe.lookup import VocabLookup
    from keras_vocabsafe.text import TextVocabLookup

    # Building the lookup half validates every setting now, in the launching process, with the layer's own errors.
    lookup = (TextVocabLookup if kind == "text" else VocabLookup).from_config(settings)
    lookup_config = {name: value for name, value in lookup.get_config().items() if name in known}
    spec = _LayerSpec(kind, lookup_config, source)
    spec.build()  # The JSON-safe config rebuilds too (registered callables included).
    return spec


def _order_key(pair: tuple[Token, int]) -> tuple[int, Token]:
    """The final order, as a key for the smallest first: count descending, then token ascending (bytes or int)."""
    return -pair[1], pair[0]


@contextlib.contextmanager
def _named_for_the_caller(layer: Any, source: str) -> Iterator[None]:
    """Errors of the lookup layer built from the settings, naming what the caller passed instead.

    That layer (`TextVocabLookup 'text_vocab_lookup_3'`) is our own, made on each worker: its name and its
    `adapt()` mean nothing to whoever wrote `ComputeVocabulary(layer)`.
    """
    try:
        yield
    except VocabSafeError as error:
        owner = layer._owner()
        message = str(error)
        if owner not in message:
            raise
        caller = f"ComputeVocabulary for {source}"
        for inner in (f"{owner}.adapt()", f"{owner}.adapt", owner):
            message = message.replace(inner, caller)
        raise type(error)(message) from None


def _finish(
    pairs: list[tuple[Token, int]],
    spec: _LayerSpec,
    weighted: bool,
    reserved: list[tuple[Token, int]] | None = None,
) -> Vocabulary:
    """The vocabulary of the summed counts, by the layer's own rule (the one `adapt` calls).

    `reserved`: the counts of the reserved tokens, kept out of the cut (they have ids whatever their counts): the rule
    gives them the counts `adapt` gives them.
    """
    layer = spec.build()
    pairs = list(pairs) + list(reserved or ())
    dtype = np.int64
    tokens = [token for token, _ in pairs]
    counts = np.fromiter((count for _, count in pairs), dtype=dtype, count=len(pairs))
    if weighted:
        tokens, counts = without_unseen(tokens, counts)
    if not tokens and layer.min_frequency:  # Step 3 dropped the rare tokens: they may have been all there was.
        raise VocabularyError(
            f"ComputeVocabulary for {spec.source} found no tokens to keep: the data was empty, held only the special "
            f"tokens, or no token reached min_frequency={layer.min_frequency} (rarer ones are dropped before the last "
            "step). Check the input, or lower `min_frequency`."
        )
    with _named_for_the_caller(layer, spec.source):
        if spec.kind == "text" and layer.split == "wordpiece":
            return layer._learn_wordpiece(tokens, counts, layer.max_tokens)
        return layer._vocabulary_from_counts(tokens, counts, layer.max_tokens, fixes=_BEAM_FIXES)


def _reserved_tokens(layer: Any) -> frozenset[Token]:
    return frozenset(canonical_token(token, "string") for token in getattr(layer, "reserved_tokens", ()))


def _excluded_tokens(layer: Any) -> frozenset[Token]:
    """Tokens with ids of their own (mask, OOV, reserved), which the rule leaves out of the counted ones."""
    tokens = {
        canonical_token(token, layer.vocabulary_dtype)
        for token in (layer.mask_token, layer.oov_token)
        if token is not None
    }
    tokens.update(canonical_token(token, "string") for token in getattr(layer, "reserved_tokens", ()))
    return frozenset(tokens)


def _counted_slots(layer: Any) -> int | None:
    """How many counted tokens the rule can keep (`max_tokens` less special and reserved slots), or None."""
    if layer.max_tokens is None:
        return None
    slots = layer.max_tokens - layer._num_special_tokens() - len(getattr(layer, "reserved_tokens", ()))
    if slots < 0:
        layer._vocabulary_from_counts([], np.zeros(0, np.int64), layer.max_tokens)  # Raises the layer's own error.
    return slots


def _element_repr(element: Any) -> str:
    text = repr(element)
    return text if len(text) <= 80 else text[:77] + "..."


def _without_mark(token: bytes, source: str, element: Any) -> bytes:
    """Refuses a string that starts with a UTF-8 byte order mark: the first line of a file saved with one, as
    `beam.io.ReadFromText` reads it. `vocabulary_from_files` and `vocabsafe vocab build` drop the mark, so counting
    it would give a silently different vocabulary from the same files."""
    if token.startswith(UTF8_MARK):
        raise TextInputError(
            f"ComputeVocabulary for {source} received {_element_repr(element)}, which starts with a UTF-8 byte order "
            "mark (U+FEFF): the first line of a file saved with one (by Notepad, say), which `beam.io.ReadFromText` "
            "keeps. `vocabulary_from_files` and `vocabsafe vocab build` drop it; counted here, it would make a token "
            "of its own ('\\ufeffword') and a vocabulary different from theirs. Drop it before ComputeVocabulary: "
            "`| beam.Map(lambda line: line.removeprefix('\\ufeff'))` (for bytes, `.removeprefix(b'\\xef\\xbb\\xbf')`)."
        )
    return token


def _text_of(element: Any, source: str, weighted: bool) -> bytes:
    if isinstance(element, (bytes, str, np.bytes_, np.str_)):
        return _without_mark(cast(bytes, canonical_token(element, "string", what="text")), source, element)
    hint = (
        " If the elements are (text, weight) pairs, pass `weights=True`."
        if isinstance(element, tuple) and not weighted
        else " Map them to one string each first, e.g. `| beam.Map(str)` or `| beam.Map(lambda row: row['text'])`."
    )
    raise TextInputError(
        f"ComputeVocabulary for {source} takes one raw string (str or bytes) per element"
        f"{' as the first item of each (text, weight) pair' if weighted else ''}. Received: {_element_repr(element)} "
        f"of type {type(element).__name__}.{hint}"
    )


def _keys_of(element: Any, dtype: str, source: str) -> list[Token]:
    if isinstance(element, np.ndarray):
        if element.ndim > 1:
            raise KeyDtypeError(
                f"ComputeVocabulary for {source} takes one key or a 1-D sequence of keys per element. Received: an "
                f"array of shape {element.shape}. Flatten it first (`| beam.Map(lambda a: a.reshape(-1))`)."
            )
        element = element.tolist()
    if isinstance(element, (list, tuple)):
        return [_key(key, dtype, source, element) for key in element]
    return [_key(element, dtype, source, element)]


def _key(key: Any, dtype: str, source: str, element: Any) -> Token:
    try:
        token = canonical_token(key, dtype, what="key")
    except KeyDtypeError as error:
        raise KeyDtypeError(
            f"ComputeVocabulary for {source} (vocabulary_dtype={dtype!r}) cannot count the element "
            f"{_element_repr(element)}: {error}"
        ) from None
    return _without_mark(token, source, element) if isinstance(token, bytes) else token


def _weight_of(element: Any, source: str) -> tuple[Any, int]:
    if not (isinstance(element, (tuple, list)) and len(element) == 2):
        raise ConfigurationError(
            f"ComputeVocabulary(weights=True) for {source} takes (text_or_keys, weight) pairs. Received: "
            f"{_element_repr(element)} of type {type(element).__name__}. Pair each element with its weight, e.g. "
            "`| beam.Map(lambda row: (row['text'], row['weight']))`, or pass weights=False."
        )
    return element[0], int(integer_weights(element[1], owner=f"ComputeVocabulary for {source}"))


if beam is not None:
    from apache_beam.transforms import window

    class _CountTokens(beam.DoFn):
        """Tokenizes and counts batches of elements with TensorFlow; emits each bundle's `(token, count)` pairs."""

        def __init__(self, spec: _LayerSpec, weighted: bool) -> None:
            self._spec = spec
            self._weighted = weighted

        def setup(self) -> None:
            import tensorflow as tf

            from keras_vocabsafe import text

            self._tf = tf
            self._layer = self._spec.build()
            self._is_text = self._spec.kind == "text"
            self._batch_size = _TEXT_BATCH if self._is_text else _KEYS_BATCH
            self._dtype = tf.string if self._layer.vocabulary_dtype == "string" else tf.int64
            self._graph_errors_as_typed = text._graph_errors_as_typed
            if self._is_text:
                tokenizer = self._layer._tokenizer
                # adapt's own traced counting function: the same ops, the same tokens.
                self._count_text = text._count_function(tokenizer)

                def count_weighted(texts: Any, weights: Any) -> tuple[Any, Any]:
                    tokens = tokenizer.tokens(texts)
                    return _weighted_unique(tf, tokens.flat_values, tf.repeat(weights, tokens.row_lengths()))

                self._count_weighted_text = tf.function(
                    count_weighted, input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int64)]
                )

        def start_bundle(self) -> None:
            self._items: list[Any] = []
            self._weights: list[int] = []
            self._buffered = 0
            self._pending: list[tuple[Any, Any]] = []
            self._pending_size = 0

        def process(self, element: Any) -> Iterator[tuple[Token, int]]:
            weight = 1
            if self._weighted:
                element, weight = _weight_of(element, self._spec.source)
            if self._is_text:
                self._items.append(_text_of(element, self._spec.source, self._weighted))
                self._weights.append(weight)
                self._buffered += 1
            else:
                keys = _keys_of(element, self._layer.vocabulary_dtype, self._spec.source)
                self._items.extend(keys)
                if self._weighted:
                    self._weights.extend([weight] * len(keys))
                self._buffered += len(keys)
            if self._buffered >= self._batch_size:
                self._count_buffer()
                if self._pending_size > _FLUSH_TOKENS:
                    yield from self._flush()

        def finish_bundle(self) -> Iterator[Any]:
            self._count_buffer()
            for pair in self._flush():
                yield window.GlobalWindows.windowed_value(pair)

        def _count_buffer(self) -> None:
            if not self._items:
                return
            tf = self._tf
            items = tf.constant(self._items, dtype=self._dtype)
            with _named_for_the_caller(self._layer, self._spec.source), self._graph_errors_as_typed():
                if self._is_text and self._weighted:
                    unique, counts = self._count_weighted_text(items, tf.constant(self._weights, tf.int64))
                elif self._is_text:
                    unique, counts = self._count_text(items)
                elif self._weighted:
                    unique, counts = _weighted_unique(tf, items, tf.constant(self._weights, tf.int64))
                else:
                    unique, _, counts = tf.unique_with_counts(items, out_idx=tf.int64)
            self._pending.append((unique, counts))
            self._pending_size += int(unique.shape[0])
            self._items, self._weights, self._buffered = [], [], 0

        def _flush(self) -> Iterator[tuple[Token, int]]:
            if not self._pending:
                return
            tf = self._tf
            tokens = tf.concat([t for t, _ in self._pending], 0)
            counts = tf.concat([c for _, c in self._pending], 0)
            self._pending, self._pending_size = [], 0
            unique, counts = _weighted_unique(tf, tokens, counts)
            yield from zip(unique.numpy().tolist(), counts.numpy().tolist())

    def _weighted_unique(tf: Any, tokens: Any, weights: Any) -> tuple[Any, Any]:
        unique, index = tf.unique(tokens, out_idx=tf.int64)
        return unique, tf.math.unsorted_segment_sum(weights, index, tf.size(unique, out_type=tf.int64))

    def _is_reserved(pair: tuple[Token, int], reserved: frozenset[Token]) -> bool:
        return pair[0] in reserved

    def _keep_counted(pair: tuple[Token, int], excluded: frozenset[Token], threshold: int) -> bool:
        return pair[1] >= threshold and pair[0] not in excluded

    class ComputeVocabulary(beam.PTransform):
        """Computes the vocabulary `layer.adapt()` would keep, from a `PCollection`, on any Beam runner.

        For a text layer (`TextVocabEmbedding`, `TextVocabLookup`) each
        element is one raw string (`str` or `bytes`), tokenized on the
        workers by the layer's own TensorFlow ops. For a key layer
        (`VocabEmbedding`, `VocabLookup`, `VocabIdEmbedding`) each element is
        one key or a 1-D sequence of keys (`str`/`bytes` or `int`, as the
        layer's `vocabulary_dtype`). The output is a `PCollection` holding one
        `Vocabulary` with its counts (equal to `layer.vocabulary` after
        `layer.adapt(data)`, token for token and count for count), computed
        over the global window.

        Args:
            layer_or_config: the layer (only its settings are used and pickled;
                a vocabulary it has is ignored), its `get_config()`,
                `keras.saving.serialize_keras_object(layer)`, or a dict of
                `TextVocabLookup` arguments (any text setting such as `split`
                makes it a text layer) or `VocabLookup` arguments.
            weights: if `True`, elements are `(text_or_keys, weight)` pairs and
                a token's count is the sum of the weights of the elements it
                occurs in. Weights must be non-negative whole numbers (see
                `integer_weights`); tokens whose weights sum to 0 are left out.
            label: optional label of the transform.

        Raises:
            ConfigurationError: at construction, for settings a layer refuses,
                unknown settings, or a layer that is not ours.
        """

        def __init__(self, layer_or_config: Any, *, weights: bool = False, label: str | None = None) -> None:
            super().__init__(label)
            if not isinstance(weights, bool):
                raise ConfigurationError(f"`weights` must be True or False. Received: weights={weights!r}")
            self._spec = _layer_spec(layer_or_config)
            self._weighted = weights
            layer = self._spec.build()
            self._wordpiece = self._spec.kind == "text" and layer.split == "wordpiece"
            if self._wordpiece and layer.max_tokens is None:
                raise ConfigurationError(
                    f"ComputeVocabulary for {self._spec.source} learns a WordPiece vocabulary, whose size must be "
                    "chosen: build the layer with `max_tokens` (e.g. max_tokens=8000)."
                )
            self._excluded = _excluded_tokens(layer)
            self._reserved = _reserved_tokens(layer)
            self._threshold = layer.min_frequency or 1
            with _named_for_the_caller(layer, self._spec.source):
                self._slots = None if self._wordpiece else _counted_slots(layer)

        def expand(self, pcoll: Any) -> Any:
            counts = (
                pcoll
                | "GlobalWindow" >> beam.WindowInto(window.GlobalWindows())
                | "CountBatches" >> beam.ParDo(_CountTokens(self._spec, self._weighted))
                | "SumCounts" >> beam.CombinePerKey(sum)
            )
            if self._wordpiece:
                # The WordPiece learner reads every word (rare ones give it characters): no cut before it.
                gathered = counts | "GatherWords" >> beam.combiners.ToList()
            else:
                kept = counts | "DropRareAndSpecial" >> beam.Filter(_keep_counted, self._excluded, self._threshold)
                if self._slots is None:
                    gathered = kept | "GatherTokens" >> beam.combiners.ToList()
                else:
                    gathered = kept | "MostFrequent" >> beam.combiners.Top.Smallest(self._slots, key=_order_key)
            if self._wordpiece or not self._reserved:
                return gathered | "ToVocabulary" >> beam.Map(_finish, self._spec, self._weighted)
            # The reserved tokens' counts, which the cut leaves out (they have ids whatever their counts), for the
            # rule to report them as adapt does: it gave them 0.
            reserved = (
                counts
                | "ReservedCounts" >> beam.Filter(_is_reserved, self._reserved)
                | "GatherReserved" >> beam.combiners.ToList()
            )
            return gathered | "ToVocabulary" >> beam.Map(
                _finish, self._spec, self._weighted, beam.pvalue.AsSingleton(reserved)
            )

    class WriteVocabulary(beam.PTransform):
        """Writes the one `Vocabulary` of a `PCollection` to `path` in the package's JSON form.

        The file holds any token (newlines, bytes that are not UTF-8) and the
        counts, and every layer reads it (`vocabulary=path`). A local path is
        written by `Vocabulary.save` (a temporary file, then a rename: whole or
        untouched); other file systems Beam knows (`gs://`, `s3://`, `hdfs://`)
        through `FileSystems`, to a temporary name and then renamed. An
        existing file is replaced. Outputs a `PCollection` of the path written.

        On a distributed runner, pass a path on a shared file system: a local
        path would be written on a worker's disk (refused on Dataflow).

        Args:
            path: the file to write.
            label: optional label of the transform.
        """

        def __init__(self, path: str | os.PathLike[str], *, label: str | None = None) -> None:
            super().__init__(label)
            if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
                raise ConfigurationError(
                    f"`path` must be a file path (str or os.PathLike). Received: path={path!r} of type "
                    f"{type(path).__name__}."
                )
            self._path = os.fspath(path)
            if _is_local(self._path):
                _check_local_path(self._path)

        def expand(self, pcoll: Any) -> Any:
            if _is_local(self._path):
                from apache_beam.options.pipeline_options import StandardOptions

                runner = pcoll.pipeline.options.view_as(StandardOptions).runner
                name = runner if isinstance(runner, str) or runner is None else type(runner).__name__
                # Dataflow workers never share the launching machine's disk; a local Flink or Spark cluster may.
                if name in ("DataflowRunner", "TestDataflowRunner"):
                    raise ConfigurationError(
                        f"WriteVocabulary would write {self._path!r} on a worker's local disk of the {name}. Pass a "
                        "path on a file system the workers share, e.g. 'gs://bucket/vocabulary.json'."
                    )
            return pcoll | "Gather" >> beam.combiners.ToList() | "Write" >> beam.Map(_write_vocabulary, self._path)

else:  # pragma: no cover - exercised where the extra is not installed

    class ComputeVocabulary:  # type: ignore[no-redef]
        """Needs Apache Beam: `pip install "keras-vocabsafe[beam]"`."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(f"keras_vocabsafe.beam needs Apache Beam. Install it with `{_BEAM_INSTALL}`.")

    class WriteVocabulary(ComputeVocabulary):  # type: ignore[no-redef]
        """Needs Apache Beam: `pip install "keras-vocabsafe[beam]"`."""


def _is_local(path: str) -> bool:
    """True for a path without a scheme, or `file://` (Beam's `FileSystems` reads `scheme://...` as another system)."""
    scheme = _SCHEME.match(path)
    return scheme is None or scheme[1].lower() == "file"


def _check_local_path(path: str) -> None:
    path = path[len("file://") :] if path.startswith("file://") else path
    if os.path.isdir(path):
        raise VocabularyError(
            f"Cannot write the vocabulary to {path!r}: it is a directory. Pass a file path, e.g. "
            f"{os.path.join(path, 'vocabulary.json')!r}."
        )
    missing = missing_directory(os.path.dirname(os.path.abspath(path)))
    if missing is not None:
        raise VocabularyError(f"Cannot write the vocabulary to {path!r}: {missing}.")


def _write_vocabulary(vocabularies: list[Any], path: str) -> str:
    if len(vocabularies) != 1 or not isinstance(vocabularies[0], Vocabulary):
        kinds = sorted({type(v).__name__ for v in vocabularies})
        raise VocabularyError(
            f"WriteVocabulary writes one Vocabulary; its input held {len(vocabularies)} elements"
            f"{f' of type {kinds}' if kinds else ''}. Apply it to the output of ComputeVocabulary."
        )
    vocabulary = vocabularies[0]
    if _is_local(path):
        vocabulary.save(path[len("file://") :] if path.startswith("file://") else path)
        return path
    from apache_beam.io.filesystems import FileSystems

    # Vocabulary.save makes the bytes (one JSON form everywhere); they are then copied to the remote file system.
    with tempfile.TemporaryDirectory() as directory:
        local = os.path.join(directory, "vocabulary.json")
        vocabulary.save(local)
        with open(local, "rb") as f:
            data = f.read()
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with FileSystems.create(temporary) as f:
            f.write(data)
        FileSystems.rename([temporary], [path])
    except BaseException:
        try:
            FileSystems.delete([temporary])
        except Exception:  # The temporary file may not exist; the first error is the one to report.
            pass
        raise
    return path
