"""The semantic difference between two packages, as a reviewer of a new version needs it.

Interface changes are classified: breaking when a caller that worked with A can fail or
misread results with B (an input removed, renamed or added, a type or range narrowed,
a category dropped, an output removed or changed, the label set changed), compatible
otherwise (a range widened, a category or an output added). Everything else is reported
with old and new values, and numbers with their delta.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name

from ..contract.manifest import FieldSpec, Manifest
from .load import Package

#: Widening a type is compatible: every value of the old type is a value of the new one.
_WIDER = {("integer", "number")}
_HUMAN = ("description", "owners", "business_context", "preprocessing", "limitations",
          "retraining", "monitoring", "support", "rollback", "decisions", "glossary")


@dataclass(frozen=True)
class Change:
    section: str  # interface, model, hyperparameters, dependencies, data, metrics, ...
    path: str  # what changed, e.g. inputs.age or roc_auc
    kind: str  # added, removed, changed, renamed, narrowed, widened
    old: Any = None
    new: Any = None
    breaking: bool = False
    delta: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = {"section": self.section, "path": self.path, "kind": self.kind,
                "old": self.old, "new": self.new, "breaking": self.breaking}
        if self.delta is not None:
            data["delta"] = self.delta
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class PackageDiff:
    a: dict[str, str]  # name, version, digest
    b: dict[str, str]
    changes: list[Change] = field(default_factory=list)

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "breaking": bool(self.breaking),
                "changes": [c.to_dict() for c in self.changes]}


def diff_packages(a: Package, b: Package) -> PackageDiff:
    ma, mb = a.manifest, b.manifest
    result = PackageDiff(a=_identity(a), b=_identity(b))
    changes = result.changes
    changes += interface_changes(ma, mb)
    changes += _model_changes(ma, mb)
    changes += _mapping_changes("hyperparameters", ma.model.hyperparameters,
                                mb.model.hyperparameters)
    changes += _mapping_changes("dependencies", _pins(a), _pins(b))
    if ma.environment and mb.environment and ma.environment.python != mb.environment.python:
        changes.append(Change("dependencies", "python", "changed", ma.environment.python,
                              mb.environment.python))
    changes += _data_changes(ma, mb)
    changes += _metric_changes(ma, mb)
    changes += _performance_changes(ma, mb)
    for name in _HUMAN:
        old = _plain(getattr(ma, name))
        new = _plain(getattr(mb, name))
        changes += [Change("human sections", path, kind, o, n)
                    for path, kind, o, n in _nested(name, old, new)]
    return result


# --- interface ---------------------------------------------------------------------------


def interface_changes(a: Manifest, b: Manifest) -> list[Change]:
    ia, ib = a.interface, b.interface
    changes: list[Change] = []
    if ia.task != ib.task:
        changes.append(Change("interface", "task", "changed", ia.task, ib.task, True,
                              note="the kind of prediction changed"))
    old = {f.name: f for f in ia.inputs}
    new = {f.name: f for f in ib.inputs}
    removed = [f for name, f in old.items() if name not in new]
    added = [f for name, f in new.items() if name not in old]
    for field_a in list(removed):
        twin = next((f for f in added if _same_spec(field_a, f)), None)
        if twin is not None:
            removed.remove(field_a)
            added.remove(twin)
            changes.append(Change("interface", f"inputs.{field_a.name}", "renamed",
                                  field_a.name, twin.name, True,
                                  note="callers must send the new name"))
    changes += [Change("interface", f"inputs.{f.name}", "removed", f.type, None, True,
                       note="callers still sending it are rejected") for f in removed]
    changes += [Change("interface", f"inputs.{f.name}", "added", None, f.type, True,
                       note="every caller must now send it") for f in added]
    for name in old.keys() & new.keys():
        changes += _field_changes(f"inputs.{name}", old[name], new[name], output=False)
    out_a = {f.name: f for f in ia.outputs}
    out_b = {f.name: f for f in ib.outputs}
    for name, f in out_a.items():
        if name not in out_b:
            changes.append(Change("interface", f"outputs.{name}", "removed", f.type, None, True,
                                  note="consumers reading it break"))
        else:
            changes += _field_changes(f"outputs.{name}", f, out_b[name], output=True)
    changes += [Change("interface", f"outputs.{name}", "added", None, f.type, False)
                for name, f in out_b.items() if name not in out_a]
    if (ia.labels or []) != (ib.labels or []):
        changes.append(Change("interface", "labels", "changed", ia.labels, ib.labels, True,
                              note="predictions can take other values"))
    return sorted(changes, key=lambda c: (not c.breaking, c.path))


def _field_changes(path: str, a: FieldSpec, b: FieldSpec, *, output: bool) -> list[Change]:
    changes = []
    for attr in ("type", "nullable", "minimum", "maximum", "categories"):
        old, new = getattr(a, attr), getattr(b, attr)
        if old == new:
            continue
        delta = _delta(old, new) if attr in ("minimum", "maximum") else None
        if output:  # consumers read these values: any change can surprise them
            changes.append(Change("interface", f"{path}.{attr}", "changed", old, new, True,
                                  delta=delta, note="consumers may get values they do not "
                                                    "expect"))
            continue
        narrowed = _narrows(attr, old, new)
        note = ""
        if attr == "categories" and old and new:
            gone = [c for c in old if c not in new]
            note = f"no longer accepted: {', '.join(map(str, gone))}" if gone else ""
        changes.append(Change("interface", f"{path}.{attr}", "narrowed" if narrowed
                              else "widened", old, new, narrowed, delta=delta, note=note))
    return changes


def _narrows(attr: str, old: Any, new: Any) -> bool:
    """Whether an input accepts fewer values in B than in A on this attribute."""
    if attr == "type":
        return (old, new) not in _WIDER
    if attr == "nullable":
        return bool(old and not new)
    if attr == "minimum":
        return new is not None and (old is None or new > old)
    if attr == "maximum":
        return new is not None and (old is None or new < old)
    if new is None:  # categories: None accepts any value
        return False
    return old is None or any(c not in new for c in old)


def _same_spec(a: FieldSpec, b: FieldSpec) -> bool:
    """A removed and an added input with the same type and values: a rename."""
    return a.model_dump(exclude={"name", "description"}) == \
        b.model_dump(exclude={"name", "description"})


# --- the rest ----------------------------------------------------------------------------


def _model_changes(a: Manifest, b: Manifest) -> list[Change]:
    changes = []
    for name in ("flavor", "serialization", "library", "library_version", "architecture",
                 "training_approach"):
        old, new = getattr(a.model, name), getattr(b.model, name)
        if old != new:
            changes.append(Change("model", name, "changed", old, new))
    artifact = {f.path: f.sha256 for f in a.files}.get(a.model.artifact)
    if artifact != {f.path: f.sha256 for f in b.files}.get(b.model.artifact):
        changes.append(Change("model", "artifact sha256", "changed", (artifact or "")[:12],
                              ({f.path: f.sha256 for f in b.files}.get(b.model.artifact)
                               or "")[:12]))
    return changes


def _data_changes(a: Manifest, b: Manifest) -> list[Change]:
    old = {d.name: d for d in (a.data.datasets if a.data else [])}
    new = {d.name: d for d in (b.data.datasets if b.data else [])}
    changes = []
    for name in old.keys() | new.keys():
        da, db = old.get(name), new.get(name)
        if da is None or db is None:
            changes.append(Change("data", name, "added" if da is None else "removed",
                                  da.sha256 if da else None, db.sha256 if db else None))
            continue
        for attr in ("sha256", "rows", "source", "location", "time_range", "columns", "pii"):
            va, vb = _plain(getattr(da, attr)), _plain(getattr(db, attr))
            if va != vb:
                changes.append(Change("data", f"{name}.{attr}", "changed", va, vb,
                                      delta=_delta(va, vb)))
    return sorted(changes, key=lambda c: c.path)


def _metric_changes(a: Manifest, b: Manifest) -> list[Change]:
    def key(m: Any) -> str:
        return m.name + (f" [{m.dataset}]" if m.dataset else "") + \
            (f" ({m.slice})" if m.slice else "")

    old = {key(m): m for m in (a.evaluation.metrics if a.evaluation else [])}
    new = {key(m): m for m in (b.evaluation.metrics if b.evaluation else [])}
    changes = []
    for name in sorted(old.keys() | new.keys()):
        ma, mb = old.get(name), new.get(name)
        if ma is None or mb is None:
            changes.append(Change("metrics", name, "added" if ma is None else "removed",
                                  ma.value if ma else None, mb.value if mb else None))
            continue
        if ma.value != mb.value:
            changes.append(Change("metrics", name, "changed", ma.value, mb.value,
                                  delta=_delta(ma.value, mb.value),
                                  note=_direction(ma.value, mb.value, ma.higher_is_better)))
        if ma.threshold != mb.threshold:
            changes.append(Change("metrics", f"{name} threshold", "changed", ma.threshold,
                                  mb.threshold, delta=_delta(ma.threshold, mb.threshold)))
    return changes


def _performance_changes(a: Manifest, b: Manifest) -> list[Change]:
    def flat(manifest: Manifest) -> dict[str, Any]:
        perf = manifest.performance
        if perf is None:
            return {}
        data = perf.model_dump(mode="json", exclude_none=True)
        data.get("measured", {}).pop("machine", None)
        data.get("measured", {}).pop("measured_at", None)
        return dict(_leaves(data, ""))

    old, new = flat(a), flat(b)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        va, vb = old.get(path), new.get(path)
        if va != vb:
            lower_better = not path.startswith(("measured.throughput", "budgets.min_throughput"))
            changes.append(Change("performance", path, "changed" if va is not None and vb
                                  is not None else ("added" if va is None else "removed"),
                                  va, vb, delta=_delta(va, vb),
                                  note=_direction(va, vb, not lower_better)
                                  if path.startswith("measured") else ""))
    return changes


def _mapping_changes(section: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append(Change(section, key, "removed", old[key], None))
        elif key not in old:
            changes.append(Change(section, key, "added", None, new[key]))
        elif old[key] != new[key]:
            changes.append(Change(section, key, "changed", old[key], new[key],
                                  delta=_delta(old[key], new[key])))
    return changes


def _pins(package: Package) -> dict[str, str]:
    env = package.manifest.environment
    if env is None:
        return {}
    try:
        text = (package.root / env.lock).read_text(encoding="utf-8")
    except OSError:
        return {}
    pins = {}
    for line in text.splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;#]+)",
                         line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _nested(path: str, old: Any, new: Any) -> list[tuple[str, str, Any, Any]]:
    """(path, kind, old, new) for each leaf that differs between two plain structures."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(old.keys() | new.keys(), key=str):
            found += _nested(f"{path}.{key}", old.get(key), new.get(key))
        return found
    kind = "added" if old is None else "removed" if new is None else "changed"
    return [(path, kind, old, new)]


def _leaves(data: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            found += _leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    return [(prefix, data)]


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _delta(old: Any, new: Any) -> float | None:
    numeric = (int, float)
    if isinstance(old, numeric) and isinstance(new, numeric) and not isinstance(old, bool) \
            and not isinstance(new, bool):
        return round(new - old, 10)
    return None


def _direction(old: Any, new: Any, higher_is_better: bool) -> str:
    delta = _delta(old, new)
    if not delta:
        return ""
    return "better" if (delta > 0) == higher_is_better else "worse"


def _identity(package: Package) -> dict[str, str]:
    return {"name": package.manifest.name, "version": package.manifest.version,
            "digest": package.digest, "path": str(package.root)}
