"""The handoff checklist (`baton check`): rules over a package, a readiness score, CI formats.

    from modelbaton import open_package
    from modelbaton.checks import run_checks

    result = run_checks(open_package("churn-1.0"))
    result.passed, result.score
"""

from .config import Config, ConfigError, find_config, load_config
from .rule import RULES, Finding, Rule, Severity
from .runner import CheckResult, RuleResult, run_checks, write_check_receipt

__all__ = ["RULES", "CheckResult", "Config", "ConfigError", "Finding", "Rule", "RuleResult",
           "Severity", "find_config", "load_config", "run_checks", "write_check_receipt"]
