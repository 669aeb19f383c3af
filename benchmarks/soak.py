"""Soak: `baton serve` under wrk at concurrency 16 for 5 minutes, with the prediction log on.

Checks what a long run must not do: answer with errors, grow its memory (RSS growth after
warm-up under 10%), or lose log records (every answered request logged exactly once, the
last file completed on SIGTERM). Same model as benchmarks/serve.py.

    python benchmarks/soak.py                 # 300 s
    python benchmarks/soak.py --duration 60
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import WORK, free_port, parse_wrk, setup_baton, wait_ready

WARM_UP_S = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    rows = json.loads(subprocess.run(
        [sys.executable, "-c", "from sklearn.datasets import load_breast_cancer as l; "
         "X = l(as_frame=True).data.rename(columns=lambda c: c.replace(' ', '_')); "
         "print(X.head(1).to_json(orient='records'))"], capture_output=True, text=True,
        check=True).stdout)
    setup_baton(rows)  # builds the package if needed
    package = WORK / "serve-baton-pkg"
    logs = WORK / "soak-logs"
    if logs.exists():
        for old in logs.iterdir():
            old.unlink()
    port = free_port()
    baton = str(Path(sys.executable).with_name("baton"))
    server = subprocess.Popen([baton, "serve", str(package), "--port", str(port), "--log-dir",
                               str(logs), "--log-roll-seconds", "60"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = wait_ready(f"http://127.0.0.1:{port}", "/v2/health/ready", server)
    (WORK / "body.json").write_text(json.dumps(rows))
    script = WORK / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f'local f = io.open("{WORK / "body.json"}", "r")\n'
                      'wrk.body = f:read("*a")\nf:close()\n')

    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample_rss() -> None:
        started = time.monotonic()
        while not done.wait(5):
            samples.append((time.monotonic() - started, rss_mb(server.pid)))

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    out = subprocess.run(["wrk", "-t2", f"-c{args.concurrency}", f"-d{args.duration}s",
                          "--latency", "--timeout", "10s", "-s", str(script),
                          f"{url}/predict"], capture_output=True, text=True, check=True).stdout
    done.set()
    result = parse_wrk(out)
    # wrk stops with requests still in flight; the server finishes them after it exits.
    # Read the counters once they stop moving, so they include those requests too.
    answered, metrics = -1.0, ""
    for _ in range(40):
        time.sleep(0.5)
        metrics = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
        count = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if
                    line.startswith('baton_requests_total{endpoint="/predict",status="200"}'))
        if count == answered:
            break
        answered = count
    dropped = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("baton_prediction_log_dropped_records_total"))
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=120)

    import pyarrow.parquet as pq

    files = sorted(logs.glob("predictions-*.parquet"))
    ids = [i for f in files for i in pq.read_table(f, columns=["request_id"])
           .column(0).to_pylist()]
    leftovers = [p.name for p in logs.iterdir() if p.name.startswith(".")]
    after_warm_up = [mb for t, mb in samples if t >= WARM_UP_S] or [mb for _, mb in samples]
    growth = (after_warm_up[-1] - after_warm_up[0]) / after_warm_up[0] * 100

    print(f"wrk: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
          f"p99 {result['p99_ms']:.2f} ms, errors {result['errors']:.0f} of "
          f"{result['requests']:.0f}")
    print(f"RSS after {WARM_UP_S} s warm-up: {after_warm_up[0]:.1f} MB -> "
          f"{after_warm_up[-1]:.1f} MB at the end ({growth:+.1f}%), max "
          f"{max(mb for _, mb in samples):.1f} MB")
    print(f"answered (server) {answered:.0f}; logged rows {len(ids)} in {len(files)} files; "
          f"unique request ids {len(set(ids))}; dropped {dropped:.0f}; "
          f"half-written files left: {len(leftovers)}")
    ok = (result["errors"] == 0 and growth < 10 and len(ids) == len(set(ids)) == answered
          and not leftovers)
    print("PASS" if ok else "FAIL")
    (WORK / "soak-results.json").write_text(json.dumps({
        "wrk": result, "rss_mb": samples, "rss_growth_pct": growth, "answered": answered,
        "logged": len(ids), "unique_ids": len(set(ids)), "files": len(files),
        "dropped": dropped, "ok": ok}, indent=2))
    sys.exit(0 if ok else 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
