"""Golden examples: inputs and the exact outputs the packed model gave for them.

Stored as columnar JSON (`data/golden.json`): Python's float repr round-trips every double
exactly, so no precision is lost, and the file is readable in a code review.
Replaying compares labels exactly and floats within the manifest's rtol/atol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import PackageError
from ..data.table import Table, python_values, to_table


@dataclass
class Golden:
    inputs: Table
    outputs: Table


def write_golden(path: Path, inputs: Table, outputs: Table) -> None:
    data = {"inputs": {k: python_values(v) for k, v in inputs.items()},
            "outputs": {k: python_values(v) for k, v in outputs.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def read_golden(path: Path) -> Golden:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Golden(inputs=to_table(data["inputs"]), outputs=to_table(data["outputs"]))
    except FileNotFoundError:
        raise PackageError(f"golden examples missing: {path}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageError(f"{path} is not a valid golden examples file ({exc})") from None


@dataclass
class Mismatch:
    """Where a replay differs from the golden outputs."""

    column: str
    rows: list[int]
    expected: list[Any]
    got: list[Any]
    max_abs_diff: float | None = None

    def __str__(self) -> str:
        shown = ", ".join(f"row {r}: expected {e!r}, got {g!r}"
                          for r, e, g in zip(self.rows[:3], self.expected, self.got))
        more = f" (+{len(self.rows) - 3} rows)" if len(self.rows) > 3 else ""
        diff = f"; largest difference {self.max_abs_diff:.3g}" if self.max_abs_diff else ""
        return f"{self.column}: {len(self.rows)} rows differ: {shown}{more}{diff}"


@dataclass
class Comparison:
    mismatches: list[Mismatch] = field(default_factory=list)
    rows: int = 0
    columns: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def max_abs_diff(self) -> float:
        return max((m.max_abs_diff or 0.0 for m in self.mismatches), default=0.0)


def compare_outputs(expected: Table, got: Table, *, rtol: float = 1e-6,
                    atol: float = 1e-9) -> Comparison:
    """Labels exactly, floats within tolerance; names every row and column that differs."""
    result = Comparison(rows=len(next(iter(expected.values()), [])), columns=len(expected))
    for column, want in expected.items():
        if column not in got:
            result.mismatches.append(Mismatch(column, [], ["(column)"], ["(missing)"]))
            continue
        have = got[column]
        if len(have) != len(want):
            result.mismatches.append(Mismatch(column, [], [f"{len(want)} rows"],
                                              [f"{len(have)} rows"]))
            continue
        if want.dtype.kind == "f" or (want.dtype.kind in "iu" and have.dtype.kind == "f"):
            try:
                have_f = np.asarray(have, dtype=np.float64)
            except (TypeError, ValueError):
                bad = list(range(len(want)))
                result.mismatches.append(Mismatch(column, bad, python_values(want)[:3],
                                                  [_plain(v) for v in have[:3]]))
                continue
            want_f = want.astype(np.float64)
            close = np.isclose(have_f, want_f, rtol=rtol, atol=atol, equal_nan=True)
            bad = np.flatnonzero(~close).tolist()
            if bad:
                diff = np.abs(have_f[bad] - want_f[bad])
                result.mismatches.append(Mismatch(
                    column, bad, [_plain(want_f[r]) for r in bad[:3]],
                    [_plain(have_f[r]) for r in bad[:3]], float(np.nanmax(diff))
                    if not np.all(np.isnan(diff)) else float("nan")))
        else:
            bad = [i for i, (w, h) in enumerate(zip(want, have)) if _plain(w) != _plain(h)]
            if bad:
                result.mismatches.append(Mismatch(column, bad, [_plain(want[r]) for r in bad[:3]],
                                                  [_plain(have[r]) for r in bad[:3]]))
    return result


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
