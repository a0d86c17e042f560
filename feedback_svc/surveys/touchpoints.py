"""Touchpoint rules: which survey follows which kind of interaction, after what delay, and how
many reminders an unanswered invitation gets. A rule that leaves reminders NULL follows the
service's default (FEEDBACK_REMINDER_COUNT, FEEDBACK_REMINDER_DELAY_HOURS)."""

from datetime import timedelta
from typing import Any

import asyncpg
from msgspec import UNSET

from feedback_svc.lib.bounds import ecma_regex
from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.surveys import queries
from feedback_svc.surveys.placeholders import canonical_locale, locale_problem
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
        display_names=row["display_names"],
        retired_at=row["retired_at"],
        channel_preference=row["channel_preference"],
        cooldown_days=None if row["cooldown"] is None else row["cooldown"].total_seconds() / 86400,
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
    if data.survey is not None:
        survey = await queries.get_survey(conn, data.survey)
        if survey is None:
            raise InvalidInput(
                f"No survey {data.survey!r}; GET /v1/surveys lists them.",
                errors=[{"field": "survey", "message": "unknown survey"}],
            )
        if not survey["active"]:
            raise InvalidInput(
                f"Survey {data.survey!r} is retired and sends no new invitations; choose an active one.",
                errors=[{"field": "survey", "message": "retired survey", "source": "body"}],
            )
    display_names = None if data.display_names is UNSET else checked_display_names(data.display_names)
    existing = await queries.lock_touchpoint(conn, key)
    if existing is not None and existing["retired_at"] is not None:
        raise Conflict(f"Touchpoint {key!r} is retired; it takes no new rule.")
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
        display_names=display_names,
        channel_preference=data.channel_preference,
        cooldown=None if data.cooldown_days is None else timedelta(days=data.cooldown_days),
    )
    return _touchpoint(row, default), row["created"]


def checked_display_names(names: dict[str, str]) -> dict[str, str]:
    """Display names keyed as customers' locales are, or InvalidInput naming each bad one."""
    checked: dict[str, str] = {}
    problems = []
    for given, name in names.items():
        locale = canonical_locale(given)
        problem = locale_problem(locale)
        if problem is None and ("{" in name or "}" in name):
            problem = "a display name is filled into texts as it is: no braces in it"
        if problem is None and not name.strip():
            problem = "must not be empty"
        if problem is not None:
            pointer = f"/display_names/{given}"
            problems.append({"field": f"display_names.{given}", "pointer": pointer, "message": problem,
                             "source": "body"})  # fmt: skip
        checked[locale] = name.strip()
    if problems:
        raise InvalidInput(
            "The touchpoint was not saved: "
            + "; ".join(f"{p['pointer']}: {p['message']}" for p in problems)
            + ".",
            errors=problems,
        )
    return checked


async def retire_touchpoint(conn: asyncpg.Connection, key: str, *, default: ReminderRule) -> Touchpoint:
    """Interactions with it get no survey from now on (the reason is stored with each); a no-op twice."""
    if await queries.lock_touchpoint(conn, key) is None:
        raise NotFound(f"No touchpoint {key!r}; GET /v1/touchpoints lists them.")
    await queries.retire_touchpoint(conn, key)
    return next(t for t in await list_touchpoints(conn, default=default) if t.key == key)
