"""``nnunet-topo bench repair``: can a topological loss repair a damaged segmentation on its own?

For every case of the corpus (:mod:`._repair_corpus`: real DRIVE / CHASE_DB1 vessel and MyoPS
myocardium ground truths with gaps cut, blobs added, rings broken or punctured) the starting logits
``z0 (H, W)`` of the perturbed mask are optimised directly with Adam (lr 0.1) for ``--steps`` steps
under

    loss(z) = topological_term(logits(z), target) + fidelity * mean((z - z0) ** 2)

where ``logits(z) = [-z/2, z/2]`` is a 2-channel softmax output (softmax foreground = sigmoid(z)) and
the fidelity term is identical for every loss, so only the topological term can move the map towards
the target. After every step the map is binarised (p >= 0.5, i.e. z >= 0) and compared with the
target by the Betti-matching error (``nnunet_topo.topology.betti_matching``, ``connectivity="full"``;
Betti numbers by labelling first, the matching only when they agree). The first step with error 0 is
the repair step and the run stops there; Dice to the target is taken on that (or the last) map.

Three results per loss go to the JSON:

* **repair**: fraction repaired within ``--steps``, median steps to repair (over repaired cases),
  median final Dice, the repaired fraction after every step (for the plot);
* **gradient density**: at the start, the number of pixels where the topological term's gradient
  w.r.t. ``z`` is non-zero, divided by the Betti-matching error of the start (median over cases);
  also counted only on the fix (start XOR target, grown by one pixel) and at a noise-free start
  (logits exactly +-3, where no noise bars exist);
* **cost** (:mod:`._repair_cost`): forward + backward on nnU-Net's planned DRIVE 2D batch, against
  Dice+CE on the same batch and one baseline nnU-Net training iteration.

Losses compared: ``mse`` (mean squared error of p to the target: an oracle that knows every pixel,
the upper bound), ``betti_prior`` (``BettiPriorLoss`` given each target's true Betti numbers as its
prior: the most favourable prior possible), ``betti_matching``, ``topodense``, ``cldice``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["main", "LOSSES", "build_loss", "run_case", "summarise", "plot_repair", "repair_error", "dice"]

#: name -> (class in nnunet_topo.losses or None for the oracle, description)
LOSSES: dict[str, tuple[str | None, str]] = {
    "mse": (None, "oracle: mean squared error of p to the target (knows every pixel)"),
    "betti_prior": ("BettiPriorLoss", "BettiPriorLoss with the target's true Betti numbers as prior"),
    "betti_matching": ("BettiMatchingLoss", "BettiMatchingLoss (Betti matching to the target)"),
    "topodense": ("TopoDenseLoss", "TopoDenseLoss"),
    "cldice": ("SoftClDiceLoss", "SoftClDiceLoss (soft skeleton, no persistent homology)"),
}

DEFAULTS = {"cases": 120, "steps": 100, "lr": 0.1, "fidelity": 0.01, "amplitude": 3.0, "seed": 0}
QUICK = {"cases": 6, "steps": 30}


# ------------------------------------------------------------------------------------ measurements
def dice(pred: np.ndarray, target: np.ndarray) -> float:
    """Dice of two binary masks (1.0 when both are empty)."""
    p, t = pred.astype(bool), target.astype(bool)
    denom = p.sum() + t.sum()
    return 1.0 if denom == 0 else float(2 * (p & t).sum() / denom)


def repair_error(binary: np.ndarray, target: np.ndarray, betti_target: tuple[int, int]) -> int | None:
    """Betti-matching error (T-construction) of ``binary`` vs ``target``; ``None`` means "> 0, not
    computed" (the Betti numbers already differ, which implies a non-zero error)."""
    from nnunet_topo.topology import betti_matching

    from ._repair_corpus import betti_numbers_scipy

    if betti_numbers_scipy(binary) != tuple(betti_target):
        return None
    return int(betti_matching(binary.astype(np.float64), target.astype(np.float64), connectivity="full").error)


