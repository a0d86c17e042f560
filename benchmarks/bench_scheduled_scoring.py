"""A scoring run over a whole base: how long every active customer takes, start to intake.

    python -m benchmarks.bench_scheduled_scoring [--customers 20000] [--lanes 1 2] [--batch 500]

Simulates `--customers` customers with their whole history (ml.simulator: answers, interactions,
purchases, churn) ending now, in a scratch database `bench_scoring_<hex>` on the server in
DATABASE_URL (or an embedded one), dropped afterwards. Then, for each `--lanes` figure, one
scoring run exactly as the scheduler does it (feedback_svc/scoring/runs.py): ranges of `--batch`
customers claimed with SKIP LOCKED, features read, scored with the shipped baseline, scores and
at-risk candidates stored, and the proactive intake decided with the default rule (the model
card's critical band) and a daily limit of 20. Every run is timed from its start (cutting the
ranges) to its end (the intake's transaction committed). Prints one line per run.
"""

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from feedback_svc.db import migrate
from feedback_svc.db.pool import create_pool
from feedback_svc.scoring import runs
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.settings import Settings
from ml.simulator import populate


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def one_run(pool: asyncpg.Pool, settings: Settings, *, lanes: int) -> str:
    scorers = ScorerCache(refresh_seconds=3600)
    await scorers.scorer(pool)  # the model loads once per process, not per run: not timed
    began = time.perf_counter()
    run, _ = await runs.start_run(pool, scorers, settings, trigger="cli", requested_by="benchmark")
    assert run is not None
    cut = time.perf_counter() - began
    finished = await runs.work_on_run(pool, scorers, run, lanes=lanes)
    seconds = time.perf_counter() - began
    assert finished is not None
    scored = finished["customers_scored"]
    return (
        f"lanes {lanes}: {seconds:.1f} s for {scored:,} active customers ({scored / seconds:,.0f}/s; "
        f"{finished['customers_skipped']:,} skipped, {finished['ranges']} ranges cut in {cut:.2f} s); "
        f"{finished['at_risk']:,} at risk, {finished['tasks_opened']} tasks opened, "
        f"{finished['already_queued']} already queued, {finished['left_out']:,} left out"
    )


async def run(server_url: str, *, customers: int, lanes: list[int], batch: int) -> None:
    name = f"bench_scoring_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        conn = await asyncpg.connect(url)
        try:
            began = time.perf_counter()
            await populate(conn, customers=customers, seed=1, now=datetime.now(UTC))
            await conn.execute("ANALYZE")
            print(f"simulated {customers:,} customers in {time.perf_counter() - began:.0f} s", flush=True)
        finally:
            await conn.close()
        settings = Settings(
            database_url=url, secret_key="b" * 40, scoring_batch_size=batch, db_pool_min=1, db_pool_max=8
        )
        pool = await create_pool(settings, url)
        try:
            for count in lanes:
                print(await one_run(pool, settings, lanes=count), flush=True)
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_scheduled_scoring", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        server = os.environ.get("DATABASE_URL")
        if not server:  # an embedded server of its own, in a scratch folder
            from feedback_svc.db.embedded import embedded_database

            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scoring-")))
            server = _with_database(stack.enter_context(embedded_database(folder)), "postgres")
        asyncio.run(run(server, customers=args.customers, lanes=args.lanes, batch=args.batch))


if __name__ == "__main__":
    main()
