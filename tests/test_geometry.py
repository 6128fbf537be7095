"""Boxes: IoU, work boxes and the conventions users combine us with."""
import numpy as np
import pytest

from classicseg.geometry import box_iou, clip_xywh, roi_box, to_detections, tracks_to_arrays, xywh_to_xyxy, xyxy_to_xywh
from classicseg.types import Blob, Sample


def test_box_iou_known_answers():
    a = [[0, 0, 10, 10]]
    b = [[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10], [0, 0, 0, 0]]
    assert box_iou(a, b).tolist() == [[pytest.approx(50 / 150), 0.0, 1.0, 0.0]]
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_roi_box_grows_and_clips():
    m = np.zeros((50, 50), bool)
    m[20:30, 10:20] = True
    assert roi_box(m, 0.5, 2) == (15, 35, 5, 25)
    assert roi_box(m, 0.0, 30) == (0, 50, 0, 50)
    assert roi_box(np.zeros((5, 5), bool)) is None


def test_xyxy_round_trip_and_clip():
    xywh = np.array([[1.5, 2, 10, 4], [0, 0, 0, 0]])
    assert np.array_equal(xyxy_to_xywh(xywh_to_xyxy(xywh)), xywh)
    assert xywh_to_xyxy([1, 2, 3, 4]).tolist() == [[1, 2, 4, 6]]
    with pytest.raises(ValueError, match="x1 >= x0"):
        xyxy_to_xywh([[5, 5, 1, 1]])
    assert clip_xywh([[-5, 10, 20, 100]], (48, 64)).tolist() == [[0, 10, 15, 38]]


class _Detections:
    """The constructor of supervision.Detections (supervision itself is not installed here)."""

    def __init__(self, xyxy, tracker_id=None):
        self.xyxy, self.tracker_id = xyxy, tracker_id


def test_tracks_as_arrays_and_detections(monkeypatch):
    ids, xyxy = tracks_to_arrays([(3, (1, 2, 3, 4)), (7, (0, 0, 5, 5))])
    assert ids.tolist() == [3, 7] and xyxy.tolist() == [[1, 2, 4, 6], [0, 0, 5, 5]]
    ids, xyxy = tracks_to_arrays([])
    assert ids.shape == (0,) and xyxy.shape == (0, 4)
    import types

    try:
        import supervision as sv  # the real one where it is installed
    except ImportError:
        sv = types.SimpleNamespace(Detections=_Detections)
        monkeypatch.setitem(__import__("sys").modules, "supervision", sv)
    s = Sample(0, "f", np.zeros((8, 8, 3), np.uint8), {"tracks": [(3, (1, 2, 3, 4))]})
    det = to_detections(s)
    assert isinstance(det, sv.Detections) and det.tracker_id.tolist() == [3]
    s = Sample(0, "f", np.zeros((8, 8, 3), np.uint8), {"blobs": [Blob(1, 1, 2, 3, 4, 12, 2.5, 4.0)]})
    assert to_detections(s).xyxy.tolist() == [[1, 2, 4, 6]]
