"""Helpers shared by the conversion tests (constants of the real-data subsets, digests, nnU-Net check)."""
from __future__ import annotations

import hashlib
from pathlib import Path

MYOPS_CASES = ("myops_training_101", "myops_training_119", "myops_training_102")
DRIVE_CASES = ("21", "22", "23")
CHASE_CHILDREN = ("01", "02", "03")
ISBI_SLICES = (0, 1, 2, 3, 4, 5)
ROAD_TILES = ("19678630_15", "21328975_15")
CFD_CASES = ("001", "102", "107")


def tree_digest(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (to prove the source is not modified)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def verify_integrity(folder: Path, capfd) -> str:
    """Run nnU-Net's own ``verify_dataset_integrity`` (it raises on errors); returns everything it printed.

    nnU-Net prints from spawned worker processes and only *warns* about origin/direction mismatches,
    so the output is captured at file-descriptor level (pytest's ``capfd``) for the caller to check.
    """
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

    capfd.readouterr()
    verify_dataset_integrity(str(folder), 1)
    captured = capfd.readouterr()
    return captured.out + captured.err
