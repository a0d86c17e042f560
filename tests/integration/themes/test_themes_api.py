"""Themes end to end through the API: a run, stable ids across runs, rename, merge, analytics, erasure."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings
from feedback_svc.themes.service import TOPIC, ThemeRunJob, ThemeScheduler
from tests.conftest import KeyFactory
from tests.integration.themes.seed import comment, customer, seed_comments

Client = AsyncTestClient[Litestar]


async def run_themes(client: Client, admin: dict[str, str], settings: Settings, pool: asyncpg.Pool) -> dict:
    response = await client.post("/v1/themes/runs", headers=admin)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/themes/runs/{response.json()['id']}"
    assert await OutboxWorker(pool, {TOPIC: ThemeRunJob(pool, settings)}).run_once() == 1
    run = (await client.get(response.headers["Location"], headers=admin)).json()
    assert run["status"] == "succeeded", run
    return run


async def theme_of(conn: asyncpg.Connection, response_ids: list[UUID]) -> Counter[int]:
    rows = await conn.fetch(
        "SELECT theme_id FROM theme_assignments WHERE response_id = ANY($1::uuid[])", response_ids
    )
    return Counter(row["theme_id"] for row in rows)


@pytest.fixture
async def admin(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("admin", name="cx-manager")


async def test_a_run_finds_the_themes_of_each_language(
    client: Client,
    conn: asyncpg.Connection,
    admin: dict[str, str],
    crm: dict[str, str],
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    written = await seed_comments(conn, per_topic=20)
    run = await run_themes(client, admin, settings, pool)
    assert run["summary"]["en"]["comments"] == 60
    assert run["summary"]["de"]["comments"] == 40
    assert run["summary"]["en"]["new"] == run["summary"]["en"]["themes"] >= 3

    themes = (await client.get("/v1/themes", headers=crm)).json()["items"]
    assert {theme["locale"] for theme in themes} == {"en", "de"}
    # a theme holds one topic's comments (a topic may be split, never mixed with another), and
    # the words of a topic's largest theme say what it is about
    topic_of = {rid: topic for topic, ids in written.items() for rid in ids}
    rows = await conn.fetch("SELECT response_id, theme_id FROM theme_assignments")
    per_theme: dict[int, Counter[str]] = {}
    for row in rows:
        per_theme.setdefault(row["theme_id"], Counter())[topic_of[row["response_id"]]] += 1
    for theme_id, topics in per_theme.items():
        assert topics.most_common(1)[0][1] >= 0.9 * topics.total(), (theme_id, topics)
    for topic, word in [
        ("delivery", "late"),
        ("billing", "charge"),
        ("lieferung", "paket"),
        ("rechnung", "rechnung"),
    ]:
        theme_id = (await theme_of(conn, written[topic])).most_common(1)[0][0]
        detail = (await client.get(f"/v1/themes/{theme_id}", headers=crm)).json()
        assert any(word in term for term in detail["theme"]["top_words"]), detail["theme"]
        assert detail["examples"]
        assert all(example["comment"] for example in detail["examples"])
    german = (await client.get("/v1/themes?locale=de", headers=crm)).json()["items"]
    assert german
    assert all(theme["locale"] == "de" for theme in german)
    # German stop words stay out of the words
    assert not {"der", "die", "das", "zu"} & {w for theme in german for w in theme["top_words"]}


async def test_ids_and_a_managers_label_survive_the_next_run(
    client: Client,
    conn: asyncpg.Connection,
    admin: dict[str, str],
    crm: dict[str, str],
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    written = await seed_comments(conn, per_topic=20, locales=("en",))
    await run_themes(client, admin, settings, pool)
    delivery = (await theme_of(conn, written["delivery"])).most_common(1)[0][0]
    headers = {**admin, "Idempotency-Key": "rename-1"}
    renamed = await client.patch(f"/v1/themes/{delivery}", json={"label": "Late parcels"}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["label"] == "Late parcels"
    assert renamed.json()["label_source"] == "manager"
    again = await client.patch(f"/v1/themes/{delivery}", json={"label": "Late parcels"}, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"

    # new comments arrive (another seed shuffles them), and the model is fitted afresh
    more = await seed_comments(conn, per_topic=15, seed=7, locales=("en",))
    run = await run_themes(client, admin, settings, pool)
    assert run["summary"]["en"]["kept"] >= 3
    assert (await theme_of(conn, more["delivery"])).most_common(1)[0][0] == delivery
    theme = (await client.get(f"/v1/themes/{delivery}", headers=crm)).json()["theme"]
    assert theme["label"] == "Late parcels"
    assert theme["status"] == "active"
    assert theme["comments"] >= 30


async def test_a_merge_holds_across_runs(
    client: Client,
    conn: asyncpg.Connection,
    admin: dict[str, str],
    crm: dict[str, str],
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    written = await seed_comments(conn, per_topic=20, locales=("en",))
    await run_themes(client, admin, settings, pool)
    delivery = (await theme_of(conn, written["delivery"])).most_common(1)[0][0]
    billing = (await theme_of(conn, written["billing"])).most_common(1)[0][0]
    merged = await client.post(f"/v1/themes/{billing}/merge", json={"into": delivery}, headers=admin)
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == delivery
    assert set(await theme_of(conn, written["billing"])) == {delivery}
    gone = (await client.get(f"/v1/themes/{billing}", headers=crm)).json()["theme"]
    assert gone["status"] == "merged"
    assert gone["merged_into"] == delivery
    listed = {theme["id"] for theme in (await client.get("/v1/themes", headers=crm)).json()["items"]}
    assert billing not in listed
    assert delivery in listed

    await run_themes(client, admin, settings, pool)
    # the next run finds billing's topic again, and its comments stay with the theme it was merged into
    assert (await theme_of(conn, written["billing"])).most_common(1)[0][0] == delivery
    again = await client.post(f"/v1/themes/{billing}/merge", json={"into": delivery}, headers=admin)
    assert again.status_code == 409
    into_merged = await client.post(f"/v1/themes/{delivery}/merge", json={"into": billing}, headers=admin)
    assert into_merged.status_code == 422


async def test_mistakes_are_problems_not_errors(
    client: Client, conn: asyncpg.Connection, admin: dict[str, str], crm: dict[str, str]
) -> None:
    assert (await client.get("/v1/themes/1", headers=crm)).status_code == 404
    for path in ("/v1/themes", "/v1/analytics/themes"):  # a trailing newline is no language code
        newline = await client.get(path, params={"locale": "en\n"}, headers=crm)
        assert newline.status_code == 422, newline.text
        assert newline.json()["errors"][0]["field"] == "locale"
    assert (await client.get(f"/v1/themes/{2**63}", headers=crm)).status_code == 404
    assert (await client.patch(f"/v1/themes/{2**64}", json={"label": "x"}, headers=admin)).status_code == 404
    assert (await client.post("/v1/themes/1/merge", json={"into": 1}, headers=admin)).status_code == 422
    assert (await client.post("/v1/themes/1/merge", json={"into": 0}, headers=admin)).status_code == 422
    blank = await client.patch("/v1/themes/1", json={"label": "   "}, headers=admin)
    assert blank.status_code == 422
    assert blank.headers["content-type"].startswith("application/problem+json")
    theme = await conn.fetchval("INSERT INTO themes (locale, label) VALUES ('en', 'late') RETURNING id")
    nul = await client.patch(f"/v1/themes/{theme}", json={"label": "late\u0000"}, headers=admin)
    assert nul.status_code == 422
    assert (
        await client.patch(f"/v1/themes/{theme}", json={"label": "x" * 121}, headers=admin)
    ).status_code == 422
    unknown = await client.patch(f"/v1/themes/{theme}", json={"label": "ok", "status": "x"}, headers=admin)
    assert unknown.status_code == 422
    assert (
        await client.post(f"/v1/themes/{theme}/merge", json={"into": "2"}, headers=admin)
    ).status_code == 422
    # reading is the CRM's; changing is an admin's
    assert (await client.patch("/v1/themes/1", json={"label": "x"}, headers=crm)).status_code == 403
    assert (await client.post("/v1/themes/runs", headers=crm)).status_code == 403
    assert (await client.get("/v1/themes?locale=DE", headers=crm)).status_code in (400, 422)


async def test_one_run_at_a_time(client: Client, admin: dict[str, str]) -> None:
    first = await client.post("/v1/themes/runs", headers=admin)
    second = await client.post("/v1/themes/runs", headers=admin)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]


async def test_the_scheduler_asks_for_a_run_when_one_is_due(
    client: Client,
    conn: asyncpg.Connection,
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    scheduler = ThemeScheduler(pool, settings)
    assert await scheduler.check() is None  # no comments: nothing to do
    await seed_comments(conn, per_topic=2, locales=("en",))
    run = await scheduler.check()
    assert run is not None
    assert run.requested_by == "scheduler"
    assert await scheduler.check() is None  # one is queued already
    await conn.execute("UPDATE theme_runs SET status = 'succeeded', finished_at = now()")
    assert await scheduler.check() is None  # the last one is recent


async def test_analytics_show_share_impact_churn_and_trend(
    client: Client,
    conn: asyncpg.Connection,
    admin: dict[str, str],
    crm: dict[str, str],
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    written = await seed_comments(conn, per_topic=20, locales=("en",))
    # half of those who wrote about delivery churned, nobody else
    churned = await conn.fetch(
        "SELECT customer_id FROM responses WHERE id = ANY($1::uuid[])", written["delivery"][:10]
    )
    start = datetime.now(UTC) - timedelta(days=1)
    for row in churned:
        await conn.execute(
            "INSERT INTO customer_events (customer_id, kind, occurred_at) VALUES ($1, 'churned', $2)",
            row["customer_id"],
            start,
        )
    await run_themes(client, admin, settings, pool)
    delivery = (await theme_of(conn, written["delivery"])).most_common(1)[0][0]
    report = (await client.get("/v1/analytics/themes", headers=crm)).json()
    assert report["commented_answers"] == 60
    item = next(theme for theme in report["themes"] if theme["theme_id"] == delivery)
    assert 25 <= item["share"]["value"] <= 40
    assert item["share"]["low"] < item["share"]["value"]
    # delivery comments come from detractors (0-6): NPS -100, far below the others
    assert item["nps"]["with_theme"]["value"] == -100
    assert item["nps"]["difference"]["high"] < 0
    assert item["churn"]["churned"] == 10
    assert item["churn"]["other_churned"] == 0
    assert item["churn"]["ratio"] is None  # no churn elsewhere: a ratio has no interval
    assert sum(point["comments"] for point in item["trend"]) == item["comments"]
    assert all(0 <= point["share"]["value"] <= 100 for point in item["trend"])


async def test_erasure_takes_a_customers_words_out_of_the_themes(
    client: Client,
    conn: asyncpg.Connection,
    admin: dict[str, str],
    crm: dict[str, str],
    settings: Settings,
    pool: asyncpg.Pool,
) -> None:
    written = await seed_comments(conn, per_topic=12, locales=("en",))
    secret = "parcel late, my neighbour Jonathan Quirke at 12 Elm Street took it"
    who = await customer(conn, locale="en", n=999)
    said = await comment(conn, who, text=secret, score=0, at=datetime.now(UTC))
    await run_themes(client, admin, settings, pool)
    theme_id = await conn.fetchval("SELECT theme_id FROM theme_assignments WHERE response_id = $1", said)
    assert theme_id is not None

    erased = await client.delete(f"/v1/customers/{who}", headers=crm)
    assert erased.status_code == 200, erased.text
    assert await conn.fetchval("SELECT count(*) FROM theme_assignments WHERE response_id = $1", said) == 0
    detail = (await client.get(f"/v1/themes/{theme_id}", headers=crm)).json()
    assert all("Quirke" not in example["comment"] for example in detail["examples"])
    # nothing in the theme tables holds a copy of the words
    dump = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM themes t")
    assert "quirke" not in dump.lower()
    assert "jonathan" not in dump.lower()
    await run_themes(client, admin, settings, pool)
    assert await conn.fetchval("SELECT count(*) FROM theme_assignments WHERE response_id = $1", said) == 0
    assert len(written["delivery"]) == 12


async def test_the_schedulers_question_can_use_the_comment_index(conn: asyncpg.Connection) -> None:
    # asked every few minutes by every process: it must never have to read every answer
    from feedback_svc.themes.queries import Q

    await conn.execute("SET enable_seqscan = off")
    plan = await conn.fetch("EXPLAIN " + Q["run_due"], timedelta(hours=24))
    assert "responses_commented_time_idx" in "\n".join(row[0] for row in plan)
