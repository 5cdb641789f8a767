"""Prompts: export-prompt/import-prompt keep every version (text and chat), its number, commit
message, tags, model config and response format, the prompt's tags and aliases; reruns add
nothing; bad input creates nothing; prompts are not registered models in model lists, and
export-all/import-all and copy-all carry them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.exceptions import MlflowException
from mlflow.prompt.constants import PROMPT_EXPERIMENT_IDS_TAG_KEY

from mlflow_migrate_plugin import api, idmap
from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.errors import RecordError
from mlflow_migrate_plugin.handlers import bulk_selection
from mlflow_migrate_plugin.handlers.prompt_versions import (
    SOURCE_PREFIX,
    SOURCE_VERSION_PREFIX,
    all_versions,
)
from tests.fault_proxy import FaultProxy

CHAT = [
    {"role": "system", "content": "You are a {{style}} assistant."},
    {"role": "user", "content": "{{question}}"},
]
MODEL_CONFIG = {"model_name": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 300, "seed": 7}
RESPONSE_FORMAT = {"type": "object", "properties": {"answer": {"type": "string"}}}


def _make_prompt(endpoint, name: str) -> None:
    """Versions 1 (text, model config), 2 (deleted), 3 (chat, response format), an alias, tags."""
    client = endpoint.client
    client.create_prompt(name, description="the first commit", tags={"team": "search"})
    client.create_prompt_version(
        name,
        "Summarize {{text}} in {{n}} words.",
        description="the first commit",
        tags={"author": "ann"},
        model_config=MODEL_CONFIG,
    )
    client.create_prompt_version(name, "to be deleted", description="a mistake")
    client.create_prompt_version(
        name,
        CHAT,
        description="chat form",
        tags={"author": "bob", "reviewed": "yes"},
        response_format=RESPONSE_FORMAT,
    )
    client.delete_prompt_version(name, "2")
    client.set_prompt_alias(name, "production", 3)
    client.set_prompt_alias(name, "baseline", 1)
    client.set_prompt_tag(name, "domain", "support")


def _damaged_export(src, prompt: str, out, damage) -> Path:
    """``prompt`` exported into ``out``, then ``damage(record)`` applied to the prompt record of
    its prompt.json; that file's path."""
    api.export_prompt(prompt, out, tracking_uri=src.tracking_uri)
    path = out / "prompt.json"
    document = json.loads(path.read_text())
    damage(document["mlflow"]["prompt"])
    path.write_text(json.dumps(document))
    return path


def _view(endpoint, name: str) -> dict:
    """Everything a client can set on a prompt, as the destination shows it (our own markers
    left out)."""
    client = endpoint.client
    prompt = client.get_prompt(name)
    versions = {}
    for v in all_versions(client, name):
        full = client.get_prompt_version(name, v.version)
        versions[str(full.version)] = {
            "template": full.template,
            "is_text": full.is_text_prompt,
            "commit_message": full.commit_message,
            "tags": {k: t for k, t in full.tags.items() if not k.startswith(idmap.PREFIX)},
            "model_config": full.model_config,
            "response_format": full.response_format,
            "aliases": sorted(full.aliases),
        }
    tags = {k: v for k, v in prompt.tags.items() if not k.startswith(idmap.PREFIX)}
    tags.pop(PROMPT_EXPERIMENT_IDS_TAG_KEY, None)  # each side's own ids: the tests map them
    return {"description": prompt.description, "tags": tags, "versions": versions}


@pytest.fixture
def source_prompt(src, unique_name):
    name = unique_name("prompt-")
    _make_prompt(src, name)
    return name


