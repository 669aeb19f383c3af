"""Every flavor with a small real model: packed, handed over, loaded back, predictions equal.

Each model is loaded three ways (the packed folder, a copy of it with the original moved
away, and a `.baton` archive) and must predict exactly what its own library predicts.
"""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml
from _onnx_models import wide_network

import modelbaton
from modelbaton.contract.errors import BatonError, FlavorError, UnsafeInputError
from modelbaton.contract.io import read_manifest


def assert_predicts(loaded: dict, data, prediction, probabilities=None) -> None:
    for how, predictor in loaded.items():
        got = predictor.predict(data)
        np.testing.assert_array_equal(got, prediction, err_msg=f"loaded from the {how}")
        if probabilities is not None:
            np.testing.assert_array_equal(predictor.predict_proba(data), probabilities,
                                          err_msg=f"probabilities loaded from the {how}")


# --- scikit-learn ------------------------------------------------------------------------

FEATURES = '''
"""Feature code of the churn model: used by the pipeline's FunctionTransformer."""


def add_ratio(frame):
    out = frame.copy()
    out["charges_per_month"] = frame["charges"] / (frame["tenure"] + 1)
    return out
'''


def test_sklearn_pipeline_with_column_transformer_and_shipped_function(tmp_path, churn,
                                                                       monkeypatch, hand_over):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    X, y = churn
    project = tmp_path / "project"
    project.mkdir()
    (project / "churn_features.py").write_text(FEATURES)
    monkeypatch.syspath_prepend(str(project))
    import churn_features

    model = make_pipeline(
        FunctionTransformer(churn_features.add_ratio),
        ColumnTransformer([
            ("num", StandardScaler(), ["tenure", "charges", "charges_per_month"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]),
        LogisticRegression(max_iter=500),
    ).fit(X, y)
    path = modelbaton.pack(model, tmp_path / "churn", sample_input=X, name="churn",
                           version="1", code=project / "churn_features.py")

    manifest = read_manifest(path / "baton.yaml")
    # The shipped function is the one type outside skops' safe defaults, and it is recorded.
    assert manifest.model.trusted_types == ["churn_features.add_ratio"]
    assert manifest.model.serialization == "skops"
    assert manifest.interface.labels == ["churn", "stay"]

    # The receiving side has neither the project folder nor the module imported.
    del sys.modules["churn_features"]
    (project / "churn_features.py").unlink()
    loaded = hand_over(path)
    assert_predicts(loaded, X, model.predict(X), model.predict_proba(X))
    assert "churn_features" not in sys.modules  # the package's code was set aside again


def test_sklearn_trusts_only_the_types_the_manifest_records(tmp_path, churn, monkeypatch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    X, y = churn
    (tmp_path / "churn_features.py").write_text(FEATURES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "churn_features", raising=False)
    import churn_features

    model = make_pipeline(FunctionTransformer(churn_features.add_ratio),
                          FunctionTransformer(lambda f: f[["tenure", "charges"]]),
                          LogisticRegression())
    # skops saves a lambda by name, which cannot be imported back: packing says so.
    with pytest.raises(FlavorError, match="cannot load it: AttributeError.*module-level"):
        modelbaton.pack(model.fit(X, y), tmp_path / "refused", sample_input=X, name="c",
                        version="1", code=tmp_path / "churn_features.py")

    model = make_pipeline(FunctionTransformer(churn_features.add_ratio),
                          OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    path = modelbaton.pack(model.fit(X, y), tmp_path / "pkg", sample_input=X, name="c",
                           version="1", code=tmp_path / "churn_features.py")
    # Someone removes the recorded type from the manifest: the artifact is no longer trusted.
    manifest = yaml.safe_load((path / "baton.yaml").read_text())
    manifest["model"]["trusted_types"] = []
    (path / "baton.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(UnsafeInputError, match="does not trust: churn_features.add_ratio"):
        modelbaton.load(path)


# --- XGBoost -----------------------------------------------------------------------------


def test_sklearn_one_pass_for_both_outputs_only_where_predict_is_the_argmax(iris):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline

    from modelbaton.flavors.sklearn import SklearnFlavor

    class Cautious(RandomForestClassifier):
        """Says 'unsure' below 90 % confidence: its predict is not predict_proba's argmax."""

        def predict(self, X):
            proba = self.predict_proba(X)
            return np.where(proba.max(axis=1) >= 0.9, self.classes_[proba.argmax(axis=1)],
                            "unsure")

    X, y = iris
    flavor = SklearnFlavor()
    for kind in (RandomForestClassifier, Cautious, RandomForestClassifier, Cautious):
        model = make_pipeline(kind(10, max_depth=2, random_state=0)).fit(X, y)
        prediction, probabilities = flavor.predict_with_proba(model, X)
        np.testing.assert_array_equal(prediction, model.predict(X), err_msg=kind.__name__)
        np.testing.assert_array_equal(probabilities, model.predict_proba(X))
    assert "unsure" in prediction

def test_xgboost_classifier_trained_on_encoded_labels(tmp_path, iris, hand_over):
    import xgboost as xgb
    from sklearn.preprocessing import LabelEncoder

    X, y = iris
    encoder = LabelEncoder().fit(y)
    model = xgb.XGBClassifier(n_estimators=8, max_depth=3).fit(X, encoder.transform(y))
    path = modelbaton.pack(model, tmp_path / "xgb", sample_input=X, name="iris", version="1",
                           labels=encoder.classes_)
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.model.serialization == "xgboost-ubj"
    assert manifest.interface.labels == ["setosa", "versicolor", "virginica"]
    assert manifest.model.options["classes"] == [0, 1, 2]
    expected = encoder.inverse_transform(model.predict(X))
    assert_predicts(hand_over(path), X, expected, model.predict_proba(X))
    assert set(expected) == {"setosa", "versicolor", "virginica"}


def test_labels_must_match_the_model_classes(tmp_path, iris):
    import xgboost as xgb

    X, y = iris
    model = xgb.XGBClassifier(n_estimators=2).fit(X, y.astype("category").cat.codes)
    with pytest.raises(BatonError, match="labels= has 2 values but the model has 3 classes"):
        modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="i", version="1",
                        labels=["a", "b"])
    assert not (tmp_path / "pkg").exists()


def test_xgboost_regressor(tmp_path, iris, hand_over):
    import xgboost as xgb

    X, _ = iris
    features, target = X.drop(columns="petal_width"), X["petal_width"]
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(features, target)
    path = modelbaton.pack(model, tmp_path / "xgbr", sample_input=features, name="width",
                           version="1")
    loaded = hand_over(path)
    assert_predicts(loaded, features, model.predict(features))
    assert loaded["copy"].manifest.interface.task == "regression"


def test_xgboost_raw_booster_scores_per_label(tmp_path, iris, hand_over):
    import xgboost as xgb

    X, y = iris
    codes = y.astype("category").cat.codes.to_numpy()
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
                        xgb.DMatrix(X.to_numpy(), label=codes), num_boost_round=5)
    labels = ["setosa", "versicolor", "virginica"]
    path = modelbaton.pack(booster, tmp_path / "booster", sample_input=X.to_numpy(),
                           name="iris", version="1", labels=labels)
    scores = booster.predict(xgb.DMatrix(X.to_numpy()))
    loaded = hand_over(path)
    for predictor in loaded.values():
        table = predictor.predict_table(X.to_numpy())
        assert list(table) == ["prediction", "score_setosa", "score_versicolor",
                               "score_virginica"]
        np.testing.assert_array_equal(np.column_stack([table[f"score_{k}"] for k in labels]),
                                      scores)
        np.testing.assert_array_equal(table["prediction"],
                                      np.array(labels, dtype=object)[scores.argmax(axis=1)])
    # Columns are named x0.. when the sample had no names.
    assert [f.name for f in loaded["copy"].inputs] == ["x0", "x1", "x2", "x3"]


# --- LightGBM ----------------------------------------------------------------------------


def test_lightgbm_classifier_keeps_its_string_labels(tmp_path, iris, hand_over):
    import lightgbm as lgb

    X, y = iris
    model = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
    path = modelbaton.pack(model, tmp_path / "lgb", sample_input=X, name="iris", version="1")
    assert read_manifest(path / "baton.yaml").model.serialization == "lightgbm-text"
    loaded = hand_over(path)
    assert_predicts(loaded, X, model.predict(X), model.predict_proba(X))
    assert loaded["archive"].labels == ["setosa", "versicolor", "virginica"]


def test_lightgbm_regressor_and_booster_from_text(tmp_path, iris, hand_over):
    import lightgbm as lgb

    X, _ = iris
    features, target = X.drop(columns="petal_width"), X["petal_width"]
    model = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(features, target)
    path = modelbaton.pack(model, tmp_path / "lgbr", sample_input=features, name="w",
                           version="1")
    assert_predicts(hand_over(path), features, model.predict(features))

    model.booster_.save_model(str(tmp_path / "model.txt"))
    booster = lgb.Booster(model_file=str(tmp_path / "model.txt"))
    path = modelbaton.pack(booster, tmp_path / "booster", sample_input=features, name="w",
                           version="2")
    predictor = modelbaton.load(path)
    np.testing.assert_array_equal(predictor.predict(features), booster.predict(features))


def test_lightgbm_pandas_categoricals(tmp_path, hand_over):
    import lightgbm as lgb

    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame({
        "tenure": rng.integers(0, 72, n),
        "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], n),
                               categories=["basic", "plus", "pro", "enterprise"]),
        "region": pd.Categorical(rng.choice([3, 7, 9], n)),
        "charges": rng.normal(70, 20, n),
    })
    y = np.where((frame["plan"] == "pro") | (frame["region"] == 9), "churn", "stay")
    model = lgb.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1).fit(frame, y)
    path = modelbaton.pack(model, tmp_path / "cat", sample_input=frame, name="c", version="1")
    fields = {f.name: f for f in read_manifest(path / "baton.yaml").interface.inputs}
    # The declared categories, including one the sample never shows.
    assert fields["plan"].categories == ["basic", "plus", "pro", "enterprise"]
    assert fields["region"].type == "integer" and fields["region"].categories == [3, 7, 9]

    # Callers send plain values; the package turns them back into the model's categoricals.
    plain = frame.astype({"plan": str, "region": int})
    loaded = hand_over(path)
    assert_predicts(loaded, plain, model.predict(frame), model.predict_proba(frame))
    with pytest.raises(BatonError, match="field 'plan': 'gold' is not one of"):
        loaded["copy"].predict(plain.head(2).assign(plan="gold"))


# --- ONNX --------------------------------------------------------------------------------


def test_onnx_from_skl2onnx_with_zipmap_probabilities(tmp_path, iris, hand_over):
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris
    matrix = X.to_numpy(np.float32)
    forest = RandomForestClassifier(10, max_depth=4, random_state=0).fit(matrix, y)
    graph = to_onnx(forest, matrix[:1])  # ZipMap probabilities by default
    assert [o.name for o in graph.graph.output] == ["output_label", "output_probability"]

    path = modelbaton.pack(graph, tmp_path / "onnx", sample_input=X, name="iris", version="1")
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.interface.task == "classification"
    assert manifest.interface.labels == ["setosa", "versicolor", "virginica"]

    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, zipmap = session.run(None, {session.get_inputs()[0].name: matrix})
    probabilities = np.array([[row[k] for k in manifest.interface.labels] for row in zipmap])
    assert_predicts(hand_over(path), X, labels, probabilities)
    assert (labels == forest.predict(matrix)).mean() > 0.97  # and it is the forest it came from


def test_onnx_graph_with_one_input_per_column(tmp_path, churn, hand_over):
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = churn
    pipeline = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["tenure", "charges"]),
                           ("cat", OneHotEncoder(), ["plan"])]),
        LogisticRegression(max_iter=500)).fit(X, y)
    graph = to_onnx(pipeline, initial_types=[
        ("tenure", Int64TensorType([None, 1])), ("charges", FloatTensorType([None, 1])),
        ("plan", StringTensorType([None, 1]))], options={"zipmap": False})
    path = modelbaton.pack(graph, tmp_path / "onnx", sample_input=X, name="churn", version="1")
    assert read_manifest(path / "baton.yaml").model.options["input"] == "dataframe"

    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {
        "tenure": X[["tenure"]].to_numpy(np.int64), "charges": X[["charges"]].to_numpy(np.float32),
        "plan": X[["plan"]].to_numpy(object)})
    assert_predicts(hand_over(path), X, labels, probabilities)


