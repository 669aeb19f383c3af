"""Challenger vs champion on the same data: the gate for replacing a production model.

Offline, both packages score the same file; live, the serving log's `shadow` records (the
candidate) are joined with its `primary` ones (the champion) on (`request_id`, `row`).
Reported: agreement (same prediction; for regressors within 1% of each other), each
metric for both with the difference and paired bootstrap confidence intervals when labels
are given, the same per declared slice, and latency of both.

The criteria come from the candidate's `evaluation.promotion` (overridable): a metric may
be worse than the champion's by at most `max_drop`, judged on the bound of the confidence
interval of the difference (so "AUC not worse by more than 0.005 at 95%" passes only
when the interval's lower bound is at least -0.005); agreement at least `min_agreement`;
the candidate's single-row p99 latency at most `latency_p99_ms` (default: the candidate's
`performance.budgets.latency_p99_ms`). The result is a `compare` receipt in the candidate
package, bound to both digests, which the registry's production gate requires.
"""

from __future__ import annotations

import difflib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import BatonError, DataError
from ..contract.manifest import Criterion, Manifest, Slice
from ..data.profile import as_numbers, category_key
from ..data.schema import check_table
from ..data.table import Table, read_table
from ..package.integrity import sha256_file
from ..package.load import Package
from ..package.receipts import write_receipt
from . import scoring
from .sources import INPUT, OUTPUT, Source

AGREEMENT_RTOL = 0.01  # regressors agree when within 1% of each other
LATENCY_ROWS = 200
RESAMPLES = 1000


@dataclass
class Criteria:
    """What the candidate must show: declared in its manifest, overridable per run."""

    metrics: list[Criterion] = field(default_factory=list)
    confidence: float = 0.95
    min_agreement: float | None = None
    latency_p99_ms: float | None = None

    @classmethod
    def declared(cls, manifest: Manifest, *, criteria: list[Criterion] | None = None,
                 confidence: float | None = None, min_agreement: float | None = None,
                 latency_p99_ms: float | None = None) -> Criteria:
        promotion = manifest.evaluation.promotion if manifest.evaluation else None
        budgets = manifest.performance.budgets if manifest.performance else None
        metrics = {c.metric: c for c in (promotion.criteria if promotion else [])}
        metrics.update({c.metric: c for c in criteria or []})
        return cls(
            metrics=list(metrics.values()),
            confidence=confidence or (promotion.confidence if promotion else 0.95),
            min_agreement=min_agreement if min_agreement is not None
            else promotion.min_agreement if promotion else None,
            latency_p99_ms=latency_p99_ms if latency_p99_ms is not None
            else (promotion.latency_p99_ms if promotion and promotion.latency_p99_ms
                  else budgets.latency_p99_ms if budgets else None))


def parse_criterion(text: str) -> Criterion:
    """`roc_auc:0.005` (may be 0.005 worse) or `accuracy` (must not be worse)."""
    from .scoring import HIGHER_IS_BETTER

    name, _, drop = text.partition(":")
    name = name.strip()
    if name not in HIGHER_IS_BETTER:
        close = difflib.get_close_matches(name, list(HIGHER_IS_BETTER), n=1)
        raise BatonError(f"--criterion '{text}': unknown metric '{name}'",
                         hint=f"did you mean {close[0]}?" if close
                         else f"metrics: {', '.join(HIGHER_IS_BETTER)}")
    try:
        max_drop = float(drop) if drop else 0.0
    except ValueError:
        max_drop = math.nan
    if not 0 <= max_drop < math.inf:
        raise BatonError(f"--criterion '{text}' is not METRIC[:MAX_DROP] with a MAX_DROP of "
                         "0 or more", hint="e.g. --criterion roc_auc:0.005")
    return Criterion(metric=name, max_drop=max_drop)


@dataclass
class Scored:
    """One model's outputs on the compared rows, and how long they took."""

    inputs: Table
    outputs: dict[str, np.ndarray]
    seconds: float
    latency_ms: list[float] = field(default_factory=list)


