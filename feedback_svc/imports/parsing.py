"""Bytes as they arrive -> numbered lines -> records, without holding the file in memory.

Lines are numbered from 1 as a text editor shows them. A line that is not UTF-8 text, that
holds a NUL character or that is too long cannot become a row: it travels as UNREADABLE and
its message, and is reported by its number.
CSV records may span lines (a quoted cell with a line break); a record is numbered by the line
it starts on.
"""

import csv
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from feedback_svc.imports.rows import NUL_MESSAGE

# a line longer than this is refused rather than read: the single endpoints take 1 MiB bodies
MAX_LINE_BYTES = 1 << 20
NOT_UTF8 = "is not UTF-8 text; save the file as UTF-8"
TOO_LONG = f"is longer than {MAX_LINE_BYTES} bytes"


# An unreadable line travels as this marker and its message: a NUL never starts a readable one.
UNREADABLE = "\x00"


def unreadable(text: str) -> str | None:
    """The message of a line that could not be read, or None for a readable one."""
    return text[1:] if text.startswith(UNREADABLE) else None


async def split_lines(chunks: AsyncIterable[bytes], *, first_line: int = 1) -> AsyncIterator[tuple[int, str]]:
    """(number, text) for every line of a byte stream; the line break is not part of the text."""
    number = first_line - 1
    pending = b""
    async for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk and len(pending) <= MAX_LINE_BYTES:
            continue
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            number += 1
            yield number, _text(number, raw)
        if len(pending) > MAX_LINE_BYTES:
            # keep only enough of an overlong line to know where it ends
            pending = b""
            async for rest in _skip_to_line_end(chunks):
                pending = rest
                break
            number += 1
            yield number, f"{UNREADABLE}line {number} {TOO_LONG}"
    if pending:
        number += 1
        yield number, _text(number, pending)


async def _skip_to_line_end(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if b"\n" in chunk:
            yield chunk.split(b"\n", 1)[1]
            return
    yield b""


def _text(number: int, raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a byte order mark, as spreadsheet programs write
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"{UNREADABLE}line {number} {NOT_UTF8}"
    if "\x00" in text:
        return UNREADABLE + NUL_MESSAGE
    return text


def has_escaped_nul(text: str) -> bool:
    """A JSON line whose strings hold a NUL (written \\u0000), which PostgreSQL text cannot."""
    return "\\u0000" in text


@dataclass
class CsvRecords:
    """Records of a CSV file from its numbered lines; `header` is set from the first record."""

    header: list[str] | None = None

    def records(self, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, list[str] | str]]:
        """(line the record starts on, its cells or why it cannot be read); blank lines are skipped.

        csv pulls exactly the lines of one record before returning it, so the first line pulled
        after the previous record is where this one starts."""
        pulled: list[int] = []

        def texts() -> Iterator[str]:
            for number, text in lines:
                pulled.append(number)
                yield text + "\n"  # csv keeps a line break inside a quoted cell only if it sees one

        reader = csv.reader(texts(), strict=True)
        while True:
            pulled.clear()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield (pulled[0] if pulled else 0), f"cannot be read as CSV: {error}"
                continue
            if not cells:
                continue
            if self.header is None:
                self.header = [name.strip() for name in cells]
                continue
            yield pulled[0], cells
