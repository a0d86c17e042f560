"""Real-browser tests: Debian's Chromium driven by Playwright, pages served by uvicorn on loopback.

Playwright's own browser download never runs here (no network but package registries),
so the tests drive the system Chromium (`apt-get install -y chromium`, or FEEDBACK_CHROMIUM=path).
Without one they are skipped with one line saying so; under CI (CI=true) they fail instead,
so a missing browser never passes CI silently.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.chromium import MISSING, find_chromium
from tests.browser.harness import PHONE, BrowserProblems

CHROMIUM = find_chromium()
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# module scope: the sync API keeps an event loop running in this thread until it stops,
# which would break every asyncio.run() in the tests collected after the browser tests
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING.replace("not run", "cannot run under CI (CI=true)"))
        pytest.skip(MISSING)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def screenshot_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where a test saves its screenshots: a temporary folder, or `--screenshot-dir` (the docs' images,
    made by `python -m tests.browser.screenshots`)."""
    chosen = request.config.getoption("screenshot_dir", None)
    return Path(chosen) if chosen else tmp_path


PageFactory = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[PageFactory]:
    """Open a page in a fresh context: `new_page()` is a phone, `new_page(DESKTOP, phone=False)` a laptop."""
    contexts = []

    def open_page(
        viewport: dict[str, int] = PHONE, *, phone: bool = True, color_scheme: str = "light"
    ) -> Page:
        context = browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            is_mobile=phone,
            has_touch=phone,
            locale="en-US",
            color_scheme=color_scheme,  # type: ignore[arg-type]
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    """A phone-sized page (390x844, touch), where customers open survey links."""
    return new_page()


@pytest.fixture
def problems(page: Page) -> BrowserProblems:
    return BrowserProblems(page)
