import itertools

import msgspec
import pytest

from feedback_svc.i18n import SUPPORTED_LOCALES
from feedback_svc.surveys.web.frames import ThanksFrames
from feedback_svc.surveys.web.render import SurveyPages
from feedback_svc.surveys.web.schemas import ThanksPageView
from tests.unit.surveys.web.views import thanks_view

HOSTILE = "</h1><script>alert(\"x\")</script> & '{until}' {deadline}"
# each value absent (None), empty, plain, or with everything that must be escaped
CHOICES = {
    "edit_url": [None, "", "/s/tok-1_A"],
    "editable_until": [None, "", "Dienstag, 24. November 2026, 17:00 MEZ", HOSTILE],
    "contact_deadline": [None, "", "Tuesday, November 24, 2026, 5:00\u202fPM EST", HOSTILE],
}


def _in_full(pages: SurveyPages, view: ThanksPageView) -> str:
    return pages._render_thanks_page(view)


@pytest.mark.parametrize("locale", [*SUPPORTED_LOCALES, "pt-BR"])
def test_every_thanks_page_from_a_frame_is_the_page_rendered_in_full(locale: str) -> None:
    pages = SurveyPages()
    headings = [None, "Danke, Ana!", HOSTILE]
    for brand in ("Acme Travel", "A&B <Reisen>"):
        for heading, *values in itertools.product(headings, *CHOICES.values()):
            view = thanks_view(locale=locale, brand_name=brand, **dict(zip(CHOICES, values, strict=True)))
            if heading is not None:
                texts = msgspec.structs.replace(view.texts, heading=heading)
                view = msgspec.structs.replace(view, texts=texts)
            # twice: the first page of a shape makes its frame, the second comes from it
            assert pages.render_thanks_page(view) == _in_full(pages, view)
            assert pages.render_thanks_page(view) == _in_full(pages, view)


def test_a_shape_is_rendered_in_full_only_for_its_first_page() -> None:
    pages = SurveyPages()
    rendered: list[ThanksPageView] = []

    def render(view: ThanksPageView) -> str:
        rendered.append(view)
        return _in_full(pages, view)

    frames = ThanksFrames(render)
    first = thanks_view(edit_url="/s/one", editable_until="Monday")
    frames.page(first)
    count = len(rendered)  # the page, and its frame
    for n in range(5):
        view = thanks_view(edit_url=f"/s/{n}", editable_until=f"Day {n} <b>")
        assert frames.page(view) == _in_full(pages, view)
    assert len(rendered) == count


def test_a_template_that_changes_a_value_is_rendered_in_full_every_time() -> None:
    pages = SurveyPages()

    def shouting(view: ThanksPageView) -> str:
        return _in_full(pages, view).upper()  # as `| upper` on a value would

    frames = ThanksFrames(shouting)
    for n in range(3):
        view = thanks_view(edit_url=f"/s/tok{n}", editable_until=f"monday {n}")
        assert frames.page(view) == shouting(view)
