"""Generic NIfTI (or any SimpleITK-readable) image/label pairs -> nnU-Net raw dataset (3D vessels and the rest).

Cases are found with path patterns relative to ``SOURCE`` that contain ``{case}`` once, e.g.::

    images=["images/{case}_ct.nii.gz"], label="labels/{case}_vessels.nii.gz"

Several ``images`` patterns give several channels (``_0000``, ``_0001``, ... in that order). Every case
must have all channels and a label; their geometry must agree (size equal; spacing, origin and direction
within ``np.allclose(rtol=1e-5, atol=1e-6)``). ``labels`` maps nnU-Net label names, in order, to the
source values they take (``{"background": [0], "vessel": [1, 2]}``: label 0 <- 0, label 1 <- 1 or 2);
any other source value is an error. Output: ``.nii.gz``, images with their own geometry and pixel type,
labels ``uint8`` with the label's geometry.

``priors`` sets the ``"topology"`` block: ``{name: [b0, b1(, b2)] or None}``; every foreground label is
matched against the ground truth. ``per_slice`` says the priors hold per 2D slice (first array axis).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ._common import (
    CaseProblem,
    CaseSource,
    ConversionError,
    ConvertedCase,
    DatasetDescription,
    check_same_geometry,
    check_values,
    convert_dataset,
    read_sitk,
)

__all__ = ["convert_nifti", "parse_pattern"]


def parse_pattern(pattern: str) -> tuple[str, re.Pattern]:
    """``(glob, regex)`` for a relative path pattern with exactly one ``{case}``."""
    if not isinstance(pattern, str) or pattern.count("{case}") != 1:
        raise ConversionError(f"pattern: expected a relative path with exactly one '{{case}}', got {pattern!r}")
    if pattern.startswith("/") or ".." in Path(pattern).parts:
        raise ConversionError(f"pattern: expected a path relative to SOURCE without '..', got {pattern!r}")
    head, tail = pattern.split("{case}")
    regex = re.compile("^" + re.escape(head) + r"(?P<case>[^/]+?)" + re.escape(tail) + "$")
    return head + "*" + tail, regex


def _find(source: Path, pattern: str) -> dict[str, Path]:
    glob, regex = parse_pattern(pattern)
    out = {}
    for p in source.glob(glob):
        m = regex.match(p.relative_to(source).as_posix())
        if m and p.is_file():
            out[m.group("case")] = p
    return out


def convert_nifti(
    source: str | os.PathLike,
    dataset_id: int,
    *,
    images: Sequence[str],
    label: str,
    name: str = "NIfTI",
    channel_names: Sequence[str] | None = None,
    labels: Mapping[str, Sequence[int]] | None = None,
    priors: Mapping[str, Sequence[int] | None] | None = None,
    per_slice: bool = False,
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert image/label pairs found by patterns (see the module docstring).

    Raises:
        ConversionError: bad options, or missing, unreadable or inconsistent cases (all listed);
            nothing is written.
    """
    import SimpleITK as sitk

    source = Path(source)
    if not source.is_dir():
        raise ConversionError(f"source: expected a folder, got {source}")
    if not images:
        raise ConversionError("images: expected at least one image pattern, got none")
    channel_names = list(channel_names) if channel_names else [f"channel{i}" for i in range(len(images))]
    if len(channel_names) != len(images):
        raise ConversionError(f"channel names: expected {len(images)} (one per image pattern), got {channel_names}")
    labels = dict(labels) if labels is not None else {"background": [0], "foreground": [1]}
    names = list(labels)
    if not names or names[0] != "background" or 0 not in list(labels["background"]):
        raise ConversionError(f"labels: the first label must be 'background' and take source value 0, got {labels}")
    if "ignore" in names and names[-1] != "ignore":
        raise ConversionError("labels: 'ignore' must be the last label (nnU-Net's ignore label is the highest)")
    lut: dict[int, int] = {}
    for i, n in enumerate(names):
        for v in labels[n]:
            if int(v) in lut:
                raise ConversionError(f"labels: source value {v} is given to two labels")
            lut[int(v)] = i
    if len(names) > 255:
        raise ConversionError("labels: at most 255 labels (written as uint8)")
    priors = dict(priors or {})
    unknown = [n for n in priors if n not in names[1:] or n == "ignore"]
    if unknown:
        raise ConversionError(f"priors: {unknown} are not foreground label names {names[1:]}")
    ndims = {len(b) for b in priors.values() if b is not None}
    if len(ndims) > 1 or any(b is not None and (len(b) not in (2, 3) or min(b) < 0) for b in priors.values()):
        raise ConversionError(f"priors: expected None or lists of 2 or 3 non-negative integers of one length, got {priors}")

    found = [_find(source, p) for p in images]
    found_labels = _find(source, label)
    problems: list[tuple[str, str]] = []
    cases = []
    for case in sorted(set().union(*map(set, found)) | set(found_labels)):
        missing = [images[i].replace("{case}", case) for i, f in enumerate(found) if case not in f]
        if case not in found_labels:
            missing.append(label.replace("{case}", case))
        if missing:
            problems.append((case, f"missing file(s) {missing}"))
            continue
        files = {f"image{i}": f[case] for i, f in enumerate(found)}
        files["label"] = found_labels[case]
        cases.append(CaseSource(case, "Tr", files))

    table = np.zeros(max(lut) + 1, dtype=np.uint8)
    for v, i in lut.items():
        table[v] = i

    def load(case: CaseSource) -> ConvertedCase:
        lab_img = read_sitk(case.files["label"], what="label")
        imgs = []
        for i in range(len(images)):
            img = read_sitk(case.files[f"image{i}"], what=f"image {channel_names[i]}")
            if img.GetNumberOfComponentsPerPixel() != 1:
                raise CaseProblem(f"image {channel_names[i]}: expected one component per voxel, "
                                  f"got {img.GetNumberOfComponentsPerPixel()} (give one pattern per channel)")
            check_same_geometry(lab_img, img, what=f"image {channel_names[i]}", reference_what="label")
            arr = sitk.GetArrayViewFromImage(img)
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise CaseProblem(f"image {channel_names[i]} contains NaN or infinite values")
            imgs.append(img)
        lab = sitk.GetArrayFromImage(lab_img)
        if lab.dtype.kind == "f":
            if not np.isfinite(lab).all() or not np.array_equal(lab, np.round(lab)):
                raise CaseProblem(f"label: expected integer values, got non-integer {lab.dtype} values")
        elif lab.dtype.kind not in "iu":
            raise CaseProblem(f"label: expected an integer volume, got {lab.dtype}")
        check_values(lab, lut, what="label")
        out = sitk.GetImageFromArray(table[lab.astype(np.int64)])
        out.CopyInformation(lab_img)
        return ConvertedCase(images=imgs, label=out)

    topo_labels = {}
    for n in names[1:]:
        if n == "ignore":
            continue
        entry: dict = {"betti": list(map(int, priors[n])) if priors.get(n) is not None else None, "match": True}
        if per_slice:
            entry["per_slice"] = True
        topo_labels[n] = entry
    desc = DatasetDescription(
        channel_names={str(i): c for i, c in enumerate(channel_names)},
        labels={n: i for i, n in enumerate(names)},
        file_ending=".nii.gz",
        topology={"connectivity": "full", "labels": topo_labels},
        description=f"converted from {source.name} with images={list(images)}, label={label!r}",
    )
    return convert_dataset(
        source=source, cases=cases, load=load, description=desc, dataset_id=dataset_id, name=name,
        output_root=output_root, overwrite=overwrite, problems=problems,
        report={"converter": "nifti", "images": list(images), "label": label,
                "label_map": {str(v): i for v, i in sorted(lut.items())}},
        progress=progress,
    )
