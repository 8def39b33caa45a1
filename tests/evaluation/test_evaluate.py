"""Folder evaluator: exact values on analytic cases, nnU-Net's own metrics as oracle, errors, outputs."""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from _eval_folders import SHAPE, analytic_cases, ring, write_nii, write_png

from nnunet_topo.evaluation import ERROR_CODES, evaluate_folder
from nnunet_topo.evaluation.cli import main as cli_main

EXPECTED = {  # case: (Betti0_error, Betti1_error, BettiMatching0_error, BettiMatching1_error, Dice)
    "ring": (0, 0, 0, 0, 1.0),
    "broken_ring": (0, 1, 0, 1, 2 * 126 / (132 + 126)),  # ring 12x16 - 6x10 = 132 px; cut 6
    "ring_island": (1, 0, 1, 0, 2 * 132 / (132 + 136)),  # island 2x2
    "two_blobs": (1, 0, 1, 0, 2 * 48 / (48 + 76)),
    "shifted_blob": (0, 0, 0, 0, 2 * 36 / 96),
}


def _snapshot(folder: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in folder.iterdir()}


def test_summary_exact_values(png_dataset, tmp_path):
    before = (_snapshot(png_dataset["gt"]), _snapshot(png_dataset["pred"]))
    out = tmp_path / "out" / "summary.json"
    summary = evaluate_folder(png_dataset["gt"], png_dataset["pred"], png_dataset["dj"], output_file=out,
                              progress=False)
    assert (_snapshot(png_dataset["gt"]), _snapshot(png_dataset["pred"])) == before
    data = json.loads(out.read_text())
    assert set(data) >= {"metric_per_case", "mean", "foreground_mean", "connectivity"}
    assert data["connectivity"] == "full"
    by_case = {Path(r["reference_file"]).name[:-4]: r["metrics"]["1"] for r in data["metric_per_case"]}
    assert set(by_case) == set(EXPECTED)
    for case, (b0, b1, m0, m1, d) in EXPECTED.items():
        m = by_case[case]
        for key in ("Dice", "IoU", "FP", "TP", "FN", "TN", "n_pred", "n_ref", "clDice", "Betti0_error",
                    "Betti1_error", "BettiMatching_error"):
            assert key in m, key
        assert "Betti2_error" not in m
        assert (m["Betti0_error"], m["Betti1_error"]) == (b0, b1), case
        assert (m["BettiMatching0_error"], m["BettiMatching1_error"]) == (m0, m1), case
        assert m["BettiMatching_error"] == m0 + m1
        assert m["Dice"] == pytest.approx(d), case
    assert data["mean"]["1"]["BettiMatching_error"] == pytest.approx(3 / 5)
    assert data["foreground_mean"]["Betti1_error"] == pytest.approx(1 / 5)
    from nnunetv2.evaluation.evaluate_predictions import load_summary_json

    loaded = load_summary_json(str(out))  # nnU-Net's own loader reads the file
    assert loaded["mean"][1]["Dice"] == pytest.approx(data["mean"]["1"]["Dice"])
    rows = list(csv.DictReader((tmp_path / "out" / "summary_per_case.csv").open()))
    assert len(rows) == 5 and {r["connectivity"] for r in rows} == {"full"}
    assert {r["case"]: float(r["BettiMatching_error"]) for r in rows}["broken_ring"] == 1.0


def test_nnunet_keys_equal_nnunet_evaluator(tmp_path):
    """Labels + ignore label: nnU-Net's own compute_metrics is the oracle for its keys."""
    from nnunetv2.evaluation.evaluate_predictions import compute_metrics
    from nnunetv2.imageio.natural_image_reader_writer import NaturalImage2DIO

    rng = np.random.default_rng(0)
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for i in range(3):
        g = rng.integers(0, 3, SHAPE).astype(np.uint8)
        g[:3] = 3  # ignore label
        p = rng.integers(0, 3, SHAPE).astype(np.uint8)
        write_png(gt_dir / f"c{i}.png", g)
        write_png(pred_dir / f"c{i}.png", p)
    dj = {"labels": {"background": 0, "a": 1, "b": 2, "ignore": 3}, "file_ending": ".png"}
    summary = evaluate_folder(gt_dir, pred_dir, dj, output_file=None, progress=False)
    for r in summary["metric_per_case"]:
        ref = compute_metrics(r["reference_file"], r["prediction_file"], NaturalImage2DIO(), [1, 2], 3)
        for lab in (1, 2):
            for key, value in ref["metrics"][lab].items():
                assert r["metrics"][str(lab)][key] == pytest.approx(float(value)), (key, lab)


