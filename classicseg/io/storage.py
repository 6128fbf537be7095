"""Files a long-running recorder keeps: sizes, removal of old files and of what a killed
process left half-written."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

__all__ = ["file_size", "folder_bytes", "remove_files", "remove_empty_dirs", "remove_partial_files"]


def file_size(p: Path) -> int:
    try:
        return Path(p).stat().st_size
    except OSError:
        return 0


def folder_bytes(*folders: Path) -> int:
    """Bytes of every file under ``folders``."""
    total = 0
    for folder in folders:
        if Path(folder).is_dir():
            for root, _, files in os.walk(folder):
                for f in files:
                    try:
                        total += os.stat(os.path.join(root, f)).st_size
                    except OSError:
                        pass
    return total


def remove_files(paths: Iterable[Path]) -> None:
    """Delete ``paths`` (those already gone are no error)."""
    for p in paths:
        try:
            Path(p).unlink()
        except FileNotFoundError:
            pass


def remove_empty_dirs(folder: Path, older_than_name: str | None = None) -> None:
    """Delete the empty folders directly in ``folder`` (only those whose name sorts before
    ``older_than_name``: day folders ``YYYY-MM-DD`` of past days)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for d in folder.iterdir():
        try:
            if d.is_dir() and (older_than_name is None or d.name < older_than_name) and not any(d.iterdir()):
                d.rmdir()
        except OSError:
            pass


def remove_partial_files(folder: Path) -> int:
    """Delete the ``.<name>.part...`` files a killed process left under ``folder``; returns how many."""
    n = 0
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.rglob(".*.part*"):
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
    return n
