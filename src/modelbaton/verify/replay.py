"""The part of `baton verify` that runs inside the clean room.

    python -I -m modelbaton.verify.replay PACKAGE RESULT.json [--allow-pickle]

Loads the package through the normal loader, replays every golden example through the
preprocessing and the model, compares with the recorded outputs, checks them against the
output schema, and lists every module the process imported that does not come from the
lock (or from modelbaton and its own requirements). Writes one JSON document to RESULT;
every failure of the model, its code or its environment becomes a failed step in that
document, never a crash. Only modelbaton's core dependencies are imported here.
"""

from __future__ import annotations

import json
import platform
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

#: Aliases the interpreter itself puts in sys.modules.
_NOT_MODULES = ("__main__", "__mp_main__", "modelbaton")
#: What was imported before the package: interpreter start-up (including `.pth` hooks of
#: the environment, such as setuptools' `_distutils_hack`) and modelbaton itself.
_AT_START = frozenset(m.split(".")[0] for m in list(sys.modules))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write(__doc__ or "")
        return 2
    root, result_path = Path(argv[0]), Path(argv[1])
    allow_pickle = "--allow-pickle" in argv[2:]
    report: dict[str, Any] = {"python": platform.python_version(),
                              "implementation": platform.python_implementation(),
                              "platform": f"{sys.platform}-{platform.machine()}",
                              "executable": sys.executable, "steps": []}
    steps: list[dict[str, Any]] = report["steps"]
    try:
        _replay(root, allow_pickle, steps)
    except _Failed:
        pass  # recorded as a failed step
    except Exception as exc:  # a bug of ours must not pass for a verified package
        steps.append({"name": "clean room", "passed": False, "seconds": 0.0,
                      "message": f"the replay itself failed: {describe_error(exc)}"})
    report["distributions"] = installed_distributions()
    result_path.write_text(json.dumps(report, default=str), encoding="utf-8")
    return 0


class _Failed(Exception):
    """A step failed, and is recorded as such."""


def _replay(root: Path, allow_pickle: bool, steps: list[dict[str, Any]]) -> None:
    from ..package.golden import compare_outputs, read_golden
    from ..package.load import load

    predictor, seconds = _attempt(
        steps, "load", lambda: load(root, allow_pickle=allow_pickle, once=True))
    manifest = predictor.manifest
    steps.append({"name": "load", "passed": True, "seconds": seconds,
                  "message": f"{manifest.model.flavor} model loaded through modelbaton.load "
                             "(file digests checked)"})
    golden = manifest.golden
    if golden is None:
        steps.append({"name": "replay", "passed": False, "seconds": 0.0,
                      "message": "the package has no golden examples to replay"})
        return
    examples, _ = _attempt(steps, "replay", lambda: read_golden(root / golden.path))
    got, seconds = _attempt(steps, "replay", lambda: predictor.predict_table(examples.inputs))
    started = time.perf_counter()
    comparison = compare_outputs(examples.outputs, got, rtol=golden.rtol, atol=golden.atol)
    steps.append({
        "name": "replay", "passed": comparison.ok,
        "seconds": seconds + time.perf_counter() - started,
        "message": (f"{comparison.rows} golden rows x {comparison.columns} columns reproduced "
                    f"(rtol {golden.rtol:g}, atol {golden.atol:g})") if comparison.ok else
        f"{len(comparison.mismatches)} of {comparison.columns} columns differ: "
        + "; ".join(str(m) for m in comparison.mismatches),
        "mismatches": [{"column": m.column, "rows": m.rows, "expected": m.expected,
                        "got": m.got, "max_abs_diff": m.max_abs_diff}
                       for m in comparison.mismatches],
        "max_abs_diff": comparison.max_abs_diff})
    steps.append(_output_schema(got, manifest.interface.outputs))
    steps.append(_imports(root, manifest))


def _attempt(steps: list[dict[str, Any]], name: str, action: Callable[[], Any]
             ) -> tuple[Any, float]:
    """Run one step; a failure is recorded with the error the model's code raised."""
    started = time.perf_counter()
    try:
        return action(), time.perf_counter() - started
    except Exception as exc:  # whatever the model, its code or its libraries raise
        steps.append({"name": name, "passed": False, "seconds": time.perf_counter() - started,
                      "message": describe_error(exc), **_missing_module(exc)})
        raise _Failed from None


