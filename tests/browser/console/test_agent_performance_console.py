"""A manager reads each agent's numbers in Debian's Chromium and follows one to the tasks behind it.

Agents do not see the page, it fits 1280 and 390 px without sideways scrolling (the table
scrolls in its own box), and axe-core finds nothing serious. The screenshot goes to the test's
temporary folder (`python -m tests.browser.screenshots` puts it in docs/screenshots/).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from feedback_svc.app import create_app
from feedback_svc.db.pool import connect
from feedback_svc.settings import Settings
from tests.browser.console.test_recovery_console import (
    Console,
    check_page,
    log_in,
    open_page,
    run,
)
from tests.browser.harness import DESKTOP, PHONE, serve
from tests.db import TemplateDatabase, with_database
from tests.integration.analytics.agent_seed import ANN, Fixture, seed
from tests.integration.users.console_helpers import make_user

pytestmark = pytest.mark.browser
MANAGER = "boss@example.com"


async def _seed(url: str) -> Fixture:
    conn = await connect(url)
    try:
        fixture = await seed(conn)
        await make_user(conn, email="alex@example.com", name="Alex Agent")
        return fixture
    finally:
        await conn.close()


@pytest.fixture
def agents_console(template_database: TemplateDatabase) -> Iterator[tuple[Console, Fixture]]:
    name = run(template_database.copy())
    database_url = with_database(template_database.admin_url, name)
    try:
        fixture = run(_seed(database_url))
        settings = Settings(
            database_url=database_url,
            secret_key="browser-secret-" + "x" * 32,
            brand_name="Acme",
            run_workers=False,
            db_pool_min=1,
            db_pool_max=4,
            log_format="console",
        )
        with serve(create_app(settings)) as url:
            yield Console(url=url, database_url=database_url, story=None), fixture  # type: ignore[arg-type]
    finally:
        run(template_database.drop_copy(name))


def test_a_manager_follows_a_number_to_the_tasks_behind_it(
    browser: Browser, agents_console: tuple[Console, Fixture], screenshot_dir: Path
) -> None:
    console, fixture = agents_console
    manager = open_page(browser, DESKTOP)
    log_in(manager, console, MANAGER)
    manager.get_by_role("navigation", name="Console").get_by_role("link", name="Agents").click()
    expect(manager.get_by_role("heading", name="Agent performance")).to_be_visible()
    table = manager.get_by_role("table")
    team = table.get_by_role("row").filter(has_text="Whole team")
    expect(team).to_contain_text("71.4%")  # 5 of 7 promises kept
    ann = table.get_by_role("row").filter(has_text="Ann Agent")
    expect(ann).to_contain_text("60.0%")
    expect(ann).to_contain_text("few cases")
    expect(ann).to_contain_text("vs rest -40.0 pts")
    # no ranking: by name, the team first
    names = [name.strip() for name in table.locator("tbody th").all_inner_texts()]
    assert [name.split("\n")[0] for name in names] == [
        "Whole team",
        "Alex Agent",
        "Ann Agent",
        "bo",
        "Cy Idle",
    ]
    check_page(manager, "agents at 1280 px")
    manager.screenshot(path=str(screenshot_dir / "agents.png"), full_page=True)

    ann.get_by_role("link", name="2", exact=True).first.click()  # 2 broken promises
    expect(manager.get_by_role("heading", name="Ann Agent: promises broken")).to_be_visible()
    rows = manager.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("broken")
    check_page(manager, "agent tasks at 1280 px")
    manager.get_by_role("link", name="t2").click()
    assert str(fixture.tasks["t2"]) in manager.url

    phone = open_page(browser, PHONE)
    log_in(phone, console, MANAGER)
    phone.goto(f"{console.url}/console/agents")
    check_page(phone, "agents at 390 px")
    phone.goto(f"{console.url}/console/agents/tasks?agent={ANN}&metric=tasks")
    check_page(phone, "agent tasks at 390 px")


def test_agents_do_not_see_the_page(browser: Browser, agents_console: tuple[Console, Fixture]) -> None:
    console, _ = agents_console
    agent = open_page(browser, DESKTOP)
    log_in(agent, console, "alex@example.com")
    nav = agent.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Agents")).to_have_count(0)
    for path in ("/console/agents", f"/console/agents/tasks?agent={ANN}", "/console/agents.csv"):
        response = agent.goto(f"{console.url}{path}")
        assert response is not None
        assert response.status == 403, path
