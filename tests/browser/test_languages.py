"""A German and a French customer, end to end: the email in their language over real SMTP, its link
opened in Chromium, a mistake told in their language, the answer stored, the thank-you and the
promised call-back time in their language and time zone."""

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from babel.dates import get_day_names
from playwright.sync_api import Page, expect

from tests.browser import test_email_to_answer as e2e
from tests.browser.harness import BrowserProblems
from tests.browser.test_email_to_answer import (
    PAGE_WAIT_MS,
    Service,
    score_links,
    stored_answers,
    wait_for_mail,
)

pytestmark = pytest.mark.browser

# the real app, its database copy and SMTP server, as the English end-to-end test runs them
database_copy = e2e.database_copy
inbox = e2e.inbox
listener = e2e.listener
service = e2e.service


@dataclass(frozen=True)
class Language:
    locale: str
    time_zone: str
    subject: str
    greeting: str
    expiry: re.Pattern[str]
    confirm: str
    submit: str
    score_error: str
    reason: str
    contact_me: str
    thanks: str
    promise: re.Pattern[str]


GERMAN = Language(
    locale="de",
    time_zone="Europe/Berlin",
    subject="Wie wahrscheinlich empfehlen Sie Acme weiter?",
    greeting="Hallo Ana,",
    expiry=re.compile(r"Der Link ist noch \d+ Tage gültig\."),
    confirm="Bestätigen",
    submit="Absenden",
    score_error="Wählen Sie eine Bewertung von 0 bis 10.",
    reason="Was ist der wichtigste Grund für Ihre Bewertung?",
    contact_me="Ich möchte, dass sich jemand bei mir meldet",
    thanks="Vielen Dank für Ihre Rückmeldung",
    promise=re.compile(r"Wir melden uns bis (\w+), \d+\. \w+ \d{4}, \d\d:\d\d (MEZ|MESZ) bei Ihnen\."),
)
FRENCH = Language(
    locale="fr",
    time_zone="Europe/Paris",
    subject="Recommanderiez-vous Acme ?",
    greeting="Bonjour Ana,",
    expiry=re.compile(r"Le lien reste valable \d+ jours\."),
    confirm="Confirmer",
    submit="Envoyer",
    score_error="Choisissez une note de 0 à 10.",
    reason="Quelle est la principale raison de votre note ?",
    contact_me="Je souhaite être recontacté à ce sujet",
    thanks="Merci pour votre avis",
    promise=re.compile(r"Nous vous contacterons d’ici le (\w+) \d+ \w+ \d{4}, \d\d:\d\d (CET|CEST)\."),
)
COMMENT = "Zu lange Wartezeit & <keine> Entschuldigung"


def invite(running: Service, language: Language) -> str:
    """A customer in `language` and time zone, and an NPS survey by email, through the CRM's API."""
    with httpx.Client(base_url=running.url, headers=running.crm, timeout=10) as api:
        customer = api.post(
            "/v1/customers",
            json={
                "external_id": f"c-{uuid.uuid4().hex[:8]}",
                "name": "Ana",
                "email": "ana@example.com",
                "locale": language.locale,
                "time_zone": language.time_zone,
            },
        )
        assert customer.status_code == 201, customer.text
        created = api.post(
            "/v1/invitations",
            json={"customer_id": customer.json()["id"], "survey": "nps", "channel": "email"},
        )
        assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize("language", [GERMAN, FRENCH], ids=["de", "fr"])
def test_a_customer_answers_in_their_own_language(
    service: Service, page: Page, problems: BrowserProblems, screenshot_dir: Path, language: Language
) -> None:
    invitation_id = invite(service, language)
    mail = wait_for_mail(service.inbox).message
    assert mail["Subject"] == language.subject
    assert mail["Content-Language"] is None or mail["Content-Language"] == language.locale
    plain = mail.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert text.startswith(language.greeting)
    assert language.expiry.search(text), text
    links = score_links(mail, service.url)
    assert sorted(links) == list(range(11))

    # the score link opens the page in the customer's language, the score chosen, one Confirm
    page.set_default_timeout(PAGE_WAIT_MS)
    page.goto(links[9])
    expect(page.locator("html")).to_have_attribute("lang", language.locale)
    expect(page.get_by_role("radio", name="9", exact=True)).to_be_checked()
    expect(page.get_by_role("button", name=language.confirm)).to_be_visible()

    # the same survey without a score: sending it empty is told in the customer's language
    parts = urlsplit(links[9])
    page.goto(urlunsplit(parts._replace(query="")))
    page.get_by_role("button", name=language.submit).click()
    expect(page.get_by_role("alert")).to_contain_text(language.score_error)
    page.screenshot(path=screenshot_dir / f"survey-{language.locale}-error.png", full_page=True)

    page.get_by_role("radio", name="6", exact=True).check()
    page.get_by_label(language.reason).fill(COMMENT)
    page.get_by_label(language.contact_me).check()
    page.get_by_role("button", name=language.submit).click()
    expect(page.get_by_role("heading", name=language.thanks)).to_be_visible(timeout=PAGE_WAIT_MS)
    promise = page.locator(".promise").inner_text()
    found = language.promise.fullmatch(promise)
    assert found, promise
    assert found.group(1) in get_day_names("wide", locale=language.locale).values()
    page.screenshot(path=screenshot_dir / f"survey-{language.locale}-thanks.png", full_page=True)

    [answer] = stored_answers(service, invitation_id)
    assert (answer["score"], answer["comment"], answer["contact_requested"]) == (6, COMMENT, True)
    # the page with the mistake on it comes as a 422, which Chromium logs; nothing else may be logged
    assert [message for message in problems.messages if "status of 422" not in message] == []
