"""A real HTTP server on 127.0.0.1 standing in for the SMS provider, recording every request."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import msgspec


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    client_port: int
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True, strict_parsing=True))


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    # hold the answer until the test ends, to outlast the client's timeout
    stall: bool = False


@dataclass
class FakeProvider:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def answer(
        self, status: int, payload: object = None, *, raw: bytes | None = None, stall: bool = False
    ) -> None:
        """Queue the answer to the next request; with none queued it answers 201 with a sid."""
        body = raw if raw is not None else msgspec.json.encode(payload) if payload is not None else b""
        self.answers.append(Answer(status, body, stall=stall))

    def next_answer(self) -> Answer:
        if self.answers:
            return self.answers.pop(0)
        sid = f"SM{len(self.requests):032d}"
        return Answer(201, msgspec.json.encode({"sid": sid, "status": "queued"}))


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # keep-alive, so a shared client's connection reuse can be seen
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            provider.requests.append(
                Recorded("POST", self.path, self.client_address[1], dict(self.headers.items()), body)
            )
            answer = provider.next_answer()
            if answer.stall:
                provider.released.wait(timeout=30)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest's output clean

    return Handler


@contextmanager
def running_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    # a short poll interval so shutdown() does not cost half a second per test
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        provider.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
