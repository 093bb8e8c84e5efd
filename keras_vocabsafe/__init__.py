"""keras-vocabsafe: a vocabulary and its embedding, kept in step from adapt to serving."""

from keras_vocabsafe.convert import ConversionResult, ConvertedPair, Refusal, convert_model
from keras_vocabsafe.embedding import MergedEmbeddings, VocabIdEmbedding
from keras_vocabsafe.errors import (
    ConfigurationError,
    ConversionError,
    DuplicateTokenError,
    ExportError,
    KeyDtypeError,
    MissingDependencyError,
    ModelFileError,
    NotAdaptedError,
    QuantizationError,
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
from keras_vocabsafe.evolve import ROW_INITIALIZERS, VocabularyUpdateReport, warmstart_embedding_matrix
from keras_vocabsafe.export import OpAudit, OpTarget, audit_ops, export_for_serving
from keras_vocabsafe.inspection import Finding, InspectionReport, LayerPair, inspect_model
from keras_vocabsafe.lookup import VocabLookup
from keras_vocabsafe.optimizers import LazyAdam, SparseSGD
from keras_vocabsafe.pretrained import (
    MATCH_RULES,
    AlignedVectors,
    CoverageReport,
    PretrainedVectors,
    align_vectors,
    load_vectors,
)
from keras_vocabsafe.saving import load_remapped_weights, load_weights, save_model, save_weights
from keras_vocabsafe.text import TextVocabEmbedding, TextVocabLookup
from keras_vocabsafe.vocab_embedding import VocabEmbedding
from keras_vocabsafe.vocabulary import VOCABULARY_FORMATS, Token, Vocabulary, VocabularyDiff

__version__ = "0.1.0"

__all__ = [
    "AlignedVectors",
    "ConfigurationError",
    "ConversionError",
    "ConversionResult",
    "ConvertedPair",
    "CoverageReport",
    "DuplicateTokenError",
    "ExportError",
    "Finding",
    "InspectionReport",
    "KeyDtypeError",
    "LayerPair",
    "LazyAdam",
    "MATCH_RULES",
    "MergedEmbeddings",
    "MissingDependencyError",
    "ModelFileError",
    "NotAdaptedError",
    "OpAudit",
    "OpTarget",
    "PretrainedVectors",
    "QuantizationError",
    "ROW_INITIALIZERS",
    "Refusal",
    "ReservedTokenError",
    "SparseSGD",
    "TextEncodingError",
    "TextInputError",
    "TextVocabEmbedding",
    "TextVocabLookup",
    "Token",
    "UnknownIdError",
    "UnsupportedOpsError",
    "VOCABULARY_FORMATS",
    "VectorFileError",
    "VersionExistsError",
    "VocabEmbedding",
    "VocabIdEmbedding",
    "VocabLookup",
    "VocabSafeError",
    "Vocabulary",
    "VocabularyChangeError",
    "VocabularyDiff",
    "VocabularyError",
    "VocabularyMismatchError",
    "VocabularyUpdateReport",
    "align_vectors",
    "audit_ops",
    "convert_model",
    "export_for_serving",
    "inspect_model",
    "load_remapped_weights",
    "load_vectors",
    "load_weights",
    "save_model",
    "save_weights",
    "warmstart_embedding_matrix",
    "__version__",
]
