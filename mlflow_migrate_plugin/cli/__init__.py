"""The ``migrate`` command group: ``mlflow migrate ...``, ``mlflow-migrate ...`` and
``python -m mlflow_migrate_plugin ...``.

This layer only parses options, calls :mod:`mlflow_migrate_plugin.api` and renders the result.
Errors become one line on stderr and an exit code (0 ok, 1 failed, 2 usage); ``--verbose`` adds
the traceback. Importing this package is cheap (Click only): MLflow's CLI imports it at start.
"""

from __future__ import annotations

import os
import sys

# Each command module registers its commands on the group when imported.
from . import (  # noqa: F401
    bulk,
    copy,
    evaluation_dataset,
    experiment,
    model,
    prompt,
    run,
    trace,
    verify,
)
from .group import migrate


def main(prog_name: str | None = None) -> None:
    """Entry point of the ``mlflow-migrate`` console script (and of ``python -m``, which names
    itself: its ``sys.argv[0]`` is the path of ``__main__.py``)."""
    migrate(prog_name=prog_name or os.path.basename(sys.argv[0]) or "mlflow-migrate")


__all__ = ["main", "migrate"]
