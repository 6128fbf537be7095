import cv2
import numpy as np
import pytest

from classicseg.errors import SourceError
from classicseg.io.sources import ArraySource, open_source, trailing_number


def _write_frames(folder, names, shape=(24, 32)):
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        cv2.imwrite(str(folder / n), np.full(shape + (3,), 10 * i, np.uint8))


def _write_video(path, n=20, corrupt=None):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), i * 10, np.uint8))
    w.release()
    if corrupt is not None:  # zero one JPEG frame's payload
        data = bytearray(path.read_bytes())
        soi = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
        for k in corrupt:
            data[soi[k]:soi[k + 1] - 16] = bytes(soi[k + 1] - 16 - soi[k])
        path.write_bytes(bytes(data))


def test_trailing_number():
    assert trailing_number("in000123") == 123 and trailing_number("frame_7") == 7
    assert trailing_number("abc") is None


def test_cdnet_layout_and_naming(tmp_path):
    _write_frames(tmp_path / "seq" / "input", ["in000002.jpg", "in000001.jpg", "in000010.jpg"])
    src = open_source(str(tmp_path / "seq"))
    assert src.kind == "cdnet" and src.length == 3
    names = [s.name for s in src]
    assert names == ["in000001", "in000002", "in000010"]  # numeric order
    assert src.mask_name("in000010") == "bin000010.png" and src.mask_format == "binary"
    assert open_source(str(tmp_path / "seq" / "input")).kind == "cdnet"


def test_davis_layout(tmp_path):
    folder = tmp_path / "JPEGImages" / "480p" / "cow"
    _write_frames(folder, ["00000.jpg", "00001.jpg"])
    src = open_source(str(folder))
    assert src.kind == "davis" and src.mask_format == "davis" and src.mask_name("00001") == "00001.png"


def test_ucsd_and_plain_folders_keep_stems(tmp_path):
    _write_frames(tmp_path / "birds" / "in", ["frame_10.jpg", "frame_2.jpg", "frame_1.jpg"])
    src = open_source(str(tmp_path / "birds"))
    assert [s.name for s in src] == ["frame_1", "frame_2", "frame_10"]
    assert src.mask_name("frame_2") == "frame_2.png"


