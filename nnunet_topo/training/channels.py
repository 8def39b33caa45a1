"""Map the dataset.json ``"topology"`` block to the network's output channels, using nnU-Net's label manager.

* Label (softmax) training: the output channel of a label is its value (nnU-Net requires consecutive
  labels ``0..n-1``).
* Region (sigmoid) training: the output channel of a region is its position in
  ``label_manager.foreground_regions`` (the order of ``dataset.json["labels"]`` without background).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnunet_topo.topology import TopologySpec

__all__ = ["TopoChannel", "topology_channels", "default_channels"]


@dataclass(frozen=True)
class TopoChannel:
    """One output channel that receives a topological term."""

    name: str
    channel: int
    betti: tuple[int, ...] | None
    match: bool
    per_slice: bool


def _as_region(value: Any) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(sorted(int(v) for v in value))
    return (int(value),)


def _channel_of(name: str, label: int | tuple[int, ...], label_manager: Any) -> int:
    if label_manager.has_regions:
        regions = [_as_region(r) for r in label_manager.foreground_regions]
        key = _as_region(label)
        if key not in regions:
            raise ValueError(
                f"dataset.json 'topology': region {name!r} = {label!r} is not a foreground region of this "
                f"training (expected one of {label_manager.foreground_regions})"
            )
        return regions.index(key)
    if isinstance(label, tuple):
        if len(label) != 1:
            raise ValueError(f"dataset.json 'topology': {name!r} is a region {label!r} but the dataset trains labels")
        label = label[0]
    if label == label_manager.ignore_label:
        raise ValueError(f"dataset.json 'topology': {name!r} is the ignore label {label}; it cannot get a topological term")
    if label not in label_manager.all_labels:
        raise ValueError(f"dataset.json 'topology': label {name!r} = {label} is not one of {label_manager.all_labels}")
    return int(label)


def topology_channels(spec: TopologySpec, label_manager: Any, *, spatial_ndim: int) -> tuple[TopoChannel, ...]:
    """Channels with their Betti prior and matching flag, in channel order.

    ``per_slice`` is dropped for 2D configurations (the network already sees slices). Priors must fit
    the configuration: ``[b0, b1]`` on 2D input or per slice of 3D input, ``[b0, b1, b2]`` on 3D input.

    Raises:
        ValueError: a name that is not a label/region of this training, the ignore label, or a prior
            whose length does not fit ``spatial_ndim``.
    """
    if spatial_ndim not in (2, 3):
        raise ValueError(f"spatial_ndim: expected 2 or 3, got {spatial_ndim!r}")
    out = []
    for lt in spec.labels:
        channel = _channel_of(lt.name, lt.label, label_manager)
        per_slice = bool(lt.per_slice) and spatial_ndim == 3
        if lt.betti is not None:
            expected = 2 if (spatial_ndim == 2 or per_slice) else 3
            if len(lt.betti) != expected:
                where = "2D input" if spatial_ndim == 2 else ("slices of 3D input" if per_slice else "3D input")
                raise ValueError(
                    f"dataset.json 'topology'.labels[{lt.name!r}].betti: expected {expected} numbers for {where}, "
                    f"got {list(lt.betti)}" + ("; set \"per_slice\": true for a 2D prior on 3D data" if expected == 3 else "")
                )
        out.append(TopoChannel(name=lt.name, channel=channel, betti=lt.betti, match=lt.match, per_slice=per_slice))
    return tuple(sorted(out, key=lambda c: c.channel))


def default_channels(label_manager: Any) -> tuple[TopoChannel, ...]:
    """Every foreground label/region, matched, no prior: the settings when dataset.json has no block."""
    if label_manager.has_regions:
        return tuple(TopoChannel(name=str(r), channel=i, betti=None, match=True, per_slice=False)
                     for i, r in enumerate(label_manager.foreground_regions))
    return tuple(TopoChannel(name=str(lab), channel=int(lab), betti=None, match=True, per_slice=False)
                 for lab in label_manager.foreground_labels)
