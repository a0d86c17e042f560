"""With run_workers on, the API process drains the outbox by itself."""

import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.waiting import eventually


async def test_the_app_worker_processes_jobs_and_stops_with_the_app(
    settings: Settings, conn: asyncpg.Connection, crm: dict[str, str]
) -> None:
    # no SMTP configured: the invitation waits visibly for an operator, its next try scheduled
    app = create_app(msgspec.structs.replace(settings, run_workers=True))
    async with AsyncTestClient(app=app) as client:
        customer = (
            await client.post(
                "/v1/customers",
                json={"external_id": f"w-{uuid.uuid4().hex[:6]}", "email": "w@example.com"},
                headers=crm,
            )
        ).json()
        await client.post(
            "/v1/invitations",
            json={
                "customer_id": customer["id"],
                "survey": "nps",
                "channel": "email",
                "send_at": datetime.now(UTC).isoformat(),
            },
            headers=crm,
        )

        async def status_of_send() -> str:
            return await conn.fetchval(
                "SELECT status FROM outbox WHERE topic = 'invitation.send' ORDER BY id LIMIT 1"
            )

        status = await eventually(
            status_of_send, until=lambda status: status != "pending", what="the app's worker to take the send"
        )
    assert status == "done"
    reason = await conn.fetchval("SELECT reason FROM invitations")
    assert reason.startswith("queued: waiting for settings:")
    assert "FEEDBACK_SMTP_HOST" in reason
