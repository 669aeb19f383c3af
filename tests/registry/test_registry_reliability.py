"""Reliability under concurrency and crashes, on SQLite and PostgreSQL: concurrent pushes
from many processes, pushes killed with SIGKILL, garbage collection, blobs altered at rest."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest
from registry_helpers import make_variant

from modelbaton.contract.errors import IntegrityError
from modelbaton.registry.local import LocalRegistry

WORKERS, PUSHES = 8, 25
# Workers are forked from the test process: real processes with their own database
# connections, without paying for a fresh interpreter and its imports each.
FORK = multiprocessing.get_context("fork")


def _push_all(user: str, paths: list[Path], go, results) -> None:
    """A worker: wait for the start signal (so all push at once), push, report the refs."""
    registry = LocalRegistry(actor=user)
    go.wait()
    try:
        results.put((user, [registry.push(path)["ref"] for path in paths]))
    except BaseException as exc:  # reported to the test, which fails with it
        results.put((user, f"{type(exc).__name__}: {exc}"))


def _push_when_told(path: Path, go, done) -> None:
    """A push the test kills at some point: it reports its duration when it gets through."""
    registry = LocalRegistry(actor="victim")
    go.wait()
    started = time.perf_counter()
    registry.push(path)
    done.put(time.perf_counter() - started)


@pytest.fixture(scope="module")
def many_packages(tiny_package: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("many")
    return [make_variant(tiny_package, folder / f"p{i}", f"1.{i}")
            for i in range(WORKERS * PUSHES)]


@pytest.mark.slow
def test_concurrent_pushes_get_distinct_gapless_numbers(backend, many_packages):
    registry = LocalRegistry(actor="setup")
    registry.initialize()  # before the workers race
    go, results = FORK.Event(), FORK.Queue()
    workers = [FORK.Process(target=_push_all, args=(
        f"worker{w}", many_packages[w * PUSHES:(w + 1) * PUSHES], go, results))
        for w in range(WORKERS)]
    for worker in workers:
        worker.start()
    go.set()
    reports = dict(results.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    failed = {user: r for user, r in reports.items() if isinstance(r, str)}
    assert not failed
    pushed = [ref for refs in reports.values() for ref in refs]

    versions = registry.versions("tiny")
    assert sorted(v["number"] for v in versions) == list(range(1, WORKERS * PUSHES + 1))
    assert sorted(pushed) == sorted(v["ref"] for v in versions)  # each push got its own
    labels = {v["label"] for v in versions}
    assert labels == {f"1.{i}" for i in range(WORKERS * PUSHES)}  # nothing lost
    assert len({v["digest"] for v in versions}) == WORKERS * PUSHES
    assert {v["pushed_by"] for v in versions} == {f"worker{w}" for w in range(WORKERS)}
    verdict = registry.verify_audit()
    assert verdict["ok"] and verdict["events"] == 1 + WORKERS * PUSHES


@pytest.mark.slow
def test_a_killed_push_leaves_no_partial_version_and_gc_removes_only_orphans(
        backend, tiny_package, tmp_path, baton_home):
    registry = LocalRegistry(actor="setup")
    registry.push(make_variant(tiny_package, tmp_path / "base", "0"))
    rng = random.Random(5)
    duration = None
    for trial, fraction in enumerate((None, 0.05, 0.25, 0.5, 0.75, 0.95)):
        package = make_variant(tiny_package, tmp_path / f"k{trial}", f"k{trial}",
                               extra=os.urandom(6 << 20))
        go, done = FORK.Event(), FORK.Queue()
        victim = FORK.Process(target=_push_when_told, args=(package, go, done))
        victim.start()
        go.set()
        if fraction is None:  # the first runs to the end, to time a push
            duration = done.get(timeout=120)
            victim.join(60)
            continue
        time.sleep(duration * fraction * rng.uniform(0.8, 1.2))
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(60)
        assert victim.exitcode in (-signal.SIGKILL, 0)

    # A push uploads its blobs, then registers the version in one transaction: what a kill
    # between the two leaves behind, made deterministic here.
    orphan = make_variant(tiny_package, tmp_path / "orphan", "orphan", extra=b"never registered")
    orphan_sha = hashlib.sha256(b"never registered").hexdigest()
    registry.blobs.put_file(orphan / "docs" / "extra.bin", orphan_sha, where="extra.bin")

    versions = registry.versions("tiny")
    assert sorted(v["number"] for v in versions) == list(range(1, len(versions) + 1))
    for v in versions:  # every visible version is complete
        shutil.rmtree(baton_home / "cache", ignore_errors=True)
        assert (registry.pull(v["ref"]) / "baton.yaml").is_file()

    referenced = {f["sha256"] for v in versions for f in registry.show(v["ref"])["files"]}
    referenced |= {registry.show(v["ref"])["manifest_sha256"] for v in versions}
    stored = list(registry.blobs.listing())
    expected = {path for sha, path, _ in stored if sha not in referenced}
    assert registry.blobs.path(orphan_sha) in expected

    kept_young = registry.gc()  # the default grace period spares recent uploads
    assert kept_young["removed"] == 0 and kept_young["too_young"] == len(expected)
    done = registry.gc(grace_seconds=0)
    assert set(done["paths"]) == expected and done["removed"] == len(expected)
    assert {sha for sha, _, _ in registry.blobs.listing()} == referenced
    for v in versions:  # nothing referenced was collected
        shutil.rmtree(baton_home / "cache", ignore_errors=True)
        assert (registry.pull(v["ref"]) / "baton.yaml").is_file()
    assert registry.audit()[-1]["action"] == "gc"


def test_a_blob_altered_on_disk_is_named_on_pull(backend, variant, baton_home):
    registry = LocalRegistry(actor="alice")
    registry.push(variant("1"))
    files = {f["path"]: f["sha256"] for f in registry.show("tiny:1")["files"]}
    blob = registry.blobs.path(files["data/golden.json"])
    with open(blob, "r+b") as handle:
        handle.seek(5)
        handle.write(b"#")
    with pytest.raises(IntegrityError, match=r"the blob of tiny:1 data/golden.json is corrupt: "
                                             rf".*{files['data/golden.json']}"):
        registry.pull("tiny:1")
    assert not (baton_home / "cache" / "registry" / registry.show("tiny:1")["digest"]).exists()
    os.remove(blob)
    with pytest.raises(IntegrityError, match="data/golden.json .* is missing from the store"):
        registry.pull("tiny:1")


def test_blobs_on_another_fsspec_store(backend, variant, baton_home, monkeypatch):
    """The store is any fsspec URL (s3://, gs:// with their extras): here fsspec's in-memory
    filesystem, recorded in the database so every client of the registry uses it."""
    url = f"memory://baton-{os.getpid()}-{random.randrange(1 << 30)}"
    monkeypatch.setenv("BATON_BLOBS", url)
    registry = LocalRegistry(actor="alice")
    registry.push(variant("1"))
    assert LocalRegistry(actor="bob").blobs.url == url  # chosen once, then from the database
    assert registry.audit()[0]["details"] == {"blobs": url}
    assert (registry.pull("tiny:1") / "model" / "python.json").is_file()
    size = registry.blobs.put(iter([b"orphan"]), hashlib.sha256(b"orphan").hexdigest(),
                              where="an orphan")
    assert size == 6
    assert registry.gc(grace_seconds=0)["removed"] == 1
    shutil.rmtree(baton_home / "cache")
    files = {f["path"]: f["sha256"] for f in registry.show("tiny:1")["files"]}
    with registry.blobs.fs.open(registry.blobs.path(files["model/python.json"]), "wb") as out:
        out.write(b"{}")
    with pytest.raises(IntegrityError, match="blob of tiny:1 model/python.json is corrupt"):
        registry.pull("tiny:1")