def test_prompt_round_trip_keeps_every_field(src, dst, source_prompt, unique_name, tmp_path):
    name = unique_name("copy-")

    api.export_prompt(source_prompt, tmp_path / "p", tracking_uri=src.tracking_uri)
    report = api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=dst.tracking_uri)

    assert _view(dst, name) == _view(src, source_prompt)
    view = _view(dst, name)
    assert list(view["versions"]) == ["1", "3"]  # version 2's gap rebuilt: the numbers kept
    assert view["versions"]["3"]["template"] == CHAT and not view["versions"]["3"]["is_text"]
    assert view["versions"]["1"]["model_config"] == MODEL_CONFIG
    assert view["versions"]["3"]["response_format"] == RESPONSE_FORMAT
    assert view["versions"]["3"]["aliases"] == ["production"]
    assert view["description"] == "the first commit"
    assert view["tags"] == {"team": "search", "domain": "support"}
    assert len(report.find("prompt_version", "imported")) == 2
    assert [o.destination_id for o in report.find("prompt", "imported")] == [name]


def test_second_import_adds_nothing(src, dst, source_prompt, unique_name, tmp_path):
    name = unique_name("copy-")
    api.export_prompt(source_prompt, tmp_path / "p", tracking_uri=src.tracking_uri)
    api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=dst.tracking_uri)
    before = [(v.version, v.creation_timestamp) for v in all_versions(dst.client, name)]

    report = api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=dst.tracking_uri)

    assert [(v.version, v.creation_timestamp) for v in all_versions(dst.client, name)] == before
    assert report.find("prompt_version", "imported") == []
    assert len(report.find("prompt_version", "skipped")) == 2
    assert [o.status for o in report.find("prompt")] == ["skipped"]


def test_export_of_chosen_versions(src, dst, source_prompt, unique_name, tmp_path):
    api.export_prompt(
        source_prompt, tmp_path / "p", prompt_version="3", tracking_uri=src.tracking_uri
    )
    document = json.loads((tmp_path / "p" / "prompt.json").read_text())

    assert [v["version"] for v in document["mlflow"]["prompt"]["versions"]] == ["3"]
    assert document["mlflow"]["prompt"]["aliases"] == {"production": "3"}


def test_delete_prompt_replaces_the_destination_prompt(
    src, dst, source_prompt, unique_name, tmp_path
):
    name = unique_name("copy-")
    api.export_prompt(source_prompt, tmp_path / "p", tracking_uri=src.tracking_uri)
    api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=dst.tracking_uri)
    dst.client.create_prompt_version(name, "made on the destination")  # version 4
    dst.client.set_prompt_alias(name, "production", 4)

    report = api.import_prompt(
        tmp_path / "p", prompt_name=name, delete_prompt=True, tracking_uri=dst.tracking_uri
    )

    assert report.find("prompt", "deleted")
    assert _view(dst, name) == _view(src, source_prompt)


def test_source_ids_in_prompt_tags_are_recorded_apart(src, dst, unique_name, tmp_path):
    source, name = unique_name("prompt-"), unique_name("copy-")
    src.client.create_prompt(source, tags={"_mlflow_experiment_ids": ",0,7,"})
    src.client.create_prompt_version(source, "hello {{x}}")
    api.export_prompt(source, tmp_path / "p", tracking_uri=src.tracking_uri)

    api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=dst.tracking_uri)

    tags = dst.client.get_prompt(name).tags
    assert "_mlflow_experiment_ids" not in tags
    assert tags[SOURCE_PREFIX + "experiment_ids"] == ",0,7,"


def test_a_bad_prompt_file_is_one_line_and_creates_nothing(
    src, dst, source_prompt, unique_name, tmp_path
):
    name = unique_name("copy-")
    path = _damaged_export(
        src, source_prompt, tmp_path / "p", lambda p: p["versions"][1].update(template=3)
    )

    result = CliRunner().invoke(
        migrate,
        ["import-prompt", "--input-dir", str(tmp_path / "p"), "--prompt-name", name,
         "--tracking-uri", dst.tracking_uri],
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}: mlflow.prompt.versions[1].template: expected a string or a list of "
        "chat messages, got 3"
    ]
    assert dst.client.get_prompt(name) is None


def test_a_failed_version_removes_the_prompt_it_created(
    src, dst, source_prompt, unique_name, tmp_path
):
    name = unique_name("copy-")
    # MLflow refuses the alias "v9" (the form of a version) once both versions are made.
    _damaged_export(src, source_prompt, tmp_path / "p", lambda p: p["aliases"].update(v9="3"))

    with pytest.raises(MlflowException):
        api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=dst.tracking_uri)

    assert dst.client.get_prompt(name) is None


