"""`baton monitor`: drift over the prediction log on a schedule, as metrics and alerts.

Every run measures drift over the last `window` of the log (ending now), sets the
Prometheus gauges served on `/metrics`, and posts to the webhook when an alert starts
(and once more when it resolves); while an alert holds, it is not posted again. A run
that fails (no log yet, a damaged file) is counted in `baton_monitor_errors_total` and
the next run tries again.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..contract.errors import BatonError, MissingExtraError
from ..package.load import Package
from . import alerts
from ._time import utc_now
from .drift import DRIFT, OK, WARNING, DriftReport, Thresholds, measure_drift
from .sources import open_source

STATUS_VALUES = {OK: 0, WARNING: 1, DRIFT: 2}  # missing/unavailable: 3
FEATURE_GAUGES = {
    "psi": ("baton_drift_psi", "Population stability index against the reference"),
    "ks_statistic": ("baton_drift_ks_statistic", "Kolmogorov-Smirnov statistic"),
    "ks_pvalue": ("baton_drift_ks_pvalue", "Kolmogorov-Smirnov p-value"),
    "js_distance": ("baton_drift_js_distance", "Jensen-Shannon distance (categories)"),
    "chi2_pvalue": ("baton_drift_chi2_pvalue", "Chi-squared p-value (categories)"),
    "wasserstein": ("baton_drift_wasserstein_normalized",
                    "Wasserstein distance divided by the reference std"),
    "missing_current": ("baton_drift_missing_ratio", "Share of missing values"),
    "out_of_range": ("baton_drift_out_of_range_ratio",
                     "Share outside the reference range, or of unseen categories"),
}


@dataclass
class Monitor:
    """One model's monitor: state between runs, the metrics, and where alerts go."""

    package: Package
    log_dir: Any
    window: dt.timedelta
    thresholds: Thresholds | None = None
    webhook: str | None = None
    secret: str | None = None
    predictor: Any = None
    say: Callable[[str], None] = print
    alerting: bool = False
    last: DriftReport | None = None
    runs: int = 0
    _metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.webhook:
            alerts.check_url(self.webhook)
            if not self.secret:
                raise BatonError("a webhook needs a signing secret",
                                 hint="set BATON_WEBHOOK_SECRET (or the variable named by "
                                      "--secret-env); the receiver checks "
                                      f"{alerts.SIGNATURE_HEADER}")
        self.registry = _registry(self._metrics)

    @property
    def labels(self) -> dict[str, str]:
        m = self.package.manifest
        return {"model": m.name, "version": m.version}

    def run_once(self, now: dt.datetime | None = None) -> DriftReport:
        """Measure the window ending `now`, update the metrics, send what is due."""
        self.runs += 1
        m = self._metrics
        m["runs"].labels(**self.labels).inc()
        try:
            source = open_source(self.log_dir, window=self.window, end=now or utc_now())
            report = measure_drift(self.package, source, thresholds=self.thresholds,
                                   predictor=self.predictor)
        except BatonError:
            m["errors"].labels(**self.labels).inc()
            raise
        self.last = report
        self._publish(report)
        self._notify(report)
        return report

    def _publish(self, report: DriftReport) -> None:
        m, labels = self._metrics, self.labels
        for gauge in (*(m[k] for k in FEATURE_GAUGES), m["status"]):
            gauge.clear()  # features that left the report must not keep stale values
        for feature in [*report.features, *report.outputs]:
            keys = {**labels, "feature": feature.name, "role": feature.role}
            m["status"].labels(**keys).set(STATUS_VALUES.get(feature.status, 3))
            for attribute in FEATURE_GAUGES:
                value = getattr(feature, attribute)
                if value is not None:
                    m[attribute].labels(**keys).set(float(value))
        share = report.drift_share
        m["share"].labels(**labels).set(float("nan") if share is None else share)
        m["alert"].labels(**labels).set(1 if report.alert else 0)
        m["retraining"].labels(**labels).set(1 if report.retraining else 0)
        m["rows"].labels(**labels).set(report.rows)
        m["last_run"].labels(**labels).set(time.time())

    def _notify(self, report: DriftReport) -> None:
        started, resolved = report.alert and not self.alerting, self.alerting and \
            not report.alert
        self.alerting = report.alert
        if report.alert:
            self.say("ALERT " + " | ".join(report.alerts))
        if report.retraining:
            self.say("retraining is due: " + "; ".join(report.retraining)
                     + f" -- procedure: {report.procedure}")
        if not self.webhook or not (started or resolved):
            return
        manifest = self.package.manifest
        payload = alerts.alert_payload(report, event="alert" if started else "resolved",
                                       paged=manifest.monitoring.paged if manifest.monitoring
                                       else None)
        try:
            alerts.post(self.webhook, payload, self.secret or "")
        except alerts.DeliveryError:
            self._metrics["webhook_failures"].labels(**self.labels).inc()
            self.alerting = not report.alert if started else self.alerting  # retry next run
            raise

    def serve_metrics(self, port: int, addr: str = "127.0.0.1") -> Any:
        """Serve `/metrics` in a background thread; returns the server (`.server_port`)."""
        from prometheus_client import start_http_server

        try:
            server, _ = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            raise BatonError(f"cannot serve metrics on {addr}:{port} ({exc.strerror})",
                             hint="choose a free --port (0 picks one)") from None
        return server

    def run(self, every: dt.timedelta, *, runs: int | None = None,
            stop: threading.Event | None = None) -> None:
        """Run now and then every `every` until `runs` are done or `stop` is set."""
        stop = stop or threading.Event()
        start = time.monotonic()
        done = 0
        while not stop.is_set():
            try:
                self.say(summary(self.run_once()))
            except BatonError as exc:
                self.say(f"error: {exc}")
            done += 1
            if runs is not None and done >= runs:
                return
            # Ticks stay on the schedule however long a run took.
            wait = every.total_seconds() - (time.monotonic() - start) % every.total_seconds()
            stop.wait(wait)


