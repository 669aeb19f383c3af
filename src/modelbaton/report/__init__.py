"""The handoff report (one standalone HTML file) and the Markdown model card (`baton report`).

    from modelbaton import open_package
    from modelbaton.report import html_report, model_card

    html = html_report(open_package("churn-1.0"))
"""

from __future__ import annotations

from ..checks import Config
from ..package.load import Package
from .content import Content, gather
from .render import render_html, render_model_card


def html_report(package: Package, *, config: Config | None = None) -> str:
    """The report, laid out in the order a receiving engineer reads it."""
    return render_html(gather(package, config=config))


def model_card(package: Package, *, license: str | None = None,
               config: Config | None = None) -> str:
    """A model card whose YAML header follows the Hugging Face model card metadata."""
    return render_model_card(gather(package, config=config), license=license)


__all__ = ["Content", "gather", "html_report", "model_card"]
