"""The interface schema: inferred from a sample at pack time, enforced at every prediction.

`infer_fields` reads types, ranges, categories and nullability off a sample.
`check_table` returns every way a table breaks the schema (row and field named),
`check_values` does the same for plain values as parsed from JSON, and `conform` returns
the table cast to the schema's types, or raises on the first problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..contract.errors import DataError
from ..contract.manifest import FieldSpec
from .table import Table, as_datetime, n_rows, to_table

MAX_CATEGORIES = 50
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_FLOAT_MAX = int(np.finfo(np.float64).max)


@dataclass(frozen=True)
class Problem:
    """One way the input breaks the interface."""

    field: str
    kind: str  # missing | extra | type | null | range | category
    message: str
    row: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row}, field '{self.field}'" if self.row is not None \
            else f"field '{self.field}'"
        return f"{where}: {self.message}"


# --- inference ---------------------------------------------------------------------------


def infer_fields(table: Table, *, max_categories: int = MAX_CATEGORIES,
                 categorical: Sequence[str] = (),
                 categories: Mapping[str, Sequence[Any]] | None = None) -> list[FieldSpec]:
    """The schema of a sample: what a caller must send for the model to work.

    `categorical` names columns whose values are categories even when they are numbers;
    `categories` gives a column's declared categories (a pandas categorical's), which are
    its allowed values even when the sample does not show them all.
    """
    if not table:
        raise DataError("the sample input has no columns")
    if n_rows(table) == 0:
        raise DataError("the sample input has no rows",
                        hint="pass a few representative rows, ideally the training data")
    declared = categories or {}
    fields = []
    for name, column in table.items():
        field = infer_field(name, column, max_categories=max_categories,
                            categorical=name in categorical or name in declared)
        if name in declared:
            field = field.model_copy(update={"categories": list(declared[name])})
        fields.append(field)
    return fields


def infer_field(name: str, column: np.ndarray, *, max_categories: int = MAX_CATEGORIES,
                categorical: bool = False) -> FieldSpec:
    kind = column.dtype.kind
    missing = _missing_mask(column)
    nullable = bool(missing.any())
    present = column[~missing]
    if len(present) == 0:
        raise DataError(f"column '{name}' has no values in the sample, so its type is unknown",
                        hint="pass a sample in which every column has values")
    if kind == "b":
        return FieldSpec(name=name, type="boolean", nullable=nullable)
    if kind in "iu":
        return _numeric(name, "integer", present, nullable, max_categories, categorical)
    if kind == "f":
        integral = categorical and bool(np.all(np.mod(present, 1) == 0))
        return _numeric(name, "integer" if integral else "number", present, nullable,
                        max_categories, categorical)
    if kind == "M":
        return FieldSpec(name=name, type="datetime", nullable=nullable)
    if kind == "O":
        types = {type(v) for v in present}
        if all(issubclass(t, (bool, np.bool_)) for t in types):
            return FieldSpec(name=name, type="boolean", nullable=nullable)
        if all(issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_))
               for t in types):  # integers with missing values
            return _numeric(name, "integer", present.astype(np.int64), nullable,
                            max_categories, categorical)
        if all(issubclass(t, (str, np.str_)) for t in types):
            values = sorted(set(present.tolist()))
            few = len(values) <= max_categories and (categorical or len(values) < len(present))
            return FieldSpec(name=name, type="string", nullable=nullable,
                             categories=values if few or categorical else None)
        shown = ", ".join(sorted(t.__name__ for t in types))
        raise DataError(f"column '{name}' holds values of type {shown}, which an interface "
                        f"cannot describe", hint="use numbers, strings, booleans or datetimes, "
                        "one type per column")
    raise DataError(f"column '{name}' has unsupported dtype {column.dtype}",
                    hint="use numbers, strings, booleans or datetimes")


def _numeric(name: str, type_: str, present: np.ndarray, nullable: bool, max_categories: int,
             categorical: bool) -> FieldSpec:
    values = present.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise DataError(f"column '{name}' holds infinite values",
                        hint="replace them before packing; the interface cannot describe them")
    categories = None
    if categorical:
        distinct = np.unique(present)
        if len(distinct) <= max_categories:
            categories = [int(v) if type_ == "integer" else float(v) for v in distinct]
    return FieldSpec(name=name, type=type_, nullable=nullable,  # type: ignore[arg-type]
                     minimum=_plain(values.min()), maximum=_plain(values.max()),
                     categories=categories)


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _missing_mask(column: np.ndarray) -> np.ndarray:
    kind = column.dtype.kind
    if kind == "f":
        return np.isnan(column)
    if kind == "M":
        return np.isnat(column)
    if kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in column],
                        dtype=bool)
    return np.zeros(len(column), dtype=bool)


# --- enforcement -------------------------------------------------------------------------


def check_table(table: Table, fields: Sequence[FieldSpec], *,
                limit: int = 20) -> tuple[Table, list[Problem]]:
    """Cast `table` to the schema; list the problems found (at most `limit` per field)."""
    fast = _numeric_fast_path(table, fields)
    if fast is not None:
        return fast, []
    problems: list[Problem] = []
    expected = {f.name for f in fields}
    for name in table:
        if name not in expected:
            problems.append(Problem(name, "extra", "is not an input of this model"))
    out: Table = {}
    for field in fields:
        if field.name not in table:
            problems.append(Problem(field.name, "missing", f"is required ({field.type})"))
            continue
        column, found = _conform_column(table[field.name], field, limit)
        problems.extend(found)
        out[field.name] = column
    return out, problems


def check_values(columns: Mapping[str, Sequence[Any]], fields: Sequence[FieldSpec], *,
                 limit: int = 20) -> tuple[Table, list[Problem]]:
    """`check_table` for columns of plain values, as parsed from JSON.

    When every field is a number and every value a JSON number, the columns become one
    matrix in one call instead of one array per field: most of a one-row request's cost.
    """
    fast = _plain_numbers_fast_path(columns, fields)
    if fast is not None:
        return fast, []
    return check_table(to_table(columns), fields, limit=limit)


def _numeric_fast_path(table: Table, fields: Sequence[FieldSpec]) -> Table | None:
    """The cast table when every field is a number or integer and every value fits.

    All columns are checked at once as one matrix, which makes a one-row request cheap;
    anything else (or any problem) returns None and the field-by-field checks run.
    """
    if len(table) != len(fields) or not _numeric_interface(fields):
        return None
    columns = []
    for field in fields:
        column = table.get(field.name)
        if column is None or column.dtype.kind not in "iuf":
            return None
        columns.append(column)
    matrix = np.column_stack(columns).astype(np.float64, copy=False) if len(columns) > 1 \
        else columns[0].astype(np.float64).reshape(-1, 1)
    if not _fits(matrix, fields):
        return None
    out: Table = {}
    for field, column in zip(fields, columns):
        if field.type == "number":
            out[field.name] = column.astype(np.float64, copy=False)
        elif column.dtype.kind in "iu":
            out[field.name] = column.astype(np.int64, copy=False)
        else:
            out[field.name] = column if np.isnan(column).any() else column.astype(np.int64)
    return out


_PLAIN_NUMBERS = frozenset({int, float})  # not bool: True is no number for the interface


def _plain_numbers_fast_path(columns: Mapping[str, Sequence[Any]],
                             fields: Sequence[FieldSpec]) -> Table | None:
    """`_numeric_fast_path` for columns of Python ints and floats, without a null."""
    if len(columns) != len(fields) or not _numeric_interface(fields):
        return None
    try:
        values = [columns[field.name] for field in fields]
    except KeyError:
        return None
    kinds: set[type] = set()
    for column in values:
        kinds.update(map(type, column))
    if not kinds <= _PLAIN_NUMBERS:
        return None
    try:  # fields x rows, transposed: rows x fields with each field's column contiguous
        matrix = np.array(values, dtype=np.float64).T
    except (OverflowError, ValueError):  # beyond float64, or columns of unequal length
        return None
    if int in kinds and (np.abs(matrix) >= 2.0**53).any():
        return None  # integers a float64 cannot hold exactly: the general path keeps them
    if not _fits(matrix, fields):
        return None
    return {field.name: matrix[:, k] if field.type == "number" else matrix[:, k].astype(np.int64)
            for k, field in enumerate(fields)}


def _numeric_interface(fields: Sequence[FieldSpec]) -> bool:
    return bool(fields) and all(f.type in ("number", "integer") and f.categories is None
                                for f in fields)


def _fits(matrix: np.ndarray, fields: Sequence[FieldSpec]) -> bool:
    """Whether every value of a rows x fields float matrix is within its field's bounds."""
    limits = _limits(fields)
    missing = np.isnan(matrix)
    if (missing & ~limits.nullable).any():
        return False
    with np.errstate(invalid="ignore"):
        outside = (matrix < limits.low) | (matrix > limits.high)
        if limits.integer.any():
            whole = matrix[:, limits.integer]
            outside[:, limits.integer] |= (np.mod(whole, 1) != 0) | (np.abs(whole) >= 2.0**63)
    return not (outside & ~missing).any()


