"""`baton bench`: what the model costs to run, measured where it will run, against budgets.

The measurement happens in a fresh subprocess (`probe`), so load time includes importing
the model's library and the peak memory is the model's process, not the caller's. The
figures go into the manifest's `performance.measured` (that changes the package digest,
as intended: bench is run by whoever packs, before signing and handing over) and into a
`bench` receipt bound to the new digest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..contract.errors import BatonError, FlavorError, PackageError
from ..contract.io import MANIFEST_NAME, manifest_digest, read_manifest, write_manifest
from ..contract.manifest import Manifest, Measured, Performance
from ..package.load import Package
from ..package.receipts import write_receipt

DEFAULT_SECONDS = 2.0
QUICK_SECONDS = 0.5


def measure(package: Package, *, python: str | Path | None = None,
            seconds: float | None = None, allow_pickle: bool = False) -> dict[str, Any]:
    """Run the probe with `python` (default: this interpreter); the measured figures."""
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    if seconds <= 0:
        raise BatonError(f"--duration must be positive, got {seconds}")
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp:
        result = Path(tmp) / "result.json"
        argv = [str(python or sys.executable), "-I", "-m", "modelbaton.bench.probe",
                str(package.root.resolve()), str(result), str(seconds),
                *(["--allow-pickle"] if allow_pickle else [])]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        done = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True)
        if not result.is_file():
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise FlavorError(f"the benchmark process failed (exit code {done.returncode}): "
                              f"{tail or 'no output'}", where=str(package.root))
        probe = json.loads(result.read_text(encoding="utf-8"))
    if "error" in probe:
        raise FlavorError(f"cannot benchmark the package: {probe['error']}",
                          where=str(package.root))
    files = package.manifest.files
    artifact = package.manifest.model.artifact
    folder = artifact.rsplit("/", 1)[0] + "/" if "/" in artifact else artifact
    return {
        "load_time_s": round(probe["load_time_s"], 4),
        "latency_ms": {k: round(v, 4) if isinstance(v, float) else v
                       for k, v in probe["latency_ms"].items()},
        "throughput_rps": {int(k): round(v, 1) for k, v in probe["throughput_rps"].items()},
        "peak_rss_mb": round(probe["peak_rss_mb"], 1),
        "artifact_bytes": sum(f.size for f in files if f.path.startswith(folder)),
        "package_bytes": sum(f.size for f in files)
        + (package.root / MANIFEST_NAME).stat().st_size,
        "machine": machine_info(probe),
        "measured_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


def machine_info(probe: dict[str, Any] | None = None) -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and the libraries the measuring process used."""
    info: dict[str, Any] = {"cpu": _cpu_model(), "cores": os.cpu_count(),
                            "os": platform.platform(), "machine": platform.machine()}
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    if hasattr(os, "getloadavg"):
        # A busy machine gives slower figures; the load says how busy it was.
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if probe:
        info["python"] = f"{probe.get('implementation', '')} {probe.get('python', '')}".strip()
        info["baseline_rss_mb"] = round(probe.get("baseline_rss_mb", 0.0), 1)
        info["libraries"] = probe.get("libraries", {})
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --- budgets and comparisons -------------------------------------------------------------


