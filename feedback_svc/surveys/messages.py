"""What an invitation says to the customer, and a reminder of it: the email or the SMS text.

Built from the invitation's row as the senders lock it (sending.sql `lock_invitation_for_send`).
A reminder asks the same question on the same link (the token is derived from the invitation's
id), says it is a reminder, and carries a Message-ID of its own that threads it under the
invitation's.
"""

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from feedback_svc.delivery.email.render import make_message_id, render_survey_email
from feedback_svc.delivery.errors import PermanentDeliveryError
from feedback_svc.delivery.sms import texts as sms_texts
from feedback_svc.surveys.email_texts import email_texts, expires_in
from feedback_svc.surveys.placeholders import values_for
from feedback_svc.surveys.texts import SurveyTexts, locale_chain, resolve_texts
from feedback_svc.surveys.tokens import token_for


def survey_email(
    invitation: dict[str, Any],
    *,
    to: str,
    secret_key: str,
    base_url: str,
    mail_from: str,
    brand: str,
    reminder: int = 0,
) -> EmailMessage:
    """The survey email to `to`; reminder number `reminder` when it is one (0: the invitation)."""
    token = token_for(secret_key, invitation["id"])
    survey = survey_texts(invitation, brand=brand)
    original = make_message_id(invitation["id"], mail_from=mail_from)
    try:
        return render_survey_email(
            to=to,
            from_address=mail_from,
            message_id=make_message_id(invitation["id"], mail_from=mail_from, reminder=reminder),
            in_reply_to=original if reminder else None,
            locale=invitation["locale"],
            texts=email_texts(
                survey=survey,
                locale=invitation["locale"],
                brand=brand,
                name=invitation["name"],
                purpose=invitation["purpose"],
                reminder=reminder > 0,
                expires_in=expires_in(invitation.get("expires_at"), now=datetime.now(UTC)),
            ),
            kind=invitation["kind"],
            survey_url=f"{base_url}/s/{token}",
            unsubscribe_url=f"{base_url}/u/{token}",
            brand_name=brand,
        )
    except ValueError as error:
        # an address or setting the email cannot carry; a retry would build the same message
        raise PermanentDeliveryError(f"cannot build the survey email: {error}") from error


def survey_texts(invitation: dict[str, Any], *, brand: str) -> SurveyTexts:
    """The survey's texts for this invitation: its version's, in its locale, placeholders filled."""
    return resolve_texts(
        kind=invitation["kind"],
        locale=invitation["locale"],
        overrides=invitation["texts"],
        brand=brand,
        touchpoint=invitation["touchpoint"],
        **values_for(invitation),
    )


def own_thanks(invitation: dict[str, Any], *, brand: str) -> str | None:
    """survey_texts(...).thanks: the survey's own thank-you text, None where the shipped one stands.

    Only a survey's own texts have a thanks (texts.CHANNEL_DEFAULTED), so without one along the
    customer's locale chain the answer is None, and resolving every text and formatting {date}
    would be thrown away: ~30 µs of the web form's answer.
    """
    overrides = invitation["texts"] or {}
    if not any("thanks" in overrides.get(code, {}) for code in locale_chain(invitation["locale"])):
        return None
    return survey_texts(invitation, brand=brand).thanks


def survey_sms(invitation: dict[str, Any], *, brand: str, reminder: int = 0) -> str:
    """The survey SMS; a reply with a number answers it, invitation or reminder alike.

    A survey with an SMS text of its own sends that (a reminder leads it with "a reminder")."""
    own = survey_texts(invitation, brand=brand).sms
    if own is not None:
        return sms_texts.reminder_of(own, locale=invitation["locale"], brand=brand) if reminder else own
    if reminder:
        return sms_texts.reminder(locale=invitation["locale"], kind=invitation["kind"], brand=brand)
    return sms_texts.invitation(locale=invitation["locale"], kind=invitation["kind"], brand=brand)


def sms_idempotency_key(invitation: dict[str, Any], *, reminder: int = 0) -> str:
    """What the provider drops a repeated message by: the invitation's id, and the reminder's number."""
    return f"{invitation['id']}:reminder:{reminder}" if reminder else str(invitation["id"])
