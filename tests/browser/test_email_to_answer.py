"""A survey's whole life through real parts: the CRM's request, the app's own outbox worker, an SMTP
server, the email's score link opened in Chromium, and the answer in PostgreSQL.

The sync Playwright API owns this thread's event loop while the browser is up, so everything async
here (database set-up and checks) runs in a thread of its own.
"""

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from playwright.sync_api import Page, expect

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.browser.harness import BrowserProblems, base_url_of, loopback_listener, run, serve
from tests.db import TemplateDatabase, with_database
from tests.integration.delivery.email.conftest import Inbox, Received
from tests.listening import SmtpController
from tests.waiting import wait_for

pytestmark = pytest.mark.browser

MAIL_WAIT_SECONDS = 20
# generous: the machine running the suite may be busy with other work
PAGE_WAIT_MS = 20_000
COMMENT = "Two delays & no <apology>"


async def fetch(url: str, query: str, *args: object) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        return [dict(row) for row in await conn.fetch(query, *args)]
    finally:
        await conn.close()


def rows(url: str, query: str, *args: object) -> list[dict[str, Any]]:
    return run(fetch(url, query, *args))


@dataclass
class Service:
    url: str
    database_url: str
    inbox: Inbox
    crm: dict[str, str]


@pytest.fixture
def database_copy(template_database: TemplateDatabase) -> Iterator[str]:
    name = run(template_database.copy())
    try:
        yield with_database(template_database.admin_url, name)
    finally:
        run(template_database.drop_copy(name))


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    received = Inbox()
    controller = SmtpController(received)
    controller.start()
    try:
        yield received, controller.port
    finally:
        controller.stop()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    bound = loopback_listener()
    yield bound
    bound.close()


async def _crm_key(database_url: str) -> dict[str, str]:
    conn = await asyncpg.connect(database_url)
    try:
        created = await create_api_key(conn, name="crm", scopes=["crm"])
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {created.key}"}


@pytest.fixture
def service(database_copy: str, inbox: tuple[Inbox, int], listener: socket.socket) -> Iterator[Service]:
    """The real app on loopback, draining its outbox itself, mailing through the SMTP server above."""
    received, smtp_port = inbox
    url = base_url_of(listener)
    settings = Settings(
        database_url=database_copy,
        secret_key="e2e-secret-" + "x" * 32,
        public_base_url=url,  # the links in the email lead back to this server
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="none",
        mail_from="surveys@acme.example",
        brand_name="Acme",
        run_workers=True,
        api_key_cache_seconds=0,
        db_pool_min=1,
        db_pool_max=4,
        log_format="console",
    )
    crm = run(_crm_key(database_copy))
    with serve(create_app(settings), listener=listener) as served:
        yield Service(url=served, database_url=database_copy, inbox=received, crm=crm)


def invite_by_email(service: Service, via: str) -> str:
    """A customer and a survey request through the CRM's API; returns the invitation id."""
    with httpx.Client(base_url=service.url, headers=service.crm, timeout=10) as api:
        customer = api.post(
            "/v1/customers",
            json={"external_id": f"c-{uuid.uuid4().hex[:8]}", "name": "Ana", "email": "ana@example.com"},
        )
        assert customer.status_code == 201, customer.text
        customer_id = customer.json()["id"]
        if via == "interaction":
            created = api.post(
                "/v1/interactions",
                json={
                    "customer_id": customer_id,
                    "touchpoint": "relationship",  # nps, sent without delay
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "channel_preference": "email",
                },
            )
            assert created.status_code == 201, created.text
            invitation = created.json()["invitation"]
        else:
            created = api.post(
                "/v1/invitations", json={"customer_id": customer_id, "survey": "nps", "channel": "email"}
            )
            assert created.status_code == 201, created.text
            invitation = created.json()
    assert (invitation["channel"], invitation["status"]) == ("email", "queued"), invitation
    return str(invitation["id"])


def wait_for_mail(inbox: Inbox) -> Received:
    return wait_for(
        lambda: inbox.received, what="the outbox worker to send an email", timeout=MAIL_WAIT_SECONDS
    )[0]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def score_links(message: EmailMessage, base_url: str) -> dict[int, str]:
    """score -> link, from the HTML part as a mail client would show it."""
    html = message.get_body(("html",))
    assert html is not None
    parser = _Links()
    parser.feed(html.get_content())
    links: dict[int, str] = {}
    for href in parser.hrefs:
        parts = urlsplit(href)
        if href.startswith(base_url + "/s/") and "score" in parse_qs(parts.query):
            links[int(parse_qs(parts.query)["score"][0])] = href
    return links


