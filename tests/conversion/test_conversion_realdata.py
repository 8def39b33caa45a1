"""Each converter on a few real cases, checked value by value against the source and by nnU-Net itself."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import SimpleITK as sitk
from PIL import Image
from skimage import measure

from _conversion_helpers import (
    CFD_CASES,
    CHASE_CHILDREN,
    DRIVE_CASES,
    ISBI_SLICES,
    MYOPS_CASES,
    ROAD_TILES,
    tree_digest,
    verify_integrity,
)
from nnunet_topo.conversion import (
    ConversionError,
    convert_chase,
    convert_crackforest,
    convert_drive,
    convert_isbi2012,
    convert_myops,
    convert_nifti,
    convert_roads,
    export_myops,
)
from nnunet_topo.conversion.retina import chase_fov

pytestmark = pytest.mark.realdata


def _parse_topology(dataset_json: dict, **kwargs):
    """Parse with the engine's own parser (imported here so that other tests still run if it is broken)."""
    from nnunet_topo.topology.spec import TopologySpec

    return TopologySpec.from_dataset_json(dataset_json, **kwargs)

MYOPS_MAP = {0: 0, 500: 1, 600: 2, 200: 3, 1220: 4, 2221: 5}


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im)


def _nii(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def _dataset_json(folder: Path) -> dict:
    return json.loads((folder / "dataset.json").read_text())


def _assert_same_geometry(a: sitk.Image, b: sitk.Image) -> None:
    """Equal up to the float32 precision of the NIfTI header (direction is stored as a quaternion)."""
    assert a.GetSize() == b.GetSize()
    for get in ("GetSpacing", "GetOrigin", "GetDirection"):
        np.testing.assert_allclose(getattr(a, get)(), getattr(b, get)(), rtol=0, atol=1e-5)


def _assert_nnunet_accepts(folder: Path, capfd) -> None:
    printed = verify_integrity(folder, capfd)
    assert "Error" not in printed and "Warning" not in printed, printed
    assert "verify_dataset_integrity Done" in printed


# ------------------------------------------------------------------------------------------- MyoPS

@pytest.mark.slow
@pytest.mark.parametrize("regions", [False, True])
def test_myops_real_cases(myops_src, out_root, regions, capfd):
    before = tree_digest(myops_src)
    folder = convert_myops(myops_src, 501, regions=regions, progress=False)
    assert folder == out_root / "Dataset501_MyoPS2020"
    assert tree_digest(myops_src) == before  # the source is never modified
    dj = _dataset_json(folder)
    assert dj["channel_names"] == {"0": "C0", "1": "DE", "2": "T2"}
    assert dj["file_ending"] == ".nii.gz" and dj["numTraining"] == len(MYOPS_CASES)
    spec = _parse_topology(dj, required=True)
    if regions:
        assert dj["regions_class_order"] == [1, 2, 3, 4, 5]
        assert dj["labels"]["myocardium"] == [3, 4, 5]
        assert spec.priors() == {"LV": (1, 0), "RV": (1, 0), "myocardium": (1, 1)}
    else:
        assert "regions_class_order" not in dj
        assert spec.priors() == {"LV": (1, 0), "RV": (1, 0)}
    assert all(lt.per_slice for lt in spec.labels)
    for case in MYOPS_CASES:
        gd = sitk.ReadImage(str(myops_src / "train25_myops_gd" / f"{case}_gd.nii.gz"))
        src = sitk.GetArrayFromImage(gd)
        lab_img = sitk.ReadImage(str(folder / "labelsTr" / f"{case}.nii.gz"))
        lab = sitk.GetArrayFromImage(lab_img)
        assert lab.dtype == np.uint8
        for value, label in MYOPS_MAP.items():  # every voxel mapped as documented
            np.testing.assert_array_equal(lab == label, src == value)
        _assert_same_geometry(lab_img, gd)
        for i, seq in enumerate(("C0", "DE", "T2")):
            s_img = sitk.ReadImage(str(myops_src / "train25" / f"{case}_{seq}.nii.gz"))
            o_img = sitk.ReadImage(str(folder / "imagesTr" / f"{case}_{i:04d}.nii.gz"))
            np.testing.assert_array_equal(sitk.GetArrayFromImage(o_img), sitk.GetArrayFromImage(s_img))
            _assert_same_geometry(o_img, s_img)
    _assert_nnunet_accepts(folder, capfd)


def _oracle_betti(mask: np.ndarray) -> tuple[int, int]:
    """skimage: b0 = 8-connected components, b1 = b0 - Euler number (8-connectivity)."""
    b0 = int(measure.label(mask, connectivity=2).max())
    return b0, b0 - int(measure.euler_number(mask, connectivity=2))


def test_myops_reports_slices_that_break_the_priors(myops_src, out_root):
    folder = convert_myops(myops_src, 502, progress=False)
    notes = json.loads((folder / "conversion_report.json").read_text())["notes"]
    for case in MYOPS_CASES:
        src = _nii(myops_src / "train25_myops_gd" / f"{case}_gd.nii.gz")
        expected = []
        for z in range(src.shape[0]):
            if not src[z].any():
                continue
            for name, mask, prior in (("myocardium", np.isin(src[z], (200, 1220, 2221)), (1, 1)),
                                      ("LV", src[z] == 500, (1, 0)), ("RV", src[z] == 600, (1, 0))):
                b = _oracle_betti(mask)
                if b != prior:
                    expected.append((z, name, b))
        got = [(int(n.split(":")[0][2:]), n.split()[1], tuple(json.loads(n.split("betti ")[1].split(" !=")[0])))
               for n in notes.get(case, [])]
        assert got == expected
    # PROVENANCE: case 119 slice z=4 has an open myocardium ring
    assert any(n.startswith("z=4: myocardium betti [1, 0]") and "open ring" in n for n in notes["myops_training_119"])
    # the ground truth is reported, not altered
    np.testing.assert_array_equal(
        _nii(folder / "labelsTr" / "myops_training_119.nii.gz") == 3,
        _nii(myops_src / "train25_myops_gd" / "myops_training_119_gd.nii.gz") == 200,
    )


def test_myops_export_round_trip(myops_src, out_root, tmp_path):
    folder = convert_myops(myops_src, 503, regions=True, progress=False)
    preds = tmp_path / "preds"
    preds.mkdir()
    for case in MYOPS_CASES:  # the converted labels stand in for perfect predictions
        (preds / f"{case}.nii.gz").write_bytes((folder / "labelsTr" / f"{case}.nii.gz").read_bytes())
    (preds / "dataset.json").write_text((folder / "dataset.json").read_text())
    out = export_myops(preds, tmp_path / "export", source=myops_src, progress=False)
    for case in MYOPS_CASES:
        img = sitk.ReadImage(str(out / f"{case}_seg.nii.gz"))
        arr = sitk.GetArrayFromImage(img)
        assert arr.dtype == np.uint16
        np.testing.assert_array_equal(arr, _nii(myops_src / "train25_myops_gd" / f"{case}_gd.nii.gz"))
        c0 = sitk.ReadImage(str(myops_src / "train25" / f"{case}_C0.nii.gz"))
        _assert_same_geometry(img, c0)
    with pytest.raises(ConversionError, match="already exists"):
        export_myops(preds, out, progress=False)


def test_myops_test_split_goes_to_imagesTs(myops_src, out_root, tmp_path):
    """A ``test20/`` folder (images only, as in the challenge release) -> imagesTs, no labelsTs."""
    case = MYOPS_CASES[2]
    (myops_src / "test20").mkdir()
    for seq in ("C0", "DE", "T2"):
        shutil.copyfile(myops_src / "train25" / f"{case}_{seq}.nii.gz", myops_src / "test20" / f"myops_test_201_{seq}.nii.gz")
    folder = convert_myops(myops_src, 505, progress=False)
    assert sorted(p.name for p in (folder / "imagesTs").iterdir()) == [
        f"myops_test_201_{i:04d}.nii.gz" for i in range(3)]
    assert not (folder / "labelsTs").exists()
    assert _dataset_json(folder)["numTraining"] == len(MYOPS_CASES)
    # export of a test prediction takes its geometry from test20/..._C0
    preds = tmp_path / "preds"
    preds.mkdir()
    shutil.copyfile(folder / "labelsTr" / f"{case}.nii.gz", preds / "myops_test_201.nii.gz")
    out = export_myops(preds, tmp_path / "export", source=myops_src, progress=False)
    np.testing.assert_array_equal(_nii(out / "myops_test_201_seg.nii.gz"),
                                  _nii(myops_src / "train25_myops_gd" / f"{case}_gd.nii.gz"))


def test_myops_export_refuses_unknown_labels(myops_src, out_root, tmp_path):
    folder = convert_myops(myops_src, 504, progress=False)
    preds = tmp_path / "preds"
    preds.mkdir()
    img = sitk.ReadImage(str(folder / "labelsTr" / f"{MYOPS_CASES[0]}.nii.gz"))
    arr = sitk.GetArrayFromImage(img)
    arr[0, 0, 0] = 7
    bad = sitk.GetImageFromArray(arr)
    bad.CopyInformation(img)
    sitk.WriteImage(bad, str(preds / f"{MYOPS_CASES[0]}.nii.gz"))
    with pytest.raises(ConversionError, match=r"unexpected values \[7\]"):
        export_myops(preds, tmp_path / "export", progress=False)
    assert not (tmp_path / "export").exists()


# ------------------------------------------------------------------------------------------ retina

@pytest.mark.slow
def test_drive_real_cases_with_fov_ignore(drive_src, out_root, shared_data, capfd):
    folder = convert_drive(drive_src, 511, fov_ignore=True, progress=False)
    dj = _dataset_json(folder)
    assert dj["labels"] == {"background": 0, "vessel": 1, "ignore": 2}
    assert dj["channel_names"] == {"0": "R", "1": "G", "2": "B"} and dj["file_ending"] == ".png"
    assert _parse_topology(dj).matched() == ("vessel",)
    for n in DRIVE_CASES:
        img = _png(drive_src / "training" / "images" / f"{n}_training.tif")
        np.testing.assert_array_equal(_png(folder / "imagesTr" / f"drive_{n}_0000.png"), img)
        vessel = _png(drive_src / "training" / "1st_manual" / f"{n}_manual1.gif") == 255
        fov = _png(drive_src / "training" / "mask" / f"{n}_training_mask.gif") == 255
        lab = _png(folder / "labelsTr" / f"drive_{n}.png")
        np.testing.assert_array_equal(lab, np.where(fov, vessel.astype(np.uint8), 2))
    assert sorted(p.name for p in (folder / "imagesTs").iterdir()) == ["drive_01_0000.png"]
    assert sorted(p.name for p in (folder / "labelsTs").iterdir()) == ["drive_01.png"]
    _assert_nnunet_accepts(folder, capfd)


def test_drive_without_fov_ignore_is_binary(drive_src, out_root):
    folder = convert_drive(drive_src, 512, progress=False)
    assert _dataset_json(folder)["labels"] == {"background": 0, "vessel": 1}
    lab = _png(folder / "labelsTr" / "drive_22.png")
    np.testing.assert_array_equal(lab, (_png(drive_src / "training" / "1st_manual" / "22_manual1.gif") > 0))


def test_drive_test_split_without_annotations(drive_src, out_root):
    shutil.rmtree(drive_src / "test" / "1st_manual")
    folder = convert_drive(drive_src, 519, fov_ignore=True, progress=False)
    assert sorted(p.name for p in (folder / "imagesTs").iterdir()) == ["drive_01_0000.png"]
    assert not (folder / "labelsTs").exists()


def test_chase_fov_reproduces_drive_masks(shared_data):
    """The CHASE FOV rule against DRIVE's official FOV masks (an independent reference)."""
    for n in DRIVE_CASES:
        img = _png(shared_data / "DRIVE" / "training" / "images" / f"{n}_training.tif")
        fov = _png(shared_data / "DRIVE" / "training" / "mask" / f"{n}_training_mask.gif") > 0
        assert (chase_fov(img) != fov).mean() < 0.01


@pytest.mark.slow
def test_chase_real_cases_keep_both_eyes_in_one_fold(chase_src, out_root, capfd):
    folder = convert_chase(chase_src, 513, fov_ignore=True, num_folds=3, progress=False)
    splits = json.loads((folder / "splits_final.json").read_text())
    cases = sorted(f"chase_{c}{e}" for c in CHASE_CHILDREN for e in "LR")
    assert len(splits) == 3
    assert sorted(c for f in splits for c in f["val"]) == cases  # every case validated exactly once
    for fold in splits:
        assert sorted(fold["train"] + fold["val"]) == cases
        children = {c[len("chase_"):-1] for c in fold["val"]}
        assert all(f"chase_{ch}{e}" in fold["val"] for ch in children for e in "LR")
    for c in cases:
        key = c[len("chase_"):]
        img = _png(chase_src / f"Image_{key}.jpg")
        np.testing.assert_array_equal(_png(folder / "imagesTr" / f"{c}_0000.png"), img)
        vessel = _png(chase_src / f"Image_{key}_1stHO.png").astype(bool)
        lab = _png(folder / "labelsTr" / f"{c}.png")
        fov = lab != 2
        assert 0.6 < fov.mean() < 0.75  # CHASE's circular field of view covers ~2/3 of the frame
        np.testing.assert_array_equal(lab[fov], vessel[fov])
    _assert_nnunet_accepts(folder, capfd)


# -------------------------------------------------------------------------------------------- ISBI

@pytest.mark.slow
@pytest.mark.parametrize("foreground", ["membrane", "cell"])
def test_isbi_real_slices(isbi_src, out_root, foreground, capfd):
    folder = convert_isbi2012(isbi_src, 514, foreground=foreground, num_folds=3, progress=False)
    dj = _dataset_json(folder)
    assert dj["labels"] == {"background": 0, foreground: 1}
    for z in ISBI_SLICES:
        src = _png(isbi_src / "train" / "label" / f"{z}.png")
        lab = _png(folder / "labelsTr" / f"isbi_z{z:02d}.png")
        np.testing.assert_array_equal(lab, (src == 0) if foreground == "membrane" else (src == 255))
        np.testing.assert_array_equal(_png(folder / "imagesTr" / f"isbi_z{z:02d}_0000.png"),
                                      _png(isbi_src / "train" / "image" / f"{z}.png"))
    splits = json.loads((folder / "splits_final.json").read_text())
    vals = [[int(c[len("isbi_z"):]) for c in f["val"]] for f in splits]
    assert vals == [[0, 1], [2, 3], [4, 5]]  # contiguous blocks of slices
    if foreground == "membrane":
        _assert_nnunet_accepts(folder, capfd)


# ------------------------------------------------------------------------------------------- roads

@pytest.mark.slow
def test_roads_real_tiles_with_nodata_ignore(roads_src, out_root, capfd):
    folder = convert_roads(roads_src, 515, nodata_ignore=True, progress=False)
    assert _dataset_json(folder)["labels"] == {"background": 0, "road": 1, "ignore": 2}
    report = json.loads((folder / "conversion_report.json").read_text())
    for tile in ROAD_TILES:
        img = _png(roads_src / "images" / f"{tile}.png")
        mask = _png(roads_src / "masks" / f"{tile}.png")
        lab = _png(folder / "labelsTr" / f"road_{tile}.png")
        white = (img >= 250).all(axis=2)
        ignore = lab == 2
        assert not (ignore & ~white).any()  # only white pixels are ignored
        assert ignore.sum() >= 0.95 * white.sum()  # ...and almost all of them (small bright specks stay)
        np.testing.assert_array_equal(lab[~ignore], (mask[~ignore] == 255))
    # PROVENANCE: tile 19678630_15 has no road pixels in its white area
    assert "0 road pixels there became ignore" in report["notes"]["road_19678630_15"][0]
    _assert_nnunet_accepts(folder, capfd)


# ------------------------------------------------------------------------------------- CrackForest

@pytest.mark.parametrize("extra,value", [("background", 0), ("ignore", 2), ("crack", 1)])
def test_crackforest_real_cases_map_extra_values_explicitly(cfd_src, out_root, extra, value):
    folder = convert_crackforest(cfd_src, 516, extra=extra, progress=False, overwrite=True)
    labels = _dataset_json(folder)["labels"]
    assert ("ignore" in labels) == (extra == "ignore")
    for k in CFD_CASES:
        seg = scipy.io.loadmat(str(cfd_src / "groundTruth" / f"{k}.mat"))["groundTruth"][0, 0]["Segmentation"]
        lab = _png(folder / "labelsTr" / f"cfd_{k}.png")
        np.testing.assert_array_equal(lab[seg == 1], 0)
        np.testing.assert_array_equal(lab[seg == 2], 1)
        np.testing.assert_array_equal(lab[(seg == 3) | (seg == 4)], value)
    notes = json.loads((folder / "conversion_report.json").read_text())["notes"]
    assert sorted(notes) == ["cfd_102", "cfd_107"]  # 001 has only values 1 and 2


def test_crackforest_extra_error_names_the_cases(cfd_src, out_root):
    with pytest.raises(ConversionError) as info:
        convert_crackforest(cfd_src, 517, extra="error", progress=False)
    cases = [c for c, _ in info.value.problems]
    assert cases == ["cfd_102", "cfd_107"]
    assert "unexpected values [3, 4]" in str(info.value)
    assert list(out_root.iterdir()) == []


@pytest.mark.slow
def test_crackforest_passes_nnunet_integrity(cfd_src, out_root, capfd):
    _assert_nnunet_accepts(convert_crackforest(cfd_src, 518, extra="ignore", progress=False), capfd)


# ------------------------------------------------------------------------------------ generic NIfTI

@pytest.fixture
def nifti_src(myops_src, tmp_path) -> Path:
    """MyoPS C0 + T2 and the ground truth arranged as a generic image/label folder."""
    src = tmp_path / "generic"
    (src / "img").mkdir(parents=True)
    (src / "lab").mkdir()
    for case in MYOPS_CASES[:2]:
        for seq in ("C0", "T2"):
            (src / "img" / f"{case}_{seq}.nii.gz").write_bytes((myops_src / "train25" / f"{case}_{seq}.nii.gz").read_bytes())
        (src / "lab" / f"{case}.nii.gz").write_bytes((myops_src / "train25_myops_gd" / f"{case}_gd.nii.gz").read_bytes())
    return src


@pytest.mark.slow
def test_nifti_generic_pairs(nifti_src, out_root, capfd):
    folder = convert_nifti(
        nifti_src, 519, images=["img/{case}_C0.nii.gz", "img/{case}_T2.nii.gz"], label="lab/{case}.nii.gz",
        channel_names=["C0", "T2"], labels={"background": [0, 600], "LV": [500], "myocardium": [200, 1220, 2221]},
        priors={"myocardium": [1, 1], "LV": [1, 0]}, per_slice=True, progress=False,
    )
    dj = _dataset_json(folder)
    assert dj["labels"] == {"background": 0, "LV": 1, "myocardium": 2}
    assert dj["channel_names"] == {"0": "C0", "1": "T2"}
    spec = _parse_topology(dj)
    assert spec.priors() == {"LV": (1, 0), "myocardium": (1, 1)}
    for case in MYOPS_CASES[:2]:
        src = _nii(nifti_src / "lab" / f"{case}.nii.gz")
        lab = _nii(folder / "labelsTr" / f"{case}.nii.gz")
        np.testing.assert_array_equal(lab, np.select([src == 500, np.isin(src, (200, 1220, 2221))], [1, 2], 0))
    _assert_nnunet_accepts(folder, capfd)
