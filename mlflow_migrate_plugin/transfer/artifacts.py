"""Artifacts through MLflow's artifact repositories, file by file on the engine's pool.

MLflow's repositories download in parallel but upload a directory one file at a time; copying
file by file on our pool makes both directions concurrent and lets us hash, verify and rewrite
(MLmodel) each file on the way.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from ..exportdir.paths import ArtifactFile, safe_join, sha256_of, verify_file
from ..report import NO_PROGRESS, Phase
from .engine import Engine, Task
from .spool import Spool

# Returns new file content for a file that must change on the way (an MLmodel), else None.
Rewriter = Callable[[str, Path], "bytes | None"]


def list_tree(repo, engine: Engine) -> list[ArtifactFile]:
    """Every file below the repository root, listing directories of one level concurrently."""
    files: list[ArtifactFile] = []
    level: list[str | None] = [None]
    while level:
        listings = engine.run(_list_task(repo, path) for path in level)
        level = []
        for infos in listings:
            for info in infos:
                if info.is_dir:
                    level.append(info.path)
                else:
                    files.append(ArtifactFile(info.path, int(info.file_size or 0)))
    files.sort(key=lambda f: f.path)
    return files


def _list_task(repo, path: str | None) -> Task:
    return lambda: repo.list_artifacts(path)


def download(
    repo, files: list[ArtifactFile], dst_root: Path, engine: Engine, phase: Phase | None = None
) -> Iterator[Task]:
    """Tasks that download ``files`` under ``dst_root``; each returns the file with its sha256."""
    phase = phase or NO_PROGRESS.phase("", None)
    for entry in sorted(files, key=lambda f: -f.size):  # large files first balance the pool
        yield _download_task(repo, entry, dst_root, phase)


def _download_task(repo, entry: ArtifactFile, dst_root: Path, phase: Phase) -> Task:
    def task() -> ArtifactFile:
        local = safe_join(dst_root, entry.path)
        local.parent.mkdir(parents=True, exist_ok=True)
        # _download_file is the single-file hook every MLflow artifact repository implements;
        # the public download_artifacts() would first list the path to learn it is a file.
        repo._download_file(entry.path, str(local))
        size = local.stat().st_size
        phase.advance(size)
        return ArtifactFile(entry.path, size, sha256_of(local))

    return task


def upload(
    repo,
    root: Path,
    files: list[ArtifactFile],
    rewrite: Rewriter | None = None,
    phase: Phase | None = None,
) -> Iterator[Task]:
    """Tasks that upload ``files`` (relative to ``root``, checked by :func:`verify_tasks`
    before anything was created) to ``repo`` at the same paths."""
    phase = phase or NO_PROGRESS.phase("", None)
    for entry in sorted(files, key=lambda f: -f.size):
        yield _upload_task(repo, root, entry, rewrite, phase)


def _upload_task(
    repo, root: Path, entry: ArtifactFile, rewrite: Rewriter | None, phase: Phase
) -> Task:
    def task() -> str:
        local = safe_join(root, entry.path)
        directory = str(PurePosixPath(entry.path).parent)
        artifact_dir = None if directory == "." else directory
        new_content = rewrite(entry.path, local) if rewrite else None
        if new_content is None:
            repo.log_artifact(str(local), artifact_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="mlflow-migrate-") as tmp:
                rewritten = Path(tmp, local.name)
                rewritten.write_bytes(new_content)
                repo.log_artifact(str(rewritten), artifact_dir)
        phase.advance(entry.size)
        return entry.path

    return task


def copy(
    src_repo,
    dst_repo,
    files: list[ArtifactFile],
    spool: Spool,
    rewrite: Rewriter | None = None,
    phase: Phase | None = None,
) -> Iterator[Task]:
    """Tasks that copy ``files`` from one repository to another at the same paths, each
    through one slot of ``spool`` (removed once uploaded); each returns the file's path."""
    phase = phase or NO_PROGRESS.phase("", None)
    for entry in sorted(files, key=lambda f: -f.size):
        yield _copy_task(src_repo, dst_repo, entry, spool, rewrite, phase)


def _copy_task(
    src_repo, dst_repo, entry: ArtifactFile, spool: Spool, rewrite: Rewriter | None, phase: Phase
) -> Task:
    def task() -> str:
        directory = str(PurePosixPath(entry.path).parent)
        artifact_dir = None if directory == "." else directory
        with spool.file(PurePosixPath(entry.path).name) as local:
            src_repo._download_file(entry.path, str(local))  # see _download_task
            new_content = rewrite(entry.path, local) if rewrite else None
            if new_content is not None:
                local.write_bytes(new_content)
            dst_repo.log_artifact(str(local), artifact_dir)
        phase.advance(entry.size)
        return entry.path

    return task


def verify_tasks(root: Path, files: list[ArtifactFile]) -> Iterator[Task]:
    """Tasks that check each file against the manifest before anything is created."""
    for entry in files:
        yield (lambda e=entry: verify_file(root, e))


def total_bytes(files: list[ArtifactFile]) -> int:
    return sum(f.size for f in files)
