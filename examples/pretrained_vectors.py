"""Pretrained vectors, aligned to an adapted vocabulary, with a coverage report.

What it shows:

1. A small pre-tokenized corpus, and `VocabEmbedding.adapt()` on it.
2. A GloVe-format vectors file (written here, since nothing is downloaded): it
   holds most corpus words, some only in another case, and many words the
   corpus never uses.
3. `load_pretrained()` streams the file, keeps only the rows of the layer's
   tokens, and returns a `CoverageReport` (printed): found and missing tokens,
   by match rule, the most frequent missing ones, and the share of the corpus
   the found tokens cover.
4. A model trains with the pretrained layer frozen; its rows stay identical.
5. The model is saved and reloaded: same shapes, same rows, same predictions.

Run from the repository root:

    python examples/pretrained_vectors.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import VocabEmbedding

SEED = 7
DIM = 16
TOPIC_A = ["river", "boat", "water", "fish", "bridge", "Paris"]
TOPIC_B = ["engine", "road", "car", "wheel", "fuel", "Berlin"]
COMMON = ["the", "a", "on", "near", "with", "big", "small", "zyzzyva"]


def make_corpus(rng: np.random.Generator, size: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Sentences of 6 tokens drawn from one topic plus common words; the label is the topic."""
    labels = rng.integers(0, 2, size=size)
    rows = []
    for label in labels:
        topic = TOPIC_A if label == 0 else TOPIC_B
        rows.append([*rng.choice(topic, 3), *rng.choice(COMMON, 3)])
    return np.array(rows, dtype=object), labels.astype("float32")


def write_glove_file(path: Path, rng: np.random.Generator) -> None:
    """Vectors where each topic's words point one way; city names only in lower case; no 'zyzzyva'."""
    direction = {word: 1.0 for word in TOPIC_A} | {word: -1.0 for word in TOPIC_B}
    words = [w.lower() if w in ("Paris", "Berlin") else w for w in TOPIC_A + TOPIC_B]
    words += [w for w in COMMON if w != "zyzzyva"] + [f"filler{i}" for i in range(5000)]
    with open(path, "w", encoding="utf-8") as f:
        for word in words:
            sign = direction.get(word, direction.get(word.capitalize(), 0.0))
            vector = rng.normal(scale=0.3, size=DIM) + sign
            f.write(word + " " + " ".join(f"{v:.5f}" for v in vector) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="where files go (default: a temporary dir)")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args.workdir)
        return
    with tempfile.TemporaryDirectory(prefix="vocabsafe-pretrained-") as workdir:
        run(Path(workdir))


def run(workdir: Path) -> None:
    rng = np.random.default_rng(SEED)
    keras.utils.set_random_seed(SEED)

    print("== Step 1: adapt a vocabulary on the corpus")
    tokens, labels = make_corpus(rng)
    words = VocabEmbedding(DIM, name="words")
    words.adapt(tokens)
    print(f"vocabulary_size() = {words.vocabulary_size()}: {words.get_vocabulary()}")

    print("\n== Step 2: a GloVe-format file with 5,000+ rows")
    vectors_path = workdir / "vectors.txt"
    write_glove_file(vectors_path, rng)
    print(f"wrote {vectors_path} ({vectors_path.stat().st_size:,} bytes)")

    print("\n== Step 3: align it to the vocabulary")
    report = words.load_pretrained(
        vectors_path, match=("exact", "lower"), missing_embeddings_initializer="mean_std", seed=SEED, train="none"
    )
    print(report)
    if report.found_by_rule.get("lower") != 2 or report.missing_tokens != ("zyzzyva",):
        raise SystemExit(f"unexpected coverage: {report.to_dict()}")

    print("\n== Step 4: train a classifier on the frozen pretrained rows")
    inputs = keras.Input(shape=(None,), dtype="string", name="tokens")
    hidden = keras.layers.GlobalAveragePooling1D()(words(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    before = words.embeddings.numpy().copy()
    history = model.fit(tf.constant(tokens.tolist()), labels, epochs=5, batch_size=32, verbose=0)
    print(f"accuracy after 5 epochs: {history.history['accuracy'][-1]:.3f}")
    if not np.array_equal(words.embeddings.numpy(), before):
        raise SystemExit("frozen embedding rows changed during training")
    print("embedding rows unchanged by training: True")

    print("\n== Step 5: save and reload")
    model.save(workdir / "model.keras")
    reloaded = keras.saving.load_model(workdir / "model.keras")
    reloaded_words = reloaded.get_layer("words")
    probe = tf.constant([["boat", "near", "Paris"], ["car", "on", "Berlin"]])
    same_shape = tuple(reloaded_words.embeddings.shape) == tuple(words.embeddings.shape)
    same_rows = np.array_equal(reloaded_words.embeddings.numpy(), words.embeddings.numpy())
    same_predictions = np.array_equal(reloaded.predict(probe, verbose=0), model.predict(probe, verbose=0))
    print(f"embedding shape {tuple(words.embeddings.shape)}; reloaded: same shape {same_shape}, same rows {same_rows}")
    print(f"same predictions after reload: {same_predictions}")
    if not (same_shape and same_rows and same_predictions):
        raise SystemExit("the reloaded model differs")
    print("\nOK")


if __name__ == "__main__":
    main()
