"""`baton bench`: load time, latency, throughput and memory, against the declared budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table as RichTable

from ..bench.profile import (
    DEFAULT_SECONDS,
    QUICK_SECONDS,
    budget_check,
    deltas,
    load_other,
    measure,
    record,
)
from ..contract.errors import BatonError, PackageError
from ..package.amend import amend
from ._common import err, human_size, is_registry_ref, open_ref, out, print_json


#: An hour of measurement is far past what any percentile needs; more is a typo.
MAX_SECONDS = 3600.0


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    ref: Annotated[str, typer.Argument(help="Package folder or .baton file.")],
    quick: Annotated[bool, typer.Option("--quick", help=f"Measure for {QUICK_SECONDS:g} s "
                                        f"instead of {DEFAULT_SECONDS:g} s.")] = False,
    duration: Annotated[Optional[float], typer.Option(
        help="Seconds of measurement after loading and warm-up (half latency, half "
             "throughput).")] = None,
    compare: Annotated[Optional[str], typer.Option(
        help="Another package, or a bench receipt (.json), to show deltas against.")] = None,
    no_write: Annotated[bool, typer.Option(
        "--no-write", help="Only print; leave the manifest and receipts as they are.")]
    = False,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure the package in a fresh process and record it in `performance.measured`.

    Exit code 1 when a budget of `performance.budgets` is exceeded."""
    if not no_write and is_registry_ref(ref):
        raise PackageError(f"{ref} is a registered version, which never changes",
                           hint="bench the package folder before pushing it, or pass --no-write")
    if duration is not None and not 0 < duration <= MAX_SECONDS:
        raise BatonError(f"--duration {duration:g} must be more than 0 and at most "
                         f"{MAX_SECONDS:g} seconds", hint=f"e.g. --duration {DEFAULT_SECONDS:g}")
    package = open_ref(ref)
    seconds = duration if duration is not None else (QUICK_SECONDS if quick else DEFAULT_SECONDS)
    other = load_other(compare) if compare is not None else None
    console = err if as_json else out
    with console.status(f"measuring {package.manifest.name} {package.manifest.version} "
                        f"for {seconds:g} s after loading and warm-up ..."):
        measured = measure(package, seconds=seconds, allow_pickle=allow_pickle)
    violations = budget_check(measured, package.manifest)
    compared = {"ref": compare, "deltas": deltas(measured, other)} if other else None
    digest, receipt = package.digest, None
    if not no_write:
        try:
            digest, receipt = amend(Path(ref), package,
                                    lambda root: record(root, measured, violations, compared))
        except PermissionError as exc:
            raise PackageError(f"{exc}: the measurement cannot be recorded",
                               hint="pass --no-write to only print it") from None
    if as_json:
        print_json({"package_digest": digest, "measured": measured,
                    "budget_violations": violations, "compared_with": compared,
                    "receipt_path": str(receipt) if receipt else None})
    else:
        _show(measured, package.manifest.name, package.manifest.version)
        if compared:
            _show_deltas(compared)
        for line in violations:
            out.print(f"[bold red]over budget:[/] {line}")
        if not violations and package.manifest.performance and \
                package.manifest.performance.budgets:
            out.print("[green]within every budget[/] of performance.budgets")
        if receipt:
            out.print(f"recorded in performance.measured (new digest {digest[:12]}) and "
                      f"{receipt}")
    raise typer.Exit(1 if violations else 0)


def _show(measured: dict[str, Any], name: str, version: str) -> None:
    latency = measured["latency_ms"]
    machine = measured["machine"]
    table = RichTable(title=f"{name} {version}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("load time", f"{measured['load_time_s']:.3f} s")
    table.add_row(f"latency p50 / p95 / p99 (1 row, {latency['samples']} calls)",
                  f"{latency['p50']:.2f} / {latency['p95']:.2f} / {latency['p99']:.2f} ms")
    for size, rps in measured["throughput_rps"].items():
        table.add_row(f"throughput, batch {size}", f"{rps:,.0f} rows/s")
    table.add_row("peak RSS", f"{measured['peak_rss_mb']:.0f} MB")
    table.add_row("artifact / package", f"{human_size(measured['artifact_bytes'])} / "
                  f"{human_size(measured['package_bytes'])}")
    out.print(table)
    out.print(f"on {machine.get('cpu')} ({machine.get('cores')} cores), "
              f"{machine.get('python')}, load average {machine.get('load_average', ['?'])[0]}")


def _show_deltas(compared: dict[str, Any]) -> None:
    table = RichTable(title=f"against {compared['ref']}")
    for column in ("measure", "this", "other", "change"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for row in compared["deltas"]:
        change = row["change_pct"]
        table.add_row(row["metric"], f"{row['this']:,.3f}",
                      "" if row["other"] is None else f"{row['other']:,.3f}",
                      "" if change is None else f"{change:+.1f}%")
    out.print(table)
