"""``mlflow server`` processes of older MLflow releases, and their clients, for the tests.

Each release gets a venv of its own (MLflow, exactly pinned, and the scikit-learn of the test venv,
so that a model the old client pickles loads here). A venv is built once into a cache folder in
the repository (``.cache/old-mlflow/``, or ``$MLFLOW_MIGRATE_OLD_VENVS``) and reused by later
sessions once its ``complete`` marker is written; a build that stopped half way has no marker and
is built again. Data on an old server is logged by that release's own client, in a script run with
the venv's python, the way users logged it then.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import version as installed_version
from pathlib import Path

from tests.servers import ServerProcess, start_server

# The last 2.x release: no LoggedModels (they came with 3.0).
MLFLOW_2 = "2.22.5"
# An early 3.x release: LoggedModels, but none of what later 3.x servers added (evaluation
# datasets, server-info, workspaces). 3.1.4 is the last fix of the first 3.x line that most
# users moved to (3.0.x was short-lived and 3.1 fixed its LoggedModel registration), and it
# installs from wheels on Python 3.11.
MLFLOW_3_EARLY = "3.1.4"
OLD_RELEASES = (MLFLOW_2, MLFLOW_3_EARLY)

CACHE_ENV = "MLFLOW_MIGRATE_OLD_VENVS"
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "old-mlflow"
MARKER = "complete.json"
BUILD_TIMEOUT = 900


def _requirements(release: str) -> list[str]:
    return [
        f"mlflow=={release}",
        # These servers' SQLAlchemy store does not start with SQLAlchemy 2.1 (released after
        # them), and pip would pick it.
        "sqlalchemy<2.1",
        f"scikit-learn=={installed_version('scikit-learn')}",
    ]


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def _key(release: str) -> str:
    python = "".join(platform.python_version_tuple()[:2])
    return f"mlflow-{release}-sklearn-{installed_version('scikit-learn')}-py{python}"


def venv(release: str) -> Path:
    """The venv of ``release``, built now unless a finished build is in the cache."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / _key(release)
    with open(root / f"{path.name}.lock", "w") as lock:  # one build at a time per venv
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / MARKER).exists():
            return path
        shutil.rmtree(path, ignore_errors=True)
        started = time.monotonic()
        _run([sys.executable, "-m", "venv", str(path)])
        _run(
            [
                str(path / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *_requirements(release),
            ]
        )
        seconds = round(time.monotonic() - started, 1)
        (path / MARKER).write_text(
            json.dumps({"requirements": _requirements(release), "build_seconds": seconds})
        )
    return path


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode != 0:
        output = done.stdout[-2000:] + done.stderr[-4000:]
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{output}")


def start(release: str, root: Path) -> ServerProcess:
    """``mlflow server`` of ``release`` on a free loopback port, data under ``root``."""
    return start_server(root, executable=str(venv(release) / "bin" / "mlflow"))


def log_with_old_client(release: str, tracking_uri: str, script: str, *args: str) -> dict:
    """Run ``script`` with the release's python (argv: tracking URI, then ``args``); return
    the JSON object it prints on its last line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    done = subprocess.run(
        [str(venv(release) / "bin" / "python"), "-c", script, tracking_uri, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the MLflow {release} client failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# What users of an old release logged: an experiment with a parent run (params, a metric
# history, a dataset input) and a nested child that logs a scikit-learn model registered as
# version 1; version 2 from a run deleted afterwards; version 3 in Production with an alias.
LOG_OLD_DATA = r"""
import json, sys
import numpy as np
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

uri, prefix = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
client = MlflowClient()
experiment = f"{prefix}-exp"
mlflow.set_experiment(experiment)
client.set_experiment_tag(mlflow.get_experiment_by_name(experiment).experiment_id, "team", "old")
X = np.array([[0.0], [1.0], [2.0], [3.0]])
y = 2 * X[:, 0] + 1
name = f"{prefix}-model"

def fit(scale):
    return LinearRegression().fit(X, scale * y)

with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params({"alpha": "0.5", "layers": "3"})
    mlflow.set_tag("purpose", "old-client")
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    dataset = mlflow.data.from_numpy(X, source="s3://bucket/train.npy", name="train")
    mlflow.log_input(dataset, context="training")
    mlflow.log_text("notes of the parent", "notes/readme.txt")
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_metric("rmse", 0.25)
        mlflow.sklearn.log_model(fit(1), "model", registered_model_name=name)
with mlflow.start_run(run_name="discarded") as discarded:
    mlflow.sklearn.log_model(fit(2), "model", registered_model_name=name)
with mlflow.start_run(run_name="best") as best:
    mlflow.log_metric("rmse", 0.1)
    mlflow.sklearn.log_model(fit(3), "model", registered_model_name=name)
client.delete_run(discarded.info.run_id)
client.update_registered_model(name, description="from an old server")
client.set_registered_model_tag(name, "owner", "old-team")
client.update_model_version(name, "1", description="first")
client.set_model_version_tag(name, "1", "validated", "yes")
client.transition_model_version_stage(name, "1", "Staging")
client.transition_model_version_stage(name, "3", "Production")
client.set_registered_model_alias(name, "champion", "3")
print(json.dumps({
    "experiment": experiment,
    "parent": parent.info.run_id,
    "child": child.info.run_id,
    "discarded": discarded.info.run_id,
    "best": best.info.run_id,
    "model": name,
}))
"""
