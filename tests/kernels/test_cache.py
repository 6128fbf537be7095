"""numba's on-disk cache on read-only installs: NUMBA_CACHE_DIR logic of classicseg.kernels."""
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from classicseg import kernels


def test_user_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kernels.user_cache_dir() == tmp_path / "classicseg" / "numba"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert kernels.user_cache_dir() == Path.home() / ".cache" / "classicseg" / "numba"


def test_writable_package_keeps_numba_default(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(kernels, "_writable", lambda folder: True)
    assert kernels.set_cache_dir(tmp_path / "cache") is None
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_read_only_package_moves_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(kernels, "_writable", lambda folder: False)
    got = kernels.set_cache_dir(tmp_path / "cache")
    assert got == str(tmp_path / "cache") == os.environ["NUMBA_CACHE_DIR"]
    assert (tmp_path / "cache").is_dir()
    # a folder the user chose wins over ours
    assert kernels.set_cache_dir(tmp_path / "other") == str(tmp_path / "cache")


def test_writable_check(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    assert kernels._writable(ro)
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.geteuid() != 0:  # root writes anywhere; the check is right to say so
            assert not kernels._writable(ro)
    finally:
        ro.chmod(stat.S_IRWXU)


@pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba is not installed (extra 'fast')")
def test_cache_true_from_read_only_copy(tmp_path):
    """A kernel module copied into a read-only folder compiles and caches under NUMBA_CACHE_DIR."""
    pkg = tmp_path / "ro_pkg"
    pkg.mkdir()
    shutil.copy(Path(kernels.__file__).parent / "labels.py", pkg / "ro_labels.py")
    pkg.chmod(stat.S_IRUSR | stat.S_IXUSR)
    cache = tmp_path / "cache"
    code = textwrap.dedent(f"""
        import sys
        from classicseg import kernels
        print(kernels.set_cache_dir({str(cache)!r}, package_dir={str(pkg)!r}, force=True))
        sys.path.insert(0, {str(pkg)!r})
        import numpy as np, ro_labels
        fg, sh = ro_labels.split_labels_numba(np.array([[0, 127, 255]], np.uint8))
        assert fg.tolist() == [[False, False, True]] and sh.tolist() == [[False, True, False]]
    """)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == str(cache)
        assert list(cache.rglob("*.nbi")), "numba wrote no cache index under NUMBA_CACHE_DIR"
        assert not (pkg / "__pycache__").exists() or not list((pkg / "__pycache__").glob("*.nbi"))
    finally:
        pkg.chmod(stat.S_IRWXU)
