"""Serving a package over HTTP: validation, Open Inference Protocol v2, micro-batching,
Prometheus metrics, a Parquet prediction log, live shadow, and deployment files.

    from modelbaton.serve import ServeOptions, create_app
    app = create_app(ServeOptions(package="churn-1.0.0", log_dir="predictions"))

`baton serve PKG` runs it under uvicorn; `baton containerize` and `baton k8s` write the
files that deploy it.
"""

from __future__ import annotations

from .options import ServeOptions

__all__ = ["ServeOptions", "create_app"]


def __getattr__(name: str):  # the app pulls in Starlette; import it only when asked
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
