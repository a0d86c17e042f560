"""Alerts racing crashes: a `feedback-svc worker` SIGKILLed while it sends an escalation alert.

The worker sweeps (escalating a task nobody called, which raises its alert in the same
transaction), claims the alert and talks to a real SMTP relay (aiosmtpd) that kills it, either
before the message is handed over (after the claim, before the send) or after the relay took it
(after the send, before it was recorded). A second worker takes over once the dead one's lease
ends (moved to now() in SQL: the wait and nothing else). Nothing is lost; the alert is recorded
once; the relay gets the message once, or, when the crash came after the hand-over, twice as the
same message (the same Message-ID), which the relay or the mailbox drops.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from feedback_svc.settings import Settings
from tests.faults.delivery_fakes import Relay, Tripwire, smtp_relay
from tests.faults.processes import Children
from tests.faults.test_delivery_faults import eventually, wait_for_kill
from tests.integration.recovery.conftest import insert_customer, insert_task
from tests.integration.users.console_helpers import make_user
from tests.listening import HeldPorts, port_of

MANAGER = "morgan@example.com"
BASE_URL = "https://feedback.acme.example"


@dataclass
class RelayKillingBeforeHandOver(Relay):
    """Kills the sender as it names the recipient: the claim is committed, no message has left."""

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.tripwire is not None:
            await asyncio.to_thread(self.tripwire.pull)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def worker_env(settings: Settings, smtp_port: int) -> dict[str, str]:
    assert settings.secret_key is not None
    return {
        "FEEDBACK_SECRET_KEY": settings.secret_key,
        "FEEDBACK_PUBLIC_BASE_URL": BASE_URL,
        "FEEDBACK_SMTP_HOST": "127.0.0.1",
        "FEEDBACK_SMTP_PORT": str(smtp_port),
        "FEEDBACK_SMTP_SECURITY": "none",
        "FEEDBACK_MAIL_FROM": "alerts@acme.example",
        "FEEDBACK_RECOVERY_SWEEP_SECONDS": "0.2",
        "FEEDBACK_LOG_LEVEL": "INFO",
    }


async def the_alert(conn: asyncpg.Connection) -> asyncpg.Record:
    [row] = await conn.fetch(
        "SELECT status, attempts, message_key, recipient, locked_until > now() AS leased FROM alerts"
    )
    return row


@pytest.mark.parametrize("crash", ["before_hand_over", "after_hand_over"])
async def test_a_worker_killed_while_sending_an_alert_neither_loses_nor_doubles_it(
    crash: str,
    conn: asyncpg.Connection,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
    held_ports: HeldPorts,
) -> None:
    await make_user(conn, email=MANAGER, role="manager", name="Morgan Manager")
    task = await insert_task(
        conn, await insert_customer(conn), priority=20.0, deadline_at=datetime.now(UTC) - timedelta(hours=1)
    )
    smtp_socket = held_ports.hold()
    smtp_port = port_of(smtp_socket)
    tripwire = Tripwire()
    relay = (
        RelayKillingBeforeHandOver(tripwire=tripwire)
        if crash == "before_hand_over"
        else Relay(tripwire=tripwire)
    )

    with smtp_relay(relay, smtp_socket), Children(tmp_path / "logs") as children:
        first = children.worker(database_url, env=worker_env(settings, smtp_port))
        tripwire.arm(first.process.pid)
        await wait_for_kill(first, tripwire, children)
        alert = await the_alert(conn)
        # claimed and leased by the dead worker: still pending, nothing recorded as sent
        assert (alert["status"], alert["attempts"], alert["leased"]) == ("pending", 1, True)
        assert alert["recipient"] == MANAGER
        assert len(relay.received) == (0 if crash == "before_hand_over" else 1)

        # the lease ends (standing in for its five minutes); another worker takes over
        await conn.execute("UPDATE alerts SET locked_until = now() - interval '1 second'")
        second = children.worker(database_url, env=worker_env(settings, smtp_port))

        async def sent() -> bool:
            return (await the_alert(conn))["status"] == "sent"

        await eventually(sent, what="the second worker to send the alert", children=children)
        assert second.stop() == 0, children.logs()

    alert = await the_alert(conn)
    assert alert["attempts"] == 2
    message_id = f"<alert-{alert['message_key']}@acme.example>"
    copies = 1 if crash == "before_hand_over" else 2
    assert relay.message_ids() == Counter({message_id: copies})
    assert all(
        f"{BASE_URL}/console/tasks/{task}" in m.get_body(("plain",)).get_content() for m in relay.received
    )
    # the task escalated once, whichever worker swept it
    assert await conn.fetchval("SELECT count(*) FROM recovery_task_history WHERE action = 'escalated'") == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE payload->>'type' = 'task.escalated'") == 1
