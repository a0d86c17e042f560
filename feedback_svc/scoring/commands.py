"""What `feedback-svc train` does, given a migrated database (`demo` lives in feedback_svc/demo/)."""

import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from feedback_svc.db.pool import create_pool
from feedback_svc.scoring import runs
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.trainer import Trained, describe, train_and_register, training_config
from feedback_svc.settings import Settings
from ml.card import render_markdown
from ml.training import InsufficientDataError


def _progress(message: str, fraction: float) -> None:
    print(f"  {fraction:4.0%}  {message}", file=sys.stderr, flush=True)


async def train(
    settings: Settings,
    *,
    activate: bool,
    force: bool,
    horizon_days: int | None = None,
    as_of: datetime | None = None,
) -> Trained:
    """Train on the database as of now (or `as_of`), print the card, register (and maybe
    activate) the version."""
    assert settings.database_url is not None
    now = datetime.now(UTC)
    if as_of is not None and (as_of.tzinfo is None or as_of > now):
        raise SystemExit("feedback-svc train: --as-of needs a UTC offset and must not be in the future")
    config = training_config(settings, horizon_days=horizon_days)
    pool = await create_pool(settings, settings.database_url)
    try:
        print(
            f"training a churn and loyalty model ({config.labels} churn within {config.horizon_days} days, "
            f"as of {(as_of or now):%Y-%m-%d %H:%M} UTC) ...",
            file=sys.stderr,
        )
        try:
            trained = await train_and_register(
                pool,
                now=as_of or now,
                activate=activate,
                force=force,
                actor="cli",
                config=config,
                progress=_progress,
            )
        except InsufficientDataError as error:
            raise SystemExit(f"feedback-svc train: {error}") from None
    finally:
        await pool.close()
    print(render_markdown(trained.bundle.card))
    print(describe(trained))
    return trained


async def score_all(settings: Settings, *, lanes: int = 2) -> dict[str, Any]:
    """Start a scoring run (or join the one running) and work on it here until it ends; the run."""
    assert settings.database_url is not None
    pool = await create_pool(settings, settings.database_url)
    try:
        scorers = ScorerCache(refresh_seconds=settings.model_refresh_seconds)
        run, started = await runs.start_run(pool, scorers, settings, trigger="cli", requested_by="cli")
        assert run is not None
        joined = "started" if started else "joined the running"
        print(
            f"{joined} scoring run {run['id']}: {run['ranges']} ranges of {run['batch_size']} customers, "
            f"model {run['model_version']}, at risk: {run['at_risk_rule']['text']}",
            file=sys.stderr,
        )
        began, done, shown = time.perf_counter(), 0, -1

        def progress(_: runs.RangeDone) -> None:
            nonlocal done, shown
            done += 1
            tenth = 10 * done // max(run["ranges"], 1)
            if tenth != shown:
                shown = tenth
                elapsed = time.perf_counter() - began
                print(f"  {done}/{run['ranges']} ranges, {elapsed:.1f} s", file=sys.stderr)

        finished = await runs.work_on_run(pool, scorers, run, lanes=lanes, progress=progress)
        while finished is None:  # other processes hold its last ranges: wait for them to end it
            await asyncio.sleep(1.0)
            current = await runs.get_run(pool, run["id"])
            assert current is not None
            if current["status"] != "running":
                finished = current
            else:
                finished = await runs.work_on_run(pool, scorers, current, lanes=lanes)
        seconds = time.perf_counter() - began
    finally:
        await pool.close()
    print(f"{finished['status']} in {seconds:.1f} s: {finished['message']}")
    if finished["error"]:
        print(f"error: {finished['error']}", file=sys.stderr)
    return finished
