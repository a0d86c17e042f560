"""What the console pages cost to render: queue, task and analytics against GET /health/live.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python -m benchmarks.bench_console [--customers 3000] [--requests 100] [--rounds 3]

Creates a scratch database on that server (migrated), fills it with N customers, each with
an answer, an interaction and a score, N open recovery tasks and N/2 resolved ones, signs a
manager in through the real login form, then times sequential requests to each page in
interleaved rounds through the app in-process (no HTTP server, so the figures are the
app's own cost: guard, queries, Jinja and SVG). Prints ms per page and the ratio to
/health/live; drops the database at the end.
"""

import argparse
import asyncio
import os
import re
import secrets
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.db import migrate
from feedback_svc.settings import Settings
from feedback_svc.users.service import create_user

PASSWORD = "bench-password-long-enough"
SEED = """
INSERT INTO customers (external_id, name, value, segment)
SELECT 'bench-' || i, 'Customer ' || i, 50 + (i * 37) % 5000,
       (ARRAY['smb', 'enterprise', 'consumer'])[1 + i % 3]
  FROM generate_series(1, $1) i;
INSERT INTO interactions (customer_id, touchpoint, occurred_at)
SELECT id, 'delivery', now() - (random() * interval '300 days') FROM customers;
INSERT INTO responses (customer_id, survey_id, kind, score, comment, channel, touchpoint,
                       answered_at, editable_until)
SELECT c.id, s.id, 'nps', (random() * 10)::int, 'It was ' || (random() * 10)::int, 'email', 'delivery',
       now() - (random() * interval '300 days'), now()
  FROM customers c, surveys s WHERE s.key = 'nps';
INSERT INTO scores (customer_id, model_version, churn_probability, loyalty, risk_band, reasons)
SELECT id, 'bench', random(), random(), 'medium',
       '[{"feature": "latest_nps", "label": "Latest NPS", "value": 3, "contribution": 0.8}]'::jsonb
  FROM customers;
INSERT INTO recovery_tasks (customer_id, trigger, touchpoint, priority, priority_reasons, deadline_at)
SELECT id, 'nps_detractor', 'delivery', random() * 100,
       '[{"factor": "urgency", "points": 30, "text": "NPS detractor"}]'::jsonb,
       now() + (random() * interval '48 hours') - interval '12 hours'
  FROM customers;
INSERT INTO recovery_tasks (customer_id, trigger, status, outcome, root_cause, priority, deadline_at,
                            resolved_at, first_contact_at, created_at)
SELECT id, 'csat_low', 'resolved', (ARRAY['recovered', 'not_recovered', 'unreachable'])[1 + i % 3],
       (ARRAY['late_delivery', 'price', 'billing_error', 'rude_agent'])[1 + i % 4], 10,
       now() - interval '20 days', now() - interval '19 days', now() - interval '20 days 2 hours',
       now() - interval '21 days'
  FROM (SELECT id, row_number() OVER () AS i FROM customers) c WHERE i % 2 = 0;
"""


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _seed(url: str, customers: int) -> str:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for statement in SEED.split(";\n"):
                if statement.strip():
                    args = (customers,) if "$1" in statement else ()
                    await conn.execute(statement, *args)
            await create_user(conn, email="boss@example.com", name="Boss", role="manager", password=PASSWORD)
        await conn.execute("ANALYZE")
        return str(await conn.fetchval("SELECT id FROM recovery_tasks WHERE status = 'open' LIMIT 1"))
    finally:
        await conn.close()


async def _time(client: AsyncTestClient, path: str, requests: int) -> list[float]:
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return timings


async def main(customers: int, requests: int, rounds: int) -> None:
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"bench_console_{secrets.token_hex(4)}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        task_id = await _seed(url, customers)
        settings = Settings(
            database_url=url, secret_key="bench-" + "x" * 32, run_workers=False, log_level="WARNING"
        )
        pages = {
            "GET /health/live": "/health/live",
            "GET /console/queue": "/console/queue",
            "GET /console/tasks/{id}": f"/console/tasks/{task_id}",
            "GET /console/analytics": "/console/analytics",
        }
        results: dict[str, list[float]] = {label: [] for label in pages}
        async with AsyncTestClient(app=create_app(settings)) as client:
            login = await client.get("/console/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
            await client.post(
                "/console/login",
                data={
                    "email": "boss@example.com",
                    "password": PASSWORD,
                    "csrf_token": token,
                    "next": "/console",
                },
            )
            for path in pages.values():  # warm-up: compiled templates, prepared statements
                await _time(client, path, 3)
            for _ in range(rounds):
                for label, path in pages.items():
                    results[label] += await _time(client, path, requests)
        base = statistics.mean(results["GET /health/live"])
        print(f"{customers} customers, {customers} open + {customers // 2} resolved tasks; "
              f"{rounds} rounds x {requests} sequential requests per page")  # fmt: skip
        print(f"{'page':<26}{'mean ms':>10}{'p50 ms':>10}{'p95 ms':>10}{'x health':>10}")
        for label, timings in results.items():
            ordered = sorted(timings)
            mean = statistics.mean(timings)
            print(
                f"{label:<26}{mean:>10.2f}{ordered[len(ordered) // 2]:>10.2f}"
                f"{ordered[int(len(ordered) * 0.95)]:>10.2f}{mean / base:>10.1f}"
            )
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.requests, args.rounds))
