"""Train, predict and evaluate one trainer on a planned nnU-Net dataset (the demo's and the benchmark's loop)."""
from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import pipeline

__all__ = ["TrainerRun", "run_trainer", "epoch_seconds", "trained_fold_dir"]

_EPOCH_TIME = re.compile(r"Epoch time: ([0-9.]+) s")


@dataclass
class TrainerRun:
    """What one trainer produced: timings (seconds), folders and the evaluator's summary."""

    trainer: str
    train_seconds: float
    predict_seconds: float
    seconds_per_iteration: float
    prediction_dir: Path
    summary_file: Path
    report_file: Path
    summary: dict[str, Any] = field(repr=False)


def trained_fold_dir(folders: pipeline.NnUNetFolders, dataset: str, trainer: str, fold: int | str = 0) -> Path:
    """``nnUNet_results/DATASET/TRAINER__nnUNetPlans__2d/fold_F``."""
    return folders.results / dataset / f"{trainer}__nnUNetPlans__2d" / f"fold_{fold}"


def epoch_seconds(fold_dir: Path) -> list[float]:
    """Wall seconds of each epoch, read from the newest nnU-Net training log in ``fold_dir``."""
    logs = sorted(fold_dir.glob("training_log_*.txt"))
    if not logs:
        return []
    return [float(m.group(1)) for m in _EPOCH_TIME.finditer(logs[-1].read_text())]


def run_trainer(
    trainer: str,
    *,
    dataset_id: int,
    folders: pipeline.NnUNetFolders,
    env: dict[str, str],
    budget: Mapping[str, int],
    images_dir: Path,
    labels_dir: Path,
    dataset_json: Mapping[str, Any],
    out_dir: Path,
    skip_train: bool = False,
    device: str = "cpu",
) -> TrainerRun:
    """Train ``trainer`` (fold 0), predict ``images_dir``, evaluate against ``labels_dir``.

    Writes ``out_dir/predictions/TRAINER``, ``out_dir/evaluation/TRAINER/{summary.json,report.html}`` and
    logs under ``out_dir/logs``. With ``skip_train`` an existing ``checkpoint_final.pth`` is reused.
    ``seconds_per_iteration`` is the median epoch time divided by the training iterations per epoch
    (it includes the epoch's few validation batches and nnU-Net's logging).

    Raises:
        pipeline.StepError: an nnU-Net step failed.
        FileNotFoundError: ``skip_train`` without a trained checkpoint.
    """
    from nnunet_topo.evaluation import evaluate_folder

    dataset = pipeline.dataset_name(folders, dataset_id)
    fold_dir = trained_fold_dir(folders, dataset, trainer)
    logs = out_dir / "logs"
    if skip_train:
        if not (fold_dir / "checkpoint_final.pth").is_file():
            raise FileNotFoundError(f"--skip-train: expected a trained model at {fold_dir / 'checkpoint_final.pth'}, "
                                    "found none; run once without --skip-train")
        train_s = math.nan
    else:
        train_s = pipeline.train(dataset_id, trainer, env=env, log_file=logs / f"train_{trainer}.log",
                                 epochs=int(budget["epochs"]), device=device)
    epochs = epoch_seconds(fold_dir)
    per_iter = statistics.median(epochs) / int(budget["iterations"]) if epochs else math.nan
    pred_dir = out_dir / "predictions" / trainer
    predict_s = pipeline.predict(dataset_id, trainer, images_dir, pred_dir, env=env,
                                 log_file=logs / f"predict_{trainer}.log", device=device)
    eval_dir = out_dir / "evaluation" / trainer
    summary = evaluate_folder(labels_dir, pred_dir, dict(dataset_json), output_file=eval_dir / "summary.json",
                              report_file=eval_dir / "report.html", images_dir=images_dir, progress=False)
    return TrainerRun(trainer=trainer, train_seconds=train_s, predict_seconds=predict_s,
                      seconds_per_iteration=per_iter, prediction_dir=pred_dir,
                      summary_file=eval_dir / "summary.json", report_file=eval_dir / "report.html", summary=summary)


def write_results_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Indented JSON written to a temporary file and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    tmp.replace(path)
