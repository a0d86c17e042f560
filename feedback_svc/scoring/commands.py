"""What `feedback-svc train` does, given a migrated database (`demo` lives in feedback_svc/demo/)."""

import sys
from datetime import UTC, datetime

from feedback_svc.db.pool import create_pool
from feedback_svc.scoring.trainer import Trained, describe, train_and_register
from feedback_svc.settings import Settings
from ml.card import render_markdown
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
