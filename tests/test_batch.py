"""``classicseg batch``: discovery, local and Dask runs, resume, retries, errors, CLI."""
import importlib
import json
import os
import socket
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from classicseg.batch import (
    MARKER,
    NoSequencesError,
    SchedulerError,
    find_sequences,
    run_batch,
)
from classicseg.errors import ClassicsegError, EvalError, SinkError, SourceError
from classicseg.metrics import cdnet, davis

N = 24  # frames per generated sequence


# -- tiny data sets -------------------------------------------------------------------
def _clip(seed, n=N, h=48, w=64, size=8):
    """Frames (BGR) and exact 0/255 masks: a bright square crossing a noisy background."""
    rng = np.random.default_rng(seed)
    row = 8 + 4 * (seed % 6)
    for t in range(n):
        f = np.clip(90 + 10 * (seed % 3) + rng.normal(0, 2, (h, w, 3)), 0, 255).astype(np.uint8)
        gt = np.zeros((h, w), np.uint8)
        if t >= 6:
            x = 2 + (t - 6) * (2 + seed % 2)
            if x + size < w:
                f[row:row + size, x:x + size] = 230
                gt[row:row + size, x:x + size] = 255
        yield t, f, gt


def cdnet_seq(folder: Path, seed=0, frames="input", n=N):
    """CDnet (``input/in%06d.png``) or UCSD (``in/frame_%d.png``) sequence folder."""
    (folder / frames).mkdir(parents=True)
    (folder / "groundtruth").mkdir()
    for t, f, gt in _clip(seed, n):
        if frames == "input":
            cv2.imwrite(str(folder / "input" / f"in{t + 1:06d}.png"), f)
            cv2.imwrite(str(folder / "groundtruth" / f"gt{t + 1:06d}.png"), gt)
        else:
            cv2.imwrite(str(folder / "in" / f"frame_{t + 1}.png"), f)
            cv2.imwrite(str(folder / "groundtruth" / f"gt{t + 1:04d}.png"), gt)
    (folder / "temporalROI.txt").write_text(f"7 {n}\n")
    cv2.imwrite(str(folder / "ROI.bmp"), np.full((48, 64), 255, np.uint8))
    return folder


def davis_root(root: Path, seqs=("cows",), n=N):
    for k, name in enumerate(seqs):
        img = root / "JPEGImages" / "480p" / name
        ann = root / "Annotations" / "480p" / name
        img.mkdir(parents=True)
        ann.mkdir(parents=True)
        for t, f, gt in _clip(10 + k, n):
            cv2.imwrite(str(img / f"{t:05d}.png"), f)  # PNG frames: no JPEG noise in a 48x64 test
            cv2.imwrite(str(ann / f"{t:05d}.png"), gt)
    return root


@pytest.fixture
def mixed_root(tmp_path):
    """A CDnet root (2 categories, 3 videos) and a DAVIS root (1 sequence) side by side."""
    root = tmp_path / "data"
    cdnet_seq(root / "cd" / "baseline" / "alpha", seed=0)
    cdnet_seq(root / "cd" / "baseline" / "beta", seed=1)
    cdnet_seq(root / "cd" / "jitter" / "gamma", seed=2)
    davis_root(root / "davis")
    return root


