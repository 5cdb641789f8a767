"""verify-all: every experiment, registered model and prompt of the source against the
destination, after export-all/import-all (or copies of the same objects).

Objects are chosen as export-all chooses them (active experiments, every registered model, or
the names given) and found on the destination under the names import-all gave them (its rename
files). Each is compared as verify-experiment and verify-model compare it.
"""

from __future__ import annotations

from ..capabilities import PROMPTS
from ..handlers import bulk_selection, prompts
from .experiments import verify_experiment
from .models import verify_registered_model
from .prompts import verify_prompt
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
    include_prompts: bool = True,
    traces: bool = True,
    include_deleted_runs: bool = False,
    stages_and_aliases: bool = True,
    workers: int = 1,
) -> None:
    """Compare the chosen experiments (with their traces unless ``traces`` is false), then the
    chosen registered models (``None``: all), then every prompt."""
    experiment_renames = experiment_renames or {}
    model_renames = model_renames or {}
    chosen_experiments = (
        bulk_selection.experiments(ctx.src, experiments) if include_experiments else []
    )
    chosen_models = bulk_selection.model_names(ctx.src, models) if include_models else []
    chosen_prompts = prompts.names(ctx.src) if include_prompts and ctx.src.supports(PROMPTS) else []
    phase = ctx.progress.phase(
        "Verifying experiments, models and prompts",
        len(chosen_experiments) + len(chosen_models) + len(chosen_prompts),
    )
    try:
        for experiment in chosen_experiments:
            verify_experiment(
                ctx,
                experiment.name,
                experiment_renames.get(experiment.name, experiment.name),
                include_deleted_runs=include_deleted_runs,
                traces=traces,
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
        for name in chosen_prompts:
            verify_prompt(ctx, name)
            phase.advance()
    finally:
        phase.close()
