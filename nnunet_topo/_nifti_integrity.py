"""Truncation check for NIfTI files, shared by the converters and the evaluator (no dependencies).

SimpleITK (ITK's NIfTI reader) silently fills a truncated ``.nii.gz`` with zeros, so a file cut
short by a failed copy reads as a plausible, mostly empty image. :func:`nifti_payload_problem`
decompresses the whole stream (gzip checks its length and CRC) and compares the bytes present with
what the header promises: ``vox_offset + prod(dim[1:dim[0]+1]) * bitpix / 8`` (NIfTI-1 and -2,
either byte order).
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

__all__ = ["is_nifti", "nifti_payload_problem"]


def is_nifti(path: str | os.PathLike) -> bool:
    """True for names ending in ``.nii`` or ``.nii.gz`` (any case)."""
    name = Path(path).name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def _read_all(path: Path) -> tuple[bytes, int]:
    """First 540 decompressed bytes and the decompressed length (raises on a corrupt stream)."""
    head = b""
    total = 0
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if len(head) < 540:
                head += chunk[: 540 - len(head)]
            total += len(chunk)
    return head, total


def _promised_bytes(head: bytes) -> int | str:
    """Bytes the header promises, or a message when the header is not NIfTI."""
    for endian in "<>":
        sizeof_hdr = struct.unpack(endian + "i", head[:4])[0]
        if sizeof_hdr == 348:
            dims = struct.unpack(endian + "8h", head[40:56])
            bitpix = struct.unpack(endian + "h", head[72:74])[0]
            offset, minimum = int(struct.unpack(endian + "f", head[108:112])[0]), 352
            break
        if sizeof_hdr == 540 and len(head) >= 540:
            dims = struct.unpack(endian + "8q", head[16:80])
            bitpix = struct.unpack(endian + "h", head[14:16])[0]
            offset, minimum = struct.unpack(endian + "q", head[168:176])[0], 544
            break
    else:
        return "not NIfTI (bad header size field)"
    ndim = int(dims[0])
    if not 1 <= ndim <= 7:
        return f"corrupt NIfTI header (dim[0] = {ndim})"
    voxels = 1
    for d in dims[1:ndim + 1]:
        voxels *= int(d)
    return max(offset, minimum) + voxels * bitpix // 8


def nifti_payload_problem(path: str | os.PathLike) -> str | None:
    """What is wrong with a ``.nii``/``.nii.gz`` file's bytes, or None when it is whole (or not NIfTI).

    Returns a short message such as ``"holds 1000 bytes, its header promises 4448"``; the caller
    names the file and raises.
    """
    path = Path(path)
    if not is_nifti(path):
        return None
    try:
        head, total = _read_all(path)
    except (OSError, EOFError, zlib.error) as exc:
        return f"{type(exc).__name__}: {exc}"
    if len(head) < 348:
        return f"only {total} bytes, no NIfTI header"
    promised = _promised_bytes(head)
    if isinstance(promised, str):
        return promised
    if total < promised:
        return f"holds {total} bytes, its header promises {promised}"
    return None
