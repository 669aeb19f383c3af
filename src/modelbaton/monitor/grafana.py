"""A Grafana dashboard for a served, monitored model (`baton monitor --grafana FILE`).

Import it in Grafana (Dashboards > New > Import) and choose the Prometheus data source
that scrapes `baton serve` and `baton monitor`. The `model` variable selects the model.
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
M = '{model=~"$model"}'
MI = '{model=~"$model",role="input"}'
MO = '{model=~"$model",role="output"}'

#: (title, unit, [(PromQL, legend)], kind, width) per panel, by row. The serving metrics
#: carry no model label (one server serves one model): scope them with the scrape's job.
SERVING = [
    ("Requests per second by status", "reqps",
     [("sum by (status) (rate(baton_requests_total[5m]))", "{{status}}")], "timeseries", 8),
    ("Latency p50 / p99", "s",
     [(f"histogram_quantile({q}, sum by (le) "
       f"(rate(baton_request_duration_seconds_bucket[5m])))", name)
      for q, name in (("0.5", "p50"), ("0.99", "p99"))], "timeseries", 8),
    ("Validation failures by field", "short",
     [("sum by (field) (rate(baton_validation_failures_total[5m]))", "{{field}}")],
     "timeseries", 8),
    ("Rows per model call", "short",
     [("sum(rate(baton_batch_size_rows_sum[5m])) / sum(rate(baton_batch_size_rows_count[5m]))",
       "mean batch")], "timeseries", 8),
    ("Shadow agreement with the candidate", "percentunit",
     [("sum(rate(baton_shadow_agreeing_rows_total[15m])) / "
       "sum(rate(baton_shadow_compared_rows_total[15m]))", "agreement")], "timeseries", 8),
    ("Prediction log records dropped (1h)", "short",
     [("sum(increase(baton_prediction_log_dropped_records_total[1h]))", "dropped")],
     "stat", 8),
]
DRIFT = [
    ("Drift alert", "short", [(f"max(baton_drift_alert{M})", "alert")], "stat", 4),
    ("Share of inputs drifted", "percentunit", [(f"baton_drift_share{M}", "{{version}}")],
     "stat", 4),
    ("Retraining due", "short", [(f"max(baton_retraining_due{M})", "due")], "stat", 4),
    ("Rows in the window", "short", [(f"baton_drift_window_rows{M}", "{{version}}")], "stat", 4),
    ("Minutes since the last monitor run", "m",
     [(f"(time() - baton_monitor_last_run_timestamp_seconds{M}) / 60", "{{version}}")],
     "stat", 4),
    ("Monitor errors (1h)", "short",
     [(f"sum(increase(baton_monitor_errors_total{M}[1h]))", "errors")], "stat", 4),
    ("PSI per input (warning 0.1, alert 0.25)", "short",
     [(f"baton_drift_psi{MI}", "{{feature}}")], "timeseries", 12),
    ("KS statistic per numerical input", "short",
     [(f"baton_drift_ks_statistic{MI}", "{{feature}}")], "timeseries", 12),
    ("Prediction drift: PSI per output", "short",
     [(f"baton_drift_psi{MO}", "{{feature}}")], "timeseries", 12),
    ("Missing values per input", "percentunit",
     [(f"baton_drift_missing_ratio{MI}", "{{feature}}")], "timeseries", 12),
    ("Feature status (0 ok, 1 warning, 2 drift, 3 missing)", "short",
     [(f"baton_drift_status{M}", "{{role}} {{feature}}")], "table", 24),
]


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (importable, with a data source input)."""
    panels: list[dict[str, Any]] = []
    y = 0
    for title, row in (("Serving", SERVING), ("Drift", DRIFT)):
        panels.append({"type": "row", "title": title, "collapsed": False, "id": len(panels) + 1,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        y += 1
        x = tallest = 0
        for name, unit, queries, kind, width in row:
            height = 4 if kind == "stat" else 8
            if x + width > 24:
                x, y, tallest = 0, y + tallest, 0
            panels.append(_panel(len(panels) + 1, name, unit, queries, kind,
                                 {"h": height, "w": width, "x": x, "y": y}))
            x, tallest = x + width, max(tallest, height)
        y += tallest
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "title": "Baton: serving and drift", "uid": "baton-model", "schemaVersion": 39,
        "version": 1, "editable": True, "refresh": "1m", "tags": ["baton", "mlops"],
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": [{
            "name": "model", "label": "model", "type": "query", "datasource": DATASOURCE,
            "query": "label_values(baton_drift_share, model)", "refresh": 2,
            "includeAll": True, "multi": True, "current": {}}]},
        "panels": panels,
    }


def _panel(id_: int, title: str, unit: str, queries: list[tuple[str, str]], kind: str,
           grid: dict[str, int]) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "id": id_, "type": kind, "title": title, "datasource": DATASOURCE, "gridPos": grid,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
                     "datasource": DATASOURCE, **({"instant": True, "format": "table"}
                                                  if kind == "table" else {})}
                    for i, (expr, legend) in enumerate(queries)],
    }
    if "PSI" in title:
        panel["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "orange", "value": 0.1},
            {"color": "red", "value": 0.25}]}
        panel["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "line"}}
    return panel


def metric_names(board: dict[str, Any]) -> set[str]:
    """Every `baton_` metric the dashboard queries (histogram/counter suffixes kept)."""
    import re

    names: set[str] = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            names.update(re.findall(r"\b(baton_[a-z0-9_]+)", target["expr"]))
    return names
