"""The committed catalogs: complete, placeholders kept, plural forms as each language has them,
SMS texts in GSM-7, and in step with the texts the code asks for."""

import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.plurals import get_plural

from feedback_svc.delivery.sms.gsm import gsm7_septets
from feedback_svc.i18n import SUPPORTED_LOCALES, translator
from feedback_svc.i18n.catalogs import LOCALES_DIR, catalog_path
from tests.unit.i18n.catalogs import PLACEHOLDER, SHARED_WORDS, msgid_texts, read_catalog

FOREIGN = [locale for locale in SUPPORTED_LOCALES if locale != "en"]
ROOT = Path(__file__).parents[3]
# a translation may equal its English only where the word is the same in that language
SAME_AS_ENGLISH = {("es", "Error:"), ("pt", "Confirmar"), ("es", "Confirmar")} | {
    (locale, word) for locale in FOREIGN for word in SHARED_WORDS
}


def test_every_supported_language_but_english_has_a_catalog() -> None:
    assert sorted(path.name for path in LOCALES_DIR.iterdir() if path.is_dir()) == sorted(FOREIGN)
    assert SUPPORTED_LOCALES == ("en", "de", "fr", "es", "it", "nl", "pt", "pl")


@pytest.mark.parametrize("locale", FOREIGN)
def test_every_message_is_translated_and_keeps_its_placeholders(locale: str) -> None:
    catalog = read_catalog(catalog_path(locale))
    assert not catalog.fuzzy, "a fuzzy header is dropped when compiled, and its Plural-Forms with it"
    template = read_catalog(LOCALES_DIR / "messages.pot")
    assert {(m.id, m.context) for m in catalog if m.id} == {(m.id, m.context) for m in template if m.id}
    for message in catalog:
        if not message.id:
            continue
        english = msgid_texts(message.id)
        translations = msgid_texts(message.string)
        assert not message.fuzzy, message.id
        assert all(text.strip() for text in translations), f"{locale}: no translation for {message.id!r}"
        wanted = sorted(set(PLACEHOLDER.findall(" ".join(english))))
        for text in translations:
            assert sorted(set(PLACEHOLDER.findall(text))) == wanted, (locale, message.id, text)
        for source, text in zip(english, translations, strict=False):
            if text == source:
                assert (locale, text) in SAME_AS_ENGLISH, f"{locale}: {text!r} is still English"


@pytest.mark.parametrize("locale", FOREIGN)
def test_plural_forms_are_the_languages_own(locale: str) -> None:
    catalog = read_catalog(catalog_path(locale))
    expected = get_plural(locale)
    assert catalog.num_plurals == expected.num_plurals
    assert catalog.plural_expr == expected.plural_expr
    plurals = [message for message in catalog if message.id and isinstance(message.id, tuple)]
    assert plurals
    for message in plurals:
        assert len(message.string) == expected.num_plurals, (locale, message.id)


def days(locale: str, n: int) -> str:
    return translator(locale).ngettext(
        "The link stays open for {days} day.", "The link stays open for {days} days.", n
    )


def test_polish_has_three_forms_and_french_counts_zero_as_one() -> None:
    assert [days("pl", n) for n in (1, 2, 5, 22, 12)] == [
        "Link będzie aktywny jeszcze przez {days} dzień.",
        "Link będzie aktywny jeszcze przez {days} dni.",
        "Link będzie aktywny jeszcze przez {days} dni.",
        "Link będzie aktywny jeszcze przez {days} dni.",
        "Link będzie aktywny jeszcze przez {days} dni.",
    ]
    hint = translator("pl").ngettext("%(limit)s character at most.", "%(limit)s characters at most.", 3)
    assert hint == "Maksymalnie %(limit)s znaki."
    assert translator("pl").ngettext("%(limit)s character at most.", "%(limit)s characters at most.", 5) == (
        "Maksymalnie %(limit)s znaków."
    )
    assert days("fr", 0) == "Le lien reste valable {days} jour."
    assert days("de", 0) == "Der Link ist noch {days} Tage gültig."
    assert days("en", 1) == "The link stays open for {days} day."


@pytest.mark.parametrize("locale", FOREIGN)
def test_sms_translations_stay_in_gsm7(locale: str) -> None:
    for message in read_catalog(catalog_path(locale)):
        if message.context == "sms":
            assert gsm7_septets(message.string) is not None, (locale, message.string)


def test_the_template_lists_exactly_what_the_code_asks_for(tmp_path: Path) -> None:
    """Run the documented extraction; a text added to the code but not to the catalogs fails here."""
    extracted = tmp_path / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "NC_:1c,2", "-k", "N_",
         "--no-location", "--sort-output", "--omit-header", "-o", str(extracted), str(ROOT)]
    )  # fmt: skip
    fresh = {(m.id, m.context) for m in read_catalog(extracted) if m.id}
    committed = {(m.id, m.context) for m in read_catalog(LOCALES_DIR / "messages.pot") if m.id}
    assert fresh == committed
    assert any(re.search(r"%\(limit\)s", " ".join(msgid_texts(m))) for m, _ in fresh)  # the templates too
