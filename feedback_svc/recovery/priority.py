"""The value-vulnerability matrix as numbers: which signals trigger, how urgent, how soon.

Pure functions, so the order of the queue can be explained and tested without a database.
Priority is a sum of points, each with a sentence saying where it came from:

- urgency of the strongest trigger: urgency x 100 (a contact request is 100, a detractor 60);
- value at risk = customer value x churn probability: 10 x log10(1 + value at risk), so each
  tenfold of money at stake adds 10 points (100 -> 20, 1,000 -> 30, 10,000 -> 40);
- a critical touchpoint ("moment of truth"): 20 points;
- repeated signals: 5 points for each piece of evidence past the first, at most 20;
- escalated (its deadline passed without contact): 50 points, so a broken promise rises above
  fresh work of the same kind.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

URGENCY_POINTS = 100.0
VALUE_POINTS_PER_DECADE = 10.0
CRITICAL_POINTS = 20.0
REPEAT_POINTS = 5.0
REPEAT_CAP = 20.0
ESCALATION_POINTS = 50.0

TRIGGER_WORDS = {
    "contact_requested": "the customer asked to be contacted",
    "nps_detractor": "NPS detractor (0-6)",
    "csat_low": "CSAT 1-2",
    "ces_high_effort": "CES 6-7 (hard to get helped)",
    "churn_risk": "churn score over the threshold",
}


@dataclass(frozen=True, slots=True)
class Rule:
    trigger: str
    enabled: bool
    urgency: float
    deadline: timedelta
    critical_deadline: timedelta
    high_value_deadline: timedelta


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence as priority sees it."""

    trigger: str
    urgency: float
    touchpoint: str | None
    critical: bool


@dataclass(frozen=True, slots=True)
class Churn:
    probability: float
    source: str  # "score 41 (model v3)", "prior"


@dataclass(frozen=True, slots=True)
class Priority:
    points: float
    value_at_risk: float
    trigger: str
    touchpoint: str | None
    critical: bool
    reasons: list[dict[str, object]]


def response_triggers(*, kind: str, score: int, contact_requested: bool) -> list[str]:
    """The triggers one survey answer fires (a bad score and a contact request are separate)."""
    triggers = []
    if contact_requested:
        triggers.append("contact_requested")
    if kind == "nps" and score <= 6:
        triggers.append("nps_detractor")
    elif kind == "csat" and score <= 2:
        triggers.append("csat_low")
    elif kind == "ces" and score >= 6:
        triggers.append("ces_high_effort")
    return triggers


def evidence_deadline(rule: Rule, *, at: datetime, critical: bool, high_value: bool) -> datetime:
    """The promise one signal makes: the shortest deadline its circumstances call for."""
    window = rule.deadline
    if critical:
        window = min(window, rule.critical_deadline)
    if high_value:
        window = min(window, rule.high_value_deadline)
    return at + window


def escalation_reason(deadline_at: datetime) -> dict[str, object]:
    """The points an escalated task carries, and why (the deadline in UTC: stored text has no reader)."""
    when = deadline_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {
        "factor": "escalated",
        "points": ESCALATION_POINTS,
        "text": f"escalated: nobody contacted the customer by the deadline, {when}: "
        f"+{ESCALATION_POINTS:.0f} points",
    }


def compute_priority(
    signals: Iterable[Signal], *, value: float, churn: Churn, escalated_deadline: datetime | None = None
) -> Priority:
    """The task's points and reasons; `escalated_deadline` is the deadline an escalated task missed."""
    signals = list(signals)
    if not signals:
        raise ValueError("a task has at least one signal")
    strongest = max(signals, key=lambda s: (s.urgency, s.trigger == "contact_requested"))
    critical = next((s for s in signals if s.critical), None)
    value_at_risk = round(max(value, 0.0) * churn.probability, 2)
    reasons: list[dict[str, object]] = []

    urgency_points = round(strongest.urgency * URGENCY_POINTS, 1)
    reasons.append(
        {
            "factor": "urgency",
            "points": urgency_points,
            "text": f"{TRIGGER_WORDS.get(strongest.trigger, strongest.trigger)}: urgency "
            f"{strongest.urgency:.2f} x {URGENCY_POINTS:.0f} = {urgency_points:.1f} points",
        }
    )
    value_points = round(VALUE_POINTS_PER_DECADE * math.log10(1 + value_at_risk), 1)
    reasons.append(
        {
            "factor": "value_at_risk",
            "points": value_points,
            "text": f"value {value:,.2f} x churn probability {churn.probability:.2f} ({churn.source}) = "
            f"{value_at_risk:,.2f} at risk: 10 x log10(1 + {value_at_risk:,.2f}) = {value_points:.1f} points",
        }
    )
    points = urgency_points + value_points
    if critical is not None:
        reasons.append(
            {
                "factor": "critical_touchpoint",
                "points": CRITICAL_POINTS,
                "text": f"critical touchpoint {critical.touchpoint or '(unnamed)'}: "
                f"+{CRITICAL_POINTS:.0f} points",
            }
        )
        points += CRITICAL_POINTS
    if len(signals) > 1:
        repeat = min(REPEAT_POINTS * (len(signals) - 1), REPEAT_CAP)
        reasons.append(
            {
                "factor": "repeated_signals",
                "points": repeat,
                "text": f"{len(signals)} signals on this task: +{repeat:.0f} points "
                f"({REPEAT_POINTS:.0f} for each past the first, at most {REPEAT_CAP:.0f})",
            }
        )
        points += repeat
    if escalated_deadline is not None:
        reasons.append(escalation_reason(escalated_deadline))
        points += ESCALATION_POINTS
    touchpoint = critical.touchpoint if critical else strongest.touchpoint
    if touchpoint is None:
        touchpoint = next((s.touchpoint for s in signals if s.touchpoint), None)
    return Priority(
        points=round(points, 1),
        value_at_risk=value_at_risk,
        trigger=strongest.trigger,
        touchpoint=touchpoint,
        critical=critical is not None,
        reasons=reasons,
    )
