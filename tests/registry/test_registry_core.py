"""The registry's rules, on SQLite and PostgreSQL: versions, references, approvals, gates,
promotion, rollback, ownership transfer, receipts, policy and the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from modelbaton.contract.errors import BatonError, ManifestError
from modelbaton.registry import (
    ConflictError, ForbiddenError, NotFoundError, PolicyError, RegistryError,
)


def staged(as_user, variant, receipt, label="1", *, pusher="alice"):
    """Push a version with passing check and verify receipts and two approvals."""
    version = as_user(pusher).push(variant(label))
    for kind in ("check", "verify"):
        as_user(pusher).attach_receipt(version["ref"], receipt(version["digest"], kind))
    as_user("bob").approve(version["ref"])
    as_user("carol").approve(version["ref"])
    as_user("bob").promote(version["ref"], "staging")
    return version


def in_production(as_user, variant, receipt, label, *, compare_with=None):
    version = staged(as_user, variant, receipt, label)
    if compare_with is not None:
        as_user("alice").attach_receipt(version["ref"], receipt(
            version["digest"], "compare", champion_digest=compare_with))
    as_user("dave").approve(version["ref"])
    as_user("erin").approve(version["ref"])
    as_user("dave").promote(version["ref"], "production", reason="go live")
    return version


def test_push_numbers_versions_per_model_and_is_idempotent(as_user, variant):
    alice = as_user("alice")
    first = alice.push(variant("1.0"))
    second = alice.push(variant("1.1"))
    other = alice.push(variant("1.0", name="other"))
    assert (first["ref"], second["ref"], other["ref"]) == ("tiny:1", "tiny:2", "other:1")
    assert first["created"] and first["stage"] == "candidate" and first["pushed_by"] == "alice"
    assert first["digest"] != second["digest"]
    again = alice.push(variant("1.1"))  # the same package: no new version
    assert again["ref"] == "tiny:2" and not again["created"]
    assert [v["number"] for v in alice.versions("tiny")] == [2, 1]
    assert {m["name"]: m["versions"] for m in alice.models()} == {"tiny": 2, "other": 1}
    # Versions share their files: only the manifests differ, so blobs are stored once.
    stored = {sha for sha, _, _ in alice.blobs.listing() if sha}
    shown = alice.show("tiny:1")
    assert {f["sha256"] for f in shown["files"]} <= stored
    assert len(stored) == len(shown["files"]) + 3  # + one manifest per version


def test_references_resolve_and_unknown_ones_say_what_exists(as_user, variant):
    alice = as_user("alice")
    alice.push(variant("1"))
    alice.push(variant("2"))
    alice.alias("tiny:1", "champion")
    assert alice.show("tiny@latest")["number"] == 2
    assert alice.show("tiny@champion")["number"] == 1
    assert alice.show("tiny@candidate")["number"] == 2
    with pytest.raises(NotFoundError, match="no model named 'nope'"):
        alice.show("nope:1")
    with pytest.raises(NotFoundError, match=r"tiny has no version 9 \(latest is tiny:2\)"):
        alice.show("tiny:9")
    with pytest.raises(NotFoundError, match="no version in production"):
        alice.show("tiny@production")
    with pytest.raises(NotFoundError, match="no alias 'ghost'"):
        alice.show("tiny@ghost")
    with pytest.raises(RegistryError, match="not a registry reference"):
        alice.show("tiny::1")
    with pytest.raises(RegistryError, match="reserved"):
        alice.alias("tiny:1", "production")
    alice.alias("tiny:2", "champion")  # aliases move
    assert alice.show("tiny@champion")["number"] == 2


def test_staging_needs_two_distinct_approvals_and_passing_proofs(as_user, variant, receipt):
    version = as_user("alice").push(variant("1"))
    ref, digest = version["ref"], version["digest"]
    with pytest.raises(PolicyError) as refused:
        as_user("bob").promote(ref, "staging")
    message = str(refused.value)
    assert "2 more approvals" in message and "other than the pusher alice" in message
    assert f"a passing check receipt for digest {digest[:12]}" in message
    assert "a passing verify receipt" in message

    with pytest.raises(ForbiddenError, match="alice pushed tiny:1 and cannot approve it"):
        as_user("alice").approve(ref)
    as_user("bob").approve(ref, comment="features match the notebook")
    with pytest.raises(ConflictError, match="bob already approved tiny:1 for staging"):
        as_user("bob").approve(ref)
    as_user("alice").attach_receipt(ref, receipt(digest, "check"))
    as_user("alice").attach_receipt(ref, receipt(digest, "verify", passed=False))
    with pytest.raises(PolicyError) as refused:
        as_user("bob").promote(ref, "staging")
    message = str(refused.value)
    assert "1 more approval" in message and "(have bob)" in message
    assert "check" not in message.split("did not pass")[0].split(";")[-1]
    assert "the latest verify receipt" in message and "did not pass" in message

    as_user("carol").approve(ref)
    as_user("alice").attach_receipt(ref, receipt(digest, "verify", passed=True))
    assert as_user("bob").show(ref)["next"] == {"stage": "staging", "missing": []}
    promoted = as_user("bob").promote(ref, "staging")
    assert promoted["stage"] == "staging"
    assert promoted["history"][0]["from"] == "candidate"
    assert promoted["reviews"][0]["comment"] == "features match the notebook"


def test_roles_limit_who_approves_and_promotes(as_user, variant, receipt):
    as_user("root").set_user("vic", "viewer")
    as_user("root").set_user("sam", "scientist")
    version = staged(as_user, variant, receipt)
    with pytest.raises(ForbiddenError, match=r"vic \(viewer\) may not approve"):
        as_user("vic").approve(version["ref"])
    with pytest.raises(ForbiddenError, match=r"sam \(scientist\) may not approve for "
                                             r"production"):
        as_user("sam").approve(version["ref"])
    with pytest.raises(ForbiddenError, match="engineer or admin"):
        as_user("sam").promote(version["ref"], "production")
    with pytest.raises(ForbiddenError, match="may not push"):
        as_user("vic").push(variant("9"))
    with pytest.raises(ForbiddenError, match="may not change the policy"):
        as_user("sam").set_policy("stages: {}\n")


def test_a_rejection_blocks_until_its_author_approves(as_user, variant, receipt):
    version = as_user("alice").push(variant("1"))
    ref = version["ref"]
    for kind in ("check", "verify"):
        as_user("alice").attach_receipt(ref, receipt(version["digest"], kind))
    as_user("bob").approve(ref)
    as_user("carol").reject(ref, reason="the holdout leaks the training period")
    as_user("dave").approve(ref)
    with pytest.raises(PolicyError, match="rejected by carol: the holdout leaks"):
        as_user("bob").promote(ref, "staging")
    with pytest.raises(ConflictError, match="carol already rejected"):
        as_user("carol").reject(ref, reason="again")
    with pytest.raises(RegistryError, match="needs a reason"):
        as_user("carol").reject(ref, reason=" ")
    as_user("carol").approve(ref, comment="fixed by re-splitting")
    assert as_user("bob").promote(ref, "staging")["stage"] == "staging"


def test_illegal_transitions_are_refused(as_user, variant, receipt):
    version = as_user("alice").push(variant("1"))
    with pytest.raises(ConflictError, match=r"illegal transition for tiny:1: candidate -> "
                                            r"production.*staging or archived"):
        as_user("bob").promote(version["ref"], "production")
    with pytest.raises(ConflictError, match="already in candidate"):
        as_user("bob").promote(version["ref"], "candidate")
    with pytest.raises(RegistryError, match="unknown stage 'prod'"):
        as_user("bob").promote(version["ref"], "prod")
    assert as_user("bob").promote(version["ref"], "archived")["stage"] == "archived"


def test_receipts_must_prove_exactly_this_version(as_user, variant, receipt):
    one = as_user("alice").push(variant("1"))
    two = as_user("alice").push(variant("2"))
    with pytest.raises(ConflictError, match=r"produced for package digest .*not for tiny:1"):
        as_user("alice").attach_receipt(one["ref"], receipt(two["digest"], "verify"))
    with pytest.raises(BatonError, match="receipt kind .lint."):
        as_user("alice").attach_receipt(one["ref"], {"kind": "lint", "passed": True,
                                                     "package_digest": one["digest"]})
    good = receipt(one["digest"], "verify")
    assert as_user("alice").attach_receipt(one["ref"], good)["attached"]
    assert not as_user("alice").attach_receipt(one["ref"], good)["attached"]  # idempotent
    # A package that carries a receipt for another digest is refused at push.
    from modelbaton.package.receipts import write_receipt

    package = variant("3")
    write_receipt(package, "check", digest=two["digest"], passed=True, details={})
    with pytest.raises(ConflictError, match="receipt 1 \\(check\\) was produced for"):
        as_user("alice").push(package)
    assert [v["number"] for v in as_user("alice").versions("tiny")] == [2, 1]


def test_production_compare_gate_supersedes_and_rollback(as_user, variant, receipt):
    first = in_production(as_user, variant, receipt, "1")  # no champion: no compare needed
    assert as_user("bob").show("tiny@production")["number"] == 1
    second = staged(as_user, variant, receipt, "2")
    as_user("dave").approve(second["ref"])
    as_user("erin").approve(second["ref"])
    with pytest.raises(PolicyError, match="passing compare receipt against the production "
                                          f"version \\(digest {first['digest'][:12]}\\)"):
        as_user("dave").promote(second["ref"], "production")
    as_user("alice").attach_receipt(second["ref"], receipt(
        second["digest"], "compare", champion_digest="0" * 64))  # against another champion
    with pytest.raises(PolicyError, match="compare receipt"):
        as_user("dave").promote(second["ref"], "production")
    as_user("alice").attach_receipt(second["ref"], receipt(
        second["digest"], "compare", champion_digest=first["digest"]))
    as_user("dave").promote(second["ref"], "production")
    registry = as_user("dave")
    assert registry.show("tiny@production")["number"] == 2
    assert registry.show("tiny:1")["stage"] == "archived"  # at most one in production
    assert registry.show("tiny:1")["history"][-1]["kind"] == "superseded"

    with pytest.raises(RegistryError, match="needs a reason"):
        registry.rollback("tiny", reason="")
    done = as_user("frank").rollback("tiny", reason="p99 latency doubled")
    assert done == {"model": "tiny", "production": 1, "rolled_back": 2,
                    "reason": "p99 latency doubled"}
    assert registry.show("tiny@production")["number"] == 1
    rolled = registry.show("tiny:2")
    assert rolled["stage"] == "archived" and rolled["rolled_back_at"]
    assert all(r["void"] for r in rolled["reviews"])
    # Back to production only with fresh approvals.
    with pytest.raises(PolicyError, match="2 more approvals"):
        registry.promote("tiny:2", "production")
    as_user("dave").approve("tiny:2")
    as_user("erin").approve("tiny:2")
    as_user("alice").attach_receipt("tiny:2", receipt(
        second["digest"], "compare", champion_digest=first["digest"], note="rerun"))
    assert registry.promote("tiny:2", "production")["stage"] == "production"
    # Rolling back again returns to 1; then nothing earlier is left to roll back to.
    registry.rollback("tiny", reason="still slow")
    with pytest.raises(ConflictError, match="no earlier production version"):
        registry.rollback("tiny", reason="again")
    with pytest.raises(NotFoundError):
        registry.rollback("nope", reason="x")


def test_ownership_moves_by_handshake_with_a_shadow_period(as_user, variant):
    as_user("alice").push(variant("1"))
    owners = as_user("alice").model("tiny")["owners"]
    assert {r: [h["user"] for h in hs] for r, hs in owners.items()} == {
        "training": ["alice"], "deployment": ["alice"], "monitoring": ["alice"],
        "replacement_decision": ["alice"]}
    with pytest.raises(ForbiddenError, match="mallory does not hold deployment"):
        as_user("mallory", "engineer").offer_transfer("tiny", "deployment", "mallory")
    model = as_user("alice").offer_transfer("tiny", "deployment", "bob", shadow_days=14)
    assert model["transfers"][0] == {**model["transfers"][0], "from": "alice", "to": "bob",
                                     "shadow_days": 14}
    assert [h["user"] for h in model["owners"]["deployment"]] == ["alice"]  # not yet
    with pytest.raises(ConflictError, match="already pending"):
        as_user("alice").offer_transfer("tiny", "deployment", "carol")
    with pytest.raises(ForbiddenError, match="only bob can accept"):
        as_user("carol").accept_transfer("tiny", "deployment")
    model = as_user("bob").accept_transfer("tiny", "deployment")
    holders = model["owners"]["deployment"]
    assert [h["user"] for h in holders] == ["alice", "bob"]  # co-owned during the shadow
    assert holders[0]["until"] and holders[1]["until"] is None
    assert model["transfers"] == []

    as_user("alice").offer_transfer("tiny", "monitoring", "carol")
    as_user("carol").decline_transfer("tiny", "monitoring")
    as_user("alice").offer_transfer("tiny", "monitoring", "dave")
    model = as_user("dave").accept_transfer("tiny", "monitoring")  # no shadow: moves at once
    assert [h["user"] for h in model["owners"]["monitoring"]] == ["dave"]
    with pytest.raises(NotFoundError, match="no pending transfer"):
        as_user("dave").accept_transfer("tiny", "monitoring")
    with pytest.raises(RegistryError, match="unknown responsibility 'cooking'"):
        as_user("alice").offer_transfer("tiny", "cooking", "bob")
    events = as_user("alice").audit(model="tiny")
    assert [(e["action"], e["actor"]) for e in events][-6:] == [
        ("transfer-offer", "alice"), ("transfer-accept", "bob"), ("transfer-offer", "alice"),
        ("transfer-decline", "carol"), ("transfer-offer", "alice"), ("transfer-accept", "dave")]
    assert events[-5]["details"]["shadow_until"]  # the co-ownership end is on record


def test_every_change_is_in_the_audit_chain_and_tampering_is_named(as_user, variant, receipt):
    staged(as_user, variant, receipt)
    as_user("alice").tag("tiny:1", "gdpr-reviewed")
    as_user("alice").comment("tiny:1", "ship it after the holiday freeze")
    registry = as_user("auditor")
    events = registry.audit()
    assert [(e["action"], e["actor"]) for e in events] == [
        ("init", "alice"), ("push", "alice"), ("attach", "alice"), ("attach", "alice"),
        ("approve", "bob"), ("approve", "carol"), ("promote", "bob"), ("tag", "alice"),
        ("comment", "alice")]
    assert registry.verify_audit()["ok"]

    engine = registry.store.engine
    with engine.begin() as conn:  # someone edits an approval in the database
        conn.execute(text("UPDATE baton_events SET actor = 'mallory' WHERE seq = 5"))
    verdict = registry.verify_audit()
    assert not verdict["ok"] and verdict["broken_seq"] == 5
    assert "event 5 (approve by mallory) was edited" in verdict["problem"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE baton_events SET actor = 'bob' WHERE seq = 5"))
    assert registry.verify_audit()["ok"]

    with engine.begin() as conn:  # ... or swaps two events (hashes and all)
        rows = {r.seq: r for r in conn.execute(text("SELECT * FROM baton_events "
                                                    "WHERE seq IN (5, 6)"))}
        for seq, other in ((5, 6), (6, 5)):
            r = rows[other]
            conn.execute(text("UPDATE baton_events SET actor=:a, action=:n, details=:d, "
                              "prev_hash=:p, hash=:h, at=:t WHERE seq=:s"),
                         {"a": r.actor, "n": r.action, "d": r.details, "p": r.prev_hash,
                          "h": r.hash, "t": r.at, "s": seq})
    verdict = registry.verify_audit()
    assert verdict["broken_seq"] == 5 and "does not follow event 4" in verdict["problem"]

    with engine.begin() as conn:  # ... or deletes one
        conn.execute(text("DELETE FROM baton_events WHERE seq IN (5, 6)"))
    verdict = registry.verify_audit()
    assert verdict["broken_seq"] == 5 and "event 5 is missing" in verdict["problem"]


def test_deleting_the_latest_events_is_detected(as_user, variant):
    as_user("alice").push(variant("1"))
    as_user("alice").comment("tiny:1", "one")
    registry = as_user("auditor")
    with registry.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM baton_events WHERE seq = 3"))
    verdict = registry.verify_audit()
    assert not verdict["ok"] and verdict["broken_seq"] == 3
    assert "events at the end were deleted" in verdict["problem"]


def test_policy_is_validated_audited_and_applied(as_user, variant, receipt):
    admin = as_user("root")
    assert admin.policy()["default"]
    with pytest.raises(ManifestError, match=r"`stages.staging.approvals`"):
        admin.set_policy("stages:\n  staging: {approvals: many}\n")
    with pytest.raises(ManifestError, match=r"`stages.staging.gates.0`"):
        admin.set_policy("stages:\n  staging: {gates: [vibes]}\n")
    admin.set_policy("stages:\n  staging: {approvals: 1, gates: [check]}\n")
    current = admin.policy()
    assert not current["default"] and current["set_by"] == "root"
    assert admin.audit()[-1]["action"] == "policy"
    version = as_user("alice").push(variant("1"))
    as_user("alice").attach_receipt(version["ref"], receipt(version["digest"], "check"))
    as_user("bob").approve(version["ref"])
    staged_version = as_user("bob").promote(version["ref"], "staging")
    assert staged_version["stage"] == "staging"
    # Production, left out of this policy, keeps its default rule.
    assert "2 more approvals by engineer/admin" in staged_version["next"]["missing"][0]


def test_stats_measure_the_handoff(as_user, variant, receipt):
    alice = as_user("alice")
    first = alice.push(variant("1"))
    alice.attach_receipt(first["ref"], receipt(first["digest"], "verify", passed=False))
    as_user("bob").reject(first["ref"], reason="verify fails")
    package = variant("2")
    from modelbaton.package.receipts import write_receipt

    second_digest = None
    from modelbaton.package.load import open_package

    second_digest = open_package(package).digest
    write_receipt(package, "check", digest=second_digest, passed=True, details={"score": 0.8})
    in_production(as_user, lambda label: package, receipt, "2")
    third = in_production(as_user, variant, receipt, "3", compare_with=second_digest)
    as_user("frank").rollback("tiny", reason="regression")

    stats = alice.stats("tiny")["models"]["tiny"]
    assert stats["versions"] == 3
    assert stats["rework"] == {"rejections": 1, "repushes_before_approval": 1}
    assert stats["rollbacks"] == 1 and stats["in_production"] == 1
    assert stats["lead_time_to_production_s"]["count"] == 2
    assert stats["checklist_score_at_push"] == 0.8
    assert stats["verify_pass_rate"] == round(2 / 3, 3)  # 1 failed, 2 passed
    assert set(stats["seconds_in_stage"]) >= {"candidate", "staging", "production"}
    assert alice.stats()["overall"]["versions"] == 3
    assert third["ref"] == "tiny:3"
    with pytest.raises(NotFoundError):
        alice.stats("nope")


def test_schema_created_by_the_migrations_matches_the_tables(as_user):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from modelbaton.registry.tables import metadata

    registry = as_user("alice")
    with registry.store.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == "0001"
        assert compare_metadata(context, metadata) == []


def test_a_hostile_manifest_cannot_reach_outside_the_store(as_user, variant):
    """File digests and paths become storage paths: a crafted manifest, registered as a
    hostile client of the HTTP API would (blobs first, then the version), is refused."""
    import hashlib

    from modelbaton.contract.errors import ManifestError, UnsafeInputError
    from modelbaton.contract.io import dump_manifest, read_manifest

    mallory = as_user("mallory")
    for field, value in (("sha256", "../../../../etc/passwd"), ("path", "../outside.json")):
        package = variant(f"evil-{field}")
        manifest = read_manifest(package / "baton.yaml")
        entry = manifest.files[0].model_copy(update={field: value})
        text = dump_manifest(manifest.model_copy(update={"files": [entry,
                                                                   *manifest.files[1:]]}))
        sha = hashlib.sha256(text.encode()).hexdigest()
        mallory.blobs.put(iter([text.encode()]), sha, where="baton.yaml")
        # The manifest contract refuses paths that leave the package; the store refuses
        # anything that is not a digest or a plain path.
        with pytest.raises((UnsafeInputError, ManifestError),
                           match="not a (sha256 hex digest|plain path|relative path inside)"):
            mallory.register(sha, [])
    with pytest.raises(UnsafeInputError):
        mallory.blobs.fetch("../" * 4 + "etc/passwd", variant("x") / "out", where="x")
    assert mallory.models() == []


def test_the_database_itself_allows_one_production_version(as_user, variant, receipt):
    import sqlalchemy.exc

    in_production(as_user, variant, receipt, "1")
    as_user("alice").push(variant("2"))
    registry = as_user("auditor")
    with pytest.raises(sqlalchemy.exc.IntegrityError), registry.store.engine.begin() as conn:
        conn.execute(text("UPDATE baton_versions SET stage = 'production' "
                          "WHERE number = 2"))
    assert [v["stage"] for v in registry.versions("tiny")] == ["candidate", "production"]
