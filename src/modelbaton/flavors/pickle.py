"""Generic pickle: only with explicit consent, recorded in the manifest, at pack and load.

Loading a pickle runs whatever code it contains, so Baton refuses it unless the person
loading says `allow_pickle=True` (`--allow-pickle`), and `baton check` flags it.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import UnsafeInputError
from ..contract.manifest import ModelSection
from .base import Description, Flavor, Saved, plain


class PickleFlavor(Flavor):
    name = "pickle"
    module = "pickle"
    distribution = "modelbaton"
    extra = "all"
    suffixes = (".pkl", ".pickle", ".joblib")

    @classmethod
    def handles(cls, model: Any) -> bool:
        return hasattr(model, "predict")

    def describe(self, model: Any) -> Description:
        params = model.get_params() if hasattr(model, "get_params") else {}
        return Description(architecture=f"pickled {type(model).__module__}."
                                        f"{type(model).__qualname__}",
                           hyperparameters={k: plain(v) for k, v in params.items()})

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        with open(model_dir / "model.pkl", "wb") as handle:
            pickle.dump(model, handle, protocol=5)
        return Saved("model/model.pkl", "pickle")

    def load(self, path: Path, section: ModelSection) -> Any:
        # Consent is asked by the loader (modelbaton.load), the one gate for every caller.
        if not section.allow_pickle:
            raise UnsafeInputError(f"{path.name} is a pickle the manifest does not declare",
                                   hint="the manifest must record model.allow_pickle: true")
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - declared in the manifest, consented to

    def read_file(self, path: Path) -> Any:
        # Only reached with --allow-pickle (see flavors.read_model_file).
        if path.suffix == ".joblib":
            import joblib

            return joblib.load(path)
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        return np.asarray(model.predict(inputs))

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        return np.asarray(model.predict_proba(inputs)) if hasattr(model, "predict_proba") else None

    def wants_frame(self, model: Any) -> None:
        return None
