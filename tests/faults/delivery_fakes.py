"""Stand-ins for the far side of delivery, each a real server on loopback: an SMTP relay
(aiosmtpd), a Twilio-like SMS API and a CRM's webhook receiver (http.server in a thread).

Each can be down (nothing listening on its port yet, or answering 451/503) and can pull a
Tripwire that SIGKILLs the process talking to it, at the worst moment: after it has taken the
message, before it answers.
"""

import asyncio
import email
import email.policy
import os
import signal
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import msgspec
from aiosmtpd.smtp import SMTP, Envelope, Session

from feedback_svc.delivery.sms.client import IDEMPOTENCY_HEADER
from tests.listening import SmtpController

WAIT = 45.0  # seconds a stand-in waits for the test before giving up


class Tripwire:
    """SIGKILLs one process the first time it is pulled, the way a crash or the OOM killer would."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._armed = threading.Event()
        self.fired = threading.Event()

    def arm(self, pid: int) -> None:
        self._pid = pid
        self._armed.set()

    def pull(self) -> None:
        if self.fired.is_set():
            return
        if not self._armed.wait(timeout=WAIT) or self._pid is None:
            raise RuntimeError("the tripwire was pulled before a process was given to it")
        os.kill(self._pid, signal.SIGKILL)
        self.fired.set()


@dataclass
class Relay:
    """aiosmtpd handler standing in for the SMTP relay; `busy` answers 451 to every message."""

    busy: bool = False
    tripwire: Tripwire | None = None  # pulled once a message is in, before it is acknowledged
    received: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.busy:
            return "451 4.3.0 Mail queue full, try again later"
        assert isinstance(envelope.original_content, bytes)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        # in the queue from here on, whether or not the sender hears back
        self.received.append(message)
        if self.tripwire is not None:
            await asyncio.to_thread(self.tripwire.pull)
        return "250 2.0.0 Queued"

    def message_ids(self) -> Counter[str]:
        return Counter(str(message["Message-ID"]) for message in self.received)


@contextmanager
def smtp_relay(relay: Relay, sock: socket.socket) -> Iterator[Relay]:
    """The relay listening on `sock`, a port held (refusing connections) until now."""
    controller = SmtpController(relay, sock=sock)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()


@dataclass(frozen=True)
class SmsRequest:
    token: str
    to: str
    body: str
    status: int


@dataclass
class SmsProvider:
    """A Twilio-like Messages API that, as the SMS client relies on, sends once per idempotency token."""

    down: bool = False  # answers 503
    tripwire: Tripwire | None = None  # pulled once a message is taken, before the answer
    requests: list[SmsRequest] = field(default_factory=list)
    delivered: dict[str, str] = field(default_factory=dict)  # idempotency token -> message sid
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, token: str, form: dict[str, str]) -> tuple[int, dict[str, str]]:
        with self.lock:
            if self.down:
                status, answer = 503, {"code": "20503", "message": "Service Unavailable"}
            else:
                # a repeated token gets the first answer again and sends nothing
                sid = self.delivered.setdefault(token, f"SM{len(self.delivered):032d}")
                status, answer = 201, {"sid": sid, "status": "queued"}
            self.requests.append(SmsRequest(token, form["To"], form["Body"], status))
        return status, answer


def _sms_handler(provider: SmsProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            status, answer = provider.take(self.headers.get(IDEMPOTENCY_HEADER, ""), form)
            if status == 201 and provider.tripwire is not None:
                provider.tripwire.pull()
            _answer(self, status, msgspec.json.encode(answer))

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@dataclass(frozen=True)
class Hook:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class CrmReceiver:
    """The CRM's webhook receiver: answers `status` and keeps every request it got."""

    status: int = 204
    received: list[Hook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Hook]:
        return [hook for hook in self.received if 200 <= hook.status < 300]


def _crm_handler(receiver: CrmReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                status = receiver.status
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.received.append(Hook(headers, body, status))
            _answer(self, status, b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client was killed while we took its request


@contextmanager
def _http_server(sock: socket.socket, handler: type[BaseHTTPRequestHandler]) -> Iterator[None]:
    # on a port held beforehand (refusing connections until now), so a client configured with it
    # finds it once it is up, and no other process could take it meanwhile
    server = ThreadingHTTPServer(sock.getsockname(), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_activate()  # listen()
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def sms_api(provider: SmsProvider, sock: socket.socket) -> Iterator[SmsProvider]:
    with _http_server(sock, _sms_handler(provider)):
        yield provider


@contextmanager
def crm_endpoint(receiver: CrmReceiver, sock: socket.socket) -> Iterator[CrmReceiver]:
    with _http_server(sock, _crm_handler(receiver)):
        yield receiver
