"""How each agent's recovery work goes, beside the team's, for managers (API and console alike).

A task counts for the agent who resolved it (its last resolution, if it was reopened), in the
window its resolution falls in. Every number comes with its interval and n, and a flag below
SMALL_SAMPLE cases: agents handle tens of tasks, not thousands, so most differences are noise.
Agents are listed by name, never ranked: their tasks differ (triggers, moments of truth,
customers), and a league table invites working the number instead of the customer.
"""

import base64
import binascii
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.analytics import queries, stats
from feedback_svc.analytics.schemas import (
    AgentMetric,
    AgentPerformance,
    AgentsReport,
    AgentTask,
    AgentTasksPage,
    Outcomes,
)
from feedback_svc.analytics.service import window
from feedback_svc.lib.errors import InvalidInput

SMALL_SAMPLE = 10
METHOD = (
    "Tasks resolved in the window, each counted for the agent who resolved it (control tasks left out; a "
    "reopened task once, for its last round). First contact: median hours from opening (or reopening) to the "
    "first contact attempt, with a distribution-free 95% interval. Promises kept: first contact before the "
    "deadline, among tasks contacted or still open when the deadline passed (Wilson 95%). Recovered: "
    "recovered among worked tasks (recovered, not recovered, unreachable; Wilson 95%). Score change: the "
    "customer's first answer to the same survey within 90 days after resolution minus the answer that "
    "opened the task, in % of the scale's range (CES turned so that positive is better), mean with a t 95% "
    "interval; only customers who answered again count. 90-day churn: among tasks resolved 90+ days ago, "
    "{churn} (Wilson 95%). 'vs rest' is the agent minus everyone else, in points (Newcombe 95%); with "
    "many agents some of these exclude zero by chance. Fewer than {small} cases: small sample."
)
CHURN_TEXT = {
    "contractual": "customers with a `churned` event within 90 days after resolution",
    "non_contractual": "customers who had bought before and made no purchase within 90 days after resolution",
}
_COUNTS = (
    *("tasks", "critical", "promises_due", "promises_kept", "worked", "recovered", "not_recovered"),
    *("unreachable", "no_action_needed", "with_survey", "churn_observed", "churned_90d"),
)
_cursor_encoder = msgspec.json.Encoder()
_cursor_decoder = msgspec.json.Decoder(tuple[datetime, UUID])


async def agents_report(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    date_from: date | None,
    date_to: date | None,
    today: date,
    churn_labels: str,
) -> AgentsReport:
    first, last, start, end = window(date_from, date_to, today=today)
    rows = await queries.agent_summaries(conn, start=start, end=end, churn_labels=churn_labels)
    people = await queries.console_people(conn)
    names = {person["email"]: person["name"] for person in people}
    team_row = next((row for row in rows if row["agent"] is None), None) or _no_tasks(None)
    by_agent = {row["agent"]: row for row in rows if row["agent"] is not None}
    # console agents with nothing resolved in the window still get their (empty) row
    for person in people:
        if person["role"] == "agent" and person["active"] and person["email"] not in by_agent:
            by_agent[person["email"]] = _no_tasks(person["email"])
    agents = [_performance(row, names=names, team=team_row) for row in by_agent.values()]
    agents.sort(key=lambda a: ((a.name or a.agent or "").lower(), a.agent or ""))
    return AgentsReport(
        date_from=first,
        date_to=last,
        method=METHOD.format(churn=CHURN_TEXT[churn_labels], small=SMALL_SAMPLE),
        churn_labels=churn_labels,  # type: ignore[arg-type]
        small_sample_below=SMALL_SAMPLE,
        team=_performance(team_row, names=names, team=None),
        agents=agents,
    )


def _no_tasks(agent: str | None) -> dict[str, Any]:
    return {"agent": agent, "contact_hours": None, "score_changes": None} | dict.fromkeys(_COUNTS, 0)


def _vs_rest(row: dict[str, Any], team: dict[str, Any] | None, events: str, n: str) -> stats.Estimate | None:
    if team is None:
        return None
    compared = stats.compare(
        row[events], row[n], team[events] - row[events], team[n] - row[n], small=SMALL_SAMPLE
    )
    return compared.difference if compared else None


