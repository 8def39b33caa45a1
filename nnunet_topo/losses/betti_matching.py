"""BettiMatchingLoss: the sparse Betti-matching loss (Stucki et al., ICML 2023).

Per (item, class) and homology dimension, with the induced matching of the prediction's and the
target's barcodes through their comparison image (engine: ``betti_matching_batch``)::

    L = sum_{matched (q, q*)} 2 |q - q*|^2                       (pull matched bars to the target's (b, d))
      + sum_{unmatched q of P} 2 |q - diag(q)|^2 = (b - d)^2      (push spurious bars to the diagonal)
      + sum_{unmatched q* of G} 2 |(p[c_b], p[c_d]) - (1, 0)|^2   (raise / lower P at the target bar's cells)

``q = (p[c_b], p[c_d])`` are the prediction's values at a bar's birth and death pixels; an essential
bar contributes its birth term only. At most two pixels per bar get a gradient: the sparse baseline
for :class:`TopoDenseLoss`.

References:
    Stucki, N. et al. "Topologically Faithful Image Segmentation via Induced Matching of Persistence
    Barcodes." ICML 2023.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from ._base import PreparedInput, TopologicalLoss, gather, matching_batch

__all__ = ["BettiMatchingLoss"]


class BettiMatchingLoss(TopologicalLoss):
    """Sparse Betti-matching loss against the target (a target is required).

    Args:
        dims: homology dimensions to use (default all of the (sliced) spatial dimensionality).
        classes, nonlinearity, ignore_label, reduction, connectivity, slice_axis, num_threads: see
            :class:`TopologicalLoss`.

    Ignored pixels take the binarised prediction in both maps before matching, and no term gathers a
    value at an ignored pixel. ``last_stats["num_wrong_features"]`` is the Betti-matching error
    (unmatched bars of both diagrams).
    """

    def __init__(
        self,
        *,
        dims: Iterable[int] | None = None,
        classes: Iterable[int] | int | None = None,
        nonlinearity: str = "softmax",
        ignore_label: int | None = None,
        reduction: str = "mean",
        connectivity: str = "full",
        slice_axis: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        super().__init__(classes=classes, nonlinearity=nonlinearity, ignore_label=ignore_label,
                         reduction=reduction, connectivity=connectivity, slice_axis=slice_axis,
                         num_threads=num_threads)
        if dims is not None:
            dims = tuple(dims)
            if not dims or any(isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 2 for k in dims):
                raise ValueError(f"dims: expected homology dimensions in 0..2, got {dims!r}")
            dims = tuple(sorted(set(dims)))
        self.dims = dims

    def per_item(self, prep: PreparedInput, has_target: bool) -> tuple[torch.Tensor, torch.Tensor]:
        probs = prep.probs
        n, k = probs.shape[:2]
        ndim = probs.ndim - 2
        dims = self.dims if self.dims is not None else tuple(range(ndim))
        if any(kk >= ndim for kk in dims):
            raise ValueError(f"dims: {dims} do not all exist for {ndim}D maps")
        np_p = prep.np_probs.astype(np.float64)
        np_t = prep.np_target.astype(np.float64)
        jobs = [(i, j) for i in range(n) for j in range(k)]
        maps, tmaps, valids = [], [], []
        for i, j in jobs:
            p, t, v = np_p[i, j], np_t[i, j], prep.np_valid(i)
            if v is not None:
                fill = (p >= 0.5).astype(np.float64)
                p, t = np.where(v, p, fill), np.where(v, t, fill)
            maps.append(p)
            tmaps.append(t)
            valids.append(None if v is None else v.ravel())
        results = self.timed(matching_batch(), maps, tmaps, dims=dims, connectivity=self.connectivity,
                             num_threads=self.num_threads)
        values = probs.new_zeros((n, k))
        rows, wrong = [], 0
        for (i, j), res, v in zip(jobs, results, valids):
            total = probs.new_zeros(())
            for kk in dims:
                dm = res[kk]
                wrong += dm.error
                total = total + self._dimension_terms(probs, i, j, dm, v)
            rows.append(total)
        values = torch.stack(rows).reshape(n, k) if rows else values
        self.last_stats["num_wrong_features"] = wrong
        return values, torch.ones((n, k), dtype=torch.bool, device=probs.device)

    @staticmethod
    def _values(probs, i, j, cells: np.ndarray, valid: np.ndarray | None, fallback: np.ndarray) -> torch.Tensor:
        """Prediction at ``cells`` (flat; -1 = essential death) where valid, else the constant ``fallback``."""
        ok = cells >= 0
        if valid is not None:
            ok &= valid[np.maximum(cells, 0)]
        live = gather(probs, i, j, np.maximum(cells, 0))
        mask = torch.as_tensor(ok, device=probs.device)
        return torch.where(mask, live, torch.as_tensor(fallback, dtype=probs.dtype, device=probs.device))

    def _dimension_terms(self, probs, i, j, dm, valid) -> torch.Tensor:
        pred, tgt = dm.pred, dm.target
        pb, pd = pred.birth_index, pred.death_index
        tb, td = tgt.births, np.where(tgt.essential, 0.0, tgt.deaths)
        total = probs.new_zeros(())
        if dm.num_matched:
            mp, mg = dm.matched_pred, dm.matched_target
            b = self._values(probs, i, j, pb[mp], valid, tb[mg])
            d_cells = pd[mp]
            both_finite = (d_cells >= 0) & ~tgt.essential[mg]
            d = self._values(probs, i, j, np.where(both_finite, d_cells, -1), valid, td[mg])
            total = total + 2.0 * (((b - torch.as_tensor(tb[mg], dtype=probs.dtype, device=probs.device)) ** 2).sum()
                                   + ((d - torch.as_tensor(td[mg], dtype=probs.dtype, device=probs.device)) ** 2).sum())
        if dm.num_unmatched_pred:
            up = dm.unmatched_pred
            pbv = pred.births[up]
            b = self._values(probs, i, j, pb[up], valid, pbv)
            # an essential bar's death is 0 (the bottom of the filtration of a probability map)
            d = self._values(probs, i, j, pd[up], valid, np.where(pred.essential[up], 0.0, pred.deaths[up]))
            total = total + ((b - d) ** 2).sum()
        if dm.num_unmatched_target:
            ug = dm.unmatched_target
            ones = np.ones(len(ug))
            b = self._values(probs, i, j, tgt.birth_index[ug], valid, ones)
            d = self._values(probs, i, j, tgt.death_index[ug], valid, np.zeros(len(ug)))
            total = total + 2.0 * (((b - 1.0) ** 2).sum() + (d ** 2).sum())
        return total