def masks(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def score_rows(res) -> dict:
    return res.scores()


# -- discovery --------------------------------------------------------------------------
def test_find_sequences_recognises_every_layout(tmp_path):
    root = tmp_path / "root"
    cdnet_seq(root / "cdnet2014" / "baseline" / "highway")
    cdnet_seq(root / "cdnet2014" / "jitter" / "traffic", seed=1)
    cdnet_seq(root / "sbi" / "Board", seed=2)
    cdnet_seq(root / "ucsd" / "birds", seed=3, frames="in")
    davis_root(root / "DAVIS", seqs=("bear", "cows"))
    (root / "DAVIS" / "JPEGImages" / "Full-Resolution" / "bear").mkdir(parents=True)  # ignored: 480p wins
    (root / "videos").mkdir()
    vw = cv2.VideoWriter(str(root / "videos" / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _, f, _ in _clip(0, 5):
        vw.write(f)
    vw.release()
    (root / "frames").mkdir()
    for t, f, _ in _clip(4, 3):
        cv2.imwrite(str(root / "frames" / f"{t:04d}.png"), f)

    found = {s.rel: s for s in find_sequences(root)}
    assert list(found) == sorted(found)  # stable order
    assert set(found) == {"cdnet2014/baseline/highway", "cdnet2014/jitter/traffic", "sbi/Board", "ucsd/birds",
                          "DAVIS/bear", "DAVIS/cows", "videos/clip", "frames"}
    hw = found["cdnet2014/baseline/highway"]
    assert (hw.kind, hw.metric, hw.category, hw.gt) == ("cdnet", "cdnet", "baseline", hw.path)
    assert found["ucsd/birds"].kind == "cdnet" and found["ucsd/birds"].category == "ucsd"
    bear = found["DAVIS/bear"]
    assert bear.kind == "davis" and bear.metric == "davis"
    assert bear.path == root / "DAVIS" / "JPEGImages" / "480p" / "bear"
    assert bear.gt == root / "DAVIS" / "Annotations" / "480p" / "bear"
    assert found["videos/clip"].kind == "video" and found["videos/clip"].metric is None
    assert found["frames"].kind == "folder" and found["frames"].gt is None


def test_find_sequences_roots_mirror_the_evaluator(tmp_path):
    cdnet_seq(tmp_path / "cd" / "baseline" / "highway")
    cdnet_seq(tmp_path / "cd" / "baseline" / "office", seed=1)
    assert [(s.rel, s.category) for s in find_sequences(tmp_path / "cd")] == [
        ("baseline/highway", "baseline"), ("baseline/office", "baseline")]
    # a category (or SBI/UCSD) root: <video>/input, category = the root's name
    assert [(s.rel, s.category) for s in find_sequences(tmp_path / "cd" / "baseline")] == [
        ("highway", "baseline"), ("office", "baseline")]
    # one sequence: its masks go to the output folder itself
    [one] = find_sequences(tmp_path / "cd" / "baseline" / "office")
    assert (one.rel, one.name, one.category) == ("", "office", "baseline")
    davis_root(tmp_path / "dv", seqs=("a", "b"))
    assert [s.rel for s in find_sequences(tmp_path / "dv")] == ["a", "b"]


def test_find_sequences_errors(tmp_path):
    with pytest.raises(SourceError, match="input root not found"):
        find_sequences(tmp_path / "nope")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(NoSequencesError, match=r"no sequences found under .*empty \(expected") as exc:
        find_sequences(tmp_path / "empty")
    assert "\n" not in str(exc.value)
    cdnet_seq(tmp_path / "clash" / "clip")
    (tmp_path / "clash" / "clip.mp4").write_bytes(b"")
    with pytest.raises(SourceError, match="would both write to output folder clip"):
        find_sequences(tmp_path / "clash")


# -- local runs -----------------------------------------------------------------------------
def test_two_workers_equal_one_process_and_eval(mixed_root, tmp_path):
    calls = []
    one = run_batch(mixed_root, tmp_path / "one", preset="surveillance-fast", workers=0,
                    progress=lambda oc, done, total: calls.append((oc.sequence.rel, done, total)))
    two = run_batch(mixed_root, tmp_path / "two", preset="surveillance-fast", workers=2)
    assert two.workers == 2 and not two.failed and not one.failed
    assert [o.status for o in two.outcomes] == ["done"] * 4
    assert [o.frames for o in two.outcomes] == [N] * 4
    assert sorted(c[1] for c in calls) == [1, 2, 3, 4] and {c[2] for c in calls} == {4}
    # the same masks, byte for byte, and the same scores, to the last bit
    m1, m2 = masks(tmp_path / "one"), masks(tmp_path / "two")
    assert len(m1) == 4 * N and m1 == m2
    assert one.scores() == two.scores()
    # outputs mirror the ground truth: `classicseg eval` reads them as they are, same numbers
    rows = two.scores()
    assert rows["cdnet"] == cdnet.evaluate_dataset(tmp_path / "two" / "cd", mixed_root / "cd").table()
    assert rows["davis"] == davis.evaluate_dataset(tmp_path / "two" / "davis", mixed_root / "davis").table()
    assert [r["name"] for r in rows["cdnet"]] == ["alpha", "beta", "gamma", "baseline", "jitter", "overall"]
    assert (tmp_path / "two" / "davis" / "cows" / "00005.png").is_file()
    assert (tmp_path / "two" / "cd" / "baseline" / "alpha" / "bin000005.png").is_file()
    saved = json.loads((tmp_path / "two" / "scores.json").read_text())
    assert saved["scores"] == json.loads(json.dumps(rows)) and saved["counts"]["done"] == 4
    marker = json.loads((tmp_path / "two" / "cd" / "jitter" / "gamma" / MARKER).read_text())
    assert marker["frames"] == N and marker["config_hash"] == two.config_hash and marker["seconds"] > 0


def test_resume_skips_finished_and_redoes_unfinished(mixed_root, tmp_path):
    out = tmp_path / "out"
    first = run_batch(mixed_root, out, preset="surveillance-fast", workers=0, metric="cdnet")
    assert first.count("done") == 4 and first.davis is None  # DAVIS sequence run, not scored
    assert len(first.cdnet.videos) == 3
    alpha, beta = out / "cd" / "baseline" / "alpha", out / "cd" / "baseline" / "beta"
    stamps = {p: p.stat().st_mtime_ns for p in beta.glob("*.png")}
    (alpha / MARKER).unlink()  # as if the run had been killed inside alpha
    (alpha / "bin000999.png").write_bytes(b"a file classicseg did not write")
    (alpha / "notes.txt").write_text("not ours: kept")
    second = run_batch(mixed_root, out, preset="surveillance-fast", workers=0, metric="cdnet")
    status = {o.sequence.rel: o.status for o in second.outcomes}
    assert status == {"cd/baseline/alpha": "done", "cd/baseline/beta": "skipped", "cd/jitter/gamma": "skipped",
                      "davis/cows": "skipped"}
    assert {p: p.stat().st_mtime_ns for p in beta.glob("*.png")} == stamps  # not rewritten
    # in no manifest or journal of the folder: not classicseg's, so kept (tests/hostile: a killed run's are not)
    assert (alpha / "bin000999.png").exists() and (alpha / "notes.txt").exists()
    assert (alpha / MARKER).is_file()
    assert second.scores() == first.scores()
    assert [o.frames for o in second.outcomes] == [N] * 4  # skipped ones report their marker's count
    # another configuration is another result: everything is redone
    third = run_batch(mixed_root, out, preset="surveillance-fast", sets=["morph.median.ksize=3"], workers=0,
                      metric="none")
    assert third.count("done") == 4 and third.config_hash != first.config_hash and third.scores() == {}


PLUGIN = '''
"""Test-only stage, imported by spawned workers through sys.path (never shipped)."""
import os

from pydantic import Field

from classicseg.registry import register
from classicseg.stage import Params, Stage


class CrashOnceParams(Params):
    flag: str = Field(description="created just before the crash; while it exists, no crash")
    at_frame: int = Field(5, ge=0, description="frame index at which the process dies")


@register
class CrashOnce(Stage):
    """Kill the worker process (os._exit) the first time any sequence reaches a frame."""

    name = "test.crash_once"
    Params = CrashOnceParams

    def process(self, sample):
        if sample.index == self.params.at_frame:
            try:
                fd = os.open(self.params.flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return sample
            os.close(fd)
            os._exit(1)
        return sample
'''


@pytest.fixture(scope="module")
def crash_plugin(tmp_path_factory):
    """A stage module on sys.path; spawned workers inherit sys.path and import it by name."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "classicseg_batch_test_plugin.py").write_text(PLUGIN)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("classicseg_batch_test_plugin")
    finally:
        sys.path.remove(str(folder))


def _crash_config(tmp_path, flag):
    cfg = tmp_path / "crashy.yaml"
    cfg.write_text(f"name: crashy\npipeline:\n  - stage: bgsub.knn\n  - stage: test.crash_once\n"
                   f"    flag: {flag}\n  - stage: morph.median\n    ksize: 5\n")
    return cfg


def test_killed_worker_is_retried_from_scratch(mixed_root, tmp_path, crash_plugin):
    root, flag = mixed_root / "cd", tmp_path / "crashed"
    cfg = _crash_config(tmp_path, flag)
    res = run_batch(root, tmp_path / "out", config=cfg, workers=2, retries=2)
    assert flag.exists()  # one worker died
    assert not res.failed and res.count("done") == 3
    retried = [o for o in res.outcomes if o.attempts == 2]
    assert len(retried) == 1 and all(o.attempts == 1 for o in res.outcomes if o not in retried)
    assert json.loads((retried[0].out_dir / MARKER).read_text())["attempt"] == 2
    # the flag exists now, so the stage passes frames through: this is the undisturbed run
    ref = run_batch(root, tmp_path / "ref", config=cfg, workers=0)
    assert masks(tmp_path / "out") == masks(tmp_path / "ref") and res.scores() == ref.scores()


def test_worker_dying_every_time_fails_only_its_sequence(mixed_root, tmp_path, crash_plugin):
    cfg = _crash_config(tmp_path, tmp_path / "crashed")
    res = run_batch(mixed_root / "cd" / "baseline", tmp_path / "out", config=cfg, workers=1, retries=0)
    [failed] = res.failed  # the first sequence killed its worker; the next ran on a fresh one
    assert failed.error == "worker process died (exit code 1); gave up after 1 attempt"
    assert not (failed.out_dir / MARKER).exists()
    assert res.count("done") == 1 and len(res.cdnet.videos) == 1


# -- Dask ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dask_local_cluster_matches_local_run(mixed_root, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = run_batch(mixed_root, tmp_path / "local", preset="surveillance-fast", workers=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = run_batch(mixed_root, tmp_path / "dask", preset="surveillance-fast", scheduler=cluster.scheduler_address)
    assert res.scheduler == cluster.scheduler_address and res.count("done") == 4 and not res.failed
    assert res.scores() == local.scores()
    assert masks(tmp_path / "dask") == masks(tmp_path / "local")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_one_line(mixed_root, tmp_path):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SchedulerError, match=rf"cannot reach the Dask scheduler at {address} within 0.5 s") as exc:
        run_batch(mixed_root, tmp_path / "out", preset="surveillance-fast", scheduler=address, connect_timeout=0.5)
    assert "\n" not in str(exc.value)


def test_missing_dask_is_one_line(mixed_root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    with pytest.raises(SchedulerError, match=r"needs dask.distributed: pip install 'classicseg\[cluster\]'"):
        run_batch(mixed_root, tmp_path / "out", preset="surveillance-fast", scheduler="tcp://127.0.0.1:8786")


# -- errors before any work -----------------------------------------------------------------
def test_errors_before_any_sequence_runs(mixed_root, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SinkError, match="cannot be written"):
        run_batch(mixed_root, tmp_path / "file.txt" / "out", preset="surveillance-fast", workers=0)
    with pytest.raises(ClassicsegError, match="overlap"):
        run_batch(mixed_root, mixed_root / "out", preset="surveillance-fast", workers=0)
    with pytest.raises(EvalError, match="none of the 3 sequences .* DAVIS annotations"):
        run_batch(mixed_root / "cd", tmp_path / "out", preset="surveillance-fast", metric="davis", workers=0)
    with pytest.raises(ClassicsegError, match="unknown preset"):
        run_batch(mixed_root, tmp_path / "out", preset="nope", workers=0)
    assert not (tmp_path / "out").exists()  # nothing was written


# -- command line -----------------------------------------------------------------------------
@pytest.fixture
def cli_main():
    from classicseg import cli

    return cli.main


def test_cli_batch_table_json_and_errors(cli_main, mixed_root, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli_main(["batch", "-p", "surveillance-fast", "-i", str(mixed_root / "cd"), "-o", str(out), "-j", "0",
                   "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "3 sequences (3 done, 0 skipped, 0 failed)" in text and "CDnet 2014:" in text and "overall" in text
    rc = cli_main(["batch", "-p", "surveillance-fast", "-i", str(mixed_root / "cd"), "-o", str(out), "-j", "0", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["counts"] == {"done": 0, "skipped": 3, "failed": 0}
    assert res == json.loads((out / "scores.json").read_text()) | {"seconds": res["seconds"]}
    rc = cli_main(["eval", "-m", "cdnet", "--pred", str(out), "--gt", str(mixed_root / "cd"), "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["rows"] == res["scores"]["cdnet"]

    (tmp_path / "empty").mkdir()
    rc = cli_main(["batch", "-p", "surveillance-fast", "-i", str(tmp_path / "empty"), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == SourceError.exit_code and err.count("\n") == 1 and "no sequences found under" in err


# -- vos / prior over a DAVIS root: the session layer's extras --------------------------------
def davis_disk_root(root: Path, seqs, n=10):
    """A DAVIS root whose sequences show a moving disk from the first frame (tests.stages.test_vos)."""
    from tests.stages.test_vos import _clip as disk_clip

    for k, name in enumerate(seqs):
        img, ann = root / "JPEGImages" / "480p" / name, root / "Annotations" / "480p" / name
        img.mkdir(parents=True)
        ann.mkdir(parents=True)
        frames, gts = disk_clip(n=n, seed=k, step=2 + k)
        for t, (f, m) in enumerate(zip(frames, gts)):
            cv2.imwrite(str(img / f"{t:05d}.png"), f)
            cv2.imwrite(str(ann / f"{t:05d}.png"), m.astype(np.uint8) * 255)
    return root


def test_batch_vos_over_a_davis_root_equals_run_with_init_mask(tmp_path):
    from classicseg import session

    root = davis_disk_root(tmp_path / "DAVIS", seqs=("cows", "dogs"))
    res = run_batch(root, tmp_path / "out", preset="vos", workers=0)
    assert res.count("done") == 2 and not res.failed
    for seq in ("cows", "dogs"):
        one = session.run(session.Request(
            input=root / "JPEGImages" / "480p" / seq, preset="vos", output=tmp_path / "single" / seq,
            init_mask=root / "Annotations" / "480p" / seq / "00000.png", gt=root / "Annotations" / "480p" / seq))
        batch_score = next(o.score for o in res.outcomes if o.sequence.name == seq)
        assert batch_score.JF == one.score.JF
        assert masks(tmp_path / "out" / seq) == masks(tmp_path / "single" / seq)
        assert json.loads((tmp_path / "out" / seq / "run.json").read_text())["init_mask"].startswith(
            "dataset layout")


def test_batch_sequences_fail_alone_with_a_reason(tmp_path, capsys):
    from classicseg.cli import main

    root = davis_disk_root(tmp_path / "DAVIS", seqs=("cows", "dogs", "emus"), n=6)
    (root / "Annotations" / "480p" / "dogs" / "00000.png").unlink()       # no first-frame annotation
    res = run_batch(root, tmp_path / "out", preset="vos", workers=0)
    by = {o.sequence.name: o for o in res.outcomes}
    assert by["cows"].status == by["emus"].status == "done"
    assert by["dogs"].status == "failed" and "needs the object's mask on the first frame" in by["dogs"].error
    assert res.davis is not None and [s.name for s in res.davis.sequences] == ["cows", "emus"]
    # a prior root that lacks a sequence: that one fails, the others run
    prior = tmp_path / "prior"
    for seq in ("cows", "emus"):
        (prior / seq).mkdir(parents=True)
        for f in (root / "Annotations" / "480p" / seq).iterdir():
            (prior / seq / f.name).write_bytes(f.read_bytes())
    res = run_batch(root, tmp_path / "out2", preset="refine", prior_root=prior, workers=0)
    by = {o.sequence.name: o for o in res.outcomes}
    assert by["cows"].status == by["emus"].status == "done"
    assert by["dogs"].status == "failed" and "no prior for sequence dogs" in by["dogs"].error
    # an init root with a mask for a sequence that does not exist: a warning, the others run
    (tmp_path / "inits").mkdir()
    (tmp_path / "inits" / "ghost.png").write_bytes((root / "Annotations" / "480p" / "cows" / "00000.png").read_bytes())
    (tmp_path / "inits" / "dogs.png").write_bytes((root / "Annotations" / "480p" / "cows" / "00000.png").read_bytes())
    rc = main(["batch", "-p", "vos", "-i", str(root), "-o", str(tmp_path / "out3"), "-j", "0", "--init-root",
               str(tmp_path / "inits"), "--no-progress"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "ghost.png matches no sequence" in out.err
    # refine without a prior root is refused before anything runs
    rc = main(["batch", "-p", "refine", "-i", str(root), "-o", str(tmp_path / "out4"), "-j", "0", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "give --prior-root DIR" in err and not (tmp_path / "out4").exists()
