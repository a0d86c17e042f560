"""Prometheus metrics: request latency per route, answers stored, and the state of the work.

Request metrics come from requests.py (counted by lib/request_context.py), labelled by route template, not
raw path, so ids don't explode the series. Counters live in the process, as
Prometheus expects: each replica is scraped on its own. Gauges about shared work (outbox,
recovery queue, active model) are read from PostgreSQL at scrape time, so every replica
reports the same truth.
"""

from pathlib import Path

import asyncpg
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

PREFIX = "feedback"

# Latency buckets for an API whose answers take milliseconds and whose batches take tens of them.
BUCKETS: list[str | float] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]


# Process-wide, in the default registry beside the request metrics: a module
# is imported once per process, so this registers once however many apps tests create.
ANSWERS = Counter(
    f"{PREFIX}_answers", "Survey answers stored, by channel and survey kind", ["channel", "kind"]
)


def count_answer(*, channel: str, kind: str) -> None:
    ANSWERS.labels(channel=channel, kind=kind).inc()


class WorkGauges:
    """Gauges read from the database at scrape time, in a registry of their own per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.outbox_due = Gauge(
            f"{PREFIX}_outbox_due_jobs", "Outbox jobs due and not yet done", registry=self.registry
        )
        self.outbox_lag = Gauge(
            f"{PREFIX}_outbox_lag_seconds",
            "How long the oldest due outbox job has waited (0 when none waits)",
            registry=self.registry,
        )
        self.outbox_dead = Gauge(
            f"{PREFIX}_outbox_dead_jobs",
            "Outbox jobs given up on, kept for inspection",
            registry=self.registry,
        )
        self.recovery_open = Gauge(
            f"{PREFIX}_recovery_open_tasks", "Open recovery tasks (the queue's depth)", registry=self.registry
        )
        self.recovery_overdue = Gauge(
            f"{PREFIX}_recovery_overdue_tasks",
            "Open recovery tasks past their deadline with no contact yet: promises being broken",
            registry=self.registry,
        )
        self.alerts_due = Gauge(
            f"{PREFIX}_alerts_due", "Alerts to the team due and not yet sent", registry=self.registry
        )
        self.alerts_failed = Gauge(
            f"{PREFIX}_alerts_failed",
            "Alerts to the team given up on (the record says why: GET /v1/alerts?status=failed)",
            registry=self.registry,
        )
        self.active_model = Gauge(
            f"{PREFIX}_active_model_info",
            "The churn model version every replica serves (value 1; the version is the label)",
            ["version"],
            registry=self.registry,
        )

    async def refresh(self, pool: asyncpg.Pool) -> None:
        row = await pool.fetchrow(Q["work_gauges"])
        assert row is not None
        self.outbox_due.set(row["outbox_due"])
        self.outbox_lag.set(float(row["outbox_lag_seconds"]))
        self.outbox_dead.set(row["outbox_dead"])
        self.recovery_open.set(row["recovery_open"])
        self.recovery_overdue.set(row["recovery_overdue"])
        self.alerts_due.set(row["alerts_due"])
        self.alerts_failed.set(row["alerts_failed"])
        self.active_model.clear()
        self.active_model.labels(version=row["active_model"] or "bootstrap").set(1)

    def exposition(self) -> bytes:
        return generate_latest(REGISTRY) + generate_latest(self.registry)
