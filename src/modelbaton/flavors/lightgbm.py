"""LightGBM in its native text format; the scikit-learn wrappers keep their labels."""

from __future__ import annotations

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
            return _Loaded(lgb.Booster(model_file=str(path)), section.options.get("labels"))
        except lgb.basic.LightGBMError as exc:
            raise FlavorError(f"LightGBM cannot read {path.name}: {exc}") from None

    def read_file(self, path: Path) -> Any:
        return self.import_library().Booster(model_file=str(path))

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        if isinstance(model, _Loaded):
            raw = model.booster.predict(inputs)
            if model.labels is None:
                return raw
            # As LGBMClassifier.predict does: argmax over the probabilities, then the label.
            return model.labels[np.argmax(_proba(raw), axis=1)]
        return np.asarray(model.predict(inputs))

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        if isinstance(model, _Loaded):
            return _proba(model.booster.predict(inputs)) if model.labels is not None else None
        return np.asarray(model.predict_proba(inputs)) if hasattr(model, "predict_proba") \
            else None

    def wants_frame(self, model: Any) -> bool:
        return bool(getattr(_booster(model), "pandas_categorical", None))


class _Loaded:
    """A booster read from text, with the class labels of the classifier it came from."""

    def __init__(self, booster: Any, labels: list[Any] | None):
        self.booster = booster
        self.labels = np.asarray(labels) if labels is not None else None


def _booster(model: Any) -> Any:
    if type(model).__name__ == "Booster":
        return model
    if isinstance(model, _Loaded):
        return model.booster
    booster = getattr(model, "booster_", None)
    if booster is None:
        raise FlavorError("the LightGBM model is not fitted", hint="call fit() before packing")
    return booster


def _proba(raw: np.ndarray) -> np.ndarray:
    raw = np.asarray(raw)
    return np.vstack((1.0 - raw, raw)).T if raw.ndim == 1 else raw
