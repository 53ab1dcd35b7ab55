"""The emotion CNN: a VGG-style Keras 3 network for 48x48 grey faces.

Written with ``keras`` only (no ``tf.*`` in the model), so it trains under any
Keras backend (TensorFlow on the CPU here; ``KERAS_BACKEND=torch`` on a GPU
machine) and the saved ``.keras`` file loads under TensorFlow.

Training is resumable: every epoch writes ``last.keras`` (weights + optimizer
state) and ``state.json``; the best epoch on the validation split (PublicTest)
is kept as ``best.keras``.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INPUT_SHAPE = (48, 48, 1)
WIDTHS = (32, 64, 128, 256)
DEPTHS = (2, 2, 3, 3)


def build_model(n_classes: int = 7, widths=WIDTHS, depths=DEPTHS, dropout: float = 0.4):
    """VGG-style stacks of 3x3 conv + BatchNorm + ReLU, max-pooled 48->24->12->6->3.

    Input is raw 0..255 grey pixels; scaling happens inside the model so that
    callers never have to remember it.
    """
    import keras
    from keras import layers

    inp = keras.Input(INPUT_SHAPE, name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inp)
    for stage, (w, d) in enumerate(zip(widths, depths)):
        for i in range(d):
            x = layers.Conv2D(w, 3, padding="same", use_bias=False, name=f"conv{stage}_{i}")(x)
            x = layers.BatchNormalization(name=f"bn{stage}_{i}")(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(name=f"pool{stage}")(x)
        x = layers.SpatialDropout2D(0.1 * (stage + 1) / len(widths))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(inp, out, name="fer_au_cnn")


def augment_batch(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flip, rotation (+-12 deg), scale (0.9-1.1), shift (+-4 px), and a small
    erased patch - the pose and occlusion variety of webcam faces."""
    import cv2

    out = np.empty_like(images)
    c = (INPUT_SHAPE[0] - 1) / 2
    for i, img in enumerate(images):
        m = cv2.getRotationMatrix2D((c, c), rng.uniform(-12, 12), rng.uniform(0.9, 1.1))
        m[:, 2] += rng.uniform(-4, 4, size=2)
        warped = cv2.warpAffine(img, m, INPUT_SHAPE[:2], flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
        if rng.random() < 0.5:
            warped = warped[:, ::-1]
        if rng.random() < 0.25:
            h, w = rng.integers(8, 18, size=2)
            y0, x0 = rng.integers(0, 48 - h), rng.integers(0, 48 - w)
            warped = warped.copy()
            warped[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256)
        out[i] = warped
    return out


def _batches(images, labels, batch_size, n_classes, seed):
    """An endless stream of augmented, shuffled, one-hot batches."""
    rng = np.random.default_rng(seed)
    n = len(images)
    while True:
        order = rng.permutation(n)
        for s in range(0, n - batch_size + 1, batch_size):
            idx = order[s:s + batch_size]
            x = augment_batch(images[idx], rng)[..., None].astype("float32")
            y = np.eye(n_classes, dtype="float32")[labels[idx]]
            yield x, y


def train_cnn(x_train, y_train, x_val, y_val, out_dir, *, epochs: int = 30, batch_size: int = 64,
              lr: float = 1e-3, n_classes: int = 7, resume: bool = True, seed: int = 0,
              max_hours: float | None = None, verbose: int = 1):
    """Train (or resume training of) the CNN; returns the training history dict.

    ``out_dir`` receives last.keras, best.keras and state.json.  With
    ``max_hours`` training stops cleanly after the epoch that crosses the
    budget; calling again with ``resume=True`` picks up from there.
    """
    import keras

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    last, best, state_file = out_dir / "last.keras", out_dir / "best.keras", out_dir / "state.json"
    state = {"epoch": 0, "best_val_accuracy": 0.0, "history": [], "epochs": epochs}
    steps = len(x_train) // batch_size

    def schedule():  # one warm-up epoch, then cosine decay to 1 % at the last epoch
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr / 10, decay_steps=max(1, steps * (epochs - 1)), alpha=0.01,
            warmup_target=lr, warmup_steps=steps)

    if resume and last.exists() and state_file.exists():
        state = json.loads(state_file.read_text())
        model = keras.saving.load_model(last)
        if state.get("epochs") != epochs:
            # A run lengthened or shortened midway: re-plan the decay to end at the new
            # last epoch (the step counter carries on, so the rate changes smoothly).
            model.optimizer.learning_rate = schedule()
            state["epochs"] = epochs
        if verbose:
            print(f"resuming from epoch {state['epoch']} of {epochs} "
                  f"(best val acc {state['best_val_accuracy']:.4f})")
    else:
        keras.utils.set_random_seed(seed)
        model = build_model(n_classes)
        model.compile(optimizer=keras.optimizers.AdamW(schedule(), weight_decay=5e-4),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                      metrics=["accuracy"])

    x_val = np.asarray(x_val)[..., None].astype("float32")
    y_val = np.asarray(y_val)
    start = time.time()
    stream = _batches(np.asarray(x_train), np.asarray(y_train), batch_size, n_classes,
                      seed + state["epoch"])
    while state["epoch"] < epochs:
        t0 = time.time()
        hist = model.fit(stream, steps_per_epoch=steps, epochs=state["epoch"] + 1, shuffle=False,
                         initial_epoch=state["epoch"], verbose=verbose)
        proba = model.predict(x_val, batch_size=256, verbose=0)
        val_acc = float((proba.argmax(1) == y_val).mean())
        state["epoch"] += 1
        record = {"epoch": state["epoch"], "loss": float(hist.history["loss"][-1]),
                  "accuracy": float(hist.history["accuracy"][-1]), "val_accuracy": val_acc,
                  "seconds": round(time.time() - t0, 1)}
        state["history"].append(record)
        if val_acc > state["best_val_accuracy"]:
            state["best_val_accuracy"] = val_acc
            model.save(best)
        model.save(last)
        state_file.write_text(json.dumps(state, indent=1))
        if verbose:
            print(json.dumps(record), flush=True)
        if max_hours is not None and time.time() - start > max_hours * 3600:
            break
    return state


