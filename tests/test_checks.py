"""`baton check`: the handoff checklist on real packages, its formats, config and receipts."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from _handoff import full_handoff, variant
from sklearn.linear_model import LogisticRegression

import modelbaton
from modelbaton.checks import RULES, run_checks
from modelbaton.checks.formats import rules_markdown
from modelbaton.checks.secrets import scan_file
from modelbaton.package.receipts import latest, read_receipts

ROOT = Path(__file__).resolve().parents[1]
FEATURES = '''
def transform(df):
    out = df.copy()
    out["petal_area"] = df["petal_length"] * df["petal_width"]
    return out
'''


@pytest.fixture(scope="module")
def packages(tmp_path_factory, iris):
    """A fully written package (with feature code) and one packed with no handoff at all."""
    X, y = iris
    folder = tmp_path_factory.mktemp("packages")
    (folder / "features.py").write_text(FEATURES)
    frame = X.assign(petal_area=X["petal_length"] * X["petal_width"])
    model = LogisticRegression(max_iter=1000).fit(frame, y)
    full = modelbaton.pack(model, folder / "full", sample_input=X, name="iris", version="1.0",
                           code=folder / "features.py", preprocessing="features:transform",
                           training_data=X.assign(species=y), handoff=full_handoff())
    bare = modelbaton.pack(LogisticRegression(max_iter=1000).fit(X, y), folder / "bare",
                           sample_input=X, name="iris", version="0.1")
    return full, bare


def failed(result) -> dict[str, list]:
    return {r.rule.id: r.findings for r in result.results if r.status == "failed"}


def test_a_fully_written_package_passes_every_error_rule(cli, packages):
    full, _ = packages
    result = cli("check", full, "--no-receipt")
    assert result.code == 0, result.out
    assert "ready for handoff" in result.out
    checked = run_checks(modelbaton.open_package(full))
    assert checked.passed
    errors = [r.rule.id for r in checked.results
              if r.status == "failed" and r.severity.value == "error"]
    assert errors == []
    # The golden replay and the import of the feature code really ran.
    assert {"BTN210", "BTN221"} <= {r.rule.id for r in checked.results if r.status == "passed"}


def test_a_bare_package_lists_what_the_handoff_lacks(cli, packages):
    _, bare = packages
    result = cli("check", bare, "--no-receipt")
    assert result.code == 1
    found = failed(run_checks(modelbaton.open_package(bare)))
    for rule_id in ("BTN102", "BTN110", "BTN301", "BTN310", "BTN401", "BTN410", "BTN420",
                    "BTN430", "BTN440", "BTN501"):
        assert rule_id in found, rule_id
    todo = found["BTN102"]
    # Each TODO is named by field and located on its line of baton.yaml.
    lines = (bare / "baton.yaml").read_text().splitlines()
    owner = next(f for f in todo if f.field == "owners.training.name")
    assert "TODO" in lines[owner.line - 1] and "training" in lines[owner.line - 2]
    assert "baton.yaml:" in result.out and "owners.training.name" in result.out
    assert "not ready for handoff" in result.out


def test_score_weights_rules_by_severity(packages):
    _, bare = packages
    result = run_checks(modelbaton.open_package(bare))
    weights = {"error": 3, "warning": 2, "info": 1}
    total = sum(weights[r.severity.value] for r in result.results)
    passed = sum(weights[r.severity.value] for r in result.results if r.status == "passed")
    assert result.score == round(100 * passed / total, 1)
    assert 0 < result.score < 100


def test_golden_replay_that_differs_names_the_rows(tmp_path, packages):
    full, _ = packages
    golden = json.loads((full / "data" / "golden.json").read_text())
    golden["outputs"]["prediction"][3] = "virginica" if golden["outputs"]["prediction"][3] \
        != "virginica" else "setosa"
    golden["outputs"]["probability_setosa"][5] += 0.25
    pkg = variant(full, tmp_path / "pkg", files={"data/golden.json": json.dumps(golden)})
    findings = failed(run_checks(modelbaton.open_package(pkg)))["BTN221"]
    by_column = {f.field: f for f in findings}
    assert by_column["prediction"].rows == [3]
    assert by_column["probability_setosa"].rows == [5]
    assert "row 5" in by_column["probability_setosa"].message


def test_golden_replay_of_a_large_onnx_network_catches_changed_weights(tmp_path):
    """The replay loads large tensors from memory (see the ONNX flavor's load_once): it must
    still be the packaged weights that give the outputs."""
    import pandas as pd
    from _onnx_models import wide_network
    from onnx import numpy_helper

    rng = np.random.default_rng(3)
    graph = wide_network(rng)
    X = pd.DataFrame(rng.standard_normal((40, 64)), columns=[f"f{i}" for i in range(64)])
    pkg = modelbaton.pack(graph, tmp_path / "wide", sample_input=X, name="wide", version="1")
    assert "BTN221" not in failed(run_checks(modelbaton.open_package(pkg)))

    w1 = next(t for t in graph.graph.initializer if t.name == "w1")
    weights = numpy_helper.to_array(w1).copy()
    weights[:, 17] *= 1.5  # one hidden unit, among 6,000
    w1.CopyFrom(numpy_helper.from_array(weights, "w1"))
    changed = variant(pkg, tmp_path / "changed",
                      files={"model/model.onnx": graph.SerializeToString()})
    findings = failed(run_checks(modelbaton.open_package(changed)))["BTN221"]
    assert findings and all(f.rows for f in findings)


def test_secrets_are_found_and_never_shown(tmp_path, cli, packages):
    full, _ = packages
    key, password = "AKIA" + "Q" * 16, "s3cr3t-Pa55"
    settings = f'S3_KEY = "{key}"\nDB = "postgresql://ml:{password}@db.internal/features"\n' \
               'SAFE = "https://user:${DB_PASSWORD}@db.internal"\n'
    pkg = variant(full, tmp_path / "pkg", files={"code/settings.py": settings})
    found = failed(run_checks(modelbaton.open_package(pkg)))["BTN601"]
    assert [(f.file, f.line, f.message.split(" (")[0]) for f in found] == [
        ("code/settings.py", 1, "AWS access key id"),
        ("code/settings.py", 2, "password in a URL")]
    result = cli("check", pkg, "--format", "json", "--no-receipt")
    assert result.code == 1
    assert key not in result.out and password not in result.out


def test_secret_inside_a_binary_artifact_is_found(tmp_path):
    blob = bytearray(np.random.default_rng(1).standard_normal(400_000).tobytes())
    token = b"ghp_" + b"a1B2" * 9
    for offset in (12_345, 12_345 + 1000 + 3):  # aligned and unaligned
        blob[offset:offset + len(token)] = token
    blob[:1] = b"\0"
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(blob))
    hits = scan_file(path)
    assert [(h.kind, h.offset, h.line) for h in hits] == [
        ("GitHub token", 12_345, None), ("GitHub token", 13_348, None)]
    zeros = tmp_path / "zeros.bin"
    zeros.write_bytes(bytes(64_000))
    assert scan_file(zeros) == []


def test_placeholders_are_not_secrets(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("url: postgresql://user:${PASSWORD}@db/x\npassword = '<your password>'\n"
                    "token: TODO\n")
    assert scan_file(path) == []


def test_pickles_and_unpinned_dependencies_are_flagged(tmp_path, packages):
    import pickle

    full, _ = packages
    lock = (full / "env" / "requirements.lock").read_text()
    lock = lock.replace("numpy==", "numpy>=", 1) + "requests\n-e ./local-lib\n"
    pkg = variant(full, tmp_path / "pkg", files={
        "env/requirements.lock": lock, "code/encoder.bin": pickle.dumps({"a": 1})})
    found = failed(run_checks(modelbaton.open_package(pkg)))
    assert [f.file for f in found["BTN610"]] == ["code/encoder.bin"]
    pins = {f.message for f in found["BTN201"]}
    assert any(m.startswith("numpy>=") and "not an exact pin" in m for m in pins)
    assert "requests: 'no version' is not an exact pin" in pins
    assert any("editable" in m for m in pins)
    numpy_line = next(f.line for f in found["BTN201"] if f.message.startswith("numpy"))
    assert lock.splitlines()[numpy_line - 1].startswith("numpy>=")


def test_feature_code_outside_the_package_is_flagged(tmp_path, packages):
    full, _ = packages

    def elsewhere(m):
        m.preprocessing.entry_point = "json:dumps"

    def broken(m):
        m.preprocessing.entry_point = "features:no_such_function"

    found = failed(run_checks(modelbaton.open_package(variant(full, tmp_path / "a",
                                                              elsewhere))))
    assert "is not in code/" in found["BTN210"][0].message
    found = failed(run_checks(modelbaton.open_package(variant(full, tmp_path / "b", broken))))
    assert "no_such_function" in found["BTN210"][0].message


def test_human_section_rules_catch_what_is_wrong(tmp_path, cli, packages):
    full, _ = packages

    def spoil(m):
        m.evaluation.metrics[0].value = 0.5
        m.performance.measured.latency_ms.p99 = 25.0
        m.support.until = dt.date.today() - dt.timedelta(days=1)
        m.monitoring.paged = None
        m.monitoring.drift = None
        m.owners.deployment.contact = None
        m.limitations.failure_modes = []
        m.retraining.triggers = ["TODO: [fill in] what forces a retrain"]
        m.rollback.plan = ""
        m.data.datasets[0].columns = ["sepal_length", "customer_email", "DateOfBirth"]

    found = failed(run_checks(modelbaton.open_package(variant(full, tmp_path / "pkg", spoil))))
    messages = {rule: " | ".join(f.message for f in found[rule]) for rule in found}
    assert "accuracy = 0.5 is below its threshold 0.9" in messages["BTN302"]
    assert "latency p99 25 ms exceeds the budget of 10 ms" in messages["BTN312"]
    assert "support window ended" in messages["BTN430"]
    assert "no drift threshold" in messages["BTN420"] and "nobody is paged" in messages["BTN420"]
    assert "deployment owner (Platform team) has no contact" in messages["BTN110"]
    assert "no failure mode" in messages["BTN401"]
    assert "no retraining trigger" in messages["BTN410"]
    assert "retraining.triggers[0]" in {f.field for f in found["BTN102"]}
    assert "no rollback plan" in messages["BTN440"]
    text = cli("check", tmp_path / "pkg", "--no-receipt").out
    assert "'TODO: [fill in] what forces a retrain'" in text  # user text is not markup
    assert "customer_email" in messages["BTN510"] and "DateOfBirth" in messages["BTN510"]
    assert "sepal_length" not in messages["BTN510"]


def test_declared_pii_passes(tmp_path, packages):
    full, _ = packages

    def declare(m):
        m.data.datasets[0].columns = ["customer_email"]
        m.data.datasets[0].pii = ["customer_email"]

    found = failed(run_checks(modelbaton.open_package(variant(full, tmp_path / "p", declare))))
    assert "BTN510" not in found


# --- formats ------------------------------------------------------------------------------


def test_json_junit_and_markdown_formats(tmp_path, cli, packages):
    _, bare = packages
    data = json.loads(cli("check", bare, "--json", "--no-receipt").out)
    assert data["passed"] is False and data["errors"] > 0
    assert {r["id"] for r in data["rules"]} == set(RULES)
    todo = next(r for r in data["rules"] if r["id"] == "BTN102")
    assert todo["status"] == "failed" and todo["findings"][0]["file"] == "baton.yaml"

    report = tmp_path / "junit.xml"
    result = cli("check", bare, "--format", "junit", "--output", report, "--no-receipt")
    assert result.code == 1 and "not ready for handoff" in result.out  # text still printed
    suite = ET.parse(report).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(RULES)
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures")) == len(failures) > 0
    owners = next(c for c in cases if c.get("name") == "BTN110 owners-named")
    assert owners.find("failure").get("type") == "error"

    markdown = cli("check", bare, "--format", "markdown", "--no-receipt").out
    assert markdown.startswith("### Baton handoff checklist: `iris` 0.1")
    assert "| ✗ | BTN110 owners-named | error |" in markdown
    assert "<details><summary>" in markdown


def test_unknown_format_or_unwritable_output_is_a_one_line_error(tmp_path, cli, packages):
    result = cli("check", packages[0], "--format", "xml")
    assert result.code == 2 and "unknown format 'xml'" in result.err
    result = cli("check", packages[0], "--no-receipt", "-f", "junit", "-o",
                 tmp_path / "no-such-dir" / "junit.xml")
    assert result.code == 2 and "no-such-dir does not exist" in result.err


# --- configuration ------------------------------------------------------------------------


def test_pyproject_ignores_with_reason_and_changes_severity(tmp_path, cli, packages):
    _, bare = packages
    project = tmp_path / "repo"
    pkg = variant(bare, project / "dist" / "pkg")
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "iris-model"

        [tool.baton]
        severity = { BTN230 = "error" }

        [tool.baton.ignore]
        BTN4 = "operations are handled by the platform team's runbook"
    """))
    result = cli("check", pkg, "--json", "--no-receipt")
    rules = {r["id"]: r for r in json.loads(result.out)["rules"]}
    assert rules["BTN401"]["status"] == "ignored"
    assert rules["BTN401"]["reason"] == "operations are handled by the platform team's runbook"
    assert rules["BTN230"]["severity"] == "error"
    text = cli("check", pkg, "--no-receipt").out
    assert "BTN410 retraining-planned ignored: operations are handled" in text
    assert "configuration: " in text and "pyproject.toml" in text
    markdown = cli("check", pkg, "--format", "markdown", "--no-receipt").out
    assert "operations are handled by the platform team's runbook" in markdown


