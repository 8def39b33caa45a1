"""Where nnU-Net finds the nnunet_topo trainers: ``nnunet-topo trainers-path``.

The shim folder ``trainers/`` of the repository is installed as the top-level package
``nnunet_topo_trainers`` (see ``setup.py``), so its directory exists for an editable install (it is the
repository's ``trainers/``) and for a wheel install (``site-packages/nnunet_topo_trainers``). Users type::

    export nnUNet_extTrainer=$(nnunet-topo trainers-path)

This module imports neither torch nor nnU-Net.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

__all__ = ["SHIM_PACKAGE", "trainers_path", "main"]

SHIM_PACKAGE = "nnunet_topo_trainers"


def trainers_path() -> Path:
    """The folder to export as ``nnUNet_extTrainer`` (absolute; it holds the shim modules).

    Raises:
        RuntimeError: the shim package is not installed (a broken or outdated install of nnunet_topo).
    """
    spec = importlib.util.find_spec(SHIM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"expected the package {SHIM_PACKAGE!r} (installed with nnunet_topo from its trainers/ folder), "
            "found none; reinstall nnunet_topo (`pip install .` or `pip install -e .`)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))).resolve()
    if not (folder / "nnUNetTrainerTopo.py").is_file():
        raise RuntimeError(f"expected the trainer shim nnUNetTrainerTopo.py in {folder}, found none; reinstall nnunet_topo")
    return folder


def main(argv: list[str] | None = None) -> int:
    """``nnunet-topo trainers-path``: print the folder for ``nnUNet_extTrainer``."""
    parser = argparse.ArgumentParser(
        prog="nnunet-topo trainers-path",
        description="Print the folder that holds the nnunet_topo trainer shims. Use it as "
        "`export nnUNet_extTrainer=$(nnunet-topo trainers-path)`, then "
        "`nnUNetv2_train DATASET 2d 0 -tr nnUNetTrainerTopoDense`.",
    )
    parser.parse_args(argv)
    try:
        print(trainers_path())
    except RuntimeError as e:
        print(f"nnunet-topo trainers-path: {e}", file=sys.stderr)
        return 1
    return 0
