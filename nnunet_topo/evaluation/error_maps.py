"""Error-localisation maps: where each topological error of a prediction is, from the Betti matching.

Every unmatched bar of the Betti matching between a binary prediction and its ground truth is drawn
as the region that carries the feature, with one code per kind of error (the legend is in
``docs/evaluation.md`` and in :data:`ERROR_CODES`):

====  ===================  =====================================================================
code  error                region marked
====  ===================  =====================================================================
1     spurious component   the predicted connected component (foreground connectivity)
2     missing component    the ground-truth component the prediction does not have
3     spurious hole/loop   2D: the hole enclosed by a predicted loop (background connectivity);
                           3D: the predicted component that carries the loop (tunnel/handle)
4     missing hole/loop    2D: the ground-truth hole whose ring the prediction breaks or fills;
                           3D: the ground-truth component that carries the loop
5     spurious cavity      3D: the enclosed background cavity of the prediction
6     missing cavity       3D: the ground-truth cavity the prediction lacks
====  ===================  =====================================================================

Regions are drawn holes first, then loops, then components, so a component inside a hole stays
visible. Connectivity ``"full"``: foreground 8/26-connected, background 4/6-connected.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from nnunet_topo.metrics._common import check_connectivity, check_pair
from nnunet_topo.metrics.matching import unmatched_mask_features
from nnunet_topo.topology import betti_matching

__all__ = ["ERROR_CODES", "error_map", "error_map_slices", "error_map_from_matching"]

ERROR_CODES: dict[int, str] = {
    1: "spurious component",
    2: "missing component",
    3: "spurious hole/loop",
    4: "missing hole/loop",
    5: "spurious cavity",
    6: "missing cavity",
}


def _structures(ndim: int, connectivity: str) -> tuple[np.ndarray, np.ndarray]:
    full = ndimage.generate_binary_structure(ndim, ndim)
    face = ndimage.generate_binary_structure(ndim, 1)
    return (full, face) if connectivity == "full" else (face, full)


class _Labelled:
    """Lazily labelled foreground and background components of one mask."""

    def __init__(self, mask: np.ndarray, connectivity: str) -> None:
        self.mask = mask
        self.fg_structure, self.bg_structure = _structures(mask.ndim, connectivity)
        self._fg: np.ndarray | None = None
        self._bg: np.ndarray | None = None

    def foreground_region(self, cell: np.ndarray) -> np.ndarray | None:
        if self._fg is None:
            self._fg = ndimage.label(self.mask, structure=self.fg_structure)[0]
        lab = self._fg[tuple(cell)]
        return None if lab == 0 else self._fg == lab

    def background_region(self, cell: np.ndarray) -> np.ndarray | None:
        if self._bg is None:
            self._bg = ndimage.label(~self.mask, structure=self.bg_structure)[0]
        lab = self._bg[tuple(cell)]
        return None if lab == 0 else self._bg == lab


def error_map_from_matching(pred: np.ndarray, target: np.ndarray, matching, *, connectivity: str = "full") -> np.ndarray:
    """Error map from an already computed ``betti_matching(pred, target)`` result.

    Args:
        pred, target: bool masks, same 2D/3D shape, C order (the ones the matching was computed on).
        matching: the engine's ``BettiMatchingResult`` of these two masks.
        connectivity: the connectivity the matching used.

    Returns:
        uint8 array of ``pred.shape`` with the codes of :data:`ERROR_CODES` (0 = no error).
    """
    ndim = pred.ndim
    out = np.zeros(pred.shape, dtype=np.uint8)
    images = {"pred": _Labelled(pred, connectivity), "target": _Labelled(target, connectivity)}
    # draw order: cavities, holes/loops, then components (later draws win)
    order = [d for d in (2, 1, 0) if d < ndim]
    for dim in order:
        try:
            dm = matching[dim]
        except KeyError:
            continue
        unmatched_pred, unmatched_target = unmatched_mask_features(dm)
        for side, unmatched, diagram in (("target", unmatched_target, dm.target), ("pred", unmatched_pred, dm.pred)):
            code = 2 * dim + (1 if side == "pred" else 2)
            for i in np.asarray(unmatched, dtype=np.int64):
                region = _feature_region(images[side], diagram, int(i), dim, ndim)
                if region is not None:
                    out[region] = code
    return out


def _feature_region(img: _Labelled, diagram, i: int, dim: int, ndim: int) -> np.ndarray | None:
    birth = diagram.birth_cells[i]
    hole_like = dim == ndim - 1 and dim > 0  # 2D loops and 3D cavities die when their hole fills
    if hole_like and not diagram.essential[i]:
        region = img.background_region(diagram.death_cells[i])
        if region is not None:
            return region
    region = img.foreground_region(birth)
    if region is None:  # birth cell outside the foreground (should not happen for binary masks)
        region = np.zeros(img.mask.shape, dtype=bool)
        region[tuple(birth)] = True
    return region


def error_map(pred: np.ndarray, target: np.ndarray, *, connectivity: str = "full") -> np.ndarray:
    """Error map of two binary masks (bool or 0/1) of the same 2D ``(H, W)`` / 3D ``(D, H, W)`` shape.

    Returns a uint8 label map of the same shape with the codes of :data:`ERROR_CODES`.
    """
    p, t = check_pair(pred, target)
    connectivity = check_connectivity(connectivity)
    m = betti_matching(p.astype(np.float64), t.astype(np.float64), connectivity=connectivity)
    return error_map_from_matching(p, t, m, connectivity=connectivity)


def error_map_slices(pred: np.ndarray, target: np.ndarray, *, connectivity: str = "full") -> np.ndarray:
    """Slice-wise error map of two 3D ``(D, H, W)`` masks: the 2D map of every ``[z]`` slice, stacked."""
    p, t = check_pair(pred, target)
    if p.ndim != 3:
        raise ValueError(f"error_map_slices: expected 3D (D, H, W) masks, got shape {p.shape}")
    out = np.zeros(p.shape, dtype=np.uint8)
    for z in range(p.shape[0]):
        if p[z].any() or t[z].any():
            out[z] = error_map(p[z], t[z], connectivity=connectivity)
    return out
