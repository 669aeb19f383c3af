"""The handoff contract: every section of `baton.yaml` as a pydantic model.

The models are the documentation: each field says what the receiving team needs and why.
The JSON Schema under `schema/` is generated from them (`baton schema`).

Human sections that the person handing over has not written yet hold TODO markers (strings
starting with ``TODO``); `baton check` reports every one of them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

API_VERSION = "baton/v1"
#: The manifest versions this release reads.
SUPPORTED_API_VERSIONS = (API_VERSION,)
TODO = "TODO"

Scalar = Union[bool, int, float, str]
When = Union[dt.datetime, dt.date]
FieldType = Literal["integer", "number", "string", "boolean", "datetime"]
Task = Literal["classification", "regression", "other"]


def _inside_package(path: str) -> str:
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or "\\" in path or ".." in parts or ":" in parts[0]:
        raise ValueError(f"'{path}' is not a relative path inside the package")
    return path


#: A file of the package, relative to its root: never absolute, never climbing out with `..`.
PackagePath = Annotated[str, AfterValidator(_inside_package)]


def is_todo(value: Any) -> bool:
    """True when a value is, or contains, an unfilled TODO marker."""
    if isinstance(value, str):
        return value.strip().upper().startswith(TODO)
    if isinstance(value, BaseModel):
        return any(is_todo(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, dict):
        return any(is_todo(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_todo(v) for v in value)
    return False


class Section(BaseModel):
    """Base of every section: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- who ---------------------------------------------------------------------------------


class Contact(Section):
    """A person or team, and how to reach them."""

    name: str = Field(description="Person or team.")
    contact: str | None = Field(None, description="E-mail, chat channel or pager address.")


class Owners(Section):
    """Who answers for the model after the handoff, by responsibility."""

    training: Contact | None = Field(None, description="Trains and retrains the model.")
    deployment: Contact | None = Field(None, description="Runs it in production.")
    monitoring: Contact | None = Field(None, description="Watches drift and alerts.")
    replacement_decision: Contact | None = Field(
        None, description="Decides when the model is replaced or retired."
    )
    data_steward: Contact | None = Field(None, description="Answers for the training data.")


# --- what the model is -------------------------------------------------------------------


class ModelSection(Section):
    """The artifact and how it was made."""

    flavor: str = Field(description="Model library adapter: sklearn, xgboost, lightgbm, onnx, "
                        "torch, python, mlflow or pickle.")
    artifact: PackagePath = Field(description="Path of the artifact inside the package.")
    serialization: str = Field(description="On-disk format, e.g. skops, xgboost-json, onnx.")
    library: str | None = Field(None, description="Distribution that runs the model.")
    library_version: str | None = None
    architecture: str | None = Field(None, description="Summary of the model's structure.")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    training_approach: str | None = Field(
        None, description="How it was trained: objective, validation scheme, tuning."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Flavor-specific loading options recorded at pack time."
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Types outside the safe default set that loading may construct (skops).",
    )
    allow_pickle: bool = Field(
        False, description="True only when the artifact is a pickle; loading then needs consent."
    )


class ModelNotes(Section):
    """The human part of the `model` section, as written in a draft before packing."""

    flavor: str | None = None
    architecture: str | None = None
    training_approach: str | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class FieldSpec(Section):
    """One input or output column."""

    name: str
    type: FieldType
    nullable: bool = False
    minimum: float | None = Field(None, description="Smallest value seen or allowed.")
    maximum: float | None = Field(None, description="Largest value seen or allowed.")
    categories: list[Scalar] | None = Field(
        None, description="The only values allowed, for categorical columns."
    )
    description: str | None = None


class Interface(Section):
    """The input and output schema: what a caller sends and gets back."""

    task: Task
    inputs: list[FieldSpec]
    outputs: list[FieldSpec]
    labels: list[Scalar] | None = Field(None, description="Class labels, for classifiers.")


class Preprocessing(Section):
    """Feature code applied before the model, at inference exactly as in training."""

    entry_point: str | None = Field(
        None, description="`module:function` inside code/, called with the input DataFrame."
    )
    steps: list[str] = Field(default_factory=list, description="The ordered steps, in words.")


class Environment(Section):
    """Where the model ran when it was packed, and the exact pins to rebuild it."""

    python: str
    platform: str
    lock: PackagePath = Field("env/requirements.lock",
                              description="Path of the pinned requirements.")
    source: Literal["captured", "user"] = Field(
        "captured", description="captured: pins of what the model imports; user: a given lock."
    )


# --- data --------------------------------------------------------------------------------


class TimeRange(Section):
    start: When | None = None
    end: When | None = None


