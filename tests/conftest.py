"""Shared fixtures: an isolated BATON_HOME, real data, and the CLI run in-process."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelbaton.cli.main import INTERNAL_ERROR, run


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
        # A bug of ours is never an acceptable answer, whatever exit code a test expects.
        assert code != INTERNAL_ERROR, captured.err
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


@pytest.fixture(scope="session")
def churn():
    """Customers: numbers, an integer and a category; a string label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame({
        "tenure": rng.integers(0, 72, n),
        "charges": rng.normal(70, 20, n).round(2),
        "plan": rng.choice(["basic", "plus", "pro"], n),
    })
    label = np.where((frame["charges"] > 75) | (frame["plan"] == "pro"), "churn", "stay")
    return frame, label


@pytest.fixture
def hand_over(tmp_path: Path) -> Callable[[Path], dict[str, Any]]:
    """Load a package three ways: where it was packed, as a copied folder (the original
    moved away, as when handed to another team) and from a `.baton` archive of it."""
    from modelbaton import load
    from modelbaton.package.archive import write_archive

    def three_ways(path: Path, **options: Any) -> dict[str, Any]:
        loaded = {"folder": load(path, **options)}
        copy = shutil.copytree(path, tmp_path / "handed-over" / path.name)
        path.rename(path.with_name(path.name + "-moved-away"))
        loaded["copy"] = load(copy, **options)
        archive = write_archive(copy, tmp_path / f"{path.name}.baton")
        loaded["archive"] = load(archive, **options)
        assert loaded["archive"].root != copy  # really read from the archive's extraction
        return loaded

    return three_ways


SCORING = '''
"""Scores an account from every kind of column: numbers, a nullable integer, a category,
a flag and a date."""


def score(frame):
    years = frame["signup"].dt.year - 2000
    return (frame["income"] / 1000 + frame["visits"].fillna(0) + years
            + (frame["plan"] == "pro") * 5 + frame["active"] * 1.0).to_numpy()
'''


@pytest.fixture(scope="session")
def accounts():
    import pandas as pd

    return pd.DataFrame({
        "income": [52000.0, 61000.5, 38000.0, 75000.0],
        "visits": pd.array([3, None, 7, 1], dtype="Int64"),
        "plan": pd.Categorical(["basic", "pro", "plus", "pro"]),
        "active": [True, False, True, True],
        "signup": pd.to_datetime(["2019-05-01", "2021-01-15 08:00", "2023-07-30",
                                  "2020-02-29"], format="ISO8601"),
    })


@pytest.fixture(scope="session")
def accounts_package(tmp_path_factory, accounts):
    """A plain-Python model over every column type, packed with its code; and its scores."""
    import importlib.util

    from modelbaton import pack

    project = tmp_path_factory.mktemp("accounts")
    (project / "scoring.py").write_text(SCORING)
    spec = importlib.util.spec_from_file_location("scoring", project / "scoring.py")
    scoring = importlib.util.module_from_spec(spec)
    sys.modules["scoring"] = scoring
    try:
        spec.loader.exec_module(scoring)
        path = pack(scoring.score, project / "pkg", sample_input=accounts, name="accounts",
                    version="1", code=project / "scoring.py")
    finally:
        del sys.modules["scoring"]
    return path, scoring.score(accounts)
