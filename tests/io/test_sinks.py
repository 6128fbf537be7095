import os

import cv2
import numpy as np
import pytest
from PIL import Image

from classicseg.errors import SinkError
from classicseg.io.images import atomic_write_bytes, ensure_writable_dir
from classicseg.io.sinks import MaskSink, VideoSink, encode_indexed_png
from classicseg.metrics.davis import davis_palette
from classicseg.io.sources import ArraySource, open_source
from classicseg.types import Sample


def _sample(name="in000001", h=6, w=8):
    s = Sample(0, name, np.zeros((h, w, 3), np.uint8))
    fg = np.zeros((h, w), bool)
    fg[1:3, 2:5] = True
    s["fg"] = fg
    return s


def test_davis_palette_first_entries():
    pal = davis_palette()
    assert pal[0].tolist() == [0, 0, 0] and pal[1].tolist() == [128, 0, 0] and pal[2].tolist() == [0, 128, 0]
    assert pal[3].tolist() == [128, 128, 0]


def test_indexed_png_keeps_ids(tmp_path):
    ids = np.array([[0, 1, 2], [3, 0, 1]], np.uint8)
    (tmp_path / "m.png").write_bytes(encode_indexed_png(ids))
    im = Image.open(tmp_path / "m.png")
    assert im.mode == "P" and np.array_equal(np.array(im), ids)
    assert im.getpalette()[3:6] == [128, 0, 0]


def test_cdnet_mask_sink_writes_0_255(tmp_path):
    (tmp_path / "seq" / "input").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "seq" / "input" / "in000001.jpg"), np.zeros((6, 8, 3), np.uint8))
    src = open_source(str(tmp_path / "seq"))
    sink = MaskSink(tmp_path / "out", src)
    sink.write(_sample())
    m = cv2.imread(str(tmp_path / "out" / "bin000001.png"), cv2.IMREAD_UNCHANGED)
    assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 255} and (m == 255).sum() == 6
    assert not [p for p in os.listdir(tmp_path / "out") if p.endswith(".part")]


def test_davis_mask_sink_writes_indexed(tmp_path):
    src = ArraySource(kind="davis", name="x")
    MaskSink(tmp_path, src).write(_sample("00003"))
    im = Image.open(tmp_path / "00003.png")
    assert im.mode == "P" and set(np.unique(np.array(im))) == {0, 1}


def test_atomic_write_leaves_old_content_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    atomic_write_bytes(target, b"old")

    def broken_replace(a, b):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(SinkError, match="cannot write .*a.txt: No space left on device"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="output folder .* cannot be written"):
        ensure_writable_dir(blocker / "sub")


def test_video_sink_renames_on_close_and_keeps_partial_on_abort(tmp_path):
    sink = VideoSink(tmp_path / "o.mp4", fps=10)
    for _ in range(3):
        sink.write(_sample(h=48, w=64))
    assert not (tmp_path / "o.mp4").exists()
    sink.close()
    assert (tmp_path / "o.mp4").stat().st_size > 0
    cap = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    sink2 = VideoSink(tmp_path / "p.mp4")
    sink2.write(_sample(h=48, w=64))
    sink2.abort()  # a failed run keeps its video so far, finished, under another name
    assert sorted(os.listdir(tmp_path)) == ["o.mp4", "p.partial.mp4"]
    assert int(cv2.VideoCapture(str(tmp_path / "p.partial.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 1


@pytest.mark.parametrize("codec", ["mp4v", "h264"])
def test_video_sink_codecs(tmp_path, codec):
    if codec == "h264":
        pytest.importorskip("av")
    sink = VideoSink(tmp_path / "o.mp4", fps=25, codec=codec)
    for _ in range(5):
        sink.write(_sample(h=48, w=64))
    sink.close()
    cap = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode(errors="replace")
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    assert fourcc.lower() in (("avc1", "h264") if codec == "h264" else ("mp4v", "fmp4"))


def test_video_sink_falls_back_without_pyav(tmp_path, monkeypatch):
    import classicseg.io.sinks as sinks

    monkeypatch.setattr(sinks, "have_pyav", lambda: False)
    assert "mp4v" in VideoSink(tmp_path / "a.mp4").codec
    with pytest.raises(SinkError, match="H.264 output needs PyAV"):
        VideoSink(tmp_path / "b.mp4", codec="h264")
