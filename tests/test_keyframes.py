"""Keyframes (masks on several frames, propagated both ways) and the CLI's --prior / --keyframes."""
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from classicseg.cli import cli, main
from classicseg.errors import ClassicsegError, ConfigError, SourceError
from classicseg.io.sinks import encode_indexed_png
from classicseg.keyframes import find_keyframe_files, load_keyframes, run_keyframes
from classicseg.metrics.davis import read_indexed_mask
from classicseg.pipeline import Pipeline
from tests.stages.test_vos import _clip, _iou


def _ids(mask, k):
    return np.where(mask, k, 0).astype(np.uint8)


def _frames(frames):
    return [(f"{i:05d}", f) for i, f in enumerate(frames)]


def test_two_keyframes_propagate_both_ways_and_keep_ids():
    frames, masks = _clip(n=12)
    pipe = Pipeline.load(preset="vos")
    # keyframe 4 (id 1) and keyframe 9 (id 3: ids are kept, not renumbered)
    out = run_keyframes(pipe, _frames(frames), {4: _ids(masks[4], 1), 9: _ids(masks[9], 3)})
    assert [s.name for s in out] == [f"{i:05d}" for i in range(12)]
    for s in out:
        assert _iou(s["fg"], masks[s.index]) > 0.85, s.index
    # frames 0..3 come from the backward run of keyframe 4, 5..6 forward from 4, 7..11 from 9
    assert [int(s["ids"].max()) for s in out] == [1] * 7 + [3] * 5
    assert np.array_equal(out[9]["ids"], _ids(masks[9], 3))  # a keyframe is its own mask
    vote = run_keyframes(pipe, _frames(frames), {4: _ids(masks[4], 1), 9: _ids(masks[9], 3)}, merge="vote")
    assert min(_iou(s["fg"], m) for s, m in zip(vote, masks)) > 0.85


def test_a_correction_improves_the_frames_before_it():
    frames, masks = _clip(n=10)
    pipe = Pipeline.load(preset="vos")
    wrong = masks[0].copy()
    wrong[:, :] = False
    wrong[30:42, 70:90] = True  # a bad first-frame mask, somewhere else
    only_first = run_keyframes(pipe, _frames(frames), {0: wrong})
    fixed = run_keyframes(pipe, _frames(frames), {0: wrong, 6: masks[6]})
    assert _iou(only_first[5]["fg"], masks[5]) < 0.2
    assert _iou(fixed[5]["fg"], masks[5]) > 0.85  # the correction at 6 reached 5 backward


def test_keyframe_errors():
    frames, masks = _clip(n=5)
    pipe = Pipeline.load(preset="vos")
    with pytest.raises(ClassicsegError, match=r"keyframe at frame position 7 is past the end .*5 frames"):
        run_keyframes(pipe, _frames(frames), {7: masks[0]})
    with pytest.raises(ClassicsegError, match=r"keyframe 00001 is 5x5 but the frames are 96x72"):
        run_keyframes(pipe, _frames(frames), {1: np.ones((5, 5), np.uint8)})
    with pytest.raises(ClassicsegError, match="keyframe 00002 contains no object"):
        run_keyframes(pipe, _frames(frames), {2: np.zeros(masks[0].shape, bool)})
    with pytest.raises(ClassicsegError, match="no keyframe given"):
        run_keyframes(pipe, _frames(frames), {})
    with pytest.raises(ConfigError, match="no stage .* takes an initial mask"):
        run_keyframes(Pipeline.load(preset="surveillance"), _frames(frames), {0: masks[0]})


