"""The theme pages in Debian's Chromium: a manager reads a theme, renames it and merges another into it.

Also: the pages fit a phone and pass axe-core, and agents stay out of them.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import msgspec
import pytest
from playwright.sync_api import Browser, expect

from feedback_svc.app import create_app
from feedback_svc.db.pool import connect, create_pool
from feedback_svc.settings import Settings
from feedback_svc.themes import service
from tests.browser.console.test_recovery_console import (
    AGENT,
    MANAGER,
    Console,
    check_page,
    log_in,
    open_page,
    run,
)
from tests.browser.harness import DESKTOP, PHONE, serve
from tests.db import TemplateDatabase, with_database
from tests.integration.themes.seed import seed_comments
from tests.integration.users.console_helpers import make_user

pytestmark = pytest.mark.browser


async def _seed(url: str, settings: Settings) -> dict[str, int]:
    """Users, comments and one theme run; topic -> the theme holding most of its comments."""
    conn = await connect(url)
    try:
        await make_user(conn, email=AGENT, name="Alex Agent")
        await make_user(conn, email=MANAGER, role="manager", name="Morgan Manager")
        written = await seed_comments(conn, per_topic=15, locales=("en",))
    finally:
        await conn.close()
    pool = await create_pool(settings, url)
    try:
        async with pool.acquire() as conn:
            run_, _ = await service.request_run(conn, actor="test")
        done = await service.execute_run(pool, run_.id, settings=settings, now=datetime.now(UTC))
        assert done is not None
        assert done.status == "succeeded", done
        return {topic: await _main_theme(pool, ids) for topic, ids in written.items()}
    finally:
        await pool.close()


async def _main_theme(pool: object, ids: list[UUID]) -> int:
    return await pool.fetchval(  # type: ignore[attr-defined]
        """SELECT theme_id FROM theme_assignments WHERE response_id = ANY($1::uuid[])
           GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""",
        ids,
    )


@pytest.fixture
def themes_console(template_database: TemplateDatabase) -> Iterator[tuple[Console, dict[str, int]]]:
    name = run(template_database.copy())
    database_url = with_database(template_database.admin_url, name)
    settings = Settings(
        database_url=database_url,
        secret_key="browser-secret-" + "x" * 32,
        brand_name="Acme",
        run_workers=False,
        db_pool_min=1,
        db_pool_max=4,
        log_format="console",
    )
    settings = msgspec.structs.replace(settings, themes_min_comments=10, themes_max_per_language=3)
    try:
        themes = run(_seed(database_url, settings))
        with serve(create_app(settings)) as url:
            yield Console(url=url, database_url=database_url, story=None), themes  # type: ignore[arg-type]
    finally:
        run(template_database.drop_copy(name))


def test_a_manager_reads_renames_and_merges_themes(
    browser: Browser, themes_console: tuple[Console, dict[str, int]], screenshot_dir: Path
) -> None:
    console, themes = themes_console
    delivery, billing = themes["delivery"], themes["billing"]
    page = open_page(browser, DESKTOP)
    log_in(page, console, MANAGER)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Themes").click()
    expect(page.get_by_role("heading", name="Comment themes")).to_be_visible()
    check_page(page, "themes list (desktop)")

    page.goto(f"{console.url}/console/themes/{delivery}")
    expect(page.locator("#top-words")).to_contain_text("late")
    expect(page.locator("#examples")).to_contain_text("late")
    expect(page.locator("#impact")).to_contain_text("NPS with this theme")
    check_page(page, "theme page (desktop)")

    page.get_by_label("New label").fill("Late parcels")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="Late parcels")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Renamed")

    page.goto(f"{console.url}/console/themes/{billing}")
    page.get_by_label("Merge into").select_option(str(delivery))
    page.get_by_role("button", name="Merge").click()
    expect(page).to_have_url(f"{console.url}/console/themes/{delivery}?done=merged")
    expect(page.locator("#examples")).to_contain_text("invoice")

    phone = open_page(browser, PHONE)
    log_in(phone, console, MANAGER)
    phone.goto(f"{console.url}/console/themes/{delivery}")
    check_page(phone, "theme page (phone)")
    phone.goto(f"{console.url}/console/themes")
    check_page(phone, "themes list (phone)")
    phone.screenshot(path=str(screenshot_dir / "themes-phone.png"), full_page=True)

    agent = open_page(browser, DESKTOP)
    log_in(agent, console, AGENT)
    response = agent.goto(f"{console.url}/console/themes/{delivery}")
    assert response is not None
    assert response.status == 403
