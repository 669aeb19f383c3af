"""`baton import mlflow`: an MLflow model becomes a Baton package, nothing re-packaged by hand.

What MLflow recorded             becomes in the package
-------------------------------  --------------------------------------------------------
flavor and artifact              the Baton flavor, in its safe format (skops, UBJSON, ...)
signature                        the interface's input fields (types, nullability)
input_example                    golden examples, outputs recomputed here and recorded
requirements.txt, python_env     the lock: MLflow's requirements, pinned as installed here
run params / metrics             model hyperparameters / evaluation metrics
run tags, git commit, datasets   lineage and data lineage
code_paths                       code/

What MLflow does not know (owners, limitations, business meaning, retraining, monitoring)
stays a TODO marker for `baton check`, unless a `baton.yaml` draft fills it in.

Safe by default: skops artifacts load only the types MLflow recorded as trusted (and
never types that run code); pickle and cloudpickle artifacts need `allow_pickle=True`.
Native flavors are re-saved in Baton's safe formats; a `python_function` model that only
MLflow can run is kept whole, behind the `mlflow` flavor.
"""

from __future__ import annotations

import ast
import contextlib
import platform
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ...contract.errors import (
    BatonError, DataError, FlavorError, MissingExtraError, PackageError, UnsafeInputError,
)
from ...contract.files import package_parent
from ...contract.io import read_manifest
from ...contract.manifest import TODO, Draft, FieldSpec, Lineage
from ...data.schema import conform, infer_fields
from ...data.table import Table, read_table, to_table
from ...flavors import get_flavor
from ...flavors.mlflow import PyfuncFolder
from ...flavors.xgboost import _WRAPPERS as XGBOOST_CLASSES
from ...package import capture
from ...package.archive import SUFFIX, write_archive
from ...package.load import code_on_path, open_package
from ...package.pack import _move_into_place, pack
from ._client import mlflow_module, quiet, shown
from ._source import Source, fetch
from .exporter import LOADER_MODULE

#: MLflow flavors that become a Baton flavor of their own, in the order they are preferred;
#: any other model with a python_function flavor runs through MLflow.
SUPPORTED = ("sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "python_function")
_MLFLOW_DISTRIBUTIONS = {"mlflow", "mlflow-skinny", "mlflow-tracing"}
#: Modules whose types can run code; no MLmodel may make skops trust them.
_CODE_RUNNING = {"builtins", "os", "posix", "nt", "subprocess", "sys", "shutil", "importlib",
                 "pickle", "marshal", "runpy", "socket", "ctypes", "code", "codeop", "pty",
                 "webbrowser", "operator", "types", "io", "pathlib"}
#: Run tags worth keeping besides the user's own; the rest of `mlflow.*` is bookkeeping.
_KEPT_MLFLOW_TAGS = ("mlflow.user", "mlflow.runName", "mlflow.source.name",
                     "mlflow.source.type", "mlflow.parentRunId")
_SECRET_WORDS = ("token", "secret", "password", "passwd", "apikey", "api_key", "credential")
_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "rmse", "mape", "deviance", "perplexity")
EXAMPLE = "input_example"


@dataclass
class Imported:
    """What `import_model` made, for the command's report."""

    path: Path
    source: str
    mlflow_flavor: str
    flavor: str
    inputs_from: str  # "signature" or "sample"
    golden_from: str  # "input_example" or the sample file
    params: int = 0
    metrics: int = 0
    run_id: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Loaded:
    """The model object, the Baton flavor that packs it, and the code it needs."""

    model: Any
    flavor: str
    code: Path | None = None