def test_keyframe_files(tmp_path):
    with pytest.raises(SourceError, match="keyframe folder not found"):
        find_keyframe_files(tmp_path / "nope")
    with pytest.raises(SourceError, match="no keyframe PNGs"):
        find_keyframe_files(tmp_path)
    m = np.zeros((72, 96), np.uint8)
    m[10:20, 10:20] = 255
    cv2.imwrite(str(tmp_path / "00003.png"), m)
    cv2.imwrite(str(tmp_path / "bin000003.png"), m)
    with pytest.raises(SourceError, match="are both frame 3"):
        find_keyframe_files(tmp_path)
    (tmp_path / "bin000003.png").unlink()
    files = find_keyframe_files(tmp_path)
    names = [f"in{i:06d}" for i in range(1, 6)]  # CDnet frames are numbered from 1
    keys = load_keyframes(files, names, (72, 96))
    assert list(keys) == [2] and keys[2].max() == 1
    with pytest.raises(SourceError, match=r"keyframe 00003.png: no frame numbered 3 .*numbered 0..1"):
        load_keyframes(files, ["00000", "00001"], (72, 96))
    with pytest.raises(ClassicsegError, match="is 96x72 but the frames are 10x10"):
        load_keyframes(files, names, (10, 10))
    cv2.imwrite(str(tmp_path / "00003.png"), np.zeros((72, 96), np.uint8))
    with pytest.raises(ClassicsegError, match="contains no object"):
        load_keyframes(find_keyframe_files(tmp_path), names, (72, 96))
    cv2.imwrite(str(tmp_path / "frame.png"), m)
    with pytest.raises(SourceError, match="frame.png: no frame number"):
        find_keyframe_files(tmp_path)


# -- CLI ------------------------------------------------------------------------------
def _davis_seq(root, n=10):
    frames, masks = _clip(n=n)
    seq = root / "JPEGImages" / "480p" / "disk"
    seq.mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(seq / f"{i:05d}.png"), f)
    return seq, masks


def test_cli_keyframes_and_init_mask(tmp_path):
    seq, masks = _davis_seq(tmp_path)
    kdir = tmp_path / "keys"
    kdir.mkdir()
    (kdir / "00006.png").write_bytes(encode_indexed_png(_ids(masks[6], 3)))
    (tmp_path / "init.png").write_bytes(encode_indexed_png(_ids(masks[0], 1)))
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", "-p", "vos", "-i", str(seq), "-o", str(out), "--keyframes", str(kdir),
                                   "--init-mask", str(tmp_path / "init.png"), "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["frames"] == 10
    got = [read_indexed_mask(out / f"{i:05d}.png") for i in range(10)]
    # the nearer keyframe (frame 3 is a tie: the earlier one); ids kept
    assert [int(g.max()) for g in got] == [1, 1, 1, 1, 3, 3, 3, 3, 3, 3]
    assert min(_iou(g > 0, m) for g, m in zip(got, masks)) > 0.85


def test_cli_prior_refine_and_vos(tmp_path):
    seq, masks = _davis_seq(tmp_path)
    pdir = tmp_path / "prior"
    pdir.mkdir()
    for i, m in enumerate(masks):
        np.save(pdir / f"{i:05d}.npy", np.where(m, 0.8, 0.2).astype(np.float32))
    runner = CliRunner()
    for preset in ("refine", "vos"):  # vos without --init-mask starts from the first prior
        out = tmp_path / preset
        res = runner.invoke(cli, ["run", "-p", preset, "-i", str(seq), "-o", str(out), "--prior", str(pdir),
                                  "--no-progress"])
        assert res.exit_code == 0, res.output
        got = [read_indexed_mask(out / f"{i:05d}.png") for i in range(10)]
        assert min(_iou(g > 0, m) for g, m in zip(got, masks)) > 0.85, preset
    run_json = json.loads((tmp_path / "vos" / "run.json").read_text())
    assert "prior.fuse" in [s["stage"] for s in run_json["config"]["pipeline"]]
    (tmp_path / "init.png").write_bytes(encode_indexed_png(_ids(masks[0], 1)))
    res = runner.invoke(cli, ["run", "-p", "vos", "-i", str(seq), "-o", str(tmp_path / "both"), "--prior", str(pdir),
                              "--init-mask", str(tmp_path / "init.png"), "--no-progress"])
    assert res.exit_code == 0, res.output
    both = json.loads((tmp_path / "both" / "run.json").read_text())
    steps = both["config"]["pipeline"]
    i = [s["stage"] for s in steps].index("vos.propagate")
    assert steps[i + 1]["stage"] == "prior.fuse" and both["init_mask"] == str(tmp_path / "init.png")


