"""Train the biopsy triage model and pack it for the handoff.

    python train.py [N_TREES] [VERSION]
"""

import sys

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelbaton
from features import transform

n_trees = int(sys.argv[1]) if len(sys.argv) > 1 else 50
version = sys.argv[2] if len(sys.argv) > 2 else "1.0.0"

train = pd.read_csv("data/train.csv")
holdout = pd.read_csv("data/holdout.csv")
X, y = train.drop(columns="malignant"), train["malignant"]
model = make_pipeline(StandardScaler(), RandomForestClassifier(n_trees, random_state=0))
model.fit(transform(X), y)
auc = roc_auc_score(holdout["malignant"],
                    model.predict_proba(transform(holdout.drop(columns="malignant")))[:, 1])
print(f"trained {n_trees} trees: holdout ROC AUC {auc:.4f}")

# Everything a machine can capture is captured; baton.yaml holds what only people know.
modelbaton.pack(
    model, f"biopsy-triage-{version}", name="biopsy-triage", version=version,
    sample_input=X, code="features.py", preprocessing="features:transform",
    training_data="data/train.csv", evaluation_data="data/holdout.csv",
    handoff="baton.yaml", overwrite=True,
    evaluation={"metrics": [{
        "name": "roc_auc", "value": round(auc, 4), "dataset": "evaluation",
        "business_meaning": "chance a malignant biopsy is ranked above a benign one; below "
                            "0.95 the triage queue stops saving pathologist time",
        "threshold": 0.95}]},
)
print(f"packed biopsy-triage-{version}/")
