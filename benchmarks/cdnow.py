"""The CDNOW purchase history, loaded into the service the way a CRM loads its own.

`load_cdnow(pool, ...)` writes the transactions `ml.datasets` reads from the `lifetimes`
wheel as two files, customers and purchase events keyed by the CRM's own ids, and imports
them through the service's bulk import (`feedback_svc.imports.service.import_file`, what
`feedback-svc import` runs): the same validation and set-based upserts a real CRM's history
goes through. The CRM sends no customer value (0): what a customer is worth comes from the
lifetime-value models.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import numpy as np

from feedback_svc.imports import service as imports
from feedback_svc.imports.schemas import Import
from feedback_svc.settings import Settings
from ml.datasets import Transactions, load_cdnow_transactions

PREFIX = "cdnow-"


@dataclass(frozen=True, kw_only=True)
class Loaded:
    customers: Import
    events: Import
    transactions: Transactions


async def load_cdnow(
    pool: asyncpg.Pool,
    *,
    workdir: Path,
    settings: Settings,
    sample: bool = False,
    customers: int | None = None,
) -> Loaded:
    """Import CDNOW (`sample`: the 2,357-customer sample; `customers`: only the first n ids)."""
    transactions = load_cdnow_transactions(sample=sample)
    if customers is not None:
        kept = np.isin(transactions.customer_id, np.unique(transactions.customer_id)[:customers])
        transactions = Transactions(
            customer_id=transactions.customer_id[kept],
            day=transactions.day[kept],
            quantity=transactions.quantity[kept],
            value=transactions.value[kept],
        )
    workdir.mkdir(parents=True, exist_ok=True)
    people = workdir / "cdnow-customers.csv"
    with people.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["external_id"])
        writer.writerows([f"{PREFIX}{i}"] for i in np.unique(transactions.customer_id).tolist())
    orders = workdir / "cdnow-purchases.csv"
    with orders.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["customer_external_id", "kind", "occurred_at", "value", "currency", "external_id"])
        writer.writerows(
            [f"{PREFIX}{who}", "purchase", str(day), f"{value:.2f}", "USD", f"{PREFIX}order-{n}"]
            for n, (who, day, value) in enumerate(
                zip(
                    transactions.customer_id.tolist(),
                    transactions.day.tolist(),
                    transactions.value.tolist(),
                    strict=True,
                )
            )
        )
    loaded = {}
    for kind, path in (("customers", people), ("events", orders)):
        done, _ = await imports.import_file(
            pool, path, kind=kind, fmt="csv", settings=settings, requested_by="bench_quality", time_zone="UTC"
        )
        if done.status != "succeeded" or done.rows_invalid:
            raise RuntimeError(f"importing {path.name} did not go through: {done.status}, {done.message}")
        loaded[kind] = done
    return Loaded(customers=loaded["customers"], events=loaded["events"], transactions=transactions)
