"""Current data, read in batches: a file, a folder of Parquet files, or the prediction log.

CSV and Parquet are streamed (pyarrow, `BATCH_ROWS` rows at a time), so a file of any
size is profiled without being held in memory; JSON Lines files are read whole.

The serving prediction log (`docs/prediction-log.md`) is a folder of
`predictions-*.parquet` files with `input.<field>` and `output.<field>` columns; its
`primary` records are what the model answered, so they are what drift is measured on.
A window (`--window 1h`) keeps the rows whose timestamp falls in (end - window, end],
where the end is `--end` or, by default, the newest timestamp in the data.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import DataError, MissingExtraError
from ..contract.files import input_file
from ..data.profile import arrow_to_numpy
from ..data.table import read_table
from ._time import from_micros, iso, to_micros

BATCH_ROWS = 65_536
LOG_PATTERN = "predictions-*.parquet"
TIME_COLUMN = "timestamp"
INPUT, OUTPUT = "input.", "output."
_PARQUET = (".parquet", ".pq")
_NAT = np.iinfo(np.int64).min


@dataclass
class Batch:
    """Some rows of one file: plain column name -> pyarrow or numpy column."""

    columns: dict[str, Any]
    rows: int
    origin: str
    rownums: np.ndarray  # each row's number in its file (0-based, data rows only)


@dataclass
class Window:
    start: dt.datetime
    end: dt.datetime

    def __str__(self) -> str:
        return f"{iso(self.start)} to {iso(self.end)}"


@dataclass
class Source:
    """CURRENT as given on the command line, resolved to files and columns."""

    path: Path
    kind: str  # file | folder | log
    files: list[Path]
    raw_columns: list[str]  # as stored, in first-seen order
    time_column: str | None = None
    window: Window | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_log(self) -> bool:
        return any(c.startswith((INPUT, OUTPUT)) for c in self.raw_columns)

    @property
    def columns(self) -> list[str]:
        """Plain column names: `input.x` and `output.y` of a log become `x` and `y`."""
        if not self.is_log:
            return list(self.raw_columns)
        return [c.split(".", 1)[1] for c in self.raw_columns if c.startswith((INPUT, OUTPUT))]

    def raw_name(self, plain: str) -> str | None:
        if not self.is_log:
            return plain if plain in self.raw_columns else None
        for prefix in (INPUT, OUTPUT):
            if prefix + plain in self.raw_columns:
                return prefix + plain
        return None

    def batches(self, wanted: Sequence[str], *, roles: Sequence[str] | None = ("primary",),
                raw: bool = False) -> Iterator[Batch]:
        """Batches of the `wanted` columns (plain names, or stored ones with `raw`)."""
        names = {w: (w if raw else self.raw_name(w)) for w in wanted}
        names = {k: v for k, v in names.items() if v is not None and v in self.raw_columns}
        role = "role" if roles is not None and "role" in self.raw_columns else None
        extra = [c for c in (self.time_column if self.window else None, role) if c]
        for path in self.files:
            last = None
            for columns, rownums in _read(path, [*names.values(), *extra], self.raw_columns):
                if not len(rownums):
                    continue
                keep = np.ones(len(rownums), dtype=bool)
                if role:
                    keep &= _in(columns[role], roles or ())
                if self.window is not None and self.time_column:
                    stamps = epoch_micros(columns[self.time_column])
                    last = self._check_order(path, stamps, rownums, last)
                    keep &= (stamps > to_micros(self.window.start)) & \
                        (stamps <= to_micros(self.window.end))
                if not keep.any():
                    continue
                selected = {plain: _filter(columns[stored], keep) if not keep.all()
                            else columns[stored] for plain, stored in names.items()
                            if stored in columns}
                yield Batch(selected, int(keep.sum()), path.name, rownums[keep])

    def _check_order(self, path: Path, stamps: np.ndarray, rownums: np.ndarray,
                     last: int | None) -> int | None:
        valid = stamps != _NAT
        if not valid.any():
            return last
        present = stamps[valid]
        earlier = np.flatnonzero(np.diff(present) < 0)
        if (last is not None and present[0] < last) or len(earlier):
            if not any("out of order" in n for n in self.notes):
                row = int(rownums[valid][earlier[0] + 1]) if len(earlier) else int(rownums[0])
                self.notes.append(f"{path.name}: timestamps are out of order (row {row} is "
                                  "earlier than a row before it); each row is placed in the "
                                  "window by its own timestamp")
        return int(present.max()) if last is None else max(last, int(present.max()))


def open_source(path: str | Path, *, window: dt.timedelta | None = None,
                end: dt.datetime | None = None, time_column: str | None = None) -> Source:
    """Resolve CURRENT to its files and columns, and the window to instants."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist",
                        hint="give a CSV/Parquet/JSONL file, a folder of Parquet files or "
                             "the serving --log-dir")
    notes: list[str] = []
    if path.is_dir():
        files = sorted(path.glob(LOG_PATTERN))
        kind = "log" if files else "folder"
        files = files or sorted(p for p in path.rglob("*") if p.suffix.lower() in _PARQUET
                                and not p.name.startswith("."))
        if not files:
            raise DataError(f"{path} holds no Parquet files",
                            hint="expected the serving log (predictions-*.parquet) or *.parquet")
        usable = []
        for file in files:
            if file.stat().st_size == 0:
                notes.append(f"{file.name} is empty and was skipped")
            else:
                usable.append(file)
        if not usable:
            raise DataError(f"{path}: every Parquet file in it is empty")
        files = usable
    else:
        input_file(path, "data file", error=DataError)
        if path.suffix.lower() not in (*_PARQUET, ".csv", ".jsonl", ".ndjson", ".json"):
            raise DataError(f"{path}: unsupported file type '{path.suffix or path.name}'",
                            hint="use .csv, .parquet or .jsonl, or a folder of Parquet files")
        if path.stat().st_size == 0:
            raise DataError(f"{path} is empty", hint="the file has no header and no rows")
        kind, files = "file", [path]
    raw_columns: list[str] = []
    for file in files:
        raw_columns += [c for c in _column_names(file) if c not in raw_columns]
    source = Source(path, kind, files, raw_columns, notes=notes)
    if kind == "log":
        source.kind = "log"
    column = time_column or (TIME_COLUMN if TIME_COLUMN in raw_columns else None)
    if time_column and time_column not in raw_columns:
        raise DataError(f"{path} has no column '{time_column}'",
                        hint=f"columns: {', '.join(source.columns[:20])}")
    source.time_column = column
    if window is not None:
        if column is None:
            raise DataError(f"{path} has no '{TIME_COLUMN}' column, so --window cannot apply",
                            hint="name the time column with --time-column, or drop --window")
        end = end or newest(source)
        if end is None:
            raise DataError(f"{path}: column '{column}' holds no readable timestamps",
                            hint="timestamps must be ISO 8601 or Parquet timestamps")
        source.window = Window(end - window, end)
    return source


