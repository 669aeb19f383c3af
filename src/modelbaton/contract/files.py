"""The one place that opens the user's files and writes the commands' outputs.

Reading: a path that is missing, a folder, unreadable or not text in the expected encoding
is one line naming the file, never an OSError's traceback. Writing: the output appears
whole or not at all (a temporary file in the same folder, then an atomic rename), and a
missing parent folder is an error that names it rather than a folder silently created
from a typo. A package is different: like `mlflow.*.save_model`, packing into
`out/churn-2` makes `out/` when it is missing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import BatonError


def input_file(path: str | Path, what: str = "file", *, hint: str | None = None,
               error: type[BatonError] = BatonError) -> Path:
    """`path` as an existing, readable regular file, or a one-line error naming it."""
    path = Path(path)
    if str(path) in ("", "."):
        raise error(f"the {what} path is empty", hint=hint or "give a file name")
    if not path.exists():
        raise error(f"{what} {path} does not exist", hint=hint)
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file", hint=hint)
    if not os.access(path, os.R_OK):
        raise error(f"{what} {path} is not readable (permission denied)",
                    hint=f"check its permissions, e.g. chmod u+r {path}")
    return path


def read_bytes(path: str | Path, what: str = "file", *, hint: str | None = None,
               error: type[BatonError] = BatonError) -> bytes:
    path = input_file(path, what, hint=hint, error=error)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}", hint=hint) from None


def read_text(path: str | Path, what: str = "file", *, hint: str | None = None,
              error: type[BatonError] = BatonError) -> str:
    """The file's text as UTF-8; a binary or otherwise encoded file is a clear error."""
    data = read_bytes(path, what, hint=hint, error=error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8 text (byte {exc.start} cannot be decoded)",
                    hint=hint or "save it as UTF-8") from None


def output_path(path: str | Path, option: str = "--output") -> Path:
    """Check where an output will go before any work is done: an existing folder to hold
    it, and not a folder in its place."""
    path = Path(path)
    if str(path) in ("", "."):
        raise BatonError(f"{option} is empty", hint="give a file name")
    if path.is_dir():
        raise BatonError(f"{option} {path} is a folder", hint="give a file name inside it")
    parent = path.parent
    if not parent.is_dir():
        shown = "is not a folder" if parent.exists() else "does not exist"
        raise BatonError(f"{option} {path}: the folder {parent} {shown}",
                         hint=f"create it first (mkdir -p {parent}) or choose another "
                              f"{option}")
    if not os.access(parent, os.W_OK):
        raise BatonError(f"{option} {path}: the folder {parent} is not writable",
                         hint=f"choose another {option}")
    return path


def package_parent(target: Path, action: str, *,
                   error: type[BatonError] = BatonError) -> Path:
    """Make the folder that will hold the package `target` (as `mkdir -p`); a file in the
    way, or a folder that cannot be made, is one line naming it."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in (parent, *parent.parents) if p.exists())
        raise error(f"cannot {action} {target}: {blocker} is a file, not a folder",
                    hint="choose another path") from None
    except OSError as exc:
        raise error(f"cannot {action} {target}: cannot create {parent}: "
                    f"{exc.strerror or exc}", hint="choose another path") from None
    return parent


@contextlib.contextmanager
def atomic_output(path: str | Path, option: str = "--output") -> Iterator[Path]:
    """A temporary path beside `path` to write to; it replaces `path` only when the block
    ends without an error, and is removed when it fails."""
    path = output_path(path, option)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise BatonError(f"cannot write {path}: {exc.strerror or exc}",
                         hint=f"choose another {option}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: str | Path, text: str, option: str = "--output") -> Path:
    """Write a command's output file atomically; a failure is one line, not a traceback."""
    with atomic_output(path, option) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
