"""The main pool's statement cache holds every named query the service has."""

from pathlib import Path

import feedback_svc
from feedback_svc.db.pool import STATEMENT_CACHE_SIZE
from feedback_svc.db.sql import load_queries


def test_every_named_query_fits_in_the_statement_cache() -> None:
    root = Path(feedback_svc.__file__).parent
    named = sum(len(load_queries(path)) for path in root.rglob("*.sql"))
    assert named > 100  # asyncpg's default cache would keep evicting some
    assert named <= STATEMENT_CACHE_SIZE
