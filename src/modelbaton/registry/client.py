"""The registry over HTTP: the same methods as `LocalRegistry`, against `baton registry serve`.

`BATON_REGISTRY=https://…` and `BATON_TOKEN` select it. Errors the server answers come back
as the same exception classes (so the CLI prints the same one line); pulls verify every
blob as it arrives and name the file a corrupt one belongs to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..contract.errors import BatonError
from . import packages
from .blobs import corrupt, read_chunks, save
from .errors import ERRORS, RegistryError


class RemoteRegistry:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = 300):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers,
                                 timeout=timeout)

    @property
    def location(self) -> str:
        return self.url

    def close(self) -> None:
        self.http.close()

    # --- the wire ----------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json: Any = None,
              params: dict[str, Any] | None = None) -> Any:
        return _checked(self._send(method, path, json=json, params=params)).json()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot reach the registry at {self.url}: {exc}",
                                hint="is `baton registry serve` running there?") from None

    # --- push and pull -----------------------------------------------------------------

    def push(self, path: str | Path, *, description: str | None = None) -> dict[str, Any]:
        upload = packages.prepare_upload(path)
        files = upload.all_files
        missing = set(self._call("POST", "/blobs/missing",
                                 json={"sha256": [f.sha256 for f in files]})["missing"])
        for entry in files:
            if entry.sha256 in missing:
                missing.discard(entry.sha256)
                self._send_blob(upload.root / entry.path, entry.sha256, entry.size, entry.path)
        return self.register(upload.manifest_sha256, upload.receipts, description=description)

    def _send_blob(self, path: Path, sha256: str, size: int, where: str) -> None:
        try:
            response = self.http.put(f"/blobs/{sha256}", params={"path": where},
                                     content=read_chunks(path),
                                     headers={"Content-Length": str(size)})
        except httpx.HTTPError as exc:
            raise RegistryError(f"upload of {where} to {self.url} failed: {exc}") from None
        _checked(response)

    def register(self, manifest_sha256: str, receipts: list[dict[str, Any]], *,
                 description: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/versions", json={
            "manifest_sha256": manifest_sha256, "receipts": receipts,
            "description": description})

    def pull(self, ref: str, dest: str | Path | None = None) -> Path:
        cached = packages.materialize(self.show(ref), self._fetch)
        return packages.copy_out(cached, Path(dest)) if dest is not None else cached

    def _fetch(self, sha256: str, dest: Path, where: str) -> None:
        save(self._blob(sha256, where), dest)

    def _blob(self, sha256: str, where: str) -> Iterator[bytes]:
        digest = hashlib.sha256()
        try:
            with self.http.stream("GET", f"/blobs/{sha256}") as response:
                if response.status_code >= 400:
                    response.read()
                    _checked(response)
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
                    yield chunk
        except httpx.HTTPError as exc:
            raise RegistryError(f"download of {where} from {self.url} failed: {exc}") from None
        if digest.hexdigest() != sha256:
            raise corrupt(where, f"{self.url} blob {sha256}", digest.hexdigest(), sha256)

    # --- everything else maps onto one endpoint ----------------------------------------

    def whoami(self) -> dict[str, Any]:
        return self._call("GET", "/whoami")

    def models(self) -> list[dict[str, Any]]:
        return self._call("GET", "/models")

    def model(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/models/{_q(name)}")

    def versions(self, name: str, *, stage: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", f"/models/{_q(name)}/versions",
                          params={"stage": stage} if stage else None)

    def show(self, ref: str) -> dict[str, Any]:
        return self._call("GET", f"/versions/{_q(ref)}")

    def promote(self, ref: str, stage: str, *, reason: str | None = None) -> dict[str, Any]:
        return self._call("POST", f"/versions/{_q(ref)}/promote",
                          json={"stage": stage, "reason": reason})

    def rollback(self, name: str, *, reason: str) -> dict[str, Any]:
        return self._call("POST", f"/models/{_q(name)}/rollback", json={"reason": reason})

    def approve(self, ref: str, *, stage: str | None = None,
                comment: str | None = None) -> dict[str, Any]:
        return self._call("POST", f"/versions/{_q(ref)}/approve",
                          json={"stage": stage, "comment": comment})

    def reject(self, ref: str, *, reason: str, stage: str | None = None) -> dict[str, Any]:
        return self._call("POST", f"/versions/{_q(ref)}/reject",
                          json={"reason": reason, "stage": stage})

    def attach_receipt(self, ref: str, receipt: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/versions/{_q(ref)}/receipts", json={"receipt": receipt})

    def tag(self, ref: str, tag: str, *, remove: bool = False) -> dict[str, Any]:
        return self._call("POST", f"/versions/{_q(ref)}/tags",
                          json={"tag": tag, "remove": remove})

    def alias(self, ref: str, alias: str, *, remove: bool = False) -> dict[str, Any]:
        return self._call("POST", f"/versions/{_q(ref)}/aliases",
                          json={"alias": alias, "remove": remove})

    def comment(self, ref: str, text: str) -> dict[str, Any]:
        return self._call("POST", f"/versions/{_q(ref)}/comments", json={"text": text})

    def offer_transfer(self, name: str, responsibility: str, to_user: str, *,
                       shadow_days: int = 0) -> dict[str, Any]:
        return self._call("POST", f"/models/{_q(name)}/transfers/{_q(responsibility)}/offer",
                          json={"to": to_user, "shadow_days": shadow_days})

    def accept_transfer(self, name: str, responsibility: str) -> dict[str, Any]:
        return self._transfer(name, responsibility, "accept")

    def decline_transfer(self, name: str, responsibility: str) -> dict[str, Any]:
        return self._transfer(name, responsibility, "decline")

    def cancel_transfer(self, name: str, responsibility: str) -> dict[str, Any]:
        return self._transfer(name, responsibility, "cancel")

    def _transfer(self, name: str, responsibility: str, answer: str) -> dict[str, Any]:
        return self._call("POST", f"/models/{_q(name)}/transfers/{_q(responsibility)}/{answer}")

    def audit(self, *, model: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if model is not None:
            params["model"] = model
        return self._call("GET", "/audit", params=params)

    def verify_audit(self) -> dict[str, Any]:
        return self._call("GET", "/audit/verify")

    def stats(self, name: str | None = None) -> dict[str, Any]:
        return self._call("GET", "/stats", params={"model": name} if name else None)

    def policy(self) -> dict[str, Any]:
        return self._call("GET", "/policy")

    def set_policy(self, text: str) -> dict[str, Any]:
        return self._call("PUT", "/policy", json={"text": text})

    def set_user(self, user: str, role: str) -> dict[str, Any]:
        return self._call("POST", "/users", json={"user": user, "role": role})

    def users(self) -> list[dict[str, Any]]:
        return self._call("GET", "/users")

    def create_token(self, user: str, *, role: str | None = None,
                     expires_days: float | None = None,
                     label: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/tokens", json={"user": user, "role": role,
                                                   "expires_days": expires_days,
                                                   "label": label})

    def tokens(self) -> list[dict[str, Any]]:
        return self._call("GET", "/tokens")

    def revoke_token(self, token_id: int) -> dict[str, Any]:
        return self._call("DELETE", f"/tokens/{int(token_id)}")

    def gc(self, *, grace_seconds: float = 3600, dry_run: bool = False) -> dict[str, Any]:
        return self._call("POST", "/gc", json={"grace_seconds": grace_seconds,
                                               "dry_run": dry_run})


def _q(part: str) -> str:
    return quote(part, safe="")


def _checked(response: httpx.Response) -> httpx.Response:
    """The response, or the server's error raised as the class it was on the server."""
    if response.status_code < 400:
        return response
    try:
        error = response.json()["error"]
        cls = ERRORS.get(error.get("type"), RegistryError)
        exc: BatonError = cls(error["message"], where=error.get("where"),
                              hint=error.get("hint"))
    except (ValueError, KeyError, TypeError):
        exc = RegistryError(f"the registry answered HTTP {response.status_code}: "
                            f"{response.text[:200]}")
    raise exc
