"""Verify an experiment's evaluation datasets: each source dataset against the destination
dataset imported from it (tag :data:`~..idmap.SOURCE_DATASET_ID`), by the rules of
``handlers/evaluation_datasets.py``.

Compared: the name, the tags (the import's own left out) and every record, paired by its
inputs as MLflow's upsert pairs them: expectations, outputs, tags and source, a trace source
followed back to the source trace it was imported from. Not compared: ids, digest and times,
which MLflow sets itself. Records are read a page at a time.
"""

from __future__ import annotations

import json

from .. import idmap
from ..handlers import evaluation_datasets as datasets
from .diff import diff
from .findings import DUPLICATE, INFO, MISSING, Finding
from .runs import NOT_SETTABLE, Context

KIND = datasets.KIND
_RECORD_FIELDS = ("expectations", "outputs", "tags", "source")


def verify_datasets(
    ctx: Context, src_experiment_id: str, dst_experiment_id: str, traces: dict[str, str]
) -> None:
    """Compare the datasets of the source experiment with their destination copies;
    ``traces`` maps destination trace ids to the source ids a record source may name."""
    if not (datasets.has_datasets(ctx.src) and datasets.has_datasets(ctx.dst)):
        return
    search_src, search_dst = ctx.src.client.search_datasets, ctx.dst.client.search_datasets
    copies: dict[str, list] = {}
    for d in datasets._pages(search_dst, experiment_ids=[dst_experiment_id]):
        source = (d.tags or {}).get(idmap.SOURCE_DATASET_ID)
        if source:
            copies.setdefault(source, []).append(d)
    for dataset in datasets._pages(search_src, experiment_ids=[src_experiment_id]):
        verify_dataset(ctx, dataset, copies.get(dataset.dataset_id, []), traces)


def verify_dataset(ctx: Context, dataset, found: list, traces: dict[str, str]) -> None:
    """Compare one source dataset with the destination datasets imported from it."""
    found = sorted(found, key=lambda d: (d.tags or {}).get(idmap.STATE) != idmap.STATE_COMPLETE)
    copy = found[0] if found else None
    result = ctx.result.add(KIND, dataset.dataset_id, copy.dataset_id if copy else None)
    if copy is None:
        result.findings.append(Finding(MISSING, note="no destination dataset imported from it"))
        return
    if len(found) > 1:
        others = [d.dataset_id for d in found[1:]]
        result.findings.append(Finding(DUPLICATE, "dataset_id", None, others, "imported twice"))
    result.findings.append(
        Finding(INFO, "dataset_id", dataset.dataset_id, copy.dataset_id, NOT_SETTABLE)
    )
    expected = {"name": dataset.name, "tags": _tags(dataset)}
    actual = {"name": copy.name, "tags": _tags(copy)}
    expected["records"] = _records(ctx.src, dataset.dataset_id, {})
    actual["records"] = _records(ctx.dst, copy.dataset_id, traces)
    result.findings += diff(expected, actual)


def _tags(dataset) -> dict:
    return {k: v for k, v in (dataset.tags or {}).items() if not k.startswith(idmap.PREFIX)}


def _records(endpoint, dataset_id: str, traces: dict[str, str]) -> dict:
    """Records by their inputs (JSON, sorted keys: MLflow's own key for a record)."""
    store = datasets._store(endpoint)
    out, token = {}, None
    while True:
        page = datasets._record_page(store, dataset_id, token)
        for record in page:
            raw = record.to_dict()
            body = {name: raw.get(name) for name in _RECORD_FIELDS}
            data = (body.get("source") or {}).get("source_data") or {}
            if data.get("trace_id") in traces:
                data = {**data, "trace_id": traces[data["trace_id"]]}
                body["source"] = {**body["source"], "source_data": data}
            out[json.dumps(raw.get("inputs"), sort_keys=True)] = body
        token = page.token
        if not token:
            return out