def _performance(
    row: dict[str, Any], *, names: dict[str, str], team: dict[str, Any] | None
) -> AgentPerformance:
    return AgentPerformance(
        agent=row["agent"],
        name=names.get(row["agent"]) if row["agent"] else None,
        tasks=row["tasks"],
        critical=row["critical"],
        first_contact_hours=stats.median(row["contact_hours"] or [], small=SMALL_SAMPLE),
        promises_kept=stats.proportion(row["promises_kept"], row["promises_due"], small=SMALL_SAMPLE),
        promises_broken=row["promises_due"] - row["promises_kept"],
        outcomes=Outcomes(
            recovered=row["recovered"],
            not_recovered=row["not_recovered"],
            unreachable=row["unreachable"],
            no_action_needed=row["no_action_needed"],
        ),
        recovered_share=stats.proportion(row["recovered"], row["worked"], small=SMALL_SAMPLE),
        score_change=stats.mean(row["score_changes"] or [], low=-100.0, high=100.0, small=SMALL_SAMPLE),
        with_survey=row["with_survey"],
        churn_90d=stats.proportion(row["churned_90d"], row["churn_observed"], small=SMALL_SAMPLE),
        churned_90d=row["churned_90d"],
        promises_kept_vs_rest=_vs_rest(row, team, "promises_kept", "promises_due"),
        recovered_share_vs_rest=_vs_rest(row, team, "recovered", "worked"),
        churn_90d_vs_rest=_vs_rest(row, team, "churned_90d", "churn_observed"),
    )


class TaskRows(msgspec.Struct, frozen=True, kw_only=True):
    date_from: date
    date_to: date
    rows: list[dict[str, Any]]  # agent_tasks rows: the facts, the customer's name and erasure
    next_cursor: str | None


async def agent_task_rows(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    agent: str,
    metric: AgentMetric,
    date_from: date | None,
    date_to: date | None,
    today: date,
    churn_labels: str,
    limit: int,
    cursor: str | None,
) -> TaskRows:
    """The tasks behind one number of one agent, in the same window, newest resolution first."""
    first, last, start, end = window(date_from, date_to, today=today)
    rows = await queries.agent_tasks(
        conn,
        start=start,
        end=end,
        churn_labels=churn_labels,
        agent=agent,
        metric=metric,
        limit=limit + 1,
        after=decode_cursor(cursor) if cursor else None,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["resolved_at"], rows[-1]["task_id"]) if more else None
    return TaskRows(date_from=first, date_to=last, rows=rows, next_cursor=next_cursor)


async def agent_tasks(
    conn: asyncpg.Connection | asyncpg.Pool, *, agent: str, metric: AgentMetric, **window_and_page: Any
) -> AgentTasksPage:
    """agent_task_rows as the API shows them."""
    found = await agent_task_rows(conn, agent=agent, metric=metric, **window_and_page)
    return AgentTasksPage(
        agent=agent,
        metric=metric,
        date_from=found.date_from,
        date_to=found.date_to,
        tasks=[task_from_row(row) for row in found.rows],
        next_cursor=found.next_cursor,
    )


def task_from_row(row: dict[str, Any]) -> AgentTask:
    change = row["score_change"]
    return AgentTask(
        task_id=row["task_id"],
        customer_id=row["customer_id"],
        trigger=row["trigger"],
        touchpoint=row["touchpoint"],
        critical=row["critical"],
        opened_at=row["opened_at"],
        deadline_at=row["deadline_at"],
        first_contact_at=row["first_contact_at"],
        hours_to_first_contact=None if row["contact_hours"] is None else round(row["contact_hours"], 2),
        promise_due=row["promise_due"],
        promise_kept=row["promise_kept"],
        resolved_at=row["resolved_at"],
        outcome=row["outcome"],
        survey_kind=row["survey_kind"],
        score_before=row["score_before"],
        score_after=row["score_after"],
        answered_after_at=row["answered_after_at"],
        score_change=None if change is None else round(float(change), 2),
        churn_observed=row["churn_observed"],
        churned_90d=row["churned_90d"],
    )


def encode_cursor(resolved_at: datetime, task_id: UUID) -> str:
    return base64.urlsafe_b64encode(_cursor_encoder.encode((resolved_at, task_id))).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        return _cursor_decoder.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput("`cursor` is not one this endpoint gave out.") from None
