"""A trained model bundle: features (with the purchase-history models), churn and loyalty
models, and their card."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from ml.card import ModelCard
from ml.features import Column, RowVectorizer

FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class ModelBundle:
    """`features` turns rows into the imputed matrix both calibrated models read.

    `reference` is the typical customer in the vectorizer's columns (training
    medians; NaN where most customers have no value): reasons explain a score
    relative to it. `loyalty` is None when there were too few NPS answers to learn it
    (`card.loyalty_unavailable` says why).
    """

    features: Pipeline
    churn: CalibratedClassifierCV
    loyalty: CalibratedClassifierCV | None
    reference: np.ndarray
    card: ModelCard

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def vectorizer(self) -> RowVectorizer:
        return self.features.named_steps["rows"]

    def encoded_columns(self) -> list[Column]:
        """The imputed matrix's columns: the vectorizer's, then one per missing-indicator."""
        columns = list(self.vectorizer.columns())
        indicator = self.features.named_steps["impute"].indicator_
        missing = [] if indicator is None else indicator.features_.tolist()
        return columns + [
            Column(*(f"missing:{columns[j].name}", f"{columns[j].label} (no value)", columns[j].group))
            for j in missing
        ]

    def predict_churn(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Churn probabilities through scikit-learn itself: the reference the fast path is tested against."""
        return self.churn.predict_proba(self.features.transform(rows))[:, 1]

    def predict_loyalty(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if self.loyalty is None:
            raise ValueError(f"model {self.version} has no loyalty part: {self.card.loyalty_unavailable}")
        return self.loyalty.predict_proba(self.features.transform(rows))[:, 1]
