"""The registry commands: push, pull, ls, show, promote, approve, reject, rollback, tag,
alias, comment, transfer, audit, stats, and `baton registry` (serve, gc, tokens, users,
policy, attach). They talk to `$BATON_REGISTRY` (embedded by default, PostgreSQL, or an
HTTP registry with `$BATON_TOKEN`) through one interface."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..contract.errors import BatonError
from ._common import err, human_size, out, print_json

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    for command in (push, pull, ls, show, promote, approve, reject, rollback, tag, alias,
                    comment, stats):
        app.command(command.__name__)(command)
    app.add_typer(transfer_app, name="transfer")
    app.add_typer(audit_app, name="audit")
    app.add_typer(registry_app, name="registry")


def _registry() -> Any:
    from ..registry import connect

    return connect()


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        out.print(text)


# --- versions ----------------------------------------------------------------------------


def push(
    path: Annotated[Path, typer.Argument(help="Package folder or .baton file.")],
    message: Annotated[Optional[str], typer.Option("--message", "-m",
                                                   help="What changed in this version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a package as the next version of its model (stage: candidate)."""
    version = _registry().push(path, description=message)
    already = "" if version["created"] else " (already registered: nothing new pushed)"
    _emit(version, as_json, f"pushed [bold]{version['ref']}[/] ({version['label']}, digest "
                            f"{version['digest'][:12]}, {human_size(version['bytes'])}){already}")


