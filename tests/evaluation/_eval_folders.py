"""Helpers writing tiny nnU-Net folders (2D PNG and 3D NIfTI) for the evaluator tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SHAPE = (20, 27)


def ring() -> np.ndarray:
    m = np.zeros(SHAPE, dtype=np.uint8)
    m[4:16, 5:21] = 1
    m[7:13, 8:18] = 0
    return m


def write_png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(arr.astype(np.uint8)).save(path)


def write_nii(path: Path, arr: np.ndarray, spacing=(1.25, 1.25, 8.0)) -> None:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(arr.astype(np.uint8))
    img.SetSpacing(spacing)
    img.SetOrigin((3.0, -2.0, 10.0))
    sitk.WriteImage(img, str(path))


def analytic_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """case -> (ground truth, prediction), binary, label 1."""
    r = ring()
    broken = r.copy()
    broken[9:11, 5:8] = 0
    island = r.copy()
    island[17:19, 23:25] = 1
    blob = np.zeros(SHAPE, np.uint8)
    blob[5:11, 6:14] = 1
    two = blob.copy()
    two[14:18, 18:25] = 1
    shifted = np.zeros(SHAPE, np.uint8)
    shifted[5:11, 8:16] = 1
    return {"ring": (r, r), "broken_ring": (r, broken), "ring_island": (r, island),
            "two_blobs": (blob, two), "shifted_blob": (blob, shifted)}

