"""A task's evidence and history in sentences, as a colleague would tell it.

The rows keep their details as JSON for programs; people get "Answered NPS 2 (0-10) by email
after delivery, a detractor" instead of "kind: nps · score: 2 · control: False". A detail this
module does not know is left out rather than dumped.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from feedback_svc.lib.localtime import local_text

OUTCOME_LABELS = {
    "recovered": "Recovered",
    "not_recovered": "Not recovered",
    "unreachable": "Unreachable",
    "no_action_needed": "No action needed",
}
CHANNELS = {
    "phone": "Phone",
    "email": "Email",
    "sms": "SMS",
    "chat": "Chat",
    "visit": "Visit",
    "other": "Other",
}
KIND_SCALES = {"nps": "0-10", "csat": "1-5", "ces": "1-7"}
TRIGGER_LABELS = {
    "contact_requested": "Asked to be contacted",
    "nps_detractor": "NPS detractor",
    "csat_low": "Low CSAT",
    "ces_high_effort": "High effort (CES)",
    "churn_risk": "Churn risk",
}
TRIGGER_REASONS = {
    "contact_requested": "the customer asked to be contacted",
    "nps_detractor": "an NPS detractor answer",
    "csat_low": "a low CSAT answer",
    "ces_high_effort": "a high-effort CES answer",
    "churn_risk": "a churn score over the threshold",
}
_VERDICTS = {"nps_detractor": "a detractor", "csat_low": "unsatisfied", "ces_high_effort": "hard work"}
_ANSWER_CHANNELS = {"email": "by email", "sms": "by SMS", "web": "on the web", "api": "in the app"}
_CONTACT_CHANNELS = {"phone": "by phone", "email": "by email", "sms": "by SMS", "chat": "by chat",
                     "visit": "in person", "other": "another way"}  # fmt: skip


def _moment(value: object, zone: str) -> str | None:
    """A stored timestamp (ISO text in JSON) in the reader's zone; None when there is none."""
    if not isinstance(value, str):
        return None
    try:
        return local_text(datetime.fromisoformat(value), zone)
    except ValueError:
        return None


def _sentence(*parts: str | None) -> str:
    return " ".join(part for part in parts if part)


def _due(details: dict[str, Any], zone: str, *, lead: str = "Contact promised by") -> str | None:
    when = _moment(details.get("deadline_at"), zone)
    return f"{lead} {when}." if when else None


def evidence_text(trigger: str, details: dict[str, Any], *, zone: str) -> str:
    """What one signal was: the answer or score behind it, and the promise it made."""
    if trigger == "churn_risk":
        probability, threshold = details.get("churn_probability"), details.get("threshold")
        band, model = details.get("risk_band"), details.get("model_version")
        score = f"Churn score {100 * float(probability):.0f}%" if probability is not None else "A churn score"
        band_text = f" ({band} risk band" + (f", model {model})" if model else ")") if band else ""
        over = f" reached the {100 * float(threshold):.0f}% threshold." if threshold is not None else "."
        return _sentence(score + band_text + over, _due(details, zone, lead="Contact due by"))
    kind, score = details.get("kind"), details.get("score")
    if kind is None or score is None:
        reason = TRIGGER_REASONS.get(trigger, trigger.replace("_", " "))
        return _sentence(reason[:1].upper() + reason[1:] + ".", _due(details, zone))
    answer = f"{str(kind).upper()} {score} ({KIND_SCALES.get(str(kind), '')})"
    where = [_ANSWER_CHANNELS.get(str(details.get("channel")), "")]
    if details.get("touchpoint"):
        moment = " (a moment of truth)" if details.get("critical") else ""
        where.append(f"after {str(details['touchpoint']).replace('_', ' ')}{moment}")
    how = " ".join(part for part in where if part)
    if trigger == "contact_requested":
        first = f"Asked to be contacted, answering {answer}{' ' + how if how else ''}."
    else:
        verdict = _VERDICTS.get(trigger)
        first = f"Answered {answer}{' ' + how if how else ''}" + (f": {verdict}." if verdict else ".")
    return _sentence(first, _due(details, zone))


def history_text(action: str, details: dict[str, Any], *, names: dict[str, str], zone: str) -> str:
    """The details of one history row in words (the action and who did it are shown beside)."""
    tell = _HISTORY.get(action)
    return tell(details, names, zone) if tell else ""


