"""Corpus of the repair benchmark: real ground truths with known topological damage.

Every case is a small 2D crop of a real annotation from ``../shared/data`` (never copied into the
repository) and a *perturbed* copy of it whose topology differs from the ground truth:

* **vessels** (DRIVE ``training/1st_manual``, CHASE_DB1 ``*_1stHO``), crops of 128 x 144 pixels
  (rows x cols): 1-2 **gaps** (a disc removed across a thin/medium vessel where it breaks a
  connection or a loop) and 1-2 **spurious blobs** (small discs added at least 4 pixels away
  from every vessel);
* **myocardium** (MyoPS 2020, labels {200, 1220, 2221} of one 2D slice), crops of 96 x 112 pixels
  centred on the heart, only slices whose myocardium is a clean ring (Betti numbers (1, 1)): the
  ring **broken** (a 3-pixel-wide cut along a ray from the blood pool outwards), **punctured**
  (a small disc removed inside the wall) or both. "Both" keeps the Betti numbers (1, 1) while the
  features no longer match: only a matching-based criterion can see it.

Each perturbation is accepted only if it changes the Betti numbers of the mask it is applied to,
counted here independently of the persistence engine by ``scipy.ndimage.label`` (foreground
8-connected, holes = bounded 4-connected background components: the project's
``connectivity="full"`` convention). Masks are ``uint8`` {0, 1}, shape ``(H, W)``, C order.

The corpus is deterministic: the same ``seed`` and data give the same cases.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "RepairCase",
    "betti_numbers_scipy",
    "build_corpus",
    "starting_logits",
    "load_vessel_masks",
    "load_myocardium_slices",
    "VESSEL_CROP",
    "MYO_CROP",
    "MYOCARDIUM_LABELS",
]

VESSEL_CROP = (128, 144)
MYO_CROP = (96, 112)
MYOCARDIUM_LABELS = (200, 1220, 2221)

_EIGHT = np.ones((3, 3), dtype=bool)
_FOUR = ndi.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class RepairCase:
    """One benchmark case.

    Attributes:
        name: readable identifier, ``"<source>/<file>[z<slice>]@r<row>c<col>"``.
        source: ``"DRIVE"``, ``"CHASE_DB1"`` or ``"MyoPS2020"``.
        target: ground-truth crop, ``uint8`` {0, 1}, ``(H, W)``.
        perturbed: damaged copy of ``target``, same shape and dtype.
        perturbations: what was done, in order (``"gap"``, ``"blob"``, ``"break"``, ``"puncture"``).
        betti_target: ``(b0, b1)`` of ``target`` (8-connected foreground, 4-connected holes).
        betti_perturbed: ``(b0, b1)`` of ``perturbed``.
    """

    name: str
    source: str
    target: np.ndarray
    perturbed: np.ndarray
    perturbations: tuple[str, ...]
    betti_target: tuple[int, int]
    betti_perturbed: tuple[int, int]


def betti_numbers_scipy(mask: np.ndarray) -> tuple[int, int]:
    """``(b0, b1)`` of a 2D binary mask by connected-component labelling (no persistence).

    b0 = 8-connected foreground components; b1 = 4-connected background components that do not touch
    the image border (holes). This is the T-construction (``connectivity="full"``).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2D mask (H, W), got shape {mask.shape}")
    fg = mask.astype(bool)
    _, b0 = ndi.label(fg, structure=_EIGHT)
    bg_labels, n_bg = ndi.label(~fg, structure=_FOUR)
    if n_bg == 0:
        return int(b0), 0
    border = np.unique(np.concatenate([bg_labels[0], bg_labels[-1], bg_labels[:, 0], bg_labels[:, -1]]))
    n_border = int(np.count_nonzero(border))
    return int(b0), int(n_bg - n_border)


def _disc(shape: tuple[int, int], center: tuple[float, float], radius: float) -> np.ndarray:
    rr, cc = np.ogrid[: shape[0], : shape[1]]
    return (rr - center[0]) ** 2 + (cc - center[1]) ** 2 <= radius**2


# ----------------------------------------------------------------------------------------- loading
def load_vessel_masks(data_root: Path) -> list[tuple[str, str, np.ndarray, np.ndarray | None]]:
    """``(source, file name, vessel mask bool (H, W), field-of-view mask or None)`` for DRIVE and CHASE."""
    from PIL import Image

    out: list[tuple[str, str, np.ndarray, np.ndarray | None]] = []
    drive = Path(data_root) / "DRIVE" / "training"
    for f in sorted((drive / "1st_manual").glob("*_manual1.gif")):
        fov_file = drive / "mask" / f.name.replace("_manual1.gif", "_training_mask.gif")
        fov = np.asarray(Image.open(fov_file)) > 0 if fov_file.is_file() else None
        out.append(("DRIVE", f.name, np.asarray(Image.open(f)) > 0, fov))
    for f in sorted((Path(data_root) / "CHASE_DB1" / "CHASEDB1").glob("*_1stHO.png")):
        out.append(("CHASE_DB1", f.name, np.asarray(Image.open(f)).astype(bool), None))
    return out


