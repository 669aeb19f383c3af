"""The registry: versions, stages, approvals, ownership, rollback and an audit trail.

    from modelbaton import registry
    reg = registry.connect()              # BATON_REGISTRY: embedded, postgresql:// or http(s)://
    reg.push("churn-pkg")                 # -> {"ref": "churn:1", ...}
    path = registry.resolve("churn@production")   # pulled into the cache, digests verified

`connect()` gives a `LocalRegistry` (SQLite under `$BATON_HOME`, or PostgreSQL) or a
`RemoteRegistry` (the HTTP API of `baton registry serve`); both have the same methods.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from ..contract.errors import MissingExtraError
from .errors import (
    AuthError, ConflictError, ForbiddenError, NotFoundError, PolicyError, RegistryError,
    TooLargeError,
)
from .refs import Reference, looks_like_ref, parse_ref


def connect(url: str | None = None, *, token: str | None = None) -> Any:
    """The registry `url` names (default `$BATON_REGISTRY`, else the embedded one)."""
    url = url if url is not None else os.environ.get("BATON_REGISTRY", "")
    remote = url.startswith(("http://", "https://"))
    for module in ("httpx",) if remote else ("sqlalchemy", "fsspec"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(module, "registry")
    if remote:
        from .client import RemoteRegistry

        return RemoteRegistry(url, token=token if token is not None
                              else os.environ.get("BATON_TOKEN"))
    from .local import LocalRegistry

    return LocalRegistry(url or None)


def resolve(ref: str) -> Path:
    """The package a reference names, pulled into the local cache with every digest checked."""
    return connect().pull(ref)


def attach_receipt(ref: str, receipt: dict[str, Any] | str | Path) -> dict[str, Any]:
    """Attach a receipt (the dict, or the JSON file `write_receipt` made) to a registered
    version; refused unless it was produced for exactly that version's package digest."""
    if isinstance(receipt, (str, Path)):
        from .packages import read_receipt_file

        receipt = read_receipt_file(Path(receipt))
    return connect().attach_receipt(ref, receipt)


__all__ = ["AuthError", "ConflictError", "ForbiddenError", "NotFoundError", "PolicyError",
           "Reference", "RegistryError", "TooLargeError", "attach_receipt", "connect",
           "looks_like_ref", "parse_ref", "resolve"]
