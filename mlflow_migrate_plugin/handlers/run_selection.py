"""Which runs of an experiment an export takes: every option of export-experiment that selects.

``run_ids`` picks runs (else every run of the experiment); ``check_nested_runs`` adds every
descendant of a picked run, at any depth, found through the ``mlflow.parentRunId`` tag;
``run_start_time`` keeps runs that started on or after a UTC day; ``export_deleted_runs`` keeps
deleted runs too. A picked id that cannot be exported is reported with its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mlflow.entities import LifecycleStage, ViewType
from mlflow.exceptions import MlflowException
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from ..errors import UsageError
from ..report import SKIPPED, Report
from ..transfer.engine import Engine


@dataclass
class RunSelection:
    """The export-experiment options that choose runs."""

    run_ids: list[str] | None = None
    run_start_time: str | None = None
    export_deleted_runs: bool = False
    check_nested_runs: bool = False
    # Runs that started before this UTC day only (export-all's --runs-until).
    runs_until: str | None = None


@dataclass
class Selected:
    """The chosen runs (full Run objects, in search order) and the picks that failed."""

    runs: list = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def start_time_millis(day: str) -> int:
    """Midnight UTC of ``day`` (YYYY-MM-DD) in epoch milliseconds."""
    try:
        parsed = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise UsageError(f"--run-start-time {day!r}: expected a UTC date as YYYY-MM-DD") from None
    return int(parsed.timestamp() * 1000)


def select(client, experiment, selection: RunSelection, engine: Engine, report: Report) -> Selected:
    """The runs of ``experiment`` to export, after every selection option."""
    since = start_time_millis(selection.run_start_time) if selection.run_start_time else None
    until = start_time_millis(selection.runs_until) if selection.runs_until else None
    view = ViewType.ALL if selection.export_deleted_runs else ViewType.ACTIVE_ONLY
    chosen = Selected()
    if selection.run_ids:
        runs = _picked(client, experiment.experiment_id, selection.run_ids, chosen)
        if selection.check_nested_runs:
            runs += _descendants(client, experiment.experiment_id, runs, view, engine)
    else:
        runs = _search(
            client,
            experiment.experiment_id,
            view,
            f"attributes.start_time >= {since}" if since is not None else "",
        )
    for run in runs:
        if since is not None and (run.info.start_time or 0) < since:
            continue
        if until is not None and (run.info.start_time or 0) >= until:
            continue
        if run.info.lifecycle_stage == LifecycleStage.DELETED and not selection.export_deleted_runs:
            report.add(
                "run",
                run.info.run_id,
                SKIPPED,
                None,
                "deleted; add --export-deleted-runs to export it",
            )
            continue
        chosen.runs.append(run)
    return chosen


def _picked(client, experiment_id: str, run_ids: list[str], chosen: Selected) -> list:
    runs, seen = [], set()
    for run_id in run_ids:
        if run_id in seen:
            continue
        seen.add(run_id)
        try:
            run = client.get_run(run_id)
        except MlflowException as exc:
            reason = (
                "not found"
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST"
                else exc.message.splitlines()[0]
            )
            chosen.failed.append({"run_id": run_id, "reason": reason})
            continue
        if run.info.experiment_id != experiment_id:
            chosen.failed.append(
                {
                    "run_id": run_id,
                    "reason": (
                        f"belongs to experiment {run.info.experiment_id}, not {experiment_id}"
                    ),
                }
            )
            continue
        runs.append(run)
    return runs


def _descendants(client, experiment_id: str, roots: list, view: int, engine: Engine) -> list:
    """Children, grandchildren, ... of ``roots``: one search per parent, a level at a time."""
    seen = {r.info.run_id for r in roots}
    found: list = []
    level = [r.info.run_id for r in roots]
    while level:
        children = engine.run(
            (
                lambda p=parent: _search(
                    client, experiment_id, view, f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{p}'"
                )
            )
            for parent in level
        )
        level = []
        for batch in children:
            for run in batch:
                if run.info.run_id not in seen:
                    seen.add(run.info.run_id)
                    found.append(run)
                    level.append(run.info.run_id)
    return found


def _search(client, experiment_id: str, view: int, filter_string: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=filter_string,
            run_view_type=view,
            max_results=SEARCH_MAX_RESULTS_DEFAULT,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs
