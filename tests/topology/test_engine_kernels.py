"""Kernels of the fast backend against independent oracles: numpy's stable argsort, scipy labelling."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nnunet_topo.topology._union_find import (
    connectivity_bits,
    neighbour_offsets,
    radix_argsort_decreasing,
    ring_representatives,
)


def _oracle(values: np.ndarray) -> np.ndarray:
    return np.argsort(-(values + 0.0), kind="stable")  # + 0.0 turns -0.0 into 0.0


@pytest.mark.parametrize("single", [True, False], ids=["float32-valued", "float64-valued"])
def test_radix_argsort_equals_stable_argsort(single):
    """Both key paths (float32 bits when every value is a float32, float64 bits otherwise)."""
    rng = np.random.default_rng(7)
    f32 = np.finfo(np.float32)
    cases = [
        rng.random(3 * 17),
        rng.standard_normal(1000) * 1e3,
        np.round(rng.standard_normal(999), 1),  # many ties
        np.array([0.0, -0.0, 1.0, -0.0, 0.0, -1.0]),
        np.array([f32.max, -f32.max, f32.tiny, -f32.tiny, 1e-45, -1e-45, 0.0]),
        np.full(12, 0.5),
    ]
    for values in cases:
        values = values.astype(np.float32).astype(np.float64) if single else values + 1e-300 * (values != 0)
        if not single:
            values[0] = 1.0 + 2.0**-40  # not a float32: the float64 path
        np.testing.assert_array_equal(radix_argsort_decreasing(values), _oracle(values))


def test_radix_argsort_float64_beyond_float32_range():
    values = np.array([1e300, 3.0, -1e300, 1e-300, 0.0, 3.0])
    np.testing.assert_array_equal(radix_argsort_decreasing(values), _oracle(values))


@pytest.mark.parametrize("full", [True, False], ids=["8-connected", "4-connected"])
def test_ring_representatives_against_scipy_labelling(full):
    """One selected neighbour per component of the present ring cells that touches the pixel.

    Oracle: scipy labels the 3x3 patch (centre absent) with the connectivity's structure; the
    components that reach the centre are those holding a selected (8- or 4-) neighbour.
    """
    offsets = neighbour_offsets(2)
    select = connectivity_bits(offsets, full)
    table = ring_representatives(offsets, select)
    assert table.dtype == np.uint32 and table.shape == (256,)
    structure = ndimage.generate_binary_structure(2, 2 if full else 1)
    for pattern in range(256):
        patch = np.zeros((3, 3), dtype=bool)
        for j, (_, dy, dx) in enumerate(offsets):
            patch[1 + dy, 1 + dx] = (pattern >> j) & 1
        labels, _ = ndimage.label(patch, structure=structure)
        touching = {labels[1 + dy, 1 + dx] for j, (_, dy, dx) in enumerate(offsets)
                    if (pattern >> j) & 1 and (select >> j) & 1}
        reps = [j for j in range(8) if (int(table[pattern]) >> j) & 1]
        assert all((pattern >> j) & 1 and (select >> j) & 1 for j in reps)
        assert sorted(labels[1 + offsets[j][1], 1 + offsets[j][2]] for j in reps) == sorted(touching)


def test_ring_representatives_needs_2d_offsets():
    with pytest.raises(ValueError, match="8 neighbours"):
        ring_representatives(neighbour_offsets(3), 0)


@pytest.mark.parametrize("shape", [(7, 13), (1, 300), (5, 3, 11), (2, 1, 9)])
def test_cells_of_equals_unravel_index(shape):
    from nnunet_topo.topology._bars import cells_of

    rng = np.random.default_rng(len(shape))
    size = int(np.prod(shape))
    flat = np.concatenate([np.arange(size), rng.integers(0, size, 50), [-1, -1]]).astype(np.int64)
    want = np.stack(np.unravel_index(np.maximum(flat, 0), shape), axis=1)
    want[flat < 0] = -1
    got = cells_of(flat, np.asarray(shape, np.int64))
    assert got.dtype == np.int64 and got.shape == (len(flat), len(shape))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(1, 1), (2, 9), (9, 2), (5, 7), (6, 11), (1, 6, 4), (3, 4, 5), (4, 1, 3), (5, 6, 7)])
def test_neighbour_masks_against_brute_force(shape):
    """Bit j: neighbour j exists and enters earlier; bit 30: the pixel is on the border."""
    from nnunet_topo.topology._union_find import BORDER_BIT, inverse_permutation, neighbour_masks

    rng = np.random.default_rng(sum(shape))
    values = rng.integers(0, 4, shape).astype(np.float64).ravel()
    pos = inverse_permutation(radix_argsort_decreasing(values))
    ndim = len(shape)
    offsets = neighbour_offsets(ndim)
    grid = (1,) + shape if ndim == 2 else shape
    masks = neighbour_masks(np.asarray(grid, np.int64), pos, offsets)
    for p, coord in enumerate(np.ndindex(*grid)):
        want = 0
        on_border = any(c == 0 or c == s - 1 for c, s in zip(coord[3 - ndim:], grid[3 - ndim:]))
        if on_border:
            want |= 1 << BORDER_BIT
        for j, off in enumerate(offsets):
            q = tuple(int(c + o) for c, o in zip(coord, off))
            if all(0 <= c < s for c, s in zip(q, grid)) and pos[np.ravel_multi_index(q, grid)] < pos[p]:
                want |= 1 << j
        assert int(masks[p]) == want, (coord, bin(int(masks[p])), bin(want))


def test_plateau_starts_in_order_equals_plateau_starts():
    """Plateau starts from values already in order equal those read through the order (ties, -0.0)."""
    from nnunet_topo.topology._union_find import plateau_starts, plateau_starts_in_order

    rng = np.random.default_rng(2)
    for values in (np.round(rng.random(300), 1), rng.random(257), np.array([0.0, -0.0, 1.0, 1.0, -0.0]),
                   np.zeros(1), np.zeros(0)):
        order = radix_argsort_decreasing(values)
        expected = np.r_[1, np.diff(np.sort(-(values + 0.0))) != 0].astype(np.uint8)[: len(values)]
        np.testing.assert_array_equal(plateau_starts(values, order), expected)
        np.testing.assert_array_equal(plateau_starts_in_order(values[order]), expected)