@dataclass
class Comparison:
    candidate: Package
    champion: Package
    data: dict[str, Any]
    rows: int
    labelled: int = 0
    agreement: float | None = None
    mean_abs_difference: float | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    slices: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    criteria: Criteria = field(default_factory=Criteria)
    resamples: int = RESAMPLES

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c["passed"] for c in self.checks)

    def details(self) -> dict[str, Any]:
        """The receipt's body (besides kind, digest, passed, time and author)."""
        return {
            "champion_digest": self.champion.digest,
            "candidate": _identity(self.candidate), "champion": _identity(self.champion),
            "data": self.data, "rows": self.rows, "labelled_rows": self.labelled,
            "criteria": self.checks, "confidence": self.criteria.confidence,
            "bootstrap": self.resamples, "agreement": self.agreement,
            "mean_abs_difference": self.mean_abs_difference, "metrics": self.metrics,
            "latency": self.latency, "slices": self.slices, "notes": self.notes,
        }

    def write_receipt(self) -> Path:
        try:
            return write_receipt(self.candidate.root, "compare", digest=self.candidate.digest,
                                 passed=self.passed, details=self.details())
        except OSError as exc:
            raise BatonError(f"cannot write the compare receipt into {self.candidate.root} "
                             f"({exc.strerror})", hint="the candidate must be a package folder "
                             "you can write to") from None


# --- offline: both models score one file -------------------------------------------------


def compare_offline(candidate: Any, champion: Any, data: str | Path, *, labels: str | None,
                    criteria: Criteria, resamples: int = RESAMPLES,
                    latency_rows: int = LATENCY_ROWS, slice_by: str | None = None) -> Comparison:
    """`candidate`/`champion` are loaded Predictors (with `.manifest`, `.digest`)."""
    path = Path(data)
    types = {f.name: f.type for p in (candidate, champion) for f in p.inputs}
    if labels and _label_is_text(candidate):
        types[labels] = "string"
    table = read_table(path, types=types)
    rows = len(next(iter(table.values()))) if table else 0
    if rows == 0:
        raise DataError(f"{path} has no rows")
    truth = None
    if labels:
        if labels not in table:
            raise DataError(f"{path}: --labels column '{labels}' is not in the file",
                            hint=f"columns: {', '.join(table)}")
        truth = table[labels]
    comparison = _comparison(candidate, champion, {"path": str(path), "kind": "file",
                                                   "sha256": sha256_file(path),
                                                   "labels": labels}, rows, criteria, resamples)
    scored = {}
    for role, predictor in (("candidate", candidate), ("champion", champion)):
        inputs = _model_inputs(predictor, table, path, role, comparison.notes)
        started = time.perf_counter()
        outputs = _predict(predictor, inputs, role)
        scored[role] = Scored(inputs, outputs, time.perf_counter() - started)
    _latency_offline(comparison, candidate, champion, scored, latency_rows)
    _finish(comparison, scored["candidate"].outputs, scored["champion"].outputs, truth, table,
            slice_by)
    return comparison


def _label_is_text(predictor: Any) -> bool:
    return any(isinstance(v, str) for v in (predictor.labels or []))


def _model_inputs(predictor: Any, table: Table, path: Path, role: str,
                  notes: list[str]) -> Table:
    names = [f.name for f in predictor.inputs]
    absent = [n for n in names if n not in table]
    if absent:
        raise DataError(f"{path}: column '{absent[0]}', an input of the {role} "
                        f"({predictor.name} {predictor.version}), is missing",
                        hint="the data must hold every input of both models")
    columns = {n: table[n] for n in names}
    for spec in predictor.inputs:  # a word in a number column: name its row, not row 0
        if spec.type in ("integer", "number") and columns[spec.name].dtype == object:
            values, invalid = as_numbers(columns[spec.name])
            if invalid.count:
                raise DataError(f"{path}: row {invalid.row}, field '{spec.name}': expected "
                                f"{spec.type}, got {invalid.value!r}",
                                hint="every row must be a number there")
            columns[spec.name] = values
    cast, problems = check_table(columns, predictor.inputs)
    blocking = [p for p in problems if p.kind in ("type", "null")]
    if blocking:
        raise DataError(f"{path}: {blocking[0]} (for the {role} {predictor.name} "
                        f"{predictor.version})", hint="both models must be able to score "
                        "every row")
    outside = [p for p in problems if p.kind in ("range", "category")]
    if outside:
        notes.append(f"the data has values outside the {role}'s interface (first: "
                     f"{outside[0]}); they were scored as they are")
    return cast


