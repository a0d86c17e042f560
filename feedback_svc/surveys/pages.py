"""The customer-facing pages: /s/{token} to answer, /u/{token} to unsubscribe.

A bare GET never records anything (mail scanners fetch every link): the email's
score link opens the page with that score selected and one Confirm button.
Unknown, expired and erased tokens get one identical page.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery

from feedback_svc.customers.queries import lock_customer
from feedback_svc.i18n.dates import format_moment
from feedback_svc.i18n.numbers import format_number
from feedback_svc.lib.errors import Conflict, InvalidInput
from feedback_svc.lib.ratelimit import limit_by_client
from feedback_svc.metrics.collector import count_answer
from feedback_svc.outbox.queries import enqueue
from feedback_svc.recovery.triggers import promised_contact
from feedback_svc.surveys import queries, reading, service
from feedback_svc.surveys.answer_batches import AnswerLanes
from feedback_svc.surveys.messages import own_thanks, survey_texts
from feedback_svc.surveys.texts import SCALES
from feedback_svc.surveys.tokens import hash_token, looks_like_token
from feedback_svc.surveys.web.render import SurveyPages
from feedback_svc.surveys.web.reply import HtmlPage
from feedback_svc.surveys.web.schemas import (
    CONTACT_REQUESTED_VALUE,
    MAX_COMMENT_LENGTH,
    FieldError,
    Scale,
    SurveyPageView,
    ThanksPageView,
    UnavailablePageView,
    UnsubscribedPageView,
    read_score,
)
from feedback_svc.surveys.web.texts import negotiate_locale, page_texts, survey_page_texts

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
UNAVAILABLE_STATUS = 404
# the page again, with what was wrong marked on it (a score off the scale, a long comment)
INVALID_FORM_STATUS = 422


def _field(form: Mapping[str, Any], name: str) -> str:
    """One form field as text; a field sent twice counts as its last value, as browsers read it."""
    value = form.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    return value if isinstance(value, str) else ""


def _brand(request: Request[Any, Any, State]) -> str:
    return request.app.state.settings.brand_name


def _pages(request: Request[Any, Any, State]) -> SurveyPages:
    return request.app.state.survey_pages


async def _promised_contact(
    request: Request[Any, Any, State], pool: asyncpg.Pool, answer: Mapping[str, Any]
) -> datetime | None:
    """The deadline the recovery task will carry, so the page promises what the queue keeps."""
    return await promised_contact(
        pool,
        customer_id=answer["customer_id"],
        touchpoint=answer["touchpoint"],
        at=answer["answered_at"],
        high_value=request.app.state.settings.recovery_high_value,
    )


def _when(moment: datetime, time_zone: str | None, locale: str) -> str:
    """A time promised to the customer, in the customer's own time zone and language."""
    return format_moment(moment, locale=locale, time_zone=time_zone)


def survey_page_view(
    invitation: dict[str, Any],
    *,
    brand: str,
    token: str,
    score: int | None = None,
    comment: str = "",
    contact: bool = False,
    editable_until: datetime | None = None,
    errors: list[FieldError] | None = None,
) -> SurveyPageView:
    """The survey page for an invitation (its survey version, locale and touchpoint); previews too."""
    chrome = page_texts(invitation["locale"])
    texts = survey_texts(invitation, brand=brand)
    low, high = SCALES[invitation["kind"]]
    return SurveyPageView(
        lang=chrome.locale,
        brand_name=brand,
        texts=survey_page_texts(texts, chrome.survey),
        kind=invitation["kind"],
        scale=Scale(min=low, max=high),
        form_action=f"/s/{token}",
        selected_score=score,
        comment=comment,
        contact_requested=contact,
        editable_until=(
            _when(editable_until, invitation["time_zone"], chrome.locale) if editable_until else None
        ),
        errors=errors or [],
        unsubscribe_action=f"/u/{token}" if invitation["channel"] in ("email", "sms") else None,
        score_only=invitation["purpose"] == "pulse",
    )


def thanks_page_view(
    locale: str,
    *,
    brand: str,
    token: str,
    editable_until: datetime,
    contact_by: datetime | None,
    time_zone: str | None,
    survey_thanks: str | None = None,
) -> ThanksPageView:
    """The page after an answer; a survey's own thank-you text stands for the shipped heading."""
    texts = page_texts(locale)
    open_for_edits = editable_until > datetime.now(UTC)
    thanks = (
        texts.thanks
        if survey_thanks is None
        else msgspec.structs.replace(texts.thanks, heading=survey_thanks)
    )
    return ThanksPageView(
        lang=texts.locale,
        brand_name=brand,
        texts=thanks,
        edit_url=f"/s/{token}" if open_for_edits else None,
        editable_until=_when(editable_until, time_zone, texts.locale) if open_for_edits else None,
        contact_deadline=_when(contact_by, time_zone, texts.locale) if contact_by else None,
    )


