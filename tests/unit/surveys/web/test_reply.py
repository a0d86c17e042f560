import asyncio
from typing import Any

import pytest
from litestar.enums import MediaType
from litestar.response.base import ASGIResponse

from feedback_svc.surveys.web.reply import HtmlPage
from feedback_svc.surveys.web.security import security_headers


def _sent(app: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def receive() -> dict[str, Any]:
        raise AssertionError("a reply reads nothing")

    asyncio.run(app({"type": "http", "method": "POST"}, receive, send))
    return messages


@pytest.mark.parametrize("status", [200, 404, 422])
def test_a_page_is_sent_as_litestars_response_sent_it(status: int) -> None:
    html = "<!doctype html><p>Danke für Ihr Feedback – 5\u202f000</p>"
    headers = security_headers()
    litestar = ASGIResponse(body=html, status_code=status, media_type=MediaType.HTML, headers=headers)
    assert _sent(HtmlPage(html, status)) == _sent(litestar)


def test_each_page_says_its_own_length() -> None:
    first, second = _sent(HtmlPage("a")), _sent(HtmlPage("bé"))
    assert (b"content-length", b"1") in first[0]["headers"]
    assert (b"content-length", b"3") in second[0]["headers"]
