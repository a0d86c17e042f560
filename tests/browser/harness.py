"""Helpers for browser tests: viewports, a loopback server for an ASGI app, a page's problems."""

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
import uvicorn
from playwright.sync_api import ConsoleMessage, Page

from tests.waiting import wait_for

T = TypeVar("T")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


class BrowserProblems:
    """Console errors and CSP violations one page reported; a page that needs nothing blocked has none."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))
        # the pages run no script of their own; this one is injected by the test, outside the CSP
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
        )

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.messages.append(f"{message.type}: {message.text}")


def loopback_listener() -> socket.socket:
    """A socket bound to a free loopback port, for an app that must know its own URL before it serves."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    return listener


def base_url_of(listener: socket.socket) -> str:
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


@contextmanager
def serve(app: object, *, listener: socket.socket | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a loopback port (free, or `listener`'s) in a thread; yields its URL."""
    listener = listener or loopback_listener()
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            pytest.fail("the test server's thread ended before it started")
        return server.started

    wait_for(started, what="the test server to start", timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run async work (the database) from a browser test: the sync Playwright API owns this
    thread's event loop, so it runs in a fresh loop on a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
