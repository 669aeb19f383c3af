"""A small real package for the verify and bench tests: a model shipped as Python code.

Its lock pins numpy only, so the clean rooms built from it are small and quick to build,
while everything else (the loader, the feature code path, digests, receipts) is the real
thing. Tests change copies of it, never the shared original.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

import modelbaton
from modelbaton.contract.io import read_manifest, write_manifest

SCORER = textwrap.dedent('''
    """A linear score with a logistic probability."""

    import numpy as np


    class Scorer:
        def __init__(self, weights=(0.5, -0.25), bias=0.1):
            self.weights, self.bias = list(weights), bias

        def get_params(self):
            return {"weights": self.weights, "bias": self.bias}

        def predict(self, X):
            return (self._score(X) > 0).astype(int)

        def predict_proba(self, X):
            p = 1 / (1 + np.exp(-self._score(X)))
            return np.column_stack([1 - p, p])

        def _score(self, X):
            return np.asarray(X, dtype=float) @ np.array(self.weights) + self.bias
''')


def sample(n: int = 60) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {"x": rng.normal(size=n), "y": rng.normal(size=n)}


def pack_scorer(folder: Path, target: Path, *, extra_code: str = "", **kwargs: Any) -> Path:
    """Write the scorer module (plus `extra_code`) under `folder` and pack it at `target`."""
    folder.mkdir(parents=True, exist_ok=True)
    module = folder / "scorer.py"
    module.write_text(extra_code + SCORER)
    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop("scorer", None)
        scorer = importlib.import_module("scorer")
        return modelbaton.pack(scorer.Scorer(), target, sample_input=sample(), name="scorer",
                               version="1", code=module, model_input="array", **kwargs)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("scorer", None)


def copy_package(source: Path, target: Path) -> Path:
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


def rewrite_file(package: Path, rel: str, text: str) -> None:
    """Change a packaged file AND its digest in the manifest, as a careful forger would."""
    path = package / rel
    path.write_text(text)
    manifest = read_manifest(package / "baton.yaml")
    files = [f.model_copy(update={"sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                  "size": path.stat().st_size}) if f.path == rel else f
             for f in manifest.files]
    write_manifest(manifest.model_copy(update={"files": files}), package / "baton.yaml")
