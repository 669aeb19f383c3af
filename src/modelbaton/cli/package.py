"""`baton init`, `pack`, `inspect`, `schema` and `predict`: making and reading packages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table as RichTable

from ..contract.errors import BatonError, DataError
from ..contract.files import output_path, write_text
from ..contract.io import MANIFEST_NAME
from ..contract.manifest import Manifest, is_todo
from ..contract.scaffold import scaffold
from ..contract.schema import interface_avro_schema, interface_json_schema, manifest_schema_text
from ..data.table import OUTPUT_FORMATS, python_values, read_table, to_records, write_table
from ..flavors import read_model_file
from ..package.load import load
from ..package.pack import pack as pack_package
from ._common import human_size, open_ref, out, print_json


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("pack")(pack)
    app.command("inspect")(inspect)
    app.command("schema")(schema)
    app.command("predict")(predict)


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the draft.")] = Path(MANIFEST_NAME),
    name: Annotated[str, typer.Option(help="Model name.")] = "my-model",
    version: Annotated[str, typer.Option(help="Model version.")] = "1.0.0",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Scaffold a baton.yaml draft with one line of guidance per handoff section."""
    if path.exists() and not force:
        raise BatonError(f"{path} already exists", hint="pass --force to overwrite it")
    write_text(path, scaffold(name, version), option="the draft path")
    out.print(f"wrote {path}: fill in every TODO, then `baton pack MODEL --config {path} "
              "--sample DATA --out PKG`")