def pull(
    ref: Annotated[str, typer.Argument(help="name:3, name@production, name@latest ...")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Copy the package "
                                                    "into this new folder.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a version's package (every file's digest verified) into the local cache."""
    path = _registry().pull(ref, out_dir)
    _emit({"ref": ref, "path": str(path)}, as_json, f"{ref} -> {path}")


def ls(
    name: Annotated[Optional[str], typer.Argument(help="A model: list its versions.")] = None,
    stage: Annotated[Optional[str], typer.Option(help="Only versions in this stage.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the registered models, or the versions of one model (newest first)."""
    registry = _registry()
    if name is None:
        models = registry.models()
        if as_json:
            return print_json(models)
        table = Table("model", "versions", "latest", "production")
        for m in models:
            table.add_row(m["name"], str(m["versions"]), str(m["latest"]),
                          str(m["production"] or "-"))
        out.print(table if models else "no models registered yet (`baton push PKG`)")
        return
    versions = registry.versions(name, stage=stage)
    if as_json:
        return print_json(versions)
    table = Table("version", "label", "stage", "pushed by", "pushed at", "digest", "tags")
    for v in versions:
        marks = v["tags"] + [f"@{a}" for a in v["aliases"]]
        stage_text = v["stage"] + (", rolled back" if v["rolled_back_at"] else "")
        table.add_row(str(v["number"]), v["label"], stage_text, escape(v["pushed_by"]),
                      v["pushed_at"][:16].replace("T", " "), v["digest"][:8], " ".join(marks))
    out.print(table)


def show(
    ref: Annotated[str, typer.Argument(help="A version (name:3, name@production) or a "
                                            "model name.")],
    as_json: JsonOpt = False,
) -> None:
    """A version: stage, approvals, receipts, history and what its next stage still needs.
    Given a bare model name: its versions by stage, owners and pending transfers."""
    from ..registry.refs import looks_like_ref

    registry = _registry()
    if not looks_like_ref(ref):
        model = registry.model(ref)
        if as_json:
            return print_json(model)
        return _print_model(model)
    version = registry.show(ref)
    if as_json:
        return print_json(version)
    _print_version(version)


def _print_model(m: dict[str, Any]) -> None:
    production = f"{m['name']}:{m['production']}" if m["production"] else "-"
    out.print(f"[bold]{m['name']}[/]  latest {m['name']}:{m['latest']}  production "
              f"{production}")
    out.print("stages: " + ", ".join(f"{s} {n}" for s, n in m["stages"].items()))
    if m["aliases"]:
        out.print("aliases: " + ", ".join(f"@{a} -> {n}" for a, n in m["aliases"].items()))
    out.print("owners:")
    for responsibility, holders in m["owners"].items():
        names = ", ".join(escape(h["user"]) + (f" (until {h['until'][:10]})" if h["until"]
                                               else "") for h in holders)
        out.print(f"  {responsibility}: {names or '-'}")
    for offer in m["transfers"]:
        shadow = f", {offer['shadow_days']} days shadow" if offer["shadow_days"] else ""
        out.print(f"  pending: {offer['responsibility']} offered by {escape(offer['from'])} "
                  f"to {escape(offer['to'])}{shadow}")


def _print_version(v: dict[str, Any]) -> None:
    rolled = f"  [red]rolled back {v['rolled_back_at'][:19]}[/]" if v["rolled_back_at"] else ""
    out.print(f"[bold]{v['ref']}[/] ({v['label']})  stage [bold]{v['stage']}[/]{rolled}")
    out.print(f"digest {v['digest']}  {human_size(v['bytes'])}, {len(v['files'])} files")
    out.print(f"pushed by {escape(v['pushed_by'])} at {v['pushed_at'][:19]}")
    if v["description"]:
        out.print(escape(v["description"]))
    if v["tags"] or v["aliases"]:
        out.print("tags: " + " ".join(v["tags"] + [f"@{a}" for a in v["aliases"]]))
    for r in v["receipts"]:
        mark = "[green]passed[/]" if r["passed"] else "[red]failed[/]"
        out.print(f"receipt {r['kind']}: {mark} ({escape(str(r['body'].get('created_by')))}, "
                  f"{str(r['body'].get('created_at'))[:19]})")
    for r in v["reviews"]:
        void = " [dim](void: rolled back)[/]" if r["void"] else ""
        why = f": {escape(r['comment'])}" if r["comment"] else ""
        verb = "approved" if r["decision"] == "approve" else "rejected"
        out.print(f"{verb} for {r['stage']} by {escape(r['actor'])} ({r['role']}){why}{void}")
    for c in v["comments"]:
        out.print(f"comment by {escape(c['actor'])}: {escape(c['text'])}")
    for h in v["history"]:
        why = f" ({escape(h['reason'])})" if h["reason"] else ""
        out.print(f"{h['at'][:19]} {h['from']} -> {h['to']} by {escape(h['actor'])} "
                  f"\\[{h['kind']}]{why}")
    pending = v["next"]
    if pending:
        if pending["missing"]:
            out.print(f"[yellow]before {pending['stage']}:[/]")
            for item in pending["missing"]:
                out.print(f"  - {escape(item)}")
        else:
            out.print(f"[green]ready for {pending['stage']}[/]: `baton promote {v['ref']} "
                      f"--to {pending['stage']}`")


def promote(
    ref: Annotated[str, typer.Argument(help="The version to promote.")],
    to: Annotated[str, typer.Option("--to", help="staging, production or archived.")],
    reason: Annotated[Optional[str], typer.Option(help="Why, for the record.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a version to a stage, if the policy's approvals and gates hold."""
    version = _registry().promote(ref, to, reason=reason)
    _emit(version, as_json, f"{version['ref']} is now in [bold]{version['stage']}[/]")


def approve(
    ref: Annotated[str, typer.Argument(help="The version to approve.")],
    stage: Annotated[Optional[str], typer.Option("--for", help="Stage the approval is for "
                                                 "(default: the next one).")] = None,
    comment: Annotated[Optional[str], typer.Option("--comment", "-m")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a version for its next stage (never your own push: four eyes)."""
    done = _registry().approve(ref, stage=stage, comment=comment)
    _emit(done, as_json, f"{escape(done['actor'])} approved {done['ref']} for {done['stage']}")


def reject(
    ref: Annotated[str, typer.Argument(help="The version to reject.")],
    reason: Annotated[str, typer.Option(help="What must change.")],
    stage: Annotated[Optional[str], typer.Option("--for", help="Stage (default: the next "
                                                 "one).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a version for its next stage; it cannot be promoted there until you approve."""
    done = _registry().reject(ref, reason=reason, stage=stage)
    _emit(done, as_json, f"{escape(done['actor'])} rejected {done['ref']} for {done['stage']}")


def rollback(
    name: Annotated[str, typer.Argument(help="The model.")],
    reason: Annotated[str, typer.Option(help="Why (required, for the record).")],
    as_json: JsonOpt = False,
) -> None:
    """Re-point production to the previous production version."""
    done = _registry().rollback(name, reason=reason)
    _emit(done, as_json, f"{name}: production is {name}:{done['production']} again; "
                         f"{name}:{done['rolled_back']} is rolled back and archived")


def tag(
    ref: Annotated[str, typer.Argument(help="The version.")],
    label: Annotated[str, typer.Argument(help="The tag.")],
    remove: Annotated[bool, typer.Option("--remove", help="Remove the tag.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Tag a version (tags are labels; many versions may share one)."""
    done = _registry().tag(ref, label, remove=remove)
    _emit(done, as_json, f"{'untagged' if remove else 'tagged'} {done['ref']} {label}")


def alias(
    ref: Annotated[str, typer.Argument(help="The version.")],
    name: Annotated[str, typer.Argument(help="The alias: name@ALIAS then means this version.")],
    remove: Annotated[bool, typer.Option("--remove", help="Remove the alias.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Point an alias (name@alias) at a version, moving it if it pointed elsewhere."""
    done = _registry().alias(ref, name, remove=remove)
    _emit(done, as_json, f"@{name} {'removed' if remove else '-> ' + done['ref']}")


def comment(
    ref: Annotated[str, typer.Argument(help="The version.")],
    text: Annotated[str, typer.Argument(help="The note for the decision log.")],
    as_json: JsonOpt = False,
) -> None:
    """Add a note to a version's decision log."""
    done = _registry().comment(ref, text)
    _emit(done, as_json, f"noted on {done['ref']}")


def stats(
    name: Annotated[Optional[str], typer.Argument(help="One model (default: all).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Handoff metrics: lead time to production, time per stage, rework, rollbacks."""
    data = _registry().stats(name)
    if as_json:
        return print_json(data)
    rows = {**data["models"], "all models": data["overall"]} if name is None \
        else data["models"]
    for model, s in rows.items():
        lead = s["lead_time_to_production_s"]
        stages = ", ".join(f"{k} {_duration(v)}" for k, v in s["seconds_in_stage"].items())
        out.print(f"[bold]{model}[/]: {s['versions']} versions, {s['in_production']} in "
                  f"production, {s['rollbacks']} rollbacks")
        out.print("  lead time push -> production: "
                  + (f"median {_duration(lead['median'])}, max {_duration(lead['max'])} "
                     f"({lead['count']} versions)" if lead else "none reached production"))
        out.print(f"  mean time in stage: {stages or '-'}")
        out.print(f"  rework: {s['rework']['rejections']} rejections, "
                  f"{s['rework']['repushes_before_approval']} re-pushes before approval")
        rate = s["verify_pass_rate"]
        out.print(f"  checklist score at push: {_maybe(s['checklist_score_at_push'])}; verify "
                  f"pass rate: {'-' if rate is None else f'{rate:.0%}'} of "
                  f"{s['verify_receipts']} receipts")


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _maybe(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


# --- ownership ---------------------------------------------------------------------------

transfer_app = typer.Typer(no_args_is_help=True, help="Move a responsibility for a model "
                           "(training, deployment, monitoring, replacement_decision) by "
                           "handshake: offered by an owner, accepted by the new one.")
RoleOpt = Annotated[str, typer.Option("--role", help="training, deployment, monitoring or "
                                                     "replacement_decision.")]


@transfer_app.command("offer")
def transfer_offer(
    name: Annotated[str, typer.Argument(help="The model.")],
    responsibility: RoleOpt,
    to: Annotated[str, typer.Option("--to", help="The user who should take it over.")],
    shadow_days: Annotated[int, typer.Option(help="Days both stay listed after the "
                                                  "acceptance (co-ownership).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Offer a responsibility you hold to someone else."""
    model = _registry().offer_transfer(name, responsibility, to, shadow_days=shadow_days)
    _emit(model, as_json, f"offered {responsibility} of {name} to {to}; they accept with "
                          f"`baton transfer accept {name} --role {responsibility}`")


def _answer(verb: str, help_text: str) -> None:
    def command(name: Annotated[str, typer.Argument(help="The model.")],
                responsibility: RoleOpt, as_json: JsonOpt = False) -> None:
        model = getattr(_registry(), f"{verb}_transfer")(name, responsibility)
        if as_json:
            return print_json(model)
        out.print(f"{verb}{'ed' if verb != 'decline' else 'd'} the transfer of "
                  f"{responsibility} of {name}")
        _print_model(model)

    command.__doc__ = help_text
    transfer_app.command(verb)(command)


_answer("accept", "Accept a responsibility offered to you.")
_answer("decline", "Decline a responsibility offered to you.")
_answer("cancel", "Withdraw an offer you made.")


# --- audit -------------------------------------------------------------------------------

audit_app = typer.Typer(help="The append-only, hash-chained log of every registry change.")


@audit_app.callback(invoke_without_command=True)
def audit_log(
    ctx: typer.Context,
    model: Annotated[Optional[str], typer.Option(help="Only this model's events.")] = None,
    limit: Annotated[int, typer.Option(help="How many of the latest events.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List the latest events (`baton audit verify` checks the chain)."""
    if ctx.invoked_subcommand is not None:
        return
    events = _registry().audit(model=model, limit=limit)
    if as_json:
        return print_json(events)
    table = Table("#", "at", "actor", "action", "subject", "details")
    for e in events:
        subject = f"{e['model']}:{e['version']}" if e["version"] else (e["model"] or "")
        details = ", ".join(f"{k}={v}" for k, v in e["details"].items()
                            if v is not None and k not in ("digest", "receipt_sha256"))
        table.add_row(str(e["seq"]), e["at"][:19], escape(e["actor"]), e["action"], subject,
                      escape(details))
    out.print(table)


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check the hash chain; name the first event edited, deleted or moved (exit 1)."""
    verdict = _registry().verify_audit()
    if as_json:
        print_json(verdict)
    elif verdict["ok"]:
        out.print(f"[green]audit log intact[/]: {verdict['events']} events, head "
                  f"{verdict['head']}")
    else:
        err.print(f"[bold red]audit log broken[/] at event {verdict['broken_seq']}: "
                  f"{verdict['problem']}")
    if not verdict["ok"]:
        raise typer.Exit(1)


# --- administration ----------------------------------------------------------------------

registry_app = typer.Typer(no_args_is_help=True, help="Run and administer the registry.")
token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for the HTTP API.")
user_app = typer.Typer(no_args_is_help=True, help="Users and their roles.")
registry_app.add_typer(token_app, name="token")
registry_app.add_typer(user_app, name="user")


@registry_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8765,
    max_upload_mb: Annotated[int, typer.Option(help="Largest file a push may upload.")] = 4096,
) -> None:
    """Serve this registry (`$BATON_REGISTRY` or the embedded one) over HTTP to many users."""
    import os

    import uvicorn

    from ..listen import listen
    from ..registry.api import MAX_UPLOAD_MB, create_app

    local = os.environ.get("BATON_REGISTRY", "")
    if local.startswith(("http://", "https://")):
        raise BatonError("BATON_REGISTRY points at a server; serve a database instead",
                         hint="unset it, or set it to postgresql://...")
    if not 0 < max_upload_mb <= MAX_UPLOAD_MB:
        raise BatonError(f"--max-upload-mb must be from 1 to {MAX_UPLOAD_MB:,}, got "
                         f"{max_upload_mb}")
    with listen(host, port) as sock:
        app = create_app(local or None, max_upload_bytes=max_upload_mb << 20)
        bound = sock.getsockname()[1]
        out.print(f"registry API on http://{host}:{bound}/api/v1 (Ctrl-C stops it)")
        config = uvicorn.Config(app, log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])


@registry_app.command("gc")
def gc(
    grace: Annotated[float, typer.Option(help="Keep unreferenced blobs younger than this many "
                                              "seconds (a push may still be in flight).")] = 3600,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete stored blobs that no version references (e.g. left by an interrupted push)."""
    done = _registry().gc(grace_seconds=grace, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    _emit(done, as_json, f"{verb} {done['removed']} unreferenced blobs; kept {done['kept']} "
                         f"referenced and {done['too_young']} younger than {grace:g} s")


@registry_app.command("attach")
def attach(
    ref: Annotated[str, typer.Argument(help="The version.")],
    receipt: Annotated[Path, typer.Argument(help="A receipt JSON file (from check, verify, "
                                                 "bench, compare).")],
    as_json: JsonOpt = False,
) -> None:
    """Attach a receipt to a version; refused unless made for exactly its package digest."""
    from ..registry.packages import read_receipt_file

    done = _registry().attach_receipt(ref, read_receipt_file(receipt))
    state = "attached" if done["attached"] else "already attached"
    _emit(done, as_json, f"{state}: {done['kind']} receipt "
                         f"({'passed' if done['passed'] else 'failed'}) on {done['ref']}")


@registry_app.command("policy")
def policy(
    set_file: Annotated[Optional[Path], typer.Option("--set", help="Make this YAML file the "
                                                     "registry's policy (admin).")] = None,
    default: Annotated[bool, typer.Option("--default", help="Print the built-in default "
                                                            "policy.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print the registry's policy (which approvals and gates each stage needs), or set it."""
    from ..registry.policy import DEFAULT_POLICY

    if default:
        return out.print(DEFAULT_POLICY, markup=False, end="")
    registry = _registry()
    if set_file is not None:
        try:
            text = set_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise BatonError(f"cannot read {set_file}: {exc.strerror}") from None
        current = registry.set_policy(text)
    else:
        current = registry.policy()
    if as_json:
        return print_json(current)
    origin = "built-in default" if current["default"] else (
        f"set by {current['set_by']} at {current['set_at'][:19]}")
    out.print(f"# policy {current['sha256'][:12]} ({origin})", markup=False)
    out.print(current["text"], markup=False, end="")


@registry_app.command("whoami")
def whoami(as_json: JsonOpt = False) -> None:
    """The registry in use, and who you are to it."""
    me = _registry().whoami()
    _emit(me, as_json, f"{escape(me['user'])} ({me['role']}) on {escape(me['registry'])}")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="Who the token acts as.")],
    role: Annotated[Optional[str], typer.Option(help="Set the user's role: viewer, scientist, "
                                                     "engineer or admin.")] = None,
    expires_days: Annotated[Optional[float], typer.Option(help="Expire after this many "
                                                               "days.")] = None,
    label: Annotated[Optional[str], typer.Option(help="What the token is for.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a bearer token (shown once; only its hash is stored)."""
    done = _registry().create_token(user, role=role, expires_days=expires_days, label=label)
    _emit(done, as_json, f"token {done['id']} for {user} ({done['role']}): {done['token']}\n"
                         "store it now: it is not shown again")


@token_app.command("list")
def token_list(as_json: JsonOpt = False) -> None:
    """List tokens (never their values)."""
    tokens = _registry().tokens()
    if as_json:
        return print_json(tokens)
    table = Table("id", "user", "label", "created", "expires", "revoked")
    for tk in tokens:
        table.add_row(str(tk["id"]), tk["user"], escape(tk["label"] or ""), tk["created_at"][:19],
                      (tk["expires_at"] or "never")[:19], "yes" if tk["revoked"] else "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")],
                 as_json: JsonOpt = False) -> None:
    """Revoke a token at once."""
    _emit(_registry().revoke_token(token_id), as_json, f"revoked token {token_id}")


@user_app.command("set")
def user_set(user: Annotated[str, typer.Argument()],
             role: Annotated[str, typer.Option(help="viewer, scientist, engineer or admin.")],
             as_json: JsonOpt = False) -> None:
    """Register a user with a role (local users without one get the policy's local_role)."""
    _emit(_registry().set_user(user, role), as_json, f"{user} is now {role}")


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """List users and their roles."""
    users = _registry().users()
    if as_json:
        return print_json(users)
    for u in users:
        out.print(f"{escape(u['user'])}: {u['role']}")
