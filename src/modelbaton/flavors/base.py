"""The one protocol every model library adapter obeys.

A flavor knows how to recognise a model of its library, describe it, save it in the
library's own safe format, load it back, and predict. Flavors import their library only
when used, so the core install never needs it.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..contract.errors import FlavorError, MissingExtraError
from ..contract.manifest import ModelSection


@dataclass
class Description:
    """What a flavor can tell about a model without running it."""

    architecture: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    labels: list[Any] | None = None
    task: str | None = None  # classification | regression | other, when the library knows
    #: Input column names the model was fitted with, when the library records them.
    feature_names: list[str] | None = None


@dataclass
class Saved:
    """What a flavor wrote, for the `model` section of the manifest."""

    artifact: str  # relative to the package root
    serialization: str
    options: dict[str, Any] = field(default_factory=dict)
    trusted_types: list[str] = field(default_factory=list)
    #: Loading the artifact unpickles something, so it needs the loader's consent.
    pickle: bool = False


class Flavor(ABC):
    """Adapter between Baton and one model library."""

    name: ClassVar[str]
    #: File suffixes of the library's own saved-model formats, for `baton pack FILE`.
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: Import name and distribution of the library, and the extra that installs it.
    module: ClassVar[str]
    distribution: ClassVar[str]
    extra: ClassVar[str]

    @classmethod
    @abstractmethod
    def handles(cls, model: Any) -> bool:
        """Whether `model` belongs to this library (checked without importing it)."""

    @abstractmethod
    def describe(self, model: Any) -> Description: ...

    @abstractmethod
    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        """Write the artifact under `model_dir` (the package's model/ folder).

        `sample` is a few rows of what the model itself receives, for formats that trace.
        """

    @abstractmethod
    def load(self, path: Path, section: ModelSection) -> Any:
        """Load the artifact at `path` as the manifest's `model` section describes it."""

    def load_once(self, path: Path, section: ModelSection) -> Any:
        """Load it for a few predictions and no more (a golden replay).

        Flavors whose library loads faster in a way unfit for a long-lived model override it.
        """
        return self.load(path, section)

    @abstractmethod
    def predict(self, model: Any, inputs: Any) -> np.ndarray: ...

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        """Class probabilities (rows x labels), or None when the model has none."""
        return None

    def predict_with_proba(self, model: Any, inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Both at once; flavors whose library computes them together override this."""
        return self.predict(model, inputs), self.predict_proba(model, inputs)

    def wants_frame(self, model: Any) -> bool | None:
        """Whether the model takes a pandas DataFrame rather than a 2-D array.

        None means the library does not say; packing then follows the sample's type.
        """
        return False

    def read_file(self, path: Path) -> Any:
        """A model saved by the user in the library's own format (for `baton pack FILE`)."""
        raise FlavorError(f"the {self.name} flavor cannot read model files",
                          hint="pack the model object with modelbaton.pack() instead")

    def library_version(self) -> str | None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(self.distribution)
        except PackageNotFoundError:
            return None

    def import_library(self) -> Any:
        try:
            return importlib.import_module(self.module)
        except ImportError:
            raise MissingExtraError(self.module, self.extra) from None


def module_root(obj: Any) -> str:
    """Top-level package a model's class comes from (``sklearn``, ``xgboost``, ...)."""
    return type(obj).__module__.split(".")[0]


def plain(value: Any) -> Any:
    """A hyperparameter as YAML-friendly plain data; unknown objects become their repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return repr(value)


def as_matrix(inputs: Any, dtype: Any = np.float64) -> np.ndarray:
    """A DataFrame or array as a 2-D numpy array of `dtype`."""
    array = inputs.to_numpy() if hasattr(inputs, "to_numpy") else np.asarray(inputs)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    return array.astype(dtype, copy=False)
