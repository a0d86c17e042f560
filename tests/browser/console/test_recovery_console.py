"""The recovery team's day in Debian's Chromium: log in, claim, read, resolve, and the manager's numbers move.

Also: a forged form is refused, agents stay out of manager pages, no page scrolls sideways at
1280 or 390 px, and axe-core finds no serious or critical accessibility problem. The screenshots
go to the test's temporary folder; `python -m tests.browser.screenshots` makes docs/screenshots/ with them.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from playwright.sync_api import Browser, Page, expect

from feedback_svc.app import create_app
from feedback_svc.db.pool import connect
from feedback_svc.settings import Settings
from tests.browser.harness import DESKTOP, PHONE, run, serve
from tests.db import TemplateDatabase, with_database
from tests.integration.console.seed import Story, insert_customer, insert_score, insert_task, seed_story
from tests.integration.users.console_helpers import PASSWORD, make_user

pytestmark = pytest.mark.browser

AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
AGENT, MANAGER = "alex@example.com", "morgan@example.com"
WAIT_MS = 20_000


async def _seed(url: str) -> Story:
    conn = await connect(url)
    try:
        await make_user(conn, email=AGENT, name="Alex Agent")
        await make_user(conn, email=MANAGER, role="manager", name="Morgan Manager")
        story = await seed_story(conn, name="Dana Example", priority=95)
        for number, (name, segment, priority, hours) in enumerate(
            (("Erik Lund", "enterprise", 70, -2), ("Sofia Brandt", "smb", 40, 20), ("Li Wei", None, 20, 47))
        ):
            customer = await insert_customer(conn, name=name, segment=segment, value=500 + 900 * number)
            await insert_score(conn, customer, churn=0.2 + 0.25 * number)
            deadline = await conn.fetchval("SELECT now() + make_interval(hours => $1)", hours)
            await insert_task(conn, customer, priority=priority, deadline_at=deadline, trigger="csat_low")
        return story
    finally:
        await conn.close()


async def _fetch(url: str, query: str, *args: object) -> Any:
    conn = await connect(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


@dataclass
class Console:
    url: str
    database_url: str
    story: Story


@pytest.fixture
def console(template_database: TemplateDatabase) -> Iterator[Console]:
    name = run(template_database.copy())
    database_url = with_database(template_database.admin_url, name)
    try:
        story = run(_seed(database_url))
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
            yield Console(url=url, database_url=database_url, story=story)
    finally:
        run(template_database.drop_copy(name))


def open_page(browser: Browser, viewport: dict[str, int]) -> Page:
    phone = viewport == PHONE
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, locale="en-US")  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def log_in(page: Page, console: Console, email: str) -> None:
    page.goto(f"{console.url}/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def check_page(page: Page, label: str) -> None:
    """No sideways scrolling, and axe-core reports nothing serious or critical."""
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{label}: the page scrolls sideways ({width[0]} > {width[1]} px)"
    page.evaluate(AXE)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{label}: " + "; ".join(bad)


def recovery_tile(page: Page) -> str:
    return page.locator("#recovery-rate").inner_text()


def test_an_agent_works_a_task_and_the_manager_sees_the_numbers_change(
    browser: Browser, console: Console, screenshot_dir: Path
) -> None:
    manager = open_page(browser, DESKTOP)
    log_in(manager, console, MANAGER)
    manager.goto(f"{console.url}/console/analytics")
    # the customer's earlier task is the only resolved one so far
    assert "n = 1 · 1 resolved" in recovery_tile(manager)
    expect(manager.locator("#first-contact")).to_contain_text("0 of 5 tasks contacted")
    assert "late_delivery" not in manager.locator("#main").inner_text()

    agent = open_page(browser, DESKTOP)
    log_in(agent, console, AGENT)
    agent.get_by_role("navigation", name="Console").get_by_role("link", name="Queue").click()
    expect(agent.get_by_role("heading", name="Recovery queue")).to_be_visible()
    expect(agent.get_by_text("overdue by 2 h", exact=False)).to_be_visible()
    check_page(agent, "queue at 1280 px")
    agent.screenshot(path=str(screenshot_dir / "queue.png"), full_page=True)

    agent.get_by_role("button", name="Claim next task").click()
    expect(agent.get_by_role("heading", name="Dana Example", level=1)).to_be_visible()
    expect(agent.get_by_text("You claimed this task")).to_be_visible()
    # the comment is shown as the customer wrote it, markup and all, never run
    expect(agent.get_by_text("<script>alert(1)</script>", exact=False)).to_be_visible()
    expect(agent.get_by_text("70% churn risk")).to_be_visible()
    expect(agent.get_by_text("Recovered (damaged_parcel)")).to_be_visible()
    check_page(agent, "task at 1280 px")
    agent.screenshot(path=str(screenshot_dir / "task.png"), full_page=True)

    agent.get_by_label("Channel").select_option("phone")
    agent.get_by_role("radio", name="Yes").check()
    agent.get_by_label("What happened (optional)").fill("Apologised; sent a voucher")
    agent.get_by_role("button", name="Record attempt").click()
    expect(agent.get_by_text("The contact attempt was recorded.")).to_be_visible()
    # the resolve form is folded until asked for, so the actions stay short on a phone
    agent.locator("summary", has_text="Resolve").click()
    agent.get_by_label("Outcome").select_option("recovered")
    agent.get_by_label("Root cause").fill("Late delivery")
    agent.get_by_role("button", name="Resolve task").click()
    expect(agent.get_by_text("The task is resolved.")).to_be_visible()
    assert "Dana Example" not in agent.locator(".queue").inner_text()
    status = run(
        _fetch(
            console.database_url, "SELECT outcome FROM recovery_tasks WHERE id = $1", console.story.task_id
        )
    )
    assert status == "recovered"

    manager.reload()
    tile = recovery_tile(manager)
    assert "100.0" in tile
    assert "n = 2 · 2 resolved" in tile
    expect(manager.locator("#root-causes-d")).to_contain_text("late_delivery")
    expect(manager.locator("#first-contact")).to_contain_text("1 of 5 tasks contacted")
    check_page(manager, "analytics at 1280 px")
    manager.screenshot(path=str(screenshot_dir / "analytics.png"), full_page=True)


def test_a_forged_form_is_refused_and_agents_stay_out_of_manager_pages(
    browser: Browser, console: Console
) -> None:
    agent = open_page(browser, DESKTOP)
    log_in(agent, console, AGENT)
    agent.goto(f"{console.url}/console/queue")
    # the form a hostile page would send: everything but the session's CSRF token
    agent.evaluate("document.querySelector('form.claim input[name=csrf_token]').remove()")
    agent.get_by_role("button", name="Claim next task").click()
    expect(agent.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(agent.get_by_text("nothing was done", exact=False)).to_be_visible()
    holder = run(
        _fetch(console.database_url, "SELECT count(*) FROM recovery_tasks WHERE lease_holder IS NOT NULL")
    )
    assert holder == 0

    nav = agent.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Queue")).to_be_visible()
    expect(nav.get_by_role("link", name="Analytics")).to_have_count(0)
    for path in ("/console/analytics", "/console/users"):
        response = agent.goto(f"{console.url}{path}")
        assert response is not None
        assert response.status == 403
        expect(agent.get_by_text("This page is for managers")).to_be_visible()


def test_pages_fit_a_phone_and_pass_axe(browser: Browser, console: Console, screenshot_dir: Path) -> None:
    login = open_page(browser, PHONE)
    login.goto(f"{console.url}/console/login")
    check_page(login, "login at 390 px")
    manager = open_page(browser, PHONE)
    log_in(manager, console, MANAGER)
    manager.goto(f"{console.url}/console/queue")
    check_page(manager, "queue at 390 px")
    manager.screenshot(path=str(screenshot_dir / "queue-phone.png"), full_page=True)
    manager.goto(f"{console.url}/console/tasks/{console.story.task_id}")
    expect(manager.get_by_role("heading", name="Reassign")).to_be_visible()
    check_page(manager, "task at 390 px")
    manager.goto(f"{console.url}/console/analytics")
    check_page(manager, "analytics at 390 px")
