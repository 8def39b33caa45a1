"""Folder evaluator: nnU-Net's summary.json plus topology metrics, per-case CSV, error maps, report.

The Python entry point is :func:`evaluate_folder`; ``nnunet-topo evaluate`` (``cli.py``) calls it.
Never imports torch: segmentations are read with nnU-Net's torch-free ``nnunetv2.imageio`` readers.
"""
from __future__ import annotations

import csv
import io as _io
import json
import math
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from nnunet_topo.metrics import cldice
from nnunet_topo.metrics._common import check_connectivity, check_pair
from nnunet_topo.metrics.matching import unmatched_mask_features
from nnunet_topo.topology import TopologySpec, betti_matching, betti_numbers

from .error_maps import ERROR_CODES, error_map_from_matching
from .io import (LabelSet, check_same_geometry, get_reader_writer, label_key, load_json, match_cases,
                 read_segmentation)

__all__ = ["evaluate_folder", "evaluate_case", "label_metrics", "LabelOptions", "NNUNET_KEYS", "metric_keys"]

NNUNET_KEYS = ("Dice", "IoU", "FP", "TP", "FN", "TN", "n_pred", "n_ref")


@dataclass(frozen=True)
class LabelOptions:
    """How one label/region is evaluated (from dataset.json's ``"topology"`` block and the CLI).

    Attributes:
        match: compute the Betti-matching error (NaN otherwise).
        prior: Betti prior ``(b0, b1[, b2])`` or None; reported as ``Prior_match`` (whole image) or
            ``SliceTopology_prior`` (per slice, 2-tuple priors).
        per_slice: evaluate the topology of a 3D volume per 2D slice along axis 0.
    """

    match: bool = True
    prior: tuple[int, ...] | None = None
    per_slice: bool = False


def metric_keys(topo_ndim: int, *, per_slice: bool, prior: bool) -> list[str]:
    """The per-label keys written for a label whose topology is evaluated in ``topo_ndim`` dimensions."""
    keys = list(NNUNET_KEYS) + ["clDice"]
    keys += [f"Betti{k}_error" for k in range(topo_ndim)]
    keys += ["BettiMatching_error"] + [f"BettiMatching{k}_error" for k in range(topo_ndim)]
    keys += ["Euler_error"]
    if per_slice:
        keys += ["SliceTopology_gt"] + (["SliceTopology_prior"] if prior else [])
    elif prior:
        keys += ["Prior_match"]
    return keys


def _alive_at_one(diagram) -> int:
    """Bars of a binary mask's diagram alive in the superlevel set ``{mask >= 1}`` (its Betti number)."""
    return int(np.count_nonzero((diagram.births >= 0.5) & (diagram.essential | (diagram.deaths < 0.5))))


def _bounding_box(mask: np.ndarray, margin: int = 1) -> tuple[slice, ...] | None:
    """Bounding box of the True pixels grown by ``margin`` (clipped to the image); None when empty."""
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        if hit.size == 0:
            return None
        box.append(slice(max(0, int(hit[0]) - margin), min(mask.shape[axis], int(hit[-1]) + 1 + margin)))
    return tuple(box)


def _topology_2d_or_3d(pred: np.ndarray, ref: np.ndarray, connectivity: str, match: bool, want_map: bool):
    """Betti numbers, matching errors and (optionally) error map of one pair of bool masks.

    With ``match`` the Betti numbers are read off the matching's full diagrams (one computation);
    otherwise they come from ``betti_numbers``. The matching runs on the bounding box of
    ``pred | ref`` grown by one background pixel: the masks' topology, the holes (the outer
    background stays connected around the box) and the C order of the pixels (which breaks ties)
    are those of the whole image.
    """
    ndim = pred.ndim
    box = _bounding_box(pred | ref)
    if box is None:  # both empty: no feature, no error
        return (0,) * ndim, (0,) * ndim, [0 if match else math.nan] * ndim, (
            np.zeros(pred.shape, np.uint8) if want_map and match else None)
    if not match:
        bp = tuple(int(b) for b in betti_numbers(pred[box], connectivity=connectivity))
        br = tuple(int(b) for b in betti_numbers(ref[box], connectivity=connectivity))
        return bp, br, [math.nan] * ndim, None
    p, r = np.ascontiguousarray(pred[box]), np.ascontiguousarray(ref[box])
    m = betti_matching(p.astype(np.float64), r.astype(np.float64), connectivity=connectivity)
    bm = [sum(len(i) for i in unmatched_mask_features(m[k])) for k in range(ndim)]
    bp = tuple(_alive_at_one(m[k].pred) for k in range(ndim))
    br = tuple(_alive_at_one(m[k].target) for k in range(ndim))
    emap = None
    if want_map:
        emap = np.zeros(pred.shape, dtype=np.uint8)
        emap[box] = error_map_from_matching(p, r, m, connectivity=connectivity)
    return bp, br, bm, emap


