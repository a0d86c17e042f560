"""The asyncpg pool: JSON columns decoded by msgspec, one pool per process."""

import asyncpg
import msgspec

from feedback_svc.settings import Settings
from ml.queries import FEATURE_PLANNING

STATEMENT_CACHE_SIZE = 512

_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


def _encode_json(value: object) -> str:
    return _json_encoder.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=_json_decoder.decode, schema="pg_catalog"
        )


async def keep_session(conn: asyncpg.Connection) -> None:
    """Hand a connection back as it is, after asyncpg has rolled back any open transaction.

    asyncpg's default reset sends RESET ALL, CLOSE ALL, UNLISTEN * and an advisory unlock
    on every release: one more round trip per request. None of that is ever left behind
    here: no code sets session variables (SET LOCAL only), listens, or takes session-level
    advisory locks (only pg_advisory_xact_lock), so the round trip bought nothing.
    """


async def create_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """Open the pool; fails fast with the server's own message if unreachable."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout,
        init=_init_connection,
        reset=keep_session,
        # statements are prepared per connection; bound the cache, not the pool
        max_cached_statement_lifetime=0,
        # the service names some 360 statements; with asyncpg's default of 100 a connection
        # that serves a varied day evicts and prepares them again, one more round trip each
        statement_cache_size=STATEMENT_CACHE_SIZE,
        # JIT compilation costs 100-200 ms on the feature query for a 1,000-customer batch,
        # several times the query itself; the service's queries are short OLTP statements
        server_settings={"application_name": "feedback-svc", "jit": "off"},
    )
    assert pool is not None
    return pool


class FeatureConnection(asyncpg.Connection):  # type: ignore[misc]
    """A session planned for the feature query (see ml.queries): generic plans, no JIT, no bitmap scans."""

    features_tuned = True


async def create_feature_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """A small pool for scoring whose sessions are set up for the feature query once.

    The feature query costs 1.2 ms to plan for 0.4 ms of work, and PostgreSQL keeps
    re-planning it; a generic plan is as fast for one customer or a thousand. Forcing
    generic plans on the main pool could hurt other queries, and setting it around
    each call cost two round trips per score, so scoring has sessions of its own.
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min(1, settings.db_scoring_pool_max),
        max_size=settings.db_scoring_pool_max,
        timeout=settings.db_connect_timeout,
        init=_init_connection,
        reset=keep_session,
        max_cached_statement_lifetime=0,
        connection_class=FeatureConnection,
        # generic plans, no JIT, no bitmap scans: why, in ml/queries.py
        server_settings={"application_name": "feedback-svc scoring", **FEATURE_PLANNING},
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection with the same codecs, for CLI commands and tests."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
