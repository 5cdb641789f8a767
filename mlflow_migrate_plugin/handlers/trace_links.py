"""What a trace points at, followed to the destination: runs, LoggedModels, prompt versions.

A trace names its run in metadata ``mlflow.sourceRun`` (and may be linked to more runs with
``link_traces_to_run``), its LoggedModel in ``mlflow.modelId``, an assessment its run in
metadata ``mlflow.assessment.sourceRunId``, and its prompt versions in tag
``mlflow.linkedPrompts``. Run and LoggedModel ids change in a migration: they are looked up in
the id map the experiment import filled, else on the destination by their source-identity tags.
Prompt versions keep their numbers, so ``name/version`` is the same on both sides. A link whose
target is not on the destination is kept in a ``mlflow_migrate.source.*`` tag (an assessment's:
metadata) with a warning, never dropped silently.
"""

from __future__ import annotations

import json
import threading

from mlflow.exceptions import MlflowException
from mlflow.tracing.constant import AssessmentMetadataKey, TraceMetadataKey, TraceTagKey

from .. import idmap
from ..context import Migration

UNLINKED_RUN = idmap.PREFIX + "source.trace.run_id"
UNLINKED_MODEL = idmap.PREFIX + "source.trace.model_id"
UNLINKED_PROMPTS = idmap.PREFIX + "source.trace.prompts"
UNLINKED_RUNS = idmap.PREFIX + "source.trace.linked_run_ids"
UNLINKED_ASSESSMENT_RUN = idmap.PREFIX + "source.assessment.run_id"


class Links:
    """Source -> destination lookups for the traces of one destination experiment; shared by
    the import's threads, each target looked up once."""

    def __init__(self, ctx: Migration, experiment_id: str):
        self._ctx = ctx
        self._experiment_id = experiment_id
        self._lock = threading.Lock()
        self._runs_searched = False
        self._models: dict[str, str | None] = {}
        self._prompts: dict[tuple[str, str], object | None] = {}

    def run(self, source_run_id: str) -> str | None:
        """The destination run imported from ``source_run_id``, or None."""
        found = self._ctx.ids.get("run", source_run_id)
        if found is None and not self._runs_searched:
            # import-traces on its own: the runs were imported by an earlier command.
            with self._lock:
                if not self._runs_searched:
                    client = self._ctx.dst.client
                    self._ctx.ids.update("run", idmap.complete_runs(client, self._experiment_id))
                    self._runs_searched = True
            found = self._ctx.ids.get("run", source_run_id)
        return found

    def model(self, source_model_id: str) -> str | None:
        """The destination LoggedModel imported from ``source_model_id`` (the experiment's own,
        or one a run produced, found by its source-identity tag), or None."""
        found = self._ctx.ids.get("logged_model", source_model_id)
        if found is not None:
            return found
        with self._lock:
            if source_model_id not in self._models:
                models = idmap.find_logged_models(
                    self._ctx.dst.client, self._experiment_id, source_model_id
                )
                self._models[source_model_id] = models[0].model_id if models else None
            return self._models[source_model_id]

    def prompt_version(self, name: str, version: str):
        """Prompt version ``name/version`` on the destination, or None if it is not there."""
        key = (name, version)
        with self._lock:
            if key not in self._prompts:
                try:
                    self._prompts[key] = self._ctx.dst.client.get_prompt_version(name, version)
                except MlflowException as exc:
                    if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                        raise
                    self._prompts[key] = None
            return self._prompts[key]


def follow_metadata(info, links: Links, warn) -> None:
    """Point ``info``'s run and LoggedModel metadata and its assessments' runs at the
    destination's ids (in place); what is not there moves to a tag, with a warning."""
    metadata = info.trace_metadata
    for key, lookup, tag, what in (
        (TraceMetadataKey.SOURCE_RUN, links.run, UNLINKED_RUN, "run"),
        (TraceMetadataKey.MODEL_ID, links.model, UNLINKED_MODEL, "LoggedModel"),
    ):
        source = metadata.get(key)
        if not source:
            continue
        target = lookup(source)
        if target is None:
            del metadata[key]
            info.tags[tag] = source
            warn(f"its {what} {source} is not on the destination; kept in tag {tag}")
        else:
            metadata[key] = target
    for assessment in info.assessments:
        follow_assessment_run(assessment, links, warn)


