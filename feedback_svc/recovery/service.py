"""Working the recovery queue: claim, lease, note, contact, resolve, reopen; no HTTP.

Every function takes a connection and an Actor, so the web console can call them directly.
Changes to a claimed task need its lease token; a wrong or expired token is a Conflict.
Every change writes the task's history in the same statement that makes it.

Who acts comes from the credential, never from the request: a console user is their email,
an API key acts for the agent it was created for (`create-key --agent`). A name a client sends
is a display name at most; it never lets anyone claim a task assigned to that name.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.customers.locks import lock_for_write
from feedback_svc.lib.errors import Conflict, Forbidden, InvalidInput, NotFound
from feedback_svc.outbox.events import emit_event
from feedback_svc.recovery import closing_queries, queries
from feedback_svc.recovery.follow_up import customer_for_message, plan_follow_up, signature
from feedback_svc.recovery.pulse import pulse_after, schedule_pulse
from feedback_svc.recovery.schemas import (
    ClaimedTask,
    Effectiveness,
    EffectivenessRow,
    Evidence,
    FollowUp,
    FollowUpRequest,
    HistoryEntry,
    PromiseKept,
    Pulse,
    Rule,
    RuleUpdate,
    Task,
    TaskDetail,
    TaskPage,
)
from feedback_svc.recovery.score_change import DEFAULT_AFTER_DAYS, score_change
from feedback_svc.settings import Settings

# every Task field is a column of the row but the closing message, gathered from its follow_up_* columns
_TASK_FIELDS = tuple(field for field in Task.__struct_fields__ if field != "follow_up")
_FOLLOW_UP_FIELDS = FollowUp.__struct_fields__
_cursor_encoder = msgspec.json.Encoder()
_cursor_decoder = msgspec.json.Decoder(tuple[float, UUID])


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting.

    `agent` is the identity the credential proves (a console user's email, the agent an API key
    acts for) and the only thing assignments match; None for a key that acts for nobody.
    `name` is how the history and the lease holder show the actor; `key` the API key's name.
    """

    name: str
    key: str | None = None
    agent: str | None = None

    @classmethod
    def user(cls, email: str) -> "Actor":
        """A console user acts as themselves."""
        return cls(name=email, agent=email)

    def details(self, **extra: Any) -> dict[str, Any]:
        return {"key": self.key, **extra} if self.key else dict(extra)


def key_actor(*, key_name: str, key_agent: str | None, sent: str | None) -> Actor:
    """The actor behind an API key; `sent` is the optional `agent` name in the request body.

    A key that acts for an agent is that agent: another name is refused rather than recorded,
    so a history never says someone did what they did not. A key that acts for nobody keeps
    the sent name for the history only, marked as coming through the key.
    """
    if key_agent is not None:
        if sent is not None and sent != key_agent:
            raise Forbidden(
                f"The API key {key_name!r} acts for the agent {key_agent!r}, so it cannot act as {sent!r}. "
                f"Leave `agent` out, or use {sent}'s own key."
            )
        return Actor(name=key_agent, key=key_name, agent=key_agent)
    via = f"{key_name} (API key)"
    return Actor(name=f"{sent} via {via}" if sent else via, key=key_name)


@dataclass(frozen=True, slots=True)
class TaskFilter:
    status: str | None = None
    trigger: str | None = None
    touchpoint: str | None = None
    assignee: str | None = None
    overdue: bool | None = None
    customer_id: UUID | None = None
    theme: int | None = None
    escalated: bool | None = None


def _task_fields(row: dict[str, Any]) -> dict[str, Any]:
    follow_up = None
    if row["follow_up_status"] is not None:
        follow_up = {field: row[f"follow_up_{field}"] for field in _FOLLOW_UP_FIELDS}
    return {**{k: row[k] for k in _TASK_FIELDS}, "follow_up": follow_up}


def task_from_row(row: dict[str, Any]) -> Task:
    return msgspec.convert(_task_fields(row), Task)


def claimed_from_row(row: dict[str, Any]) -> ClaimedTask:
    return msgspec.convert({**_task_fields(row), "lease_token": row["lease_token"]}, ClaimedTask)


