"""Where an MLflow model comes from: a folder, `models:/...` or `runs:/...`, and its run.

Remote models are downloaded with MLflow's own client from the server MLFLOW_TRACKING_URI
names. The run that trained the model is read as well: its parameters, metrics, tags and
the datasets it logged are what a Baton package records as hyperparameters, evaluation
and lineage.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...contract.errors import BatonError, PackageError
from ._client import TRACKING_VARIABLE, call, mlflow_error, mlflow_module, shown, tracking_uri

MLMODEL = "MLmodel"
_ROLES = {"training": "training", "train": "training", "validation": "validation",
          "eval": "evaluation", "evaluation": "evaluation", "test": "test"}


@dataclass
class Run:
    """What MLflow recorded about the training run (empty when it is not known)."""

    run_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    #: name -> (value, dataset name or None)
    metrics: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: Dataset sections (as dicts) for the datasets the run logged.
    datasets: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Source:
    """An MLflow model folder on local disk, and what is known about where it came from."""

    uri: str
    folder: Path
    run: Run = field(default_factory=Run)
    registered_name: str | None = None
    registered_version: str | None = None
    description: str | None = None
    notes: list[str] = field(default_factory=list)


def fetch(uri: str, workdir: Path) -> Source:
    """The model at `uri` as a local folder (downloaded into `workdir` when remote)."""
    if uri.startswith("models:/"):
        return _registered(uri, workdir)
    if uri.startswith("runs:/"):
        return _run_artifact(uri, workdir)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", uri) and not uri.startswith("file://"):
        raise BatonError(f"cannot import from {uri}",
                         hint="give an MLflow model folder, models:/NAME/VERSION, "
                              "models:/NAME@ALIAS or runs:/RUN_ID/PATH")
    return _local(Path(uri.removeprefix("file://")), uri)


def model_folder(path: Path) -> Path:
    """`path` if it holds an MLmodel file, else a one-line error saying what to give."""
    if not path.exists():
        raise PackageError(f"{path} does not exist",
                           hint="give an MLflow model folder, models:/NAME/VERSION or "
                                "runs:/RUN_ID/PATH")
    if path.is_file() and path.name == MLMODEL:
        path = path.parent
    if not (path / MLMODEL).is_file():
        raise PackageError(f"{path} is not an MLflow model: it has no {MLMODEL} file",
                           hint="give the folder that holds MLmodel (e.g. the model's "
                                "artifact folder), or models:/NAME/VERSION")
    return path


def _local(path: Path, uri: str) -> Source:
    folder = model_folder(path)
    source = Source(uri=uri, folder=folder)
    # A folder says which run made it; the run is read only from a server named explicitly.
    run_id, model_id = _ids(folder)
    if run_id and os.environ.get(TRACKING_VARIABLE):
        try:
            client = _client("reading the run")
            source.run = _run(client, run_id, model_id)
        except BatonError as exc:
            source.notes.append(f"the run {run_id} that made this model could not be read, "
                                f"so its parameters, metrics and tags are missing: {exc}")
    return source


def _client(purpose: str) -> Any:
    uri = tracking_uri(purpose)
    return mlflow_module().MlflowClient(tracking_uri=uri)


def _registered(uri: str, workdir: Path) -> Source:
    client = _client(f"importing {uri}")
    rest = uri.removeprefix("models:/").strip("/")
    if re.fullmatch(r"m-[0-9a-f]+", rest):  # an MLflow 3 logged model id
        logged = call(uri, client.get_logged_model, rest)
        folder = _download(uri, workdir)
        source = Source(uri=uri, folder=folder)
        source.run = _run(client, logged.source_run_id, rest) if logged.source_run_id else Run()
        return source
    if "@" in rest:
        name, alias = rest.split("@", 1)
        version = call(uri, client.get_model_version_by_alias, name, alias)
    else:
        name, _, number = rest.partition("/")
        if not name or not number:
            raise BatonError(f"{uri} names no version",
                             hint="use models:/NAME/VERSION or models:/NAME@ALIAS")
        if number == "latest":
            found = call(uri, client.search_model_versions, f"name = '{_quoted(name)}'")
            if not found:
                raise PackageError(f"{uri}: the registered model {name} has no versions on "
                                   f"{shown(os.environ[TRACKING_VARIABLE])}")
            version = max(found, key=lambda v: int(v.version))
        elif number.isdigit():
            version = call(uri, client.get_model_version, name, number)
        else:
            raise BatonError(f"{uri}: '{number}' is not a version number",
                             hint="use models:/NAME/VERSION, models:/NAME/latest or "
                                  "models:/NAME@ALIAS (MLflow stages are deprecated)")
    folder = _download(f"models:/{name}/{version.version}", workdir)
    source = Source(uri=uri, folder=folder, registered_name=name,
                    registered_version=str(version.version))
    registered = call(uri, client.get_registered_model, name)
    source.description = version.description or registered.description or None
    if version.run_id:
        _, model_id = _ids(folder)
        try:
            source.run = _run(client, version.run_id, model_id)
        except PackageError as exc:  # the run was deleted; the model version remains
            source.notes.append(f"the run {version.run_id} is gone, so its parameters, "
                                f"metrics and tags are missing ({exc.message})")
    return source


def _run_artifact(uri: str, workdir: Path) -> Source:
    client = _client(f"importing {uri}")
    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    if not run_id or not path.strip("/"):
        raise BatonError(f"{uri} names no artifact path",
                         hint="use runs:/RUN_ID/PATH, e.g. runs:/0a1b2c/model")
    _run(client, run_id, None, what=uri)  # an unknown run fails before any download
    folder = _download(uri, workdir)
    _, model_id = _ids(folder)
    return Source(uri=uri, folder=folder, run=_run(client, run_id, model_id, what=uri))


def _download(uri: str, workdir: Path) -> Path:
    mlflow = mlflow_module()
    target = workdir / "download"
    target.mkdir()
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target))
    except mlflow.exceptions.MlflowException as exc:
        raise mlflow_error(uri, exc) from None
    except OSError as exc:
        raise PackageError(f"{uri}: the model's files cannot be downloaded ({exc})",
                           hint="is the artifact path right? `mlflow artifacts list` shows it"
                           ) from None
    folder = Path(local)
    if not (folder / MLMODEL).is_file():
        raise PackageError(f"{uri} is not an MLflow model: it has no {MLMODEL} file",
                           hint="point at the folder the model was logged to, e.g. "
                                "runs:/RUN_ID/model")
    return folder


def _ids(folder: Path) -> tuple[str | None, str | None]:
    try:
        meta = yaml.safe_load((folder / MLMODEL).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None, None
    if not isinstance(meta, dict):
        return None, None
    return meta.get("run_id") or None, meta.get("model_id") or None


def _run(client: Any, run_id: str, model_id: str | None, what: str | None = None) -> Run:
    run = call(what or f"run {run_id}", client.get_run, run_id)
    found = Run(run_id=run_id, params=dict(run.data.params), tags=dict(run.data.tags),
                metrics={k: (float(v), None) for k, v in run.data.metrics.items()},
                datasets=_datasets(run.inputs.dataset_inputs if run.inputs else []))
    if model_id:  # MLflow 3 records parameters and metrics on the logged model too
        try:
            logged = client.get_logged_model(model_id)
        except Exception:  # an older server, or a model logged before MLflow 3
            return found
        found.params.update(logged.params or {})
        for metric in logged.metrics or []:
            found.metrics[metric.key] = (float(metric.value),
                                         metric.dataset_name or found.metrics.get(
                                             metric.key, (0.0, None))[1])
    return found


def _datasets(inputs: list[Any]) -> list[dict[str, Any]]:
    """Dataset sections for the datasets a run logged with `mlflow.log_input`."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for item in inputs:
        dataset = item.dataset
        context = {t.key: t.value for t in item.tags or []}.get("mlflow.data.context", "")
        role = _ROLES.get(context.lower(), "other")
        entry: dict[str, Any] = {"name": dataset.name, "role": role}
        location = _location(dataset.source)
        if location:
            entry["location"] = shown(location)
        rows = _json(dataset.profile).get("num_rows")
        if isinstance(rows, int):
            entry["rows"] = rows
        columns = [c.get("name") for c in _json(dataset.schema).get("mlflow_colspec", [])
                   if isinstance(c, dict) and c.get("name")]
        if columns:
            entry["columns"] = columns
        found.setdefault((dataset.name, role), entry)
    return list(found.values())


def _location(source: str | None) -> str | None:
    data = _json(source)
    for key in ("uri", "url", "path", "table_name"):
        if isinstance(data.get(key), str):
            return data[key]
    return source or None


def _json(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")
