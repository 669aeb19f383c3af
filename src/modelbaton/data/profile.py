"""Profiles: what a dataset looks like, as statistics only, never its rows.

`modelbaton.pack` stores the profile of the training data in the package
(`data/reference.json`) and `baton drift` compares production data with it. Profiles of
the same features on the same grid (the reference's bins) merge exactly, so windows of
production data are profiled batch by batch and combined.

The JSON shape (``"version": 1``):

    {"version": 1, "rows": 1000, "info": {"source": "training_data", ...},
     "features": {name: column, ...},            # the interface inputs
     "outputs": {name: column, ...} | null}       # the model's own outputs on that data

A numerical column::

    {"kind": "numerical", "count": 990, "missing": 10, "invalid": 0,
     "min": 0.1, "max": 9.8, "mean": 5.0, "std": 2.9,
     "edges": [0.1, c1, ..., c9, 9.8], "counts": [n1, ..., n10],
     "sketch": {"values": [...], "at": [...], "between": [...], "below": 0.0, "above": 0.0}}

`edges` are the reference's minimum, its decile cut points (actual values, duplicates
removed) and its maximum, and `counts[i]` the number of values in
``(edges[i], edges[i+1]]`` (the first bin also holds the minimum), so
``len(edges) == len(counts) + 1`` as with `numpy.histogram`. These are the bins of the PSI;
for current data profiled on a reference's grid the outer bins are open: the first also
counts values below the reference's minimum, the last values above its maximum. A bin of
zero width holds a value repeated across a decile (a binary feature's 0s, for example).

The `sketch` is the reference's cumulative distribution at up to 501 of its own values
(every distinct value when there are no more, otherwise evenly spaced ranks including the
minimum, the maximum and the cut points): `at[k]` counts values equal to `values[k]`,
`between[k]` values strictly between `values[k-1]` and `values[k]` (`between[0]` below the
first, `between[-1]` above the last), `below`/`above` the summed distance of values beyond
the ends. The cumulative distribution function is therefore known exactly just before and
at every sketch value, and a Kolmogorov-Smirnov statistic computed on the sketch differs
from the one on the raw data by at most ``max_k min(between_ref[k]/n_ref,
between_cur[k]/n_cur)``: zero when the reference has at most 501 distinct values, and at
most about 1/500 otherwise. `monitor.stats` reports that bound with every statistic.

A categorical column (strings, booleans, integers with declared categories)::

    {"kind": "categorical", "count": 990, "missing": 10, "invalid": 0,
     "frequencies": {"basic": 500, "pro": 490}, "other": 0}

`frequencies` holds the 100 most frequent values (as text: ``true``/``false``, ``3``,
``basic``) and `other` the count of all the rest.

`missing` counts nulls; `invalid` counts values of the wrong type (a word in a number
column), which are left out of every statistic. Datetime inputs are not profiled.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Union

import numpy as np

from ..contract.errors import DataError, PackageError
from ..contract.manifest import FieldSpec
from .schema import check_table
from .table import Table, read_table, to_table

PROFILE_VERSION = 1
REFERENCE_PATH = "data/reference.json"
SKETCH_POINTS = 500
PSI_BINS = 10
TOP_CATEGORIES = 100
#: At most this many rows of the training data are scored for the prediction profile.
PREDICTION_ROWS = 50_000
_PREDICT_CHUNK = 10_000

Kind = Literal["numerical", "categorical"]


def column_kind(spec: FieldSpec) -> Kind | None:
    """How a field is profiled: numbers as distributions, everything discrete as counts."""
    if spec.type in ("string", "boolean") or spec.categories is not None:
        return "categorical"
    if spec.type in ("integer", "number"):
        return "numerical"
    return None  # datetimes: time always moves on, so its drift says nothing


def category_key(value: Any) -> str:
    """The text a category is counted under: ``true``, ``3``, ``2.5``, ``basic``."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


@dataclass
class Invalid:
    """Values of the wrong type in a column: how many, and the first one (row, value)."""

    count: int = 0
    row: int | None = None
    value: Any = None
    origin: str | None = None  # the file, when known

    def absorb(self, other: Invalid, offset: int = 0) -> None:
        if other.count and self.row is None:
            self.row = None if other.row is None else other.row + offset
            self.value = other.value
        self.count += other.count


# --- numerical columns -------------------------------------------------------------------


