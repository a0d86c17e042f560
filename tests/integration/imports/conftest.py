"""Uploading files and running the import job the way a worker does."""

from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.imports.service import TOPIC, ImportJob
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.settings import Settings

Client = AsyncTestClient[Litestar]
CSV = "text/csv"
NDJSON = "application/x-ndjson"


async def run_imports(pool: asyncpg.Pool, settings: Settings) -> int:
    """Hand every queued import to the job a worker runs; how many ran."""
    worker = OutboxWorker(pool, {TOPIC: ImportJob(pool, settings)}, batch_size=5)
    ran = 0
    while done := await worker.run_once():
        ran += done
    return ran


async def upload(
    client: Client,
    headers: dict[str, str],
    kind: str,
    body: str | bytes,
    *,
    media: str = CSV,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return await client.post(
        f"/v1/imports/{kind}",
        content=content,
        headers={**headers, "Content-Type": media},
        params=params or {},
    )


async def imported(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    headers: dict[str, str],
    kind: str,
    body: str,
    **kw: Any,
) -> dict[str, Any]:
    """Upload, run the job, and read the finished import back."""
    sent = await upload(client, headers, kind, body, **kw)
    assert sent.status_code == 202, sent.text
    await run_imports(pool, settings)
    done = await client.get(sent.headers["location"], headers=headers)
    assert done.status_code == 200, done.text
    return done.json()


async def errors_of(client: Client, headers: dict[str, str], import_id: str) -> list[dict[str, Any]]:
    page = await client.get(f"/v1/imports/{import_id}/errors", headers=headers, params={"lines": "1000"})
    assert page.status_code == 200, page.text
    return page.json()["items"]
