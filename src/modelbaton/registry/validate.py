"""What a registry request may carry: the bounds every `LocalRegistry` method checks first.

The CLI, the Python API and the HTTP server all reach the database through `LocalRegistry`,
so checking here refuses the same input the same way everywhere, before a transaction
starts: a value that SQLite would store but PostgreSQL would reject (a NUL character, a
number beyond its integer columns) is a one-line error naming the field on both.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import RegistryError
from .refs import MAX_VERSION

#: Version numbers and ids are 32-bit integer columns on PostgreSQL.
MAX_NUMBER = MAX_VERSION
#: Token lifetimes, shadow periods and gc grace periods: a century at most.
MAX_DAYS = 36_500
#: Reasons, comments and descriptions, in characters.
MAX_TEXT = 65_536
#: Token labels (a 128-character column).
MAX_LABEL = 128
#: User names (a 128-character column) and file paths (1,024) as the database stores them.
MAX_USER = 128
MAX_PATH = 1024
#: Events one audit listing may return.
MAX_AUDIT_LIMIT = 100_000

# C0 and C1 control characters but tab and line breaks (PostgreSQL refuses NUL outright).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def text(field: str, value: Any, *, limit: int = MAX_TEXT) -> str | None:
    """Free text for the record: a string of at most `limit` characters, no control
    characters but tabs and line breaks; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RegistryError(f"`{field}` must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise RegistryError(f"`{field}` is {len(value):,} characters long; at most {limit:,} "
                            "are kept", hint="shorten it, or put the detail in a document "
                                             "and link it")
    bad = _CONTROL.search(value)
    if bad:
        raise RegistryError(f"`{field}` contains the control character "
                            f"U+{ord(bad.group()):04X} at position {bad.start()}",
                            hint="remove it; tabs and line breaks are fine")
    return value


def actor(value: str) -> str:
    """The acting user, `$BATON_USER` or the OS user: recorded with every change."""
    if not 0 < len(value) <= MAX_USER or _CONTROL.search(value) or not value.strip():
        raise RegistryError(f"the user name {value[:40]!r} must be 1 to {MAX_USER} printable "
                            "characters", hint="set BATON_USER to your name")
    return value


def days(field: str, value: Any, *, allow_zero: bool = True, whole: bool = False) -> float:
    """A period in days, from 0 (or above 0) to MAX_DAYS."""
    kind = "whole number" if whole else "number"
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        raise RegistryError(f"`{field}` must be a {kind} of days, got {value!r}")
    if not (math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
            and value <= MAX_DAYS):
        low = "from 0" if allow_zero else "more than 0 and"
        raise RegistryError(f"`{field}` must be {low} up to {MAX_DAYS:,} days, got {value!r}")
    return value


def seconds(field: str, value: Any) -> float:
    """A period in seconds, from 0 to MAX_DAYS."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RegistryError(f"`{field}` must be a number of seconds, got {value!r}")
    limit = MAX_DAYS * 86400
    if not (math.isfinite(value) and 0 <= value <= limit):
        raise RegistryError(f"`{field}` must be from 0 to {limit:,} seconds ({MAX_DAYS:,} "
                            f"days), got {value!r}")
    return value


def count(field: str, value: Any, *, low: int = 1, high: int = MAX_NUMBER) -> int:
    """A whole number from `low` to `high`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RegistryError(f"`{field}` must be a whole number from {low:,} to {high:,}, "
                            f"got {value!r}")
    return value
