"""Benchmarks of mlflow-migrate against the floor of moving the same data (see README.md)."""
