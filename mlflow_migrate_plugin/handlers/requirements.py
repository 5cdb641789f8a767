"""What an export needs of its destination, checked before anything is created there.

A destination that lacks a feature the export uses (LoggedModels on an MLflow 2.x server, dataset
inputs before 2.4, aliases before 2.3) would fail part way and leave half an import behind. So the
import first lists every object that needs a missing feature and refuses, in one line naming the
feature, the first such object and the server. With ``skip_unsupported`` (``--skip-unsupported``)
it imports the rest: each object left out gets one warning, and the records are trimmed here so
that the handlers never ask the destination for what it does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import idmap
from ..capabilities import DATASET_INPUTS, LOGGED_MODELS, MODEL_ALIASES
from ..endpoint import Endpoint
from ..errors import MigrateError, UnsupportedError
from ..exportdir.run_dir import RunDir
from ..report import SKIPPED, Report
from .version_source_uri import logged_model_id

SKIP_OPTION = "--skip-unsupported"


@dataclass
class Lack:
    """One object of the export that needs ``feature``, which the destination lacks."""

    feature: str
    what: str


def run_lacks(dst: Endpoint, rec: dict) -> list[Lack]:
    """What of the run record ``rec`` the destination cannot take."""
    run_id = rec["info"].get("run_id")
    lacks = []
    if not dst.supports(LOGGED_MODELS):
        lacks += [
            Lack(LOGGED_MODELS, f"LoggedModel {m['model_id']} ('{m.get('name')}') of run {run_id}")
            for m in rec["logged_models"]
        ]
        lacks += [
            Lack(LOGGED_MODELS, f"model input {m['model_id']} of run {run_id}")
            for m in rec["inputs"]["model_inputs"]
        ]
    if not dst.supports(DATASET_INPUTS):
        lacks += [
            Lack(
                DATASET_INPUTS,
                f"dataset input '{d['dataset']['name']}' ({d['dataset']['digest']}) of run "
                f"{run_id}",
            )
            for d in rec["inputs"]["dataset_inputs"]
        ]
    return lacks


def lacks_something(dst: Endpoint) -> bool:
    """Whether the destination lacks a feature a run can use; if not, no run record need be
    read to check an export (the answers are cached on the endpoint)."""
    return not all(dst.supports(f) for f in (LOGGED_MODELS, DATASET_INPUTS))


def refuse(dst: Endpoint, lacks: list[Lack], skip_unsupported: bool) -> None:
    """Raise :class:`UnsupportedError` for ``lacks`` unless told to import the rest."""
    if not lacks or skip_unsupported:
        return
    first = lacks[0]
    more = f" (and {len(lacks) - 1} more objects)" if len(lacks) > 1 else ""
    raise UnsupportedError(
        f"{dst.described} has no {first.feature}, which {first.what}{more} needs; nothing "
        f"imported ({SKIP_OPTION} imports the rest without them)"
    )


def warn_dropped(dst: Endpoint, lacks: list[Lack], report: Report) -> None:
    for lack in lacks:
        report.warn(f"{lack.what} not imported: {dst.described} has no {lack.feature}")


def drop_from_run(dst: Endpoint, rec: dict, lacks: list[Lack], report: Report) -> None:
    """Trim from the run record what the destination lacks (``lacks``), with a warning each."""
    if not lacks:
        return
    warn_dropped(dst, lacks, report)
    features = {lack.feature for lack in lacks}
    if LOGGED_MODELS in features:
        rec["logged_models"] = []
        rec["inputs"]["model_inputs"] = []
        rec["outputs"]["model_outputs"] = []
    if DATASET_INPUTS in features:
        rec["inputs"]["dataset_inputs"] = []


def experiment_model_lacks(dst: Endpoint, records: list[dict]) -> list[Lack]:
    """The experiment's own LoggedModels, when the destination has none."""
    if dst.supports(LOGGED_MODELS):
        return []
    return [
        Lack(LOGGED_MODELS, f"LoggedModel {m['model_id']} ('{m.get('name')}') of the experiment")
        for m in records
    ]


