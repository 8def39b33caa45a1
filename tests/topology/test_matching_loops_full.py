"""3D loops of the Betti matching, T-construction: the compact-cell path against the doubled grid.

``matching._loops_full`` (the engine's loop bars and ``_matching_loops_full``'s image bars, with the
shortcut of ``_leads_comparison`` for binary inputs) and ``matching._loops_on_grid`` (its own
reductions on the doubled grid of ``_matching_reduction``, another cell numbering and refinement)
are independent implementations of the same matching; bars are told by voxels, so their results
must be equal cell for cell: matched pairs and the unmatched bars of both sides.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nnunet_topo.topology import matching as M
from nnunet_topo.topology.matching import _match_by_ranks


def _cells(m) -> tuple:
    def bars(d, idx):
        return sorted(zip(d.birth_index[idx].tolist(), d.death_index[idx].tolist()))

    return (sorted(zip(bars(m.pred, m.matched_pred), bars(m.target, m.matched_target))),
            bars(m.pred, m.unmatched_pred), bars(m.target, m.unmatched_target))


def _both_paths(p: np.ndarray, g: np.ndarray, monkeypatch) -> tuple:
    compact = _match_by_ranks(p, g, (1,), "full")[1]
    with monkeypatch.context() as mp:
        mp.setattr(M, "_DOUBLED_GRID_LOOPS", True)
        grid = _match_by_ranks(p, g, (1,), "full")[1]
    return compact, grid


def _pair(rng: np.random.Generator, kind: int) -> tuple[np.ndarray, np.ndarray]:
    shape = tuple(int(s) for s in rng.integers(2, 11, 3))
    p = ndimage.gaussian_filter(rng.random(shape), 0.7) if kind % 2 else rng.random(shape)
    g = (ndimage.gaussian_filter(rng.random(shape), 1.0) > 0.5).astype(np.float64)
    if kind == 1:
        g = rng.random(shape)  # a probability target: no shortcut
    elif kind == 2:
        p = np.round(p * 3) / 3  # ties; values up to 1 outside the target: no shortcut
    elif kind == 3:
        p = g.copy()  # both binary and equal: both sides take the shortcut
        p[tuple(rng.integers(0, s) for s in shape)] = 0.0
    elif kind == 4:
        p = (p > 0.5).astype(np.float64)  # both binary, the prediction not inside the target
    elif kind == 5:
        p = p * 0.9 + 0.1 * g  # below 1 everywhere: the target's side takes the shortcut
    return np.ascontiguousarray(p), np.ascontiguousarray(g)


def test_compact_path_equals_doubled_grid(monkeypatch):
    rng = np.random.default_rng(15)
    features = 0
    for it in range(360):
        p, g = _pair(rng, it % 6)
        compact, grid = _both_paths(p, g, monkeypatch)
        assert _cells(compact) == _cells(grid), (it, p.shape)
        features += len(compact.pred) + len(compact.target)
    assert features > 2000  # the random pairs do have loops


def test_larger_fields_equal_doubled_grid(monkeypatch):
    rng = np.random.default_rng(16)
    matched = 0
    for it in range(12):
        shape = tuple(int(s) for s in rng.integers(12, 22, 3))
        p = ndimage.gaussian_filter(rng.random(shape), 0.7)
        g = (p + 0.05 * rng.standard_normal(shape) > np.median(p)).astype(np.float64) if it % 2 else \
            (ndimage.gaussian_filter(rng.random(shape), 1.0) > 0.5).astype(np.float64)
        compact, grid = _both_paths(p, g, monkeypatch)
        assert _cells(compact) == _cells(grid), it
        matched += compact.num_matched
    assert matched > 50


@pytest.mark.parametrize("kind, expected", [(0, (False, True)), (1, (False, False)), (3, (True, True)),
                                            (5, (False, True))])
def test_shortcut_is_taken_exactly_when_it_applies(kind, expected, monkeypatch):
    """``_leads_comparison``: binary input whose top plateau is the comparison image's first one."""
    rng = np.random.default_rng(17)
    p, g = _pair(rng, kind)
    if kind == 0:
        p = p * 0.99  # strictly below the target's value 1 everywhere
    seen = []
    original = M._leads_comparison

    def spy(*args):
        seen.append(original(*args))
        return seen[-1]

    monkeypatch.setattr(M, "_leads_comparison", spy)
    _match_by_ranks(p, g, (1,), "full")
    assert tuple(seen) == expected


def test_shortcut_declines_a_value_at_the_top_outside_the_target():
    g = np.zeros((5, 6, 7))
    g[1:4, 1:5, 1:6] = 1.0
    g[2, 2, 2:5] = 0.0
    p = np.full(g.shape, 0.2)
    lay = M._layout(g.shape, True)
    from nnunet_topo.topology._union_find import plateau_starts_in_order

    for outside_top, expected in ((0.9, True), (1.0, False)):
        q = p.copy()
        q[0, 0, 0] = outside_top
        fp, fg = M._Filtration(q, lay), M._Filtration(g, lay)
        fc = M._Filtration(np.maximum(q, g), lay)
        assert M._leads_comparison(fg, plateau_starts_in_order(fg.values), fc,
                                   plateau_starts_in_order(fc.values)) is expected


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_shortcut_equals_the_image_reduction(connectivity, monkeypatch):
    """C's bars in place of the image bars of a leading binary input give the same matching as the
    image reduction itself (both constructions)."""
    rng = np.random.default_rng(18 if connectivity == "full" else 19)
    original = M._leads_comparison
    taken = []

    def spy(*args):
        taken.append(original(*args))
        return taken[-1]

    features = 0
    for it in range(150):
        p, g = _pair(rng, it % 6)
        with monkeypatch.context() as mp:
            mp.setattr(M, "_leads_comparison", spy)
            fast = _match_by_ranks(p, g, (1,), connectivity)[1]
        with monkeypatch.context() as mp:
            mp.setattr(M, "_leads_comparison", lambda *args: False)
            reduced = _match_by_ranks(p, g, (1,), connectivity)[1]
        assert _cells(fast) == _cells(reduced), (it, p.shape)
        features += fast.num_matched
    assert sum(taken) >= 60 and features >= 50  # shortcuts taken, loops matched
