"""Safe paths and the artifact manifest (exportdir/paths.py): nothing outside the export is read."""

from __future__ import annotations

import hashlib
import os

import pytest

from mlflow_migrate_plugin.errors import IntegrityError, UnsafePathError
from mlflow_migrate_plugin.exportdir.paths import (
    ArtifactFile,
    manifest_from,
    safe_join,
    sha256_of,
    verify_file,
    walk_files,
)


@pytest.fixture
def tree(tmp_path):
    """artifacts/ with a nested file, an empty file and a file at the top."""
    root = tmp_path / "artifacts"
    (root / "plots" / "deep").mkdir(parents=True)
    (root / "report.txt").write_text("report ✓\n")
    (root / "plots" / "curve.bin").write_bytes(bytes(range(256)) * 4)
    (root / "plots" / "deep" / "empty.txt").write_bytes(b"")
    return root


def _entry(root, path: str) -> ArtifactFile:
    full = root / path
    return ArtifactFile(path, full.stat().st_size, sha256_of(full))


# safe_join --------------------------------------------------------------------------------------


def test_safe_join_returns_the_path_below_root(tree):
    assert safe_join(tree, "plots/deep/empty.txt") == tree / "plots" / "deep" / "empty.txt"


@pytest.mark.parametrize(
    "relative",
    [
        "../outside.txt",
        "plots/../../outside.txt",
        "..",
        "/etc/passwd",
        "//etc/passwd",
        "plots\\..\\..\\x",
        "",
    ],
)
def test_safe_join_refuses_paths_that_could_leave_the_root(tree, relative):
    with pytest.raises(UnsafePathError, match="outside the export"):
        safe_join(tree, relative)


def test_safe_join_refuses_a_symlinked_file(tree, tmp_path):
    (tmp_path / "secret").write_text("secret")
    (tree / "link.txt").symlink_to(tmp_path / "secret")

    with pytest.raises(UnsafePathError, match="symlink"):
        safe_join(tree, "link.txt")


def test_safe_join_refuses_a_symlinked_folder_on_the_way(tree, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.txt").write_text("x")
    (tree / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    with pytest.raises(UnsafePathError, match="symlink"):
        safe_join(tree, "linked/x.txt")


# walk_files -------------------------------------------------------------------------------------


def test_walk_files_lists_every_regular_file_with_its_size_sorted(tree):
    assert walk_files(tree) == [
        ArtifactFile("plots/curve.bin", 1024),
        ArtifactFile("plots/deep/empty.txt", 0),
        ArtifactFile("report.txt", len("report ✓\n".encode())),
    ]


def test_walk_files_of_a_missing_folder_is_empty(tmp_path):
    assert walk_files(tmp_path / "no-artifacts") == []


def test_walk_files_refuses_a_symlinked_file(tree, tmp_path):
    (tmp_path / "secret").write_text("secret")
    (tree / "plots" / "deep" / "link").symlink_to(tmp_path / "secret")

    with pytest.raises(UnsafePathError, match="link"):
        walk_files(tree)


def test_walk_files_refuses_a_symlinked_folder(tree, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tree / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    with pytest.raises(UnsafePathError, match="linked"):
        walk_files(tree)


def test_walk_files_refuses_a_root_that_is_a_symlink(tree, tmp_path):
    link = tmp_path / "artifacts-link"
    link.symlink_to(tree, target_is_directory=True)

    with pytest.raises(UnsafePathError, match="symlink"):
        walk_files(link)


def test_walk_files_refuses_special_files(tree):
    os.mkfifo(tree / "pipe")

    with pytest.raises(UnsafePathError, match="not a regular file"):
        walk_files(tree)


# verify_file and the manifest -------------------------------------------------------------------


def test_sha256_of_matches_hashlib(tree):
    data = (tree / "plots" / "curve.bin").read_bytes()
    assert sha256_of(tree / "plots" / "curve.bin") == hashlib.sha256(data).hexdigest()


def test_verify_file_accepts_a_matching_file_and_returns_its_path(tree):
    entry = _entry(tree, "plots/curve.bin")

    assert verify_file(tree, entry) == tree / "plots" / "curve.bin"


def test_verify_file_accepts_an_empty_file(tree):
    assert verify_file(tree, _entry(tree, "plots/deep/empty.txt")).stat().st_size == 0


def test_verify_file_refuses_same_size_other_bytes(tree):
    entry = _entry(tree, "plots/curve.bin")
    data = bytearray((tree / "plots" / "curve.bin").read_bytes())
    data[0] ^= 1
    (tree / "plots" / "curve.bin").write_bytes(bytes(data))

    with pytest.raises(IntegrityError, match="sha256"):
        verify_file(tree, entry)


def test_verify_file_refuses_another_size(tree):
    entry = _entry(tree, "report.txt")
    (tree / "report.txt").write_text("longer report than before\n")

    with pytest.raises(IntegrityError, match="size"):
        verify_file(tree, entry)


def test_verify_file_refuses_a_missing_file(tree):
    entry = _entry(tree, "report.txt")
    (tree / "report.txt").unlink()

    with pytest.raises(IntegrityError, match="missing"):
        verify_file(tree, entry)


def test_verify_file_without_a_recorded_hash_checks_the_size(tree):
    assert verify_file(tree, ArtifactFile("report.txt", (tree / "report.txt").stat().st_size))
    with pytest.raises(IntegrityError, match="size"):
        verify_file(tree, ArtifactFile("report.txt", 1))


def test_verify_file_refuses_a_symlink_even_to_identical_bytes(tree, tmp_path):
    entry = _entry(tree, "report.txt")
    (tmp_path / "copy.txt").write_bytes((tree / "report.txt").read_bytes())
    (tree / "report.txt").unlink()
    (tree / "report.txt").symlink_to(tmp_path / "copy.txt")

    with pytest.raises(UnsafePathError, match="symlink"):
        verify_file(tree, entry)


def test_verify_file_refuses_a_folder_where_a_file_was(tree):
    entry = ArtifactFile("plots", 0)

    with pytest.raises(UnsafePathError, match="not a regular file"):
        verify_file(tree, entry)


def test_manifest_entries_round_trip_through_json_dicts(tree):
    entries = [_entry(tree, "report.txt"), _entry(tree, "plots/deep/empty.txt")]

    assert manifest_from([e.to_dict() for e in entries]) == entries


@pytest.mark.parametrize(
    "bad", [[{"path": "a"}], [{"size": 1}], [{"path": "a", "size": "x"}], ["not-a-dict"]]
)
def test_manifest_from_refuses_malformed_entries(bad):
    with pytest.raises(IntegrityError, match="malformed"):
        manifest_from(bad)
