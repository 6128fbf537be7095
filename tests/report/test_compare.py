"""`classicseg compare` and `classicseg report`: runs, scores as the benchmarks pool them, files, bad input."""
import csv
import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from classicseg.cli import main
from classicseg.errors import ConfigError, ResultsError
from classicseg.metrics import cdnet, davis, mot
from classicseg.report import build_report, run_compare
from classicseg.report.store import RECORD
from tests.test_batch import N, cdnet_seq, davis_disk_root


@pytest.fixture
def cd_root(tmp_path):
    root = tmp_path / "cd"
    cdnet_seq(root / "baseline" / "alpha", seed=0)
    cdnet_seq(root / "baseline" / "beta", seed=1)
    cdnet_seq(root / "jitter" / "gamma", seed=2)
    return root


def _rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def _row(rows, method, level, sequence, benchmark=None):
    return next(r for r in rows if r["method"] == method and r["level"] == level and r["sequence"] == sequence
                and benchmark in (None, r["benchmark"]))


def test_compare_scores_equal_eval_and_pool_as_cdnet_does(cd_root, tmp_path):
    out = tmp_path / "cmp"
    res = run_compare("mog2,bgsub.knn,surveillance-fast", cd_root, out, workers=0)
    assert not res.failures and [m.name for m in res.methods] == ["mog2", "bgsub.knn", "surveillance-fast"]
    rows = _rows(out)
    # one row per method x sequence, per category and overall
    assert len(rows) == 3 * (3 + 2 + 1)
    for method in ("mog2", "bgsub.knn", "surveillance-fast"):
        # masks in the dataset's own layout: `classicseg eval` reads them as they are, same numbers
        ds = cdnet.evaluate_dataset(out / method, cd_root)
        for v in ds.videos:
            r = _row(rows, method, "sequence", f"{v.category}/{v.name}")
            assert float(r["f_measure"]) == pytest.approx(v.metrics["f_measure"], abs=1e-12)
            assert float(r["pwc"]) == pytest.approx(v.metrics["pwc"], abs=1e-12)
            assert int(r["frames"]) == N and float(r["fps"]) > 0
        for cat, m in ds.categories.items():
            assert float(_row(rows, method, "category", cat)["f_measure"]) == pytest.approx(m["f_measure"])
        overall = _row(rows, method, "overall", "overall")
        assert float(overall["f_measure"]) == pytest.approx(ds.overall["f_measure"])
        assert overall["complete"] == "3/3"
        assert (out / method / "baseline" / "alpha" / "bin000010.png").is_file()
        assert json.loads((out / method / RECORD).read_text())["method"] == method
    # category = mean of its videos; overall = mean of categories (not of videos)
    f = {r["sequence"]: float(r["f_measure"]) for r in rows if r["method"] == "mog2"}
    assert f["baseline"] == pytest.approx((f["baseline/alpha"] + f["baseline/beta"]) / 2)
    assert f["overall"] == pytest.approx((f["baseline"] + f["jitter"]) / 2)
    saved = json.loads((out / "results.json").read_text())
    assert [m["method"] for m in saved["methods"]] == ["mog2", "bgsub.knn", "surveillance-fast"]
    assert saved["rows"][0]["method"] == "mog2" and saved["report_seconds"] > 0
    assert "classicseg compare --methods mog2,bgsub.knn,surveillance-fast" in saved["methods"][0]["command"]
    assert saved["methods"][0]["versions"]["numpy"] == np.__version__
    # tables: the best F is bold, LaTeX is escaped
    md = (out / "table.md").read_text()
    best = max(("mog2", "bgsub.knn", "surveillance-fast"), key=lambda m: f_of(rows, m))
    assert re.search(rf"\| {re.escape(best)} \|.*\*\*{f_of(rows, best):.3f}\*\*", md)
    tex = (out / "table.tex").read_text()
    assert r"\begin{tabular}" in tex and "bgsub.knn" in tex and "surveillance-fast" in tex
    assert r"\textbf{" in tex


def f_of(rows, method):
    return float(_row(rows, method, "overall", "overall")["f_measure"])


def test_rerun_resumes_and_report_rebuilds_with_a_baseline(cd_root, tmp_path, capsys):
    out = tmp_path / "cmp"
    run_compare("mog2", cd_root, out, workers=0)
    stamp = (out / "mog2" / "baseline" / "alpha" / "bin000010.png").stat().st_mtime_ns
    # a later compare into the same folder adds its methods; finished sequences are not redone
    run_compare("mog2,framediff", cd_root, out, workers=0)
    assert (out / "mog2" / "baseline" / "alpha" / "bin000010.png").stat().st_mtime_ns == stamp
    before = _rows(out)
    (out / "results.csv").unlink()
    (out / "report.html").unlink()
    rc = main(["report", str(out), "--baseline", "mog2"])
    text = capsys.readouterr().out
    assert rc == 0 and "report.html" in text and "framediff" in text
    assert _rows(out) == before
    html = (out / "report.html").read_text()
    d = f_of(before, "framediff") - f_of(before, "mog2")
    assert f"({d:+.3f})" in html and "Differences in brackets are to <b>mog2</b>" in html
    assert f"({d:+.3f})" in (out / "table.md").read_text()
    rc = main(["report", str(out), "--baseline", "mgo2"])
    err = capsys.readouterr().err
    assert rc == ConfigError.exit_code and "(did you mean 'mog2'?)" in err and err.count("\n") == 1


