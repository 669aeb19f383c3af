"""Registry fixtures: every registry test runs on SQLite and on PostgreSQL.

PostgreSQL gets one database per test session, named uniquely so parallel runs by others
never collide, emptied before each test and dropped at the end. Where PostgreSQL is not
reachable its tests skip, except on CI (`CI=true`), where they fail.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from registry_helpers import MAX_UPLOAD, make_variant

PG_SERVER = os.environ.get("BATON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TINY_MODEL = '''\
import numpy as np


def predict(x):
    return np.asarray(x, dtype=float).sum(axis=1)
'''


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped at the end)."""
    import psycopg

    name = f"baton_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    base, _, _ = PG_SERVER.rpartition("/")
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER} on CI: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_SERVER}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        from modelbaton.registry.store import dispose_engines

        dispose_engines()
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
            baton_home: Path) -> str:
    """`BATON_REGISTRY` for an empty registry: SQLite in this test's BATON_HOME, or the
    session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        monkeypatch.delenv("BATON_REGISTRY", raising=False)
        return "sqlite"
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("BATON_REGISTRY", url)
    empty_postgres(url)
    return "postgresql"


def empty_postgres(url: str) -> None:
    from sqlalchemy import insert, text

    from modelbaton.registry.store import Store, database_url
    from modelbaton.registry.tables import audit_head, metadata

    store = Store(database_url(url))
    with store.engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        conn.execute(insert(audit_head).values(id=1, seq=0, hash="0" * 64))


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real package (a Python-function model shipped in code/), packed once."""
    import modelbaton

    folder = tmp_path_factory.mktemp("tiny")
    (folder / "tinymodel.py").write_text(TINY_MODEL)
    import sys

    sys.path.insert(0, str(folder))
    try:
        from tinymodel import predict
    finally:
        sys.path.remove(str(folder))
    sample = {"a": np.arange(10.0), "b": np.arange(10.0) * 2}
    return modelbaton.pack(predict, folder / "pkg", sample_input=sample, name="tiny",
                           version="1", code=folder / "tinymodel.py", golden_rows=3)


@pytest.fixture
def variant(tiny_package: Path, tmp_path: Path) -> Callable[..., Path]:
    """A copy of the tiny package as another model name and/or version label (so another
    digest), with the same files: `variant("2")`, `variant("1", name="other")`."""
    made = 0

    def make(label: str, *, name: str = "tiny", extra: bytes | None = None) -> Path:
        nonlocal made
        made += 1
        return make_variant(tiny_package, tmp_path / f"v{made}-{name}-{label}", label,
                            name=name, extra=extra)

    return make


@pytest.fixture
def receipt(tmp_path: Path) -> Callable[..., dict]:
    """A receipt in the real format (written by `write_receipt`), for a package digest."""
    from modelbaton.package.receipts import write_receipt

    def make(digest: str, kind: str, passed: bool = True, **details) -> dict:
        path = write_receipt(tmp_path / "receipts-made", kind, digest=digest, passed=passed,
                             details=details)
        return json.loads(path.read_text())

    (tmp_path / "receipts-made").mkdir()
    return make


@pytest.fixture
def as_user(backend: str) -> Callable[..., object]:
    """The registry under test, acting as `user` (role: registered, else the local role)."""
    from modelbaton.registry.local import LocalRegistry

    return lambda user, role=None: LocalRegistry(actor=user, role=role)


@pytest.fixture
def server(backend: str) -> Iterator[str]:
    """`baton registry serve` on a free loopback port, for this test's registry."""
    import uvicorn

    from modelbaton.registry.api import create_app

    app = create_app(max_upload_bytes=MAX_UPLOAD)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    uv.should_exit = True
    thread.join(5)
