"""The registry's HTTP API on a real uvicorn server on loopback, through the HTTP client:
the same rules as locally, bearer tokens by role, and 401/403/404/409/413, never 500."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from modelbaton.registry import (
    AuthError, ConflictError, ForbiddenError, NotFoundError, PolicyError, TooLargeError,
)
from modelbaton.registry.client import RemoteRegistry
from modelbaton.registry.local import LocalRegistry
from registry_helpers import MAX_UPLOAD


@pytest.fixture
def remote(server: str) -> Callable[[str], RemoteRegistry]:
    """A client per user, each with a token for the role the user has."""
    admin = LocalRegistry(actor="root")
    roles = {"alice": "scientist", "bob": "engineer", "carol": "engineer", "vic": "viewer",
             "root": "admin"}
    tokens = {user: admin.create_token(user, role=role)["token"] for user, role in roles.items()}
    clients: list[RemoteRegistry] = []

    def client(user: str) -> RemoteRegistry:
        clients.append(RemoteRegistry(server, token=tokens[user]))
        return clients[-1]

    yield client
    for c in clients:
        c.close()


def test_the_handoff_over_http(remote, variant, receipt, baton_home):
    alice, bob, carol = remote("alice"), remote("bob"), remote("carol")
    assert alice.whoami()["user"] == "alice" and alice.whoami()["role"] == "scientist"
    version = alice.push(variant("1"), description="first cut")
    assert version["ref"] == "tiny:1" and version["pushed_by"] == "alice"
    assert alice.push(variant("1"))["created"] is False
    with pytest.raises(ForbiddenError, match="alice pushed tiny:1 and cannot approve it"):
        alice.approve("tiny:1")
    bob.approve("tiny:1", comment="looks right")
    with pytest.raises(ConflictError, match="bob already approved"):
        bob.approve("tiny:1")
    with pytest.raises(PolicyError, match="1 more approval"):
        bob.promote("tiny:1", "staging")
    carol.approve("tiny:1")
    for kind in ("check", "verify"):
        alice.attach_receipt("tiny:1", receipt(version["digest"], kind))
    assert bob.promote("tiny:1", "staging")["stage"] == "staging"
    shown = remote("vic").show("tiny@staging")
    assert shown["description"] == "first cut"
    assert [(r["actor"], r["role"]) for r in shown["reviews"]] == [("bob", "engineer"),
                                                                    ("carol", "engineer")]
    # Pulled over HTTP, every blob verified, receipts included.
    path = remote("vic").pull("tiny@staging")
    import modelbaton

    assert modelbaton.load(path).predict({"a": [1.0], "b": [2.0]}).tolist() == [3.0]
    assert sorted(p.name.split("-")[0] for p in (path / "receipts").iterdir()) == [
        "check", "verify"]
    verdict = bob.verify_audit()
    assert verdict["ok"] and verdict["events"] >= 7
    actors = [(e["action"], e["actor"]) for e in bob.audit()]
    assert ("approve", "carol") in actors and ("promote", "bob") in actors


def test_tokens_and_roles_are_enforced(remote, server, variant):
    with pytest.raises(AuthError, match="not valid"):
        RemoteRegistry(server, token="bt_forged").models()
    with pytest.raises(AuthError, match="bearer token is required") as missing:
        RemoteRegistry(server).models()
    assert "`baton registry token create USER`" in str(missing.value)  # a command that exists
    admin = LocalRegistry(actor="root")
    short = admin.create_token("bob", expires_days=1e-6)["token"]
    time.sleep(0.2)
    with pytest.raises(AuthError, match="expired"):
        RemoteRegistry(server, token=short).models()
    revoked = admin.create_token("bob")
    admin.revoke_token(revoked["id"])
    with pytest.raises(AuthError, match="revoked"):
        RemoteRegistry(server, token=revoked["token"]).models()
    with pytest.raises(ForbiddenError, match=r"vic \(viewer\) may not upload"):
        remote("vic").push(variant("1"))
    with pytest.raises(ForbiddenError, match="may not create tokens"):
        remote("bob").create_token("bob", role="admin")
    with pytest.raises(ForbiddenError, match="may not change the policy"):
        remote("alice").set_policy("stages: {}\n")
    # Tokens are stored hashed: the database never holds one.
    from sqlalchemy import text

    with admin.store.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT token_sha256 FROM baton_tokens"))]
    assert short not in stored and all(len(s) == 64 for s in stored)


def test_bad_requests_get_4xx_never_500(remote, server, variant, tmp_path):
    alice = remote("alice")
    with pytest.raises(NotFoundError, match="no model named 'ghost'"):
        alice.show("ghost:1")
    alice.push(variant("1"))
    with pytest.raises(NotFoundError, match="no version 7"):
        alice.show("tiny:7")
    token = LocalRegistry(actor="root").create_token("eve", role="engineer")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{server}/api/v1"
    checks = [
        ("GET", "/versions/not a ref", None, 400),
        ("POST", "/versions/tiny:1/promote", b"{not json", 400),
        ("POST", "/versions/tiny:1/promote", b"[1, 2]", 400),
        ("POST", "/versions/tiny:1/promote", b'{"stage": 3}', 400),
        ("POST", "/versions/tiny:1/promote", b'{"stage": "production"}', 409),
        ("POST", "/versions/tiny:1/reject", b"{}", 400),
        ("POST", "/versions", b'{"manifest_sha256": "' + b"0" * 64 + b'"}', 422),
        ("POST", "/blobs/missing", b'{"sha256": ["zz"]}', 400),
        ("POST", "/versions", b'{"manifest_sha256": "../../../../etc/passwd"}', 400),
        ("GET", "/blobs/..etc..passwd", None, 404),
        ("PUT", "/blobs/not-a-digest", b"x", 400),
        ("GET", "/audit?limit=many", None, 400),
        ("DELETE", "/tokens/999", None, 403),
        ("GET", "/blobs/" + "0" * 64, None, 404),
    ]
    for method, path, body, status in checks:
        response = httpx.request(method, api + path, content=body, headers=headers)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["error"]["message"]


def test_oversized_uploads_are_refused_with_413(remote, variant):
    big = variant("2", extra=b"x" * (MAX_UPLOAD + 1))
    with pytest.raises(TooLargeError, match="docs/extra.bin .* larger than the upload limit"):
        remote("alice").push(big)
    assert remote("alice").models() == []


def test_a_corrupt_blob_is_named_on_a_remote_pull(remote, variant):
    version = remote("alice").push(variant("1"))
    store = LocalRegistry(actor="root").blobs
    sha = next(f["sha256"] for f in remote("bob").show("tiny:1")["files"]
               if f["path"] == "model/python.json")
    path = store.path(sha)
    with open(path, "r+b") as handle:
        handle.write(b"{ ")
    from modelbaton.contract.errors import IntegrityError

    with pytest.raises(IntegrityError, match=r"blob of tiny:1 model/python.json is corrupt"):
        remote("bob").pull(version["ref"])


@pytest.mark.slow
def test_baton_registry_serve_and_the_cli_against_it(cli, variant, monkeypatch, baton_home):
    """`baton registry serve` in its own process; the same CLI commands then go over HTTP
    when BATON_REGISTRY is its URL, acting as the token's user."""
    import os
    import subprocess
    import sys

    monkeypatch.delenv("BATON_REGISTRY", raising=False)
    token = LocalRegistry(actor="root").create_token("alice", role="scientist")["token"]
    env = {**os.environ, "PYTHONPATH": ""}
    baton = Path(sys.executable).with_name("baton")
    server = subprocess.Popen([str(baton), "registry", "serve", "--port", "0"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline()
        assert "registry API on http://127.0.0.1:" in line, line
        url = line.split(" on ")[1].split("/api")[0]
        monkeypatch.setenv("BATON_REGISTRY", url)
        monkeypatch.setenv("BATON_TOKEN", token)
        monkeypatch.setenv("BATON_USER", "somebody-else")  # remotely, the token decides
        pushed = cli("push", variant("1"), "--json")
        assert pushed.code == 0, pushed.err
        assert json.loads(pushed.out)["pushed_by"] == "alice"
        assert "alice (scientist)" in cli("registry", "whoami").out
        assert json.loads(cli("inspect", "tiny:1", "--json").out)["name"] == "tiny"
        denied = cli("approve", "tiny:1")
        assert denied.code == 2 and "alice pushed tiny:1 and cannot approve it" in denied.err
        monkeypatch.setenv("BATON_TOKEN", "bt_wrong")
        refused = cli("ls")
        assert refused.code == 2 and "token is not valid" in refused.err
    finally:
        server.terminate()
        server.wait(10)
