"""`baton drift`, `monitor` and `compare`: watching a model after the handoff."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table as RichTable

from ..contract.errors import BatonError
from ..contract.files import output_path, write_text
from ..listen import check_port
from ._common import err, keep_receipt, open_ref, out, print_json


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)
    app.command("monitor")(monitor)
    app.command("compare")(compare)


# Options drift and monitor share.
PredictOption = Annotated[bool, typer.Option(
    "--predict", help="Score the inputs with the package's model when the data has no "
                      "outputs, for prediction drift.")]
AllowPickle = Annotated[bool, typer.Option("--allow-pickle", help="Accept a pickled model "
                                                                  "(it runs code on load).")]
ThresholdOption = Annotated[list[str], typer.Option(
    "--threshold", help="Override a monitoring.drift threshold, e.g. psi_alert=0.2; "
                        "repeatable.")]

#: Bounds of compare's effort options: fewer resamples give no interval worth the name,
#: more only make the command look hung.
MIN_RESAMPLES, MAX_RESAMPLES = 100, 100_000
MAX_LATENCY_ROWS = 100_000

_STYLE = {"ok": "green", "warning": "yellow", "drift": "bold red", "missing": "red",
          "unavailable": "red"}


def drift(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    current: Annotated[Path, typer.Argument(help="CSV/Parquet/JSONL file, folder of Parquet "
                                                 "files, or the serving --log-dir.")],
    window: Annotated[Optional[str], typer.Option(help="Only the last span of time, e.g. 1h, "
                                                       "1d (by the timestamp column).")] = None,
    end: Annotated[Optional[str], typer.Option(help="End of the window (ISO 8601); default the "
                                                    "newest timestamp.")] = None,
    time_column: Annotated[Optional[str], typer.Option(help="Timestamp column for --window "
                                                            "(default: timestamp).")] = None,
    predict: PredictOption = False,
    allow_pickle: AllowPickle = False,
    threshold: ThresholdOption = [],
    html: Annotated[Optional[Path], typer.Option(help="Also write a standalone HTML "
                                                      "report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare data with the package's reference profile; exit code 1 when an alert fires."""
    from ..monitor import drift as drift_mod
    from ..monitor._time import parse_duration, parse_instant
    from ..monitor.report import write_html
    from ..monitor.sources import open_source

    span = parse_duration(window) if window is not None else None
    until = parse_instant(end) if end is not None else None
    if html is not None:
        output_path(html, "--html")
    package = open_ref(ref)
    if until is not None and span is None:
        raise BatonError("--end needs --window", hint="e.g. --window 1h --end 2026-05-01T12:00Z")
    thresholds = drift_mod.Thresholds.declared(package.manifest.monitoring,
                                               **parse_thresholds(threshold))
    source = open_source(current, window=span, end=until, time_column=time_column)
    predictor = _predictor(package, predict, allow_pickle)
    report = drift_mod.measure_drift(package, source, thresholds=thresholds,
                                     predictor=predictor)
    if report.rows == 0:
        where = f" in the window {source.window}" if source.window else ""
        raise BatonError(f"{current}: no rows{where} to compare",
                         hint="widen --window or check --end" if source.window
                         else "the file has a header but no data")
    if html is not None:
        write_html(report, html)
    if as_json:
        data = report.to_dict()
        if html is not None:
            data["html"] = str(html)
        print_json(data)
    else:
        print_drift(report)
        if html is not None:
            out.print(f"HTML report: {html}")
    if report.alert:
        raise typer.Exit(1)


def _predictor(package: Any, predict: bool, allow_pickle: bool) -> Any:
    if not predict:
        return None
    from ..package.load import load

    return load(package, allow_pickle=allow_pickle)


