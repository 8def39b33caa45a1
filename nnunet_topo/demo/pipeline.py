"""Run nnU-Net v2 steps (plan, train, predict) as subprocesses with a clean, explicit environment.

Used by ``nnunet-topo demo`` and ``nnunet-topo bench train``. Each step is nnU-Net's own command-line
entry point run in a child process, so nnU-Net's global state (paths read at import, trainer lookup)
stays isolated and the user sees the same commands they would type. The full output of each step goes
to a log file; the console shows a progress bar (epochs of a training) or nnU-Net's output.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = [
    "NnUNetFolders",
    "resolve_folders",
    "nnunet_env",
    "predict_sequential_entry",
    "run_step",
    "plan_and_preprocess",
    "write_single_split",
    "train",
    "predict",
    "dataset_name",
    "StepError",
]

# nnU-Net entry points: (module, function); run as `python -c` so no console script must be on PATH
_ENTRY = {
    "nnUNetv2_plan_and_preprocess": ("nnunetv2.experiment_planning.plan_and_preprocess_entrypoints",
                                     "plan_and_preprocess_entry"),
    "nnUNetv2_train": ("nnunetv2.run.run_training", "run_training_entry"),
    "nnUNetv2_predict": ("nnunetv2.inference.predict_from_raw_data", "predict_entry_point"),
    "predict_sequential": ("nnunet_topo.demo.pipeline", "predict_sequential_entry"),
}
_ENV_NAMES = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")

# nnU-Net looks a trainer up by importing every module of nnunetv2.training.nnUNetTrainer, including
# primus_trainers (-> timm -> torchvision). Where torchvision cannot load (a CUDA torchvision wheel
# beside a CPU torch, as on the project's CPU machines) that search crashes for every trainer that
# is not nnU-Net's own. The child process then replaces that one module, which holds only the Primus
# transformer trainers, by an empty one, and says so in the log.
_PRELUDE = (
    "import sys, types\n"
    "try:\n"
    "    import torchvision\n"
    "except Exception as e:\n"
    "    _m = 'nnunetv2.training.nnUNetTrainer.primus.primus_trainers'\n"
    "    sys.modules[_m] = types.ModuleType(_m)\n"
    "    print(f'nnunet_topo: torchvision does not load ({type(e).__name__}); Primus trainers hidden from the '\n"
    "          'trainer search', flush=True)\n"
)


class StepError(RuntimeError):
    """An nnU-Net step failed; the message names the command and its log file."""


@dataclass(frozen=True)
class NnUNetFolders:
    """The three nnU-Net folders and whether they came from the user's environment."""

    raw: Path
    preprocessed: Path
    results: Path
    from_environment: bool

    def describe(self) -> str:
        origin = "from your environment" if self.from_environment else "created in the work folder"
        return (f"nnU-Net folders ({origin}):\n  nnUNet_raw          = {self.raw}\n"
                f"  nnUNet_preprocessed = {self.preprocessed}\n  nnUNet_results      = {self.results}")


def resolve_folders(workdir: str | os.PathLike, *, use_environment: bool = True) -> NnUNetFolders:
    """The user's ``nnUNet_raw/_preprocessed/_results`` when all three are set, else ``workdir/nnUNet_*``.

    Raises:
        ValueError: only some of the three variables are set (ambiguous: say which are missing).
    """
    present = {name: os.environ.get(name) for name in _ENV_NAMES if os.environ.get(name)}
    if use_environment and present:
        missing = [name for name in _ENV_NAMES if name not in present]
        if missing:
            raise ValueError(
                f"nnU-Net folders: expected all of {list(_ENV_NAMES)} or none to be set, found only "
                f"{sorted(present)}; set {missing} too, or unset them to use the work folder"
            )
        folders = NnUNetFolders(*(Path(present[n]) for n in _ENV_NAMES), from_environment=True)
    else:
        workdir = Path(workdir).resolve()
        folders = NnUNetFolders(workdir / "nnUNet_raw", workdir / "nnUNet_preprocessed",
                                workdir / "nnUNet_results", from_environment=False)
    for path in (folders.raw, folders.preprocessed, folders.results):
        path.mkdir(parents=True, exist_ok=True)
    return folders


