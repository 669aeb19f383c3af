"""`baton demo`: the whole handoff, told as the commands a user would type.

A data scientist trains a real scikit-learn pipeline on the breast-cancer data that ships
with scikit-learn, with the feature code in its own module, and packs it with the human
sections filled in; the receiving engineer inspects it, loads it and scores new data. Every
step prints the command and runs exactly that command, so the demo is also the tutorial.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ..contract.errors import BatonError
from ._common import out

MARKER = ".baton-demo"
PACKAGE = "biopsy-triage-1.0.0"

FEATURES_PY = '''\
"""Feature code for the biopsy triage model: applied in training and at inference."""

import numpy as np
import pandas as pd

RAW = ["radius_mean", "texture_mean", "perimeter_mean", "area_mean", "smoothness_mean",
       "compactness_mean", "concavity_mean", "concave_points_mean", "symmetry_mean",
       "fractal_dimension_mean"]


def transform(df: pd.DataFrame) -> pd.DataFrame:
    """Log-scale the size measures and add shape ratios the pathologists asked for."""
    out = df.copy()
    for column in ("area_mean", "perimeter_mean", "radius_mean"):
        out[column] = np.log1p(out[column])
    out["compactness_ratio"] = df["perimeter_mean"] ** 2 / df["area_mean"]
    out["concavity_x_points"] = df["concavity_mean"] * df["concave_points_mean"]
    return out
'''

TRAIN_PY = '''\
"""Train the biopsy triage model and pack it for the handoff."""

import sys

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelbaton
from features import transform

n_trees = int(sys.argv[1]) if len(sys.argv) > 1 else 50
version = sys.argv[2] if len(sys.argv) > 2 else "1.0.0"

train = pd.read_csv("data/train.csv")
holdout = pd.read_csv("data/holdout.csv")
X, y = train.drop(columns="malignant"), train["malignant"]
model = make_pipeline(StandardScaler(), RandomForestClassifier(n_trees, random_state=0))
model.fit(transform(X), y)
auc = roc_auc_score(holdout["malignant"],
                    model.predict_proba(transform(holdout.drop(columns="malignant")))[:, 1])
print(f"trained {n_trees} trees: holdout ROC AUC {auc:.4f}")

modelbaton.pack(
    model, f"biopsy-triage-{version}", name="biopsy-triage", version=version,
    sample_input=X, code="features.py", preprocessing="features:transform",
    training_data="data/train.csv", evaluation_data="data/holdout.csv",
    handoff="baton.yaml", overwrite=True,
    evaluation={"metrics": [{
        "name": "roc_auc", "value": round(auc, 4), "dataset": "evaluation",
        "business_meaning": "chance a malignant biopsy is ranked above a benign one; below "
                            "0.95 the triage queue stops saving pathologist time",
        "threshold": 0.95}]},
)
print(f"packed biopsy-triage-{version}")
'''

SCORE_PY = '''\
"""Score new biopsies with the handed-over package, as the serving team's code would."""

import pandas as pd

import modelbaton

predictor = modelbaton.load("biopsy-triage-1.0.0")  # checks every file digest first
new = pd.read_csv("data/new_biopsies.csv")
print(predictor.predict_table(new.head(5))["probability_1"].round(3))
'''

HANDOFF_YAML = '''\
apiVersion: baton/v1
name: biopsy-triage
version: "1.0.0"
description: >-
  Ranks incoming fine-needle biopsies by the probability that they are malignant, so the
  pathology lab reads the riskiest slides first. It assists triage; it never diagnoses.
owners:
  training: {name: Dana Scientist (diagnostics ML), contact: dana@lab.example}
  deployment: {name: Platform team, contact: "#ml-platform"}
  monitoring: {name: ML on-call, contact: pager:ml-oncall}
  replacement_decision: {name: Head of pathology, contact: pathology-lead@lab.example}
  data_steward: {name: Lab information systems, contact: lis@lab.example}
business_context:
  problem: Slides wait up to two days in a first-in-first-out queue.
  users: Pathologists and lab schedulers.
  decision_supported: Order of the reading queue.
  value: Malignant cases read a day earlier on average.
  cost_of_errors: >-
    A missed malignant case waits in the normal queue (delay, not a missed diagnosis);
    a false alarm costs a pathologist a few minutes.
model:
  training_approach: >-
    Random forest on log-scaled size features and two shape ratios; 5-fold CV for the
    number of trees; holdout of 25% stratified by label.
preprocessing:
  steps:
    - log1p of area, perimeter and radius
    - compactness ratio = perimeter^2 / area
    - concavity x concave points
data:
  datasets:
    - name: training
      role: training
      source: Wisconsin diagnostic breast cancer study (via scikit-learn)
      time_range: {start: 1993-01-01, end: 1995-12-31}
      transformations: [renamed columns to snake_case, 75/25 stratified split]
      pii: []
    - name: evaluation
      role: evaluation
      source: Wisconsin diagnostic breast cancer study (via scikit-learn)
      transformations: [25% stratified holdout]
      pii: []
