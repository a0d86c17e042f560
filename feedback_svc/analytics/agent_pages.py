"""The managers' agent page: each agent's numbers beside the team's, and the tasks behind each number.

The same service as `GET /v1/analytics/agents`, so page, API and CSV never disagree.
"""

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from feedback_svc.analytics import agents, queries, service
from feedback_svc.analytics.export import agents_csv
from feedback_svc.analytics.pages import parse_date
from feedback_svc.analytics.stats import Estimate
from feedback_svc.console.guard import console_user, requires_role
from feedback_svc.console.respond import CONSOLE_EXCEPTION_HANDLERS, html, pages
from feedback_svc.console.sentences import OUTCOME_LABELS, TRIGGER_LABELS
from feedback_svc.lib.auth import PUBLIC
from feedback_svc.lib.errors import InvalidInput
from feedback_svc.lib.localtime import local_text
from feedback_svc.users.schemas import SessionUser

PAGE_SIZE = 100
# what each drill-down lists, as its heading says it
METRIC_TITLES: dict[str, str] = {
    "tasks": "all tasks resolved",
    "first_contact": "tasks with a first contact (the median's)",
    "promises": "promises that fell due (kept and broken)",
    "promises_broken": "promises broken",
    "worked": "worked tasks (the recovered share's)",
    "recovered": "tasks recovered",
    "not_recovered": "tasks not recovered",
    "unreachable": "customers unreachable",
    "no_action_needed": "tasks closed with no action needed",
    "score_change": "customers who answered the survey again",
    "churn_90d": "tasks resolved 90+ days ago (the churn share's)",
    "churned_90d": "customers who churned within 90 days",
}


def _window(date_from: str | None, date_to: str | None, *, today: date) -> tuple[date, date, list[str]]:
    try:
        first, last, _, _ = service.window(parse_date(date_from), parse_date(date_to), today=today)
        return first, last, []
    except InvalidInput as error:
        first, last, _, _ = service.window(None, None, today=today)
        return first, last, [error.detail]


class AgentsPageController(Controller):
    path = "/console/agents"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("manager")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS
    dependencies = {"user": Provide(console_user, sync_to_thread=False)}

    @get("/")
    async def show(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        date_from: FromQuery[str | None] = None,
        date_to: FromQuery[str | None] = None,
    ) -> Response[str]:
        today = datetime.now(UTC).date()
        first, last, errors = _window(date_from, date_to, today=today)
        report = await agents.agents_report(
            pool, date_from=first, date_to=last, today=today, churn_labels=_churn_labels(request)
        )
        period = {"date_from": first.isoformat(), "date_to": last.isoformat()}
        body = pages(request).render(
            "agents.html",
            user=user,
            current="/console/agents",
            errors=errors,
            report=report,
            csv_href="/console/agents.csv?" + urlencode(period),
            drill=lambda agent, metric: (
                "/console/agents/tasks?" + urlencode({"agent": agent, "metric": metric, **period})
            ),
            outcome_labels={key: label.lower() for key, label in OUTCOME_LABELS.items()},
            fmt=_fmt,
            ci=_ci,
            points=_points,
            **period,
        )
        return html(body, status=422 if errors else 200)

    @get("/tasks")
    async def tasks(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        user: NamedDependency[SessionUser],
        agent: FromQuery[str],
        metric: FromQuery[str] = "tasks",
        date_from: FromQuery[str | None] = None,
        date_to: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Response[str]:
        today = datetime.now(UTC).date()
        first, last, errors = _window(date_from, date_to, today=today)
        if metric not in METRIC_TITLES:
            errors.append(f"{metric!r} is not a number on the agents page; showing all tasks.")
            metric = "tasks"
        if cursor:
            try:
                agents.decode_cursor(cursor)
            except InvalidInput as error:  # a cursor from elsewhere: start again from the top
                errors.append(error.detail)
                cursor = None
        found = await agents.agent_task_rows(
            pool,
            agent=agent,
            metric=metric,  # type: ignore[arg-type]
            date_from=first,
            date_to=last,
            today=today,
            churn_labels=_churn_labels(request),
            limit=PAGE_SIZE,
            cursor=cursor,
        )
        names = {person["email"]: person["name"] for person in await queries.console_people(pool)}
        period = {"date_from": first.isoformat(), "date_to": last.isoformat()}
        query = {"agent": agent, "metric": metric, **period}
        body = pages(request).render(
            "agent_tasks.html",
            user=user,
            current="/console/agents",
            errors=errors,
            agent=agent,
            agent_name=names.get(agent, agent),
            metric=metric,
            metric_title=METRIC_TITLES[metric],
            rows=[_task_row(row, zone=user.time_zone) for row in found.rows],
            back_href="/console/agents?" + urlencode(period),
            next_href=(
                "/console/agents/tasks?" + urlencode({**query, "cursor": found.next_cursor})
                if found.next_cursor
                else None
            ),
            page_size=PAGE_SIZE,
            **period,
        )
        return html(body, status=422 if errors else 200)


def _churn_labels(request: Request[Any, Any, Any]) -> str:
    return request.app.state.settings.churn_labels


def _task_row(row: dict[str, Any], *, zone: str) -> dict[str, Any]:
    task = agents.task_from_row(row)
    return {
        "task": task,
        "customer": "erased customer" if row["customer_erased"] else (row["customer_name"] or "a customer"),
        "opened": local_text(task.opened_at, zone),
        "deadline": local_text(task.deadline_at, zone),
        "resolved": local_text(task.resolved_at, zone),
        "trigger": TRIGGER_LABELS.get(task.trigger, task.trigger),
        "outcome": OUTCOME_LABELS.get(task.outcome, task.outcome),
    }


def _fmt(estimate: Estimate, unit: str = "", digits: int = 1, signed: bool = False) -> str:
    if estimate.value is None:
        return "–"
    return f"{estimate.value:{'+' if signed else ''}.{digits}f}{unit}"


def _ci(estimate: Estimate, digits: int = 1) -> str:
    if estimate.low is None or estimate.high is None:
        return "no interval"
    return f"95% {estimate.low:.{digits}f} to {estimate.high:.{digits}f}"


def _points(estimate: Estimate) -> tuple[str, str]:
    """('+3.1 pts', '-4.0 to +9.8'): an agent against the rest of the team, and its interval."""
    interval = "" if estimate.low is None else f"{estimate.low:+.1f} to {estimate.high:+.1f}"
    return f"{estimate.value:+.1f} pts", interval


class AgentsCsvController(Controller):
    path = "/console/agents.csv"
    opt = {PUBLIC: True}
    include_in_schema = False
    guards = [requires_role("manager")]
    exception_handlers = CONSOLE_EXCEPTION_HANDLERS

    @get("/")
    async def download(
        self,
        request: Request[Any, Any, Any],
        *,
        pool: NamedDependency[asyncpg.Pool],
        date_from: FromQuery[str | None] = None,
        date_to: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        today = datetime.now(UTC).date()
        first, last, _ = _window(date_from, date_to, today=today)
        report = await agents.agents_report(
            pool, date_from=first, date_to=last, today=today, churn_labels=_churn_labels(request)
        )
        return Response(
            agents_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="agents-{first}-{last}.csv"'},
        )
