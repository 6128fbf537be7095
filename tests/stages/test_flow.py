import cv2
import numpy as np
import pytest

from classicseg.config import validate
from classicseg.stages.flow import DISFlow, FarnebackFlow, dis, farneback, fb_occlusion, warp
from classicseg.types import Sample


def _texture(h=64, w=80, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h // 4, w // 4), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 1.0)


def test_warp_with_zero_flow_is_identity():
    img = _texture()
    zero = np.zeros(img.shape + (2,), np.float32)
    assert np.array_equal(warp(img, zero), img)
    m = img > 128
    out = warp(m, zero)
    assert out.dtype == np.float32 and np.array_equal(out > 0.5, m)


def test_warp_known_shift():
    img = _texture()
    flow = np.zeros(img.shape + (2,), np.float32)
    flow[..., 0] = 3  # every pixel came from 3 px to its right
    out = warp(img, flow)
    assert np.array_equal(out[:, :-3], img[:, 3:])
    assert (out[:, -3:] == 0).all()


@pytest.mark.parametrize("fn", [farneback, dis])
def test_backward_flow_of_a_shift(fn):
    a = _texture(96, 128)
    b = np.roll(a, 2, axis=1)  # content moved 2 px right from a to b
    f = fn(b, a)  # backward: b -> a
    inner = f[16:-16, 16:-16]
    assert abs(np.median(inner[..., 0]) + 2) < 0.5 and abs(np.median(inner[..., 1])) < 0.5
    assert np.abs(warp(a, f)[16:-16, 16:-16].astype(int) - b[16:-16, 16:-16]).mean() < 6


def test_fb_occlusion_flags_inconsistent_pixels():
    b = np.zeros((20, 20, 2), np.float32)
    f = np.zeros_like(b)
    f[5:10, 5:10, 0] = 4  # forward says "moved", backward says "still"
    occ = fb_occlusion(b, f)
    assert occ[5:10, 5:10].all() and occ.sum() == 25
    b[:, :, 0] = -30  # leaves the frame on the left for x < 30
    assert fb_occlusion(b, np.zeros_like(b)).all()


def test_flow_stages_write_backward_flow_and_occlusion():
    a = _texture(96, 128)
    b = np.roll(a, 2, axis=1)
    for cls in (FarnebackFlow, DISFlow):
        st = cls(scale=1.0, occlusion=True)
        s0 = st.process(Sample(0, "0", cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)))
        assert not s0["flow"].any() and not s0["occlusion"].any()
        s1 = st.process(Sample(1, "1", cv2.cvtColor(b, cv2.COLOR_GRAY2BGR)))
        assert s1["flow"].shape == (96, 128, 2) and s1["flow"].dtype == np.float32
        assert abs(np.median(s1["flow"][16:-16, 16:-16, 0]) + 2) < 0.5
        assert s1["occlusion"].dtype == bool


def test_bad_input_messages():
    with pytest.raises(ValueError, match="prev is 80x64 but curr is 40x64"):
        farneback(_texture(), _texture(64, 40))
    with pytest.raises(ValueError, match=r"flow must be \(H, W, 2\)"):
        warp(_texture(), np.zeros((64, 80), np.float32))
    with pytest.raises(ValueError, match="image is 80x64 but flow is 10x10"):
        warp(_texture(), np.zeros((10, 10, 2), np.float32))


def test_config_rejects_bad_flow_params():
    from classicseg.errors import ConfigError

    with pytest.raises(ConfigError, match="scale"):
        validate({"pipeline": [{"stage": "flow.dis", "scale": 0}]}, "test")