def follow_assessment_run(assessment, links: Links, warn) -> None:
    """Point an assessment's run at the destination's (in place). MLflow keeps it in the
    assessment's metadata (``mlflow.assessment.sourceRunId``, as ``mlflow.genai.evaluate``
    writes it) and derives ``run_id`` from there, so both change; a run not on the destination
    leaves the metadata, kept under :data:`UNLINKED_ASSESSMENT_RUN`, with a warning."""
    metadata = assessment.metadata if assessment.metadata is not None else {}
    source = assessment.run_id or metadata.get(AssessmentMetadataKey.SOURCE_RUN_ID)
    if not source:
        return
    target = links.run(source)
    assessment.run_id = target
    if target is not None:
        if AssessmentMetadataKey.SOURCE_RUN_ID in metadata:
            metadata[AssessmentMetadataKey.SOURCE_RUN_ID] = target
        return
    if metadata.pop(AssessmentMetadataKey.SOURCE_RUN_ID, None) is not None:
        metadata[UNLINKED_ASSESSMENT_RUN] = source
    warn(
        f"the run {source} of assessment '{assessment.name}' is not on the destination; the "
        f"assessment is kept without it (its id in metadata {UNLINKED_ASSESSMENT_RUN})"
    )


def prompts_for(info, links: Links, warn) -> list:
    """The destination's prompt versions ``info`` links to (tag ``mlflow.linkedPrompts``,
    ``[{"name": ..., "version": ...}]``). The tag keeps those that are there; the others move to
    a tag of their own with a warning (a prompt migration run later can bring them)."""
    value = info.tags.pop(TraceTagKey.LINKED_PROMPTS, None)
    if not value:
        return []
    try:
        entries = [
            {"name": str(e["name"]), "version": str(e["version"])} for e in json.loads(value)
        ]
    except (ValueError, TypeError, KeyError):
        info.tags[UNLINKED_PROMPTS] = value
        warn(
            f"its tag {TraceTagKey.LINKED_PROMPTS} is not a list of prompt versions; kept in "
            f"tag {UNLINKED_PROMPTS}"
        )
        return []
    found, kept, missing = [], [], []
    for entry in entries:
        version = links.prompt_version(entry["name"], entry["version"])
        if version is None:
            missing.append(entry)
        else:
            found.append(version)
            kept.append(entry)
    if kept:
        info.tags[TraceTagKey.LINKED_PROMPTS] = value if not missing else json.dumps(kept)
    if missing:
        info.tags[UNLINKED_PROMPTS] = json.dumps(missing)
        names = ", ".join(f"{e['name']}/{e['version']}" for e in missing)
        warn(f"prompt versions {names} are not on the destination; kept in tag {UNLINKED_PROMPTS}")
    return found


def link_prompts(ctx: Migration, trace_id: str, prompt_versions: list) -> None:
    """Link the destination trace to ``prompt_versions`` the way MLflow's client does, minus
    the tag (the trace was created with it): ``MlflowClient.link_prompt_versions_to_trace``
    reads and writes the trace through MLflow's process-wide tracking URI, so the tracking
    store's own call is made on the destination's client."""
    if prompt_versions:
        store = ctx.dst.client._tracking_client.store
        store.link_prompts_to_trace(trace_id, prompt_versions)


def link_runs(ctx: Migration, trace_id: str, source_run_ids: list[str], links: Links, warn):
    """Link the destination trace to the runs the source linked it to (``link_traces_to_run``)."""
    missing = []
    for source in source_run_ids:
        target = links.run(source)
        if target is None:
            missing.append(source)
        else:
            ctx.dst.client.link_traces_to_run([trace_id], target)
    if missing:
        ctx.dst.client.set_trace_tag(trace_id, UNLINKED_RUNS, ",".join(missing))
        warn(
            f"linked runs {', '.join(missing)} are not on the destination; kept in tag "
            f"{UNLINKED_RUNS}"
        )
