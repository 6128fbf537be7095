"""Real-data check of bgsub.sense / the surveillance-sense preset (``pytest -m realdata``).

Measured when written (one parameter set for all sequences): highway F 0.961; mean F over
the 11 CDnet-layout sequences 0.494 (SuBSENSE 0.474, MOG2 0.327, KNN 0.325 in ANCHORS.md).
"""
import cv2
import numpy as np
import pytest

from classicseg.io.sinks import MaskSink
from classicseg.io.sources import open_source
from classicseg.metrics.cdnet import evaluate_sequence
from classicseg.pipeline import Pipeline

pytestmark = pytest.mark.realdata

SEQUENCES = [
    "cdnet2014/baseline/highway", "cdnet2014/cameraJitter/traffic",
    "sbi2015/Board", "sbi2015/Foliage", "sbi2015/IBMtest2",
    "ucsd_bgs/birds", "ucsd_bgs/boats", "ucsd_bgs/flock", "ucsd_bgs/peds", "ucsd_bgs/surf", "ucsd_bgs/traffic",
]


def _score(seq_dir, out_dir):
    cv2.setNumThreads(1)
    src = open_source(str(seq_dir))
    pipe = Pipeline.load(preset="surveillance-sense")
    sink = MaskSink(out_dir, src)
    for s in pipe.stream(src):
        sink.write(s)
    return evaluate_sequence(out_dir, seq_dir).metrics["f_measure"]


def test_surveillance_sense_on_the_eleven_sequences(shared_data, tmp_path):
    f = {name: _score(shared_data / name, tmp_path / name) for name in SEQUENCES}
    print({k: round(v, 3) for k, v in f.items()})
    assert f["cdnet2014/baseline/highway"] >= 0.955, f
    assert np.mean(list(f.values())) >= 0.485, f
