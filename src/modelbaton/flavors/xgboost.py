"""XGBoost in its native binary JSON (UBJSON) format: exact, portable, no pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import FlavorError
from ..contract.manifest import ModelSection
from .base import Description, Flavor, Saved, module_root, plain

_WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


class XGBoostFlavor(Flavor):
    name = "xgboost"
    module = "xgboost"
    distribution = "xgboost"
    extra = "xgboost"
    suffixes = (".ubj", ".xgb", ".json")

    @classmethod
    def handles(cls, model: Any) -> bool:
        return module_root(model) == "xgboost"

    def describe(self, model: Any) -> Description:
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        rounds = booster.num_boosted_rounds()
        config_params = {k: plain(v) for k, v in sorted(model.get_params().items())
                         if v is not None} if hasattr(model, "get_params") else {}
        kind = type(model).__name__
        labels = getattr(model, "classes_", None)
        task = "classification" if "Classifier" in kind else (
            "regression" if "Regressor" in kind else None)
        return Description(
            architecture=f"{kind}(gradient-boosted trees, {rounds} rounds, "
                         f"{booster.num_features()} features)",
            hyperparameters=config_params,
            labels=[plain(v) for v in labels] if labels is not None else None,
            task=task,
            feature_names=booster.feature_names,
        )

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        kind = type(model).__name__
        if kind not in _WRAPPERS and kind != "Booster":
            raise FlavorError(f"cannot save XGBoost object of type {kind}",
                              hint="pass a Booster or an XGBClassifier/XGBRegressor")
        model.save_model(model_dir / "model.ubj")
        return Saved(artifact="model/model.ubj", serialization="xgboost-ubj",
                     options={"class": kind})

    def load(self, path: Path, section: ModelSection) -> Any:
        xgb = self.import_library()
        kind = section.options.get("class", "Booster")
        if kind == "Booster":
            return xgb.Booster(model_file=str(path))
        if kind not in _WRAPPERS:
            raise FlavorError(f"unknown XGBoost class '{kind}' in model.options.class")
        model = getattr(xgb, kind)()
        model.load_model(str(path))
        return model

    def read_file(self, path: Path) -> Any:
        xgb = self.import_library()
        booster = xgb.Booster(model_file=str(path))
        # Models saved from the scikit-learn wrappers remember which one they were.
        kind = json.loads(booster.attr("scikit_learn") or "{}").get("_estimator_type")
        wrapper = {"classifier": xgb.XGBClassifier, "regressor": xgb.XGBRegressor}.get(kind)
        if wrapper is None:
            return booster
        model = wrapper()
        model.load_model(str(path))
        return model

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        if type(model).__name__ == "Booster":
            xgb = self.import_library()
            return np.asarray(model.predict(xgb.DMatrix(inputs)))
        return np.asarray(model.predict(inputs))

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        if not hasattr(model, "predict_proba"):
            return None
        return np.asarray(model.predict_proba(inputs))

    def wants_frame(self, model: Any) -> bool:
        """Fed by column name when it was fitted with feature names (from a DataFrame)."""
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        return bool(booster.feature_names)
