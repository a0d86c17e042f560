import pytest

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
