"""Growing the vocabulary of a trained model, without losing what it learned.

What it shows:

1. A classifier trained on a first corpus (product reviews of 2025, say), with
   a vocabulary adapted from it. Its weights are saved.
2. New data arrives with new words. `update_vocabulary(data=..., merge=True,
   model=model)` adds them: every old token keeps its exact trained row (and
   its Adam moments), new tokens start at the mean row. The report is printed.
3. `model.fit()` simply continues (no recompile), and the loss keeps falling.
4. The updated model is saved and reloaded with its new shapes.
5. The old weights file loads into the new model only through
   `load_remapped_weights()`; plain `load_weights()` refuses it.

Run from the repository root:

    python examples/grow_vocabulary.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import VocabEmbedding, load_remapped_weights

SEED = 3
GOOD = ["great", "love", "perfect", "works", "fast"]
BAD = ["broken", "slow", "refund", "awful", "late"]
COMMON = ["the", "it", "was", "and", "a", "product", "delivery"]
NEW_GOOD = ["superb", "flawless"]  # Words the first vocabulary never saw.
NEW_BAD = ["defective", "scam"]


def make_corpus(rng: np.random.Generator, good: list[str], bad: list[str], size: int) -> tuple[tf.Tensor, np.ndarray]:
    """Reviews of 6 tokens: 3 opinion words of one polarity and 3 common words; label 1 for good."""
    labels = rng.integers(0, 2, size=size)
    rows = [[*rng.choice(good if label else bad, 3), *rng.choice(COMMON, 3)] for label in labels]
    return tf.constant(rows), labels.astype("float32")


def build_model(layer: VocabEmbedding) -> keras.Model:
    inputs = keras.Input(shape=(6,), dtype="string", name="tokens")
    pooled = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    outputs = keras.layers.Dense(1, activation="sigmoid", name="score")(pooled)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main(workdir: Path) -> None:
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)

    # 1. Train on the first corpus.
    x_old, y_old = make_corpus(rng, GOOD, BAD, 400)
    layer = VocabEmbedding(output_dim=8, name="words")
    layer.adapt(x_old)
    model = build_model(layer)
    model.fit(x_old, y_old, epochs=5, batch_size=32, verbose=0)
    old_weights = workdir / "reviews-2025.weights.h5"
    model.save_weights(old_weights)
    before = {token: layer.get_vectors(tf.constant(token)) for token in layer.get_vocabulary()}
    print(f"first vocabulary: {layer.vocabulary_size()} ids; rows {tuple(layer.embeddings.shape)}")

    # 2. New words arrive: merge them in. Rows and optimizer state follow their tokens.
    x_new, y_new = make_corpus(rng, NEW_GOOD, NEW_BAD, 400)
    report = layer.update_vocabulary(data=x_new, merge=True, model=model)
    print(report)
    unchanged = all(np.array_equal(layer.get_vectors(tf.constant(t)), row) for t, row in before.items())
    print(f"every old token's row unchanged: {unchanged}")

    # 3. Training simply continues.
    history = model.fit(x_new, y_new, epochs=6, batch_size=32, verbose=0).history
    losses = history["loss"]
    print(f"fit after the update: loss {losses[0]:.3f} -> {losses[-1]:.3f}; accuracy {history['accuracy'][-1]:.2f}")
    print(f"loss went down: {losses[-1] < losses[0]}")

    # 4. Save and reload with the new shapes.
    path = workdir / "reviews-2026.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    same_shape = reloaded.get_layer("words").embeddings.shape == layer.embeddings.shape
    same = np.array_equal(reloaded.predict(x_new, verbose=0), model.predict(x_new, verbose=0))
    print(f"reloaded: same shapes {same_shape}, same predictions {same}")

    # 5. The old weights file: refused by load_weights, remapped by load_remapped_weights.
    # (Keras warns that the fresh model's optimizer state is not in the file; it is not needed here.)
    warnings.filterwarnings("ignore", message="Skipping", category=UserWarning)
    fresh = build_model(VocabEmbedding(output_dim=8, vocabulary=layer.vocabulary, name="words"))
    try:
        fresh.load_weights(old_weights)
        print("plain load_weights of the old file: loaded (unexpected)")
    except ValueError as error:
        reason = next(line for line in str(error).splitlines() if "cannot load" in line)
        print(f"plain load_weights of the old file: refused ({reason[:90]}...)")
    reports = load_remapped_weights(fresh, old_weights)
    print(reports["words"])
    fresh_layer = fresh.get_layer("words")
    kept = all(np.array_equal(fresh_layer.get_vectors(tf.constant(t)), row) for t, row in before.items())
    print(f"old rows restored by token: {kept}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to write files (default: a temporary directory)")
    arguments = parser.parse_args()
    if arguments.workdir:
        arguments.workdir.mkdir(parents=True, exist_ok=True)
        main(arguments.workdir)
    else:
        with tempfile.TemporaryDirectory() as directory:
            main(Path(directory))
