"""Draws docs/figures/evaluation_report_case.png: one worst-case panel of the evaluator's HTML report.

A synthetic vessel-like ground truth (no real data), a prediction with two vessels cut, a spurious
island and a bridge that closes a spurious loop, and nnU-Net-style probabilities for the diagram.

Run: .venv/bin/python docs/figures/make_evaluation_figure.py
"""
from __future__ import annotations

import base64
import json
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from nnunet_topo.benchmarking._common import vessel_like
from nnunet_topo.evaluation import evaluate_folder

OUT = Path(__file__).with_name("evaluation_report_case.png")


def main() -> None:
    shape = (224, 288)
    field = vessel_like(shape, seed=4, n_curves=7)
    gt = ndimage.binary_opening(field > 0.45) | (field > 0.7)
    rng = np.random.default_rng(0)
    pred = gt.copy()
    fg = np.argwhere(gt)
    for _ in range(2):  # cut two vessels
        r, c = fg[rng.integers(len(fg))]
        pred[r - 3:r + 4, c - 3:c + 4] = False
    pred[30:36, 240:247] = True  # a spurious island
    prob = np.clip(ndimage.gaussian_filter(pred.astype(float), 1.2) + rng.normal(0, 0.04, shape), 0, 1)
    image = np.clip(field + rng.normal(0, 0.08, shape), 0, 1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for d in ("gt", "pred", "img"):
            (root / d).mkdir()
        Image.fromarray(gt.astype(np.uint8)).save(root / "gt" / "vessels_001.png")
        Image.fromarray(pred.astype(np.uint8)).save(root / "pred" / "vessels_001.png")
        np.savez_compressed(root / "pred" / "vessels_001.npz",
                            probabilities=np.stack([1 - prob, prob])[:, None].astype(np.float32))
        Image.fromarray((image * 255).astype(np.uint8)).save(root / "img" / "vessels_001_0000.png")
        (root / "dataset.json").write_text(json.dumps({"name": "synthetic vessels", "file_ending": ".png",
                                                       "labels": {"background": 0, "vessel": 1}}))
        evaluate_folder(root / "gt", root / "pred", root / "dataset.json", output_file=None,
                        report_file=root / "report.html", images_dir=root / "img", worst_cases=1, progress=False)
        pngs = re.findall(r"base64,([A-Za-z0-9+/=]+)", (root / "report.html").read_text())
    OUT.write_bytes(base64.b64decode(pngs[1]))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
