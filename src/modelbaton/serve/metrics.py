"""Prometheus metrics of one server, named by Prometheus conventions with a `baton_` prefix.

Each app has its own registry, so several apps live in one process (tests). With several
workers, `PROMETHEUS_MULTIPROC_DIR` is set before they start and `/metrics` adds up every
worker's values; `/shadow` reads the same numbers, so both always agree.
"""

from __future__ import annotations

import collections
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ..data.table import Table

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05,
                   0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self, *, labels: Sequence[Any] | None = None,
                 value_range: tuple[float, float] | None = None):
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("baton_requests", "HTTP requests by endpoint and status code.",
                                ["endpoint", "status"], registry=r)
        self.request_seconds = Histogram(
            "baton_request_duration_seconds", "Time to answer an HTTP request, by endpoint.",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("baton_requests_in_flight", "Requests being answered now.",
                               registry=r, multiprocess_mode="livesum")
        self.queued = Gauge("baton_queued_requests", "Requests waiting for the model.",
                            registry=r, multiprocess_mode="livesum")
        self.batch_rows = Histogram("baton_batch_size_rows", "Rows per model call.",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.model_seconds = Histogram(
            "baton_model_latency_seconds", "Wall time of one model call, by role (primary "
            "or shadow).", ["role"], buckets=LATENCY_BUCKETS, registry=r)
        self.model_errors = Counter("baton_model_errors", "Model calls that raised, by role.",
                                    ["role"], registry=r)
        self.validation_failures = Counter(
            "baton_validation_failures", "Input values rejected by the interface, by field "
            "and kind (missing, extra, type, null, range, category).", ["field", "kind"],
            registry=r)
        self.model_info = Gauge("baton_model_info", "The model served, by role (value 1).",
                                ["role", "name", "version", "digest", "flavor"], registry=r,
                                multiprocess_mode="max")
        self.labels = [str(v) for v in labels] if labels is not None else None
        if self.labels is not None:
            self.predicted = Counter("baton_predictions", "Predicted rows by class and role.",
                                     ["role", "class"], registry=r)
        else:
            self.value = Histogram("baton_prediction_value", "Predicted values, by role.",
                                   ["role"], buckets=_value_buckets(value_range), registry=r)
        self.log_records = Counter("baton_prediction_log_records",
                                   "Records written to the prediction log.", registry=r)
        self.log_dropped = Counter(
            "baton_prediction_log_dropped_records", "Records not logged because the log "
            "queue was full or the disk failed.", registry=r)
        self.shadow_rows = Counter("baton_shadow_compared_rows",
                                   "Rows answered by both the primary and the candidate.",
                                   registry=r)
        self.shadow_agreements = Counter("baton_shadow_agreeing_rows",
                                         "Rows where the candidate predicts the same.",
                                         registry=r)
        self.shadow_difference = Counter(
            "baton_shadow_score_abs_difference", "Sum of absolute differences of scores "
            "(probabilities or predicted values) between candidate and primary.", registry=r)
        self.shadow_scores = Counter("baton_shadow_compared_scores",
                                     "Scores compared (the divisor of the difference sum).",
                                     registry=r)
        self.shadow_errors = Counter("baton_shadow_errors",
                                     "Rows the candidate failed on.", registry=r)
        self.shadow_skipped = Counter(
            "baton_shadow_skipped_rows", "Rows not sent to the candidate because it was "
            "behind by more than its queue.", registry=r)

    # --- recording -----------------------------------------------------------------------

    def record_predictions(self, role: str, outputs: Table) -> None:
        prediction = outputs.get("prediction")
        if prediction is None or len(prediction) == 0:
            return
        if self.labels is not None:
            # Counted in Python: for the rows of one batch, np.unique costs 2 to 8 times more.
            for value, count in collections.Counter(map(str, prediction.tolist())).items():
                self.predicted.labels(role, value).inc(count)
        elif prediction.dtype.kind in "iuf":
            histogram = self.value.labels(role)
            for value in prediction.tolist():
                if value == value:
                    histogram.observe(value)

    # --- reading -------------------------------------------------------------------------

    def exposition(self) -> bytes:
        return generate_latest(self._source())

    def samples(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """Every sample by name, added up across workers when there are several."""
        found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for metric in self._source().collect():
            for sample in metric.samples:
                found[sample.name].append((sample.labels, sample.value))
        return found

    def shadow_summary(self) -> dict[str, Any]:
        s = self.samples()
        total = _sum(s, "baton_shadow_compared_rows_total")
        scores = _sum(s, "baton_shadow_compared_scores_total")
        return {
            "compared_rows": int(total),
            "agreement_rate": _sum(s, "baton_shadow_agreeing_rows_total") / total
            if total else None,
            "mean_abs_difference": _sum(s, "baton_shadow_score_abs_difference_total") / scores
            if scores else None,
            "errors": int(_sum(s, "baton_shadow_errors_total")),
            "skipped_rows": int(_sum(s, "baton_shadow_skipped_rows_total")),
            "latency_ms": {role: _latency(s, role) for role in ("primary", "shadow")},
        }

    def _source(self) -> CollectorRegistry:
        path = os.environ.get(MULTIPROC_ENV)
        if not path:
            return self.registry
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        return registry


def _sum(samples: dict[str, list[tuple[dict[str, str], float]]], name: str,
         **labels: str) -> float:
    return sum(value for found, value in samples.get(name, ())
               if all(found.get(k) == v for k, v in labels.items()))


def _latency(samples: dict[str, list[tuple[dict[str, str], float]]],
             role: str) -> dict[str, float | None]:
    """Mean, and p50/p99 read off the histogram buckets as Prometheus' histogram_quantile."""
    count = _sum(samples, "baton_model_latency_seconds_count", role=role)
    if not count:
        return {"calls": 0, "mean": None, "p50": None, "p99": None}
    buckets = sorted((float(labels["le"]), value) for labels, value in
                     samples.get("baton_model_latency_seconds_bucket", ())
                     if labels.get("role") == role)
    merged: dict[float, float] = defaultdict(float)
    for bound, value in buckets:
        merged[bound] += value
    cumulative = sorted(merged.items())
    mean = _sum(samples, "baton_model_latency_seconds_sum", role=role) / count
    return {"calls": int(count), "mean": round(mean * 1000, 3),
            "p50": _quantile(cumulative, 0.5), "p99": _quantile(cumulative, 0.99)}


def _quantile(cumulative: list[tuple[float, float]], q: float) -> float | None:
    total = cumulative[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return round(lower_bound * 1000, 3)
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1
            return round((lower_bound + (bound - lower_bound) * share) * 1000, 3)
        lower_bound, lower_count = bound, count
    return None


def _value_buckets(value_range: tuple[float, float] | None) -> tuple[float, ...]:
    """Ten equal buckets over the range the model predicted at pack time."""
    if value_range is None or not value_range[1] > value_range[0]:
        return Histogram.DEFAULT_BUCKETS
    low, high = value_range
    step = (high - low) / 10
    return tuple(float(f"{low + step * k:.6g}") for k in range(11)) + (math.inf,)
