"""Seven recovery tasks worked by two agents, whose agent-performance numbers are worked out by hand.

The fixture (days before now; every task resolved one day after it opened unless said):

| task | agent | opened | contact | deadline | outcome | survey before -> after | churn |
|---|---|---|---|---|---|---|---|
| t1 | Ann | 200 d | 1 h | 2 h: kept | recovered | NPS 3 -> 9 (+60) | none: stayed |
| t2 | Ann | 150 d | 3 h | 2 h: broken | not recovered | CSAT 2 -> 3 (+25) | 30 d after: churned |
| t3 | Ann | 120 d | 5 h | 6 h: kept | unreachable | CES 6 -> 3 (+50) | 100 d after: stayed |
| t4 | Ann | 10 d | none | 2 h: broken | no action needed | none | too recent |
| t5 | Ann | 5 d | 2 h | 4 h: kept | recovered | NPS 5, later only CSAT | too recent |
| t6 | bo | 50 d | 10 h | 24 h: kept | recovered | none | too recent |
| t7 | bo | reopened 40 d | 4 h | 8 h: kept | not recovered | none | too recent |

Left out: a control task, an open task, and a task resolved 400 days ago.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from tests.integration.console.seed import insert_customer, insert_response, insert_task
from tests.integration.users.console_helpers import make_user

ANN, BO = "ann@example.com", "bo"
NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Fixture:
    tasks: dict[str, UUID]
    customers: dict[str, UUID]


async def resolved_task(
    conn: asyncpg.Connection,
    *,
    name: str,
    agent: str,
    opened_days: float,
    contact_hours: float | None,
    deadline_hours: float,
    outcome: str,
    before: tuple[str, int] | None = None,
    control: bool = False,
    customer: UUID | None = None,
) -> tuple[UUID, UUID, datetime]:
    customer = customer or await insert_customer(conn, name=name)
    opened = NOW - timedelta(days=opened_days)
    task = await insert_task(
        conn, customer, control=control, trigger="churn_risk" if before is None else "nps_detractor"
    )
    resolved = opened + timedelta(days=1)
    await conn.execute(
        """UPDATE recovery_tasks
              SET status = 'resolved', outcome = $2, root_cause = 'price', created_at = $3::timestamptz,
                  deadline_at = $3::timestamptz + make_interval(secs => $4::float8 * 3600),
                  first_contact_at = $3::timestamptz + make_interval(secs => $5::float8 * 3600),
                  resolved_at = $6
            WHERE id = $1""",
        task, outcome, opened, deadline_hours, contact_hours, resolved,
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO recovery_task_history (task_id, actor, action, details, created_at)
           VALUES ($1, $2, 'resolved', jsonb_build_object('outcome', $3::text), $4)""",
        task, "system" if control else agent, outcome, resolved,
    )  # fmt: skip
    if before is not None:
        kind, score = before
        answer = await insert_response(conn, customer, kind=kind, score=score, at=opened - timedelta(hours=1))
        await conn.execute(
            "INSERT INTO recovery_evidence (task_id, trigger, response_id) VALUES ($1, 'nps_detractor', $2)",
            task,
            answer,
        )
    return task, customer, resolved


async def _answer(conn: asyncpg.Connection, customer: UUID, kind: str, score: int, at: datetime) -> None:
    await insert_response(conn, customer, kind=kind, score=score, at=at)


async def customer_event(
    conn: asyncpg.Connection, customer: UUID, at: datetime, kind: str = "churned"
) -> None:
    await conn.execute(
        "INSERT INTO customer_events (customer_id, kind, occurred_at) VALUES ($1, $2, $3)", customer, kind, at
    )


async def seed(conn: asyncpg.Connection) -> Fixture:
    await make_user(conn, email=ANN, name="Ann Agent")
    await make_user(conn, email="cy@example.com", name="Cy Idle")  # an agent with nothing resolved
    await make_user(conn, email="boss@example.com", role="manager", name="Morgan Boss")
    off = await make_user(conn, email="gone@example.com", name="Gone Agent")
    await conn.execute("UPDATE users SET disabled_at = now() WHERE id = $1", off.id)
    tasks, customers = {}, {}

    async def add(key: str, **kwargs: object) -> datetime:
        tasks[key], customers[key], resolved = await resolved_task(conn, name=key, **kwargs)  # type: ignore[arg-type]
        return resolved

    r1 = await add("t1", agent=ANN, opened_days=200, contact_hours=1, deadline_hours=2, outcome="recovered",
                   before=("nps", 3))  # fmt: skip
    await _answer(conn, customers["t1"], "nps", 9, r1 + timedelta(days=10))
    await _answer(conn, customers["t1"], "nps", 2, r1 + timedelta(days=20))  # not the first: ignored
    r2 = await add("t2", agent=ANN, opened_days=150, contact_hours=3, deadline_hours=2,
                   outcome="not_recovered", before=("csat", 2))  # fmt: skip
    await _answer(conn, customers["t2"], "csat", 3, r2 + timedelta(days=5))
    await customer_event(conn, customers["t2"], r2 + timedelta(days=30))
    r3 = await add("t3", agent=ANN, opened_days=120, contact_hours=5, deadline_hours=6, outcome="unreachable",
                   before=("ces", 6))  # fmt: skip
    await _answer(conn, customers["t3"], "ces", 3, r3 + timedelta(days=2))
    await customer_event(conn, customers["t3"], r3 + timedelta(days=100))  # after the 90 days
    await add(
        "t4", agent=ANN, opened_days=10, contact_hours=None, deadline_hours=2, outcome="no_action_needed"
    )
    r5 = await add("t5", agent=ANN, opened_days=5, contact_hours=2, deadline_hours=4, outcome="recovered",
                   before=("nps", 5))  # fmt: skip
    await _answer(conn, customers["t5"], "nps", 10, r5 - timedelta(hours=2))  # before resolution
    await _answer(conn, customers["t5"], "csat", 5, r5 + timedelta(hours=2))  # another survey
    await add("t6", agent=BO, opened_days=50, contact_hours=10, deadline_hours=24, outcome="recovered")
    # t7: resolved by Ann 59 days ago, reopened 40 days ago, then worked and resolved by bo
    await add("t7", agent=ANN, opened_days=60, contact_hours=None, deadline_hours=2, outcome="recovered")
    reopened = NOW - timedelta(days=40)
    await conn.execute(
        """INSERT INTO recovery_task_history (task_id, actor, action, created_at) VALUES
               ($1, 'boss@example.com', 'reopened', $2::timestamptz),
               ($1, $3, 'resolved', $2::timestamptz + interval '1 day')""",
        tasks["t7"], reopened, BO,
    )  # fmt: skip
    await conn.execute(
        """UPDATE recovery_tasks
              SET outcome = 'not_recovered', deadline_at = $2::timestamptz + interval '8 hours',
                  first_contact_at = $2::timestamptz + interval '4 hours',
                  resolved_at = $2::timestamptz + interval '1 day'
            WHERE id = $1""",
        tasks["t7"], reopened,
    )  # fmt: skip
    # never counted: control, still open, resolved before the window
    await add("control", agent=ANN, opened_days=20, contact_hours=None, deadline_hours=2,
              outcome="no_action_needed", control=True)  # fmt: skip
    await insert_task(conn, await insert_customer(conn, name="open"))
    await add("old", agent=ANN, opened_days=400, contact_hours=1, deadline_hours=2, outcome="recovered")
    return Fixture(tasks=tasks, customers=customers)
