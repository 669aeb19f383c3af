"""An MLflow `python_function` model that only MLflow can run, kept as MLflow saved it.

Custom `PythonModel`s, models from code and flavors Baton has no adapter for are carried
as their whole MLflow model folder under `model/mlflow/` and loaded with
`mlflow.pyfunc.load_model`. A folder whose loading unpickles (a cloudpickled
`python_model.pkl`, or any loader module Baton cannot vouch for) is recorded as a pickle,
so loading it needs consent; a model from code is code, like the `python` flavor.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..contract.errors import FlavorError
from ..contract.manifest import ModelSection
from .base import Description, Flavor, Saved

FOLDER = "mlflow"
#: Loader modules that import the model's own code file and unpickle nothing.
_CODE_LOADERS = ("mlflow.pyfunc.loaders.code_model",)


class PyfuncFolder:
    """An MLflow model folder, loaded by MLflow on first use."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.conf = pyfunc_conf(self.folder)
        self._model: Any = None

    @property
    def pickled(self) -> bool:
        return self.conf.get("loader_module") not in _CODE_LOADERS

    @property
    def model(self) -> Any:
        """The `PyFuncModel`; MLflow imports the model's code and runs its loader here."""
        if self._model is None:
            mlflow = MlflowFlavor().import_library()
            try:
                self._model = mlflow.pyfunc.load_model(str(self.folder), suppress_warnings=True)
            except Exception as exc:  # whatever the model's own loader raises
                raise FlavorError(f"MLflow cannot load the python_function model in "
                                  f"{self.folder}: {type(exc).__name__}: {exc}") from None
        return self._model

    def __repr__(self) -> str:
        return f"<MLflow python_function model at {self.folder}>"


def pyfunc_conf(folder: Path) -> dict[str, Any]:
    """The `python_function` section of the folder's MLmodel file."""
    try:
        meta = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
        conf = meta["flavors"]["python_function"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise FlavorError(f"{folder}: not an MLflow python_function model ({exc})") from None
    return conf if isinstance(conf, dict) else {}


class MlflowFlavor(Flavor):
    name = "mlflow"
    module = "mlflow"
    distribution = "mlflow-skinny"
    extra = "mlflow"

    @classmethod
    def handles(cls, model: Any) -> bool:
        return isinstance(model, PyfuncFolder)

    def describe(self, model: Any) -> Description:
        conf = model.conf
        what = conf.get("python_model") or conf.get("model_code_path") or conf.get("data")
        shown = f", {Path(str(what)).name}" if what else ""
        return Description(architecture=f"MLflow python_function model "
                                        f"({conf.get('loader_module', '?')}{shown})")

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        shutil.copytree(model.folder, model_dir / FOLDER,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return Saved(artifact=f"model/{FOLDER}/MLmodel", serialization="mlflow-pyfunc",
                     options={"loader_module": model.conf.get("loader_module")},
                     pickle=model.pickled)

    def load(self, path: Path, section: ModelSection) -> Any:
        folder = PyfuncFolder(path.parent)
        folder.model  # noqa: B018 - load now, so a broken model fails at load time
        return folder

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        out = model.model.predict(inputs)
        if hasattr(out, "to_numpy"):  # DataFrame or Series
            return out.to_numpy()
        return np.asarray(out)

    def wants_frame(self, model: Any) -> bool:
        return True
