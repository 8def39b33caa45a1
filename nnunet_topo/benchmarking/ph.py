"""``nnunet-topo bench ph``: the persistence engine against gudhi and cripser on the same inputs.

For every input kind (smooth random field, vessel-like map, near-binary map like a trained network's
output) and size, it times, single-threaded and with critical cells:

* ours (``persistence(..., backend="fast")``) for dims ``0`` and ``d - 1`` (union-find only) and,
  in 3D, for all dims (dim 1 by our own reduction, as ``"auto"`` does) and for all dims with dim 1
  delegated to cripser (what ``"auto"`` did before our reduction was the faster);
* gudhi (``CubicalComplex(top_dimensional_cells=-p)`` + ``cofaces_of_persistence_pairs``), all dims;
* cripser (``computePH_T(-p)``, T-construction, with locations), all dims.

Medians over ``--repeats`` timed calls after one untimed first call, which is reported separately
(``first_s``). The JIT compilation time of the numba kernels is measured once in a fresh subprocess
with an empty numba cache. Peak memory beyond the input is the peak RSS of a fresh subprocess above
its level just before the call (``/proc/self/clear_refs`` resets the peak), in bytes per voxel.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

from ._common import INPUT_KINDS, single_thread, time_call, write_json

__all__ = ["main", "run"]

DEFAULT_SIZES = ("256x256", "512x512", "1024x1024", "64x64x64", "96x96x96", "128x128x128")
QUICK_SIZES = ("48x40", "12x10x9")


def _parse_size(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: expected sizes like 512x512 or 64x64x64, got {text!r}")
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"--sizes: expected a 2D or 3D size like 512x512, got {text!r}")
    return shape


_MEMORY_CODE = """
import sys, numpy as np
from nnunet_topo.benchmarking import ph
from nnunet_topo.benchmarking._common import INPUT_KINDS
kind, shape, method = sys.argv[1], tuple(int(s) for s in sys.argv[2].split('x')), sys.argv[3]
tiny = INPUT_KINDS[kind]((6,) * len(shape), seed=0)
ph._method(method, tiny)()  # load modules and compiled kernels first
image = INPUT_KINDS[kind](shape, seed=0)
fn = ph._method(method, image)
before = ph._read_status('VmRSS')
with open('/proc/self/clear_refs', 'w') as fh:
    fh.write('5')
