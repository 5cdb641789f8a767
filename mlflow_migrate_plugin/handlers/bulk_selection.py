"""What a whole-server export takes: which experiments and models, and which shard of them.

A shard owns an object by a hash of its shard key, so that N machines split a server into N
disjoint parts without talking to each other, and the same object always falls in the same
part. A registered model's key is the source id of the experiment its versions' runs live in:
the model then goes with that experiment, whose import its versions' runs are found in, and two
shards never import the same run at once.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT

from ..endpoint import Endpoint
from ..errors import NotFoundError, UsageError
from ..transfer.engine import Engine
from . import experiment as experiment_handler
from . import model_version


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (``--shard K/N``, K counted from 0)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        if not text:
            return cls()
        index, sep, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = None
        if not sep or shard is None or not 0 <= shard.index < shard.count:
            raise UsageError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4")
        return shard

    def owns(self, key: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class SourceModel:
    """A registered model to export, with the source experiment its versions' runs live in."""

    name: str
    experiment_id: str | None = None
    experiment_name: str | None = None

    @property
    def shard_key(self) -> str:
        return self.experiment_id or f"model:{self.name}"


def experiments(src: Endpoint, wanted: list[str] | None) -> list:
    """The active experiments named or numbered in ``wanted`` (every one if None), by id."""
    if wanted is not None:
        return [experiment_handler.get(src, name_or_id) for name_or_id in wanted]
    found, token = [], None
    while True:
        page = src.client.search_experiments(
            view_type=ViewType.ACTIVE_ONLY,
            max_results=SEARCH_MAX_RESULTS_DEFAULT,
            page_token=token,
        )
        found += list(page)
        token = page.token
        if not token:
            break
    return sorted(found, key=lambda e: _id_order(e.experiment_id))


def _id_order(experiment_id: str) -> tuple:
    return (0, int(experiment_id), "") if experiment_id.isdigit() else (1, 0, experiment_id)


def model_names(src: Endpoint, wanted: list[str] | None) -> list[str]:
    """The registered models named in ``wanted`` (shell patterns such as ``sklearn*`` allowed;
    every model if None), sorted by name."""
    found, token = [], None
    while True:
        page = src.client.search_registered_models(
            max_results=SEARCH_MAX_RESULTS_DEFAULT, page_token=token
        )
        found += [m.name for m in page]
        token = page.token
        if not token:
            break
    if wanted is None:
        return sorted(found)
    chosen = []
    for pattern in wanted:
        matches = fnmatch.filter(found, pattern)
        if not matches:
            raise NotFoundError(f"no registered model named '{pattern}' on {src.display}")
        chosen += [m for m in matches if m not in chosen]
    return sorted(chosen)


def with_home_experiments(src: Endpoint, names: list[str], engine: Engine) -> list[SourceModel]:
    """Each model with the experiment of its newest version that has a run (looked up
    concurrently); a model without one gets none."""
    client = src.client
    experiment_names: dict[str, str] = {}

    def home(name: str) -> SourceModel:
        try:
            versions = model_version.all_versions(client, name)
        except MlflowException:
            return SourceModel(name)  # its export will say what is wrong with it
        for version in reversed(versions):
            if not version.run_id:
                continue
            try:
                run = client.get_run(version.run_id)
            except MlflowException:
                continue  # the run is gone; an older version may still have one
            exp_id = run.info.experiment_id
            if exp_id not in experiment_names:
                experiment_names[exp_id] = client.get_experiment(exp_id).name
            return SourceModel(name, exp_id, experiment_names[exp_id])
        return SourceModel(name)

    found = engine.run(lambda n=n: home(n) for n in names)
    return sorted(found, key=lambda m: m.name)  # the pool returns them as they finish
