"""`python cli.py train cnn`: the Keras CNN (hours on a 2-core CPU, minutes on a GPU)."""
from __future__ import annotations

import json
from pathlib import Path


def add_parser(tsub):
    p = tsub.add_parser("cnn", help="the Keras CNN (resumable)",
                        description="Train the VGG-style CNN on Training with augmentation, pick the "
                                    "best epoch on PublicTest, and ship it as models/cnn_fer7.keras (and its TFLite export cnn_fer7.tflite, what `cnn` runs). "
                                    "Checkpoints go to --workdir every epoch; running the same command "
                                    "again resumes where it stopped.")
    p.add_argument("--data", required=True, help="fer2013.csv[.gz] or its folder")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW, cosine decay)")
    p.add_argument("--workdir", default="runs/cnn", help="checkpoints and state.json")
    p.add_argument("--fresh", action="store_true", help="ignore existing checkpoints and start over")
    p.add_argument("--max-hours", type=float, default=None,
                   help="stop after the epoch that crosses this budget (resume later)")
    p.add_argument("--models-dir", default=None, help="where to ship the model (default models/)")
    p.add_argument("--init", default=None, metavar="MODEL.keras",
                   help="start a new run from this trained model instead of random weights")
    p.add_argument("--widths", default=None, metavar="W0,W1,W2,W3",
                   help="channels per stage (default 32,64,128,256); with --init the trained "
                        "model is widened to them first, keeping what it computes")
    p.add_argument("--targets", choices=("fer2013", "ferplus"), default="fer2013",
                   help="what the network learns: FER2013's labels (default), or FER+'s vote "
                        "distributions mixed with them (needs fer2013new.csv beside the CSV or "
                        "--ferplus); PublicTest's FER+ accuracy is recorded every epoch either way "
                        "when the votes are there")
    p.add_argument("--ferplus", default="auto", metavar="fer2013new.csv",
                   help="the FER+ votes (default: looked for beside the FER2013 CSV)")
    p.add_argument("--ferplus-weight", type=float, default=0.5, metavar="W",
                   help="with --targets ferplus: W x the FER+ vote shares + (1-W) x FER2013's label "
                        "(default 0.5; 1 = the votes alone)")
    p.add_argument("--photometric", action="store_true",
                   help="also vary gamma, contrast, blur, noise and JPEG quality (other cameras' "
                        "photometry) in the augmentation")
    p.add_argument("--aligned", action="store_true",
                   help="also show the network each Training face re-cut as the analyzer cuts a face "
                        "from a photo (dlib's points, then eyes level in FER2013's average framing; "
                        "half the draws), and score PublicTest re-cut too (val_accuracy_aligned). "
                        "The landmarks are cached; a first run computes them (~15 min)")
    p.add_argument("--select-on", choices=("fer2013", "ferplus", "aligned", "fer2013+aligned"),
                   default="fer2013",
                   help="which PublicTest accuracy picks the best epoch: FER2013's labels (default), "
                        "FER+'s majority labels (for a model trained on the votes), FER2013's labels "
                        "on the re-cut faces (--aligned), or the mean of the plain and re-cut ones")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="blend pairs of training faces and their targets by a share drawn from "
                        "Beta(ALPHA, ALPHA) (mixup; 0.2 is usual; default 0 = off)")
    p.add_argument("--train-on", choices=("Training", "Training+PublicTest"), default="Training",
                   help="the faces it learns from. Training+PublicTest adds PublicTest's 3,589 faces "
                        "for a recipe already chosen on PublicTest: no epoch can be chosen on faces "
                        "it trains on, so the last epoch ships (PublicTest's scores are still "
                        "printed, but they are no longer a test); PrivateTest stays unseen")
    p.add_argument("--seed", type=int, default=0)
    return p


def _widths(text):
    if text is None:
        return None
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise SystemExit(f"error: --widths wants four positive integers like 32,64,192,384, got {text!r}")
    return widths


