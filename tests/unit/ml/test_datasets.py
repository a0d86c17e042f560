"""The CDNOW files inside the lifetimes wheel, found and read without importing lifetimes."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ml import datasets


def test_the_master_file_holds_the_known_cohort() -> None:
    master = datasets.load_cdnow_transactions()
    assert len(master) == 69_659
    customers, which = np.unique(master.customer_id, return_inverse=True)
    assert len(customers) == 23_570
    assert (master.day.min(), master.day.max()) == (np.datetime64("1997-01-01"), np.datetime64("1998-06-30"))
    # the cohort: everyone first bought in the first quarter of 1997
    first = np.full(len(customers), np.iinfo(np.int64).max)
    np.minimum.at(first, which, master.day.astype(np.int64))
    assert first.max() <= np.datetime64("1997-03-31").astype(np.int64)
    assert (master.quantity >= 1).all()
    assert (master.value >= 0).all()


def test_the_sample_summary_is_the_papers() -> None:
    summary = datasets.load_cdnow_sample_summary()
    assert summary.customer_id.tolist() == list(range(1, 2358))
    assert int(summary.frequency.sum()) == 2457  # repeat purchases in the 39 calibration weeks
    assert int((summary.frequency > 0).sum()) == 946
    assert summary.age.max() == pytest.approx(38.86)
    sample = datasets.load_cdnow_transactions(sample=True)
    assert len(np.unique(sample.customer_id)) == 2357


def test_nothing_of_lifetimes_runs(tmp_path: Path) -> None:
    """Its __init__ needs pandas, autograd and pkg_resources: loading its files must not import it."""
    script = (
        "import sys\n"
        "from ml.datasets import load_cdnow_sample_summary, load_cdnow_transactions\n"
        "load_cdnow_sample_summary(); load_cdnow_transactions(sample=True)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lifetimes', 'autograd', 'dill')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_without_a_distribution_record_the_package_folder_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = datasets.locate_lifetimes_file("CDNOW_master.txt")

    def no_record(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_record)
    assert datasets.locate_lifetimes_file("CDNOW_master.txt") == recorded


def test_a_missing_file_says_how_to_install_it() -> None:
    with pytest.raises(FileNotFoundError, match=r"feedback-svc\[data\]"):
        datasets.locate_lifetimes_file("no_such_file.csv")
