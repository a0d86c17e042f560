"""Validation: numbered lines -> typed staging rows and per-row errors, in checkpointed batches.

A batch is parsed and checked in Python, then its valid rows go to the staging table by COPY
and its errors to import_errors, and the checkpoint moves, all in one transaction: a worker
taking over after a crash drops anything staged past the checkpoint and goes on from there.

Checking is what costs (some 20 us a customer row, half of it the phone number), so batches may be
checked in other processes, several at a time, and are written back in file order; a server's
import job checks in a thread instead, so its event loop keeps answering.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from feedback_svc.imports import queries
from feedback_svc.imports.parsing import CsvRecords, has_escaped_nul, unreadable
from feedback_svc.imports.rows import NUL_MESSAGE, Result, RowReader, reader_for

BATCH_LINES = 5000
# per import, the errors kept for reading back (all are counted)
MAX_KEPT_ERRORS = 10_000

Progress = Callable[[int], None]
Error = tuple[UUID, int, str | None, str]


class HeaderError(ValueError):
    """A CSV header that names no usable columns: the whole import fails, nothing is applied."""


@dataclass
class Parsed:
    rows: list[tuple[object, ...]]
    errors: list[Error]
    count: int


@dataclass(frozen=True)
class Spec:
    """How one import's rows are read: enough for another process to read them the same way."""

    import_id: UUID
    kind: str
    fmt: str
    time_zone: str
    currency: str | None
    now: datetime
    header: tuple[str, ...] | None = None

    def batches(self) -> "Batches":
        reader = reader_for(
            self.kind,  # type: ignore[arg-type]
            time_zone=ZoneInfo(self.time_zone),
            currency=self.currency,
            now=self.now,
        )
        csv = CsvRecords(header=list(self.header) if self.header is not None else None)
        return Batches(spec=self, reader=reader, csv=csv if self.fmt == "csv" else None)


@dataclass
class Batches:
    """Parses one import's lines batch by batch; keeps the CSV header between batches."""

    spec: Spec
    reader: RowReader
    csv: CsvRecords | None = None

    @property
    def import_id(self) -> UUID:
        return self.spec.import_id

    @property
    def fmt(self) -> str:
        return self.spec.fmt

    def ready_to_share(self) -> Spec | None:
        """The spec other processes can parse the next batches with, once the header is known."""
        if self.csv is not None and self.csv.header is None:
            return None
        header = tuple(self.csv.header) if self.csv is not None and self.csv.header is not None else None
        return Spec(**{**self.spec.__dict__, "header": header})

    def parse(self, lines: list[tuple[int, str]]) -> Parsed:
        rows: list[tuple[object, ...]] = []
        errors: list[Error] = []
        count = 0
        for line, result in self._results(lines):
            count += 1
            if isinstance(result, list):
                errors.extend((self.import_id, line, field, message) for field, message in result)
            else:
                rows.append((self.import_id, line, *result))
        return Parsed(rows=rows, errors=errors, count=count)

    def _results(self, lines: list[tuple[int, str]]) -> Iterator[tuple[int, Result]]:
        readable = []
        for line, text in lines:
            if (message := unreadable(text)) is not None:
                yield line, [(None, message)]
                readable.append((line, ""))  # read as blank: no record, no row
            else:
                readable.append((line, text))
        if self.csv is None:
            yield from self._json_results(readable)
        else:
            yield from self._csv_results(self.csv, readable)

    def _json_results(self, lines: list[tuple[int, str]]) -> Iterator[tuple[int, Result]]:
        for line, text in lines:
            if not text.strip():
                continue
            if has_escaped_nul(text):
                yield line, [(None, NUL_MESSAGE)]
                continue
            yield line, self.reader.from_json(text)

    def _csv_results(self, csv: CsvRecords, lines: list[tuple[int, str]]) -> Iterator[tuple[int, Result]]:
        had_header = csv.header is not None
        for line, cells in csv.records(lines):
            if not had_header:
                self._check_header(csv.header or [])
                had_header = True
            if isinstance(cells, str):
                yield line, [(None, f"line {line} {cells}")]
                continue
            header = csv.header or []
            if len(cells) != len(header):
                yield line, [(None, f"has {len(cells)} cells where the header names {len(header)} columns")]
                continue
            yield line, self.reader.from_csv(dict(zip(header, cells, strict=True)))
        if not had_header and csv.header is not None:
            self._check_header(csv.header)

    def _check_header(self, header: list[str]) -> None:
        problem = self.reader.check_header(header)
        if problem is not None:
            raise HeaderError(f"The CSV header cannot be read: {problem}.")


