"""Drift: how current data differs from the package's reference profile, and the verdict.

`measure_drift(package, source)` profiles the current data on the reference's grid in one
streaming pass, computes every statistic per feature and per model output, checks data
quality, and decides with the package's `monitoring.drift` thresholds:

- a feature has **drifted** when its test is significant (KS or chi-squared p-value below
  `ks_pvalue`) and the shift is large: PSI at least `psi_alert`, or an effect at least
  `ks_min_effect` (KS statistic) or `js_min_effect` (Jensen-Shannon distance). On large
  data the tests alone flag every tiny shift; on small data the PSI of noise is high;
- it needs a **warning** when a significant shift has a PSI of at least `psi_warning`, its
  missing rate rose by `missing_increase`, a share `out_of_range` of its values lies
  outside the reference's range (or are unseen categories), or some values have the wrong
  type;
- the dataset has drifted when the share of drifted inputs, weighted by the declared
  `monitoring.feature_importance` when given, reaches `share_drifted_alert`.

Alerts (exit code 1 of `baton drift`): dataset drift, drift of a model output, schema
violations (an input missing, wholly missing values, values of the wrong type), and a
`retraining.drift_triggers` condition of the manifest that holds. With fewer
than `min_rows` rows no drift verdict is given; the statistics are still shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from ..contract.errors import PackageError
from ..contract.manifest import FieldSpec, Manifest, Monitoring
from ..data.profile import (
    CategoricalProfile, ColumnProfile, Invalid, NumericalProfile, Profile, as_numbers,
    column_kind, merge_columns, profile_columns, read_profile,
)
from ..package.load import Package
from . import stats
from ._time import iso, utc_now
from .sources import TIME_COLUMN, Source, epoch_micros

#: Columns of the prediction log that are neither inputs nor outputs.
LOG_COLUMNS = {TIME_COLUMN, "request_id", "row", "role", "model_name", "model_version",
               "package_digest", "latency_ms", "error"}
OK, WARNING, DRIFT, MISSING, UNAVAILABLE = "ok", "warning", "drift", "missing", "unavailable"


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds: the manifest's `monitoring.drift`, else these defaults."""

    psi_warning: float = 0.1
    psi_alert: float = 0.25
    ks_pvalue: float = 0.05
    ks_min_effect: float = 0.1
    js_min_effect: float = 0.1
    share_drifted_alert: float = 0.5
    missing_increase: float = 0.05
    out_of_range: float = 0.01
    min_rows: int = 30

    @classmethod
    def declared(cls, monitoring: Monitoring | None, **overrides: Any) -> Thresholds:
        declared = monitoring.drift.model_dump(exclude_none=True) \
            if monitoring is not None and monitoring.drift is not None else {}
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in {**declared, **overrides}.items()
                  if k in names and v is not None}
        return cls(**values)


@dataclass
class FeatureDrift:
    """One input or output: its statistics, data quality and status, with the reasons."""

    name: str
    role: str  # input | output
    kind: str  # numerical | categorical
    status: str = OK
    reasons: list[str] = field(default_factory=list)
    weight: float = 1.0
    rows: int = 0
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    ks_error: float | None = None
    wasserstein: float | None = None  # normalised by the reference's standard deviation
    chi2: float | None = None
    chi2_pvalue: float | None = None
    js_distance: float | None = None
    missing_reference: float | None = None
    missing_current: float | None = None
    out_of_range: float | None = None  # share outside [min, max], or of unseen categories
    unseen: list[str] = field(default_factory=list)
    invalid: int = 0
    significant: bool = False  # the test found a difference (p below ks_pvalue)
    reference: ColumnProfile | None = None
    current: ColumnProfile | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("reference", "current")}
        data["bins"] = _bins(self.reference, self.current)
        return data


@dataclass
class DriftReport:
    package: dict[str, str]
    source: dict[str, Any]
    rows: int
    thresholds: Thresholds
    features: list[FeatureDrift]
    outputs: list[FeatureDrift]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drift_share: float | None = None
    drifted: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    retraining: list[str] = field(default_factory=list)
    procedure: str | None = None
    created_at: str = field(default_factory=lambda: iso(utc_now()))

    @property
    def alert(self) -> bool:
        return bool(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "source": self.source, "rows": self.rows,
                "created_at": self.created_at, "alert": self.alert, "alerts": self.alerts,
                "drift_share": self.drift_share, "drifted": self.drifted,
                "retraining": {"due": bool(self.retraining), "triggers": self.retraining,
                               "procedure": self.procedure},
                "problems": self.problems, "notes": self.notes,
                "thresholds": asdict(self.thresholds),
                "features": [f.to_dict() for f in self.features],
                "outputs": [f.to_dict() for f in self.outputs]}