def _history(state_file: Path, init) -> dict:
    """The run's state.json; a run started from --init also carries the history that
    sits beside the init model, so the curves go back to the first epoch."""
    history = json.loads(state_file.read_text())
    parent = Path(init).parent / "cnn_history.json" if init else None
    if parent is not None and parent.exists():
        history["init"]["history"] = json.loads(parent.read_text())
    return history


def run(args) -> int:
    from .. import zoo
    from ..data import load_fer2013
    from ..labels import ferplus_majority
    from ..training.cnn import analyzer_view, ferplus_targets, train_cnn

    widths = _widths(args.widths)
    if args.mixup < 0:
        raise SystemExit(f"error: --mixup must be >= 0, got {args.mixup}")
    if not 0.0 <= args.ferplus_weight <= 1.0:
        raise SystemExit(f"error: --ferplus-weight must be in [0, 1], got {args.ferplus_weight}")
    ds = load_fer2013(args.data, ferplus=args.ferplus)
    if args.targets == "ferplus" and ds.ferplus_votes is None:
        raise SystemExit("error: --targets ferplus needs the FER+ votes (fer2013new.csv): put it beside "
                         "the FER2013 CSV or pass --ferplus PATH")
    tr, va = ds.split(*args.train_on.split("+")), ds.split("PublicTest")
    # no epoch can be chosen on faces it trains on: with PublicTest learnt, the last one ships
    keep = "best" if args.train_on == "Training" else "last"
    if keep == "last":
        print("training on Training and PublicTest: the last epoch ships, PublicTest's scores are not a test")
    also = {}
    if va.ferplus_votes is not None:       # PublicTest's FER+ majority labels, fer7 images only
        y8 = ferplus_majority(va.ferplus_votes, "fer7")
        if (y8 >= 0).any():
            also["ferplus"] = (va.images[y8 >= 0], y8[y8 >= 0])
    if args.select_on == "ferplus" and "ferplus" not in also:
        raise SystemExit("error: --select-on ferplus needs the FER+ votes (fer2013new.csv)")
    if "aligned" in args.select_on and not args.aligned:
        raise SystemExit(f"error: --select-on {args.select_on} needs --aligned")
    second_view = None
    if args.aligned:
        print("re-cutting the faces as the analyzer does (dlib's landmarks, cached after the first run)")
        second_view, _ = analyzer_view(tr.images, progress=True)
        also["aligned"] = (analyzer_view(va.images)[0], va.y())
    select = {"fer2013": None, "ferplus": "ferplus", "aligned": "aligned",
              "fer2013+aligned": ("val", "aligned")}[args.select_on]
    y_train = ferplus_targets(tr, args.ferplus_weight) if args.targets == "ferplus" else tr.y()
    state = train_cnn(tr.images, y_train, va.images, va.y(), args.workdir, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, resume=not args.fresh,
                      seed=args.seed, max_hours=args.max_hours, init=args.init,
                      widths=widths, verbose=1, also_score=also, photometric=args.photometric,
                      select=select, second_view=second_view, mixup=args.mixup,
                      keep=keep)
    if state["epoch"] < args.epochs:
        print(f"stopped at epoch {state['epoch']}/{args.epochs}; run the same command to resume")
        return 0
    models_dir = Path(args.models_dir or zoo.MODELS_DIR)
    from ..training.cnn import export_for_inference
    # the learning curves travel with the model (the NeuralNetwork notebook plots them),
    # read before the export below may overwrite the --init model's own history
    history = _history(Path(args.workdir) / "state.json", args.init)
    shipped = export_for_inference(Path(args.workdir) / "best.keras", models_dir / "cnn_fer7.keras")
    from ..cnn import _keras, export_tflite
    # what `cnn` runs: the same network as TFLite, so inference needs no TensorFlow
    export_tflite(_keras().saving.load_model(shipped, compile=False), models_dir / "cnn_fer7.tflite")
    (models_dir / "cnn_history.json").write_text(json.dumps(history, indent=1) + "\n")
    zoo.write_manifest(models_dir)
    which = "best" if keep == "best" else "last epoch's (trained on, not a test)"
    print(f"{which} PublicTest accuracy {state['best_val_accuracy']:.4f}; shipped {models_dir / 'cnn_fer7.keras'}")
    return 0