@dataclass(frozen=True)
class _Limits:
    low: np.ndarray
    high: np.ndarray
    nullable: np.ndarray
    integer: np.ndarray


_LIMITS: dict[tuple[Any, ...], _Limits] = {}


def _limits(fields: Sequence[FieldSpec]) -> _Limits:
    """The fields' bounds as vectors, computed once per interface."""
    key = tuple((f.minimum, f.maximum, f.nullable, f.type) for f in fields)
    found = _LIMITS.get(key)
    if found is None:
        if len(_LIMITS) > 64:
            _LIMITS.clear()
        found = _LIMITS[key] = _Limits(
            low=np.array([-np.inf if f.minimum is None else f.minimum for f in fields]),
            high=np.array([np.inf if f.maximum is None else f.maximum for f in fields]),
            nullable=np.array([f.nullable for f in fields]),
            integer=np.array([f.type == "integer" for f in fields]))
    return found


def conform(table: Table, fields: Sequence[FieldSpec]) -> Table:
    """The table cast to the schema, or a DataError naming the first problem and the count."""
    out, problems = check_table(table, fields)
    if problems:
        more = len(problems) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        names = ", ".join(f.name for f in fields)
        raise DataError(f"{problems[0]}{tail}",
                        hint=f"the model takes {names}; see `baton inspect` for types and ranges")
    return out


