"""Betti matching against an independent implementation (Betti-Matching-3D) and invariances.

Betti-Matching-3D (the C++ extension inside ``topolosses``) uses the V-construction on sublevel
filtrations, so it gets ``1 - p`` and we use ``connectivity="face"``; it leaves out the essential
dimension-0 class, which we keep and always match (so our dimension-0 count is one higher).

Systematic difference (see docs/topology.md, "Betti matching"): Betti-Matching-3D gives a
component of the comparison image the image class of its earliest prediction cell even when that
cell has not entered the prediction's superlevel set yet, so it can match a bar through an *empty*
image class (born after the comparison bar died). Which class that is depends on the order in which
it visits tied edges, so on such pairs its counts change when both arrays are flipped. On every
pair we require equal counts, or: the peer matches more bars than we do (dimensions 0 and d-1), ours does not change
under flips, and either (a) once the peer's matched pairs with a bar whose image in the comparison
image is empty (checked independently by scipy labelling) are left out its count equals ours, or
(b) the peer's own counts change under a flip of both arrays (tied values resolved by its visiting
order; 3D loops have no simple independent emptiness check). Such pairs stay a small minority and
never occur when the prediction is a perturbed copy of the target.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from nnunet_topo.topology import betti_matching

bm3d_module = pytest.importorskip("nnunet_topo.benchmarking._peers")


@pytest.fixture(scope="module")
def bm3d():
    try:
        return bm3d_module.load_betti_matching_3d()
    except bm3d_module.PeerUnavailable as exc:  # pragma: no cover - depends on the [test] extra
        pytest.skip(str(exc))


def peer_counts(bm3d, p, g):
    r = bm3d.compute_matching(np.ascontiguousarray(1.0 - p), np.ascontiguousarray(1.0 - g))
    return [(int(m), int(a), int(b)) for m, a, b in zip(r.num_matched, r.num_unmatched_input1, r.num_unmatched_input2)]


def our_counts(p, g):
    r = betti_matching(p, g, connectivity="face")
    return [(r[k].num_matched - (k == 0), r[k].num_unmatched_pred, r[k].num_unmatched_target) for k in r.dims]


def smooth(rng, shape, sigma):
    f = gaussian_filter(rng.standard_normal(shape), sigma)
    return (f - f.min()) / np.ptp(f)


def perturb(rng, mask):
    """A prediction-like copy of a mask: blurred, noisy, clipped to [0, 1]."""
    noisy = gaussian_filter(mask, 0.8) + 0.25 * gaussian_filter(rng.standard_normal(mask.shape), 0.7)
    return np.clip(noisy, 0.0, 1.0)


def real_crops(shared_data, rng, n, shape):
    """Binary crops (foreground > 5 %) of real ground truths: DRIVE vessels (2D), MyoPS labels (3D)."""
    if len(shape) == 2:
        from PIL import Image

        files = sorted((shared_data / "DRIVE" / "training" / "1st_manual").glob("*_manual1.gif"))[:4]
        volumes = [np.array(Image.open(f)) > 0 for f in files]
    else:
        import SimpleITK as sitk

        files = sorted((shared_data / "MyoPS2020" / "train25_myops_gd").glob("*_gd.nii.gz"))[:3]
        volumes = [sitk.GetArrayFromImage(sitk.ReadImage(str(f))) > 0 for f in files]
    if not files:
        pytest.skip("real ground truths not found under shared data")
    crops = []
    while len(crops) < n:
        v = volumes[rng.integers(len(volumes))]
        corner = [rng.integers(0, s - c + 1) for s, c in zip(v.shape, shape)]
        crop = v[tuple(slice(c, c + s) for c, s in zip(corner, shape))]
        if crop.mean() > 0.05:
            crops.append(crop.astype(np.float64))
    return crops


def pairs(shared_data):
    """(family, pred, target) for 2D 16x24 and 3D 8x10x12 (MyoPS crops 3x12x14: most cases have 3 slices)."""
    rng = np.random.default_rng(2024)
    out = []
    for shape in [(16, 24), (8, 10, 12)]:
        for _ in range(70):
            out.append(("smooth vs thresholded", smooth(rng, shape, 1.0), (smooth(rng, shape, 1.5) > 0.5) * 1.0))
        for _ in range(70):
            g = (smooth(rng, shape, 1.5) > 0.5) * 1.0
            out.append(("thresholded vs perturbed copy", perturb(rng, g), g))
        for _ in range(50):
            g = (smooth(rng, shape, 1.2) > 0.5) * 1.0
            out.append(("thresholded pred vs smooth target", g, smooth(rng, shape, 1.0)))
        real_shape = shape if len(shape) == 2 else (3, 12, 14)
        for g in real_crops(shared_data, rng, 70, real_shape):
            out.append(("real ground truth vs perturbed copy", perturb(rng, g), g))
    return out


def flips(a):
    return [np.ascontiguousarray(np.flip(a, axis)) for axis in range(a.ndim)]


def image_is_empty(x, comp, k, birth, death_cell):
    """Independent check (scipy labelling, V-construction) that a bar of ``x`` has an empty image in ``comp``.

    Dimension 0, bar born at value ``b`` at ``birth``: its class is new in ``comp``'s superlevel set
    only if the component of ``birth`` in ``{comp >= b}`` holds no older cell of ``x`` (``x > b``).
    Dimension ``d - 1`` (by duality), bar born at ``b`` whose hole starts at ``death_cell``: its class
    survives in ``comp`` only if the complement component of ``death_cell`` in ``{x < b}`` still
    meets ``{comp < b}``.
    """
    from scipy.ndimage import generate_binary_structure, label

    b = x[tuple(birth)]
    if k == 0:
        lab, _ = label(comp >= b, generate_binary_structure(x.ndim, 1))
        region = lab == lab[tuple(birth)]
        return bool((x[region] > b).any())
    assert k == x.ndim - 1
    lab, _ = label(np.pad(x < b, 1, constant_values=True), generate_binary_structure(x.ndim, x.ndim))
    region = (lab == lab[tuple(np.asarray(death_cell) + 1)])[tuple(slice(1, -1) for _ in x.shape)]
    return not bool((comp[region] < b).any())


def explained_by_empty_images(p, g, ours_result, peer) -> bool:
    """True when the peer's extra matches are exactly its matches through empty image classes.

    Dimensions 0 and d-1 only: the number of the peer's matched pairs in which neither bar has an
    empty image (independent check above) must equal our number of matched pairs, in every
    dimension where the counts differ.
    """
    r = peer.compute_matching(np.ascontiguousarray(1.0 - p), np.ascontiguousarray(1.0 - g))
    comp = np.maximum(p, g)
    for k in ours_result.dims:
        ours_matched = ours_result[k].num_matched - (k == 0)
        if int(r.num_matched[k]) == ours_matched:
            continue
        if k not in (0, p.ndim - 1):
            continue  # 3D loops are compared separately
        pb, pd = r.input1_matched_birth_coordinates[k], r.input1_matched_death_coordinates[k]
        gb, gd = r.input2_matched_birth_coordinates[k], r.input2_matched_death_coordinates[k]
        valid = sum(
            not image_is_empty(p, comp, k, pb[i], pd[i]) and not image_is_empty(g, comp, k, gb[i], gd[i])
            for i in range(len(pb))
        )
        if valid != ours_matched:
            return False
    return True


def test_counts_equal_betti_matching_3d(bm3d, shared_data):
    all_pairs = pairs(shared_data)
    assert len(all_pairs) >= 500
    excused: dict[str, list[str]] = {}
    loops_differ: list[str] = []
    for family, p, g in all_pairs:
        ours_result = betti_matching(p, g, connectivity="face")
        ours = [(m.num_matched - (m.dim == 0), m.num_unmatched_pred, m.num_unmatched_target) for m in ours_result]
        theirs = peer_counts(bm3d, p, g)
        if p.ndim == 3 and ours[1] != theirs[1]:
            # loops in 3D: several loops born or dying at one voxel are told apart by Bauer and
            # Lesnick's length rule here, by the peer's order of squares there (docs/topology.md)
            loops_differ.append(family)
            ours[1] = theirs[1]
        if ours == theirs:
            continue
        # in dimensions 0 and d-1 the peer never matches fewer bars than we do
        assert all(t[0] >= o[0] for k, (o, t) in enumerate(zip(ours, theirs)) if k in (0, p.ndim - 1)), (
            family, ours, theirs)
        # our answer does not depend on the orientation of the arrays
        assert all(our_counts(fp, fg)[0::2] == ours[0::2] for fp, fg in zip(flips(p), flips(g)))
        if explained_by_empty_images(p, g, ours_result, bm3d):
            reason = "empty image"
        else:
            flipped = [peer_counts(bm3d, fp, fg) for fp, fg in zip(flips(p), flips(g))]
            assert any(f != theirs for f in flipped), (
                f"{family} {p.shape}: ours {ours} != Betti-Matching-3D {theirs}; not explained by empty image "
                "classes and the peer's answer does not depend on the orientation"
            )
            reason = "orientation"
        excused.setdefault(family, []).append(reason)
    assert sum(len(v) for v in excused.values()) <= 0.1 * len(all_pairs), excused
    n3d = sum(p.ndim == 3 for _, p, _ in all_pairs)
    assert len(loops_differ) <= 0.1 * n3d, loops_differ
    assert "thresholded vs perturbed copy" not in loops_differ
    assert "real ground truth vs perturbed copy" not in loops_differ
    # where the prediction is a perturbed copy of the target the two always agree
    assert "thresholded vs perturbed copy" not in excused
    assert "real ground truth vs perturbed copy" not in excused


def test_identical_inputs_agree_with_betti_matching_3d(bm3d):
    rng = np.random.default_rng(7)
    for shape in [(16, 24), (8, 10, 12)]:
        p = rng.random(shape)
        ours = our_counts(p, p.copy())
        assert ours == peer_counts(bm3d, p, p.copy())
        assert all(u == 0 and v == 0 for _, u, v in ours)


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("shape", [(9, 14), (5, 7, 11)])
def test_error_invariant_under_flips_and_transposes(shape, connectivity):
    rng = np.random.default_rng(11)
    for trial in range(6):
        p = rng.random(shape) if trial % 2 else smooth(rng, shape, 1.0)
        g = (rng.random(shape) > 0.6) * 1.0 if trial % 3 else (smooth(rng, shape, 1.3) > 0.5) * 1.0
        base = betti_matching(p, g, connectivity=connectivity)
        variants = [(np.flip(p, ax), np.flip(g, ax)) for ax in range(len(shape))]
        variants.append((p.T, g.T))  # reverses all axes: a transpose of a non-square input
        for a, b in [(0, 1)] + ([(1, 2), (0, 2)] if len(shape) == 3 else []):
            variants.append((np.swapaxes(p, a, b), np.swapaxes(g, a, b)))
        for vp, vg in variants:
            r = betti_matching(np.ascontiguousarray(vp), np.ascontiguousarray(vg), connectivity=connectivity)
            assert r.errors == base.errors
            assert [m.num_matched for m in r] == [m.num_matched for m in base]
