"""Every page, email and SMS in every language: nothing asked of a catalog is missing from it,
and no English sentence is left in a text that is not English."""

import re
from functools import cache
from html.parser import HTMLParser

import pytest

from feedback_svc.i18n import SUPPORTED_LOCALES, untranslated
from feedback_svc.i18n.catalogs import catalog_path
from feedback_svc.surveys.web.render import SurveyPages
from tests.unit.i18n.catalogs import english_fragments
from tests.unit.i18n.texts import email_parts, rendered_emails, rendered_pages, sms_texts

FOREIGN = [locale for locale in SUPPORTED_LOCALES if locale != "en"]


class _Text(HTMLParser):
    """What a reader sees and hears: text, titles and the labels screen readers announce."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts += [value for name, value in attrs if name in ("aria-label", "title") and value]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@cache
def everything(locale: str) -> tuple[str, ...]:
    pages = SurveyPages()
    texts = [visible_text(html) for html in rendered_pages(locale, pages)]
    for message in rendered_emails(locale):
        subject, plain, html = email_parts(message)
        texts += [subject, plain, visible_text(html)]
    return (*texts, *sms_texts(locale))


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_text_asked_for_has_a_translation(locale: str) -> None:
    before = untranslated()
    assert everything.__wrapped__(locale)  # rendered afresh: a cached result would record nothing
    assert untranslated() - before == frozenset()


@pytest.mark.parametrize("locale", FOREIGN)
def test_no_english_is_left_in_another_language(locale: str) -> None:
    fragments = english_fragments(catalog_path(locale))
    assert len(fragments) > 50  # the check reads the real catalog, not an empty one
    leftovers = []
    for text in everything(locale):
        for fragment in fragments:
            if re.search(rf"(?<!\w){re.escape(fragment)}(?!\w)", text):
                leftovers.append((fragment, text[:120]))
    assert leftovers == []


def test_the_check_would_catch_an_english_sentence() -> None:
    # the same search over the English texts finds English everywhere
    fragments = english_fragments(catalog_path("de"))
    english = " ".join(everything("en"))
    found = [fragment for fragment in fragments if re.search(rf"(?<!\w){re.escape(fragment)}(?!\w)", english)]
    assert "Thank you for your feedback" in found
    assert len(found) > 40
