"""The asyncpg pool: JSON columns decoded by msgspec, one pool per process."""

import asyncpg
import msgspec

from feedback_svc.settings import Settings

_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


def _encode_json(value: object) -> str:
    return _json_encoder.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=_json_decoder.decode, schema="pg_catalog"
        )


async def create_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """Open the pool; fails fast with the server's own message if unreachable."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout,
        init=_init_connection,
        # statements are prepared per connection; bound the cache, not the pool
        max_cached_statement_lifetime=0,
        # JIT compilation costs 100-200 ms on the feature query for a 1,000-customer batch,
        # several times the query itself; the service's queries are short OLTP statements
        server_settings={"application_name": "feedback-svc", "jit": "off"},
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection with the same codecs, for CLI commands and tests."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
