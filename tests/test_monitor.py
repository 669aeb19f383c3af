"""`baton monitor`: metrics over HTTP, signed webhook alerts to a real receiver, schedule."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.request
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from _predlog import write_log
from sklearn.linear_model import LogisticRegression

import modelbaton
from modelbaton.monitor import alerts
from modelbaton.monitor.drift import Thresholds
from modelbaton.monitor.grafana import dashboard, metric_names
from modelbaton.monitor.scheduler import Monitor

SECRET = "s3cret-for-tests"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"temperature": rng.normal(20 + shift, 4, n).round(2),
                         "load": rng.gamma(2, 10 + shift, n).round(2)})


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    root = tmp_path_factory.mktemp("machine")
    train = frame(2_000, 0)
    label = (train["temperature"] + train["load"] / 10 > 22).astype(int)
    model = LogisticRegression().fit(train, label)
    path = modelbaton.pack(
        model, root / "pkg", sample_input=train, name="failure", version="3",
        monitoring={"paged": "on-call (pager:ml)", "drift": {"psi_alert": 0.25}},
        retraining={"procedure": "make retrain",
                    "drift_triggers": [{"statistic": "drift_share", "above": 0.4}]})
    return modelbaton.open_package(path), model


def write_traffic(folder, package, model, data, minutes_ago, sequence):
    proba = model.predict_proba(data)
    return write_log(folder, package, {c: data[c].tolist() for c in data},
                     {"prediction": model.predict(data).tolist(),
                      "probability_0": proba[:, 0].tolist(),
                      "probability_1": proba[:, 1].tolist()},
                     [NOW - dt.timedelta(minutes=minutes_ago, seconds=i) for i in range(len(data))],
                     sequence=sequence)


class Receiver:
    """A webhook receiver on loopback that checks the HMAC signature of every alert."""

    def __init__(self, secret: str = SECRET, fail_first: int = 0):
        self.received: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= fail_first:
                    self.send_response(503)
                elif not alerts.verify_signature(body, secret,
                                                 self.headers.get(alerts.SIGNATURE_HEADER)):
                    self.send_response(401)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/baton"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def drifted_log(tmp_path, machine):
    package, model = machine
    log = tmp_path / "log"
    write_traffic(log, package, model, frame(400, 1, shift=8), minutes_ago=5, sequence=0)
    return log


def test_once_posts_a_signed_slack_compatible_alert(cli, drifted_log, machine, receiver,
                                                    monkeypatch):
    package, _ = machine
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", SECRET)
    result = cli("monitor", package.root, drifted_log, "--once", "--window", "1h",
                 "--webhook", receiver.url)
    assert result.code == 1, result.err
    assert "ALERT dataset drift" in result.out
    assert "retraining is due: drift share 100% > 40% -- procedure: make retrain" in result.err
    [payload] = receiver.received
    assert payload["event"] == "alert" and payload["model"] == "failure"
    assert payload["digest"] == package.digest and payload["rows"] == 400
    assert payload["text"].startswith(":rotating_light: *failure 3*: drift alert")
    assert "dataset drift: 100% of the inputs drifted" in payload["text"]
    assert "Procedure: make retrain" in payload["text"] and "pager:ml" in payload["text"]
    assert payload["retraining"] == {"due": True, "triggers": ["drift share 100% > 40%"],
                                     "procedure": "make retrain"}
    assert SECRET not in result.out + result.err + json.dumps(payload)


def test_a_receiver_that_rejects_the_signature_is_an_error(cli, drifted_log, machine,
                                                           monkeypatch):
    package, _ = machine
    strict = Receiver(secret="another-secret")
    try:
        monkeypatch.setenv("BATON_WEBHOOK_SECRET", SECRET)
        result = cli("monitor", package.root, drifted_log, "--once", "--webhook", strict.url)
    finally:
        strict.close()
    assert result.code == 2 and strict.attempts == 1  # a 4xx is not retried
    assert f"the webhook http://127.0.0.1:{strict.server.server_port} did not accept the " \
           "alert (HTTP 401)" in result.err
    assert "/hooks/baton" not in result.err  # the URL's path may hold a token: never printed


def test_webhook_needs_a_secret_and_a_url(cli, drifted_log, machine, monkeypatch):
    package, _ = machine
    monkeypatch.delenv("BATON_WEBHOOK_SECRET", raising=False)
    result = cli("monitor", package.root, drifted_log, "--once", "--webhook",
                 "http://127.0.0.1:9/x")
    assert result.code == 2 and "--webhook needs a signing secret in $BATON_WEBHOOK_SECRET" \
        in result.err
    monkeypatch.setenv("BATON_WEBHOOK_SECRET", SECRET)
    result = cli("monitor", package.root, drifted_log, "--once", "--webhook", "ftp://x/y")
    assert result.code == 2 and "is not an http(s) URL" in result.err
    result = cli("monitor", package.root, drifted_log.parent / "no-log", "--once")
    assert result.code == 2 and "does not exist" in result.err
    result = cli("monitor", package.root, drifted_log, "--every", "0m", "--once")
    assert result.code == 2 and "--every '0m' is not a duration" in result.err


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("baton_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_alert_once_then_resolve(tmp_path, drifted_log, machine, receiver,
                                         monkeypatch):
    package, model = machine
    monkeypatch.setattr(alerts, "BACKOFF_S", 0.01)
    said = []
    monitor = Monitor(package, drifted_log, dt.timedelta(hours=1), webhook=receiver.url,
                      secret=SECRET, say=said.append,
                      thresholds=Thresholds.declared(package.manifest.monitoring))
    server = monitor.serve_metrics(0)
    try:
        report = monitor.run_once(now=NOW)
        monitor.run_once(now=NOW)  # still alerting: not posted again
        metrics = scrape(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
    labels = 'model="failure",role="input",version="3"'
    temperature = next(f for f in report.features if f.name == "temperature")
    assert metrics[f'baton_drift_psi{{feature="temperature",{labels}}}'] == \
        pytest.approx(temperature.psi)
    assert metrics[f'baton_drift_status{{feature="temperature",{labels}}}'] == 2
    assert 'baton_drift_psi{feature="prediction",model="failure",role="output",version="3"}' \
        in metrics
    assert metrics['baton_drift_alert{model="failure",version="3"}'] == 1
    assert metrics['baton_drift_window_rows{model="failure",version="3"}'] == 400
    assert metrics['baton_retraining_due{model="failure",version="3"}'] == 1
    assert metrics['baton_monitor_runs_total{model="failure",version="3"}'] == 2
    assert [p["event"] for p in receiver.received] == ["alert"]
    # Two hours on, the window holds no traffic: the alert resolves, and says so once.
    later = monitor.run_once(now=NOW + dt.timedelta(hours=2))
    assert later.rows == 0 and not later.alert
    assert [p["event"] for p in receiver.received] == ["alert", "resolved"]
    assert receiver.received[1]["text"].startswith(":white_check_mark: *failure 3*")


def test_delivery_is_retried_then_the_next_run_tries_again(drifted_log, machine,
                                                           monkeypatch):
    package, _ = machine
    monkeypatch.setattr(alerts, "BACKOFF_S", 0.01)
    flaky = Receiver(fail_first=3)  # down for the three attempts of the first run
    try:
        monitor = Monitor(package, drifted_log, dt.timedelta(hours=1), webhook=flaky.url,
                          secret=SECRET, say=lambda text: None)
        with pytest.raises(alerts.DeliveryError, match=r"HTTP 503"):
            monitor.run_once(now=NOW)
        assert flaky.attempts == 3 and not flaky.received
        monitor.run_once(now=NOW)  # back up: the alert that was not delivered goes now
        assert flaky.attempts == 4 and [p["event"] for p in flaky.received] == ["alert"]
    finally:
        flaky.close()


def test_the_schedule_runs_and_serves_metrics_from_the_command_line(cli, drifted_log,
                                                                    machine):
    package, _ = machine
    result = cli("monitor", package.root, drifted_log, "--every", "1s", "--runs", "2",
                 "--port", "0")
    assert result.code == 0, result.err
    assert "serving metrics on http://127.0.0.1:" in result.out
    assert result.err.count("400 rows, 100% of the inputs drifted: ALERT") == 2


def test_grafana_dashboard_queries_the_metrics_we_export(cli, tmp_path, machine, drifted_log):
    result = cli("monitor", "--grafana", tmp_path / "board.json")
    assert result.code == 0
    board = json.loads((tmp_path / "board.json").read_text())
    assert board == json.loads(json.dumps(dashboard()))
    # The copy in docs/ is what people browsing the repository import: it must be current.
    committed = Path(__file__).parent.parent / "docs" / "grafana" / "baton-dashboard.json"
    assert json.loads(committed.read_text()) == board, \
        "regenerate it: baton monitor --grafana docs/grafana/baton-dashboard.json"
    assert {p["type"] for p in board["panels"]} >= {"row", "timeseries", "stat", "table"}
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
    package, _ = machine
    monitor = Monitor(package, drifted_log, dt.timedelta(hours=1))
    exported = {family.name + ("_total" if family.type == "counter" else "")
                for family in monitor.registry.collect()}
    drift_queries = {n for n in metric_names(board) if n.startswith(("baton_drift",
                                                                     "baton_retraining",
                                                                     "baton_monitor"))}
    assert drift_queries and drift_queries <= exported
    # The serving panels query what `baton serve` exports, by the names Prometheus shows.
    from modelbaton.serve.metrics import Metrics

    served = set()
    for family in Metrics(labels=[0, 1]).registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        served |= {family.name + s for s in suffixes.get(family.type, [""])}
    serving = metric_names(board) - drift_queries
    assert {"baton_requests_total", "baton_request_duration_seconds_bucket",
            "baton_shadow_agreeing_rows_total"} <= serving <= served
