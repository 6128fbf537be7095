"""Builders of hostile inputs and the checks every hostile case makes."""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Every command must end within this (seconds, wall clock, on a loaded 2-core CI machine) ...
TIME_LIMIT = 25.0
#: ... and add at most this much memory to the warm process it is forked from (RLIMIT_AS).
MEM_LIMIT = 1536 * 2**20
#: Peak resident memory a case may reach (KiB; the forked child starts with the server's).
RSS_LIMIT_KB = 1400 * 1024

EXIT = {"config": 2, "input": 3, "output": 4, "eval": 5}


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    maxrss_kb: int
    timed_out: bool

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


# --------------------------------------------------------------------------- checks
def check_error(res: Run, code: int, *needles: str) -> str:
    """The command failed with ``code``, one line on stderr (classicseg's, no traceback),
    containing each of ``needles``, in bounded time and memory. Returns the line."""
    assert not res.timed_out, f"still running after the time limit: {res.stderr[-500:]}"
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.rc == code, f"exit {res.rc}, expected {code}: {res.stderr[-800:]}"
    assert len(res.lines) == 1, f"{len(res.lines)} lines on stderr: {res.lines[:5]}"
    line = res.lines[0]
    assert line.startswith("classicseg: "), line
    assert "internal error" not in line, line
    for n in needles:
        assert n.lower() in line.lower(), f"{n!r} not in {line!r}"
    check_bounded(res)
    return line


def check_ok(res: Run, quiet_stderr: bool = True) -> None:
    assert not res.timed_out, f"still running after the time limit: {res.stderr[-500:]}"
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.rc == 0, f"exit {res.rc}: {res.stderr[-800:]}"
    if quiet_stderr:
        assert not res.lines, res.lines[:5]
    check_bounded(res)


def check_bounded(res: Run) -> None:
    assert res.seconds < TIME_LIMIT, f"took {res.seconds:.1f} s"
    assert res.maxrss_kb < RSS_LIMIT_KB, f"peak memory {res.maxrss_kb / 1024:.0f} MiB"


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (classicseg's own ``.classicseg/`` aside): name -> (bytes hash, mtime)."""
    out = {}
    if not folder.exists():
        return out
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if rel.split("/")[0] == ".classicseg":
            continue
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_file():
            st = p.stat()
            out[rel] = (hashlib.sha1(p.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size)
    return out


def assert_untouched(before: dict, folder: Path) -> None:
    """Every file that was in the folder before is there after, byte for byte, same mtime."""
    after = snapshot(folder)
    changed = [k for k, v in before.items() if after.get(k) != v]
    assert not changed, f"user files changed or removed: {changed[:5]}"


def user_files(folder: Path) -> dict:
    """Fill ``folder`` with files a user could have there (an image among them: a batch once
    deleted every image in its output root) and return their snapshot."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "holiday.png").write_bytes(png_bytes(np.full((5, 7, 3), 99, np.uint8)))
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "keep.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / ".hidden").write_text("x")
    return snapshot(folder)


# --------------------------------------------------------------------------- images
def png_bytes(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(path: Path, w: int, h: int, colour: int = 2, depth: int = 8) -> Path:
    """A PNG whose header claims ``w`` x ``h`` and whose data is a few bytes (a decompression bomb's start)."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    data = zlib.compress(b"\0" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def big_png(path: Path, w: int, h: int) -> Path:
    """A valid all-black ``w`` x ``h`` grey PNG, streamed (16000x16000 is 256 MB decoded, 250 KB on disk)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    comp = zlib.compressobj(1)
    row = b"\0" * (w + 1)
    parts = []
    for _ in range(h):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts))
                     + _chunk(b"IEND", b""))
    return path


def frames(folder: Path, n: int = 6, h: int = 48, w: int = 64, names: str = "{:05d}.png", seed: int = 0) -> Path:
    """A clip of ``n`` noisy frames with a bright square moving right."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for t in range(n):
        f = np.clip(90 + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)
        x = 4 + 3 * t
        f[h // 3:h // 3 + 10, x:x + 10] = 230
        cv2.imwrite(str(folder / names.format(t)), f)
    return folder


def video(path: Path, n: int = 8, h: int = 48, w: int = 64, sizes: list | None = None) -> Path:
    """An MPEG-4 video (OpenCV's writer), or with ``sizes`` an MPEG-TS whose frame size changes
    (segments written with PyAV and concatenated)."""
    import cv2

    if sizes is None:
        wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
        rng = np.random.default_rng(0)
        for t in range(n):
            wr.write(np.clip(90 + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8))
        wr.release()
        return path
    import av

    data = b""
    for (sw, sh) in sizes:
        buf = io.BytesIO()
        c = av.open(buf, "w", format="mpegts")
        s = c.add_stream("mpeg2video", rate=25)
        s.width, s.height, s.pix_fmt = sw, sh, "yuv420p"
        for t in range(n):
            fr = np.full((sh, sw, 3), 40 + 10 * t, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(fr, format="bgr24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        c.close()
        data += buf.getvalue()
    path.write_bytes(data)
    return path


def mask_png(path: Path, shape=(48, 64), ids=((1, (10, 20, 10, 20)),), dtype=np.uint8) -> Path:
    """A grey mask PNG with the given ``(id, (y0, y1, x0, x1))`` boxes (16-bit with ``dtype=np.uint16``)."""
    from PIL import Image

    a = np.zeros(shape, dtype)
    for v, (y0, y1, x0, x1) in ids:
        a[y0:y1, x0:x1] = v
    Image.fromarray(a).save(path)
    return path


def npy_header(path: Path, shape, descr: str = "<f4", data: bytes = b"") -> Path:
    """A ``.npy`` file with this header and ``data`` after it (a header can claim 80 GB)."""
    from numpy.lib import format as npformat

    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    path.write_bytes(buf.getvalue() + data)
    return path


def npz_bomb(path: Path, side: int = 20000) -> Path:
    """A ``.npz`` of a few hundred KB holding a ``side`` x ``side`` array (decompresses to side² bytes)."""
    import zipfile

    from numpy.lib import format as npformat

    head = io.BytesIO()
    npformat.write_array_header_1_0(head, {"descr": "|u1", "fortran_order": False, "shape": (side, side)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("prob.npy", "w", force_zip64=True) as f:
            f.write(head.getvalue())
            zero = b"\0" * (1 << 20)
            left = side * side
            while left > 0:
                f.write(zero[:min(left, len(zero))])
                left -= len(zero)
    return path


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def read_json(path: Path):
    return json.loads(path.read_text())
