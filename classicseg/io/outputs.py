"""Output folders: classicseg deletes or overwrites only what it can prove it wrote.

An output folder holds a hidden ``.classicseg/`` folder with

* ``manifest.json``: every file classicseg wrote there, by role (``run``: masks,
  ``run.json``, tracks, events, snapshots; ``batch``: completion markers, ``scores.json``);
* ``lock``: held (``flock``) by the one process changing the folder, so two runs (or two
  batches) into one folder refuse instead of deleting each other's files;
* ``journal-<tag>-<random>.jsonl``: the run in progress, which records each name *before*
  the file is created. A run killed outright (SIGKILL, power loss) leaves its journal; the
  next run reads it, so what the dead run wrote counts as classicseg's, and removes the dead
  run's temporary files (their names carry the tag, :data:`classicseg.io.images.TEMP_TAG`).

A run :meth:`~OutputFolder.claim`\\ s each name before writing it: a file that exists and is
not classicseg's is never overwritten (the run stops with a :class:`SinkError` naming it). At
the end :meth:`~OutputFolder.commit` removes what the previous run of the same role wrote and
this one did not (a shorter rerun leaves no stale masks beside its ``run.json``) and writes
the manifest. Numbered names (``bin000123.png``) are kept as ranges, so a run of days keeps
a few bytes per range in memory and writes one journal line per 1024 frames.
"""
from __future__ import annotations

import bisect
import errno
import json
import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Iterator

from classicseg.errors import SinkError

log = logging.getLogger("classicseg")

__all__ = ["META", "NameSet", "FolderLock", "OutputFolder"]

#: The hidden folder classicseg keeps in each output folder.
META = ".classicseg"
_MANIFEST = "manifest.json"
_LOCK = "lock"
_JOURNAL = "journal-"
_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")
_RESERVE = 1024


def _split(name: str):
    """``(key, number)`` of a numbered name (key = prefix, digit count, suffix), else None."""
    m = _NUMBERED.match(name)
    if m is None or len(m.group(2)) > 18:
        return None
    return (m.group(1), len(m.group(2)), m.group(3)), int(m.group(2))


def _join(key, n: int) -> str:
    prefix, width, suffix = key
    return f"{prefix}{n:0{width}d}{suffix}"


class NameSet:
    """A set of relative file names; numbered names are stored as ranges per pattern."""

    def __init__(self) -> None:
        self.literal: set[str] = set()
        self.ranges: dict[tuple, list[list[int]]] = {}

    def add(self, name: str) -> None:
        sp = _split(name)
        if sp is None:
            self.literal.add(name)
        else:
            self.add_range(sp[0], sp[1], sp[1])

    def add_range(self, key, lo: int, hi: int) -> None:
        rs = self.ranges.setdefault(tuple(key), [])
        if rs and rs[-1][0] <= lo and lo <= rs[-1][1] + 1:  # the common case: extends the last range
            rs[-1][1] = max(rs[-1][1], hi)
            return
        i = bisect.bisect_left(rs, [lo, lo])
        rs.insert(i, [lo, hi])
        merged: list[list[int]] = []
        for r in rs:
            if merged and r[0] <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(list(r))
        rs[:] = merged

    def update(self, other: "NameSet") -> None:
        self.literal |= other.literal
        for key, rs in other.ranges.items():
            for lo, hi in rs:
                self.add_range(key, lo, hi)

    def __contains__(self, name: str) -> bool:
        sp = _split(name)
        if sp is None:
            return name in self.literal
        rs = self.ranges.get(sp[0])
        if not rs:
            return False
        i = bisect.bisect_right(rs, [sp[1], float("inf")]) - 1
        return i >= 0 and rs[i][0] <= sp[1] <= rs[i][1]

    def __iter__(self) -> Iterator[str]:
        yield from self.literal
        for key, rs in self.ranges.items():
            for lo, hi in rs:
                for n in range(lo, hi + 1):
                    yield _join(key, n)

    def __bool__(self) -> bool:
        return bool(self.literal or any(self.ranges.values()))

    def to_json(self) -> dict:
        return {"names": sorted(self.literal),
                "ranges": [[k[0], k[1], k[2], rs] for k, rs in sorted(self.ranges.items()) if rs]}

    @classmethod
    def from_json(cls, d) -> "NameSet":
        s = cls()
        if not isinstance(d, dict):
            return s
        for n in d.get("names", ()):
            if isinstance(n, str) and _safe(n):
                s.literal.add(n)
        for item in d.get("ranges", ()):
            try:
                prefix, width, suffix, rs = item
                for lo, hi in rs:
                    if _safe(prefix + suffix) and 0 < int(width) <= 18 and 0 <= int(lo) <= int(hi):
                        s.add_range((str(prefix), int(width), str(suffix)), int(lo), int(hi))
            except (TypeError, ValueError):
                continue
        return s