def _note(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    return str(d.get("text") or "")


def _contact(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    channel = _CONTACT_CHANNELS.get(str(d.get("channel")), "")
    reached = "reached the customer" if d.get("reached") else "did not reach the customer"
    late = "" if d.get("before_deadline", True) else ", after the deadline"
    return _sentence(f"{channel.capitalize()}, {reached}{late}.", d.get("note"))


def _resolved(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    outcome = OUTCOME_LABELS.get(str(d.get("outcome")), str(d.get("outcome")))
    pulse = _moment(d.get("pulse_due_at"), zone)
    return _sentence(
        f"{outcome}, root cause {d.get('root_cause')}.",
        d.get("note"),
        f"Pulse survey due {pulse}." if pulse else None,
    )


_MESSAGE_CHANNELS = {"email": "by email", "sms": "by SMS"}


def _follow_up(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    """A closing message asked for at resolution, and where it stood then."""
    words = "in the agent's own words" if d.get("source") == "agent" else "from the template"
    channel = _MESSAGE_CHANNELS.get(str(d.get("channel")), "")
    if d.get("status") == "queued":
        return _sentence(f"A closing message {channel}, {words}, is on its way.", _reason(d, "queued"))
    return _sentence(f"A closing message {words} was not sent:", _reason(d, "not sent") or "no channel.")


def _reason(d: dict[str, Any], prefix: str) -> str | None:
    """A stored reason without the status it starts with ("not sent: opted out of sms")."""
    reason = str(d.get("reason") or "")
    text = reason.removeprefix(prefix).removeprefix(":").strip()
    return f"{text[:1].upper()}{text[1:]}." if text and text != prefix else None


def _follow_up_settled(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    reason = str(d.get("reason") or "")
    return reason[:1].upper() + reason[1:] + "." if reason else ""


def _control_closed(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    pulse = _moment(d.get("pulse_due_at"), zone)
    return _sentence(
        "Closed without contact when its control window ended.",
        f"Pulse survey due {pulse}." if pulse else None,
    )


def _pulse(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    survey = str(d.get("survey") or "the survey").upper()
    reason = str(d.get("reason") or "")
    if d.get("status") == "suppressed":
        return f"The {survey} pulse survey was not sent: {reason.removeprefix('suppressed: ')}."
    return f"The {survey} pulse survey asks whether recovery worked ({reason})."


def _assigned(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    assignee = d.get("assignee")
    who = f"Assigned to {names.get(assignee, assignee)}." if assignee else "Unassigned: anyone may claim it."
    return _sentence(who, "The lease ended with the hand-over." if d.get("lease_ended") else None)


def _signal(d: dict[str, Any], names: dict[str, str], zone: str, *, created: bool) -> str:
    reason = TRIGGER_REASONS.get(str(d.get("trigger")), str(d.get("trigger") or "a signal"))
    opened = f"Opened for {reason}" if created else f"More evidence: {reason}"
    priority = d.get("priority")
    ranked = f", priority {'' if created else 'now '}{float(priority):.1f}" if priority is not None else ""
    return _sentence(
        f"{opened}{ranked}.",
        _due(d, zone, lead="Contact due by"),
        "A high-value customer." if d.get("high_value") else None,
        "In the control group: not to be contacted." if d.get("control") else None,
        "Taken out of the control group: the customer asked to be contacted."
        if d.get("left_control")
        else None,
    )


def _reopened(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    before = OUTCOME_LABELS.get(str(d.get("previous_outcome")))
    return _sentence(
        str(d.get("reason") or ""),
        f"It was {before.lower()} before." if before else None,
        _due(d, zone, lead="New deadline:"),
    )


def _escalated(d: dict[str, Any], names: dict[str, str], zone: str) -> str:
    when = _moment(d.get("deadline_at"), zone)
    points = d.get("priority_points")
    return _sentence(
        f"The deadline {when} passed without contact." if when else "The deadline passed without contact.",
        f"Priority raised by {float(points):.0f} points." if points is not None else None,
    )


_HISTORY: dict[str, Callable[[dict[str, Any], dict[str, str], str], str]] = {
    "note": _note,
    "contact_attempt": _contact,
    "resolved": _resolved,
    "assigned": _assigned,
    "created": lambda d, names, zone: _signal(d, names, zone, created=True),
    "evidence_added": lambda d, names, zone: _signal(d, names, zone, created=False),
    "reopened": _reopened,
    "escalated": _escalated,
    "control_closed": _control_closed,
    "follow_up": _follow_up,
    "follow_up_sent": _follow_up_settled,
    "follow_up_failed": _follow_up_settled,
    "follow_up_not_sent": _follow_up_settled,
    "pulse": _pulse,
    "pulse_skipped": lambda d, names, zone: _sentence(f"{str(d.get('reason') or '').capitalize()}."),
}