def describe_error(exc: BaseException) -> str:
    from ..contract.errors import BatonError

    if isinstance(exc, BatonError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _missing_module(exc: BaseException) -> dict[str, str]:
    """The module an import error is about, following the chain of causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ImportError) and seen.name:
            return {"missing_module": seen.name}
        seen = seen.__cause__ or seen.__context__
    return {}


def _output_schema(got: dict[str, Any], fields: list[Any]) -> dict[str, Any]:
    from ..data.schema import check_table

    started = time.perf_counter()
    _, problems = check_table(got, fields)
    messages = [f"field '{p.field}': is not an output of the interface" if p.kind == "extra"
                else str(p) for p in problems]
    return {"name": "output schema", "passed": not problems,
            "seconds": time.perf_counter() - started,
            "message": f"{len(fields)} output columns match the interface" if not problems
            else f"{len(problems)} problems: " + "; ".join(messages[:5])}


# --- what the process needed -------------------------------------------------------------


def installed_distributions() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version
            for d in metadata.distributions() if d.metadata["Name"]}


def requirement_closure(names: list[str]) -> set[str]:
    """The distributions `names` need, following the installed metadata."""
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_requirements(name))
    return seen


def _requirements(name: str) -> list[str]:
    """What an installed distribution requires here (no extras), by canonical name."""
    try:
        lines = metadata.distribution(name).requires or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found.append(canonicalize_name(requirement.name))
    return found


def _imports(root: Path, manifest: Any) -> dict[str, Any]:
    """Every module the load and replay imported must come from the lock, modelbaton's own
    requirements or the standard library."""
    from ._wheel import DIST
    from .environments import read_lock

    started = time.perf_counter()
    lock = root / manifest.environment.lock if manifest.environment else None
    pinned = {p.name for p in read_lock(lock)} if lock and lock.is_file() else set()
    allowed = pinned | requirement_closure([DIST])
    # Module names of the allowed distributions first: reading every installed
    # distribution's file list is only needed to name the owner of what is not allowed.
    allowed_modules = set().union(*(_top_names(d) for d in metadata.distributions()
                                    if canonicalize_name(d.metadata["Name"] or "") in allowed))
    owners: dict[str, list[str]] | None = None
    code_dir = (root / "code").resolve()
    sites = [Path(p).resolve() for p in {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}]
    stdlib = [Path(sysconfig.get_paths()[k]).resolve() for k in ("stdlib", "platstdlib")]
    outside: list[dict[str, Any]] = []
    for name in sorted({m.split(".")[0] for m in list(sys.modules)} - _AT_START):
        module = sys.modules.get(name)
        if module is None or name in sys.stdlib_module_names or name in _NOT_MODULES:
            continue
        origin = _origin(module)
        if origin is None or origin.is_relative_to(code_dir):
            continue  # built into the interpreter, or the package's own feature code
        if {name, _site_top(origin, sites)} & allowed_modules:
            continue  # from the lock, or from modelbaton and its requirements
        owners = owners if owners is not None else metadata.packages_distributions()
        dists = {canonicalize_name(d) for d in owners.get(name) or
                 owners.get(_site_top(origin, sites) or "") or []}
        if dists & allowed:
            continue
        if not dists and _within(origin, stdlib) and not _within(origin, sites):
            continue  # a private module of the standard library
        entry: dict[str, Any] = {"module": name, "path": str(origin)}
        if dists:
            dist = sorted(dists)[0]
            entry.update(distribution=dist, version=_version(dist),
                         required_by=sorted(_required_by(dist, pinned)))
        outside.append(entry)
    return {"name": "imports", "passed": not outside, "seconds": time.perf_counter() - started,
            "outside": outside,
            "message": "every imported module is pinned in the lock" if not outside
            else "imported but not pinned in the lock: " + ", ".join(
                _describe_outside(e) for e in outside)}


def _top_names(dist: metadata.Distribution) -> set[str]:
    """The top-level module names a distribution installs."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return set(listed.split())
    names = set()
    for file in dist.files or []:
        top = file.parts[0] if file.parts else ""
        if top and not top.endswith((".dist-info", ".data", ".pth")) and top not in (
                "..", "__pycache__", "bin"):
            names.add(top.split(".")[0])
    return names


def _site_top(origin: Path, sites: list[Path]) -> str | None:
    """The top-level folder or module a file lies in, when it is in site-packages
    (compiled helpers such as scipy's `_cyutility` register under a bare name)."""
    for site in sites:
        if origin.is_relative_to(site):
            return origin.relative_to(site).parts[0].split(".")[0]
    return None


def _within(path: Path, folders: list[Path]) -> bool:
    return any(path.is_relative_to(folder) for folder in folders)


def _origin(module: Any) -> Path | None:
    file = getattr(module, "__file__", None)
    if file is None:
        paths = list(getattr(module, "__path__", []) or [])
        file = paths[0] if paths else None
    return Path(file).resolve() if file else None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _required_by(dist: str, pinned: set[str]) -> set[str]:
    return {name for name in pinned if dist in _requirements(name)}


def _describe_outside(entry: dict[str, Any]) -> str:
    if "distribution" not in entry:
        return f"{entry['module']} (from {entry['path']}, outside the environment)"
    needed = f", needed by {', '.join(entry['required_by'])}" if entry["required_by"] else ""
    return f"{entry['module']} ({entry['distribution']} {entry['version']}{needed})"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
