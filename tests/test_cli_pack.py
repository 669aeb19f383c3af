"""`baton pack FILE` from each library's own saved file, then `baton predict` on a CSV."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

import modelbaton
from modelbaton.contract.io import read_manifest
from modelbaton.data.table import read_table


@pytest.fixture
def iris_csv(tmp_path, iris):
    """The training data as the data scientist has it: features and the label column."""
    X, y = iris
    path = tmp_path / "train.csv"
    X.assign(species=y).to_csv(path, index=False)
    return path, pd.read_csv(path).drop(columns="species")


def pack_file(cli, model_file, sample, out, *extra):
    result = cli("pack", model_file, "--sample", sample, "--drop", "species", "--out", out,
                 "--name", "iris", "--version", "1.0", "--json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def predict_file(cli, package, csv, tmp_path):
    output = tmp_path / "scored.csv"
    result = cli("predict", package, "--input", csv, "--keep", "species", "--output", output)
    assert result.code == 0, result.err
    scored = pd.read_csv(output)
    assert scored.columns[0] == "species"  # the kept column comes first, unchanged
    pd.testing.assert_series_equal(scored["species"], pd.read_csv(csv)["species"])
    return scored


def test_skops_file(cli, tmp_path, iris, iris_csv):
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris
    csv, frame = iris_csv
    model = make_pipeline(ColumnTransformer([("num", StandardScaler(), list(X.columns))]),
                          RandomForestClassifier(10, random_state=0)).fit(X, y)
    sio.dump(model, tmp_path / "model.skops")
    done = pack_file(cli, tmp_path / "model.skops", csv, tmp_path / "pkg")
    assert done["path"] == str(tmp_path / "pkg") and len(done["digest"]) == 64
    assert "owners" in done["todo"]

    scored = predict_file(cli, tmp_path / "pkg", csv, tmp_path)
    np.testing.assert_array_equal(scored["prediction"], model.predict(frame))
    np.testing.assert_array_equal(scored["probability_virginica"],
                                  model.predict_proba(frame)[:, 2])


def test_xgboost_json_and_ubj_files(cli, tmp_path, iris, iris_csv):
    import xgboost as xgb

    X, y = iris
    csv, frame = iris_csv
    labels = ["setosa", "versicolor", "virginica"]
    classifier = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(
        X, y.map({k: i for i, k in enumerate(labels)}))
    classifier.save_model(tmp_path / "model.json")
    pack_file(cli, tmp_path / "model.json", csv, tmp_path / "clf",
              *(arg for label in labels for arg in ("--label", label)))
    scored = predict_file(cli, tmp_path / "clf", csv, tmp_path)
    np.testing.assert_array_equal(scored["prediction"],
                                  np.array(labels)[classifier.predict(frame)])

    regressor = xgb.XGBRegressor(n_estimators=5).fit(X, X["petal_width"] * 2)
    regressor.save_model(tmp_path / "model.ubj")
    pack_file(cli, tmp_path / "model.ubj", csv, tmp_path / "reg")
    manifest = read_manifest(tmp_path / "reg" / "baton.yaml")
    assert manifest.model.options["class"] == "XGBRegressor"
    predictor = modelbaton.load(tmp_path / "reg")
    np.testing.assert_array_equal(predictor.predict(frame), regressor.predict(frame))


def test_lightgbm_text_file(cli, tmp_path, iris, iris_csv):
    import lightgbm as lgb

    X, y = iris
    csv, frame = iris_csv
    model = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, X["petal_width"])
    model.booster_.save_model(str(tmp_path / "model.txt"))
    pack_file(cli, tmp_path / "model.txt", csv, tmp_path / "pkg.baton")
    assert (tmp_path / "pkg.baton").is_file()
    scored = predict_file(cli, tmp_path / "pkg.baton", csv, tmp_path)
    np.testing.assert_array_equal(scored["prediction"], model.predict(frame))


def test_onnx_file(cli, tmp_path, iris, iris_csv):
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    csv, frame = iris_csv
    matrix = X.to_numpy(np.float32)
    graph = to_onnx(LogisticRegression(max_iter=500).fit(matrix, y), matrix[:1])
    (tmp_path / "model.onnx").write_bytes(graph.SerializeToString())
    pack_file(cli, tmp_path / "model.onnx", csv, tmp_path / "pkg")
    scored = predict_file(cli, tmp_path / "pkg", csv, tmp_path)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    labels, _ = session.run(None, {"X": frame.to_numpy(np.float32)})
    np.testing.assert_array_equal(scored["prediction"], labels)


class Rule:
    def predict(self, frame):
        return (frame["petal_length"] > 2.5).astype(int).to_numpy()


def test_pickle_file_only_with_allow_pickle(cli, tmp_path, iris_csv):
    csv, frame = iris_csv
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Rule()))
    refused = cli("pack", tmp_path / "model.pkl", "--sample", csv, "--drop", "species",
                  "--out", tmp_path / "pkg", "--name", "r", "--version", "1")
    assert refused.code == 2
    assert "model.pkl is a pickle" in refused.err and "--allow-pickle" in refused.err
    assert not (tmp_path / "pkg").exists()

    pack_file(cli, tmp_path / "model.pkl", csv, tmp_path / "pkg", "--allow-pickle")
    refused = cli("predict", tmp_path / "pkg", "--input", csv, "--keep", "species")
    assert refused.code == 2 and "--allow-pickle" in refused.err
    ok = cli("predict", tmp_path / "pkg", "--input", csv, "--keep", "species",
             "--allow-pickle")
    assert ok.code == 0, ok.err
    got = [json.loads(line)["prediction"] for line in ok.out.splitlines()]
    assert got == Rule().predict(frame).tolist()


def test_pack_reads_name_and_sections_from_the_draft(cli, tmp_path, iris, iris_csv):
    from sklearn.linear_model import LogisticRegression
    import skops.io as sio

    X, y = iris
    csv, _ = iris_csv
    sio.dump(LogisticRegression(max_iter=300).fit(X, y), tmp_path / "model.skops")
    assert cli("init", tmp_path / "baton.yaml", "--name", "flowers", "--version", "2").code == 0
    result = cli("pack", tmp_path / "model.skops", "--sample", csv, "--drop", "species",
                 "--config", tmp_path / "baton.yaml", "--out", tmp_path / "pkg")
    assert result.code == 0, result.err
    assert "packed flowers 2" in result.out and "TODO" in result.out
    manifest = read_manifest(tmp_path / "pkg" / "baton.yaml")
    assert manifest.retraining.procedure.startswith("TODO")
    assert manifest.monitoring.drift.psi_alert == 0.25  # kept from the draft


def test_predict_writes_every_format(cli, tmp_path, iris, iris_csv):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    csv, frame = iris_csv
    model = LogisticRegression(max_iter=300).fit(X, y)
    modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="i", version="1")
    for suffix in (".csv", ".parquet", ".jsonl"):
        output = tmp_path / f"out{suffix}"
        assert cli("predict", tmp_path / "pkg", "--input", csv, "--keep", "species",
                   "--output", output).code == 0
        table = read_table(output)
        np.testing.assert_array_equal(table["prediction"], model.predict(frame))
        np.testing.assert_array_equal(table["probability_setosa"],
                                      model.predict_proba(frame)[:, 0])
    result = cli("predict", tmp_path / "pkg", "--input", csv, "--format", "csv",
                 "--with-input", "--keep", "species")
    assert result.out.splitlines()[0].startswith("species,sepal_length,")
    assert "prediction" in result.out.splitlines()[0]
    assert len(result.out.splitlines()) == len(frame) + 1
