"""The parts of whole-server migration that need no server: shards, folder names, input files."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlflow_migrate_plugin.cli import migrate
from mlflow_migrate_plugin.errors import UsageError
from mlflow_migrate_plugin.exportdir.bulk_dir import (
    BulkDir,
    model_folder,
    read_name_list,
    read_rename_file,
)
from mlflow_migrate_plugin.handlers.bulk_selection import Shard


def test_shards_split_keys_without_overlap_and_always_the_same_way():
    keys = [str(i) for i in range(1000)] + [f"model:name-{i}" for i in range(200)]
    shards = [Shard.parse(f"{k}/4") for k in range(4)]

    owned = [{key for key in keys if shard.owns(key)} for shard in shards]

    assert set().union(*owned) == set(keys)
    assert sum(len(part) for part in owned) == len(keys)
    assert all(150 < len(part) < 450 for part in owned)  # roughly even
    assert owned[2] == {key for key in keys if Shard(2, 4).owns(key)}


@pytest.mark.parametrize("text", ["4/4", "-1/2", "1", "a/b", "1/0"])
def test_a_shard_out_of_range_is_a_usage_error(text):
    with pytest.raises(UsageError):
        Shard.parse(text)


def test_export_all_refuses_a_bad_shard_before_any_work(tmp_path):
    result = CliRunner().invoke(
        migrate, ["export-all", "--output-dir", str(tmp_path), "--shard", "3/3"]
    )

    assert result.exit_code == 2
    assert "--shard '3/3'" in result.output


def test_model_folders_are_safe_and_distinct():
    assert model_folder("sklearn_iris") == "sklearn_iris"
    odd = [model_folder(n) for n in ("team/a model", "team/a_model", "..", "catalog.schema.m")]

    assert len(set(odd)) == 4
    assert all("/" not in f and f not in (".", "..") for f in odd)
    assert odd[3] == "catalog.schema.m"


def test_rename_file_reads_pairs_and_names_a_bad_line(tmp_path):
    good = tmp_path / "renames.csv"
    good.write_text("# old,new\nexp-a, exp-b\n\nmodel x,model y\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("exp-a,exp-b\njust-a-name\n")

    assert read_rename_file(good) == {"exp-a": "exp-b", "model x": "model y"}
    with pytest.raises(UsageError, match="line 2"):
        read_rename_file(bad)


def test_name_lists_come_comma_separated_or_from_a_file(tmp_path):
    listed = tmp_path / "names.txt"
    listed.write_text("first\n# a comment\nsecond, with comma\n")

    assert read_name_list("a, b,,c") == ["a", "b", "c"]
    assert read_name_list(str(listed)) == ["first", "second, with comma"]


def test_a_directory_that_is_no_bulk_export_is_refused(tmp_path):
    from mlflow_migrate_plugin.errors import ExportDirError

    with pytest.raises(ExportDirError, match="not a bulk export"):
        BulkDir(tmp_path)
