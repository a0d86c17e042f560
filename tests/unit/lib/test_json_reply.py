"""JsonReply sends what Litestar's Response would have sent, byte for byte."""

from typing import Any

import pytest
from litestar import Response

from feedback_svc.lib.json_reply import JSON, JsonReply


async def _messages(response: Response[bytes]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        raise AssertionError("a reply reads nothing")

    scope: Any = {"type": "http", "method": "POST"}
    await response.to_asgi_response(None, None)(scope, receive, send)  # type: ignore[arg-type]
    return sent


@pytest.mark.parametrize(
    ("status", "body", "headers", "later"),
    [
        (201, b'{"id":"a"}', None, {}),
        (200, b'{"id":"a"}', {"Idempotent-Replayed": "true"}, {}),
        (202, b'{"id":"a"}', None, {"Location": "/v1/models/training-runs/a"}),
        (204, b"", None, {}),
        (200, b"{}", None, {"Content-Type": "application/vnd.x+json"}),
    ],
)
async def test_the_same_messages_as_a_response(
    status: int, body: bytes, headers: dict[str, str] | None, later: dict[str, str]
) -> None:
    reply = JsonReply(body, status=status, headers=headers)
    usual = Response(content=body, status_code=status, media_type=JSON, headers=headers or {})
    for response in (reply, usual):
        response.headers.update(later)  # as a route sets a Location after building the reply
    assert await _messages(reply) == await _messages(usual)


async def test_a_plain_reply_skips_litestars_asgi_response() -> None:
    app = JsonReply(b"{}", status=201).to_asgi_response(None, None)  # type: ignore[arg-type]
    assert not hasattr(app, "encode_headers")
