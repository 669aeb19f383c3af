"""The documents stay true to the command line: every `baton ...` they show parses.

Each command in a code block of README.md and docs/*.md must name real (sub)commands and
options with acceptable values; the README's command table must name real commands and
options; every relative link must lead to a file that exists. A renamed option or command
then fails here instead of in a reader's terminal.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from modelbaton.cli.main import _command

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_WORD = re.compile(r"^[a-z][a-z0-9-]*$")


def shown_commands(text: str) -> list[list[str]]:
    """The argument lists of every `baton` command in the text's fenced code blocks."""
    found = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line)  # comments
            line = re.sub(r"^\s*(-\s+)?(run:\s+)?", "", line)  # CI steps
            for part in re.split(r"&&|;", line):
                try:
                    tokens = shlex.split(part)
                except ValueError:
                    continue
                while tokens and _ENV.match(tokens[0]):
                    tokens.pop(0)
                if tokens[:1] != ["baton"]:
                    continue
                args = []
                for token in tokens[1:]:
                    if token in ("&", "|") or token.startswith(">"):
                        break
                    args.append(token)
                found.append(args)
    return found


# Typer carries its own copy of Click, so commands are recognised by what they have.
def is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def resolve(args: list[str]) -> tuple[Any, list[str], str]:
    """The (sub)command the arguments name, the arguments left for it, and its name."""
    command = _command()
    name = "baton"
    while is_group(command) and args and args[0] in command.commands:
        name += f" {args[0]}"
        command, args = command.commands[args[0]], args[1:]
    return command, args, name


def options_of(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


COMMANDS = [(doc.relative_to(ROOT).as_posix(), args) for doc in DOCUMENTS
            for args in shown_commands(doc.read_text(encoding="utf-8"))]


def test_the_documents_show_commands():
    assert len(COMMANDS) > 50
    assert {doc for doc, _ in COMMANDS} >= {"README.md", "docs/registry.md", "docs/ci.md"}


@pytest.mark.parametrize("doc, args", COMMANDS, ids=[f"{d}: baton {shlex.join(a)}"[:90]
                                                     for d, a in COMMANDS])
def test_every_command_shown_parses(doc, args):
    command, rest, name = resolve(args)
    assert not is_group(command) or not rest or rest[0].startswith("-"), \
        f"{doc}: `{name}` has no subcommand {rest[0]!r}"
    try:
        command.make_context(name, list(rest))
    except Exception as exc:  # Click's UsageError, from Typer's copy of Click
        if not hasattr(exc, "format_message"):
            raise
        pytest.fail(f"{doc}: `baton {shlex.join(args)}` does not parse: {exc.format_message()}")


def test_the_readme_command_table_names_real_commands_and_options():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = "\n".join(line for line in section.splitlines() if line.startswith("| `baton"))
    checked = 0
    for span in re.findall(r"`(baton [^`]+)`", rows):
        words = span.replace("\\|", "|").split()[1:]
        heads = words[0].split("/")
        subs = words[1].replace("|", "/").split("/") if len(words) > 1 and all(
            _WORD.match(w) for w in words[1].replace("|", "/").split("/")) else [None]
        for head in heads:
            for sub in subs:
                command, rest, name = resolve([head] + ([sub] if sub else []))
                assert not rest, f"README command table: `{span}`: no command {rest[0]!r}"
                options = {w.strip("[]").split("=")[0] for w in words if
                           w.strip("[").startswith("--")}
                unknown = options - options_of(command)
                if len(heads) == len(subs) == 1:
                    assert not unknown, f"README command table: `{name}` has no {unknown}"
                checked += 1
    assert checked > 40


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.name)
def test_relative_links_lead_to_files(doc):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
