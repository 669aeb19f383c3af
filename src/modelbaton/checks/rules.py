"""The handoff checklist: every rule, grouped by the part of the handoff it protects.

Ids are stable: BTN1xx the contract and its owners, BTN2xx reproducibility, BTN3xx quality
and performance, BTN4xx operations, BTN5xx data and lineage, BTN6xx safety. A rule's
docstring is its summary in `docs/rules.md`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..contract.errors import BatonError
from ..contract.io import MANIFEST_NAME
from ..contract.manifest import Metric, is_todo
from ..data.schema import check_table
from ..package.golden import compare_outputs
from ..package.load import CODE_DIR, code_on_path, load, resolve_entry_point
from . import secrets
from .context import Context, filled
from .rule import Finding, Severity, rule

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

#: The sections a person must write for the handoff to be complete.
HUMAN_SECTIONS = ("description", "owners", "business_context", "data", "evaluation",
                  "performance", "limitations", "retraining", "monitoring", "support",
                  "rollback")
OWNER_ROLES = ("training", "deployment", "monitoring", "replacement_decision")


# --- BTN1xx: the contract and who answers for it -----------------------------------------


@rule("BTN101", "sections-present", ERROR,
      guards="a handoff that silently leaves out a whole topic (limitations, monitoring, "
             "rollback...) because nobody asked for it",
      fix="add the section to baton.yaml (`baton init` scaffolds every one) and re-pack")
def sections_present(ctx: Context) -> Iterator[Finding]:
    """Every human section of the manifest is present."""
    for name in HUMAN_SECTIONS:
        value = getattr(ctx.manifest, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            yield ctx.at((name,), f"section `{name}` is missing", locate=False,
                         hint="`baton init` shows what belongs in it")


@rule("BTN102", "no-todo-markers", ERROR,
      guards="placeholders shipped as if they were answers",
      fix="replace every TODO marker with the real answer and re-pack")
def no_todo_markers(ctx: Context) -> Iterator[Finding]:
    """No field of the manifest still holds a TODO marker."""
    data = ctx.manifest.model_dump(mode="json", by_alias=True, exclude_none=True,
                                   exclude={"files"})
    for loc, value in _leaves(data, ()):
        if is_todo(value):
            yield ctx.at(loc, f"still a TODO: {_short(value)}")


@rule("BTN103", "business-context", WARNING,
      guards="metrics and limitations that cannot be weighed because nobody wrote what the "
             "model is for and what its errors cost",
      fix="fill business_context: problem, users, decision_supported, cost_of_errors")
def business_context(ctx: Context) -> Iterator[Finding]:
    """The business context says the problem, the users, the decision and the cost of errors."""
    for name in ("problem", "users", "decision_supported", "cost_of_errors"):
        yield from ctx.unwritten(("business_context", name),
                                 f"business_context.{name} is not written")


@rule("BTN104", "decisions-and-glossary", INFO,
      guards="the receiving team re-opening decisions already taken, and misreading terms",
      fix="record the main decisions (with date, who and why) and define domain terms")
def decisions_and_glossary(ctx: Context) -> Iterator[Finding]:
    """The decision log and the glossary have at least one entry each."""
    if not ctx.manifest.decisions:
        yield ctx.at(("decisions",), "the decision log is empty")
    if not ctx.manifest.glossary:
        yield ctx.at(("glossary",), "the glossary is empty")


@rule("BTN110", "owners-named", ERROR,
      guards="nobody owning training, deployment, monitoring or the decision to replace "
             "the model once it runs",
      fix="name a person or team and a contact for owners.training, deployment, monitoring "
          "and replacement_decision")
def owners_named(ctx: Context) -> Iterator[Finding]:
    """Owners are named, with a contact, for training, deployment, monitoring and replacement."""
    owners = ctx.manifest.owners
    for role in OWNER_ROLES:
        who = getattr(owners, role) if owners else None
        if who is None or not filled(who.name):
            yield ctx.at(("owners", role), f"nobody is named for {role.replace('_', ' ')}")
        elif not filled(who.contact):
            yield ctx.at(("owners", role, "contact"),
                         f"the {role.replace('_', ' ')} owner ({who.name}) has no contact")


@rule("BTN111", "data-steward-named", WARNING,
      guards="questions about the training data that nobody can answer after the handoff",
      fix="name owners.data_steward with a contact")
def data_steward_named(ctx: Context) -> Iterator[Finding]:
    """A data steward answers for the training data."""
    if not (filled(ctx.get(("owners", "data_steward", "name")))
            and filled(ctx.get(("owners", "data_steward", "contact")))):
        yield ctx.at(("owners", "data_steward"), "no data steward with a contact")


# --- BTN2xx: reproducibility --------------------------------------------------------------


@rule("BTN201", "dependencies-pinned", ERROR,
      guards="missing or unpinned dependencies: the model behaves differently, or does not "
             "start, where it is deployed",
      fix="pin every line of the lock as name==version (let `modelbaton.pack` capture it, "
          "or `uv pip compile` / `pip freeze` your own)")
def dependencies_pinned(ctx: Context) -> Iterator[Finding]:
    """The environment lock pins every dependency exactly, including the model's library."""
    env = ctx.manifest.environment
    if env is None:
        yield ctx.at(("environment",), "no environment section: Python version and lock "
                     "are unknown", locate=False)
        return
    lock = ctx.root / env.lock
    if not lock.is_file():
        yield ctx.at(("environment", "lock"), f"the lock file {env.lock} is not in the package")
        return
    pinned: set[str] = set()
    for number, line in _logical_lines(lock.read_text(encoding="utf-8", errors="replace")):
        name, problem = _pin(line)
        if name:
            pinned.add(name)
        if problem:
            yield Finding(f"{line.split()[0]!s}: {problem}", file=env.lock, line=number,
                          hint="pin it as name==version")
    if not pinned:
        yield Finding("the lock pins nothing", file=env.lock)
    library = ctx.manifest.model.library
    if library and canonicalize_name(library) not in pinned:
        yield Finding(f"the model's library {library} is not pinned", file=env.lock,
                      hint=f"add {library}=={ctx.manifest.model.library_version or 'VERSION'}")


