"""The survey pages as a customer meets them: a phone, a link from an email, a keyboard."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar, Request, get, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Response
from litestar.static_files import create_static_files_router
from playwright.sync_api import Page, expect

from feedback_svc.surveys.web.render import STATIC_DIR, SurveyPages
from feedback_svc.surveys.web.schemas import FieldError
from feedback_svc.surveys.web.security import CONTENT_SECURITY_POLICY, security_headers
from tests.browser.conftest import PageFactory
from tests.browser.harness import DESKTOP, PHONE, BrowserProblems, serve
from tests.unit.surveys.web.views import survey_view, thanks_view, unavailable_view, unsubscribed_view

pytestmark = pytest.mark.browser

Form = list[tuple[str, str]]


def survey_app(recorded: list[Form]) -> Litestar:
    """Stands in for the real routes: renders the pages and records what the browser posts."""
    pages = SurveyPages()

    def html(content: str) -> Response[str]:
        return Response(content, media_type="text/html; charset=utf-8")

    @get("/s/{token:str}")
    async def show(
        token: FromPath[str],
        kind: FromQuery[str] = "nps",
        score: FromQuery[int | None] = None,
        errors: FromQuery[bool] = False,
    ) -> Response[str]:
        problems = (
            [
                FieldError(field="score", message="Choose a score"),
                FieldError(field="comment", message="Too long"),
            ]
            if errors
            else []
        )
        view = survey_view(kind=kind, selected_score=score, errors=problems, form_action=f"/s/{token}")
        return html(pages.render_survey_page(view))

    @post("/s/{token:str}", status_code=200)
    async def answer(token: FromPath[str], request: Request) -> Response[str]:
        form = await request.form()
        recorded.append(list(form.multi_items()))
        contact = form.get("contact_requested") == "true"
        view = thanks_view(
            contact_deadline="Tuesday, 25 November" if contact else None, edit_url=f"/s/{token}"
        )
        return html(pages.render_thanks_page(view))

    @post("/u/{token:str}", status_code=200)
    async def unsubscribe(token: FromPath[str]) -> Response[str]:
        return html(pages.render_unsubscribed_page(unsubscribed_view()))

    @get("/thanks")
    async def thanks() -> Response[str]:
        view = thanks_view(
            contact_deadline="Tuesday, 25 November", edit_url="/s/tok", editable_until="3 December"
        )
        return html(pages.render_thanks_page(view))

    @get("/gone")
    async def gone() -> Response[str]:
        return html(pages.render_unavailable_page(unavailable_view()))

    return Litestar(
        route_handlers=[
            show,
            answer,
            unsubscribe,
            thanks,
            gone,
            create_static_files_router("/static", [STATIC_DIR]),
        ],
        response_headers=[ResponseHeader(name=k, value=v) for k, v in security_headers().items()],
    )


@pytest.fixture(scope="module")
def recorded() -> list[Form]:
    return []


@pytest.fixture(scope="module")
def base_url(recorded: list[Form]) -> Iterator[str]:
    with serve(survey_app(recorded)) as url:
        yield url


@pytest.fixture(autouse=True)
def _forget_earlier_answers(recorded: list[Form]) -> None:
    recorded.clear()


def horizontal_overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_one_tap_confirms_the_score_chosen_in_the_email(
    page: Page, problems: BrowserProblems, base_url: str, recorded: list[Form]
) -> None:
    page.goto(f"{base_url}/s/tok?score=9")
    expect(page.get_by_role("radio", name="9", exact=True)).to_be_checked()
    # selected means selected to the eye too: the 9 is filled, its neighbour is not
    nine = page.locator("label[for=score-9]")
    eight = page.locator("label[for=score-8]")
    assert nine.evaluate("e => getComputedStyle(e).backgroundColor") != eight.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    confirm = page.get_by_role("button", name="Confirm")
    expect(page.get_by_role("button", name="Submit")).to_have_count(0)
    # one tap means no scrolling on a phone first
    box = confirm.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"]

    confirm.tap()

    expect(page.get_by_role("heading", name="Thank you for your feedback")).to_be_visible()
    assert [sorted(form) for form in recorded] == [[("comment", ""), ("score", "9")]]
    assert problems.messages == []


def test_a_keyboard_alone_answers_the_whole_survey(
    new_page: PageFactory, base_url: str, recorded: list[Form]
) -> None:
    page = new_page(DESKTOP, phone=False)
    page.goto(f"{base_url}/s/tok")

    def focused() -> str:
        return page.evaluate("document.activeElement.id")

    page.keyboard.press("Tab")
    assert focused() == "score-0"
    # the focused score shows a ring the eye can find
    ring = page.locator("label[for=score-0]").evaluate("e => getComputedStyle(e).outlineStyle")
    assert ring == "solid"
    page.keyboard.press("Space")
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    assert focused() == "score-7"
    expect(page.locator("#score-7")).to_be_checked()

    page.keyboard.press("Tab")
    assert focused() == "comment"
    page.keyboard.type("Two delays & no <apology>")
    page.keyboard.press("Tab")
    assert focused() == "contact_requested"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Submit"
    page.keyboard.press("Enter")

    expect(page.get_by_text("We'll contact you by Tuesday, 25 November.")).to_be_visible()
    assert [sorted(form) for form in recorded] == [
        [("comment", "Two delays & no <apology>"), ("contact_requested", "true"), ("score", "7")]
    ]


def test_errors_take_the_focus_and_lead_to_their_fields(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/s/tok?errors=true")
    # the page's script moves the focus once it runs: wait for it rather than race it
    expect(page.locator(":focus")).to_have_attribute("role", "alert")
    expect(page).to_have_title("Error: Your feedback · Acme Travel")
    page.get_by_role("link", name="Too long").click()
    assert page.evaluate("document.activeElement.id") == "comment"
    expect(page.get_by_label("What is the main reason for your score?")).to_have_attribute(
        "aria-invalid", "true"
    )


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
def test_the_scale_fits_a_phone_with_big_targets(page: Page, base_url: str, kind: str) -> None:
    page.goto(f"{base_url}/s/tok?kind={kind}&errors=true")
    assert horizontal_overflow(page) == 0
    boxes = [label.bounding_box() for label in page.locator(".scale__option label").all()]
    assert all(box is not None and box["width"] >= 44 and box["height"] >= 44 for box in boxes), boxes
    rows = {round(box["y"]) for box in boxes if box is not None}
    # 0-10 wraps into two rows on a phone; the shorter scales stay on one
    assert len(rows) == (2 if kind == "nps" else 1)


def test_the_policy_blocks_nothing_the_pages_need(
    page: Page, problems: BrowserProblems, base_url: str
) -> None:
    response = page.goto(f"{base_url}/s/tok?errors=true")
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # the stylesheet applied: the scale is a grid, not a column of bare radios
    assert page.locator(".scale").evaluate("e => getComputedStyle(e).display") == "grid"
    page.get_by_role("button", name="Unsubscribe from surveys").click()
    expect(page.get_by_role("heading", name="You have been unsubscribed")).to_be_visible()
    page.goto(f"{base_url}/gone")
    expect(page.get_by_role("heading", name="This survey is no longer available")).to_be_visible()
    assert problems.messages == []


@pytest.mark.parametrize(("width", "viewport"), [(390, PHONE), (1280, DESKTOP)])
def test_screenshots_at_phone_and_laptop_width(
    new_page: PageFactory, base_url: str, width: int, viewport: dict[str, int], tmp_path: Path
) -> None:
    shots = {
        "survey-confirm": "/s/tok?score=9",
        "survey-errors": "/s/tok?errors=true",
        "survey-csat": "/s/tok?kind=csat",
        "thanks": "/thanks",
        "unavailable": "/gone",
    }
    for scheme in ("light", "dark"):
        page = new_page(viewport, phone=width < 600, color_scheme=scheme)
        for name, path in shots.items():
            page.goto(base_url + path)
            assert horizontal_overflow(page) == 0, (name, width)
            target = tmp_path / f"{name}-{width}-{scheme}.png"
            page.screenshot(path=target, full_page=True)
            assert target.stat().st_size > 0
        # 0-10 in one row when there is room for it
        page.goto(base_url + "/s/tok")
        rows = {
            round(box["y"])
            for box in (lab.bounding_box() for lab in page.locator(".scale label").all())
            if box
        }
        assert len(rows) == (2 if width < 600 else 1)
