"""Per-frame priors from another model: masks, probability maps or class maps on disk.

A *prior* is what some other segmenter (a deep network, a semantic segmenter, a
previous classicseg run) said about a frame. It lands in the ``prior`` slot of the
sample (see :data:`classicseg.types.SLOTS`) as one of

* ``float32 (H, W)`` foreground probability in [0, 1] (a binary mask is 0/1), or
* ``uint8 (H, W)`` object or class ids, 0 = background.

Files (:func:`read_prior`) are read by their kind:

=====================  ============================================================
file                   read as
=====================  ============================================================
PNG, indexed (mode P)  ids: the palette indices (DAVIS annotations and predictions);
                       255 (DAVIS "void") becomes 0
PNG, 8/16-bit grey     probability: value / 255 (or / 65535); a 0/255 mask is the
                       special case 0/1. Grey PNGs are never read as ids: write ids as
                       indexed PNGs or ``.npy``
PNG, colour            grey if R = G = B, else DAVIS palette colours -> ids
``.npy`` / ``.npz``    loaded with ``allow_pickle=False``; float -> probability (must
                       lie in [0, 1], no NaN), bool -> 0/1 mask, integer -> ids
                       (0..255). A ``.npz`` holds one array, or one named ``prob``
=====================  ============================================================

Files are matched to frames (:class:`PriorFolder`) by the number that ends their
name, read by the same parser the sources use to sort frames
(:func:`classicseg.io.sources.trailing_number`): ``00012.png`` and ``bin000012.png``
both belong to the frame whose name ends in 12 (DAVIS ``00012.jpg``, CDnet
``in000012.jpg``). When the names carry no numbers (or ``match="order"``), the
sorted files are matched to the frames in order.

From Python, a callable ``prior(sample) -> array`` can stand in for the folder
(:func:`attach_prior`); its result is checked like a file's.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal, Union

import numpy as np

from classicseg.errors import ClassicsegError, SourceError
from classicseg.io.sources import natural_key, trailing_number
from classicseg.types import Sample

__all__ = ["PRIOR_EXTS", "read_prior", "check_prior", "PriorFolder", "attach_prior", "as_prior", "PriorLike"]

PRIOR_EXTS = (".png", ".npy", ".npz")

#: a folder path, a :class:`PriorFolder`, or a callable ``prior(sample) -> array``
PriorLike = Union[str, Path, "PriorFolder", Callable[[Sample], np.ndarray]]


def check_prior(a, shape: tuple[int, int] | None = None, what: str = "prior") -> np.ndarray:
    """Validate and normalise one prior array.

    Parameters
    ----------
    a : array_like
        ``(H, W)`` float probability in [0, 1], bool mask, or integer ids in 0..255.
    shape : (int, int), optional
        The frame's ``(H, W)``; another size is an error.
    what : str
        Names the prior in error messages (a file name, ``prior callable at frame 7``).

    Returns
    -------
    ndarray
        ``float32`` probability (bool and float input) or ``uint8`` ids (integer input).

    Raises
    ------
    SourceError
        Wrong dimensions or size, NaN or values outside [0, 1], ids outside 0..255,
        or an unsupported dtype.
    """
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 2:
        raise SourceError(f"{what}: expected a 2-D (H, W) map, got shape {a.shape}")
    if shape is not None and a.shape != tuple(shape):
        raise SourceError(f"{what} is {a.shape[1]}x{a.shape[0]} but the frames are {shape[1]}x{shape[0]}")
    if a.dtype == bool:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.floating):
        if np.isnan(a).any():
            raise SourceError(f"{what}: contains NaN")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 1:
            raise SourceError(f"{what}: probabilities must lie in [0, 1], got values in [{lo:g}, {hi:g}]")
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            raise SourceError(f"{what}: ids must lie in 0..255, got values in {lo}..{hi}")
        return a.astype(np.uint8)
    raise SourceError(f"{what}: unsupported dtype {a.dtype} (expected float, bool or integer)")


def _read_png(path: Path) -> np.ndarray:
    from classicseg.io.limits import open_image
    from classicseg.io.masks import VOID, read_indexed_mask

    try:
        with open_image(path, f"prior {path.name}") as im:
            mode = im.mode
            if mode == "P":
                ids = np.array(im, dtype=np.uint8)
                ids[ids == VOID] = 0
                return ids
            if mode == "1":
                return np.array(im, dtype=bool)
            if mode in ("L", "LA"):
                g = np.asarray(im.convert("L"))
                return g.astype(np.float32) / 255.0
            if mode.startswith("I"):
                g = np.asarray(im).astype(np.float64)
                return (g / 65535.0).astype(np.float32)
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as exc:
        raise SourceError(f"cannot read prior {path}: {exc}") from None
    if np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]):
        return rgb[:, :, 0].astype(np.float32) / 255.0
    ids = read_indexed_mask(path).copy()  # DAVIS palette colours -> ids
    ids[ids == VOID] = 0
    return ids


def _check_npy_header(f, what: str, available: int | None) -> None:
    """Check a ``.npy`` stream's header before its data is read: a plain numeric dtype, an
    ``(H, W)`` or ``(H, W, 1)`` shape within the pixel limit, and (``available``: bytes
    in the file or zip member) data that is really there. A header claiming 80 GB is
    refused here instead of being allocated."""
    from numpy.lib import format as npformat

    from classicseg.io.limits import check_pixels

    start = f.tell()
    version = npformat.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = npformat.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = npformat.read_array_header_2_0(f)
    else:  # 3.0 (utf-8 field names): same fields, no public reader
        shape, _, dtype = npformat._read_array_header(f, version)  # noqa: SLF001
    if dtype.hasobject:
        raise SourceError(f"{what}: holds pickled Python objects, which are not loaded "
                          f"(save a plain numeric array: np.save(path, arr))")
    if dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise SourceError(f"{what}: unsupported dtype {dtype} (expected float, bool or integer)")
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 1):
        raise SourceError(f"{what}: expected a 2-D (H, W) map, got shape {shape}")
    check_pixels(int(shape[1]), int(shape[0]), what)
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if available is not None and need > available - (f.tell() - start):
        raise SourceError(f"{what}: truncated: its header promises {need} bytes of data, the file has fewer")


def _read_npy(path: Path) -> np.ndarray:
    what = f"prior {path.name}"
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as f:
                _check_npy_header(f, what, path.stat().st_size)
            return np.load(path, allow_pickle=False)
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            keys = [i.filename[:-4] if i.filename.endswith(".npy") else i.filename for i in members]
            if len(members) == 1:
                key, info = keys[0], members[0]
            elif "prob" in keys:
                key, info = "prob", members[keys.index("prob")]
            else:
                raise SourceError(f"prior {path}: a .npz must hold one array or one named 'prob', "
                                  f"got {', '.join(keys) or 'none'}")
            with zf.open(info) as f:  # zipfile never inflates past the member's declared size
                _check_npy_header(_Counting(f), what, info.file_size)
        with np.load(path, allow_pickle=False) as z:
            return z[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise SourceError(f"prior {path}: holds pickled Python objects, which are not loaded "
                              f"(save a plain numeric array: np.save(path, arr))") from None
        raise SourceError(f"cannot read prior {path}: {str(exc).splitlines()[0]}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, KeyError) as exc:
        raise SourceError(f"cannot read prior {path}: {exc}") from None


class _Counting:
    """A read-only stream that knows how much was read from it (zip members cannot ``tell``)."""

    def __init__(self, f) -> None:
        self.f, self.pos = f, 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos


def read_prior(path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read one prior file (PNG, ``.npy``, ``.npz``; see the module docstring).

    Parameters
    ----------
    path : path-like
        The file.
    shape : (int, int), optional
        The frames' ``(H, W)``; another size is an error.

    Returns
    -------
    ndarray
        ``float32 (H, W)`` probability in [0, 1], or ``uint8 (H, W)`` ids.

    Raises
    ------
    SourceError
        Missing or unreadable file, pickled ``.npy``, wrong size, NaN, values out of range.
    """
    from classicseg.io.limits import check_regular_file

    path = check_regular_file(path, "prior")
    ext = path.suffix.lower()
    if ext == ".png":
        a = _read_png(path)
    elif ext in (".npy", ".npz"):
        a = _read_npy(path)
    else:
        raise SourceError(f"prior {path}: unsupported file type {ext!r} (expected {', '.join(PRIOR_EXTS)})")
    return check_prior(a, shape, f"prior {path.name}")


