"""End to end on a tiny generated 2D dataset: nnU-Net plans and preprocesses it, then every trainer trains
(nnU-Net's own ``train_step``), the topological term provably changes the update, and the CLI path
(``nnUNetv2_train`` / ``--val`` / ``--c`` / ``nnUNetv2_predict`` with ``nnUNet_extTrainer``) works.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import DATASET_ID, run_cli

pytestmark = pytest.mark.slow

DATASET = f"Dataset{DATASET_ID:03d}_TinyTopo"
TOPO_TRAINERS = ["nnUNetTrainerTopoBetti_debug", "nnUNetTrainerTopoBettiMatching_debug",
                 "nnUNetTrainerTopoDense_debug", "nnUNetTrainerClDice_debug"]
# the _debug schedule: warm-up 1 epoch, ramp over 2, full weight 0.1
LAMBDA_DEBUG = [0.0, 0.05, 0.1]


def _lookup(name: str):
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    return recursive_find_trainer_class_by_name(name)  # through nnUNet_extTrainer, as nnUNetv2_train does


def _make(root: Path, cls, dataset_json: dict | None = None):
    pre = root / "preprocessed" / DATASET
    plans = json.loads((pre / "nnUNetPlans.json").read_text())
    plans["continue_training"] = False
    dj = dataset_json if dataset_json is not None else json.loads((pre / "dataset.json").read_text())
    return cls(plans=plans, configuration="2d", fold=0, dataset_json=dj, device=torch.device("cpu"))


def _params(trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in trainer.network.parameters()])


def _one_step(trainer, batch: dict, epoch: int, init_state: dict) -> torch.Tensor:
    """Parameters after one nnU-Net train_step at ``epoch`` from the initial weights ``init_state``."""
    trainer.network.load_state_dict(init_state)
    trainer.optimizer, trainer.lr_scheduler = trainer.configure_optimizers()
    trainer.current_epoch = epoch
    trainer.on_train_epoch_start()  # sets lr and, for topology trainers, λ(epoch)
    trainer.train_step(batch)
    return _params(trainer)


@pytest.fixture(scope="module")
def plain_updates(tiny_nnunet):
    """nnU-Net's plain trainer: one batch, the initial weights and the parameters after one step at epochs 0, 2."""
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    root, _ = tiny_nnunet
    plain = _make(root, nnUNetTrainer)
    torch.manual_seed(0)
    plain.initialize()
    init_state = copy.deepcopy(plain.network.state_dict())
    dl_train, _ = plain.get_dataloaders()
    np.random.seed(0)
    batch = next(dl_train)
    updates = {e: _one_step(plain, batch, e, init_state) for e in (0, 2)}
    return batch, init_state, updates


@pytest.mark.parametrize("name", TOPO_TRAINERS)
def test_topological_term_changes_the_update_only_after_warmup(name, tiny_nnunet, plain_updates):
    root, _ = tiny_nnunet
    batch, init_state, plain = plain_updates
    trainer = _make(root, _lookup(name))
    torch.manual_seed(0)
    trainer.initialize()
    assert all(torch.equal(a, b) for a, b in zip(trainer.network.state_dict().values(), init_state.values()))
    # warm-up epoch: λ = 0, the update is nnU-Net's, bit for bit, and the term does not run
    assert torch.equal(_one_step(trainer, batch, 0, init_state), plain[0])
    assert trainer.loss.stats["calls"] == 0
    # full weight: the term runs, takes time, and changes the update on the same seed and batch
    after = _one_step(trainer, batch, 2, init_state)
    assert trainer.loss.weight == pytest.approx(0.1)
    assert trainer.loss.stats["calls"] == 1 and trainer.loss.stats["seconds"] > 0
    assert np.isfinite(trainer.loss.stats["topo_loss"])
    assert float((after - plain[2]).abs().max()) > 0


