"""The invitation history triggers: one row per change, also when one statement changes many."""

import uuid

import asyncpg


async def _invite_three(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Three invitations made by ONE statement, for one customer."""
    customer_id = await conn.fetchval("INSERT INTO customers DEFAULT VALUES RETURNING id")
    rows = await conn.fetch(
        """
        INSERT INTO invitations (survey_id, customer_id, channel, status, reason, expires_at)
        SELECT s.id, $1, c.channel, 'queued', 'matched ' || c.channel, now() + interval '7 days'
          FROM surveys s, unnest(ARRAY['email', 'sms', 'web']) WITH ORDINALITY AS c (channel, n)
         WHERE s.key = 'nps'
         ORDER BY c.n
        RETURNING id
        """,
        customer_id,
    )
    return [row["id"] for row in rows]


async def _history(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> list[tuple[str, str | None, str]]:
    rows = await conn.fetch(
        "SELECT event, reason, channel FROM invitation_history WHERE invitation_id = $1 ORDER BY seq",
        invitation_id,
    )
    return [(row["event"], row["reason"], row["channel"]) for row in rows]


async def test_a_statement_that_makes_many_invitations_records_each_once(conn: asyncpg.Connection) -> None:
    email, sms, web = await _invite_three(conn)
    assert await _history(conn, email) == [("queued", "matched email", "email")]
    assert await _history(conn, sms) == [("queued", "matched sms", "sms")]
    assert await _history(conn, web) == [("queued", "matched web", "web")]


async def test_one_update_of_many_records_only_what_changed_for_each(conn: asyncpg.Connection) -> None:
    email, sms, web = await _invite_three(conn)
    opened_at = await conn.fetchval("SELECT now() - interval '1 minute'")
    # email: answered and opened at once; sms: opened only; web: neither (a column without history)
    await conn.execute(
        """
        UPDATE invitations
           SET status = CASE WHEN id = $1 THEN 'answered' ELSE status END,
               opened_at = CASE WHEN id IN ($1, $2) THEN $4 ELSE opened_at END,
               updated_at = now()
         WHERE id IN ($1, $2, $3)
        """,
        email,
        sms,
        web,
        opened_at,
    )
    assert await _history(conn, email) == [
        ("queued", "matched email", "email"),
        ("answered", "matched email", "email"),
        ("opened", None, "email"),
    ]
    assert await _history(conn, sms) == [("queued", "matched sms", "sms"), ("opened", None, "sms")]
    assert await _history(conn, web) == [("queued", "matched web", "web")]
    opened = await conn.fetchval(
        "SELECT at FROM invitation_history WHERE invitation_id = $1 AND event = 'opened'", sms
    )
    assert opened == opened_at


async def test_a_second_opening_and_an_unchanged_status_add_nothing(conn: asyncpg.Connection) -> None:
    email, _, _ = await _invite_three(conn)
    await conn.execute("UPDATE invitations SET opened_at = now() WHERE id = $1", email)
    await conn.execute(
        "UPDATE invitations SET opened_at = now() + interval '1 hour', status = 'queued' WHERE id = $1", email
    )
    await conn.execute(
        "UPDATE invitations SET reason = 'sent by email', status = 'sent' WHERE id = $1", email
    )
    assert await _history(conn, email) == [
        ("queued", "matched email", "email"),
        ("opened", None, "email"),
        ("sent", "sent by email", "email"),
    ]