def label_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    ignore: np.ndarray | None = None,
    *,
    connectivity: str = "full",
    options: LabelOptions = LabelOptions(),
    want_map: bool = False,
) -> tuple[dict[str, float], np.ndarray | None]:
    """All metrics of one label/region of one case.

    Args:
        pred, ref: bool masks, same 2D ``(H, W)`` / 3D ``(D, H, W)`` shape, C order.
        ignore: bool mask of ignored pixels (nnU-Net's ignore label) or None. Dice/IoU/counts leave
            them out, as nnU-Net does; topological metrics treat them as background in both masks.
        connectivity: ``"full"`` (foreground 8/26-connected) or ``"face"``.
        options: match / prior / per_slice of this label.
        want_map: also return the uint8 error map (codes of ``error_maps.ERROR_CODES``).

    Returns:
        ``(metrics, error_map_or_None)``; the keys are :func:`metric_keys`.
    """
    pred, ref = check_pair(pred, ref)
    connectivity = check_connectivity(connectivity)
    if ignore is not None:
        ignore = np.asarray(ignore, dtype=bool)
        if ignore.shape != ref.shape:
            raise ValueError(f"ignore: expected a mask of shape {ref.shape}, got {ignore.shape}")
        pred, ref = pred & ~ignore, ref & ~ignore
    n_used = ref.size - (0 if ignore is None else int(np.count_nonzero(ignore)))
    tp = int(np.count_nonzero(ref & pred))
    n_pred, n_ref = int(np.count_nonzero(pred)), int(np.count_nonzero(ref))
    fp, fn = n_pred - tp, n_ref - tp
    tn = n_used - tp - fp - fn
    out: dict[str, float] = {}
    if tp + fp + fn == 0:
        out["Dice"], out["IoU"] = math.nan, math.nan
    else:
        out["Dice"], out["IoU"] = 2 * tp / (2 * tp + fp + fn), tp / (tp + fp + fn)
    out.update(FP=fp, TP=tp, FN=fn, TN=tn, n_pred=n_pred, n_ref=n_ref)
    p, r = pred, ref
    per_slice = options.per_slice and p.ndim == 3
    out["clDice"] = cldice(p, r, per_slice=per_slice)

    topo_ndim = 2 if per_slice else p.ndim
    prior = options.prior
    if prior is not None and len(prior) != topo_ndim:
        raise ValueError(
            f"Betti prior {tuple(prior)} has {len(prior)} numbers but the label's topology is evaluated in "
            f"{topo_ndim}D ({'per 2D slice' if per_slice else f'shape {p.shape}'}); give a prior of "
            f"{topo_ndim} numbers, or set 'per_slice' in the topology block / pass --per-slice for 2D priors "
            "of 3D volumes")
    emap = np.zeros(p.shape, dtype=np.uint8) if (want_map and options.match) else None
    if per_slice:
        berr = np.zeros(2, dtype=np.float64)
        bm = np.zeros(2, dtype=np.float64) if options.match else np.full(2, math.nan)
        euler = 0
        present = agree_gt = present_gt = agree_prior = 0
        for z in range(p.shape[0]):
            if not (p[z].any() or r[z].any()):
                continue
            bp, br, bmz, ez = _topology_2d_or_3d(p[z], r[z], connectivity, options.match, emap is not None)
            berr += np.abs(np.subtract(bp, br))
            if options.match:
                bm += bmz
            if ez is not None:
                emap[z] = ez
            euler += abs((bp[0] - bp[1]) - (br[0] - br[1]))
            present += 1
            agree_gt += bp == br
            if r[z].any():
                present_gt += 1
                agree_prior += prior is not None and tuple(bp) == tuple(prior)
        for k in range(2):
            out[f"Betti{k}_error"] = float(berr[k])
        out["BettiMatching_error"] = float(bm.sum())
        for k in range(2):
            out[f"BettiMatching{k}_error"] = float(bm[k])
        out["Euler_error"] = float(euler)
        out["SliceTopology_gt"] = agree_gt / present if present else math.nan
        if prior is not None:
            out["SliceTopology_prior"] = agree_prior / present_gt if present_gt else math.nan
    else:
        bp, br, bm, ez = _topology_2d_or_3d(p, r, connectivity, options.match, emap is not None)
        for k in range(topo_ndim):
            out[f"Betti{k}_error"] = float(abs(bp[k] - br[k]))
        out["BettiMatching_error"] = float(sum(bm))
        for k in range(topo_ndim):
            out[f"BettiMatching{k}_error"] = float(bm[k])
        chi = lambda b: sum((-1) ** k * v for k, v in enumerate(b))  # noqa: E731
        out["Euler_error"] = float(abs(chi(bp) - chi(br)))
        if prior is not None:
            out["Prior_match"] = float(tuple(bp) == tuple(prior))
        if ez is not None:
            emap = ez
    return out, emap


