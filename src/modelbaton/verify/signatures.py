"""Ed25519 signatures over package digests, and the keyring of keys you trust.

`baton keys generate` writes a private key (PKCS#8 PEM, mode 0600) and its public key under
`$BATON_HOME/keys/`, and adds the public key to the keyring `$BATON_HOME/keyring.json`.
The keyring is the only source of trust: a signature by a key that is not in it proves
nothing, whatever the receipt claims. Someone else's public key is trusted with
`baton keys add FILE --name NAME`.

`baton sign` writes a `signature` receipt. What is signed is the canonical JSON of the
package digest, every file's sha256 (the manifest lists them, so this adds nothing to trust
but lets a check say WHICH file changed after signing), the signer and the time.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract.errors import BatonError, IntegrityError, MissingExtraError
from ..contract.files import output_path, read_bytes
from ..contract.io import MANIFEST_NAME, canonical_json
from ..package.load import Package
from ..package.receipts import read_receipts
from ..settings import baton_home, current_user

ALGORITHM = "ed25519"
PURPOSE = "baton package signature v1"
RECEIPT_PURPOSE = "baton receipt signature v1"


class SignatureError(IntegrityError):
    """A signature is missing, invalid, untrusted, or for another state of the package."""


@dataclass(frozen=True)
class Key:
    """A public key in the keyring."""

    key_id: str
    name: str
    public_key: str  # base64 of the 32 raw bytes
    added_at: str
    added_by: str


@dataclass
class SignatureCheck:
    """The outcome of checking a package's signatures against the keyring."""

    passed: bool
    status: str  # valid | absent | untrusted | invalid | changed
    message: str
    signer: str | None = None
    key_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "signer": self.signer, "key_id": self.key_id}


# --- keys --------------------------------------------------------------------------------


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise MissingExtraError("cryptography", "verify") from None
    return ed25519


def _serialization() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization


def keys_dir() -> Path:
    return baton_home() / "keys"


def keyring_path() -> Path:
    return baton_home() / "keyring.json"


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def key_id_of(private_key: Any) -> str:
    return key_id(_raw_public(private_key.public_key()))


def generate_key(name: str | None = None, out: Path | None = None) -> tuple[Key, Path, Path]:
    """A new key pair: private key file (0600), public key file, public key trusted."""
    ed25519, serialization = _ed25519(), _serialization()
    name = current_user() if name is None else name
    if not name.strip() or any(c in name for c in "/\\\0") or name.startswith("."):
        raise BatonError(f"key name '{name}' cannot name a file",
                         hint="use letters, digits, '-' and '_', e.g. --name dana")
    if out is not None:
        output_path(out, "--out")
    private_path = out or keys_dir() / f"{name}.pem"
    public_path = private_path.with_suffix(".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise BatonError(f"{path} already exists", hint="choose another --name or --out; "
                             "keys are never overwritten")
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    # Created with 0600 from the start: the key is never readable by others, not even briefly.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_path.write_bytes(public_pem)
    return trust_key(public_path, name), private_path, public_path


def trust_key(public_path: Path, name: str) -> Key:
    """Add a public key (PEM, as `keys generate` writes it) to the keyring."""
    raw = _raw_public(_load_public(public_path))
    keys = keyring()
    identifier = key_id(raw)
    if identifier in keys:
        return keys[identifier]
    key = Key(key_id=identifier, name=name, public_key=base64.b64encode(raw).decode(),
              added_at=_now(), added_by=current_user())
    keys[identifier] = key
    _write_keyring(keys)
    return key


def keyring() -> dict[str, Key]:
    path = keyring_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k["key_id"]: Key(**k) for k in data["keys"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise BatonError(f"the keyring is not readable: {exc}", where=str(path),
                         hint="restore it from a backup, or move it away and add the keys "
                              "you trust again") from None


def _write_keyring(keys: dict[str, Key]) -> None:
    path = keyring_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = {"keys": [vars(k) for k in sorted(keys.values(), key=lambda k: k.name)]}
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_private_key(path: Path) -> Any:
    """The signer's private key; refused when others can read the file, like ssh does."""
    data = read_bytes(path, "key file", hint="create one with `baton keys generate`")
    if b"-----BEGIN PUBLIC KEY-----" in data:  # the .pub beside it, a common slip
        raise BatonError(f"{path} is a public key; signing needs the private key",
                         hint=f"give {path.with_suffix('.pem')} (what `baton keys generate` "
                              "wrote beside it)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise BatonError(f"key file {path} is readable by others (mode {mode:04o})",
                         hint=f"chmod 600 {path}")
    try:
        key = _serialization().load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BatonError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, _ed25519().Ed25519PrivateKey):
        raise BatonError(f"{path} is not an ed25519 key",
                         hint="create one with `baton keys generate`")
    return key


def _load_public(path: Path) -> Any:
    data = read_bytes(path, "public key file")
    try:
        key = _serialization().load_pem_public_key(data)
    except ValueError as exc:
        raise BatonError(f"{path} is not a PEM public key: {exc}",
                         hint="give the .pub file that `baton keys generate` wrote") from None
    if not isinstance(key, _ed25519().Ed25519PublicKey):
        raise BatonError(f"{path} is not an ed25519 public key")
    return key


def _raw_public(public: Any) -> bytes:
    serialization = _serialization()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- signing and checking packages -------------------------------------------------------


