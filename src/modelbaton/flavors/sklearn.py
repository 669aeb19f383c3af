"""scikit-learn, persisted with skops: no pickle, and only recorded types are trusted."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import FlavorError, UnsafeInputError
from ..contract.manifest import ModelSection
from .base import Description, Flavor, Saved, module_root, plain


class SklearnFlavor(Flavor):
    name = "sklearn"
    module = "sklearn"
    distribution = "scikit-learn"
    extra = "sklearn"
    suffixes = (".skops",)

    @classmethod
    def handles(cls, model: Any) -> bool:
        return module_root(model) == "sklearn"

    def describe(self, model: Any) -> Description:
        from sklearn.base import is_classifier, is_regressor

        task = "classification" if is_classifier(model) else (
            "regression" if is_regressor(model) else None)
        labels = getattr(model, "classes_", None)
        names = getattr(model, "feature_names_in_", None)
        return Description(
            architecture=summarize(model),
            hyperparameters=_hyperparameters(model),
            labels=[plain(v) for v in labels] if labels is not None else None,
            task=task,
            feature_names=[str(n) for n in names] if names is not None else None,
        )

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        sio = self._skops()
        path = model_dir / "model.skops"
        try:
            sio.dump(model, path)
        except Exception as exc:  # skops refuses objects it cannot represent safely
            raise FlavorError(f"skops cannot save this model: {exc}",
                              hint="use allow_pickle=True only if you accept pickle's risks")
        # Types outside skops' safe defaults (e.g. a feature function from code/) are
        # recorded now, and they are the only extra types trusted when loading.
        untrusted = sorted(sio.get_untrusted_types(file=path))
        return Saved(artifact="model/model.skops", serialization="skops",
                     trusted_types=untrusted)

    def load(self, path: Path, section: ModelSection) -> Any:
        sio = self._skops()
        from skops.io.exceptions import UntrustedTypesFoundException

        try:
            # skops audits the whole tree first and constructs nothing unless every type is
            # safe by default or recorded in the manifest.
            return sio.load(path, trusted=list(section.trusted_types))
        except UntrustedTypesFoundException:
            found = set(sio.get_untrusted_types(file=path))
            unexpected = sorted(found - set(section.trusted_types))
            raise UnsafeInputError(
                f"{path.name} contains types the manifest does not trust: "
                + ", ".join(unexpected),
                hint="the artifact was changed after packing; re-pack it from the original "
                     "model") from None

    def read_file(self, path: Path) -> Any:
        # The person packing vouches for their own file; the types are recorded on save.
        sio = self._skops()
        return sio.load(path, trusted=sio.get_untrusted_types(file=path))

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        return np.asarray(model.predict(inputs))

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        if not hasattr(model, "predict_proba"):
            return None
        return np.asarray(model.predict_proba(inputs))

    def predict_with_proba(self, model: Any, inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        # Where the library defines predict as the argmax of predict_proba, one call
        # gives both: half the time of a forest's two passes over every tree.
        classes = _argmax_classes(model)
        if classes is not None:
            proba = model.predict_proba(inputs)
            if isinstance(proba, np.ndarray) and proba.ndim == 2:
                return classes.take(np.argmax(proba, axis=1), axis=0), proba
        return super().predict_with_proba(model, inputs)

    def wants_frame(self, model: Any) -> bool:
        return getattr(model, "feature_names_in_", None) is not None

    def _skops(self) -> Any:
        self.import_library()
        try:
            import skops.io as sio
        except ImportError:
            from ..contract.errors import MissingExtraError

            raise MissingExtraError("skops", "sklearn") from None
        return sio


def summarize(model: Any) -> str:
    """A one-line structure: pipelines and column transformers step by step."""
    kind = type(model).__name__
    steps = getattr(model, "steps", None)
    if steps is not None and kind == "Pipeline":
        return " -> ".join(summarize(step) for _, step in steps
                           if step not in (None, "passthrough"))
    transformers = getattr(model, "transformers", None)
    if transformers is not None and kind == "ColumnTransformer":
        parts = []
        for name, transformer, columns in transformers:
            inner = transformer if isinstance(transformer, str) else summarize(transformer)
            shown = columns if isinstance(columns, str) else ", ".join(map(str, list(columns)[:6]))
            more = "" if isinstance(columns, str) or len(columns) <= 6 else f" +{len(columns) - 6}"
            parts.append(f"{name}: {inner} [{shown}{more}]")
        return f"ColumnTransformer({'; '.join(parts)})"
    details = []
    if hasattr(model, "n_estimators"):
        details.append(f"{model.n_estimators} estimators")
    if getattr(model, "max_depth", None) is not None:
        details.append(f"max_depth={model.max_depth}")
    if hasattr(model, "n_features_in_"):
        details.append(f"{model.n_features_in_} features in")
    return f"{kind}({', '.join(details)})" if details else kind


def _hyperparameters(model: Any) -> dict[str, Any]:
    """Every parameter that is plain data; nested estimators appear through their own."""
    return {name: plain(value) for name, value in sorted(model.get_params(deep=True).items())
            if not _holds_estimator(value)}


def _holds_estimator(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_estimator(v) for v in value)
    return hasattr(value, "get_params")


def _argmax_classes(model: Any) -> np.ndarray | None:
    """`classes_` when `model.predict` is by definition the argmax of `predict_proba`."""
    pipeline, argmax_bases = _argmax_bases()
    while _inherits(type(model), pipeline):
        model = model.steps[-1][1]
    if any(_inherits(type(model), base) for base in argmax_bases):
        classes = getattr(model, "classes_", None)
        return classes if isinstance(classes, np.ndarray) and classes.ndim == 1 else None
    return None


@functools.cache
def _argmax_bases() -> tuple[type, tuple[type, ...]]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.ensemble._forest import ForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    return Pipeline, (ForestClassifier, DecisionTreeClassifier, HistGradientBoostingClassifier)


@functools.cache  # asked on every prediction; the answer depends on the classes only
def _inherits(kind: type, base: type) -> bool:
    """`kind` is `base` or a subclass that keeps its predict and predict_proba."""
    return issubclass(kind, base) and all(
        inspect.getattr_static(kind, name) is inspect.getattr_static(base, name)
        for name in ("predict", "predict_proba"))
