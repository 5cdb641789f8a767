"""export-model then import-model reproduce a registered model field by field, into every
artifact store kind: proxied (``mlflow-artifacts:``), a direct local artifact root, and S3."""

from __future__ import annotations

import pytest

from mlflow_migrate_plugin import api
from tests import model_builders
from tests.model_compare import identities, model_view
from tests.model_fixtures import SERVER_OF_KIND, SOURCE_SERVER_OF_KIND, endpoint_of


@pytest.mark.slow
@pytest.mark.parametrize(
    "src_kind, dst_kind", [("proxied", "local"), ("local", "s3"), ("s3", "proxied")]
)
def test_import_model_reproduces_every_version_field_by_field(
    request, src_kind, dst_kind, unique_name, tmp_path
):
    src = endpoint_of(request, SOURCE_SERVER_OF_KIND[src_kind])
    dst = endpoint_of(request, SERVER_OF_KIND[dst_kind])
    built = model_builders.registered_model(
        src, unique_name("catalog.schema.model-"), unique_name("exp-")
    )
    dst_name = unique_name("imported model ✓ ")

    api.export_model(built.name, tmp_path / "export", tracking_uri=src.tracking_uri)
    report = api.import_model(
        tmp_path / "export", unique_name("dst exp "), model=dst_name, tracking_uri=dst.tracking_uri
    )

    assert report.warnings == []
    assert model_view(dst, dst_name) == model_view(src, built.name)
    assert identities(dst, dst_name) == built.versions
    # What this test proves is what a user can check with verify-model, in every store kind.
    verified = api.verify_model(
        built.name,
        dst_model=dst_name,
        src_mlflow_uri=src.tracking_uri,
        dst_mlflow_uri=dst.tracking_uri,
    )
    assert verified.ok, verified.report_lines()