def import_model(source: str | Path, path: str | Path | None = None, *,
                 name: str | None = None, version: str | None = None,
                 sample: str | Path | None = None,
                 handoff: str | Path | Mapping[str, Any] | None = None,
                 allow_pickle: bool = False, overwrite: bool = False) -> Imported:
    """Turn the MLflow model at `source` into a Baton package at `path`.

    source: an MLflow model folder, `models:/NAME/VERSION`, `models:/NAME@ALIAS` or
        `runs:/RUN_ID/PATH` (from the server in MLFLOW_TRACKING_URI).
    path: the package folder (or `.baton` file); `NAME-VERSION` by default.
    sample: rows of model input for the golden examples, instead of the input_example.
    handoff: a `baton.yaml` draft with the sections MLflow does not know.
    allow_pickle: accept an artifact MLflow pickled; the package holds a safe format
        unless the model is a python_function only MLflow can run.
    """
    mlflow_module()
    with quiet(), tempfile.TemporaryDirectory(prefix="baton-mlflow-") as work:
        src = fetch(str(source), Path(work))
        meta = _mlmodel(src.folder)
        flavors = meta.flavors or {}
        pyfunc = flavors.get("python_function") or {}
        if pyfunc.get("loader_module") == LOADER_MODULE:
            changes = {"--name": name, "--version": version, "--sample": sample,
                       "--config": handoff}
            return _unchanged(src, pyfunc, path, [k for k, v in changes.items() if v],
                              overwrite)
        mlflow_flavor = next((f for f in SUPPORTED if f in flavors), None)
        if mlflow_flavor is None:
            raise FlavorError(f"{src.uri}: MLflow flavor {', '.join(flavors) or '(none)'} "
                              "is not supported",
                              hint=f"Baton imports {', '.join(SUPPORTED)}, and any model "
                                   "saved with a python_function flavor")
        loaded = _load(src, mlflow_flavor, flavors[mlflow_flavor], allow_pickle)
        table, golden_from = _sample(src, meta, sample)
        inputs, inputs_from = _inputs(meta, table, from_example=sample is None)
        try:
            table = conform(table, inputs)
        except DataError as exc:  # name the file the golden rows come from
            raise DataError(f"{golden_from}: {exc.message}", hint=exc.hint) from None
        draft = _draft(handoff, src, name=name, version=version)
        lock = Path(work) / "requirements.lock"
        notes = list(src.notes)
        lock.write_text(_lock(src.folder, loaded, notes), encoding="utf-8")
        target = Path(path) if path else Path(f"{draft['name']}-{draft['version']}")
        pack(loaded.model, target, sample_input=table, name=draft["name"],
             version=draft["version"], code=loaded.code, inputs=inputs, requirements=lock,
             handoff=draft, flavor=loaded.flavor, allow_pickle=allow_pickle,
             lineage=_lineage(src, meta), overwrite=overwrite)
    return Imported(path=target, source=src.uri, mlflow_flavor=mlflow_flavor,
                    flavor=loaded.flavor, inputs_from=inputs_from, golden_from=golden_from,
                    params=len(src.run.params), metrics=len(src.run.metrics),
                    run_id=src.run.run_id or meta.run_id, notes=notes)


def _unchanged(src: Source, conf: dict[str, Any], path: str | Path | None,
               changes: list[str], overwrite: bool) -> Imported:
    """A model `baton export mlflow` wrote holds a package: it comes back as it was."""
    package = open_package(_artifact(src, conf, "data", "python_function"))
    manifest = package.manifest
    if changes:
        raise BatonError(f"{src.uri} holds the Baton package {manifest.name} "
                         f"{manifest.version}, which is imported unchanged",
                         hint=f"drop {', '.join(changes)}; a package's contents are fixed by "
                              "its digest")
    target = Path(path) if path else Path(f"{manifest.name}-{manifest.version}")
    if target.exists() and not overwrite:
        raise PackageError(f"{target} already exists", hint="pass --force to replace it")
    package_parent(target, "import into", error=PackageError)
    if target.suffix == SUFFIX:
        write_archive(package.root, target)
    else:
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
        try:
            shutil.copytree(package.root, stage / "package")
            _move_into_place(stage / "package", target)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return Imported(path=target, source=src.uri, mlflow_flavor="python_function",
                    flavor=manifest.model.flavor, inputs_from="package", golden_from="package",
                    run_id=manifest.lineage.run_id if manifest.lineage else None,
                    notes=[f"exported by Baton: the package inside is imported unchanged, "
                           f"digest {package.digest[:12]}"])


def _mlmodel(folder: Path) -> Any:
    try:
        return mlflow_module().models.Model.load(str(folder))
    except Exception as exc:  # MLflow raises several types for a damaged MLmodel
        raise PackageError(f"{folder / 'MLmodel'} cannot be read: {exc}",
                           hint="is this a complete MLflow model folder?") from None


