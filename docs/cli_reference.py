"""Renders every command's ``--help`` as Markdown; ``docs/cli-reference.md`` is generated from it
with cog (``cog -r docs/cli-reference.md``), and a test fails when the file is stale."""

from __future__ import annotations

import click

from mlflow_migrate_plugin.cli import migrate

WIDTH = 100


def help_text(command: click.Command, name: str, parent: click.Context | None = None) -> str:
    ctx = click.Context(
        command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH
    )
    return command.get_help(ctx).rstrip()


def render() -> str:
    root = click.Context(
        migrate, info_name="mlflow migrate", terminal_width=WIDTH, max_content_width=WIDTH
    )
    parts = ["## mlflow migrate", "", "```", help_text(migrate, "mlflow migrate"), "```"]
    for name in sorted(migrate.commands):
        parts += [
            "",
            f"## mlflow migrate {name}",
            "",
            "```",
            help_text(migrate.commands[name], name, root),
            "```",
        ]
    return "\n".join(parts)
