"""Raw feature rows (ml/features.sql) to a numeric matrix, the same for training and serving.

`RowVectorizer` learns at fit time which touchpoints, segments and CRM
attributes exist, so a numeric attribute the CRM starts sending (say
`support_tickets_open`) becomes a feature at the next training without code
changes ("bring your own signals"); a text attribute with a few recurring values
(`plan`) is one-hot encoded. Everything else (lists, objects, rare or unique
strings) is ignored.

With `purchase_rhythm` one column follows the fixed block: the purchase-history model's
log-odds of no purchase within the horizon (`clv:no_purchase`, ml/history.py), which rows
carry as of their own moment (missing for customers who never bought). The fixed features
it was fitted with are kept on it (`fixed_`), so a model trained before a feature was
added keeps reading the columns it knows.

Missing values: a number that is absent, null, NaN or infinite is *missing*
(NaN in the matrix), never an error; the imputer in `make_feature_pipeline`
fills it with the training median and adds a missing-indicator column, so the
scorer can tell which inputs were imputed. Counts the SQL always returns are
never missing; an unseen touchpoint or category simply counts zero.
"""

import math
import re
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple, Self

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from ml.history import NO_PURCHASE_COLUMN, no_purchase_label

# name in the SQL row -> words for people (reasons, model card)
FIXED_FEATURES: dict[str, str] = {
    "tenure_days": "Days as a customer",
    "value": "Customer value",
    "latest_nps": "Latest NPS score",
    "latest_csat": "Latest CSAT score",
    "latest_ces": "Latest CES score (1 very easy, 7 very difficult)",
    "nps_trend": "Change in NPS since the answer before",
    "csat_trend": "Change in CSAT since the answer before",
    "ces_trend": "Change in CES since the answer before",
    "lowest_score_90d": "Lowest score in the last 90 days (0-1 scale)",
    "detractor_answers_90d": "Detractor answers in the last 90 days",
    "unhappy_critical_answers_90d": "Unhappy answers after critical interactions in the last 90 days",
    "answers_90d": "Survey answers in the last 90 days",
    "invitations_90d": "Survey invitations in the last 90 days",
    "non_response_rate_90d": "Share of surveys left unanswered in the last 90 days",
    "contact_requests_90d": "Requests to be contacted in the last 90 days",
    "days_since_last_answer": "Days since the last survey answer",
    "days_since_last_interaction": "Days since the last interaction",
    "interactions_90d": "Interactions in the last 90 days",
    "critical_interactions_90d": "Critical interactions in the last 90 days",
    "purchases_total": "Purchases so far",
    "purchase_value_total": "Spend so far",
    "average_order_value": "Average purchase value",
    "days_since_first_purchase": "Days since the first purchase",
    "days_since_last_purchase": "Days since the last purchase",
    "mean_days_between_purchases": "Usual days between purchases (mean gap)",
    "purchase_overdue_ratio": "Days since the last purchase, in the customer's usual gaps",
    "purchases_30d": "Purchases in the last 30 days",
    "purchases_90d": "Purchases in the last 90 days",
    "purchases_365d": "Purchases in the last 365 days",
    "purchase_value_90d": "Spend in the last 90 days",
    "purchase_value_365d": "Spend in the last 365 days",
    "spend_trend_90d": "Change in spend: the last 90 days against the 90 before",
    "refunds_365d": "Refunds in the last 365 days",
    "refund_share": "Share of spend refunded",
    "renewals_90d": "Renewals in the last 90 days",
    "upgrades_90d": "Upgrades in the last 90 days",
    "downgrades_90d": "Downgrades in the last 90 days",
    "open_recovery_task": "Recovery task open",
    "recovered_before": "Earlier recoveries that won the customer back",
    "not_recovered_before": "Earlier recoveries that did not",
}
# the fixed features of models trained before purchase history was read: a vectorizer
# fitted then has no `fixed_` and reads these
_FIXED_BEFORE_HISTORY = (
    "tenure_days", "value", "latest_nps", "latest_csat", "latest_ces", "nps_trend", "csat_trend",
    "ces_trend", "lowest_score_90d", "detractor_answers_90d", "unhappy_critical_answers_90d",
    "answers_90d", "invitations_90d", "non_response_rate_90d", "contact_requests_90d",
    "days_since_last_answer", "days_since_last_interaction", "interactions_90d",
    "critical_interactions_90d", "purchases_90d", "renewals_90d", "upgrades_90d", "downgrades_90d",
    "open_recovery_task", "recovered_before", "not_recovered_before",
)  # fmt: skip
# attributes that are not signals: `signed_up_at` was once read as the sign-up date
# (customers.customer_since is now); a date string would only become noise
RESERVED_ATTRIBUTES = frozenset({"signed_up_at"})
_WORDS = re.compile(r"[_\-\s]+")


def words(key: str) -> str:
    """`support_tickets_open` -> `support tickets open`."""
    return _WORDS.sub(" ", key).strip()