# --- the artifact ------------------------------------------------------------------------


def _load(src: Source, mlflow_flavor: str, conf: dict[str, Any], allow_pickle: bool) -> _Loaded:
    if mlflow_flavor == "python_function":
        return _load_pyfunc(src, allow_pickle)
    loader = {"sklearn": _load_sklearn, "xgboost": _load_xgboost,
              "lightgbm": _load_lightgbm, "onnx": _load_onnx, "pytorch": _load_pytorch}
    code = _code(src.folder, conf)
    with code_on_path(code) if code else contextlib.nullcontext():
        try:
            loaded = loader[mlflow_flavor](src, conf or {}, allow_pickle)
        except BatonError:
            raise
        except Exception as exc:  # the library's own complaint about the artifact
            raise FlavorError(f"{src.uri}: the {mlflow_flavor} artifact cannot be loaded: "
                              f"{type(exc).__name__}: {exc}") from None
    loaded.code = code
    return loaded


def _load_sklearn(src: Source, conf: dict[str, Any], allow_pickle: bool) -> _Loaded:
    path = _artifact(src, conf, "pickled_model", "sklearn")
    return _skops_or_pickle(src, conf, path, "sklearn", allow_pickle, default="pickle")


def _load_xgboost(src: Source, conf: dict[str, Any], allow_pickle: bool) -> _Loaded:
    path = _artifact(src, conf, "data", "xgboost")
    xgb = get_flavor("xgboost").import_library()
    qualified = conf.get("model_class") or "xgboost.core.Booster"
    kind = qualified.rsplit(".", 1)[-1]
    if not qualified.startswith("xgboost.") or kind not in (*XGBOOST_CLASSES, "Booster"):
        raise FlavorError(f"{src.uri}: unsupported XGBoost model class {qualified}",
                          hint=f"supported: Booster, {', '.join(XGBOOST_CLASSES)}")
    if kind == "Booster":
        return _Loaded(xgb.Booster(model_file=str(path)), "xgboost")
    model = getattr(xgb, kind)()
    model.load_model(str(path))
    return _Loaded(model, "xgboost")


def _load_lightgbm(src: Source, conf: dict[str, Any], allow_pickle: bool) -> _Loaded:
    path = _artifact(src, conf, "data", "lightgbm")
    if str(conf.get("model_class", "")).endswith(".Booster") or path.suffix in (".lgb", ".txt"):
        lgb = get_flavor("lightgbm").import_library()
        return _Loaded(lgb.Booster(model_file=str(path)), "lightgbm")
    return _skops_or_pickle(src, conf, path, "lightgbm", allow_pickle, default="cloudpickle")


def _load_onnx(src: Source, conf: dict[str, Any], allow_pickle: bool) -> _Loaded:
    return _Loaded(_artifact(src, conf, "data", "onnx"), "onnx")


def _load_pytorch(src: Source, conf: dict[str, Any], allow_pickle: bool) -> _Loaded:
    data = _artifact(src, conf, "model_data", "pytorch")
    exported = data / "model.pt2"
    if exported.is_file():  # MLflow 3's default: torch.export, no pickle
        return _Loaded(get_flavor("torch").read_file(exported), "torch")
    _consent(src, "pytorch", "pickle", allow_pickle)
    return _Loaded(mlflow_module().pytorch.load_model(str(src.folder)), "torch")


def _load_pyfunc(src: Source, allow_pickle: bool) -> _Loaded:
    folder = PyfuncFolder(src.folder)
    if folder.pickled:
        _consent(src, "python_function", f"its loader {folder.conf.get('loader_module')}",
                 allow_pickle, kept=True)
    folder.model  # noqa: B018 - load it now, so a broken model fails here
    return _Loaded(folder, "mlflow")


def _skops_or_pickle(src: Source, conf: dict[str, Any], path: Path, flavor: str,
                     allow_pickle: bool, default: str) -> _Loaded:
    """skops loads what MLflow recorded as trusted; (cloud)pickle loads through MLflow."""
    serialization = conf.get("serialization_format") or default
    if serialization == "skops":
        return _Loaded(_skops(src, path, conf), flavor)
    _consent(src, flavor, serialization, allow_pickle)
    return _Loaded(getattr(mlflow_module(), flavor).load_model(str(src.folder)), flavor)


