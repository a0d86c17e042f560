from datetime import timedelta

import pytest

from feedback_svc.settings import DEFAULT_BRAND
from feedback_svc.surveys.email_texts import email_texts
from feedback_svc.surveys.texts import locale_chain, resolve_texts


def test_locale_falls_back_to_language_then_english() -> None:
    assert locale_chain("pt-BR") == ["pt-BR", "pt", "en"]
    assert locale_chain("en") == ["en"]


def test_german_texts_and_english_fallback() -> None:
    german = resolve_texts(kind="nps", locale="de-AT")
    assert "empfehlen" in german.question
    assert "uns" in german.question
    swedish = resolve_texts(kind="nps", locale="sv")
    assert swedish.question.startswith("How likely")
    assert resolve_texts(kind="nps", locale="fr-CA").question.startswith("Quelle est la probabilité")


def test_survey_overrides_win_per_locale() -> None:
    texts = resolve_texts(kind="csat", locale="de", overrides={"de": {"question": "Alles gut?"}})
    assert texts.question == "Alles gut?"
    assert texts.reason.startswith("Was ist")


def test_placeholders_are_filled_without_format_injection() -> None:
    texts = resolve_texts(
        kind="csat",
        locale="en",
        touchpoint="support_call",
        overrides={"en": {"question": "{0.__class__} {brand} {touchpoint}"}},
        brand="Acme",
    )
    assert texts.question == "{0.__class__} Acme support call"


@pytest.mark.parametrize(
    ("locale", "subject", "intro"),
    [
        ("en", "Reminder: How likely are you to recommend Acme?", "A few days ago we asked"),
        ("de", "Erinnerung: Wie wahrscheinlich empfehlen Sie Acme weiter?", "Vor ein paar Tagen"),
        ("pt-BR", "Lembrete: Você recomendaria Acme?", "Há alguns dias"),
        ("sv", "Reminder: How likely are you to recommend Acme?", "A few days ago we asked"),
    ],
)
def test_a_reminder_email_says_so_and_asks_the_same_question(locale: str, subject: str, intro: str) -> None:
    survey = resolve_texts(kind="nps", locale=locale, brand="Acme")
    invitation = email_texts(survey=survey, locale=locale, brand="Acme", name="Ana")
    reminder = email_texts(survey=survey, locale=locale, brand="Acme", name="Ana", reminder=True)
    assert reminder.subject == subject
    assert reminder.intro.startswith(intro)
    assert "Acme" in reminder.intro
    assert reminder.intro != invitation.intro
    assert (reminder.question, reminder.greeting) == (invitation.question, invitation.greeting)


def test_the_touchpoint_is_named_in_the_customers_language() -> None:
    german = resolve_texts(kind="csat", locale="de", touchpoint="support_call")
    assert german.question == "Wie zufrieden waren Sie mit Ihrem letzten Kontakt (Anruf beim Kundenservice)?"
    assert "support" not in german.question
    assert "(livraison)" in resolve_texts(kind="csat", locale="fr-BE", touchpoint="delivery").question
    assert "support call" in resolve_texts(kind="csat", locale="en", touchpoint="support_call").question


def test_a_display_name_passed_in_wins_and_an_unknown_touchpoint_reads_as_its_key() -> None:
    named = resolve_texts(kind="csat", locale="de", touchpoint="support_call", touchpoint_display="Beratung")
    assert named.question == "Wie zufrieden waren Sie mit Ihrem letzten Kontakt (Beratung)?"
    assert "(store visit)" in resolve_texts(kind="csat", locale="de", touchpoint="store_visit").question


def test_without_a_touchpoint_the_question_is_a_whole_sentence() -> None:
    for touchpoint in (None, "experience"):
        texts = resolve_texts(kind="csat", locale="de", touchpoint=touchpoint)
        assert texts.question == "Wie zufrieden waren Sie bei Ihrem letzten Kontakt mit uns?"
    english = resolve_texts(kind="csat", locale="en", touchpoint=None)
    assert english.question == "How satisfied were you with your recent experience with us?"
    # an operator's own question keeps its {touchpoint}, named the language's way
    own = resolve_texts(
        kind="csat", locale="de", overrides={"de": {"question": "Wie war es ({touchpoint})?"}}
    )
    assert own.question == "Wie war es (Erfahrung)?"


@pytest.mark.parametrize("brand", [None, DEFAULT_BRAND])
def test_without_a_brand_each_language_says_us_its_own_way(brand: str | None) -> None:
    assert resolve_texts(kind="nps", locale="fr", brand=brand).subject == "Nous recommanderiez-vous ?"
    assert resolve_texts(kind="nps", locale="en", brand=brand).question == (
        "How likely are you to recommend us to a friend or colleague?"
    )
    survey = resolve_texts(kind="nps", locale="de", brand=brand)
    email = email_texts(survey=survey, locale="de", brand=DEFAULT_BRAND, name=None)
    assert email.intro.startswith("Vielen Dank, dass Sie unser Kunde sind.")
    assert DEFAULT_BRAND not in email.intro + email.footer + email.subject
    assert resolve_texts(kind="nps", locale="fr", brand="Acme").subject == "Recommanderiez-vous Acme ?"


@pytest.mark.parametrize(
    ("locale", "remaining", "note"),
    [
        ("pl", timedelta(days=1, hours=5), "Link będzie aktywny jeszcze przez 1 dzień."),
        ("pl", timedelta(days=3), "Link będzie aktywny jeszcze przez 3 dni."),
        ("pl", timedelta(days=5, hours=23), "Link będzie aktywny jeszcze przez 5 dni."),
        ("en", timedelta(hours=5), "The link stays open for 1 day."),
        ("de", timedelta(days=7), "Der Link ist noch 7 Tage gültig."),
        ("en", None, None),
        ("en", timedelta(seconds=-1), None),
    ],
)
def test_the_email_says_how_long_the_link_stays_open_in_the_languages_plural(
    locale: str, remaining: timedelta | None, note: str | None
) -> None:
    survey = resolve_texts(kind="nps", locale=locale, brand="Acme")
    texts = email_texts(survey=survey, locale=locale, brand="Acme", name="Ana", expires_in=remaining)
    assert texts.expiry_note == note
