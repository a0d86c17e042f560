"""Which schema revision this code needs, read from the migration files without alembic.

Every process that serves checks the database's revision against the head at start-up and
on /health/ready; alembic (with SQLAlchemy and psycopg) costs a serving process about 25 MiB
of memory it never uses otherwise. Each migration file names its revision and the one it follows
(`revision = "..."`, `down_revision = "..."` or None); the head is the revision no other
follows. `feedback-svc migrate` and the tests run alembic itself (db/migrate.py), and a test
checks that both agree.
"""

import asyncio
import re
from pathlib import Path

import asyncpg

import feedback_svc

_REVISION = re.compile(r"^revision\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(?:None|['\"]([^'\"]+)['\"])\s*$", re.MULTILINE)


def migrations_dir() -> Path:
    """Inside an installed wheel the migrations travel in the package."""
    package = Path(feedback_svc.__file__).parent
    bundled = package / "_migrations"
    return bundled if bundled.is_dir() else package.parent / "migrations"


def head_revision() -> str:
    """The one revision no other migration follows."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in sorted((migrations_dir() / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down is None:  # e.g. a merge revision: alembic's own reading is needed
            raise ValueError(f"{path.name}: no plain revision / down_revision to read")
        revisions.add(revision.group(1))
        if down.group(1) is not None:
            followed.add(down.group(1))
    heads = revisions - followed
    if len(heads) != 1:
        raise ValueError(f"migrations/ must have one head, not {sorted(heads) or 'none'}")
    return heads.pop()


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None before the first migration.

    Through asyncpg, which serving loads anyway: psycopg (alembic's driver) would add about
    7 MiB to a serving process for this one query."""
    return asyncio.run(_current_revision(database_url))


async def _current_revision(database_url: str) -> str | None:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