def _conform_column(column: np.ndarray, field: FieldSpec,
                    limit: int) -> tuple[np.ndarray, list[Problem]]:
    missing = _missing_mask(column)
    problems: list[Problem] = []
    cast, bad_rows = _cast(column, field.type, missing)
    for row in bad_rows[:limit]:
        problems.append(Problem(field.name, "type",
                                f"expected {field.type}, got {_show(column[row])}", int(row)))
    if bad_rows:
        return column, problems
    if not field.nullable and missing.any():
        for row in np.flatnonzero(missing)[:limit]:
            problems.append(Problem(field.name, "null", "is missing but not nullable", int(row)))
    present = ~missing
    if field.type in ("integer", "number") and (field.minimum is not None
                                                or field.maximum is not None):
        values = cast.astype(np.float64)
        low = field.minimum if field.minimum is not None else -np.inf
        high = field.maximum if field.maximum is not None else np.inf
        outside = present & ((values < low) | (values > high))
        for row in np.flatnonzero(outside)[:limit]:
            problems.append(Problem(field.name, "range", f"{_show(cast[row])} is outside "
                                    f"[{_show(field.minimum)}, {_show(field.maximum)}]", int(row)))
    if field.categories is not None:
        allowed = set(field.categories)
        for row in np.flatnonzero(present):
            if cast[row] not in allowed:
                shown = ", ".join(map(str, field.categories[:10]))
                problems.append(Problem(field.name, "category",
                                        f"{_show(cast[row])} is not one of {shown}", int(row)))
                if len(problems) >= limit:
                    break
    return cast, problems


def _cast(column: np.ndarray, type_: str, missing: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Column cast to the field type, and the rows whose value cannot be."""
    kind = column.dtype.kind
    if type_ == "number":
        if kind in "iuf":
            return column.astype(np.float64, copy=False), []
        if kind == "O":
            bad = [i for i, v in enumerate(column) if not missing[i] and
                   (isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number))
                    or isinstance(v, int) and not -_FLOAT_MAX <= v <= _FLOAT_MAX)]
            if not bad:
                return np.array([np.nan if m else v for v, m in zip(column, missing)],
                                dtype=np.float64), []
            return column, bad
    elif type_ == "integer":
        if kind in "iu":
            return column.astype(np.int64, copy=False), []
        if kind == "f":
            filled = np.where(missing, 0, column)
            bad = np.flatnonzero(~missing & ((np.mod(filled, 1) != 0)
                                             | (np.abs(filled) >= 2.0**63)))
            if len(bad):
                return column, bad.tolist()
            return (column if missing.any() else column.astype(np.int64)), []
        if kind == "O":
            bad = [i for i, v in enumerate(column) if not missing[i] and
                   (isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer))
                    and not (isinstance(v, float) and v.is_integer())
                    or isinstance(v, (int, float)) and not _INT_MIN <= v <= _INT_MAX)]
            if bad:
                return column, bad
            if missing.any():
                return np.array([np.nan if m else v for v, m in zip(column, missing)],
                                dtype=np.float64), []
            return column.astype(np.int64), []
    elif type_ == "boolean":
        if kind == "b":
            return column, []
        if kind == "O":
            bad = [i for i, v in enumerate(column)
                   if not missing[i] and not isinstance(v, (bool, np.bool_))]
            return column, bad
    elif type_ == "string":
        if kind == "O":
            bad = [i for i, v in enumerate(column) if not missing[i] and not isinstance(v, str)]
            return column, bad
    elif type_ == "datetime":
        if kind == "M":
            return column.astype("datetime64[us]"), []
        if kind == "O":
            out = np.full(len(column), np.datetime64("NaT"), dtype="datetime64[us]")
            bad = []
            for i, value in enumerate(column):
                if missing[i]:
                    continue
                try:
                    out[i] = as_datetime(value)
                except (ValueError, TypeError):
                    bad.append(i)
            return (column if bad else out), bad
    return column, [i for i in range(len(column)) if not missing[i]]


def _show(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)
