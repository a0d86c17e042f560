"""The words around the question in a survey email, in the customer's locale (English fallback)."""

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from feedback_svc.delivery.email.schemas import EmailTexts
from feedback_svc.i18n import translator
from feedback_svc.i18n.names import has_brand
from feedback_svc.surveys.texts import SurveyTexts


def email_texts(
    *,
    survey: SurveyTexts,
    locale: str,
    brand: str,
    name: str | None,
    purpose: str = "survey",
    reminder: bool = False,
    expires_in: timedelta | None = None,
) -> EmailTexts:
    """The survey's own texts (already resolved) with the email's greeting, intro and footer;
    a pulse (`purpose`) says why we ask again so soon after the customer's last answer, and a
    reminder says it is one in its subject and intro (the same question, on the same link).
    `expires_in`: how long the link still opens, said in whole days."""
    translations = translator(locale)
    _ = translations.gettext
    branded = has_brand(brand)
    # plain replace, not str.format: a customer's name may contain braces
    greeting = _("Hello {name},").replace("{name}", name.strip()) if name and name.strip() else None
    if branded:
        intro = _("Thank you for being a customer of {brand}. We would love to hear how we did.")
        footer = _("You receive this email because you are a customer of {brand}.")
    else:
        # the placeholder brand inside a sentence ("a customer of Customer feedback") reads wrong
        intro = _("Thank you for being our customer. We would love to hear how we did.")
        footer = _("You receive this email because you are our customer.")
    if purpose == "pulse":
        intro = (
            _(
                "You told us about a problem recently, and we worked on it. "
                "We would like to know how you feel about {brand} now."
            )
            if branded
            else _(
                "You told us about a problem recently, and we worked on it. "
                "We would like to know how you feel about us now."
            )
        )
    subject = survey.subject
    if reminder:
        subject = _("Reminder: {subject}").replace("{subject}", subject)
        intro = (
            _(
                "A few days ago we asked how we did for you. If you have a minute, "
                "we would still love to hear it; your answer goes straight to the team at {brand}."
            )
            if branded
            else _(
                "A few days ago we asked how we did for you. If you have a minute, "
                "we would still love to hear it; your answer goes straight to our team."
            )
        )
    return EmailTexts(
        subject=subject,
        greeting=greeting or _("Hello,"),
        intro=intro.replace("{brand}", brand),
        question=survey.question,
        low_label=survey.low_label,
        high_label=survey.high_label,
        scale_note=_("Just click a number; it takes less than a minute."),
        footer=footer.replace("{brand}", brand),
        unsubscribe_label=_("Unsubscribe from surveys"),
        score_label=_("{score} out of {max}"),
        expiry_note=_expiry_note(translations.ngettext, expires_in),
    )


def expires_in(expires_at: datetime | None, *, now: datetime) -> timedelta | None:
    """How long an invitation's link still opens, or None when it has no end."""
    return None if expires_at is None else expires_at - now


def _expiry_note(ngettext: Callable[[str, str, int], str], remaining: timedelta | None) -> str | None:
    if remaining is None or remaining <= timedelta(0):
        return None
    # whole days left, rounded down so the promise holds; under a day still says "1 day"
    days = max(1, math.floor(remaining / timedelta(days=1)))
    return ngettext(
        "The link stays open for {days} day.", "The link stays open for {days} days.", days
    ).replace("{days}", str(days))
