"""`baton export mlflow`: a Baton package as an MLflow model, optionally registered.

The MLflow model is a `python_function` whose loader is Baton's own
(`modelbaton.bridges.mlflow.pyfunc`) and whose data is the whole package, so MLflow
serving runs the same validation, feature code and model, after the same digest checks.
Its signature comes from the interface, its input example from the golden examples and its
requirements from the package's lock. Before anything is written, the exported model is
loaded with `mlflow.pyfunc.load_model` and must reproduce the golden outputs.

`register=True` logs it to the tracking server in MLFLOW_TRACKING_URI, with the model's
hyperparameters, metrics and Baton identity on the run, and registers a model version.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...contract.errors import FlavorError, PackageError, UnsafeInputError
from ...contract.files import package_parent
from ...contract.manifest import FieldSpec, Manifest, is_todo
from ...data.schema import conform
from ...data.table import to_frame, to_table
from ...package.golden import compare_outputs, read_golden
from ...package.load import Package, open_package
from ...package.pack import _move_into_place
from ._client import call, mlflow_module, quiet, tracking_uri

LOADER_MODULE = "modelbaton.bridges.mlflow.pyfunc"
EXAMPLE_ROWS = 5
_TYPES = {"integer": "long", "number": "double", "string": "string", "boolean": "boolean",
          "datetime": "datetime"}
_MAX_PARAM_LENGTH = 6000  # MLflow refuses longer parameter values


@dataclass
class Exported:
    """What `export_model` wrote, and where MLflow registered it."""

    path: Path
    golden_rows: int
    registered_name: str | None = None
    registered_version: str | None = None
    run_id: str | None = None

    @property
    def model_uri(self) -> str | None:
        if self.registered_name is None:
            return None
        return f"models:/{self.registered_name}/{self.registered_version}"


def export_model(package: Package | str | Path, dest: str | Path, *, register: bool = False,
                 registered_name: str | None = None, experiment: str | None = None,
                 allow_pickle: bool = False, overwrite: bool = False) -> Exported:
    """Write `package` as an MLflow model folder at `dest` that reproduces its golden outputs.

    register: also log it to MLFLOW_TRACKING_URI and register it as `registered_name`
        (the package name by default), in `experiment` (the package name by default).
    allow_pickle: needed for a package whose artifact is a pickle; the exported model then
        loads it without asking again.
    """
    package = package if isinstance(package, Package) else open_package(package)
    manifest = package.manifest
    dest = Path(dest)
    if manifest.model.allow_pickle and not allow_pickle:
        raise UnsafeInputError(f"{manifest.name} {manifest.version} holds a pickle, and the "
                               "exported MLflow model would load it without asking",
                               hint="pass --allow-pickle only if you trust its author")
    if dest.exists() and not overwrite:
        raise PackageError(f"{dest} already exists", hint="pass --force to replace it")
    if dest.resolve().is_relative_to(package.root.resolve()):
        raise PackageError(f"{dest} is inside the package", hint="export to another folder")
    mlflow = mlflow_module()
    if register:
        tracking_uri("--register")
    package_parent(dest, "export to", error=PackageError)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.staging-", dir=dest.parent))
    try:
        with quiet():
            data = stage / f"{manifest.name}-{manifest.version}"
            shutil.copytree(package.root, data, ignore=shutil.ignore_patterns("__pycache__"))
            model = _model_arguments(package, data)
            mlflow.pyfunc.save_model(path=str(stage / "model"), **model)
            rows = _prove(stage / "model", package)
            exported = Exported(path=dest, golden_rows=rows)
            if register:
                _register(package, model, exported, registered_name or manifest.name,
                          experiment or manifest.name)
        _move_into_place(stage / "model", dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return exported


def _model_arguments(package: Package, data: Path) -> dict[str, Any]:
    """What `mlflow.pyfunc.save_model` and `log_model` both take for this package."""
    manifest = package.manifest
    golden = read_golden(package.root / manifest.golden.path) if manifest.golden else None
    example = None
    if golden is not None:
        inputs = conform(golden.inputs, manifest.interface.inputs)
        example = to_frame({k: v[:EXAMPLE_ROWS] for k, v in inputs.items()})
    return {
        "loader_module": LOADER_MODULE,
        "data_path": str(data),
        "signature": signature(manifest),
        "input_example": example,
        "pip_requirements": requirements(package),
        "model_config": {"allow_pickle": True} if manifest.model.allow_pickle else None,
        "metadata": {"baton": {"name": manifest.name, "version": manifest.version,
                               "digest": package.digest}},
    }


def signature(manifest: Manifest) -> Any:
    """The interface as an MLflow signature: one column per input and output field."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    def column(field: FieldSpec) -> Any:
        kind = _TYPES[field.type]
        if kind == "long" and field.nullable:
            kind = "double"  # MLflow's integers cannot hold a missing value
        return ColSpec(type=kind, name=field.name, required=not field.nullable)

    return ModelSignature(inputs=Schema([column(f) for f in manifest.interface.inputs]),
                          outputs=Schema([column(f) for f in manifest.interface.outputs]))


