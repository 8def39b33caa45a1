"""The embedded demo dataset: synthetic 2D images whose labels have a known topology.

Each case is a ``(H, W)`` grey image (uint8, C order) with a label map (uint8):

* ``1`` myocardium: a closed ring of varying thickness (Betti ``(1, 1)``). At one angle the wall thins
  to 1-2 px and turns bright like a scar in late-enhancement MRI, so it looks like the blood pool:
  the place where a plain network breaks the ring.
* ``2`` blood pool: the disc inside the ring (Betti ``(1, 0)``), bright.
* ``3`` vessel: a thin branching tree (1-2 px wide, one piece) that grows from the image border and
  stays clear of the heart.

Images get a smooth bias field, blur and Gaussian noise. Everything is deterministic given the seed.
Topology is checked on every generated label map (foreground 8-connected, background 4-connected,
the project's ``connectivity="full"``); a draw that fails the check is redrawn from the same stream.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

__all__ = [
    "DEMO_LABELS",
    "DEMO_TOPOLOGY",
    "DemoCase",
    "generate_case",
    "generate_cases",
    "write_demo_dataset",
    "label_betti",
]

DEMO_LABELS: dict[str, int] = {"background": 0, "myocardium": 1, "blood_pool": 2, "vessel": 3}

DEMO_TOPOLOGY: dict = {
    "connectivity": "full",
    "labels": {
        "myocardium": {"betti": [1, 1], "match": True},
        "blood_pool": {"betti": [1, 0], "match": True},
        "vessel": {"betti": None, "match": True},
    },
}

_EIGHT = np.ones((3, 3), dtype=bool)
_FOUR = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class DemoCase:
    """One generated case: ``image`` (H, W) uint8 and ``label`` (H, W) uint8, C order."""

    name: str
    image: np.ndarray
    label: np.ndarray


def label_betti(mask: np.ndarray) -> tuple[int, int]:
    """Betti numbers ``(b0, b1)`` of a 2D binary mask, foreground 8-connected, background 4-connected.

    Computed by scipy labelling (independent of the persistence engine): ``b0`` counts foreground
    components; ``b1`` counts background components of the zero-padded mask minus the outer one.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"label_betti: expected a 2D mask, got shape {mask.shape}")
    b0 = int(ndimage.label(mask, structure=_EIGHT)[1])
    padded = np.pad(~mask, 1, constant_values=True)
    b1 = int(ndimage.label(padded, structure=_FOUR)[1]) - 1
    return b0, b1


