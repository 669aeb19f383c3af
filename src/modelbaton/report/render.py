"""Rendering the handoff report (one standalone HTML file) and the Markdown model card."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from markupsafe import Markup, escape

from .. import __version__
from ..checks.rules import meets
from ..contract.manifest import FieldSpec, is_todo
from . import charts
from .content import Content

#: Hugging Face `library_name` for each flavor.
HF_LIBRARY = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm",
              "onnx": "onnx", "torch": "pytorch"}
HF_TASK = {"classification": "tabular-classification", "regression": "tabular-regression"}


def render_html(content: Content) -> str:
    m = content.manifest
    metrics = m.evaluation.metrics if m.evaluation else []
    measured = m.performance.measured if m.performance else None
    chart_svgs = {
        "metrics": Markup(charts.metrics_chart(metrics)),
        "latency": Markup(charts.latency_chart(measured.latency_ms, m.performance.budgets))
        if measured and measured.latency_ms and m.performance else "",
    }
    features = [{**f, "svg": Markup(f["svg"])} for f in content.features]
    template = _environment().get_template("report.html.j2")
    return template.render(c=replace(content, features=features), charts=chart_svgs,
                           version=__version__, text=_text, items=_items, allowed=_allowed,
                           num=_num, meets=meets)


def render_model_card(content: Content, *, license: str | None = None) -> str:
    template = _environment().get_template("model_card.md.j2")
    m = content.manifest
    owners = m.owners

    def who(role: str) -> str:
        person = getattr(owners, role, None) if owners else None
        if person is None:
            return "not named"
        return person.name + (f" ({person.contact})" if person.contact else "")

    return template.render(c=content, m=m, header=_card_header(content, license),
                           license=license or "other", who=who, bullets=_bullets,
                           cell=lambda v: str(v).replace("|", "\\|").replace("\n", " "))


def _card_header(content: Content, license: str | None) -> str:
    """Hugging Face model card metadata, including `model-index` with the evaluation."""
    m = content.manifest
    task = HF_TASK.get(m.interface.task)
    metrics = [x for x in (m.evaluation.metrics if m.evaluation else []) if x.value is not None]
    datasets = [d.name for d in m.data.datasets] if m.data else []
    header: dict[str, Any] = {
        "license": license or "other",
        "library_name": HF_LIBRARY.get(m.model.flavor, m.model.flavor),
        "tags": ["baton", m.model.flavor, *([task] if task else [])],
    }
    if task:
        header["pipeline_tag"] = task
    if datasets:
        header["datasets"] = datasets
    if metrics:
        header["metrics"] = sorted({x.name for x in metrics})
        results = []
        for dataset in dict.fromkeys(x.dataset or "evaluation" for x in metrics):
            results.append({
                "task": {"type": task or "other"},
                "dataset": {"name": dataset, "type": dataset},
                "metrics": [{"type": x.name, "value": x.value, "name": x.name}
                            for x in metrics if (x.dataset or "evaluation") == dataset],
            })
        header["model-index"] = [{"name": m.name, "results": results}]
    return yaml.safe_dump(header, sort_keys=False, allow_unicode=True)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("modelbaton.report", "templates"),
                      autoescape=select_autoescape(["html", "html.j2"]),
                      keep_trailing_newline=True)
    # Jinja's own tojson sorts keys; an example request keeps the interface's order.
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)
    return env


def _text(value: Any) -> Markup:
    """A human field: its text, or a visible gap where nobody wrote it."""
    if _missing(value) or (isinstance(value, str) and not value.strip()):
        return Markup('<span class="empty">not written</span>')
    if is_todo(value):
        return Markup('<span class="empty">{}</span>').format(value)
    return escape(str(value))


def _items(values: Any, ordered: bool = False) -> Markup:
    if not values:
        return Markup('<span class="empty">none written</span>')
    tag = "ol" if ordered else "ul"
    body = Markup("").join(Markup("<li>{}</li>").format(_text(v)) for v in values)
    return Markup(f"<{tag}>") + body + Markup(f"</{tag}>")


def _allowed(field: FieldSpec) -> str:
    if field.categories:
        shown = ", ".join(map(str, field.categories[:12]))
        return shown + (f" (+{len(field.categories) - 12})" if len(field.categories) > 12 else "")
    if field.minimum is not None or field.maximum is not None:
        return f"{_num(field.minimum)} to {_num(field.maximum)}"
    return ""


def _num(value: Any) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _missing(value: Any) -> bool:
    """None, or what a template's `x if section` gives when the section is absent."""
    return value is None or isinstance(value, Undefined)


def _bullets(values: Any) -> str:
    return "\n".join(f"- {v}" for v in values) if values else "- None written."
