"""What a serving process does not load: modules only some other command or page needs.

A serving process holds every module it imports for its whole life; alembic with SQLAlchemy and
psycopg, and zxcvbn's dictionaries, are about 40 MiB of it (docs/benchmarks.md, Scores). They
load when they are used: a migration to run, a new console password to judge. pandas and pytest,
which scikit-learn loads wherever they are installed, are refused by the serving entry points
(feedback_svc/lib/dev_only.py).
"""

import os
import subprocess
import sys
from pathlib import Path

from feedback_svc.lib.dev_only import DEV_ONLY

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


# Loads the model the way a serving process does and reports which development-only packages
# are installed and which it loaded. The database is never reached: building the app does not
# connect, and migrate-on-start is off.
DEV_ONLY_REPORT = (
    "import sys; from importlib.machinery import PathFinder; from feedback_svc.lib.dev_only import DEV_ONLY; "
    "from feedback_svc.scoring.cache import baseline_bundle; from ml.scorer import Scorer; "
    "Scorer(baseline_bundle()); "
    "print('installed', *(n for n in DEV_ONLY if PathFinder.find_spec(n) is not None)); "
    "print('loaded', *(n for n in DEV_ONLY if n in sys.modules))"
)
SERVING_ENV = {
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/never",
    "FEEDBACK_SECRET_KEY": "x" * 32,
    "FEEDBACK_MIGRATE_ON_START": "false",
}


# the serving entry points limit malloc arenas too (lib/malloc_arenas.py, counted in its own test)
ARENAS_REPORT = (
    "import feedback_svc.lib.malloc_arenas as arenas; limit = arenas.limit_malloc_arenas; "
    "arenas.limit_malloc_arenas = lambda: print('arenas', limit()); "
)


# an operator's MALLOC_ARENA_MAX would leave the arenas alone
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}


def _serving_python(code: str, tmp_path: Path, **env: str) -> dict[str, list[str]]:
    """What DEV_ONLY_REPORT says after `code` (a serving entry point) ran in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", ARENAS_REPORT + code],
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
        cwd=tmp_path,
        env={**ENVIRONMENT, **SERVING_ENV, "FEEDBACK_DATA_DIR": str(tmp_path), **env},
    )
    lines = [line.split() for line in done.stdout.splitlines()]
    return {words[0]: words[1:] for words in lines if words and words[0] in ("installed", "loaded", "arenas")}


def test_a_plain_import_of_the_model_loads_dev_only_packages_here(tmp_path: Path) -> None:
    # the test extras install pandas and pytest, and scikit-learn then loads both: what the
    # entry points below must prevent, checked here so that their tests cannot pass for want of it
    report = _serving_python(DEV_ONLY_REPORT, tmp_path)
    assert report == {"installed": list(DEV_ONLY), "loaded": list(DEV_ONLY)}


def test_serve_limits_arenas_and_keeps_dev_only_packages_out(tmp_path: Path) -> None:
    # `feedback-svc serve` as far as handing its app to uvicorn, which here loads the model instead
    code = (
        "import uvicorn; "
        f"uvicorn.run = lambda app, **options: exec({DEV_ONLY_REPORT!r}, {{}}); "
        "from feedback_svc.cli import main; main(['serve', '--port', '0'])"
    )
    assert _serving_python(code, tmp_path) == {"arenas": ["True"], "installed": list(DEV_ONLY), "loaded": []}


def test_serve_with_workers_leaves_the_app_to_them(tmp_path: Path) -> None:
    # the supervising process hands uvicorn the app's import path; the workers import the app
    code = (
        "import sys, uvicorn; heavy = ('sklearn', 'litestar'); "
        "uvicorn.run = lambda app, **options: print('loaded', *(m for m in heavy if m in sys.modules)); "
        "from feedback_svc.cli import main; main(['serve', '--port', '0'])"
    )
    assert _serving_python(code, tmp_path, FEEDBACK_WORKERS="2") == {"arenas": ["True"], "loaded": []}


def test_the_asgi_workers_limit_arenas_and_keep_dev_only_packages_out(tmp_path: Path) -> None:
    code = f"from feedback_svc.asgi import app_from_env; app_from_env(); {DEV_ONLY_REPORT}"
    assert _serving_python(code, tmp_path) == {"arenas": ["True"], "installed": list(DEV_ONLY), "loaded": []}


def test_a_dev_only_package_loaded_before_stays_usable(tmp_path: Path) -> None:
    code = (
        "import pytest\nfrom feedback_svc.lib.dev_only import refuse_dev_only_packages\n"
        "refuse_dev_only_packages()\nimport pytest.__main__\n"
        "try:\n    import pandas\nexcept ModuleNotFoundError as error:\n    print('refused', error.name)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=tmp_path
    )
    assert done.stdout.split() == ["refused", "pandas"]