def _skops(src: Source, path: Path, conf: dict[str, Any]) -> Any:
    """Load a skops artifact trusting exactly the types MLflow recorded, and no code."""
    try:
        import skops.io as sio
    except ImportError:
        raise MissingExtraError("skops", "sklearn") from None
    recorded = set(conf.get("skops_trusted_types") or [])
    found = set(sio.get_untrusted_types(file=path))
    unrecorded = sorted(found - recorded)
    if unrecorded:
        raise UnsafeInputError(
            f"{src.uri}: {path.name} holds types MLflow did not record as trusted: "
            + ", ".join(unrecorded),
            hint="the artifact does not match its MLmodel; log the model again with "
                 "skops_trusted_types listing them")
    dangerous = sorted(t for t in found if t.split(".")[0] in _CODE_RUNNING)
    if dangerous:
        raise UnsafeInputError(f"{src.uri}: the MLmodel trusts {', '.join(dangerous)}, which "
                               "can run arbitrary code when the model loads",
                               hint="refused; log the model again without them")
    return sio.load(path, trusted=sorted(found))


def _consent(src: Source, flavor: str, serialization: str, allow_pickle: bool,
             kept: bool = False) -> None:
    if allow_pickle:
        return
    after = ("the package then records it as a pickle" if kept
             else "the package then holds it in a safe format")
    raise UnsafeInputError(f"{src.uri}: the MLflow {flavor} model is loaded with "
                           f"{serialization}, which can run arbitrary code",
                           hint=f"pass --allow-pickle only if you trust its author; {after}")


def _artifact(src: Source, conf: dict[str, Any], key: str, flavor: str) -> Path:
    """The flavor's artifact path, which must exist and stay inside the model folder."""
    relative = conf.get(key)
    if not isinstance(relative, str) or not relative:
        raise PackageError(f"{src.uri}: the MLmodel's {flavor} flavor names no `{key}`",
                           hint="is the MLmodel file complete?")
    path = (src.folder / relative).resolve()
    if not path.is_relative_to(src.folder.resolve()):
        raise UnsafeInputError(f"{src.uri}: the MLmodel points outside the model folder "
                               f"({relative})", hint="refused; the MLmodel was tampered with")
    if not path.exists():
        raise PackageError(f"{src.uri}: the {flavor} artifact {relative} is missing",
                           where=str(src.folder), hint="download the whole model folder again")
    return path


def _code(folder: Path, conf: dict[str, Any]) -> Path | None:
    """The code MLflow shipped with `code_paths`, which becomes the package's code/."""
    relative = (conf or {}).get("code")
    if not relative:
        return None
    code = (folder / relative).resolve()
    if not code.is_relative_to(folder.resolve()) or not code.is_dir():
        raise PackageError(f"{folder}: the MLmodel's code folder {relative} is missing")
    return code


# --- interface and golden examples -------------------------------------------------------


def _sample(src: Source, meta: Any, sample: str | Path | None) -> tuple[Table, str]:
    if sample is not None:
        return read_table(sample), str(sample)
    if not meta.saved_input_example_info:
        raise DataError(f"{src.uri}: the MLflow model has no input_example to draw golden "
                        "examples from", hint="pass --sample FILE with rows of model input "
                                              "(CSV, Parquet or JSON Lines)")
    example_file = src.folder / meta.saved_input_example_info.get("artifact_path", "")
    if not example_file.is_file():
        raise PackageError(f"{src.uri}: the input example {example_file.name} is missing",
                           where=str(src.folder), hint="download the whole model folder again")
    try:
        example = meta.load_input_example(str(src.folder))
    except Exception as exc:  # MLflow's reader of its own example format
        raise DataError(f"{src.uri}: the input example cannot be read: {exc}",
                        hint="pass --sample FILE instead") from None
    return to_table(example), EXAMPLE


