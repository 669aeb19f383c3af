"""`/openapi.json`: the API described with the package's own fields, types and ranges.

Clients (and generated clients) see the real input fields, their types, ranges and
categories, and the real outputs, for both `/predict` and the Open Inference Protocol.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..contract.manifest import FieldSpec, Manifest
from ..contract.schema import field_json_schema, interface_json_schema
from .payload import FIELD_DATATYPES

JSON = "application/json"


def openapi_document(manifest: Manifest, *, shadow: bool = False) -> dict[str, Any]:
    inputs, outputs = manifest.interface.inputs, manifest.interface.outputs
    record = interface_json_schema(manifest, "inputs")
    record.pop("$schema", None)
    record["title"] = "Record"
    name_param = {"name": "name", "in": "path", "required": True,
                  "schema": {"type": "string", "enum": [manifest.name]}}
    version_param = {"name": "version", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": [manifest.version]}}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": f"{manifest.name} {manifest.version}",
                 "version": manifest.version,
                 "description": (manifest.description or "")
                 + f"\n\nServed by baton {__version__}. Every request is validated against "
                   "the interface below; problems are answered with 422 naming row and "
                   "field."},
        "paths": {
            "/predict": {"post": {
                "summary": "Predict for records or columns",
                "operationId": "predict",
                "parameters": [{"name": "proba", "in": "query", "required": False,
                                "schema": {"type": "boolean"},
                                "description": "Also return class probabilities."}],
                "requestBody": {"required": True, "content": {JSON: {"schema": {
                    "$ref": "#/components/schemas/PredictRequest"}}}},
                "responses": {"200": _ok("PredictResponse"), **_errors(400, 413, 422, 500,
                                                                       503)},
            }},
            "/v2": {"get": {"summary": "Server metadata (Open Inference Protocol)",
                            "operationId": "serverMetadata",
                            "responses": {"200": _ok("ServerMetadata")}}},
            "/v2/health/live": {"get": {"summary": "Liveness", "operationId": "live",
                                        "responses": {"200": _ok("Live")}}},
            "/v2/health/ready": {"get": {"summary": "Readiness", "operationId": "ready",
                                         "responses": {"200": _ok("Ready"),
                                                       "503": _ok("Ready", "Not ready")}}},
            "/v2/models/{name}": {"get": {
                "summary": "Model metadata", "operationId": "modelMetadata",
                "parameters": [name_param],
                "responses": {"200": _ok("ModelMetadata"), **_errors(404)}}},
            "/v2/models/{name}/ready": {"get": {
                "summary": "Model readiness", "operationId": "modelReady",
                "parameters": [name_param],
                "responses": {"200": _ok("ModelReady"), "503": _ok("ModelReady", "Not ready"),
                              **_errors(404)}}},
            "/v2/models/{name}/infer": {"post": _infer_operation("infer", [name_param])},
            "/v2/models/{name}/versions/{version}/infer": {"post": _infer_operation(
                "inferVersion", [name_param, version_param])},
            "/metrics": {"get": {
                "summary": "Prometheus metrics", "operationId": "metrics",
                "responses": {"200": {"description": "Prometheus text format",
                                      "content": {"text/plain": {"schema": {
                                          "type": "string"}}}}}}},
        },
        "components": {"schemas": {
            "Record": record,
            "Columns": _columns_schema(inputs),
            "PredictRequest": {"oneOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/Record"},
                 "minItems": 1},
                {"$ref": "#/components/schemas/Columns"}]},
            "PredictResponse": _predict_response(manifest, outputs),
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"}, "id": {"type": "string"},
                "problems": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "row": {"type": ["integer", "null"]}, "field": {"type": "string"},
                        "kind": {"type": "string"}, "message": {"type": "string"}}}}}},
            "InferenceRequest": _inference_request(inputs, outputs),
            "InferenceResponse": _inference_response(outputs),
            "ServerMetadata": {"type": "object", "required": ["name", "version",
                                                              "extensions"],
                               "properties": {"name": {"type": "string"},
                                              "version": {"type": "string"},
                                              "extensions": {"type": "array",
                                                             "items": {"type": "string"}}}},
            "Live": {"type": "object", "properties": {"live": {"type": "boolean"}}},
            "Ready": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
            "ModelReady": {"type": "object", "properties": {"name": {"type": "string"},
                                                            "ready": {"type": "boolean"}}},
            "ModelMetadata": _model_metadata(),
        }},
    }
    if shadow:
        doc["paths"]["/shadow"] = {"get": {
            "summary": "Agreement and latency of the shadow candidate",
            "operationId": "shadow",
            "responses": {"200": {"description": "Shadow report", "content": {JSON: {
                "schema": {"type": "object"}}}}}}}
    return doc


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


_ERROR_TEXT = {400: "Malformed request", 404: "No such model or version",
               413: "Body too large", 422: "Input does not fit the interface (row and field "
               "named)", 500: "The model failed on this input (request id given)",
               503: "At capacity (Retry-After given) or not ready"}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ok("Error", _ERROR_TEXT[code]) for code in codes}


def _columns_schema(inputs: list[FieldSpec]) -> dict[str, Any]:
    return {"type": "object", "title": "Columns",
            "properties": {f.name: {"type": "array", "items": field_json_schema(f), "minItems": 1}
                           for f in inputs},
            "required": [f.name for f in inputs], "additionalProperties": False}


def _predict_response(manifest: Manifest, outputs: list[FieldSpec]) -> dict[str, Any]:
    prediction = next((f for f in outputs if f.name == "prediction"), outputs[0])
    labels = [str(label) for label in manifest.interface.labels or []]
    properties: dict[str, Any] = {
        "id": {"type": "string"}, "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "predictions": {"type": "array", "items": field_json_schema(prediction)},
    }
    if any(f.name.startswith("probability_") for f in outputs):
        properties["probabilities"] = {"type": "array", "items": {
            "type": "object", "properties": {label: {"type": "number"} for label in labels}}}
    return {"type": "object", "required": ["id", "model_name", "model_version",
                                           "predictions"], "properties": properties}


def _tensor(field: FieldSpec) -> dict[str, Any]:
    return {"type": "object", "required": ["name", "shape", "datatype", "data"],
            "properties": {
                "name": {"const": field.name},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0},
                          "minItems": 1, "maxItems": 2},
                "datatype": {"enum": [FIELD_DATATYPES[field.type]]},
                "parameters": {"type": "object"},
                "data": {"type": "array", "items": field_json_schema(field)}}}


def _inference_request(inputs: list[FieldSpec], outputs: list[FieldSpec]) -> dict[str, Any]:
    return {"type": "object", "required": ["inputs"], "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "minItems": 1,
                   "items": {"oneOf": [_tensor(f) for f in inputs]}},
        "outputs": {"type": "array", "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"enum": [f.name for f in outputs]}}}}}}


def _inference_response(outputs: list[FieldSpec]) -> dict[str, Any]:
    return {"type": "object", "required": ["model_name", "outputs"], "properties": {
        "model_name": {"type": "string"}, "model_version": {"type": "string"},
        "id": {"type": "string"}, "parameters": {"type": "object"},
        "outputs": {"type": "array", "items": {
            "type": "object", "required": ["name", "shape", "datatype", "data"],
            "properties": {"name": {"enum": [f.name for f in outputs]},
                           "shape": {"type": "array", "items": {"type": "integer"}},
                           "datatype": {"type": "string"},
                           "data": {"type": "array"}}}}}}


def _model_metadata() -> dict[str, Any]:
    tensor = {"type": "object", "required": ["name", "datatype", "shape"],
              "properties": {"name": {"type": "string"}, "datatype": {"type": "string"},
                             "shape": {"type": "array", "items": {"type": "integer"}}}}
    return {"type": "object", "required": ["name", "platform", "inputs", "outputs"],
            "properties": {"name": {"type": "string"},
                           "versions": {"type": "array", "items": {"type": "string"}},
                           "platform": {"type": "string"},
                           "inputs": {"type": "array", "items": tensor},
                           "outputs": {"type": "array", "items": tensor},
                           "parameters": {"type": "object"}}}


def _infer_operation(operation_id: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"summary": "Inference (Open Inference Protocol v2)", "operationId": operation_id,
            "parameters": parameters,
            "requestBody": {"required": True, "content": {JSON: {"schema": {
                "$ref": "#/components/schemas/InferenceRequest"}}}},
            "responses": {"200": _ok("InferenceResponse"),
                          **_errors(400, 404, 413, 422, 500, 503)}}
