"""`baton check` (the handoff checklist) and `baton rules` (what it checks)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..checks import RULES, find_config, load_config, run_checks, write_check_receipt
from ..checks.config import known_rule
from ..checks.formats import FORMATS, print_text, rules_markdown
from ..contract.errors import BatonError
from ..contract.files import output_path, write_text
from ..package.archive import is_archive
from ._common import err, is_registry_ref, keep_receipt, open_ref, out, print_json

CHECK_FORMATS = tuple(FORMATS)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("rules")(rules)


def check(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text, json, junit or "
                                                               "markdown.")] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the --format output to this file and print the text "
                               "checklist (for CI artifacts).")] = None,
    config: Annotated[Path | None, typer.Option(
        help="baton.toml or pyproject.toml to use instead of the nearest one.")] = None,
    receipt: Annotated[bool | None, typer.Option(
        "--receipt/--no-receipt", help="Record a check receipt in the package (default: when "
                                       "the package is a folder you can write to).")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Allow loading a "
                                                                      "pickled model to replay "
                                                                      "golden examples.")] = False,
) -> None:
    """The handoff checklist: what the package still lacks, with a readiness score.

    Exit code 0 when no error-level rule fails, 1 when one does, 2 when the package or the
    configuration cannot be used.
    """
    format = "json" if as_json else format
    if format not in CHECK_FORMATS:
        raise BatonError(f"unknown format '{format}'", hint=f"use {', '.join(CHECK_FORMATS)}")
    if output is not None:
        output_path(output)
    package = open_ref(ref)
    settings = load_config(config or find_config(package.root, Path.cwd()))
    registered = is_registry_ref(ref)  # its receipt goes to the registry
    folder = registered or (not is_archive(Path(ref)) and Path(ref).exists())
    if receipt and not folder:
        raise BatonError(f"{ref}: a receipt can only be added to a package folder",
                         hint="check the unpacked folder, or drop --receipt")
    result = run_checks(package, config=settings, allow_pickle=allow_pickle)
    recorded = None
    if receipt or (receipt is None and folder and os.access(package.root, os.W_OK)):
        recorded = write_check_receipt(result)
        keep_receipt(ref, recorded)

    if output is not None:
        write_text(output, FORMATS[format](result))
    if format == "text" or output is not None:
        print_text(result, out)
        if settings.source:
            out.print(f"[dim]configuration: {escape(str(settings.source))}[/]")
        if recorded:
            out.print(f"[dim]receipt: {recorded.relative_to(package.root)}[/]")
    else:
        sys.stdout.write(FORMATS[format](result))
        if recorded:
            err.print(f"receipt: {recorded}", highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def rules(
    rule_id: Annotated[str | None, typer.Argument(
        help="One rule id, or a prefix such as BTN6.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text, json or markdown (the "
                                                               "docs page).")] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """List the checklist rules: id, severity, what each checks and guards against."""
    format = "json" if as_json else format
    if format not in ("text", "json", "markdown"):
        raise BatonError(f"unknown format '{format}'", hint="use text, json or markdown")
    chosen = list(RULES.values())
    if rule_id is not None:
        rule_id = rule_id.upper()
        known_rule(rule_id, "baton rules", "the rule argument")
        chosen = [r for r in chosen if r.id.startswith(rule_id)]
    if format == "markdown":
        sys.stdout.write(rules_markdown())
    elif format == "json":
        print_json([{"id": r.id, "name": r.name, "severity": r.severity.value,
                     "summary": r.summary, "guards": r.guards, "fix": r.fix} for r in chosen])
    else:
        for r in chosen:
            out.print(f"[bold]{r.id}[/] {r.name} ({r.severity.value}): {r.summary}")
            if len(chosen) == 1:
                out.print(f"  guards against: {r.guards}\n  fix: {r.fix}")

