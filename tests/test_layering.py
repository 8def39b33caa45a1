"""Dependencies point one way; topology, metrics and conversion import without torch."""
from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = {
    "nnunet_topo.topology": ("torch", "nnunet_topo.losses", "nnunet_topo.metrics", "nnunet_topo.training",
                             "nnunet_topo.evaluation", "nnunet_topo.conversion"),
    "nnunet_topo.metrics": ("torch", "nnunet_topo.losses", "nnunet_topo.training", "nnunet_topo.evaluation"),
    "nnunet_topo.evaluation": ("torch", "nnunet_topo.losses", "nnunet_topo.training"),
    "nnunet_topo.conversion": ("torch", "nnunet_topo.topology", "nnunet_topo.losses", "nnunet_topo.metrics",
                               "nnunet_topo.training", "nnunet_topo.evaluation"),
    "nnunet_topo.losses": ("nnunet_topo.training", "nnunet_topo.metrics", "nnunet_topo.evaluation",
                           "nnunet_topo.conversion"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_does_not_pull_forbidden_modules(package):
    code = (
        f"import sys, {package}\n"
        f"bad = [m for m in {FORBIDDEN[package]!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing {package} imported {out.stdout.strip()}"
