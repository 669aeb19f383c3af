"""Opening a package (folder or `.baton` file) and loading it as a `Predictor`.

Every load checks every file against the manifest first and fails closed, naming the file.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract.errors import (
    BatonError, FlavorError, IntegrityError, PackageError, UnsafeInputError,
)
from ..contract.io import MANIFEST_NAME, read_manifest_and_digest
from ..contract.manifest import Manifest, ModelSection
from ..flavors import Flavor, get_flavor
from ..settings import baton_home
from .archive import extract_archive, is_archive
from .integrity import sha256_file, verify_files
from .predictor import Predictor

CODE_DIR = "code"
_CODE_ON_PATH = threading.RLock()


@dataclass(frozen=True)
class Package:
    """A package on disk: its folder, its manifest and its digest."""

    root: Path
    manifest: Manifest
    digest: str

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME


def open_package(path: str | Path, *, verify: bool = True) -> Package:
    """Read a package folder or `.baton` archive; with `verify`, check every file digest."""
    path = Path(path)
    if not path.exists():
        raise PackageError(f"{path} does not exist",
                           hint="give a package folder, a .baton file or a registry reference")
    if is_archive(path):
        path = _extracted(path)
    elif path.is_file() and path.name == MANIFEST_NAME:
        path = path.parent
    elif not path.is_dir():
        raise PackageError(f"{path} is not a package", hint="expected a folder with baton.yaml "
                           "or a .baton file")
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise PackageError(f"{path} has no {MANIFEST_NAME}",
                           hint="is this a package? `baton pack` creates one")
    manifest, digest = read_manifest_and_digest(manifest_path)
    if verify:
        verify_files(path, manifest)
    return Package(root=path, manifest=manifest, digest=digest)


def _extracted(archive: Path) -> Path:
    """Archives are extracted once into a cache keyed by their sha256.

    Loading verifies the extracted files against the manifest every time, so a cache
    entry that was altered afterwards fails closed like any other package.
    """
    target = baton_home() / "cache" / "packages" / sha256_file(archive)
    if (target / MANIFEST_NAME).is_file():
        return target
    try:
        extract_archive(archive, target)
    except PackageError:
        if not (target / MANIFEST_NAME).is_file():  # not merely another process finishing first
            raise
    return target


def load(path: str | Path | Package, *, allow_pickle: bool = False,
         verify: bool = True, require_signature: bool = False, once: bool = False) -> Predictor:
    """Load a package as a Predictor that runs its preprocessing, then its model.

    `allow_pickle` must be True to load a pickled artifact; it runs code on load.
    `require_signature` refuses a package that no key in your keyring signed as it is.
    `once` is for a predictor used for a few predictions and dropped (a golden replay):
    the flavor may load faster in a way it would not use for a long-lived model.
    """
    package = path if isinstance(path, Package) else open_package(path, verify=verify)
    if require_signature:
        from ..verify.signatures import require_signature as check_signed

        if isinstance(path, Package) or not verify:
            # The signature covers the manifest; the files only through their digests.
            verify_files(package.root, package.manifest)
        check_signed(package)
    manifest = package.manifest
    section = manifest.model
    if (section.allow_pickle or section.serialization == "pickle") and not allow_pickle:
        raise UnsafeInputError(
            f"{package.root}: the model is a pickle, which can run arbitrary code when loaded",
            hint="pass allow_pickle=True (--allow-pickle) only if you trust its author")
    flavor = get_flavor(section.flavor)
    if section.artifact not in {entry.path for entry in manifest.files}:
        raise IntegrityError(f"the model artifact {section.artifact} is not among the files "
                             "the manifest lists", where=str(package.root),
                             hint="the manifest was edited by hand; re-pack the model")
    artifact = package.root / section.artifact
    with code_on_path(package.root / CODE_DIR):
        model = load_artifact(flavor, artifact, section, once=once)
        entry = manifest.preprocessing.entry_point if manifest.preprocessing else None
        preprocess = resolve_entry_point(entry) if entry else None
    return Predictor(manifest=manifest, root=package.root, digest=package.digest, flavor=flavor,
                     model=model, preprocess=preprocess,
                     wants_frame=section.options.get("input") == "dataframe")


def load_artifact(flavor: Flavor, artifact: Path, section: ModelSection, *,
                  once: bool = False) -> Any:
    """The flavor's load, with the library's own failure turned into one clear line."""
    try:
        return flavor.load_once(artifact, section) if once else flavor.load(artifact, section)
    except BatonError:
        raise
    except Exception as exc:  # each library raises its own types
        raise FlavorError(f"{section.artifact}: the {flavor.name} flavor cannot load it: "
                          f"{type(exc).__name__}: {exc}",
                          hint="if the model refers to your own functions or classes, they "
                               "must be module-level and shipped with code=") from exc


def resolve_entry_point(entry: str) -> Any:
    """`module:attribute` from the shipped code, with an error that says what to fix."""
    module_name, sep, attr = entry.partition(":")
    if not sep or not module_name or not attr:
        raise FlavorError(f"entry point '{entry}' is not of the form module:function")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except ImportError as exc:
        raise FlavorError(f"cannot import preprocessing entry point {entry}: {exc}",
                          hint="is the module in code/? Are its imports in the lock?") from None
    except AttributeError:
        raise FlavorError(f"preprocessing entry point {entry}: module '{module_name}' has no "
                          f"'{attr}'") from None
    if not callable(target):
        raise FlavorError(f"preprocessing entry point {entry} is not callable")
    return target


@contextlib.contextmanager
def code_on_path(code_dir: Path) -> Iterator[None]:
    """Import the package's own code, isolated from same-named modules of other packages.

    Modules with the code's names are set aside during the load and restored after it,
    so a champion and a challenger that both ship `features.py` load side by side; the
    loaded functions keep their own module globals. (An import the code makes only when a
    function runs, after loading, finds the code no longer on the path: import at the top.)
    `sys.modules` and `sys.path` are the process's: one thread at a time does this.
    """
    if not code_dir.is_dir():
        yield
        return
    names = {p.stem for p in code_dir.iterdir() if p.suffix == ".py" or p.is_dir()}

    def ours(module: str) -> bool:
        return module.split(".")[0] in names

    with _CODE_ON_PATH:
        saved = {m: sys.modules.pop(m) for m in list(sys.modules) if ours(m)}
        sys.path.insert(0, str(code_dir))
        importlib.invalidate_caches()
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(code_dir))
            for module in [m for m in sys.modules if ours(m)]:
                del sys.modules[module]
            sys.modules.update(saved)