class SurveyPagesController(Controller):
    tags = ["survey pages"]
    opt = {"public": True}
    # no key here, so the client's address is what a limit can hold on to
    before_request = limit_by_client
    include_in_schema = False

    async def _invitation(self, pool: asyncpg.Pool, token: str) -> dict[str, Any] | None:
        if not looks_like_token(token):
            return None
        invitation = await queries.invitation_by_token(pool, hash_token(token))
        if invitation is None or not service.invitation_is_open(invitation, datetime.now(UTC)):
            return None
        return invitation

    def _unavailable(self, request: Request[Any, Any, State]) -> HtmlPage:
        texts = page_texts(negotiate_locale(request.headers.get("accept-language")))
        view = UnavailablePageView(lang=texts.locale, brand_name=_brand(request), texts=texts.unavailable)
        return HtmlPage(_pages(request).render_unavailable_page(view), UNAVAILABLE_STATUS)

    def _survey_view(
        self,
        request: Request[Any, Any, State],
        invitation: dict[str, Any],
        token: str,
        *,
        score: int | None,
        comment: str = "",
        contact: bool = False,
        editable_until: datetime | None = None,
        errors: list[FieldError] | None = None,
    ) -> SurveyPageView:
        return survey_page_view(
            invitation,
            brand=_brand(request),
            token=token,
            score=score,
            comment=comment,
            contact=contact,
            editable_until=editable_until,
            errors=errors,
        )

    def _thanks(
        self,
        request: Request[Any, Any, State],
        locale: str,
        token: str,
        editable_until: datetime,
        contact_by: datetime | None = None,
        *,
        time_zone: str | None,
        survey_thanks: str | None = None,
    ) -> HtmlPage:
        view = thanks_page_view(
            locale,
            brand=_brand(request),
            token=token,
            editable_until=editable_until,
            contact_by=contact_by,
            time_zone=time_zone,
            survey_thanks=survey_thanks,
        )
        return HtmlPage(_pages(request).render_thanks_page(view))

    @get("/s/{token:str}")
    async def show_survey(
        self,
        request: Request[Any, Any, State],
        pool: NamedDependency[asyncpg.Pool],
        token: FromPath[str],
        score: FromQuery[str | None] = None,
    ) -> HtmlPage:
        return await self._render_survey(request, pool, token, score)

    async def _render_survey(
        self, request: Request[Any, Any, State], pool: asyncpg.Pool, token: str, score: str | None
    ) -> HtmlPage:
        invitation = await self._invitation(pool, token)
        if invitation is None:
            return self._unavailable(request)
        if invitation["opened_at"] is None:
            await reading.mark_opened(pool, invitation["id"])
        answer = await queries.response_by_invitation(pool, invitation["id"])
        if answer is not None and answer["editable_until"] <= datetime.now(UTC):
            closed_at, zone = answer["editable_until"], invitation["time_zone"]
            thanks = own_thanks(invitation, brand=_brand(request))
            return self._thanks(
                request, invitation["locale"], token, closed_at, time_zone=zone, survey_thanks=thanks
            )
        low, high = SCALES[invitation["kind"]]
        chosen = read_score(score)
        errors: list[FieldError] = []
        if score and (chosen is None or not low <= chosen <= high):
            # a hand-edited or mangled link: say so rather than silently select nothing
            message = page_texts(invitation["locale"]).survey.link_score_error.format(min=low, max=high)
            errors.append(FieldError(field="score", message=message))
            chosen = None
        if answer is not None:
            view = self._survey_view(
                request,
                invitation,
                token,
                score=chosen if chosen is not None else answer["score"],
                comment=answer["comment"] or "",
                contact=answer["contact_requested"],
                editable_until=answer["editable_until"],
                errors=errors,
            )
        else:
            view = self._survey_view(request, invitation, token, score=chosen, errors=errors)
        return HtmlPage(_pages(request).render_survey_page(view), INVALID_FORM_STATUS if errors else 200)

    @post("/s/{token:str}", status_code=200)
    async def answer_survey(
        self, request: Request[Any, Any, State], token: FromPath[str], data: FormData
    ) -> HtmlPage:
        # the pool from the app's state, not as a dependency: Litestar's dependency injection
        # took ~10 µs of each answer
        pool: asyncpg.Pool = request.app.state.pool
        score = read_score(_field(data, "score").strip())
        comment = _field(data, "comment")
        contact = _field(data, "contact_requested") == CONTACT_REQUESTED_VALUE
        if looks_like_token(token) and score is not None and len(comment) <= MAX_COMMENT_LENGTH:
            # the usual answer is one statement and one commit, shared with the answers arriving
            # meanwhile (surveys/answer_batches.py); when it writes nothing, the steps below find
            # out why and say so
            lanes: AnswerLanes = request.app.state.answer_lanes
            stored = await lanes.answer_by_token(
                token_hash=hash_token(token),
                score=score,
                comment=comment,
                contact_requested=contact,
                now=datetime.now(UTC),
            )
            if stored is not None:
                if stored["inserted"]:
                    count_answer(channel=stored["channel"], kind=stored["kind"])
                contact_by = await _promised_contact(request, pool, stored) if contact else None
                return self._thanks(
                    request,
                    stored["locale"],
                    token,
                    stored["editable_until"],
                    contact_by,
                    time_zone=stored["time_zone"],
                    survey_thanks=own_thanks(stored, brand=_brand(request)),
                )
        invitation = await self._invitation(pool, token)
        if invitation is None:
            return self._unavailable(request)
        low, high = SCALES[invitation["kind"]]
        chrome = page_texts(invitation["locale"]).survey
        if score is not None and not low <= score <= high:
            score = None
        errors: list[FieldError] = []
        if score is None:
            errors.append(FieldError(field="score", message=chrome.score_error.format(min=low, max=high)))
        if len(comment) > MAX_COMMENT_LENGTH:
            errors.append(
                FieldError(
                    field="comment",
                    message=chrome.comment_error.format(
                        max=format_number(MAX_COMMENT_LENGTH, locale=invitation["locale"])
                    ),
                )
            )
        if score is not None and not errors:
            try:
                async with pool.acquire() as conn, conn.transaction():
                    answer, inserted = await service.answer_invitation(
                        conn,
                        invitation,
                        score=score,
                        comment=comment,
                        contact_requested=contact,
                        channel=invitation["channel"] or "web",
                        now=datetime.now(UTC),
                    )
            except Conflict:
                # the edit window closed between showing the page and this post
                errors.append(FieldError(field=None, message=chrome.edit_closed_error))
            except InvalidInput:
                # the checks above make this the service's own score check; say it the page's way
                errors.append(FieldError(field="score", message=chrome.score_error.format(min=low, max=high)))
        if errors:
            view = self._survey_view(
                request,
                invitation,
                token,
                score=score,
                comment=comment,
                contact=contact,
                errors=errors,
            )
            return HtmlPage(_pages(request).render_survey_page(view), INVALID_FORM_STATUS)
        if inserted:
            count_answer(channel=answer.channel, kind=answer.kind)
        contact_by = (
            await _promised_contact(request, pool, msgspec.structs.asdict(answer))
            if answer.contact_requested
            else None
        )
        # the stored answer came back from its own statement: no second read
        return self._thanks(
            request,
            invitation["locale"],
            token,
            answer.editable_until,
            contact_by,
            time_zone=invitation["time_zone"],
            survey_thanks=own_thanks(invitation, brand=_brand(request)),
        )

    @get("/u/{token:str}")
    async def confirm_unsubscribe(
        self, request: Request[Any, Any, State], pool: NamedDependency[asyncpg.Pool], token: FromPath[str]
    ) -> HtmlPage:
        """A GET only shows the page with its unsubscribe button: scanners must not opt anyone out."""
        return await self._render_survey(request, pool, token, None)

    @post("/u/{token:str}", status_code=200)
    async def unsubscribe(
        self, request: Request[Any, Any, State], pool: NamedDependency[asyncpg.Pool], token: FromPath[str]
    ) -> HtmlPage:
        """RFC 8058 one-click: no cookie, no redirect, idempotent; works after the survey expired."""
        invitation = None
        if looks_like_token(token):
            invitation = await queries.invitation_by_token(pool, hash_token(token))
        if invitation is None or invitation["erased"] or invitation["channel"] not in ("email", "sms"):
            return self._unavailable(request)
        channel = invitation["channel"]
        address = (invitation["email"] or "").lower() if channel == "email" else invitation["phone"]
        if address:
            async with pool.acquire() as conn, conn.transaction():
                # the customer first (customers/locks.py): erased meanwhile, there is nothing to keep
                customer = await lock_customer(conn, invitation["customer_id"], exclusive=False)
                if customer is None or customer["erased_at"] is not None:
                    return self._unavailable(request)
                added = await queries.add_suppression(
                    conn,
                    channel=channel,
                    address=address,
                    customer_id=invitation["customer_id"],
                    reason="unsubscribe",
                )
                if added:
                    await enqueue(
                        conn,
                        topic=service.EVENT_TOPIC,
                        ordering_key=str(invitation["customer_id"]),
                        payload={
                            "type": "customer.opted_out",
                            "data": {
                                "customer_id": str(invitation["customer_id"]),
                                "channel": channel,
                                "source": "unsubscribe_link",
                                "at": datetime.now(UTC).isoformat(),
                            },
                        },
                        dedupe_key=f"customer.opted_out:{channel}:{invitation['customer_id']}:{added}",
                    )
        texts = page_texts(invitation["locale"])
        view = UnsubscribedPageView(lang=texts.locale, brand_name=_brand(request), texts=texts.unsubscribed)
        return HtmlPage(_pages(request).render_unsubscribed_page(view))
