from datetime import UTC, datetime, timedelta

import pytest

from feedback_svc.recovery.priority import (
    Churn,
    Rule,
    Signal,
    compute_priority,
    evidence_deadline,
    response_triggers,
)

PRIOR = Churn(probability=0.2, source="prior")
RULE = Rule(
    trigger="nps_detractor",
    enabled=True,
    urgency=0.6,
    deadline=timedelta(hours=24),
    critical_deadline=timedelta(hours=8),
    high_value_deadline=timedelta(hours=12),
)


@pytest.mark.parametrize(
    ("kind", "score", "contact", "expected"),
    [
        ("nps", 6, False, ["nps_detractor"]),
        ("nps", 7, False, []),
        ("nps", 0, True, ["contact_requested", "nps_detractor"]),
        ("csat", 2, False, ["csat_low"]),
        ("csat", 3, False, []),
        ("ces", 6, False, ["ces_high_effort"]),
        ("ces", 5, False, []),
        ("csat", 5, True, ["contact_requested"]),
    ],
)
def test_which_answers_trigger(kind: str, score: int, contact: bool, expected: list[str]) -> None:
    assert response_triggers(kind=kind, score=score, contact_requested=contact) == expected


def test_deadline_takes_the_shortest_window_that_applies() -> None:
    at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert evidence_deadline(RULE, at=at, critical=False, high_value=False) == at + timedelta(hours=24)
    assert evidence_deadline(RULE, at=at, critical=False, high_value=True) == at + timedelta(hours=12)
    assert evidence_deadline(RULE, at=at, critical=True, high_value=True) == at + timedelta(hours=8)


def test_priority_adds_urgency_value_at_risk_and_critical_points() -> None:
    priority = compute_priority(
        [Signal(trigger="nps_detractor", urgency=0.6, touchpoint="delivery", critical=True)],
        value=4999.0,
        churn=PRIOR,
    )
    # 60 for urgency, 10 x log10(1 + 999.8) = 30.0 for value at risk, 20 for the critical touchpoint
    assert priority.value_at_risk == 999.8
    assert [r["points"] for r in priority.reasons] == [60.0, 30.0, 20.0]
    assert priority.points == 110.0
    assert "4,999.00 x churn probability 0.20 (prior) = 999.80 at risk" in str(priority.reasons[1]["text"])
    assert priority.critical
    assert priority.touchpoint == "delivery"


def test_the_strongest_signal_names_the_task_and_repeats_add_up_to_a_cap() -> None:
    signals = [Signal(trigger="csat_low", urgency=0.6, touchpoint=None, critical=False)] * 6 + [
        Signal(trigger="contact_requested", urgency=1.0, touchpoint=None, critical=False)
    ]
    priority = compute_priority(signals, value=0.0, churn=PRIOR)
    assert priority.trigger == "contact_requested"
    assert [r["factor"] for r in priority.reasons] == ["urgency", "value_at_risk", "repeated_signals"]
    assert priority.reasons[2]["points"] == 20.0
    assert priority.points == 120.0


def test_more_money_at_stake_ranks_higher_with_the_same_trigger() -> None:
    def points(value: float) -> float:
        signal = Signal(trigger="nps_detractor", urgency=0.6, touchpoint=None, critical=False)
        return compute_priority([signal], value=value, churn=Churn(0.5, "score")).points

    assert points(100) < points(1_000) < points(10_000)
    # a contact request from a small customer still outranks a silent detractor worth ten times more
    contact = Signal(trigger="contact_requested", urgency=1.0, touchpoint=None, critical=False)
    assert compute_priority([contact], value=100, churn=PRIOR).points > points(1_000)


def test_a_task_needs_a_signal() -> None:
    with pytest.raises(ValueError, match="at least one signal"):
        compute_priority([], value=1, churn=PRIOR)