class PriorFolder:
    """The prior files of one sequence and the rule that matches them to frames.

    Parameters
    ----------
    folder : path-like
        Folder of PNG / ``.npy`` / ``.npz`` files (other files are ignored).
    match : {"auto", "number", "order"}
        ``number``: the number that ends a file's stem must equal the one that ends the
        frame's name; ``order``: the n-th file (sorted by that number, then name) is the
        n-th frame; ``auto``: ``number`` when every file has a distinct number, else
        ``order``.

    Raises
    ------
    SourceError
        Missing folder, no prior file in it, two files for one frame number, or
        ``match="number"`` with a file without a number.
    """

    def __init__(self, folder, match: Literal["auto", "number", "order"] = "auto") -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"prior folder not found: {self.folder}")
        if match not in ("auto", "number", "order"):
            raise ValueError(f"match must be auto, number or order, got {match!r}")
        files = [p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in PRIOR_EXTS]
        if not files:
            raise SourceError(f"no prior files ({', '.join(PRIOR_EXTS)}) in {self.folder}")
        self.files = sorted(files, key=natural_key)
        numbers = [trailing_number(p.stem) for p in self.files]
        by_number: dict[int, Path] = {}
        clash = None
        for n, p in zip(numbers, self.files):
            if n is not None and n in by_number and clash is None:
                clash = (by_number[n], p)
            if n is not None:
                by_number[n] = p
        numbered = all(n is not None for n in numbers) and clash is None
        if match == "number" and not numbered:
            if clash:
                raise SourceError(f"prior folder {self.folder}: {clash[0].name} and {clash[1].name} are both "
                                  f"frame {trailing_number(clash[0].stem)}")
            bad = next(p for p, n in zip(self.files, numbers) if n is None)
            raise SourceError(f"prior folder {self.folder}: {bad.name} has no frame number in its name")
        self.match = "number" if (match == "number" or (match == "auto" and numbered)) else "order"
        self.by_number = by_number

    def __len__(self) -> int:
        return len(self.files)

    def check_count(self, n_frames: int | None) -> None:
        """Raise :class:`SourceError` when the file count differs from the number of
        frames (``None``: unknown, not checked; ``classicseg run`` skips the check with
        ``--max-frames``)."""
        if n_frames is not None and len(self.files) != n_frames:
            how = "in order" if self.match == "order" else "by the number in their names"
            raise SourceError(f"prior folder {self.folder} has {len(self.files)} files but the input has "
                              f"{n_frames} frames (files are matched to frames {how})")

    def path_for(self, index: int, name: str) -> Path:
        """The file of the frame at 0-based ``index`` named ``name``."""
        if self.match == "order":
            if index >= len(self.files):
                raise SourceError(f"prior folder {self.folder} has {len(self.files)} files but the input has "
                                  f"more frames (frame {name} is number {index + 1})")
            return self.files[index]
        n = trailing_number(name)
        if n is None:
            raise SourceError(f"frame {name!r} has no number to match a prior file in {self.folder} "
                              f"(use order matching)")
        p = self.by_number.get(n)
        if p is None:
            lo, hi = min(self.by_number), max(self.by_number)
            raise SourceError(f"no prior for frame {name} (number {n}) in {self.folder}: its files cover "
                              f"{lo}..{hi} ({len(self.files)} files)")
        return p

    def __call__(self, sample: Sample) -> np.ndarray:
        return read_prior(self.path_for(sample.index, sample.name), sample.shape)


