"""`baton verify`, `baton sign` and `baton keys`: proving a package, and who vouches for it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from ..verify.clean_room import Check, Progress, Verification, verify_package
from ._common import err, keep_receipt, open_ref, out, print_json

keys_app = typer.Typer(no_args_is_help=True, help="Your signing keys and the keyring of keys "
                                                  "you trust.")


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
    app.command("sign")(sign)
    app.add_typer(keys_app, name="keys")


def verify(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    env_manager: Annotated[Optional[str], typer.Option(
        help="uv (default when installed), venv (plain venv + pip) or local (the current "
             "interpreter, nothing built).")] = None,
    python: Annotated[Optional[str], typer.Option(
        help="Interpreter for the clean room: a version (3.11) or a path. Default: the "
             "version the package was packed with.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Build only from the wheel "
                                                            "cache; no network.")] = False,
    fresh: Annotated[bool, typer.Option("--fresh", help="Rebuild the clean room even if one "
                                                        "for this lock is cached.")] = False,
    require_signature: Annotated[bool, typer.Option(
        "--require-signature", help="Fail unless a key in your keyring signed the "
                                    "package.")] = False,
    bench: Annotated[bool, typer.Option("--bench", help="Also measure latency, throughput "
                                        "and memory in the clean room, against the "
                                        "budgets.")] = False,
    key: Annotated[Optional[Path], typer.Option(help="Sign the receipt with this private "
                                                     "key (yours, as the verifier).")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipt as JSON.")] = False,
) -> None:
    """Rebuild the package's environment from its lock in a clean room, replay the golden
    examples there, check digests, signature, output schema and imports; write a receipt.

    Exit code 0: verified. 1: not reproduced (the receipt says exactly what). 2: unusable
    input (nothing was verified)."""
    _check_environment_options(env_manager, python)
    package = open_ref(ref, verify=False)
    console = err if as_json else out
    console.print(f"verifying [bold]{package.manifest.name} {package.manifest.version}[/] "
                  f"(digest {package.digest[:12]})")
    with RichProgress(console) as progress:
        result = verify_package(package, source=Path(ref), manager=env_manager, python=python,
                                offline=offline, fresh=fresh,
                                require_signature=require_signature, allow_pickle=allow_pickle,
                                bench=bench, key=key, progress=progress)
    keep_receipt(ref, result.receipt_path)
    if as_json:
        print_json({**(result.receipt or {}), "receipt_path": str(result.receipt_path)})
    else:
        _summary(result)
    raise typer.Exit(result.exit_code)


def _check_environment_options(manager: str | None, python: str | None) -> None:
    """--env-manager and --python are checked before any package is read or room built."""
    from ..contract.errors import BatonError
    from ..contract.files import input_file
    from ..verify.environments import MANAGERS

    if manager is not None and manager not in MANAGERS:
        raise BatonError(f"--env-manager '{manager}' is not one of {', '.join(MANAGERS)}",
                         hint="uv is the fastest; local uses this interpreter, nothing built")
    if python is None:
        return
    if not python.strip():
        raise BatonError("--python is empty", hint="give a version (3.11) or an interpreter's "
                                                   "path, or leave it out")
    if os.sep in python or Path(python).exists():  # a path, as opposed to a version
        path = input_file(python, "--python interpreter")
        if not os.access(path, os.X_OK):
            raise BatonError(f"--python {path} is not an executable program",
                             hint="give the path of a Python interpreter, or a version")


class RichProgress(Progress):
    """A spinner while a check runs; one line with its time when it ends."""

    def __init__(self, console: Console):
        self.console = console
        self.status: Any = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def start(self, name: str, what: str) -> None:
        self._stop()
        self.status = self.console.status(f"{what} ...")
        self.status.start()

    def done(self, check: Check) -> None:
        self._stop()
        mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
        self.console.print(f" {mark} {check.name:<14} {check.seconds:7.2f} s  "
                           f"{_escape(check.message)}")

    def _stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def _summary(result: Verification) -> None:
    name = f"{result.package.manifest.name} {result.package.manifest.version}"
    for check in result.checks:
        mismatches = check.data.get("mismatches")
        if mismatches:
            table = RichTable(title=f"{check.name}: what differs")
            for column in ("column", "rows", "expected", "got", "largest difference"):
                table.add_column(column)
            for m in mismatches:
                rows = ", ".join(map(str, m["rows"][:10])) + (
                    f" (+{len(m['rows']) - 10})" if len(m["rows"]) > 10 else "")
                diff = m.get("max_abs_diff")
                table.add_row(m["column"], rows, _shown(m["expected"]), _shown(m["got"]),
                              f"{diff:.3g}" if diff else "")
            out.print(table)
    where = f"receipt: {result.receipt_path}" if result.receipt_path else "no receipt written"
    if result.passed:
        out.print(f"[bold green]verified[/] {name}: reproduced in a clean room  ({where})")
    else:
        failed = ", ".join(c.name for c in result.checks if not c.passed)
        out.print(f"[bold red]not verified[/] {name}: {failed} failed  ({where})")


def _shown(values: list[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# --- signing -----------------------------------------------------------------------------


def sign(
    ref: Annotated[str, typer.Argument(help="Package folder or .baton file.")],
    key: Annotated[Path, typer.Option(help="Your private key (from `baton keys generate`).")],
    signer: Annotated[Optional[str], typer.Option(
        help="Name recorded as the signer. Default: the key's name in your keyring.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipt as JSON.")] = False,
) -> None:
    """Sign the package digest (ed25519) and add the signature receipt to the package."""
    from ..contract.errors import PackageError
    from ..package.amend import amend
    from ..package.archive import is_archive
    from ..package.receipts import write_receipt
    from ..verify.signatures import load_private_key, signature_details

    private_key = load_private_key(key)
    package = open_ref(ref)  # never sign a package whose files differ from its manifest
    details = signature_details(package, private_key, signer=signer)
    try:  # the signature must travel with the package, so it goes nowhere else
        path = amend(Path(ref), package, lambda root: write_receipt(
            root, "signature", digest=package.digest, passed=True, details=details))
    except PermissionError as exc:
        raise PackageError(f"{exc}: the signature cannot be added to it",
                           hint="copy the package somewhere writable and sign that") from None
    keep_receipt(ref, path)
    if is_archive(Path(ref)):
        path = Path(f"{ref}!{path.parent.name}/{path.name}")
    statement = details["statement"]
    if as_json:
        print_json({"receipt_path": str(path), "package_digest": package.digest, **details})
        return
    out.print(f"signed {package.manifest.name} {package.manifest.version} (digest "
              f"{package.digest[:12]}) as {statement['signer']} with key {statement['key_id']}"
              f"  ({path})")


# --- keys --------------------------------------------------------------------------------


@keys_app.command("generate")
def keys_generate(
    name: Annotated[Optional[str], typer.Option(help="Name of the key and its owner. "
                                                     "Default: $BATON_USER or your login.")]
    = None,
    out_path: Annotated[Optional[Path], typer.Option(
        "--out", help="Private key file. Default: $BATON_HOME/keys/NAME.pem.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an ed25519 key pair; the public key is added to your keyring."""
    from ..verify.signatures import generate_key

    key, private_path, public_path = generate_key(name, out_path)
    if as_json:
        print_json({**vars(key), "private_key": str(private_path),
                    "public_key_file": str(public_path)})
        return
    out.print(f"created key [bold]{key.name}[/] ({key.key_id})\n"
              f"  private key: {private_path} (mode 0600; keep it secret)\n"
              f"  public key:  {public_path} (give it to whoever verifies your packages: "
              f"`baton keys add {public_path.name} --name {key.name}`)")


@keys_app.command("add")
def keys_add(
    public_key: Annotated[Path, typer.Argument(help="Public key file (.pub) to trust.")],
    name: Annotated[str, typer.Option(help="Whose key it is.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Trust a public key: packages it signed pass the signature check."""
    from ..verify.signatures import trust_key

    key = trust_key(public_key, name)
    if as_json:
        print_json(vars(key))
        return
    out.print(f"trusted key [bold]{key.name}[/] ({key.key_id})")


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The keys in your keyring."""
    from ..verify.signatures import keyring, keyring_path

    keys = keyring()
    if as_json:
        print_json([vars(k) for k in keys.values()])
        return
    if not keys:
        out.print(f"the keyring {keyring_path()} is empty: `baton keys generate` creates your "
                  "key, `baton keys add FILE --name NAME` trusts someone else's")
        return
    table = RichTable(title=str(keyring_path()))
    for column in ("name", "key id", "added", "by"):
        table.add_column(column)
    for k in keys.values():
        table.add_row(k.name, k.key_id, k.added_at, k.added_by)
    out.print(table)
