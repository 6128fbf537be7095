"""detect.people: where HOG looks (scan plans), the scale it chooses by itself, part suppression."""
import cv2
import numpy as np
import pytest

from classicseg.config import validate
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.stages.detect import (
    WINDOW, PeopleDetector, RowSizeModel, ScanPlan, detect_people, hog_windows, parts_of_others, perspective_plan,
    pyramid_plan,
)


def _hog():
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def _model(a=0.5, b=0.0, rows=(60, 200), n=20):
    """A fitted height-per-row model: height = a * feet row + b."""
    m = RowSizeModel(min_samples=n)
    bottoms = np.linspace(*rows, n)
    m.add(np.c_[np.zeros(n), bottoms - (a * bottoms + b), np.full(n, 10), a * bottoms + b])
    return m


def test_pyramid_plan_known_answer():
    plan = pyramid_plan((480, 640), first=128, scale=1.05, pad=0)
    assert plan.heights[0] == 128 and plan.heights[-1] <= 480 < plan.heights[-1] * 1.05
    assert np.allclose(plan.heights[1:] / plan.heights[:-1], 1.05)
    assert (plan.rows == [0, 480]).all() and (plan.side == 0).all()
    padded = pyramid_plan((480, 640), first=64, scale=1.2, pad=64)
    assert padded.heights[0] == 64 and (padded.rows == [0, 544]).all() and (padded.side == 32).all()
    auto = pyramid_plan((480, 640), first=128, scale=1.05, pad=None, below=0.12, side=0.125)
    assert auto.rows[0].tolist() == [0, 480 + 16] and auto.side[0] == 16  # ceil(0.12 * 128), 0.125 * 128


def test_hog_windows_equal_detect_multiscale():
    """The whole-frame plan from 128 px windows is OpenCV's pyramid: the same windows and scores."""
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 255, (25, 19, 3), dtype=np.uint8), (150, 200), interpolation=cv2.INTER_CUBIC)
    hog = _hog()
    rects, weights = hog.detectMultiScale(img, hitThreshold=-2.0, winStride=(8, 8), scale=1.05, groupThreshold=0)
    boxes, scores = hog_windows(img, hog, pyramid_plan(img.shape, 128, 1.05, 0), hit_threshold=-2.0)
    assert len(rects) == len(boxes) > 0
    o1, o2 = np.argsort(np.ravel(weights)), np.argsort(scores)
    assert np.allclose(np.ravel(weights)[o1], scores[o2])
    assert np.abs(np.asarray(rects, float)[o1] - boxes[o2]).max() <= 1.0  # OpenCV rounds to whole pixels


def test_perspective_plan_covers_every_expected_person_and_costs_less():
    """A person with feet on any row (height 0.5 * row) falls in a level whose window is within one
    pyramid step of theirs and whose strip holds that window; the plan costs less than the frame."""
    shape, m = (240, 320), _model()
    plan = perspective_plan(m.expected_height, shape, min_height=20, tol=0.3)
    assert plan.heights.min() >= 20 / 0.78 - 1e-9
    for feet in range(60, 241, 7):
        wh = 0.5 * feet / 0.78
        top, bottom = feet - 0.88 * wh, feet + 0.12 * wh
        near = np.abs(np.log(plan.heights / wh)) <= np.log(1.05)
        holds = (plan.rows[:, 0] <= max(top, 0) + 1) & (plan.rows[:, 1] >= bottom - 1)
        assert (near & holds).any(), feet
    whole = pyramid_plan(shape, plan.heights.min(), 1.05, None)
    assert plan.cost(shape[1]) < 0.6 * whole.cost(shape[1])


def test_perspective_plan_top_row_and_bad_model():
    m = _model()
    plan = perspective_plan(m.expected_height, (240, 320), min_height=20, tol=0.3, top_row=150)
    assert plan.heights.min() * 0.78 >= 0.5 * 150 / 1.3 - 1e-6  # nobody smaller than at row 150
    assert plan.rows[:, 0].min() >= 150 - 0.88 * plan.heights.max() - 1
    with pytest.raises(ClassicsegError, match="expected height must grow down the image"):
        perspective_plan(lambda rows: 100 - 0.1 * np.asarray(rows), (240, 320), min_height=20, tol=0.3)
    with pytest.raises(ClassicsegError, match="first must be > 0 and scale > 1"):
        pyramid_plan((240, 320), first=64, scale=1.0)
    empty = perspective_plan(m.expected_height, (240, 320), min_height=500, tol=0.3)
    assert isinstance(empty, ScanPlan) and len(empty.heights) == 0


