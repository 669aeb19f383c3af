"""Tabular data as ordered columns of numpy arrays, from whatever a user has.

A `Table` is a ``dict[str, numpy.ndarray]`` whose arrays all have the same length. It is
what flows between the loader, the schema checks and the flavors, so a prediction needs
no pandas round-trip unless the model or its feature code asks for a DataFrame.
Missing values are NaN in float columns and None in object columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import DataError, MissingExtraError
from ..contract.files import atomic_output, input_file, read_text

Table = dict[str, np.ndarray]
FILE_FORMATS = (".csv", ".parquet", ".pq", ".jsonl", ".ndjson", ".json")
OUTPUT_FORMATS = (".csv", ".parquet", ".pq", ".jsonl", ".ndjson")


def n_rows(table: Table) -> int:
    return len(next(iter(table.values()))) if table else 0


def to_table(data: Any, columns: Sequence[str] | None = None) -> Table:
    """Columns from a DataFrame, a dict of columns, a list of records or a 2-D array."""
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and hasattr(data, "columns"):
        table = {str(c): _frame_column(data[c]) for c in data.columns}
    elif module == "pyarrow" and hasattr(data, "column_names"):
        table = {name: _column(data.column(name).to_pylist()) for name in data.column_names}
    elif isinstance(data, Mapping):
        table = {str(k): _column(v) for k, v in data.items()}
    elif isinstance(data, np.ndarray) or module in ("torch",):
        array = np.asarray(data)
        if array.ndim == 1:
            array = array.reshape(1, -1) if columns and len(columns) == len(array) > 1 else \
                array.reshape(-1, 1)
        if array.ndim != 2:
            raise DataError(f"expected a 2-D array of rows, got shape {array.shape}")
        names = list(columns) if columns else [f"x{i}" for i in range(array.shape[1])]
        if len(names) != array.shape[1]:
            raise DataError(f"the array has {array.shape[1]} columns but the interface has "
                            f"{len(names)} inputs", hint=f"send columns {', '.join(names)}")
        table = {name: _column(array[:, i]) for i, name in enumerate(names)}
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        table = _from_records(data)
    else:
        raise DataError(f"cannot use {type(data).__name__} as tabular input",
                        hint="pass a pandas DataFrame, a dict of columns, a list of records "
                             "or a 2-D numpy array")
    lengths = {name: len(col) for name, col in table.items()}
    if len(set(lengths.values())) > 1:
        raise DataError("columns have different lengths: "
                        + ", ".join(f"{k}={v}" for k, v in lengths.items()))
    return table


def _from_records(records: Sequence[Any]) -> Table:
    names: dict[str, None] = {}
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise DataError(f"row {i}: expected an object of field values, "
                            f"got {type(record).__name__}")
        names.update(dict.fromkeys(str(k) for k in record))
    return {name: _column([r.get(name) for r in records]) for name in names}


def _frame_column(series: Any) -> np.ndarray:
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return _column(series.to_numpy())
    if getattr(dtype, "tz", None) is not None:  # tz-aware datetimes, as UTC
        return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy() \
            .astype("datetime64[us]")
    # Objects and pandas' own dtypes (nullable numbers and booleans, strings, categoricals,
    # Arrow types): plain Python values, with None wherever pandas sees a missing value.
    return _column(series.astype(object).where(series.notna(), None).tolist())


def frame_categories(frame: Any) -> dict[str, list[Any]]:
    """The declared categories of a DataFrame's categorical columns, by column."""
    found = {}
    for name in frame.columns:
        categories = getattr(frame[name].dtype, "categories", None)
        if categories is not None:
            found[str(name)] = [v.item() if isinstance(v, np.generic) else v
                                for v in categories.tolist()]
    return found


