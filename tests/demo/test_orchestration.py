"""Pieces of the demo / bench-train orchestration that run without training a network."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from nnunet_topo.benchmarking.train import BUDGETS, _aggregate, _block_max, reduce_png_dataset
from nnunet_topo.demo import pipeline
from nnunet_topo.demo.budget import BUDGET_ENV, budget_from_env
from nnunet_topo.demo.cli import build_parser, main as demo_main
from nnunet_topo.demo.data import write_demo_dataset
from nnunet_topo.demo.experiment import epoch_seconds
from nnunet_topo.demo.report import comparison_row, format_table, write_comparison_report

DEFAULTS = {"epochs": 8, "iterations": 40, "val_iterations": 4, "seed": 0}


def test_budget_from_env(monkeypatch):
    for var in BUDGET_ENV.values():
        monkeypatch.delenv(var, raising=False)
    assert budget_from_env(DEFAULTS) == DEFAULTS
    monkeypatch.setenv("NNUNET_TOPO_EPOCHS", "3")
    monkeypatch.setenv("NNUNET_TOPO_SEED", "0")
    assert budget_from_env(DEFAULTS) == {**DEFAULTS, "epochs": 3}
    monkeypatch.setenv("NNUNET_TOPO_ITERS", "many")
    with pytest.raises(ValueError, match="NNUNET_TOPO_ITERS: expected an integer, got 'many'"):
        budget_from_env(DEFAULTS)
    monkeypatch.setenv("NNUNET_TOPO_ITERS", "0")
    with pytest.raises(ValueError, match="NNUNET_TOPO_ITERS: expected >= 1, got 0"):
        budget_from_env(DEFAULTS)


def test_resolve_folders(tmp_path, monkeypatch):
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        monkeypatch.delenv(name, raising=False)
    f = pipeline.resolve_folders(tmp_path / "w")
    assert not f.from_environment and f.raw == (tmp_path / "w" / "nnUNet_raw").resolve() and f.results.is_dir()
    monkeypatch.setenv("nnUNet_raw", str(tmp_path / "r"))
    with pytest.raises(ValueError, match=r"found only \['nnUNet_raw'\]"):
        pipeline.resolve_folders(tmp_path / "w")
    assert not pipeline.resolve_folders(tmp_path / "w", use_environment=False).from_environment
    monkeypatch.setenv("nnUNet_preprocessed", str(tmp_path / "p"))
    monkeypatch.setenv("nnUNet_results", str(tmp_path / "s"))
    f = pipeline.resolve_folders(tmp_path / "w")
    assert f.from_environment and f.preprocessed == tmp_path / "p" and (tmp_path / "s").is_dir()
    assert "from your environment" in f.describe()


def test_env_carries_budget_and_folders(tmp_path):
    f = pipeline.resolve_folders(tmp_path, use_environment=False)
    env = pipeline.nnunet_env(f, budget={"epochs": 2, "iterations": 3, "seed": 5})
    assert env["nnUNet_results"] == str(f.results)
    assert env["NNUNET_TOPO_EPOCHS"] == "2" and env["NNUNET_TOPO_ITERS"] == "3" and env["NNUNET_TOPO_SEED"] == "5"
    assert (Path(env["nnUNet_extTrainer"]) / "demo_trainers.py").is_file()
    assert env["nnUNet_n_proc_DA"] == "0" and env["nnUNet_compile"] == "f"


def test_dataset_name_and_split(tmp_path):
    f = pipeline.resolve_folders(tmp_path, use_environment=False)
    with pytest.raises(ValueError, match=r"exactly one Dataset990_\* folder, found \[\]"):
        pipeline.dataset_name(f, 990)
    write_demo_dataset(f.raw, dataset_id=990, num_train=5, num_test=1)
    assert pipeline.dataset_name(f, 990) == "Dataset990_TopoDemo"
    path = pipeline.write_single_split(f.preprocessed / "Dataset990_TopoDemo", ["a", "b"], ["c"])
    assert json.loads(path.read_text()) == [{"train": ["a", "b"], "val": ["c"]}]
    with pytest.raises(ValueError, match=r"both train and val: \['b'\]"):
        pipeline.write_single_split(path.parent, ["a", "b"], ["b"])
    with pytest.raises(ValueError, match="non-empty"):
        pipeline.write_single_split(path.parent, [], ["b"])


def test_progress_parsing():
    stat = pipeline._progress_stat
    assert stat("2026-11-24 22:21:49.990727: train_loss -0.3889") == ("train", "-0.3889")
    assert stat("2026-11-24 22:21:49.9: Pseudo dice [np.float32(0.8939), np.float32(0.9374)]") == ("dice", "0.89/0.94")
    assert stat("2026-11-24 22:21:49.9: Epoch time: 219.1 s") == ("s/epoch", "219.1")
    assert stat("Epoch 3") is None


def test_epoch_seconds_reads_the_newest_log(tmp_path):
    (tmp_path / "training_log_2026_1_1_00_00_00.txt").write_text("Epoch time: 9.0 s\n")
    (tmp_path / "training_log_2026_1_2_00_00_00.txt").write_text("x: Epoch time: 1.5 s\ny\nz: Epoch time: 2.25 s\n")
    assert epoch_seconds(tmp_path) == [1.5, 2.25]
    assert epoch_seconds(tmp_path / "missing") == []


def _summary(dice: float, prior: float) -> dict:
    return {"foreground_mean": {"Dice": dice, "clDice": 0.5, "Betti0_error": 1.0, "Betti1_error": 2.0,
                                "BettiMatching_error": 3.0},
            "mean": {"1": {"Dice": dice, "Prior_match": prior}, "2": {"Dice": 1.0, "Prior_match": 1.0},
                     "3": {"Dice": 0.0}},
            "labels": {"1": {"name": "myocardium"}, "2": {"name": "blood_pool"}, "3": {"name": "vessel"}}}


def test_comparison_row_and_table(tmp_path):
    row = comparison_row("A", _summary(0.75, 0.5), train_seconds=12.0)
    assert row["Dice"] == 0.75 and row["prior_ok"] == 0.75 and row["train_seconds"] == 12.0
    assert row["per_label"]["myocardium"] == {"Dice": 0.75, "Prior_match": 0.5}
    nan_row = comparison_row("B", {**_summary(math.nan, 0.0), "mean": {"3": {"Dice": 0.0}}})
    assert math.isnan(nan_row["prior_ok"])
    text = format_table([row, nan_row])
    lines = text.splitlines()
    assert lines[0].split() == ["trainer", "Dice", "clDice", "β0", "err", "β1", "err", "BM", "err", "prior", "ok",
                                "train", "s"]
    assert lines[2].split()[:3] == ["A", "0.750", "0.500"] and "75%" in lines[2]
    assert lines[3].split()[1] == "–"
    md = format_table([row], markdown=True).splitlines()
    assert md[0].startswith("| trainer | Dice |") and md[2].startswith("| A | 0.750 |")
    page = write_comparison_report(tmp_path / "r.html", title="t<>", rows=[row], notes=["n&"], links={"x": "a/b.html"})
    html = page.read_text()
    assert "t&lt;&gt;" in html and "n&amp;" in html and "<td>0.750</td>" in html and "href='a/b.html'" in html


def test_aggregate_mean_and_spread():
    runs = [{"trainer": "A", "seed": s, "Dice": d, "prior_ok": math.nan} for s, d in ((0, 0.5), (1, 0.7), (2, 0.9))]
    (row,) = _aggregate(runs, ["A"])
    assert row["seeds"] == [0, 1, 2]
    assert row["Dice"] == pytest.approx(0.7) and row["Dice_std"] == pytest.approx(0.2)
    assert math.isnan(row["prior_ok"]) and math.isnan(row["prior_ok_std"])


def test_block_max_keeps_8_connected_curves_connected():
    rng = np.random.default_rng(0)
    for _ in range(20):
        # a random 8-connected walk, 1 px wide, on a non-square canvas
        m = np.zeros((61, 83), bool)
        p = np.array([30, 40])
        for _ in range(300):
            p = np.clip(p + rng.integers(-1, 2, 2), 0, [60, 82])
            m[tuple(p)] = True
        for f in (2, 3, 4):
            small = _block_max(m.astype(np.uint8), f).astype(bool)
            # the walk's pixels that fall inside the cropped area still form one 8-connected piece
            h, w = (61 // f) * f, (83 // f) * f
            if m[:h, :w].sum() == m.sum():
                assert ndimage.label(small, structure=np.ones((3, 3)))[1] == 1
            assert small.shape == (61 // f, 83 // f)


def test_reduce_png_dataset(tmp_path):
    src = write_demo_dataset(tmp_path / "raw", dataset_id=7, num_train=5, num_test=1, shape=(64, 96))
    dst = reduce_png_dataset(src, tmp_path / "Dataset007_small", 2)
    img = np.asarray(Image.open(dst / "imagesTr" / "demo_000_0000.png"))
    lab = np.asarray(Image.open(dst / "labelsTr" / "demo_000.png"))
    full = np.asarray(Image.open(src / "imagesTr" / "demo_000_0000.png")).astype(float)
    assert img.shape == lab.shape == (32, 48)
    assert img[3, 5] == int(full[6:8, 10:12].mean() + 0.5)
    assert lab.max() == 3 and "divided by 2" in json.loads((dst / "dataset.json").read_text())["description"]
    with pytest.raises(ValueError, match="factor >= 1"):
        reduce_png_dataset(src, tmp_path / "x", 0)


def test_budgets_are_equal_for_all_trainers_and_small_fits():
    assert BUDGETS["small"]["epochs"] * BUDGETS["small"]["iterations"] == 500
    assert BUDGETS["tiny"]["epochs"] * BUDGETS["tiny"]["iterations"] < 20


def test_demo_cli_rejects_bad_options(capsys):
    for argv, msg in ((["--epochs", "0"], "--epochs: expected a positive integer, got 0"),
                      (["--num-train", "3"], "--num-train: expected at least 6"),
                      (["--seed", "-1"], "--seed: expected a non-negative integer"),
                      (["--dataset-id", "1000"], "--dataset-id: expected 1..999")):
        with pytest.raises(SystemExit):
            demo_main(argv)
        assert msg in capsys.readouterr().err
    assert build_parser().parse_args([]).workdir == "demo_work"


def test_demo_refuses_a_taken_dataset_id(tmp_path, capsys):
    (tmp_path / "nnUNet_raw" / "Dataset990_Other").mkdir(parents=True)
    assert demo_main(["--workdir", str(tmp_path), "--no-env"]) == 2
    assert "dataset ID 990 is taken by ['Dataset990_Other']" in capsys.readouterr().err


def test_reduce_nifti_dataset(tmp_path):
    import SimpleITK as sitk

    from nnunet_topo.benchmarking.train import reduce_nifti_dataset

    src = tmp_path / "Dataset001_X"
    (src / "imagesTr").mkdir(parents=True)
    (src / "labelsTr").mkdir()
    (src / "dataset.json").write_text("{}")
    img = np.arange(3 * 6 * 10, dtype=np.float32).reshape(3, 6, 10)  # (z, y, x), non-square
    lab = np.zeros((3, 6, 10), np.uint8)
    lab[:, ::2, ::2] = 1
    for arr, path in ((img, src / "imagesTr" / "c_0000.nii.gz"), (lab, src / "labelsTr" / "c.nii.gz")):
        im = sitk.GetImageFromArray(arr)
        im.SetSpacing((0.5, 0.7, 8.0))
        sitk.WriteImage(im, str(path))
    dst = reduce_nifti_dataset(src, tmp_path / "Dataset001_X_div2", 2)
    small = sitk.ReadImage(str(dst / "imagesTr" / "c_0000.nii.gz"))
    small_lab = sitk.GetArrayFromImage(sitk.ReadImage(str(dst / "labelsTr" / "c.nii.gz")))
    assert small.GetSpacing() == pytest.approx((1.0, 1.4, 8.0))
    a = sitk.GetArrayFromImage(small)
    assert a.shape == (3, 3, 5) and a[1, 2, 3] == pytest.approx(img[1, 4:6, 6:8].mean())
    assert small_lab.shape == (3, 3, 5) and small_lab.all()


def test_topobetti_is_skipped_without_priors():
    from nnunet_topo.benchmarking.train import TRAINERS, _skipped_trainers

    no_prior = {"labels": {"background": 0, "vessel": 1},
                "topology": {"labels": {"vessel": {"betti": None, "match": True}}}}
    assert list(_skipped_trainers(list(TRAINERS), no_prior)) == ["nnUNetTrainerTopoBetti_bench"]
    with_prior = {"labels": {"background": 0, "ring": 1}, "topology": {"labels": {"ring": {"betti": [1, 1]}}}}
    assert _skipped_trainers(list(TRAINERS), with_prior) == {}
