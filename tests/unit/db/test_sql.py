from pathlib import Path

import pytest

import feedback_svc
from feedback_svc.db.sql import QueryFileError, parse_queries


def test_blocks_are_split_by_name_with_their_comments() -> None:
    queries = parse_queries(
        "-- header\n-- name: first_one\n-- why\nSELECT 1;\n\n-- name: second\nSELECT $1;\n"
    )
    assert queries == {"first_one": "-- why\nSELECT 1;", "second": "SELECT $1;"}


def test_a_duplicate_name_is_refused() -> None:
    with pytest.raises(QueryFileError, match="twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


def test_a_block_without_sql_is_refused() -> None:
    with pytest.raises(QueryFileError, match="no SQL"):
        parse_queries("-- name: a\n-- only a comment\n-- name: b\nSELECT 1;\n")


def test_every_shipped_sql_file_parses() -> None:
    files = list(Path(feedback_svc.__file__).parent.rglob("*.sql"))
    assert files
    for path in files:
        assert parse_queries(path.read_text(), source=str(path))


def test_each_connection_can_keep_every_shipped_statement_prepared() -> None:
    # a statement evicted from asyncpg's per-connection cache is prepared again: one more round
    # trip on a request that happens to follow a varied stretch of traffic
    from feedback_svc.db.pool import STATEMENT_CACHE_SIZE

    files = Path(feedback_svc.__file__).parent.rglob("*.sql")
    statements = sum(len(parse_queries(path.read_text(), source=str(path))) for path in files)
    assert statements > 100  # asyncpg's default cache would not hold them
    assert statements <= STATEMENT_CACHE_SIZE
