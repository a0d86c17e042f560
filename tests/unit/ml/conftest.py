"""Synthetic feature rows with a known churn and loyalty rule, and a bundle fitted on them."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import numpy as np
import pytest

from ml.bundle import ModelBundle
from ml.features import FIXED_FEATURES
from ml.training import Snapshot, TrainingConfig, fit

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOUCHPOINTS = ("support_call", "delivery", "billing")


def make_rows(n: int, seed: int) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Rows shaped like `fetch_features` output, churn and promoter labels."""
    rng = np.random.default_rng(seed)
    rows, logits, mood = [], [], rng.normal(0, 1, n)
    for i in range(n):
        row: dict = {key: float(rng.poisson(2)) for key in FIXED_FEATURES}
        answered = rng.random() < 0.6
        row["latest_nps"] = float(np.clip(round(7 + 2 * mood[i]), 0, 10)) if answered else None
        row["detractor_answers_90d"] = float(rng.poisson(1.5 if mood[i] < -0.5 else 0.2))
        row["tenure_days"] = float(rng.uniform(5, 2000))
        row["value"] = float(rng.lognormal(6, 1))
        row["open_recovery_task"] = bool(rng.random() < 0.1)
        row["segment"] = str(rng.choice(["consumer", "smb", "enterprise"]))
        row["touchpoints_90d"] = list(rng.choice(TOUCHPOINTS, rng.poisson(2)))
        row["attributes"] = {
            "support_tickets_open": int(rng.poisson(1)),
            "plan": str(rng.choice(["basic", "plus", "premium"])),
            "tags": ["x"],
            "external_ref": f"ref-{i}",
        }
        row["customer_id"] = UUID(int=seed * 1_000_000 + i)
        rows.append(row)
        logits.append(
            -2.5
            + 0.5 * row["detractor_answers_90d"]
            + 0.4 * row["attributes"]["support_tickets_open"]
            - 0.4 * mood[i]
            + 0.8 * (row["attributes"]["plan"] == "basic")
        )
    churned = rng.random(n) < 1 / (1 + np.exp(-np.array(logits)))
    promoter = np.where(rng.random(n) < 0.5, (mood + rng.normal(0, 0.7, n)) > 0.4, np.nan).astype(float)
    return rows, churned, promoter


def make_snapshot(n: int, seed: int, cutoff: datetime) -> Snapshot:
    rows, churned, promoter = make_rows(n, seed)
    return Snapshot(cutoff=cutoff, rows=rows, churned=churned, promoter=promoter)


@pytest.fixture(scope="session")
def bundle() -> ModelBundle:
    holdout_cutoff = NOW - timedelta(days=90)
    train = [make_snapshot(1500, seed, holdout_cutoff - timedelta(days=90 * seed)) for seed in (1, 2)]
    holdout = make_snapshot(1500, 3, holdout_cutoff)
    return fit(train, holdout, now=NOW, config=TrainingConfig()).bundle


@pytest.fixture(scope="session")
def rows() -> list[dict]:
    return make_rows(300, 9)[0]
