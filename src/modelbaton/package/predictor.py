"""A loaded package: validation, then the feature code, then the model.

The receiving team calls `predict` with the raw inputs the interface describes; the
preprocessing the data scientist shipped always runs first, so it cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import DataError, FlavorError
from ..contract.manifest import FieldSpec, Manifest
from ..data.schema import conform
from ..data.table import Table, _column, to_frame, to_table
from ..flavors import Flavor


class Predictor:
    """Preprocessing + model behind the package's interface."""

    def __init__(self, *, manifest: Manifest, root: Path, digest: str, flavor: Flavor,
                 model: Any, preprocess: Callable[[Any], Any] | None, wants_frame: bool):
        self.manifest = manifest
        self.root = root
        self.digest = digest
        self.flavor = flavor
        self.model = model
        self.preprocess = preprocess
        self.wants_frame = wants_frame

    def __repr__(self) -> str:
        return f"<Predictor {self.name} {self.version} ({self.flavor.name}) at {self.root}>"

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def inputs(self) -> list[FieldSpec]:
        return self.manifest.interface.inputs

    @property
    def outputs(self) -> list[FieldSpec]:
        return self.manifest.interface.outputs

    @property
    def labels(self) -> list[Any] | None:
        return self.manifest.interface.labels

    # --- the public calls ----------------------------------------------------------------

    def predict(self, data: Any, *, validate: bool = True) -> np.ndarray:
        """The model's prediction for each row (labels, values, or the first output)."""
        table = self.predict_table(data, validate=validate, proba=False)
        return table.get("prediction", next(iter(table.values())))

    def predict_proba(self, data: Any, *, validate: bool = True) -> np.ndarray | None:
        """Class probabilities (rows x labels), or None when the model has none."""
        table = self.conform(data) if validate else to_table(data, self._input_names())
        return self.flavor.predict_proba(self.model, self.model_input(table))

    def predict_table(self, data: Any, *, validate: bool = True, proba: bool = True) -> Table:
        """Every output column of the interface: prediction, probabilities or scores."""
        table = self.conform(data) if validate else to_table(data, self._input_names())
        return self.predict_conformed(table, proba=proba)

    def predict_conformed(self, table: Table, *, proba: bool = True) -> Table:
        """`predict_table` for a table already cast to the interface (by `conform`)."""
        features = self.model_input(table)
        try:
            if proba:
                pred, probabilities = self.flavor.predict_with_proba(self.model, features)
            else:
                pred, probabilities = self.flavor.predict(self.model, features), None
        except (DataError, FlavorError):
            raise
        except Exception as exc:  # the model's own failure, reported with its type
            raise FlavorError(f"the model failed to predict: {type(exc).__name__}: {exc}",
                              where=self.name) from exc
        return output_table(pred, probabilities, self.labels,
                            classes=self.manifest.model.options.get("classes"))

    def conform(self, data: Any) -> Table:
        """The input as a table cast to the interface, or a DataError naming row and field."""
        return conform(to_table(data, self._input_names()), self.inputs)

    def model_input(self, table: Table) -> Any:
        """What the model receives: the feature code's output, a DataFrame or a matrix."""
        if self.preprocess is not None:
            frame = to_frame(table)
            try:
                return self.preprocess(frame)
            except Exception as exc:
                entry = self.manifest.preprocessing.entry_point  # type: ignore[union-attr]
                raise FlavorError(f"the preprocessing entry point {entry} failed: "
                                  f"{type(exc).__name__}: {exc}") from exc
        if self.wants_frame:
            return to_frame(table)
        # One array of fields x rows, transposed: no per-column reshaping, unlike
        # column_stack, which is most of the cost for a one-row request.
        dtype = _matrix_dtype(self.inputs)
        return np.ascontiguousarray(
            np.array([table[f.name] for f in self.inputs], dtype=dtype).T)

    def _input_names(self) -> list[str]:
        return [f.name for f in self.inputs]


def _matrix_dtype(fields: list[FieldSpec]) -> Any:
    numeric = all(f.type in ("integer", "number", "boolean") for f in fields)
    return np.float64 if numeric else object


def output_table(pred: Any, proba: np.ndarray | None, labels: list[Any] | None, *,
                 classes: list[Any] | None = None) -> Table:
    """Name the model's raw outputs: prediction and probability_<label>, or scores.

    A 2-D prediction (a network's last layer) becomes score_<label> columns with the
    argmax label as the prediction when labels are known, else output_<k> columns.
    `classes` are the values the model itself predicts when it was trained on encoded
    labels; its predictions are decoded to the interface's `labels`, in the same order.
    """
    pred = np.asarray(pred)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if classes is not None and labels is not None and pred.ndim == 1:
        pred = _decode_labels(pred, classes, labels)
    out: Table = {}
    if pred.ndim == 2:
        if labels is not None and len(labels) == pred.shape[1]:
            out["prediction"] = _column(np.asarray(labels, dtype=object)[pred.argmax(axis=1)])
            for k, label in enumerate(labels):
                out[f"score_{label}"] = pred[:, k].astype(np.float64)
        else:
            for k in range(pred.shape[1]):
                out[f"output_{k}"] = pred[:, k].astype(np.float64)
        return out
    out["prediction"] = _column(pred)
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        names = labels if labels is not None and len(labels) == proba.shape[1] \
            else list(range(proba.shape[1]))
        for k, label in enumerate(names):
            out[f"probability_{label}"] = proba[:, k]
    return out


def _decode_labels(pred: np.ndarray, classes: list[Any], labels: list[Any]) -> np.ndarray:
    """Each predicted class value replaced by the label at the same position."""
    known = np.asarray(classes)
    order = np.argsort(known, kind="stable")
    position = np.clip(np.searchsorted(known[order], pred), 0, len(known) - 1)
    index = order[position]
    unknown = np.flatnonzero(known[index] != pred)
    if len(unknown):
        row = int(unknown[0])
        raise FlavorError(f"row {row}: the model predicted {pred[row]!r}, which is not one of "
                          f"its classes {classes}", hint="re-pack with the labels the model "
                          "was trained on")
    return np.asarray(labels, dtype=object)[index]
