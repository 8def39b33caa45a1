"""``nnunet-topo demo``: the embedded dataset end to end, plain nnU-Net against a topological trainer.

Steps: generate the synthetic dataset (no download) -> nnU-Net plan and preprocess (2D) -> train each
trainer with the same budget and seed on CPU -> predict the held-out cases -> evaluate with the
topology evaluator -> print a comparison table, write ``report.html`` and ``results.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["main", "build_parser", "DEFAULT_TRAINERS", "DEFAULT_BUDGET"]

DEFAULT_TRAINERS = ("nnUNetTrainer_demo", "nnUNetTrainerTopoDense_demo")
DEFAULT_BUDGET = {"epochs": 8, "iterations": 40, "val_iterations": 4}
NUM_VAL = 4  # training cases held out for nnU-Net's own validation (fold 0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nnunet-topo demo",
        description="Generate the embedded 2D demo dataset, train plain nnU-Net and nnUNetTrainerTopoDense "
        "for the same short budget on CPU, predict the held-out cases, evaluate their topology and compare.",
    )
    p.add_argument("--workdir", default="demo_work", help="work folder (default ./demo_work); nnU-Net folders go "
                   "here unless nnUNet_raw/_preprocessed/_results are all set")
    p.add_argument("--epochs", type=int, default=DEFAULT_BUDGET["epochs"], help="epochs per trainer (default %(default)s)")
    p.add_argument("--iterations", type=int, default=DEFAULT_BUDGET["iterations"],
                   help="training iterations per epoch (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the dataset and of the training (default 0)")
    p.add_argument("--num-train", type=int, default=24, help="training cases (default %(default)s)")
    p.add_argument("--num-test", type=int, default=6, help="held-out test cases (default %(default)s)")
    p.add_argument("--dataset-id", type=int, default=990, help="nnU-Net dataset ID (default %(default)s)")
    p.add_argument("--trainers", nargs="+", default=list(DEFAULT_TRAINERS),
                   help="trainer classes, all with the same budget (default: %(default)s)")
    p.add_argument("--skip-train", action="store_true", help="reuse the trained models of an earlier run")
    p.add_argument("--no-env", action="store_true", help="ignore nnUNet_* variables; always use the work folder")
    p.add_argument("-device", "--device", default="cpu", help="torch device for nnU-Net (default cpu)")
    return p


def _check_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    for name in ("epochs", "iterations", "num_test"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(a, name)}")
    if a.num_train < NUM_VAL + 2:
        p.error(f"--num-train: expected at least {NUM_VAL + 2} (4 are nnU-Net's validation cases), got {a.num_train}")
    if a.seed < 0:
        p.error(f"--seed: expected a non-negative integer, got {a.seed}")
    if not 1 <= a.dataset_id <= 999:
        p.error(f"--dataset-id: expected 1..999, got {a.dataset_id}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)

    from . import pipeline
    from .data import write_demo_dataset
    from .experiment import run_trainer, write_results_json
    from .report import comparison_row, format_table, write_comparison_report

    start = time.perf_counter()
    workdir = Path(args.workdir).resolve()
    try:
        folders = pipeline.resolve_folders(workdir, use_environment=not args.no_env)
    except ValueError as e:
        print(f"nnunet-topo demo: {e}", file=sys.stderr)
        return 2
    print(f"Work folder: {workdir}\n{folders.describe()}", flush=True)
    clash = [p.name for p in folders.raw.glob(f"Dataset{args.dataset_id:03d}_*") if p.name != f"Dataset{args.dataset_id:03d}_TopoDemo"]
    if clash:
        print(f"nnunet-topo demo: dataset ID {args.dataset_id} is taken by {clash} in {folders.raw}; "
              "pick another with --dataset-id", file=sys.stderr)
        return 2

    budget = {"epochs": args.epochs, "iterations": args.iterations,
              "val_iterations": DEFAULT_BUDGET["val_iterations"], "seed": args.seed}
    env = pipeline.nnunet_env(folders, budget=budget)
    logs = workdir / "logs"
    try:
        print(f"[1/4] writing the demo dataset ({args.num_train} training + {args.num_test} test cases, seed {args.seed})",
              flush=True)
        raw = write_demo_dataset(folders.raw, dataset_id=args.dataset_id, num_train=args.num_train,
                                 num_test=args.num_test, seed=args.seed)
        print(f"      -> {raw}", flush=True)
        dataset_json = json.loads((raw / "dataset.json").read_text())
        if args.skip_train:
            print("[2/4] --skip-train: keeping the existing plans and preprocessed data", flush=True)
        else:
            print("[2/4] nnU-Net plan and preprocess (2d)", flush=True)
            s = pipeline.plan_and_preprocess(args.dataset_id, env=env, log_file=logs / "plan_and_preprocess.log")
            print(f"      done in {s:.0f} s (log: {logs / 'plan_and_preprocess.log'})", flush=True)
        ids = sorted(p.name[: -len(".png")] for p in (raw / "labelsTr").glob("*.png"))
        pipeline.write_single_split(folders.preprocessed / raw.name, ids[:-NUM_VAL], ids[-NUM_VAL:])

        print(f"[3/4] training {len(args.trainers)} trainers: {args.epochs} epochs x {args.iterations} iterations each, "
              f"seed {args.seed}, device {args.device}", flush=True)
        runs = []
        for trainer in args.trainers:
            run = run_trainer(trainer, dataset_id=args.dataset_id, folders=folders, env=env, budget=budget,
                              images_dir=raw / "imagesTs", labels_dir=raw / "labelsTs", dataset_json=dataset_json,
                              out_dir=workdir, skip_train=args.skip_train, device=args.device)
            print(f"      {trainer}: trained in {run.train_seconds:.0f} s, predicted in {run.predict_seconds:.0f} s, "
                  f"Dice {run.summary['foreground_mean'].get('Dice', float('nan')):.3f}", flush=True)
            runs.append(run)
    except (pipeline.StepError, FileNotFoundError, ValueError) as e:
        print(f"nnunet-topo demo: {e}", file=sys.stderr)
        return 1

    print("[4/4] comparison on the held-out cases", flush=True)
    rows = [comparison_row(r.trainer, r.summary, seconds_per_iteration=r.seconds_per_iteration,
                           train_seconds=r.train_seconds) for r in runs]
    table = format_table(rows)
    figure = _figure(raw, runs, dataset_json)
    total = time.perf_counter() - start
    notes = [f"{args.num_train} training cases (fold 0: {args.num_train - NUM_VAL} train / {NUM_VAL} validation), "
             f"{args.num_test} held-out test cases evaluated, seed {args.seed}",
             f"budget per trainer: {args.epochs} epochs x {args.iterations} iterations, device {args.device}",
             "topology: foreground 8-connected, background 4-connected; 'prior ok' = share of cases whose Betti "
             "numbers equal the label's prior (myocardium ring (1, 1), blood pool (1, 0))",
             f"total wall time {total / 60:.1f} min"]
    report = write_comparison_report(
        workdir / "report.html", title="nnunet_topo demo: plain nnU-Net vs topological training", rows=rows,
        notes=notes, figure_png_b64=figure,
        links={f"evaluator report: {r.trainer}": str(r.report_file.relative_to(workdir)) for r in runs})
    write_results_json(workdir / "results.json", {"budget": budget, "num_train": args.num_train,
                                                  "num_test": args.num_test, "wall_seconds": total, "rows": rows})
    print(table)
    print(f"\nReport:        {report}\nResults JSON:  {workdir / 'results.json'}\n"
          f"Predictions:   {workdir / 'predictions'}\nTrained models: {folders.results / raw.name}\n"
          f"Logs:          {logs}\nTotal wall time: {total / 60:.1f} min")
    return 0


def _figure(raw: Path, runs, dataset_json) -> str | None:
    """The first four test cases: image, reference and every trainer's prediction."""
    import numpy as np
    from PIL import Image

    from .report import case_figure

    names = sorted(p.name[: -len(".png")] for p in (raw / "labelsTs").glob("*.png"))[:4]
    if not names:
        return None
    load = lambda f: np.asarray(Image.open(f))  # noqa: E731
    images = [load(raw / "imagesTs" / f"{n}_0000.png") for n in names]
    refs = [load(raw / "labelsTs" / f"{n}.png") for n in names]
    preds = {r.trainer: [load(r.prediction_dir / f"{n}.png") for n in names] for r in runs}
    return case_figure(images, refs, preds, names, num_labels=len(dataset_json["labels"]))
