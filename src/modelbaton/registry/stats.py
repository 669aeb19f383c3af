"""Handoff metrics: how long models take to reach production and how smoothly they get there.

Per model and overall: lead time from push to first production, mean time spent in each
stage, rework (rejections, and versions superseded by a new push before anyone approved
them), the checklist score of the `check` receipts that came with the push, the pass rate
of `verify` receipts, and rollbacks.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from . import tables as t
from .audit import utcnow


def handoff_stats(conn: Connection, name: str | None = None) -> dict[str, Any]:
    v, m = t.versions, t.models
    query = select(v, m.c.name).join(m, m.c.id == v.c.model_id)
    if name is not None:
        query = query.where(m.c.name == name)
    versions = conn.execute(query.order_by(v.c.model_id, v.c.number)).all()
    ids = [row.id for row in versions]
    changes = _by_version(conn, t.stage_changes, ids)
    reviews = _by_version(conn, t.reviews, ids)
    receipts = _by_version(conn, t.receipts, ids)

    per_model: dict[str, list[Any]] = defaultdict(list)
    for row in versions:
        per_model[row.name].append(row)
    now = utcnow()
    models = {model: _summary(rows, changes, reviews, receipts, now)
              for model, rows in per_model.items()}
    overall = _summary(versions, changes, reviews, receipts, now)
    overall["models"] = len(models)
    return {"overall": overall, "models": models}


def _by_version(conn: Connection, table: Any, ids: list[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for row in conn.execute(select(table).where(table.c.version_id.in_(chunk))
                                .order_by(table.c.id)):
            found[row.version_id].append(row)
    return found


def _summary(versions: list[Any], changes: dict[int, list[Any]],
             reviews: dict[int, list[Any]], receipts: dict[int, list[Any]],
             now: dt.datetime) -> dict[str, Any]:
    lead_times, stage_seconds = [], defaultdict(list)
    rejections = repushes = rollbacks = 0
    scores: list[float] = []
    verify_passed = verify_total = 0
    latest_of_model: dict[int, int] = {}
    for row in versions:
        latest_of_model[row.model_id] = max(latest_of_model.get(row.model_id, 0), row.number)
    for row in versions:
        moves = changes.get(row.id, [])
        first_production = next((c.at for c in moves if c.to_stage == "production"), None)
        if first_production is not None:
            lead_times.append(_seconds(first_production - row.pushed_at))
        stage, since = "candidate", row.pushed_at
        for change in moves:
            stage_seconds[stage].append(_seconds(change.at - since))
            stage, since = change.to_stage, change.at
        if stage != "archived":
            stage_seconds[stage].append(_seconds(now - since))
        rollbacks += sum(1 for c in moves if c.kind == "rollback" and c.to_stage == "archived")
        decisions = reviews.get(row.id, [])
        rejections += sum(1 for r in decisions if r.decision == "reject")
        never_approved = not any(r.decision == "approve" for r in decisions) and not moves
        if never_approved and row.number < latest_of_model[row.model_id]:
            repushes += 1
        for receipt in receipts.get(row.id, []):
            if receipt.kind == "verify":
                verify_total += 1
                verify_passed += bool(receipt.passed)
            elif receipt.kind == "check" and receipt.attached_at == row.pushed_at:
                score = json.loads(receipt.body).get("score")
                if isinstance(score, (int, float)):
                    scores.append(float(score))
    return {
        "versions": len(versions),
        "in_production": sum(1 for row in versions if row.stage == "production"),
        "lead_time_to_production_s": _describe(lead_times),
        "seconds_in_stage": {stage: round(statistics.fmean(seconds), 3)
                             for stage, seconds in stage_seconds.items()},
        "rework": {"rejections": rejections, "repushes_before_approval": repushes},
        "checklist_score_at_push": round(statistics.fmean(scores), 3) if scores else None,
        "verify_pass_rate": round(verify_passed / verify_total, 3) if verify_total else None,
        "verify_receipts": verify_total,
        "rollbacks": rollbacks,
    }


def _describe(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    return {"count": len(values), "median": round(statistics.median(values), 3),
            "mean": round(statistics.fmean(values), 3), "max": round(max(values), 3)}


def _seconds(delta: dt.timedelta) -> float:
    return delta.total_seconds()