# --- the whole pass ----------------------------------------------------------------------


def reference_profile(package: Package) -> Profile:
    manifest = package.manifest
    path = manifest.data.reference if manifest.data else None
    if not path:
        raise PackageError(f"{manifest.name} {manifest.version} has no reference profile",
                           where=str(package.root),
                           hint="re-pack it with this release of Baton (modelbaton.pack(..., "
                                "training_data=...)) to record one")
    return read_profile(package.root / path)


def measure_drift(package: Package, source: Source, *, thresholds: Thresholds | None = None,
                  predictor: Any = None) -> DriftReport:
    """Compare `source` with the package's reference profile (one streaming pass)."""
    manifest = package.manifest
    reference = reference_profile(package)
    thresholds = thresholds or Thresholds.declared(manifest.monitoring)
    current, findings = profile_current(source, manifest, reference, predictor=predictor)
    report = compare_profiles(reference, current, manifest, thresholds, findings)
    report.package = {"name": manifest.name, "version": manifest.version,
                      "digest": package.digest}
    report.source = {"path": str(source.path), "kind": source.kind,
                     "files": len(source.files),
                     "window": None if source.window is None else
                     {"start": iso(source.window.start), "end": iso(source.window.end)}}
    report.notes = source.notes + report.notes
    return report


@dataclass
class Findings:
    """What reading the current data found besides its profile."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    invalid: dict[str, tuple[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def profile_current(source: Source, manifest: Manifest, reference: Profile, *,
                    predictor: Any = None) -> tuple[Profile, Findings]:
    """Profile the source on the reference's grid, batch by batch; note schema findings."""
    interface = manifest.interface
    inputs = [f for f in interface.inputs if f.name in reference.features]
    outputs = [f for f in interface.outputs if reference.outputs and f.name in reference.outputs]
    available = set(source.columns)
    findings = Findings(missing=[f.name for f in inputs if f.name not in available])
    known = {f.name for f in interface.inputs} | {f.name for f in interface.outputs}
    findings.extra = [c for c in source.columns if c not in known and c not in LOG_COLUMNS
                      and c != source.time_column]
    logged_outputs = [f for f in outputs if f.name in available]
    if predictor is not None and not logged_outputs:
        scored_outputs = outputs
    else:
        scored_outputs, predictor = logged_outputs, None
    # The model needs every input (datetimes too, which are not profiled).
    scoring = [f.name for f in interface.inputs if f.name in available and predictor]
    wanted = list(dict.fromkeys([*(f.name for f in inputs if f.name in available), *scoring,
                                 *(f.name for f in logged_outputs if predictor is None)]))
    features: dict[str, ColumnProfile] = {}
    predicted: dict[str, ColumnProfile] = {}
    rows = 0
    invalid: dict[str, Invalid] = {}
    for batch in source.batches(wanted):
        rows += batch.rows
        columns = {f.name: batch.columns.get(f.name, _nulls(batch.rows, f))
                   for f in inputs if f.name in available}
        part, bad = profile_columns(columns, inputs, grid=reference.features)
        features = merge_columns(features, part, reference.features)
        for name, found in bad.items():
            if found.count:
                _absorb(invalid, name, found, batch)
        if predictor is not None:
            scored = _predict(predictor, batch.columns, findings)
        else:
            scored = {f.name: batch.columns.get(f.name, _nulls(batch.rows, f))
                      for f in scored_outputs}
        if scored:
            part, _ = profile_columns(scored, scored_outputs, grid=reference.outputs)
            predicted = merge_columns(predicted, part, reference.outputs or {})
    findings.invalid = {name: (found.count, _example(found)) for name, found in invalid.items()}
    if reference.outputs and not scored_outputs:
        findings.notes.append("prediction drift not measured: CURRENT has no output columns "
                              "(pass --predict to score it with the package's model)")
    info = {"source": str(source.path)}
    return Profile(features=features, outputs=predicted or None, rows=rows, info=info), findings


def _nulls(rows: int, spec: FieldSpec) -> np.ndarray:
    if column_kind(spec) == "numerical":
        return np.full(rows, np.nan)
    return np.full(rows, None, dtype=object)


