"""The survey questions per kind and locale, with a fallback to English.

A survey row's own `texts` ({"de": {"question": ...}}) override these per key, so an
operator can reword one question without shipping code.
"""

from typing import Literal

import msgspec

Kind = Literal["nps", "csat", "ces"]

SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class SurveyTexts(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    question: str
    low_label: str
    high_label: str
    reason: str
    contact: str
    # the survey's own, where it has one for the customer's language; None: each channel's
    # shipped wording (the thanks page's heading, the SMS thanks; the SMS invitation per kind)
    thanks: str | None = None
    sms: str | None = None


# Fields with no shipped default here: their defaults live with each channel's wording.
CHANNEL_DEFAULTED = ("thanks", "sms")


_DEFAULTS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "nps": {
            "subject": "How likely are you to recommend {brand}?",
            "question": "How likely are you to recommend {brand} to a friend or colleague?",
            "low_label": "Not at all likely",
            "high_label": "Extremely likely",
        },
        "csat": {
            "subject": "How did we do?",
            "question": "How satisfied were you with your recent {touchpoint}?",
            "low_label": "Very dissatisfied",
            "high_label": "Very satisfied",
        },
        "ces": {
            "subject": "Was it easy?",
            "question": "How easy was it to get what you needed?",
            "low_label": "Very easy",
            "high_label": "Very difficult",
        },
        "common": {
            "reason": "What is the main reason for your score?",
            "contact": "I'd like someone to contact me about this",
            "us": "us",
        },
    },
    "de": {
        "nps": {
            "subject": "Wie wahrscheinlich empfehlen Sie {brand} weiter?",
            "question": "Wie wahrscheinlich ist es, dass Sie {brand} einem Freund oder Kollegen empfehlen?",
            "low_label": "Überhaupt nicht wahrscheinlich",
            "high_label": "Äußerst wahrscheinlich",
        },
        "csat": {
            "subject": "Wie waren wir?",
            "question": "Wie zufrieden waren Sie mit Ihrem letzten Kontakt ({touchpoint})?",
            "low_label": "Sehr unzufrieden",
            "high_label": "Sehr zufrieden",
        },
        "ces": {
            "subject": "War es einfach?",
            "question": "Wie einfach war es, zu bekommen, was Sie brauchten?",
            "low_label": "Sehr einfach",
            "high_label": "Sehr schwierig",
        },
        "common": {
            "reason": "Was ist der wichtigste Grund für Ihre Bewertung?",
            "contact": "Ich möchte, dass sich jemand bei mir meldet",
            "us": "uns",
        },
    },
}

SUPPORTED_LOCALES = tuple(_DEFAULTS)


def locale_chain(locale: str) -> list[str]:
    """pt-BR -> [pt-BR, pt, en]: the most specific text that exists wins."""
    chain = [locale]
    if "-" in locale:
        chain.append(locale.split("-", 1)[0])
    if "en" not in chain:
        chain.append("en")
    return chain


def resolve_texts(
    *,
    kind: str,
    locale: str,
    overrides: dict[str, dict[str, str]] | None = None,
    brand: str | None = None,
    touchpoint: str = "experience",
    touchpoint_name: str | None = None,
    agent: str | None = None,
    date: str | None = None,
) -> SurveyTexts:
    """The texts for one survey in one locale: survey overrides, then shipped defaults.

    `touchpoint_name` is {touchpoint} as the customer reads it (placeholders.touchpoint_name),
    else the key with spaces; {agent} is the agent, else the brand; {date} is filled when given."""
    resolved: dict[str, str] = {}
    for code in reversed(locale_chain(locale)):
        defaults = _DEFAULTS.get(code, {})
        if defaults:
            # shipped wording in a closer language beats the survey's own in a farther one
            for field in CHANNEL_DEFAULTED:
                resolved.pop(field, None)
        resolved.update(defaults.get("common", {}))
        resolved.update(defaults.get(kind, {}))
        resolved.update((overrides or {}).get(code, {}))
    names = {"brand": brand or resolved["us"], "touchpoint": touchpoint_name or touchpoint.replace("_", " ")}
    # without an agent, the company itself handled the interaction
    names |= {"agent": agent or names["brand"]} | ({"date": date} if date else {})
    return SurveyTexts(
        **{
            field: _fill(resolved[field], names) if field in resolved else None
            for field in SurveyTexts.__struct_fields__
        }
    )


def _fill(template: str, names: dict[str, str]) -> str:
    # str.format would let an override like "{0.__class__}" reach attributes
    for name, value in names.items():
        template = template.replace("{" + name + "}", value)
    return template
