"""Shared pieces of the benchmarks: timing, machine description, inputs and JSON output."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = [
    "time_call",
    "machine_info",
    "write_json",
    "smooth_field",
    "vessel_like",
    "near_binary",
    "INPUT_KINDS",
    "single_thread",
]


def single_thread() -> None:
    """Pin BLAS/OpenMP/numba/torch to one thread (benchmarks compare single-thread speed)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def time_call(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times untimed (the first is reported as ``first_s``), then ``repeats`` timed.

    Returns seconds: ``first_s`` (first call, includes JIT compilation), ``median_s``, ``min_s``, ``max_s``.
    """
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    for _ in range(max(0, warmup - 1)):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"first_s": first, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "repeats": repeats}


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (recorded in every JSON)."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def write_json(payload: dict[str, Any], path: str | os.PathLike | None) -> None:
    """Write ``payload`` (plus machine info) as indented JSON to ``path``, or stdout when ``None``.

    Written to a temporary file and renamed, so an interrupted run leaves no half-written file.
    """
    payload = {"machine": machine_info(), **payload}
    text = json.dumps(payload, indent=2, default=float, allow_nan=True)
    if path is None:
        print(text)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)


def smooth_field(shape: tuple[int, ...], *, seed: int = 0, sigma: float = 4.0) -> np.ndarray:
    """Gaussian-smoothed white noise rescaled to [0, 1], float32, C order."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    f = gaussian_filter(rng.standard_normal(shape), sigma)
    f = (f - f.min()) / (np.ptp(f) + 1e-12)
    return f.astype(np.float32)


def vessel_like(shape: tuple[int, ...], *, seed: int = 0, n_curves: int | None = None) -> np.ndarray:
    """A probability-like map of thin random curves (vessels) on a noisy background, float32 in [0, 1]."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    ndim = len(shape)
    n_curves = n_curves or (12 if ndim == 2 else 20)
    canvas = np.zeros(shape, dtype=np.float64)
    size = np.array(shape, dtype=np.float64)
    for _ in range(n_curves):
        p = rng.uniform(0, 1, ndim) * size
        direction = rng.standard_normal(ndim)
        steps = int(2 * size.max())
        for _ in range(steps):
            direction += 0.3 * rng.standard_normal(ndim)
            direction /= np.linalg.norm(direction) + 1e-12
            p = p + direction
            idx = tuple(np.clip(p.astype(int), 0, size.astype(int) - 1))
            canvas[idx] = 1.0
    vessels = gaussian_filter(canvas, 0.8)
    vessels = vessels / (vessels.max() + 1e-12)
    noise = gaussian_filter(rng.uniform(0, 1, shape), 1.0) * 0.3
    return np.clip(vessels + noise, 0, 1).astype(np.float32)


def near_binary(shape: tuple[int, ...], *, seed: int = 0) -> np.ndarray:
    """Like a trained network's output: values near 0 or 1 with a thin soft border and rare noise."""
    rng = np.random.default_rng(seed)
    v = vessel_like(shape, seed=seed)
    logits = 12.0 * (v - 0.45) + rng.normal(0, 0.5, shape)
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


INPUT_KINDS: dict[str, Callable[..., np.ndarray]] = {
    "smooth": smooth_field,
    "vessel": vessel_like,
    "near_binary": near_binary,
}
