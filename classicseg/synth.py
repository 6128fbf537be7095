"""Built-in synthetic surveillance scene with exact ground truth.

The scene is what ``classicseg demo`` runs on: a fixed camera looking at a
photograph of a garage (bundled with scikit-image, so nothing is downloaded),
with moving objects cut out of other bundled photographs walking across the
floor. Every pixel of every frame has an exact CDnet 2014 label, because the
frames are rendered from the labels:

====  ==========================================================
code  meaning
====  ==========================================================
0     static background
50    hard (cast) shadow of a moving object on the background
170   unknown: a pixel only partly covered by an object (its
      anti-aliased edge)
255   moving object (also where an object covers a shadow)
====  ==========================================================

What makes it harder than a toy: objects enter and leave the frame, cross
each other, follow straight and curved paths at 1-4 px/frame and one of them
slows down almost to a stop; their hard cast shadows darken the floor by a
factor 0.5-0.75; Gaussian sensor noise is added to every pixel of every
frame; and a slow global illumination drift (a smooth gain applied to the
whole frame) brightens and dims the scene by about 12%.

Examples
--------
>>> from classicseg.synth import make_scene
>>> scene = make_scene(n_frames=60, warmup=20)
>>> len(scene), scene.temporal_roi
(60, (21, 60))
>>> frame, gt = next(iter(scene.frames()))
>>> frame.shape, frame.dtype, gt.shape, gt.dtype
((240, 320, 3), dtype('uint8'), (240, 320), dtype('uint8'))
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import os
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from classicseg.errors import SourceError

__all__ = [
    "BUNDLED_IMAGES",
    "GT_MOVING",
    "GT_SHADOW",
    "GT_STATIC",
    "GT_UNKNOWN",
    "SceneConfig",
    "SyntheticScene",
    "bundled_image_path",
    "load_bundled_image",
    "make_scene",
    "object_clip",
]

#: CDnet 2014 ground-truth codes used by the scene.
GT_STATIC = 0
GT_SHADOW = 50
GT_UNKNOWN = 170
GT_MOVING = 255

#: The scikit-image data files the scene is built from. Every one of them ships
#: inside the scikit-image wheel (``skimage/data/``); none is fetched with pooch.
BUNDLED_IMAGES = {
    "background": "motorcycle_left.png",  # a garage: floor, shelves, a motorcycle
    "astronaut": "astronaut.png",  # texture of the walking person
    "horse": "horse.png",  # silhouette of the horse
    "coffee": "coffee.png",  # wood texture of the horse; the cup and saucer
    "chelsea": "chelsea.png",  # the cat
}

# Alpha below _A_LO is snapped to 0 and above _A_HI to 1, so that the labels
# are exact: 255 where alpha == 1, 170 where 0 < alpha < 1.
_A_LO = 0.02
_A_HI = 0.98
# Sprites are drawn at this many times their size, then area-averaged down.
_SUPERSAMPLE = 4
# Size of the pool of pre-generated noise; per frame a random window of it is used.
_NOISE_POOL = 4
_NOISE_PAD = 48


# --------------------------------------------------------------------------- #
# Bundled images
# --------------------------------------------------------------------------- #
def _skimage_data_dir() -> str:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError("scikit-image is not installed; the demo scene needs its bundled images")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def bundled_image_path(name: str) -> str:
    """Path of one of the images the scene is built from.

    The file is looked up in the installed scikit-image package's own ``data``
    directory only, never in pooch's download cache, and is never downloaded.

    Parameters
    ----------
    name : str
        A key of :data:`BUNDLED_IMAGES` (``"background"``, ``"astronaut"``, ...)
        or a file name in ``skimage/data`` (``"chelsea.png"``).

    Returns
    -------
    str
        Absolute path of the file.

    Raises
    ------
    SourceError
        If the file is not part of the installed scikit-image package.
    """
    fname = BUNDLED_IMAGES.get(name, name)
    path = os.path.join(_skimage_data_dir(), fname)
    if not os.path.isfile(path):
        raise SourceError(f"bundled image {fname!r} not found in the scikit-image package ({path})")
    return path


def load_bundled_image(name: str, unchanged: bool = False) -> np.ndarray:
    """Read one of the images the scene is built from, without any network access.

    Parameters
    ----------
    name : str
        A key of :data:`BUNDLED_IMAGES` or a file name in ``skimage/data``.
    unchanged : bool, optional
        Keep the alpha channel (``cv2.IMREAD_UNCHANGED``) instead of
        converting to 3-channel BGR.

    Returns
    -------
    numpy.ndarray
        ``uint8`` image, BGR channel order (BGRA if ``unchanged`` and the file
        has an alpha channel).

    Raises
    ------
    SourceError
        If the file is missing or cannot be decoded.
    """
    path = bundled_image_path(name)
    return _read_image(path, cv2.IMREAD_UNCHANGED if unchanged else cv2.IMREAD_COLOR).copy()


@functools.lru_cache(maxsize=16)
def _read_image(path, flag):
    img = cv2.imread(path, flag)
    if img is None:
        raise SourceError(f"cannot decode bundled image {path}")
    return img


# --------------------------------------------------------------------------- #
# Config
# --------------------------------------------------------------------------- #
def _check_int(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    if hi is not None and value > hi:
        raise ValueError(f"{name} must be <= {hi}, got {value}")


def _check_float(name, value, lo, hi, lo_open=False, hi_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if (value <= lo) if lo_open else (value < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value}")
    if (value >= hi) if hi_open else (value > hi):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value}")


def _check_range(name, value, lo, hi, lo_open=False, hi_open=False):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a (low, high) pair, got {value!r}")
    for v in value:
        _check_float(name, v, lo, hi, lo_open, hi_open)
    if value[0] > value[1]:
        raise ValueError(f"{name} must have low <= high, got {tuple(value)}")


@dataclass
class SceneConfig:
    """Parameters of the synthetic scene.

    Parameters
    ----------
    width, height : int
        Frame size in pixels (at least 64 x 48). Object sizes and speeds are
        given for 240 rows and scale with ``height``.
    n_frames : int
        Number of frames.
    fps : float
        Nominal frame rate, for writers and players.
    seed : int
        Seed of everything random: object paths, timing, sensor noise. The
        same config always renders the same frames.
    noise_sigma : float
        Standard deviation of the Gaussian sensor noise, in grey levels,
        drawn independently per pixel, channel and frame.
    drift : float
        Amplitude of the global illumination drift: the frame gain follows
        ``1 + drift * sin(2 pi t / drift_period)``, so 0.12 is +-12%.
        0 disables it.
    drift_period : int
        Period of the drift, in frames.
    n_objects : int
        Number of moving objects over the clip (0 gives a static scene).
    speed_range : tuple of float
        Range of object speeds, in pixels per frame at 240 rows.
    object_scale : float
        Multiplier on object sizes.
    shadows : bool
        Whether objects cast hard shadows on the background.
    shadow_factor : tuple of float
        Range of the factor by which a shadow darkens the background, drawn
        per object; each in (0, 1), smaller is darker.
    shadow_tint : float
        Colour of the shadows: the blue channel is darkened by
        ``factor * (1 + tint)`` and the red one by ``factor * (1 - tint)``,
        as for a shadow lit by the sky. Shadows that are not a pure
        darkening of the background are what defeats simple
        ratio-based shadow detectors; 0 gives grey shadows.
    warmup : int
        Number of frames at the start with no object (background-model
        training); they are outside :attr:`SyntheticScene.temporal_roi`.
    """

    width: int = 320
    height: int = 240
    n_frames: int = 300
    fps: float = 25.0
    seed: int = 0
    noise_sigma: float = 3.0
    drift: float = 0.12
    drift_period: int = 300
    n_objects: int = 5
    speed_range: tuple = (1.0, 4.0)
    object_scale: float = 1.0
    shadows: bool = True
    shadow_factor: tuple = (0.5, 0.75)
    shadow_tint: float = 0.25
    warmup: int = 40

    def __post_init__(self):
        _check_int("width", self.width, 64, 4096)
        _check_int("height", self.height, 48, 4096)
        _check_int("n_frames", self.n_frames, 2)
        _check_float("fps", self.fps, 0.0, 1000.0, lo_open=True)
        _check_int("seed", self.seed, 0)
        _check_float("noise_sigma", self.noise_sigma, 0.0, 50.0)
        _check_float("drift", self.drift, 0.0, 0.5, hi_open=True)
        _check_int("drift_period", self.drift_period, 2)
        _check_int("n_objects", self.n_objects, 0, 50)
        _check_range("speed_range", self.speed_range, 0.0, 20.0, lo_open=True)
        _check_float("object_scale", self.object_scale, 0.25, 3.0)
        if not isinstance(self.shadows, (bool, np.bool_)):
            raise ValueError(f"shadows must be True or False, got {self.shadows!r}")
        _check_range("shadow_factor", self.shadow_factor, 0.0, 1.0, lo_open=True, hi_open=True)
        _check_float("shadow_tint", self.shadow_tint, 0.0, 0.5)
        _check_int("warmup", self.warmup, 0)
        if self.warmup >= self.n_frames:
            raise ValueError(f"warmup must be < n_frames ({self.n_frames}), got {self.warmup}")
        self.speed_range = tuple(float(v) for v in self.speed_range)
        self.shadow_factor = tuple(float(v) for v in self.shadow_factor)


# --------------------------------------------------------------------------- #
# Sprites
# --------------------------------------------------------------------------- #
@dataclass
class _Pose:
    """One rendering of a sprite: straight BGR colour, alpha, shadow."""

    bgra: np.ndarray  # float32 (h+2, w+2, 4), 1-px transparent border; BGR straight, alpha
    shadow: np.ndarray | None  # bool mask of the cast shadow
    shadow_off: tuple  # (dx, dy) of the shadow mask's top-left relative to the sprite's


@dataclass
class _Sprite:
    poses: list
    stride: float  # pixels of travel per pose step (walk cycle); inf for rigid objects


def _fit_crop(img, h, w):
    """Centre-crop ``img`` to the aspect ratio ``w / h`` and resize it to (h, w)."""
    ih, iw = img.shape[:2]
    if iw * h > ih * w:
        cw = int(round(ih * w / h))
        x0 = (iw - cw) // 2
        img = img[:, x0 : x0 + cw]
    else:
        ch = int(round(iw * h / w))
        y0 = (ih - ch) // 2
        img = img[y0 : y0 + ch]
    interp = cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


def _downsample_mask(big, h, w):
    a = cv2.resize(big.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    a[a < _A_LO] = 0.0
    a[a > _A_HI] = 1.0
    return a


def _shadow_of(alpha, light):
    """Cast shadow of a sprite standing on its bottom row.

    A point ``d`` rows above the feet line lands ``sx * d`` to the side and
    ``sy * d`` above the feet line: the silhouette sheared and flattened
    onto the ground.
    """
    sx, sy = light
    h, w = alpha.shape
    yb = float(h - 2)  # last row of the sprite inside its 1-px transparent border
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64)
    tx = corners[:, 0] + sx * (yb - corners[:, 1])
    ty = yb - sy * (yb - corners[:, 1])
    ox, oy = math.floor(tx.min()), math.floor(ty.min())
    sw, sh = math.ceil(tx.max()) - ox + 1, math.ceil(ty.max()) - oy + 1
    m = np.array([[1.0, -sx, sx * yb - ox], [0.0, sy, yb * (1 - sy) - oy]], np.float32)
    src = (alpha > 0.5).astype(np.uint8) * 255
    sh_img = cv2.warpAffine(src, m, (sw, sh), flags=cv2.INTER_LINEAR, borderValue=0)
    mask = sh_img >= 128
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None, (0, 0)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return mask[y0:y1, x0:x1].copy(), (ox + int(x0), oy + int(y0))


def _make_pose(color, alpha, light):
    h, w = alpha.shape
    bgra = np.zeros((h + 2, w + 2, 4), np.float32)
    bgra[1:-1, 1:-1, :3] = color
    bgra[1:-1, 1:-1, 3] = alpha
    # Replicate colours into the transparent border so that bilinear shifts do
    # not darken the anti-aliased edge.
    bgra[0, 1:-1, :3], bgra[-1, 1:-1, :3] = color[0], color[-1]
    bgra[:, 0, :3], bgra[:, -1, :3] = bgra[:, 1, :3], bgra[:, -2, :3]
    if light is None:
        return _Pose(bgra, None, (0, 0))
    shadow, (dx, dy) = _shadow_of(bgra[..., 3], light)
    return _Pose(bgra, shadow, (dx, dy))


def _walker_masks(h, w, n_poses):
    """Hi-res person silhouettes (head, torso, arms, legs) over a walk cycle."""
    s = _SUPERSAMPLE
    H, W = h * s, w * s
    out = []
    for k in range(n_poses):
        ph = 2 * math.pi * k / n_poses
        m = np.zeros((H, W), np.uint8)
        cx = W / 2
        cv2.circle(m, (int(cx), int(0.12 * H)), int(0.085 * H), 1, -1, cv2.LINE_8)
        cv2.rectangle(m, (int(cx - 0.05 * W), int(0.18 * H)), (int(cx + 0.05 * W), int(0.26 * H)), 1, -1)
        cv2.ellipse(m, (int(cx), int(0.40 * H)), (int(0.36 * W), int(0.18 * H)), 0, 0, 360, 1, -1)
        hip_y = 0.52 * H
        for side in (-1, 1):
            ang = side * 0.32 * math.sin(ph)  # leg swing, radians
            length = 0.47 * H
            hx = cx + side * 0.12 * W
            fx = hx + length * math.sin(ang)
            fy = min(hip_y + length * math.cos(ang), H - 1)
            cv2.line(m, (int(hx), int(hip_y)), (int(fx), int(fy)), 1, max(1, int(0.2 * W)), cv2.LINE_8)
            # arms swing opposite to the legs
            sx0, sy0 = cx + side * 0.36 * W, 0.30 * H
            aa = -ang * 0.8
            ax, ay = sx0 + 0.26 * H * math.sin(aa), sy0 + 0.26 * H * math.cos(aa)
            cv2.line(m, (int(sx0), int(sy0)), (int(ax), int(ay)), 1, max(1, int(0.13 * W)), cv2.LINE_8)
        out.append(m)
    return out


def _blob_mask(h, w, rng, wobble=0.12):
    """Hi-res smooth random blob filling most of an (h, w) box."""
    s = _SUPERSAMPLE
    H, W = h * s, w * s
    t = np.linspace(0, 2 * math.pi, 180, endpoint=False)
    r = np.ones_like(t)
    for k in (2, 3, 4):
        r += wobble / k * rng.uniform(-1, 1) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    r /= r.max()
    pts = np.stack([W / 2 + 0.5 * (W - 2) * r * np.cos(t), H / 2 + 0.5 * (H - 2) * r * np.sin(t)], 1)
    m = np.zeros((H, W), np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m


def _build_sprites(kind_scale, rng, light, images):
    """Sprites of the five object kinds, at a base size of 240-row frames times ``kind_scale``."""
    sprites = {}

    def px(v):
        return max(6, int(round(v * kind_scale)))

    # 1. A walking person wearing the astronaut's face and orange suit.
    h, w = px(92), px(38)
    src = images["astronaut"][50:512, 115:295]
    color = _fit_crop(src, h, w).astype(np.float32)
    n_poses = 8
    poses = [_make_pose(color, _downsample_mask(m, h, w), light) for m in _walker_masks(h, w, n_poses)]
    sprites["astronaut"] = _Sprite(poses, stride=0.55 * h / n_poses * 2)

    # 2. A horse: the horse.png silhouette filled with the coffee table's wood.
    hz = images["horse"]
    if hz.ndim == 3 and hz.shape[2] == 4:
        sil = (hz[..., 3] > 128) & (hz[..., :3].mean(axis=2) < 128)
    else:
        sil = hz.reshape(hz.shape[0], hz.shape[1], -1).mean(axis=2) < 128
    ys, xs = np.nonzero(sil)
    sil = sil[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h = px(78)
    w = max(6, int(round(h * sil.shape[1] / sil.shape[0])))
    big = cv2.resize(sil.astype(np.uint8), (w * _SUPERSAMPLE, h * _SUPERSAMPLE), interpolation=cv2.INTER_NEAREST)
    wood = images["coffee"][0:400, 0:150]
    wood = cv2.rotate(wood, cv2.ROTATE_90_CLOCKWISE)  # grain runs along the body
    color = _fit_crop(wood, h, w).astype(np.float32) * 0.8
    sprites["horse"] = _Sprite([_make_pose(color, _downsample_mask(big, h, w), light)], stride=math.inf)

    # 3. The cat (Chelsea's head), a rounded blob.
    h, w = px(50), px(60)
    src = images["chelsea"][10:300, 100:420]
    color = _fit_crop(src, h, w).astype(np.float32)
    sprites["cat"] = _Sprite([_make_pose(color, _downsample_mask(_blob_mask(h, w, rng), h, w), light)], math.inf)

    # 4. The cup on its saucer, seen from above: a disc.
    d = px(44)
    src = images["coffee"][20:400, 150:530]
    color = _fit_crop(src, d, d).astype(np.float32)
    big = np.zeros((d * _SUPERSAMPLE, d * _SUPERSAMPLE), np.uint8)
    c = d * _SUPERSAMPLE // 2
    cv2.ellipse(big, (c, c), (c - 1, int(0.93 * (c - 1))), 0, 0, 360, 1, -1)
    sprites["coffee"] = _Sprite([_make_pose(color, _downsample_mask(big, d, d), light)], math.inf)

    # 5. A second, smaller walker in a dark coat (the astronaut's photo darkened, hue-shifted).
    h, w = px(84), px(34)
    src = images["astronaut"][50:512, 115:295]
    color = _fit_crop(src, h, w).astype(np.float32)
    color = color[..., ::-1].copy() * 0.55  # swap red and blue: a blue coat
    n_poses = 8
    poses = [_make_pose(color, _downsample_mask(m, h, w), light) for m in _walker_masks(h, w, n_poses)]
    sprites["walker"] = _Sprite(poses, stride=0.55 * h / n_poses * 2)
    return sprites


def _flip_sprite(sp, light):
    poses = []
    for p in sp.poses:
        bgra = p.bgra[:, ::-1].copy()
        poses.append(_make_pose(bgra[1:-1, 1:-1, :3], bgra[1:-1, 1:-1, 3], light))
    return _Sprite(poses, sp.stride)


# --------------------------------------------------------------------------- #
# Object tracks
# --------------------------------------------------------------------------- #
@dataclass
class _Track:
    sprite: _Sprite
    x: np.ndarray  # feet x per frame (float), NaN when not on screen
    y: np.ndarray  # feet y per frame
    pose: np.ndarray  # pose index per frame
    shadow_factor: np.ndarray  # per-channel (B, G, R) darkening factor


_KINDS = ("astronaut", "horse", "walker", "cat", "coffee")


def _plan_tracks(cfg, rng, sprites_r, sprites_l):
    W, H, N = cfg.width, cfg.height, cfg.n_frames
    unit = H / 240.0
    lo_v, hi_v = cfg.speed_range
    n = cfg.n_objects
    if n == 0:
        return []
    active_len = N - cfg.warmup
    # Entry frames spread over the first ~55% of the scored part of the clip.
    span = max(1.0, 0.55 * active_len)
    entries = cfg.warmup + (np.arange(n) + rng.uniform(0.0, 0.6, n)) * span / n
    entries = np.minimum(np.floor(entries).astype(int), N - 1)
    slow_idx = int(rng.integers(0, n))
    floor_top, floor_bot = 0.80 * H, 0.99 * H
    tracks = []
    for i in range(n):
        kind = _KINDS[i % len(_KINDS)]
        # Alternate directions so that consecutive objects cross each other.
        to_right = bool(rng.integers(0, 2)) if i == 0 else not tracks[-1][0]
        sp = sprites_r[kind] if to_right else sprites_l[kind]
        h0, w0 = sp.poses[0].bgra.shape[:2]
        # Lanes: near consecutive objects share a band, so they overlap when crossing.
        y0 = rng.uniform(floor_top, floor_bot)
        y1 = float(np.clip(y0 + rng.uniform(-0.1, 0.1) * H, floor_top, floor_bot))
        bend = rng.uniform(-0.06, 0.06) * H if i % 3 == 1 else 0.0
        x_start, x_end = (-w0 / 2 - 2, W + w0 / 2 + 2) if to_right else (W + w0 / 2 + 2, -w0 / 2 - 2)
        length = abs(x_end - x_start)
        v = rng.uniform(lo_v, hi_v) * unit
        speeds = np.full(N, v)
        if i == slow_idx:
            # Slows to a crawl in the middle of its crossing, then speeds up again.
            v = max(v, min(hi_v, 0.5 * (lo_v + hi_v)) * unit)
            t_mid = max(1.0, 0.5 * length / v)
            tt = np.arange(N, dtype=np.float64)
            dip = np.exp(-0.5 * ((tt - t_mid) / (0.35 * t_mid)) ** 2)
            speeds = v * (1.0 - 0.85 * dip)
        s = np.zeros(N)
        e = entries[i]
        s[e:] = np.concatenate([[0.0], np.cumsum(speeds[: N - e - 1])])
        u = s / length
        x = x_start + (x_end - x_start) * u
        y = y0 + (y1 - y0) * u + bend * np.sin(np.pi * np.clip(u, 0, 1))
        on = np.zeros(N, bool)
        on[e:] = u[e:] <= 1.0
        x[~on] = np.nan
        y[~on] = np.nan
        pose = np.zeros(N, int)
        if math.isfinite(sp.stride):
            pose = (np.floor(s / sp.stride).astype(int)) % len(sp.poses)
        f = float(rng.uniform(*cfg.shadow_factor))
        factor = np.clip(f * (1.0 + cfg.shadow_tint * np.array([1.0, 0.0, -1.0])), 0.02, 0.98).astype(np.float32)
        tracks.append((to_right, _Track(sp, x, y, pose, factor)))
    return [t for _, t in tracks]


# --------------------------------------------------------------------------- #
# Scene
# --------------------------------------------------------------------------- #
class SyntheticScene:
    """A rendered-on-demand synthetic video with exact CDnet ground truth.

    Build it with :func:`make_scene`. Frames are rendered when iterated, so
    the scene costs little memory; rendering the default 300 frames takes
    well under a second.

    Attributes
    ----------
    config : SceneConfig
        The parameters the scene was made from.
    temporal_roi : tuple of int
        ``(first, last)``: 1-based, inclusive numbers of the frames to score,
        as in CDnet's ``temporalROI.txt``. Starts right after the warm-up.
    """

    def __init__(self, config: SceneConfig):
        self.config = config
        cfg = config
        self.temporal_roi = (cfg.warmup + 1, cfg.n_frames)
        images = {k: load_bundled_image(k, unchanged=(k == "horse")) for k in BUNDLED_IMAGES}
        self._bg = _fit_crop(images["background"], cfg.height, cfg.width).astype(np.float32)
        rng = np.random.default_rng([cfg.seed, 0])
        # Drawn whether or not shadows are on, so that toggling them keeps the objects.
        sx = rng.uniform(0.9, 1.4) * (1 if rng.integers(0, 2) else -1)
        sy = rng.uniform(0.45, 0.7)
        light = (sx, sy) if cfg.shadows else None
        kind_scale = cfg.height / 240.0 * cfg.object_scale
        sprites_r = _build_sprites(kind_scale, rng, light, images)
        sprites_l = {k: _flip_sprite(sp, light) for k, sp in sprites_r.items()}
        self._tracks = _plan_tracks(cfg, rng, sprites_r, sprites_l)
        t = np.arange(cfg.n_frames, dtype=np.float64)
        self._gain = (1.0 + cfg.drift * np.sin(2 * np.pi * t / cfg.drift_period)).astype(np.float32)

    def __len__(self) -> int:
        return self.config.n_frames

    def __repr__(self) -> str:
        c = self.config
        return (
            f"SyntheticScene({c.width}x{c.height}, {c.n_frames} frames, "
            f"{c.n_objects} objects, seed={c.seed}, temporal_roi={self.temporal_roi})"
        )

    def background(self) -> np.ndarray:
        """The clean background: no objects, no shadows, no noise, gain 1.

        Returns
        -------
        numpy.ndarray
            ``uint8`` BGR image of shape ``(height, width, 3)``.
        """
        return np.clip(self._bg + 0.5, 0, 255).astype(np.uint8)

    def gain(self, index: int) -> float:
        """Global illumination gain of frame ``index`` (0-based).

        Parameters
        ----------
        index : int
            0-based frame index.

        Returns
        -------
        float
            The factor the whole frame is multiplied by.
        """
        return float(self._gain[index])

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Render the frames in order.

        Yields
        ------
        frame : numpy.ndarray
            ``uint8`` BGR image, shape ``(height, width, 3)``.
        gt : numpy.ndarray
            ``uint8`` label image, shape ``(height, width)``, with CDnet codes
            0, 50, 170 and 255.

        Notes
        -----
        Each call starts over and yields the same frames for the same config.
        """
        cfg = self.config
        H, W = cfg.height, cfg.width
        noise_rng = np.random.default_rng([cfg.seed, 1])
        pool = None
        if cfg.noise_sigma > 0:
            # A small pool of i.i.d. noise; each frame uses a window at a random
            # offset of a random pool entry, so that the per-pixel sequence is
            # white in time at a fraction of the cost of fresh samples.
            pool = noise_rng.standard_normal((_NOISE_POOL, H + _NOISE_PAD, W + _NOISE_PAD, 3), dtype=np.float32)
            pool *= np.float32(cfg.noise_sigma)
        for i in range(cfg.n_frames):
            yield self._render(i, pool, noise_rng)

    def _render(self, i, pool, noise_rng):
        cfg = self.config
        H, W = cfg.height, cfg.width
        g = self._gain[i]
        gt = np.zeros((H, W), np.uint8)
        canvas = self._bg * g
        active = [tr for tr in self._tracks if not math.isnan(tr.x[i])]
        active.sort(key=lambda tr: tr.y[i])  # far (higher up) objects first
        placed = []
        shade = None
        for tr in active:
            pose = tr.sprite.poses[tr.pose[i]]
            ph, pw = pose.bgra.shape[:2]
            # Top-left of the padded sprite so that its feet land on (x, y).
            tlx = tr.x[i] - (pw - 1) / 2.0
            tly = tr.y[i] - (ph - 2)
            ix, iy = math.floor(tlx), math.floor(tly)
            placed.append((pose, ix, iy, tlx - ix, tly - iy))
            if pose.shadow is None:
                continue
            sx0, sy0 = ix + pose.shadow_off[0], iy + pose.shadow_off[1]
            m = pose.shadow
            ys0, ys1 = max(sy0, 0), min(sy0 + m.shape[0], H)
            xs0, xs1 = max(sx0, 0), min(sx0 + m.shape[1], W)
            if ys0 >= ys1 or xs0 >= xs1:
                continue
            mm = m[ys0 - sy0 : ys1 - sy0, xs0 - sx0 : xs1 - sx0]
            if shade is None:
                shade = np.ones((H, W, 3), np.float32)
            # Overlapping shadows of one light source do not darken twice.
            region = shade[ys0:ys1, xs0:xs1]
            region[mm] = np.minimum(region[mm], tr.shadow_factor)
            gt[ys0:ys1, xs0:xs1][mm] = GT_SHADOW
        if shade is not None:
            canvas *= shade
        for pose, ix, iy, fx, fy in placed:
            src = pose.bgra
            ph, pw = src.shape[:2]
            if fx or fy:  # sub-pixel position: shift the sprite bilinearly
                m = np.float32([[1, 0, fx], [0, 1, fy]])
                src = cv2.warpAffine(src, m, (pw + 1, ph + 1), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                src[-1, :, 3] = 0.0
                src[:, -1, 3] = 0.0
                a = src[..., 3]
                a[a < _A_LO] = 0.0
                a[a > _A_HI] = 1.0
                ph, pw = ph + 1, pw + 1
            y0, y1 = max(iy, 0), min(iy + ph, H)
            x0, x1 = max(ix, 0), min(ix + pw, W)
            if y0 >= y1 or x0 >= x1:
                continue
            s = src[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
            a = s[..., 3:4]
            c = canvas[y0:y1, x0:x1]
            c *= 1.0 - a
            c += (g * a) * s[..., :3]
            a2 = s[..., 3]
            gr = gt[y0:y1, x0:x1]
            gr[(a2 > 0) & (gr < GT_UNKNOWN)] = GT_UNKNOWN
            gr[a2 >= 1.0] = GT_MOVING
        if pool is None:
            frame = cv2.add(canvas, 0.0, dtype=cv2.CV_8U)
        else:
            k = int(noise_rng.integers(0, _NOISE_POOL))
            dy, dx = (int(v) for v in noise_rng.integers(0, _NOISE_PAD + 1, 2))
            # add, round and saturate to uint8 in one pass
            frame = cv2.add(canvas, pool[k, dy : dy + H, dx : dx + W], dtype=cv2.CV_8U)
        return frame, gt


def make_scene(config: SceneConfig | None = None, **overrides) -> SyntheticScene:
    """Build the synthetic surveillance scene.

    Parameters
    ----------
    config : SceneConfig, optional
        Scene parameters; defaults to ``SceneConfig()``.
    **overrides
        Fields of :class:`SceneConfig` to change, e.g. ``n_frames=100``.

    Returns
    -------
    SyntheticScene
        The scene; iterate :meth:`SyntheticScene.frames` for
        ``(frame_bgr, gt)`` pairs.

    Raises
    ------
    ValueError
        If a parameter is invalid or an override is not a field.
    SourceError
        If a bundled scikit-image image is missing.
    """
    names = {f.name for f in dataclasses.fields(SceneConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise ValueError(f"unknown scene parameter(s): {', '.join(bad)}")
    if config is None:
        config = SceneConfig(**overrides)
    elif not isinstance(config, SceneConfig):
        raise ValueError(f"config must be a SceneConfig, got {type(config).__name__}")
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    return SyntheticScene(config)


def object_clip(n_frames: int = 40, seed: int = 0, min_area: float = 0.01, **overrides
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A clip of one moving object that is in view on every frame, with its exact mask.

    The data of semi-supervised video object segmentation without a download: the first
    frame's mask is given, the others are to be found. The frames are those of the
    demo scene (:func:`make_scene`) with a single object, twice the usual size; the clip
    is the first run of ``n_frames`` frames on which the object is wholly inside the image
    and covers at least ``min_area`` of it.

    Parameters
    ----------
    n_frames : int
        Length of the clip.
    seed : int
        Seed of the scene (another seed, another object and path).
    min_area : float
        Smallest share of the image the object covers on every frame of the clip.
    **overrides
        Other :class:`SceneConfig` fields (``width``, ``shadows``, ``noise_sigma`` ...).

    Returns
    -------
    frames : list of numpy.ndarray
        ``uint8`` BGR images.
    masks : list of numpy.ndarray
        ``bool`` masks of the object (its anti-aliased rim, label 170, counts as object).

    Raises
    ------
    ValueError
        No run of ``n_frames`` frames shows the object large enough (ask for fewer frames,
        a lower ``min_area`` or another seed).

    Examples
    --------
    >>> from classicseg.synth import object_clip
    >>> frames, masks = object_clip(n_frames=10)
    >>> len(frames), frames[0].shape, masks[0].dtype, bool(masks[0].any())
    (10, (240, 320, 3), dtype('bool'), True)
    """
    _check_int("n_frames", n_frames, 1, 2000)
    _check_float("min_area", min_area, 0.0, 1.0)
    cfg = {"n_objects": 1, "warmup": 0, "object_scale": 2.0, "n_frames": max(300, 4 * n_frames), "seed": seed,
           **overrides}
    scene = make_scene(**cfg)
    frames, masks, need = [], [], min_area * scene.config.width * scene.config.height
    for frame, gt in scene.frames():
        m = gt >= GT_UNKNOWN
        on_border = m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any()
        if on_border or np.count_nonzero(gt == GT_MOVING) < need:
            frames, masks = [], []
            continue
        frames.append(frame)
        masks.append(m)
        if len(frames) == n_frames:
            return frames, masks
    raise ValueError(f"the scene of seed {seed} shows no object on {n_frames} frames in a row covering "
                     f"{min_area:g} of the image; ask for fewer frames, a lower min_area or another seed")
