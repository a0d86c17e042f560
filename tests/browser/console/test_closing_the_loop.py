"""Closing the loop in Debian's Chromium: an agent resolves with a closing message, a manager words
the templates, and the analytics page shows scores before and after recovery against control.

Each page is checked like the others: no sideways scrolling at 1280 and 390 px, and axe-core finds
nothing serious or critical. The screenshots go to the test's temporary folder
(`python -m tests.browser.screenshots` puts them in docs/screenshots/).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from playwright.sync_api import Browser, expect

from feedback_svc.app import create_app
from feedback_svc.db.pool import connect
from feedback_svc.settings import Settings
from tests.browser.console.test_recovery_console import (
    AGENT,
    MANAGER,
    _fetch,
    check_page,
    log_in,
    open_page,
    run,
)
from tests.browser.harness import DESKTOP, PHONE, serve
from tests.db import TemplateDatabase, with_database
from tests.integration.console.seed import insert_customer, insert_response, insert_task, seed_story
from tests.integration.users.console_helpers import make_user

pytestmark = pytest.mark.browser


@dataclass
class Seeded:
    url: str
    database_url: str
    task_id: UUID


async def _scored_task(conn: asyncpg.Connection, *, before: int, after: int, control: bool) -> None:
    """A task resolved ten days ago, opened by an NPS answer, and the customer's next NPS answer."""
    customer = await insert_customer(conn, name="Scored Customer")
    resolved = datetime.now(UTC) - timedelta(days=10)
    answer = await insert_response(
        conn, customer, score=before, comment=None, at=resolved - timedelta(days=1)
    )
    await insert_response(conn, customer, score=after, comment=None, at=resolved + timedelta(days=5))
    task = await insert_task(conn, customer, control=control)
    await conn.execute(
        "INSERT INTO recovery_evidence (task_id, trigger, response_id) VALUES ($1, 'nps_detractor', $2)",
        task,
        answer,
    )
    await conn.execute(
        "UPDATE recovery_tasks SET status = 'resolved', outcome = $2, root_cause = $3, resolved_at = $4, "
        "assignee = $5 WHERE id = $1",
        task,
        "no_action_needed" if control else "recovered",
        "control_group" if control else "late_delivery",
        resolved,
        None if control else AGENT,
    )


async def _seed(url: str) -> UUID:
    conn = await connect(url)
    try:
        await make_user(conn, email=AGENT, name="Alex Agent")
        await make_user(conn, email=MANAGER, role="manager", name="Morgan Manager")
        story = await seed_story(conn, name="Dana Example", priority=95)
        for before, after in ((2, 8), (3, 7), (1, 6), (4, 9)):
            await _scored_task(conn, before=before, after=after, control=False)
        for before, after in ((2, 3), (3, 3), (5, 6)):
            await _scored_task(conn, before=before, after=after, control=True)
        return story.task_id
    finally:
        await conn.close()


@pytest.fixture
def console(template_database: TemplateDatabase) -> Iterator[Seeded]:
    name = run(template_database.copy())
    database_url = with_database(template_database.admin_url, name)
    try:
        task_id = run(_seed(database_url))
        settings = Settings(
            database_url=database_url, secret_key="browser-secret-" + "x" * 32, brand_name="Acme",
            run_workers=False, db_pool_min=1, db_pool_max=4, log_format="console",
        )  # fmt: skip
        with serve(create_app(settings)) as url:
            yield Seeded(url=url, database_url=database_url, task_id=task_id)
    finally:
        run(template_database.drop_copy(name))


def test_an_agent_resolves_with_a_closing_message_and_sees_what_went(
    browser: Browser, console: Seeded, screenshot_dir: Path
) -> None:
    agent = open_page(browser, DESKTOP)
    log_in(agent, console, AGENT)
    agent.goto(f"{console.url}/console/tasks/{console.task_id}")
    agent.get_by_role("button", name="Work on this task").click()
    agent.locator("summary", has_text="Resolve").click()
    closing = agent.get_by_role("group", name="Closing message to the customer")
    expect(closing).to_be_visible()
    expect(closing.get_by_label("Send by")).to_contain_text("Their usual channel: email")
    expect(closing.get_by_text("Their usual channel is email to", exact=False)).to_be_visible()
    closing.locator("summary", has_text="What the templates say").click()
    # the templates read as this customer will read them, signed by this agent
    expect(closing.get_by_text("Hello Dana Example,", exact=False).first).to_be_visible()
    expect(closing.get_by_text("Kind regards, Alex Agent", exact=False).first).to_be_visible()
    agent.get_by_label("Outcome").select_option("recovered")
    agent.get_by_label("Root cause").fill("Late delivery")
    check_page(agent, "task with the closing message at 1280 px")
    agent.screenshot(path=str(screenshot_dir / "closing-message.png"), full_page=True)

    # words without the tick: nothing is done, nothing typed is lost
    closing.get_by_label("Your own words (optional)").fill("Dana, your refund is on its way. Alex")
    agent.get_by_role("button", name="Resolve task").click()
    expect(agent.get_by_text("tick “Send the customer a closing message”", exact=False)).to_be_visible()
    expect(agent.get_by_label("Your own words (optional)")).to_have_value(
        "Dana, your refund is on its way. Alex"
    )
    agent.get_by_label("Send the customer a closing message").check()
    agent.get_by_role("button", name="Resolve task").click()
    expect(agent.get_by_text("The task is resolved.")).to_be_visible()

    status = run(
        _fetch(
            console.database_url, "SELECT follow_up_status FROM recovery_tasks WHERE id = $1", console.task_id
        )
    )
    assert status == "queued"
    agent.goto(f"{console.url}/console/tasks/{console.task_id}")
    section = agent.get_by_role("region", name="Closing the loop")
    expect(section.locator("#closing-message")).to_contain_text("Waiting to be sent")
    expect(section.locator("#closing-message")).to_contain_text("the agent's own words")
    expect(section.get_by_text("Dana, your refund is on its way. Alex", exact=False)).to_be_visible()
    expect(section.locator("#pulse-survey")).to_contain_text("Due ")
    expect(section.locator("#pulse-survey")).to_contain_text("before recovery: NPS 2")
    expect(
        agent.get_by_text("A closing message by email, in the agent's own words, is on its way.")
    ).to_be_visible()
    check_page(agent, "resolved task at 1280 px")

    phone = open_page(browser, PHONE)
    log_in(phone, console, AGENT)
    phone.goto(f"{console.url}/console/tasks/{console.task_id}")
    check_page(phone, "resolved task at 390 px")


