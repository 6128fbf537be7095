"""The CLI, in-process: exit codes, one-line errors, outputs."""
import json

import cv2
import numpy as np
import pytest

from classicseg.cli import main


def _cdnet_seq(root, n=30, size=8):
    """A tiny CDnet-layout sequence: a square moving over a noisy background, exact GT."""
    rng = np.random.default_rng(1)
    (root / "input").mkdir(parents=True)
    (root / "groundtruth").mkdir()
    for t in range(1, n + 1):
        f = np.clip(90 + rng.normal(0, 2, (48, 64, 3)), 0, 255).astype(np.uint8)
        gt = np.zeros((48, 64), np.uint8)
        if t > 10:
            x = 4 + (t - 10) * 2
            f[20:20 + size, x:x + size] = 230
            gt[20:20 + size, x:x + size] = 255
        cv2.imwrite(str(root / "input" / f"in{t:06d}.png"), f)
        cv2.imwrite(str(root / "groundtruth" / f"gt{t:06d}.png"), gt)
    (root / "temporalROI.txt").write_text(f"11 {n}\n")
    cv2.imwrite(str(root / "ROI.bmp"), np.full((48, 64), 255, np.uint8))
    return root


def test_run_then_eval_end_to_end(tmp_path, capsys):
    seq = _cdnet_seq(tmp_path / "cat" / "seq")
    out = tmp_path / "out"
    rc = main(["run", "--preset", "surveillance", "-i", str(seq), "-o", str(out), "--threads", "1",
               "--overlay", str(tmp_path / "ov.mp4")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "30 frames" in text and "frames/s" in text and "%" in text
    assert sorted(p.name for p in out.glob("bin*.png"))[0] == "bin000001.png"
    assert len(list(out.glob("bin*.png"))) == 30
    summary = json.loads((out / "run.json").read_text())
    assert summary["frames"] == 30 and summary["config"]["pipeline"]
    assert (tmp_path / "ov.mp4").stat().st_size > 0
    rc = main(["eval", "--metric", "cdnet", "--pred", str(out), "--gt", str(seq), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0
    video = res["rows"][0]
    assert video["frames"] == 20 and 0 <= video["f_measure"] <= 1
    rc = main(["eval", "-m", "cdnet", "--pred", str(tmp_path), "--gt", str(tmp_path / "cat")])
    assert rc != 0  # no prediction folder mirrors 'seq' under tmp_path


def test_run_json_summary_and_set_override(tmp_path, capsys):
    seq = _cdnet_seq(tmp_path / "seq")
    rc = main(["run", "-c", str(_config(tmp_path)), "-i", str(seq), "--set", "morph.open.radius=2", "--json",
               "--no-progress"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    s = json.loads(out.out)
    assert s["frames"] == 30 and set(s["stage_seconds"]) == {"bgsub.mog2", "morph.open"}


def _config(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("pipeline:\n  - stage: bgsub.mog2\n  - stage: morph.open\n")
    return f


@pytest.mark.parametrize("args, message, code", [
    (["run", "-i", "/nonexistent/video.mp4", "-o", "{tmp}/o"], "input not found: /nonexistent/video.mp4", 3),
    (["run", "-i", "{seq}", "--preset", "nope"], "unknown preset 'nope'", 2),
    (["run", "-i", "{seq}", "--set", "bgsub.mog2.var_treshold=3", "-c", "{cfg}"],
     "unknown parameter 'var_treshold' (did you mean 'var_threshold'?)", 2),
    (["run", "-i", "{seq}", "-c", "{cfg}", "--set", "morph.open.radius=-1"],
     "stage 2 (morph.open): radius: input should be greater than or equal to 1, got -1", 2),
    (["run", "-i", "{seq}", "-o", "{tmp}/file/sub"], "output folder", 4),
    (["eval", "-m", "cdnet", "--pred", "{tmp}/none", "--gt", "{seq}"], "prediction", 5),
    (["config", "--check", "{tmp}/missing.yaml"], "config file not found", 2),
])
def test_bad_input_gives_one_line_error(tmp_path, capsys, args, message, code):
    seq = _cdnet_seq(tmp_path / "seq", n=12)
    (tmp_path / "file").write_text("x")
    fmt = {"tmp": str(tmp_path), "seq": str(seq), "cfg": str(_config(tmp_path))}
    rc = main([a.format(**fmt) for a in args])
    err = capsys.readouterr().err
    assert rc == code, err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_debug_switch_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="input not found"):
        main(["--debug", "run", "-i", str(tmp_path / "nope")])


def test_all_config_errors_listed(tmp_path, capsys):
    f = tmp_path / "bad.yaml"
    f.write_text("pipeline:\n  - stage: bgsub.mgo2\n  - stage: morph.open\n    radius: 0\n")
    rc = main(["config", "--check", str(f)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "3 problems" in err and "did you mean 'bgsub.mog2'" in err and "radius" in err


def test_no_half_written_masks_after_a_failure(tmp_path, capsys):
    seq = _cdnet_seq(tmp_path / "seq", n=15)
    # a frame of another size in the middle: the run stops with an error
    cv2.imwrite(str(seq / "input" / "in000008.png"), np.zeros((10, 10, 3), np.uint8))
    out = tmp_path / "out"
    rc = main(["run", "-i", str(seq), "-o", str(out)])
    assert rc == 3 and "mixed image sizes" in capsys.readouterr().err
    assert not out.exists() or not list(out.glob("*.part"))


def test_stages_and_config_commands(capsys):
    assert main(["stages"]) == 0
    text = capsys.readouterr().out
    for name in ("bgsub.mog2", "bgsub.knn", "bgsub.gsoc", "morph.fill_holes", "temporal.majority", "roi.mask"):
        assert name in text
    assert "var_threshold = 16.0" in text
    assert main(["stages", "--json"]) == 0
    assert "bgsub.lsbp" in json.loads(capsys.readouterr().out)
    assert main(["config", "--defaults"]) == 0
    assert "pipeline:" in capsys.readouterr().out
    assert main(["config", "--list"]) == 0
    assert "surveillance" in capsys.readouterr().out
    assert main(["stages", "bgsub.mgo2"]) == 2
    assert "did you mean 'bgsub.mog2'" in capsys.readouterr().err


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "classicseg" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_demo_writes_everything_it_names(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--frames", "80", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "surveillance" in text and "MOG2 (OpenCV defaults)" in text
    for name in ("scores.csv", "per_frame.csv", "scores.png", "overlay.mp4"):
        assert (out / name).stat().st_size > 0, name
    assert len(list((out / "masks").glob("bin*.png"))) == 80
    assert (out / "scene" / "temporalROI.txt").read_text().split() == ["41", "80"]
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[0].startswith("method,F,precision") and len(rows) == 3
    # the demo scene is a CDnet sequence: scoring it again gives the same F
    assert main(["eval", "-m", "cdnet", "--pred", str(out / "masks"), "--gt", str(out / "scene"), "--json"]) == 0
    f_again = json.loads(capsys.readouterr().out)["rows"][0]["f_measure"]
    assert f"{f_again:.6f}"[:6] == rows[1].split(",")[1][:6]


def test_eval_mot(tmp_path, capsys):
    seq = tmp_path / "TUD-Test"
    (seq / "gt").mkdir(parents=True)
    rows = "\n".join(f"{f},1,10,10,20,40,1,-1,-1,-1" for f in range(1, 11))
    (seq / "gt" / "gt.txt").write_text(rows + "\n")
    (tmp_path / "tracks.txt").write_text(rows + "\n")
    assert main(["eval", "-m", "mot", "--pred", str(tmp_path / "tracks.txt"), "--gt", str(seq), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["mota"] == 1.0 and row["idf1"] == 1.0 and row["id_switches"] == 0
    (tmp_path / "bad.txt").write_text("1,1,a,b\n")
    assert main(["eval", "-m", "mot", "--pred", str(tmp_path / "bad.txt"), "--gt", str(seq)]) == 5
    assert "bad.txt line 1: malformed MOT row" in capsys.readouterr().err


def test_run_writes_tracks_and_events(tmp_path, capsys):
    seq = _cdnet_seq(tmp_path / "seq", n=30)
    cfg = tmp_path / "zones.yaml"
    cfg.write_text(
        "pipeline:\n"
        "  - stage: bgsub.mog2\n"
        "  - stage: blobs.components\n    min_area: 20\n"
        "  - stage: track.hungarian\n    min_hits: 1\n    w_app: 0\n"
        "  - stage: events.zones\n    zones: [{name: right, polygon: [[32, 0], [64, 0], [64, 48], [32, 48]]}]\n"
    )
    out = tmp_path / "out"
    assert main(["run", "-c", str(cfg), "-i", str(seq), "-o", str(out), "--snapshots", "--no-progress"]) == 0
    tracks = (out / "tracks.txt").read_text().splitlines()
    assert tracks and all(len(r.split(",")) == 10 for r in tracks)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "enter" and e["zone"] == "right" for e in events)
    assert list((out / "snapshots").glob("*_enter_right_*.jpg"))
    enter = next(e for e in events if e["event"] == "enter")
    assert enter["snapshot"].startswith("snapshots/") and (out / enter["snapshot"]).is_file()
    assert "leave" not in {e["event"] for e in events} or all("box" in e for e in events if e["event"] == "leave")


def test_run_events_only_records_around_events(tmp_path, capsys, moving_square):
    import cv2

    frames, _ = moving_square(n=40)
    video = tmp_path / "square.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for f in frames:
        w.write(f)
    w.release()
    out = tmp_path / "out"
    # surveillance-fast has no events stage: --events-only adds events.motion (motion from 2 s, after its warm-up)
    assert main(["run", "-p", "surveillance-fast", "-i", str(video), "-o", str(out), "--events-only",
                 "--pre-capture", "0.5", "--post-capture", "0.5", "--no-progress"]) == 0
    assert "events.jsonl (2 lines)" in capsys.readouterr().out
    lines = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    start, end = lines
    assert (start["event"], end["event"]) == ("start", "end") and start["time"] >= 2.0
    assert start["wall"].endswith("Z") and end["end_time"] > start["start_time"]
    assert (out / end["snapshot"]).is_file() and (out / end["clip"]).is_file()
    assert not list(out.glob("*.png"))  # no mask per frame

