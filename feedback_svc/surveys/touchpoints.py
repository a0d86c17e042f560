"""Touchpoint rules: which survey follows which kind of interaction, after what delay, and how
many reminders an unanswered invitation gets. A rule that leaves reminders NULL follows the
service's default (FEEDBACK_REMINDER_COUNT, FEEDBACK_REMINDER_DELAY_HOURS)."""

from datetime import timedelta
from typing import Any

import asyncpg

from feedback_svc.lib.bounds import ecma_regex
from feedback_svc.lib.errors import InvalidInput
from feedback_svc.surveys import queries
from feedback_svc.surveys.rules import ReminderRule, reminder_rule
from feedback_svc.surveys.schemas import KEY_PATTERN, ReminderSettings, Touchpoint, TouchpointUpdate


def _hours(interval: timedelta | None) -> float | None:
    return None if interval is None else interval.total_seconds() / 3600


def _touchpoint(row: dict[str, Any], default: ReminderRule) -> Touchpoint:
    applies = reminder_rule(count=row["reminder_count"], delay=row["reminder_delay"], default=default)
    return Touchpoint(
        key=row["key"],
        name=row["name"],
        critical=row["critical"],
        survey=row["survey"],
        invite_delay_minutes=row["invite_delay"].total_seconds() / 60,
        reminder_count=row["reminder_count"],
        reminder_delay_hours=_hours(row["reminder_delay"]),
        reminders=ReminderSettings(count=applies.count, delay_hours=applies.delay.total_seconds() / 3600),
        updated_at=row["updated_at"],
    )


async def list_touchpoints(
    conn: asyncpg.Connection | asyncpg.Pool, *, default: ReminderRule
) -> list[Touchpoint]:
    return [_touchpoint(row, default) for row in await queries.list_touchpoints(conn)]


async def put_touchpoint(
    conn: asyncpg.Connection, key: str, data: TouchpointUpdate, *, default: ReminderRule
) -> tuple[Touchpoint, bool]:
    """Replace (or create) a touchpoint's rule; the rule and whether it is new.

    A changed reminder count applies to reminders not yet sent (0 stops those already planned);
    a changed delay, to reminders planned from now on."""
    # as the spec means the pattern: "returns\n" is no key (Litestar's own check lets it by)
    if not ecma_regex(KEY_PATTERN).search(key):
        raise InvalidInput(
            f"{key!r} is no touchpoint key: a lower-case slug of letters, digits, - and _ "
            "(e.g. support_call).",
            errors=[{"field": "key", "message": "lower-case slug, at most 64 characters", "source": "path"}],
        )
    if data.survey is not None and await queries.get_survey(conn, data.survey) is None:
        raise InvalidInput(
            f"No survey {data.survey!r}; GET /v1/surveys lists them.",
            errors=[{"field": "survey", "message": "unknown survey"}],
        )
    row = await queries.upsert_touchpoint(
        conn,
        key=key,
        name=data.name,
        critical=data.critical,
        survey_key=data.survey,
        invite_delay=timedelta(minutes=data.invite_delay_minutes),
        reminder_count=data.reminder_count,
        reminder_delay=None
        if data.reminder_delay_hours is None
        else timedelta(hours=data.reminder_delay_hours),
    )
    return _touchpoint(row, default), row["created"]
