"""SmsClient against a real local HTTP server standing in for Twilio's Messages API."""

import base64
import re
import time

import httpx
import pytest

from feedback_svc.delivery.errors import PermanentDeliveryError, SettingsDeliveryError, TransientDeliveryError
from feedback_svc.delivery.sms.client import IDEMPOTENCY_HEADER, SmsClient, SmsRefused
from feedback_svc.settings import Settings
from tests.integration.delivery.sms.provider import FakeProvider
from tests.listening import held_port, port_of

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "auth-token-0123456789"
FROM = "+4930123456"
TO = "+4915112345678"
TIMEOUT = 0.5


def sms_settings(base_url: str, **overrides: str | None) -> Settings:
    values: dict[str, str | None] = {
        "sms_account_sid": SID,
        "sms_auth_token": TOKEN,
        "sms_from": FROM,
        **overrides,
    }
    return Settings(sms_base_url=base_url, **values)  # type: ignore[arg-type]


def client_for(provider: FakeProvider, **overrides: str | None) -> SmsClient:
    return SmsClient(sms_settings(provider.url, **overrides), timeout=TIMEOUT)


async def test_send_posts_a_form_with_auth_and_idempotency_key(provider: FakeProvider) -> None:
    sid = await client_for(provider).send(
        to=TO, body="Acme: 0-10? Grüße & 9/10 = top", idempotency_key="out-42"
    )

    assert sid == "SM00000000000000000000000000000001"
    [request] = provider.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": TO, "From": FROM, "Body": "Acme: 0-10? Grüße & 9/10 = top"}
    expected_auth = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert request.headers[IDEMPOTENCY_HEADER] == "out-42"


async def test_a_retry_carries_the_same_idempotency_key(provider: FakeProvider) -> None:
    # the provider drops the duplicate only if every attempt sends the outbox row's key
    provider.answer(500)
    client = client_for(provider)
    with pytest.raises(TransientDeliveryError):
        await client.send(to=TO, body="hi", idempotency_key="out-7")
    await client.send(to=TO, body="hi", idempotency_key="out-7")
    assert [r.headers[IDEMPOTENCY_HEADER] for r in provider.requests] == ["out-7", "out-7"]


async def test_a_messaging_service_sends_from_its_own_numbers(provider: FakeProvider) -> None:
    service = "MG" + "0" * 32
    await client_for(provider, sms_from=service).send(to=TO, body="hi", idempotency_key="k")
    assert provider.requests[0].form == {"To": TO, "MessagingServiceSid": service, "Body": "hi"}


async def test_a_base_url_with_a_trailing_slash(provider: FakeProvider) -> None:
    client = SmsClient(sms_settings(provider.url + "/"), timeout=TIMEOUT)
    await client.send(to=TO, body="hi", idempotency_key="k")
    assert provider.requests[0].path == f"/2010-04-01/Accounts/{SID}/Messages.json"


async def test_a_shared_client_reuses_its_connection_and_stays_open(provider: FakeProvider) -> None:
    async with httpx.AsyncClient() as http:
        client = SmsClient(sms_settings(provider.url), http=http, timeout=TIMEOUT)
        await client.send(to=TO, body="one", idempotency_key="k1")
        await client.send(to=TO, body="two", idempotency_key="k2")
        assert not http.is_closed
    first, second = provider.requests
    assert first.client_port == second.client_port


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_provider_failures_and_throttling_are_transient(provider: FakeProvider, status: int) -> None:
    provider.answer(status, {"code": 20429, "message": "Too Many Requests", "status": status})
    with pytest.raises(TransientDeliveryError, match=f"{status}.*20429: Too Many Requests"):
        await client_for(provider).send(to=TO, body="hi", idempotency_key="k")
    assert len(provider.requests) == 1


