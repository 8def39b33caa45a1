"""Shared machinery of the converters: validation, dataset.json, atomic writing of an nnU-Net raw dataset.

Every converter does the same three things:

1. *discover* its cases (a :class:`CaseSource` per case: case ID, split, the source files it needs) and
   collect the problems it can see from file names alone (missing files, duplicates, orphans);
2. give a ``load(case) -> ConvertedCase`` function that reads and converts one case, raising
   :class:`CaseProblem` for anything wrong with it (unreadable file, geometry mismatch, unexpected label);
3. describe the dataset (:class:`DatasetDescription`: channels, labels, ``file_ending``, topology block).

:func:`convert_dataset` then checks **every** case first (nothing is written while any case is wrong:
one :class:`ConversionError` lists all of them), writes the dataset into a hidden temporary folder next to
the target and renames it into place at the end, so an interrupted run leaves no half dataset behind.

Arrays follow NumPy C order: 2D images are ``(rows, cols)`` or ``(rows, cols, 3)`` for RGB; 3D volumes
as SimpleITK returns them, ``(z, y, x)``. Labels are written as ``uint8`` (nnU-Net label maps).
This module imports neither torch nor anything else of ``nnunet_topo``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "CaseProblem",
    "ConversionError",
    "CaseSource",
    "ConvertedCase",
    "DatasetDescription",
    "convert_dataset",
    "resolve_output_root",
    "dataset_folder_name",
    "build_dataset_json",
    "read_png_like",
    "read_sitk",
    "check_same_geometry",
    "check_values",
    "betti_2d",
    "group_by_case",
    "folds_from_groups",
    "folds_contiguous",
    "GEOMETRY_RTOL",
    "GEOMETRY_ATOL",
]

# Geometry tolerance (np.allclose) between the sequences / label of one case: spacing, origin, direction.
GEOMETRY_RTOL = 1e-5
GEOMETRY_ATOL = 1e-6

_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class CaseProblem(ValueError):
    """Something is wrong with one case (raised by a converter's ``load`` function)."""


class ConversionError(ValueError):
    """The conversion was refused; ``problems`` lists ``(case, message)`` for every offending case."""

    def __init__(self, summary: str, problems: Sequence[tuple[str, str]] = ()):
        self.summary = summary
        self.problems = list(problems)
        lines = [summary]
        for case, message in self.problems:
            lines.append(f"  - {case}: {message}")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class CaseSource:
    """One case as found in the source: its nnU-Net identifier, split (``"Tr"``/``"Ts"``) and files."""

    case_id: str
    split: str
    files: Mapping[str, Path]
    has_label: bool = True


@dataclass
class ConvertedCase:
    """One converted case, ready to be written.

    ``images``: one entry per nnU-Net image file (``_0000``, ``_0001``, ...). An entry is either a
    ``SimpleITK.Image`` (written as NIfTI with its own geometry) or a NumPy ``uint8`` array ``(H, W)`` or
    ``(H, W, 3)`` (written as PNG; an RGB file counts as three channels, as nnU-Net's NaturalImage2DIO reads it).
    ``label``: ``SimpleITK.Image`` or ``uint8`` array ``(H, W)`` with consecutive nnU-Net labels, or ``None``
    for test cases without ground truth. ``notes``: things worth reporting (never fixed by the converter).
    """

    images: list[Any]
    label: Any | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetDescription:
    """What goes into ``dataset.json`` besides ``numTraining`` (see nnU-Net's dataset_format.md)."""

    channel_names: Mapping[str, str]
    labels: Mapping[str, int | Sequence[int]]
    file_ending: str
    topology: Mapping[str, Any]
    regions_class_order: Sequence[int] | None = None
    description: str = ""
    reference: str = ""
    licence: str = ""
    citation: str = ""
    converted_by: str = "nnunet-topo convert"
    extra: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- paths

def resolve_output_root(output: str | os.PathLike | None) -> Path:
    """``output`` if given, else ``$nnUNet_raw``; a clear error when neither is set."""
    if output is None:
        env = os.environ.get("nnUNet_raw")
        if not env:
            raise ConversionError(
                "no output folder: expected the nnUNet_raw environment variable (nnU-Net's raw data folder) "
                "or --output/-o, got neither"
            )
        output = env
    root = Path(output).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ConversionError(f"output root {root} exists and is not a folder")
    return root


def dataset_folder_name(dataset_id: int, name: str) -> str:
    """``Dataset{id:03d}_{name}`` after checking the ID (1..999) and the name (letters, digits, ``_``, ``-``)."""
    if isinstance(dataset_id, bool) or not isinstance(dataset_id, (int, np.integer)) or not 1 <= dataset_id <= 999:
        raise ConversionError(f"dataset ID: expected an integer in 1..999 (nnU-Net's DatasetXXX), got {dataset_id!r}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConversionError(
            f"dataset name: expected letters, digits, '_' or '-' (no spaces, no '/'), got {name!r}"
        )
    return f"Dataset{int(dataset_id):03d}_{name}"


def _is_within(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------- reading

def read_png_like(path: Path, *, what: str) -> tuple[np.ndarray, str]:
    """Fully decode a 2D image file (PNG, TIFF, GIF, JPEG) with Pillow; returns ``(array, PIL mode)``.

    Truncated or unreadable files raise :class:`CaseProblem` naming the file.
    """
    from PIL import Image, ImageFile

    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone switched Pillow to padding truncated files: refuse
        raise CaseProblem(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process, so truncated files could not be "
            "detected; set it back to False"
        )
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            arr = np.array(im)
    except FileNotFoundError:
        raise CaseProblem(f"{what} file missing: {path}") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, ... for broken files
        raise CaseProblem(f"{what} file unreadable or truncated: {path} ({type(exc).__name__}: {exc})") from None
    return arr, mode


def _nifti_payload_check(path: Path, *, what: str) -> None:
    """Raise :class:`CaseProblem` when a ``.nii``/``.nii.gz`` file is truncated or its gzip stream is corrupt.

    SimpleITK fills a truncated ``.nii.gz`` with zeros; see :mod:`nnunet_topo._nifti_integrity`.
    """
    from nnunet_topo._nifti_integrity import nifti_payload_problem

    problem = nifti_payload_problem(path)
    if problem is None:
        return
    if problem.startswith("not NIfTI"):
        raise CaseProblem(f"{what} file is {problem}: {path}")
    if problem.startswith("corrupt NIfTI"):
        raise CaseProblem(f"{what} file has a {problem}: {path}")
    raise CaseProblem(f"{what} file unreadable or truncated: {path} ({problem})")


def read_sitk(path: Path, *, what: str):
    """Read a medical image with SimpleITK; NIfTI files are first checked for truncation."""
    import SimpleITK as sitk

    if not Path(path).is_file():
        raise CaseProblem(f"{what} file missing: {path}")
    _nifti_payload_check(Path(path), what=what)
    try:
        return sitk.ReadImage(str(path))
    except Exception as exc:  # SimpleITK raises RuntimeError with a multi-line ITK message
        first = str(exc).strip().splitlines()
        detail = next((ln.strip() for ln in first if "ERROR" in ln.upper() or "exception" in ln.lower()),
                      first[-1] if first else "")
        raise CaseProblem(f"{what} file unreadable or truncated: {path} ({detail[:200]})") from None


def _geometry(img) -> dict[str, tuple]:
    return {
        "size": tuple(img.GetSize()),
        "spacing": tuple(img.GetSpacing()),
        "origin": tuple(img.GetOrigin()),
        "direction": tuple(img.GetDirection()),
    }


def check_same_geometry(reference, image, *, what: str, reference_what: str) -> None:
    """Size must be equal; spacing, origin and direction ``np.allclose(rtol=GEOMETRY_RTOL, atol=GEOMETRY_ATOL)``."""
    ref, img = _geometry(reference), _geometry(image)
    if reference.GetDimension() != image.GetDimension():
        raise CaseProblem(
            f"{what} is {image.GetDimension()}D but {reference_what} is {reference.GetDimension()}D"
        )
    bad = []
    if ref["size"] != img["size"]:
        bad.append(f"size {img['size']} != {ref['size']}")
    for key in ("spacing", "origin", "direction"):
        if not np.allclose(img[key], ref[key], rtol=GEOMETRY_RTOL, atol=GEOMETRY_ATOL):
            a = tuple(round(v, 6) for v in img[key])
            b = tuple(round(v, 6) for v in ref[key])
            bad.append(f"{key} {a} != {b}")
    if bad:
        raise CaseProblem(f"geometry of {what} differs from {reference_what}: " + "; ".join(bad))


def check_values(array: np.ndarray, allowed: Iterable[int], *, what: str) -> np.ndarray:
    """Raise :class:`CaseProblem` when ``array`` holds values outside ``allowed``; returns the values found."""
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise CaseProblem(f"{what} contains NaN")
    found = np.unique(array)
    allowed_set = {int(v) for v in allowed}
    unexpected = [v.item() for v in found if v.item() not in allowed_set]
    if unexpected:
        shown = unexpected[:10] + (["..."] if len(unexpected) > 10 else [])
        raise CaseProblem(
            f"{what} has unexpected values {shown}; expected only {sorted(allowed_set)}"
        )
    return found


def group_by_case(
    paths: Iterable[Path], pattern: re.Pattern, *, role_group: str | None = None, what: str
) -> tuple[dict[str, dict[str, Path]], list[tuple[str, str]]]:
    """Group files by the ``case`` group of ``pattern`` (and by ``role_group`` when given).

    Returns ``({case: {role: path}}, problems)``; two files for the same case/role (``a.nii`` and
    ``a.nii.gz``, or IDs that differ only in letter case) are reported as duplicates.
    """
    found: dict[str, dict[str, Path]] = {}
    problems: list[tuple[str, str]] = []
    folded: dict[tuple[str, str], str] = {}
    for path in sorted(paths):
        m = pattern.match(path.name)
        if not m:
            continue
        case = m.group("case")
        role = m.group(role_group) if role_group else "file"
        key = (case.casefold(), role)
        if key in folded:
            other_case = folded[key]
            prev = found[other_case][role]
            problems.append((case, f"duplicate {what}: {prev.name} and {path.name} give the same case ID"))
            continue
        folded[key] = case
        found.setdefault(case, {})[role] = path
    return found, problems


# ------------------------------------------------------------------------------------- topology check

def betti_2d(mask: np.ndarray) -> tuple[int, int]:
    """``(b0, b1)`` of a 2D binary mask with the T-construction (foreground 8-, background 4-connected).

    ``b0`` = 8-connected foreground components; ``b1`` = 4-connected background components that do not
    touch the image border (holes). Shape ``(H, W)``, any dtype (nonzero = foreground).
    """
    from scipy import ndimage

    fg = np.asarray(mask, dtype=bool)
    if fg.ndim != 2:
        raise ValueError(f"betti_2d: expected a 2D mask, got shape {fg.shape}")
    b0 = int(ndimage.label(fg, structure=np.ones((3, 3), bool))[1])
    padded = np.pad(~fg, 1, constant_values=True)
    b1 = int(ndimage.label(padded)[1]) - 1
    return b0, b1


# ------------------------------------------------------------------------------------- dataset.json

def build_dataset_json(desc: DatasetDescription, num_training: int) -> dict[str, Any]:
    """nnU-Net v2 dataset.json (as ``generate_dataset_json`` writes it) plus the ``"topology"`` block."""
    labels: dict[str, Any] = {}
    for name, value in desc.labels.items():
        labels[name] = [int(v) for v in value] if isinstance(value, (list, tuple)) else int(value)
    has_regions = any(isinstance(v, list) and len(v) > 1 for v in labels.values())
    if has_regions and desc.regions_class_order is None:
        raise ValueError("dataset.json: regions need regions_class_order")
    out: dict[str, Any] = {
        "channel_names": {str(k): str(v) for k, v in desc.channel_names.items()},
        "labels": labels,
        "numTraining": int(num_training),
        "file_ending": desc.file_ending,
    }
    if desc.regions_class_order is not None:
        out["regions_class_order"] = [int(v) for v in desc.regions_class_order]
    out["name"] = ""  # filled by convert_dataset
    for key in ("description", "reference", "licence", "citation", "converted_by"):
        value = getattr(desc, key)
        if value:
            out[key] = value
    out.update(dict(desc.extra))
    out["topology"] = json.loads(json.dumps(desc.topology))
    return out


# ------------------------------------------------------------------------------------------ writing

def _write_entry(entry: Any, path_stem: Path, file_ending: str) -> None:
    if isinstance(entry, np.ndarray):
        if file_ending != ".png":
            raise ValueError(f"array entries are written as PNG, but file_ending is {file_ending!r}")
        from PIL import Image

        if entry.dtype != np.uint8 or entry.ndim not in (2, 3):
            raise ValueError(f"PNG entries must be uint8 (H, W) or (H, W, 3), got {entry.dtype} {entry.shape}")
        Image.fromarray(np.ascontiguousarray(entry)).save(str(path_stem) + file_ending, format="PNG")
    else:
        import SimpleITK as sitk

        sitk.WriteImage(entry, str(path_stem) + file_ending, useCompression=True)


def _entry_shape(entry: Any) -> tuple[int, ...]:
    if isinstance(entry, np.ndarray):
        return tuple(entry.shape[:2])
    return tuple(entry.GetSize())


def _num_channels(entry: Any) -> int:
    if isinstance(entry, np.ndarray):
        return 3 if entry.ndim == 3 else 1
    return int(entry.GetNumberOfComponentsPerPixel())


def _check_converted(case: CaseSource, conv: ConvertedCase, desc: DatasetDescription, label_values: set[int]) -> None:
    """Internal consistency of a converted case with the dataset description."""
    channels = sum(_num_channels(e) for e in conv.images)
    if channels != len(desc.channel_names):
        raise CaseProblem(f"expected {len(desc.channel_names)} channels, the converted images have {channels}")
    shapes = {_entry_shape(e) for e in conv.images}
    if conv.label is not None:
        shapes.add(_entry_shape(conv.label))
        if isinstance(conv.label, np.ndarray):
            arr = conv.label
        else:
            import SimpleITK as sitk

            arr = sitk.GetArrayViewFromImage(conv.label)
        check_values(arr, label_values, what="converted label")
    elif case.split == "Tr":
        raise CaseProblem("training case without a label")
    if len(shapes) != 1:
        raise CaseProblem(f"images and label differ in size after conversion: {sorted(shapes)}")


def _all_label_values(labels: Mapping[str, Any]) -> set[int]:
    out: set[int] = set()
    for value in labels.values():
        out.update(int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    return out


def _progress(iterable, *, desc: str, total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="case", disable=not enabled, file=sys.stderr)


def convert_dataset(
    *,
    source: Path,
    cases: Sequence[CaseSource],
    load: Callable[[CaseSource], ConvertedCase],
    description: DatasetDescription,
    dataset_id: int,
    name: str,
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    problems: Sequence[tuple[str, str]] = (),
    splits: Callable[[list[str]], list[dict[str, list[str]]]] | None = None,
    report: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Check every case, then write ``{output_root}/Dataset{id:03d}_{name}`` atomically.

    Args:
        source: the source folder (never modified; the output may not lie inside it or contain it).
        cases: the cases found by the converter.
        load: reads and converts one case; raises :class:`CaseProblem` for bad input.
        description: channels, labels, file ending, topology block.
        problems: ``(case, message)`` found during discovery (missing or duplicate files).
        splits: given the training case IDs, returns nnU-Net's ``splits_final.json`` content (a list of
            ``{"train": [...], "val": [...]}``); written into the dataset folder, from where
            ``nnUNetv2_plan_and_preprocess`` copies it to ``nnUNet_preprocessed/DatasetXXX_Name/``.
        report: options and facts written to ``conversion_report.json`` (with the per-case notes).

    Returns:
        The dataset folder.

    Raises:
        ConversionError: any problem with any case (all listed), an existing dataset without
            ``overwrite``, an ID used by another dataset, or an output inside the source. Nothing is written.
    """
    source = Path(source).resolve()
    if not source.is_dir():
        raise ConversionError(f"source: expected a folder, got {source} (does not exist or is a file)")
    root = resolve_output_root(output_root)
    folder = dataset_folder_name(dataset_id, name)
    target = root / folder
    if _is_within(target, source) or _is_within(source, target):
        raise ConversionError(
            f"output {target} and source {source} overlap; the source is never modified, choose another output"
        )
    if root.is_dir():
        prefix = f"Dataset{int(dataset_id):03d}_"
        clash = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix) and p.name != folder)
        if clash:
            raise ConversionError(
                f"dataset ID {dataset_id} is already used by {clash} in {root}; nnU-Net needs unique IDs"
            )
    if target.exists() and not overwrite:
        raise ConversionError(f"{target} already exists; pass --overwrite to replace it")

    all_problems: list[tuple[str, str]] = list(problems)
    seen: dict[str, str] = {}
    for case in cases:
        if not _CASE_ID.match(case.case_id):
            all_problems.append((case.case_id, "case ID must be letters, digits, '_', '-', '.'"))
        key = case.case_id.casefold()
        if key in seen:
            all_problems.append((case.case_id, f"duplicate case ID (also {seen[key]})"))
        seen[key] = case.case_id
    if not cases and not all_problems:
        raise ConversionError(f"no cases found in {source}; see docs/conversion.md for the expected layout")

    label_values = _all_label_values(description.labels)
    notes: dict[str, list[str]] = {}
    for case in _progress(cases, desc="checking", total=len(cases), enabled=progress):
        try:
            conv = load(case)
            _check_converted(case, conv, description, label_values)
        except CaseProblem as exc:
            all_problems.append((case.case_id, str(exc)))
            continue
        if conv.notes:
            notes[case.case_id] = list(conv.notes)
    if all_problems:
        raise ConversionError(
            f"{len(all_problems)} problem(s) in {source}; nothing was written", sorted(all_problems)
        )

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{folder}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for sub in ("imagesTr", "labelsTr"):
            (tmp / sub).mkdir(parents=True)
        if any(c.split == "Ts" for c in cases):
            (tmp / "imagesTs").mkdir()
            if any(c.split == "Ts" and c.has_label for c in cases):
                (tmp / "labelsTs").mkdir()
        for case in _progress(cases, desc="writing", total=len(cases), enabled=progress):
            try:
                conv = load(case)
                _check_converted(case, conv, description, label_values)
            except CaseProblem as exc:  # the source changed between checking and writing
                raise ConversionError(f"{case.case_id} failed while writing; nothing was written",
                                      [(case.case_id, str(exc))]) from None
            for i, entry in enumerate(conv.images):
                _write_entry(entry, tmp / f"images{case.split}" / f"{case.case_id}_{i:04d}", description.file_ending)
            if conv.label is not None:
                _write_entry(conv.label, tmp / f"labels{case.split}" / case.case_id, description.file_ending)
        train_ids = [c.case_id for c in cases if c.split == "Tr"]
        dataset_json = build_dataset_json(description, len(train_ids))
        dataset_json["name"] = folder
        (tmp / "dataset.json").write_text(json.dumps(dataset_json, indent=4) + "\n", encoding="utf-8")
        if splits is not None:
            folds = splits(sorted(train_ids))
            (tmp / "splits_final.json").write_text(json.dumps(folds, indent=4) + "\n", encoding="utf-8")
        rep = {
            "source": str(source),
            "dataset": folder,
            "num_training": len(train_ids),
            "num_test": sum(c.split == "Ts" for c in cases),
            **dict(report or {}),
            "notes": notes,
        }
        (tmp / "conversion_report.json").write_text(json.dumps(rep, indent=4) + "\n", encoding="utf-8")
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is moved aside first and removed afterwards."""
    if not target.exists():
        os.rename(tmp, target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def folds_from_groups(case_groups: Mapping[str, str], num_folds: int = 5) -> list[dict[str, list[str]]]:
    """``splits_final.json`` content where all cases of a group land in the same fold.

    Groups (sorted by name) are dealt round-robin into ``min(num_folds, #groups)`` folds, so the
    result is deterministic. Every case is in exactly one ``val`` list.
    """
    groups: dict[str, list[str]] = {}
    for case, group in sorted(case_groups.items()):
        groups.setdefault(group, []).append(case)
    names = sorted(groups)
    k = min(num_folds, len(names))
    if k < 2:
        raise ConversionError(f"cannot make folds: need at least 2 groups, got {len(names)}")
    val_sets: list[list[str]] = [[] for _ in range(k)]
    for i, g in enumerate(names):
        val_sets[i % k].extend(groups[g])
    everything = sorted(case_groups)
    return [{"train": [c for c in everything if c not in set(v)], "val": sorted(v)} for v in val_sets]


def folds_contiguous(ordered_cases: Sequence[str], num_folds: int = 5) -> list[dict[str, list[str]]]:
    """``splits_final.json`` content with ``num_folds`` contiguous blocks of ``ordered_cases`` as val sets."""
    n = len(ordered_cases)
    k = min(num_folds, n)
    if k < 2:
        raise ConversionError(f"cannot make folds: need at least 2 cases, got {n}")
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    out = []
    for i in range(k):
        val = list(ordered_cases[bounds[i]:bounds[i + 1]])
        out.append({"train": [c for c in ordered_cases if c not in set(val)], "val": val})
    return out
