"""Bulk imports of a CRM's customers, events and interactions, by the CRM's own ids.

An import goes: receiving (an HTTP upload streams into import_lines by COPY, hashed as it
comes) -> queued (an outbox job) -> validating (each line checked as the single endpoints
check a request, valid rows COPYed into a typed staging table, the rest kept as per-row
errors) -> applying (set-based upserts in chunked transactions) -> succeeded, or failed with
a message. A bad row never fails the good ones; only an unreadable CSV header fails a file.

The same file again (by content), or the same Idempotency-Key, answers with the first import
and changes nothing. `feedback-svc import` runs the same validation and apply in its own
process, reading the file from disk instead of import_lines.

Rows do not pass through the per-request rate limits (one upload is one request); imports
apply one at a time across all processes, in short transactions, and a server validates in a
thread, so the answers path keeps its share of the machine.
"""

import asyncio
import hashlib
import multiprocessing
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AsyncExitStack, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog

from feedback_svc.imports import _apply, _load, queries
from feedback_svc.imports.parsing import split_lines
from feedback_svc.imports.schemas import Import, ImportFormat, ImportKind, ImportList, RowError, RowErrors
from feedback_svc.lib.errors import Conflict, NotFound
from feedback_svc.outbox.queries import Job, enqueue
from feedback_svc.settings import Settings

log = structlog.get_logger(__name__)

TOPIC = "import.run"
# `feedback-svc import` checks rows in this many processes beside its own
CHECKING_PROCESSES = max(1, os.cpu_count() or 1)
RECEIVE_BATCH = 20_000
READ_CHUNK = 1 << 20

Progress = Callable[[str, int], None]


def to_wire(row: dict[str, Any]) -> Import:
    return msgspec.convert({k: row[k] for k in Import.__struct_fields__}, Import)


# -- the HTTP path: receive, then a worker validates and applies ------------------------------


async def start_upload(
    pool: asyncpg.Pool,
    *,
    kind: ImportKind,
    fmt: ImportFormat,
    api_key_id: UUID,
    requested_by: str,
    file_name: str | None,
    idempotency_key: str | None,
    time_zone: str,
) -> tuple[dict[str, Any], bool]:
    """(the import to receive into, True) or (the earlier import for this key, False)."""
    if idempotency_key is not None:
        earlier = await queries.import_for_key(pool, api_key_id=api_key_id, key=idempotency_key)
        if earlier is not None:
            return earlier, False
    try:
        created = await queries.create_import(
            pool,
            kind=kind,
            fmt=fmt,
            api_key_id=api_key_id,
            requested_by=requested_by,
            file_name=file_name,
            idempotency_key=idempotency_key,
            options={"time_zone": time_zone},
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "An upload with this Idempotency-Key is still arriving; retry when it has finished.",
            headers={"Retry-After": "5"},
        ) from None
    return created, True


async def receive(
    pool: asyncpg.Pool, upload: dict[str, Any], chunks: AsyncIterable[bytes]
) -> tuple[Import, bool]:
    """Store the uploaded file's lines; (the import, True) when queued now, or (an earlier
    import of the same content, False) when this one was a repeat and is gone again."""
    import_id = upload["id"]
    digest = hashlib.sha256()
    received = 0

    async def hashed() -> AsyncIterator[bytes]:
        nonlocal received
        async for chunk in chunks:
            digest.update(chunk)
            received += len(chunk)
            yield chunk

    try:
        async with pool.acquire() as conn:
            batch: list[tuple[UUID, int, str]] = []
            async for number, text in split_lines(hashed()):
                batch.append((import_id, number, text))
                if len(batch) >= RECEIVE_BATCH:
                    await _store_lines(conn, import_id, batch, received)
                    batch = []
            await _store_lines(conn, import_id, batch, received)
            return await _queue(conn, upload, digest=digest.digest())
    except BaseException:
        async with pool.acquire() as conn:
            await queries.fail_import(
                conn, import_id, message=f"The upload broke off after {received} bytes; send the file again."
            )
            await queries.drop_staging(conn, import_id)
        raise


async def _store_lines(
    conn: asyncpg.Connection, import_id: UUID, batch: list[tuple[UUID, int, str]], received: int
) -> None:
    async with conn.transaction():
        await queries.copy_lines(conn, batch)
        await queries.save_receiving(conn, import_id, size=received, rows=0)


