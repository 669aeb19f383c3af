"""Packing a real scikit-learn pipeline, handing it over and loading it back."""

from __future__ import annotations

import os
import shutil
import stat
import textwrap

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelbaton
from modelbaton.contract.errors import DataError, IntegrityError, PackageError, UnsafeInputError
from modelbaton.contract.io import read_manifest


@pytest.fixture(scope="module")
def mixed(churn):
    """A table with numbers, a category, an integer and missing values, and a label."""
    rng = np.random.default_rng(0)
    frame = churn[0].assign(score=np.where(rng.random(len(churn[0])) < 0.1, np.nan,
                                           rng.random(len(churn[0]))))
    y = (frame["charges"] > 70).astype(int)
    pre = ColumnTransformer([
        ("num", StandardScaler(), ["tenure", "charges"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
    ])
    model = make_pipeline(pre, RandomForestClassifier(20, random_state=0))
    model.fit(frame.fillna({"score": 0}), y)
    return model, frame.fillna({"score": 0}), frame, y


def test_pipeline_round_trip_predicts_exactly(tmp_path, mixed):
    model, train, _, _ = mixed
    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=train, name="churn",
                           version="1")
    predictor = modelbaton.load(path)
    np.testing.assert_array_equal(predictor.predict(train), model.predict(train))
    np.testing.assert_array_equal(predictor.predict_proba(train), model.predict_proba(train))

    manifest = read_manifest(path / "baton.yaml")
    fields = {f.name: f for f in manifest.interface.inputs}
    assert fields["tenure"].type == "integer"
    assert fields["charges"].type == "number"
    assert fields["plan"].categories == ["basic", "plus", "pro"]
    assert manifest.interface.labels == [0, 1]
    assert [f.name for f in manifest.interface.outputs] == [
        "prediction", "probability_0", "probability_1"]
    assert manifest.golden.rows == 20
    assert manifest.model.serialization == "skops"
    assert "ColumnTransformer" in manifest.model.architecture
    lock = (path / "env" / "requirements.lock").read_text()
    assert f"scikit-learn=={__import__('sklearn').__version__}" in lock
    assert "skops==" in lock and "numpy==" in lock
    # Every file is listed with its digest; the manifest itself and receipts are not.
    listed = {f.path for f in manifest.files}
    assert listed == {"model/model.skops", "data/golden.json", "data/reference.json",
                      "env/requirements.lock"}


def test_a_model_fitted_on_a_matrix_gets_the_interface_order_whatever_the_table_order(
        tmp_path, iris):
    X, y = iris
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X.to_numpy(), y)
    predictor = modelbaton.load(modelbaton.pack(model, tmp_path / "pkg", sample_input=X,
                                                name="iris", version="1"))
    assert not predictor.wants_frame
    table = {name: X[name].to_numpy() for name in reversed(X.columns)}
    matrix = predictor.model_input(table)
    assert matrix.dtype == np.float64 and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix, X.to_numpy())
    np.testing.assert_array_equal(predictor.predict(table), model.predict(X.to_numpy()))

def test_nullable_inferred_from_missing_values(tmp_path, mixed):
    model, _, with_nan, _ = mixed
    sample = with_nan.fillna({"score": 0.5})
    sample.loc[0, "score"] = np.nan
    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=sample, name="churn",
                           version="1", flavor="sklearn", golden_rows=5)
    fields = {f.name: f for f in read_manifest(path / "baton.yaml").interface.inputs}
    assert fields["score"].nullable and not fields["charges"].nullable


def test_feature_code_runs_before_the_model(tmp_path, iris):
    X, y = iris
    code = tmp_path / "features.py"
    code.write_text(textwrap.dedent("""
        import numpy as np

        def transform(df):
            out = df.copy()
            out["petal_area"] = df["petal_length"] * df["petal_width"]
            return out
    """))
    import importlib.util

    spec = importlib.util.spec_from_file_location("features_under_test", code)
    features = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(features)
    model = LogisticRegression(max_iter=1000).fit(features.transform(X), y)

    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="iris", version="1",
                           code=code, preprocessing="features:transform")
    shutil.move(path, tmp_path / "handed-over")  # the receiving team gets only the folder
    predictor = modelbaton.load(tmp_path / "handed-over")
    # Raw inputs in, the feature code applied, the same predictions out.
    np.testing.assert_array_equal(predictor.predict(X), model.predict(features.transform(X)))
    assert [f.name for f in predictor.inputs] == list(X.columns)
    assert predictor.labels == ["setosa", "versicolor", "virginica"]
    assert "numpy==" in (tmp_path / "handed-over" / "env" / "requirements.lock").read_text()


def test_tampered_artifact_fails_closed_naming_the_file(tmp_path, iris):
    X, y = iris
    path = modelbaton.pack(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "pkg",
                           sample_input=X, name="iris", version="1")
    artifact = path / "model" / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="model/model.skops differs"):
        modelbaton.load(path)


def test_missing_and_extra_files_are_named(tmp_path, iris):
    X, y = iris
    path = modelbaton.pack(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "pkg",
                           sample_input=X, name="iris", version="1")
    (path / "notes.txt").write_text("not packed")
    with pytest.raises(IntegrityError, match="not listed in the manifest: notes.txt"):
        modelbaton.load(path)
    (path / "notes.txt").unlink()
    (path / "data" / "golden.json").unlink()
    with pytest.raises(IntegrityError, match="missing: data/golden.json"):
        modelbaton.load(path)


