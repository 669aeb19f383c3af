"""The model's interface as a data contract other teams use: JSON Schema and Avro."""

from __future__ import annotations

import datetime as dt
import io
import json

import fastavro
import jsonschema
import pytest

from modelbaton.contract.io import parse_manifest
from modelbaton.contract.schema import interface_avro_schema, interface_json_schema
from modelbaton.data.table import to_records
from modelbaton.package.golden import read_golden


@pytest.fixture
def golden_records(accounts_package):
    path, _ = accounts_package
    return to_records(read_golden(path / "data" / "golden.json").inputs)


def exported(cli, package, fmt, *extra):
    result = cli("schema", "--interface", package, "--format", fmt, *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_golden_inputs_validate_against_the_json_schema(cli, accounts_package, golden_records):
    path, _ = accounts_package
    schema = exported(cli, path, "jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema,
                                                format_checker=jsonschema.FormatChecker())
    assert len(golden_records) == 4
    for record in golden_records:
        validator.validate(record)
    assert any(r["visits"] is None for r in golden_records)  # nullable, and allowed
    assert schema["properties"]["plan"]["enum"] == ["basic", "plus", "pro"]
    assert schema["properties"]["signup"] == {"type": "string", "format": "date-time"}


@pytest.mark.parametrize("change, complaint", [
    ({"plan": "gold"}, "'gold' is not one of"),
    ({"income": "a lot"}, "'a lot' is not of type 'number'"),
    ({"income": None}, "None is not of type 'number'"),
    ({"visits": 2.5}, "is not valid under any of the given schemas"),
    ({"active": "yes"}, "'yes' is not of type 'boolean'"),
    ({"colour": "red"}, "Additional properties are not allowed"),
])
def test_json_schema_rejects_what_the_package_rejects(cli, accounts_package, golden_records,
                                                      change, complaint):
    path, _ = accounts_package
    validator = jsonschema.Draft202012Validator(exported(cli, path, "jsonschema"))
    record = {**golden_records[0], **change}
    errors = [e.message for e in validator.iter_errors(record)]
    assert any(complaint in e for e in errors), errors
    missing = {k: v for k, v in golden_records[0].items() if k != "signup"}
    assert any("'signup' is a required property" in e.message
               for e in validator.iter_errors(missing))


def test_outputs_schema(cli, accounts_package):
    path, expected = accounts_package
    schema = exported(cli, path, "jsonschema", "--side", "outputs")
    assert schema["properties"] == {"prediction": {"type": "number"}}
    jsonschema.validate({"prediction": float(expected[0])}, schema)


def avro_records(records):
    """JSON records as an Avro writer takes them: times as datetimes (in UTC)."""
    return [{**r, "signup": dt.datetime.fromisoformat(r["signup"].replace("Z", "+00:00"))}
            for r in records]


def test_golden_inputs_round_trip_through_the_avro_schema(cli, accounts_package,
                                                          golden_records):
    path, _ = accounts_package
    schema = exported(cli, path, "avro")
    parsed = fastavro.parse_schema(schema)
    fields = {f["name"]: f["type"] for f in schema["fields"]}
    assert fields["visits"] == ["null", "long"] and fields["income"] == "double"
    assert fields["plan"]["type"] == "enum" and fields["plan"]["symbols"] == [
        "basic", "plus", "pro"]
    assert fields["signup"] == {"type": "long", "logicalType": "timestamp-micros"}

    records = avro_records(golden_records)
    buffer = io.BytesIO()
    fastavro.writer(buffer, parsed, records)
    buffer.seek(0)
    assert list(fastavro.reader(buffer)) == records

    with pytest.raises(ValueError):  # the Avro contract refuses an unknown category too
        fastavro.writer(io.BytesIO(), parsed, [{**records[0], "plan": "gold"}])


MANIFEST = """\
apiVersion: baton/v1
name: odd-names
version: "1"
model: {flavor: python, artifact: model/python.json, serialization: python}
interface:
  task: classification
  labels: [setosa, other]
  inputs:
    - {name: sepal length (cm), type: number, minimum: 4.3, maximum: 7.9}
    - {name: 2nd-grade, type: string, categories: ["a b", "c"], nullable: true}
    - {name: kind, type: string, categories: [x, y]}
  outputs:
    - {name: prediction, type: string, categories: [setosa, other]}
"""


def test_avro_names_are_made_valid_and_keep_the_original_as_alias():
    schema = interface_avro_schema(parse_manifest(MANIFEST))
    parsed = fastavro.parse_schema(schema)
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["sepal_length__cm_"]["aliases"] == ["sepal length (cm)"]
    # "a b" is not a valid Avro symbol, so that field stays a string; "kind" is an enum.
    assert fields["_2nd_grade"]["type"] == ["null", "string"]
    assert fields["kind"]["type"]["symbols"] == ["x", "y"]
    buffer = io.BytesIO()
    record = {"sepal_length__cm_": 5.1, "_2nd_grade": None, "kind": "y"}
    fastavro.writer(buffer, parsed, [record])
    buffer.seek(0)
    assert next(fastavro.reader(buffer)) == record
    json_schema = interface_json_schema(parse_manifest(MANIFEST))
    jsonschema.validate({"sepal length (cm)": 5.0, "2nd-grade": "a b", "kind": "x"},
                        json_schema)
    with pytest.raises(jsonschema.ValidationError, match="8.5 is greater than the maximum"):
        jsonschema.validate({"sepal length (cm)": 8.5, "2nd-grade": None, "kind": "x"},
                            json_schema)


def test_bad_schema_requests(cli, accounts_package):
    path, _ = accounts_package
    result = cli("schema", "--interface", path, "--format", "protobuf")
    assert result.code == 2 and "unknown format 'protobuf'" in result.err
    result = cli("schema", "--format", "avro")
    assert result.code == 2 and "--interface PKG --format avro" in result.err
    result = cli("schema", "--interface", path, "--side", "middle")
    assert result.code == 2 and "unknown interface side 'middle'" in result.err
