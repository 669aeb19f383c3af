"""`baton demo`: the end-to-end handoff, told as the commands a user would type."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import out


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    workdir: Annotated[Path, typer.Argument(help="Folder for the demo's project and "
                                                 "registry (replaced if it is a demo folder).")]
    = Path("baton-demo"),
) -> None:
    """Run the end-to-end handoff demo on the embedded defaults (SQLite registry, local files)."""
    if not str(workdir).strip() or workdir == Path("."):
        from ..contract.errors import BatonError

        raise BatonError("the demo needs a folder of its own, not the current one",
                         hint="baton demo baton-demo")
    from ..demo import run_demo
    from .main import run

    run_demo(workdir, out, run)
