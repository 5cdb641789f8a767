"""Helpers of the damaged-export tests: damage one field of a good export, run the CLI, and
check that the error is one line and that the destination holds nothing.

Where the damage is in a file whose size and hash the export recorded, the helpers record the
new ones too, as a crafted export would: the field check, not the hash, must catch it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from mlflow.entities import ViewType

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.endpoint import Endpoint
from tests import builders

MiB = 1 << 20


def export_a_good_run(src_server, tmp_path_factory, prefix: str) -> Path:
    """A fresh run on the source server (metric history, a dataset input, artifacts in folders,
    an MLmodel, a LoggedModel), exported: what a module's damaged copies start from."""
    src = Endpoint(src_server.url, src_server.url)
    exp_id = builders.experiment(src, f"{prefix}-src-{os.getpid()}-{time.time_ns()}")
    built = builders.make_run(src, exp_id, metric_keys=2, steps=4)
    out = tmp_path_factory.mktemp(prefix) / "run"
    api.export_run(built.run_id, out, tracking_uri=src.tracking_uri)
    return out


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def run_field(*keys_and_value):
    """A damage that sets ``mlflow.<keys...>`` of run.json to the last argument."""
    *keys, value = keys_and_value

    def damage(export: Path) -> None:
        def change(document):
            target = document["mlflow"]
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = value

        edit_json(export / "run.json", change)

    return damage


def drop_run_field(*keys):
    def damage(export: Path) -> None:
        def change(document):
            target = document["mlflow"]
            for key in keys[:-1]:
                target = target[key]
            del target[keys[-1]]

        edit_json(export / "run.json", change)

    return damage


def surrogate_in_tag(export: Path) -> None:
    text = (export / "run.json").read_text()
    assert '"team": "ml-platform"' in text
    # json.dumps writes a lone surrogate as this escape; json.loads gives it back as is.
    (export / "run.json").write_text(text.replace('"ml-platform"', '"ml-\\ud800platform"'))


def surrogate_in_param_key(export: Path) -> None:
    text = (export / "run.json").read_text()
    assert '"alpha": "0.1"' in text
    (export / "run.json").write_text(text.replace('"alpha": "0.1"', '"al\\ud800pha": "0.1"'))


def metric_line(field: str, value):
    """Sets ``field`` of the first metric point, and records the file's new size and hash."""

    def damage(export: Path) -> None:
        history = export / "metrics.jsonl"
        lines = history.read_text().splitlines(keepends=True)
        point = json.loads(lines[0])
        point[field] = value
        lines[0] = json.dumps(point) + "\n"
        history.write_text("".join(lines))
        record_history(export)

    return damage


def record_history(export: Path) -> None:
    history = export / "metrics.jsonl"
    digest = hashlib.sha256()
    with open(history, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)

    def change(document):
        document["info"]["metrics"]["bytes"] = history.stat().st_size
        document["info"]["metrics"]["sha256"] = digest.hexdigest()

    edit_json(export / "run.json", change)


def format_version(export: Path) -> None:
    edit_json(export / "run.json", lambda d: d["system"].update(format_version=99))


def cli(*args):
    return CliRunner().invoke(migrate, [str(a) for a in args])


def one_error_line(result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def damaged_copy(good: Path, export: Path, damage: Callable[[Path], None]) -> Path:
    """A copy of the export ``good`` made at ``export``, then ``damage(export)``."""
    shutil.copytree(good, export)
    damage(export)
    return export


def refused_import(command: str, export: Path, dst: Endpoint, experiment: str, *options) -> str:
    """``command`` (an import) of ``export`` into ``experiment`` on ``dst`` through the CLI:
    its one error line, once it is checked that no such experiment was made."""
    result = cli(
        command, "--input-dir", export, "--experiment-name", experiment,
        "--tracking-uri", dst.tracking_uri, *options,
    )  # fmt: skip
    line = one_error_line(result)
    assert_no_experiment(dst, experiment)
    return line


def assert_no_experiment(dst: Endpoint, name: str) -> None:
    """No experiment of that name in any lifecycle, so no run in it either."""
    found = dst.client.search_experiments(view_type=ViewType.ALL, filter_string=f"name = '{name}'")
    assert found == []