def signature_details(package: Package, private_key: Any, *, signer: str | None = None
                      ) -> dict[str, Any]:
    """What a `signature` receipt holds: the signed statement and the signature over it."""
    raw = _raw_public(private_key.public_key())
    identifier = key_id(raw)
    known = keyring().get(identifier)
    statement = {
        "purpose": PURPOSE, "algorithm": ALGORITHM, "package_digest": package.digest,
        "files": {f.path: f.sha256 for f in package.manifest.files},
        "signer": signer or (known.name if known else current_user()),
        "identity": current_user(), "key_id": identifier, "signed_at": _now(),
    }
    signature = private_key.sign(canonical_json(statement))
    return {"statement": statement, "public_key": base64.b64encode(raw).decode(),
            "signature": base64.b64encode(signature).decode()}


def check_signature(package: Package, *, required: bool = False) -> SignatureCheck:
    """Whether a trusted key signed exactly this package; if not, the precise reason."""
    receipts = read_receipts(package.root, "signature")
    if not receipts:
        return SignatureCheck(not required, "absent", "the package is not signed" + (
            " but a signature is required (sign it with `baton sign PKG --key FILE`)"
            if required else ""))
    keys = keyring()
    findings = [(_verify_statement(r, keys), r) for r in receipts]
    # Names come from your keyring, not from what a receipt claims.
    for status, receipt in reversed(findings):  # the newest valid signature wins
        if status == "valid" and receipt["statement"]["package_digest"] == package.digest:
            statement = receipt["statement"]
            signer = keys[statement["key_id"]].name
            return SignatureCheck(True, "valid", f"signed by {signer} (key "
                                  f"{statement['key_id']}) at {statement['signed_at']}",
                                  signer, statement["key_id"])
    for status, receipt in reversed(findings):
        if status == "valid":
            statement = receipt["statement"]
            signer = keys[statement["key_id"]].name
            changed = _changes(statement.get("files", {}), package)
            return SignatureCheck(False, "changed", f"the package changed after {signer} "
                                  f"signed it: {changed}", signer, statement["key_id"])
    for status, receipt in reversed(findings):
        statement = receipt.get("statement") or {}
        if status == "untrusted" and statement.get("package_digest") == package.digest:
            return SignatureCheck(False, "untrusted", f"signed by {statement.get('signer')} "
                                  f"with key {statement.get('key_id')}, which is not in your "
                                  f"keyring ({keyring_path()}); trust it with `baton keys add "
                                  "KEY.pub --name NAME` if you know it is theirs",
                                  statement.get("signer"), statement.get("key_id"))
    return SignatureCheck(False, "invalid", "no signature in the package is valid for it: "
                          "the signatures were forged, corrupted, or made by keys you do not "
                          "trust for an earlier state of the package")


def _verify_statement(receipt: dict[str, Any], keys: dict[str, Key]) -> str:
    statement = receipt.get("statement")
    if not isinstance(statement, dict) or statement.get("purpose") != PURPOSE:
        return "invalid"
    key = keys.get(str(statement.get("key_id")))
    if key is None:
        return "untrusted"
    return "valid" if _valid(key, canonical_json(statement), receipt.get("signature")) \
        else "invalid"


def _valid(key: Key, message: bytes, signature: Any) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public = _ed25519().Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key))
        public.verify(base64.b64decode(str(signature), validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _changes(signed: dict[str, str], package: Package) -> str:
    """Which files differ between the signed state and now; else the manifest itself."""
    now = {f.path: f.sha256 for f in package.manifest.files}
    changed = sorted(p for p in signed.keys() & now.keys() if signed[p] != now[p])
    added = sorted(now.keys() - signed.keys())
    removed = sorted(signed.keys() - now.keys())
    parts = ([f"{p} changed" for p in changed] + [f"{p} was added" for p in added]
             + [f"{p} was removed" for p in removed])
    return ", ".join(parts) if parts else f"{MANIFEST_NAME} was edited (every file is as signed)"


def require_signature(package: Package) -> SignatureCheck:
    """Raise SignatureError unless a trusted key signed exactly this package."""
    check = check_signature(package, required=True)
    if not check.passed:
        raise SignatureError(check.message, where=str(package.root),
                             hint="get an intact copy from its author, or trust their key "
                                  "with `baton keys add`" if check.status == "untrusted"
                             else "get an intact copy, or have it signed again")
    return check


# --- signed receipts ---------------------------------------------------------------------


def sign_receipt(details: dict[str, Any], digest: str, passed: bool,
                 private_key: Any) -> dict[str, Any]:
    """`details` plus a signature by the verifier over the digest, the verdict and them."""
    raw = _raw_public(private_key.public_key())
    details = json.loads(json.dumps(details, default=str))  # exactly what the file will hold
    body = {"purpose": RECEIPT_PURPOSE, "package_digest": digest, "passed": passed,
            "details": details}
    return {**details, "receipt_signature": {
        "algorithm": ALGORITHM, "key_id": key_id(raw), "public_key":
        base64.b64encode(raw).decode(),
        "signature": base64.b64encode(private_key.sign(canonical_json(body))).decode()}}


def check_receipt_signature(receipt: dict[str, Any]) -> Key | None:
    """The trusted key that signed a receipt (as `sign_receipt` does), or None."""
    signed = receipt.get("receipt_signature")
    if not isinstance(signed, dict):
        return None
    key = keyring().get(str(signed.get("key_id")))
    if key is None:
        return None
    details = {k: v for k, v in receipt.items() if k not in (
        "kind", "package_digest", "passed", "created_at", "created_by", "receipt_signature",
        "_path")}
    body = {"purpose": RECEIPT_PURPOSE, "package_digest": receipt.get("package_digest"),
            "passed": receipt.get("passed"), "details": details}
    return key if _valid(key, canonical_json(body), signed.get("signature")) else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
