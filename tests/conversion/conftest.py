"""Small copies of the real datasets (a few cases each) laid out as each converter expects.

The copies live in ``tmp_path`` so that fault tests can corrupt them; the shared data is never touched.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _conversion_helpers import (  # noqa: E402
    CFD_CASES,
    CHASE_CHILDREN,
    DRIVE_CASES,
    ISBI_SLICES,
    MYOPS_CASES,
    ROAD_TILES,
)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


@pytest.fixture
def out_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "nnUNet_raw"
    root.mkdir()
    monkeypatch.setenv("nnUNet_raw", str(root))
    return root


@pytest.fixture
def myops_src(shared_data, tmp_path) -> Path:
    src = tmp_path / "myops_src"
    base = shared_data / "MyoPS2020"
    for case in MYOPS_CASES:
        for seq in ("C0", "DE", "T2"):
            _copy(base / "train25" / f"{case}_{seq}.nii.gz", src / "train25" / f"{case}_{seq}.nii.gz")
        _copy(base / "train25_myops_gd" / f"{case}_gd.nii.gz", src / "train25_myops_gd" / f"{case}_gd.nii.gz")
    return src


@pytest.fixture
def drive_src(shared_data, tmp_path) -> Path:
    """Three training cases, and one of them again as a one-case ``test/`` split (DRIVE's test set is held out)."""
    src = tmp_path / "drive_src"
    base = shared_data / "DRIVE" / "training"
    for n in DRIVE_CASES:
        _copy(base / "images" / f"{n}_training.tif", src / "training" / "images" / f"{n}_training.tif")
        _copy(base / "1st_manual" / f"{n}_manual1.gif", src / "training" / "1st_manual" / f"{n}_manual1.gif")
        _copy(base / "mask" / f"{n}_training_mask.gif", src / "training" / "mask" / f"{n}_training_mask.gif")
    n = DRIVE_CASES[0]
    _copy(base / "images" / f"{n}_training.tif", src / "test" / "images" / "01_test.tif")
    _copy(base / "1st_manual" / f"{n}_manual1.gif", src / "test" / "1st_manual" / "01_manual1.gif")
    _copy(base / "mask" / f"{n}_training_mask.gif", src / "test" / "mask" / "01_test_mask.gif")
    return src


@pytest.fixture
def chase_src(shared_data, tmp_path) -> Path:
    src = tmp_path / "chase_src"
    base = shared_data / "CHASE_DB1" / "CHASEDB1"
    for child in CHASE_CHILDREN:
        for eye in "LR":
            for suffix in (".jpg", "_1stHO.png"):
                _copy(base / f"Image_{child}{eye}{suffix}", src / f"Image_{child}{eye}{suffix}")
    return src


@pytest.fixture
def isbi_src(shared_data, tmp_path) -> Path:
    src = tmp_path / "isbi_src"
    base = shared_data / "ISBI2012_EM" / "train"
    for z in ISBI_SLICES:
        for sub in ("image", "label"):
            _copy(base / sub / f"{z}.png", src / "train" / sub / f"{z}.png")
    return src


@pytest.fixture
def roads_src(shared_data, tmp_path) -> Path:
    src = tmp_path / "roads_src"
    base = shared_data / "MassachusettsRoads"
    for tile in ROAD_TILES:
        for sub in ("images", "masks"):
            _copy(base / sub / f"{tile}.png", src / sub / f"{tile}.png")
    return src


@pytest.fixture
def cfd_src(shared_data, tmp_path) -> Path:
    src = tmp_path / "cfd_src"
    base = shared_data / "CrackForest"
    for k in CFD_CASES:
        _copy(base / "image" / f"{k}.jpg", src / "image" / f"{k}.jpg")
        _copy(base / "groundTruth" / f"{k}.mat", src / "groundTruth" / f"{k}.mat")
    return src
