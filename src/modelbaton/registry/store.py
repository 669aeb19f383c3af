"""The metadata database: SQLite under `$BATON_HOME` by default, PostgreSQL at scale.

`BATON_REGISTRY` picks it: unset for `$BATON_HOME/registry/registry.db`, `postgresql://…`
(psycopg 3) or `sqlite:///…`. The schema is created and upgraded by the Alembic migrations
shipped in `migrations/`; a connection that finds the schema current never imports Alembic.

Every write runs in one transaction that first locks the audit head row (on SQLite the
transaction itself is exclusive, `BEGIN IMMEDIATE`), so writers are serialised: version
numbers have no gaps or duplicates and the audit chain stays linear under concurrency.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.exc import OperationalError

from ..settings import baton_home
from .audit import Chain, lock_head
from .errors import RegistryError
from .tables import config

SCHEMA_REVISION = "0001"  # the newest migration in migrations/versions
MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK = 0x6261746F6E  # "baton": serialises concurrent first-time migrations

_engines: dict[tuple[int, str], Engine] = {}


def database_url(setting: str | None = None) -> str:
    """The SQLAlchemy URL for a `BATON_REGISTRY` value (or the embedded default)."""
    value = setting if setting is not None else os.environ.get("BATON_REGISTRY", "")
    if not value:
        folder = baton_home() / "registry"
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder.resolve() / 'registry.db'}"
    scheme, sep, rest = value.partition("://")
    if sep and scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if scheme == "sqlite":
        return value
    raise RegistryError(f"BATON_REGISTRY={value!r} is not a registry address",
                        hint="use postgresql://user@host/db, sqlite:///path, an http(s):// "
                             "registry server, or unset it for the embedded registry")


def engine_for(url: str) -> Engine:
    """One engine per URL and process, with the schema migrated to the current revision."""
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        engine = _create(url)
        _migrate(engine)
        _engines[key] = engine
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def _forget_inherited_engines() -> None:
    """In a forked child, drop the parent's pooled connections without closing them (closing
    would end the parent's database sessions); the child opens its own."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_engines)


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                           "busy_timeout=60000"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("baton_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _migrate(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            if _revision(conn) == SCHEMA_REVISION:
                return
        with engine.connect().execution_options(baton_write=True) as conn, conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
            if _revision(conn) != SCHEMA_REVISION:
                from alembic import command
                from alembic.config import Config

                cfg = Config()
                cfg.set_main_option("script_location", str(MIGRATIONS))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise RegistryError(f"cannot open the registry database {engine.url!r}: "
                            f"{str(exc.orig).strip().splitlines()[0]}",
                            hint="is the database running and BATON_REGISTRY right?") from None


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


class Store:
    """Read and write transactions on one registry database."""

    def __init__(self, url: str):
        self.url = url
        self.engine = engine_for(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[tuple[Connection, Chain]]:
        """A write transaction holding the audit head; events appended are committed with it."""
        with self.engine.connect().execution_options(baton_write=True) as conn, conn.begin():
            chain = lock_head(conn)
            yield conn, chain
            chain.close()

    def get_config(self, conn: Connection, key: str) -> str | None:
        return conn.execute(select(config.c.value).where(config.c.key == key)).scalar()
