import msgspec
import pytest

from feedback_svc.surveys.texts import SCALES
from feedback_svc.surveys.web.render import SurveyPages
from feedback_svc.surveys.web.schemas import FieldError, Scale, UnavailablePageView
from feedback_svc.surveys.web.texts import negotiate_locale, page_texts
from tests.unit.surveys.web.html import Page
from tests.unit.surveys.web.views import (
    BRAND,
    survey_view,
    thanks_view,
    unavailable_view,
    unsubscribed_view,
)

HOSTILE = '</textarea><script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def pages() -> SurveyPages:
    return SurveyPages()


def all_pages(pages: SurveyPages) -> dict[str, str]:
    """Every page with every optional part shown."""
    return {
        "survey": pages.render_survey_page(
            survey_view(
                selected_score=3,
                comment="fine",
                contact_requested=True,
                editable_until="24 November",
                errors=[
                    FieldError(field="score", message="Choose a score"),
                    FieldError(field=None, message="x"),
                ],
            )
        ),
        "thanks": pages.render_thanks_page(
            thanks_view(contact_deadline="Tuesday", edit_url="/s/tok", editable_until="24 November")
        ),
        "unavailable": pages.render_unavailable_page(unavailable_view()),
        "unsubscribed": pages.render_unsubscribed_page(unsubscribed_view()),
    }


def test_customer_text_is_shown_as_text_never_as_markup(pages: SurveyPages) -> None:
    html = pages.render_survey_page(survey_view(comment=HOSTILE, brand_name=HOSTILE))
    page = Page(html)
    assert page.all("script") == []
    assert page.all("img") == []
    assert "&lt;script&gt;" in html
    assert page.one("textarea").text.strip() == HOSTILE


def test_every_score_is_a_labelled_radio_and_the_ends_describe_the_extremes(pages: SurveyPages) -> None:
    for kind, (low, high) in SCALES.items():
        view = survey_view(kind=kind)
        page = Page(pages.render_survey_page(view))
        radios = page.all("input", type="radio")
        assert [r.get("value") for r in radios] == [str(s) for s in range(low, high + 1)]
        for radio in radios:
            assert page.one("label", for_=radio.get("id") or "").text.strip() == radio.get("value")
        first, last = radios[0], radios[-1]
        assert page.by_id(first.get("aria-describedby") or "").text == view.texts.low_label
        assert page.by_id(last.get("aria-describedby") or "").text == view.texts.high_label
        # the question names the group of radios
        assert page.one("legend").text.strip() == view.texts.question
        assert page.one("div", class_=f"scale scale--of-{high - low + 1}")


def test_reason_and_contact_have_labels_and_the_comment_limit(pages: SurveyPages) -> None:
    view = survey_view()
    page = Page(pages.render_survey_page(view))
    textarea = page.one("textarea", name="comment")
    assert textarea.get("maxlength") == "5000"
    assert view.texts.reason_prompt in page.one("label", for_="comment").text
    checkbox = page.one("input", type="checkbox", name="contact_requested")
    assert checkbox.get("value") == "true"
    assert "checked" not in checkbox.attrs
    assert page.one("label", for_="contact_requested").text == view.texts.contact_me


def test_the_page_language_is_the_one_its_texts_are_in(pages: SurveyPages) -> None:
    german = Page(pages.render_survey_page(survey_view(locale="de")))
    assert german.one("html").get("lang") == "de"
    assert german.one("button", class_="button").text == "Absenden"
    assert Page(pages.render_survey_page(survey_view(locale="pt-BR"))).one("html").get("lang") == "pt"
    # no Swedish texts: the page is English and says so
    assert Page(pages.render_survey_page(survey_view(locale="sv"))).one("html").get("lang") == "en"


def test_a_score_from_the_email_link_is_checked_with_one_confirm_button(pages: SurveyPages) -> None:
    page = Page(pages.render_survey_page(survey_view(selected_score=9)))
    checked = [r.get("value") for r in page.all("input", type="radio") if "checked" in r.attrs]
    assert checked == ["9"]
    assert [b.text for b in page.all("button") if b.get("class") == "button"] == ["Confirm"]


@pytest.mark.parametrize("score", [None, 11, -1])
def test_without_a_valid_score_nothing_is_checked_and_the_button_submits(
    pages: SurveyPages, score: int | None
) -> None:
    page = Page(pages.render_survey_page(survey_view(selected_score=score)))
    assert [r for r in page.all("input", type="radio") if "checked" in r.attrs] == []
    assert page.one("button", class_="button").text == "Submit"


def test_an_earlier_answer_is_shown_for_editing_with_its_deadline(pages: SurveyPages) -> None:
    view = survey_view(
        selected_score=4, comment="slow refund", contact_requested=True, editable_until="3 May"
    )
    page = Page(pages.render_survey_page(view))
    assert "checked" in page.one("input", type="radio", value="4").attrs
    assert page.one("textarea").text.strip() == "slow refund"
    assert "checked" in page.one("input", type="checkbox").attrs
    assert page.one("p", class_="note").text == "You can change your answer until 3 May."
    assert page.one("button", class_="button").text == "Submit"


