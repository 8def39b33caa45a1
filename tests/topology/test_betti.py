"""betti_numbers: analytic cases, scipy labelling, skimage Euler numbers, agreement with diagrams."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import euler_number

from nnunet_topo.topology import betti_numbers, euler_characteristic, persistence

# skimage's connectivity argument for the *foreground* of each of our constructions.
SKIMAGE_CONN = {("full", 2): 2, ("full", 3): 3, ("face", 2): 1, ("face", 3): 1}


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_analytic_2d(connectivity, ring):
    assert betti_numbers(ring, connectivity=connectivity) == (1, 1)
    discs = np.zeros((20, 33), bool)
    discs[2:8, 3:9] = True
    discs[10:17, 20:30] = True
    assert betti_numbers(discs, connectivity=connectivity) == (2, 0)
    assert betti_numbers(np.zeros((4, 7), bool), connectivity=connectivity) == (0, 0)
    assert betti_numbers(np.ones((4, 7), bool), connectivity=connectivity) == (1, 0)


def test_diagonal_pixels_depend_on_connectivity():
    m = np.zeros((5, 6), bool)
    m[1, 1] = m[2, 2] = True
    assert betti_numbers(m, connectivity="full") == (1, 0)
    assert betti_numbers(m, connectivity="face") == (2, 0)
    # A diagonal 1-pixel ring: closed for 8-connectivity, four pieces for 4-connectivity.
    d = np.zeros((5, 7), bool)
    d[0, 2] = d[1, 1] = d[1, 3] = d[2, 2] = True
    assert betti_numbers(d, connectivity="full") == (1, 1)
    assert betti_numbers(d, connectivity="face") == (4, 0)


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_analytic_3d(connectivity, torus_shell, solid_torus):
    hollow = np.zeros((7, 9, 11), bool)
    hollow[1:6, 1:8, 1:10] = True
    hollow[2:5, 3:6, 3:8] = False
    assert betti_numbers(hollow, connectivity=connectivity) == (1, 0, 1)
    assert betti_numbers(torus_shell, connectivity=connectivity) == (1, 2, 1)
    assert betti_numbers(solid_torus, connectivity=connectivity) == (1, 1, 0)
    blobs = np.zeros((6, 8, 10), bool)
    blobs[0:2, 0:3, 0:3] = True
    blobs[3:6, 4:8, 5:10] = True
    assert betti_numbers(blobs, connectivity=connectivity) == (2, 0, 0)


def test_one_voxel_thin_ring_in_3d():
    m = np.zeros((3, 8, 9), bool)
    m[1, 2, 2:7] = m[1, 6, 2:7] = True
    m[1, 2:7, 2] = m[1, 2:7, 6] = True
    assert betti_numbers(m, connectivity="full") == (1, 1, 0)
    assert betti_numbers(m, connectivity="face") == (1, 1, 0)


def _random_masks(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        ndim = int(rng.integers(2, 4))
        shape = tuple(int(s) for s in rng.integers(1, 10 if ndim == 3 else 16, size=ndim))
        field = rng.random(shape)
        if rng.random() < 0.5:
            field = ndimage.gaussian_filter(field, 1.0)
        yield field >= np.quantile(field, rng.random())


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_random_masks_against_scipy_and_skimage(connectivity):
    for mask in _random_masks(300, seed=11 if connectivity == "full" else 12):
        ndim = mask.ndim
        fg_full = connectivity == "full"
        fg = ndimage.generate_binary_structure(ndim, ndim if fg_full else 1)
        bg = ndimage.generate_binary_structure(ndim, 1 if fg_full else ndim)
        b = betti_numbers(mask, connectivity=connectivity)
        assert b[0] == ndimage.label(mask, fg)[1]
        padded = np.pad(~mask, 1, constant_values=True)
        assert b[-1] == ndimage.label(padded, bg)[1] - 1
        chi = euler_number(mask, connectivity=SKIMAGE_CONN[(connectivity, ndim)])
        assert euler_characteristic(mask, connectivity=connectivity) == chi
        assert sum((-1) ** k * bk for k, bk in enumerate(b)) == chi
        assert min(b) >= 0


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("backend", ["gudhi", "auto"])
def test_agrees_with_diagram_of_the_mask(connectivity, backend):
    for mask in _random_masks(120, seed=21):
        result = persistence(mask.astype(np.float32), connectivity=connectivity, backend=backend)
        assert result.betti_numbers_at(1.0) == betti_numbers(mask, connectivity=connectivity)


def test_accepts_integer_zero_one_masks(ring):
    m = ring.astype(np.uint8)
    assert betti_numbers(m) == betti_numbers(m.astype(bool)) == (1, 1)


@pytest.mark.parametrize(
    "bad, error, words",
    [
        (np.array([[0, 2], [1, 0]]), ValueError, "binary"),
        (np.zeros(5, bool), ValueError, "2D or 3D"),
        (np.zeros((2, 2, 2, 2), bool), ValueError, "4D"),
        (np.zeros((0, 3), bool), ValueError, "non-empty"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "<U1"),
        (np.array([[0.5, 1.0], [0.0, 1.0]]), ValueError, "0.5"),
    ],
)
def test_bad_input(bad, error, words):
    with pytest.raises(error, match=words):
        betti_numbers(bad)


def test_bad_connectivity(ring):
    with pytest.raises(ValueError, match="expected one of"):
        betti_numbers(ring, connectivity="8")
    with pytest.raises(TypeError, match="expected one of"):
        betti_numbers(ring, connectivity=8)
