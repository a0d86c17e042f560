"""Signals into tasks: the outbox consumer that turns answers and churn scores into recovery work.

Runs inside the event's transaction, at least once per event. A signal is recorded once (the
unique evidence indexes), joins the customer's one open task if there is one (the partial unique
index, whose row lock also queues concurrent signals for the same customer), and the task's
priority, deadline and reasons are recomputed from all its evidence.
"""

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog

from feedback_svc.alerts.service import alert_on_signal
from feedback_svc.outbox.events import Event
from feedback_svc.recovery import intake, queries
from feedback_svc.recovery.priority import (
    Churn,
    Rule,
    Signal,
    compute_priority,
    evidence_deadline,
    response_triggers,
)
from feedback_svc.recovery.service import emit_task_event
from feedback_svc.settings import Settings

log = structlog.get_logger(__name__)

RESPONSE_EVENTS = frozenset({"response.created", "response.updated"})
AT_RISK_EVENT = "customer.at_risk"
CONTACT = "contact_requested"


class ResponseSignal(msgspec.Struct, kw_only=True):
    id: UUID
    customer_id: UUID
    kind: str
    score: int
    contact_requested: bool = False
    touchpoint: str | None = None
    channel: str | None = None
    answered_at: datetime


class AtRiskSignal(msgspec.Struct, kw_only=True):
    customer_id: UUID
    score_id: int
    churn_probability: float
    risk_band: str | None = None
    value_at_risk: float | None = None
    model_version: str | None = None
    run_id: str | None = None  # a scoring run's (which decided the intake already)


async def load_rules(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, Rule]:
    return {
        row["trigger"]: Rule(
            trigger=row["trigger"],
            enabled=row["enabled"],
            urgency=row["urgency"],
            deadline=row["deadline"],
            critical_deadline=row["critical_deadline"],
            high_value_deadline=row["high_value_deadline"],
        )
        for row in await queries.list_rules(conn)
    }


