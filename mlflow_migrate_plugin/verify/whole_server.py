"""verify-all: every experiment and every registered model of the source against the
destination, after export-all/import-all (or copies of the same objects).

Objects are chosen as export-all chooses them (active experiments, every registered model, or
the names given) and found on the destination under the names import-all gave them (its rename
files). Each is compared as verify-experiment and verify-model compare it.
"""

from __future__ import annotations

from ..handlers import bulk_selection
from .experiments import verify_experiment
from .models import verify_registered_model
from .runs import Context


def verify_all(
    ctx: Context,
    *,
    experiments: list[str] | None = None,
    models: list[str] | None = None,
    experiment_renames: dict[str, str] | None = None,
    model_renames: dict[str, str] | None = None,
    include_experiments: bool = True,
    include_models: bool = True,
    include_deleted_runs: bool = False,
    stages_and_aliases: bool = True,
    workers: int = 1,
) -> None:
    """Compare the chosen experiments, then the chosen registered models (``None``: all)."""
    experiment_renames = experiment_renames or {}
    model_renames = model_renames or {}
    chosen_experiments = (
        bulk_selection.experiments(ctx.src, experiments) if include_experiments else []
    )
    chosen_models = bulk_selection.model_names(ctx.src, models) if include_models else []
    phase = ctx.progress.phase(
        "Verifying experiments and models", len(chosen_experiments) + len(chosen_models)
    )
    try:
        for experiment in chosen_experiments:
            verify_experiment(
                ctx,
                experiment.name,
                experiment_renames.get(experiment.name, experiment.name),
                include_deleted_runs=include_deleted_runs,
                workers=workers,
            )
            phase.advance()
        for name in chosen_models:
            verify_registered_model(
                ctx,
                name,
                model_renames.get(name, name),
                stages_and_aliases=stages_and_aliases,
                workers=workers,
            )
            phase.advance()
    finally:
        phase.close()
