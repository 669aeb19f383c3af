"""`baton`: the entry point. Errors are one line and exit code 2; `--debug` shows tracebacks."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence

import typer
from rich.markup import escape
from typer import Abort

try:  # recent Typer vendors its own Click; older ones use the click distribution
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click.exceptions import NoArgsIsHelpError, UsageError

from ..contract.errors import BatonError
from . import bench, bridge, check, demo, diff, monitor, package, registry, report, serve, verify
from ._common import err

app = typer.Typer(
    name="baton", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="The ML model handoff as an executable contract. Add --debug to any command to see "
         "tracebacks.",
)
package.register(app)
demo.register(app)
bridge.register(app)
check.register(app)
report.register(app)
diff.register(app)
monitor.register(app)
registry.register(app)
verify.register(app)
bench.register(app)
serve.register(app)


#: Exit code of a bug of ours, distinct from 1 (a finding: failed check, drift alert, ...).
INTERNAL_ERROR = 70
#: Exit code of a command line Click cannot parse, the same as any other bad input.
USAGE_ERROR = 2


@functools.cache
def _command() -> typer.core.TyperGroup:
    """Typer's command tree, built once per process: building it costs more than most commands."""
    return typer.main.get_command(app)


def run(argv: Sequence[str]) -> int:
    """Run one command line and return its exit code (used by `main` and the tests)."""
    args = [a for a in argv if a != "--debug"]
    debug = len(args) != len(argv)
    try:
        # Not standalone: Click's usage errors reach us to be printed as one line.
        code = _command().main(args=args, prog_name="baton", standalone_mode=False)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except NoArgsIsHelpError as exc:  # `baton` or a group alone: the help is the answer
        exc.show()
        return exc.exit_code
    except UsageError as exc:
        if debug:
            raise
        err.print(f"[bold red]error:[/] {escape(usage_message(exc))}", markup=True,
                  highlight=False, soft_wrap=True)
        return USAGE_ERROR
    except Abort:
        err.print("aborted")
        return 1
    except BatonError as exc:
        if debug:
            raise
        # Escaped: a message may quote brackets (`[tool.baton]`, a range) Rich must not eat.
        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False,
                  soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # a bug of ours: one line, and how to see more
        if debug:
            raise
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
                  "(run again with --debug for the traceback, and please report it)",
                  markup=True, highlight=False, soft_wrap=True)
        return INTERNAL_ERROR
    return code if isinstance(code, int) else 0


def usage_message(exc: UsageError) -> str:
    """Click's complaint about the command line as one line, with where to read more."""
    message = " ".join(exc.format_message().split())
    message = message[:1].lower() + message[1:]
    command = exc.ctx.command_path if exc.ctx is not None else "baton"
    return f"{command}: {message.rstrip('.')} (hint: `{command} --help` lists what it takes)"


def main() -> None:
    sys.exit(run(sys.argv[1:]))