def _smooth(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return field / (np.abs(field).max() + 1e-12)


def _heart(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Myocardium ring, blood pool and scar masks (bool, shape ``shape``)."""
    h, w = shape
    r_in = rng.uniform(0.10, 0.15) * min(h, w)
    thick = rng.uniform(0.045, 0.07) * min(h, w)
    cy = rng.uniform(0.3, 0.7) * h
    cx = rng.uniform(0.3, 0.45) * w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    theta = np.arctan2(dy, dx)
    # a smooth, non-circular inner border: a few low-frequency harmonics
    harm = sum(rng.uniform(-0.08, 0.08) * np.cos(k * theta + rng.uniform(0, 2 * np.pi)) for k in (2, 3))
    aspect = rng.uniform(0.8, 1.2)
    r = np.hypot(dy * aspect, dx / aspect)
    inner = r_in * (1.0 + harm)
    # pathology: the wall thins to ~1.6 px around a random angle theta0
    theta0 = rng.uniform(-np.pi, np.pi)
    width = rng.uniform(0.25, 0.45)
    dtheta = np.angle(np.exp(1j * (theta - theta0)))
    dip = np.exp(-((dtheta / width) ** 2))
    wall = thick - (thick - 1.6) * dip
    pool = r < inner
    ring = (r >= inner) & (r < inner + wall)
    scar = ring & (dip > 0.3)
    return ring, pool, scar


def _vessel_tree(rng: np.random.Generator, shape: tuple[int, int], keep_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A branching centre-line tree grown from the right border, and its thick (2 px) parts.

    Returns ``(centre, thick)`` bool masks. Branches stop before entering ``keep_out`` or the border.
    """
    h, w = shape
    centre = np.zeros(shape, dtype=bool)
    thick = np.zeros(shape, dtype=bool)
    blocked = ndimage.binary_dilation(keep_out, iterations=4)
    start = np.array([rng.uniform(0.25, 0.75) * h, w - 1.0])
    stack = [(start, np.pi + rng.uniform(-0.3, 0.3), 0, int(0.55 * w))]
    n_branches = 0
    while stack:
        pos, angle, depth, length = stack.pop()
        pos = pos.copy()
        for step in range(length):
            angle += rng.normal(0.0, 0.12)
            pos = pos + np.array([np.sin(angle), np.cos(angle)])
            iy, ix = int(round(pos[0])), int(round(pos[1]))
            if not (1 <= iy < h - 1 and 1 <= ix < w - 1) or blocked[iy, ix]:
                break
            centre[iy, ix] = True
            if depth == 0:
                thick[iy, ix] = True
            if depth < 3 and step > 6 and n_branches < 7 and rng.uniform() < 0.05:
                n_branches += 1
                side = rng.choice([-1.0, 1.0])
                stack.append((pos.copy(), angle + side * rng.uniform(0.5, 0.9), depth + 1, int(length * 0.6)))
    # 4-connect the rounded centre line (diagonal steps become L-steps) so the vessel never has a gap
    centre = centre | _fill_diagonals(centre)
    return centre, ndimage.binary_dilation(thick, structure=_FOUR) & ~blocked


def _fill_diagonals(mask: np.ndarray) -> np.ndarray:
    """Pixels that turn diagonal-only neighbours of ``mask`` into 4-connected pairs."""
    out = np.zeros_like(mask)
    a = mask[:-1, :-1] & mask[1:, 1:] & ~mask[:-1, 1:] & ~mask[1:, :-1]
    b = mask[:-1, 1:] & mask[1:, :-1] & ~mask[:-1, :-1] & ~mask[1:, 1:]
    out[:-1, 1:] |= a
    out[:-1, :-1] |= b
    return out


def _draw(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    ring, pool, scar = _heart(rng, shape)
    centre, thick = _vessel_tree(rng, shape, ring | pool)
    vessel = (centre | thick) & ~(ring | pool)
    label = np.zeros(shape, dtype=np.uint8)
    label[vessel] = DEMO_LABELS["vessel"]
    label[pool] = DEMO_LABELS["blood_pool"]
    label[ring] = DEMO_LABELS["myocardium"]

    # intensities (before noise): background tissue, dark myocardium, bright pool, bright scar, bright vessels
    tissue = 0.42 + 0.10 * _smooth(rng, shape, 6.0)
    image = tissue.copy()
    image[pool] = 0.85
    image[ring] = 0.22
    image[scar] = rng.uniform(0.62, 0.72)
    image[vessel] = 0.78
    image = ndimage.gaussian_filter(image, 0.7)                       # point-spread blur
    image *= 1.0 + 0.15 * _smooth(rng, shape, 20.0)                   # coil bias field
    image += rng.normal(0.0, rng.uniform(0.05, 0.08), shape)          # acquisition noise
    image = np.clip(image, 0.0, 1.0)
    return (image * 255.0 + 0.5).astype(np.uint8), label


def _topology_ok(label: np.ndarray) -> bool:
    return (label_betti(label == DEMO_LABELS["myocardium"]) == (1, 1)
            and label_betti(label == DEMO_LABELS["blood_pool"]) == (1, 0)
            and label_betti(label == DEMO_LABELS["vessel"])[0] == 1)


def generate_case(seed: int, *, shape: tuple[int, int] = (128, 128), name: str | None = None) -> DemoCase:
    """One deterministic case for ``seed`` (a non-negative int); ``shape`` is ``(H, W)``, each >= 64.

    Raises:
        ValueError: negative seed or a shape smaller than 64 in either direction.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"generate_case: expected a non-negative int seed, got {seed!r}")
    if len(shape) != 2 or min(shape) < 64:
        raise ValueError(f"generate_case: expected a 2D shape (H, W) with H, W >= 64, got {shape!r}")
    shape = (int(shape[0]), int(shape[1]))
    rng = np.random.default_rng([int(seed), 2026])
    for _ in range(100):
        image, label = _draw(rng, shape)
        if _topology_ok(label):
            return DemoCase(name=name or f"demo_{seed:04d}", image=image, label=label)
    raise RuntimeError(f"generate_case: no valid case after 100 draws for seed {seed}")  # pragma: no cover


def generate_cases(n: int, *, seed: int = 0, shape: tuple[int, int] = (128, 128), prefix: str = "demo") -> list[DemoCase]:
    """``n`` cases named ``{prefix}_000 ...``; case ``i`` uses seed ``seed * 1000 + i``."""
    if n < 1:
        raise ValueError(f"generate_cases: expected n >= 1, got {n}")
    return [generate_case(seed * 1000 + i, shape=shape, name=f"{prefix}_{i:03d}") for i in range(n)]


def _save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def write_demo_dataset(
    raw_root: str | os.PathLike,
    *,
    dataset_id: int = 990,
    num_train: int = 24,
    num_test: int = 6,
    seed: int = 0,
    shape: tuple[int, int] = (128, 128),
) -> Path:
    """Write ``Dataset{id:03d}_TopoDemo`` under ``raw_root`` as an nnU-Net raw dataset; return its folder.

    PNG files read by nnU-Net's ``NaturalImage2DIO``: ``imagesTr/demo_000_0000.png``,
    ``labelsTr/demo_000.png``, and the held-out ``imagesTs``/``labelsTs``. ``dataset.json`` carries the
    ``"topology"`` block. Written to a temporary folder and renamed; an existing dataset is replaced.
    """
    if not 1 <= dataset_id <= 999:
        raise ValueError(f"write_demo_dataset: expected dataset_id in 1..999, got {dataset_id}")
    if num_train < 5 or num_test < 1:
        raise ValueError(f"write_demo_dataset: expected num_train >= 5 and num_test >= 1, got {num_train}, {num_test}")
    raw_root = Path(raw_root)
    final = raw_root / f"Dataset{dataset_id:03d}_TopoDemo"
    tmp = raw_root / f".{final.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        (tmp / sub).mkdir(parents=True)
    train = generate_cases(num_train, seed=seed, shape=shape, prefix="demo")
    test = [generate_case(seed * 1000 + 500 + i, shape=shape, name=f"demotest_{i:03d}") for i in range(num_test)]
    for cases, img_dir, lab_dir in ((train, "imagesTr", "labelsTr"), (test, "imagesTs", "labelsTs")):
        for case in cases:
            _save_png(tmp / img_dir / f"{case.name}_0000.png", case.image)
            _save_png(tmp / lab_dir / f"{case.name}.png", case.label)
    dataset_json = {
        "name": "TopoDemo",
        "description": "nnunet_topo embedded demo: synthetic myocardium rings (with thin bright scars), "
                       "blood pools and thin branching vessels on noisy images",
        "channel_names": {"0": "grey"},
        "labels": dict(DEMO_LABELS),
        "numTraining": num_train,
        "file_ending": ".png",
        "overwrite_image_reader_writer": "NaturalImage2DIO",
        "topology": DEMO_TOPOLOGY,
        "demo_seed": seed,
        "licence": "generated by nnunet_topo.demo.data (no third-party data)",
    }
    (tmp / "dataset.json").write_text(json.dumps(dataset_json, indent=2) + "\n")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final
