"""TopoDenseLoss: dense, region-based topological loss (ours; the math is in docs/topodense.md).

In one sentence: find the topological features of the predicted map that are wrong *at the decision
threshold* (Betti matching against the target, or the Betti prior without one), give each wrong feature
the set of pixels that carries it in the filtration (its basin, the bottleneck paths across its saddle,
the wrongly classified regions attached to it), and pull the pixels of that set toward the target with
a cross-entropy term; each feature's term is a mean over its wrong pixels plus a mean over the rest of
its region, and the loss is the mean over wrong features.

Notation (per item and selected channel): ``p`` probability map, ``t`` binary target, threshold
``tau`` (0.5) and band ``[lo, hi] = [tau - margin, tau + margin]``. A bar ``(b, d)`` of the
superlevel filtration of ``p`` is *robustly alive* when ``b >= hi`` and ``d <= lo`` (essential bars:
``b >= hi``) and *touches the band* when ``min(b, hi) > max(d, lo)``. Wrong pixels are
``W = W1 u W0`` with ``W1 = {t = 1, p < hi}`` (missing) and ``W0 = {t = 0, p > lo}`` (extra).

Wrong features (target mode, per homology dimension):

* *at the threshold* (decided by the Betti matching of the binarised prediction ``{p >= tau}`` with
  the target, ties broken toward the target, see ``_binarised``): unmatched predicted and target bars
  alive at the threshold, and matched pairs of which only one bar is alive;
* *margin* features (matching of the continuous map): matched pairs whose predicted bar is not
  robustly alive, and unmatched predicted bars that touch the band without being alive at the
  threshold (noise bars outside the band cannot change the binarised topology and get no weight).
  Margin features count only for maps whose binarised matching found nothing wrong (the continuous
  matching runs only for those). A target bar already wrong at the threshold is not counted again.
  Dimension 1 of 3D uses the continuous matching alone (its support is made of critical-cell
  neighbourhoods).

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
* dimension 1 of 3D (no well-defined region): the 3x3x3 neighbourhoods of the critical pixels;
* a bar of the binarised matching: its basin is the component (hole) of ``{p >= tau}`` holding its
  cell, without saddle paths (the binarised map's saddle cell is arbitrary).

With ``support="region"`` (default) the support is the whole region, ``S_f = R_f`` (minus ignored
pixels), and ``L_f = mean_{S_f n W} BCE(p_x, t_x) + mean_{S_f - W} BCE(p_x, t_x)``: the wrongly
classified pixels weigh exactly as with ``support="wrong"`` (``S_f = R_f n W``, ``L_f`` the mean over
it), and the other pixels of the region get a pull toward their target class that fades as they
become confident. ``L = (1 / F) sum_f L_f`` (0 when ``F = 0``). Without a target (``priors`` and
``target=None``) the ``beta*_k`` most persistent bars count as matched, the others as unmatched, and
``y`` comes from the feature itself (raise a basin / path to 1 or lower it to 0, whichever needs the
smaller change of a critical value); ``S_f`` is then the part of ``R_f`` on the wrong side of the band
for ``y``.
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
        self.tau = 0.5 * (lo + hi)
        self.tau_below = float(np.nextafter(self.tau, -np.inf))  # {p > tau_below} = {p >= tau}
        self.full = full
        self.valid = None if valid is None else valid.ravel()
        self.valid_mask = np.ones(p.size, dtype=bool) if valid is None else valid.ravel().astype(bool)
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
            w1_labels = ndimage.label(w1, structure=every)[0]
            w0_labels = ndimage.label(w0, structure=every)[0]
            self.w1_boxes = ndimage.find_objects(w1_labels)
            self.w0_boxes = ndimage.find_objects(w0_labels)
            self.w1_labels = w1_labels.ravel()
            self.w0_labels = w0_labels.ravel()
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
        pixel_loss: ``"bce"`` (default) or ``"hinge"`` on the log-odds (zero once a pixel clears the band).
        support: ``"region"`` (default): every pixel of a wrong feature's carrying region pulls toward
            the target (wrong pixels and the rest of the region each averaged); ``"wrong"``: only its
            wrongly classified pixels (``R_f n W``). Prior mode always uses the wrong side of the band.
        dims: homology dimensions to use (default all of the (sliced) spatial dimensionality).
        classes, nonlinearity, ignore_label, reduction, connectivity, slice_axis, num_threads: see
            :class:`TopologicalLoss`.

    Shapes: logits ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels, ``(B, C, *spatial)``
    regions (sigmoid), or None (prior mode). ``last_stats`` holds ``num_wrong_features``,
    ``seconds_ph`` (persistence + both matchings), ``seconds_regions`` (everything between the
    matchings and the loss tensor: region labelling, supports, weights) and ``support_sizes`` (``|S_f|`` of
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
        support: str = "region",
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
        self.support = look_up_option("support", support, ("wrong", "region"))
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

    def _wrong_from_matching(self, dm, margin_only: bool = True) -> list[tuple[float, int, int]]:
        """Margin features of one dimension from the matching of the continuous maps.

        ``(severity, pred index or -1, target index or -1)``: matched pairs whose predicted bar is not
        robustly alive, and unmatched predicted bars that touch the band but are *not* alive at the
        threshold (about to appear or to split). Which features are wrong *at* the threshold is decided
        by :meth:`_wrong_at_threshold` (the matching of the binarised maps), not here: on the continuous
        map the induced matching can pair a spurious but fully persistent blob with a true component
        and leave the true one unmatched. With ``margin_only=False`` (dimension 1 of 3D, whose support
        is made of critical-cell neighbourhoods, meaningless on a binarised map) this matching decides
        everything: unmatched predicted bars touching the band and unmatched target bars count too.
        """
        pred = dm.pred
        overlap, robust, deficiency = self._band(pred.births, pred.deaths, pred.essential)
        alive = _alive(pred.births, pred.deaths, pred.essential, self.threshold)
        out = []
        tgt = dm.target
        t_alive = _alive(tgt.births, tgt.deaths, tgt.essential, self.threshold)
        for ip, ig in zip(dm.matched_pred, dm.matched_target):
            if t_alive[ig] and not robust[ip]:
                out.append((float(deficiency[ip]), int(ip), int(ig)))
            elif not t_alive[ig] and overlap[ip] > 0 and not (margin_only and alive[ip]):
                out.append((float(overlap[ip]), int(ip), int(ig)))
        for ip in dm.unmatched_pred:
            if overlap[ip] > 0 and not (margin_only and alive[ip]):
                out.append((float(overlap[ip]), int(ip), -1))
        if not margin_only:
            out += [(2.0 * self.margin + 1.0, -1, int(ig)) for ig in dm.unmatched_target if t_alive[ig]]
        return out

    def _wrong_at_threshold(self, dm) -> list[tuple[float, int, int]]:
        """Features of one dimension that are wrong in the binarised prediction ``{p >= tau}``.

        ``dm`` is the matching of the binarised prediction with the target: unmatched bars alive at the
        threshold, and matched pairs of which exactly one bar is alive (the essential bar of an empty
        target). Severity ``2m + 2``: above every margin feature, so ``max_features`` keeps them first.
        """
        sev = 2.0 * self.margin + 2.0
        pa = _alive(dm.pred.births, dm.pred.deaths, dm.pred.essential, 0.5)  # see _binarised
        ta = _alive(dm.target.births, dm.target.deaths, dm.target.essential, 0.5)
        # a matched pair with one bar alive is the alive bar's feature alone (the other bar's region at
        # the threshold is not a feature: e.g. the "hole" of a broken ring is the whole background)
        out = [(sev, int(ip), -1) if pa[ip] else (sev, -1, int(ig))
               for ip, ig in zip(dm.matched_pred, dm.matched_target) if pa[ip] != ta[ig]]
        out += [(sev, int(ip), -1) for ip in dm.unmatched_pred if pa[ip]]
        out += [(sev, -1, int(ig)) for ig in dm.unmatched_target if ta[ig]]
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

    def _support_target_mode(self, ctx: _ItemContext, kind: str, pbar, gbar, at_threshold: bool) -> np.ndarray:
        """Flat indices ``S_f`` of one wrong feature; ``pbar``/``gbar`` are (b, d, cb, cd, essential) or None.

        ``at_threshold``: the bars come from the matching of the binarised maps; the basin is then the
        component (hole) of ``{p >= tau}`` holding the bar's cell, and no saddle paths are added (the
        binarised filtration's saddle cell is an arbitrary pixel at level 0).
        """
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
                    level = ctx.tau_below if at_threshold else _primal_level(b, d, ctx.lo)
                    basin = ctx.primal.component(level, cb)
                    saddle = cd
                    own_side = ctx.tf
                    labels = (ctx.w1_labels, ctx.w1_boxes)
                else:
                    basin = ctx.dual.component(ctx.tau if at_threshold else _dual_level(b, d, ctx.hi), cd)
                    saddle = cb
                    own_side = ~ctx.tf
                    labels = (ctx.w0_labels, ctx.w0_boxes)
                parts.append(basin)
                if not at_threshold:
                    parts.append(ctx.paths(saddle))
                if basin.size and own_side[basin].any():
                    parts.append(adjacent_components(labels[0], basin, ctx.shape, labels[1]))
            if gbar is not None:
                b, d, cb, cd, ess = gbar
                if kind == "primal":
                    region = ctx.t_primal.component(0.5, cb)  # {t > 0.5}
                    labels = (ctx.w0_labels, ctx.w0_boxes)
                else:
                    region = ctx.t_dual.component(0.5, cd)  # {t < 0.5}
                    labels = (ctx.w1_labels, ctx.w1_boxes)
                parts += [region, adjacent_components(labels[0], region, ctx.shape, labels[1])]
        mask = np.zeros(ctx.pf.size, dtype=bool)  # union by a mask: np.unique of large index sets is slower
        for part in parts:
            if part.dtype == bool:
                mask |= part
            else:
                mask[part] = True
        mask &= ctx.wrong if self.support == "wrong" else ctx.valid_mask  # both exclude ignored pixels
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
            # which features are wrong at the threshold: matching of the binarised maps (what a user sees
            # and what the repair criterion measures); the continuous matching adds the margin features
            bmaps = [_binarised(p >= self.threshold, t > 0.5) for p, t in zip(maps, tmaps)]
            bin_results = self.timed(matching_batch(), bmaps, tmaps, dims=dims, connectivity=self.connectivity,
                                     num_threads=self.num_threads)
            # margin features only count once the binarised map is right (they cannot outrank a feature
            # wrong at the threshold anyway): the continuous matching -- the expensive one on a noisy
            # map -- runs only for those maps, and for loops in 3D (continuous matching only)
            middle = any(self._kind(kk, ndim) == "middle" for kk in dims)
            flat = [kk for kk in dims if self._kind(kk, ndim) != "middle"]
            need = [middle or not any(self._wrong_at_threshold(r[kk]) for kk in flat) for r in bin_results]
            sub = [m for m, x in enumerate(need) if x]
            results = [None] * len(maps)
            if sub:
                done = self.timed(matching_batch(), [maps[m] for m in sub], [tmaps[m] for m in sub], dims=dims,
                                  connectivity=self.connectivity, num_threads=self.num_threads)
                for m, r in zip(sub, done):
                    results[m] = r
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
        nomaps = [None] * len(maps)
        for (i, j), p, t, v, res, bres in zip(jobs, maps, tmaps if has_target else nomaps, valids, results,
                                              bin_results if has_target else nomaps):
            ctx = _ItemContext(p, t, v, lo, hi, full)
            feats = []  # (severity, dim, pbar, gbar or matched-flag, at threshold)
            if has_target:
                for kk in dims:
                    # both matchings share the target's diagram, so target indices agree: a target bar
                    # already wrong at the threshold is not counted again as a margin feature
                    taken: set[int] = set()
                    middle = self._kind(kk, ndim) == "middle"
                    for dm, at_threshold in ((bres[kk], True), (None if res is None else res[kk], False)):
                        if dm is None or (middle and at_threshold):
                            continue
                        bp, bg = _Bars(dm.pred), _Bars(dm.target)
                        wrong = (self._wrong_at_threshold(dm) if at_threshold
                                 else self._wrong_from_matching(dm, margin_only=not middle))
                        for sev, ip, ig in wrong:
                            if at_threshold:
                                taken.add(ig)
                            elif ig >= 0 and ig in taken:
                                continue
                            feats.append((sev, kk, bp, ip, bg, ig, at_threshold))
            elif res is not None:
                prior = self.priors[prep.channels[j]]
                for kk in res.dims:
                    if kk >= len(prior):
                        continue
                    bp = _Bars(res[kk])
                    for sev, ip, matched in self._wrong_from_prior(res[kk], prior[kk]):
                        feats.append((sev, kk, bp, ip, None, matched, False))
            feats.sort(key=lambda f: -f[0])
            feats = feats[: self.max_features]
            per_map = []
            for sev, kk, bp, ip, bg, other, at_threshold in feats:
                kind = self._kind(kk, ndim)
                pbar = bp[ip]
                extra = bg[other] if bg is not None else other  # target bar, or the prior's "matched" flag
                if has_target:
                    idx = self._support_target_mode(ctx, kind, pbar, extra, at_threshold)
                    y = ctx.tf[idx].astype(np.float64) if idx.size else np.zeros(0)
                    if idx.size == 0:  # nothing wrongly classified carries it: its critical cells
                        cells = [c for bar in (pbar, extra) if bar is not None for c in (bar[2], bar[3])]
                        idx = ctx.keep_valid(np.unique(np.array([c for c in cells if c >= 0], np.int64)))
                        y = ctx.tf[idx].astype(np.float64)
                else:
                    idx, y = self._support_prior_mode(ctx, kind, pbar, extra)
                if idx.size == 0:
                    continue
                # per-pixel share of the feature's term: a mean over its wrongly classified pixels plus,
                # with support="region", a mean over the rest of its region (each part sums to 1)
                if has_target and self.support == "region":
                    bad = ctx.wrong[idx]
                    n_bad = int(bad.sum())
                    share = np.where(bad, 1.0 / max(n_bad, 1), 1.0 / max(idx.size - n_bad, 1))
                else:
                    share = np.full(idx.size, 1.0 / idx.size)
                per_map.append((idx, y, share))
            row = i * k + j
            for idx, y, share in per_map:
                share = share / len(per_map)
                ones = y > 0.5
                w1[row, idx[ones]] += share[ones]  # idx is unique within a feature
                w0[row, idx[~ones]] += share[~ones]
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


def _binarised(b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The binarised prediction ``b = {p >= tau}`` as a map whose ties are broken by the target.

    Values 1 on ``b & t``, 0.75 on ``b & ~t``, 0.25 on ``~b & t``, 0 elsewhere: ``{map >= 0.5} = b``,
    so the features alive at 0.5 are exactly those of the binarised prediction, but a component that
    overlaps the target is born earlier than one that does not. With a plain 0/1 map every component
    is born at 1 and the tie-break by pixel index decides which one is the essential bar: a spurious
    blob in the first rows of the image would then be "matched" to the target's structure and the true
    structure reported as the unmatched one.
    """
    return np.where(b, 0.75, 0.0) + 0.25 * t


def _alive(births: np.ndarray, deaths: np.ndarray, essential: np.ndarray, tau: float) -> np.ndarray:
    """Bars that are features of the binarised map ``{p >= tau}``: ``b >= tau > d`` (essential: ``b >= tau``)."""
    return (births >= tau) & (essential | (deaths < tau))


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
