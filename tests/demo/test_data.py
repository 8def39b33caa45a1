"""The embedded demo dataset: shapes, labels, topology (against independent oracles), determinism."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.measure import euler_number

from nnunet_topo.demo.data import (DEMO_LABELS, generate_case, generate_cases, label_betti,
                                   write_demo_dataset)
from nnunet_topo.topology import TopologySpec, betti_numbers

SHAPES = [(128, 128), (96, 144)]


@pytest.mark.parametrize("shape", SHAPES)
def test_case_shapes_dtypes_and_labels(shape):
    case = generate_case(3, shape=shape)
    assert case.image.shape == shape and case.label.shape == shape
    assert case.image.dtype == np.uint8 and case.label.dtype == np.uint8
    assert case.image.flags.c_contiguous and case.label.flags.c_contiguous
    assert set(np.unique(case.label)) == set(DEMO_LABELS.values())
    assert case.image.std() > 10  # noisy, not blank


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", range(6))
def test_labels_have_the_declared_topology(shape, seed):
    label = generate_case(seed, shape=shape).label
    ring = label == DEMO_LABELS["myocardium"]
    pool = label == DEMO_LABELS["blood_pool"]
    vessel = label == DEMO_LABELS["vessel"]
    # oracle 1: the engine (foreground 8 / background 4)
    assert betti_numbers(ring) == (1, 1)
    assert betti_numbers(pool) == (1, 0)
    assert betti_numbers(vessel)[0] == 1
    # oracle 2: skimage's Euler number with 8-connectivity agrees with b0 - b1
    assert euler_number(ring, connectivity=2) == 0
    assert euler_number(pool, connectivity=2) == 1
    # the pool fills the ring's hole exactly: ring + pool is a disc
    assert label_betti(ring | pool) == (1, 0)
    assert np.array_equal(ndimage.binary_fill_holes(ring) & ~ring, pool)


def test_scar_makes_the_wall_thin_somewhere():
    # the pathology: at one angle the ring is at most 2 px thick; eroding it once breaks or thins it there
    thin = 0
    for seed in range(8):
        ring = generate_case(seed).label == DEMO_LABELS["myocardium"]
        eroded = ndimage.binary_erosion(ring, structure=np.ones((3, 3), bool))
        thin += label_betti(eroded) != (1, 1)
    assert thin >= 6


def test_label_betti_on_analytic_shapes():
    yy, xx = np.mgrid[:40, :50]
    r = np.hypot(yy - 20, xx - 25)
    assert label_betti((r >= 8) & (r < 12)) == (1, 1)
    assert label_betti(r < 8) == (1, 0)
    two = np.zeros((9, 11), bool)
    two[1:3, 1:3] = two[5:8, 6:9] = True
    assert label_betti(two) == (2, 0)
    diag = np.eye(6, dtype=bool)  # one piece with 8-connectivity
    assert label_betti(diag) == (1, 0)
    with pytest.raises(ValueError, match="2D mask"):
        label_betti(np.zeros((3, 3, 3), bool))


def test_deterministic_by_seed():
    a, b, c = generate_case(7), generate_case(7), generate_case(8)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert not np.array_equal(a.label, c.label)
    names = [x.name for x in generate_cases(3, seed=2)]
    assert names == ["demo_000", "demo_001", "demo_002"]
    assert np.array_equal(generate_cases(3, seed=2)[1].image, generate_case(2001).image)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        generate_case(bad)


def test_bad_shape_and_counts(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        generate_case(0, shape=(32, 128))
    with pytest.raises(ValueError, match="n >= 1"):
        generate_cases(0)
    with pytest.raises(ValueError, match="num_train"):
        write_demo_dataset(tmp_path, num_train=2)
    with pytest.raises(ValueError, match="dataset_id"):
        write_demo_dataset(tmp_path, dataset_id=1000)


def test_written_dataset_is_an_nnunet_raw_dataset(tmp_path):
    folder = write_demo_dataset(tmp_path, dataset_id=123, num_train=6, num_test=2, seed=1, shape=(64, 80))
    assert folder.name == "Dataset123_TopoDemo"
    dj = json.loads((folder / "dataset.json").read_text())
    assert dj["numTraining"] == 6 and dj["file_ending"] == ".png"
    assert dj["labels"] == DEMO_LABELS
    spec = TopologySpec.from_dataset_json(dj, required=True)
    assert spec.connectivity == "full"
    assert spec.priors() == {"myocardium": (1, 1), "blood_pool": (1, 0)}
    assert spec.matched() == ("myocardium", "blood_pool", "vessel")
    train = sorted(p.name for p in (folder / "labelsTr").iterdir())
    assert train == [f"demo_{i:03d}.png" for i in range(6)]
    assert sorted(p.name for p in (folder / "imagesTs").iterdir()) == ["demotest_000_0000.png", "demotest_001_0000.png"]
    # PNGs round-trip exactly and as nnU-Net's NaturalImage2DIO reads them (grey: 2D arrays)
    img = np.asarray(Image.open(folder / "imagesTr" / "demo_002_0000.png"))
    lab = np.asarray(Image.open(folder / "labelsTr" / "demo_002.png"))
    case = generate_case(1002, shape=(64, 80))
    assert np.array_equal(img, case.image) and np.array_equal(lab, case.label)
    # test cases differ from training cases
    test_lab = np.asarray(Image.open(folder / "labelsTs" / "demotest_000.png"))
    assert not any(np.array_equal(test_lab, np.asarray(Image.open(folder / "labelsTr" / n))) for n in train)
    # no temporary folder left; rewriting replaces
    assert [p.name for p in tmp_path.iterdir()] == ["Dataset123_TopoDemo"]
    write_demo_dataset(tmp_path, dataset_id=123, num_train=5, num_test=1, seed=1, shape=(64, 80))
    assert len(list((folder / "labelsTr").iterdir())) == 5
