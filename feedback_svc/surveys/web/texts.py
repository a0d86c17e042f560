"""The pages' own wording in English and German; the survey questions live in surveys/texts.py."""

from feedback_svc.surveys.texts import SurveyTexts, locale_chain
from feedback_svc.surveys.web.schemas import NoticeTexts, SurveyChrome, SurveyPageTexts, ThanksTexts, View


class PageTexts(View):
    """Everything a page says besides the survey's question; `locale` is the one actually used."""

    locale: str
    survey: SurveyChrome
    thanks: ThanksTexts
    unavailable: NoticeTexts
    unsubscribed: NoticeTexts


_PAGE_TEXTS: dict[str, PageTexts] = {
    "en": PageTexts(
        locale="en",
        survey=SurveyChrome(
            page_title="Your feedback",
            submit="Submit",
            confirm="Confirm",
            optional="optional",
            comment_hint="{max} characters at most.",
            edit_note="You can change your answer until {until}.",
            error_summary_title="There is a problem",
            error_title_prefix="Error:",
            score_error="Choose a score from {min} to {max}.",
            link_score_error="The link you followed carries a score this survey does not have. "
            "Choose a score from {min} to {max}.",
            comment_error="Please shorten your comment to {max} characters.",
            unsubscribe_note="Don't want to be asked for feedback?",
            unsubscribe_button="Unsubscribe from surveys",
        ),
        thanks=ThanksTexts(
            page_title="Thank you",
            heading="Thank you for your feedback",
            body="Your answer has been saved.",
            contact_promise="We'll contact you by {deadline}.",
            edit_note="You can change your answer until {until}.",
            edit_link="Change your answer",
        ),
        unavailable=NoticeTexts(
            page_title="Survey not available",
            heading="This survey is no longer available",
            body="The link may be incomplete or no longer valid. Thank you for your time.",
        ),
        unsubscribed=NoticeTexts(
            page_title="Unsubscribed",
            heading="You have been unsubscribed",
            body="We won't ask you for feedback any more.",
        ),
    ),
    "de": PageTexts(
        locale="de",
        survey=SurveyChrome(
            page_title="Ihre Meinung",
            submit="Absenden",
            confirm="Bestätigen",
            optional="optional",
            comment_hint="Höchstens {max} Zeichen.",
            edit_note="Sie können Ihre Antwort bis {until} ändern.",
            error_summary_title="Es gibt ein Problem",
            error_title_prefix="Fehler:",
            score_error="Wählen Sie eine Bewertung von {min} bis {max}.",
            link_score_error="Der Link enthält eine Bewertung, die es in dieser Umfrage nicht gibt. "
            "Wählen Sie eine Bewertung von {min} bis {max}.",
            comment_error="Bitte kürzen Sie Ihren Kommentar auf {max} Zeichen.",
            unsubscribe_note="Sie möchten nicht nach Ihrer Meinung gefragt werden?",
            unsubscribe_button="Umfragen abbestellen",
        ),
        thanks=ThanksTexts(
            page_title="Vielen Dank",
            heading="Vielen Dank für Ihre Rückmeldung",
            body="Ihre Antwort wurde gespeichert.",
            contact_promise="Wir melden uns bis {deadline} bei Ihnen.",
            edit_note="Sie können Ihre Antwort bis {until} ändern.",
            edit_link="Antwort ändern",
        ),
        unavailable=NoticeTexts(
            page_title="Umfrage nicht verfügbar",
            heading="Diese Umfrage ist nicht mehr verfügbar",
            body="Der Link ist möglicherweise unvollständig oder nicht mehr gültig. "
            "Vielen Dank für Ihre Zeit.",
        ),
        unsubscribed=NoticeTexts(
            page_title="Abbestellt",
            heading="Sie haben die Umfragen abbestellt",
            body="Wir werden Sie nicht mehr nach Ihrer Meinung fragen.",
        ),
    ),
}

PAGE_LOCALES = tuple(_PAGE_TEXTS)


def page_texts(locale: str) -> PageTexts:
    """The most specific texts we have: pt-BR, then pt, then English."""
    for code in locale_chain(locale):
        if code in _PAGE_TEXTS:
            return _PAGE_TEXTS[code]
    return _PAGE_TEXTS["en"]


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
        if language in _PAGE_TEXTS:
            return language
    return "en"
