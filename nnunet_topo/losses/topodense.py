"""TopoDenseLoss: dense, region-based topological loss (ours; the math is in docs/topodense.md).

In one sentence: find the topological features of the predicted map that are wrong *at the decision
threshold* (Betti matching against the target, or the Betti prior without one), give each wrong feature
the set of pixels that carries it in the filtration (its basin, the bottleneck paths across its saddle,
the wrongly classified regions attached to it), and pull every wrongly classified pixel of that set
toward the target with a cross-entropy term; each feature's term is a mean over its pixels, and the
loss is the mean over wrong features.

Notation (per item and selected channel): ``p`` probability map, ``t`` binary target, threshold
``tau`` (0.5) and band ``[lo, hi] = [tau - margin, tau + margin]``. A bar ``(b, d)`` of the
superlevel filtration of ``p`` is *robustly alive* when ``b >= hi`` and ``d <= lo`` (essential bars:
``b >= hi``) and *touches the band* when ``min(b, hi) > max(d, lo)``. Wrong pixels are
``W = W1 u W0`` with ``W1 = {t = 1, p < hi}`` (missing) and ``W0 = {t = 0, p > lo}`` (extra).

Wrong features (target mode, per homology dimension):

* matched pairs whose predicted bar is not robustly alive;
* unmatched predicted bars that touch the band (noise bars outside the band cannot change the
  binarised topology and get no weight);
* unmatched target bars.

At most ``max_features`` per (item, channel) are kept, the most severe first.

Supports (dimension 0 on the primal side, with the foreground connectivity; the top dimension --
holes in 2D, cavities in 3D -- on the dual side, the background connectivity):

* predicted bar, primal: basin = component of ``{p >= max(d, lo)}`` holding the birth pixel; dual:
  component of ``{p <= min(b, hi)}`` holding the death pixel (the hole at the threshold);
* bottleneck paths across the saddle (the death pixel in dim 0, the birth pixel of a hole): steepest
  ascent to ``hi`` (foreground connectivity) and steepest descent to ``lo`` (background connectivity)
  through each higher / lower neighbour;
* when the basin contains target pixels of its own side (a fragment of a true structure), the components
  of ``W1`` (primal) / ``W0`` (dual) touching it -- the gap that must be filled;
* target bar: the target's component (primal) or hole (dual) and the components of ``W0`` / ``W1``
  touching it (a bridge that merges it with another component, a gap that opens a ring);
* dimension 1 of 3D (no well-defined region): the 3x3x3 neighbourhoods of the critical pixels.

The support of feature ``f`` is ``S_f = R_f n W`` (minus ignored pixels); pixel targets ``y = t``.
``L = (1 / F) sum_f (1 / |S_f|) sum_{x in S_f} BCE(p_x, y_x)`` (0 when ``F = 0``). Without a target
(``priors`` and ``target=None``) the ``beta*_k`` most persistent bars count as matched, the others as
unmatched, and ``y`` comes from the feature itself (raise a basin / path to 1 or lower it to 0, whichever
needs the smaller change of a critical value); ``S_f`` is then the part of ``R_f`` on the wrong side
of the band for ``y``.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from ._base import PreparedInput, TopologicalLoss, batch_persistence, check_priors, look_up_option, matching_batch
from ._regions import LevelComponents, adjacent_components, monotone_paths, neighbourhood, structure

__all__ = ["TopoDenseLoss"]


class _ItemContext:
    """Per (item, channel) NumPy state shared by all features of that map."""

    def __init__(self, p: np.ndarray, t: np.ndarray | None, valid: np.ndarray | None, lo: float, hi: float,
                 full: bool) -> None:
        from scipy import ndimage

        self.p = p
        self.t = t
        self.shape = p.shape
        self.lo, self.hi = lo, hi
        self.full = full
        self.valid = None if valid is None else valid.ravel()
        self.primal = LevelComponents(p, primal=True, full=full)
        self.dual = LevelComponents(p, primal=False, full=full)
        self.pf = p.ravel()
        if t is not None:
            self.tf = t.ravel() > 0.5
            w1 = (t > 0.5) & (p < hi)
            w0 = (t <= 0.5) & (p > lo)
            if valid is not None:
                w1 &= valid
                w0 &= valid
            self.wrong = (w1 | w0).ravel()
            every = structure(p.ndim, True)
            self.w1_labels = ndimage.label(w1, structure=every)[0].ravel()
            self.w0_labels = ndimage.label(w0, structure=every)[0].ravel()
            self.t_primal = LevelComponents(t.astype(np.float64), primal=True, full=full)
            self.t_dual = LevelComponents(t.astype(np.float64), primal=False, full=full)

    def paths(self, saddle: int) -> np.ndarray:
        if saddle < 0:
            return np.zeros(0, dtype=np.int64)
        up = monotone_paths(self.p, saddle, ascending=True, stop=self.hi, full=self.full)
        down = monotone_paths(self.p, saddle, ascending=False, stop=self.lo, full=not self.full)
        return np.union1d(up, down)

    def keep_valid(self, idx: np.ndarray) -> np.ndarray:
        if self.valid is None or idx.size == 0:
            return idx
        return idx[self.valid[idx]]


class TopoDenseLoss(TopologicalLoss):
    """Dense topological loss: every wrong feature pulls all the wrongly classified pixels that carry it.

    Args:
        priors: optional ``{channel: (b0, b1[, b2])}``; used for channels when ``target`` is None
            (then every selected channel needs one).
        threshold: decision threshold ``tau`` of the binarised prediction (default 0.5).
        margin: half-width of the band ``[tau - margin, tau + margin]`` a feature must clear to count as
            repaired (default 0.1; ``0 <= margin < min(tau, 1 - tau)``).
        max_features: wrong features kept per (item, channel), most severe first (default 32).
        dims: homology dimensions to use (default all of the (sliced) spatial dimensionality).
        classes, nonlinearity, ignore_label, reduction, connectivity, slice_axis, num_threads: see
            :class:`TopologicalLoss`.

    Shapes: logits ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels, ``(B, C, *spatial)``
    regions (sigmoid), or None (prior mode). ``last_stats`` holds ``num_wrong_features``,
    ``seconds_ph`` (persistence + matching), ``seconds_regions`` and ``support_sizes`` (``|S_f|`` of
    every wrong feature of the call).
    """

    requires_target = False
    needs_log_probs = True

    def __init__(
        self,
        *,
        classes: Iterable[int] | int | None = None,
        nonlinearity: str = "softmax",
        ignore_label: int | None = None,
        reduction: str = "mean",
        connectivity: str = "full",
        slice_axis: int | None = None,
        priors: Mapping[int, Sequence[int]] | None = None,
        num_threads: int | None = None,
        threshold: float = 0.5,
        margin: float = 0.1,
        max_features: int = 32,
        dims: Iterable[int] | None = None,
        pixel_loss: str = "bce",
    ) -> None:
        super().__init__(classes=classes, nonlinearity=nonlinearity, ignore_label=ignore_label,
                         reduction=reduction, connectivity=connectivity, slice_axis=slice_axis,
                         num_threads=num_threads)
        self.priors = check_priors(priors, required=False)
        if not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold: expected a number in (0, 1), got {threshold!r}")
        if not isinstance(margin, (int, float)) or not 0.0 <= margin < min(threshold, 1 - threshold):
            raise ValueError(f"margin: expected 0 <= margin < min(threshold, 1 - threshold) = "
                             f"{min(threshold, 1 - threshold)}, got {margin!r}")
        if isinstance(max_features, bool) or not isinstance(max_features, int) or max_features < 1:
            raise ValueError(f"max_features: expected a positive int, got {max_features!r}")
        if dims is not None:
            dims = tuple(dims)
            if not dims or any(isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 2 for k in dims):
                raise ValueError(f"dims: expected homology dimensions in 0..2, got {dims!r}")
            dims = tuple(sorted(set(dims)))
        self.dims = dims
        self.pixel_loss = look_up_option("pixel_loss", pixel_loss, ("bce", "hinge"))
        self.threshold = float(threshold)
        self.margin = float(margin)
        self.max_features = max_features

    # ------------------------------------------------------------------ feature selection
    def _band(self, births: np.ndarray, deaths: np.ndarray, essential: np.ndarray):
        lo, hi = self.threshold - self.margin, self.threshold + self.margin
        d = np.where(essential, -np.inf, deaths)
        overlap = np.minimum(births, hi) - np.maximum(d, lo)
        robust = (births >= hi) & (d <= lo)
        deficiency = (hi - np.minimum(births, hi)) + (np.maximum(d, lo) - lo)
        return overlap, robust, deficiency

    def _wrong_from_matching(self, dm) -> list[tuple[float, int, int]]:
        """``(severity, pred index or -1, target index or -1)`` of the wrong features of one dimension."""
        pred = dm.pred
        overlap, robust, deficiency = self._band(pred.births, pred.deaths, pred.essential)
        out = []
        tgt = dm.target
        t_alive = (tgt.births >= self.threshold) & (tgt.essential | (tgt.deaths < self.threshold))
        for ip, ig in zip(dm.matched_pred, dm.matched_target):
            if t_alive[ig] and not robust[ip]:
                out.append((float(deficiency[ip]), int(ip), int(ig)))
            elif not t_alive[ig] and overlap[ip] > 0:  # e.g. the essential bar of an empty target
                out.append((float(overlap[ip]), int(ip), int(ig)))
        for ip in dm.unmatched_pred:
            if overlap[ip] > 0:
                out.append((float(overlap[ip]), int(ip), -1))
        for ig in dm.unmatched_target:
            if t_alive[ig]:
                out.append((2.0 * self.margin + 1.0, -1, int(ig)))
        return out

    def _wrong_from_prior(self, diagram, beta: int) -> list[tuple[float, int, bool]]:
        """``(severity, pred index, counts as matched)`` for one dimension in prior mode."""
        overlap, robust, deficiency = self._band(diagram.births, diagram.deaths, diagram.essential)
        out = []
        for i in range(len(diagram)):
            if i < beta:
                if not robust[i]:
                    out.append((float(deficiency[i]), i, True))
            elif overlap[i] > 0:
                out.append((float(overlap[i]), i, False))
        return out

    # ------------------------------------------------------------------ supports
    def _kind(self, dim: int, ndim: int) -> str:
        if dim == 0:
            return "primal"
        if dim == ndim - 1:
            return "dual"
        return "middle"

    def _support_target_mode(self, ctx: _ItemContext, kind: str, pbar, gbar) -> np.ndarray:
        """Flat indices ``S_f`` of one wrong feature; ``pbar``/``gbar`` are (b, d, cb, cd, essential) or None."""
        parts = []
        if kind == "middle":
            cells = []
            for bar in (pbar, gbar):
                if bar is not None:
                    cells += [bar[2], bar[3]]
            parts.append(neighbourhood(np.array(cells), ctx.shape, 1))
        else:
            if pbar is not None:
                b, d, cb, cd, ess = pbar
                if kind == "primal":
                    basin = ctx.primal.component(_primal_level(b, d, ctx.lo), cb)
                    saddle = cd
                    own_side = ctx.tf
                    labels = ctx.w1_labels
                else:
                    basin = ctx.dual.component(_dual_level(b, d, ctx.hi), cd)
                    saddle = cb
                    own_side = ~ctx.tf
                    labels = ctx.w0_labels
                parts += [basin, ctx.paths(saddle)]
                if basin.size and own_side[basin].any():
                    parts.append(adjacent_components(labels, basin, ctx.shape))
            if gbar is not None:
                b, d, cb, cd, ess = gbar
                if kind == "primal":
                    region = ctx.t_primal.component(0.5, cb)  # {t > 0.5}
                    labels = ctx.w0_labels
                else:
                    region = ctx.t_dual.component(0.5, cd)  # {t < 0.5}
                    labels = ctx.w1_labels
                parts += [region, adjacent_components(labels, region, ctx.shape)]
        mask = np.zeros(ctx.pf.size, dtype=bool)
        for part in parts:
            if part.dtype == bool:
                mask |= part
            else:
                mask[part] = True
        mask &= ctx.wrong  # the wrong mask already excludes ignored pixels
        return np.flatnonzero(mask)

    def _support_prior_mode(self, ctx: _ItemContext, kind: str, bar, matched: bool) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices and per-pixel targets ``y`` of one wrong feature without ground truth."""
        b, d, cb, cd, ess = bar
        tau = self.threshold
        regions: list[tuple[np.ndarray, float]] = []
        if kind == "primal":
            basin = ctx.primal.component(_primal_level(b, d, ctx.lo), cb)
            if matched:
                if b < ctx.hi:
                    regions.append((basin, 1.0))
                if not ess and d > ctx.lo:
                    regions.append((neighbourhood(np.array([cd]), ctx.shape, 1), 0.0))
            elif ess or b - tau <= tau - d:
                regions.append((basin, 0.0))  # remove the component
            else:
                regions.append((monotone_paths(ctx.p, cd, ascending=True, stop=ctx.hi, full=ctx.full), 1.0))
        elif kind == "dual":
            hole = ctx.dual.component(_dual_level(b, d, ctx.hi), cd)
            if matched:
                if b < ctx.hi:
                    regions.append((monotone_paths(ctx.p, cb, ascending=True, stop=ctx.hi, full=ctx.full), 1.0))
                if d > ctx.lo:
                    regions.append((hole, 0.0))
            elif tau - d <= b - tau:
                regions.append((hole, 1.0))  # fill the hole
            else:
                down = monotone_paths(ctx.p, cb, ascending=False, stop=ctx.lo, full=not ctx.full)
                regions.append((np.union1d(down, neighbourhood(np.array([cb]), ctx.shape, 1)), 0.0))
        else:
            if matched:
                if b < ctx.hi:
                    regions.append((neighbourhood(np.array([cb]), ctx.shape, 1), 1.0))
                if not ess and d > ctx.lo:
                    regions.append((neighbourhood(np.array([cd]), ctx.shape, 1), 0.0))
            elif ess or b - tau <= tau - d:
                regions.append((neighbourhood(np.array([cb]), ctx.shape, 1), 0.0))
            else:
                regions.append((neighbourhood(np.array([cd]), ctx.shape, 1), 1.0))
        idx_all, y_all = [], []
        for idx, y in regions:
            idx = ctx.keep_valid(np.asarray(idx, dtype=np.int64))
            vals = ctx.pf[idx]
            idx = idx[vals < ctx.hi] if y == 1.0 else idx[vals > ctx.lo]
            idx_all.append(idx)
            y_all.append(np.full(idx.size, y))
        if not idx_all:
            return np.zeros(0, np.int64), np.zeros(0)
        idx, first = np.unique(np.concatenate(idx_all), return_index=True)
        return idx, np.concatenate(y_all)[first]

    # ------------------------------------------------------------------ forward
    def _dims(self, ndim: int) -> tuple[int, ...]:
        if self.dims is None:
            return tuple(range(ndim))
        bad = [k for k in self.dims if k >= ndim]
        if bad:
            raise ValueError(f"dims: homology dimension(s) {bad} do not exist for {ndim}D maps")
        return self.dims

    def per_item(self, prep: PreparedInput, has_target: bool) -> tuple[torch.Tensor, torch.Tensor]:
        import time

        probs = prep.probs
        n, k = probs.shape[:2]
        ndim = probs.ndim - 2
        dims = self._dims(ndim)
        if not has_target:
            missing = [ch for ch in prep.channels if self.priors is None or ch not in self.priors]
            if missing:
                raise ValueError(f"TopoDenseLoss: without a target every selected channel needs a prior; "
                                 f"channel(s) {missing} have none (priors={self.priors})")
        lo, hi = self.threshold - self.margin, self.threshold + self.margin
        full = self.connectivity == "full"
        np_p = prep.np_probs.astype(np.float64)
        np_t = prep.np_target if has_target else None
        jobs = [(i, j) for i in range(n) for j in range(k)]
        maps, tmaps, valids = [], [], []
        for i, j in jobs:
            p = np_p[i, j]
            v = prep.np_valid(i)
            if has_target:
                t = np_t[i, j].astype(np.float64)
                if v is not None:  # no ground truth: both maps equal the binarised prediction there
                    fill = (p >= self.threshold).astype(np.float64)
                    p = np.where(v, p, fill)
                    t = np.where(v, t, fill)
                tmaps.append(t)
            maps.append(p)
            valids.append(v)
        if has_target:
            results = self.timed(matching_batch(), maps, tmaps, dims=dims, connectivity=self.connectivity,
                                 num_threads=self.num_threads)
        else:
            prior_dims = tuple(kk for kk in dims if any(kk < len(self.priors[ch]) for ch in prep.channels))
            results = batch_persistence(self, maps, prior_dims) if prior_dims else [None] * len(maps)

        t0 = time.perf_counter()
        plane = int(np.prod(probs.shape[2:]))
        # per-pixel weights: sum over wrong features f containing x of 1 / (F |S_f|), split by y in {1, 0}
        w1 = np.zeros((n * k, plane))
        w0 = np.zeros((n * k, plane))
        sizes: list[int] = []
        n_features = np.zeros((n, k), dtype=np.int64)
        for (i, j), p, t, v, res in zip(jobs, maps, tmaps if has_target else [None] * len(maps), valids, results):
            ctx = _ItemContext(p, t, v, lo, hi, full)
            feats = []  # (severity, dim, pbar, gbar or matched-flag)
            if has_target:
                for kk in dims:
                    dm = res[kk]
                    bp, bg = _Bars(dm.pred), _Bars(dm.target)
                    for sev, ip, ig in self._wrong_from_matching(dm):
                        feats.append((sev, kk, bp, ip, bg, ig))
            elif res is not None:
                prior = self.priors[prep.channels[j]]
                for kk in res.dims:
                    if kk >= len(prior):
                        continue
                    bp = _Bars(res[kk])
                    for sev, ip, matched in self._wrong_from_prior(res[kk], prior[kk]):
                        feats.append((sev, kk, bp, ip, None, matched))
            feats.sort(key=lambda f: -f[0])
            feats = feats[: self.max_features]
            per_map = []
            for sev, kk, bp, ip, bg, other in feats:
                kind = self._kind(kk, ndim)
                pbar = bp[ip]
                extra = bg[other] if bg is not None else other  # target bar, or the prior's "matched" flag
                if has_target:
                    idx = self._support_target_mode(ctx, kind, pbar, extra)
                    y = ctx.tf[idx].astype(np.float64) if idx.size else np.zeros(0)
                    if idx.size == 0:  # nothing wrongly classified carries it: its critical cells
                        cells = [c for bar in (pbar, extra) if bar is not None for c in (bar[2], bar[3])]
                        idx = ctx.keep_valid(np.unique(np.array([c for c in cells if c >= 0], np.int64)))
                        y = ctx.tf[idx].astype(np.float64)
                else:
                    idx, y = self._support_prior_mode(ctx, kind, pbar, extra)
                if idx.size == 0:
                    continue
                per_map.append((idx, y))
            row = i * k + j
            for idx, y in per_map:
                share = 1.0 / (idx.size * len(per_map))
                ones = y > 0.5
                np.add.at(w1[row], idx[ones], share)
                np.add.at(w0[row], idx[~ones], share)
                sizes.append(int(idx.size))
            n_features[i, j] = len(per_map)
        self.last_stats["seconds_regions"] = time.perf_counter() - t0
        self.last_stats["num_wrong_features"] = int(n_features.sum())
        self.last_stats["support_sizes"] = sizes
        if not sizes:
            return probs.new_zeros((n, k)), torch.ones((n, k), dtype=torch.bool, device=probs.device)
        wt1 = torch.as_tensor(w1, device=probs.device, dtype=probs.dtype)
        wt0 = torch.as_tensor(w0, device=probs.device, dtype=probs.dtype)
        lp = prep.log_p.reshape(n * k, plane)
        lq = prep.log_q.reshape(n * k, plane)
        if self.pixel_loss == "bce":
            term = wt1 * (-lp) + wt0 * (-lq)
        else:  # hinge on the log-odds: zero once the pixel clears the band on the target's side
            edge = float(np.log(hi / (1.0 - hi)))
            term = wt1 * torch.relu(edge - (lp - lq)) + wt0 * torch.relu(edge + (lp - lq))
        values = term.sum(1)
        return values.reshape(n, k), torch.ones((n, k), dtype=torch.bool, device=probs.device)