async def _queue(conn: asyncpg.Connection, upload: dict[str, Any], *, digest: bytes) -> tuple[Import, bool]:
    import_id = upload["id"]
    earlier = await queries.same_file_import(conn, kind=upload["kind"], digest=digest, other_than=import_id)
    if earlier is None:
        try:
            async with conn.transaction():
                queued = await queries.finish_receiving(conn, import_id, digest=digest, status="queued")
                await enqueue(
                    conn,
                    topic=TOPIC,
                    payload={"import_id": str(import_id)},
                    dedupe_key=f"{TOPIC}:{import_id}",
                )
            assert queued is not None
            return to_wire(await queries.get_import(conn, import_id) or queued), True
        except asyncpg.UniqueViolationError:
            # the same file finished arriving a moment ago through another request
            earlier = await queries.same_file_import(
                conn, kind=upload["kind"], digest=digest, other_than=import_id
            )
    await queries.drop_import(conn, import_id)
    assert earlier is not None
    return to_wire(earlier), False


class ImportJob:
    """The outbox handler for "import.run": validate the received lines, then apply them."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def __call__(self, job: Job) -> None:
        await process(self.pool, UUID(job.payload["import_id"]), settings=self.settings)


async def process(pool: asyncpg.Pool, import_id: UUID, *, settings: Settings) -> None:
    """Validate and apply a received import, from its checkpoints; a no-op when another worker
    has it, or when it is finished."""
    async with pool.acquire() as conn:
        if not await queries.lock_import(conn, import_id):
            return  # a worker is on it (this job was delivered again while it works)
        try:
            current = await queries.get_import(conn, import_id)
            if current is None or current["status"] in ("succeeded", "failed", "receiving"):
                return
            await _run(
                pool, conn, current, settings=settings, lines=_received_lines(pool, current), in_thread=True
            )
        finally:
            await queries.unlock_import(conn, import_id)


async def _received_lines(pool: asyncpg.Pool, current: dict[str, Any]) -> AsyncIterator[tuple[int, str]]:
    after = current["lines_validated"]
    while True:
        batch = await queries.lines_after(pool, current["id"], line=after, limit=RECEIVE_BATCH)
        if not batch:
            return
        for line in batch:
            yield line
        after = batch[-1][0]


# -- shared: validate then apply ---------------------------------------------------------------


async def _run(
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    current: dict[str, Any],
    *,
    settings: Settings,
    lines: AsyncIterator[tuple[int, str]],
    in_thread: bool,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> Import:
    """Validate (on `conn`) and apply (on a second connection) side by side, from the checkpoints."""
    import_id = current["id"]
    validating = current["status"] in ("queued", "validating")
    validated = _apply.Validated(through=current["lines_validated"], done=not validating)
    try:
        async with AsyncExitStack() as stack:
            writers = [
                await stack.enter_async_context(pool.acquire()) for _ in range(_writers(pool, current))
            ]
            applying = asyncio.create_task(_apply_all(writers, current, validated, progress))
            try:
                if validating:
                    await _validate(
                        conn,
                        current,
                        settings=settings,
                        lines=lines,
                        in_thread=in_thread,
                        executor=executor,
                        progress=progress,
                        staged=validated.advance,
                    )
                    await queries.start_applying(conn, import_id)
                validated.finish()
                await applying
            finally:
                if not applying.done():
                    applying.cancel()
                    with suppress(asyncio.CancelledError):
                        await applying
        await queries.drop_staging(conn, import_id)
        finished = await queries.finish_import(conn, import_id, status="succeeded", message=None)
    except _load.HeaderError as error:
        await queries.fail_import(conn, import_id, message=str(error))
        await queries.drop_staging(conn, import_id)
        finished = None
    log.info("import finished", import_id=str(import_id))
    return to_wire(finished or await queries.get_import(conn, import_id) or current)


def _writers(pool: asyncpg.Pool, current: dict[str, Any]) -> int:
    """Two connections write events and interactions when the pool can spare them (validation,
    the lines read back and the rest of the process keep theirs); customers take one."""
    return 2 if current["kind"] != "customers" and pool.get_max_size() >= 6 else 1


async def _apply_all(
    writers: list[asyncpg.Connection],
    current: dict[str, Any],
    validated: _apply.Validated,
    progress: Progress | None,
) -> None:
    # one import writes at a time, across processes; validation goes on while this waits
    await queries.lock_applying(writers[0])
    try:
        await _apply.apply_as_validated(
            writers,
            current["kind"],
            current["id"],
            validated=validated,
            progress=(lambda n: progress("applying", n)) if progress else None,
        )
    finally:
        await queries.unlock_applying(writers[0])


async def _validate(
    conn: asyncpg.Connection,
    current: dict[str, Any],
    *,
    settings: Settings,
    lines: AsyncIterator[tuple[int, str]],
    in_thread: bool,
    executor: Executor | None,
    progress: Progress | None,
    staged: Callable[[int], None],
) -> None:
    import_id = current["id"]
    started = await queries.start_validating(conn, import_id)
    assert started is not None
    batches = _load.Spec(
        import_id=import_id,
        kind=started["kind"],
        fmt=started["format"],
        time_zone=started["options"].get("time_zone", "UTC"),
        currency=settings.currency,
        now=datetime.now(UTC),
    ).batches()
    checkpoint = started["lines_validated"]
    await queries.drop_staged_rows_after(conn, import_id, checkpoint)
    if checkpoint and batches.csv is not None:
        # taking over mid-file: the header is line 1, already validated
        header = await queries.first_line(conn, import_id)
        batches.parse([(1, header or "")])
    kept = min(started["rows_invalid"], _load.MAX_KEPT_ERRORS)
    tick = (lambda n: progress("validating", n)) if progress else None
    await _load.validate(
        conn,
        batches,
        lines,
        kept_errors=kept,
        in_thread=in_thread,
        executor=executor,
        workers=CHECKING_PROCESSES,
        progress=tick,
        staged=staged,
    )


# -- the command line: a local file, validated and applied in this process --------------------


async def import_file(
    pool: asyncpg.Pool,
    path: Path,
    *,
    kind: ImportKind,
    fmt: ImportFormat,
    settings: Settings,
    requested_by: str,
    time_zone: str = "UTC",
    progress: Progress | None = None,
) -> tuple[Import, bool]:
    """(the import, True), or (the earlier import of the same file, False) when it was imported before."""
    digest = await asyncio.to_thread(_file_digest, path)
    earlier = await queries.same_file_import(pool, kind=kind, digest=digest, other_than=UUID(int=0))
    if earlier is not None:
        return to_wire(earlier), False
    async with pool.acquire() as conn:
        created = await queries.create_import(
            conn,
            kind=kind,
            fmt=fmt,
            api_key_id=None,
            requested_by=requested_by,
            file_name=path.name,
            idempotency_key=None,
            options={"time_zone": time_zone},
        )
        import_id = created["id"]
        size = (await asyncio.to_thread(path.stat)).st_size
        await queries.save_receiving(conn, import_id, size=size, rows=0)
        try:
            queued = await queries.finish_receiving(conn, import_id, digest=digest, status="queued")
        except asyncpg.UniqueViolationError:
            await queries.drop_import(conn, import_id)
            earlier = await queries.same_file_import(pool, kind=kind, digest=digest, other_than=import_id)
            assert earlier is not None
            return to_wire(earlier), False
        assert queued is not None
        lines = split_lines(_file_chunks(path))
        try:
            with _checking_processes(kind) as executor:
                done = await _run(
                    pool,
                    conn,
                    queued,
                    settings=settings,
                    lines=lines,
                    in_thread=False,
                    executor=executor,
                    progress=progress,
                )
        except BaseException:
            await queries.fail_import(conn, import_id, message="The import was interrupted; run it again.")
            await queries.drop_staging(conn, import_id)
            raise
        return done, True


@contextmanager
def _checking_processes(kind: ImportKind) -> Iterator[Executor | None]:
    """Processes that check batches of customer rows while this one writes them (one per core).

    Customer rows are what costs to check (emails, phone numbers); event and interaction rows
    check faster than PostgreSQL writes them, so more processes would only take its cores."""
    if kind != "customers":
        yield None
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["feedback_svc.imports._load"])
    with ProcessPoolExecutor(max_workers=CHECKING_PROCESSES, mp_context=context) as executor:
        yield executor


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(READ_CHUNK):
            digest.update(chunk)
    return digest.digest()


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, READ_CHUNK):
            yield chunk


# -- reading imports back ----------------------------------------------------------------------


async def get_import(pool: asyncpg.Pool, import_id: UUID) -> Import:
    found = await queries.get_import(pool, import_id)
    if found is None:
        raise NotFound(f"No import with id {import_id}.")
    return to_wire(found)


async def list_imports(pool: asyncpg.Pool, *, limit: int) -> ImportList:
    return ImportList(items=[to_wire(row) for row in await queries.list_imports(pool, limit=limit)])


async def row_errors(pool: asyncpg.Pool, import_id: UUID, *, after_line: int, lines: int) -> RowErrors:
    """The errors of the first `lines` refused lines after `after_line` (a line's errors stay together)."""
    found = await queries.get_import(pool, import_id)
    if found is None:
        raise NotFound(f"No import with id {import_id}.")
    rows = await queries.row_errors(pool, import_id, after_line=after_line, lines=lines + 1)
    last_lines = sorted({r["line"] for r in rows})
    more = len(last_lines) > lines
    page = [r for r in rows if not more or r["line"] <= last_lines[lines - 1]]
    return RowErrors(
        items=[RowError(line=r["line"], field=r["field"], message=r["message"]) for r in page],
        next_after_line=last_lines[lines - 1] if more else None,
        total=found["rows_invalid"],
    )
