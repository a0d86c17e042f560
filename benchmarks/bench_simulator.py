"""The simulator's figures over several seeds: the trained model against the simulator's truth.

    python -m benchmarks.bench_simulator [--seeds 11 12 13 14 15] [--customers 4000]

What tests/integration/ml/test_model_quality.py checks for one seed (11), for several, so a
change to features or training can be judged beyond one draw's noise (one holdout has about
200 churned customers: ROC AUC moves by a hundredth from seed to seed). Each seed gets a
scratch database `bench_simulator_<hex>` on the server in DATABASE_URL (or an embedded one),
dropped afterwards. The model is judged as its card's figures are: the evaluated models,
fitted without the holdout window. Prints one line per seed and the means; asserts nothing.
"""

import argparse
import asyncio
import os
import secrets
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import numpy as np

from feedback_svc.db import migrate
from ml.evaluation import OracleCheck, check_against_oracle
from ml.scorer import Scorer
from ml.simulator import populate
from ml.training import train

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def one_seed(server_url: str, *, seed: int, customers: int) -> OracleCheck:
    name = f"bench_simulator_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        conn = await asyncpg.connect(url)
        try:
            truth = await populate(conn, customers=customers, seed=seed, now=NOW)
            await conn.execute("ANALYZE")
            result = await train(conn, now=NOW)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    holdout = result.holdout
    ids = [row["customer_id"] for row in holdout.rows]
    predicted = Scorer(result.bundle.evaluated()).churn_probability(holdout.rows)
    return check_against_oracle(
        churned=dict(zip(ids, holdout.churned.tolist(), strict=True)),
        predicted=dict(zip(ids, predicted.tolist(), strict=True)),
        truth=truth.churn_probability,
    )


async def run(server_url: str, *, seeds: list[int], customers: int) -> None:
    figures = []
    for seed in seeds:
        check = await one_seed(server_url, seed=seed, customers=customers)
        figures.append((check.model.roc_auc, check.model.brier, check.oracle.roc_auc, check.oracle.brier))
        print(f"seed {seed}: {check.describe()}", flush=True)
    mean = np.mean(figures, axis=0)
    print(
        f"mean of {len(seeds)} seeds: model ROC AUC {mean[0]:.4f}, Brier {mean[1]:.4f}; "
        f"oracle ROC AUC {mean[2]:.4f}, Brier {mean[3]:.4f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_simulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14, 15])
    parser.add_argument("--customers", type=int, default=4000)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        server = os.environ.get("DATABASE_URL")
        if not server:  # an embedded server of its own, in a scratch folder
            from feedback_svc.db.embedded import embedded_database

            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-simulator-")))
            server = _with_database(stack.enter_context(embedded_database(folder)), "postgres")
        asyncio.run(run(server, seeds=args.seeds, customers=args.customers))


if __name__ == "__main__":
    main()