async def test_an_invalid_number_is_permanent_and_names_twilios_error(provider: FakeProvider) -> None:
    provider.answer(
        400,
        {
            "code": 21211,
            "message": "Invalid 'To' Phone Number: +49151XXXX",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    )
    with pytest.raises(PermanentDeliveryError) as caught:
        await client_for(provider).send(to="+49151", body="hi", idempotency_key="k")
    assert not isinstance(caught.value, TransientDeliveryError)
    message = str(caught.value)
    assert "+49151" in message
    assert "400" in message
    assert "error 21211: Invalid 'To' Phone Number" in message
    assert "https://www.twilio.com/docs/errors/21211" in message
    assert isinstance(caught.value, SmsRefused)
    assert caught.value.code == 21211
    assert caught.value.status == 400


async def test_an_unsubscribed_recipient_is_permanent_with_its_code(provider: FakeProvider) -> None:
    provider.answer(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"})
    with pytest.raises(SmsRefused) as caught:
        await client_for(provider).send(to=TO, body="hi", idempotency_key="k")
    assert caught.value.code == 21610


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_credentials_wait_for_the_settings_and_name_them(
    provider: FakeProvider, status: int
) -> None:
    provider.answer(status, {"code": 20003, "message": "Authenticate", "status": status})
    with pytest.raises(SettingsDeliveryError, match="FEEDBACK_SMS_AUTH_TOKEN") as caught:
        await client_for(provider).send(to=TO, body="hi", idempotency_key="k")
    assert "FEEDBACK_SMS_ACCOUNT_SID" in str(caught.value)
    assert "error 20003: Authenticate" in str(caught.value)
    assert TOKEN not in str(caught.value)


async def test_an_unknown_account_waits_for_the_settings_and_names_them(provider: FakeProvider) -> None:
    provider.answer(404, {"code": 20404, "message": "The requested resource was not found"})
    with pytest.raises(SettingsDeliveryError, match="FEEDBACK_SMS_BASE_URL"):
        await client_for(provider).send(to=TO, body="hi", idempotency_key="k")


async def test_an_error_page_without_json_still_gives_the_status(provider: FakeProvider) -> None:
    provider.answer(400, raw=b"<html>Bad Request</html>")
    with pytest.raises(PermanentDeliveryError, match=r"refused the message to \+4915112345678 \(400\)$"):
        await client_for(provider).send(to=TO, body="hi", idempotency_key="k")


async def test_an_answer_without_a_sid_is_transient(provider: FakeProvider) -> None:
    provider.answer(201, {"status": "queued"})
    with pytest.raises(TransientDeliveryError, match="without a message sid"):
        await client_for(provider).send(to=TO, body="hi", idempotency_key="k")


async def test_a_closed_port_is_transient() -> None:
    with held_port() as nothing_listens:  # bound, never listening: connections are refused
        client = SmsClient(sms_settings(f"http://127.0.0.1:{port_of(nothing_listens)}"), timeout=TIMEOUT)
        with pytest.raises(TransientDeliveryError, match="unreachable"):
            await client.send(to=TO, body="hi", idempotency_key="k")


async def test_a_slow_provider_is_transient_after_the_timeout(provider: FakeProvider) -> None:
    provider.answer(201, {"sid": "SMlate"}, stall=True)
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError, match="did not answer in time"):
        await client_for(provider).send(to=TO, body="hi", idempotency_key="k")
    assert time.monotonic() - started < TIMEOUT + 2
    assert len(provider.requests) == 1


@pytest.mark.parametrize("missing", ["sms_account_sid", "sms_auth_token", "sms_from"])
async def test_without_configuration_nothing_is_sent(provider: FakeProvider, missing: str) -> None:
    client = client_for(provider, **{missing: None})
    assert not client.configured
    env_name = "FEEDBACK_" + missing.upper()
    with pytest.raises(SettingsDeliveryError, match=f"^SMS is not configured: set {env_name}$"):
        await client.send(to=TO, body="hi", idempotency_key="k")
    assert provider.requests == []


async def test_default_settings_name_every_missing_variable() -> None:
    client = SmsClient(Settings())
    with pytest.raises(SettingsDeliveryError) as caught:
        await client.send(to=TO, body="hi", idempotency_key="k")
    assert str(caught.value) == (
        "SMS is not configured: set FEEDBACK_SMS_ACCOUNT_SID, FEEDBACK_SMS_AUTH_TOKEN, FEEDBACK_SMS_FROM"
    )


async def test_a_base_url_that_is_not_http_waits_for_the_settings() -> None:
    client = SmsClient(sms_settings("ftp://sms.example.com"), timeout=TIMEOUT)
    with pytest.raises(
        SettingsDeliveryError, match=re.escape("FEEDBACK_SMS_BASE_URL='ftp://sms.example.com'")
    ):
        await client.send(to=TO, body="hi", idempotency_key="k")
