"""Baton: the ML model handoff as an executable contract.

    import modelbaton
    modelbaton.pack(model, "churn-pkg", sample_input=X_train, name="churn", version="1.0")
    predictor = modelbaton.load("churn-pkg")
    predictor.predict(rows)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .contract.errors import BatonError
from .contract.manifest import Manifest
from .package.load import Package, load, open_package
from .package.pack import pack
from .package.predictor import Predictor

__all__ = ["BatonError", "Manifest", "Package", "Predictor", "__version__", "load",
           "open_package", "pack"]
