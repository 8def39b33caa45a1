"""Reading an nnU-Net dataset for evaluation without torch: dataset.json labels/regions, case lists,
segmentations through nnU-Net's own reader for the ``file_ending`` (``nnunetv2.imageio``, torch-free).

Segmentations come back as integer arrays in C order: ``(H, W)`` for 2D data (nnU-Net's leading
singleton axis dropped) and ``(D, H, W)`` for 3D, with nnU-Net's properties dict (``spacing`` ...).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["LabelSet", "load_json", "list_cases", "match_cases", "get_reader_writer", "read_segmentation",
           "check_same_geometry", "label_key"]


def load_json(path: str | os.PathLike, *, what: str) -> dict[str, Any]:
    """Read a JSON object; ``ValueError`` naming ``what`` when the file is missing or not JSON."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what}: expected a JSON file, {str(path)!r} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: {str(path)!r} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{what}: expected a JSON object in {str(path)!r}, got {type(data).__name__}")
    return data


def label_key(label_or_region: int | tuple[int, ...]) -> str:
    """nnU-Net's key for a label (``"1"``) or region (``"(1, 2)"``) in summary.json."""
    return str(label_or_region)


@dataclass(frozen=True)
class LabelSet:
    """The labels or regions to evaluate, as nnU-Net's ``LabelManager`` derives them from dataset.json.

    Attributes:
        items: foreground labels (ints) or regions (tuples of ints), in dataset.json order.
        names: the dataset.json name of each item.
        ignore_label: the ``"ignore"`` label value, or None.
        has_regions: True when some label is a list of more than one value (region-based training).
        all_values: every label value that may occur in a segmentation (background and ignore included).
    """

    items: tuple[int | tuple[int, ...], ...]
    names: tuple[str, ...]
    ignore_label: int | None
    has_regions: bool
    all_values: frozenset[int]

    @classmethod
    def from_dataset_json(cls, dataset_json: Mapping[str, Any]) -> "LabelSet":
        labels = dataset_json.get("labels")
        if not isinstance(labels, Mapping) or not labels:
            raise ValueError(f"dataset.json: expected a non-empty 'labels' object, got {labels!r}")
        if "background" not in labels or labels["background"] != 0:
            raise ValueError(f"dataset.json 'labels': expected 'background': 0, got {labels.get('background')!r}")
        ignore = labels.get("ignore")
        if ignore is not None and (not isinstance(ignore, int) or isinstance(ignore, bool)):
            raise ValueError(f"dataset.json 'labels'.ignore: expected an integer, got {ignore!r}")
        has_regions = any(isinstance(v, (list, tuple)) and len(v) > 1 for v in labels.values())
        items, names, values = [], [], set()
        for name, value in labels.items():
            vals = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            if not vals or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vals):
                raise ValueError(f"dataset.json 'labels'[{name!r}]: expected a non-negative int or a list of them, "
                                 f"got {value!r}")
            values.update(vals)
            if name == "ignore" or set(vals) == {0}:
                continue
            if has_regions:
                items.append(tuple(int(v) for v in vals))
            else:
                items.append(int(vals[0]))
            names.append(name)
        if not items:
            raise ValueError(f"dataset.json 'labels': expected at least one foreground label, got {dict(labels)!r}")
        if ignore is not None and ignore != max(values):
            raise ValueError(f"dataset.json 'labels'.ignore: expected the highest label value ({max(values)}), got {ignore}")
        return cls(items=tuple(items), names=tuple(names), ignore_label=ignore, has_regions=has_regions,
                   all_values=frozenset(int(v) for v in values))

    def mask(self, segmentation: np.ndarray, item: int | tuple[int, ...]) -> np.ndarray:
        """Bool mask of a label (``seg == k``) or region (``seg`` in the tuple), as nnU-Net's
        ``region_or_label_to_mask``."""
        if isinstance(item, tuple):
            return np.isin(segmentation, item)
        return segmentation == item