def test_errors_are_summarised_first_linked_to_their_fields_and_marked_on_them(pages: SurveyPages) -> None:
    view = survey_view(
        comment="x" * 10,
        errors=[
            FieldError(field="score", message="Choose a score from 0 to 10"),
            FieldError(field="comment", message="Shorten your reason"),
        ],
    )
    page = Page(pages.render_survey_page(view))
    assert page.one("title").text.startswith("Error: ")
    summary = page.one("div", role="alert")
    assert "autofocus" in summary.attrs
    assert page.by_id(summary.get("aria-labelledby") or "").text == "There is a problem"
    links = [(a.get("href"), a.text) for a in page.all("a")]
    assert links == [("#score-0", "Choose a score from 0 to 10"), ("#comment", "Shorten your reason")]
    for href, _ in links:
        page.by_id((href or "").removeprefix("#"))
    fieldset = page.one("fieldset")
    assert "Choose a score" in page.by_id(fieldset.get("aria-describedby") or "").text
    assert all(r.get("aria-invalid") == "true" for r in page.all("input", type="radio"))
    textarea = page.one("textarea")
    assert textarea.get("aria-invalid") == "true"
    described_by = (textarea.get("aria-describedby") or "").split()
    assert "Shorten your reason" in page.by_id(described_by[-1]).text


def test_without_errors_nothing_is_marked_invalid(pages: SurveyPages) -> None:
    html = pages.render_survey_page(survey_view())
    assert "aria-invalid" not in html
    assert 'role="alert"' not in html


def test_no_page_has_inline_styles_scripts_or_foreign_assets(pages: SurveyPages) -> None:
    for name, html in all_pages(pages).items():
        page = Page(html)
        assert page.all("script") == [], name
        assert page.all("style") == [], name
        for element in page.elements:
            assert "style" not in element.attrs, (name, element.tag)
            assert not any(attr.startswith("on") for attr in element.attrs), (name, element.tag)
            for attr in ("href", "src", "action"):
                assert not (element.get(attr) or "").startswith(("http:", "https:", "//")), (name, attr)
        assert page.one("link", rel="stylesheet").get("href") == "/static/survey.css"
        assert page.one("meta", name="viewport").get("content") == "width=device-width, initial-scale=1"


def test_the_unavailable_page_is_the_same_bytes_whatever_the_cause(pages: SurveyPages) -> None:
    # a route knows more about an expired or erased token than about an unknown one,
    # but the view has nowhere to put it: only the request's language and our brand
    assert set(UnavailablePageView.__struct_fields__) == {"lang", "brand_name", "texts"}
    accept_language = "de-DE,de;q=0.9,en;q=0.5"
    rendered = {
        cause: pages.render_unavailable_page(unavailable_view(locale=negotiate_locale(accept_language)))
        for cause in ("unknown", "expired", "erased")
    }
    assert len(set(rendered.values())) == 1
    page = Page(rendered["unknown"])
    assert page.one("h1").text == "Diese Umfrage ist nicht mehr verfügbar"
    assert page.one("html").get("lang") == "de"


def test_thanks_promises_contact_and_links_back_only_when_told(pages: SurveyPages) -> None:
    plain = Page(pages.render_thanks_page(thanks_view()))
    assert plain.one("h1").text == "Thank you for your feedback"
    assert plain.all("a") == []
    assert plain.all("p", class_="promise") == []

    full = Page(
        pages.render_thanks_page(
            thanks_view(
                contact_deadline="<b>Tuesday</b>", edit_url="/s/tok?edit=1&x=<", editable_until="3 May"
            )
        )
    )
    assert full.one("p", class_="promise").text == "We'll contact you by <b>Tuesday</b>."
    assert full.all("b") == []
    link = full.one("a")
    assert link.get("href") == "/s/tok?edit=1&x=<"
    assert link.text == "Change your answer"
    assert "You can change your answer until 3 May." in full.one("p", class_="note").text


def test_unsubscribed_page_confirms_plainly(pages: SurveyPages) -> None:
    page = Page(pages.render_unsubscribed_page(unsubscribed_view(locale="de")))
    assert page.one("h1").text == "Sie haben die Umfragen abbestellt"
    assert page.all("form") == []


def test_the_survey_page_offers_one_click_unsubscribe_only_with_a_target(pages: SurveyPages) -> None:
    page = Page(pages.render_survey_page(survey_view()))
    unsubscribe = page.one("form", action="/u/tok")
    assert unsubscribe.get("method") == "post"
    assert "Unsubscribe" in unsubscribe.text
    assert (
        Page(pages.render_survey_page(survey_view(unsubscribe_action=None))).all("form", action="/u/tok")
        == []
    )


def test_a_scale_must_run_upwards() -> None:
    with pytest.raises(ValueError, match="from a lower to a higher"):
        Scale(min=5, max=1)


def test_views_are_frozen() -> None:
    with pytest.raises(AttributeError):
        survey_view().comment = "changed"  # type: ignore[misc]
    assert msgspec.structs.replace(survey_view(), comment="new").comment == "new"


def test_brand_is_shown_and_the_title_names_the_page(pages: SurveyPages) -> None:
    page = Page(pages.render_unavailable_page(unavailable_view()))
    assert page.one("p", class_="masthead__brand").text == BRAND
    assert page.one("title").text == f"{page_texts('en').unavailable.page_title} · {BRAND}"
