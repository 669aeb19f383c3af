"""`modelbaton.load` + first predict against loading the same model with skops directly.

    .venv/bin/python benchmarks/load_predict.py [--repeat 9] [--trees 200]

Target (issue 2): within 10% of the library's own load + predict. Each measurement is a
fresh Python process (a receiving service starting cold: interpreter, imports, load,
first prediction on 100 rows read from a CSV), timed from outside; the two sides
alternate so a neighbour's load on a shared machine hits both alike; medians reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "load_predict"
# Both sides start from cached bytecode, as an installed wheel does: with
# PYTHONDONTWRITEBYTECODE set, an editable install would compile Baton's own modules in
# every process (about 0.5 s) while the libraries' bytecode was compiled at install.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

BASELINE = """
import sys, time
start = time.perf_counter()
import pandas as pd
import skops.io as sio
model = sio.load(sys.argv[1], trusted=sys.argv[3].split(","))
frame = pd.read_csv(sys.argv[2])
model.predict(frame)
print(time.perf_counter() - start)
"""

BATON = """
import sys, time
start = time.perf_counter()
import pandas as pd
import modelbaton
predictor = modelbaton.load(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
predictor.predict(frame)
print(time.perf_counter() - start)
"""


def build(trees: int) -> tuple[Path, Path, list[str]]:
    """The demo's kind of model: a scikit-learn pipeline on the breast-cancer data."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import modelbaton

    data = load_breast_cancer(as_frame=True)
    X = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    model = make_pipeline(ColumnTransformer([("num", StandardScaler(), list(X.columns))]),
                          RandomForestClassifier(trees, random_state=0)).fit(X, data.target)
    package = modelbaton.pack(model, WORK / f"package-{trees}", sample_input=X,
                              name="biopsy", version="1", overwrite=True)
    rows = WORK / "rows.csv"
    X.head(100).to_csv(rows, index=False)
    trusted = modelbaton.open_package(package).manifest.model.trusted_types
    return package, rows, trusted


def run(script: str, *args: str) -> tuple[float, float, float]:
    """Seconds of the whole process (wall, and CPU: steadier on a shared machine), and
    from its first line to the prediction."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *args], check=True,
                          capture_output=True, text=True, env=CHILD_ENV)
    wall = time.perf_counter() - start
    return wall, _children_cpu() - cpu, float(done.stdout.strip().splitlines()[-1])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    package, rows, trusted = build(args.trees)
    artifact = package / "model" / "model.skops"
    sides = {
        "skops.io.load + predict (baseline)": (BASELINE, str(artifact), str(rows),
                                               ",".join(trusted)),
        "modelbaton.load + predict": (BATON, str(package), str(rows)),
    }
    for script, *argv in sides.values():  # warm the page cache and bytecode caches
        run(script, *argv)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    for _ in range(args.repeat):
        for name, (script, *argv) in sides.items():
            results[name].append(run(script, *argv))

    figures = {name: {key: statistics.median(run[k] for run in runs)
                      for k, key in enumerate(("process_s", "cpu_s", "in_process_s"))}
               for name, runs in results.items()}
    base, ours = (figures[name] for name in sides)
    ratio = ours["process_s"] / base["process_s"]
    cpu_ratio = ours["cpu_s"] / base["cpu_s"]
    if args.json:
        print(json.dumps({"figures": figures, "ratio": ratio, "cpu_ratio": cpu_ratio},
                         indent=2))
        return
    size = artifact.stat().st_size
    print(f"RandomForest({args.trees}) pipeline, artifact {size / 2**20:.1f} MiB, first "
          f"predict on 100 rows; median of {args.repeat} fresh processes")
    print(f"{'':38} {'process s':>10} {'CPU s':>7} {'imports+load+predict s':>23}")
    for name, f in figures.items():
        print(f"{name:38} {f['process_s']:10.3f} {f['cpu_s']:7.3f} {f['in_process_s']:23.3f}")
    print(f"\nmodelbaton takes {ratio:.1%} of the baseline's wall time and {cpu_ratio:.1%} of "
          f"its CPU time (target <= 110%): {'PASS' if ratio <= 1.10 else 'FAIL'}")


if __name__ == "__main__":
    main()
