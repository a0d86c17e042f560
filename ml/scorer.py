"""Serving: raw feature rows -> churn risk, loyalty, value at risk and reasons.

Build one `Scorer` per active model version and reuse it; `score` is plain numpy
after the rows are vectorised (see `ml._fastpath`), about 0.1 ms for one customer.

Reasons are exact: a contribution is how much that input moves the calibrated
churn log-odds away from the typical customer's (the training medians), so
setting the input to the typical value changes the log-odds by exactly minus the
contribution. Positive raises the risk. Inputs are grouped as a person would
change them: a score and its "no value" flag are one reason, so are the one-hot
columns of a category.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec
import numpy as np

from ml._fastpath import AdditiveLogit, additive_logit
from ml.bundle import ModelBundle
from ml.features import FIXED_FEATURES, touchpoint_counts, words

BANDS = ("low", "medium", "high", "critical")
# a tuple, not `int | float | ...`: that builds a new union on every call
_SHOWN_AS_IS = (int, float, str, bool)


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    feature: str
    label: str
    value: float | str | bool | None
    contribution: float
    text: str


class CustomerScore(msgspec.Struct, frozen=True, kw_only=True):
    customer_id: UUID | None
    churn_probability: float
    risk_band: str
    loyalty_probability: float
    loyalty_index: int
    value_at_risk: float
    reasons: list[Reason]
    imputed: list[str]
    model_version: str


class Scorer:
    """Scores rows from `ml.queries.fetch_features` with one trained bundle."""

    def __init__(self, bundle: ModelBundle, *, reasons: int = 3) -> None:
        self.version = bundle.version
        self.reasons = reasons
        self._vectorizer = bundle.vectorizer
        imputer = bundle.features.named_steps["impute"]
        self._fill = imputer.statistics_.astype(float)
        self._flags = np.array([] if imputer.indicator_ is None else imputer.indicator_.features_, dtype=int)
        reference = self._encode(bundle.reference[None, :])[0]
        self._churn: AdditiveLogit = additive_logit(bundle.churn, reference)
        self._loyalty: AdditiveLogit = additive_logit(bundle.loyalty, reference)
        columns = bundle.encoded_columns()
        self.groups = list(dict.fromkeys(column.group for column in columns))
        index = {group: g for g, group in enumerate(self.groups)}
        self._column_group = np.array([index[column.group] for column in columns])
        self._grouping = np.zeros((len(columns), len(self.groups)))
        self._grouping[np.arange(len(columns)), self._column_group] = 1.0
        self._labels = [_group_label(group, columns) for group in self.groups]
        # a typical value is shown for inputs that are one number, not for categories
        self._typical = {
            index[column.group]: float(bundle.reference[j])
            for j, column in enumerate(self._vectorizer.columns())
            if "=" not in column.name
        }
        # the words after a reason's value depend only on its group: built once
        self._usual = [
            "" if typical is None else f" (typical: {'unknown' if math.isnan(typical) else _show(typical)})"
            for typical in (self._typical.get(g) for g in range(len(self.groups)))
        ]
        bands = {band.name: band.min_probability for band in bundle.card.risk_bands}
        self._band_edges = np.array([bands[name] for name in BANDS[1:]])

    def score(self, rows: Sequence[Mapping[str, Any]]) -> list[CustomerScore]:
        raw = self._vectorizer.transform(rows)
        x = self._encode(raw)
        parts = self._churn.parts(x)
        churn = _expit(self._churn.base + parts.sum(axis=1))
        loyalty = _expit(self._loyalty.base + self._loyalty.parts(x).sum(axis=1))
        index = np.rint(100 * np.sqrt(loyalty * (1 - churn))).astype(int).tolist()
        by_group = parts @ self._grouping
        top = np.argsort(-np.abs(by_group), axis=1, kind="stable")[:, : self.reasons]
        missing_groups = self._imputed(raw)
        band = np.searchsorted(self._band_edges, churn, side="right").tolist()
        value = np.array([_finite(row.get("value")) for row in rows])
        at_risk = (value * churn).tolist()
        churn_list, loyalty_list, contributions = churn.tolist(), loyalty.tolist(), by_group.tolist()
        return [
            CustomerScore(
                customer_id=row.get("customer_id"),
                churn_probability=churn_list[i],
                risk_band=BANDS[band[i]],
                loyalty_probability=loyalty_list[i],
                loyalty_index=index[i],
                value_at_risk=at_risk[i],
                reasons=[
                    self._reason(row, g, contributions[i][g], missing_groups[i]) for g in top[i].tolist()
                ],
                imputed=missing_groups[i],
                model_version=self.version,
            )
            for i, row in enumerate(rows)
        ]

    def churn_probability(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        x = self._encode(self._vectorizer.transform(rows))
        return _expit(self._churn.base + self._churn.parts(x).sum(axis=1))

    def loyalty_probability(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        x = self._encode(self._vectorizer.transform(rows))
        return _expit(self._loyalty.base + self._loyalty.parts(x).sum(axis=1))

    @property
    def base_logit(self) -> float:
        """The calibrated churn log-odds of the typical customer (all contributions zero)."""
        return self._churn.base

    def contributions(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated churn log-odds, per-group contributions aligned with `groups`)."""
        parts = self._churn.parts(self._encode(self._vectorizer.transform(rows)))
        return self._churn.base + parts.sum(axis=1), parts @ self._grouping

    def _encode(self, raw: np.ndarray) -> np.ndarray:
        """What the fitted SimpleImputer does: medians in, indicators appended."""
        missing = np.isnan(raw)
        filled = np.where(missing, self._fill, raw)
        return np.hstack([filled, missing[:, self._flags]]) if self._flags.size else filled

    def _imputed(self, raw: np.ndarray) -> list[list[str]]:
        rows, columns = np.nonzero(np.isnan(raw))
        out: list[list[str]] = [[] for _ in range(raw.shape[0])]
        for i, j in zip(rows.tolist(), columns.tolist(), strict=True):
            group = self.groups[self._column_group[j]]
            if group not in out[i]:
                out[i].append(group)
        return out

    def _reason(self, row: Mapping[str, Any], g: int, contribution: float, imputed: list[str]) -> Reason:
        group, label = self.groups[g], self._labels[g]
        value = _group_value(row, group)
        direction = "raises" if contribution > 0 else "lowers"
        if group in imputed or value is None:
            # the model saw the training median plus "no value": the absence moves the risk
            shown = "no value" if value is None else f"{_show(value)}, not a number"
            how = ", imputed" if group in imputed else ""
            text = f"{label}: {shown}{how}{self._usual[g]}; having no value {direction} the churn risk"
        else:
            text = f"{label}: {_show(value)}{self._usual[g]}, {direction} the churn risk"
        return Reason(feature=group, label=label, value=value, contribution=contribution, text=text)


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _finite(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def _group_label(group: str, columns: Sequence[Any]) -> str:
    if group == "segment":
        return "Segment"
    if group.startswith("attr:"):
        return f"CRM {words(group.removeprefix('attr:'))}"
    return next(column.label for column in columns if column.group == group)


def _group_value(row: Mapping[str, Any], group: str) -> float | str | bool | None:
    if group in FIXED_FEATURES:
        value = row.get(group)
    elif group.startswith("touchpoint:"):
        value = touchpoint_counts(row.get("touchpoints_90d")).get(group.removeprefix("touchpoint:"), 0)
    elif group == "segment":
        value = row.get("segment")
    else:
        attributes = row.get("attributes")
        value = attributes.get(group.removeprefix("attr:")) if isinstance(attributes, Mapping) else None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, _SHOWN_AS_IS) else str(value)
