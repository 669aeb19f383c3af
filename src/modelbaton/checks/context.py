"""What the rules look at: one opened package, with the costly parts read once and shared."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import yaml

from ..contract.errors import BatonError
from ..contract.io import MANIFEST_NAME, SafeLoader, line_in
from ..contract.manifest import Dataset, Metric, is_todo
from ..package.golden import Golden, read_golden
from ..package.load import Package
from .rule import Finding


class Context:
    """A package under check. Rules read from it; nothing here writes to the package."""

    def __init__(self, package: Package, *, allow_pickle: bool = False):
        self.package = package
        self.manifest = package.manifest
        self.root = package.root
        self.allow_pickle = allow_pickle

    # --- locating manifest fields ---------------------------------------------------------

    @cached_property
    def _tree(self) -> yaml.Node | None:
        text = (self.root / MANIFEST_NAME).read_text(encoding="utf-8")
        return yaml.compose(text, Loader=SafeLoader)

    def line(self, loc: tuple[str | int, ...]) -> int:
        """Line of the field `loc` in baton.yaml (or of its nearest written parent)."""
        return line_in(self._tree, loc)

    def at(self, loc: tuple[str | int, ...], message: str, hint: str | None = None, *,
           locate: bool = True) -> Finding:
        """A finding about the manifest field `loc`, pointing at its line."""
        return Finding(message, file=MANIFEST_NAME, line=self.line(loc) if locate else None,
                       field=field_path(loc), hint=hint)

    def get(self, loc: tuple[str | int, ...]) -> Any:
        """The manifest's value at `loc`, or None when it or a parent is missing."""
        value: Any = self.manifest
        for part in loc:
            if value is None:
                return None
            value = value[part] if isinstance(part, int) else getattr(value, part, None)
        return value

    def unwritten(self, loc: tuple[str | int, ...], message: str) -> list[Finding]:
        """A finding at `loc` when nobody has written that field, else none."""
        return [] if filled(self.get(loc)) else [self.at(loc, message)]

    @property
    def metrics(self) -> list[Metric]:
        return self.manifest.evaluation.metrics if self.manifest.evaluation else []

    @property
    def datasets(self) -> list[Dataset]:
        return self.manifest.data.datasets if self.manifest.data else []

    # --- shared reads ---------------------------------------------------------------------

    @cached_property
    def golden(self) -> Golden | BatonError | None:
        """The golden examples, the error that stops reading them, or None if not declared."""
        if self.manifest.golden is None:
            return None
        try:
            return read_golden(self.root / self.manifest.golden.path)
        except BatonError as exc:
            return exc


def field_path(loc: tuple[str | int, ...]) -> str:
    """('data', 'datasets', 0, 'pii') -> 'data.datasets[0].pii'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def filled(value: Any) -> bool:
    """Whether a person has written this: not missing, not empty, not a TODO marker."""
    if value is None or is_todo(value):
        return False
    if isinstance(value, (str, list, dict, tuple)):
        return bool(value.strip() if isinstance(value, str) else value)
    return True
