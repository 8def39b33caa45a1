"""nnU-Net finds the trainers through ``nnUNet_extTrainer=$(nnunet-topo trainers-path)``; the classes pickle."""
from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnunet_topo.training.discovery import trainers_path

TRAINERS = [
    "nnUNetTrainerTopoBetti", "nnUNetTrainerTopoBettiMatching", "nnUNetTrainerTopoDense", "nnUNetTrainerClDice",
    "nnUNetTrainerTopoBetti_5epochs", "nnUNetTrainerTopoBettiMatching_5epochs", "nnUNetTrainerTopoDense_5epochs",
    "nnUNetTrainerClDice_5epochs", "nnUNetTrainerNoTopo_5epochs",
    "nnUNetTrainerTopoBetti_debug", "nnUNetTrainerTopoBettiMatching_debug", "nnUNetTrainerTopoDense_debug",
    "nnUNetTrainerClDice_debug", "nnUNetTrainerNoTopo_debug",
]
BIN = Path(sys.executable).parent


def test_cli_prints_the_shim_folder():
    out = subprocess.run([str(BIN / "nnunet-topo"), "trainers-path"], capture_output=True, text=True, check=True)
    folder = Path(out.stdout.strip())
    assert folder == trainers_path() and folder.is_absolute()
    assert (folder / "nnUNetTrainerTopo.py").is_file()


def test_trainers_path_needs_neither_torch_nor_nnunet():
    code = ("import sys; from nnunet_topo.training.discovery import trainers_path; trainers_path(); "
            "print(sorted(m for m in ('torch', 'nnunetv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", TRAINERS)
def test_nnunet_lookup_finds_each_trainer_and_it_pickles(name, monkeypatch):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    import nnunet_topo.training.variants as variants

    monkeypatch.setenv("nnUNet_extTrainer", str(trainers_path()))
    cls = recursive_find_trainer_class_by_name(name)
    # nnU-Net removed the shim folder from sys.path and unloaded the shim: the class must still pickle
    assert str(trainers_path()) not in sys.path and "nnUNetTrainerTopo" not in sys.modules
    assert cls is getattr(variants, name) and issubclass(cls, nnUNetTrainer)
    assert cls.__module__ == "nnunet_topo.training.variants"
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_shim_import_does_no_work():
    """Importing the shim (as nnU-Net does, from the folder) prints, writes and starts nothing."""
    code = (f"import sys, os, threading; sys.path.insert(0, {str(trainers_path())!r}); "
            "before = set(os.listdir('.')); import nnUNetTrainerTopo as m; "
            "assert set(os.listdir('.')) == before; assert threading.active_count() == 1; "
            "assert 'nnUNetTrainerTopoDense' in m.__all__")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(Path.cwd()))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout == ""


def test_unknown_trainer_gives_nnunets_error_naming_the_ext_path(monkeypatch):
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    monkeypatch.setenv("nnUNet_extTrainer", str(trainers_path()))
    with pytest.raises(RuntimeError, match="nnUNet_extTrainer="):
        recursive_find_trainer_class_by_name("nnUNetTrainerTopoDoesNotExist")


@pytest.mark.slow
def test_wheel_ships_the_shim_folder(tmp_path):
    """A regular (wheel) install has the shim package, and trainers-path points into it."""
    repo = Path(__file__).resolve().parents[2]
    src = tmp_path / "src"  # build from a copy: the build writes build/ and *.egg-info beside setup.py
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("nnunet_topo", "trainers"):
        shutil.copytree(repo / name, src / name, ignore=skip)
    for name in ("setup.py", "README.md"):
        shutil.copy(repo / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("nnunet_topo-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    assert (target / "nnunet_topo_trainers" / "nnUNetTrainerTopo.py").is_file()
    # -S: no site-packages, so neither the editable install nor anything else can answer
    out = subprocess.run([sys.executable, "-S", "-m", "nnunet_topo.cli", "trainers-path"], capture_output=True,
                         text=True, env={"PYTHONPATH": str(target)}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == (target / "nnunet_topo_trainers").resolve()


@pytest.mark.parametrize("name", TRAINERS)
def test_constructor_signature_is_exactly_nnunets(name):
    import inspect

    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    import nnunet_topo.training.variants as variants

    ours = inspect.signature(getattr(variants, name).__init__, eval_str=True)
    assert ours == inspect.signature(nnUNetTrainer.__init__, eval_str=True)
