"""Model library adapters, one module each, behind the `Flavor` protocol."""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path
from typing import Any

from ..contract.errors import BatonError, FlavorError, UnsafeInputError
from ..contract.files import input_file
from .base import Description, Flavor, Saved

_FLAVORS = {
    "sklearn": "sklearn:SklearnFlavor",
    "xgboost": "xgboost:XGBoostFlavor",
    "lightgbm": "lightgbm:LightGBMFlavor",
    "onnx": "onnx:OnnxFlavor",
    "torch": "torch:TorchFlavor",
    "python": "python:PythonFlavor",
    "pickle": "pickle:PickleFlavor",
    "mlflow": "mlflow:MlflowFlavor",
}
#: Tried in this order when detecting a model's flavor; python and pickle come last.
_DETECTION_ORDER = ("xgboost", "lightgbm", "sklearn", "onnx", "torch")
FLAVOR_NAMES = tuple(_FLAVORS)


def get_flavor(name: str) -> Flavor:
    if name not in _FLAVORS:
        close = difflib.get_close_matches(name, FLAVOR_NAMES, n=1)
        raise FlavorError(f"unknown flavor '{name}'",
                          hint=f"did you mean '{close[0]}'?" if close
                          else f"known flavors: {', '.join(FLAVOR_NAMES)}")
    module_name, _, cls_name = _FLAVORS[name].partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, cls_name)()


def detect_flavor(model: Any, *, code_modules: set[str] = frozenset(),
                  allow_pickle: bool = False) -> Flavor:
    """The flavor for a model object: by its library, else shipped code, else pickle."""
    for name in _DETECTION_ORDER:
        flavor_cls = type(get_flavor(name))
        if flavor_cls.handles(model):
            return flavor_cls()
    origin = getattr(model, "__module__", None) if callable(model) and not hasattr(
        model, "predict") else type(model).__module__
    if origin and origin.split(".")[0] in code_modules:
        return get_flavor("python")
    if allow_pickle and get_flavor("pickle").handles(model):
        return get_flavor("pickle")
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if hasattr(model, "predict") or callable(model):
        raise UnsafeInputError(
            f"no safe format for a {kind}: it is not from a supported library and its code "
            "is not shipped with code=",
            hint="ship its module with code=, or pass allow_pickle=True to accept pickle")
    raise BatonError(f"{kind} is not a model: it has no predict()",
                     hint=f"supported flavors: {', '.join(FLAVOR_NAMES)}")


def read_model_file(path: Path, *, flavor: str | None = None,
                    allow_pickle: bool = False) -> Any:
    """A model file saved with its library's own format, chosen by `flavor` or suffix."""
    path = input_file(path, "model file")
    if flavor is None:
        flavor = next((name for name in FLAVOR_NAMES
                       if path.suffix.lower() in type(get_flavor(name)).suffixes), None)
        if flavor is None:
            known = sorted({s for n in FLAVOR_NAMES for s in type(get_flavor(n)).suffixes})
            raise FlavorError(f"cannot tell the model library of {path.name} from its suffix",
                              hint=f"pass --flavor, or use one of {', '.join(known)}")
    if flavor == "pickle" and not allow_pickle:
        raise UnsafeInputError(f"{path.name} is a pickle, which can run arbitrary code when "
                               "loaded", hint="pass --allow-pickle only if you trust its author")
    try:
        return get_flavor(flavor).read_file(path)
    except BatonError:
        raise
    except Exception as exc:  # the library's own complaint about the file
        raise FlavorError(f"{path}: the {flavor} library cannot read it: {exc}") from None


__all__ = ["Description", "Flavor", "Saved", "FLAVOR_NAMES", "detect_flavor", "get_flavor",
           "read_model_file"]