def test_a_model_config_mlflow_refuses_is_named_before_anything_is_made(
    dst, source_prompt, src, unique_name, tmp_path
):
    name = unique_name("copy-")
    _damaged_export(
        src,
        source_prompt,
        tmp_path / "p",
        lambda p: p["versions"][1].update(model_config={"temperature": -1}),
    )

    with pytest.raises(RecordError, match=r"versions\[1\]\.model_config\.temperature"):
        api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=dst.tracking_uri)

    assert dst.client.get_prompt(name) is None


def test_cli_round_trip(src, dst, source_prompt, unique_name, tmp_path):
    name = unique_name("copy-")
    runner = CliRunner()
    exported = runner.invoke(
        migrate,
        ["export-prompt", "--prompt-name", source_prompt, "--output-dir", str(tmp_path / "p"),
         "--tracking-uri", src.tracking_uri],
    )  # fmt: skip
    imported = runner.invoke(
        migrate,
        ["import-prompt", "--input-dir", str(tmp_path / "p"), "--prompt-name", name,
         "--tracking-uri", dst.tracking_uri],
    )  # fmt: skip

    assert exported.exit_code == 0, exported.output
    assert imported.exit_code == 0, imported.output
    assert "prompt versions: 2 imported" in imported.output
    assert _view(dst, name) == _view(src, source_prompt)


def test_reference_prompt_export_imports(dst, unique_name, tmp_path):
    name = unique_name("copy-")
    folder = tmp_path / "ref"
    folder.mkdir()
    (folder / "prompt.json").write_text(
        json.dumps(
            {
                "system": {"export_file_version": "2", "mlflow_version": "3.1.4"},
                "mlflow": {
                    "prompt": {
                        "name": "my-greeting-prompt",
                        "version": "1",
                        "template": "Hello {{name}}!",
                        "tags": {"purpose": "greeting"},
                        "commit_message": "Initial version",
                        "description": "Initial version",
                    }
                },
            }
        )
    )

    api.import_prompt(folder, prompt_name=name, tracking_uri=dst.tracking_uri)

    view = _view(dst, name)
    assert view["versions"]["1"]["template"] == "Hello {{name}}!"
    assert view["versions"]["1"]["commit_message"] == "Initial version"
    assert view["tags"] == {"purpose": "greeting"}


def test_prompts_are_not_listed_as_registered_models(src, source_prompt):
    assert source_prompt not in bulk_selection.model_names(src, None)


def _in_experiment(endpoint, prompt: str, experiment: str) -> list[str]:
    """Link ``prompt`` to a new experiment as MLflow does when a run loads it there: its tag
    ``_mlflow_experiment_ids``. Return the experiment's id."""
    experiment_id = endpoint.client.create_experiment(experiment)
    endpoint.client.set_prompt_tag(prompt, PROMPT_EXPERIMENT_IDS_TAG_KEY, f",{experiment_id},")
    return experiment_id


def _prompts_tab(endpoint, experiment: str) -> list[str]:
    """The prompts MLflow lists in an experiment's Prompts tab."""
    experiment_id = endpoint.client.get_experiment_by_name(experiment).experiment_id
    found = endpoint.client.search_prompts(filter_string=f"experiment_id = '{experiment_id}'")
    return [p.name for p in found]


