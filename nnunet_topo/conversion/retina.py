"""Retinal vessel datasets (DRIVE, CHASE_DB1) -> nnU-Net raw datasets of 2D RGB PNGs.

Both write one RGB PNG per case (``CASE_0000.png``, three channels R, G, B as nnU-Net's NaturalImage2DIO
reads them) and a ``uint8`` PNG label: 0 background, 1 vessel, and with ``fov_ignore`` 2 = ``ignore``
(nnU-Net's ignore label, the highest value) outside the field of view. Arrays are ``(rows, cols)`` /
``(rows, cols, 3)``, C order.

DRIVE layout (official zip)::

    SOURCE/training/images/21_training.tif   SOURCE/training/1st_manual/21_manual1.gif
    SOURCE/training/mask/21_training_mask.gif
    SOURCE/test/images/01_test.tif  SOURCE/test/1st_manual/01_manual1.gif  SOURCE/test/mask/01_test_mask.gif

``test/`` is optional; when present it goes to imagesTs/labelsTs (imagesTs only when it has no
annotation folder). Manual annotations are binarised
with ``> 0`` (``1st_manual`` is {0, 255}; ``2nd_manual`` palette GIFs are {0, 1}); any other value is an error.

CHASE_DB1 layout::

    SOURCE/Image_01L.jpg  SOURCE/Image_01L_1stHO.png  (SOURCE/Image_01L_2ndHO.png)

CHASE has no FOV masks; :func:`chase_fov` derives one from the image (red channel > 20, largest
8-connected component, holes filled). The two eyes of a child (``01L``, ``01R``) always share a fold in
the ``splits_final.json`` that the converter writes.
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
    folds_from_groups,
    group_by_case,
    read_png_like,
)

__all__ = ["convert_drive", "convert_chase", "chase_fov", "FOV_RED_THRESHOLD"]

# CHASE field of view: red channel strictly above this value (0..255). On DRIVE, where official FOV
# masks exist, the same rule reproduces them (see docs/conversion.md for the measured agreement).
FOV_RED_THRESHOLD = 20

_RGB = {"0": "R", "1": "G", "2": "B"}
VESSEL_TOPOLOGY = {"connectivity": "full", "labels": {"vessel": {"betti": None, "match": True}}}


def _labels(fov_ignore: bool) -> dict[str, int]:
    out = {"background": 0, "vessel": 1}
    if fov_ignore:
        out["ignore"] = 2
    return out


def _read_rgb(path: Path) -> np.ndarray:
    arr, mode = read_png_like(path, what="image")
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise CaseProblem(f"image {path.name}: expected an 8-bit RGB image, got mode {mode} shape {arr.shape}")
    return arr


def _read_binary(path: Path, *, what: str, shape: tuple[int, int]) -> np.ndarray:
    arr, mode = read_png_like(path, what=what)
    if arr.ndim != 2:
        raise CaseProblem(f"{what} {path.name}: expected a single-channel image, got mode {mode} shape {arr.shape}")
    if arr.shape != shape:
        raise CaseProblem(f"{what} {path.name}: size {arr.shape} != image size {shape}")
    if arr.dtype == bool:
        return arr
    found = check_values(arr, (0, 1, 255), what=f"{what} {path.name}")
    if 1 in found and 255 in found:
        raise CaseProblem(f"{what} {path.name}: mixes values 1 and 255; expected {{0, 255}} or {{0, 1}}")
    return arr > 0


def _compose(vessel: np.ndarray, fov: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
    label = vessel.astype(np.uint8)
    notes = []
    if fov is not None:
        outside = int(np.count_nonzero(vessel & ~fov))
        if outside:
            notes.append(f"{outside} vessel pixels outside the FOV became ignore (2)")
        label[~fov] = 2
    return label, notes


def chase_fov(image: np.ndarray, threshold: int = FOV_RED_THRESHOLD) -> np.ndarray:
    """Field of view of a fundus photograph: ``red > threshold``, largest 8-connected component, holes filled.

    Args:
        image: ``uint8`` RGB array ``(rows, cols, 3)``.
    Returns:
        ``bool`` array ``(rows, cols)``.
    """
    from scipy import ndimage

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"chase_fov: expected an RGB array (rows, cols, 3), got shape {image.shape}")
    raw = image[..., 0] > threshold
    lab, n = ndimage.label(raw, structure=np.ones((3, 3), bool))
    if n == 0:
        return raw
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(lab == int(sizes.argmax()))


# -------------------------------------------------------------------------------------------- DRIVE

def _drive_root(source: Path) -> Path:
    if (source / "training").is_dir():
        return source
    if (source / "DRIVE" / "training").is_dir():
        return source / "DRIVE"
    raise ConversionError(f"DRIVE source {source}: expected a training/ folder (images/, 1st_manual/, mask/)")


def _drive_split(folder: Path, split: str, kind: str, observer: str) -> tuple[list[CaseSource], list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    subs = {"images": folder / "images", "label": folder / observer, "fov": folder / "mask"}
    if split == "Ts" and not subs["label"].is_dir():  # a test set without public annotations: images only
        del subs["label"]
    for role, sub in subs.items():
        if not sub.is_dir():
            return [], [(f"{folder.name}/", f"missing folder {sub.name}/")]
    suffix = "1" if observer == "1st_manual" else "2"
    pats = {
        "images": re.compile(rf"^(?P<case>\d+)_{kind}\.tiff?$", re.I),
        "label": re.compile(rf"^(?P<case>\d+)_manual{suffix}\.gif$", re.I),
        "fov": re.compile(rf"^(?P<case>\d+)_{kind}_mask\.gif$", re.I),
    }
    pats = {r: p for r, p in pats.items() if r in subs}
    found = {}
    for role, pat in pats.items():
        found[role], dup = group_by_case(subs[role].iterdir(), pat, what=f"{role} file")
        problems += dup
    cases = []
    for num in sorted(set().union(*found.values())):
        missing = [f"{subs[r].name}/" for r in pats if num not in found[r]]
        case_id = f"drive_{num}"
        if missing:
            problems.append((case_id, f"missing file(s) in {missing}"))
            continue
        cases.append(CaseSource(case_id, split, {r: found[r][num]["file"] for r in pats}, has_label="label" in subs))
    return cases, problems


def convert_drive(
    source: str | os.PathLike,
    dataset_id: int,
    *,
    name: str = "DRIVE",
    fov_ignore: bool = False,
    test_observer: str = "1st_manual",
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert DRIVE (see the module docstring). ``test_observer``: ``1st_manual`` or ``2nd_manual``.

    Raises:
        ConversionError: missing, unreadable or inconsistent cases (all listed); nothing is written.
    """
    if test_observer not in ("1st_manual", "2nd_manual"):
        raise ConversionError(f"test_observer: expected '1st_manual' or '2nd_manual', got {test_observer!r}")
    root = _drive_root(Path(source))
    cases, problems = _drive_split(root / "training", "Tr", "training", "1st_manual")
    if (root / "test").is_dir():
        ts, p = _drive_split(root / "test", "Ts", "test", test_observer)
        cases += ts
        problems += p

    def load(case: CaseSource) -> ConvertedCase:
        img = _read_rgb(case.files["images"])
        shape = img.shape[:2]
        if "label" not in case.files:
            return ConvertedCase(images=[img], label=None)
        vessel = _read_binary(case.files["label"], what="manual annotation", shape=shape)
        fov = _read_binary(case.files["fov"], what="FOV mask", shape=shape) if fov_ignore else None
        label, notes = _compose(vessel, fov)
        return ConvertedCase(images=[img], label=label, notes=notes)

    desc = DatasetDescription(
        channel_names=_RGB,
        labels=_labels(fov_ignore),
        file_ending=".png",
        topology=VESSEL_TOPOLOGY,
        description="DRIVE retinal vessels: RGB fundus images, 1st_manual vessel annotation"
        + ("; outside the FOV mask = ignore (2)" if fov_ignore else ""),
        reference="https://drive.grand-challenge.org/",
        licence="research use; redistribution rights unclear (see the source's terms)",
        citation="J. Staal et al., IEEE TMI 23(4):501-509, 2004",
    )
    return convert_dataset(
        source=root, cases=cases, load=load, description=desc, dataset_id=dataset_id, name=name,
        output_root=output_root, overwrite=overwrite, problems=problems,
        report={"converter": "drive", "fov_ignore": fov_ignore, "test_observer": test_observer},
        progress=progress,
    )


