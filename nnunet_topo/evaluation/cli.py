"""``nnunet-topo evaluate GT_DIR PRED_DIR -djfile dataset.json [...]`` (argparse; calls :func:`evaluate_folder`)."""
from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nnunet-topo evaluate",
        description="Evaluate nnU-Net predictions against ground truths: nnU-Net's Dice/IoU/counts plus "
                    "clDice, Betti errors, Betti-matching error, Euler error; per-case CSV, error maps, "
                    "HTML report. Never writes into GT_DIR or PRED_DIR.",
    )
    p.add_argument("gt_dir", metavar="GT_DIR", help="folder with the ground-truth segmentations")
    p.add_argument("pred_dir", metavar="PRED_DIR", help="folder with the predictions (same file names)")
    p.add_argument("-djfile", required=True, help="dataset.json (labels/regions/ignore, file_ending, topology block)")
    p.add_argument("-pfile", default=None, help="plans.json (optional; labels come from dataset.json)")
    p.add_argument("-o", dest="output", default="summary.json",
                   help="summary.json to write (default: ./summary.json); the per-case CSV goes beside it "
                        "as <name>_per_case.csv")
    p.add_argument("-np", dest="num_processes", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--error-maps", default=None, metavar="DIR",
                   help="write one error-localisation map per case into DIR (legend in docs/evaluation.md)")
    p.add_argument("--report", default=None, metavar="HTML", help="write a self-contained HTML report")
    p.add_argument("--per-slice", action="store_true",
                   help="evaluate topology per 2D slice along the first axis of 3D volumes (e.g. MyoPS)")
    p.add_argument("--connectivity", choices=("full", "face"), default=None,
                   help="full: foreground 8/26-connected (default, or the dataset's topology block); "
                        "face: 4/6-connected")
    p.add_argument("--images", default=None, metavar="DIR",
                   help="imagesTr-like folder (CASE_0000<file_ending>) shown under the report's overlays")
    p.add_argument("--worst", type=int, default=5, help="number of worst cases in the report (default 5)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from .evaluate import evaluate_folder

    try:
        summary = evaluate_folder(
            args.gt_dir, args.pred_dir, args.djfile, plans_file=args.pfile, output_file=args.output,
            num_processes=args.num_processes, error_maps_dir=args.error_maps, report_file=args.report,
            per_slice=args.per_slice, connectivity=args.connectivity, worst_cases=args.worst,
            images_dir=args.images, progress=not args.no_progress,
        )
    except (ValueError, TypeError) as exc:
        print(f"nnunet-topo evaluate: error: {exc}", file=sys.stderr)
        return 2
    fg = summary["foreground_mean"]
    shown = [k for k in ("Dice", "clDice", "Betti0_error", "Betti1_error", "Betti2_error", "BettiMatching_error")
             if k in fg]
    print(f"{len(summary['metric_per_case'])} cases, connectivity={summary['connectivity']}; foreground mean: "
          + ", ".join(f"{k}={fg[k]:.4g}" for k in shown))
    print(f"wrote {args.output}")
    return 0
