"""Reading and writing `baton.yaml`, with errors that point at the line.

The package digest is the sha256 of the canonical form of the manifest as written: keys
sorted, no whitespace, dates in ISO 8601. It is computed from the parsed mapping rather
than from the models, so adding an optional field in a later release never changes the
digest of an existing package.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ManifestError
from .files import read_text
from .manifest import SECTION_ORDER, SUPPORTED_API_VERSIONS, Draft, Manifest

M = TypeVar("M", Manifest, Draft)
MANIFEST_NAME = "baton.yaml"
#: libyaml's safe loader when PyYAML has it: same results, about 7x faster on a manifest
#: with hundreds of fields, which every command reads (twice, with the digest).
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_manifest(path: str | Path, model: type[M] = Manifest) -> M:
    """Read and validate a manifest; every failure names the file, line and field."""
    path = Path(path)
    return parse_manifest(_read_text(path), source=str(path), model=model)


def read_manifest_and_digest(path: str | Path) -> tuple[Manifest, str]:
    """A package's manifest and digest from one read and one parse of `baton.yaml`."""
    path = Path(path)
    text = _read_text(path)
    data = load_yaml_mapping(text, str(path))
    manifest = _validate(data, text, str(path), Manifest)
    return manifest, hashlib.sha256(canonical_json(data)).hexdigest()


def _read_text(path: Path) -> str:
    if not path.exists():
        raise ManifestError(f"{path} does not exist", hint="run `baton init` to scaffold one")
    return read_text(path, "manifest", error=ManifestError)


def parse_manifest(text: str, *, source: str = MANIFEST_NAME, model: type[M] = Manifest) -> M:
    return _validate(load_yaml_mapping(text, source), text, source, model)


def _validate(data: dict[str, Any], text: str, source: str, model: type[M]) -> M:
    version = data.get("apiVersion")
    if version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(SUPPORTED_API_VERSIONS)
        shown = "missing" if version is None else f"'{version}' is not supported"
        raise ManifestError(
            f"apiVersion {shown}; this release of Baton reads {supported}",
            where=f"{source}:{_line_of(text, ('apiVersion',))}",
            hint=f"set `apiVersion: {SUPPORTED_API_VERSIONS[-1]}`",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, model, source=source, text=text) from None


def load_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ManifestError(f"YAML syntax error: {exc.problem or exc}", where=where,
                            hint="check indentation and quoting on that line") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"YAML error: {exc}", where=source) from None
    if not isinstance(data, dict):
        raise ManifestError("the manifest must be a YAML mapping of sections", where=source,
                            hint="start from `baton init`")
    return data


def manifest_data(manifest: BaseModel) -> dict[str, Any]:
    """The manifest as plain data in section order, without empty optional fields."""
    data = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
    ordered = {key: data.pop(key) for key in SECTION_ORDER if key in data}
    ordered.update(data)
    return ordered


def dump_manifest(manifest: BaseModel) -> str:
    return yaml.dump(manifest_data(manifest), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, width=100)


def write_manifest(manifest: BaseModel, path: str | Path) -> None:
    """Write atomically: a reader sees the old manifest or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump_manifest(manifest), encoding="utf-8")
    os.replace(tmp, path)


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_iso).encode("utf-8")


def manifest_digest(manifest_path: str | Path) -> str:
    """sha256 of the canonical manifest as written on disk: the package's identity."""
    path = Path(manifest_path)
    data = load_yaml_mapping(path.read_text(encoding="utf-8"), str(path))
    return hashlib.sha256(canonical_json(data)).hexdigest()


def _iso(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line text, so the human sections stay readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


# --- locating validation errors ----------------------------------------------------------


def validation_error(exc: ValidationError, model: type[BaseModel], *, source: str,
                     text: str | None = None) -> ManifestError:
    """One located line for a pydantic error: field path, line (when the YAML text is known)
    and, for an unknown key, the nearest valid one."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    field = ".".join(str(part) for part in loc) or "(top level)"
    where = f"{source}:{_line_of(text, loc)}" if text is not None else source
    more = exc.error_count() - 1
    suffix = f" ({more} more error{'s' if more > 1 else ''} after this one)" if more else ""
    if error["type"] == "extra_forbidden":
        valid = _valid_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = f"did you mean `{close[0]}`?" if close else (
            f"valid keys here: {', '.join(valid)}" if valid else None)
        return ManifestError(f"unknown key `{field}`{suffix}", where=where, hint=hint)
    if error["type"] == "missing":
        return ManifestError(f"`{field}` is required{suffix}", where=where)
    got = error.get("input")
    shown = f" (got {got!r})" if not isinstance(got, (dict, list)) else ""
    return ManifestError(f"`{field}`: {error['msg']}{shown}{suffix}", where=where)


def _line_of(text: str, loc: tuple) -> int:
    """Line (1-based) of the deepest node on `loc` that exists in the YAML text."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 1
    return line_in(node, loc)


def line_in(node: yaml.Node | None, loc: tuple) -> int:
    """Line (1-based) of the deepest node on `loc` in a composed YAML tree.

    Callers that locate many fields compose the text once and call this for each.
    """
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            key = next((k for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line = key.start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _valid_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed at `loc` inside `model`, following the field annotations."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part)) or next(
                (f for f in current.model_fields.values() if f.alias == part), None)
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Optional[X], list[X] and dict[str, X] lead to X, the model the keys belong to."""
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        elif origin in (list, tuple):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return annotation
