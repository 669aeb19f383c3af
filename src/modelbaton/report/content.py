"""What the report and the model card say about a package, gathered once for both.

The checklist comes from the newest check receipt for exactly this package digest when
there is one (the proof `baton check` recorded); otherwise the rules run here, except the
golden replay, which loads the model and belongs to `baton check`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import Config, find_config, load_config, run_checks
from ..contract.errors import BatonError
from ..contract.manifest import Manifest
from ..data.table import to_records
from ..package.golden import read_golden
from ..package.load import Package
from ..package.receipts import KINDS, latest
from . import charts

REPLAY_RULE = "BTN221"


@dataclass
class Content:
    package: Package
    checklist: dict[str, Any]
    example_input: dict[str, Any] | None
    example_output: dict[str, Any] | None
    pins: list[str]
    proofs: dict[str, dict[str, Any]]
    features: list[dict[str, Any]] = field(default_factory=list)  # reference profile charts
    profile_note: str | None = None

    @property
    def manifest(self) -> Manifest:
        return self.package.manifest


def gather(package: Package, *, config: Config | None = None) -> Content:
    example_input, example_output = _example(package)
    features, note = _profile(package)
    return Content(package=package, checklist=_checklist(package, config),
                   example_input=example_input, example_output=example_output,
                   pins=_pins(package), proofs=_proofs(package), features=features,
                   profile_note=note)


def _checklist(package: Package, config: Config | None) -> dict[str, Any]:
    receipt = latest(package.root, "check", package.digest)
    if receipt is not None and isinstance(receipt.get("rules"), list):
        return {**receipt, "source": f"check receipt of {receipt.get('created_at')} by "
                                     f"{receipt.get('created_by')}"}
    config = config or load_config(find_config(package.root, Path.cwd()))
    reason = "not run by `baton report`: `baton check` replays the golden examples"
    config = Config(source=config.source, select=config.select,
                    ignore={REPLAY_RULE: reason, **config.ignore}, severity=config.severity)
    result = run_checks(package, config=config)
    return {**result.to_dict(), "source": "run for this report (no check receipt for this "
                                          "digest)"}


def _example(package: Package) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The first golden row: a request a caller can send, and what the model answered."""
    golden = package.manifest.golden
    if golden is None:
        return None, None
    try:
        rows = read_golden(package.root / golden.path)
    except BatonError:
        return None, None
    inputs, outputs = to_records(rows.inputs), to_records(rows.outputs)
    return (inputs[0] if inputs else None), (outputs[0] if outputs else None)


def _pins(package: Package) -> list[str]:
    env = package.manifest.environment
    if env is None:
        return []
    try:
        text = (package.root / env.lock).read_text(encoding="utf-8")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _proofs(package: Package) -> dict[str, dict[str, Any]]:
    found = {}
    for kind in KINDS:
        receipt = latest(package.root, kind, package.digest)
        if receipt is not None:
            found[kind] = receipt
    return found


# --- the reference profile, read defensively ---------------------------------------------


def _profile(package: Package) -> tuple[list[dict[str, Any]], str | None]:
    """Per-feature charts from `data.reference`, when the package has a readable one."""
    data_section = package.manifest.data
    path = data_section.reference if data_section else None
    if not path:
        return [], None
    try:
        profile = json.loads((package.root / path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [], f"the reference profile {path} cannot be read ({exc})"
    features = _features(profile)
    order = {f.name: i for i, f in enumerate(package.manifest.interface.inputs)}
    charts_found = []
    for name, stats in sorted(features.items(), key=lambda kv: order.get(kv[0], len(order))):
        chart = _feature_chart(name, stats)
        if chart is not None:
            charts_found.append(chart)
    note = None if charts_found else f"the reference profile {path} has no feature " \
                                     "distributions this report can draw"
    return charts_found, note


def _features(profile: Any) -> dict[str, dict[str, Any]]:
    """Accepts {"features": {name: stats}}, {"features": [{"name": ..}]} or {name: stats}."""
    if isinstance(profile, dict) and "features" in profile:
        profile = profile["features"]
    if isinstance(profile, list):
        return {str(f["name"]): f for f in profile if isinstance(f, dict) and "name" in f}
    if isinstance(profile, dict):
        return {str(k): v for k, v in profile.items() if isinstance(v, dict)}
    return {}


def _feature_chart(name: str, stats: dict[str, Any]) -> dict[str, Any] | None:
    edges, counts = stats.get("edges"), stats.get("counts")
    summary = {k: stats[k] for k in ("min", "max", "mean", "std", "missing")
               if _number(stats.get(k))}
    if _numbers(edges) and _numbers(counts) and len(edges) == len(counts) + 1 \
            and len(counts) > 0 and all(b >= a for a, b in zip(edges, edges[1:])):
        return {"name": name, "svg": charts.histogram(name, edges, counts), "summary": summary}
    freq = stats.get("frequencies")
    if isinstance(freq, dict) and freq and all(_number(v) for v in freq.values()):
        return {"name": name, "svg": charts.frequencies(name, freq), "summary": summary}
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _numbers(values: Any) -> bool:
    return isinstance(values, list) and all(_number(v) for v in values)

