"""The feature SQL reads only what existed at as_of, and uses the indexes."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from ml.queries import fetch_features, fetch_labels, fetch_population

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


async def _customer(conn: asyncpg.Connection, external_id: str, **columns: object) -> UUID:
    fields = {
        "external_id": external_id,
        "value": 100.0,
        "created_at": AS_OF - timedelta(days=400),
        **columns,
    }
    names = ", ".join(fields)
    marks = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    return await conn.fetchval(
        f"INSERT INTO customers ({names}) VALUES ({marks}) RETURNING id", *fields.values()
    )


async def _answer(
    conn: asyncpg.Connection, customer: UUID, kind: str, score: int, when: datetime, **extra: object
) -> None:
    survey = await conn.fetchval(
        """INSERT INTO surveys (key, kind) VALUES ($1, $1)
           ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING id""",
        kind,
    )
    invitation = await conn.fetchval(
        """INSERT INTO invitations (survey_id, customer_id, channel, status, reason, sent_at, expires_at,
                                    created_at)
           VALUES ($1, $2, 'email', 'answered', 'sent', $3::timestamptz,
                   $3::timestamptz + interval '14 days', $3)
           RETURNING id""",
        survey, customer, when - timedelta(hours=1),
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO responses (invitation_id, customer_id, survey_id, kind, score, channel, answered_at,
                                  editable_until, contact_requested, interaction_id)
           VALUES ($1, $2, $3, $4, $5, 'email', $6, $6, $7, $8)""",
        invitation, customer, survey, kind, score, when,
        extra.get("contact", False), extra.get("interaction"),
    )  # fmt: skip


async def test_features_see_nothing_after_as_of(ml_conn: asyncpg.Connection) -> None:
    conn = ml_conn
    who = await _customer(
        conn, "c1", segment="smb", attributes='{"plan": "basic", "signed_up_at": "2020-02-30"}'
    )
    critical = await conn.fetchval(
        """INSERT INTO interactions (customer_id, touchpoint, critical, occurred_at)
           VALUES ($1, 'delivery', true, $2) RETURNING id""",
        who, AS_OF - timedelta(days=10),
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO interactions (customer_id, touchpoint, occurred_at)
           VALUES ($1, 'delivery', $2), ($1, 'billing', $3)""",
        who, AS_OF - timedelta(days=20), AS_OF + timedelta(days=1),
    )  # fmt: skip
    await _answer(conn, who, "nps", 9, AS_OF - timedelta(days=200))
    await _answer(conn, who, "nps", 4, AS_OF - timedelta(days=9), contact=True, interaction=critical)
    await _answer(conn, who, "nps", 10, AS_OF + timedelta(hours=1))  # the future: invisible
    await conn.execute(
        """INSERT INTO customer_events (customer_id, kind, occurred_at)
           VALUES ($1, 'purchase', $2), ($1, 'purchase', $3)""",
        who, AS_OF - timedelta(days=5), AS_OF + timedelta(days=5),
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO recovery_tasks (customer_id, status, trigger, priority, deadline_at, outcome,
                                       resolved_at, created_at)
           VALUES ($1, 'resolved', 'nps_detractor', 1, $2, 'recovered', $3, $2)""",
        who, AS_OF - timedelta(days=8), AS_OF + timedelta(days=2),
    )  # fmt: skip
    [row] = await fetch_features(conn, as_of=AS_OF, customer_ids=[who])
    assert (row["latest_nps"], row["nps_trend"], row["detractor_answers_90d"]) == (4, -5, 1)
    assert row["lowest_score_90d"] == pytest.approx(0.4)
    assert row["unhappy_critical_answers_90d"] == 1
    assert row["contact_requests_90d"] == 1
    assert row["answers_90d"] == 1
    assert row["days_since_last_answer"] == pytest.approx(9)
    assert sorted(row["touchpoints_90d"]) == ["delivery", "delivery"]
    assert row["critical_interactions_90d"] == 1
    assert row["days_since_last_interaction"] == pytest.approx(10)
    assert row["purchases_90d"] == 1
    # resolved only after as_of: it was still open then, and not yet a recovery
    assert row["open_recovery_task"] is True
    assert row["recovered_before"] == 0
    # 2020-02-30 is read leniently as 2020-03-01 instead of failing the batch
    signed_up = datetime(2020, 3, 1, tzinfo=UTC)
    assert row["tenure_days"] == pytest.approx((AS_OF - signed_up).days)
    assert row["attributes"] == {"plan": "basic", "signed_up_at": "2020-02-30"}
    assert row["latest_csat"] is None
    assert row["non_response_rate_90d"] is None
    later = (await fetch_features(conn, as_of=AS_OF + timedelta(days=3), customer_ids=[who]))[0]
    assert later["latest_nps"] == 10
    assert later["recovered_before"] == 1
    assert later["open_recovery_task"] is False