def check_experiment(dst: Endpoint, exp_dir, skip_unsupported: bool) -> None:
    """Refuse an experiment export (an exportdir ExperimentDir) that needs what ``dst`` lacks;
    the runs' records are read only when the destination lacks something."""
    if not lacks_something(dst):
        return
    lacks = experiment_model_lacks(dst, exp_dir.logged_models)
    for entry in exp_dir.runs:
        try:
            lacks += run_lacks(dst, RunDir(entry.path).record) if entry.path else []
        except MigrateError:
            continue  # reported as a failed run by the import itself
    refuse(dst, lacks, skip_unsupported)


def version_lacks(dst: Endpoint, model: str, entry, aliases: bool = True) -> list[Lack]:
    """What version ``entry`` (an exportdir VersionEntry) needs that the destination lacks: a
    LoggedModel to point at (a ``models:/m-...`` source, or its own model files made into
    one), and its aliases."""
    rec = entry.record
    lacks = []
    if not dst.supports(LOGGED_MODELS) and (
        logged_model_id(rec.get("source")) or not entry.run_path
    ):
        lacks.append(
            Lack(
                LOGGED_MODELS,
                f"version {rec['version']} of '{model}' (source {rec.get('source')})",
            )
        )
    if aliases and rec.get("aliases") and not dst.supports(MODEL_ALIASES):
        lacks += [
            Lack(MODEL_ALIASES, f"alias '{a}' of version {rec['version']} of '{model}'")
            for a in rec["aliases"]
        ]
    return lacks


def drop_versions(dst: Endpoint, model: str, entries: list, report: Report) -> list:
    """The entries left once versions that need a missing feature are dropped (each reported
    as skipped, with a warning) and aliases the destination cannot hold are removed."""
    kept = []
    for entry in entries:
        lacks = version_lacks(dst, model, entry)
        warn_dropped(dst, lacks, report)
        if any(lack.feature == LOGGED_MODELS for lack in lacks):
            key = idmap.model_version_key(model, entry.version)
            report.add(
                "model_version", key, SKIPPED, None, f"{dst.described} has no {LOGGED_MODELS}"
            )
            continue
        if any(lack.feature == MODEL_ALIASES for lack in lacks):
            entry.record["aliases"] = []
        kept.append(entry)
    return kept


def check_model(
    dst: Endpoint, model: str, entries: list, run_dirs: dict, skip_unsupported: bool
) -> None:
    """Refuse a model export's versions (and their runs) that need what ``dst`` lacks."""
    lacks = [lack for entry in entries for lack in version_lacks(dst, model, entry)]
    lacks += [lack for d in run_dirs.values() for lack in run_lacks(dst, d.record)]
    refuse(dst, lacks, skip_unsupported)


def check_version(
    dst: Endpoint,
    model: str,
    entry,
    run_dirs: dict,
    report: Report,
    *,
    skip_unsupported: bool,
    aliases: bool,
) -> None:
    """Refuse one version (import-model-version) that needs what ``dst`` lacks; with
    ``skip_unsupported`` drop its aliases and its run's unsupported parts, but a version that
    can only point at a LoggedModel cannot be made on a server without them."""
    own = version_lacks(dst, model, entry, aliases)
    lacks = own + [lack for d in run_dirs.values() for lack in run_lacks(dst, d.record)]
    refuse(dst, lacks, skip_unsupported)
    needs_model = [lack for lack in own if lack.feature == LOGGED_MODELS]
    if needs_model:
        raise UnsupportedError(
            f"{needs_model[0].what} cannot be imported: {dst.described} has no {LOGGED_MODELS}"
        )
    if own:
        warn_dropped(dst, own, report)
        entry.record["aliases"] = []
