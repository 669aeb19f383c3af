"""The loader MLflow runs for a model that `baton export mlflow` wrote.

The exported MLflow model holds the Baton package under `data/`; `mlflow.pyfunc.load_model`
imports this module and calls `_load_pyfunc` with that folder. Loading checks every
file's digest, and predicting validates the input against the interface and runs the
package's feature code before the model, exactly as `modelbaton.load` does.
"""

from __future__ import annotations

from typing import Any

from ...contract.errors import DataError
from ...data.table import to_frame
from ...package.load import load
from ...package.predictor import Predictor


class BatonPyfunc:
    """A Baton predictor behind MLflow's python_function protocol."""

    def __init__(self, predictor: Predictor):
        self.predictor = predictor

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Every output column of the interface, as a DataFrame."""
        try:
            table = self.predictor.predict_table(model_input)
        except DataError as exc:  # MLflow's scoring server answers 400 to this one
            from mlflow.exceptions import MlflowException

            raise MlflowException.invalid_parameter_value(str(exc)) from None
        return to_frame(table)


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> BatonPyfunc:
    allow_pickle = bool((model_config or {}).get("allow_pickle"))
    return BatonPyfunc(load(data_path, allow_pickle=allow_pickle))