_LEVEL_STEPS = 64  # basins are labelled on a grid of levels (1/64) so many features share one labelling


def _primal_level(b: float, d: float, lo: float) -> float:
    """Level of a component's basin ``{p > level}``: ``max(d, lo)``, or ``d`` if the bar lies below ``lo``.

    Rounded up to the grid of ``1/64`` when that keeps the birth pixel inside (a slightly smaller basin,
    one labelling shared by all features on the same grid level).
    """
    level = max(d, lo) if b > max(d, lo) else d
    snapped = np.ceil(level * _LEVEL_STEPS) / _LEVEL_STEPS
    return float(snapped) if snapped < b else level


def _dual_level(b: float, d: float, hi: float) -> float:
    """Level of a hole's region ``{p < level}``: ``min(b, hi)``, or ``b`` if the bar lies above ``hi``.

    Rounded down to the grid of ``1/64`` when that keeps the death pixel inside.
    """
    level = min(b, hi) if d < min(b, hi) else b
    snapped = np.floor(level * _LEVEL_STEPS) / _LEVEL_STEPS
    return float(snapped) if snapped > d else level


class _Bars:
    """``bars[i]`` = ``(birth, death, birth_index, death_index, essential)`` of a diagram (None for ``i < 0``)."""

    def __init__(self, diagram) -> None:
        self.d = diagram
        self.bi = diagram.birth_index
        self.di = diagram.death_index

    def __getitem__(self, i: int):
        if i < 0:
            return None
        ess = bool(self.d.essential[i])
        return (float(self.d.births[i]), -np.inf if ess else float(self.d.deaths[i]),
                int(self.bi[i]), int(self.di[i]), ess)
