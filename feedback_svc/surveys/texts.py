"""The survey questions per kind and locale, with a fallback to English.

The shipped wording is English here and translated in the gettext catalogs (feedback_svc/i18n);
a survey row's own `texts` ({"de": {"question": ...}}) override it per key, so an operator can
reword one question without shipping code.
"""

from functools import cache
from typing import Literal

import msgspec

from feedback_svc.i18n import N_, SUPPORTED_LOCALES, translator
from feedback_svc.i18n.names import has_brand, touchpoint_name

Kind = Literal["nps", "csat", "ces"]

SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

# The touchpoint a survey sent without an interaction is about (sending.sql says 'experience').
GENERAL_TOUCHPOINT = "experience"


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


# The msgids: English source texts. {brand} and {touchpoint} are filled after translation.
_DEFAULTS: dict[str, dict[str, str]] = {
    "nps": {
        "subject": N_("How likely are you to recommend {brand}?"),
        "question": N_("How likely are you to recommend {brand} to a friend or colleague?"),
        # without a brand of its own the service says "us", and where "us" goes differs by
        # language ("vous nous recommandiez"): a sentence of its own, not "us" put in for {brand}
        "subject_us": N_("How likely are you to recommend us?"),
        "question_us": N_("How likely are you to recommend us to a friend or colleague?"),
        "low_label": N_("Not at all likely"),
        "high_label": N_("Extremely likely"),
    },
    "csat": {
        "subject": N_("How did we do?"),
        "question": N_("How satisfied were you with your recent {touchpoint}?"),
        # without an interaction there is nothing to name; "your recent experience" says it whole
        "question_general": N_("How satisfied were you with your recent experience with us?"),
        "low_label": N_("Very dissatisfied"),
        "high_label": N_("Very satisfied"),
    },
    "ces": {
        "subject": N_("Was it easy?"),
        "question": N_("How easy was it to get what you needed?"),
        "low_label": N_("Very easy"),
        "high_label": N_("Very difficult"),
    },
    "common": {
        "reason": N_("What is the main reason for your score?"),
        "contact": N_("I'd like someone to contact me about this"),
        # stands for {brand} in a survey's own wording when the service has no brand name
        "us": N_("us"),
    },
}


@cache
def shipped_texts(locale: str) -> dict[str, dict[str, str]]:
    """The shipped wording in one supported locale ({} for any other), keyed like _DEFAULTS."""
    if locale not in SUPPORTED_LOCALES:
        return {}
    gettext = translator(locale).gettext
    return {kind: {key: gettext(text) for key, text in texts.items()} for kind, texts in _DEFAULTS.items()}


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
    touchpoint: str | None = GENERAL_TOUCHPOINT,
    touchpoint_display: str | None = None,
    agent: str | None = None,
    date: str | None = None,
) -> SurveyTexts:
    """The texts for one survey in one locale: survey overrides, then shipped defaults.

    `touchpoint` is the touchpoint's key; `touchpoint_display` its name as the customer reads it
    when one is stored for their language (placeholders.touchpoint_name), else the shipped
    touchpoints are named from the catalog. {agent} is the agent, else the brand; {date} is
    filled when given.
    """
    resolved: dict[str, str] = {}
    overridden: set[str] = set()
    for code in reversed(locale_chain(locale)):
        defaults = shipped_texts(code.lower())
        if defaults:
            # shipped wording in a closer language beats the survey's own in a farther one
            for field in CHANNEL_DEFAULTED:
                resolved.pop(field, None)
        resolved.update(defaults.get("common", {}))
        resolved.update(defaults.get(kind, {}))
        # a key is the survey's own only while no closer shipped wording has replaced it
        overridden.difference_update(defaults.get("common", {}), defaults.get(kind, {}))
        override = (overrides or {}).get(code, {})
        resolved.update(override)
        overridden.update(override)
    language = _language_of(locale, overrides)
    general = touchpoint in (None, GENERAL_TOUCHPOINT) and touchpoint_display is None
    if general and "question" not in overridden and "question_general" in resolved:
        resolved["question"] = resolved["question_general"]
    if not has_brand(brand):
        for key in ("subject", "question"):
            if key not in overridden and f"{key}_us" in resolved:
                resolved[key] = resolved[f"{key}_us"]
    named = touchpoint_display or touchpoint_name(touchpoint or GENERAL_TOUCHPOINT, locale=language)
    names = {"brand": brand if brand and has_brand(brand) else resolved["us"], "touchpoint": named}
    # without an agent, the company itself handled the interaction
    names |= {"agent": agent or names["brand"]} | ({"date": date} if date else {})
    # "us" stands for the placeholder brand only in the shipped sentences, which are worded for
    # it; a survey's own sentence gets the brand it was written with
    own_names = names | ({"brand": brand, "agent": agent or brand} if brand else {})
    return SurveyTexts(
        **{
            field: _fill(resolved[field], own_names if field in overridden else names)
            if field in resolved
            else None
            for field in SurveyTexts.__struct_fields__
        }
    )


def _language_of(locale: str, overrides: dict[str, dict[str, str]] | None) -> str:
    # the locale the question is actually worded in, so the touchpoint's name matches it
    for code in locale_chain(locale):
        if code in (overrides or {}) or code.lower() in SUPPORTED_LOCALES:
            return code
    return "en"


def _fill(template: str, names: dict[str, str]) -> str:
    # str.format would let an override like "{0.__class__}" reach attributes
    for name, value in names.items():
        template = template.replace("{" + name + "}", value)
    return template
