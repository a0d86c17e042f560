"""Names that go inside sentences: the shipped touchpoints, and the brand when none is set."""

from feedback_svc.i18n.catalogs import translator
from feedback_svc.settings import DEFAULT_BRAND

TOUCHPOINT_CONTEXT = "touchpoint"


def NC_(context: str, message: str) -> str:  # noqa: N802 - extracted as NC_:1c,2 (babel.cfg)
    """Marks a msgid with its context for extraction; translated where it is used."""
    return message


# The touchpoints the first migration ships, named as they read inside the CSAT question
# ("How satisfied were you with your recent {touchpoint}?"). A touchpoint added later is named
# by the display name stored with it, or failing that, by its key.
TOUCHPOINT_NAMES: dict[str, str] = {
    "experience": NC_("touchpoint", "experience"),
    "support_call": NC_("touchpoint", "support call"),
    "support_chat": NC_("touchpoint", "support chat"),
    "delivery": NC_("touchpoint", "delivery"),
    "onboarding": NC_("touchpoint", "onboarding"),
    "billing": NC_("touchpoint", "billing question"),
    "cancellation": NC_("touchpoint", "cancellation request"),
    "relationship": NC_("touchpoint", "time with us"),
}


def touchpoint_name(key: str, *, locale: str | None) -> str:
    """A shipped touchpoint's name in `locale`; any other key with its underscores as spaces."""
    english = TOUCHPOINT_NAMES.get(key)
    if english is None:
        return key.replace("_", " ")
    # msgctxt "touchpoint": "delivery" the noun, not any other "delivery" a catalog may hold
    return translator(locale).pgettext(TOUCHPOINT_CONTEXT, english)


def has_brand(brand: str | None) -> bool:
    """False while the service still carries the placeholder brand: sentences then say "us"."""
    return bool(brand and brand.strip()) and brand != DEFAULT_BRAND
