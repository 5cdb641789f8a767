from mlflow_migrate_plugin.cli import main

main()
