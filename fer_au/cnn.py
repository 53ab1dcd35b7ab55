"""The emotion CNN: a VGG-style Keras 3 network for 48x48 grey faces.

Written with ``keras`` only (no ``tf.*`` in the model), so it trains under any
Keras backend (TensorFlow on the CPU here; ``KERAS_BACKEND=torch`` on a GPU
machine) and the saved ``.keras`` file loads under TensorFlow.

Training is resumable: every epoch writes ``last.keras`` (weights + optimizer
state) and ``state.json``; the best epoch on the validation split (PublicTest)
is kept as ``best.keras``.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np


# TensorFlow >= 2.20 prints these through absl at import time, before any log level
# (TF_CPP_MIN_LOG_LEVEL included) applies; they say nothing a user can act on.
_TF_IMPORT_NOISE = re.compile(r"absl::InitializeLog\(\)|oneDNN custom operations are on")


def _keras():
    """``import keras`` (and TensorFlow under it) without TensorFlow's start-up chatter.

    The chatter comes from C++ straight to file descriptor 2, so stderr is caught
    at that level for the import and everything but the known lines is written back.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    import tempfile
    # set where keras is imported (not when fer_au.cnn is): the backend, and TensorFlow quiet
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import keras
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines(keepends=True):
                if not _TF_IMPORT_NOISE.search(line):
                    sys.stderr.write(line)
    return keras

INPUT_SHAPE = (48, 48, 1)
WIDTHS = (32, 64, 128, 256)
DEPTHS = (2, 2, 3, 3)


def build_model(n_classes: int = 7, widths=WIDTHS, depths=DEPTHS, dropout: float = 0.4):
    """VGG-style stacks of 3x3 conv + BatchNorm + ReLU, max-pooled 48->24->12->6->3.

    Input is raw 0..255 grey pixels; scaling happens inside the model so that
    callers never have to remember it.
    """
    keras = _keras()
    layers = keras.layers

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