async def test_non_response_counts_only_closed_invitations(ml_conn: asyncpg.Connection) -> None:
    who = await _customer(ml_conn, "c2")
    survey = await ml_conn.fetchval("INSERT INTO surveys (key, kind) VALUES ('csat', 'csat') RETURNING id")
    for days_ago in (40, 30, 3):  # the last one can still be answered
        await ml_conn.execute(
            """INSERT INTO invitations (survey_id, customer_id, channel, status, reason, sent_at,
                                        expires_at, created_at)
               VALUES ($1, $2, 'sms', 'expired', 'sent', $3::timestamptz,
                       $3::timestamptz + interval '14 days', $3)""",
            survey, who, AS_OF - timedelta(days=days_ago),
        )  # fmt: skip
    await _answer(ml_conn, who, "csat", 5, AS_OF - timedelta(days=35))
    [row] = await fetch_features(ml_conn, as_of=AS_OF, customer_ids=[who])
    # closed: the two old ones plus the answered one's own invitation; two of three unanswered
    assert row["invitations_90d"] == 4
    assert row["non_response_rate_90d"] == pytest.approx(2 / 3)


async def test_population_and_labels(ml_conn: asyncpg.Connection) -> None:
    conn = ml_conn
    alive = await _customer(conn, "alive")
    churned = await _customer(conn, "churned")
    back = await _customer(conn, "reactivated")
    erased = await _customer(conn, "erased", erased_at=AS_OF)
    later = await _customer(conn, "later", created_at=AS_OF + timedelta(days=1))
    imported = await _customer(
        conn, "imported", created_at=AS_OF + timedelta(days=30), attributes='{"signed_up_at": "2021-05-04"}'
    )
    await conn.execute(
        """INSERT INTO customer_events (customer_id, kind, occurred_at)
           VALUES ($1, 'churned', $4), ($2, 'churned', $4), ($2, 'reactivated', $5), ($3, 'churned', $6)""",
        churned, back, alive,
        AS_OF - timedelta(days=10), AS_OF - timedelta(days=2), AS_OF + timedelta(days=30),
    )  # fmt: skip
    population = set(await fetch_population(conn, as_of=AS_OF))
    assert population == {alive, back, imported}
    assert erased not in population
    assert later not in population
    labels = await fetch_labels(conn, cutoff=AS_OF, horizon_days=90, customer_ids=list(population))
    assert labels[alive] == (True, None)
    assert labels[back] == (False, None)


async def test_unknown_ids_are_skipped_and_as_of_must_be_aware(ml_conn: asyncpg.Connection) -> None:
    assert await fetch_features(ml_conn, as_of=AS_OF, customer_ids=[UUID(int=1)]) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        await fetch_features(ml_conn, as_of=AS_OF.replace(tzinfo=None), customer_ids=[])


async def test_ces_seven_is_very_difficult_and_unhappy(ml_conn: asyncpg.Connection) -> None:
    """CES runs 1 (very easy) .. 7 (very difficult), as the surveys ask and recovery reads it."""
    conn = ml_conn
    hard = await _customer(conn, "ces-hard")
    easy = await _customer(conn, "ces-easy")
    for who, score in ((hard, 7), (easy, 1)):
        critical = await conn.fetchval(
            """INSERT INTO interactions (customer_id, touchpoint, critical, occurred_at)
               VALUES ($1, 'delivery', true, $2) RETURNING id""",
            who, AS_OF - timedelta(days=3),
        )  # fmt: skip
        await _answer(conn, who, "ces", score, AS_OF - timedelta(days=2), interaction=critical)
    rows = {
        row["customer_id"]: row for row in await fetch_features(conn, as_of=AS_OF, customer_ids=[hard, easy])
    }
    assert rows[hard]["latest_ces"] == 7
    assert rows[hard]["lowest_score_90d"] == 0.0
    assert rows[hard]["unhappy_critical_answers_90d"] == 1
    assert rows[easy]["lowest_score_90d"] == 1.0
    assert rows[easy]["unhappy_critical_answers_90d"] == 0
