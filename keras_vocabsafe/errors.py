"""The exceptions keras-vocabsafe raises, in one place.

Every error derives from `VocabSafeError` and also from the builtin it
refines, so existing `except ValueError` (or `TypeError`, `RuntimeError`)
clauses keep working:

```
VocabSafeError
├── ConfigurationError (ValueError)
├── ConversionError (ValueError)
├── ExportError (RuntimeError)
│   ├── UnsupportedOpsError (ValueError)
│   └── VersionExistsError (FileExistsError)
├── VocabularyError (ValueError)
│   ├── DuplicateTokenError
│   └── ReservedTokenError
├── KeyDtypeError (TypeError)
├── MissingDependencyError (ImportError)
├── ModelFileError (ValueError)
├── NotAdaptedError (RuntimeError)
├── QuantizationError (NotImplementedError)
├── TextInputError (ValueError)
│   └── TextEncodingError (UnicodeError)
├── UnknownIdError (IndexError)
├── VectorFileError (ValueError)
├── VocabularyChangeError (RuntimeError)
└── VocabularyMismatchError (ValueError)
```

Keras catches the errors raised while loading a layer's weights and re-raises
them as a plain `ValueError` that carries the original message, so
`model.load_weights()` and `keras.saving.load_model()` surface a
`VocabularyMismatchError` as a `ValueError` whose text is ours.
"""

from collections.abc import Iterable
from typing import Any

__all__ = [
    "ConfigurationError",
    "ConversionError",
    "DuplicateTokenError",
    "ExportError",
    "KeyDtypeError",
    "MissingDependencyError",
    "ModelFileError",
    "NotAdaptedError",
    "QuantizationError",
    "ReservedTokenError",
    "TextEncodingError",
    "TextInputError",
    "UnknownIdError",
    "UnsupportedOpsError",
    "VectorFileError",
    "VersionExistsError",
    "VocabSafeError",
    "VocabularyChangeError",
    "VocabularyError",
    "VocabularyMismatchError",
]


class VocabSafeError(Exception):
    """Base class of every error raised by keras-vocabsafe."""

    # AutoGraph (which converts the functions given to `tf.data` `map` and `tf.function`) re-raises an error from
    # the code it converted as its own `StagingError` unless the error's class takes one message through
    # `Exception.__init__`: this keeps the type, so `dataset.map(lambda keys, y: (lookup(keys), y))` raises the
    # `KeyDtypeError` (a `TypeError`) an eager call raises. Same arguments as the builtins' (`args`).
    __init__ = Exception.__init__


class ConfigurationError(VocabSafeError, ValueError):
    """An argument has a value the layer cannot work with."""


class ConversionError(VocabSafeError, ValueError):
    """A model cannot be converted exactly, or has nothing to convert; `refusals` lists each layer and reason."""

    def __init__(self, message: str, refusals: Iterable[Any] = ()) -> None:
        super().__init__(message)
        self.refusals = list(refusals)


class VocabularyError(VocabSafeError, ValueError):
    """A vocabulary's content is invalid."""


class _UnknownFormatError(ConfigurationError, VocabularyError):
    """A `format=` argument names no vocabulary format: a bad argument, hence a `ConfigurationError`; also a
    `VocabularyError`, which `Vocabulary.load` raised for it before, so `except` clauses of either kind catch it."""


class DuplicateTokenError(VocabularyError):
    """A vocabulary lists the same token twice."""


class ReservedTokenError(VocabularyError):
    """A vocabulary contains the mask or OOV token, which have fixed slots."""


class KeyDtypeError(VocabSafeError, TypeError):
    """Keys (inputs or tokens) have a dtype the vocabulary does not use."""


class MissingDependencyError(VocabSafeError, ImportError):
    """A setting needs an optional package that is not installed; the message names the extra that installs it."""

    # ImportError's own: `name=` says which module is missing (the base class's one-message form would refuse it).
    __init__ = ImportError.__init__


class ModelFileError(VocabSafeError, ValueError):
    """A model or weights file is missing, truncated, damaged, of the wrong kind, or belongs to another model."""


class ExportError(VocabSafeError, RuntimeError):
    """A serving export could not be completed; no version directory was published."""


class VersionExistsError(ExportError, FileExistsError):
    """A serving export's version directory already exists; exports never overwrite a version."""


class UnsupportedOpsError(ExportError, ValueError):
    """A serving export's graph uses ops that do not load in its target (core TensorFlow or a server's release).

    Raised by `export_for_serving(strict=True)` (the target is core TensorFlow: tensorflow-text ops are refused)
    and `export_for_serving(target=...)`, before anything is published. Also a `ValueError`: the model does not
    fit the target it was given.
    """


class NotAdaptedError(VocabSafeError, RuntimeError):
    """The layer is used before it has a vocabulary."""


class QuantizationError(VocabSafeError, NotImplementedError):
    """A quantization mode, or an operation on a quantized or LoRA layer, that the layer does not support."""


class TextInputError(VocabSafeError, ValueError):
    """Raw text input has a shape or content a text layer cannot tokenize."""


class TextEncodingError(TextInputError, UnicodeError):
    """Text holds bytes that are not UTF-8 and the layer's `encoding_errors` is 'strict'."""


class UnknownIdError(VocabSafeError, IndexError):
    """An id is outside the layer's range of ids."""


class VectorFileError(VocabSafeError, ValueError):
    """A pretrained vectors file is malformed; the message names the file and line."""


class VocabularyChangeError(VocabSafeError, RuntimeError):
    """A new vocabulary would reshape or scramble existing embedding rows."""


class VocabularyMismatchError(VocabSafeError, ValueError):
    """Saved weights were written for a different vocabulary."""