def test_a_manager_words_the_templates_and_a_typo_never_reaches_a_customer(
    browser: Browser, console: Seeded, screenshot_dir: Path
) -> None:
    manager = open_page(browser, DESKTOP)
    log_in(manager, console, MANAGER)
    manager.get_by_role("navigation", name="Console").get_by_role("link", name="Messages").click()
    expect(manager.get_by_role("heading", name="Closing messages", level=1)).to_be_visible()
    manager.get_by_role("navigation", name="Languages").get_by_role("link", name="de").click()
    recovered = manager.get_by_role("region", name="Recovered", exact=True)
    expect(recovered.get_by_label("Email subject")).to_have_value("Danke für das Gespräch")
    recovered.get_by_label("SMS").fill("{brand}: Danke, {vorname}!")
    recovered.get_by_role("button", name="Save recovered (de)").click()
    recovered = manager.get_by_role("region", name="Recovered", exact=True)
    expect(recovered.get_by_role("alert")).to_contain_text("SMS: unknown placeholder {vorname}")
    expect(recovered.get_by_label("SMS")).to_have_value("{brand}: Danke, {vorname}!")
    recovered.get_by_label("SMS").fill("{brand}: Danke, {name}! - {agent}")
    recovered.get_by_role("button", name="Save recovered (de)").click()
    expect(manager.get_by_text("The template was saved.")).to_be_visible()
    saved = run(
        _fetch(
            console.database_url,
            "SELECT sms || ' / ' || updated_by FROM recovery_message_templates "
            "WHERE outcome = 'recovered' AND locale = 'de'",
        )
    )
    assert saved == f"{{brand}}: Danke, {{name}}! - {{agent}} / {MANAGER}"

    # another language starts from the English words
    manager.get_by_label("Another language").fill("sv")
    manager.get_by_role("button", name="Open").click()
    expect(manager.get_by_role("heading", name="Templates in sv")).to_be_visible()
    expect(manager.get_by_text("No recovered template in sv yet", exact=False)).to_be_visible()
    check_page(manager, "messages at 1280 px")
    manager.goto(f"{console.url}/console/messages?locale=de")
    manager.screenshot(path=str(screenshot_dir / "messages.png"), full_page=False)

    phone = open_page(browser, PHONE)
    log_in(phone, console, MANAGER)
    phone.goto(f"{console.url}/console/messages?locale=de")
    check_page(phone, "messages at 390 px")

    agent = open_page(browser, DESKTOP)
    log_in(agent, console, AGENT)
    response = agent.goto(f"{console.url}/console/messages")
    assert response is not None
    assert response.status == 403


def test_the_analytics_page_shows_scores_before_and_after_recovery_against_control(
    browser: Browser, console: Seeded, screenshot_dir: Path
) -> None:
    manager = open_page(browser, DESKTOP)
    log_in(manager, console, MANAGER)
    manager.goto(f"{console.url}/console/analytics")
    expect(manager.get_by_role("heading", name="NPS answers before and after recovery")).to_be_visible()
    table = manager.locator("#score-change")
    # worked: 2->8, 3->7, 1->6, 4->9 (mean +5.00); control: +1, 0, +1 (mean +0.67)
    worked = table.get_by_role("row", name="All worked tasks")
    expect(worked).to_contain_text("+5.00")
    expect(worked).to_contain_text("+4.33")
    expect(worked).to_contain_text("small sample")
    expect(table.get_by_role("row", name="Control group (left alone)")).to_contain_text("+0.67")
    expect(table.get_by_role("row", name="Alex Agent")).to_contain_text("+5.00")
    check_page(manager, "analytics with score change at 1280 px")
    manager.get_by_role("heading", name="NPS answers before and after recovery").scroll_into_view_if_needed()
    table.screenshot(path=str(screenshot_dir / "score-change.png"))
    phone = open_page(browser, PHONE)
    log_in(phone, console, MANAGER)
    phone.goto(f"{console.url}/console/analytics")
    check_page(phone, "analytics with score change at 390 px")
