"""Tests of the repair benchmark: its corpus really damages topology, its runs and JSON are sound."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.measure import euler_number

from nnunet_topo.benchmarking import repair
from nnunet_topo.benchmarking._repair_corpus import (
    betti_numbers_scipy,
    build_corpus,
    starting_logits,
)


@pytest.fixture(scope="module")
def corpus(shared_data):
    # 12 cases: 4 DRIVE, 4 CHASE_DB1, 4 MyoPS (break, puncture, both, break)
    return build_corpus(shared_data, 12, seed=3)


def _holes(mask: np.ndarray) -> list[np.ndarray]:
    """Bounded 4-connected background components of a 2D mask (pixel sets)."""
    lab, n = ndi.label(~mask.astype(bool), structure=ndi.generate_binary_structure(2, 1))
    border = set(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))) - {0}
    return [lab == k for k in range(1, n + 1) if k not in border]


def test_betti_numbers_scipy_analytic_and_euler_oracle():
    ring = np.zeros((11, 14), np.uint8)
    ring[2:9, 3:11] = 1
    ring[4:7, 5:9] = 0
    assert betti_numbers_scipy(ring) == (1, 1)
    diag = np.eye(7, 9, dtype=np.uint8)  # one 8-connected diagonal line
    assert betti_numbers_scipy(diag) == (1, 0)
    open_ring = ring.copy()
    open_ring[4:7, 3:5] = 0  # cut through the left wall
    assert betti_numbers_scipy(open_ring) == (1, 0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = ndi.gaussian_filter(rng.standard_normal((23, 31)), 1.2) > 0.1
        b0, b1 = betti_numbers_scipy(m)
        assert b0 - b1 == euler_number(m, connectivity=2)  # 8-connected foreground


def test_corpus_is_deterministic_and_balanced(shared_data, corpus):
    again = build_corpus(shared_data, 12, seed=3)
    assert [c.name for c in again] == [c.name for c in corpus]
    for a, b in zip(again, corpus):
        np.testing.assert_array_equal(a.perturbed, b.perturbed)
    assert [c.source for c in corpus] == ["DRIVE", "CHASE_DB1", "MyoPS2020"] * 4
    assert {c.perturbations for c in corpus if c.source == "MyoPS2020"} == {
        ("break",), ("puncture",), ("break", "puncture")}
    for c in corpus:
        expected = (128, 144) if c.source != "MyoPS2020" else (96, 112)
        assert c.target.shape == c.perturbed.shape == expected
        assert c.target.dtype == c.perturbed.dtype == np.uint8


def test_corpus_changes_topology(corpus):
    from nnunet_topo.topology import betti_matching

    for c in corpus:
        assert betti_numbers_scipy(c.target) == c.betti_target
        assert betti_numbers_scipy(c.perturbed) == c.betti_perturbed
        if c.perturbations == ("break", "puncture"):
            # same Betti numbers (1, 1), but the only hole is new: it shares no pixel with the ring's hole
            assert c.betti_perturbed == c.betti_target == (1, 1)
            (new_hole,) = _holes(c.perturbed)
            (old_hole,) = _holes(c.target)
            assert not (new_hole & old_hole).any()
        else:
            assert c.betti_perturbed != c.betti_target
        if "gap" in c.perturbations or "blob" in c.perturbations:
            n_blobs = c.perturbations.count("blob")
            added = c.perturbed.astype(bool) & ~c.target.astype(bool)
            assert ndi.label(added, structure=np.ones((3, 3)))[1] == n_blobs
        err = betti_matching(c.perturbed.astype(float), c.target.astype(float), connectivity="full").error
        assert err >= max(1, sum(abs(a - b) for a, b in zip(c.betti_perturbed, c.betti_target)))


def test_starting_logits_binarise_to_the_perturbed_mask(corpus):
    for i, c in enumerate(corpus[:4]):
        z = starting_logits(c.perturbed, seed=i)
        assert z.dtype == np.float32 and z.shape == c.perturbed.shape
        np.testing.assert_array_equal(z >= 0, c.perturbed.astype(bool))
        assert np.all(np.abs(z) >= 1.5 - 1e-6)  # amplitude 3, noise clipped to half of it


def test_oracle_repairs_and_fidelity_alone_does_not(corpus):
    case = next(c for c in corpus if c.perturbations == ("puncture",))
    rec = repair.run_case(case, "mse", steps=100, lr=0.1, fidelity=0.01, amplitude=3.0, seed=0)
    assert rec["start_error"] >= 1
    assert rec["repaired_at"] is not None and 1 <= rec["repaired_at"] <= 100
    assert rec["final_error"] == 0
    assert rec["final_dice"] > rec["start_dice"]
    # the oracle's gradient touches every pixel
    assert rec["grad_nonzero_pixels"] == case.target.size
    assert rec["grad_nonzero_on_fix"] == rec["fix_pixels"] >= (case.perturbed != case.target).sum()
    assert rec["grad_nonzero_pixels_noise_free"] == case.target.size


def test_quick_run_writes_valid_json(shared_data, tmp_path):
    out = tmp_path / "repair.json"
    png = tmp_path / "repair.png"
    rc = repair.main(["--quick", "--cases", "3", "--steps", "40", "--losses", "mse,cldice", "--no-cost",
                      "--json", str(out), "--plot", str(png), "--data-root", str(shared_data)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["benchmark"] == "repair"
    assert set(data["summary"]) == {"mse", "cldice"}
    assert len(data["corpus"]) == 3
    for name, s in data["summary"].items():
        assert s["cases"] == 3 and 0 <= s["repaired"] <= 3
        curve = s["repaired_fraction_by_step"]
        assert len(curve) == 41 and curve[0] == 0 and curve[-1] == s["fraction_repaired"]
        assert all(a <= b for a, b in zip(curve, curve[1:]))
        assert len(data["records"][name]) == 3
    assert data["summary"]["mse"]["repaired"] == 3
    assert data["cost"] is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repair.json", "repair.png"]  # no temp files left


def test_cli_rejects_unknown_loss_and_bad_counts(capsys):
    assert repair.main(["--losses", "nope", "--no-cost"]) == 2
    assert "unknown loss" in capsys.readouterr().err
    assert repair.main(["--cases", "0", "--no-cost"]) == 2
    assert "--cases" in capsys.readouterr().err


def test_missing_data_root_is_a_clear_error(tmp_path, capsys):
    assert repair.main(["--cases", "1", "--losses", "mse", "--no-cost", "--data-root", str(tmp_path)]) == 2
    assert "DRIVE" in capsys.readouterr().err


@pytest.mark.slow
def test_cost_on_planned_drive_batch(shared_data):
    from nnunet_topo.benchmarking._repair_cost import plan_drive_2d, time_costs

    plans = plan_drive_2d(shared_data)
    cfg = plans["configurations"]["2d"]
    assert cfg["batch_size"] >= 2 and len(cfg["patch_size"]) == 2
    assert all(p >= 512 and p % 32 == 0 for p in cfg["patch_size"])  # DRIVE is 584 x 565
    cost = time_costs(shared_data, plans, {"mse": lambda: repair.build_loss("mse", (1, 0))}, repeats=1,
                      patch_override=(256, 256))
    assert cost["planned_patch_size"] == cfg["patch_size"]
    assert cost["baseline_iteration"]["median_s"] > 0
    for name in ("dice_ce", "mse"):
        for kind in ("network", "near_target"):
            row = cost["losses"][name][kind]
            assert row["median_s"] > 0
            assert row["fraction_of_baseline_iteration"] == pytest.approx(
                row["median_s"] / cost["baseline_iteration"]["median_s"])