def trainers_path() -> str:
    """The folder to put in ``nnUNet_extTrainer`` (the package's trainer shims)."""
    from nnunet_topo.training.discovery import trainers_path as _path

    return str(_path())


def nnunet_env(folders: NnUNetFolders, *, budget: dict[str, int] | None = None, threads: int | None = None) -> dict[str, str]:
    """Environment for nnU-Net child processes: folders, our trainers, CPU-friendly settings, budget."""
    env = dict(os.environ)
    env.update({"nnUNet_raw": str(folders.raw), "nnUNet_preprocessed": str(folders.preprocessed),
                "nnUNet_results": str(folders.results), "nnUNet_extTrainer": trainers_path(),
                "nnUNet_n_proc_DA": "0", "nnUNet_compile": "f", "nnUNet_def_n_proc": "1",
                "PYTHONUNBUFFERED": "1"})
    if threads:
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    from .budget import BUDGET_ENV

    for key, value in (budget or {}).items():
        env[BUDGET_ENV[key]] = str(int(value))
    return env


def dataset_name(folders: NnUNetFolders, dataset_id: int) -> str:
    """``DatasetXXX_Name`` for ``dataset_id`` in ``nnUNet_raw``.

    Raises:
        ValueError: no such dataset, or more than one folder with that ID.
    """
    hits = sorted(p.name for p in folders.raw.glob(f"Dataset{dataset_id:03d}_*") if p.is_dir())
    if len(hits) != 1:
        raise ValueError(f"nnUNet_raw {folders.raw}: expected exactly one Dataset{dataset_id:03d}_* folder, "
                         f"found {hits}")
    return hits[0]


_VALUE = re.compile(r"(train_loss|val_loss|Pseudo dice|Epoch time):?\s*(.+)$")
_NUMBER = re.compile(r"-?\d+\.\d+")


def _progress_stat(line: str) -> tuple[str, str] | None:
    """``("loss", "0.56")``-like postfix entries from an nnU-Net training log line, else None."""
    m = _VALUE.search(line.strip())
    if not m:
        return None
    key, value = m.group(1), m.group(2)
    if key == "Pseudo dice":
        return "dice", "/".join(f"{float(x):.2f}" for x in _NUMBER.findall(value))
    if key == "Epoch time":
        return "s/epoch", value.replace(" s", "")
    return key.replace("_loss", ""), value.strip()


def run_step(name: str, args: Sequence[str], *, env: dict[str, str], log_file: Path, epochs: int | None = None,
             quiet: bool = False, desc: str | None = None) -> float:
    """Run nnU-Net entry point ``name`` with ``args``; return wall seconds.

    All output goes to ``log_file``. With ``epochs`` the console shows a tqdm bar over epochs (with the
    last losses and pseudo Dice); otherwise nnU-Net's output is echoed unless ``quiet``.

    Raises:
        StepError: non-zero exit status (the message points at the log's last lines).
    """
    from tqdm import tqdm

    module, func = _ENTRY[name]
    code = _PRELUDE + f"sys.argv[0] = {name!r}\nfrom {module} import {func} as f\nsys.exit(f())\n"
    cmd = [sys.executable, "-c", code, *map(str, args)]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    bar = tqdm(total=epochs, desc=desc or name, unit="epoch", dynamic_ncols=True) if epochs else None
    stats: dict[str, str] = {}
    with open(log_file, "w") as log:
        log.write(f"$ {name} {' '.join(map(str, args))}\n")
        log.flush()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if bar is not None:
                stat = _progress_stat(line)
                if stat is not None:
                    stats[stat[0]] = stat[1]
                    if stat[0] == "s/epoch" and bar.n < bar.total:
                        bar.update(1)
                    bar.set_postfix(stats, refresh=True)
            elif not quiet:
                sys.stdout.write(line)
        code_ = proc.wait()
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    if code_ != 0:
        tail = "".join(log_file.read_text().splitlines(keepends=True)[-25:])
        raise StepError(f"{name} {' '.join(map(str, args))} failed (exit {code_}); full log: {log_file}\n{tail}")
    return seconds


