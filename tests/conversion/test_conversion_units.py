"""Unit tests of the shared machinery (no real data): Betti numbers, folds, dataset.json, torch-free import."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import measure

from nnunet_topo.conversion._common import (
    ConversionError,
    DatasetDescription,
    betti_2d,
    build_dataset_json,
    folds_contiguous,
    folds_from_groups,
)
from nnunet_topo.conversion.myops import topology_block


def _parse_topology(dataset_json: dict, **kwargs):
    """Parse with the engine's own parser (imported here so that other tests still run if it is broken)."""
    from nnunet_topo.topology.spec import TopologySpec

    return TopologySpec.from_dataset_json(dataset_json, **kwargs)


def test_betti_2d_ring_on_a_non_square_grid():
    yy, xx = np.mgrid[:21, :30]
    d = np.hypot(yy - 10, xx - 14.5)
    ring = (d >= 4) & (d <= 8)
    assert betti_2d(ring) == (1, 1)
    ring[10, :15] = False  # cut it open
    assert betti_2d(ring) == (1, 0)
    assert betti_2d(np.zeros((3, 5), bool)) == (0, 0)


def test_betti_2d_uses_8_connected_foreground():
    diag = np.eye(4, 6, dtype=bool)
    assert betti_2d(diag) == (1, 0)  # one 8-connected component
    cross = np.zeros((3, 4), bool)
    cross[[0, 1, 1, 2], [1, 0, 2, 1]] = True  # diamond: 8-connected ring around a 4-connected hole
    assert betti_2d(cross) == (1, 1)


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 11))))
def test_betti_2d_against_skimage(mask):
    b0 = int(measure.label(mask, connectivity=2).max())
    assert betti_2d(mask) == (b0, b0 - int(measure.euler_number(mask, connectivity=2)))


def test_betti_2d_rejects_3d():
    with pytest.raises(ValueError, match="expected a 2D mask"):
        betti_2d(np.zeros((2, 3, 4), bool))


def test_folds_from_groups_keeps_groups_together():
    groups = {f"c{g}{e}": f"g{g}" for g in range(7) for e in "LR"}
    folds = folds_from_groups(groups, 5)
    assert len(folds) == 5
    vals = [c for f in folds for c in f["val"]]
    assert sorted(vals) == sorted(groups)
    for f in folds:
        assert set(f["train"]).isdisjoint(f["val"]) and sorted(f["train"] + f["val"]) == sorted(groups)
        for c in f["val"]:
            assert all(groups[o] != groups[c] for o in f["train"])
    with pytest.raises(ConversionError, match="at least 2 groups"):
        folds_from_groups({"a": "g", "b": "g"})


def test_folds_contiguous():
    cases = [f"s{i:02d}" for i in range(7)]
    folds = folds_contiguous(cases, 3)
    assert [f["val"] for f in folds] == [["s00", "s01"], ["s02", "s03", "s04"], ["s05", "s06"]]
    assert all(sorted(f["train"] + f["val"]) == cases for f in folds)


@pytest.mark.parametrize("regions", [False, True])
def test_myops_dataset_json_parses_as_topology_spec(regions):
    from nnunet_topo.conversion.myops import NNUNET_LABELS, NNUNET_REGIONS, REGIONS_CLASS_ORDER

    desc = DatasetDescription(
        channel_names={"0": "C0", "1": "DE", "2": "T2"}, labels=NNUNET_REGIONS if regions else NNUNET_LABELS,
        file_ending=".nii.gz", topology=topology_block(regions),
        regions_class_order=REGIONS_CLASS_ORDER if regions else None,
    )
    dj = json.loads(json.dumps(build_dataset_json(desc, 3)))
    spec = _parse_topology(dj, required=True)
    assert spec.connectivity == "full"
    names = [lt.name for lt in spec.labels]
    assert names == (["LV", "RV", "myocardium", "edema_scar", "scar"] if regions
                     else ["LV", "RV", "normal_myocardium", "edema", "scar"])
    if regions:
        assert {lt.name: lt.label for lt in spec.labels}["myocardium"] == (3, 4, 5)


def test_regions_need_class_order():
    desc = DatasetDescription(channel_names={"0": "x"}, labels={"background": 0, "a": [1, 2], "b": 2},
                              file_ending=".png", topology={"labels": {}})
    with pytest.raises(ValueError, match="regions_class_order"):
        build_dataset_json(desc, 1)


def test_import_is_torch_free_and_stands_alone():
    code = (
        "import sys\n"
        "before = set(sys.modules)  # what the interpreter loaded itself (e.g. the torchvision guard's .pth)\n"
        "import nnunet_topo.conversion, nnunet_topo.conversion.cli\n"
        "from nnunet_topo.conversion import myops, retina, isbi2012, roads, crackforest, nifti\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "ours = sorted(m for m in set(sys.modules) - before if m.startswith('nnunet_topo.') "
        "and not m.startswith('nnunet_topo.conversion'))\n"
        "assert ours == [], ours\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