def _inputs(meta: Any, table: Table, *, from_example: bool) -> tuple[list[FieldSpec], str]:
    """The signature's fields; or the sample's, without ranges a few example rows can't set."""
    if meta.signature is not None and meta.signature.inputs is not None:
        return signature_fields(meta.signature.inputs.to_dict()), "signature"
    fields = infer_fields(table)
    if from_example:
        fields = [f.model_copy(update={"minimum": None, "maximum": None, "categories": None})
                  for f in fields]
    return fields, "sample"


_COLUMN_TYPES = {"boolean": "boolean", "integer": "integer", "long": "integer",
                 "float": "number", "double": "number", "string": "string",
                 "datetime": "datetime"}


def signature_fields(specs: list[dict[str, Any]]) -> list[FieldSpec]:
    """Interface fields from an MLflow signature's inputs (columns, or one row tensor)."""
    if len(specs) == 1 and specs[0].get("type") == "tensor":
        tensor = specs[0]["tensor-spec"]
        shape = list(tensor.get("shape") or [])
        if len(shape) == 2 and shape[1] and shape[1] > 0:
            kind = _tensor_type(tensor.get("dtype", ""), "input")
            return [FieldSpec(name=f"x{i}", type=kind) for i in range(shape[1])]  # type: ignore[arg-type]
    fields = []
    for i, spec in enumerate(specs):
        name = spec.get("name") or f"x{i}"
        if spec.get("type") == "tensor":
            tensor = spec["tensor-spec"]
            if list(tensor.get("shape") or [])[1:] not in ([], [1]):
                raise DataError(f"signature input '{name}' is a tensor of shape "
                                f"{tensor.get('shape')}, which a table row cannot hold",
                                hint="Baton interfaces are tables: one value per field and row")
            kind = _tensor_type(tensor.get("dtype", ""), name)
        else:
            kind = _COLUMN_TYPES.get(spec.get("type"))  # type: ignore[arg-type]
            if kind is None:
                raise DataError(f"signature input '{name}' has MLflow type "
                                f"{spec.get('type')}, which a Baton interface cannot describe",
                                hint="use numbers, strings, booleans or datetimes")
        fields.append(FieldSpec(name=name, type=kind,  # type: ignore[arg-type]
                                nullable=not spec.get("required", True)))
    return fields


def _tensor_type(dtype: str, name: str) -> str:
    if dtype.startswith("float"):
        return "number"
    if dtype.startswith(("int", "uint")):
        return "integer"
    if dtype == "bool":
        return "boolean"
    if dtype in ("str", "object"):
        return "string"
    raise DataError(f"signature input '{name}' has tensor type {dtype}, which a Baton "
                    "interface cannot describe")


# --- the human sections, the lock and lineage ---------------------------------------------


def _draft(handoff: Any, src: Source, *, name: str | None,
           version: str | None) -> dict[str, Any]:
    """The draft's sections, completed with what the MLflow run recorded."""
    if isinstance(handoff, (str, Path)):
        draft = read_manifest(handoff, Draft).model_dump(by_alias=True, exclude_none=True)
    else:
        draft = dict(handoff or {})
    draft["name"] = name or draft.get("name") or _package_name(src.registered_name)
    draft["version"] = version or draft.get("version") or src.registered_version
    if not draft["name"] or not draft["version"]:
        missing = "--name and --version" if not draft["name"] and not draft["version"] else (
            "--name" if not draft["name"] else "--version")
        raise BatonError(f"{src.uri} is not a registered model version, so the package needs "
                         f"{missing}", hint="pass them, or set name and version in the draft")
    if src.description and not draft.get("description"):
        draft["description"] = src.description
    model = dict(draft.get("model") or {})
    model["hyperparameters"] = {**{k: _param(v) for k, v in src.run.params.items()},
                                **(model.get("hyperparameters") or {})}
    draft["model"] = model
    metrics = [_metric(key, value, dataset) for key, (value, dataset)
               in sorted(src.run.metrics.items())]
    evaluation = dict(draft.get("evaluation") or {})
    evaluation["metrics"] = _merged(metrics, evaluation.get("metrics") or [])
    draft["evaluation"] = evaluation
    data = dict(draft.get("data") or {})
    data["datasets"] = _merged(src.run.datasets, data.get("datasets") or [])
    draft["data"] = data
    return draft


def _package_name(registered: str | None) -> str | None:
    if not registered:
        return None
    return re.sub(r"[^A-Za-z0-9._-]+", "-", registered).strip("-._")[:128] or None


