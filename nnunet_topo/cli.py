"""``nnunet-topo``: one command, lazily dispatched subcommands.

Each subcommand lives in the module that owns the work and exposes ``main(argv) -> int``; this file
only routes, so ``nnunet-topo convert`` never imports torch and start-up stays fast.
"""
from __future__ import annotations

import importlib
import sys

__all__ = ["main", "COMMANDS", "BENCHMARKS"]

# subcommand -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "convert": ("nnunet_topo.conversion.cli", "main", "convert a source dataset into an nnU-Net raw dataset"),
    "export": ("nnunet_topo.conversion.cli", "export_main", "turn nnU-Net predictions back into source label values"),
    "evaluate": ("nnunet_topo.evaluation.cli", "main", "topology evaluator over nnU-Net prediction folders"),
    "bench": ("nnunet_topo.cli", "bench_main", "benchmarks (JSON output): ph, matching, repair, evaluate, trainer, train"),
    "demo": ("nnunet_topo.demo.cli", "main", "train, predict and evaluate on the embedded demo dataset"),
    "trainers-path": ("nnunet_topo.training.discovery", "main", "print the folder to export as nnUNet_extTrainer"),
}

# bench NAME -> module with main(argv)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "ph": ("nnunet_topo.benchmarking.ph", "persistence engine vs gudhi and cripser"),
    "matching": ("nnunet_topo.benchmarking.matching", "Betti matching vs Betti-Matching-3D (topolosses)"),
    "repair": ("nnunet_topo.benchmarking.repair", "repair perturbed real ground truths by optimising logits"),
    "evaluate": ("nnunet_topo.benchmarking.evaluate", "evaluator throughput"),
    "trainer": ("nnunet_topo.benchmarking.trainer", "seconds per training iteration of each trainer"),
    "train": ("nnunet_topo.benchmarking.train", "train, predict and evaluate all trainers on real data"),
}


def _usage(table: dict, prog: str) -> str:
    width = max(len(k) for k in table)
    lines = [f"usage: {prog} COMMAND [options]   ({prog} COMMAND --help for its options)", "", "commands:"]
    for name, entry in table.items():
        lines.append(f"  {name.ljust(width)}  {entry[-1]}")
    return "\n".join(lines)


def _dispatch(module: str, func: str, argv: list[str]) -> int:
    fn = getattr(importlib.import_module(module), func)
    return int(fn(argv) or 0)


def bench_main(argv: list[str]) -> int:
    """``nnunet-topo bench NAME ...``."""
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(BENCHMARKS, "nnunet-topo bench"))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"nnunet-topo bench: unknown benchmark {name!r}; expected one of {sorted(BENCHMARKS)}", file=sys.stderr)
        return 2
    return _dispatch(BENCHMARKS[name][0], "main", rest)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(COMMANDS, "nnunet-topo"))
        return 0 if argv else 2
    if argv[0] == "--version":
        from nnunet_topo import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"nnunet-topo: unknown command {name!r}; expected one of {sorted(COMMANDS)}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    return _dispatch(module, func, rest)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
