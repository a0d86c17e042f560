"""Bulk imports over HTTP: rows checked as the single endpoints check them, by line, and applied once."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest

from feedback_svc.db.pool import create_pool
from feedback_svc.imports import _apply
from feedback_svc.settings import Settings
from tests.integration.imports.conftest import NDJSON, Client, errors_of, imported, run_imports, upload

CUSTOMERS_CSV = (
    "external_id,email,phone,name,time_zone,value,segment,plan,seats,trial\n"
    "crm-1,ana@example.com,+4915112345678,Ana,Europe/Berlin,1200,smb,pro,12,false\n"
    'crm-2,"ben@example.com",,"Ben, Jr.",UTC,80,,free,,true\n'
    "crm-3,not-an-email,,Cid,Mars/Olympus,,,,,\n"  # two problems on one line
    "crm-4,dee@example.com,12345,Dee,UTC,,,,,\n"
    "crm-5,eve@example.com,,Eve,UTC,-3,,,,\n"
)


async def test_customers_csv_keeps_the_good_rows_and_says_why_each_bad_one_was_refused(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    done = await imported(
        client, pool, settings, crm, "customers", CUSTOMERS_CSV, params={"file_name": "crm.csv"}
    )

    assert done["status"] == "succeeded"
    assert (done["rows_total"], done["rows_valid"], done["rows_invalid"]) == (5, 2, 3)
    assert (done["rows_created"], done["rows_updated"], done["rows_applied"]) == (2, 0, 2)
    assert done["file_name"] == "crm.csv"
    ana = await conn.fetchrow("SELECT * FROM customers WHERE external_id = 'crm-1'")
    assert (ana["email"], ana["phone"], ana["time_zone"], ana["value"]) == (
        "ana@example.com",
        "+4915112345678",
        "Europe/Berlin",
        1200.0,
    )
    # columns that are not fields are attributes; numbers and true/false read as such
    assert ana["attributes"] == {"plan": "pro", "seats": 12.0, "trial": False}
    ben = await conn.fetchrow("SELECT name, segment, attributes FROM customers WHERE external_id = 'crm-2'")
    assert (ben["name"], ben["segment"], ben["attributes"]) == (
        "Ben, Jr.",
        None,
        {"plan": "free", "trial": True},
    )

    errors = await errors_of(client, crm, done["id"])
    assert sorted({e["line"] for e in errors}) == [4, 5, 6]  # the header is line 1
    by_line = {(e["line"], e["field"]): e["message"] for e in errors}
    # the same words POST /v1/customers answers with
    single = await client.post(
        "/v1/customers",
        json={"external_id": "x", "email": "not-an-email", "time_zone": "Mars/Olympus"},
        headers=crm,
    )
    assert single.status_code == 422
    for error in single.json()["errors"]:
        assert by_line[(4, error["field"])] == error["message"]
    assert "phone number" in by_line[(5, "phone")]
    assert (6, "value") in by_line


async def test_the_same_file_or_key_again_changes_nothing(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    first = await imported(client, pool, settings, crm, "customers", CUSTOMERS_CSV)
    again = await upload(client, crm, "customers", CUSTOMERS_CSV)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    assert again.headers["location"] == f"/v1/imports/{first['id']}"

    keyed = {**crm, "Idempotency-Key": "load-2026-12-06"}
    other = "external_id,name\ncrm-9,Nina\n"
    sent = await upload(client, keyed, "customers", other)
    assert sent.status_code == 202, sent.text
    retried = await upload(client, keyed, "customers", other)
    assert retried.status_code == 200
    assert retried.json()["id"] == sent.json()["id"]
    assert retried.headers["idempotent-replayed"] == "true"
    await run_imports(pool, settings)
    assert await conn.fetchval("SELECT count(*) FROM imports") == 2
    assert await conn.fetchval("SELECT count(*) FROM customers") == 3
    # staging is empty once imports are done
    for table in ("import_lines", "import_customer_rows"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_events_by_the_crms_ids_are_stored_once_and_unknown_customers_refused(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    await imported(client, pool, settings, crm, "customers", "external_id\ncrm-1\ncrm-2\n")
    day = datetime(2026, 3, 1, tzinfo=UTC)

    def event(customer: str, kind: str, at: datetime, **more: object) -> dict[str, object]:
        return {"customer_external_id": customer, "kind": kind, "occurred_at": at.isoformat(), **more}

    lines = [
        event("crm-1", "purchase", day, value=19.9, currency="EUR", external_id="o-1"),
        event("crm-2", "purchase", day + timedelta(days=1), value=5.0, external_id="o-2"),
        event("nobody", "purchase", day, external_id="o-3"),
        event("crm-1", "bought", day),
        event("crm-1", "refunded", day, value=19.9),
        event("crm-1", "purchase", datetime(2999, 1, 1, tzinfo=UTC)),
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    done = await imported(client, pool, settings, crm, "events", body, media=NDJSON)

    assert (done["rows_total"], done["rows_created"], done["rows_invalid"]) == (6, 3, 3)
    errors = {e["line"]: e for e in await errors_of(client, crm, done["id"])}
    assert set(errors) == {3, 4, 6}
    assert "import customers first" in errors[3]["message"]
    assert errors[4]["field"] == "kind"
    assert errors[6]["field"] == "occurred_at"
    stored = await conn.fetch(
        "SELECT external_id, amount, currency, import_id FROM customer_events ORDER BY external_id NULLS LAST"
    )
    assert [(r["external_id"], r["amount"], r["currency"]) for r in stored] == [
        ("o-1", 19.9, "EUR"),
        ("o-2", 5.0, None),
        (None, 19.9, None),
    ]
    assert {str(r["import_id"]) for r in stored} == {done["id"]}

    # a later export with the same orders (and one new) adds only the new one
    again = body.replace('"o-2"', '"o-2"').replace("\n\n", "\n") + json.dumps(
        {
            "customer_external_id": "crm-2",
            "kind": "renewed",
            "occurred_at": day.isoformat(),
            "external_id": "r-1",
        }
    )
    second = await imported(client, pool, settings, crm, "events", again, media=NDJSON)
    assert (second["rows_created"], second["rows_unchanged"]) == (2, 2)  # r-1 and the refund without an id
    assert await conn.fetchval("SELECT count(*) FROM customer_events WHERE external_id IS NOT NULL") == 3


async def test_an_external_id_reused_for_another_event_is_refused_as_the_api_refuses_it(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    await imported(client, pool, settings, crm, "customers", "external_id\ncrm-1\n")
    body = (
        "customer_external_id,kind,occurred_at,value,external_id\n"
        "crm-1,purchase,2026-03-01,10,o-1\n"
        "crm-1,purchase,2026-03-02,10,o-1\n"
    )
    done = await imported(client, pool, settings, crm, "events", body)
    assert (done["rows_created"], done["rows_invalid"]) == (1, 1)
    [error] = await errors_of(client, crm, done["id"])
    assert (error["line"], error["field"]) == (3, "external_id")
    # a date without an offset is midnight in the import's time zone (UTC by default)
    assert await conn.fetchval("SELECT occurred_at FROM customer_events") == datetime(2026, 3, 1, tzinfo=UTC)

    # against events stored before: the same event again is a repeat, another one a refusal
    head = "customer_external_id,kind,occurred_at,value,external_id\n"
    again = await imported(client, pool, settings, crm, "events", head + "crm-1,purchase,2026-03-01,10,o-1\n")
    assert (again["rows_created"], again["rows_invalid"]) == (0, 0)
    other = await imported(client, pool, settings, crm, "events", head + "crm-1,refunded,2026-03-01,10,o-1\n")
    assert (other["rows_created"], other["rows_invalid"]) == (0, 1)
    [error] = await errors_of(client, crm, other["id"])
    assert (error["line"], error["field"]) == (2, "external_id")
    assert await conn.fetchval("SELECT count(*) FROM customer_events") == 1


async def test_attribute_history_comes_in_as_of_order_and_backfills(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    body = (
        "external_id,as_of,value,plan\n"
        "crm-1,2026-06-01T00:00:00Z,300,gold\n"
        "crm-1,2026-01-01T00:00:00Z,100,bronze\n"  # older, later in the file: applied first
        "crm-1,2026-03-01T00:00:00Z,200,\n"  # the plan not sent: it stays bronze then
    )
    done = await imported(client, pool, settings, crm, "customers", body)
    assert (done["rows_created"], done["rows_updated"], done["rows_invalid"]) == (1, 2, 0)
    current = await conn.fetchrow("SELECT id, value, attributes, attributes_since FROM customers")
    assert (current["value"], current["attributes"]) == (300.0, {"plan": "gold"})
    assert current["attributes_since"] == datetime(2026, 6, 1, tzinfo=UTC)
    history = await conn.fetch(
        "SELECT valid_from, valid_to, value, attributes FROM customer_attribute_history ORDER BY valid_from"
    )
    assert [(h["valid_from"].month, h["valid_to"].month, h["value"], h["attributes"]) for h in history] == [
        (1, 3, 100.0, {"plan": "bronze"}),
        (3, 6, 200.0, {"plan": "bronze"}),
    ]

    # history learnt later fills in between, changing nothing current
    late = "external_id,as_of,plan,name\ncrm-1,2026-02-01T00:00:00Z,silver,Renamed\n"
    backfilled = await imported(client, pool, settings, crm, "customers", late)
    assert backfilled["rows_updated"] == 1
    history = await conn.fetch(
        "SELECT valid_from, valid_to, value, attributes FROM customer_attribute_history ORDER BY valid_from"
    )
    assert [(h["valid_from"].month, h["valid_to"].month, h["value"], h["attributes"]) for h in history] == [
        (1, 2, 100.0, {"plan": "bronze"}),
        (2, 3, 100.0, {"plan": "silver"}),
        (3, 6, 200.0, {"plan": "bronze"}),
    ]
    assert await conn.fetchval("SELECT name FROM customers") is None


async def test_imported_interactions_are_history_and_invite_nobody(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    await imported(client, pool, settings, crm, "customers", "external_id,email\ncrm-1,ana@example.com\n")
    body = (
        "customer_external_id,touchpoint,occurred_at,external_id,agent,duration_minutes\n"
        "crm-1,support_call,2026-11-01T10:00:00+01:00,call-1,sam,12\n"
        "crm-1,delivery,2026-11-02T10:00:00Z,del-1,,\n"
    )
    done = await imported(client, pool, settings, crm, "interactions", body)
    assert (done["rows_created"], done["rows_invalid"]) == (2, 0)
    assert await conn.fetchval("SELECT count(*) FROM invitations") == 0
    call = await conn.fetchrow(
        "SELECT agent, attributes, occurred_at FROM interactions WHERE external_id = 'call-1'"
    )
    assert (call["agent"], call["attributes"]) == ("sam", {"duration_minutes": 12.0})
    assert call["occurred_at"] == datetime(2026, 11, 1, 9, tzinfo=UTC)


async def test_an_erased_customer_takes_nothing_from_an_import(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    created = await client.post("/v1/customers", json={"external_id": "crm-1"}, headers=crm)
    customer_id = created.json()["id"]
    assert (await client.delete(f"/v1/customers/{customer_id}", headers=crm)).status_code == 200
    body = f"customer_id,kind,occurred_at\n{customer_id},purchase,2026-03-01\n"
    done = await imported(client, pool, settings, crm, "events", body)
    [error] = await errors_of(client, crm, done["id"])
    assert "erased" in error["message"]
    # and a customers import with the CRM's old id makes a new customer
    again = await imported(client, pool, settings, crm, "customers", "external_id,name\ncrm-1,New\n")
    assert again["rows_created"] == 1
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE external_id = 'crm-1'") == 1


async def test_unreadable_files_and_requests_get_clear_answers(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings
) -> None:
    no_ref = await imported(client, pool, settings, crm, "events", "kind,occurred_at\npurchase,2026-01-01\n")
    assert no_ref["status"] == "failed"
    assert "customer_external_id" in no_ref["message"]
    wrong_type = await upload(client, crm, "customers", "x", media="application/pdf")
    assert wrong_type.status_code == 415
    assert wrong_type.headers["content-type"].startswith("application/problem+json")
    unknown = await upload(client, crm, "invoices", "a\n")
    assert unknown.status_code in (404, 405)
    bad_zone = await upload(client, crm, "customers", "external_id\nx\n", params={"time_zone": "Nowhere"})
    assert bad_zone.status_code == 422
    agent_only = await upload(
        client, {"Authorization": crm["Authorization"].replace("Bearer ", "Bearer x")}, "customers", "a\n"
    )
    assert agent_only.status_code == 401

    # bytes that are not UTF-8, a NUL, a ragged row: refused by line, the rest kept
    body = b"external_id,name\ncrm-1,Ana\ncrm-2,\xff\xfe\ncrm-3,N\x00ul\ncrm-4,a,b\ncrm-5,Eve\n"
    done = await imported(client, pool, settings, crm, "customers", body.decode("latin-1").encode("latin-1"))
    assert (done["rows_created"], done["rows_invalid"]) == (2, 3)
    messages = {e["line"]: e["message"] for e in await errors_of(client, crm, done["id"])}
    assert "UTF-8" in messages[3]
    assert "NUL" in messages[4]
    assert "3 cells" in messages[5]


async def test_the_command_line_import_reports_progress_and_refused_rows(
    database_url: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS_CSV, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")},
        "DATABASE_URL": database_url,
        "FEEDBACK_SECRET_KEY": "cli-test-" + "x" * 32,
    }
    command = [sys.executable, "-m", "feedback_svc.cli", "import", str(path), "--kind", "customers"]
    first = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 3, first.stderr  # some rows refused
    assert "5 rows, 2 created, 0 updated, 0 unchanged, 3 refused" in first.stdout
    assert "line 4: email:" in first.stdout
    assert "rows" in first.stderr  # the progress bars
    assert await conn.fetchval("SELECT count(*) FROM customers") == 2

    again = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert "was imported before" in again.stdout
    assert await conn.fetchval("SELECT count(*) FROM imports") == 1


async def test_a_worker_that_died_mid_file_is_taken_over_from_its_checkpoint(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    rows = "\n".join(f"crm-{n},name {n}" for n in range(1, 12001))
    sent = await upload(client, crm, "customers", "external_id,name\n" + rows + "\n")
    import_id = sent.json()["id"]
    # as a dead worker leaves it: the first batch committed with its checkpoint, part of the
    # next staged without one
    await conn.execute(
        "UPDATE imports SET status = 'validating', lines_validated = 5001, rows_total = 5000, "
        "rows_valid = 5000 WHERE id = $1",
        import_id,
    )
    await conn.execute(
        "INSERT INTO import_customer_rows (import_id, line, external_id, sent) "
        "SELECT $1, n + 1, 'crm-' || n, '{}' FROM generate_series(1, 7000) n",
        import_id,
    )
    await run_imports(pool, settings)
    done = (await client.get(f"/v1/imports/{import_id}", headers=crm)).json()
    assert (done["status"], done["rows_total"], done["rows_created"], done["rows_invalid"]) == (
        "succeeded",
        12000,
        12000,
        0,
    )
    names = await conn.fetch(
        "SELECT name FROM customers WHERE external_id IN ('crm-1', 'crm-7000', 'crm-12000')"
    )
    # the dead worker's rows sent no name; the ones validated again do, past the checkpoint
    assert sorted(str(r["name"]) for r in names) == ["None", "name 12000", "name 7000"]


async def test_rows_are_held_to_what_the_api_decoding_layer_checks(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    """Extreme instants and patterns with a trailing newline are refused by line, as the API
    refuses them, instead of failing the whole import on an overflow or storing 'en\\n'."""
    await client.post("/v1/customers", json={"external_id": "c1"}, headers=crm)
    events = "\n".join(
        json.dumps(row)
        for row in [
            {"customer_external_id": "c1", "kind": "purchase", "occurred_at": "0001-01-01T00:00:00+14:00"},
            {"customer_external_id": "c1", "kind": "purchase", "occurred_at": "2026-01-01T00:00:00Z"},
        ]
    )
    done = await imported(client, pool, settings, crm, "events", events + "\n", media=NDJSON)
    assert (done["status"], done["rows_valid"], done["rows_invalid"]) == ("succeeded", 1, 1)
    [error] = await errors_of(client, crm, done["id"])
    assert (error["line"], error["field"]) == (1, "occurred_at")
    assert "1900-01-01 to 2999-12-31" in error["message"]

    customers = json.dumps({"external_id": "c2", "locale": "en\n"}) + "\n"
    customers += json.dumps({"external_id": "c3", "locale": "de"}) + "\n"
    done = await imported(client, pool, settings, crm, "customers", customers, media=NDJSON)
    assert (done["rows_valid"], done["rows_invalid"]) == (1, 1)
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE external_id = 'c2'") == 0


async def test_a_quoted_cell_may_hold_line_breaks_and_lines_keep_their_numbers(
    client: Client, crm: dict[str, str], pool: asyncpg.Pool, settings: Settings, conn: asyncpg.Connection
) -> None:
    body = 'external_id,name,note\r\ncrm-1,"Ana\r\nMaria","a, b"\r\ncrm-2,Ben,"x\n\ny"\r\ncrm-3,not,"open\r\n'
    done = await imported(client, pool, settings, crm, "customers", body)
    rows = await conn.fetch("SELECT external_id, name, attributes FROM customers ORDER BY external_id")
    assert [(r["external_id"], r["name"], r["attributes"]) for r in rows] == [
        ("crm-1", "Ana\nMaria", {"note": "a, b"}),
        ("crm-2", "Ben", {"note": "x\n\ny"}),
    ]
    [error] = await errors_of(client, crm, done["id"])
    assert error["line"] == 7  # where the unclosed quote starts


async def test_two_writers_write_each_chunk_once_and_a_marked_chunk_is_not_written_again(
    client: Client,
    crm: dict[str, str],
    settings: Settings,
    database_url: str,
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_apply, "CHUNK_LINES", {**_apply.CHUNK_LINES, "events": 1000})
    wide = msgspec.structs.replace(settings, db_pool_max=8)  # room for two writers
    big = await create_pool(wide, database_url)
    try:
        await imported(
            client, big, wide, crm, "customers", "external_id\n" + "\n".join(f"c{n}" for n in range(50))
        )
        rows = "\n".join(f"c{n % 50},purchase,2026-01-01T00:00:{n % 60:02d}Z,{n},e{n}" for n in range(5000))
        sent = await upload(
            client, crm, "events", "customer_external_id,kind,occurred_at,value,external_id\n" + rows
        )
        import_id = sent.json()["id"]
        # a worker that died had written the third chunk (lines 2001-3000) but not the first two
        await conn.execute("INSERT INTO import_chunks (import_id, chunk) VALUES ($1, 2)", import_id)
        await run_imports(big, wide)
    finally:
        await big.close()
    done = (await client.get(f"/v1/imports/{import_id}", headers=crm)).json()
    assert (done["status"], done["rows_total"], done["rows_applied"]) == ("succeeded", 5000, 4000)
    stored = await conn.fetch("SELECT external_id FROM customer_events")
    numbers = sorted(int(r["external_id"][1:]) for r in stored)
    assert numbers == [n for n in range(5000) if not 1999 <= n < 2999]  # line = n + 2