def _stages(model) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(widths, depths) of a model made by build_model, read from its layer names."""
    stages: dict[int, list] = {}
    for layer in model.layers:
        if m := re.fullmatch(r"conv(\d+)_\d+", layer.name):
            stages.setdefault(int(m[1]), []).append(layer)
    convs = [stages[s] for s in sorted(stages)]
    return tuple(c[0].filters for c in convs), tuple(len(c) for c in convs)


def fold_batchnorm(model, precision: str = "float32"):
    """The same function as ``model`` (made by build_model) for inference only: each
    BatchNorm folded into the conv or dense layer before it (scaled kernel + bias),
    dropout left out, conv/dense and ReLU fused by TensorFlow's graph optimizer.

    Fewer ops per call matter at the 1-8 faces of a video frame, where the cost of
    each op beyond its arithmetic is a large share.  ``precision="bfloat16"`` computes
    the convolutions in bfloat16 (weights stay float32), except the first one and the
    dense head: the first sees raw pixels, whose detail bfloat16's 8-bit mantissa
    loses, and both are cheap.  (All in bfloat16, 33 of 9,589 Training+PublicTest
    answers differed from float32's; as built here, 7: bench/cnn_precision.py.)
    """
    keras = _keras()
    layers = keras.layers

    def folded(kernel, bn):
        gamma, beta, mean, var = bn.get_weights()
        scale = gamma / np.sqrt(var + bn.epsilon)
        return [kernel * scale, beta - mean * scale]

    widths, depths = _stages(model)
    inner = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    inp = keras.Input(INPUT_SHAPE, name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inp)
    for stage, (w, d) in enumerate(zip(widths, depths)):
        for i in range(d):
            x = layers.Conv2D(w, 3, padding="same", activation="relu", name=f"conv{stage}_{i}",
                              dtype="float32" if stage == i == 0 else inner)(x)
        x = layers.MaxPooling2D(name=f"pool{stage}", dtype=inner)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(model.get_layer("emotion").input.shape[-1], activation="relu", name="hidden")(x)
    out = layers.Dense(model.output_shape[-1], activation="softmax", name="emotion")(x)
    fast = keras.Model(inp, out, name="fer_au_cnn_inference")
    for stage, d in enumerate(depths):
        for i in range(d):
            fast.get_layer(f"conv{stage}_{i}").set_weights(folded(
                model.get_layer(f"conv{stage}_{i}").get_weights()[0], model.get_layer(f"bn{stage}_{i}")))
    hidden = [l for l in model.layers if isinstance(l, layers.Dense)][0]
    last_bn = [l for l in model.layers if isinstance(l, layers.BatchNormalization)][-1]
    fast.get_layer("hidden").set_weights(folded(hidden.get_weights()[0], last_bn))
    fast.get_layer("emotion").set_weights(model.get_layer("emotion").get_weights())
    return fast


def cpu_has_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware (AVX512-BF16 or AMX).

    Elsewhere oneDNN emulates bfloat16 and it is slower than float32, so the
    shipped CNN only runs in bfloat16 where this is true.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no cheap, reliable way to tell
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


PRECISIONS = ("float32", "bfloat16", "auto")


def resolve_precision(precision: str) -> str:
    """"float32" or "bfloat16" for one of PRECISIONS ("auto": bfloat16 where the CPU has it)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if cpu_has_bf16() else "float32"
    return precision


# The brightness (mean grey level) and contrast (standard deviation) of a face that FER2013's
# Training images span: the 10th and 90th percentiles over its 28,709 faces.
TRAINING_MEAN_RANGE = (85.97, 173.04)
TRAINING_STD_RANGE = (36.64, 71.92)


def clamp_photometry(faces: np.ndarray) -> np.ndarray:
    """(N, 48, 48) faces with brightness and contrast outside FER2013's usual range
    (``TRAINING_*_RANGE``) brought to its nearest edge by a linear map of the grey
    levels; faces inside it are returned unchanged, bit for bit.  A washed-out,
    dark or over-exposed camera image then looks more like the faces the CNN was
    trained on (PublicTest, the shipped CNN: contrast x0.3 0.616 -> 0.689, half the
    brightness 0.679 -> 0.689, gamma 2 0.666 -> 0.677, the faces as they are
    0.7086 -> 0.7083; MODEL_CARD)."""
    faces = np.asarray(faces)
    x = faces.astype(np.float32)
    mu = x.mean(axis=(1, 2), keepdims=True)
    sd = x.std(axis=(1, 2), keepdims=True)
    new_mu = np.clip(mu, *TRAINING_MEAN_RANGE)
    new_sd = np.clip(sd, *TRAINING_STD_RANGE)
    out = faces.copy() if faces.dtype == np.uint8 else x
    moved = ((new_mu != mu) | (new_sd != sd)).ravel()
    if moved.any():
        y = (x[moved] - mu[moved]) / np.maximum(sd[moved], 1e-3) * new_sd[moved] + new_mu[moved]
        out[moved] = np.clip(np.rint(y), 0, 255)
    return out


def _predict_proba(run, faces, batch_size: int, tta: bool, clamp: bool = False) -> np.ndarray:
    """Float64 probability rows for (N, 48, 48) faces, ``run`` mapping a float32
    (n, 48, 48, 1) batch to (n, 7) probabilities; with ``tta`` each face is averaged
    with its mirror image, both in one call (one dispatch, not two); with ``clamp``
    the faces' photometry is first brought into FER2013's range (``clamp_photometry``)."""
    faces = np.asarray(faces)
    if faces.ndim == 2:
        faces = faces[None]
    if faces.shape[1:3] != INPUT_SHAPE[:2]:
        raise ValueError(f"expected (N, 48, 48) faces, got shape {faces.shape}")
    if clamp:
        faces = clamp_photometry(faces)
    x = faces.reshape(len(faces), *INPUT_SHAPE).astype(np.float32)
    out = []
    for s in range(0, len(x), batch_size):
        chunk = x[s:s + batch_size]
        if tta:
            p = run(np.concatenate([chunk, chunk[:, :, ::-1]]))
            p = (p[:len(chunk)] + p[len(chunk):]) / 2
        else:
            p = run(chunk)
        out.append(p)
    # float64 rows that sum to 1, as every emotion model returns (float32 sums drift by 1e-7)
    p = np.concatenate(out).astype(np.float64) if out else np.zeros((0, 7))
    return p / p.sum(axis=1, keepdims=True) if len(p) else p


class EmotionCNN:
    """The shipped CNN as an estimator: ``predict_proba(faces)`` for (N, 48, 48) uint8 faces.

    Inference goes through one ``tf.function`` traced for any batch size, which
    costs a fraction of eager ``model(x)`` per call (see bench/accuracy.py).
    What runs is ``fold_batchnorm(model)``: the same function with fewer ops.
    ``tta=True`` also averages the horizontally flipped face (2x the work).
    ``precision="bfloat16"`` computes in bfloat16 (weights stay float32): on a CPU
    with bfloat16 hardware that is 20-35 % faster (bench/cnn_speed.py) for a change
    of a few faces in ten thousand; ``"auto"`` picks it only on such CPUs (see ``cpu_has_bf16``).
    ``clamp=True`` brings each face's brightness and contrast into FER2013's range first
    (``clamp_photometry``; the shipped models do).
    """

    classes_ = np.arange(7)          # fer7 codes: the columns of predict_proba (labels.FER7 names them)
    input_kind = "crop48"            # what the analyzer feeds it (zoo.INPUT_KINDS)

    def __init__(self, model, tta: bool = False, precision: str = "float32", clamp: bool = False):
        _keras()
        import tensorflow as tf

        precision = resolve_precision(precision)
        self.model = model
        self.precision = precision
        # what runs: BatchNorm folded away, in the chosen precision
        self.inference_model = fold_batchnorm(model, precision)
        self.tta, self.clamp = tta, clamp
        fast = self.inference_model
        self._forward = tf.function(
            lambda x: tf.cast(fast(x, training=False), tf.float32),
            input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)],
            reduce_retracing=True)

    @classmethod
    def load(cls, path, tta: bool = False, precision: str = "float32", clamp: bool = False) -> "EmotionCNN":
        keras = _keras()

        return cls(keras.saving.load_model(path, compile=False), tta=tta, precision=precision, clamp=clamp)

    def predict_proba(self, faces, batch_size: int = 256, tta: bool | None = None) -> np.ndarray:
        """(N, 7) probabilities; ``tta`` overrides the model's own for this call."""
        return _predict_proba(lambda x: self._forward(x).numpy(), faces, batch_size,
                              self.tta if tta is None else tta, self.clamp)

    def predict(self, faces) -> np.ndarray:
        return self.classes_[self.predict_proba(faces).argmax(axis=1)]


