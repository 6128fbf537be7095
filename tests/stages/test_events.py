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
    s = Sample(2, "000003", np.zeros((10, 10, 3), np.uint8), time=0.12, wall=1_800_000_000.5)
    # two events of one frame and kind: each keeps its own picture
    s["events"] = [{"frame": 3, "event": "enter", "zone": "door", "id": 1, "box": [1, 1, 3, 3]},
                   {"frame": 3, "event": "enter", "zone": "door", "id": 1, "box": [5, 5, 3, 3]}]
    sink.write(s)
    sink.close()
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in lines] == ["enter", "enter"]
    assert lines[0]["time"] == 0.12 and lines[0]["wall"] == "2027-01-15T08:00:00.500Z"
    assert [e["snapshot"] for e in lines] == ["snapshots/000003_enter_door_1.jpg", "snapshots/000003_enter_door_1_2.jpg"]
    a, b = (cv2.imread(str(tmp_path / "snaps" / n)) for n in ("000003_enter_door_1.jpg", "000003_enter_door_1_2.jpg"))
    assert a[1, 1].sum() > 300 and b[1, 1].sum() < 100 and b[5, 5].sum() > 300  # the object of each highlighted


def test_leave_has_the_box_it_left_with():
    st = ZoneEvents(zones=ZONE)
    boxes = [(50.0, 50.0, 10.0, 20.0), (52.0, 50.0, 10.0, 20.0)]
    out = []
    for i, b in enumerate(boxes + [None]):
        s = Sample(i, str(i), np.zeros((100, 120, 3), np.uint8))
        s["tracks"] = [(7, b)] if b else []
        out += st.process(s).data.get("events", [])
    assert [(e["event"], e.get("box")) for e in out] == [("enter", [50.0, 50.0, 10.0, 20.0]),
                                                          ("leave", [52.0, 50.0, 10.0, 20.0])]


def _motion_run(stage, shares_or_tracks, fps=10.0, shape=(20, 50)):
    events, active = [], []
    for i, v in enumerate(shares_or_tracks):
        s = Sample(i, f"{i + 1:06d}", np.zeros(shape + (3,), np.uint8), time=i / fps)
        fg = np.zeros(shape, bool)
        if isinstance(v, list):
            s["tracks"] = v
        else:
            fg.flat[: int(round(v * fg.size))] = True
        s["fg"] = fg
        out = stage.process(s)
        events += out["events"]
        active.append(out["active"])
    return events, active


def test_motion_event_starts_after_min_frames_and_ends_after_the_gap():
    from classicseg.stages.events import MotionEvents

    st = MotionEvents(threshold=0.05, min_frames=2, event_gap=0.3, warmup=0)  # 10 frames/s: 3 frames of quiet end it
    shares = [0, 0.1, 0, 0.2, 0.3, 0.1, 0, 0, 0.2, 0, 0, 0, 0, 0]  # a one-frame blip, then an event with a 2-frame pause
    ev, active = _motion_run(st, shares)
    assert [(e["event"], e["frame"]) for e in ev] == [("start", 4), ("end", 12)]
    end = ev[1]
    assert (end["start_frame"], end["end_frame"], end["peak_frame"], end["peak_share"]) == (4, 9, 5, 0.3)
    assert end["start_time"] == 0.3 and end["end_time"] == 0.8
    assert [bool(a) for a in active] == [False] * 4 + [True, True, False, False, True] + [False] * 5


def test_motion_from_tracked_objects_and_zones():
    from classicseg.stages.events import MotionEvents

    z = [{"name": "left", "polygon": [[0, 0], [25, 0], [25, 20], [0, 20]]}]
    st = MotionEvents(zones=z, min_frames=1, event_gap=0.0, warmup=0)
    seq = [[], [(3, (2.0, 2.0, 4.0, 8.0))], [(3, (30.0, 2.0, 4.0, 8.0)), (4, (35.0, 2.0, 4.0, 8.0))], []]
    ev, _ = _motion_run(st, seq)
    got = [(e["event"], e["key"], e["frame"], tuple(e.get("ids", ()))) for e in ev]
    assert got == [("start", "motion", 2, ()), ("start", "zone:left", 2, ()), ("end", "zone:left", 3, (3,)),
                   ("end", "motion", 4, (3, 4))]


def test_motion_needs_a_foreground_and_zone_params_are_documented():
    from classicseg.config import REQUIRED, describe_params, resolve, with_events

    with pytest.raises(ConfigError, match="threshold"):
        with_events(resolve("surveillance-fast"), threshold=2)
    rows = {r[0]: r for r in describe_params(ZoneEvents.Params)}
    assert rows["zones"][1] is REQUIRED and repr(rows["zones"][1]) == "required"
    assert rows["zones"][2] == "list[Zone]" and "polygon: [[x, y]" in rows["zones"][3]


def test_tracker_closes_an_open_event_at_its_last_motion():
    from classicseg.io.events import EventTracker
    from classicseg.stages.events import MotionEvents

    closed = []
    tr = EventTracker(on_close=lambda rec, e: closed.append((rec, e)))
    st = MotionEvents(threshold=0.05, min_frames=1, event_gap=5, warmup=0)
    for i, v in enumerate([0, 0.2, 0.4, 0.1, 0, 0]):
        s = Sample(i, str(i), np.zeros((10, 10, 3), np.uint8), time=i * 0.5, wall=1000.0 + i * 0.5)
        fg = np.zeros((10, 10), bool)
        fg.flat[: int(v * 100)] = True
        s["fg"] = fg
        tr.update(st.process(s))
    assert not closed
    tr.finish()
    rec, e = closed[0]
    assert e is None and (rec.start_frame, rec.end_frame, rec.peak_frame) == (2, 4, 3)
    assert (rec.start_wall, rec.end_wall) == (1000.5, 1001.5) and rec.peak[0].index == 2
