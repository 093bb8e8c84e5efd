"""keras-vocabsafe: a vocabulary and its embedding, kept in step from adapt to serving."""

from keras_vocabsafe.errors import (
    ConfigurationError,
    DuplicateTokenError,
    KeyDtypeError,
    NotAdaptedError,
    ReservedTokenError,
    UnknownIdError,
    VectorFileError,
    VocabSafeError,
    VocabularyChangeError,
    VocabularyError,
    VocabularyMismatchError,
)
from keras_vocabsafe.pretrained import CoverageReport, PretrainedVectors, align_vectors, load_vectors
from keras_vocabsafe.vocab_embedding import VocabEmbedding
from keras_vocabsafe.vocabulary import Vocabulary

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "CoverageReport",
    "DuplicateTokenError",
    "KeyDtypeError",
    "NotAdaptedError",
    "PretrainedVectors",
    "ReservedTokenError",
    "UnknownIdError",
    "VectorFileError",
    "VocabEmbedding",
    "VocabSafeError",
    "Vocabulary",
    "VocabularyChangeError",
    "VocabularyError",
    "VocabularyMismatchError",
    "__version__",
    "align_vectors",
    "load_vectors",
]
