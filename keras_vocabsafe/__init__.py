"""keras-vocabsafe: a vocabulary and its embedding, kept in step from adapt to serving."""

from keras_vocabsafe.embedding import MergedEmbeddings, VocabIdEmbedding
from keras_vocabsafe.errors import (
    ConfigurationError,
    DuplicateTokenError,
    ExportError,
    KeyDtypeError,
    NonCoreOpsError,
    NotAdaptedError,
    ReservedTokenError,
    TextEncodingError,
    TextInputError,
    UnknownIdError,
    UnsupportedOpsError,
    VectorFileError,
    VersionExistsError,
    VocabSafeError,
    VocabularyChangeError,
    VocabularyError,
    VocabularyMismatchError,
)
from keras_vocabsafe.evolve import VocabularyUpdateReport, warmstart_embedding_matrix
from keras_vocabsafe.export import OpAudit, OpTarget, audit_ops, export_for_serving
from keras_vocabsafe.lookup import VocabLookup
from keras_vocabsafe.pretrained import CoverageReport, PretrainedVectors, align_vectors, load_vectors
from keras_vocabsafe.saving import load_remapped_weights, load_weights
from keras_vocabsafe.text import TextVocabEmbedding, TextVocabLookup
from keras_vocabsafe.vocab_embedding import VocabEmbedding
from keras_vocabsafe.vocabulary import Vocabulary

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "CoverageReport",
    "DuplicateTokenError",
    "ExportError",
    "KeyDtypeError",
    "MergedEmbeddings",
    "NonCoreOpsError",
    "NotAdaptedError",
    "OpAudit",
    "OpTarget",
    "PretrainedVectors",
    "ReservedTokenError",
    "TextEncodingError",
    "TextInputError",
    "TextVocabEmbedding",
    "TextVocabLookup",
    "UnknownIdError",
    "UnsupportedOpsError",
    "VectorFileError",
    "VocabEmbedding",
    "VocabIdEmbedding",
    "VocabLookup",
    "VocabSafeError",
    "Vocabulary",
    "VocabularyChangeError",
    "VocabularyError",
    "VocabularyMismatchError",
    "VocabularyUpdateReport",
    "VersionExistsError",
    "__version__",
    "align_vectors",
    "audit_ops",
    "export_for_serving",
    "load_remapped_weights",
    "load_vectors",
    "load_weights",
    "warmstart_embedding_matrix",
]
