"""The MLflow bridge: real MLflow models in, Baton packages out, and back to MLflow.

Every MLflow model here is written by MLflow itself (save_model / log_model), so the
format is the real one; the registry tests run against a real `mlflow server` on
loopback with a SQLite store.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import modelbaton
from modelbaton.bridges.mlflow import export_model, import_model
from modelbaton.contract.io import read_manifest

TRACKING = "MLFLOW_TRACKING_URI"

CLIPPER_PY = '''\
"""Feature code shipped with MLflow's code_paths: a transformer skops does not know."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class Clip(BaseEstimator, TransformerMixin):
    def __init__(self, high=6.0):
        self.high = high

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.minimum(np.asarray(X, dtype=float), self.high)
'''

CODE_MODEL_PY = '''\
import mlflow


class Scorer(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["petal_length"] * 2 + model_input["petal_width"]


mlflow.models.set_model(Scorer())
'''


def pins(*names: str) -> list[str]:
    """Requirements as MLflow records them, without its slow inference subprocess."""
    return [f"{name}=={metadata.version(name)}" for name in names]


@pytest.fixture(scope="module")
def iris_int(iris):
    X, y = iris
    return X, pd.Series(pd.factorize(y, sort=True)[0], name="species")


@pytest.fixture(scope="module")
def models(tmp_path_factory, iris, iris_int):
    """MLflow models of every supported flavor, saved by MLflow, with their originals."""
    import lightgbm
    import mlflow
    import torch
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    root = tmp_path_factory.mktemp("mlflow-models")
    X, y = iris
    Xi, yi = iris_int
    made: dict[str, tuple[Path, object]] = {}

    code = root / "src"
    code.mkdir()
    (code / "clipper.py").write_text(CLIPPER_PY)
    sys.path.insert(0, str(code))
    try:
        import clipper

        pipeline = make_pipeline(clipper.Clip(), LogisticRegression(max_iter=500)).fit(X, y)
        mlflow.sklearn.save_model(
            pipeline, root / "sklearn", code_paths=[str(code / "clipper.py")],
            skops_trusted_types=["clipper.Clip"], input_example=X.head(5),
            # One pin that differs from what is installed, one that is not installed.
            pip_requirements=[*pins("mlflow", "skops"), "scikit-learn==1.0.2",
                              "not-installed-anywhere==1.2.3"])
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("clipper", None)
    made["sklearn"] = (root / "sklearn", pipeline)

    booster = xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(Xi, yi)
    mlflow.xgboost.save_model(booster, root / "xgboost", input_example=Xi.head(5),
                              pip_requirements=pins("xgboost"))
    made["xgboost"] = (root / "xgboost", booster)

    gbm = lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(Xi, yi)
    mlflow.lightgbm.save_model(gbm, root / "lightgbm", input_example=Xi.head(5),
                               pip_requirements=pins("lightgbm"))
    made["lightgbm"] = (root / "lightgbm", gbm)

    matrix = Xi.to_numpy(np.float32)
    linear = LogisticRegression(max_iter=500).fit(matrix, yi)
    graph = to_onnx(linear, matrix[:1], options={id(linear): {"zipmap": False}})
    mlflow.onnx.save_model(graph, root / "onnx", input_example=matrix[:5],
                           pip_requirements=pins("onnx", "onnxruntime"))
    made["onnx"] = (root / "onnx", linear)

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    mlflow.pytorch.save_model(net, root / "pytorch", input_example=matrix[:5],
                              pip_requirements=["torch"])
    made["pytorch"] = (root / "pytorch", net)

    (root / "scorer.py").write_text(CODE_MODEL_PY)
    mlflow.pyfunc.save_model(root / "from-code", python_model=str(root / "scorer.py"),
                             input_example=X.head(5), pip_requirements=pins("pandas"))
    made["from-code"] = (root / "from-code", None)

    class Doubler(mlflow.pyfunc.PythonModel):  # cloudpickled by MLflow
        def predict(self, context, model_input, params=None):
            return model_input["sepal_length"] * 2

    mlflow.pyfunc.save_model(root / "cloudpickle", python_model=Doubler(),
                             input_example=X.head(5), pip_requirements=pins("pandas"))
    made["cloudpickle"] = (root / "cloudpickle", None)
    return made


def imported(tmp_path: Path, source: Path, **options) -> Path:
    return import_model(source, tmp_path / "pkg", name="iris", version="1", **options).path


# --- importing a folder ------------------------------------------------------------------


def test_sklearn_skops_model_keeps_its_trusted_types_code_and_predictions(
        tmp_path, cli, models, iris):
    folder, pipeline = models["sklearn"]
    X, _ = iris
    result = cli("import", "mlflow", folder, "--out", tmp_path / "pkg", "--name", "iris",
                 "--version", "1.0", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (report["mlflow_flavor"], report["flavor"], report["serialization"]) == (
        "sklearn", "sklearn", "skops")
    assert report["inputs_from"] == "signature" and report["golden_from"] == "input_example"
    assert {"owners", "limitations", "retraining", "monitoring",
            "business_context"} <= set(report["todo"])

    path = tmp_path / "pkg"
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.model.trusted_types == ["clipper.Clip"]
    assert (path / "code" / "clipper.py").read_text() == CLIPPER_PY
    assert [(f.name, f.type, f.minimum) for f in manifest.interface.inputs] == [
        (c, "number", None) for c in X.columns]  # types from the signature, no tight ranges
    assert manifest.golden.rows == 5
    assert manifest.lineage.source == str(folder.resolve())

    predictor = modelbaton.load(path)
    np.testing.assert_array_equal(predictor.predict(X), pipeline.predict(X))
    np.testing.assert_array_equal(predictor.predict_proba(X), pipeline.predict_proba(X))

    lock = (path / "env" / "requirements.lock").read_text()
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in lock
    assert f"skops=={metadata.version('skops')}" in lock
    assert "mlflow==" not in lock  # the package runs without MLflow
    assert "not-installed-anywhere==1.2.3" in lock
    notes = " ".join(report["notes"])
    assert "scikit-learn: MLflow recorded ==1.0.2" in notes
    assert "not-installed-anywhere is not installed here" in notes


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm", "onnx", "pytorch"])
def test_native_flavors_import_to_safe_formats_and_predict_the_same(
        tmp_path, models, iris_int, flavor):
    folder, original = models[flavor]
    X, _ = iris_int
    path = imported(tmp_path, folder)
    manifest = read_manifest(path / "baton.yaml")
    predictor = modelbaton.load(path)
    assert not manifest.model.allow_pickle
    if flavor == "pytorch":
        import torch

        assert manifest.model.serialization == "torch-export"
        with torch.no_grad():
            want = original(torch.as_tensor(X.to_numpy(np.float32))).numpy()
        got = predictor.predict_table(X.to_numpy())
        np.testing.assert_allclose(np.column_stack(list(got.values())), want, rtol=1e-6)
        return
    expected_format = {"xgboost": "xgboost-ubj", "lightgbm": "lightgbm-text", "onnx": "onnx"}
    assert manifest.model.serialization == expected_format[flavor]
    data = X.to_numpy() if flavor == "onnx" else X
    want = original.predict_proba(X.to_numpy(np.float32) if flavor == "onnx" else X)
    np.testing.assert_allclose(predictor.predict_proba(data), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(predictor.predict(data), np.argmax(want, axis=1))


def test_python_function_models_run_through_mlflow(tmp_path, cli, models, iris):
    X, _ = iris
    # A model from code is code, not a pickle.
    path = imported(tmp_path / "code", models["from-code"][0])
    manifest = read_manifest(path / "baton.yaml")
    assert (manifest.model.flavor, manifest.model.allow_pickle) == ("mlflow", False)
    np.testing.assert_allclose(modelbaton.load(path).predict(X),
                               X["petal_length"] * 2 + X["petal_width"])

    # A cloudpickled PythonModel needs consent to import, and again to load.
    folder = models["cloudpickle"][0]
    refused = cli("import", "mlflow", folder, "--out", tmp_path / "pickled", "--name", "d",
                  "--version", "1")
    assert refused.code == 2
    assert "--allow-pickle" in refused.err and not (tmp_path / "pickled").exists()
    accepted = cli("import", "mlflow", folder, "--out", tmp_path / "pickled", "--name", "d",
                   "--version", "1", "--allow-pickle")
    assert accepted.code == 0, accepted.err
    assert "as d 1 at" in accepted.out and "mlflow (mlflow-pyfunc)" in accepted.out
    assert "TODO markers MLflow cannot fill: description, owners" in accepted.out
    assert read_manifest(tmp_path / "pickled" / "baton.yaml").model.allow_pickle
    with pytest.raises(modelbaton.BatonError, match="pickle"):
        modelbaton.load(tmp_path / "pickled")
    np.testing.assert_allclose(
        modelbaton.load(tmp_path / "pickled", allow_pickle=True).predict(X),
        X["sepal_length"] * 2)


def test_a_draft_fills_what_mlflow_does_not_know(tmp_path, cli, models):
    draft = tmp_path / "baton.yaml"
    assert cli("init", draft, "--name", "iris-gbm", "--version", "2.0").code == 0
    text = draft.read_text()
    text = text.replace('training: {name: "TODO: who retrains it", contact: "TODO: e-mail '
                        'or channel"}', "training: {name: Dana, contact: dana@example.org}")
    draft.write_text(text)
    result = cli("import", "mlflow", models["lightgbm"][0], "--config", draft, "--out",
                 tmp_path / "pkg", "--json")
    assert result.code == 0, result.err
    manifest = read_manifest(tmp_path / "pkg" / "baton.yaml")
    assert (manifest.name, manifest.version) == ("iris-gbm", "2.0")
    assert manifest.owners.training.name == "Dana"
    assert manifest.owners.deployment.name.startswith("TODO")


# --- bad input ---------------------------------------------------------------------------


def test_bad_sources_are_one_line_errors(tmp_path, cli, models, iris, monkeypatch):
    X, _ = iris

    def fails(*args: object, match: str) -> None:
        result = cli("import", "mlflow", *args)
        assert result.code == 2, result
        assert match in result.err and "Traceback" not in result.err
        assert len(result.err.strip().splitlines()) == 1, result.err

    fails(tmp_path / "nowhere", "--version", "1", match="does not exist")
    (tmp_path / "empty").mkdir()
    fails(tmp_path / "empty", "--version", "1", match="is not an MLflow model")
    fails("s3://bucket/model", match="cannot import from s3://bucket/model")

    copies = itertools.count()

    def copy(name: str) -> Path:
        return Path(shutil.copytree(models[name][0], tmp_path / f"{name}-{next(copies)}"))

    broken = copy("sklearn")
    (broken / "model.skops").unlink()
    fails(broken, "--name", "x", "--version", "1", match="artifact model.skops is missing")

    unknown = copy("sklearn")
    meta = yaml.safe_load((unknown / "MLmodel").read_text())
    meta["flavors"] = {"keras": {"data": "data"}}
    (unknown / "MLmodel").write_text(yaml.safe_dump(meta))
    fails(unknown, "--name", "x", "--version", "1", match="flavor keras is not supported")

    escaping = copy("xgboost")
    meta = yaml.safe_load((escaping / "MLmodel").read_text())
    meta["flavors"]["xgboost"]["data"] = "../../etc/passwd"
    (escaping / "MLmodel").write_text(yaml.safe_dump(meta))
    fails(escaping, "--name", "x", "--version", "1", match="points outside the model folder")

    untrusted = copy("sklearn")
    meta = yaml.safe_load((untrusted / "MLmodel").read_text())
    meta["flavors"]["sklearn"]["skops_trusted_types"] = []
    (untrusted / "MLmodel").write_text(yaml.safe_dump(meta))
    fails(untrusted, "--name", "x", "--version", "1",
          match="did not record as trusted: clipper.Clip")

    no_example = copy("xgboost")
    (no_example / "input_example.json").unlink()
    (no_example / "serving_input_example.json").unlink()
    meta = yaml.safe_load((no_example / "MLmodel").read_text())
    del meta["saved_input_example_info"]
    (no_example / "MLmodel").write_text(yaml.safe_dump(meta))
    fails(no_example, "--name", "x", "--version", "1", match="--sample")
    sample = tmp_path / "rows.csv"
    X.head(30).to_csv(sample, index=False)
    ok = cli("import", "mlflow", no_example, "--name", "x", "--version", "1", "--sample",
             sample, "--out", tmp_path / "from-sample")
    assert ok.code == 0, ok.err
    assert read_manifest(tmp_path / "from-sample" / "baton.yaml").golden.rows == 20
    X.head(30).rename(columns={"petal_width": "petal_w"}).to_csv(sample, index=False)
    fails(no_example, "--name", "x", "--version", "1", "--sample", sample,
          match="rows.csv: field 'petal_w': is not an input")  # the signature decides

    fails(models["xgboost"][0], "--name", "x", match="needs --version")

    monkeypatch.delenv(TRACKING, raising=False)
    fails("models:/churn/1", match=TRACKING)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv(TRACKING, f"http://127.0.0.1:{closed}")
    fails("models:/churn/1", match="cannot reach the MLflow tracking server")


def test_skops_types_that_run_code_are_refused(tmp_path, cli, iris):
    import mlflow
    from sklearn.preprocessing import FunctionTransformer

    X, _ = iris
    hostile = FunctionTransformer(func=eval).fit(X)  # MLflow saves it if told to trust eval
    mlflow.sklearn.save_model(hostile, tmp_path / "hostile", skops_trusted_types=["builtins.eval"],
                              pip_requirements=pins("scikit-learn"))
    result = cli("import", "mlflow", tmp_path / "hostile", "--name", "x", "--version", "1")
    assert result.code == 2
    assert "builtins.eval, which can run arbitrary code" in result.err


def test_sklearn_cloudpickle_needs_consent_and_becomes_skops(tmp_path, cli, iris):
    import mlflow
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    mlflow.sklearn.save_model(tree, tmp_path / "tree", serialization_format="cloudpickle",
                              input_example=X.head(5), pip_requirements=pins("scikit-learn"))
    refused = cli("import", "mlflow", tmp_path / "tree", "--name", "t", "--version", "1")
    assert refused.code == 2 and "cloudpickle" in refused.err and "--allow-pickle" in refused.err
    done = cli("import", "mlflow", tmp_path / "tree", "--name", "t", "--version", "1",
               "--allow-pickle", "--out", tmp_path / "pkg")
    assert done.code == 0, done.err
    manifest = read_manifest(tmp_path / "pkg" / "baton.yaml")
    assert (manifest.model.serialization, manifest.model.allow_pickle) == ("skops", False)
    np.testing.assert_array_equal(modelbaton.load(tmp_path / "pkg").predict(X), tree.predict(X))


# --- exporting ---------------------------------------------------------------------------

FEATURES_PY = '''\
import pandas as pd

PLANS = {"basic": 0, "plus": 1, "pro": 2}


def transform(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["tenure", "charges"]].astype(float)
    out["plan"] = df["plan"].map(PLANS)
    out["charges_per_month"] = df["charges"] / (df["tenure"] + 1)
    return out
'''


@pytest.fixture(scope="module")
def churn_package(tmp_path_factory):
    """A package with feature code and a categorical input, packed by Baton."""
    from sklearn.ensemble import RandomForestClassifier

    root = tmp_path_factory.mktemp("churn")
    (root / "features.py").write_text(FEATURES_PY)
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"tenure": rng.integers(0, 72, n), "charges": rng.normal(70, 20, n),
                          "plan": rng.choice(["basic", "plus", "pro"], n)})
    y = (frame["charges"] > 70).astype(int)
    sys.path.insert(0, str(root))
    sys.modules.pop("features", None)  # another test's `features` module must not answer
    try:
        import features

        model = RandomForestClassifier(20, random_state=0).fit(features.transform(frame), y)
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("features", None)
    path = modelbaton.pack(model, root / "churn-1", sample_input=frame, name="churn",
                           version="1", code=root / "features.py",
                           preprocessing="features:transform",
                           evaluation={"metrics": [{"name": "roc_auc", "value": 0.91}]})
    return path, frame


def test_export_writes_an_mlflow_model_that_reproduces_the_package(tmp_path, cli,
                                                                   churn_package):
    import mlflow

    path, frame = churn_package
    dest = tmp_path / "churn-mlflow"
    result = cli("export", "mlflow", path, dest, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["golden_rows"] == 20 and report["registered_name"] is None

    meta = yaml.safe_load((dest / "MLmodel").read_text())
    assert meta["flavors"]["python_function"]["loader_module"] == \
        "modelbaton.bridges.mlflow.pyfunc"
    assert meta["metadata"]["baton"]["digest"] == modelbaton.open_package(path).digest
    inputs = json.loads(meta["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [
        ("tenure", "long"), ("charges", "double"), ("plan", "string")]
    requirements = (dest / "requirements.txt").read_text()
    assert "modelbaton==" in requirements
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in requirements

    model = mlflow.pyfunc.load_model(str(dest))
    got = model.predict(frame)
    want = modelbaton.load(path).predict_table(frame)
    assert list(got.columns) == list(want)
    for column, values in want.items():
        np.testing.assert_array_equal(got[column].to_numpy(), values)
    with pytest.raises(mlflow.exceptions.MlflowException, match="row 1, field 'plan'"):
        model.predict(frame.head(3).assign(plan=["basic", "platinum", "pro"]))

    again = cli("export", "mlflow", path, dest)
    assert again.code == 2 and "already exists" in again.err
    assert (dest / "MLmodel").is_file()


def test_export_refuses_a_pickle_package_without_consent(tmp_path, cli, models):
    pickled = imported(tmp_path, models["cloudpickle"][0], allow_pickle=True)
    result = cli("export", "mlflow", pickled, tmp_path / "out")
    assert result.code == 2 and "--allow-pickle" in result.err
    assert not (tmp_path / "out").exists()
    exported = export_model(pickled, tmp_path / "out", allow_pickle=True)
    assert exported.golden_rows == 5


# --- a real tracking server --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def _server_process(request, tmp_path_factory):
    """Start `mlflow server` as this module begins, so it boots while the first tests run.

    Loopback, a free port, a SQLite store; only when a test of this module will use it.
    """
    items = [item for item in request.session.items if item.module is request.module]
    if not any("mlflow_server" in item.fixturenames for item in items):
        yield None
        return
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = open(root / "server.log", "wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    try:
        yield server, f"http://127.0.0.1:{port}", root / "server.log"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def mlflow_server(_server_process):
    """The tracking server's URI, once it answers its health check."""
    server, uri, log = _server_process
    deadline = time.monotonic() + 240
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    return uri
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"mlflow server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def registered(mlflow_server, iris):
    """A model logged and registered by MLflow, in a run with params, metrics and tags."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TRACKING, mlflow_server)
        mlflow.set_experiment("iris")
        with mlflow.start_run(run_name="lr") as run:
            model = LogisticRegression(C=0.5, max_iter=400).fit(X, y)
            mlflow.log_params({"C": 0.5, "max_iter": 400, "solver": "lbfgs"})
            mlflow.log_metric("accuracy", model.score(X, y))
            mlflow.log_metric("log_loss", 0.12)
            mlflow.set_tags({"team": "botany", "api_token": "s3cr3t",
                             "mlflow.source.git.commit": "0123456789abcdef0123"})
            dataset = mlflow.data.from_pandas(X.assign(species=y), name="iris-train",
                                              source="s3://lake/iris.parquet",
                                              targets="species")
            mlflow.log_input(dataset, context="training")
            info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(5),
                                            registered_model_name="iris-lr",
                                            pip_requirements=pins("scikit-learn", "skops"))
        client = mlflow.MlflowClient()
        client.update_registered_model("iris-lr", description="Tells iris species apart.")
        client.set_registered_model_alias("iris-lr", "champion", info.registered_model_version)
    return run.info.run_id, model


def test_registered_model_brings_its_run_along(tmp_path, cli, monkeypatch, mlflow_server,
                                               registered, iris):
    run_id, model = registered
    X, y = iris
    monkeypatch.setenv(TRACKING, mlflow_server)
    result = cli("import", "mlflow", "models:/iris-lr/1", "--out", tmp_path / "pkg", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (report["name"], report["version"], report["run_id"]) == ("iris-lr", "1", run_id)

    manifest = read_manifest(tmp_path / "pkg" / "baton.yaml")
    assert manifest.description == "Tells iris species apart."
    assert manifest.model.hyperparameters["C"] == 0.5
    assert manifest.model.hyperparameters["solver"] == "lbfgs"
    metrics = {m.name: m for m in manifest.evaluation.metrics}
    assert metrics["accuracy"].value == pytest.approx(model.score(X, y))
    assert metrics["accuracy"].business_meaning.startswith("TODO")
    assert metrics["log_loss"].higher_is_better is False
    lineage = manifest.lineage
    assert (lineage.run_id, lineage.git_commit, lineage.source) == (
        run_id, "0123456789abcdef0123", "models:/iris-lr/1")
    assert lineage.tags["team"] == "botany" and "api_token" not in lineage.tags
    dataset = manifest.data.datasets[0]
    assert (dataset.name, dataset.role, dataset.location, dataset.rows) == (
        "iris-train", "training", "s3://lake/iris.parquet", 150)
    np.testing.assert_array_equal(modelbaton.load(tmp_path / "pkg").predict(X),
                                  model.predict(X))

    by_alias = import_model("models:/iris-lr@champion", tmp_path / "alias")
    by_latest = import_model("models:/iris-lr/latest", tmp_path / "latest")
    by_run = import_model(f"runs:/{run_id}/model", tmp_path / "run", name="iris-lr",
                          version="run-1")
    golden = (tmp_path / "pkg" / "data" / "golden.json").read_text()
    for other in (by_alias, by_latest, by_run):
        assert (other.path / "data" / "golden.json").read_text() == golden
    assert read_manifest(by_run.path / "baton.yaml").lineage.run_id == run_id


def test_unknown_models_versions_and_runs_are_one_line_errors(cli, monkeypatch,
                                                              mlflow_server, registered):
    monkeypatch.setenv(TRACKING, mlflow_server)
    run_id, _ = registered
    for source in ("models:/no-such-model/1", "models:/iris-lr/99", "models:/iris-lr@nobody",
                   "models:/iris-lr/Production", "models:/iris-lr",
                   "runs:/0123456789abcdef/model", f"runs:/{run_id}/no-such-path",
                   f"runs:/{run_id}"):
        result = cli("import", "mlflow", source, "--version", "1")
        assert result.code == 2, (source, result)
        assert source in result.err and "Traceback" not in result.err, result.err


def test_export_registers_and_comes_back_unchanged(tmp_path, cli, monkeypatch, mlflow_server,
                                                   churn_package):
    import mlflow

    path, frame = churn_package
    monkeypatch.setenv(TRACKING, mlflow_server)
    result = cli("export", "mlflow", path, tmp_path / "out", "--register", "--name",
                 "churn-baton", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["model_uri"] == "models:/churn-baton/1"

    client = mlflow.MlflowClient()
    version = client.get_model_version("churn-baton", "1")
    digest = modelbaton.open_package(path).digest
    assert version.tags["baton.digest"] == digest
    run = client.get_run(report["run_id"])
    assert run.data.metrics["roc_auc"] == 0.91
    assert run.data.tags["baton.digest"] == digest
    assert run.data.params["n_estimators"] == "20"

    served = mlflow.pyfunc.load_model("models:/churn-baton/1")
    np.testing.assert_array_equal(served.predict(frame)["prediction"].to_numpy(),
                                  modelbaton.load(path).predict(frame))

    back = cli("import", "mlflow", "models:/churn-baton/1", "--out", tmp_path / "back",
               "--json")
    assert back.code == 0, back.err
    assert json.loads(back.out)["digest"] == digest  # the very same package
