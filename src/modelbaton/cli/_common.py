"""What every command group shares: consoles, JSON output, opening packages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ..package.load import Package, open_package

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def open_ref(ref: str, *, verify: bool = True) -> Package:
    """A package from a folder, a `.baton` file or a registry reference (`name:3`,
    `name@production`), which is pulled into the local cache first."""
    if not ref.strip():  # Path("") would be the current folder
        from ..contract.errors import PackageError

        raise PackageError("the package argument is empty",
                           hint="give a package folder, a .baton file or a reference")
    path = Path(ref)
    if is_registry_ref(ref):
        from ..registry import resolve

        path = resolve(ref)
    return open_package(path, verify=verify)


def is_registry_ref(ref: str) -> bool:
    """True when `ref` names a registered version rather than a file or folder."""
    if Path(ref).exists():
        return False
    from ..registry import looks_like_ref

    return looks_like_ref(ref)


def keep_receipt(ref: str, receipt: Path | None) -> None:
    """A receipt made for a registered version is attached to it in the registry: the
    pulled copy it was written into is only a cache."""
    if receipt is not None and is_registry_ref(ref):
        from ..registry import attach_receipt

        attached = attach_receipt(ref, receipt)
        err.print(f"{attached['kind']} receipt attached to {attached['ref']} in the registry")


def human_size(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"

