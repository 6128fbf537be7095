"""Real-data check of the `surveillance` preset (bgsub.sense) on the eleven CDnet-layout
sequences and its speed against pybgs SuBSENSE (``pytest -m realdata``).

One parameter set for all sequences; the thresholds are the values measured when written
minus a small margin (table in README.md: ``python samples/bench_bgs.py ...``).
"""
import os
import sys
import time

import cv2
import numpy as np
import pytest

from classicseg.io.sinks import MaskSink
from classicseg.io.sources import open_source
from classicseg.metrics.cdnet import evaluate_sequence
from classicseg.pipeline import Pipeline
from classicseg.types import Sample

pytestmark = pytest.mark.realdata

# measured when written: highway 0.955, mean 0.524 (leave-one-sequence-out 0.516; the shipped
# preset before the ghost test and colour threshold 30: 0.961 / 0.495; pybgs SuBSENSE 0.476)
HIGHWAY_MIN = 0.95
MEAN_MIN = 0.515

SEQUENCES = [
    "cdnet2014/baseline/highway", "cdnet2014/cameraJitter/traffic",
    "sbi2015/Board", "sbi2015/Foliage", "sbi2015/IBMtest2",
    "ucsd_bgs/birds", "ucsd_bgs/boats", "ucsd_bgs/flock", "ucsd_bgs/peds", "ucsd_bgs/surf", "ucsd_bgs/traffic",
]


def _score(seq_dir, out_dir):
    cv2.setNumThreads(1)
    src = open_source(str(seq_dir))
    pipe = Pipeline.load(preset="surveillance")
    sink = MaskSink(out_dir, src)
    for s in pipe.stream(src):
        sink.write(s)
    return evaluate_sequence(out_dir, seq_dir).metrics["f_measure"]


def test_surveillance_on_the_eleven_sequences(shared_data, tmp_path):
    f = {name: _score(shared_data / name, tmp_path / name) for name in SEQUENCES}
    print({k: round(v, 3) for k, v in f.items()})
    assert f["cdnet2014/baseline/highway"] >= HIGHWAY_MIN, f
    assert np.mean(list(f.values())) >= MEAN_MIN, f


def _quiet_import_pybgs():
    """pybgs prints from C++ on import and construction: silence the file descriptors."""
    sys.stdout.flush()
    saved, null = (os.dup(1), os.dup(2)), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        import pybgs

        return pybgs
    except ImportError:
        return None
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def test_surveillance_runs_at_least_5x_subsense(shared_data, tmp_path, monkeypatch):
    """Speed as a ratio to pybgs SuBSENSE on the same 600 highway frames (from the temporal ROI's
    start: cars in view), same run, one thread, alternated runs. Measured when written: 8.2x
    on all 1700 frames (samples/bench_bgs.py, two runs each)."""
    monkeypatch.chdir(tmp_path)  # pybgs writes ./config/*.xml
    (tmp_path / "config").mkdir()
    pybgs = _quiet_import_pybgs()
    if pybgs is None:
        pytest.skip("pybgs (the SuBSENSE reference) is not installed")
    cv2.setNumThreads(1)
    frames = [s.image for i, s in zip(range(1070), open_source(str(shared_data / "cdnet2014/baseline/highway")))
              if i >= 470]
    pipe = Pipeline.load(preset="surveillance")
    for i, f in enumerate(frames[:5]):  # numba compilation / cache load, not timed
        pipe.push(Sample(i, str(i), f))

    def ours():
        pipe.reset()
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            pipe.push(Sample(i, str(i), f))
        return time.perf_counter() - t0

    def theirs():
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        try:
            ref = pybgs.SuBSENSE()  # a fresh model, as ours is reset
            t0 = time.perf_counter()
            for f in frames:
                ref.apply(f)
            return time.perf_counter() - t0
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)

    t_ours, t_ref = [], []
    for r in range(2):  # alternated, best kept
        for fn, out in ((ours, t_ours), (theirs, t_ref))[:: 1 if r % 2 == 0 else -1]:
            out.append(fn())
    ratio = min(t_ref) / min(t_ours)
    print(f"surveillance {len(frames) / min(t_ours):.0f} fps, SuBSENSE {len(frames) / min(t_ref):.0f} fps: "
          f"{ratio:.2f}x")
    assert ratio >= 5.0, ratio