def _absorb(invalid: dict[str, Invalid], name: str, found: Invalid, batch: Any) -> None:
    """Add a batch's wrong-typed values, keeping the first one's file and row."""
    total = invalid.setdefault(name, Invalid())
    if total.origin is None:
        total.origin, total.value = batch.origin, found.value
        total.row = None if found.row is None else int(batch.rownums[found.row])
    total.count += found.count


def _example(found: Invalid) -> str:
    where = found.origin or ""
    if found.row is not None:
        where += f" row {found.row}"
    return f"{where}: {found.value!r}".strip(": ")


def _predict(predictor: Any, columns: Mapping[str, Any],
             findings: Findings) -> dict[str, np.ndarray]:
    """The packaged model's outputs for the rows every input is usable in."""
    table: dict[str, np.ndarray] = {}
    usable = None
    for spec in predictor.inputs:
        column = columns.get(spec.name)
        if column is None:
            if not any("cannot score" in n for n in findings.notes):
                findings.notes.append(f"--predict cannot score: input '{spec.name}' is missing")
            return {}
        values = _model_values(column, spec)
        ok = _usable(values, spec)
        usable = ok if usable is None else usable & ok
        table[spec.name] = values
    if usable is None or not usable.any():
        return {}
    rows = {k: v[usable] for k, v in table.items()}
    try:
        return predictor.predict_table(rows, validate=False)
    except Exception as exc:  # noqa: BLE001 - reported, and input drift still measured
        note = f"--predict: the model failed on CURRENT ({type(exc).__name__}: {exc})"
        if note not in findings.notes:
            findings.notes.append(note)
        return {}


def _model_values(column: Any, spec: FieldSpec) -> np.ndarray:
    if spec.type == "datetime":  # the int64 minimum that marks a missing time is NaT
        return epoch_micros(column).astype("datetime64[us]")
    if spec.type in ("integer", "number"):
        values, _ = as_numbers(column)
        if spec.type == "integer" and not np.isnan(values).any():
            return values.astype(np.int64)
        return values
    if type(column).__module__.split(".")[0] == "pyarrow":
        column = column.to_pylist()
    values = np.empty(len(column), dtype=object)
    values[:] = list(column)
    if spec.type == "boolean":
        values[:] = [v.lower() == "true" if isinstance(v, str) else v for v in values]
    return values


def _usable(values: np.ndarray, spec: FieldSpec) -> np.ndarray:
    if values.dtype.kind == "f":
        present = ~np.isnan(values)
    elif values.dtype == object:
        present = np.array([v is not None for v in values], dtype=bool)
    else:
        present = np.ones(len(values), dtype=bool)
    return present | spec.nullable


# --- the comparison ----------------------------------------------------------------------


def compare_profiles(reference: Profile, current: Profile, manifest: Manifest,
                     thresholds: Thresholds, findings: Findings | None = None) -> DriftReport:
    """Statistics, quality and verdict from two profiles (no raw data needed)."""
    findings = findings or Findings()
    importance = (manifest.monitoring.feature_importance if manifest.monitoring else {}) or {}
    enough = current.rows >= thresholds.min_rows
    features = []
    for name, ref in reference.features.items():
        drift = _feature(name, "input", ref, current.features.get(name), thresholds, enough)
        drift.weight = float(importance.get(name, 0.0)) if importance else 1.0
        if name in findings.invalid:
            count, example = findings.invalid[name]
            drift.invalid = count
            drift.reasons.append(f"{count} values of the wrong type (first: {example})")
            drift.status = drift.status if drift.status in (DRIFT, UNAVAILABLE) else WARNING
        features.append(drift)
    outputs = [_feature(name, "output", ref, (current.outputs or {}).get(name), thresholds,
                        enough) for name, ref in (reference.outputs or {}).items()]
    outputs = [o for o in outputs if o.status != MISSING]
    report = DriftReport(package={}, source={}, rows=current.rows, thresholds=thresholds,
                         features=features, outputs=outputs, notes=list(findings.notes))
    _schema(report, findings, features, manifest)
    if current.rows == 0:
        report.notes.append("no rows to compare")
    elif not enough:
        report.notes.append(f"only {current.rows} row{'s' if current.rows > 1 else ''}: drift "
                            f"needs at least {thresholds.min_rows} rows for a verdict, so the "
                            "statistics are shown without one")
    else:
        _verdict(report, features, outputs, thresholds)
        _retraining(report, manifest)
    unknown = sorted(set(importance) - set(reference.features))
    if unknown:
        report.notes.append(f"monitoring.feature_importance names no input: "
                            f"{', '.join(unknown)}")
    return report


