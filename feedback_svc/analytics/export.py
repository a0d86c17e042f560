"""Answers and the agents' table as CSV (RFC 4180 quoting by the csv module), safe to open in a spreadsheet.

A comment such as `=HYPERLINK(...)` would run as a formula in Excel or Sheets, so any
text cell starting with = + - @ (or a tab or carriage return, which some programs strip
first) gets a leading apostrophe, as OWASP recommends.
"""

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from feedback_svc.analytics.schemas import AgentPerformance, AgentsReport

COLUMNS = (
    "answered_at",
    "kind",
    "score",
    "touchpoint",
    "channel",
    "customer_external_id",
    "segment",
    "agent",
    "comment",
    "contact_requested",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


async def csv_chunks(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The header, then the rows, in chunks of about 64 kB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    async for row in rows:
        writer.writerow([neutralise(row[column]) for column in COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


AGENT_ESTIMATES = ("first_contact_hours", "promises_kept", "recovered_share", "score_change", "churn_90d")
AGENT_COMPARED = ("promises_kept", "recovered_share", "churn_90d")
AGENT_COLUMNS = (
    "agent",
    "name",
    "tasks",
    "critical",
    *(f"{name}{part}" for name in AGENT_ESTIMATES for part in ("", "_low", "_high", "_n", "_small_sample")),
    "promises_broken",
    "recovered",
    "not_recovered",
    "unreachable",
    "no_action_needed",
    "with_survey",
    "churned_90d",
    *(f"{name}_vs_rest{part}" for name in AGENT_COMPARED for part in ("", "_low", "_high")),
)


def _agent_cells(row: AgentPerformance) -> list[Any]:
    cells: list[Any] = [row.agent if row.agent is not None else "(team)", row.name, row.tasks, row.critical]
    for name in AGENT_ESTIMATES:
        e = getattr(row, name)
        cells += [_rounded(e.value), _rounded(e.low), _rounded(e.high), e.n, e.small_sample]
    o = row.outcomes
    cells += [row.promises_broken, o.recovered, o.not_recovered, o.unreachable, o.no_action_needed]
    cells += [row.with_survey, row.churned_90d]
    for name in AGENT_COMPARED:
        e = getattr(row, f"{name}_vs_rest")
        cells += [_rounded(e.value), _rounded(e.low), _rounded(e.high)] if e else [None, None, None]
    return cells


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def agents_csv(report: AgentsReport) -> bytes:
    """The team's row first, then one per agent, every estimate with its interval, n and flag."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(AGENT_COLUMNS)
    for row in (report.team, *report.agents):
        writer.writerow([neutralise(cell) for cell in _agent_cells(row)])
    return buffer.getvalue().encode()
