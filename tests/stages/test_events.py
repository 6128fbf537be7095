import json

import cv2
import numpy as np
import pytest

from classicseg.config import validate
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.io.sinks import EventsSink
from classicseg.stages.bgsub.opencv import MOG2
from classicseg.stages.events import ZoneEvents
from classicseg.types import Sample

ZONE = [{"name": "door", "polygon": [[40, 0], [80, 0], [80, 100], [40, 100]]}]


def _run(stage, track_seq, shape=(100, 120)):
    out = []
    for i, tracks in enumerate(track_seq):
        s = Sample(i, f"{i:06d}", np.zeros(shape + (3,), np.uint8))
        s["tracks"] = tracks
        out.append([(e["event"], e["zone"], e["id"], e["frame"]) for e in stage.process(s).data.get("events", [])])
    return out


def test_enter_and_leave():
    # object 1 walks right through the door zone (foot point x = x + 5)
    seq = [[(1, (x, 50.0, 10.0, 20.0))] for x in range(20, 100, 10)]
    ev = _run(ZoneEvents(zones=ZONE), seq)
    flat = [e for f in ev for e in f]
    assert flat == [("enter", "door", 1, 3), ("leave", "door", 1, 7)]


def test_dwell_fires_once_for_a_still_object():
    seq = [[(4, (50.0, 50.0, 10.0, 20.0))]] * 12
    ev = [e for f in _run(ZoneEvents(zones=ZONE, dwell_frames=5), seq) for e in f]
    assert ev == [("enter", "door", 4, 1), ("dwell", "door", 4, 5)]


def test_zone_outside_the_frame_is_an_error():
    st = ZoneEvents(zones=[{"name": "far", "polygon": [[0, 0], [500, 0], [500, 50]]}])
    with pytest.raises(ClassicsegError, match=r"polygon point \(500, 0\) lies outside the 120x100 frame"):
        _run(st, [[]])


def test_zone_config_errors():
    with pytest.raises(ConfigError, match="a zone needs at least 3 points"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "blobs.components"}, {"stage": "track.hungarian"},
                               {"stage": "events.zones", "zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]}]})


@pytest.mark.parametrize("name", ["bgsub.mog2", "bgsub.sense"])
def test_illumination_switch_is_reported_suppressed_and_relearned(name):
    from classicseg import catalog as registry

    st = registry.get(name)(switch_fraction=0.5)
    st.reset()
    noise = np.random.default_rng(0).integers(0, 40, (40, 40, 3)).astype(np.uint8)
    texture = cv2.GaussianBlur(noise, (7, 7), 2)  # a scene is smooth at the pixel scale
    dark, bright = texture + 60, texture * 2 + 120
    for i in range(30):
        st.process(Sample(i, str(i), dark.copy()))
    s = st.process(Sample(30, "30", bright.copy()))
    assert s["events"][0]["event"] == "illumination" and not s["fg"].any() and not s["shadow"].any()
    after = st.process(Sample(31, "31", bright.copy()))
    assert after["fg"].mean() < 0.05 and "events" not in after.data
    # without the switch the same change is a frame of false foreground
    plain = registry.get(name)()
    plain.reset()
    for i in range(30):
        plain.process(Sample(i, str(i), dark.copy()))
    assert plain.process(Sample(30, "30", bright.copy()))["fg"].mean() > 0.5


def test_events_sink_appends_json_lines_and_snapshots(tmp_path):
    sink = EventsSink(tmp_path / "events.jsonl", tmp_path / "snaps")
    s = Sample(2, "000003", np.zeros((10, 10, 3), np.uint8))
    s["events"] = [{"frame": 3, "event": "enter", "zone": "door", "id": 1}]
    sink.write(s)
    sink.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["event"] == "enter"
    assert (tmp_path / "snaps" / "000003_enter.jpg").stat().st_size > 0