class Dataset(Section):
    """A dataset the model was trained or evaluated on: its lineage."""

    name: str
    role: Literal["training", "validation", "evaluation", "test", "reference", "other"] = "training"
    source: str | None = Field(None, description="System of record the data came from.")
    location: str | None = Field(None, description="Where a copy lives (path, URI, table).")
    sha256: str | None = None
    rows: int | None = None
    columns: list[str] | None = None
    time_range: TimeRange | None = None
    transformations: list[str] = Field(
        default_factory=list, description="What was done to the data on its way to training."
    )
    quality_notes: list[str] = Field(default_factory=list)
    pii: list[str] | None = Field(
        None, description="Columns holding personal data; [] declares there are none."
    )
    dvc: dict[str, Any] | None = Field(None, description="Hashes DVC recorded for this file.")


class DataSection(Section):
    datasets: list[Dataset] = Field(default_factory=list)
    reference: PackagePath | None = Field(
        None, description="Path of the training data's reference profile inside the package."
    )


class Golden(Section):
    """Golden examples: inputs and the exact outputs the model gave when packed."""

    path: PackagePath = "data/golden.json"
    rows: int
    rtol: float = Field(1e-6, description="Relative tolerance for float outputs on replay.")
    atol: float = Field(1e-9, description="Absolute tolerance for float outputs on replay.")


# --- how good, how fast ------------------------------------------------------------------


class Metric(Section):
    """A measured quality metric and what it means for the business."""

    name: str
    value: float | None = None
    dataset: str | None = None
    slice: str | None = Field(None, description="Subset the value holds for; none means all.")
    business_meaning: str | None = None
    threshold: float | None = Field(None, description="Acceptance threshold.")
    higher_is_better: bool = True


class Slice(Section):
    """A subset of rows by one input: some of its values, or a range [minimum, maximum)."""

    name: str
    column: str
    values: list[Scalar] | None = None
    minimum: float | None = None
    maximum: float | None = None


class Criterion(Section):
    """How much worse than the champion a candidate may be on one metric."""

    metric: str = Field(description="accuracy, roc_auc, log_loss, f1, precision, recall, "
                        "brier, rmse, mae or r2.")
    max_drop: float = Field(0.0, ge=0, description="Allowed loss in the metric's units, "
                            "held at the promotion's confidence level.")


class Promotion(Section):
    """The gate a candidate must pass against the champion it replaces (`baton compare`)."""

    criteria: list[Criterion] = Field(default_factory=list)
    confidence: float = Field(0.95, gt=0, lt=1, description="Of the bootstrap intervals.")
    min_agreement: float | None = Field(None, ge=0, le=1, description="Smallest share of "
                                        "rows on which both models predict the same.")
    latency_p99_ms: float | None = Field(None, description="Largest single-row p99 latency "
                                         "of the candidate; default performance.budgets.")


class Evaluation(Section):
    metrics: list[Metric] = Field(default_factory=list)
    slices: list[Slice] = Field(default_factory=list, description="Subsets reported apart.")
    promotion: Promotion | None = None


class LatencyMs(Section):
    p50: float
    p95: float
    p99: float
    mean: float | None = None
    samples: int | None = Field(None, description="Calls the percentiles are computed from.")


class Measured(Section):
    """Performance measured by `baton bench`, with the machine it ran on."""

    load_time_s: float | None = None
    latency_ms: LatencyMs | None = Field(None, description="Single-row latency.")
    throughput_rps: dict[int, float] = Field(
        default_factory=dict, description="Rows per second by batch size."
    )
    peak_rss_mb: float | None = None
    artifact_bytes: int | None = None
    package_bytes: int | None = None
    machine: dict[str, Any] = Field(default_factory=dict)
    measured_at: When | None = None


class Budgets(Section):
    """Limits the receiving team needs the model to stay within."""

    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    min_throughput_rps: float | None = None
    peak_rss_mb: float | None = None
    load_time_s: float | None = None


class Performance(Section):
    measured: Measured | None = None
    budgets: Budgets | None = None


# --- where it breaks, how to keep it healthy ---------------------------------------------


class Limitations(Section):
    known: list[str] = Field(default_factory=list)
    edge_cases: list[str] = Field(default_factory=list)
    failure_modes: list[str] = Field(default_factory=list)
    out_of_scope: list[str] = Field(default_factory=list, description="Uses it must not serve.")


class DriftTrigger(Section):
    """A drift condition `baton monitor` checks on every run; when it holds, retrain."""

    statistic: Literal["psi", "ks_statistic", "js_distance", "wasserstein", "missing_rate",
                       "out_of_range", "drift_share"]
    above: float
    features: list[str] | None = Field(None, description="Inputs or outputs it watches; "
                                       "every input when omitted.")


