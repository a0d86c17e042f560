"""Retry schedule, signatures (checked by the standardwebhooks package) and the address rule."""

import asyncio
import ipaddress
import re
import socket
import time
from datetime import timedelta

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from feedback_svc.webhooks.delivery import RETRY_SCHEDULE, retry_delay
from feedback_svc.webhooks.signing import new_secret, signed_headers
from feedback_svc.webhooks.targets import (
    TargetRefused,
    blocked_reason,
    check_url,
    parse_url,
    webhook_client,
)


def test_the_schedule_spans_about_three_days_then_gives_up() -> None:
    nominal = sum(RETRY_SCHEDULE, timedelta())
    assert timedelta(days=2.5) < nominal < timedelta(days=3.1)
    assert retry_delay(1, rand=lambda: 0.5) == timedelta(seconds=5)
    assert retry_delay(2, rand=lambda: 0.5) == timedelta(minutes=5)
    assert retry_delay(len(RETRY_SCHEDULE), rand=lambda: 0.5) == timedelta(hours=10)
    assert retry_delay(len(RETRY_SCHEDULE) + 1) is None
    shortest = sum((retry_delay(n, rand=lambda: 0.0) for n in range(1, 12)), timedelta())  # type: ignore[misc]
    longest = sum((retry_delay(n, rand=lambda: 0.999) for n in range(1, 12)), timedelta())  # type: ignore[misc]
    assert timedelta(days=2) < shortest < longest < timedelta(days=3.5)


def test_jitter_spreads_retries_within_twenty_percent() -> None:
    assert retry_delay(3, rand=lambda: 0.0) == timedelta(minutes=24)
    assert retry_delay(3, rand=lambda: 1.0) == timedelta(minutes=36)


def test_signatures_verify_with_the_reference_library_for_every_secret() -> None:
    current, previous = new_secret(), new_secret()
    body = b'{"type":"task.created","timestamp":"2026-11-23T10:00:00.000000Z","data":{"n":1}}'
    headers = signed_headers([current, previous], message_id="msg_42", timestamp=int(time.time()), body=body)
    assert Webhook(current).verify(body, headers)["data"] == {"n": 1}
    assert Webhook(previous).verify(body, headers)["type"] == "task.created"
    with pytest.raises(WebhookVerificationError):
        Webhook(current).verify(body.replace(b"1}", b"2}"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.251", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
     "::ffff:10.0.0.1", "::ffff:127.0.0.1", "192.0.2.1", "2001:db8::1"],
)  # fmt: skip
def test_inside_addresses_are_blocked(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "https://", "http://u:p@example.com/", "http://example.com:0/",
     "http://example.com:99999/", "https://example.com/#frag", "gopher://example.com"],
)  # fmt: skip
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_url(url)


async def test_the_allow_private_setting_lets_inside_addresses_through() -> None:
    assert await check_url("http://127.0.0.1:9/x", allow_private=True) == "http://127.0.0.1:9/x"
    with pytest.raises(TargetRefused, match="loopback"):
        await check_url("http://127.0.0.1:9/x", allow_private=False)


# IPv6 addresses that carry an inside IPv4 address a relay or translator would deliver to
EMBEDDING_INSIDE = [
    ("2002:7f00:1::1", "127.0.0.1", "6to4"),
    ("2002:a00:1::1", "10.0.0.1", "6to4"),
    ("2002:a9fe:a9fe::", "169.254.169.254", "6to4"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1", "Teredo"),  # client bits inverted
    ("2001:0:7f00:1:8000:63bf:f7f7:f7f7", "127.0.0.1", "Teredo"),  # its server
    ("64:ff9b::7f00:1", "127.0.0.1", "NAT64"),
    ("64:ff9b::c0a8:101", "192.168.1.1", "NAT64"),
    ("::ffff:7f00:1", "127.0.0.1", "IPv4-mapped"),
]


@pytest.mark.parametrize(("address", "inside", "kind"), EMBEDDING_INSIDE)
def test_ipv6_addresses_carrying_an_inside_ipv4_address_are_blocked(
    address: str, inside: str, kind: str
) -> None:
    reason = blocked_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert f"({inside}) inside" in reason
    assert kind in reason


def test_a_6to4_address_around_a_public_one_is_as_public_as_it() -> None:
    assert blocked_reason(ipaddress.ip_address("2002:808:808::1")) is None


@pytest.mark.parametrize(("address", "inside", "kind"), EMBEDDING_INSIDE)
async def test_they_are_refused_at_registration(address: str, inside: str, kind: str) -> None:
    with pytest.raises(TargetRefused, match=re.escape(f"({inside}) inside")):
        await check_url(f"https://[{address}]/hooks", allow_private=False)


@pytest.mark.parametrize(("address", "inside", "kind"), EMBEDDING_INSIDE)
async def test_and_when_a_dns_answer_names_them_at_delivery(
    monkeypatch: pytest.MonkeyPatch, address: str, inside: str, kind: str
) -> None:
    """The name passed registration; by delivery time its DNS answer is one of these."""
    loop = asyncio.get_running_loop()
    asked: list[str] = []

    async def rebound(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        asked.append(host)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(loop, "getaddrinfo", rebound)
    async with webhook_client(allow_private=False, timeout=2) as client:
        with pytest.raises(httpx.ConnectError, match=re.escape(f"({inside}) inside")):
            await client.post("https://hooks.example.com/crm", content=b"{}")
    assert asked == ["hooks.example.com"]
