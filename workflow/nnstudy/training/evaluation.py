"""Evaluate one trained run on its test split -> ``metrics.json`` (the ``train`` job does it
after training, ``python -m nnstudy.training.job --evaluate``; tuning trials never do), and its
per-example test predictions -> ``predictions.npz`` (rule ``predict``,
``python -m nnstudy.training.evaluation``; format in :mod:`nnstudy.training.runfolder`).

``metrics.json``::

    {run_id, status, error, test_loss, test_accuracy, precision_macro, recall_macro, f1_macro,
     per_class: {precision: [...], recall: [...], f1: [...], support: [...]},
     confusion_matrix: [[...]] (row = true class, column = predicted),
     class_names: [...], train_seconds, epochs_run, eval_seconds}

``status`` and ``error`` come from train.json (``ok``, ``early_stopped``, ``diverged``,
``failed``). A ``diverged`` run is still evaluated (its weights as they were when training
stopped); a test loss that is not finite is written as null. A ``failed`` run has null
``test_loss``, ``test_accuracy``, macro scores, ``per_class`` and ``confusion_matrix``.
``test_loss`` is the mean cross-entropy without the L2 penalty. ``eval_seconds`` is the time
spent loading the test split and the model and evaluating (the job's share of the study's
compute, beside ``train_seconds``).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from nnstudy.config.runs import LOSS
from nnstudy.training.runfolder import file, read_json, write_predictions

BATCH = 4096
# What an evaluation reads from the prepared dataset's folder, besides the run's files.
EVAL_INPUTS = ("test.npz", "card.json")


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _classes(logits: np.ndarray) -> np.ndarray:
    """The predicted class of each row; a NaN output never wins (a diverged model's)."""
    return np.nan_to_num(logits, nan=-np.inf).argmax(axis=1)


def predict_classes(model, x) -> np.ndarray:
    """The class ``model`` predicts for each row of ``x``, in batches."""
    with np.errstate(all="ignore"):  # a diverged model may produce inf/NaN logits
        parts = [
            _classes(model.forward(np.asarray(x[i : i + BATCH]), training=False))
            for i in range(0, len(x), BATCH)
        ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)


def test_metrics(model, x, y, n_classes: int, loss: str = LOSS) -> dict[str, Any]:
    """Loss (the run's, without its L2 term), accuracy, macro and per-class
    precision/recall/F1 and the confusion matrix."""
    from nnlib import get_loss, metrics

    loss = get_loss(loss)
    total, preds = 0.0, []
    with np.errstate(all="ignore"):  # a diverged model may produce inf/NaN logits
        for i in range(0, len(x), BATCH):
            xb, yb = np.asarray(x[i : i + BATCH]), np.asarray(y[i : i + BATCH])
            logits = model.forward(model.check_input(xb), training=False)
            total += loss.forward(logits, yb) * len(xb)
            preds.append(_classes(logits))
    pred = np.concatenate(preds)
    y = np.asarray(y)
    prf = metrics.precision_recall_f1(y, pred, n_classes)
    return {
        "test_loss": _finite(total / len(x)),
        "test_accuracy": metrics.accuracy(y, pred),
        "precision_macro": prf["precision_macro"],
        "recall_macro": prf["recall_macro"],
        "f1_macro": prf["f1_macro"],
        "per_class": {k: prf[k].tolist() for k in ("precision", "recall", "f1", "support")},
        "confusion_matrix": metrics.confusion_matrix(y, pred, n_classes).tolist(),
    }


def evaluate_run(
    model_path: str | os.PathLike,
    train_json: str | os.PathLike,
    data_dir: str | os.PathLike,
    out_path: str | os.PathLike,
) -> dict[str, Any]:
    from nnlib import load_model
    from nnstudy.datasets import load_split

    info = json.loads(Path(train_json).read_text())
    card = json.loads((Path(data_dir) / "card.json").read_text())
    result: dict[str, Any] = {
        "run_id": info["run_id"],
        "status": info["status"],
        "error": info["error"],
        "test_loss": None,
        "test_accuracy": None,
        "precision_macro": None,
        "recall_macro": None,
        "f1_macro": None,
        "per_class": None,
        "confusion_matrix": None,
        "class_names": list(card["class_names"]),
        "train_seconds": info["train_seconds"],
        "epochs_run": info["epochs_run"],
    }
    started = time.perf_counter()
    if info["status"] != "failed":
        x, y = load_split(data_dir, "test")
        run = read_json(file(Path(model_path).parent, "config"))
        model = load_model(model_path)
        loss = run.get("loss", LOSS)
        result.update(test_metrics(model, x, y, int(card["n_classes"]), loss))
    result["eval_seconds"] = time.perf_counter() - started
    Path(out_path).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result


def write_run_predictions(
    run_dir: str | os.PathLike, data_dir: str | os.PathLike, out_path
) -> None:
    """``predictions.npz`` of one run: its saved model's class for every test example (none
    for a failed run), bound to the test split by the card's checksum of it."""
    from nnlib import load_model
    from nnstudy.datasets import load_split

    info = read_json(file(run_dir, "train"))
    card = read_json(Path(data_dir) / "card.json")
    pred = np.zeros(0, dtype=np.int16)
    if info["status"] != "failed":
        x, _ = load_split(data_dir, "test")
        pred = predict_classes(load_model(file(run_dir, "model")), x)
    write_predictions(out_path, pred, card["files"]["test.npz"])


PREDICT_INPUTS = ("test.npz", "card.json")


def main(argv: list[str] | None = None) -> None:
    """Entry point of rule ``predict``: ``python -m nnstudy.training.evaluation --run DIR
    --data DIR --out FILE --log FILE``."""
    import argparse

    from nnstudy.jobs.frame import job_frame

    parser = argparse.ArgumentParser(prog="python -m nnstudy.training.evaluation")
    parser.add_argument("--run", required=True, help="the run's folder")
    parser.add_argument("--data", required=True, help="prepared dataset folder")
    parser.add_argument("--out", required=True, help="predictions.npz to write")
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    inputs = [os.path.join(args.data, n) for n in PREDICT_INPUTS]
    inputs += [str(file(args.run, k)) for k in ("config", "model", "train")]
    with job_frame(inputs, [args.out], args.log):
        write_run_predictions(args.run, args.data, args.out)


if __name__ == "__main__":
    main()
