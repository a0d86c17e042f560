"""Synthetic customers with a known truth, written straight into PostgreSQL.

`populate` simulates `periods` periods of `horizon_days` each, ending at `now`:
customers (with CRM attributes such as `plan`, `support_tickets_open` and `seats`, and
`customer_since`, which for the installed base imported when the service went live is
earlier than the row),
interactions at touchpoints (onboarding and some others critical), survey
invitations and answers (non-response too), recovery tasks and their outcomes,
purchases, renewals, up/downgrades and churn. Customers churn for known reasons
(see `ml._truth`), so the returned `GroundTruth` holds each customer's true churn
probability for the period after every boundary: the oracle a trained model is
measured against.

The same `customers`, `seed` and `now` always write the same rows (ids included),
so run it once per database: external ids are `sim-<seed>-<n>`.

Recovery tasks are written as the service would have written them: a trigger per the
service's rules for each answer that opened one, evidence with its details, a history, and,
given the service's `RecoveryPolicy`, deadlines and priorities (with their reasons) from the
recovery queue's own functions. Tasks are assigned only to the `agents` passed in.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import numpy as np

from feedback_svc.db.sql import load_queries
from ml import _world as w
from ml._sim_tasks import (
    EVIDENCE_COLUMNS,
    HISTORY_COLUMNS,
    TASK_COLUMNS,
    RecoveryPolicy,
    task_rows,
)

_QUERIES = load_queries(Path(__file__).with_name("simulator.sql"))
_TOUCHPOINT_NAMES = ("Support call", "Delivery", "Billing", "Account change", "Onboarding")
_COMMENTS = (
    ("Great service, thank you", "Quick and friendly", "All good", "Easy as it should be"),
    ("Took far too long", "Nobody called me back", "Billing was wrong again", "Delivery was late"),
)
__all__ = ["GroundTruth", "RecoveryPolicy", "populate"]


@dataclass(frozen=True, kw_only=True)
class GroundTruth:
    """True churn probabilities, per period boundary, for the customers alive then."""

    now: datetime
    horizon_days: int
    # boundary -> {customer id: probability of churning within horizon_days after it}
    by_cutoff: dict[datetime, dict[uuid.UUID, float]]
    counts: dict[str, int]

    @property
    def holdout_cutoff(self) -> datetime:
        """The latest boundary whose churn window has fully happened: now - horizon."""
        return self.now - timedelta(days=self.horizon_days)

    @property
    def churn_probability(self) -> dict[uuid.UUID, float]:
        """The truth for the holdout window, the one `ml.training` evaluates on."""
        return self.by_cutoff[self.holdout_cutoff]


async def populate(
    conn: asyncpg.Connection,
    *,
    customers: int = 2000,
    seed: int = 0,
    now: datetime,
    periods: int = 6,
    horizon_days: int = 90,
    recovery: RecoveryPolicy | None = None,
    agents: Sequence[str] = (),
) -> GroundTruth:
    """Simulate and write a history ending at `now`; returns the truth behind it.

    2,000 customers over six 90-day periods write about 90k rows in a second or two.
    Runs in one transaction (a savepoint if the caller already has one). Without `recovery`
    (a database without the recovery rules, as the ml tests use) tasks get a day's or two
    days' deadline and no priority. Resolved tasks are worked by one of `agents` and every fifth
    open one is assigned to one; without agents nothing is assigned.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    world = w.simulate_world(customers=customers, seed=seed, periods=periods, period_days=float(horizon_days))
    writer = _Writer(
        world,
        seed=seed,
        start=now - timedelta(days=periods * horizon_days),
        recovery=recovery,
        agents=tuple(agents),
    )
    async with conn.transaction():
        await writer.write(conn)
    return GroundTruth(
        now=now,
        horizon_days=horizon_days,
        by_cutoff={
            writer.when(t0): dict(zip(writer.ids(alive), probability.tolist(), strict=True))
            for t0, (alive, probability) in world.truth.items()
        },
        counts=writer.counts,
    )


