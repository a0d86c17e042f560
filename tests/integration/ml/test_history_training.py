"""Training reads the CRM's attributes as they were at each cut-off, and lapsed buyers learn."""

import copy
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np

from ml.history import NO_PURCHASE_COLUMN, add_purchase_rhythm
from ml.queries import fetch_purchase_summaries
from ml.simulator import populate
from ml.training import TrainingConfig, fit, load_snapshots

NOW = datetime(2026, 11, 23, tzinfo=UTC)


async def test_an_attribute_the_crm_changed_because_a_customer_churned_never_leaks_into_training(
    ml_conn: asyncpg.Connection,
) -> None:
    """The CRM marks churned customers `cancelled` from the day they churned (as an import with
    `as_of` back-fills it). Read as it is now, the mark would sit on every row of a customer who
    churns later and the model would learn the future from it."""
    conn = ml_conn
    await populate(conn, customers=1500, seed=8, now=NOW)
    churned = await conn.fetch(
        "SELECT customer_id, min(occurred_at) AS at FROM customer_events WHERE kind = 'churned' GROUP BY 1"
    )
    await conn.executemany(
        """UPDATE customers SET attributes = attributes || '{"status": "cancelled"}', attributes_since = $2
            WHERE id = $1""",
        [(row["customer_id"], row["at"]) for row in churned],
    )
    train, holdout = await load_snapshots(conn, now=NOW)
    rows = [row for snapshot in [*train, holdout] for row in snapshot.rows]
    later = {row["customer_id"] for row in churned}
    assert sum(row["customer_id"] in later for row in rows) > 100, "who churns later is in earlier snapshots"
    assert not [row for row in rows if row["attributes"].get("status") == "cancelled"]
    bundle = fit(train, holdout, now=NOW).bundle
    assert not [f.name for f in bundle.card.features if f.name.startswith("attr:status")]
    # and now, after the fact, the mark is there to be read
    assert await conn.fetchval(
        "SELECT count(*) FROM customers WHERE attributes->>'status' = 'cancelled'"
    ) == len(churned)


async def test_lapsed_buyers_are_trained_on_under_non_contractual_labels(ml_conn: asyncpg.Connection) -> None:
    """A customer who bought once long ago is in every snapshot after, labelled by whether they
    bought within the horizon; the purchase rhythm of each snapshot comes from its own moment."""
    conn = ml_conn
    await populate(conn, customers=1500, seed=9, now=NOW)
    lapsed = await conn.fetchval(
        """INSERT INTO customers (external_id, created_at, attributes_since)
           VALUES ('lapsed', $1, $1) RETURNING id""",
        NOW - timedelta(days=600),
    )
    await conn.execute(
        """INSERT INTO customer_events (customer_id, kind, occurred_at, amount)
           VALUES ($1, 'purchase', $2, 30)""",
        lapsed,
        NOW - timedelta(days=590),
    )
    config = TrainingConfig(labels="non_contractual")
    train, holdout = await load_snapshots(conn, now=NOW, config=config)
    for snapshot in [*train, holdout]:
        [row] = [row for row in snapshot.rows if row["customer_id"] == lapsed]
        assert snapshot.churned[snapshot.rows.index(row)], "no purchase within the horizon"
    fitted = copy.deepcopy(train)
    result = fit(
        fitted, holdout, now=NOW, config=config, current=await fetch_purchase_summaries(conn, as_of=NOW)
    )
    assert result.bundle.card.data.labels == "non_contractual"
    assert "bgnbd" in {c.name for c in result.bundle.card.churn.candidates}
    # each training window's rhythm is what a model fitted on that window alone says
    alone = copy.deepcopy(train[0].rows)
    add_purchase_rhythm(alone, horizon_days=config.horizon_days)
    np.testing.assert_allclose(
        [row[NO_PURCHASE_COLUMN] for row in fitted[0].rows], [row[NO_PURCHASE_COLUMN] for row in alone]
    )
