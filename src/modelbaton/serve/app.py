"""The ASGI app: `/predict`, the Open Inference Protocol v2, `/metrics`, `/shadow`.

Every prediction request is read with a size limit, parsed with orjson, checked against
the interface's field names, then merged into a micro-batch (batching.py). Errors are
``{"error": ..., "id": ...}`` on every route; anything unexpected is a 500 carrying the
request id, with the traceback in the server log, and the worker goes on.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..package.load import load
from ..package.predictor import Predictor
from .batching import Overloaded
from .errors import ApiError, invalid, problem_json
from .metrics import CONTENT_TYPE
from .openapi import openapi_document
from .options import ServeOptions
from .payload import (
    FIELD_DATATYPES,
    dumps,
    infer_request,
    json_values,
    predict_columns,
    read_json,
)
from .service import Service

log = logging.getLogger("modelbaton.serve")

TRUE, FALSE = ("1", "true", "yes"), ("0", "false", "no", "")


def create_app(options: ServeOptions, *, predictor: Predictor | None = None) -> Starlette:
    """The app for one package; `predictor` skips loading (tests, embedding)."""
    predictor = predictor or load(options.package, allow_pickle=options.allow_pickle)
    service = Service(predictor, options)
    service.start_shadow()
    api = Api(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    model = "/v2/models/{name}"
    routes = [
        Route("/predict", api.predict, methods=["POST"]),
        Route("/v2", api.server_metadata, methods=["GET"]),
        Route("/v2/health/live", api.live, methods=["GET"]),
        Route("/v2/health/ready", api.ready, methods=["GET"]),
        Route(model, api.model_metadata, methods=["GET"]),
        Route(model + "/versions/{version}", api.model_metadata, methods=["GET"]),
        Route(model + "/ready", api.model_ready, methods=["GET"]),
        Route(model + "/versions/{version}/ready", api.model_ready, methods=["GET"]),
        Route(model + "/infer", api.infer, methods=["POST"]),
        Route(model + "/versions/{version}/infer", api.infer, methods=["POST"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route("/shadow", api.shadow, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        middleware=[Middleware(Observe, service=service)],
        exception_handlers={ApiError: api.error, HTTPException: api.http_error})
    app.state.service = service
    return app


class Api:
    """The endpoints, sharing one `Service`."""

    def __init__(self, service: Service):
        self.service = service
        self.predictor = service.predictor
        self.fields = service.predictor.inputs
        self.output_names = [f.name for f in service.predictor.outputs]
        self.output_types = {f.name: FIELD_DATATYPES[f.type] for f in service.predictor.outputs}
        self.labels = [str(v) for v in service.predictor.labels or []]
        self.probabilities = [n for n in self.output_names if n.startswith("probability_")]
        self._openapi = dumps(openapi_document(service.predictor.manifest,
                                               shadow=service.shadow is not None))
        self._server = dumps({"name": "baton", "version": __version__, "extensions": []})
        p = service.predictor
        self._metadata = dumps({
            "name": p.name, "versions": [p.version], "platform": f"baton-{p.flavor.name}",
            "inputs": [{"name": f.name, "datatype": FIELD_DATATYPES[f.type], "shape": [-1]}
                       for f in p.inputs],
            "outputs": [{"name": f.name, "datatype": FIELD_DATATYPES[f.type], "shape": [-1]}
                        for f in p.outputs],
            "parameters": {"task": p.manifest.interface.task, "digest": p.digest,
                           "labels": p.labels}})

    # --- predictions ---------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        proba = _flag(request.query_params.get("proba", ""), "proba")
        if proba and not self.probabilities:
            raise ApiError(400, "this model gives no probabilities; leave out ?proba")
        with self.service.batcher.arrival():
            data = read_json(await _body(request, self.service.options.max_body_bytes))
            columns, rows = predict_columns(data, self.fields)
        outputs = await self._answer(request, columns, rows)
        scope = request.scope
        prediction = outputs.get("prediction")
        if prediction is None:
            prediction = next(iter(outputs.values()))
        body: dict[str, Any] = {"id": scope["baton.id"], "model_name": self.predictor.name,
                                "model_version": self.predictor.version,
                                "predictions": json_values(prediction)}
        if proba:
            per_label = [outputs[n].tolist() for n in self.probabilities]
            body["probabilities"] = [dict(zip(self.labels, row)) for row in zip(*per_label)]
        return _json(body)

    async def infer(self, request: Request) -> Response:
        self._check_model(request)
        with self.service.batcher.arrival():
            data = read_json(await _body(request, self.service.options.max_body_bytes))
            parsed = infer_request(data, self.fields, self.output_names)
        if parsed.id is not None:
            if not 0 < len(parsed.id) <= 256:
                raise ApiError(400, "'id' must be 1 to 256 characters")
            request.scope["baton.id"] = parsed.id
        outputs = await self._answer(request, parsed.columns, parsed.rows)
        wanted = parsed.outputs or list(outputs)
        return _json({
            "model_name": self.predictor.name, "model_version": self.predictor.version,
            "id": request.scope["baton.id"],
            "outputs": [{"name": name, "datatype": self.output_types.get(name, "FP64"),
                         "shape": [parsed.rows], "data": json_values(outputs[name])}
                        for name in wanted if name in outputs]})

    async def _answer(self, request: Request, columns: dict[str, list[Any]],
                      rows: int) -> dict[str, Any]:
        scope = request.scope
        try:
            outcome = await self.service.predict(scope["baton.id"], columns, rows,
                                                 scope["baton.received"])
        except Overloaded as exc:
            raise ApiError(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) \
                from None
        if outcome.problems:
            raise invalid(outcome.problems)
        if outcome.outputs is None:
            raise ApiError(500, f"the model failed on this request: {outcome.error} (the "
                                f"server log has the traceback under request id "
                                f"{scope['baton.id']})")
        return outcome.outputs

    # --- metadata and health -------------------------------------------------------------

    async def server_metadata(self, request: Request) -> Response:
        return Response(self._server, media_type="application/json")

    async def live(self, request: Request) -> Response:
        return _json({"live": True})

    async def ready(self, request: Request) -> Response:
        ready = self.service.ready
        return _json({"ready": ready}, 200 if ready else 503)

    async def model_metadata(self, request: Request) -> Response:
        self._check_model(request)
        return Response(self._metadata, media_type="application/json")

    async def model_ready(self, request: Request) -> Response:
        self._check_model(request)
        ready = self.service.ready
        return _json({"name": self.predictor.name, "ready": ready}, 200 if ready else 503)

    def _check_model(self, request: Request) -> None:
        name = request.path_params.get("name")
        version = request.path_params.get("version")
        if name != self.predictor.name:
            raise ApiError(404, f"unknown model '{name}'; this server serves "
                                f"'{self.predictor.name}'")
        if version is not None and version != self.predictor.version:
            raise ApiError(404, f"unknown version '{version}' of {name}; this server serves "
                                f"version '{self.predictor.version}'")

    async def metrics(self, request: Request) -> Response:
        return Response(self.service.metrics.exposition(), media_type=CONTENT_TYPE)

    async def shadow(self, request: Request) -> Response:
        if self.service.shadow is None:
            raise ApiError(404, "no shadow candidate: start the server with --shadow PKG")
        return _json(self.service.shadow_report())

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type="application/json")

    # --- errors --------------------------------------------------------------------------

    async def error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        known = {f.name for f in self.fields}
        failures = self.service.metrics.validation_failures
        for problem in exc.problems:
            failures.labels(problem.field if problem.field in known else "(unknown)",
                            problem.kind).inc()
        body: dict[str, Any] = {"error": exc.message, "id": request.scope.get("baton.id")}
        if exc.problems:
            body["problems"] = [problem_json(p) for p in exc.problems]
        return _json(body, exc.status, exc.headers)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: f"no route {request.url.path}; see /openapi.json",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(
            exc.status_code, exc.detail)
        return _json({"error": message, "id": request.scope.get("baton.id")},
                     exc.status_code, dict(exc.headers or {}))


class Observe:
    """Request id, in-flight gauge, request counts and latency; a 500 for anything unexpected."""

    def __init__(self, app: ASGIApp, service: Service):
        self.app = app
        self.metrics = service.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope["baton.received"] = time.time()
        scope["baton.id"] = _request_id(scope)
        status = 500
        responded = False

        async def observed_send(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", scope["baton.id"].encode())]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            log.exception("request %s failed", scope["baton.id"])
            if not responded:
                response = _json({"error": "internal error; the server log has the traceback "
                                           f"under request id {scope['baton.id']}",
                                  "id": scope["baton.id"]}, 500)
                await response(scope, receive, observed_send)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            endpoint = route.path if isinstance(route, Route) else "other"
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.request_seconds.labels(endpoint).observe(
                time.perf_counter() - started)


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            if 0 < len(value) <= 128 and value.isascii() and value.decode().isprintable():
                return value.decode()
            break
    return uuid.uuid4().hex


async def _body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ApiError(400, f"Content-Length {length!r} is not a number")
        if int(length) > limit:
            raise ApiError(413, f"the body is {int(length)} bytes; this server takes at most "
                                f"{limit} (--max-body-mb); send fewer rows per request")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes (--max-body-mb); "
                                "send fewer rows per request")
        chunks.append(chunk)
    return b"".join(chunks)


def _flag(value: str, name: str) -> bool:
    lowered = value.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ApiError(400, f"?{name}={value!r}: use true or false")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers,
                    media_type="application/json")
