"""``nnunet-topo bench evaluate``: evaluator throughput on synthetic nnU-Net folders.

2D: ``--cases`` binary 512² PNG cases (vessel-like ground truth; predictions with cut gaps and added
blobs so that Betti matching has work to do), evaluated with ``-np`` processes through
:func:`nnunet_topo.evaluation.evaluate_folder` (reading, Dice, clDice, Betti errors, Betti matching,
summary.json and CSV: the whole command). 3D: ``--cases-3d`` NIfTI volumes of ``--size-3d`` with
whole-volume topology, and ``--cases-slices`` anisotropic volumes evaluated per slice (MyoPS-like).
Also times each stage of one case in one process.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import near_binary, time_call, write_json

__all__ = ["main", "make_folder"]


def _perturb(gt: np.ndarray, rng: np.random.Generator, n_gaps: int = 4, n_blobs: int = 3) -> np.ndarray:
    pred = gt.copy()
    fg = np.argwhere(gt)
    for _ in range(n_gaps):  # cut a gap of radius 3 at a foreground pixel
        c = fg[rng.integers(len(fg))]
        sl = tuple(slice(max(0, int(x) - 3), int(x) + 4) for x in c)
        pred[sl] = False
    for _ in range(n_blobs):  # add a small spurious blob
        c = [rng.integers(3, s - 3) for s in gt.shape]
        sl = tuple(slice(int(x) - 2, int(x) + 2) for x in c)
        pred[sl] = True
    return pred


def make_folder(root: Path, n: int, shape: tuple[int, ...], *, seed: int = 0) -> tuple[Path, Path, Path]:
    """Write ``gt/``, ``pred/`` and ``dataset.json`` of ``n`` binary cases under ``root``."""
    import SimpleITK as sitk
    from PIL import Image

    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir(parents=True)
    pred_dir.mkdir()
    ending = ".png" if len(shape) == 2 else ".nii.gz"
    rng = np.random.default_rng(seed)
    for i in range(n):
        gt = near_binary(shape, seed=seed + i) > 0.5
        pred = _perturb(gt, rng)
        for folder, m in ((gt_dir, gt), (pred_dir, pred)):
            if ending == ".png":
                Image.fromarray(m.astype(np.uint8)).save(folder / f"case_{i:04d}{ending}")
            else:
                sitk.WriteImage(sitk.GetImageFromArray(m.astype(np.uint8)), str(folder / f"case_{i:04d}{ending}"))
    dj = {"name": "bench", "labels": {"background": 0, "vessel": 1}, "file_ending": ending,
          "numTraining": n, "channel_names": {"0": "x"}}
    (root / "dataset.json").write_text(json.dumps(dj))
    return gt_dir, pred_dir, root / "dataset.json"


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished child processes."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _warm_up(ndim: int) -> None:
    """Load/compile the engine's numba code in this process (forked workers inherit it)."""
    from nnunet_topo.topology import betti_matching

    rng = np.random.default_rng(0)
    shape = (9, 11) if ndim == 2 else (5, 9, 11)
    betti_matching(rng.random(shape) > 0.5, rng.random(shape) > 0.5)


def _folder_throughput(n: int, shape: tuple[int, ...], num_processes: int, seed: int, *, per_slice: bool = False) -> dict:
    from nnunet_topo.evaluation import evaluate_folder

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gt, pred, dj = make_folder(root, n, shape, seed=seed)
        _warm_up(len(shape))
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        summary = evaluate_folder(gt, pred, dj, output_file=root / "out" / "summary.json",
                                  num_processes=num_processes, per_slice=per_slice, progress=False)
        seconds = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
    fg = summary["foreground_mean"]
    return {"cases": n, "shape": list(shape), "per_slice": per_slice, "num_processes": num_processes,
            "seconds": seconds, "cases_per_s": n / seconds,
            # CPU time of this process and its workers: what the run cost regardless of other load;
            # num_processes * cases / cpu_seconds is the throughput the same cores would give if idle
            "cpu_seconds": cpu, "cpu_ms_per_case": 1e3 * cpu / n,
            "cases_per_s_if_cores_idle": num_processes * n / cpu if cpu > 0 else float("nan"),
            "mean_BettiMatching_error": fg["BettiMatching_error"],
            "mean_Betti0_error": fg["Betti0_error"], "mean_Betti1_error": fg["Betti1_error"]}


def _stages(shape: tuple[int, ...], seed: int) -> dict:
    from nnunet_topo.metrics import betti_errors, betti_matching_errors, cldice, dice

    gt = near_binary(shape, seed=seed) > 0.5
    pred = _perturb(gt, np.random.default_rng(seed))
    out = {}
    for name, fn in (("dice", lambda: dice(pred, gt)), ("cldice", lambda: cldice(pred, gt)),
                     ("betti_errors", lambda: betti_errors(pred, gt)),
                     ("betti_matching", lambda: betti_matching_errors(pred, gt))):
        repeats = 3 if len(shape) == 3 else 5
        out[name] = time_call(fn, repeats=repeats)
        c0 = time.process_time()
        for _ in range(repeats):
            fn()
        out[name]["cpu_s_per_call"] = (time.process_time() - c0) / repeats
    return out


def _count(text: str) -> int:
    """A number of cases: a non-negative integer (0 skips that folder)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a number of cases >= 0, got {text!r}")
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="nnunet-topo bench evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None, help="write results here (default: stdout)")
    p.add_argument("--cases", type=_count, default=200, help="2D cases (default 200; 0 skips)")
    p.add_argument("--size", type=int, default=512, help="2D side (default 512)")
    p.add_argument("--cases-3d", type=_count, default=4, help="3D cases, whole-volume topology (default 4; 0 skips)")
    p.add_argument("--size-3d", type=int, nargs=3, default=[48, 96, 96], help="3D shape (default 48 96 96)")
    p.add_argument("--cases-slices", type=_count, default=20,
                   help="3D cases evaluated per slice, MyoPS-like (default 20; 0 skips)")
    p.add_argument("--size-slices", type=int, nargs=3, default=[12, 256, 256], help="their shape (default 12 256 256)")
    p.add_argument("-np", dest="num_processes", type=int, default=2, help="processes (default 2)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    shape2 = (args.size, args.size)
    shape3 = tuple(args.size_3d)
    import os

    if args.cases + args.cases_3d + args.cases_slices == 0:
        p.error("--cases, --cases-3d, --cases-slices: expected at least one folder with cases, got 0 for all")
    payload = {"benchmark": "evaluate", "command": "nnunet-topo bench evaluate " + " ".join(argv or []),
               "connectivity": "full", "load_average_at_start": list(os.getloadavg())}
    if args.cases > 0:
        payload["folder_2d"] = _folder_throughput(args.cases, shape2, args.num_processes, args.seed)
        payload["stages_2d_one_case"] = _stages(shape2, args.seed)
    if args.cases_slices > 0:
        payload["folder_3d_per_slice"] = _folder_throughput(args.cases_slices, tuple(args.size_slices),
                                                            args.num_processes, args.seed, per_slice=True)
    if args.cases_3d > 0:
        payload["folder_3d"] = _folder_throughput(args.cases_3d, shape3, args.num_processes, args.seed)
        payload["stages_3d_one_case"] = _stages(shape3, args.seed)
    payload["load_average_at_end"] = list(os.getloadavg())
    write_json(payload, args.json)
    return 0