def pack(
    model_file: Annotated[Path, typer.Argument(
        help="The saved model (.skops, .ubj, .txt, .onnx, .pt2, .pt; .pkl with "
             "--allow-pickle).")],
    sample: Annotated[Path, typer.Option(help="CSV/Parquet/JSONL of model inputs, ideally the "
                                              "training data.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Package folder, or a file "
                                                              "ending in .baton.")],
    config: Annotated[Optional[Path], typer.Option(help="baton.yaml draft with the human "
                                                        "sections.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Model name (else from the draft).")] = None,
    version: Annotated[Optional[str], typer.Option(help="Version (else from the draft).")] = None,
    code: Annotated[Optional[Path], typer.Option(help="Feature code: a module or folder.")] = None,
    preprocessing: Annotated[Optional[str], typer.Option(
        help="Entry point module:function in the code.")] = None,
    drop: Annotated[list[str], typer.Option(help="Sample column that is not a model input "
                                                 "(e.g. the label); repeatable.")] = [],
    label: Annotated[list[str], typer.Option(help="Class label, in the order of the model's "
                                                  "classes (for a model trained on encoded "
                                                  "labels); repeatable.")] = [],
    training_data: Annotated[Optional[Path], typer.Option(help="Training data file to "
                                                               "fingerprint.")] = None,
    evaluation_data: Annotated[Optional[Path], typer.Option(help="Evaluation data file.")] = None,
    requirements: Annotated[Optional[Path], typer.Option(help="Your own lock file instead of "
                                                              "the captured pins.")] = None,
    flavor: Annotated[Optional[str], typer.Option(help="Model library, when the suffix does "
                                                       "not tell.")] = None,
    docs: Annotated[list[Path], typer.Option(help="A file or folder to hand over in docs/; "
                                                  "repeatable.")] = [],
    parent_version: Annotated[Optional[str], typer.Option(
        help="The version this one replaces, e.g. churn:3 (lineage).")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Accept a pickle "
                                                                      "artifact.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing package.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Build a package from a saved model file, a sample of its inputs and a draft."""
    draft_name, draft_version = _draft_identity(config)
    name, version = name or draft_name, version or draft_version
    if not name or not version:
        raise BatonError("the package needs a name and a version",
                         hint="pass --name and --version, or set them in the --config draft")
    model = read_model_file(model_file, flavor=flavor, allow_pickle=allow_pickle)
    table = read_table(sample)
    for column in drop:
        if column not in table:
            raise DataError(f"{sample}: --drop column '{column}' is not in the file",
                            hint=f"columns: {', '.join(table)}")
        del table[column]
    path = pack_package(model, out_path, sample_input=table, name=name, version=version,
                        code=code, preprocessing=preprocessing, labels=label or None,
                        training_data=training_data,
                        evaluation_data=evaluation_data, requirements=requirements,
                        handoff=config, flavor=flavor, allow_pickle=allow_pickle,
                        docs=docs or None, parent_version=parent_version, overwrite=force)
    package = open_ref(str(path))
    todo = _todo_sections(package.manifest)
    if as_json:
        print_json({"path": str(path), "digest": package.digest, "todo": todo})
        return
    out.print(f"packed [bold]{name} {version}[/] at {path}  (digest {package.digest[:12]})")
    if todo:
        out.print(f"{len(todo)} sections still hold TODO markers: {', '.join(todo)}")


def _draft_identity(config: Path | None) -> tuple[str | None, str | None]:
    if config is None:
        return None, None
    from ..contract.io import read_manifest
    from ..contract.manifest import Draft

    draft = read_manifest(config, Draft)
    return draft.name, draft.version


def _todo_sections(manifest: Manifest) -> list[str]:
    return [name for name in type(manifest).model_fields
            if name != "files" and is_todo(getattr(manifest, name))]


def inspect(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest summary as "
                                                         "JSON.")] = False,
) -> None:
    """Summarise a package: what it is, how to call it, what it still lacks."""
    package = open_ref(ref)
    m = package.manifest
    size = sum(f.size for f in m.files)
    todo = _todo_sections(m)
    if as_json:
        print_json({
            "name": m.name, "version": m.version, "digest": package.digest,
            "path": str(package.root), "flavor": m.model.flavor,
            "architecture": m.model.architecture, "task": m.interface.task,
            "inputs": [f.model_dump(exclude_none=True) for f in m.interface.inputs],
            "outputs": [f.model_dump(exclude_none=True) for f in m.interface.outputs],
            "labels": m.interface.labels, "files": len(m.files), "bytes": size,
            "environment": m.environment.model_dump() if m.environment else None,
            "lineage": m.lineage.model_dump(mode="json", exclude_none=True) if m.lineage
            else None, "todo_sections": todo,
        })
        return
    out.print(f"[bold]{m.name}[/] {m.version}   digest {package.digest}")
    if m.description:
        out.print(m.description)
    out.print(f"model: {m.model.flavor} ({m.model.serialization}) {m.model.architecture or ''}")
    out.print(f"task: {m.interface.task}"
              + (f"   labels: {', '.join(map(str, m.interface.labels))}"
                 if m.interface.labels else ""))
    fields = RichTable(title="inputs", show_lines=False)
    for column in ("name", "type", "nullable", "range / categories"):
        fields.add_column(column)
    for f in m.interface.inputs:
        allowed = (", ".join(map(str, f.categories[:8])) + (" ..." if len(f.categories) > 8
                                                            else "")) if f.categories else (
            f"[{f.minimum}, {f.maximum}]" if f.minimum is not None else "")
        fields.add_row(f.name, f.type, "yes" if f.nullable else "no", allowed)
    out.print(fields)
    out.print("outputs: " + ", ".join(f"{f.name} ({f.type})" for f in m.interface.outputs))
    if m.preprocessing and m.preprocessing.entry_point:
        out.print(f"preprocessing: {m.preprocessing.entry_point}")
    if m.environment:
        pins = (package.root / m.environment.lock).read_text().splitlines()
        count = sum(1 for line in pins if line.strip() and not line.startswith("#"))
        out.print(f"environment: Python {m.environment.python} on {m.environment.platform}, "
                  f"{count} pinned distributions ({m.environment.source})")
    if m.golden:
        out.print(f"golden examples: {m.golden.rows} rows")
    if m.lineage and m.lineage.git_commit:
        dirty = " (dirty)" if m.lineage.git_dirty else ""
        out.print(f"git: {m.lineage.git_commit[:12]}{dirty}")
    if m.lineage and m.lineage.created_by:
        out.print(f"packed by {m.lineage.created_by} at {m.lineage.created_at}")
    out.print(f"files: {len(m.files)}, {human_size(size)}")
    if todo:
        out.print(f"[yellow]TODO in: {', '.join(todo)}[/] (run `baton check` for details)")


