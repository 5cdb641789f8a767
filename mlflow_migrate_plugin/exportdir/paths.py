"""Safe paths inside an export directory, and the artifact manifest (size and sha256 per file).

Nothing read from an export directory may lead outside it: names are checked before use, and
symlinks are refused rather than followed, so an import never uploads what a link points to.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import IntegrityError, UnsafePathError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArtifactFile:
    """One artifact file: its path relative to the artifact root (POSIX), size and sha256."""

    path: str
    size: int
    sha256: str | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safe_join(root: str | os.PathLike, relative: str) -> Path:
    """``root/relative``, refusing absolute names, ``..``, and any symlink on the way."""
    root = Path(root)
    pure = PurePosixPath(relative)
    if (
        not relative
        or pure.is_absolute()
        or "\\" in relative
        or any(part in ("..", "") for part in pure.parts)
    ):
        raise UnsafePathError(f"{root}: artifact path {relative!r} would lead outside the export")
    path = root
    for part in pure.parts:
        path = path / part
        if path.is_symlink():
            raise UnsafePathError(f"{path}: is a symlink; refusing to read what it points to")
    return path


def walk_files(root: str | os.PathLike) -> list[ArtifactFile]:
    """Every regular file under ``root`` (sizes, no hashes). Symlinks are an error."""
    root = Path(root)
    found: list[ArtifactFile] = []
    if not root.exists():
        return found
    if root.is_symlink():
        raise UnsafePathError(f"{root}: is a symlink; refusing to read what it points to")
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise UnsafePathError(f"{full}: is a symlink; refusing to read what it points to")
            if name in filenames and not stat.S_ISREG(mode):
                raise UnsafePathError(f"{full}: is not a regular file")
        for name in filenames:
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            found.append(ArtifactFile(rel, full.lstat().st_size))
    found.sort(key=lambda f: f.path)
    return found


def verify_file(root: str | os.PathLike, entry: ArtifactFile) -> Path:
    """Check one manifest entry against the file on disk; return its safe absolute path."""
    path = safe_join(root, entry.path)
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise IntegrityError(
            f"{path}: listed in the export's manifest but missing; the export is incomplete"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"{path}: is not a regular file")
    if st.st_size != entry.size:
        raise IntegrityError(
            f"{path}: size {st.st_size} does not match {entry.size} recorded at export"
        )
    if entry.sha256 and sha256_of(path) != entry.sha256:
        raise IntegrityError(f"{path}: content does not match the sha256 recorded at export")
    return path


def manifest_of(files: list[ArtifactFile]) -> dict:
    """The manifest written into an export's JSON: count, bytes and every file, sorted."""
    files = sorted(files, key=lambda f: f.path)
    return {
        "count": len(files),
        "bytes": sum(f.size for f in files),
        "files": [f.to_dict() for f in files],
    }


def manifest_from(entries: list[dict]) -> list[ArtifactFile]:
    try:
        return [ArtifactFile(e["path"], int(e["size"]), e.get("sha256")) for e in entries]
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"artifact manifest entry is malformed: {exc}") from None
