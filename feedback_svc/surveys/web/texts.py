"""The pages' own wording in every supported locale; the survey questions live in surveys/texts.py."""

from functools import cache

from feedback_svc.i18n import SUPPORTED_LOCALES, supported_locale, translator
from feedback_svc.surveys.texts import SurveyTexts
from feedback_svc.surveys.web.schemas import (
    MAX_COMMENT_LENGTH,
    NoticeTexts,
    SurveyChrome,
    SurveyPageTexts,
    ThanksTexts,
    View,
)


class PageTexts(View):
    """Everything a page says besides the survey's question; `locale` is the one actually used."""

    locale: str
    survey: SurveyChrome
    thanks: ThanksTexts
    unavailable: NoticeTexts
    unsubscribed: NoticeTexts


@cache
def _page_texts(code: str) -> PageTexts:
    _, ngettext = translator(code).gettext, translator(code).ngettext
    return PageTexts(
        locale=code,
        survey=SurveyChrome(
            page_title=_("Your feedback"),
            submit=_("Submit"),
            confirm=_("Confirm"),
            optional=_("optional"),
            edit_note=_("You can change your answer until {until}."),
            error_summary_title=_("There is a problem"),
            error_title_prefix=_("Error:"),
            score_error=_("Choose a score from {min} to {max}."),
            link_score_error=_(
                "The link you followed carries a score this survey does not have. "
                "Choose a score from {min} to {max}."
            ),
            # {max} is always MAX_COMMENT_LENGTH; the plural form must agree with that number
            comment_error=ngettext(
                "Please shorten your comment to {max} character.",
                "Please shorten your comment to {max} characters.",
                MAX_COMMENT_LENGTH,
            ),
            edit_closed_error=_("This answer can no longer be changed: the time for changes has ended."),
            unsubscribe_note=_("Don't want to be asked for feedback?"),
            unsubscribe_button=_("Unsubscribe from surveys"),
        ),
        thanks=ThanksTexts(
            page_title=_("Thank you"),
            heading=_("Thank you for your feedback"),
            body=_("Your answer has been saved."),
            contact_promise=_("We'll contact you by {deadline}."),
            edit_note=_("You can change your answer until {until}."),
            edit_link=_("Change your answer"),
        ),
        unavailable=NoticeTexts(
            page_title=_("Survey not available"),
            heading=_("This survey is no longer available"),
            body=_("The link may be incomplete or no longer valid. Thank you for your time."),
        ),
        unsubscribed=NoticeTexts(
            page_title=_("Unsubscribed"),
            heading=_("You have been unsubscribed"),
            body=_("We won't ask you for feedback any more."),
        ),
    )


PAGE_LOCALES = SUPPORTED_LOCALES


def page_texts(locale: str) -> PageTexts:
    """The most specific texts we have: pt-BR, then pt, then English."""
    return _page_texts(supported_locale(locale))


def survey_page_texts(survey: SurveyTexts, chrome: SurveyChrome) -> SurveyPageTexts:
    """A survey's resolved question texts (surveys.texts.resolve_texts) dressed in the page chrome."""
    return SurveyPageTexts(
        question=survey.question,
        low_label=survey.low_label,
        high_label=survey.high_label,
        reason_prompt=survey.reason,
        contact_me=survey.contact,
        chrome=chrome,
    )


def negotiate_locale(accept_language: str | None) -> str:
    """The best of our page locales for an Accept-Language header; for pages without a customer."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    for _, _, tag in sorted(ranked):
        language = tag.split("-", 1)[0].lower()
        if language in SUPPORTED_LOCALES:
            return language
    return "en"
