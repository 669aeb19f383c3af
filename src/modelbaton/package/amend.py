"""Adding to a package after packing: receipts, measured performance.

A folder is changed in place. A `.baton` file is rewritten, atomically, with the change
(its package digest stays the same for a receipt; the archive's own sha256 changes): the
receipts travel with the file that is handed on. A package that cannot be written (a
read-only folder or archive) keeps its receipts under `$BATON_HOME/packages/<digest>/`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..settings import baton_home
from .archive import extract_archive, is_archive, write_archive
from .load import Package
from .receipts import write_receipt

T = TypeVar("T")


def amend(source: Path, package: Package, change: Callable[[Path], T]) -> T:
    """Apply `change(root)` to the package that `source` names, folder or `.baton` file."""
    if is_archive(source):
        if not os.access(source.parent, os.W_OK) or not os.access(source, os.W_OK):
            raise PermissionError(f"{source} is read-only")
        work = Path(tempfile.mkdtemp(prefix=".baton-amend-", dir=source.parent))
        try:
            root = extract_archive(source, work / "package")
            result = change(root)
            write_archive(root, source)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return result
    if not os.access(package.root, os.W_OK):
        raise PermissionError(f"{package.root} is read-only")
    return change(package.root)


def store_receipt(source: Path, package: Package, kind: str, *, passed: bool,
                  details: dict[str, Any]) -> Path:
    """Write a receipt into the package; beside it in `$BATON_HOME` when it is read-only.

    For a `.baton` file the returned path names the archive member, `FILE!receipts/...`.
    """
    def add(root: Path) -> Path:
        return write_receipt(root, kind, digest=package.digest, passed=passed, details=details)

    try:
        path = amend(source, package, add)
    except PermissionError:
        return write_receipt(baton_home() / "packages" / package.digest, kind,
                             digest=package.digest, passed=passed, details=details)
    if is_archive(source):
        return Path(f"{source}!{path.parent.name}/{path.name}")
    return path

