"""Shared input handling of the topological losses (one place for every loss in this package).

Contract (nnU-Net's): ``loss(net_output, target)`` with

* ``net_output``: logits ``(B, C, *spatial)``, 2D ``(H, W)`` or 3D ``(D, H, W)``, C order, float.
* ``target``: a label map ``(B, 1, *spatial)`` (``nonlinearity="softmax"``; integer-valued labels
  ``0 .. C-1``, plus ``ignore_label``) or one-hot regions ``(B, C, *spatial)``
  (``nonlinearity="sigmoid"``; with ``ignore_label`` set, nnU-Net's extra last channel
  ``(B, C + 1, *spatial)`` that is 1 where the pixel is ignored).

The base class turns logits into probabilities (in float32 outside ``autocast``), selects the channels
in ``classes``, builds binary per-class targets and the validity mask, optionally folds one spatial axis
of 3D input into the batch (``slice_axis``: the 2D loss applied slice-wise), calls the subclass'
:meth:`TopologicalLoss.per_item` on ``(N, K, *spatial)`` tensors and reduces the ``(N, K)`` result.
Persistent homology always runs on detached float32 CPU NumPy copies (:meth:`detached_maps`);
subclasses gather values back from the live tensor with :func:`gather` so gradients flow.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from nnunet_topo.topology._validation import CONNECTIVITIES, look_up_option

__all__ = [
    "TopologicalLoss",
    "PreparedInput",
    "gather",
    "batch_persistence",
    "check_priors",
    "touches_border",
    "matching_batch",
    "look_up_option",
    "NONLINEARITIES",
    "REDUCTIONS",
]

NONLINEARITIES = ("softmax", "sigmoid")
REDUCTIONS = ("mean", "sum", "none")


def gather(maps: torch.Tensor, item: int, channel: int, flat_index: np.ndarray | Sequence[int]) -> torch.Tensor:
    """Values of the live tensor ``maps[item, channel]`` at flat C-order indices (differentiable).

    ``maps`` is ``(N, K, *spatial)``; ``flat_index`` an int array (e.g. ``Diagram.birth_index``).
    Returns a 1D tensor of ``len(flat_index)`` on ``maps``' device and dtype.
    """
    idx = torch.as_tensor(np.asarray(flat_index, dtype=np.int64), device=maps.device)
    return maps[item, channel].reshape(-1)[idx]


class PreparedInput:
    """Per-call tensors handed to :meth:`TopologicalLoss.per_item` (after slice folding).

    Attributes:
        probs: ``(N, K, *spatial)`` probabilities of the selected channels (live, differentiable,
            float32 or the logits' dtype when that is float64).
        target: ``(N, K, *spatial)`` float binary targets of the selected channels (no gradient).
        valid: ``(N, 1, *spatial)`` bool, False where the target is ``ignore_label``; ``None`` when
            nothing is ignored.
        channels: the channel indices (into ``net_output``) of the K selected maps.
    """

    __slots__ = ("probs", "target", "valid", "channels", "log_p", "log_q", "_np_probs", "_np_target")

    def __init__(self, probs: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None,
                 channels: tuple[int, ...], log_p: torch.Tensor | None = None,
                 log_q: torch.Tensor | None = None) -> None:
        self.probs = probs
        self.target = target
        self.valid = valid
        self.channels = channels
        #: ``(N, K, *spatial)`` ``log p`` and ``log(1 - p)`` computed stably from the logits, when the
        #: loss sets ``needs_log_probs`` (None otherwise)
        self.log_p = log_p
        self.log_q = log_q
        self._np_probs: np.ndarray | None = None
        self._np_target: np.ndarray | None = None

    @property
    def np_probs(self) -> np.ndarray:
        """``(N, K, *spatial)`` float32 C-contiguous detached CPU copy of ``probs``."""
        if self._np_probs is None:
            self._np_probs = np.ascontiguousarray(
                self.probs.detach().to(device="cpu", dtype=torch.float32).numpy()
            )
        return self._np_probs

    @property
    def np_target(self) -> np.ndarray:
        """``(N, K, *spatial)`` float32 binary CPU copy of ``target``."""
        if self._np_target is None:
            self._np_target = np.ascontiguousarray(self.target.to(device="cpu", dtype=torch.float32).numpy())
        return self._np_target

    def np_valid(self, item: int) -> np.ndarray | None:
        """``(*spatial)`` bool validity mask of one item, or ``None``."""
        if self.valid is None:
            return None
        return self.valid[item, 0].cpu().numpy()


class TopologicalLoss(nn.Module):
    """Base class: validation, nonlinearity, ignore mask, slice-wise 3D, reduction, statistics.

    Args:
        classes: channel indices that get a topological term; ``None`` means every foreground channel
            (softmax: ``1 .. C-1``; sigmoid: all ``C``).
        nonlinearity: ``"softmax"`` (label-map target) or ``"sigmoid"`` (region target).
        ignore_label: label value (softmax) marking pixels without ground truth; with sigmoid, any
            non-None value means the target carries nnU-Net's extra last "ignore" channel.
        reduction: ``"mean"`` (over the active (item, class) terms), ``"sum"`` or ``"none"``
            (a ``(B, K)`` tensor, K = number of selected channels).
        connectivity: ``"full"`` (foreground 8/26-connected) or ``"face"`` (4/6).
        slice_axis: for 3D input, apply the 2D loss to every slice along this spatial axis
            (0, 1 or 2; 0 = the first spatial axis) and average over slices; ``None`` = true 3D.
        num_threads: threads for the batch persistent homology (``None``: one per core).
    """

    #: whether :meth:`forward` requires a target (False for losses that also work without one)
    requires_target: bool = True
    #: whether :class:`PreparedInput` should carry stable ``log p`` / ``log(1 - p)`` tensors
    needs_log_probs: bool = False

    def __init__(
        self,
        *,
        classes: Iterable[int] | int | None = None,
        nonlinearity: str = "softmax",
        ignore_label: int | None = None,
        reduction: str = "mean",
        connectivity: str = "full",
        slice_axis: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        super().__init__()
        self.nonlinearity = look_up_option("nonlinearity", nonlinearity, NONLINEARITIES)
        self.reduction = look_up_option("reduction", reduction, REDUCTIONS)
        self.connectivity = look_up_option("connectivity", connectivity, CONNECTIVITIES)
        if classes is not None:
            if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
                classes = (int(classes),)
            classes = tuple(classes)
            for c in classes:
                if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
                    raise TypeError(f"classes: expected non-negative channel indices, got {c!r}")
            if not classes:
                raise ValueError("classes: expected at least one channel index or None, got an empty sequence")
            if len(set(classes)) != len(classes):
                raise ValueError(f"classes: expected distinct channel indices, got {classes}")
            classes = tuple(int(c) for c in classes)
        self.classes: tuple[int, ...] | None = classes
        if ignore_label is not None and (isinstance(ignore_label, bool) or not isinstance(ignore_label, (int, np.integer))):
            raise TypeError(f"ignore_label: expected an int or None, got {ignore_label!r}")
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        if slice_axis is not None and (isinstance(slice_axis, bool) or slice_axis not in (0, 1, 2)):
            raise ValueError(f"slice_axis: expected None or a spatial axis 0, 1 or 2, got {slice_axis!r}")
        self.slice_axis = slice_axis
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise ValueError(f"num_threads: expected None or a positive int, got {num_threads!r}")
        self.num_threads = num_threads
        self.last_stats: dict[str, Any] = {"num_wrong_features": 0, "seconds_ph": 0.0}

    # ------------------------------------------------------------------ input handling
    def _selected_channels(self, num_channels: int) -> tuple[int, ...]:
        if self.classes is None:
            if self.nonlinearity == "softmax":
                if num_channels < 2:
                    raise ValueError(
                        f"net_output: softmax needs at least 2 channels (background + foreground), got {num_channels}"
                    )
                return tuple(range(1, num_channels))
            return tuple(range(num_channels))
        bad = [c for c in self.classes if c >= num_channels]
        if bad:
            raise ValueError(
                f"classes: channel(s) {bad} do not exist; net_output has {num_channels} channels "
                f"(valid indices 0..{num_channels - 1})"
            )
        return self.classes

    def _check_inputs(self, net_output: torch.Tensor, target: torch.Tensor | None) -> None:
        if not isinstance(net_output, torch.Tensor):
            raise TypeError(f"net_output: expected a torch.Tensor of logits, got {type(net_output).__name__}")
        if not net_output.is_floating_point():
            raise TypeError(f"net_output: expected floating-point logits, got dtype {net_output.dtype}")
        if net_output.ndim not in (4, 5):
            raise ValueError(
                f"net_output: expected logits (B, C, H, W) or (B, C, D, H, W), got shape {tuple(net_output.shape)}"
            )
        if self.slice_axis is not None and net_output.ndim != 5:
            raise ValueError(f"slice_axis={self.slice_axis} needs 3D input (B, C, D, H, W), got shape "
                             f"{tuple(net_output.shape)}")
        if not bool(torch.isfinite(net_output.detach()).all()):
            n_nan = int(torch.isnan(net_output.detach()).sum())
            raise ValueError(f"net_output: expected finite logits, got {n_nan} NaN and "
                             f"{int(torch.isinf(net_output.detach()).sum())} inf values")
        if target is None:
            if self.requires_target:
                raise ValueError(f"{type(self).__name__}: target is required, got None")
            return
        if not isinstance(target, torch.Tensor):
            raise TypeError(f"target: expected a torch.Tensor, got {type(target).__name__}")
        if target.ndim != net_output.ndim or target.shape[0] != net_output.shape[0] \
                or target.shape[2:] != net_output.shape[2:]:
            raise ValueError(
                f"target: expected shape (B, 1 or C, *spatial) matching net_output {tuple(net_output.shape)}, "
                f"got {tuple(target.shape)}"
            )
        c = net_output.shape[1]
        if self.nonlinearity == "softmax":
            if target.shape[1] != 1:
                raise ValueError(f"target: softmax expects a label map (B, 1, *spatial), got {tuple(target.shape)}")
        else:
            expected = c + (1 if self.ignore_label is not None else 0)
            if target.shape[1] != expected:
                extra = " (C regions + nnU-Net's ignore channel)" if self.ignore_label is not None else ""
                raise ValueError(
                    f"target: sigmoid expects one-hot regions (B, {expected}, *spatial){extra}, got {tuple(target.shape)}"
                )
        if target.is_floating_point() and not bool(torch.isfinite(target).all()):
            raise ValueError("target: expected finite values, got NaN/inf")

    def _prepare(self, net_output: torch.Tensor, target: torch.Tensor | None) -> PreparedInput:
        self._check_inputs(net_output, target)
        c = net_output.shape[1]
        channels = self._selected_channels(c)
        device_type = net_output.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            logits = net_output if net_output.dtype == torch.float64 else net_output.float()
            if self.nonlinearity == "softmax":
                probs_all = torch.softmax(logits, dim=1)
            else:
                probs_all = torch.sigmoid(logits)
        idx = torch.as_tensor(channels, device=net_output.device)
        probs = probs_all.index_select(1, idx)
        log_p = log_q = None
        if self.needs_log_probs:
            with torch.autocast(device_type=device_type, enabled=False):
                if self.nonlinearity == "softmax":
                    ls = torch.log_softmax(logits, dim=1)
                    log_p = ls.index_select(1, idx)
                    rest = []
                    for ch in channels:  # log(1 - p_c) = logsumexp over the other channels
                        others = [j for j in range(c) if j != ch]
                        rest.append(torch.logsumexp(ls[:, others], dim=1, keepdim=True))
                    log_q = torch.cat(rest, dim=1)
                else:
                    sel = logits.index_select(1, idx)
                    log_p = torch.nn.functional.logsigmoid(sel)
                    log_q = torch.nn.functional.logsigmoid(-sel)
        valid = None
        if target is None:
            tgt = torch.zeros_like(probs, dtype=torch.float32)
        elif self.nonlinearity == "softmax":
            lab = target.detach()
            if lab.is_floating_point():
                if not bool((lab == torch.round(lab)).all()):
                    raise ValueError("target: expected integer-valued labels, got fractional values")
            lab = lab.long()
            if self.ignore_label is not None:
                valid = lab != self.ignore_label
                lab = torch.where(valid, lab, torch.zeros_like(lab))
                if bool(valid.all()):
                    valid = None
            lo, hi = int(lab.min()), int(lab.max())
            if lo < 0 or hi >= c:
                raise ValueError(
                    f"target: expected labels in 0..{c - 1}" + (f" or ignore_label={self.ignore_label}"
                                                             if self.ignore_label is not None else "")
                    + f", got values in {lo}..{hi}"
                )
            tgt = torch.cat([(lab == ch) for ch in channels], dim=1).to(torch.float32)
        else:
            t = target.detach()
            if self.ignore_label is not None:
                valid = t[:, -1:] < 0.5
                t = t[:, :-1]
                if bool(valid.all()):
                    valid = None
            tf = t.to(torch.float32)
            if not bool(((tf == 0) | (tf == 1)).all()):
                raise ValueError("target: sigmoid expects binary (0/1) one-hot regions, got other values")
            tgt = tf.index_select(1, idx)
        if valid is not None:
            tgt = tgt * valid
        return PreparedInput(probs, tgt.to(probs.device), valid, channels, log_p, log_q)

    def _fold(self, x: torch.Tensor | None) -> torch.Tensor | None:
        """``(B, K, D, H, W)`` -> ``(B * S, K, *plane)`` with the slice axis folded into the batch."""
        if x is None or self.slice_axis is None:
            return x
        ax = 2 + self.slice_axis
        x = x.movedim(ax, 1)  # (B, S, K, ...)
        b, s = x.shape[:2]
        return x.reshape(b * s, *x.shape[2:])

    # ------------------------------------------------------------------ forward
    def forward(self, net_output: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of logits ``(B, C, *spatial)`` against ``target``; see the module docstring."""
        prep = self._prepare(net_output, target)
        b = net_output.shape[0]
        n_slices = 1
        if self.slice_axis is not None:
            n_slices = net_output.shape[2 + self.slice_axis]
            prep = PreparedInput(self._fold(prep.probs), self._fold(prep.target), self._fold(prep.valid),
                                 prep.channels, self._fold(prep.log_p), self._fold(prep.log_q))
        self.last_stats = {"num_wrong_features": 0, "seconds_ph": 0.0}
        has_target = target is not None
        values, active = self.per_item(prep, has_target)  # (N, K) tensor, (N, K) bool
        if values.shape != active.shape or values.shape != prep.probs.shape[:2]:
            raise AssertionError("per_item must return (N, K) values and mask")  # internal invariant
        if prep.probs.requires_grad and not values.requires_grad:
            # no term this call: stay in the graph (exact zero gradient) so callers can always backward()
            values = values + 0.0 * prep.probs.sum()
        k = len(prep.channels)
        if n_slices > 1:
            values = values.reshape(b, n_slices, k)
            act = active.reshape(b, n_slices, k).to(values.dtype)
            values = (values * act).sum(1) / act.sum(1).clamp_min(1.0)
            active = act.sum(1) > 0
        self.last_stats["num_active_terms"] = int(active.sum())
        if self.reduction == "none":
            return values * active.to(values.dtype)
        total = (values * active.to(values.dtype)).sum()
        if self.reduction == "sum":
            return total
        return total / max(int(active.sum()), 1)

    def per_item(self, prep: PreparedInput, has_target: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss terms of every (item, selected channel): ``((N, K) tensor, (N, K) bool active mask)``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers for subclasses
    def timed(self, fn, *args, **kwargs):
        """Run ``fn`` and add its wall time to ``last_stats["seconds_ph"]``."""
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.last_stats["seconds_ph"] = self.last_stats.get("seconds_ph", 0.0) + time.perf_counter() - t0
        return out

    def extra_repr(self) -> str:
        return (f"classes={self.classes}, nonlinearity={self.nonlinearity!r}, ignore_label={self.ignore_label}, "
                f"reduction={self.reduction!r}, connectivity={self.connectivity!r}, slice_axis={self.slice_axis}")


def check_priors(priors: Mapping[int, Sequence[int]] | None, *, required: bool) -> dict[int, tuple[int, ...]] | None:
    """Validate ``{channel: (b0, b1[, b2])}``; returns a dict of int tuples (or None when allowed)."""
    if priors is None:
        if required:
            raise ValueError("priors: expected a mapping {channel index: (b0, b1[, b2])}, got None")
        return None
    if not isinstance(priors, Mapping):
        raise TypeError(f"priors: expected a mapping {{channel index: Betti tuple}}, got {type(priors).__name__}")
    if not priors and required:
        raise ValueError("priors: expected at least one channel, got an empty mapping")
    out: dict[int, tuple[int, ...]] = {}
    for ch, betti in priors.items():
        if isinstance(ch, bool) or not isinstance(ch, (int, np.integer)) or ch < 0:
            raise TypeError(f"priors: keys must be non-negative channel indices, got {ch!r}")
        if isinstance(betti, (str, bytes)) or not isinstance(betti, Sequence) or not 1 <= len(betti) <= 3:
            raise ValueError(f"priors[{ch}]: expected a tuple (b0, b1[, b2]) of non-negative ints, got {betti!r}")
        for v in betti:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"priors[{ch}]: expected non-negative ints, got {betti!r}")
        out[int(ch)] = tuple(int(v) for v in betti)
    return out


def batch_persistence(loss: TopologicalLoss, maps: Sequence[np.ndarray], dims: tuple[int, ...]) -> list:
    """Engine's ``persistence_batch`` on detached float32 maps, timed into ``loss.last_stats``."""
    from nnunet_topo.topology import persistence_batch

    if not maps:
        return []
    return loss.timed(persistence_batch, list(maps), dims=dims, connectivity=loss.connectivity,
                      num_threads=loss.num_threads)


def matching_batch():
    """The engine's ``betti_matching_batch`` (imported lazily; the topology package owns it)."""
    from nnunet_topo.topology import betti_matching_batch

    return betti_matching_batch


def touches_border(mask: np.ndarray) -> bool:
    """True when a boolean map has a True pixel on any face of the array."""
    for ax in range(mask.ndim):
        if np.take(mask, 0, axis=ax).any() or np.take(mask, -1, axis=ax).any():
            return True
    return False
