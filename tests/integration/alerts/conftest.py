"""Alert fixtures: a real SMTP server (aiosmtpd) and a real HTTP receiver on 127.0.0.1, the people
of a recovery team, and the alert sender wired to both."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest

from feedback_svc.alerts.sender import AlertSender
from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.recovery.escalation import EscalationSweeper
from feedback_svc.settings import Settings
from feedback_svc.webhooks.signing import new_secret
from tests.conftest import KeyFactory
from tests.integration.delivery.email.conftest import Inbox, StartServer, start_smtp_server
from tests.integration.users.console_helpers import make_user
from tests.integration.webhooks.receiver import Receiver, running_receiver

__all__ = ["start_smtp_server"]

BASE_URL = "https://feedback.acme.example"
MAIL_FROM = "alerts@acme.example"
SIGNING_SECRET = new_secret()
NO_WAIT = (timedelta(0),) * 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the receiver listens on 127.0.0.1; the SSRF test builds its own settings with this off
    return msgspec.structs.replace(
        settings,
        public_base_url=BASE_URL,
        mail_from=MAIL_FROM,
        webhooks_allow_private=True,
        alerts_signing_secret=SIGNING_SECRET,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def inbox(start_smtp_server: StartServer) -> tuple[Inbox, int]:
    inbox = Inbox()
    return inbox, start_smtp_server(inbox)


@pytest.fixture
async def admin(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("admin", name="admin")


@dataclass(frozen=True)
class Team:
    agents: list[UUID]
    managers: list[UUID]


AGENTS = ("alex@example.com", "sam@example.com")
MANAGERS = ("morgan@example.com",)


@pytest.fixture
async def team(conn: asyncpg.Connection) -> Team:
    agents = [(await make_user(conn, email=email, name=f"Agent {email[:3]}")).id for email in AGENTS]
    managers = [
        (await make_user(conn, email=email, role="manager", name="Morgan Manager")).id for email in MANAGERS
    ]
    return Team(agents=agents, managers=managers)


def sender_for(
    pool: asyncpg.Pool, settings: Settings, *, smtp_port: int | None = None, **options: Any
) -> AlertSender:
    """The real sender; email over SMTP to 127.0.0.1:`smtp_port` (plain, no login)."""
    if smtp_port is not None:
        settings = msgspec.structs.replace(
            settings, smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none"
        )
    options.setdefault("schedule", NO_WAIT)
    options.setdefault("email", SmtpSender(settings, timeout=5))
    return AlertSender(pool, settings, **options)


async def send_all(sender: AlertSender) -> int:
    """Run the sender until nothing is due; the alerts claimed."""
    total = 0
    async with sender.client() as http:
        while claimed := await sender.run_once(http):
            total += claimed
    return total


async def alerts(conn: asyncpg.Connection, **where: Any) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM alerts ORDER BY id")
    return [dict(r) for r in rows if all(r[k] == v for k, v in where.items())]


async def set_rule(conn: asyncpg.Connection, trigger: str, urgency: str, **recipients: Any) -> None:
    await conn.execute(
        "UPDATE alert_rules SET recipients = $3, enabled = true WHERE trigger = $1 AND urgency = $2",
        trigger,
        urgency,
        recipients,
    )


def hours_from_now(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def sweeper(pool: asyncpg.Pool, settings: Settings) -> EscalationSweeper:
    return EscalationSweeper(pool, interval=1, settings=settings)
