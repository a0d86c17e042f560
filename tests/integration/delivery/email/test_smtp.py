"""SmtpSender against a real SMTP server: what arrives, and how each failure is reported."""

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Literal

import pytest

from feedback_svc.delivery.email.render import render_survey_email
from feedback_svc.delivery.email.schemas import EmailTexts
from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.errors import PermanentDeliveryError, SettingsDeliveryError, TransientDeliveryError
from feedback_svc.settings import Settings
from tests.integration.delivery.email.conftest import Inbox, Passwords, StartServer, Tls
from tests.listening import held_port, port_of
from tests.waiting import eventually

MAIL_FROM = "bounces@acme.example"
MESSAGE_ID = "<survey-0b6f0f5e-3c5e-4d0c-9a53-7f1f7f4f8a11@acme.example>"
UNSUBSCRIBE_URL = "https://feedback.example.com/u/" + "t0k3n" * 20
TEXTS = EmailTexts(
    subject="Wie zufrieden waren Sie mit unserem Gespräch?",
    greeting="Hallo Jürgen,",
    intro="Danke für Ihren Anruf.",
    question="Wie zufrieden sind Sie?",
    low_label="Gar nicht",
    high_label="Sehr",
    scale_note="Klicken Sie auf eine Zahl.",
    footer="Sie erhalten diese E-Mail, weil Sie uns kontaktiert haben.",
    unsubscribe_label="Abmelden",
    score_label="{score} von {max}",
)


def survey_email(to: str = "ana@example.com") -> EmailMessage:
    return render_survey_email(
        to=to,
        from_address="feedback@acme.example",
        message_id=MESSAGE_ID,
        locale="de",
        texts=TEXTS,
        kind="csat",
        survey_url="https://feedback.example.com/s/abc",
        unsubscribe_url=UNSUBSCRIBE_URL,
        brand_name="Acme",
    )


def sender(
    port: int,
    *,
    security: Literal["starttls", "tls", "none"] = "none",
    username: str | None = None,
    password: str | None = None,
    tls: Tls | None = None,
    timeout: float = 5,
    login_pause: float = 300,
) -> SmtpSender:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=security,
        smtp_username=username,
        smtp_password=password,
        mail_from=MAIL_FROM,
    )
    return SmtpSender(
        settings, timeout=timeout, tls_context=tls.client if tls else None, login_pause=login_pause
    )


async def test_a_survey_email_arrives_with_its_envelope_and_headers(start_smtp_server: StartServer) -> None:
    inbox = Inbox()
    port = start_smtp_server(inbox)

    await sender(port).send(survey_email())

    [arrived] = inbox.received
    assert arrived.mail_from == MAIL_FROM
    assert arrived.rcpt_tos == ["ana@example.com"]
    message = arrived.message
    assert message["To"] == "ana@example.com"
    assert message["From"] == "Acme <feedback@acme.example>"
    assert message["Subject"] == "Wie zufrieden waren Sie mit unserem Gespräch?"
    assert message["Message-ID"] == MESSAGE_ID
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Verbatim on the wire too: aiosmtplib re-serialises, and must not fold the URL into encoded words.
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE_URL}>\r\n".encode() in arrived.raw
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    html = message.get_body(("html",))
    assert html is not None
    assert 'href="https://feedback.example.com/s/abc?score=5"' in html.get_content()


async def test_unknown_recipient_is_permanent(start_smtp_server: StartServer) -> None:
    inbox = Inbox(refuse={"gone@example.com": "550 5.1.1 User unknown"})
    port = start_smtp_server(inbox)

    with pytest.raises(PermanentDeliveryError) as raised:
        await sender(port).send(survey_email(to="gone@example.com"))

    assert "gone@example.com: 550 5.1.1 User unknown" in str(raised.value)
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert inbox.received == []


@pytest.mark.parametrize(
    "inbox",
    [
        Inbox(refuse={"ana@example.com": "451 4.3.0 Mailbox temporarily unavailable"}),
        Inbox(refuse={"ana@example.com": "421 4.3.2 Service shutting down"}),
        Inbox(data_reply="451 4.7.1 Greylisted, try again in 5 minutes"),
    ],
    ids=["rcpt-451", "rcpt-421", "data-451"],
)
async def test_temporary_refusals_are_transient(start_smtp_server: StartServer, inbox: Inbox) -> None:
    port = start_smtp_server(inbox)

    with pytest.raises(TransientDeliveryError, match=r" 4\d\d 4\.\d\.\d "):
        await sender(port).send(survey_email())

    assert inbox.received == []


