"""Source experiments for the experiment tests, and views that compare them with their copies.

``nested_experiment`` builds, with MlflowClient alone: a root run with a LoggedModel, a FAILED
child, a grandchild below it, a deleted child, an unrelated earlier run that used the
experiment's own LoggedModel as an input, and that experiment-level model (no source run) with
artifacts and a metric the root run logged against it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import LoggedModelInput, ViewType
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from mlflow_migrate_plugin import idmap
from mlflow_migrate_plugin.endpoint import Endpoint
from mlflow_migrate_plugin.report import NO_PROGRESS, Phase, Progress
from tests import builders
from tests.compare import logged_model_view, run_view

DAY = 24 * 3600 * 1000
T0 = 1_705_312_860_000  # 2024-01-15 10:01 UTC, make_run's default start
EXPERIMENT_TAGS = {
    "team": "ml-platform",
    "ключ": "значение ✓",
    "mlflow.note.content": "Experiment **description** ✓",
}


@dataclass
class NestedExperiment:
    experiment_id: str
    name: str
    root: str
    child: str  # FAILED, child of root
    grandchild: str  # child of child
    deleted_child: str  # deleted, child of root
    other: str  # started a day earlier, no parent, input: the experiment-level model
    run_model: str  # produced by root
    experiment_model: str  # no source run

    @property
    def active_runs(self) -> set[str]:
        return {self.root, self.child, self.grandchild, self.other}

    @property
    def all_runs(self) -> set[str]:
        return self.active_runs | {self.deleted_child}


def light_run(endpoint: Endpoint, experiment_id: str, **kwargs) -> str:
    """A run with params, tags, history, a dataset and a few files, but no models."""
    kwargs.setdefault("logged_model", False)
    kwargs.setdefault("classic_model", False)
    kwargs.setdefault("metric_keys", 2)
    kwargs.setdefault("steps", 3)
    return builders.make_run(endpoint, experiment_id, **kwargs).run_id


def nested_experiment(src: Endpoint, name: str) -> NestedExperiment:
    client = src.client
    exp_id = builders.experiment(src, name, tags=EXPERIMENT_TAGS)
    root = builders.make_run(src, exp_id, name="root", start_time=T0)
    child = builders.make_run(
        src,
        exp_id,
        name="child",
        parent_run_id=root.run_id,
        status="FAILED",
        logged_model=False,
        start_time=T0 + 1000,
    )
    grandchild = light_run(
        src, exp_id, name="grandchild", parent_run_id=child.run_id, start_time=T0 + 2000
    )
    deleted = light_run(
        src,
        exp_id,
        name="deleted-child",
        parent_run_id=root.run_id,
        start_time=T0 + 3000,
        deleted=True,
    )
    other = light_run(src, exp_id, name="other", start_time=T0 - DAY)
    model_id = experiment_model(src, exp_id, metric_run=root.run_id)
    client.log_inputs(other, models=[LoggedModelInput(model_id)])
    return NestedExperiment(
        exp_id,
        name,
        root.run_id,
        child.run_id,
        grandchild,
        deleted,
        other,
        root.model_ids[0],
        model_id,
    )


def experiment_model(src: Endpoint, experiment_id: str, metric_run: str | None = None) -> str:
    """A READY LoggedModel that no run produced, with an MLmodel and a weights file."""
    client = src.client
    model = client.create_logged_model(
        experiment_id,
        name="registered-outside",
        tags={"origin": "external"},
        params={"depth": "3"},
        model_type="agent",
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "MLmodel").write_text(
            builders.MLMODEL_TEMPLATE.format(
                artifact_path="model", model_id=model.model_id, run_id="null"
            )
        )
        (Path(tmp) / "weights.bin").write_bytes(bytes(range(200)) * 3)
        src.artifact_repo(model.artifact_location).log_artifacts(tmp)
    if metric_run:
        client.log_batch(
            metric_run,
            metrics=[builders.model_metric("eval_score", 0.77, T0 + 90_000, 1, model.model_id)],
        )
    client.finalize_logged_model(model.model_id, "READY")
    return model.model_id


# Views ----------------------------------------------------------------------------------------


def imported_runs(dst: Endpoint, experiment_id: str) -> dict[str, list]:
    """Destination runs of the experiment (any lifecycle) by the source run id they carry."""
    found: dict[str, list] = {}
    for run in dst.client.search_runs(
        [experiment_id], run_view_type=ViewType.ALL, max_results=1000
    ):
        source = run.data.tags.get(idmap.SOURCE_RUN_ID)
        if source:
            found.setdefault(source, []).append(run)
    return found


def run_id_map(dst: Endpoint, experiment_id: str) -> dict[str, str]:
    """Source run id -> destination run id; fails if any source run was imported twice."""
    found = imported_runs(dst, experiment_id)
    duplicated = {k: len(v) for k, v in found.items() if len(v) != 1}
    assert not duplicated, f"runs imported more than once: {duplicated}"
    return {k: v[0].info.run_id for k, v in found.items()}


def comparable_run(
    endpoint: Endpoint, run_id: str, run_ids: dict[str, str], model_ids: dict[str, str]
) -> dict:
    """``run_view`` with source ids mapped to destination ids (identity maps on the dst side),
    so that parent links and MLmodel files compare equal when they follow the new ids."""

    view = run_view(endpoint, run_id)
    parent = view["tags"].get(MLFLOW_PARENT_RUN_ID)
    if parent:
        view["tags"][MLFLOW_PARENT_RUN_ID] = run_ids.get(parent, parent)
    _map_mlmodels(view["artifacts"], run_ids, model_ids)
    return view


def _map_mlmodels(files: dict, run_ids: dict[str, str], model_ids: dict[str, str]) -> None:
    """Parse MLmodel files and map their source ids to destination ids, in place."""
    import yaml

    for path, content in list(files.items()):
        if path.endswith("MLmodel"):
            doc = yaml.safe_load(content)
            for key, mapping in (("run_id", run_ids), ("model_id", model_ids)):
                if doc.get(key) in mapping:
                    doc[key] = mapping[doc[key]]
            files[path] = doc


def comparable_model(
    endpoint: Endpoint, model_id: str, run_ids: dict[str, str], model_ids: dict[str, str]
) -> dict:

    view = logged_model_view(endpoint, model_id)
    _map_mlmodels(view["artifacts"], run_ids, model_ids)
    model = endpoint.client.get_logged_model(model_id)
    view["source_run_id"] = run_ids.get(model.source_run_id, model.source_run_id)
    view["metric_runs"] = sorted(run_ids.get(m.run_id, m.run_id) for m in model.metrics or [])
    return view


def experiment_view(endpoint: Endpoint, experiment_id: str) -> dict:
    exp = endpoint.client.get_experiment(experiment_id)
    return {"tags": dict(exp.tags), "lifecycle_stage": exp.lifecycle_stage}


def model_id_map(dst: Endpoint, experiment_id: str) -> dict[str, str]:
    """Source LoggedModel id -> destination id, by the marker tag each copy carries."""
    models = dst.client.search_logged_models([experiment_id])
    return {m.tags[idmap.SOURCE_MODEL_ID]: m.model_id for m in models}


def assert_nested_reproduced(
    src: Endpoint, dst: Endpoint, nested: NestedExperiment, experiment_id: str
) -> None:
    """Every run and LoggedModel of ``nested`` is in the destination experiment once, equal
    field by field (ids through the mapping), and the experiment's own fields are equal."""
    run_ids = run_id_map(dst, experiment_id)
    assert set(run_ids) == nested.all_runs
    model_ids = model_id_map(dst, experiment_id)
    assert set(model_ids) == {nested.run_model, nested.experiment_model}
    for source_run, dst_run in run_ids.items():
        expected = comparable_run(src, source_run, run_ids, model_ids)
        actual = comparable_run(dst, dst_run, {}, {})
        assert actual == expected, f"run {source_run}"
    for source_model, dst_model in model_ids.items():
        expected = comparable_model(src, source_model, run_ids, model_ids)
        assert comparable_model(dst, dst_model, {}, {}) == expected, f"model {source_model}"
    assert experiment_view(dst, experiment_id) == experiment_view(src, nested.experiment_id)