def start_error(binary: np.ndarray, target: np.ndarray) -> int:
    """Betti-matching error of the start (always computed)."""
    from nnunet_topo.topology import betti_matching

    return int(betti_matching(binary.astype(np.float64), target.astype(np.float64), connectivity="full").error)


def _mse_oracle(logits, target):
    """Mean squared error of the softmax foreground probability to the binary target."""
    import torch

    p = torch.softmax(logits, dim=1)[:, 1:2]
    return ((p - (target == 1).to(p.dtype)) ** 2).mean()


def build_loss(name: str, prior: tuple[int, ...]) -> Callable:
    """The loss ``name`` as ``fn(logits (B, 2, H, W), target (B, 1, H, W))``; ``prior`` is the Betti
    tuple given to ``BettiPriorLoss`` (ignored by the others)."""
    cls_name = LOSSES[name][0]
    if cls_name is None:
        return _mse_oracle
    import nnunet_topo.losses as L

    cls = getattr(L, cls_name)
    kwargs: dict[str, Any] = {"classes": [1], "nonlinearity": "softmax", "connectivity": "full"}
    if name == "betti_prior":
        kwargs["priors"] = {1: tuple(prior)}
    if name == "cldice":
        kwargs.pop("connectivity")
    return cls(**kwargs)


def available_losses() -> dict[str, str]:
    """name -> why it is unavailable ('' when available)."""
    out = {}
    for name, (cls_name, _) in LOSSES.items():
        if cls_name is None:
            out[name] = ""
            continue
        try:
            import nnunet_topo.losses as L

            getattr(L, cls_name)
            out[name] = ""
        except (ImportError, AttributeError) as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def run_case(case, loss_name: str, *, steps: int, lr: float, fidelity: float, amplitude: float,
             seed: int) -> dict[str, Any]:
    """Optimise one case under one loss; returns its record (see the module docstring)."""
    import torch
    from scipy import ndimage as ndi

    from ._repair_corpus import starting_logits

    z0_np = starting_logits(case.perturbed, amplitude=amplitude, seed=seed)
    z0 = torch.from_numpy(z0_np)[None, None]
    target = torch.from_numpy(case.target.astype(np.int64))[None, None]
    loss_fn = build_loss(loss_name, case.betti_target)
    err0 = start_error(z0_np >= 0, case.target)

    # gradient density of the topological term alone, at the start
    z = z0.clone().requires_grad_(True)
    topo = loss_fn(torch.cat([-z / 2, z / 2], dim=1), target)
    topo.backward()
    grad_nz = (z.grad[0, 0] != 0).numpy()
    nonzero = int(grad_nz.sum())
    # the fix: pixels whose class must change (start XOR target), grown by one pixel (8-neighbourhood)
    # so that critical pixels on the rim of a gap or blob count as on the fix
    fix = ndi.binary_dilation((z0_np >= 0) != case.target.astype(bool), structure=np.ones((3, 3), bool))
    on_fix = int((grad_nz & fix).sum())
    # the same at a noise-free start (logits exactly +-amplitude): no noise bars, so a sparse loss
    # touches only the critical pixels of the bars it considers wrong
    zc = torch.from_numpy(starting_logits(case.perturbed, amplitude=amplitude, noise=0.0))[None, None]
    zc.requires_grad_(True)
    loss_fn(torch.cat([-zc / 2, zc / 2], dim=1), target).backward()
    clean_nz = int((zc.grad != 0).sum())
    stats = dict(getattr(loss_fn, "last_stats", {}) or {})

    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    repaired_at = None
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(torch.cat([-z / 2, z / 2], dim=1), target) + fidelity * ((z - z0) ** 2).mean()
        loss.backward()
        opt.step()
        binary = z.detach()[0, 0].numpy() >= 0
        if repair_error(binary, case.target, case.betti_target) == 0:
            repaired_at = step
            break
    seconds = time.perf_counter() - t0
    final = z.detach()[0, 0].numpy() >= 0
    final_err = repair_error(final, case.target, case.betti_target)
    return {
        "case": case.name,
        "loss": loss_name,
        # "gap+blob" (vessels), "break", "puncture" or "break+puncture" (myocardium rings)
        "damage": "+".join(dict.fromkeys(case.perturbations)),
        "start_error": err0,
        "start_dice": dice(z0_np >= 0, case.target),
        "repaired_at": repaired_at,
        "final_error": start_error(final, case.target) if final_err is None else final_err,
        "final_dice": dice(final, case.target),
        "pixels_changed": int((final != (z0_np >= 0)).sum()),
        "grad_nonzero_pixels": nonzero,
        "grad_pixels_per_wrong_feature": nonzero / max(err0, 1),
        "fix_pixels": int(fix.sum()),
        "grad_nonzero_on_fix": on_fix,
        "grad_on_fix_per_wrong_feature": on_fix / max(err0, 1),
        "grad_nonzero_pixels_noise_free": clean_nz,
        "grad_noise_free_per_wrong_feature": clean_nz / max(err0, 1),
        "loss_wrong_features_at_start": stats.get("num_wrong_features"),
        "seconds": seconds,
        "steps_run": step,
    }