def test_baton_toml_select_and_explicit_config(tmp_path, cli, packages):
    _, bare = packages
    config = tmp_path / "baton.toml"
    config.write_text('select = ["BTN6", "BTN201"]\n')
    data = json.loads(cli("check", bare, "--json", "--config", config, "--no-receipt").out)
    assert {r["id"] for r in data["rules"]} == {"BTN201", "BTN601", "BTN610"}
    assert data["passed"] is True


@pytest.mark.parametrize("content, message", [
    ('[tool.baton]\nignore = ["BTN520"]\n', "ignoring a rule needs a written reason"),
    ('[tool.baton.ignore]\nBTN520 = ""\n', "ignoring BTN520 needs a written reason"),
    ('[tool.baton.ignore]\nBTN5201 = "x"\n', "unknown rule id 'BTN5201' in `ignore`"),
    ('[tool.baton]\nselect = ["BTN9"]\n', "unknown rule id 'BTN9'"),
    ('[tool.baton.severity]\nBTN520 = "fatal"\n', "use one of error, warning, info"),
    ('[tool.baton]\nignroe = {}\n', "did you mean 'ignore'?"),
    ('[tool.baton\n', "not valid TOML"),
])
def test_bad_configuration_is_a_one_line_error(tmp_path, cli, packages, content, message):
    config = tmp_path / "pyproject.toml"
    config.write_text(content)
    result = cli("check", packages[1], "--config", config)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1


