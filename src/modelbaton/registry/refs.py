"""References to registered versions: `name:3`, `name@production`, `name@latest`, `name@alias`.

A bare `name` means `name@latest`. Stage names and `latest` are reserved, so an alias can
never shadow them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import RegistryError

STAGES = ("candidate", "staging", "production", "archived")
LATEST = "latest"
RESERVED = (*STAGES, LATEST)
MAX_VERSION = 2**31 - 1  # a 32-bit integer column on PostgreSQL

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_REF = re.compile(rf"^(?P<name>{_NAME})(?::(?P<number>[0-9]+)|@(?P<selector>{_NAME}))?$")
NAME_RE = re.compile(rf"^{_NAME}$")


@dataclass(frozen=True)
class Reference:
    name: str
    number: int | None = None
    selector: str = LATEST  # a stage, `latest` or an alias; ignored when `number` is set

    def __str__(self) -> str:
        return f"{self.name}:{self.number}" if self.number is not None \
            else f"{self.name}@{self.selector}"


def parse_ref(text: str) -> Reference:
    match = _REF.match(text.strip())
    if not match:
        raise RegistryError(f"'{text}' is not a registry reference",
                            hint="write name:3, name@production, name@latest or name@alias")
    number = match["number"]
    if number is not None and (len(number) > 10 or int(number) > MAX_VERSION):
        raise RegistryError(f"'{text[:80]}': version {number[:20]} is out of range",
                            hint=f"versions are numbered from 1 to {MAX_VERSION}")
    return Reference(match["name"], int(number) if number is not None else None,
                     match["selector"] or LATEST)


def looks_like_ref(text: str) -> bool:
    """True for `name:N` and `name@x` (a bare name is more likely a missing folder)."""
    match = _REF.match(text.strip())
    return bool(match) and (match["number"] is not None or match["selector"] is not None)


def check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise RegistryError(f"{kind} '{value}' is not a valid name",
                            hint="letters, digits, '.', '_' and '-', starting with a letter "
                                 "or digit")
    return value
