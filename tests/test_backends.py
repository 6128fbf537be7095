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

    return [f for f, _ in make_scene(n_frames=n, warmup=min(40, n // 2)).frames()]


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
        pipe = Pipeline.from_spec(validate({"pipeline": [{"stage": op, "radius": 2}]}, initial_slots=("image", "fg")), be)
        s = Sample(0, "0", np.zeros((120, 160, 3), np.uint8))
        s["fg"] = mask.copy()
        results[be] = pipe.push(s)[0]["fg"]
    pipe = Pipeline.from_spec(validate({"pipeline": [{"stage": op}]}, initial_slots=("image", "fg")), "cuda")
    assert isinstance(pipe.backend, CUDABackend) and type(pipe.stages[0]).__module__ == "classicseg.backends.cuda"
    r = 2
    assert np.array_equal(results["cpu"][r:-r, r:-r], results["cuda"][r:-r, r:-r])  # borders: NPP's own rule
    assert np.mean(results["cpu"] == results["cuda"]) >= 0.999


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("then_gpu", [False, True])
def test_cuda_mog2_illumination_switch_like_cpu(then_gpu):
    frames = _clip(40)
    frames = frames[:25] + [np.clip(f.astype(np.int16) + 90, 0, 255).astype(np.uint8) for f in frames[25:]]
    steps = [{"stage": "bgsub.mog2", "switch_fraction": 0.5}] + ([{"stage": "morph.open"}] if then_gpu else [])
    out = {}
    for be in ("cpu", "cuda"):
        pipe = Pipeline.from_spec(validate({"pipeline": steps}), be)
        out[be] = list(pipe.stream(Sample(i, str(i), f) for i, f in enumerate(frames)))
    events = {be: [e["frame"] for s in out[be] for e in s.data.get("events", [])] for be in out}
    print(f"illumination events: cpu {events['cpu']}, cuda {events['cuda']}")
    assert events["cpu"] == events["cuda"] == [26]
    assert not out["cuda"][25]["fg"].any() and not out["cuda"][25]["shadow"].any()
    agree = np.mean([np.mean(c["fg"] == g["fg"]) for c, g in zip(out["cpu"][26:], out["cuda"][26:])])
    assert agree >= 0.99, f"after the switch CPU and CUDA agree on {agree:.4f} of pixels"


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("ksize", [3, 5])
def test_cuda_median_equals_cpu(ksize):
    rng = np.random.default_rng(1)
    mask = rng.random((120, 160)) < 0.4
    results = {}
    for be in ("cpu", "cuda"):
        spec = validate({"pipeline": [{"stage": "morph.median", "ksize": ksize}]}, initial_slots=("image", "fg"))
        pipe = Pipeline.from_spec(spec, be)
        s = Sample(0, "0", np.zeros((120, 160, 3), np.uint8))
        s["fg"] = mask.copy()
        results[be] = pipe.push(s)[0]["fg"]
    r = ksize // 2
    inner = np.mean(results["cpu"][r:-r, r:-r] == results["cuda"][r:-r, r:-r])
    print(f"median {ksize}: interior agreement {inner:.5f}, whole {np.mean(results['cpu'] == results['cuda']):.5f}")
    assert inner == 1.0  # borders: each library's own rule


@pytest.mark.gpu
@requires_cuda
def test_cuda_chain_downloads_once_for_cpu_stage():
    frames = _clip(20)
    steps = [{"stage": "bgsub.mog2"}, {"stage": "morph.open"}, {"stage": "morph.fill_holes"}, {"stage": "morph.close"}]
    pipe = Pipeline.from_spec(validate({"pipeline": steps}), "cuda")
    assert [getattr(s, "download_after", None) for s in pipe.stages] == [False, True, None, True]
    out = list(pipe.stream(Sample(i, str(i), f) for i, f in enumerate(frames)))
    assert all(o["fg"].dtype == bool and o["fg"].shape == frames[0].shape[:2] for o in out)


def test_bench_cuda_without_device_is_one_line_error(no_cuda, capsys):
    from classicseg.cli import main

    assert main(["bench", "--cuda", "--frames", "50", "--no-kernels"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bench --cuda" in err and "no CUDA device" in err


def _epe(a, b):
    return float(np.mean(np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])))


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("scale,occlusion", [(1.0, False), (0.5, True)])
def test_cuda_farneback_agrees_with_cpu(scale, occlusion):
    frames = _clip(12)
    steps = [{"stage": "flow.farneback", "scale": scale, "occlusion": occlusion}]
    out = {}
    for be in ("cpu", "cuda"):
        pipe = Pipeline.from_spec(validate({"pipeline": steps}), be)
        out[be] = list(pipe.stream(Sample(i, str(i), f) for i, f in enumerate(frames)))
    cpu, gpu = out["cpu"], out["cuda"]
    assert all(g["flow"].shape == frames[0].shape[:2] + (2,) and g["flow"].dtype == np.float32 for g in gpu)
    assert not gpu[0]["flow"].any() and not gpu[0]["occlusion"].any()  # first frame
    motion = np.mean([np.hypot(*c["flow"].reshape(-1, 2).T).mean() for c in cpu[1:]])
    diff = np.mean([_epe(c["flow"], g["flow"]) for c, g in zip(cpu[1:], gpu[1:])])
    print(f"farneback scale={scale}: mean |flow| {motion:.3f} px, CPU-CUDA endpoint difference {diff:.3f} px")
    assert motion > 0.05  # the clip moves
    assert diff < 0.05 + 0.1 * motion, f"CPU and CUDA Farneback differ by {diff:.3f} px on average"
    if occlusion:
        agree = np.mean([np.mean(c["occlusion"] == g["occlusion"]) for c, g in zip(cpu[1:], gpu[1:])])
        assert agree >= 0.97, f"occlusion masks agree on {agree:.4f} of pixels"


@pytest.mark.gpu
@requires_cuda
def test_cuda_run_from_the_cli(tmp_path):
    import cv2

    from classicseg.cli import main

    frames = _clip(30)
    src = tmp_path / "in"
    src.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(src / f"in{i + 1:06d}.png"), f)
    cfg = tmp_path / "p.yaml"
    cfg.write_text("backend: cuda\npipeline:\n  - stage: bgsub.mog2\n  - stage: morph.open\n  - stage: morph.close\n")
    out = tmp_path / "out"
    assert main(["run", "-i", str(src), "-c", str(cfg), "-o", str(out), "--no-progress"]) == 0
    masks = sorted(out.glob("*.png"))
    assert len(masks) == len(frames)
    last = cv2.imread(str(masks[-1]), cv2.IMREAD_GRAYSCALE)
    assert last.shape == frames[0].shape[:2] and set(np.unique(last)) <= {0, 255} and (last == 255).any()


@pytest.mark.gpu
@requires_cuda
def test_bench_cuda_rows():
    from classicseg.bench import cuda_rows

    rows = cuda_rows(_clip(50), "clip", repeats=1)
    for r in rows:
        print(f"{r['what']}: {r['ms']} ms vs {r['reference']} {r['reference ms']} ms, ratio {r['ratio']}")
    assert [r["kind"] for r in rows] == ["cuda"] * 4 and all(r["ms"] > 0 and r["ratio"] > 0 for r in rows)
