"""Fixtures of the trainer tests: a tiny planned+preprocessed nnU-Net dataset and the nnU-Net environment.

nnU-Net's trainer lookup imports torchvision (through timm); on CPU-only machines with PyPI's CUDA
torchvision, ``make install`` installs ``nnunet_topo._torchvision_guard`` so that import works in every
process of the environment, these tests and their nnU-Net subprocesses included.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tiny_dataset import write_dataset  # noqa: E402

BIN = Path(sys.executable).parent
DATASET_ID = 901
# a tiny network: the planned U-Net (up to 512 features) is needlessly slow on CPU for these checks
TINY_FEATURES = [4, 8, 16, 32, 32]


def nnunet_env(root: Path) -> dict[str, str]:
    """Environment for nnU-Net subprocesses working under ``root``."""
    from nnunet_topo.training.discovery import trainers_path

    env = dict(os.environ)
    env.update({
        "nnUNet_raw": str(root / "raw"),
        "nnUNet_preprocessed": str(root / "preprocessed"),
        "nnUNet_results": str(root / "results"),
        "nnUNet_extTrainer": str(trainers_path()),
        "nnUNet_def_n_proc": "1",
        "OMP_NUM_THREADS": "2",
    })
    return env


def run_cli(args: list[str], env: dict[str, str], *, timeout: float = 300, extra_env: dict | None = None) -> str:
    """Run an nnU-Net console script from this venv; returns stdout+stderr, fails the test on a non-zero exit."""
    env = dict(env, **(extra_env or {}))
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {proc.returncode}:\n{out[-6000:]}")
    return out


@pytest.fixture(scope="module")
def tiny_nnunet(tmp_path_factory, monkeypatch_module):
    """Plan and preprocess the tiny 2D dataset once; sets the nnU-Net paths in this process too.

    Yields ``(root, env)``. The planned network is shrunk to ``TINY_FEATURES`` features per stage.
    """
    root = tmp_path_factory.mktemp("nnunet")
    write_dataset(root / "raw", DATASET_ID)
    env = nnunet_env(root)
    run_cli(["nnUNetv2_plan_and_preprocess", "-d", str(DATASET_ID), "-c", "2d", "-np", "1"], env)
    plans_file = root / "preprocessed" / "Dataset901_TinyTopo" / "nnUNetPlans.json"
    plans = json.loads(plans_file.read_text())
    arch = plans["configurations"]["2d"]["architecture"]["arch_kwargs"]
    arch["features_per_stage"] = TINY_FEATURES[: arch["n_stages"]]
    plans_file.write_text(json.dumps(plans, indent=1))
    env["nnUNet_n_proc_DA"] = "0"  # single-threaded augmentation: faster on 2 cores (planning needs it unset)
    for key in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results", "nnUNet_extTrainer", "nnUNet_n_proc_DA",
                "nnUNet_def_n_proc"):
        monkeypatch_module.setenv(key, env[key])
    yield root, env


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
