"""`modelbaton.pack()`: one call that turns a trained model into a handoff package.

Everything a machine can capture is captured: flavor, hyperparameters and architecture,
the interface inferred from the sample, golden examples replayed through the saved
artifact, the pinned environment, data fingerprints and lineage. The human sections come
from the caller or a `baton.yaml` draft; what is missing becomes a TODO marker that
`baton check` reports.

The package is built in a staging folder beside the target and moved into place only when
complete, so a failure never leaves a half-written package.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from ..contract.errors import (
    BatonError, DataError, FlavorError, ManifestError, PackageError, UnsafeInputError,
)
from ..contract.files import input_file, package_parent, read_text
from ..contract.io import MANIFEST_NAME, read_manifest, validation_error, write_manifest
from ..contract.manifest import (
    TODO, BusinessContext, Contact, DataSection, Dataset, Draft, Environment, Evaluation,
    FieldSpec, Golden, Interface, Limitations, Lineage, Manifest, ModelSection, Monitoring, Owners,
    Preprocessing, Retraining, Rollback, Support,
)
from ..data.profile import write_reference
from ..data.schema import conform, infer_field, infer_fields
from ..data.table import (
    Table, frame_categories, n_rows, read_table, select_rows, to_frame, to_table,
)
from ..flavors import Flavor, detect_flavor, get_flavor
from ..flavors.base import as_matrix, plain
from . import capture
from .archive import SUFFIX, write_archive
from .golden import compare_outputs, write_golden
from .integrity import file_entries
from .load import CODE_DIR, code_on_path, load_artifact, resolve_entry_point
from .predictor import _matrix_dtype, output_table

GOLDEN_ROWS = 20
LOCK_PATH = "env/requirements.lock"
_IGNORED_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".ipynb_checkpoints")

DataArg = Any  # a path, a DataFrame, a dict of columns or a list of records


def pack(
    model: Any,
    path: str | Path,
    *,
    sample_input: DataArg,
    name: str,
    version: str,
    description: str | None = None,
    code: str | Path | None = None,
    preprocessing: str | None = None,
    training_data: DataArg | Mapping[str, DataArg] | None = None,
    evaluation_data: DataArg | Mapping[str, DataArg] | None = None,
    labels: Sequence[Any] | None = None,
    categorical: Sequence[str] = (),
    golden_rows: int = GOLDEN_ROWS,
    requirements: str | Path | None = None,
    handoff: str | Path | Mapping[str, Any] | None = None,
    flavor: str | None = None,
    allow_pickle: bool = False,
    run_id: str | None = None,
    inputs: Sequence[FieldSpec] | None = None,
    lineage: Lineage | Mapping[str, Any] | None = None,
    model_input: Literal["dataframe", "array"] | None = None,
    docs: str | Path | Sequence[str | Path] | None = None,
    parent_version: str | None = None,
    overwrite: bool = False,
    **sections: Any,
) -> Path:
    """Build a package at `path` (a folder, or a single file when it ends in `.baton`).

    sample_input: rows the model takes, ideally the training data: the interface (types,
        ranges, categories, nullability) is inferred from it and golden rows drawn from it.
    code / preprocessing: feature code (a module file or folder) copied into code/, and
        its `module:function` entry point, applied to the input DataFrame at inference.
    training_data / evaluation_data: files (or in-memory data) fingerprinted for lineage.
    handoff: a `baton.yaml` draft (as `baton init` writes it) with the human sections;
        keyword sections (owners=..., limitations=..., ...) override it.
    inputs: the input schema when it is already known (e.g. an MLflow signature); the
        sample must conform to it. Inferred from the sample otherwise.
    lineage: provenance recorded elsewhere (e.g. the MLflow run that trained the model);
        it replaces the git state of the working directory.
    model_input: what a model whose library does not say (plain Python code, a pickle)
        receives: "dataframe" or "array"; by default a DataFrame when the sample has
        column names. An array keeps pandas out of a numpy-only model's environment.
    docs: files or folders handed over with the model (a design note, an evaluation
        notebook exported to HTML, ...), copied into docs/ and digested like every file.
    parent_version: the version this one replaces (e.g. "churn:3"), recorded in lineage.
    """
    if model_input not in (None, "dataframe", "array"):
        raise BatonError(f"model_input must be 'dataframe' or 'array', not {model_input!r}")
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise BatonError(f"path must name the package folder or .baton file, not {path!r}")
    for argument, value in (("name", name), ("version", version)):
        if not isinstance(value, str) or not value.strip():
            raise BatonError(f"{argument} must be a non-empty string, not {value!r}",
                             hint='e.g. pack(model, "out/churn", name="churn", version="1.0")')
    if parent_version is not None and (not isinstance(parent_version, str)
                                       or not parent_version.strip()):
        raise BatonError(f"parent_version must name the version this one replaces (e.g. "
                         f"'churn:3'), not {parent_version!r}")
    target = Path(path)
    draft = _draft(handoff, sections, name=name, version=version, description=description)
    if target.exists() and not overwrite:
        raise PackageError(f"{target} already exists", hint="pass overwrite=True (--force) "
                           "to replace it, or choose another path")
    package_parent(target, "pack into", error=PackageError)
    # mkdir (not mkdtemp, which is private to its owner) so the package gets the usual
    # permissions and whoever it is handed to can read it.
    stage = target.parent / f".{target.name}.staging-{secrets.token_hex(6)}"
    stage.mkdir()
    try:
        if docs is not None:
            _copy_docs([docs] if isinstance(docs, (str, Path)) else list(docs), stage / "docs")
        _build(stage, model, draft=draft, sample_input=sample_input, code=code,
               preprocessing=preprocessing, training_data=training_data,
               evaluation_data=evaluation_data, labels=labels, categorical=categorical,
               golden_rows=golden_rows, requirements=requirements, flavor_name=flavor,
               allow_pickle=allow_pickle, run_id=run_id, inputs=inputs, lineage=lineage,
               model_input=model_input, parent_version=parent_version)
        if target.suffix == SUFFIX:
            write_archive(stage, target)
        else:
            _move_into_place(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target


def _build(stage: Path, model: Any, *, draft: Draft, sample_input: DataArg,
           code: str | Path | None, preprocessing: str | None, training_data: Any,
           evaluation_data: Any, labels: Sequence[Any] | None, categorical: Sequence[str],
           golden_rows: int, requirements: str | Path | None, flavor_name: str | None,
           allow_pickle: bool, run_id: str | None, inputs: Sequence[FieldSpec] | None,
           lineage: Lineage | Mapping[str, Any] | None,
           model_input: str | None, parent_version: str | None) -> None:
    code_dir = stage / CODE_DIR
    if code is not None:
        _copy_code(Path(code), code_dir)
    entry = preprocessing or (draft.preprocessing.entry_point if draft.preprocessing else None)
    if entry and code is None:
        raise PackageError(f"preprocessing entry point '{entry}' given without its code",
                           hint="pass code= with the module or folder that defines it")

    table = _sample_table(sample_input)
    if inputs is None:
        inputs = infer_fields(table, categorical=categorical, categories=frame_categories(
            sample_input) if _is_frame(sample_input) else None)
    else:
        inputs = list(inputs)
        try:
            table = conform(table, inputs)
        except DataError as exc:
            raise DataError(f"sample_input: {exc.message}", hint=exc.hint) from None

    flavor = get_flavor(flavor_name) if flavor_name else detect_flavor(
        model, code_modules=_module_names(code_dir), allow_pickle=allow_pickle)
    if flavor.name == "pickle" and not allow_pickle:
        raise BatonError("the pickle flavor needs allow_pickle=True",
                         hint="pickle runs code on load; prefer a safe flavor")
    description = flavor.describe(model)
    wants = flavor.wants_frame(model)
    if entry is None and wants and description.feature_names:
        _check_columns(list(table), description.feature_names)
        # The interface lists the inputs in the order the model was fitted with.
        table = {name: table[name] for name in description.feature_names}
        inputs = sorted(inputs, key=lambda f: description.feature_names.index(f.name))
    # When the library does not say, the model gets a DataFrame unless it was given a
    # bare array (a plain function or a pickled object written for its training frame).
    if wants is None:
        wants = model_input == "dataframe" if model_input else _has_column_names(sample_input)
    wants_frame = wants
    model_labels, classes = _labels(labels, description.labels)

    golden_index = np.unique(np.linspace(0, n_rows(table) - 1,
                                         min(golden_rows, n_rows(table))).astype(int))
    golden_inputs = select_rows(table, golden_index)

    with code_on_path(code_dir):
        preprocess = resolve_entry_point(entry) if entry else None
        # The model gets the golden rows exactly as a Predictor will: cast to the interface.
        features = _model_input(conform(golden_inputs, inputs), inputs, preprocess,
                                wants_frame, entry)
        in_memory = _predict(flavor, model, features)
        (stage / "model").mkdir()
        saved = flavor.save(model, stage / "model", sample=features)
        if saved.pickle and not allow_pickle:
            raise UnsafeInputError(f"the {flavor.name} artifact is a pickle, which runs code "
                                   "when loaded", hint="pass allow_pickle=True only if you "
                                   "trust the model's author")
        section = ModelSection(
            flavor=flavor.name, artifact=saved.artifact, serialization=saved.serialization,
            library=flavor.distribution if flavor.name not in ("python", "pickle") else None,
            library_version=flavor.library_version(),
            architecture=(draft.model.architecture if draft.model and draft.model.architecture
                          else description.architecture),
            hyperparameters={**description.hyperparameters,
                             **(draft.model.hyperparameters if draft.model else {})},
            training_approach=(draft.model.training_approach if draft.model else None)
            or f"{TODO}: how was it trained (objective, validation scheme, tuning)?",
            options={**saved.options, "input": "dataframe" if wants_frame else "array",
                     **({"classes": classes} if classes is not None else {})},
            trusted_types=saved.trusted_types,
            allow_pickle=flavor.name == "pickle" or saved.pickle)
        # The golden outputs are what the artifact gives after a round trip through disk,
        # and they must match the model in memory: a lossy format is caught here.
        loaded = load_artifact(flavor, stage / saved.artifact, section)
        replayed = _predict(flavor, loaded, features)
    outputs = output_table(*replayed, model_labels, classes=classes)
    check = compare_outputs(output_table(*in_memory, model_labels, classes=classes), outputs)
    if not check.ok:
        raise FlavorError(f"the saved {flavor.name} artifact does not reproduce the model: "
                          f"{check.mismatches[0]}",
                          hint="the library's format lost information; report this model type")
    write_golden(stage / "data" / "golden.json", golden_inputs, outputs)

    interface = Interface(task=_task(description.task, model_labels, outputs),
                          inputs=inputs, outputs=_output_fields(outputs, model_labels),
                          labels=model_labels)
    environment = _environment(stage, flavor, section, code_dir, requirements, wants_frame
                               or preprocess is not None)
    datasets = _datasets(draft, training_data, evaluation_data)
    with code_on_path(code_dir):  # the reference profile, with the model's own outputs
        reference = write_reference(
            stage, training_data, sample=table, inputs=inputs, outputs=interface.outputs,
            predict=lambda rows: output_table(*_predict(flavor, loaded, _model_input(
                rows, inputs, preprocess, wants_frame, entry)), model_labels))

    manifest = Manifest(
        name=draft.name, version=draft.version,  # type: ignore[arg-type]
        description=draft.description or f"{TODO}: what the model does and for whom",
        model=section, interface=interface, environment=environment,
        golden=Golden(rows=len(golden_index)),
        data=DataSection(datasets=datasets, reference=reference),
        preprocessing=Preprocessing(
            entry_point=entry,
            steps=(draft.preprocessing.steps if draft.preprocessing and draft.preprocessing.steps
                   else [f"{TODO}: list the preprocessing steps in order"] if entry else [])),
        lineage=_lineage(lineage, run_id, parent_version),
        **_human_sections(draft),
    )
    write_manifest(manifest.model_copy(update={"files": file_entries(stage)}),
                   stage / MANIFEST_NAME)


# --- inputs ------------------------------------------------------------------------------


def _draft(handoff: Any, sections: Mapping[str, Any], **fields: Any) -> Draft:
    """The human sections: the draft, with keyword sections merged over it, then name/version.

    Keyword sections merge into the draft's key by key (`owners={"monitoring": ...}` keeps
    the draft's other owners); a list given as a keyword replaces the draft's list.
    """
    if isinstance(handoff, (str, Path)):
        base = read_manifest(handoff, Draft).model_dump(by_alias=True, exclude_unset=True)
    elif isinstance(handoff, Mapping):
        base = dict(handoff)
    elif handoff is None:
        base = {}
    else:
        raise ManifestError(f"handoff= takes a baton.yaml path or a mapping, not "
                            f"{type(handoff).__name__}")
    base.setdefault("apiVersion", "baton/v1")
    merged = _merged(base, {k: _plain(v) for k, v in sections.items()})
    merged.update({k: v for k, v in fields.items() if v is not None})
    try:
        return Draft.model_validate(merged)
    except ValidationError as exc:
        raise validation_error(exc, Draft, source="the handoff sections given to pack()") \
            from None


def _merged(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        return {**base, **{k: _merged(base[k], v) if k in base else v
                           for k, v in override.items()}}
    return override


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_unset=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _has_column_names(data: Any) -> bool:
    return not isinstance(data, np.ndarray) and type(data).__module__.split(".")[0] != "torch"


def _is_frame(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "columns")


def _sample_table(sample: DataArg) -> Table:
    if sample is None:
        raise DataError("sample_input is required", hint="pass a few rows of model input, "
                        "ideally the training data")
    if isinstance(sample, (str, Path)):
        return read_table(sample)
    return to_table(sample)


def _check_columns(columns: list[str], fitted: list[str]) -> None:
    """The sample holds the columns the model was fitted with, and no others."""
    missing = [c for c in fitted if c not in columns]
    extra = [c for c in columns if c not in fitted]
    if missing:
        raise DataError(f"the sample lacks columns the model was fitted with: "
                        f"{', '.join(missing)}", hint="sample_input must be what the model "
                        "takes, ideally its training data")
    if extra:
        raise DataError(f"the sample has columns the model was not fitted with: "
                        f"{', '.join(extra)}", hint="drop them from the sample (with "
                        f"`baton pack`: --drop {extra[0]})")


def _copy_docs(sources: list[str | Path], docs_dir: Path) -> None:
    docs_dir.mkdir()
    for source in map(Path, sources):
        if not source.exists():
            raise PackageError(f"document {source} does not exist",
                               hint="docs= takes files or folders to hand over")
        target = docs_dir / source.name
        if target.exists():
            raise PackageError(f"two documents are both named {source.name}",
                               hint="rename one, or put them in a folder")
        if source.is_dir():
            shutil.copytree(source, target, ignore=_IGNORED_CODE)
        else:
            shutil.copyfile(source, target)


def _copy_code(source: Path, code_dir: Path) -> None:
    if not source.exists():
        raise PackageError(f"code path {source} does not exist")
    if source.is_dir():
        shutil.copytree(source, code_dir, ignore=_IGNORED_CODE)
    elif source.suffix == ".py":
        code_dir.mkdir()
        shutil.copy2(source, code_dir / source.name)
    else:
        raise PackageError(f"code path {source} is neither a .py module nor a folder")


def _module_names(code_dir: Path) -> set[str]:
    if not code_dir.is_dir():
        return set()
    return {p.stem for p in code_dir.iterdir() if p.suffix == ".py" or p.is_dir()}


def _model_input(table: Table, fields: list[FieldSpec], preprocess: Any, wants_frame: bool,
                 entry: str | None) -> Any:
    if preprocess is not None:
        try:
            return preprocess(to_frame(table))
        except Exception as exc:
            raise FlavorError(f"the preprocessing entry point {entry} failed on the sample: "
                              f"{type(exc).__name__}: {exc}") from exc
    if wants_frame:
        return to_frame(table)
    return as_matrix(np.column_stack([table[f.name] for f in fields]),
                     dtype=_matrix_dtype(fields))


def _predict(flavor: Flavor, model: Any, features: Any) -> tuple[np.ndarray, Any]:
    try:
        return flavor.predict_with_proba(model, features)
    except BatonError:
        raise
    except Exception as exc:
        raise FlavorError(f"the model failed to predict on the sample: "
                          f"{type(exc).__name__}: {exc}",
                          hint="sample_input must be what the model (or its preprocessing) "
                               "takes") from exc


# --- outputs -----------------------------------------------------------------------------


def _labels(given: Sequence[Any] | None,
            own: list[Any] | None) -> tuple[list[Any] | None, list[Any] | None]:
    """The interface's labels, and the model's own classes when they are encoded labels.

    A classifier trained on encoded labels (0, 1, 2 for "bird", "cat", "dog") predicts the
    codes; given `labels=`, the package decodes its predictions to them, in class order.
    """
    if given is None:
        return own, None
    labels = [plain(v) for v in given]
    if own is None or labels == own:
        return labels, None
    if len(labels) != len(own):
        raise DataError(f"labels= has {len(labels)} values but the model has {len(own)} "
                        f"classes: {', '.join(map(str, own))}",
                        hint="give one label per class, in the order of the model's classes")
    return labels, own


def _task(known: str | None, labels: Any, outputs: Table) -> str:
    if known:
        return known
    if labels is not None or any(k.startswith("probability_") for k in outputs):
        return "classification"
    prediction = outputs.get("prediction")
    if prediction is not None and prediction.dtype.kind == "f":
        return "regression"
    return "other"


def _output_fields(outputs: Table, labels: list[Any] | None) -> list[FieldSpec]:
    fields = []
    for name, column in outputs.items():
        field = infer_field(name, column, max_categories=0)
        update: dict[str, Any] = {"minimum": None, "maximum": None}
        if name == "prediction" and labels is not None:
            update["categories"] = list(labels)
        if name.startswith("probability_"):
            update.update(minimum=0.0, maximum=1.0)
        fields.append(field.model_copy(update=update))
    return fields


# --- environment and data ----------------------------------------------------------------


def _environment(stage: Path, flavor: Flavor, section: ModelSection, code_dir: Path,
                 requirements: str | Path | None, uses_pandas: bool) -> Environment:
    lock = stage / LOCK_PATH
    lock.parent.mkdir(parents=True, exist_ok=True)
    if requirements is not None:
        source = input_file(requirements, "requirements file", error=PackageError)
        read_text(source, "requirements file", error=PackageError,
                  hint="give a text file of name==version lines")
        shutil.copyfile(source, lock)
        origin = "user"
    else:
        modules = {flavor.module, "numpy", *(m.split(".")[0] for m in section.trusted_types)}
        if code_dir.is_dir():
            modules |= capture.code_imports(code_dir)
        if uses_pandas:
            modules.add("pandas")
        if flavor.name == "sklearn":
            modules.add("skops")
        roots = capture.distributions_for_modules(modules)
        if flavor.name not in ("python", "pickle"):
            roots.add(flavor.distribution)
        lock.write_text(capture.lock_text(capture.pin_closure(roots)), encoding="utf-8")
        origin = "captured"
    return Environment(python=capture.python_version(), platform=capture.platform_tag(),
                       lock=LOCK_PATH, source=origin)  # type: ignore[arg-type]


def _datasets(draft: Draft, training: Any, evaluation: Any) -> list[Dataset]:
    declared = {d.name: d for d in (draft.data.datasets if draft.data else [])}
    captured: list[Dataset] = []
    for role, given in (("training", training), ("evaluation", evaluation)):
        if given is None:
            continue
        named = given if isinstance(given, Mapping) and not _looks_like_columns(given) \
            else {role: given}
        for name, data in named.items():
            captured.append(_fingerprint(str(name), data, role))
    merged = []
    for found in captured:
        human = declared.pop(found.name, None)
        if human is not None:
            # What was measured wins; what only people know is kept from the draft, and
            # so is the role when the draft states one.
            measured = found.model_dump(exclude_unset=True, exclude_none=True)
            if "role" in human.model_fields_set:
                measured.pop("role", None)
            found = human.model_copy(update=measured)
        merged.append(_todo_dataset(found))
    merged.extend(_todo_dataset(d) for d in declared.values())
    return merged


def _looks_like_columns(mapping: Mapping[str, Any]) -> bool:
    return any(isinstance(v, (list, tuple, np.ndarray)) for v in mapping.values())


def _fingerprint(name: str, data: Any, role: str) -> Dataset:
    if isinstance(data, (str, Path)):
        path = input_file(data, f"{role} data file", error=DataError)
        return capture.fingerprint_file(path, name=name, role=role)
    return capture.fingerprint_frame(to_table(data), name=name, role=role)


def _todo_dataset(dataset: Dataset) -> Dataset:
    if dataset.source is None:
        dataset = dataset.model_copy(update={
            "source": f"{TODO}: the system of record this data came from"})
    return dataset


def _lineage(given: Lineage | Mapping[str, Any] | None, run_id: str | None,
             parent_version: str | None) -> Lineage:
    captured = capture.lineage(Path.cwd(), run_id=run_id, parent_version=parent_version)
    if given is None:
        return captured
    given = given if isinstance(given, Lineage) else Lineage.model_validate(given)
    # The working directory's git says nothing about a model trained elsewhere; who packed
    # it, when and with which Baton stay ours.
    return given.model_copy(update={"run_id": given.run_id or run_id,
                                    "parent_version": given.parent_version or parent_version,
                                    "created_at": captured.created_at,
                                    "created_by": captured.created_by,
                                    "baton_version": captured.baton_version})


def _human_sections(draft: Draft) -> dict[str, Any]:
    """Every human section, with TODO markers where the draft leaves it empty."""
    def who(role: str) -> Contact:
        return Contact(name=f"{TODO}: who is responsible for {role}?",
                       contact=f"{TODO}: e-mail or channel")

    todo = {
        "owners": Owners(training=who("training"), deployment=who("deployment"),
                         monitoring=who("monitoring"),
                         replacement_decision=who("the replacement decision")),
        "business_context": BusinessContext(
            problem=f"{TODO}: the business problem", users=f"{TODO}: who relies on it",
            cost_of_errors=f"{TODO}: what a wrong prediction costs"),
        "evaluation": Evaluation(metrics=[]),
        "limitations": Limitations(
            known=[f"{TODO}: known limitations"], failure_modes=[f"{TODO}: how it fails"]),
        "retraining": Retraining(cadence=f"{TODO}: how often",
                                 triggers=[f"{TODO}: what forces a retrain"]),
        "monitoring": Monitoring(paged=f"{TODO}: who is paged"),
        "support": Support(contact=f"{TODO}: who supports it after the handoff"),
        "rollback": Rollback(plan=f"{TODO}: how to roll back"),
    }
    given = {name: getattr(draft, name) for name in
             ("owners", "business_context", "evaluation", "limitations", "retraining",
              "monitoring", "support", "rollback", "performance", "decisions", "glossary")}
    return {name: given.get(name) if given.get(name) is not None else todo.get(name)
            for name in {*todo, *given}}


def _move_into_place(stage: Path, target: Path) -> None:
    """Replace `target` by `stage` so that no reader ever sees a partial package."""
    if target.exists():
        trash = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, trash)
        os.replace(stage, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(stage, target)
