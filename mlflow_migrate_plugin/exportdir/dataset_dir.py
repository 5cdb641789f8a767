"""Evaluation dataset exports: export-evaluation-dataset's directory, and an experiment's
datasets (``<experiment export>/evaluation_datasets/<dataset id>/``).

::

    <dir>/records.jsonl     one record a line: inputs, expectations, outputs, tags, source
    <dir>/dataset.json      name, tags, schema, profile, the experiments it belongs to;
                            written last, with the number of records

Records are streamed to and from ``records.jsonl``, so a dataset of any size is never held
whole. The reader also takes mlflow-export-import's ``evaluation_dataset.json``, which holds its
records inline. Every field is checked before anything is created; an error names the file (and
line) and the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypedDict

from ..errors import ExportDirError
from . import fields as f
from .fields import MS, Where
from .layout import (
    MAX_RECORD_BYTES,
    MAX_RECORD_ENV,
    existing_dir,
    limit_from_env,
    read_json,
    write_json,
)

DATASET_JSON = "dataset.json"
RECORDS_FILE = "records.jsonl"
DATASETS_DIR = "evaluation_datasets"
REFERENCE_DATASET_JSON = "evaluation_dataset.json"


class DatasetRecord(TypedDict):
    dataset_id: str
    name: str
    digest: str | None
    tags: dict[str, str]
    schema: str | None
    profile: str | None
    created_time: int | None
    last_update_time: int | None
    created_by: str | None
    last_updated_by: str | None
    experiments: list[dict[str, str | None]]  # {"experiment_id", "name"}


class EvaluationRecord(TypedDict, total=False):
    inputs: dict[str, Any]
    expectations: dict[str, Any] | None
    outputs: Any
    tags: dict[str, str]
    source: dict[str, Any] | None
    dataset_record_id: str | None


# Writers --------------------------------------------------------------------------------------


def write_records(path: str | Path, records: Iterable[dict]) -> int:
    """Stream ``records`` into ``records.jsonl`` (atomically); return how many were written."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / DATASET_JSON).unlink(missing_ok=True)  # incomplete until write_dataset()
    count = 0
    fd, tmp = tempfile.mkstemp(dir=path, prefix=f".{RECORDS_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            for record in records:
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, path / RECORDS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def write_dataset(path: str | Path, system: dict, dataset: dict, num_records: int) -> None:
    write_json(
        Path(path) / DATASET_JSON,
        {
            "system": system,
            "info": {"num_records": num_records, "records": RECORDS_FILE},
            "mlflow": {"evaluation_dataset": dataset},
        },
    )


# Readers --------------------------------------------------------------------------------------


class DatasetDir:
    """An evaluation dataset export, its metadata checked; :meth:`records` streams the records,
    each checked, and :meth:`check_records` reads them all once before an import."""

    def __init__(self, path: str | Path):
        self.path = existing_dir(path)
        reference = self.path / REFERENCE_DATASET_JSON
        own = self.path / DATASET_JSON
        self._inline: list | None = None
        if not own.exists() and reference.is_file():
            document = read_json(reference, "evaluation dataset")
            where = Where(reference, "mlflow") / "evaluation_dataset"
            raw = f.obj(where, document["mlflow"].get("evaluation_dataset"))
            self.dataset = dataset_record(where, raw, reference=True)
            self._inline = f.items(where / "records", raw.get("records"))
            self._where = where / "records"
            self.num_records = len(self._inline)
            return
        document = read_json(own, "evaluation dataset")
        where = Where(own, "mlflow") / "evaluation_dataset"
        self.dataset = dataset_record(where, document["mlflow"].get("evaluation_dataset"))
        info = Where(own, "info")
        self.num_records = f.integer(
            info / "num_records", (document.get("info") or {}).get("num_records"), required=True
        )

    def records(self) -> Iterator[EvaluationRecord]:
        if self._inline is not None:
            for i, raw in enumerate(self._inline):
                yield evaluation_record(self._where / i, raw)
            return
        path = self.path / RECORDS_FILE
        if path.is_symlink() or not path.is_file():
            raise ExportDirError(f"{path}: missing or not a regular file")
        limit = limit_from_env(MAX_RECORD_ENV, MAX_RECORD_BYTES)
        with open(path, "rb") as stream:
            lineno = 0
            while line := stream.readline(limit + 1):
                lineno += 1
                if len(line) > limit and not line.endswith(b"\n"):
                    raise ExportDirError(f"{path}:{lineno}: line longer than {limit} bytes")
                try:
                    raw = json.loads(line)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise ExportDirError(f"{path}:{lineno}: not a record ({exc})") from None
                yield evaluation_record(Where(f"{path}:{lineno}"), raw)

    def check_records(self) -> None:
        """Read every record once; a bad one, or fewer than the export says, is an error."""
        count = sum(1 for _ in self.records())
        if count != self.num_records:
            raise ExportDirError(
                f"{self.path / RECORDS_FILE}: {count} records, but {DATASET_JSON} says "
                f"{self.num_records}; the export is damaged"
            )


def dataset_record(where: Where, raw: Any, reference: bool = False) -> DatasetRecord:
    raw = f.obj(where, raw)
    experiments = []
    if reference:  # ids only
        for i, exp_id in enumerate(f.items(where / "experiment_ids", raw.get("experiment_ids"))):
            exp_id = f.identifier(where / "experiment_ids" / i, exp_id, required=True)
            experiments.append({"experiment_id": exp_id, "name": None})
    for i, item in enumerate(f.items(where / "experiments", raw.get("experiments"))):
        at = where / "experiments" / i
        item = f.obj(at, item)
        experiments.append(
            {
                "experiment_id": f.identifier(at / "experiment_id", item.get("experiment_id")),
                "name": f.text(at / "name", item.get("name")),
            }
        )
    return {
        "dataset_id": f.identifier(where / "dataset_id", raw.get("dataset_id"), required=True),
        "name": f.text(where / "name", raw.get("name"), required=True),
        "digest": f.text(where / "digest", raw.get("digest")),
        "tags": f.string_map(where / "tags", raw.get("tags")),
        "schema": _json_text(where / "schema", raw.get("schema")),
        "profile": _json_text(where / "profile", raw.get("profile")),
        "created_time": f.integer(where / "created_time", raw.get("created_time"), MS),
        "last_update_time": f.integer(where / "last_update_time", raw.get("last_update_time"), MS),
        "created_by": f.text(where / "created_by", raw.get("created_by")),
        "last_updated_by": f.text(where / "last_updated_by", raw.get("last_updated_by")),
        "experiments": experiments,
    }


def evaluation_record(where: Where, raw: Any) -> EvaluationRecord:
    """One record: ``inputs`` (an object) and what MLflow takes beside it."""
    from mlflow.entities.dataset_record_source import DatasetRecordSourceType

    raw = f.obj(where, raw)
    expectations = raw.get("expectations", raw.get("targets"))  # the reference's older name
    record: EvaluationRecord = {
        "inputs": f.obj(where / "inputs", f.required(where, raw, "inputs")),
        "expectations": _optional_object(where / "expectations", expectations),
        "tags": f.string_map(where / "tags", raw.get("tags")),
        "dataset_record_id": f.text(where / "dataset_record_id", raw.get("dataset_record_id")),
    }
    if raw.get("outputs") is not None:
        record["outputs"] = raw["outputs"]
    source = _optional_object(where / "source", raw.get("source"))
    if source is not None:
        types = [t.value for t in DatasetRecordSourceType]
        f.choice(where / "source" / "source_type", source.get("source_type"), types)
        f.obj(where / "source" / "source_data", source.get("source_data"), required=False)
    record["source"] = source
    return record


def _optional_object(where: Where, value: Any) -> dict[str, Any] | None:
    return None if value is None else f.obj(where, value)


def _json_text(where: Where, value: Any) -> str | None:
    """Schema and profile: MLflow shows them as JSON text; the reference wrote objects."""
    if value is None or isinstance(value, str):
        return f.text(where, value)
    return json.dumps(f.obj(where, value))
