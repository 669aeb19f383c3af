"""`baton serve` against `mlflow models serve` and BentoML, side by side, with wrk.

The same model everywhere: StandardScaler + RandomForest(50 trees, random_state=0) on the
breast-cancer data, one worker each, 1-row JSON requests, concurrency 1, 16 and 64.
The peers run from their own virtual environments under benchmarks/.work/ (created on
first use with uv); wrk comes from Debian (`apt-get install wrk`).
`floor` is no model server: a bare Starlette app under uvicorn with baton's settings,
parsing the body and answering a fixed prediction, so the cost of HTTP itself on this
machine is measured in the same run.

    python benchmarks/serve.py                    # all servers, 10 s per level
    python benchmarks/serve.py --only baton,floor --duration 5

Prints one table and the ratios, and writes benchmarks/.work/serve-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEERS = {
    "mlflow": ["mlflow==3.17.*"],
    "bentoml": ["bentoml==1.4.39"],
}

TRAIN = '''
import numpy as np, pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

data = load_breast_cancer(as_frame=True)
X = data.data.rename(columns=lambda c: c.replace(" ", "_"))
y = data.target
def fitted(features):
    return make_pipeline(StandardScaler(), RandomForestClassifier(50, random_state=0)).fit(
        features, y)
'''

BENTO_SERVICE = '''
import bentoml
import numpy as np


@bentoml.service(workers=1, traffic={"timeout": 30})
class Cancer:
    def __init__(self):
        self.model = bentoml.sklearn.load_model("cancer:latest")

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=100)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.model.predict(input)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--only", default="baton,floor,mlflow,bentoml")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    WORK.mkdir(exist_ok=True)
    servers = args.only.split(",")
    rows = json.loads(run_python(sys.executable, TRAIN + "print(X.head(1).to_json("
                                                        "orient='records'))"))
    results: dict[str, dict[int, dict[str, float]]] = {}
    before = model_predict_ms()
    for name in servers:
        start, path, body = SETUP[name](rows)
        process, url = start()
        try:
            results[name] = {}
            warm(url + path, body)
            single = name in ("baton", "floor")  # one process: its CPU time is the server's
            for c in args.concurrency:
                before_run = scrape(url) if name == "baton" else {}
                cpu_before = cpu_seconds(process.pid) if single else 0.0
                results[name][c] = wrk(url + path, body, c, args.duration)
                if single:
                    results[name][c]["cpu_ms"] = ((cpu_seconds(process.pid) - cpu_before)
                                                  * 1000 / max(results[name][c]["requests"], 1))
                if name == "baton":
                    results[name][c].update(overhead(before_run, scrape(url)))
                print(f"{name:8s} c={c:<3d} {fmt(results[name][c])}", flush=True)
        finally:
            stop(process)
    # On a shared machine the model's own time drifts: measured before and after the
    # servers, the lower of the two is the fairer reference.
    after = model_predict_ms()
    own = {k: min(before[k], after[k]) for k in before}
    print(f"model's own predict (in process, median of 200): {before['1']:.2f} / "
          f"{after['1']:.2f} ms for 1 row before / after, {before['64']:.2f} / "
          f"{after['64']:.2f} ms for 64 rows")
    report(results, own)
    (WORK / "serve-results.json").write_text(json.dumps(
        {"model_predict_ms": {"before": before, "after": after}, "servers": results},
        indent=2))


# --- the servers -------------------------------------------------------------------------


def setup_baton(rows: list[dict]) -> tuple:
    package = WORK / "serve-baton-pkg"
    if not (package / "baton.yaml").exists():
        run_python(sys.executable, TRAIN + f'''
import modelbaton
modelbaton.pack(fitted(X.to_numpy()), {str(package)!r}, sample_input=X, name="cancer",
                version="1")
''')
    baton = str(Path(sys.executable).with_name("baton"))

    def start():
        port = free_port()
        process = subprocess.Popen([baton, "serve", str(package), "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env={**os.environ, "BATON_HOME": str(WORK / "baton-home")})
        return process, wait_ready(f"http://127.0.0.1:{port}", "/v2/health/ready", process)

    return start, "/predict", json.dumps(rows)


def setup_mlflow(rows: list[dict]) -> tuple:
    python = peer_python("mlflow")
    model = WORK / "serve-mlflow-model"
    if not (model / "MLmodel").exists():
        shutil.rmtree(model, ignore_errors=True)
        run_python(python, TRAIN + f'''
import mlflow.sklearn
mlflow.sklearn.save_model(fitted(X), {str(model)!r}, input_example=X.head(2),
                          skops_trusted_types=["sklearn.tree._tree.Tree"])
''')

    def start():
        port = free_port()
        process = subprocess.Popen(
            [str(Path(python).with_name("mlflow")), "models", "serve", "-m", str(model),
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=venv_env(python))
        return process, wait_ready(f"http://127.0.0.1:{port}", "/ping", process)

    columns = list(rows[0])
    body = {"dataframe_split": {"columns": columns, "data": [[rows[0][c] for c in columns]]}}
    return start, "/invocations", json.dumps(body)


def setup_bentoml(rows: list[dict]) -> tuple:
    python = peer_python("bentoml")
    home = WORK / "serve-bentoml-home"
    service = WORK / "serve-bentoml"
    env = {**venv_env(python), "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"}
    if not (service / "service.py").exists():
        shutil.rmtree(service, ignore_errors=True)
        run_python(python, TRAIN + '''
import bentoml
bentoml.sklearn.save_model("cancer", fitted(X.to_numpy()))
''', env=env)
        service.mkdir()
        (service / "service.py").write_text(textwrap.dedent(BENTO_SERVICE))

    def start():
        port = free_port()
        process = subprocess.Popen(
            [str(Path(python).with_name("bentoml")), "serve", "service:Cancer", "--port",
             str(port), "--host", "127.0.0.1"], cwd=service, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return process, wait_ready(f"http://127.0.0.1:{port}", "/readyz", process)

    return start, "/predict", json.dumps({"input": [list(rows[0].values())]})


FLOOR = '''
import sys
import orjson, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from modelbaton.serve.server import SWITCH_INTERVAL_S


async def predict(request):
    rows = orjson.loads(await request.body())
    return Response(orjson.dumps({"id": "0" * 32, "model_name": "cancer", "model_version": "1",
                                  "predictions": [0] * len(rows)}),
                    media_type="application/json")


async def ready(request):
    return Response(b"{}", media_type="application/json")


sys.setswitchinterval(SWITCH_INTERVAL_S)
app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/ready", ready)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False,
            server_header=False, proxy_headers=False, log_level="warning")
'''


def setup_floor(rows: list[dict]) -> tuple:
    """HTTP alone: what `baton serve` cannot go below on this machine."""
    def start():
        port = free_port()
        process = subprocess.Popen([sys.executable, "-c", FLOOR, str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return process, wait_ready(f"http://127.0.0.1:{port}", "/ready", process)

    return start, "/predict", json.dumps(rows)


SETUP = {"baton": setup_baton, "floor": setup_floor, "mlflow": setup_mlflow,
         "bentoml": setup_bentoml}


def venv_env(python: str) -> dict[str, str]:
    """The environment with the peer's venv first on PATH (its servers exec `uvicorn`)."""
    return {**os.environ, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}"}


