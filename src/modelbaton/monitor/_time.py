"""Durations (`5m`, `1h`, `1d`) and instants (ISO 8601, UTC unless an offset is given)."""

from __future__ import annotations

import datetime as dt
import re

from ..contract.errors import BatonError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: Longer spans are typos (and overflow a timedelta past 999999999 days).
_LONGEST = dt.timedelta(days=36525)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, *, option: str = "--window") -> dt.timedelta:
    match = _DURATION.match(text or "")
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if not match or seconds <= 0:
        raise BatonError(f"{option} '{text}' is not a duration",
                         hint="use a positive number and a unit: 90s, 5m, 1h, 1d, 2w")
    if seconds > _LONGEST.total_seconds():
        raise BatonError(f"{option} '{text}' is longer than a century",
                         hint="use a span the data can cover, e.g. 1d or 52w")
    return dt.timedelta(seconds=seconds)


def parse_instant(text: str, *, option: str = "--end") -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BatonError(f"{option} '{text}' is not a date and time",
                         hint="use ISO 8601, e.g. 2026-05-01T12:00:00Z") from None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None \
        else value.astimezone(dt.timezone.utc)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def to_micros(value: dt.datetime) -> int:
    """Microseconds since the epoch, the unit of the prediction log's timestamps."""
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=value)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