def _predict(predictor: Any, inputs: Table, role: str) -> dict[str, np.ndarray]:
    try:
        return predictor.predict_table(inputs, validate=False)
    except BatonError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model's own failure, named
        raise BatonError(f"the {role} {predictor.name} {predictor.version} failed to predict: "
                         f"{type(exc).__name__}: {exc}") from None


def _latency_offline(comparison: Comparison, candidate: Any, champion: Any,
                     scored: dict[str, Scored], rows: int) -> None:
    """Single-row latency of both, interleaved row by row so both see the same machine."""
    n = comparison.rows
    index = np.unique(np.linspace(0, n - 1, min(rows, n)).astype(int))
    models = (("candidate", candidate), ("champion", champion))
    for role, predictor in models:  # warm-up: first calls pay for lazy initialisation
        _one_row(predictor, scored[role].inputs, int(index[0]))
    for i in index:
        for role, predictor in models:
            started = time.perf_counter()
            _one_row(predictor, scored[role].inputs, int(i))
            scored[role].latency_ms.append((time.perf_counter() - started) * 1000)
    comparison.latency = {role: {**_percentiles(scored[role].latency_ms),
                                 "rows_per_second": round(n / scored[role].seconds, 1)
                                 if scored[role].seconds else None}
                          for role, _ in models}
    comparison.latency["measured"] = f"single-row predict (preprocessing + model) on " \
                                     f"{len(index)} rows, interleaved"


def _one_row(predictor: Any, inputs: Table, i: int) -> None:
    predictor.predict_table({k: v[i:i + 1] for k, v in inputs.items()}, validate=False)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None}
    return {"p50_ms": round(float(np.percentile(values, 50)), 3),
            "p99_ms": round(float(np.percentile(values, 99)), 3)}


# --- live: the serving log's shadow records ----------------------------------------------


def compare_shadow(candidate: Package, champion: Package, source: Source, *,
                   labels: str | None, label_file: str | Path | None, criteria: Criteria,
                   resamples: int = RESAMPLES, slice_by: str | None = None) -> Comparison:
    """Agreement, metrics (with a label file) and latency from a live-shadow log."""
    if labels and not label_file:
        raise BatonError("with a prediction log, labels come from --label-file",
                         hint="a CSV/Parquet with request_id, row and the --labels column")
    if "role" not in source.raw_columns or "request_id" not in source.raw_columns:
        raise DataError(f"{source.path} is not a prediction log with shadow records",
                        hint="it needs role and request_id columns (docs/prediction-log.md)")
    wanted = [c for c in source.raw_columns if c.startswith((INPUT, OUTPUT))
              or c in ("request_id", "row", "role", "package_digest", "latency_ms", "error")]
    parts: dict[str, list[Any]] = {c: [] for c in wanted}
    for batch in source.batches(wanted, roles=None, raw=True):
        for column in wanted:
            values = batch.columns.get(column)
            parts[column].append(_plain(values) if values is not None
                                 else np.full(batch.rows, None, dtype=object))
    log = {c: np.concatenate(v) if v else np.zeros(0, dtype=object) for c, v in parts.items()}
    role = log["role"]
    primary, shadow = np.flatnonzero(role == "primary"), np.flatnonzero(role == "shadow")
    if not len(shadow):
        raise DataError(f"{source.path} has no shadow records" +
                        (f" in the window {source.window}" if source.window else ""),
                        hint="run `baton serve CHAMPION --shadow CANDIDATE` to record them")
    _check_digests(log, primary, shadow, candidate, champion, source)
    keys = _keys(log)
    where = {keys[i]: i for i in shadow}
    pairs = [(i, where[keys[i]]) for i in primary if keys[i] in where]
    if not pairs:
        raise DataError(f"{source.path}: no shadow record matches a primary one on "
                        "(request_id, row)")
    champ_rows = np.array([p for p, _ in pairs])
    cand_rows = np.array([s for _, s in pairs])
    failed = np.array([log["error"][s] is not None for s in cand_rows]) \
        if "error" in log else np.zeros(len(pairs), bool)
    comparison = _comparison(candidate, champion, {"path": str(source.path), "kind": "shadow-log",
                                                   "files": len(source.files),
                                                   "window": None if source.window is None
                                                   else str(source.window),
                                                   "labels": labels}, len(pairs), criteria,
                             resamples)
    if failed.any():
        comparison.notes.append(f"the candidate failed on {int(failed.sum())} of {len(pairs)} "
                                "rows; they count as disagreements and are left out of metrics")
    outputs = {role: {c[len(OUTPUT):]: log[c][rows] for c in log if c.startswith(OUTPUT)}
               for role, rows in (("candidate", cand_rows), ("champion", champ_rows))}
    inputs = {c[len(INPUT):]: log[c][champ_rows] for c in log if c.startswith(INPUT)}
    truth = _joined_labels(label_file, labels, [keys[i] for i in champ_rows]) \
        if label_file else None
    comparison.latency = {
        role: {**_percentiles(_per_request(log, rows)), "rows_per_second": None}
        for role, rows in (("candidate", shadow), ("champion", primary))}
    comparison.latency["measured"] = "latency_ms of the logged requests"
    _finish(comparison, outputs["candidate"], outputs["champion"], truth, inputs, slice_by,
            failed=failed)
    return comparison


