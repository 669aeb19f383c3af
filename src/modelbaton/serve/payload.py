"""Request bodies to columns of plain values, and model outputs to JSON.

Both endpoints turn their body into `Columns` (field name -> list of JSON values) with the
interface's field names exactly; concurrent requests are then merged column by column into
one table for the model. A body whose field names differ from the interface is answered
here, before it waits for the model, with every missing and extra field named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..contract.errors import DataError
from ..contract.manifest import FieldSpec
from ..data.schema import check_table
from ..data.table import Table, python_values, to_table
from .errors import ApiError, invalid

Columns = dict[str, list[Any]]

#: Open Inference Protocol tensor datatypes, and the one each interface type is sent as.
DATATYPES = frozenset({"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                       "INT64", "FP16", "FP32", "FP64", "BYTES"})
FIELD_DATATYPES = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "string": "BYTES",
                   "datetime": "BYTES"}


def read_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None


# --- POST /predict -----------------------------------------------------------------------


def predict_columns(data: Any, fields: Sequence[FieldSpec]) -> tuple[Columns, int]:
    """Records (``[{field: value}, ...]``) or columns (``{field: [values]}``)."""
    names = [f.name for f in fields]
    if isinstance(data, list):
        return _records(data, names, fields)
    if isinstance(data, dict):
        return _columns(data, names, fields)
    raise ApiError(400, f"expected a list of records or an object of columns, got "
                        f"{_json_type(data)}")


def _records(records: list[Any], names: list[str],
             fields: Sequence[FieldSpec]) -> tuple[Columns, int]:
    if not records:
        raise ApiError(422, "the request has no rows: send at least one record")
    expected = set(names)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise ApiError(400, f"row {i}: expected an object of field values, got "
                                f"{_json_type(record)}")
        if record.keys() != expected:
            _reject_fields(_safe_table(records), fields)
    return {name: [r[name] for r in records] for name in names}, len(records)


def _columns(data: dict[str, Any], names: list[str],
             fields: Sequence[FieldSpec]) -> tuple[Columns, int]:
    for name, values in data.items():
        if not isinstance(values, list):
            raise ApiError(400, f"field '{name}': expected a list of values (one per row), "
                                f"got {_json_type(values)}")
    lengths = {len(v) for v in data.values()}
    if len(lengths) > 1:
        shown = ", ".join(f"{k}={len(v)}" for k, v in data.items())
        raise ApiError(400, f"columns have different lengths: {shown}")
    rows = lengths.pop() if lengths else 0
    if data.keys() != set(names):
        _reject_fields(_safe_table(data), fields)
    if rows == 0:
        raise ApiError(422, "the request has no rows: send at least one value per field")
    return {name: data[name] for name in names}, rows


def _safe_table(data: Any) -> Table:
    try:
        return to_table(data)
    except DataError as exc:
        raise ApiError(400, exc.message) from None


def _reject_fields(table: Table, fields: Sequence[FieldSpec]) -> None:
    """Answer a body whose fields differ from the interface, naming every problem."""
    _, problems = check_table(table, fields)
    structural = [p for p in problems if p.kind in ("missing", "extra")]
    raise invalid(structural + [p for p in problems if p not in structural])


def check_fields(columns: dict[str, Any], fields: Sequence[FieldSpec]) -> None:
    if columns.keys() != {f.name for f in fields}:
        _reject_fields(_safe_table(columns), fields)


# --- Open Inference Protocol v2 ----------------------------------------------------------


@dataclass
class InferRequest:
    id: str | None
    columns: Columns
    rows: int
    outputs: list[str] | None  # the outputs asked for; None for all


def infer_request(data: Any, fields: Sequence[FieldSpec],
                  output_names: Sequence[str]) -> InferRequest:
    """An OIP v2 inference request: one tensor per input field, or one [rows, fields] tensor."""
    if not isinstance(data, dict):
        raise ApiError(400, f"expected an inference request object, got {_json_type(data)}")
    request_id = data.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ApiError(400, f"'id' must be a string, got {_json_type(request_id)}")
    _parameters(data, "the request")
    tensors = data.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise ApiError(400, "'inputs' must be a non-empty list of tensors")
    names = [f.name for f in fields]
    columns: Columns = {}
    for i, tensor in enumerate(tensors):
        name, shape, values = _tensor(tensor, i)
        if len(tensors) == 1 and len(shape) == 2 and shape[1] == len(names) > 1 \
                and name not in names:
            # The whole input as one matrix, its columns in the interface's order.
            columns = {n: values[k::shape[1]] for k, n in enumerate(names)}
            break
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise ApiError(400, f"input '{name}': shape {shape} is not one column; send "
                                f"shape [rows] or [rows, 1] per field, or one "
                                f"[rows, {len(names)}] tensor in the order "
                                f"{', '.join(names)}")
        if name in columns:
            raise ApiError(400, f"input '{name}' appears twice")
        columns[name] = values
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        shown = ", ".join(f"{k}={len(v)}" for k, v in columns.items())
        raise ApiError(400, f"inputs have different numbers of rows: {shown}")
    check_fields(columns, fields)
    rows = lengths.pop()
    if rows == 0:
        raise ApiError(422, "the request has no rows")
    return InferRequest(request_id, columns, rows, _wanted(data.get("outputs"), output_names))


def _tensor(tensor: Any, index: int) -> tuple[str, list[int], list[Any]]:
    if not isinstance(tensor, dict):
        raise ApiError(400, f"inputs[{index}]: expected a tensor object, got "
                            f"{_json_type(tensor)}")
    name, shape = tensor.get("name"), tensor.get("shape")
    datatype, data = tensor.get("datatype"), tensor.get("data")
    where = f"input '{name}'" if isinstance(name, str) else f"inputs[{index}]"
    if not isinstance(name, str):
        raise ApiError(400, f"{where}: 'name' must be a string")
    if not isinstance(shape, list) or not shape or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ApiError(400, f"{where}: 'shape' must be a list of non-negative integers")
    if datatype not in DATATYPES:
        raise ApiError(400, f"{where}: unknown datatype {datatype!r}; use one of "
                            f"{', '.join(sorted(DATATYPES))}")
    if not isinstance(data, list):
        raise ApiError(400, f"{where}: 'data' must be a list")
    _parameters(tensor, where)
    values = _flatten(data) if any(isinstance(v, list) for v in data) else data
    if len(values) != int(np.prod(shape)):
        raise ApiError(400, f"{where}: {len(values)} values do not fill shape {shape}")
    return name, shape, values


def _parameters(holder: dict[str, Any], where: str) -> None:
    """`parameters` are free-form (unknown ones are ignored), but always an object."""
    parameters = holder.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise ApiError(400, f"{where}: 'parameters' must be an object, got "
                            f"{_json_type(parameters)}")


def _flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in data:
        if isinstance(value, list):
            flat.extend(_flatten(value))
        else:
            flat.append(value)
    return flat


def _wanted(outputs: Any, names: Sequence[str]) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
        raise ApiError(400, "'outputs' must be a list of objects with a 'name'")
    wanted = [o["name"] for o in outputs]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ApiError(400, f"unknown output '{unknown[0]}'; the model gives "
                            f"{', '.join(names)}")
    return wanted


# --- responses ---------------------------------------------------------------------------


def json_values(column: np.ndarray) -> Any:
    """A column as orjson serialises fastest: numeric arrays as they are, else plain lists."""
    if column.dtype.kind in "iub":
        return np.ascontiguousarray(column)
    if column.dtype.kind == "f":
        return np.ascontiguousarray(column) if not np.isnan(column).any() \
            else python_values(column)
    return python_values(column)


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY, default=_default)


def _default(value: Any) -> Any:
    """What orjson cannot write natively: strided arrays (one column of a matrix), scalars."""
    if isinstance(value, np.ndarray):
        return python_values(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
