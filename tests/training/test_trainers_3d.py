"""3d_fullres: a tiny generated 3D dataset, planned and preprocessed by nnU-Net; one nnU-Net train_step per trainer
with the topological term at full weight (per-slice Betti prior along the first axis)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import TINY_FEATURES, nnunet_env, run_cli
from tiny_dataset import write_dataset_3d

pytestmark = pytest.mark.slow

DATASET_ID = 902


@pytest.fixture(scope="module")
def tiny_3d(tmp_path_factory):
    root = tmp_path_factory.mktemp("nnunet3d")
    name = write_dataset_3d(root / "raw", DATASET_ID)
    env = nnunet_env(root)
    run_cli(["nnUNetv2_plan_and_preprocess", "-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "1"], env)
    plans_file = root / "preprocessed" / name / "nnUNetPlans.json"
    plans = json.loads(plans_file.read_text())
    arch = plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]
    arch["features_per_stage"] = TINY_FEATURES[: arch["n_stages"]]
    plans_file.write_text(json.dumps(plans, indent=1))
    mp = pytest.MonkeyPatch()
    for key in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        mp.setenv(key, env[key])
    mp.setenv("nnUNet_n_proc_DA", "0")
    yield root / "preprocessed" / name
    mp.undo()


@pytest.mark.parametrize("name", ["nnUNetTrainerTopoBetti_debug", "nnUNetTrainerTopoDense_debug",
                                  "nnUNetTrainerTopoBettiMatching_debug"])
def test_3d_fullres_train_step_with_per_slice_prior(name, tiny_3d):
    from nnunet_topo.training import variants

    plans = json.loads((tiny_3d / "nnUNetPlans.json").read_text())
    plans["continue_training"] = False
    dj = json.loads((tiny_3d / "dataset.json").read_text())
    trainer = getattr(variants, name)(plans=plans, configuration="3d_fullres", fold=0, dataset_json=dj,
                                      device=torch.device("cpu"))
    torch.manual_seed(0)
    trainer.initialize()
    # the per-slice prior puts the 2D term on slices along the first spatial axis
    assert [t.slice_axis for t in trainer.loss.terms] == [0]
    dl_train, _ = trainer.get_dataloaders()
    batch = next(dl_train)
    assert batch["data"].ndim == 5
    before = torch.cat([p.detach().flatten() for p in trainer.network.parameters()])
    trainer.current_epoch = 2
    trainer.on_train_epoch_start()
    loss = trainer.train_step(batch)["loss"]
    after = torch.cat([p.detach().flatten() for p in trainer.network.parameters()])
    assert np.isfinite(loss) and trainer.loss.stats["calls"] == 1 and trainer.loss.stats["seconds"] > 0
    assert float((after - before).abs().max()) > 0
