"""The drift report as one standalone HTML file: inline CSS, charts as inline SVG.

No script and no network fetch, so it opens anywhere and can be attached to a ticket.
Each feature's chart shows the share of rows per bin (numerical: the reference's decile
bins; categorical: categories), reference in grey and current in colour.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..contract.files import write_text
from .drift import DRIFT, OK, WARNING, DriftReport, FeatureDrift

_COLOURS = {OK: "#2e7d32", WARNING: "#b26a00", DRIFT: "#c62828"}
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;
max-width:1100px;color:#1a1a1a;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.muted{color:#666}.alert{background:#fdecea;border-left:4px solid #c62828;padding:.6rem 1rem}
.ok{background:#edf7ed;border-left:4px solid #2e7d32;padding:.6rem 1rem}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e5e5e5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{font-weight:600}.cards{display:grid;grid-template-columns:repeat(auto-fill,
minmax(340px,1fr));gap:1rem}.card{border:1px solid #e5e5e5;border-radius:6px;padding:.6rem}
.card h3{font-size:.95rem;margin:.1rem 0 .3rem}.legend span{display:inline-block;width:10px;
height:10px;margin:0 .3rem 0 .8rem}
"""


def render_html(report: DriftReport) -> str:
    """The report as a standalone HTML page."""
    package = report.package
    title = f"Drift report: {package.get('name', '')} {package.get('version', '')}"
    window = report.source.get("window")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>package digest {_e(package.get('digest', '')[:16])} &middot; "
        f"current data {_e(report.source.get('path', ''))} ({report.rows:,} rows"
        + (f", {_e(window['start'])} to {_e(window['end'])}" if window else "")
        + f") &middot; {_e(report.created_at)}</p>",
    ]
    if report.alerts:
        parts.append("<div class='alert'><strong>Alert</strong><ul>"
                     + "".join(f"<li>{_e(a)}</li>" for a in report.alerts) + "</ul></div>")
    else:
        share = "" if report.drift_share is None else \
            f": {report.drift_share:.0%} of the inputs drifted"
        parts.append(f"<div class='ok'><strong>No alert</strong>{_e(share)}</div>")
    if report.retraining:
        parts.append("<h2>Retraining is due</h2><ul>"
                     + "".join(f"<li>{_e(t)}</li>" for t in report.retraining)
                     + f"</ul><p>Procedure: {_e(report.procedure or '')}</p>")
    if report.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in report.notes)
                     + "</ul>")
    for heading, rows in (("Inputs", report.features), ("Model outputs", report.outputs)):
        if not rows:
            continue
        parts.append(f"<h2>{heading}</h2>{_table(rows)}")
        parts.append("<div class='cards'>" + "".join(_card(f) for f in rows) + "</div>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(report: DriftReport, path: str | Path) -> Path:
    return write_text(path, render_html(report), option="--html")


def _table(rows: list[FeatureDrift]) -> str:
    head = ("feature", "status", "rows", "PSI", "KS / JS", "p-value", "Wasserstein / std",
            "missing ref → cur", "outside / unseen", "why")
    body = []
    for f in rows:
        effect = f.ks_statistic if f.kind == "numerical" else f.js_distance
        pvalue = f.ks_pvalue if f.kind == "numerical" else f.chi2_pvalue
        colour = _COLOURS.get(f.status, "#555")
        body.append(
            "<tr>" + f"<td>{_e(f.name)}</td>"
            f"<td class='status' style='color:{colour}'>{_e(f.status)}</td>"
            f"<td class='num'>{f.rows:,}</td><td class='num'>{_num(f.psi)}</td>"
            f"<td class='num'>{_num(effect)}</td><td class='num'>{_num(pvalue, 'g')}</td>"
            f"<td class='num'>{_num(f.wasserstein)}</td>"
            f"<td class='num'>{_pct(f.missing_reference)} → {_pct(f.missing_current)}</td>"
            f"<td class='num'>{_pct(f.out_of_range)}</td>"
            f"<td>{_e('; '.join(f.reasons))}</td></tr>")
    return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(body) + "</tbody></table>")


def _card(f: FeatureDrift) -> str:
    bins = f.to_dict()["bins"]
    return (f"<div class='card'><h3>{_e(f.name)} <span style='color:"
            f"{_COLOURS.get(f.status, '#555')}'>{_e(f.status)}</span></h3>"
            f"{_chart(bins, _COLOURS.get(f.status, '#1565c0'))}"
            "<div class='legend muted'><span style='background:#9e9e9e'></span>reference"
            f"<span style='background:{_COLOURS.get(f.status, '#1565c0')}'></span>current</div>"
            "</div>")


def _chart(bins: dict[str, Any] | None, colour: str, width: int = 330,
           height: int = 130) -> str:
    """Grouped bars of reference and current shares per bin, as inline SVG."""
    if not bins:
        return "<p class='muted'>no distribution</p>"
    reference = bins["reference"]
    current = bins.get("current") or [0] * len(reference)
    if "edges" in bins:  # bin i is (edges[i], edges[i + 1]], the outer ones open
        edges = bins["edges"]
        labels = [f"≤{_short(e)}" for e in edges[1:-1]] + \
            ([f">{_short(edges[-2])}"] if len(edges) > 2 else ["all"])
    else:
        labels = [str(c) for c in bins["categories"]]
    labels, reference, current = labels[:24], reference[:24], current[:24]
    ref_total, cur_total = max(sum(reference), 1), max(sum(current), 1)
    shares = [(r / ref_total, c / cur_total) for r, c in zip(reference, current)]
    top = max([max(pair) for pair in shares] + [1e-9])
    plot_h = height - 28
    step = (width - 10) / max(len(shares), 1)
    bar = max(step / 2 - 1, 1)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img'>"]
    for i, ((r, c), label) in enumerate(zip(shares, labels)):
        x = 5 + i * step
        for j, (value, fill) in enumerate(((r, "#9e9e9e"), (c, colour))):
            h = value / top * plot_h
            parts.append(f"<rect x='{x + j * bar:.1f}' y='{plot_h - h + 4:.1f}' "
                         f"width='{bar:.1f}' height='{h:.1f}' fill='{fill}'>"
                         f"<title>{_e(label)}: {value:.1%}</title></rect>")
        if len(shares) <= 12:
            parts.append(f"<text x='{x + step / 2:.1f}' y='{height - 10}' font-size='9' "
                         f"text-anchor='middle' fill='#555'>{_e(label[:9])}</text>")
    parts.append(f"<line x1='4' y1='{plot_h + 4}' x2='{width - 4}' y2='{plot_h + 4}' "
                 "stroke='#bbb'/></svg>")
    return "".join(parts)


def _short(value: float) -> str:
    """An axis label that fits under a bar: 0.0123, 12.3, 1.17k, 2.5M."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "" if value is None else format(value, ".2g" if fmt == "g" else fmt)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
