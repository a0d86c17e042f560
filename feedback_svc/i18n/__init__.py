"""The languages customers are spoken to in: gettext catalogs, locale matching, dates and plurals.

English is the source language: every msgid is the English text, so English needs no catalog.
"""

from feedback_svc.i18n.catalogs import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    Translator,
    supported_locale,
    translator,
    untranslated,
)


def N_(message: str) -> str:  # noqa: N802 - the name pybabel extracts by default
    """Marks a msgid for extraction where it is defined; it is translated where it is used."""
    return message


__all__ = [
    "DEFAULT_LOCALE",
    "N_",
    "SUPPORTED_LOCALES",
    "Translator",
    "supported_locale",
    "translator",
    "untranslated",
]
