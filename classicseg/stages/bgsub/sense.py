"""Sample-consensus background model with colour + LBSP texture and pixel-level feedback.

``bgsub.sense`` is a fast, single-threaded reimplementation of the ideas of ViBe,
LOBSTER and SuBSENSE:

* every pixel keeps ``n_samples`` past observations (colour and a 16-bit LBSP texture
  descriptor of the luminance); a pixel is background when at least ``min_matches``
  samples lie within the colour *and* texture thresholds (sample consensus, ViBe);
* the model is initialised from the first frame's 5x5 neighbourhood (ViBe), so it
  segments from the second frame on;
* background pixels replace a random sample of their own model, and of a random
  neighbour's, with probability ``1/T(x)`` (conservative random update with spatial
  diffusion, ViBe);
* the thresholds ``R(x)`` and update periods ``T(x)`` follow the moving average
  ``D_min(x)`` of the minimal normalised distance to the model and a blinking-pixel
  accumulator ``v(x)`` (SuBSENSE's feedback loop), so dynamic regions (water, leaves)
  get wide thresholds and static ones tight thresholds;
* cast shadows: a raw-foreground pixel that enough background samples see as a darker,
  same-texture copy of themselves, colour unchanged or sky-tinted (:func:`_shadow_test`),
  and whose 9x9 neighbourhood agrees, goes to the ``shadow`` mask instead of ``fg``
  (colour videos only: on grey frames the test would be a brightness test alone and take
  dark objects for shadows); shadow pixels still count as foreground for the model's own
  statistics and are never learned into it;
* the raw mask (less its shadows) is closed, its holes are filled and it is
  median-filtered; that mask is the one fed back into ``T(x)`` and ``v(x)`` at the next
  frame (as in SuBSENSE).

The per-pixel loop is a numba kernel (``@njit(cache=True)``, no ``parallel``: one thread);
:func:`sense_step_numpy` is a slow plain-numpy/python twin of it used to test parity.
Random numbers come from a per-model xorshift32 state seeded by ``seed``: results are
deterministic.

References
----------
O. Barnich, M. Van Droogenbroeck, "ViBe: A universal background subtraction algorithm
for video sequences", IEEE TIP 20(6), 2011.

G.-A. Bilodeau, J.-P. Jodoin, N. Saunier, "Change detection in feature space using local
binary similarity patterns", CRV 2013.

P.-L. St-Charles, G.-A. Bilodeau, "Improving background subtraction using local binary
similarity patterns", WACV 2014 (LOBSTER).

P.-L. St-Charles, G.-A. Bilodeau, R. Bergevin, "SuBSENSE: A universal change detection
method with local adaptive sensitivity", IEEE TIP 24(1), 2015.

T. Horprasert, D. Harwood, L. S. Davis, "A statistical approach for real-time robust
background subtraction and shadow detection", ICCV Frame-Rate Workshop, 1999.

S. Nadimi, B. Bhanu, "Physical models for moving shadow and object detection in video",
IEEE TPAMI 26(8), 2004.
"""
from __future__ import annotations

import cv2
import numpy as np
from classicseg.kernels import HAVE_NUMBA, njit
from pydantic import Field, field_validator, model_validator

from classicseg.stages.bgsub.base import SWITCH_FIELD, illumination_switch
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Sample

# 16-point LBSP pattern in a 5x5 window: the 8 neighbours at distance 1 and at distance 2
# (Bilodeau et al. 2013 use this "double cross + diagonals" layout).
LBSP_DY = np.array([-1, -1, -1, 0, 0, 1, 1, 1, -2, -2, -2, 0, 0, 2, 2, 2], np.int64)
LBSP_DX = np.array([-1, 0, 1, -1, 1, -1, 0, 1, -2, 0, 2, -2, 2, -2, 0, 2], np.int64)

# SuBSENSE feedback constants (St-Charles et al. 2015, section III-C)
_V_INCR = 1.0
_V_DECR = 0.1
_T_INCR = 0.5
_T_DECR = 0.25
_R_VAR = 0.01
_UNSTABLE = 0.1
_UNSTABLE_R = 3.0
N_STATE = 10


# --------------------------------------------------------------------------- numba kernels
@njit(cache=True, inline="always")
def _xorshift(state):
    x = state[0]
    x ^= (x << np.uint32(13)) & np.uint32(0xFFFFFFFF)
    x ^= x >> np.uint32(17)
    x ^= (x << np.uint32(5)) & np.uint32(0xFFFFFFFF)
    state[0] = x
    return x


