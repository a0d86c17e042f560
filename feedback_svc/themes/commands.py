"""What `feedback-svc themes` does, given a migrated database: one theme run, here and now."""

import sys
from datetime import UTC, datetime

from feedback_svc.db.pool import create_pool
from feedback_svc.settings import Settings
from feedback_svc.themes import service


async def run_themes(settings: Settings) -> int:
    """Run once in this process and print the themes; 1 when another run is under way or this one failed."""
    assert settings.database_url is not None
    pool = await create_pool(settings, settings.database_url)
    try:
        async with pool.acquire() as conn:
            run, started = await service.request_run(conn, actor="cli")
        if not started:
            print(f"feedback-svc themes: run {run.id} is {run.status} already; wait for it", file=sys.stderr)
            return 1
        # its outbox job, when a worker claims it, finds the run finished and does nothing
        done = await service.execute_run(pool, run.id, settings=settings, now=datetime.now(UTC))
        assert done is not None
        print(f"{done.status}: {done.message}" + (f" ({done.error})" if done.error else ""))
        for theme in (await service.list_themes(pool, locale=None, include_merged=False)).items:
            print(
                f"  {theme.id:>5}  {theme.locale:<3}  {theme.status:<7}  {theme.comments:>6}  {theme.label}"
            )
        return 0 if done.status == "succeeded" else 1
    finally:
        await pool.close()