def test_regions_match_nnunet(tmp_path):
    from nnunetv2.evaluation.evaluate_predictions import compute_metrics
    from nnunetv2.imageio.natural_image_reader_writer import NaturalImage2DIO

    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    g = np.zeros(SHAPE, np.uint8)
    g[3:15, 4:20] = 1
    g[6:12, 8:16] = 2  # region (1, 2) is the filled square, region (2,) the core
    p = np.roll(g, 1, axis=1)
    write_png(gt_dir / "c.png", g)
    write_png(pred_dir / "c.png", p)
    dj = {"labels": {"background": 0, "whole": [1, 2], "core": 2}, "regions_class_order": [1, 2],
          "file_ending": ".png"}
    summary = evaluate_folder(gt_dir, pred_dir, dj, output_file=None, progress=False)
    m = summary["metric_per_case"][0]["metrics"]
    assert set(m) == {"(1, 2)", "(2,)"}
    ref = compute_metrics(str(gt_dir / "c.png"), str(pred_dir / "c.png"), NaturalImage2DIO(), [(1, 2), (2,)])
    for region in ((1, 2), (2,)):
        assert m[str(region)]["Dice"] == pytest.approx(ref["metrics"][region]["Dice"])
        assert m[str(region)]["Betti0_error"] == 0 and m[str(region)]["BettiMatching_error"] == 0


