"""The prediction log: every answered row, appended to Parquet files off the request path.

The format is a contract with `baton drift`, `monitor` and `compare` (docs/prediction-log.md):
files `predictions-<UTC start>-<pid>-<sequence>.parquet` in the log folder, visible under
that name only once complete, one row per predicted input row with its request id, role
(primary or shadow), model identity, latency, inputs, outputs and error.

Records travel through a bounded queue to one writer thread. When the queue is full the
records are dropped and counted (`baton_prediction_log_dropped_records_total`) rather than
blocking requests or growing without limit. Files roll by size and age; `close()` (on
SIGTERM, through the server's shutdown) writes everything queued and completes the file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import BatonError, MissingExtraError
from ..contract.manifest import FieldSpec
from ..data.table import Table
from .metrics import Metrics

log = logging.getLogger("modelbaton.serve")

ROW_GROUP_ROWS = 32_768


@dataclass
class Identity:
    """Who answered: constant for every record of one model."""

    name: str
    version: str
    digest: str
    flavor: str = ""


@dataclass
class Records:
    """The rows of one model call, as columns (built in the model thread)."""

    role: str
    model: Identity
    timestamps_us: np.ndarray  # int64, per row
    request_ids: np.ndarray  # object, per row
    rows: np.ndarray  # int32, index within its request
    latency_ms: float
    inputs: Table
    outputs: Table | None
    error: str | None

    def __len__(self) -> int:
        return len(self.rows)


def records(role: str, model: Identity, jobs: Sequence[Any], inputs: Table,
            outputs: Table | None, latency_s: float, error: str | None = None) -> Records:
    """Records for the jobs (requests) one model call served, in their order."""
    counts = [job.rows for job in jobs]
    ids = np.empty(len(jobs), dtype=object)
    ids[:] = [job.request_id for job in jobs]
    return Records(
        role=role, model=model,
        timestamps_us=np.repeat(np.array([int(job.received * 1e6) for job in jobs],
                                         dtype=np.int64), counts),
        request_ids=np.repeat(ids, counts),
        rows=np.concatenate([np.arange(n, dtype=np.int32) for n in counts]),
        latency_ms=latency_s * 1000, inputs=inputs, outputs=outputs, error=error)


class PredictionLog:
    """Writes `Records` to rolling Parquet files in `folder` from a background thread."""

    def __init__(self, folder: Path, *, inputs: Sequence[FieldSpec],
                 outputs: Sequence[FieldSpec], metrics: Metrics,
                 roll_bytes: int = 64 * 1024 * 1024, roll_seconds: float = 300.0,
                 max_queued_rows: int = 100_000):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingExtraError("pyarrow", "serve") from None
        self._pa, self._pq = pa, pq
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise BatonError(f"--log-dir {folder}: cannot write there ({exc.strerror})",
                             hint="give a folder this user can write") from None
        self.schema = log_schema(inputs, outputs)
        self.metrics = metrics
        self.roll_bytes = roll_bytes
        self.roll_seconds = roll_seconds
        self.max_queued_rows = max_queued_rows
        self._queue: queue.SimpleQueue[Records | None] = queue.SimpleQueue()
        self._queued = 0
        self._lock = threading.Lock()
        self._sequence = 0
        self._writer: Any = None
        self._path: Path | None = None
        self._started: float | None = None  # when the current file's first record came
        self._buffer: list[Any] = []
        self._buffered = 0
        self._thread = threading.Thread(target=self._run, name="baton-predlog", daemon=True)
        self._thread.start()

    def offer(self, chunk: Records) -> bool:
        """Queue records for writing; False (and counted) when the queue is full."""
        n = len(chunk)
        with self._lock:
            if self._queued + n > self.max_queued_rows:
                self.metrics.log_dropped.inc(n)
                return False
            self._queued += n
        self._queue.put(chunk)
        return True

    def close(self) -> None:
        """Write everything queued, complete the current file and stop the thread."""
        self._queue.put(None)
        self._thread.join()

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception:  # never let the writer die: count, log and go on
                log.exception("prediction log writer failed; records may be lost")
                self._abandon()

    def _step(self) -> bool:
        """Handle one queued chunk (or a roll timeout); False once closed."""
        timeout = None if self._started is None else max(
            0.05, self._started + self.roll_seconds - time.time())
        try:
            chunk = self._queue.get(timeout=timeout)
        except queue.Empty:
            self._roll()
            return True
        if chunk is None:
            self._roll()
            return False
        with self._lock:
            self._queued -= len(chunk)
        try:
            self._buffer.append(self._batch(chunk))
            self._buffered += len(chunk)
            if self._started is None:
                self._started = time.time()
        except Exception:
            log.exception("prediction log: cannot convert %d records", len(chunk))
            self.metrics.log_dropped.inc(len(chunk))
            return True
        if self._buffered >= ROW_GROUP_ROWS:
            self._flush()
        if time.time() - self._started >= self.roll_seconds or (
                self._writer is not None and self._size() >= self.roll_bytes):
            self._roll()
        return True

    def _batch(self, chunk: Records) -> Any:
        pa = self._pa
        n = len(chunk)
        columns: list[Any] = []
        for field in self.schema:
            name = field.name
            if name == "timestamp":
                columns.append(pa.array(chunk.timestamps_us, type=field.type))
            elif name == "request_id":
                columns.append(pa.array(chunk.request_ids, type=pa.string()))
            elif name == "row":
                columns.append(pa.array(chunk.rows, type=pa.int32()))
            elif name == "role":
                columns.append(pa.repeat(pa.scalar(chunk.role), n))
            elif name == "model_name":
                columns.append(pa.repeat(pa.scalar(chunk.model.name), n))
            elif name == "model_version":
                columns.append(pa.repeat(pa.scalar(chunk.model.version), n))
            elif name == "package_digest":
                columns.append(pa.repeat(pa.scalar(chunk.model.digest), n))
            elif name == "latency_ms":
                columns.append(pa.repeat(pa.scalar(chunk.latency_ms, pa.float64()), n))
            elif name == "error":
                columns.append(pa.repeat(pa.scalar(chunk.error, pa.string()), n))
            else:
                side, _, key = name.partition(".")
                table = chunk.inputs if side == "input" else (chunk.outputs or {})
                columns.append(_arrow(pa, table.get(key), field.type, n))
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = self._pa.Table.from_batches(self._buffer, schema=self.schema)
        self._buffer, rows, self._buffered = [], self._buffered, 0
        try:
            if self._writer is None:
                self._open()
            self._writer.write_table(table)
            self.metrics.log_records.inc(rows)
        except OSError:
            log.exception("prediction log: cannot write %d records to %s", rows, self.folder)
            self.metrics.log_dropped.inc(rows)
            self._abandon()

    def _open(self) -> None:
        started = dt.datetime.fromtimestamp(self._started or time.time(), dt.timezone.utc)
        stamp = started.strftime("%Y%m%dT%H%M%S")
        name = f"predictions-{stamp}-{os.getpid()}-{self._sequence:06d}.parquet"
        self._sequence += 1
        self._path = self.folder / name
        self._writer = self._pq.ParquetWriter(self._tmp(self._path), self.schema,
                                              compression="zstd")

    def _roll(self) -> None:
        """Complete the current file: write what is buffered, close it, give it its name."""
        self._flush()
        self._started = None
        if self._writer is None:
            return
        try:
            self._writer.close()
            os.replace(self._tmp(self._path), self._path)  # type: ignore[arg-type]
        except OSError:
            log.exception("prediction log: cannot complete %s", self._path)
        self._writer, self._path = None, None

    def _abandon(self) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        except OSError:
            pass
        self._writer, self._path = None, None

    def _size(self) -> int:
        try:
            return self._tmp(self._path).stat().st_size  # type: ignore[arg-type]
        except OSError:
            return 0

    @staticmethod
    def _tmp(path: Path) -> Path:
        return path.with_name(f".{path.name}.tmp")


def log_schema(inputs: Sequence[FieldSpec], outputs: Sequence[FieldSpec]) -> Any:
    """The Arrow schema of the log (docs/prediction-log.md)."""
    import pyarrow as pa

    fixed = [("timestamp", pa.timestamp("us", tz="UTC")), ("request_id", pa.string()),
             ("row", pa.int32()), ("role", pa.string()), ("model_name", pa.string()),
             ("model_version", pa.string()), ("package_digest", pa.string()),
             ("latency_ms", pa.float64())]
    fields = [pa.field(name, kind, nullable=False) for name, kind in fixed]
    fields += [pa.field(f"input.{f.name}", arrow_type(f)) for f in inputs]
    fields += [pa.field(f"output.{f.name}", arrow_type(f)) for f in outputs]
    fields.append(pa.field("error", pa.string()))
    return pa.schema(fields)


def arrow_type(field: FieldSpec) -> Any:
    import pyarrow as pa

    return {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
            "string": pa.string(), "datetime": pa.timestamp("us")}[field.type]


def _arrow(pa: Any, column: np.ndarray | None, kind: Any, n: int) -> Any:
    """One column as the schema's type; values that do not fit become null, never an error."""
    if column is None:
        return pa.nulls(n, type=kind)
    try:
        if column.dtype.kind == "f" and pa.types.is_integer(kind):
            missing = np.isnan(column)
            if np.all(np.mod(column[~missing], 1) == 0):
                return pa.array(np.where(missing, 0, column).astype(np.int64), mask=missing,
                                type=kind)
        return pa.array(column, type=kind, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pa.array([_plain(v, kind) for v in column.tolist()], type=kind)


def _plain(value: Any, kind: Any) -> Any:
    import pyarrow as pa

    try:
        return pa.array([value], type=kind)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
