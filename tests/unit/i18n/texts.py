"""Every customer-facing text, rendered in one locale: pages, emails, SMS, as the routes build them."""

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import get_args

from feedback_svc.delivery.email.render import render_survey_email
from feedback_svc.delivery.sms import texts as sms
from feedback_svc.i18n.dates import format_moment
from feedback_svc.i18n.names import TOUCHPOINT_NAMES
from feedback_svc.i18n.numbers import format_number
from feedback_svc.settings import DEFAULT_BRAND
from feedback_svc.surveys.email_texts import email_texts
from feedback_svc.surveys.texts import SCALES, Kind, resolve_texts
from feedback_svc.surveys.web.render import SurveyPages
from feedback_svc.surveys.web.schemas import MAX_COMMENT_LENGTH, FieldError
from feedback_svc.surveys.web.texts import page_texts
from tests.unit.surveys.web.views import survey_view, thanks_view, unavailable_view, unsubscribed_view

BRAND = "Acme Travel"
KINDS: tuple[Kind, ...] = get_args(Kind)
MOMENT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"


def rendered_pages(locale: str, pages: SurveyPages) -> list[str]:
    """Each page in each state a customer can meet it, errors and promises included."""
    chrome = page_texts(locale).survey
    until = format_moment(MOMENT, locale=locale, time_zone=ZONE)
    html = []
    for kind in KINDS:
        low, high = SCALES[kind]
        errors = [
            FieldError(field="score", message=chrome.score_error.format(min=low, max=high)),
            FieldError(field="score", message=chrome.link_score_error.format(min=low, max=high)),
            FieldError(
                field="comment",
                message=chrome.comment_error.format(max=format_number(MAX_COMMENT_LENGTH, locale=locale)),
            ),
            FieldError(field=None, message=chrome.edit_closed_error),
        ]
        html.append(pages.render_survey_page(survey_view(kind=kind, locale=locale, errors=errors)))
        html.append(pages.render_survey_page(survey_view(kind=kind, locale=locale, selected_score=high)))
        html.append(pages.render_survey_page(survey_view(kind=kind, locale=locale, editable_until=until)))
    html.append(
        pages.render_thanks_page(
            thanks_view(locale=locale, contact_deadline=until, edit_url="/s/tok", editable_until=until)
        )
    )
    html.append(pages.render_unavailable_page(unavailable_view(locale=locale)))
    html.append(pages.render_unsubscribed_page(unsubscribed_view(locale=locale)))
    return html


def rendered_emails(locale: str) -> list[EmailMessage]:
    """Invitation, reminder and pulse for every kind and touchpoint, with and without a brand."""
    messages = []
    for brand in (BRAND, DEFAULT_BRAND):
        for kind in KINDS:
            # only the CSAT question names the touchpoint
            for touchpoint in TOUCHPOINT_NAMES if kind == "csat" else ("support_call",):
                survey = resolve_texts(kind=kind, locale=locale, brand=brand, touchpoint=touchpoint)
                for purpose, reminder in (("survey", False), ("survey", True), ("pulse", False)):
                    texts = email_texts(
                        survey=survey,
                        locale=locale,
                        brand=brand,
                        name="Ana" if reminder else None,
                        purpose=purpose,
                        reminder=reminder,
                        expires_in=timedelta(days=1 if reminder else 6, hours=3),
                    )
                    messages.append(
                        render_survey_email(
                            to="ana@example.com",
                            from_address="surveys@acme.example",
                            message_id="<survey-1@acme.example>",
                            locale=locale,
                            texts=texts,
                            kind=kind,
                            survey_url="https://feedback.example/s/tok",
                            unsubscribe_url="https://feedback.example/u/tok",
                            brand_name=brand,
                        )
                    )
    return messages


def email_parts(message: EmailMessage) -> list[str]:
    """Subject, plain text and HTML: everything a mail client shows."""
    parts = [str(message["Subject"])]
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        assert body is not None
        parts.append(body.get_content())
    return parts


def sms_texts(locale: str) -> list[str]:
    deadline = format_moment(MOMENT, locale=locale, time_zone=ZONE, compact=True)
    texts = [
        sms.ask_reason(locale=locale),
        sms.thanks(locale=locale),
        sms.thanks(locale=locale, contact_by=deadline),
        sms.contact_confirmation(locale=locale, brand=BRAND, contact_by=deadline),
        sms.stop_confirmation(locale=locale, brand=BRAND),
        sms.start_confirmation(locale=locale, brand=BRAND),
        sms.help_text(locale=locale, brand=BRAND, contact="help@acme.example"),
    ]
    for kind in KINDS:
        texts.append(sms.invitation(locale=locale, kind=kind, brand=BRAND))
        texts.append(sms.reminder(locale=locale, kind=kind, brand=BRAND))
        texts.append(sms.reprompt(locale=locale, kind=kind))
    return texts
