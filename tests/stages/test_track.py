import numpy as np
import pytest

from classicseg.config import validate
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.io.sinks import TracksSink
from classicseg.stages.detect import (
    Detection, PeopleDetector, RowSizeModel, blob_people, detect_people, foreground_cover, non_max_suppression,
    shrink_windows,
)
from classicseg.stages.track import BoxKalman, HungarianTracker, appearance_distance, colour_histogram
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


# -- Kalman prediction, crossings, weak detections, delayed output -------------------------
def _det_frame(index, dets, shape=(120, 240)):
    """A sample whose blobs are scored detections ``(x, y, w, h, score, bgr)``, painted on the image."""
    img = np.full(shape + (3,), 60, np.uint8)
    for x, y, w, h, _, c in dets:
        img[y:y + h, x:x + w] = c
    s = Sample(index, str(index), img)
    s["blobs"] = [Detection(i + 1, x, y, w, h, w * h, x + w / 2, y + h / 2, sc)
                  for i, (x, y, w, h, sc, _) in enumerate(dets)]
    return s


def test_kalman_learns_the_velocity_and_predicts():
    kf = BoxKalman((0, 0, 10, 20))
    for t in range(1, 15):
        kf.predict()
        kf.update((5 * t, 0, 10, 20))
    kf.predict()
    assert kf.box == pytest.approx([75, 0, 10, 20], abs=1.0)


def test_two_walkers_crossing_keep_their_identities():
    """A red box walks right, a blue one left on the same row; while they overlap only the
    front one is detected. After the crossing each colour keeps its first identity."""
    red, blue = (0, 0, 255), (255, 0, 0)
    tr = HungarianTracker(min_hits=1, max_missed=8, w_app=0.5)
    ids = {}
    for t in range(40):
        a, b = (10 + 5 * t, 40, 20, 40, 2.0, red), (210 - 5 * t, 40, 20, 40, 2.0, blue)
        overlap = abs(a[0] - b[0]) < 20
        s = _det_frame(t, [a] if overlap else [a, b])
        for tid, box in tr.process(s)["tracks"]:
            colour = "red" if abs(box[0] - a[0]) < 3 else "blue"
            ids.setdefault(colour, set()).add(tid)
    assert ids["red"] == {1} and ids["blue"] == {2}


def test_weak_detections_continue_tracks_but_start_none():
    tr = HungarianTracker(min_hits=1, high_score=0.5, box="detection")
    assert tr.process(_det_frame(0, [(10, 10, 20, 40, 0.1, (0, 0, 255))]))["tracks"] == []
    assert tr.tracks == []
    tr.process(_det_frame(1, [(10, 10, 20, 40, 0.9, (0, 0, 255))]))
    out = tr.process(_det_frame(2, [(12, 10, 20, 40, 0.1, (0, 0, 255))]))["tracks"]
    assert [tid for tid, _ in out] == [1] and out[0][1][0] == pytest.approx(12)


def test_delay_reports_from_the_first_hit_and_fills_gaps():
    """With delay 4 a track confirmed at its 3rd hit is reported from its 1st, and a
    2-frame gap is filled by linear interpolation; the stage holds 4 frames back."""
    tr = HungarianTracker(min_hits=3, delay=4, max_missed=5, w_app=0, box="detection")
    assert tr.latency == 4
    done = []
    for t in range(12):
        dets = [] if t in (5, 6) else [(10 + 4 * t, 20, 20, 40, 1.0, (0, 200, 0))]
        out = tr.step(_det_frame(t, dets))
        assert len(out) == (0 if t < 4 else 1)
        done += out
    done += tr.flush()
    assert [s.index for s in done] == list(range(12))
    xs = [s["tracks"][0][1][0] if s["tracks"] else None for s in done]
    assert xs == pytest.approx([10 + 4 * t for t in range(12)])
    assert {tid for s in done for tid, _ in s["tracks"]} == {1}


def test_without_delay_a_gap_is_not_filled():
    tr = HungarianTracker(min_hits=1, max_missed=5, w_app=0)
    seen = [tr.step(_det_frame(t, [] if t == 2 else [(10 + 4 * t, 20, 20, 40, 1.0, (0, 200, 0))]))[0]["tracks"]
            for t in range(5)]
    assert [len(s) for s in seen] == [1, 1, 0, 1, 1]


def test_tracker_rejects_a_blob_without_area():
    tr = HungarianTracker()
    s = _det_frame(3, [])
    s["blobs"] = [Blob(1, 5, 5, 0, 10, 0, 5, 10)]
    with pytest.raises(ClassicsegError, match="frame 3: a blob has a non-positive width or height"):
        tr.process(s)


# -- detection: window calibration, size model, blob splitting -------------------------------
def test_shrink_windows_known_answer():
    out = shrink_windows(np.array([[100, 50, 64, 128]], float), 0.5, 0.75, 0.125)
    assert out.tolist() == [[116, 66, 32, 96]]


def test_foreground_cover_known_answer():
    fg = np.zeros((10, 10), bool)
    fg[:, :5] = True
    assert foreground_cover(fg, np.array([[0, 0, 10, 10], [0, 0, 5, 5], [-5, 0, 10, 10], [20, 20, 5, 5]])
                            ).tolist() == [0.5, 1.0, 1.0, 0.0]


