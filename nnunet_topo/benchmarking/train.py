"""``nnunet-topo bench train``: all trainers on real data, same budget and seeds, one comparison table.

Converts the dataset from ``../shared/data`` with the package's converter, optionally reduces its
in-plane resolution, plans and preprocesses it with nnU-Net (2D), writes one fixed train/validation
split, then for each seed and trainer: trains with the fixed budget, predicts the validation cases,
evaluates them with the topology evaluator. Writes a JSON (``--json``) with every run, the mean and
standard deviation over seeds, the exact budget and the machine, and prints a Markdown table.

Budgets (per trainer and seed; the same for all five trainers):

* ``tiny``: smoke run of the whole chain (2 epochs x 5 iterations, resolution / 4). Its numbers say
  nothing about the methods; the JSON and the table are labelled ``SMOKE RUN``.
* ``small``: 10 epochs x 50 iterations (500 steps), resolution / 2; designed to fit in <= 2 h for the
  five trainers on DRIVE on a free 2-core CPU.
* ``full``: 200 epochs x 250 iterations at full resolution, for a GPU (``--device cuda``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BUDGETS", "TRAINERS", "DATASETS", "main", "build_parser", "reduce_png_dataset", "reduce_nifti_dataset"]

BUDGETS: dict[str, dict[str, int]] = {
    "tiny": {"epochs": 2, "iterations": 5, "val_iterations": 2, "downscale": 4},
    "small": {"epochs": 10, "iterations": 50, "val_iterations": 5, "downscale": 2},
    "full": {"epochs": 200, "iterations": 250, "val_iterations": 50, "downscale": 1},
}
TRAINERS = (
    "nnUNetTrainer_bench",
    "nnUNetTrainerTopoBetti_bench",
    "nnUNetTrainerTopoBettiMatching_bench",
    "nnUNetTrainerTopoDense_bench",
    "nnUNetTrainerClDice_bench",
)
# dataset -> (source folder under the data root, nnU-Net dataset ID, number of validation cases)
DATASETS: dict[str, tuple[str, int, int]] = {"drive": ("DRIVE", 981, 5), "myops": ("MyoPS2020", 982, 5)}


def _default_data_root() -> Path:
    here = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("NNUNET_TOPO_SHARED_DATA", here.parent / "shared" / "data"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nnunet-topo bench train", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    p.add_argument("--budget", choices=sorted(BUDGETS), required=True,
                   help="tiny = smoke run (not results), small = 2-core CPU, full = GPU")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (default 0)")
    p.add_argument("--trainers", nargs="+", default=list(TRAINERS), help="default: all five")
    p.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    p.add_argument("--iterations", type=int, default=None, help="override the budget's iterations per epoch")
    p.add_argument("--data-root", default=None, help="folder with DRIVE/ and MyoPS2020/ (default ../shared/data)")
    p.add_argument("--workdir", default="bench_work", help="work folder for the nnU-Net folders (default ./bench_work)")
    p.add_argument("-device", "--device", default="cpu")
    p.add_argument("--json", default=None, help="write the results JSON here")
    return p


# ----------------------------------------------------------------------------------- resolution

def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    h, w = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    a = a[:h, :w].astype(np.float64)
    return a.reshape(h // f, f, w // f, f, *a.shape[2:]).mean(axis=(1, 3))


def _block_max(a: np.ndarray, f: int) -> np.ndarray:
    h, w = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    return a[:h, :w].reshape(h // f, f, w // f, f).max(axis=(1, 3))


def reduce_png_dataset(src: Path, dst: Path, factor: int) -> Path:
    """Copy a 2D PNG nnU-Net raw dataset with its resolution divided by ``factor``.

    Images: ``factor x factor`` block means (RGB or grey, uint8). Labels: block maximum, so an
    8-connected thin vessel stays 8-connected (two 8-adjacent pixels fall in equal or 8-adjacent
    blocks); nearby vessels may merge. Labels must be ordered so that the highest value wins (true for
    ``vessel = 1`` and ``ignore = 2``). Written to a temporary folder and renamed.
    """
    from PIL import Image

    if factor < 1:
        raise ValueError(f"reduce_png_dataset: expected factor >= 1, got {factor}")
    tmp = dst.with_name(f".{dst.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        if not (src / sub).is_dir():
            continue
        (tmp / sub).mkdir(parents=True)
        for f in sorted((src / sub).glob("*.png")):
            a = np.asarray(Image.open(f))
            out = _block_max(a, factor) if sub.startswith("labels") else np.clip(_block_mean(a, factor) + 0.5, 0, 255)
            Image.fromarray(out.astype(np.uint8)).save(tmp / sub / f.name)
    dj = json.loads((src / "dataset.json").read_text())
    dj["description"] = dj.get("description", "") + f"; resolution divided by {factor} (nnunet-topo bench train)"
    (tmp / "dataset.json").write_text(json.dumps(dj, indent=2) + "\n")
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst


def reduce_nifti_dataset(src: Path, dst: Path, factor: int) -> Path:
    """Copy a NIfTI nnU-Net raw dataset with the in-plane resolution (last two array axes) divided by ``factor``.

    Images: block means; labels: every ``factor``-th pixel (nearest); spacing scaled accordingly.
    """
    import SimpleITK as sitk

    tmp = dst.with_name(f".{dst.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        if not (src / sub).is_dir():
            continue
        (tmp / sub).mkdir(parents=True)
        for f in sorted((src / sub).glob("*.nii.gz")):
            img = sitk.ReadImage(str(f))
            a = sitk.GetArrayFromImage(img)  # (z, y, x)
            if sub.startswith("labels"):
                h, w = (a.shape[1] // factor) * factor, (a.shape[2] // factor) * factor
                out = a[:, :h:factor, :w:factor]
            else:
                out = np.stack([_block_mean(s, factor) for s in a]).astype(np.float32)
            new = sitk.GetImageFromArray(np.ascontiguousarray(out))
            sx, sy, sz = img.GetSpacing()
            new.SetSpacing((sx * factor, sy * factor, sz))
            new.SetOrigin(img.GetOrigin())
            new.SetDirection(img.GetDirection())
            sitk.WriteImage(new, str(tmp / sub / f.name))
    shutil.copy(src / "dataset.json", tmp / "dataset.json")
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst


# ----------------------------------------------------------------------------------- data set up

def prepare_dataset(dataset: str, data_root: Path, raw_root: Path, factor: int) -> tuple[Path, int]:
    """Convert ``dataset`` from ``data_root`` into ``raw_root`` (reduced by ``factor``); return (folder, ID)."""
    from nnunet_topo.conversion import convert_drive, convert_myops

    folder_name, dataset_id, _ = DATASETS[dataset]
    source = data_root / folder_name
    if not source.is_dir():
        raise ValueError(f"--data-root: expected {source} (the {folder_name} dataset), found no such folder")
    staging = raw_root.parent / "conversion_staging"
    staging.mkdir(parents=True, exist_ok=True)
    for old in raw_root.glob(f"Dataset{dataset_id:03d}_*"):
        shutil.rmtree(old)
    convert = convert_drive if dataset == "drive" else convert_myops
    full = Path(convert(source, dataset_id, output_root=staging, overwrite=True, progress=True))
    suffix = "" if factor == 1 else f"_div{factor}"
    dst = raw_root / f"{full.name}{suffix}"
    if factor == 1:
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(full, dst)
    elif dataset == "drive":
        reduce_png_dataset(full, dst, factor)
    else:
        reduce_nifti_dataset(full, dst, factor)
    shutil.rmtree(full)
    return dst, dataset_id


def _case_ids(raw: Path, file_ending: str) -> list[str]:
    return sorted(p.name[: -len(file_ending)] for p in (raw / "labelsTr").glob(f"*{file_ending}"))


def _link_cases(raw: Path, ids: list[str], file_ending: str, images: Path, labels: Path) -> None:
    for d in (images, labels):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    for case in ids:
        for f in (raw / "imagesTr").glob(f"{case}_[0-9][0-9][0-9][0-9]{file_ending}"):
            os.symlink(f, images / f.name)
        os.symlink(raw / "labelsTr" / f"{case}{file_ending}", labels / f"{case}{file_ending}")


# ----------------------------------------------------------------------------------- main

def _skipped_trainers(trainers: list[str], dataset_json: dict[str, Any]) -> dict[str, str]:
    """Trainers that cannot run on this dataset, with the reason (TopoBetti needs a Betti prior)."""
    from nnunet_topo.topology import TopologySpec

    spec = TopologySpec.from_dataset_json(dataset_json)
    has_prior = spec is not None and bool(spec.priors())
    return {t: "dataset.json gives no Betti prior (DRIVE: vessel crossings make loops and the number of "
               "trees varies, so the converter sets none)"
            for t in trainers if t.startswith("nnUNetTrainerTopoBetti_") and not has_prior}


def _aggregate(runs: list[dict[str, Any]], trainers: list[str]) -> list[dict[str, Any]]:
    keys = ("Dice", "clDice", "Betti0_error", "Betti1_error", "BettiMatching_error", "prior_ok",
            "seconds_per_iteration", "train_seconds")
    rows = []
    for t in trainers:
        mine = [r for r in runs if r["trainer"] == t]
        row: dict[str, Any] = {"trainer": t, "seeds": [r["seed"] for r in mine]}
        for k in keys:
            vals = [r[k] for r in mine if not math.isnan(r.get(k, math.nan))]
            row[k] = statistics.fmean(vals) if vals else math.nan
            row[f"{k}_std"] = statistics.stdev(vals) if len(vals) > 1 else math.nan
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if any(s < 0 for s in args.seeds):
        parser.error(f"--seeds: expected non-negative integers, got {args.seeds}")
    for name in ("epochs", "iterations"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name}: expected a positive integer, got {getattr(args, name)}")

    from nnunet_topo.demo import pipeline
    from nnunet_topo.demo.experiment import run_trainer
    from nnunet_topo.demo.report import comparison_row, format_table

    from ._common import write_json

    budget_def = dict(BUDGETS[args.budget])
    factor = budget_def.pop("downscale")
    overridden = args.epochs is not None or args.iterations is not None
    budget_def["epochs"] = args.epochs or budget_def["epochs"]
    budget_def["iterations"] = args.iterations or budget_def["iterations"]
    smoke = args.budget == "tiny" or overridden
    label = "SMOKE RUN (checks the chain; not results)" if smoke else f"{args.budget} budget"
    data_root = Path(args.data_root) if args.data_root else _default_data_root()
    workdir = Path(args.workdir).resolve()
    start = time.perf_counter()
    try:
        folders = pipeline.resolve_folders(workdir, use_environment=False)
        print(f"[bench train] {args.dataset}, {label}: {budget_def['epochs']} epochs x {budget_def['iterations']} "
              f"iterations per trainer and seed, resolution / {factor}, seeds {args.seeds}\n{folders.describe()}",
              flush=True)
        raw, dataset_id = prepare_dataset(args.dataset, data_root, folders.raw, factor)
        dataset_json = json.loads((raw / "dataset.json").read_text())
        env = pipeline.nnunet_env(folders, budget={**budget_def, "seed": args.seeds[0]})
        logs = workdir / "logs"
        print("[bench train] nnU-Net plan and preprocess (2d)", flush=True)
        plan_s = pipeline.plan_and_preprocess(dataset_id, env=env, log_file=logs / "plan_and_preprocess.log")
        ids = _case_ids(raw, dataset_json["file_ending"])
        num_val = DATASETS[args.dataset][2]
        train_ids, val_ids = ids[:-num_val], ids[-num_val:]
        pipeline.write_single_split(folders.preprocessed / raw.name, train_ids, val_ids)
        val_images, val_labels = workdir / "val_images", workdir / "val_labels"
        _link_cases(raw, val_ids, dataset_json["file_ending"], val_images, val_labels)
        runs = []
        skipped = _skipped_trainers(args.trainers, dataset_json)
        for trainer, why in skipped.items():
            print(f"[bench train] {trainer}: skipped ({why})", flush=True)
        for seed in args.seeds:
            env = pipeline.nnunet_env(folders, budget={**budget_def, "seed": seed})
            for trainer in args.trainers:
                if trainer in skipped:
                    continue
                run = run_trainer(trainer, dataset_id=dataset_id, folders=folders, env=env,
                                  budget={**budget_def, "seed": seed}, images_dir=val_images, labels_dir=val_labels,
                                  dataset_json=dataset_json, out_dir=workdir / f"seed_{seed}", device=args.device)
                row = comparison_row(trainer, run.summary, seconds_per_iteration=run.seconds_per_iteration,
                                     train_seconds=run.train_seconds)
                row.update(seed=seed, predict_seconds=run.predict_seconds, summary_file=str(run.summary_file))
                print(f"[bench train] seed {seed} {trainer}: Dice {row['Dice']:.3f}, BM err "
                      f"{row['BettiMatching_error']:.2f}, {row['seconds_per_iteration']:.2f} s/iter", flush=True)
                runs.append(row)
    except (pipeline.StepError, ValueError, FileNotFoundError) as e:
        print(f"nnunet-topo bench train: {e}", file=sys.stderr)
        return 1
    rows = _aggregate(runs, [t for t in args.trainers if t not in skipped])
    rows += [{"trainer": t, "skipped": why} for t, why in skipped.items()]
    table = format_table(rows, markdown=True)
    wall = time.perf_counter() - start
    command = "nnunet-topo bench train " + " ".join(argv if argv is not None else sys.argv[2:])
    print(f"\n{label}; {args.dataset}; validation cases {val_ids}; wall {wall / 60:.1f} min\n{table}")
    payload = {
        "benchmark": "train",
        "label": label,
        "smoke_run": smoke,
        "command": command.strip(),
        "dataset": args.dataset,
        "budget_name": args.budget,
        "budget": budget_def,
        "downscale": factor,
        "seeds": args.seeds,
        "device": args.device,
        "train_cases": train_ids,
        "validation_cases": val_ids,
        "plan_seconds": plan_s,
        "wall_seconds": wall,
        "seconds_per_iteration_note": "median epoch time / training iterations per epoch (includes the epoch's "
                                      "validation batches and nnU-Net's logging)",
        "rows": rows,
        "skipped": skipped,
        "runs": runs,
        "table_markdown": table,
    }
    if args.json:
        write_json(payload, args.json)
        print(f"[bench train] JSON: {args.json}")
    return 0
