"""ISBI 2012 EM (neuronal membranes, ssTEM) -> nnU-Net raw dataset of 2D grey PNGs.

Source layout (per-slice PNG export of the training stack)::

    SOURCE/train/image/0.png .. 29.png     8-bit grey, 512 x 512; the number is the slice index z
    SOURCE/train/label/0.png .. 29.png     {0, 255}: 0 = membrane, 255 = cell interior

``foreground="membrane"`` (default) writes label 1 where the source is 0 (the thin structure whose
topology matters for membrane tracing); ``foreground="cell"`` writes label 1 where the source is 255.
Adjacent slices are 50 nm apart and nearly identical, so the ``splits_final.json`` it writes uses
contiguous blocks of slices as validation folds (a random split would leak).
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
    folds_contiguous,
    group_by_case,
    read_png_like,
)

__all__ = ["convert_isbi2012"]

_SLICE = re.compile(r"^(?P<case>\d+)\.(png|tiff?)$", re.I)


def convert_isbi2012(
    source: str | os.PathLike,
    dataset_id: int,
    *,
    name: str = "ISBI2012EM",
    foreground: str = "membrane",
    num_folds: int = 5,
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert ISBI 2012 EM (see the module docstring).

    Raises:
        ConversionError: missing, unreadable or inconsistent slices (all listed); nothing is written.
    """
    if foreground not in ("membrane", "cell"):
        raise ConversionError(f"foreground: expected 'membrane' or 'cell', got {foreground!r}")
    source = Path(source)
    train = source / "train"
    if not (train / "image").is_dir() or not (train / "label").is_dir():
        raise ConversionError(f"ISBI 2012 source {source}: expected folders train/image/ and train/label/")
    images, problems = group_by_case((train / "image").iterdir(), _SLICE, what="image slice")
    labels, dup = group_by_case((train / "label").iterdir(), _SLICE, what="label slice")
    problems += dup
    width = max(2, max((len(str(int(k))) for k in set(images) | set(labels)), default=2))
    cases = []
    for key in sorted(set(images) | set(labels), key=int):
        case_id = f"isbi_z{int(key):0{width}d}"
        if key not in labels:
            problems.append((case_id, f"missing label train/label/{images[key]['file'].name}"))
        elif key not in images:
            problems.append((case_id, f"label train/label/{labels[key]['file'].name} has no image"))
        else:
            cases.append(CaseSource(case_id, "Tr", {"images": images[key]["file"], "label": labels[key]["file"]}))
    label_name = "membrane" if foreground == "membrane" else "cell"

    def load(case: CaseSource) -> ConvertedCase:
        img, mode = read_png_like(case.files["images"], what="image")
        if img.ndim != 2 or img.dtype != np.uint8:
            raise CaseProblem(f"image: expected 8-bit grey, got mode {mode} shape {img.shape}")
        lab, mode = read_png_like(case.files["label"], what="label")
        if lab.ndim != 2:
            raise CaseProblem(f"label: expected a single-channel image, got mode {mode} shape {lab.shape}")
        if lab.shape != img.shape:
            raise CaseProblem(f"label size {lab.shape} != image size {img.shape}")
        check_values(lab, (0, 255), what="label")
        fg = (lab == 0) if foreground == "membrane" else (lab == 255)
        return ConvertedCase(images=[img], label=fg.astype(np.uint8))

    desc = DatasetDescription(
        channel_names={"0": "EM"},
        labels={"background": 0, label_name: 1},
        file_ending=".png",
        topology={"connectivity": "full", "labels": {label_name: {"betti": None, "match": True}}},
        description=f"ISBI 2012 EM training slices; foreground = {label_name} "
        f"(source value {'0' if foreground == 'membrane' else '255'})",
        reference="https://imagej.net/events/isbi-2012-segmentation-challenge",
        licence="research use (challenge terms)",
        citation="A. Cardona et al., PLoS Biology 8(10):e1000502, 2010; I. Arganda-Carreras et al., "
        "Front. Neuroanat. 9:142, 2015",
    )
    return convert_dataset(
        source=source, cases=cases, load=load, description=desc, dataset_id=dataset_id, name=name,
        output_root=output_root, overwrite=overwrite, problems=problems,
        splits=lambda ids: folds_contiguous(ids, num_folds),
        report={"converter": "isbi2012", "foreground": foreground,
                "splits": "contiguous blocks of slices per validation fold"},
        progress=progress,
    )