def test_predicting_with_bad_columns_names_row_and_field(tmp_path, iris):
    X, y = iris
    predictor = modelbaton.load(modelbaton.pack(
        LogisticRegression(max_iter=500).fit(X, y), tmp_path / "pkg", sample_input=X,
        name="iris", version="1"))
    with pytest.raises(DataError, match="field 'petal_width': is required"):
        predictor.predict(X.drop(columns="petal_width"))
    with pytest.raises(DataError, match="field 'extra': is not an input"):
        predictor.predict(X.assign(extra=1))
    bad = X.head(3).astype(object)
    bad.loc[2, "sepal_length"] = "wide"
    with pytest.raises(DataError, match="row 2, field 'sepal_length': expected number, got 'wide'"):
        predictor.predict(bad)
    with pytest.raises(DataError, match="row 0, field 'sepal_width': 99 is outside"):
        predictor.predict(X.head(1).assign(sepal_width=99.0))


def test_pickle_needs_consent_at_pack_and_load(tmp_path, iris):
    X, y = iris

    class Custom:  # not from a supported library, code not shipped
        def __init__(self):
            self.model = LogisticRegression(max_iter=500).fit(X, y)

        def predict(self, data):
            return self.model.predict(data)

    with pytest.raises(UnsafeInputError, match="allow_pickle=True"):
        modelbaton.pack(Custom(), tmp_path / "pkg", sample_input=X, name="c", version="1")


def test_existing_target_is_not_overwritten_without_permission(tmp_path, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="iris", version="1")
    before = (path / "baton.yaml").read_text()
    with pytest.raises(PackageError, match="already exists"):
        modelbaton.pack(model, path, sample_input=X, name="iris", version="2")
    assert (path / "baton.yaml").read_text() == before


def test_failed_pack_leaves_nothing_behind(tmp_path, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.raises(modelbaton.BatonError):
        modelbaton.pack(model, tmp_path / "pkg", sample_input=X.head(0), name="iris",
                        version="1")
    assert list(tmp_path.iterdir()) == []


def test_keyword_sections_merge_into_the_draft(tmp_path, iris, cli):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    assert cli("init", tmp_path / "baton.yaml", "--name", "iris").code == 0
    path = modelbaton.pack(
        model, tmp_path / "pkg", sample_input=X, name="iris", version="2", handoff=tmp_path /
        "baton.yaml", owners={"monitoring": {"name": "ML on-call", "contact": "pager:ml"}},
        limitations={"known": ["trained on three species only"]})
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.version == "2"  # the keyword wins over the draft's 1.0.0
    assert manifest.owners.monitoring.name == "ML on-call"
    # The draft's other owners are kept; a list given as a keyword replaces the draft's.
    assert manifest.owners.data_steward.name.startswith("TODO: who answers for the training")
    assert manifest.limitations.known == ["trained on three species only"]
    assert manifest.limitations.failure_modes == ["TODO: how it fails, and how that shows"]
    assert manifest.monitoring.drift.psi_alert == 0.25


def test_keyword_section_typo_suggests_the_field(tmp_path, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.raises(modelbaton.BatonError) as info:
        modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="iris", version="1",
                        owners={"monitorng": {"name": "x"}})
    assert "unknown key `owners.monitorng`" in str(info.value)
    assert "did you mean `monitoring`?" in str(info.value)
    with pytest.raises(modelbaton.BatonError, match="unknown key `retrainig`"):
        modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="iris", version="1",
                        retrainig={"cadence": "monthly"})
    assert not (tmp_path / "pkg").exists()


def test_package_is_readable_by_whoever_receives_it(tmp_path, iris):
    X, y = iris
    path = modelbaton.pack(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "pkg",
                           sample_input=X, name="iris", version="1")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]  # no staging folder left


def test_documents_travel_in_docs_and_are_digested(tmp_path, iris, cli):
    X, y = iris
    (tmp_path / "design.md").write_text("# Why a linear model\n")
    (tmp_path / "evaluation").mkdir()
    (tmp_path / "evaluation" / "report.html").write_text("<h1>holdout</h1>")
    model = LogisticRegression(max_iter=500).fit(X, y)
    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="iris", version="2",
                           docs=[tmp_path / "design.md", tmp_path / "evaluation"],
                           parent_version="iris:1")
    manifest = read_manifest(path / "baton.yaml")
    listed = {f.path for f in manifest.files}
    assert {"docs/design.md", "docs/evaluation/report.html"} <= listed
    assert manifest.lineage.parent_version == "iris:1"
    (path / "docs" / "design.md").write_text("# Why a linear model (edited)\n")
    with pytest.raises(IntegrityError, match="docs/design.md differs"):
        modelbaton.load(path)

    with pytest.raises(PackageError, match="document .*missing.md does not exist"):
        modelbaton.pack(model, tmp_path / "pkg2", sample_input=X, name="iris", version="2",
                        docs=tmp_path / "missing.md")
    assert not (tmp_path / "pkg2").exists()
    X.to_csv(tmp_path / "sample.csv", index=False)
    import skops.io as sio

    sio.dump(model, tmp_path / "model.skops")
    result = cli("pack", tmp_path / "model.skops", "--sample", tmp_path / "sample.csv",
                 "--out", tmp_path / "pkg3", "--name", "iris", "--version", "3",
                 "--docs", tmp_path / "design.md", "--parent-version", "iris:2", "--json")
    assert result.code == 0, result.err
    manifest = read_manifest(tmp_path / "pkg3" / "baton.yaml")
    assert "docs/design.md" in {f.path for f in manifest.files}
    assert manifest.lineage.parent_version == "iris:2"
