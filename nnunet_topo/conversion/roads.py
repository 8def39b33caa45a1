"""Massachusetts Roads (Mnih 2013) -> nnU-Net raw dataset of 2D RGB PNGs.

Source layout::

    SOURCE/images/<tile>.png (or .tif/.tiff)   RGB aerial tile, 1500 x 1500
    SOURCE/masks/<tile>.png  (or .tif/.tiff)   road mask {0, 255} (255 = road)
    SOURCE/test_images/, SOURCE/test_masks/    optional test split -> imagesTs/labelsTs

Label: 0 background, 1 road. The masks are rasterised OpenStreetMap centre lines and are drawn even
where the tile has no imagery (white). With ``nodata_ignore`` those areas become nnU-Net's ignore label
2: pixels with all channels >= 250, in 8-connected white components of at least
``NODATA_MIN_PIXELS`` pixels (so isolated bright roofs stay ordinary pixels). Tiles are converted as is.
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

__all__ = ["convert_roads", "nodata_mask", "NODATA_MIN_VALUE", "NODATA_MIN_PIXELS"]

NODATA_MIN_VALUE = 250
NODATA_MIN_PIXELS = 50
_TILE = re.compile(r"^(?P<case>[A-Za-z0-9][A-Za-z0-9_.-]*?)\.(png|tiff?)$", re.I)


def nodata_mask(image: np.ndarray, *, min_value: int = NODATA_MIN_VALUE, min_pixels: int = NODATA_MIN_PIXELS) -> np.ndarray:
    """White no-imagery area of an RGB tile ``(rows, cols, 3)`` -> ``bool`` ``(rows, cols)``.

    All channels ``>= min_value``, keeping 8-connected components of at least ``min_pixels`` pixels.
    """
    from scipy import ndimage

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"nodata_mask: expected an RGB array (rows, cols, 3), got shape {image.shape}")
    white = (image >= min_value).all(axis=2)
    lab, n = ndimage.label(white, structure=np.ones((3, 3), bool))
    if n == 0:
        return white
    sizes = np.bincount(lab.ravel())
    keep = sizes >= min_pixels
    keep[0] = False
    return keep[lab]


def convert_roads(
    source: str | os.PathLike,
    dataset_id: int,
    *,
    name: str = "MassRoads",
    nodata_ignore: bool = False,
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert Massachusetts Roads tiles (see the module docstring).

    Raises:
        ConversionError: missing, unreadable or inconsistent tiles (all listed); nothing is written.
    """
    source = Path(source)
    if not (source / "images").is_dir() or not (source / "masks").is_dir():
        raise ConversionError(f"roads source {source}: expected folders images/ and masks/")
    cases: list[CaseSource] = []
    problems: list[tuple[str, str]] = []
    for split, img_dir, mask_dir in (("Tr", "images", "masks"), ("Ts", "test_images", "test_masks")):
        if split == "Ts" and not (source / img_dir).is_dir():
            continue
        if not (source / mask_dir).is_dir():
            problems.append((f"{img_dir}/", f"missing folder {mask_dir}/"))
            continue
        images, p1 = group_by_case((source / img_dir).iterdir(), _TILE, what="image")
        masks, p2 = group_by_case((source / mask_dir).iterdir(), _TILE, what="mask")
        problems += p1 + p2
        for key in sorted(set(images) | set(masks)):
            case_id = f"road_{key}"
            if key not in masks:
                problems.append((case_id, f"missing mask {mask_dir}/{key}.png"))
            elif key not in images:
                problems.append((case_id, f"mask {mask_dir}/{masks[key]['file'].name} has no image"))
            else:
                cases.append(CaseSource(case_id, split, {"images": images[key]["file"], "label": masks[key]["file"]}))

    def load(case: CaseSource) -> ConvertedCase:
        img, mode = read_png_like(case.files["images"], what="image")
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise CaseProblem(f"image: expected 8-bit RGB, got mode {mode} shape {img.shape}")
        mask, mode = read_png_like(case.files["label"], what="mask")
        if mask.ndim != 2:
            raise CaseProblem(f"mask: expected a single-channel image, got mode {mode} shape {mask.shape}")
        if mask.shape != img.shape[:2]:
            raise CaseProblem(f"mask size {mask.shape} != image size {img.shape[:2]}")
        check_values(mask, (0, 255), what="mask")
        label = (mask == 255).astype(np.uint8)
        notes = []
        if nodata_ignore:
            nd = nodata_mask(img)
            roads_in = int(np.count_nonzero(label.astype(bool) & nd))
            notes.append(f"{nd.mean():.3f} of the tile is no-data (ignore); {roads_in} road pixels there became ignore")
            label[nd] = 2
        return ConvertedCase(images=[img], label=label, notes=notes)

    labels = {"background": 0, "road": 1}
    if nodata_ignore:
        labels["ignore"] = 2
    desc = DatasetDescription(
        channel_names={"0": "R", "1": "G", "2": "B"},
        labels=labels,
        file_ending=".png",
        topology={"connectivity": "full", "labels": {"road": {"betti": None, "match": True}}},
        description="Massachusetts Roads aerial tiles, OSM road masks"
        + (f"; white no-data areas (all channels >= {NODATA_MIN_VALUE}) = ignore (2)" if nodata_ignore else ""),
        reference="https://www.cs.toronto.edu/~vmnih/data/",
        licence="not stated by the source",
        citation="V. Mnih, Machine Learning for Aerial Image Labeling, PhD thesis, University of Toronto, 2013",
    )
    return convert_dataset(
        source=source, cases=cases, load=load, description=desc, dataset_id=dataset_id, name=name,
        output_root=output_root, overwrite=overwrite, problems=problems,
        report={"converter": "roads", "nodata_ignore": nodata_ignore,
                "nodata_rule": f"all channels >= {NODATA_MIN_VALUE}, 8-connected components >= {NODATA_MIN_PIXELS} px"},
        progress=progress,
    )