def _param(value: str) -> Any:
    """MLflow keeps parameters as text; numbers, booleans and None come back as such."""
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value
    return parsed if isinstance(parsed, (int, float, bool, type(None))) else value


def _metric(name: str, value: float, dataset: str | None) -> dict[str, Any]:
    lower = any(word in name.lower() for word in _LOWER_IS_BETTER)
    return {"name": name, "value": value, "dataset": dataset,
            "business_meaning": f"{TODO}: what {name} means for the business",
            "higher_is_better": not lower}


def _merged(recorded: list[dict[str, Any]], written: list[dict[str, Any]]) -> list[dict]:
    """Entries by name: what a person wrote wins, what MLflow measured fills the rest."""
    by_name = {entry["name"]: {k: v for k, v in entry.items() if v is not None}
               for entry in recorded}
    for entry in written:
        base = by_name.get(entry.get("name"), {})
        by_name[entry.get("name")] = {**base, **{k: v for k, v in entry.items() if v is not None}}
    return list(by_name.values())


def _lock(folder: Path, loaded: _Loaded, notes: list[str]) -> str:
    """MLflow's requirements, pinned (with what they need) at the versions installed here.

    The golden outputs are recomputed here, so these are the versions proven to give
    them; where MLflow recorded other versions the difference becomes a note.
    """
    flavor = get_flavor(loaded.flavor)
    roots = {canonicalize_name(flavor.distribution), "numpy", "pandas"}
    if loaded.flavor == "sklearn":
        roots.add("skops")
    kept: list[str] = []
    requirements = folder / "requirements.txt"
    if not requirements.is_file():
        notes.append("the MLflow model has no requirements.txt; the lock pins what the model "
                     "needs here")
    else:
        lines = requirements.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            line = line.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "-")):
                continue
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                notes.append(f"requirements.txt:{number}: cannot read '{line}'; left out")
                continue
            name = canonicalize_name(requirement.name)
            if name in _MLFLOW_DISTRIBUTIONS and loaded.flavor != "mlflow":
                continue  # the package runs without MLflow
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                kept.append(str(requirement))
                notes.append(f"{name} is not installed here, so the golden outputs do not "
                             "depend on it; kept in the lock as MLflow recorded it")
                continue
            roots.add(name)
            if requirement.specifier and not requirement.specifier.contains(
                    installed, prereleases=True):
                notes.append(f"{name}: MLflow recorded {requirement.specifier}, {installed} is "
                             "installed here; the lock pins the version the golden outputs "
                             "come from")
    python = _python_version(folder)
    if python and python != platform.python_version():
        notes.append(f"the model was saved with Python {python}; it was imported and its "
                     f"golden outputs recomputed with {platform.python_version()}")
    text = ("# From the MLflow model's requirements.txt, pinned as installed where it was "
            "imported.\n" + capture.lock_text(capture.pin_closure(roots)))
    if kept:
        text += "# Not installed where it was imported; as MLflow recorded them:\n"
        text += "".join(f"{line}\n" for line in kept)
    return text


def _python_version(folder: Path) -> str | None:
    try:
        env = yaml.safe_load((folder / "python_env.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return str(env.get("python")) if isinstance(env, dict) and env.get("python") else None


def _lineage(src: Source, meta: Any) -> Lineage:
    tags = src.run.tags
    remote = tags.get("mlflow.source.git.repoURL")
    kept = {key: value[:500] for key, value in sorted(tags.items())
            if (not key.startswith("mlflow.") or key in _KEPT_MLFLOW_TAGS)
            and not any(word in key.lower().replace("-", "_") for word in _SECRET_WORDS)}
    return Lineage(git_commit=tags.get("mlflow.source.git.commit"),
                   git_branch=tags.get("mlflow.source.git.branch"),
                   git_remote=shown(remote) if remote else None,
                   run_id=src.run.run_id or meta.run_id, source=_where(src),
                   tags=kept or None)


def _where(src: Source) -> str:
    """The source as it stays meaningful later: a URI, or the folder's absolute path."""
    return shown(src.uri) if src.uri.startswith(("models:/", "runs:/")) \
        else str(src.folder.resolve())
