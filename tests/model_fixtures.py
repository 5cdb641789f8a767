"""Servers for every artifact store kind: proxied (``mlflow-artifacts:``, the session's
``src_server``/``dst_server``), a direct local artifact root, and S3 served by moto on loopback.

tests/conftest.py registers these fixtures once for the whole session (test modules import only
the helpers). A server or moto that cannot start fails the test (never a skip).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import pytest

from mlflow_migrate_plugin.endpoint import Endpoint
from tests.servers import free_port, start_server

S3_BUCKET = "mlflow-migrate-tests"
# Fake credentials: moto accepts any; boto3 only needs them to be set.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class MotoS3:
    endpoint_url: str
    bucket: str
    env: dict


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """moto's S3 in server mode on a free loopback port, with one bucket; the test process
    reaches it through ``MLFLOW_S3_ENDPOINT_URL`` like any MLflow client would."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, **S3_ENV}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited:\n{log_path.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"moto server did not answer:\n{log_path.read_text()[-2000:]}"
                ) from None
            time.sleep(0.3)
    s3_env = {**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": url}
    saved = {key: os.environ.get(key) for key in s3_env}
    os.environ.update(s3_env)
    import boto3

    boto3.client("s3", endpoint_url=url).create_bucket(Bucket=S3_BUCKET)
    yield MotoS3(url, S3_BUCKET, s3_env)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    process.terminate()
    process.wait(timeout=15)


@pytest.fixture(scope="session")
def local_root_server(tmp_path_factory):
    """A server whose clients write artifacts straight to a local folder (no proxy)."""
    root = tmp_path_factory.mktemp("local-root-server")
    server = start_server(
        root, artifacts=f"--default-artifact-root {root / 'artifacts'} --no-serve-artifacts"
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory, moto_s3):
    """A server whose clients write artifacts straight to S3 (moto), as s3:// URIs."""
    root = tmp_path_factory.mktemp("s3-server")
    server = start_server(
        root,
        artifacts=f"--default-artifact-root s3://{moto_s3.bucket}/direct --no-serve-artifacts",
        env=moto_s3.env,
    )
    yield server
    server.stop()


# The session fixture serving each artifact store kind.
SERVER_OF_KIND = {"proxied": "dst_server", "local": "local_root_server", "s3": "s3_server"}
SOURCE_SERVER_OF_KIND = {**SERVER_OF_KIND, "proxied": "src_server"}


def endpoint_of(request, fixture_name: str) -> Endpoint:
    """The endpoint of session server ``fixture_name``, started on first use only."""
    server = request.getfixturevalue(fixture_name)
    return Endpoint(server.url, server.url)
