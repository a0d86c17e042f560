"""`feedback-svc mailbox`: a development catcher that shows what the service sends.

It listens for SMTP (aiosmtpd) and over HTTP for the SMS provider's Messages API (shaped like
Twilio's) and for webhooks (any other path), prints each email, SMS and webhook as it arrives
and, with `save_dir`, keeps each email as .eml and .html to open in a mail client or a browser.
Nothing is forwarded anywhere. `serve --mailbox` and `worker --mailbox` point email and SMS at
it (mailbox_settings); a webhook endpoint at http://127.0.0.1:1026/anything lands here too.
"""

import asyncio
import email
import email.policy
import itertools
import json
import re
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session

DEFAULT_HOST = "127.0.0.1"
DEFAULT_SMTP_PORT = 1025
DEFAULT_SMS_PORT = 1026
SMS_SENDER = "+15005550006"  # a test number: nothing is ever sent from it

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_IDEMPOTENCY_HEADER = b"i-twilio-idempotency-token"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def mailbox_settings(
    host: str = DEFAULT_HOST, smtp_port: int = DEFAULT_SMTP_PORT, sms_port: int = DEFAULT_SMS_PORT
) -> dict[str, object]:
    """The settings that send email and SMS to a mailbox listening there (for `--mailbox`)."""
    return {
        "smtp_host": host,
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "smtp_username": None,
        "smtp_password": None,
        "sms_base_url": f"http://{host}:{sms_port}",
        "sms_account_sid": "ACmailbox",
        "sms_auth_token": "mailbox",
        "sms_from": SMS_SENDER,
    }


class Mailbox:
    """Prints what arrives, numbered in arrival order; optionally saves each email."""

    def __init__(self, *, out: TextIO = sys.stdout, save_dir: Path | None = None) -> None:
        self.out = out
        self.save_dir = save_dir
        self.emails: list[EmailMessage] = []
        self.sms: list[dict[str, str]] = []
        self.webhooks: list[dict[str, Any]] = []
        self._sids: dict[str, str] = {}  # idempotency token -> message sid: a retried send shows once
        self._numbers = itertools.count(1)

    # aiosmtpd calls this for each message
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(
            raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        self.emails.append(message)
        self._show_email(message, recipients=list(envelope.rcpt_tos))
        return "250 OK: kept by feedback-svc mailbox"

    def take_sms(self, *, account: str, fields: dict[str, str], token: str | None) -> str:
        """Record one SMS request; returns its sid (the same one again for a retried token)."""
        if token and token in self._sids:
            return self._sids[token]
        sid = "SM" + secrets.token_hex(16)
        if token:
            self._sids[token] = sid
        message = {"sid": sid, "account": account, **fields}
        self.sms.append(message)
        self._show_sms(message)
        return sid

    def take_webhook(self, *, path: str, headers: dict[str, str], body: bytes) -> None:
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode("utf-8", "replace")
        self.webhooks.append({"path": path, "headers": headers, "payload": payload})
        number = next(self._numbers)
        kind = payload.get("type", "") if isinstance(payload, dict) else ""
        text = json.dumps(payload, indent=2, ensure_ascii=False) if not isinstance(payload, str) else payload
        self._print(
            [
                _rule(f"webhook #{number}"),
                f"POST:    {path}",
                f"Type:    {kind}",
                f"Id:      {headers.get('webhook-id', '')}, signed: {'webhook-signature' in headers}",
                "",
                text,
            ]
        )

    def _show_email(self, message: EmailMessage, *, recipients: list[str]) -> None:
        number = next(self._numbers)
        body = message.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else "(no text part)"
        lines = [
            _rule(f"email #{number}"),
            f"From:    {message['From']}",
            f"To:      {', '.join(recipients) or message['To']}",
            f"Subject: {message['Subject']}",
            "",
            text.rstrip(),
        ]
        if self.save_dir is not None:
            lines.append("")
            lines.append(f"saved:   {', '.join(str(path) for path in self._save(number, message))}")
        self._print(lines)

    def _show_sms(self, message: dict[str, str]) -> None:
        number = next(self._numbers)
        sender = message.get("From") or message.get("MessagingServiceSid", "")
        self._print(
            [
                _rule(f"SMS #{number}"),
                f"From:    {sender}",
                f"To:      {message.get('To', '')}",
                "",
                message.get("Body", ""),
            ]
        )

    def _save(self, number: int, message: EmailMessage) -> list[Path]:
        assert self.save_dir is not None
        self.save_dir.mkdir(parents=True, exist_ok=True)
        eml = self.save_dir / f"{number:03d}.eml"
        eml.write_bytes(message.as_bytes())
        saved = [eml]
        html = message.get_body(preferencelist=("html",))
        if html is not None:
            page = self.save_dir / f"{number:03d}.html"
            page.write_text(html.get_content(), encoding="utf-8")
            saved.append(page)
        return saved

    def _print(self, lines: list[str]) -> None:
        print("\n".join(lines), end="\n\n", file=self.out, flush=True)


def _rule(title: str) -> str:
    stamp = datetime.now(UTC).strftime("%H:%M:%S UTC")
    head = f"── {title} · {stamp} "
    return head + "─" * max(4, 72 - len(head))


def http_api(mailbox: Mailbox) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app answering the Messages API as a provider would (201 with a sid), and taking
    a webhook on any other path (204)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        if scope["method"] != "POST":
            await _json(send, 405, {"message": "The mailbox takes POST requests only"})
            return
        match = _MESSAGES_PATH.match(scope["path"])
        if match is None:
            headers = {
                name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
            }
            mailbox.take_webhook(path=scope["path"], headers=headers, body=body)
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        fields = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        token = dict(scope["headers"]).get(_IDEMPOTENCY_HEADER)
        sid = mailbox.take_sms(account=match.group(1), fields=fields, token=token.decode() if token else None)
        await _json(
            send, 201, {"sid": sid, "status": "queued", "to": fields.get("To"), "body": fields.get("Body")}
        )

    return app


async def _json(send: Send, status: int, payload: dict[str, object]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def run_mailbox(
    mailbox: Mailbox,
    *,
    host: str = DEFAULT_HOST,
    smtp_port: int = DEFAULT_SMTP_PORT,
    sms_port: int = DEFAULT_SMS_PORT,
    started: Callable[[int, int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve SMTP and the HTTP API until interrupted (SIGINT/SIGTERM) or `stop` is set.

    `started` is told the SMTP and SMS ports listened on: with port 0, the ones the system picked.
    """
    loop = asyncio.get_running_loop()
    # bound here, so a port in use is an OSError naming it rather than uvicorn's exit
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, sms_port))
        listener.listen(128)
    except OSError as error:
        listener.close()
        raise OSError(f"the SMS API cannot listen on {host}:{sms_port}: {error.strerror}") from None
    try:
        smtp = await loop.create_server(
            lambda: SMTP(mailbox, hostname="feedback-svc-mailbox"), host=host, port=smtp_port
        )
    except OSError as error:
        listener.close()
        raise OSError(f"SMTP cannot listen on {host}:{smtp_port}: {error.strerror}") from None
    server = uvicorn.Server(
        uvicorn.Config(
            http_api(mailbox), lifespan="off", log_config=None, log_level="warning", access_log=False
        )
    )

    async def stop_when_asked() -> None:
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    watcher = asyncio.create_task(stop_when_asked())
    try:
        if started is not None:
            started(smtp.sockets[0].getsockname()[1], listener.getsockname()[1])
        await server.serve(sockets=[listener])
    finally:
        watcher.cancel()
        smtp.close()
        await smtp.wait_closed()
        listener.close()
