"""The manifest contract: schema freshness and located, helpful reading errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbaton.contract.errors import ManifestError
from modelbaton.contract.io import parse_manifest
from modelbaton.contract.manifest import Draft, Manifest, is_todo
from modelbaton.contract.scaffold import scaffold
from modelbaton.contract.schema import manifest_schema_text

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """\
apiVersion: baton/v1
name: churn
version: "1"
model:
  flavor: sklearn
  artifact: model/model.skops
  serialization: skops
interface:
  task: regression
  inputs:
    - {name: x, type: number}
  outputs:
    - {name: prediction, type: number}
"""


def test_committed_json_schema_is_current():
    committed = (ROOT / "schema" / "baton-v1.schema.json").read_text()
    assert committed == manifest_schema_text(), (
        "schema/baton-v1.schema.json is stale: run `baton schema > schema/baton-v1.schema.json`")


def test_minimal_manifest_reads():
    manifest = parse_manifest(MINIMAL)
    assert manifest.interface.inputs[0].name == "x"
    assert manifest.owners is None


def test_yaml_syntax_error_names_line_and_column():
    text = MINIMAL.replace("  task: regression", "  task: [regression")
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, source="pkg/baton.yaml")
    assert "YAML syntax error" in str(info.value)
    assert "pkg/baton.yaml:1" in str(info.value)  # a line number follows the file name
    assert str(info.value).split(":")[1].isdigit() and str(info.value).split(":")[2].isdigit()


def test_unknown_key_suggests_the_nearest_section():
    text = MINIMAL + "retrainig:\n  cadence: monthly\n"
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, source="baton.yaml")
    message = str(info.value)
    assert "unknown key `retrainig`" in message
    assert "did you mean `retraining`?" in message
    assert message.startswith("baton.yaml:14:")


def test_unknown_nested_key_is_located_and_suggested():
    text = MINIMAL + "owners:\n  training:\n    name: Dana\n    contcat: dana@x\n"
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, source="baton.yaml")
    assert "owners.training.contcat" in str(info.value)
    assert "did you mean `contact`?" in str(info.value)
    assert str(info.value).startswith("baton.yaml:17:")


def test_wrong_type_names_field_path_and_line():
    text = MINIMAL.replace("- {name: x, type: number}", "- {name: x, type: decimal}")
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, source="baton.yaml")
    assert "interface.inputs.0.type" in str(info.value)
    assert "'decimal'" in str(info.value)
    assert str(info.value).startswith("baton.yaml:11:")


def test_unknown_api_version_lists_supported_versions():
    with pytest.raises(ManifestError) as info:
        parse_manifest(MINIMAL.replace("baton/v1", "baton/v9"))
    assert "'baton/v9' is not supported" in str(info.value)
    assert "reads baton/v1" in str(info.value)


def test_missing_required_section_is_named():
    text = MINIMAL.split("interface:")[0]
    with pytest.raises(ManifestError) as info:
        parse_manifest(text)
    assert "`interface` is required" in str(info.value)


def test_not_a_mapping():
    with pytest.raises(ManifestError, match="must be a YAML mapping"):
        parse_manifest("- just\n- a list\n")


def test_scaffold_is_a_valid_draft_full_of_todos():
    draft = parse_manifest(scaffold("churn", "2.0"), model=Draft)
    assert draft.name == "churn" and draft.version == "2.0"
    assert is_todo(draft.owners) and is_todo(draft.limitations)
    assert not is_todo(draft.glossary)
    # Every human section of the contract is present in the scaffold.
    human = set(Manifest.model_fields) - {"api_version", "name", "version", "model",
                                          "interface", "environment", "golden", "lineage",
                                          "files", "performance"}
    assert human <= {k for k, v in draft if v is not None}
