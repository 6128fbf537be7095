"""Scores of a comparison as rows: one per method x sequence, then each benchmark's pooled rows.

Each method's run is kept as a *record* (a plain dict, ``DIR/<method>/compare.json``, see
:func:`sequence_record`); every table and chart is computed from the records, so a report
can be rebuilt, merged and re-baselined without running anything again.

Pooled rows follow each benchmark's published rules, reusing the scoring code:

* CDnet 2014: a category scores the mean of its videos' metrics, the overall row the mean
  of the categories (:meth:`classicseg.metrics.cdnet.DatasetResult.from_videos`);
* DAVIS: the mean over all objects of all sequences
  (:meth:`classicseg.metrics.davis.DavisDatasetResult.from_sequences`);
* MOTChallenge: CLEAR MOT and identity counts summed over the sequences, then the ratios
  (as TrackEval combines sequences): MOTA = 1 - (FN + FP + IDSW) / GT,
  IDF1 = 2 IDTP / (GT + predictions). Scores that cannot be pooled from counts (HOTA)
  are left blank in the overall row.

A pooled row over a method whose run failed on (or could not score) some of the scope's
sequences says so (``complete`` = ``scored/total``) and never counts as the best of its
column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

__all__ = ["Column", "Benchmark", "BENCHMARKS", "SPEED", "sequence_record", "build_rows", "ROW_KEYS",
           "best_values", "metric_keys", "is_number"]


@dataclass(frozen=True)
class Column:
    """A score column: its key in the rows, its label, which way is better, its format."""

    key: str
    label: str
    higher: bool = True
    digits: int = 3

    def format(self, v) -> str:
        if not is_number(v):
            return ""
        if isinstance(v, (int, np.integer)) or float(v).is_integer() and self.digits == 0:
            return f"{int(v)}"
        return f"{float(v):.{self.digits}f}"


@dataclass(frozen=True)
class Benchmark:
    key: str
    title: str
    main: str
    columns: tuple
    rules: str

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


BENCHMARKS = {
    "cdnet": Benchmark("cdnet", "CDnet 2014 rules", "f_measure", (
        Column("recall", "Re"), Column("specificity", "Sp"), Column("fpr", "FPR", False, 4),
        Column("fnr", "FNR", False), Column("pwc", "PWC", False, 2), Column("precision", "Pr"),
        Column("f_measure", "F")),
        "CDnet 2014 comparator: confusion counts summed over the frames of a video's temporal ROI inside its "
        "ROI (unknown 170 ignored, shadow 50 is background); a category is the mean of its videos, the overall "
        "score the mean of the categories."),
    "davis": Benchmark("davis", "DAVIS rules (semi-supervised)", "JF", (
        Column("JF", "J&F"), Column("J_mean", "J"), Column("J_recall", "J recall"),
        Column("J_decay", "J decay", False), Column("F_mean", "F"), Column("F_recall", "F recall"),
        Column("F_decay", "F decay", False)),
        "DAVIS toolkit: J region similarity, F boundary F-measure (tolerance 0.008 of the diagonal), first and "
        "last frames excluded; mean, recall (> 0.5) and decay (first minus last quarter) per object; the "
        "overall score is the mean over all objects."),
    "mot": Benchmark("mot", "MOTChallenge rules (CLEAR MOT, IDF1)", "mota", (
        Column("mota", "MOTA"), Column("idf1", "IDF1"), Column("hota", "HOTA"),
        Column("id_switches", "IDSW", False, 0), Column("false_positives", "FP", False, 0),
        Column("misses", "FN", False, 0), Column("precision", "Pr"), Column("recall", "Re")),
        "MOTChallenge (as TrackEval): boxes matched at IoU >= 0.5; MOTA = 1 - (FN + FP + IDSW) / GT; "
        "IDF1 = 2 IDTP / (GT + predictions); the overall row sums the counts of the sequences."),
}

#: The speed column: frames per second of the pipeline's stages (decoding and writing excluded).
SPEED = Column("fps", "frames/s", True, 1)

#: The keys of every row, in the order of results.csv (metric columns follow).
ROW_KEYS = ("method", "benchmark", "level", "category", "sequence", "status", "error", "complete", "frames",
            "seconds", "stage_seconds", "fps")


def is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def metric_keys(benchmark: str) -> list[str]:
    return [c.key for c in BENCHMARKS[benchmark].columns]


# --------------------------------------------------------------------------- one sequence
def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    return v


def _nan_to_none(values):
    return [None if (isinstance(x, float) and not math.isfinite(x)) else round(float(x), 6) for x in values]


def score_fields(benchmark: str | None, score) -> tuple[dict | None, dict | None, dict | None]:
    """``(scores, per_frame, pool)`` of a scoring result object (None, None, None without one).

    ``scores`` are the benchmark's metrics; ``per_frame`` the per-frame values (CDnet ``F``,
    DAVIS ``J`` and ``F`` averaged over objects); ``pool`` what the pooled rows need (CDnet
    counts, DAVIS per-object statistics, MOT counts).
    """
    if score is None or benchmark is None:
        return None, None, None
    if benchmark == "cdnet":
        frames = [int(n) for n, _ in score.per_frame]
        per_frame = {"frame": frames, "F": _nan_to_none([f for _, f in score.per_frame])}
        return (_plain(score.metrics), per_frame,
                {"counts": _plain(score.counts), "category": score.category})
    if benchmark == "davis":
        keys = metric_keys("davis")
        scores = {k: float(getattr(score, k)) for k in keys}
        per_frame = {"frame": [int(n) for n in score.frames], "J": _nan_to_none(np.nanmean(score.J, axis=0)),
                     "F": _nan_to_none(np.nanmean(score.F, axis=0))}
        return scores, per_frame, {"per_object": _plain(score.per_object)}
    if benchmark == "mot":
        d = _plain(score.to_dict())
        return d, None, {k: d[k] for k in ("misses", "false_positives", "id_switches", "gt", "predictions", "idtp",
                                             "matches") if k in d}
    return None, None, None


def sequence_record(key: str, outcome, root: str, output_rel: str, speed: dict | None) -> dict:
    """One sequence of one method's run, as stored in its record.

    Parameters
    ----------
    key : str
        The sequence's name in the tables (its path under the input root).
    outcome : classicseg.batch.SequenceOutcome
    root : str
        The input root it was found under.
    output_rel : str
        Its output folder, relative to the comparison's folder.
    speed : dict, optional
        The run summary (``run.json``): frames and the stages' seconds.
    """
    seq = outcome.sequence
    bench = seq.metric if outcome.score is not None else None
    scores, per_frame, pool = score_fields(bench, outcome.score)
    frames = outcome.frames
    stage_s = None
    if speed:
        frames = speed.get("frames", frames)
        st = speed.get("stage_seconds")
        if isinstance(st, dict) and st:
            stage_s = float(sum(v for v in st.values() if is_number(v)))
    fps = frames / stage_s if frames and stage_s else None
    return {
        "sequence": key, "name": seq.name, "category": seq.category, "kind": seq.kind, "root": root,
        "input": str(seq.path), "gt": str(seq.gt) if seq.gt else None, "benchmark": seq.metric,
        "status": outcome.status, "error": outcome.error, "frames": frames,
        "seconds": round(float(outcome.seconds), 4), "stage_seconds": None if stage_s is None else round(stage_s, 4),
        "fps": None if fps is None else round(fps, 2), "output": output_rel,
        "scores": scores, "per_frame": per_frame, "pool": pool,
    }


# --------------------------------------------------------------------------- pooled rows
def _speed(seqs: list[dict]) -> tuple[int | None, float | None, float | None]:
    ok = [s for s in seqs if s.get("frames") and is_number(s.get("stage_seconds"))]
    if not ok:
        return None, None, None
    frames = sum(int(s["frames"]) for s in ok)
    secs = sum(float(s["stage_seconds"]) for s in ok)
    return frames, round(secs, 4), (round(frames / secs, 2) if secs > 0 else None)


def _pool_cdnet(seqs: list[dict]) -> tuple[dict, dict]:
    from classicseg.metrics.cdnet import DatasetResult, SequenceResult

    vids = [SequenceResult(s["name"], s["category"], np.asarray(s["pool"]["counts"]), s["scores"], [])
            for s in seqs]
    res = DatasetResult.from_videos(vids)
    return res.categories, res.overall


def _pool_davis(seqs: list[dict]) -> dict:
    from classicseg.metrics.davis import DavisDatasetResult

    objs = [SimpleNamespace(per_object=s["pool"]["per_object"]) for s in seqs]
    res = DavisDatasetResult.from_sequences(objs)
    return {k: getattr(res, k) for k in metric_keys("davis")}


def _pool_mot(seqs: list[dict]) -> dict:
    tot = {k: sum(int(s["pool"].get(k, 0)) for s in seqs)
           for k in ("misses", "false_positives", "id_switches", "gt", "predictions", "idtp", "matches")}
    gt, pred = tot["gt"], tot["predictions"]
    return {"mota": 1.0 - (tot["misses"] + tot["false_positives"] + tot["id_switches"]) / gt if gt else None,
            "idf1": 2.0 * tot["idtp"] / (gt + pred) if gt + pred else None,
            "id_switches": tot["id_switches"], "false_positives": tot["false_positives"], "misses": tot["misses"],
            "precision": tot["matches"] / pred if pred else None, "recall": tot["matches"] / gt if gt else None}


def _scored(s: dict) -> bool:
    return s.get("status") != "failed" and s.get("scores") is not None and s.get("pool") is not None


def _row(method: str, bench: str | None, level: str, category: str, sequence: str, seqs: list[dict],
         scores: dict | None, status: str = "", error: str | None = None) -> dict:
    frames, secs, fps = _speed(seqs)
    scored = sum(_scored(s) if bench in BENCHMARKS else s.get("status") != "failed" for s in seqs)
    row = {"method": method, "benchmark": bench or "", "level": level, "category": category, "sequence": sequence,
           "status": status, "error": error or "", "complete": f"{scored}/{len(seqs)}", "frames": frames,
           "seconds": round(sum(float(s.get("seconds") or 0) for s in seqs), 3), "stage_seconds": secs, "fps": fps}
    if bench in BENCHMARKS:
        for k in metric_keys(bench):
            v = (scores or {}).get(k)
            row[k] = float(v) if is_number(v) and not isinstance(v, (int, np.integer)) else v
    return row


def method_rows(record: dict) -> list[dict]:
    """The rows of one method: its sequences, then per benchmark its categories (CDnet) and overall."""
    name = record["method"]
    seqs = record.get("sequences") or []
    rows = [_row(name, s.get("benchmark"), "sequence", s.get("category", ""), s["sequence"], [s], s.get("scores"),
                 s.get("status", ""), s.get("error")) for s in seqs]
    for bench in BENCHMARKS:
        scope = [s for s in seqs if s.get("benchmark") == bench]
        if not scope:
            continue
        ok = [s for s in scope if _scored(s)]
        if bench == "cdnet":
            cats, overall = _pool_cdnet(ok) if ok else ({}, None)
            for cat in dict.fromkeys(s.get("category", "") for s in scope):
                in_cat = [s for s in scope if s.get("category", "") == cat]
                rows.append(_row(name, bench, "category", cat, cat, in_cat, cats.get(cat)))
        elif bench == "davis":
            overall = _pool_davis(ok) if ok else None
        else:
            overall = _pool_mot(ok) if ok else None
        rows.append(_row(name, bench, "overall", "", "overall", scope, overall))
    plain = [s for s in seqs if s.get("benchmark") not in BENCHMARKS]
    if len(plain) > 1:  # sequences without ground truth: their speed together
        rows.append(_row(name, None, "overall", "", "overall", plain, None))
    return rows


def build_rows(records: list[dict]) -> list[dict]:
    """Every row of every method, methods in the order given."""
    return [r for rec in records for r in method_rows(rec)]


def is_complete(row: dict) -> bool:
    done, _, total = str(row.get("complete", "")).partition("/")
    return done == total and done != "0"


def best_values(rows: list[dict], key: str, higher: bool) -> float | None:
    """The best value of ``key`` among ``rows`` that are complete (None when none has one)."""
    vals = [float(r[key]) for r in rows if is_number(r.get(key)) and is_complete(r)]
    if not vals:
        return None
    return max(vals) if higher else min(vals)
