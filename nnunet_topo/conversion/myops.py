"""MyoPS 2020 (myocardial pathology segmentation, three-sequence CMR) <-> nnU-Net raw dataset.

Source layout (the challenge release)::

    SOURCE/train25/myops_training_101_{C0,DE,T2}.nii.gz       three co-registered sequences
    SOURCE/train25_myops_gd/myops_training_101_gd.nii.gz       ground truth
    SOURCE/test20/myops_test_201_{C0,DE,T2}.nii.gz             optional, no ground truth -> imagesTs

``LGE`` is accepted as another name of ``DE``. Channels: ``_0000`` C0 (bSSFP), ``_0001`` DE (LGE),
``_0002`` T2, written with their own NIfTI geometry (checked to agree with the label's).

Labels (source value -> nnU-Net label)::

    0 background -> 0,  500 LV blood pool -> 1,  600 RV blood pool -> 2,
    200 normal myocardium -> 3,  1220 edema -> 4,  2221 scar -> 5

With ``regions=True`` the label files are the same, and ``dataset.json`` declares nested regions as the
challenge methods train them: ``LV`` (1), ``RV`` (2), ``myocardium`` (3, 4, 5) ⊃ ``edema_scar`` (4, 5)
⊃ ``scar`` (5), with ``regions_class_order`` ``[1, 2, 3, 4, 5]``; the myocardium ring then has its own
output and gets the Betti prior ``[1, 1]`` per slice. Volumes are ``(z, y, x)`` arrays; slices are taken
along the first axis (z), 2D connectivity is the T-construction (foreground 8, background 4).

:func:`export_predictions` is the way back: nnU-Net predictions (labels 0..5, also what nnU-Net writes
for region models after applying ``regions_class_order``) -> MyoPS values as ``uint16``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ._common import (
    CaseProblem,
    CaseSource,
    ConversionError,
    ConvertedCase,
    DatasetDescription,
    betti_2d,
    check_same_geometry,
    check_values,
    convert_dataset,
    group_by_case,
    read_sitk,
)

__all__ = [
    "SOURCE_VALUES",
    "NNUNET_LABELS",
    "NNUNET_REGIONS",
    "REGIONS_CLASS_ORDER",
    "convert_myops",
    "export_predictions",
    "slice_topology_notes",
]

SEQUENCES = ("C0", "DE", "T2")
SEQUENCE_ALIASES = {"LGE": "DE"}
# MyoPS value -> consecutive nnU-Net label
SOURCE_VALUES: dict[int, int] = {0: 0, 500: 1, 600: 2, 200: 3, 1220: 4, 2221: 5}
NNUNET_LABELS: dict[str, int] = {"background": 0, "LV": 1, "RV": 2, "normal_myocardium": 3, "edema": 4, "scar": 5}
NNUNET_REGIONS: dict[str, Any] = {
    "background": 0, "LV": [1], "RV": [2], "myocardium": [3, 4, 5], "edema_scar": [4, 5], "scar": [5],
}
REGIONS_CLASS_ORDER = [1, 2, 3, 4, 5]
MYOCARDIUM_SOURCE_VALUES = (200, 1220, 2221)

_IMAGE = re.compile(r"^(?P<case>.+)_(?P<seq>C0|DE|LGE|T2)\.nii(\.gz)?$")
_LABEL = re.compile(r"^(?P<case>.+)_gd\.nii(\.gz)?$")
_NIFTI = re.compile(r"\.nii(\.gz)?$")


def topology_block(regions: bool) -> dict[str, Any]:
    """The dataset.json ``"topology"`` block for the plain-label or region variant."""
    per_slice_pool = {"betti": [1, 0], "match": True, "per_slice": True}
    if regions:
        labels = {
            "LV": dict(per_slice_pool),
            "RV": dict(per_slice_pool),
            "myocardium": {"betti": [1, 1], "match": True, "per_slice": True},
            "edema_scar": {"betti": None, "match": True, "per_slice": True},
            "scar": {"betti": None, "match": True, "per_slice": True},
        }
    else:
        # The ring (200 ∪ 1220 ∪ 2221) is no single label here; it gets its prior only with --regions.
        labels = {
            "LV": dict(per_slice_pool),
            "RV": dict(per_slice_pool),
            "normal_myocardium": {"betti": None, "match": True, "per_slice": True},
            "edema": {"betti": None, "match": True, "per_slice": True},
            "scar": {"betti": None, "match": True, "per_slice": True},
        }
    return {"connectivity": "full", "labels": labels}


def slice_topology_notes(label: np.ndarray) -> list[str]:
    """Slices of a MyoPS ground truth ``(z, y, x)`` (source values) that break the anatomical priors.

    Checked on every slice that has any foreground: myocardium (200 ∪ 1220 ∪ 2221) ``(b0, b1) == (1, 1)``,
    LV pool (500) and RV pool (600) ``(1, 0)``; T-construction. Nothing is changed, only reported.
    """
    notes = []
    for z in range(label.shape[0]):
        sl = label[z]
        if not sl.any():
            continue
        for name, mask, prior in (
            ("myocardium", np.isin(sl, MYOCARDIUM_SOURCE_VALUES), (1, 1)),
            ("LV", sl == 500, (1, 0)),
            ("RV", sl == 600, (1, 0)),
        ):
            b = betti_2d(mask)
            if b != prior:
                what = "absent" if b[0] == 0 else ("open ring" if name == "myocardium" and b[1] == 0 else "")
                notes.append(f"z={z}: {name} betti {list(b)} != prior {list(prior)}" + (f" ({what})" if what else ""))
    return notes


def _find_cases(folder: Path, split: str, with_labels: Path | None) -> tuple[list[CaseSource], list[tuple[str, str]]]:
    files = [p for p in folder.iterdir() if p.is_file()]
    problems: list[tuple[str, str]] = []
    for p in files:
        if _NIFTI.search(p.name) and not _IMAGE.match(p.name):
            problems.append((p.name, f"unrecognised NIfTI file in {folder.name}/ (expected CASE_{{C0,DE,T2}}.nii.gz)"))
    images: dict[str, dict[str, Path]] = {}
    for p in sorted(files):
        m = _IMAGE.match(p.name)
        if not m:
            continue
        case, seq = m.group("case"), SEQUENCE_ALIASES.get(m.group("seq"), m.group("seq"))
        slot = images.setdefault(case, {})
        if seq in slot:  # CASE_DE and CASE_LGE, or CASE_C0.nii and CASE_C0.nii.gz
            problems.append((case, f"duplicate {seq} files: {slot[seq].name} and {p.name}"))
        else:
            slot[seq] = p
    labels: dict[str, dict[str, Path]] = {}
    if with_labels is not None:
        lfiles = [p for p in with_labels.iterdir() if p.is_file()]
        for p in lfiles:
            if _NIFTI.search(p.name) and not _LABEL.match(p.name):
                problems.append((p.name, f"unrecognised NIfTI file in {with_labels.name}/ (expected CASE_gd.nii.gz)"))
        labels, dup = group_by_case(lfiles, _LABEL, what="label file")
        problems += dup
    cases = []
    for case in sorted(set(images) | set(labels)):
        seqs = images.get(case, {})
        missing = [s for s in SEQUENCES if s not in seqs]
        if missing:
            problems.append((case, f"missing sequence(s) {missing} in {folder.name}/"))
            continue
        files_ = {s: seqs[s] for s in SEQUENCES}
        if with_labels is not None:
            if case not in labels:
                problems.append((case, f"missing label {case}_gd.nii.gz in {with_labels.name}/"))
                continue
            files_["label"] = labels[case]["file"]
        cases.append(CaseSource(case, split, files_, has_label=with_labels is not None))
    return cases, problems


def _locate(source: Path) -> tuple[Path, Path, Path | None]:
    train, gd, test = source / "train25", source / "train25_myops_gd", source / "test20"
    missing = [p.name + "/" for p in (train, gd) if not p.is_dir()]
    if missing:
        raise ConversionError(
            f"MyoPS source {source}: expected folders train25/ and train25_myops_gd/, missing {missing}"
        )
    return train, gd, (test if test.is_dir() else None)


def _load_case(case: CaseSource) -> ConvertedCase:
    import SimpleITK as sitk

    images = [read_sitk(case.files[s], what=s) for s in SEQUENCES]
    ref, ref_what = images[0], "C0"
    label_img = None
    if "label" in case.files:
        label_img = read_sitk(case.files["label"], what="label")
        ref, ref_what = label_img, "label"
    for seq, img in zip(SEQUENCES, images):
        if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
            raise CaseProblem(f"{seq}: expected a 3D single-channel volume, got {img.GetDimension()}D "
                              f"with {img.GetNumberOfComponentsPerPixel()} component(s)")
        check_same_geometry(ref, img, what=seq, reference_what=ref_what)
        arr = sitk.GetArrayViewFromImage(img)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CaseProblem(f"{seq} contains NaN or infinite values")
    if label_img is None:
        return ConvertedCase(images=images, label=None)
    if label_img.GetDimension() != 3:
        raise CaseProblem(f"label: expected a 3D volume, got {label_img.GetDimension()}D")
    lab = sitk.GetArrayFromImage(label_img)
    if lab.dtype.kind not in "iu":
        raise CaseProblem(f"label: expected an integer volume, got {lab.dtype}")
    check_values(lab, SOURCE_VALUES, what="label")
    lut = np.zeros(max(SOURCE_VALUES) + 1, dtype=np.uint8)
    for src, dst in SOURCE_VALUES.items():
        lut[src] = dst
    out = sitk.GetImageFromArray(lut[lab.astype(np.int64)])
    out.CopyInformation(label_img)
    return ConvertedCase(images=images, label=out, notes=slice_topology_notes(lab))


def convert_myops(
    source: str | os.PathLike,
    dataset_id: int,
    *,
    name: str = "MyoPS2020",
    regions: bool = False,
    output_root: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert MyoPS 2020 into ``Dataset{dataset_id:03d}_{name}`` (see the module docstring).

    Slices whose ground truth breaks the ring / pool priors are listed in ``conversion_report.json``
    and printed; they are not altered.

    Raises:
        ConversionError: any missing, unreadable or inconsistent case (all listed); nothing is written.
    """
    source = Path(source)
    train, gd, test = _locate(source)
    cases, problems = _find_cases(train, "Tr", gd)
    if test is not None:
        ts_cases, ts_problems = _find_cases(test, "Ts", None)
        cases += ts_cases
        problems += ts_problems
    desc = DatasetDescription(
        channel_names={"0": "C0", "1": "DE", "2": "T2"},
        labels=NNUNET_REGIONS if regions else NNUNET_LABELS,
        regions_class_order=REGIONS_CLASS_ORDER if regions else None,
        file_ending=".nii.gz",
        topology=topology_block(regions),
        description="MyoPS 2020 three-sequence CMR (C0 bSSFP, DE/LGE, T2); labels remapped from "
        "{0,500,600,200,1220,2221} to 0..5" + ("; nested regions" if regions else ""),
        reference="https://zmiclab.github.io/zxh/0/myops20/",
        licence="research use with citation (challenge terms); redistribution terms not stated",
        citation="X. Zhuang, TPAMI 41(12):2933-2946, 2019; L. Li et al., Medical Image Analysis, 2023",
        extra={"myops_source_values": {str(v): k for k, v in SOURCE_VALUES.items()}},
    )
    return convert_dataset(
        source=source, cases=cases, load=_load_case, description=desc, dataset_id=dataset_id, name=name,
        output_root=output_root, overwrite=overwrite, problems=problems,
        report={"converter": "myops", "regions": regions, "label_map": {str(k): v for k, v in SOURCE_VALUES.items()},
                "notes_explained": "slices whose ground truth breaks the priors (myocardium ring [1,1], "
                                   "LV/RV pool [1,0]); not altered"},
        progress=progress,
    )


