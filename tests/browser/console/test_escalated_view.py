"""A manager's escalation day in Debian's Chromium: the sweep escalates a task nobody called, the
alert email's link opens the task, the escalated view says why it rose, the manager reassigns it,
and the alerts page shows what was sent. Both pages fit 1280 and 390 px and pass axe-core; the
screenshots go to the test's temporary folder (`python -m tests.browser.screenshots` puts
them in docs/screenshots/).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

import pytest
from playwright.sync_api import Browser, expect

from feedback_svc.alerts.sender import AlertSender
from feedback_svc.app import create_app
from feedback_svc.db.pool import connect, create_pool
from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.recovery.escalation import EscalationSweeper
from feedback_svc.settings import Settings
from tests.browser.console.test_recovery_console import check_page, log_in, open_page, run
from tests.browser.harness import DESKTOP, PHONE, base_url_of, loopback_listener, serve
from tests.db import TemplateDatabase, with_database
from tests.integration.console.seed import insert_customer, insert_task
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.users.console_helpers import make_user
from tests.listening import SmtpController

pytestmark = pytest.mark.browser

MANAGER, AGENT, OTHER = "morgan@example.com", "alex@example.com", "sam@example.com"


@dataclass
class Escalation:
    url: str
    database_url: str
    task_id: UUID
    emails: list[EmailMessage]


async def _seed(url: str) -> UUID:
    conn = await connect(url)
    try:
        await make_user(conn, email=MANAGER, role="manager", name="Morgan Manager")
        await make_user(conn, email=AGENT, name="Alex Agent")
        await make_user(conn, email=OTHER, name="Sam Second")
        late = await insert_customer(conn, name="Erik Lund", segment="enterprise", value=4200)
        task = await insert_task(
            conn, late, priority=64.5, deadline_at=datetime.now(UTC) - timedelta(hours=2)
        )
        await conn.execute("UPDATE recovery_tasks SET assignee = $2 WHERE id = $1", task, AGENT)
        on_time = await insert_customer(conn, name="Sofia Brandt")
        await insert_task(conn, on_time, priority=90, deadline_at=datetime.now(UTC) + timedelta(hours=20))
        return task
    finally:
        await conn.close()


async def _sweep_and_send(settings: Settings, database_url: str) -> None:
    """The background work `serve` runs, once: escalate, then send the alerts."""
    pool = await create_pool(settings, database_url)
    try:
        await EscalationSweeper(pool, interval=1, settings=settings).sweep_once()
        sender = AlertSender(pool, settings, email=SmtpSender(settings, timeout=5))
        async with sender.client() as http:
            while await sender.run_once(http):
                pass
    finally:
        await pool.close()


async def _fetch(url: str, query: str, *args: object) -> object:
    conn = await connect(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


@pytest.fixture
def escalation(template_database: TemplateDatabase) -> Iterator[Escalation]:
    name = run(template_database.copy())
    database_url = with_database(template_database.admin_url, name)
    inbox = Inbox()
    smtp = SmtpController(inbox)  # port 0: smtp.port is the one it bound
    smtp.start()
    listener = loopback_listener()
    try:
        task = run(_seed(database_url))
        settings = Settings(
            database_url=database_url,
            secret_key="browser-secret-" + "x" * 32,
            brand_name="Acme",
            public_base_url=base_url_of(listener),  # the links in the alerts point at this server
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            mail_from="alerts@acme.example",
            run_workers=False,
            db_pool_min=1,
            db_pool_max=4,
            log_format="console",
        )
        run(_sweep_and_send(settings, database_url))
        with serve(create_app(settings), listener=listener) as url:
            yield Escalation(url, database_url, task, [received.message for received in inbox.received])
    finally:
        smtp.stop()
        run(template_database.drop_copy(name))


def test_a_manager_follows_the_alert_sees_why_the_task_rose_and_reassigns_it(
    browser: Browser, escalation: Escalation, screenshot_dir: Path
) -> None:
    # the owner and the manager were each sent one email, linking to the task page
    assert sorted(str(m["To"]) for m in escalation.emails) == [AGENT, MANAGER]
    text = escalation.emails[0].get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"Open the task: (\S+)", text)
    assert link is not None
    assert link.group(1) == f"{escalation.url}/console/tasks/{escalation.task_id}"

    manager = open_page(browser, DESKTOP)
    log_in(manager, escalation, MANAGER)  # type: ignore[arg-type]
    manager.goto(link.group(1))
    expect(manager.get_by_role("heading", name="Erik Lund", level=1)).to_be_visible()
    expect(manager.locator(".task-summary").get_by_text("Escalated")).to_be_visible()
    expect(manager.get_by_text("Priority raised by 50 points.")).to_be_visible()

    manager.get_by_role("navigation", name="Console").get_by_role("link", name="Escalated").click()
    expect(manager.get_by_role("heading", name="Escalated tasks")).to_be_visible()
    card = manager.locator(".task-card", has_text="Erik Lund")
    expect(card).to_contain_text("overdue by 2 h")
    expect(card).to_contain_text("Why it rose: escalated: nobody contacted the customer by the deadline")
    expect(card).to_contain_text("priority 114.5")
    expect(card).to_contain_text("Alex Agent (assigned)")
    expect(card).to_contain_text("2 sent")
    expect(manager.get_by_text("Sofia Brandt")).to_have_count(0)
    check_page(manager, "escalated view at 1280 px")
    manager.screenshot(path=str(screenshot_dir / "escalated.png"), full_page=True)

    card.get_by_label("Reassign Erik Lund to").select_option(OTHER)
    card.get_by_role("button", name="Reassign").click()
    expect(manager.get_by_text("The task was reassigned.")).to_be_visible()
    expect(manager.locator(".task-card", has_text="Erik Lund")).to_contain_text("Sam Second (assigned)")
    assignee = run(
        _fetch(
            escalation.database_url, "SELECT assignee FROM recovery_tasks WHERE id = $1", escalation.task_id
        )
    )
    assert assignee == OTHER

    manager.get_by_role("navigation", name="Console").get_by_role("link", name="Alerts").click()
    expect(manager.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    expect(manager.locator("tbody tr")).to_have_count(2)
    expect(manager.locator("tbody")).to_contain_text("Alex Agent (email)")
    expect(manager.locator("tbody")).to_contain_text("Sent")
    check_page(manager, "alerts at 1280 px")
    manager.screenshot(path=str(screenshot_dir / "alerts.png"), full_page=True)

    phone = open_page(browser, PHONE)
    log_in(phone, escalation, MANAGER)  # type: ignore[arg-type]
    phone.goto(f"{escalation.url}/console/queue/escalated")
    check_page(phone, "escalated view at 390 px")
    phone.goto(f"{escalation.url}/console/alerts")
    check_page(phone, "alerts at 390 px")
