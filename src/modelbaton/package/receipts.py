"""Receipts: proofs added to a package after packing (check, verify, bench, compare, ...).

A receipt is one JSON file in `receipts/`, named `<kind>-<UTC time>.json`, bound to the
package digest it was produced for. Receipts are not listed in the manifest's `files`, so
adding one never changes the package digest; a receipt for another digest proves nothing
about this package, and `latest` ignores it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from ..settings import current_user
from .integrity import RECEIPTS_DIR

KINDS = ("check", "verify", "bench", "compare", "signature")


def write_receipt(root: Path, kind: str, *, digest: str, passed: bool,
                  details: dict[str, Any]) -> Path:
    """Add a receipt to the package at `root`, atomically; returns its path."""
    if kind not in KINDS:
        raise ValueError(f"unknown receipt kind {kind!r}")
    now = dt.datetime.now(dt.timezone.utc)
    receipt = {"kind": kind, "package_digest": digest, "passed": passed,
               "created_at": now.isoformat(timespec="seconds"), "created_by": current_user(),
               **details}
    folder = root / RECEIPTS_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{kind}-{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(receipt, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_receipts(root: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Every readable receipt in the package, oldest first (unreadable ones are skipped)."""
    folder = root / RECEIPTS_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob(f"{kind or '*'}-*.json")):
        try:
            receipt = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(receipt, dict) and (kind is None or receipt.get("kind") == kind):
            found.append({**receipt, "_path": str(path)})
    return found


def latest(root: Path, kind: str, digest: str) -> dict[str, Any] | None:
    """The newest receipt of `kind` produced for exactly this package digest."""
    matching = [r for r in read_receipts(root, kind) if r.get("package_digest") == digest]
    return matching[-1] if matching else None
