"""Real processes: shadow candidates in their own process, uvicorn on a free loopback port,
SIGTERM under load, several workers, and Schemathesis against our own /openapi.json."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from serve_helpers import quirky_package, read_log, real_server, run, running

import modelbaton
from modelbaton.serve import ServeOptions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {
        "primary": quirky_package(folder, "threshold", cut=50.0),
        "challenger": quirky_package(folder, "challenger", cut=60.0),
        "broken": quirky_package(folder, "broken", cut=50.0, broken=True),
        "slow": quirky_package(folder, "sluggish", cut=50.0, delay=1.0),
        "paced": quirky_package(folder, "paced", cut=50.0, delay=0.02),
    }


ROWS = [{"x": float(x), "n": int(x) % 5} for x in np.linspace(30, 80, 26) if x != 13]


async def wait_for(client: httpx.AsyncClient, rows: int, timeout: float = 60) -> dict:
    """The /shadow report once the candidate has answered (or failed on) `rows` rows."""
    deadline = time.monotonic() + timeout
    while True:
        report = (await client.get("/shadow")).json()
        if report["compared_rows"] + report["errors"] >= rows or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.05)


async def shadowed(primary, candidate, logs) -> tuple[list[httpx.Response], dict]:
    """All ROWS, 5 per request, with a shadow candidate; the answers and the final report."""
    options = ServeOptions(package=str(primary), shadow=str(candidate), log_dir=str(logs))
    async with running(options) as client:
        answers = [await client.post("/predict", json=ROWS[i:i + 5])
                   for i in range(0, len(ROWS), 5)]
        return answers, await wait_for(client, len(ROWS))


def test_shadow_reports_agreement_difference_and_latency(models, tmp_path):
    primary = modelbaton.load(models["primary"])
    challenger = modelbaton.load(models["challenger"])
    frame = pd.DataFrame(ROWS)
    a, b = primary.predict_table(frame), challenger.predict_table(frame)
    agreement = float(np.mean(a["prediction"] == b["prediction"]))
    difference = float(np.mean([np.abs(a[c] - b[c]).mean()
                                for c in ("probability_0", "probability_1")]))
    logs = tmp_path / "logs"
    answers, report = run(shadowed(models["primary"], models["challenger"], logs))
    assert [p for r in answers for p in r.json()["predictions"]] == a["prediction"].tolist()
    assert report["compared_rows"] == len(ROWS) and report["errors"] == 0
    assert report["agreement_rate"] == pytest.approx(agreement)
    assert 0 < agreement < 1
    assert report["mean_abs_difference"] == pytest.approx(difference)
    assert report["candidate"]["name"] == "challenger" and report["primary"]["name"] == "threshold"
    assert report["latency_ms"]["primary"]["calls"] == len(answers)
    assert report["latency_ms"]["shadow"]["calls"] == len(answers)
    log = read_log(logs)
    shadow = log[log.role == "shadow"].set_index(["request_id", "row"])
    primary_rows = log[log.role == "primary"].set_index(["request_id", "row"])
    assert len(shadow) == len(primary_rows) == len(ROWS)
    joined = primary_rows.merge(shadow, left_index=True, right_index=True,
                                suffixes=("", "_shadow"))
    assert np.mean(joined["output.prediction"] == joined["output.prediction_shadow"]) \
        == pytest.approx(agreement)
    assert set(shadow["model_name"]) == {"challenger"}


def test_failing_candidate_never_touches_the_answers(models, tmp_path):
    logs = tmp_path / "logs"
    answers, report = run(shadowed(models["primary"], models["broken"], logs))
    expected = modelbaton.load(models["primary"]).predict(pd.DataFrame(ROWS)).tolist()
    assert all(r.status_code == 200 for r in answers)
    assert [p for r in answers for p in r.json()["predictions"]] == expected
    assert report["errors"] == len(ROWS) and report["compared_rows"] == 0
    log = read_log(logs)
    failed = log[log.role == "shadow"]
    assert len(failed) == len(ROWS)
    assert failed["error"].str.contains("candidate is broken").all()
    assert log[log.role == "primary"]["error"].isna().all()


def test_slow_candidate_answers_after_the_response(models):
    """The response is out while the candidate (1 s per call) is still working on it."""

    async def main():
        options = ServeOptions(package=str(models["primary"]), shadow=str(models["slow"]))
        async with running(options) as client:
            answer = await client.post("/predict", json=ROWS[:3])
            during = (await client.get("/shadow")).json()
            after = await wait_for(client, 3)
            return answer, during, after

    answer, during, after = run(main())
    assert answer.status_code == 200
    assert during["compared_rows"] == 0  # the response did not wait for the candidate
    assert after["compared_rows"] == 3
    latency = after["latency_ms"]
    assert latency["shadow"]["mean"] >= 1000 > latency["primary"]["mean"]


def test_a_crashed_candidate_is_restarted_and_the_answers_go_on(models, monkeypatch):
    from modelbaton.serve import shadow

    monkeypatch.setattr(shadow, "RESTART_INTERVAL_S", 0.1)

    async def main():
        options = ServeOptions(package=str(models["primary"]), shadow=str(models["challenger"]))
        async with running(options) as client:
            candidate = client.app.state.service.shadow
            killed = candidate._process.pid
            os.kill(killed, signal.SIGKILL)  # as a segfault in the candidate's library would
            first = await client.post("/predict", json=ROWS[:5])
            while candidate._process is None or candidate._process.pid == killed \
                    or candidate.status != "running":
                await asyncio.sleep(0.05)
            second = await client.post("/predict", json=ROWS[5:10])
            deadline = time.monotonic() + 60
            while (await client.get("/shadow")).json()["compared_rows"] < 5 \
                    and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return first, second, (await client.get("/shadow")).json()

    first, second, report = run(main())
    assert first.status_code == second.status_code == 200
    assert report["compared_rows"] == 5  # the restarted candidate compares again


def test_real_server_sigterm_under_load_answers_and_logs_everything(models, tmp_path):
    logs = tmp_path / "logs"
    with real_server(str(models["paced"]), "--log-dir", str(logs)) as (url, process):
        stop = threading.Event()
        results: list[tuple[str, object, float]] = []
        lock = threading.Lock()

        def client(k: int) -> None:
            with httpx.Client(timeout=30) as session:
                i = 0
                while not stop.is_set():
                    request_id = f"c{k}-{i}"
                    i += 1
                    try:
                        status: object = session.post(f"{url}/predict", json=ROWS[:2], headers={
                            "X-Request-ID": request_id}).status_code
                    except httpx.TransportError as exc:
                        status = type(exc).__name__
                    with lock:
                        results.append((request_id, status, time.monotonic()))
                    if not isinstance(status, int):
                        return

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        while len(results) < 40:
            time.sleep(0.05)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM once it has shut down gracefully: the usual exit.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        stop.set()
        for thread in threads:
            thread.join()

    answered = {rid for rid, status, _ in results if status == 200}
    assert all(status in (200, "ConnectError", "RemoteProtocolError", "ReadError")
               for _, status, _ in results)
    assert any(status == 200 and at > signalled for _, status, at in results), \
        "no request was in flight at SIGTERM"
    log = read_log(logs)
    assert not list(logs.glob(".*"))  # the last file was completed
    assert log.groupby("request_id").size().eq(2).all()  # each answered request once
    assert set(log["request_id"]) == answered  # nothing answered is missing, nothing extra


def test_a_client_told_the_address_is_answered_at_once(models):
    """`--port 0 --json` announces the address for scripts: a request sent the moment it is
    printed waits for the server to start instead of being refused. (Workers take longest
    to start; one worker's startup, a garbage collection, is the same gap, only shorter.)"""
    baton = str(Path(sys.executable).with_name("baton"))
    process = subprocess.Popen([baton, "serve", str(models["primary"]), "--port", "0",
                                "--json", "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = json.loads(process.stdout.readline())["url"]
        answer = httpx.post(f"{url}/predict", json=ROWS[:1], timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert answer.status_code == 200
    assert answer.json()["predictions"] == [0]  # x = 30 is below the cut at 50


def test_workers_share_one_view_of_the_metrics(models):
    with real_server(str(models["primary"]), "--workers", "2") as (url, _):
        with httpx.Client() as session:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(lambda _: session.post(f"{url}/predict",
                                                             json=ROWS[:1]).status_code,
                                      range(40)))
            text = session.get(f"{url}/metrics").text
    assert codes == [200] * 40
    served = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith('baton_requests_total{endpoint="/predict",status="200"}'))
    assert served == 40


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    # Numbers, an integer, a category and a nullable field; no row makes this model raise.
    path = quirky_package(tmp_path_factory.mktemp("api"), "api", more_fields=True,
                          fails_on=None)
    with real_server(str(path)) as (url, _):
        yield url, schemathesis.openapi.from_url(f"{url}/openapi.json")


def test_api_never_answers_5xx(api_schema):
    """Schemathesis against our own /openapi.json: no generated request gets a 5xx."""
    from hypothesis import given
    from schemathesis.checks import not_a_server_error

    url, schema = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/v2/models/{name}/infer"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(checks=[not_a_server_error])

        call()
    metrics = httpx.get(f"{url}/metrics").text
    answered = [line for line in metrics.splitlines()
                if line.startswith('baton_requests_total{endpoint="/predict",status="200"}')]
    assert answered and float(answered[0].rsplit(" ", 1)[1]) > 0  # real predictions made
