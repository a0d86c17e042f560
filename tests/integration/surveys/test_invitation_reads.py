"""The CRM reads invitations back: status, reasons and history, one by id or in pages."""

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg

from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.surveys.reading import encode_cursor
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.surveys import test_sending
from tests.integration.surveys.test_sending import LINK, Client, invite, plain_text

# the sending tests' fixtures: a real SMTP server, the SMS provider stand-in, the outbox worker
smtp_socket, smtp_port, start_smtp, inbox, provider = (
    test_sending.smtp_socket,
    test_sending.smtp_port,
    test_sending.start_smtp,
    test_sending.inbox,
    test_sending.provider,
)
send_settings, sender, worker = (
    test_sending.send_settings,
    test_sending.sender,
    test_sending.worker,
)


async def read(client: Client, crm: dict[str, str], invitation_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/invitations/{invitation_id}", headers=crm)
    assert answer.status_code == 200, answer.text
    return answer.json()


def events(record: dict[str, Any]) -> list[str]:
    return [step["event"] for step in record["history"]]


async def test_an_invitation_reads_back_sent_opened_and_answered_with_each_step(
    client: Client, crm: dict[str, str], worker: OutboxWorker, inbox: Inbox
) -> None:
    invitation_id = await invite(client, crm, external_id="crm-ana")
    queued = await read(client, crm, invitation_id)
    assert (queued["status"], queued["customer_external_id"], queued["survey"]) == (
        "queued",
        "crm-ana",
        "nps",
    )
    assert events(queued) == ["queued"]
    assert queued["opened_at"] is None
    assert queued["answered_at"] is None

    await worker.run_once()
    sent = await read(client, crm, invitation_id)
    assert sent["status"] == "sent"
    assert sent["sent_at"] is not None
    assert events(sent) == ["queued", "sent"]
    assert sent["history"][-1]["reason"] == "sent by email"

    [mail] = inbox.received
    token, _ = LINK.findall(plain_text(mail.message))[0]
    for _ in range(2):  # only the first load counts as opening
        page = await client.get(f"/s/{token}")
        assert page.status_code == 200
    opened = await read(client, crm, invitation_id)
    assert opened["opened_at"] is not None
    assert events(opened) == ["queued", "sent", "opened"]

    answered = await client.post(f"/s/{token}", data={"score": "9", "comment": ""})
    assert answered.status_code == 200, answered.text
    done = await read(client, crm, invitation_id)
    assert done["status"] == "answered"
    assert done["response_id"] is not None
    assert done["answered_at"] is not None
    assert events(done) == ["queued", "sent", "opened", "answered"]
    times = [step["at"] for step in done["history"]]
    assert times == sorted(times)


async def test_pages_go_back_in_time_and_filters_narrow_them(
    client: Client, crm: dict[str, str], worker: OutboxWorker, inbox: Inbox
) -> None:
    ids = [await invite(client, crm, external_id=f"crm-{n}") for n in range(3)]
    await worker.run_once()
    await worker.run_once()
    await worker.run_once()

    seen, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/invitations", params=params, headers=crm)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, each once

    one = await client.get("/v1/invitations", params={"customer_external_id": "crm-1"}, headers=crm)
    assert [item["id"] for item in one.json()["items"]] == [ids[1]]
    sent = await client.get("/v1/invitations", params={"status": "sent", "channel": "email"}, headers=crm)
    assert sorted(item["id"] for item in sent.json()["items"]) == sorted(ids)
    none = await client.get("/v1/invitations", params={"status": "answered"}, headers=crm)
    assert none.json() == {"items": [], "next_cursor": None}


async def test_wrong_questions_get_clear_answers(client: Client, crm: dict[str, str]) -> None:
    missing = await client.get(f"/v1/invitations/{uuid.uuid4()}", headers=crm)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    nobody = await client.get("/v1/invitations", params={"customer_external_id": "nobody"}, headers=crm)
    assert nobody.status_code == 404
    assert "nobody" in nobody.json()["detail"]
    # the second decodes, to no (time, id); the third to a time no arithmetic can take
    edge_cursor = encode_cursor(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), uuid.uuid4())
    for cursor in ("not-a-cursor", "MjAyNi0wMS0wMXx4", edge_cursor):
        bad = await client.get("/v1/invitations", params={"cursor": cursor}, headers=crm)
        assert bad.status_code == 422, cursor
        assert bad.json()["errors"][0]["field"] == "cursor"
    both = await client.get(
        "/v1/invitations", params={"customer_id": str(uuid.uuid4()), "customer_external_id": "x"}, headers=crm
    )
    assert both.status_code == 422
    early = await client.get(
        "/v1/invitations", params={"created_after": "0001-01-01T00:00:00+14:00"}, headers=crm
    )
    assert early.status_code == 422


async def test_an_erased_customers_invitations_answer_410_and_keep_no_provider_reply(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, worker: OutboxWorker, inbox: Inbox
) -> None:
    # a provider's refusal may quote the address; the history keeps it until erasure
    inbox.refuse["ana@example.com"] = "550 5.1.1 <ana@example.com>: Recipient address rejected"
    invitation_id = await invite(client, crm, external_id="crm-ana")
    await worker.run_once()
    failed = await read(client, crm, invitation_id)
    assert failed["status"] == "failed"
    assert "ana@example.com" in failed["reason"]
    assert "ana@example.com" in failed["history"][-1]["reason"]

    customer_id = failed["customer_id"]
    erased = await client.delete(f"/v1/customers/{customer_id}", headers=crm)
    assert erased.status_code == 200, erased.text

    gone = await client.get(f"/v1/invitations/{invitation_id}", headers=crm)
    assert gone.status_code == 410
    by_customer = await client.get("/v1/invitations", params={"customer_id": customer_id}, headers=crm)
    assert by_customer.status_code == 410
    listed = await client.get("/v1/invitations", headers=crm)
    assert listed.json()["items"] == []
    texts = await conn.fetch(
        "SELECT reason FROM invitation_history WHERE invitation_id = $1 "
        "UNION ALL SELECT reason FROM invitations WHERE id = $1",
        uuid.UUID(invitation_id),
    )
    assert len(texts) >= 2
    assert not any("ana@" in (row["reason"] or "") for row in texts)
