"""`baton verify`: prove that a package reproduces, on a machine that has never seen it.

The checks, in order, each with its result and time:

1. integrity: every file matches the digest in the manifest (the first changed file named);
2. signature: a trusted key signed exactly this package (when signed, or when required);
3. environment: a clean room built from the lock (see `environments`);
4. load, replay, output schema, imports: in that clean room, in a subprocess (see `replay`);
5. pins: the clean room holds every pin of the lock at exactly its version;
6. budgets (with `bench=True`): latency, throughput and memory measured in the clean room.

The outcome is a `verify` receipt bound to the package digest: the environment actually
resolved, Python and platform, every check, who verified and when, optionally signed by
the verifier's key. Unusable input (no lock, a lock that does not resolve, no index) raises
a BatonError instead: nothing was verified, so there is no receipt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from ..contract.errors import IntegrityError
from ..package.integrity import verify_files
from ..package.load import Package
from ..settings import current_user
from .environments import CleanRoom, Pin, prepare, read_lock

DEFAULT_LOCK = "env/requirements.lock"


@dataclass
class Check:
    name: str
    passed: bool
    seconds: float
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "seconds": round(self.seconds, 3),
                "message": self.message, **self.data}


@dataclass
class Verification:
    package: Package
    checks: list[Check] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] | None = None
    receipt: dict[str, Any] | None = None
    receipt_path: Path | None = None

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


class Progress:
    """Told when each check starts and ends; the CLI shows it, the API ignores it."""

    def start(self, name: str, what: str) -> None: ...

    def done(self, check: Check) -> None: ...


def verify_package(package: Package, *, source: Path | None = None, manager: str | None = None,
                   python: str | None = None, offline: bool = False, fresh: bool = False,
                   require_signature: bool = False, allow_pickle: bool = False,
                   bench: bool = False, bench_seconds: float | None = None,
                   key: Path | None = None, receipt: bool = True,
                   progress: Progress | None = None) -> Verification:
    """Run every check and, with `receipt`, store a verify receipt in the package."""
    progress = progress or Progress()
    started = time.perf_counter()
    package = dataclasses.replace(package, root=package.root.resolve())  # for the subprocess
    result = Verification(package)
    private_key = _private_key(key)

    def run(check: Check) -> Check:
        result.checks.append(check)
        progress.done(check)
        return check

    progress.start("integrity", "checking every file digest")
    integrity = run(_integrity(package))
    progress.start("signature", "checking signatures against your keyring")
    run(_signature(package, require_signature))
    if integrity.passed:
        progress.start("environment", "preparing the clean room from the lock")
        lock = package.root / (package.manifest.environment.lock if package.manifest.environment
                               else DEFAULT_LOCK)
        pins = read_lock(lock)
        room = prepare(lock, manager=manager, python=python or _manifest_python(package),
                       offline=offline, fresh=fresh)
        run(_environment_check(room))
        progress.start("replay", "loading the package and replaying the golden examples in "
                       "the clean room")
        report = run_replay(room, package, allow_pickle=allow_pickle)
        result.environment = _environment(room, report, lock)
        for step in report.get("steps", []):
            data = {k: v for k, v in step.items() if k not in ("name", "passed", "seconds",
                                                               "message")}
            passed, message = step["passed"], step["message"]
            if step["name"] == "imports" and room.manager == "local" and not passed:
                passed, message = _local_imports(package, step)
            run(Check(step["name"], passed, step["seconds"], message, data))
        if report.get("distributions"):
            run(_pins(pins, report, _manifest_python(package)))
        if bench and all(c.passed for c in result.checks):
            from ..bench.profile import budget_check, measure

            progress.start("budgets", "measuring latency, throughput and memory in the clean "
                           "room")
            t0 = time.perf_counter()
            measured = measure(package, python=room.python, seconds=bench_seconds)
            result.performance = measured
            violations = budget_check(measured, package.manifest)
            run(Check("budgets", not violations, time.perf_counter() - t0,
                      "; ".join(violations) if violations else _performance_line(measured),
                      {"violations": violations}))

    details = {
        "package": {"name": package.manifest.name, "version": package.manifest.version,
                    "path": str(source or package.root)},
        "environment": result.environment,
        "checks": [c.as_dict() for c in result.checks],
        "performance": result.performance,
        "verifier": _verifier(private_key),
        "duration_s": round(time.perf_counter() - started, 3),
    }
    if private_key is not None:
        from .signatures import sign_receipt

        details = sign_receipt(details, package.digest, result.passed, private_key)
    result.receipt = {"kind": "verify", "package_digest": package.digest,
                      "passed": result.passed, **details}
    if receipt:
        from ..package.amend import store_receipt

        result.receipt_path = store_receipt(source or package.root, package, "verify",
                                            passed=result.passed, details=details)
    return result


# --- the checks run here -----------------------------------------------------------------


def _local_imports(package: Package, step: dict[str, Any]) -> tuple[bool, str]:
    """Imports outside the lock, judged outside a clean room (`--env-manager local`).

    Libraries import what happens to be installed here (pandas imports pyarrow when it
    can), so only what the package's own code imports directly is a verdict.
    """
    from ..package.capture import code_imports

    direct = code_imports(package.root / "code")
    missing = [e for e in step.get("outside", []) if e["module"] in direct]
    if missing:
        return False, "the feature code imports, but the lock does not pin: " + ", ".join(
            f"{e['module']} ({e.get('distribution', '?')} {e.get('version', '')})".strip()
            for e in missing)
    return True, f"not a clean room (--env-manager local), so only noted: {step['message']}"



def _integrity(package: Package) -> Check:
    started = time.perf_counter()
    try:
        verify_files(package.root, package.manifest)
    except IntegrityError as exc:
        return Check("integrity", False, time.perf_counter() - started, exc.message)
    size = sum(f.size for f in package.manifest.files)
    return Check("integrity", True, time.perf_counter() - started,
                 f"{len(package.manifest.files)} files ({size:,} bytes) match their sha256")


def _signature(package: Package, required: bool) -> Check:
    from ..package.receipts import read_receipts

    started = time.perf_counter()
    if not required and not read_receipts(package.root, "signature"):
        return Check("signature", True, time.perf_counter() - started,
                     "not signed (pass --require-signature to insist)", {"status": "absent"})
    from .signatures import check_signature

    outcome = check_signature(package, required=required)
    return Check("signature", outcome.passed, time.perf_counter() - started, outcome.message,
                 outcome.as_dict())


def run_replay(room: CleanRoom, package: Package, *, allow_pickle: bool = False
               ) -> dict[str, Any]:
    """Run `modelbaton.verify.replay` with the clean room's interpreter; its JSON report."""
    with tempfile.TemporaryDirectory(prefix="baton-replay-") as tmp:
        result = Path(tmp) / "result.json"
        argv = [str(room.python), "-I", "-m", "modelbaton.verify.replay", str(package.root),
                str(result), *(["--allow-pickle"] if allow_pickle else [])]
        env = {k: v for k, v in os.environ.items()
               if k not in ("VIRTUAL_ENV", "CONDA_PREFIX") and not k.startswith("PYTHON")}
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True)
        try:
            return json.loads(result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # it died before writing its report: its own output says why
    tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    return {"steps": [{"name": "load", "passed": False, "seconds": time.perf_counter() - started,
                       "message": f"the clean-room process failed (exit code "
                                  f"{done.returncode}): {tail or 'no output'}"}]}


def _environment_check(room: CleanRoom) -> Check:
    if room.manager == "local":
        how = "the current interpreter (--env-manager local): nothing built"
    elif room.reused:
        how = f"reused the sealed {room.manager} environment built from this lock"
    else:
        how = f"built from the lock with {room.manager}"
    return Check("environment", True, room.seconds, f"{how} ({room.path or room.python})",
                 {"reused": room.reused, "manager": room.manager})


def _pins(pins: list[Pin], report: dict[str, Any], packed_on: str | None) -> Check:
    """The clean room holds every pin that applies here at exactly its version."""
    started = time.perf_counter()
    installed: dict[str, str] = report["distributions"]
    wrong, loose = [], []
    for pin in pins:
        if not pin.applies:
            continue
        have = installed.get(pin.name)
        if pin.version is None:
            loose.append(f"{pin.text} (got {have})")
        elif have is None:
            wrong.append(f"line {pin.line}: {pin.text} is not installed")
        elif not _same_version(pin.version, have):
            wrong.append(f"line {pin.line}: {pin.text} but {have} is installed")
    python = report.get("python", "?")
    message = f"Python {python}, {len(installed)} distributions: " + (
        f"all {len(pins)} pins at exactly their versions" if not wrong
        else "the environment differs from the lock: " + "; ".join(wrong))
    if loose:
        message += "; not pinned exactly: " + ", ".join(loose)
    if packed_on and not str(python).startswith(packed_on + "."):
        message += f" (the package was packed on Python {packed_on})"
    return Check("pins", not wrong, time.perf_counter() - started, message,
                 {"differences": wrong, "unpinned": loose})


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


# --- what the receipt records ------------------------------------------------------------


def _environment(room: CleanRoom, report: dict[str, Any], lock: Path) -> dict[str, Any]:
    return {"manager": room.manager, "reused": room.reused, "path": str(room.path or ""),
            "interpreter": report.get("executable", str(room.python)),
            "python": report.get("python"), "implementation": report.get("implementation"),
            "platform": report.get("platform"),
            "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest(),
            "distributions": dict(sorted(report.get("distributions", {}).items()))}


def _verifier(private_key: Any) -> dict[str, Any]:
    from .. import __version__

    verifier = {"user": current_user(), "host": socket.gethostname(),
                "baton_version": __version__,
                "platform": f"{sys.platform}-{platform.machine()}"}
    if private_key is not None:
        from .signatures import key_id_of

        verifier["key_id"] = key_id_of(private_key)
    return verifier


def _private_key(path: Path | None) -> Any:
    if path is None:
        return None
    from .signatures import load_private_key

    return load_private_key(path)


def _manifest_python(package: Package) -> str | None:
    environment = package.manifest.environment
    return ".".join(environment.python.split(".")[:2]) if environment else None


def _performance_line(measured: dict[str, Any]) -> str:
    latency = measured.get("latency_ms") or {}
    best = max((measured.get("throughput_rps") or {}).values(), default=0)
    return (f"within budgets: p50 {latency.get('p50', 0):.2f} ms, p99 "
            f"{latency.get('p99', 0):.2f} ms, up to {best:,.0f} rows/s, peak RSS "
            f"{measured.get('peak_rss_mb', 0):.0f} MB")
