"""Synthetic feature rows with a known churn and loyalty rule, and a bundle fitted on them."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import numpy as np
import pytest

from ml.bundle import ModelBundle
from ml.features import _FIXED_BEFORE_HISTORY
from ml.training import Snapshot, TrainingConfig, fit

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOUCHPOINTS = ("support_call", "delivery", "billing")


def make_rows(n: int, seed: int) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Rows shaped like `fetch_features` output, churn and promoter labels."""
    rng = np.random.default_rng(seed)
    rows, logits, mood = [], [], rng.normal(0, 1, n)
    for i in range(n):
        row: dict = {key: float(rng.poisson(2)) for key in _FIXED_BEFORE_HISTORY}
        row |= _purchase_history(rng)
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
            # lapsed buyers leave more often
            + 0.7 * ((row.get("days_since_last_purchase") or 0.0) > 365)
        )
    churned = rng.random(n) < 1 / (1 + np.exp(-np.array(logits)))
    promoter = np.where(rng.random(n) < 0.5, (mood + rng.normal(0, 0.7, n)) > 0.4, np.nan).astype(float)
    return rows, churned, promoter


def _purchase_history(rng: np.random.Generator) -> dict:
    """A purchase history as the feature query summarises it (no purchase for some)."""
    days = int(rng.poisson(3))
    if days == 0:
        return {"purchase_days": 0, "purchases_total": 0, "purchase_value_total": 0.0}
    first = float(rng.integers(20, 700))
    last = first if days == 1 else float(rng.integers(0, int(first)))
    values = rng.lognormal(3.5, 0.5, days)
    gap = (first - last) / (days - 1) if days > 1 else None
    return {
        "purchase_days": days,
        "purchases_total": days,
        "purchase_value_total": float(values.sum()),
        "average_order_value": float(values.mean()),
        "days_since_first_purchase": first,
        "days_since_last_purchase": last,
        "mean_days_between_purchases": gap,
        "purchase_overdue_ratio": last / gap if gap else None,
        "repeat_purchase_value": float(values[1:].mean()) if days > 1 else None,
    }


def make_snapshot(n: int, seed: int, cutoff: datetime) -> Snapshot:
    rows, churned, promoter = make_rows(n, seed)
    return Snapshot(cutoff=cutoff, rows=rows, churned=churned, promoter=promoter)


@pytest.fixture(scope="session")
def bundle() -> ModelBundle:
    holdout_cutoff = NOW - timedelta(days=90)
    train = [make_snapshot(1500, seed, holdout_cutoff - timedelta(days=90 * (3 - seed))) for seed in (1, 2)]
    holdout = make_snapshot(1500, 3, holdout_cutoff)
    return fit(train, holdout, now=NOW, config=TrainingConfig()).bundle


@pytest.fixture(scope="session")
def rows() -> list[dict]:
    return make_rows(300, 9)[0]