def _feature(name: str, role: str, ref: ColumnProfile, cur: ColumnProfile | None,
             thresholds: Thresholds, enough: bool) -> FeatureDrift:
    drift = FeatureDrift(name=name, role=role, kind=ref.kind, reference=ref, current=cur)
    total_ref = ref.count + ref.missing + ref.invalid
    drift.missing_reference = ref.missing / total_ref if total_ref else None
    if cur is None:
        drift.status = MISSING
        drift.reasons.append("column missing from CURRENT")
        return drift
    total = cur.count + cur.missing + cur.invalid
    drift.rows = cur.count
    drift.missing_current = cur.missing / total if total else None
    if ref.count == 0:
        drift.status = UNAVAILABLE
        drift.reasons.append("the reference has no values for it")
        return drift
    if cur.count == 0:
        drift.status = UNAVAILABLE
        drift.reasons.append("no usable values" if total else "no rows")
        return drift
    if isinstance(ref, NumericalProfile) and isinstance(cur, NumericalProfile):
        drift.psi = stats.psi(ref.counts, cur.counts)
        ks = stats.ks_test(ref, cur)
        drift.ks_statistic, drift.ks_pvalue, drift.ks_error = ks.statistic, ks.pvalue, ks.error
        distance = stats.wasserstein(ref, cur)
        drift.wasserstein = distance / ref.std if ref.std > 0 else None
        drift.out_of_range = float(cur.between[0] + cur.between[-1]) / cur.count \
            if len(cur.between) > 1 else 0.0
        pvalue, large = ks.pvalue, ks.statistic >= thresholds.ks_min_effect
        test_text = f"KS {ks.statistic:.3f} (p={ks.pvalue:.2g})"
        outside = "outside the reference range"
    elif isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
        keys, r, c = stats.category_counts(ref, cur)
        drift.psi = stats.psi(r, c)
        chi = stats.chi_squared(r, c)
        drift.chi2, drift.chi2_pvalue = chi.statistic, chi.pvalue
        drift.js_distance = stats.js_distance(r, c)
        drift.unseen = [k for k in cur.frequencies if k not in ref.frequencies]
        unseen = sum(cur.frequencies[k] for k in drift.unseen)
        drift.out_of_range = unseen / cur.count
        pvalue, large = chi.pvalue, drift.js_distance >= thresholds.js_min_effect
        test_text = f"JS {drift.js_distance:.3f} (chi-squared p={chi.pvalue:.2g})"
        outside = "unseen categories" + (f" ({', '.join(drift.unseen[:3])})"
                                         if drift.unseen else "")
    else:
        raise PackageError(f"'{name}' is {ref.kind} in the reference but not in CURRENT")
    # A shift counts when it is both large (PSI or effect size) and significant: on large
    # data the tests flag every tiny shift, on small data the PSI of pure noise is high
    # (about (bins - 1) / rows: 0.2 for 40 rows).
    significant = drift.significant = enough and pvalue < thresholds.ks_pvalue
    if significant and (drift.psi >= thresholds.psi_alert or large):
        drift.status = DRIFT
        if drift.psi >= thresholds.psi_alert:
            drift.reasons.append(f"PSI {drift.psi:.3f} >= {thresholds.psi_alert}")
        drift.reasons.append(test_text)
    elif significant and drift.psi >= thresholds.psi_warning:
        drift.status = WARNING
        drift.reasons.append(f"PSI {drift.psi:.3f} >= {thresholds.psi_warning}; {test_text}")
    rise = (drift.missing_current or 0.0) - (drift.missing_reference or 0.0)
    if rise >= thresholds.missing_increase:
        drift.status = WARNING if drift.status == OK else drift.status
        drift.reasons.append(f"missing rate {drift.missing_reference or 0:.1%} -> "
                             f"{drift.missing_current:.1%}")
    if drift.out_of_range and drift.out_of_range >= thresholds.out_of_range:
        drift.status = WARNING if drift.status == OK else drift.status
        drift.reasons.append(f"{drift.out_of_range:.1%} {outside}")
    return drift