@rule("BTN210", "preprocessing-importable", ERROR,
      guards="feature code stuck in a notebook or on the trainer's laptop",
      fix="ship the module with `code=` and give preprocessing.entry_point as module:function")
def preprocessing_importable(ctx: Context) -> Iterator[Finding]:
    """The preprocessing entry point imports from the package's own code/ folder."""
    section = ctx.manifest.preprocessing
    entry = section.entry_point if section else None
    if not entry:
        return
    loc = ("preprocessing", "entry_point")
    code_dir = ctx.root / CODE_DIR
    module = entry.partition(":")[0]
    with code_on_path(code_dir):
        try:
            spec = importlib.util.find_spec(module.split(".")[0])
            origin = Path(spec.origin).resolve() if spec and spec.origin else None
            if origin is None or code_dir.resolve() not in origin.parents:
                where = f"from {origin}" if origin else "from nowhere"
                yield ctx.at(loc, f"module '{module}' of {entry} is not in code/ (it imports "
                             f"{where})", hint="ship the module with code=")
                return
            resolve_entry_point(entry)
        except BatonError as exc:
            yield ctx.at(loc, exc.message, hint=exc.hint)
        except Exception as exc:  # the shipped code's own failure at import time
            yield ctx.at(loc, f"importing {entry} raised {type(exc).__name__}: {exc}")


@rule("BTN211", "preprocessing-documented", WARNING,
      guards="undocumented preprocessing: nobody can re-implement or debug the feature code",
      fix="list the steps in preprocessing.steps, in order, in words")
def preprocessing_documented(ctx: Context) -> Iterator[Finding]:
    """Preprocessing code comes with its steps written out in order."""
    section = ctx.manifest.preprocessing
    if section and section.entry_point and not filled(section.steps):
        yield ctx.at(("preprocessing", "steps"), f"{section.entry_point} runs, but its steps "
                     "are not written down")


