"""The registry's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Times are naive UTC everywhere, so SQLite and PostgreSQL store and return the same values
(and the audit hash chain sees the same bytes on both).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table,
    Text, UniqueConstraint, text,
)

metadata = MetaData()
SHA = String(64)

config = Table(
    "baton_config", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

models = Table(
    "baton_models", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
)

versions = Table(
    "baton_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("baton_models.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("digest", SHA, nullable=False),
    Column("label", String(128), nullable=False),  # the manifest's own `version`
    Column("stage", String(16), nullable=False),
    Column("description", Text, nullable=True),
    Column("manifest_sha256", SHA, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("pushed_by", String(128), nullable=False),
    Column("pushed_at", DateTime, nullable=False),
    Column("stage_since", DateTime, nullable=False),
    Column("rolled_back_at", DateTime, nullable=True),
    UniqueConstraint("model_id", "number", name="uq_baton_versions_number"),
    Index("ix_baton_versions_stage", "model_id", "stage"),
    Index("ix_baton_versions_digest", "digest"),
    # At most one production version per model, whatever the code above it does.
    Index("uq_baton_versions_production", "model_id", unique=True,
          sqlite_where=text("stage = 'production'"),
          postgresql_where=text("stage = 'production'")),
)

files = Table(
    "baton_files", metadata,
    Column("version_id", Integer, ForeignKey("baton_versions.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("sha256", SHA, nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_baton_files_sha256", "sha256"),
)

receipts = Table(
    "baton_receipts", metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("baton_versions.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("sha256", SHA, nullable=False),  # of the receipt's canonical JSON
    Column("body", Text, nullable=False),
    Column("attached_by", String(128), nullable=False),
    Column("attached_at", DateTime, nullable=False),
    UniqueConstraint("version_id", "sha256", name="uq_baton_receipts_body"),
)

reviews = Table(
    "baton_reviews", metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("baton_versions.id"), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("decision", String(8), nullable=False),  # approve | reject
    Column("comment", Text, nullable=True),
    Column("at", DateTime, nullable=False),
    Column("void", Boolean, nullable=False, default=False),  # set by a rollback
    Index("ix_baton_reviews_version", "version_id"),
)

stage_changes = Table(
    "baton_stage_changes", metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("baton_versions.id"), nullable=False),
    Column("from_stage", String(16), nullable=False),
    Column("to_stage", String(16), nullable=False),
    Column("kind", String(16), nullable=False),  # promote | superseded | rollback
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", DateTime, nullable=False),
    Index("ix_baton_stage_changes_version", "version_id"),
)

tags = Table(
    "baton_tags", metadata,
    Column("version_id", Integer, ForeignKey("baton_versions.id"), primary_key=True),
    Column("tag", String(128), primary_key=True),
)

aliases = Table(
    "baton_aliases", metadata,
    Column("model_id", Integer, ForeignKey("baton_models.id"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version_id", Integer, ForeignKey("baton_versions.id"), nullable=False),
)

comments = Table(
    "baton_comments", metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("baton_versions.id"), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_baton_comments_version", "version_id"),
)

owners = Table(
    "baton_owners", metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("baton_models.id"), nullable=False),
    Column("responsibility", String(32), nullable=False),
    Column("user", String(128), nullable=False),
    Column("since", DateTime, nullable=False),
    Column("until", DateTime, nullable=True),  # end of a shadow (co-ownership) period
    Index("ix_baton_owners_model", "model_id"),
)

transfers = Table(
    "baton_transfers", metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("baton_models.id"), nullable=False),
    Column("responsibility", String(32), nullable=False),
    Column("from_user", String(128), nullable=False),
    Column("to_user", String(128), nullable=False),
    Column("shadow_days", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # offered | accepted | declined | cancelled
    Column("offered_at", DateTime, nullable=False),
    Column("decided_at", DateTime, nullable=True),
    Index("ix_baton_transfers_model", "model_id"),
)

users = Table(
    "baton_users", metadata,
    Column("name", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

tokens = Table(
    "baton_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user", String(128), ForeignKey("baton_users.name"), nullable=False),
    Column("token_sha256", SHA, nullable=False, unique=True),
    Column("label", String(128), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
)

policies = Table(
    "baton_policies", metadata,
    Column("id", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("sha256", SHA, nullable=False),
    Column("set_by", String(128), nullable=False),
    Column("set_at", DateTime, nullable=False),
)

events = Table(
    "baton_events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("model", String(128), nullable=True),
    Column("version", Integer, nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", SHA, nullable=False),
    Column("hash", SHA, nullable=False),
    Index("ix_baton_events_model", "model"),
)

#: One row: the last event's sequence number and hash. Every write locks it first, which
#: serialises writers (version numbers, the hash chain) on both backends, and lets
#: `audit verify` notice events deleted from the end of the log.
audit_head = Table(
    "baton_audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", SHA, nullable=False),
)
