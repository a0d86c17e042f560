"""The console on a 390 px phone: a 27-task queue stays short, the actions sit near the top of a
task, the owner filter shows its choice, the users table keeps its buttons in line, and no
chart label is cut off.

Heights are measured in Debian's Chromium; the bounds are what a phone user can live with
(about four cards a screen), far under what the pages measured before (11,000 px for this queue).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from playwright.sync_api import Browser, Page, expect

from feedback_svc.app import create_app
from feedback_svc.db.pool import connect
from feedback_svc.settings import Settings
from tests.browser.console.test_recovery_console import AGENT, MANAGER, check_page, open_page, run
from tests.browser.harness import DESKTOP, PHONE, serve
from tests.db import TemplateDatabase, with_database
from tests.integration.console.seed import insert_customer, insert_response, insert_score, insert_task
from tests.integration.users.console_helpers import PASSWORD, make_user

pytestmark = pytest.mark.browser

TASKS = 27
# the reasons the service writes for a typical task: three sentences with their numbers
REASONS = [
    {"factor": "urgency", "points": 60.0, "text": "NPS detractor (0-6): urgency 0.60 x 100 = 60.0 points"},
    {"factor": "value_at_risk", "points": 27.6, "text": "value 2,400.00 x churn probability 0.24 (score 17, "
     "model 20261123-3fd4477e) = 576.00 at risk: 10 x log10(1 + 576.00) = 27.6 points"},
    {"factor": "critical_touchpoint", "points": 20.0, "text": "critical touchpoint delivery: +20 points"},
]  # fmt: skip
COMMENTS = ("The parcel came a week late and nobody told me why", "Charged twice this month", None)


async def _seed(url: str) -> UUID:
    conn = await connect(url)
    try:
        await make_user(conn, email=AGENT, name="Alex Agent")
        await make_user(conn, email=MANAGER, role="manager", name="Morgan Manager")
        first = None
        for n in range(TASKS):
            customer = await insert_customer(conn, name=f"Customer {n:02d} Lindqvist-Okonkwo", value=2400)
            await insert_score(conn, customer, churn=0.24)
            response = await insert_response(
                conn, customer, score=n % 7, comment=COMMENTS[n % 3],
                at=datetime.now(UTC) - timedelta(days=40 * (n % 2), hours=3),
            )  # fmt: skip
            task = await insert_task(
                conn, customer, priority=200 - n, reasons=REASONS,
                deadline_at=datetime.now(UTC) + timedelta(hours=n - 10),
            )  # fmt: skip
            await conn.execute(
                """INSERT INTO recovery_evidence (task_id, trigger, response_id, details)
                   VALUES ($1, 'nps_detractor', $2, jsonb_build_object('kind', 'nps', 'score', $3::int,
                           'channel', 'email', 'touchpoint', 'delivery', 'critical', true,
                           'deadline_at', now() + interval '8 hours'))""",
                task, response, n % 7,
            )  # fmt: skip
            first = first or task
        assert first is not None
        return first
    finally:
        await conn.close()


@dataclass
class Seeded:
    url: str
    task_id: UUID  # the most important task


def log_in(page: Page, console: Seeded, email: str) -> None:
    page.goto(f"{console.url}/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


@pytest.fixture
def console(template_database: TemplateDatabase) -> Iterator[Seeded]:
    name = run(template_database.copy())
    database_url = with_database(template_database.admin_url, name)
    try:
        first = run(_seed(database_url))
        settings = Settings(
            database_url=database_url, secret_key="browser-secret-" + "x" * 32, brand_name="Acme",
            run_workers=False, db_pool_min=1, db_pool_max=4, log_format="console",
        )  # fmt: skip
        with serve(create_app(settings)) as url:
            yield Seeded(url=url, task_id=first)
    finally:
        run(template_database.drop_copy(name))


def height(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))


def test_a_27_task_queue_is_a_few_screens_on_a_phone_and_every_filter_shows_its_choice(
    browser: Browser, console: Seeded
) -> None:
    page = open_page(browser, PHONE)
    log_in(page, console, MANAGER)
    page.goto(f"{console.url}/console/queue")
    expect(page.locator(".task-card")).to_have_count(TASKS)
    total = height(page)
    cards = page.evaluate("[...document.querySelectorAll('.task-card')].map(c => c.offsetHeight)")
    print(f"queue at 390 px: {total} px for {TASKS} tasks, cards {min(cards)}-{max(cards)} px")
    assert max(cards) <= 260, cards
    assert total <= TASKS * 240 + 900, total
    # every card says what caused it
    expect(page.locator(".task-card").first).to_contain_text("NPS 0: “The parcel came a week late")
    # each filter shows its whole choice: the text fits inside its box, which fits the screen
    for label in ("Trigger", "Touchpoint", "Segment", "Owner"):
        select = page.get_by_label(label, exact=True)
        fits = select.evaluate(
            """s => {
                const c = document.createElement('canvas').getContext('2d');
                c.font = getComputedStyle(s).font;
                const text = c.measureText(s.options[s.selectedIndex].text).width;
                const box = s.getBoundingClientRect();
                // padding, border and the arrow take about 40 px of the box
                return {text, width: box.width, right: box.right, fits: text + 40 <= box.width};
            }"""
        )
        assert fits["fits"], (label, fits)
        assert fits["right"] <= PHONE["width"], (label, fits)
    check_page(page, "queue of 27 at 390 px")


def test_the_actions_sit_near_the_top_of_a_task_on_a_phone_and_beside_it_on_a_laptop(
    browser: Browser, console: Seeded
) -> None:
    phone = open_page(browser, PHONE)
    log_in(phone, console, AGENT)
    phone.goto(f"{console.url}/console/tasks/{console.task_id}")
    actions = phone.get_by_role("heading", name="Work on it").bounding_box()
    record = phone.get_by_role("button", name="Work on this task").bounding_box()
    assert actions is not None
    assert record is not None
    print(f"task at 390 px: {height(phone)} px; 'Work on it' at {actions['y']:.0f} px")
    assert actions["y"] <= 900, actions  # within the first screen and a bit
    phone.get_by_role("button", name="Work on this task").click()
    expect(phone.get_by_text("You are working on this task now.")).to_be_visible()
    attempt = phone.get_by_role("button", name="Record attempt").bounding_box()
    assert attempt is not None
    assert attempt["y"] <= 1600, attempt
    # evidence reads as a sentence
    expect(
        phone.get_by_text("Answered NPS 0 (0-10) by email after delivery (a moment of truth)")
    ).to_be_visible()
    check_page(phone, "task at 390 px")

    laptop = open_page(browser, DESKTOP)
    log_in(laptop, console, AGENT)
    laptop.goto(f"{console.url}/console/tasks/{console.task_id}")
    aside = laptop.locator(".task-actions").bounding_box()
    story = laptop.locator(".task-story").bounding_box()
    assert aside is not None
    assert story is not None
    assert aside["x"] > story["x"] + story["width"] - 1, (aside, story)
    assert aside["y"] < 700


def test_user_rows_keep_their_buttons_in_line_and_charts_cut_no_label(
    browser: Browser, console: Seeded
) -> None:
    page = open_page(browser, DESKTOP)
    log_in(page, console, MANAGER)
    page.goto(f"{console.url}/console/users")
    row = page.locator("table.people tbody tr", has_text="Alex Agent")
    name = row.locator("td").first.evaluate(
        """td => { const r = document.createRange(); r.selectNodeContents(td);
                   const b = r.getBoundingClientRect(); return b.top + b.height / 2; }"""
    )
    button = row.get_by_role("button", name="Disable").bounding_box()
    assert button is not None
    assert abs(button["y"] + button["height"] / 2 - name) <= 4, (button, name)
    expect(row.locator("summary")).to_contain_text("Set a new password")

    page.goto(f"{console.url}/console/analytics")
    clipped = page.evaluate(
        """[...document.querySelectorAll('.chart svg')].flatMap(svg => {
            const [x0, y0, w, h] = svg.getAttribute('viewBox').split(' ').map(Number);
            return [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBBox()])
                .filter(([, b]) => b.x < x0 - 0.5 || b.x + b.width > x0 + w + 0.5 || b.y < y0 - 0.5
                                   || b.y + b.height > y0 + h + 0.5)
                .map(([text, b]) => `${text} at ${Math.round(b.x)}+${Math.round(b.width)}`);
        })"""
    )
    assert clipped == [], clipped
    months = page.locator("#trend-t").locator("xpath=..").locator("text.muted")
    assert months.count() > 0
    phone = open_page(browser, PHONE)
    log_in(phone, console, MANAGER)
    phone.goto(f"{console.url}/console/users")
    check_page(phone, "users at 390 px")
