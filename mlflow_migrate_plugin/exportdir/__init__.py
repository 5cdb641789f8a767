"""The only package that knows export file names and JSON shapes."""
