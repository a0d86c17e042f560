"""Closing messages: templates are checked when saved and filled the same way every time."""

from datetime import timedelta

import pytest

from feedback_svc.recovery.messages import (
    SMS_MAX,
    Template,
    compose,
    fill,
    own_words_problem,
    template_locales,
    template_problems,
)
from feedback_svc.recovery.pulse import pulse_after

TEMPLATE = Template(
    outcome="recovered",
    locale="en",
    subject="Thank you, {name}",
    greeting="Hello {name},",
    body="We are glad we could help.\n\nKind regards,\n{agent}",
    sms="{brand}: Thank you for talking with us. - {agent}",
)
GOOD = {
    "subject": "Thanks",
    "greeting": "Hello {name},",
    "body": "Text from {agent} at {brand}.",
    "sms": "{brand}: hi",
}


def test_a_good_template_has_no_problems() -> None:
    assert template_problems(GOOD) == []


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("body", "Dear {nmae}", "unknown placeholder {nmae}; use {name}, {brand}, {agent}"),
        ("body", "Dear {name", "a brace without its pair"),
        ("sms", "{brand}: } oops", "a brace without its pair"),
        ("subject", "   ", "must not be empty"),
        ("subject", "Two\nlines", "must be one line"),
        ("sms", "x" * 321, "at most 320 characters"),
        ("body", "{0.__class__}", "unknown placeholder {0.__class__}"),
    ],
)
def test_a_bad_template_is_refused_field_by_field(field: str, text: str, expected: str) -> None:
    problems = template_problems({**GOOD, field: text})
    assert [p["field"] for p in problems] == [field]
    assert expected in problems[0]["message"]


def test_without_a_name_the_placeholder_goes_with_the_space_before_it() -> None:
    assert fill("Hello {name},", name=None, brand="Acme", agent="Bo") == "Hello,"
    assert fill("Hallo {name},", name="  ", brand="Acme", agent="Bo") == "Hallo,"
    assert fill("Hello {name},", name="Ana", brand="Acme", agent="Bo") == "Hello Ana,"
    # a name with braces in it is the customer's, not a placeholder filled a second time
    assert fill("Hi {name}, {agent}", name="{agent}", brand="Acme", agent="Bo") == "Hi {agent}, Bo"


def test_an_email_is_the_greeting_and_text_signed_by_the_brand() -> None:
    message = compose(TEMPLATE, channel="email", name="Ana", brand="Acme", agent="Bo Agent", own_words=None)
    assert message.subject == "Thank you, Ana"
    assert (
        message.text == "Hello Ana,\n\nWe are glad we could help.\n\nKind regards,\nBo Agent\n\n-- \nAcme\n"
    )
    assert (message.source, message.locale) == ("template", "en")


def test_own_words_are_the_whole_message_and_an_sms_names_the_sender() -> None:
    email = compose(TEMPLATE, channel="email", name="Ana", brand="Acme", agent="Bo", own_words=" Hi Ana! ")
    assert email.text == "Hi Ana!\n\n-- \nAcme\n"
    assert email.subject == "Thank you, Ana"
    assert email.source == "agent"
    sms = compose(
        TEMPLATE, channel="sms", name="Ana", brand="Acme", agent="Bo", own_words="Refund is on its way"
    )
    assert (sms.text, sms.subject) == ("Acme: Refund is on its way", None)
    templated = compose(TEMPLATE, channel="sms", name=None, brand="Acme", agent="Bo", own_words=None)
    assert templated.text == "Acme: Thank you for talking with us. - Bo"


def test_own_words_too_long_for_an_sms_are_refused_with_the_count() -> None:
    assert own_words_problem("x" * (SMS_MAX - 6), channel="sms", brand="Acme") is None
    problem = own_words_problem("x" * (SMS_MAX - 5), channel="sms", brand="Acme")
    assert problem is not None
    assert "481" in problem
    assert own_words_problem("x" * 2000, channel="email", brand="Acme") is None


def test_a_customers_locale_looks_for_its_own_then_its_language_then_english() -> None:
    assert template_locales("pt_BR") == ["pt-br", "pt", "en"]
    assert template_locales("DE") == ["de", "en"]
    assert template_locales(None) == ["en"]


def test_pulses_follow_a_conversation_or_a_control_task_and_nothing_else() -> None:
    days = 14
    assert pulse_after("recovered", days=days) == timedelta(days=14)
    assert pulse_after("not_recovered", days=days) == timedelta(days=14)
    assert pulse_after("unreachable", days=days) is None
    assert pulse_after("no_action_needed", days=days) is None
    assert pulse_after("no_action_needed", days=days, control=True) == timedelta(days=14)
    assert pulse_after("recovered", days=0) is None
