"""`baton serve`, `containerize` and `k8s`: running a package over HTTP, and deploying it."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..contract.errors import BatonError
from ..serve.options import ServeOptions
from ._common import err, open_ref, out, print_json


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("containerize")(containerize)
    app.command("k8s")(k8s)


def serve(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    max_batch_size: Annotated[int, typer.Option(help="Most rows in one model call.")] = 64,
    max_latency_ms: Annotated[float, typer.Option(
        help="How long a batch may wait for requests already arriving.")] = 5.0,
    max_queue: Annotated[int, typer.Option(
        help="Requests that may wait for the model; beyond, 503 + Retry-After.")] = 512,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body.")] = 10.0,
    log_dir: Annotated[Optional[Path], typer.Option(
        help="Write the prediction log (Parquet) here.")] = None,
    log_roll_mb: Annotated[float, typer.Option(help="Start a new log file past this size.")] =
    64.0,
    log_roll_seconds: Annotated[float, typer.Option(
        help="Start a new log file after this long.")] = 300.0,
    log_queue: Annotated[int, typer.Option(
        help="Log records that may wait for the disk; beyond, dropped and counted.")] =
    100_000,
    shadow: Annotated[Optional[str], typer.Option(
        help="Candidate package (or reference) that answers every request in the "
             "background, for comparison.")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Announce the address as one JSON "
                                                         "line.")] = False,
) -> None:
    """Serve a package: /predict, Open Inference Protocol v2, /metrics, /shadow."""
    # The settings are checked before the packages load (which may take a while).
    options = ServeOptions(
        package=ref, shadow=shadow, host=host, port=port, workers=workers,
        max_batch_size=max_batch_size, max_latency_ms=max_latency_ms, max_queue=max_queue,
        max_body_bytes=ServeOptions.megabytes("--max-body-mb", max_body_mb),
        log_dir=str(log_dir) if log_dir else None,
        log_roll_bytes=ServeOptions.megabytes("--log-roll-mb", log_roll_mb),
        log_roll_seconds=log_roll_seconds, log_queue_rows=log_queue, allow_pickle=allow_pickle)
    if log_dir is not None and log_dir.exists() and not log_dir.is_dir():
        raise BatonError(f"--log-dir {log_dir} is a file, not a folder",
                         hint="give a folder (it is created if missing)")
    primary = open_ref(ref)
    candidate = open_ref(shadow) if shadow else None
    options = dataclasses.replace(options, package=str(primary.root),
                                  shadow=str(candidate.root) if candidate else None)
    name = f"{primary.manifest.name} {primary.manifest.version}"

    def announce(bound_host: str, bound_port: int) -> None:
        url = f"http://{bound_host}:{bound_port}"
        if as_json:
            print(json.dumps({"url": url, "model": primary.manifest.name,
                              "version": primary.manifest.version, "digest": primary.digest,
                              "shadow": candidate.manifest.name if candidate else None,
                              "pid": os.getpid(), "workers": workers}), flush=True)
            return
        out.print(f"serving [bold]{name}[/] at {url}  (POST /predict, /v2/models/"
                  f"{primary.manifest.name}/infer, GET /metrics"
                  + (", /shadow" if candidate else "") + ")")
        if candidate:
            out.print(f"shadow: {candidate.manifest.name} {candidate.manifest.version} answers "
                      "every request in the background")
        err.print("press Ctrl-C to stop")

    from ..serve.server import run

    run(options, announce=announce)


def containerize(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Build context folder to "
                                                             "write.")] = Path("image"),
    base: Annotated[Optional[str], typer.Option(
        help="Base image (default: python:<packed version>-slim).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes in the container.")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write a Docker build context: Dockerfile, .dockerignore, pins and the package."""
    from ..serve.deploy import containerize as write_context
    from ..serve.deploy import image_name

    if workers < 1:
        raise BatonError(f"--workers must be at least 1, got {workers}")
    package = open_ref(ref)
    files = write_context(package, out_dir, base=base, workers=workers, force=force)
    image = image_name(package)
    if as_json:
        print_json({"context": str(out_dir), "files": [str(f) for f in files],
                    "image": image, "digest": package.digest})
        return
    out.print(f"wrote a build context for [bold]{package.manifest.name} "
              f"{package.manifest.version}[/] in {out_dir}/: Dockerfile, .dockerignore, "
              "serve.lock, package/")
    out.print(f"build it with: docker build -t {image} {out_dir}")


def k8s(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    output: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the YAML here; "
                                                                      "else stdout.")] = None,
    image: Annotated[Optional[str], typer.Option(help="Container image (default: "
                                                      "<name>:<version>).")] = None,
    replicas: Annotated[int, typer.Option(help="Replicas (and the autoscaler's "
                                               "minimum).")] = 2,
    max_replicas: Annotated[Optional[int], typer.Option(help="Autoscaler maximum.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes per pod.")] = 1,
    namespace: Annotated[Optional[str], typer.Option(help="Namespace of the objects.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write Kubernetes Deployment, Service and HorizontalPodAutoscaler manifests."""
    from ..serve.deploy import kubernetes, memory

    if workers < 1:
        raise BatonError(f"--workers must be at least 1, got {workers}")
    package = open_ref(ref)
    text = kubernetes(package, image=image, replicas=replicas, max_replicas=max_replicas,
                      workers=workers, namespace=namespace)
    if output is None and not as_json:
        sys.stdout.write(text)
        return
    if output is not None:
        tmp = output.with_name(f".{output.name}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(output)
        except OSError as exc:
            raise BatonError(f"cannot write {output}: {exc.strerror}",
                             hint="give a path in an existing, writable folder") from None
    mem = memory(package, workers)
    if as_json:
        print_json({"path": str(output) if output else None, "yaml": None if output else text,
                    "memory_request_mb": mem.request_mb, "memory_limit_mb": mem.limit_mb,
                    "memory_source": mem.source})
        return
    out.print(f"wrote Deployment, Service and HorizontalPodAutoscaler to {output} "
              f"(memory request {mem.request_mb}Mi: {mem.source})")
