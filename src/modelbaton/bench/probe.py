"""The measuring process of `baton bench`: a fresh interpreter that does nothing else.

    python -I -m modelbaton.bench.probe PACKAGE RESULT.json SECONDS [--allow-pickle]

Measures the package load time (imports of the model library included, as a serving
process pays it), single-row latency through the public `predict_table` call (input
validation and feature code included), throughput at batch sizes 1, 8, 64 and 512, and the
peak resident memory of the process. Inputs are the golden examples, cycled or tiled.
Everything is warmed up first; each phase runs for its share of SECONDS and until it has
enough repetitions for its statistics.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

BATCH_SIZES = (1, 8, 64, 512)
MIN_LATENCY_SAMPLES = 50
WARMUP_CALLS = 5


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        sys.stderr.write(__doc__ or "")
        return 2
    root, result, seconds = Path(argv[0]), Path(argv[1]), float(argv[2])
    try:
        measured = measure(root, seconds, allow_pickle="--allow-pickle" in argv[3:])
    except Exception as exc:  # reported by the parent as one line
        from ..verify.replay import describe_error

        measured = {"error": describe_error(exc)}
    result.write_text(json.dumps(measured), encoding="utf-8")
    return 0


def measure(root: Path, seconds: float, *, allow_pickle: bool = False) -> dict[str, Any]:
    import numpy as np

    from ..contract.errors import PackageError
    from ..data.table import n_rows, select_rows
    from ..package.golden import read_golden
    from ..package.load import load

    baseline = peak_rss_mb()
    started = time.perf_counter()
    predictor = load(root, allow_pickle=allow_pickle)
    load_time = time.perf_counter() - started
    if predictor.manifest.golden is None:
        raise PackageError("the package has no golden examples to measure with",
                           hint="re-pack it: pack() records them")
    inputs = read_golden(root / predictor.manifest.golden.path).inputs
    rows = n_rows(inputs)
    singles = [select_rows(inputs, [i]) for i in range(rows)]
    batches = {b: select_rows(inputs, np.arange(b) % rows) for b in BATCH_SIZES}

    for i in range(WARMUP_CALLS):
        predictor.predict_table(singles[i % rows])
    for batch in batches.values():
        predictor.predict_table(batch)

    share = seconds / 2
    samples = []
    phase = time.perf_counter()
    while True:
        row = singles[len(samples) % rows]
        t0 = time.perf_counter()
        predictor.predict_table(row)
        samples.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - phase
        if (elapsed >= share and len(samples) >= MIN_LATENCY_SAMPLES) or elapsed >= 10 * share:
            break
    latency = np.array(samples) * 1000.0

    throughput = {}
    for size, batch in batches.items():
        budget = share / len(batches)
        calls, phase = 0, time.perf_counter()
        while True:
            predictor.predict_table(batch)
            calls += 1
            elapsed = time.perf_counter() - phase
            if (elapsed >= budget and calls >= 3) or elapsed >= 10 * budget:
                break
        throughput[size] = size * calls / elapsed

    return {
        "load_time_s": load_time,
        "latency_ms": {"p50": float(np.percentile(latency, 50)),
                       "p95": float(np.percentile(latency, 95)),
                       "p99": float(np.percentile(latency, 99)),
                       "mean": float(latency.mean()), "samples": len(samples)},
        "throughput_rps": throughput,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "libraries": imported_libraries(),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def imported_libraries() -> dict[str, str]:
    """Name and version of every distribution this process imported."""
    owners = metadata.packages_distributions()
    found = {}
    for name in {m.split(".")[0] for m in list(sys.modules)}:
        for dist in owners.get(name, []):
            try:
                found[dist.lower()] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
    return dict(sorted(found.items()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
