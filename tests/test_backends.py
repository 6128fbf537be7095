"""Backend choice (auto | cpu | cuda) and, on a CUDA machine, CPU/GPU agreement."""
import logging

import numpy as np
import pytest

from classicseg.backends import CPUBackend, cuda_available, resolve_backend
from classicseg.config import validate
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.pipeline import Pipeline
from classicseg.types import Sample

requires_cuda = pytest.mark.skipif(not cuda_available(), reason="OpenCV has no CUDA device (pip wheels are CPU-only)")


@pytest.fixture
def no_cuda(monkeypatch):
    import classicseg.backends as b

    monkeypatch.setattr(b, "cuda_available", lambda: False)


def test_cpu_is_cpu():
    assert isinstance(resolve_backend("cpu"), CPUBackend)
    assert resolve_backend(None).name == "cpu"


def test_auto_falls_back_with_one_log_line(no_cuda, caplog):
    logger = logging.getLogger("classicseg")
    old = logger.propagate
    logger.propagate = True  # the CLI turns propagation off; caplog listens at the root
    try:
        with caplog.at_level(logging.INFO, logger="classicseg"):
            be = resolve_backend("auto")
    finally:
        logger.propagate = old
    assert be.name == "cpu"
    # one record (caplog may see it through two handlers after a CLI test set the logger up)
    lines = list({id(r): r for r in caplog.records if r.name == "classicseg"}.values())
    assert len(lines) == 1 and "no CUDA device" in lines[0].getMessage()


def test_explicit_cuda_without_device_is_one_line_error(no_cuda):
    with pytest.raises(ClassicsegError) as exc:
        resolve_backend("cuda")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("backend cuda requested but OpenCV has no CUDA device")
    assert "pip wheels are CPU-only" in msg and "README 'CUDA'" in msg


def test_unknown_backend_names_nearest():
    with pytest.raises(ConfigError, match=r"unknown backend 'cdua' \(did you mean 'cuda'\?\)"):
        resolve_backend("cdua")


def test_config_key_validated_with_nearest_name():
    raw = {"backend": "cpuu", "pipeline": [{"stage": "bgsub.mog2"}]}
    with pytest.raises(ConfigError, match=r"backend must be one of auto, cpu, cuda, got 'cpuu' \(did you mean 'cpu'\?\)"):
        validate(raw)
    spec = validate({"backend": "auto", "pipeline": [{"stage": "bgsub.mog2"}]})
    assert spec.backend == "auto" and spec.to_dict()["backend"] == "auto"
    assert validate({"pipeline": [{"stage": "bgsub.mog2"}]}).backend == "cpu"
    assert validate(spec.to_dict()).backend == "auto"  # round trip


def test_pipeline_uses_resolved_backend(no_cuda):
    spec = validate({"backend": "auto", "pipeline": [{"stage": "bgsub.mog2"}, {"stage": "morph.open"}]})
    pipe = Pipeline.from_spec(spec)
    assert pipe.backend.name == "cpu" and [s.name for s in pipe.stages] == ["bgsub.mog2", "morph.open"]
    with pytest.raises(ClassicsegError, match="backend cuda requested"):
        Pipeline.from_spec(spec, "cuda")


def test_cli_backend_option(no_cuda, tmp_path):
    import cv2

    from classicseg.cli import main

    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"in{i + 1:06d}.png"), rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    assert main(["run", "-i", str(tmp_path), "--backend", "cuda", "--no-progress"]) != 0
    assert main(["run", "-i", str(tmp_path), "--backend", "auto", "--no-progress"]) == 0


# -- on a CUDA machine -------------------------------------------------------------------
def _clip(n=60):
    from classicseg.synth import make_scene

    return [f for f, _ in make_scene(n_frames=n).frames()]


def _masks(backend, frames, steps):
    pipe = Pipeline.from_spec(validate({"pipeline": steps}), backend)
    return [s["fg"] for s in pipe.stream(Sample(i, str(i), f) for i, f in enumerate(frames))]


@pytest.mark.gpu
@requires_cuda
def test_cuda_mog2_agrees_with_cpu():
    frames = _clip()
    cpu = _masks("cpu", frames, [{"stage": "bgsub.mog2"}])
    gpu = _masks("cuda", frames, [{"stage": "bgsub.mog2"}])
    agree = np.mean([np.mean(a == b) for a, b in zip(cpu[10:], gpu[10:])])
    assert agree >= 0.99, f"CPU and CUDA MOG2 agree on {agree:.4f} of pixels"


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("op", ["morph.open", "morph.close"])
def test_cuda_morphology_equals_cpu(op):
    from classicseg.backends.cuda import CUDABackend, gpu_slots

    rng = np.random.default_rng(0)
    mask = rng.random((120, 160)) < 0.3
    results = {}
    for be in ("cpu", "cuda"):
        pipe = Pipeline.from_spec(validate({"pipeline": [{"stage": op, "radius": 2}]}), be)
        s = Sample(0, "0", np.zeros((120, 160, 3), np.uint8))
        s["fg"] = mask.copy()
        results[be] = pipe.push(s)[0]["fg"]
    assert isinstance(Pipeline.from_spec(validate({"pipeline": [{"stage": op}]}), "cuda").backend, CUDABackend)
    r = 2
    assert np.array_equal(results["cpu"][r:-r, r:-r], results["cuda"][r:-r, r:-r])  # borders: NPP's own rule
    assert np.mean(results["cpu"] == results["cuda"]) >= 0.999


@pytest.mark.gpu
@requires_cuda
def test_cuda_chain_downloads_once_for_cpu_stage():
    frames = _clip(20)
    steps = [{"stage": "bgsub.mog2"}, {"stage": "morph.open"}, {"stage": "morph.median"}, {"stage": "morph.close"}]
    pipe = Pipeline.from_spec(validate({"pipeline": steps}), "cuda")
    assert [getattr(s, "download_after", None) for s in pipe.stages] == [False, True, None, True]
    out = list(pipe.stream(Sample(i, str(i), f) for i, f in enumerate(frames)))
    assert all(o["fg"].dtype == bool and o["fg"].shape == frames[0].shape[:2] for o in out)