@dataclass
class NumericalProfile:
    """A numerical column's distribution on a grid of sketch values (see the module doc)."""

    kind: ClassVar[str] = "numerical"
    count: int
    missing: int
    invalid: int
    minimum: float | None
    maximum: float | None
    mean: float
    m2: float  # sum of squared deviations from the mean: merges exactly (Chan et al.)
    cuts: np.ndarray  # the PSI bins' inner boundaries: the reference's deciles
    values: np.ndarray
    at: np.ndarray
    between: np.ndarray
    below: float = 0.0
    above: float = 0.0

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else 0.0

    @property
    def exact(self) -> bool:
        """True when every value sits on the sketch, so its statistics are exact."""
        return not self.between.any()

    def cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """The share of values <= each sketch value, and < each sketch value."""
        n = max(self.count, 1)
        at_or_below = np.cumsum(self.between[:-1] + self.at)
        return at_or_below / n, (at_or_below - self.at) / n

    @property
    def edges(self) -> np.ndarray:
        """Histogram edges: the grid's minimum, the cuts, its maximum (see the module doc)."""
        if len(self.values) == 0:
            return np.zeros(0)
        return np.concatenate([self.values[:1], self.cuts, self.values[-1:]])

    @property
    def counts(self) -> np.ndarray:
        """Counts in the PSI bins: (-inf, c1], (c1, c2], ..., (c_last, +inf)."""
        if len(self.values) == 0:
            return np.array([self.count], dtype=np.int64)
        at_or_below = np.cumsum(self.between[:-1] + self.at)
        cum = at_or_below[np.searchsorted(self.values, self.cuts)]
        return np.diff(np.concatenate([[0], cum, [self.count]])).astype(np.int64)

    def same_grid(self, other: NumericalProfile) -> bool:
        return np.array_equal(self.values, other.values) and np.array_equal(self.cuts,
                                                                           other.cuts)

    def merge(self, other: NumericalProfile) -> NumericalProfile:
        if not self.same_grid(other):
            raise DataError("cannot merge numerical profiles binned on different grids",
                            hint="profile every window against the same reference (grid=)")
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count if count else 0.0
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count \
            if count else 0.0
        return NumericalProfile(
            count=count, missing=self.missing + other.missing,
            invalid=self.invalid + other.invalid,
            minimum=_extreme(min, self.minimum, other.minimum),
            maximum=_extreme(max, self.maximum, other.maximum), mean=mean, m2=m2,
            cuts=self.cuts, values=self.values, at=self.at + other.at,
            between=self.between + other.between, below=self.below + other.below,
            above=self.above + other.above)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "count": self.count, "missing": self.missing,
            "invalid": self.invalid, "min": _plain(self.minimum), "max": _plain(self.maximum),
            "mean": _plain(self.mean), "std": _plain(self.std),
            "edges": [_plain(v) for v in self.edges], "counts": self.counts.tolist(),
            "sketch": {"values": [_plain(v) for v in self.values], "at": self.at.tolist(),
                       "between": self.between.tolist(), "below": self.below,
                       "above": self.above},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericalProfile:
        sketch = data["sketch"]
        count = int(data["count"])
        values = np.asarray(sketch["values"], dtype=np.float64)
        at = np.asarray(sketch["at"], dtype=np.int64)
        between = np.asarray(sketch["between"], dtype=np.int64)
        if len(at) != len(values) or len(between) != len(values) + 1 or \
                int(at.sum() + between.sum()) != count:
            raise ValueError("sketch arrays do not fit together")
        return cls(count=count, missing=int(data["missing"]),
                   invalid=int(data.get("invalid", 0)),
                   minimum=_float_or_none(data.get("min")),
                   maximum=_float_or_none(data.get("max")), mean=float(data["mean"]),
                   m2=float(data["std"]) ** 2 * count,
                   cuts=np.asarray(data["edges"][1:-1], dtype=np.float64), values=values, at=at,
                   between=between, below=float(sketch.get("below", 0.0)),
                   above=float(sketch.get("above", 0.0)))


