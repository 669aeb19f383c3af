"""Reference profiles and drift statistics, against independent computations on raw data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sp
from scipy.spatial.distance import jensenshannon
from sklearn.linear_model import LogisticRegression

import modelbaton
from modelbaton.contract.errors import DataError
from modelbaton.contract.io import read_manifest
from modelbaton.data import profile as prof
from modelbaton.data.profile import Profile, numerical_profile, read_profile
from modelbaton.monitor import stats


def test_ks_equals_scipy_where_the_sketch_is_exact():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 300, 20_000).astype(float)  # 300 distinct: an exact sketch
    current = rng.normal(160, 80, 4_000).round(1)  # values between and beyond the sketch
    ref = numerical_profile(reference)
    cur = numerical_profile(current, ref)
    assert ref.exact and len(ref.values) == 300
    ks = stats.ks_test(ref, cur)
    expected = sp.ks_2samp(reference, current)  # scipy's own choice of method (asymptotic)
    assert ks.error == 0.0
    assert ks.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert ks.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3])
def test_ks_on_continuous_data_is_within_its_documented_bound(shift):
    rng = np.random.default_rng(1)
    reference = rng.lognormal(0, 1, 50_000)
    current = rng.lognormal(shift, 1.1, 8_000)
    ref = numerical_profile(reference)
    ks = stats.ks_test(ref, numerical_profile(current, ref))
    true = sp.ks_2samp(reference, current).statistic
    assert not ref.exact and 0 < ks.error <= 1 / prof.SKETCH_POINTS + 1e-9
    assert ks.statistic - 1e-12 <= true <= ks.statistic + ks.error + 1e-12
    assert ks.pvalue == pytest.approx(stats.ks_pvalue(ks.statistic, 50_000, 8_000))


def test_psi_equals_the_direct_formula_on_the_reference_deciles():
    rng = np.random.default_rng(2)
    reference, current = rng.normal(0, 1, 10_000), rng.normal(0.4, 1.2, 3_000)
    ref = numerical_profile(reference)
    cur = numerical_profile(current, ref)
    # The bins independently: (-inf, e1], (e1, e2], ..., (e9, inf) on the raw values.
    edges = np.quantile(reference, np.arange(1, 10) / 10, method="inverted_cdf")
    np.testing.assert_array_equal(ref.cuts, edges)
    np.testing.assert_array_equal(ref.edges, np.r_[reference.min(), edges, reference.max()])
    expected = np.bincount(np.searchsorted(edges, current, side="left"), minlength=10)
    np.testing.assert_array_equal(cur.counts, expected)
    p = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=10) / 10_000
    p, q = np.maximum(p, 1e-4), np.maximum(expected / 3_000, 1e-4)
    assert stats.psi(ref.counts, cur.counts) == pytest.approx(np.sum((q - p) * np.log(q / p)))
    # An empty bin is smoothed by the epsilon instead of making the PSI infinite.
    assert stats.psi(np.array([50, 50, 0]), np.array([40, 40, 20])) == pytest.approx(
        (0.2 - 1e-4) * np.log(0.2 / 1e-4) + 2 * (0.4 - 0.5) * np.log(0.4 / 0.5))


def test_chi_squared_and_jensen_shannon_equal_scipy():
    rng = np.random.default_rng(3)
    reference = rng.choice(["a", "b", "c", "d"], 5_000, p=[0.4, 0.3, 0.2, 0.1])
    current = rng.choice(["a", "b", "c", "e"], 800, p=[0.3, 0.3, 0.3, 0.1])
    ref = prof.categorical_profile(dict(zip(*np.unique(reference, return_counts=True))))
    cur = prof.categorical_profile(dict(zip(*np.unique(current, return_counts=True))),
                                   keep=ref.frequencies)
    keys, r, c = stats.category_counts(ref, cur)
    assert keys == ["a", "b", "c", "d", "e"]
    table = pd.crosstab(np.r_[np.zeros(5_000), np.ones(800)], np.r_[reference, current])
    np.testing.assert_array_equal(np.vstack([r, c]), table[keys].to_numpy())
    chi = stats.chi_squared(r, c)
    expected = sp.chi2_contingency(table.to_numpy(), correction=False)
    assert chi.statistic == pytest.approx(expected.statistic)
    assert chi.pvalue == pytest.approx(expected.pvalue)
    assert chi.dof == expected.dof
    assert stats.js_distance(r, c) == pytest.approx(jensenshannon(r / r.sum(), c / c.sum(),
                                                                  base=2))
    assert stats.js_distance(r, r) == pytest.approx(0.0)


def test_wasserstein_is_close_to_scipy():
    rng = np.random.default_rng(4)
    reference, current = rng.gamma(2, 2, 30_000), rng.gamma(2.5, 2, 5_000) - 1
    ref = numerical_profile(reference)
    distance = stats.wasserstein(ref, numerical_profile(current, ref))
    assert distance == pytest.approx(sp.wasserstein_distance(reference, current), rel=0.03)


def test_windows_merge_into_the_profile_of_all_their_rows():
    rng = np.random.default_rng(5)
    ref = numerical_profile(rng.normal(0, 1, 5_000))
    data = rng.normal(0.2, 1, 3_000)
    data[::50] = np.nan
    whole = numerical_profile(data, ref)
    merged = numerical_profile(data[:1000], ref).merge(numerical_profile(data[1000:], ref))
    for name in ("count", "missing", "minimum", "maximum", "below", "above"):
        assert getattr(merged, name) == pytest.approx(getattr(whole, name))
    assert merged.mean == pytest.approx(np.nanmean(data))
    assert merged.std == pytest.approx(np.nanstd(data))
    np.testing.assert_array_equal(merged.at, whole.at)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    # Through JSON and back, as windows stored by a scheduler would be.
    back = prof.NumericalProfile.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert back.same_grid(ref) and back.std == pytest.approx(merged.std)
    with pytest.raises(DataError, match="different grids"):
        merged.merge(numerical_profile(data))


def test_categories_keep_the_top_and_count_the_rest_as_other(monkeypatch):
    monkeypatch.setattr(prof, "TOP_CATEGORIES", 3)
    counts = {"a": 50, "b": 40, "c": 30, "d": 20, "e": 10}
    top = prof.categorical_profile(counts)
    assert top.frequencies == {"a": 50, "b": 40, "c": 30} and top.other == 30
    assert top.count == 150
    kept = prof.categorical_profile(counts, keep=["e"])  # a reference category is never folded
    assert kept.frequencies["e"] == 10 and kept.other == 20
    window = prof.categorical_profile({"a": 5, "z": 7})
    merged = Profile({"x": top}).merge(Profile({"x": window}), reference=Profile({"x": top}))
    assert merged.features["x"].frequencies["a"] == 55 and merged.features["x"].count == 162


def test_values_of_the_wrong_type_are_counted_not_used():
    values, invalid = prof.as_numbers(np.array([1, "2.5", "wide", None, True, float("inf")],
                                               dtype=object))
    np.testing.assert_array_equal(np.isnan(values), [False, False, True, True, True, True])
    assert invalid.count == 3 and invalid.row == 2 and invalid.value == "wide"
    spec = modelbaton.contract.manifest.FieldSpec(name="flag", type="boolean")
    counts, missing, bad = prof.as_categories(np.array([True, "false", None, 3], dtype=object),
                                              spec)
    assert counts == {"true": 1, "false": 1} and missing == 1 and bad.count == 1


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    rng = np.random.default_rng(6)
    n = 2_000
    frame = pd.DataFrame({"age": rng.normal(40, 10, n).round(1),
                          "visits": rng.integers(0, 12, n),
                          "plan": rng.choice(["basic", "plus", "pro"], n)})
    label = (frame["age"] + rng.normal(0, 5, n) > 42).astype(int)
    path = tmp_path_factory.mktemp("data") / "train.csv"
    frame.assign(label=label).to_csv(path, index=False)
    numeric = frame[["age", "visits"]]
    model = LogisticRegression(max_iter=1000).fit(numeric, label)
    return model, numeric, label, path


def test_pack_stores_the_training_profile_and_the_model_outputs(tmp_path, training):
    model, numeric, label, path = training
    sample = numeric.head(100)  # the interface from a few rows, the profile from all of them
    pkg = modelbaton.pack(model, tmp_path / "pkg", sample_input=sample, name="m", version="1",
                          training_data=path)
    manifest = read_manifest(pkg / "baton.yaml")
    assert manifest.data.reference == "data/reference.json"
    assert "data/reference.json" in {f.path for f in manifest.files}
    raw = json.loads((pkg / "data" / "reference.json").read_text())
    assert raw["version"] == 1 and raw["rows"] == 2_000 and raw["info"]["source"] == \
        "training_data"
    assert set(raw["features"]) == {"age", "visits"}  # the label column is not an input
    age = raw["features"]["age"]
    assert {"edges", "counts", "min", "max", "mean", "std", "missing", "sketch"} <= set(age)
    assert age["mean"] == pytest.approx(numeric["age"].mean())
    assert age["std"] == pytest.approx(numeric["age"].std(ddof=0))
    # The histogram convention the report's charts read: edges from min to max.
    assert sum(age["counts"]) == 2_000 and len(age["edges"]) == len(age["counts"]) + 1
    assert age["edges"][0] == age["min"] and age["edges"][-1] == age["max"]
    assert age["edges"] == sorted(age["edges"])
    profile = read_profile(pkg / "data" / "reference.json")
    predicted = model.predict(numeric)
    outputs = profile.outputs
    assert outputs["prediction"].frequencies == {
        str(k): int(v) for k, v in zip(*np.unique(predicted, return_counts=True))}
    assert outputs["probability_1"].mean == pytest.approx(
        model.predict_proba(numeric)[:, 1].mean())
    # Statistics only: no row of the training data can be rebuilt from the profile.
    assert "rows" not in raw["features"]["age"]["sketch"]


def test_pack_without_training_data_profiles_the_sample(tmp_path, training):
    model, numeric, _, _ = training
    pkg = modelbaton.pack(model, tmp_path / "pkg", sample_input=numeric, name="m", version="1")
    profile = read_profile(pkg / "data" / "reference.json")
    assert profile.info["source"] == "sample_input" and profile.rows == len(numeric)


def test_large_training_data_scores_a_sample_and_says_so(tmp_path, training, monkeypatch):
    model, numeric, _, _ = training
    monkeypatch.setattr(prof, "PREDICTION_ROWS", 500)
    pkg = modelbaton.pack(model, tmp_path / "pkg", sample_input=numeric.head(50), name="m",
                          version="1", training_data=numeric)
    profile = read_profile(pkg / "data" / "reference.json")
    assert profile.features["age"].count == 2_000
    assert profile.outputs["prediction"].count == 500
    assert profile.info["predictions"]["of"] == 2_000
    assert profile.info["predictions"]["dkw_95"] == pytest.approx(
        np.sqrt(np.log(2 / 0.05) / 1000), abs=1e-6)


def test_training_data_without_an_input_is_refused_naming_it(tmp_path, training):
    model, numeric, _, _ = training
    with pytest.raises(DataError, match="training data has no column 'visits'"):
        modelbaton.pack(model, tmp_path / "pkg", sample_input=numeric, name="m", version="1",
                        training_data=numeric.drop(columns="visits"))
    assert not (tmp_path / "pkg").exists()
