import re

import pytest

from feedback_svc.surveys.texts import resolve_texts
from feedback_svc.surveys.web.texts import PAGE_LOCALES, negotiate_locale, page_texts, survey_page_texts


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("de", "de"), ("de-AT", "de"), ("pt-BR", "pt"), ("pt", "pt"), ("sv", "en"), ("en-GB", "en")],
)
def test_page_texts_fall_back_from_region_to_language_to_english(locale: str, expected: str) -> None:
    assert page_texts(locale).locale == expected


def test_german_is_german() -> None:
    assert page_texts("de").survey.confirm == "Bestätigen"
    assert page_texts("en").survey.confirm == "Confirm"


def test_every_translation_keeps_the_placeholders_the_pages_fill_in() -> None:
    def placeholders(locale: str) -> dict[str, list[str]]:
        texts = page_texts(locale)
        found: dict[str, list[str]] = {}
        for part in ("survey", "thanks", "unavailable", "unsubscribed"):
            struct = getattr(texts, part)
            for field in struct.__struct_fields__:
                found[f"{part}.{field}"] = sorted(re.findall(r"\{\w+\}", getattr(struct, field)))
        return found

    english = placeholders("en")
    assert english["survey.edit_note"] == ["{until}"]
    assert english["thanks.contact_promise"] == ["{deadline}"]
    assert english["survey.comment_error"] == ["{max}"]
    for locale in PAGE_LOCALES:
        assert placeholders(locale) == english, locale


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr-CH, fr;q=0.9, de;q=0.7, en;q=0.5", "fr"),
        ("sv-SE, sv;q=0.9, pl;q=0.7, en;q=0.5", "pl"),
        ("en;q=0.2, de;q=0.8", "de"),
        ("de;q=0, en", "en"),
        ("de;q=oops, en", "en"),
        ("*", "en"),
    ],
)
def test_negotiate_locale_picks_the_best_language_we_have(header: str | None, expected: str) -> None:
    assert negotiate_locale(header) == expected


def test_survey_page_texts_carries_the_survey_wording_and_the_chrome() -> None:
    resolved = resolve_texts(kind="csat", locale="de", touchpoint="delivery")
    texts = survey_page_texts(resolved, page_texts("de").survey)
    assert texts.question == resolved.question
    assert (texts.low_label, texts.high_label) == (resolved.low_label, resolved.high_label)
    assert texts.reason_prompt == resolved.reason
    assert texts.contact_me == resolved.contact
    assert texts.chrome.submit == "Absenden"
