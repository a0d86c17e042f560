"""A trained model bundle: features (with the purchase-history models), churn and loyalty
models, and their card."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from ml.card import ModelCard
from ml.features import Column, RowVectorizer
from ml.history import NO_PURCHASE_COLUMN, PurchaseModel, purchase_rhythm

FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class ModelBundle:
    """`features` turns rows into the imputed matrix both calibrated models read.

    `reference` is the typical customer in the vectorizer's columns (training
    medians; NaN where most customers have no value): reasons explain a score
    relative to it. `loyalty` is None when there were too few NPS answers to learn it
    (`card.loyalty_unavailable` says why). `purchases` is the lifetime-value models fitted
    on purchase history as of the training run (None without enough purchases, and in
    bundles made before it existed): every score's lifetime value, and the purchase-rhythm
    feature of rows that do not carry their own. `churn_evaluated` and `loyalty_evaluated`
    are the models the card's holdout figures describe (fitted without the holdout window;
    the served ones learnt from it too): `evaluated()` is the bundle the registry compares
    on that holdout. Bundles made before that serve what they were evaluated as.
    """

    features: Pipeline
    churn: CalibratedClassifierCV
    loyalty: CalibratedClassifierCV | None
    reference: np.ndarray
    card: ModelCard
    purchases: PurchaseModel | None = None
    churn_evaluated: CalibratedClassifierCV | None = None
    loyalty_evaluated: CalibratedClassifierCV | None = None

    def evaluated(self) -> "ModelBundle":
        """The bundle as its card's holdout figures describe it (not trained on the holdout)."""
        return replace(
            self,
            churn=self.churn if self.churn_evaluated is None else self.churn_evaluated,
            loyalty=self.loyalty if self.loyalty_evaluated is None else self.loyalty_evaluated,
            churn_evaluated=None,
            loyalty_evaluated=None,
        )

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

    def with_history(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The rows, each with its purchase-rhythm feature (from `purchases` where it had none)."""
        if not getattr(self.vectorizer, "purchase_rhythm", False):
            return list(rows)
        values = purchase_rhythm(rows, self.purchases)
        return [{**row, NO_PURCHASE_COLUMN: value} for row, value in zip(rows, values, strict=True)]

    def predict_churn(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Churn probabilities through scikit-learn itself: the reference the fast path is tested against."""
        return self.churn.predict_proba(self.features.transform(self.with_history(rows)))[:, 1]

    def predict_loyalty(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if self.loyalty is None:
            raise ValueError(f"model {self.version} has no loyalty part: {self.card.loyalty_unavailable}")
        return self.loyalty.predict_proba(self.features.transform(self.with_history(rows)))[:, 1]