def stored_answers(service: Service, invitation_id: str) -> list[dict[str, Any]]:
    return rows(
        service.database_url,
        "SELECT id, score, comment, contact_requested, channel FROM responses WHERE invitation_id = $1",
        uuid.UUID(invitation_id),
    )


def response_events(service: Service) -> list[dict[str, Any]]:
    return rows(
        service.database_url,
        "SELECT payload->>'type' AS type, payload->'data'->>'id' AS response_id, "
        "(payload->'data'->>'score')::int AS score, payload->'data'->>'comment' AS comment "
        "FROM outbox WHERE topic = 'event' AND payload->>'type' LIKE 'response.%' ORDER BY id",
    )


def invitation_status(service: Service, invitation_id: str) -> str:
    [row] = rows(
        service.database_url, "SELECT status FROM invitations WHERE id = $1", uuid.UUID(invitation_id)
    )
    return str(row["status"])


@pytest.mark.parametrize("via", ["interaction", "invitation"])
def test_a_customer_answers_from_the_email_exactly_once(
    service: Service, page: Page, problems: BrowserProblems, via: str
) -> None:
    invitation_id = invite_by_email(service, via)
    mail = wait_for_mail(service.inbox)
    assert mail.rcpt_tos == ["ana@example.com"]
    links = score_links(mail.message, service.url)
    assert sorted(links) == list(range(11))
    # the worker records the send after the SMTP server has the message: a moment later
    wait_for(
        lambda: invitation_status(service, invitation_id),
        until=lambda status: status == "sent",
        what="the invitation to be recorded as sent",
        timeout=MAIL_WAIT_SECONDS,
    )

    # a mail scanner fetches every link in the message, the unsubscribe one included
    unsubscribe_url = mail.message["List-Unsubscribe"].strip("<>")
    with httpx.Client(timeout=10, follow_redirects=True) as scanner:
        for link in [*links.values(), unsubscribe_url]:
            assert scanner.get(link).status_code == 200, link
    assert stored_answers(service, invitation_id) == []
    assert response_events(service) == []
    assert rows(service.database_url, "SELECT 1 FROM suppressions") == []
    assert invitation_status(service, invitation_id) == "sent"

    # the person taps 9 in the email: the page opens with 9 chosen, one tap confirms it
    page.set_default_timeout(PAGE_WAIT_MS)
    page.goto(links[9])
    expect(page.get_by_role("radio", name="9", exact=True)).to_be_checked()
    page.get_by_role("button", name="Confirm").tap()
    expect(page.get_by_role("heading", name="Thank you for your feedback")).to_be_visible(
        timeout=PAGE_WAIT_MS
    )
    [first] = stored_answers(service, invitation_id)
    assert (first["score"], first["comment"], first["contact_requested"]) == (9, None, False)

    # then adds the reason and asks to be contacted
    page.get_by_role("link", name="Change your answer").tap()
    expect(page.get_by_role("radio", name="9", exact=True)).to_be_checked()
    page.get_by_label("What is the main reason for your score?").fill(COMMENT)
    page.get_by_label("I'd like someone to contact me about this").check()
    page.get_by_role("button", name="Submit").tap()
    expect(page.get_by_role("heading", name="Thank you for your feedback")).to_be_visible(
        timeout=PAGE_WAIT_MS
    )

    [answer] = stored_answers(service, invitation_id)
    assert answer["id"] == first["id"]  # the edit changed the one answer, it made no second one
    assert (answer["score"], answer["comment"], answer["contact_requested"]) == (9, COMMENT, True)
    assert answer["channel"] == "email"
    assert invitation_status(service, invitation_id) == "answered"
    events = response_events(service)
    created = [event for event in events if event["type"] == "response.created"]
    assert created == [
        {"type": "response.created", "response_id": str(answer["id"]), "score": 9, "comment": None}
    ]
    assert [event["type"] for event in events] == ["response.created", "response.updated"]
    assert events[-1]["comment"] == COMMENT
    # the reason is shown back as text, never as markup
    page.get_by_role("link", name="Change your answer").tap()
    expect(page.get_by_label("What is the main reason for your score?")).to_have_value(COMMENT)
    assert problems.messages == []
    # one email for the one invitation, however long the worker kept running
    assert len(service.inbox.received) == 1
