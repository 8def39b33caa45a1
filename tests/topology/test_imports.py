"""The engine must import without torch (the metrics and evaluator run without it)."""
from __future__ import annotations

import subprocess
import sys


def test_topology_does_not_import_torch():
    code = (
        "import sys, numpy as np\n"
        "import nnunet_topo.topology as t\n"
        "t.persistence(np.random.default_rng(0).random((5, 6, 7)))\n"
        "t.betti_numbers(np.ones((3, 4), bool))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "[]"