def _check_digests(log: dict[str, np.ndarray], primary: np.ndarray, shadow: np.ndarray,
                   candidate: Package, champion: Package, source: Source) -> None:
    if "package_digest" not in log:
        return
    for rows, package, role in ((shadow, candidate, "shadow"), (primary, champion, "primary")):
        found = {d for d in log["package_digest"][rows] if d}
        if found and found != {package.digest}:
            other = sorted(found - {package.digest})[0]
            raise DataError(f"{source.path}: the {role} records are from package "
                            f"{other[:12]}, not {package.manifest.name} "
                            f"{package.manifest.version} ({package.digest[:12]})",
                            hint="compare the packages the server ran: --shadow is the "
                                 "candidate, the served one the champion")


def _keys(log: dict[str, np.ndarray]) -> list[tuple[Any, Any]]:
    rows = log.get("row")
    return list(zip(log["request_id"].tolist(),
                    rows.tolist() if rows is not None else [0] * len(log["request_id"])))


def _joined_labels(path: str | Path, column: str | None,
                   keys: list[tuple[Any, Any]]) -> np.ndarray:
    if not column:
        raise BatonError("--label-file needs --labels COLUMN")
    table = read_table(path, types={"request_id": "string"})
    for needed in ("request_id", column):
        if needed not in table:
            raise DataError(f"{path}: column '{needed}' is missing",
                            hint="the label file needs request_id (and row) and the label")
    rows = table.get("row", np.zeros(len(table["request_id"]), dtype=np.int64))
    found = {(str(r), int(k)): v for r, k, v in zip(table["request_id"], rows, table[column])}
    return np.array([found.get((str(r), int(k or 0))) for r, k in keys], dtype=object)


def _per_request(log: dict[str, np.ndarray], rows: np.ndarray) -> list[float]:
    if "latency_ms" not in log:
        return []
    seen: dict[Any, float] = {}
    for i in rows:
        latency = log["latency_ms"][i]
        if latency is not None and not (isinstance(latency, float) and latency != latency):
            seen.setdefault(log["request_id"][i], float(latency))
    return list(seen.values())


def _plain(column: Any) -> np.ndarray:
    if type(column).__module__.split(".")[0] == "pyarrow":
        values = column.to_numpy(zero_copy_only=False) if column.null_count == 0 and \
            not _is_text(column) else np.asarray(column.to_pylist(), dtype=object)
        return np.asarray(values)
    return np.asarray(column)


