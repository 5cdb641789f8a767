"""Prompt exports: export-prompt's directory, and a prompt's folder in a bulk export.

One file, ``prompt.json``, holds the prompt (name, description, tags, aliases) and every exported
version in number order (template as text or as chat messages, commit message, tags, model
config, response format, and what MLflow does not let a client set: user and times)::

    <dir>/prompt.json

The reader also takes mlflow-export-import's ``prompt.json``, which holds one version under
``mlflow.prompt``. Every field is checked before a handler sees it; an error names the file and
the field (``.../prompt.json: mlflow.versions[1].template: expected a string or a list of chat
messages, got an integer 3``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from . import fields as f
from .fields import MS, Where
from .layout import existing_dir, is_own_format, read_json, write_json

PROMPT_JSON = "prompt.json"
PROMPTS_DIR = "prompts"
TEXT = "text"
CHAT = "chat"


class PromptVersionRecord(TypedDict):
    version: str  # the number, as digits
    template: str | list[dict[str, Any]]  # text, or chat messages ({"role", "content"})
    commit_message: str | None
    tags: dict[str, str]  # the version's own tags (MLflow's reserved prompt tags left out)
    model_config: dict[str, Any] | None
    response_format: dict[str, Any] | None
    aliases: list[str]
    user_id: str | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None


class PromptRecord(TypedDict):
    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version number
    creation_timestamp: int | None
    versions: list[PromptVersionRecord]


def write(path: str | Path, system: dict, prompt: dict, versions: list[dict]) -> Path:
    """Write ``prompt.json`` (atomically) into ``path``; return the directory."""
    path = Path(path)
    write_json(
        path / PROMPT_JSON,
        {
            "system": system,
            "info": {"num_versions": len(versions)},
            "mlflow": {"prompt": {**prompt, "versions": versions}},
        },
    )
    return path


def read(path: str | Path) -> PromptRecord:
    """The prompt a directory holds, checked field by field (ours or mlflow-export-import's)."""
    path = existing_dir(path)
    file = path / PROMPT_JSON
    document = read_json(file, "prompt")
    where = Where(file, "mlflow") / "prompt"
    raw = f.obj(where, f.required(Where(file, "mlflow"), document["mlflow"], "prompt"))
    if not is_own_format(document):
        return _reference_prompt(where, raw)
    return prompt_record(where, raw)


def prompt_record(where: Where, raw: Any) -> PromptRecord:
    """The prompt and its versions, in number order; aliases must name exported versions."""
    raw = f.obj(where, raw)
    versions = [
        version_record(where / "versions" / i, v)
        for i, v in enumerate(f.items(where / "versions", raw.get("versions")))
    ]
    numbers = [v["version"] for v in versions]
    if len(set(numbers)) != len(numbers):
        raise (where / "versions").fail("lists a version number twice")
    aliases = f.string_map(where / "aliases", raw.get("aliases"), "alias", "version")
    for alias, number in aliases.items():
        _number(where / "aliases" / alias, number)
    return {
        "name": _name(where / "name", raw.get("name")),
        "description": f.text(where / "description", raw.get("description")),
        "tags": f.string_map(where / "tags", raw.get("tags")),
        "aliases": {a: str(int(n)) for a, n in aliases.items()},
        "creation_timestamp": f.integer(
            where / "creation_timestamp", raw.get("creation_timestamp"), MS
        ),
        "versions": sorted(versions, key=lambda v: int(v["version"])),
    }


def version_record(where: Where, raw: Any) -> PromptVersionRecord:
    raw = f.obj(where, raw)
    aliases = f.items(where / "aliases", raw.get("aliases"))
    return {
        "version": _number(where / "version", f.required(where, raw, "version")),
        "template": _template(where / "template", f.required(where, raw, "template")),
        "commit_message": f.text(where / "commit_message", raw.get("commit_message")),
        "tags": f.string_map(where / "tags", raw.get("tags")),
        "model_config": _model_config(where / "model_config", raw.get("model_config")),
        "response_format": _optional_object(where / "response_format", raw.get("response_format")),
        "aliases": [f.text(where / "aliases" / i, a, required=True) for i, a in enumerate(aliases)],
        "user_id": f.text(where / "user_id", raw.get("user_id")),
        "creation_timestamp": f.integer(
            where / "creation_timestamp", raw.get("creation_timestamp"), MS
        ),
        "last_updated_timestamp": f.integer(
            where / "last_updated_timestamp", raw.get("last_updated_timestamp"), MS
        ),
    }


def _reference_prompt(where: Where, raw: dict) -> PromptRecord:
    """mlflow-export-import's prompt.json: one version, whose tags it also gave the prompt
    (its import registers them on both)."""
    version = version_record(where, raw)
    return {
        "name": _name(where / "name", raw.get("name")),
        "description": f.text(where / "description", raw.get("description")),
        "tags": dict(version["tags"]),
        "aliases": {},
        "creation_timestamp": version["creation_timestamp"],
        "versions": [version],
    }


def _name(where: Where, value: Any) -> str:
    from mlflow.prompt.constants import PROMPT_NAME_RULE

    name = f.text(where, value, required=True)
    if not PROMPT_NAME_RULE.match(name):
        raise where.fail(
            f"{f.shown(name)} is not a prompt name MLflow takes (letters, digits, '_', '-', '.')"
        )
    return name


def _number(where: Where, value: Any) -> str:
    if isinstance(value, str) and value.isdigit() and value.isascii() and int(value) > 0:
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    raise where.fail(f"expected a version number, got {f.shown(value)}")


def _template(where: Where, value: Any) -> str | list[dict[str, Any]]:
    """Text, or a non-empty list of chat messages, each with a string ``role`` and a
    ``content``."""
    if isinstance(value, str):
        return f.text(where, value)
    if not isinstance(value, list) or not value:
        raise where.fail(f"expected a string or a list of chat messages, got {f.shown(value)}")
    for i, message in enumerate(value):
        at = where / i
        message = f.obj(at, message)
        f.text(at / "role", f.required(at, message, "role"), required=True)
        f.required(at, message, "content")
    return value


def _model_config(where: Where, value: Any) -> dict[str, Any] | None:
    """A model config MLflow's own check takes (a temperature below 0 is refused, for one)."""
    from mlflow.entities.model_registry.prompt_version import PromptModelConfig
    from pydantic import ValidationError

    config = _optional_object(where, value)
    if config is not None:
        try:
            PromptModelConfig.from_dict(config)
        except ValidationError as exc:
            error = exc.errors()[0]
            at = where
            for part in error.get("loc") or ():
                at = at / part
            raise at.fail(error.get("msg") or "refused by MLflow") from None
    return config


def _optional_object(where: Where, value: Any) -> dict[str, Any] | None:
    return None if value is None else f.obj(where, value)
