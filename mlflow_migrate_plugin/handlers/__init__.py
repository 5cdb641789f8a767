"""One module per MLflow object: build its export record, and create it on a destination."""