def schema(
    interface: Annotated[Optional[str], typer.Option(
        "--interface", help="Export this package's interface instead of the manifest "
                            "schema.")] = None,
    format: Annotated[str, typer.Option(help="jsonschema or avro (interface only).")] =
    "jsonschema",
    side: Annotated[str, typer.Option(help="inputs or outputs (interface only).")] = "inputs",
) -> None:
    """Print the JSON Schema of baton.yaml, or a package's interface as JSON Schema or Avro."""
    if format not in ("jsonschema", "avro"):
        raise BatonError(f"unknown format '{format}'", hint="use jsonschema or avro")
    if interface is None:
        if format != "jsonschema":
            raise BatonError("the manifest schema is only available as jsonschema",
                             hint="use --interface PKG --format avro for the data interface")
        sys.stdout.write(manifest_schema_text())
        return
    manifest = open_ref(interface).manifest
    print_json(interface_json_schema(manifest, side) if format == "jsonschema"
               else interface_avro_schema(manifest, side))


def predict(
    ref: Annotated[str, typer.Argument(help="Package folder, .baton file or reference.")],
    input_path: Annotated[Path, typer.Option("--input", "-i", help="CSV, Parquet or JSONL "
                                                                   "file of inputs.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here (.csv, "
                                                   ".parquet, .jsonl); else stdout.")] = None,
    format: Annotated[str, typer.Option(help="Stdout format: jsonl or csv.")] = "jsonl",
    with_input: Annotated[bool, typer.Option("--with-input", help="Include the input "
                                                                  "columns.")] = False,
    keep: Annotated[list[str], typer.Option(help="Column of the file that is not a model "
                                                 "input, copied to the output (e.g. an id); "
                                                 "repeatable.")] = [],
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle")] = False,
) -> None:
    """Batch scoring: validate a file against the interface and write the predictions."""
    if format not in ("jsonl", "csv"):
        raise BatonError(f"unknown format '{format}'", hint="use jsonl or csv")
    if output is not None:
        if output.suffix.lower() not in OUTPUT_FORMATS:
            raise BatonError(f"{output}: unsupported output type '{output.suffix}'",
                             hint="use .csv, .parquet or .jsonl")
        output_path(output)
    predictor = load(open_ref(ref), allow_pickle=allow_pickle)
    types = {f.name: f.type for f in predictor.inputs}
    table = read_table(input_path, types={**types, **dict.fromkeys(keep, "string")})
    missing = [column for column in keep if column not in table]
    if missing:
        raise DataError(f"--keep column '{missing[0]}' is not in the file",
                        where=str(input_path), hint=f"columns: {', '.join(table)}")
    kept = {column: table.pop(column) for column in keep}
    extra = [column for column in table if column not in types]
    if extra:
        raise DataError(f"column '{extra[0]}' is not an input of this model",
                        where=str(input_path), hint=f"remove it, or pass --keep {extra[0]} "
                        "to copy it to the output")
    try:
        result = predictor.predict_table(table)
    except DataError as exc:  # rows count from 0, the first line after a CSV header
        raise DataError(exc.message, where=str(input_path), hint=exc.hint) from None
    result = {**kept, **(table if with_input else {}), **result}
    if output is not None:
        write_table(result, output)
        out.print(f"wrote {len(next(iter(result.values())))} predictions to {output}",
                  highlight=False)
        return
    if format == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(list(result))
        columns = [python_values(c) for c in result.values()]
        writer.writerows(["" if v is None else v for v in row] for row in zip(*columns))
    else:
        for record in to_records(result):
            sys.stdout.write(json.dumps(record) + "\n")
