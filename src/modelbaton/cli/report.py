"""`baton report`: the handoff report as one standalone HTML file, or a Markdown model card."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..checks import find_config, load_config
from ..contract.errors import BatonError
from ..contract.files import output_path, write_text
from ._common import open_ref, out, print_json

REPORT_FORMATS = {"html": "report.html", "markdown": "model-card.md"}


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    format: Annotated[str, typer.Option("--format", "-f", help="html (the handoff report) or "
                                                               "markdown (a model card).")]
    = "html",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write it (default NAME-VERSION.report.html or "
                               ".model-card.md here; '-' for stdout).")] = None,
    license: Annotated[str | None, typer.Option(
        help="License id for the model card header (default: other).")] = None,
    config: Annotated[Path | None, typer.Option(
        help="baton.toml or pyproject.toml for the checklist (default: the nearest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print where it was written, as "
                                                         "JSON.")] = False,
) -> None:
    """Write the handoff report a receiving engineer can act on without a meeting."""
    if format not in REPORT_FORMATS:
        raise BatonError(f"unknown format '{format}'", hint="use html or markdown")
    to_stdout = output is not None and str(output) == "-"
    if output is not None and not to_stdout:
        output_path(output)
    from ..report import html_report, model_card  # Jinja2 loads only when a report is made

    package = open_ref(ref)
    settings = load_config(config or find_config(package.root, Path.cwd()))
    text = html_report(package, config=settings) if format == "html" \
        else model_card(package, license=license, config=settings)
    if to_stdout:
        sys.stdout.write(text)
        return
    path = output or Path(f"{package.manifest.name}-{package.manifest.version}."
                          f"{REPORT_FORMATS[format]}")
    write_text(path, text)
    if as_json:
        print_json({"path": str(path), "format": format, "bytes": len(text.encode()),
                    "digest": package.digest})
    else:
        out.print(f"wrote {path} ({format}, {len(text.encode()) // 1024} KB) for "
                  f"{package.manifest.name} {package.manifest.version}")