def budget_check(measured: dict[str, Any], manifest: Manifest) -> list[str]:
    """One line per budget of `performance.budgets` that the measurement exceeds."""
    budgets = manifest.performance.budgets if manifest.performance else None
    if budgets is None:
        return []
    latency = measured.get("latency_ms") or {}
    throughput = measured.get("throughput_rps") or {}
    found = []
    for label, value, limit in (
            ("p50 latency", latency.get("p50"), budgets.latency_p50_ms),
            ("p95 latency", latency.get("p95"), budgets.latency_p95_ms),
            ("p99 latency", latency.get("p99"), budgets.latency_p99_ms)):
        if limit is not None and value is not None and value > limit:
            found.append(f"{label} {value:.2f} ms exceeds the budget of {limit:g} ms")
    if budgets.peak_rss_mb is not None and measured.get("peak_rss_mb", 0) > budgets.peak_rss_mb:
        found.append(f"peak RSS {measured['peak_rss_mb']:.0f} MB exceeds the budget of "
                     f"{budgets.peak_rss_mb:g} MB")
    if budgets.load_time_s is not None and measured.get("load_time_s", 0) > budgets.load_time_s:
        found.append(f"load time {measured['load_time_s']:.2f} s exceeds the budget of "
                     f"{budgets.load_time_s:g} s")
    if budgets.min_throughput_rps is not None and throughput:
        size, best = max(throughput.items(), key=lambda item: item[1])
        if best < budgets.min_throughput_rps:
            found.append(f"throughput {best:,.0f} rows/s (best, at batch size {size}) is below "
                         f"the budget of {budgets.min_throughput_rps:,g} rows/s")
    return found


def comparable(measured: dict[str, Any]) -> dict[str, float]:
    """The figures two measurements are compared on, flat."""
    flat = {"load time (s)": measured.get("load_time_s"),
            "peak RSS (MB)": measured.get("peak_rss_mb"),
            "artifact (bytes)": measured.get("artifact_bytes"),
            "package (bytes)": measured.get("package_bytes")}
    for key, value in (measured.get("latency_ms") or {}).items():
        if key != "samples":
            flat[f"latency {key} (ms)"] = value
    for size, value in (measured.get("throughput_rps") or {}).items():
        flat[f"throughput batch {size} (rows/s)"] = value
    return {k: float(v) for k, v in flat.items() if v is not None}


def deltas(measured: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    mine, theirs = comparable(measured), comparable(other)
    rows = []
    for name, value in mine.items():
        before = theirs.get(name)
        change = None if before in (None, 0) else (value - before) / before * 100
        rows.append({"metric": name, "this": value, "other": before,
                     "change_pct": None if change is None else round(change, 1)})
    return rows


def load_other(ref: str) -> dict[str, Any]:
    """Measured figures of another package (folder, `.baton`) or of a bench receipt."""
    if not ref.strip():
        raise BatonError("--compare is empty", hint="give a package or a bench receipt (.json)")
    path = Path(ref)
    if path.suffix == ".json":
        try:
            receipt = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BatonError(f"cannot read the receipt {path}: {exc}") from None
        if not isinstance(receipt, dict) or not isinstance(receipt.get("measured"), dict):
            raise BatonError(f"{path} is not a bench receipt (it has no `measured` figures)",
                             hint="give a receipts/bench-*.json file or a package")
        return receipt["measured"]
    from ..package.load import open_package

    other = open_package(path, verify=False)
    measured = other.manifest.performance.measured if other.manifest.performance else None
    if measured is None:
        raise PackageError(f"{path} has no measured performance",
                           hint=f"run `baton bench {path}` first")
    return measured.model_dump(mode="json", exclude_none=True)


# --- recording ---------------------------------------------------------------------------


def record(root: Path, measured: dict[str, Any], violations: list[str],
           compared: dict[str, Any] | None = None) -> tuple[str, Path]:
    """Write `performance.measured` into the manifest, then a bench receipt for the new
    digest; returns that digest and the receipt's path."""
    path = root / MANIFEST_NAME
    manifest = read_manifest(path)
    figures = Measured.model_validate({k: v for k, v in measured.items()
                                       if k in Measured.model_fields})
    performance = (manifest.performance or Performance()).model_copy(
        update={"measured": figures})
    write_manifest(manifest.model_copy(update={"performance": performance}), path)
    digest = manifest_digest(path)
    details: dict[str, Any] = {"measured": measured, "budget_violations": violations}
    if compared is not None:
        details["compared_with"] = compared
    receipt = write_receipt(root, "bench", digest=digest, passed=not violations,
                            details=details)
    return digest, receipt
