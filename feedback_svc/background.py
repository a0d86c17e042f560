"""The background work a process runs: `serve` runs it beside the API, `worker` alone.

Each runner works until its stop event is set and must be safe with any number of
processes doing the same (leases and SKIP LOCKED, never in-process state).
"""

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import structlog

from feedback_svc.outbox.handlers import build_outbox_worker
from feedback_svc.settings import Settings

log = structlog.get_logger(__name__)

Runner = Callable[[asyncio.Event], Awaitable[None]]


def background_runners(
    pool: asyncpg.Pool, settings: Settings, *, http: httpx.AsyncClient
) -> dict[str, Runner]:
    """name -> runner; each domain with periodic work adds its own here."""
    return {
        "outbox-worker": build_outbox_worker(pool, settings, http=http).run,
    }


async def run_all(runners: dict[str, Runner], stop: asyncio.Event) -> None:
    """Run every runner until `stop`; one that crashes is logged and does not stop the rest."""

    async def guarded(name: str, runner: Runner) -> None:
        try:
            await runner(stop)
        except Exception:
            log.exception("background runner crashed", runner=name)

    await asyncio.gather(*(guarded(name, runner) for name, runner in runners.items()))
