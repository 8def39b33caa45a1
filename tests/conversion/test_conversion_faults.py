"""Fault corpus: corrupted copies of real cases. Each fault gets one clear error naming the case, and no output."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import SimpleITK as sitk
from PIL import Image

from _conversion_helpers import MYOPS_CASES, tree_digest
from nnunet_topo.conversion import (
    ConversionError,
    convert_chase,
    convert_crackforest,
    convert_drive,
    convert_isbi2012,
    convert_myops,
    convert_nifti,
    convert_roads,
)
from nnunet_topo.conversion import _common
from nnunet_topo.conversion.cli import export_main, main

pytestmark = pytest.mark.realdata
CASE = MYOPS_CASES[1]


def _refused(fn, root: Path, source: Path, *, match: str, cases: list[str] | None = None) -> ConversionError:
    """``fn()`` raises a ConversionError matching ``match``, writes nothing and leaves the source as it was."""
    before = tree_digest(source)
    with pytest.raises(ConversionError, match=match) as info:
        fn()
    assert list(root.iterdir()) == [], "nothing may be written, not even a temporary folder"
    assert tree_digest(source) == before
    if cases is not None:
        assert sorted({c for c, _ in info.value.problems}) == sorted(cases)
    return info.value


def _rewrite(path: Path, edit) -> None:
    img = sitk.ReadImage(str(path))
    new = edit(img)
    sitk.WriteImage(new, str(path), useCompression=True)


def _with_spacing(img):
    img.SetSpacing((img.GetSpacing()[0] * 1.1,) + img.GetSpacing()[1:])
    return img


def _with_origin(img):
    img.SetOrigin(tuple(v + 2.0 for v in img.GetOrigin()))
    return img


def _with_direction(img):
    d = np.array(img.GetDirection()).reshape(3, 3)
    c, s = np.cos(0.2), np.sin(0.2)
    img.SetDirection(tuple((d @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])).ravel()))
    return img


def _with_size(img):
    return img[:-3, :, :]


# ------------------------------------------------------------------------------------------- MyoPS

@pytest.mark.parametrize("edit,what", [
    (_with_spacing, "spacing"), (_with_origin, "origin"), (_with_direction, "direction"), (_with_size, "size"),
])
def test_geometry_mismatch_between_sequences(myops_src, out_root, edit, what):
    _rewrite(myops_src / "train25" / f"{CASE}_T2.nii.gz", edit)
    err = _refused(lambda: convert_myops(myops_src, 601, progress=False), out_root, myops_src,
                   match="nothing was written", cases=[CASE])
    assert f"geometry of T2 differs from label: {what}" in str(err)


def test_missing_sequence(myops_src, out_root):
    (myops_src / "train25" / f"{CASE}_DE.nii.gz").unlink()
    err = _refused(lambda: convert_myops(myops_src, 602, progress=False), out_root, myops_src,
                   match="missing sequence", cases=[CASE])
    assert "['DE']" in str(err)


def test_missing_label(myops_src, out_root):
    (myops_src / "train25_myops_gd" / f"{CASE}_gd.nii.gz").unlink()
    _refused(lambda: convert_myops(myops_src, 603, progress=False), out_root, myops_src,
             match=f"missing label {CASE}_gd.nii.gz", cases=[CASE])


def test_unexpected_label_value(myops_src, out_root):
    def edit(img):
        arr = sitk.GetArrayFromImage(img)
        arr[0, 10, 10] = 300
        out = sitk.GetImageFromArray(arr)
        out.CopyInformation(img)
        return out

    _rewrite(myops_src / "train25_myops_gd" / f"{CASE}_gd.nii.gz", edit)
    _refused(lambda: convert_myops(myops_src, 604, progress=False), out_root, myops_src,
             match=r"label has unexpected values \[300\]; expected only \[0, 200, 500, 600, 1220, 2221\]",
             cases=[CASE])


@pytest.mark.parametrize("keep", ["half", "all_but_trailer"])
def test_truncated_file(myops_src, out_root, keep):
    """SimpleITK itself reads a truncated .nii.gz without complaint (zeros); the converter must not."""
    path = myops_src / "train25" / f"{CASE}_C0.nii.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if keep == "half" else data[:-4])
    _refused(lambda: convert_myops(myops_src, 605, progress=False), out_root, myops_src,
             match=rf"C0 file unreadable or truncated: .*{CASE}_C0.nii.gz", cases=[CASE])


def test_duplicate_case_files(myops_src, out_root):
    src = myops_src / "train25" / f"{CASE}_C0.nii.gz"
    (myops_src / "train25" / f"{CASE}_C0.nii").write_bytes(gzip.decompress(src.read_bytes()))
    _refused(lambda: convert_myops(myops_src, 606, progress=False), out_root, myops_src,
             match="duplicate C0 files", cases=[CASE])


def test_lge_alias_duplicates_de(myops_src, out_root):
    src = myops_src / "train25" / f"{CASE}_DE.nii.gz"
    shutil.copyfile(src, myops_src / "train25" / f"{CASE}_LGE.nii.gz")
    _refused(lambda: convert_myops(myops_src, 607, progress=False), out_root, myops_src,
             match="duplicate DE files", cases=[CASE])


def test_every_faulty_case_is_listed_at_once(myops_src, out_root):
    a, b, c = MYOPS_CASES
    (myops_src / "train25" / f"{a}_T2.nii.gz").unlink()
    path = myops_src / "train25_myops_gd" / f"{b}_gd.nii.gz"
    path.write_bytes(path.read_bytes()[:100])
    _rewrite(myops_src / "train25" / f"{c}_DE.nii.gz", _with_spacing)
    err = _refused(lambda: convert_myops(myops_src, 608, progress=False), out_root, myops_src,
                   match="3 problem", cases=[a, b, c])
    text = str(err)
    assert "missing sequence(s) ['T2']" in text and "label file unreadable" in text and "geometry of DE" in text


def test_unrecognised_nifti_in_the_image_folder(myops_src, out_root):
    shutil.copyfile(myops_src / "train25" / f"{CASE}_T2.nii.gz", myops_src / "train25" / f"{CASE}_T2w.nii.gz")
    _refused(lambda: convert_myops(myops_src, 609, progress=False), out_root, myops_src, match="unrecognised NIfTI")


def test_wrong_layout_is_explained(tmp_path, out_root):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConversionError, match="expected folders train25/ and train25_myops_gd/"):
        convert_myops(tmp_path / "empty", 610, progress=False)


# --------------------------------------------------------------------------------- writing safety

def test_existing_dataset_needs_overwrite(myops_src, out_root):
    folder = convert_myops(myops_src, 620, progress=False)
    marker = folder / "marker.txt"
    marker.write_text("user file")
    with pytest.raises(ConversionError, match="already exists; pass --overwrite"):
        convert_myops(myops_src, 620, progress=False)
    assert marker.read_text() == "user file"
    convert_myops(myops_src, 620, progress=False, overwrite=True)
    assert not marker.exists() and (folder / "dataset.json").is_file()
    assert sorted(p.name for p in out_root.iterdir()) == [folder.name]  # no temporary folders left


def test_dataset_id_used_by_another_dataset(myops_src, out_root):
    (out_root / "Dataset621_Other").mkdir()
    with pytest.raises(ConversionError, match=r"dataset ID 621 is already used by \['Dataset621_Other'\]"):
        convert_myops(myops_src, 621, progress=False, overwrite=True)


def test_interrupted_run_leaves_nothing(myops_src, out_root, monkeypatch):
    real, calls = _common._write_entry, []

    def flaky(entry, stem, ending):
        calls.append(stem)
        if len(calls) == 5:
            raise KeyboardInterrupt
        real(entry, stem, ending)

    monkeypatch.setattr(_common, "_write_entry", flaky)
    with pytest.raises(KeyboardInterrupt):
        convert_myops(myops_src, 622, progress=False)
    assert list(out_root.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_dataset(myops_src, out_root, monkeypatch):
    folder = convert_myops(myops_src, 623, progress=False)
    before = tree_digest(folder)

    def broken(entry, stem, ending):
        raise OSError("disk full")

    monkeypatch.setattr(_common, "_write_entry", broken)
    with pytest.raises(OSError, match="disk full"):
        convert_myops(myops_src, 623, progress=False, overwrite=True)
    assert tree_digest(folder) == before
    assert sorted(p.name for p in out_root.iterdir()) == [folder.name]


def test_no_output_root(myops_src, monkeypatch):
    monkeypatch.delenv("nnUNet_raw", raising=False)
    with pytest.raises(ConversionError, match="nnUNet_raw environment variable .* or --output"):
        convert_myops(myops_src, 624, progress=False)


def test_output_inside_source_is_refused(myops_src):
    before = tree_digest(myops_src)
    with pytest.raises(ConversionError, match="overlap"):
        convert_myops(myops_src, 625, output_root=myops_src / "out", progress=False)
    assert tree_digest(myops_src) == before


@pytest.mark.parametrize("dataset_id,name,match", [
    (0, "X", "expected an integer in 1..999"), (1000, "X", "expected an integer in 1..999"),
    (5, "My Data", "no spaces"), (5, "a/b", "no spaces"),
])
def test_bad_id_or_name(myops_src, out_root, dataset_id, name, match):
    with pytest.raises(ConversionError, match=match):
        convert_myops(myops_src, dataset_id, name=name, progress=False)


# ------------------------------------------------------------------------------------ 2D sources

@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
def test_drive_faults_all_listed(drive_src, out_root):
    tr = drive_src / "training"
    # truncated image, annotation with a stray grey value, missing FOV mask, wrong-size annotation
    data = (tr / "images" / "21_training.tif").read_bytes()
    (tr / "images" / "21_training.tif").write_bytes(data[: len(data) // 3])
    arr = np.array(Image.open(tr / "1st_manual" / "22_manual1.gif"))
    arr[5, 5] = 128
    Image.fromarray(arr).save(tr / "1st_manual" / "22_manual1.gif")
    (tr / "mask" / "23_training_mask.gif").unlink()
    arr = np.array(Image.open(drive_src / "test" / "1st_manual" / "01_manual1.gif"))
    Image.fromarray(arr[:-1]).save(drive_src / "test" / "1st_manual" / "01_manual1.gif")
    err = _refused(lambda: convert_drive(drive_src, 630, fov_ignore=True, progress=False), out_root, drive_src,
                   match="4 problem", cases=["drive_01", "drive_21", "drive_22", "drive_23"])
    text = str(err)
    assert "image file unreadable or truncated" in text
    assert "22_manual1.gif has unexpected values" in text  # a grey value (GIF palette index)
    assert "missing file(s) in ['mask/']" in text
    assert "size (583, 565) != image size (584, 565)" in text


def test_isbi_missing_label_duplicate_and_truncated_png(isbi_src, out_root):
    (isbi_src / "train" / "label" / "3.png").unlink()
    shutil.copyfile(isbi_src / "train" / "image" / "4.png", isbi_src / "train" / "image" / "4.tif")
    png = isbi_src / "train" / "label" / "5.png"
    png.write_bytes(png.read_bytes()[:-5000])
    err = _refused(lambda: convert_isbi2012(isbi_src, 631, progress=False), out_root, isbi_src,
                   match="3 problem", cases=["4", "isbi_z03", "isbi_z05"])
    text = str(err)
    assert "duplicate image slice: 4.png and 4.tif" in text
    assert "missing label train/label/3.png" in text
    assert "label file unreadable or truncated" in text


def test_chase_truncated_jpeg_and_orphan_annotation(chase_src, out_root):
    jpg = chase_src / "Image_01L.jpg"
    jpg.write_bytes(jpg.read_bytes()[:20000])
    (chase_src / "Image_02R.jpg").unlink()
    err = _refused(lambda: convert_chase(chase_src, 637, progress=False), out_root, chase_src,
                   match="2 problem", cases=["chase_01L", "chase_02R"])
    assert "image file unreadable or truncated" in str(err)
    assert "annotation Image_02R_1stHO.png has no image Image_02R.jpg" in str(err)


def test_roads_rgba_image_is_refused(roads_src, out_root):
    path = roads_src / "images" / "19678630_15.png"
    Image.open(path).convert("RGBA").save(path)
    _refused(lambda: convert_roads(roads_src, 632, progress=False), out_root, roads_src,
             match="expected 8-bit RGB, got mode RGBA", cases=["road_19678630_15"])


def test_crackforest_broken_mat_files(cfd_src, out_root):
    gt = cfd_src / "groundTruth"
    (gt / "001.mat").write_bytes((gt / "001.mat").read_bytes()[:200])
    scipy.io.savemat(str(gt / "102.mat"), {"somethingElse": np.zeros((320, 480), np.uint8)})
    (cfd_src / "image" / "107.jpg").unlink()
    err = _refused(lambda: convert_crackforest(cfd_src, 633, progress=False), out_root, cfd_src,
                   match="3 problem", cases=["cfd_001", "cfd_102", "cfd_107"])
    text = str(err)
    assert "ground-truth file unreadable or truncated" in text
    assert "expected a struct groundTruth with a field Segmentation, got keys ['somethingElse']" in text
    assert "has no image image/107.jpg" in text


def test_nifti_label_geometry_and_values(myops_src, out_root, tmp_path):
    src = tmp_path / "generic"
    src.mkdir()
    for case in MYOPS_CASES:
        shutil.copyfile(myops_src / "train25" / f"{case}_C0.nii.gz", src / f"{case}_img.nii.gz")
        shutil.copyfile(myops_src / "train25_myops_gd" / f"{case}_gd.nii.gz", src / f"{case}_seg.nii.gz")
    _rewrite(src / f"{MYOPS_CASES[0]}_img.nii.gz", _with_origin)
    (src / f"{MYOPS_CASES[2]}_seg.nii.gz").unlink()
    labels = {"background": [0], "LV": [500], "RV": [600], "myo": [200, 1220]}  # 2221 left out on purpose
    err = _refused(
        lambda: convert_nifti(src, 634, images=["{case}_img.nii.gz"], label="{case}_seg.nii.gz", labels=labels,
                              progress=False),
        out_root, src, match="3 problem", cases=list(MYOPS_CASES))
    text = str(err)
    assert "geometry of image channel0 differs from label: origin" in text
    assert "unexpected values [2221]" in text
    assert f"missing file(s) ['{MYOPS_CASES[2]}_seg.nii.gz']" in text


def test_nifti_truncated_uncompressed_file(myops_src, out_root, tmp_path):
    src = tmp_path / "generic"
    src.mkdir()
    for case in MYOPS_CASES[:2]:
        for kind, path in (("img", myops_src / "train25" / f"{case}_C0.nii.gz"),
                           ("seg", myops_src / "train25_myops_gd" / f"{case}_gd.nii.gz")):
            raw = gzip.decompress(path.read_bytes())
            (src / f"{case}_{kind}.nii").write_bytes(raw[:-1000] if (case, kind) == (MYOPS_CASES[0], "img") else raw)
    labels = {"background": [0, 200, 500, 600, 1220, 2221]}
    _refused(lambda: convert_nifti(src, 636, images=["{case}_img.nii"], label="{case}_seg.nii", labels=labels,
                                   progress=False),
             out_root, src, match=r"holds \d+ bytes, its header promises \d+", cases=[MYOPS_CASES[0]])


def test_nifti_bad_options(tmp_path, out_root):
    (tmp_path / "s").mkdir()
    with pytest.raises(ConversionError, match="exactly one '\\{case\\}'"):
        convert_nifti(tmp_path / "s", 635, images=["img.nii.gz"], label="{case}.nii.gz")
    with pytest.raises(ConversionError, match="first label must be 'background'"):
        convert_nifti(tmp_path / "s", 635, images=["{case}_0.nii.gz"], label="{case}.nii.gz",
                      labels={"vessel": [1], "background": [0]})
    with pytest.raises(ConversionError, match="not foreground label names"):
        convert_nifti(tmp_path / "s", 635, images=["{case}_0.nii.gz"], label="{case}.nii.gz",
                      priors={"tumour": [1, 0]})
    with pytest.raises(ConversionError, match="no cases found"):
        convert_nifti(tmp_path / "s", 635, images=["{case}_0.nii.gz"], label="{case}.nii.gz")


# -------------------------------------------------------------------------------------------- CLI

def test_cli_reports_every_problem_and_exits_1(myops_src, out_root, capsys):
    (myops_src / "train25" / f"{MYOPS_CASES[0]}_T2.nii.gz").unlink()
    (myops_src / "train25_myops_gd" / f"{MYOPS_CASES[1]}_gd.nii.gz").unlink()
    assert main(["myops", str(myops_src), "-d", "640", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nnunet-topo convert myops: error: 2 problem(s)")
    assert MYOPS_CASES[0] in err and MYOPS_CASES[1] in err
    assert list(out_root.iterdir()) == []


def test_cli_converts_and_prints_notes(myops_src, out_root, capsys):
    assert main(["myops", str(myops_src), "-d", "641", "--regions", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {out_root / 'Dataset641_MyoPS2020'}: 3 training case(s)" in out
    assert "myops_training_119: z=4: myocardium betti [1, 0] != prior [1, 1] (open ring)" in out
    dj = json.loads((out_root / "Dataset641_MyoPS2020" / "dataset.json").read_text())
    assert "myocardium" in dj["topology"]["labels"]


def test_cli_output_option_and_usage_errors(isbi_src, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("nnUNet_raw", raising=False)
    assert main(["isbi2012", str(isbi_src), "-d", "642", "-o", str(tmp_path / "raw"), "--no-progress",
                 "--foreground", "cell"]) == 0
    assert (tmp_path / "raw" / "Dataset642_ISBI2012EM" / "splits_final.json").is_file()
    assert main(["isbi2012", str(isbi_src)]) == 2  # -d is required
    assert main(["unknown-source", str(isbi_src), "-d", "1"]) == 2
    assert main(["isbi2012", str(isbi_src), "-d", "643", "--no-progress"]) == 1  # neither nnUNet_raw nor -o
    assert "nnUNet_raw environment variable" in capsys.readouterr().err


def test_cli_nifti_options(myops_src, out_root):
    argv = ["nifti", str(myops_src), "-d", "644", "--image", "train25/{case}_C0.nii.gz",
            "--label", "train25_myops_gd/{case}_gd.nii.gz", "--channel-names", "C0",
            "--labels", "background=0,600,200,1220,2221", "LV=500", "--prior", "LV=1,0", "--per-slice",
            "--no-progress"]
    assert main(argv) == 0
    dj = json.loads((out_root / "Dataset644_NIfTI" / "dataset.json").read_text())
    assert dj["labels"] == {"background": 0, "LV": 1}
    assert dj["topology"]["labels"] == {"LV": {"betti": [1, 0], "match": True, "per_slice": True}}
    assert main(argv[:-1] + ["--prior", "LV=one", "--no-progress"]) == 1


def test_export_cli(myops_src, out_root, tmp_path, capsys):
    assert export_main(["myops", str(tmp_path / "nope"), str(tmp_path / "out")]) == 1
    assert "predictions: expected a folder" in capsys.readouterr().err
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "vessel": 1}}))
    (preds / "x.nii.gz").write_bytes(b"")
    assert export_main(["myops", str(preds), str(tmp_path / "out")]) == 1
    assert "are not those of `nnunet-topo convert myops`" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
