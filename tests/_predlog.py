"""Writes prediction logs exactly as the shared contract says `baton serve` does.

Parquet files `predictions-<UTC start %Y%m%dT%H%M%S>-<pid>-<sequence>.parquet`, written to
`.tmp` then renamed; columns timestamp[us, UTC], request_id, row (int32), role,
model_name, model_version, package_digest, latency_ms, input.<field>, output.<field>,
error (see docs/prediction-log.md).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelbaton.package.load import Package

_TYPES = {"integer": pa.int64(), "number": pa.float64(), "string": pa.string(),
          "boolean": pa.bool_(), "datetime": pa.timestamp("us", tz="UTC")}


def write_log(folder: Path, package: Package, inputs: dict[str, list[Any]],
              outputs: dict[str, list[Any]], times: list[dt.datetime], *,
              role: str = "primary", request_ids: list[str] | None = None,
              rows: list[int] | None = None, latency_ms: list[float] | None = None,
              errors: list[str | None] | None = None, pid: int = 4242,
              sequence: int = 0) -> Path:
    n = len(times)
    interface = package.manifest.interface
    columns: dict[str, pa.Array] = {
        "timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
        "request_id": pa.array(request_ids or [f"req-{i}" for i in range(n)], pa.string()),
        "row": pa.array(rows or [0] * n, pa.int32()),
        "role": pa.array([role] * n, pa.string()),
        "model_name": pa.array([package.manifest.name] * n, pa.string()),
        "model_version": pa.array([package.manifest.version] * n, pa.string()),
        "package_digest": pa.array([package.digest] * n, pa.string()),
        "latency_ms": pa.array(latency_ms or [1.5] * n, pa.float64()),
    }
    for spec in interface.inputs:
        if spec.name in inputs:
            columns[f"input.{spec.name}"] = pa.array(inputs[spec.name], _TYPES[spec.type])
    for spec in interface.outputs:
        if spec.name in outputs:
            columns[f"output.{spec.name}"] = pa.array(outputs[spec.name], _TYPES[spec.type])
    columns["error"] = pa.array(errors or [None] * n, pa.string())
    folder.mkdir(parents=True, exist_ok=True)
    start = min(times).astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = folder / f"predictions-{start}-{pid}-{sequence}.parquet"
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.table(columns), tmp)
    os.replace(tmp, path)
    return path
