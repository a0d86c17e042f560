"""The message catalogs: one `.po` per locale, compiled in memory once per process.

Binary `.mo` files are not committed: they would be a second copy of every catalog that a
reviewer cannot read and that silently goes stale when someone edits the `.po`. Babel compiles
the `.po` into an in-memory `.mo` at first use, which takes milliseconds.
"""

import gettext
import logging
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
# Every text a customer sees exists in these; a customer's other locale falls back to its
# language (pt-BR -> pt), then English. Adding one is docs/languages.md's procedure.
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt", "pl")

logger = logging.getLogger(__name__)

# (locale, msgid) of every text asked for that its catalog lacks; tests assert it stays empty.
_UNTRANSLATED: set[tuple[str, str]] = set()


class _Untranslated(gettext.NullTranslations):
    """The fallback under each catalog: answers with the English and remembers what was missing."""

    def __init__(self, locale: str) -> None:
        super().__init__()
        self._locale = locale

    def _missing(self, msgid: str) -> None:
        if (self._locale, msgid) not in _UNTRANSLATED:
            _UNTRANSLATED.add((self._locale, msgid))
            logger.warning("no %s translation for %r", self._locale, msgid)

    def gettext(self, message: str) -> str:
        self._missing(message)
        return message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        self._missing(msgid1)
        return msgid1 if n == 1 else msgid2

    def pgettext(self, context: str, message: str) -> str:
        self._missing(f"{context}|{message}")
        return message

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        self._missing(f"{context}|{msgid1}")
        return msgid1 if n == 1 else msgid2


Translator = gettext.NullTranslations


def catalog_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translator(locale: str | None) -> Translator:
    """The translations for the best supported match of `locale`; English is the msgids themselves."""
    code = supported_locale(locale)
    if code == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    with catalog_path(code).open("rb") as po:
        catalog = read_po(po, locale=code, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    translations = Translations(compiled, domain=DOMAIN)
    translations.add_fallback(_Untranslated(code))
    return translations


def supported_locale(locale: str | None) -> str:
    """pt-BR, pt_BR or PT -> pt; a language we do not speak -> en."""
    tag = (locale or "").strip().replace("_", "-").lower()
    language = tag.split("-", 1)[0]
    return language if language in SUPPORTED_LOCALES else DEFAULT_LOCALE


def untranslated() -> frozenset[tuple[str, str]]:
    """Every (locale, msgid) asked for since the process started that had no translation."""
    return frozenset(_UNTRANSLATED)
