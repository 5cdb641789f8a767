"""Adds the commands of the ``mlflow.cli_plugins`` entry-point group to MLflow's CLI.

MLflow's CLI registers its commands by hand and reads no entry-point group for commands, so this
module is run at interpreter start (from a ``.pth`` file, or a ``.start`` file on Python 3.15+).
It imports nothing but ``sys`` until ``mlflow.cli`` itself is imported; then it adds each plugin
command with Click's public ``add_command``. It never replaces a command MLflow already has and
never lets a broken plugin break ``mlflow``.
"""

import sys

_TARGET = "mlflow.cli"
_GROUP = "mlflow.cli_plugins"


def _warn(message):
    sys.stderr.write(f"mlflow-migrate: {message}\n")


def attach(cli_module):
    """Add every command of the plugin group to ``cli_module.cli``; warn, never raise."""
    try:
        from importlib.metadata import entry_points

        group = getattr(cli_module, "cli", None)
        if group is None or not hasattr(group, "add_command"):
            return
        for ep in entry_points(group=_GROUP):
            if ep.name in group.commands:
                _warn(
                    f"mlflow already has a '{ep.name}' command; the plugin's stays out of its "
                    f"way (run it as 'mlflow-{ep.name}')."
                )
                continue
            try:
                command = ep.load()
            except Exception as exc:  # a broken plugin must not break mlflow
                _warn(f"plugin command '{ep.name}' could not be loaded: {exc}")
                continue
            group.add_command(command, ep.name)
    except Exception as exc:
        _warn(f"plugin commands were not added: {exc}")


class _CliFinder:
    """Meta-path finder that lets ``mlflow.cli`` load normally, then calls :func:`attach`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is not None:
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader_exec = spec.loader.exec_module

        def exec_module(module):
            loader_exec(module)
            attach(module)

        spec.loader.exec_module = exec_module
        return spec


def install():
    """Arrange for plugin commands to join ``mlflow``'s CLI once it is imported."""
    if _TARGET in sys.modules:
        attach(sys.modules[_TARGET])
        return
    if not any(isinstance(f, _CliFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _CliFinder())
