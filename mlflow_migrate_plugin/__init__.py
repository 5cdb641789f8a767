"""mlflow-migrate: move MLflow runs, experiments and registered models between servers.

The public API lives in :mod:`mlflow_migrate_plugin.api` and is re-exported here lazily, so that
importing the package (which MLflow's CLI does at start) stays cheap.
"""

__version__ = "0.1.0"

_API = (
    "export_run",
    "import_run",
    "copy_run",
    "export_experiment",
    "import_experiment",
    "copy_experiment",
    "export_model",
    "import_model",
    "copy_model",
    "export_model_version",
    "import_model_version",
    "copy_model_version",
    "verify_run",
    "verify_experiment",
    "verify_model",
    "verify_model_version",
    "verify_all",
    "verify_prompt",
    "export_all",
    "import_all",
    "copy_all",
    "export_prompt",
    "import_prompt",
    "export_evaluation_dataset",
    "import_evaluation_dataset",
    "export_logged_model",
    "import_logged_model",
    "export_trace",
    "import_trace",
    "export_traces",
    "import_traces",
)

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlflow_migrate_plugin' has no attribute {name!r}")
