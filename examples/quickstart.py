"""Quickstart: one `VocabEmbedding` from `adapt()` to serving raw strings without Keras.

What it shows, step by step:

1. A small synthetic sentiment corpus, pre-tokenized and padded with "", that
   includes tokens other layers mangle: "naïve", emojis, and tokens with a tab
   or a newline inside.
2. `VocabEmbedding.adapt()` learns the vocabulary; the embedding matrix has
   exactly `vocabulary_size()` rows, and every token keeps its exact bytes.
3. A functional model (strings in, score out) trains for a few epochs; the
   padding mask reaches `GlobalAveragePooling1D`.
4. The model is saved as a `.keras` file.
5. A new Python process loads the `.keras` file and predicts: same vocabulary,
   same predictions.
6. The model is exported as a SavedModel and served in another new process
   where only TensorFlow can be imported (Keras, keras_vocabsafe and
   tensorflow_text are blocked): same predictions again.

Any mismatch raises, so the script exits non-zero. It runs on a CPU in well
under a minute. From the repository root:

    python examples/quickstart.py                     # files go to a temporary directory
    python examples/quickstart.py --workdir /tmp/qs   # keep model.keras and export/ in /tmp/qs
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
import unicodedata
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from keras_vocabsafe import VocabEmbedding

SEED = 1234
NUM_SENTENCES = 400
EPOCHS = 5
LEARNING_RATE = 0.01
PAD = ""

# Tokens other pipelines tend to mangle. The corpus is pre-tokenized, so a tab
# or newline inside a token is just another byte of that token.
MUST_SEE = "must\tsee"
ZERO_STARS = "zero\nstars"
POSITIVE_WORDS = ["good", "great", "lovely", "fun", "superb", "🙂", MUST_SEE]
NEGATIVE_WORDS = ["bad", "awful", "boring", "dull", "naïve", "😞", ZERO_STARS]
ODD_TOKENS = ["naïve", "🙂", "😞", MUST_SEE, ZERO_STARS]
NEUTRAL_WORDS = ["the", "a", "movie", "film", "plot", "acting", "was", "and", "really", "quite", "this", "story"]

# Sentences to predict on after training; "unseenword" is out of vocabulary.
SAMPLE_SENTENCES = [
    ["a", MUST_SEE, "film", "🙂"],
    ["naïve", "and", "dull", "plot"],
    ["the", "acting", "was", ZERO_STARS],
    ["a", "great", "unseenword", "movie", "really"],
    ["😞", "story"],
]

# Runs in a new process: loads the .keras file and predicts. Reads and writes JSON.
RELOAD_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    import keras_vocabsafe  # registers VocabEmbedding for deserialization

    model_path, inputs_path, outputs_path = sys.argv[1:4]
    model = keras.saving.load_model(model_path)
    layer = model.get_layer("vocab_embedding")
    with open(inputs_path, encoding="utf-8") as f:
        batch = tf.constant(json.load(f), dtype=tf.string)
    scores = model.predict(batch, verbose=0)[:, 0]
    print(f"loaded {os.path.basename(model_path)}: {layer.name}, vocabulary_size={layer.vocabulary_size()}")
    with open(outputs_path, "w", encoding="utf-8") as f:
        json.dump({"vocabulary": layer.get_vocabulary(), "scores": [float(s) for s in scores]}, f)
    """
)