def task_event_data(row: dict[str, Any]) -> dict[str, Any]:
    """What the CRM hears about a task (task.created, task.escalated, task.resolved)."""
    return msgspec.to_builtins(
        {
            "id": row["id"],
            "customer_id": row["customer_id"],
            "status": row["status"],
            "trigger": row["trigger"],
            "touchpoint": row["touchpoint"],
            "critical": row["critical"],
            "priority": row["priority"],
            "value_at_risk": row["value_at_risk"],
            "deadline_at": row["deadline_at"],
            "escalated_at": row["escalated_at"],
            "assignee": row["assignee"],
            "first_contact_at": row["first_contact_at"],
            "outcome": row["outcome"],
            "root_cause": row["root_cause"],
            "resolved_at": row["resolved_at"],
        }
    )


async def emit_task_event(conn: asyncpg.Connection, kind: str, row: dict[str, Any], *, dedupe: str) -> None:
    await emit_event(
        conn,
        type=kind,
        data=task_event_data(row),
        ordering_key=str(row["customer_id"]),
        dedupe_key=f"{kind}:{row['id']}:{dedupe}",
    )


# -- reading ------------------------------------------------------------------------------


def encode_cursor(priority: float, task_id: UUID) -> str:
    return base64.urlsafe_b64encode(_cursor_encoder.encode((priority, task_id))).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, UUID]:
    try:
        return _cursor_decoder.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput(
            "The cursor is not one this service handed out; start again without it.",
            errors=[{"field": "cursor", "message": "malformed cursor", "source": "query"}],
        ) from None