def _values(seg: np.ndarray) -> list[int]:
    """The distinct values of an integer segmentation (bincount for small non-negative ranges)."""
    lo, hi = int(seg.min()), int(seg.max())
    if lo >= 0 and hi < 65536:
        return np.flatnonzero(np.bincount(seg.ravel(), minlength=hi + 1)).tolist()
    return np.unique(seg).tolist()


def evaluate_case(
    case: str,
    gt_path: str | os.PathLike,
    pred_path: str | os.PathLike,
    reader_writer,
    labels: LabelSet,
    options: Sequence[LabelOptions],
    *,
    connectivity: str = "full",
    error_maps_dir: str | os.PathLike | None = None,
    file_ending: str = "",
) -> dict[str, Any]:
    """Metrics of one case: nnU-Net's per-case entry (``reference_file``, ``prediction_file``,
    ``metrics`` keyed by label/region) plus ``case``; writes the case's error map(s) when asked."""
    ref_seg, ref_props = read_segmentation(reader_writer, gt_path)
    pred_seg, pred_props = read_segmentation(reader_writer, pred_path)
    check_same_geometry(case, ref_seg, ref_props, pred_seg, pred_props)
    contiguous = labels.all_values == frozenset(range(max(labels.all_values) + 1))
    for name, seg in (("prediction", pred_seg), ("ground truth", ref_seg)):
        if contiguous and seg.dtype.kind == "u" and int(seg.max()) <= max(labels.all_values):
            continue  # values 0..K, all declared
        unknown = sorted(set(_values(seg)) - set(labels.all_values))
        if unknown:
            raise ValueError(f"case {case!r}: {name} contains label values {unknown} that dataset.json does not "
                             f"declare (known: {sorted(labels.all_values)})")
    ignore = ref_seg == labels.ignore_label if labels.ignore_label is not None else None
    metrics: dict[str, dict[str, float]] = {}
    maps: list[tuple[str, np.ndarray]] = []
    for item, name, opt in zip(labels.items, labels.names, options):
        m, emap = label_metrics(labels.mask(pred_seg, item), labels.mask(ref_seg, item), ignore,
                                connectivity=connectivity, options=opt, want_map=error_maps_dir is not None)
        metrics[label_key(item)] = m
        if emap is not None:
            maps.append((name, emap))
    if error_maps_dir is not None:
        _write_error_maps(Path(error_maps_dir), case, maps, reader_writer, ref_props, file_ending)
    return {"case": case, "reference_file": str(gt_path), "prediction_file": str(pred_path), "metrics": metrics}


def _write_error_maps(folder: Path, case: str, maps, reader_writer, props, file_ending: str) -> None:
    for name, emap in maps:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        fname = f"{case}{file_ending}" if len(maps) == 1 else f"{case}__{safe}{file_ending}"
        seg = emap[None] if emap.ndim == 2 else emap
        reader_writer.write_seg(seg, str(folder / fname), props)


def _worker(args: tuple) -> dict[str, Any]:
    try:
        return evaluate_case(*args[:6], **args[6])
    except (ValueError, TypeError) as exc:  # collected, so that one error message names every bad case
        return {"case": args[0], "error": str(exc)}


def _label_options(labels: LabelSet, spec: TopologySpec | None, per_slice: bool) -> list[LabelOptions]:
    by_name = {lt.name: lt for lt in spec.labels} if spec is not None else {}
    out = []
    for name in labels.names:
        lt = by_name.get(name)
        if lt is None:
            # without a topology block every label is matched; with one, only the labels it lists
            out.append(LabelOptions(match=spec is None, prior=None, per_slice=per_slice))
        else:
            out.append(LabelOptions(match=lt.match, prior=lt.betti, per_slice=per_slice or lt.per_slice))
    return out


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or np.isnan(arr).all():
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(arr))