def _is_text(column: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


# --- shared: agreement, metrics, slices, verdict -----------------------------------------


def _comparison(candidate: Any, champion: Any, data: dict[str, Any], rows: int,
                criteria: Criteria, resamples: int) -> Comparison:
    return Comparison(candidate=_package(candidate), champion=_package(champion), data=data,
                      rows=rows, criteria=criteria, resamples=resamples)


def _package(model: Any) -> Package:
    if isinstance(model, Package):
        return model
    return Package(root=model.root, manifest=model.manifest, digest=model.digest)


def _finish(comparison: Comparison, candidate: dict[str, np.ndarray],
            champion: dict[str, np.ndarray], truth: np.ndarray | None, inputs: Table,
            slice_by: str | None, *, failed: np.ndarray | None = None) -> None:
    manifest = comparison.candidate.manifest
    task = manifest.interface.task
    labels = manifest.interface.labels
    failed = failed if failed is not None else np.zeros(comparison.rows, dtype=bool)
    same = _agree(candidate.get("prediction"), champion.get("prediction"), task) & ~failed
    comparison.agreement = float(same.mean()) if len(same) else None
    if task == "regression" and "prediction" in candidate and "prediction" in champion:
        diff = np.abs(_floats(candidate["prediction"]) - _floats(champion["prediction"]))
        comparison.mean_abs_difference = float(np.nanmean(diff[~failed])) if (~failed).any() \
            else None
    known = None
    if truth is not None:
        known = np.array([v is not None and not (isinstance(v, float) and v != v)
                          for v in truth], dtype=bool) & ~failed
        comparison.labelled = int(known.sum())
        if comparison.labelled < len(truth):
            comparison.notes.append(f"{len(truth) - comparison.labelled} rows without a label "
                                    "(or where the candidate failed) are left out of metrics")
        names = list(dict.fromkeys([*scoring.default_metrics(task),
                                    *(c.metric for c in comparison.criteria.metrics)]))
        comparison.metrics = _metrics(names, task, labels, truth, candidate, champion, known,
                                      comparison)
    comparison.slices = _slices(comparison, manifest.evaluation.slices if manifest.evaluation
                                else [], slice_by, inputs, same, task, labels, truth,
                                candidate, champion, known)
    comparison.checks = _checks(comparison)


def _agree(a: np.ndarray | None, b: np.ndarray | None, task: str) -> np.ndarray:
    if a is None or b is None:
        return np.zeros(0, dtype=bool)
    if task == "regression":
        x, y = _floats(a), _floats(b)
        return np.isclose(x, y, rtol=AGREEMENT_RTOL, atol=1e-12)
    return np.array([category_key(u) == category_key(v) for u, v in zip(a, b)], dtype=bool)


def _floats(values: np.ndarray) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64) \
        if np.asarray(values).dtype == object else np.asarray(values, dtype=np.float64)


def _metrics(names: list[str], task: str, labels: Any, truth: np.ndarray,
             candidate: dict[str, np.ndarray], champion: dict[str, np.ndarray],
             known: np.ndarray, comparison: Comparison) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    if not known.any():
        comparison.notes.append("no labelled rows: metrics were not computed")
        return results
    y = truth[known]
    sub = {role: {k: np.asarray(v)[known] for k, v in outputs.items()}
           for role, outputs in (("candidate", candidate), ("champion", champion))}
    for name in names:
        built = {role: scoring.build(name, task=task, truth=y, outputs=sub[role], labels=labels)
                 for role in sub}
        problem = next((b for b in built.values() if isinstance(b, str)), None)
        if problem:
            results[name] = {"error": problem}
            continue
        result = scoring.bootstrap(built["candidate"], built["champion"],  # type: ignore[arg-type]
                                   len(y), resamples=comparison.resamples,
                                   confidence=comparison.criteria.confidence)
        result["higher_is_better"] = scoring.HIGHER_IS_BETTER[name]
        results[name] = result
    return results


