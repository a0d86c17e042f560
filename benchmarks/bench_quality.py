"""Churn quality on real purchases, through the service, against a BG/NBD on the same split.

    python -m benchmarks.bench_quality [--cutoff 1998-04-01] [--horizon 90]

Uses the embedded PostgreSQL unless DATABASE_URL is set (a server where a scratch database
`bench_quality_<hex>` may be created; it is dropped afterwards). Needs the `data` extra.

CDNOW_master (23,570 customers who first bought from the shop in the first quarter of 1997,
their purchases to 1998-06-30) is imported through the service's bulk import
(benchmarks/cdnow.py), as a CRM would load its history; no survey answers, no customer
value. Then, as a CRM would judge a model:

- the service trains through its own training path (`train_and_register`, what the API's
  training runs and `feedback-svc train` do) with non-contractual labels, as of the cut-off:
  it sees nothing after it;
- it scores every customer as of the cut-off through the scoring service (a backtest:
  `as_of`, with that model version);
- a BG/NBD (ml/clv.py) is fitted on the same purchases up to the cut-off, in the same run;
- both are judged on what the customers did next: churn is no purchase within `--horizon`
  days after the cut-off, a holdout neither saw.

Prints ROC AUC and Brier for both, the service model's card (which candidate it chose on its
own validation window, and its honest holdout), and timings. Asserts nothing.
"""

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import numpy as np

from benchmarks.cdnow import PREFIX, load_cdnow
from feedback_svc.db import migrate
from feedback_svc.db.pool import create_pool
from feedback_svc.scoring import service
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.schemas import MAX_BATCH, ScoreItem
from feedback_svc.scoring.trainer import train_and_register
from feedback_svc.settings import Settings
from ml.card import Metrics
from ml.clv import CustomerLifetimeValue, count_purchase_days, summarize_purchases
from ml.evaluation import binary_metrics
from ml.training import TrainingConfig


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _line(name: str, metrics: Metrics, mean: float) -> str:
    return (
        f"{name:34} ROC AUC {metrics.roc_auc:.4f}   Brier {metrics.brier:.4f}   "
        f"ECE {metrics.expected_calibration_error:.4f}   mean P(churn) {mean:.3f}"
    )


async def run(server_url: str, *, cutoff: datetime, horizon: int, train_cutoffs: int, workdir: Path) -> None:
    name = f"bench_quality_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        settings = Settings(database_url=url, secret_key=secrets.token_urlsafe(32))
        pool = await create_pool(settings, url)
        try:
            await _measure(
                pool, settings, cutoff=cutoff, horizon=horizon, train_cutoffs=train_cutoffs, workdir=workdir
            )
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _measure(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    cutoff: datetime,
    horizon: int,
    train_cutoffs: int,
    workdir: Path,
) -> None:
    started = time.perf_counter()
    loaded = await load_cdnow(pool, workdir=workdir, settings=settings)
    await pool.execute("VACUUM (ANALYZE)")
    t = loaded.transactions
    print(
        f"imported {loaded.customers.rows_created:,} customers and {loaded.events.rows_created:,} purchases "
        f"through the bulk import in {time.perf_counter() - started:.1f} s ({t.day.min()} to {t.day.max()})"
    )

    started = time.perf_counter()
    config = TrainingConfig(labels="non_contractual", horizon_days=horizon, train_cutoffs=train_cutoffs)
    trained = await train_and_register(
        pool, now=cutoff, activate=False, force=False, actor="bench_quality", config=config
    )
    card = trained.bundle.card
    print(f"trained {card.version} as of {cutoff:%Y-%m-%d} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    ids = {
        row["external_id"]: row["id"]
        for row in await pool.fetch(
            "SELECT id, external_id FROM customers WHERE external_id LIKE $1", f"{PREFIX}%"
        )
    }
    day = np.datetime64(cutoff.date(), "D")
    summary = summarize_purchases(t.customer_id, t.day, t.value, cutoff=day)
    who = summary.customer_id  # bought by the cut-off: the population both are judged on
    scorers = ScorerCache(refresh_seconds=0)
    ours = np.empty(len(who))
    for start in range(0, len(who), MAX_BATCH):
        part = who[start : start + MAX_BATCH].tolist()
        batch = await service.backtest_batch(
            pool,
            scorers,
            [ScoreItem(customer_id=ids[f"{PREFIX}{i}"]) for i in part],
            as_of=cutoff,
            model_version=card.version,
            now=datetime.now(UTC),
        )
        assert batch.failed == 0, batch
        ours[start : start + len(part)] = [r.score.churn_probability for r in batch.results if r.score]
    print(
        f"scored {len(who):,} customers as of {cutoff:%Y-%m-%d} through the scoring service "
        f"in {time.perf_counter() - started:.1f} s"
    )

    baseline = CustomerLifetimeValue(horizon=horizon).fit(summary.matrix())
    theirs = baseline.churn_probability(summary.matrix())
    bought = count_purchase_days(t.customer_id, t.day, customers=who, after=day, until=day + horizon)
    churned = bought == 0
    service_metrics = binary_metrics(churned, ours)
    baseline_metrics = binary_metrics(churned, theirs)
    print()
    print(
        f"holdout: no purchase within {horizon} days after {cutoff:%Y-%m-%d} (to {day + horizon}); "
        f"{len(who):,} customers, churn rate {churned.mean():.3f}"
    )
    print(_line("feedback-svc (service training)", service_metrics, float(ours.mean())))
    print(_line("BG/NBD on the same split", baseline_metrics, float(theirs.mean())))
    print(
        f"{'difference':34} ROC AUC {service_metrics.roc_auc - baseline_metrics.roc_auc:+.4f}   "
        f"Brier {service_metrics.brier - baseline_metrics.brier:+.4f}"
    )
    print()
    print(
        f"model card {card.version}: chosen {card.churn.chosen!r} on the training windows from "
        f"{card.data.validation_cutoff:%Y-%m-%d} on; training cut-offs "
        f"{', '.join(f'{c:%Y-%m-%d}' for c in card.data.train_cutoffs)}"
    )
    for candidate in card.churn.candidates:
        v = candidate.validation
        assert v is not None
        print(f"  {candidate.name:18} validation ROC AUC {v.roc_auc:.4f}  Brier {v.brier:.4f}")
    h = card.churn.holdout
    print(
        f"  card holdout after {card.data.holdout_cutoff:%Y-%m-%d}: ROC AUC {h.roc_auc:.4f}  "
        f"Brier {h.brier:.4f} ({h.rows:,} customers)"
    )
    print(f"  loyalty: {card.loyalty_unavailable or 'trained'}")
    if card.lifetime_value is not None:
        print(f"  lifetime value: {card.lifetime_value.parameters}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_quality", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--cutoff", type=datetime.fromisoformat, default=datetime(1998, 4, 1, tzinfo=UTC))
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--train-cutoffs", type=int, default=3)
    args = parser.parse_args(argv)
    cutoff = args.cutoff if args.cutoff.tzinfo else args.cutoff.replace(tzinfo=UTC)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-quality-")))
        server = os.environ.get("DATABASE_URL")
        if not server:  # an embedded server of its own, in the scratch folder
            from feedback_svc.db.embedded import embedded_database

            server = _with_database(stack.enter_context(embedded_database(workdir)), "postgres")
        asyncio.run(
            run(
                server, cutoff=cutoff, horizon=args.horizon, train_cutoffs=args.train_cutoffs, workdir=workdir
            )
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
