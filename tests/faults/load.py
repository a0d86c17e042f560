"""Setting up a fault test's database, and clients that keep answering until they are acknowledged."""

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from feedback_svc.apikeys.service import create_api_key

# what a client may see while the database or a server is away; anything else is a bug
RETRYABLE = {409, 503}
GIVE_UP_AFTER = 45.0


async def api_headers(database_url: str, *scopes: str, name: str = "fault-test") -> dict[str, str]:
    """A new API key with `scopes`, as request headers."""
    conn = await asyncpg.connect(database_url)
    try:
        created = await create_api_key(conn, name=name, scopes=list(scopes))
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {created.key}"}


async def fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def create_customers(http: httpx.AsyncClient, base_url: str, count: int, prefix: str) -> list[str]:
    """`count` customers with an email address each; their ids."""
    ids = []
    for n in range(count):
        created = await http.post(
            f"{base_url}/v1/customers",
            json={"external_id": f"{prefix}-{n}", "email": f"{prefix}-{n}@example.com"},
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


async def invite_on_the_web(
    http: httpx.AsyncClient, base_url: str, customers: list[str]
) -> list[tuple[str, str]]:
    """A web invitation to the NPS survey for each customer: (invitation id, /s/{token} path)."""
    invited = []
    for customer in customers:
        created = await http.post(
            f"{base_url}/v1/invitations", json={"customer_id": customer, "survey": "nps", "channel": "web"}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["survey_url"], body
        invited.append((str(body["id"]), urlsplit(body["survey_url"]).path))
    return invited


@dataclass
class Outcomes:
    """What the clients saw: every answer acknowledged, and every refusal on the way."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> response id
    statuses: Counter[int] = field(default_factory=Counter)
    refusals: list[str] = field(default_factory=list)  # anything that is not a clean retryable refusal
    transport_errors: Counter[str] = field(default_factory=Counter)

    def check_refusal(self, response: httpx.Response) -> None:
        """A refusal must be a 409/503 problem document with Retry-After, never a 500 or a trace."""
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        if response.status_code not in RETRYABLE or not problem or "retry-after" not in response.headers:
            self.refusals.append(f"{response.status_code} {response.headers} {response.text[:500]}")
        elif "Traceback" in response.text or 'File "' in response.text:
            self.refusals.append(f"a stack trace in {response.text[:500]}")


async def post_until_acknowledged(
    http: httpx.AsyncClient,
    bases: list[str],
    path: str,
    body: dict[str, Any],
    outcomes: Outcomes,
    *,
    key: str,
    give_up_after: float = GIVE_UP_AFTER,
) -> httpx.Response:
    """POST with one Idempotency-Key until a 2xx; each retry goes to the next server.

    A connection error (a killed server) counts as "try again", as it would for a real client.
    """
    give_up = time.monotonic() + give_up_after
    attempt = 0
    while True:
        base = bases[attempt % len(bases)]
        attempt += 1
        try:
            response = await http.post(f"{base}{path}", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as error:
            outcomes.transport_errors[type(error).__name__] += 1
        else:
            outcomes.statuses[response.status_code] += 1
            if response.is_success:
                return response
            outcomes.check_refusal(response)
        assert time.monotonic() < give_up, f"{path} with key {key} not acknowledged in {give_up_after:.0f} s"
        await asyncio.sleep(0.1)  # a client's pause before it retries: the behaviour under test, not a wait


async def answer_until_acknowledged(
    http: httpx.AsyncClient,
    bases: list[str],
    body: dict[str, Any],
    outcomes: Outcomes,
    *,
    key: str | None = None,
    give_up_after: float = GIVE_UP_AFTER,
) -> str:
    """POST /v1/responses until acknowledged; the stored answer's id."""
    key = key or str(uuid.uuid4())
    response = await post_until_acknowledged(
        http, bases, "/v1/responses", body, outcomes, key=key, give_up_after=give_up_after
    )
    answer_id = str(response.json()["id"])
    # a replay answers with the first response, byte for byte
    assert outcomes.acknowledged.setdefault(key, answer_id) == answer_id
    return answer_id


async def answer_on_the_page(
    http: httpx.AsyncClient,
    bases: list[str],
    path: str,
    score: int,
    outcomes: Outcomes,
    *,
    give_up_after: float = GIVE_UP_AFTER,
) -> None:
    """Submit the survey form at `path` until a server says thank you; each retry goes to the next.

    The form needs no key to be retried safely: an answer is stored once per invitation.
    """
    give_up = time.monotonic() + give_up_after
    attempt = 0
    while True:
        base = bases[attempt % len(bases)]
        attempt += 1
        try:
            page = await http.post(f"{base}{path}", data={"score": str(score)})
        except httpx.TransportError as error:
            outcomes.transport_errors[type(error).__name__] += 1
        else:
            outcomes.statuses[page.status_code] += 1
            if page.status_code == 200:
                assert "Thank you" in page.text, page.text[:500]
                return
            outcomes.check_refusal(page)
        assert time.monotonic() < give_up, f"{path} was never answered in {give_up_after:.0f} s"
        await asyncio.sleep(0.1)  # a person's pause before pressing again: the behaviour under test