def test_onnx_load_for_a_replay_takes_large_tensors_from_the_file(tmp_path):
    import onnx

    from modelbaton.flavors import get_flavor, onnx as onnx_flavor
    from modelbaton.flavors._onnx_split import split

    rng = np.random.default_rng(7)
    path = tmp_path / "model.onnx"
    onnx.save(wide_network(rng), path)
    _, tensors = split(memoryview(path.read_bytes()), path.name, onnx_flavor._ITEMSIZES,
                       onnx_flavor._FROM_MEMORY_BYTES)
    assert [(t.name, t.dims) for t in tensors] == [("w1", (64, 6000)), ("w2", (6000, 100))]

    flavor = get_flavor("onnx")
    once, usual = flavor.load_once(path, None), flavor.load(path, None)
    assert once in onnx_flavor._BORROWED and usual not in onnx_flavor._BORROWED
    x = rng.standard_normal((50, 64)).astype(np.float32)
    np.testing.assert_array_equal(flavor.predict(once, x), flavor.predict(usual, x))
    assert np.abs(flavor.predict(once, x)).max() > 0


@pytest.mark.parametrize("content", [b"", b"not an onnx model", b"\x3a\xff\xff\xff\x7f"])
def test_onnx_load_for_a_replay_fails_like_the_usual_load(tmp_path, content):
    from modelbaton.flavors import get_flavor

    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    flavor = get_flavor("onnx")
    with pytest.raises(FlavorError, match="onnxruntime cannot load model.onnx"):
        flavor.load_once(path, None)
    with pytest.raises(FlavorError, match="onnxruntime cannot load model.onnx"):
        flavor.load(path, None)