def test_ignore_region_hides_topological_error(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    g = ring()
    g[17:20, 21:27] = 2  # ignored area
    p = ring()
    p[18, 23:25] = 1  # a spurious island entirely inside the ignored area
    write_png(gt_dir / "c.png", g)
    write_png(pred_dir / "c.png", p)
    dj = {"labels": {"background": 0, "ring": 1, "ignore": 2}, "file_ending": ".png"}
    m = evaluate_folder(gt_dir, pred_dir, dj, output_file=None, progress=False)["metric_per_case"][0]["metrics"]["1"]
    assert m["Dice"] == 1.0 and m["FP"] == 0
    assert m["Betti0_error"] == 0 and m["BettiMatching_error"] == 0


def test_error_maps_png(png_dataset, tmp_path):
    from PIL import Image

    maps = tmp_path / "maps"
    evaluate_folder(png_dataset["gt"], png_dataset["pred"], png_dataset["dj"], output_file=None,
                    error_maps_dir=maps, progress=False)
    assert sorted(p.name for p in maps.iterdir()) == sorted([f"{c}.png" for c in analytic_cases()]
                                                            + ["error_map_legend.json"])
    legend = json.loads((maps / "error_map_legend.json").read_text())
    assert legend["connectivity"] == "full" and legend["codes"]["4"] == "missing hole/loop"
    cases = analytic_cases()
    emaps = {c: np.asarray(Image.open(maps / f"{c}.png")) for c in cases}
    assert all(e.shape == SHAPE for e in emaps.values())
    assert not emaps["ring"].any() and not emaps["shifted_blob"].any()
    hole = np.zeros(SHAPE, bool)
    hole[7:13, 8:18] = True
    np.testing.assert_array_equal(emaps["broken_ring"] == 4, hole)  # the ground truth's hole, missing loop
    assert set(np.unique(emaps["broken_ring"])) == {0, 4}
    island = np.zeros(SHAPE, bool)
    island[17:19, 23:25] = True
    np.testing.assert_array_equal(emaps["ring_island"] == 1, island)  # the spurious component itself
    extra = np.zeros(SHAPE, bool)
    extra[14:18, 18:25] = True
    np.testing.assert_array_equal(emaps["two_blobs"] == 1, extra)  # the blob with no counterpart
    assert ERROR_CODES[4] == "missing hole/loop"


def test_nifti_3d_per_slice_and_geometry(tmp_path):
    import SimpleITK as sitk

    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    g = np.stack([ring()] * 4 + [np.zeros(SHAPE, np.uint8)])
    p = g.copy()
    p[1, 9:11, 5:8] = 0  # slice 1: broken ring
    p[4, 2:4, 2:4] = 1  # slice 4: spurious blob where the ground truth is empty
    write_nii(gt_dir / "v.nii.gz", g)
    write_nii(pred_dir / "v.nii.gz", p)
    dj = {"labels": {"background": 0, "myo": 1}, "file_ending": ".nii.gz",
          "topology": {"connectivity": "full", "labels": {"myo": {"betti": [1, 1], "match": True, "per_slice": True}}}}
    maps = tmp_path / "maps"
    s = evaluate_folder(gt_dir, pred_dir, dj, output_file=None, error_maps_dir=maps, progress=False)
    m = s["metric_per_case"][0]["metrics"]["1"]
    assert (m["Betti0_error"], m["Betti1_error"]) == (1, 1)
    assert (m["BettiMatching0_error"], m["BettiMatching1_error"]) == (1, 1)
    assert "Betti2_error" not in m
    assert m["SliceTopology_gt"] == pytest.approx(3 / 5)
    assert m["SliceTopology_prior"] == pytest.approx(3 / 4)
    img = sitk.ReadImage(str(maps / "v.nii.gz"))
    ref = sitk.ReadImage(str(gt_dir / "v.nii.gz"))
    assert img.GetSize() == ref.GetSize() and img.GetSpacing() == ref.GetSpacing()
    assert img.GetOrigin() == ref.GetOrigin()
    e = sitk.GetArrayFromImage(img)
    assert set(np.unique(e[1])) == {0, 4} and set(np.unique(e[4])) == {0, 1}
    assert not e[[0, 2, 3]].any()
    # whole-volume 3D evaluation: Betti2 appears
    dj3 = {"labels": {"background": 0, "myo": 1}, "file_ending": ".nii.gz"}
    m3 = evaluate_folder(gt_dir, pred_dir, dj3, output_file=None, progress=False)["metric_per_case"][0]["metrics"]["1"]
    assert "Betti2_error" in m3 and "BettiMatching2_error" in m3
    # a 2D prior on a whole-volume evaluation is refused, naming the fix
    dj_bad = {**dj, "topology": {"labels": {"myo": {"betti": [1, 1]}}}}
    with pytest.raises(ValueError, match=r"prior \(1, 1\).*3D.*per_slice"):
        evaluate_folder(gt_dir, pred_dir, dj_bad, output_file=None, progress=False)
    # --per-slice without a topology block: the same slice-wise errors, no prior
    s2 = evaluate_folder(gt_dir, pred_dir, dj3, output_file=None, per_slice=True, progress=False)
    m2 = s2["metric_per_case"][0]["metrics"]["1"]
    assert s2["per_slice"] is True and "SliceTopology_prior" not in m2 and "Betti2_error" not in m2
    assert (m2["Betti0_error"], m2["Betti1_error"], m2["BettiMatching_error"]) == (1, 1, 2)


def test_parallel_equals_serial(png_dataset):
    a = evaluate_folder(png_dataset["gt"], png_dataset["pred"], png_dataset["dj"], output_file=None, progress=False)
    b = evaluate_folder(png_dataset["gt"], png_dataset["pred"], png_dataset["dj"], output_file=None,
                        num_processes=2, progress=False)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_folder_errors(png_dataset, tmp_path):
    gt, pred, dj = png_dataset["gt"], png_dataset["pred"], png_dataset["dj"]
    os.rename(pred / "ring.png", tmp_path / "ring.png")
    with pytest.raises(ValueError, match=r"no prediction.*ring"):
        evaluate_folder(gt, pred, dj, output_file=None, progress=False)
    os.rename(tmp_path / "ring.png", pred / "ring.png")
    write_png(pred / "stray.png", ring())
    with pytest.raises(ValueError, match=r"no ground truth.*stray"):
        evaluate_folder(gt, pred, dj, output_file=None, progress=False)
    (pred / "stray.png").unlink()
    write_png(pred / "ring.png", np.zeros((20, 26), np.uint8))
    write_png(pred / "two_blobs.png", np.zeros((21, 27), np.uint8))
    maps = tmp_path / "maps"
    with pytest.raises(ValueError, match=r"2 of 5 case\(s\).*case 'ring'.*shape.*case 'two_blobs'.*shape"):
        evaluate_folder(gt, pred, dj, output_file=tmp_path / "s.json", error_maps_dir=maps, progress=False)
    assert not (tmp_path / "s.json").exists() and not maps.exists()  # nothing half-written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".maps")]
    write_png(pred / "two_blobs.png", analytic_cases()["two_blobs"][1])
    write_png(pred / "ring.png", ring() * 5)
    with pytest.raises(ValueError, match=r"case 'ring'.*\[5\]"):
        evaluate_folder(gt, pred, dj, output_file=None, progress=False)
    write_png(pred / "ring.png", ring())
    with pytest.raises(ValueError, match="never writes into"):
        evaluate_folder(gt, pred, dj, output_file=pred / "summary.json", progress=False)
    with pytest.raises(ValueError, match="never writes into"):
        evaluate_folder(gt, pred, dj, output_file=None, error_maps_dir=gt / "maps", progress=False)
    with pytest.raises(ValueError, match="connectivity"):
        evaluate_folder(gt, pred, dj, output_file=None, connectivity="8", progress=False)


def _ring_volume_folders(tmp_path, pred_spacing=(1.25, 1.25, 8.0)):
    """gt/ and pred/ holding one 3-slice ring volume ``v.nii.gz`` each; returns them and dataset.json."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    v = np.stack([ring()] * 3)
    write_nii(gt_dir / "v.nii.gz", v)
    write_nii(pred_dir / "v.nii.gz", v, spacing=pred_spacing)
    return gt_dir, pred_dir, {"labels": {"background": 0, "myo": 1}, "file_ending": ".nii.gz"}


def test_spacing_mismatch(tmp_path):
    gt_dir, pred_dir, dj = _ring_volume_folders(tmp_path, pred_spacing=(1.25, 1.25, 5.0))
    with pytest.raises(ValueError, match=r"case 'v'.*spacing"):
        evaluate_folder(gt_dir, pred_dir, dj, output_file=None, progress=False)


def test_truncated_nifti_prediction_is_refused(tmp_path):
    """SimpleITK reads a truncated .nii.gz as zeros; the evaluator must refuse it, naming the file."""
    import gzip

    import SimpleITK as sitk

    gt_dir, pred_dir, dj = _ring_volume_folders(tmp_path)
    whole = gzip.compress(gzip.decompress((gt_dir / "v.nii.gz").read_bytes()))
    raw = gzip.decompress(whole)
    # a cut gzip stream, then a whole stream whose payload is cut: both read as images by SimpleITK
    (pred_dir / "v.nii.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"v\.nii\.gz.*truncated or corrupt NIfTI.*EOFError"):
        evaluate_folder(gt_dir, pred_dir, dj, output_file=tmp_path / "s.json", progress=False)
    (pred_dir / "v.nii.gz").write_bytes(gzip.compress(raw[:-100]))
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(pred_dir / "v.nii.gz"))).shape == (3, *ring().shape)  # read silently
    with pytest.raises(ValueError, match=rf"holds {len(raw) - 100} bytes, its header promises {len(raw)}"):
        evaluate_folder(gt_dir, pred_dir, dj, output_file=tmp_path / "s.json", progress=False)
    assert not (tmp_path / "s.json").exists()
    (pred_dir / "v.nii.gz").write_bytes(whole)
    m = evaluate_folder(gt_dir, pred_dir, dj, output_file=None, progress=False)["metric_per_case"][0]["metrics"]["1"]
    assert m["Dice"] == 1.0


def test_cli_and_report(png_dataset, tmp_path, capsys):
    out = tmp_path / "o" / "summary.json"
    report = tmp_path / "o" / "report.html"
    rc = cli_main([str(png_dataset["gt"]), str(png_dataset["pred"]), "-djfile", str(png_dataset["dj"]),
                   "-o", str(out), "--report", str(report), "--no-progress", "--worst", "2"])
    assert rc == 0 and out.is_file()
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 1 + 2  # distributions + 2 worst cases
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "broken_ring" in page and "BettiMatching_error" in page
    rc = cli_main([str(png_dataset["gt"]), str(png_dataset["pred"]), "-djfile", str(tmp_path / "nope.json"),
                   "-o", str(out), "--no-progress"])
    assert rc == 2 and "nope.json" in capsys.readouterr().err


def _scipy_betti_2d(mask: np.ndarray) -> tuple[int, int]:
    from scipy import ndimage

    b0 = ndimage.label(mask, structure=np.ones((3, 3)))[1]  # foreground 8-connected
    b1 = ndimage.label(np.pad(~mask, 1, constant_values=True))[1] - 1  # background 4-connected
    return b0, b1


def test_label_metrics_betti_against_scipy_and_euler_against_skimage():
    from scipy import ndimage
    from skimage.measure import euler_number

    from nnunet_topo.evaluation import label_metrics

    rng = np.random.default_rng(5)
    for _ in range(12):
        g = ndimage.binary_opening(rng.random((31, 23)) > 0.45)
        p = ndimage.binary_opening(rng.random((31, 23)) > 0.45)
        m, _ = label_metrics(p, g)
        bp, bg = _scipy_betti_2d(p), _scipy_betti_2d(g)
        assert (m["Betti0_error"], m["Betti1_error"]) == (abs(bp[0] - bg[0]), abs(bp[1] - bg[1]))
        assert m["Euler_error"] == abs(euler_number(p, connectivity=2) - euler_number(g, connectivity=2))
        assert m["BettiMatching0_error"] >= m["Betti0_error"] and m["BettiMatching1_error"] >= m["Betti1_error"]


def test_label_metrics_bad_input():
    from nnunet_topo.evaluation import label_metrics

    m = np.zeros((4, 5), bool)
    with pytest.raises(ValueError, match="same shape"):
        label_metrics(m, m[:, :4])
    with pytest.raises(ValueError, match="binary mask"):
        label_metrics(m.astype(np.uint8) + 2, m)
    with pytest.raises(ValueError, match="ignore"):
        label_metrics(m, m, np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="connectivity"):
        label_metrics(m, m, connectivity="4")


def test_label_metrics_invariant_to_empty_margin():
    """Metrics and error map of masks placed in a larger empty canvas equal those of the tight masks
    (the evaluator matches on the bounding box; this checks it changes nothing)."""
    from scipy import ndimage

    from nnunet_topo.evaluation import label_metrics

    rng = np.random.default_rng(11)
    for _ in range(6):
        g = ndimage.binary_opening(rng.random((19, 26)) > 0.4)
        p = ndimage.binary_opening(rng.random((19, 26)) > 0.4)
        m_tight, e_tight = label_metrics(p, g, want_map=True)
        big_p, big_g = np.zeros((40, 51), bool), np.zeros((40, 51), bool)
        big_p[13:32, 9:35], big_g[13:32, 9:35] = p, g
        m_big, e_big = label_metrics(big_p, big_g, want_map=True)
        for k in m_tight:
            if k != "TN":
                assert m_big[k] == m_tight[k] or (math.isnan(m_big[k]) and math.isnan(m_tight[k])), k
        np.testing.assert_array_equal(e_big[13:32, 9:35], e_tight)
        assert not e_big.sum() - e_tight.sum()


def test_error_map_3d_cavity_and_loop():
    from nnunet_topo.evaluation import error_map

    gt = np.zeros((7, 8, 9), bool)
    gt[1:6, 1:7, 1:8] = True
    gt[3, 3:5, 3:6] = False  # closed cavity
    pred = gt.copy()
    pred[3, 3:5, 3:6] = True  # filled
    e = error_map(pred, gt)
    cavity = np.zeros_like(gt)
    cavity[3, 3:5, 3:6] = True
    np.testing.assert_array_equal(e == 6, cavity)  # missing cavity, drawn where the cavity is
    assert set(np.unique(e)) == {0, 6}
    e = error_map(gt, pred)
    np.testing.assert_array_equal(e == 5, cavity)  # spurious cavity

    ring3 = np.zeros((5, 9, 10), bool)
    ring3[1:4, 2:7, 2:8] = True
    ring3[1:4, 4:5, 4:6] = False  # a tunnel through all three slices: a 3D loop (solid torus)
    broken = ring3.copy()
    broken[1:4, 2:4, 4:6] = False  # cut the torus: no loop
    e = error_map(broken, ring3)
    np.testing.assert_array_equal(e == 4, ring3)  # the ground-truth component that carries the loop
    assert set(np.unique(e)) == {0, 4}


def test_report_with_probabilities(png_dataset, tmp_path):
    from scipy import ndimage

    pred = png_dataset["pred"]
    from PIL import Image

    p = np.asarray(Image.open(pred / "broken_ring.png"), dtype=np.float32)
    prob = np.clip(ndimage.gaussian_filter(p, 1.0), 0, 1)
    np.savez_compressed(pred / "broken_ring.npz", probabilities=np.stack([1 - prob, prob])[:, None])
    report = tmp_path / "r.html"
    evaluate_folder(png_dataset["gt"], pred, png_dataset["dj"], output_file=None, report_file=report,
                    worst_cases=5, progress=False)
    page = report.read_text()
    assert page.count("persistence diagram of broken_ring.npz, channel 1") == 1  # only that case has one
    assert page.count("data:image/png;base64,") == 1 + 5
    assert "broken_ring" in page and "missing hole/loop" in page