def test_the_error_names_the_table_of_pyproject(tmp_path, cli, packages):
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.baton.ignore]\nBTN520 = ""\n')
    result = cli("check", packages[1], "--config", config)
    assert f"{config}[tool.baton].ignore: ignoring BTN520" in result.err.replace("\n", "")


def test_unknown_rule_suggests_the_nearest_id(tmp_path, cli, packages):
    config = tmp_path / "baton.toml"
    config.write_text('[ignore]\nBTN5201 = "reason"\n[severity]\nowners-nmaed = "warning"\n')
    result = cli("check", packages[1], "--config", config)
    assert "did you mean BTN520 (git-lineage)?" in result.err
    config.write_text('[severity]\nowners-nmaed = "warning"\n')
    assert "did you mean BTN110 (owners-named)?" in cli("check", packages[1], "--config",
                                                       config).err


# --- receipts and bad input ---------------------------------------------------------------


def test_receipt_is_written_for_a_writable_folder(tmp_path, cli, packages):
    full, _ = packages
    pkg = variant(full, tmp_path / "pkg")
    package = modelbaton.open_package(pkg)
    assert cli("check", pkg).code == 0
    receipt = latest(pkg, "check", package.digest)
    assert receipt["passed"] is True and receipt["created_by"] == "tester"
    assert receipt["errors"] == 0 and receipt["score"] > 90
    assert {r["id"] for r in receipt["rules"]} == set(RULES)
    # A receipt never changes the package: it still opens with the same digest.
    assert modelbaton.open_package(pkg).digest == package.digest
    assert cli("check", pkg, "--no-receipt").code == 0
    assert len(read_receipts(pkg, "check")) == 1