@njit(cache=True)
def lbsp_numba(gray, rel, abs_):
    """16-bit intra-LBSP of every pixel of ``gray`` (uint8, H x W); borders replicated.

    Bit ``k`` is set when neighbour ``k`` of the 5x5 pattern differs from the centre by
    more than ``max(abs_, rel * centre)`` grey levels (Bilodeau et al. 2013).
    """
    h, w = gray.shape
    pad = np.empty((h + 4, w + 4), np.int32)
    for y in range(h + 4):
        yy = min(max(y - 2, 0), h - 1)
        for x in range(w + 4):
            pad[y, x] = gray[yy, min(max(x - 2, 0), w - 1)]
    out = np.empty((h, w), np.uint16)
    for y in range(h):
        r0 = pad[y]
        r1 = pad[y + 1]
        r2 = pad[y + 2]
        r3 = pad[y + 3]
        r4 = pad[y + 4]
        for x in range(w):
            c = r2[x + 2]
            thr = np.int32(rel * c)
            if thr < abs_:
                thr = np.int32(abs_)
            code = ((np.int32(abs(r1[x + 1] - c) > thr) << 0)
                    | (np.int32(abs(r1[x + 2] - c) > thr) << 1)
                    | (np.int32(abs(r1[x + 3] - c) > thr) << 2)
                    | (np.int32(abs(r2[x + 1] - c) > thr) << 3)
                    | (np.int32(abs(r2[x + 3] - c) > thr) << 4)
                    | (np.int32(abs(r3[x + 1] - c) > thr) << 5)
                    | (np.int32(abs(r3[x + 2] - c) > thr) << 6)
                    | (np.int32(abs(r3[x + 3] - c) > thr) << 7)
                    | (np.int32(abs(r0[x + 0] - c) > thr) << 8)
                    | (np.int32(abs(r0[x + 2] - c) > thr) << 9)
                    | (np.int32(abs(r0[x + 4] - c) > thr) << 10)
                    | (np.int32(abs(r2[x + 0] - c) > thr) << 11)
                    | (np.int32(abs(r2[x + 4] - c) > thr) << 12)
                    | (np.int32(abs(r4[x + 0] - c) > thr) << 13)
                    | (np.int32(abs(r4[x + 2] - c) > thr) << 14)
                    | (np.int32(abs(r4[x + 4] - c) > thr) << 15))
            out[y, x] = code
    return out


@njit(cache=True, inline="always")
def _popcount16(v):
    v = v - ((v >> 1) & 0x5555)
    v = (v & 0x3333) + ((v >> 2) & 0x3333)
    v = (v + (v >> 4)) & 0x0F0F
    return (v + (v >> 8)) & 0x1F


@njit(cache=True)
def sense_init_numba(img, desc, samples_c, samples_d, rng):
    """Fill every pixel's samples from random pixels of its 5x5 neighbourhood (sample 0 = itself)."""
    h, w = desc.shape
    n = samples_d.shape[2]
    for y in range(h):
        for x in range(w):
            for k in range(n):
                if k == 0:
                    yy = y
                    xx = x
                else:
                    r = _xorshift(rng)
                    yy = y + np.int64(r % np.uint32(5)) - 2
                    xx = x + np.int64((r >> np.uint32(8)) % np.uint32(5)) - 2
                    if yy < 0:
                        yy = 0
                    elif yy >= h:
                        yy = h - 1
                    if xx < 0:
                        xx = 0
                    elif xx >= w:
                        xx = w - 1
                samples_c[y, x, k, 0] = img[yy, xx, 0]
                samples_c[y, x, k, 1] = img[yy, xx, 1]
                samples_c[y, x, k, 2] = img[yy, xx, 2]
                samples_d[y, x, k] = desc[yy, xx]


