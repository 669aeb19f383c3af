"""The registry itself, on a database and a blob store this process opens directly.

`LocalRegistry` is the embedded registry the CLI uses by default, and also what the HTTP
server runs for each request on behalf of the token's user. Every method checks the
actor's role, runs in one transaction, and records what it changed in the audit log in
that same transaction: a change and its audit event are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update

from ..contract.errors import IntegrityError
from ..contract.io import MANIFEST_NAME, canonical_json
from ..settings import baton_home, current_user
from . import audit, packages, tables as t, validate
from .audit import stamp, utcnow
from .blobs import BlobStore, BlobWriter
from .errors import (
    AuthError, ConflictError, ForbiddenError, NotFoundError, PolicyError, RegistryError,
)
from .policy import (
    DEFAULT_POLICY, RESPONSIBILITIES, Policy, check_role, missing_for, parse_policy, policy_sha256,
    require,
)
from .refs import LATEST, RESERVED, STAGES, Reference, check_name, parse_ref
from .stats import handoff_stats
from .store import Store, database_url

#: Legal stage moves. Archived versions may come back, with that stage's approvals anew.
TRANSITIONS = {
    "candidate": ("staging", "archived"),
    "staging": ("production", "archived"),
    "production": ("archived",),
    "archived": ("staging", "production"),
}
NEXT_STAGE = {"candidate": "staging", "staging": "production", "archived": "production"}
GC_GRACE_S = 3600  # blobs younger than this may belong to a push still in flight


class LocalRegistry:
    """A registry opened directly. `actor` defaults to `$BATON_USER`, else the OS user;
    `role` to the actor's registered role, else the policy's `local_role`."""

    def __init__(self, url: str | None = None, *, actor: str | None = None,
                 role: str | None = None, blobs: str | None = None,
                 max_upload_bytes: int | None = None):
        self.store = Store(database_url(url))
        self.actor = validate.actor(actor or current_user())
        self._role = role
        self._blobs_setting = blobs
        self._blobs: BlobStore | None = None
        self.max_upload_bytes = max_upload_bytes

    @property
    def location(self) -> str:
        return self.store.engine.url.render_as_string(hide_password=True)

    # --- who ---------------------------------------------------------------------------

    @property
    def role(self) -> str:
        if self._role is None:
            with self.store.read() as conn:
                registered = conn.execute(select(t.users.c.role)
                                          .where(t.users.c.name == self.actor)).scalar()
                self._role = registered or self._policy(conn).local_role
        return self._role

    def whoami(self) -> dict[str, Any]:
        return {"user": self.actor, "role": self.role, "registry": self.location}

    def initialize(self) -> dict[str, str]:
        """Create (or migrate) the database and settle the blob store, e.g. before serving."""
        return {"registry": self.location, "blobs": self.blobs.url}

    # --- blobs -------------------------------------------------------------------------

    @property
    def blobs(self) -> BlobStore:
        """The blob store recorded in the database, so every client of it uses the same."""
        if self._blobs is None:
            with self.store.read() as conn:
                url = self.store.get_config(conn, "blobs")
            if url is None:
                wanted = self._blobs_setting or os.environ.get("BATON_BLOBS") or str(
                    (baton_home() / "registry" / "blobs").resolve())
                with self.store.write() as (conn, chain):
                    url = self.store.get_config(conn, "blobs")
                    if url is None:
                        conn.execute(insert(t.config).values(key="blobs", value=wanted))
                        chain.append(self.actor, "init", blobs=wanted)
                        url = wanted
            self._blobs = BlobStore(url)
        return self._blobs

    def missing_blobs(self, sha256s: Iterable[str]) -> list[str]:
        require(self.role, "push", actor=self.actor, what="upload")
        return [s for s in dict.fromkeys(sha256s) if not self.blobs.exists(s)]

    def blob_writer(self, sha256: str, where: str) -> BlobWriter:
        """A streaming upload (the HTTP server's), within the upload limit."""
        require(self.role, "push", actor=self.actor, what="upload")
        return self.blobs.writer(sha256, where=where, max_bytes=self.max_upload_bytes)

    def blob_chunks(self, sha256: str, verify: bool = True) -> Iterable[bytes]:
        """A blob that some version references (never an orphan)."""
        require(self.role, "read", actor=self.actor)
        with self.store.read() as conn:
            path = conn.execute(select(t.files.c.path).where(t.files.c.sha256 == sha256)
                                .limit(1)).scalar()
            if path is None and conn.execute(select(t.versions.c.id).where(
                    t.versions.c.manifest_sha256 == sha256).limit(1)).first():
                path = MANIFEST_NAME
        if path is None:
            raise NotFoundError(f"no registered file has sha256 {sha256}")
        return self.blobs.chunks(sha256, where=path, verify=verify)

    # --- push and pull -----------------------------------------------------------------

    def push(self, path: str | Path, *, description: str | None = None) -> dict[str, Any]:
        """Register a package (folder or `.baton` file) as the next version of its model."""
        require(self.role, "push", actor=self.actor)
        validate.text("description", description)
        upload = packages.prepare_upload(path)
        for entry in upload.all_files:
            self.blobs.put_file(upload.root / entry.path, entry.sha256,
                                where=str(upload.root / entry.path))
        return self.register(upload.manifest_sha256, upload.receipts, description=description)

    def register(self, manifest_sha256: str, receipts: list[dict[str, Any]], *,
                 description: str | None = None) -> dict[str, Any]:
        """Create the version from blobs already stored: the commit point of every push."""
        require(self.role, "push", actor=self.actor)
        validate.text("description", description)
        text = b"".join(self.blobs.chunks(manifest_sha256, where=MANIFEST_NAME)).decode("utf-8")
        manifest, digest = packages.parse_manifest_text(text, f"pushed {MANIFEST_NAME}")
        total = len(text.encode("utf-8"))
        for entry in manifest.files:
            packages.safe_path(entry.path, f"pushed {MANIFEST_NAME}")
            if len(entry.path) > validate.MAX_PATH:
                raise RegistryError(f"pushed {MANIFEST_NAME}: the path {entry.path[:60]}... is "
                                    f"longer than {validate.MAX_PATH:,} characters",
                                    hint="shorten the folder and file names")
            size = self.blobs.size(entry.sha256)
            if size is None:
                raise IntegrityError(f"{entry.path} (sha256 {entry.sha256[:12]}) was not "
                                     "uploaded", hint="push the package again")
            if size != entry.size:
                raise IntegrityError(f"{entry.path}: the stored blob has {size} bytes, the "
                                     f"manifest says {entry.size}", hint="re-pack the package")
            total += entry.size
        checked = [self._receipt_for(r, f"receipt {i + 1}", digest, manifest.name)
                   for i, r in enumerate(receipts)]
        with self.store.write() as (conn, chain):
            now = utcnow()
            model_id = conn.execute(select(t.models.c.id)
                                    .where(t.models.c.name == manifest.name)).scalar()
            if model_id is None:
                model_id = conn.execute(insert(t.models).values(
                    name=manifest.name, created_at=now, created_by=self.actor)
                ).inserted_primary_key[0]
                conn.execute(insert(t.owners), [
                    {"model_id": model_id, "responsibility": r, "user": self.actor,
                     "since": now} for r in RESPONSIBILITIES])
            existing = conn.execute(select(t.versions).where(and_(
                t.versions.c.model_id == model_id, t.versions.c.digest == digest))).first()
            if existing is not None:  # the same package again: attach what is new, no version
                for body in checked:
                    self._attach(conn, chain, existing, manifest.name, body)
                return {**self._brief(existing, manifest.name), "created": False}
            number = (conn.execute(select(func.max(t.versions.c.number))
                                   .where(t.versions.c.model_id == model_id)).scalar() or 0) + 1
            version_id = conn.execute(insert(t.versions).values(
                model_id=model_id, number=number, digest=digest, label=manifest.version,
                stage="candidate", description=description or None,
                manifest_sha256=manifest_sha256, bytes=total, pushed_by=self.actor,
                pushed_at=now, stage_since=now)).inserted_primary_key[0]
            if manifest.files:
                conn.execute(insert(t.files), [
                    {"version_id": version_id, "path": e.path, "sha256": e.sha256,
                     "size": e.size} for e in manifest.files])
            row = conn.execute(select(t.versions).where(t.versions.c.id == version_id)).one()
            chain.append(self.actor, "push", model=manifest.name, version=number,
                         digest=digest, label=manifest.version, bytes=total,
                         files=len(manifest.files))
            for body in checked:
                self._attach(conn, chain, row, manifest.name, body, at=now)
        return {**self._brief(row, manifest.name), "created": True}

    def pull(self, ref: str, dest: str | Path | None = None) -> Path:
        """The package of `ref` in the local cache (or copied to `dest`), digests verified."""
        version = self.show(ref)
        cached = packages.materialize(
            version, lambda sha, path, where: self.blobs.fetch(sha, path, where=where))
        return packages.copy_out(cached, Path(dest)) if dest is not None else cached

    # --- reading -----------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        require(self.role, "read", actor=self.actor)
        v = t.versions
        production = (select(v.c.number).where(and_(v.c.model_id == t.models.c.id,
                                                     v.c.stage == "production"))
                      .correlate(t.models).scalar_subquery())
        query = (select(t.models.c.name, func.count(v.c.id).label("versions"),
                        func.max(v.c.number).label("latest"), production.label("production"))
                 .join(v, v.c.model_id == t.models.c.id)
                 .group_by(t.models.c.id, t.models.c.name).order_by(t.models.c.name))
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def versions(self, name: str, *, stage: str | None = None) -> list[dict[str, Any]]:
        """Every version of a model, newest first."""
        require(self.role, "read", actor=self.actor)
        with self.store.read() as conn:
            model_id = self._model_id(conn, name)
            query = select(t.versions).where(t.versions.c.model_id == model_id)
            if stage is not None:
                query = query.where(t.versions.c.stage == _stage(stage, STAGES))
            rows = conn.execute(query.order_by(t.versions.c.number.desc())).all()
            ids = [r.id for r in rows]
            tags = self._tags(conn, ids)
            aliases = self._aliases(conn, ids)
        return [{**self._brief(r, name), "tags": tags.get(r.id, []),
                 "aliases": aliases.get(r.id, [])} for r in rows]

    def show(self, ref: str) -> dict[str, Any]:
        """One version with its files, receipts, reviews, history and what its next stage
        still needs."""
        require(self.role, "read", actor=self.actor)
        with self.store.read() as conn:
            row, name = self._find(conn, ref)
            return self._detail(conn, row, name)

    def model(self, name: str) -> dict[str, Any]:
        """A model: its versions by stage, owners, pending transfers and aliases."""
        require(self.role, "read", actor=self.actor)
        with self.store.read() as conn:
            model_id = self._model_id(conn, name)
            created = conn.execute(select(t.models).where(t.models.c.id == model_id)).one()
            counts = dict(conn.execute(select(t.versions.c.stage, func.count())
                                       .where(t.versions.c.model_id == model_id)
                                       .group_by(t.versions.c.stage)).all())
            production = conn.execute(select(t.versions.c.number).where(and_(
                t.versions.c.model_id == model_id, t.versions.c.stage == "production"))).scalar()
            latest = conn.execute(select(func.max(t.versions.c.number))
                                  .where(t.versions.c.model_id == model_id)).scalar()
            aliases = {r.alias: r.number for r in conn.execute(
                select(t.aliases.c.alias, t.versions.c.number)
                .join(t.versions, t.versions.c.id == t.aliases.c.version_id)
                .where(t.aliases.c.model_id == model_id).order_by(t.aliases.c.alias))}
            owners = self._owners(conn, model_id)
        return {"name": name, "created_at": stamp(created.created_at),
                "created_by": created.created_by, "latest": latest,
                "production": production, "stages": {s: counts.get(s, 0) for s in STAGES},
                "aliases": aliases, **owners}

    # --- stages ------------------------------------------------------------------------

    def promote(self, ref: str, stage: str, *, reason: str | None = None) -> dict[str, Any]:
        """Move a version into `stage` if the transition is legal and the policy holds."""
        stage = _stage(stage, STAGES)
        validate.text("reason", reason)
        with self.store.write() as (conn, chain):
            row, name = self._find(conn, ref)
            label = f"{name}:{row.number}"
            if row.stage == stage:
                raise ConflictError(f"{label} is already in {stage}")
            if stage not in TRANSITIONS[row.stage]:
                raise ConflictError(f"illegal transition for {label}: {row.stage} -> {stage}",
                                    hint=f"from {row.stage} a version can go to "
                                         f"{' or '.join(TRANSITIONS[row.stage])}")
            policy = self._policy(conn)
            require(self.role, "promote", actor=self.actor, what=f"promote to {stage}",
                    allowed=policy.rule(stage).promoters)
            production = self._production(conn, row.model_id)
            missing = missing_for(
                policy, stage, pusher=row.pushed_by, reviews=self._reviews(conn, row.id),
                receipts=self._receipt_bodies(conn, row.id), digest=row.digest,
                production_digest=production.digest if production is not None else None)
            if missing:
                raise PolicyError(f"cannot promote {label} to {stage}: " + "; ".join(missing),
                                  hint="`baton show " + label + "` lists approvals and receipts")
            now = utcnow()
            superseded = None
            if stage == "production" and production is not None:
                superseded = production.number
                self._move(conn, production, "archived", "superseded", now,
                           f"superseded by version {row.number}")
            self._move(conn, row, stage, "promote", now, reason)
            chain.append(self.actor, "promote", model=name, version=row.number,
                         **{"from": row.stage, "to": stage, "reason": reason,
                            "superseded": superseded})
        return self.show(label)

    def rollback(self, name: str, *, reason: str) -> dict[str, Any]:
        """Re-point production to the previous production version. The rolled-back version
        is archived and marked, and its approvals no longer count."""
        if not reason or not reason.strip():
            raise RegistryError("a rollback needs a reason", hint='--reason "what went wrong"')
        validate.text("reason", reason)
        with self.store.write() as (conn, chain):
            model_id = self._model_id(conn, name)
            require(self.role, "rollback", actor=self.actor, what="roll back",
                    allowed=self._policy(conn).rollback)
            current = self._production(conn, model_id)
            if current is None:
                raise ConflictError(f"{name} has no production version to roll back")
            sc, v = t.stage_changes, t.versions
            previous = conn.execute(
                select(v).join(sc, sc.c.version_id == v.c.id)
                .where(and_(v.c.model_id == model_id, sc.c.to_stage == "production",
                            v.c.id != current.id, v.c.rolled_back_at.is_(None)))
                .order_by(sc.c.id.desc()).limit(1)).first()
            if previous is None:
                raise ConflictError(f"{name} has no earlier production version to roll back "
                                    "to", hint="promote another version to production instead")
            now = utcnow()
            self._move(conn, current, "archived", "rollback", now, reason)
            conn.execute(update(v).where(v.c.id == current.id).values(rolled_back_at=now))
            conn.execute(update(t.reviews).where(t.reviews.c.version_id == current.id)
                         .values(void=True))
            self._move(conn, previous, "production", "rollback", now, reason)
            chain.append(self.actor, "rollback", model=name, version=previous.number,
                         rolled_back=current.number, reason=reason)
        return {"model": name, "production": previous.number, "rolled_back": current.number,
                "reason": reason}

    def approve(self, ref: str, *, stage: str | None = None,
                comment: str | None = None) -> dict[str, Any]:
        return self._review(ref, "approve", stage, validate.text("comment", comment))

    def reject(self, ref: str, *, reason: str, stage: str | None = None) -> dict[str, Any]:
        if not reason or not reason.strip():
            raise RegistryError("a rejection needs a reason", hint='--reason "what to fix"')
        return self._review(ref, "reject", stage, validate.text("reason", reason))

    def _review(self, ref: str, decision: str, stage: str | None,
                comment: str | None) -> dict[str, Any]:
        require(self.role, "review", actor=self.actor, what=decision)
        with self.store.write() as (conn, chain):
            row, name = self._find(conn, ref)
            label = f"{name}:{row.number}"
            if stage is None:
                stage = NEXT_STAGE.get(row.stage)
                if stage is None:
                    raise ConflictError(f"{label} is in {row.stage}: there is no next stage to "
                                        f"{decision} it for", hint="give --for STAGE")
            stage = _stage(stage, ("staging", "production"))
            if row.stage == stage:
                raise ConflictError(f"{label} is already in {stage}")
            rule = self._policy(conn).rule(stage)
            own = row.pushed_by == self.actor
            if decision == "approve" and own:
                raise_four_eyes(label, self.actor)
            if not (decision == "reject" and own):  # the pusher may always withdraw
                require(self.role, "review", actor=self.actor, allowed=rule.approvers,
                        what=f"{decision} for {stage}")
            mine = [r for r in self._reviews(conn, row.id)
                    if r["actor"] == self.actor and r["stage"] == stage and not r["void"]]
            if mine and mine[-1]["decision"] == decision:
                raise ConflictError(f"{self.actor} already {_PAST[decision]} {label} for "
                                    f"{stage}", hint="each person's decision counts once")
            now = utcnow()
            conn.execute(insert(t.reviews).values(
                version_id=row.id, stage=stage, actor=self.actor, role=self.role,
                decision=decision, comment=comment, at=now, void=False))
            chain.append(self.actor, decision, model=name, version=row.number, stage=stage,
                         comment=comment)
        return {"ref": label, "stage": stage, "decision": decision, "actor": self.actor}

    # --- annotations -------------------------------------------------------------------

    def attach_receipt(self, ref: str, receipt: dict[str, Any]) -> dict[str, Any]:
        """Attach a receipt produced after the push; it must prove exactly this version."""
        require(self.role, "annotate", actor=self.actor, what="attach receipts")
        with self.store.write() as (conn, chain):
            row, name = self._find(conn, ref)
            body = self._receipt_for(receipt, "the receipt", row.digest, f"{name}:{row.number}")
            attached = self._attach(conn, chain, row, name, body)
        return {"ref": f"{name}:{row.number}", "kind": body["kind"], "passed": body["passed"],
                "attached": attached}

    def tag(self, ref: str, tag: str, *, remove: bool = False) -> dict[str, Any]:
        require(self.role, "annotate", actor=self.actor, what="tag")
        check_name("tag", tag)
        with self.store.write() as (conn, chain):
            row, name = self._find(conn, ref)
            has = conn.execute(select(t.tags).where(and_(t.tags.c.version_id == row.id,
                                                         t.tags.c.tag == tag))).first()
            if remove and has:
                conn.execute(delete(t.tags).where(and_(t.tags.c.version_id == row.id,
                                                       t.tags.c.tag == tag)))
            elif not remove and not has:
                conn.execute(insert(t.tags).values(version_id=row.id, tag=tag))
            if bool(has) == remove:
                chain.append(self.actor, "untag" if remove else "tag", model=name,
                             version=row.number, tag=tag)
        return {"ref": f"{name}:{row.number}", "tag": tag, "removed": remove}

    def alias(self, ref: str, alias: str, *, remove: bool = False) -> dict[str, Any]:
        """Point `name@alias` at a version (moving it if it pointed elsewhere)."""
        require(self.role, "annotate", actor=self.actor, what="set aliases")
        check_name("alias", alias)
        if alias in RESERVED:
            raise RegistryError(f"'{alias}' is reserved for stages and `latest`",
                                hint="pick another alias")
        with self.store.write() as (conn, chain):
            row, name = self._find(conn, ref)
            where = and_(t.aliases.c.model_id == row.model_id, t.aliases.c.alias == alias)
            conn.execute(delete(t.aliases).where(where))
            if not remove:
                conn.execute(insert(t.aliases).values(model_id=row.model_id, alias=alias,
                                                      version_id=row.id))
            chain.append(self.actor, "unalias" if remove else "alias", model=name,
                         version=row.number, alias=alias)
        return {"ref": f"{name}:{row.number}", "alias": alias, "removed": remove}

    def comment(self, ref: str, text: str) -> dict[str, Any]:
        """Add to the version's decision log."""
        require(self.role, "annotate", actor=self.actor, what="comment")
        if not (validate.text("text", text) or "").strip():
            raise RegistryError("the comment is empty")
        with self.store.write() as (conn, chain):
            row, name = self._find(conn, ref)
            conn.execute(insert(t.comments).values(version_id=row.id, actor=self.actor,
                                                   text=text, at=utcnow()))
            chain.append(self.actor, "comment", model=name, version=row.number, text=text)
        return {"ref": f"{name}:{row.number}", "comment": text}

    # --- ownership ---------------------------------------------------------------------

    def offer_transfer(self, name: str, responsibility: str, to_user: str, *,
                       shadow_days: int = 0) -> dict[str, Any]:
        """Offer one responsibility for a model to someone else; they must accept it."""
        responsibility = _responsibility(responsibility)
        check_name("user", to_user)
        validate.days("shadow_days", shadow_days, whole=True)
        require(self.role, "transfer", actor=self.actor, what="offer a transfer")
        with self.store.write() as (conn, chain):
            model_id = self._model_id(conn, name)
            holders = self._holders(conn, model_id, responsibility)
            if self.actor not in holders and self.role != "admin":
                raise_not_owner(self.actor, name, responsibility, holders)
            if to_user in holders:
                raise ConflictError(f"{to_user} already holds {responsibility} of {name}")
            if self._pending(conn, model_id, responsibility) is not None:
                raise ConflictError(f"a transfer of {responsibility} of {name} is already "
                                    "pending", hint="it must be accepted, declined or "
                                                    "cancelled first")
            conn.execute(insert(t.transfers).values(
                model_id=model_id, responsibility=responsibility, from_user=self.actor,
                to_user=to_user, shadow_days=shadow_days, state="offered",
                offered_at=utcnow()))
            chain.append(self.actor, "transfer-offer", model=name,
                         responsibility=responsibility, to=to_user, shadow_days=shadow_days)
        return self.model(name)

    def accept_transfer(self, name: str, responsibility: str) -> dict[str, Any]:
        return self._decide_transfer(name, responsibility, "accepted")

    def decline_transfer(self, name: str, responsibility: str) -> dict[str, Any]:
        return self._decide_transfer(name, responsibility, "declined")

    def cancel_transfer(self, name: str, responsibility: str) -> dict[str, Any]:
        return self._decide_transfer(name, responsibility, "cancelled")

    def _decide_transfer(self, name: str, responsibility: str, state: str) -> dict[str, Any]:
        responsibility = _responsibility(responsibility)
        require(self.role, "transfer", actor=self.actor, what="answer a transfer")
        with self.store.write() as (conn, chain):
            model_id = self._model_id(conn, name)
            offer = self._pending(conn, model_id, responsibility)
            if offer is None:
                raise NotFoundError(f"no pending transfer of {responsibility} of {name}")
            party = offer.from_user if state == "cancelled" else offer.to_user
            if self.actor != party and not (state == "cancelled" and self.role == "admin"):
                raise_forbidden_party(self.actor, state, offer)
            now = utcnow()
            conn.execute(update(t.transfers).where(t.transfers.c.id == offer.id)
                         .values(state=state, decided_at=now))
            until = None
            if state == "accepted":
                conn.execute(insert(t.owners).values(model_id=model_id,
                                                     responsibility=responsibility,
                                                     user=self.actor, since=now))
                until = now + dt.timedelta(days=offer.shadow_days)
                o = t.owners
                conn.execute(update(o).where(and_(
                    o.c.model_id == model_id, o.c.responsibility == responsibility,
                    o.c.user == offer.from_user, o.c.until.is_(None))).values(until=until))
            chain.append(self.actor, f"transfer-{_VERBS[state]}", model=name,
                         responsibility=responsibility, **{"from": offer.from_user},
                         to=offer.to_user, shadow_until=stamp(until) if until and
                         offer.shadow_days else None)
        return self.model(name)

    # --- audit and metrics -------------------------------------------------------------

    def audit(self, *, model: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest events, oldest first."""
        require(self.role, "read", actor=self.actor)
        validate.count("limit", limit, high=validate.MAX_AUDIT_LIMIT)
        if model is not None:
            check_name("model", model)
        query = select(t.events).order_by(t.events.c.seq.desc()).limit(limit)
        if model is not None:
            query = query.where(t.events.c.model == model)
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        return [audit.event_dict(r) for r in reversed(rows)]

    def verify_audit(self) -> dict[str, Any]:
        require(self.role, "read", actor=self.actor)
        with self.store.read() as conn:
            return audit.verify(conn).as_dict()

    def stats(self, name: str | None = None) -> dict[str, Any]:
        require(self.role, "read", actor=self.actor)
        with self.store.read() as conn:
            if name is not None:
                self._model_id(conn, name)
            return handoff_stats(conn, name)

    # --- administration ----------------------------------------------------------------

    def policy(self) -> dict[str, Any]:
        require(self.role, "read", actor=self.actor)
        with self.store.read() as conn:
            row = conn.execute(select(t.policies).order_by(t.policies.c.id.desc())
                               .limit(1)).first()
        if row is None:
            return {"text": DEFAULT_POLICY, "sha256": policy_sha256(DEFAULT_POLICY),
                    "default": True, "set_by": None, "set_at": None}
        return {"text": row.text, "sha256": row.sha256, "default": False,
                "set_by": row.set_by, "set_at": stamp(row.set_at)}

    def set_policy(self, text: str) -> dict[str, Any]:
        require(self.role, "admin", actor=self.actor, what="change the policy")
        parse_policy(validate.text("policy", text) or "")
        with self.store.write() as (conn, chain):
            sha = policy_sha256(text)
            conn.execute(insert(t.policies).values(text=text, sha256=sha, set_by=self.actor,
                                                   set_at=utcnow()))
            chain.append(self.actor, "policy", sha256=sha)
        return self.policy()

    def set_user(self, user: str, role: str) -> dict[str, Any]:
        require(self.role, "admin", actor=self.actor, what="manage users")
        check_name("user", user)
        check_role(role)
        with self.store.write() as (conn, chain):
            self._upsert_user(conn, user, role)
            chain.append(self.actor, "user", user=user, role=role)
        return {"user": user, "role": role}

    def users(self) -> list[dict[str, Any]]:
        require(self.role, "admin", actor=self.actor, what="list users")
        with self.store.read() as conn:
            return [{"user": r.name, "role": r.role, "created_at": stamp(r.created_at)}
                    for r in conn.execute(select(t.users).order_by(t.users.c.name))]

    def create_token(self, user: str, *, role: str | None = None,
                     expires_days: float | None = None,
                     label: str | None = None) -> dict[str, Any]:
        """A new bearer token for `user`; only its sha256 is stored, so it is shown once."""
        require(self.role, "admin", actor=self.actor, what="create tokens")
        check_name("user", user)
        if expires_days is not None:
            validate.days("expires_days", expires_days, allow_zero=False)
        validate.text("label", label, limit=validate.MAX_LABEL)
        token = "bt_" + secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + dt.timedelta(days=expires_days) if expires_days is not None else None
        with self.store.write() as (conn, chain):
            known = conn.execute(select(t.users.c.role).where(t.users.c.name == user)).scalar()
            if role is not None:
                self._upsert_user(conn, user, check_role(role))
            elif known is None:
                raise RegistryError(f"{user} has no role yet", hint="give --role")
            token_id = conn.execute(insert(t.tokens).values(
                user=user, token_sha256=_token_hash(token), label=label, created_at=now,
                expires_at=expires)).inserted_primary_key[0]
            chain.append(self.actor, "token-create", user=user, token_id=token_id,
                         expires_at=stamp(expires) if expires else None)
        return {"id": token_id, "user": user, "role": role or known, "token": token,
                "expires_at": stamp(expires) if expires else None}

    def tokens(self) -> list[dict[str, Any]]:
        require(self.role, "admin", actor=self.actor, what="list tokens")
        with self.store.read() as conn:
            rows = conn.execute(select(t.tokens).order_by(t.tokens.c.id)).all()
        return [{"id": r.id, "user": r.user, "label": r.label,
                 "created_at": stamp(r.created_at),
                 "expires_at": stamp(r.expires_at) if r.expires_at else None,
                 "revoked": r.revoked_at is not None} for r in rows]

    def revoke_token(self, token_id: int) -> dict[str, Any]:
        require(self.role, "admin", actor=self.actor, what="revoke tokens")
        if isinstance(token_id, bool) or not isinstance(token_id, int) \
                or not 0 < token_id <= validate.MAX_NUMBER:
            raise NotFoundError(f"no active token with id {token_id}",
                                hint="`baton registry token list` shows the ids")
        with self.store.write() as (conn, chain):
            done = conn.execute(update(t.tokens).where(and_(
                t.tokens.c.id == token_id, t.tokens.c.revoked_at.is_(None)))
                .values(revoked_at=utcnow())).rowcount
            if not done:
                raise NotFoundError(f"no active token with id {token_id}")
            chain.append(self.actor, "token-revoke", token_id=token_id)
        return {"id": token_id, "revoked": True}

    def gc(self, *, grace_seconds: float = GC_GRACE_S, dry_run: bool = False) -> dict[str, Any]:
        """Delete blobs no version references (and stale temporary uploads). Blobs younger
        than the grace period are kept: they may belong to a push not yet committed."""
        require(self.role, "admin", actor=self.actor, what="collect garbage")
        validate.seconds("grace_seconds", grace_seconds)
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=grace_seconds)
        listing = list(self.blobs.listing())
        with self.store.read() as conn:
            used = set(conn.execute(select(t.files.c.sha256).distinct()).scalars())
            used |= set(conn.execute(select(t.versions.c.manifest_sha256)).scalars())
        removed, kept, young = [], 0, 0
        for sha, path, modified in listing:
            if sha and sha in used:
                kept += 1
            elif modified is not None and modified > cutoff:
                young += 1
            else:
                removed.append(path)
        if not dry_run:
            for path in removed:
                self.blobs.delete(path)
            if removed:
                with self.store.write() as (_conn, chain):
                    chain.append(self.actor, "gc", removed=len(removed))
        return {"removed": len(removed), "kept": kept, "too_young": young, "dry_run": dry_run,
                "paths": removed}

    # --- internals ---------------------------------------------------------------------

    def _policy(self, conn: Connection) -> Policy:
        text = conn.execute(select(t.policies.c.text).order_by(t.policies.c.id.desc())
                            .limit(1)).scalar()
        return _parsed_policy(text or DEFAULT_POLICY)

    def _model_id(self, conn: Connection, name: str) -> int:
        check_name("model", name)
        model_id = conn.execute(select(t.models.c.id).where(t.models.c.name == name)).scalar()
        if model_id is None:
            raise NotFoundError(f"no model named '{name}' in the registry",
                                hint="`baton ls` lists the registered models")
        return model_id

    def _find(self, conn: Connection, ref: str | Reference) -> tuple[Row, str]:
        r = parse_ref(ref) if isinstance(ref, str) else ref
        v = t.versions
        query = select(v).join(t.models, t.models.c.id == v.c.model_id).where(
            t.models.c.name == r.name)
        if r.number is not None:
            query = query.where(v.c.number == r.number)
        elif r.selector in STAGES:
            query = query.where(v.c.stage == r.selector).order_by(v.c.number.desc()).limit(1)
        elif r.selector == LATEST:
            query = query.order_by(v.c.number.desc()).limit(1)
        else:
            query = query.join(t.aliases, t.aliases.c.version_id == v.c.id).where(
                t.aliases.c.alias == r.selector)
        row = conn.execute(query).first()
        if row is None:
            model_id = self._model_id(conn, r.name)
            latest = conn.execute(select(func.max(v.c.number))
                                  .where(v.c.model_id == model_id)).scalar()
            what = (f"no version {r.number}" if r.number is not None else
                    f"no version in {r.selector}" if r.selector in STAGES else
                    f"no alias '{r.selector}'")
            raise NotFoundError(f"{r.name} has {what} (latest is {r.name}:{latest})",
                                hint=f"`baton ls {r.name}` lists its versions")
        return row, r.name

    def _production(self, conn: Connection, model_id: int) -> Row | None:
        return conn.execute(select(t.versions).where(and_(
            t.versions.c.model_id == model_id, t.versions.c.stage == "production"))).first()

    def _move(self, conn: Connection, row: Row, stage: str, kind: str, now: dt.datetime,
              reason: str | None) -> None:
        conn.execute(update(t.versions).where(t.versions.c.id == row.id)
                     .values(stage=stage, stage_since=now))
        conn.execute(insert(t.stage_changes).values(
            version_id=row.id, from_stage=row.stage, to_stage=stage, kind=kind,
            actor=self.actor, reason=reason, at=now))

    def _reviews(self, conn: Connection, version_id: int) -> list[dict[str, Any]]:
        rows = conn.execute(select(t.reviews).where(t.reviews.c.version_id == version_id)
                            .order_by(t.reviews.c.id)).all()
        return [{"stage": r.stage, "actor": r.actor, "role": r.role, "decision": r.decision,
                 "comment": r.comment, "at": stamp(r.at), "void": r.void} for r in rows]

    def _receipt_rows(self, conn: Connection, version_id: int) -> list[Row]:
        return conn.execute(select(t.receipts).where(t.receipts.c.version_id == version_id)
                            .order_by(t.receipts.c.id)).all()

    def _receipt_bodies(self, conn: Connection, version_id: int) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self._receipt_rows(conn, version_id)]

    def _receipt_for(self, receipt: Any, where: str, digest: str, label: str) -> dict[str, Any]:
        body = packages.check_receipt(receipt, where)
        if body["package_digest"] != digest:
            raise ConflictError(f"{where} ({body['kind']}) was produced for package digest "
                                f"{body['package_digest'][:12]}, not for {label} "
                                f"(digest {digest[:12]})",
                                hint="a receipt proves only the exact package it was made for")
        return body

    def _attach(self, conn: Connection, chain: audit.Chain, row: Row, name: str,
                body: dict[str, Any], at: dt.datetime | None = None) -> bool:
        text = canonical_json(body).decode("utf-8")
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if conn.execute(select(t.receipts.c.id).where(and_(
                t.receipts.c.version_id == row.id, t.receipts.c.sha256 == sha))).first():
            return False
        conn.execute(insert(t.receipts).values(
            version_id=row.id, kind=body["kind"], passed=body["passed"], sha256=sha, body=text,
            attached_by=self.actor, attached_at=at or utcnow()))
        chain.append(self.actor, "attach", model=name, version=row.number, kind=body["kind"],
                     passed=body["passed"], receipt_sha256=sha)
        return True

    def _tags(self, conn: Connection, ids: list[int]) -> dict[int, list[str]]:
        return _labels(conn, t.tags.c.tag, ids)

    def _aliases(self, conn: Connection, ids: list[int]) -> dict[int, list[str]]:
        return _labels(conn, t.aliases.c.alias, ids)

    def _brief(self, row: Row, name: str) -> dict[str, Any]:
        return {"model": name, "number": row.number, "ref": f"{name}:{row.number}",
                "label": row.label, "digest": row.digest, "stage": row.stage,
                "description": row.description, "bytes": row.bytes,
                "pushed_by": row.pushed_by, "pushed_at": stamp(row.pushed_at),
                "stage_since": stamp(row.stage_since),
                "rolled_back_at": stamp(row.rolled_back_at) if row.rolled_back_at else None}

    def _detail(self, conn: Connection, row: Row, name: str) -> dict[str, Any]:
        files = [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in conn.execute(
            select(t.files).where(t.files.c.version_id == row.id).order_by(t.files.c.path))]
        receipts = [{"kind": r.kind, "passed": r.passed, "sha256": r.sha256,
                     "attached_by": r.attached_by, "attached_at": stamp(r.attached_at),
                     "body": json.loads(r.body)} for r in self._receipt_rows(conn, row.id)]
        reviews = self._reviews(conn, row.id)
        history = [{"from": c.from_stage, "to": c.to_stage, "kind": c.kind, "actor": c.actor,
                    "reason": c.reason, "at": stamp(c.at)} for c in conn.execute(
            select(t.stage_changes).where(t.stage_changes.c.version_id == row.id)
            .order_by(t.stage_changes.c.id))]
        comments = [{"actor": c.actor, "text": c.text, "at": stamp(c.at)} for c in conn.execute(
            select(t.comments).where(t.comments.c.version_id == row.id)
            .order_by(t.comments.c.id))]
        next_stage = NEXT_STAGE.get(row.stage)
        pending = None
        if next_stage is not None:
            production = self._production(conn, row.model_id)
            pending = {"stage": next_stage, "missing": missing_for(
                self._policy(conn), next_stage, pusher=row.pushed_by, reviews=reviews,
                receipts=[r["body"] for r in receipts], digest=row.digest,
                production_digest=production.digest if production is not None else None)}
        return {**self._brief(row, name), "manifest_sha256": row.manifest_sha256,
                "tags": self._tags(conn, [row.id]).get(row.id, []),
                "aliases": self._aliases(conn, [row.id]).get(row.id, []),
                "files": files, "receipts": receipts, "reviews": reviews, "history": history,
                "comments": comments, "next": pending}

    def _holders(self, conn: Connection, model_id: int, responsibility: str) -> list[str]:
        o = t.owners
        now = utcnow()
        return list(conn.execute(select(o.c.user).where(and_(
            o.c.model_id == model_id, o.c.responsibility == responsibility,
            (o.c.until.is_(None)) | (o.c.until > now))).order_by(o.c.id)).scalars())

    def _pending(self, conn: Connection, model_id: int, responsibility: str) -> Row | None:
        tr = t.transfers
        return conn.execute(select(tr).where(and_(
            tr.c.model_id == model_id, tr.c.responsibility == responsibility,
            tr.c.state == "offered"))).first()

    def _owners(self, conn: Connection, model_id: int) -> dict[str, Any]:
        o, tr = t.owners, t.transfers
        now = utcnow()
        owners: dict[str, list[dict[str, Any]]] = {r: [] for r in RESPONSIBILITIES}
        for r in conn.execute(select(o).where(and_(
                o.c.model_id == model_id, (o.c.until.is_(None)) | (o.c.until > now)))
                .order_by(o.c.id)):
            owners[r.responsibility].append({
                "user": r.user, "since": stamp(r.since),
                "until": stamp(r.until) if r.until else None})
        offers = [{"responsibility": r.responsibility, "from": r.from_user, "to": r.to_user,
                   "shadow_days": r.shadow_days, "offered_at": stamp(r.offered_at)}
                  for r in conn.execute(select(tr).where(and_(
                      tr.c.model_id == model_id, tr.c.state == "offered")).order_by(tr.c.id))]
        return {"owners": owners, "transfers": offers}

    def _upsert_user(self, conn: Connection, user: str, role: str) -> None:
        if conn.execute(select(t.users.c.name).where(t.users.c.name == user)).first():
            conn.execute(update(t.users).where(t.users.c.name == user).values(role=role))
        else:
            conn.execute(insert(t.users).values(name=user, role=role, created_at=utcnow()))


def authenticate(registry_url: str | None, token: str | None) -> tuple[str, str]:
    """(user, role) for a bearer token; AuthError for a missing, unknown, expired or revoked
    one."""
    if not token:
        raise AuthError("a bearer token is required",
                        hint="set BATON_TOKEN (an admin creates one with `baton registry "
                             "token create USER`)")
    store = Store(database_url(registry_url))
    with store.read() as conn:
        row = conn.execute(select(t.tokens.c.user, t.tokens.c.expires_at,
                                  t.tokens.c.revoked_at, t.users.c.role)
                           .join(t.users, t.users.c.name == t.tokens.c.user)
                           .where(t.tokens.c.token_sha256 == _token_hash(token))).first()
    if row is None:
        raise AuthError("the token is not valid", hint="check BATON_TOKEN")
    if row.revoked_at is not None:
        raise AuthError("the token was revoked", hint="ask an admin for a new one")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise AuthError(f"the token expired at {stamp(row.expires_at)}",
                        hint="ask an admin for a new one")
    return row.user, row.role


def _labels(conn: Connection, column: Any, ids: list[int]) -> dict[int, list[str]]:
    """Tags or aliases of these versions, by version id."""
    found: dict[int, list[str]] = {}
    if ids:
        table = column.table
        for version_id, label in conn.execute(select(table.c.version_id, column).where(
                table.c.version_id.in_(ids)).order_by(column)):
            found.setdefault(version_id, []).append(label)
    return found


@functools.lru_cache(maxsize=8)
def _parsed_policy(text: str) -> Policy:
    return parse_policy(text)


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain sha256 cannot be brute-forced, and lookups stay
    # one indexed query.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _stage(value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise RegistryError(f"unknown stage '{value}'", hint=f"stages: {', '.join(allowed)}")
    return value


def _responsibility(value: str) -> str:
    value = value.replace("-", "_")
    if value not in RESPONSIBILITIES:
        raise RegistryError(f"unknown responsibility '{value}'",
                            hint=f"one of {', '.join(RESPONSIBILITIES)}")
    return value


def raise_four_eyes(label: str, actor: str) -> None:
    raise ForbiddenError(f"{actor} pushed {label} and cannot approve it (four eyes)",
                         hint="ask someone else to review it")


def raise_not_owner(actor: str, name: str, responsibility: str, holders: list[str]) -> None:
    raise ForbiddenError(f"{actor} does not hold {responsibility} of {name} "
                         f"(held by {', '.join(holders) or 'nobody'})",
                         hint="only a current owner (or an admin) can offer it")


def raise_forbidden_party(actor: str, state: str, offer: Row) -> None:
    who = offer.from_user if state == "cancelled" else offer.to_user
    raise ForbiddenError(f"only {who} can {_VERBS[state]} the transfer of "
                         f"{offer.responsibility} (from {offer.from_user} to {offer.to_user}); "
                         f"you are {actor}")


_VERBS = {"accepted": "accept", "declined": "decline", "cancelled": "cancel"}
_PAST = {"approve": "approved", "reject": "rejected"}
