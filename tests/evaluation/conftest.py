"""Fixtures of the evaluator tests."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from _eval_folders import analytic_cases, write_png


@pytest.fixture
def png_dataset(tmp_path) -> dict[str, Path]:
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for case, (g, p) in analytic_cases().items():
        write_png(gt / f"{case}.png", g)
        write_png(pred / f"{case}.png", p)
    dj = {"name": "Toy2D", "labels": {"background": 0, "ring": 1}, "file_ending": ".png", "numTraining": 5,
          "channel_names": {"0": "x"}}
    (tmp_path / "dataset.json").write_text(json.dumps(dj))
    return {"root": tmp_path, "gt": gt, "pred": pred, "dj": tmp_path / "dataset.json"}
