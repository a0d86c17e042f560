"""The pulse: a set number of days after a recovery, one question asks whether it worked.

A pulse is an ordinary invitation of the survey that triggered the task (the first answer among
its evidence), marked purpose='pulse' and linked to the task; its answer is an ordinary answer of
that survey, so everything that reads "the customer's next answer" reads it too. The survey page
shows it with the score question only, and an SMS pulse asks for no reason afterwards.

Which resolutions get one (FEEDBACK_RECOVERY_PULSE_DAYS after them; 0 turns pulses off):
- recovered and not_recovered: the agent spoke with the customer. Both, not only the successes,
  or the "after" score would be asked only where the agent judged the task a success, and an
  agent's score change would rest on their own verdict.
- control-group tasks, when they close: the survey is how the change is measured, not recovery
  work, and without it the control group's later score would come from other answers than the
  worked customers', which is no comparison.
- not unreachable: nobody spoke with the customer, so there is nothing to ask about, and a
  survey that skips the cooldown needs a recovery conversation to justify it. Their next
  ordinary answer still counts in the effectiveness report.
- not no_action_needed: nothing was done (this includes tasks closed by an erasure).
- not tasks opened by a churn score alone: there is no survey to ask again.

The job ("recovery.pulse") is queued when the task is resolved, to run when the pulse is due;
the invitation is decided then, as any other: opt-outs, quiet hours and erasure as they are on
that day, the cooldown excepted (surveys/rules.py COOLDOWN_EXEMPT). One pulse per task: a
unique index on the invitation's task, and a reopened task's old job finds the task changed.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from feedback_svc.customers.queries import lock_customer
from feedback_svc.outbox.queries import Job, enqueue
from feedback_svc.recovery import closing_queries, queries
from feedback_svc.settings import Settings
from feedback_svc.surveys.service import invite

log = structlog.get_logger(__name__)

TOPIC = "recovery.pulse"
PULSE_OUTCOMES = frozenset({"recovered", "not_recovered"})


def pulse_after(outcome: str, *, days: int, control: bool = False) -> timedelta | None:
    """How long after this resolution the pulse goes out; None when it gets none (see above)."""
    if days <= 0 or not (control or outcome in PULSE_OUTCOMES):
        return None
    return timedelta(days=days)


async def schedule_pulse(conn: asyncpg.Connection, task: dict[str, Any]) -> None:
    """Queue the pulse of a task just resolved (in that transaction), when one is due."""
    if task["pulse_due_at"] is None:
        return
    resolved = task["resolved_at"].isoformat()
    await enqueue(
        conn,
        topic=TOPIC,
        payload={"task_id": str(task["id"]), "resolved_at": resolved},
        # an erasure drops the customer's queued work by this key
        ordering_key=str(task["customer_id"]),
        dedupe_key=f"{TOPIC}:{task['id']}:{resolved}",
        run_after=task["pulse_due_at"],
    )


class PulseJob:
    """The outbox handler for "recovery.pulse": invite the customer to the pulse, once."""

    def __init__(self, pool: asyncpg.Pool, *, settings: Settings) -> None:
        if not settings.secret_key:
            raise ValueError("PulseJob needs settings.secret_key to derive survey links")
        self._pool = pool
        self._secret_key = settings.secret_key
        self._base_url = settings.base_url

    async def __call__(self, job: Job) -> None:
        task_id = UUID(job.payload["task_id"])
        resolved_at = datetime.fromisoformat(job.payload["resolved_at"])
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            customer_id = await closing_queries.task_customer(conn, task_id)
            if customer_id is None:
                return  # the customer was deleted, and the task with them
            # decided under the cooldown's lock, as every invitation is (customers/locks.py)
            customer = await lock_customer(conn, customer_id, exclusive=True)
            plan = await closing_queries.pulse_plan(conn, task_id)
            if customer is None or customer["erased_at"] is not None or plan is None:
                return
            if (
                plan["status"] != "resolved"
                or plan["resolved_at"] != resolved_at
                or plan["pulse_due_at"] is None
            ):
                return  # reopened (and perhaps resolved again, with a job of its own) meanwhile
            if plan["pulsed"]:
                return  # a redelivered job
            skipped = _why_not(plan)
            if skipped is not None:
                await queries.insert_history(
                    conn, task_id=task_id, actor="system", action="pulse_skipped", details={"reason": skipped}
                )
                log.info("pulse skipped", task_id=str(task_id), reason=skipped)
                return
            channel = plan["answer_channel"]
            invitation = await invite(
                conn,
                customer=customer,
                survey_key=plan["survey"],
                # asked the way the customer answered before, when that was email or SMS
                preference=channel if channel in ("email", "sms") else None,
                interaction_id=None,
                earliest=now,
                base_url=self._base_url,
                secret_key=self._secret_key,
                now=now,
                purpose="pulse",
                recovery_task_id=task_id,
            )
            await queries.insert_history(
                conn,
                task_id=task_id,
                actor="system",
                action="pulse",
                details={
                    "invitation_id": str(invitation.id),
                    "survey": invitation.survey,
                    "status": invitation.status,
                    "channel": invitation.channel,
                    "reason": invitation.reason,
                },
            )
        log.info("pulse invited", task_id=str(task_id), status=invitation.status)


def _why_not(plan: dict[str, Any]) -> str | None:
    if plan["survey"] is None:
        return "no answer among the task's evidence, so no survey to ask again"
    if not plan["survey_active"]:
        return f"the survey {plan['survey']} is no longer active"
    return None