def assert_parents_linked(dst: Endpoint, nested: NestedExperiment, run_ids: dict[str, str]) -> None:
    """Each copy of a child run names the copy of its parent (``run_ids``: source -> copy);
    the copies of root and other have no parent."""
    parent_of = {
        r: dst.client.get_run(d).data.tags.get(MLFLOW_PARENT_RUN_ID) for r, d in run_ids.items()
    }
    assert parent_of[nested.child] == run_ids[nested.root]
    assert parent_of[nested.grandchild] == run_ids[nested.child]
    assert parent_of[nested.deleted_child] == run_ids[nested.root]
    assert parent_of[nested.root] is None and parent_of[nested.other] is None


def assert_experiment_model_relinked(
    dst: Endpoint, nested: NestedExperiment, experiment_id: str, run_ids: dict[str, str]
):
    """The copy of the experiment-level model is the copied ``other`` run's input, and its
    metric names the copied root run; the copied LoggedModel."""
    new_model = model_id_map(dst, experiment_id)[nested.experiment_model]
    other = dst.client.get_run(run_ids[nested.other])
    assert [m.model_id for m in other.inputs.model_inputs] == [new_model]
    model = dst.client.get_logged_model(new_model)
    assert [(m.key, m.value, m.run_id) for m in model.metrics] == [
        ("eval_score", 0.77, run_ids[nested.root])
    ]
    return model


def assert_rerun_completed(
    dst: Endpoint, nested: NestedExperiment, experiment_id: str, expected_runs: set[str]
) -> None:
    """After an interrupted transfer and its rerun: ``expected_runs`` each there once, the
    grandchild linked to the child, and both LoggedModels there once."""
    run_ids = run_id_map(dst, experiment_id)
    assert set(run_ids) == expected_runs
    assert (
        dst.client.get_run(run_ids[nested.grandchild]).data.tags[MLFLOW_PARENT_RUN_ID]
        == run_ids[nested.child]
    )
    assert len(dst.client.search_logged_models([experiment_id])) == 2


class InterruptAfter(Progress):
    """Raises KeyboardInterrupt (as Ctrl-C would) once ``n`` runs have been imported."""

    def __init__(self, n: int):
        self.n = n

    def phase(self, label, total, unit=""):
        if label != "importing runs":
            return NO_PROGRESS.phase(label, total, unit)
        owner = self

        class Interrupting(Phase):
            done = 0

            def advance(self, k=1):
                self.done += k
                if self.done == owner.n:
                    raise KeyboardInterrupt

        return Interrupting()
