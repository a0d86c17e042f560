"""Real purchase histories for tests and benchmarks: the CDNOW data the `lifetimes` wheel ships.

CDNOW_master holds every purchase, January 1997 to June 1998, of the 23,570 customers
who first bought from the online music shop CDNOW in the first quarter of 1997
(customer id, date, number of CDs, dollars); CDNOW_sample holds the 1-in-10 sample of
2,357 customers that Fader, Hardie & Lee (2005) fitted the BG/NBD to. Install them
with the `data` extra (`pip install 'feedback-svc[data]'`).

lifetimes itself is unmaintained and pulls in pandas and autograd, so it is never
imported here: its files are found through the installed distribution's record (or,
failing that, where the import system would find the package, without running it)
and read with numpy.
"""

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.clv import PurchaseSummary

__all__ = [
    "Transactions",
    "load_cdnow_sample_summary",
    "load_cdnow_transactions",
    "locate_lifetimes_file",
]

_PACKAGE = "lifetimes"


@dataclass(frozen=True, kw_only=True)
class Transactions:
    """One row per order line, as the source lists them (several may share a day)."""

    customer_id: np.ndarray  # int64
    day: np.ndarray  # datetime64[D]
    quantity: np.ndarray  # int64: CDs bought
    value: np.ndarray  # float64: dollars

    def __len__(self) -> int:
        return len(self.customer_id)


def locate_lifetimes_file(name: str) -> Path:
    """The path of `lifetimes/datasets/<name>` in the installed lifetimes distribution."""
    wanted = f"{_PACKAGE}/datasets/{name}"
    try:
        files = importlib.metadata.distribution(_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.as_posix() == wanted and (path := Path(str(file.locate()))).is_file():
            return path
    # no record (an unusual installer): find_spec on a top-level name locates the
    # package without executing its __init__
    spec = importlib.util.find_spec(_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (path := Path(folder) / "datasets" / name).is_file():
            return path
    raise FileNotFoundError(
        f"{wanted} not found: the CDNOW data ships in the `lifetimes` package; "
        "install it with pip install 'feedback-svc[data]'"
    )


def load_cdnow_transactions(*, sample: bool = False) -> Transactions:
    """CDNOW_master (23,570 customers), or with `sample` the 2,357-customer CDNOW_sample.

    The sample's ids are its own 1..2357, the ids of `load_cdnow_sample_summary`.
    """
    path = locate_lifetimes_file("CDNOW_sample.txt" if sample else "CDNOW_master.txt")
    with path.open() as text:
        header = 0 if text.readline().strip()[:1].isdigit() else 1
    # master: id, yyyymmdd, CDs, dollars; sample: master id, sample id, yyyymmdd, CDs, dollars
    columns = (1, 2, 3, 4) if sample else (0, 1, 2, 3)
    table = np.loadtxt(path, skiprows=header, usecols=columns, ndmin=2)
    return Transactions(
        customer_id=table[:, 0].astype(np.int64),
        day=_days_from_yyyymmdd(table[:, 1].astype(np.int64)),
        quantity=table[:, 2].astype(np.int64),
        value=table[:, 3],
    )


def load_cdnow_sample_summary() -> PurchaseSummary:
    """The published summary of the 2,357-customer sample over the 39-week calibration period.

    Times are in weeks, as in Fader, Hardie & Lee (2005); `monetary_value` is the mean
    value of the repeat purchases (Fader & Hardie 2013), 0 for customers with none.
    """
    path = locate_lifetimes_file("cdnow_customers_summary_with_transactions.csv")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)  # ID, x, t_x, T, zbar
    return PurchaseSummary(
        customer_id=table[:, 0].astype(np.int64),
        frequency=table[:, 1],
        recency=table[:, 2],
        age=table[:, 3],
        monetary_value=table[:, 4],
    )


def _days_from_yyyymmdd(dates: np.ndarray) -> np.ndarray:
    year, month, day = dates // 10_000, dates // 100 % 100, dates % 100
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    return months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
