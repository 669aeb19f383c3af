"""`baton compare`: challenger vs champion offline and from a live-shadow log, as a gate."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from _predlog import write_log
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_squared_error, roc_auc_score

import modelbaton
from modelbaton.package.receipts import latest, read_receipts

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
PROMOTION = {"criteria": [{"metric": "roc_auc", "max_drop": 0.005}], "confidence": 0.95,
             "min_agreement": 0.6}


def applicants(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"income": rng.normal(50, 15, n).round(1),
                          "debt": rng.gamma(2, 5, n).round(1),
                          "region": rng.choice(["north", "south"], n)})
    signal = 0.08 * frame["income"] - 0.25 * frame["debt"] + (frame["region"] == "south")
    frame["defaulted"] = (signal + rng.logistic(0, 1, n) < 1.5).astype(int)
    return frame


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("credit")
    train = applicants(3_000, 0)
    inputs = train[["income", "debt", "region"]]
    numeric = pd.get_dummies(inputs, columns=["region"], dtype=float)
    # The candidate uses every input, the champion only income.
    good = LogisticRegression(max_iter=1000).fit(numeric, train["defaulted"])
    weak = LogisticRegression(max_iter=1000).fit(numeric[["income"]], train["defaulted"])
    code = root / "features.py"
    code.write_text("import pandas as pd\n\n\ndef encode(df):\n"
                    "    out = df[['income', 'debt']].astype(float)\n"
                    "    out['region_north'] = (df['region'] == 'north').astype(float)\n"
                    "    out['region_south'] = (df['region'] == 'south').astype(float)\n"
                    "    return out\n\n\ndef income_only(df):\n"
                    "    return df[['income']].astype(float)\n")
    evaluation = {"slices": [{"name": "low income", "column": "income", "maximum": 40}],
                  "promotion": PROMOTION}
    candidate = modelbaton.pack(good, root / "cand", sample_input=inputs, name="credit",
                                version="2", code=code, preprocessing="features:encode",
                                evaluation=evaluation)
    champion = modelbaton.pack(weak, root / "champ", sample_input=inputs, name="credit",
                               version="1", code=code, preprocessing="features:income_only")
    holdout = applicants(1_500, 1)
    holdout.to_csv(root / "holdout.csv", index=False)
    return {"candidate": candidate, "champion": champion, "holdout": holdout, "root": root,
            "good": good, "weak": weak, "numeric": lambda f: pd.get_dummies(
                f[["income", "debt", "region"]], columns=["region"], dtype=float)}


def compare_json(cli, *args):
    result = cli("compare", *args, "--json", "--bootstrap", "200", "--latency-rows", "20")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def test_better_candidate_passes_and_the_receipt_binds_both_digests(cli, models):
    code, result = compare_json(cli, models["candidate"], models["champion"],
                                models["root"] / "holdout.csv", "--labels", "defaulted")
    assert code == 0 and result["passed"]
    holdout = models["holdout"]
    X = models["numeric"](holdout)
    y = holdout["defaulted"]
    good, weak = models["good"], models["weak"]
    metrics = result["metrics"]
    assert metrics["roc_auc"]["candidate"] == pytest.approx(
        roc_auc_score(y, good.predict_proba(X)[:, 1]))
    assert metrics["roc_auc"]["champion"] == pytest.approx(
        roc_auc_score(y, weak.predict_proba(X[["income"]])[:, 1]))
    assert metrics["accuracy"]["candidate"] == pytest.approx(accuracy_score(y, good.predict(X)))
    assert metrics["log_loss"]["candidate"] == pytest.approx(log_loss(y, good.predict_proba(X)))
    assert metrics["f1"]["champion"] == pytest.approx(f1_score(y, weak.predict(X[["income"]])))
    assert metrics["roc_auc"]["delta"] > 0 and metrics["roc_auc"]["delta_ci"][0] > 0
    assert result["agreement"] == pytest.approx(
        (good.predict(X) == weak.predict(X[["income"]])).mean())
    assert [c["passed"] for c in result["criteria"]] == [True, True]
    assert result["criteria"][0]["criterion"] == \
        "roc_auc not worse than the champion's by more than 0.005 at 95%"
    assert result["latency"]["candidate"]["p99_ms"] > 0
    [low] = result["slices"]
    assert low["name"] == "low income" and low["rows"] == int((holdout["income"] < 40).sum())
    candidate = modelbaton.open_package(models["candidate"])
    champion = modelbaton.open_package(models["champion"])
    receipt = latest(candidate.root, "compare", candidate.digest)
    assert receipt["passed"] and receipt["champion_digest"] == champion.digest
    assert receipt["data"]["sha256"] and receipt["metrics"]["roc_auc"]["delta_ci"]
    # The receipt is not part of the package: its digest is unchanged.
    assert modelbaton.open_package(models["candidate"]).digest == candidate.digest


def test_bootstrap_intervals_equal_an_independent_paired_bootstrap(cli, models):
    code, result = compare_json(cli, models["candidate"], models["champion"],
                                models["root"] / "holdout.csv", "--labels", "defaulted")
    holdout = models["holdout"]
    X, y = models["numeric"](holdout), holdout["defaulted"].to_numpy()
    a = models["good"].predict_proba(X)[:, 1]
    b = models["weak"].predict_proba(X[["income"]])[:, 1]
    rng = np.random.default_rng(0)
    deltas = []
    for _ in range(200):
        index = rng.integers(0, len(y), len(y))
        deltas.append(roc_auc_score(y[index], a[index]) - roc_auc_score(y[index], b[index]))
    assert result["metrics"]["roc_auc"]["delta_ci"] == pytest.approx(
        list(np.percentile(deltas, [2.5, 97.5])), abs=1e-12)


def test_worse_candidate_fails_with_the_reason(cli, models):
    code, result = compare_json(cli, models["champion"], models["candidate"],
                                models["root"] / "holdout.csv", "--labels", "defaulted",
                                "--criterion", "accuracy:0.01", "--latency-p99-ms", "0.0001")
    assert code == 1 and not result["passed"]
    checks = {c["criterion"]: c for c in result["criteria"]}
    assert not checks["accuracy not worse than the champion's by more than 0.01 at 95%"][
        "passed"]
    assert not checks["candidate p99 latency at most 0.0001 ms"]["passed"]
    champion = modelbaton.open_package(models["champion"])
    assert not latest(champion.root, "compare", champion.digest)["passed"]
    result = cli("compare", models["champion"], models["candidate"],
                 models["root"] / "holdout.csv", "--labels", "defaulted", "--bootstrap", "100",
                 "--latency-rows", "5", "--criterion", "roc_auc:0.001")
    assert result.code == 1 and "FAIL roc_auc not worse" in result.out
    assert "FAILED: receipt" in result.out


def test_without_criteria_or_labels_it_cannot_pass(cli, models):
    code, result = compare_json(cli, models["champion"], models["candidate"],
                                models["root"] / "holdout.csv", "--slice-by", "region")
    assert code == 1 and result["criteria"] == [] and result["metrics"] == {}
    assert any("no promotion criteria" in n for n in result["notes"])
    assert [s["name"] for s in result["slices"]] == ["region=north", "region=south"]
    code, result = compare_json(cli, models["candidate"], models["champion"],
                                models["root"] / "holdout.csv")
    assert code == 1 and result["criteria"][0]["detail"] == "needs labels (--labels)"
    assert result["criteria"][1]["passed"]  # agreement needs no labels


def test_bad_input_is_named(cli, models, tmp_path):
    holdout = models["root"] / "holdout.csv"
    result = cli("compare", models["candidate"], models["champion"], holdout, "--labels",
                 "truth")
    assert result.code == 2 and "--labels column 'truth' is not in the file" in result.err
    models["holdout"].drop(columns="debt").to_csv(tmp_path / "partial.csv", index=False)
    result = cli("compare", models["candidate"], models["champion"], tmp_path / "partial.csv")
    assert result.code == 2 and "column 'debt', an input of the candidate (credit 2)" in \
        result.err
    bad = models["holdout"].astype({"income": object})
    bad.loc[7, "income"] = "unknown"
    bad.to_csv(tmp_path / "typo.csv", index=False)
    result = cli("compare", models["candidate"], models["champion"], tmp_path / "typo.csv")
    assert result.code == 2 and "row 7, field 'income': expected number" in result.err
    result = cli("compare", models["candidate"], models["candidate"], holdout)
    assert result.code == 2 and "are the same package" in result.err
    result = cli("compare", models["candidate"], models["champion"], holdout, "--criterion",
                 "roc_auc:x")
    assert result.code == 2 and "--criterion 'roc_auc:x' is not METRIC[:MAX_DROP]" in result.err
    result = cli("compare", models["candidate"], models["champion"], holdout, "--criterion",
                 "auc:0.01")
    assert result.code == 2 and "unknown metric 'auc'" in result.err \
        and "did you mean roc_auc?" in result.err
    code, result = compare_json(cli, models["candidate"], models["champion"], holdout,
                                "--labels", "defaulted", "--criterion", "rmse")
    [rmse] = [c for c in result["criteria"] if c["criterion"].startswith("rmse")]
    assert code == 1 and not rmse["passed"] and "regression metric" in rmse["detail"]


def test_regressors_agree_within_one_percent(cli, tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 800), "rooms": rng.integers(1, 6, 800)})
    price = 3 * frame["area"] + 10 * frame["rooms"] + rng.normal(0, 20, 800)
    linear = LinearRegression().fit(frame, price)
    forest = RandomForestRegressor(20, random_state=0).fit(frame, price)
    new = modelbaton.pack(forest, tmp_path / "new", sample_input=frame, name="price",
                          version="2")
    old = modelbaton.pack(linear, tmp_path / "old", sample_input=frame, name="price",
                          version="1")
    frame.assign(price=price).to_csv(tmp_path / "eval.csv", index=False)
    code, result = compare_json(cli, new, old, tmp_path / "eval.csv", "--labels", "price",
                                "--criterion", "rmse:5")
    a, b = forest.predict(frame), linear.predict(frame)
    assert result["agreement"] == pytest.approx(np.isclose(a, b, rtol=0.01, atol=1e-12).mean())
    assert result["mean_abs_difference"] == pytest.approx(np.abs(a - b).mean())
    assert result["metrics"]["rmse"]["champion"] == pytest.approx(
        np.sqrt(mean_squared_error(price, b)))
    assert code == 0 and result["criteria"][0]["passed"]  # the forest fits its own data


def test_live_shadow_log_with_late_labels(cli, models, tmp_path):
    candidate = modelbaton.open_package(models["candidate"])
    champion = modelbaton.open_package(models["champion"])
    traffic = applicants(300, 5)
    X = models["numeric"](traffic)
    ids = [f"r{i // 2}" for i in range(300)]  # two rows per request
    rows = [i % 2 for i in range(300)]
    times = [NOW - dt.timedelta(seconds=i) for i in range(300)]
    inputs = {c: traffic[c].tolist() for c in ("income", "debt", "region")}

    def outputs(model, features):
        proba = model.predict_proba(features)
        return {"prediction": model.predict(features).tolist(),
                "probability_0": proba[:, 0].tolist(), "probability_1": proba[:, 1].tolist()}

    log = tmp_path / "log"
    write_log(log, champion, inputs, outputs(models["weak"], X[["income"]]), times,
              request_ids=ids, rows=rows, latency_ms=[2.0] * 300, sequence=0)
    errors = [None] * 300
    errors[4] = "ValueError: boom"
    shadow_out = outputs(models["good"], X)
    write_log(log, candidate, inputs, shadow_out, times, role="shadow", request_ids=ids,
              rows=rows, latency_ms=[3.0 + (i % 7) for i in range(300)], errors=errors,
              sequence=1)
    pd.DataFrame({"request_id": ids, "row": rows, "defaulted": traffic["defaulted"]}) \
        .to_csv(tmp_path / "labels.csv", index=False)
    code, result = compare_json(cli, candidate.root, champion.root, log, "--labels",
                                "defaulted", "--label-file", tmp_path / "labels.csv")
    good = models["good"].predict(X)
    same = good == models["weak"].predict(X[["income"]])
    same[4] = False  # the candidate failed on that row: a disagreement
    assert result["data"]["kind"] == "shadow-log" and result["rows"] == 300
    assert result["agreement"] == pytest.approx(same.mean())
    assert result["labelled_rows"] == 299
    keep = np.arange(300) != 4
    assert result["metrics"]["roc_auc"]["candidate"] == pytest.approx(roc_auc_score(
        traffic["defaulted"][keep], np.array(shadow_out["probability_1"])[keep]))
    assert result["latency"]["champion"]["p50_ms"] == 2.0
    assert result["latency"]["candidate"]["p99_ms"] == pytest.approx(
        np.percentile([3.0 + (i % 7) for i in range(0, 300, 2)], 99))
    assert any("failed on 1 of 300 rows" in n for n in result["notes"])
    assert code == 0 and len(read_receipts(candidate.root, "compare")) >= 1
    # Records of another package as the shadow are refused, naming it.
    result = cli("compare", champion.root, candidate.root, log)
    assert result.code == 2 and f"the shadow records are from package {candidate.digest[:12]}" \
        in result.err