def test_a_method_failing_on_one_sequence(cd_root, tmp_path, capsys):
    # one frame of a different size: that sequence cannot be read, the others run
    bad = cd_root / "baseline" / "beta" / "input" / "in000005.png"
    cv2.imwrite(str(bad), np.zeros((30, 30, 3), np.uint8))
    out = tmp_path / "cmp"
    rc = main(["compare", "--methods", "mog2,framediff", "-i", str(cd_root), "-o", str(out), "-j", "0",
               "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 7, cap.err
    assert "2 of 6 runs failed (first: mog2 on baseline/beta: " in cap.err and "mixed image sizes" in cap.err
    assert cap.err.strip().count("\n") == 2  # two warnings (one per failed run) and the one-line error
    rows = _rows(out)
    beta = _row(rows, "mog2", "sequence", "baseline/beta")
    assert beta["status"] == "failed" and "mixed image sizes" in beta["error"] and beta["f_measure"] == ""
    assert _row(rows, "mog2", "sequence", "baseline/alpha")["f_measure"] != ""
    assert _row(rows, "mog2", "overall", "overall")["complete"] == "2/3"
    html = (out / "report.html").read_text()
    assert "mixed image sizes" in html and "partial: 2/3 sequences scored" in html
    # a partial row never counts as the best of its column
    assert "<strong>" not in html.split('id="cdnet-overall"')[1].split("</table>")[0]


def test_a_root_without_ground_truth(tmp_path):
    root = tmp_path / "clips"
    for k in range(2):
        d = root / f"clip{k}"
        d.mkdir(parents=True)
        for t in range(12):
            f = np.full((40, 56, 3), 80 + 10 * k, np.uint8)
            f[10:20, 2 + 3 * t:12 + 3 * t] = 220
            cv2.imwrite(str(d / f"{t:04d}.png"), f)
    out = tmp_path / "cmp"
    res = run_compare(["mog2", "framediff"], root, out, workers=0)
    assert not res.failures
    rows = _rows(out)
    seq = _row(rows, "mog2", "sequence", "clip1")
    assert seq["benchmark"] == "" and seq["status"] == "done" and float(seq["fps"]) > 0 and seq["frames"] == "12"
    assert "f_measure" not in rows[0]
    assert (out / "mog2" / "clip1" / "0011.png").is_file()
    html = (out / "report.html").read_text()
    assert "No sequence has ground truth" in html and "Sequences without ground truth" in html
    assert html.count('<img') >= 2 * 3  # input + each method's mask, for each clip (no ground truth picture)


def test_results_of_two_dataset_roots_are_refused(cd_root, tmp_path, capsys):
    other = tmp_path / "other"
    cdnet_seq(other / "baseline" / "delta", seed=3)
    run_compare("mog2", cd_root, tmp_path / "a", workers=0)
    run_compare("framediff", other, tmp_path / "b", workers=0)
    # compare into a folder that holds another root's results: refused before anything runs
    with pytest.raises(ResultsError, match="different dataset roots"):
        run_compare("framediff", other, tmp_path / "a", workers=0)
    assert not (tmp_path / "a" / "framediff").exists()
    # report over a folder where results of two roots were put together
    shutil.copytree(tmp_path / "b" / "framediff", tmp_path / "a" / "framediff")
    rc = main(["report", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert rc == ResultsError.exit_code and err.count("\n") == 1
    assert f"{cd_root.resolve()} (mog2)" in err and f"{other.resolve()} (framediff)" in err
    rc = main(["report", str(tmp_path / "nothing")])
    assert rc == ResultsError.exit_code and "results folder not found" in capsys.readouterr().err


def test_unknown_method_is_refused_before_anything_runs(cd_root, tmp_path, capsys):
    rc = main(["compare", "-m", "mog2,surveilance", "-i", str(cd_root), "-o", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert rc == ConfigError.exit_code and "unknown method 'surveilance' (did you mean 'surveillance'?)" in err
    assert not (tmp_path / "cmp").exists()
    rc = main(["compare", "-m", "mog2", "-i", str(cd_root), "-o", str(tmp_path / "cmp"), "-j", "1",
               "--scheduler", "tcp://127.0.0.1:1"])
    assert rc == 2 and "give --workers or --scheduler, not both" in capsys.readouterr().err


def test_davis_methods_with_a_pipeline_file_and_two_roots(tmp_path):
    dv = davis_disk_root(tmp_path / "DAVIS", seqs=("cows", "dogs"), n=8)
    cd = tmp_path / "cd"
    cdnet_seq(cd / "baseline" / "alpha", seed=0)
    warp = Path(__file__).resolve().parents[2] / "samples" / "naive-warp.yaml"
    out = tmp_path / "cmp"
    res = run_compare(["vos", str(warp)], [dv, cd], out, workers=0)
    rows = _rows(out)
    assert [m.name for m in res.methods] == ["vos", "naive-warp"]
    for method in ("vos", "naive-warp"):
        ds = davis.evaluate_dataset(out / method / "DAVIS", dv)
        for s in ds.sequences:
            r = _row(rows, method, "sequence", f"DAVIS/{s.name}")
            assert float(r["JF"]) == pytest.approx(s.JF) and float(r["J_decay"]) == pytest.approx(s.J_decay)
        assert float(_row(rows, method, "overall", "overall", "davis")["JF"]) == pytest.approx(ds.JF)
        # a CDnet root beside it: vos needs a first-frame mask there and fails alone, with its reason
    cd_row = _row(rows, "vos", "sequence", "cd/baseline/alpha")
    assert cd_row["status"] == "failed" and "mask on the first frame" in cd_row["error"]
    rec = json.loads((out / "vos" / RECORD).read_text())
    pf = next(s for s in rec["sequences"] if s["sequence"] == "DAVIS/cows")["per_frame"]
    assert pf["frame"] == list(range(1, 7)) and len(pf["J"]) == len(pf["F"]) == 6
    html = (out / "report.html").read_text()
    assert "DAVIS/cows: J&amp;F per frame" in html


def _mot_root(root: Path, n=30):
    """A MOTChallenge sequence: img1/ frames with two squares walking, gt/gt.txt with their boxes."""
    seq = root / "Squares"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    lines = []
    for t in range(n):
        f = np.full((96, 128, 3), 90, np.uint8)
        for k, (y, x0, v) in enumerate(((20, 5, 3), (60, 110, -3))):
            x = x0 + v * t
            if t >= 5 and 0 <= x <= 128 - 14:
                f[y:y + 14, x:x + 14] = 230
                lines.append(f"{t + 1},{k + 1},{x},{y},14,14,1,-1,-1,-1")
        cv2.imwrite(str(seq / "img1" / f"{t + 1:06d}.jpg"), f)
    (seq / "gt" / "gt.txt").write_text("\n".join(lines) + "\n")
    return root


def test_mot_sequences_are_scored_from_tracks(tmp_path):
    root = _mot_root(tmp_path / "mot")
    cfg = tmp_path / "blobs.yaml"
    cfg.write_text("name: blobs\npipeline:\n  - stage: bgsub.mog2\n    history: 20\n  - stage: blobs.components\n"
                   "    min_area: 50\n  - stage: track.hungarian\n    min_hits: 1\n")
    out = tmp_path / "cmp"
    run_compare([str(cfg), "mog2"], root, out, workers=0)
    rows = _rows(out)
    r = _row(rows, "blobs", "sequence", "Squares")
    ref = mot.evaluate(root / "Squares" / "gt" / "gt.txt", out / "blobs" / "Squares" / "tracks.txt")
    assert r["benchmark"] == "mot" and float(r["mota"]) == pytest.approx(ref.mota)
    assert float(r["idf1"]) == pytest.approx(ref.idf1) and int(r["id_switches"]) == ref.id_switches
    assert float(_row(rows, "blobs", "overall", "overall")["mota"]) == pytest.approx(ref.mota)
    m = _row(rows, "mog2", "sequence", "Squares")
    assert m["status"] == "done" and m["mota"] == "" and "writes no tracks" in m["error"]


def test_report_without_results_and_record_order(cd_root, tmp_path):
    with pytest.raises(ResultsError, match="no results under"):
        (tmp_path / "empty").mkdir()
        build_report(tmp_path / "empty")
    out = tmp_path / "cmp"
    run_compare("framediff,mog2", cd_root, out, workers=0)
    files = build_report(out, first=["mog2"])
    assert [m["method"] for m in json.loads(files["json"].read_text())["methods"]] == ["mog2", "framediff"]
    files = build_report(out)  # keeps the last order
    assert [m["method"] for m in json.loads(files["json"].read_text())["methods"]] == ["mog2", "framediff"]


def test_compare_on_a_dask_cluster_equals_local_workers(cd_root, tmp_path):
    distributed = pytest.importorskip("distributed")
    run_compare("mog2,framediff", cd_root, tmp_path / "local", workers=0)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = run_compare("mog2,framediff", cd_root, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert not res.failures
    keep = ("method", "level", "sequence", "f_measure", "pwc", "complete")
    local = [{k: r[k] for k in keep} for r in _rows(tmp_path / "local")]
    assert [{k: r[k] for k in keep} for r in _rows(tmp_path / "dask")] == local
    rec = json.loads((tmp_path / "dask" / "mog2" / RECORD).read_text())
    assert rec["machine"]["dask scheduler"] == cluster.scheduler_address
