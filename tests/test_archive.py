"""The `.baton` archive: same input, same bytes; hostile archives refused, nothing left behind."""

from __future__ import annotations

import gzip
import io
import tarfile

import numpy as np
import pytest

import modelbaton
from modelbaton.contract.errors import BatonError, IntegrityError, PackageError, UnsafeInputError
from modelbaton.package.archive import extract_archive, write_archive
from modelbaton.package.receipts import read_receipts, write_receipt


@pytest.fixture(scope="module")
def booster_model(iris):
    """A LightGBM model: its text format is byte-for-byte reproducible."""
    import lightgbm as lgb

    X, y = iris
    return lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)


@pytest.fixture
def package(tmp_path, iris, booster_model):
    return modelbaton.pack(booster_model, tmp_path / "pkg", sample_input=iris[0], name="iris",
                           version="1")


# --- deterministic -----------------------------------------------------------------------


def test_same_folder_gives_the_same_bytes(tmp_path, package):
    first = write_archive(package, tmp_path / "a.baton").read_bytes()
    (package / "model" / "model.txt").touch()  # a newer mtime changes nothing
    second = write_archive(package, tmp_path / "b.baton").read_bytes()
    assert first == second
    with tarfile.open(tmp_path / "a.baton") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["baton.yaml", "data/golden.json", "data/reference.json",
                                         "env/requirements.lock", "model/model.txt"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(0, 0, 0, "", 0o644)}
    assert first[4:8] == bytes(4)  # no time stamp in the gzip header either


