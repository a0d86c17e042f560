"""Serving: raw feature rows -> churn risk, loyalty, lifetime value, value at risk and reasons.

Build one `Scorer` per active model version and reuse it; `score` is plain numpy
after the rows are vectorised (see `ml._fastpath`), about 0.1 ms for one customer.

Reasons are exact: a contribution is how much that input moves the calibrated
churn log-odds away from the typical customer's (the training medians), so
setting the input to the typical value changes the log-odds by exactly minus the
contribution. Positive raises the risk. Inputs are grouped as a person would
change them: a score and its "no value" flag are one reason, so are the one-hot
columns of a category.

Loyalty is None, with the card's reason, when the model has no loyalty part. Lifetime
value (expected purchases and value over the horizon, P(alive)) comes from the bundle's
purchase-history models for customers who have bought; value at risk is the CRM's value
times the churn probability, or the expected value when the CRM sent none (0).
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec
import numpy as np

from ml._fastpath import AdditiveLogit, additive_logit
from ml.bundle import ModelBundle
from ml.card import band_index
from ml.features import FIXED_FEATURES, touchpoint_counts, words
from ml.history import NO_PURCHASE_COLUMN, Forecast, no_purchase_probability, summaries, to_logit

BANDS = ("low", "medium", "high", "critical")
_LARGEST = float(np.finfo(float).max)
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
    loyalty_probability: float | None
    loyalty_index: int | None
    value_at_risk: float
    reasons: list[Reason]
    imputed: list[str]
    model_version: str
    loyalty_unavailable: str | None = None
    # over the model's horizon, from the purchase-history models; None with the reason below
    expected_purchases: float | None = None
    expected_value: float | None = None
    probability_alive: float | None = None
    lifetime_value_unavailable: str | None = None
    # which value `value_at_risk` multiplied: the CRM's, the expected value, or none
    value_basis: str = "crm"
    # the model's horizon, which the churn probability and lifetime value are about
    horizon_days: int = 90


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
        self._loyalty: AdditiveLogit | None = (
            None if bundle.loyalty is None else additive_logit(bundle.loyalty, reference)
        )
        self.loyalty_unavailable = (
            None if bundle.loyalty is not None else bundle.card.loyalty_unavailable or "no loyalty model"
        )
        self._purchases = bundle.purchases
        self._rhythm = bool(getattr(self._vectorizer, "purchase_rhythm", False))
        self.horizon_days = bundle.card.data.horizon_days
        self.lifetime_value_unavailable = _lifetime_value_unavailable(bundle)
        columns = bundle.encoded_columns()
        self.groups = list(dict.fromkeys(column.group for column in columns))
        index = {group: g for g, group in enumerate(self.groups)}
        self._column_group = np.array([index[column.group] for column in columns])
        self._grouping = np.zeros((len(columns), len(self.groups)))
        self._grouping[np.arange(len(columns)), self._column_group] = 1.0
        self._labels = [_group_label(group, columns) for group in self.groups]
        # a typical value is shown for inputs that are one number, not for categories; the
        # purchase rhythm's is a chance, like its value (the column holds log-odds)
        self._typical = {
            index[column.group]: float(
                no_purchase_probability(bundle.reference[j])
                if column.name == NO_PURCHASE_COLUMN
                else bundle.reference[j]
            )
            for j, column in enumerate(self._vectorizer.columns())
            if "=" not in column.name
        }
        # the words after a reason's value depend only on its group: built once
        self._usual = [
            "" if typical is None else f" (typical: {'unknown' if math.isnan(typical) else _show(typical)})"
            for typical in (self._typical.get(g) for g in range(len(self.groups)))
        ]
        self._rhythm_group = index.get(NO_PURCHASE_COLUMN)
        if [band.name for band in bundle.card.risk_bands] != list(BANDS):
            raise ValueError(f"model {self.version}: risk bands must be {', '.join(BANDS)} in that order")
        self._band_edges = bundle.card.band_edges()

    def score(self, rows: Sequence[Mapping[str, Any]]) -> list[CustomerScore]:
        forecast = self._forecast(rows)
        raw, rhythm = self._raw(rows, forecast)
        x = self._encode(raw)
        parts = self._churn.parts(x)
        churn = _expit(self._churn.base + parts.sum(axis=1))
        by_group = parts @ self._grouping
        top = np.argsort(-np.abs(by_group), axis=1, kind="stable")[:, : self.reasons]
        missing_groups = self._imputed(raw)
        band = self.risk_band_index(churn).tolist()
        value, basis = _value_and_basis(rows, forecast)
        at_risk = (value * churn).tolist()
        churn_list, contributions = churn.tolist(), by_group.tolist()
        if self._loyalty is None:
            loyalty_list: list[float | None] = [None] * len(rows)
            index: list[int | None] = [None] * len(rows)
        else:
            loyalty = _expit(self._loyalty.base + self._loyalty.parts(x).sum(axis=1))
            loyalty_list = loyalty.tolist()
            index = np.rint(100 * np.sqrt(loyalty * (1 - churn))).astype(int).tolist()
        lifetime = self._lifetime(forecast, len(rows))
        return [
            CustomerScore(
                customer_id=row.get("customer_id"),
                churn_probability=churn_list[i],
                risk_band=BANDS[band[i]],
                loyalty_probability=loyalty_list[i],
                loyalty_index=index[i],
                loyalty_unavailable=self.loyalty_unavailable,
                value_at_risk=at_risk[i],
                value_basis=basis[i],
                reasons=[
                    self._reason(
                        row,
                        g,
                        contribution=contributions[i][g],
                        imputed=missing_groups[i],
                        rhythm=rhythm[i],
                    )
                    for g in top[i].tolist()
                ],
                imputed=missing_groups[i],
                model_version=self.version,
                horizon_days=self.horizon_days,
                **lifetime[i],
            )
            for i, row in enumerate(rows)
        ]

    def risk_band_index(self, probabilities: np.ndarray) -> np.ndarray:
        """The card's band for each probability (its index in BANDS), by the card's exact edges."""
        return band_index(self._band_edges, probabilities)

    def risk_band(self, probability: float) -> str:
        return BANDS[int(self.risk_band_index(np.array([probability]))[0])]

    def band_floor(self, band: str) -> float:
        """The lowest churn probability in `band`, as the card lists it (0 for the first)."""
        index = BANDS.index(band)
        return 0.0 if index == 0 else float(self._band_edges[index - 1])

    def _forecast(self, rows: Sequence[Mapping[str, Any]]) -> Forecast | None:
        if self._purchases is None or not rows:
            return None
        return self._purchases.forecast(*summaries(rows))

    def _raw(
        self, rows: Sequence[Mapping[str, Any]], forecast: Forecast | None = None
    ) -> tuple[np.ndarray, list[float]]:
        """(the vectorizer's matrix, each row's chance of no purchase as the model sees it): the
        purchase-rhythm feature a row carries (as of its moment), else the bundle's model's."""
        if not self._rhythm:
            return self._vectorizer.transform(rows), [math.nan] * len(rows)
        if forecast is None:
            forecast = self._forecast(rows)
        computed = to_logit(forecast.no_purchase).tolist() if forecast is not None else [math.nan] * len(rows)
        logits = [row.get(NO_PURCHASE_COLUMN, value) for row, value in zip(rows, computed, strict=True)]
        raw = self._vectorizer.transform_with(rows, rhythm=logits)
        return raw, no_purchase_probability(np.array(logits, dtype=float)).tolist()

    def _lifetime(self, forecast: Forecast | None, n: int) -> list[dict[str, Any]]:
        if forecast is None:
            return [{"lifetime_value_unavailable": self.lifetime_value_unavailable}] * n
        purchases, alive = forecast.purchases.tolist(), forecast.alive.tolist()
        value = forecast.value.tolist()
        out: list[dict[str, Any]] = []
        for i in range(n):
            if math.isnan(purchases[i]):
                out.append({"lifetime_value_unavailable": NO_PURCHASE_YET})
            else:
                out.append(
                    {
                        "expected_purchases": max(purchases[i], 0.0),
                        "expected_value": None if math.isnan(value[i]) else max(value[i], 0.0),
                        "probability_alive": min(max(alive[i], 0.0), 1.0),
                        "lifetime_value_unavailable": None
                        if not math.isnan(value[i])
                        else self.lifetime_value_unavailable,
                    }
                )
        return out

    def churn_probability(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        x = self._encode(self._raw(rows)[0])
        return _expit(self._churn.base + self._churn.parts(x).sum(axis=1))

    def loyalty_probability(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if self._loyalty is None:
            raise ValueError(f"model {self.version} has no loyalty part: {self.loyalty_unavailable}")
        x = self._encode(self._raw(rows)[0])
        return _expit(self._loyalty.base + self._loyalty.parts(x).sum(axis=1))

    @property
    def base_logit(self) -> float:
        """The calibrated churn log-odds of the typical customer (all contributions zero)."""
        return self._churn.base

    def contributions(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated churn log-odds, per-group contributions aligned with `groups`)."""
        parts = self._churn.parts(self._encode(self._raw(rows)[0]))
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

    def _reason(
        self,
        row: Mapping[str, Any],
        g: int,
        *,
        contribution: float,
        imputed: list[str],
        rhythm: float,
    ) -> Reason:
        group, label = self.groups[g], self._labels[g]
        if g == self._rhythm_group:
            value: float | str | bool | None = None if math.isnan(rhythm) else rhythm
        else:
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


