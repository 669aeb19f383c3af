"""`baton import mlflow` and `baton export mlflow`: meeting teams on the tools they use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import open_ref, out, print_json
from .package import _todo_sections

import_app = typer.Typer(no_args_is_help=True, help="Bring a model from another tool in as a "
                                                    "Baton package.")
export_app = typer.Typer(no_args_is_help=True, help="Hand a package over to another tool.")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")


@import_app.callback()
def _import_group() -> None:
    """Bring a model from another tool in as a Baton package."""


@export_app.callback()
def _export_group() -> None:
    """Hand a package over to another tool."""


@import_app.command("mlflow")
def import_mlflow(
    source: Annotated[str, typer.Argument(help="MLflow model folder, models:/NAME/VERSION, "
                                               "models:/NAME@ALIAS or runs:/RUN_ID/PATH "
                                               "(from MLFLOW_TRACKING_URI).")],
    out_path: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Package folder or .baton file (default NAME-VERSION).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Package name (default: the registered "
                                                     "model's).")] = None,
    version: Annotated[Optional[str], typer.Option(help="Package version (default: the "
                                                        "registered version).")] = None,
    sample: Annotated[Optional[Path], typer.Option(help="Rows of model input for the golden "
                                                        "examples, instead of the MLflow "
                                                        "input_example.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="baton.yaml draft with what MLflow "
                                                        "does not know (owners, limits...).")]
    = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Accept an artifact "
                                               "MLflow pickled.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing package.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Turn an MLflow model into a Baton package, its golden outputs recomputed here."""
    from ..bridges.mlflow import import_model

    done = import_model(source, out_path, name=name, version=version, sample=sample,
                        handoff=config, allow_pickle=allow_pickle, overwrite=force)
    package = open_ref(str(done.path))
    manifest = package.manifest
    todo = _todo_sections(manifest)
    if as_json:
        print_json({"path": str(done.path), "digest": package.digest, "source": done.source,
                    "name": manifest.name, "version": manifest.version,
                    "mlflow_flavor": done.mlflow_flavor, "flavor": done.flavor,
                    "serialization": manifest.model.serialization,
                    "inputs_from": done.inputs_from, "golden_from": done.golden_from,
                    "golden_rows": manifest.golden.rows if manifest.golden else 0,
                    "run_id": done.run_id, "params": done.params, "metrics": done.metrics,
                    "notes": done.notes, "todo": todo})
        return
    out.print(f"imported [bold]{done.source}[/] ({done.mlflow_flavor}) as "
              f"[bold]{manifest.name} {manifest.version}[/] at {done.path}  "
              f"(digest {package.digest[:12]})")
    if done.inputs_from != "package":  # else a note says it came back unchanged
        out.print(f"model: {manifest.model.flavor} ({manifest.model.serialization}); "
                  f"{len(manifest.interface.inputs)} inputs from the {done.inputs_from}; "
                  f"{manifest.golden.rows if manifest.golden else 0} golden examples from "
                  f"{done.golden_from.replace('_', ' ')}, outputs recomputed")
    if done.run_id:
        git = manifest.lineage.git_commit if manifest.lineage else None
        out.print(f"from run {done.run_id}: {done.params} parameters, {done.metrics} metrics"
                  + (f", git {git[:12]}" if git else ""))
    for note in done.notes:
        out.print(f"[yellow]note:[/] {note}")
    if todo:
        out.print(f"{len(todo)} sections hold TODO markers MLflow cannot fill: "
                  f"{', '.join(todo)} (write them in a draft from `baton init` and import "
                  "again with --config, then `baton check`)")


@export_app.command("mlflow")
def export_mlflow(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    dest: Annotated[Path, typer.Argument(help="Folder to write the MLflow model to.")],
    register_: Annotated[bool, typer.Option("--register", help="Also log it to the tracking "
                                            "server in MLFLOW_TRACKING_URI and register a "
                                            "model version.")] = False,
    name: Annotated[Optional[str], typer.Option(help="Registered model name (default: the "
                                                     "package name).")] = None,
    experiment: Annotated[Optional[str], typer.Option(help="MLflow experiment for the run "
                                                           "(default: the package name).")]
    = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Export a package "
                                               "whose artifact is a pickle.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing folder.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write a package as an MLflow model that reproduces its golden outputs."""
    from ..bridges.mlflow import export_model

    package = open_ref(ref)
    done = export_model(package, dest, register=register_, registered_name=name,
                        experiment=experiment, allow_pickle=allow_pickle, overwrite=force)
    if as_json:
        print_json({"path": str(done.path), "digest": package.digest,
                    "golden_rows": done.golden_rows, "registered_name": done.registered_name,
                    "registered_version": done.registered_version, "run_id": done.run_id,
                    "model_uri": done.model_uri})
        return
    out.print(f"exported [bold]{package.manifest.name} {package.manifest.version}[/] to "
              f"{done.path}: mlflow.pyfunc.load_model reproduces its {done.golden_rows} "
              "golden examples")
    if done.model_uri:
        out.print(f"registered as [bold]{done.model_uri}[/] (run {done.run_id})")