def test_repacking_the_same_model_gives_the_same_bytes(tmp_path, iris, booster_model,
                                                       monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    packs = [modelbaton.pack(booster_model, tmp_path / f"run{i}" / "iris.baton",
                             sample_input=iris[0], name="iris", version="1") for i in (1, 2)]
    assert packs[0].read_bytes() == packs[1].read_bytes()
    manifest = modelbaton.open_package(packs[0]).manifest
    assert manifest.lineage.created_at.isoformat() == "2023-11-14T22:13:20+00:00"

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(BatonError, match="SOURCE_DATE_EPOCH='yesterday' is not a Unix time"):
        modelbaton.pack(booster_model, tmp_path / "run3", sample_input=iris[0], name="iris",
                        version="1")


def test_receipts_travel_in_the_archive_without_changing_the_digest(tmp_path, package):
    digest = modelbaton.open_package(package).digest
    write_receipt(package, "verify", digest=digest, passed=True, details={"rows": 20})
    archive = write_archive(package, tmp_path / "pkg.baton")
    opened = modelbaton.open_package(archive)
    assert opened.digest == digest
    assert [r["kind"] for r in read_receipts(opened.root)] == ["verify"]


def test_archive_is_extracted_once_and_checked_on_every_load(tmp_path, package, iris,
                                                            baton_home):
    archive = write_archive(package, tmp_path / "pkg.baton")
    first = modelbaton.load(archive)
    assert first.root.parent == baton_home / "cache" / "packages"
    assert modelbaton.load(archive).root == first.root
    assert len(list(first.root.parent.iterdir())) == 1
    np.testing.assert_array_equal(first.predict(iris[0]), modelbaton.load(package).predict(
        iris[0]))
    # Someone edits the cached copy: the next load fails closed.
    (first.root / "model" / "model.txt").write_text("tree\n")
    with pytest.raises(IntegrityError, match="model/model.txt differs"):
        modelbaton.load(archive)


# --- hostile archives --------------------------------------------------------------------


def hostile(path, *members: tuple[tarfile.TarInfo, bytes | None], manifest: bool = True):
    """A gzip'd tar with a plausible manifest first, then the given members."""
    with tarfile.open(path, "w:gz") as tar:
        if manifest:
            data = b"apiVersion: baton/v1\n"
            info = tarfile.TarInfo("baton.yaml")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, type_: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = link
    return info


HOSTILE = {
    "absolute path": ((member("/tmp/evil"), b"x"), "has an absolute path"),
    "parent directory": ((member("model/../../evil"), b"x"), "climbs out with '..'"),
    "escaping symlink": ((member("model/link", tarfile.SYMTYPE, "../../../etc/passwd"), None),
                         "points outside the package (../../../etc/passwd)"),
    "absolute symlink": ((member("model/link", tarfile.SYMTYPE, "/etc/passwd"), None),
                         "points outside the package"),
    "inner symlink": ((member("model/link", tarfile.SYMTYPE, "../baton.yaml"), None),
                      "is a link; package archives hold regular files only"),
    "hardlink": ((member("model/hard", tarfile.LNKTYPE, "baton.yaml"), None),
                 "is a link; package archives hold regular files only"),
    "character device": ((member("model/tty", tarfile.CHRTYPE), None),
                         "is a device, FIFO or other special file"),
    "block device": ((member("model/disk", tarfile.BLKTYPE), None),
                     "is a device, FIFO or other special file"),
    "fifo": ((member("model/pipe", tarfile.FIFOTYPE), None),
             "is a device, FIFO or other special file"),
    "duplicate member": ((member("baton.yaml"), b"name: other\n"), "'baton.yaml' appears twice"),
}


def assert_nothing_left(baton_home, tmp_path):
    cache = baton_home / "cache" / "packages"
    assert not cache.exists() or list(cache.iterdir()) == []
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_member_is_refused(case, tmp_path, baton_home, cli):
    entry, message = HOSTILE[case]
    archive = hostile(tmp_path / "evil.baton", entry)
    with pytest.raises(UnsafeInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        modelbaton.open_package(archive)
    assert_nothing_left(baton_home, tmp_path)
    result = cli("inspect", archive)  # and through the CLI: one line, exit code 2
    assert result.code == 2 and message in result.err and "\n" not in result.err.strip()
    assert_nothing_left(baton_home, tmp_path)


def test_decompression_bomb_stops_at_the_size_cap(tmp_path, baton_home):
    bomb = tmp_path / "bomb.baton"
    with open(bomb, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo("model/zeros.bin")
        info.size = 80 << 20
        tar.addfile(info, _Zeros(info.size))
    assert bomb.stat().st_size < 200_000  # 80 MiB of zeros squeezed into very little
    with pytest.raises(UnsafeInputError, match="unpacks to more than .* bytes.*decompression bomb"):
        modelbaton.open_package(bomb)
    assert_nothing_left(baton_home, tmp_path)


def test_archive_with_too_many_members_is_refused(tmp_path):
    archive = hostile(tmp_path / "many.baton",
                      *((member(f"data/{i}.txt"), b"") for i in range(12)))
    with pytest.raises(UnsafeInputError, match="more than 10 members.*archive bomb"):
        extract_archive(archive, tmp_path / "out", max_members=10)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["many.baton"]


def test_truncated_and_corrupt_archives(tmp_path, package, baton_home, cli):
    good = write_archive(package, tmp_path / "good.baton").read_bytes()
    cases = {
        "truncated.baton": good[: len(good) // 2],
        "corrupt.baton": good[:200] + bytes(b ^ 0xFF for b in good[200:400]) + good[400:],
        "noise.baton": bytes(range(256)) * 8,
        "empty.baton": b"",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(PackageError, match="truncated or corrupt|not a readable package"):
            modelbaton.open_package(tmp_path / name)
        result = cli("inspect", tmp_path / name)
        assert result.code == 2 and name in result.err and "Traceback" not in result.err
        assert_nothing_left(baton_home, tmp_path)


def test_archive_without_a_manifest(tmp_path, baton_home):
    archive = hostile(tmp_path / "plain.baton", (member("notes.txt"), b"hello"),
                      manifest=False)
    with pytest.raises(PackageError, match="holds no baton.yaml"):
        modelbaton.open_package(archive)
    assert_nothing_left(baton_home, tmp_path)


def test_member_colliding_with_a_file_is_refused_cleanly(tmp_path, baton_home):
    archive = hostile(tmp_path / "clash.baton", (member("model"), b"file"),
                      (member("model/inner.txt"), b"x"))
    with pytest.raises(PackageError, match="cannot extract it"):
        modelbaton.open_package(archive)
    assert_nothing_left(baton_home, tmp_path)


class _Zeros(io.RawIOBase):
    """`size` zero bytes, produced on demand."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def test_archive_holds_exactly_the_files_the_manifest_lists(tmp_path, package):
    (package / "stray.txt").write_text("not part of the package")
    archive = write_archive(package, tmp_path / "pkg.baton")
    with tarfile.open(archive) as tar:
        assert "stray.txt" not in tar.getnames()
    modelbaton.open_package(archive)  # a valid package, unlike the folder with the stray
    (package / "data" / "golden.json").unlink()
    with pytest.raises(IntegrityError, match="missing: data/golden.json"):
        write_archive(package, tmp_path / "broken.baton")
    assert not (tmp_path / "broken.baton").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
