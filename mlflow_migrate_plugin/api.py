"""The library's public functions: everything the CLI does, callable from Python.

Each function resolves its endpoints (explicit URI, else the environment, else MLflow's default,
exactly as MLflow would), checks that the servers answer, runs one handler on a bounded worker
pool and returns a :class:`~mlflow_migrate_plugin.report.Report` of what it did.

    >>> from mlflow_migrate_plugin import export_run, import_run
    >>> export_run("4f1c...", "out/run", tracking_uri="http://old:5000")
    >>> import_run("out/run", "my-experiment", tracking_uri="http://new:5000")

The functions live in modules named for what they move (``api_runs``, ``api_models``,
``api_copies``, ``api_servers``, ``api_genai``, ``api_verify``); this module gathers them.
"""

from __future__ import annotations

from .api_copies import copy_experiment, copy_model, copy_model_version, copy_run
from .api_genai import (
    export_evaluation_dataset,
    export_logged_model,
    export_prompt,
    export_trace,
    export_traces,
    import_evaluation_dataset,
    import_logged_model,
    import_prompt,
    import_trace,
    import_traces,
)
from .api_models import export_model, export_model_version, import_model, import_model_version
from .api_runs import export_experiment, export_run, import_experiment, import_run
from .api_servers import copy_all, export_all, import_all
from .api_setup import SUPPRESS_ENV
from .api_verify import (
    verify_all,
    verify_experiment,
    verify_model,
    verify_model_version,
    verify_prompt,
    verify_run,
)

# Every public function, whichever module holds it (the verify ones always were here too).
__all__ = [
    "SUPPRESS_ENV",
    "copy_all",
    "copy_experiment",
    "copy_model",
    "copy_model_version",
    "copy_run",
    "export_all",
    "export_evaluation_dataset",
    "export_experiment",
    "export_logged_model",
    "export_model",
    "export_model_version",
    "export_prompt",
    "export_run",
    "export_trace",
    "export_traces",
    "import_all",
    "import_evaluation_dataset",
    "import_experiment",
    "import_logged_model",
    "import_model",
    "import_model_version",
    "import_prompt",
    "import_run",
    "import_trace",
    "import_traces",
    "verify_all",
    "verify_experiment",
    "verify_model",
    "verify_model_version",
    "verify_prompt",
    "verify_run",
]