@njit(cache=True, inline="always")
def _clamp(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


@njit(cache=True, inline="always")
def _shadow_test(b, g, r, dsc, sc, sd, dthr, lo, hi, chroma, tint, noise, min_matches, consensus):
    """1 when at least ``min_matches`` (``shadow_matches``) background samples see pixel (b, g, r) as their cast shadow.

    A sample ``c`` (BGR) sees the pixel ``p`` as a shadow when:

    * ``p`` is a darkened, possibly sky-tinted copy of ``c``: the model
      ``m = c * (1 + t, 1, 1 - t)`` with ``t`` in ``[0, tint]`` (blue kept, red lost: the
      shadow is lit by the sky, Nadimi & Bhanu 2004) is fitted by least squares, and the
      brightness distortion ``a = p.m / m.m`` lies in ``[lo, hi]`` (Horprasert et al. 1999;
      ``tint = 0`` is their colour model);
    * the chromaticity distortion ``|p - a m|`` (L2, grey levels) is at most
      ``chroma * a |m| + noise``;
    * the texture is seen through the shadow: the sample has one LBSP bit set at least and
      the pixel's descriptor is within ``dthr`` bits of it (a darker patch on a textureless
      surface is as likely a dark object: it stays foreground).
    """
    n = sd.shape[0]
    fb = np.float64(b)
    fg_ = np.float64(g)
    fr = np.float64(r)
    pp = fb * fb + fg_ * fg_ + fr * fr
    hits = 0
    seen = 0
    for k in range(n):
        sdk = np.int32(sd[k])
        if sdk == 0 or _popcount16(dsc ^ sdk) > dthr:
            continue
        seen += 1
        cb = np.float64(sc[k, 0])
        cg = np.float64(sc[k, 1])
        cr = np.float64(sc[k, 2])
        cc = cb * cb + cg * cg + cr * cr
        if cc < 300.0:  # |c| < ~17 grey levels: too dark to hold a visible shadow
            continue
        t = 0.0
        if tint > 0.0:
            # least squares of p on the basis {c, (cb, 0, -cr)}: p ~ u c + v q, t = v / u
            cq = cb * cb - cr * cr
            qq = cb * cb + cr * cr
            pc = fb * cb + fg_ * cg + fr * cr
            pq = fb * cb - fr * cr
            det = cc * qq - cq * cq
            if det > 1e-6:
                u0 = (pc * qq - pq * cq) / det
                if u0 > 1e-6:
                    t = ((cc * pq - cq * pc) / det) / u0
                    if t < 0.0:
                        t = 0.0
                    elif t > tint:
                        t = tint
        mb = cb + t * cb
        mr = cr - t * cr
        mm = mb * mb + cg * cg + mr * mr
        pm = fb * mb + fg_ * cg + fr * mr
        a = pm / mm
        if a < lo or a > hi:
            continue
        d2 = pp - pm * a
        if d2 < 0.0:
            d2 = 0.0
        lim = chroma * a * np.sqrt(mm) + noise
        if d2 > lim * lim:
            continue
        hits += 1
    return 1 if hits >= min_matches and hits >= consensus * seen else 0


@njit(cache=True, error_model="numpy")
def sense_step_numba(img, desc, last_img, last_desc, samples_c, samples_d, state, last_fg, blink, rng,
                     alpha_lt, alpha_st, color_threshold, desc_offset, min_matches, t_lower, t_upper,
                     ghost_absorb, shadow_lo, shadow_hi, shadow_chroma, shadow_tint, shadow_matches, shadow_consensus,
                     raw, shadow):
    """One frame of the model: classify every pixel into ``raw`` and update the state in place.

    Parameters
    ----------
    img, last_img : uint8 (H, W, 3)
        Current and previous frame.
    desc, last_desc : uint16 (H, W)
        Their LBSP descriptors (:func:`lbsp_numba`).
    samples_c : uint8 (H, W, N, 3), samples_d : uint16 (H, W, N)
        The sample model (updated in place).
    state : float32 (H, W, N_STATE)
        Per-pixel R, T, v, D_min long-term, D_min short-term, mean raw segmentation
        long/short-term, mean distance to the previous frame, mean final segmentation
        long/short-term.
    last_fg, blink : uint8 (H, W)
        Post-processed mask of the previous frame and blinking-pixel mask (0/1).
    rng : uint32 (1,)
        xorshift32 state.
    shadow_lo, shadow_hi, shadow_chroma, shadow_tint : float, shadow_matches : int
        Shadow test (:func:`_shadow_test`); ``shadow_hi <= shadow_lo`` turns it off.
    raw : uint8 (H, W)
        Output: raw segmentation (0/1).
    shadow : uint8 (H, W)
        Output: 1 where a raw-foreground pixel is a cast shadow on the background model.
    """
    h, w = desc.shape
    n = samples_d.shape[2]
    cmax = 3.0 * 255.0
    a_lt = np.float64(alpha_lt)
    a_st = np.float64(alpha_st)
    c_thr = np.float64(color_threshold)
    t_lo = np.float64(t_lower)
    t_hi = np.float64(t_upper)
    for y in range(h):
        for x in range(w):
            b = np.int32(img[y, x, 0])
            g = np.int32(img[y, x, 1])
            r = np.int32(img[y, x, 2])
            dsc = np.int32(desc[y, x])
            R = np.float64(state[y, x, 0])
            T = np.float64(state[y, x, 1])
            v = np.float64(state[y, x, 2])
            dl = np.float64(state[y, x, 3])
            ds = np.float64(state[y, x, 4])
            lf = np.float64(last_fg[y, x])
            # final (post-processed) segmentation averages, one frame late, and the
            # unstable-region test of SuBSENSE: large R, or raw noisier than final
            fl = np.float64(state[y, x, 8]) * (1.0 - a_lt) + lf * a_lt
            fs = np.float64(state[y, x, 9]) * (1.0 - a_st) + lf * a_st
            state[y, x, 8] = fl
            state[y, x, 9] = fs
            unstable = (R > _UNSTABLE_R or np.float64(state[y, x, 5]) - fl > _UNSTABLE
                        or np.float64(state[y, x, 6]) - fs > _UNSTABLE)
            ch_thr = c_thr * R
            if not unstable:
                ch_thr -= 5.0
            tot_thr = np.int32(3.0 * ch_thr)
            sc_thr = tot_thr // 2
            dthr = (1 << np.int32(np.floor(R + 0.5))) + desc_offset
            if unstable:
                dthr += 2
            matches = 0
            min_c = 765
            min_d = 16
            for k in range(n):
                db = abs(b - np.int32(samples_c[y, x, k, 0]))
                if db > sc_thr:
                    continue
                dg = abs(g - np.int32(samples_c[y, x, k, 1]))
                if dg > sc_thr:
                    continue
                dr = abs(r - np.int32(samples_c[y, x, k, 2]))
                if dr > sc_thr:
                    continue
                dc = db + dg + dr
                if dc > tot_thr:
                    continue
                dd = _popcount16(dsc ^ np.int32(samples_d[y, x, k]))
                if dd > dthr:
                    continue
                if dc < min_c:
                    min_c = dc
                if dd < min_d:
                    min_d = dd
                matches += 1
                if matches >= min_matches:
                    break
            nd = 0.5 * (min_c / cmax + min_d / 16.0)
            # distance to the previous frame (ghost test)
            dlast = 0.5 * ((abs(b - np.int32(last_img[y, x, 0])) + abs(g - np.int32(last_img[y, x, 1]))
                            + abs(r - np.int32(last_img[y, x, 2]))) / cmax
                           + _popcount16(dsc ^ np.int32(last_desc[y, x])) / 16.0)
            state[y, x, 7] = np.float64(state[y, x, 7]) * (1.0 - a_st) + dlast * a_st
            fg = matches < min_matches
            shadow[y, x] = 0
            if fg:
                nd += (min_matches - matches) / min_matches
                if nd > 1.0:
                    nd = 1.0
                raw[y, x] = 1
                if shadow_hi > shadow_lo:
                    shadow[y, x] = _shadow_test(b, g, r, dsc, samples_c[y, x], samples_d[y, x], dthr,
                                                shadow_lo, shadow_hi, shadow_chroma, shadow_tint, 0.5 * c_thr,
                                                shadow_matches, shadow_consensus)
                state[y, x, 5] = np.float64(state[y, x, 5]) * (1.0 - a_lt) + a_lt
                state[y, x, 6] = np.float64(state[y, x, 6]) * (1.0 - a_st) + a_st
            else:
                raw[y, x] = 0
                state[y, x, 5] = np.float64(state[y, x, 5]) * (1.0 - a_lt)
                state[y, x, 6] = np.float64(state[y, x, 6]) * (1.0 - a_st)
            dl = dl * (1.0 - a_lt) + nd * a_lt
            ds = ds * (1.0 - a_st) + nd * a_st
            state[y, x, 3] = dl
            state[y, x, 4] = ds
            if not fg:
                # conservative random update of the own model with probability 1/T ...
                # (probabilities and indices by multiply-shift: no integer division)
                p_own = np.uint32(4294967295.0 / np.ceil(T))
                if _xorshift(rng) < p_own:
                    k = np.int64((np.uint64(_xorshift(rng)) * np.uint64(n)) >> np.uint64(32))
                    samples_c[y, x, k, 0] = img[y, x, 0]
                    samples_c[y, x, k, 1] = img[y, x, 1]
                    samples_c[y, x, k, 2] = img[y, x, 2]
                    samples_d[y, x, k] = desc[y, x]
                # ... and of a random neighbour's (3x3 when stable, 5x5 at rate 2/T when not)
                q = _xorshift(rng)
                if unstable:
                    yy = y + np.int64(q & np.uint32(0xFF)) * 5 // 256 - 2
                    xx = x + np.int64((q >> np.uint32(8)) & np.uint32(0xFF)) * 5 // 256 - 2
                    p_nb = np.uint32(4294967295.0 / (np.floor(np.ceil(T) / 2.0) + 1.0))
                else:
                    yy = y + np.int64(q & np.uint32(0xFF)) * 3 // 256 - 1
                    xx = x + np.int64((q >> np.uint32(8)) & np.uint32(0xFF)) * 3 // 256 - 1
                    p_nb = p_own
                yy = _clamp(yy, 0, h - 1)
                xx = _clamp(xx, 0, w - 1)
                q2 = _xorshift(rng)
                # ghost absorption: a neighbour that has been foreground for a long time while
                # its colour does not change is absorbed from its background border
                ghost = ghost_absorb and state[yy, xx, 6] > 0.995 and state[yy, xx, 7] < 0.01
                if q2 < p_nb or (ghost and q2 < np.uint32(4294967295.0 / t_lo)):
                    k = np.int64((np.uint64(_xorshift(rng)) * np.uint64(n)) >> np.uint64(32))
                    samples_c[yy, xx, k, 0] = img[y, x, 0]
                    samples_c[yy, xx, k, 1] = img[y, x, 1]
                    samples_c[yy, xx, k, 2] = img[y, x, 2]
                    samples_d[yy, xx, k] = desc[y, x]
            # -- feedback (SuBSENSE eqs. 5-8)
            dmin = dl if dl < ds else ds
            dmax = dl if dl > ds else ds
            if dmax < 1e-4:
                dmax = 1e-4
            if lf > 0.0 or (dmin < _UNSTABLE and fg):
                T += _T_INCR / (dmax * v)
            else:
                T -= _T_DECR * v / dmax
            state[y, x, 1] = _clamp(T, t_lo, t_hi)
            if dmax > _UNSTABLE and blink[y, x]:
                v += _V_INCR
            elif v > _V_DECR:
                v -= _V_DECR / 4.0 if lf > 0.0 else (_V_DECR / 2.0 if unstable else _V_DECR)
                if v < _V_DECR:
                    v = _V_DECR
            state[y, x, 2] = v
            tgt = 1.0 + 2.0 * dmin
            if R < tgt * tgt:
                R += _R_VAR * (v - _V_DECR)
            else:
                R -= _R_VAR / v
                if R < 1.0:
                    R = 1.0
            state[y, x, 0] = R


# --------------------------------------------------------------------------- numpy twins
# Slow plain-numpy/Python versions of the three kernels, written independently of numba,
# consuming the random numbers in the same order; tests check that both give the same
# masks and states on a small clip.
def lbsp_numpy(gray, rel, abs_):
    """Plain-numpy twin of :func:`lbsp_numba`."""
    g = np.pad(gray.astype(np.int32), 2, mode="edge")
    h, w = gray.shape
    c = g[2:2 + h, 2:2 + w]
    thr = np.maximum((np.float32(rel) * c.astype(np.float32)).astype(np.int32), np.int32(abs_))
    out = np.zeros((h, w), np.int32)
    for k in range(16):
        nb = g[2 + LBSP_DY[k]:2 + LBSP_DY[k] + h, 2 + LBSP_DX[k]:2 + LBSP_DX[k] + w]
        out |= (np.abs(nb - c) > thr).astype(np.int32) << k
    return out.astype(np.uint16)


def _xorshift_py(rng):
    x = int(rng[0])
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    rng[0] = x
    return x


def sense_init_numpy(img, desc, samples_c, samples_d, rng):
    """Plain twin of :func:`sense_init_numba`."""
    h, w = desc.shape
    for y in range(h):
        for x in range(w):
            for k in range(samples_d.shape[2]):
                if k == 0:
                    yy, xx = y, x
                else:
                    r = _xorshift_py(rng)
                    yy = min(max(y + r % 5 - 2, 0), h - 1)
                    xx = min(max(x + (r >> 8) % 5 - 2, 0), w - 1)
                samples_c[y, x, k] = img[yy, xx]
                samples_d[y, x, k] = desc[yy, xx]


def _shadow_test_numpy(cur, dsc, sc, sd, dthr, lo, hi, chroma, tint, noise, min_matches, consensus):
    """Plain twin of :func:`_shadow_test` (vectorised over the samples)."""
    fb, fg, fr = (float(v) for v in cur)
    pp = fb * fb + fg * fg + fr * fr
    c = sc.astype(np.float64)
    cb, cg, cr = c[:, 0], c[:, 1], c[:, 2]
    cc = cb * cb + cg * cg + cr * cr
    t = np.zeros(len(sd))
    if tint > 0.0:
        cq = cb * cb - cr * cr
        qq = cb * cb + cr * cr
        pc = fb * cb + fg * cg + fr * cr
        pq = fb * cb - fr * cr
        det = cc * qq - cq * cq
        with np.errstate(divide="ignore", invalid="ignore"):
            u0 = (pc * qq - pq * cq) / det
            tt = ((cc * pq - cq * pc) / det) / u0
        ok_fit = (det > 1e-6) & (u0 > 1e-6)
        t = np.where(ok_fit, np.clip(np.nan_to_num(tt), 0.0, float(tint)), 0.0)
    mb = cb + t * cb
    mr = cr - t * cr
    mm = mb * mb + cg * cg + mr * mr
    pm = fb * mb + fg * cg + fr * mr
    with np.errstate(divide="ignore", invalid="ignore"):
        a = pm / mm
    d2 = np.maximum(pp - pm * a, 0.0)
    lim = float(chroma) * a * np.sqrt(mm) + noise
    dd = np.array([bin(dsc ^ int(d)).count("1") for d in sd])
    tex = (sd != 0) & (dd <= dthr)
    hits = int((tex & (cc >= 300.0) & (a >= float(lo)) & (a <= float(hi)) & (d2 <= lim * lim)).sum())
    return 1 if hits >= min_matches and hits >= float(consensus) * int(tex.sum()) else 0


def sense_step_numpy(img, desc, last_img, last_desc, samples_c, samples_d, state, last_fg, blink, rng,
                     alpha_lt, alpha_st, color_threshold, desc_offset, min_matches, t_lower, t_upper,
                     ghost_absorb, shadow_lo, shadow_hi, shadow_chroma, shadow_tint, shadow_matches, shadow_consensus,
                     raw, shadow):
    """Plain twin of :func:`sense_step_numba` (same arguments, same results; slow)."""
    h, w = desc.shape
    n = samples_d.shape[2]
    cmax = 765.0
    a_lt, a_st, c_thr = float(alpha_lt), float(alpha_st), float(color_threshold)
    t_lo, t_hi = float(t_lower), float(t_upper)
    px = img.astype(np.int64)
    lpx = last_img.astype(np.int64)
    for y in range(h):
        for x in range(w):
            cur = px[y, x]
            dsc = int(desc[y, x])
            R, T, v, dl, ds = (float(state[y, x, i]) for i in range(5))
            lf = float(last_fg[y, x])
            fl = float(state[y, x, 8]) * (1.0 - a_lt) + lf * a_lt
            fs = float(state[y, x, 9]) * (1.0 - a_st) + lf * a_st
            state[y, x, 8], state[y, x, 9] = fl, fs
            unstable = R > _UNSTABLE_R or float(state[y, x, 5]) - fl > _UNSTABLE or float(state[y, x, 6]) - fs > _UNSTABLE
            ch_thr = c_thr * R - (0.0 if unstable else 5.0)
            tot_thr = int(3.0 * ch_thr)
            sc_thr = tot_thr // 2
            dthr = (1 << int(np.floor(R + 0.5))) + desc_offset + (2 if unstable else 0)
            # distances to every sample, then the first min_matches that pass all tests
            dch = np.abs(samples_c[y, x].astype(np.int64) - cur)
            dd_all = np.array([bin(dsc ^ int(d)).count("1") for d in samples_d[y, x]])
            ok = (dch.max(axis=1) <= sc_thr) & (dch.sum(axis=1) <= tot_thr) & (dd_all <= dthr)
            good = np.flatnonzero(ok)[:min_matches]
            matches = len(good)
            min_c = int(dch.sum(axis=1)[good].min()) if matches else 765
            min_d = int(dd_all[good].min()) if matches else 16
            nd = 0.5 * (min_c / cmax + min_d / 16.0)
            dlast = 0.5 * (int(np.abs(cur - lpx[y, x]).sum()) / cmax
                           + bin(dsc ^ int(last_desc[y, x])).count("1") / 16.0)
            state[y, x, 7] = float(state[y, x, 7]) * (1.0 - a_st) + dlast * a_st
            fg = matches < min_matches
            shadow[y, x] = 0
            if fg:
                nd = min(nd + (min_matches - matches) / min_matches, 1.0)
                raw[y, x] = 1
                if shadow_hi > shadow_lo:
                    shadow[y, x] = _shadow_test_numpy(cur, dsc, samples_c[y, x], samples_d[y, x], dthr, shadow_lo,
                                                      shadow_hi, shadow_chroma, shadow_tint, 0.5 * c_thr, shadow_matches,
                                                      shadow_consensus)
                state[y, x, 5] = float(state[y, x, 5]) * (1.0 - a_lt) + a_lt
                state[y, x, 6] = float(state[y, x, 6]) * (1.0 - a_st) + a_st
            else:
                raw[y, x] = 0
                state[y, x, 5] = float(state[y, x, 5]) * (1.0 - a_lt)
                state[y, x, 6] = float(state[y, x, 6]) * (1.0 - a_st)
            dl = dl * (1.0 - a_lt) + nd * a_lt
            ds = ds * (1.0 - a_st) + nd * a_st
            state[y, x, 3], state[y, x, 4] = dl, ds
            if not fg:
                p_own = int(4294967295.0 / np.ceil(T))
                if _xorshift_py(rng) < p_own:
                    k = (_xorshift_py(rng) * n) >> 32
                    samples_c[y, x, k] = img[y, x]
                    samples_d[y, x, k] = desc[y, x]
                q = _xorshift_py(rng)
                span = 5 if unstable else 3
                yy = min(max(y + (q & 0xFF) * span // 256 - span // 2, 0), h - 1)
                xx = min(max(x + ((q >> 8) & 0xFF) * span // 256 - span // 2, 0), w - 1)
                p_nb = int(4294967295.0 / (np.floor(np.ceil(T) / 2.0) + 1.0)) if unstable else p_own
                q2 = _xorshift_py(rng)
                ghost = ghost_absorb and float(state[yy, xx, 6]) > 0.995 and float(state[yy, xx, 7]) < 0.01
                if q2 < p_nb or (ghost and q2 < int(4294967295.0 / t_lo)):
                    k = (_xorshift_py(rng) * n) >> 32
                    samples_c[yy, xx, k] = img[y, x]
                    samples_d[yy, xx, k] = desc[y, x]
            dmin, dmax = min(dl, ds), max(max(dl, ds), 1e-4)
            if lf > 0.0 or (dmin < _UNSTABLE and fg):
                T += _T_INCR / (dmax * v)
            else:
                T -= _T_DECR * v / dmax
            state[y, x, 1] = min(max(T, t_lo), t_hi)
            if dmax > _UNSTABLE and blink[y, x]:
                v += _V_INCR
            elif v > _V_DECR:
                v = max(v - (_V_DECR / 4.0 if lf > 0.0 else (_V_DECR / 2.0 if unstable else _V_DECR)), _V_DECR)
            state[y, x, 2] = v
            if R < (1.0 + 2.0 * dmin) ** 2:
                R += _R_VAR * (v - _V_DECR)
            else:
                R = max(R - _R_VAR / v, 1.0)
            state[y, x, 0] = R


_KERNELS = {
    "numba": (lbsp_numba, sense_init_numba, sense_step_numba),
    "numpy": (lbsp_numpy, sense_init_numpy, sense_step_numpy),
}


# --------------------------------------------------------------------------- driver
def _fill_holes_u8(mask: np.ndarray) -> np.ndarray:
    """Holes of a 0/1 mask (background not connected to the border), as 0/1."""
    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = mask
    ff_mask = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(pad, ff_mask, (0, 0), 1)
    return (1 - pad[1:-1, 1:-1]).astype(np.uint8)


class SenseModel:
    """State of the model for one sequence; :meth:`apply` segments one frame."""

    def __init__(self, backend: str = "numba", **params) -> None:
        self.p = SenseParams(**params).model_dump()
        self.lbsp, self.init, self.step = _KERNELS[backend]
        self.t = 0

    def _init(self, img, desc):
        p = self.p
        h, w = desc.shape
        n = p["n_samples"]
        self.rng = np.array([(p["seed"] * 2654435761 + 12345) & 0xFFFFFFFF or 1], np.uint32)
        self.samples_c = np.empty((h, w, n, 3), np.uint8)
        self.samples_d = np.empty((h, w, n), np.uint16)
        self.init(img, desc, self.samples_c, self.samples_d, self.rng)
        st = np.zeros((h, w, N_STATE), np.float32)
        st[..., 0] = 1.0
        st[..., 1] = p["t_lower"]
        st[..., 2] = p["v_init"]
        self.state = st
        self.last_img = img.copy()
        self.last_desc = desc.copy()
        self.last_fg = np.zeros((h, w), np.uint8)
        self.last_raw = np.zeros((h, w), np.uint8)
        self.last_blink = np.zeros((h, w), np.uint8)
        self.blink = np.zeros((h, w), np.uint8)
        self.raw = np.zeros((h, w), np.uint8)
        self.shadow_raw = np.zeros((h, w), np.uint8)
        self.shadow = np.zeros((h, w), bool)
        # a colourless video (grey frames stored as BGR) has no chromaticity cue: there the
        # test would be a brightness test alone and would take dark objects for shadows
        i16 = img.astype(np.int16)
        self.colour = max(np.abs(i16[..., 0] - i16[..., 1]).mean(), np.abs(i16[..., 2] - i16[..., 1]).mean()) >= 1.0
        self.k3 = np.ones((3, 3), np.uint8)

    def apply(self, img: np.ndarray) -> np.ndarray:
        p = self.p
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        desc = self.lbsp(gray, np.float32(p["lbsp_threshold"]), np.float32(p["lbsp_min"]))
        if self.t == 0:
            self._init(img, desc)
        self.t += 1
        a_lt = np.float32(1.0 / min(self.t, p["lt_frames"]))
        a_st = np.float32(1.0 / min(self.t, p["st_frames"]))
        raw = self.raw
        shadows = p["detect_shadows"] and self.colour
        hi = p["shadow_max_ratio"] if shadows else 0.0
        self.step(img, desc, self.last_img, self.last_desc, self.samples_c, self.samples_d, self.state,
                         self.last_fg, self.blink, self.rng, a_lt, a_st, np.float32(p["color_threshold"]),
                         p["desc_offset"], p["min_matches"], np.float32(p["t_lower"]), np.float32(p["t_upper"]),
                         p["ghost_absorb"], np.float32(p["shadow_threshold"]), np.float32(hi),
                         np.float32(p["shadow_chroma"]), np.float32(p["shadow_tint"]),
                         p["shadow_matches"], np.float32(p["shadow_consensus"]), raw, self.shadow_raw)
        self.last_img = img
        self.last_desc = desc
        # blinking pixels: raw label flips, now or at the previous frame
        cur_blink = raw ^ self.last_raw
        blink = cur_blink | self.last_blink
        self.last_blink = cur_blink
        self.last_raw = raw.copy()
        if shadows:
            sh = self.shadow_raw
            kr = p["shadow_region"]
            if kr > 1:  # region consistency: shadow where most raw foreground around is shadow
                box = (kr, kr)
                n_sh = cv2.boxFilter(sh, cv2.CV_32F, box, normalize=False, borderType=cv2.BORDER_REPLICATE)
                n_fg = cv2.boxFilter(raw, cv2.CV_32F, box, normalize=False, borderType=cv2.BORDER_REPLICATE)
                sh = raw & (n_sh >= np.float32(p["shadow_share"]) * n_fg).view(np.uint8)
            self.shadow_px = sh
            obj = raw & (1 - sh)
        else:
            self.shadow_px = self.shadow_raw
            obj = raw
        if p["fill_holes"]:
            closed = cv2.morphologyEx(obj, cv2.MORPH_CLOSE, self.k3)
            holes = _fill_holes_u8(closed)
            m = obj | holes | cv2.erode(closed, self.k3, iterations=3)
        else:
            m = obj.copy()  # raw is reused at the next frame
        k = p["median_ksize"]
        if k > 1:  # median of a 0/1 mask = majority of the k x k window (a box sum: O(1) per pixel)
            m = (cv2.boxFilter(m, cv2.CV_16U, (k, k), normalize=False, borderType=cv2.BORDER_REPLICATE)
                 > (k * k) // 2).view(np.uint8)
        dil = cv2.dilate(m, self.k3, iterations=3)
        self.blink = blink & (1 - dil)
        self.last_fg = m
        self.shadow = (self.shadow_px & (1 - m)).view(bool)
        return m.view(bool)


# --------------------------------------------------------------------------- stage
class SenseParams(Params):
    n_samples: int = Field(16, ge=2, le=64, description="samples kept per pixel (N)")
    min_matches: int = Field(2, ge=1, le=8, description="close samples needed to call a pixel background (#min)")
    color_threshold: float = Field(
        20.0, gt=0, le=255, description="per-channel colour distance at R(x) = 1 (L1 over BGR: 3x this)"
    )
    desc_offset: int = Field(3, ge=0, le=16, description="LBSP Hamming distance allowed on top of 2^R(x)")
    lbsp_threshold: float = Field(
        0.111, ge=0, le=1, description="LBSP bit set when a neighbour differs by more than this share of the centre"
    )
    lbsp_min: float = Field(3.0, ge=0, le=255, description="lower bound of the LBSP grey-level threshold")
    t_lower: float = Field(2.0, ge=1, le=256, description="fastest update period T(x) (1/T = update probability)")
    t_upper: float = Field(256.0, ge=1, le=4096, description="slowest update period T(x)")
    v_init: float = Field(
        3.0, ge=0.1, le=50, description="initial blinking accumulator v(x): how fast R(x) may grow at the start"
    )
    lt_frames: int = Field(100, ge=1, le=100_000, description="frames of the long-term moving averages")
    st_frames: int = Field(25, ge=1, le=100_000, description="frames of the short-term moving averages")
    ghost_absorb: bool = Field(True, description="absorb long-static foreground from its border (SuBSENSE)")
    detect_shadows: bool = Field(
        True, description="cast shadows (darker, same colour direction, same texture) go to the shadow mask"
    )
    shadow_threshold: float = Field(
        0.45, gt=0, lt=1, description="tau: lowest brightness ratio to the background a shadow may have"
    )
    shadow_max_ratio: float = Field(
        0.95, gt=0, le=1, description="highest brightness ratio to the background a shadow may have"
    )
    shadow_chroma: float = Field(
        0.05, ge=0, le=1, description="chromaticity distortion a shadow may have, as a share of its brightness"
    )
    shadow_matches: int = Field(
        5, ge=1, le=64, description="background samples that must see a pixel as their shadow (<= n_samples)"
    )
    shadow_consensus: float = Field(
        0.5, ge=0, le=1,
        description="share of the samples with the pixel's texture that must see it as their shadow",
    )
    shadow_region: int = Field(
        9, ge=1, le=31, description="window (odd) of the region test: a raw-foreground pixel is shadow when "
        "shadow_share of the raw foreground around it is shadow; 1 = pixel test only",
    )
    shadow_share: float = Field(0.5, gt=0, le=1, description="share of the region test (see shadow_region)")
    shadow_tint: float = Field(
        0.3, ge=0, le=0.9,
        description="largest sky tint of a shadow: blue kept by (1 + t), red by (1 - t); 0 = colour unchanged",
    )
    fill_holes: bool = Field(True, description="close and fill holes of the raw mask before the median")
    median_ksize: int = Field(9, ge=1, le=31, description="median filter of the mask (odd; 1 = none)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the random update (results are deterministic)")
    switch_fraction: float | None = SWITCH_FIELD

    @field_validator("median_ksize")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"must be odd, got {v}")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.t_upper < self.t_lower:
            raise ValueError(f"t_upper ({self.t_upper}) must be >= t_lower ({self.t_lower})")
        if self.shadow_max_ratio <= self.shadow_threshold:
            raise ValueError(
                f"shadow_max_ratio ({self.shadow_max_ratio}) must be > shadow_threshold ({self.shadow_threshold})"
            )
        if self.shadow_matches > self.n_samples:
            raise ValueError(f"shadow_matches ({self.shadow_matches}) must be <= n_samples ({self.n_samples})")
        if self.min_matches > self.n_samples:
            raise ValueError(f"min_matches ({self.min_matches}) must be <= n_samples ({self.n_samples})")
        return self


@register
class Sense(Stage):
    """Colour + LBSP sample-consensus model with SuBSENSE feedback (ViBe/LOBSTER/SuBSENSE), numba."""

    name = "bgsub.sense"
    bytes_per_pixel = 600  # per-pixel state, for the memory check before the first frame
    Params = SenseParams
    requires = ("image",)
    provides = ("fg", "shadow")
    extras = (("numba", "fast"),)

    @classmethod
    def provided(cls, params) -> tuple[str, ...]:
        """``fg``, ``shadow``, and ``events`` when ``switch_fraction`` is set."""
        return cls.provides + (("events",) if params.switch_fraction is not None else ())
    cite = (
        "P.-L. St-Charles, G.-A. Bilodeau, R. Bergevin, SuBSENSE: A universal change detection method "
        "with local adaptive sensitivity, IEEE TIP 24(1), 2015; O. Barnich, M. Van Droogenbroeck, ViBe, "
        "IEEE TIP 20(6), 2011; G.-A. Bilodeau et al., LBSP, CRV 2013; T. Horprasert et al., shadow "
        "detection, ICCV-FRAME 1999; S. Nadimi, B. Bhanu, physical shadow models, IEEE TPAMI 26(8), 2004"
    )

    def reset(self) -> None:
        if not HAVE_NUMBA:  # the per-pixel loops would run as plain Python: hours per video
            from classicseg.errors import ClassicsegError

            raise ClassicsegError("bgsub.sense needs numba: pip install 'classicseg[fast]'")
        self.model = SenseModel(**self.params.model_dump(exclude={"switch_fraction"}))

    def process(self, sample: Sample) -> Sample:
        fg = self.model.apply(sample.image)
        if illumination_switch(sample, fg, self.params.switch_fraction):
            # re-learn: a fresh model initialised from the frame under the new lighting
            self.model = SenseModel(**self.params.model_dump(exclude={"switch_fraction"}))
            self.model.apply(sample.image)
            sample["fg"] = np.zeros(fg.shape, bool)
            sample["shadow"] = np.zeros(fg.shape, bool)
            return sample
        sample["fg"] = fg
        sample["shadow"] = self.model.shadow
        return sample
