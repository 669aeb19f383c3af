"""A plain Python function or class shipped in the package's code/ folder.

The artifact is a small JSON file naming the entry point and, for an object whose class
has `get_params()`, the parameters to rebuild it with. Nothing is pickled: the code itself
is the model.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import FlavorError
from ..contract.manifest import ModelSection
from .base import Description, Flavor, Saved, plain


class PythonFlavor(Flavor):
    name = "python"
    module = "json"
    distribution = "modelbaton"
    extra = "all"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return inspect.isfunction(model) or hasattr(model, "predict")

    def describe(self, model: Any) -> Description:
        params = model.get_params() if hasattr(model, "get_params") else {}
        name = model.__qualname__ if inspect.isfunction(model) else type(model).__qualname__
        kind = "function" if inspect.isfunction(model) else "class"
        return Description(architecture=f"Python {kind} {name}",
                           hyperparameters={k: plain(v) for k, v in params.items()})

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        if inspect.isfunction(model):
            spec = {"entry_point": f"{model.__module__}:{model.__qualname__}", "kind": "function"}
        else:
            cls = type(model)
            spec = {"entry_point": f"{cls.__module__}:{cls.__qualname__}", "kind": "class",
                    "params": model.get_params() if hasattr(model, "get_params") else {}}
            if not spec["params"] and _required_args(cls):
                raise FlavorError(f"{cls.__qualname__} needs constructor arguments but has no "
                                  "get_params()", hint="add get_params() returning them as a dict")
        if spec["entry_point"].startswith("__main__:"):
            raise FlavorError("the model is defined in __main__, which cannot be shipped",
                              hint="move it into a module and pass that module with code=")
        try:
            text = json.dumps(spec, indent=2, sort_keys=True)
        except TypeError as exc:
            raise FlavorError(f"the model's parameters are not plain data: {exc}") from None
        (model_dir / "python.json").write_text(text + "\n", encoding="utf-8")
        return Saved("model/python.json", "python", options={"entry_point": spec["entry_point"]})

    def load(self, path: Path, section: ModelSection) -> Any:
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            module_name, _, attr = spec["entry_point"].partition(":")
        except (ValueError, KeyError) as exc:
            raise FlavorError(f"{path.name} is not a valid Python model spec: {exc}") from None
        try:
            target: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise FlavorError(f"cannot import the model entry point {spec['entry_point']}: "
                              f"{exc}", hint="ship its module with code=") from None
        if spec.get("kind") == "function":
            return target
        return target(**spec.get("params", {}))

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        return np.asarray(model(inputs) if inspect.isfunction(model) else model.predict(inputs))

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        if inspect.isfunction(model) or not hasattr(model, "predict_proba"):
            return None
        return np.asarray(model.predict_proba(inputs))

    def wants_frame(self, model: Any) -> None:
        return None


def _required_args(cls: type) -> list[str]:
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
