"""A real HTTP server on 127.0.0.1 standing in for the CRM: told what to answer, records what came."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec

OK = 204
HANG = -1  # hold the answer past the client's timeout


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    finished: float

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, object]:
        return msgspec.json.decode(self.body)


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # answers to the next requests, in order; OK once they run out
    script: list[int] = field(default_factory=list)
    # answers to the next requests for one message (webhook-id), before the general script
    scripts_by_message: dict[str, list[int]] = field(default_factory=dict)
    delay: float = 0.0  # seconds spent before each answer, to make requests overlap
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int) -> None:
        with self.lock:
            self.script.extend(statuses)

    def answer_for(self, message_id: str, *statuses: int) -> None:
        """Answer this message's next requests so, whichever order requests arrive in."""
        with self.lock:
            self.scripts_by_message.setdefault(message_id, []).extend(statuses)

    def next_status(self, message_id: str | None = None) -> int:
        with self.lock:
            own = self.scripts_by_message.get(message_id or "")
            if own:
                return own.pop(0)
            return self.script.pop(0) if self.script else OK

    def accepted(self) -> list[Received]:
        """The requests answered with 2xx, in the order they finished."""
        return [r for r in self.received if r.headers.get("x-test-status", "").startswith("2")]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            started = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.next_status(self.headers.get("webhook-id"))
            if receiver.delay:
                time.sleep(receiver.delay)  # a slow receiver is what such tests are about, not a wait
            if status == HANG:
                receiver.released.wait(timeout=10)
                status = OK
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["x-test-status"] = str(status)
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, started, time.monotonic()))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/crm"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