@rule("BTN220", "golden-consistent", ERROR,
      guards="golden examples that do not match the interface, so they prove nothing",
      fix="re-pack: golden examples are drawn from sample_input and replayed at pack time")
def golden_consistent(ctx: Context) -> Iterator[Finding]:
    """Golden examples exist and match the interface: every input and output, valid values."""
    golden_section = ctx.manifest.golden
    if golden_section is None:
        yield ctx.at(("golden",), "no golden examples", locate=False)
        return
    golden = ctx.golden
    if isinstance(golden, BatonError):
        yield Finding(golden.message, file=golden_section.path, hint=golden.hint)
        return
    assert golden is not None
    interface = ctx.manifest.interface
    _, problems = check_table(golden.inputs, interface.inputs, limit=3)
    for problem in problems[:20]:
        yield Finding(f"input {problem}", file=golden_section.path, field=f"inputs.{problem.field}")
    expected = [f.name for f in interface.outputs]
    if sorted(golden.outputs) != sorted(expected):
        yield Finding(f"outputs are {', '.join(golden.outputs)} but the interface declares "
                      f"{', '.join(expected)}", file=golden_section.path)
    rows = len(next(iter(golden.inputs.values()), []))
    if rows != golden_section.rows:
        yield ctx.at(("golden", "rows"), f"the manifest says {golden_section.rows} golden rows, "
                     f"the file has {rows}")


@rule("BTN221", "golden-reproduces", ERROR,
      guards="a model that gives different answers on the receiving side than it gave its "
             "author (lossy format, different library, feature code drift)",
      fix="run on the versions in the lock (`baton verify` builds that environment); if the "
          "difference is expected, re-pack",
      concurrent=True)
def golden_reproduces(ctx: Context) -> Iterator[Finding]:
    """Replaying the golden inputs on this machine gives the golden outputs."""
    golden_section = ctx.manifest.golden
    golden = ctx.golden
    if golden_section is None or golden is None or isinstance(golden, BatonError):
        yield Finding("no readable golden examples to replay", hint="see BTN220")
        return
    try:
        # The package's digests were verified when it was opened: load without doing it again.
        predictor = load(ctx.package, allow_pickle=ctx.allow_pickle, verify=False, once=True)
        got = predictor.predict_table(golden.inputs)
    except BatonError as exc:
        yield Finding(f"the golden inputs cannot be replayed: {exc.message}",
                      file=golden_section.path, hint=exc.hint)
        return
    comparison = compare_outputs(golden.outputs, got, rtol=golden_section.rtol,
                                 atol=golden_section.atol)
    for mismatch in comparison.mismatches:
        yield Finding(f"output {mismatch}", file=golden_section.path, field=mismatch.column,
                      rows=mismatch.rows)


@rule("BTN230", "inputs-described", INFO,
      guards="callers guessing what an input means or which unit it is in",
      fix="add a description (meaning and unit) to each interface input")
def inputs_described(ctx: Context) -> Iterator[Finding]:
    """Every input of the interface has a description."""
    bare = [f.name for f in ctx.manifest.interface.inputs if not filled(f.description)]
    if bare:
        total = len(ctx.manifest.interface.inputs)
        shown = ", ".join(bare[:5]) + (" ..." if len(bare) > 5 else "")
        yield ctx.at(("interface", "inputs"), f"{len(bare)} of {total} inputs have no "
                     f"description: {shown}")


# --- BTN3xx: quality and performance ------------------------------------------------------


@rule("BTN301", "metrics-documented", ERROR,
      guards="metrics without business meaning or an acceptance bar",
      fix="give each evaluation metric a value, a dataset, a business_meaning and a threshold")
def metrics_documented(ctx: Context) -> Iterator[Finding]:
    """At least one metric; each has a value, a dataset, a business meaning and a threshold."""
    metrics = ctx.metrics
    if not metrics:
        yield ctx.at(("evaluation", "metrics"), "no evaluation metrics")
    for i, metric in enumerate(metrics):
        missing = [name for name in ("value", "dataset", "business_meaning", "threshold")
                   if not filled(getattr(metric, name))]
        if missing:
            yield ctx.at(("evaluation", "metrics", i), f"metric '{metric.name}' has no "
                         + ", no ".join(missing))


