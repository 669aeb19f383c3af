"""`baton diff A B`: what changed between two packages; exit code 3 on breaking changes."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..contract.errors import BatonError
from ..package.diff import Change, PackageDiff, diff_packages
from ._common import open_ref, out, print_json

#: Exit code when the interface changed in a way that breaks callers.
BREAKING_EXIT = 3
SECTIONS = ("interface", "model", "hyperparameters", "dependencies", "data", "metrics",
            "performance", "human sections")


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


def diff(
    a: Annotated[str, typer.Argument(help="The package you have (folder, .baton file or "
                                          "reference).")],
    b: Annotated[str, typer.Argument(help="The package you compare it with.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text, json or "
                                                               "markdown.")] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Semantic diff: interface (breaking or compatible), model, dependencies, data,
    metrics and performance with deltas, human sections. Exit code 3 on a breaking
    interface change."""
    format = "json" if as_json else format
    if format not in ("text", "json", "markdown"):
        raise BatonError(f"unknown format '{format}'", hint="use text, json or markdown")
    result = diff_packages(open_ref(a), open_ref(b))
    if format == "json":
        print_json(result.to_dict())
    elif format == "markdown":
        sys.stdout.write(to_markdown(result))
    else:
        print_text(result, out)
    if result.breaking:
        raise typer.Exit(BREAKING_EXIT)


def print_text(result: PackageDiff, console: Console) -> None:
    console.print(f"[bold]{_title(result)}[/]")
    if not result.changes:
        console.print("no differences")
        return
    for section in SECTIONS:
        changes = result.section(section)
        if not changes:
            continue
        console.print(f"\n[bold]{section}[/] ({len(changes)})")
        for change in changes:
            mark = "[red]BREAKING[/] " if change.breaking else ""
            console.print(f"  {mark}{escape(_line(change))}", highlight=False)
    verdict = (f"[red]{len(result.breaking)} breaking interface change(s)[/]"
               if result.breaking else "[green]no breaking interface change[/]")
    console.print(f"\n{len(result.changes)} changes; {verdict}")


def to_markdown(result: PackageDiff) -> str:
    lines = [f"### {_title(result)}", ""]
    if result.breaking:
        lines += [f"**{len(result.breaking)} breaking interface change(s)**", ""]
    elif result.changes:
        lines += ["No breaking interface change.", ""]
    else:
        lines += ["No differences.", ""]
    for section in SECTIONS:
        changes = result.section(section)
        if changes:
            lines += [f"#### {section}", "", "| | what | change | old | new | delta |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {'💥' if c.breaking else ''} | `{c.path}` | {c.kind}"
                      f"{' — ' + c.note if c.note else ''} | {_cell(c.old)} | {_cell(c.new)} | "
                      f"{_signed(c.delta)} |" for c in changes]
            lines.append("")
    return "\n".join(lines)


def _title(result: PackageDiff) -> str:
    a, b = result.a, result.b
    return f"{a['name']} {a['version']} → {b['name']} {b['version']}"


def _line(change: Change) -> str:
    delta = f" ({_signed(change.delta)}{', ' + change.note if change.note else ''})" \
        if change.delta is not None else (f" ({change.note})" if change.note else "")
    if change.kind == "added":
        return f"{change.path}: added {_show(change.new)}{delta}"
    if change.kind == "removed":
        return f"{change.path}: removed (was {_show(change.old)}){delta}"
    return f"{change.path}: {change.kind} {_show(change.old)} → {_show(change.new)}{delta}"


def _show(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _cell(value: Any) -> str:
    return "" if value is None else _show(value).replace("|", "\\|").replace("\n", " ")


def _signed(delta: float | None) -> str:
    return "" if delta is None else f"{delta:+.4g}"
