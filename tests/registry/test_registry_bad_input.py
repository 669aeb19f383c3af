"""Bad input to the registry, on SQLite and PostgreSQL: every command answers with one
`error:` line naming the field, option or reference (exit code 2), every HTTP request with
a 4xx JSON error naming the field (never a 500), and nothing is half-written: the number
of versions, the audit events and the audit chain are what they were."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from modelbaton.registry.local import LocalRegistry

HUGE = "99999999999999999999"  # beyond SQLite's and PostgreSQL's integers


@pytest.fixture
def registry(backend: str, tiny_package: Path) -> LocalRegistry:
    """tiny:1 pushed by alice (scientist); bob is an engineer, root an admin."""
    admin = LocalRegistry(actor="root", role="admin")
    for user, role in {"alice": "scientist", "bob": "engineer", "root": "admin"}.items():
        admin.set_user(user, role)
    LocalRegistry(actor="alice").push(tiny_package)
    return admin


def snapshot(registry: LocalRegistry) -> tuple[int, int]:
    """(versions, audit events), asserting the chain still verifies."""
    verdict = registry.verify_audit()
    assert verdict["ok"], verdict
    return len(registry.versions("tiny")), verdict["events"]


CLI_CASES = [
    # (user, arguments, what the one line must say)
    ("alice", ["show", f"tiny:{HUGE}"], f"version {HUGE} is out of range"),
    ("alice", ["pull", f"tiny:{HUGE}"], "out of range"),
    ("bob", ["approve", f"tiny:{HUGE}"], "out of range"),
    ("alice", ["show", "tiny:0"], "tiny has no version 0"),
    ("alice", ["show", "tiny@champion"], "no alias 'champion'"),
    ("alice", ["show", "tiny\x00:1"], "model 'tiny\x00:1' is not a valid name"),
    ("alice", ["ls", "tiny", "--stage", "prod"], "unknown stage 'prod'"),
    ("alice", ["promote", "tiny:1", "--to", "staging"], "cannot promote tiny:1 to staging"),
    ("alice", ["approve", "tiny:1"], "alice pushed tiny:1 and cannot approve it"),
    ("bob", ["approve", "tiny:1", "-m", "c" * 70_000], "`comment` is 70,000 characters"),
    ("bob", ["reject", "tiny:1", "--reason", "bad\x00byte"], "`reason` contains the control "
                                                             "character U+0000"),
    ("alice", ["comment", "tiny:1", "a\x1bb"], "`text` contains the control character U+001B"),
    ("root", ["rollback", "tiny", "--reason", "x"], "no production version to roll back"),
    ("alice", ["tag", "tiny:1", "t" * 10_000], "is not a valid name"),
    ("bob", ["transfer", "accept", "tiny", "--role", "training"], "no pending transfer"),
    ("alice", ["transfer", "offer", "tiny", "--role", "training", "--to", "bob",
               "--shadow-days", "99999999999"], "`shadow_days` must be from 0 up to 36,500"),
    ("alice", ["audit", "--limit", "0"], "`limit` must be a whole number from 1"),
    ("alice", ["audit", "--limit", HUGE[:19]], "`limit` must be a whole number"),
    ("root", ["registry", "token", "create", "bob", "--expires-days", "0"],
     "`expires_days` must be more than 0"),
    ("root", ["registry", "token", "create", "bob", "--expires-days", "nan"], "`expires_days`"),
    ("root", ["registry", "token", "create", "bob", "--expires-days", "1e12"], "36,500 days"),
    ("root", ["registry", "token", "create", "bob", "--label", "l" * 200],
     "`label` is 200 characters long; at most 128"),
    ("root", ["registry", "token", "revoke", HUGE], f"no active token with id {HUGE}"),
    ("root", ["registry", "gc", "--grace", "-1"], "`grace_seconds` must be from 0"),
    ("root", ["registry", "gc", "--grace", "inf"], "`grace_seconds`"),
    ("u" * 200, ["comment", "tiny:1", "hello"], "the user name 'uuuu"),
    ("root", ["registry", "serve", "--port", "70000"], "--port 70000 is out of range"),
    ("root", ["registry", "serve", "--max-upload-mb", "0"], "--max-upload-mb must be from 1"),
]


@pytest.mark.parametrize("user, args, message", CLI_CASES,
                         ids=[" ".join(c[1])[:40] for c in CLI_CASES])
def test_commands_refuse_in_one_line(cli, registry, monkeypatch, user, args, message):
    before = snapshot(registry)
    monkeypatch.setenv("BATON_USER", user)
    result = cli(*args)
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert message in lines[0]
    assert snapshot(registry) == before


def test_a_malformed_policy_is_refused_and_the_old_one_stays(cli, registry, monkeypatch,
                                                             tmp_path):
    monkeypatch.setenv("BATON_USER", "root")
    before = snapshot(registry)
    for text, message in [("stages: [unclosed\n", "policy.yaml"),
                          ("stages:\n  staging: 3\n", "stages.staging")]:
        path = tmp_path / "policy.yaml"
        path.write_text(text)
        result = cli("registry", "policy", "--set", path)
        assert result.code == 2 and message in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1
    assert registry.policy()["default"] is True
    assert snapshot(registry) == before


def test_a_port_in_use_is_one_line_naming_it(cli, registry, monkeypatch):
    import socket

    monkeypatch.setenv("BATON_USER", "root")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = cli("registry", "serve", "--port", port)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"error: --port {port}: another program is already listening on 127.0.0.1:{port} "
        "(hint: pick another with --port, or --port 0 for a free one)"]


HTTP_CASES = [
    # (user, method, path, body: JSON value or raw bytes, status, what the message says)
    ("alice", "GET", "/nope", None, 404, "no route /api/v1/nope"),
    ("alice", "DELETE", "/models", None, 405, "DELETE is not allowed"),
    ("alice", "POST", "/versions/tiny:1/comments", b"{not json", 400, "not valid JSON"),
    ("alice", "POST", "/versions/tiny:1/comments", b"[" * 100_000, 400, "not valid JSON"),
    ("alice", "POST", "/versions/tiny:1/comments", [1], 400, "must be a JSON object"),
    ("alice", "POST", "/versions/tiny:1/comments", {"text": None}, 400,
     "`text` is required, not null"),
    ("alice", "POST", "/versions/tiny:1/comments", {"text": 5}, 400,
     "`text` must be a string, got a number"),
    ("alice", "POST", "/versions/tiny:1/comments", {"text": "a\x00b"}, 400, "U+0000"),
    ("alice", "POST", "/versions/tiny:1/tags", {"tag": "t", "remove": 1}, 400,
     "`remove` must be a boolean"),
    ("alice", "GET", f"/versions/tiny:{HUGE}", None, 400, "out of range"),
    ("alice", "POST", f"/versions/tiny:{HUGE}/promote", {"stage": "staging"}, 400,
     "out of range"),
    ("alice", "POST", "/versions", {"manifest_sha256": "zz"}, 400,
     "`manifest_sha256` must be a sha256"),
    ("alice", "POST", "/models/tiny/transfers/training/offer",
     {"to": "bob", "shadow_days": True}, 400, "`shadow_days` must be a whole number"),
    ("alice", "POST", "/models/tiny/transfers/training/offer",
     {"to": "bob", "shadow_days": int(HUGE)}, 400, "`shadow_days` must be from 0"),
    ("bob", "POST", "/models/tiny/transfers/training/accept", None, 404,
     "no pending transfer of training of tiny"),
    ("alice", "GET", "/audit?limit=-1", None, 400, "`limit`"),
    ("alice", "GET", f"/audit?limit={HUGE}", None, 400, "`limit`"),
    ("root", "POST", "/tokens", b'{"user": "bob", "expires_days": Infinity}', 400,
     "`expires_days` is Infinity"),
    ("root", "POST", "/versions/tiny:1/receipts", b'{"receipt": {"details": [1, NaN]}}', 400,
     "`receipt.details.1` is NaN"),
    ("root", "POST", "/tokens", {"user": "bob", "expires_days": 1e300}, 400,
     "`expires_days` must be more than 0"),
    ("root", "POST", "/tokens", {"user": "bob", "expires_days": -1}, 400, "`expires_days`"),
    ("root", "POST", "/tokens", {"user": "bob", "label": "l" * 10_000}, 400, "`label`"),
    ("root", "DELETE", f"/tokens/{HUGE}", None, 404, "no active token"),
    ("root", "POST", "/gc", {"grace_seconds": 1e300}, 400, "`grace_seconds`"),
    ("root", "PUT", "/policy", {"text": "stages: [x"}, 400, "policy.yaml"),
]


@pytest.mark.parametrize("user, method, path, body, status, message", HTTP_CASES,
                         ids=[f"{c[1]} {c[2]} {str(c[3])[:30]}" for c in HTTP_CASES])
def test_http_refuses_with_a_4xx_naming_the_field(registry, server, user, method, path, body,
                                                  status, message):
    token = registry.create_token(user)["token"]
    before = snapshot(registry)
    content = body if isinstance(body, bytes) else None if body is None else \
        json.dumps(body).encode()
    response = httpx.request(method, f"{server}/api/v1{path}", content=content, timeout=30,
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in f"{error['where']}: {error['message']}"
    assert "Traceback" not in response.text
    assert snapshot(registry) == before