def load_myocardium_slices(data_root: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, myocardium bool (H, W), LV blood pool bool (H, W))`` for MyoPS slices whose myocardium
    is a clean ring (Betti numbers (1, 1)). Slices are along the first array axis (NIfTI z)."""
    import SimpleITK as sitk

    out: list[tuple[str, np.ndarray, np.ndarray]] = []
    for f in sorted((Path(data_root) / "MyoPS2020" / "train25_myops_gd").glob("*_gd.nii.gz")):
        vol = sitk.GetArrayFromImage(sitk.ReadImage(str(f)))
        for z in range(vol.shape[0]):
            myo = np.isin(vol[z], MYOCARDIUM_LABELS)
            if myo.sum() < 200 or betti_numbers_scipy(myo) != (1, 1):
                continue
            out.append((f"{f.name.replace('_gd.nii.gz', '')}z{z}", myo, vol[z] == 500))
    return out


# ------------------------------------------------------------------------------------ perturbations
def _accept(before: np.ndarray, after: np.ndarray, check: Callable[[tuple, tuple], bool]) -> bool:
    return check(betti_numbers_scipy(before), betti_numbers_scipy(after))


def _cut_gap(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Remove a disc across a thin or medium vessel; accepted only if b0 grows or b1 shrinks."""
    from skimage.morphology import skeletonize

    dist = ndi.distance_transform_edt(mask)
    # skimage 0.26 segfaults on some bool inputs of skeletonize (uint8 works): pass uint8
    skel = skeletonize(mask.astype(np.uint8)).astype(bool) & (dist <= 2.5)
    skel[:8], skel[-8:], skel[:, :8], skel[:, -8:] = False, False, False, False
    pts = np.argwhere(skel)
    rng.shuffle(pts)
    for r, c in pts[:60]:
        radius = float(dist[r, c]) + 1.5
        out = mask & ~_disc(mask.shape, (r, c), radius)
        if _accept(mask, out, lambda b, a: a[0] > b[0] or a[1] < b[1]):
            return out
    return None


