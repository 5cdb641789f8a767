"""export-run then import-run between two real servers reproduces the run field by field."""

from __future__ import annotations

import yaml

from mlflow_migrate_plugin import api
from tests import builders
from tests.compare import logged_model_view, run_view


def _normalize_mlmodels(view: dict, run_id: str, model_ids: dict[str, str]) -> dict:
    """MLmodel files must carry the destination's ids: map source ids to them before comparing."""
    for path, content in list(view["artifacts"].items()):
        if path.endswith("MLmodel"):
            doc = yaml.safe_load(content)
            doc["run_id"] = run_id
            if doc.get("model_id") in model_ids:
                doc["model_id"] = model_ids[doc["model_id"]]
            view["artifacts"][path] = doc
    return view


def test_import_run_reproduces_every_field(src, dst, unique_name, tmp_path):
    exp_id = builders.experiment(src, unique_name("src-"))
    built = builders.make_run(src, exp_id, status="FAILED")

    api.export_run(built.run_id, tmp_path / "run", tracking_uri=src.tracking_uri)
    report = api.import_run(tmp_path / "run", unique_name("dst-"), tracking_uri=dst.tracking_uri,
                            use_src_user_id=True)

    [outcome] = report.find("run", "imported")
    dst_run_id = outcome.destination_id
    src_view = run_view(src, built.run_id)
    dst_view = run_view(dst, dst_run_id)
    [src_model] = built.model_ids
    [dst_model] = [o.model_id for o in dst.client.get_run(dst_run_id).outputs.model_outputs]
    _normalize_mlmodels(src_view, dst_run_id, {})
    _normalize_mlmodels(dst_view, dst_run_id, {})
    assert dst_view == src_view
    src_model_view = logged_model_view(src, src_model)
    dst_model_view = logged_model_view(dst, dst_model)
    src_model_view["artifacts"]["MLmodel"] = yaml.safe_load(
        src_model_view["artifacts"]["MLmodel"].replace(src_model.encode(), dst_model.encode())
        .replace(built.run_id.encode(), dst_run_id.encode()))
    dst_model_view["artifacts"]["MLmodel"] = yaml.safe_load(dst_model_view["artifacts"]["MLmodel"])
    assert dst_model_view == src_model_view
    assert dst.client.get_logged_model(dst_model).source_run_id == dst_run_id