def test_row_size_model_top_is_the_third_farthest_kept_row():
    m = _model(rows=(60, 200))
    assert m.top == pytest.approx(60 + 2 * 140 / 19)
    assert RowSizeModel(5).top is None


def test_parts_of_others_known_answer():
    boxes = np.array([[0, 0, 40, 120],      # a person
                      [5, 60, 30, 55],      # their legs: inside, and the person is a quarter taller
                      [100, 0, 40, 120],    # another person
                      [90, 10, 40, 110]])   # overlapping them, but about as tall: not a part
    assert parts_of_others(boxes, 0.7).tolist() == [False, True, False, False]


def test_people_detector_chooses_its_scales():
    """auto: every height from min_height up until the size model is fitted, then only the model's
    band (plus a coarse whole-frame scan every explore_every frames); a number: the classic pyramid."""
    st = PeopleDetector(min_height=40, explore_every=4)
    first = st.plan((240, 320, 3))
    assert first.heights[0] == pytest.approx(40 / 0.78) and (first.rows[:, 0] == 0).all()
    st.size = _model()
    st.frame = 1
    banded = st.plan((240, 320, 3))
    assert banded.heights.min() * 0.78 >= 0.5 * st.top_row() / 1.3 - 1e-6
    assert banded.cost(320) < first.cost(320)
    st.frame = 4
    assert len(st.plan((240, 320, 3)).heights) > len(banded.heights)  # the exploration scan is added
    assert PeopleDetector(upscale=2.0).plan((240, 320, 3)).heights[0] == pytest.approx(64)


def test_people_detector_drops_detections_above_the_model_rows():
    st = PeopleDetector(size_reach=0.25)
    st.size = _model(rows=(100, 200))  # feet seen from row 100 (height 50) down
    assert st.top_row() == pytest.approx(st.size.top - 0.25 * 0.5 * st.size.top)
    assert PeopleDetector(upscale=1.5).top_row() == 0.0


@pytest.mark.realdata
def test_perspective_plan_finds_small_people_the_default_scale_misses(shared_data):
    """TUD-Stadtmitte's first frame shrunk to 0.4 (people 49-98 px): HOG's 128-px window finds
    fewer of them than the band of their ground plane's model (height = 1.19 * feet row - 60)."""
    from classicseg.metrics.mot import box_iou

    seq = shared_data / "mot15" / "TUD-Stadtmitte"
    cap = cv2.VideoCapture(str(seq / "TUD-Stadtmitte.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    small = cv2.resize(frame, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",")
    gt = gt[gt[:, 0] == 1, 2:6] * 0.4
    hog = _hog()
    plain, _ = detect_people(small, hog=hog, hit_threshold=0.3)
    m = _model(a=1.19, b=-60, rows=(93, 131))
    plan = perspective_plan(m.expected_height, small.shape, min_height=40, tol=0.3)
    banded, _ = detect_people(small, hog=hog, hit_threshold=0.3, plan=plan)

    def found(boxes):
        return int((box_iou(gt, boxes).max(1) >= 0.5).sum()) if len(boxes) else 0

    assert found(banded) >= found(plain) + 2, (found(banded), found(plain), len(gt))


def test_detect_people_bad_input():
    with pytest.raises(ClassicsegError, match="upscale must be > 0"):
        detect_people(np.zeros((200, 100, 3), np.uint8), upscale=0)


def test_people_params_errors():
    with pytest.raises(ConfigError, match="upscale: input should be less than or equal to 3, got 5"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "detect.people", "upscale": 5}]})
    with pytest.raises(ConfigError, match="pad: input should be greater than or equal to 0, got -1"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "detect.people", "pad": -1}]})
    with pytest.raises(ConfigError, match="min_height: input should be greater than or equal to 16"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "detect.people", "min_height": 4}]})
    assert WINDOW == (64, 128)
