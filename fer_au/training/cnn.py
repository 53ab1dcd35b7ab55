"""Training the CNN (``fer_au.cnn`` holds the model and its inference): augmentation,
the training loop with its schedule, export of the inference file, and widening a
trained network (net2wider) to start a wider one from it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..cnn import DEPTHS, INPUT_SHAPE, WIDTHS, _keras, _stages, build_model


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


def photometric_batch(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Other cameras' photometry, each at random and independently: gamma (0.6-1.6),
    contrast (0.5-1.1 about the mean), blur (sigma 0.4-1.2 px), sensor noise
    (sigma 2-8 grey levels) and JPEG compression (quality 25-85).  FER2013's crops
    share one look; a webcam at dusk or a phone's JPEG does not."""
    import cv2

    out = np.empty_like(images)
    for i, img in enumerate(images):
        f = img.astype(np.float32)
        if rng.random() < 0.3:
            f = 255.0 * (f / 255.0) ** rng.uniform(0.6, 1.6)
        if rng.random() < 0.3:
            f = f.mean() + (f - f.mean()) * rng.uniform(0.5, 1.1)
        if rng.random() < 0.2:
            f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.4, 1.2))
        if rng.random() < 0.2:
            f = f + rng.normal(0.0, rng.uniform(2.0, 8.0), f.shape)
        g = np.clip(f + 0.5, 0, 255).astype(np.uint8)
        if rng.random() < 0.2:
            ok, buf = cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 86))])
            g = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else g
        out[i] = g
    return out


def _batches(images, labels, batch_size, n_classes, seed, photometric: bool = False,
             second_view=None, mixup: float = 0.0):
    """An endless stream of augmented, shuffled batches: one-hot for class codes,
    as given for (N, n_classes) soft targets (a teacher's probabilities, FER+ votes).
    With ``second_view`` each face drawn is taken from it or from ``images`` at random.
    With ``mixup`` > 0 each face is blended with another of its batch, images and
    targets alike, by a share drawn from Beta(mixup, mixup) (Zhang et al. 2018)."""
    rng = np.random.default_rng(seed)
    n = len(images)
    while True:
        order = rng.permutation(n)
        for s in range(0, n - batch_size + 1, batch_size):
            idx = order[s:s + batch_size]
            faces = images[idx]
            if second_view is not None:
                faces = np.where((rng.random(len(idx)) < 0.5)[:, None, None], second_view[idx], faces)
            x = augment_batch(faces, rng)
            if photometric:
                x = photometric_batch(x, rng)
            x = x[..., None].astype("float32")
            y = (labels[idx].astype("float32") if labels.ndim == 2
                 else np.eye(n_classes, dtype="float32")[labels[idx]])
            if mixup > 0:
                lam = rng.beta(mixup, mixup, len(idx)).astype("float32")
                other = rng.permutation(len(idx))
                x = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[other]
                y = lam[:, None] * y + (1 - lam[:, None]) * y[other]
            yield x, y


