"""The fast backend against gudhi (independent oracle) on >= 2 000 random inputs, plus analytic cases.

Categories: smooth and rough fields, non-square 2D and non-cubic 3D shapes, quantised values with
many ties, binary masks, constant images, 1-pixel-thin structures; both connectivities.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import ndimage

from nnunet_topo.topology import Diagram, persistence, persistence_batch

CONNECTIVITIES = ("full", "face")


def _thin_structures(shape, rng):
    """Random 1-pixel-thin lines and rings (values 0.5..1) on a low noisy background."""
    img = rng.random(shape) * 0.2
    for _ in range(int(rng.integers(1, 4))):
        p = np.array([rng.integers(0, s) for s in shape])
        for _ in range(int(rng.integers(3, 3 * max(shape) + 4))):
            step = rng.integers(-1, 2, size=len(shape))
            p = np.clip(p + step, 0, np.array(shape) - 1)
            img[tuple(p)] = max(img[tuple(p)], rng.uniform(0.5, 1.0))
    return img


def random_input(rng, kind, ndim):
    hi = 9 if ndim == 3 else 20
    shape = tuple(int(s) for s in rng.integers(1, hi, size=ndim))
    if kind == "rough":
        return rng.random(shape)
    if kind == "smooth":
        return ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.7, 2.0))
    if kind == "ties":
        return np.round(rng.random(shape) * rng.integers(1, 5)) / 4
    if kind == "binary":
        return (ndimage.gaussian_filter(rng.random(shape), 1.0) > rng.uniform(0.3, 0.7)).astype(np.float32)
    if kind == "constant":
        return np.full(shape, rng.uniform(-1, 1))
    if kind == "thin":
        return _thin_structures(shape, rng)
    raise AssertionError(kind)


KINDS = ("rough", "smooth", "ties", "binary", "constant", "thin")
TIE_FREE = ("rough", "smooth", "thin")  # continuous values: critical cells are unique


def _multiset(d: Diagram) -> Counter:
    return Counter(zip(d.births.tolist(), d.deaths.tolist(), d.essential.tolist()))


def check_diagram_invariants(image: np.ndarray, d: Diagram) -> None:
    flat = np.asarray(image, dtype=np.float64)
    assert d.births.dtype == np.float64 and d.birth_cells.dtype == np.int64
    assert np.array_equal(flat[tuple(d.birth_cells.T)], d.births)
    fin = ~d.essential
    assert np.array_equal(flat[tuple(d.death_cells[fin].T)], d.deaths[fin])
    assert np.all(d.deaths[d.essential] == -np.inf)
    assert np.all(d.death_cells[d.essential] == -1)
    assert np.all(d.births[fin] > d.deaths[fin])  # zero-persistence pairs are left out
    assert np.array_equal(d.birth_index, np.ravel_multi_index(tuple(d.birth_cells.T), image.shape))


def compare_with_gudhi(image, connectivity, exact_cells):
    ours = persistence(image, connectivity=connectivity, backend="fast")
    ref = persistence(image, connectivity=connectivity, backend="gudhi")
    assert ours.dims == ref.dims == tuple(range(image.ndim))
    for k in ref.dims:
        assert _multiset(ours[k]) == _multiset(ref[k]), (k, image.shape, connectivity)
        check_diagram_invariants(image, ours[k])
        if exact_cells:
            assert np.array_equal(ours[k].birth_cells, ref[k].birth_cells), (k, image.shape)
            assert np.array_equal(ours[k].death_cells, ref[k].death_cells), (k, image.shape)
    # Essential classes: exactly one, in dimension 0, born at the maximum.
    assert int(ours[0].essential.sum()) == 1 and ours[0].births[0] == image.max()
    assert not any(ours[k].essential.any() for k in ours.dims if k > 0)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", [2, 3])
def test_diagrams_equal_gudhi(ndim, kind, connectivity):
    # 6 kinds x 2 ndim x 2 connectivities x 90 inputs = 2 160 random inputs.
    rng = np.random.default_rng([ndim, KINDS.index(kind), CONNECTIVITIES.index(connectivity)])
    for _ in range(90):
        image = random_input(rng, kind, ndim)
        compare_with_gudhi(image, connectivity, exact_cells=kind in TIE_FREE)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_larger_non_square_inputs(connectivity):
    rng = np.random.default_rng(5)
    for shape in [(37, 64), (64, 23), (9, 17, 23), (20, 11, 6)]:
        image = ndimage.gaussian_filter(rng.random(shape), 1.5)
        compare_with_gudhi(image, connectivity, exact_cells=True)
        q = np.round(image * 12) / 12
        compare_with_gudhi(q, connectivity, exact_cells=False)


def test_ring_analytic_2d():
    img = np.full((9, 12), 0.1)
    img[2:7, 3:9] = 0.9
    img[4, 5:7] = 0.2  # hole inside the ring
    res = persistence(img)
    assert res[0].pairs().tolist() == [[0.9, -np.inf]]
    assert res[1].pairs().tolist() == [[0.9, 0.2]]
    assert res[1].death_cells.tolist() in ([[4, 5]], [[4, 6]])  # either of the tied hole pixels
    assert res.betti_numbers_at(0.5) == (1, 1)
    assert res.betti_numbers_at(0.15) == (1, 0)


def test_diagonal_pixels_full_versus_face():
    img = np.zeros((4, 5))
    img[1, 1] = 1.0
    img[2, 2] = 0.8
    full = persistence(img, connectivity="full")
    face = persistence(img, connectivity="face")
    assert full[0].pairs().tolist() == [[1.0, -np.inf]]
    assert face[0].pairs().tolist() == [[1.0, -np.inf], [0.8, 0.0]]
    assert face[0].birth_cells.tolist() == [[1, 1], [2, 2]]


def test_torus_bars_3d(torus_shell):
    shell = torus_shell.astype(np.float64)
    for connectivity in CONNECTIVITIES:
        res = persistence(np.where(shell, 0.75, 0.25), connectivity=connectivity)
        assert res.betti_numbers_at(0.5) == (1, 2, 1)
        assert [len(d) for d in res] == [1, 2, 1]
        assert np.all(res[1].births == 0.75) and np.all(res[1].deaths == 0.25)
        assert res[2].pairs().tolist() == [[0.75, 0.25]]


def test_dims_subset_and_types():
    rng = np.random.default_rng(3)
    img = rng.random((6, 7, 8)).astype(np.float32)
    full = persistence(img)
    for dims in ([0], [2], (1,), 2, [2, 0]):
        sub = persistence(img, dims=dims)
        want = (dims,) if isinstance(dims, int) else tuple(sorted(dims))
        assert sub.dims == want
        for k in want:
            assert _multiset(sub[k]) == _multiset(full[k])
            assert np.array_equal(sub[k].birth_cells, full[k].birth_cells)
    with pytest.raises(KeyError, match="computed dims are"):
        persistence(img, dims=[0])[1]
    assert persistence(img.astype(np.uint8) * 0 + 1)[0].pairs().tolist() == [[1.0, -np.inf]]
    assert persistence(img > 0.5, dims=[0, 2]).backend == "fast"
    assert persistence(img[0]).backend == "fast"
    from nnunet_topo.topology._fast_backend import _cripser_modules

    # dimension 1 of a 3D image: our reduction for the T-construction; for the V-construction
    # cripser when installed (the [bench] extra), else gudhi
    assert persistence(img > 0.5).backend == "fast"
    assert persistence(img, connectivity="face").backend == ("fast+cripser" if _cripser_modules() else "fast+gudhi")
    assert persistence(img, backend="gudhi").backend == "gudhi"


def test_results_are_immutable_and_deterministic():
    img = np.round(np.random.default_rng(0).random((16, 19)) * 3)
    a, b = persistence(img), persistence(img.copy())
    for k in (0, 1):
        for name in ("births", "deaths", "birth_cells", "death_cells", "essential"):
            arr = getattr(a[k], name)
            assert not arr.flags.writeable
            assert np.array_equal(arr, getattr(b[k], name))
    with pytest.raises(Exception):
        a[0].births[0] = 5.0
    with pytest.raises(Exception):
        a.backend = "x"


def test_negative_zero_equals_zero():
    img = np.array([[0.0, -0.0, 1.0], [-0.0, 0.5, 0.0]])
    compare_with_gudhi(img, "full", exact_cells=False)


@pytest.mark.parametrize("num_threads", [1, 2, None])
def test_batch_equals_serial(num_threads):
    rng = np.random.default_rng(9)
    images = [ndimage.gaussian_filter(rng.random((24, 31)), 1.0) for _ in range(5)]
    images.append(rng.random((5, 6, 7)))
    batch = persistence_batch(images, num_threads=num_threads, connectivity="face")
    assert len(batch) == len(images)
    for img, res in zip(images, batch):
        one = persistence(img, connectivity="face")
        assert res.shape == img.shape and res.dims == one.dims
        for k in one.dims:
            assert np.array_equal(res[k].pairs(), one[k].pairs())
            assert np.array_equal(res[k].birth_cells, one[k].birth_cells)
    stacked = np.stack(images[:5])
    assert [r.shape for r in persistence_batch(stacked, dims=[0])] == [(24, 31)] * 5
    assert persistence_batch([]) == []


def test_fast_bar_sort_matches_reference_order():
    from nnunet_topo.topology._bars import bar_order
    from nnunet_topo.topology._gudhi_backend import sort_bars

    rng = np.random.default_rng(4)
    for n in (0, 10, 100, 3_000, 40_000, 5_000, 2_000):
        births = rng.integers(0, 50, n) / 8
        deaths = births - rng.integers(0, 20, n) / 8
        if n == 5_000:  # persistences closer than float32 can tell apart, many of them tied exactly
            deaths = births - (0.5 + rng.integers(0, 30, n) * 2.0**-40)
        if n == 2_000:  # small groups of persistences a few float64 steps apart
            deaths = births - rng.random(200)[rng.integers(0, 200, n)] * (1 + rng.integers(0, 4, n) * 2.0**-35)
        birth_idx = rng.integers(0, 10_000, n)
        death_idx = rng.integers(-1, 10_000, n)
        essential = death_idx == -1
        pers = np.where(essential, np.inf, births - deaths)
        want = np.lexsort((death_idx, birth_idx, -pers))
        assert np.array_equal(sort_bars(births, deaths, birth_idx, death_idx, essential), want)
        assert np.array_equal(bar_order(births, deaths, birth_idx, death_idx, essential), want)


@pytest.mark.parametrize("kind", KINDS)
def test_own_3d_loop_reduction_equals_gudhi(kind):
    """Dimension 1 of 3D images by our reduction (the fallback without cripser), T-construction."""
    from nnunet_topo.topology._fast_backend import fast_diagrams

    rng = np.random.default_rng([7, KINDS.index(kind)])
    for _ in range(40):
        image = np.ascontiguousarray(random_input(rng, kind, 3), dtype=np.float64)
        ours, name = fast_diagrams(image, (0, 1, 2), "full", loops="ours")
        assert name == "fast"
        ref = persistence(image, backend="gudhi")
        for k in (0, 1, 2):
            assert _multiset(ours[k]) == _multiset(ref[k]), (k, image.shape)
            check_diagram_invariants(image, ours[k])
            if kind in TIE_FREE:
                assert np.array_equal(ours[k].birth_cells, ref[k].birth_cells)
                assert np.array_equal(ours[k].death_cells, ref[k].death_cells)


def test_loop_method_options():
    from nnunet_topo.topology._fast_backend import fast_diagrams

    image = np.random.default_rng(0).random((4, 5, 6))
    with pytest.raises(ValueError, match="expected connectivity 'full'"):
        fast_diagrams(image, (1,), "face", loops="ours")
    with pytest.raises(ValueError, match="loops: expected"):
        fast_diagrams(image, (1,), "full", loops="fast")
    via_gudhi, name = fast_diagrams(image, (1,), "face", loops="gudhi")
    assert name == "fast+gudhi"
    assert _multiset(via_gudhi[1]) == _multiset(persistence(image, connectivity="face", backend="gudhi")[1])
