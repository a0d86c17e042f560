"""The task page: a customer's whole story and the actions on it, each a POST with the session's CSRF token.

The console keeps the lease token server-side: the task row holds it against the agent's
email, and every action first takes (or renews) the lease for the signed-in agent in the
same transaction. An agent who read for longer than the lease keeps working unless somebody
else claimed the task meanwhile; then the page says who, and keeps what they typed.
"""

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from feedback_svc.console import queries
from feedback_svc.console.alerts_pages import ESCALATED_PATH, alert_row
from feedback_svc.console.closing import follow_up_view, message_form, pulse_view
from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.queue_pages import TRIGGER_LABELS, lease_for, owner_text, person_names
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages, redirect
from feedback_svc.console.story import CHANNELS, OUTCOME_LABELS, load_story
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.lib.localtime import local_text
from feedback_svc.recovery import service as recovery
from feedback_svc.recovery.schemas import FollowUpRequest
from feedback_svc.users.schemas import SessionUser

ROOT_CAUSE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TEXT_LIMIT = 5000
MESSAGES = {
    "claimed": "You claimed this task. It stays yours while you work on it; release it if you stop.",
    "taken": "You are working on this task now.",
    "note": "Your note was added.",
    "contact": "The contact attempt was recorded.",
    "assigned": "The task was reassigned.",
}
# free text an agent may have typed: shown back when the action was refused, so no work is lost
UNSAVED_TEXT = ("note_text", "contact_note", "resolve_note", "follow_up_text")
FOLLOW_UP_CHANNELS = ("", "email", "sms")  # "": the customer's usable channel
Action = Callable[[asyncpg.Connection, UUID], Awaitable[Any]]


