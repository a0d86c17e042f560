"""Imputed inputs reach PostgreSQL as text[] literals; any text must come back as it went in."""

import asyncpg
import pytest

from feedback_svc.scoring.queries import array_literal


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["latest_nps"],
        ["attr:plan", "touchpoint:support_call"],
        ['q"uote', "back\\slash", "a,b", "{brace}", " spaced ", "NULL", "", "é ✓"],
    ],
)
async def test_any_text_survives_the_round_trip(conn: asyncpg.Connection, values: list[str]) -> None:
    assert await conn.fetchval("SELECT $1::text::text[]", array_literal(values)) == values
