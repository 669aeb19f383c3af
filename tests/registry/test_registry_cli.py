"""The registry from the command line: the commands a user types, their --json output,
one-line errors with exit code 2, and registry references accepted by package commands."""

from __future__ import annotations

import hashlib
import json

import pytest

from modelbaton.contract.errors import BatonError
from modelbaton.registry.local import LocalRegistry


@pytest.fixture
def as_actor(monkeypatch):
    def switch(user: str) -> None:
        monkeypatch.setenv("BATON_USER", user)
    return switch


def test_push_review_promote_rollback_from_the_cli(cli, backend, variant, receipt, as_actor,
                                                   tmp_path):
    as_actor("alice")
    first = cli("push", variant("1"), "-m", "first cut", "--json")
    assert first.code == 0, first.err
    v1 = json.loads(first.out)
    assert v1["ref"] == "tiny:1" and v1["description"] == "first cut"
    second = json.loads(cli("push", variant("2"), "--json").out)

    for version in (v1, second):  # the receipts check and verify will attach
        for kind in ("check", "verify"):
            path = tmp_path / f"{version['number']}-{kind}.json"
            path.write_text(json.dumps(receipt(version["digest"], kind)))
            assert cli("registry", "attach", version["ref"], path).code == 0
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(receipt(second["digest"], "verify")))
    refused = cli("registry", "attach", "tiny:1", wrong)
    assert refused.code == 2 and "not for tiny:1" in refused.err

    denied = cli("approve", "tiny:1")
    assert denied.code == 2 and "alice pushed tiny:1 and cannot approve it" in denied.err
    blocked = cli("promote", "tiny:1", "--to", "staging")
    assert blocked.code == 2 and "2 more approvals" in blocked.err
    assert "\n" not in blocked.err.strip()  # one line, no traceback
    for version in ("tiny:1", "tiny:2"):
        for person in ("bob", "carol"):
            as_actor(person)
            assert cli("approve", version, "-m", "ok").code == 0
        assert cli("promote", version, "--to", "staging").code == 0
        for person in ("dave", "erin"):
            as_actor(person)
            assert cli("approve", version).code == 0
    assert "ready for production" in cli("show", "tiny:2").out  # nothing to compare with
    assert cli("promote", "tiny:1", "--to", "production").code == 0
    shown = cli("show", "tiny:2")
    assert "ready for production" not in shown.out and "compare receipt" in shown.out
    compare = tmp_path / "compare.json"
    compare.write_text(json.dumps(receipt(second["digest"], "compare",
                                          champion_digest=v1["digest"])))
    assert cli("registry", "attach", "tiny:2", compare).code == 0
    assert "ready for production" in cli("show", "tiny:2").out
    assert cli("promote", "tiny:2", "--to", "production", "--reason", "better recall").code == 0

    listing = json.loads(cli("ls", "tiny", "--json").out)
    assert [(v["number"], v["stage"]) for v in listing] == [(2, "production"), (1, "archived")]
    no_reason = cli("rollback", "tiny")
    assert no_reason.code == 2  # --reason is required
    rolled = cli("rollback", "tiny", "--reason", "alerts on p99 latency")
    assert rolled.code == 0 and "production is tiny:1 again" in rolled.out
    assert json.loads(cli("show", "tiny@production", "--json").out)["number"] == 1

    log = json.loads(cli("audit", "--model", "tiny", "--json").out)
    assert log[-1]["action"] == "rollback" and log[-1]["actor"] == "erin"
    verified = cli("audit", "verify", "--json")
    assert verified.code == 0 and json.loads(verified.out)["ok"]
    stats = json.loads(cli("stats", "--json").out)
    assert stats["models"]["tiny"]["rollbacks"] == 1
    assert cli("stats").code == 0


def test_package_commands_accept_references(cli, backend, variant, as_actor):
    as_actor("alice")
    assert cli("push", variant("1.0.0")).code == 0
    inspected = cli("inspect", "tiny@latest", "--json")
    assert inspected.code == 0, inspected.err
    assert json.loads(inspected.out)["version"] == "1.0.0"
    missing = cli("inspect", "tiny:4")
    assert missing.code == 2 and "tiny has no version 4 (latest is tiny:1)" in missing.err
    unknown = cli("inspect", "ghost@production")
    assert unknown.code == 2 and "no model named 'ghost'" in unknown.err