def plan_and_preprocess(dataset_id: int, *, env: dict[str, str], log_file: Path, quiet: bool = True) -> float:
    """``nnUNetv2_plan_and_preprocess -d ID -c 2d --verify_dataset_integrity`` (one process, 2D only)."""
    env = {k: v for k, v in env.items() if k != "nnUNet_n_proc_DA"}  # the planner needs a positive value
    return run_step("nnUNetv2_plan_and_preprocess",
                    ["-d", dataset_id, "-c", "2d", "-np", "1", "-npfp", "1", "--verify_dataset_integrity"],
                    env=env, log_file=log_file, quiet=quiet)


def write_single_split(preprocessed_dataset: Path, train: Sequence[str], val: Sequence[str]) -> Path:
    """Write ``splits_final.json`` with one fold (fold 0): ``train`` / ``val`` case identifiers.

    Raises:
        ValueError: empty lists or a case in both.
    """
    if not train or not val:
        raise ValueError(f"write_single_split: expected non-empty train and val, got {len(train)} and {len(val)}")
    both = sorted(set(train) & set(val))
    if both:
        raise ValueError(f"write_single_split: cases in both train and val: {both}")
    preprocessed_dataset.mkdir(parents=True, exist_ok=True)
    path = preprocessed_dataset / "splits_final.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([{"train": list(train), "val": list(val)}], indent=2) + "\n")
    tmp.replace(path)
    return path


def train(dataset_id: int, trainer: str, *, env: dict[str, str], log_file: Path, epochs: int,
          fold: int | str = 0, device: str = "cpu") -> float:
    """``nnUNetv2_train ID 2d FOLD -tr TRAINER -device DEVICE`` with a progress bar over ``epochs``."""
    return run_step("nnUNetv2_train", [dataset_id, "2d", fold, "-tr", trainer, "-device", device],
                    env=env, log_file=log_file, epochs=epochs, desc=f"train {trainer}")


def predict(dataset_id: int, trainer: str, input_folder: Path, output_folder: Path, *, env: dict[str, str],
            log_file: Path, fold: int | str = 0, device: str = "cpu") -> float:
    """Predict every image of ``input_folder`` into ``output_folder`` with TRAINER's fold-``fold`` model.

    Same as ``nnUNetv2_predict -i IN -o OUT -d ID -c 2d -f FOLD -tr TRAINER -device DEVICE`` (test-time
    mirroring on), but sequential in one process: on a small CPU machine nnU-Net's worker processes cost
    more to start than the prediction itself.
    """
    return run_step("predict_sequential", [dataset_id, trainer, fold, input_folder, output_folder, device],
                    env=env, log_file=log_file, quiet=True)


def predict_sequential_entry() -> int:
    """Child-process entry of :func:`predict`: ``argv = DATASET_ID TRAINER FOLD INPUT OUTPUT DEVICE``."""
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.utilities.file_path_utilities import get_output_folder

    dataset_id, trainer, fold, input_folder, output_folder, device = sys.argv[1:7]
    fold_ = fold if fold == "all" else int(fold)
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True,
                                perform_everything_on_device=False, device=torch.device(device),
                                verbose=False, verbose_preprocessing=False, allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(get_output_folder(int(dataset_id), trainer, "nnUNetPlans", "2d"),
                                                   use_folds=(fold_,), checkpoint_name="checkpoint_final.pth")
    os.makedirs(output_folder, exist_ok=True)
    predictor.predict_from_files_sequential(input_folder, output_folder, save_probabilities=False, overwrite=True)
    return 0
