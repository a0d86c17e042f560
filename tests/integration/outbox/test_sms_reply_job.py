"""The outbox job that texts a reply to an inbound SMS, against a local stand-in for Twilio."""

from collections.abc import Iterator
from typing import cast

import asyncpg
import httpx
import pytest

from feedback_svc.delivery.errors import PermanentDeliveryError
from feedback_svc.delivery.sms.client import IDEMPOTENCY_HEADER, UNSUBSCRIBED_RECIPIENT
from feedback_svc.outbox.handlers import outbox_handlers
from feedback_svc.outbox.queries import Job
from feedback_svc.settings import Settings
from feedback_svc.surveys.sms_inbound import SEND_TOPIC
from tests.integration.delivery.sms.provider import FakeProvider, running_provider

SID = "AC0123456789abcdef0123456789abcdef"
FROM = "+4930123456"
TO = "+4915112345678"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as fake:
        yield fake


async def send_reply(provider: FakeProvider, payload: dict[str, str]) -> None:
    settings = Settings(
        database_url="postgresql://unused/db",
        secret_key="k" * 40,
        sms_base_url=provider.url,
        sms_account_sid=SID,
        sms_auth_token="auth-token-0123456789",
        sms_from=FROM,
    )
    async with httpx.AsyncClient() as http:
        # the reply job opens no connection: the pool is never used
        handlers = outbox_handlers(cast("asyncpg.Pool", object()), settings, http=http)
        await handlers[SEND_TOPIC](Job(id=1, topic=SEND_TOPIC, payload=payload, attempts=0))


REPLY = {
    "to": TO,
    "body": "Thanks! What is the main reason for your score?",
    "idempotency_key": "sms-reply:SM1",
}


async def test_the_reply_is_texted_with_its_body_and_the_jobs_idempotency_key(provider: FakeProvider) -> None:
    await send_reply(provider, REPLY)
    [request] = provider.requests
    assert request.form == {"To": TO, "From": FROM, "Body": REPLY["body"]}
    assert request.headers[IDEMPOTENCY_HEADER] == "sms-reply:SM1"


async def test_a_number_the_provider_has_opted_out_ends_the_job(provider: FakeProvider) -> None:
    # the customer texted STOP and the provider confirmed it: retrying could never succeed
    provider.answer(400, {"code": UNSUBSCRIBED_RECIPIENT, "message": "Unsubscribed recipient"})
    await send_reply(provider, REPLY)
    assert len(provider.requests) == 1


async def test_any_other_refusal_fails_the_job_for_the_worker_to_settle(provider: FakeProvider) -> None:
    provider.answer(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
    with pytest.raises(PermanentDeliveryError, match="21211"):
        await send_reply(provider, REPLY)