def test_transfer_and_admin_commands(cli, backend, variant, as_actor, tmp_path):
    as_actor("alice")
    cli("push", variant("1"))
    offered = cli("transfer", "offer", "tiny", "--role", "deployment", "--to", "bob",
                  "--shadow-days", "7")
    assert offered.code == 0 and "baton transfer accept tiny --role deployment" in offered.out
    as_actor("bob")
    accepted = cli("transfer", "accept", "tiny", "--role", "deployment", "--json")
    holders = json.loads(accepted.out)["owners"]["deployment"]
    assert [h["user"] for h in holders] == ["alice", "bob"]
    assert "deployment: alice (until" in cli("show", "tiny").out

    policy = tmp_path / "policy.yaml"
    policy.write_text("stages:\n  staging: {approvals: 1}\n")
    assert cli("registry", "policy", "--set", policy).code == 0
    assert "approvals: 1" in cli("registry", "policy").out
    policy.write_text("stages:\n  staging: {approvals: -1}\n")
    bad = cli("registry", "policy", "--set", policy)
    assert bad.code == 2 and "stages.staging.approvals" in bad.err
    created = json.loads(cli("registry", "token", "create", "vic", "--role", "viewer",
                             "--json").out)
    assert created["token"].startswith("bt_")
    listed = cli("registry", "token", "list", "--json").out
    assert created["token"] not in listed and json.loads(listed)[0]["user"] == "vic"
    as_actor("vic")
    denied = cli("push", variant("2"))
    assert denied.code == 2 and "vic (viewer) may not push" in denied.err


def test_cli_gc_and_pull(cli, backend, variant, as_actor, tmp_path):
    as_actor("alice")
    cli("push", variant("1"))
    out = tmp_path / "copy"
    pulled = cli("pull", "tiny:1", "--out", out)
    assert pulled.code == 0 and (out / "baton.yaml").is_file()
    again = cli("pull", "tiny:1", "--out", out)
    assert again.code == 2 and "already exists" in again.err
    registry = LocalRegistry(actor="alice")
    registry.blobs.put(iter([b"orphan"]), hashlib.sha256(b"orphan").hexdigest(), where="x")
    report = json.loads(cli("registry", "gc", "--grace", "0", "--json").out)
    assert report["removed"] == 1
    assert cli("pull", "tiny:1").code == 0


def test_attach_receipt_from_python_for_check_and_verify(backend, variant, tmp_path):
    """What `baton check` / `baton verify` do when given a reference: resolve it, write the
    receipt into the package, attach it."""
    from modelbaton.cli._common import open_ref
    from modelbaton.package.receipts import write_receipt
    from modelbaton.registry import attach_receipt

    LocalRegistry(actor="alice").push(variant("1"))
    package = open_ref("tiny@latest")
    path = write_receipt(package.root, "verify", digest=package.digest, passed=True,
                         details={"python": "3.11"})
    assert attach_receipt("tiny@latest", path) == {"ref": "tiny:1", "kind": "verify",
                                                   "passed": True, "attached": True}
    pulled = open_ref("tiny:1")  # the cache mirrors the registry's receipts
    assert [p.name.split("-")[0] for p in (pulled.root / "receipts").iterdir()] == ["verify"]
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(BatonError, match="cannot read the receipt"):
        attach_receipt("tiny:1", tmp_path / "bad.json")


def test_people_text_is_printed_as_written(cli, backend, variant, as_actor):
    """Comments and reasons are shown verbatim, brackets and all, never read as markup."""
    as_actor("alice")
    cli("push", variant("1"))
    assert cli("comment", "tiny:1", "see [/] and [bold]this[/bold]").code == 0
    assert cli("promote", "tiny:1", "--to", "archived", "--reason", "[red]gone").code == 0
    shown = cli("show", "tiny:1")
    assert shown.code == 0, shown.err
    assert "see [/] and [bold]this[/bold]" in shown.out
    assert "([red]gone)" in shown.out and "[promote]" in shown.out


def test_commands_given_a_reference_attach_their_receipts(cli, backend, variant, as_actor):
    """`baton check`, `verify`, `sign` and `compare` on `name:N` record their receipt in the
    registry (the pulled copy is a cache); `bench`, which would change a registered
    version's manifest, refuses unless it only prints."""
    as_actor("alice")
    assert cli("push", variant("1")).code == 0
    assert cli("check", "tiny:1").code in (0, 1)  # the tiny package still holds TODOs
    verified = cli("verify", "tiny:1", "--env-manager", "local")
    assert verified.code == 0, verified.out + verified.err
    assert cli("keys", "generate", "--name", "alice").code == 0
    from modelbaton.settings import baton_home

    assert cli("sign", "tiny:1", "--key", baton_home() / "keys" / "alice.pem").code == 0
    shown = json.loads(cli("show", "tiny:1", "--json").out)
    kinds = sorted(r["kind"] for r in shown["receipts"])
    assert kinds == ["check", "signature", "verify"]
    # A fresh pull (cache emptied) still has them: they live in the registry now.
    import shutil

    shutil.rmtree(baton_home() / "cache" / "registry")
    pulled = cli("pull", "tiny:1", "--json")
    assert pulled.code == 0
    bench = cli("bench", "tiny:1", "--quick")
    assert bench.code == 2 and "registered version, which never changes" in bench.err
