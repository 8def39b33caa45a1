"""Let ``import torchvision`` succeed where its compiled ops cannot load into the installed torch.

Why: on CPU-only machines pip pairs the local CPU torch with PyPI's CUDA torchvision. Its ``_C``
library links CUDA libraries that a CPU torch lacks, so the ops are never registered, and the
unguarded ``register_fake("torchvision::nms")`` in ``torchvision/_meta_registrations.py`` makes
``import torchvision`` raise ``RuntimeError: operator torchvision::nms does not exist``. nnU-Net's
trainer lookup imports every trainer module, among them the Primus trainers (-> timm ->
torchvision), so *every* ``-tr`` other than ``nnUNetTrainer`` fails on such a machine.

What: a meta-path hook that, the first time ``torchvision`` is imported, checks whether its compiled
library loads; only when it does not, it declares the two op schemas (``nms``, ``qnms``) that
torchvision registers fake kernels for. torchvision then imports; its compiled ops stay unavailable
(nnU-Net and nnunet_topo do not use them). Where torchvision is absent or works, nothing happens.

How it is installed: ``make install`` runs ``python -m nnunet_topo._torchvision_guard --install``
only when ``import torchvision`` fails in the new environment; that writes a one-line ``.pth`` file
into the environment's site-packages so every Python process of the environment (``nnUNetv2_train``
included) gets the hook. ``--uninstall`` removes it.
"""
from __future__ import annotations

import glob
import importlib.abc
import importlib.util
import os
import sys
import sysconfig
from pathlib import Path

__all__ = ["install_hook", "torchvision_ops_loadable", "declare_missing_ops", "PTH_NAME"]

PTH_NAME = "nnunet_topo_torchvision_guard.pth"
_LIBRARY = None  # keeps the torch.library.Library alive


def torchvision_ops_loadable() -> bool:
    """True when torchvision is absent or its compiled ``_C`` library loads into this torch."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True
    libs = glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so"))
    if not libs:
        return True
    import torch

    try:
        torch.ops.load_library(libs[0])
    except (OSError, RuntimeError):
        return False
    return True


def declare_missing_ops() -> bool:
    """Declare ``torchvision::nms``/``qnms`` if torchvision's ops cannot load; True when it did."""
    global _LIBRARY
    if _LIBRARY is not None or torchvision_ops_loadable():
        return False
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBRARY = lib
    return True


class _TorchvisionGuard(importlib.abc.MetaPathFinder):
    """Runs :func:`declare_missing_ops` once, just before ``torchvision`` is first imported."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D401 - importlib protocol
        if fullname == "torchvision":
            sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TorchvisionGuard)]
            declare_missing_ops()
        return None  # let the regular finders import it


def install_hook() -> None:
    """Put the guard on ``sys.meta_path`` (idempotent). Called from the ``.pth`` file."""
    if "torchvision" not in sys.modules and not any(isinstance(f, _TorchvisionGuard) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionGuard())


def _pth_path() -> Path:
    return Path(sysconfig.get_paths()["purelib"]) / PTH_NAME


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--install"]:
        path = _pth_path()
        path.write_text("import nnunet_topo._torchvision_guard as _g; _g.install_hook()\n")
        print(f"nnunet_topo: torchvision's compiled ops do not load into this torch; installed {path}")
        return 0
    if argv == ["--uninstall"]:
        _pth_path().unlink(missing_ok=True)
        return 0
    print("usage: python -m nnunet_topo._torchvision_guard --install | --uninstall", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
