import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import ml.features
from feedback_svc.db.sql import load_queries
from ml.features import FIXED_FEATURES, RowVectorizer, make_feature_pipeline


def _rows(n: int, **attributes: object) -> list[dict]:
    return [
        {"segment": "smb", "touchpoints_90d": ["delivery"], "attributes": dict(attributes)} for _ in range(n)
    ]


def test_params_only_in_init_and_fit_returns_self() -> None:
    vectorizer = RowVectorizer(min_frequency=3, max_categories=5)
    assert clone(vectorizer).get_params() == {
        "min_frequency": 3,
        "max_categories": 5,
        "max_attributes": 50,
        "horizon_days": 90,
        "purchase_rhythm": False,
    }
    assert not [name for name in vars(vectorizer) if name.endswith("_")]
    assert vectorizer.fit(_rows(5)) is vectorizer


def test_a_numeric_crm_attribute_seen_in_training_becomes_a_feature() -> None:
    rows = _rows(20, support_tickets_open=2, plan="basic") + _rows(20, support_tickets_open=7, plan="premium")
    vectorizer = RowVectorizer(min_frequency=10).fit(rows)
    names = list(vectorizer.get_feature_names_out())
    assert "attr:support_tickets_open" in names
    assert {"attr:plan=basic", "attr:plan=premium"} <= set(names)
    matrix = vectorizer.transform([{"attributes": {"support_tickets_open": 4, "plan": "premium"}}])
    assert matrix[0, names.index("attr:support_tickets_open")] == 4
    assert matrix[0, names.index("attr:plan=premium")] == 1
    assert matrix[0, names.index("attr:plan=basic")] == 0


def test_unknown_attribute_types_and_rare_values_are_ignored() -> None:
    rows = [
        {"attributes": {"tags": ["a"], "nested": {"x": 1}, "ref": f"id-{i}", "signed_up_at": "2024-01-01"}}
        for i in range(30)
    ]
    vectorizer = RowVectorizer(min_frequency=10).fit(rows)
    assert not [name for name in vectorizer.get_feature_names_out() if name.startswith("attr:")]
    # an attribute first seen at serving time adds no column
    wider = vectorizer.transform([{"attributes": {"brand_new": 5}}])
    assert wider.shape == (1, len(vectorizer.columns_))


@pytest.mark.parametrize("odd", [["premium"], {"a": 1}, True, 1.0, None])
def test_a_category_sent_as_something_else_matches_no_column(odd: object) -> None:
    rows = _rows(20, plan="basic") + _rows(20, plan="premium")
    vectorizer = RowVectorizer(min_frequency=10).fit(rows)
    names = list(vectorizer.get_feature_names_out())
    matrix = vectorizer.transform([{"attributes": {"plan": odd}}])
    assert matrix[0, names.index("attr:plan=basic")] == matrix[0, names.index("attr:plan=premium")] == 0


def test_refitting_learns_new_columns() -> None:
    vectorizer = RowVectorizer(min_frequency=10).fit(_rows(20, plan="basic"))
    vectorizer.transform(_rows(1, plan="basic"))  # the column positions are now known
    vectorizer.fit(_rows(20, seats=3))
    names = list(vectorizer.get_feature_names_out())
    assert vectorizer.transform(_rows(1, seats=5))[0, names.index("attr:seats")] == 5


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "12", None, [1], {"a": 1}])
def test_non_finite_or_non_numeric_attribute_values_are_missing_not_errors(bad: object) -> None:
    vectorizer = RowVectorizer(min_frequency=10).fit(_rows(20, seats=3))
    column = list(vectorizer.get_feature_names_out()).index("attr:seats")
    assert np.isnan(vectorizer.transform([{"attributes": {"seats": bad}}])[0, column])


def test_non_finite_service_numbers_are_missing() -> None:
    vectorizer = RowVectorizer().fit(_rows(20))
    matrix = vectorizer.transform([{"value": math.inf, "latest_nps": math.nan, "tenure_days": 12}])
    names = list(vectorizer.get_feature_names_out())
    assert np.isnan(matrix[0, names.index("value")])
    assert np.isnan(matrix[0, names.index("latest_nps")])
    assert matrix[0, names.index("tenure_days")] == 12


def test_touchpoints_are_counted_from_a_list_or_a_mapping() -> None:
    rows = [{"touchpoints_90d": ["support_call", "support_call", "billing"]} for _ in range(10)]
    vectorizer = RowVectorizer(min_frequency=10).fit(rows)
    names = list(vectorizer.get_feature_names_out())
    matrix = vectorizer.transform([rows[0], {"touchpoints_90d": {"billing": 4, "unseen": 9}}, {}])
    assert matrix[0, names.index("touchpoint:support_call")] == 2
    assert matrix[1, names.index("touchpoint:billing")] == 4
    assert matrix[2, names.index("touchpoint:billing")] == 0


def test_pipeline_imputes_with_medians_and_flags_what_was_missing() -> None:
    rows = [{"latest_nps": float(score), "attributes": {"seats": score}} for score in range(10)] + [
        {"latest_nps": None, "attributes": {"seats": math.inf}}
    ] * 3
    pipeline = make_feature_pipeline(min_frequency=5)
    matrix = pipeline.fit_transform(rows)
    names = list(pipeline.named_steps["rows"].get_feature_names_out())
    nps = names.index("latest_nps")
    assert matrix[-1, nps] == 4.5
    flags = pipeline.named_steps["impute"].indicator_.features_.tolist()
    assert nps in flags
    assert names.index("attr:seats") in flags
    assert matrix[-1, len(names) + flags.index(nps)] == 1
    assert matrix[0, len(names) + flags.index(nps)] == 0


def test_every_fixed_feature_has_words_for_people() -> None:
    assert all(label and label[0].isupper() for label in FIXED_FEATURES.values())


def test_both_queries_start_a_customer_at_customer_since_else_the_first_event_or_the_row() -> None:
    """Tenure and who could have churned at a cut-off start at the same moment (the integration
    tests check the values)."""
    queries = load_queries(Path(ml.features.__file__).with_name("features.sql"))
    for name in ("select_features", "select_population"):
        assert "coalesce(c.customer_since, least(c.created_at," in " ".join(queries[name].split())
