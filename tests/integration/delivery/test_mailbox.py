"""`feedback-svc mailbox` shows what the service would send, through the same clients that send it."""

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from feedback_svc.delivery.email.smtp import SmtpSender
from feedback_svc.delivery.mailbox import Mailbox, mailbox_settings, run_mailbox
from feedback_svc.delivery.sms.client import SmsClient
from feedback_svc.settings import Settings


@dataclass
class Running:
    mailbox: Mailbox
    out: io.StringIO
    settings: Settings


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    out = io.StringIO()
    mailbox = Mailbox(out=out, save_dir=tmp_path / "mail")
    stop = asyncio.Event()
    bound: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_mailbox(
            mailbox, smtp_port=0, sms_port=0, started=lambda *ports: bound.set_result(ports), stop=stop
        )
    )
    smtp_port, sms_port = await asyncio.wait_for(bound, timeout=10)
    try:
        yield Running(mailbox, out, Settings(**mailbox_settings(smtp_port=smtp_port, sms_port=sms_port)))  # type: ignore[arg-type]
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


def survey_email() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme <feedback@localhost>"
    message["To"] = "ana@example.com"
    message["Subject"] = "How did we do?"
    message.set_content("Tap a score: http://localhost:8000/s/tok?score=9")
    message.add_alternative("<p>Tap a score</p>", subtype="html")
    return message


async def test_an_email_is_shown_and_saved(running: Running, tmp_path: Path) -> None:
    await SmtpSender(running.settings).send(survey_email())
    shown = running.out.getvalue()
    assert "Subject: How did we do?" in shown
    assert "To:      ana@example.com" in shown
    assert "http://localhost:8000/s/tok?score=9" in shown
    assert (tmp_path / "mail" / "001.eml").read_bytes().startswith(b"From: Acme")
    assert "Tap a score" in (tmp_path / "mail" / "001.html").read_text()


async def test_an_sms_is_shown_once_however_often_it_is_retried(running: Running) -> None:
    client = SmsClient(running.settings)
    first = await client.send(to="+4915112345678", body="Reply 0-10", idempotency_key="inv-1")
    again = await client.send(to="+4915112345678", body="Reply 0-10", idempotency_key="inv-1")
    assert first == again
    assert first.startswith("SM")
    assert running.out.getvalue().count("Reply 0-10") == 1
    assert [sms["To"] for sms in running.mailbox.sms] == ["+4915112345678"]


async def test_a_webhook_is_shown(running: Running) -> None:
    url = running.settings.sms_base_url + "/hooks/crm"
    async with httpx.AsyncClient() as http:
        response = await http.post(
            url,
            content=b'{"type": "response.created", "data": {"score": 9}}',
            headers={"webhook-id": "msg_1", "webhook-signature": "v1,abc"},
        )
    assert response.status_code == 204
    shown = running.out.getvalue()
    assert "Type:    response.created" in shown
    assert "Id:      msg_1, signed: True" in shown
    assert '"score": 9' in shown