NO_PURCHASE_YET = "no purchase yet: lifetime value is forecast from purchase history"


def _lifetime_value_unavailable(bundle: ModelBundle) -> str | None:
    info = bundle.card.lifetime_value
    if bundle.purchases is not None:
        return info.reason if info is not None else None
    if info is not None and info.reason:
        return f"the model has no lifetime-value part: {info.reason}"
    return "the model has no lifetime-value part (trained before it existed, or without purchases)"


def _value_and_basis(
    rows: Sequence[Mapping[str, Any]], forecast: Forecast | None
) -> tuple[np.ndarray, list[str]]:
    """The CRM's value where it sent one (> 0), else the expected value over the horizon."""
    crm = np.array([_finite(row.get("value")) for row in rows])
    if forecast is None:
        expected = np.zeros(len(rows))
    else:  # as np.nan_to_num(value, nan=0.0) leaves it for what follows, at a fifth of its cost
        expected = np.minimum(forecast.value, _LARGEST)  # +inf: the largest float
        expected[np.isnan(expected)] = 0.0  # (-inf becomes 0 below either way)
    use_crm = crm > 0
    value = np.where(use_crm, crm, np.maximum(expected, 0.0))
    basis = np.where(use_crm, "crm", np.where(value > 0, "lifetime_value", "none")).tolist()
    return value, basis


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
    elif group.startswith("theme:"):
        value = touchpoint_counts(row.get("themes_90d")).get(group.removeprefix("theme:"), 0)
    elif group == "segment":
        value = row.get("segment")
    else:
        attributes = row.get("attributes")
        value = attributes.get(group.removeprefix("attr:")) if isinstance(attributes, Mapping) else None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, _SHOWN_AS_IS) else str(value)
