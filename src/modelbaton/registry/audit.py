"""The audit log: an append-only hash chain of every change to the registry.

Each event stores the hash of the one before it, and its own hash covers its sequence
number, time, actor, action, subject and details. The head row (last sequence number and
hash, updated in the same transaction) catches events deleted from the end. `verify`
walks the chain and names the first event that does not hold: edited, deleted or moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from ..contract.io import canonical_json
from .tables import audit_head, events

GENESIS = "0" * 64


def stamp(at: dt.datetime) -> str:
    """The one text form of a time that is hashed and shown: ISO 8601 UTC, microseconds."""
    return at.isoformat(timespec="microseconds") + "Z"


def event_hash(seq: int, at: dt.datetime, actor: str, action: str, model: str | None,
               version: int | None, details: str, prev_hash: str) -> str:
    fields = [seq, stamp(at), actor, action, model, version, details, prev_hash]
    return hashlib.sha256(canonical_json(fields)).hexdigest()


class Chain:
    """Appends events inside a write transaction that holds the locked head row."""

    def __init__(self, conn: Connection, seq: int, head: str):
        self.conn = conn
        self.seq = seq
        self.head = head
        self.appended: list[dict[str, Any]] = []

    def append(self, actor: str, action: str, *, model: str | None = None,
               version: int | None = None, **details: Any) -> dict[str, Any]:
        at = utcnow()
        text = canonical_json(details).decode("utf-8")
        self.seq += 1
        row = {"seq": self.seq, "at": at, "actor": actor, "action": action, "model": model,
               "version": version, "details": text, "prev_hash": self.head}
        row["hash"] = event_hash(**row)
        self.conn.execute(events.insert().values(**row))
        self.head = row["hash"]
        self.appended.append(row)
        return row

    def close(self) -> None:
        if self.appended:
            self.conn.execute(update(audit_head).where(audit_head.c.id == 1)
                              .values(seq=self.seq, hash=self.head))


def lock_head(conn: Connection) -> Chain:
    """Lock the head row for the rest of the transaction (a no-op clause on SQLite, whose
    write transactions are exclusive already) and start appending after it."""
    row = conn.execute(select(audit_head.c.seq, audit_head.c.hash)
                       .where(audit_head.c.id == 1).with_for_update()).one()
    return Chain(conn, row.seq, row.hash)


@dataclass
class Verdict:
    ok: bool
    events: int
    head: str
    broken_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "head": self.head,
                "broken_seq": self.broken_seq, "problem": self.problem}


def verify(conn: Connection) -> Verdict:
    """Walk the whole chain; stop at the first event that does not hold."""
    expected_seq, prev = 1, GENESIS
    count = 0
    result = conn.execution_options(yield_per=2000).execute(
        select(events).order_by(events.c.seq))
    for row in result:
        count += 1
        if row.seq != expected_seq:
            missing = (f"event {expected_seq} is missing" if row.seq > expected_seq
                       else f"event {row.seq} appears out of order")
            return Verdict(False, count, prev, expected_seq,
                           f"{missing} (deleted or renumbered)")
        if row.prev_hash != prev:
            return Verdict(False, count, prev, row.seq,
                           f"event {row.seq} does not follow event {row.seq - 1}: one of them "
                           "was edited or the events were reordered")
        recomputed = event_hash(row.seq, row.at, row.actor, row.action, row.model, row.version,
                                row.details, row.prev_hash)
        if recomputed != row.hash:
            return Verdict(False, count, prev, row.seq,
                           f"event {row.seq} ({row.action} by {row.actor}) was edited: its "
                           "content no longer matches its hash")
        prev = row.hash
        expected_seq += 1
    result.close()
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)
                        .where(audit_head.c.id == 1)).one()
    if head.seq != expected_seq - 1 or head.hash != prev:
        return Verdict(False, count, prev, expected_seq,
                       f"the log ends at event {expected_seq - 1} but the head records event "
                       f"{head.seq}: events at the end were deleted")
    return Verdict(True, count, prev)


def event_dict(row: Any) -> dict[str, Any]:
    return {"seq": row.seq, "at": stamp(row.at), "actor": row.actor, "action": row.action,
            "model": row.model, "version": row.version, "details": json.loads(row.details),
            "hash": row.hash}


def utcnow() -> dt.datetime:
    """Naive UTC, the form both databases store and return unchanged."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
