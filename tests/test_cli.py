"""The `nnunet-topo` dispatcher: every routed module exists and exposes main(argv)."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from nnunet_topo import cli


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_resolves(name):
    module, func, _ = cli.COMMANDS[name]
    assert callable(getattr(importlib.import_module(module), func))


@pytest.mark.parametrize("name", sorted(cli.BENCHMARKS))
def test_every_benchmark_resolves(name):
    module, _ = cli.BENCHMARKS[name]
    assert callable(importlib.import_module(module).main)


def test_unknown_command_is_a_clear_error(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    assert cli.main(["bench", "nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "nnunet_topo.cli", "--help"], capture_output=True, text=True, check=True)
    for name in cli.COMMANDS:
        assert name in out.stdout
