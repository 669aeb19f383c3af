"""A wheel of the running modelbaton, so the clean room loads packages with the same code.

Built directly from the imported `modelbaton` folder (an editable checkout or an installed
copy alike) with the installed distribution's metadata: no build backend, no network.
It is cached under `$BATON_HOME/cache/wheels` by version and a hash of the source, so it is
built once per change of the code.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from importlib import metadata
from pathlib import Path

from ..contract.errors import BatonError
from ..settings import baton_home

DIST = "modelbaton"
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip time stamps are fixed: the same source, the same bytes


def source_files() -> list[tuple[str, Path]]:
    """(path inside the wheel, file) for every file of the imported modelbaton package."""
    import modelbaton

    root = Path(modelbaton.__file__).resolve().parent
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(directory) / name
            found.append((f"{DIST}/{path.relative_to(root).as_posix()}", path))
    return found


def source_hash(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for arcname, path in files:
        digest.update(arcname.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def modelbaton_wheel() -> Path:
    """The cached wheel of the running modelbaton; built on first use."""
    from .. import __version__

    files = source_files()
    key = source_hash(files)[:16]
    folder = baton_home() / "cache" / "wheels" / DIST / key
    wheel = folder / f"{DIST}-{__version__}-py3-none-any.whl"
    if not wheel.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{wheel.name}.{os.getpid()}.tmp"
        _write_wheel(tmp, files, __version__, key)
        os.replace(tmp, wheel)
    return wheel


def _write_wheel(path: Path, files: list[tuple[str, Path]], version: str, key: str) -> None:
    info = f"{DIST}-{version}.dist-info"
    members = [(arcname, file.read_bytes()) for arcname, file in files]
    members += [
        (f"{info}/METADATA", _metadata(version, key).encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: modelbaton\nRoot-Is-Purelib: true\n"
                          b"Tag: py3-none-any\n"),
        (f"{info}/entry_points.txt", b"[console_scripts]\nbaton = modelbaton.cli.main:main\n"),
    ]
    record = "".join(f"{name},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}\n"
                     for name, data in members) + f"{info}/RECORD,,\n"
    members.append((f"{info}/RECORD", record.encode()))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)


def _metadata(version: str, key: str) -> str:
    """Core metadata: the installed distribution's requirements, so the resolve sees them."""
    try:
        installed = metadata.distribution(DIST).metadata
    except metadata.PackageNotFoundError:
        raise BatonError("modelbaton is imported but not installed, so the clean room cannot "
                         "install the same code", hint="pip install -e . (or pip install "
                         "modelbaton) in the environment that runs `baton`") from None
    lines = ["Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {version}",
             f"Summary: modelbaton as running on the verifying machine (source {key})"]
    if installed.get("Requires-Python"):
        lines.append(f"Requires-Python: {installed['Requires-Python']}")
    lines += [f"Provides-Extra: {extra}" for extra in installed.get_all("Provides-Extra") or []]
    lines += [f"Requires-Dist: {req}" for req in installed.get_all("Requires-Dist") or []]
    return "\n".join(lines) + "\n"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
