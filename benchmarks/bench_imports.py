"""Bulk imports against a raw COPY of the same rows, side by side in one run.

    python -m benchmarks.bench_imports [--customers 200000] [--events 1000000] [--rounds 2]

Per round, on a fresh database each: a raw `COPY ... FROM STDIN (FORMAT csv)` of the customers
file into a plain table of the same columns (no indexes, no checks: the floor), then
`feedback-svc import`'s path (every row validated as POST /v1/customers validates it, staged by
COPY, applied by set-based upserts into the real table with its indexes and triggers); then the
same for the events file. Rounds interleave, so drift in machine load hits both alike. Prints
rows/s and the import's share of raw COPY's speed.

Uses the embedded PostgreSQL unless DATABASE_URL is set (an admin URL: a database per round is
created on that server and dropped after).
"""

import argparse
import asyncio
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from feedback_svc.db import migrate
from feedback_svc.db.pool import create_pool
from feedback_svc.imports.service import import_file
from feedback_svc.settings import Settings

ZONES = ["Europe/Berlin", "Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"]
KINDS = ["purchase"] * 17 + ["refunded", "renewed", "upgraded"]

RAW_CUSTOMERS = """CREATE TABLE raw_customers (
    external_id text, email text, phone text, name text, time_zone text, locale text,
    value double precision, segment text, plan text, seats double precision)"""
RAW_EVENTS = """CREATE TABLE raw_events (
    customer_external_id text, kind text, occurred_at timestamptz, value double precision,
    currency text, external_id text)"""


def write_customers(path: Path, count: int, seed: int) -> None:
    rand = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("external_id,email,phone,name,time_zone,locale,value,segment,plan,seats\n")
        for n in range(count):
            out.write(
                f"c{n},first.last{n}@example{n % 50}.com,+49151{n:08d},Customer {n},{rand.choice(ZONES)},"
                f"{rand.choice(['en', 'de', 'fr'])},{rand.randint(0, 20000)},"
                f"{rand.choice(['smb', 'mid', 'ent'])},{rand.choice(['free', 'pro', 'team'])},"
                f"{rand.randint(1, 200)}\n"
            )


def write_events(path: Path, count: int, customers: int, seed: int, *, ids: str = "e") -> None:
    rand = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("customer_external_id,kind,occurred_at,value,currency,external_id\n")
        for n in range(count):
            day = rand.randint(1, 540)
            out.write(
                f"c{rand.randrange(customers)},{rand.choice(KINDS)},"
                f"2025-{(day // 31) % 12 + 1:02d}-{day % 28 + 1:02d}T{rand.randint(0, 23):02d}:00:00Z,"
                f"{rand.randint(1, 50000) / 100},EUR,{ids}{n}\n"
            )


@dataclass
class Timing:
    name: str
    rows: int
    seconds: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows / statistics.median(self.seconds)

    def line(self) -> str:
        spread = ", ".join(f"{s:.2f}" for s in self.seconds)
        return f"{self.name:44} {self.rate:10,.0f} rows/s   ({self.rows:,} rows; seconds per round: {spread})"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def server() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from feedback_svc.db.embedded import embedded_database

    with (
        tempfile.TemporaryDirectory(prefix="feedback-bench-imports-") as data,
        embedded_database(Path(data)) as app,
    ):
        yield with_database(app, "postgres")


async def fresh_database(admin_url: str) -> str:
    name = f"bench_imports_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    url = with_database(admin_url, name)
    await asyncio.to_thread(migrate.upgrade, url)
    return url


async def drop_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path.lstrip('/')} WITH (FORCE)")
    finally:
        await conn.close()


async def raw_copy(url: str, path: Path, create: str, table: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(create)
        started = time.perf_counter()
        await conn.copy_to_table(table, source=path, format="csv", header=True)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def service_import(url: str, path: Path, kind: str) -> float:
    settings = Settings(database_url=url, secret_key="benchmark-" + "x" * 32, log_level="WARNING")
    pool = await create_pool(settings, url)
    try:
        started = time.perf_counter()
        done, _ = await import_file(pool, path, kind=kind, fmt="csv", settings=settings, requested_by="bench")  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
    finally:
        await pool.close()
    if done.status != "succeeded" or done.rows_invalid:
        raise RuntimeError(f"the {kind} import did not take every row: {done}")
    return seconds


async def run(args: argparse.Namespace, admin_url: str, files: Path) -> dict[str, Timing]:
    customers, events = files / "customers.csv", files / "events.csv"
    write_customers(customers, args.customers, seed=1)
    write_events(events, args.events, args.customers, seed=2)
    timings = {
        name: Timing(name, rows)
        for name, rows in [
            ("raw COPY, customers", args.customers),
            ("feedback-svc import, customers", args.customers),
            ("raw COPY, events", args.events),
            ("feedback-svc import, events", args.events),
        ]
    }
    for _ in range(args.rounds):
        url = await fresh_database(admin_url)
        try:
            timings["raw COPY, customers"].seconds.append(
                await raw_copy(url, customers, RAW_CUSTOMERS, "raw_customers")
            )
            timings["feedback-svc import, customers"].seconds.append(
                await service_import(url, customers, "customers")
            )
            timings["raw COPY, events"].seconds.append(await raw_copy(url, events, RAW_EVENTS, "raw_events"))
            timings["feedback-svc import, events"].seconds.append(await service_import(url, events, "events"))
        finally:
            await drop_database(admin_url, url)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with server() as admin_url, tempfile.TemporaryDirectory(prefix="feedback-bench-files-") as files:
        timings = asyncio.run(run(args, admin_url, Path(files)))
    print(
        f"# {platform.node()} {os.cpu_count()} cpus, {args.rounds} rounds, database: "
        f"{'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded PostgreSQL'}; median of the rounds"
    )
    for timing in timings.values():
        print(timing.line())
    for kind in ("customers", "events"):
        ratio = timings[f"feedback-svc import, {kind}"].rate / timings[f"raw COPY, {kind}"].rate
        print(f"{kind:10} import at {ratio:.2f} x raw COPY's rows/s")


if __name__ == "__main__":
    main()
