from mlflow_migrate_plugin.cli import main

main(prog_name="python -m mlflow_migrate_plugin")
