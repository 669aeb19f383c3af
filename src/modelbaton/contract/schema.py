"""JSON Schema of the manifest, and the model's interface as JSON Schema or Avro.

Other teams use the interface export as their data contract: a JSON Schema for one input
record, or an Avro record schema for a stream or table that feeds the model.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import BatonError
from .manifest import FieldSpec, Interface, Manifest

SCHEMA_ID = "https://modelbaton.dev/schema/baton-v1.json"


def manifest_json_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def manifest_schema_text() -> str:
    """The committed `schema/baton-v1.schema.json`, byte for byte."""
    return json.dumps(manifest_json_schema(), indent=2, sort_keys=True) + "\n"


_JSON_TYPES = {"integer": "integer", "number": "number", "string": "string",
               "boolean": "boolean", "datetime": "string"}
_AVRO_TYPES: dict[str, Any] = {
    "integer": "long", "number": "double", "string": "string", "boolean": "boolean",
    "datetime": {"type": "long", "logicalType": "timestamp-micros"},
}


def interface_json_schema(manifest: Manifest, side: str = "inputs") -> dict[str, Any]:
    """JSON Schema of one record of the model's inputs (or outputs)."""
    fields = _side(manifest.interface, side)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{manifest.name} {manifest.version} {side}",
        "type": "object",
        "properties": {f.name: field_json_schema(f) for f in fields},
        "required": [f.name for f in fields],
        "additionalProperties": False,
    }


def field_json_schema(field: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES[field.type]}
    if field.type == "datetime":
        schema["format"] = "date-time"
    if field.categories is not None:
        schema["enum"] = list(field.categories)
    if field.minimum is not None:
        schema["minimum"] = field.minimum
    if field.maximum is not None:
        schema["maximum"] = field.maximum
    if field.description:
        schema["description"] = field.description
    if field.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def interface_avro_schema(manifest: Manifest, side: str = "inputs") -> dict[str, Any]:
    """Avro record schema of the model's inputs (or outputs); nullable fields are unions."""
    return {
        "type": "record",
        "name": _avro_name(f"{manifest.name}_{side}"),
        "namespace": "modelbaton",
        "doc": f"{side} of {manifest.name} {manifest.version}",
        "fields": [_avro_field(f) for f in _side(manifest.interface, side)],
    }


def _avro_field(field: FieldSpec) -> dict[str, Any]:
    avro_type: Any = _AVRO_TYPES[field.type]
    symbols = [str(c) for c in field.categories or []]
    if field.type == "string" and symbols and all(_AVRO_NAME.fullmatch(s) for s in symbols):
        # An enum only when every category is a valid Avro symbol; otherwise a plain string.
        avro_type = {"type": "enum", "name": _avro_name(f"{field.name}_values"),
                     "symbols": symbols}
    entry: dict[str, Any] = {"name": _avro_name(field.name)}
    if field.nullable:
        entry["type"] = ["null", avro_type]
        entry["default"] = None
    else:
        entry["type"] = avro_type
    if field.name != entry["name"]:
        entry["aliases"] = [field.name]
    if field.description:
        entry["doc"] = field.description
    return entry


_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _avro_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return cleaned if _AVRO_NAME.match(cleaned) else f"_{cleaned}"


def _side(interface: Interface, side: str) -> list[FieldSpec]:
    if side not in ("inputs", "outputs"):
        raise BatonError(f"unknown interface side '{side}'", hint="use inputs or outputs")
    return interface.inputs if side == "inputs" else interface.outputs
