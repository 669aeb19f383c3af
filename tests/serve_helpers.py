"""Helpers for the serving tests: packages made here, an in-process app, a real server."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import modelbaton
from modelbaton.serve import ServeOptions, create_app

#: Plain-Python models shipped as package code: a threshold classifier that fails on one
#: value, and candidates that are slow or always fail.
QUIRKY = '''
import math
import time

import numpy as np


class Threshold:
    """P(1) rises around `cut`; x == 13 makes it raise (a model bug only some rows hit)."""

    def __init__(self, cut=50.0, delay=0.0, broken=False, fails_on=13):
        self.cut, self.delay, self.broken, self.fails_on = cut, delay, broken, fails_on

    def get_params(self):
        return {"cut": self.cut, "delay": self.delay, "broken": self.broken,
                "fails_on": self.fails_on}

    def predict_proba(self, frame):
        if self.delay:
            time.sleep(self.delay)
        if self.broken:
            raise RuntimeError("candidate is broken")
        x = np.asarray(frame["x"], dtype=float)
        if self.fails_on is not None and (x == self.fails_on).any():
            raise ValueError(f"cannot score x == {self.fails_on}")
        p = 1 / (1 + np.exp(-(x - self.cut) / 10))
        return np.column_stack([1 - p, p])

    def predict(self, frame):
        return (self.predict_proba(frame)[:, 1] > 0.5).astype(int)
'''


def quirky_package(folder: Path, name: str, *, more_fields: bool = False,
                   **params: Any) -> Path:
    """A python-flavor package of `Threshold(**params)` with inputs x (0..100) and n (int);
    `more_fields` adds a category and a nullable number (which the model ignores)."""
    code = folder / "quirky_models.py"
    if not code.exists():
        code.write_text(textwrap.dedent(QUIRKY))
    spec = importlib.util.spec_from_file_location("quirky_models", code)
    module = importlib.util.module_from_spec(spec)
    sys.modules["quirky_models"] = module
    spec.loader.exec_module(module)
    try:
        x = np.array([v for v in np.linspace(0, 100, 41) if v != 13])
        sample = pd.DataFrame({"x": x, "n": np.arange(len(x)) % 5})
        if more_fields:
            sample["colour"] = np.array(["red", "green", "blue"])[np.arange(len(x)) % 3]
            sample["weight"] = np.where(np.arange(len(x)) % 4 == 0, np.nan, x / 10)
        model = module.Threshold(**{**params, "delay": 0.0, "broken": False})
        path = modelbaton.pack(model, folder / name, sample_input=sample, name=name,
                               version="1", code=code, labels=[0, 1])
    finally:
        del sys.modules["quirky_models"]
    if params.get("delay") or params.get("broken"):
        # Packed healthy (golden examples need answers), then made slow or broken the
        # way a real candidate might be, and re-sealed so its digests check out.
        _reparam(path, params)
    return path


def _reparam(path: Path, params: dict[str, Any]) -> None:
    from modelbaton.contract.io import read_manifest, write_manifest
    from modelbaton.package.integrity import file_entries

    spec_path = path / "model" / "python.json"
    spec = json.loads(spec_path.read_text())
    spec["params"].update(params)
    spec_path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    manifest = read_manifest(path / "baton.yaml")
    write_manifest(manifest.model_copy(update={"files": file_entries(path)}),
                   path / "baton.yaml")


def churn_data(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "tenure": rng.integers(0, 72, n),
        "charges": rng.normal(70, 20, n).round(2),
        "plan": rng.choice(["basic", "plus", "pro"], n),
    })
    return frame, (frame["charges"] > 70).astype(int)


@contextlib.asynccontextmanager
async def running(options: ServeOptions, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this event loop, lifespan included, with a client talking ASGI to it."""
    app = create_app(options, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://baton") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@contextlib.contextmanager
def real_server(*args: str, env: dict[str, str] | None = None,
                timeout: float = 120.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """`baton serve ARGS --port 0 --json` as a real process; yields its URL once ready."""
    baton = str(Path(sys.executable).with_name("baton"))
    errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: a full pipe would block it
    process = subprocess.Popen([baton, "serve", *args, "--port", "0", "--json"],
                               stdout=subprocess.PIPE, stderr=errors, text=True,
                               env={**os.environ, **(env or {})})
    process.errors = errors  # type: ignore[attr-defined]
    try:
        line = process.stdout.readline()
        if not line:
            process.wait()
            errors.seek(0)
            raise AssertionError(f"server did not start: {errors.read()}")
        url = json.loads(line)["url"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"server at {url} never became ready")
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def read_log(folder: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    files = sorted(folder.glob("predictions-*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
