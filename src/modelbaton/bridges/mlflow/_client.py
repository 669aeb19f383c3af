"""Talking to MLflow: the import, a quiet console, the tracking server and its errors."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ...contract.errors import BatonError, MissingExtraError, PackageError
from ...package.capture import strip_credentials

T = TypeVar("T")
TRACKING_VARIABLE = "MLFLOW_TRACKING_URI"


def mlflow_module() -> Any:
    try:
        import mlflow
    except ImportError:
        raise MissingExtraError("mlflow", "mlflow") from None
    return mlflow


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow's logs, progress bars, links and hints are noise around a Baton command."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    progress = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    logger.setLevel(logging.ERROR)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        # MLflow also writes to stdout itself ("View run ..."), which would corrupt --json.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            # MLflow adds filters of its own as it imports; silence what reaches the console.
            warnings.showwarning = lambda *args, **kwargs: None
            yield
    finally:
        logger.setLevel(level)
        if progress is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = progress


def tracking_uri(purpose: str) -> str:
    """The server MLFLOW_TRACKING_URI names, checked to answer before anything is sent.

    It must be set explicitly: MLflow's own default (an `mlflow.db` in the working folder)
    would silently create an empty store instead of finding the team's models.
    """
    uri = os.environ.get(TRACKING_VARIABLE, "").strip()
    if not uri:
        raise BatonError(f"{purpose} needs the MLflow tracking server in {TRACKING_VARIABLE}",
                         hint=f"export {TRACKING_VARIABLE}=http://your-mlflow:5000")
    if uri.startswith(("http://", "https://")):
        _probe(uri)
    return uri


def _probe(uri: str) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when nothing answers."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):
            pass
    except urllib.error.HTTPError:
        return  # it answered; authentication or routing is MLflow's business
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BatonError(f"cannot reach the MLflow tracking server at {shown(uri)} ({reason})",
                         hint=f"is it running? check {TRACKING_VARIABLE}") from None


def shown(uri: str) -> str:
    """A URI as it may be printed: without user or token."""
    return strip_credentials(uri)


def call(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one MLflow call; its failures become one-line Baton errors naming `what`."""
    mlflow = mlflow_module()
    try:
        return fn(*args, **kwargs)
    except mlflow.exceptions.MlflowException as exc:
        raise mlflow_error(what, exc) from None


def mlflow_error(what: str, exc: Any) -> BatonError:
    """An MlflowException as a Baton error: not found, or what MLflow said."""
    message = str(exc.message).splitlines()[0] if exc.message else type(exc).__name__
    if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
        uri = os.environ.get(TRACKING_VARIABLE, "")
        return PackageError(f"{what}: not found on the MLflow server {shown(uri)} ({message})",
                            hint="check the name, version, run id or artifact path")
    return BatonError(f"{what}: MLflow says: {message}")