def _run_all_losses(job) -> list[dict[str, Any]]:
    """Worker: every loss on one case (``job = (case, names, steps, lr, fidelity, seed)``)."""
    import torch

    torch.set_num_threads(1)
    case, names, steps, lr, fidelity, seed = job
    return [run_case(case, n, steps=steps, lr=lr, fidelity=fidelity, amplitude=DEFAULTS["amplitude"], seed=seed)
            for n in names]


def summarise(records: list[dict[str, Any]], steps: int) -> dict[str, Any]:
    """Per-loss summary of the case records."""
    n = len(records)
    rep = [r["repaired_at"] for r in records if r["repaired_at"] is not None]
    curve = [sum(1 for s in rep if s <= k) / n for k in range(steps + 1)]
    by_source: dict[str, Any] = {}
    by_damage: dict[str, Any] = {}
    for r in records:
        for table, key in ((by_source, r["case"].split("/")[0]), (by_damage, r.get("damage", "?"))):
            d = table.setdefault(key, {"cases": 0, "repaired": 0})
            d["cases"] += 1
            d["repaired"] += r["repaired_at"] is not None
    return {
        "cases": n,
        "repaired": len(rep),
        "fraction_repaired": len(rep) / n if n else float("nan"),
        "median_steps_to_repair": float(statistics.median(rep)) if rep else float("nan"),
        # over all cases, an unrepaired case counting as "more than `steps`" (inf): finite only when
        # more than half of the cases were repaired
        "median_steps_to_repair_all_cases": float(statistics.median(
            [r["repaired_at"] if r["repaired_at"] is not None else float("inf") for r in records])),
        "median_final_dice": float(statistics.median(r["final_dice"] for r in records)),
        "mean_final_dice": float(np.mean([r["final_dice"] for r in records])),
        "median_start_dice": float(statistics.median(r["start_dice"] for r in records)),
        "median_grad_pixels_per_wrong_feature": float(statistics.median(
            r["grad_pixels_per_wrong_feature"] for r in records)),
        "median_grad_nonzero_pixels": float(statistics.median(r["grad_nonzero_pixels"] for r in records)),
        "median_grad_on_fix_per_wrong_feature": float(statistics.median(
            r["grad_on_fix_per_wrong_feature"] for r in records)),
        "median_grad_noise_free_per_wrong_feature": float(statistics.median(
            r["grad_noise_free_per_wrong_feature"] for r in records)),
        "fraction_of_gradient_pixels_on_fix": float(
            sum(r["grad_nonzero_on_fix"] for r in records) / max(1, sum(r["grad_nonzero_pixels"] for r in records))),
        "median_seconds_per_step": float(statistics.median(r["seconds"] / r["steps_run"] for r in records)),
        "by_source": by_source,
        "by_damage": by_damage,
        "repaired_fraction_by_step": curve,
    }


