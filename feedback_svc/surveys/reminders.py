"""Reminders for unanswered invitations: what the rule says, and planning the next one.

A reminder is a row per (invitation, number) in invitation_reminders and an outbox job
("invitation.remind") deduplicated by the same natural key, due when the rule says: its delay
after the invitation went (then after the reminder before), out of SMS quiet hours, while the
survey link still opens. Planned when the invitation (or the reminder before) is recorded as
sent, in that transaction; reminding.py sends it when it comes due.
"""

from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries
from feedback_svc.outbox.queries import enqueue
from feedback_svc.settings import Settings
from feedback_svc.surveys.rules import ReminderRule, reminder_due, reminder_rule

Q = load_queries(Path(__file__).with_name("reminders.sql"))

TOPIC = "invitation.remind"


def default_rule(settings: Settings) -> ReminderRule:
    """The rule where a touchpoint's says nothing (or there is no touchpoint)."""
    return ReminderRule(count=settings.reminder_count, delay=timedelta(hours=settings.reminder_delay_hours))


def dedupe_key(invitation_id: UUID, number: int) -> str:
    return f"{TOPIC}:{invitation_id}:{number}"


async def plan_reminder(
    conn: asyncpg.Connection,
    *,
    invitation_id: UUID,
    number: int,
    after: datetime,
    default: ReminderRule,
    channel: str | None = None,
) -> datetime | None:
    """Schedule reminder `number` of a sent invitation `after` the invitation (or the reminder
    before) went, in the caller's transaction; when it is due, or None when none is to come."""
    plan = await conn.fetchrow(Q["reminder_plan"], invitation_id)
    if plan is None or plan["status"] != "sent" or plan["channel"] not in ("email", "sms"):
        return None
    rule = reminder_rule(count=plan["reminder_count"], delay=plan["reminder_delay"], default=default)
    due = reminder_due(
        after=after,
        rule=rule,
        number=number,
        channel=channel or plan["channel"],
        time_zone=plan["time_zone"],
        expires_at=plan["expires_at"],
    )
    if due is None:
        return None
    if await conn.fetchval(Q["schedule_reminder"], invitation_id, number, due, channel or plan["channel"]):
        await enqueue(
            conn,
            topic=TOPIC,
            payload={"invitation_id": str(invitation_id), "number": number},
            ordering_key=str(plan["customer_id"]),
            dedupe_key=dedupe_key(invitation_id, number),
            run_after=due,
        )
    return due