def requirements(package: Package) -> list[str]:
    """Baton itself and the package's pins, without hashes pip would then demand for all."""
    from ... import __version__

    pins = [f"modelbaton=={__version__}"]
    environment = package.manifest.environment
    lock = package.root / environment.lock if environment else None
    if lock is not None and lock.is_file():
        for line in lock.read_text(encoding="utf-8").splitlines():
            line = re.sub(r"\s+--hash=\S+", "", line.split("#", 1)[0]).strip()
            if line and not line.startswith("-") and not line.startswith("modelbaton"):
                pins.append(line)
    return pins


def _prove(folder: Path, package: Package) -> int:
    """Load the exported model as MLflow would and replay the golden examples through it."""
    manifest = package.manifest
    if manifest.golden is None:
        raise PackageError(f"{manifest.name} {manifest.version} has no golden examples to "
                           "prove the export with", hint="re-pack it with modelbaton.pack")
    golden = read_golden(package.root / manifest.golden.path)
    mlflow = mlflow_module()
    try:
        model = mlflow.pyfunc.load_model(str(folder), suppress_warnings=True)
        got = model.predict(to_frame(conform(golden.inputs, manifest.interface.inputs)))
    except Exception as exc:  # MLflow's or the model's own failure
        raise FlavorError(f"the exported MLflow model fails on the golden examples: "
                          f"{type(exc).__name__}: {exc}") from None
    comparison = compare_outputs(golden.outputs, to_table(got), rtol=manifest.golden.rtol,
                                 atol=manifest.golden.atol)
    if not comparison.ok:
        raise FlavorError("the exported MLflow model does not reproduce the golden outputs: "
                          f"{comparison.mismatches[0]}")
    return comparison.rows


def _register(package: Package, model: dict[str, Any], exported: Exported, name: str,
              experiment: str) -> None:
    mlflow = mlflow_module()
    manifest = package.manifest
    call(f"experiment {experiment}", mlflow.set_experiment, experiment)
    with mlflow.start_run(run_name=f"{manifest.name}-{manifest.version}") as run:
        params = _params(manifest.model.hyperparameters)
        if params:
            call("logging parameters", mlflow.log_params, params)
        metrics = {_key(m.name): float(m.value) for m in
                   (manifest.evaluation.metrics if manifest.evaluation else [])
                   if m.value is not None and math.isfinite(m.value)}
        if metrics:
            call("logging metrics", mlflow.log_metrics, metrics)
        call("tagging the run", mlflow.set_tags, _tags(package))
        info = call(f"registering {name}", mlflow.pyfunc.log_model, name="model",
                    registered_model_name=name, **model)
    exported.run_id = run.info.run_id
    exported.registered_name = name
    exported.registered_version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    call(f"tagging {name}", client.set_model_version_tag, name, exported.registered_version,
         "baton.digest", package.digest)
    if manifest.description and not is_todo(manifest.description):
        call(f"describing {name}", client.update_model_version, name,
             exported.registered_version, description=manifest.description)


def _params(hyperparameters: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested hyperparameters as MLflow's flat text parameters."""
    flat: dict[str, str] = {}
    for key, value in hyperparameters.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_params(value, prefix=f"{name}."))
        else:
            flat[_key(name)] = str(value)[:_MAX_PARAM_LENGTH]
    return flat


def _tags(package: Package) -> dict[str, str]:
    manifest = package.manifest
    tags = {"baton.name": manifest.name, "baton.version": manifest.version,
            "baton.digest": package.digest}
    lineage = manifest.lineage
    if lineage and lineage.git_commit:
        tags["mlflow.source.git.commit"] = lineage.git_commit
    if lineage and lineage.source:
        tags["baton.source"] = lineage.source
    return tags


def _key(name: str) -> str:
    """A name MLflow accepts: letters, digits, _ - . / and spaces, at most 250 characters."""
    return re.sub(r"[^\w\-. /]", "_", name)[:250]
