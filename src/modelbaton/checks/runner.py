"""Running the checklist on a package: results per rule, the readiness score, the receipt."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..contract.errors import BatonError
from ..package.load import Package
from ..package.receipts import write_receipt
from . import rules as _rules  # noqa: F401  (registers every rule)
from .config import Config
from .context import Context
from .rule import RULES, Finding, Rule, Severity

Status = Literal["passed", "failed", "ignored"]


@dataclass
class RuleResult:
    rule: Rule
    severity: Severity  # after configuration
    status: Status
    findings: list[Finding] = field(default_factory=list)
    reason: str | None = None  # why it is ignored
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.rule.id, "name": self.rule.name, "severity": self.severity.value,
            "status": self.status, "summary": self.rule.summary,
            "findings": [f.to_dict() for f in self.findings],
            "seconds": round(self.seconds, 4)}
        if self.status == "failed":
            data["fix"] = self.rule.fix
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class CheckResult:
    """The checklist of one package."""

    name: str
    version: str
    digest: str
    root: Path
    results: list[RuleResult]
    config: Config

    @property
    def active(self) -> list[RuleResult]:
        return [r for r in self.results if r.status != "ignored"]

    @property
    def score(self) -> float:
        """Readiness: the share of rules passing, weighted by severity, in percent."""
        total = sum(r.severity.weight for r in self.active)
        passed = sum(r.severity.weight for r in self.active if r.status == "passed")
        return round(100 * passed / total, 1) if total else 100.0

    def count(self, severity: Severity) -> int:
        """Findings of failed rules of this severity."""
        return sum(len(r.findings) for r in self.results
                   if r.status == "failed" and r.severity == severity)

    @property
    def passed(self) -> bool:
        """No error-level rule fails."""
        return not any(r.status == "failed" and r.severity == Severity.ERROR
                       for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": {"name": self.name, "version": self.version, "digest": self.digest,
                        "path": str(self.root)},
            "passed": self.passed, "score": self.score,
            "errors": self.count(Severity.ERROR), "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
            "rules": [r.to_dict() for r in self.results],
            "config": self.config.to_dict(),
        }


def run_checks(package: Package, *, config: Config | None = None,
               allow_pickle: bool = False) -> CheckResult:
    """Run every selected rule on an opened (and so digest-verified) package.

    Rules run in order, except that a `concurrent` one (the golden replay) runs in a thread
    while the rules after it run: on a large model it is the slowest by far.
    """
    config = config or Config()
    context = Context(package, allow_pickle=allow_pickle)
    results: list[RuleResult | Future[RuleResult]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="baton-check") as pool:
        for rule in RULES.values():
            if not config.selects(rule):
                continue
            severity = config.severity_of(rule)
            reason = config.ignored(rule)
            if reason is not None:
                results.append(RuleResult(rule, severity, "ignored", reason=reason))
            elif rule.concurrent:
                results.append(pool.submit(_run, rule, severity, context))
            else:
                results.append(_run(rule, severity, context))
        done = [r.result() if isinstance(r, Future) else r for r in results]
    m = package.manifest
    return CheckResult(m.name, m.version, package.digest, package.root, done, config)


def _run(rule: Rule, severity: Severity, context: Context) -> RuleResult:
    started = time.perf_counter()
    try:
        findings = list(rule.check(context))
    except BatonError as exc:  # the package stops the rule from finishing: that is a finding
        findings = [Finding(exc.message, file=exc.where, hint=exc.hint)]
    return RuleResult(rule, severity, "failed" if findings else "passed", findings,
                      seconds=time.perf_counter() - started)


def write_check_receipt(result: CheckResult) -> Path:
    """Record the result in the package's receipts/, bound to its digest."""
    details = {
        "score": result.score, "errors": result.count(Severity.ERROR),
        "warnings": result.count(Severity.WARNING),
        "findings": [{"rule": r.rule.id, "severity": r.severity.value, **f.to_dict()}
                     for r in result.results if r.status == "failed" for f in r.findings],
        "ignored": {r.rule.id: r.reason for r in result.results if r.status == "ignored"},
        "rules": [r.to_dict() for r in result.results],
    }
    return write_receipt(result.root, "check", digest=result.digest, passed=result.passed,
                         details=details)
