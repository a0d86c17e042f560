"""/schema in Chromium with every request off this machine blocked: the API reference still renders."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route, expect

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.browser.harness import DESKTOP, BrowserProblems, run, serve
from tests.db import TemplateDatabase, with_database

pytestmark = pytest.mark.browser


@pytest.fixture
def service_url(template_database: TemplateDatabase) -> Iterator[str]:
    name = run(template_database.copy())
    settings = Settings(
        database_url=with_database(template_database.admin_url, name),
        secret_key="browser-secret-" + "x" * 32,
        run_workers=False,
        db_pool_min=1,
        db_pool_max=2,
        log_format="console",
    )
    try:
        with serve(create_app(settings)) as url:
            yield url
    finally:
        run(template_database.drop_copy(name))


def test_the_api_reference_renders_with_the_network_blocked(browser: Browser, service_url: str) -> None:
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    elsewhere: list[str] = []

    def only_this_service(route: Route) -> None:
        if route.request.url.startswith(service_url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_service)
    page = context.new_page()
    problems = BrowserProblems(page)
    try:
        page.goto(f"{service_url}/schema")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("feedback-svc", timeout=20_000)
        expect(page.locator(".opblock-summary-path", has_text="/v1/customers").first).to_be_visible()
        # an operation opens and shows its responses, all from the inline document
        page.locator(".opblock-summary", has_text="/v1/surveys").first.click()
        expect(page.get_by_text("Responses").first).to_be_visible()
    finally:
        context.close()
    assert elsewhere == [], f"the page asked for other hosts: {elsewhere}"
    assert problems.messages == []
