"""`baton verify` against `mlflow models predict --env-manager uv`, side by side.

    .venv/bin/python benchmarks/verify.py [--runs 3]

The same model on both sides: StandardScaler + RandomForest(50 trees) trained on the
breast-cancer data of scikit-learn. MLflow saves it with `mlflow.sklearn.save_model` and
`mlflow models predict --env-manager uv` scores the 20 golden rows in the environment it
builds from the model's requirements (it only prints predictions). Baton packs it and
`baton verify` rebuilds the environment from the lock with uv, checks every digest, loads
the package there, replays the 20 golden rows and compares every output, and writes a
receipt.

Cold: empty caches on both sides (a fresh uv cache for MLflow, a fresh BATON_HOME for
Baton). Warm: the same command again with the caches in place. MLflow builds a new
environment in a temporary folder on every call (from the warm uv cache); Baton reuses the
environment it sealed for the same lock, so `baton verify --fresh` (rebuild it from the warm
wheel cache, as MLflow does) is measured too.
MLflow runs in its own virtual environment under benchmarks/.work/mlflow (created on first
use), since its pins conflict with ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "verify"
PEER_VENV = HERE / ".work" / "mlflow"
BATON = Path(sys.executable).with_name("baton")

TRAIN = """
import sys
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

data = load_breast_cancer(as_frame=True)
X = data.data.rename(columns=lambda c: c.replace(" ", "_"))
model = make_pipeline(StandardScaler(), RandomForestClassifier(50, random_state=0))
model.fit(X, data.target)
X.iloc[::28].head(20).to_csv(sys.argv[2], index=False)
"""

PEER_SAVE = TRAIN + """
import mlflow.sklearn
mlflow.sklearn.save_model(model, sys.argv[1], input_example=X.head(3),
                         skops_trusted_types=["sklearn.tree._tree.Tree"])
"""

BATON_PACK = TRAIN + """
import modelbaton
modelbaton.pack(model, sys.argv[1], sample_input=X, name="breast-cancer", version="1.0",
                overwrite=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm runs of each side")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    peer_python = ensure_peer()
    inputs = WORK / "input.csv"
    run([str(peer_python), "-c", PEER_SAVE, str(WORK / "mlflow-model"), str(inputs)])
    run([sys.executable, "-c", BATON_PACK, str(WORK / "baton-pkg"), str(inputs)])

    peer_env = {**os.environ, "UV_CACHE_DIR": str(WORK / "mlflow-uv-cache"),
                # mlflow calls `uv`: ours, on PATH
                "PATH": f"{BATON.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    peer = [str(peer_python.with_name("mlflow")), "models", "predict", "-m",
            str(WORK / "mlflow-model"), "-i", str(inputs), "-t", "csv", "--env-manager", "uv"]
    ours_env = {**os.environ, "BATON_HOME": str(WORK / "baton-home")}
    ours = [str(BATON), "verify", str(WORK / "baton-pkg")]

    print(f"machine: {cpu()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (shared with other work: timings are noisy)")
    results = {"mlflow cold": timed(peer, peer_env), "baton cold": timed(ours, ours_env)}
    runs: dict[str, list[float]] = {"mlflow warm": [], "baton warm": [],
                                    "baton warm --fresh": []}
    for _ in range(args.runs):  # interleaved, so every side sees the same machine load
        runs["mlflow warm"].append(timed(peer, peer_env))
        runs["baton warm"].append(timed(ours, ours_env))
        runs["baton warm --fresh"].append(timed([*ours, "--fresh"], ours_env))
    results.update({f"{name} (median)": statistics.median(times)
                    for name, times in runs.items()})
    for name, seconds in results.items():
        print(f"{name:<28} {seconds:7.2f} s")
    for name, times in runs.items():
        print(f"{name} runs: {', '.join(f'{s:.2f}' for s in times)} s")
    peer = results["mlflow warm (median)"]
    print(f"warm: baton verify is {peer / results['baton warm (median)']:.1f}x faster than "
          f"mlflow models predict (goal >= 4x); with --fresh "
          f"{peer / results['baton warm --fresh (median)']:.1f}x; cold "
          f"{results['mlflow cold'] / results['baton cold']:.1f}x")


def ensure_peer() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        uv = Path(sys.executable).with_name("uv")
        run([str(uv), "venv", "-q", "-p", f"{sys.version_info[0]}.{sys.version_info[1]}",
             str(PEER_VENV)])
        run([str(uv), "pip", "install", "-q", "--compile-bytecode", "--python", str(python),
             "mlflow", "scikit-learn", "pandas"])
    return python


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    run(argv, env)
    return time.perf_counter() - started


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
