"""The managers' pages for escalation and alerts: tasks whose promise was broken, and every alert sent.

The escalated view lists open tasks nobody contacted by their deadline, longest overdue first,
with why they rose (the escalation's priority reason), who owns them, what their alerts did, and
a reassign form that comes back here. The alerts page is the record of every alert.
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from feedback_svc.alerts import queries as alert_queries
from feedback_svc.alerts.messages import TITLES
from feedback_svc.alerts.schemas import ALERT_TRIGGERS
from feedback_svc.alerts.service import shown_recipient
from feedback_svc.console import queries
from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.queue_pages import TRIGGER_LABELS, owner_text, person_names
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages
from feedback_svc.console.timefmt import ago_text, deadline_text
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.localtime import local_text
from feedback_svc.users.schemas import SessionUser

ESCALATED_LIMIT = 200
ALERTS_PAGE = 100
ALERT_STATUSES = {
    "pending": "Waiting to go out",
    "sent": "Sent",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
ESCALATED_PATH = "/console/queue/escalated"


def escalated_row(
    row: dict[str, Any], *, now: datetime, names: dict[str, str], zone: str, me: str
) -> dict[str, Any]:
    reason = next((r["text"] for r in row["priority_reasons"] if r.get("factor") == "escalated"), None)
    return {
        **row,
        "customer_label": row["customer_name"] or row["customer_external_id"] or "Erased customer",
        "trigger_label": TRIGGER_LABELS.get(row["trigger"], row["trigger"]),
        "due_text": deadline_text(row["deadline_at"], now=now, contacted=row["first_contact_at"] is not None),
        "deadline_local": local_text(row["deadline_at"], zone),
        "escalated_text": ago_text(row["escalated_at"], now=now),
        "escalation_reason": reason,
        "owner_text": owner_text(row["assignee"], row["lease_holder"], names=names, me=me),
    }


def alert_row(row: dict[str, Any], *, names: dict[str, str], zone: str) -> dict[str, Any]:
    return {
        **row,
        "title": TITLES.get(row["trigger"], row["trigger"]),
        "when": local_text(row["sent_at"] or row["created_at"], zone),
        "to": names.get(row["recipient"], shown_recipient(row["channel"], row["recipient"])),
        "status_label": ALERT_STATUSES.get(row["status"], row["status"]),
        "customer_label": row.get("customer_name") or row.get("customer_external_id") or "",
    }


class AlertPagesController(Controller):
    path = "/console"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("manager")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    @get("/queue/escalated")
    async def escalated(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        now = datetime.now(UTC)
        async with pool.acquire() as conn:
            rows = await queries.escalated_tasks(conn, limit=ESCALATED_LIMIT)
            people = await queries.active_people(conn)
        names = person_names(people)
        body = pages(request).render(
            "escalated.html",
            user=user,
            current=ESCALATED_PATH,
            tasks=[escalated_row(r, now=now, names=names, zone=user.time_zone, me=user.email) for r in rows],
            limit=ESCALATED_LIMIT,
            people=people,
            message="The task was reassigned." if done == "assigned" else "",
        )
        return html(body)

    @get("/alerts")
    async def show_alerts(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        status: FromQuery[str | None] = None,
        trigger: FromQuery[str | None] = None,
        before: FromQuery[int | None] = None,
    ) -> Response[str]:
        status = status if status in ALERT_STATUSES else None
        trigger = trigger if trigger in ALERT_TRIGGERS else None
        before = before if before is not None and 0 < before < 2**63 else None
        async with pool.acquire() as conn:
            rows = await alert_queries.list_alerts(
                conn,
                status=status,
                trigger=trigger,
                task_id=None,
                channel=None,
                before=before,
                limit=ALERTS_PAGE + 1,
            )
            counts = await alert_queries.alert_counts(conn)
            names = person_names(await queries.active_people(conn))
        shown = rows[:ALERTS_PAGE]
        chosen = {key: value for key, value in {"status": status, "trigger": trigger}.items() if value}
        older = (
            "/console/alerts?" + urlencode({**chosen, "before": shown[-1]["id"]})
            if len(rows) > ALERTS_PAGE
            else ""
        )
        body = pages(request).render(
            "alerts.html",
            user=user,
            current="/console/alerts",
            alerts=[alert_row(row, names=names, zone=user.time_zone) for row in shown],
            counts=counts,
            statuses=ALERT_STATUSES,
            triggers=TITLES,
            filters={"status": status, "trigger": trigger},
            filtered=bool(chosen),
            older_href=older,
        )
        return html(body)