def test_mixed_sizes_rejected_before_decoding(tmp_path):
    _write_frames(tmp_path / "f", ["a1.png", "a2.png"])
    cv2.imwrite(str(tmp_path / "f" / "a3.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(SourceError, match=r"mixed image sizes: a3.png is 10x10 but a1.png is 32x24"):
        open_source(str(tmp_path / "f"))


def test_missing_empty_and_single_image_inputs(tmp_path):
    with pytest.raises(SourceError, match="input not found"):
        open_source(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images in"):
        open_source(str(tmp_path / "empty"))
    _write_frames(tmp_path / "one", ["x.png"])
    with pytest.raises(SourceError, match="single image"):
        open_source(str(tmp_path / "one" / "x.png"))


def test_corrupt_image_skipped_with_warning_then_give_up(tmp_path, caplog):
    _write_frames(tmp_path / "f", [f"{i:03d}.png" for i in range(6)])
    (tmp_path / "f" / "002.png").write_bytes(b"not a png")
    src = open_source(str(tmp_path / "f"))
    names = [s.name for s in src]
    assert names == ["000", "001", "003", "004", "005"] and src.skipped == 1
    assert "frame 002 could not be decoded, skipped" in caplog.text
    for k in (3, 4):
        (tmp_path / "f" / f"00{k}.png").write_bytes(b"bad")
    with pytest.raises(SourceError, match=r"3 unreadable frames in a row \(up to 004\); giving up"):
        list(open_source(str(tmp_path / "f"), max_bad_frames=3))


def test_video_source_and_corrupt_frame(tmp_path):
    _write_video(tmp_path / "ok.avi", 12)
    src = open_source(str(tmp_path / "ok.avi"))
    assert src.kind == "video" and src.length == 12 and src.fps == pytest.approx(25)
    samples = list(src)
    assert len(samples) == 12 and samples[0].name == "000001" and samples[0].image.shape == (48, 64, 3)
    _write_video(tmp_path / "bad.avi", 20, corrupt=[10])
    src = open_source(str(tmp_path / "bad.avi"))
    names = [s.name for s in src]
    assert len(names) == 19 and "000011" not in names and src.skipped == 1


def test_video_that_cannot_be_opened(tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(SourceError, match="cannot open video"):
        open_source(str(tmp_path / "zero.mp4"))
    (tmp_path / "junk.avi").write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(SourceError, match="cannot open video|no frames"):
        list(open_source(str(tmp_path / "junk.avi")))


def test_frame_size_change_mid_stream():
    frames = [np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)]
    with pytest.raises(SourceError, match=r"frame 000002 is 4x5 but earlier frames are 4x4"):
        list(ArraySource(kind="array", name="a", items=frames))


def test_prefetch_propagates_errors_and_order():
    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(30)]
    src = ArraySource(kind="array", name="a", items=frames, prefetch=2)
    assert [int(s.image[0, 0, 0]) for s in src] == list(range(30))
    gray = [np.zeros((4, 4), np.uint8)]
    assert list(ArraySource(kind="array", name="a", items=gray))[0].image.shape == (4, 4, 3)


def test_close_stops_the_reader_of_an_abandoned_run():
    """A run that stops on an error elsewhere leaves the reader suspended; close() ends its thread."""
    import threading

    def readers():
        return {t for t in threading.enumerate() if t.name == "classicseg-reader"}

    before = readers()                         # other tests' leftovers, if any
    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(50)]
    src = ArraySource(kind="array", name="a", items=frames, prefetch=2)
    it = iter(src)
    next(it)                                   # reader started, queue full, blocked in put()
    assert readers() - before
    src.close()
    assert not readers() - before
    src.close()                                # idempotent


def test_camera_that_does_not_exist():
    with pytest.raises(SourceError, match="cannot open camera 97"):
        open_source("97")


def test_http_stream_source(tmp_path):
    """A video served over HTTP by a local server is read as a stream."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    _write_video(tmp_path / "clip.avi", 15)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
        src = open_source(url, open_timeout_ms=5000, read_timeout_ms=5000, reconnect=False)  # a finite file
        assert src.kind == "stream" and src.name == "clip.avi"
        samples = list(src)
        assert len(samples) == 15 and samples[0].name == "000001"
        with pytest.raises(SourceError, match="cannot open stream"):
            open_source(f"http://127.0.0.1:{server.server_address[1]}/missing.avi", open_timeout_ms=2000)
    finally:
        server.shutdown()


def _video(path, n=10, fps=20.0):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (32, 24))
    for i in range(n):
        w.write(np.full((24, 32, 3), 10 * i, np.uint8))
    w.release()
    return path


def test_video_realtime_loop_timestamps_and_stop(tmp_path):
    import threading
    import time

    from classicseg.io.sources import open_source

    video = _video(tmp_path / "v.mp4")
    t0 = time.monotonic()
    src = open_source(str(video), realtime=True)
    samples = list(src)
    assert time.monotonic() - t0 >= 0.4  # 10 frames at 20 frames/s
    assert [s.time for s in samples[:3]] == [0.0, 0.05, 0.1] and all(s.wall for s in samples)
    looped = open_source(str(video), loop=True, prefetch=0)
    it = iter(looped)
    got = [next(it) for _ in range(25)]
    assert looped.length is None and got[24].name == "000025" and got[24].time == pytest.approx(1.2)
    stop = threading.Event()
    endless = open_source(str(video), loop=True)
    endless.stop = stop
    n = 0
    for n, _ in enumerate(endless, start=1):
        if n == 15:
            stop.set()
    assert 15 <= n <= 17
