"""Databricks: notebooks, permissions, Unity Catalog rules, and what a workspace refuses.

Everything here goes through databricks-sdk clients that
:class:`~mlflow_migrate_plugin.endpoint.Endpoint` builds from the side's URI
(:mod:`.workspace`): ``notebooks`` (a run's notebook revision out and in), ``permissions``
(experiment and registered-model ACLs, Unity Catalog grants), ``extras`` (what the Databricks
options add to an experiment or model export and import), ``tags`` (the ``mlflow.*`` tags a
workspace refuses, the user from the token) and ``unity_catalog`` (a version refused for want
of a signature, named).
"""