def _add_blob(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Add a disc (radius 2-3.5) at least 4 pixels from any foreground; accepted if b0 grows by one."""
    radius = float(rng.uniform(2.0, 3.5))
    far = ndi.distance_transform_edt(~mask) > radius + 4
    m = int(np.ceil(radius)) + 3
    far[:m], far[-m:], far[:, :m], far[:, -m:] = False, False, False, False
    pts = np.argwhere(far)
    if len(pts) == 0:
        return None
    r, c = pts[rng.integers(len(pts))]
    out = mask | _disc(mask.shape, (r, c), radius)
    return out if _accept(mask, out, lambda b, a: a[0] == b[0] + 1) else None


def _break_ring(mask: np.ndarray, center: tuple[float, float], rng: np.random.Generator) -> np.ndarray | None:
    """Cut the ring along a ray from ``center`` outwards (3 pixels wide); accepted if b1 drops."""
    rr, cc = np.mgrid[: mask.shape[0], : mask.shape[1]].astype(np.float64)
    for _ in range(12):
        angle = rng.uniform(0, 2 * np.pi)
        d = np.array([np.sin(angle), np.cos(angle)])
        vr, vc = rr - center[0], cc - center[1]
        along = vr * d[0] + vc * d[1]
        across = np.abs(vr * d[1] - vc * d[0])
        out = mask & ~((along >= 0) & (across <= 1.5))
        if _accept(mask, out, lambda b, a: a[1] < b[1] and a[0] == b[0]):
            return out
    return None


def _puncture(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Remove a small disc inside the wall (radius 1-2); accepted if b1 grows by one."""
    radius = float(rng.uniform(1.0, 2.0))
    dist = ndi.distance_transform_edt(mask)
    pts = np.argwhere(dist >= radius + 2.0)
    rng.shuffle(pts)
    for r, c in pts[:30]:
        out = mask & ~_disc(mask.shape, (r, c), radius)
        if _accept(mask, out, lambda b, a: a[1] == b[1] + 1 and a[0] == b[0]):
            return out
    return None


# ------------------------------------------------------------------------------------------ corpus
def _vessel_case(sources, rng: np.random.Generator) -> RepairCase | None:
    source, fname, vessels, fov = sources[rng.integers(len(sources))]
    h, w = VESSEL_CROP
    r0 = int(rng.integers(0, vessels.shape[0] - h))
    c0 = int(rng.integers(0, vessels.shape[1] - w))
    target = vessels[r0 : r0 + h, c0 : c0 + w]
    if fov is not None and fov[r0 : r0 + h, c0 : c0 + w].mean() < 0.9:
        return None
    if not 0.06 <= target.mean() <= 0.25:
        return None
    mask, done = target.copy(), []
    for _ in range(int(rng.integers(1, 3))):
        out = _cut_gap(mask, rng)
        if out is None:
            return None
        mask, done = out, done + ["gap"]
    for _ in range(int(rng.integers(1, 3))):
        out = _add_blob(mask, rng)
        if out is None:
            return None
        mask, done = out, done + ["blob"]
    return _case(f"{source}/{fname}@r{r0}c{c0}", source, target, mask, done)


def _myo_case(slices, kind: str, rng: np.random.Generator) -> RepairCase | None:
    name, myo, lv = slices[rng.integers(len(slices))]
    h, w = MYO_CROP
    cr, cc = ndi.center_of_mass(myo)
    r0 = int(np.clip(round(cr) - h // 2 + rng.integers(-6, 7), 0, myo.shape[0] - h))
    c0 = int(np.clip(round(cc) - w // 2 + rng.integers(-6, 7), 0, myo.shape[1] - w))
    target = myo[r0 : r0 + h, c0 : c0 + w]
    if betti_numbers_scipy(target) != (1, 1):
        return None
    lv_crop = lv[r0 : r0 + h, c0 : c0 + w]
    center = ndi.center_of_mass(lv_crop) if lv_crop.any() else ndi.center_of_mass(target)
    mask, done = target.copy(), []
    for step in {"break": ["break"], "puncture": ["puncture"], "both": ["break", "puncture"]}[kind]:
        out = _break_ring(mask, center, rng) if step == "break" else _puncture(mask, rng)
        if out is None:
            return None
        mask, done = out, done + [step]
    return _case(f"MyoPS2020/{name}@r{r0}c{c0}", "MyoPS2020", target, mask, done)


def _case(name: str, source: str, target: np.ndarray, perturbed: np.ndarray, done: list[str]) -> RepairCase:
    t, p = target.astype(np.uint8), perturbed.astype(np.uint8)
    return RepairCase(name, source, np.ascontiguousarray(t), np.ascontiguousarray(p), tuple(done),
                      betti_numbers_scipy(t), betti_numbers_scipy(p))


def build_corpus(data_root: str | Path, num_cases: int, *, seed: int = 0) -> list[RepairCase]:
    """``num_cases`` deterministic cases: one third DRIVE, one third CHASE_DB1, one third MyoPS
    (cycling break / puncture / both), interleaved in that order.

    Raises:
        ValueError: ``num_cases < 1``, or a dataset folder is missing under ``data_root``.
    """
    if not isinstance(num_cases, int) or num_cases < 1:
        raise ValueError(f"num_cases must be a positive int, got {num_cases!r}")
    root = Path(data_root)
    for sub in ("DRIVE/training/1st_manual", "CHASE_DB1/CHASEDB1", "MyoPS2020/train25_myops_gd"):
        if not (root / sub).is_dir():
            raise ValueError(f"expected the folder {root / sub} (real data, see PROVENANCE.md); not found")
    vessels = load_vessel_masks(root)
    by_source = {s: [v for v in vessels if v[0] == s] for s in ("DRIVE", "CHASE_DB1")}
    slices = load_myocardium_slices(root)
    rng = np.random.default_rng(seed)
    cases: list[RepairCase] = []
    kinds = ("break", "puncture", "both")
    n_myo = 0
    while len(cases) < num_cases:
        slot = len(cases) % 3
        for _attempt in range(200):
            if slot == 2:
                case = _myo_case(slices, kinds[n_myo % 3], rng)
            else:
                case = _vessel_case(by_source[("DRIVE", "CHASE_DB1")[slot]], rng)
            if case is not None:
                break
        else:
            raise RuntimeError(f"could not build case {len(cases)} in 200 attempts (seed {seed})")
        n_myo += slot == 2
        cases.append(case)
    return cases


def starting_logits(perturbed: np.ndarray, *, amplitude: float = 3.0, noise: float = 0.25,
                    seed: int = 0) -> np.ndarray:
    """Logits a network might output for ``perturbed``: ``amplitude * (2 m - 1)`` plus Gaussian-smoothed
    (sigma 1) noise of standard deviation ``noise * amplitude``, clipped to ``+-0.5 * amplitude`` so the
    sign (the binarised map at p = 0.5) equals ``perturbed`` exactly. ``float32 (H, W)``.

    The noise breaks the ties of an exactly two-valued map (every bar born at +a, dying at -a).
    """
    m = np.asarray(perturbed).astype(bool)
    rng = np.random.default_rng(seed)
    n = ndi.gaussian_filter(rng.standard_normal(m.shape), 1.0)
    n = n / (n.std() + 1e-12) * noise * amplitude
    n = np.clip(n, -0.5 * amplitude, 0.5 * amplitude)
    return (amplitude * (2.0 * m - 1.0) + n).astype(np.float32)
