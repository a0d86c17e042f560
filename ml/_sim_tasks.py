"""Simulated recovery tasks as the service writes them: trigger, deadline, priority, evidence, history.

The triggers, deadlines and priorities come from the recovery queue's own functions
(`feedback_svc.recovery.priority`), so a simulated task reads like one the service opened.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import numpy as np

from feedback_svc.recovery.priority import (
    Churn,
    Rule,
    Signal,
    compute_priority,
    evidence_deadline,
    response_triggers,
)
from ml import _world as w

TASK_COLUMNS = (
    "id", "customer_id", "status", "trigger", "touchpoint", "critical", "priority", "priority_reasons",
    "value_at_risk", "deadline_at", "assignee", "first_contact_at", "outcome", "root_cause", "resolved_at",
    "created_at", "updated_at",
)  # fmt: skip
EVIDENCE_COLUMNS = ("task_id", "trigger", "response_id", "details", "created_at")
HISTORY_COLUMNS = ("task_id", "actor", "action", "details", "created_at")
SIMULATED_AGENT = "simulated agent"
# every fifth open task is assigned to someone (never the first, so the top of a small queue
# stays free for "Claim next task")
ASSIGN_EVERY = 5
# what agents tagged as the cause when they resolved a task, by touchpoint (None: no interaction)
ROOT_CAUSES: dict[str | None, tuple[str, ...]] = {
    "support_call": ("slow_support", "issue_not_solved"),
    "delivery": ("late_delivery", "damaged_parcel"),
    "billing": ("billing_error", "price"),
    "account_change": ("account_change_error", "slow_support"),
    "onboarding": ("onboarding_gap", "issue_not_solved"),
    None: ("price", "product_gap"),
}
_OUTCOMES = (*w.OUTCOMES, None)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, kw_only=True)
class RecoveryPolicy:
    """The service's recovery rules and settings, so simulated tasks carry real deadlines and priorities.

    `churn_prior` stands in for a score (the simulated history has none): priorities can be
    computed again from real scores later, as the service does when a new signal arrives.
    """

    rules: Mapping[str, Rule]
    churn_prior: float
    high_value: float


@dataclass(kw_only=True)
class TaskRows:
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    evidence: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """What the queue decides for one task's signals."""

    trigger: str
    touchpoint: str | None
    priority: float
    reasons: list[dict[str, object]]
    value_at_risk: float
    deadline: datetime
    high_value: bool
    urgency: dict[str, float]
    deadlines: dict[str, datetime]


