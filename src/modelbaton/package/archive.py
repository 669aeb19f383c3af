"""The `.baton` single-file form of a package: a deterministic, defensively read tar.gz.

Writing: files in sorted order, zero times and owners, fixed modes, gzip without a name or
time stamp, so the same package always gives the same bytes (and the same sha256).

Reading refuses absolute paths, `..`, links, device files and duplicate names, and caps
the number of members and the bytes actually written (not the sizes the headers claim),
so a decompression bomb stops at the cap. It extracts into a temporary folder and renames
it into place: a failed extraction leaves nothing behind.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from ..contract.errors import IntegrityError, PackageError, UnsafeInputError
from ..contract.io import MANIFEST_NAME, read_manifest
from .integrity import RECEIPTS_DIR

SUFFIX = ".baton"
MAX_MEMBERS = 100_000
MAX_BYTES = 64 << 30  # 64 GiB unpacked
MAX_RATIO = 200  # unpacked bytes per archive byte beyond which it is treated as a bomb
_RATIO_FLOOR = 64 << 20  # small archives may compress better than that legitimately


def write_archive(root: Path, dest: Path, *, level: int = 6) -> Path:
    """Write the package folder `root` as one `.baton` file, atomically.

    It holds the manifest, exactly the files it lists and the receipts; anything else
    lying in the folder is not part of the package and stays out.
    """
    listed = sorted(entry.path for entry in read_manifest(root / MANIFEST_NAME).files)
    missing = next((name for name in listed if not (root / name).is_file()), None)
    if missing is not None:
        raise IntegrityError(f"file listed in the manifest is missing: {missing}",
                             where=str(root), hint="the package is incomplete; copy it again")
    names = [MANIFEST_NAME, *listed]
    receipts = root / RECEIPTS_DIR
    if receipts.is_dir():
        names += sorted(str(p.relative_to(root)).replace(os.sep, "/")
                        for p in receipts.rglob("*") if p.is_file())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                   compresslevel=level, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in names:
                path = root / name
                info = tarfile.TarInfo(name)
                info.size = path.stat().st_size
                info.mode = 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def extract_archive(archive: Path, dest: Path, *, max_bytes: int = MAX_BYTES,
                    max_members: int = MAX_MEMBERS) -> Path:
    """Extract a `.baton` file into the new folder `dest`; refuse anything hostile."""
    if dest.exists():
        raise PackageError(f"{dest} already exists", hint="extract into a new folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest.parent))
    try:
        _extract_members(archive, staging, max_bytes, max_members)
        if not (staging / MANIFEST_NAME).is_file():
            raise PackageError(f"{archive} holds no {MANIFEST_NAME}",
                               hint="is it a Baton package archive?")
        try:
            os.replace(staging, dest)
        except OSError as exc:  # e.g. another process extracted the same archive meanwhile
            raise PackageError(f"cannot move the extracted package into {dest} ({exc})") \
                from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _extract_members(archive: Path, root: Path, max_bytes: int, max_members: int) -> None:
    budget = min(max_bytes, max(_RATIO_FLOOR, archive.stat().st_size * MAX_RATIO))
    written = 0
    seen: set[str] = set()
    try:
        tar = tarfile.open(archive, mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackageError(f"{archive} is not a readable package archive ({exc})") from None
    with tar:
        try:
            for count, member in enumerate(tar, start=1):
                if count > max_members:
                    raise UnsafeInputError(f"{archive} has more than {max_members} members",
                                           hint="refused as a possible archive bomb")
                rel = _safe_name(archive, member)
                if rel in seen:
                    raise UnsafeInputError(f"{archive}: '{rel}' appears twice")
                seen.add(rel)
                target = root / rel
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with open(target, "wb") as out:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > budget:
                            raise UnsafeInputError(
                                f"{archive} unpacks to more than {budget:,} bytes",
                                hint="refused as a possible decompression bomb")
                        out.write(chunk)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise PackageError(f"{archive} is truncated or corrupt ({exc})") from None
        except OSError as exc:  # a member that collides with another one, a full disk
            raise PackageError(f"{archive}: cannot extract it ({exc})") from None


def _safe_name(archive: Path, member: tarfile.TarInfo) -> str:
    name = member.name
    path = PurePosixPath(name)
    if name.startswith("/") or path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise UnsafeInputError(f"{archive}: member '{name}' has an absolute path")
    if ".." in path.parts:
        raise UnsafeInputError(f"{archive}: member '{name}' climbs out with '..'")
    if member.issym() or member.islnk():
        target = posixpath.normpath(posixpath.join(str(path.parent), member.linkname))
        escapes = target.startswith(("/", "..")) or ":" in target[:2]
        reason = f"points outside the package ({member.linkname})" if escapes \
            else "is a link; package archives hold regular files only"
        raise UnsafeInputError(f"{archive}: member '{name}' {reason}")
    if not (member.isfile() or member.isdir()):
        raise UnsafeInputError(f"{archive}: member '{name}' is a device, FIFO or other "
                               "special file")
    return str(path)


def is_archive(path: Path) -> bool:
    return path.is_file() and (path.suffix == SUFFIX or _looks_gzip(path))


def _looks_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


__all__ = ["SUFFIX", "extract_archive", "is_archive", "write_archive"]
