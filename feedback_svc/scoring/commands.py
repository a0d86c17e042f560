"""What `feedback-svc train` does, given a migrated database (`demo` lives in feedback_svc/demo/)."""

import sys
from datetime import UTC, datetime

from feedback_svc.db.pool import create_pool
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