# -------------------------------------------------------------------------------------------- CHASE

_CHASE_IMAGE = re.compile(r"^Image_(?P<case>\d+[LR])\.jpe?g$", re.I)


def convert_chase(
    source: str | os.PathLike,
    dataset_id: int,
    *,
    name: str = "CHASEDB1",
    observer: str = "1stHO",
    fov_ignore: bool = False,
    num_folds: int = 5,
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert CHASE_DB1 (see the module docstring); writes a child-grouped ``splits_final.json``.

    Raises:
        ConversionError: missing, unreadable or inconsistent cases (all listed); nothing is written.
    """
    if observer not in ("1stHO", "2ndHO"):
        raise ConversionError(f"observer: expected '1stHO' or '2ndHO', got {observer!r}")
    source = Path(source)
    folder = source / "CHASEDB1" if (source / "CHASEDB1").is_dir() else source
    files = [p for p in folder.iterdir() if p.is_file()]
    images, problems = group_by_case(files, _CHASE_IMAGE, what="image")
    labels, dup = group_by_case(files, re.compile(rf"^Image_(?P<case>\d+[LR])_{observer}\.png$", re.I),
                                what="annotation")
    problems += dup
    cases = []
    for key in sorted(set(images) | set(labels)):
        case_id = f"chase_{key.upper()}"
        if key not in images:
            problems.append((case_id, f"annotation Image_{key}_{observer}.png has no image Image_{key}.jpg"))
        elif key not in labels:
            problems.append((case_id, f"missing annotation Image_{key}_{observer}.png"))
        else:
            cases.append(CaseSource(case_id, "Tr", {"images": images[key]["file"], "label": labels[key]["file"]}))

    def load(case: CaseSource) -> ConvertedCase:
        img = _read_rgb(case.files["images"])
        vessel = _read_binary(case.files["label"], what="annotation", shape=img.shape[:2])
        fov = chase_fov(img) if fov_ignore else None
        label, notes = _compose(vessel, fov)
        return ConvertedCase(images=[img], label=label, notes=notes)

    def child(case_id: str) -> str:
        return case_id[len("chase_"):-1]  # chase_01L -> 01

    desc = DatasetDescription(
        channel_names=_RGB,
        labels=_labels(fov_ignore),
        file_ending=".png",
        topology=VESSEL_TOPOLOGY,
        description=f"CHASE_DB1 retinal vessels (14 children x 2 eyes), {observer} annotation"
        + (f"; outside the derived FOV (red > {FOV_RED_THRESHOLD}) = ignore (2)" if fov_ignore else ""),
        reference="https://researchdata.kingston.ac.uk/96/",
        licence="see the source's terms",
        citation="M.M. Fraz et al., IEEE TBME 59(9):2538-2548, 2012",
    )
    return convert_dataset(
        source=folder, cases=cases, load=load, description=desc, dataset_id=dataset_id, name=name,
        output_root=output_root, overwrite=overwrite, problems=problems,
        splits=lambda ids: folds_from_groups({c: child(c) for c in ids}, num_folds),
        report={"converter": "chase", "observer": observer, "fov_ignore": fov_ignore,
                "fov_rule": f"red > {FOV_RED_THRESHOLD}, largest 8-connected component, holes filled",
                "splits": "both eyes of a child in the same fold"},
        progress=progress,
    )