result = fn()
print(ph._read_status('VmHWM') - before)
"""


def _read_status(field: str) -> int | None:
    """A ``/proc/self/status`` memory field in bytes (Linux), else None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def peak_extra_bytes(kind: str, shape: tuple[int, ...], method: str) -> int | None:
    """Peak resident memory above the level before the call (input already in memory), in bytes.

    Measured in a fresh process (modules and kernels loaded on a tiny input first), because a
    process that already ran the call keeps freed memory and would report nothing. Linux only.
    """
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    size = "x".join(str(s) for s in shape)
    proc = subprocess.run([sys.executable, "-c", _MEMORY_CODE, kind, size, method],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        return None
    return max(0, int(proc.stdout.strip().splitlines()[-1]))


def _method(name: str, image: np.ndarray) -> Callable[[], Any] | None:
    """The callable timed for a method name (see ``run``)."""
    ndim = image.ndim
    if name.startswith("ours dims"):
        return _ours(image, (0, ndim - 1))
    if name == "ours all dims":
        return _ours(image, tuple(range(ndim)))
    if name == "ours all dims, cripser dim 1":
        return _ours_cripser_loops(image)
    if name.startswith("cripser"):
        return _cripser(image)
    if name.startswith("gudhi"):
        return _gudhi(image)
    raise ValueError(f"unknown method {name!r}")


def _ours(image: np.ndarray, dims: tuple[int, ...]) -> Callable[[], Any]:
    from nnunet_topo.topology import persistence

    return lambda: persistence(image, dims=dims, connectivity="full", backend="fast")


def _ours_cripser_loops(image: np.ndarray) -> Callable[[], Any] | None:
    """All dims of a 3D image with dimension 1 delegated to cripser (None without cripser)."""
    from nnunet_topo.topology._fast_backend import _cripser_modules, fast_diagrams
    from nnunet_topo.topology._validation import check_image

    if _cripser_modules() is None:
        return None
    return lambda: fast_diagrams(check_image(image), (0, 1, 2), "full", loops="cripser")


def _gudhi(image: np.ndarray) -> Callable[[], Any]:
    from nnunet_topo.topology import persistence

    return lambda: persistence(image, connectivity="full", backend="gudhi")


def _cripser(image: np.ndarray) -> Callable[[], Any] | None:
    from nnunet_topo.topology._fast_backend import _cripser_modules

    modules = _cripser_modules()
    if modules is None:
        return None
    t_module = modules[1]

    def call():
        # Same work as ours: validation to float64 C order, then the reduction with locations.
        return t_module.computePH(np.ascontiguousarray(-image.astype(np.float64)))

    return call


def jit_compile_seconds() -> float | None:
    """Seconds of the first ``persistence`` calls (2D and 3D) in a fresh process with an empty numba cache."""
    code = (
        "import time, numpy as np\n"
        "from nnunet_topo.topology import persistence\n"
        "t = time.perf_counter()\n"
        "persistence(np.random.default_rng(0).random((8, 9)), backend='fast')\n"
        "persistence(np.random.default_rng(0).random((5, 6, 7)), dims=(0, 2), backend='fast')\n"
        "print(time.perf_counter() - t)\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        return None
    return float(proc.stdout.strip().splitlines()[-1])


def run(sizes: list[tuple[int, ...]], kinds: list[str], repeats: int, peers: tuple[str, ...] = ("cripser", "gudhi"),
        memory: str = "ours", peer_repeats: int | None = None, progress: bool = True) -> dict:
    """Time every (kind, size, method); returns the JSON payload (without machine info)."""
    from tqdm import tqdm

    rows: list[dict[str, Any]] = []
    jobs = [(kind, shape) for shape in sizes for kind in kinds]
    for kind, shape in tqdm(jobs, desc="bench ph", disable=not progress):
        image = INPUT_KINDS[kind](shape, seed=0)
        ndim = len(shape)
        top = (0, ndim - 1)
        names = [f"ours dims 0,{ndim - 1}"]
        if ndim == 3:
            names += ["ours all dims", "ours all dims, cripser dim 1"]
        names += [f"{peer} all dims" for peer in peers]
        for name in names:
            fn = _method(name, image)
            if fn is None:
                continue
            cpu: list[float] = []

            def timed(fn=fn, cpu=cpu):
                c0 = time.process_time()
                out = fn()
                cpu.append(time.process_time() - c0)
                return out

            is_peer = not name.startswith("ours")
            n_rep = peer_repeats if (is_peer and peer_repeats) else repeats
            t = time_call(timed, repeats=n_rep, warmup=1)
            measure = memory == "all" or (memory == "ours" and not is_peer)
            peak = peak_extra_bytes(kind, shape, name) if measure else None
            rows.append({
                "kind": kind, "shape": list(shape), "voxels": int(np.prod(shape)), "method": name, **t,
                "cpu_median_s": float(np.median(cpu[1:])),
                "peak_extra_bytes": peak,
                "peak_extra_bytes_per_voxel": None if peak is None else peak / float(np.prod(shape)),
            })
    # Ratios within this run: peer median / our median on the same input (all dims for all dims).
    for row in rows:
        if not row["method"].startswith(("cripser", "gudhi")):
            continue
        ours_name = "ours dims 0,1" if len(row["shape"]) == 2 else "ours all dims"
        ours = [r for r in rows if r["kind"] == row["kind"] and r["shape"] == row["shape"] and r["method"] == ours_name]
        if ours:
            row["ratio_to_ours"] = row["median_s"] / ours[0]["median_s"]
            row["cpu_ratio_to_ours"] = row["cpu_median_s"] / ours[0]["cpu_median_s"]
    return {"rows": rows}


def _table(rows: list[dict]) -> str:
    lines = ["| input | size | method | median (wall) | median (CPU) | first call | peak extra B/voxel | peer / ours |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = "x".join(str(s) for s in r["shape"])
        med = r["median_s"]
        med_s = f"{med * 1e3:.1f} ms" if med < 1 else f"{med:.2f} s"
        first = r["first_s"]
        first_s = f"{first * 1e3:.1f} ms" if first < 1 else f"{first:.2f} s"
        per = r.get("peak_extra_bytes_per_voxel")
        per_s = "n/a" if per is None else f"{per:.1f}"
        ratio = r.get("ratio_to_ours")
        ratio_s = "" if ratio is None else f"{ratio:.1f}x (CPU {r['cpu_ratio_to_ours']:.1f}x)"
        cpu = r["cpu_median_s"]
        cpu_s = f"{cpu * 1e3:.1f} ms" if cpu < 1 else f"{cpu:.2f} s"
        lines.append(f"| {r['kind']} | {size} | {r['method']} | {med_s} | {cpu_s} | {first_s} | {per_s} | {ratio_s} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nnunet-topo bench ph",
        description="Time the persistence engine against gudhi and cripser (single thread, medians).",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="write results as JSON here (default: stdout)")
    parser.add_argument("--sizes", nargs="+", type=_parse_size, default=None,
                        help=f"sizes like 512x512 64x64x64 (default: {' '.join(DEFAULT_SIZES)})")
    parser.add_argument("--kinds", nargs="+", choices=sorted(INPUT_KINDS), default=list(INPUT_KINDS),
                        help="input kinds (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per method (default 5)")
    parser.add_argument("--quick", action="store_true", help=f"tiny sizes {QUICK_SIZES}, 1 repeat (smoke test)")
    parser.add_argument("--peers", nargs="*", choices=("cripser", "gudhi"), default=["cripser", "gudhi"],
                        help="peers to time (default: cripser gudhi; none: only ours)")
    parser.add_argument("--peer-repeats", type=int, default=None,
                        help="timed calls per peer (default: --repeats); gudhi takes seconds at 3D sizes")
    parser.add_argument("--no-jit", action="store_true", help="skip the fresh-process JIT compilation measurement")
    parser.add_argument("--memory", choices=("ours", "all", "none"), default="ours",
                        help="whose peak memory to measure, each in a fresh subprocess (default: ours)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats: expected a positive integer, got {args.repeats}")
    single_thread()
    sizes = args.sizes or [_parse_size(s) for s in (QUICK_SIZES if args.quick else DEFAULT_SIZES)]
    repeats = 1 if args.quick else args.repeats
    t0 = time.perf_counter()
    payload = run(sizes, args.kinds, repeats, peers=tuple(args.peers), memory=args.memory,
                  peer_repeats=1 if args.quick else args.peer_repeats)
    payload = {
        "benchmark": "ph",
        "command": "nnunet-topo bench ph " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {"sizes": [list(s) for s in sizes], "kinds": args.kinds, "repeats": repeats,
                     "connectivity": "full", "threads": 1, "memory": args.memory,
                     "peers": args.peers, "peer_repeats": args.peer_repeats or repeats},
        "jit_compile_s": None if args.no_jit else jit_compile_seconds(),
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "wall_s": time.perf_counter() - t0,
        **payload,
    }
    print(_table(payload["rows"]), file=sys.stderr)
    if payload["jit_compile_s"] is not None:
        print(f"JIT compilation (fresh numba cache, 2D + 3D kernels): {payload['jit_compile_s']:.2f} s", file=sys.stderr)
    write_json(payload, args.json)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
