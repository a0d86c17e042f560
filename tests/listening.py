"""Servers for tests bind port 0 and say which port they got.

A port picked free and released before a server binds it can be taken by another process in
between. Instead:

    controller = SmtpController(inbox)       # aiosmtpd on 127.0.0.1:0
    controller.start(); controller.port      # the port it bound

    with held_port() as sock:                # bound, not listening: connections are refused,
        port = sock.getsockname()[1]         # and nobody else can bind it meanwhile
        ...                                  # a client configured with `port` fails to connect
        SmtpController(inbox, sock=sock)     # later: the server listens on that very socket
"""

import socket
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller


@contextmanager
def held_port() -> Iterator[socket.socket]:
    """A loopback port bound but not listening: connecting is refused until someone listens on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock
    finally:
        sock.close()  # a no-op once a server has taken it and closed it


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


class HeldPorts:
    """Several held ports for one test (the `held_ports` fixture closes what no server took)."""

    def __init__(self) -> None:
        self._held: list[socket.socket] = []

    def hold(self) -> socket.socket:
        """A new held port: pass it to a fake server later, or leave it refusing connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._held.append(sock)
        sock.bind(("127.0.0.1", 0))
        return sock

    def refusing(self) -> int:
        """A port where nothing will listen, for a client that must fail to connect."""
        return port_of(self.hold())

    def close(self) -> None:
        for sock in self._held:
            sock.close()


class SmtpController(Controller):
    """aiosmtpd's Controller on 127.0.0.1, port 0 or a socket given; `port` is the bound one once started."""

    def __init__(self, handler: Any, *, sock: socket.socket | None = None, **options: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **options)
        self._sock = sock

    def _create_server(self) -> Awaitable[Any]:
        if self._sock is None:
            return super()._create_server()
        # asyncio's create_server listens on the socket it is given
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def _trigger_server(self) -> None:
        # called once the server is up: the port it really has, for the trigger and for callers
        assert self.server is not None
        self.port = port_of(self.server.sockets[0])
        super()._trigger_server()
