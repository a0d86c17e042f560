"""Validation: numbered lines -> typed staging rows and per-row errors, in checkpointed batches.

A batch is parsed and checked in Python (in a thread when a server's event loop must keep
answering), then its valid rows go to the staging table by COPY and its errors to
import_errors, and the checkpoint moves, all in one transaction: a worker taking over after
a crash drops anything staged past the checkpoint and goes on from there.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from feedback_svc.imports import queries
from feedback_svc.imports.parsing import CsvRecords, has_escaped_nul, unreadable
from feedback_svc.imports.rows import NUL_MESSAGE, Result, RowReader

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


@dataclass
class Batches:
    """Parses one import's lines batch by batch; keeps the CSV header between batches."""

    import_id: UUID
    reader: RowReader
    fmt: str
    csv: CsvRecords | None = None

    def __post_init__(self) -> None:
        if self.fmt == "csv":
            self.csv = CsvRecords()

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


async def validate(
    conn: asyncpg.Connection,
    batches: Batches,
    lines: AsyncIterator[tuple[int, str]],
    *,
    kept_errors: int = 0,
    in_thread: bool = False,
    progress: Progress | None = None,
) -> None:
    """Stage every valid row of `lines` and record the rest, one checkpointed batch at a time."""
    reader = batches.reader
    async for batch in batches_of(lines, csv=batches.fmt == "csv"):
        parsed = await asyncio.to_thread(batches.parse, batch) if in_thread else batches.parse(batch)
        invalid_lines = len({error[1] for error in parsed.errors})
        keep = parsed.errors[: max(0, MAX_KEPT_ERRORS - kept_errors)]
        kept_errors += len(keep)
        async with conn.transaction():
            await queries.copy_rows(conn, table=reader.table, columns=reader.columns, rows=parsed.rows)
            await queries.copy_errors(conn, keep)
            await queries.save_validated(
                conn,
                batches.import_id,
                through_line=batch[-1][0],
                rows=parsed.count,
                valid=len(parsed.rows),
                invalid=invalid_lines,
            )
        if progress is not None:
            progress(parsed.count)
