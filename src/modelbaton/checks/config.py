"""Checklist configuration: `[tool.baton]` in pyproject.toml, or a baton.toml.

    [tool.baton]                      # in baton.toml: the same keys, at the top level
    select = ["BTN1", "BTN2"]         # rule ids or id prefixes; default: every rule
    severity = { BTN311 = "error" }   # raise or lower a rule's severity
    [tool.baton.ignore]               # ignoring a rule needs a written reason
    BTN520 = "packed by CI from a fresh clone; lineage comes from the pipeline run id"

Where it is found: `--config FILE` if given; else the nearest folder, starting at the
package's folder and going up, that holds a `baton.toml` or a `pyproject.toml` with a
`[tool.baton]` table (baton.toml wins in the same folder); else the same search from the
current directory. Unknown rule ids are errors naming the nearest valid id.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract.errors import BatonError
from ..contract.files import input_file, read_text
from .rule import RULES, Rule, Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILES = ("baton.toml", "pyproject.toml")
_KEYS = ("select", "ignore", "severity")


class ConfigError(BatonError):
    """The checklist configuration cannot be used."""


@dataclass(frozen=True)
class Config:
    source: Path | None = None
    select: tuple[str, ...] | None = None  # None: every rule
    ignore: Mapping[str, str] = field(default_factory=dict)  # id or prefix -> reason
    severity: Mapping[str, Severity] = field(default_factory=dict)

    def selects(self, rule: Rule) -> bool:
        return self.select is None or _match(rule.id, self.select) is not None

    def ignored(self, rule: Rule) -> str | None:
        """The reason the rule is ignored, or None."""
        key = _match(rule.id, self.ignore)
        return self.ignore[key] if key is not None else None

    def severity_of(self, rule: Rule) -> Severity:
        key = _match(rule.id, self.severity)
        return self.severity[key] if key is not None else rule.severity

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source) if self.source else None,
                "select": list(self.select) if self.select is not None else None,
                "ignore": dict(self.ignore),
                "severity": {k: v.value for k, v in self.severity.items()}}


def find_config(*starts: Path) -> Path | None:
    """The nearest config file above each start folder in turn."""
    for start in starts:
        for folder in [start.resolve(), *start.resolve().parents]:
            for name in CONFIG_FILES:
                path = folder / name
                if path.is_file() and (name == "baton.toml"
                                       or "baton" in _read(path).get("tool", {})):
                    return path
    return None


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; None gives the defaults."""
    if path is None:
        return Config()
    input_file(path, "config file", error=ConfigError)
    data = _read(path)
    table = data if path.name != "pyproject.toml" else data.get("tool", {}).get("baton", {})
    where = f"{path}" + ("[tool.baton]" if path.name == "pyproject.toml" else "")
    if not isinstance(table, dict):
        raise ConfigError("[tool.baton] must be a table", where=str(path))
    unknown = [k for k in table if k not in _KEYS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], _KEYS, n=1)
        raise ConfigError(f"unknown key '{unknown[0]}'", where=where,
                          hint=f"did you mean '{close[0]}'?" if close
                          else f"valid keys: {', '.join(_KEYS)}")
    return Config(source=path, select=_select(table.get("select"), where),
                  ignore=_ignore(table.get("ignore", {}), where),
                  severity=_severity(table.get("severity", {}), where))


def _select(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("`select` must be a list of rule ids", where=where,
                          hint='e.g. select = ["BTN1", "BTN201"]')
    for key in value:
        known_rule(key, where, "select")
    return tuple(value)


def _ignore(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, list):
        example = value[0] if value and isinstance(value[0], str) else "BTN520"
        raise ConfigError("ignoring a rule needs a written reason, which the report shows",
                          where=f"{where}.ignore",
                          hint=f'write a table: ignore = {{ {example} = "why it does not '
                               'apply" }')
    if not isinstance(value, dict):
        raise ConfigError("`ignore` must be a table of rule id = reason", where=where)
    for key, reason in value.items():
        known_rule(key, where, "ignore")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"ignoring {key} needs a written reason", where=f"{where}.ignore",
                              hint=f'{key} = "why it does not apply to this model"')
    return {key: reason.strip() for key, reason in value.items()}


def _severity(value: Any, where: str) -> dict[str, Severity]:
    if not isinstance(value, dict):
        raise ConfigError("`severity` must be a table of rule id = severity", where=where)
    out = {}
    valid = [s.value for s in Severity]
    for key, level in value.items():
        known_rule(key, where, "severity")
        if level not in valid:
            raise ConfigError(f"severity of {key} is '{level}'", where=f"{where}.severity",
                              hint=f"use one of {', '.join(valid)}")
        out[key] = Severity(level)
    return out


def known_rule(key: str, where: str, table: str) -> None:
    """A rule id or prefix that matches at least one rule, or an error naming the nearest."""
    if key.startswith("BTN") and any(rule_id.startswith(key) for rule_id in RULES):
        return
    by_name = {r.name: r.id for r in RULES.values()}
    nearest = by_name.get(key)
    if nearest is None:
        ids = difflib.get_close_matches(key.upper(), list(RULES), n=1, cutoff=0.5)
        names = difflib.get_close_matches(key.lower(), list(by_name), n=1, cutoff=0.5)
        nearest = ids[0] if ids else (by_name[names[0]] if names else None)
    hint = f"did you mean {nearest} ({RULES[nearest].name})?" if nearest \
        else "`baton rules` lists every rule id"
    raise ConfigError(f"unknown rule id '{key}' in `{table}`", where=where, hint=hint)


def _match(rule_id: str, keys: Iterable[str]) -> str | None:
    """The most specific key (exact id or longest prefix) that covers `rule_id`."""
    found = [k for k in keys if rule_id.startswith(k)]
    return max(found, key=len) if found else None


def _read(path: Path) -> dict[str, Any]:
    text = read_text(path, "config file", error=ConfigError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", where=str(path)) from None
