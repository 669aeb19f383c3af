"""Shared fixtures: an isolated BATON_HOME, real data, and the CLI run in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelbaton.cli.main import run


@pytest.fixture(autouse=True)
def baton_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own registry, caches and keyring, and a known actor."""
    home = tmp_path / "baton-home"
    monkeypatch.setenv("BATON_HOME", str(home))
    monkeypatch.setenv("BATON_USER", "tester")
    return home


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `baton ARGS...` in this process and capture what it printed."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture(scope="session")
def iris():
    """Iris as a DataFrame with snake_case columns, and string labels."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    X = data.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    y = data.target.map(dict(enumerate(data.target_names)))
    return X, y
