"""The ``"topology"`` block of an nnU-Net ``dataset.json``: which labels get which topological prior.

Written by the converters (as plain JSON) and by the demo; read by the trainers and the evaluator.
Format (keys of ``"labels"`` are label or region *names* from ``dataset.json["labels"]``)::

    "topology": {
        "connectivity": "full",
        "labels": {
            "myocardium": {"betti": [1, 1], "match": true, "per_slice": true},
            "LV":         {"betti": [1, 0], "match": true, "per_slice": true},
            "vessel":     {"betti": null,   "match": true}
        }
    }

* ``betti``: the Betti prior ``[b0, b1]`` (2D or per slice) or ``[b0, b1, b2]`` (3D), or ``null``
  when anatomy does not fix it.
* ``match``: whether the label's topology is matched against the ground truth (Betti matching).
* ``per_slice``: the prior holds per 2D slice of a 3D volume (anisotropic data such as MyoPS);
  slices are taken along the first (slowest, C order) axis. Default ``false``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ._validation import check_connectivity

__all__ = ["LabelTopology", "TopologySpec"]


@dataclass(frozen=True)
class LabelTopology:
    """Topological settings of one label or region."""

    name: str
    label: int | tuple[int, ...]
    betti: tuple[int, ...] | None
    match: bool
    per_slice: bool = False


@dataclass(frozen=True)
class TopologySpec:
    """Parsed ``"topology"`` block; ``labels`` keep the order of ``dataset.json["labels"]``."""

    connectivity: str
    labels: tuple[LabelTopology, ...]

    @classmethod
    def from_dataset_json(cls, dataset_json: Mapping[str, Any], *, required: bool = False) -> "TopologySpec | None":
        """Parse and validate; ``None`` when there is no block and ``required`` is False.

        Raises:
            ValueError: missing block while ``required``, unknown label names, malformed priors.
        """
        block = dataset_json.get("topology")
        if block is None:
            if required:
                raise ValueError(
                    "dataset.json: expected a 'topology' block with Betti priors (see docs/trainers.md), "
                    "found none; convert the dataset with `nnunet-topo convert` or add the block by hand"
                )
            return None
        if not isinstance(block, Mapping) or not isinstance(block.get("labels"), Mapping):
            raise ValueError(f"dataset.json 'topology': expected an object with a 'labels' object, got {block!r}")
        known = dataset_json.get("labels", {})
        connectivity = check_connectivity(block.get("connectivity", "full"))
        ndim_hint = None
        out = []
        for name, entry in block["labels"].items():
            if name not in known:
                raise ValueError(
                    f"dataset.json 'topology': label {name!r} is not in dataset.json 'labels' "
                    f"(known: {sorted(known)})"
                )
            if not isinstance(entry, Mapping):
                raise ValueError(f"dataset.json 'topology'.labels[{name!r}]: expected an object, got {entry!r}")
            unknown = set(entry) - {"betti", "match", "per_slice"}
            if unknown:
                raise ValueError(
                    f"dataset.json 'topology'.labels[{name!r}]: unknown keys {sorted(unknown)}; "
                    "expected 'betti', 'match', 'per_slice'"
                )
            betti = entry.get("betti")
            if betti is not None:
                if (not isinstance(betti, (list, tuple)) or len(betti) not in (2, 3)
                        or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in betti)):
                    raise ValueError(
                        f"dataset.json 'topology'.labels[{name!r}].betti: expected null or a list of 2 or 3 "
                        f"non-negative integers, got {betti!r}"
                    )
                if ndim_hint is not None and len(betti) != ndim_hint:
                    raise ValueError("dataset.json 'topology': all Betti priors must have the same length")
                ndim_hint = len(betti)
                betti = tuple(betti)
            match = entry.get("match", True)
            per_slice = entry.get("per_slice", False)
            if not isinstance(match, bool) or not isinstance(per_slice, bool):
                raise ValueError(
                    f"dataset.json 'topology'.labels[{name!r}]: 'match' and 'per_slice' must be true/false, "
                    f"got match={match!r}, per_slice={per_slice!r}"
                )
            value = known[name]
            label = tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)
            out.append(LabelTopology(name=name, label=label, betti=betti, match=match, per_slice=per_slice))
        order = {n: i for i, n in enumerate(known)}
        out.sort(key=lambda lt: order[lt.name])
        return cls(connectivity=connectivity, labels=tuple(out))

    def priors(self) -> dict[str, tuple[int, ...]]:
        """``{name: betti}`` for the labels that have a Betti prior."""
        return {lt.name: lt.betti for lt in self.labels if lt.betti is not None}

    def matched(self) -> tuple[str, ...]:
        """Names of the labels matched against the ground truth."""
        return tuple(lt.name for lt in self.labels if lt.match)