def export_tflite(model, path, quantize: bool = True) -> Path:
    """Write ``model`` (made by build_model) as a TFLite file for :class:`LiteCNN`.

    What is written is ``fold_batchnorm(model)`` with its weights frozen in and the
    batch size left open.  The file runs in LiteRT (``ai-edge-litert``, which the face
    mesh already uses) with XNNPACK, so inference needs no TensorFlow: loading it
    takes a fraction of a second where importing TensorFlow takes several.
    Converting does need TensorFlow (training time only).

    ``quantize=True`` (what ships) stores the weights as int8 (per output channel) and
    lets LiteRT quantize each layer's input on the fly ("dynamic range": no calibration
    set, the activations' ranges are those of the faces in the call).  Against float32
    (``quantize=False``): PublicTest 0.7097 vs 0.7083, a quarter of the file, and 7-9x
    less time per face on a CPU with VNNI/AMX int8 instructions (MODEL_CARD,
    ``bench/cnn_speed.py``); the same answers to float rounding it is not.
    """
    return _convert(fold_batchnorm(model, "float32"), path, quantize)


def _convert(folded, path, quantize: bool) -> Path:
    """Write a folded inference model (``fold_batchnorm``'s output) as TFLite."""
    _keras()
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: folded(x, training=False))
    frozen = convert_variables_to_constants_v2(
        fn.get_concrete_function(tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]   # no dataset given: dynamic range
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(converter.convert())
    return path


def folded_from_tflite(path):
    """The folded Keras model (``fold_batchnorm``'s form) a float32 TFLite export holds.

    For re-exporting a model whose ``.keras`` file is not kept (``cnn_ferplus``) in
    another form: ``quantize_tflite``.  Reads each CONV_2D / FULLY_CONNECTED op's
    weights and bias in graph order; a MAX_POOL_2D ends a stage.
    """
    from .mesh import _interpreter

    it = _interpreter(Path(path), 1)
    details = {t["index"]: t for t in it.get_tensor_details()}
    weights, depths = [], [0]
    for op in it._get_ops_details():
        if op["op_name"] == "MAX_POOL_2D":      # each stage ends in a pool
            depths.append(0)
        elif op["op_name"] in ("CONV_2D", "FULLY_CONNECTED"):
            w_index, b_index = op["inputs"][1:3]
            w = it.get_tensor(w_index)
            # the converter leaves out a bias that is all zeros (-1: no tensor)
            b = it.get_tensor(b_index) if b_index >= 0 else np.zeros(len(w), np.float32)
            if w.dtype != np.float32:
                raise ValueError(f"{path}: {details[w_index]['name']} is {w.dtype}: "
                                 "only a float32 export can be read back")
            # TFLite stores conv kernels as (out, h, w, in), dense as (out, in); Keras the other way round
            weights.append([w.transpose(1, 2, 3, 0) if w.ndim == 4 else w.T, b])
            depths[-1] += w.ndim == 4
    convs = [w for w in weights if w[0].ndim == 4]
    depths = [d for d in depths if d]
    widths, at = [], 0
    for d in depths:
        widths.append(convs[at + d - 1][0].shape[-1])
        at += d
    if len(weights) != len(convs) + 2:
        raise ValueError(f"{path}: not a CNN made by fer_au.cnn.build_model")
    reference = build_model(len(weights[-1][1]), tuple(widths), tuple(depths))
    folded = fold_batchnorm(reference, "float32")
    names = [f"conv{s}_{i}" for s, d in enumerate(depths) for i in range(d)] + ["hidden", "emotion"]
    for name, w in zip(names, weights):
        folded.get_layer(name).set_weights(w)
    return folded


def quantize_tflite(source, target) -> Path:
    """Write the dynamic-range int8 version (``export_tflite(quantize=True)``) of a
    float32 TFLite export."""
    return _convert(folded_from_tflite(source), target, quantize=True)


def default_threads() -> int:
    """Threads for one CNN call: ``TF_NUM_INTRAOP_THREADS`` if set, else the cores up to 4."""
    try:
        return max(1, int(os.environ["TF_NUM_INTRAOP_THREADS"]))
    except (KeyError, ValueError):
        return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else os.cpu_count() or 1))


