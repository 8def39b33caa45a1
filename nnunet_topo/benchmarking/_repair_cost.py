"""Cost part of the repair benchmark: each loss on nnU-Net's planned DRIVE 2D batch.

The batch and patch come from nnU-Net itself: the 20 DRIVE training images and their ``1st_manual``
ground truths are written as a temporary nnU-Net raw dataset (PNG, RGB channels, labels {0, 1}),
``nnUNetv2_extract_fingerprint`` and ``nnUNetv2_plan_experiment`` run on it in a subprocess, and the
``2d`` configuration of the resulting plans gives ``batch_size``, ``patch_size`` and the network.
Nothing is written outside a temporary folder, which is deleted afterwards.

Timed (same process, same machine, same inputs):

* each loss, forward + backward, on logits ``(B, 2, *patch)`` that require grad;
* nnU-Net's ``DC_and_CE_loss`` (its default for a label-map dataset) on the same logits;
* one baseline nnU-Net training iteration: the planned network built with
  ``get_network_from_plans``, deep supervision, ``DeepSupervisionWrapper(DC_and_CE_loss)``, SGD
  (lr 1e-2, momentum 0.99, Nesterov, weight decay 3e-5), gradient clipping at 12 - what
  ``nnUNetTrainer.train_step`` does, on CPU in float32.

Two kinds of logits are timed: ``network`` (the untrained network's output on the real DRIVE
patches: noisy, many features, the expensive start of training) and ``near_target`` (logits built
from the ground truth as in the repair corpus: a well-trained network's output).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["plan_drive_2d", "drive_batch", "time_costs"]

_DATASET_ID = 987
_DATASET_NAME = f"Dataset{_DATASET_ID}_DRIVEbench"


def plan_drive_2d(data_root: Path) -> dict[str, Any]:
    """Plan the DRIVE training set with nnU-Net (in a temporary folder); returns the plans dict."""
    from PIL import Image

    drive = Path(data_root) / "DRIVE" / "training"
    images = sorted((drive / "images").glob("*_training.tif"))
    if not images:
        raise ValueError(f"expected DRIVE training images under {drive / 'images'}; found none")
    tmp = Path(tempfile.mkdtemp(prefix="nnunet_topo_repair_plan_"))
    try:
        raw = tmp / "raw" / _DATASET_NAME
        (raw / "imagesTr").mkdir(parents=True)
        (raw / "labelsTr").mkdir(parents=True)
        for img in images:
            case = img.name.replace("_training.tif", "")
            gt = drive / "1st_manual" / f"{case}_manual1.gif"
            Image.open(img).convert("RGB").save(raw / "imagesTr" / f"drive_{case}_0000.png")
            lab = (np.asarray(Image.open(gt)) > 0).astype(np.uint8)
            Image.fromarray(lab).save(raw / "labelsTr" / f"drive_{case}.png")
        (raw / "dataset.json").write_text(json.dumps({
            "channel_names": {"0": "R", "1": "G", "2": "B"},
            "labels": {"background": 0, "vessel": 1},
            "numTraining": len(images),
            "file_ending": ".png",
        }))
        env = dict(os.environ, nnUNet_raw=str(tmp / "raw"), nnUNet_preprocessed=str(tmp / "pre"),
                   nnUNet_results=str(tmp / "res"))
        bindir = Path(sys.executable).parent
        for cmd in (["nnUNetv2_extract_fingerprint", "-d", str(_DATASET_ID), "-np", "1"],
                    ["nnUNetv2_plan_experiment", "-d", str(_DATASET_ID)]):
            exe = bindir / cmd[0]
            proc = subprocess.run([str(exe) if exe.exists() else cmd[0], *cmd[1:]], env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return json.loads((tmp / "pre" / _DATASET_NAME / "nnUNetPlans.json").read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def drive_batch(data_root: Path, batch_size: int, patch: tuple[int, int], *, seed: int = 0):
    """``(images (B, 3, *patch) float32 z-scored per channel, labels (B, 1, *patch) int64)`` from DRIVE.

    Random crops (zero-padded where the patch is larger than the image, as nnU-Net pads).
    """
    from PIL import Image

    drive = Path(data_root) / "DRIVE" / "training"
    files = sorted((drive / "images").glob("*_training.tif"))
    rng = np.random.default_rng(seed)
    imgs, labs = [], []
    for i in range(batch_size):
        f = files[int(rng.integers(len(files)))]
        img = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
        lab = np.asarray(Image.open(drive / "1st_manual" / f.name.replace("_training.tif", "_manual1.gif"))) > 0
        img = (img - img.mean(axis=(1, 2), keepdims=True)) / (img.std(axis=(1, 2), keepdims=True) + 1e-8)
        ph, pw = max(patch[0], img.shape[1]), max(patch[1], img.shape[2])
        canvas = np.zeros((3, ph, pw), np.float32)
        lcanvas = np.zeros((ph, pw), np.int64)
        canvas[:, : img.shape[1], : img.shape[2]] = img
        lcanvas[: lab.shape[0], : lab.shape[1]] = lab
        r0 = int(rng.integers(0, ph - patch[0] + 1))
        c0 = int(rng.integers(0, pw - patch[1] + 1))
        imgs.append(canvas[:, r0 : r0 + patch[0], c0 : c0 + patch[1]])
        labs.append(lcanvas[None, r0 : r0 + patch[0], c0 : c0 + patch[1]])
    return np.stack(imgs), np.stack(labs)


def _network_and_loss(plans: dict[str, Any]):
    import torch
    from nnunetv2.training.loss.compound_losses import DC_and_CE_loss
    from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
    from nnunetv2.training.loss.dice import MemoryEfficientSoftDiceLoss
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    cm = PlansManager(plans).get_configuration("2d")
    net = get_network_from_plans(cm.network_arch_class_name, cm.network_arch_init_kwargs,
                                 cm.network_arch_init_kwargs_req_import, 3, 2, allow_init=True,
                                 deep_supervision=True)

    def dc_ce():
        return DC_and_CE_loss({"batch_dice": cm.batch_dice, "smooth": 1e-5, "do_bg": False, "ddp": False}, {},
                              weight_ce=1, weight_dice=1, ignore_label=None, dice_class=MemoryEfficientSoftDiceLoss)

    scales = [list(s) for s in 1 / np.cumprod(np.vstack(cm.pool_op_kernel_sizes), axis=0)][:-1]
    weights = np.array([1 / (2**i) for i in range(len(scales))])
    weights[-1] = 0
    weights = weights / weights.sum()
    ds_loss = DeepSupervisionWrapper(dc_ce(), weights)
    opt = torch.optim.SGD(net.parameters(), 1e-2, weight_decay=3e-5, momentum=0.99, nesterov=True)
    return net, dc_ce(), ds_loss, opt, scales, cm


def time_costs(data_root: Path, plans: dict[str, Any], losses: dict[str, Callable[[], Any]], *,
               repeats: int = 3, patch_override: tuple[int, int] | None = None) -> dict[str, Any]:
    """Time every loss (forward + backward), Dice+CE and one baseline iteration on the planned batch.

    ``losses`` maps a name to a zero-argument factory of a loss module called as ``loss(logits, target)``.
    ``patch_override`` (tests/--quick only) replaces the planned patch by a smaller one.
    """
    import torch
    import torch.nn.functional as F

    from ._common import time_call
    from ._repair_corpus import starting_logits

    net, dc_ce, ds_loss, opt, scales, cm = _network_and_loss(plans)
    batch = int(cm.batch_size)
    patch = tuple(int(p) for p in (patch_override or cm.patch_size))
    x_np, y_np = drive_batch(data_root, batch, patch)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    ys = [y if s == [1.0, 1.0] else
          F.interpolate(y.float(), scale_factor=tuple(s), mode="nearest").long() for s in scales]

    def train_iteration():
        opt.zero_grad(set_to_none=True)
        out = net(x)
        loss = ds_loss(out, ys)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
        opt.step()

    result: dict[str, Any] = {
        "plan_source": "nnUNetv2_extract_fingerprint + nnUNetv2_plan_experiment on the 20 DRIVE training "
                       "images (PNG, RGB), configuration 2d",
        "batch_size": batch,
        "patch_size": list(patch),
        "planned_patch_size": [int(p) for p in cm.patch_size],
        "network": cm.network_arch_class_name,
        "torch_threads": torch.get_num_threads(),
    }
    print(f"cost: baseline nnU-Net iteration, batch {batch}, patch {patch} ...", file=sys.stderr, flush=True)
    result["baseline_iteration"] = time_call(train_iteration, repeats=repeats, warmup=1)
    base_s = result["baseline_iteration"]["median_s"]

    with torch.no_grad():
        net_logits = net(x)[0].detach().float().contiguous()
    near = np.stack([np.stack([-z / 2, z / 2]) for z in
                     (starting_logits(y_np[i, 0], seed=i) for i in range(batch))]).astype(np.float32)
    inputs = {"network": net_logits, "near_target": torch.from_numpy(near)}
    rows: dict[str, Any] = {}
    for kind, logits0 in inputs.items():
        for name, factory in {"dice_ce": lambda: dc_ce, **losses}.items():
            print(f"cost: {name} on {kind} logits ...", file=sys.stderr, flush=True)
            fn = factory()
            logits = logits0.clone().requires_grad_(True)
            constant = not fn(logits, y).requires_grad  # e.g. a loss with no wrong feature returns 0

            def fwd_bwd():
                logits.grad = None
                out = fn(logits, y)
                if out.requires_grad:
                    out.backward()

            t = time_call(fwd_bwd, repeats=repeats, warmup=1)
            stats = dict(getattr(fn, "last_stats", {}) or {})
            rows.setdefault(name, {})[kind] = {
                **t,
                "fraction_of_baseline_iteration": t["median_s"] / base_s,
                "returned_constant_without_grad": constant,
                "num_wrong_features": stats.get("num_wrong_features"),
                "seconds_ph": stats.get("seconds_ph"),
                "seconds_regions": stats.get("seconds_regions"),  # TopoDenseLoss only
            }
    result["losses"] = rows
    return result
