"""What a survey's own texts may say, checked when saved, and the values that fill them when sent.

Placeholders are {brand} (FEEDBACK_BRAND_NAME), {touchpoint} (the touchpoint's name in the
customer's language), {agent} (who handled the interaction; without one, the brand) and {date}
(the day of the interaction, in the customer's time zone and language). Anything else in
braces, a lone brace, an empty text, a text over its limit or an SMS over MAX_SMS_SEGMENTS is
refused at save time with a pointer to the locale and field, so no send fails on a template.
"""

import re
from datetime import date, datetime
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from feedback_svc.delivery.sms.gsm import gsm7_septets, sms_segments
from feedback_svc.i18n import SUPPORTED_LOCALES
from feedback_svc.i18n.names import TOUCHPOINT_NAMES
from feedback_svc.lib.localtime import zone_of
from feedback_svc.surveys.texts import GENERAL_TOUCHPOINT, locale_chain

PLACEHOLDERS = ("brand", "touchpoint", "agent", "date")

# the fields of a survey's texts per locale, and the longest each may be (characters)
FIELD_LIMITS: dict[str, int] = {
    "question": 300,
    "low_label": 60,
    "high_label": 60,
    "reason": 300,
    "contact": 200,
    "thanks": 300,
    "subject": 200,
    "sms": 640,
}
# fields the customer reads on one line
ONE_LINE = frozenset({"subject", "low_label", "high_label", "sms"})
# An invitation SMS costs a segment per 153 GSM-7 characters (67 in UCS-2, as soon as one
# character is outside GSM-7): three segments is where a survey question stops being short.
MAX_SMS_SEGMENTS = 3
# the texts that go out by SMS: the invitation, and the thanks that ends an SMS conversation
SENT_BY_SMS = frozenset({"sms", "thanks"})
# what the placeholders are counted as when an SMS is measured at save time: the longest
# plausible values, so a text that passes stays within the limit when sent
SAMPLE_LENGTHS = {"touchpoint": 30, "agent": 30, "date": 20}

_BRACED = re.compile(r"\{([^{}]*)\}")
# as customers' locales are written (customers/schemas.py): a language, perhaps a region
_LOCALE_SHAPE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")


def canonical_locale(code: str) -> str:
    """'pt_br' and 'PT-BR' read 'pt-BR', as customers' locales are stored."""
    language, _, region = code.strip().replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


def locale_problem(code: str) -> str | None:
    """Why `code` (canonical) is no locale a survey can have texts for; None when it is one.
    Babel's CLDR data must know it, so "xx" or "en-XX" never sit in a fallback chain."""
    if not _LOCALE_SHAPE.fullmatch(code):
        return "not a locale; use a language with an optional region, such as en, de or pt-BR"
    try:
        Locale.parse(code, sep="-")
    except (UnknownLocaleError, ValueError):
        return f"unknown locale {code!r}; use one such as en, de or pt-BR"
    return None


def placeholder_problem(text: str) -> str | None:
    """An unknown placeholder or a brace without its pair, said as the customer would not see it."""
    unknown = sorted({name for name in _BRACED.findall(text) if name not in PLACEHOLDERS})
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        return f"unknown placeholder {names}; allowed: {allowed}"
    rest = _BRACED.sub("", text)
    if "{" in rest or "}" in rest:
        return f"a brace without its pair; placeholders look like {{brand}} (allowed: {allowed})"
    return None


def sms_measure(text: str) -> tuple[str, int]:
    """('GSM-7' or 'UCS-2', segments) of an SMS as sent."""
    return ("GSM-7" if gsm7_septets(text) is not None else "UCS-2"), sms_segments(text)


def text_problems(locale: str, texts: dict[str, Any], *, brand: str) -> list[dict[str, str]]:
    """What is wrong with one locale's texts: one entry per field, with its JSON pointer."""
    problems = []
    for field, value in texts.items():
        pointer = f"/texts/{locale}/{field}"
        if field not in FIELD_LIMITS:
            known = ", ".join(FIELD_LIMITS)
            problems.append({"pointer": pointer, "detail": f"unknown field {field!r}; fields: {known}"})
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append({"pointer": pointer, "detail": "must be a text that is not empty"})
            continue
        limit = FIELD_LIMITS[field]
        if len(value) > limit:
            detail = f"{len(value)} characters; at most {limit}"
            problems.append({"pointer": pointer, "detail": detail})
            continue
        if (problem := placeholder_problem(value)) is not None:
            problems.append({"pointer": pointer, "detail": problem})
            continue
        if field in ONE_LINE and "\n" in value.strip():
            problems.append({"pointer": pointer, "detail": "must be one line"})
            continue
        if field in SENT_BY_SMS:
            encoding, segments = sms_measure(fill_for_measure(value, brand=brand))
            if segments > MAX_SMS_SEGMENTS:
                detail = (
                    f"{segments} SMS segments in {encoding} with placeholders filled; at most "
                    f"{MAX_SMS_SEGMENTS}"
                    + (" (a character outside GSM-7 makes the whole text UCS-2, 67 characters a segment)"
                       if encoding == "UCS-2" else "")
                )  # fmt: skip
                problems.append({"pointer": pointer, "detail": detail})
    return problems


def fill_for_measure(text: str, *, brand: str) -> str:
    """The text with each placeholder as long as it may plausibly be when sent."""
    values = {"brand": brand, **{name: "x" * length for name, length in SAMPLE_LENGTHS.items()}}
    return _BRACED.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def touchpoint_name(
    *, key: str | None, name: str | None, display_names: dict[str, str] | None, locale: str
) -> str | None:
    """{touchpoint} for a customer when it is not the shipped wording: a stored display name
    along the locale chain, else the touchpoint's name; an interaction at a touchpoint without
    a row keeps its key, read with spaces. None: a shipped touchpoint (or the general
    "experience") in a language the catalogs speak, which resolve_texts names from them."""
    for code in locale_chain(locale):
        if display_names and display_names.get(code):
            return display_names[code]
        # a stored name in the customer's own language beats the shipped translation, which
        # beats a stored name in a farther language of the chain
        if (key is None or key in TOUCHPOINT_NAMES) and code.lower() in SUPPORTED_LOCALES:
            return None
    if key is None or key == GENERAL_TOUCHPOINT:
        return None
    return name or key.replace("_", " ")


@cache
def _babel_locale(locale: str) -> Locale:
    for code in locale_chain(locale):
        try:
            return Locale.parse(code, sep="-" if "-" in code else "_")
        except (UnknownLocaleError, ValueError):
            continue
    return Locale("en")


def date_text(moment: datetime | date, *, time_zone: str | None, locale: str) -> str:
    """{date}: the day, in the customer's zone, as their language writes it ("6. Dezember 2026")."""
    day = moment.astimezone(zone_of(time_zone)).date() if isinstance(moment, datetime) else moment
    return format_date(day, format="long", locale=_babel_locale(locale))


def values_for(invitation: dict[str, Any]) -> dict[str, str | None]:
    """The keyword arguments of resolve_texts for one invitation row (as the senders read it)."""
    locale = invitation["locale"]
    return {
        "touchpoint_display": touchpoint_name(
            key=invitation.get("touchpoint"),
            name=invitation.get("touchpoint_name"),
            display_names=invitation.get("touchpoint_names"),
            locale=locale,
        ),
        "agent": invitation.get("agent"),
        "date": date_text(invitation["occurred_at"], time_zone=invitation.get("time_zone"), locale=locale),
    }
