"""Helpers of the registry tests that are not fixtures."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from modelbaton.contract.io import MANIFEST_NAME, read_manifest, write_manifest

#: The upload limit of the test servers (`server` fixture).
MAX_UPLOAD = 256 << 10


def make_variant(source: Path, dest: Path, label: str, *, name: str = "tiny",
                 extra: bytes | None = None) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("receipts"))
    manifest_path = dest / MANIFEST_NAME
    if extra is None:  # a plain edit of the two lines, as a person would make it
        text = manifest_path.read_text()
        text = re.sub(r"(?m)^version: .*$", f"version: '{label}'", text, count=1)
        text = re.sub(r"(?m)^name: .*$", f"name: {name}", text, count=1)
        manifest_path.write_text(text)
        return dest
    from modelbaton.package.integrity import file_entries

    (dest / "docs").mkdir()  # a larger file, for uploads that take a while
    (dest / "docs" / "extra.bin").write_bytes(extra)
    manifest = read_manifest(manifest_path)
    write_manifest(manifest.model_copy(update={"version": label, "name": name,
                                               "files": file_entries(dest)}), manifest_path)
    return dest