async def batches_of(
    lines: AsyncIterator[tuple[int, str]], *, csv: bool, size: int = BATCH_LINES
) -> AsyncIterator[list[tuple[int, str]]]:
    """Lists of about `size` lines; a CSV batch never ends inside a quoted cell."""
    batch: list[tuple[int, str]] = []
    quoted = False
    async for number, text in lines:
        batch.append((number, text))
        if csv and text.count('"') % 2:
            quoted = not quoted
        if len(batch) >= size and not quoted:
            yield batch
            batch = []
    if batch:
        yield batch


# a process that checks batches keeps one Batches per import it has seen (a worker serves one)
_elsewhere: dict[Spec, Batches] = {}


def parse_elsewhere(spec: Spec, lines: list[tuple[int, str]]) -> Parsed:
    """Run in another process: parse one batch of an import whose header is known."""
    batches = _elsewhere.get(spec)
    if batches is None:
        _elsewhere.clear()
        batches = _elsewhere[spec] = spec.batches()
    return batches.parse(lines)


@dataclass
class _Written:
    kept_errors: int
    through: int = 0
    jobs: deque[tuple[int, Awaitable[Parsed]]] = field(default_factory=deque)


async def validate(
    conn: asyncpg.Connection,
    batches: Batches,
    lines: AsyncIterator[tuple[int, str]],
    *,
    kept_errors: int = 0,
    in_thread: bool = False,
    executor: Executor | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    staged: Callable[[int], None] | None = None,
) -> None:
    """Stage every valid row of `lines` and record the rest, one checkpointed batch at a time."""
    loop = asyncio.get_running_loop()
    state = _Written(kept_errors=kept_errors)
    # with other processes checking, a few batches are in flight; they are written in order
    in_flight = 2 * workers if executor is not None else 0
    async for batch in batches_of(lines, csv=batches.fmt == "csv"):
        shared = batches.ready_to_share() if executor is not None else None
        job: Awaitable[Parsed]
        if shared is not None:
            job = loop.run_in_executor(executor, parse_elsewhere, shared, batch)
        elif in_thread:
            job = asyncio.ensure_future(asyncio.to_thread(batches.parse, batch))
        else:
            job = _done(batches.parse(batch))
        state.jobs.append((batch[-1][0], job))
        while len(state.jobs) > in_flight:
            await _write_next(conn, batches, state, progress=progress, staged=staged)
    while state.jobs:
        await _write_next(conn, batches, state, progress=progress, staged=staged)


def _done(parsed: Parsed) -> Awaitable[Parsed]:
    future: asyncio.Future[Parsed] = asyncio.get_running_loop().create_future()
    future.set_result(parsed)
    return future


async def _write_next(
    conn: asyncpg.Connection,
    batches: Batches,
    state: _Written,
    *,
    progress: Progress | None,
    staged: Callable[[int], None] | None,
) -> None:
    through, job = state.jobs.popleft()
    parsed = await job
    reader = batches.reader
    invalid_lines = len({error[1] for error in parsed.errors})
    keep = parsed.errors[: max(0, MAX_KEPT_ERRORS - state.kept_errors)]
    state.kept_errors += len(keep)
    async with conn.transaction():
        await queries.copy_rows(conn, table=reader.table, columns=reader.columns, rows=parsed.rows)
        await queries.copy_errors(conn, keep)
        await queries.save_validated(
            conn,
            batches.import_id,
            through_line=through,
            rows=parsed.count,
            valid=len(parsed.rows),
            invalid=invalid_lines,
        )
    if staged is not None:
        staged(through)
    if progress is not None:
        progress(parsed.count)
