"""`baton diff`: the semantic difference between two real packages."""

from __future__ import annotations

import json

import pytest
from _handoff import full_handoff, variant
from sklearn.linear_model import LogisticRegression

import modelbaton
from modelbaton.package.diff import diff_packages


@pytest.fixture(scope="module")
def versions(tmp_path_factory, iris):
    """Version 1 and a retrained version 2: other hyperparameters, data, metric, text."""
    X, y = iris
    folder = tmp_path_factory.mktemp("diff")
    one = modelbaton.pack(LogisticRegression(C=1.0, max_iter=1000).fit(X, y), folder / "v1",
                          sample_input=X, name="iris", version="1", handoff=full_handoff(),
                          training_data=X.assign(species=y))
    handoff = full_handoff()
    handoff["evaluation"]["metrics"][0]["value"] = 0.93
    handoff["limitations"]["known"].append("Petals under 1 mm are rare.")
    handoff["performance"]["measured"]["latency_ms"]["p99"] = 2.5
    two = modelbaton.pack(LogisticRegression(C=0.1, max_iter=1000).fit(X, y), folder / "v2",
                          sample_input=X, name="iris", version="2", handoff=handoff,
                          training_data=X.head(120).assign(species=y.head(120)))
    return one, two


def by_path(changes):
    return {c.path: c for c in changes}


def test_retrained_version_is_compatible_with_deltas(cli, versions):
    one, two = versions
    result = cli("diff", one, two)
    assert result.code == 0, result.out
    assert "no breaking interface change" in result.out
    assert "accuracy [training]: changed 0.96 → 0.93 (-0.03, worse)" in result.out
    diff = diff_packages(modelbaton.open_package(one), modelbaton.open_package(two))
    hyper = by_path(diff.section("hyperparameters"))
    assert (hyper["C"].old, hyper["C"].new, hyper["C"].delta) == (1.0, 0.1, -0.9)
    metric = by_path(diff.section("metrics"))["accuracy [training]"]
    assert (metric.old, metric.new, metric.delta, metric.note) == (0.96, 0.93, -0.03, "worse")
    p99 = by_path(diff.section("performance"))["measured.latency_ms.p99"]
    assert (p99.delta, p99.note) == (0.5, "worse")
    data = by_path(diff.section("data"))
    assert data["training.rows"].old == 150 and data["training.rows"].delta == -30
    assert "training.sha256" in data
    human = by_path(diff.section("human sections"))
    assert human["limitations.known"].new[-1] == "Petals under 1 mm are rare."
    assert "artifact sha256" in by_path(diff.section("model"))
    # Ranges inferred from fewer rows may only widen or stay: listed, never breaking here.
    assert not diff.breaking


def test_breaking_interface_changes_exit_3(tmp_path, cli, versions):
    one, _ = versions

    def breaking(m):
        inputs = m.interface.inputs
        inputs[0].name = "sepal_len"  # renamed
        inputs[1].maximum = 4.0  # narrowed (was 4.4)
        inputs[2].maximum = 10.0  # widened: compatible
        inputs.pop(3)  # petal_width removed
        m.interface.outputs[0].categories = ["setosa", "versicolor"]
        m.interface.labels = ["setosa", "versicolor"]

    changed = variant(one, tmp_path / "changed", breaking)
    result = cli("diff", one, changed, "--json")
    assert result.code == 3
    data = json.loads(result.out)
    assert data["breaking"] is True
    changes = {c["path"]: c for c in data["changes"]}
    assert changes["inputs.sepal_length"]["kind"] == "renamed"
    assert changes["inputs.sepal_length"]["new"] == "sepal_len"
    assert changes["inputs.sepal_width.maximum"]["kind"] == "narrowed"
    assert changes["inputs.sepal_width.maximum"]["breaking"] is True
    assert changes["inputs.petal_length.maximum"]["kind"] == "widened"
    assert changes["inputs.petal_length.maximum"]["breaking"] is False
    assert changes["inputs.petal_width"]["kind"] == "removed"
    assert changes["outputs.prediction.categories"]["breaking"] is True
    assert changes["labels"]["breaking"] is True

    text = cli("diff", one, changed)
    assert text.code == 3 and "BREAKING inputs.sepal_length: renamed" in text.out
    markdown = cli("diff", one, changed, "--format", "markdown").out
    assert markdown.startswith("### iris 1 → iris 1")
    assert "**5 breaking interface change(s)**" in markdown
    assert "| 💥 | `inputs.petal_width` | removed" in markdown


def test_type_and_nullability_changes_are_classified(tmp_path, versions):
    one, _ = versions

    def change(m):
        inputs = m.interface.inputs
        inputs[0].type = "integer"  # number -> integer narrows what callers may send
        inputs[1].nullable = True  # accepting missing values widens
        m.interface.inputs.append(inputs[2].model_copy(update={"name": "soil_ph"}))

    def widen(m):
        m.interface.inputs[0].type = "number"

    narrowed = variant(one, tmp_path / "a", change)
    changes = by_path(diff_packages(modelbaton.open_package(one),
                                    modelbaton.open_package(narrowed)).changes)
    assert changes["inputs.sepal_length.type"].breaking
    assert not changes["inputs.sepal_width.nullable"].breaking
    assert changes["inputs.soil_ph"].kind == "added" and changes["inputs.soil_ph"].breaking
    # integer -> number accepts every value it accepted before.
    back = variant(narrowed, tmp_path / "b", widen)
    again = by_path(diff_packages(modelbaton.open_package(narrowed),
                                  modelbaton.open_package(back)).changes)
    assert again["inputs.sepal_length.type"].kind == "widened"
    assert not again["inputs.sepal_length.type"].breaking


def test_dependency_versions_are_compared(tmp_path, versions):
    one, _ = versions
    lock = (one / "env" / "requirements.lock").read_text()
    numpy_line = next(line for line in lock.splitlines() if line.startswith("numpy=="))
    newer = lock.replace(numpy_line, "numpy==99.0.0") + "threadpoolctl-extra==1.0\n"
    other = variant(one, tmp_path / "deps", files={"env/requirements.lock": newer})
    deps = by_path(diff_packages(modelbaton.open_package(one),
                                 modelbaton.open_package(other)).section("dependencies"))
    assert deps["numpy"].new == "99.0.0" and deps["numpy"].kind == "changed"
    assert deps["threadpoolctl-extra"].kind == "added"


def test_identical_packages_have_no_changes(cli, versions):
    one, _ = versions
    result = cli("diff", one, one)
    assert result.code == 0 and "no differences" in result.out


def test_diff_bad_input(tmp_path, cli, versions):
    one, _ = versions
    missing = cli("diff", one, tmp_path / "nope")
    assert missing.code == 2 and "does not exist" in missing.err
    assert cli("diff", one, one, "--format", "html").code == 2
