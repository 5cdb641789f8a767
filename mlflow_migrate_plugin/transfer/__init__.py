"""Moving bytes: the worker pool, artifacts through MLflow's repositories, metric histories."""