# Runs in a new process where Keras, keras_vocabsafe and tensorflow_text cannot be imported.
SERVE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    for blocked in ("keras", "keras_vocabsafe", "tensorflow_text"):
        sys.modules[blocked] = None  # any import of these now raises ImportError
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    for blocked in ("keras", "keras_vocabsafe", "tensorflow_text"):
        try:
            __import__(blocked)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{blocked} should not be importable here")
    print("keras, keras_vocabsafe, tensorflow_text: not importable; tensorflow", tf.__version__)

    export_dir, inputs_path, outputs_path = sys.argv[1:4]
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    (input_name,) = serve.structured_input_signature[1]
    (output_name,) = serve.structured_outputs
    input_spec = serve.structured_input_signature[1][input_name]
    output_spec = serve.structured_outputs[output_name]
    print(f"input  {input_name!r}: {input_spec.dtype.name} {input_spec.shape}")
    print(f"output {output_name!r}: {output_spec.dtype.name} {output_spec.shape}")
    with open(inputs_path, encoding="utf-8") as f:
        batch = tf.constant(json.load(f), dtype=tf.string)
    scores = serve(**{input_name: batch})[output_name].numpy()[:, 0]
    print("scores:", " ".join(f"{s:.4f}" for s in scores))
    with open(outputs_path, "w", encoding="utf-8") as f:
        json.dump({"scores": [float(s) for s in scores]}, f)
    """
)


def step(number: int, title: str) -> None:
    """Prints a step header."""
    print(f"\n== Step {number}: {title}", flush=True)


def pad(sentences: list[list[str]], length: int | None = None) -> np.ndarray:
    """Pads token lists with "" into a 2-D object array of Python strings."""
    length = length or max(len(sentence) for sentence in sentences)
    padded = np.full((len(sentences), length), PAD, dtype=object)
    for row, sentence in enumerate(sentences):
        padded[row, : len(sentence)] = sentence
    return padded


def make_corpus(num_sentences: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Builds pre-tokenized sentences; the label is 1 when positive words outnumber negative ones."""
    rng = np.random.default_rng(seed)
    sentences, labels = [], []
    for _ in range(num_sentences):
        # An odd number of sentiment words, so there is always a majority.
        num_sentiment = int(rng.choice([1, 3]))
        num_positive = int(rng.integers(0, num_sentiment + 1))
        words = list(rng.choice(POSITIVE_WORDS, num_positive)) + list(
            rng.choice(NEGATIVE_WORDS, num_sentiment - num_positive)
        )
        words += list(rng.choice(NEUTRAL_WORDS, int(rng.integers(2, 6))))
        rng.shuffle(words)
        sentences.append([str(word) for word in words])
        labels.append(int(num_positive > num_sentiment - num_positive))
    return pad(sentences), np.array(labels, dtype="float32")


