"""``nnunet-topo bench matching``: Betti matching, ours against Betti-Matching-3D on the same pairs.

Pairs (prediction, target) for every size:

* ``vessel``: target = a vessel-like map thresholded at 0.5 (binary), prediction = a near-binary map
  made from the same vessels (a trained network's output, ``_common.near_binary``);
* ``smooth``: target = a thresholded smooth random field, prediction = another smooth random field.

Methods, single-threaded, medians over ``--repeats`` timed calls after one untimed first call
(reported as ``first_s``, which includes numba compilation when the cache is cold):

* ``ours face all dims``: ``betti_matching(..., connectivity="face")``, the V-construction, the
  same construction as Betti-Matching-3D;
* ``ours full all dims``: the project default (T-construction);
* ``ours full dims 0,d-1``: the union-find dimensions only (in 3D this leaves out loops, which go
  through a boundary-matrix reduction);
* ``Betti-Matching-3D``: ``compute_matching(1 - p, 1 - g)`` from ``topolosses`` (V-construction).

``ratio`` (peer median / ours median) compares ``Betti-Matching-3D`` with ``ours face all dims``
from the same run.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import numpy as np

from ._common import near_binary, single_thread, smooth_field, time_call, vessel_like, write_json
from ._peers import PeerUnavailable

__all__ = ["main", "run", "make_pair"]

DEFAULT_SIZES = ("256x256", "512x512", "64x64x64", "96x96x96")
QUICK_SIZES = ("48x40", "12x10x9")
KINDS = ("vessel", "smooth")


def _parse_size(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: expected sizes like 512x512 or 64x64x64, got {text!r}")
    if len(shape) not in (2, 3) or min(shape) < 2:
        raise argparse.ArgumentTypeError(f"--sizes: expected a 2D or 3D size like 512x512, got {text!r}")
    return shape


def make_pair(kind: str, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(prediction, target)`` float64 C-order arrays of ``shape`` for an input ``kind``."""
    if kind == "vessel":
        target = (vessel_like(shape, seed=seed) > 0.5).astype(np.float64)
        pred = near_binary(shape, seed=seed).astype(np.float64)
    elif kind == "smooth":
        target = (smooth_field(shape, seed=seed + 1, sigma=3.0) > 0.5).astype(np.float64)
        pred = smooth_field(shape, seed=seed, sigma=3.0).astype(np.float64)
    else:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    return np.ascontiguousarray(pred), np.ascontiguousarray(target)


def _methods(pred: np.ndarray, target: np.ndarray, peer: bool) -> dict[str, Callable[[], Any]]:
    from nnunet_topo.topology import betti_matching

    ndim = pred.ndim
    out: dict[str, Callable[[], Any]] = {
        "ours face all dims": lambda: betti_matching(pred, target, connectivity="face"),
        "ours full all dims": lambda: betti_matching(pred, target, connectivity="full"),
        f"ours full dims 0,{ndim - 1}": lambda: betti_matching(pred, target, dims=(0, ndim - 1)),
    }
    if peer:
        from ._peers import load_betti_matching_3d

        bm3d = load_betti_matching_3d()
        a = np.ascontiguousarray(1.0 - pred)
        b = np.ascontiguousarray(1.0 - target)
        out["Betti-Matching-3D"] = lambda: bm3d.compute_matching(a, b)
    return out


def run(sizes: list[tuple[int, ...]], kinds: list[str], repeats: int, peer: bool = True,
        progress: bool = True) -> dict:
    """Time every (kind, size, method); returns the JSON payload (without machine info)."""
    from tqdm import tqdm

    from nnunet_topo.topology import betti_matching

    rows: list[dict[str, Any]] = []
    jobs = [(kind, shape) for shape in sizes for kind in kinds]
    for kind, shape in tqdm(jobs, desc="bench matching", disable=not progress):
        pred, target = make_pair(kind, shape)
        face = betti_matching(pred, target, connectivity="face")
        for name, fn in _methods(pred, target, peer).items():
            t = time_call(fn, repeats=repeats, warmup=1)
            row = {"kind": kind, "shape": list(shape), "voxels": int(np.prod(shape)), "method": name, **t}
            if name == "ours face all dims":
                row["errors"] = list(face.errors)
                row["matched"] = [m.num_matched for m in face]
            if name == "Betti-Matching-3D":
                r = fn()
                row["errors"] = [int(a) + int(b) for a, b in zip(r.num_unmatched_input1, r.num_unmatched_input2)]
                row["matched"] = [int(m) for m in r.num_matched]
            rows.append(row)
        ours = next(r for r in rows if r["kind"] == kind and r["shape"] == list(shape)
                    and r["method"] == "ours face all dims")
        for r in rows:
            if r["kind"] == kind and r["shape"] == list(shape) and r["method"] == "Betti-Matching-3D":
                r["ratio_to_ours"] = r["median_s"] / ours["median_s"]
    return {"rows": rows}


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(rows: list[dict]) -> str:
    """Markdown table of the rows (used for docs/benchmarks.md)."""
    lines = ["| input | size | method | median | first call | peer / ours (face) |", "|---|---|---|---|---|---|"]
    for r in rows:
        size = "x".join(str(s) for s in r["shape"])
        ratio = r.get("ratio_to_ours")
        lines.append(f"| {r['kind']} | {size} | {r['method']} | {_fmt(r['median_s'])} | {_fmt(r['first_s'])} | "
                     f"{'' if ratio is None else f'{ratio:.1f}x'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nnunet-topo bench matching", description=__doc__.split("\n")[0])
    parser.add_argument("--json", metavar="FILE", help="write the results to FILE (default: print JSON)")
    parser.add_argument("--sizes", nargs="+", type=_parse_size, metavar="SIZE",
                        help=f"sizes like 512x512 or 64x64x64 (default: {' '.join(DEFAULT_SIZES)})")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="input kinds")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per method (default 5)")
    parser.add_argument("--quick", action="store_true", help=f"tiny sizes ({' '.join(QUICK_SIZES)}), 2 repeats")
    parser.add_argument("--no-peer", action="store_true", help="skip Betti-Matching-3D")
    parser.add_argument("--table", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats: expected a positive integer, got {args.repeats}")
    sizes = args.sizes or [_parse_size(s) for s in (QUICK_SIZES if args.quick else DEFAULT_SIZES)]
    repeats = 2 if args.quick and args.sizes is None else args.repeats
    single_thread()
    try:
        payload = run(sizes, args.kinds, repeats, peer=not args.no_peer)
    except (ImportError, PeerUnavailable) as exc:  # the peer is an optional extra
        print(f"nnunet-topo bench matching: {exc}; install the [bench] extra or pass --no-peer", file=sys.stderr)
        return 2
    payload = {"benchmark": "matching", "command": "nnunet-topo bench matching " + " ".join(argv or []),
               "repeats": repeats, **payload}
    write_json(payload, args.json)
    if args.table:
        print(table(payload["rows"]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
