"""Content-addressed blob storage through fsspec: a local folder, `s3://`, `gs://`, ...

A blob is stored once under `sha256/<first two hex>/<sha256>`, however many versions use
it. Writes go to `tmp/` and are renamed into place only after their hash is checked, so a
killed upload leaves at most a temporary file or an unreferenced blob, which `gc` removes;
every read is hashed again and a blob altered at rest is reported by the file it holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from ..contract.errors import IntegrityError, UnsafeInputError
from ..package.integrity import sha256_file
from .errors import TooLargeError

CHUNK = 1 << 20
_HASHERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="baton-sha256")


def _new_hashers() -> None:
    """A forked child has the pool but not its threads: give it a pool of its own."""
    global _HASHERS
    _HASHERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="baton-sha256")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_hashers)


class BlobStore:
    def __init__(self, url: str):
        import fsspec

        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")
        if "file" in _protocols(self.fs):
            os.makedirs(self.root, exist_ok=True)

    def path(self, sha256: str) -> str:
        if not is_sha256(sha256):  # it becomes a path: never let it climb out of the store
            raise UnsafeInputError(f"'{sha256[:80]}' is not a sha256 hex digest",
                                   hint="blobs are named by the sha256 of their content")
        return f"{self.root}/sha256/{sha256[:2]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return self.fs.exists(self.path(sha256))

    def size(self, sha256: str) -> int | None:
        try:
            return int(self.fs.size(self.path(sha256)))
        except FileNotFoundError:
            return None

    def writer(self, expected: str, *, where: str, max_bytes: int | None = None) -> BlobWriter:
        """A streaming upload of a blob whose sha256 must be `expected`."""
        return BlobWriter(self, expected, where, max_bytes)

    def put(self, chunks: Iterable[bytes], expected: str, *, where: str,
            max_bytes: int | None = None) -> int:
        """Store a stream whose sha256 must be `expected`; returns its size."""
        with self.writer(expected, where=where, max_bytes=max_bytes) as writer:
            for chunk in chunks:
                writer.write(chunk)
        return writer.size

    def put_file(self, path: Path, expected: str, *, where: str) -> int:
        """Store a local file, or only check its hash when the blob is already stored."""
        if self.exists(expected):
            got = sha256_file(path)
            if got != expected:
                raise changed(where, got, expected)
            return path.stat().st_size
        return self.put(read_chunks(path), expected, where=where)

    def open(self, sha256: str) -> BinaryIO:
        return self.fs.open(self.path(sha256), "rb")

    def chunks(self, sha256: str, *, where: str, verify: bool = True) -> Iterator[bytes]:
        """The blob's bytes, hashed as they are read; a mismatch at the end is an error.
        (The HTTP server streams without `verify`: the client checks what it receives.)"""
        try:
            handle = self.open(sha256)
        except FileNotFoundError:
            raise IntegrityError(f"the blob of {where} (sha256 {sha256}) is missing from the "
                                 f"store {self.url}", hint="restore it from a backup or push "
                                 "the package again") from None
        digest = hashlib.sha256()
        with handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                yield chunk
        if verify and digest.hexdigest() != sha256:
            raise corrupt(where, self.path(sha256), digest.hexdigest(), sha256)

    def fetch(self, sha256: str, dest: Path, *, where: str) -> None:
        """Copy a blob to a local file, verifying it (nothing is left behind on failure)."""
        save(self.chunks(sha256, where=where), dest)

    def listing(self) -> Iterator[tuple[str, str, dt.datetime | None]]:
        """(sha256, or '' for a temporary upload; path; modified) of everything stored."""
        for sub, is_tmp in (("sha256", False), ("tmp", True)):
            base = f"{self.root}/{sub}"
            if not self.fs.exists(base):
                continue
            for path in self.fs.find(base):
                name = path.rsplit("/", 1)[-1]
                yield ("" if is_tmp else name), path, _modified(self.fs, path)

    def delete(self, path: str) -> None:
        self.fs.rm(path)


class BlobWriter:
    """Writes to a temporary object, hashing as it goes; moved into place on a clean exit
    with the expected hash, removed otherwise.

    Each chunk is hashed on a worker thread while the same chunk is written (hashlib and
    file writes release the GIL), so an upload costs about the larger of the two, not both.
    """

    def __init__(self, store: BlobStore, expected: str, where: str, max_bytes: int | None):
        store.path(expected)  # refuses a name that is not a digest before anything is written
        self.store, self.expected, self.where, self.max_bytes = store, expected, where, max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        self._hashing: Future[None] | None = None
        self._tmp = f"{store.root}/tmp/{uuid.uuid4().hex}"
        store.fs.makedirs(f"{store.root}/tmp", exist_ok=True)
        self._out = store.fs.open(self._tmp, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise TooLargeError(f"{self.where} is larger than the upload limit of "
                                f"{self.max_bytes:,} bytes",
                                hint="ask the registry admin to raise --max-upload-mb")
        self._wait()  # chunks are hashed in order
        self._hashing = _HASHERS.submit(self._digest.update, chunk)
        self._out.write(chunk)

    def _wait(self) -> None:
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

    def commit(self) -> None:
        """Check the hash and move the blob into place."""
        self._wait()
        self._out.close()
        got = self._digest.hexdigest()
        if got != self.expected:
            raise changed(self.where, got, self.expected)
        final = self.store.path(self.expected)
        self.store.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        self.store.fs.mv(self._tmp, final)

    def discard(self) -> None:
        """Remove what is left of the upload (nothing, after a commit)."""
        self._wait()
        if not self._out.closed:
            self._out.close()
        if self.store.fs.exists(self._tmp):
            self.store.fs.rm(self._tmp)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.discard()


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(
        c in "0123456789abcdef" for c in value)


def save(chunks: Iterable[bytes], dest: Path) -> None:
    """Write chunks to a local file; on any failure the file is removed."""
    try:
        with open(dest, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def changed(where: str, got: str, expected: str) -> IntegrityError:
    return IntegrityError(f"{where} has sha256 {got}, not the {expected} its manifest records",
                          hint="the file changed after packing; re-pack it")


def corrupt(where: str, path: str, got: str, expected: str) -> IntegrityError:
    return IntegrityError(f"the blob of {where} is corrupt: {path} has sha256 {got}, not "
                          f"{expected}", hint="it was altered on disk; restore it from a "
                                              "backup or push the package again")


def read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _modified(fs: Any, path: str) -> dt.datetime | None:
    try:
        when = fs.modified(path)
    except (NotImplementedError, FileNotFoundError, OSError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
