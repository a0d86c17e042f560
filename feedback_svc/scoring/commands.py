"""What `feedback-svc train` and `feedback-svc demo` do, given a migrated database."""

import secrets
import sys
from datetime import UTC, datetime

import asyncpg

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.db.pool import create_pool
from feedback_svc.scoring import service
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.schemas import MAX_BATCH, ScoreItem
from feedback_svc.scoring.trainer import Trained, describe, train_and_register
from feedback_svc.settings import Settings
from ml.card import render_markdown
from ml.simulator import populate
from ml.training import InsufficientDataError


def _progress(message: str, fraction: float) -> None:
    print(f"  {fraction:4.0%}  {message}", file=sys.stderr, flush=True)


async def train(settings: Settings, *, activate: bool, force: bool) -> Trained:
    """Train on the database now, print the card, register (and maybe activate) the version."""
    assert settings.database_url is not None
    pool = await create_pool(settings, settings.database_url)
    try:
        print("training a churn and loyalty model ...", file=sys.stderr)
        try:
            trained = await train_and_register(
                pool, now=datetime.now(UTC), activate=activate, force=force, actor="cli", progress=_progress
            )
        except InsufficientDataError as error:
            raise SystemExit(f"feedback-svc train: {error}") from None
    finally:
        await pool.close()
    print(render_markdown(trained.bundle.card))
    print(describe(trained))
    return trained


async def demo(settings: Settings, *, customers: int, seed: int) -> None:
    """Simulated customers with a history, a trained active model, fresh scores, and a key."""
    assert settings.database_url is not None
    pool = await create_pool(settings, settings.database_url)
    try:
        async with pool.acquire() as conn:
            if await conn.fetchval(
                "SELECT count(*) FROM customers WHERE external_id LIKE $1", f"sim-{seed}-%"
            ):
                print(f"demo customers (seed {seed}) are there already; reusing them", file=sys.stderr)
            else:
                print(f"simulating {customers} customers and two years of history ...", file=sys.stderr)
                truth = await populate(conn, customers=customers, seed=seed, now=datetime.now(UTC))
                counts = ", ".join(f"{n} {table}" for table, n in truth.counts.items())
                print(f"  wrote {counts}", file=sys.stderr)
                # what autovacuum would do soon after a bulk load: statistics for the planner,
                # and the visibility map, without which index-only scans visit every heap row
                await conn.execute("VACUUM (ANALYZE)")
        trained = await train_and_register(
            pool, now=datetime.now(UTC), activate=True, force=True, actor="demo", progress=_progress
        )
        print(describe(trained), file=sys.stderr)
        at_risk, riskiest = await _score_everyone(pool, settings)
        async with pool.acquire() as conn:
            key = await create_api_key(conn, name=f"demo-{secrets.token_hex(3)}", scopes=["crm", "admin"])
    finally:
        await pool.close()
    base = settings.base_url
    print(
        f"""
The demo is ready: {customers} simulated customers, their interactions, survey answers and outcomes;
model {trained.bundle.version} is active; everyone alive was scored and {at_risk} customers at or above
the at-risk threshold ({settings.at_risk_threshold}) were handed to the recovery queue.

API key (crm + admin; shown only now):
  export KEY={key.key}

Try next (with `feedback-svc serve` running in another terminal):
  curl -s -H "Authorization: Bearer $KEY" {base}/v1/customers/{riskiest}/score
  curl -s -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\
       -d '{{"items": [{{"customer_id": "{riskiest}"}}]}}' {base}/v1/scores
  curl -s -H "Authorization: Bearer $KEY" {base}/v1/models
  open {base}/schema for the whole API
"""
    )


async def _score_everyone(pool: asyncpg.Pool, settings: Settings) -> tuple[int, str]:
    """Score every living customer through the API's own path (stored, at-risk events emitted)."""
    ids = [
        row["id"] for row in await pool.fetch("SELECT id FROM customers WHERE erased_at IS NULL ORDER BY id")
    ]
    scorers = ScorerCache(refresh_seconds=0)
    at_risk, best = 0, (-1.0, "")
    for start in range(0, len(ids), MAX_BATCH):
        items = [ScoreItem(customer_id=i) for i in ids[start : start + MAX_BATCH]]
        batch = await service.score_batch(
            pool, scorers, items, at_risk_threshold=settings.at_risk_threshold, now=datetime.now(UTC)
        )
        for result in batch.results:
            if result.score is None:
                continue
            churn = result.score.churn_probability
            at_risk += churn >= settings.at_risk_threshold
            best = max(best, (churn, str(result.customer_id)))
    return at_risk, best[1]