async def list_tasks(
    conn: asyncpg.Connection | asyncpg.Pool, filters: TaskFilter, *, cursor: str | None, limit: int
) -> TaskPage:
    after = decode_cursor(cursor) if cursor else None
    rows = await queries.list_tasks(
        conn,
        status=filters.status,
        trigger=filters.trigger,
        touchpoint=filters.touchpoint,
        assignee=filters.assignee,
        overdue=filters.overdue,
        customer_id=filters.customer_id,
        escalated=filters.escalated,
        after=after,
        limit=limit + 1,
        theme=filters.theme,
    )
    items = [task_from_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return TaskPage(
        items=items, next_cursor=encode_cursor(items[-1].priority, items[-1].id) if more else None
    )


async def get_task_detail(conn: asyncpg.Connection | asyncpg.Pool, task_id: UUID) -> TaskDetail:
    row = await queries.get_task(conn, task_id)
    if row is None:
        raise NotFound(f"No recovery task with id {task_id}.")
    evidence = [msgspec.convert(r, Evidence) for r in await queries.task_evidence(conn, task_id)]
    history = [msgspec.convert(r, HistoryEntry) for r in await queries.task_history(conn, task_id)]
    pulse = await closing_queries.task_pulse(conn, task_id)
    return TaskDetail(
        task=task_from_row(row),
        evidence=evidence,
        history=history,
        pulse=msgspec.convert(pulse, Pulse) if pulse else None,
    )


# -- the queue --------------------------------------------------------------------------


async def claim_next(conn: asyncpg.Connection, *, actor: Actor, lease: timedelta) -> ClaimedTask | None:
    """The most important open task nobody holds, leased to `actor`; None when the queue is empty."""
    row = await queries.claim_task(
        conn, holder=actor.name, agent=actor.agent, lease=lease, key_name=actor.key
    )
    return claimed_from_row(row) if row else None


async def extend_lease(
    conn: asyncpg.Connection, task_id: UUID, *, token: UUID, actor: Actor, lease: timedelta
) -> ClaimedTask:
    row = await queries.extend_lease(
        conn, task_id=task_id, token=token, lease=lease, actor=actor.name, details=actor.details()
    )
    return claimed_from_row(row) if row else await _refuse(conn, task_id, token)


async def release(conn: asyncpg.Connection, task_id: UUID, *, token: UUID, actor: Actor) -> Task:
    row = await queries.release_lease(
        conn, task_id=task_id, token=token, actor=actor.name, details=actor.details()
    )
    return task_from_row(row) if row else await _refuse(conn, task_id, token)


async def add_note(conn: asyncpg.Connection, task_id: UUID, *, token: UUID, text: str, actor: Actor) -> Task:
    row = await queries.add_note(
        conn, task_id=task_id, token=token, actor=actor.name, details=actor.details(text=text)
    )
    return task_from_row(row) if row else await _refuse(conn, task_id, token)


async def record_contact(
    conn: asyncpg.Connection,
    task_id: UUID,
    *,
    token: UUID,
    channel: str,
    reached: bool,
    note: str | None,
    actor: Actor,
) -> Task:
    details = actor.details(channel=channel, reached=reached, note=note)
    row = await queries.record_contact(conn, task_id=task_id, token=token, actor=actor.name, details=details)
    return task_from_row(row) if row else await _refuse(conn, task_id, token)


async def resolve(
    conn: asyncpg.Connection,
    task_id: UUID,
    *,
    token: UUID,
    outcome: str,
    root_cause: str,
    note: str | None,
    actor: Actor,
    settings: Settings,
    follow_up: FollowUpRequest | None = None,
) -> Task:
    """Resolve a task held with `token`; with `follow_up`, the customer's closing message is queued with
    it, and the pulse survey, when this outcome gets one, is scheduled (docs/closing-the-loop.md)."""
    async with conn.transaction():
        customer = await customer_for_message(conn, task_id) if follow_up is not None else None
        row = await queries.resolve_task(
            conn,
            task_id=task_id,
            token=token,
            outcome=outcome,
            root_cause=root_cause,
            actor=actor.name,
            details=actor.details(note=note),
            pulse_after=pulse_after(outcome, days=settings.recovery_pulse_days),
        )
        if row is None:
            return await _refuse(conn, task_id, token)
        if follow_up is not None:
            row = await plan_follow_up(
                conn,
                row,
                follow_up,
                customer=customer,
                agent=await signature(conn, actor.agent, brand=settings.brand_name),
                actor=actor.name,
                details=actor.details(),
                brand=settings.brand_name,
                now=row["resolved_at"],
            )
        await schedule_pulse(conn, row)
        await emit_task_event(conn, "task.resolved", row, dedupe=row["resolved_at"].isoformat())
    return task_from_row(row)


async def assign(
    conn: asyncpg.Connection,
    task_id: UUID,
    *,
    assignee: str | None,
    actor: Actor,
    token: UUID | None,
    admin: bool,
) -> Task:
    """Assign an open task (None unassigns): the lease holder (with `token`) or an admin may.

    Only someone who can claim tasks may be the assignee, or the task would wait for nobody.
    A holder who hands the task to someone else gives up the lease with it, so the assignee
    can claim it at once; an admin's assignment leaves a lease alone.
    """
    if token is None and not admin:
        raise Forbidden(
            "Only the agent holding this task (send its lease_token) or an admin may assign it; "
            "claim it first."
        )
    if assignee is not None:
        assignee = await _known_agent(conn, assignee)
    hand_over = token is not None and assignee is not None and assignee != actor.agent
    row = await queries.assign_task(
        conn,
        task_id=task_id,
        assignee=assignee,
        token=token,
        hand_over=hand_over,
        actor=actor.name,
        details=actor.details(),
    )
    if row is not None:
        return task_from_row(row)
    if token is not None:
        return await _refuse(conn, task_id, token)
    await _must_exist(conn, task_id)
    raise Conflict(f"Task {task_id} is resolved; reopen it before assigning it.")


async def _known_agent(conn: asyncpg.Connection, name: str) -> str:
    """The name assignments carry for someone who can claim tasks; InvalidInput for anyone else."""
    found = await queries.known_agent(conn, name)
    if found is None:
        raise InvalidInput(
            f"Nobody can claim tasks as {name!r}: assign to an enabled console user (by email) or to "
            f"the agent of a live API key (`feedback-svc create-key --scope agent --agent {name}`).",
            errors=[{"field": "assignee", "message": "not an agent", "source": "body"}],
        )
    return found


async def reopen(conn: asyncpg.Connection, task_id: UUID, *, reason: str, actor: Actor) -> Task:
    current = await queries.get_task(conn, task_id)
    if current is None:
        raise NotFound(f"No recovery task with id {task_id}.")
    # nobody is to contact a customer who asked to be forgotten; locked first (customers/locks.py)
    await lock_for_write(conn, current["customer_id"])
    rule = next((r for r in await queries.list_rules(conn) if r["trigger"] == current["trigger"]), None)
    deadline = rule["deadline"] if rule else timedelta(hours=24)
    try:
        async with conn.transaction():
            row = await queries.reopen_task(
                conn,
                task_id=task_id,
                deadline=deadline,
                actor=actor.name,
                details=actor.details(reason=reason),
            )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"Customer {current['customer_id']} already has an open recovery task; add to that one instead."
        ) from None
    if row is None:
        raise Conflict(f"Task {task_id} is open already.")
    return task_from_row(row)


