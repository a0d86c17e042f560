"""A customer's whole story for the task page, gathered once and shaped for the template."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.console import queries
from feedback_svc.console.sentences import (
    CHANNELS,
    KIND_SCALES,
    OUTCOME_LABELS,
    TRIGGER_LABELS,
    evidence_text,
    history_text,
)
from feedback_svc.console.timefmt import ago_text, deadline_text
from feedback_svc.lib.localtime import local_text
from feedback_svc.recovery import service as recovery
from feedback_svc.recovery.schemas import Task

__all__ = ["CHANNELS", "OUTCOME_LABELS", "load_story"]

STORY_LIMIT = 100
ACTION_LABELS = {
    "created": "Task opened",
    "claimed": "Claimed",
    "released": "Released",
    "lease_extended": "Kept working",
    "note": "Note",
    "contact_attempt": "Contact attempt",
    "resolved": "Resolved",
    "assigned": "Assigned",
    "reopened": "Reopened",
    "escalated": "Escalated: deadline passed without contact",
    "control_closed": "Closed as control-group task",
    "evidence_added": "New evidence",
    "follow_up": "Closing message",
    "follow_up_sent": "Closing message sent",
    "follow_up_failed": "Closing message failed",
    "follow_up_not_sent": "Closing message not sent",
    "pulse": "Pulse survey",
    "pulse_skipped": "No pulse survey",
}


def _score(row: dict[str, Any] | None, *, now: datetime) -> dict[str, Any] | None:
    if row is None:
        return None
    reasons = [
        {
            "label": reason.get("label") or reason.get("feature"),
            "value": reason.get("value"),
            "raises": float(reason.get("contribution") or 0) > 0,
        }
        for reason in row["reasons"] or []
        if isinstance(reason, dict)
    ]
    return {
        **row,
        "churn_percent": round(100 * row["churn_probability"]),
        # a model trained before enough NPS answers existed has no loyalty part
        "loyalty_percent": None if row["loyalty"] is None else round(100 * row["loyalty"]),
        "reasons": reasons,
        "scored_text": ago_text(row["scored_at"], now=now),
    }


async def load_story(
    conn: asyncpg.Connection, task_id: UUID, *, now: datetime, names: dict[str, str], zone: str
) -> dict[str, Any]:
    """Everything the task page shows, times in `zone` (the reader's); raises NotFound for an unknown task."""
    detail = await recovery.get_task_detail(conn, task_id)
    task: Task = detail.task
    customer = await queries.story_customer(conn, task.customer_id)
    responses = await queries.story_responses(conn, task.customer_id, limit=STORY_LIMIT)
    interactions = await queries.story_interactions(conn, task.customer_id, limit=STORY_LIMIT)
    events = await queries.story_events(conn, task.customer_id, limit=STORY_LIMIT)
    score = await queries.story_latest_score(conn, task.customer_id)
    others = await queries.story_other_tasks(conn, task.customer_id, task_id)
    for response in responses:
        response["when"] = local_text(response["answered_at"], zone)
        response["scale"] = KIND_SCALES.get(response["kind"], "")
    for interaction in interactions:
        interaction["when"] = local_text(interaction["occurred_at"], zone)
    for event in events:
        event["when"] = local_text(event["occurred_at"], zone)
    for other in others:
        other["when"] = local_text(other["created_at"], zone)
        other["outcome_label"] = OUTCOME_LABELS.get(other["outcome"] or "", "")
        other["trigger_label"] = TRIGGER_LABELS.get(other["trigger"], other["trigger"])
    history = [
        {
            "actor": names.get(entry.actor, entry.actor),
            "action": ACTION_LABELS.get(entry.action, entry.action.replace("_", " ")),
            "text": history_text(entry.action, entry.details, names=names, zone=zone),
            "when": local_text(entry.created_at, zone),
        }
        for entry in detail.history
        if entry.action != "lease_extended"
    ]
    evidence = [
        {
            "when": local_text(item.created_at, zone),
            "text": evidence_text(item.trigger, item.details, zone=zone),
        }
        for item in detail.evidence
    ]
    lease_until = task.lease_expires_at
    lease_live = lease_until is not None and lease_until > now
    return {
        "task": task,
        "customer": customer,
        "customer_label": (customer or {}).get("name") or (customer or {}).get("external_id") or "Customer",
        "responses": responses,
        "responses_total": responses[0]["total"] if responses else 0,
        "interactions": interactions,
        "interactions_total": interactions[0]["total"] if interactions else 0,
        "events": events,
        "score": _score(score, now=now),
        "others": others,
        "evidence": evidence,
        "evidence_items": detail.evidence,
        "pulse": detail.pulse,
        "history": history,
        "due_text": deadline_text(task.deadline_at, now=now, contacted=task.first_contact_at is not None),
        "deadline_local": local_text(task.deadline_at, zone),
        "holder": task.lease_holder if lease_live else None,
        "holder_name": names.get(task.lease_holder or "", task.lease_holder) if lease_live else None,
        "lease_until": local_text(lease_until, zone) if lease_live and lease_until else "",
        "assignee_name": names.get(task.assignee or "", task.assignee) if task.assignee else None,
        "outcome_label": OUTCOME_LABELS.get(task.outcome or "", ""),
        "resolved_when": local_text(task.resolved_at, zone) if task.resolved_at else "",
    }
