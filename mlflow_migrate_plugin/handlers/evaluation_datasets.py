"""MLflow GenAI evaluation datasets: export one with every record, import it with nothing lost.

A dataset keeps its name, tags (its creator among them, ``mlflow.user``) and every record's
inputs, expectations, outputs, tags and source; the schema and profile follow from the records
(MLflow computes them). Dataset and record ids and times are the destination's own.

MLflow merges records that have the same inputs (it keys them by a hash of the inputs), so
upserting an export's records again adds none. On top of that the destination dataset carries
its source id and an import state (``mlflow_migrate.source.dataset_id``,
``mlflow_migrate.import_state``): a rerun skips a complete import without sending a record, and
completes one an interruption left half made. A failed import deletes the dataset it created.

Inside an experiment export the datasets of the experiment go to ``evaluation_datasets/``, and
their import links each to the destination experiment (a dataset shared by several experiments
is made once, by the first import, and linked by the others).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from .. import idmap
from ..capabilities import EVALUATION_DATASETS
from ..context import Migration
from ..endpoint import Endpoint, redact
from ..errors import NotFoundError, UnsupportedError, UsageError
from ..exportdir import dataset_dir
from ..exportdir.dataset_dir import DatasetDir
from ..exportdir.layout import system_part
from ..report import (
    EXPORTED,
    FAILED,
    IMPORTED,
    NO_PROGRESS,
    SKIPPED,
    Progress,
    Report,
    failure_reason,
)
from .kinds import ExperimentPart

KIND = "evaluation_dataset"
PAGE = 1000  # records read per request
# Records sent per upsert: the server computes the dataset's profile and digest once per call,
# so fewer, larger calls are faster (5,000 records: 25 s in calls of 100, 13 s of 1000); a call
# also stops at about 1 MB of JSON, since inputs can be whole documents.
BATCH = 1000
BATCH_BYTES = 1 << 20
_OWN_TAGS = idmap.MARKER_TAGS | {idmap.SOURCE_DATASET_ID}


def _store(endpoint: Endpoint):
    """The tracking store behind the client: MLflow's client has no call that reads a page of
    records, upserts records or lists a dataset's experiments (its dataset entity does, through
    the process-wide tracking URI, which this package never sets)."""
    return endpoint.client._tracking_client.store


def has_datasets(endpoint: Endpoint) -> bool:
    """Whether the tracking side keeps evaluation datasets (a file store has none)."""
    uri = endpoint.tracking_uri
    scheme = uri.partition("://")[0] if "://" in uri else uri.partition(":")[0]
    # MLflow's client refuses its dataset calls on Databricks (datasets live in Unity Catalog).
    if scheme in ("file", "") or endpoint.is_databricks:
        return False
    return endpoint.supports(EVALUATION_DATASETS)


def _pages(call, **kwargs):
    token = None
    while True:
        page = call(page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def find_by_name(endpoint: Endpoint, name: str) -> list:
    search = endpoint.client.search_datasets
    return [d for d in _pages(search, filter_string=idmap.equals("name", name)) if d.name == name]


# Export ---------------------------------------------------------------------------------------


def get(src: Endpoint, dataset_id: str | None = None, name: str | None = None):
    """The dataset with ``dataset_id``, else the one named ``name`` (which must be unique)."""
    if dataset_id:
        try:
            return src.client.get_dataset(dataset_id)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                raise NotFoundError(
                    f"evaluation dataset {dataset_id} not found on {src.display}"
                ) from None
            raise
    if not name:
        raise UsageError("give --dataset-id or --dataset-name")
    found = find_by_name(src, name)
    if not found:
        raise NotFoundError(f"evaluation dataset '{name}' not found on {src.display}")
    if len(found) > 1:
        ids = ", ".join(d.dataset_id for d in found)
        raise UsageError(f"{len(found)} evaluation datasets are named '{name}' ({ids}); "
                         "give --dataset-id")  # fmt: skip
    return found[0]


def export(
    src: Endpoint,
    output_dir: str | Path,
    report: Report,
    *,
    dataset_id: str | None = None,
    dataset_name: str | None = None,
) -> Path:
    """Write a dataset and every record to ``output_dir`` (records streamed, page by page)."""
    if not has_datasets(src):
        raise UnsupportedError(f"{src.described} keeps no evaluation datasets")
    dataset = get(src, dataset_id, dataset_name)
    store = _store(src)
    pages = _pages(lambda page_token: _record_page(store, dataset.dataset_id, page_token))
    count = dataset_dir.write_records(output_dir, (r.to_dict() for r in pages))
    experiments = []
    for exp_id in store.get_dataset_experiment_ids(dataset.dataset_id):
        try:
            exp_name = src.client.get_experiment(exp_id).name
        except MlflowException:
            exp_name = None
        experiments.append({"experiment_id": exp_id, "name": exp_name})
    dataset_dir.write_dataset(
        output_dir,
        system_part("export-evaluation-dataset", redact(src.tracking_uri)),
        {
            "dataset_id": dataset.dataset_id,
            "name": dataset.name,
            "digest": dataset.digest,
            "tags": dict(dataset.tags or {}),
            "schema": dataset.schema,
            "profile": dataset.profile,
            "created_time": dataset.created_time,
            "last_update_time": dataset.last_update_time,
            "created_by": dataset.created_by,
            "last_updated_by": dataset.last_updated_by,
            "experiments": experiments,
        },
        count,
    )
    report.add(KIND, dataset.dataset_id, EXPORTED, str(output_dir), f"{count} records")
    return Path(output_dir)


class _Page(list):
    token: str | None = None


def _record_page(store, dataset_id: str, token: str | None) -> _Page:
    records, next_token = store._load_dataset_records(
        dataset_id, max_results=PAGE, page_token=token
    )
    page = _Page(records)
    page.token = next_token
    return page


# Import ---------------------------------------------------------------------------------------


def import_(
    dst: Endpoint,
    input_dir: str | Path,
    report: Report,
    name: str | None = None,
    *,
    delete: bool = False,
    experiment_ids: list[str] | None = None,
    trace_ids: dict[str, str] | None = None,
    progress: Progress = NO_PROGRESS,
) -> str:
    """Import a dataset export as ``name`` (default: the exported name); return its id.

    ``experiment_ids`` are the destination experiments to link it to; by default those with the
    names of its source experiments (a missing one is named in a warning). ``trace_ids`` maps
    source trace ids to imported ones, for records made from traces.
    """
    ds = DatasetDir(input_dir)
    ds.check_records()  # the whole export, before anything is created
    rec = ds.dataset
    name = name or rec["name"]
    if not has_datasets(dst):
        raise UnsupportedError(
            f"{dst.described} keeps no evaluation datasets, which '{rec['name']}' is; "
            "nothing imported"
        )
    if experiment_ids is None:
        experiment_ids = _experiments_by_name(dst, rec, report)
    client = dst.client
    if delete:
        for old in find_by_name(dst, name):
            client.delete_dataset(old.dataset_id)
            report.add(KIND, old.dataset_id, "deleted", name, "--delete-evaluation-dataset")
    source_id = rec["dataset_id"]
    found = [d for d in find_by_name(dst, name) if _tag(d, idmap.SOURCE_DATASET_ID) == source_id]
    complete = [d for d in found if _tag(d, idmap.STATE) == idmap.STATE_COMPLETE]
    if complete:
        dataset_id = complete[0].dataset_id
        linked = _link(dst, dataset_id, experiment_ids)
        detail = "already imported" + (
            f"; linked to experiment {', '.join(linked)}" if linked else ""
        )
        report.add(KIND, rec["dataset_id"], SKIPPED, dataset_id, detail)
        return dataset_id
    progress.note(f"Evaluation dataset '{rec['name']}' -> '{name}': {ds.num_records} records")
    created = None
    if found:  # an interrupted import: its records are merged again, none twice
        dataset_id = found[0].dataset_id
        for extra in found[1:]:  # copies a retried create left: one is enough
            client.delete_dataset(extra.dataset_id)
        _link(dst, dataset_id, experiment_ids)
    else:
        dataset_id = created = _create(dst, name, rec, experiment_ids)
    try:
        store = _store(dst)
        records = (_upsert_form(r, trace_ids or {}) for r in ds.records())
        for batch in _batches(records):
            store.upsert_dataset_records(dataset_id, batch)
        client.set_dataset_tags(dataset_id, {idmap.STATE: idmap.STATE_COMPLETE})
        if created is not None:  # the token has done its work
            client.delete_dataset_tag(dataset_id, idmap.ATTEMPT)
    except BaseException:
        if created is not None:
            try:
                client.delete_dataset(created)
            except Exception:  # best effort; the original error is what the user needs
                pass
        raise
    report.add(KIND, rec["dataset_id"], IMPORTED, dataset_id, f"{ds.num_records} records")
    return dataset_id


def _create(dst: Endpoint, name: str, rec: dict, experiment_ids: list[str]) -> str:
    """Create the dataset, marked started; a copy that MLflow's client made by retrying a
    create whose answer was lost (it carries the same token of this call) is deleted."""
    tags = {k: v for k, v in rec["tags"].items() if k not in _OWN_TAGS}
    tags[idmap.SOURCE_DATASET_ID] = rec["dataset_id"]
    tags[idmap.STATE] = idmap.STATE_STARTED
    tags[idmap.ATTEMPT] = token = idmap.new_attempt()
    dataset = dst.client.create_dataset(name, experiment_id=experiment_ids or None, tags=tags)
    for copy in find_by_name(dst, name):
        if _tag(copy, idmap.ATTEMPT) == token and copy.dataset_id != dataset.dataset_id:
            dst.client.delete_dataset(copy.dataset_id)
    return dataset.dataset_id


def _batches(records: Iterable[dict]) -> Iterator[list[dict]]:
    """At most :data:`BATCH` records and about :data:`BATCH_BYTES` of JSON at a time."""
    batch, size = [], 0
    for record in records:
        length = len(json.dumps(record))
        if batch and (len(batch) == BATCH or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += length
    if batch:
        yield batch


def _tag(dataset, key: str) -> str | None:
    return (dataset.tags or {}).get(key)


def _experiments_by_name(dst: Endpoint, rec: dict, report: Report) -> list[str]:
    ids = []
    for exp in rec["experiments"]:
        found = dst.client.get_experiment_by_name(exp["name"]) if exp["name"] else None
        if found is None:
            report.warn(
                f"evaluation dataset '{rec['name']}': source experiment "
                f"{exp['name'] or exp['experiment_id']} is not on {dst.display} under its "
                "name; not linked to it"
            )
            continue
        ids.append(found.experiment_id)
    return ids


def _link(dst: Endpoint, dataset_id: str, experiment_ids: list[str]) -> list[str]:
    """Link the dataset to the experiments it is not in yet; return those."""
    have = set(_store(dst).get_dataset_experiment_ids(dataset_id))
    missing = [e for e in experiment_ids if e not in have]
    if missing:
        dst.client.add_dataset_to_experiments(dataset_id, missing)
    return missing


def _upsert_form(record: dict, trace_ids: dict[str, str]) -> dict[str, Any]:
    """What an upsert takes of an exported record; a trace source follows the imported trace."""
    out = {k: record[k] for k in ("inputs", "expectations", "outputs", "tags") if record.get(k)}
    out.setdefault("inputs", record["inputs"])
    source = record.get("source")
    if source:
        data = dict(source.get("source_data") or {})
        if data.get("trace_id") in trace_ids:
            data["trace_id"] = trace_ids[data["trace_id"]]
        out["source"] = {"source_type": source["source_type"], "source_data": data}
    return out


class DatasetPart(ExperimentPart):
    """An experiment's evaluation datasets, carried by export-experiment/import-experiment."""

    kind = KIND
    folder = dataset_dir.DATASETS_DIR

    def wanted(self, ctx: Migration) -> bool:
        return bool(ctx.options_of(KIND, True))  # False: --no-evaluation-datasets

    def supported(self, ctx: Migration) -> bool:
        return has_datasets(ctx.src)

    def export_part(self, ctx: Migration, experiment, folder: Path) -> None:
        search = ctx.src.client.search_datasets
        for dataset in _pages(search, experiment_ids=[experiment.experiment_id]):
            path = folder / dataset.dataset_id
            try:
                export(ctx.src, path, ctx.report, dataset_id=dataset.dataset_id)
            except Exception as exc:
                shutil.rmtree(path, ignore_errors=True)
                ctx.report.add(KIND, dataset.dataset_id, FAILED, None, failure_reason(exc))

    def import_part(self, ctx: Migration, folder: Path, experiment_id: str) -> None:
        for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()):
            try:
                import_(
                    ctx.dst,
                    path,
                    ctx.report,
                    experiment_ids=[experiment_id],
                    trace_ids=ctx.ids.of("trace"),
                    progress=ctx.progress,
                )
            except Exception as exc:
                ctx.report.add(KIND, path.name, FAILED, None, failure_reason(exc))


PART = DatasetPart()
