"""What a checklist rule is: a stable id, a severity, what it guards against, and a check.

A rule's check is a function of the package (its `Context`) that yields one `Finding` per
thing the handoff still lacks; a rule that yields nothing passes. Rules register
themselves with the `rule` decorator, and `docs/rules.md` is generated from the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def weight(self) -> int:
        """How much a rule of this severity counts in the readiness score."""
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True)
class Finding:
    """One thing the handoff lacks: what, where (file, line, manifest field), how to fix."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    hint: str | None = None
    rows: list[int] | None = None  # golden rows that differ, for a failed replay

    @property
    def where(self) -> str:
        place = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "")
        if self.field:
            place = f"{place} ({self.field})" if place else self.field
        return place

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


Check = Callable[["Context"], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    summary: str  # what it checks (the check's docstring)
    guards: str  # the handoff problem it prevents
    fix: str  # what to do when it fails
    check: Check = field(repr=False)
    #: Its work is native code that releases the GIL (loading and running a model): the
    #: runner runs it in a thread, beside the rules after it.
    concurrent: bool = False


RULES: dict[str, Rule] = {}

#: What each hundred of rule ids protects.
GROUPS = {"1": "contract and owners", "2": "reproducibility", "3": "quality and performance",
          "4": "operations", "5": "data and lineage", "6": "safety"}


def group_of(rule_id: str) -> str:
    return GROUPS.get(rule_id[3:4], "other")


def rule(id: str, name: str, severity: Severity, *, guards: str, fix: str,
         concurrent: bool = False) -> Callable[[Check], Check]:
    """Register a check function as a rule; its docstring's first line is the summary."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"rule id {id} registered twice")
        summary = (check.__doc__ or "").strip().splitlines()[0]
        RULES[id] = Rule(id, name, severity, summary, guards, fix, check, concurrent)
        return check

    return register
