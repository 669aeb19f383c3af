"""Charts as inline SVG: the report stays one file that fetches nothing.

Each function returns the markup of one `<svg>` element sized in CSS pixels, with a
`<title>` for screen readers, drawing with the report's CSS classes (no inline colours
except through those classes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from ..checks.rules import meets
from ..contract.manifest import Budgets, LatencyMs, Metric

_FONT = 'font-size="11"'


def metrics_chart(metrics: Sequence[Metric]) -> str:
    """One horizontal bar per metric, a tick at its threshold; red when it misses it."""
    shown = [m for m in metrics if m.value is not None]
    if not shown:
        return ""
    top = max(max(abs(m.value or 0), abs(m.threshold or 0)) for m in shown)
    scale_max = 1.0 if top <= 1 else _nice(top)
    width, label_w, bar_w, row_h = 640, 150, 300, 26
    height = row_h * len(shown) + 24
    parts = [_open(width, height, "Metrics against their acceptance thresholds")]
    for i, m in enumerate(shown):
        y = 8 + i * row_h
        value = m.value or 0.0
        ok = meets(m) is not False
        w = max(1.0, bar_w * min(abs(value) / scale_max, 1.0))
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {_FONT}>'
                     f"{escape(m.name)}</text>")
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" '
                     'class="track"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16" '
                     f'class="{"good" if ok else "bad"}"/>')
        if m.threshold is not None:
            tx = label_w + bar_w * min(abs(m.threshold) / scale_max, 1.0)
            parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y}" y2="{y + 22}" '
                         'class="limit"/>')
        label = f"{value:.4g}" + (f" (threshold {m.threshold:.4g})" if m.threshold is not None
                                  else "")
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 14}" {_FONT}>'
                     f"{escape(label)}</text>")
    parts.append(_axis(label_w, bar_w, height - 12, scale_max))
    parts.append("</svg>")
    return "".join(parts)


def latency_chart(latency: LatencyMs, budgets: Budgets | None) -> str:
    """Latency percentiles as bars, with the budget for each percentile as a tick."""
    rows = [(name, getattr(latency, name), getattr(budgets, f"latency_{name}_ms", None)
             if budgets else None) for name in ("p50", "p95", "p99")]
    if latency.mean is not None:
        rows.insert(0, ("mean", latency.mean, None))
    top = max(max(v, b or 0) for _, v, b in rows)
    scale_max = _nice(top) if top > 0 else 1.0
    width, label_w, bar_w, row_h = 560, 60, 380, 24
    height = row_h * len(rows) + 26
    parts = [_open(width, height, "Single-row latency percentiles against the budgets")]
    for i, (name, value, budget) in enumerate(rows):
        y = 8 + i * row_h
        ok = budget is None or value <= budget
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" {_FONT}>'
                     f"{name}</text>")
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{bar_w}" height="15" '
                     'class="track"/>')
        w = max(1.0, bar_w * value / scale_max)
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="15" '
                     f'class="{"good" if ok else "bad"}"/>')
        if budget is not None:
            bx = label_w + bar_w * min(budget / scale_max, 1.0)
            parts.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{y}" y2="{y + 20}" '
                         'class="limit"/>')
        label = f"{value:.3g} ms" + (f" (budget {budget:g})" if budget is not None else "")
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 13}" {_FONT}>'
                     f"{escape(label)}</text>")
    parts.append(_axis(label_w, bar_w, height - 12, scale_max, unit=" ms"))
    parts.append("</svg>")
    return "".join(parts)


def histogram(name: str, edges: Sequence[float], counts: Sequence[float]) -> str:
    """A numerical feature's distribution from its reference profile's quantile bins."""
    width, height, pad = 220, 90, 4
    low, high = edges[0], edges[-1]
    span = (high - low) or 1.0
    # Quantile bins have unequal widths: the bar height is the density, not the count. A
    # bin of zero width is a value many rows share (a binary feature): then heights are
    # counts, since a density would be infinite.
    widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
    point_masses = any(w <= 0 for w in widths)
    densities = list(counts) if point_masses else [c / w for c, w in zip(counts, widths)]
    peak = max(densities) or 1.0
    plot_h = height - 24
    parts = [_open(width, height, f"Distribution of {name} in the training data")]
    for i, d in enumerate(densities):
        x0 = pad + (width - 2 * pad) * (edges[i] - low) / span
        x1 = pad + (width - 2 * pad) * (edges[i + 1] - low) / span
        h = plot_h * d / peak
        bar = max(x1 - x0, 4.0 if point_masses else 0.8)
        x0 = min(x0, width - pad - bar)
        parts.append(f'<rect x="{x0:.1f}" y="{plot_h - h + 2:.1f}" width="{bar:.1f}" '
                     f'height="{h:.1f}" class="bar"/>')
    parts.append(f'<text x="{pad}" y="{height - 6}" {_FONT}>{_fmt(low)}</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 6}" text-anchor="end" {_FONT}>'
                 f"{_fmt(high)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def frequencies(name: str, counts: dict[str, float], limit: int = 8) -> str:
    """A categorical feature's most frequent values, as horizontal bars."""
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    total = sum(counts.values()) or 1.0
    width, row_h = 220, 14
    height = row_h * len(top) + 6
    peak = max(v for _, v in top) or 1.0
    parts = [_open(width, height, f"Most frequent values of {name} in the training data")]
    for i, (value, count) in enumerate(top):
        y = 2 + i * row_h
        parts.append(f'<text x="78" y="{y + 10}" text-anchor="end" font-size="10">'
                     f"{escape(_clip(str(value)))}</text>")
        parts.append(f'<rect x="82" y="{y + 2}" width="{max(1.0, 100 * count / peak):.1f}" '
                     f'height="10" class="bar"/>')
        parts.append(f'<text x="{86 + 100 * count / peak:.1f}" y="{y + 10}" font-size="10">'
                     f"{100 * count / total:.0f}%</text>")
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>')


def _axis(x: float, w: float, y: float, scale_max: float, unit: str = "") -> str:
    ticks = []
    for k in range(5):
        value = scale_max * k / 4
        tx = x + w * k / 4
        ticks.append(f'<text x="{tx:.1f}" y="{y + 10}" text-anchor="middle" font-size="9" '
                     f'class="muted">{_fmt(value)}{unit if k == 4 else ""}</text>')
    return f'<line x1="{x}" x2="{x + w}" y1="{y}" y2="{y}" class="axis"/>' + "".join(ticks)


def _nice(value: float) -> float:
    """A round number at or above `value` for an axis end."""
    exponent = 10 ** math.floor(math.log10(value))
    return next(step * exponent for step in (1, 2, 2.5, 5, 10) if step * exponent >= value)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _clip(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
