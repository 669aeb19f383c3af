"""`baton drift` vs Evidently 0.7.23 DataDriftPreset, side by side in one run.

    python benchmarks/drift.py [--rows 100000 1000000] [--stream-rows 10000000]

Data: 20 numerical and 5 categorical columns, the same number of rows on each side (the
current side with 6 shifted columns), as Parquet. Each tool runs in its own process, so
wall time includes start-up and reading the files, and peak RSS is that process's own:

- Evidently reads both files into pandas and runs `Report([DataDriftPreset()])`;
- Baton has the reference as the package's profile, built once at pack time (its cost is
  reported apart, as "pack-time profile"), and `baton drift PKG current.parquet --json`
  streams the current file in batches.

With `--stream-rows`, `baton drift` also runs alone on a file that large, to show the
streaming pass scales linearly in time with flat memory (Evidently would need the whole
file in memory). Evidently lives in its own venv (it needs pandas < 3):

    uv venv benchmarks/.work/evidently
    uv pip install --python benchmarks/.work/evidently/bin/python \
        'evidently==0.7.23' 'pandas<3' pyarrow
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
EVIDENTLY_PYTHON = WORK / "evidently" / "bin" / "python"
NUMERICAL, CATEGORICAL = 20, 5
CHUNK = 1_000_000

EVIDENTLY = """
import sys, time, pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
reference = pd.read_parquet(sys.argv[1]); current = pd.read_parquet(sys.argv[2])
started = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
result = snapshot.dict()
print(f"COMPUTE {time.perf_counter() - started:.3f} metrics={len(result['metrics'])}")
"""


def write_data(path: Path, rows: int, seed: int, drifted: bool) -> Path:
    """Columns n0..n19 (numbers) and c0..c4 (categories), written in 1M-row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        columns = {}
        for i in range(NUMERICAL):
            shift = 0.5 if drifted and i < 4 else 0.0
            base = rng.normal(shift, 1 + (0.3 if drifted and i == 4 else 0), n)
            columns[f"n{i}"] = np.round(base * (i + 1) + 10 * i, 4)
        for i in range(CATEGORICAL):
            levels = [f"level{k}" for k in range(4 + 3 * i)]
            p = np.linspace(1, 2, len(levels))
            if drifted and i == 0:
                p = p[::-1] ** 3
            columns[f"c{i}"] = rng.choice(levels, n, p=p / p.sum())
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=CHUNK)
    writer.close()
    os.replace(tmp, path)
    return path


# The child of a fork keeps the parent's peak RSS across exec (Linux counts the pre-exec
# image), so each tool runs under a small launcher that reports its own child's usage.
LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"RUSAGE {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}", file=sys.stderr)
sys.exit(code)
"""


def measure(argv: list[str]) -> dict:
    """Wall time, CPU time and peak RSS of one command, in its own process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-c", LAUNCHER, *argv], stdout=out, stderr=err)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    _, maxrss, cpu = errors.rstrip().rsplit("\n", 1)[-1].split()
    return {"wall_s": wall, "cpu_s": float(cpu), "peak_rss_mb": int(maxrss) / 1024,
            "code": code, "out": output, "err": errors}


def pack(reference: Path, target: Path) -> float:
    """A real model on the 25 columns, packed with the reference file as training data."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    import modelbaton

    sample = pd.read_parquet(reference).head(20_000)
    label = (sample["n0"] + sample["n1"] > sample["n0"].mean() + sample["n1"].mean()).astype(int)
    model = make_pipeline(make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), [f"c{i}" for i in range(CATEGORICAL)]),
        remainder="passthrough"), LogisticRegression(max_iter=200)).fit(sample, label)
    started = time.perf_counter()
    modelbaton.pack(model, target, sample_input=sample, name="bench", version="1",
                    training_data=reference, overwrite=True)
    return time.perf_counter() - started


def baton_drift(package: Path, current: Path) -> dict:
    baton = Path(sys.executable).parent / "baton"
    result = measure([str(baton), "drift", str(package), str(current), "--json"])
    if result["code"] not in (0, 1):
        raise SystemExit(f"baton drift failed: {result['err'][-2000:]}")
    report = json.loads(result["out"])
    result["drifted"] = report["drifted"]
    result["rows"] = report["rows"]
    return result


def evidently(reference: Path, current: Path) -> dict | None:
    if not EVIDENTLY_PYTHON.exists():
        print(f"  (Evidently not installed at {EVIDENTLY_PYTHON}; see the module doc)")
        return None
    result = measure([str(EVIDENTLY_PYTHON), "-c", EVIDENTLY, str(reference), str(current)])
    if result["code"] != 0:
        raise SystemExit(f"Evidently failed: {result['err'][-2000:]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--stream-rows", type=int, default=10_000_000)
    parser.add_argument("--skip-evidently", action="store_true",
                        help="Only baton (e.g. to re-check the streaming pass).")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    results = []
    for rows in args.rows:
        folder = WORK / "drift" / str(rows)
        reference = write_data(folder / "reference.parquet", rows, 0, drifted=False)
        current = write_data(folder / "current.parquet", rows, 1, drifted=True)
        package = folder / "package"
        pack_s = pack(reference, package)
        ours = baton_drift(package, current)
        theirs = None if args.skip_evidently else evidently(reference, current)
        line = (f"{rows:>10,} rows each side: baton drift {_cost(ours)} "
                f"(drifted: {', '.join(ours['drifted'])}); pack with the reference profile "
                f"{pack_s:.1f} s")
        if theirs:
            line += (f"\n{'':>26}Evidently   {_cost(theirs)}\n{'':>26}-> baton "
                     f"{theirs['wall_s'] / ours['wall_s']:.1f}x faster (wall), "
                     f"{theirs['cpu_s'] / ours['cpu_s']:.1f}x less CPU, peak memory "
                     f"{ours['peak_rss_mb'] / theirs['peak_rss_mb']:.0%} of Evidently's")
        print(line, flush=True)
        results.append((rows, ours, theirs))
    if args.stream_rows:
        rows = args.stream_rows
        base = WORK / "drift" / str(args.rows[-1]) / "package"
        big = write_data(WORK / "drift" / str(rows) / "current.parquet", rows, 2, drifted=True)
        ours = baton_drift(base, big)
        small_rows, small, _ = results[-1]
        print(f"{rows:>10,} rows streamed: baton drift {_cost(ours)}; "
              f"{ours['cpu_s'] / small['cpu_s']:.1f}x the CPU time of {small_rows:,} rows for "
              f"{rows / small_rows:.0f}x the rows, peak memory "
              f"{ours['peak_rss_mb'] / small['peak_rss_mb']:.2f}x", flush=True)


def _cost(result: dict) -> str:
    return (f"{result['wall_s']:6.2f} s wall, {result['cpu_s']:6.2f} s CPU, "
            f"{result['peak_rss_mb']:5.0f} MB peak RSS")


if __name__ == "__main__":
    main()
