"""A tiny generated nnU-Net raw dataset for the trainer tests: 2D, 64 x 80 PNGs (non-square).

Each case has a ring (label 1, Betti prior ``[1, 1]``) and a thin wavy vessel (label 2, matched, no
prior) on a noisy background, so every trainer has work to do, and an unannotated corner (the ignore
label 3). Written with nnU-Net's layout and a ``"topology"`` block in dataset.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

SHAPE = (64, 80)


def make_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8, labels uint8)`` of shape ``SHAPE``, C order."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    labels = np.zeros(SHAPE, np.uint8)
    cy, cx = rng.integers(20, 44), rng.integers(20, 36)
    r_out = rng.integers(10, 15)
    d = np.hypot(rr - cy, cc - cx)
    labels[(d <= r_out) & (d >= r_out - 4)] = 1
    # a vessel: a sine curve, 2 px thick, in the right part of the image
    x0 = 52 + rng.integers(0, 8)
    phase = rng.uniform(0, 2 * np.pi)
    for r in range(4, SHAPE[0] - 4):
        c = int(round(x0 + 5 * np.sin(r / 7 + phase)))
        labels[r, c:c + 2] = 2
    labels[:6, :10] = 3  # unannotated corner: nnU-Net's ignore label
    image = 40.0 + 60.0 * (labels == 1) + 90.0 * (labels == 2) + rng.normal(0, 12, SHAPE)
    return np.clip(image, 0, 255).astype(np.uint8), labels


def write_dataset(raw_root: Path, dataset_id: int = 901, num_cases: int = 8, *, topology: bool = True) -> str:
    """Write ``DatasetXXX_TinyTopo`` under ``raw_root``; returns the dataset name."""
    name = f"Dataset{dataset_id:03d}_TinyTopo"
    root = Path(raw_root) / name
    (root / "imagesTr").mkdir(parents=True, exist_ok=True)
    (root / "labelsTr").mkdir(parents=True, exist_ok=True)
    for i in range(num_cases):
        image, labels = make_case(i)
        Image.fromarray(image).save(root / "imagesTr" / f"tiny_{i:03d}_0000.png")
        Image.fromarray(labels).save(root / "labelsTr" / f"tiny_{i:03d}.png")
    dataset_json = {
        "channel_names": {"0": "intensity"},
        "labels": {"background": 0, "ring": 1, "vessel": 2, "ignore": 3},
        "numTraining": num_cases,
        "file_ending": ".png",
        "overwrite_image_reader_writer": "NaturalImage2DIO",
    }
    if topology:
        dataset_json["topology"] = {
            "connectivity": "full",
            "labels": {"ring": {"betti": [1, 1], "match": True}, "vessel": {"betti": None, "match": True}},
        }
    (root / "dataset.json").write_text(json.dumps(dataset_json, indent=1))
    return name


SHAPE_3D = (8, 24, 32)


def write_dataset_3d(raw_root: Path, dataset_id: int = 902, num_cases: int = 5) -> str:
    """Write ``DatasetXXX_TinyTopo3D``: NIfTI volumes ``SHAPE_3D`` (z, y, x) of a tube with a ring cross-section.

    The ring (label 1) has the per-slice prior ``[1, 1]`` (``"per_slice": true``, slices along z).
    """
    import SimpleITK as sitk

    name = f"Dataset{dataset_id:03d}_TinyTopo3D"
    root = Path(raw_root) / name
    (root / "imagesTr").mkdir(parents=True, exist_ok=True)
    (root / "labelsTr").mkdir(parents=True, exist_ok=True)
    zz, rr, cc = np.mgrid[: SHAPE_3D[0], : SHAPE_3D[1], : SHAPE_3D[2]]
    for i in range(num_cases):
        rng = np.random.default_rng(100 + i)
        cy, cx, r_out = 12 + rng.integers(-2, 3), 16 + rng.integers(-3, 4), 8
        d = np.hypot(rr - cy, cc - cx)
        labels = ((d <= r_out) & (d >= r_out - 3) & (zz >= 1) & (zz <= SHAPE_3D[0] - 2)).astype(np.uint8)
        image = (50.0 + 100.0 * labels + rng.normal(0, 10, SHAPE_3D)).astype(np.float32)
        for arr, path in ((image, root / "imagesTr" / f"tube_{i:03d}_0000.nii.gz"),
                          (labels, root / "labelsTr" / f"tube_{i:03d}.nii.gz")):
            sitk.WriteImage(sitk.GetImageFromArray(arr), str(path))
    dataset_json = {
        "channel_names": {"0": "intensity"},
        "labels": {"background": 0, "ring": 1},
        "numTraining": num_cases,
        "file_ending": ".nii.gz",
        "topology": {"connectivity": "full", "labels": {"ring": {"betti": [1, 1], "match": True, "per_slice": True}}},
    }
    (root / "dataset.json").write_text(json.dumps(dataset_json, indent=1))
    return name
