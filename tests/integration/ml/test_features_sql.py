"""The feature SQL reads only what existed at as_of (CRM attributes too), and the labels and the
population follow the label policy."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from ml.queries import fetch_features, fetch_labels, fetch_population

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


async def _customer(conn: asyncpg.Connection, external_id: str | None, **columns: object) -> UUID:
    fields: dict[str, object] = {
        "external_id": external_id,
        "value": 100.0,
        "created_at": AS_OF - timedelta(days=400),
        **columns,
    }
    # what the CRM said is known since the row was created (unless a test says otherwise)
    fields.setdefault("attributes_since", fields["created_at"])
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
        conn,
        "c1",
        segment="smb",
        attributes='{"plan": "basic"}',
        customer_since=datetime(2020, 3, 1, tzinfo=UTC),
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
    assert row["purchases_90d"] == row["purchases_total"] == 1
    # resolved only after as_of: it was still open then, and not yet a recovery
    assert row["open_recovery_task"] is True
    assert row["recovered_before"] == 0
    assert row["tenure_days"] == pytest.approx((AS_OF - datetime(2020, 3, 1, tzinfo=UTC)).days)
    assert row["attributes"] == {"plan": "basic"}
    assert row["latest_csat"] is None
    assert row["non_response_rate_90d"] is None
    later = (await fetch_features(conn, as_of=AS_OF + timedelta(days=3), customer_ids=[who]))[0]
    assert later["latest_nps"] == 10
    assert later["recovered_before"] == 1
    assert later["open_recovery_task"] is False


async def test_non_response_counts_only_closed_invitations(ml_conn: asyncpg.Connection) -> None:
    who = await _customer(ml_conn, "c2")
    survey = await ml_conn.fetchval(
        """INSERT INTO surveys (key, kind) VALUES ('csat', 'csat')
           ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING id"""
    )
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
    erased = await _customer(conn, None, erased_at=AS_OF)  # an erased row keeps no CRM id
    later = await _customer(conn, "later", created_at=AS_OF + timedelta(days=1))
    # loaded after the cut-off, a customer long before it
    imported = await _customer(
        conn,
        "imported",
        created_at=AS_OF + timedelta(days=30),
        customer_since=datetime(2021, 5, 4, tzinfo=UTC),
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


async def _events(conn: asyncpg.Connection, who: UUID, *events: tuple[str, datetime, float | None]) -> None:
    await conn.executemany(
        "INSERT INTO customer_events (customer_id, kind, occurred_at, amount) VALUES ($1, $2, $3, $4)",
        [(who, kind, when, amount) for kind, when, amount in events],
    )


async def test_crm_attributes_value_and_segment_are_read_as_they_were(ml_conn: asyncpg.Connection) -> None:
    """Fails if attributes are read as they are now at a past cut-off: every cut-off sees the
    version valid then, and before the first known version nothing at all."""
    conn = ml_conn
    who = await _customer(
        conn, "versions", segment="smb", value=100.0, attributes='{"plan": "basic", "tickets": 1}'
    )
    first_known = AS_OF - timedelta(days=400)
    # two later versions, each saying since when (as an import with `as_of` does); the trigger
    # moves the version it replaces into the history
    for since, attributes, value, segment in (
        (AS_OF - timedelta(days=100), '{"plan": "plus", "tickets": 4}', 250.0, "smb"),
        (AS_OF + timedelta(days=10), '{"plan": "plus", "tickets": 9, "lost": true}', 0.0, "lost"),
    ):
        await conn.execute(
            """UPDATE customers SET attributes = $2::jsonb, value = $3, segment = $4, attributes_since = $5
                WHERE id = $1""",
            who, attributes, value, segment, since,
        )  # fmt: skip
    assert (
        await conn.fetchval("SELECT count(*) FROM customer_attribute_history WHERE customer_id = $1", who)
        == 2
    )

    async def seen(at: datetime) -> tuple[dict, float | None, str | None]:
        [row] = await fetch_features(conn, as_of=at, customer_ids=[who])
        return row["attributes"], row["value"], row["segment"]

    assert await seen(AS_OF - timedelta(days=200)) == ({"plan": "basic", "tickets": 1}, 100.0, "smb")
    assert await seen(AS_OF) == ({"plan": "plus", "tickets": 4}, 250.0, "smb")
    assert await seen(AS_OF + timedelta(days=10)) == (
        {"plan": "plus", "tickets": 9, "lost": True},
        0.0,
        "lost",
    )
    # before the first version the service knows of: missing, not today's
    assert await seen(first_known - timedelta(days=1)) == ({}, None, None)


async def test_tenure_starts_at_customer_since_else_the_first_event_else_created_at(
    ml_conn: asyncpg.Connection,
) -> None:
    conn = ml_conn
    since = await _customer(conn, "since", customer_since=AS_OF - timedelta(days=1000))
    loaded = await _customer(conn, "loaded", created_at=AS_OF + timedelta(days=5))
    await _events(conn, loaded, ("purchase", AS_OF - timedelta(days=300), 20.0))
    plain = await _customer(conn, "plain", created_at=AS_OF - timedelta(days=50))
    await _events(conn, plain, ("purchase", AS_OF - timedelta(days=10), 20.0))
    rows = {
        row["customer_id"]: row
        for row in await fetch_features(conn, as_of=AS_OF, customer_ids=[since, loaded, plain])
    }
    assert rows[since]["tenure_days"] == pytest.approx(1000)
    assert rows[loaded]["tenure_days"] == pytest.approx(300)  # history loaded after it happened
    assert rows[plain]["tenure_days"] == pytest.approx(50)  # a customer before buying
    assert set(await fetch_population(conn, as_of=AS_OF)) == {since, loaded, plain}


async def test_purchase_history_features(ml_conn: asyncpg.Connection) -> None:
    conn = ml_conn
    who = await _customer(conn, "buyer")
    day = timedelta(days=1)
    await _events(
        conn,
        who,
        ("purchase", AS_OF - 400 * day, 10.0),  # the first purchase day: 10 + 30
        ("purchase", AS_OF - 400 * day + timedelta(hours=1), 30.0),
        ("purchase", AS_OF - 200 * day, 50.0),
        ("purchase", AS_OF - 120 * day, 20.0),
        ("refunded", AS_OF - 110 * day, 20.0),
        ("purchase", AS_OF - 40 * day, 90.0),
        ("renewed", AS_OF - 30 * day, 500.0),  # not a purchase
        ("purchase", AS_OF + day, 1000.0),  # the future: invisible
    )
    [row] = await fetch_features(conn, as_of=AS_OF, customer_ids=[who])
    assert row["purchases_total"] == 5
    assert row["purchase_days"] == 4
    assert row["purchase_value_total"] == pytest.approx(200.0)
    assert row["average_order_value"] == pytest.approx(40.0)
    assert row["days_since_first_purchase"] == 400
    assert row["days_since_last_purchase"] == 40
    assert row["mean_days_between_purchases"] == pytest.approx(360 / 3)
    assert row["purchase_overdue_ratio"] == pytest.approx(40 / 120)
    assert row["repeat_purchase_value"] == pytest.approx((50 + 20 + 90) / 3)
    assert (row["purchases_30d"], row["purchases_90d"], row["purchases_365d"]) == (0, 1, 3)
    assert row["purchase_value_90d"] == pytest.approx(90.0)
    assert row["purchase_value_365d"] == pytest.approx(160.0)
    # the last 90 days against the 90 before them (days 90-179: the purchase 120 days ago)
    assert row["spend_trend_90d"] == pytest.approx(90.0 - 20.0)
    assert row["refunds_365d"] == 1
    assert row["refund_share"] == pytest.approx(20 / 200)
    assert row["renewals_90d"] == 1
    nobody = await _customer(conn, "never-bought")
    [empty] = await fetch_features(conn, as_of=AS_OF, customer_ids=[nobody])
    assert (empty["purchases_total"], empty["purchase_days"], empty["purchase_value_total"]) == (0, 0, 0.0)
    for key in ("days_since_last_purchase", "mean_days_between_purchases", "average_order_value"):
        assert empty[key] is None


async def test_lapsed_customers_are_in_the_population_under_both_label_policies(
    ml_conn: asyncpg.Connection,
) -> None:
    conn = ml_conn
    lapsed = await _customer(conn, "lapsed")  # one purchase, 300 days before the cut-off
    await _events(conn, lapsed, ("purchase", AS_OF - timedelta(days=300), 25.0))
    regular = await _customer(conn, "regular")
    await _events(
        conn,
        regular,
        ("purchase", AS_OF - timedelta(days=20), 25.0),
        ("purchase", AS_OF + timedelta(days=30), 25.0),
    )
    never = await _customer(conn, "never-bought")
    cancelled = await _customer(conn, "cancelled")
    await _events(
        conn,
        cancelled,
        ("purchase", AS_OF - timedelta(days=50), 25.0),
        ("churned", AS_OF + timedelta(days=40), None),
    )
    contractual = set(await fetch_population(conn, as_of=AS_OF, labels="contractual"))
    assert contractual == {lapsed, regular, never, cancelled}
    non_contractual = await fetch_population(conn, as_of=AS_OF, labels="non_contractual")
    assert set(non_contractual) == {lapsed, regular, cancelled}  # had bought by the cut-off
    labels = await fetch_labels(
        conn, cutoff=AS_OF, horizon_days=90, customer_ids=non_contractual, labels="non_contractual"
    )
    assert {who: churned for who, (churned, _) in labels.items()} == {
        lapsed: True,  # no purchase within the horizon
        regular: False,
        cancelled: True,
    }
    labels = await fetch_labels(
        conn, cutoff=AS_OF, horizon_days=90, customer_ids=list(contractual), labels="contractual"
    )
    assert {who for who, (churned, _) in labels.items() if churned} == {cancelled}
    # a horizon too short to reach the next purchase
    labels = await fetch_labels(
        conn, cutoff=AS_OF, horizon_days=20, customer_ids=[regular], labels="non_contractual"
    )
    assert labels[regular] == (True, None)