def test_export_all_and_import_all_carry_prompts(sqlite_endpoint, tmp_path):
    source, destination = sqlite_endpoint("src"), sqlite_endpoint("dst")
    _make_prompt(source, "bulk-prompt")
    destination.client.create_experiment("taken-first")  # the ids differ on each side
    source_experiment = _in_experiment(source, "bulk-prompt", "prompted")
    source.client.create_registered_model("bulk-model")
    out = tmp_path / "all"

    exported = api.export_all(out, tracking_uri=source.tracking_uri)
    imported = api.import_all(out, tracking_uri=destination.tracking_uri)
    again = api.import_all(out, tracking_uri=destination.tracking_uri)

    assert not exported.failed and not imported.failed and not again.failed
    assert [o.source_id for o in exported.find("registered_model", "exported")] == ["bulk-model"]
    assert (out / "prompts" / "bulk-prompt" / "prompt.json").is_file()
    assert _view(destination, "bulk-prompt") == _view(source, "bulk-prompt")
    assert [o.status for o in again.find("prompt")] == ["skipped"]
    assert again.find("prompt_version", "imported") == []
    copied = destination.client.get_experiment_by_name("prompted").experiment_id
    assert copied != source_experiment
    tags = destination.client.get_prompt("bulk-prompt").tags
    assert tags[PROMPT_EXPERIMENT_IDS_TAG_KEY] == f",{copied},"  # once, after two imports
    assert tags[SOURCE_PREFIX + "experiment_ids"] == f",{source_experiment},"
    assert _prompts_tab(destination, "prompted") == ["bulk-prompt"]


def test_copy_all_carries_prompts_first_and_once(sqlite_endpoint):
    source, destination = sqlite_endpoint("src"), sqlite_endpoint("dst")
    _make_prompt(source, "copied-prompt")
    destination.client.create_experiment("taken-first")  # the ids differ on each side
    _in_experiment(source, "copied-prompt", "prompted")
    source.client.create_registered_model("copied-model")
    uris = {"src_mlflow_uri": source.tracking_uri, "dst_mlflow_uri": destination.tracking_uri}

    copied = api.copy_all(**uris)
    again = api.copy_all(**uris)
    narrowed = api.copy_all(**uris, experiments=["Default"])

    assert not copied.failed and not again.failed and not narrowed.failed
    assert _view(destination, "copied-prompt") == _view(source, "copied-prompt")
    kinds = [o.kind for o in copied.outcomes]
    assert kinds.index("prompt") < kinds.index("registered_model")  # prompts first
    assert copied.find("prompt", "exported") == []  # the copy's outcomes are the import's
    assert [o.status for o in copied.find("prompt")] == ["imported"]
    assert [o.status for o in again.find("prompt")] == ["skipped"]
    assert narrowed.find("prompt") == []  # as export-all: a chosen few experiments, no prompts
    assert _prompts_tab(destination, "prompted") == ["copied-prompt"]


def test_import_source_tags_record_what_mlflow_sets_itself(
    src, dst, source_prompt, unique_name, tmp_path
):
    name = unique_name("copy-")
    api.export_prompt(source_prompt, tmp_path / "p", tracking_uri=src.tracking_uri)

    api.import_prompt(
        tmp_path / "p", prompt_name=name, import_source_tags=True, tracking_uri=dst.tracking_uri
    )

    source = src.client.get_prompt_version(source_prompt, 3)
    copy = dst.client.get_prompt_version(name, 3)
    assert copy.tags[SOURCE_VERSION_PREFIX + "creation_timestamp"] == str(source.creation_timestamp)
    prompt_tags = dst.client.get_prompt(name).tags
    assert prompt_tags[SOURCE_PREFIX + "creation_timestamp"] == str(
        src.client.get_prompt(source_prompt).creation_timestamp
    )
    assert _view(dst, name) == _view(src, source_prompt)  # the user's own tags unchanged


@pytest.mark.slow
def test_lost_answers_to_version_creates_keep_every_number(
    src, dst, dst_server, source_prompt, unique_name, tmp_path
):
    name = unique_name("copy-")
    api.export_prompt(source_prompt, tmp_path / "p", tracking_uri=src.tracking_uri)
    proxy = FaultProxy(dst_server.url).start()
    try:
        # Every other version create (the placeholder of the gap among them) is committed by
        # the server and its answer lost on the way back.
        proxy.lose_answers(r"/model-versions/create$", every=2)

        report = api.import_prompt(tmp_path / "p", prompt_name=name, tracking_uri=proxy.url)
    finally:
        proxy.stop()

    assert proxy.answers_lost >= 1
    assert not report.failed and report.warnings == []
    assert [v.version for v in all_versions(dst.client, name)] == [1, 3]
    assert _view(dst, name) == _view(src, source_prompt)