class Retraining(Section):
    cadence: str | None = Field(None, description="e.g. monthly, or 'on trigger only'.")
    triggers: list[str] = Field(default_factory=list, description="Conditions that force it.")
    drift_triggers: list[DriftTrigger] = Field(
        default_factory=list, description="The triggers `baton monitor` can check itself.")
    data_needed: str | None = None
    procedure: str | None = Field(None, description="Steps, or the command/pipeline that does it.")


class DriftThresholds(Section):
    psi_warning: float | None = Field(None, description="Default 0.1.")
    psi_alert: float | None = Field(None, description="Default 0.25.")
    ks_pvalue: float | None = Field(None, description="Significance level of the KS and "
                                    "chi-squared tests. Default 0.05.")
    ks_min_effect: float | None = Field(None, description="Smallest KS statistic that counts. "
                                        "Default 0.1.")
    share_drifted_alert: float | None = Field(
        None, description="Share of (importance-weighted) drifted features that alerts. "
                          "Default 0.5."
    )
    js_min_effect: float | None = Field(
        None, description="Smallest Jensen-Shannon distance that counts (categories). "
                          "Default 0.1.")
    missing_increase: float | None = Field(
        None, description="Rise of the missing rate that warns. Default 0.05.")
    out_of_range: float | None = Field(
        None, description="Share outside the reference range or unseen that warns. "
                          "Default 0.01.")
    min_rows: int | None = Field(None, description="Fewest rows for a verdict. Default 30.")


class Monitoring(Section):
    metrics: list[str] = Field(default_factory=list, description="What to watch.")
    drift: DriftThresholds | None = None
    latency_p99_ms: float | None = Field(None, description="Alert when p99 latency exceeds this.")
    error_rate: float | None = Field(None, description="Alert when the error share exceeds this.")
    paged: str | None = Field(None, description="Who is paged when an alert fires.")
    dashboard: str | None = None
    feature_importance: dict[str, float] = Field(default_factory=dict)


class BusinessContext(Section):
    problem: str | None = None
    users: str | None = Field(None, description="Who relies on the predictions.")
    decision_supported: str | None = None
    value: str | None = None
    cost_of_errors: str | None = Field(None, description="What a false positive/negative costs.")


class Decision(Section):
    date: When | None = None
    decision: str
    by: str | None = None
    rationale: str | None = None


class Support(Section):
    until: dt.date | None = Field(None, description="End of the post-handoff support window.")
    contact: str | None = None
    terms: str | None = None


class Rollback(Section):
    plan: str | None = None
    fallback: str | None = Field(None, description="What serves when this model is pulled.")
    previous_version: str | None = None


class Lineage(Section):
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_branch: str | None = None
    git_remote: str | None = None
    run_id: str | None = None
    source: str | None = Field(
        None, description="Where the model was imported from, e.g. models:/churn/3 (MLflow).")
    tags: dict[str, str] | None = Field(
        None, description="Tags of the run that trained the model, e.g. MLflow run tags.")
    parent_version: str | None = None
    created_at: When | None = None
    created_by: str | None = None
    baton_version: str | None = None


class FileEntry(Section):
    path: PackagePath
    sha256: str
    size: int


# --- the whole contract ------------------------------------------------------------------


class HumanSections(Section):
    """The sections only people can write; shared by a draft and a packaged manifest."""

    description: str | None = None
    owners: Owners | None = None
    preprocessing: Preprocessing | None = None
    data: DataSection | None = None
    evaluation: Evaluation | None = None
    performance: Performance | None = None
    limitations: Limitations | None = None
    retraining: Retraining | None = None
    monitoring: Monitoring | None = None
    business_context: BusinessContext | None = None
    decisions: list[Decision] | None = None
    glossary: dict[str, str] | None = None
    support: Support | None = None
    rollback: Rollback | None = None


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class Manifest(HumanSections):
    """`baton.yaml` of a package: the whole contract, machine-readable."""

    api_version: Literal["baton/v1"] = Field(API_VERSION, alias="apiVersion")
    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field(pattern=NAME_PATTERN)
    model: ModelSection
    interface: Interface
    environment: Environment | None = None
    golden: Golden | None = None
    lineage: Lineage | None = None
    files: list[FileEntry] = Field(default_factory=list)


class Draft(HumanSections):
    """A `baton.yaml` before packing (as `baton init` writes it): everything optional."""

    api_version: Literal["baton/v1"] = Field(API_VERSION, alias="apiVersion")
    name: str | None = Field(None, pattern=NAME_PATTERN)
    version: str | None = Field(None, pattern=NAME_PATTERN)
    model: ModelNotes | None = None


#: The order sections appear in `baton.yaml`, as a reader wants them.
SECTION_ORDER = (
    "apiVersion", "name", "version", "description", "owners", "business_context", "model",
    "interface", "preprocessing", "environment", "data", "golden", "evaluation", "performance",
    "limitations", "retraining", "monitoring", "support", "rollback", "decisions", "glossary",
    "lineage", "files",
)
