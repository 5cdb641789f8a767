"""copy-all: every experiment and registered model of a server, streamed to another server.

The objects are chosen as export-all chooses them (:mod:`.bulk_selection`: active experiments and
every registered model, or those named; ``--shard K/N`` splits them by the same stable hash, a
model going with the experiment of its runs), and each is copied by its own copy command's
handler: the objects of the other server kinds first (prompts, :meth:`.kinds.ServerKind.copy_one`:
an experiment's traces link to prompt versions), then experiments (:mod:`.experiment_copy`) under
their source names, then models (:mod:`.model_copy`), whose versions' runs go to the experiment of
the same name, where the experiment's copy already put them. One object failing stops nothing
else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..context import Migration
from ..endpoint import Endpoint
from ..report import FAILED, NO_PROGRESS, Progress, Report, failure_reason
from ..transfer import resilience
from ..transfer.engine import Engine
from ..transfer.staging import export_space
from . import bulk_kinds, bulk_selection, experiment_copy, model_copy
from . import run as run_handler
from .bulk_selection import Shard
from .registered_model import ModelSelection
from .run_selection import RunSelection
from .run_source import LiveSource

# Where the runs of a model's versions go when none of its versions has a run.
DEFAULT_EXPERIMENT = "Default"


@dataclass
class BulkCopyOptions:
    """What copy-all takes of export-all's and import-all's options."""

    experiments: list[str] | None = None
    models: list[str] | None = None
    runs: RunSelection = field(default_factory=RunSelection)
    versions: ModelSelection = field(default_factory=ModelSelection)
    run_options: run_handler.RunImportOptions = field(default_factory=run_handler.RunImportOptions)
    other_kinds: bool = True  # the objects of every other server kind (prompts)


def copy(
    live: LiveSource,
    dst: Endpoint,
    engine: Engine,
    report: Report,
    options: BulkCopyOptions,
    shard: Shard | None = None,
    *,
    workers: int = 1,
    progress: Progress = NO_PROGRESS,
) -> None:
    """Copy the chosen experiments, then the chosen models, of ``shard``; each object ends
    imported, skipped or failed in ``report``."""
    src = live.src
    shard = shard or Shard()
    exps = bulk_selection.experiments(src, options.experiments)
    names = bulk_selection.model_names(src, options.models)
    models = bulk_selection.with_home_experiments(src, names, engine)
    exps = [e for e in exps if shard.owns(e.experiment_id)]
    models = [m for m in models if shard.owns(m.shard_key)]
    ctx = Migration(engine, report, src=src, dst=dst, progress=progress)
    servers = (src, dst)
    others = bulk_kinds.server_kind_objects(ctx, shard) if options.other_kinds else []
    progress.note(
        f"Copying {len(exps)} experiments and {len(models)} registered models"
        + "".join(f", {n} {k}s" for k, n in Counter(kind.kind for kind, _ in others).items())
        + (f" (shard {shard})" if shard.count > 1 else "")
    )
    phase = progress.phase("objects copied", len(others) + len(exps) + len(models), "objects")
    try:
        # Prompts first, as import-all imports them: an experiment's traces link to them.
        for kind, name in others:
            _one(report, kind.kind, name, servers, lambda k=kind, n=name: k.copy_one(ctx, n))
            phase.advance()
        for exp in exps:
            _one(
                report,
                "experiment",
                exp.name,
                servers,
                lambda exp=exp: experiment_copy.copy(
                    live,
                    dst,
                    exp.experiment_id,
                    exp.name,
                    engine,
                    report,
                    options.runs,
                    options.run_options,
                    workers=workers,
                    progress=progress,
                ),
            )
            phase.advance()
        for model in models:
            _one(
                report,
                "registered_model",
                model.name,
                servers,
                lambda model=model: model_copy.copy(
                    live,
                    dst,
                    model.name,
                    model.experiment_name or DEFAULT_EXPERIMENT,
                    export_space,
                    engine,
                    report,
                    options.versions,
                    skip_unsupported=options.run_options.skip_unsupported,
                    progress=progress,
                ),
            )
            phase.advance()
    finally:
        phase.close()
    if others:
        bulk_kinds.link_server_kinds(ctx, {e.experiment_id: e.name for e in exps}.get)


def _one(report: Report, kind: str, key: str, servers: tuple[Endpoint, ...], work) -> None:
    """Run one object's copy; a failure is reported and the next object goes on, unless the
    source or the destination has gone away (then the error stops the command, and a rerun
    resumes)."""
    try:
        work()
    except Exception as exc:
        report.add(kind, key, FAILED, None, failure_reason(exc))
        if any(resilience.gone(e) or resilience.check_gone(e) for e in servers):
            raise