# ------------------------------------------------------------------------------------------- export

def _source_c0(source: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for sub in (source / "train25", source / "test20", source):
        if sub.is_dir():
            for p in sub.iterdir():
                m = _IMAGE.match(p.name)
                if m and m.group("seq") == "C0":
                    out.setdefault(m.group("case"), p)
    return out


def export_predictions(
    pred_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    source: str | os.PathLike | None = None,
    suffix: str = "_seg",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """nnU-Net MyoPS predictions (``CASE.nii.gz``, labels 0..5) -> MyoPS values, ``uint16``.

    The inverse of the converter's label map: 0->0, 1->500, 2->600, 3->200, 4->1220, 5->2221
    (2221 does not fit ``uint8``). Region models give the same labels, since nnU-Net writes their
    predictions through ``regions_class_order`` (myocardium region minus edema_scar = 3 = normal myocardium,
    edema_scar minus scar = 4 = edema, scar = 5). Geometry: copied from the source ``CASE_C0`` when
    ``source`` is given (sizes must agree), else kept from the prediction (which nnU-Net copies from the input).
    Output: ``OUT_DIR/CASE{suffix}.nii.gz``, written atomically (temporary folder, then rename).

    Raises:
        ConversionError: unexpected label values, unreadable files, missing source case, size mismatch,
            existing ``out_dir`` without ``overwrite`` (all problems listed; nothing written).
    """
    import SimpleITK as sitk
    from tqdm import tqdm

    pred_dir, out_dir = Path(pred_dir).resolve(), Path(out_dir).resolve()
    if not pred_dir.is_dir():
        raise ConversionError(f"predictions: expected a folder, got {pred_dir}")
    if out_dir.exists() and not overwrite:
        raise ConversionError(f"{out_dir} already exists; pass --overwrite to replace it")
    if out_dir == pred_dir:
        raise ConversionError("output folder must differ from the prediction folder")
    ds_json = pred_dir / "dataset.json"
    if ds_json.is_file():
        labels = json.loads(ds_json.read_text()).get("labels", {})
        if labels not in (NNUNET_LABELS, NNUNET_REGIONS):
            raise ConversionError(
                f"{ds_json}: labels {labels} are not those of `nnunet-topo convert myops` "
                f"({NNUNET_LABELS} or the --regions variant)"
            )
    preds = sorted(p for p in pred_dir.iterdir() if p.is_file() and p.name.endswith(".nii.gz"))
    if not preds:
        raise ConversionError(f"no .nii.gz predictions in {pred_dir}")
    c0 = _source_c0(Path(source)) if source is not None else {}
    inverse = np.zeros(6, dtype=np.uint16)
    for src, dst in SOURCE_VALUES.items():
        inverse[dst] = src

    def load(p: Path):
        case = p.name[: -len(".nii.gz")]
        img = read_sitk(p, what="prediction")
        arr = sitk.GetArrayFromImage(img)
        if arr.dtype.kind not in "iu":
            raise CaseProblem(f"prediction: expected integer labels, got {arr.dtype}")
        check_values(arr, range(6), what="prediction")
        out = sitk.GetImageFromArray(inverse[arr.astype(np.int64)])
        ref = img
        if source is not None:
            if case not in c0:
                raise CaseProblem(f"no {case}_C0.nii.gz in the source {source}")
            ref = read_sitk(c0[case], what="source C0")
            if tuple(ref.GetSize()) != tuple(img.GetSize()):
                raise CaseProblem(f"prediction size {img.GetSize()} != source C0 size {ref.GetSize()}")
        out.CopyInformation(ref)
        return case, out

    problems = []
    for p in tqdm(preds, desc="checking", unit="case", disable=not progress):
        try:
            load(p)
        except CaseProblem as exc:
            problems.append((p.name, str(exc)))
    if problems:
        raise ConversionError(f"{len(problems)} problem(s) in {pred_dir}; nothing was written", problems)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for p in tqdm(preds, desc="writing", unit="case", disable=not progress):
            case, out = load(p)
            sitk.WriteImage(out, str(tmp / f"{case}{suffix}.nii.gz"), useCompression=True)
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
