"""Checks of a run export made before anything is created, and what an export warns about.

Params and tags longer than MLflow keeps are refused at import and named at export: the server
cuts a param value past ``MAX_PARAM_VAL_LENGTH`` and a tag value past ``MAX_TAG_VAL_LENGTH``
without an error, and refuses keys past ``MAX_ENTITY_KEY_LENGTH``. An import refuses such a run
before creating anything (nothing is lost silently); an export keeps the value as the source has
it, and warns that no import will take it as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from mlflow.utils.validation import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
)

from ..errors import MigrateError, ValueTooLongError
from ..exportdir.experiment_dir import RunEntry
from ..exportdir.layout import RUN_JSON
from ..exportdir.run_dir import RunDir
from ..report import FAILED, Report, failure_reason


def too_long(rec: dict[str, Any]) -> Iterator[str]:
    """One description per param or tag of the run record ``rec`` that MLflow would not keep."""
    for kind, values, limit in (
        ("param", rec["params"], MAX_PARAM_VAL_LENGTH),
        ("tag", rec["tags"], MAX_TAG_VAL_LENGTH),
    ):
        for key, value in values.items():
            if len(key) > MAX_ENTITY_KEY_LENGTH:
                yield (
                    f"{kind} key {key[:40]!r}... is {len(key)} characters; "
                    f"MLflow keeps {MAX_ENTITY_KEY_LENGTH}"
                )
            elif value is not None and len(value) > limit:
                yield (
                    f"{kind} {key!r} is {len(value)} characters long; the destination "
                    f"keeps only {limit} and would cut it silently"
                )


def check_values(rec: dict[str, Any], where: Path) -> None:
    """Refuse values the server would silently truncate, before anything is created."""
    for problem in too_long(rec):
        raise ValueTooLongError(f"{where}: {problem}")


def export_warnings(rec: dict[str, Any], run_id: str) -> list[str]:
    """What an export says of a run whose values no import will take as they are."""
    return [
        f"run {run_id}: {problem}; importing this export will refuse the run"
        for problem in too_long(rec)
    ]


def checked_runs(
    entries: list[RunEntry], report: Report, imported_before: frozenset[str] = frozenset()
) -> list[RunEntry]:
    """Entries whose folder is there and whose run.json and metric history pass their checks,
    each with its parent (read from run.json if unlisted). Checked before the experiment is
    created: the cost is one more read of each metric history, the gain that a broken export
    leaves nothing on the destination. Artifacts are checked as each run is imported.

    Runs in ``imported_before`` (already on the destination) are not read: a rerun over an
    unchanged export costs no file reads; their incremental sync checks what it reads."""
    usable = []
    for entry in entries:
        if entry.run_id in imported_before and entry.parent_known and entry.path is not None:
            usable.append(entry)
            continue
        if entry.path is None:
            report.add(
                "run",
                entry.run_id,
                FAILED,
                None,
                "listed in experiment.json but its folder is missing",
            )
            continue
        try:
            run_dir = RunDir(entry.path, entry.logged_models)
            check_values(run_dir.record, run_dir.path / RUN_JSON)
            run_dir.check_metrics_file()
        except MigrateError as exc:
            report.add("run", entry.run_id, FAILED, None, failure_reason(exc))
            continue
        if not entry.parent_known:
            # run.json has the last word on ids (the folder name usually agrees).
            entry.run_id = run_dir.source_run_id
            entry.parent_run_id = run_dir.record["tags"].get(MLFLOW_PARENT_RUN_ID)
            entry.parent_known = True
        usable.append(entry)
    return usable
