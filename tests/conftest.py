"""Shared fixtures: a real PostgreSQL, a fresh migrated database per test, the app."""

import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import hypothesis
import hypothesis.configuration
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.app import create_app
from feedback_svc.db.pool import connect, create_pool
from feedback_svc.settings import Settings
from tests.browser.chromium import MISSING, find_chromium
from tests.db import ServerFolders, TemplateDatabase, database_server, with_database
from tests.listening import HeldPorts

# hypothesis would keep its example database in the checkout (.hypothesis/); a failing example is
# printed with the failure instead, and the tests never write into the checkout
hypothesis.settings.register_profile("feedback-svc", database=None)
hypothesis.settings.load_profile("feedback-svc")

_HYPOTHESIS_HOME = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    # hypothesis also caches what it learns of the code (constants, Unicode tables) under
    # .hypothesis/, already while tests are collected: a temporary folder of the run instead
    home = Path(tempfile.mkdtemp(prefix="feedback-svc-hypothesis-"))
    config.stash[_HYPOTHESIS_HOME] = home
    hypothesis.configuration.set_hypothesis_home_dir(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HYPOTHESIS_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshot-dir",
        default=None,
        help="save the browser tests' screenshots here (default: each test's temporary folder)",
    )


def pytest_report_header() -> str | None:
    chromium = find_chromium()
    return f"chromium: {chromium}" if chromium else None


_BROWSER_LEFT_OUT = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium the browser tests are left out and said so in one line at the end (a skip
    per test would print a line each). Under CI they stay, and fail: CI installs Chromium."""
    _run_direct_tests_first(items)
    if find_chromium() is not None or os.environ.get("CI"):
        return
    browser = [item for item in items if item.get_closest_marker("browser")]
    if browser:
        items[:] = [item for item in items if not item.get_closest_marker("browser")]
        config.hook.pytest_deselected(items=browser)
        config.stash[_BROWSER_LEFT_OUT] = len(browser)


def _run_direct_tests_first(items: list[pytest.Item]) -> None:
    """Under benchmarks/mutation.py, the tests written for the mutated module run first.

    mutmut runs a mutant's tests in no particular order and stops at the first failure; for a
    function every HTTP test passes through (authentication, idempotency) a mutant would
    otherwise run through dozens of passing HTTP tests before the one written to catch it.
    The runner names those tests per module in MUTATION_FIRST_TESTS; the order changes only how
    soon a mutant is found, not whether.
    """
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    first: dict[str, list[str]] = json.loads(os.environ.get("MUTATION_FIRST_TESTS", "{}"))
    paths = [path for module, paths in first.items() if mutant.startswith(module + ".") for path in paths]
    if paths:
        items.sort(key=lambda item: not item.nodeid.startswith(tuple(paths)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    left_out = config.stash.get(_BROWSER_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(f"{left_out} {MISSING}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def server_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFolders]:
    folders = ServerFolders(tmp_path_factory)
    try:
        yield folders
    finally:
        folders.remove()


@pytest.fixture
def server_folder(server_folders: ServerFolders) -> Path:
    """An empty temporary folder a PostgreSQL server started by this test may live in."""
    return server_folders.new("server")


@pytest.fixture(scope="session")
def database_admin_url(server_folders: ServerFolders) -> Iterator[str]:
    """The test PostgreSQL server (TEST_DATABASE_URL, or an embedded one in a temporary folder)."""
    with database_server(server_folders.new("embedded-postgres")) as admin_url:
        yield admin_url


@pytest.fixture(scope="session")
def template_database(database_admin_url: str) -> Iterator[TemplateDatabase]:
    template = TemplateDatabase(database_admin_url)
    template.create()
    try:
        yield template
    finally:
        template.drop()


@pytest.fixture
async def database_url(template_database: TemplateDatabase) -> AsyncIterator[str]:
    """A freshly migrated database of its own for this test."""
    name = await template_database.copy()
    try:
        yield with_database(template_database.admin_url, name)
    finally:
        await template_database.drop_copy(name)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def pool(settings: Settings, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The service's own pool (its codecs and settings) on this test's database."""
    pool = await create_pool(settings, database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # no key cache, so a revoked key is refused on the very next request
    return Settings(
        database_url=database_url,
        secret_key="test-secret-" + "x" * 32,
        api_key_cache_seconds=0,
        db_pool_min=1,
        db_pool_max=4,
        log_format="console",
        # tests drive the outbox worker themselves, so they see each step
        run_workers=False,
        # and start scoring runs themselves: background_runners() in a test scores nobody unasked
        scoring_schedule_hours=0,
    )


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


KeyFactory = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def make_key(conn: asyncpg.Connection) -> KeyFactory:
    """Create an API key with the given scopes (acting for `agent`); returns ready-to-send headers."""

    async def make(*scopes: str, name: str = "test", agent: str | None = None) -> dict[str, str]:
        created = await create_api_key(conn, name=name, scopes=list(scopes), agent=agent)
        return {"Authorization": f"Bearer {created.key}"}

    return make


@pytest.fixture
async def crm(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("crm", name="crm")


@pytest.fixture
def held_ports() -> Iterator[HeldPorts]:
    """Loopback ports bound, not listening: refused until a fake server listens on one (listening.py)."""
    held = HeldPorts()
    try:
        yield held
    finally:
        held.close()
