"""A batch's outcome: one row per sequence and the dataset scores pooled by each benchmark's rules."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from classicseg.batch.task import SequenceOutcome

__all__ = ["BatchResult"]


@dataclass
class BatchResult:
    """Outcome of :func:`run_batch`.

    Attributes
    ----------
    outcomes : list[SequenceOutcome]
        One per sequence, in discovery order.
    cdnet : classicseg.metrics.cdnet.DatasetResult or None
        Per video, per category (mean of videos) and overall (mean of categories).
    davis : classicseg.metrics.davis.DavisDatasetResult or None
        Per sequence and global.
    """

    root: Path
    output: Path
    pipeline: str
    config_hash: str
    workers: int
    scheduler: str | None
    seconds: float
    outcomes: list
    cdnet: object = None
    davis: object = None

    @classmethod
    def pooled(cls, outcomes: list, **fields) -> "BatchResult":
        """A result whose dataset scores pool the scored outcomes by each benchmark's rules,
        in discovery order (so they do not depend on the number of workers or on the order
        in which sequences finished)."""
        from classicseg.metrics.cdnet import DatasetResult
        from classicseg.metrics.davis import DavisDatasetResult

        ok = [o for o in outcomes if o.status != "failed" and o.score is not None]
        cd = [o.score for o in ok if o.sequence.metric == "cdnet"]
        dv = [o.score for o in ok if o.sequence.metric == "davis"]
        return cls(outcomes=outcomes, cdnet=DatasetResult.from_videos(cd) if cd else None,
                   davis=DavisDatasetResult.from_sequences(dv) if dv else None, **fields)

    @property
    def failed(self) -> list[SequenceOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def scores(self) -> dict:
        """``{"cdnet": rows, "davis": rows}`` (only the metrics that were computed)."""
        out = {}
        if self.cdnet is not None:
            out["cdnet"] = _plain(self.cdnet.table())
        if self.davis is not None:
            out["davis"] = _plain(self.davis.table())
        return out

    def to_dict(self) -> dict:
        return {"input": str(self.root), "output": str(self.output), "pipeline": self.pipeline,
                "config_hash": self.config_hash, "workers": self.workers, "scheduler": self.scheduler,
                "seconds": round(self.seconds, 3),
                "counts": {s: self.count(s) for s in ("done", "skipped", "failed")},
                "sequences": [o.to_dict() for o in self.outcomes], "scores": self.scores()}


def _plain(obj):
    """JSON-ready copy: numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        return obj.item()
    return obj
