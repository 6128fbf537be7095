"""Optical-flow files: Middlebury ``.flo`` and KITTI 16-bit flow PNGs.

* A flow is ``float32 (H, W, 2)``, ``flow[y, x] = (u, v)``: the pixel ``(x, y)`` of the
  first frame is at ``(x + u, y + v)`` in the second.
* ``.flo``: the float32 tag 202021.25 (bytes ``PIEH``), int32 width, int32 height, then
  ``width × height`` float32 (u, v) pairs, row-major, all little-endian. A vector with
  ``|u|`` or ``|v|`` above 1e9 (or not finite) is unknown.
* KITTI PNG: 16-bit, 3 channels; in (R, G, B) order u = (R − 2^15)/64, v = (G − 2^15)/64,
  B = 1 where the flow is known. OpenCV reads and writes the channels as BGR.

Readers raise ``error`` (:class:`~classicseg.errors.SourceError` by default; scoring passes
:class:`~classicseg.errors.EvalError`) naming the file.

References
----------
S. Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 92(1), 2011;
A. Geiger, P. Lenz, R. Urtasun, "Are we ready for Autonomous Driving? The KITTI Vision
Benchmark Suite", CVPR 2012.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import ClassicsegError, SourceError
from classicseg.io.images import atomic_write_bytes

__all__ = ["FLO_TAG", "UNKNOWN_FLOW", "read_flo", "encode_flo", "write_flo", "read_kitti_flow",
           "encode_kitti_flow", "write_kitti_flow", "read_flow", "check_flow"]


def _size(shape) -> str:
    return f"{shape[1]}x{shape[0]}"


def check_flow(flow, what: str = "flow", error: type[ClassicsegError] = SourceError) -> np.ndarray:
    """``flow`` as float32 ``(H, W, 2)``, or ``error`` naming ``what``."""
    f = np.asarray(flow)
    if f.ndim != 3 or f.shape[2] != 2:
        raise error(f"{what} must be (H, W, 2), got shape {f.shape}")
    return f.astype(np.float32, copy=False)


#: The float32 tag that opens a ``.flo`` file (its bytes spell ``PIEH``).
FLO_TAG = 202021.25
#: A ``.flo`` component above this (in absolute value) marks an unknown vector.
UNKNOWN_FLOW = 1e9
_HEADER = 12


def _read_bytes(path, error) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise error(f"cannot read flow file {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- .flo
def _decode_flo(data: bytes, name: str, error) -> tuple[np.ndarray, np.ndarray]:
    if len(data) < _HEADER:
        raise error(f"{name}: not a .flo file ({len(data)} bytes, the header alone is {_HEADER})")
    tag = np.frombuffer(data, "<f4", 1, 0)[0]
    if tag != np.float32(FLO_TAG):
        raise error(f"{name}: not a .flo file (tag {data[:4]!r}, expected b'PIEH' = {FLO_TAG})")
    w, h = (int(v) for v in np.frombuffer(data, "<i4", 2, 4))
    if w < 1 or h < 1 or w > 100_000 or h > 100_000:
        raise error(f"{name}: implausible .flo size {w}x{h}")
    need = _HEADER + 8 * w * h
    if len(data) != need:
        kind = "truncated" if len(data) < need else "too long"
        raise error(f"{name}: {kind} .flo file: {len(data)} bytes, a {w}x{h} flow needs {need}")
    flow = np.frombuffer(data, "<f4", 2 * w * h, _HEADER).reshape(h, w, 2).astype(np.float32)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(flow).all(axis=2) & (np.abs(flow) <= UNKNOWN_FLOW).all(axis=2)
    flow[~valid] = 0.0
    return flow, valid


def read_flo(path, error: type[ClassicsegError] = SourceError) -> tuple[np.ndarray, np.ndarray]:
    """Read a Middlebury ``.flo`` file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    flow : numpy.ndarray
        ``float32 (H, W, 2)``; unknown vectors are set to 0.
    valid : numpy.ndarray
        ``bool (H, W)``: False where ``|u|`` or ``|v|`` > 1e9 or not finite.

    Raises
    ------
    SourceError (or ``error``)
        Missing file, wrong tag, implausible size, or a byte count that does not match
        the size in the header; the message names the file.

    References
    ----------
    Baker et al., IJCV 2011 (``readFlowFile.m``).
    """
    return _decode_flo(_read_bytes(path, error), str(path), error)


def encode_flo(flow, valid=None, error: type[ClassicsegError] = SourceError) -> bytes:
    """The bytes of a ``.flo`` file; vectors where ``valid`` is False are written as 1e10 (unknown)."""
    f = check_flow(flow, error=error).astype("<f4", copy=True)
    if valid is not None:
        v = np.asarray(valid, bool)
        if v.shape != f.shape[:2]:
            raise error(f"valid mask is {_size(v.shape)} but the flow is {_size(f.shape)}")
        f[~v] = 1e10
    h, w = f.shape[:2]
    return np.float32(FLO_TAG).astype("<f4").tobytes() + np.array([w, h], "<i4").tobytes() + f.tobytes()


def write_flo(path, flow, valid=None) -> None:
    """Write a ``.flo`` file atomically (see :func:`encode_flo`)."""
    atomic_write_bytes(path, encode_flo(flow, valid))


# --------------------------------------------------------------------------- KITTI PNG
def _decode_kitti(img, name: str, error) -> tuple[np.ndarray, np.ndarray]:
    if img is None:
        raise error(f"{name}: cannot decode as a PNG image")
    if img.dtype != np.uint16 or img.ndim != 3 or img.shape[2] != 3:
        raise error(f"{name}: a KITTI flow PNG is 16-bit with 3 channels, got {img.dtype} "
                        f"with shape {img.shape}")
    valid = img[:, :, 0] > 0                      # B
    flow = (img[:, :, 2:0:-1].astype(np.float32) - 32768.0) / 64.0   # (R, G) -> (u, v)
    flow[~valid] = 0.0
    return flow, valid


def read_kitti_flow(path, error: type[ClassicsegError] = SourceError) -> tuple[np.ndarray, np.ndarray]:
    """Read a KITTI flow PNG (16-bit, 3 channels).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    flow : numpy.ndarray
        ``float32 (H, W, 2)``: u = (R − 2^15)/64, v = (G − 2^15)/64; 0 where unknown.
    valid : numpy.ndarray
        ``bool (H, W)``: the B channel is non-zero.

    Raises
    ------
    SourceError (or ``error``)
        Missing or undecodable file, or not a 16-bit 3-channel image.

    References
    ----------
    Geiger et al., CVPR 2012 (devkit ``io_flow.h``).
    """
    data = np.frombuffer(_read_bytes(path, error), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    return _decode_kitti(img, str(path), error)


def encode_kitti_flow(flow, valid=None, error: type[ClassicsegError] = SourceError) -> bytes:
    """The bytes of a KITTI flow PNG.

    Components are stored as ``round(64·u + 2^15)`` clipped to 0..65535 (a 1/128 px
    quantisation error; ±512 px range). Pixels where ``valid`` is False or the flow is not
    finite are written as all-zero (unknown).
    """
    f = check_flow(flow, error=error)
    ok = np.isfinite(f).all(axis=2)
    if valid is not None:
        v = np.asarray(valid, bool)
        if v.shape != f.shape[:2]:
            raise error(f"valid mask is {_size(v.shape)} but the flow is {_size(f.shape)}")
        ok &= v
    img = np.zeros(f.shape[:2] + (3,), np.uint16)
    q = np.clip(np.rint(np.where(ok[:, :, None], f, 0.0) * 64.0 + 32768.0), 0, 65535).astype(np.uint16)
    img[:, :, 2] = q[:, :, 0]
    img[:, :, 1] = q[:, :, 1]
    img[:, :, 0] = ok
    img[~ok] = 0
    success, buf = cv2.imencode(".png", img)
    if not success:  # pragma: no cover - cv2 fails only on invalid arrays
        raise error("cannot encode the flow as a 16-bit PNG")
    return buf.tobytes()


def write_kitti_flow(path, flow, valid=None) -> None:
    """Write a KITTI flow PNG atomically (see :func:`encode_kitti_flow`)."""
    atomic_write_bytes(path, encode_kitti_flow(flow, valid))


def read_flow(path, error: type[ClassicsegError] = SourceError) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.flo`` or KITTI ``.png`` flow file by its extension; returns ``(flow, valid)``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".flo":
        return read_flo(path, error)
    if suffix == ".png":
        return read_kitti_flow(path, error)
    raise error(f"{path}: unknown flow file type {suffix!r} (expected .flo or a KITTI .png)")