def numerical_profile(values: np.ndarray, grid: NumericalProfile | None = None, *,
                      invalid: int = 0) -> NumericalProfile:
    """Profile float values (NaN = missing) on `grid`'s sketch, or on a grid of their own."""
    x = np.sort(values)  # NaN sorts last; sorting then locating the grid beats binning
    count = int(np.argmax(np.isnan(x))) if len(x) and np.isnan(x[-1]) else len(x)
    x = x[:count]
    if grid is None:
        cuts, sketch = _grid(x)
    else:
        cuts, sketch = grid.cuts, grid.values
    left = np.searchsorted(x, sketch, side="left")
    right = np.searchsorted(x, sketch, side="right")
    if len(sketch):
        between = np.concatenate([[left[0]], left[1:] - right[:-1], [count - right[-1]]])
        below = float(np.sum(sketch[0] - x[:left[0]]))
        above = float(np.sum(x[right[-1]:] - sketch[-1]))
    else:
        between, below, above = np.array([count]), 0.0, 0.0
    mean, m2 = _moments(x)
    return NumericalProfile(
        count=count, missing=len(values) - count, invalid=invalid,
        minimum=float(x[0]) if count else None, maximum=float(x[-1]) if count else None,
        mean=mean, m2=m2, cuts=cuts, values=sketch, at=(right - left).astype(np.int64),
        between=between.astype(np.int64), below=below, above=above)