def _fitted_model(n=20):
    """Height = 0.5 * bottom row + 10, plus a few wild samples the fit must trim away."""
    m = RowSizeModel(min_samples=n)
    bottoms = np.linspace(60, 200, n)
    m.add(np.c_[np.zeros(n), bottoms - (0.5 * bottoms + 10), np.full(n, 10), 0.5 * bottoms + 10])
    m.add(np.array([[0, 100, 10, 150], [0, 20, 10, 10]], float))
    return m


def test_row_size_model_known_answer():
    assert RowSizeModel(5).expected_height(100) is None
    assert RowSizeModel(5).height_ratio(np.array([[0, 0, 10, 10]])).tolist() == [1.0]
    m = _fitted_model()
    assert m.expected_height(100) == pytest.approx(60, abs=0.5)
    assert m.height_ratio(np.array([[0, 40, 10, 60], [0, 70, 10, 30]], float)) == pytest.approx([1, 0.5], abs=0.02)


def test_a_merged_blob_twice_a_person_wide_is_split_in_two():
    m = _fitted_model()  # at bottom row 160 a person is 90 px tall
    fg = np.zeros((200, 300), bool)
    fg[70:160, 100:162] = True  # 90 tall, 62 wide: two people of aspect 0.34 (31 px) side by side
    fg[150:160, 250:260] = True  # too short for a person standing there
    boxes = blob_people(fg, m, aspect=0.34)
    assert len(boxes) == 2
    assert boxes[:, 0] + boxes[:, 2] / 2 == pytest.approx([115.5, 146.5], abs=0.6)
    assert boxes[:, 3] == pytest.approx([90, 90], abs=1)
    assert boxes[:, 1] + boxes[:, 3] == pytest.approx([160, 160], abs=0.5)
    assert len(blob_people(fg, RowSizeModel(5), aspect=0.34)) == 0  # no model yet: no opinion


def test_people_detector_reports_split_blobs_with_their_score():
    st = PeopleDetector(blob_score=0.0)
    st.size = _fitted_model()
    s = Sample(0, "0", np.full((200, 300, 3), 128, np.uint8))
    s["fg"] = np.zeros((200, 300), bool)
    s["fg"][70:160, 100:162] = True
    blobs = st.process(s)["blobs"]
    assert len(blobs) == 2 and all(isinstance(b, Detection) and b.score == 0.0 for b in blobs)


def test_detect_people_bad_input():
    with pytest.raises(ClassicsegError, match="expected a uint8"):
        detect_people(np.zeros((200, 100, 3), np.float32))
    with pytest.raises(ClassicsegError, match=r"fg mask is \(10, 10\), the image \(200, 100\)"):
        detect_people(np.zeros((200, 100, 3), np.uint8), np.zeros((10, 10), bool))
    with pytest.raises(ClassicsegError, match="pad must be >= 0"):
        detect_people(np.zeros((200, 100, 3), np.uint8), pad=-1)
    with pytest.raises(ClassicsegError, match="fg must be a"):
        blob_people(np.zeros((4, 4, 3), bool), _fitted_model(), 0.34)
    assert detect_people(np.zeros((60, 40, 3), np.uint8))[0].shape == (0, 4)  # smaller than one window


def test_people_detector_config_errors():
    with pytest.raises(ConfigError, match=r"offset_y \+ shrink_h must be <= 1"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "detect.people", "offset_y": 0.3,
                                                         "shrink_h": 0.8}]})
    with pytest.raises(ConfigError, match=r"track.hungarian\): delay: input should be greater than or equal to 0"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "detect.people"},
                               {"stage": "track.hungarian", "delay": -1}]})


def test_tracking_preset_runs_end_to_end_and_flushes_its_delay():
    from classicseg.pipeline import Pipeline
    from classicseg.synth import make_scene

    pipe = Pipeline.load(preset="tracking")
    assert pipe.latency == 8
    scene = make_scene(n_frames=12, warmup=2, width=160, height=120)
    frames = [Sample(i, str(i), img) for i, (img, _) in enumerate(scene.frames())]
    out = list(pipe.stream(frames))
    assert [s.index for s in out] == list(range(12))
    assert all(isinstance(s["tracks"], list) for s in out)


def test_assignment_does_not_trade_a_good_match_for_two_dropped_ones():
    """Track 0 fits detection 1 well (0.5); detection 0 fits only track 0, and badly (1.5 > max_cost).
    Solving on the raw costs pairs 0-0 and 1-1 (1.5 + 1.3 < 0.5 + 1e6) and then drops both."""
    from classicseg.stages.track import _assign

    cost = np.array([[1.5, 0.5], [1e6, 1.3]])
    assert _assign(cost, max_cost=1.2) == [(0, 1)]


def test_filter_box_is_smoother_than_the_detections():
    """A box walking right whose detected height jitters by +-10 %: the reported (filter) height
    varies less than the detections', and box='detection' reports them as they are."""
    heights = [40 + (4 if t % 2 else -4) for t in range(12)]
    out = {}
    for mode in ("filter", "detection"):
        tr = HungarianTracker(min_hits=1, w_app=0, box=mode)
        out[mode] = [tr.process(_det_frame(t, [(10 + 3 * t, 20, 20, h, 1.0, (0, 200, 0))]))["tracks"][0][1][3]
                     for t, h in enumerate(heights)]
    assert out["detection"] == pytest.approx(heights)
    assert np.std(out["filter"][4:]) < 0.5 * np.std(heights[4:])