class Column(NamedTuple):
    """One matrix column; `group` is the input a person would change (one reason per group)."""

    name: str
    label: str
    group: str


class RowVectorizer(TransformerMixin, BaseEstimator):
    """Mappings from `fetch_features` -> float matrix with NaN where a value is missing."""

    def __init__(
        self,
        *,
        min_frequency: int = 10,
        max_categories: int = 12,
        max_attributes: int = 50,
        horizon_days: int = 90,
        purchase_rhythm: bool = False,
    ) -> None:
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.max_attributes = max_attributes
        self.horizon_days = horizon_days
        self.purchase_rhythm = purchase_rhythm

    def fit(self, rows: Iterable[Mapping[str, Any]], y: object = None) -> Self:
        _COLUMNS.pop(self, None)  # learned anew
        rows = list(rows)
        self.fixed_ = list(FIXED_FEATURES)
        touchpoints: Counter[str] = Counter()
        for row in rows:
            touchpoints.update(touchpoint_counts(row.get("touchpoints_90d")).keys())
        self.touchpoints_ = sorted(key for key, seen in touchpoints.items() if seen >= self.min_frequency)
        themes: Counter[str] = Counter()
        for row in rows:
            themes.update(touchpoint_counts(row.get("themes_90d")).keys())
        # comment themes (feedback_svc/themes): columns at the end, so models fitted before
        # themes existed (no `themes_`) keep every column where it was
        self.themes_ = sorted(key for key, seen in themes.items() if seen >= self.min_frequency)
        self.segments_ = self._categories(row.get("segment") for row in rows)
        self.numeric_attributes_, self.categorical_attributes_ = self._attributes(rows)
        # plain tuples: they survive skops; `columns()` gives them names
        self.columns_ = [tuple(column) for column in self._columns()]
        self.n_features_out_ = len(self.columns_)
        return self

    def transform(self, rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
        rows = rows if isinstance(rows, Sequence) else list(rows)
        return self.transform_with(rows, rhythm=None)

    def transform_with(
        self, rows: Sequence[Mapping[str, Any]], *, rhythm: Sequence[float] | None
    ) -> np.ndarray:
        """`transform`, with the purchase-rhythm column given (the scorer's, from its model)
        instead of read from the rows."""
        out = np.zeros((len(rows), self.n_features_out_))
        where = _columns_of(self)
        fixed = self.fixed_names()
        out[:, : len(fixed)] = _number_block(_fixed_values(rows, fixed, where.fixed), len(fixed))
        if where.rhythm is not None:
            out[:, where.rhythm] = _numbers(
                list(rhythm) if rhythm is not None else [row.get(NO_PURCHASE_COLUMN) for row in rows]
            )
        out[:, where.numeric_attribute_columns] = math.nan  # an attribute not sent is missing
        # one pass over what each row has, not one per known column: most columns are zero
        for line, row in zip(out, rows, strict=True):
            for key, count in touchpoint_counts(row.get("touchpoints_90d")).items():
                if (j := where.touchpoints.get(key)) is not None:
                    line[j] = count
            if (j := where.segments.get(row.get("segment"))) is not None:
                line[j] = 1
            for key, value in _attributes_of(row).items():
                if (j := where.numeric_attributes.get(key)) is not None:
                    line[j] = _number(value)
                elif isinstance(value, str) and (j := where.categories.get((key, value))) is not None:
                    line[j] = 1  # categories are strings; anything else matches none
            if where.themes:
                for key, count in touchpoint_counts(row.get("themes_90d")).items():
                    if (j := where.themes.get(key)) is not None:
                        line[j] = count
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array([column[0] for column in self.columns_], dtype=object)

    def columns(self) -> list[Column]:
        return [Column(*column) for column in self.columns_]

    def fixed_names(self) -> Sequence[str]:
        return getattr(self, "fixed_", _FIXED_BEFORE_HISTORY)

    def _categories(self, values: Iterable[object]) -> list[str]:
        seen = Counter(value for value in values if isinstance(value, str))
        common = [
            value for value, count in seen.most_common(self.max_categories) if count >= self.min_frequency
        ]
        return sorted(common)

    def _attributes(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], dict[str, list[str]]]:
        numbers: Counter[str] = Counter()
        texts: dict[str, list[str]] = {}
        for row in rows:
            for key, value in _attributes_of(row).items():
                if key in RESERVED_ATTRIBUTES:
                    continue
                if _is_number(value):
                    numbers[key] += 1
                elif isinstance(value, str):
                    texts.setdefault(key, []).append(value)
        numeric = [
            key for key, n in numbers.items() if n >= self.min_frequency and n >= len(texts.get(key, ()))
        ]
        categorical = {
            key: self._categories(values)
            for key, values in texts.items()
            if key not in numeric and key not in numbers
        }
        categorical = {key: values for key, values in categorical.items() if values}
        ranked = sorted(numeric, key=lambda key: (-numbers[key], key))[: self.max_attributes]
        return sorted(ranked), dict(sorted(categorical.items())[: self.max_attributes])

    def _columns(self) -> list[Column]:
        columns = [Column(*(key, label, key)) for key, label in FIXED_FEATURES.items()]
        if self.purchase_rhythm:
            label = no_purchase_label(self.horizon_days)
            columns.append(Column(*(NO_PURCHASE_COLUMN, label, NO_PURCHASE_COLUMN)))
        columns += [
            Column(
                *(
                    f"touchpoint:{key}",
                    f"{words(key).capitalize()} interactions in the last 90 days",
                    f"touchpoint:{key}",
                )
            )
            for key in self.touchpoints_
        ]
        columns += [Column(*(f"segment={value}", f"Segment: {value}", "segment")) for value in self.segments_]
        columns += [
            Column(*(f"attr:{key}", f"CRM {words(key)}", f"attr:{key}")) for key in self.numeric_attributes_
        ]
        columns += [
            Column(*(f"attr:{key}={value}", f"CRM {words(key)}: {value}", f"attr:{key}"))
            for key, values in self.categorical_attributes_.items()
            for value in values
        ]
        columns += [
            Column(*(f"theme:{key}", f"Comments on theme {key} in the last 90 days", f"theme:{key}"))
            for key in getattr(self, "themes_", ())
        ]
        return columns


