"""The MLflow bridge (`pip install 'modelbaton[mlflow]'`): import MLflow models, export packages.

    from modelbaton.bridges.mlflow import export_model, import_model
    import_model("models:/churn/3", "churn-3")           # MLflow model -> Baton package
    export_model("churn-3", "churn-mlflow", register=True)  # package -> MLflow model

MLflow itself is imported only when one of them runs.
"""

from __future__ import annotations

from .exporter import Exported, export_model
from .importer import Imported, import_model

__all__ = ["Exported", "Imported", "export_model", "import_model"]
