import numpy as np
import pytest

from classicseg.config import validate
from classicseg.errors import ConfigError
from classicseg.io.sinks import TracksSink
from classicseg.stages.track import (
    HungarianTracker, PeopleDetector, appearance_distance, colour_histogram, non_max_suppression,
)
from classicseg.types import Blob, Sample


def _frame(boxes, colours, shape=(120, 200)):
    img = np.full(shape + (3,), 60, np.uint8)
    for (x, y, w, h), c in zip(boxes, colours):
        img[y:y + h, x:x + w] = c
    s = Sample(0, "0", img)
    s["blobs"] = [Blob(i + 1, x, y, w, h, w * h, x + w / 2, y + h / 2) for i, (x, y, w, h) in enumerate(boxes)]
    return s


def _ids(tracker, frames):
    out = []
    for i, (boxes, colours) in enumerate(frames):
        s = _frame(boxes, colours)
        s.index = i
        out.append(dict((tuple(int(round(v)) for v in b[:2]), tid) for tid, b in tracker.process(s)["tracks"]))
    return out


def test_two_objects_keep_their_identities():
    frames = [([(10 + 3 * t, 20, 20, 40), (150 - 3 * t, 60, 20, 40)], [(0, 0, 255), (255, 0, 0)]) for t in range(10)]
    tr = HungarianTracker(min_hits=1)
    seen = _ids(tr, frames)
    assert all(len(f) == 2 for f in seen)
    assert all(sorted(f.values()) == [1, 2] for f in seen)
    first_left = seen[0][(10, 20)]
    assert seen[-1][(37, 20)] == first_left  # the left object kept its id


def test_identity_survives_a_short_occlusion():
    boxes = [[(10 + 4 * t, 20, 20, 40)] for t in range(12)]
    frames = [(b if t not in (5, 6, 7) else [], [(0, 200, 0)]) for t, b in enumerate(boxes)]
    tr = HungarianTracker(min_hits=1, max_missed=5)
    seen = _ids(tr, frames)
    assert seen[5] == {} and set(seen[8].values()) == set(seen[4].values()) == {1}


def test_new_tracks_need_min_hits_and_old_ones_end():
    tr = HungarianTracker(min_hits=3, max_missed=1)
    seen = _ids(tr, [([(10, 10, 20, 20)], [(0, 0, 255)])] * 3 + [([], [])] * 3)
    assert [len(f) for f in seen] == [0, 0, 1, 0, 0, 0]
    assert tr.tracks == []


def test_appearance_distance_known_answer():
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, :10] = (0, 0, 255)
    img[:, 10:] = (255, 0, 0)
    a, b = colour_histogram(img, (0, 0, 10, 10)), colour_histogram(img, (10, 0, 10, 10))
    assert appearance_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert appearance_distance(a, b) == pytest.approx(1, abs=1e-6)


def test_non_max_suppression_known_answer():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10]], float)
    assert sorted(non_max_suppression(boxes, np.array([0.5, 0.9, 0.1]), 0.4).tolist()) == [1, 2]


def test_people_detector_smoke_and_no_people_in_flat_image():
    s = Sample(0, "0", np.full((160, 120, 3), 128, np.uint8))
    s["fg"] = np.ones((160, 120), bool)
    assert PeopleDetector().process(s)["blobs"] == []


def test_tracks_sink_writes_mot_rows_and_keeps_partial(tmp_path):
    sink = TracksSink(tmp_path / "tracks.txt")
    s = _frame([(1, 2, 3, 4)], [(0, 0, 0)])
    s.index = 4
    s["tracks"] = [(7, (1.0, 2.0, 3.0, 4.0))]
    sink.write(s)
    sink.close()
    assert (tmp_path / "tracks.txt").read_text() == "5,7,1.00,2.00,3.00,4.00,1,-1,-1,-1\n"
    sink = TracksSink(tmp_path / "t2.txt")
    sink.write(s)
    sink.abort()
    assert (tmp_path / "t2.partial.txt").read_text().startswith("5,7,")


def test_tracker_config_errors():
    with pytest.raises(ConfigError, match=r"stage 2 \(track.hungarian\): needs 'blobs'"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "track.hungarian"}]})
    with pytest.raises(ConfigError, match="max_dist: input should be less than or equal to 1"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "blobs.components"},
                               {"stage": "track.hungarian", "max_dist": 2}]})