class _Writer:
    def __init__(
        self,
        world: w.World,
        *,
        seed: int,
        start: datetime,
        recovery: RecoveryPolicy | None = None,
        agents: tuple[str, ...] = (),
    ) -> None:
        self.world = world
        self.seed = seed
        self.start = start
        self.recovery = recovery
        self.agents = agents
        self.rng = np.random.default_rng([seed, 7919])
        self.customer_ids = [uuid.UUID(text) for text in self._uuids(len(world.customers.signup))]
        self.counts: dict[str, int] = {}

    def ids(self, index: np.ndarray) -> list[uuid.UUID]:
        return [self.customer_ids[i] for i in index.tolist()]

    def when(self, days: float) -> datetime:
        return self.start + timedelta(days=days)

    def times(self, days: np.ndarray) -> list[datetime | None]:
        """Days since the start as aware datetimes (None where NaN)."""
        seconds = (days * 86_400.0 + self.start.timestamp()).tolist()
        return [None if s != s else datetime.fromtimestamp(s, UTC) for s in seconds]  # noqa: PLR0124

    def _uuids(self, count: int) -> list[str]:
        """Random version-4 UUIDs as hex text, which asyncpg's COPY takes as they are."""
        raw = np.frombuffer(self.rng.bytes(16 * count), dtype=np.uint8).reshape(-1, 16).copy()
        raw[:, 6] = raw[:, 6] & 0x0F | 0x40
        raw[:, 8] = raw[:, 8] & 0x3F | 0x80
        text = raw.tobytes().hex()
        return [text[i : i + 32] for i in range(0, len(text), 32)]

    async def write(self, conn: asyncpg.Connection) -> None:
        await self._customers(conn)
        surveys = await self._surveys(conn)
        interaction_ids = await self._interactions(conn)
        invitation_ids = await self._invitations(conn, surveys, interaction_ids)
        response_ids = await self._responses(conn, surveys, interaction_ids, invitation_ids)
        await self._events(conn)
        await self._tasks(conn, response_ids)

    async def _copy(
        self, conn: asyncpg.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]
    ) -> None:
        records = list(rows)
        self.counts[table] = len(records)
        await conn.copy_records_to_table(table, records=records, columns=list(columns))

    async def _customers(self, conn: asyncpg.Connection) -> None:
        c, n = self.world.customers, len(self.customer_ids)
        first = np.array(["Alex", "Sam", "Robin", "Kim", "Jo", "Maria", "Lena", "Omar", "Yuki", "Priya"])
        last = np.array(["Meyer", "Novak", "Silva", "Okafor", "Berg", "Rossi", "Khan", "Lee", "Dubois"])
        names = np.char.add(np.char.add(first[np.arange(n) % 10], " "), last[np.arange(n) // 10 % 9])
        zones = np.array(["Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "UTC"])
        zone = zones[self.rng.integers(0, zones.size, n)]
        signup = self.times(c.signup)
        created = self.times(c.created)
        rows = (
            (
                self.customer_ids[i],
                f"sim-{self.seed}-{i}",
                f"sim{self.seed}.{i}@example.com",
                f"+4915{self.seed % 100:02d}{i:07d}" if i % 3 else None,
                str(names[i]),
                str(zone[i]),
                "en",
                float(c.value[i]),
                w.SEGMENTS[c.segment[i]],
                msgspec.json.encode(self._attributes(i)).decode(),
                signup[i],
                created[i],
            )
            for i in range(n)
        )
        await conn.execute(_QUERIES["create_customer_staging"])
        columns = ("id", "external_id", "email", "phone", "name", "time_zone", "locale", "value", "segment")
        await self._copy(
            conn, "ml_sim_customers", (*columns, "attributes", "customer_since", "created_at"), rows
        )
        await conn.execute(_QUERIES["insert_staged_customers"])
        await conn.execute(_QUERIES["drop_customer_staging"])
        self.counts["customers"] = self.counts.pop("ml_sim_customers")

    def _attributes(self, i: int) -> dict[str, Any]:
        c = self.world.customers
        attributes: dict[str, Any] = {
            "plan": w.PLANS[c.plan[i]],
            "support_tickets_open": int(c.tickets[i]),
            "seats": int(c.seats[i]),
            "region": w.REGIONS[c.region[i]],
            "newsletter": bool(c.newsletter[i]),
        }
        # no lists or objects: the customers API accepts (and returns) scalar attributes only
        return attributes

    async def _surveys(self, conn: asyncpg.Connection) -> list[uuid.UUID]:
        ids = []
        for kind in w.KINDS:
            row = await conn.fetchrow(_QUERIES["upsert_survey"], kind, kind)
            if row["kind"] != kind:
                raise ValueError(f"survey {kind!r} exists with kind {row['kind']!r}; cannot simulate into it")
            ids.append(row["id"])
        for index, key in enumerate(w.TOUCHPOINTS):
            survey = ids[int(w.SURVEY_OF_TOUCHPOINT[index])]
            await conn.execute(
                _QUERIES["insert_touchpoint"], key, _TOUCHPOINT_NAMES[index], key == "onboarding", survey
            )
        return ids

    async def _interactions(self, conn: asyncpg.Connection) -> list[str]:
        t = self.world.interactions
        ids = self._uuids(len(t))
        when = self.times(t["time"])
        touchpoint = [w.TOUCHPOINTS[k] for k in t["touchpoint"].tolist()]
        agents = [f"agent-{k}" for k in self.rng.integers(1, 25, len(t)).tolist()]
        rows = zip(
            ids,
            self.ids(t["customer"]),
            touchpoint,
            t["critical"].tolist(),
            when,
            [a if tp == "support_call" else None for a, tp in zip(agents, touchpoint, strict=True)],
            when,
            strict=True,
        )
        columns = ("id", "customer_id", "touchpoint", "critical", "occurred_at", "agent", "created_at")
        await self._copy(conn, "interactions", columns, rows)
        return ids

    async def _invitations(
        self, conn: asyncpg.Connection, surveys: list[uuid.UUID], interaction_ids: list[str]
    ) -> list[str]:
        v = self.world.invitations
        ids = self._uuids(len(v))
        status = [w.INVITATION_STATUSES[k] for k in v["status"].tolist()]
        reasons = {"suppressed": "suppressed: cooldown", "failed": "failed: provider error"}
        tokens = self.rng.bytes(32 * len(v))
        created, sent = self.times(v["created"]), self.times(v["sent"])
        rows = zip(
            ids,
            [surveys[k] for k in v["kind"].tolist()],
            self.ids(v["customer"]),
            [interaction_ids[k] if k >= 0 else None for k in v["interaction"].tolist()],
            [w.CHANNELS[k] for k in v["channel"].tolist()],
            [tokens[i : i + 32] for i in range(0, len(tokens), 32)],
            status,
            [reasons.get(s, "sent") for s in status],
            created,
            sent,
            self.times(v["expires"]),
            created,
            [s or c for s, c in zip(sent, created, strict=True)],
            strict=True,
        )
        columns = (
            "id", "survey_id", "customer_id", "interaction_id", "channel", "token_hash", "status",
            "reason", "send_at", "sent_at", "expires_at", "created_at", "updated_at",
        )  # fmt: skip
        await self._copy(conn, "invitations", columns, rows)
        return ids

    async def _responses(
        self,
        conn: asyncpg.Connection,
        surveys: list[uuid.UUID],
        interaction_ids: list[str],
        invitation_ids: list[str],
    ) -> list[str]:
        r, v = self.world.responses, self.world.invitations
        ids = self._uuids(len(r))
        answered = self.times(r["answered"])
        editable = self.times(r["answered"] + 1.0)
        touchpoints = self.world.interactions["touchpoint"]
        interaction = r["interaction"].tolist()
        unhappy = r["unhappy"].tolist()
        rows = zip(
            ids,
            [invitation_ids[k] for k in r["invitation"].tolist()],
            self.ids(r["customer"]),
            [surveys[k] for k in r["kind"].tolist()],
            [interaction_ids[k] if k >= 0 else None for k in interaction],
            [w.KINDS[k] for k in r["kind"].tolist()],
            r["score"].tolist(),
            [
                _COMMENTS[bad][k] if k >= 0 else None
                for k, bad in zip(r["comment"].tolist(), unhappy, strict=True)
            ],
            r["contact"].tolist(),
            [w.CHANNELS[k] for k in v["channel"][r["invitation"]].tolist()],
            [w.TOUCHPOINTS[touchpoints[k]] if k >= 0 else None for k in interaction],
            answered,
            answered,
            editable,
            strict=True,
        )
        columns = (
            "id", "invitation_id", "customer_id", "survey_id", "interaction_id", "kind", "score", "comment",
            "contact_requested", "channel", "touchpoint", "answered_at", "updated_at", "editable_until",
        )  # fmt: skip
        await self._copy(conn, "responses", columns, rows)
        return ids

    async def _events(self, conn: asyncpg.Connection) -> None:
        e = self.world.events
        when = self.times(e["time"])
        amount = [None if np.isnan(a) else a for a in e["amount"].tolist()]
        rows = zip(
            self.ids(e["customer"]),
            [w.EVENT_KINDS[k] for k in e["kind"].tolist()],
            when,
            amount,
            when,
            strict=True,
        )
        await self._copy(
            conn, "customer_events", ("customer_id", "kind", "occurred_at", "amount", "created_at"), rows
        )

    async def _tasks(self, conn: asyncpg.Connection, response_ids: list[str]) -> None:
        if not len(self.world.tasks):
            return
        rows = task_rows(
            self.world,
            task_ids=self._uuids(len(self.world.tasks)),
            customer_ids=self.customer_ids,
            response_ids=response_ids,
            times=self.times,
            rng=self.rng,
            recovery=self.recovery,
            agents=self.agents,
        )
        await conn.execute(_QUERIES["create_task_staging"])
        await self._copy(conn, "ml_sim_tasks", TASK_COLUMNS, rows.tasks)
        await self._copy(conn, "ml_sim_evidence", EVIDENCE_COLUMNS, rows.evidence)
        await self._copy(conn, "ml_sim_history", HISTORY_COLUMNS, rows.history)
        await conn.execute(_QUERIES["insert_staged_tasks"])
        await conn.execute(_QUERIES["drop_task_staging"])
        staged = {"ml_sim_tasks": "recovery_tasks", "ml_sim_evidence": "recovery_evidence"}
        staged["ml_sim_history"] = "recovery_task_history"
        for stage, table in staged.items():
            self.counts[table] = self.counts.pop(stage)