async def _must_exist(conn: asyncpg.Connection, task_id: UUID) -> None:
    if await queries.lease_state(conn, task_id) is None:
        raise NotFound(f"No recovery task with id {task_id}.")


async def _refuse(conn: asyncpg.Connection, task_id: UUID, token: UUID) -> Any:
    """Explain why a change that needed the lease was not made."""
    state = await queries.lease_state(conn, task_id)
    if state is None:
        raise NotFound(f"No recovery task with id {task_id}.")
    if state["status"] != "open":
        raise Conflict(f"Task {task_id} is resolved already; reopen it to work on it again.")
    if state["lease_token"] != token:
        holder = (
            f"it is held by {state['lease_holder']} until {state['lease_expires_at'].isoformat()}"
            if state["lease_live"]
            else "nobody holds it now"
        )
        raise Conflict(f"That lease token is stale for task {task_id}: {holder}. Claim a task again.")
    raise Conflict(
        f"Your lease on task {task_id} expired at {state['lease_expires_at'].isoformat()} and the task "
        "went back to the queue; claim it again."
    )


# -- rules and effectiveness --------------------------------------------------------------


def _hours(interval: timedelta) -> float:
    return round(interval.total_seconds() / 3600, 4)


def rule_from_row(row: dict[str, Any]) -> Rule:
    return Rule(
        trigger=row["trigger"],
        enabled=row["enabled"],
        urgency=row["urgency"],
        deadline_hours=_hours(row["deadline"]),
        critical_deadline_hours=_hours(row["critical_deadline"]),
        high_value_deadline_hours=_hours(row["high_value_deadline"]),
        updated_at=row["updated_at"],
    )


async def list_rules(conn: asyncpg.Connection | asyncpg.Pool) -> list[Rule]:
    return [rule_from_row(row) for row in await queries.list_rules(conn)]


async def update_rule(conn: asyncpg.Connection | asyncpg.Pool, trigger: str, data: RuleUpdate) -> Rule:
    row = await queries.update_rule(
        conn,
        trigger=trigger,
        enabled=data.enabled,
        urgency=data.urgency,
        deadline=timedelta(hours=data.deadline_hours),
        critical_deadline=timedelta(hours=data.critical_deadline_hours),
        high_value_deadline=timedelta(hours=data.high_value_deadline_hours),
    )
    if row is None:
        raise NotFound(f"No recovery rule for trigger {trigger!r}.")
    return rule_from_row(row)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def effectiveness(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    since: datetime | None,
    until: datetime | None,
    after_days: int = DEFAULT_AFTER_DAYS,
) -> Effectiveness:
    rows = []
    for row in await queries.effectiveness(conn, since=since, until=until):
        rows.append(
            EffectivenessRow(
                **row,
                churn_rate_30d=_rate(row["churned_30d"], row["observed_30d"]),
                churn_rate_90d=_rate(row["churned_90d"], row["observed_90d"]),
            )
        )
    promise = await queries.promise_kept(conn, since=since, until=until)
    by_control = {row.key: row for row in rows if row.dimension == "control"}
    control, treated = by_control.get("true"), by_control.get("false")
    uplift = (
        round(control.churn_rate_90d - treated.churn_rate_90d, 4)
        if control and treated and control.churn_rate_90d is not None and treated.churn_rate_90d is not None
        else None
    )
    return Effectiveness(
        rows=rows,
        promise=PromiseKept(
            due=promise["due"],
            kept=promise["kept"],
            rate=_rate(promise["kept"], promise["due"]),
            escalated=promise["escalated"],
        ),
        uplift_90d=uplift,
        score_change=await score_change(conn, since=since, until=until, after_days=after_days),
    )
