"""What `feedback-svc import FILE` does, given a migrated database."""

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from feedback_svc.db.pool import create_pool
from feedback_svc.imports import service
from feedback_svc.imports.schemas import Import, ImportFormat, ImportKind
from feedback_svc.settings import Settings

# exit codes: every row in; some rows refused (see the listing); the import failed
ALL_ROWS, SOME_REFUSED, FAILED = 0, 3, 1
SHOWN_ERRORS = 20
FORMATS: dict[str, ImportFormat] = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def format_of(path: Path, given: str | None) -> ImportFormat:
    if given is not None:
        return given  # type: ignore[return-value]
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SystemExit(f"feedback-svc import: say --format csv or ndjson for {path.name}")
    return fmt


class _Bars:
    """One bar while rows are checked, one while they are written."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, rows: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(desc=f"{stage:>10}", unit=" rows", file=sys.stderr, smoothing=0.1)
        bar.update(rows)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


async def run_import(
    settings: Settings, path: Path, *, kind: ImportKind, fmt: ImportFormat, time_zone: str
) -> int:
    """Import the file, print what happened; the exit code."""
    assert settings.database_url is not None
    pool = await create_pool(settings, settings.database_url)
    bars = _Bars()
    try:
        done, fresh = await service.import_file(
            pool, path, kind=kind, fmt=fmt, settings=settings, requested_by="cli", time_zone=time_zone,
            progress=bars,
        )  # fmt: skip
        bars.close()
        if not fresh:
            print(f"{path.name} was imported before, as import {done.id}; nothing was done again.")
            return ALL_ROWS
        print(describe(done))
        if done.rows_invalid:
            errors = await service.row_errors(pool, done.id, after_line=0, lines=SHOWN_ERRORS)
            for error in errors.items:
                field = f" {error.field}:" if error.field else ""
                print(f"  line {error.line}:{field} {error.message}")
            if errors.next_after_line is not None:
                print(f"  ... GET /v1/imports/{done.id}/errors lists them all")
    finally:
        bars.close()
        await pool.close()
    if done.status == "failed":
        return FAILED
    return SOME_REFUSED if done.rows_invalid else ALL_ROWS


def describe(done: Import) -> str:
    if done.status == "failed":
        return f"import {done.id} failed: {done.message}"
    return (
        f"import {done.id}: {done.rows_total} rows, {done.rows_created} created, {done.rows_updated} "
        f"updated, {done.rows_unchanged} unchanged, {done.rows_invalid} refused"
    )
