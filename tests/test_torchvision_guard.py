"""The environment imports torchvision, so nnU-Net's trainer lookup (which imports it) works."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from nnunet_topo import _torchvision_guard


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed")
def test_nnunet_trainer_lookup_survives_torchvision_import():
    code = (
        "import os, nnunetv2\n"
        "from nnunetv2.utilities.find_class_by_name import recursive_find_python_class\n"
        "cls = recursive_find_python_class(os.path.join(nnunetv2.__path__[0], 'training', 'nnUNetTrainer'),\n"
        "                                  'nnUNetTrainer_5epochs', 'nnunetv2.training.nnUNetTrainer')\n"
        "print(cls.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("nnUNetTrainer_5epochs")


def test_hook_is_idempotent_and_removes_itself(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    _torchvision_guard.install_hook()
    _torchvision_guard.install_hook()
    guards = [f for f in sys.meta_path if isinstance(f, _torchvision_guard._TorchvisionGuard)]
    assert len(guards) == 1
    assert guards[0].find_spec("not_torchvision") is None and guards[0] in sys.meta_path
    monkeypatch.setattr(_torchvision_guard, "declare_missing_ops", lambda: False)
    assert guards[0].find_spec("torchvision") is None
    assert not any(isinstance(f, _torchvision_guard._TorchvisionGuard) for f in sys.meta_path)


def test_cli_usage_error(capsys):
    assert _torchvision_guard.main(["--frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err