# --- plain Python ------------------------------------------------------------------------

RULES = '''
"""A hand-written rule: the whole model is this code."""

import numpy as np


class Threshold:
    def __init__(self, column, cutoff, labels=("small", "large")):
        self.column, self.cutoff, self.labels = column, cutoff, list(labels)

    def get_params(self):
        return {"column": self.column, "cutoff": self.cutoff, "labels": self.labels}

    def predict(self, frame):
        return np.where(frame[self.column] > self.cutoff, self.labels[1], self.labels[0])


def area(frame):
    return frame["petal_length"] * frame["petal_width"]
'''


@pytest.fixture
def rules(tmp_path, monkeypatch):
    (tmp_path / "iris_rules.py").write_text(RULES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "iris_rules", raising=False)
    import iris_rules

    yield iris_rules
    sys.modules.pop("iris_rules", None)


def test_python_class_with_get_params_in_code(tmp_path, iris, rules, hand_over):
    X, _ = iris
    model = rules.Threshold("petal_length", 2.5)
    path = modelbaton.pack(model, tmp_path / "rule", sample_input=X, name="rule", version="1",
                           code=tmp_path / "iris_rules.py")
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.model.flavor == "python"
    assert manifest.model.hyperparameters == {"column": "petal_length", "cutoff": 2.5,
                                              "labels": ["small", "large"]}
    del sys.modules["iris_rules"]
    assert_predicts(hand_over(path), X, model.predict(X))


