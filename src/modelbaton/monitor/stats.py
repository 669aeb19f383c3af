"""Drift statistics between a reference profile and a current one on the same grid.

Every statistic is computed from profiles (counts on the reference's bins and sketch),
never from raw rows, so a window of any size costs the same to compare:

- PSI: ``sum((q - p) * ln(q / p))`` over the bins, where `p`/`q` are the reference/current
  shares and an empty bin's share is raised to `EPSILON` (1e-4) so the log stays finite.
- KS: the statistic is the largest gap between the two CDFs at (and just before) every
  sketch value; the true statistic is at most `error` above it (see `data.profile`) and
  equal to it when the reference sketch is exact. The p-value is Smirnov's asymptotic one,
  as scipy's `ks_2samp` computes it when a sample has more than 10,000 rows.
- Wasserstein-1: the area between the CDFs, exact beyond the reference's range and
  interpolated linearly between sketch points inside it.
- Chi-squared (no continuity correction) and Jensen-Shannon distance (base 2, in [0, 1])
  over the categories of both profiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..contract.errors import MissingExtraError
from ..data.profile import CategoricalProfile, NumericalProfile

EPSILON = 1e-4
OTHER = "(other)"


def psi(reference: np.ndarray, current: np.ndarray, *, epsilon: float = EPSILON) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = np.maximum(np.asarray(reference, np.float64) / max(np.sum(reference), 1), epsilon)
    q = np.maximum(np.asarray(current, np.float64) / max(np.sum(current), 1), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass(frozen=True)
class KS:
    statistic: float
    pvalue: float
    error: float  # the true statistic lies in [statistic, statistic + error]


def ks_test(reference: NumericalProfile, current: NumericalProfile) -> KS:
    """Two-sample Kolmogorov-Smirnov test from two profiles on the same sketch."""
    ref_at, ref_before = reference.cdf()
    cur_at, cur_before = current.cdf()
    gaps = np.concatenate([np.abs(ref_at - cur_at), np.abs(ref_before - cur_before)])
    statistic = float(gaps.max()) if len(gaps) else 0.0
    inside = np.minimum(reference.between / max(reference.count, 1),
                        current.between / max(current.count, 1))
    return KS(statistic, ks_pvalue(statistic, reference.count, current.count),
              float(inside.max()) if len(inside) else 0.0)


def ks_pvalue(statistic: float, n1: int, n2: int) -> float:
    """Smirnov's asymptotic two-sided p-value (scipy `ks_2samp(method='asymp')`)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    kstwo = _scipy_stats().kstwo
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0.0, 1.0))


def wasserstein(reference: NumericalProfile, current: NumericalProfile) -> float:
    """Wasserstein-1 distance (in the feature's units) between two profiles on one sketch."""
    if reference.count == 0 or current.count == 0:
        return 0.0
    ref_at, ref_before = reference.cdf()
    cur_at, cur_before = current.cdf()
    gap_at, gap_before = ref_at - cur_at, ref_before - cur_before
    start, end = gap_at[:-1], gap_before[1:]  # the gap across each interval between points
    widths = np.diff(reference.values)
    same_sign = start * end >= 0
    total = np.abs(start) + np.abs(end)
    crossing = np.divide(start ** 2 + end ** 2, 2 * total, out=np.zeros_like(total),
                         where=total > 0)
    area = np.where(same_sign, total / 2, crossing) * widths
    # Beyond the ends the reference has no mass: the area is the distance of those values.
    tails = abs(reference.below / reference.count - current.below / current.count) + \
        abs(reference.above / reference.count - current.above / current.count)
    return float(area.sum() + tails)


def category_counts(reference: CategoricalProfile,
                    current: CategoricalProfile) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Both profiles' counts over the union of their categories (and `OTHER`)."""
    keys = list(reference.frequencies)
    keys += [k for k in current.frequencies if k not in reference.frequencies]
    ref = [reference.frequencies.get(k, 0) for k in keys]
    cur = [current.frequencies.get(k, 0) for k in keys]
    if reference.other or current.other:
        keys.append(OTHER)
        ref.append(reference.other)
        cur.append(current.other)
    return keys, np.asarray(ref, np.int64), np.asarray(cur, np.int64)


@dataclass(frozen=True)
class ChiSquared:
    statistic: float
    pvalue: float
    dof: int


def chi_squared(reference: np.ndarray, current: np.ndarray) -> ChiSquared:
    """Pearson's chi-squared test of homogeneity on a 2 x K table (no Yates correction)."""
    table = np.vstack([reference, current]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return ChiSquared(0.0, 1.0, 0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return ChiSquared(statistic, float(_scipy_stats().chi2.sf(statistic, dof)), dof)


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones."""
    p = np.asarray(reference, np.float64)
    q = np.asarray(current, np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def _scipy_stats():  # scipy is the monitor extra's; imported only when a p-value is needed
    try:
        from scipy import stats
    except ImportError:
        raise MissingExtraError("scipy", "monitor") from None
    return stats