@rule("BTN302", "metrics-meet-thresholds", ERROR,
      guards="a model handed over below its own acceptance bar",
      fix="improve the model, or revisit the threshold with the business owner and record why "
          "in decisions")
def metrics_meet_thresholds(ctx: Context) -> Iterator[Finding]:
    """Every metric with a value and a threshold meets it."""
    metrics = ctx.metrics
    for i, m in enumerate(metrics):
        if meets(m) is False:
            side = "below" if m.higher_is_better else "above"
            yield ctx.at(("evaluation", "metrics", i, "value"),
                         f"{m.name} = {m.value:g} is {side} its threshold {m.threshold:g}")


@rule("BTN303", "metric-datasets-declared", WARNING,
      guards="metrics whose dataset cannot be traced",
      fix="name a dataset of data.datasets in each metric's `dataset`")
def metric_datasets_declared(ctx: Context) -> Iterator[Finding]:
    """Each metric's dataset is one of the datasets in the data section."""
    metrics = ctx.metrics
    known = [d.name for d in ctx.datasets]
    for i, metric in enumerate(metrics):
        if filled(metric.dataset) and metric.dataset not in known:
            yield ctx.at(("evaluation", "metrics", i, "dataset"),
                         f"metric '{metric.name}' is on dataset '{metric.dataset}', which "
                         f"data.datasets does not list ({', '.join(known) or 'none'})")


@rule("BTN310", "budgets-declared", ERROR,
      guards="unknown latency and memory needs until production finds them out",
      fix="set performance.budgets: a latency budget (latency_p99_ms) and peak_rss_mb")