def as_prior(prior: PriorLike, match: str = "auto") -> Callable[[Sample], np.ndarray]:
    """A folder path becomes a :class:`PriorFolder`; a callable is used as it is."""
    if isinstance(prior, (str, Path)):
        return PriorFolder(prior, match)
    if callable(prior):
        return prior
    raise TypeError(f"prior must be a folder or a callable prior(sample) -> array, got {type(prior).__name__}")


def prior_of(prior: Callable[[Sample], np.ndarray], sample: Sample) -> np.ndarray:
    """Call ``prior`` on ``sample`` and check its answer (file priors are checked on reading)."""
    if isinstance(prior, PriorFolder):
        return prior(sample)
    return check_prior(prior(sample), sample.shape, f"prior callable at frame {sample.name}")


def attach_prior(samples: Iterable[Sample], prior: PriorLike, match: str = "auto") -> Iterator[Sample]:
    """Yield ``samples`` with their ``prior`` slot set.

    Parameters
    ----------
    samples : iterable of Sample, or uint8 frames
        Usually a source (:func:`classicseg.io.sources.open_source`); bare frames are
        checked and wrapped as :func:`~classicseg.io.sources.as_samples` does.
    prior : folder path, PriorFolder or callable
        Where the prior of each frame comes from. A callable gets the sample and returns
        an ``(H, W)`` float probability in [0, 1], a bool mask or integer ids (0 =
        background); it is checked like a file (size, NaN, range).
    match : {"auto", "number", "order"}
        How a folder's files are matched to frames (see :class:`PriorFolder`).

    Examples
    --------
    >>> pipe = Pipeline.load(preset="refine")                      # doctest: +SKIP
    >>> pipe.run(attach_prior(open_source("frames/"), lambda s: my_net(s.image) > 0.5), sinks)  # doctest: +SKIP
    """
    from classicseg.io.sources import as_samples

    fn = as_prior(prior, match)
    for s in as_samples(samples):  # bare arrays are checked and wrapped like a source's frames
        s["prior"] = prior_of(fn, s)
        yield s