def peer_python(name: str) -> str:
    venv = WORK / name
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "uv"], check=True)
    if subprocess.run([str(python), "-c", f"import {name}, pandas, sklearn"],
                      capture_output=True).returncode:
        sklearn = subprocess.run([sys.executable, "-c", "import sklearn; print(sklearn."
                                  "__version__)"], capture_output=True, text=True).stdout
        subprocess.run([str(venv / "bin" / "uv"), "pip", "install", "-q", "--python",
                        str(python), *PEERS[name], f"scikit-learn=={sklearn.strip()}",
                        "pandas"], check=True)
    return str(python)


# --- measuring ---------------------------------------------------------------------------


def model_predict_ms() -> dict[str, float]:
    code = TRAIN + '''
import time, json
model = fitted(X.to_numpy())
def median_ms(rows):
    batch = X.to_numpy()[:rows]
    times = []
    for _ in range(200):
        started = time.perf_counter()
        model.predict(batch)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2]
print(json.dumps({"1": median_ms(1), "64": median_ms(64)}))
'''
    return json.loads(run_python(sys.executable, code))


def wrk(url: str, body: str, connections: int, duration: int) -> dict[str, float]:
    script = WORK / "post.lua"
    (WORK / "body.json").write_text(body)
    script.write_text(textwrap.dedent(f'''
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        local f = io.open("{WORK / 'body.json'}", "r")
        wrk.body = f:read("*a")
        f:close()
    '''))
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
                          "--latency", "--timeout", "10s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict[str, float]:
    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    result: dict[str, float] = {}
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}_ms"] = ms(match.group(1)) if match else float("nan")
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = float(total.group(1)) if total else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        out)
    result["errors"] = float((int(non2xx.group(1)) if non2xx else 0)
                             + (sum(map(int, sockets.groups())) if sockets else 0))
    return result


