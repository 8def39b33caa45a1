"""The dataset.json "topology" block parser (nnunet_topo.topology.TopologySpec)."""
from __future__ import annotations

import pytest

from nnunet_topo.topology import LabelTopology, TopologySpec

LABELS = {"background": 0, "myocardium": 1, "LV": 2, "RV": 3}


def _ds(block):
    return {"labels": LABELS, "topology": block}


def test_parses_in_dataset_label_order():
    spec = TopologySpec.from_dataset_json(_ds({
        "labels": {
            "LV": {"betti": [1, 0], "match": True, "per_slice": True},
            "myocardium": {"betti": [1, 1], "per_slice": True},
            "RV": {"betti": None, "match": False},
        }
    }))
    assert spec.connectivity == "full"
    assert [lt.name for lt in spec.labels] == ["myocardium", "LV", "RV"]
    assert spec.labels[0] == LabelTopology("myocardium", 1, (1, 1), True, True)
    assert spec.priors() == {"myocardium": (1, 1), "LV": (1, 0)}
    assert spec.matched() == ("myocardium", "LV")


def test_region_labels_keep_their_tuple():
    ds = {"labels": {"background": 0, "whole": [1, 2], "core": 2}, "regions_class_order": [1, 2],
          "topology": {"labels": {"whole": {"betti": [1, 1]}}}}
    spec = TopologySpec.from_dataset_json(ds)
    assert spec.labels[0].label == (1, 2)


def test_missing_block():
    assert TopologySpec.from_dataset_json({"labels": LABELS}) is None
    with pytest.raises(ValueError, match="expected a 'topology' block"):
        TopologySpec.from_dataset_json({"labels": LABELS}, required=True)


@pytest.mark.parametrize(
    "block, message",
    [
        ({"labels": {"aorta": {"betti": [1, 0]}}}, "'aorta' is not in dataset.json 'labels'"),
        ({"labels": {"LV": {"betti": [1]}}}, "list of 2 or 3"),
        ({"labels": {"LV": {"betti": [1, -1]}}}, "non-negative"),
        ({"labels": {"LV": {"betti": [1, 0], "prior": 3}}}, "unknown keys"),
        ({"labels": {"LV": {"match": "yes"}}}, "must be true/false"),
        ({"labels": {"LV": {"betti": [1, 0]}, "RV": {"betti": [1, 0, 0]}}}, "same length"),
        ({"connectivity": "8", "labels": {}}, "connectivity"),
        ({"labels": []}, "'labels' object"),
    ],
)
def test_bad_blocks_name_what_is_wrong(block, message):
    with pytest.raises(ValueError, match=message):
        TopologySpec.from_dataset_json(_ds(block))