def export_for_inference(checkpoint, target) -> Path:
    """Copy a checkpoint's weights into a fresh, uncompiled model file (no optimizer
    state: a third of the size, and nothing training-only to load)."""
    import keras

    trained = keras.saving.load_model(checkpoint, compile=False)
    model = build_model(trained.output_shape[-1])
    model.set_weights(trained.get_weights())
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    return target


class EmotionCNN:
    """The shipped CNN as an estimator: ``predict_proba(faces)`` for (N, 48, 48) uint8 faces.

    Inference goes through one ``tf.function`` traced for any batch size, which
    costs a fraction of eager ``model(x)`` per call (see bench/accuracy.py).
    ``tta=True`` also averages the horizontally flipped face (2x the work).
    """

    classes_ = np.arange(7)

    def __init__(self, model, tta: bool = False):
        import tensorflow as tf

        self.model = model
        self.tta = tta
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)],
            reduce_retracing=True)

    @classmethod
    def load(cls, path, tta: bool = False) -> "EmotionCNN":
        import keras

        return cls(keras.saving.load_model(path, compile=False), tta=tta)

    def predict_proba(self, faces, batch_size: int = 256) -> np.ndarray:
        faces = np.asarray(faces)
        if faces.ndim == 2:
            faces = faces[None]
        if faces.shape[1:3] != INPUT_SHAPE[:2]:
            raise ValueError(f"expected (N, 48, 48) faces, got shape {faces.shape}")
        x = faces.reshape(len(faces), *INPUT_SHAPE).astype(np.float32)
        out = []
        for s in range(0, len(x), batch_size):
            chunk = x[s:s + batch_size]
            if self.tta:  # faces and their mirror images in one call: one dispatch, not two
                p = self._forward(np.concatenate([chunk, chunk[:, :, ::-1]])).numpy()
                p = (p[:len(chunk)] + p[len(chunk):]) / 2
            else:
                p = self._forward(chunk).numpy()
            out.append(p)
        return np.concatenate(out) if out else np.zeros((0, 7), np.float32)

    def predict(self, faces) -> np.ndarray:
        return self.predict_proba(faces).argmax(axis=1)


# The shipped CNN averages each face with its mirror image (chosen on PublicTest; the
# gain and its cost per face are in models/MODEL_CARD.md).
SHIPPED_TTA = True


def load_shipped(models_dir) -> EmotionCNN:
    """The shipped CNN (``models/cnn_fer7.keras``); the zoo checks its sha256 first."""
    return EmotionCNN.load(Path(models_dir) / "cnn_fer7.keras", tta=SHIPPED_TTA)
