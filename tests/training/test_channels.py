"""The dataset.json "topology" block -> output channels, with nnU-Net's own LabelManager."""
from __future__ import annotations

import pytest
from nnunetv2.utilities.label_handling.label_handling import LabelManager

from nnunet_topo.topology import TopologySpec
from nnunet_topo.training.channels import default_channels, topology_channels

LABELS = {"background": 0, "ring": 1, "vessel": 2}
# MyoPS-style nested regions (region-based training, sigmoid outputs in this order)
REGIONS = {"background": 0, "heart": [1, 2, 3], "myo_and_scar": [2, 3], "scar": [3]}


def _spec(labels, block):
    return TopologySpec.from_dataset_json({"labels": labels, "topology": {"labels": block}})


def test_labels_map_to_their_softmax_channel():
    lm = LabelManager(LABELS, None)
    spec = _spec(LABELS, {"vessel": {"betti": None, "match": True}, "ring": {"betti": [1, 1], "match": False}})
    chans = topology_channels(spec, lm, spatial_ndim=2)
    assert [(c.name, c.channel, c.betti, c.match) for c in chans] == [
        ("ring", 1, (1, 1), False), ("vessel", 2, None, True)]


def test_regions_map_to_their_position_among_foreground_regions():
    lm = LabelManager(REGIONS, [1, 2, 3])
    spec = _spec(REGIONS, {"scar": {"betti": None}, "myo_and_scar": {"betti": [1, 1], "per_slice": True}})
    chans = topology_channels(spec, lm, spatial_ndim=3)
    assert [(c.name, c.channel, c.per_slice) for c in chans] == [("myo_and_scar", 1, True), ("scar", 2, False)]


def test_per_slice_is_dropped_for_2d_configurations():
    lm = LabelManager(REGIONS, [1, 2, 3])
    spec = _spec(REGIONS, {"myo_and_scar": {"betti": [1, 1], "per_slice": True}})
    assert topology_channels(spec, lm, spatial_ndim=2)[0].per_slice is False


def test_a_2d_prior_on_3d_input_needs_per_slice():
    lm = LabelManager(LABELS, None)
    spec = _spec(LABELS, {"ring": {"betti": [1, 1]}})
    with pytest.raises(ValueError, match="per_slice"):
        topology_channels(spec, lm, spatial_ndim=3)
    spec3 = _spec(LABELS, {"ring": {"betti": [1, 0, 1]}})
    with pytest.raises(ValueError, match="expected 2 numbers for 2D input"):
        topology_channels(spec3, lm, spatial_ndim=2)


def test_ignore_label_cannot_get_a_term():
    labels = dict(LABELS, ignore=3)
    lm = LabelManager(labels, None)
    spec = _spec(labels, {"ignore": {"betti": None}})
    with pytest.raises(ValueError, match="ignore label"):
        topology_channels(spec, lm, spatial_ndim=2)


def test_defaults_match_every_foreground_label_or_region():
    assert [c.channel for c in default_channels(LabelManager(dict(LABELS, ignore=3), None))] == [1, 2]
    regions = default_channels(LabelManager(REGIONS, [1, 2, 3]))
    assert [(c.channel, c.match, c.betti) for c in regions] == [(0, True, None), (1, True, None), (2, True, None)]
