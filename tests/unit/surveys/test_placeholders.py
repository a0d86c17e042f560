"""What a survey's own texts may say, checked before anything is saved."""

from datetime import UTC, datetime

import pytest

from feedback_svc.surveys.placeholders import (
    MAX_SMS_SEGMENTS,
    canonical_locale,
    date_text,
    locale_problem,
    placeholder_problem,
    text_problems,
    touchpoint_name,
)
from feedback_svc.surveys.texts import resolve_texts


@pytest.mark.parametrize("text", ["Hello", "{brand} {touchpoint} {agent} {date}", "{brand}{brand}"])
def test_known_placeholders_pass(text: str) -> None:
    assert placeholder_problem(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "How was {agentt}?",
            "unknown placeholder {agentt}; allowed: {brand}, {touchpoint}, {agent}, {date}",
        ),
        ("{0.__class__}", "unknown placeholder {0.__class__}"),
        ("{}", "unknown placeholder {}"),
        ("How was {brand?", "a brace without its pair"),
        ("How was brand}?", "a brace without its pair"),
        ("{{brand}}", "a brace without its pair"),
    ],
)
def test_unknown_placeholders_and_lone_braces_are_named(text: str, says: str) -> None:
    problem = placeholder_problem(text)
    assert problem is not None
    assert problem.startswith(says)


def test_each_problem_points_at_its_locale_and_field() -> None:
    problems = text_problems(
        "de",
        {"question": "Wie war {agentt}?", "reason": " ", "subject": "x" * 201, "colour": "blue"},
        brand="Acme",
    )
    assert {p["pointer"]: p["detail"] for p in problems} == {
        "/texts/de/question": "unknown placeholder {agentt}; allowed: {brand}, {touchpoint}, {agent}, {date}",
        "/texts/de/reason": "must be a text that is not empty",
        "/texts/de/subject": "201 characters; at most 200",
        "/texts/de/colour": "unknown field 'colour'; fields: question, low_label, high_label, reason, "
        "contact, thanks, subject, sms",
    }


def test_an_sms_is_measured_in_segments_with_its_placeholders_filled() -> None:
    # 153 GSM-7 characters a segment once concatenated; placeholders count at their longest
    three = "{brand}: " + "a" * (3 * 153 - len("Acme: ") - len(" ") - 30) + " {agent}"
    assert text_problems("en", {"sms": three}, brand="Acme") == []
    [too_long] = text_problems("en", {"sms": three + "a"}, brand="Acme")
    assert (
        too_long["detail"] == f"4 SMS segments in GSM-7 with placeholders filled; at most {MAX_SMS_SEGMENTS}"
    )
    # one curly quote makes the whole text UCS-2: 67 characters a segment
    [quoted] = text_problems("en", {"sms": "“" + "a" * (3 * 67)}, brand="Acme")
    assert quoted["detail"].startswith("4 SMS segments in UCS-2")
    assert "outside GSM-7" in quoted["detail"]
    # the thank-you text ends SMS conversations: measured the same way
    [thanks] = text_problems("en", {"thanks": "Danke “" + "ü" * 200}, brand="Acme")
    assert (thanks["pointer"], thanks["detail"][:22]) == ("/texts/en/thanks", "4 SMS segments in UCS-")


@pytest.mark.parametrize(("given", "canonical"), [("pt_br", "pt-BR"), ("PT-br", "pt-BR"), ("de", "de")])
def test_locales_are_written_as_customers_are(given: str, canonical: str) -> None:
    assert canonical_locale(given) == canonical
    assert locale_problem(canonical) is None


@pytest.mark.parametrize("code", ["xx", "en-XX", "english", "de-AT-1996", ""])
def test_locales_babel_does_not_know_are_refused(code: str) -> None:
    assert locale_problem(canonical_locale(code)) is not None


def test_the_touchpoint_is_named_along_the_locale_chain_then_by_its_name() -> None:
    names = {"de": "Installationstermin", "pt": "visita"}
    named = {"key": "installation_visit", "name": "Installation visit", "display_names": names}
    assert touchpoint_name(**named, locale="de-AT") == "Installationstermin"
    assert touchpoint_name(**named, locale="pt-BR") == "visita"
    assert touchpoint_name(**named, locale="fr") == "Installation visit"
    assert touchpoint_name(key="installation_visit", name=None, display_names=None, locale="fr") == (
        "installation visit"
    )


def test_dates_are_written_in_the_customers_zone_and_language() -> None:
    late_evening = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert date_text(late_evening, time_zone="Europe/Berlin", locale="de") == "7. Dezember 2026"
    assert date_text(late_evening, time_zone="America/New_York", locale="en") == "December 6, 2026"
    assert date_text(late_evening, time_zone="Nowhere/City", locale="xx") == "December 6, 2026"


def test_resolve_texts_fills_agent_and_date_and_keeps_shipped_wording_closer_than_the_surveys() -> None:
    overrides = {"en": {"question": "{agent} on {date}?", "thanks": "Thanks!", "sms": "{brand}: hi"}}
    english = resolve_texts(kind="nps", locale="en", overrides=overrides, brand="Acme", date="6 Dec")
    assert (english.question, english.thanks, english.sms) == ("Acme on 6 Dec?", "Thanks!", "Acme: hi")
    german = resolve_texts(kind="nps", locale="de", overrides=overrides, brand="Acme", agent="Bo")
    # German has shipped wording: it wins over the survey's English, and the channels keep theirs
    assert german.question.startswith("Wie wahrscheinlich")
    assert (german.thanks, german.sms) == (None, None)
    # French too, and with no brand of its own the question says "us" the French way
    french = resolve_texts(kind="nps", locale="fr", overrides=overrides, agent="Bo", date="6 déc.")
    assert french.question.startswith("Quelle est la probabilité que vous nous recommandiez")
    assert french.thanks is None
    # Swedish has none: the survey's English stands
    swedish = resolve_texts(kind="nps", locale="sv", overrides=overrides, agent="Bo", date="6 dec.")
    assert (swedish.question, swedish.thanks) == ("Bo on 6 dec.?", "Thanks!")
