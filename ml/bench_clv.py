"""Lifetime-value models on real purchases: `python -m ml.bench_clv` (needs the `data` extra).

CDNOW_master (23,570 customers who first bought in the first quarter of 1997), split
as a CRM would: the models see purchases up to `--cutoff` (1997-09-30, the literature's
39 weeks) and are judged on what each customer did next, over `--horizon` days and
until the end of the data (1998-06-30). Churn is "no purchase within the horizon", and
the BG/NBD's P(no purchase within the horizon) is its churn probability. Then fitting
times for a simulated base of `--customers`. Prints figures; asserts nothing.
"""

import argparse
import time
from dataclasses import dataclass

import numpy as np

from ml import _btyd
from ml.card import Metrics
from ml.clv import (
    BetaGeometricNBD,
    CustomerLifetimeValue,
    PurchaseSummary,
    count_purchase_days,
    summarize_purchases,
)
from ml.datasets import Transactions, load_cdnow_transactions
from ml.evaluation import binary_metrics

CDNOW_CUTOFF = "1997-09-30"
CDNOW_END = "1998-06-30"


@dataclass(frozen=True, kw_only=True)
class HoldoutCheck:
    """A model fitted on purchases up to `cutoff`, judged on (cutoff, until]."""

    cutoff: str
    until: str
    fit_seconds: float
    model: CustomerLifetimeValue
    churn: Metrics
    mean_churn_probability: float
    expected_purchases: float
    actual_purchases: int
    expected_value: float
    actual_value: float

    def describe(self) -> str:
        horizon = self.model.horizon
        return (
            f"{self.cutoff} + {horizon:.0f} days: {self.churn.rows} customers, churn rate "
            f"{self.churn.base_rate:.3f}, mean P(no purchase) {self.mean_churn_probability:.3f}; "
            f"ROC AUC {self.churn.roc_auc:.4f}, Brier {self.churn.brier:.4f}, "
            f"ECE {self.churn.expected_calibration_error:.4f}; purchase days expected "
            f"{self.expected_purchases:,.0f} vs {self.actual_purchases:,}; value expected "
            f"${self.expected_value:,.0f} vs ${self.actual_value:,.0f}"
        )


def fit_at(
    transactions: Transactions, *, cutoff: str, horizon: float
) -> tuple[PurchaseSummary, CustomerLifetimeValue]:
    """Summaries as of `cutoff` and the model fitted on them: the BG/NBD baseline of a split."""
    summary = summarize_purchases(
        transactions.customer_id, transactions.day, transactions.value, cutoff=cutoff
    )
    return summary, CustomerLifetimeValue(horizon=horizon).fit(summary.matrix())


def check_holdout(transactions: Transactions, *, cutoff: str, until: str) -> HoldoutCheck:
    horizon = float((np.datetime64(until, "D") - np.datetime64(cutoff, "D")).astype(int))
    started = time.perf_counter()
    summary, model = fit_at(transactions, cutoff=cutoff, horizon=horizon)
    fit_seconds = time.perf_counter() - started
    forecast = model.forecast(summary.matrix())
    bought = count_purchase_days(
        transactions.customer_id, transactions.day, customers=summary.customer_id, after=cutoff, until=until
    )
    later = (
        (transactions.day > np.datetime64(cutoff, "D"))
        & (transactions.day <= np.datetime64(until, "D"))
        & np.isin(transactions.customer_id, summary.customer_id)
    )
    return HoldoutCheck(
        cutoff=cutoff,
        until=until,
        fit_seconds=fit_seconds,
        model=model,
        churn=binary_metrics(bought == 0, forecast.churn),
        mean_churn_probability=float(forecast.churn.mean()),
        expected_purchases=float(forecast.purchases.sum()),
        actual_purchases=int(bought.sum()),
        expected_value=float(forecast.value.sum()),
        actual_value=float(transactions.value[later].sum()),
    )


def time_simulated_fit(customers: int, *, seed: int = 7) -> tuple[float, BetaGeometricNBD]:
    """Seconds to fit the BG/NBD to `customers` drawn from CDNOW-like parameters (days, ages up to a year)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 366, customers).astype(float)
    x, t_x, _ = _btyd.simulate_bgnbd((0.25, 33.5, 0.72, 2.16), age=age, horizon=90, rng=rng)
    started = time.perf_counter()
    model = BetaGeometricNBD().fit(np.column_stack([x, np.round(t_x), age]))
    return time.perf_counter() - started, model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.bench_clv", description=__doc__.splitlines()[0])
    parser.add_argument("--cutoff", default=CDNOW_CUTOFF)
    parser.add_argument(
        "--horizon", type=int, default=90, help="days after the cut-off (besides the end of data)"
    )
    parser.add_argument("--customers", type=int, default=100_000, help="size of the simulated base to time")
    args = parser.parse_args(argv)
    transactions = load_cdnow_transactions()
    print(
        f"CDNOW_master: {len(transactions):,} order lines, {len(np.unique(transactions.customer_id)):,} "
        f"customers, {transactions.day.min()} to {transactions.day.max()}"
    )
    until = str(np.datetime64(args.cutoff, "D") + args.horizon)
    for end in (until, CDNOW_END):
        check = check_holdout(transactions, cutoff=args.cutoff, until=end)
        bgnbd, spend = check.model.transactions_, check.model.spend_
        print(check.describe())
    print(
        f"fitted on {bgnbd.n_customers_:,} customers in {check.fit_seconds:.2f} s (summaries, BG/NBD and "
        f"Gamma-Gamma): r={bgnbd.r_:.4f} alpha={bgnbd.alpha_:.3f} days a={bgnbd.a_:.4f} b={bgnbd.b_:.4f}; "
        f"p={spend.p_:.3f} q={spend.q_:.3f} gamma={spend.gamma_:.3f} ({spend.n_customers_:,} repeat buyers)"
    )
    for size in (25_000, args.customers):
        seconds, model = time_simulated_fit(size)
        print(
            f"BG/NBD fit, {size:,} simulated customers: {seconds:.2f} s "
            f"(r={model.r_:.3f} alpha={model.alpha_:.1f} a={model.a_:.3f} b={model.b_:.3f}; "
            "drawn from 0.25, 33.5, 0.72, 2.16)"
        )


if __name__ == "__main__":
    main()