def newest(source: Source) -> dt.datetime | None:
    """The latest timestamp in the source's time column."""
    best = None
    for path in source.files:
        for columns, _ in _read(path, [source.time_column], source.raw_columns):
            stamps = epoch_micros(columns[source.time_column])
            stamps = stamps[stamps != _NAT]
            if len(stamps):
                best = int(stamps.max()) if best is None else max(best, int(stamps.max()))
    return None if best is None else from_micros(best)


# --- reading files -----------------------------------------------------------------------


def _column_names(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        pq = _parquet()
        try:
            return list(pq.read_schema(path).names)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    if suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not a readable CSV file ({exc})") from None
        if not header:
            raise DataError(f"{path} is empty", hint="the file has no header and no rows")
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise DataError(f"{path}: column '{duplicates[0]}' appears twice in the header")
        return header
    return list(read_table(path))  # JSON Lines: read whole (see the module doc)


def _read(path: Path, columns: Sequence[str],
          available: Sequence[str]) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """(columns, row numbers) batches of one file; absent columns are left out."""
    suffix = path.suffix.lower()
    offset = 0
    if suffix in _PARQUET:
        pq = _parquet()
        try:
            # Without pre-buffering, memory holds one row group at a time, not the file.
            handle = pq.ParquetFile(path, pre_buffer=False)
            present = [c for c in dict.fromkeys(columns) if c in handle.schema_arrow.names]
            for batch in handle.iter_batches(batch_size=BATCH_ROWS, columns=present):
                yield _record_batch(batch), np.arange(offset, offset + batch.num_rows)
                offset += batch.num_rows
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged file
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    elif suffix == ".csv":
        yield from _read_csv(path, columns)
    else:
        table = read_table(path)
        rows = len(next(iter(table.values()))) if table else 0
        yield {c: table[c] for c in columns if c in table}, np.arange(rows)


def _read_csv(path: Path, columns: Sequence[str]) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        raise MissingExtraError("pyarrow", "monitor") from None
    header = _column_names(path)
    present = [c for c in dict.fromkeys(columns) if c in header]
    # Every column is read as text and converted per field, so one bad value never
    # stops the read; only the empty string means missing ("NA" may be a category).
    convert = pcsv.ConvertOptions(column_types={c: pa.string() for c in present},
                                  include_columns=present or header[:1],
                                  strings_can_be_null=True, null_values=[""],
                                  quoted_strings_can_be_null=True)
    offset = 0
    try:
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 24),
                               convert_options=convert)
        for batch in reader:
            yield ({c: batch.column(i) for i, c in enumerate(batch.schema.names)
                    if c in present}, np.arange(offset, offset + batch.num_rows))
            offset += batch.num_rows
    except StopIteration:
        return
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})",
                        hint="every row needs as many values as the header has columns") from None