def test_cli_prior_errors(tmp_path, capsys):
    seq, masks = _davis_seq(tmp_path, n=4)
    pdir = tmp_path / "prior"
    pdir.mkdir()
    for i in range(3):
        np.save(pdir / f"{i:05d}.npy", masks[i].astype(np.float32))
    np.save(pdir / "00003.npy", np.full((72, 96), np.nan, np.float32))
    out = tmp_path / "out"
    rc = main(["run", "-p", "refine", "-i", str(seq), "-o", str(out), "--prior", str(pdir), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 3 and "prior 00003.npy: contains NaN" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.glob("*.png")) == ["00000.png", "00001.png", "00002.png"]  # kept
    (pdir / "00003.npy").rename(pdir / "00005.npy")
    rc = main(["run", "-p", "refine", "-i", str(seq), "--prior", str(pdir), "--no-progress"])
    assert rc == 3 and "no prior for frame 00003 (number 3)" in capsys.readouterr().err
    (pdir / "00005.npy").unlink()
    rc = main(["run", "-p", "refine", "-i", str(seq), "--prior", str(pdir), "--no-progress"])
    assert rc == 3 and "has 3 files but the input has 4 frames" in capsys.readouterr().err
    np.save(pdir / "00003.npy", np.zeros((7, 9), np.float32))
    rc = main(["run", "-p", "refine", "-i", str(seq), "--prior", str(pdir), "--no-progress"])
    assert rc == 3 and "prior 00003.npy is 9x7 but the frames are 96x72" in capsys.readouterr().err
    np.save(pdir / "00003.npy", np.array([{"x": 1}] * 4, dtype=object).reshape(2, 2), allow_pickle=True)
    rc = main(["run", "-p", "refine", "-i", str(seq), "--prior", str(pdir), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 3 and "00003.npy: holds pickled Python objects" in err and "Traceback" not in err
    rc = main(["run", "-p", "refine", "-i", str(seq), "--no-progress"])
    assert rc == 2 and "give --prior DIR" in capsys.readouterr().err
    rc = main(["run", "-p", "surveillance", "-i", str(seq), "--prior", str(pdir), "--no-progress"])
    assert rc == 2 and "no stage that computes a probability" in capsys.readouterr().err


def test_cli_keyframe_past_the_end(tmp_path, capsys):
    seq, masks = _davis_seq(tmp_path, n=4)
    kdir = tmp_path / "keys"
    kdir.mkdir()
    cv2.imwrite(str(kdir / "00009.png"), masks[0].astype(np.uint8) * 255)
    rc = main(["run", "-p", "vos", "-i", str(seq), "--keyframes", str(kdir), "--no-progress"])
    assert rc == 3 and "keyframe 00009.png: no frame numbered 9" in capsys.readouterr().err


def test_keyframes_with_a_prior():
    from classicseg.config import resolve, with_prior_fuse

    frames, masks = _clip(n=8)
    pipe = Pipeline.from_spec(with_prior_fuse(resolve("vos")))
    calls = []

    def prior(s):
        calls.append(s.name)
        return masks[s.index].astype(np.float32)

    out = run_keyframes(pipe, _frames(frames), {0: masks[0], 5: _ids(masks[5], 2)}, prior=prior)
    assert calls == [f"{i:05d}" for i in range(8)]  # each frame's prior is computed once
    assert all("prior" in s for s in out) and min(_iou(s["fg"], m) for s, m in zip(out, masks)) > 0.85
    with pytest.raises(SourceError, match="prior callable at frame 00000 is 2x2"):
        run_keyframes(pipe, _frames(frames), {0: masks[0]}, prior=lambda s: np.zeros((2, 2)))
