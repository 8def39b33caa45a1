"""``nnunet-topo bench trainer``: seconds per training iteration of nnU-Net's trainer and each topology trainer.

All trainers run on the same machine, the same preprocessed dataset (DRIVE, converted with
``nnunet_topo.conversion.convert_drive`` and planned/preprocessed by nnU-Net, 2d configuration) and
the same pre-fetched batches, interleaved round by round so that load from other processes hits every
trainer alike. The topological term runs at its full weight (λ after warm-up and ramp). What is timed
is nnU-Net's own ``train_step`` (forward, loss, backward, optimiser step); data loading is excluded
(identical for every trainer). Ratios are medians over the same rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._common import write_json

__all__ = ["main", "bench_trainers", "TRAINERS"]

TRAINERS = ("nnUNetTrainer", "nnUNetTrainerTopoDense", "nnUNetTrainerTopoBettiMatching", "nnUNetTrainerClDice")
DATASET_ID = 951


def _default_source() -> Path:
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "DRIVE"


def _prepare(source: Path, work: Path, *, num_processes: int) -> Path:
    """Convert DRIVE and plan+preprocess it (2d) under ``work``; reuses a previous run's output."""
    from nnunet_topo.conversion.retina import convert_drive

    pre = work / "preprocessed"
    name = f"Dataset{DATASET_ID:03d}_DRIVEbench"
    if (pre / name / "nnUNetPlans.json").is_file() and (pre / name / "nnUNetPlans_2d").is_dir():
        return pre / name
    (work / "raw").mkdir(parents=True, exist_ok=True)
    if not (work / "raw" / name).is_dir():
        convert_drive(source, DATASET_ID, name="DRIVEbench", output_root=work / "raw", progress=True)
    env = dict(os.environ, nnUNet_raw=str(work / "raw"), nnUNet_preprocessed=str(pre),
               nnUNet_results=str(work / "results"))
    env.pop("nnUNet_n_proc_DA", None)  # nnU-Net's planner calls torch.set_num_threads(nnUNet_n_proc_DA)
    exe = Path(sys.executable).parent / "nnUNetv2_plan_and_preprocess"
    subprocess.run([str(exe), "-d", str(DATASET_ID), "-c", "2d", "-np", str(num_processes)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return pre / name


def _trainer_class(name: str):
    if name == "nnUNetTrainer":
        from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

        return nnUNetTrainer
    from nnunet_topo.training import variants

    if name not in variants.__all__:
        raise ValueError(f"--trainers: unknown trainer {name!r}; expected nnUNetTrainer or one of {variants.__all__}")
    return getattr(variants, name)


def bench_trainers(preprocessed: Path, trainers: tuple[str, ...], *, iterations: int, warmup: int,
                   seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Median seconds per ``train_step`` of each trainer on the same batches (see the module docstring)."""
    import numpy as np
    import torch
    from tqdm import tqdm

    plans_file = preprocessed / "nnUNetPlans.json"
    dataset_json = json.loads((preprocessed / "dataset.json").read_text())
    instances = {}
    for name in trainers:
        plans = json.loads(plans_file.read_text())
        plans["continue_training"] = False
        tr = _trainer_class(name)(plans=plans, configuration="2d", fold=0, dataset_json=dataset_json,
                                  device=torch.device("cpu"))
        torch.manual_seed(seed)
        tr.initialize()
        if hasattr(tr, "topo_weight"):  # full weight: the epoch after warm-up and ramp
            tr.current_epoch = tr.topo_warmup_epochs + tr.topo_ramp_epochs
        tr.on_train_epoch_start()
        instances[name] = tr
    first = instances[trainers[0]]
    dl_train, _ = first.get_dataloaders()
    np.random.seed(seed)
    batches = [next(dl_train) for _ in range(warmup + iterations)]
    times: dict[str, list[float]] = {n: [] for n in trainers}
    topo: dict[str, list[float]] = {n: [] for n in trainers}
    wrong: dict[str, list[int]] = {n: [] for n in trainers}
    for i, batch in enumerate(tqdm(batches, desc="bench trainer (rounds)", disable=not progress)):
        for name, tr in instances.items():
            loss = tr.loss
            if hasattr(loss, "reset_stats"):
                loss.reset_stats()
            t0 = time.perf_counter()
            tr.train_step(batch)
            dt = time.perf_counter() - t0
            if i < warmup:
                continue
            times[name].append(dt)
            if hasattr(loss, "stats"):
                topo[name].append(loss.stats["seconds"])
                wrong[name].append(loss.stats["num_wrong_features"])
    plain = statistics.median(times[trainers[0]])
    results = {}
    for name in trainers:
        med = statistics.median(times[name])
        results[name] = {
            "median_s_per_iteration": med,
            "min_s": min(times[name]),
            "max_s": max(times[name]),
            "times_s": times[name],
            "ratio_to_" + trainers[0]: med / plain,
            "median_s_topological_term": statistics.median(topo[name]) if topo[name] else None,
            "median_num_wrong_features": statistics.median(wrong[name]) if wrong[name] else None,
            "topo_weight": getattr(instances[name].loss, "weight", None),
        }
    cm = first.configuration_manager
    return {
        "config": {"configuration": "2d", "patch_size": list(cm.patch_size), "batch_size": first.batch_size,
                   "iterations": iterations, "warmup_iterations": warmup, "device": "cpu",
                   "torch_threads": torch.get_num_threads(), "seed": seed},
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nnunet-topo bench trainer",
        description="Seconds per training iteration of nnUNetTrainer and each topology trainer (DRIVE, 2d).",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results here (default: stdout)")
    parser.add_argument("--source", type=Path, default=_default_source(),
                        help="DRIVE source folder (default: ../shared/data/DRIVE beside the checkout)")
    parser.add_argument("--work", type=Path, help="folder for the converted/preprocessed dataset (kept; reused "
                        "when it already holds one). Default: a temporary folder, removed afterwards")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per trainer (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first iterations (default 1)")
    parser.add_argument("--trainers", nargs="+", default=list(TRAINERS),
                        help=f"trainers; the first is the reference of the ratios (default: {' '.join(TRAINERS)})")
    parser.add_argument("-np", type=int, default=2, help="processes for nnU-Net's preprocessing (default 2)")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 0:
        parser.error(f"--iterations must be >= 1 and --warmup >= 0, got {args.iterations} and {args.warmup}")
    if not args.source.is_dir():
        print(f"nnunet-topo bench trainer: DRIVE source folder not found: {args.source} (use --source)", file=sys.stderr)
        return 2
    for name in args.trainers:
        _trainer_class(name)  # fail on a typo before the long preparation
    os.environ.setdefault("nnUNet_n_proc_DA", "0")
    with tempfile.TemporaryDirectory(prefix="nnunet_topo_bench_trainer_") as tmp:
        work = args.work or Path(tmp)
        t0 = time.perf_counter()
        pre = _prepare(args.source.resolve(), work.resolve(), num_processes=args.np)
        prep_s = time.perf_counter() - t0
        os.environ["nnUNet_preprocessed"] = str(pre.parent)
        os.environ["nnUNet_results"] = str(work.resolve() / "results")
        os.environ["nnUNet_n_proc_DA"] = "0"
        payload = bench_trainers(pre, tuple(args.trainers), iterations=args.iterations, warmup=args.warmup)
    payload = {"benchmark": "trainer", "command": "nnunet-topo bench trainer " + " ".join(argv or []),
               "dataset": "DRIVE training set (20 images), converted by nnunet_topo.conversion.convert_drive",
               "preparation_s": prep_s, **payload}
    write_json(payload, args.json)
    if args.json:
        for name, r in payload["results"].items():
            print(f"{name:40s} {r['median_s_per_iteration']:.3f} s/it  x{r['ratio_to_' + args.trainers[0]]:.3f}")
    return 0