def budgets_declared(ctx: Context) -> Iterator[Finding]:
    """Performance budgets declare a latency limit and a memory limit."""
    performance = ctx.manifest.performance
    budgets = performance.budgets if performance else None
    if budgets is None or all(getattr(budgets, f) is None for f in
                              ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")):
        yield ctx.at(("performance", "budgets"), "no latency budget")
    if budgets is None or budgets.peak_rss_mb is None:
        yield ctx.at(("performance", "budgets"), "no memory budget (peak_rss_mb)")


@rule("BTN311", "performance-measured", WARNING,
      guards="latency and memory that nobody measured before go-live",
      fix="run `baton bench PKG`, which measures and records performance.measured")
def performance_measured(ctx: Context) -> Iterator[Finding]:
    """Latency and memory were measured (by `baton bench`)."""
    performance = ctx.manifest.performance
    measured = performance.measured if performance else None
    if measured is None or measured.latency_ms is None:
        yield ctx.at(("performance", "measured"), "latency was never measured")
    if measured is None or measured.peak_rss_mb is None:
        yield ctx.at(("performance", "measured"), "memory was never measured")


@rule("BTN312", "within-budgets", ERROR,
      guards="a model that is too slow or too big for where it must run",
      fix="make the model faster or smaller, or agree a new budget with the serving team")
def within_budgets(ctx: Context) -> Iterator[Finding]:
    """Measured latency, throughput, memory and load time are within the declared budgets."""
    performance = ctx.manifest.performance
    if not performance or not performance.measured or not performance.budgets:
        return
    for label, measured, budget, unit in _budget_pairs(performance):
        if measured is None or budget is None:
            continue
        over = measured < budget if label == "throughput" else measured > budget
        if over:
            verb = "is below the minimum" if label == "throughput" else "exceeds the budget"
            yield ctx.at(("performance", "measured"),
                         f"{label} {measured:g} {unit} {verb} of {budget:g} {unit}")


# --- BTN4xx: operations ---------------------------------------------------------------------


@rule("BTN401", "limitations-declared", ERROR,
      guards="uncommunicated limitations and failure modes",
      fix="write at least one known limitation and one failure mode (how it fails, how that "
          "shows)")
def limitations_declared(ctx: Context) -> Iterator[Finding]:
    """At least one known limitation and one failure mode are written."""
    yield from ctx.unwritten(("limitations", "known"), "no known limitation is written")
    yield from ctx.unwritten(("limitations", "failure_modes"), "no failure mode is written")


@rule("BTN410", "retraining-planned", ERROR,
      guards="unclear retraining triggers: the model decays until someone notices",
      fix="set retraining.cadence and at least one trigger")
def retraining_planned(ctx: Context) -> Iterator[Finding]:
    """Retraining has a cadence and at least one trigger."""
    yield from ctx.unwritten(("retraining", "cadence"), "no retraining cadence")
    yield from ctx.unwritten(("retraining", "triggers"), "no retraining trigger")


@rule("BTN411", "retraining-procedure", WARNING,
      guards="a retrain that only the original author knows how to run",
      fix="write retraining.procedure (the command or pipeline) and data_needed")
def retraining_procedure(ctx: Context) -> Iterator[Finding]:
    """Retraining says which data it needs and how it is run."""
    for name in ("procedure", "data_needed"):
        yield from ctx.unwritten(("retraining", name), f"retraining.{name} is not written")


@rule("BTN420", "monitoring-defined", ERROR,
      guards="nobody owning monitoring: drift and slowdowns that page no one",
      fix="set monitoring.drift (e.g. psi_alert), monitoring.latency_p99_ms and "
          "monitoring.paged")
def monitoring_defined(ctx: Context) -> Iterator[Finding]:
    """Monitoring has a drift threshold, a latency threshold, and says who is paged."""
    drift = ctx.get(("monitoring", "drift"))
    if drift is None or all(v is None for v in drift.model_dump().values()):
        yield ctx.at(("monitoring", "drift"), "no drift threshold")
    yield from ctx.unwritten(("monitoring", "latency_p99_ms"), "no latency alert threshold")
    yield from ctx.unwritten(("monitoring", "paged"), "nobody is paged when an alert fires")


@rule("BTN430", "support-window", ERROR,
      guards="the receiving team left alone the day after the handoff",
      fix="set support.until (a date still to come) and support.contact")
def support_window(ctx: Context) -> Iterator[Finding]:
    """A post-handoff support window is set, has a contact and has not expired."""
    until = ctx.get(("support", "until"))
    if until is None:
        yield ctx.at(("support", "until"), "no support window (support.until)")
    elif until < dt.date.today():
        yield ctx.at(("support", "until"), f"the support window ended on {until}")
    yield from ctx.unwritten(("support", "contact"), "no support contact")


@rule("BTN440", "rollback-plan", ERROR,
      guards="risky cut-overs with no way back",
      fix="write rollback.plan: how to take the model out of service")
def rollback_plan(ctx: Context) -> Iterator[Finding]:
    """A rollback plan is written."""
    yield from ctx.unwritten(("rollback", "plan"), "no rollback plan")


@rule("BTN441", "rollback-fallback", WARNING,
      guards="an outage while the model is pulled, because nothing else can answer",
      fix="write rollback.fallback: what serves when this model is pulled")
def rollback_fallback(ctx: Context) -> Iterator[Finding]:
    """The rollback says what serves while the model is out."""
    yield from ctx.unwritten(("rollback", "fallback"), "no fallback for when the model is pulled")


# --- BTN5xx: data and lineage -------------------------------------------------------------


@rule("BTN501", "datasets-fingerprinted", ERROR,
      guards="lost data provenance: nobody can tell which data trained the model",
      fix="pass training_data= / evaluation_data= to pack (fingerprinted automatically) and "
          "write each dataset's source")
def datasets_fingerprinted(ctx: Context) -> Iterator[Finding]:
    """Every dataset has a source, a sha256 and a row count; one of them is for training."""
    datasets = ctx.datasets
    if not datasets:
        yield ctx.at(("data", "datasets"), "no dataset is recorded")
        return
    if not any(d.role == "training" for d in datasets):
        yield ctx.at(("data", "datasets"), "no dataset has role: training")
    for i, dataset in enumerate(datasets):
        missing = [name for name in ("source", "sha256", "rows")
                   if not filled(getattr(dataset, name))]
        if missing:
            yield ctx.at(("data", "datasets", i), f"dataset '{dataset.name}' has no "
                         + ", no ".join(missing))


@rule("BTN502", "dataset-time-range", WARNING,
      guards="not knowing which period the model learned from, so drift cannot be judged",
      fix="set time_range (start and end) on each training dataset")
def dataset_time_range(ctx: Context) -> Iterator[Finding]:
    """Training datasets say which period they cover."""
    datasets = ctx.datasets
    for i, dataset in enumerate(datasets):
        span = dataset.time_range
        if dataset.role == "training" and (span is None or span.start is None or span.end is None):
            yield ctx.at(("data", "datasets", i), f"dataset '{dataset.name}' has no time_range "
                         "start and end")


@rule("BTN510", "pii-declared", ERROR,
      guards="personal data handed over without anyone saying so",
      fix="list personal-data columns in data.datasets[].pii; if a column only looks "
          "personal, ignore this rule for it with a reason")
def pii_declared(ctx: Context) -> Iterator[Finding]:
    """Columns whose names suggest personal data are declared as PII."""
    datasets = ctx.datasets
    declared = {_normal(c) for d in datasets for c in (d.pii or [])}
    columns = {f.name: ("interface", "inputs", i)
               for i, f in enumerate(ctx.manifest.interface.inputs)}
    for i, dataset in enumerate(datasets):
        for column in dataset.columns or []:
            columns.setdefault(column, ("data", "datasets", i, "columns"))
    for column, loc in columns.items():
        kind = pii_kind(column)
        if kind and _normal(column) not in declared:
            yield ctx.at(loc, f"column '{column}' looks like personal data ({kind}) but no "
                         "dataset declares it in `pii`")


@rule("BTN520", "git-lineage", WARNING,
      guards="a model that cannot be traced back to the code that trained it",
      fix="pack from a git repository with the training code committed")
def git_lineage(ctx: Context) -> Iterator[Finding]:
    """The package records the git commit it was built from, with a clean working tree."""
    lineage = ctx.manifest.lineage
    if lineage is None or not lineage.git_commit:
        yield ctx.at(("lineage",), "no git commit recorded")
    elif lineage.git_dirty:
        yield ctx.at(("lineage", "git_dirty"), f"packed from {lineage.git_commit[:12]} with "
                     "uncommitted changes")


# --- BTN6xx: safety -------------------------------------------------------------------------


@rule("BTN601", "no-secrets", ERROR,
      guards="credentials leaking to everyone who receives or stores the package",
      fix="remove the secret from the package, rotate it, and read it from the environment at "
          "run time")
def no_secrets(ctx: Context) -> Iterator[Finding]:
    """No file of the package holds a cloud key, token, private key or password."""
    paths = [MANIFEST_NAME, *(entry.path for entry in ctx.manifest.files)]
    for path in paths:
        for secret in secrets.scan_file(ctx.root / path):
            where = "" if secret.line else f" at byte {secret.offset}"
            yield Finding(f"{secret.kind}{where} (not shown)", file=path, line=secret.line)


@rule("BTN610", "no-pickle", WARNING,
      guards="pickle files, which run arbitrary code when loaded",
      fix="save the model with a safe flavor (skops, ONNX, the library's native format) and "
          "ship data files as CSV/Parquet/JSON")
def no_pickle(ctx: Context) -> Iterator[Finding]:
    """Neither the model nor any other file of the package is a pickle."""
    section = ctx.manifest.model
    if section.flavor == "pickle" or section.allow_pickle or section.serialization == "pickle":
        yield ctx.at(("model", "flavor"), "the model is a pickle: loading it runs code")
    for entry in ctx.manifest.files:
        if entry.path == section.artifact:
            continue
        if entry.path.endswith(_PICKLE_SUFFIXES) or _starts_like_pickle(ctx.root / entry.path):
            yield Finding("a pickle file: whoever loads it runs its code", file=entry.path)


# --- helpers ------------------------------------------------------------------------------


def meets(metric: Metric) -> bool | None:
    """Whether a metric meets its acceptance threshold; None when either is missing."""
    if metric.value is None or metric.threshold is None:
        return None
    if metric.higher_is_better:
        return metric.value >= metric.threshold
    return metric.value <= metric.threshold

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".sav")