def test_python_plain_function_in_code(tmp_path, iris, rules, hand_over):
    X, _ = iris
    path = modelbaton.pack(rules.area, tmp_path / "fn", sample_input=X, name="area",
                           version="1", code=tmp_path / "iris_rules.py")
    assert read_manifest(path / "baton.yaml").interface.task == "regression"
    assert_predicts(hand_over(path), X, rules.area(X).to_numpy())


def test_python_model_defined_in_a_notebook_is_refused(tmp_path, iris):
    X, _ = iris

    def area(frame):
        return frame["petal_length"]

    area.__module__ = "__main__"
    with pytest.raises(UnsafeInputError, match="ship its module with code="):
        modelbaton.pack(area, tmp_path / "pkg", sample_input=X, name="a", version="1")


# --- pickle, only with consent -----------------------------------------------------------


class Handmade:
    """Not from a supported library and not shipped as code: only pickle can save it."""

    def __init__(self, cutoff: float):
        self.cutoff = cutoff

    def predict(self, frame):
        return (frame["petal_length"] > self.cutoff).astype(int).to_numpy()


def test_pickle_needs_consent_at_pack_and_at_load(tmp_path, iris, hand_over):
    X, _ = iris
    model = Handmade(2.5)
    with pytest.raises(UnsafeInputError, match="allow_pickle=True"):
        modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="h", version="1")
    assert not (tmp_path / "pkg").exists()

    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="h", version="1",
                           allow_pickle=True)
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.model.allow_pickle and manifest.model.serialization == "pickle"
    with pytest.raises(UnsafeInputError, match=r"pickle.*hint: pass allow_pickle=True"):
        modelbaton.load(path)
    assert_predicts(hand_over(path, allow_pickle=True), X, model.predict(X))