limitations:
  known: [Trained on one study population; other labs' staining may shift the features.]
  edge_cases: [Very small lesions (radius below 8) are rare in training.]
  failure_modes: [Out-of-range measurements are rejected by the interface, not scored.]
  out_of_scope: [Diagnosis; any use without a pathologist's read.]
retraining:
  cadence: quarterly
  triggers: [PSI above 0.25 on any size feature, ROC AUC below 0.95 on audited cases]
  data_needed: Audited slides of the last 12 months with final diagnoses.
  procedure: python train.py, then baton check, verify and push
monitoring:
  metrics: [share of malignant predictions, PSI per feature, p99 latency]
  drift: {psi_warning: 0.1, psi_alert: 0.25}
  latency_p99_ms: 50
  paged: ML on-call (pager:ml-oncall)
performance:
  budgets: {latency_p99_ms: 50, peak_rss_mb: 1024}
support:
  until: 2027-06-30
  contact: dana@lab.example
rollback:
  plan: baton rollback biopsy-triage --reason "..." re-points production to the previous version.
  fallback: First-in-first-out queue, as before the model.
decisions:
  - {date: 2026-10-01, decision: Random forest over gradient boosting, by: Dana,
     rationale: Same AUC and simpler to explain to the lab.}
glossary:
  PSI: Population stability index, a measure of distribution shift.
  FNA: Fine-needle aspiration, how the biopsy is taken.
'''


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    workdir: Annotated[Path, typer.Argument(help="Folder for the demo's files.")] =
    Path("baton-demo"),
) -> None:
    """Run the end-to-end handoff demo on the embedded defaults."""
    started = time.perf_counter()
    _prepare(workdir)
    os.environ["BATON_HOME"] = str((workdir / ".baton").resolve())
    steps = Steps(workdir)

    steps.say("The data scientist trains a pipeline, with feature code in features.py, and "
              "packs it with the handoff sections written in baton.yaml.")
    steps.python("train.py")
    steps.say("The receiving engineer looks at what was handed over.")
    steps.baton("inspect", PACKAGE)
    steps.say("... scores new biopsies with it from the command line ...")
    steps.baton("predict", PACKAGE, "--input", "data/new_biopsies.csv", "--output",
                "predictions.csv")
    steps.say("... and from Python, where the feature code runs before the model.")
    steps.python("score.py")

    out.print(f"\n[bold green]Demo finished[/] in {time.perf_counter() - started:.0f} s. "
              f"Everything is in {workdir}/.")


class Steps:
    """Prints each command as a user would type it, then runs exactly that."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.number = 0

    def say(self, text: str) -> None:
        self.number += 1
        out.print(f"\n[bold]{self.number}.[/] {text}")

    def baton(self, *args: str) -> int:
        from .main import run

        out.print(f"[cyan]$ baton {shlex.join(args)}[/]")
        cwd = Path.cwd()
        os.chdir(self.workdir)
        try:
            code = run(list(args))
        finally:
            os.chdir(cwd)
        if code not in (0, 1):
            raise BatonError(f"demo step `baton {shlex.join(args)}` failed with exit code {code}")
        return code

    def python(self, *args: str) -> None:
        out.print(f"[cyan]$ python {shlex.join(args)}[/]")
        self.run_process([sys.executable, *args])

    def run_process(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": ""}
        done = subprocess.run(argv, cwd=self.workdir, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sys.stdout.write(done.stdout)
        if check and done.returncode != 0:
            raise BatonError(f"demo step `{shlex.join(argv)}` failed with exit code "
                             f"{done.returncode}")
        return done


def _prepare(workdir: Path) -> None:
    """Write the data scientist's project: data, feature code, training script, draft."""
    if workdir.exists():
        if not (workdir / MARKER).exists() and any(workdir.iterdir()):
            raise BatonError(f"{workdir} exists and is not a demo folder",
                             hint="give an empty or new folder")
        shutil.rmtree(workdir)
    (workdir / "data").mkdir(parents=True)
    (workdir / MARKER).write_text("written by `baton demo`\n")
    (workdir / "features.py").write_text(FEATURES_PY)
    (workdir / "train.py").write_text(TRAIN_PY)
    (workdir / "score.py").write_text(SCORE_PY)
    (workdir / "baton.yaml").write_text(HANDOFF_YAML)
    write_demo_data(workdir / "data")


def write_demo_data(folder: Path) -> None:
    """The breast-cancer data as a lab would export it: snake_case columns, a label."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    keep = {c: c.replace("mean ", "").replace(" ", "_") + "_mean"
            for c in frame.columns if c.startswith("mean ")}
    data = frame[list(keep)].rename(columns=keep)
    data["malignant"] = 1 - frame["target"]  # scikit-learn codes benign as 1
    train, holdout = train_test_split(data, test_size=0.25, stratify=data["malignant"],
                                      random_state=0)
    train.to_csv(folder / "train.csv", index=False)
    holdout.to_csv(folder / "holdout.csv", index=False)
    # New biopsies inside the training ranges: the interface rejects values outside them.
    features = holdout.drop(columns="malignant")
    low, high = train.min(), train.max()
    inside = ((features >= low[features.columns]) & (features <= high[features.columns])).all(1)
    features[inside].head(40).to_csv(folder / "new_biopsies.csv", index=False)

