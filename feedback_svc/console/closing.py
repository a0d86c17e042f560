"""The task page's part in closing the loop: the resolve form's closing message, and what came of it."""

from typing import Any

import asyncpg

from feedback_svc.lib.localtime import local_text
from feedback_svc.recovery import closing_queries
from feedback_svc.recovery.follow_up import signature
from feedback_svc.recovery.messages import fill, template_locales
from feedback_svc.recovery.pulse import PULSE_OUTCOMES
from feedback_svc.recovery.schemas import Evidence, FollowUp, Pulse, Task
from feedback_svc.surveys.queries import opted_out_channels
from feedback_svc.surveys.rules import Contact, choose_channel

CHANNEL_NAMES = {"email": "Email", "sms": "SMS"}
_PULSE_STATES = {
    "scheduled": "Scheduled",
    "queued": "Waiting to be sent",
    "sent": "Sent",
    "answered": "Answered",
    "suppressed": "Not sent",
    "failed": "Failed",
    "expired": "Not answered in time",
}
_NO_PULSE = {
    "unreachable": "nobody reached the customer, so there is nothing to ask about",
    "no_action_needed": "nothing was done",
}


async def message_form(
    conn: asyncpg.Connection, customer: dict[str, Any] | None, *, agent: str, brand: str
) -> dict[str, Any]:
    """What the resolve form offers: where the message would go, and each outcome's template, filled in."""
    if customer is None or customer["erased_at"] is not None:
        return {"default": None, "problem": "the customer was erased", "unusable": {}, "previews": {}}
    email, phone = customer["email"], customer["phone"]
    opted_out = await opted_out_channels(conn, email=email, phone=phone)
    chosen, problem = choose_channel(
        Contact(email=email, phone=phone, time_zone=customer["time_zone"]), None, opted_out
    )
    unusable = {}
    for channel, address in (("email", email), ("sms", phone)):
        if not address:
            unusable[channel] = f"no {'email address' if channel == 'email' else 'phone number'}"
        elif channel in opted_out:
            unusable[channel] = "opted out"
    default = None
    if chosen == "email":
        default = {"channel": "email", "address": email}
    elif chosen == "sms":
        default = {"channel": "SMS", "address": phone}
    signed = await signature(conn, agent, brand=brand)
    previews = {}
    locales = template_locales(customer["locale"])
    rows = await closing_queries.list_message_templates(conn)
    for outcome in ("recovered", "not_recovered", "unreachable", "no_action_needed"):
        found = [row for row in rows if row["outcome"] == outcome and row["locale"] in locales]
        if not found:
            continue
        row = min(found, key=lambda r: locales.index(r["locale"]))

        def filled(text: str) -> str:
            return fill(text, name=customer["name"], brand=brand, agent=signed)

        previews[outcome] = {
            "locale": row["locale"],
            "subject": filled(row["subject"]),
            "email": f"{filled(row['greeting'])}\n\n{filled(row['body'])}",
            "sms": filled(row["sms"]),
        }
    return {"default": default, "problem": problem or None, "unusable": unusable, "previews": previews}


def follow_up_view(follow_up: FollowUp | None, *, zone: str) -> dict[str, Any] | None:
    """The closing message as the task page tells it."""
    if follow_up is None:
        return None
    channel = CHANNEL_NAMES.get(follow_up.channel or "", "no channel")
    if follow_up.status == "sent" and follow_up.sent_at is not None:
        by = "email" if follow_up.channel == "email" else "SMS"
        state = f"Sent by {by} on {local_text(follow_up.sent_at, zone)}"
    elif follow_up.status == "queued":
        state = f"Waiting to be sent ({follow_up.reason or 'queued'})"
    else:
        state = (follow_up.reason or follow_up.status).capitalize()
    return {
        "state": state,
        "status": follow_up.status,
        "channel": channel,
        "source": "the agent's own words"
        if follow_up.source == "agent"
        else f"template ({follow_up.locale})",
        "subject": follow_up.subject,
        "text": follow_up.text,
        "requested": local_text(follow_up.requested_at, zone),
    }


def pulse_view(
    task: Task, pulse: Pulse | None, evidence: list[Evidence], *, pulse_days: int, zone: str
) -> dict[str, Any] | None:
    """The pulse survey's state, or why this task has none (None while the task is open)."""
    before = next((e.details for e in evidence if e.response_id is not None), None)
    before_text = (
        f"{str(before.get('kind', '')).upper()} {before.get('score')}"
        if before and before.get("score") is not None
        else None
    )
    if pulse is not None:
        state = _PULSE_STATES.get(pulse.status, pulse.status.capitalize())
        if pulse.status == "answered" and pulse.score is not None:
            state = f"Answered {pulse.kind.upper()} {pulse.score}"
        elif pulse.status in ("suppressed", "failed", "scheduled", "queued"):
            state = f"{state}: {pulse.reason.split(': ', 1)[-1]}"
        elif pulse.sent_at is not None:
            state = f"{state} {local_text(pulse.sent_at, zone)}"
        return {"state": state, "survey": pulse.survey, "before": before_text}
    if task.status != "resolved":
        return None
    if task.pulse_due_at is not None:
        return {"state": f"Due {local_text(task.pulse_due_at, zone)}", "survey": None, "before": before_text}
    return {"state": f"None: {_why_no_pulse(task, answered=before is not None, pulse_days=pulse_days)}",
            "survey": None, "before": before_text}  # fmt: skip


def _why_no_pulse(task: Task, *, answered: bool, pulse_days: int) -> str:
    """Why a resolved task has no pulse, as recovery/pulse.py decides it."""
    if not task.control and task.outcome not in PULSE_OUTCOMES:
        return _NO_PULSE.get(task.outcome or "", "this outcome gets none")
    if pulse_days == 0:
        return "pulses are turned off"
    if not answered:
        return "no answer among the evidence to ask again"
    return "none was planned when it was resolved"
