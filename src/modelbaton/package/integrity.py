"""File digests: every file of a package is listed with sha256 and size, and checked on load.

`baton.yaml` itself is not listed (its canonical form is the package digest), nor is
`receipts/`, where verification, benchmark and signature receipts are added after packing
without changing what was packed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from ..contract.errors import IntegrityError
from ..contract.io import MANIFEST_NAME
from ..contract.manifest import FileEntry, Manifest

RECEIPTS_DIR = "receipts"
_CHUNK = 1 << 20  # 1 MiB reads keep hashing at OpenSSL speed without holding the file


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        while True:
            n = handle.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()


def packaged_files(root: Path) -> list[str]:
    """Relative paths of every file the manifest must list, sorted."""
    found = []
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        if rel_dir == RECEIPTS_DIR or rel_dir.startswith(RECEIPTS_DIR + os.sep):
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            rel = os.path.normpath(os.path.join(rel_dir, name)).replace(os.sep, "/")
            if rel != MANIFEST_NAME and not name.startswith(f".{MANIFEST_NAME}"):
                found.append(rel)
    return sorted(found)


def file_entries(root: Path, paths: Iterable[str] | None = None) -> list[FileEntry]:
    paths = packaged_files(root) if paths is None else sorted(paths)
    return [FileEntry(path=p, sha256=sha256_file(root / p), size=(root / p).stat().st_size)
            for p in paths]


def verify_files(root: Path, manifest: Manifest) -> None:
    """Fail closed on the first file that is missing, changed or not listed."""
    listed = {entry.path: entry for entry in manifest.files}
    for entry in manifest.files:
        path = root / entry.path
        if not path.is_file():
            raise IntegrityError(f"file listed in the manifest is missing: {entry.path}",
                                 where=str(root), hint="the package is incomplete; copy it again")
        size = path.stat().st_size
        if size != entry.size or sha256_file(path) != entry.sha256:
            raise IntegrityError(f"{entry.path} differs from the manifest (sha256 or size "
                                 "changed)", where=str(root),
                                 hint="the file was altered after packing; get an intact copy")
    extra = [p for p in packaged_files(root) if p not in listed]
    if extra:
        raise IntegrityError(f"file not listed in the manifest: {extra[0]}"
                             + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""),
                             where=str(root),
                             hint="remove it, or re-pack so that the manifest lists it")