def _column(values: Any) -> np.ndarray:
    """One column as the narrowest array that holds it without loss.

    Integers with missing values stay Python ints beside None (an object array), so the
    interface still knows the column is integer; `conform` casts them to float with NaN.
    """
    if isinstance(values, np.ndarray) and values.dtype != object:
        if values.dtype.kind == "M":
            return values.astype("datetime64[us]")
        return values.astype(object) if values.dtype.kind in "US" else values
    items = values if isinstance(values, list) else list(values)
    kinds = set(map(type, items))
    try:  # the common cases first, at C speed: all floats, all ints, or both
        if kinds == {float} or kinds == {float, int}:
            return np.array(items, dtype=np.float64)
        if kinds == {int}:
            return np.array(items, dtype=np.int64)
    except OverflowError:  # an integer beyond 64 bits: kept as it is, rejected by the schema
        return _objects(items)
    present = [v for v in items if v is not None and not (isinstance(v, float) and v != v)]
    complete = len(present) == len(items)
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return np.array(items, dtype=bool) if complete else _objects(items)
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                       for v in present):
        return np.array(items, dtype=np.int64) if complete else _objects(items)
    if present and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                       for v in present):
        return np.array([np.nan if v is None else v for v in items], dtype=np.float64)
    if present and all(isinstance(v, (dt.date, np.datetime64)) for v in present):
        return np.array([None if v is None else _naive_utc(v) for v in items],
                        dtype="datetime64[us]")
    return _objects(items)


def _objects(items: list[Any]) -> np.ndarray:
    """An object array holding each item as it is (lists and dicts included), NaN as None."""
    items = [None if (isinstance(v, float) and v != v) else v for v in items]
    out = np.empty(len(items), dtype=object)
    if any(isinstance(v, (list, tuple)) for v in items):
        for i, value in enumerate(items):  # numpy would broadcast nested sequences
            out[i] = value
    else:
        out[:] = items
    return out


def as_datetime(value: Any) -> np.datetime64:
    """An ISO 8601 string, a date or a datetime as a datetime64 in UTC (naive)."""
    if isinstance(value, str):
        text = value.strip()
        text = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text  # for Python 3.10
        value = dt.datetime.fromisoformat(text)
    elif isinstance(value, np.datetime64):
        return value.astype("datetime64[us]")
    elif not isinstance(value, dt.date):
        raise TypeError(f"not a date or time: {value!r}")
    return np.datetime64(_naive_utc(value), "us")


