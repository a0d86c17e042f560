"""The webhook's pure parts: the URL a signature covers, the TwiML answer, the reply struct."""

import xml.etree.ElementTree as ET
from typing import Any

import msgspec
import pytest
from litestar import Request
from twilio.request_validator import RequestValidator

from feedback_svc.delivery.sms.signature import verify_signature
from feedback_svc.settings import Settings
from feedback_svc.surveys.sms_inbound import MAX_COMMENT, OutgoingSms, _trim
from feedback_svc.surveys.sms_routes import EMPTY_TWIML, _public_url


def request(path: str, query: bytes = b"", host: str = "10.0.0.7:8000") -> Request[Any, Any, Any]:
    return Request(
        scope={  # type: ignore[arg-type]
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "server": ("10.0.0.7", 8000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "headers": [(b"host", host.encode())],
        }
    )


@pytest.mark.parametrize(
    ("base", "query", "expected"),
    [
        ("https://feedback.example.com", b"", "https://feedback.example.com/v1/inbound/sms"),
        ("https://feedback.example.com/", b"a=1&b=2", "https://feedback.example.com/v1/inbound/sms?a=1&b=2"),
        ("https://example.com:8443", b"", "https://example.com:8443/v1/inbound/sms"),
    ],
)
def test_signature_covers_the_public_url_not_the_one_behind_the_proxy(
    base: str, query: bytes, expected: str
) -> None:
    url = _public_url(Settings(public_base_url=base), request("/v1/inbound/sms", query))
    assert url == expected
    params = {"MessageSid": "SM1", "From": "+15551234567", "Body": "9"}
    signature = RequestValidator("token").compute_signature(expected, params)
    assert verify_signature(url=url, params=params, signature=signature, auth_token="token")


def test_twiml_answer_asks_the_provider_to_send_nothing() -> None:
    root = ET.fromstring(EMPTY_TWIML)
    assert root.tag == "Response"
    assert list(root) == []


def test_outgoing_sms_is_the_send_jobs_payload() -> None:
    reply = OutgoingSms(to="+15551234567", body="Thanks", idempotency_key="sms-reply:SM1")
    assert msgspec.to_builtins(reply) == {
        "to": "+15551234567",
        "body": "Thanks",
        "idempotency_key": "sms-reply:SM1",
    }


def test_comment_is_cut_to_what_a_response_can_hold() -> None:
    assert _trim(None) is None
    assert _trim("x" * (MAX_COMMENT + 10)) == "x" * MAX_COMMENT
    assert _trim("fast delivery") == "fast delivery"