def test_archive_is_checked_without_a_receipt(tmp_path, cli, packages):
    from modelbaton.package.archive import write_archive

    full, _ = packages
    archive = write_archive(full, tmp_path / "iris.baton")
    result = cli("check", archive)
    assert result.code == 0 and "receipt" not in result.out
    forced = cli("check", archive, "--receipt")
    assert forced.code == 2 and "only be added to a package folder" in forced.err


@pytest.mark.parametrize("damage", ["missing", "tampered", "no-manifest", "bad-yaml"])
def test_unusable_packages_exit_2_with_the_package_error(tmp_path, cli, packages, damage):
    full, _ = packages
    pkg = variant(full, tmp_path / "pkg")
    if damage == "missing":
        pkg = tmp_path / "nowhere"
    elif damage == "tampered":
        (pkg / "data" / "golden.json").write_text("{}")
    elif damage == "no-manifest":
        (pkg / "baton.yaml").unlink()
    else:
        (pkg / "baton.yaml").write_text("apiVersion: baton/v1\nname: [x\n")
    result = cli("check", pkg)
    assert result.code == 2
    assert result.err.startswith("error:") and "Traceback" not in result.err
    assert not (pkg / "receipts").exists()


# --- the rules doc ------------------------------------------------------------------------


def test_rules_doc_is_current(cli):
    committed = (ROOT / "docs" / "rules.md").read_text()
    assert committed == rules_markdown(), (
        "docs/rules.md is stale: run `baton rules --format markdown > docs/rules.md`")
    assert cli("rules", "--format", "markdown").out == committed


def test_every_rule_is_documented_with_guard_and_fix():
    for rule in RULES.values():
        assert rule.id.startswith("BTN") and len(rule.id) == 6
        assert rule.summary and rule.guards and rule.fix, rule.id
    assert len({r.name for r in RULES.values()}) == len(RULES)


def test_rules_command_shows_one_rule(cli):
    result = cli("rules", "BTN601")
    assert "no-secrets" in result.out and "guards against" in result.out
    prefix = cli("rules", "BTN6").out
    assert "BTN601" in prefix and "BTN610" in prefix and "BTN520" not in prefix
    assert "did you mean BTN601 (no-secrets)?" in cli("rules", "BTN6011").err
