"""Incremental export: the runs of a previous export in the same folder that can stay as they are.

MLflow keeps no last-update time on a run, so a change is seen in what one search of the
experiment already returns per run: its status, end time, lifecycle, name, params, tags and,
per metric key, the latest point (step, timestamp, value) that the server keeps for it. A hash
of these is the run's source fingerprint. Each run export records the fingerprint of the run it
wrote (``run.json``, and the experiment's run listing); a later export into the same folder
keeps a run's folder as it is when the search returns the same fingerprint, and reads neither
its metric history nor its artifacts again.

A run that has not ended (RUNNING, SCHEDULED) is always exported again: a live run can add
files and points without its fingerprint changing. Not seen on an ended run: files added to it,
metric points logged behind a key's latest point (at a lower step, or the same step at an
earlier time), and changes to its LoggedModels or dataset inputs, when nothing in the
fingerprint changes with them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlflow.entities import RunStatus

from ..exportdir.run_dir import recorded_fingerprint

UNCHANGED = "unchanged"


def fingerprint(run) -> str:
    """The source fingerprint of ``run`` (a Run from ``get_run`` or ``search_runs``)."""
    info, data = run.info, run.data
    # The proto holds each key's latest point whole; ``data.metrics`` has only its value.
    points = data.to_proto().metrics
    latest = sorted((m.key, int(m.step), int(m.timestamp), repr(float(m.value))) for m in points)
    value = [
        info.status,
        info.end_time,
        info.start_time,
        info.lifecycle_stage,
        info.run_name,
        sorted(data.params.items()),
        sorted(data.tags.items()),
        latest,
    ]
    text = json.dumps(value, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def has_ended(run) -> bool:
    return RunStatus.is_terminated(RunStatus.from_string(run.info.status))


def reusable(run, path: Path) -> bool:
    """Whether the complete run export in ``path`` is of ``run`` as it is now on the source."""
    return has_ended(run) and recorded_fingerprint(path) == fingerprint(run)
