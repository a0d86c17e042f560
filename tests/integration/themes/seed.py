"""Comments about three things in English and two in German, written straight into PostgreSQL."""

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

TOPICS = {
    "en": {
        "delivery": [
            "the parcel arrived late",
            "delivery was a week late",
            "courier never came with my parcel",
            "package delivered late again",
            "late delivery and a damaged parcel",
            "parcel lost by the courier",
        ],
        "billing": [
            "billing was wrong again",
            "charged twice on my invoice",
            "the invoice amount is wrong",
            "wrong charge on my bill",
            "refund for the double charge",
            "invoice shows a wrong charge",
        ],
        "support": [
            "support agent was friendly and helpful",
            "the agent solved my problem quickly",
            "helpful support agent on the phone",
            "friendly agent, problem solved",
            "quick helpful answer from support",
            "support solved it, very friendly",
        ],
    },
    "de": {
        "lieferung": [
            "Das Paket kam zu spät",
            "Lieferung eine Woche zu spät",
            "Paket wieder verspätet geliefert",
            "Der Kurier hat das Paket verloren",
            "späte Lieferung, Paket beschädigt",
        ],
        "rechnung": [
            "Die Rechnung ist falsch",
            "doppelt abgebucht auf der Rechnung",
            "falscher Betrag auf der Rechnung",
            "Rechnung wieder falsch abgebucht",
            "Gutschrift für die doppelte Abbuchung fehlt",
        ],
    },
}
# detractors write about delivery, promoters about support
SCORES = {"delivery": (0, 6), "billing": (4, 8), "support": (9, 10), "lieferung": (0, 6), "rechnung": (4, 8)}


async def customer(conn: asyncpg.Connection, *, locale: str, n: int) -> UUID:
    return await conn.fetchval(
        "INSERT INTO customers (external_id, locale, name) VALUES ($1, $2, $3) RETURNING id",
        f"{locale}-{n}-{random.random()}",
        locale,
        f"Customer {n}",
    )


async def comment(
    conn: asyncpg.Connection, customer_id: UUID, *, text: str, score: int, at: datetime, kind: str = "nps"
) -> UUID:
    survey_id = await conn.fetchval("SELECT id FROM surveys WHERE kind = $1 ORDER BY key LIMIT 1", kind)
    return await conn.fetchval(
        """INSERT INTO responses (customer_id, survey_id, kind, score, comment, channel, touchpoint,
                                  answered_at, editable_until)
           VALUES ($1, $2, $3, $4, $5, 'email', 'delivery', $6::timestamptz,
                   $6::timestamptz + interval '1 day')
           RETURNING id""",
        customer_id,
        survey_id,
        kind,
        score,
        text,
        at,
    )


async def seed_comments(
    conn: asyncpg.Connection, *, per_topic: int, seed: int = 0, locales: tuple[str, ...] = ("en", "de")
) -> dict[str, list[UUID]]:
    """`per_topic` comments per topic, one customer each, answered over the last 60 days; topic -> ids."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    written: dict[str, list[UUID]] = {}
    n = 0
    for locale in locales:
        for topic, texts in TOPICS[locale].items():
            low, high = SCORES[topic]
            for _ in range(per_topic):
                n += 1
                who = await customer(conn, locale=locale, n=n)
                at = now - timedelta(days=rng.uniform(1, 60))
                written.setdefault(topic, []).append(
                    await comment(conn, who, text=rng.choice(texts), score=rng.randint(low, high), at=at)
                )
    return written