def _schema(report: DriftReport, findings: Findings, features: list[FeatureDrift],
            manifest: Manifest) -> None:
    for name in findings.missing:
        report.problems.append(f"input '{name}' is missing from CURRENT")
    for drift in features:
        if drift.status == UNAVAILABLE and drift.current is not None and \
                report.rows and drift.reference is not None and drift.reference.count:
            what = "every value is missing" if not drift.invalid else \
                "no value has the right type"
            report.problems.append(f"input '{drift.name}': {what}")
        elif drift.invalid:
            spec = next((f for f in manifest.interface.inputs if f.name == drift.name), None)
            expected = spec.type if spec else "its type"
            report.problems.append(f"input '{drift.name}': {drift.invalid} values are not of "
                                   f"type {expected}; they were left out")
    if findings.extra:
        shown = ", ".join(findings.extra[:8]) + (" ..." if len(findings.extra) > 8 else "")
        report.notes.append(f"columns that are not inputs of the model were ignored: {shown}")
    report.alerts += [f"schema: {p}" for p in report.problems]


def _verdict(report: DriftReport, features: list[FeatureDrift], outputs: list[FeatureDrift],
             thresholds: Thresholds) -> None:
    measured = [f for f in features if f.status in (OK, WARNING, DRIFT)]
    total = sum(f.weight for f in measured)
    report.drifted = [f.name for f in measured if f.status == DRIFT]
    if total > 0:
        report.drift_share = sum(f.weight for f in measured if f.status == DRIFT) / total
        if report.drift_share >= thresholds.share_drifted_alert:
            report.alerts.insert(0, f"dataset drift: {report.drift_share:.0%} of the inputs "
                                    f"drifted (alert at {thresholds.share_drifted_alert:.0%}): "
                                    f"{', '.join(report.drifted)}")
    for output in outputs:
        if output.status == DRIFT:
            report.alerts.append(f"prediction drift on '{output.name}': "
                                 f"{'; '.join(output.reasons)}")


def _retraining(report: DriftReport, manifest: Manifest) -> None:
    """Evaluate the manifest's `retraining.drift_triggers` on the report."""
    retraining = manifest.retraining
    if retraining is None or not retraining.drift_triggers:
        return
    everything = {f.name: f for f in [*report.features, *report.outputs]}
    for trigger in retraining.drift_triggers:
        if trigger.statistic == "drift_share":
            value = report.drift_share
            if value is not None and value > trigger.above:
                report.retraining.append(f"drift share {value:.0%} > {trigger.above:.0%}")
            continue
        names = trigger.features or [f.name for f in report.features]
        shift = trigger.statistic not in ("missing_rate", "out_of_range")
        hits = []
        for name in names:
            drift = everything.get(name)
            value = _statistic(drift, trigger.statistic) if drift else None
            # A distance counts only for a significant shift, as in the verdict.
            if value is not None and value > trigger.above and (drift.significant or
                                                                 not shift):
                hits.append(f"{name} ({value:.3g})")
        if hits:
            report.retraining.append(f"{trigger.statistic} > {trigger.above} on "
                                     f"{', '.join(hits)}")
    if report.retraining:
        report.procedure = retraining.procedure or "the manifest gives no procedure"
        report.alerts.append("retraining is due: " + "; ".join(report.retraining))


def _statistic(drift: FeatureDrift, name: str) -> float | None:
    if name == "missing_rate":
        return drift.missing_current
    value = getattr(drift, name, None)
    return None if value is None else float(value)


def _bins(ref: ColumnProfile | None, cur: ColumnProfile | None) -> dict[str, Any] | None:
    """Reference and current counts on the same bins, for charts and machine readers."""
    if isinstance(ref, NumericalProfile):
        return {"edges": [float(e) for e in ref.edges], "reference": ref.counts.tolist(),
                "current": cur.counts.tolist() if isinstance(cur, NumericalProfile) else None}
    if isinstance(ref, CategoricalProfile):
        if isinstance(cur, CategoricalProfile):
            keys, r, c = stats.category_counts(ref, cur)
            return {"categories": keys, "reference": r.tolist(), "current": c.tolist()}
        return {"categories": list(ref.frequencies), "current": None,
                "reference": list(ref.frequencies.values())}
    return None


__all__ = ["DriftReport", "FeatureDrift", "Findings", "Thresholds", "compare_profiles",
           "measure_drift", "profile_current", "reference_profile"]