class LiteCNN:
    """A CNN exported by :func:`export_tflite`, run in LiteRT: the same estimator as
    :class:`EmotionCNN` (``predict_proba`` on (N, 48, 48) uint8 faces, ``tta`` for the
    mirror view) without TensorFlow.  Its answers match the Keras model's to float32
    rounding (tests/test_cnn.py).

    ``threads``: LiteRT's threads per call; by default ``default_threads()``: the
    ``TF_NUM_INTRAOP_THREADS`` that ``cnn_keras`` obeys too (``analyze`` workers set 1),
    else every core up to 4.  On a 2-core AMD EPYC two threads take a batch in 55 %
    of one thread's time, and the CNN is most of a frame's work in ``live``.
    """

    classes_ = np.arange(7)
    input_kind = "crop48"

    def __init__(self, path, tta: bool = False, threads: int | None = None, clamp: bool = False):
        from .mesh import _interpreter

        self.path = Path(path)
        self.tta, self.clamp = tta, clamp
        self.threads = default_threads() if threads is None else int(threads)
        self._it = _interpreter(self.path, self.threads)
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]
        self._batch = int(self._it.get_input_details()[0]["shape"][0])

    def _run(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:          # re-plan only when the batch size changes
            self._it.resize_tensor_input(self._in, [len(x), *INPUT_SHAPE])
            self._it.allocate_tensors()
            self._batch = len(x)
        self._it.set_tensor(self._in, x)
        self._it.invoke()
        return self._it.get_tensor(self._out).copy()

    def predict_proba(self, faces, batch_size: int = 64, tta: bool | None = None) -> np.ndarray:
        """(N, 7) probabilities; ``tta`` overrides the model's own for this call."""
        return _predict_proba(lambda x: self._run(np.ascontiguousarray(x)), faces, batch_size,
                              self.tta if tta is None else tta, self.clamp)

    def predict(self, faces) -> np.ndarray:
        return self.classes_[self.predict_proba(faces).argmax(axis=1)]


# The shipped CNN averages each face with its mirror image (chosen on PublicTest; the
# gain and its cost per face are in models/MODEL_CARD.md).  `cnn` runs the TFLite export
# (no TensorFlow import: analyze and live start seconds sooner); `cnn_keras` runs the
# .keras file it was exported from in TensorFlow, in bfloat16 where the CPU has it.
SHIPPED_TTA = True
SHIPPED_PRECISION = "auto"
# ... and brings a face's brightness and contrast into FER2013's usual range first
# (``clamp_photometry``: chosen on PublicTest in session 10, MODEL_CARD).
SHIPPED_CLAMP = True


def load_shipped(models_dir, file: str = "cnn_fer7.tflite") -> LiteCNN:
    """The shipped CNN (``models/cnn_fer7.tflite``); the zoo checks its sha256 first."""
    return LiteCNN(Path(models_dir) / file, tta=SHIPPED_TTA, clamp=SHIPPED_CLAMP)


def load_shipped_ferplus(models_dir) -> LiteCNN:
    """The CNN fine-tuned on FER+'s vote distributions (``models/cnn_voters_fer7.tflite``):
    closer to what ten people see in a face, further from FER2013's own labels."""
    return load_shipped(models_dir, "cnn_voters_fer7.tflite")


def load_shipped_keras(models_dir) -> EmotionCNN:
    """The same CNN from ``models/cnn_fer7.keras`` in TensorFlow (the training format)."""
    return EmotionCNN.load(Path(models_dir) / "cnn_fer7.keras", tta=SHIPPED_TTA, clamp=SHIPPED_CLAMP,
                           precision=SHIPPED_PRECISION)
