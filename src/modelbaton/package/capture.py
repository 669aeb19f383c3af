"""What packing captures by itself: pinned environment, data fingerprints, git, who and when.

The environment lock pins the distributions the model and its code import, found from the
flavor's library, the imports in the shipped code and the types the artifact refers to,
closed over their declared requirements, at exactly the installed versions.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..contract.errors import DataError
from ..contract.manifest import Dataset, Lineage
from ..settings import current_user
from .integrity import sha256_file

# --- environment -------------------------------------------------------------------------


def python_version() -> str:
    return platform.python_version()


def platform_tag() -> str:
    return f"{sys.platform}-{platform.machine()}"


def code_imports(code_dir: Path) -> set[str]:
    """Top-level module names the shipped code imports (absolute imports only)."""
    names: set[str] = set()
    for path in sorted(code_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError):
            continue  # the checklist reports code that does not import
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    local = {p.stem for p in code_dir.iterdir()} if code_dir.is_dir() else set()
    return {n for n in names if n not in local and n not in sys.stdlib_module_names}


def distributions_for_modules(modules: Iterable[str]) -> set[str]:
    mapping = metadata.packages_distributions()
    found: set[str] = set()
    for module in modules:
        for dist in mapping.get(module.split(".")[0], []):
            found.add(canonicalize_name(dist))
    return found


def pin_closure(roots: Iterable[str], *, exclude: Iterable[str] = ("modelbaton",)) -> list[str]:
    """`name==version` for the roots and everything they require, as installed here."""
    environment = default_environment()
    skip = {canonicalize_name(n) for n in exclude}
    pins: dict[str, str] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in pins or name in skip:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        pins[name] = f"{canonicalize_name(dist.metadata['Name'])}=={dist.version}" \
            + _hash_suffix(dist)
        for line in dist.requires or []:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.marker and not requirement.marker.evaluate({**environment,
                                                                       "extra": ""}):
                continue
            todo.append(canonicalize_name(requirement.name))
    return [pins[name] for name in sorted(pins)]


def _hash_suffix(dist: metadata.Distribution) -> str:
    """The archive hash pip recorded when it installed from a file or URL, if any."""
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        return ""
    hashes = (direct or {}).get("archive_info", {}).get("hashes", {})
    return f" --hash=sha256:{hashes['sha256']}" if "sha256" in hashes else ""


def lock_text(pins: list[str]) -> str:
    header = (f"# Pinned by modelbaton for Python {python_version()} on {platform_tag()}.\n"
              "# Exact versions of what the model and its feature code import.\n")
    return header + "".join(f"{pin}\n" for pin in pins)


# --- data fingerprints -------------------------------------------------------------------


def fingerprint_file(path: Path, *, name: str | None = None, role: str = "training") -> Dataset:
    """sha256, rows and columns of a data file, read as a stream; DVC's hashes if tracked."""
    rows, columns = _count_rows(path)
    return Dataset(name=name or path.stem, role=role,  # type: ignore[arg-type]
                   location=str(path), sha256=sha256_file(path),
                   rows=rows, columns=columns, dvc=dvc_hashes(path))


def fingerprint_frame(table: dict[str, Any], *, name: str, role: str = "training") -> Dataset:
    """For in-memory data: a sha256 over the column names and values."""
    from ..data.table import n_rows, python_values

    digest = hashlib.sha256()
    for column, values in table.items():
        digest.update(json.dumps([column, python_values(values)], default=str).encode())
    return Dataset(name=name, role=role, location="in-memory data given to pack()",  # type: ignore[arg-type]
                   sha256=digest.hexdigest(), rows=n_rows(table), columns=list(table))


def _count_rows(path: Path) -> tuple[int | None, list[str] | None]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return None, None
        meta = pq.ParquetFile(path)
        return meta.metadata.num_rows, meta.schema_arrow.names
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            return sum(1 for row in reader if row), header
    if suffix in (".jsonl", ".ndjson"):
        with path.open("rb") as handle:
            first = handle.readline()
            count = (1 if first.strip() else 0) + sum(1 for line in handle if line.strip())
        try:
            columns = list(json.loads(first)) if first.strip() else None
        except ValueError:
            columns = None
        return count, columns
    return None, None


def dvc_hashes(path: Path) -> dict[str, Any] | None:
    """The hashes DVC recorded for `path`: its `.dvc` file, or a `dvc.lock` above it."""
    sidecar = path.with_name(path.name + ".dvc")
    if sidecar.is_file():
        outs = _yaml(sidecar).get("outs") or []
        for out in outs:
            if isinstance(out, dict) and Path(str(out.get("path", ""))).name == path.name:
                return _hash_fields(out, source=sidecar.name)
    for parent in path.resolve().parents:
        lock = parent / "dvc.lock"
        if lock.is_file():
            rel = os.path.relpath(path.resolve(), parent).replace(os.sep, "/")
            for stage in (_yaml(lock).get("stages") or {}).values():
                for out in (stage or {}).get("outs") or []:
                    if isinstance(out, dict) and out.get("path") == rel:
                        return _hash_fields(out, source=f"dvc.lock ({rel})")
            break
        if (parent / ".git").exists():
            break
    return None


def _hash_fields(out: dict[str, Any], source: str) -> dict[str, Any]:
    fields = {k: out[k] for k in ("md5", "etag", "checksum", "size", "hash", "nfiles") if k in out}
    return {"source": source, **fields}


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


# --- provenance --------------------------------------------------------------------------


def lineage(cwd: Path, *, run_id: str | None = None,
            parent_version: str | None = None) -> Lineage:
    from .. import __version__

    git = git_state(cwd)
    return Lineage(**git, run_id=run_id or os.environ.get("MLFLOW_RUN_ID"),
                   parent_version=parent_version, created_at=build_time(),
                   created_by=current_user(), baton_version=__version__)


def build_time() -> dt.datetime:
    """Now, or `$SOURCE_DATE_EPOCH` when set, as reproducible builds do: packing the same
    model, data and code twice then gives the same package, byte for byte."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise DataError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds",
                            hint="unset it, or set it to e.g. `git log -1 --format=%ct`") \
                from None
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def git_state(cwd: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                  timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    remote = git("remote", "get-url", "origin")
    return {"git_commit": commit, "git_dirty": bool(status),
            "git_branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "git_remote": strip_credentials(remote) if remote else None}


def strip_credentials(url: str) -> str:
    """A remote URL without user, password, token or query: secrets are never packaged."""
    parts = urlsplit(url)
    if parts.scheme:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1], query="",
                                         fragment=""))
    return re.sub(r"^[^@/]+@", "", url) if ":" in url else url  # scp-like user@host:path
