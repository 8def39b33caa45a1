"""Test-only environment repair, loaded at start-up by the nnU-Net subprocesses of the trainer tests.

On a machine with a CPU-only torch and PyPI's CUDA torchvision, torchvision's compiled ops cannot load
and its unguarded ``register_fake("torchvision::nms"/"qnms")`` crashes ``import torchvision``; nnU-Net's
trainer lookup imports timm -> torchvision and dies with it, whatever trainer is asked for. Declaring
the two op schemas lets torchvision import (its ops stay unavailable; nnU-Net does not use them).
Does nothing when torchvision's ops load. See tests/training/conftest.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torchvision_repair  # noqa: E402

torchvision_repair.repair()
sys.path.pop(0)
