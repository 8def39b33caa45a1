"""CrackForest (CFD, pavement cracks) -> nnU-Net raw dataset of 2D RGB PNGs.

Source layout::

    SOURCE/image/001.jpg .. 118.jpg            RGB, 480 x 320 (w x h)
    SOURCE/groundTruth/001.mat .. 118.mat      groundTruth{1}.Segmentation, uint8 (320, 480)

``Segmentation`` values: 1 background, 2 crack, and in some files 3 and 4, which the dataset does not
document (BSDS-style extra segments, some of them large). They are mapped explicitly, never guessed:

* ``extra="background"`` (default): 1 -> 0, 2 -> 1, 3 -> 0, 4 -> 0 (crack = ``Segmentation == 2``, the
  choice of most published work);
* ``extra="ignore"``: 3 and 4 -> 2 (nnU-Net's ignore label; not trained, not evaluated);
* ``extra="crack"``: 3 and 4 -> 1 (crack = ``Segmentation > 1``);
* ``extra="error"``: refuse files that contain 3 or 4.

Any other value (0, 5, ...) is an error. The number of 3/4 pixels of each case is reported.
Images without a ``.mat`` (``201.jpg`` ...) are skipped and reported.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ._common import (
    CaseProblem,
    CaseSource,
    ConversionError,
    ConvertedCase,
    DatasetDescription,
    check_values,
    convert_dataset,
    group_by_case,
    read_png_like,
)

__all__ = ["convert_crackforest", "read_crackforest_mat", "EXTRA_MODES"]

EXTRA_MODES = {"background": 0, "crack": 1, "ignore": 2, "error": None}
_IMG = re.compile(r"^(?P<case>\d+)\.jpe?g$", re.I)
_MAT = re.compile(r"^(?P<case>\d+)\.mat$", re.I)


def read_crackforest_mat(path: Path) -> np.ndarray:
    """``groundTruth{1}.Segmentation`` of a CrackForest ``.mat`` file as a ``uint8`` ``(rows, cols)`` array."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise CaseProblem(f"ground-truth file missing: {path}") from None
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, NotImplementedError (v7.3)...
        raise CaseProblem(f"ground-truth file unreadable or truncated: {path} ({type(exc).__name__}: {exc})") from None
    try:
        seg = np.asarray(mat["groundTruth"][0, 0]["Segmentation"])
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise CaseProblem(
            f"{path.name}: expected a struct groundTruth with a field Segmentation, got keys "
            f"{sorted(k for k in mat if not k.startswith('__'))} ({type(exc).__name__})"
        ) from None
    if seg.ndim != 2 or seg.dtype.kind not in "iu":
        raise CaseProblem(f"{path.name}: Segmentation must be a 2D integer array, got {seg.dtype} {seg.shape}")
    return seg


def convert_crackforest(
    source: str | os.PathLike,
    dataset_id: int,
    *,
    name: str = "CrackForest",
    extra: str = "background",
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert CrackForest (see the module docstring for ``extra``).

    Raises:
        ConversionError: missing, unreadable or inconsistent cases (all listed); nothing is written.
    """
    if extra not in EXTRA_MODES:
        raise ConversionError(f"extra: expected one of {sorted(EXTRA_MODES)}, got {extra!r}")
    source = Path(source)
    if not (source / "image").is_dir() or not (source / "groundTruth").is_dir():
        raise ConversionError(f"CrackForest source {source}: expected folders image/ and groundTruth/")
    images, problems = group_by_case((source / "image").iterdir(), _IMG, what="image")
    mats, dup = group_by_case((source / "groundTruth").iterdir(), _MAT, what="ground truth")
    problems += dup
    cases = []
    skipped = sorted(set(images) - set(mats))
    for key in sorted(mats):
        case_id = f"cfd_{key}"
        if key not in images:
            problems.append((case_id, f"groundTruth/{mats[key]['file'].name} has no image image/{key}.jpg"))
        else:
            cases.append(CaseSource(case_id, "Tr", {"images": images[key]["file"], "label": mats[key]["file"]}))
    lut = np.full(256, 255, dtype=np.uint8)
    lut[1], lut[2] = 0, 1
    if EXTRA_MODES[extra] is not None:
        lut[3] = lut[4] = EXTRA_MODES[extra]
    allowed = (1, 2) if extra == "error" else (1, 2, 3, 4)

    def load(case: CaseSource) -> ConvertedCase:
        img, mode = read_png_like(case.files["images"], what="image")
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise CaseProblem(f"image: expected 8-bit RGB, got mode {mode} shape {img.shape}")
        seg = read_crackforest_mat(case.files["label"])
        if seg.shape != img.shape[:2]:
            raise CaseProblem(f"Segmentation size {seg.shape} != image size {img.shape[:2]}")
        check_values(seg, allowed, what="Segmentation")
        n3, n4 = int(np.count_nonzero(seg == 3)), int(np.count_nonzero(seg == 4))
        notes = [f"{n3} pixels of value 3 and {n4} of value 4 mapped to {extra}"] if n3 or n4 else []
        return ConvertedCase(images=[img], label=lut[seg], notes=notes)

    labels = {"background": 0, "crack": 1}
    if extra == "ignore":
        labels["ignore"] = 2
    desc = DatasetDescription(
        channel_names={"0": "R", "1": "G", "2": "B"},
        labels=labels,
        file_ending=".png",
        topology={"connectivity": "full", "labels": {"crack": {"betti": None, "match": True}}},
        description=f"CrackForest pavement cracks; Segmentation 1 -> 0, 2 -> 1, undocumented 3/4 -> {extra}",
        reference="https://github.com/cuilimeng/CrackForest-dataset",
        licence="non-commercial research purposes only",
        citation="Y. Shi et al., IEEE T-ITS 17(12):3434-3445, 2016",
    )
    return convert_dataset(
        source=source, cases=cases, load=load, description=desc, dataset_id=dataset_id, name=name,
        output_root=output_root, overwrite=overwrite, problems=problems,
        report={"converter": "crackforest", "extra": extra,
                "value_map": {"1": 0, "2": 1, "3": EXTRA_MODES[extra], "4": EXTRA_MODES[extra]},
                "images_without_ground_truth_skipped": [f"{k}.jpg" for k in skipped]},
        progress=progress,
    )
