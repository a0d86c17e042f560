"""Typed wrappers over demo/queries.sql."""

from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool


def demo_pattern(seed: int) -> str:
    """The external ids the simulator gives this seed's customers (`sim-<seed>-<n>`), as a LIKE pattern."""
    return f"sim-{seed}-%"


async def demo_customers_exist(conn: Conn, *, seed: int) -> bool:
    return bool(await conn.fetchval(Q["demo_customers_exist"], demo_pattern(seed)))


async def living_customers(conn: Conn) -> list[UUID]:
    return [row["id"] for row in await conn.fetch(Q["living_customers"])]


async def open_demo_tasks(conn: Conn, *, seed: int) -> list[dict[str, Any]]:
    return [dict(row) for row in await conn.fetch(Q["open_demo_tasks"], demo_pattern(seed))]


async def analyze_after_load(conn: Conn) -> None:
    await conn.execute(Q["analyze_after_load"])
