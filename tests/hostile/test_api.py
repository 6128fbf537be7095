"""The Python API with hostile frames, priors and folders: classicseg errors naming the
problem, never an OpenCV or NumPy failure from deep inside a stage."""
from __future__ import annotations

import numpy as np
import pytest

from classicseg.errors import ClassicsegError, SinkError, SourceError
from classicseg.pipeline import Pipeline
from classicseg.types import Sample


@pytest.fixture(scope="module")
def pipe():
    return Pipeline.load(preset="surveillance-fast")


@pytest.mark.parametrize("frame,needle", [
    (np.zeros((16, 16, 3), np.float64), "uint8"),
    (np.zeros((16, 16, 3), np.int64), "uint8"),
    (np.full((16, 16), "a"), "uint8"),
    (np.zeros((16, 16), bool), "uint8"),
    (np.zeros((2, 16, 16, 3), np.uint8), "shape"),
    (np.zeros((16, 16, 2), np.uint8), "shape"),
    (np.zeros((0, 16, 3), np.uint8), "empty"),
    ("not an array", "numpy array"),
])
def test_bad_frames(pipe, frame, needle):
    with pytest.raises(SourceError, match=needle):
        pipe.run([np.zeros((16, 16, 3), np.uint8), frame])


def test_samples_with_a_float_image(pipe):
    good = Sample(0, "a", np.zeros((16, 16, 3), np.uint8))
    bad = Sample(1, "b", np.zeros((16, 16, 3), np.float32))
    with pytest.raises(SourceError, match="frame b: .*uint8"):
        pipe.run([good, bad])


def test_frames_above_the_pixel_limit(pipe, monkeypatch):
    monkeypatch.setenv("CLASSICSEG_MAX_PIXELS", "100")
    with pytest.raises(SourceError, match="16x16 is above the limit"):
        pipe.run([np.zeros((16, 16, 3), np.uint8)])


def test_frames_too_small_for_dis():
    with pytest.raises(SourceError, match="too small"):
        Pipeline.load(preset="motion").run([np.zeros((8, 300, 3), np.uint8)] * 3)


def test_prior_callable_returning_garbage():
    from classicseg.io.priors import attach_prior

    frames = [np.zeros((32, 32, 3), np.uint8)] * 3
    for bad, needle in [(lambda s: np.full((32, 32), np.nan, np.float32), "NaN"),
                        (lambda s: np.zeros((5, 5), np.float32), "5x5"),
                        (lambda s: np.full((32, 32), 1000, np.int64), "0..255"),
                        (lambda s: np.zeros((32, 32), complex), "dtype")]:
        with pytest.raises(SourceError, match=needle):
            Pipeline.load(preset="refine").run(attach_prior(frames, bad))


def test_output_folder_manifest_names_cannot_escape(tmp_path):
    """A manifest is data from disk: names with '..' or absolute paths are ignored, so a
    planted manifest cannot make a rerun delete files outside the folder."""
    import json

    from classicseg.io.outputs import OutputFolder

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    out = tmp_path / "out"
    (out / ".classicseg").mkdir(parents=True)
    (out / ".classicseg" / "manifest.json").write_text(json.dumps({"roles": {"run": {
        "names": ["../victim.txt", str(victim)], "ranges": [["../", 1, ".txt", [[0, 9]]]]}}}))
    with OutputFolder(out) as f:
        f.claim("00000.png").write_bytes(b"x")
    assert victim.read_text() == "keep"


def test_claiming_a_users_file(tmp_path):
    from classicseg.io.outputs import OutputFolder

    (tmp_path / "mine.png").write_bytes(b"mine")
    with pytest.raises(SinkError, match="not written by classicseg"):
        with OutputFolder(tmp_path) as f:
            f.claim("mine.png")
    assert (tmp_path / "mine.png").read_bytes() == b"mine"


def test_name_ranges_round_trip():
    from classicseg.io.outputs import NameSet

    s = NameSet()
    for n in [*(f"bin{i:06d}.png" for i in range(1, 2001)), "run.json", "snapshots/000012_enter.jpg",
              "000001.png", "1.png"]:
        s.add(n)
    t = NameSet.from_json(s.to_json())
    assert set(t) == set(s) and len(s.to_json()["ranges"]) == 4
    assert "bin000500.png" in t and "bin002001.png" not in t and "bin0500.png" not in t


def test_read_mot_rejects_hostile_rows(tmp_path):
    from classicseg.errors import EvalError
    from classicseg.metrics.mot import read_mot

    for content in (b"\x00\x01\x02\n", "1,1,1e400,1,1,1\n".encode(), b"1,2,3,4,5,nan\n"):
        (tmp_path / "t.txt").write_bytes(content)
        with pytest.raises(EvalError):
            read_mot(tmp_path / "t.txt")


def test_config_limits_in_process():
    from classicseg.config import parse_text

    with pytest.raises(ClassicsegError, match="nested"):
        parse_text("a: " + "[" * 100 + "]" * 100, "yaml", "x")
    with pytest.raises(ClassicsegError, match="duplicate key"):
        parse_text("a: 1\na: 2\n", "yaml", "x")