def list_cases(folder: str | os.PathLike, file_ending: str) -> dict[str, Path]:
    """``{case_id: path}`` of the files in ``folder`` ending in ``file_ending`` (sorted by case)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"expected a folder of segmentations, {str(folder)!r} is not a directory")
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name.endswith(file_ending) and not p.name.startswith("."):
            out[p.name[: -len(file_ending)]] = p
    return out


def match_cases(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, file_ending: str) -> list[tuple[str, Path, Path]]:
    """Pair ground truths with predictions by file name.

    Raises:
        ValueError: no ground truth, a missing prediction, or a prediction without ground truth,
            naming the cases.
    """
    gt = list_cases(gt_dir, file_ending)
    pred = list_cases(pred_dir, file_ending)
    if not gt:
        raise ValueError(f"GT_DIR {str(gt_dir)!r}: expected ground truths ending in {file_ending!r}, found none")
    missing = sorted(set(gt) - set(pred))
    extra = sorted(set(pred) - set(gt))
    problems = []
    if missing:
        problems.append(f"{len(missing)} case(s) have no prediction in {str(pred_dir)!r}: {_names(missing)}")
    if extra:
        problems.append(f"{len(extra)} prediction(s) have no ground truth in {str(gt_dir)!r}: {_names(extra)}")
    if problems:
        raise ValueError("; ".join(problems))
    return [(c, gt[c], pred[c]) for c in gt]


def _names(cases: list[str], limit: int = 10) -> str:
    shown = ", ".join(cases[:limit])
    return shown + (f", ... ({len(cases) - limit} more)" if len(cases) > limit else "")


def get_reader_writer(dataset_json: Mapping[str, Any], example_file: str | os.PathLike):
    """An instance of nnU-Net's reader/writer for the dataset (``overwrite_image_reader_writer`` or
    the ``file_ending``), chosen as ``nnUNetv2_evaluate_folder`` does."""
    from nnunetv2.imageio.reader_writer_registry import determine_reader_writer_from_dataset_json

    if "file_ending" not in dataset_json:
        raise ValueError("dataset.json: expected a 'file_ending' entry (e.g. '.nii.gz' or '.png'), found none")
    try:
        cls = determine_reader_writer_from_dataset_json(dict(dataset_json), str(example_file), verbose=False)
    except RuntimeError as exc:
        raise ValueError(f"no nnU-Net reader can open {str(example_file)!r} "
                         f"(file_ending {dataset_json['file_ending']!r}): {exc}") from exc
    return cls()


def read_segmentation(reader_writer, path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """Read one segmentation; returns an int array ``(H, W)`` (2D data) or ``(D, H, W)`` and properties.

    NIfTI files are first checked for truncation: SimpleITK would read a truncated ``.nii.gz`` as
    zeros, which would score as a real (empty) prediction.

    Raises:
        ValueError: unreadable, truncated or corrupt file, or non-integer values.
    """
    from nnunet_topo._nifti_integrity import nifti_payload_problem

    problem = nifti_payload_problem(path)
    if problem is not None:
        raise ValueError(f"cannot read segmentation {str(path)!r}: truncated or corrupt NIfTI ({problem})")
    try:
        seg, props = reader_writer.read_seg(str(path))
    except Exception as exc:  # nnU-Net readers raise many types; name the file
        raise ValueError(f"cannot read segmentation {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    seg = np.asarray(seg)
    if seg.ndim != 4 or seg.shape[0] != 1:
        raise ValueError(f"{str(path)!r}: expected one segmentation channel, got array of shape {seg.shape}")
    seg = seg[0]
    if seg.shape[0] == 1:
        seg = seg[0]
    if seg.dtype.kind == "f":
        if not np.all(np.isfinite(seg)) or not np.array_equal(seg, np.round(seg)):
            raise ValueError(f"{str(path)!r}: expected integer label values, got non-integer values")
    if seg.dtype.kind == "f":  # nnU-Net's readers return float32 label maps
        lo, hi = float(seg.min()), float(seg.max())
        if lo < 0:
            raise ValueError(f"{str(path)!r}: expected non-negative label values, got {lo:g}")
        seg = seg.astype(np.uint8 if hi < 256 else np.uint16 if hi < 65536 else np.int64)
    return np.ascontiguousarray(seg), props


def check_same_geometry(case: str, gt: np.ndarray, gt_props: dict, pred: np.ndarray, pred_props: dict) -> None:
    """Raise ``ValueError`` naming the case when shapes or spacings of ground truth and prediction differ."""
    if gt.shape != pred.shape:
        raise ValueError(f"case {case!r}: ground truth shape {gt.shape} but prediction shape {pred.shape}")
    sg, sp = gt_props.get("spacing"), pred_props.get("spacing")
    if sg is not None and sp is not None and not np.allclose(sg, sp, rtol=1e-4, atol=1e-6):
        raise ValueError(f"case {case!r}: ground truth spacing {tuple(sg)} but prediction spacing {tuple(sp)}")
