"""Quality metrics as functions of row weights, so a bootstrap resample costs one pass.

A bootstrap resample is a vector of counts (how often each row was drawn); every metric
here is computed from such weights in O(n), the rank-based AUC included (the scores are
sorted once). With all weights 1 the values equal scikit-learn's.

Classification: `accuracy`, `roc_auc` (binary, or one-vs-rest macro average), `log_loss`,
`brier` (binary), `precision`, `recall`, `f1` (binary: the last label is the positive
class; more classes: macro averages). Regression: `rmse`, `mae`, `r2`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..data.profile import category_key

Metric = Callable[[np.ndarray], float]
HIGHER_IS_BETTER = {"accuracy": True, "roc_auc": True, "log_loss": False, "brier": False,
                    "precision": True, "recall": True, "f1": True, "rmse": False,
                    "mae": False, "r2": True}
CLASSIFICATION = ("accuracy", "roc_auc", "log_loss", "brier", "precision", "recall", "f1")
REGRESSION = ("rmse", "mae", "r2")
_EPS = 1e-15


def default_metrics(task: str) -> list[str]:
    """What `baton compare` reports when no criterion names a metric."""
    if task == "regression":
        return ["rmse", "mae", "r2"]
    return ["accuracy", "roc_auc", "log_loss", "f1"]


def build(name: str, *, task: str, truth: np.ndarray, outputs: dict[str, np.ndarray],
          labels: Sequence[Any] | None) -> Metric | str:
    """The metric as a function of weights, or the reason it cannot be computed."""
    if name not in HIGHER_IS_BETTER:
        return f"unknown metric '{name}' (known: {', '.join(HIGHER_IS_BETTER)})"
    prediction = outputs.get("prediction")
    if prediction is None:
        return "the model has no 'prediction' output"
    if task == "regression":
        if name not in REGRESSION:
            return f"{name} is a classification metric; this model is a regressor"
        return _regression(name, np.asarray(truth, np.float64),
                           np.asarray(prediction, np.float64))
    if name in REGRESSION:
        return f"{name} is a regression metric; this model is a classifier"
    keys = [category_key(v) for v in (labels or sorted({category_key(v) for v in truth}))]
    y = np.array([category_key(v) for v in truth], dtype=object)
    p = np.array([category_key(v) for v in prediction], dtype=object)
    if name == "accuracy":
        correct = (y == p).astype(np.float64)
        return lambda w: float(np.dot(w, correct) / w.sum())
    if name in ("precision", "recall", "f1"):
        return _counting(name, y, p, keys)
    proba = _probabilities(outputs, keys)
    if proba is None:
        return f"{name} needs class probabilities (probability_<label> outputs)"
    truth_index = np.array([keys.index(v) if v in keys else -1 for v in y])
    if (truth_index < 0).any():
        unknown = y[truth_index < 0][0]
        return f"label {unknown!r} is not one of the model's labels {keys}"
    if name == "roc_auc":
        if len(keys) == 2:
            return _auc(proba[:, 1], truth_index == 1)
        parts = [_auc(proba[:, k], truth_index == k) for k in range(len(keys))]
        return lambda w: float(np.mean([part(w) for part in parts]))
    if name == "log_loss":
        clipped = np.clip(proba / proba.sum(axis=1, keepdims=True), _EPS, 1 - _EPS)
        losses = -np.log(clipped[np.arange(len(y)), truth_index])
        return lambda w: float(np.dot(w, losses) / w.sum())
    if len(keys) != 2:
        return "brier is defined here for two classes"
    errors = (proba[:, 1] - (truth_index == 1)) ** 2
    return lambda w: float(np.dot(w, errors) / w.sum())


def _regression(name: str, y: np.ndarray, p: np.ndarray) -> Metric:
    residual = y - p
    if name == "rmse":
        return lambda w: float(np.sqrt(np.dot(w, residual ** 2) / w.sum()))
    if name == "mae":
        absolute = np.abs(residual)
        return lambda w: float(np.dot(w, absolute) / w.sum())

    def r2(w: np.ndarray) -> float:
        mean = np.dot(w, y) / w.sum()
        total = np.dot(w, (y - mean) ** 2)
        return float(1 - np.dot(w, residual ** 2) / total) if total > 0 else float("nan")

    return r2


def _counting(name: str, y: np.ndarray, p: np.ndarray, keys: list[str]) -> Metric:
    classes = keys[-1:] if len(keys) == 2 else keys
    hits = [((p == k) & (y == k)).astype(np.float64) for k in classes]
    said = [(p == k).astype(np.float64) for k in classes]
    actual = [(y == k).astype(np.float64) for k in classes]

    def value(w: np.ndarray) -> float:
        scores = []
        for tp, predicted, real in zip(hits, said, actual):
            t, pp, rr = np.dot(w, tp), np.dot(w, predicted), np.dot(w, real)
            precision = t / pp if pp else 0.0
            recall = t / rr if rr else 0.0
            if name == "precision":
                scores.append(precision)
            elif name == "recall":
                scores.append(recall)
            else:
                scores.append(2 * precision * recall / (precision + recall)
                              if precision + recall else 0.0)
        return float(np.mean(scores))

    return value


def _auc(score: np.ndarray, positive: np.ndarray) -> Metric:
    """Weighted ROC AUC: P(positive scores above negative) + half the ties."""
    order = np.argsort(score, kind="mergesort")
    ordered = score[order]
    group = np.concatenate([[0], np.cumsum(ordered[1:] != ordered[:-1])])
    groups = int(group[-1]) + 1 if len(group) else 0
    is_positive = positive[order]

    def auc(w: np.ndarray) -> float:
        ws = w[order]
        pos = np.bincount(group, weights=ws * is_positive, minlength=groups)
        neg = np.bincount(group, weights=ws * ~is_positive, minlength=groups)
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos == 0 or total_neg == 0:
            return float("nan")
        above = total_pos - np.cumsum(pos)  # positives scored higher than each group
        return float(np.dot(neg, above + pos / 2) / (total_pos * total_neg))

    return auc


def _probabilities(outputs: dict[str, np.ndarray], keys: list[str]) -> np.ndarray | None:
    columns = []
    for key in keys:
        column = outputs.get(f"probability_{key}")
        if column is None:
            return None
        columns.append(np.asarray(column, np.float64))
    return np.column_stack(columns)


def bootstrap(metric_a: Metric, metric_b: Metric, n: int, *, resamples: int,
              confidence: float, seed: int = 0) -> dict[str, Any]:
    """Paired bootstrap of two models' metric on the same rows: values, delta (a - b), CIs."""
    ones = np.ones(n)
    a, b = metric_a(ones), metric_b(ones)
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, 2))
    for i in range(resamples):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        draws[i] = metric_a(weights), metric_b(weights)
    tail = (1 - confidence) / 2 * 100
    bounds = [tail, 100 - tail]

    def interval(values: np.ndarray) -> list[float]:
        values = values[~np.isnan(values)]
        return [float(v) for v in np.percentile(values, bounds)] if len(values) else \
            [float("nan")] * 2

    return {"candidate": a, "champion": b, "delta": a - b,
            "candidate_ci": interval(draws[:, 0]), "champion_ci": interval(draws[:, 1]),
            "delta_ci": interval(draws[:, 0] - draws[:, 1])}