PII_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern)) for kind, pattern in (
        ("a person's name", r"^(first|last|full|given|family|middle|sur|user|customer|client"
                            r"|patient|person|maiden)_?name$|^name$|^surname$"),
        ("e-mail address", r"(^|_)e_?mail(_address)?($|_)"),
        ("phone number", r"(^|_)(phone|mobile|telephone|cell)(_number|_no)?($|_)"),
        ("government id", r"(^|_)(ssn|social_security|national_id|nino|tax_id|passport"
                          r"|driver_?s?_licen[cs]e)($|_)"),
        ("postal address", r"(^|_)(address|street|postcode|postal_code|zip|zip_code|zipcode)"
                           r"($|_)"),
        ("date of birth", r"(^|_)(dob|birth_?date|date_of_birth|birthday)($|_)"),
        ("network identifier", r"(^|_)(ip|ip_address|ipv4|ipv6|mac_address|device_id)($|_)"),
        ("payment data", r"(^|_)(credit_card|card_number|iban|account_number|bank_account)"
                         r"($|_)"),
        ("sensitive attribute", r"^(gender|sex|race|ethnicity|religion|sexual_orientation)$"),
        ("precise location", r"^(lat|lon|lng|latitude|longitude|geolocation)$"),
    )
)


def pii_kind(column: str) -> str | None:
    """The kind of personal data a column name suggests, if any."""
    name = _normal(column)
    return next((kind for kind, pattern in PII_PATTERNS if pattern.search(name)), None)


