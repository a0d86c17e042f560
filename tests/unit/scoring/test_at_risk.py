"""The at-risk rule: the model card's critical band unless a setting says otherwise."""

import uuid

import pytest

from feedback_svc.console.queue_pages import left_out_text
from feedback_svc.scoring.at_risk import AtRiskPolicy
from feedback_svc.scoring.cache import baseline_bundle
from feedback_svc.settings import Settings
from ml.scorer import CustomerScore, Scorer


def score(churn: float, band: str, value_at_risk: float) -> CustomerScore:
    return CustomerScore(
        customer_id=uuid.uuid4(),
        churn_probability=churn,
        risk_band=band,
        loyalty_probability=None,
        loyalty_index=None,
        value_at_risk=value_at_risk,
        reasons=[],
        imputed=[],
        model_version="v",
    )


def test_by_default_the_critical_band_is_at_risk_whatever_its_edge() -> None:
    policy = AtRiskPolicy.from_settings(Settings())
    assert policy.kind == "risk_band"
    assert policy.is_at_risk(score(0.23, "critical", 10))
    assert not policy.is_at_risk(score(0.6, "high", 10_000))  # a band, not a number
    scorer = Scorer(baseline_bundle())
    rule = policy.rule(scorer)
    floor = scorer.band_floor("critical")
    assert (rule["kind"], rule["threshold"]) == ("risk_band", floor)
    assert scorer.risk_band(floor) == "critical"
    assert scorer.risk_band(floor - 1e-9) == "high"
    assert f"{floor:.4f}" in rule["text"]
    assert baseline_bundle().version in rule["text"]


@pytest.mark.parametrize(
    ("settings", "kind", "at_risk", "safe"),
    [
        (Settings(proactive_min_value_at_risk=500), "value_at_risk",
         score(0.1, "low", 500), score(0.9, "critical", 499)),
        (Settings(at_risk_threshold=0.3, proactive_min_value_at_risk=500), "churn_probability",
         score(0.3, "medium", 0), score(0.29, "critical", 10_000)),
    ],
)  # fmt: skip
def test_settings_override_the_card(
    settings: Settings, kind: str, at_risk: CustomerScore, safe: CustomerScore
) -> None:
    policy = AtRiskPolicy.from_settings(settings)
    assert policy.kind == kind
    assert policy.is_at_risk(at_risk)
    assert not policy.is_at_risk(safe)
    # a run keeps the rule it started with, whatever the settings are later
    kept = AtRiskPolicy.from_rule(policy.rule(Scorer(baseline_bundle())))
    assert kept.kind == kind
    assert kept.is_at_risk(at_risk)
    assert not kept.is_at_risk(safe)


def test_the_queue_says_how_many_the_daily_limit_left_out() -> None:
    assert left_out_text(0, limit=20) == ""
    assert left_out_text(1, limit=20) == "1 more at-risk customer was not queued today: daily limit 20."
    assert left_out_text(23289, limit=20) == (
        "23,289 more at-risk customers were not queued today: daily limit 20."
    )
