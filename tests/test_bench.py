"""`baton bench`: measured in a fresh process, written into the manifest, against budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _scorer import copy_package, pack_scorer

import modelbaton
from modelbaton.contract.io import read_manifest
from modelbaton.package.archive import write_archive
from modelbaton.package.receipts import latest

SHORT = ("--duration", "0.3")


@pytest.fixture(scope="module")
def scorer_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("scorer")
    return pack_scorer(base / "src", base / "pkg",
                       performance={"budgets": {"latency_p99_ms": 60_000, "peak_rss_mb": 8192}})


@pytest.fixture
def pkg(scorer_pkg: Path, tmp_path: Path) -> Path:
    return copy_package(scorer_pkg, tmp_path / "pkg")


def test_bench_records_the_measurement_in_the_manifest_and_a_receipt(cli, pkg):
    before = modelbaton.open_package(pkg).digest
    result = cli("bench", pkg, *SHORT, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    measured = report["measured"]
    latency = measured["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert latency["samples"] >= 50
    assert set(measured["throughput_rps"]) == {"1", "8", "64", "512"}
    assert measured["throughput_rps"]["512"] > measured["throughput_rps"]["1"] > 0
    assert measured["load_time_s"] > 0
    # The measuring process's own memory: more than an interpreter, far less than pytest's.
    assert 10 < measured["peak_rss_mb"] < 1024
    assert measured["artifact_bytes"] == (pkg / "model" / "python.json").stat().st_size
    assert measured["package_bytes"] > measured["artifact_bytes"]
    machine = measured["machine"]
    assert machine["cores"] >= 1 and machine["cpu"] and machine["python"].startswith("CPython")
    assert "numpy" in machine["libraries"]
    assert report["budget_violations"] == []

    package = modelbaton.open_package(pkg)  # still intact: only the manifest changed
    assert package.digest == report["package_digest"] != before
    recorded = package.manifest.performance.measured
    assert recorded.latency_ms.p99 == latency["p99"]
    assert recorded.throughput_rps[512] == measured["throughput_rps"]["512"]
    assert package.manifest.performance.budgets.latency_p99_ms == 60_000  # kept
    receipt = latest(pkg, "bench", package.digest)
    assert receipt["passed"] and receipt["measured"]["peak_rss_mb"] == measured["peak_rss_mb"]


def test_exceeded_budget_exits_1_and_says_which(cli, tmp_path):
    pkg = pack_scorer(tmp_path / "src", tmp_path / "pkg", performance={"budgets": {
        "latency_p50_ms": 0.000001, "peak_rss_mb": 1, "min_throughput_rps": 1e12}})
    result = cli("bench", pkg, *SHORT)
    assert result.code == 1
    assert "over budget: p50 latency" in result.out and "exceeds the budget of 1e-06 ms" in \
        result.out
    assert "over budget: peak RSS" in result.out
    assert "at batch size 512) is below the budget" in result.out
    receipt = latest(pkg, "bench", modelbaton.open_package(pkg).digest)
    assert not receipt["passed"] and len(receipt["budget_violations"]) == 3


def test_compare_shows_deltas_against_a_package_or_a_receipt(cli, pkg, tmp_path, scorer_pkg):
    other = copy_package(scorer_pkg, tmp_path / "other")
    assert cli("bench", other, *SHORT).code == 0
    report = json.loads(cli("bench", pkg, *SHORT, "--compare", other, "--json").out)
    deltas = {row["metric"]: row for row in report["compared_with"]["deltas"]}
    recorded = read_manifest(other / "baton.yaml").performance.measured
    assert deltas["latency p99 (ms)"]["other"] == recorded.latency_ms.p99
    assert deltas["package (bytes)"]["change_pct"] is not None
    assert latest(pkg, "bench", report["package_digest"])["compared_with"]["ref"] == str(other)

    receipt = latest(other, "bench", modelbaton.open_package(other).digest)["_path"]
    shown = cli("bench", pkg, *SHORT, "--no-write", "--compare", receipt)
    assert shown.code == 0 and "against" in shown.out and "latency p99 (ms)" in shown.out


def test_no_write_leaves_the_package_as_it_was(cli, pkg):
    manifest = (pkg / "baton.yaml").read_bytes()
    result = cli("bench", pkg, *SHORT, "--no-write")
    assert result.code == 0 and "latency p50 / p95 / p99" in result.out
    assert (pkg / "baton.yaml").read_bytes() == manifest
    assert not (pkg / "receipts").exists()


def test_bench_of_a_baton_file_rewrites_it(cli, tmp_path, scorer_pkg):
    archive = write_archive(scorer_pkg, tmp_path / "scorer.baton")
    assert cli("bench", archive, "--quick").code == 0
    package = modelbaton.open_package(archive)
    assert package.manifest.performance.measured.latency_ms.p50 > 0
    assert latest(package.root, "bench", package.digest)["passed"]


def test_bad_input(cli, pkg, tmp_path):
    assert cli("bench", tmp_path / "nothing").code == 2
    result = cli("bench", pkg, "--duration", "0")
    assert result.code == 2 and "--duration 0 must be more than 0" in result.err
    result = cli("bench", pkg, *SHORT, "--compare", pkg)
    assert result.code == 2 and "has no measured performance" in result.err
    (tmp_path / "r.json").write_text('{"kind": "verify"}')
    result = cli("bench", pkg, "--compare", tmp_path / "r.json")
    assert result.code == 2 and "is not a bench receipt" in result.err
