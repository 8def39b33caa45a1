"""BettiPriorLoss: a known Betti-number prior per class (Clough et al., TPAMI 2020, eq. 3-4).

For every selected channel with prior ``beta* = (b0*, b1*[, b2*])`` and every homology dimension
``k`` of the prior, with the bars of the superlevel filtration of the predicted probability map
sorted by decreasing persistence ``|b_l - d_l|`` (an essential bar's death taken as 0)::

    L_k = sum_{l <= beta*_k} (1 - |b_l - d_l|^2)  +  sum_{l > beta*_k} |b_l - d_l|^2

The first ``beta*_k`` bars are pulled to full persistence ``(1, 0)``, the rest pushed to the
diagonal. If the map has fewer than ``beta*_k`` bars, each missing bar costs 1. Needs no ground
truth. Values are gathered from the live probability tensor at the bars' birth/death pixels.

References:
    Clough, J. R. et al. "A Topological Loss Function for Deep-Learning Based Image Segmentation
    Using Persistent Homology." IEEE TPAMI 44(12), 2022 (online 2020).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from ._base import PreparedInput, TopologicalLoss, batch_persistence, check_priors, gather, touches_border

__all__ = ["BettiPriorLoss", "prior_terms"]


def prior_terms(births: torch.Tensor, deaths: torch.Tensor, prior: int) -> torch.Tensor:
    """Clough's ``L_k`` for bars already sorted by decreasing persistence (1D tensors, same length).

    Returns a 0-dim tensor; missing bars (fewer than ``prior``) count 1 each.
    """
    pers2 = (births - deaths) ** 2
    n = pers2.shape[0]
    keep = min(prior, n)
    missing = prior - keep
    return (1.0 - pers2[:keep]).sum() + pers2[keep:].sum() + float(missing)


class BettiPriorLoss(TopologicalLoss):
    """Topological prior loss: the predicted map should have exactly the prior's Betti numbers.

    Args:
        priors: ``{channel index: (b0, b1[, b2])}``, e.g. ``{1: (1, 1), 2: (1, 0)}`` for a myocardium
            ring and a blood pool. Required. Dimensions beyond the tuple are not constrained.
        only_if_whole: apply a channel's prior to an item only when its target shows the structure
            present and lying whole inside the patch (non-empty, not touching the patch border);
            needs a target. Default False (the prior applies everywhere; no target needed).
        classes: channels that get the term; default: every channel of ``priors``. Each must have a prior.
        nonlinearity, ignore_label, reduction, connectivity, slice_axis, num_threads: see
            :class:`TopologicalLoss`.

    ``last_stats["num_wrong_features"]`` counts the bars that violate the prior at threshold 0.5
    (prior bars not alive at 0.5 plus extra bars alive at 0.5).
    """

    def __init__(
        self,
        *,
        priors: Mapping[int, Sequence[int]],
        only_if_whole: bool = False,
        classes: Iterable[int] | int | None = None,
        nonlinearity: str = "softmax",
        ignore_label: int | None = None,
        reduction: str = "mean",
        connectivity: str = "full",
        slice_axis: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        priors_c = check_priors(priors, required=True)
        if classes is None:
            classes = tuple(sorted(priors_c))
        super().__init__(classes=classes, nonlinearity=nonlinearity, ignore_label=ignore_label,
                         reduction=reduction, connectivity=connectivity, slice_axis=slice_axis,
                         num_threads=num_threads)
        missing = [c for c in self.classes if c not in priors_c]
        if missing:
            raise ValueError(f"classes: channel(s) {missing} have no entry in priors {priors_c}")
        if not isinstance(only_if_whole, bool):
            raise TypeError(f"only_if_whole: expected a bool, got {only_if_whole!r}")
        self.priors = priors_c
        self.only_if_whole = only_if_whole
        self.requires_target = only_if_whole

    def per_item(self, prep: PreparedInput, has_target: bool) -> tuple[torch.Tensor, torch.Tensor]:
        probs = prep.probs
        n, k = probs.shape[:2]
        spatial_ndim = probs.ndim - 2
        for ch in prep.channels:
            if len(self.priors[ch]) > spatial_ndim:
                raise ValueError(
                    f"priors[{ch}]: {len(self.priors[ch])} Betti numbers do not fit {spatial_ndim}D maps "
                    f"(at most {spatial_ndim}); use slice_axis for per-slice 2D priors"
                )
        active = np.ones((n, k), dtype=bool)
        if self.only_if_whole:
            tgt = prep.np_target > 0.5
            for i in range(n):
                for j in range(k):
                    active[i, j] = bool(tgt[i, j].any()) and not touches_border(tgt[i, j])
        jobs = [(i, j) for i in range(n) for j in range(k) if active[i, j]]
        dims = tuple(range(max(len(self.priors[ch]) for ch in prep.channels)))
        np_probs = prep.np_probs
        results = batch_persistence(self, [np_probs[i, j] for i, j in jobs], dims)
        values = probs.new_zeros((n, k))
        wrong = 0
        rows = []
        for (i, j), res in zip(jobs, results):
            prior = self.priors[prep.channels[j]]
            total = probs.new_zeros(())
            for dim, beta in enumerate(prior):
                dg = res[dim]
                births = gather(probs, i, j, dg.birth_index)
                death_idx = np.where(dg.essential, 0, dg.death_index)
                deaths = gather(probs, i, j, death_idx) * torch.as_tensor(
                    ~dg.essential, dtype=probs.dtype, device=probs.device)
                pers = (dg.births - np.where(dg.essential, 0.0, dg.deaths))
                order = np.argsort(-pers, kind="stable")
                births, deaths = births[order], deaths[order]
                total = total + prior_terms(births, deaths, beta)
                b_np, d_np = dg.births[order], np.where(dg.essential, 0.0, dg.deaths)[order]
                alive = (b_np >= 0.5) & (d_np < 0.5)
                wrong += int((~alive[:beta]).sum()) + max(beta - len(b_np), 0) + int(alive[beta:].sum())
            rows.append((i, j, total))
        if rows:
            idx_i = torch.as_tensor([r[0] for r in rows], device=probs.device)
            idx_j = torch.as_tensor([r[1] for r in rows], device=probs.device)
            values = values.index_put((idx_i, idx_j), torch.stack([r[2] for r in rows]))
        self.last_stats["num_wrong_features"] = wrong
        return values, torch.as_tensor(active, device=probs.device)