def _record_batch(batch: Any) -> dict[str, Any]:
    return {name: batch.column(i) for i, name in enumerate(batch.schema.names)}


def _parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "monitor") from None
    return pq


def _filter(column: Any, keep: np.ndarray) -> Any:
    if type(column).__module__.split(".")[0] == "pyarrow":
        import pyarrow as pa

        # From the bits, not pa.array(keep): that would import pandas (a second, 60 MB).
        bits = pa.py_buffer(np.packbits(keep, bitorder="little"))
        return column.filter(pa.Array.from_buffers(pa.bool_(), len(keep), [None, bits]))
    return column[keep]


def _in(column: Any, values: Sequence[str]) -> np.ndarray:
    if type(column).__module__.split(".")[0] == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.is_in(column, value_set=pa.array(list(values), pa.string()))
        return arrow_to_numpy(found.fill_null(False), bool, False)
    return np.isin(np.asarray(column, dtype=object), list(values))


def epoch_micros(column: Any) -> np.ndarray:
    """Microseconds since the epoch (UTC; naive times are taken as UTC), NaT-min if unreadable."""
    if type(column).__module__.split(".")[0] == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = column.type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            target = pa.timestamp("us", tz=getattr(kind, "tz", None))
            return arrow_to_numpy(column.cast(target).cast(pa.int64()), np.int64, _NAT)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
                try:
                    micros = pc.cast(column, target).cast(pa.int64())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    continue
                return arrow_to_numpy(micros, np.int64, _NAT)
        column = np.asarray(column.to_pylist(), dtype=object)
    column = np.asarray(column)
    if column.dtype.kind == "M":
        out = column.astype("datetime64[us]").astype(np.int64)
        out[np.isnat(column)] = _NAT
        return out
    out = np.full(len(column), _NAT, dtype=np.int64)
    for i, value in enumerate(column):
        if isinstance(value, dt.datetime):
            value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            out[i] = to_micros(value)
        elif isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            out[i] = to_micros(parsed if parsed.tzinfo else
                               parsed.replace(tzinfo=dt.timezone.utc))
    return out
