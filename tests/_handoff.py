"""Helpers for the checklist, report and diff tests: a fully written handoff, and package
variants made by editing a copy of a real package (keeping its file digests true)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelbaton.contract.io import read_manifest, write_manifest
from modelbaton.contract.manifest import FileEntry, Manifest
from modelbaton.package.integrity import sha256_file

NEXT_YEAR = dt.date.today() + dt.timedelta(days=365)


def full_handoff() -> dict[str, Any]:
    """Every human section written, as a careful data scientist would."""
    return {
        "description": "Classifies iris flowers by species from four measurements, for the "
                       "greenhouse sorting line.",
        "owners": {
            "training": {"name": "Dana (plant ML)", "contact": "dana@example.org"},
            "deployment": {"name": "Platform team", "contact": "#ml-platform"},
            "monitoring": {"name": "ML on-call", "contact": "pager:ml-oncall"},
            "replacement_decision": {"name": "Head of horticulture",
                                     "contact": "hort-lead@example.org"},
            "data_steward": {"name": "Greenhouse data", "contact": "data@example.org"},
        },
        "business_context": {
            "problem": "Manual sorting is slow.", "users": "Sorting line operators.",
            "decision_supported": "Which bin a flower goes to.",
            "value": "Two operators freed per shift.",
            "cost_of_errors": "A mis-sorted flower is re-sorted by hand (about 1 minute).",
        },
        "model": {"training_approach": "Logistic regression, 5-fold CV on C."},
        "preprocessing": {"steps": ["add petal area = length x width"]},
        "data": {"datasets": [{
            "name": "training", "role": "training", "source": "Fisher's iris measurements",
            "time_range": {"start": "1935-01-01", "end": "1936-12-31"},
            "transformations": ["renamed columns"], "pii": [],
        }]},
        "evaluation": {"metrics": [{
            "name": "accuracy", "value": 0.96, "dataset": "training",
            "business_meaning": "share of flowers sorted into the right bin without a human",
            "threshold": 0.9,
        }]},
        "performance": {
            "measured": {"latency_ms": {"p50": 0.8, "p95": 1.2, "p99": 2.0},
                         "peak_rss_mb": 180.0, "throughput_rps": {1: 900.0, 64: 30000.0}},
            "budgets": {"latency_p99_ms": 10, "peak_rss_mb": 512},
        },
        "limitations": {"known": ["Only three species."],
                        "failure_modes": ["A fourth species is forced into one of three."],
                        "out_of_scope": ["Wild flowers."]},
        "retraining": {"cadence": "yearly", "triggers": ["accuracy below 0.9 on audits"],
                       "data_needed": "a season of audited sorts",
                       "procedure": "python train.py && baton check"},
        "monitoring": {"metrics": ["share per species"], "drift": {"psi_alert": 0.25},
                       "latency_p99_ms": 10, "paged": "ML on-call"},
        "support": {"until": NEXT_YEAR.isoformat(), "contact": "dana@example.org"},
        "rollback": {"plan": "re-point the line to the previous version",
                     "fallback": "manual sorting"},
        "decisions": [{"date": "2026-01-10", "decision": "logistic regression over a forest",
                       "by": "Dana", "rationale": "same accuracy, simpler"}],
        "glossary": {"petal": "the coloured leaf of a flower"},
    }


def variant(source: Path, target: Path, edit: Callable[[Manifest], Any] | None = None,
            files: dict[str, bytes | str | None] | None = None) -> Path:
    """A copy of the package at `source` with its manifest edited and files added, replaced
    or (given None) removed, and the manifest's file list updated so the copy is intact."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("receipts"))
    manifest = read_manifest(target / "baton.yaml")
    if edit is not None:
        manifest = edit(manifest) or manifest
    entries = {e.path: e for e in manifest.files}
    for rel, content in (files or {}).items():
        path = target / rel
        if content is None:
            path.unlink()
            del entries[rel]
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        entries[rel] = FileEntry(path=rel, sha256=sha256_file(path), size=path.stat().st_size)
    manifest = manifest.model_copy(update={"files": sorted(entries.values(),
                                                           key=lambda e: e.path)})
    write_manifest(manifest, target / "baton.yaml")
    return target
