"""A survey as the customer would get it, without sending anything: the page, the email, the SMS.

Built by the very functions the senders and the survey page use (messages.survey_email,
messages.survey_sms, pages.survey_page_view, the app's SurveyPages), from an invitation that
exists only here, so a preview cannot say something a send would not.
"""

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from feedback_svc.lib.errors import InvalidInput, NotFound
from feedback_svc.settings import Settings
from feedback_svc.surveys import definitions
from feedback_svc.surveys.messages import survey_email, survey_sms, survey_texts
from feedback_svc.surveys.pages import survey_page_view, thanks_page_view
from feedback_svc.surveys.placeholders import canonical_locale, locale_problem, sms_measure
from feedback_svc.surveys.schemas import EmailPreview, PagePreview, SmsPreview, SurveyPreview
from feedback_svc.surveys.web.render import SurveyPages

PreviewChannel = Literal["page", "email", "sms"]
# the invitation a preview stands for: no row has this id, so its link opens nothing
PREVIEW_ID = UUID(int=0)
PREVIEW_ADDRESS = "customer@example.com"
PREVIEW_TOKEN = "preview"  # noqa: S105 (a path segment, no secret)


def checked_locale(locale: str) -> str:
    code = canonical_locale(locale)
    if (problem := locale_problem(code)) is not None:
        raise InvalidInput(
            f"locale: {problem}.",
            errors=[{"field": "locale", "message": problem, "source": "query"}],
        )
    return code


async def preview_survey(
    conn: asyncpg.Connection | asyncpg.Pool,
    key: str,
    *,
    locale: str,
    channel: PreviewChannel | None,
    version: int | None,
    touchpoint: str | None,
    settings: Settings,
    pages: SurveyPages,
) -> SurveyPreview:
    """The survey (a version of it, by default the current one) in `locale`, for one channel or all."""
    locale = checked_locale(locale)
    survey = await definitions.get_survey(conn, key)
    chosen = await definitions.get_version(conn, key, version or survey.version)
    place: dict[str, Any] = {"touchpoint": None, "touchpoint_name": None, "touchpoint_names": None}
    if touchpoint is not None:
        row = await conn.fetchrow(definitions.Q["preview_touchpoint"], touchpoint)
        if row is None:
            raise NotFound(f"No touchpoint {touchpoint!r}; GET /v1/touchpoints lists them.")
        place = {
            "touchpoint": row["key"],
            "touchpoint_name": row["name"],
            "touchpoint_names": row["display_names"],
        }
    now = datetime.now(UTC)
    invitation: dict[str, Any] = {
        "id": PREVIEW_ID,
        "survey": key,
        "kind": survey.kind,
        "locale": locale,
        "texts": chosen.texts,
        "survey_version": chosen.version,
        "agent": None,
        "occurred_at": now,
        "time_zone": "UTC",
        "name": None,
        "purpose": "survey",
        "channel": "email",
        **place,
    }
    brand = settings.brand_name
    result = SurveyPreview(survey=key, version=chosen.version, locale=locale, touchpoint=touchpoint)
    if channel in (None, "page"):
        page = pages.render_survey_page(survey_page_view(invitation, brand=brand, token=PREVIEW_TOKEN))
        thanks = thanks_page_view(
            locale,
            brand=brand,
            token=PREVIEW_TOKEN,
            editable_until=now,
            contact_by=None,
            time_zone="UTC",
            survey_thanks=survey_texts(invitation, brand=brand).thanks,
        )
        result.page = PagePreview(html=page, thanks_html=pages.render_thanks_page(thanks))
    if channel in (None, "email"):
        message = survey_email(
            invitation,
            to=PREVIEW_ADDRESS,
            secret_key=settings.secret_key or "preview",
            base_url=settings.base_url,
            mail_from=settings.mail_from,
            brand=brand,
        )
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        result.email = EmailPreview(
            subject=str(message["Subject"]),
            text=text.get_content() if text is not None else "",  # type: ignore[attr-defined]
            html=html.get_content() if html is not None else "",  # type: ignore[attr-defined]
        )
    if channel in (None, "sms"):
        text = survey_sms(invitation, brand=brand)
        encoding, segments = sms_measure(text)
        result.sms = SmsPreview(text=text, encoding=encoding, segments=segments)  # type: ignore[arg-type]
    return result
