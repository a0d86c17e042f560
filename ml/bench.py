"""Speed figures for the report: `python -m ml.bench --database-url URL --artifact models/baseline.skops`.

Reads feature rows for customers alive now from an existing (simulator-filled)
database, then times the feature query and the scorer. Prints medians; asserts nothing.
"""

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from ml import persistence
from ml.queries import fetch_features, fetch_population
from ml.scorer import Scorer


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


async def _median_ms_async(run: Callable[[], Awaitable[object]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


async def measure(database_url: str, bundle_bytes: bytes, now: datetime) -> None:
    bundle = persistence.loads(bundle_bytes)
    scorer = Scorer(bundle)
    conn = await asyncpg.connect(database_url)
    try:
        ids = (await fetch_population(conn, as_of=now))[:1000]
        for size in (1, len(ids)):
            chosen = ids[:size]
            for _ in range(8):  # warm the cache and let the statement settle on its plan
                await fetch_features(conn, as_of=now, customer_ids=chosen)
            ms = await _median_ms_async(lambda c=chosen: fetch_features(conn, as_of=now, customer_ids=c), 30)
            print(f"feature SQL, {size} customers: {ms:.2f} ms")
        rows = await fetch_features(conn, as_of=now, customer_ids=ids)
    finally:
        await conn.close()
    one = rows[:1]
    print(f"score 1 row (fast path, reasons): {_median_ms(lambda: scorer.score(one), 2000):.3f} ms")
    print(f"score {len(rows)} rows (fast path, reasons): {_median_ms(lambda: scorer.score(rows), 50):.2f} ms")
    sklearn_one = _median_ms(lambda: bundle.predict_churn(one), 500)
    sklearn_many = _median_ms(lambda: bundle.predict_churn(rows), 30)
    print(
        f"sklearn predict_proba (churn only, no reasons): 1 row {sklearn_one:.3f} ms, "
        f"{len(rows)} rows {sklearn_many:.2f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--artifact", type=Path, default=Path("models/baseline.skops"))
    parser.add_argument("--now", type=datetime.fromisoformat, default=datetime(2026, 11, 23, tzinfo=UTC))
    args = parser.parse_args(argv)
    asyncio.run(measure(args.database_url, args.artifact.read_bytes(), args.now))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