def scrape(url: str) -> dict[str, float]:
    """The /predict request and model-call time sums and counts from baton's /metrics."""
    wanted = {'baton_request_duration_seconds_sum{endpoint="/predict"}': "request_s",
              'baton_request_duration_seconds_count{endpoint="/predict"}': "requests",
              'baton_model_latency_seconds_sum{role="primary"}': "model_s",
              'baton_model_latency_seconds_count{role="primary"}': "calls"}
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key in wanted:
            found[wanted[key]] = float(value)
    return found


def overhead(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Inside the server, per request: time answering it and time in the model call.

    The difference is what the server adds (parsing, validation, batching, JSON), measured
    in one process at one time, so the shared machine's drift cancels out.
    """
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    if not d.get("requests") or not d.get("calls"):
        return {}
    return {"server_ms": d["request_s"] / d["requests"] * 1000,
            "model_call_ms": d["model_s"] / d["calls"] * 1000,
            "rows_per_call": d["requests"] / d["calls"]}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm(url: str, body: str) -> None:
    for _ in range(20):
        request = urllib.request.Request(url, data=body.encode(), headers={
            "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, response.status


def fmt(r: dict[str, float]) -> str:
    inside = (f"  [in server: {r['server_ms']:.2f} ms per request, model call "
              f"{r['model_call_ms']:.2f} ms, {r['rows_per_call']:.1f} requests per call]"
              if "server_ms" in r else "")
    inside += f"  [CPU {r['cpu_ms']:.2f} ms per request]" if "cpu_ms" in r else ""
    return (f"{r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
            f"errors {r['errors']:.0f} of {r['requests']:.0f}{inside}")


def report(results: dict[str, dict[int, dict[str, float]]], own: dict[str, float]) -> None:
    print("\n| server | concurrency | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for name, levels in results.items():
        for c, r in levels.items():
            print(f"| {name} | {c} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{r['errors']:.0f} of {r['requests']:.0f} |")
    baton = results.get("baton", {})
    if 1 in baton:
        print(f"\nbaton c=1 p50 - model's own predict: {baton[1]['p50_ms'] - own['1']:+.2f} ms")
        if "server_ms" in baton[1]:
            print(f"baton c=1 inside the server: request {baton[1]['server_ms']:.2f} ms - model "
                  f"call {baton[1]['model_call_ms']:.2f} ms = "
                  f"{baton[1]['server_ms'] - baton[1]['model_call_ms']:+.2f} ms added")
        floor = results.get("floor", {}).get(1)
        if floor and "model_call_ms" in baton[1]:
            # The model call as the server timed it, so the machine's drift cancels out.
            rest = baton[1]["p50_ms"] - floor["p50_ms"] - baton[1]["model_call_ms"]
            print(f"baton c=1 p50 {baton[1]['p50_ms']:.2f} ms = HTTP floor {floor['p50_ms']:.2f}"
                  f" + model call {baton[1]['model_call_ms']:.2f} + baton {rest:+.2f} ms")
    for name, levels in results.items():
        if name in ("baton", "floor"):
            continue
        for c, r in levels.items():
            if c in baton and r["rps"]:
                print(f"baton / {name} at c={c}: {baton[c]['rps'] / r['rps']:.1f}x req/s")


# --- plumbing ----------------------------------------------------------------------------


def run_python(python: str, code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{python} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, path: str, process: subprocess.Popen, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                if response.status == 200:
                    return url
        except OSError:
            pass
        time.sleep(0.3)
    stop(process)
    sys.exit(f"server at {url} not ready after {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the server (and its process group, for servers that fork workers)."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


if __name__ == "__main__":
    main()