def task_rows(
    world: w.World,
    *,
    task_ids: Sequence[str],
    customer_ids: Sequence[Any],
    response_ids: Sequence[str],
    times: Callable[[np.ndarray], list[datetime | None]],
    rng: np.random.Generator,
    recovery: RecoveryPolicy | None,
    agents: Sequence[str],
) -> TaskRows:
    """Rows for recovery_tasks, recovery_evidence and recovery_task_history, one task per world task."""
    t, r = world.tasks, world.responses
    response = t["response"]
    interaction = r["interaction"][response]
    linked = interaction >= 0
    touchpoint = np.where(linked, world.interactions["touchpoint"][np.maximum(interaction, 0)], -1).tolist()
    critical = (linked & world.interactions["critical"][np.maximum(interaction, 0)]).tolist()
    value = world.customers.value[t["customer"]].tolist()
    customer = t["customer"].tolist()
    created, first_contact, resolved = times(t["created"]), times(t["first_contact"]), times(t["resolved"])
    answered = times(r["answered"][response])
    channel = [w.CHANNELS[k] for k in world.invitations["channel"][r["invitation"][response]].tolist()]
    kind, score, contact = r["kind"][response].tolist(), r["score"][response].tolist(), r["contact"][response]
    workers = rng.integers(0, max(len(agents), 1), len(t)).tolist()
    open_before = np.cumsum(t["outcome"] < 0) - 1
    assigned = ((t["outcome"] < 0) & (open_before % ASSIGN_EVERY == 1)).tolist()
    causes = rng.integers(0, 2, len(t)).tolist()
    rows = TaskRows()
    for i, outcome_index in enumerate(t["outcome"].tolist()):
        point = w.TOUCHPOINTS[touchpoint[i]] if touchpoint[i] >= 0 else None
        signal = {"kind": w.KINDS[kind[i]], "score": int(score[i]), "contact_requested": bool(contact[i])}
        triggers = response_triggers(**signal)  # type: ignore[arg-type]
        if not triggers:  # the world's "unhappy" is the triggers' rule; nothing else opens a task
            continue
        at = created[i]
        assert at is not None
        plan = _plan(triggers, value=value[i], critical=critical[i], touchpoint=point, at=at, policy=recovery)
        outcome = _OUTCOMES[outcome_index]
        worker = agents[workers[i]] if agents else SIMULATED_AGENT
        cause = ROOT_CAUSES[point][causes[i] % len(ROOT_CAUSES[point])] if outcome else None
        rows.tasks.append(
            (
                task_ids[i], customer_ids[customer[i]], "resolved" if outcome else "open", plan.trigger,
                plan.touchpoint, critical[i], plan.priority, _json(plan.reasons), plan.value_at_risk,
                plan.deadline, worker if agents and not outcome and assigned[i] else None, first_contact[i],
                outcome, cause, resolved[i], at, resolved[i] or at,
            )
        )  # fmt: skip
        for trigger in triggers:
            details = {
                **signal, "channel": channel[i], "answered_at": answered[i], "touchpoint": point,
                "critical": critical[i], "urgency": plan.urgency[trigger],
                "deadline_at": plan.deadlines[trigger],
            }  # fmt: skip
            rows.evidence.append((task_ids[i], trigger, response_ids[response[i]], _json(details), at))
        created_details = {
            "trigger": plan.trigger, "priority": plan.priority, "deadline_at": plan.deadline,
            "high_value": plan.high_value, "control": False,
        }  # fmt: skip
        rows.history.append((task_ids[i], "system", "created", _json(created_details), at))
        contacted = first_contact[i]
        if contacted is not None:
            reached = outcome != "unreachable"
            attempt = {"channel": "phone", "reached": reached, "before_deadline": contacted <= plan.deadline}
            rows.history.append((task_ids[i], worker, "contact_attempt", _json(attempt), contacted))
        if outcome is not None:
            settled = {"outcome": outcome, "root_cause": cause}
            rows.history.append((task_ids[i], worker, "resolved", _json(settled), resolved[i]))
    return rows


def _plan(
    triggers: list[str],
    *,
    value: float,
    critical: bool,
    touchpoint: str | None,
    at: datetime,
    policy: RecoveryPolicy | None,
) -> _Plan:
    if policy is None:
        deadline = at + timedelta(days=1.0 if critical else 2.0)
        return _Plan(
            trigger=triggers[0], touchpoint=touchpoint, priority=0.0, reasons=[], value_at_risk=0.0,
            deadline=deadline, high_value=False, urgency=dict.fromkeys(triggers, 0.0),
            deadlines=dict.fromkeys(triggers, deadline),
        )  # fmt: skip
    rules, high_value = policy.rules, value >= policy.high_value
    deadlines = {
        trigger: evidence_deadline(rules[trigger], at=at, critical=critical, high_value=high_value)
        for trigger in triggers
    }
    signals = [
        Signal(trigger=trigger, urgency=rules[trigger].urgency, touchpoint=touchpoint, critical=critical)
        for trigger in triggers
    ]
    priority = compute_priority(
        signals, value=value, churn=Churn(probability=policy.churn_prior, source="prior, no score yet")
    )
    return _Plan(
        trigger=priority.trigger, touchpoint=priority.touchpoint, priority=priority.points,
        reasons=priority.reasons, value_at_risk=priority.value_at_risk, deadline=min(deadlines.values()),
        high_value=high_value, urgency={trigger: rules[trigger].urgency for trigger in triggers},
        deadlines=deadlines,
    )  # fmt: skip


def _json(value: object) -> str:
    return _encoder.encode(value).decode()
