"""Answers as CSV (RFC 4180 quoting by the csv module), safe to open in a spreadsheet.

A comment such as `=HYPERLINK(...)` would run as a formula in Excel or Sheets, so any
text cell starting with = + - @ (or a tab or carriage return, which some programs strip
first) gets a leading apostrophe, as OWASP recommends.
"""

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

COLUMNS = (
    "answered_at",
    "kind",
    "score",
    "touchpoint",
    "channel",
    "customer_external_id",
    "segment",
    "agent",
    "comment",
    "contact_requested",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


async def csv_chunks(rows: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """The header, then the rows, in chunks of about 64 kB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    async for row in rows:
        writer.writerow([neutralise(row[column]) for column in COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