class ActionRefused(Exception):
    """The action was not done; the message says why and what to do instead."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _text(form: Any, key: str) -> str:
    return str(form.get(key) or "").strip()


def _root_cause(raw: str) -> str:
    # agents type "Late delivery"; the tag is late_delivery, so the same cause groups together
    return re.sub(r"[\s]+", "_", raw.strip().lower())


async def _why_not(conn: asyncpg.Connection, task_id: UUID, user: SessionUser, names: dict[str, str]) -> str:
    state = await queries.task_holding(conn, task_id)
    if state is None:
        raise NotFound(f"No recovery task with id {task_id}.")
    if state["status"] != "open":
        return "This task is resolved already, so nothing was changed."
    if state["control"]:
        return "This customer is in the control group: the task is not to be worked, so nothing was changed."
    if state["lease_holder"] and state["lease_holder"] != user.email:
        holder = names.get(state["lease_holder"], state["lease_holder"])
        until = local_text(state["lease_expires_at"], user.time_zone)
        return (
            f"{holder} is working on this task (held until {until}), so your change was not saved. "
            "What you wrote is kept below: copy it into a note once the task is free, "
            "or claim the next task from the queue."
        )
    assignee = names.get(state["assignee"], state["assignee"])
    return f"This task is assigned to {assignee}, so your change was not saved. Ask a manager to reassign it."


class TaskPagesController(Controller):
    path = "/console/tasks"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("agent")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    async def _page(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        user: SessionUser,
        task_id: UUID,
        *,
        message: str = "",
        refusal: str = "",
        errors: dict[str, list[str]] | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response[str]:
        now = datetime.now(UTC)
        values = values or {}
        async with pool.acquire() as conn:
            people = await queries.active_people(conn)
            names = person_names(people)
            try:
                story = await load_story(conn, task_id, now=now, names=names, zone=user.time_zone)
            except NotFound as missing:
                body = pages(request).render(
                    "notice.html",
                    user=user,
                    heading="No such task",
                    message=missing.detail,
                    link_href="/console/queue",
                    link_label="Back to the queue",
                )
                return html(body, status=404)
            root_causes = await queries.known_root_causes(conn)
            task_alerts = await queries.task_alerts(conn, task_id)
            task = story["task"]
            mine = story["holder"] == user.email
            workable = task.status == "open" and not task.control
            can_act = workable and (
                mine
                or (
                    story["holder"] is None
                    and (task.assignee in (None, user.email) or user.role == "manager")
                )
            )
            customer = story["customer"]
            settings = request.app.state.settings
            closing_form = (
                await message_form(conn, customer, agent=user.email, brand=settings.brand_name)
                if can_act
                else None
            )
        body = pages(request).render(
            "task.html",
            user=user,
            current="/console/queue",
            owner_text=owner_text(task.assignee, story["holder"], names=names, me=user.email),
            # the form with a problem, else the usual first step
            open_form=next(iter(errors or {}), "contact"),
            customer_now=local_text(now, customer["time_zone"]) if customer else "",
            message=message,
            refusal=refusal,
            errors=errors or {},
            values=values,
            mine=mine,
            workable=workable,
            can_act=can_act,
            trigger_label=TRIGGER_LABELS.get(task.trigger, task.trigger),
            channels=CHANNELS,
            outcomes=OUTCOME_LABELS,
            root_causes=root_causes,
            people=people,
            task_alerts=[alert_row(row, names=names, zone=user.time_zone) for row in task_alerts],
            unsaved="\n\n".join(values[key] for key in UNSAVED_TEXT if values.get(key)),
            message_form=closing_form,
            follow_up=follow_up_view(task.follow_up, zone=user.time_zone),
            pulse_state=pulse_view(
                task,
                story["pulse"],
                story["evidence_items"],
                pulse_days=settings.recovery_pulse_days,
                zone=user.time_zone,
            ),
            **story,
        )
        return html(body, status=status)

    async def _act(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        user: SessionUser,
        task_id: UUID,
        action: Action,
        *,
        values: dict[str, str],
        done: str,
    ) -> Response[Any]:
        """Take or renew the lease for this agent, then act, in one transaction."""
        try:
            async with pool.acquire() as conn, conn.transaction():
                held = await queries.take_task(
                    conn, task_id, holder=user.email, lease=lease_for(request), manager=user.role == "manager"
                )
                if held is None:
                    names = person_names(await queries.active_people(conn))
                    raise ActionRefused(await _why_not(conn, task_id, user, names), status=409)
                await action(conn, held["lease_token"])
        except ActionRefused as refused:
            return await self._page(
                request, pool, user, task_id, refusal=refused.message, values=values, status=refused.status
            )
        except Conflict as conflict:
            return await self._page(
                request, pool, user, task_id, refusal=conflict.detail, values=values, status=409
            )
        except NotFound as missing:
            return await self._page(request, pool, user, task_id, refusal=missing.detail, status=404)
        except InvalidInput as invalid:
            # what only the resolution itself can tell: the agent's words too long for the SMS it chose
            errors = {"resolve": [invalid.detail]}
            return await self._page(request, pool, user, task_id, errors=errors, values=values, status=422)
        if done in ("resolved", "released"):
            return redirect(f"/console/queue?done={done}")
        return redirect(f"/console/tasks/{task_id}?done={done}")

    def _actor(self, user: SessionUser) -> recovery.Actor:
        return recovery.Actor.user(user.email)

    @get("/{task_id:uuid}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        task_id: FromPath[UUID],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        return await self._page(request, pool, user, task_id, message=MESSAGES.get(done or "", ""))

    @post("/{task_id:uuid}/take", status_code=200)
    async def take(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        async def nothing(conn: asyncpg.Connection, token: UUID) -> None:
            return None

        return await self._act(request, pool, user, task_id, nothing, values={}, done="taken")

    @post("/{task_id:uuid}/note", status_code=200)
    async def note(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        form = await request.form()
        text = _text(form, "text")
        values = {"note_text": text}
        if not text or len(text) > TEXT_LIMIT:
            problem = "Write the note first." if not text else f"Keep the note under {TEXT_LIMIT} characters."
            return await self._page(
                request, pool, user, task_id, errors={"note": [problem]}, values=values, status=422
            )

        async def add(conn: asyncpg.Connection, token: UUID) -> None:
            await recovery.add_note(conn, task_id, token=token, text=text, actor=self._actor(user))

        return await self._act(request, pool, user, task_id, add, values=values, done="note")

    @post("/{task_id:uuid}/contact", status_code=200)
    async def contact(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        form = await request.form()
        channel, reached, note = _text(form, "channel"), _text(form, "reached"), _text(form, "note")
        values = {"contact_channel": channel, "contact_reached": reached, "contact_note": note}
        problems = []
        if channel not in CHANNELS:
            problems.append("Choose how you tried to reach the customer.")
        if reached not in ("yes", "no"):
            problems.append("Say whether you reached the customer.")
        if len(note) > TEXT_LIMIT:
            problems.append(f"Keep the note under {TEXT_LIMIT} characters.")
        if problems:
            return await self._page(
                request, pool, user, task_id, errors={"contact": problems}, values=values, status=422
            )

        async def record(conn: asyncpg.Connection, token: UUID) -> None:
            await recovery.record_contact(
                conn,
                task_id,
                token=token,
                channel=channel,
                reached=reached == "yes",
                note=note or None,
                actor=self._actor(user),
            )

        return await self._act(request, pool, user, task_id, record, values=values, done="contact")

    @post("/{task_id:uuid}/resolve", status_code=200)
    async def resolve(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        form = await request.form()
        outcome, cause, note = (
            _text(form, "outcome"),
            _root_cause(_text(form, "root_cause")),
            _text(form, "note"),
        )
        send, channel, words = (
            _text(form, "follow_up") == "yes",
            _text(form, "follow_up_channel"),
            _text(form, "follow_up_text"),
        )
        values = {
            "resolve_outcome": outcome,
            "resolve_root_cause": cause,
            "resolve_note": note,
            "follow_up": "yes" if send else "",
            "follow_up_channel": channel,
            "follow_up_text": words,
        }
        problems = []
        if outcome not in OUTCOME_LABELS:
            problems.append("Choose the outcome.")
        if not ROOT_CAUSE.fullmatch(cause):
            problems.append(
                "Give the root cause as a short tag of letters, digits, _ or - "
                "(at most 64), e.g. late_delivery."
            )
        if len(note) > TEXT_LIMIT:
            problems.append(f"Keep the note under {TEXT_LIMIT} characters.")
        if channel not in FOLLOW_UP_CHANNELS:
            problems.append(
                "Choose how the closing message goes: email, SMS, or the customer's usual channel."
            )
        if len(words) > TEXT_LIMIT:
            problems.append(f"Keep the closing message under {TEXT_LIMIT} characters.")
        if words and not send:
            problems.append(
                "You wrote a closing message: tick “Send the customer a closing message” to send it."
            )
        if problems:
            return await self._page(
                request, pool, user, task_id, errors={"resolve": problems}, values=values, status=422
            )
        follow_up = FollowUpRequest(channel=channel or None, text=words or None) if send else None  # type: ignore[arg-type]

        async def settle(conn: asyncpg.Connection, token: UUID) -> None:
            await recovery.resolve(
                conn,
                task_id,
                token=token,
                outcome=outcome,
                root_cause=cause,
                note=note or None,
                actor=self._actor(user),
                settings=request.app.state.settings,
                follow_up=follow_up,
            )

        return await self._act(request, pool, user, task_id, settle, values=values, done="resolved")

    @post("/{task_id:uuid}/release", status_code=200)
    async def release(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        async with pool.acquire() as conn:
            state = await queries.task_holding(conn, task_id)
        if state is None:
            return await self._page(request, pool, user, task_id, status=404)
        if state["lease_holder"] is None:
            # the lease ran out already: the task is back in the queue, which is what release means
            return redirect("/console/queue?done=released")

        async def let_go(conn: asyncpg.Connection, token: UUID) -> None:
            await recovery.release(conn, task_id, token=token, actor=self._actor(user))

        return await self._act(request, pool, user, task_id, let_go, values={}, done="released")

    @post("/{task_id:uuid}/assign", guards=[requires_role("manager")], status_code=200)
    async def assign(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        task_id: FromPath[UUID],
    ) -> Response[Any]:
        form = await request.form()
        assignee = _text(form, "assignee")
        # the escalated view reassigns from its list and comes back to it
        back = ESCALATED_PATH if _text(form, "next") == "escalated" else f"/console/tasks/{task_id}"
        async with pool.acquire() as conn:
            emails = {person["email"] for person in await queries.active_people(conn)}
        if assignee and assignee not in emails:
            return await self._page(
                request,
                pool,
                user,
                task_id,
                errors={"assign": ["Choose an active console account, or nobody."]},
                status=422,
            )
        try:
            async with pool.acquire() as conn:
                # managers are the console's admins: they assign without holding the task
                await recovery.assign(
                    conn, task_id, assignee=assignee or None, actor=self._actor(user), token=None, admin=True
                )
        except InvalidInput as invalid:
            return await self._page(
                request, pool, user, task_id, errors={"assign": [invalid.detail]}, status=422
            )
        except Conflict as conflict:
            return await self._page(request, pool, user, task_id, refusal=conflict.detail, status=409)
        except NotFound:
            return await self._page(request, pool, user, task_id, status=404)
        return redirect(f"{back}?done=assigned")
