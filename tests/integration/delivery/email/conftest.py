"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

import email
import email.policy
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.listening import SmtpController


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class Inbox:
    """aiosmtpd handler: stores each message; `refuse` and `data_reply` script failures."""

    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_reply is not None:
            return self.data_reply
        assert isinstance(envelope.original_content, bytes)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        assert isinstance(envelope.mail_from, str)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message, envelope.original_content)
        self.received.append(received)
        return "250 Message accepted for delivery"


StartServer = Callable[..., int]


@pytest.fixture
def start_smtp_server() -> Iterator[StartServer]:
    """Start an aiosmtpd server with `handler` and SMTP options on port 0; returns the port it got."""
    controllers: list[Controller] = []

    def start(handler: Inbox, **options: Any) -> int:
        controller = SmtpController(handler, **options)
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts the test CA only


@pytest.fixture(scope="session")
def tls() -> Tls:
    """A certificate for 127.0.0.1 from a CA made up for this test run."""
    authority = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return Tls(server=server, client=client)


class Passwords:
    """aiosmtpd authenticator accepting one login; counts attempts, and its password can change."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self.attempts = 0
        self.change_password(password)

    def change_password(self, password: str) -> None:
        self._login = LoginPassword(self._username.encode(), password.encode())

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.attempts += 1
        # handled=False: let aiosmtpd answer "535 5.7.8" itself instead of staying silent.
        return AuthResult(success=data == self._login, handled=False)
