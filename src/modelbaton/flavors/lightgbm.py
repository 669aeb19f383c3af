"""LightGBM in its native text format; the scikit-learn wrappers keep their labels.

A model trained on a DataFrame with pandas categorical columns records their categories
(`pandas_categorical`); Baton's tables hold such columns as plain values, so they are
turned back into categoricals with exactly those categories before LightGBM sees them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import FlavorError
from ..contract.manifest import ModelSection
from .base import Description, Flavor, Saved, module_root, plain


class LightGBMFlavor(Flavor):
    name = "lightgbm"
    module = "lightgbm"
    distribution = "lightgbm"
    extra = "lightgbm"
    suffixes = (".txt", ".lgb", ".lightgbm")

    @classmethod
    def handles(cls, model: Any) -> bool:
        return module_root(model) == "lightgbm"

    def describe(self, model: Any) -> Description:
        booster = _booster(model)
        kind = type(model).__name__
        labels = getattr(model, "classes_", None)
        params = model.get_params() if hasattr(model, "get_params") else booster.params
        task = "classification" if "Classifier" in kind else (
            "regression" if "Regressor" in kind else None)
        return Description(
            architecture=f"{kind}(gradient-boosted trees, {booster.num_trees()} trees, "
                         f"{booster.num_feature()} features, objective "
                         f"{booster.params.get('objective', '?')})",
            hyperparameters={k: plain(v) for k, v in sorted(params.items()) if v is not None},
            labels=[plain(v) for v in labels] if labels is not None else None,
            task=task,
            feature_names=booster.feature_name(),
        )

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        booster = _booster(model)
        kind = type(model).__name__
        iteration = getattr(model, "best_iteration_", None) or None
        booster.save_model(str(model_dir / "model.txt"), num_iteration=iteration)
        options: dict[str, Any] = {"class": kind}
        if hasattr(model, "classes_"):
            options["labels"] = [plain(v) for v in model.classes_]
        return Saved(artifact="model/model.txt", serialization="lightgbm-text", options=options)

    def load(self, path: Path, section: ModelSection) -> Any:
        lgb = self.import_library()
        try:
            booster = lgb.Booster(model_file=str(path))
        except lgb.basic.LightGBMError as exc:
            raise FlavorError(f"LightGBM cannot read {path.name}: {exc}") from None
        return _Loaded(booster, section.options.get("labels"))

    def read_file(self, path: Path) -> Any:
        return self.import_library().Booster(model_file=str(path))

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        inputs = _with_categoricals(model, inputs)
        if isinstance(model, _Loaded):
            raw = model.booster.predict(inputs)
            if model.labels is None:
                return raw
            # As LGBMClassifier.predict does: argmax over the probabilities, then the label.
            return model.labels[np.argmax(_proba(raw), axis=1)]
        return np.asarray(model.predict(inputs))

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        inputs = _with_categoricals(model, inputs)
        if isinstance(model, _Loaded):
            return _proba(model.booster.predict(inputs)) if model.labels is not None else None
        return np.asarray(model.predict_proba(inputs)) if hasattr(model, "predict_proba") \
            else None

    def predict_with_proba(self, model: Any, inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        if isinstance(model, _Loaded) and model.labels is not None:
            proba = _proba(model.booster.predict(_with_categoricals(model, inputs)))
            return model.labels[np.argmax(proba, axis=1)], proba
        return super().predict_with_proba(model, inputs)

    def wants_frame(self, model: Any) -> bool:
        """Fed by column name when it was fitted on a DataFrame, as LightGBM then expects."""
        return getattr(model, "feature_names_in_", None) is not None or \
            bool(getattr(_booster(model), "pandas_categorical", None))


class _Loaded:
    """A booster read from text, with the class labels of the classifier it came from."""

    def __init__(self, booster: Any, labels: list[Any] | None):
        self.booster = booster
        self.labels = np.asarray(labels, dtype=object) if labels is not None else None
        self.categoricals = _categoricals(booster)


def _booster(model: Any) -> Any:
    if type(model).__name__ == "Booster":
        return model
    if isinstance(model, _Loaded):
        return model.booster
    booster = getattr(model, "booster_", None)
    if booster is None:
        raise FlavorError("the LightGBM model is not fitted", hint="call fit() before packing")
    return booster


def _categoricals(booster: Any) -> list[tuple[str, list[Any]]]:
    """(column, categories) of each pandas categorical the model was trained with."""
    categories = getattr(booster, "pandas_categorical", None) or []
    if not categories:
        return []
    indices = booster.params.get("categorical_feature")
    if not indices:  # a booster trained in this process: its model text records them
        header = booster.model_to_string(num_iteration=1)
        found = re.search(r"^\[categorical_feature: ([0-9,]*)\]$", header, re.M)
        indices = [int(i) for i in found.group(1).split(",") if i] if found else []
    if isinstance(indices, str):
        indices = [int(i) for i in indices.split(",") if i]
    names = booster.feature_name()
    if len(indices) != len(categories):
        raise FlavorError("cannot tell which columns are the LightGBM model's pandas "
                          "categoricals", hint="train with categorical_feature='auto'")
    return [(names[int(i)], list(c)) for i, c in zip(indices, categories)]


def _with_categoricals(model: Any, inputs: Any) -> Any:
    """The DataFrame with the model's categorical columns as pandas categoricals again."""
    if not hasattr(inputs, "columns"):
        return inputs
    found = model.categoricals if isinstance(model, _Loaded) else _categoricals(_booster(model))
    if not found:
        return inputs
    import pandas as pd

    inputs = inputs.copy()
    for name, categories in found:
        if name in inputs.columns:
            inputs[name] = pd.Categorical(inputs[name], categories=categories)
    return inputs


def _proba(raw: np.ndarray) -> np.ndarray:
    raw = np.asarray(raw)
    return np.vstack((1.0 - raw, raw)).T if raw.ndim == 1 else raw