def _naive_utc(value: Any) -> Any:
    """Aware datetimes as naive UTC: the interface's datetimes carry no time zone."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def to_frame(table: Table) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtraError("pandas", "data") from None
    kinds = {column.dtype for column in table.values()}
    if len(kinds) == 1 and next(iter(kinds)).kind in "biuf":
        # One dtype: a fresh fields x rows array is the frame's single block as it is,
        # three times cheaper than pandas assembling and consolidating one per column.
        return pd.DataFrame(np.array(list(table.values())).T, columns=list(table))
    return pd.DataFrame({name: col for name, col in table.items()})


def to_records(table: Table) -> list[dict[str, Any]]:
    names = list(table)
    columns = [python_values(table[n]) for n in names]
    return [dict(zip(names, row)) for row in zip(*columns)]


def python_values(column: np.ndarray) -> list[Any]:
    """Plain Python values for JSON: NaN becomes None, datetimes ISO strings."""
    if column.dtype.kind == "f":
        return [None if v != v else v for v in column.tolist()]
    if column.dtype.kind == "M":  # RFC 3339 in UTC, which every JSON and Avro reader takes
        text = np.datetime_as_string(column.astype("datetime64[us]"), timezone="UTC")
        return [None if np.isnat(v) else t for v, t in zip(column, text.tolist())]
    if column.dtype == object:
        return [v.item() if isinstance(v, np.generic) else v for v in column.tolist()]
    return column.tolist()


def select_rows(table: Table, index: Any) -> Table:
    return {name: col[index] for name, col in table.items()}


# --- files -------------------------------------------------------------------------------


def read_table(path: str | Path, *, types: Mapping[str, str] | None = None) -> Table:
    """Read CSV, Parquet or JSON Lines; errors name the file and, where known, the row.

    `types` (field name -> interface type) says how to read CSV text: a number column
    keeps a value that is not a number as text, so the check names that one row.
    Columns without a type are read as the narrowest type all their values have; text
    that is all ISO 8601 dates or times is read as datetimes.
    """
    path = input_file(path, "data file", error=DataError)
    suffix = path.suffix.lower()
    if suffix not in FILE_FORMATS:
        raise DataError(f"{path}: unsupported file type '{suffix or path.name}'",
                        hint="use .csv, .parquet or .jsonl")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path)
    if suffix == ".csv":
        return _read_csv(path, types or {})
    table = _read_json(path)
    return {name: column if name in (types or {}) else _iso_datetimes(column)
            for name, column in table.items()}


def _read_parquet(path: Path) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "data") from None
    try:
        arrow = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    return {name: _arrow_column(arrow.column(name)) for name in arrow.column_names}


def _arrow_column(column: Any) -> np.ndarray:
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return column.to_numpy(zero_copy_only=False).astype("datetime64[us]")
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and column.null_count == 0:
        return column.to_numpy(zero_copy_only=False)
    return _column(column.to_pylist())


def _read_csv(path: Path, types: Mapping[str, str]) -> Table:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path} is empty") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not a readable CSV file ({exc})",
                            hint="save it as UTF-8 CSV with a header line") from None
        if len(set(header)) != len(header):
            dup = next(h for h in header if header.count(h) > 1)
            raise DataError(f"{path}: column '{dup}' appears twice in the header")
        rows: list[list[str]] = []
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(f"{path}:{reader.line_num}: {len(row)} values for "
                                    f"{len(header)} columns")
                rows.append(row)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:{reader.line_num}: not a readable CSV file ({exc})",
                            hint="save it as UTF-8 CSV with a header line") from None
    columns = list(zip(*rows)) if rows else [()] * len(header)
    return {name: _parse_text(values, types.get(name)) for name, values in zip(header, columns)}


def _parse_text(values: Sequence[str], type_: str | None) -> np.ndarray:
    """CSV text as the field's type, or as the narrowest type every value parses as."""
    cells = [None if v == "" else v for v in values]
    if type_ in ("string", "datetime"):
        return _objects(cells)
    if type_ in ("integer", "number"):
        return _column([None if v is None else _number(v) for v in cells])
    if type_ == "boolean":
        return _column([None if v is None else _BOOLEANS.get(v.lower(), v) for v in cells])
    present = [v for v in cells if v is not None]
    if present:
        for parse in (int, float):
            try:
                parsed = [None if v is None else parse(v) for v in cells]
            except ValueError:
                continue
            return _column(parsed)
        if {v.lower() for v in present} <= _BOOLEANS.keys():
            return _column([None if v is None else _BOOLEANS[v.lower()] for v in cells])
    return _iso_datetimes(_objects(cells))


_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                           r"(Z|[+-]\d{2}:?\d{2})?)?")


def _iso_datetimes(column: np.ndarray) -> np.ndarray:
    """A text column whose every value is an ISO 8601 date or time, as datetimes."""
    present = [v for v in column if v is not None]
    if column.dtype != object or not present or not all(
            isinstance(v, str) and _ISO_DATETIME.fullmatch(v) for v in present):
        return column
    try:
        return np.array([None if v is None else as_datetime(v) for v in column],
                        dtype="datetime64[us]")
    except ValueError:  # looks like a date but is not one (2021-02-30)
        return column


_BOOLEANS = {"true": True, "false": False}


def _number(text: str) -> int | float | str:
    """An int, a float, or the text unchanged when it is neither (the check names it)."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def _read_json(path: Path) -> Table:
    text = read_text(path, "data file", error=DataError)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        return to_table(data)
    records = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from None
    if not records:
        raise DataError(f"{path} has no records")
    return to_table(records)


def write_table(table: Table, path: str | Path) -> None:
    """Write CSV, Parquet or JSON Lines by the file's extension, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise DataError(f"{path}: unsupported output type '{suffix}'",
                        hint="use .csv, .parquet or .jsonl")
    with atomic_output(path) as tmp:
        if suffix in (".parquet", ".pq"):
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise MissingExtraError("pyarrow", "data") from None
            pq.write_table(pa.table({k: python_values(v) for k, v in table.items()}), tmp)
        elif suffix == ".csv":
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(list(table))
                columns = [python_values(c) for c in table.values()]
                writer.writerows(["" if v is None else v for v in row] for row in zip(*columns))
        else:
            with tmp.open("w", encoding="utf-8") as handle:
                for record in to_records(table):
                    handle.write(json.dumps(record) + "\n")
