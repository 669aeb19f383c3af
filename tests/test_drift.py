"""`baton drift`: files, folders and the prediction log against a real package's profile."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from _predlog import write_log
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import modelbaton
from modelbaton.contract.io import read_manifest, write_manifest
from modelbaton.contract.manifest import DriftThresholds
from modelbaton.package.integrity import file_entries

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def population(n: int, seed: int, *, age_shift: float = 0.0, plans=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": (rng.normal(40, 10, n) + age_shift).round(1),
        "income": rng.lognormal(10, 0.4, n).round(2),
        "visits": rng.integers(0, 10, n),
        "plan": rng.choice(plans or ["basic", "plus", "pro"], n),
    })


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    """A real pipeline packed with its training data (and a retraining trigger)."""
    root = tmp_path_factory.mktemp("churn")
    train = population(3_000, 0)
    label = ((train["age"] > 42) ^ (train["plan"] == "pro")).astype(int)
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["plan"]),
                                                  remainder="passthrough"),
                          LogisticRegression(max_iter=2000)).fit(train, label)
    train.assign(churned=label).to_csv(root / "train.csv", index=False)
    pkg = modelbaton.pack(
        model, root / "churn-1", sample_input=train, name="churn", version="1",
        training_data=root / "train.csv",
        retraining={"procedure": "python train.py && baton push churn-2",
                    "drift_triggers": [{"statistic": "psi", "above": 0.25,
                                        "features": ["age"]}]})
    return modelbaton.open_package(pkg), model, root


def run_json(cli, *args):
    result = cli("drift", *args, "--json")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def by_name(report, section="features"):
    return {f["name"]: f for f in report[section]}


def test_data_from_the_training_population_does_not_alert(cli, tmp_path, churn):
    package, _, _ = churn
    population(2_000, 1).to_csv(tmp_path / "today.csv", index=False)
    code, report = run_json(cli, package.root, tmp_path / "today.csv")
    assert code == 0 and not report["alert"] and report["rows"] == 2_000
    assert report["drift_share"] == 0.0
    features = by_name(report)
    assert {f["status"] for f in features.values()} == {"ok"}
    assert features["age"]["psi"] < 0.05 and features["age"]["ks_pvalue"] > 0.01
    assert features["plan"]["kind"] == "categorical" and features["plan"]["js_distance"] < 0.05
    assert features["age"]["bins"]["current"] and len(features["age"]["bins"]["edges"]) == 11


def test_on_a_small_sample_psi_noise_alone_is_not_drift(cli, tmp_path, churn):
    package, _, _ = churn
    population(40, 21).to_csv(tmp_path / "few.csv", index=False)
    code, report = run_json(cli, package.root, tmp_path / "few.csv")
    features = by_name(report).values()
    assert max(f["psi"] for f in features) > 0.1  # PSI of noise on 40 rows: about 9 / 40
    assert code == 0 and {f["status"] for f in features} == {"ok"}


def test_simulated_drift_alerts_and_writes_a_report(cli, tmp_path, churn):
    package, _, _ = churn
    drifted = population(2_000, 2, age_shift=12, plans=["basic", "plus", "pro", "gold"])
    drifted.to_parquet(tmp_path / "drifted.parquet", index=False)
    html = tmp_path / "report.html"
    result = cli("drift", package.root, tmp_path / "drifted.parquet", "--html", html)
    assert result.code == 1
    assert "ALERT dataset drift: 50% of the inputs drifted" in result.out
    assert "age: PSI" in result.out and "unseen categories (gold)" in result.out
    assert "retraining is due: psi > 0.25 on age" in result.out
    assert "procedure: python train.py && baton push churn-2" in result.out
    code, report = run_json(cli, package.root, tmp_path / "drifted.parquet")
    features = by_name(report)
    assert code == 1 and report["drifted"] == ["age", "plan"]
    assert features["age"]["status"] == "drift" and features["age"]["ks_statistic"] > 0.3
    assert features["plan"]["unseen"] == ["gold"] and features["plan"]["out_of_range"] > 0.2
    assert features["income"]["status"] == "ok" and features["visits"]["status"] == "ok"
    assert report["retraining"]["due"] and report["retraining"]["procedure"].startswith("python")
    page = html.read_text()
    assert page.count("<svg") == 4 and "<script" not in page and "http" not in \
        page.replace("http://www.w3.org/2000/svg", "")
    assert "dataset drift" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian chromium")
def test_html_report_renders_in_a_real_browser(cli, tmp_path, churn):
    package, _, _ = churn
    population(500, 3, age_shift=15, plans=["pro", "gold"]).to_csv(tmp_path / "new.csv",
                                                                index=False)
    html = tmp_path / "report.html"
    assert cli("drift", package.root, tmp_path / "new.csv", "--html", html).code == 1
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120)
    dom = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert dom.count("<svg") == 4 and dom.count("<rect") > 40
    assert "Drift report: churn 1" in dom and "age" in dom


def log_for(package, frame, when, *, role="primary", model=None, sequence=0, folder=None):
    outputs = {}
    if model is not None:
        proba = model.predict_proba(frame)
        outputs = {"prediction": model.predict(frame).tolist(),
                   "probability_0": proba[:, 0].tolist(), "probability_1": proba[:, 1].tolist()}
    return write_log(folder, package, {c: frame[c].tolist() for c in frame}, outputs,
                     when, role=role, sequence=sequence,
                     request_ids=[f"{role}-{sequence}-{i}" for i in range(len(frame))])


def test_prediction_log_window_uses_primary_records_only(cli, tmp_path, churn):
    package, model, _ = churn
    log = tmp_path / "log"
    # Yesterday the inputs drifted; in the last hour they look like training data again.
    old = population(600, 4, age_shift=15)
    log_for(package, old, [NOW - dt.timedelta(days=1, minutes=i) for i in range(600)],
            model=model, sequence=0, folder=log)
    recent = population(600, 5)
    log_for(package, recent, [NOW - dt.timedelta(seconds=5 * i) for i in range(600)],
            model=model, sequence=1, folder=log)
    # A shadow candidate's records are never part of the primary model's drift.
    log_for(package, population(600, 6, age_shift=30),
            [NOW - dt.timedelta(seconds=5 * i) for i in range(600)], role="shadow",
            sequence=2, folder=log)
    code, report = run_json(cli, package.root, log, "--window", "1h")
    assert code == 0 and report["rows"] == 600 and report["source"]["kind"] == "log"
    assert report["source"]["window"]["end"] == NOW.isoformat().replace("+00:00", "Z")
    outputs = by_name(report, "outputs")
    assert set(outputs) == {"prediction", "probability_0", "probability_1"}
    assert outputs["prediction"]["status"] == "ok"
    code, report = run_json(cli, package.root, log, "--window", "2d")
    assert code == 1 and report["rows"] == 1_200
    assert by_name(report)["age"]["status"] == "drift"
    code, report = run_json(cli, package.root, log, "--window", "1h", "--end",
                            (NOW - dt.timedelta(days=1) + dt.timedelta(minutes=1)).isoformat())
    assert code == 1 and report["rows"] == 59  # (end - 1h, end]: minutes 0 to 58
    assert any("prediction drift" in a for a in report["alerts"])


def test_out_of_order_timestamps_are_noted_and_windowed_row_by_row(cli, tmp_path, churn):
    package, _, _ = churn
    frame = population(300, 7)
    times = [NOW - dt.timedelta(minutes=int(m)) for m in
             np.random.default_rng(0).permutation(300)]
    log_for(package, frame, times, folder=tmp_path / "log")
    code, report = run_json(cli, package.root, tmp_path / "log", "--window", "1h")
    expected = sum(1 for t in times if t > NOW - dt.timedelta(hours=1))
    assert report["rows"] == expected == 60
    assert any("out of order" in n for n in report["notes"])


def test_bad_columns_are_named_and_drift_still_computed_for_the_rest(cli, tmp_path, churn):
    package, _, _ = churn
    frame = population(500, 8).drop(columns="visits")
    frame["note"] = "free text"
    frame["plan"] = ""
    income = frame["income"].astype(object)
    income.iloc[[3, 10]] = "n/a-value"
    frame["income"] = income
    frame.to_csv(tmp_path / "bad.csv", index=False)
    code, report = run_json(cli, package.root, tmp_path / "bad.csv")
    assert code == 1
    assert "input 'visits' is missing from CURRENT" in report["problems"]
    assert "input 'plan': every value is missing" in report["problems"]
    assert "input 'income': 2 values are not of type number; they were left out" in \
        report["problems"]
    features = by_name(report)
    assert features["income"]["invalid"] == 2
    assert "bad.csv row 3: 'n/a-value'" in features["income"]["reasons"][0]
    assert features["income"]["rows"] == 498 and features["income"]["psi"] is not None
    assert features["age"]["status"] == "ok" and features["age"]["psi"] < 0.1
    assert features["visits"]["status"] == "missing"
    assert any("note" in n and "ignored" in n for n in report["notes"])
    result = cli("drift", package.root, tmp_path / "bad.csv")
    assert result.code == 1 and "ALERT schema: input 'visits' is missing" in result.out


def test_empty_and_header_only_files_are_clear_errors(cli, tmp_path, churn):
    package, _, _ = churn
    (tmp_path / "empty.csv").write_text("")
    result = cli("drift", package.root, tmp_path / "empty.csv")
    assert result.code == 2 and "empty.csv is empty" in result.err
    (tmp_path / "header.csv").write_text("age,income,visits,plan\n")
    result = cli("drift", package.root, tmp_path / "header.csv")
    assert result.code == 2 and "header.csv: no rows to compare" in result.err
    (tmp_path / "data.txt").write_text("age\n1\n")
    result = cli("drift", package.root, tmp_path / "data.txt")
    assert result.code == 2 and "unsupported file type '.txt'" in result.err
    result = cli("drift", package.root, tmp_path / "nowhere.csv")
    assert result.code == 2 and "nowhere.csv does not exist" in result.err


def test_a_single_row_gets_statistics_but_no_verdict(cli, tmp_path, churn):
    package, _, _ = churn
    population(1, 9, age_shift=40).to_json(tmp_path / "one.jsonl", orient="records",
                                           lines=True)
    code, report = run_json(cli, package.root, tmp_path / "one.jsonl")
    assert code == 0 and report["rows"] == 1 and report["drift_share"] is None
    assert any("only 1 row" in n and "at least 30 rows" in n for n in report["notes"])
    age = by_name(report)["age"]
    # No drift verdict from one row, but a value outside the training range is still a fact.
    assert age["psi"] > 1 and age["status"] == "warning"
    assert age["reasons"] == ["100.0% outside the reference range"]


def test_folder_of_parquet_files_and_predict(cli, tmp_path, churn):
    package, model, _ = churn
    folder = tmp_path / "daily"
    folder.mkdir()
    for day in range(3):
        population(400, 10 + day, age_shift=20).to_parquet(folder / f"day={day}.parquet",
                                                           index=False)
    (folder / "broken-upload.parquet").write_bytes(b"")
    code, report = run_json(cli, package.root, folder, "--predict")
    assert code == 1 and report["rows"] == 1_200 and report["source"]["files"] == 3
    assert any("broken-upload.parquet is empty" in n for n in report["notes"])
    prediction = by_name(report, "outputs")["prediction"]
    frame = pd.concat(pd.read_parquet(p) for p in sorted(folder.glob("day=*.parquet")))
    share = (model.predict(frame) == 1).mean()
    assert prediction["bins"]["current"][prediction["bins"]["categories"].index("1")] == \
        round(share * 1_200)
    assert prediction["status"] == "drift"


def test_declared_thresholds_and_importance_decide(cli, tmp_path, churn):
    package, _, _ = churn
    copy = tmp_path / "pkg"
    shutil.copytree(package.root, copy)
    manifest = read_manifest(copy / "baton.yaml")
    manifest.monitoring.drift = DriftThresholds(share_drifted_alert=0.3)
    manifest.monitoring.feature_importance = {"age": 1.0, "income": 3.0}
    manifest.retraining.drift_triggers = []  # only the dataset verdict decides here
    write_manifest(manifest.model_copy(update={"files": file_entries(copy)}), copy / "baton.yaml")
    population(1_000, 12, age_shift=12).to_csv(tmp_path / "older.csv", index=False)
    code, report = run_json(cli, copy, tmp_path / "older.csv")
    # age drifted, but weighs 1 of 4 (visits and plan declare no importance): 25% < 30%.
    assert code == 0 and report["drift_share"] == pytest.approx(0.25)
    assert report["thresholds"]["share_drifted_alert"] == 0.3
    code, report = run_json(cli, copy, tmp_path / "older.csv", "--threshold",
                            "share_drifted_alert=0.2")
    assert code == 1 and report["alerts"][0].startswith("dataset drift: 25%")


def test_bad_options_and_packages_without_a_profile(cli, tmp_path, churn):
    package, _, _ = churn
    population(50, 13).to_csv(tmp_path / "x.csv", index=False)
    result = cli("drift", package.root, tmp_path / "x.csv", "--window", "soon")
    assert result.code == 2 and "--window 'soon' is not a duration" in result.err
    result = cli("drift", package.root, tmp_path / "x.csv", "--window", "1h")
    assert result.code == 2 and "no 'timestamp' column" in result.err
    result = cli("drift", package.root, tmp_path / "x.csv", "--threshold", "psi=1")
    assert result.code == 2 and "--threshold 'psi=1'" in result.err
    result = cli("drift", package.root, tmp_path / "x.csv", "--end", "2026-01-01")
    assert result.code == 2 and "--end needs --window" in result.err
    old = tmp_path / "old-pkg"
    shutil.copytree(package.root, old)
    manifest = read_manifest(old / "baton.yaml")
    (old / "data" / "reference.json").unlink()
    manifest.data.reference = None
    write_manifest(manifest.model_copy(update={"files": file_entries(old)}), old / "baton.yaml")
    result = cli("drift", old, tmp_path / "x.csv")
    assert result.code == 2 and "has no reference profile" in result.err
    assert "re-pack" in result.err