def plot_repair(payload: dict[str, Any], path: str | Path) -> None:
    """Two panels from a repair JSON payload: repaired fraction vs step per loss, and gradient pixels
    per wrong feature (all, and on the fix) per loss, log scale. Written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = payload["summary"]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.5, 1]})
    for name, s in summary.items():
        curve = s["repaired_fraction_by_step"]
        ax0.step(range(len(curve)), curve, where="post",
                 label=f"{name} ({s['repaired']}/{s['cases']})", lw=2 if name == "topodense" else 1.3)
    ax0.set_xlabel("Adam step")
    ax0.set_ylabel("fraction repaired (Betti-matching error 0)")
    ax0.set_ylim(-0.02, 1.02)
    ax0.grid(alpha=0.3)
    ax0.legend(loc="upper left", fontsize=8)
    n_cases = next(iter(summary.values()))["cases"] if summary else 0
    ax0.set_title(f"repair of {n_cases} perturbed real ground truths", fontsize=10)
    names = list(summary)
    x = np.arange(len(names))
    allpx = [max(summary[n]["median_grad_pixels_per_wrong_feature"], 0.1) for n in names]
    onfix = [max(summary[n]["median_grad_on_fix_per_wrong_feature"], 0.1) for n in names]
    clean = [max(summary[n].get("median_grad_noise_free_per_wrong_feature", 0.1), 0.1) for n in names]
    ax1.bar(x - 0.27, allpx, 0.27, label="all pixels")
    ax1.bar(x, onfix, 0.27, label="pixels on the fix")
    ax1.bar(x + 0.27, clean, 0.27, label="all pixels, noise-free start")
    ax1.set_yscale("log")
    ax1.set_xticks(x, names, rotation=20, fontsize=8)
    ax1.set_ylabel("non-zero gradient pixels / wrong feature")
    ax1.set_title("gradient density at the start (median)", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="nnunet-topo bench repair", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="FILE", help="write results here (default: stdout)")
    ap.add_argument("--cases", type=int, help=f"number of corpus cases (default {DEFAULTS['cases']})")
    ap.add_argument("--steps", type=int, help=f"Adam steps per case (default {DEFAULTS['steps']})")
    ap.add_argument("--losses", help=f"comma-separated subset of {','.join(LOSSES)} (default: all available)")
    ap.add_argument("--quick", action="store_true",
                    help=f"small run for tests: {QUICK['cases']} cases, {QUICK['steps']} steps, "
                         "cost on a 256x256 patch instead of the planned one")
    ap.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    ap.add_argument("--fidelity", type=float, default=DEFAULTS["fidelity"],
                    help="weight of mean((z - z0)^2), identical for every loss")
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    ap.add_argument("--workers", type=int, default=1,
                    help="processes for the repair runs (one case per task, results in corpus order)")
    ap.add_argument("--plot", metavar="PNG", help="also write the repair/gradient-density figure here")
    ap.add_argument("--cost-only", action="store_true", help="only the cost part (no repair runs)")
    ap.add_argument("--no-cost", action="store_true", help="skip the cost part (planning + timings)")
    ap.add_argument("--data-root", help="real data root (default: ../shared/data beside the checkout)")
    return ap.parse_args(argv)


def _git_commit() -> str | None:
    """``HEAD`` of the checkout this module runs from (plus ``+dirty`` when tracked files differ), or None."""
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _data_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("NNUNET_TOPO_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nnunet-topo bench repair``; returns the exit code."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    cases_n = args.cases if args.cases is not None else (QUICK["cases"] if args.quick else DEFAULTS["cases"])
    steps = args.steps if args.steps is not None else (QUICK["steps"] if args.quick else DEFAULTS["steps"])
    if cases_n < 1 or steps < 1 or args.workers < 1:
        print(f"nnunet-topo bench repair: --cases, --steps and --workers must be >= 1, got {cases_n}, {steps} "
              f"and {args.workers}", file=sys.stderr)
        return 2
    avail = available_losses()
    if args.losses:
        names = [s.strip() for s in args.losses.split(",") if s.strip()]
        unknown = [s for s in names if s not in LOSSES]
        if unknown:
            print(f"nnunet-topo bench repair: unknown loss(es) {unknown}; expected some of {list(LOSSES)}",
                  file=sys.stderr)
            return 2
        missing = {s: avail[s] for s in names if avail[s]}
        if missing:
            print(f"nnunet-topo bench repair: requested loss(es) not importable: {missing}", file=sys.stderr)
            return 2
    else:
        names = [s for s in LOSSES if not avail[s]]
    root = _data_root(args.data_root)

    import torch
    from tqdm import tqdm

    from ._common import write_json
    from ._repair_corpus import build_corpus

    try:
        corpus = build_corpus(root, cases_n, seed=args.seed)
    except ValueError as exc:
        print(f"nnunet-topo bench repair: {exc}", file=sys.stderr)
        return 2

    if args.cost_only and args.no_cost:
        print("nnunet-topo bench repair: --cost-only and --no-cost exclude each other", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    records: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    jobs = [(case, names, steps, args.lr, args.fidelity, args.seed + i)
            for i, case in enumerate([] if args.cost_only else corpus)]
    with tqdm(total=len(jobs), desc="repair", unit="case") as bar:
        if args.workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(args.workers) as pool:
                for recs in pool.imap(_run_all_losses, jobs):  # ordered like the corpus
                    for r in recs:
                        records[r["loss"]].append(r)
                    bar.update()
        else:
            for job in jobs:
                for r in _run_all_losses(job):
                    records[r["loss"]].append(r)
                bar.update()
    summary = {} if args.cost_only else {n: summarise(records[n], steps) for n in names}

    payload = {
        "benchmark": "repair",
        "git_commit": _git_commit(),
        "command": "nnunet-topo bench repair " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {"cases": cases_n, "steps": steps, "lr": args.lr, "fidelity": args.fidelity,
                     "amplitude": DEFAULTS["amplitude"], "seed": args.seed, "optimizer": "Adam",
                     "repair_criterion": "Betti-matching error 0, binarised p >= 0.5, connectivity full",
                     "torch_threads_repair": 1},
        "losses": {n: LOSSES[n][1] for n in names},
        "unavailable_losses": {n: why for n, why in avail.items() if why},
        "corpus": [{"name": c.name, "perturbations": list(c.perturbations), "betti_target": list(c.betti_target),
                    "betti_perturbed": list(c.betti_perturbed), "shape": list(c.target.shape)}
                   for c in ([] if args.cost_only else corpus)],
        "summary": summary,
        "cost": None if args.no_cost else "not finished",
        "records": records,
    }
    if args.json and not args.no_cost and not args.cost_only:
        write_json(payload, args.json)  # the repair part is kept even if the cost part fails

    if not args.no_cost:
        from ._repair_cost import plan_drive_2d, time_costs

        torch.set_num_threads(min(2, os.cpu_count() or 1))
        print("cost: planning DRIVE with nnU-Net ...", file=sys.stderr)
        plans = plan_drive_2d(root)
        # BettiPriorLoss is timed with the prior "one connected tree, no loops" (1, 0)
        factories = {n: (lambda n=n: build_loss(n, (1, 0))) for n in names}
        payload["cost"] = time_costs(root, plans, factories, repeats=2 if args.quick else 3,
                                     patch_override=(256, 256) if args.quick else None)
    write_json(payload, args.json)
    if args.plot and summary:
        plot_repair(payload, args.plot)
    for n in summary:
        s = summary[n]
        print(f"{n:15s} repaired {s['repaired']}/{s['cases']}  median steps {s['median_steps_to_repair']}  "
              f"median Dice {s['median_final_dice']:.3f}  grad px/wrong feature "
              f"{s['median_grad_pixels_per_wrong_feature']:.1f}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