def _grid(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decile cuts and sketch points of sorted values: actual values (inverted CDF)."""
    n = len(x)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    quantiles = np.arange(1, PSI_BINS) / PSI_BINS
    cuts = np.unique(x[np.ceil(quantiles * n).astype(np.int64) - 1])
    distinct = np.unique(x)
    if len(distinct) <= SKETCH_POINTS + 1:
        return cuts, distinct
    ranks = np.round(np.linspace(0, n - 1, SKETCH_POINTS + 1)).astype(np.int64)
    return cuts, np.unique(np.concatenate([x[ranks], cuts]))


def _moments(x: np.ndarray) -> tuple[float, float]:
    if len(x) == 0:
        return 0.0, 0.0
    mean = float(x.mean())
    centred = x - mean
    # Not np.dot: a BLAS call wakes a pool of threads, which costs more than it saves here.
    return mean, float(np.sum(centred * centred))


# --- categorical columns -----------------------------------------------------------------


@dataclass
class CategoricalProfile:
    """A discrete column: counts of its most frequent values, the rest in `other`."""

    kind: ClassVar[str] = "categorical"
    count: int
    missing: int
    invalid: int
    frequencies: dict[str, int]
    other: int = 0

    def merge(self, other: CategoricalProfile, *, keep: Iterable[str] = ()) -> \
            CategoricalProfile:
        counts = Counter(self.frequencies)
        counts.update(other.frequencies)
        merged = categorical_profile(counts, missing=self.missing + other.missing,
                                     invalid=self.invalid + other.invalid, keep=keep)
        folded = self.other + other.other
        merged.other += folded
        merged.count += folded
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "missing": self.missing,
                "invalid": self.invalid, "frequencies": dict(self.frequencies),
                "other": self.other}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalProfile:
        frequencies = {str(k): int(v) for k, v in dict(data["frequencies"]).items()}
        other = int(data.get("other", 0))
        count = int(data["count"])
        if sum(frequencies.values()) + other != count:
            raise ValueError("frequencies and other do not add up to count")
        return cls(count=count, missing=int(data["missing"]),
                   invalid=int(data.get("invalid", 0)), frequencies=frequencies, other=other)


def categorical_profile(counts: Mapping[str, int], *, missing: int = 0, invalid: int = 0,
                        keep: Iterable[str] = ()) -> CategoricalProfile:
    """The top categories by count (ties by name) plus `other`; `keep` are never folded."""
    kept = set(keep)
    frequencies: dict[str, int] = {}
    other = top = 0
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n <= 0:
            continue
        if key in kept:
            frequencies[key] = int(n)
        elif top < TOP_CATEGORIES:
            frequencies[key] = int(n)
            top += 1
        else:
            other += int(n)
    return CategoricalProfile(count=sum(frequencies.values()) + other, missing=missing,
                              invalid=invalid, frequencies=frequencies, other=other)


ColumnProfile = Union[NumericalProfile, CategoricalProfile]


def column_from_dict(data: Mapping[str, Any]) -> ColumnProfile:
    kind = data.get("kind")
    if kind == "numerical":
        return NumericalProfile.from_dict(data)
    if kind == "categorical":
        return CategoricalProfile.from_dict(data)
    raise ValueError(f"unknown column kind {kind!r}")


# --- whole profiles ----------------------------------------------------------------------


@dataclass
class Profile:
    """Every monitored column of a dataset, and of the model's outputs on it."""

    features: dict[str, ColumnProfile]
    outputs: dict[str, ColumnProfile] | None = None
    rows: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: Profile, *, reference: Profile | None = None) -> Profile:
        """Both datasets together, exactly: windows profiled on the same reference's grid.

        Categories of `reference` are always kept by name; of the others, the most
        frequent `TOP_CATEGORIES` are, and the rest is counted in `other`.
        """
        keep = reference or self
        return Profile(
            features=merge_columns(self.features, other.features, keep.features),
            outputs=merge_columns(self.outputs or {}, other.outputs or {}, keep.outputs or {})
            if self.outputs is not None or other.outputs is not None else None,
            rows=self.rows + other.rows, info={**other.info, **self.info})

    def to_dict(self) -> dict[str, Any]:
        return {"version": PROFILE_VERSION, "rows": self.rows, "info": self.info,
                "features": {k: v.to_dict() for k, v in self.features.items()},
                "outputs": None if self.outputs is None
                else {k: v.to_dict() for k, v in self.outputs.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        if data.get("version") != PROFILE_VERSION:
            raise ValueError(f"profile version {data.get('version')!r} is not "
                             f"{PROFILE_VERSION}")
        outputs = data.get("outputs")
        return cls(features={str(k): column_from_dict(v) for k, v in data["features"].items()},
                   outputs=None if outputs is None
                   else {str(k): column_from_dict(v) for k, v in outputs.items()},
                   rows=int(data.get("rows", 0)), info=dict(data.get("info") or {}))


def merge_columns(a: Mapping[str, ColumnProfile], b: Mapping[str, ColumnProfile],
                  reference: Mapping[str, ColumnProfile]) -> dict[str, ColumnProfile]:
    """Column profiles of two datasets merged by name (see `Profile.merge`)."""
    merged: dict[str, ColumnProfile] = {}
    for name in {**a, **b}:
        left, right = a.get(name), b.get(name)
        if left is None or right is None:
            merged[name] = left if right is None else right  # type: ignore[assignment]
        elif isinstance(left, NumericalProfile) and isinstance(right, NumericalProfile):
            merged[name] = left.merge(right)
        elif isinstance(left, CategoricalProfile) and isinstance(right, CategoricalProfile):
            known = reference.get(name)
            merged[name] = left.merge(right, keep=known.frequencies if isinstance(
                known, CategoricalProfile) else ())
        else:
            raise DataError(f"column '{name}' is numerical in one profile and categorical in "
                            "the other")
    return merged


def read_profile(path: str | Path) -> Profile:
    path = Path(path)
    try:
        return Profile.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise PackageError(f"reference profile missing: {path}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PackageError(f"{path} is not a valid profile ({exc})",
                           hint="re-pack the model to rebuild it") from None


def write_profile(profile: Profile, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(profile.to_dict(), separators=(",", ":"), allow_nan=False)
                   + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --- from columns ------------------------------------------------------------------------


def profile_column(column: Any, spec: FieldSpec, grid: ColumnProfile | None = None,
                   kind: Kind | None = None) -> tuple[ColumnProfile, Invalid]:
    """Profile one column (numpy or pyarrow) of field `spec`, on the reference's grid."""
    kind = kind or column_kind(spec)
    if kind == "numerical":
        values, invalid = as_numbers(column)
        numeric_grid = grid if isinstance(grid, NumericalProfile) else None
        return numerical_profile(values, numeric_grid, invalid=invalid.count), invalid
    counts, missing, invalid = as_categories(column, spec)
    keep = grid.frequencies if isinstance(grid, CategoricalProfile) else ()
    return categorical_profile(counts, missing=missing, invalid=invalid.count,
                               keep=keep), invalid


def profile_columns(columns: Mapping[str, Any], fields: Iterable[FieldSpec], *,
                    grid: Mapping[str, ColumnProfile] | None = None,
                    ) -> tuple[dict[str, ColumnProfile], dict[str, Invalid]]:
    """Profile the fields present in `columns`; absent ones are left out."""
    profiles: dict[str, ColumnProfile] = {}
    invalid: dict[str, Invalid] = {}
    for spec in fields:
        if spec.name not in columns:
            continue
        reference = grid.get(spec.name) if grid is not None else None
        kind = reference.kind if reference is not None else column_kind(spec)
        if kind is None:
            continue
        profiles[spec.name], invalid[spec.name] = profile_column(
            columns[spec.name], spec, reference, kind)  # type: ignore[arg-type]
    return profiles, invalid


def as_numbers(column: Any) -> tuple[np.ndarray, Invalid]:
    """Float64 values with NaN for missing; values that are not numbers are counted apart."""
    if _is_arrow(column):
        return _arrow_numbers(column)
    column = np.asarray(column)
    kind = column.dtype.kind
    if kind in "iu":
        return column.astype(np.float64), Invalid()
    if kind == "f":
        values = column.astype(np.float64, copy=True)
        bad = np.isinf(values)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            invalid = Invalid(int(bad.sum()), first, float(values[first]))
            values[bad] = np.nan
            return values, invalid
        return values, Invalid()
    return _object_numbers(column.astype(object) if kind != "O" else column)


def _object_numbers(column: np.ndarray) -> tuple[np.ndarray, Invalid]:
    out = np.full(len(column), np.nan)
    invalid = Invalid()
    for i, value in enumerate(column):
        if value is None or (isinstance(value, float) and value != value):
            continue
        number = _number(value)
        if number is None:
            invalid.absorb(Invalid(1, i, value))
        else:
            out[i] = number
    return out, invalid


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_categories(column: Any, spec: FieldSpec) -> tuple[dict[str, int], int, Invalid]:
    """Counts by category key, the missing count, and values of the wrong type."""
    if _is_arrow(column):
        return _arrow_categories(column, spec)
    counts: Counter[str] = Counter()
    missing = 0
    invalid = Invalid()
    for i, value in enumerate(np.asarray(column, dtype=object).tolist()):
        if value is None or (isinstance(value, float) and value != value):
            missing += 1
            continue
        key = _category(value, spec.type)
        if key is None:
            invalid.absorb(Invalid(1, i, value))
        else:
            counts[key] += 1
    return dict(counts), missing, invalid


def _category(value: Any, type_: str) -> str | None:
    """The key of a value for a field of `type_`, or None when it has the wrong type."""
    if type_ == "string":
        return value if isinstance(value, str) else None
    if type_ == "boolean":
        if isinstance(value, (bool, np.bool_)):
            return category_key(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower()
        return None
    number = _number(value)
    return None if number is None else category_key(number)


# --- pyarrow columns (the streaming path: CSV and Parquet read in batches) ---------------


def _is_arrow(column: Any) -> bool:
    return type(column).__module__.split(".")[0] == "pyarrow"


def _arrow_numbers(column: Any) -> tuple[np.ndarray, Invalid]:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = arrow_to_numpy(column.cast(pa.float64()), np.float64, np.nan)
        return as_numbers(values) if np.isinf(values).any() else (values, Invalid())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            cast = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _object_numbers(np.asarray(column.to_pylist(), dtype=object))
        return as_numbers(arrow_to_numpy(cast, np.float64, np.nan))
    return _object_numbers(np.asarray(column.to_pylist(), dtype=object))


def arrow_to_numpy(column: Any, dtype: Any, null: Any) -> np.ndarray:
    """A fixed-width pyarrow array as a numpy view, nulls replaced by `null`.

    Reads the buffers directly: pyarrow's own `to_numpy` imports pandas, which costs a
    monitoring process a second and 60 MB for nothing.
    """
    if hasattr(column, "combine_chunks"):
        column = column.combine_chunks()
    validity, data = column.buffers()[:2]
    n, offset = len(column), column.offset
    if not n:
        return np.zeros(0, dtype=dtype)
    if dtype is bool:  # booleans are packed 8 to a byte
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        values = bits[offset:offset + n].astype(bool)
    else:
        values = np.frombuffer(data, dtype=dtype, count=offset + n)[offset:]
    if column.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        values = np.where(bits[offset:offset + n].astype(bool), values, null)
    return values


def _arrow_categories(column: Any, spec: FieldSpec) -> tuple[dict[str, int], int, Invalid]:
    import pyarrow as pa

    missing = column.null_count
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if spec.type == "string":
        fits = text
    elif spec.type == "boolean":
        fits = text or pa.types.is_boolean(kind)
    else:
        fits = not pa.types.is_boolean(kind)
    if not fits:
        values = column.to_pylist()
        first = next((i for i, v in enumerate(values) if v is not None), None)
        return {}, missing, Invalid(len(values) - missing, first,
                                    None if first is None else values[first])
    counts: Counter[str] = Counter()
    invalid = Invalid()
    for entry in column.value_counts().to_pylist():
        value, n = entry["values"], entry["counts"]
        if value is None:
            continue
        key = _category(value, spec.type)
        if key is None:
            invalid.absorb(Invalid(n, None, value))
        else:
            counts[key] += n
    return dict(counts), missing, invalid


# --- the reference profile of a package (pack time) --------------------------------------


def write_reference(stage: Path, training_data: Any, *, sample: Table,
                    inputs: list[FieldSpec], outputs: list[FieldSpec],
                    predict: Callable[[Table], Table]) -> str:
    """Profile the training data (else the sample) and the model's outputs on it.

    Returns the profile's path inside the package, for `manifest.data.reference`.
    Predictions are made on at most `PREDICTION_ROWS` rows drawn at random (seed 0); the
    sampling error of their distribution is recorded as the 95% DKW bound on its CDF.
    """
    table, source = _reference_table(training_data, sample)
    columns = {spec.name: table[spec.name] for spec in inputs if spec.name in table}
    absent = [spec.name for spec in inputs if spec.name not in columns]
    if absent:
        raise DataError(f"the training data has no column '{absent[0]}', an input of the "
                        "model", hint="pass training data with the model's input columns, "
                        "so the reference profile describes what the model sees")
    features, _ = profile_columns(columns, inputs)
    rows = len(next(iter(columns.values()))) if columns else 0
    info: dict[str, Any] = {"source": source}
    outputs_profile = None
    try:
        scored, index = _score(columns, inputs, rows, predict)
        outputs_profile, _ = profile_columns(scored, outputs)
        info["predictions"] = {"rows": len(index), "of": rows, "seed": 0,
                               "dkw_95": round(math.sqrt(math.log(2 / 0.05) / (2 * len(index))),
                                               6)}
    except Exception as exc:  # noqa: BLE001 - the profile is still useful without outputs
        info["predictions"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    profile = Profile(features=features, outputs=outputs_profile, rows=rows, info=info)
    write_profile(profile, stage / REFERENCE_PATH)
    return REFERENCE_PATH


def _reference_table(training_data: Any, sample: Table) -> tuple[Any, str]:
    if training_data is None:
        return sample, "sample_input"
    if isinstance(training_data, Mapping) and not any(
            isinstance(v, (list, tuple, np.ndarray)) for v in training_data.values()):
        named = dict(training_data)  # {dataset name: data}: "training" first
        training_data = named.get("training", next(iter(named.values())))
    if isinstance(training_data, (str, Path)):
        return _read_columns(Path(training_data)), "training_data"
    return to_table(training_data), "training_data"


def _read_columns(path: Path) -> Any:
    """A data file as columns: pyarrow arrays when pyarrow is installed (fast), else numpy."""
    if path.suffix.lower() not in (".csv", ".parquet", ".pq") or not path.is_file():
        return read_table(path)
    try:
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq
    except ImportError:
        return read_table(path)
    try:
        arrow = pq.read_table(path) if path.suffix.lower() != ".csv" else pcsv.read_csv(path)
    except Exception:  # noqa: BLE001 - the plain reader names the row that is wrong
        return read_table(path)
    return {name: arrow.column(name).combine_chunks() for name in arrow.column_names}


def _score(columns: Mapping[str, Any], inputs: list[FieldSpec], rows: int,
           predict: Callable[[Table], Table]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    index = np.arange(rows)
    if rows > PREDICTION_ROWS:
        index = np.sort(np.random.default_rng(0).choice(rows, PREDICTION_ROWS, replace=False))
    chunks: list[Table] = []
    for start in range(0, len(index), _PREDICT_CHUNK):
        part = index[start:start + _PREDICT_CHUNK]
        raw = to_table({name: _take(col, part) for name, col in columns.items()})
        table, problems = check_table(raw, inputs)
        wrong = [p for p in problems if p.kind in ("type", "missing")]
        if wrong:
            raise DataError(f"training data {wrong[0]}")
        chunks.append(predict(table))
    return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}, index


def _take(column: Any, index: np.ndarray) -> Any:
    if _is_arrow(column):
        return column.take(index).to_pylist()
    return np.asarray(column)[index]


# --- helpers -----------------------------------------------------------------------------


def _extreme(pick: Callable[..., Any], a: float | None, b: float | None) -> float | None:
    present = [v for v in (a, b) if v is not None]
    return pick(present) if present else None


def _plain(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


__all__ = [
    "CategoricalProfile", "ColumnProfile", "Invalid", "NumericalProfile", "Profile",
    "REFERENCE_PATH", "arrow_to_numpy", "as_categories", "as_numbers", "categorical_profile",
    "category_key", "column_kind", "merge_columns", "numerical_profile", "profile_column",
    "profile_columns", "read_profile", "write_profile", "write_reference",
]
