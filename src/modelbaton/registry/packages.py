"""Packages in and out of the registry: what a push uploads, and where a pull lands.

Both the local registry and the HTTP client use these, so a package travels the same way
whichever registry is behind the command. Pulled versions are materialised once per
digest in `$BATON_HOME/cache/registry/<digest>`, file by file with every blob verified,
in a staging folder renamed into place only when complete; their receipts are refreshed
on every pull, since receipts can be attached after the push.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from ..contract.errors import IntegrityError, ManifestError, PackageError, UnsafeInputError
from ..contract.io import MANIFEST_NAME, canonical_json, parse_manifest
from ..contract.manifest import SUPPORTED_API_VERSIONS, FileEntry, Manifest
from ..package.archive import is_archive
from ..package.integrity import RECEIPTS_DIR, packaged_files, sha256_file
from ..package.load import open_package
from ..package.receipts import KINDS, read_receipts
from ..settings import baton_home
from .blobs import is_sha256

Fetch = Callable[[str, Path, str], None]  # (sha256, local destination, file it is) -> None


@dataclass(frozen=True)
class Upload:
    """A package ready to push: its files (each to be hashed as it is uploaded)."""

    root: Path
    manifest: Manifest
    manifest_sha256: str
    files: list[FileEntry]
    receipts: list[dict[str, Any]]

    @property
    def all_files(self) -> list[FileEntry]:
        size = (self.root / MANIFEST_NAME).stat().st_size
        return [FileEntry(path=MANIFEST_NAME, sha256=self.manifest_sha256, size=size),
                *self.files]


def prepare_upload(path: str | Path) -> Upload:
    """Open a package for pushing; files are hashed later, once, while they upload."""
    path = Path(path)
    root = path.parent if path.name == MANIFEST_NAME else path
    if is_archive(path) or not (root / MANIFEST_NAME).is_file():
        root = open_package(path, verify=False).root  # extracts, or says what is wrong
    text = (root / MANIFEST_NAME).read_text(encoding="utf-8")
    manifest, _ = parse_manifest_text(text, str(root / MANIFEST_NAME))
    listed = {entry.path for entry in manifest.files}
    extra = [p for p in packaged_files(root) if p not in listed]
    if extra:
        raise IntegrityError(f"file not listed in the manifest: {extra[0]}", where=str(root),
                             hint="remove it, or re-pack so that the manifest lists it")
    for entry in manifest.files:
        safe_path(entry.path, str(root))
        file = root / entry.path
        if not file.is_file():
            raise IntegrityError(f"file listed in the manifest is missing: {entry.path}",
                                 where=str(root), hint="the package is incomplete")
        if file.stat().st_size != entry.size:
            raise IntegrityError(f"{entry.path} differs from the manifest (size changed)",
                                 where=str(root), hint="re-pack the package")
    receipts = [{k: v for k, v in r.items() if k != "_path"} for r in read_receipts(root)]
    return Upload(root, manifest, sha256_file(root / MANIFEST_NAME), list(manifest.files),
                  receipts)


def parse_manifest_text(text: str, source: str) -> tuple[Manifest, str]:
    """The manifest and its digest from one parse (libyaml when available; construction is
    PyYAML's own either way, so the data and the digest are the same as `contract.io`'s).
    Anything invalid goes through `parse_manifest` for its error that names the line."""
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict) or data.get("apiVersion") not in SUPPORTED_API_VERSIONS:
        parse_manifest(text, source=source)  # raises, naming the line
        raise ManifestError("the manifest is not a mapping", where=source)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError:
        parse_manifest(text, source=source)  # raises, naming the line
        raise
    return manifest, hashlib.sha256(canonical_json(data)).hexdigest()


def check_receipt(receipt: Any, where: str) -> dict[str, Any]:
    """A receipt as `modelbaton.package.receipts` writes it, or a one-line error."""
    if not isinstance(receipt, dict):
        raise PackageError(f"{where} is not a receipt (a JSON object)")
    receipt = {k: v for k, v in receipt.items() if k != "_path"}
    if receipt.get("kind") not in KINDS:
        raise PackageError(f"{where}: receipt kind {receipt.get('kind')!r} is not one of "
                           f"{', '.join(KINDS)}")
    if not isinstance(receipt.get("passed"), bool):
        raise PackageError(f"{where}: receipt field `passed` must be true or false")
    if not isinstance(receipt.get("package_digest"), str):
        raise PackageError(f"{where}: receipt has no `package_digest`",
                           hint="receipts are bound to the package digest they prove")
    return receipt


def read_receipt_file(path: Path) -> dict[str, Any]:
    try:
        return check_receipt(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, ValueError) as exc:
        raise PackageError(f"cannot read the receipt {path}: {exc}") from None


def safe_path(rel: str, where: str) -> str:
    """A manifest path that stays inside the package."""
    path = PurePosixPath(rel)
    if rel.startswith("/") or path.is_absolute() or ".." in path.parts or "\\" in rel \
            or rel in ("", ".") or path.parts[0] in (MANIFEST_NAME, RECEIPTS_DIR):
        raise UnsafeInputError(f"{where}: file path '{rel}' is not a plain path inside the "
                               "package")
    return rel


def materialize(version: dict[str, Any], fetch: Fetch) -> Path:
    """The version's package in the local cache, fetched (and verified) if not there yet."""
    digest = version["digest"]
    if not is_sha256(digest):
        raise UnsafeInputError(f"{version.get('ref')}: '{digest[:80]}' is not a package digest")
    target = baton_home() / "cache" / "registry" / digest
    if not (target / MANIFEST_NAME).is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=target.parent))
        try:
            fetch(version["manifest_sha256"], staging / MANIFEST_NAME,
                  f"{version['ref']} {MANIFEST_NAME}")
            text = (staging / MANIFEST_NAME).read_text(encoding="utf-8")
            if parse_manifest_text(text, f"{version['ref']} {MANIFEST_NAME}")[1] != digest:
                raise IntegrityError(f"the manifest of {version['ref']} does not have the "
                                     f"version's digest {digest[:12]}",
                                     hint="the registry's records are inconsistent")
            for entry in version["files"]:
                dest = staging / safe_path(entry["path"], version["ref"])
                dest.parent.mkdir(parents=True, exist_ok=True)
                fetch(entry["sha256"], dest, f"{version['ref']} {entry['path']}")
            try:
                os.replace(staging, target)
            except OSError:  # another process materialised it first
                if not (target / MANIFEST_NAME).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    write_receipts(target, version.get("receipts", []))
    return target


def write_receipts(root: Path, receipts: list[dict[str, Any]]) -> None:
    """Make `receipts/` hold exactly the registry's receipts of this version."""
    folder = root / RECEIPTS_DIR
    folder.mkdir(exist_ok=True)
    wanted = {}
    for receipt in receipts:
        body = check_receipt(receipt["body"], f"receipt {receipt['sha256'][:12]}")
        stamp = re.sub(r"[^0-9T]", "", str(body.get("created_at", "")))[:15]
        tag = re.sub(r"[^0-9a-f]", "", receipt["sha256"])[:12]
        wanted[f"{body['kind']}-{stamp}-{tag}.json"] = body
    for path in folder.glob("*.json"):
        if path.name not in wanted:
            path.unlink(missing_ok=True)
    for name, body in wanted.items():
        path = folder / name
        if not path.exists():
            tmp = folder / f".{name}.tmp"
            tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path)


def copy_out(cached: Path, dest: Path) -> Path:
    if dest.exists():
        raise PackageError(f"{dest} already exists", hint="pull into a new folder")
    staging = dest.with_name(f".{dest.name}.pull-{os.getpid()}")
    shutil.copytree(cached, staging)
    os.replace(staging, dest)
    return dest
