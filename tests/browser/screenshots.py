"""Make the README's screenshots (docs/screenshots/*.png) with the console's browser tests.

    .venv/bin/python -m tests.browser.screenshots            # into docs/screenshots/
    .venv/bin/python -m tests.browser.screenshots --to DIR

The test run itself never writes into the checkout: its screenshots go to each test's temporary
folder. This runs the same tests with `--screenshot-dir` pointing at the docs. It needs Chromium
(`apt-get install chromium`, or FEEDBACK_CHROMIUM=path) and uses the embedded PostgreSQL (or
TEST_DATABASE_URL) like the test suite.
"""

import argparse
import sys
from pathlib import Path

import pytest

from tests.browser.chromium import find_chromium

ROOT = Path(__file__).resolve().parents[2]
TESTS = [
    "tests/browser/console/test_recovery_console.py::test_an_agent_works_a_task_and_the_manager_sees_the_numbers_change",
    "tests/browser/console/test_recovery_console.py::test_pages_fit_a_phone_and_pass_axe",
    "tests/browser/console/test_closing_the_loop.py",
    "tests/browser/console/test_escalated_view.py",
    "tests/browser/console/test_agent_performance_console.py::test_a_manager_follows_a_number_to_the_tasks_behind_it",
    "tests/browser/console/test_theme_pages.py::test_a_manager_reads_renames_and_merges_themes",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.browser.screenshots", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--to", type=Path, default=ROOT / "docs" / "screenshots", help="default: docs/screenshots"
    )
    args = parser.parse_args(argv)
    if find_chromium() is None:
        print(
            "screenshots: no Chromium found: `apt-get install chromium`, or set FEEDBACK_CHROMIUM",
            file=sys.stderr,
        )
        return 2
    args.to.mkdir(parents=True, exist_ok=True)
    code = pytest.main(
        [
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(ROOT),
            f"--screenshot-dir={args.to.resolve()}",
            *TESTS,
        ]
    )
    if code == 0:
        print(f"screenshots written to {args.to}")
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