def summary(report: DriftReport) -> str:
    """One line per run, for the console and logs."""
    window = report.source.get("window") or {}
    share = "no verdict" if report.drift_share is None else \
        f"{report.drift_share:.0%} of the inputs drifted"
    state = f"ALERT ({len(report.alerts)})" if report.alert else "ok"
    return f"{window.get('end', '')} {report.rows:,} rows, {share}: {state}"


def _registry(metrics: dict[str, Any]) -> Any:
    try:
        from prometheus_client import CollectorRegistry, Counter, Gauge
    except ImportError:
        raise MissingExtraError("prometheus_client", "monitor") from None
    registry = CollectorRegistry()
    feature = ["model", "version", "feature", "role"]
    model = ["model", "version"]
    for key, (name, text) in FEATURE_GAUGES.items():
        metrics[key] = Gauge(name, text, feature, registry=registry)
    metrics["status"] = Gauge("baton_drift_status",
                              "0 ok, 1 warning, 2 drift, 3 missing or unavailable", feature,
                              registry=registry)
    metrics["share"] = Gauge("baton_drift_share", "Share of (importance-weighted) drifted "
                             "inputs", model, registry=registry)
    metrics["alert"] = Gauge("baton_drift_alert", "1 while a drift alert holds", model,
                             registry=registry)
    metrics["retraining"] = Gauge("baton_retraining_due", "1 while a retraining trigger of "
                                  "the manifest holds", model, registry=registry)
    metrics["rows"] = Gauge("baton_drift_window_rows", "Rows in the last window", model,
                            registry=registry)
    metrics["last_run"] = Gauge("baton_monitor_last_run_timestamp_seconds",
                                "When the last run finished", model, registry=registry)
    metrics["runs"] = Counter("baton_monitor_runs", "Monitor runs", model, registry=registry)
    metrics["errors"] = Counter("baton_monitor_errors", "Monitor runs that failed", model,
                                registry=registry)
    metrics["webhook_failures"] = Counter("baton_monitor_webhook_failures",
                                          "Alerts the webhook did not accept", model,
                                          registry=registry)
    return registry
