"""What we text customers, per locale; an unknown locale falls back to its language, then English.

Every text, in every catalog, is written in GSM-7 (no curly quotes, no dashes other than "-",
Polish without its diacritics as Polish SMS commonly are) so that one message stays one
160-character segment. STOP, START and HELP stay English in every language because the
provider's opt-out handling only knows those (replies.py also reads each language's own words).
"""

from functools import cache
from typing import Literal

import msgspec

from feedback_svc.i18n import supported_locale, translator

SurveyKind = Literal["nps", "csat", "ces"]

SCALES: dict[SurveyKind, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class SmsTexts(msgspec.Struct, frozen=True, kw_only=True):
    """Templates for one language; placeholders in braces are filled by the functions below."""

    invitation: dict[SurveyKind, str]  # {brand} {low} {high}; each starts "{brand}: "
    reminder_lead: str  # {brand}: stands for the invitation's "{brand}: " in a reminder
    reprompt: str  # {low} {high}
    ask_reason: str
    thanks: str
    thanks_contact: str  # {deadline}
    contact: str  # {brand} {deadline}: a contact request by SMS keyword, confirmed
    stop: str  # {brand}
    start: str  # {brand}
    help: str  # {brand}
    help_contact: str  # {contact}


@cache
def _locale_texts(code: str) -> SmsTexts:
    # msgctxt "sms": the same English on a page may read differently, and SMS must stay GSM-7
    pgettext = translator(code).pgettext
    return SmsTexts(
        invitation={
            "nps": pgettext(
                "sms",
                "{brand}: How likely are you to recommend us to a friend? "
                "Reply {low}-{high} ({high} = very likely). Reply STOP to opt out.",
            ),
            "csat": pgettext(
                "sms",
                "{brand}: How satisfied were you with us? "
                "Reply {low}-{high} ({high} = very satisfied). Reply STOP to opt out.",
            ),
            "ces": pgettext(
                "sms",
                "{brand}: How easy was it to get what you needed? "
                "Reply {low}-{high} ({high} = very easy). Reply STOP to opt out.",
            ),
        },
        reminder_lead=pgettext("sms", "{brand}, a reminder: "),
        reprompt=pgettext(
            "sms",
            "Sorry, we didn't get that. Please reply with one whole number from {low} to {high}, "
            "or STOP to opt out.",
        ),
        ask_reason=pgettext(
            "sms",
            "Thank you! What is the main reason for your score? Just reply with a few words, "
            "or CALL if you'd like us to call you.",
        ),
        thanks=pgettext("sms", "Thank you for your feedback!"),
        thanks_contact=pgettext("sms", " We'll contact you by {deadline}."),
        contact=pgettext("sms", "Thank you. Someone from {brand} will contact you by {deadline}."),
        stop=pgettext(
            "sms",
            "You're unsubscribed from {brand} surveys and will get no more messages. "
            "Reply START to resubscribe.",
        ),
        start=pgettext(
            "sms", "You're resubscribed to {brand} surveys. Reply STOP to opt out, HELP for help."
        ),
        help=pgettext(
            "sms",
            "{brand} surveys: reply with a number to answer, STOP to opt out, START to resubscribe. "
            "Msg&data rates may apply.",
        ),
        help_contact=pgettext("sms", " Help: {contact}"),
    )


def resolve_locale(locale: str | None) -> str:
    """The best locale we have texts for: `pt-BR` tries `pt`, then English."""
    return supported_locale(locale)


def invitation(*, locale: str | None, kind: SurveyKind, brand: str) -> str:
    low, high = SCALES[kind]
    return _texts(locale).invitation[kind].format(brand=brand, low=low, high=high)


def reminder(*, locale: str | None, kind: SurveyKind, brand: str) -> str:
    """The invitation again, led by "a reminder": a reply answers it the same way."""
    low, high = SCALES[kind]
    texts = _texts(locale)
    template = texts.reminder_lead + texts.invitation[kind].removeprefix("{brand}: ")
    return template.format(brand=brand, low=low, high=high)


def reminder_of(text: str, *, locale: str | None, brand: str) -> str:
    """A survey's own SMS text as a reminder: led by "a reminder", its own "{brand}: " lead dropped."""
    lead = _texts(locale).reminder_lead.format(brand=brand)
    return lead + text.removeprefix(f"{brand}: ")


def reprompt(*, locale: str | None, kind: SurveyKind) -> str:
    """Sent once after a reply that is neither a score nor a keyword."""
    low, high = SCALES[kind]
    return _texts(locale).reprompt.format(low=low, high=high)


def ask_reason(*, locale: str | None) -> str:
    return _texts(locale).ask_reason


def thanks(*, locale: str | None, contact_by: str | None = None, own: str | None = None) -> str:
    """`contact_by` is the deadline promised to the customer, already written in their own time zone
    (`feedback_svc.lib.localtime.local_text` with the customer's `time_zone`); `own` is the survey's
    own thank-you text (already filled), said instead of ours."""
    texts = _texts(locale)
    said = own if own is not None else texts.thanks
    if contact_by is None:
        return said
    return said + texts.thanks_contact.format(deadline=contact_by)


def contact_confirmation(*, locale: str | None, brand: str, contact_by: str) -> str:
    """A contact request by SMS, confirmed with the deadline promised (in the customer's time zone)."""
    return _texts(locale).contact.format(brand=brand, deadline=contact_by)


def stop_confirmation(*, locale: str | None, brand: str) -> str:
    return _texts(locale).stop.format(brand=brand)


def start_confirmation(*, locale: str | None, brand: str) -> str:
    return _texts(locale).start.format(brand=brand)


def help_text(*, locale: str | None, brand: str, contact: str | None = None) -> str:
    """Carriers expect HELP to name the sender, how to opt out and where to get help."""
    texts = _texts(locale)
    text = texts.help.format(brand=brand)
    return text if contact is None else text + texts.help_contact.format(contact=contact)


def _texts(locale: str | None) -> SmsTexts:
    return _locale_texts(resolve_locale(locale))