def _normal(column: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(column))
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def _leaves(value: Any, loc: tuple) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*loc, i))
    else:
        yield loc, value


def _short(value: str, limit: int = 70) -> str:
    return repr(value if len(value) <= limit else value[:limit - 3] + "...")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Requirement lines without comments, joined across backslash continuations."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield start, line
    if pending.strip():
        yield start, pending.strip()


def _pin(line: str) -> tuple[str | None, str | None]:
    """(distribution name, problem) for one lock line; options lines have neither."""
    if line.startswith(("-e", "--editable")):
        return None, "an editable install is not a pin"
    if line.startswith(("-r", "--requirement", "-c", "--constraint")):
        return None, "a nested requirements file is not pinned in this lock"
    if line.startswith("-"):
        return None, None  # --index-url, --hash on its own line and the like
    spec = re.split(r"\s--hash[= ]", line)[0].strip()
    try:
        requirement = Requirement(spec)
    except InvalidRequirement as exc:
        return None, f"not a valid requirement ({exc})"
    name = canonicalize_name(requirement.name)
    if requirement.url:
        exact = re.search(r"@[0-9a-f]{40}\b|\.whl\b|#sha256=", requirement.url) or "--hash" in line
        return name, None if exact else "a URL without a commit or hash is not a pin"
    specifiers = list(requirement.specifier)
    if len(specifiers) == 1 and (specifiers[0].operator == "===" or (
            specifiers[0].operator == "==" and "*" not in specifiers[0].version)):
        return name, None
    shown = str(requirement.specifier) or "no version"
    return name, f"'{shown}' is not an exact pin"


def _budget_pairs(performance: Any) -> Iterator[tuple[str, float | None, float | None, str]]:
    measured, budgets = performance.measured, performance.budgets
    latency = measured.latency_ms
    for q in ("p50", "p95", "p99"):
        yield (f"latency {q}", getattr(latency, q) if latency else None,
               getattr(budgets, f"latency_{q}_ms"), "ms")
    best = max(measured.throughput_rps.values(), default=None)
    yield "throughput", best, budgets.min_throughput_rps, "rows/s"
    yield "peak memory", measured.peak_rss_mb, budgets.peak_rss_mb, "MB"
    yield "load time", measured.load_time_s, budgets.load_time_s, "s"


def _starts_like_pickle(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5
