"""RunStats: per-frame latency recorded by Pipeline.run, in constant memory."""
from __future__ import annotations

import math

import numpy as np
import pytest

from classicseg.pipeline import LatencyRecorder, Pipeline, RunStats
from classicseg.stage import Stage
from classicseg.types import Sample


def test_latency_recorder_known_values():
    r = LatencyRecorder()
    assert r.summary_ms() == {} and math.isnan(r.percentile(50))
    for ms in range(1, 101):
        r.add(ms / 1000)
    s = r.summary_ms()
    assert s["mean"] == pytest.approx(50.5) and s["max"] == pytest.approx(100.0)
    assert s["p50"] == pytest.approx(50.0, rel=0.005) and s["p95"] == pytest.approx(95.0, rel=0.005)
    assert r.percentile(0) == pytest.approx(1.0e-3, rel=0.005)


def test_latency_recorder_memory_is_bounded():
    r = LatencyRecorder()
    v = np.random.default_rng(0).lognormal(-5, 1, 10_000)
    for x in v:
        r.add(float(x))
    assert r.count == 10_000 and len(r._buf) < LatencyRecorder._CHUNK
    assert r.percentile(95) == pytest.approx(np.percentile(v, 95, method="inverted_cdf"), rel=0.005)
    assert r.mean == pytest.approx(v.mean()) and r.max == v.max()
    r.add(0.0)                                           # a zero (or sub-microsecond) latency has a bin too
    assert r.percentile(0) == 0.0


class _Sleepy(Stage):
    name = "test.sleepy"
    requires = ("image",)
    provides = ("fg",)

    def process(self, sample):
        import time

        time.sleep(0.002 if sample.index % 2 else 0.0)
        sample["fg"] = np.zeros(sample.image.shape[:2], bool)
        return sample


def test_pipeline_records_one_latency_per_frame():
    samples = [Sample(index=i, name=str(i), image=np.zeros((4, 4, 3), np.uint8)) for i in range(10)]
    pipe = Pipeline([_Sleepy(_Sleepy.Params())])
    stats = pipe.run(samples)
    assert isinstance(stats, RunStats) and stats.frames == 10 and stats.latency.count == 10
    lat = stats.latency_ms()
    assert lat["max"] >= 2.0 and lat["p50"] <= lat["p95"] <= lat["max"]
    assert lat["mean"] * 10 / 1000 <= stats.seconds
    d = stats.to_dict()
    assert d["latency_ms"] == lat and set(d["stage_share"]) == {"test.sleepy", "(read)", "(write)"}