class _Columns(NamedTuple):
    fixed: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    rhythm: int | None
    touchpoints: dict[str, int]
    segments: dict[object, int]
    numeric_attributes: dict[str, int]
    numeric_attribute_columns: list[int]
    categories: dict[tuple[str, object], int]
    themes: dict[str, int]


# Where each learned name lands in the matrix, per fitted vectorizer. Kept beside it, not
# on it: skops would save it with the model, and the shipped model's bytes would change.
_COLUMNS: "weakref.WeakKeyDictionary[RowVectorizer, _Columns]" = weakref.WeakKeyDictionary()


def _columns_of(vectorizer: RowVectorizer) -> _Columns:
    found = _COLUMNS.get(vectorizer)
    if found is None:
        start = len(vectorizer.fixed_names())
        rhythm = start if getattr(vectorizer, "purchase_rhythm", False) else None
        start += rhythm is not None
        touchpoints = {key: start + k for k, key in enumerate(vectorizer.touchpoints_)}
        start += len(touchpoints)
        segments: dict[object, int] = {value: start + k for k, value in enumerate(vectorizer.segments_)}
        start += len(segments)
        numeric = {key: start + k for k, key in enumerate(vectorizer.numeric_attributes_)}
        start += len(numeric)
        categories: dict[tuple[str, object], int] = {}
        for key, values in vectorizer.categorical_attributes_.items():
            for value in values:
                categories[key, value] = start
                start += 1
        themes = {key: start + k for k, key in enumerate(getattr(vectorizer, "themes_", ()))}
        found = _COLUMNS[vectorizer] = _Columns(
            itemgetter(*vectorizer.fixed_names()),
            rhythm,
            touchpoints,
            segments,
            numeric,
            list(numeric.values()),
            categories,
            themes,
        )
    return found


def make_feature_pipeline(**vectorizer: Any) -> Pipeline:
    """Rows -> imputed matrix: the vectorizer's columns, then one missing-indicator per
    column that had missing values in training (SimpleImputer's order)."""
    return Pipeline(
        [
            ("rows", RowVectorizer(**vectorizer)),
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ]
    )


def _fixed_values(
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]],
) -> list[Any]:
    """Each row's fixed features in order: one C-level lookup per row for rows from the feature
    query, which have every key; a key missing (a hand-made row) is a missing value."""
    try:
        return [getter(row) for row in rows]
    except KeyError:
        return [[row.get(key) for key in names] for row in rows]


def _attributes_of(row: Mapping[str, Any]) -> Mapping[str, Any]:
    attributes = row.get("attributes")
    return attributes if isinstance(attributes, Mapping) else {}


def touchpoint_counts(value: object) -> Mapping[str, float]:
    """SQL gives one key per interaction; a mapping of counts is accepted too."""
    if isinstance(value, Mapping):
        return {key: count for key, count in value.items() if _is_number(count)}
    if isinstance(value, list | tuple):
        return Counter(key for key in value if isinstance(key, str))
    return {}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _number(value: object) -> float:
    return float(value) if _is_number(value) else math.nan


def _number_block(values: list[Any], width: int) -> np.ndarray:
    """Rows of values -> float matrix, column by column the same as `_numbers`: one
    conversion for the usual all-numeric rows (None becomes NaN), per column otherwise."""
    try:
        block = np.array(values, dtype=float).reshape(len(values), width)
    except (TypeError, ValueError):
        return np.column_stack([_numbers(list(column)) for column in zip(*values, strict=True)])
    block[~np.isfinite(block)] = np.nan
    return block


def _numbers(values: list[Any]) -> np.ndarray:
    try:
        array = np.array(values, dtype=float)
    except (TypeError, ValueError):
        array = np.array([_number(value) for value in values])
    array[~np.isfinite(array)] = np.nan
    return array
