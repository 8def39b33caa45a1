"""``nnunet-topo demo`` end to end with a tiny budget: nnU-Net plans, trains both trainers, predicts, evaluates."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from nnunet_topo.demo.cli import main as demo_main


@pytest.mark.slow
def test_demo_end_to_end_tiny_budget(tmp_path, capsys):
    work = tmp_path / "work"
    code = demo_main(["--workdir", str(work), "--no-env", "--epochs", "1", "--iterations", "2",
                      "--num-train", "6", "--num-test", "2", "--seed", "3", "--dataset-id", "989"])
    out = capsys.readouterr().out
    assert code == 0, out
    results = json.loads((work / "results.json").read_text())
    assert [r["trainer"] for r in results["rows"]] == ["nnUNetTrainer_demo", "nnUNetTrainerTopoDense_demo"]
    assert results["budget"] == {"epochs": 1, "iterations": 2, "val_iterations": 4, "seed": 3}
    for row in results["rows"]:
        assert 0.0 <= row["Dice"] <= 1.0
        assert set(row["per_label"]) == {"myocardium", "blood_pool", "vessel"}
        assert row["train_seconds"] > 0
    # both trainers ran with the budget from the environment (written to nnU-Net's training log)
    results_dir = work / "nnUNet_results" / "Dataset989_TopoDemo"
    for trainer in ("nnUNetTrainer_demo", "nnUNetTrainerTopoDense_demo"):
        fold = results_dir / f"{trainer}__nnUNetPlans__2d" / "fold_0"
        assert (fold / "checkpoint_final.pth").is_file()
        log = next(fold.glob("training_log_*.txt")).read_text()
        assert "fixed budget: 1 epochs x 2 iterations (4 validation iterations per epoch), seed 3" in log
        preds = sorted((work / "predictions" / trainer).glob("*.png"))
        assert [p.name for p in preds] == ["demotest_000.png", "demotest_001.png"]
        pred = np.asarray(Image.open(preds[0]))
        assert pred.shape == (128, 128) and set(np.unique(pred)) <= {0, 1, 2, 3}
        summary = json.loads((work / "evaluation" / trainer / "summary.json").read_text())
        assert len(summary["metric_per_case"]) == 2
    split = json.loads((work / "nnUNet_preprocessed" / "Dataset989_TopoDemo" / "splits_final.json").read_text())
    assert split == [{"train": [f"demo_{i:03d}" for i in range(2)], "val": [f"demo_{i:03d}" for i in range(2, 6)]}]
    assert "nnUNetTrainerTopoDense_demo" in out and (work / "report.html").is_file()
