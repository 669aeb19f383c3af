"""The checklist as people and CI systems read it: Rich text, JSON, JUnit XML, Markdown."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .rule import RULES, Finding, Severity, group_of
from .runner import CheckResult, RuleResult

_MARK = {"passed": "✓", "failed": "✗", "ignored": "–"}
_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def summary_line(result: CheckResult) -> str:
    failed = sum(1 for r in result.results if r.status == "failed")
    ignored = sum(1 for r in result.results if r.status == "ignored")
    verdict = "ready for handoff" if result.passed else "not ready for handoff"
    return (f"{verdict}: readiness {result.score:g}%, {result.count(Severity.ERROR)} errors, "
            f"{result.count(Severity.WARNING)} warnings, {result.count(Severity.INFO)} notes "
            f"({len(result.active) - failed} of {len(result.active)} rules pass"
            + (f", {ignored} ignored" if ignored else "") + ")")


def print_text(result: CheckResult, console: Console) -> None:
    """Each failed rule with its findings (file:line, field, message), then a summary table."""
    console.print(f"[bold]{result.name}[/] {result.version}   digest {result.digest[:12]}")
    for r in _ordered(result):
        if r.status == "passed":
            continue
        style = _STYLE[r.severity]
        if r.status == "ignored":
            console.print(f"[dim]{_MARK['ignored']} {r.rule.id} {r.rule.name} ignored: "
                          f"{escape(r.reason or '')}[/]")
            continue
        console.print(f"[{style}]{_MARK['failed']} {r.rule.id}[/] [bold]{r.rule.name}[/] "
                      f"[{style}]({r.severity.value})[/]")
        for finding in r.findings:
            # Findings quote the user's text: escaped, so `[x]` is shown, not taken as style.
            where = f"[cyan]{escape(finding.where)}[/]: " if finding.where else ""
            hint = f" [dim](hint: {escape(finding.hint)})[/]" if finding.hint else ""
            console.print(f"    {where}{escape(finding.message)}{hint}")
        console.print(f"    [dim]fix: {escape(r.rule.fix)}[/]")
    table = Table(title=None, box=None, pad_edge=False)
    for column in ("part of the handoff", "rules", "pass", "fail", "ignored"):
        table.add_column(column, justify="left" if column.startswith("part") else "right")
    for group, members in _groups(result):
        failed = sum(1 for r in members if r.status == "failed")
        table.add_row(group, str(len(members)),
                      str(sum(1 for r in members if r.status == "passed")),
                      f"[red]{failed}[/]" if failed else "0",
                      str(sum(1 for r in members if r.status == "ignored")))
    console.print(table)
    colour = "green" if result.passed else "red"
    console.print(f"[bold {colour}]{summary_line(result)}[/]")


def to_text(result: CheckResult) -> str:
    """The text checklist without colours, as a file (a CI artifact) holds it."""
    console = Console(record=True, width=120, file=io.StringIO())
    print_text(result, console)
    return console.export_text()


def to_json(result: CheckResult) -> str:
    return json.dumps(result.to_dict(), indent=2, default=str, ensure_ascii=False) + "\n"


def to_junit(result: CheckResult) -> str:
    """One test case per rule. Failed error and warning rules are failures (the type says
    which); info findings are printed output; ignored rules are skipped, with the reason."""
    suite = ET.Element("testsuite", name=f"baton check {result.name} {result.version}",
                       tests=str(len(result.results)))
    failures = skipped = 0
    for r in result.results:
        case = ET.SubElement(suite, "testcase", classname=f"baton.{result.name}",
                             name=f"{r.rule.id} {r.rule.name}", time=f"{r.seconds:.3f}")
        text = "\n".join(_finding_line(f) for f in r.findings)
        if r.status == "ignored":
            skipped += 1
            ET.SubElement(case, "skipped", message=f"ignored: {r.reason}")
        elif r.status == "failed" and r.severity != Severity.INFO:
            failures += 1
            first = r.findings[0].message
            node = ET.SubElement(case, "failure", type=r.severity.value,
                                 message=f"{r.severity.value}: {first}")
            node.text = f"{text}\nfix: {r.rule.fix}"
        elif r.status == "failed":
            ET.SubElement(case, "system-out").text = text
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")
    suites = ET.Element("testsuites", name="baton check")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def to_markdown(result: CheckResult) -> str:
    lines = [f"### Baton handoff checklist: `{result.name}` {result.version}", "",
             f"**{summary_line(result)}**", "", f"Package digest `{result.digest}`", ""]
    failed = [r for r in _ordered(result) if r.status == "failed"]
    if failed:
        lines += ["| | rule | severity | finding | where |", "|---|---|---|---|---|"]
        for r in failed:
            for f in r.findings:
                lines.append(f"| {_MARK[r.status]} | {r.rule.id} {r.rule.name} | "
                             f"{r.severity.value} | {_cell(f.message)} | {_cell(f.where)} |")
        lines += ["", "How to fix:", ""]
        lines += [f"- **{r.rule.id}** {r.rule.fix}" for r in failed]
        lines.append("")
    ignored = [r for r in result.results if r.status == "ignored"]
    if ignored:
        lines += ["Ignored by configuration:", ""]
        lines += [f"- **{r.rule.id}** {r.rule.name}: {r.reason}" for r in ignored]
        lines.append("")
    passed = [r for r in result.results if r.status == "passed"]
    lines += [f"<details><summary>{len(passed)} rules pass</summary>", ""]
    lines += [f"- ✓ {r.rule.id} {r.rule.name}: {r.rule.summary}" for r in passed]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


FORMATS: dict[str, Callable[[CheckResult], str]] = {
    "text": to_text, "json": to_json, "junit": to_junit, "markdown": to_markdown}


def rules_markdown() -> str:
    """`docs/rules.md`, generated from the rules themselves."""
    lines = ["# Checklist rules", "",
             "Generated by `baton rules --format markdown > docs/rules.md`; a test fails when "
             "this page is stale.", "",
             "`baton check PKG` runs every rule on a package. Errors fail the check (exit "
             "code 1); warnings and notes lower the readiness score, the share of rules "
             "passing weighted by severity (error 3, warning 2, info 1). Select, ignore (with "
             "a reason) or re-grade rules in `[tool.baton]`: see [configuration](ci.md).", "",
             "| id | name | severity | checks |", "|---|---|---|---|"]
    lines += [f"| [{r.id}](#{r.id.lower()}) | {r.name} | {r.severity.value} | {r.summary} |"
              for r in RULES.values()]
    for r in RULES.values():
        lines += ["", f"## {r.id}", "", f"**{r.name}** ({r.severity.value}). {r.summary}", "",
                  f"- Guards against: {r.guards}.", f"- Fix: {r.fix}."]
    return "\n".join(lines) + "\n"


def _groups(result: CheckResult) -> list[tuple[str, list[RuleResult]]]:
    groups: dict[str, list[RuleResult]] = {}
    for r in result.results:
        groups.setdefault(group_of(r.rule.id), []).append(r)
    return list(groups.items())


def _ordered(result: CheckResult) -> list[RuleResult]:
    """Failures first, errors before warnings before notes; then the rest in id order."""
    rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(result.results, key=lambda r: (r.status != "failed", rank[r.severity]
                                                 if r.status == "failed" else 0, r.rule.id))


def _finding_line(finding: Finding) -> str:
    where = f"{finding.where}: " if finding.where else ""
    hint = f" (hint: {finding.hint})" if finding.hint else ""
    return f"{where}{finding.message}{hint}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