def test_pickle_flavor_by_name_still_needs_consent(tmp_path, iris):
    X, _ = iris
    with pytest.raises(BatonError, match="needs allow_pickle=True"):
        modelbaton.pack(Handmade(1.0), tmp_path / "pkg", sample_input=X, name="h",
                        version="1", flavor="pickle")


def test_unknown_flavor_suggests_the_nearest(tmp_path, iris):
    X, _ = iris
    with pytest.raises(FlavorError, match="unknown flavor 'sklaern'.*did you mean 'sklearn'"):
        modelbaton.pack(Handmade(1.0), tmp_path / "pkg", sample_input=X, name="h",
                        version="1", flavor="sklaern")


def test_an_object_without_predict_is_not_a_model(tmp_path, iris):
    X, _ = iris
    with pytest.raises(BatonError, match="is not a model: it has no predict"):
        modelbaton.pack(object(), tmp_path / "pkg", sample_input=X, name="h", version="1")


# --- code isolation ----------------------------------------------------------------------


def test_two_packages_shipping_the_same_module_name_each_use_their_own(tmp_path, iris,
                                                                        monkeypatch):
    X, _ = iris
    packages = {}
    for factor in (2, 3):
        project = tmp_path / f"project{factor}"
        project.mkdir()
        (project / "features.py").write_text(textwrap.dedent("""
            from helpers import FACTOR

            def score(frame):
                return frame["petal_length"] * FACTOR
        """))
        (project / "helpers.py").write_text(f"FACTOR = {factor}\n")
        monkeypatch.syspath_prepend(str(project))
        for name in ("features", "helpers"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        import features

        packages[factor] = modelbaton.pack(features.score, tmp_path / f"pkg{factor}",
                                           sample_input=X, name=f"x{factor}", version="1",
                                           code=project)
        sys.path.remove(str(project))
        del sys.modules["helpers"]
    sys.modules["features"] = own = type(sys)("features")  # the caller's own module
    champion, challenger = (modelbaton.load(packages[f]) for f in (2, 3))
    assert sys.modules["features"] is own and "helpers" not in sys.modules
    for _ in range(2):  # interleaved calls keep their own code
        np.testing.assert_array_equal(champion.predict(X), X["petal_length"] * 2)
        np.testing.assert_array_equal(challenger.predict(X), X["petal_length"] * 3)
    monkeypatch.delitem(sys.modules, "features")

