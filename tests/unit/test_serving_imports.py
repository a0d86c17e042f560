"""What a serving process does not load: modules only some other command or page needs.

A serving process holds every module it imports for its whole life; alembic with SQLAlchemy and
psycopg, and zxcvbn's dictionaries, are about 40 MiB of it (docs/benchmarks.md, Scores). They
load when they are used: a migration to run, a new console password to judge.
"""

import subprocess
import sys

NOT_AT_SERVE_TIME = ("alembic", "sqlalchemy", "psycopg", "zxcvbn")


def _python(code: str) -> str:
    """What `code` prints in a fresh interpreter (this one has imported everything already)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def test_the_app_and_the_cli_import_no_migration_tool_nor_password_dictionary() -> None:
    code = (
        "import sys, feedback_svc.app, feedback_svc.cli, feedback_svc.db.revisions; "
        f"print(','.join(m for m in {NOT_AT_SERVE_TIME!r} if m in sys.modules))"
    )
    assert _python(code).strip() == ""


def test_the_password_rules_load_zxcvbn_when_first_used() -> None:
    code = (
        "import sys; from feedback_svc.users import passwords; before = 'zxcvbn' in sys.modules; "
        "passwords.check_password_rules('correct horse battery staple 93'); "
        "print(before, 'zxcvbn' in sys.modules)"
    )
    assert _python(code).split() == ["False", "True"]
