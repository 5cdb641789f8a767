"""The Python API as a library user calls it: no stdout of its own beyond what it returns.

MLflow prints a "View run ... at" link (and fetches the run once more) whenever a run on a
server ends; an import ends many runs, so the API switches that off while it works, and leaves
the caller's own setting of MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT as it was.
"""

from __future__ import annotations

import os

from mlflow_migrate_plugin import api
from mlflow_migrate_plugin.api import SUPPRESS_ENV
from tests import experiment_builders as eb


def _exported_experiment(src, unique_name, tmp_path):
    exp_id = eb.builders.experiment(src, unique_name("src-"))
    parent = eb.light_run(src, exp_id, name="parent")
    eb.light_run(src, exp_id, name="child", parent_run_id=parent)
    out = tmp_path / "exp"
    api.export_experiment(
        src.client.get_experiment(exp_id).name, out, tracking_uri=src.tracking_uri
    )
    return out


def test_import_prints_no_run_links_and_restores_the_environment(
    src, dst, unique_name, tmp_path, monkeypatch, capfd
):
    out = _exported_experiment(src, unique_name, tmp_path)
    monkeypatch.delenv(SUPPRESS_ENV, raising=False)
    capfd.readouterr()

    report = api.import_experiment(out, unique_name("dst-"), tracking_uri=dst.tracking_uri)

    assert len(report.find("run", "imported")) == 2
    assert "View run" not in capfd.readouterr().out
    assert SUPPRESS_ENV not in os.environ


def test_the_callers_own_setting_is_kept(src, dst, unique_name, tmp_path, monkeypatch):
    out = _exported_experiment(src, unique_name, tmp_path)
    monkeypatch.setenv(SUPPRESS_ENV, "false")

    api.import_experiment(out, unique_name("dst-"), tracking_uri=dst.tracking_uri)

    assert os.environ[SUPPRESS_ENV] == "false"