class RecoveryTriggers:
    """The event consumer (see outbox/handlers.py): answers and churn scores open tasks."""

    def __init__(self, settings: Settings, *, rand: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self.rand = rand

    async def __call__(self, conn: asyncpg.Connection, event: Event) -> None:
        try:
            if event.type in RESPONSE_EVENTS:
                answer = msgspec.convert(event.data, ResponseSignal, strict=False)
            elif event.type == AT_RISK_EVENT:
                risk = msgspec.convert(event.data, AtRiskSignal, strict=False)
            else:
                return
        except msgspec.ValidationError as error:
            # a producer's bug: retrying cannot fix it, and failing would hold back the other
            # consumers of this event (webhooks), so it is logged loudly and skipped
            log.error("recovery cannot read event", event_id=event.id, type=event.type, error=str(error))
            return
        if event.type == AT_RISK_EVENT:
            await self.on_at_risk(conn, risk)
        else:
            await self.on_response(conn, answer)

    async def on_response(self, conn: asyncpg.Connection, answer: ResponseSignal) -> None:
        triggers = response_triggers(
            kind=answer.kind, score=answer.score, contact_requested=answer.contact_requested
        )
        if not triggers:
            return
        if not await queries.response_exists(conn, response_id=answer.id, customer_id=answer.customer_id):
            log.info("recovery signal for a response that is gone", response_id=str(answer.id))
            return
        for trigger in triggers:
            await self.add_signal(
                conn,
                customer_id=answer.customer_id,
                trigger=trigger,
                response_id=answer.id,
                score_id=None,
                touchpoint=answer.touchpoint,
                at=answer.answered_at,
                details={
                    "kind": answer.kind,
                    "score": answer.score,
                    "contact_requested": answer.contact_requested,
                    "channel": answer.channel,
                    "answered_at": answer.answered_at,
                },
            )

    async def on_at_risk(self, conn: asyncpg.Connection, risk: AtRiskSignal) -> None:
        """A proactive task, if the day's limit has a place for it (recovery/intake.py)."""
        threshold = self.settings.recovery_churn_threshold
        if threshold is not None and risk.churn_probability < threshold:
            return
        if not await queries.score_exists(conn, score_id=risk.score_id, customer_id=risk.customer_id):
            log.info("recovery signal for a score that is gone", score_id=risk.score_id)
            return
        rule = (await load_rules(conn)).get("churn_risk")
        if rule is None or not rule.enabled:
            return
        decided = await intake.decide_score(
            conn,
            score_id=risk.score_id,
            customer_id=risk.customer_id,
            churn_probability=risk.churn_probability,
            value_at_risk=risk.value_at_risk or 0.0,
            limit=self.settings.proactive_tasks_per_day,
            now=datetime.now(UTC),
        )
        if decided == intake.LEFT_OUT:
            log.info("proactive task left out: the daily limit is reached", score_id=risk.score_id)
            return
        await self.add_signal(
            conn,
            customer_id=risk.customer_id,
            trigger="churn_risk",
            response_id=None,
            score_id=risk.score_id,
            touchpoint=None,
            at=datetime.now(UTC),
            details={
                "churn_probability": risk.churn_probability,
                "threshold": self.settings.recovery_churn_threshold,
                "value_at_risk": risk.value_at_risk,
                "run_id": risk.run_id,
                "risk_band": risk.risk_band,
                "model_version": risk.model_version,
            },
        )

    async def on_contact_request(
        self,
        conn: asyncpg.Connection,
        *,
        customer_id: UUID,
        response_id: UUID | None,
        touchpoint: str | None,
        at: datetime,
        details: dict[str, Any],
    ) -> datetime | None:
        """A request for contact made otherwise than with an answer (an SMS keyword): the same
        trigger, rule and task as the survey page's checkbox, deadline counted from `at`. The
        deadline the customer is promised (their open task's), or None when the rule is off or
        the customer is gone."""
        task = await self.add_signal(
            conn,
            customer_id=customer_id,
            trigger=CONTACT,
            response_id=response_id,
            score_id=None,
            touchpoint=touchpoint,
            at=at,
            details=details,
        )
        if task is not None:
            return task["deadline_at"]
        rule = (await load_rules(conn)).get(CONTACT)
        if rule is None or not rule.enabled:
            return None
        # asked before, for this same answer: the task that request opened keeps its promise
        return await queries.open_task_deadline(conn, customer_id)

    async def add_signal(
        self,
        conn: asyncpg.Connection,
        *,
        customer_id: UUID,
        trigger: str,
        response_id: UUID | None,
        score_id: int | None,
        touchpoint: str | None,
        at: datetime,
        details: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Record one signal on the customer's open task (opening one if needed); the task's row."""
        rules = await load_rules(conn)
        rule = rules.get(trigger)
        if rule is None or not rule.enabled:
            return None
        if await queries.evidence_seen(conn, response_id=response_id, score_id=score_id, trigger=trigger):
            return None  # a redelivered event
        customer = await queries.customer_value(conn, customer_id)
        if customer is None or customer["erased"]:
            return None
        critical = await queries.touchpoint_critical(conn, touchpoint) if touchpoint else False
        value = float(customer["value"])
        high_value = value >= self.settings.recovery_high_value
        now = datetime.now(UTC)
        deadline = evidence_deadline(rule, at=min(at, now), critical=critical, high_value=high_value)
        # a customer who asked to be contacted is never left alone for the experiment
        control = trigger != CONTACT and self.rand() < self.settings.recovery_control_share
        task = await queries.upsert_open_task(
            conn,
            customer_id=customer_id,
            trigger=trigger,
            touchpoint=touchpoint,
            critical=critical,
            deadline_at=deadline,
            control=control,
        )
        evidence_id = await queries.insert_evidence(
            conn,
            task_id=task["id"],
            trigger=trigger,
            response_id=response_id,
            score_id=score_id,
            details={
                **details,
                "touchpoint": touchpoint,
                "critical": critical,
                "urgency": rule.urgency,
                "deadline_at": deadline,
            },
        )
        if evidence_id is None:
            # a concurrent delivery of the same event got there first
            if task["created"]:
                await queries.delete_task(conn, task["id"])
            return None
        row = await self._reprioritise(
            conn,
            customer_id=customer_id,
            task=task,
            rules=rules,
            value=value,
            high_value=high_value,
            trigger=trigger,
            deadline=deadline,
            evidence_id=evidence_id,
        )
        # in this transaction: the alert exists if and only if the signal does
        await alert_on_signal(conn, row, trigger=trigger, high_value=high_value, settings=self.settings)
        return row

    async def _reprioritise(
        self,
        conn: asyncpg.Connection,
        *,
        customer_id: UUID,
        task: dict[str, Any],
        rules: dict[str, Rule],
        value: float,
        high_value: bool,
        trigger: str,
        deadline: datetime,
        evidence_id: int,
    ) -> dict[str, Any]:
        signals = await task_signals(conn, task["id"], rules)
        churn = await latest_churn(conn, customer_id, prior=self.settings.recovery_churn_prior)
        # an escalated task keeps its escalation points: new evidence does not undo a broken promise
        escalated_deadline = task["deadline_at"] if task["escalated_at"] is not None else None
        priority = compute_priority(signals, value=value, churn=churn, escalated_deadline=escalated_deadline)
        lift_control = trigger == CONTACT and task["control"]
        row = await queries.reprioritise_task(
            conn,
            task_id=task["id"],
            trigger=priority.trigger,
            touchpoint=priority.touchpoint,
            critical=priority.critical,
            priority=priority.points,
            reasons=priority.reasons,
            value_at_risk=priority.value_at_risk,
            deadline_at=deadline,
            lift_control=trigger == CONTACT,
        )
        await queries.insert_history(
            conn,
            task_id=row["id"],
            actor="system",
            action="created" if task["created"] else "evidence_added",
            details={
                "trigger": trigger,
                "evidence_id": evidence_id,
                "priority": priority.points,
                "deadline_at": row["deadline_at"],
                "high_value": high_value,
                "control": row["control"],
                **({"left_control": "the customer asked to be contacted"} if lift_control else {}),
            },
        )
        # control tasks stay unknown to the CRM, or someone there might contact the customer
        if (task["created"] and not row["control"]) or lift_control:
            await emit_task_event(conn, "task.created", row, dedupe="created")
        return row


async def task_signals(conn: asyncpg.Connection, task_id: UUID, rules: dict[str, Rule]) -> list[Signal]:
    """A task's evidence as priority sees it."""
    return [
        Signal(
            trigger=row["trigger"],
            urgency=rules[row["trigger"]].urgency if row["trigger"] in rules else 0.0,
            touchpoint=row["details"].get("touchpoint"),
            critical=bool(row["details"].get("critical")),
        )
        for row in await queries.task_signals(conn, task_id)
    ]


async def latest_churn(conn: asyncpg.Connection, customer_id: UUID, *, prior: float) -> Churn:
    """The customer's latest churn score, or the prior before their first."""
    score = await queries.latest_score(conn, customer_id)
    if score is None:
        return Churn(probability=prior, source="prior, no score yet")
    return Churn(
        probability=float(score["churn_probability"]),
        source=f"score {score['id']}, model {score['model_version']}",
    )


async def promised_contact(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    customer_id: UUID,
    touchpoint: str | None,
    at: datetime,
    high_value: float,
) -> datetime | None:
    """When a customer who asked to be contacted will hear from us: the deadline their task
    gets (the thank-you page states it, so the promise and the queue agree). None when the
    contact-request rule is off."""
    rule = (await load_rules(conn)).get(CONTACT)
    if rule is None or not rule.enabled:
        return None
    customer = await queries.customer_value(conn, customer_id)
    critical = touchpoint is not None and await queries.touchpoint_critical(conn, touchpoint)
    return evidence_deadline(
        rule, at=at, critical=critical, high_value=customer is not None and customer["value"] >= high_value
    )