def _check_outside(path: Path, folders: Sequence[Path], what: str) -> Path:
    path = Path(path).resolve()
    for f in folders:
        f = Path(f).resolve()
        if path == f or f in path.parents:
            raise ValueError(f"{what}: {str(path)!r} lies inside {str(f)!r}; the evaluator never writes into "
                             "GT_DIR or PRED_DIR, choose another location")
    return path


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as fh:
        fh.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj


def evaluate_folder(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    dataset_json: str | os.PathLike | Mapping[str, Any],
    *,
    plans_file: str | os.PathLike | None = None,
    output_file: str | os.PathLike | None = "summary.json",
    csv_file: str | os.PathLike | None = None,
    num_processes: int = 1,
    error_maps_dir: str | os.PathLike | None = None,
    report_file: str | os.PathLike | None = None,
    per_slice: bool = False,
    connectivity: str | None = None,
    worst_cases: int = 5,
    images_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate every prediction in ``pred_dir`` against the ground truth of the same name in ``gt_dir``.

    Args:
        gt_dir, pred_dir: folders of segmentations ending in dataset.json's ``file_ending``; every
            ground truth needs a prediction and vice versa. Nothing is ever written into them.
        dataset_json: path to (or content of) the dataset.json: ``labels`` (labels, regions,
            ``ignore``), ``file_ending``, optional ``"topology"`` block (matched labels, priors, per_slice,
            connectivity).
        plans_file: optional nnU-Net plans.json; checked to be readable JSON (labels and regions come
            from dataset.json, as in nnU-Net's label manager).
        output_file: summary.json to write (nnU-Net layout); None writes nothing.
        csv_file: per-case CSV (one row per case and label); default ``<output stem>_per_case.csv``.
        num_processes: worker processes (1 = in this process).
        error_maps_dir: folder for per-case error maps (same reader/writer and geometry as the ground truth).
        report_file: self-contained HTML report.
        per_slice: evaluate topology per 2D slice along the first axis (3D data) for every label.
        connectivity: ``"full"`` / ``"face"``; default the topology block's, else ``"full"``.
        worst_cases: number of worst cases shown in the report.
        images_dir: optional folder with the images (``CASE_0000<file_ending>``) for the report's overlays.
        progress: show a tqdm bar.

    Returns:
        The summary dict: ``metric_per_case``, ``mean``, ``foreground_mean`` (nnU-Net's layout, keys as
        strings) plus ``connectivity``, ``per_slice``, ``labels``.

    Raises:
        ValueError: missing/extra cases, shape/spacing mismatch, unknown labels, bad dataset.json,
            an output inside GT_DIR/PRED_DIR.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    for what, folder in (("GT_DIR", gt_dir), ("PRED_DIR", pred_dir)):
        if not folder.is_dir():
            raise ValueError(f"{what}: expected a folder, {str(folder)!r} is not a directory")
    if isinstance(dataset_json, Mapping):
        dj = dict(dataset_json)
    else:
        dj = load_json(dataset_json, what="dataset.json (-djfile)")
    if plans_file is not None:
        load_json(plans_file, what="plans.json (-pfile)")
    if not isinstance(num_processes, int) or isinstance(num_processes, bool) or num_processes < 1:
        raise ValueError(f"num_processes: expected a positive integer, got {num_processes!r}")
    if not isinstance(worst_cases, int) or isinstance(worst_cases, bool) or worst_cases < 0:
        raise ValueError(f"worst_cases: expected a non-negative integer, got {worst_cases!r}")
    labels = LabelSet.from_dataset_json(dj)
    spec = TopologySpec.from_dataset_json(dj)
    if connectivity is None:
        connectivity = spec.connectivity if spec is not None else "full"
    connectivity = check_connectivity(connectivity)
    options = _label_options(labels, spec, per_slice)
    if "file_ending" not in dj:
        raise ValueError("dataset.json: expected a 'file_ending' entry (e.g. '.nii.gz' or '.png'), found none")
    file_ending = dj["file_ending"]
    forbidden = [gt_dir, pred_dir]
    outputs = {}
    for what, path in (("-o", output_file), ("--report", report_file), ("--error-maps", error_maps_dir), ("csv", csv_file)):
        if path is not None:
            outputs[what] = _check_outside(Path(path), forbidden, what)
    if output_file is not None and csv_file is None:
        out = outputs["-o"]
        outputs["csv"] = out.with_name(out.name[: -len(".json")] + "_per_case.csv" if out.name.endswith(".json")
                                       else out.name + "_per_case.csv")
    cases = match_cases(gt_dir, pred_dir, file_ending)
    rw = get_reader_writer(dj, cases[0][1])

    staging = None
    if error_maps_dir is not None:
        target = outputs["--error-maps"]
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial."))
    try:
        kwargs = dict(connectivity=connectivity, error_maps_dir=None if staging is None else str(staging),
                      file_ending=file_ending)
        jobs = [(c, str(g), str(p), rw, labels, options, kwargs) for c, g, p in cases]
        results = _run(jobs, num_processes, progress)
        failed = [r for r in results if "error" in r]
        if failed:
            shown = "; ".join(r["error"] for r in failed[:10])
            more = f"; ... ({len(failed) - 10} more)" if len(failed) > 10 else ""
            raise ValueError(f"{len(failed)} of {len(results)} case(s) could not be evaluated "
                             f"({', '.join(r['case'] for r in failed[:10])}{', ...' if len(failed) > 10 else ''}): "
                             f"{shown}{more}")
        if staging is not None:
            legend = {"connectivity": connectivity, "per_slice": {n: o.per_slice for n, o in zip(labels.names, options)},
                      "codes": {str(k): v for k, v in ERROR_CODES.items()}, "0": "no error",
                      "files": "CASE<file_ending> (one label) or CASE__LABELNAME<file_ending> (several labels)"}
            (staging / "error_map_legend.json").write_text(json.dumps(legend, indent=2) + "\n")
            target.mkdir(parents=True, exist_ok=True)
            for f in sorted(staging.iterdir()):
                os.replace(f, target / f.name)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)

    summary = _summarise(results, labels, options, connectivity, per_slice)
    if output_file is not None:
        _atomic_write_text(outputs["-o"], json.dumps(_json_ready(summary), sort_keys=True, indent=4) + "\n")
    if "csv" in outputs:
        _atomic_write_text(outputs["csv"], _per_case_csv(summary, labels, connectivity))
    if report_file is not None:
        from .report import write_report

        write_report(outputs["--report"], summary, gt_dir=gt_dir, pred_dir=pred_dir, dataset_json=dj,
                     labels=labels, options=options, connectivity=connectivity, reader_writer=rw,
                     worst_cases=worst_cases, images_dir=images_dir)
    return summary


def _run(jobs: list[tuple], num_processes: int, progress: bool) -> list[dict[str, Any]]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="evaluate", unit="case", disable=not progress)
    try:
        if num_processes == 1 or len(jobs) == 1:
            results = []
            for j in jobs:
                results.append(_worker(j))
                bar.update()
            return results
        import multiprocessing as mp

        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        results_by_case: dict[str, dict] = {}
        with ctx.Pool(min(num_processes, len(jobs))) as pool:
            chunksize = max(1, len(jobs) // (8 * num_processes))
            for r in pool.imap_unordered(_worker, jobs, chunksize=chunksize):
                results_by_case[r["case"]] = r
                bar.update()
        return [results_by_case[j[0]] for j in jobs]
    finally:
        bar.close()


def _summarise(results, labels: LabelSet, options, connectivity: str, per_slice: bool) -> dict[str, Any]:
    means: dict[str, dict[str, float]] = {}
    for item in labels.items:
        key = label_key(item)
        names = list(results[0]["metrics"][key])
        means[key] = {m: _nanmean([r["metrics"][key].get(m, math.nan) for r in results]) for m in names}
    shared = [m for m in means[label_key(labels.items[0])] if all(m in v for v in means.values())]
    foreground_mean = {m: _nanmean([v[m] for v in means.values()]) for m in shared}
    per_case = [{k: r[k] for k in ("case", "reference_file", "prediction_file", "metrics")} for r in results]
    return {
        "metric_per_case": per_case,
        "mean": means,
        "foreground_mean": foreground_mean,
        "connectivity": connectivity,
        "per_slice": bool(per_slice),
        "labels": {label_key(i): {"name": n, "match": o.match, "prior": None if o.prior is None else list(o.prior),
                                  "per_slice": o.per_slice}
                   for i, n, o in zip(labels.items, labels.names, options)},
    }


def _per_case_csv(summary: dict[str, Any], labels: LabelSet, connectivity: str) -> str:
    keys: list[str] = []
    for r in summary["metric_per_case"]:
        for m in r["metrics"].values():
            keys += [k for k in m if k not in keys]
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["case", "label", "name", "connectivity"] + keys)
    for r in summary["metric_per_case"]:
        case = r["case"]
        for item, name in zip(labels.items, labels.names):
            m = r["metrics"][label_key(item)]
            w.writerow([case, label_key(item), name, connectivity] + [m.get(k, "") for k in keys])
    return buf.getvalue()