async def test_a_server_that_is_down_is_transient() -> None:
    with held_port() as nothing_listens:
        port = port_of(nothing_listens)
        with pytest.raises(TransientDeliveryError) as raised:
            await sender(port).send(survey_email())

    assert f"Could not talk to SMTP server 127.0.0.1:{port}" in str(raised.value)
    assert "FEEDBACK_SMTP_HOST" in str(raised.value)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_a_server_that_never_answers_times_out_as_transient(silent_server: int) -> None:
    with pytest.raises(TransientDeliveryError, match=r"did not answer within 0\.3 s"):
        await sender(silent_server, timeout=0.3).send(survey_email())


async def test_starttls_with_login(start_smtp_server: StartServer, tls: Tls) -> None:
    inbox = Inbox()
    port = start_smtp_server(
        inbox,
        tls_context=tls.server,
        require_starttls=True,
        auth_required=True,
        authenticator=Passwords("mailer", "s3cret"),
    )

    await sender(port, security="starttls", username="mailer", password="s3cret", tls=tls).send(
        survey_email()
    )

    assert [arrived.rcpt_tos for arrived in inbox.received] == [["ana@example.com"]]


async def test_rejected_login_waits_for_the_settings(start_smtp_server: StartServer, tls: Tls) -> None:
    inbox = Inbox()
    port = start_smtp_server(
        inbox, tls_context=tls.server, auth_required=True, authenticator=Passwords("mailer", "s3cret")
    )

    # retried (an operator can fix the password), never buried as if the recipient were at fault
    with pytest.raises(SettingsDeliveryError, match="rejected the login as 'mailer': 535") as raised:
        await sender(port, security="starttls", username="mailer", password="wrong", tls=tls).send(
            survey_email()
        )

    assert "wrong" not in str(raised.value)
    assert inbox.received == []


async def test_an_untrusted_certificate_is_transient(start_smtp_server: StartServer, tls: Tls) -> None:
    port = start_smtp_server(Inbox(), tls_context=tls.server, require_starttls=True)

    # No tls_context: the system's CAs, which do not know this test's CA.
    with pytest.raises(TransientDeliveryError, match=r"TLS certificate of SMTP server .* is not trusted"):
        await sender(port, security="starttls").send(survey_email())


async def test_starttls_is_never_skipped_when_asked_for(start_smtp_server: StartServer) -> None:
    inbox = Inbox()
    port = start_smtp_server(inbox)  # offers no STARTTLS

    with pytest.raises(SettingsDeliveryError, match="FEEDBACK_SMTP_SECURITY=starttls"):
        await sender(port, security="starttls").send(survey_email())

    assert inbox.received == []


async def test_implicit_tls(start_smtp_server: StartServer, tls: Tls) -> None:
    inbox = Inbox()
    port = start_smtp_server(inbox, ssl_context=tls.server)

    await sender(port, security="tls", tls=tls).send(survey_email())

    assert [arrived.message["Message-ID"] for arrived in inbox.received] == [MESSAGE_ID]


async def test_after_a_refused_login_the_sender_pauses_before_logging_in_again(
    start_smtp_server: StartServer, tls: Tls
) -> None:
    inbox = Inbox()
    passwords = Passwords("mailer", "s3cret")
    port = start_smtp_server(inbox, tls_context=tls.server, auth_required=True, authenticator=passwords)
    smtp = sender(port, security="starttls", username="mailer", password="old", tls=tls, login_pause=0.5)

    with pytest.raises(SettingsDeliveryError, match="535"):
        await smtp.send(survey_email())
    logins = passwords.attempts  # aiosmtplib tries each mechanism the relay offers
    assert logins >= 1
    # a backlog of waiting messages costs the relay no further bad logins during the pause
    for _ in range(3):
        with pytest.raises(SettingsDeliveryError, match=r"535 .*not tried again within 0\.5 s"):
            await smtp.send(survey_email())
    assert passwords.attempts == logins

    # the relay's password is put back to ours; after the pause the next send logs in and goes out
    passwords.change_password("old")

    async def send() -> bool:
        await smtp.send(survey_email())
        return True

    # a send within the pause is refused without a login (asserted above), so retrying is free
    await eventually(send, retry_on=(SettingsDeliveryError,), what="a send after the login pause")
    assert passwords.attempts == logins + 1
    assert [arrived.rcpt_tos for arrived in inbox.received] == [["ana@example.com"]]
