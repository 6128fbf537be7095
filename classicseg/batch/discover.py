"""Finding the sequences of a dataset root: CDnet, SBI, UCSD, DAVIS, frame folders, videos."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from classicseg.errors import SourceError
from classicseg.io.images import IMAGE_EXTS

__all__ = ["Sequence", "find_sequences", "estimated_cost", "NoSequencesError", "VIDEO_EXTS"]

VIDEO_EXTS = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv", ".flv", ".ts")
_MAX_DEPTH = 4  # folder levels below the root searched for sequences
_SKIP_DIRS = {"groundtruth", "Annotations", "__pycache__"}


class NoSequencesError(SourceError):
    """The input root holds no sequence in any known layout."""


@dataclass(frozen=True)
class Sequence:
    """One sequence found under a batch root.

    Attributes
    ----------
    name : str
        Folder name or video file stem.
    rel : str
        Its output folder relative to the batch output (POSIX, ``""`` = the output
        itself when the root is a single sequence).
    kind : str
        ``cdnet`` (CDnet, SBI ``input/``, UCSD ``in/``), ``davis``, ``folder`` (plain
        frames) or ``video``.
    path : Path
        What :func:`~classicseg.io.sources.open_source` reads.
    gt : Path or None
        CDnet-layout sequence folder with ``groundtruth/``, DAVIS annotation folder, or
        MOTChallenge sequence folder (``gt/gt.txt``).
    metric : str or None
        ``cdnet``, ``davis`` or ``mot`` when ground truth exists.
    category : str
        CDnet category: the parent of the sequence in the root (the root's own name for
        ``<video>/input`` roots), as ``classicseg eval`` names it.
    """

    name: str
    rel: str
    kind: str
    path: Path
    gt: Path | None = None
    metric: str | None = None
    category: str = ""


def _has_image(folder: Path) -> bool:
    try:
        return any(p.suffix.lower() in IMAGE_EXTS for p in folder.iterdir())
    except OSError:
        return False


def _category(root: Path, parts: tuple[str, ...]) -> str:
    if len(parts) >= 2:
        return parts[-2]
    return root.resolve().name if parts else root.resolve().parent.name


def _cdnet_sequence(root: Path, d: Path, parts: tuple[str, ...]) -> Sequence | None:
    for sub in ("input", "in"):
        if (d / sub).is_dir() and _has_image(d / sub):
            has_gt = (d / "groundtruth").is_dir()
            return Sequence(d.name, "/".join(parts), "cdnet", d, d if has_gt else None,
                            "cdnet" if has_gt else None, _category(root, parts))
    return None


def _mot_sequence(root: Path, d: Path, parts: tuple[str, ...]) -> Sequence | None:
    """A MOTChallenge sequence folder: ``gt/gt.txt`` beside ``img1/`` frames or one video file."""
    if not (d / "gt" / "gt.txt").is_file():
        return None
    rel, cat = "/".join(parts), _category(root, parts)
    if (d / "img1").is_dir() and _has_image(d / "img1"):
        return Sequence(d.name, rel, "folder", d / "img1", d, "mot", cat)
    videos = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
    if len(videos) == 1:
        return Sequence(d.name, rel, "video", videos[0], d, "mot", cat)
    return None


def _davis_sequences(d: Path, parts: tuple[str, ...]) -> list[Sequence]:
    """Sequences of a DAVIS root (``JPEGImages/<res>/<seq>``, 480p preferred)."""
    jpeg, ann = d / "JPEGImages", d / "Annotations"
    subs = sorted(p for p in jpeg.iterdir() if p.is_dir() and not p.name.startswith("."))
    if any(_has_image(s) for s in subs):  # no resolution level: JPEGImages/<seq>
        seq_dirs, ann_dir = subs, ann
    else:
        res = "480p" if (jpeg / "480p").is_dir() else (subs[0].name if subs else "")
        if not res:
            return []
        seq_dirs = sorted(p for p in (jpeg / res).iterdir() if p.is_dir() and _has_image(p))
        ann_dir = ann / res
    out = []
    for s in seq_dirs:
        gt = ann_dir / s.name
        ok = gt.is_dir()
        out.append(Sequence(s.name, "/".join(parts + (s.name,)), "davis", s, gt if ok else None,
                            "davis" if ok else None, "/".join(parts) or d.resolve().name))
    return out


def _walk(root: Path, d: Path, parts: tuple[str, ...], found: list[Sequence]) -> None:
    seq = _cdnet_sequence(root, d, parts) or _mot_sequence(root, d, parts)
    if seq is not None:
        found.append(seq)
        return
    if (d / "JPEGImages").is_dir():
        found.extend(_davis_sequences(d, parts))
        return
    try:
        entries = sorted(p for p in d.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise SourceError(f"cannot list {d}: {exc.strerror or exc}") from None
    files = [p for p in entries if p.is_file()]
    if sum(p.suffix.lower() in IMAGE_EXTS for p in files) >= 2:  # a plain folder of frames
        found.append(Sequence(d.name, "/".join(parts), "folder", d, category=_category(root, parts)))
    for v in files:
        if v.suffix.lower() in VIDEO_EXTS:
            found.append(Sequence(v.stem, "/".join(parts + (v.stem,)), "video", v,
                                  category=d.resolve().name))
    if len(parts) < _MAX_DEPTH:
        for sub in entries:
            if sub.is_dir() and sub.name not in _SKIP_DIRS:
                _walk(root, sub, parts + (sub.name,), found)


def find_sequences(root) -> list[Sequence]:
    """Every sequence under ``root``, in a stable (sorted) order.

    Parameters
    ----------
    root : path-like
        A dataset root (CDnet ``<category>/<video>/input``), a category or SBI/UCSD root
        (``<video>/input`` or ``<video>/in``), a DAVIS root (``JPEGImages/480p/<seq>``), a
        MOTChallenge root (``<seq>/gt/gt.txt`` beside ``<seq>/img1/`` or one video), a
        folder of video files, one sequence folder, one video file, or a folder that
        holds several of these (searched up to four levels deep). Symbolic links to
        folders are followed.

    Returns
    -------
    list[Sequence]

    Raises
    ------
    SourceError
        ``root`` does not exist.
    NoSequencesError
        Nothing under ``root`` looks like a sequence.
    SourceError
        Two sequences would write to the same output folder (``clip.mp4`` beside ``clip/``).
    """
    root = Path(root)
    if not root.exists():
        raise SourceError(f"input root not found: {root}")
    if root.is_file():
        if root.suffix.lower() not in VIDEO_EXTS:
            raise NoSequencesError(f"input {root} is neither a folder nor a video file")
        return [Sequence(root.stem, "", "video", root, category=root.resolve().parent.name)]
    found: list[Sequence] = []
    _walk(root, root, (), found)
    if not found:
        raise NoSequencesError(
            f"no sequences found under {root} (expected <category>/<video>/input, <video>/input or "
            f"<video>/in, JPEGImages/480p/<seq>, folders of frames or video files)")
    seen: dict[str, Sequence] = {}
    for s in found:
        if s.rel in seen:
            raise SourceError(f"{seen[s.rel].path} and {s.path} would both write to output folder "
                              f"{s.rel or '.'}; move one of them")
        seen[s.rel] = s
    return found


def estimated_cost(seq: Sequence) -> float:
    """Frames x pixels of a sequence, read from file headers (for longest-first order)."""
    try:
        if seq.kind == "video":
            import cv2

            cap = cv2.VideoCapture(str(seq.path))
            try:
                return (cap.get(cv2.CAP_PROP_FRAME_COUNT) * cap.get(cv2.CAP_PROP_FRAME_WIDTH)
                        * cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            finally:
                cap.release()
        folder = seq.path
        for sub in ("input", "in"):
            if seq.kind == "cdnet" and (seq.path / sub).is_dir():
                folder = seq.path / sub
                break
        frames = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS]
        from PIL import Image

        with Image.open(frames[0]) as im:
            w, h = im.size
        return float(len(frames) * w * h)
    except Exception:  # noqa: BLE001 - only an ordering hint; the worker reports real problems
        return float("inf")
