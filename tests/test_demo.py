"""The README's main job, end to end: `baton demo` tells the whole handoff and it holds."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from modelbaton.contract.io import read_manifest
from modelbaton.package.receipts import read_receipts


@pytest.mark.slow
def test_the_demo_tells_the_whole_handoff(cli, tmp_path, monkeypatch):
    # Offline once installed: no package index is reachable (every request would go through
    # a proxy that refuses it); the clean room is built from the wheels installed here.
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    # A registry configured for the user's real work is neither needed nor written to.
    monkeypatch.setenv("BATON_REGISTRY", "postgresql://127.0.0.1:9/elsewhere")
    monkeypatch.setenv("BATON_BLOBS", str(tmp_path / "foreign-blobs"))
    workdir = tmp_path / "baton-demo"
    result = cli("demo", workdir)
    assert result.code == 0, result.out[-3000:] + result.err[-3000:]
    out = result.out + result.err  # errors (the four-eyes refusal) go to stderr

    # The data scientist's package: committed code in its lineage, measured, checked, signed.
    v1 = read_manifest(workdir / "biopsy-triage-1.0.0" / "baton.yaml")
    assert v1.lineage.git_commit and v1.lineage.git_dirty is False
    assert v1.performance.measured.latency_ms.p99 > 0
    kinds = {r["kind"] for r in read_receipts(workdir / "biopsy-triage-1.0.0")}
    assert {"bench", "check", "signature"} <= kinds
    assert "0 errors" in out

    # The receiving engineers: a clean room, four eyes, gates, shadow, drift, rollback.
    assert "reproduced in a clean room" in out
    assert "cannot approve it (four eyes)" in out
    assert "biopsy-triage:1 is now in production" in out
    assert "biopsy-triage:2 is now in production" in out
    shadow = next(line for line in out.splitlines() if line.startswith("shadow: "))
    assert "40 rows compared" in shadow and "errors 0" in shadow
    log = pq.read_table(workdir / "predictions").to_pandas()
    assert sorted(log["role"].value_counts().to_dict().items()) == [("primary", 40),
                                                                     ("shadow", 40)]
    assert "ALERT" in out and "radius_mean" in out
    assert "production is biopsy-triage:1 again" in out
    assert "audit log intact" in out

    # What it leaves behind for people to read.
    report = (workdir / "handoff-report.html").read_text()
    assert "biopsy-triage" in report and "<script src=" not in report
    assert (workdir / "drift-report.html").stat().st_size > 0
    assert str(workdir / "handoff-report.html") in out.replace("\n", "")

    # The registry it leaves: version 2 rolled back, version 1 serving again.
    monkeypatch.delenv("BATON_REGISTRY")
    monkeypatch.delenv("BATON_BLOBS")
    monkeypatch.setenv("BATON_HOME", str(workdir / ".baton"))
    versions = {v["number"]: v for v in json.loads(cli("ls", "biopsy-triage", "--json").out)}
    assert versions[1]["stage"] == "production" and versions[1]["pushed_by"] == "dana"
    assert versions[2]["stage"] == "archived" and versions[2]["rolled_back_at"]
    assert not (tmp_path / "foreign-blobs").exists()