def build_model(layer: VocabEmbedding) -> keras.Model:
    """Strings in, a sentiment score out; the layer's padding mask reaches the pooling."""
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    vectors = layer(tokens)
    pooled = keras.layers.GlobalAveragePooling1D(name="average")(vectors)
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(pooled)
    model = keras.Model(tokens, score, name="quickstart")
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def run_child(script: str, *args: str) -> None:
    """Runs `script` in a new Python process, relaying its output; raises if it fails."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONIOENCODING="utf-8")
    completed = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, encoding="utf-8", env=env
    )
    for line in completed.stdout.splitlines():
        print(f"   | {line}")
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise RuntimeError(f"The child process failed with exit code {completed.returncode} (its stderr is above).")


def compare(name: str, expected: np.ndarray, received: list[float]) -> None:
    """Checks a child's scores against the parent's and prints the verdict."""
    received_array = np.asarray(received, dtype=expected.dtype)
    np.testing.assert_allclose(received_array, expected, rtol=1e-6, atol=1e-7, err_msg=name)
    difference = float(np.max(np.abs(received_array - expected)))
    detail = "" if difference == 0 else f" (within rtol=1e-6, max |difference| {difference:.1e})"
    print(f"{name}: predictions identical{detail}")


def step_corpus() -> tuple[np.ndarray, np.ndarray]:
    step(1, "a synthetic, pre-tokenized corpus")
    tokens, labels = make_corpus(NUM_SENTENCES, SEED)
    print(f"{tokens.shape[0]} sentences, padded with {PAD!r} to shape {tokens.shape}")
    print(f"positive labels: {int(labels.sum())} of {len(labels)}")
    print(f"example: {[t for t in tokens[0] if t != PAD]} -> label {int(labels[0])}")
    print(f"odd tokens: {', '.join(repr(t) for t in ODD_TOKENS)}")
    return tokens, labels


def step_adapt(tokens: np.ndarray) -> VocabEmbedding:
    step(2, "adapt a VocabEmbedding")
    layer = VocabEmbedding(output_dim=16, mask_token=PAD, name="vocab_embedding")
    layer.adapt(tokens)
    vocabulary = layer.get_vocabulary()
    print(f"vocabulary_size() = {layer.vocabulary_size()}: 1 mask + 1 OOV + {len(vocabulary) - 2} tokens")
    print("first ids:", ", ".join(f"{i}={t!r}" for i, t in enumerate(vocabulary[:8])))
    print(f"the embedding matrix will have exactly {layer.vocabulary_size()} rows, one per id")
    odd_ids = ", ".join(f"{t!r}={layer.token_to_id(t)}" for t in ODD_TOKENS)
    print(f"odd tokens get ids of their own: {odd_ids}")
    decomposed = unicodedata.normalize("NFD", "naïve")
    print(f"'naïve' written with a combining diaeresis is other bytes: id {layer.token_to_id(decomposed)} (OOV)")
    return layer


def step_train(layer: VocabEmbedding, tokens: np.ndarray, labels: np.ndarray) -> keras.Model:
    step(3, "build and train a functional model")
    model = build_model(layer)
    rows, dim = layer.embeddings.shape
    if rows != layer.vocabulary_size():
        raise AssertionError(f"embedding matrix has {rows} rows, vocabulary_size() is {layer.vocabulary_size()}")
    print(f"model: tokens (string) -> {layer.name} -> average (masked) -> score; embeddings ({rows}, {dim})")
    # Keras takes string batches as tensors; tf.constant encodes each str as UTF-8.
    history = model.fit(tf.constant(tokens), labels, epochs=EPOCHS, batch_size=32, validation_split=0.2, verbose=0)
    for epoch in range(EPOCHS):
        metrics = {name: values[epoch] for name, values in history.history.items()}
        print(
            f"epoch {epoch + 1:2d}: loss {metrics['loss']:.3f}  accuracy {metrics['accuracy']:.3f}  "
            f"val_loss {metrics['val_loss']:.3f}  val_accuracy {metrics['val_accuracy']:.3f}"
        )
    return model


def predict_samples(model: keras.Model, workdir: Path) -> np.ndarray:
    """Scores the sample sentences here and writes them to `samples.json` for the other processes."""
    samples = pad(SAMPLE_SENTENCES)
    (workdir / "samples.json").write_text(json.dumps(samples.tolist(), ensure_ascii=False), encoding="utf-8")
    scores = model.predict(tf.constant(samples), verbose=0)[:, 0]
    print('scores on sample sentences ("unseenword" is out of vocabulary):')
    for sentence, score in zip(SAMPLE_SENTENCES, scores):
        print(f"  {score:.4f}  {' '.join(repr(t) for t in sentence)}")
    # Padding is masked, so the pooling averages real tokens only and extra "" change nothing.
    longer = model.predict(tf.constant(pad(SAMPLE_SENTENCES, length=3 * samples.shape[1])), verbose=0)[:, 0]
    np.testing.assert_allclose(longer, scores, rtol=1e-6, atol=1e-7, err_msg="extra padding changed the scores")
    print(f"padding is masked: the same sentences padded to {3 * samples.shape[1]} tokens score the same")
    return scores


def step_save(model: keras.Model, workdir: Path) -> Path:
    step(4, "save as .keras")
    path = workdir / "model.keras"
    model.save(path)
    print(f"saved {path} ({path.stat().st_size:,} bytes)")
    return path


def step_reload(model_path: Path, layer: VocabEmbedding, expected: np.ndarray, workdir: Path) -> None:
    step(5, "reload the .keras file in a new Python process")
    outputs_path = workdir / "reload_outputs.json"
    run_child(RELOAD_SCRIPT, str(model_path), str(workdir / "samples.json"), str(outputs_path))
    result = json.loads(outputs_path.read_text(encoding="utf-8"))
    if result["vocabulary"] != layer.get_vocabulary():
        raise AssertionError("The reloaded vocabulary differs from the trained one.")
    print(f"reloaded in a new process: vocabulary identical ({len(result['vocabulary'])} ids, byte for byte)")
    compare("reloaded in a new process", expected, result["scores"])


def step_serve(model: keras.Model, expected: np.ndarray, workdir: Path) -> None:
    step(6, "export a SavedModel and serve it with TensorFlow alone")
    export_dir = workdir / "export"
    model.export(str(export_dir), verbose=False)
    print(f"exported {export_dir}")
    outputs_path = workdir / "serve_outputs.json"
    run_child(SERVE_SCRIPT, str(export_dir), str(workdir / "samples.json"), str(outputs_path))
    result = json.loads(outputs_path.read_text(encoding="utf-8"))
    compare("served in a TensorFlow-only process", expected, result["scores"])


def run(workdir: Path) -> None:
    """Runs all steps, writing files under `workdir`."""
    started = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    tokens, labels = step_corpus()
    layer = step_adapt(tokens)
    model = step_train(layer, tokens, labels)
    expected = predict_samples(model, workdir)
    model_path = step_save(model, workdir)
    step_reload(model_path, layer, expected, workdir)
    step_serve(model, expected, workdir)

    step(7, "summary")
    print(
        f"OK: {layer.vocabulary_size()} ids, trained, saved, reloaded and served from raw strings with identical "
        f"predictions in {time.perf_counter() - started:.0f} s."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="PATH",
        help="directory for model.keras and export/ (default: a temporary directory)",
    )
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args.workdir)
        return
    with tempfile.TemporaryDirectory(prefix="vocabsafe-quickstart-") as workdir:
        run(Path(workdir))


if __name__ == "__main__":
    main()
