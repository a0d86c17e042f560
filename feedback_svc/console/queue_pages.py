"""The recovery queue page: open tasks in priority order, filters, and "Claim next"."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from feedback_svc.console import queries
from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages, redirect
from feedback_svc.console.sentences import TRIGGER_LABELS
from feedback_svc.console.timefmt import deadline_text
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import InvalidInput
from feedback_svc.lib.localtime import local_text
from feedback_svc.recovery import intake
from feedback_svc.recovery import service as recovery
from feedback_svc.recovery.schemas import TRIGGERS
from feedback_svc.themes import queries as theme_queries
from feedback_svc.users.schemas import SessionUser

PAGE_SIZE = 50
MESSAGES = {
    "released": "You released the task; it is back in the queue for anyone to claim.",
    "resolved": "The task is resolved. Claim the next one when you are ready.",
    "empty": "Nothing to claim: every open task is held by someone or assigned to another agent.",
}


def lease_for(request: Request[Any, Any, Any]) -> timedelta:
    return timedelta(seconds=request.app.state.settings.recovery_lease_seconds)


def person_names(people: list[dict[str, Any]]) -> dict[str, str]:
    return {person["email"]: person["name"] for person in people}


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def owner_text(assignee: str | None, holder: str | None, *, names: dict[str, str], me: str) -> str:
    """Who the task is with: assigned, being worked on (holding a live lease), both, or nobody."""

    def name(who: str) -> str:
        return "you" if who == me else names.get(who, who)

    if assignee and holder and holder != assignee:
        return f"{name(assignee)} (assigned); {name(holder)} working on it"
    if assignee:
        working = ", working on it" if holder == assignee else ""
        return f"{name(assignee)} (assigned{working})"
    if holder:
        return f"{name(holder)} (working on it)"
    return "nobody yet"


def queue_row(
    row: dict[str, Any], *, now: datetime, names: dict[str, str], zone: str, me: str
) -> dict[str, Any]:
    return {
        **row,
        "trigger_label": TRIGGER_LABELS.get(row["trigger"], row["trigger"]),
        "due_text": deadline_text(row["deadline_at"], now=now, contacted=row["first_contact_at"] is not None),
        "deadline_local": local_text(row["deadline_at"], zone),
        "owner_text": owner_text(row["assignee"], row["lease_holder"], names=names, me=me),
        "customer_label": row["customer_name"] or row["customer_external_id"] or "Erased customer",
        "cause_text": cause_text(row),
    }


def left_out_text(left_out: int, *, limit: int) -> str:
    """The proactive tasks the daily limit kept out of the queue today, in one line."""
    if left_out <= 0:
        return ""
    who = "at-risk customer was" if left_out == 1 else "at-risk customers were"
    return f"{left_out:,} more {who} not queued today: daily limit {limit:,}."


def _theme_id(raw: str | None) -> int | None:
    """A theme id from the filter, or None (nothing chosen, or not a number a theme can have)."""
    text = _clean(raw)
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text) or None


def cause_text(row: dict[str, Any]) -> str:
    """The answer (or score) that put the task in the queue, in one line."""
    if row["cause_kind"] is not None:
        answer = f"{row['cause_kind'].upper()} {row['cause_score']}"
        return f"{answer}: “{row['cause_comment']}”" if row["cause_comment"] else f"{answer}, no comment"
    if row["cause_churn"] is not None:
        return f"Churn score {100 * float(row['cause_churn']):.0f}%"
    return ""


class QueuePagesController(Controller):
    path = "/console/queue"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("agent")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    @get("/")
    async def show(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        trigger: FromQuery[str | None] = None,
        touchpoint: FromQuery[str | None] = None,
        segment: FromQuery[str | None] = None,
        owner: FromQuery[str | None] = None,
        theme: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        now = datetime.now(UTC)
        errors: list[str] = []
        trigger, touchpoint, segment, owner = map(_clean, (trigger, touchpoint, segment, owner))
        if trigger is not None and trigger not in TRIGGERS:
            errors.append(f"{trigger!r} is not a trigger; showing every trigger.")
            trigger = None
        after = None
        if cursor:
            try:
                after = recovery.decode_cursor(cursor)
            except InvalidInput as error:
                errors.append(error.detail)
        theme_id = _theme_id(theme)
        if theme_id is None and _clean(theme):
            errors.append(f"{theme!r} is not a theme; showing every theme.")
        owner_email = user.email if owner == "me" else (None if owner in (None, "nobody") else owner)
        async with pool.acquire() as conn:
            rows = await queries.queue_tasks(
                conn,
                trigger=trigger,
                touchpoint=touchpoint,
                segment=segment,
                owner=owner_email,
                unowned=owner == "nobody",
                after=after,
                limit=PAGE_SIZE + 1,
                theme=theme_id,
            )
            counts = await queries.queue_counts(conn)
            proactive = await intake.intake_on(conn, intake.day_of(now))
            touchpoints = await queries.queue_touchpoints(conn)
            segments = await queries.queue_segments(conn)
            people = await queries.active_people(conn)
            themes = await theme_queries.theme_choices(conn)
        names = person_names(people)
        shown = rows[:PAGE_SIZE]
        next_cursor = (
            recovery.encode_cursor(shown[-1]["priority"], shown[-1]["id"]) if len(rows) > PAGE_SIZE else None
        )
        filters = {
            "trigger": trigger,
            "touchpoint": touchpoint,
            "segment": segment,
            "owner": owner,
            "theme": str(theme_id) if theme_id is not None else None,
        }
        chosen = {key: value for key, value in filters.items() if value}
        next_href = "/console/queue?" + urlencode({**chosen, "cursor": next_cursor}) if next_cursor else ""
        body = pages(request).render(
            "queue.html",
            user=user,
            current="/console/queue",
            tasks=[queue_row(row, now=now, names=names, zone=user.time_zone, me=user.email) for row in shown],
            counts=counts,
            left_out=left_out_text(
                proactive["left_out"], limit=request.app.state.settings.proactive_tasks_per_day
            ),
            filters=filters,
            filtered=any(filters.values()),
            triggers=TRIGGER_LABELS,
            touchpoints=touchpoints,
            segments=segments,
            people=people,
            themes=themes,
            next_href=next_href,
            message=MESSAGES.get(done or "", ""),
            errors=errors,
        )
        return html(body, status=422 if errors else 200)

    @post("/claim", status_code=200)
    async def claim_next(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
    ) -> Response[Any]:
        async with pool.acquire() as conn:
            claimed = await recovery.claim_next(
                conn, actor=recovery.Actor.user(user.email), lease=lease_for(request)
            )
        if claimed is None:
            return redirect("/console/queue?done=empty")
        return redirect(f"/console/tasks/{claimed.id}?done=claimed")