def train_cnn(x_train, y_train, x_val, y_val, out_dir, *, epochs: int = 30, batch_size: int = 64,
              lr: float = 1e-3, n_classes: int = 7, resume: bool = True, seed: int = 0,
              max_hours: float | None = None, init=None, widths=None, depths=None,
              verbose: int = 1, also_score: dict | None = None, photometric: bool = False,
              select=None, second_view=None, mixup: float = 0.0, keep: str = "best"):
    """Train (or resume training of) the CNN; returns the training history dict.

    ``y_train`` holds class codes, or (N, n_classes) soft targets, rows of
    probabilities (e.g. a teacher network's, for distillation: see
    :func:`distillation_targets`); with soft targets no label smoothing is added.
    ``y_val`` always holds class codes.

    ``out_dir`` receives last.keras, best.keras and state.json.  With
    ``max_hours`` training stops cleanly after the epoch that crosses the
    budget; calling again with ``resume=True`` picks up from there.

    ``init`` (a model file) starts a new run from trained weights instead of a
    random initialisation, first widened to ``widths`` when they are given
    (see :func:`widen`).  Without ``init``, ``widths`` sets the new network's widths.

    ``also_score``: ``{name: (images, codes)}`` scored after every epoch beside
    ``y_val`` and recorded as ``val_accuracy_<name>`` (e.g. PublicTest's FER+ labels);
    the best epoch is chosen on ``y_val``, or on ``also_score[select]`` when ``select``
    names one, or on the mean of several when it is a tuple of names ("val" is ``y_val``
    itself; state.json's ``best_val_accuracy`` is then that accuracy or mean).
    ``photometric`` adds :func:`photometric_batch` to the augmentation.  ``second_view``
    (same shape as ``x_train``: the same faces seen another way, e.g.
    :func:`analyzer_view`) is drawn from in place of ``x_train`` for half the faces.
    ``mixup`` (Beta's parameter; 0 = off) blends pairs of training faces and their targets.
    ``keep="last"`` makes best.keras the last epoch's weights whatever the scores say: for a
    run whose validation faces are also trained on, where no epoch can be chosen on them.
    """
    keras = _keras()
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    chosen_keys = _selection_keys(select, also_score)
    if second_view is not None and np.shape(second_view) != np.shape(x_train):
        raise ValueError(f"second_view has shape {np.shape(second_view)}, x_train {np.shape(x_train)}")

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
        if init is not None:
            model = keras.saving.load_model(init, compile=False)
            if widths is not None:
                model = widen(model, widths, seed=seed)
            state["init"] = {"from": str(init), "widths": list(_stages(model)[0])}
        else:
            model = build_model(n_classes, widths or WIDTHS, depths or DEPTHS)
        soft = np.ndim(y_train) == 2
        model.compile(optimizer=keras.optimizers.AdamW(schedule(), weight_decay=5e-4),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.0 if soft else 0.1),
                      metrics=["accuracy"])

    x_val = np.asarray(x_val)[..., None].astype("float32")
    y_val = np.asarray(y_val)
    also = {k: (np.asarray(x)[..., None].astype("float32"), np.asarray(y)) for k, (x, y) in (also_score or {}).items()}
    start = time.time()

    class EpochEnd(keras.callbacks.Callback):
        """Score PublicTest, keep best/last checkpoints and the history after every epoch."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.time()

        def accuracy(self, x, y) -> float:
            return float((self.model.predict(x, batch_size=256, verbose=0).argmax(1) == y).mean())

        def on_epoch_end(self, epoch, logs=None):
            val_acc = self.accuracy(x_val, y_val)
            state["epoch"] = epoch + 1
            record = {"epoch": epoch + 1, "loss": float(logs["loss"]),
                      "accuracy": float(logs["accuracy"]), "val_accuracy": val_acc,
                      "seconds": round(time.time() - self.t0, 1)}
            for name, (x, y) in also.items():
                record[f"val_accuracy_{name}"] = self.accuracy(x, y)
            state["history"].append(record)
            chosen = float(np.mean([record[k] for k in chosen_keys]))
            if chosen > state["best_val_accuracy"] or keep == "last":
                state["best_val_accuracy"] = chosen
                self.model.save(best)
            self.model.save(last)
            state_file.write_text(json.dumps(state, indent=1))
            if verbose:
                print(json.dumps(record), flush=True)
            if max_hours is not None and time.time() - start > max_hours * 3600:
                self.model.stop_training = True

    if state["epoch"] < epochs:
        # One fit() for all epochs: a fit() per epoch paid ~50 s of generator
        # start-up and tear-down most epochs on this CPU.
        stream = _batches(np.asarray(x_train), np.asarray(y_train), batch_size, n_classes,
                          seed + state["epoch"], photometric=photometric,
                          second_view=None if second_view is None else np.asarray(second_view),
                          mixup=mixup)
        model.fit(stream, steps_per_epoch=steps, epochs=epochs, initial_epoch=state["epoch"],
                  shuffle=False, callbacks=[EpochEnd()], verbose=verbose)
    return state


def _selection_keys(select, also_score) -> list[str]:
    """The history keys whose mean picks the best epoch (see ``train_cnn``'s ``select``)."""
    names = ["val"] if select is None else [select] if isinstance(select, str) else list(select)
    keys = []
    for name in names:
        if name != "val" and name not in (also_score or {}):
            raise ValueError(f"select={select!r}: {name!r} is not 'val' or one of also_score's names")
        keys.append("val_accuracy" if name == "val" else f"val_accuracy_{name}")
    return keys


def analyzer_view(images, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 crops (N, 48, 48) re-cut as the analyzer cuts a face from a photo:
    dlib's 68 points on the upsampled crop (``faces.crop_landmarks``, cached), then
    ``faces.align_face`` (eyes level, FER2013's average framing).  Faces without usable
    landmarks stay as they are.  Returns ``(crops uint8 (N, 48, 48), usable (N,) bool)``.

    FER2013's crops are roughly centred but not aligned, so a network trained on them
    alone sees a slightly different framing in the analyzer (PublicTest: 0.716 on the
    usable faces as they are, 0.695 re-cut, session 13)."""
    from .. import faces
    from ..au_models import aligned_crops

    images = np.asarray(images)
    landmarks, detected, residual = faces.crop_landmarks(images, progress=progress)
    ok = faces.usable(detected, residual)
    out = images.copy()
    out[ok] = aligned_crops(images[ok], landmarks[ok], 48)
    return out, ok


def ferplus_targets(ds, weight: float = 0.5) -> np.ndarray:
    """fer7 soft targets for ``ds`` (a ``FER2013`` with FER+ votes): ``weight`` times the
    FER+ voters' distribution over FER2013's seven classes plus ``1 - weight`` times
    FER2013's own label.  Images without an emotion vote (not a face, unknown) keep
    FER2013's label alone.  Rows sum to 1.

    The votes say what ten people saw (FER2013's label agrees with their majority on
    two thirds of the images); the FER2013 label keeps the network's answers on the
    scale of FER2013's test labels, which the shipped figures are measured on."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the FER+ weight must be in [0, 1], not {weight}")
    votes = ds.ferplus_distribution("fer7")
    onehot = np.eye(7, dtype=np.float64)[ds.y("fer7")]
    has = votes.sum(axis=1, keepdims=True) > 0
    return np.where(has, weight * votes + (1 - weight) * onehot, onehot).astype(np.float32)


def distillation_targets(teacher, images, labels, alpha: float = 0.7, n_classes: int = 7,
                         batch_size: int = 256) -> np.ndarray:
    """Soft targets for training a smaller network from a trained one: ``alpha`` times
    the teacher's probabilities (an estimator with ``predict_proba``, e.g. the shipped
    CNN with its mirror view) plus ``1 - alpha`` times the one-hot label.

    The teacher's probabilities carry what the label does not (which faces are
    ambiguous, which classes they are confused with); the label keeps the student
    anchored where the teacher is wrong.  Rows sum to 1.
    """
    proba = np.asarray(teacher.predict_proba(images, batch_size=batch_size), dtype=np.float64)
    onehot = np.eye(n_classes)[np.asarray(labels)]
    return (alpha * proba + (1 - alpha) * onehot).astype(np.float32)


def export_for_inference(checkpoint, target) -> Path:
    """Copy a checkpoint's weights into a fresh, uncompiled model file (no optimizer
    state: a third of the size, and nothing training-only to load)."""
    keras = _keras()

    trained = keras.saving.load_model(checkpoint, compile=False)
    model = build_model(trained.output_shape[-1], *_stages(trained))
    model.set_weights(trained.get_weights())
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    return target


def widen(model, widths, seed: int = 0, noise: float = 0.01):
    """A wider copy of ``model`` that computes (almost) the same function (Net2WiderNet,
    Chen et al. 2016), so a trained network can grow and keep training instead of
    starting over.

    Each stage's extra channels copy randomly chosen existing ones (conv kernel and
    BatchNorm alike); the next layer's weights from a copied channel are split
    among its copies so the sum it sees is unchanged.  A little noise on the copies'
    kernels (``noise`` x the kernel's std) lets them drift apart: under Adam, copies
    with identical inputs would otherwise get identical updates forever.
    """
    keras = _keras()

    rng = np.random.default_rng(seed)
    old_widths, depths = _stages(model)
    widths = tuple(widths)
    if len(widths) != len(old_widths) or any(n < o for n, o in zip(widths, old_widths)):
        raise ValueError(f"widths {widths} must not be narrower than {old_widths}")
    wide = build_model(model.output_shape[-1], widths, depths)
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    denses = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    incoming = None  # (copy map, share) of the channels feeding the next layer
    for s, (old, new) in enumerate(zip(old_widths, widths)):
        for i in range(depths[s]):
            kernel = model.get_layer(f"conv{s}_{i}").get_weights()[0]
            if incoming is not None:
                kernel = kernel[:, :, incoming[0], :] * incoming[1][None, None, :, None]
            copy_of = np.concatenate([np.arange(old), rng.integers(0, old, new - old)])
            kernel = kernel[..., copy_of]
            kernel[..., old:] += rng.normal(0, noise * kernel.std(), kernel[..., old:].shape)
            wide.get_layer(f"conv{s}_{i}").set_weights([kernel])
            wide.get_layer(f"bn{s}_{i}").set_weights(
                [w[copy_of] for w in model.get_layer(f"bn{s}_{i}").get_weights()])
            # random shares that sum to 1 over each channel's copies
            u = rng.uniform(0.5, 1.5, new)
            incoming = copy_of, u / np.bincount(copy_of, weights=u, minlength=old)[copy_of]
    # Flatten is (row, col, channel)-major: split the dense rows channel by channel
    kernel = denses[0].get_weights()[0]
    side = INPUT_SHAPE[0] // 2 ** len(widths)
    kernel = kernel.reshape(side, side, old_widths[-1], -1)[:, :, incoming[0], :]
    kernel = kernel * incoming[1][None, None, :, None]
    wide_denses = [l for l in wide.layers if isinstance(l, keras.layers.Dense)]
    wide_denses[0].set_weights([kernel.reshape(-1, kernel.shape[-1])])
    wide_denses[1].set_weights(denses[1].get_weights())
    wide_bns = [l for l in wide.layers if isinstance(l, keras.layers.BatchNormalization)]
    wide_bns[-1].set_weights(bns[-1].get_weights())
    return wide
