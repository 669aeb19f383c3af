"""Who may do what, and what must hold before a version enters a stage.

The policy is YAML kept in the registry (`baton registry policy`); `DEFAULT_POLICY` holds
until an admin sets another. Roles are fixed (viewer < scientist < engineer < admin); the
policy says which roles approve and promote into each stage, how many distinct approvals
it takes (never counting the person who pushed the version: four eyes), and which proofs
(receipts bound to the exact package digest) must pass.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..contract.errors import ManifestError
from ..contract.io import load_yaml_mapping
from .errors import ForbiddenError, RegistryError

Role = Literal["viewer", "scientist", "engineer", "admin"]
ROLES: tuple[str, ...] = ("viewer", "scientist", "engineer", "admin")
WRITERS = ("scientist", "engineer", "admin")
Gate = Literal["check", "verify", "compare"]
RESPONSIBILITIES = ("training", "deployment", "monitoring", "replacement_decision")

#: What each role may do besides what the policy decides per stage.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read": ROLES,
    "push": WRITERS,
    "annotate": WRITERS,  # tags, aliases, comments, receipts
    "review": WRITERS,  # further limited per stage by `approvers`
    "transfer": WRITERS,  # further limited to the owners involved
    "admin": ("admin",),  # policy, users, tokens, gc
}

DEFAULT_POLICY = """\
# Who may move a model version into each stage of the registry, and what must hold first.
#   approvals: how many distinct people must approve; the person who pushed the version
#              never counts (four eyes), and an outstanding rejection blocks the promotion
#   approvers: the roles whose approvals count; promoters: the roles that may promote
#   gates:     check   - a passing `baton check` receipt (no error-level findings)
#              verify  - a passing `baton verify` receipt
#              compare - a passing `baton compare` receipt against the production version
#                        (only when the model has one)
#              each for exactly this version's package digest
# A stage left out of the policy keeps the rule below.
stages:
  staging:
    approvals: 2
    approvers: [scientist, engineer, admin]
    promoters: [scientist, engineer, admin]
    gates: [check, verify]
  production:
    approvals: 2
    approvers: [engineer, admin]
    promoters: [engineer, admin]
    gates: [check, verify, compare]
  archived:
    approvals: 0
    promoters: [engineer, admin]
# Who may roll production back to the previous production version.
rollback: [scientist, engineer, admin]
# The role of someone who opens the registry files directly (not through
# `baton registry serve`) and has no role set with `baton registry user`.
local_role: admin
"""


class StageRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approvals: int = Field(0, ge=0, description="Distinct approvals needed, pusher excluded.")
    approvers: list[Role] = Field(default_factory=lambda: list(WRITERS))
    promoters: list[Role] = Field(default_factory=lambda: ["engineer", "admin"])
    gates: list[Gate] = Field(default_factory=list)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stages: dict[Literal["staging", "production", "archived"], StageRule]
    rollback: list[Role] = Field(default_factory=lambda: list(WRITERS))
    local_role: Role = "admin"

    def rule(self, stage: str) -> StageRule:
        """The stage's rule; a stage the policy leaves out keeps the default rule (safe by
        default: leaving out production never opens it)."""
        found = self.stages.get(stage)  # type: ignore[call-overload]
        if found is None:
            found = default_policy().stages[stage]  # type: ignore[index]
        return found


@functools.lru_cache(maxsize=1)
def default_policy() -> Policy:
    return parse_policy(DEFAULT_POLICY)


def parse_policy(text: str, source: str = "policy.yaml") -> Policy:
    data = load_yaml_mapping(text, source)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "(top level)"
        raise ManifestError(f"`{field}`: {error['msg']}", where=source,
                            hint="start from `baton registry policy --default`") from None


def policy_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def require(role: str, action: str, *, actor: str, what: str | None = None,
            allowed: Iterable[str] | None = None) -> None:
    """Raise ForbiddenError unless `role` may do `action`."""
    roles = tuple(allowed) if allowed is not None else PERMISSIONS[action]
    if role not in roles:
        raise ForbiddenError(f"{actor} ({role}) may not {what or action}",
                             hint=f"this needs the role {' or '.join(roles)}")


def missing_for(policy: Policy, stage: str, *, pusher: str,
                reviews: Iterable[Mapping[str, Any]],
                receipts: Iterable[Mapping[str, Any]], digest: str,
                production_digest: str | None) -> list[str]:
    """Everything the policy still requires before a version enters `stage`; [] if none."""
    rule = policy.rule(stage)
    missing: list[str] = []
    latest: dict[str, Mapping[str, Any]] = {}
    for review in reviews:  # oldest first: a person's last word counts
        if review["stage"] == stage and not review.get("void"):
            latest[review["actor"]] = review
    rejections = [r for r in latest.values() if r["decision"] == "reject"]
    for r in rejections:
        missing.append(f"rejected by {r['actor']}: {r.get('comment') or 'no reason given'} "
                       "(they must approve it, or push a new version)")
    approvers = sorted(a for a, r in latest.items() if r["decision"] == "approve"
                       and a != pusher and r["role"] in rule.approvers)
    if len(approvers) < rule.approvals:
        need = rule.approvals - len(approvers)
        have = f" (have {', '.join(approvers)})" if approvers else ""
        missing.append(f"{need} more approval{'s' if need > 1 else ''} by "
                       f"{'/'.join(rule.approvers)} other than the pusher {pusher}{have}")
    by_kind: dict[str, Mapping[str, Any]] = {}
    for receipt in sorted(receipts, key=lambda r: str(r.get("created_at", ""))):
        if receipt.get("package_digest") == digest:
            by_kind[receipt["kind"]] = receipt
    for gate in rule.gates:
        receipt = by_kind.get(gate)
        if gate == "compare":
            if production_digest is None or production_digest == digest:
                continue
            champion = receipt.get("champion_digest") if receipt else None
            if receipt is None or (champion is not None and champion != production_digest):
                missing.append(f"a passing compare receipt against the production version "
                               f"(digest {production_digest[:12]}), from `baton compare`")
            elif not receipt.get("passed"):
                missing.append("the latest compare receipt did not pass")
        elif receipt is None:
            missing.append(f"a passing {gate} receipt for digest {digest[:12]}, from "
                           f"`baton {gate}`")
        elif not receipt.get("passed"):
            missing.append(f"the latest {gate} receipt for digest {digest[:12]} did not pass")
    return missing


def check_role(value: str) -> str:
    if value not in ROLES:
        raise RegistryError(f"unknown role '{value}'", hint=f"roles: {', '.join(ROLES)}")
    return value
