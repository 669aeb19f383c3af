"""The multi-user HTTP API of the registry (`baton registry serve`), on Starlette.

Every request but `/health` carries `Authorization: Bearer <token>`; the token's user and
role become the actor of a `LocalRegistry`, which checks the role and records each write
in the audit log. Failures are JSON `{"error": {"type", "message", "where", "hint"}}` with
401 (no or bad token), 403 (role or four eyes), 404 (also unknown routes), 405, 409, 413
(upload too large), 422 (a digest mismatch) or 400: bad input never gets a 500, and a bug
of ours is a JSON 500 without a traceback (that goes to the server log).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..contract.errors import BatonError
from .blobs import is_sha256
from .errors import RegistryError, TooLargeError, status_of
from .local import LocalRegistry, authenticate

API = "/api/v1"
MAX_JSON_BYTES = 16 << 20
DEFAULT_MAX_UPLOAD_MB = 4096
MAX_UPLOAD_MB = 1 << 20  # 1 TiB

Call = Callable[[LocalRegistry, dict[str, Any], dict[str, str], dict[str, Any]], Any]


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...] = str,
           default: Any = ...) -> Any:
    value = body.get(name, default)
    if value is ...:
        raise RegistryError(f"request field `{name}` is required")
    if value is None and default is ...:
        raise RegistryError(f"request field `{name}` is required, not null")
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true/false are Python bools, which are ints: a number field takes neither.
    wrong = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
    if value is not None and value is not default and wrong:
        expected = {str: "string", int: "whole number", bool: "boolean (true or false)",
                    list: "list", dict: "JSON object"}.get(kinds[0], "number") \
            if len(kinds) == 1 else "number"
        raise RegistryError(f"request field `{name}` must be a {expected}, got "
                            f"{_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), "null")


def _sha(body: dict[str, Any], name: str) -> str:
    value = _field(body, name)
    if not is_sha256(value):
        raise RegistryError(f"request field `{name}` must be a sha256 hex digest (64 "
                            "lowercase hex characters)")
    return value


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise RegistryError(f"query parameter `{name}` must be an integer") from None


# (HTTP method, path, call): each call maps a request onto one LocalRegistry method.
ENDPOINTS: list[tuple[str, str, Call]] = [
    ("GET", "/whoami", lambda r, p, q, b: r.whoami()),
    ("GET", "/models", lambda r, p, q, b: r.models()),
    ("GET", "/models/{name}", lambda r, p, q, b: r.model(p["name"])),
    ("GET", "/models/{name}/versions",
     lambda r, p, q, b: r.versions(p["name"], stage=q.get("stage"))),
    ("POST", "/models/{name}/rollback",
     lambda r, p, q, b: r.rollback(p["name"], reason=_field(b, "reason"))),
    ("POST", "/models/{name}/transfers/{responsibility}/offer",
     lambda r, p, q, b: r.offer_transfer(p["name"], p["responsibility"], _field(b, "to"),
                                         shadow_days=_field(b, "shadow_days", int, 0))),
    ("POST", "/models/{name}/transfers/{responsibility}/accept",
     lambda r, p, q, b: r.accept_transfer(p["name"], p["responsibility"])),
    ("POST", "/models/{name}/transfers/{responsibility}/decline",
     lambda r, p, q, b: r.decline_transfer(p["name"], p["responsibility"])),
    ("POST", "/models/{name}/transfers/{responsibility}/cancel",
     lambda r, p, q, b: r.cancel_transfer(p["name"], p["responsibility"])),
    ("POST", "/versions",
     lambda r, p, q, b: r.register(_sha(b, "manifest_sha256"),
                                   _field(b, "receipts", list, []),
                                   description=_field(b, "description", str, None))),
    ("GET", "/versions/{ref}", lambda r, p, q, b: r.show(p["ref"])),
    ("POST", "/versions/{ref}/promote",
     lambda r, p, q, b: r.promote(p["ref"], _field(b, "stage"),
                                  reason=_field(b, "reason", str, None))),
    ("POST", "/versions/{ref}/approve",
     lambda r, p, q, b: r.approve(p["ref"], stage=_field(b, "stage", str, None),
                                  comment=_field(b, "comment", str, None))),
    ("POST", "/versions/{ref}/reject",
     lambda r, p, q, b: r.reject(p["ref"], reason=_field(b, "reason"),
                                 stage=_field(b, "stage", str, None))),
    ("POST", "/versions/{ref}/receipts",
     lambda r, p, q, b: r.attach_receipt(p["ref"], _field(b, "receipt", dict))),
    ("POST", "/versions/{ref}/tags",
     lambda r, p, q, b: r.tag(p["ref"], _field(b, "tag"), remove=_field(b, "remove", bool,
                                                                        False))),
    ("POST", "/versions/{ref}/aliases",
     lambda r, p, q, b: r.alias(p["ref"], _field(b, "alias"),
                                remove=_field(b, "remove", bool, False))),
    ("POST", "/versions/{ref}/comments",
     lambda r, p, q, b: r.comment(p["ref"], _field(b, "text"))),
    ("POST", "/blobs/missing",
     lambda r, p, q, b: {"missing": r.missing_blobs(_sha_list(_field(b, "sha256", list)))}),
    ("GET", "/audit", lambda r, p, q, b: r.audit(model=q.get("model"),
                                                 limit=_int(q, "limit", 100))),
    ("GET", "/audit/verify", lambda r, p, q, b: r.verify_audit()),
    ("GET", "/stats", lambda r, p, q, b: r.stats(q.get("model"))),
    ("GET", "/policy", lambda r, p, q, b: r.policy()),
    ("PUT", "/policy", lambda r, p, q, b: r.set_policy(_field(b, "text"))),
    ("GET", "/users", lambda r, p, q, b: r.users()),
    ("POST", "/users", lambda r, p, q, b: r.set_user(_field(b, "user"), _field(b, "role"))),
    ("GET", "/tokens", lambda r, p, q, b: r.tokens()),
    ("POST", "/tokens",
     lambda r, p, q, b: r.create_token(_field(b, "user"), role=_field(b, "role", str, None),
                                       expires_days=_field(b, "expires_days", (int, float),
                                                           None),
                                       label=_field(b, "label", str, None))),
    ("DELETE", "/tokens/{token_id:int}", lambda r, p, q, b: r.revoke_token(p["token_id"])),
    ("POST", "/gc", lambda r, p, q, b: r.gc(grace_seconds=_field(b, "grace_seconds",
                                                                 (int, float), 3600),
                                            dry_run=_field(b, "dry_run", bool, False))),
]


def _sha_list(values: list[Any]) -> list[str]:
    if not all(is_sha256(v) for v in values):
        raise RegistryError("`sha256` must be a list of sha256 hex digests")
    return values


def create_app(url: str | None = None, *, max_upload_bytes: int | None = None) -> Starlette:
    """The API for the registry at `url` (default `$BATON_REGISTRY`, else the embedded one)."""
    limit = max_upload_bytes if max_upload_bytes is not None else DEFAULT_MAX_UPLOAD_MB << 20
    LocalRegistry(url).initialize()

    def registry_for(request: Request) -> LocalRegistry:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        user, role = authenticate(url, token.strip() if scheme.lower() == "bearer" else None)
        return LocalRegistry(url, actor=user, role=role, max_upload_bytes=limit)

    def endpoint(call: Call) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            registry = await run_in_threadpool(registry_for, request)
            body: dict[str, Any] = {}
            if request.method in ("POST", "PUT"):
                body = await _json_body(request)
            result = await run_in_threadpool(call, registry, dict(request.path_params),
                                             dict(request.query_params), body)
            return JSONResponse(result)
        return handle

    async def put_blob(request: Request) -> Response:
        sha = request.path_params["sha256"]
        if not is_sha256(sha):
            raise RegistryError(f"'{sha}' is not a sha256 hex digest")
        where = request.query_params.get("path") or sha
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise TooLargeError(f"{where} ({int(declared):,} bytes) is larger than the upload "
                                f"limit of {limit:,} bytes",
                                hint="ask the registry admin to raise --max-upload-mb")
        registry = await run_in_threadpool(registry_for, request)
        writer = await run_in_threadpool(registry.blob_writer, sha, where)
        try:  # file writes and hashing stay off the event loop
            async for chunk in request.stream():
                await run_in_threadpool(writer.write, chunk)
            await run_in_threadpool(writer.commit)
        finally:
            await run_in_threadpool(writer.discard)
        return JSONResponse({"sha256": sha, "size": writer.size}, status_code=201)

    async def get_blob(request: Request) -> Response:
        sha = request.path_params["sha256"]
        registry = await run_in_threadpool(registry_for, request)
        chunks = await run_in_threadpool(registry.blob_chunks, sha, False)
        return StreamingResponse(chunks, media_type="application/octet-stream")

    async def health(_request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [Route(f"{API}/health", health),
              Route(f"{API}/blobs/{{sha256}}", put_blob, methods=["PUT"]),
              Route(f"{API}/blobs/{{sha256}}", get_blob, methods=["GET"])]
    routes += [Route(API + path, endpoint(call), methods=[method])
               for method, path, call in ENDPOINTS]
    return Starlette(routes=routes, exception_handlers={
        BatonError: _error, HTTPException: _http_error, Exception: _internal_error})


async def _json_body(request: Request) -> dict[str, Any]:
    size, parts = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise TooLargeError(f"the request body is larger than {MAX_JSON_BYTES:,} bytes")
        parts.append(chunk)
    raw = b"".join(parts)
    if not raw.strip():  # a POST with nothing to say (accept, decline, ...)
        return {}
    try:
        body = json.loads(raw, parse_constant=_Constant)
    except ValueError as exc:
        raise RegistryError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise RegistryError("the request body is not valid JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise RegistryError("the request body must be a JSON object")
    found = _constant_in(body, "")
    if found:
        raise RegistryError(f"request field `{found[0]}` is {found[1]}, which JSON does not "
                            "have", hint="send a finite number")
    return body


class _Constant(str):
    """A NaN or Infinity literal (Python's json reads them; JSON has no such numbers)."""


def _constant_in(value: Any, path: str) -> tuple[str, str] | None:
    """The first NaN/Infinity literal in a parsed body: (its field path, the literal)."""
    if isinstance(value, _Constant):
        return path, str(value)
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _constant_in(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, method not allowed) in our JSON shape."""
    assert isinstance(exc, HTTPException)
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on "
               f"{request.url.path}"}.get(exc.status_code, str(exc.detail))
    return JSONResponse({"error": {"type": "HTTPError", "message": message, "where": None,
                                   "hint": f"the API lives under {API}/"}},
                        status_code=exc.status_code, headers=exc.headers)


async def _internal_error(_request: Request, _exc: Exception) -> Response:
    """A bug of ours: JSON, no traceback for the client (Starlette re-raises it afterwards,
    so the server logs it)."""
    return JSONResponse({"error": {"type": "InternalError", "message": "internal error; the "
                                   "server log has the traceback", "where": None,
                                   "hint": "please report it"}}, status_code=500)


async def _error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatonError)
    return JSONResponse({"error": {"type": type(exc).__name__, "message": exc.message,
                                   "where": exc.where, "hint": exc.hint}},
                        status_code=status_of(exc))