def parse_thresholds(items: list[str]) -> dict[str, Any]:
    from dataclasses import fields

    from ..monitor.drift import Thresholds

    names = {f.name: f.type for f in fields(Thresholds)}
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in names:
            raise BatonError(f"--threshold '{item}' is not NAME=VALUE with a known name",
                             hint=f"names: {', '.join(names)}")
        try:
            value = int(text) if name == "min_rows" else float(text)
        except ValueError:
            raise BatonError(f"--threshold {name}: '{text}' is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise BatonError(f"--threshold {name}: '{text}' must be a number of 0 or more")
        values[name] = value
    return values


def print_drift(report: Any) -> None:
    package = report.package
    window = report.source.get("window")
    span = f", {window['start']} to {window['end']}" if window else ""
    out.print(f"[bold]{package['name']}[/] {package['version']}: {report.rows:,} rows of "
              f"{report.source['path']}{span}")
    for heading, rows in (("inputs", report.features), ("outputs", report.outputs)):
        if not rows:
            continue
        table = RichTable(title=heading, title_justify="left")
        for column, justify in (("feature", "left"), ("status", "left"), ("PSI", "right"),
                                ("KS / JS", "right"), ("p", "right"), ("W/std", "right"),
                                ("missing", "right"), ("outside", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for f in rows:
            numerical = f.kind == "numerical"
            table.add_row(
                f.name, f"[{_STYLE.get(f.status, '')}]{f.status}[/]", _fmt(f.psi),
                _fmt(f.ks_statistic if numerical else f.js_distance),
                _fmt(f.ks_pvalue if numerical else f.chi2_pvalue, ".2g"), _fmt(f.wasserstein),
                _pct(f.missing_current), _pct(f.out_of_range))
        out.print(table)
        for f in rows:
            if f.reasons:
                out.print(f"  [{_STYLE.get(f.status, '')}]{f.name}[/]: {'; '.join(f.reasons)}")
    for note in report.notes:
        out.print(f"[dim]note:[/] {note}")
    if report.retraining:
        out.print("[bold yellow]retraining is due:[/] " + "; ".join(report.retraining))
        out.print(f"  procedure: {report.procedure}")
    if report.alerts:
        for alert in report.alerts:
            out.print(f"[bold red]ALERT[/] {alert}")
    elif report.drift_share is not None:
        out.print(f"[green]no alert[/]: {report.drift_share:.0%} of the inputs drifted "
                  f"(alert at {report.thresholds.share_drifted_alert:.0%})")


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def monitor(
    ref: Annotated[Optional[str], typer.Argument(help="Package folder, .baton file or "
                                                     "reference.")] = None,
    log_dir: Annotated[Optional[Path], typer.Argument(help="The serving --log-dir.")] = None,
    every: Annotated[str, typer.Option(help="How often to check: 30s, 5m, 1h.")] = "5m",
    window: Annotated[str, typer.Option(help="How much of the log each check covers, ending "
                                             "now.")] = "1h",
    port: Annotated[int, typer.Option(help="Serve Prometheus /metrics on this port (0: any "
                                           "free port).")] = 9108,
    addr: Annotated[str, typer.Option(help="Address for /metrics.")] = "127.0.0.1",
    webhook: Annotated[Optional[str], typer.Option(help="POST alerts here (Slack-compatible "
                                                        "JSON, HMAC-signed).")] = None,
    secret_env: Annotated[str, typer.Option(help="Environment variable holding the webhook "
                                                 "signing secret.")] = "BATON_WEBHOOK_SECRET",
    once: Annotated[bool, typer.Option("--once", help="Check once and exit (1 on alert): for "
                                                      "cron and CI.")] = False,
    runs: Annotated[Optional[int], typer.Option(help="Stop after this many checks.")] = None,
    predict: PredictOption = False,
    allow_pickle: AllowPickle = False,
    threshold: ThresholdOption = [],
    grafana: Annotated[Optional[Path], typer.Option(help="Write the Grafana dashboard JSON "
                                                         "here and exit.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print the report as "
                                                         "JSON.")] = False,
) -> None:
    """Watch the prediction log: drift as Prometheus gauges, alerts to a webhook."""
    import json
    import os

    if grafana is not None:
        from ..monitor.grafana import dashboard

        write_text(grafana, json.dumps(dashboard(), indent=2) + "\n", option="--grafana")
        out.print(f"wrote the Grafana dashboard to {grafana} (import it and pick the "
                  "Prometheus data source)")
        return
    if ref is None or log_dir is None:
        raise BatonError("baton monitor needs a package and the prediction log folder",
                         hint="baton monitor PKG LOG_DIR [--every 5m --window 1h]")
    from ..monitor import alerts
    from ..monitor._time import parse_duration
    from ..monitor.drift import Thresholds
    from ..monitor.scheduler import Monitor

    interval = parse_duration(every, option="--every")
    span = parse_duration(window)
    if runs is not None and runs < 1:
        raise BatonError(f"--runs {runs} must be at least 1")
    check_port(port)
    secret = None
    if webhook is not None:
        alerts.check_url(webhook)
        if not secret_env.strip():
            raise BatonError("--secret-env is empty", hint="name the environment variable "
                                                           "that holds the webhook secret")
        secret = os.environ.get(secret_env)
        if not secret:
            raise BatonError(f"--webhook needs a signing secret in ${secret_env}, which is "
                             "unset or empty", hint=f"export {secret_env}=... (the receiver "
                                                    f"checks {alerts.SIGNATURE_HEADER} with it)")
    if log_dir.exists() and not log_dir.is_dir():  # a missing one may not be written yet
        raise BatonError(f"the prediction log folder {log_dir} is a file",
                         hint="give the folder `baton serve --log-dir` writes to")
    package = open_ref(ref)
    predictor = _predictor(package, predict, allow_pickle)
    watcher = Monitor(package, log_dir, span,
                      thresholds=Thresholds.declared(package.manifest.monitoring,
                                                     **parse_thresholds(threshold)),
                      webhook=webhook, secret=secret,
                      predictor=predictor, say=lambda text: err.print(text, markup=False))
    if once:
        report = watcher.run_once()
        if as_json:
            print_json(report.to_dict())
        else:
            print_drift(report)
        if report.alert:
            raise typer.Exit(1)
        return
    server = watcher.serve_metrics(port, addr)
    out.print(f"serving metrics on http://{addr}:{server.server_port}/metrics; checking the "
              f"last {window} of {log_dir} every {every} (Ctrl-C stops)")
    try:
        watcher.run(interval, runs=runs)
    finally:
        server.shutdown()
        server.server_close()


def compare(
    candidate: Annotated[str, typer.Argument(help="The challenger package (folder, .baton "
                                                  "or reference).")],
    champion: Annotated[str, typer.Argument(help="The production model it would replace.")],
    data: Annotated[Path, typer.Argument(help="A CSV/Parquet/JSONL file both models score, "
                                              "or the serving log with shadow records.")],
    labels: Annotated[Optional[str], typer.Option(help="Column holding the true labels.")] =
    None,
    label_file: Annotated[Optional[Path], typer.Option(help="For a log: labels by request_id "
                                                            "(and row).")] = None,
    criterion: Annotated[list[str], typer.Option(help="METRIC[:MAX_DROP], e.g. "
                                                      "roc_auc:0.005; repeatable; overrides "
                                                      "evaluation.promotion.")] = [],
    confidence: Annotated[Optional[float], typer.Option(help="Confidence of the "
                                                             "intervals.")] = None,
    min_agreement: Annotated[Optional[float], typer.Option(help="Smallest share of equal "
                                                                "predictions.")] = None,
    latency_p99_ms: Annotated[Optional[float], typer.Option(help="Largest candidate p99 "
                                                                 "latency.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    latency_rows: Annotated[int, typer.Option(help="Rows timed one by one per model.")] = 200,
    slice_by: Annotated[Optional[str], typer.Option(help="Also break down by each value of "
                                                         "this input.")] = None,
    window: Annotated[Optional[str], typer.Option(help="For a log: only the last span, e.g. "
                                                       "1d.")] = None,
    allow_pickle: AllowPickle = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Challenger vs champion on the same data; writes a compare receipt (exit 1: failed)."""
    from ..monitor import compare as cmp
    from ..monitor._time import parse_duration
    from ..monitor.sources import open_source
    from ..package.load import load

    span = parse_duration(window) if window is not None else None
    if confidence is not None and not 0 < confidence < 1:
        raise BatonError(f"--confidence {confidence} must be between 0 and 1", hint="e.g. 0.95")
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise BatonError(f"--min-agreement {min_agreement} must be between 0 and 1")
    if latency_p99_ms is not None and not 0 < latency_p99_ms < math.inf:
        raise BatonError(f"--latency-p99-ms {latency_p99_ms} must be a positive number of "
                         "milliseconds")
    if not MIN_RESAMPLES <= bootstrap <= MAX_RESAMPLES:
        raise BatonError(f"--bootstrap {bootstrap} must be between {MIN_RESAMPLES} and "
                         f"{MAX_RESAMPLES:,} resamples", hint="1000 is plenty for a 95% interval")
    if not 1 <= latency_rows <= MAX_LATENCY_ROWS:
        raise BatonError(f"--latency-rows {latency_rows} must be between 1 and "
                         f"{MAX_LATENCY_ROWS:,}")
    cand, champ = open_ref(candidate), open_ref(champion)
    if cand.digest == champ.digest:
        raise BatonError("the candidate and the champion are the same package",
                         hint="compare a new version against the one in production")
    _same_task(cand.manifest, champ.manifest)
    criteria = cmp.Criteria.declared(cand.manifest,
                                     criteria=[cmp.parse_criterion(c) for c in criterion],
                                     confidence=confidence, min_agreement=min_agreement,
                                     latency_p99_ms=latency_p99_ms)
    source = open_source(data, window=span)
    if "role" in source.raw_columns:
        result = cmp.compare_shadow(cand, champ, source, labels=labels, label_file=label_file,
                                    criteria=criteria, resamples=bootstrap, slice_by=slice_by)
    else:
        if data.is_dir() or window:
            raise BatonError(f"{data} is not a prediction log with shadow records",
                             hint="offline, give one data file both models can score")
        if label_file is not None:
            raise BatonError("--label-file is for a prediction log; a data file holds its "
                             "labels in a column", hint="use --labels COLUMN")
        result = cmp.compare_offline(load(cand, allow_pickle=allow_pickle),
                                     load(champ, allow_pickle=allow_pickle), data,
                                     labels=labels, criteria=criteria, resamples=bootstrap,
                                     latency_rows=latency_rows, slice_by=slice_by)
    receipt = result.write_receipt()
    keep_receipt(str(candidate), receipt)
    if as_json:
        print_json({"passed": result.passed, "receipt": str(receipt), **result.details()})
    else:
        print_comparison(result, receipt)
    if not result.passed:
        raise typer.Exit(1)


def _same_task(candidate: Any, champion: Any) -> None:
    a, b = candidate.interface, champion.interface
    if a.task != b.task:
        raise BatonError(f"the candidate is a {a.task} model and the champion a {b.task} one",
                         hint="only models of the same task can replace each other")
    if a.task == "classification" and a.labels and b.labels and \
            [str(v) for v in a.labels] != [str(v) for v in b.labels]:
        raise BatonError(f"the models predict different labels: {a.labels} vs {b.labels}")


def print_comparison(result: Any, receipt: Path) -> None:
    c, p = result.candidate.manifest, result.champion.manifest
    out.print(f"[bold]{c.name} {c.version}[/] (candidate) vs [bold]{p.name} {p.version}[/] "
              f"(champion) on {result.rows:,} rows of {result.data['path']}")
    if result.agreement is not None:
        out.print(f"agreement: {result.agreement:.2%}")
    if result.metrics:
        table = RichTable(title=f"metrics ({result.criteria.confidence:.0%} bootstrap "
                                f"intervals, {result.labelled:,} labelled rows)",
                          title_justify="left")
        for column in ("metric", "candidate", "champion", "difference", "interval"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for name, m in result.metrics.items():
            if "error" in m:
                table.add_row(name, "", "", "", m["error"])
                continue
            low, high = m["delta_ci"]
            table.add_row(name, f"{m['candidate']:.4f}", f"{m['champion']:.4f}",
                          f"{m['delta']:+.4f}", f"[{low:+.4f}, {high:+.4f}]")
        out.print(table)
    latency = result.latency
    if latency.get("candidate"):
        out.print("latency p50/p99: candidate "
                  f"{_fmt(latency['candidate']['p50_ms'], '.2f')}/"
                  f"{_fmt(latency['candidate']['p99_ms'], '.2f')} ms, champion "
                  f"{_fmt(latency['champion']['p50_ms'], '.2f')}/"
                  f"{_fmt(latency['champion']['p99_ms'], '.2f')} ms "
                  f"({latency.get('measured', '')})")
    for entry in result.slices:
        agreement = "" if entry["agreement"] is None else f", agreement {entry['agreement']:.1%}"
        deltas = ", ".join(f"{k} {v['delta']:+.4f}" for k, v in entry.get("metrics", {}).items())
        out.print(f"slice {entry['name']}: {entry['rows']:,} rows{agreement}"
                  + (f", {deltas}" if deltas else ""))
    for note in result.notes:
        out.print(f"[dim]note:[/] {note}")
    for check in result.checks:
        mark = "[green]pass[/]" if check["passed"] else "[bold red]FAIL[/]"
        out.print(f"{mark} {check['criterion']}: {check['detail']}")
    verdict = "[bold green]PASSED[/]" if result.passed else "[bold red]FAILED[/]"
    out.print(f"{verdict}: receipt {receipt}")
