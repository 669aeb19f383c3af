"""What the MLflow bridge costs the team that serves with MLflow.

The same scikit-learn model is served two ways through `mlflow.pyfunc.load_model`:
natively (MLflow's sklearn flavor, skops) and as `baton export mlflow` writes it (Baton's
loader: digest checks on load; on predict, interface validation and every output column,
i.e. the prediction *and* the class probabilities, where MLflow returns the prediction only).
Two models: a logistic regression, where the model is cheap and Baton's own work shows,
and a 100-tree random forest, where the model dominates.
Printed: load time, single-row latency, batch throughput, and Baton/MLflow ratios.

    .venv/bin/python benchmarks/mlflow_bridge.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="single-row predictions")
    args = parser.parse_args()

    import mlflow
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modelbaton.bridges.mlflow import export_model, import_model

    data = load_breast_cancer(as_frame=True)
    X = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    batch = pd.concat([X] * 4, ignore_index=True).head(2000)
    models = {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "random forest (100 trees)": make_pipeline(StandardScaler(),
                                                   RandomForestClassifier(100, random_state=0)),
    }
    for title, model in models.items():
        model.fit(X, data.target)
        with tempfile.TemporaryDirectory() as tmp:
            native = Path(tmp) / "native"
            mlflow.sklearn.save_model(model, native, input_example=X.head(5),
                                      skops_trusted_types=["sklearn.tree._tree.Tree"],
                                      pip_requirements=["scikit-learn", "skops"])
            package = import_model(native, Path(tmp) / "pkg", name="cancer", version="1").path
            exported = Path(tmp) / "exported"
            export_model(package, exported)
            rows = [measure(label, folder, X.head(1), batch, args.rounds)
                    for label, folder in (("mlflow", native), ("baton", exported))]
        report(title, rows)


def measure(label: str, folder: Path, one, batch, rounds: int) -> tuple:
    import mlflow

    load = statistics.median(timed(
        lambda: mlflow.pyfunc.load_model(str(folder), suppress_warnings=True), 5))
    served = mlflow.pyfunc.load_model(str(folder), suppress_warnings=True)
    served.predict(one)
    single = sorted(timed(lambda: served.predict(one), rounds))
    whole = statistics.median(timed(lambda: served.predict(batch), 5))
    return label, load, single[len(single) // 2], single[int(len(single) * .99)], \
        len(batch) / whole


def report(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    print(f"{'':8}{'load s':>10}{'p50 ms':>10}{'p99 ms':>10}{'rows/s (2000)':>16}")
    for label, load, p50, p99, rps in rows:
        print(f"{label:8}{load:10.3f}{p50 * 1e3:10.2f}{p99 * 1e3:10.2f}{rps:16.0f}")
    (_, ml, m50, m99, mr), (_, bl, b50, b99, br) = rows
    print(f"{'ratio':8}{bl / ml:10.2f}{b50 / m50:10.2f}{b99 / m99:10.2f}{br / mr:16.2f}"
          "   (baton / mlflow; for rows/s higher is better)")


if __name__ == "__main__":
    main()
