"""Text classifier from raw strings: `TextVocabEmbedding` from `adapt()` to serving raw text without Keras.

What it shows, step by step:

1. A small synthetic review corpus of raw sentences, with capitals,
   punctuation, accents and emojis, made in the script.
2. `TextVocabEmbedding.adapt()` tokenizes the raw text in the TensorFlow graph
   (lower case, punctuation stripped, split on whitespace) and learns the
   vocabulary; `tokenize()` shows what the layer sees.
3. A functional model (a raw string in, a score out) trains for a few epochs;
   the padding mask of the padded token sequence reaches the pooling.
4. The model is saved as a `.keras` file and reloaded: the tokenization
   settings come back with it, and so do the predictions.
5. The model is exported with `export_for_serving(..., strict=True)`, which
   checks that the graph needs only core TensorFlow ops, and served in a new
   process where Keras, keras_vocabsafe and tensorflow_text cannot be
   imported: raw strings in, the same scores out.

Any mismatch raises, so the script exits non-zero. From the repository root:

    python examples/text_classifier.py                       # files go to a temporary directory
    python examples/text_classifier.py --workdir /tmp/texts  # keep model.keras and serving/ there
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import TextVocabEmbedding, audit_ops, export_for_serving

SEED = 7
NUM_SENTENCES = 600
EPOCHS = 8
POSITIVE = ["Great", "lovely", "superb!", "Fun,", "a must-see", "🙂", "génial", "TRÈS bien"]
NEGATIVE = ["Awful", "boring.", "dull,", "a waste", "😞", "nul", "trop long", "BAD!"]
NEUTRAL = ["the", "film", "movie", "plot", "acting", "was", "and", "really", "quite", "this", "story", "le", "jeu"]
SAMPLES = ["A SUPERB film, really 🙂", "Boring... and dull plot!", "le jeu était génial", "this was a waste"]

SERVE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    for blocked in ("keras", "keras_vocabsafe", "tensorflow_text"):
        sys.modules[blocked] = None  # any import of these now raises ImportError
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    export_dir, inputs_path = sys.argv[1:3]
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    with open(inputs_path, encoding="utf-8") as f:
        text = tf.constant(json.load(f))
    scores = serve(text=text)["score"].numpy()[:, 0]
    print(json.dumps([float(score) for score in scores]))
    """
)


def step(number: int, title: str) -> None:
    print(f"\n== Step {number}: {title}", flush=True)


def make_corpus(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Raw sentences; the label is 1 when positive phrases outnumber negative ones."""
    sentences, labels = [], []
    for _ in range(NUM_SENTENCES):
        num_sentiment = int(rng.choice([1, 3]))
        num_positive = int(rng.integers(0, num_sentiment + 1))
        words = list(rng.choice(POSITIVE, num_positive)) + list(rng.choice(NEGATIVE, num_sentiment - num_positive))
        words += list(rng.choice(NEUTRAL, int(rng.integers(2, 7))))
        rng.shuffle(words)
        sentences.append(" ".join(str(word) for word in words))
        labels.append(float(num_positive > num_sentiment - num_positive))
    return np.array(sentences), np.array(labels, dtype="float32")


def build_model(layer: TextVocabEmbedding) -> keras.Model:
    text = keras.Input(shape=(), dtype="string", name="text")
    pooled = keras.layers.GlobalAveragePooling1D(name="average")(layer(text))
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(pooled)
    model = keras.Model(text, score, name="text_classifier")
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def check_same(name: str, expected: np.ndarray, received: np.ndarray) -> None:
    np.testing.assert_allclose(received, expected, rtol=1e-6, atol=1e-7, err_msg=name)
    print(f"{name}: predictions identical")


def run(workdir: Path) -> None:
    started = time.perf_counter()
    keras.utils.set_random_seed(SEED)

    step(1, "a synthetic corpus of raw sentences")
    sentences, labels = make_corpus(np.random.default_rng(SEED))
    print(f"{len(sentences)} sentences, {int(labels.sum())} positive; e.g. {str(sentences[0])!r} -> {int(labels[0])}")

    step(2, "adapt a TextVocabEmbedding on the raw text")
    layer = TextVocabEmbedding(16, output_sequence_length=12, name="words")
    layer.adapt(sentences)
    print(f"vocabulary_size() = {layer.vocabulary_size()}: ids {layer.get_vocabulary()[:8]} ...")
    for sample in SAMPLES[:2]:
        tokens = [token.decode() for token in layer.tokenize(sample).numpy()]
        print(f"tokenize({sample!r}) -> {tokens}")

    step(3, "train a model that reads raw strings")
    model = build_model(layer)
    history = model.fit(tf.constant(sentences), labels, epochs=EPOCHS, batch_size=32, validation_split=0.2, verbose=0)
    print(f"after {EPOCHS} epochs: val_accuracy {history.history['val_accuracy'][-1]:.3f}")
    samples = tf.constant(SAMPLES)
    scores = model.predict(samples, verbose=0)[:, 0]
    for sample, score in zip(SAMPLES, scores):
        print(f"  {score:.3f}  {sample!r}")
    (workdir / "samples.json").write_text(json.dumps(SAMPLES, ensure_ascii=False), encoding="utf-8")

    step(4, "save as .keras and reload")
    model.save(workdir / "model.keras")
    reloaded = keras.saving.load_model(workdir / "model.keras")
    config = reloaded.get_layer("words").get_config()
    print(f"reloaded tokenization: standardize={config['standardize']!r}, split={config['split']!r}")
    check_same("reloaded", scores, reloaded.predict(samples, verbose=0)[:, 0])

    step(5, "export and serve raw strings with TensorFlow alone")
    path = export_for_serving(model, workdir / "serving", strict=True)
    print(audit_ops(path))
    completed = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, path, str(workdir / "samples.json")],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise RuntimeError("The serving process failed (its stderr is above).")
    served = np.array(json.loads(completed.stdout.strip().splitlines()[-1]), dtype=np.float32)
    check_same("served in a TensorFlow-only process", scores, served)
    print(f"\nOK in {time.perf_counter() - started:.0f} s.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, metavar="PATH", help="directory for the files (default: temporary)")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args.workdir)
        return
    with tempfile.TemporaryDirectory(prefix="vocabsafe-text-") as workdir:
        run(Path(workdir))


if __name__ == "__main__":
    main()