def _safe(rel: str) -> bool:
    """A relative name inside the folder (a manifest is data from disk: never trust '..')."""
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts and parts[0] != META


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


class FolderLock:
    """An exclusive lock (``flock``) on an output folder, held until :meth:`release` or the
    process ends (the kernel drops it when a run is killed, so a lock is never stale)."""

    def __init__(self, folder, name: str = _LOCK, holder: str = "another classicseg run") -> None:
        self.folder, self.name, self.holder = Path(folder), name, holder
        self.fd: int | None = None

    def acquire(self) -> "FolderLock":
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks (the manifest still guards the files)
            fcntl = None
        from classicseg.io.images import ensure_writable_dir

        ensure_writable_dir(self.folder)
        meta = self.folder / META
        if meta.is_symlink() or (meta.exists() and not meta.is_dir()):
            raise SinkError(f"{meta} is not classicseg's folder (a file or a link): move it away")
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            meta.mkdir(exist_ok=True)
            fd = os.open(meta / self.name, flags, 0o666)
        except OSError as exc:
            raise SinkError(f"cannot lock output folder {self.folder}: {exc.strerror or exc}") from None
        if fcntl is None:
            self.fd = fd
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):  # a file system without locks
                log.warning("%s: the file system does not lock; make sure one run at a time writes here",
                            self.folder)
                self.fd = fd
                return self
            pid = ""
            try:
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            except OSError:
                pass
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise SinkError(f"output folder {self.folder} is in use by {self.holder}"
                                f"{f' (pid {pid})' if pid.isdigit() else ''}: wait for it to end or choose "
                                f"another folder") from None
            raise SinkError(f"cannot lock output folder {self.folder}: {exc.strerror or exc}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


class OutputFolder:
    """One process's claim on an output folder (see the module docstring).

    Parameters
    ----------
    path : path-like
        The output folder (created if needed).
    role : {"run", "batch"}
        Whose files these are: :meth:`commit` prunes only this role's earlier files.
    replace : bool
        True for a run that replaces the role's previous outputs (its earlier ``run.json``
        goes at the first write, its files not rewritten go at :meth:`commit`); False to add
        files to the manifest and keep the rest.
    """

    def __init__(self, path, role: str = "run", replace: bool = True) -> None:
        self.path = Path(path)
        self.role, self.replace = role, replace
        self.meta = self.path / META
        self.owned: dict[str, NameSet] = {}
        self.written = NameSet()
        self.dead_tags: list[str] = []
        self._dead_journals: list[Path] = []
        self._lock_fd: int | None = None
        self._journal_fd: int | None = None
        self._journal: Path | None = None
        self._reserved: dict[tuple, tuple[int, int]] = {}
        self._begun = False

    # -- opening ---------------------------------------------------------------------
    def open(self) -> "OutputFolder":
        from classicseg.io.images import TEMP_TAG

        self._lock()
        try:
            manifest = _read_json(self.meta / _MANIFEST)
            roles = manifest.get("roles", {}) if isinstance(manifest, dict) else {}
            self.owned = {r: NameSet.from_json(d) for r, d in roles.items() if isinstance(r, str)}
            self._recover()
            self._journal, self._journal_fd = self._new_journal(TEMP_TAG)
        except BaseException:
            self._unlock()
            raise
        return self

    def _lock(self) -> None:
        self._lock_obj = FolderLock(self.path, _LOCK, "another classicseg run").acquire()
        self._lock_fd = self._lock_obj.fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            self._lock_obj.release()
            self._lock_fd = None

    def _recover(self) -> None:
        """Journals left by runs that were killed: their names are ours, their temp files go."""
        for j in sorted(self.meta.glob(f"{_JOURNAL}*.jsonl")):
            names, role, tag = NameSet(), None, None
            try:
                lines = j.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue  # the last line of a killed run may be cut short
                if not isinstance(d, dict):
                    continue
                if "role" in d:
                    role, tag = d.get("role"), d.get("tag")
                elif isinstance(d.get("n"), str) and _safe(d["n"]):
                    names.add(d["n"])
                elif isinstance(d.get("r"), list) and len(d["r"]) == 5:
                    prefix, width, suffix, lo, hi = d["r"]
                    if _safe(f"{prefix}0{suffix}") and isinstance(width, int) and 0 < width <= 18:
                        names.add_range((prefix, width, suffix), int(lo), int(hi))
            if isinstance(role, str):
                self.owned.setdefault(role, NameSet()).update(names)
            if isinstance(tag, str) and re.fullmatch(r"[0-9a-f]{8}", tag):
                self.dead_tags.append(tag)
            log.info("%s: a killed run left outputs here; they are taken over", self.path)
            self._dead_journals.append(j)
        if not self.dead_tags:
            return
        folders = {self.path}
        for s in self.owned.values():  # sub-folders that hold classicseg's files (snapshots/)
            folders |= {(self.path / n).parent for n in s.literal} | {(self.path / k[0]).parent for k in s.ranges}
        for tag in self.dead_tags:
            for folder in folders:
                for tmp in folder.glob(f".*.{tag}-*.part*"):
                    try:
                        tmp.unlink()
                    except OSError:
                        pass

    def _new_journal(self, tag: str) -> tuple[Path, int]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        path = self.meta / f"{_JOURNAL}{tag}-{secrets.token_hex(4)}.jsonl"
        try:
            fd = os.open(path, flags, 0o666)
            os.write(fd, (json.dumps({"role": self.role, "tag": tag, "pid": os.getpid(),
                                      "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n").encode())
        except OSError as exc:
            raise SinkError(f"cannot write in output folder {self.path}: {exc.strerror or exc}") from None
        return path, fd

    # -- writing -----------------------------------------------------------------------
    def owns(self, rel: str) -> bool:
        return any(rel in s for s in self.owned.values())

    def claim(self, rel: str) -> Path:
        """The path of ``rel`` (relative to the folder), after checking that writing it
        destroys nothing that is not classicseg's, and recording it in the journal.

        Raises
        ------
        SinkError
            ``rel`` exists and classicseg did not write it.
        """
        target = self.path / rel
        if rel in self.written:
            return target
        if (target.exists() or target.is_symlink()) and not self.owns(rel):
            raise SinkError(f"{target} exists and was not written by classicseg: it is not overwritten (move it "
                            f"away, or choose an empty output folder)")
        if not self._begun:
            self._begin()
        self._record(rel)
        self.written.add(rel)
        return target

    def remove(self, rel: str) -> None:
        """Delete ``rel`` if it is classicseg's (else leave it)."""
        if self.owns(rel) or rel in self.written:
            try:
                (self.path / rel).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise SinkError(f"cannot remove {self.path / rel}: {exc.strerror or exc}") from None

    def _begin(self) -> None:
        """A replacing run's first write: the previous run's summary no longer describes the folder."""
        self._begun = True
        if self.replace and self.role == "run":
            self.remove("run.json")

    def _record(self, rel: str) -> None:
        sp = _split(rel)
        if sp is None:
            line = {"n": rel}
        else:
            key, n = sp
            lo, hi = self._reserved.get(key, (1, 0))
            if lo <= n <= hi:
                return
            # reserve names ahead, but only names that do not exist yet (so a journal never
            # covers a file that was there before)
            top = n
            while top - n < _RESERVE - 1:
                nxt = _join(key, top + 1)
                if (self.path / nxt).exists() and not self.owns(nxt):
                    break
                top += 1
            self._reserved[key] = (n, top)
            line = {"r": [key[0], key[1], key[2], n, top]}
        try:
            os.write(self._journal_fd, (json.dumps(line) + "\n").encode())
        except OSError as exc:
            raise SinkError(f"cannot write in output folder {self.path}: {exc.strerror or exc}") from None

    # -- finishing ---------------------------------------------------------------------
    def commit(self, prune: bool | None = None) -> None:
        """The run ended (well, or interrupted): remove the previous run's files that this one
        did not write (``replace``), write the manifest, drop the journals, unlock."""
        if self._lock_fd is None:
            return
        try:
            mine = self.owned.get(self.role, NameSet())
            if self.replace if prune is None else prune:
                stale = [n for n in mine if n not in self.written]
                for n in stale:
                    p = self.path / n
                    try:
                        if p.is_file() or p.is_symlink():
                            p.unlink()
                    except OSError:
                        pass
                if stale:
                    log.debug("%s: removed %d outputs of the previous run", self.path, len(stale))
                mine = NameSet()
            mine.update(self.written)
            self.owned[self.role] = mine
            from classicseg.io.images import atomic_write_bytes

            manifest = {"version": 1, "note": "files classicseg wrote here (it deletes or overwrites no other)",
                        "roles": {r: s.to_json() for r, s in self.owned.items() if s}}
            atomic_write_bytes(self.meta / _MANIFEST, (json.dumps(manifest) + "\n").encode())
            self._drop_journals()
        finally:
            self._unlock()

    def release(self) -> None:
        """The run failed: keep every file (this run's and the previous one's), remember all
        of them as classicseg's, unlock."""
        try:
            self.commit(prune=False)
        except Exception:  # noqa: BLE001 - never hide the error that ended the run
            self._unlock()

    def _drop_journals(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        for j in [self._journal, *self._dead_journals]:
            if j is not None:
                try:
                    j.unlink()
                except OSError:
                    pass

    def __enter__(self) -> "OutputFolder":
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.commit()
        else:
            self.release()
