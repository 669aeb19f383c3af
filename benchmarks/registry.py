"""Registry speed: `ls` of one model and `show name@production` among 100,000 versions of
1,000 models, and pushing a 100 MB package, on SQLite and PostgreSQL, beside MLflow's
model registry (`search_model_versions`, `get_model_version_by_alias`, `log_artifacts` +
`create_model_version`) on the same data.

    .venv/bin/python benchmarks/registry.py [--models 1000 --per-model 100 --push-mb 100]

Targets (issue 5): ls and show p95 < 20 ms on SQLite; push >= 200 MB/s to the local store.
The metadata is bulk-seeded with SQL for speed (both registries alike); every measurement
then goes through the public API (and the in-process CLI for ours). MLflow runs in its own
virtual environment under benchmarks/.work/ (created on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".work" / "mlflow"
PG_SERVER = os.environ.get("BATON_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SAMPLES = 300


def percentiles(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))],
            "p99": ms[int(0.99 * (len(ms) - 1))]}


def timed(fn, names: list[str]) -> dict[str, float]:
    """Wall-clock percentiles, and the p95 of this process's CPU time per call (what the
    call costs whatever else the machine is doing; for PostgreSQL the server's share is
    not in it)."""
    for name in names[:20]:  # warm caches and prepared statements
        fn(name)
    wall, cpu = [], []
    for name in names:
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(name)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {**percentiles(wall), "cpu_p95": percentiles(cpu)["p95"]}


# --- Baton ---------------------------------------------------------------------------------


def seed_baton(registry, models: int, per_model: int) -> None:
    """Bulk-insert the metadata a registry of this size holds (our own tables, via SQL)."""
    import datetime as dt

    from sqlalchemy import insert, select

    from modelbaton.registry import tables as t

    now = dt.datetime(2026, 1, 1)
    production = per_model // 2
    with registry.store.engine.begin() as conn:
        conn.execute(insert(t.models), [{"name": f"model-{m:04d}", "created_at": now,
                                         "created_by": "seed"} for m in range(models)])
        ids = dict(conn.execute(select(t.models.c.name, t.models.c.id)).all())
        for m in range(models):
            model_id = ids[f"model-{m:04d}"]
            rows = [{"model_id": model_id, "number": n, "digest": uuid.uuid4().hex * 2,
                     "label": f"1.{n}", "bytes": 1 << 20, "manifest_sha256": "0" * 64,
                     "stage": "production" if n == production else
                     ("archived" if n < production else "candidate"),
                     "description": None, "pushed_by": "seed", "pushed_at": now,
                     "stage_since": now} for n in range(1, per_model + 1)]
            conn.execute(insert(t.versions), rows)
        versions = conn.execute(select(t.versions.c.id, t.versions.c.stage)).all()
        files = [{"version_id": vid, "path": p, "sha256": uuid.uuid4().hex * 2, "size": 100}
                 for vid, _ in versions
                 for p in ("model/model.skops", "data/golden.json", "env/requirements.lock")]
        for start in range(0, len(files), 50_000):
            conn.execute(insert(t.files), files[start:start + 50_000])
        prod = [vid for vid, stage in versions if stage == "production"]
        conn.execute(insert(t.reviews), [
            {"version_id": vid, "stage": "production", "actor": who, "role": "engineer",
             "decision": "approve", "comment": "ok", "at": now, "void": False}
            for vid in prod for who in ("bob", "carol")])
        conn.execute(insert(t.receipts), [
            {"version_id": vid, "kind": kind, "passed": True, "sha256": uuid.uuid4().hex * 2,
             "body": json.dumps({"kind": kind, "passed": True, "package_digest": "x"}),
             "attached_by": "seed", "attached_at": now}
            for vid in prod for kind in ("check", "verify")])
        conn.execute(insert(t.stage_changes), [
            {"version_id": vid, "from_stage": a, "to_stage": b, "kind": "promote",
             "actor": "bob", "reason": None, "at": now}
            for vid in prod for a, b in (("candidate", "staging"), ("staging", "production"))])


def big_package(folder: Path, megabytes: int, label: str) -> Path:
    """The tiny real package plus one incompressible file of `megabytes`."""
    import numpy as np

    import modelbaton
    from modelbaton.contract.io import read_manifest, write_manifest
    from modelbaton.package.integrity import file_entries

    folder.mkdir(parents=True)
    code = folder / "benchmodel.py"
    code.write_text("import numpy as np\n\ndef predict(x):\n"
                    "    return np.asarray(x, dtype=float).sum(axis=1)\n")
    sys.path.insert(0, str(folder))
    from benchmodel import predict

    path = modelbaton.pack(predict, folder / f"pkg-{label}", name="big", version=label,
                           sample_input={"a": np.arange(5.0), "b": np.arange(5.0)},
                           code=code, golden_rows=2)
    (path / "docs").mkdir()
    with open(path / "docs" / "weights.bin", "wb") as handle:
        for _ in range(megabytes):
            handle.write(os.urandom(1 << 20))
    manifest = read_manifest(path / "baton.yaml")
    write_manifest(manifest.model_copy(update={"files": file_entries(path)}),
                   path / "baton.yaml")
    return path


def bench_baton(backend: str, models: int, per_model: int, push_mb: int,
                work: Path) -> dict:
    import typer

    from modelbaton.cli.main import app
    from modelbaton.registry.local import LocalRegistry

    # The CLI path as a long-lived process runs it: Typer builds its command tree once per
    # process (`cli.main.run` rebuilds it on every call), then each command parses its
    # arguments, connects, queries and prints JSON.
    command = typer.main.get_command(app)

    def run(argv: list[str]) -> None:
        command.main(args=argv, prog_name="baton", standalone_mode=False)

    home = work / f"home-{backend}"
    os.environ["BATON_HOME"] = str(home)
    os.environ["BATON_USER"] = "bench"
    database = None
    if backend == "postgresql":
        import psycopg

        database = f"baton_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        os.environ["BATON_REGISTRY"] = PG_SERVER.rsplit("/", 1)[0] + f"/{database}"
    else:
        os.environ.pop("BATON_REGISTRY", None)
    try:
        registry = LocalRegistry()
        registry.initialize()
        start = time.perf_counter()
        seed_baton(registry, models, per_model)
        seeded = time.perf_counter() - start
        names = [f"model-{random.randrange(models):04d}" for _ in range(SAMPLES)]
        result = {
            "seed_s": seeded,
            "ls_api": timed(lambda n: registry.versions(n), names),
            "show_api": timed(lambda n: registry.show(f"{n}@production"), names),
        }
        with open(os.devnull, "w") as devnull:
            saved, sys.stdout = sys.stdout, devnull
            try:
                result["ls_cli"] = timed(lambda n: run(["ls", n, "--json"]), names[:100])
                result["show_cli"] = timed(lambda n: run(["show", f"{n}@production", "--json"]),
                                           names[:100])
            finally:
                sys.stdout = saved
        rates, floors = [], []
        for attempt in range(3):
            package = big_package(work / f"push-{backend}-{attempt}", push_mb, f"{attempt}")
            size = sum(f.stat().st_size for f in package.rglob("*") if f.is_file())
            start = time.perf_counter()
            registry.push(package)
            rates.append(size / (1 << 20) / (time.perf_counter() - start))
            floors.append(hash_and_copy_rate(package / "docs" / "weights.bin", work))
            shutil.rmtree(package.parent)
        result["push_mb_s"] = statistics.median(rates)
        result["hash_copy_mb_s"] = statistics.median(floors)
        return result
    finally:
        if database is not None:
            from modelbaton.registry.store import dispose_engines

            dispose_engines()
            with psycopg.connect(PG_SERVER, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def hash_and_copy_rate(path: Path, work: Path) -> float:
    """The machine's own limit for a verified content-addressed store: read, sha256 and
    write the same bytes in one pass, with nothing else."""
    import hashlib

    start = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as src, open(work / "copy.bin", "wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    elapsed = time.perf_counter() - start
    (work / "copy.bin").unlink()
    return path.stat().st_size / (1 << 20) / elapsed




# --- MLflow (runs in its own venv: `--peer` mode) -------------------------------------------


def bench_mlflow(models: int, per_model: int, push_mb: int, work: Path) -> dict:
    import logging
    import sqlite3

    logging.disable(logging.WARNING)
    from mlflow import MlflowClient

    db = work / "mlflow.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_registered_models()  # creates the schema
    start = time.perf_counter()
    con = sqlite3.connect(db)
    now = int(time.time() * 1000)
    production = per_model // 2
    with con:
        con.executemany("INSERT INTO registered_models (name, creation_time, last_updated_time)"
                        " VALUES (?, ?, ?)", [(f"model-{m:04d}", now, now) for m in range(models)])
        con.executemany(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
            "user_id, current_stage, source, status, storage_location) "
            "VALUES (?, ?, ?, ?, 'seed', 'None', ?, 'READY', ?)",
            [(f"model-{m:04d}", n, now, now, f"/artifacts/{m}/{n}", f"/artifacts/{m}/{n}")
             for m in range(models) for n in range(1, per_model + 1)])
        con.executemany("INSERT INTO registered_model_aliases (alias, version, name) "
                        "VALUES ('production', ?, ?)",
                        [(production, f"model-{m:04d}") for m in range(models)])
    seeded = time.perf_counter() - start
    names = [f"model-{random.randrange(models):04d}" for _ in range(SAMPLES)]
    result = {
        "seed_s": seeded,
        "ls_api": timed(lambda n: client.search_model_versions(f"name='{n}'"), names),
        "show_api": timed(lambda n: client.get_model_version_by_alias(n, "production"), names),
    }
    experiment = client.create_experiment("push", artifact_location=str(work / "artifacts"))
    client.create_registered_model("big")
    rates = []
    for attempt in range(3):
        folder = work / f"push-{attempt}"
        (folder / "docs").mkdir(parents=True)
        with open(folder / "docs" / "weights.bin", "wb") as handle:
            for _ in range(push_mb):
                handle.write(os.urandom(1 << 20))
        run = client.create_run(experiment)
        start = time.perf_counter()
        client.log_artifacts(run.info.run_id, str(folder), "model")
        client.create_model_version("big", f"runs:/{run.info.run_id}/model", run.info.run_id)
        rates.append(push_mb / (time.perf_counter() - start))
        shutil.rmtree(folder)
    result["push_mb_s"] = statistics.median(rates)
    return result


def run_peer(args: argparse.Namespace, work: Path) -> dict | None:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print("creating the MLflow venv in benchmarks/.work/mlflow ...", flush=True)
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(PEER_VENV)],
                       check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", str(python), "mlflow-skinny",
                        "sqlalchemy", "alembic"], check=True)
    peer_work = work / "mlflow"
    peer_work.mkdir()
    done = subprocess.run([str(python), __file__, "--peer", "--models", str(args.models),
                           "--per-model", str(args.per_model), "--push-mb", str(args.push_mb),
                           "--work", str(peer_work)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"MLflow run failed:\n{done.stderr[-2000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--per-model", type=int, default=100)
    parser.add_argument("--push-mb", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-peer", action="store_true", help="Skip MLflow.")
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    random.seed(0)
    if args.peer:
        print(json.dumps(bench_mlflow(args.models, args.per_model, args.push_mb, args.work)))
        return

    work = Path(tempfile.mkdtemp(prefix="baton-bench-registry-"))
    try:
        total = args.models * args.per_model
        print(f"{total:,} versions across {args.models:,} models; push of a "
              f"{args.push_mb} MB package\n")
        load = [os.getloadavg()[0]]
        results = {b: bench_baton(b, args.models, args.per_model, args.push_mb, work)
                   for b in args.backends.split(",")}
        if not args.no_peer:
            peer = run_peer(args, work)
            if peer is not None:
                results["mlflow (sqlite)"] = peer
        load.append(os.getloadavg()[0])
        report(results)
        print(f"\nmachine load (1-minute load average, {os.cpu_count()} cores): {load[0]:.1f} "
              f"before the run, {load[1]:.1f} after")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict[str, dict]) -> None:
    rows = [("ls one model (API)", "ls_api"), ("ls one model (CLI in-process)", "ls_cli"),
            ("show name@production (API)", "show_api"),
            ("show name@production (CLI in-process)", "show_cli")]
    header = f"{'':40}" + "".join(f"{name:>22}" for name in results)
    print(header)
    for label, key in rows:
        cells = "".join(f"{_cell(r.get(key)):>22}" for r in results.values())
        print(f"{label + ' p50/p95 ms':40}{cells}")
        cells = "".join(f"{_cpu(r.get(key)):>22}" for r in results.values())
        print(f"{'  CPU time of the call, p95 ms':40}{cells}")
    cells = "".join(f"{r['push_mb_s']:>19.0f} MB/s" for r in results.values())
    print(f"{'push (MB/s, median of 3)':40}{cells}")
    cells = "".join(f"{r['hash_copy_mb_s']:>19.0f} MB/s" if "hash_copy_mb_s" in r
                    else f"{'-':>22}" for r in results.values())
    print(f"{'  machine: sha256 + copy in one thread':40}{cells}")
    cells = "".join(f"{r['seed_s']:>20.1f} s" for r in results.values())
    print(f"{'(bulk seeding, not measured)':40}{cells}")
    ours, peer = results.get("sqlite"), results.get("mlflow (sqlite)")
    if ours and peer:
        print("\nratios on SQLite (MLflow time / Baton time; > 1 means Baton is faster):")
        for label, key in (("ls p95", "ls_api"), ("show p95", "show_api")):
            print(f"  {label}: {peer[key]['p95'] / ours[key]['p95']:.2f}x")
        print(f"  push throughput: {ours['push_mb_s'] / peer['push_mb_s']:.2f}x")
    if ours:
        ok = ours["ls_api"]["p95"] < 20 and ours["show_api"]["p95"] < 20
        cpu_ok = ours["ls_api"]["cpu_p95"] < 20 and ours["show_api"]["cpu_p95"] < 20
        print(f"\ntarget ls/show p95 < 20 ms on SQLite: wall clock {'met' if ok else 'MISSED'}, "
              f"CPU time {'met' if cpu_ok else 'MISSED'}; push >= 200 MB/s: "
              f"{'met' if ours['push_mb_s'] >= 200 else 'MISSED'}")


def _cpu(value: dict | None) -> str:
    return "-" if value is None else f"{value['cpu_p95']:.1f}"


def _cell(value: dict | None) -> str:
    return "-" if value is None else f"{value['p50']:.1f} / {value['p95']:.1f}"


if __name__ == "__main__":
    main()