def _slices(comparison: Comparison, declared: list[Slice], slice_by: str | None,
            inputs: Table, same: np.ndarray, task: str, labels: Any, truth: np.ndarray | None,
            candidate: dict[str, np.ndarray], champion: dict[str, np.ndarray],
            known: np.ndarray | None) -> list[dict[str, Any]]:
    slices = list(declared)
    if slice_by:
        if slice_by not in inputs:
            raise DataError(f"--slice-by column '{slice_by}' is not an input in the data")
        values = sorted({category_key(v) for v in inputs[slice_by] if v is not None})
        if len(values) > 20:
            raise DataError(f"--slice-by '{slice_by}' has {len(values)} values; at most 20",
                            hint="declare ranges as evaluation.slices in baton.yaml instead")
        slices += [Slice(name=f"{slice_by}={v}", column=slice_by, values=[v]) for v in values]
    results = []
    for spec in slices:
        if spec.column not in inputs:
            comparison.notes.append(f"slice '{spec.name}': column '{spec.column}' is not in "
                                    "the data")
            continue
        mask = _slice_mask(spec, inputs[spec.column])
        entry: dict[str, Any] = {"name": spec.name, "rows": int(mask.sum()),
                                 "agreement": float(same[mask].mean()) if mask.any() else None}
        if truth is not None and known is not None and (mask & known).any():
            rows = mask & known
            entry["metrics"] = {}
            for name in scoring.default_metrics(task):
                values = {}
                for role, outputs in (("candidate", candidate), ("champion", champion)):
                    built = scoring.build(name, task=task, truth=truth[rows], labels=labels,
                                          outputs={k: np.asarray(v)[rows]
                                                   for k, v in outputs.items()})
                    values[role] = None if isinstance(built, str) else \
                        built(np.ones(int(rows.sum())))
                if None not in values.values():
                    entry["metrics"][name] = {**values, "delta": values["candidate"]
                                              - values["champion"]}
        results.append(entry)
    return results


def _slice_mask(spec: Slice, column: np.ndarray) -> np.ndarray:
    mask = np.ones(len(column), dtype=bool)
    if spec.values is not None:
        allowed = {category_key(v) for v in spec.values}
        mask &= np.array([v is not None and category_key(v) in allowed for v in column])
    if spec.minimum is not None or spec.maximum is not None:
        numbers = _floats(column)
        if spec.minimum is not None:
            mask &= numbers >= spec.minimum
        if spec.maximum is not None:
            mask &= numbers < spec.maximum
    return mask


def _checks(comparison: Comparison) -> list[dict[str, Any]]:
    criteria = comparison.criteria
    level = f"{criteria.confidence:.0%}"
    checks = []
    for criterion in criteria.metrics:
        name, drop = criterion.metric, criterion.max_drop
        text = f"{name} not worse than the champion's by more than {drop:g} at {level}"
        result = comparison.metrics.get(name)
        if result is None:
            checks.append({"criterion": text, "passed": False,
                           "detail": "needs labels (--labels)"})
        elif "error" in result:
            checks.append({"criterion": text, "passed": False, "detail": result["error"]})
        else:
            low, high = result["delta_ci"]
            worst = -low if result["higher_is_better"] else high  # how much worse, at most
            checks.append({"criterion": text, "passed": bool(worst <= drop + 1e-12),
                           "detail": f"difference {result['delta']:+.4f}, {level} interval "
                                     f"[{low:+.4f}, {high:+.4f}]"})
    if criteria.min_agreement is not None:
        value = comparison.agreement
        checks.append({"criterion": f"agreement at least {criteria.min_agreement:.1%}",
                       "passed": value is not None and value >= criteria.min_agreement,
                       "detail": "no predictions" if value is None else f"{value:.2%}"})
    if criteria.latency_p99_ms is not None:
        p99 = comparison.latency.get("candidate", {}).get("p99_ms")
        checks.append({"criterion": f"candidate p99 latency at most {criteria.latency_p99_ms:g} "
                                    "ms", "passed": p99 is not None and
                       p99 <= criteria.latency_p99_ms,
                       "detail": "not measured" if p99 is None else f"{p99:.2f} ms"})
    if not checks:
        comparison.notes.append("no promotion criteria: declare evaluation.promotion in the "
                                "candidate's baton.yaml or pass --criterion/--min-agreement/"
                                "--latency-p99-ms; without them the comparison cannot pass")
    return checks


def _identity(package: Package) -> dict[str, str]:
    m = package.manifest
    return {"name": m.name, "version": m.version, "digest": package.digest}