def test_cli_train_then_val_then_predict(tiny_nnunet, tmp_path):
    root, env = tiny_nnunet
    name = "nnUNetTrainerTopoDense_debug"
    out = run_cli(["nnUNetv2_train", str(DATASET_ID), "2d", "0", "-tr", name, "-device", "cpu"], env)
    fold = root / "results" / DATASET / f"{name}__nnUNetPlans__2d" / "fold_0"
    assert (fold / "checkpoint_final.pth").is_file()
    log = json.loads((fold / "topology_log.json").read_text())
    assert [e["epoch"] for e in log["epochs"]] == [0, 1, 2]
    assert [e["topo_weight"] for e in log["epochs"]] == pytest.approx(LAMBDA_DEBUG)
    assert log["epochs"][0]["iterations_with_topo_term"] == 0
    for entry in log["epochs"][1:]:
        assert entry["iterations_with_topo_term"] == 2 and entry["seconds_topo"] > 0 and entry["seconds_ph"] > 0
        assert entry["num_wrong_features"] >= 0
    # the in-process tests above wrote logs into the same folder: take the one of this finished training
    logs = [p.read_text() for p in fold.glob("training_log_*.txt")]
    training_log = next(text for text in logs if "Training done." in text)
    for line in ("topo_weight: 0.1", "topo_warmup_epochs: 1", "topo_ramp_epochs: 2", "TopoDenseLoss("):
        assert line in training_log
    assert re.search(r"wrong topological features \d+, seconds in topological term [0-9.]+", training_log)
    assert "Mean Validation Dice" in out

    # --val from the saved checkpoint
    (fold / "validation" / "summary.json").unlink()
    run_cli(["nnUNetv2_train", str(DATASET_ID), "2d", "0", "-tr", name, "-device", "cpu", "--val"], env)
    assert json.loads((fold / "validation" / "summary.json").read_text())["foreground_mean"]["Dice"] >= 0

    # nnUNetv2_predict looks the trainer up by the name stored in the checkpoint
    src = tmp_path / "in"
    src.mkdir()
    for case in ("tiny_000", "tiny_005"):
        (src / f"{case}_0000.png").write_bytes((root / "raw" / DATASET / "imagesTr" / f"{case}_0000.png").read_bytes())
    run_cli(["nnUNetv2_predict", "-i", str(src), "-o", str(tmp_path / "pred"), "-d", str(DATASET_ID), "-c", "2d",
             "-f", "0", "-tr", name, "-device", "cpu", "--disable_tta", "-npp", "1", "-nps", "1"], env)
    run_cli(["nnUNetv2_predict_from_modelfolder", "-i", str(src), "-o", str(tmp_path / "pred_mf"),
             "-m", str(fold.parent), "-f", "0", "-device", "cpu", "--disable_tta", "-npp", "1", "-nps", "1"], env)
    for case in ("tiny_000", "tiny_005"):
        seg = np.asarray(Image.open(tmp_path / "pred" / f"{case}.png"))
        assert seg.shape == (64, 80) and set(np.unique(seg)) <= {0, 1, 2}  # never the ignore label
        assert np.array_equal(np.asarray(Image.open(tmp_path / "pred_mf" / f"{case}.png")), seg)


def test_resume_continues_the_schedule(tiny_nnunet):
    root, env = tiny_nnunet
    name = "nnUNetTrainerTopoBettiMatching_debug"
    first = _make(root, _lookup(name))
    first.num_epochs = 2  # stop after epochs 0 and 1, as an interrupted run would
    first.run_training()
    fold = Path(first.output_folder)
    assert [e["epoch"] for e in json.loads((fold / "topology_log.json").read_text())["epochs"]] == [0, 1]

    out = run_cli(["nnUNetv2_train", str(DATASET_ID), "2d", "0", "-tr", name, "-device", "cpu", "--c"], env)
    assert "Epoch 2" in out and "Epoch 0\n" not in out and "Epoch 1\n" not in out
    assert "topological weight (lambda): 0.1" in out
    epochs = json.loads((fold / "topology_log.json").read_text())["epochs"]
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert [e["topo_weight"] for e in epochs] == pytest.approx(LAMBDA_DEBUG)
    assert epochs[2]["iterations_with_topo_term"] == 2 and epochs[2]["seconds_topo"] > 0


@pytest.mark.parametrize("name", ["nnUNetTrainerTopoDense_debug", "nnUNetTrainerTopoBetti_debug"])
def test_region_training_with_ignore_label(name, tiny_nnunet):
    """Nested regions (sigmoid outputs) and an ignore label, through nnU-Net's own dataloader and train_step."""
    root, _ = tiny_nnunet
    dj = json.loads((root / "preprocessed" / DATASET / "dataset.json").read_text())
    dj["labels"] = {"background": 0, "structures": [1, 2], "ring": [1], "vessel": [2], "ignore": 3}
    dj["regions_class_order"] = [1, 1, 2]
    dj["topology"] = {"labels": {"structures": {"betti": None, "match": True},
                                 "ring": {"betti": [1, 1], "match": True}}}
    trainer = _make(root, _lookup(name), dj)
    assert trainer.label_manager.has_regions and trainer.label_manager.ignore_label == 3
    torch.manual_seed(0)
    trainer.initialize()
    dl_train, _ = trainer.get_dataloaders()
    batch = next(dl_train)
    assert batch["target"][0].shape[1] == 4  # 3 regions + nnU-Net's ignore channel
    before = _params(trainer)
    trainer.current_epoch = 2
    trainer.on_train_epoch_start()
    loss = trainer.train_step(batch)["loss"]
    assert np.isfinite(loss) and trainer.loss.stats["calls"] == 1
    assert [t.nonlinearity for t in trainer.loss.terms] == ["sigmoid"]
    assert float((_params(trainer) - before).abs().max()) > 0


def test_betti_trainer_without_topology_block_is_a_clear_error(tiny_nnunet):
    root, _ = tiny_nnunet
    dj = json.loads((root / "preprocessed" / DATASET / "dataset.json").read_text())
    del dj["topology"]
    trainer = _make(root, _lookup("nnUNetTrainerTopoBetti_debug"), dj)
    with pytest.raises(ValueError, match="expected a 'topology' block"):
        trainer.initialize()
    # the matching trainers fall back to matching every foreground label
    other = _make(root, _lookup("nnUNetTrainerTopoBettiMatching_debug"), dj)
    other.initialize()
    assert [t.classes for t in other.loss.terms] == [(1, 2)]
