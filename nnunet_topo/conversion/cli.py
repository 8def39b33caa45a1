"""``nnunet-topo convert SOURCE_KIND SOURCE -d ID`` and ``nnunet-topo export myops PRED_DIR OUT_DIR``.

Each subcommand calls one documented Python function with the same parameters
(``convert_myops``, ``convert_drive``, ...). Errors about the user's data are printed as one message
listing every offending case, with exit status 1; nothing is written then. Usage errors exit with 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ._common import ConversionError

__all__ = ["main", "export_main", "DEFAULT_NAMES"]

DEFAULT_NAMES = {
    "myops": "MyoPS2020",
    "drive": "DRIVE",
    "chase": "CHASEDB1",
    "isbi2012": "ISBI2012EM",
    "roads": "MassRoads",
    "crackforest": "CrackForest",
    "nifti": "NIfTI",
}


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="the source dataset folder (read only)")
    p.add_argument("-d", "--dataset-id", type=int, required=True, help="nnU-Net dataset ID (1..999)")
    p.add_argument("--name", default=None, help="dataset name (DatasetXXX_NAME); default per source")
    p.add_argument("-o", "--output", default=None,
                   help="folder to write DatasetXXX_NAME into (default: $nnUNet_raw)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing DatasetXXX_NAME")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _labels_arg(items: Sequence[str] | None) -> dict[str, list[int]] | None:
    if not items:
        return None
    out: dict[str, list[int]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        try:
            vals = [int(v) for v in values.split(",")]
        except ValueError:
            vals = []
        if not sep or not name or not vals:
            raise ConversionError(f"--labels: expected NAME=VALUE[,VALUE...] (source values), got {item!r}")
        out[name] = vals
    return out


def _priors_arg(items: Sequence[str] | None) -> dict[str, list[int] | None]:
    out: dict[str, list[int] | None] = {}
    for item in items or ():
        name, sep, values = item.partition("=")
        if not sep or not name:
            raise ConversionError(f"--prior: expected NAME=B0,B1[,B2] or NAME=none, got {item!r}")
        if values.lower() in ("none", "null"):
            out[name] = None
            continue
        try:
            out[name] = [int(v) for v in values.split(",")]
        except ValueError:
            raise ConversionError(f"--prior: expected NAME=B0,B1[,B2] or NAME=none, got {item!r}") from None
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnunet-topo convert",
        description="Convert a source dataset into an nnU-Net v2 raw dataset $nnUNet_raw/DatasetXXX_NAME "
        "(imagesTr, labelsTr, imagesTs/labelsTs, dataset.json with a 'topology' block). Every case is "
        "checked first; nothing is written if any case is wrong. See docs/conversion.md.",
    )
    sub = parser.add_subparsers(dest="kind", required=True, metavar="SOURCE_KIND")

    p = sub.add_parser("myops", help="MyoPS 2020: C0, DE, T2 + ground truth (NIfTI 3D)")
    _common_args(p)
    p.add_argument("--regions", action="store_true",
                   help="declare nested regions LV, RV, myocardium ⊃ edema_scar ⊃ scar (ring prior on myocardium)")

    p = sub.add_parser("drive", help="DRIVE retinal vessels (.tif + 1st_manual .gif)")
    _common_args(p)
    p.add_argument("--fov-ignore", action="store_true", help="outside the FOV mask = ignore label 2")
    p.add_argument("--test-observer", choices=("1st_manual", "2nd_manual"), default="1st_manual",
                   help="annotation for labelsTs (default 1st_manual)")

    p = sub.add_parser("chase", help="CHASE_DB1 retinal vessels (.jpg + _1stHO.png)")
    _common_args(p)
    p.add_argument("--observer", choices=("1stHO", "2ndHO"), default="1stHO")
    p.add_argument("--fov-ignore", action="store_true", help="outside the derived FOV = ignore label 2")
    p.add_argument("--folds", type=int, default=5, help="folds in splits_final.json (child-grouped)")

    p = sub.add_parser("isbi2012", help="ISBI 2012 EM membranes (per-slice PNGs)")
    _common_args(p)
    p.add_argument("--foreground", choices=("membrane", "cell"), default="membrane",
                   help="membrane: source 0 -> 1 (default); cell: source 255 -> 1")
    p.add_argument("--folds", type=int, default=5, help="folds of contiguous slices in splits_final.json")

    p = sub.add_parser("roads", help="Massachusetts Roads tiles (images/ + masks/)")
    _common_args(p)
    p.add_argument("--nodata-ignore", action="store_true", help="white no-imagery areas = ignore label 2")

    p = sub.add_parser("crackforest", help="CrackForest (image/*.jpg + groundTruth/*.mat)")
    _common_args(p)
    p.add_argument("--extra", choices=("background", "crack", "ignore", "error"), default="background",
                   help="how to map the undocumented Segmentation values 3 and 4 (default background)")

    p = sub.add_parser("nifti", help="generic image/label pairs found by {case} patterns (NIfTI, NRRD, MHA)")
    _common_args(p)
    p.add_argument("--image", action="append", required=True, metavar="PATTERN",
                   help="image path relative to SOURCE with {case}; repeat once per channel")
    p.add_argument("--label", required=True, metavar="PATTERN", help="label path relative to SOURCE with {case}")
    p.add_argument("--channel-names", nargs="+", default=None, help="one name per --image (e.g. CT MR)")
    p.add_argument("--labels", nargs="+", default=None, metavar="NAME=V[,V]",
                   help="nnU-Net labels in order with the source values they take "
                   "(default background=0 foreground=1)")
    p.add_argument("--prior", action="append", default=None, metavar="NAME=B0,B1[,B2]|none",
                   help="Betti prior of a label (repeatable)")
    p.add_argument("--per-slice", action="store_true", help="the priors hold per 2D slice (first array axis)")
    return parser


def _run(args: argparse.Namespace) -> str:
    from . import crackforest, isbi2012, myops, nifti, retina, roads

    common = dict(
        dataset_id=args.dataset_id, name=args.name or DEFAULT_NAMES[args.kind], output_root=args.output,
        overwrite=args.overwrite, progress=not args.no_progress,
    )
    if args.kind == "myops":
        out = myops.convert_myops(args.source, regions=args.regions, **common)
    elif args.kind == "drive":
        out = retina.convert_drive(args.source, fov_ignore=args.fov_ignore, test_observer=args.test_observer, **common)
    elif args.kind == "chase":
        out = retina.convert_chase(args.source, observer=args.observer, fov_ignore=args.fov_ignore,
                                   num_folds=args.folds, **common)
    elif args.kind == "isbi2012":
        out = isbi2012.convert_isbi2012(args.source, foreground=args.foreground, num_folds=args.folds, **common)
    elif args.kind == "roads":
        out = roads.convert_roads(args.source, nodata_ignore=args.nodata_ignore, **common)
    elif args.kind == "crackforest":
        out = crackforest.convert_crackforest(args.source, extra=args.extra, **common)
    elif args.kind == "nifti":
        out = nifti.convert_nifti(
            args.source, images=args.image, label=args.label, channel_names=args.channel_names,
            labels=_labels_arg(args.labels), priors=_priors_arg(args.prior), per_slice=args.per_slice, **common,
        )
    else:  # pragma: no cover - argparse restricts the choices
        raise ConversionError(f"unknown source kind {args.kind!r}")
    return str(out)


def _print_report(folder: str) -> None:
    import json
    from pathlib import Path

    rep = json.loads((Path(folder) / "conversion_report.json").read_text())
    print(f"wrote {folder}: {rep['num_training']} training case(s), {rep['num_test']} test case(s)")
    notes = rep.get("notes", {})
    if notes:
        print(f"notes on {len(notes)} case(s) (also in conversion_report.json; nothing was altered):")
        for case, items in notes.items():
            for item in items:
                print(f"  {case}: {item}")
    if (Path(folder) / "splits_final.json").is_file():
        print("splits_final.json written; nnUNetv2_plan_and_preprocess copies it to nnUNet_preprocessed/")


def main(argv: list[str] | None = None) -> int:
    """``nnunet-topo convert ...``; returns 0 on success, 1 on refused data, 2 on usage errors."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        folder = _run(args)
    except ConversionError as exc:
        print(f"nnunet-topo convert {args.kind}: error: {exc}", file=sys.stderr)
        return 1
    _print_report(folder)
    return 0


def export_main(argv: list[str] | None = None) -> int:
    """``nnunet-topo export myops PRED_DIR OUT_DIR [--source MYOPS_DIR]``."""
    parser = argparse.ArgumentParser(
        prog="nnunet-topo export",
        description="Turn nnU-Net predictions back into the source dataset's label values. See docs/conversion.md.",
    )
    sub = parser.add_subparsers(dest="kind", required=True, metavar="SOURCE_KIND")
    p = sub.add_parser("myops", help="labels 0..5 -> MyoPS values {0,200,500,600,1220,2221} (uint16)")
    p.add_argument("pred_dir", help="nnU-Net prediction folder (CASE.nii.gz)")
    p.add_argument("out_dir", help="output folder (CASE_seg.nii.gz)")
    p.add_argument("--source", default=None,
                   help="MyoPS source folder; geometry is copied from each case's C0 (default: the prediction's)")
    p.add_argument("--suffix", default="_seg", help="appended to the case ID (default _seg)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    from .myops import export_predictions

    try:
        out = export_predictions(args.pred_dir, args.out_dir, source=args.source, suffix=args.suffix,
                                 overwrite=args.overwrite, progress=not args.no_progress)
    except ConversionError as exc:
        print(f"nnunet-topo export {args.kind}: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0
