"""Feature code for the biopsy triage model: applied in training and at inference."""

import numpy as np
import pandas as pd

RAW = ["radius_mean", "texture_mean", "perimeter_mean", "area_mean", "smoothness_mean",
       "compactness_mean", "concavity_mean", "concave_points_mean", "symmetry_mean",
       "fractal_dimension_mean"]


def transform(df: pd.DataFrame) -> pd.DataFrame:
    """Log-scale the size measures and add shape ratios the pathologists asked for."""
    out = df.copy()
    for column in ("area_mean", "perimeter_mean", "radius_mean"):
        out[column] = np.log1p(out[column])
    out["compactness_ratio"] = df["perimeter_mean"] ** 2 / df["area_mean"]
    out["concavity_x_points"] = df["concavity_mean"] * df["concave_points_mean"]
    return out
