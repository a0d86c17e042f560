"""Rebuild the shipped baseline model: `python -m ml.bootstrap --database-url URL --out models/`.

Creates a scratch database `ml_scratch_bootstrap_<hex>` on the server in URL
(the user needs CREATEDB), migrates it, simulates `--customers` customers with
`--seed` up to `--now`, trains, writes `baseline.skops`, `baseline.card.json`
and `baseline.card.md` into `--out`, and drops the scratch database. The same
arguments give the same model (and the same bytes).
"""

import argparse
import asyncio
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from feedback_svc.db import migrate
from ml import persistence
from ml.bundle import ModelBundle
from ml.card import card_to_json, render_markdown
from ml.simulator import populate
from ml.training import train

DEFAULT_NOW = datetime(2026, 11, 23, tzinfo=UTC)


async def build(*, database_url: str, customers: int, seed: int, now: datetime) -> ModelBundle:
    """Simulate into a scratch database and train there; the database is dropped after."""
    name = f"ml_scratch_bootstrap_{secrets.token_hex(4)}"
    parts = urlsplit(database_url)
    scratch_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await asyncio.to_thread(migrate.upgrade, scratch_url)
        conn = await asyncpg.connect(scratch_url)
        try:
            _say(f"simulating {customers} customers (seed {seed}) up to {now:%Y-%m-%d}")
            await populate(conn, customers=customers, seed=seed, now=now)
            result = await train(
                conn, now=now, progress=lambda message, fraction: _say(f"{fraction:4.0%} {message}")
            )
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return result.bundle


def write_model(bundle: ModelBundle, out: Path, *, name: str = "baseline") -> Path:
    """`<name>.skops`, `<name>.card.json` and `<name>.card.md` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    artifact = out / f"{name}.skops"
    artifact.write_bytes(persistence.dumps(bundle))
    (out / f"{name}.card.json").write_bytes(card_to_json(bundle.card) + b"\n")
    (out / f"{name}.card.md").write_text(render_markdown(bundle.card), encoding="utf-8")
    _say(f"wrote {artifact} ({artifact.stat().st_size} bytes), version {bundle.version}")
    return artifact


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", required=True, help="a PostgreSQL server where scratch databases may be created"
    )
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument(
        "--now", type=datetime.fromisoformat, default=DEFAULT_NOW, help="ISO time with offset"
    )
    args = parser.parse_args(argv)
    bundle = asyncio.run(
        build(database_url=args.database_url, customers=args.customers, seed=args.seed, now=args.now)
    )
    write_model(bundle, args.out)


if __name__ == "__main__":
    main()
